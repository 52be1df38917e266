//! `cargo xtask`: regenerate the client, run the suite, measure. See
//! README.md and ARCHITECTURE.md.

mod bench_build;
mod postgres_server;
mod regen;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use reward_points_reporter::review;

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
    /// (installing Debian's postgresql package when missing), runs every
    /// member's tests against it (or `cargo test --no-fail-fast ARGUMENTS`),
    /// stops it.
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
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
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
    /// Clean-builds the client crate, the floor every reqwest client pays
    /// (reqwest, serde, serde_json, tokio) and a crate using progenitor's
    /// generate_api! on the same document; prints the times, the client's
    /// ratios to the other two and the dependency counts.
    BenchBuild,
}

/// How `report` prints (the reporter's `review::Format`).
#[derive(Clone, Copy, ValueEnum)]
enum Format {
    /// For a terminal.
    Text,
    /// A pull request's comment or job summary.
    Markdown,
    /// For tools: stable, documented in xtask/reporter/src/review/render.rs.
    Json,
    /// GitHub Actions workflow commands: an `::error` at the document's line
    /// for each breaking entry, a `::warning` for each to fix in this crate.
    Github,
}

impl From<Format> for review::Format {
    fn from(format: Format) -> Self {
        match format {
            Format::Text => review::Format::Text,
            Format::Markdown => review::Format::Markdown,
            Format::Json => review::Format::Json,
            Format::Github => review::Format::Github,
        }
    }
}

