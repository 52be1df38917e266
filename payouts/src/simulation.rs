//! The payout protocol under deterministic simulation: up to three workers
//! (the same file twice, as two cron jobs; a renamed copy; a run started
//! again after a crash) run the real code — `plan_payouts`, the
//! orchestrator, `next_step` — against a ledger and a vendor in memory, on
//! one thread whose clock only moves when every task waits. A seeded
//! generator chooses everything: the rows, the workers, how the vendor
//! answers (credits and loses the answer, 429, 500, 202, refuses, is
//! slow), how many times each step yields to the others (the interleaving),
//! and which named step of which worker crashes. A crash drops everything
//! the worker had not made durable and lets go of its locks, as a killed
//! process does; then a person settles what is in doubt against the
//! vendor's ledger, as the README tells them to.
//!
//! After every run: no recipient is credited twice (no run is told to pay
//! again), and every credit the vendor made is recorded in the ledger
//! (credited, or in doubt). A failure prints its seed; `XOXODAY_SIMULATION_SEED`
//! replays it, printing every step.
//!
//! The ledger here is a model of the SQL ledgers' semantics (one write lock,
//! as SQLite's; claims by attempt; answers always recorded; outcomes lost
//! with the process until synced, as a machine's crash would lose them): the
//! engines' own crash safety is theirs, and their SQL is tested against real
//! databases (`cli/tests/it/ledger_of_record.rs`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use xoxoday_reward_points::types::SendPointsResponse;
use xoxoday_reward_points::{Environment, Error, Operation, UnknownCause};

use crate::ledger::{
    AlikeRun, Attempt, AttemptState, Judgment, Lease, Ledger, LedgerFuture, LedgerRow, LedgerScope,
    LedgerTransaction, RecordedContent, RowHistory, RunHistory, RunRecord, recipient_key,
};
use crate::orchestrator::Item;
use crate::outcome::{Silent, Stop};
use crate::payout_file::{PayoutFile, RunDefaults};
use crate::run::{LedgerContext, RunOptions, Selection, plan_payouts, run_payouts_with};
use crate::vendor::{Vendor, VendorFuture};
use xoxoday_reward_points_testing::simulation::{Harness, check_protocol, within_a_day};

/// Runs, unless `XOXODAY_SIMULATION_RUNS` says otherwise: the test
/// command's budget.
const DEFAULT_RUNS: u64 = 1_000;

/// The named steps a process can crash at: the ledger's statements and
/// the vendor's requests, each before and after it takes effect.
const STEPS: [&str; 14] = [
    "begin",
    "commit",
    "lease",
    "claim",
    "claimed",
    "request leaves",
    "vendor credited",
    "record",
    "recorded",
    "sync",
    "judge",
    "claim cancel",
    "cancel leaves",
    "vendor cancelled",
];

/// Durable state: what a committed transaction left.
#[derive(Clone, Debug, Default)]
struct Durable {
    runs: Vec<RunRecord>,
    rows: BTreeMap<(String, u64), LedgerRow>,
    attempts: BTreeMap<(String, u64, u32), (AttemptState, Option<Judgment>)>,
    overlaps: BTreeSet<(String, String)>,
}

#[derive(Clone, Debug)]
struct Credit {
    email: String,
    points: u64,
    transaction: i64,
    cancelled: bool,
    /// The run (its name) and line whose send made it.
    run: String,
    line: u64,
}

/// An attempt's outcome: (run, line, attempt, state).
type Outcome = (String, u64, u32, AttemptState);

/// Everything the simulated processes share.
struct World {
    harness: Arc<Harness>,
    /// Which engine's semantics: PostgreSQL's (beginnings serialized by an
    /// advisory lock, every other statement on its own, each reading what
    /// is committed when it runs), else SQLite's (one write lock for
    /// every write and every beginning).
    postgres: bool,
    /// The database's one write lock (SQLite's), or the advisory lock that
    /// serializes beginnings (PostgreSQL's).
    write_lock: Arc<tokio::sync::Mutex<()>>,
    durable: Mutex<Durable>,
    /// Each process's outcomes recorded but not yet durable: lost if it
    /// crashes (it never writes again).
    pending: Mutex<BTreeMap<usize, Vec<Outcome>>>,
    /// Leases: (key, process).
    leases: Mutex<BTreeSet<(i64, usize)>>,
    credits: Mutex<Vec<Credit>>,
    /// The run each paying process sends for (its name).
    runs_of: Mutex<BTreeMap<usize, String>>,
    /// What a real ledger would have refused.
    violations: Mutex<Vec<String>>,
}

impl World {
    fn new(harness: Arc<Harness>) -> Arc<Self> {
        Arc::new(Self {
            postgres: harness.rng(|rng| rng.bool()),
            harness,
            write_lock: Arc::default(),
            durable: Mutex::default(),
            pending: Mutex::default(),
            leases: Mutex::default(),
            credits: Mutex::default(),
            runs_of: Mutex::default(),
            violations: Mutex::default(),
        })
    }

