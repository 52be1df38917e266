//! The ledger of record: every credit this tool makes, or may have made,
//! recorded before its request leaves, in one ledger per vendor environment
//! and account, whatever the file's name or directory.
//!
//! - [`SqliteLedger`] (the default: `payouts.sqlite3` in the user's data
//!   directory) on one machine; `PostgresLedger` (feature `postgres`), the
//!   same schema, for workers on several machines. Both are real databases: transactions, crash safety and
//!   locking between processes are theirs, not ours.
//! - A run begins in one transaction ([`begin`]): earlier versions'
//!   journals imported, the run found (or made, with every row of its file:
//!   its claim), its records checked against the file, and the one question
//!   "was this paid before?" asked of the whole ledger for the rows it
//!   would send. Beginnings are serialized, so two runs of overlapping
//!   content cannot both go ahead.
//! - Each send is an attempt: claimed durably before it leaves (attempt
//!   `n + 1` only if `n` is still the newest), its outcome recorded after,
//!   always — a person's contradicting word is kept beside it, never over
//!   it. Every decision about a row is taken from its attempts by one pure
//!   function, `next_step`.
//! - A run that goes on holds a lease (an OS lock, or a PostgreSQL advisory
//!   lock), so another run knows that its rows not sent yet are about to be.

mod begin;
mod history;
mod lease;
pub(crate) mod legacy;
#[cfg(feature = "postgres")]
mod postgres;
mod registry;
mod scope;
mod sql;
mod sqlite;
mod state;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub use begin::{BeginError, BeginRequest, Begun, EarlierRun, Purpose, begin};
pub use history::{Attempt, RowContent, RowHistory, RunHistory, recipient_key};
pub use lease::Lease;
pub use legacy::{LegacyJournal, journals_in};
#[cfg(feature = "postgres")]
pub use postgres::{DEFAULT_LEDGER_TABLE, PostgresLedger};
pub use registry::{Registry, default_ledger_path};
pub use scope::{LedgerScope, RunKey};
pub use sqlite::SqliteLedger;
pub use state::{AttemptState, Judgment, MAY_BE_CREDITED};

/// Why the ledger failed. A run stops at the first: it cannot go on
/// without knowing what it did.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("ledger {location}: {message}")]
pub struct LedgerError {
    /// The ledger.
    pub location: String,
    /// What failed, and what to do.
    pub message: String,
}

/// A ledger operation in flight.
pub type LedgerFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, LedgerError>> + Send + 'a>>;

/// A run as the ledger keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunRecord {
    /// Its id: random, the same in every ledger it is moved to.
    pub id: String,
    /// The vendor environment and account it paid.
    pub scope: LedgerScope,
    /// Its name: the file's path, or the name workers share (`--run`).
    pub name: String,
    /// The file's name as it was given.
    pub file: String,
    /// The file's SHA-256, hex.
    pub sha256: String,
    /// The file's rows.
    pub rows: u64,
    /// When it began, as an HTTP date.
    pub started: String,
    /// Where it was imported from, for a run an earlier version journaled.
    pub source: Option<String>,
}

/// A row of a run, as its file held it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LedgerRow {
    /// Its line in the file.
    pub line: u64,
    /// The recipient.
    pub email: String,
    /// The points.
    pub points: u64,
    /// The recipient's name.
    pub name: String,
}

impl LedgerRow {
    /// What the row holds, as a fingerprint.
    pub fn content(&self) -> RowContent {
        RowContent::of(&self.email, self.points, &self.name)
    }
}

/// What the ledger recorded a row to hold, as a fingerprint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordedContent {
    /// The row's line.
    pub line: u64,
    /// Its email, points and name.
    pub content: RowContent,
    /// Whether it was recorded without a name (journals of the earliest
    /// versions): then its email and points are what count.
    pub nameless: bool,
}

impl RecordedContent {
    /// What `row` holds, as the ledger records it.
    pub fn of(row: &LedgerRow) -> Self {
        Self {
            line: row.line,
            content: row.content(),
            nameless: row.name.is_empty(),
        }
    }

