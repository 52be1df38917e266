//! How a command ends, as types: [`Ending`] when it ran, [`Failure`] when
//! it did not, each with the exit status the help documents
//! ([`ExitStatus`]). The dispatcher in `main.rs` prints them; nothing else
//! chooses a status.

use std::process::ExitCode;

use serde_json::Value;
use xoxoday_reward_points::{Error, InvalidValue};

/// The exit statuses, as `reward-points --help` documents them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    /// Done (0).
    Done = 0,
    /// Failed, nothing was done (1).
    NothingDone = 1,
    /// Partly done: some credits were not cancelled, some rows were refused
    /// or not sent (3).
    Partly = 3,
    /// Maybe done: an answer was lost, rows are in doubt (4).
    MaybeDone = 4,
    /// A payout run stopped before its end (Ctrl-C, a token to replace) (5).
    Stopped = 5,
    /// A dry run found nothing left to send (6).
    NothingToSend = 6,
}

impl From<ExitStatus> for ExitCode {
    fn from(status: ExitStatus) -> Self {
        ExitCode::from(status as u8)
    }
}

/// How a command that ran ended.
pub enum Ending {
    /// Done: the answer, printed as JSON (0).
    Done(Value),
    /// Partly done: the answer, saying what was and was not (3).
    Partly(Value),
    /// A payout run or undo, its summary and report already written.
    Run(ExitStatus),
    /// The stand-in was stopped (Ctrl-C).
    Served,
}

/// Why a command did not run, or may not have: one line on stderr.
#[derive(Debug)]
pub enum Failure {
    /// Nothing was done: refused before sending, a bad value, a vendor's
    /// refusal (1).
    NothingDone(String),
    /// The request may have reached the vendor: check before repeating it
    /// (4).
    MaybeDone(String),
    /// Nothing was done, for problems listed one a line (a payout file's
    /// bad rows, the earlier runs that paid it) (1).
    Listed(String),
}

impl Failure {
    /// Nothing was done, for `why`.
    pub fn nothing_done(why: impl ToString) -> Self {
        Failure::NothingDone(why.to_string())
    }

    /// Nothing was done, for `problems` printed as they are written (one a
    /// line).
    pub fn listed(problems: impl ToString) -> Self {
        Failure::Listed(problems.to_string())
    }

    fn status(&self) -> ExitStatus {
        match self {
            Failure::NothingDone(_) | Failure::Listed(_) => ExitStatus::NothingDone,
            Failure::MaybeDone(_) => ExitStatus::MaybeDone,
        }
    }

    /// The line to print: one line, whatever the cause said, unless it is
    /// a list.
    fn message(&self) -> String {
        match self {
            Failure::NothingDone(message) | Failure::MaybeDone(message) => {
                message.split_whitespace().collect::<Vec<_>>().join(" ")
            }
            Failure::Listed(list) => list.clone(),
        }
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        if error.outcome_unknown() {
            Failure::MaybeDone(error.to_string())
        } else {
            Failure::NothingDone(error.to_string())
        }
    }
}

impl From<InvalidValue> for Failure {
    fn from(invalid: InvalidValue) -> Self {
        Failure::nothing_done(invalid)
    }
}

/// Prints how the command ended and gives its status: an answer as JSON on
/// stdout (tokens `<redacted>` unless `show_token`), a failure as one line
/// on stderr.
pub fn exit(ended: Result<Ending, Failure>, show_token: bool) -> ExitCode {
    let print = |answer: Value| {
        let answer = if show_token { answer } else { redacted(answer) };
        println!(
            "{}",
            serde_json::to_string_pretty(&answer).unwrap_or_default()
        );
    };
    match ended {
        Ok(Ending::Done(answer)) => {
            print(answer);
            ExitStatus::Done.into()
        }
        Ok(Ending::Partly(answer)) => {
            print(answer);
            eprintln!("partly done: see each transaction's outcome above");
            ExitStatus::Partly.into()
        }
        Ok(Ending::Run(status)) => status.into(),
        Ok(Ending::Served) => ExitStatus::Done.into(),
        Err(failure) => {
            eprintln!("error: {}", failure.message());
            failure.status().into()
        }
    }
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
