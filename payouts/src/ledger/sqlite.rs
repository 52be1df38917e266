//! [`SqliteLedger`]: the ledger in an SQLite database on this machine (by
//! default `payouts.sqlite3` in the user's data directory), through
//! rusqlite. SQLite does what a ledger needs and a file format of our own
//! would have to reinvent: transactions, crash safety (write-ahead log,
//! synced before a claim returns) and locking between processes.
//!
//! One thread owns the connection. Claims and outcomes that queue up while
//! it commits go into its next transaction together, so 16 sends in flight
//! share their syncs: a transaction that holds a claim (or a sync) is
//! synced (`synchronous = FULL`); one of outcomes only is not
//! (`NORMAL`: safe from a crash of the process, and taken to disk by the
//! next synced one) — lost with the machine, an outcome leaves its intent,
//! in doubt: the safe side.
//!
//! A path that holds anything but a ledger — another program's file, or
//! another program's SQLite database — is refused, never written.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use rusqlite::types::ToSql;
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior};
use tokio::sync::oneshot;
use xoxoday_reward_points::EpochMillis;

use super::lease::{file_lease_held, take_file_lease};
use super::sql::{CREDITS, Dialect, Statements};
use super::{
    AlikeRun, Attempt, AttemptState, Judgment, Lease, Ledger, LedgerError, LedgerFuture, LedgerRow,
    LedgerScope, LedgerTransaction, RecordedContent, RunHistory, RunRecord, recipient_key,
};

/// `PRAGMA application_id` of a ledger: "RPLG".
const APPLICATION_ID: i64 = 0x5250_4c47;
/// The schema's version (`PRAGMA user_version`).
const SCHEMA_VERSION: i64 = 1;
/// How long a statement waits for another process's transaction.
const BUSY_TIMEOUT: Duration = Duration::from_secs(60);

/// A ledger in an SQLite database; see the module's documentation.
pub struct SqliteLedger {
    /// The database; `None` for a dry run's copy in memory.
    path: Option<PathBuf>,
    /// Where the leases of its runs are (beside the database, also for a
    /// dry run's copy).
    lease_path: Option<PathBuf>,
    location: String,
    jobs: Option<mpsc::Sender<Job>>,
    /// Joined on drop, so the database is closed when the ledger is.
    thread: Option<std::thread::JoinHandle<()>>,
    /// The first failure of an outcome written without waiting.
    failure: Arc<Mutex<Option<String>>>,
    /// This process's files of the leases it holds.
    leases: Mutex<std::collections::HashMap<i64, PathBuf>>,
    statements: Arc<Statements>,
}

impl Drop for SqliteLedger {
    fn drop(&mut self) {
        drop(self.jobs.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

type Reply<T> = oneshot::Sender<Result<T, String>>;

enum Job {
    /// Goes into the next transaction with whatever else queued up.
    Write(Write, Option<Reply<bool>>),
    /// Runs alone, between transactions (a run's beginning, reads).
    Alone(Box<dyn FnOnce(&mut Connection) + Send>),
}

enum Write {
    Claim {
        run: String,
        line: i64,
        after: i32,
    },
    Judge {
        run: String,
        line: i64,
        attempt: i32,
        credited: bool,
    },
    ClaimCancel {
        run: String,
        line: i64,
        attempt: i32,
        state: AttemptState,
    },
    Record {
        run: String,
        line: i64,
        attempt: i32,
        state: AttemptState,
    },
    Sync,
}

impl Write {
    /// Whether its transaction must be on disk before it is answered.
    fn durable(&self) -> bool {
        !matches!(self, Write::Record { .. })
    }
}

/// rusqlite's named binding of `$1`, `$2`, … (the statements' form).
fn bind<'a>(values: &[&'a dyn ToSql]) -> Vec<(&'static str, &'a dyn ToSql)> {
    const NAMES: [&str; 9] = ["$1", "$2", "$3", "$4", "$5", "$6", "$7", "$8", "$9"];
    NAMES.iter().copied().zip(values.iter().copied()).collect()
}

fn now() -> String {
    httpdate::fmt_http_date(EpochMillis::now().into())
}

impl SqliteLedger {
    /// Opens the ledger at `path`, making it (and its directory) when
    /// missing.
    pub fn open(path: &Path) -> Result<Self, LedgerError> {
        let error = |message: String| LedgerError {
            location: path.display().to_string(),
            message,
        };
        refuse_what_is_not_a_ledger(path, false).map_err(error)?;
        if let Some(directory) = path
            .parent()
            .filter(|parent| !parent.as_os_str().is_empty())
        {
            std::fs::create_dir_all(directory).map_err(|e| {
                error(format!(
                    "cannot make its directory: {e}; give a ledger this user can write \
                     (--ledger PATH, or XOXODAY_PAYOUT_LEDGER)"
                ))
            })?;
        }
        let connection =
            Connection::open(path).map_err(|e| error(format!("cannot open it: {e}")))?;
        Self::start(Some(path), connection)
    }

