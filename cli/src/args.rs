//! The command line: clap's definitions of `reward-points` and its
//! subcommands, and [`parse`], which also keeps each subcommand's help to
//! the options it uses.
//!
//! The options of calls to the vendor ([`VendorOptions`]) may come before
//! the subcommand or after it. Each subcommand uses some of them
//! ([`VENDOR_OPTIONS_USED`]); the others are left out of its help, and when
//! given anyway they are ignored with a warning (`stand-in --yes` still
//! serves, as it always did, and says that `--yes` means nothing to it).

use std::collections::BTreeSet;
use std::path::PathBuf;

use clap::builder::TypedValueParser;
use clap::parser::ValueSource;
use clap::{ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use xoxoday_reward_points::Environment;
use xoxoday_reward_points_payouts::Selection;

const AFTER_HELP: &str = "\
Credentials (from the environment, never from flags, so they stay out of shell history):
  XOXODAY_ACCESS_TOKEN   the access token sent as `Authorization: Bearer …`
  XOXODAY_CLIENT_ID      the integration's client id: with --token-store or refresh-token,
                         and for payout and payout-undo (it names the account whose ledger
                         records them)
  XOXODAY_CLIENT_SECRET  with --token-store or refresh-token: the client secret
  XOXODAY_REFRESH_TOKEN  for seed-token-store, and for refresh-token without --token-store

With --token-store PATH the tokens are read from that file and refreshed on their own, in
step with every other process using the same file (each rotated refresh token is saved
there first); XOXODAY_ACCESS_TOKEN is then ignored. Start a store with seed-token-store.

A call that reaches a live host asks for confirmation, naming the host, unless --yes is
given: every call in Production, and cancel-points and payout-undo in every environment
(the vendor sends cancel points to Production's host from all of them). Tokens in answers are printed as <redacted> unless --show-token.

The options a subcommand's help lists (`reward-points send-points --help`) may come before
the subcommand too: `reward-points --env production send-points …`.

Exit status: 0 done; 1 failed, nothing was done (or a refusal, a bad value, a usage
error: 2); 3 partly done (a cancel where some credits were not cancelled; a payout run with
refused or unsent rows); 4 maybe done (a send or cancel whose answer was lost, a payout run
with rows in doubt: check before running it again); 5 a payout run stopped before its end
(Ctrl-C, a token to replace): run it again; 6 `payout --dry-run` found nothing left to send.

Logs: -v (calls, retries and waits, token refreshes), -vv (also each row and ledger
sync), -vvv (everything), or RUST_LOG=… instead; on stderr, never a token or secret.

Bulk payouts: `payout FILE` pays every row of a CSV (name,email,points[,citation,
sender_email,expiry_months]) once, recorded in the ledger of record of the environment and
account (XOXODAY_CLIENT_ID names the account; the ledger is payouts.sqlite3 in the user's
data directory, or --ledger), so that no run, of this file or any other, credits a
recipient twice unless told; `payout-undo FILE --lines all` cancels its credits;
`payout FILE --dry-run` says what a run would do and sends nothing. `stand-in --port P` serves a local stand-in of the API to try it on.";

/// The Xoxoday Reward Points API from a shell; answers are printed as JSON.
#[derive(Parser)]
#[command(name = "reward-points", version, after_help = AFTER_HELP)]
pub struct Cli {
    /// How calls reach the vendor.
    #[command(flatten)]
    pub vendor: VendorOptions,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,

    /// Log what the client does, on stderr: -v its calls (operation,
    /// environment, status, latency, attempts), retries and waits, token
    /// refreshes; -vv also each row and ledger sync; -vvv everything.
    /// RUST_LOG, when set, chooses instead. Never a token or secret.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    /// Which values were typed on the command line (not taken from the
    /// environment).
    #[arg(skip)]
    pub typed: Typed,
}

/// The options of calls to the vendor, before or after the subcommand.
/// Their clap ids (the field names) are what [`VENDOR_OPTIONS_USED`] lists.
#[derive(Args)]
#[command(next_help_heading = "Calls to the vendor")]
pub struct VendorOptions {
    /// Which of the vendor's environments to call (the environments of the
    /// vendor's document).
    #[arg(
        long = "env",
        default_value = "sandbox",
        global = true,
        value_parser = environment_parser()
    )]
    pub environment: Environment,

    /// Keep the tokens in this file (or PostgreSQL database, given as a
    /// `postgres://` URL) and refresh them on their own, in step with every
    /// other process using it. A URL's password belongs in PGPASSWORD,
    /// ~/.pgpass or XOXODAY_TOKEN_STORE, never on the command line.
    #[arg(
        long,
        value_name = "PATH|URL",
        global = true,
        env = "XOXODAY_TOKEN_STORE",
        hide_env_values = true
    )]
    pub token_store: Option<String>,

    /// With a PostgreSQL --token-store: the table that holds the tokens
    /// (default xoxoday_reward_points_tokens).
    #[arg(long, value_name = "TABLE", global = true, requires = "token_store")]
    pub token_table: Option<String>,

    /// Do not ask before a call that reaches a live host (every call in
    /// Production; cancels from every environment).
    #[arg(long, global = true)]
    pub yes: bool,

    /// Seconds before an attempt is abandoned (1 to 3600).
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 15,
        global = true,
        value_parser = clap::value_parser!(u64).range(1..=3600)
    )]
    pub timeout: u64,

    /// Print tokens in answers instead of <redacted> (they grant access to
    /// the integration).
    #[arg(long, global = true)]
    pub show_token: bool,

    /// Send one vendor origin to another, such as a local test server:
    /// `https://accounts.xoxoday.com=http://127.0.0.1:8080`. Repeatable.
    /// Without it, XOXODAY_ORIGIN_OVERRIDES (what `stand-in` prints:
    /// several, separated by spaces or newlines) applies, but never to a
    /// live environment.
    #[arg(long, value_name = "VENDOR=REPLACEMENT", global = true)]
    pub origin_override: Vec<String>,
}

