//! One call of an operation, from the generated `send()` to its answer.
//!
//! Every builder's `send()` (generated) makes a [`Call`] and gives it, as a
//! value, to progenitor's request code (`send_raw`), whose two steps are the
//! call's own: [`Call::pre`] (the real URL, the token) and [`Call::exec`]
//! (attempts, retries, the repeat after a 401, the tracing span), in
//! `steps.rs`. What the steps learn — whether the request left, the
//! answer's status, the token sent, an [`AuthError`](crate::AuthError)
//! after a 401 — is kept in the call; a step that stops the call before
//! anything is sent says why with the crate's own [`Error`]. The call's
//! deadline is kept there too, and held without a timer of its own: each
//! attempt's time limit (reqwest's, which covers the answer's body too) is
//! cut to what is left of it, a pause between retries that would pass it
//! ends the retries, and a wait for a token is bounded by it. (A timer
//! around the whole call cost about 1% of each call's latency,
//! BENCHMARKS.md §1.) When the call is over, [`Call::finish`] judges the
//! answer ([`Answer`]) and turns any failure into the crate's [`Error`] —
//! for an operation not safe to repeat whose request was sent, an
//! [`Error::OutcomeUnknown`] whenever the answer was lost.

pub(crate) mod answers;
pub(crate) mod context;
pub(crate) mod error;
pub(crate) mod options;
#[cfg(not(another_document))]
mod points_answers;
pub(crate) mod retry_after;
mod steps;

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::time::{Duration, Instant};

use progenitor_client::ResponseValue;
use serde::Serialize;

pub(crate) use crate::call::answers::Answer;
use crate::call::answers::Verdict;
use crate::call::error::UnknownCause;
use crate::call::retry_after::retry_after;
use crate::reading::DecodeProblem;
use crate::reading::limit::{self, MAX_ANSWER_BYTES};
use crate::reading::vendor_text::{cleaned, vendor_message};
use crate::routes::Operation;
use crate::tokens::access_token::AccessToken;
use crate::{Client, Error};

/// One call of an operation, made by the generated `send()` and given to
/// each step of it: what the steps learn travels with the call, not beside
/// it. Shared between the steps of one call only; `Sync` so that a call's
/// future can move between threads.
pub(crate) struct Call {
    operation: Operation,
    /// When the whole call must be over.
    deadline: Instant,
    /// The request left at least once: the vendor may have it.
    sent: AtomicBool,
    /// The HTTP status of the last answer (0: none yet), for errors
    /// progenitor reports without it.
    status: AtomicU16,
    /// The deadline ended the call: a retry or a token wait would have
    /// passed it.
    deadline_reached: AtomicBool,
    /// The last attempt's time limit was cut to the deadline, so its timing
    /// out is the deadline's.
    attempt_cut_to_deadline: AtomicBool,
    /// After a 401: no usable token to repeat the request with.
    auth_failure: Mutex<Option<crate::AuthError>>,
    /// The bearer token sent, to scrub from any text the vendor answers.
    sent_token: Mutex<Option<AccessToken>>,
    /// The string values of an unauthenticated request's JSON body (the
    /// refresh call carries the refresh token and the client secret there),
    /// likewise.
    sent_values: Mutex<Vec<String>>,
}

/// Why progenitor's `send_raw` ended without an answer: a step of the call
/// stopped it before anything was sent (with the crate's error, whole), or
/// progenitor-client reported a failure.
pub(crate) enum Failure<E> {
    /// Stopped before sending: no usable token, the deadline, a request
    /// that cannot be built.
    Stopped(Error),
    /// What progenitor-client reported.
    Raw(progenitor_client::Error<E>),
}

impl<E> From<progenitor_client::Error<E>> for Failure<E> {
    fn from(error: progenitor_client::Error<E>) -> Self {
        Failure::Raw(error)
    }
}

// The conversions progenitor-client's own error has, for the `?`s in
// progenitor's request code (a scratch crate compiles every shape of
// request regen accepts: `xtask/tests/it/vendor_changes.rs`).
impl<E> From<reqwest::Error> for Failure<E> {
    fn from(error: reqwest::Error) -> Self {
        Failure::Raw(error.into())
    }
}

impl<E> From<reqwest::header::InvalidHeaderValue> for Failure<E> {
    fn from(error: reqwest::header::InvalidHeaderValue) -> Self {
        Failure::Raw(error.into())
    }
}

