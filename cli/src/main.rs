//! `reward-points`: the Xoxoday Reward Points API from a shell. Prints each
//! answer as JSON; an error is one line on stderr. The exit status tells
//! done (0), failed (1), partly done (3) and maybe done (4) apart.

#![deny(missing_docs)]

mod payout;
mod stand_in;

use std::io::{BufRead, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::builder::TypedValueParser;
use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser, Subcommand};
use serde::Serialize;
use serde_json::{Value, json};
use xoxoday_reward_points::types::{CreateUserTokenBody, RefreshTokenBody};
use xoxoday_reward_points::{
    AccessToken, Cancellation, Client, Environment, EpochMillis, Error, FileTokenStore, Operation,
    Payout, Recipient, Secret, StoredTokens, TokenStore, TransactionId, User,
};

const AFTER_HELP: &str = "\
Credentials (from the environment, never from flags, so they stay out of shell history):
  XOXODAY_ACCESS_TOKEN   the access token sent as `Authorization: Bearer …`
  XOXODAY_CLIENT_ID      with --token-store or refresh-token: the integration's client id
  XOXODAY_CLIENT_SECRET  with --token-store or refresh-token: the client secret
  XOXODAY_REFRESH_TOKEN  for seed-token-store, and for refresh-token without --token-store

With --token-store PATH the tokens are read from that file and refreshed on their own, in
step with every other process using the same file (each rotated refresh token is saved
there first); XOXODAY_ACCESS_TOKEN is then ignored. Start a store with seed-token-store.

A call that reaches a live host asks for confirmation, naming the host, unless --yes is
given: every call in Production, and cancel-points and payout-undo in every environment
(the vendor sends cancel points to Production's host from all of them). Tokens in answers are printed as <redacted> unless --show-token.

Exit status: 0 done; 1 failed, nothing was done (or a refusal, a bad value, a usage
error: 2); 3 partly done (a cancel where some credits were not cancelled; a payout run with
refused or unsent rows); 4 maybe done (a send or cancel whose answer was lost, a payout run
with rows in doubt: check before running it again); 5 a payout run stopped before its end
(Ctrl-C, a token to replace): run it again.

Bulk payouts: `payout FILE` pays every row of a CSV (name,email,points[,citation,
sender_email,expiry_months]) once, with a journal beside it (FILE.journal) so that running
it again never credits a row twice; `payout-undo FILE --lines all` cancels its credits.
`stand-in --port P` serves a local stand-in of the API to try it on.";

/// The Xoxoday Reward Points API from a shell; answers are printed as JSON.
#[derive(Parser)]
#[command(name = "reward-points", version, after_help = AFTER_HELP)]
struct Cli {
    /// Which of the vendor's environments to call (the environments of the
    /// vendor's document).
    #[arg(
        long = "env",
        default_value = "sandbox",
        global = true,
        value_parser = environment_parser()
    )]
    environment: Environment,

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
    token_store: Option<String>,

    /// With a PostgreSQL --token-store: the table that holds the tokens
    /// (default xoxoday_reward_points_tokens).
    #[arg(long, value_name = "TABLE", global = true, requires = "token_store")]
    token_table: Option<String>,

    /// Do not ask before sending or cancelling points in a live environment
    /// (Production).
    #[arg(long, global = true)]
    yes: bool,

    /// Seconds before an attempt is abandoned (1 to 3600).
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 15,
        global = true,
        value_parser = clap::value_parser!(u64).range(1..=3600)
    )]
    timeout: u64,

    /// Print tokens in answers instead of <redacted> (they grant access to
    /// the integration).
    #[arg(long, global = true)]
    show_token: bool,

    /// Send one vendor origin to another, such as a local test server:
    /// `https://accounts.xoxoday.com=http://127.0.0.1:8080`. Repeatable.
    /// Without it, XOXODAY_ORIGIN_OVERRIDES (what `stand-in` prints:
    /// several, separated by spaces or newlines) applies, but never to a
    /// live environment.
    #[arg(long, value_name = "VENDOR=REPLACEMENT", global = true)]
    origin_override: Vec<String>,

    #[command(subcommand)]
    command: Command,

    /// Which values were typed on the command line (not taken from the
    /// environment).
    #[arg(skip)]
    typed: Typed,
}

