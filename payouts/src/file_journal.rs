//! [`FileJournal`]: the journal as a file of JSON lines beside the input
//! (`payouts.csv.journal` by default), the embedded default.
//!
//! The first line binds it to the input file (name, SHA-256, rows); each
//! later line is a row's new record, and the last one of a row wins. A
//! record is durable before `transition` returns: a writer thread appends
//! and `fdatasync`s, committing every record that queued up meanwhile in one
//! sync, so 16 sends in flight share their syncs (BENCHMARKS.md §7 measures
//! the cost). A line cut short by a crash is dropped when the file is opened
//! again; its row then reads as the record before, which is always the safe
//! side (an intent without its outcome is in doubt).
//!
//! The file is locked while a run holds it (an OS lock, released when the
//! process dies): a second run on the same journal stops at once.

use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, mpsc};

use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;
use xoxoday_reward_points::EpochMillis;

use crate::journal::{
    EarlierRun, Journal, JournalError, JournalFuture, PaidAlike, RowIndex, RowRecord,
};
use crate::payout_file::FileIdentity;

/// The journal's first line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Header {
    journal: u32,
    file: String,
    sha256: String,
    rows: u64,
    /// When the run started (an HTTP date, UTC); absent in journals written
    /// before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    started: Option<String>,
}

/// The longest first line read when looking for journals among files.
const LONGEST_HEADER: u64 = 4096;

/// Told when a queued line is on disk (or why it is not).
type Written = oneshot::Receiver<Result<(), String>>;

struct Pending {
    line: Vec<u8>,
    written: oneshot::Sender<Result<(), String>>,
    /// Must be on disk before `written` is told: the batch is synced. A
    /// batch of records that may wait (outcomes) is only written: the next
    /// synced batch takes them to disk, and an intent never waits behind a
    /// sync that nobody needed.
    durable: bool,
}

struct State {
    header: Option<Header>,
    /// Each row's attempt, for the compare-and-set; the records themselves
    /// stay on disk, so memory grows by a few bytes per row, not by the
    /// rows' contents.
    attempts: HashMap<u64, u32>,
}