    /// The ledger at `path` for a dry run, which keeps nothing and writes
    /// nothing: a copy in memory of the ledger, read without a write (not
    /// even the checkpoint a closing connection makes), or an empty one
    /// when there is none (nothing is made).
    pub fn open_for_dry_run(path: &Path) -> Result<Self, LedgerError> {
        let error = |message: String| LedgerError {
            location: path.display().to_string(),
            message,
        };
        let mut copy =
            Connection::open_in_memory().map_err(|e| error(format!("cannot open it: {e}")))?;
        if refuse_what_is_not_a_ledger(path, true).map_err(error)? {
            let ledger = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
                .map_err(|e| error(format!("cannot read it: {e}")))?;
            ledger
                .busy_timeout(BUSY_TIMEOUT)
                .map_err(|e| error(e.to_string()))?;
            copy_whole(&ledger, &mut copy).map_err(|e| error(format!("cannot read it: {e}")))?;
        }
        let mut ledger = Self::start(None, copy)?;
        ledger.location = std::fs::canonicalize(path)
            .unwrap_or_else(|_| path.to_owned())
            .display()
            .to_string();
        ledger.lease_path = Some(std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned()));
        Ok(ledger)
    }

    fn start(path: Option<&Path>, mut connection: Connection) -> Result<Self, LedgerError> {
        let location = path
            .map(|path| {
                std::fs::canonicalize(path)
                    .unwrap_or_else(|_| path.to_owned())
                    .display()
                    .to_string()
            })
            .unwrap_or_default();
        let statements = Arc::new(Statements::new("", Dialect::Sqlite));
        prepare(&mut connection, &statements).map_err(|message| LedgerError {
            location: location.clone(),
            message,
        })?;
        let (jobs, queue) = mpsc::channel();
        let failure = Arc::new(Mutex::new(None));
        let thread = {
            let (failure, statements) = (failure.clone(), statements.clone());
            std::thread::Builder::new()
                .name("payout-ledger".into())
                .spawn(move || serve(connection, queue, &statements, &failure))
                .map_err(|e| LedgerError {
                    location: location.clone(),
                    message: format!("cannot start its writer: {e}"),
                })?
        };
        let path = path.map(|path| std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned()));
        Ok(Self {
            lease_path: path.clone(),
            path,
            location,
            jobs: Some(jobs),
            thread: Some(thread),
            failure,
            leases: Mutex::default(),
            statements,
        })
    }

    fn error(&self, message: impl Into<String>) -> LedgerError {
        LedgerError {
            location: self.location.clone(),
            message: message.into(),
        }
    }

    fn send(&self, job: Job) -> Result<(), LedgerError> {
        self.jobs
            .as_ref()
            .and_then(|jobs| jobs.send(job).ok())
            .ok_or_else(|| self.stopped())
    }

    /// Whether a process holds the lease `key` through another file than
    /// this process's.
    fn lease_held(&self, key: i64) -> Result<bool, LedgerError> {
        let Some(path) = &self.lease_path else {
            return Ok(false);
        };
        let leases = self.leases.lock().unwrap_or_else(|e| e.into_inner());
        file_lease_held(path, key, leases.get(&key).map(PathBuf::as_path))
            .map_err(|e| self.error(format!("cannot look at a run's lease: {e}")))
    }

    fn stopped(&self) -> LedgerError {
        let failure = self
            .failure
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        self.error(match failure {
            Some(failure) => format!("cannot write it: {failure}"),
            None => "its writer stopped".into(),
        })
    }

    /// Queues `write` and waits for its transaction.
    fn write(&self, write: Write) -> LedgerFuture<'_, bool> {
        let (reply, answer) = oneshot::channel();
        let sent = self.send(Job::Write(write, Some(reply)));
        Box::pin(async move {
            sent?;
            match answer.await {
                Ok(Ok(done)) => Ok(done),
                Ok(Err(message)) => Err(self.error(format!("cannot write it: {message}"))),
                Err(_) => Err(self.stopped()),
            }
        })
    }

    /// Runs `work` on the connection, alone.
    fn alone<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Connection, &Statements) -> Result<T, String> + Send + 'static,
    ) -> LedgerFuture<'_, T> {
        let (reply, answer) = oneshot::channel();
        let statements = self.statements.clone();
        let sent = self.send(Job::Alone(Box::new(move |connection| {
            let _ = reply.send(work(connection, &statements));
        })));
        Box::pin(async move {
            sent?;
            match answer.await {
                Ok(Ok(value)) => Ok(value),
                Ok(Err(message)) => Err(self.error(message)),
                Err(_) => Err(self.stopped()),
            }
        })
    }
}