/// Values typed on the command line, where `ps` shows them to everyone on
/// the machine: a connection string there must not hold a password.
#[derive(Clone, Copy, Debug, Default)]
struct Typed {
    token_store: bool,
    journal: bool,
}

impl Typed {
    fn of(matches: &ArgMatches) -> Self {
        let typed = |matches: &ArgMatches, id: &str| {
            matches.try_get_raw(id).is_ok_and(|value| value.is_some())
                && matches.value_source(id) == Some(ValueSource::CommandLine)
        };
        let journal = matches
            .subcommand()
            .is_some_and(|(_, sub)| typed(sub, "journal"));
        let token_store = typed(matches, "token_store")
            || matches
                .subcommand()
                .is_some_and(|(_, sub)| typed(sub, "token_store"));
        Self {
            token_store,
            journal,
        }
    }
}

/// Refuses a connection string typed on the command line that holds a
/// password.
fn no_password_typed(option: &str, variable: &str, location: &str) -> Result<(), String> {
    #[cfg(feature = "postgres")]
    if xoxoday_reward_points::PostgresTarget::names_a_password(location) {
        return Err(format!(
            "{option}: the connection string holds a password, which `ps` shows to everyone on \
             this machine: put the password in PGPASSWORD or ~/.pgpass, or the whole string in \
             {variable}; nothing was done"
        ));
    }
    let _ = (option, variable, location);
    Ok(())
}

/// Where `stand-in` tells this tool to send the vendor's origins.
const ORIGIN_OVERRIDES_VARIABLE: &str = "XOXODAY_ORIGIN_OVERRIDES";

/// Sends and cancels in flight: 1 to 256.
fn concurrency(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(count @ 1..=256) => Ok(count),
        _ => Err(format!("`{text}` is not a number from 1 to 256")),
    }
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