/// Every vendor option but `--show-token`, which only commands that print a
/// token use.
const CALLS: &[&str] = &[
    "environment",
    "token_store",
    "token_table",
    "yes",
    "timeout",
    "origin_override",
];
const CALLS_SHOWING_TOKENS: &[&str] = &[
    "environment",
    "token_store",
    "token_table",
    "yes",
    "timeout",
    "show_token",
    "origin_override",
];

/// The vendor options each subcommand uses, by clap's names (a unit test
/// checks them against the definitions).
pub const VENDOR_OPTIONS_USED: &[(&str, &[&str])] = &[
    ("validate-token", CALLS_SHOWING_TOKENS),
    ("refresh-token", CALLS_SHOWING_TOKENS),
    ("seed-token-store", CALLS),
    ("create-user-token", CALLS_SHOWING_TOKENS),
    ("fetch-points", CALLS),
    ("send-points", CALLS),
    ("cancel-points", CALLS),
    ("payout", CALLS),
    ("payout-undo", CALLS),
    ("stand-in", &[]),
];

/// What to do.
#[derive(Subcommand)]
pub enum Command {
    /// Check that the access token is valid (GET /token).
    ValidateToken,
    /// Exchange the refresh token for new tokens (POST /token/company). With
    /// --token-store the refresh takes the store's lock, so services using the
    /// same store go on working; otherwise the new tokens are printed (with
    /// --show-token, which is required then): keep the new refresh token, the
    /// old one no longer works.
    RefreshToken,
    /// Put the tokens made in the Xoxoday dashboard (XOXODAY_ACCESS_TOKEN and
    /// XOXODAY_REFRESH_TOKEN) into the --token-store, with their expiries as
    /// the vendor reports them (GET /token).
    SeedTokenStore(SeedTokenStore),
    /// Get a token scoped to one user (POST /token/create/user).
    CreateUserToken(CreateUserToken),
    /// A user's points balance, by email or phone.
    FetchPoints(FetchPoints),
    /// Credit points from the Super Admin wallet to one recipient. Not
    /// idempotent: running it twice credits twice.
    SendPoints(SendPoints),
    /// Cancel points sent earlier, by the transaction id send-points printed.
    CancelPoints(CancelPoints),
    /// Pay every row of a CSV of recipients, each once: all rows are checked
    /// first, the ledger of record is asked whether they were paid before,
    /// each send is recorded before and after, and a run started again
    /// skips what was credited and lists what is in doubt.
    Payout(Payout),
    /// Cancel the credits of a payout run, from the ledger.
    PayoutUndo(PayoutUndo),
    /// Serve a stand-in of the API on 127.0.0.1 (state kept in memory) and
    /// print the environment that sends this tool's calls to it.
    StandIn(StandIn),
}

