//! [`Error`]: the one error type every operation's `send()` returns. Each
//! variant says what happened in a way a caller can `match`, and in
//! particular whether the vendor may have processed the request:
//!
//! | variant | processed by the vendor? |
//! | --- | --- |
//! | `InvalidInput`, `Auth` | no: nothing was sent (or a 401 answered it) |
//! | `Unauthorized`, `RateLimited`, `Refused`, `UnexpectedStatus` (4xx) | no: the vendor said so |
//! | `Timeout`, `Network`, `Undecodable`, `AnswerTooLarge`, `IncompleteAnswer`, `UnexpectedStatus` (other than 4xx) | maybe, but only for operations safe to repeat |
//! | `OutcomeUnknown` | maybe: a send or cancel whose answer was lost, or whose status says neither yes nor no (5xx, a 2xx other than 200, a redirect); reconcile, do not resend |
//!
//! No variant carries a response body or a token, so printing one (`Display`
//! or `Debug`) never leaks a secret.

use std::fmt;
use std::time::Duration;

use crate::AuthError;
use crate::reading::DecodeProblem;
use crate::routes::Operation;
use crate::values::TransactionId;

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request could not be built from the values given; nothing was
    /// sent.
    #[error("{operation}: invalid input, nothing was sent: {message}")]
    InvalidInput {
        /// The operation called.
        operation: Operation,
        /// What was wrong.
        message: String,
    },
    /// No usable access token: see [`AuthError::NeedsPerson`] and
    /// [`AuthError::Transient`]. The vendor did not process the request.
    #[error("{operation}: {source}")]
    Auth {
        /// The operation called.
        operation: Operation,
        /// What a person, or a later call, must do.
        #[source]
        source: AuthError,
    },
    /// The vendor answered HTTP 401 (and a refresh did not help, or the
    /// client has no token store), with the vendor's `error` text.
    #[error(
        "{operation}: the vendor answered HTTP 401 Unauthorized{}",
        quoted(message)
    )]
    Unauthorized {
        /// The operation called.
        operation: Operation,
        /// The vendor's text.
        message: Option<String>,
    },
    /// The vendor answered HTTP 200 and said it did not do it (`success: 0`,
    /// `error: true`, or every recipient `success: false`).
    #[error("{operation}: the vendor refused: {refusal}")]
    Refused {
        /// The operation called.
        operation: Operation,
        /// The vendor's message, and per recipient where it reported them.
        refusal: Refusal,
    },
    /// The vendor answered HTTP 429: too many requests. It did not process
    /// the request. Operations safe to repeat were retried first, honouring
    /// `Retry-After` up to the retry policy's cap.
    #[error(
        "{operation}: the vendor answered HTTP 429 Too Many Requests{}",
        retry_in(retry_after)
    )]
    RateLimited {
        /// The operation called.
        operation: Operation,
        /// How long the vendor asked to wait, from `Retry-After`.
        retry_after: Option<Duration>,
    },
    /// The vendor answered a status that is not the operation's success,
    /// with its `error` or `message` text when it gave one.
    #[error("{operation}: the vendor answered HTTP {status}{}", quoted(message))]
    UnexpectedStatus {
        /// The operation called.
        operation: Operation,
        /// The HTTP status.
        status: u16,
        /// The vendor's text.
        message: Option<String>,
    },
    /// No answer within the time limit (per attempt, or for the whole
    /// call), for an operation safe to repeat.
    #[error("{operation}: no answer within the time limit")]
    Timeout {
        /// The operation called.
        operation: Operation,
    },
    /// The request did not reach the vendor (connection refused, a name that
    /// does not resolve, …), or, for an operation safe to repeat, the answer
    /// did not make it back.
    #[error("{operation}: {source}")]
    Network {
        /// The operation called.
        operation: Operation,
        // reqwest's text names the URL, never a header or a body.
        /// What failed.
        #[source]
        source: reqwest::Error,
    },
    /// The answer is not what the document describes. Only the place of the
    /// problem is kept, never the answer itself (it may hold a token).
    #[error(
        "{operation}: the answer (HTTP {status}) is not what the document describes: {problem}"
    )]
    Undecodable {
        /// The operation called.
        operation: Operation,
        /// The HTTP status.
        status: u16,
        /// Where the answer stopped matching.
        problem: DecodeProblem,
    },
    /// The answer's body is larger than the client reads
    /// ([`MAX_ANSWER_BYTES`](crate::MAX_ANSWER_BYTES)), for an operation safe
    /// to repeat. Nothing of it is kept.
    #[error("{operation}: the answer is larger than {limit} bytes, so it was not read")]
    AnswerTooLarge {
        /// The operation called.
        operation: Operation,
        /// The limit, in bytes.
        limit: usize,
    },
    /// The answer decoded, but lacks a field the client needs.
    #[error("{operation}: the answer has no {missing}")]
    IncompleteAnswer {
        /// The operation called.
        operation: Operation,
        /// The field, such as `data.user_balance`.
        missing: &'static str,
    },
    /// A send or cancel (an operation not safe to repeat) whose request may
    /// have reached the vendor, but whose answer was lost or unreadable. The
    /// points may have been credited or cancelled: check the vendor's ledger
    /// before sending again; never simply retry.
    #[error(
        "{operation}: the request may have reached the vendor but its outcome is unknown \
         ({cause}): check before sending it again"
    )]
    OutcomeUnknown {
        /// The operation called.
        operation: Operation,
        /// How the answer was lost.
        cause: UnknownCause,
    },
}