    fn rng<T>(&self, draw: impl FnOnce(&mut fastrand::Rng) -> T) -> T {
        self.harness.rng(draw)
    }

    fn spawn_process(&self) -> usize {
        self.harness.spawn_process()
    }

    fn crashed(&self, process: usize) -> bool {
        self.harness.crashed(process)
    }

    async fn step(&self, process: usize, name: &'static str) {
        self.harness.step(process, name).await;
    }

    /// Makes `process`'s recorded outcomes durable (under the write lock).
    fn flush(&self, process: usize, durable: &mut Durable) {
        let pending = self.pending.lock().unwrap().remove(&process);
        for (run, line, attempt, state) in pending.into_iter().flatten() {
            if !record(durable, &run, line, attempt, state) {
                // The real ledgers refuse it, and stop the run.
                self.violations.lock().unwrap().push(format!(
                    "p{process} recorded an outcome of attempt {attempt} of line {line}, which \
                     was never claimed"
                ));
            }
        }
    }

    fn held_by_other(&self, key: i64, process: usize) -> bool {
        self.leases
            .lock()
            .unwrap()
            .iter()
            .any(|(held, holder)| *held == key && *holder != process && !self.crashed(*holder))
    }
}

/// The vendor's answer to attempt `attempt` lands, whatever a person said;
/// a word it contradicts is kept beside it (the `record` statement's model).
/// `false` when the attempt was never claimed.
fn record(durable: &mut Durable, run: &str, line: u64, attempt: u32, state: AttemptState) -> bool {
    let Some(entry) = durable.attempts.get_mut(&(run.to_owned(), line, attempt)) else {
        return false;
    };
    let said = &entry.0;
    let overruled = match said {
        AttemptState::NotCredited if state.may_be_credited() => Some(Judgment::NotCredited),
        AttemptState::ConfirmedSent if !state.may_be_credited() => Some(Judgment::Credited),
        _ => entry.1,
    };
    *entry = (state, overruled);
    true
}

fn latest(durable: &Durable, run: &str, line: u64) -> u32 {
    durable
        .attempts
        .range((run.to_owned(), line, 0)..=(run.to_owned(), line, u32::MAX))
        .map(|((_, _, attempt), _)| *attempt)
        .max()
        .unwrap_or(0)
}

fn history(durable: &Durable, run: &str, lines: Option<&[u64]>) -> RunHistory {
    let mut history = RunHistory::new();
    for ((of, line, number), (state, overruled)) in &durable.attempts {
        if of == run && lines.is_none_or(|lines| lines.contains(line)) {
            history.entry(*line).or_default().attempts.push(Attempt {
                number: *number,
                state: state.clone(),
                overruled: *overruled,
            });
        }
    }
    history
}

/// One process's handle on the simulated ledger.
struct SimLedger {
    world: Arc<World>,
    process: usize,
}

impl SimLedger {
    /// Runs `write` (one statement) after this process's outcomes: under
    /// SQLite's write lock, or on its own (PostgreSQL's row locks make one
    /// statement atomic, as the world's mutex does here).
    async fn write<T>(&self, write: impl FnOnce(&mut Durable) -> T) -> T {
        let _lock = match self.world.postgres {
            false => Some(self.world.write_lock.lock().await),
            true => None,
        };
        if self.world.crashed(self.process) {
            // A dead process's statement never runs.
            std::future::pending::<()>().await;
        }
        let mut durable = self.world.durable.lock().unwrap();
        self.world.flush(self.process, &mut durable);
        write(&mut durable)
    }
}

impl Ledger for SimLedger {
    fn location(&self) -> String {
        "the simulated ledger".into()
    }

    fn transaction(&self, _dry: bool) -> LedgerFuture<'_, Box<dyn LedgerTransaction + '_>> {
        Box::pin(async move {
            self.world.step(self.process, "begin").await;
            let guard = self.world.write_lock.clone().lock_owned().await;
            if self.world.crashed(self.process) {
                std::future::pending::<()>().await;
            }
            let snapshot = self.world.durable.lock().unwrap().clone();
            Ok(Box::new(SimTransaction {
                ledger: self,
                _guard: guard,
                snapshot,
                own: Durable::default(),
            }) as Box<dyn LedgerTransaction>)
        })
    }

