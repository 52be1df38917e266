//! Replicas of a service as separate OS processes sharing one token store,
//! against a stand-in that rotates strictly (only the latest refresh token
//! works; a refresh kills the earlier access tokens) with tokens that live
//! 1.5 s: every call succeeds, and the stand-in accepts one refresh per token
//! lifetime and refuses none, whatever the number of processes; an
//! operator's `reward-points refresh-token` beside them breaks nothing.
//!
//! The PostgreSQL cases need a server: `cargo xtask test` starts one.

use std::process::Command;
use std::time::Duration;

use crate::support::replicas::{Outcome, Scenario, Store, replica_main, run};

/// Not a test: the body of the replica processes the tests below start
/// (this binary again, with the replica's settings in its environment).
#[test]
#[ignore = "run as a child process by the replica tests"]
fn replica() {
    replica_main();
}

fn replica_command() -> Command {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command.args([
        "--ignored",
        "--exact",
        "replicas::replica",
        "--nocapture",
        "-q",
    ]);
    command
}

fn scenario(processes: usize, store: Store) -> Scenario {
    Scenario {
        processes,
        run_for: Duration::from_secs(6),
        token_lifetime: Duration::from_millis(1500),
        refresh_margin: Duration::from_millis(500),
        store,
        operator_refresh_after: None,
        refused_refresh_token: false,
    }
}

fn postgres(tag: &str) -> Store {
    let url = crate::support::test_postgres();
    Store::Postgres {
        url,
        table: format!("replica_tokens_{tag}_{}", std::process::id()),
    }
}

fn assert_no_failures_and_one_refresh_per_lifetime(scenario: &Scenario, outcome: &Outcome) {
    assert_eq!(outcome.failed, 0, "failed calls: {:?}", outcome.failures);
    assert!(
        outcome.calls >= scenario.processes as u64 * 10,
        "{outcome:?}"
    );
    assert_eq!(outcome.refreshes.rejected, 0, "{outcome:?}");
    let allowed = outcome.refreshes_allowed(scenario);
    assert!(
        (allowed.saturating_sub(2)..=allowed).contains(&outcome.refreshes.accepted),
        "expected about {allowed} refreshes, one per token lifetime: {outcome:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn eight_processes_sharing_a_token_file() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = scenario(8, Store::File(dir.path().join("tokens.json")));

    let outcome = run(&scenario, replica_command).await;

    assert_no_failures_and_one_refresh_per_lifetime(&scenario, &outcome);
}

/// `processes` replicas on `store`, and an operator's `reward-points
/// refresh-token` in the middle of their run: it succeeds, and no replica fails.
async fn operators_refresh_breaks_nothing(processes: usize, store: Store) {
    let mut scenario = scenario(processes, store);
    scenario.operator_refresh_after = Some(Duration::from_millis(2200));

    let outcome = run(&scenario, replica_command).await;

    let operator = outcome.operator.as_ref().unwrap();
    assert!(
        operator.status.success(),
        "{}",
        String::from_utf8_lossy(&operator.stderr)
    );
    assert_no_failures_and_one_refresh_per_lifetime(&scenario, &outcome);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_operators_refresh_beside_four_processes_breaks_nothing() {
    let dir = tempfile::tempdir().unwrap();
    operators_refresh_breaks_nothing(4, Store::File(dir.path().join("tokens.json"))).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn three_processes_sharing_a_postgres_store() {
    let scenario = scenario(3, postgres("three"));

    let outcome = run(&scenario, replica_command).await;

    assert_no_failures_and_one_refresh_per_lifetime(&scenario, &outcome);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_operators_refresh_beside_postgres_replicas_breaks_nothing() {
    operators_refresh_breaks_nothing(3, postgres("operator")).await;
}

/// The store's refresh token is one the vendor refuses, and every call wants
/// a refresh (the margin is longer than the token's life): across four
/// processes the vendor sees one refresh, the refusal is recorded in the
/// store for the others, and every call goes on with the valid access token.
#[tokio::test(flavor = "multi_thread")]
async fn a_refused_refresh_token_is_tried_once_by_all_processes_and_no_call_fails() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = Scenario {
        processes: 4,
        run_for: Duration::from_secs(3),
        token_lifetime: Duration::from_secs(30),
        refresh_margin: Duration::from_secs(60),
        store: Store::File(dir.path().join("tokens.json")),
        operator_refresh_after: None,
        refused_refresh_token: true,
    };

    let outcome = run(&scenario, replica_command).await;

    assert_eq!(outcome.failed, 0, "failed calls: {:?}", outcome.failures);
    assert!(outcome.calls >= 40, "{outcome:?}");
    assert_eq!(outcome.refreshes.rejected, 1, "{outcome:?}");
    assert_eq!(outcome.refreshes.accepted, 0, "{outcome:?}");
    let stored = xoxoday_reward_points::FileTokenStore::new(dir.path().join("tokens.json"));
    let held = xoxoday_reward_points::TokenStore::load(&stored)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        held.refresh_rejected.len(),
        1,
        "the refusal is in the store"
    );
}