/// Copies the database `from` into `to` in one step: one read transaction,
/// whatever runs meanwhile commit (a copy made page by page starts again at
/// each of their commits).
fn copy_whole(from: &Connection, to: &mut Connection) -> rusqlite::Result<()> {
    use rusqlite::backup::{Backup, StepResult};
    let backup = Backup::new(from, to)?;
    let started = std::time::Instant::now();
    loop {
        match backup.step(-1)? {
            StepResult::Done => return Ok(()),
            StepResult::More | StepResult::Busy | StepResult::Locked
                if started.elapsed() < BUSY_TIMEOUT =>
            {
                std::thread::sleep(Duration::from_millis(5));
            }
            _ => {
                return Err(rusqlite::Error::SqliteFailure(
                    rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
                    Some("the ledger stayed busy".into()),
                ));
            }
        }
    }
}

/// Refuses a path that holds anything but a ledger. `Ok(true)`: a ledger
/// is there; `Ok(false)`: nothing is (no file, or an empty one).
fn refuse_what_is_not_a_ledger(path: &Path, reading: bool) -> Result<bool, String> {
    let mut start = [0; 16];
    let read = match std::fs::File::open(path) {
        Ok(file) => file
            .take(16)
            .read(&mut start)
            .map_err(|e| format!("cannot read it: {e}"))?,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(error) if error.kind() == std::io::ErrorKind::IsADirectory => {
            return Err("it is a directory, not a ledger: give the ledger's file".into());
        }
        Err(error) if reading => return Err(format!("cannot read it: {error}")),
        Err(_) => return Ok(true),
    };
    if read == 0 {
        return Ok(false);
    }
    if &start[..read] != b"SQLite format 3\0" {
        return Err(
            "it holds something other than a payout ledger (it is not an SQLite database): \
             nothing was written to it; give the ledger's path, or a new one"
                .into(),
        );
    }
    Ok(true)
}

/// Sets the connection up: a ledger's database, or a new one made so.
/// Nothing is written to a database that is not a ledger.
fn prepare(connection: &mut Connection, statements: &Statements) -> Result<(), String> {
    let failed = |e: rusqlite::Error| e.to_string();
    connection.busy_timeout(BUSY_TIMEOUT).map_err(failed)?;
    let (application, version) = identify(connection)?;
    if application == APPLICATION_ID && version == SCHEMA_VERSION {
        return set_journal_mode(connection);
    }
    set_journal_mode(connection)?;
    let transaction = connection
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(failed)?;
    // Another process may have made it meanwhile: asked again, alone.
    identify(&transaction)?;
    transaction
        .execute_batch(&format!(
            "{}
             CREATE TABLE IF NOT EXISTS ledgers (environment TEXT NOT NULL, account TEXT NOT NULL, \
             location TEXT NOT NULL, since TEXT NOT NULL, PRIMARY KEY (environment, account));
             CREATE TABLE IF NOT EXISTS syncs (id INTEGER PRIMARY KEY, count INTEGER NOT NULL);
             INSERT OR IGNORE INTO syncs (id, count) VALUES (1, 0);
             PRAGMA application_id = {APPLICATION_ID};
             PRAGMA user_version = {SCHEMA_VERSION};",
            statements.schema
        ))
        .map_err(failed)?;
    transaction.commit().map_err(failed)
}

/// The database's application id and schema version, read together;
/// refuses another program's database and a newer version's ledger.
fn identify(connection: &Connection) -> Result<(i64, i64), String> {
    let read = || -> rusqlite::Result<(i64, i64, i64)> {
        connection.execute_batch("SAVEPOINT identify")?;
        let read = (|| {
            Ok((
                connection.query_row("PRAGMA application_id", [], |row| row.get(0))?,
                connection.query_row("PRAGMA user_version", [], |row| row.get(0))?,
                connection.query_row("SELECT count(*) FROM sqlite_master", [], |row| row.get(0))?,
            ))
        })();
        connection.execute_batch("RELEASE identify")?;
        read
    };
    let (application, version, tables) = read()
        .map_err(|e| format!("it is not a payout ledger ({e}): nothing was written to it"))?;
    if application != APPLICATION_ID && (application != 0 || tables > 0) {
        return Err(
            "it is an SQLite database of another program, not a payout ledger: nothing was \
             written to it; give the ledger's path, or a new one"
                .into(),
        );
    }
    if version > SCHEMA_VERSION {
        return Err(format!(
            "it was made by a newer version of this tool (schema {version}; this one knows \
             {SCHEMA_VERSION}): use that version"
        ));
    }
    Ok((application, version))
}

