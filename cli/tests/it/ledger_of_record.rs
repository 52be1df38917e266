//! The ledger of record, attacked as operators and other processes attack
//! it: whether a payout was paid before is answered by one ledger per
//! environment and account, whatever the file's name or directory, the
//! ledger given, or the run's state; two runs started together never both
//! pay; an answer that contradicts a person is recorded, never dropped; and
//! nothing outside the tool's own files is written.

use std::path::Path;
use std::process::Output;

use serde_json::Value;
use xoxoday_reward_points::Operation;
use xoxoday_reward_points_mocks::Faults;

use crate::support::world::{
    World, credit_counts, credited_once, ledger_states, pay, run_command, wait_for,
};

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

const MARCH: &str = "name,email,points\nAnn Lee,ann@example.com,100\nBo Chen,bo@example.com,50\nCy Diaz,cy@example.com,75\n";

/// `payout march.csv` stops on a token the vendor refuses and says "run
/// again … nothing is sent twice"; a colleague fixes a name and pays
/// `march-v2.csv`; then march.csv is run again as advised. Everyone is
/// credited once, and the second march.csv run names the colleague's run.
#[tokio::test(flavor = "multi_thread")]
async fn following_the_tools_advice_after_a_colleague_paid_credits_no_one_twice() {
    let world = World::start(Faults::none()).await;
    let dir = tempfile::tempdir().unwrap();
    let march = dir.path().join("march.csv");
    write(&march, MARCH);
    let mut refused_token = world.command(&pay(&march, &[]));
    refused_token.env("XOXODAY_ACCESS_TOKEN", "a-token-the-vendor-refuses");
    let stopped = run_command(refused_token).await;
    assert_eq!(stopped.status.code(), Some(5), "{}", stderr(&stopped));
    assert!(
        stderr(&stopped).contains("run again to send them (nothing is sent twice)"),
        "{}",
        stderr(&stopped)
    );
    assert!(world.credits().is_empty());

    let fixed = dir.path().join("march-v2.csv");
    write(&fixed, &MARCH.replace("Bo Chen", "Bo Chén"));
    let colleague = world.run(&pay(&fixed, &[])).await;
    assert_eq!(colleague.status.code(), Some(0), "{}", stderr(&colleague));
    assert_eq!(world.credits().len(), 3);

    let advised = world.run(&pay(&march, &[])).await;

    assert_eq!(advised.status.code(), Some(1), "{}", stderr(&advised));
    let said = stderr(&advised);
    assert!(
        said.starts_with("error: march.csv (SHA-256 ")
            && said.contains("…) pays what earlier payouts in Sandbox (account ")
            && said.contains(&format!(
                "run {} (file march-v2.csv, started ",
                std::fs::canonicalize(&fixed).unwrap().display()
            ))
            && said.contains(
                " GMT): 3 of this file's rows pay a recipient the same points it credited"
            )
            && said.contains("run again with --pay-again"),
        "{said}"
    );
    credited_once(&world.credits());
    assert_eq!(world.credits().len(), 3);
}

