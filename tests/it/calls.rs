//! Each operation called with the document's example, through its generated
//! method: one arm per `Operation`. An operation the vendor adds has none
//! until one is written here: its snapshots say so, and the test that wrote
//! them fails.

use std::fmt::Debug;

use serde::de::DeserializeOwned;
use serde_json::Value;
use xoxoday_reward_points::{Client, Error, Operation, ResponseValue, types};

use crate::document::request_example;

/// What a call came to: the decoded answer, the typed error, or that the
/// document's example does not fit the request's type.
pub enum Called {
    Answer(String),
    Failed(Error),
    ExampleUnfit(String),
}

impl Called {
    /// As a snapshot shows it.
    pub fn shown(&self) -> String {
        match self {
            Called::Answer(answer) => format!("decoded:\n{answer}"),
            Called::Failed(error) => {
                let debug = format!("{error:?}");
                let variant = debug.split([' ', '(', '{']).next().unwrap_or_default();
                format!("error {variant}: {error}")
            }
            Called::ExampleUnfit(problem) => {
                format!("the document's example does not fit the request: {problem}")
            }
        }
    }
}

fn answer<T: Debug>(outcome: Result<ResponseValue<T>, Error>) -> Called {
    match outcome {
        Ok(answer) => Called::Answer(format!("{:#?}", answer.into_inner())),
        Err(error) => Called::Failed(error),
    }
}

/// The document's example request body as the generated type.
fn body<T: DeserializeOwned>(operation: Operation) -> Result<T, String> {
    let example = request_example(operation).unwrap_or(Value::Null);
    serde_json::from_value(example).map_err(|error| error.to_string())
}

/// Calls `operation` with the document's example; `None` when no call is
/// written for it yet.
pub async fn call(client: &Client, operation: Operation) -> Option<Called> {
    macro_rules! with_body {
        ($method:ident, $body:ty) => {
            match body::<$body>(operation) {
                Ok(body) => answer(client.$method().body(body).send().await),
                Err(problem) => Called::ExampleUnfit(problem),
            }
        };
    }
    Some(match operation {
        Operation::ValidateTokenPoints => answer(client.validate_token_points().send().await),
        Operation::RefreshToken => with_body!(refresh_token, types::RefreshTokenBody),
        Operation::CreateUserToken => with_body!(create_user_token, types::CreateUserTokenBody),
        Operation::FetchPoints => with_body!(fetch_points, types::FetchPointsBody),
        Operation::SendPoints => with_body!(send_points, types::SendPointsBody),
        Operation::CancelPoints => with_body!(cancel_points, types::CancelPointsBody),
        _ => return None,
    })
}

/// What a snapshot says of an operation no call is written for.
pub const NO_CALL: &str = "no example call is written for this operation in tests/it/calls.rs: add \
                           one, then review these snapshots";