/// `seed-token-store`.
#[derive(Args)]
pub struct SeedTokenStore {
    /// Replace tokens the store already holds.
    #[arg(long)]
    pub replace: bool,
}

/// `create-user-token`.
#[derive(Args)]
pub struct CreateUserToken {
    /// The user's email address.
    #[arg(long)]
    pub user_email: String,
}

/// `fetch-points`: one of the two.
#[derive(Args)]
pub struct FetchPoints {
    /// The user's email address.
    #[arg(long, required_unless_present = "phone", conflicts_with = "phone")]
    pub email: Option<String>,
    /// With country code, such as +91-8999888887.
    #[arg(long)]
    pub phone: Option<String>,
}

/// `send-points`.
#[derive(Args)]
pub struct SendPoints {
    /// The Super Admin's email address.
    #[arg(long)]
    pub sender_email: String,
    /// The recipient's name.
    #[arg(long)]
    pub to_name: String,
    /// The recipient's email address.
    #[arg(long)]
    pub to_email: String,
    /// Points to credit: a whole number from 1.
    #[arg(long, allow_hyphen_values = true)]
    pub amount: String,
    /// Message shown to the recipient.
    #[arg(long)]
    pub citation: Option<String>,
    /// Months until the points expire.
    #[arg(long)]
    pub expiry_month: Option<u32>,
}

/// `cancel-points`.
#[derive(Args)]
pub struct CancelPoints {
    /// Repeat for several transactions.
    #[arg(long = "unique-id", required = true)]
    pub unique_ids: Vec<i64>,
}

/// `payout`.
#[derive(Args)]
pub struct Payout {
    /// The CSV: name,email,points and optionally citation,sender_email,
    /// expiry_months, with a header row.
    pub file: PathBuf,
    /// The Super Admin's email address, for rows without sender_email.
    #[arg(long)]
    pub sender_email: Option<String>,
    /// Months until the points expire, for rows without expiry_months.
    #[arg(long)]
    pub expiry_months: Option<u32>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub ledger: LedgerArgs,
    /// Sends in flight at most (1 to 256).
    #[arg(long, default_value_t = 16, value_parser = concurrency)]
    pub concurrency: usize,
    /// Every row's outcome, as JSON (or CSV for a .csv path); default:
    /// FILE.report.json.
    #[arg(long, value_name = "PATH")]
    pub report: Option<PathBuf>,
    /// Rows in doubt that you found NOT credited in the vendor's ledger:
    /// send them again (lines such as 12,40, or all).
    #[arg(long, value_name = "LINES|all", value_parser = selection)]
    pub resend_in_doubt: Option<Selection>,
    /// Rows in doubt that you found credited in the vendor's ledger:
    /// record them so, without sending.
    #[arg(long, value_name = "LINES|all", value_parser = selection)]
    pub confirm_sent: Option<Selection>,
    /// Send the rows the vendor refused again.
    #[arg(long)]
    pub retry_refused: bool,
    /// Pay the file although the ledger shows rows alike (the same
    /// recipient and points) paid, maybe paid, or being paid by another
    /// run in this environment and account: those recipients are credited
    /// again. A run with rows left goes on; a finished one pays its content
    /// again as a new run.
    #[arg(long)]
    pub pay_again: bool,
    /// Pay a recipient who is on several rows once per row.
    #[arg(long)]
    pub allow_duplicates: bool,
    /// Check the file and ask the ledger, print what a run would do (rows
    /// to send, already sent, in doubt, refused; recipients and points),
    /// and send or keep nothing. Exit status 0 when a run would send, else
    /// as a run would end (4 in doubt or in conflict, 3 refused), 6 when
    /// nothing is left to send.
    #[arg(long)]
    pub dry_run: bool,
}

