//! The deterministic simulation harness the token manager's and the payout
//! run's protocol tests share.
//!
//! A simulated world is a set of processes — tasks on one thread of a
//! runtime whose clock is paused, so that time only moves when every task
//! waits — that run the real protocol code against in-memory models of
//! what lies outside it (a store, a ledger, the vendor). The models call
//! [`Harness::step`] at each named step (a lock taken, a request on its
//! way, a save): there the process yields to the others a number of times
//! the seed chooses (the interleaving), and dies if the run's crash plan
//! says so. A dead process never runs again; the models treat whatever it
//! held (locks, leases, writes not yet durable) as gone, as a killed
//! process's are.
//!
//! Every choice comes from one generator seeded by the run's seed, so a
//! seed replays its run exactly: [`seeds`] reads `XOXODAY_SIMULATION_SEED`
//! (one run, traced step by step) or `XOXODAY_SIMULATION_RUNS` (how many).
//! The crash plan goes through every named step in turn (the seed chooses
//! which), at its first, second or third reaching by any process: a batch
//! of runs crashes at each step, rather than where sampling happens to land.
//!
//! Written here rather than taken from turmoil (which simulates hosts and
//! a network, not a crash between two statements of one process) or the
//! `fail` crate (fail points in the code under test, chosen at random
//! rather than from a seed that replays them).

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One run's world: its choices, its processes, its crash plan, and what
/// it reached.
pub struct Harness {
    rng: Mutex<fastrand::Rng>,
    steps: &'static [&'static str],
    crashed: Mutex<Vec<bool>>,
    /// The one crash of a run, if any: the `n`th time any process reaches
    /// the named step.
    crash_at: Mutex<Option<(&'static str, u32)>>,
    crashed_at: Mutex<Option<&'static str>>,
    /// Woken when a process crashes or ends.
    changed: tokio::sync::Notify,
    reached: Mutex<BTreeSet<&'static str>>,
    /// A hash of the order in which processes reached their steps.
    schedule: Mutex<u64>,
    trace: Mutex<Vec<String>>,
    verbose: bool,
    /// Processes that panicked: a run with one fails, whatever else held.
    panics: Mutex<Vec<String>>,
}

