//! The payout run: every checked row sent once, at most `concurrency` at a
//! time, each send recorded in the ledger before it leaves and after it
//! answers.
//!
//! [`plan_payouts`] begins the run in the ledger before anything is sent
//! (`crate::ledger::begin`): earlier versions' journals beside the file
//! imported, the run found or made (its claim on its rows), every record it
//! holds checked against the file, and the rows it would send checked
//! against every other run of the same environment and account — paid,
//! maybe paid, or being paid right now — unless the operator said to pay
//! again. A recipient on several rows stops it too, unless allowed. It then
//! counts what the run would do, with the same function that decides it
//! ([`crate::steps::next_step`]). A dry run does all of it and keeps
//! nothing.
//!
//! [`run_payouts`] then takes the rows through the orchestrator
//! (`crate::orchestrator`). A row is sent only when the ledger says it was
//! never credited; a row in doubt — an intent without an outcome, or an
//! answer lost after the request left — is sent again only when a person
//! asked for it after checking the vendor's ledger; a refused row only
//! with `retry_refused`.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use xoxoday_reward_points::types::SendPointsResponse;
use xoxoday_reward_points::{Backoff, Client, Environment, Error};

use crate::ledger::{
    AttemptState, BeginError, BeginRequest, Begun, Ledger, LedgerError, LedgerRow, LedgerScope,
    Purpose, Registry, RowHistory, RunHistory, RunKey, begin, journals_in, lease_key,
    legacy::LegacyJournal,
};
use crate::orchestrator::{Answer, Item, Mode, Shared, orchestrate};
use crate::outcome::{Progress, RowStatus, Stop, Summary};
use crate::payout_file::{Contents, DuplicateRecipient, FileError, PayoutFile};
use crate::steps::{Goal, PayChoices, Step, conflict, next_step};
use crate::vendor::Vendor;

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

/// Where a run is recorded, and how it is known there.
#[derive(Clone, Debug)]
pub struct LedgerContext {
    /// The vendor environment and the account that pays.
    pub scope: LedgerScope,
    /// The run's name, which workers on several machines share (`--run`);
    /// `None`: the file's full path.
    pub run_name: Option<String>,
    /// A journal of an earlier version to import, besides those found
    /// beside the file.
    pub journal: Option<PathBuf>,
    /// The environment the journals of earlier versions paid in, as the
    /// operator says (they do not).
    pub journals_paid_in: Option<Environment>,
    /// This machine's record of which ledger each environment and account
    /// uses, asked on every run.
    pub registry: Option<Registry>,
    /// Look for journals on the runtime's thread rather than a blocking
    /// one: the simulation's, whose schedule must not depend on a thread.
    pub(crate) scan_inline: bool,
}

impl LedgerContext {
    /// A run of `scope` with nothing else said.
    pub fn new(scope: LedgerScope) -> Self {
        Self {
            scope,
            run_name: None,
            journal: None,
            journals_paid_in: None,
            registry: None,
            scan_inline: false,
        }
    }

    /// The journals of earlier versions beside `file` (and the one named).
    pub(crate) async fn journals_for(
        &self,
        file: &std::path::Path,
    ) -> Result<Vec<LegacyJournal>, RunError> {
        let directory = file
            .parent()
            .filter(|parent| !parent.as_os_str().is_empty())
            .unwrap_or(std::path::Path::new("."))
            .to_owned();
        let named = self.journal.clone();
        let own = named.clone().unwrap_or_else(|| {
            let mut name = file.as_os_str().to_owned();
            name.push(".journal");
            PathBuf::from(name)
        });
        let scan = move || {
            let mut found = journals_in(&directory, &own)?;
            if let Some(named) = named {
                if !named.exists() {
                    return Err(format!(
                        "--journal {}: there is no such file; nothing was read or written",
                        named.display()
                    ));
                }
                let named = std::fs::canonicalize(&named).unwrap_or(named);
                if !found
                    .iter()
                    .any(|journal| journal.source == named.display().to_string())
                {
                    match LegacyJournal::read(&named, true)? {
                        Some(journal) => found.push(journal),
                        None => {
                            return Err(format!(
                                "--journal {}: it is not a journal of an earlier version (its \
                                 first line is not a journal's header); nothing was read from \
                                 it or written to it",
                                named.display()
                            ));
                        }
                    }
                }
            }
            Ok(found)
        };
        let found = if self.scan_inline {
            scan()
        } else {
            tokio::task::spawn_blocking(scan)
                .await
                .map_err(|error| RunError::Journal(error.to_string()))?
        };
        found.map_err(RunError::Journal)
    }
}

