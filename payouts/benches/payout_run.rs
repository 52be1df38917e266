//! A payout run's throughput and memory, with the SQLite ledger and with
//! no ledger at all (BENCHMARKS.md §7):
//!
//! ```sh
//! cargo bench -p xoxoday-reward-points-payouts --bench payout_run
//! ```
//!
//! The stand-in server runs in this process; each run is a child process
//! (this binary again), so that its peak memory is its own. 10,000 rows at 16
//! in flight, rounds alternating which side goes first; then 100,000 rows
//! with the ledger, to show that memory does not grow with the file.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use xoxoday_reward_points::{AccessToken, Client, Environment};
use xoxoday_reward_points_mocks::{Faults, STAND_IN_ACCESS_TOKEN, StandInServer};
use xoxoday_reward_points_payouts::ledger::{
    AlikeRun, Attempt, AttemptState, Lease, Ledger, LedgerFuture, LedgerRow, LedgerScope,
    LedgerTransaction, RecordedContent, RunHistory, RunRecord,
};
use xoxoday_reward_points_payouts::{
    LedgerContext, PayoutFile, RowStatus, RunDefaults, RunOptions, Silent, SqliteLedger, Stop,
    plan_payouts, run_payouts,
};

const ROUNDS: usize = 3;

/// The same sends with nothing recorded: what the ledger is measured
/// against. Never for real use — a crash would leave no trace of what was
/// sent.
struct NoLedger;

struct NoTransaction;

fn nothing<'a, T: Default + Send + 'a>() -> LedgerFuture<'a, T> {
    Box::pin(async { Ok(T::default()) })
}

impl LedgerTransaction for NoTransaction {
    fn runs_named<'a>(
        &'a mut self,
        _: &'a LedgerScope,
        _: &'a str,
    ) -> LedgerFuture<'a, Vec<RunRecord>> {
        nothing()
    }
    fn runs<'a>(&'a mut self, _: &'a [String]) -> LedgerFuture<'a, Vec<RunRecord>> {
        nothing()
    }
    fn runs_with_content<'a>(
        &'a mut self,
        _: &'a LedgerScope,
        _: &'a str,
    ) -> LedgerFuture<'a, Vec<RunRecord>> {
        nothing()
    }
    fn create_run<'a>(&'a mut self, _: &'a RunRecord, _: Arc<[LedgerRow]>) -> LedgerFuture<'a, ()> {
        nothing()
    }
    fn rows<'a>(&'a mut self, _: &'a str) -> LedgerFuture<'a, Vec<LedgerRow>> {
        nothing()
    }
    fn contents<'a>(&'a mut self, _: &'a str) -> LedgerFuture<'a, Vec<RecordedContent>> {
        nothing()
    }
    fn history<'a>(&'a mut self, _: &'a str) -> LedgerFuture<'a, RunHistory> {
        nothing()
    }
    fn put_attempts<'a>(&'a mut self, _: &'a str, _: &'a [(u64, Attempt)]) -> LedgerFuture<'a, ()> {
        nothing()
    }
    fn alike_elsewhere<'a>(
        &'a mut self,
        _: &'a LedgerScope,
        _: &'a str,
        _: &'a [u64],
    ) -> LedgerFuture<'a, Vec<AlikeRun>> {
        nothing()
    }
    fn allow_overlaps<'a>(&'a mut self, _: &'a str, _: &'a [String]) -> LedgerFuture<'a, ()> {
        nothing()
    }
    fn live(&mut self, _: i64) -> LedgerFuture<'_, bool> {
        nothing()
    }
    fn imported<'a>(
        &'a mut self,
        _: &'a str,
        _: &'a str,
        _: &'a LedgerScope,
    ) -> LedgerFuture<'a, bool> {
        nothing()
    }
    fn mark_imported<'a>(
        &'a mut self,
        _: &'a str,
        _: &'a str,
        _: &'a LedgerScope,
    ) -> LedgerFuture<'a, ()> {
        nothing()
    }
    fn commit(self: Box<Self>) -> LedgerFuture<'static, ()> {
        nothing()
    }
    fn rollback(self: Box<Self>) -> LedgerFuture<'static, ()> {
        nothing()
    }
}