#[derive(Args)]
pub struct RegenArgs {
    /// Write nothing; exit 1 naming each stale generated file, with a diff.
    #[arg(long)]
    pub check: bool,
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
        Command::Regen(args) => regen::regen(&args),
        Command::Test { cargo_arguments } => cargo_with_postgres(&test_runs(cargo_arguments)),
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
                format: format.into(),
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
            cargo_with_postgres(&[cargo.map(str::to_owned).to_vec()])
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

/// `cargo xtask fetch-spec`: the program of its own
/// (`reward-points-fetch-spec`), built when first asked for, so that its
/// HTTP stack is never built before a regen.
fn fetch_spec(write: bool, index: Option<&str>) -> ExitCode {
    let mut command = fetch_spec_command(&workspace_root(), write, index);
    match command.status() {
        Ok(status) => ExitCode::from(u8::try_from(status.code().unwrap_or(2)).unwrap_or(2)),
        Err(error) => {
            eprintln!("error: cannot run cargo: {error}");
            ExitCode::from(2)
        }
    }
}

/// `cargo run` of the fetch-spec program for the checkout `root`: the
/// checkout's own program, or this runner's for a checkout without it (a
/// test's scratch copy of the document and the client).
fn fetch_spec_command(root: &Path, write: bool, index: Option<&str>) -> std::process::Command {
    let own = root.join("xtask/fetch-spec/Cargo.toml");
    let manifest = if own.is_file() {
        own
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fetch-spec/Cargo.toml")
    };
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = std::process::Command::new(cargo);
    command
        .args(["run", "--quiet", "--manifest-path"])
        .arg(&manifest)
        .args(["--package", "reward-points-fetch-spec", "--"])
        .arg("--root")
        .arg(root)
        .current_dir(root);
    if write {
        command.arg("--write");
    }
    if let Some(index) = index {
        command.args(["--index", index]);
    }
    command
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

/// The packages `cargo xtask regen` builds: this runner and the libraries
/// under it.
const REGEN_PACKAGES: [&str; 4] = [
    "xtask",
    "reward-points-document",
    "reward-points-generator",
    "reward-points-reporter",
];

/// The `cargo test` runs of `cargo xtask test ARGUMENTS`: with arguments,
/// one run of them; without, every member's tests in two runs. Cargo
/// builds a crate once per set of features, and resolves features over the
/// packages a run names: a run of the whole workspace would build every
/// crate regen built (progenitor, typify, syn…) again with the features the
/// client's side turns on. So the first run is regen's packages alone, which
/// finds regen's build (a fresh clone's first command) and reuses it; the
/// second, every other member.
fn test_runs(arguments: Vec<String>) -> Vec<Vec<String>> {
    let test = ["test", "--no-fail-fast"].map(str::to_owned);
    if !arguments.is_empty() {
        return vec![test.into_iter().chain(arguments).collect()];
    }
    let regen_side = REGEN_PACKAGES.iter().flat_map(|name| ["--package", name]);
    let others = REGEN_PACKAGES.iter().flat_map(|name| ["--exclude", name]);
    let others = ["--workspace"].into_iter().chain(others);
    [regen_side.collect::<Vec<_>>(), others.collect()]
        .map(|run| {
            test.iter()
                .cloned()
                .chain(run.into_iter().map(str::to_owned))
                .collect()
        })
        .to_vec()
}

/// Each of `runs` (`cargo ARGUMENTS`, every one run even after a failure)
/// with a throwaway PostgreSQL server, whose connection string the tests
/// and benchmarks read from `XOXODAY_TEST_POSTGRES`.
fn cargo_with_postgres(runs: &[Vec<String>]) -> ExitCode {
    let server = match postgres_server::PostgresServer::start() {
        Ok(server) => server,
        Err(message) => {
            eprintln!("error: cannot start a PostgreSQL server for the tests: {message}");
            return ExitCode::FAILURE;
        }
    };
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut failed = false;
    for arguments in runs {
        let status = std::process::Command::new(&cargo)
            .args(arguments)
            .env(
                postgres_server::TEST_POSTGRES_VARIABLE,
                server.connection_string(),
            )
            .current_dir(workspace_root())
            .status();
        failed |= match status {
            Ok(status) => !status.success(),
            Err(error) => {
                eprintln!("error: cannot run cargo: {error}");
                true
            }
        };
    }
    drop(server);
    match failed {
        true => ExitCode::FAILURE,
        false => ExitCode::SUCCESS,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn arguments(command: &std::process::Command) -> Vec<String> {
        let arguments = command
            .get_args()
            .map(|argument| argument.to_string_lossy());
        arguments.map(String::from).collect()
    }

    #[test]
    fn fetch_spec_runs_the_checkouts_own_program_on_the_checkout() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let command = fetch_spec_command(root, true, Some("http://127.0.0.1:9/llms.txt"));
        let manifest = root.join("xtask/fetch-spec/Cargo.toml");
        let expected = [
            "run",
            "--quiet",
            "--manifest-path",
            manifest.to_str().unwrap(),
            "--package",
            "reward-points-fetch-spec",
            "--",
            "--root",
            root.to_str().unwrap(),
            "--write",
            "--index",
            "http://127.0.0.1:9/llms.txt",
        ];
        assert_eq!(arguments(&command), expected);
        assert_eq!(command.get_current_dir(), Some(root));
        let plain = fetch_spec_command(root, false, None);
        assert_eq!(arguments(&plain).last().unwrap(), root.to_str().unwrap());
    }

    #[test]
    fn the_test_runs_cover_the_workspace_in_two_runs_or_run_what_is_asked() {
        let runs = test_runs(Vec::new());
        let runs: Vec<String> = runs.iter().map(|run| run.join(" ")).collect();
        assert_eq!(
            runs,
            [
                "test --no-fail-fast --package xtask --package reward-points-document \
                 --package reward-points-generator --package reward-points-reporter",
                "test --no-fail-fast --workspace --exclude xtask --exclude \
                 reward-points-document --exclude reward-points-generator --exclude \
                 reward-points-reporter",
            ]
        );
        let asked = test_runs(vec!["-p".into(), "reward-points-cli".into()]);
        assert_eq!(
            asked,
            [["test", "--no-fail-fast", "-p", "reward-points-cli"]]
        );
    }

    #[test]
    fn regen_builds_only_the_packages_of_the_first_test_run() {
        // What `cargo run -p xtask` builds of this workspace's members.
        let metadata = std::process::Command::new(env!("CARGO"))
            .args(["tree", "--package", "xtask", "--edges", "normal,build"])
            .args(["--prefix", "none", "--format", "{p}"])
            .output()
            .unwrap();
        assert!(metadata.status.success());
        let tree = String::from_utf8(metadata.stdout).unwrap();
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let mut members: Vec<&str> = tree
            .lines()
            .filter(|line| line.contains(workspace.to_str().unwrap()))
            .filter_map(|line| line.split(' ').next())
            .collect();
        members.sort();
        members.dedup();
        let mut expected = REGEN_PACKAGES.to_vec();
        expected.sort();
        assert_eq!(members, expected);
    }

    #[test]
    fn a_checkout_without_the_program_runs_the_runners() {
        // A directory with no `xtask/fetch-spec/`: this crate's `src/`.
        let checkout = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let command = fetch_spec_command(&checkout, false, None);
        let runners = Path::new(env!("CARGO_MANIFEST_DIR")).join("fetch-spec/Cargo.toml");
        assert_eq!(arguments(&command)[3], runners.to_str().unwrap());
    }
}
