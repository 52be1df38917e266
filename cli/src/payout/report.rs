//! The report of every row, as JSON or CSV, and the paths it must never
//! overwrite: the input, the ledger, a journal, or any file that is not an
//! earlier report.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use xoxoday_reward_points_payouts::RowOutcome;

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

/// How a JSON report begins: its first row's first key…
const JSON_REPORT_START: &[u8] = b"[\n  {\"line\":";
/// …or the whole of a report of no rows (or of one cut at its start).
const JSON_REPORTS_OF_NO_ROWS: [&[u8]; 2] = [b"[", b"[\n]\n"];

/// Whether the file at `path`, which exists, is a report this tool wrote:
/// it begins exactly as one (a spreadsheet's or a manifest's `[` is not
/// enough), or is empty.
fn is_a_report(path: &Path) -> bool {
    let mut start = Vec::new();
    let Ok(file) = File::open(path) else {
        return false;
    };
    if std::io::Read::read_to_end(&mut std::io::Read::take(file, 64), &mut start).is_err() {
        return false;
    }
    start.is_empty()
        || start.starts_with(JSON_REPORT_START)
        || JSON_REPORTS_OF_NO_ROWS.contains(&start.as_slice())
        || start.starts_with(CSV_REPORT_HEADER.as_bytes())
}

/// Refuses a report path that is the payout file, the ledger or a journal,
/// or any other file that is not an earlier report (a token store, a
/// manifest, a spreadsheet): writing the report would destroy it.
pub fn spared_by(
    report: &Path,
    file: &Path,
    ledger: &Option<PathBuf>,
    journal: &Option<PathBuf>,
) -> Result<(), String> {
    let with = |path: &Path, suffix: &str| {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name)
    };
    let mut precious = vec![("the payout file", file.to_owned())];
    if let Some(ledger) = ledger {
        precious.extend([
            ("the ledger", ledger.clone()),
            ("the ledger's log", with(ledger, "-wal")),
            ("the ledger's index", with(ledger, "-shm")),
        ]);
    }
    if let Some(journal) = journal {
        precious.push(("the journal", journal.clone()));
    }
    for (what, path) in &precious {
        if same_file(report, path) {
            return Err(format!(
                "--report {} is {what}, which writing the report would destroy: give another \
                 path; nothing was sent",
                report.display()
            ));
        }
    }
    if report.exists() && !is_a_report(report) {
        return Err(format!(
            "--report {} exists and is not a report of a payout run, which writing the report \
             would destroy: give another path; nothing was sent",
            report.display()
        ));
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
