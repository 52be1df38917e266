//! Writes generated files: only those whose content changed, each atomically
//! (a temporary file in the same directory, then a rename), so an unchanged
//! spec touches nothing and an interrupted run never leaves half a file.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use similar::TextDiff;

use crate::failure::Failure;
use crate::input_digest::recorded_digest;
use crate::pipeline::GeneratedFile;

/// How many diff lines `--check` prints per stale file.
const DIFF_LINES: usize = 40;

/// Writes the files that differ from what is on disk; returns their paths.
pub fn write_changed(out_dir: &Path, files: &[GeneratedFile]) -> Result<Vec<PathBuf>, Failure> {
    let mut written = Vec::new();
    for file in files {
        let path = out_dir.join(file.relative_path);
        if fs::read(&path).ok().as_deref() == Some(file.content.as_bytes()) {
            continue;
        }
        write_atomically(&path, file.content.as_bytes()).map_err(|error| {
            Failure::new(path.display().to_string(), format!("cannot write: {error}"))
        })?;
        written.push(path);
    }
    Ok(written)
}

fn write_atomically(path: &Path, content: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let file_name = path.file_name().unwrap_or_default().to_string_lossy();
    let temporary = dir.join(format!(".{file_name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = fs::File::create(&temporary)?;
        file.write_all(content)?;
        file.sync_all()?;
        fs::rename(&temporary, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temporary);
    }
    result
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