/// Write-ahead logging, synced on commit. Setting the journal mode needs
/// the database to itself, and SQLite answers "busy" at once instead of
/// waiting: waited for here.
fn set_journal_mode(connection: &Connection) -> Result<(), String> {
    let started = std::time::Instant::now();
    loop {
        match connection.query_row("PRAGMA journal_mode = WAL", [], |row| {
            row.get::<_, String>(0)
        }) {
            Ok(_) => break,
            Err(rusqlite::Error::SqliteFailure(error, _))
                if error.code == rusqlite::ErrorCode::DatabaseBusy
                    && started.elapsed() < BUSY_TIMEOUT =>
            {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(error) => return Err(error.to_string()),
        }
    }
    connection
        .execute_batch("PRAGMA synchronous = FULL")
        .map_err(|e| e.to_string())
}

/// The writer: jobs one after the other; writes that queue up together go
/// into one transaction, synced if any of them must be durable (outcomes
/// alone are written, not synced: safe from a crash of the process, and
/// taken to disk by the next synced transaction). After a failed
/// transaction it stops, so every later job fails too.
fn serve(
    mut connection: Connection,
    queue: mpsc::Receiver<Job>,
    statements: &Statements,
    failure: &Mutex<Option<String>>,
) {
    let mut durable_mode = true;
    let mut batch: Vec<(Write, Option<Reply<bool>>)> = Vec::new();
    while let Ok(job) = queue.recv() {
        let mut alone = None;
        match job {
            Job::Write(write, reply) => batch.push((write, reply)),
            Job::Alone(work) => alone = Some(work),
        }
        while alone.is_none() {
            match queue.try_recv() {
                Ok(Job::Write(write, reply)) => batch.push((write, reply)),
                Ok(Job::Alone(work)) => alone = Some(work),
                Err(_) => break,
            }
        }
        let durable = batch.iter().any(|(write, _)| write.durable());
        if let Err(message) = commit(
            &mut connection,
            statements,
            &mut batch,
            durable,
            &mut durable_mode,
        ) {
            failure
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get_or_insert(message);
            break;
        }
        if let Some(work) = alone {
            work(&mut connection);
        }
    }
}

/// Writes `batch` in one transaction, synced when `durable`, and answers
/// each write.
fn commit(
    connection: &mut Connection,
    statements: &Statements,
    batch: &mut Vec<(Write, Option<Reply<bool>>)>,
    durable: bool,
    durable_mode: &mut bool,
) -> Result<(), String> {
    if batch.is_empty() {
        return Ok(());
    }
    if durable != *durable_mode {
        let mode = if durable { "FULL" } else { "NORMAL" };
        let _ = connection.execute_batch(&format!("PRAGMA synchronous = {mode}"));
        *durable_mode = durable;
    }
    let written = write_batch(connection, statements, batch);
    let replies = batch.drain(..).map(|(_, reply)| reply);
    match written {
        Ok(answers) => {
            for (reply, answer) in replies.zip(answers) {
                if let Some(reply) = reply {
                    let _ = reply.send(Ok(answer));
                }
            }
            if durable {
                tracing::debug!("ledger synced");
            }
            Ok(())
        }
        Err(message) => {
            for reply in replies.flatten() {
                let _ = reply.send(Err(message.clone()));
            }
            Err(message)
        }
    }
}

fn write_batch(
    connection: &mut Connection,
    statements: &Statements,
    batch: &[(Write, Option<Reply<bool>>)],
) -> Result<Vec<bool>, String> {
    let failed = |e: rusqlite::Error| e.to_string();
    let transaction = connection
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(failed)?;
    let now = now();
    let mut answers = Vec::with_capacity(batch.len());
    for (write, _) in batch {
        let changed = match write {
            Write::Claim { run, line, after } => transaction
                .prepare_cached(&statements.claim)
                .and_then(|mut s| s.execute(bind(&[run, line, after, &now]).as_slice())),
            Write::Judge {
                run,
                line,
                attempt,
                credited,
            } => judge(
                &transaction,
                statements,
                (run, *line, *attempt),
                *credited,
                &now,
            ),
            Write::ClaimCancel {
                run,
                line,
                attempt,
                state,
            } => transaction
                .prepare_cached(&statements.claim_cancel)
                .and_then(|mut s| {
                    s.execute(bind(&[run, line, attempt, &state.to_json(), &now]).as_slice())
                }),
            Write::Record {
                run,
                line,
                attempt,
                state,
            } => {
                let changed = transaction
                    .prepare_cached(&statements.record)
                    .and_then(|mut s| {
                        s.execute(
                            bind(&[run, line, attempt, &state.kind(), &state.to_json(), &now])
                                .as_slice(),
                        )
                    })
                    .map_err(failed)?;
                if changed == 0 {
                    return Err(format!(
                        "the intent of line {line}, attempt {attempt}, is not in the ledger: it \
                         was edited or damaged"
                    ));
                }
                Ok(changed)
            }
            Write::Sync => transaction.execute("UPDATE syncs SET count = count + 1", []),
        }
        .map_err(failed)?;
        answers.push(changed == 1);
    }
    transaction.commit().map_err(failed)?;
    Ok(answers)
}

/// A person's word on an attempt: on one in doubt, its state; on one in
/// conflict, the conflict cleared and the word a new attempt (unless it
/// agrees with a credit the vendor made). 1 when it landed.
fn judge(
    transaction: &rusqlite::Transaction<'_>,
    statements: &Statements,
    (run, line, attempt): (&String, i64, i32),
    credited: bool,
    now: &str,
) -> rusqlite::Result<usize> {
    let word = if credited {
        AttemptState::ConfirmedSent
    } else {
        AttemptState::NotCredited
    };
    let (kind, state) = (word.kind(), word.to_json());
    let judged = transaction
        .prepare_cached(&statements.judge_in_doubt)?
        .execute(bind(&[run, &line, &attempt, &now, &kind, &state]).as_slice())?;
    if judged == 1 {
        return Ok(1);
    }
    let acknowledged: Option<String> = transaction
        .prepare_cached(&statements.acknowledge)?
        .query_row(bind(&[run, &line, &attempt, &now]).as_slice(), |row| {
            row.get(0)
        })
        .optional()?;
    let Some(vendor_said) = acknowledged else {
        return Ok(0);
    };
    if !credited || !CREDITS.contains(&vendor_said.as_str()) {
        transaction
            .prepare_cached(&statements.add_judgment)?
            .execute(bind(&[run, &line, &now, &kind, &state]).as_slice())?;
    }
    Ok(1)
}

fn run_record(row: &rusqlite::Row<'_>) -> rusqlite::Result<Option<RunRecord>> {
    let environment: String = row.get(1)?;
    let account: String = row.get(2)?;
    let Some(scope) = LedgerScope::stored(&environment, &account) else {
        return Ok(None);
    };
    Ok(Some(RunRecord {
        id: row.get(0)?,
        scope,
        name: row.get(3)?,
        file: row.get(4)?,
        sha256: row.get(5)?,
        rows: row.get::<_, i64>(6)?.max(0) as u64,
        started: row.get(7)?,
        source: row.get(8)?,
    }))
}

fn query_runs(
    connection: &Connection,
    sql: &str,
    values: &[&dyn ToSql],
) -> Result<Vec<RunRecord>, String> {
    let mut statement = connection.prepare_cached(sql).map_err(|e| e.to_string())?;
    let runs = statement
        .query_map(bind(values).as_slice(), run_record)
        .map_err(|e| e.to_string())?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(|e| e.to_string())?;
    Ok(runs.into_iter().flatten().collect())
}

fn read_history(
    connection: &Connection,
    sql: &str,
    values: &[&dyn ToSql],
) -> Result<RunHistory, String> {
    let mut statement = connection.prepare_cached(sql).map_err(|e| e.to_string())?;
    let mut rows = statement
        .query(bind(values).as_slice())
        .map_err(|e| e.to_string())?;
    let mut history = RunHistory::new();
    while let Some(row) = rows.next().map_err(|e| e.to_string())? {
        let line: i64 = row.get(0).map_err(|e| e.to_string())?;
        let number: i64 = row.get(1).map_err(|e| e.to_string())?;
        let state: String = row.get(2).map_err(|e| e.to_string())?;
        let overruled: Option<String> = row.get(3).map_err(|e| e.to_string())?;
        let state = AttemptState::from_json(&state)
            .map_err(|e| format!("line {line}, attempt {number}: {e}"))?;
        history
            .entry(line as u64)
            .or_default()
            .attempts
            .push(Attempt {
                number: number as u32,
                state,
                overruled: overruled.as_deref().and_then(Judgment::from_kind),
            });
    }
    Ok(history)
}

fn read_rows(
    connection: &Connection,
    sql: &str,
    values: &[&dyn ToSql],
) -> Result<Vec<LedgerRow>, String> {
    let mut statement = connection.prepare_cached(sql).map_err(|e| e.to_string())?;
    statement
        .query_map(bind(values).as_slice(), ledger_row)
        .map_err(|e| e.to_string())?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(|e| e.to_string())
}

/// A row of the `rows` statements (line, email, points, name).
fn ledger_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<LedgerRow> {
    Ok(LedgerRow {
        line: row.get::<_, i64>(0)? as u64,
        email: row.get(1)?,
        points: row.get::<_, i64>(2)?.max(0) as u64,
        name: row.get(3)?,
    })
}

fn lines_json(lines: &[u64]) -> String {
    serde_json::to_string(lines).unwrap_or_else(|_| "[]".into())
}

impl Ledger for SqliteLedger {
    fn location(&self) -> String {
        self.location.clone()
    }

    fn transaction(&self, _dry: bool) -> LedgerFuture<'_, Box<dyn LedgerTransaction + '_>> {
        Box::pin(async move {
            self.alone(|connection, _| {
                connection
                    .execute_batch("BEGIN IMMEDIATE")
                    .map_err(|e| format!("cannot begin a transaction: {e}"))
            })
            .await?;
            Ok(Box::new(SqliteTransaction { ledger: self }) as Box<dyn LedgerTransaction>)
        })
    }

    fn lease(&self, key: i64) -> LedgerFuture<'_, Lease> {
        Box::pin(async move {
            let path = self
                .path
                .clone()
                .ok_or_else(|| self.error("a ledger in memory holds no lease"))?;
            let (lease, file) = tokio::task::spawn_blocking(move || take_file_lease(&path, key))
                .await
                .map_err(|e| self.error(e.to_string()))?
                .map_err(|e| self.error(format!("cannot hold the run's lease: {e}")))?;
            self.leases
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(key, file);
            Ok(lease)
        })
    }

    fn held_elsewhere(&self, key: i64) -> LedgerFuture<'_, bool> {
        Box::pin(async move { self.lease_held(key) })
    }

    fn claim(&self, run: &str, line: u64, after: u32) -> LedgerFuture<'_, bool> {
        self.write(Write::Claim {
            run: run.to_owned(),
            line: line as i64,
            after: after as i32,
        })
    }

    fn judge(&self, run: &str, line: u64, attempt: u32, credited: bool) -> LedgerFuture<'_, bool> {
        self.write(Write::Judge {
            run: run.to_owned(),
            line: line as i64,
            attempt: attempt as i32,
            credited,
        })
    }

    fn claim_cancel(&self, run: &str, line: u64, attempt: u32) -> LedgerFuture<'_, bool> {
        let run = run.to_owned();
        Box::pin(async move {
            let history = self.history(&run, Some(&[line])).await?;
            let Some(transaction) = history
                .get(&line)
                .and_then(|row| row.attempt(attempt))
                .and_then(|attempt| attempt.state.transaction())
            else {
                return Ok(false);
            };
            self.write(Write::ClaimCancel {
                run,
                line: line as i64,
                attempt: attempt as i32,
                state: AttemptState::Cancelling { transaction },
            })
            .await
        })
    }

    fn record(
        &self,
        run: &str,
        line: u64,
        attempt: u32,
        state: AttemptState,
    ) -> LedgerFuture<'_, ()> {
        // Queued now, in order; written with the next transaction.
        let sent = self.send(Job::Write(
            Write::Record {
                run: run.to_owned(),
                line: line as i64,
                attempt: attempt as i32,
                state,
            },
            None,
        ));
        Box::pin(async move { sent })
    }

    fn sync(&self) -> LedgerFuture<'_, ()> {
        Box::pin(async move {
            self.write(Write::Sync).await?;
            Ok(())
        })
    }

    fn history<'a>(
        &'a self,
        run: &'a str,
        lines: Option<&'a [u64]>,
    ) -> LedgerFuture<'a, RunHistory> {
        Box::pin(async move {
            self.sync().await?;
            let run = run.to_owned();
            let lines = lines.map(lines_json);
            self.alone(move |connection, statements| match &lines {
                None => read_history(connection, &statements.history, &[&run]),
                Some(lines) => {
                    read_history(connection, &statements.history_of_lines, &[&run, lines])
                }
            })
            .await
        })
    }

    fn rows<'a>(&'a self, run: &'a str, lines: &'a [u64]) -> LedgerFuture<'a, Vec<LedgerRow>> {
        let (run, lines) = (run.to_owned(), lines_json(lines));
        self.alone(move |connection, statements| {
            read_rows(connection, &statements.rows_of_lines, &[&run, &lines])
        })
    }

    fn overruled(&self, run: &str) -> LedgerFuture<'_, Vec<u64>> {
        let run = run.to_owned();
        Box::pin(async move {
            self.sync().await?;
            self.alone(move |connection, statements| {
                let mut statement = connection
                    .prepare_cached(&statements.overruled)
                    .map_err(|e| e.to_string())?;
                let lines = statement
                    .query_map(bind(&[&run]).as_slice(), |row| row.get::<_, i64>(0))
                    .map_err(|e| e.to_string())?
                    .collect::<rusqlite::Result<Vec<i64>>>()
                    .map_err(|e| e.to_string())?;
                Ok(lines.into_iter().map(|line| line as u64).collect())
            })
            .await
        })
    }

    fn shared(&self) -> bool {
        false
    }
}