/// `payout-undo`.
#[derive(Args)]
pub struct PayoutUndo {
    /// The run's CSV, at the path it was paid from (it names the run).
    pub file: PathBuf,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub ledger: LedgerArgs,
    /// Which rows' credits: lines such as 12,40, or all.
    #[arg(long, value_name = "LINES|all", value_parser = selection)]
    pub lines: Selection,
    /// Only this credit of those rows (a row credited twice: its extra
    /// credit, as the payout run names it).
    #[arg(long, value_name = "TX")]
    pub transaction: Option<i64>,
    /// Cancels in flight at most (1 to 256).
    #[arg(long, default_value_t = 16, value_parser = concurrency)]
    pub concurrency: usize,
    /// Every row's outcome, as JSON (or CSV); default: FILE.undo.json.
    #[arg(long, value_name = "PATH")]
    pub report: Option<PathBuf>,
}

/// `stand-in`.
#[derive(Args)]
pub struct StandIn {
    /// The port (0: any free one).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Milliseconds before each points request is answered.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub latency_ms: u64,
    /// Share of points requests answered 429 (not processed).
    #[arg(long, value_name = "SHARE", default_value = "0", value_parser = share)]
    pub rate_limited: f64,
    /// The Retry-After of those 429s, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 1)]
    pub retry_after: u64,
    /// Share of points requests answered 500 (not processed).
    #[arg(long, value_name = "SHARE", default_value = "0", value_parser = share)]
    pub server_errors: f64,
    /// Share of sends credited and then left without an answer.
    #[arg(long, value_name = "SHARE", default_value = "0", value_parser = share)]
    pub dropped_answers: f64,
    /// The seed that picks which requests get a fault.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// Where a payout run is recorded.
#[derive(Args)]
pub struct LedgerArgs {
    /// The ledger of record: an SQLite file (default: payouts.sqlite3 in
    /// this tool's folder of the user's data directory) or a `postgres://`
    /// URL that workers on several machines share (its password in
    /// PGPASSWORD, ~/.pgpass or XOXODAY_PAYOUT_LEDGER, never on the command
    /// line). One ledger per environment and account: this machine refuses
    /// another one than it recorded.
    #[arg(
        long,
        value_name = "PATH|URL",
        env = "XOXODAY_PAYOUT_LEDGER",
        hide_env_values = true
    )]
    pub ledger: Option<String>,
    /// With a PostgreSQL ledger: its tables' name (default
    /// reward_points_payout_ledger).
    #[arg(long, value_name = "TABLE", requires = "ledger")]
    pub ledger_table: Option<String>,
    /// The run's name, which its workers on several machines share
    /// (default: the file's full path).
    #[arg(long, value_name = "NAME")]
    pub run: Option<String>,
    /// A journal written by an earlier version of this tool, to import into
    /// the ledger (it is read, never written; journals beside the file are
    /// found on their own).
    #[arg(
        long,
        value_name = "PATH",
        env = "XOXODAY_PAYOUT_JOURNAL",
        hide_env_values = true
    )]
    pub journal: Option<String>,
    /// The environment the journals of earlier versions paid in, which
    /// they do not record: they are imported as that environment's payouts
    /// of this account.
    #[arg(long, value_name = "ENV", value_parser = environment_parser())]
    pub journals_paid_in: Option<Environment>,
}

/// Values typed on the command line, where `ps` shows them to everyone on
/// the machine: a connection string there must not hold a password.
#[derive(Clone, Copy, Debug, Default)]
pub struct Typed {
    /// `--token-store`.
    pub token_store: bool,
    /// `--ledger`.
    pub ledger: bool,
}