/// A journal in a file of JSON lines.
pub struct FileJournal {
    path: PathBuf,
    state: Mutex<State>,
    writer: Option<mpsc::Sender<Pending>>,
    /// Joined on drop, so the file and its lock are released when the
    /// journal is: the same process can open it again at once.
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for FileJournal {
    fn drop(&mut self) {
        drop(self.writer.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl FileJournal {
    /// The default journal of `input`: `input` + `.journal`, beside it.
    pub fn beside(input: &Path) -> PathBuf {
        let mut name = input.as_os_str().to_owned();
        name.push(".journal");
        PathBuf::from(name)
    }

    /// Opens (or creates) the journal at `path` and locks it for this run.
    pub fn open(path: &Path) -> Result<Self, JournalError> {
        let error = |message: String| JournalError {
            location: path.display().to_string(),
            message,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| error(format!("cannot open it: {e}")))?;
        if file.try_lock().is_err() {
            return Err(error(
                "another run holds it (a payout run or an undo is still going on): wait for it \
                 to end, or stop it"
                    .into(),
            ));
        }
        let mut attempts = HashMap::new();
        let (header, good_length) = fold(&mut file, |record| {
            attempts.insert(record.line, record.attempt);
        })
        .map_err(error)?;
        // A line cut short by a crash: dropped, so the next one starts clean.
        if file.metadata().map_err(|e| error(e.to_string()))?.len() != good_length {
            file.set_len(good_length)
                .map_err(|e| error(format!("cannot drop a line cut short: {e}")))?;
        }
        let (writer, queue) = mpsc::channel::<Pending>();
        let thread = std::thread::Builder::new()
            .name("payout-journal".into())
            .spawn(move || write_batches(file, good_length, queue))
            .map_err(|e| error(format!("cannot start its writer: {e}")))?;
        Ok(Self {
            path: path.to_owned(),
            state: Mutex::new(State { header, attempts }),
            writer: Some(writer),
            thread: Some(thread),
        })
    }

    fn error(&self, message: impl Into<String>) -> JournalError {
        JournalError {
            location: self.path.display().to_string(),
            message: message.into(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues `line` and waits until it is on disk.
    async fn append(
        &self,
        queued: oneshot::Receiver<Result<(), String>>,
    ) -> Result<(), JournalError> {
        match queued.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(message)) => Err(self.error(format!("cannot write it: {message}"))),
            Err(_) => Err(self.error("its writer stopped")),
        }
    }

    fn queue(
        &self,
        value: &impl Serialize,
        durable: bool,
    ) -> Result<oneshot::Receiver<Result<(), String>>, JournalError> {
        let mut line = serde_json::to_vec(value).map_err(|e| self.error(e.to_string()))?;
        line.push(b'\n');
        let (written, done) = oneshot::channel();
        self.writer
            .as_ref()
            .and_then(|writer| {
                writer
                    .send(Pending {
                        line,
                        written,
                        durable,
                    })
                    .ok()
            })
            .ok_or_else(|| self.error("its writer stopped"))?;
        Ok(done)
    }
}

/// The latest record of each row.
fn read_records(file: &mut File) -> Result<BTreeMap<u64, RowRecord>, String> {
    let mut records = BTreeMap::new();
    fold(file, |record| {
        records.insert(record.line, record);
    })?;
    Ok(records)
}

/// Reads the journal, giving each record to `each` in order; returns the
/// header and the length of the file up to its last complete line.
fn fold(file: &mut File, mut each: impl FnMut(RowRecord)) -> Result<(Option<Header>, u64), String> {
    file.seek(SeekFrom::Start(0)).map_err(|e| e.to_string())?;
    let mut reader = BufReader::new(&*file);
    let mut header = None;
    let mut good_length = 0;
    let mut number = 0;
    let mut line = Vec::new();
    loop {
        line.clear();
        let read = reader
            .read_until(b'\n', &mut line)
            .map_err(|e| e.to_string())?;
        if read == 0 {
            break;
        }
        number += 1;
        if !line.ends_with(b"\n") || line.contains(&0) {
            // Cut short by a crash while it was written, or the zeros written
            // ahead of the records (a record never holds a NUL byte; after a
            // power loss, unsynced records may show up beyond a stretch of
            // zeros): never synced, so nothing relied on it.
            break;
        }
        let bad = |e: serde_json::Error| {
            format!(
                "line {number} is not a journal record ({e}): the journal was edited or damaged; \
                 keep it for the record and start a new one only after checking the vendor's \
                 ledger for this run's credits"
            )
        };
        if number == 1 {
            header = Some(serde_json::from_slice::<Header>(&line).map_err(bad)?);
        } else {
            each(serde_json::from_slice(&line).map_err(bad)?);
        }
        good_length += read as u64;
    }
    Ok((header, good_length))
}

/// Space written ahead of the records, in zeros: a record then overwrites
/// blocks the file already has, and its `fdatasync` flushes only data, not
/// the file's size and allocation (some 0.15 ms here instead of 0.25 ms,
/// on the path of every send). Readers stop at the zeros as at a line cut
/// short; the padding is cut off when the journal is closed, and when it is
/// opened after a crash.
const WRITE_AHEAD: u64 = 1 << 20;

/// Writes what is queued after the records (`end`), one sync for all that
/// queued up meanwhile when any of it must be durable.
fn write_batches(mut file: File, mut end: u64, queue: mpsc::Receiver<Pending>) {
    let mut allocated = end;
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while let Ok(more) = queue.try_recv() {
            batch.push(more);
        }
        let bytes: Vec<u8> = batch
            .iter()
            .flat_map(|pending| pending.line.iter().copied())
            .collect();
        let durable = batch.iter().any(|pending| pending.durable);
        let outcome = write_at_end(&mut file, &mut end, &mut allocated, &bytes, durable)
            .map_err(|e| e.to_string());
        for pending in batch {
            let _ = pending.written.send(outcome.clone());
        }
        if outcome.is_err() {
            // Nothing after a failed write may be trusted: stop, so every
            // later record fails too.
            break;
        }
    }
    // Closed: the padding goes, so that the file ends with its last record.
    let _ = file.set_len(end).and_then(|()| file.sync_all());
}

fn write_at_end(
    file: &mut File,
    end: &mut u64,
    allocated: &mut u64,
    bytes: &[u8],
    durable: bool,
) -> std::io::Result<()> {
    let needed = *end + bytes.len() as u64;
    if needed > *allocated {
        let grown = needed.next_multiple_of(WRITE_AHEAD);
        file.seek(SeekFrom::Start(*allocated))?;
        std::io::copy(&mut std::io::repeat(0).take(grown - *allocated), &mut *file)?;
        file.sync_all()?;
        *allocated = grown;
    }
    file.seek(SeekFrom::Start(*end))?;
    file.write_all(bytes)?;
    *end = needed;
    if durable {
        file.sync_data()?;
        tracing::debug!(bytes = bytes.len(), "journal synced");
    }
    Ok(())
}

/// Earlier runs of `file`'s content (or rows alike) in the other journals
/// of the directory of the journal at `path`.
async fn earlier_runs_beside(
    path: &Path,
    file: &FileIdentity,
    paid: &PaidAlike,
) -> Result<Vec<EarlierRun>, JournalError> {
    let directory = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_owned();
    let (sha256, this, paid) = (file.sha256.clone(), path.to_owned(), paid.clone());
    tokio::task::spawn_blocking(move || journals_in(&directory, &sha256, &paid, &this))
        .await
        .map_err(|error| JournalError {
            location: path.display().to_string(),
            message: error.to_string(),
        })
}

/// A file journal that does not exist yet, as a dry run reads it: no
/// records, and the earlier runs beside it that a run would find; it
/// creates nothing, and refuses to be written.
pub struct AbsentFileJournal {
    path: PathBuf,
}

impl AbsentFileJournal {
    /// The journal that would be at `path`.
    pub fn new(path: &Path) -> Self {
        Self {
            path: path.to_owned(),
        }
    }
}

impl Journal for AbsentFileJournal {
    fn location(&self) -> String {
        self.path.display().to_string()
    }

    fn bind<'a>(&'a self, _: &'a FileIdentity) -> JournalFuture<'a, ()> {
        Box::pin(async { Ok(()) })
    }

    fn records(&self) -> JournalFuture<'_, BTreeMap<u64, RowRecord>> {
        Box::pin(async { Ok(BTreeMap::new()) })
    }

    fn transition(&self, _: Option<u32>, _: RowRecord) -> JournalFuture<'_, bool> {
        Box::pin(async move {
            Err(JournalError {
                location: self.location(),
                message: "a journal read for a dry run is not written".into(),
            })
        })
    }

    fn earlier_runs<'a>(
        &'a self,
        file: &'a FileIdentity,
        paid: &'a PaidAlike,
    ) -> JournalFuture<'a, Vec<EarlierRun>> {
        Box::pin(earlier_runs_beside(&self.path, file, paid))
    }
}