    /// Whether the file's `row` says what was recorded.
    pub fn matches(&self, row: &LedgerRow) -> bool {
        let name = if self.nameless { "" } else { row.name.as_str() };
        self.content == RowContent::of(&row.email, row.points, name)
    }
}

/// Another run whose rows pay a recipient the points some rows of this run
/// pay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlikeRun {
    /// The other run's id.
    pub run: String,
    /// How many of this run's rows are alike one of its rows.
    pub rows: u64,
    /// How many of those are alike one whose points are (or may be) with
    /// the recipient.
    pub credited: u64,
}

/// The ledger of record; see the module's documentation.
pub trait Ledger: Send + Sync {
    /// Where it is, for messages (never a password).
    fn location(&self) -> String;

    /// A transaction in which a run begins ([`begin`]): serialized with
    /// every other beginning in the same environment and account. `dry`:
    /// nothing it does is kept.
    fn transaction(&self, dry: bool) -> LedgerFuture<'_, Box<dyn LedgerTransaction + '_>>;

    /// Holds the run `key` as going on (shared by its workers) until the
    /// lease is dropped.
    fn lease(&self, key: i64) -> LedgerFuture<'_, Lease>;

    /// Claims attempt `after + 1` of `line` (its intent, `Sending`) if
    /// attempt `after` is still the newest; durable before it returns.
    /// `false`: another worker moved the row first.
    fn claim(&self, run: &str, line: u64, after: u32) -> LedgerFuture<'_, bool>;

    /// Records a person's word on attempt `attempt` of `line`, in doubt or
    /// in conflict: credited (`ConfirmedSent`, or the vendor's credit kept),
    /// or not (`NotCredited`). Durable. `false`: it was settled meanwhile.
    fn judge(&self, run: &str, line: u64, attempt: u32, credited: bool) -> LedgerFuture<'_, bool>;

    /// Claims the cancel of attempt `attempt`'s credit (`Cancelling`), if
    /// it is still a credit; durable. `false`: another worker moved it.
    fn claim_cancel(&self, run: &str, line: u64, attempt: u32) -> LedgerFuture<'_, bool>;

    /// Records the vendor's answer to attempt `attempt` of `line`: always
    /// (it is the truth of that attempt), with the person's word it
    /// contradicts kept beside it. Durable by the next [`Ledger::sync`] or
    /// claim: lost in a crash, it leaves the intent, in doubt — the safe
    /// side.
    fn record(
        &self,
        run: &str,
        line: u64,
        attempt: u32,
        state: AttemptState,
    ) -> LedgerFuture<'_, ()>;

    /// Returns when every record written so far is durable.
    fn sync(&self) -> LedgerFuture<'_, ()>;

    /// The history of `lines` of the run (all its rows: `None`).
    fn history<'a>(
        &'a self,
        run: &'a str,
        lines: Option<&'a [u64]>,
    ) -> LedgerFuture<'a, RunHistory>;

    /// The rows `lines` of the run, as its file held them.
    fn rows<'a>(&'a self, run: &'a str, lines: &'a [u64]) -> LedgerFuture<'a, Vec<LedgerRow>>;

    /// The lines of the run with an attempt whose answer contradicted a
    /// person's word.
    fn overruled(&self, run: &str) -> LedgerFuture<'_, Vec<u64>>;

    /// Whether another process holds the lease `key` (another worker of
    /// the run goes on): a row of the run whose intent has no outcome may
    /// be in flight there.
    fn held_elsewhere(&self, key: i64) -> LedgerFuture<'_, bool>;

    /// Runs an earlier version journaled in this ledger's database (the
    /// PostgreSQL journal's tables), to import as journal files are: none
    /// for a ledger that has none. `key` is the run beginning, whose own
    /// journal such a run may be.
    fn legacy_journals<'a>(&'a self, key: &'a RunKey) -> LedgerFuture<'a, Vec<LegacyJournal>> {
        let _ = key;
        Box::pin(async { Ok(Vec::new()) })
    }

    /// Whether workers on other machines may share its runs (a ledger
    /// shared across machines): `--resend-in-doubt all` cannot know what
    /// they have in flight.
    fn shared(&self) -> bool;
}

