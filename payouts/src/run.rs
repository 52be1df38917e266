//! The payout run: every checked row sent once, at most `concurrency` at a
//! time, each send journaled before it leaves and after it answers.
//!
//! A row is sent only when the journal says it was never credited: no
//! record, or `NotSent` (the request never reached the vendor, or the vendor
//! did not process it). A row in doubt — an intent without an outcome, or an
//! answer lost after the request left — is sent again only when a person
//! asked for it (`resend_in_doubt`) after checking the vendor's ledger; a
//! refused row only with `retry_refused`.
//!
//! A 429 pauses the whole run for the vendor's `Retry-After` (the row was not
//! processed, so it is sent again after the pause); a token that a person
//! must replace stops the run; a refusal of one row does not.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;
use xoxoday_reward_points::{Client, Error};

use crate::journal::{Journal, JournalError, RowIndex, RowRecord, RowState};
use crate::outcome::{Progress, RowOutcome, RowStatus, Stop, Summary};
use crate::payout_file::{FileError, PayoutFile, PayoutRow};

/// Rows chosen by line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Selection {
    /// None.
    #[default]
    None,
    /// Every row the option applies to.
    All,
    /// These lines.
    Lines(BTreeSet<u64>),
}

impl Selection {
    /// Whether `line` is chosen.
    pub fn contains(&self, line: u64) -> bool {
        match self {
            Selection::None => false,
            Selection::All => true,
            Selection::Lines(lines) => lines.contains(&line),
        }
    }

    fn lines(&self) -> impl Iterator<Item = u64> + '_ {
        match self {
            Selection::Lines(lines) => Some(lines.iter().copied()),
            _ => None,
        }
        .into_iter()
        .flatten()
    }
}

/// How a run goes.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Sends in flight at most (16 by default).
    pub concurrency: usize,
    /// Rows in doubt that a person found not credited: sent again.
    pub resend_in_doubt: Selection,
    /// Rows in doubt that a person found credited: recorded so, not sent.
    pub confirm_sent: Selection,
    /// Send the rows the vendor refused again.
    pub retry_refused: bool,
    /// The longest pause a 429 may cause (60 s by default).
    pub longest_pause: Duration,
    /// How often one row is tried again when it was not sent (429, no
    /// connection) before the run leaves it for the next run (5 by default).
    pub tries_not_sent: u32,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            concurrency: 16,
            resend_in_doubt: Selection::None,
            confirm_sent: Selection::None,
            retry_refused: false,
            longest_pause: Duration::from_secs(60),
            tries_not_sent: 5,
        }
    }
}

/// Why a run could not go on.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The file.
    #[error(transparent)]
    File(#[from] FileError),
    /// The journal: what was done is not known beyond what it holds.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// An option names rows it cannot apply to; nothing was sent.
    #[error("{0}; nothing was sent")]
    Selection(String),
}

/// What the run's tasks share.
struct Shared {
    client: Client,
    journal: Arc<dyn Journal>,
    progress: Arc<dyn Progress>,
    stop: Stop,
    options: RunOptions,
    /// No send starts before this instant (a 429's `Retry-After`).
    paused_until: Mutex<Option<Instant>>,
    summary: Mutex<Summary>,
    /// The first journal failure: the run stops.
    journal_failure: Mutex<Option<JournalError>>,
}

impl Shared {
    fn done(&self, outcome: RowOutcome) {
        self.progress.row(&outcome);
        self.summary
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .add(&outcome);
    }

    fn halt(&self, reason: String) {
        let mut summary = self.summary.lock().unwrap_or_else(|e| e.into_inner());
        summary.stopped.get_or_insert(reason);
        self.stop.request();
    }

    fn journal_failed(&self, error: JournalError) {
        self.halt(error.to_string());
        self.journal_failure
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_or_insert(error);
    }

    fn pause(&self, delay: Duration) {
        let delay = delay.min(self.options.longest_pause);
        let until = Instant::now() + delay;
        let mut paused = self.paused_until.lock().unwrap_or_else(|e| e.into_inner());
        if paused.is_none_or(|current| current < until) {
            *paused = Some(until);
            self.progress.pause(delay);
        }
    }

    async fn wait_if_paused(&self) {
        let until = *self.paused_until.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(until) = until {
            tokio::time::sleep_until(until).await;
        }
    }
}

