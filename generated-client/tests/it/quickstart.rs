//! `cargo run --example quickstart` runs the whole session offline, against
//! the stand-in: the balance goes 0 → 100 → 0.

use std::process::Command;

#[test]
fn the_quickstart_runs_offline() {
    // `cargo test` builds the examples next to the test binaries.
    let deps = std::env::current_exe().unwrap();
    let example = deps
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples/quickstart");
    let output = Command::new(&example)
        .env_remove("XOXODAY_ACCESS_TOKEN")
        .env_remove("XOXODAY_SENDER_EMAIL")
        .env_remove("XOXODAY_RECIPIENT_EMAIL")
        .output()
        .unwrap_or_else(|error| panic!("cannot run {}: {error}", example.display()));

    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines,
        [
            "offline: an in-process stand-in of the API (set XOXODAY_ACCESS_TOKEN for Sandbox)",
            "1. token valid, type Some(\"bearer\"), expires in Some(1296000.0) s",
            "2. balance of john.doe@example.com: 0",
            "3. sent 100 points, transaction 987654321",
            "4. balance of john.doe@example.com: 100",
            "5. cancelled transaction 987654321",
            "6. balance of john.doe@example.com: 0",
        ]
    );
}