/// What a run's beginning asks of the ledger, inside one transaction.
pub trait LedgerTransaction: Send {
    /// The runs of `scope` named `name`, newest first.
    fn runs_named<'a>(
        &'a mut self,
        scope: &'a LedgerScope,
        name: &'a str,
    ) -> LedgerFuture<'a, Vec<RunRecord>>;

    /// The runs with these ids.
    fn runs<'a>(&'a mut self, ids: &'a [String]) -> LedgerFuture<'a, Vec<RunRecord>>;

    /// The runs of `scope` whose file had the SHA-256 `sha256`.
    fn runs_with_content<'a>(
        &'a mut self,
        scope: &'a LedgerScope,
        sha256: &'a str,
    ) -> LedgerFuture<'a, Vec<RunRecord>>;

    /// Makes the run (unless it exists) and those of its rows it lacks:
    /// the run's claim on them.
    fn create_run<'a>(
        &'a mut self,
        run: &'a RunRecord,
        rows: Arc<[LedgerRow]>,
    ) -> LedgerFuture<'a, ()>;

    /// The run's rows.
    fn rows<'a>(&'a mut self, run: &'a str) -> LedgerFuture<'a, Vec<LedgerRow>>;

    /// What each of the run's rows holds, by line (small: a run of many
    /// rows is checked against its file without holding both).
    fn contents<'a>(&'a mut self, run: &'a str) -> LedgerFuture<'a, Vec<RecordedContent>>;

    /// The run's attempts.
    fn history<'a>(&'a mut self, run: &'a str) -> LedgerFuture<'a, RunHistory>;

    /// The attempts of an imported run: added, never replaced (the ledger
    /// may know more of an attempt than the journal did).
    fn put_attempts<'a>(
        &'a mut self,
        run: &'a str,
        attempts: &'a [(u64, Attempt)],
    ) -> LedgerFuture<'a, ()>;

    /// The other runs in `scope` with rows that pay a recipient the points
    /// one of `lines` of run `run` pays, counted in the database, but for
    /// the runs `run` was told to pay again over.
    fn alike_elsewhere<'a>(
        &'a mut self,
        scope: &'a LedgerScope,
        run: &'a str,
        lines: &'a [u64],
    ) -> LedgerFuture<'a, Vec<AlikeRun>>;

    /// Records that `run` was told to pay again over `others`.
    fn allow_overlaps<'a>(&'a mut self, run: &'a str, others: &'a [String])
    -> LedgerFuture<'a, ()>;

    /// Whether a run holding lease `key` goes on right now.
    fn live(&mut self, key: i64) -> LedgerFuture<'_, bool>;

    /// Whether the journal `source` with bytes `digest` was imported as
    /// payouts of `scope`.
    fn imported<'a>(
        &'a mut self,
        source: &'a str,
        digest: &'a str,
        scope: &'a LedgerScope,
    ) -> LedgerFuture<'a, bool>;

    /// Records that it was.
    fn mark_imported<'a>(
        &'a mut self,
        source: &'a str,
        digest: &'a str,
        scope: &'a LedgerScope,
    ) -> LedgerFuture<'a, ()>;

    /// Keeps what was done (or, for a dry transaction, drops it).
    fn commit(self: Box<Self>) -> LedgerFuture<'static, ()>;

    /// Drops what was done.
    fn rollback(self: Box<Self>) -> LedgerFuture<'static, ()>;
}

/// The lease key of the runs `scope` names `name` for content `sha256`:
/// the same for every worker of a run, on every machine.
pub fn lease_key(scope: &LedgerScope, name: &str, sha256: &str) -> i64 {
    use sha2::{Digest, Sha256};
    let digest = Sha256::new()
        .chain_update(scope.environment().slug())
        .chain_update([0])
        .chain_update(scope.account())
        .chain_update([0])
        .chain_update(name)
        .chain_update([0])
        .chain_update(sha256)
        .finalize();
    let mut bytes = [0; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(bytes)
}