    fn lease(&self, key: i64) -> LedgerFuture<'_, Lease> {
        Box::pin(async move {
            self.world.step(self.process, "lease").await;
            self.world
                .leases
                .lock()
                .unwrap()
                .insert((key, self.process));
            let (world, process) = (self.world.clone(), self.process);
            Ok(Lease::releasing(move || {
                world.leases.lock().unwrap().remove(&(key, process));
            }))
        })
    }

    fn claim(&self, run: &str, line: u64, after: u32) -> LedgerFuture<'_, bool> {
        let run = run.to_owned();
        Box::pin(async move {
            self.world.step(self.process, "claim").await;
            let claimed = self
                .write(|durable| {
                    if latest(durable, &run, line) != after {
                        return false;
                    }
                    durable.attempts.insert(
                        (run.clone(), line, after + 1),
                        (AttemptState::Sending, None),
                    );
                    true
                })
                .await;
            self.world.harness.trace(|| {
                format!(
                    "p{} claims line {line} attempt {}: {claimed}",
                    self.process,
                    after + 1
                )
            });
            self.world.step(self.process, "claimed").await;
            Ok(claimed)
        })
    }

    fn judge(&self, run: &str, line: u64, attempt: u32, credited: bool) -> LedgerFuture<'_, bool> {
        let run = run.to_owned();
        Box::pin(async move {
            self.world.step(self.process, "judge").await;
            let word = if credited {
                AttemptState::ConfirmedSent
            } else {
                AttemptState::NotCredited
            };
            self.world.harness.trace(|| {
                format!(
                    "p{} judges line {line} attempt {attempt} credited={credited}",
                    self.process
                )
            });
            let judged = self
                .write(|durable| {
                    let newest = latest(durable, &run, line);
                    let Some(entry) = durable.attempts.get_mut(&(run.clone(), line, attempt))
                    else {
                        return false;
                    };
                    if entry.0.in_doubt() && entry.1.is_none() {
                        entry.0 = word;
                        return true;
                    }
                    if entry.1.is_none() {
                        return false;
                    }
                    entry.1 = None;
                    if !credited || !entry.0.credited() {
                        durable
                            .attempts
                            .insert((run.clone(), line, newest + 1), (word, None));
                    }
                    true
                })
                .await;
            Ok(judged)
        })
    }

    fn claim_cancel(&self, run: &str, line: u64, attempt: u32) -> LedgerFuture<'_, bool> {
        let run = run.to_owned();
        Box::pin(async move {
            self.world.step(self.process, "claim cancel").await;
            Ok(self
                .write(
                    |durable| match durable.attempts.get_mut(&(run.clone(), line, attempt)) {
                        Some(entry)
                            if matches!(
                                entry.0,
                                AttemptState::Sent {
                                    transaction: Some(_)
                                } | AttemptState::CancelRefused { .. }
                            ) =>
                        {
                            let transaction = entry.0.transaction().unwrap_or_default();
                            entry.0 = AttemptState::Cancelling { transaction };
                            true
                        }
                        _ => false,
                    },
                )
                .await)
        })
    }

    fn record(
        &self,
        run: &str,
        line: u64,
        attempt: u32,
        state: AttemptState,
    ) -> LedgerFuture<'_, ()> {
        let run = run.to_owned();
        Box::pin(async move {
            self.world.step(self.process, "record").await;
            self.world
                .pending
                .lock()
                .unwrap()
                .entry(self.process)
                .or_default()
                .push((run, line, attempt, state));
            self.world.step(self.process, "recorded").await;
            Ok(())
        })
    }

    fn sync(&self) -> LedgerFuture<'_, ()> {
        Box::pin(async move {
            self.world.step(self.process, "sync").await;
            self.write(|_| ()).await;
            Ok(())
        })
    }

    fn history<'a>(
        &'a self,
        run: &'a str,
        lines: Option<&'a [u64]>,
    ) -> LedgerFuture<'a, RunHistory> {
        Box::pin(async move { Ok(self.write(|durable| history(durable, run, lines)).await) })
    }

    fn rows<'a>(&'a self, run: &'a str, lines: &'a [u64]) -> LedgerFuture<'a, Vec<LedgerRow>> {
        Box::pin(async move {
            let durable = self.world.durable.lock().unwrap();
            Ok(durable
                .rows
                .iter()
                .filter(|((of, line), _)| of == run && lines.contains(line))
                .map(|(_, row)| row.clone())
                .collect())
        })
    }

    fn overruled(&self, run: &str) -> LedgerFuture<'_, Vec<u64>> {
        let run = run.to_owned();
        Box::pin(async move {
            let durable = self.world.durable.lock().unwrap();
            let lines: BTreeSet<u64> = durable
                .attempts
                .iter()
                .filter(|((of, _, _), (_, overruled))| *of == run && overruled.is_some())
                .map(|((_, line, _), _)| *line)
                .collect();
            Ok(lines.into_iter().collect())
        })
    }

    fn held_elsewhere(&self, key: i64) -> LedgerFuture<'_, bool> {
        Box::pin(async move { Ok(self.world.held_by_other(key, self.process)) })
    }

    fn shared(&self) -> bool {
        false
    }
}

/// A beginning: the write lock held, changes made to a copy, kept on commit.
struct SimTransaction<'a> {
    ledger: &'a SimLedger,
    _guard: tokio::sync::OwnedMutexGuard<()>,
    /// What its statements read: the committed state (as of the beginning
    /// on SQLite, as of each statement on PostgreSQL) with its own writes.
    snapshot: Durable,
    /// Its own writes, kept apart on PostgreSQL to read others' commits
    /// under them, and to commit beside them.
    own: Durable,
}