impl Journal for FileJournal {
    fn location(&self) -> String {
        self.path.display().to_string()
    }

    fn bind<'a>(&'a self, file: &'a FileIdentity) -> JournalFuture<'a, ()> {
        Box::pin(async move {
            let wanted = Header {
                journal: 1,
                file: file.name.clone(),
                sha256: file.sha256.clone(),
                rows: file.rows,
                started: Some(httpdate::fmt_http_date(EpochMillis::now().into())),
            };
            let queued = {
                let mut state = self.lock();
                match &state.header {
                    Some(header) if header.sha256 == wanted.sha256 => return Ok(()),
                    Some(header) => {
                        return Err(self.error(format!(
                            "it was made for another version of the file ({} with {} rows, \
                             SHA-256 {}…; this one is {}…) and holds {} row(s): a changed file \
                             cannot be matched to it row by row. Pay the rows still to pay from \
                             a new file with a new journal (--journal NEW), and keep this one \
                             as the record of what was sent",
                            header.file,
                            header.rows,
                            header.sha256.chars().take(12).collect::<String>(),
                            wanted.sha256.chars().take(12).collect::<String>(),
                            state.attempts.len()
                        )));
                    }
                    None => {
                        let queued = self.queue(&wanted, true)?;
                        state.header = Some(wanted);
                        queued
                    }
                }
            };
            self.append(queued).await
        })
    }

