//! `reward-points payout FILE` and `reward-points payout-undo FILE`: the
//! payout run of `xoxoday-reward-points-payouts` from a shell, recorded in
//! the ledger of record (`--ledger`, by default the user's data
//! directory's), with a progress bar and summary (`progress.rs`), a report
//! of every row (`report.rs`), and Ctrl-C that stops taking rows, lets the
//! sends in flight finish and records them.

mod progress;
mod report;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use xoxoday_reward_points::Operation;
use xoxoday_reward_points_payouts::{
    Ledger, LedgerContext, LedgerScope, PayoutFile, Plan, Registry, RunDefaults, RunOptions,
    SqliteLedger, Stop, default_ledger_path, plan_payouts, run_payouts, undo_payouts,
};

use crate::args::{self, Cli, LedgerArgs};
use crate::confirm::confirm;
use crate::connect::{client, names_postgres, no_password_typed};
use crate::ending::{Ending, ExitStatus, Failure};
use progress::{display, finish};
use report::spared_by;

impl LedgerArgs {
    /// The SQLite ledger's file; `None` for a PostgreSQL ledger.
    fn file(&self) -> Result<Option<PathBuf>, Failure> {
        match self.ledger.as_deref() {
            Some(location) if names_postgres(location) => Ok(None),
            Some(path) => Ok(Some(PathBuf::from(path))),
            None => default_ledger_path()
                .map(Some)
                .map_err(Failure::nothing_done),
        }
    }

    /// The journal of an earlier version to import, if one is named (a
    /// file: PostgreSQL is given as the ledger now).
    fn journal(&self) -> Result<Option<PathBuf>, Failure> {
        match self.journal.as_deref() {
            Some(location) if names_postgres(location) => Err(Failure::nothing_done(
                "--journal (or XOXODAY_PAYOUT_JOURNAL) names a PostgreSQL database: payouts are \
                 recorded in a ledger now, given with --ledger (or XOXODAY_PAYOUT_LEDGER); \
                 --journal names a journal file of an earlier version to import; nothing was \
                 sent",
            )),
            Some(path) => Ok(Some(PathBuf::from(path))),
            None => Ok(None),
        }
    }

    /// The ledger's context: whose payouts, which run, which journals.
    fn context(&self, cli: &Cli) -> Result<LedgerContext, Failure> {
        let client_id = crate::connect::secret_from_env("XOXODAY_CLIENT_ID").map_err(|_| {
            Failure::nothing_done(
                "payouts are recorded in the ledger of the account that pays them, and \
                 XOXODAY_CLIENT_ID (the integration's client id) names it: set it; nothing was \
                 sent",
            )
        })?;
        let mut context = LedgerContext::new(LedgerScope::new(
            cli.vendor.environment,
            client_id.expose_secret(),
        ));
        context.run_name = self.run.clone();
        context.journal = self.journal()?;
        context.journals_paid_in = self.journals_paid_in;
        context.registry = default_ledger_path().ok().map(|path| Registry::at(&path));
        Ok(context)
    }

    /// Opens the ledger (for a dry run: nothing is made or kept).
    async fn open(&self, dry: bool) -> Result<Arc<dyn Ledger>, Failure> {
        if let Some(path) = self.file()? {
            if self.ledger_table.is_some() {
                return Err(Failure::nothing_done(
                    "--ledger-table applies to a PostgreSQL --ledger only",
                ));
            }
            let ledger = if dry {
                SqliteLedger::open_for_dry_run(&path)
            } else {
                SqliteLedger::open(&path)
            };
            return ledger
                .map(|ledger| Arc::new(ledger) as Arc<dyn Ledger>)
                .map_err(Failure::listed);
        }
        #[cfg(feature = "postgres")]
        {
            use xoxoday_reward_points_payouts::{DEFAULT_LEDGER_TABLE, PostgresLedger};
            let url = self.ledger.as_deref().unwrap_or_default();
            let table = self.ledger_table.as_deref().unwrap_or(DEFAULT_LEDGER_TABLE);
            let ledger = if dry {
                PostgresLedger::connect_for_dry_run(url, table).await
            } else {
                PostgresLedger::connect(url, table).await
            };
            ledger
                .map(|ledger| Arc::new(ledger) as Arc<dyn Ledger>)
                .map_err(Failure::listed)
        }
        #[cfg(not(feature = "postgres"))]
        Err(Failure::nothing_done(
            "this reward-points was built without PostgreSQL support: build it with the \
             `postgres` feature",
        ))
    }
}