impl SimTransaction<'_> {
    /// Before a statement that reads: on PostgreSQL (READ COMMITTED),
    /// others go on between statements and each statement sees what they
    /// committed meanwhile.
    async fn read(&mut self) {
        let world = &self.ledger.world;
        if !world.postgres {
            return;
        }
        world.harness.interleave(self.ledger.process).await;
        let mut snapshot = world.durable.lock().unwrap().clone();
        merge(&mut snapshot, &self.own);
        self.snapshot = snapshot;
    }
}

/// `own`'s runs, rows and overlaps written into `into`.
fn merge(into: &mut Durable, own: &Durable) {
    for run in &own.runs {
        if !into.runs.iter().any(|known| known.id == run.id) {
            into.runs.push(run.clone());
        }
    }
    for (key, row) in &own.rows {
        into.rows.entry(key.clone()).or_insert_with(|| row.clone());
    }
    into.overlaps.extend(own.overlaps.iter().cloned());
}

fn ready<'a, T: Send + 'a>(value: T) -> LedgerFuture<'a, T> {
    Box::pin(async move { Ok(value) })
}

impl LedgerTransaction for SimTransaction<'_> {
    fn runs_named<'a>(
        &'a mut self,
        scope: &'a LedgerScope,
        name: &'a str,
    ) -> LedgerFuture<'a, Vec<RunRecord>> {
        Box::pin(async move {
            self.read().await;
            let mut runs: Vec<RunRecord> = self
                .snapshot
                .runs
                .iter()
                .filter(|run| run.scope == *scope && run.name == name)
                .cloned()
                .collect();
            runs.reverse();
            Ok(runs)
        })
    }

    fn runs<'a>(&'a mut self, ids: &'a [String]) -> LedgerFuture<'a, Vec<RunRecord>> {
        Box::pin(async move {
            self.read().await;
            Ok(self
                .snapshot
                .runs
                .iter()
                .filter(|run| ids.contains(&run.id))
                .cloned()
                .collect())
        })
    }

    fn runs_with_content<'a>(
        &'a mut self,
        scope: &'a LedgerScope,
        sha256: &'a str,
    ) -> LedgerFuture<'a, Vec<RunRecord>> {
        Box::pin(async move {
            self.read().await;
            Ok(self
                .snapshot
                .runs
                .iter()
                .filter(|run| run.scope == *scope && run.sha256 == sha256)
                .cloned()
                .collect())
        })
    }

    fn create_run<'a>(
        &'a mut self,
        run: &'a RunRecord,
        rows: Arc<[LedgerRow]>,
    ) -> LedgerFuture<'a, ()> {
        for written in [&mut self.snapshot, &mut self.own] {
            if !written.runs.iter().any(|known| known.id == run.id) {
                written.runs.push(run.clone());
            }
            for row in rows.iter() {
                written
                    .rows
                    .entry((run.id.clone(), row.line))
                    .or_insert_with(|| row.clone());
            }
        }
        ready(())
    }

    fn rows<'a>(&'a mut self, run: &'a str) -> LedgerFuture<'a, Vec<LedgerRow>> {
        Box::pin(async move {
            self.read().await;
            Ok(self
                .snapshot
                .rows
                .iter()
                .filter(|((of, _), _)| of == run)
                .map(|(_, row)| row.clone())
                .collect())
        })
    }

    fn contents<'a>(&'a mut self, run: &'a str) -> LedgerFuture<'a, Vec<RecordedContent>> {
        Box::pin(async move {
            self.read().await;
            Ok(self
                .snapshot
                .rows
                .iter()
                .filter(|((of, _), _)| of == run)
                .map(|(_, row)| RecordedContent::of(row))
                .collect())
        })
    }

    fn history<'a>(&'a mut self, run: &'a str) -> LedgerFuture<'a, RunHistory> {
        Box::pin(async move {
            self.read().await;
            Ok(history(&self.snapshot, run, None))
        })
    }

    fn put_attempts<'a>(&'a mut self, _: &'a str, _: &'a [(u64, Attempt)]) -> LedgerFuture<'a, ()> {
        ready(())
    }

    fn alike_elsewhere<'a>(
        &'a mut self,
        scope: &'a LedgerScope,
        run: &'a str,
        lines: &'a [u64],
    ) -> LedgerFuture<'a, Vec<AlikeRun>> {
        Box::pin(async move {
            self.read().await;
            Ok(alike(&self.snapshot, scope, run, lines))
        })
    }

    fn allow_overlaps<'a>(
        &'a mut self,
        run: &'a str,
        others: &'a [String],
    ) -> LedgerFuture<'a, ()> {
        for other in others {
            for written in [&mut self.snapshot, &mut self.own] {
                written.overlaps.insert((run.to_owned(), other.clone()));
            }
        }
        ready(())
    }

    fn live(&mut self, key: i64) -> LedgerFuture<'_, bool> {
        Box::pin(async move {
            self.read().await;
            Ok(self.ledger.world.held_by_other(key, self.ledger.process))
        })
    }

    fn imported<'a>(
        &'a mut self,
        _: &'a str,
        _: &'a str,
        _: &'a LedgerScope,
    ) -> LedgerFuture<'a, bool> {
        ready(false)
    }

    fn mark_imported<'a>(
        &'a mut self,
        _: &'a str,
        _: &'a str,
        _: &'a LedgerScope,
    ) -> LedgerFuture<'a, ()> {
        ready(())
    }

    fn commit(self: Box<Self>) -> LedgerFuture<'static, ()> {
        let this = *self;
        let world = this.ledger.world.clone();
        let process = this.ledger.process;
        let (snapshot, own, guard) = (this.snapshot, this.own, this._guard);
        Box::pin(async move {
            world.step(process, "commit").await;
            let mut durable = world.durable.lock().unwrap();
            match world.postgres {
                // Others committed meanwhile: its writes go beside theirs.
                true => merge(&mut durable, &own),
                false => *durable = snapshot,
            }
            drop(durable);
            drop(guard);
            Ok(())
        })
    }

    fn rollback(self: Box<Self>) -> LedgerFuture<'static, ()> {
        ready(())
    }
}

