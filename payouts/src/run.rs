//! The payout run: every checked row sent once, at most `concurrency` at a
//! time, each send journaled before it leaves and after it answers.
//!
//! Before anything is sent, [`plan_payouts`] checks what the run would do:
//! the journal is bound to the file's bytes; every record the journal holds
//! must say what its row says (email, points, name), or the run stops and
//! names the lines; a recipient on several rows, or an earlier run of the
//! same content (another journal of the same bytes), stops the run unless
//! the operator said to go on ([`RunOptions::allow_duplicate_recipients`],
//! [`RunOptions::pay_again`]).
//!
//! A row is sent only when the journal says it was never credited: no
//! record, or `NotSent` (the request never reached the vendor, or the vendor
//! did not process it). A row in doubt — an intent without an outcome, or an
//! answer lost after the request left — is sent again only when a person
//! asked for it (`resend_in_doubt`) after checking the vendor's ledger; a
//! refused row only with `retry_refused`.
//!
//! A row takes a send slot before its intent is recorded and keeps it until
//! its outcome is queued behind that intent, so a crash leaves at most
//! `concurrency` rows in doubt. A 429 pauses the whole run for the vendor's
//! `Retry-After` (the row was not processed, so it is sent again after the
//! pause); a token that a person must replace stops the run; a refusal of
//! one row does not. A failure part-way (the journal) stops taking rows, lets
//! the sends in flight finish, and is the summary's
//! [`Summary::failure`].

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;
use xoxoday_reward_points::types::SendPointsResponse;
use xoxoday_reward_points::{Backoff, Client, Error};

use crate::file_journal::journals_in;
use crate::journal::{
    EarlierRun, Journal, JournalError, JournalState, PaidAlike, RowIndex, RowRecord,
};
use crate::outcome::{Progress, RowOutcome, RowStatus, Stop, Summary};
use crate::payout_file::{Contents, DuplicateRecipient, FileError, PayoutFile, PayoutRow};

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
    /// Sends in flight at most (16 by default); a crash leaves at most this
    /// many rows in doubt.
    pub concurrency: usize,
    /// Rows in doubt that a person found not credited: sent again.
    pub resend_in_doubt: Selection,
    /// Rows in doubt that a person found credited: recorded so, not sent.
    pub confirm_sent: Selection,
    /// Send the rows the vendor refused again.
    pub retry_refused: bool,
    /// Pay the file although another journal shows a run of the same
    /// content: its recipients are credited again.
    pub pay_again: bool,
    /// Pay a recipient on several rows once per row.
    pub allow_duplicate_recipients: bool,
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
            pay_again: false,
            allow_duplicate_recipients: false,
            longest_pause: Duration::from_secs(60),
            tries_not_sent: 5,
        }
    }
}

/// Why a run could not start. Nothing was sent.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The file.
    #[error(transparent)]
    File(#[from] FileError),
    /// The journal: what was done is not known beyond what it holds.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// An option names rows it cannot apply to.
    #[error("{0}; nothing was sent")]
    Selection(String),
    /// The journal's records say other things than the file's rows: the
    /// journal belongs to another file.
    #[error(
        "the journal {journal} recorded other rows than the file holds, so it cannot say what \
         was sent of this file:\n{}\nnothing was sent: pay this file with a journal of its own \
         (--journal NEW), and keep this one as the record of what it sent",
        list(lines)
    )]
    JournalMismatch {
        /// The journal.
        journal: String,
        /// Each line that differs: what the file holds and what the journal
        /// recorded.
        lines: Vec<String>,
    },
    /// Recipients on several rows, which the operator did not allow.
    #[error(
        "{} recipient(s) are on more than one row, and each row would be paid:\n{}\nnothing \
         was sent: remove the extra rows, or run again with --allow-duplicates to pay each row",
        duplicates.len(),
        list(duplicates)
    )]
    DuplicateRecipients {
        /// Each, with its lines.
        duplicates: Vec<DuplicateRecipient>,
    },
    /// The same content, or rows alike, were paid before, by another
    /// journal.
    #[error(
        "{file} (SHA-256 {digest}…) pays what earlier payouts paid:\n{}\npaying it again \
         credits those recipients again; nothing was sent: if that is what you want, run again \
         with --pay-again",
        list(runs)
    )]
    PaidBefore {
        /// The file's name.
        file: String,
        /// The start of its SHA-256.
        digest: String,
        /// The earlier runs.
        runs: Vec<EarlierRun>,
    },
}