    fn records(&self) -> JournalFuture<'_, BTreeMap<u64, RowRecord>> {
        Box::pin(self.read_again(read_records))
    }

    fn earlier_runs<'a>(
        &'a self,
        file: &'a FileIdentity,
        paid: &'a PaidAlike,
    ) -> JournalFuture<'a, Vec<EarlierRun>> {
        Box::pin(earlier_runs_beside(&self.path, file, paid))
    }

    fn index(&self) -> JournalFuture<'_, RowIndex> {
        Box::pin(self.read_again(|file| {
            let mut index = RowIndex::default();
            fold(file, |record| index.insert(record))?;
            Ok(index)
        }))
    }

    fn transition(&self, seen: Option<u32>, record: RowRecord) -> JournalFuture<'_, bool> {
        Box::pin(async move {
            match self.queue_transition(seen, record, true)? {
                Some(queued) => self.append(queued).await.map(|()| true),
                None => Ok(false),
            }
        })
    }

    fn transition_soon(&self, seen: Option<u32>, record: RowRecord) -> JournalFuture<'_, bool> {
        // Queued in order; the writer syncs it with the next batch.
        let queued = self.queue_transition(seen, record, false);
        Box::pin(async move { queued.map(|queued| queued.is_some()) })
    }

    fn sync(&self) -> JournalFuture<'_, ()> {
        Box::pin(async move {
            // An empty line is skipped when read: a marker to wait for.
            let (written, done) = oneshot::channel();
            self.writer
                .as_ref()
                .and_then(|writer| {
                    writer
                        .send(Pending {
                            line: Vec::new(),
                            written,
                            durable: true,
                        })
                        .ok()
                })
                .ok_or_else(|| self.error("its writer stopped"))?;
            self.append(done).await
        })
    }
}

/// The file journals in `directory` (`except` the one at that path) of the
/// content `sha256` that recorded some row, or that credited (or may have)
/// a row alike one of `paid`. Any file whose first line is a journal's
/// header counts, whatever its name; what cannot be read is passed over.
pub fn journals_in(
    directory: &Path,
    sha256: &str,
    paid: &PaidAlike,
    except: &Path,
) -> Vec<EarlierRun> {
    let except = std::fs::canonicalize(except).ok();
    let Ok(entries) = std::fs::read_dir(directory) else {
        return Vec::new();
    };
    let mut found: Vec<EarlierRun> = entries
        .flatten()
        .filter(|entry| entry.file_type().is_ok_and(|kind| kind.is_file()))
        .filter_map(|entry| {
            let path = entry.path();
            if except.is_some() && std::fs::canonicalize(&path).ok() == except {
                return None;
            }
            let mut file = File::open(&path).ok()?;
            let mut first = Vec::new();
            BufReader::new((&file).take(LONGEST_HEADER))
                .read_until(b'\n', &mut first)
                .ok()?;
            let header: Header = serde_json::from_slice(&first).ok()?;
            let mut latest = BTreeMap::new();
            fold(&mut file, |record| {
                latest.insert(record.line, record);
            })
            .ok()?;
            let same_content = header.sha256 == sha256;
            let rows_alike = latest
                .values()
                .filter(|record| {
                    record.state.credited_or_maybe() && paid.contains(&record.email, record.points)
                })
                .count() as u64;
            let rows_recorded = latest.len() as u64;
            let started = header.started.or_else(|| {
                let modified = entry.metadata().ok()?.modified().ok()?;
                Some(format!(
                    "before {} (last written)",
                    httpdate::fmt_http_date(modified)
                ))
            });
            ((same_content && rows_recorded > 0) || rows_alike > 0).then(|| EarlierRun {
                journal: path.display().to_string(),
                file: header.file,
                started: started.unwrap_or_else(|| "at an unknown time".into()),
                same_content,
                rows_recorded,
                rows_alike,
            })
        })
        .collect();
    found.sort_by(|a, b| a.journal.cmp(&b.journal));
    found
}