/// The rows of other runs of `scope` alike `run`'s `lines`, and how many
/// may be credited (the `alike_elsewhere` statement's model).
fn alike(snapshot: &Durable, scope: &LedgerScope, run: &str, lines: &[u64]) -> Vec<AlikeRun> {
    let mut alike: BTreeMap<String, (BTreeSet<u64>, BTreeSet<u64>)> = BTreeMap::new();
    for ((of, line), mine) in &snapshot.rows {
        if of != run || !lines.contains(line) {
            continue;
        }
        for ((other_run, other_line), other) in &snapshot.rows {
            let other_scope = snapshot
                .runs
                .iter()
                .find(|r| r.id == *other_run)
                .map(|r| &r.scope);
            if other_run == run
                || other_scope != Some(scope)
                || recipient_key(&other.email) != recipient_key(&mine.email)
                || other.points != mine.points
                || snapshot
                    .overlaps
                    .contains(&(run.to_owned(), other_run.clone()))
            {
                continue;
            }
            let credited = history(snapshot, other_run, Some(&[*other_line]))
                .get(other_line)
                .is_some_and(RowHistory::may_be_credited);
            let entry = alike.entry(other_run.clone()).or_default();
            entry.0.insert(*line);
            if credited {
                entry.1.insert(*line);
            }
        }
    }
    alike
        .into_iter()
        .map(|(run, (rows, credited))| AlikeRun {
            run,
            rows: rows.len() as u64,
            credited: credited.len() as u64,
        })
        .collect()
}

/// One process's handle on the simulated vendor.
struct SimVendor {
    world: Arc<World>,
    process: usize,
}

fn unknown(cause: UnknownCause, operation: Operation) -> Error {
    Error::OutcomeUnknown { operation, cause }
}

impl Vendor for SimVendor {
    fn environment(&self) -> Environment {
        Environment::Sandbox
    }

    fn send<'a>(&'a self, item: &'a Item) -> VendorFuture<'a, SendPointsResponse> {
        Box::pin(async move {
            let world = &self.world;
            world.step(self.process, "request leaves").await;
            let operation = Operation::SendPoints;
            let roll = world.rng(|rng| rng.u8(..100));
            match roll {
                0..8 => {
                    return Err(Error::RateLimited {
                        operation,
                        retry_after: Some(Duration::from_secs(1)),
                    });
                }
                8..12 => {
                    return Err(unknown(
                        UnknownCause::ServerError { status: 500 },
                        operation,
                    ));
                }
                12..16 => {
                    return Err(Error::UnexpectedStatus {
                        operation,
                        status: 400,
                        message: None,
                    });
                }
                _ => {}
            }
            // Slow on the way: the credit lands a while after the request
            // left (a person looking meanwhile sees no credit yet).
            if world.rng(|rng| rng.u8(..5)) == 0 {
                tokio::time::sleep(Duration::from_millis(world.rng(|rng| rng.u64(1..400)))).await;
            }
            let transaction = {
                let mut credits = world.credits.lock().unwrap();
                let transaction = 1_000 + credits.len() as i64;
                let run = world.runs_of.lock().unwrap()[&self.process].clone();
                credits.push(Credit {
                    email: item.email.clone(),
                    points: item.points,
                    transaction,
                    cancelled: false,
                    run,
                    line: item.line,
                });
                transaction
            };
            world.harness.trace(|| {
                format!(
                    "p{} line {} credited: transaction {transaction}",
                    self.process, item.line
                )
            });
            // Slow: the answer takes a while (other steps go on meanwhile).
            if world.rng(|rng| rng.u8(..10)) == 0 {
                tokio::time::sleep(Duration::from_millis(world.rng(|rng| rng.u64(1..200)))).await;
            }
            world.step(self.process, "vendor credited").await;
            match world.rng(|rng| rng.u8(..100)) {
                0..10 => Err(unknown(UnknownCause::TimedOut, operation)),
                10..14 => Err(unknown(
                    UnknownCause::UndocumentedStatus { status: 202 },
                    operation,
                )),
                14..18 => Err(unknown(
                    UnknownCause::ServerError { status: 502 },
                    operation,
                )),
                _ => Ok(serde_json::from_value(serde_json::json!({
                    "data": { "unique_id": transaction, "email": item.email, "points": item.points }
                }))
                .expect("the playground's answer shape")),
            }
        })
    }