/// The same file copied to another directory, and the file edited in one
/// row and paid under a new name: refused, naming the run, file and date;
/// `--pay-again` pays on purpose.
#[tokio::test(flavor = "multi_thread")]
async fn a_copy_in_another_directory_or_under_another_name_is_not_paid_again_unless_asked() {
    let world = World::start(Faults::none()).await;
    let first = tempfile::tempdir().unwrap();
    let file = first.path().join("march.csv");
    write(&file, MARCH);
    assert_eq!(world.run(&pay(&file, &[])).await.status.code(), Some(0));
    let run_name = std::fs::canonicalize(&file).unwrap().display().to_string();

    // Yesterday's command, from another directory with a copy of the file.
    let elsewhere = tempfile::tempdir().unwrap();
    let copy = elsewhere.path().join("march.csv");
    std::fs::copy(&file, &copy).unwrap();
    let mut rerun = world.command(&pay(Path::new("march.csv"), &[]));
    rerun.current_dir(elsewhere.path());
    let refused = run_command(rerun).await;
    assert_eq!(refused.status.code(), Some(1));
    let said = stderr(&refused);
    assert!(
        said.contains(&format!("run {run_name} (file march.csv, started "))
            && said.contains(" GMT, the same content): 3 of this file's rows pay a recipient"),
        "{said}"
    );

    // Edited in one row and paid under a new name.
    let edited = elsewhere.path().join("march-fixed.csv");
    write(
        &edited,
        &MARCH.replace("cy@example.com,75", "cy@example.com,80"),
    );
    let refused = world.run(&pay(&edited, &[])).await;
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stderr(&refused).contains("): 2 of this file's rows pay a recipient the same points"),
        "{}",
        stderr(&refused)
    );
    assert_eq!(world.credits().len(), 3);

    // Said on purpose: paid again, and that run goes on when resumed.
    let again = world.run(&pay(&copy, &["--pay-again"])).await;
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    assert!(
        credit_counts(&world.credits())
            .values()
            .all(|count| *count == 2)
    );
    let resumed = world.run(&pay(&copy, &[])).await;
    assert_eq!(resumed.status.code(), Some(0), "{}", stderr(&resumed));
    assert_eq!(world.credits().len(), 6);
}

/// A Sandbox rehearsal never stands in the way of the Production run.
#[tokio::test(flavor = "multi_thread")]
async fn a_sandbox_rehearsal_never_blocks_the_production_run() {
    let world = World::start(Faults::none()).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("march.csv");
    write(&file, MARCH);
    assert_eq!(world.run(&pay(&file, &[])).await.status.code(), Some(0));

    let overrides: Vec<String> = world
        .origin_overrides()
        .into_iter()
        .map(|(vendor, local)| format!("--origin-override={vendor}={local}"))
        .collect();
    let mut args = vec!["--env", "production", "--yes"];
    args.extend(overrides.iter().map(String::as_str));
    args.extend(pay(&file, &[]));
    let mut production = world.command(&args);
    production.env_remove("XOXODAY_ORIGIN_OVERRIDES");
    let paid = run_command(production).await;

    assert_eq!(paid.status.code(), Some(0), "{}", stderr(&paid));
    assert!(
        credit_counts(&world.credits())
            .values()
            .all(|count| *count == 2)
    );
}

/// A run recorded in a PostgreSQL ledger, then one from a shell without
/// it, or with another table: refused, naming the ledger of record.
#[tokio::test(flavor = "multi_thread")]
async fn a_run_recorded_elsewhere_than_the_ledger_of_record_is_refused() {
    let url = crate::support::test_postgres();
    let world = World::start(Faults::none()).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("march.csv");
    write(&file, MARCH);
    let table = format!("ledger_of_record_{}", std::process::id());
    let mut postgres = world.command(&pay(&file, &["--ledger-table", &table]));
    postgres.env("XOXODAY_PAYOUT_LEDGER", &url);
    let paid = run_command(postgres).await;
    assert_eq!(paid.status.code(), Some(0), "{}", stderr(&paid));

    let copy = dir.path().join("march-copy.csv");
    std::fs::copy(&file, &copy).unwrap();
    let without = world.run(&pay(&copy, &[])).await;
    assert_eq!(without.status.code(), Some(1));
    let said = stderr(&without);
    assert!(
        said.contains("error: payouts of Sandbox (account ")
            && said.contains("are recorded in the ledger postgresql://")
            && said.contains(&format!("table {table} (since "))
            && said.contains(&format!("not in {}", world.default_ledger().display())),
        "{said}"
    );
    // A variable an earlier version read, left in the shell, names the
    // database: said, not silently ignored.
    let mut left = world.command(&pay(&copy, &[]));
    left.env("XOXODAY_PAYOUT_JOURNAL", &url);
    let left = run_command(left).await;
    assert_eq!(left.status.code(), Some(1));
    assert!(
        stderr(&left).contains(
            "--journal (or XOXODAY_PAYOUT_JOURNAL) names a PostgreSQL database: payouts are \
             recorded in a ledger now, given with --ledger (or XOXODAY_PAYOUT_LEDGER)"
        ),
        "{}",
        stderr(&left)
    );
    let other_table = world
        .run(&pay(
            &copy,
            &["--ledger", &url, "--ledger-table", "another_table"],
        ))
        .await;
    assert_eq!(
        other_table.status.code(),
        Some(1),
        "{}",
        stderr(&other_table)
    );
    assert!(stderr(&other_table).contains(&format!("table {table} (since ")));
    assert_eq!(world.credits().len(), 3);
}

