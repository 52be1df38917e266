//! Helpers for the tests that run regen as a user does and compile what it
//! writes: the workspace root, the built `xtask`, and scratch workspaces
//! holding copies of the generated crates.
#![allow(dead_code)] // each test binary uses its own part

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// `xtask ARGS` run from the workspace root.
pub fn xtask(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .current_dir(root())
        .env_remove("XTASK_FAIL_POINT")
        .env_remove("RUST_BACKTRACE")
        .output()
        .unwrap()
}

/// A workspace in `dir` holding copies of `crates` (such as
/// `generated-client`), with the real workspace's dependency tables and lock
/// file, so they can be checked there alone. The copies have no
/// dev-dependencies (those name crates outside the copy) and no tests.
pub fn scratch_workspace(dir: &Path, crates: &[&str]) {
    let root = root();
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let members: Vec<String> = crates.iter().map(|name| format!("{name:?}")).collect();
    // Keep the [workspace.*] tables; drop the members and the root package.
    let mut kept = format!(
        "[workspace]\nmembers = [{}]\nresolver = \"3\"\n\n",
        members.join(", ")
    );
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
    for name in crates {
        copy_crate(&root.join(name), &dir.join(name));
    }
}

fn copy_crate(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let name = entry.file_name();
        let path = entry.path();
        if path.is_dir() {
            if name != "tests" && name != "target" {
                copy_crate(&path, &to.join(&name));
            }
        } else if name == "Cargo.toml" {
            let manifest = std::fs::read_to_string(&path).unwrap();
            let manifest = manifest.split("\n[dev-dependencies]").next().unwrap();
            std::fs::write(to.join(&name), manifest).unwrap();
        } else {
            std::fs::copy(&path, to.join(&name)).unwrap();
        }
    }
}

/// `cargo check` of `packages` in a scratch workspace, with a target
/// directory kept between runs so only the first compiles the dependencies.
pub fn cargo_check(workspace: &Path, packages: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO"));
    command.args(["check", "--offline", "--quiet"]);
    for package in packages {
        command.args(["--package", package]);
    }
    in_shared_target(workspace, "scratch-check", command)
}

/// Runs a binary package of a scratch workspace, in a target directory of
/// its own (a full build, unlike `cargo_check`'s).
pub fn cargo_run(workspace: &Path, package: &str) -> Output {
    let mut command = Command::new(env!("CARGO"));
    command
        .args(["run", "--offline", "--quiet", "--package", package])
        // Debug info is no use to a throwaway run, and costs build time.
        .env("CARGO_PROFILE_DEV_DEBUG", "false");
    in_shared_target(workspace, "scratch-run", command)
}

/// Runs cargo `command` in `workspace` with `target/{target}` of the real
/// workspace as its target directory, shared by every scratch workspace.
///
/// Cargo names a workspace member's build by its path *relative to its
/// workspace*, and judges it fresh by comparing file times: two scratch
/// workspaces (tests running side by side) share one build of
/// `generated-client`, and a copy made before another test's build looks
/// older than that build, so cargo would check the other test's client.
/// Under a lock held across all test processes, the workspace's files are
/// stamped with the current time before cargo runs, so its build is always
/// its own.
fn in_shared_target(workspace: &Path, target: &str, mut command: Command) -> Output {
    let target = root().join("target").join(target);
    std::fs::create_dir_all(&target).unwrap();
    let lock = std::fs::File::create(target.with_extension("lock")).unwrap();
    lock.lock().unwrap();
    touch_sources(workspace);
    command
        .current_dir(workspace)
        .env("CARGO_TARGET_DIR", &target)
        .output()
        .unwrap()
}

/// Sets the modification time of every file under `dir` to now.
fn touch_sources(dir: &Path) {
    let now = std::time::SystemTime::now();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            if entry.file_name() != "target" {
                touch_sources(&path);
            }
        } else {
            let file = std::fs::File::options().write(true).open(&path).unwrap();
            file.set_modified(now).unwrap();
        }
    }
}

/// A document of the workspace (YAML), as JSON values.
pub fn workspace_document(file: &str) -> Value {
    let text = std::fs::read_to_string(root().join(file)).unwrap();
    serde_yaml::from_str(&text).unwrap()
}

