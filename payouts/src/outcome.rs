//! What a run (or an undo) did with each row, and all rows together: what
//! the progress display, the summary and the report are made of.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::Serialize;

/// What became of one row in this run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RowStatus {
    /// Credited in this run.
    Sent,
    /// Credited by an earlier run: skipped.
    AlreadySent,
    /// In doubt until now; a person found it credited.
    ConfirmedSent,
    /// Maybe credited: the answer was lost. Not sent again until a person
    /// checks the vendor's ledger (`--resend-in-doubt` or `--confirm-sent`).
    InDoubt,
    /// The vendor refused it (sent again only with `--retry-refused`).
    Refused,
    /// Not sent (429 after every retry, no connection, no usable token): the
    /// next run sends it.
    NotSent,
    /// Not reached: the run was stopped first.
    NotStarted,
    /// Another worker of the run took it (or is sending it right now).
    HandledElsewhere,
    /// Undo: its credit was cancelled.
    Cancelled,
    /// Undo: the vendor refused to cancel its credit.
    CancelRefused,
    /// Undo: the cancel's answer was lost.
    CancelInDoubt,
    /// Undo: nothing to cancel (never credited, or no transaction id).
    NotCancellable,
    /// The vendor's answer contradicts a person's word, or the row was
    /// credited more than once: never sent again; a person must look.
    Conflict,
}

impl RowStatus {
    /// As the report and the summary write it.
    pub fn name(self) -> &'static str {
        match self {
            RowStatus::Sent => "sent",
            RowStatus::AlreadySent => "already sent",
            RowStatus::ConfirmedSent => "confirmed sent",
            RowStatus::InDoubt => "in doubt",
            RowStatus::Refused => "refused",
            RowStatus::NotSent => "not sent",
            RowStatus::NotStarted => "not started",
            RowStatus::HandledElsewhere => "handled by another worker",
            RowStatus::Cancelled => "cancelled",
            RowStatus::CancelRefused => "cancel refused",
            RowStatus::CancelInDoubt => "cancel in doubt",
            RowStatus::NotCancellable => "not cancellable",
            RowStatus::Conflict => "conflict",
        }
    }

    /// Whether the row's points are with the recipient after this run.
    pub fn credited(self) -> bool {
        matches!(
            self,
            RowStatus::Sent
                | RowStatus::AlreadySent
                | RowStatus::ConfirmedSent
                | RowStatus::CancelRefused
        )
    }
}

impl fmt::Display for RowStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One row's outcome.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RowOutcome {
    /// The row's line in the file.
    pub line: u64,
    /// The recipient.
    pub email: String,
    /// The row's points.
    pub points: u64,
    /// What became of it.
    pub status: RowStatus,
    /// Its credit's transaction id, when known.
    pub transaction: Option<i64>,
    /// The vendor's message, or why it is in doubt or not sent.
    pub message: Option<String>,
}

/// Told as the run goes: the CLI draws a progress bar and writes the report
/// from it.
pub trait Progress: Send + Sync {
    /// The run starts, over `rows` rows.
    fn start(&self, rows: u64) {
        let _ = rows;
    }
    /// A row is done with (in any order).
    fn row(&self, outcome: &RowOutcome);
    /// The vendor asked to slow down: no send starts for `delay`.
    fn pause(&self, delay: Duration) {
        let _ = delay;
    }
}

/// A progress that tells nobody.
pub struct Silent;

impl Progress for Silent {
    fn row(&self, _: &RowOutcome) {}
}

/// All rows together.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Rows per status.
    pub rows: BTreeMap<RowStatus, u64>,
    /// The points of the rows credited in this run.
    pub points_sent: u64,
    /// The points of every row credited, in this run or before (cancelled
    /// ones not counted).
    pub points_credited: u64,
    /// An undo: the points of the credits it cancelled.
    pub points_cancelled: u64,
    /// Whether this is an undo's summary.
    pub undo: bool,
    /// A stop was asked for (Ctrl-C) before every row was reached.
    pub interrupted: bool,
    /// Why the run stopped on its own, if it did (a token a person must
    /// replace, a ledger that cannot be written).
    pub stopped: Option<String>,
    /// A failure part-way that left the run unable to record what it does
    /// (the ledger): the sends in flight finished, nothing new started.
    pub failure: Option<String>,
    /// Rows whose intent this run recorded: each was sent, or is in doubt.
    pub claimed: u64,
    /// Answers recorded after a person's contrary word, found when the run
    /// ended (rows this run already reported as a conflict are not repeated
    /// here).
    pub conflicts: Vec<RowOutcome>,
}

impl Summary {
    pub(crate) fn add(&mut self, outcome: &RowOutcome) {
        *self.rows.entry(outcome.status).or_default() += 1;
        if outcome.status == RowStatus::Sent {
            self.points_sent += outcome.points;
        }
        if outcome.status.credited() {
            self.points_credited += outcome.points;
        }
        if outcome.status == RowStatus::Cancelled {
            self.points_cancelled += outcome.points;
        }
    }

    /// How many rows ended with `status`.
    pub fn count(&self, status: RowStatus) -> u64 {
        self.rows.get(&status).copied().unwrap_or(0)
    }

    /// Whether every row is done with: nothing in doubt, refused, not sent
    /// or not started.
    pub fn complete(&self) -> bool {
        !self.interrupted
            && self.stopped.is_none()
            && self.failure.is_none()
            && self.conflicts.is_empty()
            && self.rows.keys().all(|status| {
                matches!(
                    status,
                    RowStatus::Sent
                        | RowStatus::AlreadySent
                        | RowStatus::ConfirmedSent
                        | RowStatus::Cancelled
                        | RowStatus::HandledElsewhere
                )
            })
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let counts: Vec<String> = self
            .rows
            .iter()
            .map(|(status, count)| format!("{count} {status}"))
            .collect();
        if self.undo {
            write!(
                f,
                "{}; {} points cancelled",
                counts.join(", "),
                self.points_cancelled
            )?;
        } else {
            write!(
                f,
                "{}; {} points sent in this run, {} credited in all",
                counts.join(", "),
                self.points_sent,
                self.points_credited
            )?;
        }
        if self.interrupted {
            write!(f, "; interrupted: run again to go on")?;
        }
        if !self.conflicts.is_empty() {
            write!(f, "; {} conflict(s) found at the end", self.conflicts.len())?;
        }
        match (&self.failure, &self.stopped) {
            (Some(failure), _) => write!(f, "; stopped part-way: {failure}")?,
            (None, Some(reason)) => write!(f, "; stopped: {reason}")?,
            (None, None) => {}
        }
        Ok(())
    }
}

/// Asks a run to stop taking new rows; the sends in flight finish and are
/// recorded. Cloned, it is the same stop.
#[derive(Clone, Debug, Default)]
pub struct Stop(Arc<AtomicBool>);

impl Stop {
    /// A stop nobody asked for yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks for it (from a Ctrl-C handler, say).
    pub fn request(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether it was asked for.
    pub fn requested(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}