impl Harness {
    /// A world from `seed`, whose processes crash only at the named
    /// `steps`; `verbose` keeps a trace of every step.
    pub fn new(seed: u64, verbose: bool, steps: &'static [&'static str]) -> Arc<Self> {
        let harness = Self {
            rng: Mutex::new(fastrand::Rng::with_seed(seed)),
            steps,
            crashed: Mutex::default(),
            crash_at: Mutex::default(),
            crashed_at: Mutex::default(),
            changed: tokio::sync::Notify::new(),
            reached: Mutex::default(),
            schedule: Mutex::new(0xcbf2_9ce4_8422_2325),
            trace: Mutex::default(),
            verbose,
            panics: Mutex::default(),
        };
        // Each named step in turn, and runs without a crash.
        let plan = usize::try_from(seed % (steps.len() as u64 + 1)).unwrap_or(0);
        if let Some(&at) = steps.get(plan) {
            let nth = harness.rng(|rng| rng.u32(1..4));
            *harness.crash_at.lock().unwrap() = Some((at, nth));
        }
        Arc::new(harness)
    }

    /// A draw from the run's generator.
    pub fn rng<T>(&self, draw: impl FnOnce(&mut fastrand::Rng) -> T) -> T {
        draw(&mut self.rng.lock().unwrap())
    }

    /// A new process's number.
    pub fn spawn_process(&self) -> usize {
        let mut crashed = self.crashed.lock().unwrap();
        crashed.push(false);
        crashed.len() - 1
    }

    /// Whether `process` crashed.
    pub fn crashed(&self, process: usize) -> bool {
        self.crashed.lock().unwrap()[process]
    }

    /// Keeps `line` in the trace of a replayed run.
    pub fn trace(&self, line: impl FnOnce() -> String) {
        if self.verbose {
            self.trace.lock().unwrap().push(line());
        }
    }

    /// A point where `process` yields to the others a number of times the
    /// seed chooses, without a crash: between two statements of a
    /// transaction, which a crash would only roll back.
    pub async fn interleave(&self, process: usize) {
        let yields = self.rng(|rng| rng.usize(..4));
        for _ in 0..yields {
            tokio::task::yield_now().await;
        }
        // Now and then a statement is slow (a busy server, the network),
        // and the others go on meanwhile.
        if self.rng(|rng| rng.u8(..4)) == 0 {
            let millis = self.rng(|rng| rng.u64(1..2_000));
            tokio::time::sleep(Duration::from_millis(millis)).await;
        }
        if self.crashed(process) {
            std::future::pending::<()>().await;
        }
    }

    /// The named step `name` of `process`: it yields to the others a number
    /// of times the seed chooses, and crashes there if the plan says so —
    /// never returning then (the process's tasks are dropped by
    /// [`Harness::run_all`], or wait forever where they were).
    ///
    /// # Panics
    ///
    /// When `name` is not one of the world's named steps.
    pub async fn step(&self, process: usize, name: &'static str) {
        assert!(self.steps.contains(&name), "{name} is not a named step");
        let yields = self.rng(|rng| rng.usize(..4));
        for _ in 0..yields {
            tokio::task::yield_now().await;
        }
        if self.crashed(process) {
            return std::future::pending().await;
        }
        let due = {
            let mut crash_at = self.crash_at.lock().unwrap();
            match &mut *crash_at {
                Some((at, 1)) if *at == name => {
                    *crash_at = None;
                    true
                }
                Some((at, nth)) if *at == name => {
                    *nth -= 1;
                    false
                }
                _ => false,
            }
        };
        {
            let mut schedule = self.schedule.lock().unwrap();
            for byte in process.to_le_bytes().iter().chain(name.as_bytes()) {
                *schedule = (*schedule ^ u64::from(*byte)).wrapping_mul(0x100_0000_01b3);
            }
        }
        self.reached.lock().unwrap().insert(name);
        self.trace(|| format!("p{process} {name}"));
        if due {
            self.crashed.lock().unwrap()[process] = true;
            *self.crashed_at.lock().unwrap() = Some(name);
            self.trace(|| format!("p{process} crashed at {name}"));
            self.changed.notify_one();
            std::future::pending::<()>().await;
        }
    }

    /// Runs `processes` (their number and their work), started in order
    /// with a chosen number of yields between, until each has ended or
    /// crashed; a crashed one is dropped, as a killed process is.
    pub async fn run_all<F>(self: &Arc<Self>, processes: Vec<(usize, F)>)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let mut running = Vec::new();
        for (process, work) in processes {
            let harness = self.clone();
            running.push((
                process,
                tokio::spawn(async move {
                    work.await;
                    harness.changed.notify_one();
                }),
            ));
            for _ in 0..self.rng(|rng| rng.usize(..6)) {
                tokio::task::yield_now().await;
            }
        }
        loop {
            let mut still = Vec::new();
            for (process, handle) in running {
                if self.crashed(process) {
                    handle.abort();
                } else if handle.is_finished() {
                    if let Err(error) = handle.await
                        && error.is_panic()
                    {
                        let payload = error.into_panic();
                        let message = payload
                            .downcast_ref::<String>()
                            .cloned()
                            .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                            .unwrap_or_default();
                        self.panics
                            .lock()
                            .unwrap()
                            .push(format!("p{process} panicked: {message}"));
                    }
                } else {
                    still.push((process, handle));
                }
            }
            running = still;
            if running.is_empty() {
                return;
            }
            self.changed.notified().await;
        }
    }

    /// What the run reached, once it is over.
    fn report(self) -> Reached {
        Reached {
            steps: self.reached.into_inner().unwrap(),
            crashed_at: self.crashed_at.into_inner().unwrap(),
            schedule: self.schedule.into_inner().unwrap(),
            trace: self.trace.into_inner().unwrap(),
            panics: self.panics.into_inner().unwrap(),
        }
    }
}

/// What one run reached.
struct Reached {
    steps: BTreeSet<&'static str>,
    crashed_at: Option<&'static str>,
    schedule: u64,
    trace: Vec<String>,
    panics: Vec<String>,
}

/// The runtime a run's processes share: one thread, its clock paused.
///
/// # Panics
///
/// When tokio cannot build it.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a current-thread runtime")
}

/// The seeds to run, and whether to trace them: `XOXODAY_SIMULATION_SEED`
/// alone, or `XOXODAY_SIMULATION_RUNS` (else `default_runs`) seeds from a
/// base that is new each time (printed with any failure, to replay it).
pub fn seeds(default_runs: u64) -> (Vec<u64>, bool) {
    if let Some(seed) = std::env::var("XOXODAY_SIMULATION_SEED")
        .ok()
        .and_then(|seed| seed.parse().ok())
    {
        return (vec![seed], true);
    }
    let runs = std::env::var("XOXODAY_SIMULATION_RUNS")
        .ok()
        .and_then(|runs| runs.parse().ok())
        .unwrap_or(default_runs);
    let base = fastrand::u64(..u64::MAX / 2);
    ((base..base + runs).collect(), false)
}