fn exits(outputs: &[Output]) -> Vec<Option<i32>> {
    let mut codes: Vec<Option<i32>> = outputs.iter().map(|o| o.status.code()).collect();
    codes.sort();
    codes
}

/// Two runs of the same content started at the same moment, many times,
/// on the default ledger and on PostgreSQL: under two names (two cron jobs,
/// renamed files), one pays and the other is refused; under one name, they
/// share the run. Never a recipient credited twice.
#[tokio::test(flavor = "multi_thread")]
async fn two_runs_of_the_same_content_started_together_never_both_pay() {
    const TIMES: usize = 12;
    const ON_POSTGRES: usize = 4;
    let url = crate::support::test_postgres();
    let body: String = (1..=20)
        .map(|n| format!("User {n},user{n}@example.com,{n}\n"))
        .collect();
    let content = format!("name,email,points\n{body}");
    for time in 0..TIMES + ON_POSTGRES {
        let world = World::start(Faults::none()).await;
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.csv"), dir.path().join("b.csv"));
        write(&a, &content);
        write(&b, &content);
        let same_name = time % 3 == 2;
        let second = if same_name { a.clone() } else { b.clone() };
        let table = format!("together_{}_{time}", std::process::id());
        let children: Vec<_> = [&a, &second]
            .iter()
            .map(|file| {
                let mut command = world.command(&pay(file, &[]));
                if time >= TIMES {
                    command
                        .env("XOXODAY_PAYOUT_LEDGER", &url)
                        .args(["--ledger-table", &table]);
                }
                command.spawn().unwrap()
            })
            .collect();
        let outputs: Vec<Output> = children
            .into_iter()
            .map(|child| child.wait_with_output().unwrap())
            .collect();

        credited_once(&world.credits());
        assert_eq!(world.credits().len(), 20, "time {time}");
        let summaries: Vec<String> = outputs.iter().map(stderr).collect();
        if same_name {
            assert_eq!(exits(&outputs), [Some(0), Some(0)], "{summaries:?}");
        } else {
            assert_eq!(exits(&outputs), [Some(0), Some(1)], "{summaries:?}");
            assert!(
                summaries
                    .iter()
                    .any(|said| said.contains("pays what earlier payouts in Sandbox")),
                "{summaries:?}"
            );
        }
    }
}

/// A person's word on a row that another process of the run is sending
/// right now waits for that process: refused, naming the lines, and nothing
/// is sent twice. (What the ledger does with an answer that comes after a
/// contrary word anyway — recorded beside it, reported as a conflict — is
/// `payouts/src/run.rs` `an_answer_after_a_persons_contrary_word_is_kept_and_reported`.)
#[tokio::test(flavor = "multi_thread")]
async fn a_row_in_flight_on_another_process_cannot_be_resent() {
    let world = World::start(Faults::none().latency(std::time::Duration::from_millis(1_500))).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("march.csv");
    write(&file, "name,email,points\nAnn Lee,ann@example.com,100\n");
    let first = world.command(&pay(&file, &[])).spawn().unwrap();
    wait_for("the row in flight", || {
        ledger_states(&world.default_ledger())
            .get(&2)
            .map(String::as_str)
            == Some("sending")
    })
    .await;

    let resent = world.run(&pay(&file, &["--resend-in-doubt", "2"])).await;
    let first = first.wait_with_output().unwrap();

    assert_eq!(resent.status.code(), Some(1), "{}", stderr(&resent));
    assert!(
        stderr(&resent)
            .contains("lines [2] may be in flight right now: another process of this run holds it"),
        "{}",
        stderr(&resent)
    );
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    assert_eq!(world.credits().len(), 1);
    assert_eq!(world.requests_received(Operation::SendPoints), 1);
}

