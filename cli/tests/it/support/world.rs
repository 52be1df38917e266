//! What a payout test runs in: the stand-in vendor on 127.0.0.1, and the
//! operator's machine — a data directory of its own, where the default
//! ledger lives — with `reward-points` run as a process against both.

use std::collections::BTreeMap;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::Value;
use xoxoday_reward_points_mocks::{Credit, Faults, STAND_IN_ACCESS_TOKEN, StandInServer};

/// The client id every test's operator pays with: it names the account.
pub const CLIENT_ID: &str = "test-client-id";

/// The stand-in vendor and the operator's machine.
pub struct World {
    server: StandInServer,
    /// The operator's `XDG_DATA_HOME`.
    home: tempfile::TempDir,
}

impl Deref for World {
    type Target = StandInServer;

    fn deref(&self) -> &StandInServer {
        &self.server
    }
}

impl World {
    /// A stand-in with `faults`, and a machine whose ledger is empty.
    pub async fn start(faults: Faults) -> Self {
        Self {
            server: StandInServer::start(0, faults).await.unwrap(),
            home: tempfile::tempdir().unwrap(),
        }
    }

    /// The operator's data directory (`XDG_DATA_HOME`).
    pub fn data_home(&self) -> &Path {
        self.home.path()
    }

    /// Where the default ledger is.
    pub fn default_ledger(&self) -> PathBuf {
        self.home
            .path()
            .join("xoxoday-reward-points")
            .join("payouts.sqlite3")
    }

    /// `reward-points ARGS` against the stand-in, from this machine, with
    /// nothing else of the test's shell.
    pub fn command(&self, args: &[&str]) -> Command {
        let overrides: Vec<String> = self
            .server
            .origin_overrides()
            .into_iter()
            .map(|(vendor, local)| format!("{vendor}={local}"))
            .collect();
        let mut command = super::reward_points(self.home.path(), args);
        command
            .env("XOXODAY_ACCESS_TOKEN", STAND_IN_ACCESS_TOKEN)
            .env("XOXODAY_ORIGIN_OVERRIDES", overrides.join(" "))
            .env("XOXODAY_CLIENT_ID", CLIENT_ID);
        command
    }

    /// Runs `reward-points ARGS` to its end.
    pub async fn run(&self, args: &[&str]) -> Output {
        run_command(self.command(args)).await
    }
}

/// Runs `command` to its end, off the test's runtime.
pub async fn run_command(mut command: Command) -> Output {
    tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap()
}

/// A CSV of `rows` recipients, one email each: row n (line n + 1) pays
/// `user{n}@example.com` n points.
pub fn payout_file(dir: &Path, rows: u64) -> PathBuf {
    let mut text = String::from("name,email,points,citation\n");
    for n in 1..=rows {
        text.push_str(&format!("User {n},user{n}@example.com,{n},March rewards\n"));
    }
    let path = dir.join("march.csv");
    std::fs::write(&path, text).unwrap();
    path
}

/// `payout FILE` with a sender and an expiry, and `more`.
pub fn pay<'a>(file: &'a Path, more: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "payout",
        file.to_str().unwrap(),
        "--sender-email",
        "admin@example.com",
        "--expiry-months",
        "12",
    ];
    args.extend_from_slice(more);
    args
}

/// The report's rows, by line.
pub fn report(file: &Path) -> BTreeMap<u64, Value> {
    let text = std::fs::read_to_string(format!("{}.report.json", file.display())).unwrap();
    let rows: Vec<Value> = serde_json::from_str(&text).unwrap();
    rows.into_iter()
        .map(|row| (row["line"].as_u64().unwrap(), row))
        .collect()
}

fn points_of(email: &str) -> u64 {
    email
        .trim_start_matches("user")
        .trim_end_matches("@example.com")
        .parse()
        .unwrap()
}

/// Credits per email; panics on an email credited twice.
pub fn credited_once(credits: &[Credit]) -> BTreeMap<String, Credit> {
    let mut by_email = BTreeMap::new();
    for credit in credits {
        if let Some(earlier) = by_email.insert(credit.email.clone(), credit.clone()) {
            panic!("credited twice: {earlier:?} and {credit:?}");
        }
        if credit.email.starts_with("user") {
            assert_eq!(credit.points as u64, points_of(&credit.email));
        }
    }
    by_email
}

/// Credits per email, counting each.
pub fn credit_counts(credits: &[Credit]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for credit in credits {
        *counts.entry(credit.email.clone()).or_default() += 1;
    }
    counts
}

/// Each row's newest attempt's state in the SQLite ledger at `ledger`
/// (`sending`, `sent`, `in_doubt`, …), by line, over every run: read as
/// another program would, while a run may be writing it. An absent ledger
/// holds nothing.
pub fn ledger_states(ledger: &Path) -> BTreeMap<u64, String> {
    if !ledger.exists() {
        return BTreeMap::new();
    }
    let connection =
        rusqlite::Connection::open_with_flags(ledger, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    connection.busy_timeout(Duration::from_secs(10)).unwrap();
    // Made, but not set up yet: nothing recorded.
    let Ok(mut statement) =
        connection.prepare("SELECT line, kind FROM attempts ORDER BY line, attempt")
    else {
        return BTreeMap::new();
    };
    statement
        .query_map([], |row| Ok((row.get::<_, i64>(0)? as u64, row.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// Polls until `ready` holds; fails the test after a minute, saying what
/// never happened.
pub async fn wait_for(what: &str, ready: impl Fn() -> bool) {
    let started = std::time::Instant::now();
    while !ready() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "never happened: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