    fn cancel(&self, transaction: i64) -> VendorFuture<'_, ()> {
        Box::pin(async move {
            let world = &self.world;
            world.step(self.process, "cancel leaves").await;
            let operation = Operation::CancelPoints;
            if world.rng(|rng| rng.u8(..10)) == 0 {
                return Err(Error::RateLimited {
                    operation,
                    retry_after: Some(Duration::from_secs(1)),
                });
            }
            let cancelled = {
                let mut credits = world.credits.lock().unwrap();
                match credits
                    .iter_mut()
                    .find(|credit| credit.transaction == transaction && !credit.cancelled)
                {
                    Some(credit) => {
                        credit.cancelled = true;
                        true
                    }
                    None => false,
                }
            };
            world.step(self.process, "vendor cancelled").await;
            if !cancelled {
                return Err(Error::UnexpectedStatus {
                    operation,
                    status: 400,
                    message: None,
                });
            }
            match world.rng(|rng| rng.u8(..10)) {
                0 => Err(unknown(UnknownCause::TimedOut, operation)),
                _ => Ok(()),
            }
        })
    }
}

/// One run: its seed's rows and workers.
struct Scenario {
    files: Vec<std::path::PathBuf>,
    /// The workers started at once (which file, what they do): payouts,
    /// sometimes an undo, sometimes a person settling what they see.
    workers: Vec<(usize, Work)>,
    /// Workers that undo a file's payout after the first ones ended (the
    /// next day).
    undo_later: Vec<(usize, Work)>,
}

fn scenario(world: &World, dir: &Path) -> Scenario {
    let rows = world.rng(|rng| rng.u64(2..7));
    let mut text = String::from("name,email,points\n");
    for n in 1..=rows {
        text.push_str(&format!("User {n},user{n}@example.com,{}\n", 10 * n));
    }
    let mut files = vec![dir.join("march.csv")];
    std::fs::write(&files[0], &text).unwrap();
    // Two cron jobs, one paying the file and one a renamed copy of it,
    // started together: the protocol between runs, in a third of the runs.
    let copies_raced = world.rng(|rng| rng.u8(..3)) == 0;
    // A renamed copy, or the same file only.
    if copies_raced || world.rng(|rng| rng.bool()) {
        let copy = dir.join("march-copy.csv");
        std::fs::write(&copy, &text).unwrap();
        files.push(copy);
    }
    let file = || world.rng(|rng| rng.usize(..files.len()));
    let concurrency = || world.rng(|rng| rng.usize(1..4));
    let mut workers: Vec<(usize, Work)> = (0..world.rng(|rng| rng.usize(2..4)))
        .map(|_| match world.rng(|rng| rng.u8(..6)) {
            0 => (file(), Work::Undo(concurrency())),
            _ => (
                file(),
                Work::Pay(RunOptions {
                    concurrency: concurrency(),
                    ..RunOptions::default()
                }),
            ),
        })
        .collect();
    if copies_raced {
        workers = (0..2)
            .map(|file| {
                let options = RunOptions {
                    concurrency: concurrency(),
                    ..RunOptions::default()
                };
                (file, Work::Pay(options))
            })
            .collect();
    }
    if world.rng(|rng| rng.u8(..3)) == 0 {
        workers.push((file(), Work::Settle(world.rng(|rng| rng.u64(..400)))));
    }
    let undo_later = match world.rng(|rng| rng.u8(..3)) {
        0 => (0..world.rng(|rng| rng.usize(1..3)))
            .map(|_| (file(), Work::Undo(concurrency())))
            .collect(),
        _ => Vec::new(),
    };
    Scenario {
        files,
        workers,
        undo_later,
    }
}

fn context() -> LedgerContext {
    let mut context =
        LedgerContext::new(LedgerScope::new(Environment::Sandbox, "simulated-client"));
    context.scan_inline = true;
    context
}

fn defaults() -> RunDefaults {
    RunDefaults {
        sender_email: Some("admin@example.com".into()),
        expiry_months: None,
    }
}

