//! One call of an operation, from the generated `send()` to its answer.
//!
//! Every builder's `send()` (generated) runs progenitor's request code inside
//! [`send`], which keeps a [`Call`] in a task-local for exactly as long as the
//! call runs. The hooks (`hooks.rs`) read the operation from it, typed, and
//! record what progenitor's own error type cannot carry: an [`AuthError`],
//! the answer's status, the token that was sent. When the call is over,
//! [`send`] turns the outcome into the crate's [`Error`].

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::pin;

use progenitor_client::ResponseValue;
use serde::Serialize;

use crate::access_token::AccessToken;
use crate::error::DecodeProblem;
use crate::routes::Operation;
use crate::{AuthError, Client, Error};

tokio::task_local! {
    static CALL: Call;
}

/// What the hooks learn about one call.
pub(crate) struct Call {
    operation: Operation,
    auth_failure: RefCell<Option<AuthError>>,
    /// The HTTP status of the last answer, for errors progenitor reports
    /// without it.
    status: Cell<Option<u16>>,
    /// The bearer token sent, to scrub from any text the vendor answers.
    sent_token: RefCell<Option<AccessToken>>,
    /// The string values of an unauthenticated request's JSON body (the
    /// refresh call carries the refresh token and the client secret there),
    /// likewise.
    sent_values: RefCell<Vec<String>>,
}

/// The operation of the call running on this task, if any.
pub(crate) fn current_operation() -> Option<Operation> {
    CALL.try_with(|call| call.operation).ok()
}

pub(crate) fn record_auth_failure(error: AuthError) {
    let _ = CALL.try_with(|call| *call.auth_failure.borrow_mut() = Some(error));
}

pub(crate) fn record_status(status: u16) {
    let _ = CALL.try_with(|call| call.status.set(Some(status)));
}

pub(crate) fn record_sent_token(token: AccessToken) {
    let _ = CALL.try_with(|call| *call.sent_token.borrow_mut() = Some(token));
}

/// Keeps the string values of a JSON request body, to scrub them from the
/// vendor's texts. Only for the operations sent without a bearer token.
pub(crate) fn record_sent_body(body: &[u8]) {
    let Ok(serde_json::Value::Object(fields)) = serde_json::from_slice(body) else {
        return;
    };
    let values = fields
        .into_iter()
        .filter_map(|(_, value)| match value {
            serde_json::Value::String(text) if text.len() >= MIN_SCRUBBED_LEN => Some(text),
            _ => None,
        })
        .collect();
    let _ = CALL.try_with(|call| *call.sent_values.borrow_mut() = values);
}

/// Runs progenitor's `send` for `operation` and returns its answer, or the
/// crate's [`Error`].
pub(crate) async fn send<T, E: Serialize>(
    _client: &Client,
    operation: Operation,
    raw: impl Future<Output = Result<ResponseValue<T>, progenitor_client::Error<E>>>,
) -> Result<ResponseValue<T>, Error> {
    let call = Call {
        operation,
        auth_failure: RefCell::new(None),
        status: Cell::new(None),
        sent_token: RefCell::new(None),
        sent_values: RefCell::new(Vec::new()),
    };
    let mut scoped = pin!(CALL.scope(call, raw));
    let result = scoped.as_mut().await;
    let call = scoped
        .as_mut()
        .take_value()
        .expect("the call's value is taken once, after it ended");
    match result {
        Ok(answer) => Ok(answer),
        Err(error) => Err(call.into_error(error).await),
    }
}

impl Call {
    async fn into_error<E: Serialize>(self, error: progenitor_client::Error<E>) -> Error {
        use progenitor_client::Error as Raw;
        let operation = self.operation;
        if let Some(source) = self.auth_failure.into_inner() {
            return Error::Auth { operation, source };
        }
        let mut sent = self.sent_values.into_inner();
        sent.extend(
            self.sent_token
                .into_inner()
                .and_then(|token| AccessToken::sent_in(&token.bearer_header()?))
                .map(|token| token.expose_secret().to_owned()),
        );
        let scrub = |message: Option<String>| scrubbed(message, &sent);
        match error {
            Raw::InvalidRequest(message) | Raw::Custom(message) => {
                Error::InvalidInput { operation, message }
            }
            Raw::CommunicationError(source)
            | Raw::InvalidUpgrade(source)
            | Raw::ResponseBodyError(source) => Error::Network { operation, source },
            Raw::ErrorResponse(answer) => {
                let status = answer.status().as_u16();
                let message = serde_json::to_value(answer.into_inner())
                    .ok()
                    .and_then(|body| vendor_message(&body));
                status_error(operation, status, scrub(message))
            }
            Raw::UnexpectedResponse(response) => {
                let status = response.status().as_u16();
                let message = match response.bytes().await {
                    Ok(bytes) if bytes.len() <= MAX_MESSAGE_BODY => serde_json::from_slice(&bytes)
                        .ok()
                        .and_then(|body| vendor_message(&body)),
                    _ => None,
                };
                status_error(operation, status, scrub(message))
            }
            Raw::InvalidResponsePayload(_, error) => {
                let status = self.status.get().unwrap_or(0);
                if (200..300).contains(&status) {
                    Error::Undecodable {
                        operation,
                        status,
                        problem: DecodeProblem::of(&error),
                    }
                } else {
                    // An error status whose body is not the documented one:
                    // the status says what happened.
                    status_error(operation, status, None)
                }
            }
        }
    }
}

/// Error bodies larger than this are not read for a message.
const MAX_MESSAGE_BODY: usize = 64 * 1024;
/// A vendor message longer than this is cut.
const MAX_MESSAGE_CHARS: usize = 300;

fn status_error(operation: Operation, status: u16, message: Option<String>) -> Error {
    if status == 401 {
        Error::Unauthorized { operation, message }
    } else {
        Error::UnexpectedStatus {
            operation,
            status,
            message,
        }
    }
}

/// The vendor's `error` (or `message`) text in an error body.
pub(crate) fn vendor_message(body: &serde_json::Value) -> Option<String> {
    ["error", "message"]
        .iter()
        .find_map(|field| body.get(field)?.as_str())
        .filter(|message| !message.trim().is_empty())
        .map(|message| message.chars().take(MAX_MESSAGE_CHARS).collect())
}

/// Sent values shorter than this are not scrubbed (they are not secrets).
const MIN_SCRUBBED_LEN: usize = 8;

/// A vendor text with what was sent (the token, the refresh call's values)
/// replaced, should the vendor echo it.
fn scrubbed(message: Option<String>, sent: &[String]) -> Option<String> {
    let mut message = message?;
    for value in sent.iter().filter(|value| !value.is_empty()) {
        if message.contains(value.as_str()) {
            message = message.replace(value.as_str(), "<redacted>");
        }
    }
    Some(message)
}