/// A run's beginning in an SQLite ledger: `BEGIN IMMEDIATE` takes the
/// database's write lock, so beginnings are serialized across processes.
struct SqliteTransaction<'a> {
    ledger: &'a SqliteLedger,
}

impl SqliteTransaction<'_> {
    fn end(&self, statement: &'static str) -> LedgerFuture<'static, ()> {
        // The job is queued now: it runs before anything queued later.
        let (reply, answer) = oneshot::channel();
        let sent = self.ledger.send(Job::Alone(Box::new(move |connection| {
            let _ = reply.send(
                connection
                    .execute_batch(statement)
                    .map_err(|e| e.to_string()),
            );
        })));
        let location = self.ledger.location.clone();
        Box::pin(async move {
            let error = |message: String| LedgerError {
                location: location.clone(),
                message,
            };
            sent?;
            match answer.await {
                Ok(result) => result.map_err(|e| error(format!("cannot end the transaction: {e}"))),
                Err(_) => Err(error("its writer stopped".into())),
            }
        })
    }
}

impl LedgerTransaction for SqliteTransaction<'_> {
    fn runs_named<'a>(
        &'a mut self,
        scope: &'a LedgerScope,
        name: &'a str,
    ) -> LedgerFuture<'a, Vec<RunRecord>> {
        let (environment, account, name) = (
            scope.environment().slug(),
            scope.account().to_owned(),
            name.to_owned(),
        );
        self.ledger.alone(move |connection, statements| {
            query_runs(
                connection,
                &statements.runs_named,
                &[&environment, &account, &name],
            )
        })
    }

    fn runs<'a>(&'a mut self, ids: &'a [String]) -> LedgerFuture<'a, Vec<RunRecord>> {
        let ids = ids.to_vec();
        self.ledger.alone(move |connection, statements| {
            let mut runs = Vec::new();
            for id in &ids {
                runs.extend(query_runs(connection, &statements.run_by_id, &[id])?);
            }
            Ok(runs)
        })
    }

    fn runs_with_content<'a>(
        &'a mut self,
        scope: &'a LedgerScope,
        sha256: &'a str,
    ) -> LedgerFuture<'a, Vec<RunRecord>> {
        let (environment, account, sha256) = (
            scope.environment().slug(),
            scope.account().to_owned(),
            sha256.to_owned(),
        );
        self.ledger.alone(move |connection, statements| {
            query_runs(
                connection,
                &statements.runs_with_content,
                &[&environment, &account, &sha256],
            )
        })
    }

    fn create_run<'a>(
        &'a mut self,
        run: &'a RunRecord,
        rows: Arc<[LedgerRow]>,
    ) -> LedgerFuture<'a, ()> {
        let run = run.clone();
        self.ledger.alone(move |connection, statements| {
            let failed = |e: rusqlite::Error| e.to_string();
            let rows_count = run.rows as i64;
            connection
                .prepare_cached(&statements.create_run)
                .and_then(|mut s| {
                    s.execute(
                        bind(&[
                            &run.id,
                            &run.scope.environment().slug(),
                            &run.scope.account(),
                            &run.name,
                            &run.file,
                            &run.sha256,
                            &rows_count,
                            &run.started,
                            &run.source,
                        ])
                        .as_slice(),
                    )
                })
                .map_err(failed)?;
            let mut add = connection
                .prepare_cached(&statements.add_row)
                .map_err(failed)?;
            for row in rows.iter() {
                add.execute(
                    bind(&[
                        &run.id,
                        &(row.line as i64),
                        &row.email,
                        &recipient_key(&row.email),
                        &(row.points as i64),
                        &row.name,
                    ])
                    .as_slice(),
                )
                .map_err(failed)?;
            }
            Ok(())
        })
    }

    fn rows<'a>(&'a mut self, run: &'a str) -> LedgerFuture<'a, Vec<LedgerRow>> {
        let run = run.to_owned();
        self.ledger
            .alone(move |connection, statements| read_rows(connection, &statements.rows, &[&run]))
    }

    fn contents<'a>(&'a mut self, run: &'a str) -> LedgerFuture<'a, Vec<RecordedContent>> {
        let run = run.to_owned();
        self.ledger.alone(move |connection, statements| {
            let mut statement = connection
                .prepare_cached(&statements.rows)
                .map_err(|e| e.to_string())?;
            let mut rows = statement
                .query(bind(&[&run]).as_slice())
                .map_err(|e| e.to_string())?;
            let mut contents = Vec::new();
            while let Some(row) = rows.next().map_err(|e| e.to_string())? {
                contents.push(RecordedContent::of(
                    &ledger_row(row).map_err(|e| e.to_string())?,
                ));
            }
            Ok(contents)
        })
    }

    fn history<'a>(&'a mut self, run: &'a str) -> LedgerFuture<'a, RunHistory> {
        let run = run.to_owned();
        self.ledger.alone(move |connection, statements| {
            read_history(connection, &statements.history, &[&run])
        })
    }

    fn put_attempts<'a>(
        &'a mut self,
        run: &'a str,
        attempts: &'a [(u64, Attempt)],
    ) -> LedgerFuture<'a, ()> {
        let (run, attempts) = (run.to_owned(), attempts.to_vec());
        self.ledger.alone(move |connection, statements| {
            let mut put = connection
                .prepare_cached(&statements.put_attempt)
                .map_err(|e| e.to_string())?;
            let now = now();
            for (line, attempt) in &attempts {
                put.execute(
                    bind(&[
                        &run,
                        &(*line as i64),
                        &(attempt.number as i64),
                        &attempt.state.kind(),
                        &attempt.state.to_json(),
                        &now,
                    ])
                    .as_slice(),
                )
                .map_err(|e| e.to_string())?;
            }
            Ok(())
        })
    }

    fn alike_elsewhere<'a>(
        &'a mut self,
        scope: &'a LedgerScope,
        run: &'a str,
        lines: &'a [u64],
    ) -> LedgerFuture<'a, Vec<AlikeRun>> {
        let (run, environment, lines, account) = (
            run.to_owned(),
            scope.environment().slug(),
            lines_json(lines),
            scope.account().to_owned(),
        );
        self.ledger.alone(move |connection, statements| {
            let mut statement = connection
                .prepare_cached(&statements.alike_elsewhere)
                .map_err(|e| e.to_string())?;
            statement
                .query_map(
                    bind(&[&run, &environment, &lines, &account]).as_slice(),
                    |row| {
                        Ok(AlikeRun {
                            run: row.get(0)?,
                            rows: row.get::<_, i64>(1)?.max(0) as u64,
                            credited: row.get::<_, i64>(2)?.max(0) as u64,
                        })
                    },
                )
                .map_err(|e| e.to_string())?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(|e| e.to_string())
        })
    }

    fn allow_overlaps<'a>(
        &'a mut self,
        run: &'a str,
        others: &'a [String],
    ) -> LedgerFuture<'a, ()> {
        let (run, others) = (run.to_owned(), others.to_vec());
        self.ledger.alone(move |connection, statements| {
            for other in &others {
                connection
                    .execute(&statements.allow_overlap, bind(&[&run, other]).as_slice())
                    .map_err(|e| e.to_string())?;
            }
            Ok(())
        })
    }

    fn live(&mut self, key: i64) -> LedgerFuture<'_, bool> {
        Box::pin(async move { self.ledger.lease_held(key) })
    }

    fn imported<'a>(
        &'a mut self,
        source: &'a str,
        digest: &'a str,
        scope: &'a LedgerScope,
    ) -> LedgerFuture<'a, bool> {
        let (source, digest) = (source.to_owned(), digest.to_owned());
        let (environment, account) = (scope.environment().slug(), scope.account().to_owned());
        self.ledger.alone(move |connection, statements| {
            connection
                .query_row(
                    &statements.imported,
                    bind(&[&source, &digest, &environment, &account]).as_slice(),
                    |row| row.get(0),
                )
                .map_err(|e| e.to_string())
        })
    }

    fn mark_imported<'a>(
        &'a mut self,
        source: &'a str,
        digest: &'a str,
        scope: &'a LedgerScope,
    ) -> LedgerFuture<'a, ()> {
        let (source, digest) = (source.to_owned(), digest.to_owned());
        let (environment, account) = (scope.environment().slug(), scope.account().to_owned());
        self.ledger.alone(move |connection, statements| {
            connection
                .execute(
                    &statements.mark_imported,
                    bind(&[&source, &digest, &environment, &account]).as_slice(),
                )
                .map(drop)
                .map_err(|e| e.to_string())
        })
    }

    fn commit(self: Box<Self>) -> LedgerFuture<'static, ()> {
        self.end("COMMIT")
    }

    fn rollback(self: Box<Self>) -> LedgerFuture<'static, ()> {
        self.end("ROLLBACK")
    }
}

