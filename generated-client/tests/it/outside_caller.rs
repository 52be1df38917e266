//! `outside-caller/`, a crate outside this workspace that depends on the
//! client as our users do, builds with typed values only and pays three
//! recipients, fetches by email and by phone and cancels, against the
//! stand-in.

use std::path::Path;
use std::process::Command;

use xoxoday_reward_points::Operation;
use xoxoday_reward_points_mocks::{STAND_IN_ACCESS_TOKEN, StandIn};

/// The workspace: the client crate's parent.
fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// A copy of `outside-caller/` in `dir`, depending on this checkout's
/// client, with this workspace's lock file so it builds offline with the
/// same versions.
fn copy_outside_caller(dir: &Path) {
    let from = root().join("outside-caller");
    std::fs::create_dir_all(dir.join("src")).unwrap();
    for file in ["src/lib.rs", "src/main.rs"] {
        std::fs::copy(from.join(file), dir.join(file)).unwrap();
    }
    let manifest = std::fs::read_to_string(from.join("Cargo.toml")).unwrap();
    let client = root().join("generated-client");
    let manifest = manifest.replace(
        r#"path = "../generated-client""#,
        &format!("path = {:?}", client.to_str().unwrap()),
    );
    assert!(manifest.contains(client.to_str().unwrap()), "{manifest}");
    std::fs::write(dir.join("Cargo.toml"), manifest).unwrap();
    std::fs::copy(root().join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
}

#[test]
fn the_outside_caller_uses_no_json() {
    let manifest = std::fs::read_to_string(root().join("outside-caller/Cargo.toml")).unwrap();
    let code = std::fs::read_to_string(root().join("outside-caller/src/lib.rs")).unwrap();
    let dependencies = manifest.split("[dependencies]").nth(1).unwrap();
    assert!(!dependencies.contains("serde"), "{dependencies}");
    assert!(!code.contains("json"), "{code}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_crate_outside_the_workspace_pays_three_recipients_fetches_and_cancels() {
    let stand_in = StandIn::start().await;
    stand_in.register_phone("+91-8999888887", "jane.roe@example.com");
    let dir = tempfile::tempdir().unwrap();
    copy_outside_caller(dir.path());
    let overrides: Vec<String> = stand_in
        .vendor()
        .origin_overrides()
        .into_iter()
        .map(|(origin, local)| format!("{origin}={local}"))
        .collect();

    let output = tokio::task::spawn_blocking({
        let dir = dir.path().to_owned();
        move || {
            Command::new(env!("CARGO"))
                .args(["run", "--offline", "--quiet"])
                .current_dir(dir)
                // The target directory and profile of xtask's tests that run
                // scratch crates (`xtask/tests/it/support/mod.rs`), which
                // then find most dependencies built. Debug info is no use to
                // a throwaway run, and costs build time.
                .env("CARGO_TARGET_DIR", root().join("target/scratch-run"))
                .env("CARGO_PROFILE_DEV_DEBUG", "false")
                .env("XOXODAY_ACCESS_TOKEN", STAND_IN_ACCESS_TOKEN)
                .env("XOXODAY_ORIGIN_OVERRIDES", overrides.join(" "))
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        "sent 450 points to 3 recipients: transaction 987654321\n\
         balance by email: Some(100.0)\n\
         balance by phone: Some(150.0)\n\
         transaction 987654321: cancelled (Points cancelled successfully)\n"
    );
    for email in [
        "john.doe@example.com",
        "jane.roe@example.com",
        "max@example.com",
    ] {
        assert_eq!(stand_in.balance(email), 0.0, "{email}");
    }
    assert_eq!(stand_in.requests_received(Operation::SendPoints), 1);
    assert_eq!(stand_in.requests_received(Operation::FetchPoints), 2);
    assert_eq!(stand_in.requests_received(Operation::CancelPoints), 1);
}
