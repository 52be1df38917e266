//! An interrupted regen leaves the client crate wholly old or wholly new, and
//! it compiles either way. The fault-injection point `XTASK_FAIL_POINT=
//! before-rename` aborts the process after the new files are staged and
//! before any of them replaces its target, as a crash or a kill would.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn regen(args: &[&str], fail_point: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_xtask"));
    command
        .arg("regen")
        .args(args)
        .current_dir(root())
        .env_remove("XTASK_FAIL_POINT");
    if let Some(point) = fail_point {
        command.env("XTASK_FAIL_POINT", point);
    }
    command.output().unwrap()
}

/// A workspace holding only a copy of the client crate, with the real
/// workspace's dependency table and lock file, so it can be checked alone.
fn client_workspace(dir: &Path) -> PathBuf {
    let root = root();
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    // Keep the [workspace.*] tables; drop members and the root package.
    let mut kept =
        String::from("[workspace]\nmembers = [\"generated-client\"]\nresolver = \"3\"\n\n");
    let mut keep = false;
    for line in manifest.lines() {
        if line.starts_with('[') {
            keep = line.starts_with("[workspace.");
        }
        if keep {
            kept.push_str(line);
            kept.push('\n');
        }
    }
    std::fs::write(dir.join("Cargo.toml"), kept).unwrap();
    std::fs::copy(root.join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    let client = dir.join("generated-client");
    std::fs::create_dir_all(client.join("src")).unwrap();
    // Without [dev-dependencies]: they name crates outside this copy.
    let manifest = std::fs::read_to_string(root.join("generated-client/Cargo.toml")).unwrap();
    let manifest = manifest.split("\n[dev-dependencies]").next().unwrap();
    std::fs::write(client.join("Cargo.toml"), manifest).unwrap();
    for entry in std::fs::read_dir(root.join("generated-client/src"))
        .unwrap()
        .flatten()
    {
        std::fs::copy(entry.path(), client.join("src").join(entry.file_name())).unwrap();
    }
    client
}

fn cargo_check(workspace: &Path) {
    let output = Command::new(env!("CARGO"))
        .args([
            "check",
            "--offline",
            "--quiet",
            "--package",
            "xoxoday-reward-points",
        ])
        .current_dir(workspace)
        // Kept between runs, so only the first run compiles the dependencies.
        .env("CARGO_TARGET_DIR", root().join("target/atomicity-check"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "the crate does not compile:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn an_interrupted_regen_leaves_the_client_wholly_old_or_wholly_new() {
    let dir = tempfile::tempdir().unwrap();
    let client = client_workspace(dir.path());
    let generated = client.join("src/generated.rs");
    let old = std::fs::read_to_string(&generated).unwrap();

    // A new version of the document: one description changed.
    let spec = std::fs::read_to_string(root().join("specs/reward-points-api.yaml")).unwrap();
    let marker = "Validate whether the current `access_token` is still active.";
    assert!(spec.contains(marker));
    let new_spec = dir.path().join("new-spec.yaml");
    std::fs::write(
        &new_spec,
        spec.replace(marker, "Check whether the access token is active."),
    )
    .unwrap();
    let args = [
        "--spec",
        new_spec.to_str().unwrap(),
        "--out",
        dir.path().to_str().unwrap(),
    ];

    // Interrupted after staging, before the rename: wholly old.
    let interrupted = regen(&args, Some("before-rename"));
    let stderr = String::from_utf8_lossy(&interrupted.stderr);
    assert!(
        stderr.contains("XTASK_FAIL_POINT=before-rename: stopping"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&generated).unwrap(), old);
    let leftovers: Vec<_> = std::fs::read_dir(client.join("src"))
        .unwrap()
        .flatten()
        .filter(|entry| entry.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert_eq!(leftovers.len(), 1, "the staged file is left behind");
    cargo_check(dir.path());

    // Run again: wholly new, and the leftover is gone.
    let finished = regen(&args, None);
    assert!(
        finished.status.success(),
        "{}",
        String::from_utf8_lossy(&finished.stderr)
    );
    let new = std::fs::read_to_string(&generated).unwrap();
    assert!(new.contains("Check whether the access token is active.") && !new.contains(marker));
    let names: Vec<String> = std::fs::read_dir(client.join("src"))
        .unwrap()
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().all(|name| !name.ends_with(".tmp")),
        "{names:?}"
    );
    cargo_check(dir.path());
}
