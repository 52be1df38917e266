//! The one orchestrator of a payout run and of an undo: rows in file order,
//! each taken through the steps [`next_step`] names — claim, send, record —
//! at most `concurrency` at a time, until it says the row is done; then the
//! rows whose intent another worker held are looked at again, the ledger is
//! synced, and the conflicts it recorded are reported.
//!
//! A row takes a send slot before its intent is recorded and keeps it until
//! its outcome is queued behind that intent, so a crash leaves at most
//! `concurrency` rows in doubt. A 429 pauses every send for the vendor's
//! `Retry-After`; a token a person must replace stops the run; a failure of
//! the ledger stops taking rows, lets the requests in flight finish, and is
//! the summary's [`Summary::failure`].

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;
use xoxoday_reward_points::Payout;

use crate::ledger::{AttemptState, Ledger, RowHistory, RunHistory};
use crate::outcome::{Progress, RowOutcome, RowStatus, Stop, Summary};
use crate::steps::{
    Ending, Goal, PayChoices, Step, UndoChoices, conflict, in_doubt_cause, next_step,
};
use crate::vendor::Vendor;

/// A row as the orchestrator sends it.
#[derive(Clone, Debug)]
pub(crate) struct Item {
    pub line: u64,
    pub email: String,
    pub points: u64,
    /// What a payout run sends for it (an undo sends cancels).
    pub payout: Option<Payout>,
}

/// What a request's answer means for its attempt.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Answer {
    /// What the ledger records.
    pub state: AttemptState,
    /// What the report says.
    pub status: RowStatus,
    pub message: Option<String>,
    /// Not processed by the vendor: try again after this pause.
    pub retry_after: Option<Duration>,
    /// Every row would fail alike: the run stops.
    pub halts: bool,
}

/// What the run does with its rows.
#[derive(Clone)]
pub(crate) enum Mode {
    /// Pays them: choices per line, and how often a row not sent is tried.
    Pay {
        choices: Arc<dyn Fn(u64) -> PayChoices + Send + Sync>,
        tries_not_sent: u32,
    },
    /// Cancels their credits (or only one: a row's extra credit), each
    /// tried again while the vendor does not process the cancel (429, no
    /// connection), `tries` times at most.
    Undo { only: Option<i64>, tries: u32 },
}

/// What a row's tasks did in this run: what the next step may do.
#[derive(Clone, Copy, Debug, Default)]
struct Local {
    sends: u32,
    cancelled_up_to: u32,
}

impl Mode {
    fn goal(&self, line: u64, local: Local) -> Goal {
        match self {
            Mode::Pay {
                choices,
                tries_not_sent,
            } => Goal::Pay(PayChoices {
                may_send: local.sends < *tries_not_sent,
                ..choices(line)
            }),
            Mode::Undo { only, .. } => Goal::Undo(UndoChoices {
                tried_up_to: local.cancelled_up_to,
                only: *only,
            }),
        }
    }
}

/// What the run's tasks share.
pub(crate) struct Shared {
    pub vendor: Arc<dyn Vendor>,
    pub ledger: Arc<dyn Ledger>,
    /// The run's id in the ledger.
    pub run: String,
    /// The run's lease, which its other workers hold too (a payout run).
    pub lease_key: Option<i64>,
    pub progress: Arc<dyn Progress>,
    pub stop: Stop,
    pub mode: Mode,
    pub longest_pause: Duration,
    /// No send starts before this instant (a 429's `Retry-After`).
    paused_until: Mutex<Option<Instant>>,
    summary: Mutex<Summary>,
    /// The rows this run reported in conflict.
    in_conflict: Mutex<BTreeSet<u64>>,
}

