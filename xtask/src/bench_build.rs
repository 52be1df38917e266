//! `cargo xtask bench-build`: what depending on the client costs, against
//! what users would pick instead and against the floor every reqwest client
//! pays. In one run it clean-builds (an empty target directory each) the
//! client crate, the floor (a crate with only reqwest, with the client's
//! features and TLS, serde, serde_json and tokio), and a small crate that
//! expands progenitor's `generate_api!` on the same vendor document, then
//! prints the times, their ratios and the dependency counts.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use reward_points_generator::document::diagnostic::Diagnostic;

const MACRO_CRATE_MANIFEST: &str = r#"[package]
name = "generate-api-macro-bench"
version = "0.0.0"
edition = "2024"
publish = false

[workspace]

[dependencies]
progenitor = "0.15.1"
reqwest = { version = "0.13", default-features = false, features = ["json", "query", "stream", "native-tls"] }
serde = { version = "1", features = ["derive"] }
serde_json = "1"
"#;

/// A crate that only depends on the client, so the client builds with
/// default profiles, as in a user's project (this workspace's dev profile
/// optimizes the generator's crates, which users never build).
const CLIENT_USER_MANIFEST: &str = r#"[package]
name = "client-user-bench"
version = "0.0.0"
edition = "2024"
publish = false

[workspace]

[dependencies]
xoxoday-reward-points = { path = "CLIENT_PATH" }
"#;

/// The floor: what any client of this API on reqwest compiles, with the
/// reqwest features the client builds with (its own, and progenitor-client's
/// `stream`) and its default TLS backend (native-tls).
const FLOOR_MANIFEST: &str = r#"[package]
name = "reqwest-floor-bench"
version = "0.0.0"
edition = "2024"
publish = false

[workspace]

[dependencies]
reqwest = { version = "0.13", default-features = false, features = ["json", "query", "stream", "native-tls"] }
serde = { version = "1", features = ["derive"] }
serde_json = "1"
tokio = { version = "1", default-features = false, features = ["sync", "rt", "time"] }
"#;

const MACRO_CRATE_SOURCE: &str = r#"//! The vendor's document through progenitor's macro, as a user could do it.
progenitor::generate_api!("reward-points-api.yaml");
"#;

pub fn run(root: &Path) -> Result<(), Diagnostic> {
    let scratch = root.join("target/bench-build");
    let _ = std::fs::remove_dir_all(&scratch);
    let client_user = write_client_user(root, &scratch)?;
    let floor = write_floor(root, &scratch)?;
    let macro_crate = write_macro_crate(root, &scratch)?;

    // Downloads are not build time: fetch first (the macro crate needs
    // progenitor's macro, which the workspace does not use).
    for dir in [
        client_user.as_path(),
        floor.as_path(),
        macro_crate.as_path(),
    ] {
        run_cargo(dir, &["fetch"], None)?;
    }

    println!("clean build 1/3: the client crate (xoxoday-reward-points) …");
    let mut client = clean_build(&client_user, &scratch.join("client-target"))?;
    // Not counting the one-line crate that depends on it.
    client.crates -= 1;

    println!("clean build 2/3: the floor (reqwest, serde, serde_json, tokio) …");
    let floor = clean_build(&floor, &scratch.join("floor-target"))?;

    println!("clean build 3/3: a crate using progenitor's generate_api! on the same document …");
    let macro_crate = clean_build(&macro_crate, &scratch.join("macro-target"))?;

    print_comparison(&client, &floor, &macro_crate);
    Ok(())
}

/// A failure to write the scratch crates under `scratch`.
fn scratch_error(scratch: &Path) -> impl Fn(std::io::Error) -> Diagnostic + '_ {
    |error| Diagnostic::new(scratch.display().to_string(), error.to_string())
}

/// The crate that only depends on the client, with the workspace's lock
/// file; its directory.
fn write_client_user(root: &Path, scratch: &Path) -> Result<PathBuf, Diagnostic> {
    let io = scratch_error(scratch);
    let client_user = scratch.join("client-user");
    std::fs::create_dir_all(client_user.join("src")).map_err(&io)?;
    let client_path = root.join("generated-client").display().to_string();
    std::fs::write(
        client_user.join("Cargo.toml"),
        CLIENT_USER_MANIFEST.replace("CLIENT_PATH", &client_path),
    )
    .map_err(&io)?;
    std::fs::write(
        client_user.join("src/lib.rs"),
        "pub use xoxoday_reward_points as client;\n",
    )
    .map_err(&io)?;
    std::fs::copy(root.join("Cargo.lock"), client_user.join("Cargo.lock")).map_err(&io)?;
    Ok(client_user)
}

