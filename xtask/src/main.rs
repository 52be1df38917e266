//! `cargo xtask`: regenerate the client, run the suite, measure. See
//! README.md and ARCHITECTURE.md.

mod bench_build;
mod contract;
mod deprecations;
mod diagnostic;
mod error_bodies;
mod fetch_spec;
mod generated_docs;
mod generator;
mod hand_written;
#[path = "../../generated-client/input_digest.rs"]
mod input_digest;
mod mocks;
mod naming;
mod non_exhaustive;
mod open_enums;
mod output;
mod overlay;
mod panics;
mod pipeline;
mod plain_strings;
mod postgres_server;
mod progenitor_shapes;
mod read_input;
mod release;
mod report;
mod request_rules;
mod review;
mod routes;
mod send_wrappers;
mod source_map;
mod surface;
mod validate;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::{Args, Parser, Subcommand};

use diagnostic::{Diagnostic, Problems};
use pipeline::Inputs;

/// Workspace automation for the Xoxoday Reward Points client.
#[derive(Parser)]
#[command(name = "cargo xtask", bin_name = "cargo xtask")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Regenerate generated-client/ and generated-mocks/ from specs/.
    Regen(RegenArgs),
    /// The test suite as CI runs it: starts a throwaway PostgreSQL server
    /// (installing Debian's postgresql package when missing), runs `cargo
    /// test --workspace --no-fail-fast` (or `cargo test --no-fail-fast
    /// ARGUMENTS`) against it, stops it.
    Test {
        /// Arguments for `cargo test`, such as `-p reward-points-cli -- replicas`.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        cargo_arguments: Vec<String>,
    },
    /// What a change does to the generated client, from what regen recorded
    /// at --base (a commit) to the working tree or --head, without
    /// regenerating: grouped as breaking for callers, breaking at run time,
    /// to fix in this crate and compatible, each with its line in the
    /// document, and the version that follows.
    Report {
        /// The commit to compare from: a branch, a tag, a commit id.
        #[arg(long, value_name = "REV")]
        base: String,
        /// The commit to compare to (default: the working tree).
        #[arg(long, value_name = "REV")]
        head: Option<String>,
        #[arg(long, value_enum, default_value_t = review::Format::Text)]
        format: review::Format,
        /// Exit 1 on a breaking change, unless --labels holds
        /// --approval-label.
        #[arg(long)]
        gate: bool,
        /// The pull request's labels, comma-separated.
        #[arg(long, default_value = "", requires = "gate")]
        labels: String,
        /// The label that approves a breaking change.
        #[arg(long, default_value = "breaking-change-approved")]
        approval_label: String,
        /// cargo-semver-checks' outcome on the same change (`success` or
        /// `failure`): say whether it agrees with the report.
        #[arg(long, value_name = "OUTCOME")]
        semver_checks: Option<String>,
    },
    /// The vendor's document assembled from its documentation pages (the
    /// index in specs/vendor-pages.toml), compared with the checked-in one
    /// as data: exit 0 when they say the same (or, with --write, once the
    /// pages' document is written), 1 when they differ without --write
    /// (naming each change), 2 when a page is missing, unreadable or
    /// disagrees with another (nothing written).
    FetchSpec {
        /// Write the assembled document over specs/'s.
        #[arg(long)]
        write: bool,
        /// Read this index instead of the configured one.
        #[arg(long, value_name = "URL")]
        index: Option<String>,
    },
    /// The token and payout protocols under deterministic simulation
    /// (ARCHITECTURE.md, "Simulation"), for longer than the test suite's
    /// budget: prints what the runs covered, and the seed of any failure.
    Simulate {
        /// Runs of each protocol.
        #[arg(long, default_value_t = 10_000)]
        runs: u64,
        /// Replay one run, printing every step (the seed a failure names).
        #[arg(long, conflicts_with = "runs")]
        seed: Option<u64>,
        /// Build optimised (minutes more to build, several times faster).
        #[arg(long)]
        release: bool,
    },
    /// Replicas sharing a token store, measured (BENCHMARKS.md), with a
    /// throwaway PostgreSQL server.
    BenchReplicas,
    /// Clean-builds the client crate and a crate using progenitor's
    /// generate_api! on the same document; prints both times, their ratio
    /// and both dependency counts.
    BenchBuild,
}

