//! What callers build, typed: a recipient, a payout, a user (by email or by
//! phone), a cancellation, with domain types where the vendor's strings hide
//! meaning. A bad value is refused when it is built — before anything is
//! sent — with an [`InvalidValue`] naming the vendor's field.
//!
//! ```
//! use xoxoday_reward_points::{Payout, Recipient, User};
//!
//! # fn main() -> Result<(), xoxoday_reward_points::InvalidValue> {
//! let payout = Payout::new("admin@example.com")?
//!     .expiry_months(12)?
//!     .to(Recipient::new("John Doe", "john.doe@example.com", 100)?.citation("Great work"));
//! let who = User::email("john.doe@example.com")?;
//!
//! assert_eq!(
//!     Recipient::new("Jane", "jane.doe@exmaple", 10).unwrap_err().to_string(),
//!     "to_email: `jane.doe@exmaple` is not an email address: its domain has no top-level \
//!      domain (such as `.com`)"
//! );
//! # Ok(()) }
//! ```

#[cfg(not(another_document))]
pub(crate) mod constructors;
pub(crate) mod epoch_millis;
pub mod rules;
#[cfg(not(another_document))]
mod setters;
#[cfg(not(another_document))]
mod typed;

#[cfg(not(another_document))]
pub use typed::{Cancellation, EmailAddress, Payout, PhoneNumber, Points, Recipient, User};

/// A value refused before anything was sent: the vendor's field it was for,
/// and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct InvalidValue {
    /// The vendor's name of the field, such as `to_email` or `amount`.
    pub field: &'static str,
    /// What is wrong with the value.
    pub problem: String,
}

fn invalid(field: &'static str, problem: impl Into<String>) -> InvalidValue {
    InvalidValue {
        field,
        problem: problem.into(),
    }
}

/// The id of a credit: what send points answers (`unique_id`) and cancel
/// points takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TransactionId(pub i64);

impl std::fmt::Display for TransactionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}
