//! The run's journal: what happened to each row, recorded durably before
//! and after each send, so that a run that dies and is started again never
//! sends a row twice.
//!
//! A row moves by compare-and-set on its attempt number: a worker claims a
//! row (its intent, `Sending`, with the next attempt) only if the row is
//! still at the attempt it saw, and records the outcome for its own attempt.
//! So two workers sharing a journal (PostgreSQL) never both send a row, and
//! a row whose intent has no outcome — the process died, or the answer was
//! lost — stays in doubt until a person says what to do.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;

use serde::{Deserialize, Serialize};

use crate::payout_file::FileIdentity;

/// What the journal records of a row, across runs (a run's outcome for a
/// row is a [`RowStatus`](crate::RowStatus)).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum JournalState {
    /// The intent is recorded and the send may have left: found at the start
    /// of a run, the outcome is unknown (the process stopped).
    Sending,
    /// Credited: the vendor answered with this transaction id (or with its
    /// other answer shape, which carries none).
    Sent {
        /// The credit's transaction id.
        transaction: Option<i64>,
    },
    /// A person checked an in-doubt row and found it credited.
    ConfirmedSent,
    /// The request may have reached the vendor, but its answer was lost.
    InDoubt {
        /// How the answer was lost.
        cause: String,
    },
    /// The request did not leave, or the vendor did not process it (429,
    /// no connection, no usable token): the next run sends it again.
    NotSent {
        /// Why.
        reason: String,
    },
    /// The vendor refused the row: sent again only when asked to.
    Refused {
        /// The vendor's message.
        message: String,
    },
    /// Undo: the cancel's intent is recorded.
    Cancelling {
        /// The credit being cancelled.
        transaction: i64,
    },
    /// Undo: the credit was cancelled.
    Cancelled {
        /// The credit.
        transaction: i64,
    },
    /// Undo: the vendor refused to cancel the credit.
    CancelRefused {
        /// The credit.
        transaction: i64,
        /// The vendor's message.
        message: String,
    },
    /// Undo: the cancel may have reached the vendor, but its answer was
    /// lost.
    CancelInDoubt {
        /// The credit.
        transaction: i64,
        /// How the answer was lost.
        cause: String,
    },
}

impl std::fmt::Display for JournalState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JournalState::Sending => f.write_str("sending, no outcome recorded"),
            JournalState::Sent {
                transaction: Some(transaction),
            } => write!(f, "sent, transaction {transaction}"),
            JournalState::Sent { transaction: None } => f.write_str("sent"),
            JournalState::ConfirmedSent => f.write_str("confirmed sent by a person"),
            JournalState::InDoubt { cause } => write!(f, "in doubt: {cause}"),
            JournalState::NotSent { reason } => write!(f, "not sent: {reason}"),
            JournalState::Refused { message } => write!(f, "refused: {message}"),
            JournalState::Cancelling { transaction } => {
                write!(f, "cancelling transaction {transaction}")
            }
            JournalState::Cancelled { transaction } => {
                write!(f, "transaction {transaction} cancelled")
            }
            JournalState::CancelRefused {
                transaction,
                message,
            } => write!(f, "cancel of transaction {transaction} refused: {message}"),
            JournalState::CancelInDoubt { transaction, cause } => {
                write!(f, "cancel of transaction {transaction} in doubt: {cause}")
            }
        }
    }
}

/// A row's latest record: where it stands, and what the row held (so that a
/// row is skipped or sent only when the file still says the same).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowRecord {
    /// The row's line in the file.
    pub line: u64,
    /// Incremented by each claim: the compare-and-set's version.
    pub attempt: u32,
    /// The recipient.
    pub email: String,
    /// The points.
    pub points: u64,
    /// The recipient's name (`None` in journals written before it was
    /// recorded: such a record is matched on its email and points).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Where it stands.
    #[serde(flatten)]
    pub state: JournalState,
}

/// What a row holds, as a record and a checked row both tell it: compared
/// through a fingerprint, so that the index stays small.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RowContent {
    fingerprint: u64,
    /// Whether the name is part of the fingerprint.
    named: bool,
}

