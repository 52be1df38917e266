//! `reward-points stand-in --port P`: the stateful stand-in of the API on
//! 127.0.0.1, for a shell (or any language), with faults to inject. It
//! prints the environment that sends this tool's calls to it, and runs
//! until Ctrl-C.

use std::io::Write;
use std::time::Duration;

use xoxoday_reward_points_mocks::{Faults, LEDGER_PATH, StandInServer};

use crate::args;
use crate::ending::{Ending, Failure};

/// Serves until Ctrl-C.
pub async fn serve(command: &args::StandIn) -> Result<Ending, Failure> {
    let faults = Faults::none()
        .latency(Duration::from_millis(command.latency_ms))
        .rate_limited(command.rate_limited, command.retry_after)
        .server_errors(command.server_errors)
        .dropped_answers(command.dropped_answers)
        .seed(command.seed);
    let server = StandInServer::start(command.port, faults)
        .await
        .map_err(|error| {
            Failure::nothing_done(format!(
                "cannot listen on 127.0.0.1:{}: {error}",
                command.port
            ))
        })?;
    let overrides: Vec<String> = server
        .origin_overrides()
        .into_iter()
        .map(|(vendor, local)| format!("{vendor}={local}"))
        .collect();
    // For `. ./stand-in.env` (or eval): this tool then calls the stand-in.
    let mut out = std::io::stdout();
    let _ = writeln!(out, "export XOXODAY_STAND_IN={}", server.origin());
    let _ = writeln!(out, "export XOXODAY_ACCESS_TOKEN={}", server.access_token());
    // The stand-in takes any client id; a payout's ledger needs one to
    // name the account.
    let _ = writeln!(out, "export XOXODAY_CLIENT_ID=stand-in");
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
    Ok(Ending::Served)
}
