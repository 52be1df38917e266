//! One call of an operation, from the generated `send()` to its answer.
//!
//! Every builder's `send()` (generated) runs progenitor's request code inside
//! [`send`], which keeps a [`Call`] in a task-local for exactly as long as the
//! call runs. The call's deadline is kept there too, and held without a
//! timer of its own: each attempt's time limit (reqwest's, which covers the
//! answer's body too) is cut to what is left of it, a pause between retries
//! that would pass it ends the retries, and a wait for a token is bounded by
//! it. (A timer around the whole call cost about 1% of each call's latency,
//! BENCHMARKS.md §1.) The hooks (`hooks.rs`) read
//! the operation from it, typed, and record what progenitor's own error type
//! cannot carry: an [`AuthError`], whether the request was sent, the answer's
//! status, the token that was sent. When the call is over, [`send`] checks
//! the answer's own verdict (`vendor_failures.rs`) and turns any failure into
//! the crate's [`Error`] — for an operation not safe to repeat whose request
//! was sent, an [`Error::OutcomeUnknown`] whenever the answer was lost.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::pin;
use std::time::{Duration, Instant};

use progenitor_client::ResponseValue;
use serde::Serialize;

use crate::access_token::AccessToken;
use crate::answer_limit::{self, MAX_ANSWER_BYTES};
use crate::error::{DecodeProblem, UnknownCause};
use crate::retry_after::retry_after;
use crate::routes::Operation;
use crate::vendor_failures::{Verdict, verdict};
use crate::vendor_text::{cleaned, vendor_message};
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
    /// The request left at least once: the vendor may have it.
    sent: Cell<bool>,
    /// When the whole call must be over.
    deadline: Instant,
    /// The deadline ended the call: a retry or a token wait would have
    /// passed it.
    deadline_reached: Cell<bool>,
    /// The last attempt's time limit was cut to the deadline, so its
    /// timing out is the deadline's.
    attempt_cut_to_deadline: Cell<bool>,
}

/// The operation of the call running on this task, if any.
pub(crate) fn current_operation() -> Option<Operation> {
    CALL.try_with(|call| call.operation).ok()
}

pub(crate) fn record_auth_failure(error: AuthError) {
    let _ = CALL.try_with(|call| *call.auth_failure.borrow_mut() = Some(error));
}

pub(crate) fn record_sent() {
    let _ = CALL.try_with(|call| call.sent.set(true));
}

pub(crate) fn record_status(status: u16) {
    let _ = CALL.try_with(|call| call.status.set(Some(status)));
}

/// An attempt's time limit: `configured`, or what is left of the call's
/// deadline when that is less.
pub(crate) fn attempt_time_limit(configured: Duration) -> Duration {
    CALL.try_with(|call| {
        let left = call.deadline.saturating_duration_since(Instant::now());
        call.attempt_cut_to_deadline.set(left <= configured);
        configured.min(left)
    })
    .unwrap_or(configured)
}

/// Whether a pause of `delay` before the next attempt ends before the
/// deadline; when not, the deadline has ended the call.
pub(crate) fn may_wait(delay: Duration) -> bool {
    CALL.try_with(|call| {
        let fits = Instant::now()
            .checked_add(delay)
            .is_some_and(|end| end < call.deadline);
        if !fits {
            call.deadline_reached.set(true);
        }
        fits
    })
    .unwrap_or(true)
}

