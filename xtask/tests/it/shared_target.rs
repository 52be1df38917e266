//! Two checkouts sharing one target directory (a global `CARGO_TARGET_DIR`,
//! git worktrees for reviewing a pull request) share one xtask binary: each
//! checkout's `cargo xtask` runs it with that checkout's `CARGO_MANIFEST_DIR`
//! (or from inside it), and it must work on that checkout's files, never on
//! the one it was compiled in. The second checkout here runs this build's
//! xtask exactly as cargo would run it there.

use std::path::Path;
use std::process::{Command, Output};

use crate::support::{root, workspace_document};

/// The files regen reads and writes, copied into `to`: a second checkout.
fn second_checkout(to: &Path) {
    fn copy(from: &Path, to: &Path) {
        if from.is_dir() {
            std::fs::create_dir_all(to).unwrap();
            for entry in std::fs::read_dir(from).unwrap().flatten() {
                let name = entry.file_name();
                if name != "target" && name != "tests" {
                    copy(&entry.path(), &to.join(name));
                }
            }
        } else {
            std::fs::copy(from, to).unwrap();
        }
    }
    let root = root();
    for part in [
        "specs",
        "generated-client",
        "generated-mocks",
        "Cargo.toml",
        "Cargo.lock",
        "xtask/Cargo.toml",
    ] {
        if let Some(parent) = to.join(part).parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        copy(&root.join(part), &to.join(part));
    }
}

/// This build's xtask, run as `cargo xtask ARGS` runs it in `checkout`
/// (`manifest_dir`: whether cargo's `CARGO_MANIFEST_DIR` is given).
fn xtask_in(checkout: &Path, manifest_dir: bool, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_xtask"));
    command
        .args(args)
        .current_dir(checkout)
        .env_remove("XTASK_FAIL_POINT")
        .env_remove("CARGO_MANIFEST_DIR");
    if manifest_dir {
        command.env("CARGO_MANIFEST_DIR", checkout.join("xtask"));
    }
    command.output().unwrap()
}

#[test]
fn two_checkouts_sharing_a_target_directory_each_regenerate_their_own() {
    let dir = tempfile::tempdir().unwrap();
    let second = dir.path().join("second");
    second_checkout(&second);
    // The vendor changes a description in the second checkout only (edited
    // as data: parsed, changed, written).
    let mut document = workspace_document("specs/reward-points-api.yaml");
    document["info"]["description"] = "A description changed in the second checkout.".into();
    std::fs::write(
        second.join("specs/reward-points-api.yaml"),
        serde_yaml::to_string(&document).unwrap(),
    )
    .unwrap();
    let first_generated = std::fs::read(root().join("generated-client/src/generated.rs")).unwrap();

    for manifest_dir in [true, false] {
        let stale = xtask_in(&second, manifest_dir, &["regen", "--check"]);
        let stderr = String::from_utf8_lossy(&stale.stderr);
        assert_eq!(stale.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains("generated-client/src/generated.rs"),
            "{stderr}"
        );
    }
    let fresh = xtask_in(&root(), true, &["regen", "--check"]);
    assert!(
        fresh.status.success(),
        "{}",
        String::from_utf8_lossy(&fresh.stderr)
    );

    let written = xtask_in(&second, true, &["regen"]);
    assert!(
        written.status.success(),
        "{}",
        String::from_utf8_lossy(&written.stderr)
    );
    let generated =
        std::fs::read_to_string(second.join("generated-client/src/generated.rs")).unwrap();
    assert!(generated.contains("A description changed in the second checkout."));
    assert_eq!(
        std::fs::read(root().join("generated-client/src/generated.rs")).unwrap(),
        first_generated,
        "the first checkout was regenerated"
    );
    let again = xtask_in(&second, false, &["regen", "--check"]);
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
}