/// Paths that hold anything but the tool's own files are refused and left
/// as they are, in a dry run too: a spreadsheet named as a journal, a text
/// file or another program's database named as the ledger.
#[tokio::test(flavor = "multi_thread")]
async fn files_that_are_not_the_tools_own_are_never_written() {
    let world = World::start(Faults::none()).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("june.csv");
    write(&file, MARCH);
    // A first line that looks cut short, as a journal's after a crash.
    let xlsx = dir.path().join("june.xlsx");
    let spreadsheet = b"PK\x03\x04 not a journal, no newline at all";
    std::fs::write(&xlsx, spreadsheet).unwrap();
    let notes = dir.path().join("notes.txt");
    write(&notes, "groceries\n");
    let theirs = dir.path().join("theirs.sqlite3");
    rusqlite::Connection::open(&theirs)
        .unwrap()
        .execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
        .unwrap();
    let theirs_bytes = std::fs::read(&theirs).unwrap();

    for (args, what) in [
        (
            vec!["--journal", xlsx.to_str().unwrap(), "--dry-run"],
            "it is not a journal of an earlier version",
        ),
        (
            vec!["--journal", xlsx.to_str().unwrap()],
            "it is not a journal of an earlier version",
        ),
        (
            vec!["--ledger", notes.to_str().unwrap(), "--dry-run"],
            "it holds something other than a payout ledger",
        ),
        (
            vec!["--ledger", notes.to_str().unwrap()],
            "it holds something other than a payout ledger",
        ),
        (
            vec!["--ledger", theirs.to_str().unwrap()],
            "it is an SQLite database of another program",
        ),
    ] {
        let refused = world.run(&pay(&file, &args)).await;
        assert_eq!(
            refused.status.code(),
            Some(1),
            "{args:?}: {}",
            stderr(&refused)
        );
        assert!(
            stderr(&refused).contains(what),
            "{args:?}: {}",
            stderr(&refused)
        );
    }
    assert_eq!(std::fs::read(&xlsx).unwrap(), spreadsheet);
    assert_eq!(std::fs::read_to_string(&notes).unwrap(), "groceries\n");
    assert_eq!(std::fs::read(&theirs).unwrap(), theirs_bytes);
    assert_eq!(world.requests_received(Operation::SendPoints), 0);
}

