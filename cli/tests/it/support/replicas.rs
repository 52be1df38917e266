//! Replicas of a service as separate OS processes sharing one token store,
//! against a strict-rotation stand-in with a short token lifetime. Used by
//! `tests/replicas.rs` and by `benches/replicas.rs`.
//!
//! A replica is the calling binary itself, started again with
//! `REPLICA_VARIABLE` set: the test binary runs its ignored `replica` test,
//! the benchmark its `--replica` mode. Each calls fetch points in a loop and
//! prints one `REPLICA-RESULT {json}` line.

use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use xoxoday_reward_points::types::FetchPointsBodyVariables;
use xoxoday_reward_points::{
    Client, Environment, FileTokenStore, Secret, StoreFuture, StoredTokens, TokenLease, TokenStore,
};
use xoxoday_reward_points_mocks::{RefreshCounts, StandIn};

/// Set in a replica's environment: its settings, as JSON.
pub const REPLICA_VARIABLE: &str = "XOXODAY_REPLICA";
const RESULT_PREFIX: &str = "REPLICA-RESULT ";
const CLIENT_ID: &str = "replica-client-id";
const CLIENT_SECRET: &str = "replica-client-secret";

/// Where the replicas keep their tokens.
#[derive(Clone, Debug)]
pub enum Store {
    File(std::path::PathBuf),
    /// The same file with its lock bypassed: each process reads, refreshes
    /// and writes on its own, as before refresh was coordinated. Only the
    /// benchmark uses it, for comparison.
    FileWithoutLock(std::path::PathBuf),
    /// A connection string; each scenario gets a table of its own.
    Postgres {
        url: String,
        table: String,
    },
}

impl Store {
    fn open(&self) -> Arc<dyn TokenStore> {
        match self {
            Store::File(path) => Arc::new(FileTokenStore::new(path)),
            Store::FileWithoutLock(path) => Arc::new(WithoutLock(FileTokenStore::new(path))),
            Store::Postgres { url, table } => Arc::new(
                xoxoday_reward_points::PostgresTokenStore::from_url(url)
                    .unwrap()
                    .table(table)
                    .unwrap(),
            ),
        }
    }

    /// What `reward-points` takes to use this store.
    fn cli_arguments(&self) -> Vec<String> {
        match self {
            Store::File(path) | Store::FileWithoutLock(path) => {
                vec!["--token-store".into(), path.display().to_string()]
            }
            Store::Postgres { url, table } => vec![
                "--token-store".into(),
                url.clone(),
                "--token-table".into(),
                table.clone(),
            ],
        }
    }
}

pub struct Scenario {
    pub processes: usize,
    pub run_for: Duration,
    pub token_lifetime: Duration,
    pub refresh_margin: Duration,
    pub store: Store,
    /// When set, an operator runs `reward-points refresh-token` on the same
    /// store this long after the replicas start.
    pub operator_refresh_after: Option<Duration>,
    /// The store is seeded with a refresh token the vendor refuses (the
    /// access token stays valid for the whole run).
    pub refused_refresh_token: bool,
}

#[derive(Debug)]
pub struct Outcome {
    /// Calls made, by every replica.
    pub calls: u64,
    pub failed: u64,
    /// The first few failures' texts, from every replica.
    pub failures: Vec<String>,
    pub refreshes: RefreshCounts,
    /// From the first call of the first replica to the end of the last
    /// call of the last one (processes that start late call for less).
    pub calling: Duration,
    pub operator: Option<Output>,
}

impl Outcome {
    /// One refresh per token lifetime: refreshes happen `lifetime - margin`
    /// apart, so at most this many while the replicas call.
    pub fn refreshes_allowed(&self, scenario: &Scenario) -> u64 {
        let period = scenario.token_lifetime - scenario.refresh_margin;
        let operator = u64::from(scenario.operator_refresh_after.is_some());
        (self.calling.as_secs_f64() / period.as_secs_f64()).floor() as u64 + 1 + operator
    }
}

