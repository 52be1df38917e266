//! `reward-points payout FILE` and `reward-points payout-undo FILE`: the
//! payout run of `xoxoday-reward-points-payouts` from a shell, with a
//! progress bar on a terminal (plain lines otherwise), a summary, a report of
//! every row, and Ctrl-C that stops taking rows, lets the sends in flight
//! finish and records them.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use xoxoday_reward_points::Client;
use xoxoday_reward_points_payouts::{
    FileIdentity, FileJournal, Journal, PayoutFile, Plan, Progress, RowOutcome, RowStatus,
    RunDefaults, RunOptions, Selection, Stop, Summary, plan_payouts, run_payouts, undo_payouts,
};

/// Exit statuses of a run, from the most to the least urgent.
pub mod status {
    /// Every row is credited (or was before).
    pub const COMPLETE: u8 = 0;
    /// Nothing was sent: a bad file, a bad option, a journal that cannot be
    /// used.
    pub const NOT_STARTED: u8 = 1;
    /// Some rows were refused or not sent: see the report.
    pub const PARTLY: u8 = 3;
    /// Some rows are in doubt: a person must check them.
    pub const IN_DOUBT: u8 = 4;
    /// Stopped (Ctrl-C, or a token a person must replace): run it again.
    pub const INCOMPLETE: u8 = 5;
}

/// Where the run's journal is, as the command line says it.
pub struct JournalChoice<'a> {
    /// `--journal`: a path, or a `postgres://` URL.
    pub location: Option<&'a str>,
    /// `--journal-table`, for PostgreSQL.
    pub table: Option<&'a str>,
    /// `--run`, for PostgreSQL.
    pub run: Option<&'a str>,
}

/// `LINES|all`: `12,40,41` or `all`.
pub fn selection(text: &str) -> Result<Selection, String> {
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

impl JournalChoice<'_> {
    /// The journal's file for the payout file at `path`; `None` for a
    /// PostgreSQL journal.
    fn file(&self, path: &Path) -> Option<PathBuf> {
        let postgres = self.location.is_some_and(crate::names_postgres);
        (!postgres).then(|| {
            self.location
                .map_or_else(|| FileJournal::beside(path), PathBuf::from)
        })
    }
}

async fn open_journal(
    path: &Path,
    identity: &FileIdentity,
    choice: &JournalChoice<'_>,
) -> Result<Arc<dyn Journal>, String> {
    if let Some(journal) = choice.file(path) {
        if choice.table.is_some() || choice.run.is_some() {
            return Err("--journal-table and --run apply to a PostgreSQL --journal only".into());
        }
        return FileJournal::open(&journal)
            .map(|journal| Arc::new(journal) as Arc<dyn Journal>)
            .map_err(|error| error.to_string());
    }
    #[cfg(feature = "postgres")]
    {
        let url = choice.location.unwrap_or_default();
        let table = choice
            .table
            .unwrap_or(xoxoday_reward_points_payouts::DEFAULT_JOURNAL_TABLE);
        xoxoday_reward_points_payouts::PostgresJournal::connect(url, table, choice.run, identity)
            .await
            .map(|journal| Arc::new(journal) as Arc<dyn Journal>)
            .map_err(|error| error.to_string())
    }
    #[cfg(not(feature = "postgres"))]
    Err("this reward-points was built without PostgreSQL support: build it with the `postgres` feature".into())
}

/// What the run shows and writes as it goes.
struct Display {
    bar: ProgressBar,
    /// Plain lines instead of a bar: one per twentieth of the rows, and one
    /// per row that needs attention.
    plain: bool,
    rows: AtomicU64,
    done: AtomicU64,
    report: Mutex<Report>,
    /// The rows that need a person, for the summary.
    attention: Mutex<Vec<RowOutcome>>,
}

impl Display {
    fn line(&self, text: String) {
        if self.plain {
            eprintln!("{text}");
        } else {
            self.bar.println(text);
        }
    }
}

impl Progress for Display {
    fn start(&self, rows: u64) {
        self.rows.store(rows, Ordering::Relaxed);
        self.bar.set_length(rows);
        if self.plain {
            eprintln!("{rows} rows");
        }
    }

