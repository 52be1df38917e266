//! The token store as the processes of a service share it, run as real
//! processes: a store the process cannot write is found before the vendor
//! is asked (the vendor kills the old refresh token as it answers), and
//! replicas with two sets of credentials each keep their own record of a
//! refused refresh token.

use std::path::Path;

use xoxoday_reward_points::{
    EpochMillis, FileTokenStore, Operation, Secret, StoredTokens, TokenStore,
};
use xoxoday_reward_points_mocks::{Faults, STAND_IN_ACCESS_TOKEN, STAND_IN_REFRESH_TOKEN};

use crate::support::world::{World, run_command};

/// Tokens whose access token expired: the next call refreshes.
fn expired_with(refresh_token: &str) -> StoredTokens {
    StoredTokens::new(
        Secret::new(STAND_IN_ACCESS_TOKEN),
        Some(EpochMillis(1_000)),
        Secret::new(refresh_token),
        None,
    )
}

async fn seeded_store(dir: &Path, refresh_token: &str) -> String {
    let path = dir.join("tokens.json");
    let store = FileTokenStore::new(&path);
    store.save(expired_with(refresh_token)).await.unwrap();
    path.display().to_string()
}

/// The service's user (not root, whom no permission stops): `nobody` when
/// the tests run as root, as CI does; otherwise this user, over a directory
/// made read-only.
fn as_the_service(command: &mut std::process::Command, dir: &Path, store: &str) {
    use std::os::unix::fs::PermissionsExt;
    let root = rustix_free_uid() == 0;
    if root {
        for file in [store.to_owned(), format!("{store}.lock")] {
            std::os::unix::fs::chown(&file, Some(65534), Some(65534)).unwrap();
        }
        // Root's, and readable by all: the service can go in, not write.
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let program = command.get_program().to_owned();
        let args: Vec<_> = command.get_args().map(|arg| arg.to_owned()).collect();
        let mut wrapped = std::process::Command::new("setpriv");
        wrapped
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(program)
            .args(args);
        for (name, value) in command.get_envs() {
            match value {
                Some(value) => wrapped.env(name, value),
                None => wrapped.env_remove(name),
            };
        }
        wrapped
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        *command = wrapped;
    } else {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o555)).unwrap();
    }
}

/// This process's user id.
fn rustix_free_uid() -> u32 {
    std::fs::metadata("/proc/self")
        .map(|meta| std::os::unix::fs::MetadataExt::uid(&meta))
        .unwrap_or(u32::MAX)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_store_the_process_cannot_write_is_never_refreshed_into_a_lockout() {
    let world = World::start(Faults::none()).await;
    let dir = tempfile::tempdir().unwrap();
    let store = seeded_store(dir.path(), STAND_IN_REFRESH_TOKEN).await;
    // The lock file exists, as a service's first run would have made it.
    FileTokenStore::new(&store)
        .lock()
        .await
        .unwrap()
        .release()
        .await
        .unwrap();
    let mut call = world.command(&["--token-store", &store, "validate-token"]);
    call.env("XOXODAY_CLIENT_SECRET", "a-client-secret");
    as_the_service(&mut call, dir.path(), &store);

    let output = run_command(call).await;

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("cannot write")
            && stderr.contains(
                "the tokens are not refreshed until the store can be written (the vendor kills \
                 the old refresh token as it answers, and the new one would be lost)"
            ),
        "{stderr}"
    );
    assert_eq!(world.requests_received(Operation::RefreshToken), 0);
    // The refresh token in the store is still the live one: a process that
    // may write refreshes with it.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let mut refresh = world.command(&["--token-store", &store, "refresh-token"]);
    refresh.env("XOXODAY_CLIENT_SECRET", "a-client-secret");
    let refreshed = run_command(refresh).await;
    assert_eq!(
        refreshed.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&refreshed.stderr)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn replicas_with_two_credential_sets_each_keep_their_refusal() {
    let world = World::start(Faults::none()).await;
    let dir = tempfile::tempdir().unwrap();
    // A refresh token the vendor no longer knows.
    let store = seeded_store(dir.path(), "a-dead-refresh-token").await;
    let replica = |secret: &str| {
        let mut call = world.command(&["--token-store", &store, "validate-token"]);
        call.env("XOXODAY_CLIENT_SECRET", secret);
        call
    };
    for secret in ["the-right-secret", "a-wrong-secret"] {
        let refused = run_command(replica(secret)).await;
        assert_eq!(refused.status.code(), Some(1));
        assert!(
            String::from_utf8_lossy(&refused.stderr)
                .contains("the vendor refused the refresh token"),
            "{}",
            String::from_utf8_lossy(&refused.stderr)
        );
    }
    assert_eq!(world.requests_received(Operation::RefreshToken), 2);

    // Pods that crash and start again, each with its own credentials.
    for secret in ["the-right-secret", "a-wrong-secret", "the-right-secret"] {
        let again = run_command(replica(secret)).await;
        assert_eq!(again.status.code(), Some(1));
    }

    assert_eq!(world.requests_received(Operation::RefreshToken), 2);
    let held = FileTokenStore::new(&store).load().await.unwrap().unwrap();
    assert_eq!(
        held.refresh_rejected.len(),
        2,
        "{:?}",
        held.refresh_rejected
    );
}
