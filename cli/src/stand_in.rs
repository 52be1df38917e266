//! `reward-points stand-in --port P`: the stateful stand-in of the API on
//! 127.0.0.1, for a shell (or any language), with faults to inject. It
//! prints the environment that sends this tool's calls to it, and runs
//! until Ctrl-C.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use xoxoday_reward_points_mocks::{Faults, LEDGER_PATH, StandInServer};

/// `reward-points stand-in`'s settings.
pub struct StandInArgs {
    /// The port on 127.0.0.1 (0: any free one).
    pub port: u16,
    /// The faults to inject.
    pub faults: Faults,
}

/// `share` as a share of requests, from 0 to 1.
pub fn share(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(share) if (0.0..=1.0).contains(&share) => Ok(share),
        _ => Err(format!(
            "`{text}` is not a share between 0 and 1 (such as 0.05)"
        )),
    }
}

/// Milliseconds.
pub fn millis(value: u64) -> Duration {
    Duration::from_millis(value)
}

/// Serves until Ctrl-C.
pub async fn serve(args: StandInArgs) -> ExitCode {
    let server = match StandInServer::start(args.port, args.faults).await {
        Ok(server) => server,
        Err(error) => {
            eprintln!("error: cannot listen on 127.0.0.1:{}: {error}", args.port);
            return ExitCode::from(1);
        }
    };
    let overrides: Vec<String> = server
        .origin_overrides()
        .into_iter()
        .map(|(vendor, local)| format!("{vendor}={local}"))
        .collect();
    // For `. ./stand-in.env` (or eval): this tool then calls the stand-in.
    let mut out = std::io::stdout();
    let _ = writeln!(out, "export XOXODAY_STAND_IN={}", server.origin());
    let _ = writeln!(out, "export XOXODAY_ACCESS_TOKEN={}", server.access_token());
    let _ = writeln!(
        out,
        "export XOXODAY_ORIGIN_OVERRIDES='{}'",
        overrides.join(" ")
    );
    let _ = out.flush();
    eprintln!(
        "stand-in listening on {origin}; its ledger: curl {origin}{LEDGER_PATH}; Ctrl-C stops it",
        origin = server.origin()
    );
    let _ = tokio::signal::ctrl_c().await;
    ExitCode::SUCCESS
}