fn list<T: std::fmt::Display>(items: &[T]) -> String {
    const SHOWN: usize = 20;
    let mut lines: Vec<String> = items
        .iter()
        .take(SHOWN)
        .map(|item| format!("  {item}"))
        .collect();
    if items.len() > SHOWN {
        lines.push(format!("  … and {} more", items.len() - SHOWN));
    }
    lines.join("\n")
}

/// What a run of a file would do, found before anything is sent.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The file's rows, recipients and points.
    pub contents: Contents,
    /// Rows the run would send (never sent, not sent, or chosen again).
    pub to_send: u64,
    /// Rows credited before (or confirmed by a person).
    pub already_sent: u64,
    /// Rows in doubt, which the run leaves alone unless told.
    pub in_doubt: u64,
    /// Rows the vendor refused, which the run leaves alone unless told.
    pub refused: u64,
    /// Rows an undo cancelled.
    pub cancelled: u64,
    index: RowIndex,
}

/// Checks what a run of `file` through `journal` would do, before anything
/// is sent: binds the journal, checks every record it holds against its
/// row, the options against the journal, recipients on several rows, and
/// earlier runs of the same content; then counts what the run would do.
pub async fn plan_payouts(
    file: &PayoutFile,
    journal: &dyn Journal,
    options: &RunOptions,
) -> Result<Plan, RunError> {
    journal.bind(file.identity()).await?;
    let index = journal.index().await?;
    check_selections(&index, options, journal.shared())?;
    let mut mismatches = Vec::new();
    let mut plan = Plan {
        contents: file.contents().clone(),
        to_send: 0,
        already_sent: 0,
        in_doubt: 0,
        refused: 0,
        cancelled: 0,
        index: RowIndex::default(),
    };
    let mut paid = PaidAlike::default();
    for row in file.rows()? {
        let row = row?;
        paid.insert(&row.email, row.points.get());
        if let Some(content) = index.content(row.line)
            && !content.matches(&row.email, row.points.get(), &row.name)
        {
            mismatches.push(format!(
                "line {}: the file pays {} {} points ({}), which is not what the journal \
                 recorded for that line",
                row.line,
                row.email,
                row.points.get(),
                row.name
            ));
            continue;
        }
        match decide(row.line, index.get(row.line), options) {
            Action::Send { .. } => plan.to_send += 1,
            Action::Confirm { .. } => plan.already_sent += 1,
            Action::Unsettled => plan.in_doubt += 1,
            Action::Skip(RowStatus::AlreadySent, ..) => plan.already_sent += 1,
            Action::Skip(RowStatus::InDoubt, ..) => plan.in_doubt += 1,
            Action::Skip(RowStatus::Refused, ..) => plan.refused += 1,
            Action::Skip(..) => plan.cancelled += 1,
        }
    }
    if !mismatches.is_empty() {
        return Err(RunError::JournalMismatch {
            journal: journal.location(),
            lines: mismatches,
        });
    }
    let duplicates = &file.contents().duplicates;
    if !duplicates.is_empty() && !options.allow_duplicate_recipients {
        return Err(RunError::DuplicateRecipients {
            duplicates: duplicates.clone(),
        });
    }
    // A journal that recorded rows already took this decision when its
    // first run started.
    if index.is_empty() && !options.pay_again {
        let runs = earlier_runs(file, journal, &paid).await?;
        if !runs.is_empty() {
            return Err(RunError::PaidBefore {
                file: file.identity().name.clone(),
                digest: file.identity().sha256.chars().take(12).collect(),
                runs,
            });
        }
    }
    plan.index = index;
    Ok(plan)
}