#[derive(Subcommand)]
enum Command {
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
    SeedTokenStore {
        /// Replace tokens the store already holds.
        #[arg(long)]
        replace: bool,
    },
    /// Get a token scoped to one user (POST /token/create/user).
    CreateUserToken {
        /// The user's email address.
        #[arg(long)]
        user_email: String,
    },
    /// A user's points balance, by email or phone.
    FetchPoints {
        /// The user's email address.
        #[arg(long, required_unless_present = "phone", conflicts_with = "phone")]
        email: Option<String>,
        /// With country code, such as +91-8999888887.
        #[arg(long)]
        phone: Option<String>,
    },
    /// Credit points from the Super Admin wallet to one recipient. Not
    /// idempotent: running it twice credits twice.
    SendPoints {
        /// The Super Admin's email address.
        #[arg(long)]
        sender_email: String,
        #[arg(long)]
        to_name: String,
        #[arg(long)]
        to_email: String,
        /// Points to credit: a whole number from 1.
        #[arg(long, allow_hyphen_values = true)]
        amount: String,
        /// Message shown to the recipient.
        #[arg(long)]
        citation: Option<String>,
        /// Months until the points expire.
        #[arg(long)]
        expiry_month: Option<u32>,
    },
    /// Cancel points sent earlier, by the transaction id send-points printed.
    CancelPoints {
        /// Repeat for several transactions.
        #[arg(long = "unique-id", required = true)]
        unique_ids: Vec<i64>,
    },
    /// Pay every row of a CSV of recipients, each once: all rows are checked
    /// first, each send is journaled before and after, and a run started
    /// again skips what was credited and lists what is in doubt.
    Payout {
        /// The CSV: name,email,points and optionally citation,sender_email,
        /// expiry_months, with a header row.
        file: std::path::PathBuf,
        /// The Super Admin's email address, for rows without sender_email.
        #[arg(long)]
        sender_email: Option<String>,
        /// Months until the points expire, for rows without expiry_months.
        #[arg(long)]
        expiry_months: Option<u32>,
        #[command(flatten)]
        journal: JournalArgs,
        /// Sends in flight at most (1 to 256).
        #[arg(long, default_value_t = 16, value_parser = concurrency)]
        concurrency: usize,
        /// Every row's outcome, as JSON (or CSV for a .csv path); default:
        /// FILE.report.json.
        #[arg(long, value_name = "PATH")]
        report: Option<std::path::PathBuf>,
        /// Rows in doubt that you found NOT credited in the vendor's ledger:
        /// send them again (lines such as 12,40, or all).
        #[arg(long, value_name = "LINES|all", value_parser = payout::selection)]
        resend_in_doubt: Option<xoxoday_reward_points_payouts::Selection>,
        /// Rows in doubt that you found credited in the vendor's ledger:
        /// record them so, without sending.
        #[arg(long, value_name = "LINES|all", value_parser = payout::selection)]
        confirm_sent: Option<xoxoday_reward_points_payouts::Selection>,
        /// Send the rows the vendor refused again.
        #[arg(long)]
        retry_refused: bool,
        /// Pay the file although another journal shows it paid before (the
        /// same content under any name, or rows alike: the same recipient
        /// and points): those recipients are credited again.
        #[arg(long)]
        pay_again: bool,
        /// Pay a recipient who is on several rows once per row.
        #[arg(long)]
        allow_duplicates: bool,
    },
    /// Cancel the credits of a payout run, from its journal.
    PayoutUndo {
        /// The run's CSV (it names the journal and the run).
        file: std::path::PathBuf,
        #[command(flatten)]
        journal: JournalArgs,
        /// Which rows' credits: lines such as 12,40, or all.
        #[arg(long, value_name = "LINES|all", value_parser = payout::selection)]
        lines: xoxoday_reward_points_payouts::Selection,
        /// Cancels in flight at most (1 to 256).
        #[arg(long, default_value_t = 16, value_parser = concurrency)]
        concurrency: usize,
        /// Every row's outcome, as JSON (or CSV); default: FILE.undo.json.
        #[arg(long, value_name = "PATH")]
        report: Option<std::path::PathBuf>,
    },
    /// Serve a stand-in of the API on 127.0.0.1 (state kept in memory) and
    /// print the environment that sends this tool's calls to it.
    StandIn {
        /// The port (0: any free one).
        #[arg(long, default_value_t = 8080)]
        port: u16,
        /// Milliseconds before each points request is answered.
        #[arg(long, value_name = "MS", default_value_t = 0)]
        latency_ms: u64,
        /// Share of points requests answered 429 (not processed).
        #[arg(long, value_name = "SHARE", default_value = "0", value_parser = stand_in::share)]
        rate_limited: f64,
        /// The Retry-After of those 429s, in seconds.
        #[arg(long, value_name = "SECONDS", default_value_t = 1)]
        retry_after: u64,
        /// Share of points requests answered 500 (not processed).
        #[arg(long, value_name = "SHARE", default_value = "0", value_parser = stand_in::share)]
        server_errors: f64,
        /// Share of sends credited and then left without an answer.
        #[arg(long, value_name = "SHARE", default_value = "0", value_parser = stand_in::share)]
        dropped_answers: f64,
        /// The seed that picks which requests get a fault.
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
}

/// Where a payout run's journal is.
#[derive(clap::Args)]
struct JournalArgs {
    /// The journal: a file (default FILE.journal) or a `postgres://` URL
    /// that workers on several machines share (its password in PGPASSWORD,
    /// ~/.pgpass or XOXODAY_PAYOUT_JOURNAL, never on the command line).
    #[arg(
        long,
        value_name = "PATH|URL",
        env = "XOXODAY_PAYOUT_JOURNAL",
        hide_env_values = true
    )]
    journal: Option<String>,
    /// With a PostgreSQL journal: its table (default
    /// reward_points_payout_journal).
    #[arg(long, value_name = "TABLE", requires = "journal")]
    journal_table: Option<String>,
    /// With a PostgreSQL journal: the run's name, shared by its workers
    /// (default: the file's name and digest).
    #[arg(long, value_name = "NAME", requires = "journal")]
    run: Option<String>,
}

