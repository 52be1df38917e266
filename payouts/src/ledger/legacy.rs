//! Journals written by earlier versions of this tool (a file of JSON lines
//! beside the payout file, `FILE.journal`): read, never written, so that
//! [`begin`](super::begin) imports each into the ledger once. Nothing of
//! them is lost: the file stays as it is.
//!
//! The first line binds a journal to its file (name, SHA-256, rows, start);
//! each later line is a row's new record, the last one of a row winning. A
//! line cut short by a crash, or the zeros written ahead of the records,
//! end it (never synced, so nothing relied on them).

use std::collections::BTreeMap;
use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::{AttemptState, LedgerRow};

/// The longest first line read when looking for journals among files.
const LONGEST_HEADER: u64 = 4096;

/// A journal's first line.
#[derive(Deserialize)]
struct Header {
    journal: u32,
    file: String,
    sha256: String,
    rows: u64,
    #[serde(default)]
    started: Option<String>,
}

/// A row's record, as journals wrote it.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct LegacyRecord {
    /// The row's line in its file.
    pub line: u64,
    /// The attempt it recorded.
    pub attempt: u32,
    /// The recipient.
    pub email: String,
    /// The points.
    pub points: u64,
    /// The recipient's name (absent in the oldest journals).
    #[serde(default)]
    pub name: Option<String>,
    /// Where the row stood.
    #[serde(flatten)]
    pub state: AttemptState,
}

/// A journal of an earlier version, read whole.
#[derive(Clone, Debug)]
pub struct LegacyJournal {
    /// Where it is: a file's full path, or a run of an old PostgreSQL
    /// journal table.
    pub source: String,
    /// Whether it is the payout file's own (`FILE.journal`, or the one
    /// `--journal` names), which the file's run goes on from.
    pub own: bool,
    /// The SHA-256 of its records, hex: imported again only if they grew.
    pub digest: String,
    /// The file's name, as the journal has it.
    pub file: String,
    /// The file's SHA-256.
    pub sha256: String,
    /// The file's rows.
    pub rows: u64,
    /// When its run started, if it says.
    pub started: Option<String>,
    /// Each row's latest record, by line.
    pub records: Vec<LegacyRecord>,
}

impl LegacyJournal {
    /// The journal at `path`; `None` when the file is not a journal (its
    /// first line is not a journal's header). A journal whose records
    /// cannot be read is an error naming the line: it was edited or
    /// damaged.
    pub fn read(path: &Path, own: bool) -> Result<Option<Self>, String> {
        let Ok(file) = File::open(path) else {
            return Ok(None);
        };
        let mut first = Vec::new();
        if BufReader::new((&file).take(LONGEST_HEADER))
            .read_until(b'\n', &mut first)
            .is_err()
            || !first.ends_with(b"\n")
        {
            return Ok(None);
        }
        let Ok(header) = serde_json::from_slice::<Header>(&first) else {
            return Ok(None);
        };
        let _ = header.journal;
        let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
        let (records, digest) = read_records(&path).map_err(|message| {
            format!(
                "the journal {} cannot be imported: {message}: it was edited or damaged; \
                 move it away once you have checked the vendor's ledger for its run's credits",
                path.display()
            )
        })?;
        Ok(Some(Self {
            source: path.display().to_string(),
            own,
            digest,
            file: header.file,
            sha256: header.sha256,
            rows: header.rows,
            started: header.started,
            records,
        }))
    }

    /// Where it is, as the ledger names where an imported run came from.
    pub fn source(&self) -> String {
        self.source.clone()
    }

    /// The rows it recorded, as the ledger keeps a run's rows.
    pub fn rows(&self) -> Vec<LedgerRow> {
        self.records
            .iter()
            .map(|record| LedgerRow {
                line: record.line,
                email: record.email.clone(),
                points: record.points,
                name: record.name.clone().unwrap_or_default(),
            })
            .collect()
    }
}

impl fmt::Display for LegacyJournal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (file {}, started {}, {} row(s) recorded)",
            self.source,
            self.file,
            self.started
                .as_deref()
                .unwrap_or("at a time it did not record"),
            self.records.len()
        )
    }
}

/// Each row's latest record, and the SHA-256 of the complete lines.
fn read_records(path: &Path) -> Result<(Vec<LegacyRecord>, String), String> {
    let file = File::open(path).map_err(|e| e.to_string())?;
    let mut reader = BufReader::new(file);
    let mut digest = Sha256::new();
    let mut latest = BTreeMap::new();
    let mut line = Vec::new();
    let mut number = 0;
    loop {
        line.clear();
        if reader
            .read_until(b'\n', &mut line)
            .map_err(|e| e.to_string())?
            == 0
        {
            break;
        }
        number += 1;
        if !line.ends_with(b"\n") || line.contains(&0) {
            break;
        }
        digest.update(&line);
        if number == 1 || line == b"\n" {
            continue;
        }
        let record: LegacyRecord = serde_json::from_slice(&line)
            .map_err(|e| format!("line {number} is not a journal record ({e})"))?;
        latest.insert(record.line, record);
    }
    let digest = digest
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    Ok((latest.into_values().collect(), digest))
}

/// The journals in `directory` (any file whose first line is a journal's
/// header, whatever its name), the one at `own` marked as the file's own.
pub fn journals_in(directory: &Path, own: &Path) -> Result<Vec<LegacyJournal>, String> {
    let own = std::fs::canonicalize(own).ok();
    let Ok(entries) = std::fs::read_dir(directory) else {
        return Ok(Vec::new());
    };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        if !entry.file_type().is_ok_and(|kind| kind.is_file()) {
            continue;
        }
        let path = entry.path();
        let is_own = own.is_some() && std::fs::canonicalize(&path).ok() == own;
        if let Some(journal) = LegacyJournal::read(&path, is_own)? {
            found.push(journal);
        }
    }
    found.sort_by(|a, b| a.source.cmp(&b.source));
    Ok(found)
}