impl Error {
    /// The operation that failed.
    pub fn operation(&self) -> Operation {
        match self {
            Error::InvalidInput { operation, .. }
            | Error::Auth { operation, .. }
            | Error::Unauthorized { operation, .. }
            | Error::Refused { operation, .. }
            | Error::RateLimited { operation, .. }
            | Error::UnexpectedStatus { operation, .. }
            | Error::Timeout { operation }
            | Error::Network { operation, .. }
            | Error::Undecodable { operation, .. }
            | Error::AnswerTooLarge { operation, .. }
            | Error::IncompleteAnswer { operation, .. }
            | Error::OutcomeUnknown { operation, .. } => *operation,
        }
    }

    /// Whether the request may have been processed although the call
    /// failed: an [`Error::OutcomeUnknown`].
    pub fn outcome_unknown(&self) -> bool {
        matches!(self, Error::OutcomeUnknown { .. })
    }
}

fn quoted(message: &Option<String>) -> String {
    message
        .as_deref()
        .map(|message| format!(": {message:?}"))
        .unwrap_or_default()
}

fn retry_in(retry_after: &Option<Duration>) -> String {
    retry_after
        .map(|delay| format!(" (retry after {} s)", delay.as_secs_f64()))
        .unwrap_or_default()
}

/// What the vendor said when it refused, inside HTTP 200.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The vendor's message (or what was missing from it).
    pub message: String,
    /// Per recipient, where the vendor reported each (cancel points).
    pub recipients: Vec<CancelOutcome>,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        for recipient in &self.recipients {
            write!(f, "; {recipient}")?;
        }
        Ok(())
    }
}

/// What became of one credit a cancel named.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CancelOutcome {
    /// The credit.
    pub transaction: TransactionId,
    /// Whether the vendor cancelled it.
    pub cancelled: bool,
    /// The vendor's message about it.
    pub message: Option<String>,
}

impl fmt::Display for CancelOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let done = if self.cancelled {
            "cancelled"
        } else {
            "not cancelled"
        };
        write!(f, "transaction {}: {done}", self.transaction)?;
        if let Some(message) = &self.message {
            write!(f, " ({message})")?;
        }
        Ok(())
    }
}

/// How the answer to a send or cancel was lost.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum UnknownCause {
    /// No answer within the attempt's time limit, after the request was
    /// sent.
    TimedOut,
    /// The call's whole-call deadline passed after the request was sent.
    DeadlinePassed,
    /// The connection broke after the request was sent.
    ConnectionLost {
        /// What broke (reqwest's text: the URL, never a header or body).
        reason: String,
    },
    /// The vendor answered a server error (5xx), which may come after it
    /// processed the request.
    ServerError {
        /// The HTTP status.
        status: u16,
    },
    /// The vendor answered a status that neither says it was done nor that
    /// it was not: a 2xx other than 200 (such as 202 Accepted), or a
    /// redirect, which the client never follows (it would carry the request
    /// elsewhere).
    UndocumentedStatus {
        /// The HTTP status.
        status: u16,
    },
    /// The answer's body was larger than the client reads.
    AnswerTooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// The vendor answered 2xx, but the answer could not be read.
    Undecodable {
        /// Where the answer stopped matching.
        problem: DecodeProblem,
    },
    /// The vendor answered 2xx without a field that says what happened.
    IncompleteAnswer {
        /// The field, such as `data`.
        missing: &'static str,
    },
}

impl fmt::Display for UnknownCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UnknownCause::TimedOut => f.write_str("no answer within the time limit"),
            UnknownCause::DeadlinePassed => f.write_str("the call's deadline passed"),
            UnknownCause::ConnectionLost { reason } => write!(f, "the connection broke: {reason}"),
            UnknownCause::ServerError { status } => write!(f, "the vendor answered HTTP {status}"),
            UnknownCause::UndocumentedStatus {
                status: status @ 300..=399,
            } => write!(
                f,
                "the vendor answered HTTP {status}, a redirect, which the client does not follow"
            ),
            UnknownCause::UndocumentedStatus { status } => write!(
                f,
                "the vendor answered HTTP {status}, which does not say whether it was done"
            ),
            UnknownCause::AnswerTooLarge { limit } => {
                write!(f, "the answer is larger than {limit} bytes")
            }
            UnknownCause::Undecodable { problem } => write!(f, "the answer is {problem}"),
            UnknownCause::IncompleteAnswer { missing } => write!(f, "the answer has no {missing}"),
        }
    }
}