/// Reads the `ledgers` table of the database at `path` (this machine's
/// registry): the ledger recorded for a scope, and since when.
pub(super) fn registered(
    connection: &Connection,
    scope: &LedgerScope,
) -> Result<Option<(String, String)>, String> {
    connection
        .query_row(
            "SELECT location, since FROM ledgers WHERE environment = ?1 AND account = ?2",
            [scope.environment().slug(), scope.account()],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()
        .map_err(|e| e.to_string())
}

/// Opens the registry's database (the default ledger), for `reading` only
/// (read-only: nothing written, not even a checkpoint; `None` when it does
/// not exist) or to write it.
pub(super) fn open_registry(path: &Path, reading: bool) -> Result<Option<Connection>, String> {
    let exists = refuse_what_is_not_a_ledger(path, reading)?;
    if reading {
        if !exists {
            return Ok(None);
        }
        let connection = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(|e| format!("cannot read it: {e}"))?;
        connection
            .busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| e.to_string())?;
        identify(&connection)?;
        return Ok(Some(connection));
    }
    if let Some(directory) = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
    {
        std::fs::create_dir_all(directory)
            .map_err(|e| format!("cannot make its directory: {e}"))?;
    }
    let mut connection = Connection::open(path).map_err(|e| format!("cannot open it: {e}"))?;
    prepare(&mut connection, &Statements::new("", Dialect::Sqlite))?;
    Ok(Some(connection))
}

/// Records `location` for `scope` in the registry unless one is recorded;
/// answers the one recorded.
pub(super) fn register(
    connection: &mut Connection,
    scope: &LedgerScope,
    location: &str,
) -> Result<(String, String), String> {
    let transaction = connection
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| e.to_string())?;
    let known = registered(&transaction, scope)?;
    let answer = match known {
        Some(known) => known,
        None => {
            let since = now();
            transaction
                .execute(
                    "INSERT INTO ledgers (environment, account, location, since) \
                     VALUES (?1, ?2, ?3, ?4)",
                    [
                        scope.environment().slug(),
                        scope.account(),
                        location,
                        &since,
                    ],
                )
                .map_err(|e| e.to_string())?;
            (location.to_owned(), since)
        }
    };
    transaction.commit().map_err(|e| e.to_string())?;
    Ok(answer)
}
