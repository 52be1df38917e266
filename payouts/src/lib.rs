//! Bulk payouts over `xoxoday-reward-points`: a CSV of recipients paid out
//! so that no recipient is credited twice, whatever happens: the run dies
//! half-way and is started again, the file is copied or renamed and paid
//! again, two runs start at once, or an operator follows the tool's advice
//! after a colleague acted.
//!
//! 1. [`PayoutFile::open`] checks every row and reports every problem at
//!    once (line, column, why); nothing is sent while one remains.
//! 2. [`plan_payouts`] begins the run in the **ledger of record**
//!    ([`Ledger`]): one per vendor environment and account, which holds
//!    every credit this tool made or may have made. The run claims its rows
//!    and asks, in the same transaction, whether any run of the same
//!    environment and account paid (or is paying) a row alike; it stops
//!    unless told to pay again ([`RunOptions::pay_again`]).
//! 3. [`run_payouts`] sends each row as its own send points call (one
//!    recipient per send: the vendor's answer carries one transaction id),
//!    at most [`RunOptions::concurrency`] at a time, each attempt recorded
//!    before it leaves and after it answers. Started again, the run skips
//!    what was credited, sends what was never sent, and lists what is in
//!    doubt for a person to check against the vendor's ledger
//!    ([`RunOptions::resend_in_doubt`], [`RunOptions::confirm_sent`]).
//! 4. [`undo_payouts`] cancels a run's credits, with the same discipline.
//!
//! The ledger is an SQLite database on this machine ([`SqliteLedger`], by
//! default in the user's data directory: [`default_ledger_path`]), or
//! PostgreSQL tables that workers on several machines share
//! (`PostgresLedger`, feature `postgres`). Journals of earlier versions are
//! imported into it, and left as they are. The `reward-points payout`
//! command of the CLI runs all of this from a shell.
//!
//! ```
//! use std::sync::Arc;
//!
//! use xoxoday_reward_points::Environment;
//! use xoxoday_reward_points_mocks::{Faults, StandInServer};
//! use xoxoday_reward_points_payouts::{
//!     LedgerContext, LedgerScope, PayoutFile, RowStatus, RunDefaults, RunOptions, Silent,
//!     SqliteLedger, Stop, plan_payouts, run_payouts,
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
//! let ledger = Arc::new(SqliteLedger::open(&dir.path().join("payouts.sqlite3"))?);
//! let context = LedgerContext::new(LedgerScope::new(Environment::Sandbox, "my-client-id"));
//! let options = RunOptions::default();
//! let plan = plan_payouts(&file, ledger.as_ref(), &context, &options, false).await?;
//! let summary =
//!     run_payouts(&client, &file, ledger.clone(), plan, options.clone(), Arc::new(Silent), &Stop::new()).await?;
//! assert_eq!(summary.count(RowStatus::Sent), 2);
//!
//! // Again: nothing is sent twice.
//! let plan = plan_payouts(&file, ledger.as_ref(), &context, &options, false).await?;
//! let again = run_payouts(&client, &file, ledger, plan, options, Arc::new(Silent), &Stop::new()).await?;
//! assert_eq!(again.count(RowStatus::AlreadySent), 2);
//! assert_eq!(stand_in.balance("ann@example.com"), 100.0);
//! # Ok(()) }
//! ```

#![deny(missing_docs)]

pub mod ledger;
mod orchestrator;
mod outcome;
mod payout_file;
#[cfg(test)]
mod property_tests;
mod run;
#[cfg(test)]
mod simulation;
mod steps;
mod undo;
mod vendor;

pub use ledger::Registry;
pub use ledger::{
    AttemptState, BeginError, EarlierRun, Ledger, LedgerError, LedgerScope, SqliteLedger,
    default_ledger_path,
};
#[cfg(feature = "postgres")]
pub use ledger::{DEFAULT_LEDGER_TABLE, PostgresLedger};
pub use outcome::{Progress, RowOutcome, RowStatus, Silent, Stop, Summary};
pub use payout_file::{
    Contents, DuplicateRecipient, FileError, FileIdentity, MAX_FILE_BYTES, PayoutFile, PayoutRow,
    RowProblem, RunDefaults,
};
pub use run::{LedgerContext, Plan, RunError, RunOptions, Selection, plan_payouts, run_payouts};
pub use undo::undo_payouts;