/// What to do with a row, from its record.
enum Action {
    Send {
        seen: Option<u32>,
    },
    Confirm {
        seen: u32,
    },
    Skip(RowStatus, Option<i64>, Option<String>),
    /// An intent without an outcome: a dead run's, or one another worker
    /// sharing the journal is sending right now. Told apart at the end.
    Unsettled,
}

fn in_doubt(state: &RowState) -> Option<String> {
    match state {
        RowState::Sending => {
            Some("the run stopped after the request left and before its answer was recorded".into())
        }
        RowState::InDoubt { cause } => Some(cause.clone()),
        _ => None,
    }
}

fn decide(line: u64, known: Option<(u32, RowState)>, options: &RunOptions) -> Action {
    let Some((attempt, state)) = known else {
        return Action::Send { seen: None };
    };
    let seen = Some(attempt);
    if let Some(cause) = in_doubt(&state) {
        return if options.resend_in_doubt.contains(line) {
            Action::Send { seen }
        } else if options.confirm_sent.contains(line) {
            Action::Confirm { seen: attempt }
        } else if state == RowState::Sending {
            Action::Unsettled
        } else {
            Action::Skip(RowStatus::InDoubt, None, Some(cause))
        };
    }
    match &state {
        RowState::NotSent { .. } => Action::Send { seen },
        RowState::Refused { .. } if options.retry_refused => Action::Send { seen },
        RowState::Refused { message } => {
            Action::Skip(RowStatus::Refused, None, Some(message.clone()))
        }
        RowState::Sent { transaction } => Action::Skip(RowStatus::AlreadySent, *transaction, None),
        RowState::ConfirmedSent => Action::Skip(
            RowStatus::AlreadySent,
            None,
            Some("confirmed by a person".into()),
        ),
        RowState::Cancelled { transaction } | RowState::Cancelling { transaction } => Action::Skip(
            RowStatus::Cancelled,
            Some(*transaction),
            Some("cancelled by an undo: not sent again".into()),
        ),
        RowState::CancelRefused { transaction, .. }
        | RowState::CancelInDoubt { transaction, .. } => {
            Action::Skip(RowStatus::AlreadySent, Some(*transaction), None)
        }
        RowState::Sending | RowState::InDoubt { .. } => unreachable!("handled above"),
    }
}

