//! How the client reads each answer the document shows, for each
//! operation: one snapshot each, `answers__{operation}__{status}` (and the
//! example's name when the document gives several).

use xoxoday_reward_points::{Environment, Operation};

use crate::calls::{NO_CALL, call};
use crate::document::answers;
use crate::snapshots::Snapshots;
use crate::stand_ins::StandIns;

#[tokio::test]
async fn each_documented_answer_reads_as_a_value_or_a_typed_error() {
    let stand_ins = StandIns::start().await;
    let client = stand_ins.client(Environment::Sandbox);
    let mut snapshots = Snapshots::default();
    for operation in Operation::ALL {
        for (status, example, body) in answers(operation) {
            let Ok(code) = status.parse::<u16>() else {
                // `default`, `4XX`: no one answer to stand in for.
                continue;
            };
            stand_ins.answer(code, &body).await;
            let shown = match call(&client, operation).await {
                Some(called) => called.shown(),
                None => {
                    snapshots.problem(format!("{operation}: {NO_CALL}"));
                    NO_CALL.to_owned()
                }
            };
            let mut name = format!("answers__{}__{status}", operation.id());
            let mut title = format!("{operation} answered {status}");
            if !example.is_empty() {
                name.push_str(&format!("__{example}"));
                title.push_str(&format!(" (the document's example `{example}`)"));
            }
            snapshots.check(&name, &format!("{title}:\n{shown}\n"));
        }
    }
    snapshots.finish();
}
