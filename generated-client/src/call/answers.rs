//! What an answer says beyond its HTTP status ([`Answer`], [`Verdict`]):
//! the vendor answers HTTP 200 when it refuses, and a changed answer shape
//! decodes into empty optional fields. The call checks each answer's
//! verdict (`call/mod.rs`), so a caller gets
//! [`Error::Refused`](crate::Error::Refused) or
//! [`Error::IncompleteAnswer`](crate::Error::IncompleteAnswer) instead of an
//! answer to dig through. The points operations' own verdicts are in
//! `points_answers.rs`.

use crate::call::error::Refusal;
/// An answer to a call, judged beyond its HTTP status: the points
/// operations' answers say within HTTP 200 whether the vendor did what was
/// asked (below). regen gives every other success type the
/// default, done (`impl Answer for types::X {}`).
pub(crate) trait Answer {
    /// What the answer says.
    fn verdict(&self) -> Verdict {
        Verdict::Done
    }
}

/// What an answer says, beyond its status.
pub(crate) enum Verdict {
    /// Done (for a cancel: at least one credit was).
    Done,
    /// The vendor said it did not do it.
    Refused(Refusal),
    /// A field that says what happened is missing: the answer's shape
    /// changed.
    Incomplete(&'static str),
}

pub(crate) fn refused(message: Option<String>, otherwise: &str) -> Verdict {
    Verdict::Refused(Refusal {
        message: message
            .filter(|message| !message.is_empty())
            .unwrap_or_else(|| otherwise.to_owned()),
        recipients: Vec::new(),
    })
}