impl Typed {
    fn of(matches: &ArgMatches) -> Self {
        let typed = |matches: &ArgMatches, id: &str| {
            matches.try_get_raw(id).is_ok_and(|value| value.is_some())
                && matches.value_source(id) == Some(ValueSource::CommandLine)
        };
        let ledger = matches
            .subcommand()
            .is_some_and(|(_, sub)| typed(sub, "ledger"));
        let token_store = typed(matches, "token_store")
            || matches
                .subcommand()
                .is_some_and(|(_, sub)| typed(sub, "token_store"));
        Self {
            token_store,
            ledger,
        }
    }
}

/// The command line's definition: each subcommand's help lists the vendor
/// options it uses, and accepts the others (hidden) only to refuse them.
fn command() -> clap::Command {
    let mut command = Cli::command();
    let vendor_options: Vec<clap::Arg> = command
        .get_arguments()
        .filter(|arg| is_vendor_option(arg))
        .cloned()
        .collect();
    for (name, used) in VENDOR_OPTIONS_USED {
        command = command.mut_subcommand(name, |mut subcommand| {
            for option in &vendor_options {
                if !used.contains(&option.get_id().as_str()) {
                    // A subcommand's own copy is not overwritten by the
                    // global one, and hides it from its help.
                    subcommand = subcommand.arg(option.clone().global(false).hide(true));
                }
            }
            subcommand
        });
    }
    command
}

/// A global option about calls to the vendor (not `--verbose`, which
/// every subcommand uses).
fn is_vendor_option(arg: &clap::Arg) -> bool {
    arg.is_global_set() && arg.get_id() != "verbose"
}

/// The command line, or clap's exit with a usage error (status 2). A vendor
/// option given to a subcommand that does not use it is ignored, with a
/// warning on stderr.
pub fn parse() -> Cli {
    let (cli, ignored) = parse_from(std::env::args_os()).unwrap_or_else(|error| error.exit());
    if let Some(ignored) = ignored {
        eprintln!("warning: {ignored}");
    }
    cli
}

/// The command line, and what it gave that the subcommand ignores.
fn parse_from(
    args: impl IntoIterator<Item = impl Into<std::ffi::OsString> + Clone>,
) -> Result<(Cli, Option<String>), clap::Error> {
    let mut command = command();
    let matches = command.try_get_matches_from_mut(args)?;
    let mut ignored = None;
    if let Some((name, _)) = matches.subcommand() {
        let used: BTreeSet<&str> = VENDOR_OPTIONS_USED
            .iter()
            .find(|(subcommand, _)| *subcommand == name)
            .map(|(_, used)| used.iter().copied().collect())
            .unwrap_or_default();
        let pointless: Vec<String> = command
            .get_arguments()
            .filter(|arg| is_vendor_option(arg))
            .filter(|arg| !used.contains(arg.get_id().as_str()))
            .filter(|arg| {
                matches.value_source(arg.get_id().as_str()) == Some(ValueSource::CommandLine)
            })
            .filter_map(|arg| arg.get_long().map(|long| format!("--{long}")))
            .collect();
        if !pointless.is_empty() {
            ignored = Some(format!(
                "`{name}` does not use {}: ignored (`reward-points {name} --help` lists its \
                 options)",
                pointless.join(", ")
            ));
        }
    }
    let mut cli = Cli::from_arg_matches(&matches)?;
    cli.typed = Typed::of(&matches);
    Ok((cli, ignored))
}

/// `--env`'s values: the generated `Environment`s, by their slug.
fn environment_parser() -> impl TypedValueParser<Value = Environment> {
    clap::builder::PossibleValuesParser::new(Environment::ALL.map(Environment::slug)).map(|slug| {
        Environment::ALL
            .into_iter()
            .find(|environment| environment.slug() == slug)
            .expect("clap accepts only these slugs")
    })
}

/// Sends and cancels in flight: 1 to 256.
fn concurrency(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(count @ 1..=256) => Ok(count),
        _ => Err(format!("`{text}` is not a number from 1 to 256")),
    }
}