impl RowContent {
    /// The content of a row holding `email`, `points` and `name`.
    pub fn of(email: &str, points: u64, name: Option<&str>) -> Self {
        let mut hasher = std::hash::DefaultHasher::new();
        std::hash::Hash::hash(&(email, points, name), &mut hasher);
        Self {
            fingerprint: std::hash::Hasher::finish(&hasher),
            named: name.is_some(),
        }
    }

    /// Whether a row holding `email`, `points` and `name` is the one this
    /// content was taken from (by email and points only, when the record
    /// had no name).
    pub fn matches(&self, email: &str, points: u64, name: &str) -> bool {
        let name = self.named.then_some(name);
        *self == Self::of(email, points, name)
    }
}

impl RowRecord {
    /// What the row held, as this record tells it.
    pub fn content(&self) -> RowContent {
        RowContent::of(&self.email, self.points, self.name.as_deref())
    }
}

/// Each row's attempt, content and state, kept small: a credited row (most
/// of a run) costs a few bytes, so a run of a large file holds its
/// journal's index, not its rows.
#[derive(Clone, Debug, Default)]
pub struct RowIndex {
    sent: HashMap<u64, (u32, RowContent, Option<i64>)>,
    other: BTreeMap<u64, (u32, RowContent, JournalState)>,
}

impl RowIndex {
    /// Adds (or replaces) a row's record.
    pub fn insert(&mut self, record: RowRecord) {
        self.sent.remove(&record.line);
        self.other.remove(&record.line);
        let content = record.content();
        match record.state {
            JournalState::Sent { transaction } => {
                self.sent
                    .insert(record.line, (record.attempt, content, transaction));
            }
            state => {
                self.other
                    .insert(record.line, (record.attempt, content, state));
            }
        }
    }

    /// A row's attempt and state.
    pub fn get(&self, line: u64) -> Option<(u32, JournalState)> {
        if let Some((attempt, _, transaction)) = self.sent.get(&line) {
            return Some((
                *attempt,
                JournalState::Sent {
                    transaction: *transaction,
                },
            ));
        }
        self.other
            .get(&line)
            .map(|(attempt, _, state)| (*attempt, state.clone()))
    }

    /// What the row's record says it held.
    pub fn content(&self, line: u64) -> Option<RowContent> {
        self.sent
            .get(&line)
            .map(|(_, content, _)| *content)
            .or_else(|| self.other.get(&line).map(|(_, content, _)| *content))
    }

    /// How many rows it holds.
    pub fn len(&self) -> usize {
        self.sent.len() + self.other.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl FromIterator<RowRecord> for RowIndex {
    fn from_iter<T: IntoIterator<Item = RowRecord>>(records: T) -> Self {
        let mut index = RowIndex::default();
        for record in records {
            index.insert(record);
        }
        index
    }
}

/// Why the journal failed. A run stops at the first: it cannot go on
/// without knowing what it did.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("journal {location}: {message}")]
pub struct JournalError {
    /// The journal.
    pub location: String,
    /// What failed, and what to do.
    pub message: String,
}

/// An earlier run that paid what this file pays: the same content (the
/// same SHA-256), or rows alike (the same recipient and points) that it
/// credited or may have credited. Paying the file again credits them again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EarlierRun {
    /// Where its journal is: a file, or a run of a PostgreSQL journal.
    pub journal: String,
    /// The file's name as that run had it.
    pub file: String,
    /// When it started, as the journal tells it.
    pub started: String,
    /// Whether its file had the same bytes as this one.
    pub same_content: bool,
    /// How many rows it recorded.
    pub rows_recorded: u64,
    /// How many of this file's rows pay a recipient the points that run
    /// credited them (or may have).
    pub rows_alike: u64,
}

impl std::fmt::Display for EarlierRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} (file {}, started {}",
            self.journal, self.file, self.started
        )?;
        if self.same_content {
            write!(
                f,
                ", the same content, {} row(s) recorded)",
                self.rows_recorded
            )
        } else {
            write!(
                f,
                "): {} of this file's rows pay a recipient the same points it credited",
                self.rows_alike
            )
        }
    }
}

