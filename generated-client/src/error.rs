//! [`Error`]: the one error type every operation's `send()` returns. Each
//! variant says what happened in a way a caller can `match`; none carries a
//! response body or a token, so printing one (`Display` or `Debug`) never
//! leaks a secret.

use std::fmt;

use crate::AuthError;
use crate::routes::Operation;

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request could not be built from the values given; nothing was
    /// sent.
    #[error("{operation}: invalid input, nothing was sent: {message}")]
    InvalidInput {
        operation: Operation,
        message: String,
    },
    /// No usable access token: see [`AuthError::NeedsPerson`] and
    /// [`AuthError::Transient`]. After a 401, the request was not processed
    /// by the vendor.
    #[error("{operation}: {source}")]
    Auth {
        operation: Operation,
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
        operation: Operation,
        message: Option<String>,
    },
    /// The vendor answered a status that is not the operation's success,
    /// with its `error` or `message` text when it gave one.
    #[error("{operation}: the vendor answered HTTP {status}{}", quoted(message))]
    UnexpectedStatus {
        operation: Operation,
        status: u16,
        message: Option<String>,
    },
    /// The answer is not what the document describes. Only the place of the
    /// problem is kept, never the answer itself (it may hold a token).
    #[error(
        "{operation}: the answer (HTTP {status}) is not what the document describes: {problem}"
    )]
    Undecodable {
        operation: Operation,
        status: u16,
        problem: DecodeProblem,
    },
    /// The answer decoded, but lacks a field the client needs.
    #[error("{operation}: the answer has no {missing}")]
    IncompleteAnswer {
        operation: Operation,
        missing: &'static str,
    },
    /// The request or its answer did not make it across the network
    /// (connection refused or reset, a timeout, …).
    #[error("{operation}: {source}")]
    Network {
        operation: Operation,
        // reqwest's text names the URL, never a header or a body.
        #[source]
        source: reqwest::Error,
    },
}

impl Error {
    /// The operation that failed.
    pub fn operation(&self) -> Operation {
        match self {
            Error::InvalidInput { operation, .. }
            | Error::Auth { operation, .. }
            | Error::Unauthorized { operation, .. }
            | Error::UnexpectedStatus { operation, .. }
            | Error::Undecodable { operation, .. }
            | Error::IncompleteAnswer { operation, .. }
            | Error::Network { operation, .. } => *operation,
        }
    }
}

fn quoted(message: &Option<String>) -> String {
    message
        .as_deref()
        .map(|message| format!(": {message:?}"))
        .unwrap_or_default()
}

/// Where an answer stopped matching the document: what kind of problem, and
/// the line and column in the answer. Never the answer's content.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecodeProblem {
    pub kind: DecodeProblemKind,
    pub line: usize,
    pub column: usize,
}

/// The kind of a [`DecodeProblem`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeProblemKind {
    /// Not JSON at all.
    NotJson,
    /// JSON, but a field is missing or of another type.
    OtherShape,
    /// The answer ends early.
    CutShort,
}

impl DecodeProblem {
    pub(crate) fn of(error: &serde_json::Error) -> Self {
        use serde_json::error::Category;
        let kind = match error.classify() {
            Category::Data => DecodeProblemKind::OtherShape,
            Category::Eof => DecodeProblemKind::CutShort,
            Category::Syntax | Category::Io => DecodeProblemKind::NotJson,
        };
        Self {
            kind,
            line: error.line(),
            column: error.column(),
        }
    }
}

impl fmt::Display for DecodeProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            DecodeProblemKind::NotJson => "not JSON",
            DecodeProblemKind::OtherShape => "JSON of another shape (a field missing or retyped)",
            DecodeProblemKind::CutShort => "JSON cut short",
        };
        write!(f, "{what} at line {} column {}", self.line, self.column)
    }
}