    fn row(&self, outcome: &RowOutcome) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        self.bar.inc(1);
        if let Err(error) = self
            .report
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .row(outcome)
        {
            self.line(format!("warning: the report could not be written: {error}"));
        }
        if matches!(
            outcome.status,
            RowStatus::InDoubt
                | RowStatus::Refused
                | RowStatus::NotSent
                | RowStatus::CancelInDoubt
                | RowStatus::CancelRefused
                | RowStatus::NotCancellable
        ) {
            self.line(format!("line {}: {}", outcome.line, describe(outcome)));
            self.attention
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(outcome.clone());
        }
        let rows = self.rows.load(Ordering::Relaxed).max(1);
        let step = (rows / 20).max(1);
        if self.plain && (done.is_multiple_of(step) || done == rows) {
            eprintln!("{done}/{rows} rows done");
        }
    }

    fn pause(&self, delay: Duration) {
        self.line(format!(
            "the vendor asked to slow down: no send starts for {:.1} s",
            delay.as_secs_f64()
        ));
    }
}

fn describe(outcome: &RowOutcome) -> String {
    let mut text = format!(
        "{}, {} points: {}",
        outcome.email, outcome.points, outcome.status
    );
    if let Some(transaction) = outcome.transaction {
        text.push_str(&format!(", transaction {transaction}"));
    }
    if let Some(message) = &outcome.message {
        text.push_str(&format!(" ({message})"));
    }
    text
}

/// The report of every row, written as rows finish: JSON (an array) or CSV
/// by the file's extension.
struct Report {
    out: Option<BufWriter<File>>,
    csv: bool,
    first: bool,
}

impl Report {
    fn create(path: &Path) -> Result<Self, String> {
        let file = File::create(path)
            .map_err(|e| format!("cannot write the report {}: {e}", path.display()))?;
        let csv = path.extension().is_some_and(|extension| extension == "csv");
        let mut out = BufWriter::new(file);
        let header = if csv { CSV_REPORT_HEADER } else { "[" };
        out.write_all(header.as_bytes())
            .map_err(|e| e.to_string())?;
        Ok(Self {
            out: Some(out),
            csv,
            first: true,
        })
    }

    fn row(&mut self, outcome: &RowOutcome) -> std::io::Result<()> {
        let Some(out) = self.out.as_mut() else {
            return Ok(());
        };
        if self.csv {
            let mut writer = csv::Writer::from_writer(Vec::new());
            let cells = [
                outcome.line.to_string(),
                outcome.email.clone(),
                outcome.points.to_string(),
                outcome.status.name().to_owned(),
                outcome
                    .transaction
                    .map(|id| id.to_string())
                    .unwrap_or_default(),
                outcome.message.clone().unwrap_or_default(),
            ];
            writer.write_record(cells.iter().map(|cell| no_formula(cell).into_owned()))?;
            out.write_all(&writer.into_inner().map_err(|e| e.into_error())?)?;
        } else {
            let separator = if self.first { "\n  " } else { ",\n  " };
            out.write_all(separator.as_bytes())?;
            serde_json::to_writer(&mut *out, outcome)?;
        }
        self.first = false;
        Ok(())
    }

    fn finish(&mut self) -> std::io::Result<()> {
        if let Some(mut out) = self.out.take() {
            if !self.csv {
                out.write_all(b"\n]\n")?;
            }
            out.flush()?;
        }
        Ok(())
    }
}

/// A cell a spreadsheet shows as text, never runs: one that would start a
/// formula (`=`, `+`, `-`, `@`, a tab or a carriage return) gets a leading
/// `'`, as OWASP's rule on CSV injection has it.
fn no_formula(cell: &str) -> std::borrow::Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}").into()
    } else {
        cell.into()
    }
}

/// The CSV report's header.
const CSV_REPORT_HEADER: &str = "line,email,points,status,transaction,message\n";

/// Refuses a report path that is the payout file or the journal, or any
/// other file that is not an earlier report (a token store, another run's
/// journal): writing the report would destroy it.
fn spared_by(report: &Path, file: &Path, journal: &JournalChoice<'_>) -> Result<(), String> {
    let journal = journal.file(file);
    let precious = [
        ("the payout file", Some(file)),
        ("the journal", journal.as_deref()),
    ];
    for (what, path) in precious {
        if path.is_some_and(|path| same_file(report, path)) {
            return Err(format!(
                "--report {} is {what}, which writing the report would destroy: give another \
                 path; nothing was sent",
                report.display()
            ));
        }
    }
    let mut start = [0; CSV_REPORT_HEADER.len()];
    if let Ok(mut existing) = File::open(report) {
        let read = std::io::Read::read(&mut existing, &mut start).unwrap_or(0);
        let start = &start[..read];
        let a_report = start.is_empty()
            || start.trim_ascii_start().starts_with(b"[")
            || CSV_REPORT_HEADER.as_bytes().starts_with(start);
        if !a_report {
            return Err(format!(
                "--report {} exists and is not a report of a payout run, which writing the \
                 report would destroy: give another path; nothing was sent",
                report.display()
            ));
        }
    }
    Ok(())
}