impl FileJournal {
    /// What was queued is on disk first; then the file is read again.
    async fn read_again<T: Send + 'static>(
        &self,
        reading: impl FnOnce(&mut File) -> Result<T, String> + Send + 'static,
    ) -> Result<T, JournalError> {
        self.sync().await?;
        let path = self.path.clone();
        let read = tokio::task::spawn_blocking(move || {
            let mut file = File::open(&path).map_err(|e| e.to_string())?;
            reading(&mut file)
        });
        match read.await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(message)) => Err(self.error(message)),
            Err(error) => Err(self.error(error.to_string())),
        }
    }

    /// Checks the attempt and queues the record: `None` when the row moved.
    fn queue_transition(
        &self,
        seen: Option<u32>,
        record: RowRecord,
        durable: bool,
    ) -> Result<Option<Written>, JournalError> {
        let mut state = self.lock();
        if state.header.is_none() {
            return Err(self.error("not bound to a file: call `bind` first"));
        }
        let current = state.attempts.get(&record.line).copied();
        if current != seen {
            return Ok(None);
        }
        let queued = self.queue(&record, durable)?;
        state.attempts.insert(record.line, record.attempt);
        Ok(Some(queued))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::JournalState;

    fn identity(sha256: &str) -> FileIdentity {
        FileIdentity {
            name: "payouts.csv".into(),
            sha256: sha256.repeat(64 / sha256.len()),
            rows: 3,
        }
    }

    fn record(line: u64, attempt: u32, state: JournalState) -> RowRecord {
        RowRecord {
            line,
            attempt,
            email: "ann@example.com".into(),
            points: 100,
            name: Some("Ann".into()),
            state,
        }
    }

    #[tokio::test]
    async fn records_survive_reopening_and_a_line_cut_short_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j");
        {
            let journal = FileJournal::open(&path).unwrap();
            journal.bind(&identity("a")).await.unwrap();
            assert!(
                journal
                    .transition(None, record(2, 1, JournalState::Sending))
                    .await
                    .unwrap()
            );
            // A stale attempt loses.
            assert!(
                !journal
                    .transition(None, record(2, 1, JournalState::Sending))
                    .await
                    .unwrap()
            );
            let sent = JournalState::Sent {
                transaction: Some(7),
            };
            assert!(
                journal
                    .transition(Some(1), record(2, 1, sent))
                    .await
                    .unwrap()
            );
            assert!(
                journal
                    .transition(None, record(3, 1, JournalState::Sending))
                    .await
                    .unwrap()
            );
        }
        // A crash in the middle of a write.
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(b"{\"line\":3,\"attempt\":1,\"ema").unwrap();
        drop(file);

        let journal = FileJournal::open(&path).unwrap();
        journal.bind(&identity("a")).await.unwrap();
        let records = journal.records().await.unwrap();
        assert_eq!(
            records[&2].state,
            JournalState::Sent {
                transaction: Some(7)
            }
        );
        assert_eq!(records[&3].state, JournalState::Sending);
        assert!(
            journal
                .transition(Some(1), record(3, 2, JournalState::Sending))
                .await
                .unwrap()
        );
        drop(journal);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 5, "{text}");
        assert!(!text.contains("\"ema\n"));
    }

    #[tokio::test]
    async fn records_beyond_a_stretch_of_zeros_were_never_synced_and_are_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j");
        {
            let journal = FileJournal::open(&path).unwrap();
            journal.bind(&identity("a")).await.unwrap();
            assert!(
                journal
                    .transition(None, record(2, 1, JournalState::Sending))
                    .await
                    .unwrap()
            );
        }
        // A power loss: zeros written ahead, then part of a later record
        // that reached the disk without its sync.
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(&[0; 4096]).unwrap();
        file.write_all(b"\"attempt\":1,\"state\":\"sent\"}\n")
            .unwrap();
        drop(file);

        let journal = FileJournal::open(&path).unwrap();
        journal.bind(&identity("a")).await.unwrap();
        let records = journal.records().await.unwrap();
        assert_eq!(records.len(), 1);
        assert_eq!(records[&2].state, JournalState::Sending);
        drop(journal);
        let text = std::fs::read(&path).unwrap();
        assert!(
            !text.contains(&0),
            "the zeros and what follows them are cut off"
        );
    }

    #[tokio::test]
    async fn another_file_or_another_run_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j");
        let journal = FileJournal::open(&path).unwrap();
        journal.bind(&identity("a")).await.unwrap();
        let held = FileJournal::open(&path).err().unwrap();
        assert!(held.message.starts_with("another run holds it"), "{held}");
        drop(journal);
        let journal = FileJournal::open(&path).unwrap();
        let other = journal.bind(&identity("b")).await.unwrap_err();
        assert!(
            other.message.starts_with(
                "it was made for another version of the file (payouts.csv with 3 rows, SHA-256 \
                 aaaaaaaaaaaa…; this one is bbbbbbbbbbbb…) and holds 0 row(s)"
            ),
            "{other}"
        );
    }
}
