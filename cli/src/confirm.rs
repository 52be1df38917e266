//! The question asked before a call that reaches a live host.

use std::io::{BufRead, Write};

use xoxoday_reward_points::{Client, Operation};

use crate::args::Cli;
use crate::ending::Failure;

/// Asks before a call that reaches a live host: every call in a live
/// environment (Production), and a call whose host is a live environment's
/// from any environment (cancel points), naming the host.
pub fn confirm(
    cli: &Cli,
    client: &Client,
    what: &str,
    operations: &[Operation],
) -> Result<(), Failure> {
    let environment = cli.vendor.environment;
    let live = environment.is_live()
        || operations
            .iter()
            .any(|operation| client.reaches_live_host(*operation));
    if cli.vendor.yes || !live {
        return Ok(());
    }
    let mut hosts: Vec<String> = operations
        .iter()
        .map(|operation| {
            client
                .destination(*operation)
                .origin()
                .ascii_serialization()
        })
        .collect();
    hosts.dedup();
    let hosts = hosts.join(", ");
    let question = if environment.is_live() {
        format!("{what} in {} (to {hosts})?", environment.name())
    } else {
        format!(
            "{what} from {} goes to {hosts}, a live host where real points are, with this \
             token (the vendor sends it there from every environment)?",
            environment.name()
        )
    };
    let refused = || {
        Failure::nothing_done(format!(
            "not confirmed, so nothing was done: {what} in {} (to {hosts}) needs `yes` (or --yes)",
            environment.name()
        ))
    };
    // A closed or empty stdin (a script, CI) reads as no.
    let stdin = std::io::stdin();
    eprint!("{question} Type yes to go on: ");
    std::io::stderr().flush().ok();
    let mut answer = String::new();
    let read = stdin
        .lock()
        .read_line(&mut answer)
        .map_err(Failure::nothing_done)?;
    if read == 0 {
        eprintln!(); // end the question's line before the error
    }
    if matches!(answer.trim(), "yes" | "y") {
        Ok(())
    } else {
        Err(refused())
    }
}