/// Whether `a` and `b` name one file (by its identity when both exist: hard
/// links and other spellings included).
fn same_file(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    if let (Ok(a), Ok(b)) = (std::fs::metadata(a), std::fs::metadata(b)) {
        use std::os::unix::fs::MetadataExt;
        return a.dev() == b.dev() && a.ino() == b.ino();
    }
    let canonical = |path: &Path| {
        let parent = path
            .parent()
            .filter(|parent| !parent.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::canonicalize(parent)
            .ok()
            .map(|parent| parent.join(path.file_name().unwrap_or_default()))
    };
    canonical(a).is_some() && canonical(a) == canonical(b)
}

fn display(report: &Path) -> Result<Arc<Display>, String> {
    let plain = !std::io::stderr().is_terminal();
    let bar = if plain {
        ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden())
    } else {
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} rows, {per_sec}, {eta} left")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    };
    Ok(Arc::new(Display {
        bar,
        plain,
        rows: AtomicU64::new(0),
        done: AtomicU64::new(0),
        report: Mutex::new(Report::create(report)?),
        attention: Mutex::new(Vec::new()),
    }))
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
                std::process::exit(i32::from(status::INCOMPLETE));
            }
        }
    });
}

/// The summary on stderr (what needs a person, listed) and as JSON on
/// stdout, and the exit status.
fn finish(what: &str, summary: &Summary, display: &Display, report: &Path) -> ExitCode {
    display.bar.finish_and_clear();
    if let Err(error) = display
        .report
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .finish()
    {
        eprintln!("warning: the report could not be written: {error}");
    }
    eprintln!("{what}: {summary}");
    let attention = display.attention.lock().unwrap_or_else(|e| e.into_inner());
    let lines = |status: RowStatus| -> Vec<u64> {
        let mut lines: Vec<u64> = attention
            .iter()
            .filter(|outcome| outcome.status == status)
            .map(|outcome| outcome.line)
            .collect();
        lines.sort_unstable();
        lines
    };
    let joined = |lines: &[u64]| {
        lines
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(",")
    };
    let in_doubt = lines(RowStatus::InDoubt);
    if !in_doubt.is_empty() {
        eprintln!(
            "in doubt, maybe credited (lines {}): check each in the vendor's ledger, then run \
             again with --confirm-sent LINES for those credited and --resend-in-doubt LINES \
             for those not",
            joined(&in_doubt)
        );
    }
    let refused = lines(RowStatus::Refused);
    if !refused.is_empty() {
        eprintln!(
            "refused by the vendor (lines {}): fix the cause, then run again with --retry-refused",
            joined(&refused)
        );
    }
    let not_cancellable = lines(RowStatus::NotCancellable);
    if !not_cancellable.is_empty() {
        eprintln!(
            "not cancellable here (lines {}): see each line above",
            joined(&not_cancellable)
        );
    }
    let cancel_in_doubt = lines(RowStatus::CancelInDoubt);
    if !cancel_in_doubt.is_empty() {
        eprintln!(
            "cancel in doubt (lines {}): check each in the vendor's ledger before cancelling \
             it again",
            joined(&cancel_in_doubt)
        );
    }
    let not_sent = lines(RowStatus::NotSent);
    if !not_sent.is_empty() || summary.interrupted || summary.stopped.is_some() {
        eprintln!("not sent or not started: run again to send them (nothing is sent twice)");
    }
    eprintln!("report: {}", report.display());
    println!(
        "{}",
        serde_json::to_string_pretty(summary).unwrap_or_default()
    );
    if let Some(failure) = &summary.failure {
        eprintln!(
            "the run stopped part-way: {failure}; the sends in flight finished and are in the \
             report: check the rows in doubt before running it again"
        );
    }
    let in_doubt = summary.count(RowStatus::InDoubt) + summary.count(RowStatus::CancelInDoubt);
    let code = if in_doubt > 0 || (summary.failure.is_some() && summary.claimed > 0) {
        status::IN_DOUBT
    } else if summary.failure.is_some() {
        status::NOT_STARTED
    } else if summary.interrupted || summary.stopped.is_some() {
        status::INCOMPLETE
    } else if summary.complete() {
        status::COMPLETE
    } else {
        status::PARTLY
    };
    ExitCode::from(code)
}