/// Runs `wait` (for a token) until the call's deadline at most; `None`
/// when the deadline came first.
pub(crate) async fn within_deadline<T>(wait: impl Future<Output = T>) -> Option<T> {
    let Ok(deadline) = CALL.try_with(|call| call.deadline) else {
        return Some(wait.await);
    };
    // The timer is registered only when `wait` is not ready at once: a
    // cached token costs nothing.
    match tokio::time::timeout_at(deadline.into(), wait).await {
        Ok(value) => Some(value),
        Err(_) => {
            let _ = CALL.try_with(|call| call.deadline_reached.set(true));
            None
        }
    }
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

/// Runs progenitor's `send` for `operation` within the client's deadline and
/// returns its answer, or the crate's [`Error`].
pub(crate) async fn send<T: 'static, E: Serialize>(
    client: &Client,
    operation: Operation,
    raw: impl Future<Output = Result<ResponseValue<T>, progenitor_client::Error<E>>>,
) -> Result<ResponseValue<T>, Error> {
    let call = Call {
        operation,
        auth_failure: RefCell::new(None),
        status: Cell::new(None),
        sent_token: RefCell::new(None),
        sent_values: RefCell::new(Vec::new()),
        sent: Cell::new(false),
        deadline: deadline_after(client.inner.options.call_time_limit()),
        deadline_reached: Cell::new(false),
        attempt_cut_to_deadline: Cell::new(false),
    };
    let mut scoped = pin!(CALL.scope(call, raw));
    let outcome = scoped.as_mut().await;
    let call = scoped
        .as_mut()
        .take_value()
        .expect("the call's value is taken once, after it ended");
    match outcome {
        Ok(answer) => call.checked(answer),
        Err(error) => Err(call.into_error(error).await),
    }
}

/// `limit` from now; a limit too large for the clock (`Duration::MAX`)
/// means about a century.
fn deadline_after(limit: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(limit)
        .or_else(|| now.checked_add(Duration::from_secs(100 * 365 * 86_400)))
        .unwrap_or(now)
}

impl Call {
    fn safe_to_repeat(&self) -> bool {
        self.operation.route().idempotent
    }

    /// For an operation not safe to repeat whose request was sent, the
    /// answer is lost: the outcome is unknown.
    fn lost(&self, cause: UnknownCause) -> Option<Error> {
        (!self.safe_to_repeat() && self.sent.get()).then_some(Error::OutcomeUnknown {
            operation: self.operation,
            cause,
        })
    }

    fn past_deadline(self) -> Error {
        self.lost(UnknownCause::DeadlinePassed)
            .unwrap_or(Error::Timeout {
                operation: self.operation,
            })
    }

