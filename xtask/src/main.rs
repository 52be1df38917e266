//! `cargo xtask regen`: see README.md and ARCHITECTURE.md.

mod bench_build;
mod error_bodies;
mod failure;
#[path = "input_digest.rs"]
mod input_digest;
mod mocks;
mod naming;
mod output;
mod overlay;
mod pipeline;
mod postgres_server;
mod read_input;
mod routes;
mod send_wrappers;
mod validate;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use failure::Failure;
use pipeline::Inputs;

const USAGE: &str =
    "usage: cargo xtask regen [--check] [--timings] [--spec PATH] [--overlay PATH] [--out DIR]

  regen                  regenerate generated-client/ and generated-mocks/ from specs/
  regen --check          write nothing; exit 1 naming each stale generated file
  --timings              print how long each stage took
  --spec PATH            read another OpenAPI document (default specs/reward-points-api.yaml)
  --overlay PATH         apply another overlay (default specs/reward-points-api.overlay.yaml)
  --out DIR              write DIR/generated-client/src/generated.rs and
                         DIR/generated-mocks/src/generated.rs instead of the workspace's;
                         with --spec and no --out, nothing is written: the document is
                         only checked

usage: cargo xtask test [CARGO TEST ARGUMENTS]

  the test suite, as CI runs it: starts a throwaway PostgreSQL server (installing
  Debian's postgresql package when missing), runs `cargo test --workspace
  --no-fail-fast` (or `cargo test --no-fail-fast ARGUMENTS`) against it, stops it

usage: cargo xtask bench-replicas

  replicas sharing a token store, measured (BENCHMARKS.md), with a throwaway
  PostgreSQL server

usage: cargo xtask bench-build

  clean-builds the client crate and a crate using progenitor's generate_api! on the
  same document, and prints both times, their ratio and both dependency counts";

/// What the command line asked for.
#[derive(Default)]
struct Options {
    /// `bench-build` instead of `regen`.
    bench_build: bool,
    /// `test` or `bench-replicas`: cargo's arguments, to run with a
    /// throwaway PostgreSQL server.
    with_postgres: Option<Vec<String>>,
    check: bool,
    timings: bool,
    spec: Option<PathBuf>,
    overlay: Option<PathBuf>,
    out: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let options = match parse_args(&args) {
        Ok(Some(options)) => options,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("error: {message} (see `cargo xtask --help`)");
            return ExitCode::from(2);
        }
    };
    if let Some(arguments) = &options.with_postgres {
        return cargo_with_postgres(arguments);
    }
    if options.bench_build {
        return match bench_build::run(&workspace_root()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(failure) => {
                eprintln!("error: {failure}");
                ExitCode::FAILURE
            }
        };
    }
    match regen(&options) {
        Ok(code) => code,
        Err(failure) => {
            eprintln!("error: {failure}");
            ExitCode::FAILURE
        }
    }
}

/// `Ok(None)` asks for the usage text.
fn parse_args(args: &[String]) -> Result<Option<Options>, String> {
    let mut args = args.iter();
    match args.next().map(String::as_str) {
        Some("regen") => {}
        Some("bench-build") if args.len() == 0 => {
            return Ok(Some(Options {
                bench_build: true,
                ..Options::default()
            }));
        }
        Some("test") => {
            let rest: Vec<String> = args.cloned().collect();
            let mut cargo = vec!["test".to_owned(), "--no-fail-fast".to_owned()];
            if rest.is_empty() {
                cargo.push("--workspace".to_owned());
            }
            cargo.extend(rest);
            return Ok(Some(Options {
                with_postgres: Some(cargo),
                ..Options::default()
            }));
        }
        Some("bench-replicas") if args.len() == 0 => {
            let cargo = ["bench", "-p", "reward-points-cli", "--bench", "replicas"];
            return Ok(Some(Options {
                with_postgres: Some(cargo.map(str::to_owned).to_vec()),
                ..Options::default()
            }));
        }
        Some("--help" | "-h" | "help") => return Ok(None),
        Some(other) => return Err(format!("unknown command `{other}`")),
        None => return Err("no command given".into()),
    }
    let mut options = Options::default();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .map(PathBuf::from)
                .ok_or_else(|| format!("`{name}` needs a path"))
        };
        match arg.as_str() {
            "--check" => options.check = true,
            "--timings" => options.timings = true,
            "--spec" => options.spec = Some(value("--spec")?),
            "--overlay" => options.overlay = Some(value("--overlay")?),
            "--out" => options.out = Some(value("--out")?),
            "--help" | "-h" => return Ok(None),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(Some(options))
}

/// `cargo ARGUMENTS` with a throwaway PostgreSQL server, whose connection
/// string the tests and benchmarks read from `XOXODAY_TEST_POSTGRES`.
fn cargo_with_postgres(arguments: &[String]) -> ExitCode {
    let server = match postgres_server::PostgresServer::start() {
        Ok(server) => server,
        Err(message) => {
            eprintln!("error: cannot start a PostgreSQL server for the tests: {message}");
            return ExitCode::FAILURE;
        }
    };
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = std::process::Command::new(cargo)
        .args(arguments)
        .env(
            postgres_server::TEST_POSTGRES_VARIABLE,
            server.connection_string(),
        )
        .current_dir(workspace_root())
        .status();
    drop(server);
    match status {
        Ok(status) if status.success() => ExitCode::SUCCESS,
        Ok(_) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("error: cannot run cargo: {error}");
            ExitCode::FAILURE
        }
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

fn regen(options: &Options) -> Result<ExitCode, Failure> {
    let started = Instant::now();
    let root = workspace_root();
    // Files the user named are shown as named; the defaults relative to the
    // workspace root.
    let shown_as = |path: &Path| {
        path.strip_prefix(&root)
            .unwrap_or(path)
            .display()
            .to_string()
    };
    let [default_spec, default_overlay] = input_digest::INPUT_FILES.map(|file| root.join(file));
    let spec = options.spec.clone().unwrap_or(default_spec);
    let overlay = options.overlay.clone().unwrap_or(default_overlay);
    let mut clock = Instant::now();
    let mut timings = pipeline::Timings::default();
    let inputs = Inputs::read(&spec, &overlay, shown_as)?;
    timings.lap("read", &mut clock);
    let files = pipeline::generate(&inputs, &mut timings)?;

    let out_dir = match (&options.out, &options.spec) {
        (Some(out), _) => out.clone(),
        (None, None) => root.clone(),
        (None, Some(_)) => {
            println!(
                "regen: {} is valid and generates {} file(s); nothing written (give --out DIR to write them)",
                inputs.spec_name,
                files.len()
            );
            return Ok(ExitCode::SUCCESS);
        }
    };

    if options.check {
        let reports = output::stale_reports(&out_dir, &files, &inputs.digest(), shown_as);
        if reports.is_empty() {
            println!(
                "regen --check: {} generated file(s) up to date",
                files.len()
            );
            return Ok(ExitCode::SUCCESS);
        }
        for report in &reports {
            eprintln!("{report}");
        }
        eprintln!(
            "error: {} generated file(s) are stale: run `cargo xtask regen` and commit the result",
            reports.len()
        );
        return Ok(ExitCode::FAILURE);
    }

    let mut clock = Instant::now();
    let written = output::write_changed(&out_dir, &files)?;
    timings.lap("write", &mut clock);
    for path in &written {
        println!("wrote {}", shown_as(path));
    }
    if options.timings {
        for (stage, took) in &timings.0 {
            println!("  {stage:<9} {:>8.1} ms", took.as_secs_f64() * 1000.0);
        }
    }
    println!(
        "regen: {} file(s) written, {} unchanged, in {} ms",
        written.len(),
        files.len() - written.len(),
        started.elapsed().as_millis()
    );
    Ok(ExitCode::SUCCESS)
}
#[cfg(test)]
mod tests {
    use super::*;

    /// rust-analyzer style: `cargo test` alone catches a checked-in client
    /// that no longer matches what regen would write.
    #[test]
    fn checked_in_client_is_up_to_date() {
        let root = workspace_root();
        let [spec, overlay] = input_digest::INPUT_FILES.map(|file| root.join(file));
        let inputs = Inputs::read(&spec, &overlay, |path| path.display().to_string()).unwrap();
        let files = pipeline::generate(&inputs, &mut Default::default()).unwrap();
        let reports = output::stale_reports(&root, &files, &inputs.digest(), |path| {
            path.display().to_string()
        });
        assert!(
            reports.is_empty(),
            "run `cargo xtask regen`:\n{}",
            reports.join("\n")
        );
    }

    #[test]
    fn generation_is_deterministic() {
        let root = workspace_root();
        let [spec, overlay] = input_digest::INPUT_FILES.map(|file| root.join(file));
        let inputs = Inputs::read(&spec, &overlay, |path| path.display().to_string()).unwrap();
        let first = pipeline::generate(&inputs, &mut Default::default()).unwrap();
        let second = pipeline::generate(&inputs, &mut Default::default()).unwrap();
        assert_eq!(first.len(), second.len());
        for (a, b) in first.iter().zip(&second) {
            assert_eq!(a.relative_path, b.relative_path);
            assert!(
                a.content == b.content,
                "{} differs between runs",
                a.relative_path
            );
        }
    }
}