/// Ctrl-C stops taking rows; a second one exits at once (the rows in flight
/// are then in doubt, as their intents are recorded).
fn stop_on_ctrl_c(stop: &Stop) {
    let stop = stop.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!(
                "stopping: no new row is started; the sends in flight finish and are recorded \
                 (Ctrl-C again to exit at once, leaving them in doubt)"
            );
            stop.request();
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("stopped at once: the rows in flight are in doubt");
                std::process::exit(ExitStatus::Stopped as i32);
            }
        }
    });
}

/// `1,000 rows to 998 recipients, 50,500 points in all (12 already sent, 3
/// in doubt)`.
fn described(plan: &Plan) -> String {
    let contents = &plan.contents;
    let mut text = format!(
        "{} row(s) to {} recipient(s), {} points in all",
        contents.rows, contents.recipients, contents.points
    );
    let mut known = Vec::new();
    for (count, what) in [
        (plan.to_send, "to send"),
        (plan.already_sent, "already sent"),
        (plan.in_doubt, "in doubt"),
        (plan.refused, "refused"),
        (plan.cancelled, "cancelled"),
        (plan.conflicts, "in conflict"),
    ] {
        if count > 0 && plan.to_send != contents.rows {
            known.push(format!("{count} {what}"));
        }
    }
    if !known.is_empty() {
        text.push_str(&format!(" ({})", known.join(", ")));
    }
    text
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Refuses a ledger's connection string with a password typed on the
/// command line (where `ps` shows it).
fn ledger_typed_safely(cli: &Cli, ledger: &LedgerArgs) -> Result<(), Failure> {
    match &ledger.ledger {
        Some(location) if cli.typed.ledger => {
            no_password_typed("--ledger", "XOXODAY_PAYOUT_LEDGER", location)
        }
        _ => Ok(()),
    }
}

/// What the ledger's beginning says the operator should know.
fn tell(plan: &Plan) {
    for note in &plan.notes {
        eprintln!("{note}");
    }
}

/// `reward-points payout FILE`.
pub async fn payout(cli: &Cli, command: &args::Payout) -> Result<Ending, Failure> {
    ledger_typed_safely(cli, &command.ledger)?;
    if command.dry_run {
        return dry_run(cli, command).await;
    }
    let client = client(cli)?;
    let path = command.file.as_path();
    let report = command
        .report
        .clone()
        .unwrap_or_else(|| with_suffix(path, ".report.json"));
    let context = command.ledger.context(cli)?;
    spared_by(&report, path, &command.ledger.file()?, &context.journal).map_err(Failure::listed)?;
    let (defaults, options) = run_settings(command);
    let file = PayoutFile::open(path, defaults).map_err(Failure::listed)?;
    let ledger = command.ledger.open(false).await?;
    // Everything that can refuse the run does so before anyone is asked.
    let plan = plan_payouts(&file, ledger.as_ref(), &context, &options, false)
        .await
        .map_err(Failure::listed)?;
    tell(&plan);
    eprintln!(
        "recorded in the ledger {} as payouts of {}, run {}",
        ledger.location(),
        context.scope,
        plan.run
    );
    eprintln!("{}", plan_lines(&plan));
    let what = format!("Pay {} from {}", described(&plan), path.display());
    eprintln!("{what}");
    confirm(cli, &client, &what, &[Operation::SendPoints])?;
    let display = display(&report).map_err(Failure::listed)?;
    let told = display.clone();
    crate::logging::on_wait(move |what| told.waiting(what));
    let stop = Stop::new();
    stop_on_ctrl_c(&stop);
    eprintln!(
        "paying {} in {}",
        path.display(),
        client.environment().name()
    );
    let ran = run_payouts(
        &client,
        &file,
        ledger,
        plan,
        options,
        display.clone(),
        &stop,
    )
    .await;
    if file.changed_on_disk() {
        eprintln!(
            "warning: {} changed while the run went on: the run paid the rows as they were when \
             it started, and the ledger refuses the file as it is now under the same run",
            path.display()
        );
    }
    match ran {
        Ok(summary) => Ok(Ending::Run(finish(
            "payout run",
            &summary,
            &display,
            &report,
        ))),
        Err(error) => {
            display.bar.abandon();
            Err(Failure::listed(error))
        }
    }
}

/// The row defaults and the run's options, from the command line.
fn run_settings(command: &args::Payout) -> (RunDefaults, RunOptions) {
    let defaults = RunDefaults {
        sender_email: command.sender_email.clone(),
        expiry_months: command.expiry_months,
    };
    let options = RunOptions {
        concurrency: command.concurrency,
        resend_in_doubt: command.resend_in_doubt.clone().unwrap_or_default(),
        confirm_sent: command.confirm_sent.clone().unwrap_or_default(),
        retry_refused: command.retry_refused,
        pay_again: command.pay_again,
        allow_duplicate_recipients: command.allow_duplicates,
        ..Default::default()
    };
    (defaults, options)
}

/// What a run would do, one count a line: heads the confirmation and is
/// what `--dry-run` prints.
fn plan_lines(plan: &Plan) -> String {
    let contents = &plan.contents;
    let mut text = format!(
        "{} row(s), {} recipient(s), {} points in all
  to send:      {}
  already sent: {}
  in doubt:     {}
  refused:      {}
  cancelled:    {}",
        contents.rows,
        contents.recipients,
        contents.points,
        plan.to_send,
        plan.already_sent,
        plan.in_doubt,
        plan.refused,
        plan.cancelled
    );
    if plan.conflicts > 0 {
        text.push_str(&format!("\n  in conflict:  {}", plan.conflicts));
    }
    text
}

/// `reward-points payout FILE --dry-run`: the checks and the plan of a run,
/// with no client, no confirmation and no send; the ledger is asked as a
/// run would ask it, and keeps nothing (a ledger not made yet is not made).
async fn dry_run(cli: &Cli, command: &args::Payout) -> Result<Ending, Failure> {
    let (defaults, options) = run_settings(command);
    let path = command.file.as_path();
    let context = command.ledger.context(cli)?;
    let file = PayoutFile::open(path, defaults).map_err(Failure::listed)?;
    let ledger = command.ledger.open(true).await?;
    let plan = plan_payouts(&file, ledger.as_ref(), &context, &options, true)
        .await
        .map_err(Failure::listed)?;
    tell(&plan);
    let location = ledger.location();
    eprintln!(
        "A run of {} (ledger {location}, run {}): {}; nothing was sent",
        path.display(),
        plan.run,
        plan_lines(&plan)
    );
    let contents = &plan.contents;
    println!(
        "{}",
        serde_json::json!({
            "rows": contents.rows,
            "recipients": contents.recipients,
            "points": contents.points,
            "to_send": plan.to_send,
            "already_sent": plan.already_sent,
            "in_doubt": plan.in_doubt,
            "refused": plan.refused,
            "cancelled": plan.cancelled,
            "conflicts": plan.conflicts,
            "ledger": location,
            "run": plan.run,
        })
    );
    // As a run would end, when it would send nothing: rows in doubt or in
    // conflict (4) or refused (3) still need a person.
    Ok(Ending::Run(if plan.to_send > 0 {
        ExitStatus::Done
    } else if plan.in_doubt > 0 || plan.conflicts > 0 {
        ExitStatus::MaybeDone
    } else if plan.refused > 0 {
        ExitStatus::Partly
    } else {
        ExitStatus::NothingToSend
    }))
}

/// `reward-points payout-undo FILE --lines …`.
pub async fn undo(cli: &Cli, command: &args::PayoutUndo) -> Result<Ending, Failure> {
    ledger_typed_safely(cli, &command.ledger)?;
    let client = client(cli)?;
    let path = command.file.as_path();
    let report = command
        .report
        .clone()
        .unwrap_or_else(|| with_suffix(path, ".undo.json"));
    let context = command.ledger.context(cli)?;
    spared_by(&report, path, &command.ledger.file()?, &context.journal).map_err(Failure::listed)?;
    let ledger = command.ledger.open(false).await?;
    confirm(
        cli,
        &client,
        &format!("Cancel the credits of {}", path.display()),
        &[Operation::CancelPoints],
    )?;
    let display = display(&report).map_err(Failure::listed)?;
    let told = display.clone();
    crate::logging::on_wait(move |what| told.waiting(what));
    let stop = Stop::new();
    stop_on_ctrl_c(&stop);
    match undo_payouts(
        &client,
        ledger,
        path,
        &context,
        &command.lines,
        command.transaction,
        command.concurrency,
        display.clone(),
        &stop,
    )
    .await
    {
        Ok(summary) => Ok(Ending::Run(finish("undo", &summary, &display, &report))),
        Err(error) => {
            display.bar.abandon();
            Err(Failure::listed(error))
        }
    }
}