impl Ledger for NoLedger {
    fn location(&self) -> String {
        "none".into()
    }
    fn transaction(&self, _: bool) -> LedgerFuture<'_, Box<dyn LedgerTransaction + '_>> {
        Box::pin(async { Ok(Box::new(NoTransaction) as Box<dyn LedgerTransaction>) })
    }
    fn lease(&self, _: i64) -> LedgerFuture<'_, Lease> {
        Box::pin(async { Ok(Lease::nothing()) })
    }
    fn claim(&self, _: &str, _: u64, _: u32) -> LedgerFuture<'_, bool> {
        Box::pin(async { Ok(true) })
    }
    fn judge(&self, _: &str, _: u64, _: u32, _: bool) -> LedgerFuture<'_, bool> {
        Box::pin(async { Ok(true) })
    }
    fn claim_cancel(&self, _: &str, _: u64, _: u32) -> LedgerFuture<'_, bool> {
        Box::pin(async { Ok(true) })
    }
    fn record(&self, _: &str, _: u64, _: u32, _: AttemptState) -> LedgerFuture<'_, ()> {
        nothing()
    }
    fn sync(&self) -> LedgerFuture<'_, ()> {
        nothing()
    }
    fn history<'a>(&'a self, _: &'a str, _: Option<&'a [u64]>) -> LedgerFuture<'a, RunHistory> {
        nothing()
    }
    fn rows<'a>(&'a self, _: &'a str, _: &'a [u64]) -> LedgerFuture<'a, Vec<LedgerRow>> {
        nothing()
    }
    fn overruled(&self, _: &str) -> LedgerFuture<'_, Vec<u64>> {
        nothing()
    }
    fn held_elsewhere(&self, _: i64) -> LedgerFuture<'_, bool> {
        nothing()
    }
    fn shared(&self) -> bool {
        false
    }
}

/// Peak resident memory of this process, in KiB (Linux).
fn peak_memory_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmHWM:"))
                .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn child(ledger: &str, file: &Path, overrides: &str) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut builder = Client::builder(Environment::Sandbox)
            .access_token(AccessToken::new(STAND_IN_ACCESS_TOKEN));
        for pair in overrides.split_whitespace() {
            let (vendor, local) = pair.split_once('=').unwrap();
            builder = builder.origin_override(vendor, local).unwrap();
        }
        let client = builder.build().unwrap();
        let defaults = RunDefaults {
            sender_email: Some("admin@example.com".into()),
            expiry_months: Some(12),
        };
        let started = Instant::now();
        let payout = PayoutFile::open(file, defaults).unwrap();
        let again = ledger == "sqlite-again";
        let ledger: Arc<dyn Ledger> = match ledger {
            "sqlite" | "sqlite-again" => {
                Arc::new(SqliteLedger::open(&file.with_extension("sqlite3")).unwrap())
            }
            _ => Arc::new(NoLedger),
        };
        // Every run pays the same content, on purpose; started again, a
        // finished run goes on from its ledger.
        let options = RunOptions {
            pay_again: !again,
            ..RunOptions::default()
        };
        let context = LedgerContext::new(LedgerScope::new(Environment::Sandbox, "bench"));
        let plan = plan_payouts(&payout, ledger.as_ref(), &context, &options, false)
            .await
            .unwrap();
        let summary = run_payouts(
            &client,
            &payout,
            ledger,
            plan,
            options,
            Arc::new(Silent),
            &Stop::new(),
        )
        .await
        .unwrap();
        let seconds = started.elapsed().as_secs_f64();
        let rows = payout.identity().rows;
        let done = summary.count(RowStatus::Sent) + summary.count(RowStatus::AlreadySent);
        assert_eq!(done, rows, "{summary}");
        println!(
            "{} {} {}",
            rows as f64 / seconds,
            seconds,
            peak_memory_kib()
        );
    });
}

