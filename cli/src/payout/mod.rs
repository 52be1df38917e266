//! `reward-points payout FILE` and `reward-points payout-undo FILE`: the
//! payout run of `xoxoday-reward-points-payouts` from a shell, with a
//! progress bar and summary (`progress.rs`), a report of every row
//! (`report.rs`), and Ctrl-C that stops taking rows, lets the sends in
//! flight finish and records them.

mod progress;
mod report;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use xoxoday_reward_points::Operation;
use xoxoday_reward_points_payouts::{
    AbsentFileJournal, FileIdentity, FileJournal, Journal, PayoutFile, Plan, RunDefaults,
    RunOptions, Stop, plan_payouts, run_payouts, undo_payouts,
};

use crate::args::{self, Cli, JournalArgs};
use crate::confirm::confirm;
use crate::connect::{client, names_postgres, no_password_typed};
use crate::ending::{Ending, ExitStatus, Failure};
use progress::{display, finish};
use report::spared_by;

impl JournalArgs {
    /// The journal's file for the payout file at `path`; `None` for a
    /// PostgreSQL journal.
    fn file(&self, path: &Path) -> Option<PathBuf> {
        let postgres = self.journal.as_deref().is_some_and(names_postgres);
        (!postgres).then(|| {
            self.journal
                .as_ref()
                .map_or_else(|| FileJournal::beside(path), PathBuf::from)
        })
    }
}

async fn open_journal(
    path: &Path,
    identity: &FileIdentity,
    choice: &JournalArgs,
) -> Result<Arc<dyn Journal>, Failure> {
    if let Some(journal) = choice.file(path) {
        if choice.journal_table.is_some() || choice.run.is_some() {
            return Err(Failure::nothing_done(
                "--journal-table and --run apply to a PostgreSQL --journal only",
            ));
        }
        return FileJournal::open(&journal)
            .map(|journal| Arc::new(journal) as Arc<dyn Journal>)
            .map_err(Failure::listed);
    }
    #[cfg(feature = "postgres")]
    {
        let url = choice.journal.as_deref().unwrap_or_default();
        let table = choice
            .journal_table
            .as_deref()
            .unwrap_or(xoxoday_reward_points_payouts::DEFAULT_JOURNAL_TABLE);
        xoxoday_reward_points_payouts::PostgresJournal::connect(
            url,
            table,
            choice.run.as_deref(),
            identity,
        )
        .await
        .map(|journal| Arc::new(journal) as Arc<dyn Journal>)
        .map_err(Failure::listed)
    }
    #[cfg(not(feature = "postgres"))]
    Err(Failure::nothing_done(
        "this reward-points was built without PostgreSQL support: build it with the `postgres` \
         feature",
    ))
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

/// Refuses a journal's connection string with a password typed on the
/// command line (where `ps` shows it).
fn journal_typed_safely(cli: &Cli, journal: &JournalArgs) -> Result<(), Failure> {
    match &journal.journal {
        Some(location) if cli.typed.journal => {
            no_password_typed("--journal", "XOXODAY_PAYOUT_JOURNAL", location)
        }
        _ => Ok(()),
    }
}

/// `reward-points payout FILE`.
pub async fn payout(cli: &Cli, command: &args::Payout) -> Result<Ending, Failure> {
    journal_typed_safely(cli, &command.journal)?;
    if command.dry_run {
        return dry_run(command.file.as_path(), command).await;
    }
    let client = client(cli)?;
    let path = command.file.as_path();
    let report = command
        .report
        .clone()
        .unwrap_or_else(|| with_suffix(path, ".report.json"));
    spared_by(&report, path, &command.journal).map_err(Failure::listed)?;
    let (defaults, options) = run_settings(command);
    let file = PayoutFile::open(path, defaults).map_err(Failure::listed)?;
    let journal = open_journal(path, file.identity(), &command.journal).await?;
    // Everything that can refuse the run does so before anyone is asked.
    let plan = plan_payouts(&file, journal.as_ref(), &options)
        .await
        .map_err(Failure::listed)?;
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
        "paying {} from {} (journal {})",
        path.display(),
        client.environment().name(),
        journal.location()
    );
    let ran = run_payouts(&client, &file, journal, options, display.clone(), &stop).await;
    if file.changed_on_disk() {
        eprintln!(
            "warning: {} changed while the run went on: the run paid the rows as they were when \
             it started, and the journal refuses the file as it is now",
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
    format!(
        "{} row(s), {} recipient(s), {} points in all
  to send:      {}
  already sent: \
         {}
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
    )
}

/// `reward-points payout FILE --dry-run`: the checks and the plan of a run,
/// with no client, no confirmation and no send. A file journal is read when
/// there is one (an empty one stands in when there is none: nothing is
/// created); a PostgreSQL journal is refused, since binding a run to it
/// writes.
async fn dry_run(path: &Path, command: &args::Payout) -> Result<Ending, Failure> {
    let (defaults, options) = run_settings(command);
    let Some(journal_file) = command.journal.file(path) else {
        return Err(Failure::nothing_done(
            "--dry-run reads file journals only: with a PostgreSQL journal it would record the \
             run; nothing was done",
        ));
    };
    let file = PayoutFile::open(path, defaults).map_err(Failure::listed)?;
    let journal: Arc<dyn Journal> = if journal_file.exists() {
        open_journal(path, file.identity(), &command.journal).await?
    } else {
        Arc::new(AbsentFileJournal::new(&journal_file))
    };
    let plan = plan_payouts(&file, journal.as_ref(), &options)
        .await
        .map_err(Failure::listed)?;
    let location = journal.location();
    eprintln!(
        "A run of {} (journal {location}): {}; nothing was sent",
        path.display(),
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
            "journal": location,
        })
    );
    // As a run would end, when it would send nothing: rows in doubt (4) or
    // refused (3) still need a person.
    Ok(Ending::Run(if plan.to_send > 0 {
        ExitStatus::Done
    } else if plan.in_doubt > 0 {
        ExitStatus::MaybeDone
    } else if plan.refused > 0 {
        ExitStatus::Partly
    } else {
        ExitStatus::NothingToSend
    }))
}

/// `reward-points payout-undo FILE --lines …`.
pub async fn undo(cli: &Cli, command: &args::PayoutUndo) -> Result<Ending, Failure> {
    journal_typed_safely(cli, &command.journal)?;
    let client = client(cli)?;
    let path = command.file.as_path();
    let report = command
        .report
        .clone()
        .unwrap_or_else(|| with_suffix(path, ".undo.json"));
    spared_by(&report, path, &command.journal).map_err(Failure::listed)?;
    // The file names the journal and the run; its rows are read from the
    // journal.
    let identity = PayoutFile::identify(path).map_err(Failure::listed)?;
    let journal = open_journal(path, &identity, &command.journal).await?;
    journal.bind(&identity).await.map_err(Failure::listed)?;
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
        journal,
        &command.lines,
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
