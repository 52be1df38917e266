//! Bulk payouts over `xoxoday-reward-points`: a CSV of recipients paid out
//! so that no row is ever credited twice, even when the run dies half-way
//! and is started again.
//!
//! 1. [`PayoutFile::open`] checks every row and reports every problem at
//!    once (line, column, why); nothing is sent while one remains.
//! 2. [`run_payouts`] sends each row as its own send points call (one
//!    recipient per send: the vendor's answer to a send carries one
//!    transaction id, which could not be attributed among several
//!    recipients), at most [`RunOptions::concurrency`] at a time. Before each
//!    send the [`Journal`] records the intent durably, after it the outcome.
//!    Started again with the same file and journal, the run skips what was
//!    credited, sends what was never sent, and lists what is in doubt — an
//!    intent without an outcome, an answer lost after the request left — for
//!    a person to check against the vendor's ledger
//!    ([`RunOptions::resend_in_doubt`], [`RunOptions::confirm_sent`]).
//! 3. [`undo_payouts`] cancels a run's credits from its journal, with the
//!    same discipline.
//!
//! The journal is a file beside the input by default ([`FileJournal`]), or a
//! PostgreSQL table (`PostgresJournal`, feature `postgres`) that workers on
//! several machines share. The `reward-points payout` command of the CLI
//! runs all of this from a shell, with a progress bar and a report.
//!
//! ```
//! use std::sync::Arc;
//!
//! use xoxoday_reward_points::Environment;
//! use xoxoday_reward_points_mocks::{Faults, StandInServer};
//! use xoxoday_reward_points_payouts::{
//!     FileJournal, PayoutFile, RowStatus, RunDefaults, RunOptions, Silent, Stop, run_payouts,
//! };
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let stand_in = StandInServer::start(0, Faults::none()).await?;
//! let client = stand_in.client(Environment::Sandbox);
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("march.csv");
//! std::fs::write(&path, "name,email,points\nAnn,ann@example.com,100\nBo,bo@example.com,50\n")?;
//!
//! let defaults = RunDefaults { sender_email: Some("admin@example.com".into()), expiry_months: Some(12) };
//! let file = PayoutFile::open(&path, defaults)?;
//! let journal = Arc::new(FileJournal::open(&FileJournal::beside(&path))?);
//! let summary =
//!     run_payouts(&client, &file, journal.clone(), RunOptions::default(), Arc::new(Silent), &Stop::new()).await?;
//! assert_eq!(summary.count(RowStatus::Sent), 2);
//!
//! // Again: nothing is sent twice.
//! let again = run_payouts(&client, &file, journal, RunOptions::default(), Arc::new(Silent), &Stop::new()).await?;
//! assert_eq!(again.count(RowStatus::AlreadySent), 2);
//! assert_eq!(stand_in.balance("ann@example.com"), 100.0);
//! # Ok(()) }
//! ```

#![deny(missing_docs)]

mod file_journal;
mod journal;
mod outcome;
mod payout_file;
#[cfg(feature = "postgres")]
mod postgres_journal;
#[cfg(test)]
mod property_tests;
mod run;
mod undo;

pub use file_journal::{AbsentFileJournal, FileJournal, journals_in};
pub use journal::{
    EarlierRun, Journal, JournalError, JournalFuture, JournalState, PaidAlike, RowContent,
    RowIndex, RowRecord,
};

/// The former name of [`JournalState`], easy to confuse with [`RowStatus`].
#[deprecated(note = "renamed `JournalState`: what the journal records of a row")]
pub type RowState = JournalState;
pub use outcome::{Progress, RowOutcome, RowStatus, Silent, Stop, Summary};
pub use payout_file::{
    Contents, DuplicateRecipient, FileError, FileIdentity, MAX_FILE_BYTES, PayoutFile, PayoutRow,
    RowProblem, RunDefaults,
};
#[cfg(feature = "postgres")]
pub use postgres_journal::{DEFAULT_JOURNAL_TABLE, PostgresJournal};
pub use run::{Plan, RunError, RunOptions, Selection, plan_payouts, run_payouts};
pub use undo::undo_payouts;