fn write_file(path: &Path, rows: u64) {
    let mut text = String::from("name,email,points,citation\n");
    for n in 1..=rows {
        text.push_str(&format!(
            "User {n},user{n}@example.com,{},Thanks\n",
            n % 500 + 1
        ));
    }
    std::fs::write(path, text).unwrap();
}

/// (rows per second, seconds, peak KiB) of one child run.
fn measure(ledger: &str, file: &Path, overrides: &str) -> (f64, f64, u64) {
    let output = Command::new(std::env::current_exe().unwrap())
        .args(["--child", ledger, file.to_str().unwrap(), overrides])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).unwrap();
    let fields: Vec<&str> = text.split_whitespace().collect();
    (
        fields[0].parse().unwrap(),
        fields[1].parse().unwrap(),
        fields[2].parse().unwrap(),
    )
}

/// A finished run started again: every row read back and skipped.
fn measure_again(file: &Path, overrides: &str) -> (f64, f64, u64) {
    measure("sqlite-again", file, overrides)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|arg| arg == "--child") {
        child(&args[at + 1], Path::new(&args[at + 2]), &args[at + 3]);
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let server = runtime
        .block_on(StandInServer::start(0, Faults::none()))
        .unwrap();
    let overrides: Vec<String> = server
        .origin_overrides()
        .into_iter()
        .map(|(vendor, local)| format!("{vendor}={local}"))
        .collect();
    let overrides = overrides.join(" ");
    let dir = tempfile::tempdir().unwrap();

    let (mut with, mut without) = (Vec::new(), Vec::new());
    let (mut memory_with, mut memory_without) = (0, 0);
    for round in 0..ROUNDS {
        // A fresh file (and so a fresh ledger) per run.
        let one = |ledger: &str| {
            let path = dir.path().join(format!("{ledger}-{round}.csv"));
            write_file(&path, 10_000);
            measure(ledger, &path, &overrides)
        };
        let order = if round % 2 == 0 {
            ["sqlite", "none"]
        } else {
            ["none", "sqlite"]
        };
        for ledger in order {
            let (rate, _, memory) = one(ledger);
            if ledger == "sqlite" {
                with.push(rate);
                memory_with = memory_with.max(memory);
            } else {
                without.push(rate);
                memory_without = memory_without.max(memory);
            }
        }
    }
    let big = dir.path().join("big.csv");
    write_file(&big, 100_000);
    let (big_rate, big_seconds, big_memory) = measure("sqlite", &big, &overrides);
    let big_none = dir.path().join("big-none.csv");
    write_file(&big_none, 100_000);
    let (_, _, big_memory_none) = measure("none", &big_none, &overrides);
    // Run again over the finished 100,000: every row is read back from the
    // ledger and skipped.
    let (_, again_seconds, again_memory) = measure_again(&big, &overrides);

    let (with, without) = (median(with), median(without));
    println!("payout run, 16 in flight, stand-in on 127.0.0.1, {ROUNDS} rounds, median");
    println!("                          SQLite ledger   no ledger   ratio");
    println!(
        "10,000 rows, rows/s       {with:>12.0}   {without:>10.0}   {:.3}",
        with / without
    );
    println!(
        "10,000 rows, peak memory  {:>9} KiB   {:>6} KiB",
        memory_with, memory_without
    );
    println!(
        "100,000 rows, peak memory {big_memory:>6} KiB   {big_memory_none:>6} KiB   (SQLite ledger: {big_rate:.0} rows/s, {big_seconds:.1} s)"
    );
    println!(
        "100,000 rows all done, run again: {again_seconds:.1} s, peak memory {again_memory} KiB"
    );
    println!("(target: the ledger at ≥ 0.9× the rows per second without it)");
}