pub fn write_json(dir: &Path, name: &str, value: &Value) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_string_pretty(value).unwrap()).unwrap();
    path
}

pub fn regen(spec: &Path, overlay: &Path, out: Option<&Path>) -> (bool, String) {
    let mut args = vec![
        "regen",
        "--spec",
        spec.to_str().unwrap(),
        "--overlay",
        overlay.to_str().unwrap(),
    ];
    if let Some(out) = out {
        args.extend(["--out", out.to_str().unwrap()]);
    }
    let output = xtask(&args);
    let text = String::from_utf8_lossy(&output.stderr).into_owned()
        + &String::from_utf8_lossy(&output.stdout);
    (output.status.success(), text)
}

/// A checkout in `dir` of what a pull request of a vendor change touches:
/// the root package (its build script and its snapshot tests in `tests/`),
/// `specs/`, the client and mocks crates (without their own tests and
/// dev-dependencies), as a git repository with one commit. Its workspace
/// has those members only; the lock file is the real one.
pub fn scratch_checkout(dir: &Path) {
    let root = root();
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let mut document: toml_edit::DocumentMut = manifest.parse().unwrap();
    let members = toml_edit::Array::from_iter(["generated-client", "generated-mocks"]);
    document["workspace"]["members"] = toml_edit::value(members);
    document["workspace"]
        .as_table_mut()
        .unwrap()
        .remove("default-members");
    std::fs::write(dir.join("Cargo.toml"), document.to_string()).unwrap();
    std::fs::copy(root.join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    std::fs::copy(root.join("build.rs"), dir.join("build.rs")).unwrap();
    for tree in ["src", "specs", "tests"] {
        copy_tree(&root.join(tree), &dir.join(tree));
    }
    for name in ["generated-client", "generated-mocks"] {
        copy_crate(&root.join(name), &dir.join(name));
    }
    // `cargo xtask` finds its workspace by this file (the binary is this
    // workspace's).
    std::fs::create_dir_all(dir.join("xtask")).unwrap();
    std::fs::write(
        dir.join("xtask/Cargo.toml"),
        "# not a member: the checkout's marker\n",
    )
    .unwrap();
    git(dir, &["init", "--quiet"]);
    git(dir, &["add", "--all"]);
    git(
        dir,
        &["commit", "--quiet", "-m", "the vendor's document as it was"],
    );
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if path.is_dir() {
            copy_tree(&path, &to.join(&name));
        } else if !name.to_string_lossy().ends_with(".snap.new") {
            std::fs::copy(&path, to.join(&name)).unwrap();
        }
    }
}

/// `git ARGUMENTS` in `dir`, with a fixed author and dates so that commit
/// ids repeat.
pub fn git(dir: &Path, arguments: &[&str]) -> String {
    let output = Command::new("git")
        .args(arguments)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "Reviewer")
        .env("GIT_AUTHOR_EMAIL", "reviewer@example.com")
        .env("GIT_COMMITTER_NAME", "Reviewer")
        .env("GIT_COMMITTER_EMAIL", "reviewer@example.com")
        .env("GIT_AUTHOR_DATE", "2026-01-01T00:00:00Z")
        .env("GIT_COMMITTER_DATE", "2026-01-01T00:00:00Z")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "git {arguments:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// `xtask ARGS` run in the checkout `dir` (found by its directory, not by
/// this workspace's).
pub fn xtask_in_checkout(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .current_dir(dir)
        .env_remove("CARGO_MANIFEST_DIR")
        .env_remove("XTASK_FAIL_POINT")
        .env_remove("RUST_BACKTRACE")
        .output()
        .unwrap()
}

/// The root package's snapshot tests of the checkout `dir`, as a reviewer
/// runs them: pending snapshots are written beside the accepted ones.
pub fn root_snapshot_tests(dir: &Path) -> Output {
    let mut command = Command::new(env!("CARGO"));
    command
        .args([
            "test",
            "--offline",
            "--quiet",
            "--package",
            "reward-points-workspace",
        ])
        .args(["--test", "it"])
        .env("CARGO_PROFILE_DEV_DEBUG", "false")
        .env("INSTA_UPDATE", "new")
        .env_remove("CI")
        .env_remove("INSTA_FORCE_PASS");
    in_shared_target(dir, "scratch-run", command)
}