/// What a worker does.
#[derive(Clone, Debug)]
enum Work {
    /// Pays the file, with these options.
    Pay(RunOptions),
    /// Cancels every credit of the file's run, this many at a time.
    Undo(usize),
    /// A person: after this many milliseconds, settles what is in doubt
    /// (see [`look`]), while others may still be running.
    Settle(u64),
}

/// A worker: the payout of `file`, its undo, or a person settling it.
async fn worker(world: Arc<World>, process: usize, file: std::path::PathBuf, work: Work) {
    let ledger = Arc::new(SimLedger {
        world: world.clone(),
        process,
    });
    let vendor = Arc::new(SimVendor {
        world: world.clone(),
        process,
    });
    let payout = PayoutFile::open(&file, defaults()).expect("a sound file");
    let outcome = match work {
        Work::Pay(options) => pay(vendor, ledger, &payout, options).await,
        Work::Settle(after) => {
            tokio::time::sleep(Duration::from_millis(after)).await;
            match look(&world, &ledger, &payout).await {
                Some(options) => pay(vendor, ledger, &payout, options).await,
                None => Ok("nothing in doubt".into()),
            }
        }
        Work::Undo(concurrency) => crate::undo::undo_payouts_with(
            vendor,
            ledger,
            &file,
            &context(),
            &Selection::All,
            None,
            concurrency,
            Arc::new(Silent),
            &Stop::new(),
        )
        .await
        .map(|summary| summary.to_string())
        .map_err(|error| error.to_string()),
    };
    world
        .harness
        .trace(|| format!("p{process} ended: {outcome:?}"));
}

/// Plans and runs `payout` with `options`, as `reward-points payout` does.
async fn pay(
    vendor: Arc<SimVendor>,
    ledger: Arc<SimLedger>,
    payout: &PayoutFile,
    options: RunOptions,
) -> Result<String, String> {
    let plan = plan_payouts(payout, ledger.as_ref(), &context(), &options, false)
        .await
        .map_err(|error| error.to_string())?;
    ledger
        .world
        .runs_of
        .lock()
        .unwrap()
        .insert(ledger.process, plan.run.clone());
    run_payouts_with(
        vendor,
        payout,
        ledger,
        plan,
        options,
        Arc::new(Silent),
        &Stop::new(),
    )
    .await
    .map(|summary| summary.to_string())
    .map_err(|error| error.to_string())
}

/// Runs `processes` until each has ended or crashed.
async fn run_all(world: &Arc<World>, processes: Vec<(usize, std::path::PathBuf, Work)>) {
    let processes = processes
        .into_iter()
        .map(|(process, file, work)| (process, worker(world.clone(), process, file, work)))
        .collect();
    world.harness.run_all(processes).await;
}

/// Runs `processes`; those that crashed are started again (an operator
/// runs the command again), once.
async fn run_and_rerun(world: &Arc<World>, processes: Vec<(usize, std::path::PathBuf, Work)>) {
    run_all(world, processes.clone()).await;
    let again = processes
        .into_iter()
        .filter(|(process, _, _)| world.crashed(*process))
        .map(|(_, file, work)| (world.spawn_process(), file, work))
        .collect();
    run_all(world, again).await;
}

/// A person settles each file until nothing is in doubt (three looks).
async fn settle(world: &Arc<World>, files: &[std::path::PathBuf]) {
    for file in files {
        for _ in 0..3 {
            let person = (world.spawn_process(), file.clone(), Work::Settle(0));
            run_all(world, vec![person]).await;
        }
    }
}

/// What a person who reads the README does about `payout`'s rows in doubt
/// (or in conflict): they look (a dry run), check each against the
/// vendor's ledger, and say what it is — `--confirm-sent` for those the
/// vendor credited, `--resend-in-doubt` for those it did not. `None` when
/// there is nothing to say.
async fn look(world: &World, ledger: &SimLedger, payout: &PayoutFile) -> Option<RunOptions> {
    let plan = plan_payouts(payout, ledger, &context(), &RunOptions::default(), true)
        .await
        .ok()?;
    let durable = world.durable.lock().unwrap().clone();
    let sha256 = &payout.identity().sha256;
    let run = durable
        .runs
        .iter()
        .rev()
        .find(|run| run.name == plan.run && run.sha256 == *sha256)?;
    // While a process of the run holds its lease, a row without an outcome
    // is in flight there (the tool says so): the person waits for it.
    let in_flight_elsewhere = world.held_by_other(
        crate::ledger::lease_key(&run.scope, &run.name, &run.sha256),
        ledger.process,
    );
    let credits = world.credits.lock().unwrap().clone();
    let mut credited = Vec::new();
    let mut not_credited = Vec::new();
    for (line, row) in history(&durable, &run.id, None) {
        let latest = row.latest().map(|latest| &latest.state);
        let open = match latest {
            Some(AttemptState::Sending) => !in_flight_elsewhere,
            Some(state) => state.in_doubt(),
            None => false,
        } || crate::steps::conflict(&row).is_some();
        if !open {
            continue;
        }
        // The vendor's ledger says what this row's sends credited.
        let paid = credits
            .iter()
            .any(|credit| credit.run == run.name && credit.line == line && !credit.cancelled);
        if paid {
            credited.push(line);
        } else if row.attempts.iter().all(|attempt| !attempt.state.credited()) {
            not_credited.push(line);
        }
    }
    if credited.is_empty() && not_credited.is_empty() {
        return None;
    }
    Some(RunOptions {
        confirm_sent: Selection::Lines(credited.into_iter().collect()),
        resend_in_doubt: Selection::Lines(not_credited.into_iter().collect()),
        concurrency: 2,
        ..RunOptions::default()
    })
}