#[derive(Args)]
struct RegenArgs {
    /// Write nothing; exit 1 naming each stale generated file, with a diff.
    #[arg(long)]
    check: bool,
    /// Print how long each stage took.
    #[arg(long)]
    timings: bool,
    /// Read another OpenAPI document, YAML or JSON (default: specs/reward-points-api.yaml
    /// or .json). Without --out, it is only checked.
    #[arg(long, value_name = "PATH")]
    spec: Option<PathBuf>,
    /// Apply another overlay (default specs/reward-points-api.overlay.yaml).
    #[arg(long, value_name = "PATH", conflicts_with = "no_overlay")]
    overlay: Option<PathBuf>,
    /// Apply no overlay: for a document that is not the vendor's.
    #[arg(long)]
    no_overlay: bool,
    /// Write DIR/generated-client/src/generated.rs and
    /// DIR/generated-mocks/src/generated.rs instead of the workspace's.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Regen(args) => regen(&args),
        Command::Test { cargo_arguments } => {
            let mut cargo = vec!["test".to_owned(), "--no-fail-fast".to_owned()];
            if cargo_arguments.is_empty() {
                cargo.push("--workspace".to_owned());
            }
            cargo.extend(cargo_arguments);
            cargo_with_postgres(&cargo)
        }
        Command::Report {
            base,
            head,
            format,
            gate,
            labels,
            approval_label,
            semver_checks,
        } => {
            let arguments = review::ReportArguments {
                base,
                head,
                format,
                gate,
                labels,
                approval_label,
                semver_checks,
            };
            match review::run(&workspace_root(), &arguments) {
                Ok(true) => ExitCode::SUCCESS,
                Ok(false) => ExitCode::FAILURE,
                Err(problem) => {
                    eprintln!("error: {problem}");
                    ExitCode::from(2)
                }
            }
        }
        Command::FetchSpec { write, index } => fetch_spec(write, index.as_deref()),
        Command::Simulate {
            runs,
            seed,
            release,
        } => simulate(runs, seed, release),
        Command::BenchReplicas => {
            let cargo = ["bench", "-p", "reward-points-cli", "--bench", "replicas"];
            cargo_with_postgres(&cargo.map(str::to_owned))
        }
        Command::BenchBuild => match bench_build::run(&workspace_root()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(failure) => {
                eprintln!("error: {failure}");
                ExitCode::FAILURE
            }
        },
    }
}

fn fetch_spec(write: bool, index: Option<&str>) -> ExitCode {
    let fetched = match fetch_spec::run(&workspace_root(), index, write) {
        Ok(fetched) => fetched,
        Err(problem) => {
            eprintln!("error: {problem}");
            return ExitCode::from(2);
        }
    };
    for kept in &fetched.kept {
        println!("fetch-spec: kept {kept} of specs/: no page carries it");
    }
    if fetched.changes.is_empty() {
        println!("fetch-spec: the vendor's pages say what specs/ says: no change");
        return ExitCode::SUCCESS;
    }
    println!("fetch-spec: the vendor's pages differ from specs/:");
    for change in &fetched.changes {
        println!("  - {change}");
    }
    if fetched.written {
        println!("written to specs/: now run `cargo xtask regen`");
        ExitCode::SUCCESS
    } else {
        println!("nothing written (give --write to write it)");
        ExitCode::FAILURE
    }
}

/// Runs both protocols' simulation tests with `runs` (or the one `seed`).
fn simulate(runs: u64, seed: Option<u64>, release: bool) -> ExitCode {
    let (variable, value) = match seed {
        Some(seed) => ("XOXODAY_SIMULATION_SEED", seed),
        None => ("XOXODAY_SIMULATION_RUNS", runs),
    };
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = std::process::Command::new(cargo);
    command.args(["test", "--no-fail-fast"]);
    if release {
        command.arg("--release");
    }
    command
        .args([
            "-p",
            "xoxoday-reward-points",
            "-p",
            "xoxoday-reward-points-payouts",
        ])
        .args(["--lib", "simulation", "--", "--nocapture"])
        .env(variable, value.to_string())
        .current_dir(workspace_root());
    match command.status() {
        Ok(status) if status.success() => ExitCode::SUCCESS,
        Ok(_) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("error: cannot run cargo: {error}");
            ExitCode::FAILURE
        }
    }
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

/// The checkout `cargo xtask` runs in, found at run time: the package
/// directory `cargo run` gives in `CARGO_MANIFEST_DIR` (its parent is the
/// workspace), else the workspace around the current directory. Never the
/// directory xtask was compiled in: two checkouts sharing one target
/// directory (a global `CARGO_TARGET_DIR`, git worktrees) share one xtask
/// binary, and each must work on its own files.
fn workspace_root() -> PathBuf {
    let is_root =
        |dir: &Path| dir.join("xtask/Cargo.toml").is_file() && dir.join("Cargo.toml").is_file();
    let from_cargo = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .and_then(|xtask| xtask.parent().map(Path::to_path_buf))
        .filter(|dir| is_root(dir));
    let around_here = || {
        let here = std::env::current_dir().ok()?;
        here.ancestors()
            .find(|dir| is_root(dir))
            .map(Path::to_path_buf)
    };
    from_cargo.or_else(around_here).unwrap_or_else(|| {
        eprintln!(
            "error: cannot find the workspace: run `cargo xtask` inside a checkout of it (a \
             directory with xtask/ and Cargo.toml, or below one)"
        );
        std::process::exit(2)
    })
}

