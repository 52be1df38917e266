//! Each `reward-points` command as a person runs it, against the offline
//! stand-in: JSON out, one line and exit 1 on any error, confirmation
//! before Production sends, usage errors, secrets kept off the command
//! line.

use std::io::Write;
use std::process::{Output, Stdio};

use crate::support::reward_points;

use serde_json::Value;
use xoxoday_reward_points::{FileTokenStore, Operation, TokenStore};
use xoxoday_reward_points_mocks::{STAND_IN_ACCESS_TOKEN, STAND_IN_REFRESH_TOKEN, StandIn};

fn run(stand_in: &StandIn, token: Option<&str>, args: &[&str], stdin: &str) -> Output {
    run_with(stand_in, token, &[], args, stdin)
}

/// `run`, with more environment variables: the tool against `stand_in`
/// (overrides on the command line), `stdin` written to it.
fn run_with(
    stand_in: &StandIn,
    token: Option<&str>,
    env: &[(&str, &str)],
    args: &[&str],
    stdin: &str,
) -> Output {
    let data_home = tempfile::tempdir().unwrap();
    let mut command = reward_points(data_home.path(), &[]);
    for (origin, local) in stand_in.vendor().origin_overrides() {
        command
            .arg("--origin-override")
            .arg(format!("{origin}={local}"));
    }
    command
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::piped());
    if let Some(token) = token {
        command.env("XOXODAY_ACCESS_TOKEN", token);
    }
    let mut child = command.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// The stand-in's local server for one vendor origin.
fn local_origin_of(stand_in: &StandIn, vendor: &str) -> String {
    stand_in
        .vendor()
        .origin_overrides()
        .into_iter()
        .find(|(origin, _)| origin == vendor)
        .map(|(_, local)| local.trim_end_matches('/').to_owned())
        .unwrap()
}