/// Earlier runs of the file's content, or of rows alike: those its journal
/// sees, and the file journals beside the file.
async fn earlier_runs(
    file: &PayoutFile,
    journal: &dyn Journal,
    paid: &PaidAlike,
) -> Result<Vec<EarlierRun>, RunError> {
    let mut runs = journal.earlier_runs(file.identity(), paid).await?;
    let directory = file
        .path()
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."))
        .to_owned();
    let (sha256, this) = (
        file.identity().sha256.clone(),
        std::path::PathBuf::from(journal.location()),
    );
    let paid = paid.clone();
    let beside =
        tokio::task::spawn_blocking(move || journals_in(&directory, &sha256, &paid, &this))
            .await
            .unwrap_or_default();
    for run in beside {
        if !runs.iter().any(|known| known.journal == run.journal) {
            runs.push(run);
        }
    }
    Ok(runs)
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
}

impl Shared {
    fn summary(&self) -> std::sync::MutexGuard<'_, Summary> {
        self.summary.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn done(&self, outcome: RowOutcome) {
        tracing::debug!(line = outcome.line, status = %outcome.status, "row done");
        self.progress.row(&outcome);
        self.summary().add(&outcome);
    }

    fn halt(&self, reason: String) {
        self.summary().stopped.get_or_insert(reason);
        self.stop.request();
    }

    /// A failure that leaves the run unable to record what it does: no new
    /// row is started.
    fn failed(&self, error: impl std::fmt::Display) {
        let reason = error.to_string();
        self.summary().failure.get_or_insert_with(|| reason.clone());
        self.halt(reason);
    }

    /// A send task ended: a panic in one (a bug) leaves its row unreported
    /// and maybe sent, so the run stops as on any failure part-way.
    fn joined(&self, joined: Result<(), tokio::task::JoinError>) {
        if let Err(error) = joined {
            self.failed(format!(
                "a send failed unexpectedly ({error}): its row may be sent"
            ));
        }
    }

