//! What the client sends for each operation in each environment: one
//! snapshot each, `requests__{operation}__{environment}`.

use std::fmt::Write;

use xoxoday_reward_points::FieldRules;
use xoxoday_reward_points::request_rules;
use xoxoday_reward_points::{Environment, Operation};

use crate::calls::{NO_CALL, call};
use crate::document::{answers, request_places};
use crate::snapshots::Snapshots;
use crate::stand_ins::StandIns;

/// The rules a value must meet, as the snapshot lists them.
fn rules_text(rules: &FieldRules) -> String {
    let mut parts = Vec::new();
    let mut part = |name: &str, value: Option<String>| {
        if let Some(value) = value {
            parts.push(format!("{name} {value}"));
        }
    };
    part("pattern", rules.pattern.map(|p| format!("{p:?}")));
    part("format", rules.format.map(str::to_owned));
    part("minLength", rules.min_length.map(|n| n.to_string()));
    part("maxLength", rules.max_length.map(|n| n.to_string()));
    let bound = |exclusive: bool| if exclusive { " (exclusive)" } else { "" };
    part(
        "minimum",
        rules
            .minimum
            .map(|n| format!("{n}{}", bound(rules.exclusive_minimum))),
    );
    part(
        "maximum",
        rules
            .maximum
            .map(|n| format!("{n}{}", bound(rules.exclusive_maximum))),
    );
    part("multipleOf", rules.multiple_of.map(|n| n.to_string()));
    if !rules.allowed.is_empty() {
        part("one of", Some(format!("{:?}", rules.allowed)));
    }
    if parts.is_empty() {
        "no rule".into()
    } else {
        parts.join(", ")
    }
}

/// The rules the typed values check before sending `operation`'s request:
/// those generated for the places its body reaches in the document.
fn checked_rules(operation: Operation) -> String {
    let places = request_places(operation);
    let mut text = String::new();
    for rules in request_rules::ALL
        .iter()
        .filter(|rules| places.contains(rules.at))
    {
        writeln!(text, "  {}: {}", rules.at, rules_text(rules)).unwrap();
    }
    if text.is_empty() {
        text.push_str("  none\n");
    }
    text
}

#[tokio::test]
async fn each_operation_in_each_environment_sends_what_the_vendor_expects() {
    let stand_ins = StandIns::start().await;
    let mut snapshots = Snapshots::default();
    for operation in Operation::ALL {
        // Answered with the operation's documented success, so that the
        // call ends as it would.
        let success = answers(operation)
            .into_iter()
            .find(|(status, _, _)| status.starts_with('2'))
            .map_or(serde_json::json!({}), |(_, _, body)| body);
        for environment in Environment::ALL {
            let route = operation.route();
            let mut text = format!(
                "{operation} in {environment:?}: {} {}\n\n",
                route.http_method,
                route.url(environment)
            );
            stand_ins.answer(200, &success).await;
            let client = stand_ins.client(environment);
            match call(&client, operation).await {
                None => {
                    text.push_str(NO_CALL);
                    snapshots.problem(format!("{operation}: {NO_CALL}"));
                }
                Some(called) => {
                    let received = stand_ins.received().await;
                    writeln!(text, "sent ({} request(s)):", received.len()).unwrap();
                    if received.is_empty() {
                        // Why nothing was sent: the example did not fit,
                        // or the client refused it.
                        writeln!(text, "nothing, the call ended: {}", called.shown()).unwrap();
                    }
                    for request in received {
                        text.push_str(&request);
                    }
                }
            }
            write!(
                text,
                "\nchecked before sending:\n{}",
                checked_rules(operation)
            )
            .unwrap();
            let name = format!("requests__{}__{}", operation.id(), environment.slug());
            snapshots.check(&name, &text);
        }
    }
    snapshots.finish();
}