/// A journal an earlier version wrote beside the file: the run stops until
/// told where it paid, then imports it once (leaving it as it is) and goes
/// on from it; a journal whose records say other rows than the file stops
/// the run.
#[tokio::test(flavor = "multi_thread")]
async fn an_earlier_versions_journal_is_imported_once_and_never_lost() {
    use sha2::Digest;
    let world = World::start(Faults::none()).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("march.csv");
    write(&file, MARCH);
    let sha: String = sha2::Sha256::digest(MARCH.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    let journal = dir.path().join("march.csv.journal");
    let text = format!(
        "{{\"journal\":1,\"file\":\"march.csv\",\"sha256\":\"{sha}\",\"rows\":3,\"started\":\"Mon, 30 Nov 2026 10:00:00 GMT\"}}\n\
         {{\"line\":2,\"attempt\":1,\"email\":\"ann@example.com\",\"points\":100,\"name\":\"Ann Lee\",\"state\":\"sending\"}}\n\
         {{\"line\":2,\"attempt\":1,\"email\":\"ann@example.com\",\"points\":100,\"name\":\"Ann Lee\",\"state\":\"sent\",\"transaction\":41}}\n"
    );
    write(&journal, &text);

    let asked = world.run(&pay(&file, &[])).await;
    assert_eq!(asked.status.code(), Some(1));
    assert!(
        stderr(&asked).contains(&format!(
            "1 journal(s) written by an earlier version of this tool were found (beside the \
             file, or in the ledger's database), and they do not say which environment they \
             paid in:\n  {} (file march.csv, started Mon, 30 Nov 2026 10:00:00 GMT, 1 row(s) \
             recorded)",
            std::fs::canonicalize(&journal).unwrap().display()
        )),
        "{}",
        stderr(&asked)
    );
    assert_eq!(world.requests_received(Operation::SendPoints), 0);

    let imported = world
        .run(&pay(&file, &["--journals-paid-in", "sandbox"]))
        .await;
    assert_eq!(imported.status.code(), Some(0), "{}", stderr(&imported));
    assert!(
        stderr(&imported).contains("imported "),
        "{}",
        stderr(&imported)
    );
    let summary: Value = serde_json::from_slice(&imported.stdout).unwrap();
    assert_eq!(summary["rows"]["already_sent"], 1);
    assert_eq!(summary["rows"]["sent"], 2);
    assert!(world.credits().iter().all(|c| c.email != "ann@example.com"));
    assert_eq!(std::fs::read_to_string(&journal).unwrap(), text);
    // Imported once: not asked again.
    let again = world.run(&pay(&file, &[])).await;
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));

    // A journal edited by hand (line 3 forged) beside another copy.
    let other = tempfile::tempdir().unwrap();
    let copy = other.path().join("march.csv");
    write(&copy, MARCH);
    write(
        &other.path().join("march.csv.journal"),
        &format!(
            "{{\"journal\":1,\"file\":\"march.csv\",\"sha256\":\"{sha}\",\"rows\":3}}\n\
             {{\"line\":3,\"attempt\":1,\"email\":\"mallory@example.com\",\"points\":2,\"name\":\"Bo Chen\",\"state\":\"sending\"}}\n"
        ),
    );
    let world = World::start(Faults::none()).await;
    let forged = world
        .run(&pay(&copy, &["--journals-paid-in", "sandbox"]))
        .await;
    assert_eq!(forged.status.code(), Some(1));
    assert!(
        stderr(&forged).contains(
            "recorded other rows than the file holds, so it cannot say what was sent of this \
             file:\n  line 3: the file pays bo@example.com 50 points (Bo Chen), which is not \
             what the ledger recorded for that line\nnothing was sent"
        ),
        "{}",
        stderr(&forged)
    );
    assert_eq!(world.requests_received(Operation::SendPoints), 0);
}

/// A run that has begun holds its rows even before it sends one: here an
/// operator has not answered its confirmation yet. A copy started
/// meanwhile, on the default ledger or on PostgreSQL, is refused as going
/// on; once the first is answered and done, everyone is credited once.
#[tokio::test(flavor = "multi_thread")]
async fn a_run_waiting_for_its_confirmation_holds_its_rows() {
    use std::io::Write;
    let url = crate::support::test_postgres();
    for on_postgres in [false, true] {
        let world = World::start(Faults::none()).await;
        let dir = tempfile::tempdir().unwrap();
        let (file, copy) = (dir.path().join("march.csv"), dir.path().join("copy.csv"));
        write(&file, MARCH);
        write(&copy, MARCH);
        let overrides: Vec<String> = world
            .origin_overrides()
            .into_iter()
            .map(|(vendor, local)| format!("--origin-override={vendor}={local}"))
            .collect();
        let production = |file: &Path, more: &[&str]| {
            let mut args = vec!["--env", "production"];
            args.extend(overrides.iter().map(String::as_str));
            args.extend(more);
            args.extend(pay(file, &[]));
            let mut command = world.command(&args);
            command.env_remove("XOXODAY_ORIGIN_OVERRIDES");
            if on_postgres {
                command
                    .env("XOXODAY_PAYOUT_LEDGER", &url)
                    .args(["--ledger-table", &format!("waiting_{}", std::process::id())]);
            }
            command
        };
        let mut first = production(&file, &[]);
        first.stdin(std::process::Stdio::piped());
        let mut first = first.spawn().unwrap();
        // The question ends without a new line: read as it comes.
        let mut asked = first.stderr.take().unwrap();
        let mut said = Vec::new();
        while !String::from_utf8_lossy(&said).contains("Type yes to go on") {
            let mut chunk = [0; 256];
            let read = std::io::Read::read(&mut asked, &mut chunk).unwrap();
            assert!(read > 0, "{}", String::from_utf8_lossy(&said));
            said.extend_from_slice(&chunk[..read]);
        }

        let refused = run_command(production(&copy, &["--yes"])).await;

        assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
        assert!(
            stderr(&refused).contains(&format!(
                "run {} (file march.csv, started ",
                std::fs::canonicalize(&file).unwrap().display()
            )) && stderr(&refused)
                .contains("going on right now: 3 of this file's rows are among the rows it pays"),
            "{}",
            stderr(&refused)
        );
        first.stdin.take().unwrap().write_all(b"yes\n").unwrap();
        let done = first.wait_with_output().unwrap();
        assert_eq!(done.status.code(), Some(0), "on PostgreSQL: {on_postgres}");
        credited_once(&world.credits());
        assert_eq!(world.credits().len(), 3);
    }
}

