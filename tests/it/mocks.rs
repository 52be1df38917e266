//! What each generated httpmock helper matches: mounted alone with the
//! document's success answer, which of the operations' example requests
//! reach it, and what the client reads from it. One snapshot each,
//! `mocks__{operation}`.

use httpmock::{Mock, MockServer};
use serde::de::DeserializeOwned;
use serde_json::Value;
use xoxoday_reward_points::{Environment, Operation, types};
use xoxoday_reward_points_mocks::{MockServerExt, MockVendor};

use crate::calls::{NO_CALL, call};
use crate::document::answers;
use crate::snapshots::Snapshots;
use crate::stand_ins::TOKEN;

/// The document's answer as `T`, or why it does not fit.
fn typed<T: DeserializeOwned>(answer: &Value) -> Result<T, String> {
    serde_json::from_value(answer.clone()).map_err(|error| error.to_string())
}

/// What mounting came to.
enum Mounted<'a> {
    Mock(Mock<'a>),
    /// The document's success example does not fit the answer's type.
    Unfit(String),
    /// No mount is written for the operation yet.
    NotWritten,
}

/// Mounts `operation`'s generated mock on `server`, answering `answer`.
fn mount<'a>(server: &'a MockServer, operation: Operation, answer: &Value) -> Mounted<'a> {
    macro_rules! mounted {
        ($helper:ident, $answer:ty) => {
            match typed::<$answer>(answer) {
                Ok(answer) => Mounted::Mock(server.$helper(|_, then| {
                    then.ok(&answer);
                })),
                Err(problem) => Mounted::Unfit(problem),
            }
        };
    }
    match operation {
        Operation::ValidateTokenPoints => {
            mounted!(validate_token_points, types::ValidateTokenPointsResponse)
        }
        Operation::RefreshToken => mounted!(refresh_token, types::TokenResponse),
        Operation::CreateUserToken => mounted!(create_user_token, types::TokenResponse),
        Operation::FetchPoints => mounted!(fetch_points, types::FetchPointsResponse),
        Operation::SendPoints => mounted!(send_points, types::SendPointsResponse),
        Operation::CancelPoints => mounted!(cancel_points, types::CancelPointsResponse),
        _ => Mounted::NotWritten,
    }
}

#[tokio::test]
async fn each_generated_mock_matches_its_operation_only() {
    let mut snapshots = Snapshots::default();
    for operation in Operation::ALL {
        let name = format!("mocks__{}", operation.id());
        let Some((_, _, success)) = answers(operation)
            .into_iter()
            .find(|(status, _, _)| status.starts_with('2'))
        else {
            snapshots.check(&name, "no success answer in the document to mock\n");
            continue;
        };
        let vendor = MockVendor::start_async().await;
        let server = vendor.server(Environment::Sandbox, operation);
        let mock = match mount(server, operation, &success) {
            Mounted::Mock(mock) => mock,
            Mounted::Unfit(problem) => {
                let text = format!("the document's success example does not fit: {problem}\n");
                snapshots.check(&name, &text);
                continue;
            }
            Mounted::NotWritten => {
                snapshots.problem(format!(
                    "{operation}: no mount is written in tests/it/mocks.rs"
                ));
                snapshots.check(&name, NO_CALL);
                continue;
            }
        };
        let client = vendor.client(Environment::Sandbox, TOKEN);
        let mut matched = Vec::new();
        let mut read = String::new();
        for other in Operation::ALL {
            let before = mock.calls_async().await;
            let Some(called) = call(&client, other).await else {
                continue;
            };
            if mock.calls_async().await > before {
                matched.push(other.id());
            }
            if other == operation {
                read = called.shown();
            }
        }
        let text = format!(
            "MockServerExt::{} mounted alone, answering the document's success\n\nmatched: \
             {matched:?}\n\nthe client reads:\n{read}\n",
            snake(operation.id())
        );
        snapshots.check(&name, &text);
    }
    snapshots.finish();
}

/// `sendPoints` → `send_points`, the helper's name.
fn snake(id: &str) -> String {
    let mut out = String::new();
    for c in id.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}