/// What a file pays, to find earlier runs that paid the same: each row's
/// recipient (the address without regard to case) and points, as small
/// fingerprints, and the addresses (for a journal that looks them up).
#[derive(Clone, Debug, Default)]
pub struct PaidAlike {
    keys: std::collections::HashSet<u64>,
    emails: std::collections::BTreeSet<String>,
}

impl PaidAlike {
    /// Adds a row paying `points` to `email`.
    pub fn insert(&mut self, email: &str, points: u64) {
        self.keys.insert(recipient_and_points(email, points));
        self.emails.insert(email.to_lowercase());
    }

    /// Whether some row pays `points` to `email`.
    pub fn contains(&self, email: &str, points: u64) -> bool {
        self.keys.contains(&recipient_and_points(email, points))
    }

    /// Every address, lower case.
    pub fn emails(&self) -> impl Iterator<Item = &str> {
        self.emails.iter().map(String::as_str)
    }
}

fn recipient_and_points(email: &str, points: u64) -> u64 {
    let mut hasher = std::hash::DefaultHasher::new();
    for character in email.chars().flat_map(char::to_lowercase) {
        std::hash::Hash::hash(&character, &mut hasher);
    }
    std::hash::Hash::hash(&points, &mut hasher);
    std::hash::Hasher::finish(&hasher)
}

impl JournalState {
    /// Whether the row's points are (or may be) with its recipient: what
    /// another run must not pay again without being told to.
    pub fn credited_or_maybe(&self) -> bool {
        !matches!(
            self,
            JournalState::NotSent { .. }
                | JournalState::Refused { .. }
                | JournalState::Cancelled { .. }
        )
    }
}

/// A journal operation in flight.
pub type JournalFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, JournalError>> + Send + 'a>>;

/// A durable record of a payout run, row by row.
pub trait Journal: Send + Sync {
    /// Where it is, for messages.
    fn location(&self) -> String;

    /// Binds a new journal to `file`, or checks that it was made for the
    /// same file (byte for byte: a line always means the same row).
    fn bind<'a>(&'a self, file: &'a FileIdentity) -> JournalFuture<'a, ()>;

    /// Every row's latest record, by line.
    fn records(&self) -> JournalFuture<'_, BTreeMap<u64, RowRecord>>;

    /// Every row's attempt and state, small: what a run reads at its start.
    fn index(&self) -> JournalFuture<'_, RowIndex> {
        Box::pin(async move { Ok(self.records().await?.into_values().collect()) })
    }

    /// Writes `record` durably if the row is still at attempt `seen` (`None`:
    /// no record yet). `false`: another worker moved it first.
    fn transition(&self, seen: Option<u32>, record: RowRecord) -> JournalFuture<'_, bool>;

    /// As [`Journal::transition`], but durable only by the next
    /// [`Journal::sync`] (or the next durable transition): for outcomes,
    /// whose loss in a crash leaves the row's intent alone, in doubt — the
    /// safe side. Journals that cannot defer write at once.
    fn transition_soon(&self, seen: Option<u32>, record: RowRecord) -> JournalFuture<'_, bool> {
        self.transition(seen, record)
    }

    /// Returns when every record written so far is durable.
    fn sync(&self) -> JournalFuture<'_, ()> {
        Box::pin(async { Ok(()) })
    }

    /// Earlier runs this journal can see (other journals, not this one)
    /// of the same content, or that credited rows alike: the same recipient
    /// and points as a row of `paid`.
    fn earlier_runs<'a>(
        &'a self,
        file: &'a FileIdentity,
        paid: &'a PaidAlike,
    ) -> JournalFuture<'a, Vec<EarlierRun>> {
        let _ = (file, paid);
        Box::pin(async { Ok(Vec::new()) })
    }

    /// Whether other workers may be sending rows of this run right now
    /// (a shared journal): a row whose intent has no outcome may be in
    /// flight elsewhere, not in doubt.
    fn shared(&self) -> bool {
        false
    }
}