/// Why a run could not start. Nothing was sent.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The file.
    #[error(transparent)]
    File(#[from] FileError),
    /// The ledger: what was done is not known beyond what it holds.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The ledger refused to begin the run.
    #[error(transparent)]
    Begin(#[from] BeginError),
    /// A journal of an earlier version cannot be read.
    #[error("{0}")]
    Journal(String),
    /// An option names rows it cannot apply to.
    #[error("{0}; nothing was sent")]
    Selection(String),
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
    /// The client calls another environment than the ledger's records are
    /// for.
    #[error("the client calls {client}, but the run was begun for {ledger}: nothing was sent")]
    OtherEnvironment {
        /// The client's environment.
        client: String,
        /// The run's.
        ledger: String,
    },
    /// A plan of a dry run cannot be run.
    #[error("a dry run's plan cannot be run: plan the run again without `dry`")]
    DryPlan,
}

fn list<T: std::fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(|item| format!("  {item}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// What a run of a file would do, found before anything is sent; what
/// [`run_payouts`] runs.
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
    /// Rows in conflict, which wait for a person.
    pub conflicts: u64,
    /// The run's name in the ledger.
    pub run: String,
    /// What the operator should know (journals imported, …).
    pub notes: Vec<String>,
    /// The run as it began (none for a dry run).
    begun: Option<Begun>,
    scope: LedgerScope,
}

impl std::fmt::Debug for Plan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plan")
            .field("run", &self.run)
            .field("to_send", &self.to_send)
            .finish_non_exhaustive()
    }
}

/// The choices `options` make for `line`.
fn choices(options: &RunOptions, line: u64) -> PayChoices {
    PayChoices {
        resend: options.resend_in_doubt.contains(line),
        confirm: options.confirm_sent.contains(line),
        retry_refused: options.retry_refused,
        may_send: true,
    }
}

/// What the run would do with `line`.
fn step(history: &RunHistory, options: &RunOptions, line: u64) -> Step {
    let empty = RowHistory::default();
    let row = history.get(&line).unwrap_or(&empty);
    next_step(row, Goal::Pay(choices(options, line)))
}

/// Whether `step` sends the row.
fn sends(step: &Step) -> bool {
    matches!(
        step,
        Step::Send { .. }
            | Step::Judge {
                credited: false,
                ..
            }
    )
}