impl Shared {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        vendor: Arc<dyn Vendor>,
        ledger: Arc<dyn Ledger>,
        run: String,
        lease_key: Option<i64>,
        progress: Arc<dyn Progress>,
        stop: Stop,
        mode: Mode,
        longest_pause: Duration,
    ) -> Self {
        Self {
            vendor,
            ledger,
            run,
            lease_key,
            progress,
            stop,
            mode,
            longest_pause,
            paused_until: Mutex::new(None),
            summary: Mutex::new(Summary::default()),
            in_conflict: Mutex::default(),
        }
    }

    fn summary(&self) -> std::sync::MutexGuard<'_, Summary> {
        self.summary.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn done(
        &self,
        item: &Item,
        status: RowStatus,
        transaction: Option<i64>,
        message: Option<String>,
    ) {
        let outcome = RowOutcome {
            line: item.line,
            email: item.email.clone(),
            points: item.points,
            status,
            transaction,
            message,
        };
        tracing::debug!(line = outcome.line, status = %outcome.status, "row done");
        self.progress.row(&outcome);
        self.summary().add(&outcome);
    }

    fn ended(&self, item: &Item, ending: Ending) {
        if ending.status == RowStatus::Conflict {
            self.in_conflict
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(item.line);
        }
        self.done(item, ending.status, ending.transaction, ending.message);
    }

    fn halt(&self, reason: String) {
        self.summary().stopped.get_or_insert(reason);
        self.stop.request();
    }

    /// A failure that leaves the run unable to record what it does: no new
    /// row is started.
    pub fn failed(&self, error: impl std::fmt::Display) {
        let reason = error.to_string();
        self.summary().failure.get_or_insert_with(|| reason.clone());
        self.halt(reason);
    }

    fn joined(&self, joined: Result<(), tokio::task::JoinError>) {
        if let Err(error) = joined {
            self.failed(format!(
                "a request failed unexpectedly ({error}): its row may be sent"
            ));
        }
    }

    fn pause(&self, delay: Duration) {
        let delay = delay.min(self.longest_pause);
        let until = Instant::now() + delay;
        let mut paused = self.paused_until.lock().unwrap_or_else(|e| e.into_inner());
        if paused.is_none_or(|current| current < until) {
            *paused = Some(until);
            tracing::info!(
                wait_ms = delay.as_millis() as u64,
                "rate-limited: the vendor asked to slow down; no send starts before the wait ends"
            );
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

/// Takes every item through its steps; see the module's documentation.
pub(crate) async fn orchestrate(
    shared: Arc<Shared>,
    items: impl Iterator<Item = Result<Item, String>>,
    mut history: RunHistory,
    concurrency: usize,
) -> Summary {
    let slots = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut tasks = JoinSet::new();
    let mut waiting = Vec::new();
    for item in items {
        let item = match item {
            Ok(item) => item,
            Err(error) => {
                shared.failed(error);
                break;
            }
        };
        if shared.stop.requested() {
            shared.done(&item, RowStatus::NotStarted, None, None);
            continue;
        }
        let row = history.remove(&item.line).unwrap_or_default();
        match next_step(&row, shared.mode.goal(item.line, Local::default())) {
            Step::Done(ending) => shared.ended(&item, ending),
            Step::Wait => waiting.push(item),
            Step::Judge {
                attempt,
                credited: true,
            } => confirm(&shared, &item, attempt).await,
            _ => {
                // The slot is taken before any intent is recorded: at most
                // `concurrency` rows are claimed and unanswered at once.
                let slot = slots.clone().acquire_owned().await;
                if shared.stop.requested() {
                    shared.done(&item, RowStatus::NotStarted, None, None);
                    continue;
                }
                let task = shared.clone();
                tasks.spawn(async move { drive(&task, &item, row, slot.ok()).await });
                // Reap what finished, so the set stays as small as the slots.
                while let Some(joined) = tasks.try_join_next() {
                    shared.joined(joined);
                }
            }
        }
    }
    while let Some(joined) = tasks.join_next().await {
        shared.joined(joined);
    }
    settle_waiting(&shared, waiting).await;
    if let Err(error) = shared.ledger.sync().await {
        shared.failed(error);
    }
    report_conflicts(&shared).await;
    let mut summary = shared.summary().clone();
    summary.interrupted = shared.stop.requested() && summary.stopped.is_none();
    summary
}

/// A person found a row in doubt (or in conflict) credited.
async fn confirm(shared: &Shared, item: &Item, attempt: u32) {
    match shared
        .ledger
        .judge(&shared.run, item.line, attempt, true)
        .await
    {
        Ok(true) => shared.done(item, RowStatus::ConfirmedSent, None, None),
        Ok(false) => shared.done(item, RowStatus::HandledElsewhere, None, None),
        Err(error) => {
            shared.done(item, RowStatus::NotStarted, None, None);
            shared.failed(error);
        }
    }
}

/// What a row's task does after its step.
enum Next {
    /// Claims attempt `attempt` and sends it: a payout (no transaction), or
    /// the cancel of `transaction`'s credit.
    Request {
        attempt: u32,
        transaction: Option<i64>,
    },
    /// Looks again: a person's word changed the row's history.
    LookAgain,
    /// Nothing: the row is reported.
    Ended,
}

/// Takes one row through its steps, holding its slot throughout: for each
/// request, the claim (the intent, recorded), the send, and its outcome
/// recorded, in that order.
async fn drive(
    shared: &Shared,
    item: &Item,
    mut row: RowHistory,
    _slot: Option<OwnedSemaphorePermit>,
) {
    let mut local = Local::default();
    let mut last: Option<Answer> = None;
    loop {
        let step = next_step(&row, shared.mode.goal(item.line, local));
        let (attempt, transaction) = match take_step(shared, item, step, &mut row, &mut last).await
        {
            Next::Request {
                attempt,
                transaction,
            } => (attempt, transaction),
            Next::LookAgain => continue,
            Next::Ended => return,
        };
        shared.wait_if_paused().await;
        if shared.stop.requested() {
            match last {
                Some(answer) => shared.done(item, answer.status, None, answer.message),
                None => shared.done(item, RowStatus::NotStarted, None, None),
            }
            return;
        }
        if !claim(shared, item, attempt, transaction).await {
            return;
        }
        shared.summary().claimed += 1;
        let answer = request(shared, item, attempt, transaction, &mut local).await;
        if answer.halts {
            shared.halt(format!(
                "no usable token: {}",
                answer.message.clone().unwrap_or_default()
            ));
        }
        if !record_outcome(shared, item, attempt, &answer).await {
            return;
        }
        row.set(attempt, answer.state.clone());
        if let Some(delay) = answer.retry_after
            && !shared.stop.requested()
        {
            shared.pause(delay);
        }
        // A send not processed is tried again; an undo goes on to the
        // row's next credit. Anything else ends the row.
        if transaction.is_none() && answer.retry_after.is_none() {
            shared.done(
                item,
                answer.status,
                answer.state.transaction(),
                answer.message,
            );
            return;
        }
        last = Some(answer);
    }
}

/// Does what `step` says short of a request: reports a row that is done
/// (with `last`, this task's latest answer), or records a person's word
/// (`row` then as the ledger has it).
async fn take_step(
    shared: &Shared,
    item: &Item,
    step: Step,
    row: &mut RowHistory,
    last: &mut Option<Answer>,
) -> Next {
    match step {
        Step::Done(ending) => {
            // A payout: what this run's send did, or else what the
            // ledger says. An undo: the row's credits together, as
            // the ledger now says (one cancel may have failed where
            // another worked).
            match last.take() {
                Some(answer) if matches!(shared.mode, Mode::Pay { .. }) => shared.done(
                    item,
                    answer.status,
                    answer.state.transaction(),
                    answer.message,
                ),
                _ => shared.ended(item, ending),
            }
            Next::Ended
        }
        Step::Wait => {
            shared.done(item, RowStatus::HandledElsewhere, None, None);
            Next::Ended
        }
        Step::Judge {
            credited: true,
            attempt,
        } => {
            confirm(shared, item, attempt).await;
            Next::Ended
        }
        Step::Judge { attempt, .. } => match judged_not_credited(shared, item, attempt).await {
            Some(now) => {
                *row = now;
                Next::LookAgain
            }
            None => Next::Ended,
        },
        Step::Send { after } => Next::Request {
            attempt: after + 1,
            transaction: None,
        },
        Step::Cancel {
            attempt,
            transaction,
        } => Next::Request {
            attempt,
            transaction: Some(transaction),
        },
    }
}

/// A person found a row in doubt (or in conflict) not credited: the row's
/// history as the ledger has it after their word, or `None` when the row
/// is reported (handled elsewhere, or the ledger failed).
async fn judged_not_credited(shared: &Shared, item: &Item, attempt: u32) -> Option<RowHistory> {
    match shared
        .ledger
        .judge(&shared.run, item.line, attempt, false)
        .await
    {
        // The ledger says what the word made of the row.
        Ok(true) => match shared.ledger.history(&shared.run, Some(&[item.line])).await {
            Ok(mut now) => Some(now.remove(&item.line).unwrap_or_default()),
            Err(error) => {
                shared.done(item, RowStatus::NotStarted, None, None);
                shared.failed(error);
                None
            }
        },
        Ok(false) => {
            shared.done(item, RowStatus::HandledElsewhere, None, None);
            None
        }
        Err(error) => {
            shared.done(item, RowStatus::NotStarted, None, None);
            shared.failed(error);
            None
        }
    }
}

/// Claims `attempt` (a send's, or the cancel of `transaction`'s credit),
/// recording the intent: whether this task holds it. When not, the row is
/// reported (another worker holds it, or the ledger failed).
async fn claim(shared: &Shared, item: &Item, attempt: u32, transaction: Option<i64>) -> bool {
    let claimed = match transaction {
        None => {
            shared
                .ledger
                .claim(&shared.run, item.line, attempt - 1)
                .await
        }
        Some(_) => {
            shared
                .ledger
                .claim_cancel(&shared.run, item.line, attempt)
                .await
        }
    };
    match claimed {
        Ok(true) => true,
        Ok(false) => {
            shared.done(item, RowStatus::HandledElsewhere, None, None);
            false
        }
        Err(error) => {
            shared.done(item, RowStatus::NotStarted, None, None);
            shared.failed(error);
            false
        }
    }
}

/// Sends the claimed attempt (the row's payout, or the cancel of
/// `transaction`'s credit) and says what its answer means; `local` counts
/// the sends, and the cancels this task is done with.
async fn request(
    shared: &Shared,
    item: &Item,
    attempt: u32,
    transaction: Option<i64>,
    local: &mut Local,
) -> Answer {
    match transaction {
        None => {
            local.sends += 1;
            crate::run::send(shared.vendor.as_ref(), item, local.sends).await
        }
        Some(transaction) => {
            local.sends += 1;
            let answer = crate::undo::cancel(shared.vendor.as_ref(), transaction).await;
            // Not processed (429, no connection): the same credit again
            // after the pause, while tries are left.
            let again = matches!(shared.mode, Mode::Undo { tries, .. } if local.sends < tries);
            if answer.retry_after.is_none() || !again {
                local.cancelled_up_to = attempt;
                local.sends = 0;
            }
            answer
        }
    }
}

/// Records `answer` as `attempt`'s outcome: whether the ledger took it.
/// When not, the row is reported (in doubt if it may be credited) and the
/// run fails.
async fn record_outcome(shared: &Shared, item: &Item, attempt: u32, answer: &Answer) -> bool {
    // The outcome need not be durable before the next row: lost in a
    // crash, it leaves the intent, in doubt — the safe side. Queued
    // while this row still holds its slot, it is written before the
    // intent of the row that takes the slot next.
    let Err(error) = shared
        .ledger
        .record(&shared.run, item.line, attempt, answer.state.clone())
        .await
    else {
        return true;
    };
    let status = if answer.state.may_be_credited() {
        RowStatus::InDoubt
    } else {
        answer.status
    };
    shared.done(
        item,
        status,
        answer.state.transaction(),
        answer.message.clone(),
    );
    shared.failed(error);
    false
}

/// The rows whose intent had no outcome at the start: settled meanwhile,
/// another worker was sending them; still so now, they are another live
/// worker's to record, or else in doubt (their run died).
async fn settle_waiting(shared: &Shared, items: Vec<Item>) {
    if items.is_empty() {
        return;
    }
    let lines: Vec<u64> = items.iter().map(|item| item.line).collect();
    let now = match shared.ledger.history(&shared.run, Some(&lines)).await {
        Ok(history) => history,
        Err(error) => {
            shared.failed(error);
            RunHistory::default()
        }
    };
    let elsewhere = match shared.lease_key {
        Some(key) => shared.ledger.held_elsewhere(key).await.unwrap_or(false),
        None => false,
    };
    for item in items {
        let latest = now.get(&item.line).and_then(|row| row.latest());
        match latest.map(|attempt| &attempt.state) {
            Some(AttemptState::Sending) | None if elsewhere => shared.done(
                &item,
                RowStatus::HandledElsewhere,
                None,
                Some("in flight on another worker of this run, which records its outcome".into()),
            ),
            Some(AttemptState::Sending) | None => {
                let cause = in_doubt_cause(&AttemptState::Sending);
                shared.done(&item, RowStatus::InDoubt, None, Some(cause));
            }
            Some(state) => shared.done(
                &item,
                RowStatus::HandledElsewhere,
                state.transaction(),
                Some(format!("by another worker: {state}")),
            ),
        }
    }
}

/// The conflicts the ledger holds that this run did not report already:
/// answers that came in after a person's contrary word.
async fn report_conflicts(shared: &Shared) {
    let lines = match shared.ledger.overruled(&shared.run).await {
        Ok(lines) => lines,
        Err(error) => {
            shared.failed(error);
            return;
        }
    };
    let lines: Vec<u64> = {
        let reported = shared.in_conflict.lock().unwrap_or_else(|e| e.into_inner());
        lines
            .into_iter()
            .filter(|line| !reported.contains(line))
            .collect()
    };
    if lines.is_empty() {
        return;
    }
    let (history, rows) = match (
        shared.ledger.history(&shared.run, Some(&lines)).await,
        shared.ledger.rows(&shared.run, &lines).await,
    ) {
        (Ok(history), Ok(rows)) => (history, rows),
        (Err(error), _) | (_, Err(error)) => {
            shared.failed(error);
            return;
        }
    };
    let mut summary = shared.summary();
    for row in rows {
        let Some(attempts) = history.get(&row.line) else {
            continue;
        };
        if let Some(message) = conflict(attempts) {
            summary.conflicts.push(RowOutcome {
                line: row.line,
                email: row.email,
                points: row.points,
                status: RowStatus::Conflict,
                transaction: attempts
                    .attempts
                    .iter()
                    .find_map(|attempt| attempt.state.transaction()),
                message: Some(message),
            });
        }
    }
}