/// `LINES|all`: `12,40,41` or `all`.
fn selection(text: &str) -> Result<Selection, String> {
    if text == "all" {
        return Ok(Selection::All);
    }
    let lines: Result<BTreeSet<u64>, _> = text
        .split(',')
        .map(|line| line.trim().parse::<u64>())
        .collect();
    lines
        .map(Selection::Lines)
        .map_err(|_| format!("`{text}` is not `all` or lines such as 12,40,41"))
}

/// A share of requests, from 0 to 1.
fn share(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(share) if (0.0..=1.0).contains(&share) => Ok(share),
        _ => Err(format!(
            "`{text}` is not a share between 0 and 1 (such as 0.05)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::{Command, VENDOR_OPTIONS_USED, command, parse_from};

    #[test]
    fn the_definition_is_sound_and_the_table_names_what_it_defines() {
        let command = command();
        command.clone().debug_assert();
        let subcommands: Vec<&str> = command.get_subcommands().map(|sc| sc.get_name()).collect();
        let listed: Vec<&str> = VENDOR_OPTIONS_USED.iter().map(|(name, _)| *name).collect();
        assert_eq!(subcommands, listed);
        let options: Vec<&str> = command
            .get_arguments()
            .filter(|arg| arg.is_global_set())
            .map(|arg| arg.get_id().as_str())
            .collect();
        for (name, used) in VENDOR_OPTIONS_USED {
            for option in *used {
                assert!(options.contains(option), "{name} uses unknown `{option}`");
            }
        }
    }

    #[test]
    fn each_help_lists_the_vendor_options_its_subcommand_uses() {
        let mut command = command();
        command.build();
        let mut help = |name: &str| {
            command
                .find_subcommand_mut(name)
                .unwrap()
                .render_long_help()
                .to_string()
        };
        let stand_in = help("stand-in");
        for option in [
            "--env",
            "--token-store",
            "--yes",
            "--show-token",
            "--timeout",
        ] {
            assert!(!stand_in.contains(option), "{stand_in}");
        }
        assert!(stand_in.contains("--port"), "{stand_in}");
        let send = help("send-points");
        assert!(send.contains("--env") && send.contains("--yes"), "{send}");
        assert!(!send.contains("--show-token"), "{send}");
        assert!(help("refresh-token").contains("--show-token"));
    }

    #[test]
    fn vendor_options_go_before_or_after_the_subcommand_and_are_ignored_where_unused() {
        let (before, ignored) = parse_from([
            "reward-points",
            "--env",
            "production",
            "--yes",
            "payout",
            "f",
        ])
        .unwrap();
        assert!(before.vendor.yes && before.vendor.environment.is_live());
        assert!(matches!(before.command, Command::Payout(_)));
        assert_eq!(ignored, None);
        let (after, ignored) =
            parse_from(["reward-points", "payout", "f", "--env", "production"]).unwrap();
        assert!(after.vendor.environment.is_live());
        assert_eq!(ignored, None);

        for args in [
            &["reward-points", "stand-in", "--yes"][..],
            &["reward-points", "--yes", "stand-in"],
        ] {
            let (cli, ignored) = parse_from(args.iter().copied()).unwrap();
            assert!(matches!(cli.command, Command::StandIn(_)));
            assert_eq!(
                ignored.as_deref(),
                Some(
                    "`stand-in` does not use --yes: ignored (`reward-points stand-in --help` \
                     lists its options)"
                )
            );
        }
        let (_, ignored) = parse_from([
            "reward-points",
            "send-points",
            "--sender-email=a@example.com",
            "--to-name=B",
            "--to-email=b@example.com",
            "--amount=1",
            "--show-token",
        ])
        .unwrap();
        assert!(
            ignored
                .unwrap()
                .starts_with("`send-points` does not use --show-token: ignored")
        );
        let (_, ignored) =
            parse_from(["reward-points", "stand-in", "--timeout", "3", "--yes"]).unwrap();
        assert!(
            ignored
                .unwrap()
                .starts_with("`stand-in` does not use --yes, --timeout: ignored")
        );
    }
}
