//! Writes generated files: only those whose content changed, each atomically
//! (a temporary file in the same directory, then a rename), so an unchanged
//! spec touches nothing and an interrupted run never leaves half a file.
//! Temporary files a crashed run left behind are removed by the next run.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use similar::TextDiff;

use crate::diagnostic::Diagnostic;
use crate::input_digest::recorded_digest;

/// The client's public API, one item per line (`surface/`).
pub const API_SURFACE_FILE: &str = "generated-client/api-surface.txt";

/// The generated client's source.
pub const CLIENT_FILE: &str = "generated-client/src/generated.rs";

/// One generated file: its path under the output directory and its content.
pub struct GeneratedFile {
    pub relative_path: &'static str,
    pub content: String,
}

/// How many diff lines `--check` prints per stale file.
const DIFF_LINES: usize = 40;

/// The environment variable that makes regen stop at a fault-injection
/// point, to show what an interruption leaves behind (see the atomicity test).
pub const FAIL_POINT_VARIABLE: &str = "XTASK_FAIL_POINT";

/// Writes the files that differ from what is on disk; returns their paths.
/// First every changed file goes to a temporary file beside it, synced; then
/// each is renamed over its target. A crash before the renames leaves every
/// target as it was; each rename replaces a whole file. The client crate has
/// one generated file, so it is always wholly old or wholly new.
pub fn write_changed(out_dir: &Path, files: &[GeneratedFile]) -> Result<Vec<PathBuf>, Diagnostic> {
    let mut staged = Vec::new();
    for file in files {
        let path = out_dir.join(file.relative_path);
        remove_stale_temporaries(&path);
        if fs::read(&path).ok().as_deref() == Some(file.content.as_bytes()) {
            continue;
        }
        let temporary = stage(&path, file.content.as_bytes()).map_err(|error| {
            Diagnostic::new(path.display().to_string(), format!("cannot write: {error}"))
        })?;
        staged.push((temporary, path));
    }
    if std::env::var(FAIL_POINT_VARIABLE).as_deref() == Ok("before-rename") {
        eprintln!("{FAIL_POINT_VARIABLE}=before-rename: stopping as a crash would");
        std::process::abort();
    }
    let mut written = Vec::new();
    for (temporary, path) in staged {
        if let Err(error) = fs::rename(&temporary, &path) {
            let _ = fs::remove_file(&temporary);
            return Err(Diagnostic::new(
                path.display().to_string(),
                format!("cannot write: {error}"),
            ));
        }
        written.push(path);
    }
    Ok(written)
}

fn temporary_prefix(path: &Path) -> String {
    format!(
        ".{}.",
        path.file_name().unwrap_or_default().to_string_lossy()
    )
}

/// Writes `content` to a temporary file beside `path` and syncs it.
fn stage(path: &Path, content: &[u8]) -> std::io::Result<PathBuf> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let temporary = dir.join(format!(
        "{}{}.tmp",
        temporary_prefix(path),
        std::process::id()
    ));
    let result = (|| {
        let mut file = fs::File::create(&temporary)?;
        file.write_all(content)?;
        file.sync_all()
    })();
    match result {
        Ok(()) => Ok(temporary),
        Err(error) => {
            let _ = fs::remove_file(&temporary);
            Err(error)
        }
    }
}

/// Temporary files an interrupted run left beside `path`.
fn remove_stale_temporaries(path: &Path) {
    let (Some(dir), prefix) = (path.parent(), temporary_prefix(path)) else {
        return;
    };
    for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(&prefix) && name.ends_with(".tmp") {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// For `--check`: one report per stale file, with a short diff.
/// `shown_as` turns a path into the form the user sees.
pub fn stale_reports(
    out_dir: &Path,
    files: &[GeneratedFile],
    inputs_digest: &str,
    shown_as: impl Fn(&Path) -> String,
) -> Vec<String> {
    let mut reports = Vec::new();
    for file in files {
        let path = out_dir.join(file.relative_path);
        let on_disk = fs::read_to_string(&path).unwrap_or_default();
        if on_disk == file.content {
            continue;
        }
        let diff = TextDiff::from_lines(&on_disk, &file.content);
        let unified = diff
            .unified_diff()
            .context_radius(2)
            .header("checked in", "regenerated")
            .to_string();
        let mut lines: Vec<&str> = unified.lines().collect();
        let total = lines.len();
        lines.truncate(DIFF_LINES);
        let why = if recorded_digest(&on_disk) == Some(inputs_digest) {
            "the generator changed (progenitor, or xtask itself)"
        } else {
            "the inputs in specs/ changed"
        };
        let mut report = format!("stale: {} ({why})\n{}", shown_as(&path), lines.join("\n"));
        if total > DIFF_LINES {
            report.push_str(&format!("\n… {} more diff lines", total - DIFF_LINES));
        }
        reports.push(report);
    }
    reports
}
