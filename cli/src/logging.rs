//! What the client does, on stderr for an operator: `-v` (repeatable) or
//! `RUST_LOG`, through `tracing-subscriber`. The client's spans and events
//! carry no token or secret at any level (its tests check that at the most
//! verbose one, and the CLI's over every command); tokio-postgres logs
//! through `log`, which is not bridged here.

use tracing_subscriber::EnvFilter;

/// The crates whose spans and events `-v` shows.
const OURS: [&str; 3] = [
    "xoxoday_reward_points",
    "xoxoday_reward_points_payouts",
    "reward_points",
];

/// Starts logging to stderr when asked for: `RUST_LOG` when set (its
/// directives as `tracing-subscriber` reads them), else by `verbose`: 1
/// info, 2 debug for this crate and the client, 3 or more trace for
/// everything. Without either, nothing is logged.
pub fn start(verbose: u8) {
    let filter = match std::env::var("RUST_LOG") {
        Ok(directives) if !directives.trim().is_empty() => {
            match EnvFilter::builder().parse(&directives) {
                Ok(filter) => filter,
                Err(error) => {
                    eprintln!("warning: RUST_LOG is not understood ({error}); nothing is logged");
                    return;
                }
            }
        }
        _ => {
            let level = match verbose {
                0 => return,
                1 => "info",
                2 => "debug",
                _ => "trace",
            };
            let directives = if verbose >= 3 {
                level.to_owned()
            } else {
                OURS.map(|target| format!("{target}={level}")).join(",")
            };
            EnvFilter::new(directives)
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