/// What must hold after every run.
fn check(world: &World) -> Result<(), String> {
    if let Some(violation) = world.violations.lock().unwrap().first() {
        return Err(violation.clone());
    }
    let credits = world.credits.lock().unwrap().clone();
    let durable = world.durable.lock().unwrap().clone();
    no_recipient_credited_twice(&credits)?;
    for (n, credit) in credits.iter().enumerate() {
        row_credited_once(&credits[..n], credit)?;
        credit_recorded(&durable, credit)?;
    }
    Ok(())
}

/// No recipient holds two live credits of the same points, whatever runs
/// made them: nothing in the simulation is told to pay again.
fn no_recipient_credited_twice(credits: &[Credit]) -> Result<(), String> {
    let mut live: BTreeMap<(&str, u64), Vec<i64>> = BTreeMap::new();
    for credit in credits.iter().filter(|credit| !credit.cancelled) {
        live.entry((&credit.email, credit.points))
            .or_default()
            .push(credit.transaction);
    }
    match live.iter().find(|(_, transactions)| transactions.len() > 1) {
        Some(((email, points), transactions)) => Err(format!(
            "{email} was credited {points} points {} times (transactions {transactions:?}) with \
             no run told to pay again",
            transactions.len()
        )),
        None => Ok(()),
    }
}

/// A row's sends credit once: never a second credit beside a live one,
/// nor after an undo cancelled it.
fn row_credited_once(earlier: &[Credit], credit: &Credit) -> Result<(), String> {
    let same_row = |other: &&Credit| other.run == credit.run && other.line == credit.line;
    match earlier.iter().find(same_row) {
        Some(other) => Err(format!(
            "line {} of {} was credited again (transaction {}) after transaction {}{}",
            credit.line,
            credit.run,
            credit.transaction,
            other.transaction,
            if other.cancelled {
                ", which an undo had cancelled"
            } else {
                ""
            }
        )),
        None => Ok(()),
    }
}

/// The row that made a credit records an attempt that may have made it
/// (or, for a credit an undo cancelled, its cancel).
fn credit_recorded(durable: &Durable, credit: &Credit) -> Result<(), String> {
    let Some(run) = durable.runs.iter().find(|run| run.name == credit.run) else {
        return Err(format!(
            "transaction {} was made for run {}, which the ledger does not hold",
            credit.transaction, credit.run
        ));
    };
    let history = history(durable, &run.id, Some(&[credit.line]));
    let attempts = history
        .get(&credit.line)
        .map(|row| row.attempts.as_slice())
        .unwrap_or_default();
    let recorded = attempts.iter().any(|attempt| {
        attempt.state.may_be_credited()
            || (credit.cancelled
                && matches!(
                    attempt.state,
                    AttemptState::Cancelled { transaction } if transaction == credit.transaction
                ))
    });
    if recorded {
        return Ok(());
    }
    Err(format!(
        "the vendor credited line {} of {} (transaction {}{}), and the ledger records no attempt \
         that may have",
        credit.line,
        credit.run,
        credit.transaction,
        if credit.cancelled {
            ", since cancelled"
        } else {
            ""
        }
    ))
}

/// One run of the simulation, from its harness's seed.
fn simulate(harness: Arc<Harness>) -> Result<(), String> {
    let world = World::new(harness);
    let dir = tempfile::tempdir().unwrap();
    let plan = scenario(&world, dir.path());
    within_a_day(async {
        let start = |workers: &[(usize, Work)]| -> Vec<(usize, std::path::PathBuf, Work)> {
            workers
                .iter()
                .map(|(file, work)| {
                    (
                        world.spawn_process(),
                        plan.files[*file].clone(),
                        work.clone(),
                    )
                })
                .collect()
        };
        run_and_rerun(&world, start(&plan.workers)).await;
        run_and_rerun(&world, start(&plan.undo_later)).await;
        settle(&world, &plan.files).await;
        check(&world)
    })
}

#[test]
fn payout_protocol_crashes_and_interleavings_never_credit_twice_or_lose_a_credit() {
    // The default budget reaches every step, and crashes at each.
    check_protocol("payout protocol", DEFAULT_RUNS, &STEPS, simulate);
}