/// Checks that the in-doubt options name rows in doubt, before anything is
/// sent.
fn check_selections(index: &RowIndex, options: &RunOptions) -> Result<(), RunError> {
    let mut problems = Vec::new();
    for (option, selection) in [
        ("--resend-in-doubt", &options.resend_in_doubt),
        ("--confirm-sent", &options.confirm_sent),
    ] {
        for line in selection.lines() {
            let state = index.get(line).map(|(_, state)| state);
            if state.as_ref().and_then(in_doubt).is_none() {
                let now = match state {
                    None => "never sent".to_owned(),
                    Some(state) => state.to_string(),
                };
                problems.push(format!(
                    "{option} {line}: line {line} is not in doubt ({now})"
                ));
            }
        }
    }
    let both: Vec<u64> = options
        .resend_in_doubt
        .lines()
        .filter(|line| options.confirm_sent.contains(*line))
        .collect();
    if !both.is_empty() {
        problems.push(format!(
            "lines {both:?} are both to resend and confirmed sent: choose one"
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(RunError::Selection(problems.join("; ")))
    }
}

fn record(row: &PayoutRow, attempt: u32, state: RowState) -> RowRecord {
    RowRecord {
        line: row.line,
        attempt,
        email: row.email.clone(),
        points: row.points.get(),
        state,
    }
}

fn outcome(
    row: &PayoutRow,
    status: RowStatus,
    transaction: Option<i64>,
    message: Option<String>,
) -> RowOutcome {
    RowOutcome {
        line: row.line,
        email: row.email.clone(),
        points: row.points.get(),
        status,
        transaction,
        message,
    }
}

/// Runs `file` through `journal`: every row credited once, or listed.
pub async fn run_payouts(
    client: &Client,
    file: &PayoutFile,
    journal: Arc<dyn Journal>,
    options: RunOptions,
    progress: Arc<dyn Progress>,
    stop: &Stop,
) -> Result<Summary, RunError> {
    journal.bind(file.identity()).await?;
    let index = journal.index().await?;
    check_selections(&index, &options)?;
    progress.start(file.identity().rows);
    let concurrency = options.concurrency.max(1);
    let shared = Arc::new(Shared {
        client: client.clone(),
        journal,
        progress,
        stop: stop.clone(),
        options,
        paused_until: Mutex::new(None),
        summary: Mutex::new(Summary::default()),
        journal_failure: Mutex::new(None),
    });
    // A row is claimed (its intent synced) before it gets one of the send
    // slots, so a slot never waits for the journal; at most `concurrency`
    // rows wait claimed and unsent (in doubt, should the process die).
    let claims = Arc::new(Semaphore::new(concurrency));
    let slots = Arc::new(Semaphore::new(concurrency));
    let mut sends = JoinSet::new();
    let mut unsettled = Vec::new();
    for row in file.rows()? {
        let row = row?;
        let action = decide(row.line, index.get(row.line), &shared.options);
        match action {
            Action::Unsettled => unsettled.push(row),
            Action::Skip(status, transaction, message) => {
                shared.done(outcome(&row, status, transaction, message));
            }
            Action::Confirm { seen } => {
                let confirmed = record(&row, seen, RowState::ConfirmedSent);
                match shared.journal.transition(Some(seen), confirmed).await {
                    Ok(true) => shared.done(outcome(&row, RowStatus::ConfirmedSent, None, None)),
                    Ok(false) => {
                        shared.done(outcome(&row, RowStatus::HandledElsewhere, None, None))
                    }
                    Err(error) => shared.journal_failed(error),
                }
            }
            Action::Send { seen } => {
                let claim = claims.clone().acquire_owned().await;
                if shared.stop.requested() {
                    shared.done(outcome(&row, RowStatus::NotStarted, None, None));
                    continue;
                }
                let (shared, slots) = (shared.clone(), slots.clone());
                sends.spawn(async move {
                    send_row(&shared, &row, seen, claim.ok(), &slots).await;
                });
                // Reap what finished, so the set stays as small as the slots.
                while sends.try_join_next().is_some() {}
            }
        }
    }
    while sends.join_next().await.is_some() {}
    settle_unsettled(&shared, unsettled).await;
    if let Err(error) = shared.journal.sync().await {
        shared.journal_failed(error);
    }
    if let Some(error) = shared
        .journal_failure
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take()
    {
        return Err(RunError::Journal(error));
    }
    let mut summary = shared
        .summary
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    summary.interrupted = stop.requested() && summary.stopped.is_none();
    Ok(summary)
}

/// The rows whose intent had no outcome at the start: still so now, they
/// are in doubt (their run died); settled meanwhile, another worker sharing
/// the journal was sending them.
async fn settle_unsettled(shared: &Shared, rows: Vec<PayoutRow>) {
    if rows.is_empty() {
        return;
    }
    let now = match shared.journal.index().await {
        Ok(index) => index,
        Err(error) => {
            shared.journal_failed(error);
            RowIndex::default()
        }
    };
    for row in rows {
        let state = now.get(row.line).map(|(_, state)| state);
        match state.as_ref() {
            Some(RowState::Sending) | None => {
                let cause = in_doubt(&RowState::Sending);
                shared.done(outcome(&row, RowStatus::InDoubt, None, cause));
            }
            Some(state) => {
                let transaction = match state {
                    RowState::Sent { transaction } => *transaction,
                    _ => None,
                };
                let message = Some(format!("by another worker: {state}"));
                shared.done(outcome(
                    &row,
                    RowStatus::HandledElsewhere,
                    transaction,
                    message,
                ));
            }
        }
    }
}

/// Claims, sends and records one row; tries again while the vendor did not
/// process it.
async fn send_row(
    shared: &Shared,
    row: &PayoutRow,
    mut seen: Option<u32>,
    mut claim: Option<tokio::sync::OwnedSemaphorePermit>,
    slots: &Semaphore,
) {
    let mut tries = 0;
    loop {
        shared.wait_if_paused().await;
        if shared.stop.requested() {
            let status = if tries == 0 {
                RowStatus::NotStarted
            } else {
                RowStatus::NotSent
            };
            shared.done(outcome(row, status, None, None));
            return;
        }
        tries += 1;
        let attempt = seen.map_or(1, |seen| seen.saturating_add(1));
        match shared
            .journal
            .transition(seen, record(row, attempt, RowState::Sending))
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                shared.done(outcome(row, RowStatus::HandledElsewhere, None, None));
                return;
            }
            Err(error) => {
                shared.journal_failed(error);
                shared.done(outcome(row, RowStatus::NotStarted, None, None));
                return;
            }
        }
        seen = Some(attempt);
        let slot = slots.acquire().await;
        drop(claim.take());
        if shared.stop.requested() {
            // Claimed, but it never left: not sent.
            let reason = "the run stopped before it was sent".to_owned();
            let state = RowState::NotSent { reason };
            if let Err(error) = shared
                .journal
                .transition_soon(seen, record(row, attempt, state))
                .await
            {
                shared.journal_failed(error);
            }
            shared.done(outcome(row, RowStatus::NotStarted, None, None));
            return;
        }
        let answer = shared
            .client
            .send_points()
            .payout(row.payout.clone())
            .send()
            .await;
        drop(slot);
        let (state, status, transaction, message, retry_after) = match answer {
            Ok(sent) => {
                let transaction = sent.transaction_id().map(|id| id.0);
                (
                    RowState::Sent { transaction },
                    RowStatus::Sent,
                    transaction,
                    None,
                    None,
                )
            }
            Err(Error::OutcomeUnknown { cause, .. }) => {
                let cause = cause.to_string();
                let state = RowState::InDoubt {
                    cause: cause.clone(),
                };
                (state, RowStatus::InDoubt, None, Some(cause), None)
            }
            Err(Error::Refused { refusal, .. }) => {
                let message = refusal.to_string();
                let state = RowState::Refused {
                    message: message.clone(),
                };
                (state, RowStatus::Refused, None, Some(message), None)
            }
            Err(Error::RateLimited { retry_after, .. }) => {
                let reason = "the vendor answered 429 Too Many Requests".to_owned();
                let delay = retry_after.unwrap_or(Duration::from_secs(1));
                let state = RowState::NotSent {
                    reason: reason.clone(),
                };
                (state, RowStatus::NotSent, None, Some(reason), Some(delay))
            }
            Err(Error::Network { source, .. }) => {
                // It never left: safe to send again after a pause.
                let reason = format!("no connection: {source}");
                let delay = Duration::from_millis(500 << tries.min(6));
                let state = RowState::NotSent {
                    reason: reason.clone(),
                };
                (state, RowStatus::NotSent, None, Some(reason), Some(delay))
            }
            Err(error @ (Error::Auth { .. } | Error::Unauthorized { .. })) => {
                // Every row would fail alike: a person must act.
                let reason = error.to_string();
                shared.halt(format!("no usable token: {reason}"));
                let state = RowState::NotSent {
                    reason: reason.clone(),
                };
                (state, RowStatus::NotSent, None, Some(reason), None)
            }
            Err(error @ (Error::InvalidInput { .. } | Error::UnexpectedStatus { .. })) => {
                let message = error.to_string();
                let state = RowState::Refused {
                    message: message.clone(),
                };
                (state, RowStatus::Refused, None, Some(message), None)
            }
            Err(other) => {
                // Not sent (a deadline passed before the request left).
                let reason = other.to_string();
                let state = RowState::NotSent {
                    reason: reason.clone(),
                };
                (state, RowStatus::NotSent, None, Some(reason), None)
            }
        };
        // The outcome need not be durable before the next row: lost in a
        // crash, it leaves the intent, in doubt — the safe side. The run
        // syncs the journal before it reports.
        if let Err(error) = shared
            .journal
            .transition_soon(seen, record(row, attempt, state))
            .await
        {
            shared.journal_failed(error);
            // The intent stands without its outcome: in doubt next time.
            shared.done(outcome(row, RowStatus::InDoubt, transaction, message));
            return;
        }
        match retry_after {
            Some(delay) if tries < shared.options.tries_not_sent && !shared.stop.requested() => {
                shared.pause(delay);
            }
            _ => {
                shared.done(outcome(row, status, transaction, message));
                return;
            }
        }
    }
}
