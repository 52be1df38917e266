//! `reward-points payout` as an operator runs it: real processes against the
//! stand-in server, killed, interrupted and started again. Whatever happens,
//! no recipient is credited twice, and every row is either credited once and
//! recorded in the ledger, or listed as in doubt. (What the ledger protects
//! across files, directories, ledgers and concurrent runs:
//! `ledger_of_record.rs`.)

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use xoxoday_reward_points::Operation;
use xoxoday_reward_points_mocks::{Credit, Faults, STAND_IN_ACCESS_TOKEN};

use crate::support::world::{
    World, credited_once, ledger_states, pay, payout_file, report, wait_for,
};

/// The rows whose newest attempt is an intent without an outcome.
fn sending_in_ledger(world: &World) -> BTreeSet<u64> {
    ledger_states(&world.default_ledger())
        .into_iter()
        .filter(|(_, state)| state == "sending")
        .map(|(line, _)| line)
        .collect()
}

fn joined(lines: &BTreeSet<u64>) -> String {
    lines
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_twenty_times_no_one_is_credited_twice() {
    const ROWS: u64 = 1_000;
    // 50 ms per send, 16 in flight: some 320 rows a second, so each run,
    // killed 50 to 250 ms after its start, gets through a few dozen rows
    // and every kill lands in the middle of one.
    let server = World::start(Faults::none().latency(Duration::from_millis(50))).await;
    let dir = tempfile::tempdir().unwrap();
    let file = payout_file(dir.path(), ROWS);
    kill_twenty_runs(&server, &file).await;

    // A full run: what was credited is skipped, what was in flight at a kill
    // is in doubt, the rest is sent.
    let (in_doubt, credits) = full_run_after_the_kills(&server, &file, ROWS).await;

    // A person checks each row in doubt against the vendor's ledger.
    settle_in_doubt(&server, &file, &in_doubt, &credits).await;

    let credits = credited_once(&server.credits());
    assert_eq!(credits.len() as u64, ROWS);
    for n in 1..=ROWS {
        assert_eq!(server.balance(&format!("user{n}@example.com")), n as f64);
    }
    // And once more: nothing is sent.
    let sends = server.requests_received(Operation::SendPoints);
    let again = server.run(&pay(&file, &[])).await;
    assert_eq!(again.status.code(), Some(0));
    assert_eq!(server.requests_received(Operation::SendPoints), sends);
}

/// Twenty runs over `file`, each killed (SIGKILL) 50 to 250 ms after its
/// start, at moments from `PAYOUT_KILL_SEED` or a random seed (printed):
/// after each, no one is credited twice and at most `--concurrency` (16)
/// more rows are in doubt.
async fn kill_twenty_runs(server: &World, file: &Path) {
    let seed = std::env::var("PAYOUT_KILL_SEED")
        .ok()
        .and_then(|seed| seed.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..));
    println!("kill moments from seed {seed} (PAYOUT_KILL_SEED={seed} repeats them)");
    let mut moments = fastrand::Rng::with_seed(seed);

    let mut in_doubt_before = 0;
    let mut most_in_doubt_per_kill = 0;
    for kill in 0..20 {
        let mut child = server.command(&pay(file, &[])).spawn().unwrap();
        let moment = Duration::from_millis(moments.u64(50..250));
        tokio::time::sleep(moment).await;
        // SIGKILL: no handler runs, nothing is flushed.
        child.kill().unwrap();
        let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
            .await
            .unwrap();
        println!(
            "kill {kill} at {moment:?}: {status}, {} credited",
            server.credits().len()
        );
        assert_eq!(status.code(), None, "the run ended before kill {kill}");
        credited_once(&server.credits());
        // A crash leaves at most --concurrency (16) rows in doubt.
        let in_doubt = sending_in_ledger(server).len();
        let new = in_doubt - in_doubt_before;
        assert!(new <= 16, "kill {kill} left {new} rows in doubt");
        most_in_doubt_per_kill = most_in_doubt_per_kill.max(new);
        in_doubt_before = in_doubt;
    }
    println!("at most {most_in_doubt_per_kill} rows in doubt per kill");
}

