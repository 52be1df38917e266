//! The one way the tests (and the replicas benchmark) run `reward-points`.

use std::path::Path;
use std::process::{Command, Stdio};

/// The variables of the test's shell the tool reads: a test sets the ones
/// it means.
const TOOL_VARIABLES: [&str; 8] = [
    "XOXODAY_ACCESS_TOKEN",
    "XOXODAY_CLIENT_ID",
    "XOXODAY_CLIENT_SECRET",
    "XOXODAY_REFRESH_TOKEN",
    "XOXODAY_ORIGIN_OVERRIDES",
    "XOXODAY_TOKEN_STORE",
    "XOXODAY_PAYOUT_JOURNAL",
    "XOXODAY_PAYOUT_LEDGER",
];

/// `reward-points ARGS`: the one way the tests run the tool. Nothing of the
/// test's shell that the tool reads, `data_home` as the operator's data
/// directory (the default ledger is there), stdin closed, stdout and stderr
/// captured.
pub fn reward_points(data_home: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_reward-points"));
    command.args(args).env("XDG_DATA_HOME", data_home);
    for variable in TOOL_VARIABLES {
        command.env_remove(variable);
    }
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}