/// Checks what a run of `file` would do and begins it in `ledger`, before
/// anything is sent; see the module's documentation. `dry`: nothing is
/// kept (a dry run's plan cannot be run).
pub async fn plan_payouts(
    file: &PayoutFile,
    ledger: &dyn Ledger,
    context: &LedgerContext,
    options: &RunOptions,
    dry: bool,
) -> Result<Plan, RunError> {
    check_duplicates(file, options)?;
    check_choices(options, ledger.shared())?;
    let key = RunKey::of(file, context.run_name.as_deref())?;
    let mut journals = context.journals_for(file.path()).await?;
    journals.extend(ledger.legacy_journals(&key).await?);
    let rows = ledger_rows(file)?;
    let lines: Vec<u64> = rows.iter().map(|row| row.line).collect();
    let to_send = |history: &RunHistory| -> Vec<u64> {
        lines
            .iter()
            .copied()
            .filter(|line| sends(&step(history, options, *line)))
            .collect()
    };
    let pay_again = options.pay_again;
    let request = BeginRequest {
        scope: &context.scope,
        key: &key,
        rows: rows.into(),
        purpose: if dry {
            Purpose::DryRun { pay_again }
        } else {
            Purpose::Pay { pay_again }
        },
        to_send: &to_send,
        journals: &journals,
        journals_paid_in: context.journals_paid_in,
        registry: context.registry.as_ref(),
    };
    let begun = begin(ledger, &request).await?;
    // Another process of this run (the same file started again elsewhere,
    // a worker sharing `--run`) may be sending a row without an outcome
    // right now: a person's word on it must wait for that process.
    let run = &begun.run;
    let elsewhere = ledger
        .held_elsewhere(lease_key(&run.scope, &run.name, &run.sha256))
        .await?;
    check_selections(&begun.history, options, elsewhere)?;
    let mut plan = Plan::of(file, context, &begun);
    for line in &lines {
        plan.count(step(&begun.history, options, *line));
    }
    if !dry {
        plan.begun = Some(begun);
    }
    Ok(plan)
}

/// Recipients on several rows stop the run, unless the operator allowed
/// them.
fn check_duplicates(file: &PayoutFile, options: &RunOptions) -> Result<(), RunError> {
    let duplicates = &file.contents().duplicates;
    if !duplicates.is_empty() && !options.allow_duplicate_recipients {
        return Err(RunError::DuplicateRecipients {
            duplicates: duplicates.clone(),
        });
    }
    Ok(())
}

/// The file's rows, as the ledger records them.
fn ledger_rows(file: &PayoutFile) -> Result<Vec<LedgerRow>, RunError> {
    let mut rows: Vec<LedgerRow> = Vec::new();
    for row in file.rows()? {
        let row = row?;
        rows.push(LedgerRow {
            line: row.line,
            email: row.email,
            points: row.points.get(),
            name: row.name,
        });
    }
    Ok(rows)
}

impl Plan {
    /// The plan of the run `begun` of `file`, no row counted yet (and the
    /// run not kept).
    fn of(file: &PayoutFile, context: &LedgerContext, begun: &Begun) -> Self {
        Self {
            contents: file.contents().clone(),
            to_send: 0,
            already_sent: 0,
            in_doubt: 0,
            refused: 0,
            cancelled: 0,
            conflicts: 0,
            run: begun.run.name.clone(),
            notes: begun.notes.clone(),
            begun: None,
            scope: context.scope.clone(),
        }
    }

    /// Counts a row whose next step is `step`.
    fn count(&mut self, step: Step) {
        match step {
            step if sends(&step) => self.to_send += 1,
            Step::Judge { .. } => self.already_sent += 1,
            Step::Wait => self.in_doubt += 1,
            Step::Done(ending) => match ending.status {
                RowStatus::AlreadySent => self.already_sent += 1,
                RowStatus::InDoubt => self.in_doubt += 1,
                RowStatus::Refused => self.refused += 1,
                RowStatus::Conflict => self.conflicts += 1,
                _ => self.cancelled += 1,
            },
            _ => self.to_send += 1,
        }
    }
}