/// `reward-points ARGS` with only the environment `env` (no overrides on
/// the command line), stdin closed.
fn bare(env: &[(&str, &str)], args: &[&str]) -> Output {
    // A data directory of its own: a payout command's ledger lives there.
    let data_home = tempfile::tempdir().unwrap();
    reward_points(data_home.path(), args)
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

fn stdout_json(output: &Output) -> Value {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

fn one_line_error(output: &Output) -> String {
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8(output.stderr.clone()).unwrap();
    let last = stderr.lines().last().unwrap_or_default().to_owned();
    assert!(last.starts_with("error: "), "{stderr}");
    last
}

const SEND: [&str; 9] = [
    "send-points",
    "--sender-email",
    "admin@example.com",
    "--to-name",
    "John Doe",
    "--to-email",
    "john.doe@example.com",
    "--amount",
    "100",
];

#[tokio::test(flavor = "multi_thread")]
async fn fetch_send_and_cancel_print_json() {
    let stand_in = StandIn::start().await;
    let token = Some(STAND_IN_ACCESS_TOKEN);

    let sent = stdout_json(&run(&stand_in, token, &SEND, ""));
    let unique_id = sent["data"]["unique_id"].as_i64().unwrap();
    let balance = stdout_json(&run(
        &stand_in,
        token,
        &["fetch-points", "--email", "john.doe@example.com"],
        "",
    ));
    assert_eq!(balance["data"]["user_balance"]["data"]["total"], 100.0);

    let cancelled = stdout_json(&run(
        &stand_in,
        token,
        &["cancel-points", "--unique-id", &unique_id.to_string()],
        "",
    ));
    assert_eq!(
        cancelled,
        serde_json::json!({ "transactions": [{
            "unique_id": unique_id,
            "cancelled": true,
            "message": "Points cancelled successfully",
        }] })
    );
    assert_eq!(stand_in.balance("john.doe@example.com"), 0.0);

    let valid = stdout_json(&run(&stand_in, token, &["validate-token"], ""));
    assert_eq!(valid["token_type"], "bearer");
    assert_eq!(valid["access_token"], "<redacted>");
    let shown = stdout_json(&run(
        &stand_in,
        token,
        &["--show-token", "validate-token"],
        "",
    ));
    assert_eq!(shown["access_token"], STAND_IN_ACCESS_TOKEN);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_partly_done_cancel_says_what_was_done_and_exits_3() {
    let stand_in = StandIn::start().await;
    let token = Some(STAND_IN_ACCESS_TOKEN);
    let sent = stdout_json(&run(&stand_in, token, &SEND, ""));
    let unique_id = sent["data"]["unique_id"].as_i64().unwrap();

    let output = run(
        &stand_in,
        token,
        &[
            "cancel-points",
            "--unique-id",
            &unique_id.to_string(),
            "--unique-id",
            "1",
        ],
        "",
    );
    assert_eq!(output.status.code(), Some(3));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        report,
        serde_json::json!({ "transactions": [
            { "unique_id": unique_id, "cancelled": true, "message": "Points cancelled successfully" },
            { "unique_id": 1, "cancelled": false, "message": "no such transaction" },
        ] })
    );
    assert_eq!(
        String::from_utf8(output.stderr).unwrap(),
        "partly done: see each transaction's outcome above\n"
    );
    assert_eq!(stand_in.balance("john.doe@example.com"), 0.0);

    // Nothing cancelled at all: a failure, exit 1, each transaction named.
    let output = run(
        &stand_in,
        token,
        &["cancel-points", "--unique-id", &unique_id.to_string()],
        "",
    );
    assert_eq!(
        one_line_error(&output),
        format!(
            "error: nothing was cancelled: processed; transaction {unique_id}: not cancelled \
             (already cancelled)"
        )
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn production_sends_need_confirmation() {
    let stand_in = StandIn::start().await;
    let token = Some(STAND_IN_ACCESS_TOKEN);
    let production: Vec<&str> = ["--env", "production"].into_iter().chain(SEND).collect();

    // No answer (a script, CI): nothing is sent. The question names where
    // the call really goes (here the override's local server).
    let refused = run(&stand_in, token, &production, "");
    let host = local_origin_of(&stand_in, "https://accounts.xoxoday.com");
    assert_eq!(
        one_line_error(&refused),
        format!(
            "error: not confirmed, so nothing was done: Send 100 points to john.doe@example.com \
             in Production (to {host}) needs `yes` (or --yes)"
        )
    );
    assert_eq!(stand_in.balance("john.doe@example.com"), 0.0);

    // Typed `yes`: sent once.
    stdout_json(&run(&stand_in, token, &production, "yes\n"));
    assert_eq!(stand_in.balance("john.doe@example.com"), 100.0);

    // --yes: no question asked.
    let with_yes: Vec<&str> = production.iter().copied().chain(["--yes"]).collect();
    stdout_json(&run(&stand_in, token, &with_yes, ""));
    assert_eq!(stand_in.balance("john.doe@example.com"), 200.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn errors_are_one_line() {
    let stand_in = StandIn::start().await;

    let bad_token = run(&stand_in, Some("revoked"), &["validate-token"], "");
    assert_eq!(
        one_line_error(&bad_token),
        "error: validateTokenPoints: the vendor answered HTTP 401 Unauthorized: \"Unauthorized\""
    );

    let no_token = run(
        &stand_in,
        None,
        &["fetch-points", "--email", "a@example.com"],
        "",
    );
    assert_eq!(
        one_line_error(&no_token),
        "error: XOXODAY_ACCESS_TOKEN is not set: set it, or give --token-store PATH"
    );

    let vendor_failure = run(
        &stand_in,
        Some(STAND_IN_ACCESS_TOKEN),
        &["fetch-points", "--phone", "+91-8999888887"],
        "",
    );
    assert_eq!(
        one_line_error(&vendor_failure),
        "error: fetchPoints: the vendor refused: missing user's details"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_values_are_refused_before_anything_is_sent() {
    let stand_in = StandIn::start().await;
    let token = Some(STAND_IN_ACCESS_TOKEN);
    let send_with = |field: &str, value: &str| -> Vec<String> {
        let mut args: Vec<String> = SEND.iter().map(|arg| arg.to_string()).collect();
        let at = args.iter().position(|arg| arg == field).unwrap() + 1;
        args[at] = value.to_owned();
        args
    };
    let cases = [
        (
            send_with("--amount", "-50"),
            "error: amount: `-50` is not a whole number of points written in digits",
        ),
        (
            send_with("--amount", "1e3"),
            "error: amount: `1e3` is not a whole number of points written in digits",
        ),
        (
            send_with("--amount", "18446744073709551615"),
            "error: amount: 18446744073709551615 points is more than the 1000000000 one credit \
             may carry",
        ),
        (
            send_with("--to-name", ""),
            "error: to_name: the recipient's name is empty",
        ),
        (
            send_with("--to-email", "john.doe@exmaple"),
            "error: to_email: `john.doe@exmaple` is not an email address: its domain has no \
             top-level domain (such as `.com`)",
        ),
        (
            vec![
                "fetch-points".into(),
                "--email".into(),
                "john.doe@exmaple".into(),
            ],
            "error: email: `john.doe@exmaple` is not an email address: its domain has no \
             top-level domain (such as `.com`)",
        ),
    ];
    for (args, expected) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        assert_eq!(one_line_error(&run(&stand_in, token, &args, "")), expected);
    }
    assert_eq!(stand_in.requests_received(Operation::SendPoints), 0);
    assert_eq!(stand_in.requests_received(Operation::FetchPoints), 0);
}

#[test]
fn help_lists_every_operation_and_the_credentials() {
    let data_home = tempfile::tempdir().unwrap();
    let output = reward_points(data_home.path(), &["--help"])
        .output()
        .unwrap();
    let help = String::from_utf8(output.stdout).unwrap();
    for needle in [
        "validate-token",
        "refresh-token",
        "create-user-token",
        "fetch-points",
        "send-points",
        "cancel-points",
        "--env",
        "XOXODAY_ACCESS_TOKEN",
        "--token-store",
        "--yes",
    ] {
        assert!(help.contains(needle), "--help lacks {needle}:\n{help}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn seed_token_store_saves_the_dashboard_tokens_with_their_expiries_once() {
    let stand_in = StandIn::start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokens.json");
    let store = path.to_str().unwrap();
    let env = [("XOXODAY_REFRESH_TOKEN", STAND_IN_REFRESH_TOKEN)];
    let token = Some(STAND_IN_ACCESS_TOKEN);
    let seed = ["--token-store", store, "seed-token-store"];

    let seeded = stdout_json(&run_with(&stand_in, token, &env, &seed, ""));

    let expected = stand_in.initial_tokens();
    assert_eq!(
        seeded,
        serde_json::json!({
            "saved_to": store,
            "access_token_valid": true,
            "access_token_expiry": expected.access_token_expiry.unwrap().as_millis(),
            "refresh_token_expiry": seeded["refresh_token_expiry"],
        })
    );
    let saved = FileTokenStore::new(&path).load().await.unwrap().unwrap();
    assert_eq!(saved.access_token.expose_secret(), STAND_IN_ACCESS_TOKEN);
    assert_eq!(saved.refresh_token.expose_secret(), STAND_IN_REFRESH_TOKEN);
    assert_eq!(saved.access_token_expiry, expected.access_token_expiry);

    // Seeding again would replace live tokens: only with --replace.
    let again = run_with(&stand_in, token, &env, &seed, "");
    assert_eq!(
        one_line_error(&again),
        format!(
            "error: {store} already holds tokens; nothing was changed (give --replace to \
             overwrite them)"
        )
    );
    let replace: Vec<&str> = seed.iter().copied().chain(["--replace"]).collect();
    stdout_json(&run_with(&stand_in, token, &env, &replace, ""));

    // The store serves the other commands.
    let credentials = [
        ("XOXODAY_CLIENT_ID", "my-client-id"),
        ("XOXODAY_CLIENT_SECRET", "my-client-secret"),
    ];
    let balance = stdout_json(&run_with(
        &stand_in,
        None,
        &credentials,
        &[
            "--token-store",
            store,
            "fetch-points",
            "--email",
            "a@example.com",
        ],
        "",
    ));
    assert_eq!(balance["data"]["user_balance"]["success"], 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn overrides_left_in_the_shell_never_send_production_calls_elsewhere() {
    let stand_in = StandIn::start().await;
    // As `stand-in` prints them, with the stray white space of a copy.
    let overrides: Vec<String> = stand_in
        .vendor()
        .origin_overrides()
        .into_iter()
        .map(|(vendor, local)| format!("{vendor}={local}"))
        .collect();
    let overrides = format!(" {} \n", overrides.join("  \n "));
    let env = [
        ("XOXODAY_ORIGIN_OVERRIDES", overrides.as_str()),
        ("XOXODAY_ACCESS_TOKEN", STAND_IN_ACCESS_TOKEN),
    ];
    let production: Vec<&str> = ["--env", "production", "--yes"]
        .into_iter()
        .chain(SEND)
        .collect();

    let refused = bare(&env, &production);

    assert_eq!(refused.status.code(), Some(1));
    let stderr = String::from_utf8(refused.stderr).unwrap();
    assert!(
        stderr.starts_with("error: XOXODAY_ORIGIN_OVERRIDES is set (https://"),
        "{stderr}"
    );
    assert!(
        stderr.ends_with(
            "and would send Production's calls and token elsewhere: unset it (`unset \
             XOXODAY_ORIGIN_OVERRIDES`), or give each override with --origin-override for this \
             run; nothing was sent\n"
        ),
        "{stderr}"
    );
    assert_eq!(stand_in.requests_received(Operation::SendPoints), 0);

    // In Sandbox they apply, white space and all.
    let sandbox: Vec<&str> = SEND.to_vec();
    stdout_json(&bare(&env, &sandbox));
    assert_eq!(stand_in.requests_received(Operation::SendPoints), 1);
}

#[test]
fn a_cancel_from_sandbox_asks_first_naming_productions_host() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("march.csv");
    std::fs::write(&file, "name,email,points\nAnn,ann@example.com,1\n").unwrap();
    let env = [
        ("XOXODAY_ACCESS_TOKEN", "a-sandbox-token"),
        ("XOXODAY_CLIENT_ID", "a-client-id"),
    ];

    // Nothing listens for these: a call that left would fail otherwise.
    let cancel = bare(&env, &["cancel-points", "--unique-id", "5"]);
    let undo = bare(
        &env,
        &["payout-undo", file.to_str().unwrap(), "--lines", "all"],
    );

    assert_eq!(
        one_line_error(&cancel),
        "error: not confirmed, so nothing was done: Cancel transaction(s) 5 in Sandbox (to \
         https://accounts.xoxoday.com) needs `yes` (or --yes)"
    );
    let stderr = String::from_utf8(undo.stderr).unwrap();
    assert_eq!(undo.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.ends_with(&format!(
            "error: not confirmed, so nothing was done: Cancel the credits of {} in Sandbox (to \
             https://accounts.xoxoday.com) needs `yes` (or --yes)\n",
            file.display()
        )),
        "{stderr}"
    );
    assert!(
        stderr.starts_with("Cancel the credits of"),
        "the question comes first: {stderr}"
    );
}

#[test]
fn huge_numbers_are_usage_errors() {
    let cases: [&[&str]; 3] = [
        &[
            "payout",
            "march.csv",
            "--concurrency",
            "99999999999999999999",
        ],
        &["payout", "march.csv", "--concurrency", "0"],
        &["--timeout", "18446744073709551615", "validate-token"],
    ];
    for args in cases {
        let output = bare(&[("XOXODAY_ACCESS_TOKEN", "t")], args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert!(stderr.starts_with("error: invalid value"), "{stderr}");
    }
}

#[test]
fn a_password_never_goes_on_the_command_line() {
    let url = "postgresql://app:hunter2@127.0.0.1:9/tokens";
    let env = [
        ("XOXODAY_CLIENT_ID", "id"),
        ("XOXODAY_CLIENT_SECRET", "secret"),
    ];
    let typed = bare(&env, &["--token-store", url, "validate-token"]);
    assert_eq!(
        one_line_error(&typed),
        "error: --token-store: the connection string holds a password, which `ps` shows to \
         everyone on this machine: put the password in PGPASSWORD or ~/.pgpass, or the whole \
         string in XOXODAY_TOKEN_STORE; nothing was done"
    );
    let ledger = bare(
        &[("XOXODAY_ACCESS_TOKEN", "t")],
        &["payout", "march.csv", "--ledger", url],
    );
    assert!(
        String::from_utf8(ledger.stderr)
            .unwrap()
            .starts_with("error: --ledger: the connection string holds a password"),
    );

    // libpq's key=value form is a database too, never a file of that name.
    let dir = tempfile::tempdir().unwrap();
    let key_value = "host=127.0.0.1 port=9 user=app dbname=tokens";
    let output = reward_points(dir.path(), &["--token-store", key_value, "validate-token"])
        .envs(env.iter().copied())
        .current_dir(dir.path())
        .output()
        .unwrap();
    let error = one_line_error(&output);
    assert!(error.contains("cannot connect"), "{error}");
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "no file made"
    );

    // From the environment it is taken (and this server is not there).
    let from_environment: Vec<(&str, &str)> = env
        .iter()
        .copied()
        .chain([("XOXODAY_TOKEN_STORE", url)])
        .collect();
    let taken = bare(&from_environment, &["validate-token"]);
    let error = one_line_error(&taken);
    assert!(error.contains("cannot connect"), "{error}");
    assert!(!error.contains("hunter2"), "{error}");
}

/// The most verbose log (`RUST_LOG=trace`) over the token commands with a
/// PostgreSQL store — seed, refresh (the tokens rotate), a call with the
/// new ones — and `-vvv` over every other command: no token, refresh token
/// or client secret, old or new, in anything printed.
#[tokio::test(flavor = "multi_thread")]
async fn the_most_verbose_log_prints_no_secret() {
    let url = crate::support::test_postgres();
    let stand_in = StandIn::start().await;
    let secret = "client-secret-never-logged-71c2";
    let mut printed = String::new();
    token_commands_at_trace(&stand_in, &url, secret, &mut printed);
    assert!(
        printed.contains("xoxoday_reward_points.refresh"),
        "{printed}"
    );
    assert!(printed.contains("access token refreshed"), "{printed}");

    // Every other command, at -vvv with a token in the environment.
    every_other_command_at_vvv(&stand_in, &mut printed);
    assert!(printed.contains("xoxoday_reward_points.call"), "{printed}");
    for leaked in ["stand-in-access-token", "stand-in-refresh-token", secret] {
        assert!(!printed.contains(leaked), "{leaked} printed:\n{printed}");
    }
}

/// Adds what a command that succeeded printed, stdout then stderr, to
/// `printed`.
fn show(printed: &mut String, output: Output) {
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    printed.push_str(&String::from_utf8_lossy(&output.stdout));
    printed.push_str(&String::from_utf8_lossy(&output.stderr));
}

/// The token commands at `RUST_LOG=trace` with the PostgreSQL store at
/// `url` (a table of this process's own) and `secret` as the client
/// secret — seed, refresh, a call with the new tokens — their output
/// added to `printed`.
fn token_commands_at_trace(stand_in: &StandIn, url: &str, secret: &str, printed: &mut String) {
    let table = format!("cli_log_tokens_{}", std::process::id());
    let env = [
        ("RUST_LOG", "trace"),
        ("XOXODAY_TOKEN_STORE", url),
        ("XOXODAY_REFRESH_TOKEN", STAND_IN_REFRESH_TOKEN),
        ("XOXODAY_CLIENT_ID", "my-client-id"),
        ("XOXODAY_CLIENT_SECRET", secret),
    ];
    let with_table = |args: &[&'static str]| -> Vec<String> {
        ["--token-table", table.as_str()]
            .iter()
            .map(|s| s.to_string())
            .chain(args.iter().map(|s| s.to_string()))
            .collect()
    };
    for args in [
        with_table(&["seed-token-store"]),
        with_table(&["refresh-token"]),
        with_table(&["fetch-points", "--email", "a@example.com"]),
    ] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let token = (args.contains(&"seed-token-store")).then_some(STAND_IN_ACCESS_TOKEN);
        show(printed, run_with(stand_in, token, &env, &args, ""));
    }
}

/// Every command but the token store's, at `-vvv` with the stand-in's
/// token in the environment, their output added to `printed`.
fn every_other_command_at_vvv(stand_in: &StandIn, printed: &mut String) {
    let sent = run(stand_in, Some(STAND_IN_ACCESS_TOKEN), &SEND, "");
    let unique_id = stdout_json(&sent)["data"]["unique_id"].to_string();
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("march.csv");
    std::fs::write(&csv, "name,email,points\nAda,ada@example.com,5\n").unwrap();
    let csv = csv.to_str().unwrap();
    let mut commands: Vec<Vec<&str>> = vec![
        vec!["validate-token"],
        vec!["fetch-points", "--email", "john.doe@example.com"],
        vec!["create-user-token", "--user-email", "john.doe@example.com"],
        vec!["cancel-points", "--unique-id", &unique_id],
        vec![
            "payout",
            csv,
            "--sender-email",
            "admin@example.com",
            "--dry-run",
        ],
        vec!["payout", csv, "--sender-email", "admin@example.com"],
        vec!["payout-undo", csv, "--lines", "all"],
    ];
    commands.push(SEND.to_vec());
    let data_home = tempfile::tempdir().unwrap();
    let data_home = data_home.path().to_str().unwrap();
    for command in commands {
        let mut args = vec!["-vvv"];
        args.extend(command);
        show(
            printed,
            run_with(
                stand_in,
                Some(STAND_IN_ACCESS_TOKEN),
                &[
                    ("RUST_LOG", ""),
                    ("XOXODAY_CLIENT_ID", "a-client-id"),
                    ("XDG_DATA_HOME", data_home),
                ],
                &args,
                "",
            ),
        );
    }
}

/// `-v` shows each call (operation, environment, status, latency,
/// attempts); a RUST_LOG that does not read is said, and `-v` is used.
#[tokio::test(flavor = "multi_thread")]
async fn minus_v_shows_each_call_and_a_bad_rust_log_falls_back_to_it() {
    let stand_in = StandIn::start().await;
    let token = Some(STAND_IN_ACCESS_TOKEN);
    for rust_log in ["", "xoxoday=[bad"] {
        let output = run_with(
            &stand_in,
            token,
            &[("RUST_LOG", rust_log)],
            &["-v", "validate-token"],
            "",
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "{stderr}");
        let call = stderr
            .lines()
            .find(|line| line.contains("call answered"))
            .unwrap_or_else(|| panic!("no call in the log:\n{stderr}"));
        for field in [
            "INFO xoxoday_reward_points.call{operation=\"validateTokenPoints\"",
            "environment=\"Sandbox\"",
            "attempts=1",
            "status=200",
            "latency_ms=",
        ] {
            assert!(call.contains(field), "{field} not in {call}");
        }
        assert!(!stderr.contains("does not use"), "{stderr}");
        assert_eq!(
            stderr.contains("warning: RUST_LOG is not understood"),
            !rust_log.is_empty(),
            "{stderr}"
        );
    }
}