/// What a batch of runs covered.
#[derive(Debug, Default)]
pub struct Coverage {
    pub runs: u64,
    /// The named steps reached.
    pub steps: BTreeSet<&'static str>,
    /// How many runs crashed at each named step.
    pub crashes: BTreeMap<&'static str, u64>,
    /// Distinct orders in which processes reached their steps.
    pub schedules: BTreeSet<u64>,
    /// Each failed run: its seed, and what went wrong.
    pub failures: Vec<String>,
}

impl Coverage {
    /// One line on what the batch covered, for the test's output.
    pub fn summary(&self, protocol: &str, seeds: &[u64]) -> String {
        format!(
            "{protocol}: {} runs from seed {}: {} crashed, at {} of {} named steps ({}); {} \
             distinct interleavings",
            self.runs,
            seeds.first().copied().unwrap_or_default(),
            self.crashes.values().sum::<u64>(),
            self.crashes.len(),
            self.steps.len(),
            self.crashes
                .iter()
                .map(|(at, runs)| format!("{at} {runs}"))
                .collect::<Vec<_>>()
                .join(", "),
            self.schedules.len()
        )
    }
}

/// Runs `simulate` for each of `seeds` (with its harness, traced when
/// `verbose`), gathering what the runs covered. `simulate` returns what
/// broke, if anything; a run that takes a day of simulated time is stuck.
pub fn explore<F>(
    seeds: &[u64],
    verbose: bool,
    steps: &'static [&'static str],
    simulate: F,
) -> Coverage
where
    F: Fn(Arc<Harness>) -> Result<(), String>,
{
    let mut coverage = Coverage::default();
    for (run, &seed) in seeds.iter().enumerate() {
        coverage.runs += 1;
        let harness = Harness::new(seed, verbose, steps);
        let outcome = simulate(harness.clone());
        let reached = Arc::try_unwrap(harness)
            .unwrap_or_else(|_| panic!("a run's processes outlived it"))
            .report();
        coverage.steps.extend(&reached.steps);
        coverage.schedules.insert(reached.schedule);
        if let Some(at) = reached.crashed_at {
            *coverage.crashes.entry(at).or_default() += 1;
        }
        if verbose {
            eprintln!("{}", reached.trace.join("\n"));
        }
        let outcome = match reached.panics.first() {
            Some(panic) => Err(panic.clone()),
            None => outcome,
        };
        if let Err(failure) = outcome {
            coverage.failures.push(format!(
                "run {} of {}, seed {seed} (XOXODAY_SIMULATION_SEED={seed} replays it): {failure}",
                run + 1,
                seeds.len()
            ));
        }
    }
    coverage
}

/// A protocol's simulation test: `simulate` run for the seeds of
/// [`seeds`] (`default_runs` unless the environment says otherwise), what
/// they covered printed; fails on any failed run and, when the whole
/// default budget ran, unless every one of `steps` was reached and crashed
/// at.
pub fn check_protocol<F>(
    protocol: &str,
    default_runs: u64,
    steps: &'static [&'static str],
    simulate: F,
) where
    F: Fn(Arc<Harness>) -> Result<(), String>,
{
    let (seeds, replay) = seeds(default_runs);
    let coverage = explore(&seeds, replay, steps, simulate);
    println!("{}", coverage.summary(protocol, &seeds));
    assert!(coverage.failures.is_empty(), "{:#?}", coverage.failures);
    if seeds.len() as u64 == default_runs {
        let all: BTreeSet<&'static str> = steps.iter().copied().collect();
        assert_eq!(coverage.steps, all, "{coverage:?}");
        assert!(
            coverage.crashes.keys().eq(coverage.steps.iter()),
            "{coverage:?}"
        );
    }
}

/// Runs `work` on a fresh [`runtime`]: what it returns, or that it was
/// stuck (a simulated day went by).
pub fn within_a_day<F>(work: F) -> Result<(), String>
where
    F: Future<Output = Result<(), String>>,
{
    let runtime = runtime();
    let outcome = runtime.block_on(async {
        tokio::time::timeout(Duration::from_secs(24 * 3600), work)
            .await
            .unwrap_or_else(|_| Err("stuck: no process can go on".into()))
    });
    // The tasks of crashed processes go with the runtime.
    drop(runtime);
    outcome
}