/// Options that cannot go together, before the ledger is asked.
fn check_choices(options: &RunOptions, shared: bool) -> Result<(), RunError> {
    let mut problems = Vec::new();
    if shared && options.resend_in_doubt == Selection::All {
        problems.push(
            "--resend-in-doubt all: with a ledger other workers share, a row with no outcome \
             may be in flight on another worker right now: stop the other workers, check the \
             rows in the vendor's ledger, and name them (--resend-in-doubt 12,40)"
                .to_owned(),
        );
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

/// The lines the in-doubt options name must be in doubt (or in conflict),
/// and none of them in flight on another process of the run (`elsewhere`:
/// one holds the run).
fn check_selections(
    history: &RunHistory,
    options: &RunOptions,
    elsewhere: bool,
) -> Result<(), RunError> {
    let mut problems = Vec::new();
    let empty = RowHistory::default();
    let row = |line: u64| history.get(&line).unwrap_or(&empty);
    if elsewhere {
        let in_flight: Vec<u64> = history
            .iter()
            .filter(|(line, row)| {
                (options.resend_in_doubt.contains(**line) || options.confirm_sent.contains(**line))
                    && row
                        .latest()
                        .is_some_and(|latest| latest.state == AttemptState::Sending)
            })
            .map(|(line, _)| *line)
            .collect();
        if !in_flight.is_empty() {
            problems.push(format!(
                "lines {in_flight:?} may be in flight right now: another process of this run \
                 holds it (the same file being paid elsewhere, or a worker sharing its --run): \
                 wait for it to end (or stop it), then look at those lines again"
            ));
        }
    }
    for (option, selection) in [
        ("--resend-in-doubt", &options.resend_in_doubt),
        ("--confirm-sent", &options.confirm_sent),
    ] {
        for line in selection.lines() {
            let row = row(line);
            let open = row.latest().is_some_and(|latest| latest.state.in_doubt())
                || conflict(row).is_some();
            if !open {
                let now = match row.latest() {
                    None => "never sent".to_owned(),
                    Some(latest) => latest.state.to_string(),
                };
                problems.push(format!(
                    "{option} {line}: line {line} is not in doubt ({now})"
                ));
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(RunError::Selection(problems.join("; ")))
    }
}

/// Runs the plan of `file` (from [`plan_payouts`]) through `ledger`: every
/// row credited once, or listed. A failure after the first send is the
/// summary's [`Summary::failure`].
pub async fn run_payouts(
    client: &Client,
    file: &PayoutFile,
    ledger: Arc<dyn Ledger>,
    plan: Plan,
    options: RunOptions,
    progress: Arc<dyn Progress>,
    stop: &Stop,
) -> Result<Summary, RunError> {
    let vendor = Arc::new(client.clone());
    run_payouts_with(vendor, file, ledger, plan, options, progress, stop).await
}

/// [`run_payouts`], the requests going to `vendor`.
pub(crate) async fn run_payouts_with(
    vendor: Arc<dyn Vendor>,
    file: &PayoutFile,
    ledger: Arc<dyn Ledger>,
    plan: Plan,
    options: RunOptions,
    progress: Arc<dyn Progress>,
    stop: &Stop,
) -> Result<Summary, RunError> {
    let Some(begun) = plan.begun else {
        return Err(RunError::DryPlan);
    };
    if vendor.environment() != plan.scope.environment() {
        return Err(RunError::OtherEnvironment {
            client: vendor.environment().name().into(),
            ledger: plan.scope.to_string(),
        });
    }
    progress.start(file.identity().rows);
    let concurrency = options.concurrency.max(1);
    let chosen = options.clone();
    let lease_key = lease_key(&begun.run.scope, &begun.run.name, &begun.run.sha256);
    let shared = Arc::new(Shared::new(
        vendor,
        ledger,
        begun.run.id.clone(),
        Some(lease_key),
        progress,
        stop.clone(),
        Mode::Pay {
            choices: Arc::new(move |line| choices(&chosen, line)),
            tries_not_sent: options.tries_not_sent,
        },
        options.longest_pause,
    ));
    let items = file.rows()?.map(|row| {
        row.map(|row| Item {
            line: row.line,
            points: row.points.get(),
            email: row.email,
            payout: Some(row.payout),
        })
        .map_err(|error| error.to_string())
    });
    let summary = orchestrate(shared, items, begun.history, concurrency).await;
    // Held until every request of the run was answered and recorded.
    drop(begun.lease);
    Ok(summary)
}

/// The pauses before a row whose send did not leave (no connection) is
/// tried again.
const NOT_CONNECTED: Backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(32));

/// Sends one row (its `tries`-th send in this run) and says what the answer
/// means.
pub(crate) async fn send(vendor: &dyn Vendor, item: &Item, tries: u32) -> Answer {
    classify(vendor.send(item).await, tries)
}

/// What the answer to row's send means. Only a documented answer says "not
/// done": a lost answer, a 5xx, a 202 or a redirect is in doubt.
fn classify(answer: Result<SendPointsResponse, Error>, tries: u32) -> Answer {
    let outcome = |state: AttemptState, status, message: Option<String>| Answer {
        state,
        status,
        message,
        retry_after: None,
        halts: false,
    };
    let not_sent = |reason: String| {
        outcome(
            AttemptState::NotSent {
                reason: reason.clone(),
            },
            RowStatus::NotSent,
            Some(reason),
        )
    };
    let refused = |message: String| {
        outcome(
            AttemptState::Refused {
                message: message.clone(),
            },
            RowStatus::Refused,
            Some(message),
        )
    };
    match answer {
        Ok(sent) => {
            let transaction = sent.transaction_id().map(|id| id.0);
            outcome(AttemptState::Sent { transaction }, RowStatus::Sent, None)
        }
        Err(Error::OutcomeUnknown { cause, .. }) => {
            let cause = cause.to_string();
            outcome(
                AttemptState::InDoubt {
                    cause: cause.clone(),
                },
                RowStatus::InDoubt,
                Some(cause),
            )
        }
        Err(Error::Refused { refusal, .. }) => refused(refusal.to_string()),
        Err(Error::RateLimited { retry_after, .. }) => Answer {
            retry_after: Some(retry_after.unwrap_or(Duration::from_secs(1))),
            ..not_sent("the vendor answered 429 Too Many Requests".into())
        },
        Err(Error::Network { source, .. }) => Answer {
            // It never left: safe to send again after a pause.
            retry_after: Some(NOT_CONNECTED.delay(tries.saturating_sub(1))),
            ..not_sent(format!("no connection: {source}"))
        },
        Err(error @ (Error::Auth { .. } | Error::Unauthorized { .. })) => Answer {
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Duration;

    use xoxoday_reward_points::types::SendPointsResponse;
    use xoxoday_reward_points::{Client, Environment, Error, Operation, UnknownCause};
    use xoxoday_reward_points_mocks::{Faults, StandInServer};

    use super::{LedgerContext, Plan, RunOptions, classify, plan_payouts, run_payouts};
    use crate::ledger::{
        AttemptState, Lease, Ledger, LedgerError, LedgerFuture, LedgerScope, LedgerTransaction,
        RunHistory, SqliteLedger,
    };
    use crate::outcome::{RowStatus, Silent, Stop, Summary};
    use crate::payout_file::{PayoutFile, RunDefaults};

    /// A ledger whose claims fail after the first `works` (a disk that
    /// fills up).
    struct FailsAfter {
        inner: SqliteLedger,
        works: u32,
        claims: AtomicU32,
    }

    impl Ledger for FailsAfter {
        fn location(&self) -> String {
            "a ledger on a disk that fills up".into()
        }
        fn transaction(&self, dry: bool) -> LedgerFuture<'_, Box<dyn LedgerTransaction + '_>> {
            self.inner.transaction(dry)
        }
        fn lease(&self, key: i64) -> LedgerFuture<'_, Lease> {
            self.inner.lease(key)
        }
        fn claim(&self, run: &str, line: u64, after: u32) -> LedgerFuture<'_, bool> {
            if self.claims.fetch_add(1, Ordering::SeqCst) >= self.works {
                return Box::pin(async {
                    Err(LedgerError {
                        location: "test".into(),
                        message: "no space left on device".into(),
                    })
                });
            }
            self.inner.claim(run, line, after)
        }
        fn judge(
            &self,
            run: &str,
            line: u64,
            attempt: u32,
            credited: bool,
        ) -> LedgerFuture<'_, bool> {
            self.inner.judge(run, line, attempt, credited)
        }
        fn claim_cancel(&self, run: &str, line: u64, attempt: u32) -> LedgerFuture<'_, bool> {
            self.inner.claim_cancel(run, line, attempt)
        }
        fn record(
            &self,
            run: &str,
            line: u64,
            attempt: u32,
            state: AttemptState,
        ) -> LedgerFuture<'_, ()> {
            self.inner.record(run, line, attempt, state)
        }
        fn sync(&self) -> LedgerFuture<'_, ()> {
            self.inner.sync()
        }
        fn history<'a>(
            &'a self,
            run: &'a str,
            lines: Option<&'a [u64]>,
        ) -> LedgerFuture<'a, RunHistory> {
            self.inner.history(run, lines)
        }
        fn rows<'a>(
            &'a self,
            run: &'a str,
            lines: &'a [u64],
        ) -> LedgerFuture<'a, Vec<crate::ledger::LedgerRow>> {
            self.inner.rows(run, lines)
        }
        fn overruled(&self, run: &str) -> LedgerFuture<'_, Vec<u64>> {
            self.inner.overruled(run)
        }
        fn held_elsewhere(&self, key: i64) -> LedgerFuture<'_, bool> {
            self.inner.held_elsewhere(key)
        }
        fn shared(&self) -> bool {
            false
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_ledger_failure_part_way_lets_the_sends_in_flight_finish_and_says_so() {
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
        let ledger = Arc::new(FailsAfter {
            inner: SqliteLedger::open(&dir.path().join("ledger.sqlite3")).unwrap(),
            works: 30,
            claims: AtomicU32::new(0),
        });
        let context = LedgerContext::new(LedgerScope::new(Environment::Sandbox, "client"));
        let options = RunOptions {
            concurrency: 4,
            ..RunOptions::default()
        };
        let plan = plan_payouts(&file, ledger.as_ref(), &context, &options, false)
            .await
            .unwrap();

        let summary = run_payouts(
            &stand_in.client(Environment::Sandbox),
            &file,
            ledger.clone(),
            plan,
            options,
            Arc::new(Silent),
            &Stop::new(),
        )
        .await
        .unwrap();

        assert_eq!(
            summary.failure.as_deref(),
            Some("ledger test: no space left on device")
        );
        // Every send that started finished, and its row is reported.
        let credits = stand_in.credits().len() as u64;
        assert_eq!(credits, 30);
        assert_eq!(summary.count(RowStatus::Sent), 30);
        assert_eq!(summary.claimed, credits);
        assert_eq!(summary.rows.values().sum::<u64>(), 100);
        assert_eq!(summary.count(RowStatus::NotStarted), 70);
        assert!(!summary.complete());
    }

    /// A file of one row (line 2: Ann, 100 points) and its ledger, in a
    /// directory of their own.
    struct OneRow {
        file: PayoutFile,
        ledger: Arc<SqliteLedger>,
        context: LedgerContext,
        _dir: tempfile::TempDir,
    }

    impl OneRow {
        fn new() -> Self {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("march.csv");
            std::fs::write(&path, "name,email,points\nAnn,ann@example.com,100\n").unwrap();
            let defaults = RunDefaults {
                sender_email: Some("admin@example.com".into()),
                expiry_months: None,
            };
            let file = PayoutFile::open(&path, defaults).unwrap();
            let ledger = Arc::new(SqliteLedger::open(&dir.path().join("ledger.sqlite3")).unwrap());
            let context = LedgerContext::new(LedgerScope::new(Environment::Sandbox, "client"));
            Self {
                file,
                ledger,
                context,
                _dir: dir,
            }
        }

        async fn plan(&self, options: &RunOptions) -> Plan {
            plan_payouts(
                &self.file,
                self.ledger.as_ref(),
                &self.context,
                options,
                false,
            )
            .await
            .unwrap()
        }

        async fn run(&self, client: &Client, plan: Plan, options: RunOptions) -> Summary {
            run_payouts(
                client,
                &self.file,
                self.ledger.clone(),
                plan,
                options,
                Arc::new(Silent),
                &Stop::new(),
            )
            .await
            .unwrap()
        }
    }

    fn sent(transaction: i64) -> AttemptState {
        AttemptState::Sent {
            transaction: Some(transaction),
        }
    }

    /// An answer that comes after a person's contrary word (the row was
    /// judged not credited and sent again while its first send was on its
    /// way): both credits are kept, the row is a conflict that no run sends
    /// again, and a person's word after cancelling the extra credit settles
    /// it — the vendor's answers kept throughout.
    #[tokio::test(flavor = "multi_thread")]
    async fn an_answer_after_a_persons_contrary_word_is_kept_and_reported() {
        let stand_in = StandInServer::start(0, Faults::none()).await.unwrap();
        let one = OneRow::new();
        let options = RunOptions::default();
        let plan = one.plan(&options).await;
        let run = plan.begun.as_ref().unwrap().run.id.clone();
        drop(plan);
        credit_after_a_contrary_word(&one.ledger, &run).await;

        let plan = one.plan(&options).await;
        assert_eq!((plan.conflicts, plan.to_send), (1, 0));
        let client = stand_in.client(Environment::Sandbox);
        let retry = RunOptions {
            retry_refused: true,
            ..RunOptions::default()
        };
        let summary = one.run(&client, plan, retry).await;
        assert_eq!(summary.count(RowStatus::Conflict), 1);
        assert!(!summary.complete());
        assert_eq!(stand_in.requests_received(Operation::SendPoints), 0);

        // The extra credit cancelled, then a person's word: credited.
        cancel_the_extra_credit(&one.ledger, &run).await;
        let confirm = RunOptions {
            confirm_sent: lines(&[2]),
            ..RunOptions::default()
        };
        let plan = one.plan(&confirm).await;
        let summary = one.run(&client, plan, confirm).await;
        assert_eq!(summary.count(RowStatus::ConfirmedSent), 1, "{summary}");
        let plan = one.plan(&options).await;
        assert_eq!((plan.already_sent, plan.conflicts), (1, 0));
        let history = one.ledger.history(&run, None).await.unwrap();
        assert_eq!(
            history[&2].attempts[0].state,
            sent(7),
            "the vendor's answer stays"
        );
        assert_eq!(history[&2].attempts[0].overruled, None);
        assert_eq!(stand_in.requests_received(Operation::SendPoints), 0);
    }

    /// Attempt 1 leaves; a person finds it not credited; attempt 2 is sent
    /// and credited; then attempt 1's answer comes: credited too.
    async fn credit_after_a_contrary_word(ledger: &SqliteLedger, run: &str) {
        assert!(ledger.claim(run, 2, 0).await.unwrap());
        assert!(ledger.judge(run, 2, 1, false).await.unwrap());
        assert!(ledger.claim(run, 2, 1).await.unwrap());
        ledger.record(run, 2, 2, sent(8)).await.unwrap();
        ledger.record(run, 2, 1, sent(7)).await.unwrap();
        let history = ledger.history(run, None).await.unwrap();
        assert_eq!(history[&2].attempts[0].state, sent(7), "the answer is kept");
        assert_eq!(
            history[&2].attempts[0].overruled,
            Some(crate::ledger::Judgment::NotCredited),
            "beside the word it contradicts"
        );
    }

    /// The extra credit (attempt 2, transaction 8) cancelled, as
    /// `payout-undo --transaction 8` records it.
    async fn cancel_the_extra_credit(ledger: &SqliteLedger, run: &str) {
        assert!(ledger.claim_cancel(run, 2, 2).await.unwrap());
        ledger
            .record(run, 2, 2, AttemptState::Cancelled { transaction: 8 })
            .await
            .unwrap();
    }

    fn lines(lines: &[u64]) -> super::Selection {
        super::Selection::Lines(lines.iter().copied().collect())
    }

    fn status_of(answer: Result<SendPointsResponse, Error>) -> (RowStatus, Option<Duration>) {
        let answer = classify(answer, 1);
        (answer.status, answer.retry_after)
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
