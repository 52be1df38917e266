//! The README's payout walkthrough, run as written: `reward-points` on the
//! PATH, in a scratch directory, with bash.

use std::path::Path;
use std::process::Command;

fn walkthrough() -> String {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .unwrap();
    let after = readme
        .split("<!-- payout walkthrough -->\n```sh\n")
        .nth(1)
        .expect("the README has the payout walkthrough");
    after.split("\n```").next().unwrap().to_owned()
}

#[test]
fn the_readmes_payout_walkthrough_runs_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let binary = Path::new(env!("CARGO_BIN_EXE_reward-points"));
    let path = format!(
        "{}:{}",
        binary.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let output = Command::new("bash")
        .args(["-c", &format!("set -eu\n{}", walkthrough())])
        .current_dir(dir.path())
        .env("PATH", path)
        // The operator's data directory, where the default ledger lives.
        .env("XDG_DATA_HOME", dir.path().join("data"))
        .env_remove("XOXODAY_PAYOUT_LEDGER")
        .env_remove("XOXODAY_CLIENT_ID")
        .env_remove("XOXODAY_ACCESS_TOKEN")
        .env_remove("XOXODAY_ORIGIN_OVERRIDES")
        .output()
        .unwrap();

    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    for said in [
        "payout run: 3 sent, 1 in doubt; 195 points sent in this run, 195 credited in all",
        "in doubt, maybe credited (lines 3)",
        "payout run: 3 already sent, 1 confirmed sent; 0 points sent in this run, 245 credited in all",
        "undo: 3 cancelled, 1 not cancellable; 195 points cancelled",
        "line 3: bo@example.com, 50 points: not cancellable (a person confirmed it credited, \
         without its transaction id: cancel it in the dashboard)",
    ] {
        assert!(
            stderr.contains(said),
            "the walkthrough no longer says {said:?}:\n{stderr}"
        );
    }
    assert!(stdout.contains("\"total\": 50.0"), "{stdout}");
}