impl JournalArgs {
    fn choice(&self) -> payout::JournalChoice<'_> {
        payout::JournalChoice {
            location: self.journal.as_deref(),
            table: self.journal_table.as_deref(),
            run: self.run.as_deref(),
        }
    }
}

/// How a command ended, and its exit status.
enum Outcome {
    /// Done: the answer (0).
    Done(Value),
    /// Partly done: the answer, saying what was and was not (3).
    Partly(Value),
    /// Failed: nothing was done (1).
    Failed(String),
    /// Maybe done: the request may have reached the vendor (4).
    Unknown(String),
}

impl From<String> for Outcome {
    fn from(message: String) -> Self {
        Outcome::Failed(message)
    }
}

impl From<Error> for Outcome {
    fn from(error: Error) -> Self {
        if error.outcome_unknown() {
            Outcome::Unknown(error.to_string())
        } else {
            Outcome::Failed(error.to_string())
        }
    }
}

fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let mut cli = Cli::from_arg_matches(&matches).unwrap_or_else(|error| error.exit());
    cli.typed = Typed::of(&matches);
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => return fail(&format!("cannot start: {error}"), 1),
    };
    if let Some(exit) = runtime.block_on(bulk(&cli)) {
        return exit;
    }
    let show_token = cli.show_token;
    let print = |answer: Value| {
        let answer = if show_token { answer } else { redacted(answer) };
        println!(
            "{}",
            serde_json::to_string_pretty(&answer).unwrap_or_default()
        );
    };
    match runtime.block_on(run(cli)) {
        Outcome::Done(answer) => {
            print(answer);
            ExitCode::SUCCESS
        }
        Outcome::Partly(answer) => {
            print(answer);
            eprintln!("partly done: see each transaction's outcome above");
            ExitCode::from(3)
        }
        Outcome::Failed(message) => fail(&message, 1),
        Outcome::Unknown(message) => fail(&message, 4),
    }
}

/// The commands with exit statuses of their own: payout runs and the
/// stand-in. `None` for the others.
async fn bulk(cli: &Cli) -> Option<ExitCode> {
    let client = || {
        if let Command::Payout { journal, .. } | Command::PayoutUndo { journal, .. } = &cli.command
            && let Some(location) = &journal.journal
            && cli.typed.journal
        {
            no_password_typed("--journal", "XOXODAY_PAYOUT_JOURNAL", location)?;
        }
        client(cli)
    };
    let client = || client().map_err(|message| fail(&message, payout::status::NOT_STARTED));
    Some(match &cli.command {
        Command::StandIn {
            port,
            latency_ms,
            rate_limited,
            retry_after,
            server_errors,
            dropped_answers,
            seed,
        } => {
            let faults = xoxoday_reward_points_mocks::Faults::none()
                .latency(stand_in::millis(*latency_ms))
                .rate_limited(*rate_limited, *retry_after)
                .server_errors(*server_errors)
                .dropped_answers(*dropped_answers)
                .seed(*seed);
            stand_in::serve(stand_in::StandInArgs {
                port: *port,
                faults,
            })
            .await
        }
        Command::Payout {
            file,
            sender_email,
            expiry_months,
            journal,
            concurrency,
            report,
            resend_in_doubt,
            confirm_sent,
            retry_refused,
            pay_again,
            allow_duplicates,
        } => {
            let client = match client() {
                Ok(client) => client,
                Err(exit) => return Some(exit),
            };
            let args = payout::PayoutArgs {
                file,
                defaults: xoxoday_reward_points_payouts::RunDefaults {
                    sender_email: sender_email.clone(),
                    expiry_months: *expiry_months,
                },
                journal: journal.choice(),
                report: report.as_deref(),
                options: xoxoday_reward_points_payouts::RunOptions {
                    concurrency: *concurrency,
                    resend_in_doubt: resend_in_doubt.clone().unwrap_or_default(),
                    confirm_sent: confirm_sent.clone().unwrap_or_default(),
                    retry_refused: *retry_refused,
                    pay_again: *pay_again,
                    allow_duplicate_recipients: *allow_duplicates,
                    ..Default::default()
                },
            };
            let confirm = |what: &str| confirm(cli, &client, what, &[Operation::SendPoints]);
            payout::payout(&client, args, confirm).await
        }
        Command::PayoutUndo {
            file,
            journal,
            lines,
            concurrency,
            report,
        } => {
            let client = match client() {
                Ok(client) => client,
                Err(exit) => return Some(exit),
            };
            payout::undo(
                &client,
                file,
                journal.choice(),
                lines.clone(),
                *concurrency,
                report.as_deref(),
                |what: &str| confirm(cli, &client, what, &[Operation::CancelPoints]),
            )
            .await
        }
        _ => return None,
    })
}