    /// The answer, unless what it says is a refusal or a changed shape.
    fn checked<T: 'static>(self, answer: ResponseValue<T>) -> Result<ResponseValue<T>, Error> {
        let operation = self.operation;
        let value: &T = &answer;
        match verdict(value) {
            Verdict::Done => Ok(answer),
            Verdict::Refused(mut refusal) => {
                // The vendor's words, inside HTTP 200 too: scrubbed of what
                // was sent, then cut.
                let sent = self.sent_secrets();
                refusal.message = cleaned(&refusal.message, &sent);
                for recipient in &mut refusal.recipients {
                    recipient.message = recipient
                        .message
                        .as_deref()
                        .map(|message| cleaned(message, &sent));
                }
                Err(Error::Refused { operation, refusal })
            }
            Verdict::Incomplete(missing) => Err(self
                .lost(UnknownCause::IncompleteAnswer { missing })
                .unwrap_or(Error::IncompleteAnswer { operation, missing })),
        }
    }

    /// What the request carried that may be secret: the bearer token, and
    /// the string values of an unauthenticated body.
    fn sent_secrets(&self) -> Vec<String> {
        let mut sent = self.sent_values.take();
        sent.extend(
            self.sent_token
                .take()
                .and_then(|token| AccessToken::sent_in(&token.bearer_header()?))
                .map(|token| token.expose_secret().to_owned()),
        );
        sent
    }

    async fn into_error<E: Serialize>(self, error: progenitor_client::Error<E>) -> Error {
        use progenitor_client::Error as Raw;
        let operation = self.operation;
        let timed_out = match &error {
            Raw::CommunicationError(source) | Raw::ResponseBodyError(source) => source.is_timeout(),
            _ => false,
        };
        if self.deadline_reached.get() || (timed_out && self.attempt_cut_to_deadline.get()) {
            return self.past_deadline();
        }
        if let Some(source) = self.auth_failure.take() {
            return Error::Auth { operation, source };
        }
        let sent = self.sent_secrets();
        match error {
            Raw::InvalidRequest(message) | Raw::Custom(message) => Error::InvalidInput {
                operation,
                message: innermost_conversion_error(&message).to_owned(),
            },
            Raw::CommunicationError(source)
            | Raw::InvalidUpgrade(source)
            | Raw::ResponseBodyError(source) => {
                if source.is_connect() {
                    // It never left.
                    return Error::Network { operation, source };
                }
                if answer_limit::too_large(&source) {
                    return self
                        .lost(UnknownCause::AnswerTooLarge {
                            limit: MAX_ANSWER_BYTES,
                        })
                        .unwrap_or(Error::AnswerTooLarge {
                            operation,
                            limit: MAX_ANSWER_BYTES,
                        });
                }
                let cause = if source.is_timeout() {
                    UnknownCause::TimedOut
                } else {
                    UnknownCause::ConnectionLost {
                        reason: source.to_string(),
                    }
                };
                match self.lost(cause) {
                    Some(unknown) => unknown,
                    None if source.is_timeout() => Error::Timeout { operation },
                    None => Error::Network { operation, source },
                }
            }
            Raw::ErrorResponse(answer) => {
                let status = answer.status().as_u16();
                let retry_after = retry_after(answer.headers());
                let message = serde_json::to_value(answer.into_inner())
                    .ok()
                    .and_then(|body| vendor_message(&body, &sent));
                self.status_error(status, message, retry_after)
            }
            Raw::UnexpectedResponse(response) => {
                let status = response.status().as_u16();
                let retry_after = retry_after(response.headers());
                // Only an error status's body may say why; a 2xx or 3xx
                // other than the documented one is not read at all.
                let readable = (400..600).contains(&status)
                    && response
                        .content_length()
                        .is_none_or(|length| length <= MAX_MESSAGE_BODY as u64);
                let message = match readable {
                    true => match response.bytes().await {
                        Ok(bytes) if bytes.len() <= MAX_MESSAGE_BODY => {
                            serde_json::from_slice(&bytes)
                                .ok()
                                .and_then(|body| vendor_message(&body, &sent))
                        }
                        _ => None,
                    },
                    false => None,
                };
                self.status_error(status, message, retry_after)
            }
            Raw::InvalidResponsePayload(_, error) => {
                let status = self.status.get().unwrap_or(0);
                if !(200..300).contains(&status) {
                    // An error status whose body is not the documented one:
                    // the status says what happened.
                    return self.status_error(status, None, None);
                }
                let problem = DecodeProblem::of(&error);
                self.lost(UnknownCause::Undecodable { problem })
                    .unwrap_or(Error::Undecodable {
                        operation,
                        status,
                        problem,
                    })
            }
        }
    }

    /// What an answer's status says, when it is not the operation's
    /// documented success. Only 401, 429 and the other 4xx say that the
    /// vendor did not do it; for a send or cancel that left, any other
    /// status — a 5xx, a 202 Accepted, a redirect (never followed) — leaves
    /// the outcome unknown.
    fn status_error(
        &self,
        status: u16,
        message: Option<String>,
        retry_after: Option<Duration>,
    ) -> Error {
        let operation = self.operation;
        let unexpected = |message| Error::UnexpectedStatus {
            operation,
            status,
            message,
        };
        match status {
            401 => Error::Unauthorized { operation, message },
            429 => Error::RateLimited {
                operation,
                retry_after,
            },
            400..=499 => unexpected(message),
            500..=599 => self
                .lost(UnknownCause::ServerError { status })
                .unwrap_or_else(|| unexpected(message)),
            _ => self
                .lost(UnknownCause::UndocumentedStatus { status })
                .unwrap_or_else(|| unexpected(message)),
        }
    }
}

/// Error bodies larger than this are not read for a message.
const MAX_MESSAGE_BODY: usize = 64 * 1024;

/// Sent values shorter than this are not scrubbed (they are not secrets).
const MIN_SCRUBBED_LEN: usize = 8;

/// typify's builders wrap a refused value once per level ("error converting
/// supplied value for variables: …"); the innermost text names the field.
fn innermost_conversion_error(message: &str) -> &str {
    let mut rest = message;
    while let Some(inner) = rest
        .strip_prefix("error converting supplied value for ")
        .and_then(|after| after.split_once(": "))
        .map(|(_, inner)| inner)
    {
        rest = inner;
    }
    rest
}
