//! Reading the vendor's answers without trusting them: a limit on their
//! size ([`limit`]), the place where one stopped matching the document —
//! never its content, which may hold a token ([`DecodeProblem`]) — and the
//! vendor's own words made safe to show ([`vendor_text`]). Used by the call
//! and by the token refresh alike.

use std::fmt;

pub(crate) mod limit;
pub(crate) mod vendor_text;

/// Where an answer stopped matching the document: what kind of problem, and
/// the line and column in the answer. Never the answer's content.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecodeProblem {
    /// The kind of problem.
    pub kind: DecodeProblemKind,
    /// 1-based line in the answer.
    pub line: usize,
    /// 1-based column in the answer.
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