/// A run of `file` (`rows` rows) to its end after the kills: each row of
/// its report is either credited once, with the credit's transaction, or in
/// doubt, and the exit status says whether any is. The lines in doubt, and
/// the credits by email.
async fn full_run_after_the_kills(
    server: &World,
    file: &Path,
    rows: u64,
) -> (BTreeSet<u64>, BTreeMap<String, Credit>) {
    let finished = server.run(&pay(file, &[])).await;
    let stderr = String::from_utf8_lossy(&finished.stderr);
    let credits = credited_once(&server.credits());
    let reported = report(file);
    assert_eq!(reported.len() as u64, rows, "{stderr}");
    let mut in_doubt = BTreeSet::new();
    for (line, row) in &reported {
        let email = row["email"].as_str().unwrap();
        match row["status"].as_str().unwrap() {
            "sent" | "already_sent" => {
                let credit = credits
                    .get(email)
                    .unwrap_or_else(|| panic!("{row} not credited"));
                assert_eq!(row["transaction"].as_i64(), Some(credit.unique_id), "{row}");
            }
            "in_doubt" => {
                in_doubt.insert(*line);
            }
            other => panic!("line {line}: {other}: {stderr}"),
        }
    }
    let code = finished.status.code();
    assert_eq!(
        code,
        Some(if in_doubt.is_empty() { 0 } else { 4 }),
        "{stderr}"
    );
    println!("{} rows in doubt after 20 kills", in_doubt.len());
    (in_doubt, credits)
}