/// The floor's crate, with the workspace's lock file; its directory.
fn write_floor(root: &Path, scratch: &Path) -> Result<PathBuf, Diagnostic> {
    let io = scratch_error(scratch);
    let floor = scratch.join("floor");
    std::fs::create_dir_all(floor.join("src")).map_err(&io)?;
    std::fs::write(floor.join("Cargo.toml"), FLOOR_MANIFEST).map_err(&io)?;
    std::fs::write(floor.join("src/lib.rs"), "pub use reqwest;\n").map_err(&io)?;
    std::fs::copy(root.join("Cargo.lock"), floor.join("Cargo.lock")).map_err(&io)?;
    Ok(floor)
}

/// The crate expanding `generate_api!` on the vendor's document, with the
/// workspace's lock file; its directory.
fn write_macro_crate(root: &Path, scratch: &Path) -> Result<PathBuf, Diagnostic> {
    let io = scratch_error(scratch);
    let macro_crate = scratch.join("macro-crate");
    std::fs::create_dir_all(macro_crate.join("src")).map_err(&io)?;
    std::fs::write(macro_crate.join("Cargo.toml"), MACRO_CRATE_MANIFEST).map_err(&io)?;
    std::fs::write(macro_crate.join("src/lib.rs"), MACRO_CRATE_SOURCE).map_err(&io)?;
    std::fs::copy(
        root.join("specs/reward-points-api.yaml"),
        macro_crate.join("reward-points-api.yaml"),
    )
    .map_err(&io)?;
    // The workspace's lock file, so both builds use the same versions.
    std::fs::copy(root.join("Cargo.lock"), macro_crate.join("Cargo.lock")).map_err(&io)?;
    Ok(macro_crate)
}

/// One crate's clean build: how long it took, and the crates in its tree.
struct CleanBuild {
    time: Duration,
    crates: usize,
}

/// Builds the crate in `dir` offline into the empty `target`, timed, and
/// counts its tree.
fn clean_build(dir: &Path, target: &Path) -> Result<CleanBuild, Diagnostic> {
    let time = timed_build(dir, &["build", "--offline"], target)?;
    let crates = dependency_count(dir, &[])?;
    Ok(CleanBuild { time, crates })
}

/// The table of times and crate counts, and the client's ratios to the
/// floor and to the macro crate against their targets.
fn print_comparison(client: &CleanBuild, floor: &CleanBuild, macro_crate: &CleanBuild) {
    let over_floor = client.time.as_secs_f64() / floor.time.as_secs_f64();
    let over_macro = client.time.as_secs_f64() / macro_crate.time.as_secs_f64();
    println!();
    println!("                        clean build   crates in its tree");
    for (name, build) in [
        ("client crate", client),
        ("floor (reqwest & co)", floor),
        ("generate_api! crate", macro_crate),
    ] {
        println!(
            "{name:<24}{:>9.1} s   {:>18}",
            build.time.as_secs_f64(),
            build.crates
        );
    }
    println!("ratio (client / floor)  {over_floor:>11.2}   (target: at most 1.10)");
    println!("ratio (client / macro)  {over_macro:>11.2}   (target: at most 0.30)");
}

fn timed_build(dir: &Path, args: &[&str], target: &Path) -> Result<Duration, Diagnostic> {
    let started = Instant::now();
    run_cargo(dir, args, Some(target))?;
    Ok(started.elapsed())
}

fn run_cargo(dir: &Path, args: &[&str], target: Option<&Path>) -> Result<(), Diagnostic> {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command.args(args).current_dir(dir);
    if let Some(target) = target {
        command.env("CARGO_TARGET_DIR", target);
    }
    let output = command.output().map_err(|error| {
        Diagnostic::new(
            dir.display().to_string(),
            format!("cannot run cargo: {error}"),
        )
    })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let first = stderr
            .lines()
            .find(|line| line.starts_with("error"))
            .unwrap_or("");
        return Err(Diagnostic::new(
            dir.display().to_string(),
            format!("`cargo {}` failed: {first}", args.join(" ")),
        ));
    }
    Ok(())
}

/// Distinct crates the build compiles (normal and build dependencies, proc
/// macros included), not counting the crate itself.
fn dependency_count(dir: &Path, package: &[&str]) -> Result<usize, Diagnostic> {
    let output = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .arg("tree")
        .args(package)
        .args([
            "--offline",
            "--edges",
            "normal,build",
            "--prefix",
            "none",
            "--format",
            "{p}",
        ])
        .current_dir(dir)
        .output()
        .map_err(|error| {
            Diagnostic::new(
                dir.display().to_string(),
                format!("cannot run cargo: {error}"),
            )
        })?;
    let tree = String::from_utf8_lossy(&output.stdout);
    let mut crates: Vec<&str> = tree
        .lines()
        .map(|line| line.trim_end_matches(" (*)").trim())
        .filter(|line| !line.is_empty())
        .collect();
    crates.sort();
    crates.dedup();
    Ok(crates.len().saturating_sub(1))
}