/// What `payout` needs from the command line.
pub struct PayoutArgs<'a> {
    /// The CSV.
    pub file: &'a Path,
    /// The run's sender and expiry.
    pub defaults: RunDefaults,
    /// The journal.
    pub journal: JournalChoice<'a>,
    /// The report's path (default: beside the file).
    pub report: Option<&'a Path>,
    /// Concurrency, selections, retries.
    pub options: RunOptions,
}

/// `reward-points payout FILE`.
pub async fn payout(
    client: &Client,
    args: PayoutArgs<'_>,
    confirm: impl FnOnce(&str) -> Result<(), String>,
) -> ExitCode {
    let failed = |message: String| {
        eprintln!("error: {message}");
        ExitCode::from(status::NOT_STARTED)
    };
    let report = args
        .report
        .map_or_else(|| with_suffix(args.file, ".report.json"), Path::to_owned);
    if let Err(message) = spared_by(&report, args.file, &args.journal) {
        return failed(message);
    }
    let file = match PayoutFile::open(args.file, args.defaults) {
        Ok(file) => file,
        Err(error) => return failed(error.to_string()),
    };
    let journal = match open_journal(args.file, file.identity(), &args.journal).await {
        Ok(journal) => journal,
        Err(message) => return failed(message),
    };
    // Everything that can refuse the run does so before anyone is asked.
    let plan = match plan_payouts(&file, journal.as_ref(), &args.options).await {
        Ok(plan) => plan,
        Err(error) => return failed(error.to_string()),
    };
    let what = format!("Pay {} from {}", described(&plan), args.file.display());
    eprintln!("{what}");
    if let Err(message) = confirm(&what) {
        return failed(message);
    }
    let display = match display(&report) {
        Ok(display) => display,
        Err(message) => return failed(message),
    };
    let stop = Stop::new();
    stop_on_ctrl_c(&stop);
    eprintln!(
        "paying {} from {} (journal {})",
        args.file.display(),
        client.environment().name(),
        journal.location()
    );
    let ran = run_payouts(client, &file, journal, args.options, display.clone(), &stop).await;
    if file.changed_on_disk() {
        eprintln!(
            "warning: {} changed while the run went on: the run paid the rows as they were when \
             it started, and the journal refuses the file as it is now",
            args.file.display()
        );
    }
    match ran {
        Ok(summary) => finish("payout run", &summary, &display, &report),
        Err(error) => {
            display.bar.abandon();
            failed(error.to_string())
        }
    }
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

/// `reward-points payout-undo FILE --lines …`.
pub async fn undo(
    client: &Client,
    file_path: &Path,
    journal: JournalChoice<'_>,
    selection: Selection,
    concurrency: usize,
    report: Option<&Path>,
    confirm: impl FnOnce(&str) -> Result<(), String>,
) -> ExitCode {
    let failed = |message: String| {
        eprintln!("error: {message}");
        ExitCode::from(status::NOT_STARTED)
    };
    let report = report.map_or_else(|| with_suffix(file_path, ".undo.json"), Path::to_owned);
    if let Err(message) = spared_by(&report, file_path, &journal) {
        return failed(message);
    }
    // The file names the journal and the run; its rows are read from the
    // journal.
    let identity = match PayoutFile::identify(file_path) {
        Ok(identity) => identity,
        Err(error) => return failed(error.to_string()),
    };
    let journal = match open_journal(file_path, &identity, &journal).await {
        Ok(journal) => journal,
        Err(message) => return failed(message),
    };
    if let Err(error) = journal.bind(&identity).await {
        return failed(error.to_string());
    }
    if let Err(message) = confirm(&format!("Cancel the credits of {}", file_path.display())) {
        return failed(message);
    }
    let display = match display(&report) {
        Ok(display) => display,
        Err(message) => return failed(message),
    };
    let stop = Stop::new();
    stop_on_ctrl_c(&stop);
    match undo_payouts(
        client,
        journal,
        &selection,
        concurrency,
        display.clone(),
        &stop,
    )
    .await
    {
        Ok(summary) => finish("undo", &summary, &display, &report),
        Err(error) => {
            display.bar.abandon();
            failed(error.to_string())
        }
    }
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}