/// Runs `scenario`: starts the stand-in, seeds the store, starts the
/// replicas as processes of `replica_command`, waits for them.
pub async fn run(scenario: &Scenario, replica_command: impl Fn() -> Command) -> Outcome {
    let stand_in = StandIn::builder()
        .token_lifetime(scenario.token_lifetime)
        .revoke_replaced_access_tokens(true)
        .start()
        .await;
    seed_store(scenario, &stand_in).await;
    let origins: Vec<(String, String)> = stand_in.vendor().origin_overrides();
    let settings = replica_settings(scenario, &origins);
    let replicas: Vec<_> = (0..scenario.processes)
        .map(|_| {
            replica_command()
                .env(REPLICA_VARIABLE, settings.to_string())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("a replica process starts")
        })
        .collect();

    let operator = match scenario.operator_refresh_after {
        Some(after) => {
            tokio::time::sleep(after).await;
            Some(operator_refresh(scenario, &origins).await)
        }
        None => None,
    };

    let outputs = tokio::task::spawn_blocking(move || {
        replicas
            .into_iter()
            .map(|child| child.wait_with_output().unwrap())
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    Outcome::of_replicas(&outputs, stand_in.refresh_counts(), operator)
}

/// Saves the stand-in's first tokens in the scenario's store, with a
/// refresh token the vendor refuses when the scenario says so.
async fn seed_store(scenario: &Scenario, stand_in: &StandIn) {
    let mut seeded = stand_in.initial_tokens();
    if scenario.refused_refresh_token {
        seeded.refresh_token = Secret::new("a-refresh-token-the-vendor-refuses");
    }
    scenario.store.open().save(seeded).await.unwrap();
}

/// What each replica reads from `REPLICA_VARIABLE`: its store, how long it
/// calls, its refresh margin, and the stand-in's `origins`.
fn replica_settings(scenario: &Scenario, origins: &[(String, String)]) -> Value {
    json!({
        "store": match &scenario.store {
            Store::File(path) => json!({ "file": path }),
            Store::FileWithoutLock(path) => json!({ "file_without_lock": path }),
            Store::Postgres { url, table } => json!({ "postgres": url, "table": table }),
        },
        "run_for_ms": scenario.run_for.as_millis() as u64,
        "refresh_margin_ms": scenario.refresh_margin.as_millis() as u64,
        "origins": origins,
    })
}

/// An operator's `reward-points refresh-token` on the scenario's store,
/// against the stand-in's `origins`, run to its end.
async fn operator_refresh(scenario: &Scenario, origins: &[(String, String)]) -> Output {
    let home = tempfile::tempdir().unwrap();
    let mut command = super::reward_points(home.path(), &[]);
    command
        .args(scenario.store.cli_arguments())
        .env("XOXODAY_CLIENT_ID", CLIENT_ID)
        .env("XOXODAY_CLIENT_SECRET", CLIENT_SECRET);
    for (vendor, local) in origins {
        command
            .arg("--origin-override")
            .arg(format!("{vendor}={local}"));
    }
    command.arg("refresh-token");
    tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap()
}

impl Outcome {
    /// The replicas' results, summed from what each printed, with the
    /// stand-in's `refreshes` and the `operator`'s run.
    fn of_replicas(outputs: &[Output], refreshes: RefreshCounts, operator: Option<Output>) -> Self {
        let mut outcome = Outcome {
            calls: 0,
            failed: 0,
            failures: Vec::new(),
            refreshes,
            calling: Duration::ZERO,
            operator,
        };
        let (mut first_call, mut last_call) = (u64::MAX, 0);
        for output in outputs {
            let result = replica_result(output);
            outcome.calls += result["calls"].as_u64().unwrap();
            outcome.failed += result["failed"].as_u64().unwrap();
            for failure in result["failures"].as_array().unwrap() {
                outcome.failures.push(failure.as_str().unwrap().to_owned());
            }
            first_call = first_call.min(result["first_call_ms"].as_u64().unwrap());
            last_call = last_call.max(result["last_call_ms"].as_u64().unwrap());
        }
        outcome.calling = Duration::from_millis(last_call.saturating_sub(first_call));
        outcome
    }
}

/// The result a replica printed on its `REPLICA-RESULT` line; fails the
/// test, with what the replica printed, when there is none.
fn replica_result(output: &Output) -> Value {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let Some(line) = stdout
        .lines()
        .find_map(|line| line.strip_prefix(RESULT_PREFIX))
    else {
        panic!(
            "a replica printed no result ({}):\n{stdout}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    };
    serde_json::from_str(line).unwrap()
}

/// The body of a replica process: reads its settings from
/// `REPLICA_VARIABLE`, calls fetch points until its time is up, prints its
/// result. Does nothing when the variable is not set.
pub fn replica_main() {
    let Ok(settings) = std::env::var(REPLICA_VARIABLE) else {
        return;
    };
    let settings: Value = serde_json::from_str(&settings).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let result = runtime.block_on(replica(&settings));
    println!("{RESULT_PREFIX}{result}");
}

async fn replica(settings: &Value) -> Value {
    let store = match &settings["store"] {
        store if store.get("file").is_some() => Store::File(store["file"].as_str().unwrap().into()),
        store if store.get("file_without_lock").is_some() => {
            Store::FileWithoutLock(store["file_without_lock"].as_str().unwrap().into())
        }
        store => Store::Postgres {
            url: store["postgres"].as_str().unwrap().into(),
            table: store["table"].as_str().unwrap().into(),
        },
    };
    let mut builder = Client::builder(Environment::Sandbox)
        .token_store(store.open())
        .client_credentials(CLIENT_ID, Secret::new(CLIENT_SECRET))
        .refresh_margin(Duration::from_millis(
            settings["refresh_margin_ms"].as_u64().unwrap(),
        ));
    for pair in settings["origins"].as_array().unwrap() {
        builder = builder
            .origin_override(pair[0].as_str().unwrap(), pair[1].as_str().unwrap())
            .unwrap();
    }
    let client = builder.build().unwrap();
    let who: FetchPointsBodyVariables =
        serde_json::from_value(json!({ "user_data": { "email": "replica@example.com" } })).unwrap();
    let deadline = Instant::now() + Duration::from_millis(settings["run_for_ms"].as_u64().unwrap());
    let (mut calls, mut failed, mut failures) = (0u64, 0u64, Vec::new());
    let first_call_ms = epoch_ms();
    while Instant::now() < deadline {
        let answer = client.fetch_points().variables(who.clone()).send().await;
        let outcome = answer.map_err(|error| error.to_string());
        calls += 1;
        if let Err(error) = outcome {
            failed += 1;
            if failures.len() < 5 {
                failures.push(error);
            }
        }
    }
    json!({
        "calls": calls,
        "failed": failed,
        "failures": failures,
        "first_call_ms": first_call_ms,
        "last_call_ms": epoch_ms(),
    })
}

/// Now, for comparing the calling windows of several processes.
fn epoch_ms() -> u64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    since.unwrap().as_millis() as u64
}

/// A file store whose lock locks nothing: the lease reads the file and
/// writes it back through the store's own `save`.
#[derive(Debug)]
struct WithoutLock(FileTokenStore);

struct UnlockedLease {
    store: FileTokenStore,
    tokens: Option<StoredTokens>,
}

impl TokenStore for WithoutLock {
    fn load(&self) -> StoreFuture<'_, Option<StoredTokens>> {
        self.0.load()
    }

    fn lock(&self) -> StoreFuture<'_, Box<dyn TokenLease>> {
        Box::pin(async move {
            let tokens = self.0.load().await?;
            Ok(Box::new(UnlockedLease {
                store: self.0.clone(),
                tokens,
            }) as Box<dyn TokenLease>)
        })
    }

    fn location(&self) -> String {
        self.0.location()
    }
}

impl TokenLease for UnlockedLease {
    fn tokens(&self) -> Option<&StoredTokens> {
        self.tokens.as_ref()
    }

    fn reload(&mut self) -> StoreFuture<'_, Option<StoredTokens>> {
        Box::pin(async move {
            self.tokens = self.store.load().await?;
            Ok(self.tokens.clone())
        })
    }

    fn save(self: Box<Self>, tokens: StoredTokens) -> StoreFuture<'static, ()> {
        Box::pin(async move { self.store.save(tokens).await })
    }

    fn release(self: Box<Self>) -> StoreFuture<'static, ()> {
        Box::pin(async { Ok(()) })
    }
}