    fn pause(&self, delay: Duration) {
        let delay = delay.min(self.options.longest_pause);
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

/// What to do with a row, from its record.
#[derive(Debug, PartialEq, Eq)]
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

fn in_doubt(state: &JournalState) -> Option<String> {
    match state {
        JournalState::Sending => {
            Some("the run stopped after the request left and before its answer was recorded".into())
        }
        JournalState::InDoubt { cause } => Some(cause.clone()),
        _ => None,
    }
}

fn decide(line: u64, known: Option<(u32, JournalState)>, options: &RunOptions) -> Action {
    let Some((attempt, state)) = known else {
        return Action::Send { seen: None };
    };
    let seen = Some(attempt);
    if let Some(cause) = in_doubt(&state) {
        return if options.resend_in_doubt.contains(line) {
            Action::Send { seen }
        } else if options.confirm_sent.contains(line) {
            Action::Confirm { seen: attempt }
        } else if state == JournalState::Sending {
            Action::Unsettled
        } else {
            Action::Skip(RowStatus::InDoubt, None, Some(cause))
        };
    }
    match &state {
        JournalState::NotSent { .. } => Action::Send { seen },
        JournalState::Refused { .. } if options.retry_refused => Action::Send { seen },
        JournalState::Refused { message } => {
            Action::Skip(RowStatus::Refused, None, Some(message.clone()))
        }
        JournalState::Sent { transaction } => {
            Action::Skip(RowStatus::AlreadySent, *transaction, None)
        }
        JournalState::ConfirmedSent => Action::Skip(
            RowStatus::AlreadySent,
            None,
            Some("confirmed by a person".into()),
        ),
        JournalState::Cancelled { transaction } | JournalState::Cancelling { transaction } => {
            Action::Skip(
                RowStatus::Cancelled,
                Some(*transaction),
                Some("cancelled by an undo: not sent again".into()),
            )
        }
        JournalState::CancelRefused { transaction, .. }
        | JournalState::CancelInDoubt { transaction, .. } => {
            Action::Skip(RowStatus::AlreadySent, Some(*transaction), None)
        }
        JournalState::Sending | JournalState::InDoubt { .. } => unreachable!("handled above"),
    }
}

/// Checks that the in-doubt options name rows in doubt, before anything is
/// sent. With a journal other workers share, `--resend-in-doubt all` would
/// send again rows another worker may be sending right now: lines only.
fn check_selections(index: &RowIndex, options: &RunOptions, shared: bool) -> Result<(), RunError> {
    let mut problems = Vec::new();
    if shared && options.resend_in_doubt == Selection::All {
        problems.push(
            "--resend-in-doubt all: with a journal other workers share, a row with no outcome \
             may be in flight on another worker right now: stop the other workers, check the \
             rows in the vendor's ledger, and name them (--resend-in-doubt 12,40)"
                .to_owned(),
        );
    }
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

fn record(row: &PayoutRow, attempt: u32, state: JournalState) -> RowRecord {
    RowRecord {
        line: row.line,
        attempt,
        email: row.email.clone(),
        points: row.points.get(),
        name: Some(row.name.clone()),
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
/// Fails (having sent nothing) when [`plan_payouts`] does; a failure after
/// the first send is the summary's [`Summary::failure`].
pub async fn run_payouts(
    client: &Client,
    file: &PayoutFile,
    journal: Arc<dyn Journal>,
    options: RunOptions,
    progress: Arc<dyn Progress>,
    stop: &Stop,
) -> Result<Summary, RunError> {
    let plan = plan_payouts(file, journal.as_ref(), &options).await?;
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
    });
    let slots = Arc::new(Semaphore::new(concurrency));
    let mut sends = JoinSet::new();
    let mut unsettled = Vec::new();
    let rows = file.rows()?;
    for row in rows {
        let row = match row {
            Ok(row) => row,
            Err(error) => {
                shared.failed(error);
                break;
            }
        };
        if shared.stop.requested() {
            shared.done(outcome(&row, RowStatus::NotStarted, None, None));
            continue;
        }
        match decide(row.line, plan.index.get(row.line), &shared.options) {
            Action::Unsettled => unsettled.push(row),
            Action::Skip(status, transaction, message) => {
                shared.done(outcome(&row, status, transaction, message));
            }
            Action::Confirm { seen } => {
                let confirmed = record(&row, seen, JournalState::ConfirmedSent);
                match shared.journal.transition(Some(seen), confirmed).await {
                    Ok(true) => shared.done(outcome(&row, RowStatus::ConfirmedSent, None, None)),
                    Ok(false) => {
                        shared.done(outcome(&row, RowStatus::HandledElsewhere, None, None))
                    }
                    Err(error) => {
                        shared.done(outcome(&row, RowStatus::NotStarted, None, None));
                        shared.failed(error);
                    }
                }
            }
            Action::Send { seen } => {
                // The slot is taken before the intent is recorded: at most
                // `concurrency` rows are claimed and unanswered at once.
                let slot = slots.clone().acquire_owned().await;
                if shared.stop.requested() {
                    shared.done(outcome(&row, RowStatus::NotStarted, None, None));
                    continue;
                }
                let sending = shared.clone();
                sends.spawn(async move {
                    send_row(&sending, &row, seen, slot.ok()).await;
                });
                // Reap what finished, so the set stays as small as the slots.
                while let Some(joined) = sends.try_join_next() {
                    shared.joined(joined);
                }
            }
        }
    }
    while let Some(joined) = sends.join_next().await {
        shared.joined(joined);
    }
    settle_unsettled(&shared, unsettled).await;
    if let Err(error) = shared.journal.sync().await {
        shared.failed(error);
    }
    let mut summary = shared.summary().clone();
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
            shared.failed(error);
            RowIndex::default()
        }
    };
    for row in rows {
        let state = now.get(row.line).map(|(_, state)| state);
        match state.as_ref() {
            Some(JournalState::Sending) | None => {
                let cause = in_doubt(&JournalState::Sending);
                shared.done(outcome(&row, RowStatus::InDoubt, None, cause));
            }
            Some(state) => {
                let transaction = match state {
                    JournalState::Sent { transaction } => *transaction,
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

/// The pauses before a row whose send did not leave (no connection) is
/// tried again.
const NOT_CONNECTED: Backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(32));

/// What one send's answer means for its row.
#[derive(Debug, PartialEq, Eq)]
struct SendOutcome {
    /// What the journal records.
    state: JournalState,
    /// What the report says.
    status: RowStatus,
    transaction: Option<i64>,
    message: Option<String>,
    /// Not processed by the vendor: try again after this pause.
    retry_after: Option<Duration>,
    /// Every row would fail alike: the run stops.
    halts: bool,
}

/// What the answer to row's send means. Only a documented answer says "not
/// done": a lost answer, a 5xx, a 202 or a redirect is in doubt.
fn classify(answer: Result<SendPointsResponse, Error>, tries: u32) -> SendOutcome {
    let outcome = |state: JournalState, status, message: Option<String>| SendOutcome {
        state,
        status,
        transaction: None,
        message,
        retry_after: None,
        halts: false,
    };
    let not_sent = |reason: String| {
        outcome(
            JournalState::NotSent {
                reason: reason.clone(),
            },
            RowStatus::NotSent,
            Some(reason),
        )
    };
    let refused = |message: String| {
        outcome(
            JournalState::Refused {
                message: message.clone(),
            },
            RowStatus::Refused,
            Some(message),
        )
    };
    match answer {
        Ok(sent) => {
            let transaction = sent.transaction_id().map(|id| id.0);
            SendOutcome {
                transaction,
                ..outcome(JournalState::Sent { transaction }, RowStatus::Sent, None)
            }
        }
        Err(Error::OutcomeUnknown { cause, .. }) => {
            let cause = cause.to_string();
            outcome(
                JournalState::InDoubt {
                    cause: cause.clone(),
                },
                RowStatus::InDoubt,
                Some(cause),
            )
        }
        Err(Error::Refused { refusal, .. }) => refused(refusal.to_string()),
        Err(Error::RateLimited { retry_after, .. }) => SendOutcome {
            retry_after: Some(retry_after.unwrap_or(Duration::from_secs(1))),
            ..not_sent("the vendor answered 429 Too Many Requests".into())
        },
        Err(Error::Network { source, .. }) => SendOutcome {
            // It never left: safe to send again after a pause.
            retry_after: Some(NOT_CONNECTED.delay(tries.saturating_sub(1))),
            ..not_sent(format!("no connection: {source}"))
        },
        Err(error @ (Error::Auth { .. } | Error::Unauthorized { .. })) => SendOutcome {
            halts: true,
            ..not_sent(error.to_string())
        },
        // 4xx other than 401 and 429 (the others are unknown outcomes for a
        // send that left), or a value the client would not send.
        Err(error @ (Error::InvalidInput { .. } | Error::UnexpectedStatus { .. })) => {
            refused(error.to_string())
        }
        // Not sent (a deadline passed before the request left).
        Err(other) => not_sent(other.to_string()),
    }
}

/// Claims, sends and records one row, holding its send slot throughout;
/// tries again while the vendor did not process it.
async fn send_row(
    shared: &Shared,
    row: &PayoutRow,
    mut seen: Option<u32>,
    _slot: Option<OwnedSemaphorePermit>,
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
            .transition(seen, record(row, attempt, JournalState::Sending))
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                shared.done(outcome(row, RowStatus::HandledElsewhere, None, None));
                return;
            }
            Err(error) => {
                shared.done(outcome(row, RowStatus::NotStarted, None, None));
                shared.failed(error);
                return;
            }
        }
        shared.summary().claimed += 1;
        seen = Some(attempt);
        let answer = shared
            .client
            .send_points()
            .payout(row.payout.clone())
            .send()
            .await
            .map(|answer| answer.into_inner());
        let sent = classify(answer, tries);
        if sent.halts {
            let reason = sent.message.clone().unwrap_or_default();
            shared.halt(format!("no usable token: {reason}"));
        }
        // The outcome need not be durable before the next row: lost in a
        // crash, it leaves the intent, in doubt — the safe side. Queued
        // while this row still holds its slot, it is written before the
        // intent of the row that takes the slot next.
        if let Err(error) = shared
            .journal
            .transition_soon(seen, record(row, attempt, sent.state))
            .await
        {
            // The intent stands without its outcome: in doubt next time.
            shared.done(outcome(
                row,
                RowStatus::InDoubt,
                sent.transaction,
                sent.message,
            ));
            shared.failed(error);
            return;
        }
        match sent.retry_after {
            Some(delay) if tries < shared.options.tries_not_sent && !shared.stop.requested() => {
                shared.pause(delay);
            }
            _ => {
                shared.done(outcome(row, sent.status, sent.transaction, sent.message));
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use xoxoday_reward_points::Environment;
    use xoxoday_reward_points_mocks::{Faults, StandInServer};

    use xoxoday_reward_points::types::SendPointsResponse;
    use xoxoday_reward_points::{Error, Operation, UnknownCause};

    use super::{Action, RunOptions, Selection, SendOutcome, classify, decide, run_payouts};
    use crate::journal::{Journal, JournalError, JournalFuture, JournalState, RowRecord};
    use crate::outcome::{RowStatus, Silent, Stop};
    use crate::payout_file::{FileIdentity, PayoutFile, RunDefaults};

    /// A journal in memory whose writes fail after the first `works`.
    struct FailsAfter {
        works: u32,
        written: AtomicU32,
        rows: Mutex<BTreeMap<u64, RowRecord>>,
    }

    impl Journal for FailsAfter {
        fn location(&self) -> String {
            "a journal on a disk that fills up".into()
        }
        fn bind<'a>(&'a self, _: &'a FileIdentity) -> JournalFuture<'a, ()> {
            Box::pin(async { Ok(()) })
        }
        fn records(&self) -> JournalFuture<'_, BTreeMap<u64, RowRecord>> {
            let records = self.rows.lock().unwrap().clone();
            Box::pin(async move { Ok(records) })
        }
        fn transition(&self, _: Option<u32>, record: RowRecord) -> JournalFuture<'_, bool> {
            let failed = self.written.fetch_add(1, Ordering::SeqCst) >= self.works;
            if !failed {
                self.rows.lock().unwrap().insert(record.line, record);
            }
            Box::pin(async move {
                match failed {
                    true => Err(JournalError {
                        location: "test".into(),
                        message: "no space left on device".into(),
                    }),
                    false => Ok(true),
                }
            })
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_journal_failure_part_way_lets_the_sends_in_flight_finish_and_says_so() {
        let stand_in = StandInServer::start(0, Faults::none().latency(Duration::from_millis(20)))
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("march.csv");
        let mut text = String::from("name,email,points\n");
        for n in 1..=100 {
            text.push_str(&format!("User {n},user{n}@example.com,{n}\n"));
        }
        std::fs::write(&path, text).unwrap();
        let defaults = RunDefaults {
            sender_email: Some("admin@example.com".into()),
            expiry_months: None,
        };
        let file = PayoutFile::open(&path, defaults).unwrap();
        let journal = Arc::new(FailsAfter {
            works: 30,
            written: AtomicU32::new(0),
            rows: Mutex::new(BTreeMap::new()),
        });
        let options = RunOptions {
            concurrency: 4,
            ..RunOptions::default()
        };

        let summary = run_payouts(
            &stand_in.client(Environment::Sandbox),
            &file,
            journal.clone(),
            options,
            Arc::new(Silent),
            &Stop::new(),
        )
        .await
        .unwrap();

        let failure = summary.failure.clone().unwrap();
        assert_eq!(failure, "journal test: no space left on device");
        // Every send that started finished, and its row is reported.
        let credits = stand_in.credits().len() as u64;
        assert!(credits > 0);
        assert_eq!(
            credits,
            summary.count(RowStatus::Sent) + summary.count(RowStatus::InDoubt)
        );
        assert_eq!(summary.claimed, credits);
        assert_eq!(summary.rows.values().sum::<u64>(), 100);
        assert!(summary.count(RowStatus::NotStarted) > 0);
        assert!(!summary.complete());
    }

    fn lines(lines: &[u64]) -> Selection {
        Selection::Lines(lines.iter().copied().collect::<BTreeSet<_>>())
    }

    #[test]
    fn decide_sends_only_what_was_never_credited_unless_a_person_says_so() {
        let plain = RunOptions::default();
        assert_eq!(decide(2, None, &plain), Action::Send { seen: None });
        let not_sent = JournalState::NotSent {
            reason: "429".into(),
        };
        assert_eq!(
            decide(2, Some((3, not_sent)), &plain),
            Action::Send { seen: Some(3) }
        );
        assert_eq!(
            decide(2, Some((1, JournalState::Sending)), &plain),
            Action::Unsettled
        );
        let lost = JournalState::InDoubt {
            cause: "timed out".into(),
        };
        assert_eq!(
            decide(2, Some((1, lost.clone())), &plain),
            Action::Skip(RowStatus::InDoubt, None, Some("timed out".into()))
        );
        let resend = RunOptions {
            resend_in_doubt: lines(&[2]),
            ..RunOptions::default()
        };
        assert_eq!(
            decide(2, Some((1, lost.clone())), &resend),
            Action::Send { seen: Some(1) }
        );
        assert_eq!(
            decide(3, Some((1, lost.clone())), &resend),
            Action::Skip(RowStatus::InDoubt, None, Some("timed out".into()))
        );
        let confirm = RunOptions {
            confirm_sent: Selection::All,
            ..RunOptions::default()
        };
        assert_eq!(
            decide(2, Some((4, JournalState::Sending)), &confirm),
            Action::Confirm { seen: 4 }
        );
        let refused = JournalState::Refused {
            message: "no".into(),
        };
        assert_eq!(
            decide(2, Some((1, refused.clone())), &plain),
            Action::Skip(RowStatus::Refused, None, Some("no".into()))
        );
        let retry = RunOptions {
            retry_refused: true,
            ..RunOptions::default()
        };
        assert_eq!(
            decide(2, Some((1, refused)), &retry),
            Action::Send { seen: Some(1) }
        );
        let sent = JournalState::Sent {
            transaction: Some(7),
        };
        // Even when asked to retry refused rows or resend all in doubt.
        for options in [&plain, &retry, &resend] {
            assert_eq!(
                decide(2, Some((1, sent.clone())), options),
                Action::Skip(RowStatus::AlreadySent, Some(7), None)
            );
        }
        assert_eq!(
            decide(
                2,
                Some((2, JournalState::Cancelled { transaction: 7 })),
                &retry
            ),
            Action::Skip(
                RowStatus::Cancelled,
                Some(7),
                Some("cancelled by an undo: not sent again".into())
            )
        );
    }

    #[test]
    fn resend_all_is_refused_with_a_journal_other_workers_share() {
        let all = RunOptions {
            resend_in_doubt: Selection::All,
            ..RunOptions::default()
        };
        let index = crate::journal::RowIndex::default();
        assert!(super::check_selections(&index, &all, false).is_ok());
        let refused = super::check_selections(&index, &all, true).unwrap_err();
        assert!(
            refused
                .to_string()
                .starts_with("--resend-in-doubt all: with a journal other workers share"),
            "{refused}"
        );
        let named = RunOptions {
            resend_in_doubt: lines(&[2]),
            ..RunOptions::default()
        };
        // Named lines are checked as ever (line 2 is not in doubt here).
        assert!(super::check_selections(&index, &named, true).is_err());
    }

    fn status_of(answer: Result<SendPointsResponse, Error>) -> (RowStatus, Option<Duration>) {
        let SendOutcome {
            status,
            retry_after,
            ..
        } = classify(answer, 1);
        (status, retry_after)
    }

    #[test]
    fn only_a_documented_answer_says_not_done() {
        let operation = Operation::SendPoints;
        let unknown = |cause| Err(Error::OutcomeUnknown { operation, cause });
        for cause in [
            UnknownCause::UndocumentedStatus { status: 202 },
            UnknownCause::UndocumentedStatus { status: 302 },
            UnknownCause::ServerError { status: 502 },
            UnknownCause::TimedOut,
        ] {
            assert_eq!(status_of(unknown(cause)), (RowStatus::InDoubt, None));
        }
        let limited = Err(Error::RateLimited {
            operation,
            retry_after: Some(Duration::from_secs(3)),
        });
        assert_eq!(
            status_of(limited),
            (RowStatus::NotSent, Some(Duration::from_secs(3)))
        );
        let bad_request = Err(Error::UnexpectedStatus {
            operation,
            status: 400,
            message: None,
        });
        assert_eq!(status_of(bad_request), (RowStatus::Refused, None));
        let unauthorized = classify(
            Err(Error::Unauthorized {
                operation,
                message: None,
            }),
            1,
        );
        assert!(unauthorized.halts);
        assert_eq!(unauthorized.status, RowStatus::NotSent);
    }
}
