//! Replicas sharing one token store, measured: N separate processes calling
//! fetch points in a loop for 15 s against a strict-rotation stand-in whose
//! tokens live 3 s (refreshed 1 s before expiry, so every 2 s). Per store:
//! calls, failed calls, refreshes the stand-in accepted and refused, and the
//! refreshes one per token lifetime allows. The file store with its lock
//! bypassed runs beside it, for comparison.
//!
//! `cargo xtask bench-replicas` runs it with a throwaway PostgreSQL server;
//! `cargo bench -p reward-points-cli --bench replicas` without one skips the
//! PostgreSQL rows and says so.

#[path = "../tests/it/support/command.rs"]
mod command;
// Shared with the tests, which use the operator's refresh this does not.
#[allow(dead_code)]
#[path = "../tests/it/support/replicas.rs"]
mod replicas;

use std::process::Command;
use std::time::Duration;

use command::reward_points;
use replicas::{Scenario, Store, run};

fn main() {
    if std::env::var_os(replicas::REPLICA_VARIABLE).is_some() {
        replicas::replica_main();
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(measure());
}

async fn measure() {
    let dir = tempfile::tempdir().unwrap();
    let postgres = std::env::var("XOXODAY_TEST_POSTGRES").ok();
    let mut scenarios: Vec<(&str, usize, Store)> = Vec::new();
    for processes in [2, 8] {
        let file = dir.path().join(format!("tokens-{processes}.json"));
        scenarios.push(("file", processes, Store::File(file)));
        let unlocked = dir.path().join(format!("unlocked-{processes}.json"));
        scenarios.push((
            "file, lock bypassed",
            processes,
            Store::FileWithoutLock(unlocked),
        ));
    }
    match &postgres {
        Some(url) => scenarios.push((
            "PostgreSQL",
            3,
            Store::Postgres {
                url: url.clone(),
                table: format!("bench_tokens_{}", std::process::id()),
            },
        )),
        None => eprintln!(
            "no PostgreSQL server (XOXODAY_TEST_POSTGRES): its row is skipped; \
             `cargo xtask bench-replicas` starts one"
        ),
    }

    println!(
        "| store | processes | calls | failed calls | refreshes accepted | refreshes refused | \
         allowed (one per lifetime) |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    for (name, processes, store) in scenarios {
        let scenario = Scenario {
            processes,
            run_for: Duration::from_secs(15),
            token_lifetime: Duration::from_secs(3),
            refresh_margin: Duration::from_secs(1),
            store,
            operator_refresh_after: None,
            refused_refresh_token: false,
        };
        let outcome = run(&scenario, || Command::new(std::env::current_exe().unwrap())).await;
        println!(
            "| {name} | {processes} | {} | {} | {} | {} | {} |",
            outcome.calls,
            outcome.failed,
            outcome.refreshes.accepted,
            outcome.refreshes.rejected,
            outcome.refreshes_allowed(&scenario),
        );
    }
}
