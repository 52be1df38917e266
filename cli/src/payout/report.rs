//! The report of every row, as JSON or CSV, and the paths it must never
//! overwrite.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use xoxoday_reward_points_payouts::RowOutcome;

use crate::args::JournalArgs;

/// The report of every row, written as rows finish: JSON (an array) or CSV
/// by the file's extension.
pub struct Report {
    out: Option<BufWriter<File>>,
    csv: bool,
    first: bool,
}

impl Report {
    pub fn create(path: &Path) -> Result<Self, String> {
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

    pub fn row(&mut self, outcome: &RowOutcome) -> std::io::Result<()> {
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

    pub fn finish(&mut self) -> std::io::Result<()> {
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
pub fn spared_by(report: &Path, file: &Path, journal: &JournalArgs) -> Result<(), String> {
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