/// What a person does with the rows `in_doubt` once checked against the
/// vendor's `credits`: a run with `--confirm-sent` for those credited and
/// `--resend-in-doubt` for the others, which exits 0.
async fn settle_in_doubt(
    server: &World,
    file: &Path,
    in_doubt: &BTreeSet<u64>,
    credits: &BTreeMap<String, Credit>,
) {
    let (found, missing): (BTreeSet<u64>, BTreeSet<u64>) = in_doubt
        .iter()
        .partition(|line| credits.contains_key(&format!("user{}@example.com", *line - 1)));
    let mut settle = Vec::new();
    let (found_lines, missing_lines) = (joined(&found), joined(&missing));
    if !found.is_empty() {
        settle.extend(["--confirm-sent", found_lines.as_str()]);
    }
    if !missing.is_empty() {
        settle.extend(["--resend-in-doubt", missing_lines.as_str()]);
    }
    let settled = server.run(&pay(file, &settle)).await;
    assert_eq!(
        settled.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&settled.stderr)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn five_bad_rows_among_a_thousand_are_all_reported_before_anything_is_sent() {
    let server = World::start(Faults::none()).await;
    let dir = tempfile::tempdir().unwrap();
    let file = payout_file(dir.path(), 1_000);
    let mut lines: Vec<String> = std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    // Lines 3, 150, 420, 777 and 1001 (the last row).
    lines[2] = "User 2,user2@example.com,-50,".into();
    lines[149] = "User 149,user149@example.com,1e3,".into();
    lines[419] = ",user419@example.com,419,".into();
    lines[776] = "User 776,john.doe@exmaple,776,".into();
    lines[1000] = "User 1000,user1000@example.com,1000,too,many".into();
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();

    let output = server.run(&pay(&file, &[])).await;

    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        String::from_utf8(output.stderr).unwrap(),
        format!(
            "error: {} has 5 problem(s); nothing was sent:\n\
             \x20 line 3, column `points`: `-50` is not a whole number of points written in digits\n\
             \x20 line 150, column `points`: `1e3` is not a whole number of points written in digits\n\
             \x20 line 420, column `name`: the recipient's name is empty\n\
             \x20 line 777, column `email`: `john.doe@exmaple` is not an email address: its domain \
             has no top-level domain (such as `.com`)\n\
             \x20 line 1001: 5 fields where the header has 4\n",
            file.display()
        )
    );
    assert_eq!(server.requests_received(Operation::SendPoints), 0);
    assert!(ledger_states(&server.default_ledger()).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn dropped_answers_end_in_doubt_and_are_never_sent_again() {
    let server = World::start(Faults::none().dropped_answers(0.1).seed(11)).await;
    let dir = tempfile::tempdir().unwrap();
    let file = payout_file(dir.path(), 200);

    let first = server.run(&pay(&file, &[])).await;
    let dropped = server.fault_counts().dropped_answers;
    assert!(dropped > 0);
    assert_eq!(first.status.code(), Some(4));
    let summary: Value = serde_json::from_slice(&first.stdout).unwrap();
    assert_eq!(summary["rows"]["in_doubt"].as_u64(), Some(dropped));
    assert_eq!(summary["rows"]["sent"].as_u64(), Some(200 - dropped));

    // Run again: the rows in doubt stay in doubt, nothing is sent.
    let sends = server.requests_received(Operation::SendPoints);
    let second = server.run(&pay(&file, &[])).await;
    assert_eq!(second.status.code(), Some(4));
    assert_eq!(server.requests_received(Operation::SendPoints), sends);
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(
        stderr.contains("in doubt, maybe credited (lines "),
        "{stderr}"
    );
    // Each was credited exactly once, by the send whose answer was dropped.
    assert_eq!(credited_once(&server.credits()).len(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_429_slows_the_whole_run_and_repeats_no_send() {
    let server = World::start(Faults::none().rate_limited(0.2, 1).seed(5)).await;
    let dir = tempfile::tempdir().unwrap();
    let file = payout_file(dir.path(), 60);

    let output = server.run(&pay(&file, &["--concurrency", "4"])).await;

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(server.fault_counts().rate_limited > 0);
    assert!(
        stderr.contains("the vendor asked to slow down: no send starts for 1.0 s"),
        "{stderr}"
    );
    assert_eq!(credited_once(&server.credits()).len(), 60);
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_finishes_the_sends_in_flight_and_says_the_run_is_incomplete() {
    let server = World::start(Faults::none().latency(Duration::from_millis(50))).await;
    let dir = tempfile::tempdir().unwrap();
    let file = payout_file(dir.path(), 400);

    let child = server.command(&pay(&file, &[])).spawn().unwrap();
    // Interrupted once it sends (its handler is in place by then).
    wait_for("a ledger record", || {
        !ledger_states(&server.default_ledger()).is_empty()
    })
    .await;
    let interrupted = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupted.success());
    let output = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(5), "{stderr}");
    assert!(
        stderr.contains("stopping: no new row is started"),
        "{stderr}"
    );
    let summary: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["interrupted"], true);
    assert!(summary["rows"].get("in_doubt").is_none(), "{summary}");
    let sent = summary["rows"]["sent"].as_u64().unwrap();
    assert_eq!(
        server.credits().len() as u64,
        sent,
        "every send in flight was recorded"
    );
    assert!(sent < 400);

    let rest = server.run(&pay(&file, &[])).await;
    assert_eq!(rest.status.code(), Some(0));
    assert_eq!(credited_once(&server.credits()).len(), 400);
}

#[tokio::test(flavor = "multi_thread")]
async fn undo_cancels_the_runs_credits_once_and_a_new_run_does_not_send_them_again() {
    let server = World::start(Faults::none()).await;
    let dir = tempfile::tempdir().unwrap();
    let file = payout_file(dir.path(), 30);
    assert_eq!(server.run(&pay(&file, &[])).await.status.code(), Some(0));

    let path = file.to_str().unwrap();
    let undo = server.run(&["payout-undo", path, "--lines", "2,3,4"]).await;
    assert_eq!(
        undo.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&undo.stderr)
    );
    let summary: Value = serde_json::from_slice(&undo.stdout).unwrap();
    assert_eq!(summary["rows"]["cancelled"].as_u64(), Some(3));
    let cancelled = server
        .credits()
        .into_iter()
        .filter(|credit| credit.cancelled)
        .count();
    assert_eq!(cancelled, 3);
    for n in 1..=3 {
        assert_eq!(server.balance(&format!("user{n}@example.com")), 0.0);
    }

    // Undo again: already cancelled, nothing sent.
    let cancels = server.requests_received(Operation::CancelPoints);
    let again = server.run(&["payout-undo", path, "--lines", "all"]).await;
    assert_eq!(again.status.code(), Some(0));
    assert_eq!(
        server.requests_received(Operation::CancelPoints),
        cancels + 27
    );
    // And the payout run does not pay the cancelled rows again.
    let sends = server.requests_received(Operation::SendPoints);
    let rerun = server.run(&pay(&file, &[])).await;
    assert_eq!(rerun.status.code(), Some(0));
    assert_eq!(server.requests_received(Operation::SendPoints), sends);
}

/// Two worker processes on two "machines" share one run through a
/// PostgreSQL ledger: every row is sent by exactly one of them.
#[tokio::test(flavor = "multi_thread")]
async fn two_workers_share_a_run_through_postgres_and_send_each_row_once() {
    let url = crate::support::test_postgres();
    // 60 ms per send, 8 in flight each: the run takes over two seconds, so
    // the two overlap even when one process starts late.
    let server = World::start(Faults::none().latency(Duration::from_millis(60))).await;
    let dir = tempfile::tempdir().unwrap();
    let file = payout_file(dir.path(), 300);
    let table = format!("payout_ledger_test_{}", std::process::id());
    let shared = [
        "--ledger",
        url.as_str(),
        "--ledger-table",
        table.as_str(),
        "--run",
        "march-workers",
        "--concurrency",
        "8",
    ];
    let workers: Vec<_> = ["a", "b"]
        .iter()
        .map(|worker| {
            let report = dir.path().join(format!("{worker}.json"));
            let mut args = pay(&file, &shared);
            args.extend(["--report", report.to_str().unwrap()]);
            server.command(&args).spawn().unwrap()
        })
        .collect();
    let mut sent_by = Vec::new();
    for worker in workers {
        let output = tokio::task::spawn_blocking(move || worker.wait_with_output().unwrap())
            .await
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "{stderr}");
        let summary: Value = serde_json::from_slice(&output.stdout).unwrap();
        sent_by.push(summary["rows"]["sent"].as_u64().unwrap_or(0));
    }
    assert_eq!(credited_once(&server.credits()).len(), 300);
    assert_eq!(sent_by.iter().sum::<u64>(), 300, "{sent_by:?}");
    assert!(
        sent_by.iter().all(|sent| *sent > 0),
        "both took part: {sent_by:?}"
    );
    assert_eq!(server.requests_received(Operation::SendPoints), 300);
}

/// A send answered 202 or a redirect: the vendor may have credited it, so
/// `send-points` exits 4 and a payout row is in doubt — never "refused",
/// which `--retry-refused` would send again. No redirect is followed.
#[tokio::test(flavor = "multi_thread")]
async fn a_send_answered_202_or_302_is_in_doubt_and_never_sent_again() {
    for status in [202, 302] {
        let server = World::start(Faults::none().undocumented_status(0.25, status).seed(3)).await;
        let dir = tempfile::tempdir().unwrap();
        let file = payout_file(dir.path(), 40);

        let first = server.run(&pay(&file, &[])).await;

        let odd = server.fault_counts().undocumented_statuses;
        assert!(odd > 0);
        let stderr = String::from_utf8_lossy(&first.stderr);
        assert_eq!(first.status.code(), Some(4), "{stderr}");
        let summary: Value = serde_json::from_slice(&first.stdout).unwrap();
        assert_eq!(summary["rows"]["in_doubt"].as_u64(), Some(odd), "{summary}");
        assert!(summary["rows"].get("refused").is_none(), "{summary}");

        let sends = server.requests_received(Operation::SendPoints);
        let again = server.run(&pay(&file, &["--retry-refused"])).await;
        assert_eq!(again.status.code(), Some(4));
        assert_eq!(server.requests_received(Operation::SendPoints), sends);
        assert_eq!(credited_once(&server.credits()).len(), 40);
        assert_eq!(server.fault_counts().redirects_followed, 0);

        // One send from the command line: "maybe done", exit 4.
        let all = World::start(Faults::none().undocumented_status(1.0, status)).await;
        let sent = all
            .run(&[
                "send-points",
                "--sender-email",
                "admin@example.com",
                "--to-name",
                "Ann",
                "--to-email",
                "ann@example.com",
                "--amount",
                "5",
            ])
            .await;
        assert_eq!(sent.status.code(), Some(4));
        let stderr = String::from_utf8_lossy(&sent.stderr);
        assert!(
            stderr.contains(&format!("the vendor answered HTTP {status}")),
            "{stderr}"
        );
        assert_eq!(all.balance("ann@example.com"), 5.0);
        assert_eq!(all.fault_counts().redirects_followed, 0);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_csv_report_escapes_what_a_spreadsheet_would_run_and_spares_the_input() {
    let server = World::start(Faults::none()).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("march.csv");
    let text = "name,email,points\nAnn,=1+2@example.com,10\nBo,bo@example.com,20\n";
    std::fs::write(&file, text).unwrap();
    let ledger = server.default_ledger();
    std::fs::create_dir_all(ledger.parent().unwrap()).unwrap();
    std::fs::write(&ledger, "").unwrap();

    // A report over the input, the ledger, or any file that is not a
    // report (a token store, a manifest whose first line is `[`) is refused
    // before anything.
    let tokens = dir.path().join("tokens.json");
    std::fs::write(&tokens, r#"{"access_token":"a","refresh_token":"r"}"#).unwrap();
    let manifest = dir.path().join("Cargo.toml");
    std::fs::write(&manifest, "[package]\nname = \"mine\"\n").unwrap();
    for precious in [
        file.to_str().unwrap(),
        ledger.to_str().unwrap(),
        tokens.to_str().unwrap(),
        manifest.to_str().unwrap(),
    ] {
        let refused = server.run(&pay(&file, &["--report", precious])).await;
        assert_eq!(refused.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(
            stderr.contains("which writing the report would destroy: give another path"),
            "{stderr}"
        );
    }
    assert_eq!(std::fs::read_to_string(&file).unwrap(), text);
    assert!(
        std::fs::read_to_string(&tokens)
            .unwrap()
            .contains("refresh_token")
    );
    assert_eq!(
        std::fs::read_to_string(&manifest).unwrap(),
        "[package]\nname = \"mine\"\n"
    );
    assert_eq!(server.requests_received(Operation::SendPoints), 0);

    let report = dir.path().join("report.csv");
    let paid = server
        .run(&pay(&file, &["--report", report.to_str().unwrap()]))
        .await;
    assert_eq!(paid.status.code(), Some(0));
    let written = std::fs::read_to_string(&report).unwrap();
    let mut reader = csv::Reader::from_reader(written.as_bytes());
    let emails: Vec<String> = reader
        .records()
        .map(|record| record.unwrap()[1].to_owned())
        .collect();
    assert_eq!(emails.len(), 2);
    assert!(
        emails.contains(&"'=1+2@example.com".to_owned()),
        "{written}"
    );
    assert!(emails.contains(&"bo@example.com".to_owned()), "{written}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_file_edited_in_place_during_a_run_changes_nothing_the_run_sends() {
    const ROWS: u64 = 2_000;
    let server = World::start(Faults::none().latency(Duration::from_millis(10))).await;
    let dir = tempfile::tempdir().unwrap();
    let file = payout_file(dir.path(), ROWS);
    let child = server
        .command(&pay(&file, &["--concurrency", "8"]))
        .spawn()
        .unwrap();

    // A few rows in, an operator "fixes" line 1901 in place: it now repeats
    // the recipient of line 2, who was paid already.
    while server.credits().len() < 50 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let text = std::fs::read_to_string(&file).unwrap();
    let edited = text.replace(
        "User 1900,user1900@example.com,1900,",
        "User 1,user1@example.com,1,",
    );
    assert_ne!(edited, text);
    std::fs::write(&file, &edited).unwrap();
    let credited_at_edit = server.credits().len();
    let output = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        credited_at_edit < 1_800,
        "the edit came after line 1901 was sent ({credited_at_edit} credits): it proves nothing"
    );
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    // What was sent is what was checked: line 1901 as it was read.
    let credits = credited_once(&server.credits());
    assert_eq!(credits.len() as u64, ROWS);
    assert!(credits.contains_key("user1900@example.com"));
    assert!(
        stderr.contains("changed while the run went on: the run paid the rows as they were"),
        "{stderr}"
    );
    // The edited file is another version: it pays user1 twice, and pays
    // what the run paid.
    let again = server.run(&pay(&file, &[])).await;
    assert_eq!(again.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(
        stderr.contains("user1@example.com on lines 2, 1901"),
        "{stderr}"
    );
    let again = server.run(&pay(&file, &["--allow-duplicates"])).await;
    assert_eq!(again.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(
        stderr.contains("pays what earlier payouts in Sandbox")
            && stderr.contains("2000 of this file's rows pay a recipient the same points"),
        "{stderr}"
    );
    assert_eq!(server.credits().len() as u64, ROWS);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_recipient_on_two_rows_is_reported_before_anything_is_sent() {
    let server = World::start(Faults::none()).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("march.csv");
    std::fs::write(
        &file,
        "name,email,points\nAnn,ann@example.com,10\nBo,bo@example.com,20\nAnn L.,ANN@example.com,30\n",
    )
    .unwrap();

    let refused = server.run(&pay(&file, &[])).await;

    assert_eq!(refused.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&refused.stderr),
        "error: 1 recipient(s) are on more than one row, and each row would be paid:\n  \
         ann@example.com on lines 2, 4\nnothing was sent: remove the extra rows, or run again \
         with --allow-duplicates to pay each row\n"
    );
    assert_eq!(server.requests_received(Operation::SendPoints), 0);

    let allowed = server.run(&pay(&file, &["--allow-duplicates"])).await;
    assert_eq!(allowed.status.code(), Some(0));
    assert_eq!(server.balance("ann@example.com"), 10.0);
    assert_eq!(server.credits().len(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_confirmation_says_rows_recipients_points_and_the_host() {
    let server = World::start(Faults::none()).await;
    let dir = tempfile::tempdir().unwrap();
    let file = payout_file(dir.path(), 3);
    let mut args = vec!["--env", "production"];
    let overrides: Vec<String> = server
        .origin_overrides()
        .into_iter()
        .map(|(vendor, local)| format!("{vendor}={local}"))
        .collect();
    for rule in &overrides {
        args.extend(["--origin-override", rule.as_str()]);
    }
    args.extend(pay(&file, &[]));
    let mut command = server.command(&args);
    command.env_remove("XOXODAY_ORIGIN_OVERRIDES");

    let output = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();

    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let what = format!(
        "Pay 3 row(s) to 3 recipient(s), 6 points in all from {}",
        file.display()
    );
    assert!(
        stderr.contains(&format!(
            "{what} in Production (to {})? Type yes to go on:",
            server.origin()
        )),
        "{stderr}"
    );
    assert!(
        stderr.ends_with(&format!(
            "error: not confirmed, so nothing was done: {what} in Production (to {}) needs \
             `yes` (or --yes)\n",
            server.origin()
        )),
        "{stderr}"
    );
    assert_eq!(server.requests_received(Operation::SendPoints), 0);
}

/// A run killed part-way leaves a ledger with rows sent, rows in doubt and
/// rows never reached; `--dry-run` counts them as the ledger holds them,
/// sends nothing (the stand-in's ledger is unchanged) and exits 0 (there is
/// work); the ledger is unchanged, byte for byte. A file already paid exits
/// 6; a machine that never paid is left without a ledger.
#[tokio::test(flavor = "multi_thread")]
async fn a_dry_run_counts_what_a_half_done_ledger_holds_and_sends_nothing() {
    let server = World::start(
        Faults::none()
            .latency(Duration::from_millis(100))
            .dropped_answers(0.3)
            .seed(3),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let file = payout_file(dir.path(), 30);
    let states = killed_after_six_ledger_records(&server, &file).await;
    let count = |wanted: &[&str]| {
        states
            .values()
            .filter(|state| wanted.contains(&state.as_str()))
            .count() as u64
    };
    let (sent, in_doubt) = (count(&["sent"]), count(&["sending", "in_doubt"]));
    assert!(sent > 0 && sent + in_doubt < 30, "{states:?}");
    let credits = server.credits().len();
    let sends = server.requests_received(Operation::SendPoints);
    let before = ledger_files(&server);

    let dry = server.run(&pay(&file, &["--dry-run"])).await;

    let stderr = String::from_utf8_lossy(&dry.stderr);
    assert_eq!(dry.status.code(), Some(0), "{stderr}");
    let plan: Value = serde_json::from_slice(&dry.stdout).unwrap();
    assert_eq!(plan, half_done_plan(&server, &file, sent, in_doubt));
    assert!(
        stderr.contains(&format!("  to send:      {}\n", 30 - sent - in_doubt)),
        "{stderr}"
    );
    assert!(stderr.ends_with("nothing was sent\n"), "{stderr}");
    assert_eq!(server.credits().len(), credits);
    assert_eq!(server.requests_received(Operation::SendPoints), sends);
    assert_eq!(
        ledger_files(&server),
        before,
        "a dry run writes nothing to the ledger, not even a checkpoint"
    );
    assert_eq!(
        ledger_states(&server.default_ledger()),
        states,
        "a dry run records nothing"
    );

    dry_runs_on_a_machine_that_never_paid_then_paid_in_full().await;
}

/// A run of `file` with two sends in flight, killed once six rows are
/// recorded in the ledger, long before the last: the ledger's states then.
async fn killed_after_six_ledger_records(server: &World, file: &Path) -> BTreeMap<u64, String> {
    let mut child = server
        .command(&pay(file, &["--concurrency", "2"]))
        .spawn()
        .unwrap();
    // Killed once a few rows are recorded, long before the last.
    wait_for("six ledger records", || {
        ledger_states(&server.default_ledger()).len() >= 6
    })
    .await;
    child.kill().unwrap();
    child.wait().unwrap();
    ledger_states(&server.default_ledger())
}

/// The default ledger's file and its write-ahead log, byte for byte (`None`
/// when absent).
fn ledger_files(server: &World) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
    let bytes = |suffix: &str| {
        let mut path = server.default_ledger().into_os_string();
        path.push(suffix);
        std::fs::read(path).ok()
    };
    (bytes(""), bytes("-wal"))
}

/// The dry run's plan for the 30 rows of `file` (465 points) when the
/// ledger holds `sent` rows sent and `in_doubt` in doubt.
fn half_done_plan(server: &World, file: &Path, sent: u64, in_doubt: u64) -> Value {
    serde_json::json!({
        "rows": 30,
        "recipients": 30,
        "points": 465,
        "to_send": 30 - sent - in_doubt,
        "already_sent": sent,
        "in_doubt": in_doubt,
        "refused": 0,
        "cancelled": 0,
        "conflicts": 0,
        "ledger": server.default_ledger().display().to_string(),
        "run": file.display().to_string(),
    })
}

/// A dry run on a machine that never paid, then on one that paid the file
/// in full.
async fn dry_runs_on_a_machine_that_never_paid_then_paid_in_full() {
    // A machine that never paid: all to send, and no ledger made.
    let server = World::start(Faults::none()).await;
    let fresh_dir = tempfile::tempdir().unwrap();
    let fresh = payout_file(fresh_dir.path(), 5);
    let dry = server.run(&pay(&fresh, &["--dry-run"])).await;
    assert_eq!(dry.status.code(), Some(0));
    let plan: Value = serde_json::from_slice(&dry.stdout).unwrap();
    assert_eq!(plan["to_send"], 5);
    assert!(!server.default_ledger().exists());
    assert!(!server.data_home().join("xoxoday-reward-points").exists());

    // Paid in full: nothing left to send, exit status 6.
    let paid = server.run(&pay(&fresh, &[])).await;
    assert_eq!(paid.status.code(), Some(0));
    let dry = server.run(&pay(&fresh, &["--dry-run"])).await;
    assert_eq!(dry.status.code(), Some(6));
    let plan: Value = serde_json::from_slice(&dry.stdout).unwrap();
    assert_eq!(
        (plan["to_send"].clone(), plan["already_sent"].clone()),
        (0.into(), 5.into())
    );
}

/// `-vv` over a run the vendor slows down: the log on stderr says why the
/// run waits, shows each call, and carries no token.
#[tokio::test(flavor = "multi_thread")]
async fn a_verbose_run_logs_the_waits_and_never_a_token() {
    let server = World::start(Faults::none().rate_limited(0.3, 1).seed(9)).await;
    let dir = tempfile::tempdir().unwrap();
    let file = payout_file(dir.path(), 20);

    let output = server
        .run(&pay(&file, &["-vv", "--concurrency", "2"]))
        .await;

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(server.fault_counts().rate_limited > 0);
    assert!(
        stderr.contains(
            "rate-limited: the vendor asked to slow down; no send starts before the wait ends \
             wait_ms=1000"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("rate-limited until "), "{stderr}");
    assert!(
        stderr.contains("xoxoday_reward_points.call{operation=\"sendPoints\""),
        "{stderr}"
    );
    assert!(stderr.contains("ledger synced"), "{stderr}");
    assert!(!stderr.contains(STAND_IN_ACCESS_TOKEN), "{stderr}");
    // Quiet without -v: none of it.
    let quiet = server
        .run(&pay(
            &payout_file(tempfile::tempdir().unwrap().path(), 2),
            &[],
        ))
        .await;
    assert!(!String::from_utf8_lossy(&quiet.stderr).contains("xoxoday_reward_points"));
}

/// Another process holds the token store's lock (it is refreshing): the run
/// says that it waits for it, and goes on once it is free.
#[tokio::test(flavor = "multi_thread")]
async fn a_run_says_when_it_waits_for_the_token_stores_lock() {
    use xoxoday_reward_points::{EpochMillis, FileTokenStore, Secret, StoredTokens, TokenStore};
    let server = World::start(Faults::none()).await;
    let dir = tempfile::tempdir().unwrap();
    let file = payout_file(dir.path(), 3);
    let tokens = dir.path().join("tokens.json");
    let tokens = tokens.to_str().unwrap();
    let credentials = [
        ("XOXODAY_CLIENT_ID", "my-client-id"),
        ("XOXODAY_CLIENT_SECRET", "my-client-secret"),
    ];
    // An access token that has expired: the run's first call refreshes,
    // under the store's lock.
    let store = FileTokenStore::new(tokens);
    store
        .save(StoredTokens::new(
            Secret::new(STAND_IN_ACCESS_TOKEN),
            Some(EpochMillis(1_000)),
            Secret::new(xoxoday_reward_points_mocks::STAND_IN_REFRESH_TOKEN),
            None,
        ))
        .await
        .unwrap();

    // Held here, as a refreshing replica would hold it.
    let lease = store.lock().await.unwrap();
    let mut args = pay(&file, &[]);
    args.splice(0..0, ["--token-store", tokens]);
    let mut payout = server.command(&args);
    payout.envs(credentials).stderr(Stdio::piped());
    let mut child = payout.spawn().unwrap();
    // Its stderr, read as it comes; the lock is released once the run says
    // that it waits.
    let waiting = "waiting for the token store lock (another process holds it)";
    let stderr = Arc::new(Mutex::new(Vec::new()));
    let reader = std::thread::spawn({
        let mut from = child.stderr.take().unwrap();
        let stderr = stderr.clone();
        move || {
            let mut chunk = [0; 4096];
            while let Ok(read @ 1..) = std::io::Read::read(&mut from, &mut chunk) {
                stderr.lock().unwrap().extend_from_slice(&chunk[..read]);
            }
        }
    });
    wait_for("the waiting line", || {
        String::from_utf8_lossy(&stderr.lock().unwrap()).contains(waiting)
    })
    .await;
    assert_eq!(server.requests_received(Operation::SendPoints), 0);
    lease.release().await.unwrap();
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    reader.join().unwrap();

    let stderr = String::from_utf8_lossy(&stderr.lock().unwrap()).into_owned();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert_eq!(credited_once(&server.credits()).len(), 3);
}