/// The workspace's own inputs: the vendor's document (YAML or JSON) and the
/// overlay.
fn default_inputs(root: &Path) -> Result<(PathBuf, PathBuf), Diagnostic> {
    let spec =
        input_digest::spec_file(root).map_err(|message| Diagnostic::new("specs/", message))?;
    Ok((root.join(spec), root.join(input_digest::OVERLAY_FILE)))
}

fn regen(args: &RegenArgs) -> ExitCode {
    let root = workspace_root();
    // Files the user named are shown as named; the workspace's relative to
    // its root.
    let shown_as = |path: &Path| {
        path.strip_prefix(&root)
            .unwrap_or(path)
            .display()
            .to_string()
    };
    let inputs = default_inputs(&root).and_then(|(spec, overlay)| {
        let spec = args.spec.clone().unwrap_or(spec);
        let overlay = args.overlay.clone().unwrap_or(overlay);
        let mut inputs = Inputs::read(&spec, &overlay, &root, shown_as)?;
        if args.no_overlay {
            inputs.overlay_name = pipeline::NO_OVERLAY_NAME.into();
            inputs.overlay = pipeline::NO_OVERLAY.as_bytes().to_vec();
        }
        Ok(inputs)
    });
    let (problems, inputs) = match inputs {
        Err(problem) => (vec![problem], None),
        Ok(inputs) => match regen_from(args, &root, &inputs, shown_as) {
            Ok(code) => return code,
            Err(problems) => (problems, Some(inputs)),
        },
    };
    let sources = inputs.map(|inputs| inputs.sources()).unwrap_or_default();
    let styled = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    eprint!("{}", diagnostic::render(&problems, &sources, styled));
    ExitCode::FAILURE
}

fn regen_from(
    args: &RegenArgs,
    root: &Path,
    inputs: &Inputs,
    shown_as: impl Fn(&Path) -> String,
) -> Result<ExitCode, Problems> {
    let started = Instant::now();
    let mut timings = pipeline::Timings::default();
    let pipeline::Generated { files, notes } = pipeline::generate(inputs, &mut timings)?;
    for note in &notes {
        eprintln!("{note}");
    }

    let out_dir = match (&args.out, &args.spec) {
        (Some(out), _) => out.clone(),
        (None, None) => root.to_path_buf(),
        (None, Some(_)) => {
            println!(
                "regen: {} is valid and generates {} file(s); nothing written (give --out DIR to write them)",
                inputs.spec_name,
                files.len()
            );
            return Ok(ExitCode::SUCCESS);
        }
    };

    if args.check {
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

    let follow_up = release::follow_up(&out_dir, &files).map_err(|problem| vec![problem])?;
    let mut files = files;
    files.extend(follow_up.files);
    let mut clock = Instant::now();
    let written = output::write_changed(&out_dir, &files).map_err(|problem| vec![problem])?;
    timings.lap("write", &mut clock);
    for path in &written {
        println!("wrote {}", shown_as(path));
    }
    if args.timings {
        for (stage, took) in &timings.0 {
            println!("  {stage:<9} {:>8.1} ms", took.as_secs_f64() * 1000.0);
        }
    }
    if let Some(summary) = follow_up.summary {
        println!("{summary}");
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

    fn workspace_inputs() -> Inputs {
        let root = workspace_root();
        let (spec, overlay) = default_inputs(&root).unwrap();
        Inputs::read(&spec, &overlay, &root, |path| {
            path.strip_prefix(&root).unwrap().display().to_string()
        })
        .unwrap()
    }

    /// rust-analyzer style: `cargo test` alone catches a checked-in client
    /// that no longer matches what regen would write.
    #[test]
    fn checked_in_client_is_up_to_date() {
        let inputs = workspace_inputs();
        let files = pipeline::generate(&inputs, &mut Default::default())
            .unwrap()
            .files;
        let reports = output::stale_reports(&workspace_root(), &files, &inputs.digest(), |path| {
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
        let inputs = workspace_inputs();
        let first = pipeline::generate(&inputs, &mut Default::default())
            .unwrap()
            .files;
        let second = pipeline::generate(&inputs, &mut Default::default())
            .unwrap()
            .files;
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
