//! `cargo xtask bench-build`: what depending on the client costs, against
//! what users would pick instead and against the floor every reqwest client
//! pays. In one run it clean-builds (an empty target directory each) the
//! client crate, the floor (a crate with only reqwest, with the client's
//! features and TLS, serde, serde_json and tokio), and a small crate that
//! expands progenitor's `generate_api!` on the same vendor document, then
//! prints the times, their ratios and the dependency counts.

use std::path::Path;
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
    let macro_crate = scratch.join("macro-crate");
    let io =
        |error: std::io::Error| Diagnostic::new(scratch.display().to_string(), error.to_string());
    std::fs::create_dir_all(macro_crate.join("src")).map_err(io)?;
    let client_user = scratch.join("client-user");
    std::fs::create_dir_all(client_user.join("src")).map_err(io)?;
    let client_path = root.join("generated-client").display().to_string();
    std::fs::write(
        client_user.join("Cargo.toml"),
        CLIENT_USER_MANIFEST.replace("CLIENT_PATH", &client_path),
    )
    .map_err(io)?;
    std::fs::write(
        client_user.join("src/lib.rs"),
        "pub use xoxoday_reward_points as client;\n",
    )
    .map_err(io)?;
    std::fs::copy(root.join("Cargo.lock"), client_user.join("Cargo.lock")).map_err(io)?;
    let floor = scratch.join("floor");
    std::fs::create_dir_all(floor.join("src")).map_err(io)?;
    std::fs::write(floor.join("Cargo.toml"), FLOOR_MANIFEST).map_err(io)?;
    std::fs::write(floor.join("src/lib.rs"), "pub use reqwest;\n").map_err(io)?;
    std::fs::copy(root.join("Cargo.lock"), floor.join("Cargo.lock")).map_err(io)?;
    std::fs::write(macro_crate.join("Cargo.toml"), MACRO_CRATE_MANIFEST).map_err(io)?;
    std::fs::write(macro_crate.join("src/lib.rs"), MACRO_CRATE_SOURCE).map_err(io)?;
    std::fs::copy(
        root.join("specs/reward-points-api.yaml"),
        macro_crate.join("reward-points-api.yaml"),
    )
    .map_err(io)?;
    // The workspace's lock file, so both builds use the same versions.
    std::fs::copy(root.join("Cargo.lock"), macro_crate.join("Cargo.lock")).map_err(io)?;

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
    let client_target = scratch.join("client-target");
    let client_time = timed_build(&client_user, &["build", "--offline"], &client_target)?;
    // Not counting the one-line crate that depends on it.
    let client_crates = dependency_count(&client_user, &[])? - 1;

    println!("clean build 2/3: the floor (reqwest, serde, serde_json, tokio) …");
    let floor_target = scratch.join("floor-target");
    let floor_time = timed_build(&floor, &["build", "--offline"], &floor_target)?;
    let floor_crates = dependency_count(&floor, &[])?;

    println!("clean build 3/3: a crate using progenitor's generate_api! on the same document …");
    let macro_target = scratch.join("macro-target");
    let macro_time = timed_build(&macro_crate, &["build", "--offline"], &macro_target)?;
    let macro_crates = dependency_count(&macro_crate, &[])?;

    let over_floor = client_time.as_secs_f64() / floor_time.as_secs_f64();
    let over_macro = client_time.as_secs_f64() / macro_time.as_secs_f64();
    println!();
    println!("                        clean build   crates in its tree");
    println!(
        "client crate            {:>9.1} s   {client_crates:>18}",
        client_time.as_secs_f64()
    );
    println!(
        "floor (reqwest & co)    {:>9.1} s   {floor_crates:>18}",
        floor_time.as_secs_f64()
    );
    println!(
        "generate_api! crate     {:>9.1} s   {macro_crates:>18}",
        macro_time.as_secs_f64()
    );
    println!("ratio (client / floor)  {over_floor:>11.2}   (target: at most 1.10)");
    println!("ratio (client / macro)  {over_macro:>11.2}   (target: at most 0.30)");
    Ok(())
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