fn fail(message: &str, status: u8) -> ExitCode {
    // One line, whatever the cause said.
    eprintln!(
        "error: {}",
        message.split_whitespace().collect::<Vec<_>>().join(" ")
    );
    ExitCode::from(status)
}

/// Tokens in an answer, replaced by `<redacted>`.
fn redacted(answer: Value) -> Value {
    match answer {
        Value::Object(fields) => Value::Object(
            fields
                .into_iter()
                .map(|(key, value)| match key.as_str() {
                    "access_token" | "refresh_token" if value.is_string() => {
                        (key, Value::String("<redacted>".into()))
                    }
                    _ => (key, redacted(value)),
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(redacted).collect()),
        other => other,
    }
}

fn secret_from_env(name: &str) -> Result<Secret, String> {
    std::env::var(name)
        .ok()
        .filter(|value| !value.is_empty())
        .map(Secret::new)
        .ok_or_else(|| format!("{name} is not set"))
}

fn client(cli: &Cli) -> Result<Client, String> {
    let mut builder = Client::builder(cli.environment).timeout(Duration::from_secs(cli.timeout));
    for rule in &origin_overrides(cli)? {
        let (vendor, replacement) = rule
            .split_once('=')
            .ok_or_else(|| format!("--origin-override `{rule}` is not VENDOR=REPLACEMENT"))?;
        builder = builder
            .origin_override(vendor, replacement)
            .map_err(|error| error.to_string())?;
    }
    if let Some(location) = &cli.token_store
        && cli.typed.token_store
    {
        no_password_typed("--token-store", "XOXODAY_TOKEN_STORE", location)?;
    }
    builder = match &cli.token_store {
        // Seeding asks the vendor about the tokens it is given, not the store's.
        Some(_) if matches!(cli.command, Command::SeedTokenStore { .. }) => builder.access_token(
            AccessToken::new(secret_from_env("XOXODAY_ACCESS_TOKEN")?.expose_secret()),
        ),
        Some(location) => builder
            .token_store(token_store(location, cli.token_table.as_deref())?)
            .client_credentials(
                secret_from_env("XOXODAY_CLIENT_ID")?.expose_secret(),
                secret_from_env("XOXODAY_CLIENT_SECRET")?,
            ),
        None => match secret_from_env("XOXODAY_ACCESS_TOKEN") {
            Ok(token) => builder.access_token(AccessToken::new(token.expose_secret())),
            // Refresh needs no access token; the others say so when sent.
            Err(_) if matches!(cli.command, Command::RefreshToken) => builder,
            Err(missing) => return Err(format!("{missing}: set it, or give --token-store PATH")),
        },
    };
    builder.build().map_err(|error| error.to_string())
}

/// The origin overrides of this run: those on the command line, else those
/// of XOXODAY_ORIGIN_OVERRIDES (separated by any white space) — which never
/// apply to a live environment silently.
fn origin_overrides(cli: &Cli) -> Result<Vec<String>, String> {
    if !cli.origin_override.is_empty() {
        return Ok(cli.origin_override.clone());
    }
    let from_environment: Vec<String> = std::env::var(ORIGIN_OVERRIDES_VARIABLE)
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    if !from_environment.is_empty() && cli.environment.is_live() {
        return Err(format!(
            "{ORIGIN_OVERRIDES_VARIABLE} is set ({}), and would send {}'s calls and token \
             elsewhere: unset it (`unset {ORIGIN_OVERRIDES_VARIABLE}`), or give each override \
             with --origin-override for this run; nothing was sent",
            from_environment.join(" "),
            cli.environment.name()
        ));
    }
    Ok(from_environment)
}

/// Whether `location` names a PostgreSQL database rather than a file: a
/// `postgres://` or `postgresql://` URL, or libpq's `key=value` form (`host=db
/// user=app`), which must never become the name of a file (nor be printed
/// as one, password and all).
pub(crate) fn names_postgres(location: &str) -> bool {
    let location = location.trim_start();
    let key_value = location.split_once('=').is_some_and(|(key, _)| {
        [
            "host",
            "hostaddr",
            "port",
            "dbname",
            "user",
            "password",
            "sslmode",
            "application_name",
            "options",
            "connect_timeout",
            "target_session_attrs",
        ]
        .contains(&key.trim())
    });
    key_value
        || ["postgres://", "postgresql://"]
            .iter()
            .any(|scheme| location.starts_with(scheme))
}

/// A file store, or a PostgreSQL store for a `postgres://` URL.
fn token_store(location: &str, table: Option<&str>) -> Result<Arc<dyn TokenStore>, String> {
    if !names_postgres(location) {
        if table.is_some() {
            return Err("--token-table applies to a PostgreSQL --token-store only".into());
        }
        return Ok(Arc::new(FileTokenStore::new(location)));
    }
    #[cfg(feature = "postgres")]
    {
        let mut store = xoxoday_reward_points::PostgresTokenStore::from_url(location)
            .map_err(|error| error.to_string())?;
        if let Some(table) = table {
            store = store.table(table).map_err(|error| error.to_string())?;
        }
        Ok(Arc::new(store))
    }
    #[cfg(not(feature = "postgres"))]
    Err(
        "this reward-points was built without PostgreSQL support: build it with the \
         `postgres` feature"
            .into(),
    )
}

/// Asks before a call that reaches a live host: every call in a live
/// environment (Production), and a call whose host is a live environment's
/// from any environment (cancel points), naming the host.
fn confirm(cli: &Cli, client: &Client, what: &str, operations: &[Operation]) -> Result<(), String> {
    let environment = cli.environment;
    let live = environment.is_live()
        || operations
            .iter()
            .any(|operation| client.reaches_live_host(*operation));
    if cli.yes || !live {
        return Ok(());
    }
    let mut hosts: Vec<String> = operations
        .iter()
        .map(|operation| {
            client
                .destination(*operation)
                .origin()
                .ascii_serialization()
        })
        .collect();
    hosts.dedup();
    let hosts = hosts.join(", ");
    let question = if environment.is_live() {
        format!("{what} in {} (to {hosts})?", environment.name())
    } else {
        format!(
            "{what} from {} goes to {hosts}, a live host where real points are, with this \
             token (the vendor sends it there from every environment)?",
            environment.name()
        )
    };
    let refused = || {
        format!(
            "not confirmed, so nothing was done: {what} in {} (to {hosts}) needs `yes` (or --yes)",
            environment.name()
        )
    };
    // A closed or empty stdin (a script, CI) reads as no.
    let stdin = std::io::stdin();
    eprint!("{question} Type yes to go on: ");
    std::io::stderr().flush().ok();
    let mut answer = String::new();
    let read = stdin
        .lock()
        .read_line(&mut answer)
        .map_err(|error| error.to_string())?;
    if read == 0 {
        eprintln!(); // end the question's line before the error
    }
    if matches!(answer.trim(), "yes" | "y") {
        Ok(())
    } else {
        Err(refused())
    }
}

fn json<T: Serialize>(value: &T) -> Result<Value, String> {
    serde_json::to_value(value).map_err(|error| error.to_string())
}

async fn run(cli: Cli) -> Outcome {
    match answer(&cli).await {
        Ok(outcome) => outcome,
        Err(outcome) => outcome,
    }
}

async fn answer(cli: &Cli) -> Result<Outcome, Outcome> {
    // Refused before anything is sent: printing new tokens is asked for.
    if matches!(cli.command, Command::RefreshToken) && cli.token_store.is_none() && !cli.show_token
    {
        return Err(Outcome::Failed(
            "refresh-token without --token-store prints the new tokens, and the old refresh \
             token stops working: give --show-token to print them, or --token-store to keep \
             them; nothing was sent"
                .into(),
        ));
    }
    let client = client(cli)?;
    let done = |value: Result<Value, String>| value.map(Outcome::Done).map_err(Outcome::Failed);
    match &cli.command {
        Command::ValidateToken => {
            confirm(
                cli,
                &client,
                "Validate the token",
                &[Operation::ValidateTokenPoints],
            )?;
            let answer = client.validate_token_points().send().await?;
            done(json(&answer.into_inner()))
        }
        Command::RefreshToken => {
            confirm(
                cli,
                &client,
                "Refresh the tokens",
                &[Operation::RefreshToken],
            )?;
            done(refresh(&client).await)
        }
        Command::SeedTokenStore { replace } => {
            let what = "Ask the vendor about the access token";
            confirm(cli, &client, what, &[Operation::ValidateTokenPoints])?;
            done(seed(cli, &client, *replace).await)
        }
        Command::CreateUserToken { user_email } => {
            let what = format!("Create a token for {user_email}");
            confirm(cli, &client, &what, &[Operation::CreateUserToken])?;
            let body = CreateUserTokenBody::user_session(user_email);
            let answer = client.create_user_token().body(body).send().await?;
            done(json(&answer.into_inner()))
        }
        Command::FetchPoints { email, phone } => {
            let user = match (email, phone) {
                (Some(email), _) => User::email(email),
                (None, Some(phone)) => User::phone(phone),
                (None, None) => unreachable!("clap requires one"),
            }
            .map_err(|invalid| invalid.to_string())?;
            let whose = email.as_deref().or(phone.as_deref()).unwrap_or_default();
            let what = format!("Fetch the points of {whose}");
            confirm(cli, &client, &what, &[Operation::FetchPoints])?;
            let answer = client.fetch_points().user(user).send().await?;
            done(json(&answer.into_inner()))
        }
        Command::SendPoints {
            sender_email,
            to_name,
            to_email,
            amount,
            citation,
            expiry_month,
        } => {
            // Every value checked before anything is sent (or asked).
            let invalid = |invalid: xoxoday_reward_points::InvalidValue| invalid.to_string();
            let points = amount
                .parse::<xoxoday_reward_points::Points>()
                .map_err(invalid)?;
            let mut recipient = Recipient::new(to_name, to_email, points.get()).map_err(invalid)?;
            if let Some(citation) = citation {
                recipient = recipient.citation(citation);
            }
            let mut payout = Payout::new(sender_email).map_err(invalid)?;
            if let Some(months) = expiry_month {
                payout = payout.expiry_months(*months).map_err(invalid)?;
            }
            let payout = payout.to(recipient);
            let what = format!("Send {points} points to {to_email}");
            confirm(cli, &client, &what, &[Operation::SendPoints])?;
            let answer = client.send_points().payout(payout).send().await?;
            done(json(&answer.into_inner()))
        }
        Command::CancelPoints { unique_ids } => {
            let cancellation = Cancellation::of(unique_ids.iter().copied().map(TransactionId))
                .map_err(|invalid| invalid.to_string())?;
            let ids: Vec<String> = unique_ids.iter().map(i64::to_string).collect();
            let what = format!("Cancel transaction(s) {}", ids.join(", "));
            confirm(cli, &client, &what, &[Operation::CancelPoints])?;
            let answer = match client
                .cancel_points()
                .transactions(cancellation)
                .send()
                .await
            {
                Ok(answer) => answer.into_inner(),
                Err(Error::Refused { refusal, .. }) if !refusal.recipients.is_empty() => {
                    return Err(Outcome::Failed(format!("nothing was cancelled: {refusal}")));
                }
                Err(other) => return Err(other.into()),
            };
            let outcomes: Vec<Value> = answer
                .outcomes()
                .iter()
                .map(|outcome| {
                    json!({
                        "unique_id": outcome.transaction.0,
                        "cancelled": outcome.cancelled,
                        "message": outcome.message,
                    })
                })
                .collect();
            let report = json!({ "transactions": outcomes });
            Ok(if answer.is_partial() {
                Outcome::Partly(report)
            } else {
                Outcome::Done(report)
            })
        }
        Command::Payout { .. } | Command::PayoutUndo { .. } | Command::StandIn { .. } => {
            unreachable!("run by `bulk`")
        }
    }
}

async fn refresh(client: &Client) -> Result<Value, String> {
    if let Some(manager) = client.token_manager() {
        // Through the store's lock: services using the same store see the
        // new tokens instead of being locked out by them.
        let tokens = manager
            .refresh_now()
            .await
            .map_err(|error| error.to_string())?;
        return Ok(json!({
            "saved_to": manager.store().location(),
            "access_token_expiry": tokens.access_token_expiry,
            "refresh_token_expiry": tokens.refresh_token_expiry,
        }));
    }
    let body = RefreshTokenBody::new(
        secret_from_env("XOXODAY_REFRESH_TOKEN")?,
        secret_from_env("XOXODAY_CLIENT_ID")?.expose_secret(),
        secret_from_env("XOXODAY_CLIENT_SECRET")?,
    );
    let tokens = client
        .refresh_token()
        .body(body)
        .send()
        .await
        .map_err(|error| error.to_string())?
        .into_inner();
    // Printed on purpose: without a store, the new refresh token exists
    // nowhere else, and the old one no longer works.
    json(&tokens)
}

/// Seeds the token store with the dashboard's tokens, their expiries as the
/// vendor reports them.
async fn seed(cli: &Cli, client: &Client, replace: bool) -> Result<Value, String> {
    let Some(location) = &cli.token_store else {
        return Err("seed-token-store needs --token-store PATH|URL".into());
    };
    let store = token_store(location, cli.token_table.as_deref())?;
    let access_token = secret_from_env("XOXODAY_ACCESS_TOKEN")?;
    let refresh_token = secret_from_env("XOXODAY_REFRESH_TOKEN")?;
    if !replace
        && store
            .load()
            .await
            .map_err(|error| error.to_string())?
            .is_some()
    {
        return Err(format!(
            "{} already holds tokens; nothing was changed (give --replace to overwrite them)",
            store.location()
        ));
    }
    let (access_token_expiry, refresh_token_expiry, valid) =
        match client.validate_token_points().send().await {
            Ok(answer) => {
                let answer = answer.into_inner();
                // `as` saturates: a huge `expires_in` is the end of time.
                let expiry = answer.access_token_expiry.or_else(|| {
                    answer
                        .expires_in
                        .filter(|seconds| *seconds > 0.0)
                        .map(|seconds| EpochMillis::now().plus_seconds(seconds as u64))
                });
                (expiry, answer.refresh_token_expiry, true)
            }
            // An expired access token is stored as expired: the first call
            // refreshes it with the refresh token.
            Err(Error::Unauthorized { .. }) => (Some(EpochMillis(0)), None, false),
            Err(error) => {
                return Err(format!(
                    "cannot ask the vendor about the access token, so nothing was saved: {error}"
                ));
            }
        };
    let tokens = StoredTokens::new(
        access_token,
        access_token_expiry,
        refresh_token,
        refresh_token_expiry,
    );
    store
        .save(tokens)
        .await
        .map_err(|error| error.to_string())?;
    Ok(json!({
        "saved_to": store.location(),
        "access_token_valid": valid,
        "access_token_expiry": access_token_expiry,
        "refresh_token_expiry": refresh_token_expiry,
    }))
}