/// The journal an earlier version kept in PostgreSQL, in the database of
/// the PostgreSQL ledger: imported as a journal file is, its credits skipped.
#[tokio::test(flavor = "multi_thread")]
async fn an_earlier_versions_postgres_journal_is_imported_too() {
    use sha2::Digest;
    let url = crate::support::test_postgres();
    let schema = format!("earlier_{}", std::process::id());
    let (admin, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let sha: String = sha2::Sha256::digest(MARCH.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    admin
        .batch_execute(&format!(
            "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema};
             CREATE TABLE {schema}.reward_points_payout_journal_runs (run TEXT PRIMARY KEY, \
             file TEXT NOT NULL, sha256 TEXT NOT NULL, rows BIGINT NOT NULL, \
             created_at TIMESTAMPTZ NOT NULL DEFAULT now());
             CREATE TABLE {schema}.reward_points_payout_journal (run TEXT NOT NULL, \
             line BIGINT NOT NULL, attempt INTEGER NOT NULL, email TEXT NOT NULL, \
             points BIGINT NOT NULL, state TEXT NOT NULL, \
             updated_at TIMESTAMPTZ NOT NULL DEFAULT now(), name TEXT, PRIMARY KEY (run, line));
             INSERT INTO {schema}.reward_points_payout_journal_runs (run, file, sha256, rows) \
             VALUES ('march.csv:{}', 'march.csv', '{sha}', 3);
             INSERT INTO {schema}.reward_points_payout_journal \
             (run, line, attempt, email, points, state, name) VALUES ('march.csv:{}', 2, 1, \
             'ann@example.com', 100, '{{\"state\":\"sent\",\"transaction\":41}}', 'Ann Lee');",
            &sha[..16],
            &sha[..16]
        ))
        .await
        .unwrap();
    // The ledger's tables in the same schema, as they would be.
    let separator = if url.contains('?') { '&' } else { '?' };
    let ledger = format!("{url}{separator}options=-c%20search_path%3D{schema}");
    let world = World::start(Faults::none()).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("march.csv");
    write(&file, MARCH);
    let with_ledger = |more: &[&str]| {
        let mut command = world.command(&pay(&file, more));
        command.env("XOXODAY_PAYOUT_LEDGER", &ledger);
        command
    };

    let asked = run_command(with_ledger(&[])).await;
    assert_eq!(asked.status.code(), Some(1), "{}", stderr(&asked));
    assert!(
        stderr(&asked).contains(&format!(
            "table reward_points_payout_journal, run march.csv:{} (file march.csv, started ",
            &sha[..16]
        )),
        "{}",
        stderr(&asked)
    );
    let imported = run_command(with_ledger(&["--journals-paid-in", "sandbox"])).await;
    assert_eq!(imported.status.code(), Some(0), "{}", stderr(&imported));
    let summary: Value = serde_json::from_slice(&imported.stdout).unwrap();
    assert_eq!(
        (
            summary["rows"]["already_sent"].clone(),
            summary["rows"]["sent"].clone()
        ),
        (1.into(), 2.into())
    );
    assert!(
        world
            .credits()
            .iter()
            .all(|credit| credit.email != "ann@example.com")
    );
    admin
        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .await
        .unwrap();
}