impl<E> From<std::convert::Infallible> for Failure<E> {
    fn from(error: std::convert::Infallible) -> Self {
        match error {}
    }
}

impl<E> From<Error> for Failure<E> {
    fn from(error: Error) -> Self {
        Failure::Stopped(error)
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

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Call {
    /// A call of `operation` by `client`, whose deadline starts now.
    pub(crate) fn new(client: &Client, operation: Operation) -> Self {
        Self {
            operation,
            deadline: deadline_after(client.inner.options.deadline()),
            sent: AtomicBool::new(false),
            status: AtomicU16::new(0),
            deadline_reached: AtomicBool::new(false),
            attempt_cut_to_deadline: AtomicBool::new(false),
            auth_failure: Mutex::new(None),
            sent_token: Mutex::new(None),
            sent_values: Mutex::new(Vec::new()),
        }
    }

    /// The operation called.
    pub(crate) fn operation(&self) -> Operation {
        self.operation
    }

    pub(crate) fn record_auth_failure(&self, error: crate::AuthError) {
        *lock(&self.auth_failure) = Some(error);
    }

    pub(crate) fn record_sent(&self) {
        self.sent.store(true, Ordering::Relaxed);
    }

    pub(crate) fn record_status(&self, status: u16) {
        self.status.store(status, Ordering::Relaxed);
    }

    pub(crate) fn record_sent_token(&self, token: AccessToken) {
        *lock(&self.sent_token) = Some(token);
    }

    /// Keeps the string values of a JSON request body, to scrub them from
    /// the vendor's texts. Only for the operations sent without a bearer
    /// token.
    pub(crate) fn record_sent_body(&self, body: &[u8]) {
        let Ok(serde_json::Value::Object(fields)) = serde_json::from_slice(body) else {
            return;
        };
        *lock(&self.sent_values) = fields
            .into_iter()
            .filter_map(|(_, value)| match value {
                serde_json::Value::String(text) if text.len() >= MIN_SCRUBBED_LEN => Some(text),
                _ => None,
            })
            .collect();
    }

    /// An attempt's time limit: `configured`, or what is left of the call's
    /// deadline when that is less.
    pub(crate) fn attempt_time_limit(&self, configured: Duration) -> Duration {
        let left = self.deadline.saturating_duration_since(Instant::now());
        self.attempt_cut_to_deadline
            .store(left <= configured, Ordering::Relaxed);
        configured.min(left)
    }

    /// Whether a pause of `delay` before the next attempt ends before the
    /// deadline; when not, the deadline has ended the call.
    pub(crate) fn may_wait(&self, delay: Duration) -> bool {
        let fits = Instant::now()
            .checked_add(delay)
            .is_some_and(|end| end < self.deadline);
        if !fits {
            self.deadline_reached.store(true, Ordering::Relaxed);
        }
        fits
    }

    /// Runs `wait` (for a token) until the call's deadline at most; `None`
    /// when the deadline came first.
    pub(crate) async fn within_deadline<T>(&self, wait: impl Future<Output = T>) -> Option<T> {
        // The timer is registered only when `wait` is not ready at once: a
        // cached token costs nothing.
        match tokio::time::timeout_at(self.deadline.into(), wait).await {
            Ok(value) => Some(value),
            Err(_) => {
                self.deadline_reached.store(true, Ordering::Relaxed);
                None
            }
        }
    }

    /// The call ended (`raw` is what progenitor's `send_raw` returned): the
    /// answer, unless it says it was refused, or the crate's [`Error`].
    pub(crate) async fn finish<T: Answer, E: Serialize>(
        self,
        raw: Result<ResponseValue<T>, Failure<E>>,
    ) -> Result<ResponseValue<T>, Error> {
        match raw {
            Ok(answer) => self.checked(answer),
            Err(Failure::Stopped(error)) => Err(error),
            Err(Failure::Raw(error)) => Err(self.into_error(error).await),
        }
    }

    /// Stops the call before sending: the deadline passed while it waited
    /// (for a token).
    pub(crate) fn stopped_by_deadline(&self) -> Error {
        self.deadline_reached.store(true, Ordering::Relaxed);
        self.past_deadline()
    }

    fn safe_to_repeat(&self) -> bool {
        self.operation.route().idempotent
    }

    /// For an operation not safe to repeat whose request was sent, the
    /// answer is lost: the outcome is unknown.
    fn lost(&self, cause: UnknownCause) -> Option<Error> {
        (!self.safe_to_repeat() && self.sent.load(Ordering::Relaxed)).then_some(
            Error::OutcomeUnknown {
                operation: self.operation,
                cause,
            },
        )
    }

    fn past_deadline(&self) -> Error {
        self.lost(UnknownCause::DeadlinePassed)
            .unwrap_or(Error::Timeout {
                operation: self.operation,
            })
    }

    /// The answer, unless what it says is a refusal or a changed shape.
    fn checked<T: Answer>(self, answer: ResponseValue<T>) -> Result<ResponseValue<T>, Error> {
        let operation = self.operation;
        match answer.verdict() {
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
        let mut sent = std::mem::take(&mut *lock(&self.sent_values));
        sent.extend(
            lock(&self.sent_token)
                .take()
                .and_then(|token| AccessToken::sent_in(&token.bearer_header()?))
                .map(|token| token.expose_secret().to_owned()),
        );
        sent
    }

    /// What progenitor-client reported, as the crate's [`Error`]: the
    /// deadline's, a 401's token failure, or what the failure itself says,
    /// with the vendor's words scrubbed of what was sent.
    async fn into_error<E: Serialize>(self, error: progenitor_client::Error<E>) -> Error {
        use progenitor_client::Error as Raw;
        let operation = self.operation;
        if self.ended_by_deadline(&error) {
            return self.past_deadline();
        }
        if let Some(source) = lock(&self.auth_failure).take() {
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
            | Raw::ResponseBodyError(source) => self.transport_error(source),
            Raw::ErrorResponse(answer) => {
                let status = answer.status().as_u16();
                let retry_after = retry_after(answer.headers());
                let message = serde_json::to_value(answer.into_inner())
                    .ok()
                    .and_then(|body| vendor_message(&body, &sent));
                self.status_error(status, message, retry_after)
            }
            Raw::UnexpectedResponse(response) => {
                self.unexpected_response_error(response, &sent).await
            }
            Raw::InvalidResponsePayload(_, error) => self.undecodable_error(&error),
        }
    }

    /// Whether the call's deadline ended it: a retry or a token wait would
    /// have passed it, or `error` is the timing out of an attempt whose time
    /// limit was cut to it.
    fn ended_by_deadline<E>(&self, error: &progenitor_client::Error<E>) -> bool {
        use progenitor_client::Error as Raw;
        let timed_out = match error {
            Raw::CommunicationError(source) | Raw::ResponseBodyError(source) => source.is_timeout(),
            _ => false,
        };
        self.deadline_reached.load(Ordering::Relaxed)
            || (timed_out && self.attempt_cut_to_deadline.load(Ordering::Relaxed))
    }

    /// A failure of the connection or of reading the answer: a request that
    /// never left, an answer over the size limit, a timeout or a lost
    /// connection (the outcome unknown when the request may have done it).
    fn transport_error(&self, source: reqwest::Error) -> Error {
        let operation = self.operation;
        if source.is_connect() {
            // It never left.
            return Error::Network { operation, source };
        }
        if limit::too_large(&source) {
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

    /// An answer the operation does not document: what its status says,
    /// with the vendor's message when an error status's small body has one
    /// (scrubbed of the `sent` secrets).
    async fn unexpected_response_error(
        &self,
        response: reqwest::Response,
        sent: &[String],
    ) -> Error {
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
                Ok(bytes) if bytes.len() <= MAX_MESSAGE_BODY => serde_json::from_slice(&bytes)
                    .ok()
                    .and_then(|body| vendor_message(&body, sent)),
                _ => None,
            },
            false => None,
        };
        self.status_error(status, message, retry_after)
    }

    /// An answer whose body is not the documented one: for an error status,
    /// what the status says; for a success, a body that did not decode.
    fn undecodable_error(&self, error: &serde_json::Error) -> Error {
        let status = self.status.load(Ordering::Relaxed);
        if !(200..300).contains(&status) {
            // An error status whose body is not the documented one:
            // the status says what happened.
            return self.status_error(status, None, None);
        }
        let problem = DecodeProblem::of(error);
        self.lost(UnknownCause::Undecodable { problem })
            .unwrap_or(Error::Undecodable {
                operation: self.operation,
                status,
                problem,
            })
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
