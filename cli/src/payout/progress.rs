//! What a run shows as it goes and at its end: a progress bar on a terminal
//! (plain lines otherwise), each row that needs a person, the summary on
//! stderr and as JSON on stdout, and the exit status that follows from it.

use std::io::IsTerminal;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use xoxoday_reward_points_payouts::{Progress, RowOutcome, RowStatus, Summary};

use super::report::Report;
use crate::ending::ExitStatus;

/// What the run shows and writes as it goes.
pub struct Display {
    pub bar: ProgressBar,
    /// Plain lines instead of a bar: one per twentieth of the rows, and one
    /// per row that needs attention.
    plain: bool,
    rows: AtomicU64,
    done: AtomicU64,
    report: Mutex<Report>,
    /// The rows that need a person, for the summary.
    attention: Mutex<Vec<RowOutcome>>,
    /// While the vendor's pause lasts, the bar says why the run waits.
    paused_until: Mutex<Option<Instant>>,
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
        let mut paused = self.paused_until.lock().unwrap_or_else(|e| e.into_inner());
        if paused.is_some_and(|until| Instant::now() >= until) {
            *paused = None;
            self.bar.set_message("");
        }
        drop(paused);
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
                | RowStatus::Conflict
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
        let until = std::time::SystemTime::now() + delay;
        let until = httpdate::fmt_http_date(until);
        self.line(format!(
            "the vendor asked to slow down: no send starts for {:.1} s (rate-limited until {until})",
            delay.as_secs_f64()
        ));
        *self.paused_until.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now() + delay);
        self.bar.set_message(format!("rate-limited until {until}"));
    }
}

impl Display {
    /// The client waits for `what` (`""`: the wait is over): said on its
    /// own line and on the bar until the wait ends.
    pub fn waiting(&self, what: &str) {
        if what.is_empty() {
            self.bar.set_message("");
        } else {
            self.line(format!("waiting for the {what} (another process holds it)"));
            self.bar.set_message(format!("waiting for the {what}"));
        }
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

pub fn display(report: &Path) -> Result<Arc<Display>, String> {
    // Plain lines when a log shares stderr: a bar would be torn by it.
    let plain = !std::io::stderr().is_terminal() || crate::logging::is_on();
    let bar = if plain {
        ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden())
    } else {
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} rows, {per_sec}, {eta} left {msg}")
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
        paused_until: Mutex::new(None),
    }))
}

/// The summary on stderr (what needs a person, listed) and as JSON on
/// stdout, and the exit status.
pub fn finish(what: &str, summary: &Summary, display: &Display, report: &Path) -> ExitStatus {
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
    tell_rows_to_check(&attention);
    tell_conflicts(&attention, summary);
    let not_sent = lines_with(&attention, RowStatus::NotSent);
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
    exit_status(summary)
}

/// The lines, in order, of the rows among `attention` whose status is
/// `status`.
fn lines_with(attention: &[RowOutcome], status: RowStatus) -> Vec<u64> {
    let mut lines: Vec<u64> = attention
        .iter()
        .filter(|outcome| outcome.status == status)
        .map(|outcome| outcome.line)
        .collect();
    lines.sort_unstable();
    lines
}

/// `lines` as the options that take LINES spell them: `3,7,12`.
fn joined(lines: &[u64]) -> String {
    lines
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// What a person checks or fixes before running again, by status: the
/// rows in doubt, refused, not cancellable, and whose cancel is in doubt.
fn tell_rows_to_check(attention: &[RowOutcome]) {
    let in_doubt = lines_with(attention, RowStatus::InDoubt);
    if !in_doubt.is_empty() {
        eprintln!(
            "in doubt, maybe credited (lines {}): check each in the vendor's ledger, then run \
             again with --confirm-sent LINES for those credited and --resend-in-doubt LINES \
             for those not",
            joined(&in_doubt)
        );
    }
    let refused = lines_with(attention, RowStatus::Refused);
    if !refused.is_empty() {
        eprintln!(
            "refused by the vendor (lines {}): fix the cause, then run again with --retry-refused",
            joined(&refused)
        );
    }
    let not_cancellable = lines_with(attention, RowStatus::NotCancellable);
    if !not_cancellable.is_empty() {
        eprintln!(
            "not cancellable here (lines {}): see each line above",
            joined(&not_cancellable)
        );
    }
    let cancel_in_doubt = lines_with(attention, RowStatus::CancelInDoubt);
    if !cancel_in_doubt.is_empty() {
        eprintln!(
            "cancel in doubt (lines {}): check each in the vendor's ledger before cancelling \
             it again",
            joined(&cancel_in_doubt)
        );
    }
}

/// The rows in conflict — those the run reported, and those found when it
/// ended (each described here) — and how a person settles them.
fn tell_conflicts(attention: &[RowOutcome], summary: &Summary) {
    for found in &summary.conflicts {
        eprintln!("line {}: {}", found.line, describe(found));
    }
    let mut conflicts = lines_with(attention, RowStatus::Conflict);
    conflicts.extend(summary.conflicts.iter().map(|found| found.line));
    if !conflicts.is_empty() {
        eprintln!(
            "in conflict (lines {}): the vendor's answer contradicts what a person said, or the \
             row was credited more than once; it is never sent again on its own: check each in \
             the vendor's ledger, cancel an extra credit with `payout-undo FILE --lines LINE \
             --transaction TX`, then run again with --confirm-sent LINES (credited) or \
             --resend-in-doubt LINES (not credited)",
            joined(&conflicts)
        );
    }
}

/// The exit status `summary` calls for: maybe done (rows in doubt or in
/// conflict, or a failure after rows were claimed), nothing done, stopped,
/// done, or partly done.
fn exit_status(summary: &Summary) -> ExitStatus {
    let in_doubt = summary.count(RowStatus::InDoubt)
        + summary.count(RowStatus::CancelInDoubt)
        + summary.count(RowStatus::Conflict)
        + summary.conflicts.len() as u64;
    if in_doubt > 0 || (summary.failure.is_some() && summary.claimed > 0) {
        ExitStatus::MaybeDone
    } else if summary.failure.is_some() {
        ExitStatus::NothingDone
    } else if summary.interrupted || summary.stopped.is_some() {
        ExitStatus::Stopped
    } else if summary.complete() {
        ExitStatus::Done
    } else {
        ExitStatus::Partly
    }
}
