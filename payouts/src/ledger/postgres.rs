//! [`PostgresLedger`] (feature `postgres`): the ledger's schema in a
//! PostgreSQL database, which workers on several machines share. Every
//! statement commits on its own (a claim is durable when it returns: each
//! session asks for `synchronous_commit = on`, whatever the server's
//! default); a run's beginning is one transaction, serialized with every
//! other beginning in the same tables by an advisory lock; a run's lease is
//! a session advisory lock, which the server releases when the session
//! ends.
//!
//! The tables (`<table>_runs`, `_rows`, `_attempts`, `_overlaps`,
//! `_imports`) are created when missing; a role without CREATE can use
//! tables made for it (SELECT, INSERT and UPDATE granted). Errors carry the
//! server's SQLSTATE and message, never its detail (which can quote a row)
//! nor the password.

use std::sync::Arc;

use tokio_postgres::Client;
use tokio_postgres::types::ToSql;
use xoxoday_reward_points::{ConnectError, EpochMillis, PostgresTarget};

use super::legacy::{LegacyJournal, LegacyRecord};
use super::sql::{Dialect, Statements};
use super::{
    AlikeRun, Attempt, AttemptState, Judgment, Lease, Ledger, LedgerError, LedgerFuture, LedgerRow,
    LedgerScope, LedgerTransaction, RecordedContent, RunHistory, RunKey, RunRecord, recipient_key,
};

/// The tables' name unless told otherwise.
pub const DEFAULT_LEDGER_TABLE: &str = "reward_points_payout_ledger";

/// The table of the journal earlier versions kept in PostgreSQL (its runs
/// in `<table>_runs`): imported as journal files are.
const EARLIER_JOURNAL_TABLE: &str = "reward_points_payout_journal";

/// A ledger in PostgreSQL tables, shared by every worker of every run.
pub struct PostgresLedger {
    client: Arc<Client>,
    table: String,
    location: String,
    /// `postgresql://USER@HOST:PORT/DATABASE`.
    server: String,
    statements: Statements,
    /// A dry run's ledger whose tables do not exist: they are made inside
    /// its transaction, which keeps nothing.
    tables_missing: bool,
}

fn now() -> String {
    httpdate::fmt_http_date(EpochMillis::now().into())
}

/// `postgresql://USER@HOST:PORT/DATABASE`: what tells one server's database
/// from another (the port too: two servers on one host are two), never the
/// password.
fn describe(config: &tokio_postgres::Config) -> String {
    use tokio_postgres::config::Host;
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(name)) => name.clone(),
        #[cfg(unix)]
        Some(Host::Unix(path)) => path.display().to_string().replace('/', "%2F"),
        None => "localhost".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!(
        "postgresql://{}@{host}:{port}/{}",
        config.get_user().unwrap_or_default(),
        config.get_dbname().unwrap_or_default()
    )
}

impl PostgresLedger {
    /// Connects to `url` (completed from libpq's environment variables and
    /// password file; TLS off loopback, as `PostgresTarget` says) and
    /// creates the tables named after `table` when missing.
    pub async fn connect(url: &str, table: &str) -> Result<Self, LedgerError> {
        let mut ledger = Self::connect_only(url, table).await?;
        if ledger.tables_missing {
            ledger.create_tables().await?;
            ledger.tables_missing = false;
        }
        Ok(ledger)
    }

    /// As [`PostgresLedger::connect`], for a dry run: nothing is created.
    pub async fn connect_for_dry_run(url: &str, table: &str) -> Result<Self, LedgerError> {
        Self::connect_only(url, table).await
    }

    async fn connect_only(url: &str, table: &str) -> Result<Self, LedgerError> {
        let target = PostgresTarget::from_url(url).map_err(|message| LedgerError {
            location: "postgres".into(),
            message,
        })?;
        if table.is_empty() || !table.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(LedgerError {
                location: table.to_owned(),
                message: "a table name is letters, digits and `_`".into(),
            });
        }
        let server = describe(target.config());
        let location = format!("{server}, table {table}");
        let client = target.connect().await.map_err(|error| LedgerError {
            location: location.clone(),
            message: format!("cannot connect: {error}"),
        })?;
        let mut ledger = Self {
            client: Arc::new(client),
            table: table.to_owned(),
            statements: Statements::new(&format!("{table}_"), Dialect::Postgres),
            location,
            server,
            tables_missing: false,
        };
        let exists = ledger
            .client
            .query_one(
                "SELECT to_regclass($1) IS NOT NULL AND to_regclass($2) IS NOT NULL",
                &[&format!("{table}_runs"), &format!("{table}_imports")],
            )
            .await
            .map_err(|error| ledger.error("look for the ledger's tables", error))?
            .get::<_, bool>(0);
        ledger.tables_missing = !exists;
        Ok(ledger)
    }

    async fn create_tables(&self) -> Result<(), LedgerError> {
        // Two workers starting at once would collide in `CREATE TABLE IF
        // NOT EXISTS` (PostgreSQL checks the catalog before it locks it).
        self.client
            .batch_execute(&format!(
                "BEGIN;
                 SELECT pg_advisory_xact_lock(hashtextextended('xoxoday-reward-points:create-table', 0));
                 {}
                 COMMIT;",
                self.statements.schema
            ))
            .await
            .map_err(|error| self.error("create the ledger's tables", error))
    }

    fn error(&self, doing: &str, error: tokio_postgres::Error) -> LedgerError {
        LedgerError {
            location: self.location.clone(),
            message: format!("cannot {doing}: {}", described(error)),
        }
    }

    async fn execute(
        &self,
        doing: &str,
        sql: &str,
        values: &[&(dyn ToSql + Sync)],
    ) -> Result<u64, LedgerError> {
        self.client
            .execute(sql, values)
            .await
            .map_err(|error| self.error(doing, error))
    }

    async fn read_history(
        &self,
        sql: &str,
        values: &[&(dyn ToSql + Sync)],
    ) -> Result<RunHistory, LedgerError> {
        let rows = self
            .client
            .query(sql, values)
            .await
            .map_err(|error| self.error("read the ledger", error))?;
        let mut history = RunHistory::new();
        for row in rows {
            let read = |error: tokio_postgres::Error| self.error("read the ledger", error);
            let line: i64 = row.try_get(0).map_err(read)?;
            let number: i32 = row.try_get(1).map_err(read)?;
            let state: String = row.try_get(2).map_err(read)?;
            let overruled: Option<String> = row.try_get(3).map_err(read)?;
            let state = AttemptState::from_json(&state).map_err(|message| LedgerError {
                location: self.location.clone(),
                message: format!("line {line}, attempt {number}: {message}"),
            })?;
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

    /// The runs of the journal earlier versions kept in this database, if
    /// its tables are there; each read whole, as a journal file is.
    async fn earlier_journal(&self, key: &RunKey) -> Result<Vec<LegacyJournal>, LedgerError> {
        let table = EARLIER_JOURNAL_TABLE;
        let doing = "read the journal of an earlier version";
        if !self.earlier_journal_exists().await? {
            return Ok(Vec::new());
        }
        let runs = self
            .client
            .query(
                &format!("SELECT run, file, sha256, rows, created_at::text FROM {table}_runs ORDER BY run"),
                &[],
            )
            .await
            .map_err(|error| self.error(doing, error))?;
        // Its runs were named after the file and its digest, unless named.
        let default_name = format!(
            "{}:{}",
            key.file.name,
            key.file.sha256.chars().take(16).collect::<String>()
        );
        let mut journals = Vec::new();
        for run in runs {
            let read = |error| self.error(doing, error);
            let name: String = run.try_get(0).map_err(read)?;
            let file: String = run.try_get(1).map_err(read)?;
            let sha256: String = run.try_get(2).map_err(read)?;
            let (records, digest) = self.earlier_journal_records(&name).await?;
            journals.push(LegacyJournal {
                source: format!("{}, table {table}, run {name}", self.server),
                own: name == default_name || (key.named && name == key.name),
                digest,
                file,
                sha256,
                rows: run.try_get::<_, i64>(3).map_err(read)?.max(0) as u64,
                started: run.try_get(4).map_err(read)?,
                records,
            });
        }
        Ok(journals)
    }

    /// Whether the tables of the journal earlier versions kept are here.
    async fn earlier_journal_exists(&self) -> Result<bool, LedgerError> {
        let table = EARLIER_JOURNAL_TABLE;
        Ok(self
            .client
            .query_one(
                "SELECT to_regclass($1) IS NOT NULL AND to_regclass($2) IS NOT NULL",
                &[&format!("{table}_runs"), &table],
            )
            .await
            .map_err(|error| self.error("read the journal of an earlier version", error))?
            .get::<_, bool>(0))
    }

    /// The records of the earlier journal's run `name`, in line order, and
    /// their digest (SHA-256, hex): what tells whether they grew since
    /// imported.
    async fn earlier_journal_records(
        &self,
        name: &str,
    ) -> Result<(Vec<LegacyRecord>, String), LedgerError> {
        use sha2::{Digest, Sha256};
        let table = EARLIER_JOURNAL_TABLE;
        let read = |error| self.error("read the journal of an earlier version", error);
        let rows = self
            .client
            .query(
                &format!(
                    "SELECT line, attempt, email, points, name, state FROM {table} \
                     WHERE run = $1 ORDER BY line"
                ),
                &[&name],
            )
            .await
            .map_err(read)?;
        let mut digest = Sha256::new();
        let mut records = Vec::new();
        for row in rows {
            let line: i64 = row.try_get(0).map_err(read)?;
            let attempt: i32 = row.try_get(1).map_err(read)?;
            let state: String = row.try_get(5).map_err(read)?;
            digest.update(format!("{line}|{attempt}|{state}\n"));
            records.push(LegacyRecord {
                line: line.max(0) as u64,
                attempt: attempt.max(0) as u32,
                email: row.try_get(2).map_err(read)?,
                points: row.try_get::<_, i64>(3).map_err(read)?.max(0) as u64,
                name: row.try_get(4).map_err(read)?,
                state: AttemptState::from_json(&state).map_err(|message| LedgerError {
                    location: self.location.clone(),
                    message: format!(
                        "the journal of an earlier version (table {table}, run {name}) \
                         cannot be imported: line {line}: {message}"
                    ),
                })?,
            });
        }
        let digest = digest
            .finalize()
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        Ok((records, digest))
    }

    async fn read_rows(
        &self,
        sql: &str,
        values: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<LedgerRow>, LedgerError> {
        let rows = self
            .client
            .query(sql, values)
            .await
            .map_err(|error| self.error("read the run's rows", error))?;
        rows.iter()
            .map(|row| {
                let read = |error| self.error("read the run's rows", error);
                Ok(LedgerRow {
                    line: row.try_get::<_, i64>(0).map_err(read)? as u64,
                    email: row.try_get(1).map_err(read)?,
                    points: row.try_get::<_, i64>(2).map_err(read)?.max(0) as u64,
                    name: row.try_get(3).map_err(read)?,
                })
            })
            .collect()
    }

    async fn query_runs(
        &self,
        sql: &str,
        values: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<RunRecord>, LedgerError> {
        let rows = self
            .client
            .query(sql, values)
            .await
            .map_err(|error| self.error("read the runs", error))?;
        let mut runs = Vec::new();
        for row in rows {
            let read = |error: tokio_postgres::Error| self.error("read the runs", error);
            let environment: String = row.try_get(1).map_err(read)?;
            let account: String = row.try_get(2).map_err(read)?;
            let Some(scope) = LedgerScope::stored(&environment, &account) else {
                continue;
            };
            runs.push(RunRecord {
                id: row.try_get(0).map_err(read)?,
                scope,
                name: row.try_get(3).map_err(read)?,
                file: row.try_get(4).map_err(read)?,
                sha256: row.try_get(5).map_err(read)?,
                rows: row.try_get::<_, i64>(6).map_err(read)?.max(0) as u64,
                started: row.try_get(7).map_err(read)?,
                source: row.try_get(8).map_err(read)?,
            });
        }
        Ok(runs)
    }
}

impl Ledger for PostgresLedger {
    fn location(&self) -> String {
        self.location.clone()
    }

    fn transaction(&self, _dry: bool) -> LedgerFuture<'_, Box<dyn LedgerTransaction + '_>> {
        Box::pin(async move {
            let schema = if self.tables_missing {
                self.statements.schema.as_str()
            } else {
                ""
            };
            self.client
                .batch_execute(&format!(
                    "BEGIN; SELECT pg_advisory_xact_lock(hashtextextended('xoxoday-reward-points:begin:{}', 0)); {schema}",
                    self.table
                ))
                .await
                .map_err(|error| self.error("begin a transaction", error))?;
            Ok(Box::new(PostgresTransaction { ledger: self }) as Box<dyn LedgerTransaction>)
        })
    }

    fn lease(&self, key: i64) -> LedgerFuture<'_, Lease> {
        Box::pin(async move {
            self.client
                .execute("SELECT pg_advisory_lock_shared($1)", &[&key])
                .await
                .map_err(|error| self.error("hold the run's lease", error))?;
            Ok(Lease::postgres(self.client.clone(), key))
        })
    }

    fn claim(&self, run: &str, line: u64, after: u32) -> LedgerFuture<'_, bool> {
        let run = run.to_owned();
        Box::pin(async move {
            let (line, after) = (line as i64, after as i32);
            let changed = self
                .execute(
                    "record a row's intent",
                    &self.statements.claim,
                    &[&run, &line, &after, &now()],
                )
                .await?;
            Ok(changed == 1)
        })
    }

    fn judge(&self, run: &str, line: u64, attempt: u32, credited: bool) -> LedgerFuture<'_, bool> {
        let run = run.to_owned();
        Box::pin(async move {
            let word = if credited {
                AttemptState::ConfirmedSent
            } else {
                AttemptState::NotCredited
            };
            let (kind, state, now) = (word.kind(), word.to_json(), now());
            let (line, attempt) = (line as i64, attempt as i32);
            let doing = "record a person's word";
            let judged = self
                .execute(
                    doing,
                    &self.statements.judge_in_doubt,
                    &[&run, &line, &attempt, &now, &kind, &state],
                )
                .await?;
            if judged == 1 {
                return Ok(true);
            }
            let always = !credited;
            let row = self
                .client
                .query_one(
                    &self.statements.acknowledge_and_add,
                    &[&run, &line, &attempt, &now, &kind, &state, &always],
                )
                .await
                .map_err(|error| self.error(doing, error))?;
            let acknowledged: i64 = row.try_get(0).map_err(|error| self.error(doing, error))?;
            Ok(acknowledged == 1)
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
            let state = AttemptState::Cancelling { transaction }.to_json();
            let (line, attempt) = (line as i64, attempt as i32);
            let changed = self
                .execute(
                    "record a cancel's intent",
                    &self.statements.claim_cancel,
                    &[&run, &line, &attempt, &state, &now()],
                )
                .await?;
            Ok(changed == 1)
        })
    }

    fn record(
        &self,
        run: &str,
        line: u64,
        attempt: u32,
        state: AttemptState,
    ) -> LedgerFuture<'_, ()> {
        let run = run.to_owned();
        Box::pin(async move {
            let (line, attempt) = (line as i64, attempt as i32);
            let changed = self
                .execute(
                    "record an answer",
                    &self.statements.record,
                    &[
                        &run,
                        &line,
                        &attempt,
                        &state.kind(),
                        &state.to_json(),
                        &now(),
                    ],
                )
                .await?;
            if changed == 0 {
                return Err(LedgerError {
                    location: self.location.clone(),
                    message: format!(
                        "the intent of line {line}, attempt {attempt}, is not in the ledger: it \
                         was edited or damaged"
                    ),
                });
            }
            Ok(())
        })
    }

    fn sync(&self) -> LedgerFuture<'_, ()> {
        Box::pin(async { Ok(()) })
    }

    fn history<'a>(
        &'a self,
        run: &'a str,
        lines: Option<&'a [u64]>,
    ) -> LedgerFuture<'a, RunHistory> {
        Box::pin(async move {
            match lines {
                None => self.read_history(&self.statements.history, &[&run]).await,
                Some(lines) => {
                    let lines: Vec<i64> = lines.iter().map(|line| *line as i64).collect();
                    self.read_history(&self.statements.history_of_lines, &[&run, &lines])
                        .await
                }
            }
        })
    }

    fn rows<'a>(&'a self, run: &'a str, lines: &'a [u64]) -> LedgerFuture<'a, Vec<LedgerRow>> {
        Box::pin(async move {
            let lines: Vec<i64> = lines.iter().map(|line| *line as i64).collect();
            self.read_rows(&self.statements.rows_of_lines, &[&run, &lines])
                .await
        })
    }

    fn overruled(&self, run: &str) -> LedgerFuture<'_, Vec<u64>> {
        let run = run.to_owned();
        Box::pin(async move {
            let rows = self
                .client
                .query(&self.statements.overruled, &[&run])
                .await
                .map_err(|error| self.error("read the ledger", error))?;
            rows.iter()
                .map(|row| {
                    row.try_get::<_, i64>(0)
                        .map(|line| line as u64)
                        .map_err(|error| self.error("read the ledger", error))
                })
                .collect()
        })
    }

    fn held_elsewhere(&self, key: i64) -> LedgerFuture<'_, bool> {
        Box::pin(async move {
            // A bigint advisory lock shows in pg_locks as its high and low
            // halves (classid, objid) with objsubid 1.
            let (high, low) = (
                ((key as u64) >> 32) as u32,
                (key as u64 & 0xffff_ffff) as u32,
            );
            let row = self
                .client
                .query_one(
                    "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' \
                     AND granted AND database = (SELECT oid FROM pg_database \
                     WHERE datname = current_database()) AND classid = $1 AND objid = $2 \
                     AND objsubid = 1 AND pid <> pg_backend_pid())",
                    &[&high, &low],
                )
                .await
                .map_err(|error| self.error("look at a run's lease", error))?;
            row.try_get(0)
                .map_err(|error| self.error("look at a run's lease", error))
        })
    }

    fn legacy_journals<'a>(&'a self, key: &'a RunKey) -> LedgerFuture<'a, Vec<LegacyJournal>> {
        Box::pin(self.earlier_journal(key))
    }

    fn shared(&self) -> bool {
        true
    }
}

/// A run's beginning in PostgreSQL: one transaction of the ledger's
/// session, holding the ledger's advisory lock for beginnings.
struct PostgresTransaction<'a> {
    ledger: &'a PostgresLedger,
}

impl PostgresTransaction<'_> {
    fn end(&self, statement: &'static str) -> LedgerFuture<'static, ()> {
        let client = self.ledger.client.clone();
        let location = self.ledger.location.clone();
        Box::pin(async move {
            client
                .batch_execute(statement)
                .await
                .map_err(|error| LedgerError {
                    location,
                    message: format!("cannot end the transaction: {}", described(error)),
                })
        })
    }
}

impl LedgerTransaction for PostgresTransaction<'_> {
    fn runs_named<'a>(
        &'a mut self,
        scope: &'a LedgerScope,
        name: &'a str,
    ) -> LedgerFuture<'a, Vec<RunRecord>> {
        Box::pin(async move {
            self.ledger
                .query_runs(
                    &self.ledger.statements.runs_named,
                    &[&scope.environment().slug(), &scope.account(), &name],
                )
                .await
        })
    }

    fn runs<'a>(&'a mut self, ids: &'a [String]) -> LedgerFuture<'a, Vec<RunRecord>> {
        Box::pin(async move {
            let mut runs = Vec::new();
            for id in ids {
                runs.extend(
                    self.ledger
                        .query_runs(&self.ledger.statements.run_by_id, &[id])
                        .await?,
                );
            }
            Ok(runs)
        })
    }

    fn runs_with_content<'a>(
        &'a mut self,
        scope: &'a LedgerScope,
        sha256: &'a str,
    ) -> LedgerFuture<'a, Vec<RunRecord>> {
        Box::pin(async move {
            self.ledger
                .query_runs(
                    &self.ledger.statements.runs_with_content,
                    &[&scope.environment().slug(), &scope.account(), &sha256],
                )
                .await
        })
    }

    fn create_run<'a>(
        &'a mut self,
        run: &'a RunRecord,
        rows: Arc<[LedgerRow]>,
    ) -> LedgerFuture<'a, ()> {
        Box::pin(async move {
            let ledger = self.ledger;
            let count = run.rows as i64;
            ledger
                .execute(
                    "record the run",
                    &ledger.statements.create_run,
                    &[
                        &run.id,
                        &run.scope.environment().slug(),
                        &run.scope.account(),
                        &run.name,
                        &run.file,
                        &run.sha256,
                        &count,
                        &run.started,
                        &run.source,
                    ],
                )
                .await?;
            // The rows in one statement each thousand: a round trip per row
            // would make a large file's start slow.
            for chunk in rows.chunks(1_000) {
                let lines: Vec<i64> = chunk.iter().map(|row| row.line as i64).collect();
                let emails: Vec<&str> = chunk.iter().map(|row| row.email.as_str()).collect();
                let keys: Vec<String> = chunk.iter().map(|row| recipient_key(&row.email)).collect();
                let points: Vec<i64> = chunk.iter().map(|row| row.points as i64).collect();
                let names: Vec<&str> = chunk.iter().map(|row| row.name.as_str()).collect();
                ledger
                    .execute(
                        "record the run's rows",
                        &format!(
                            "INSERT INTO {}_rows (run, line, email, email_key, points, name) \
                             SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::text[], \
                             $5::bigint[], $6::text[]) ON CONFLICT (run, line) DO NOTHING",
                            ledger.table
                        ),
                        &[&run.id, &lines, &emails, &keys, &points, &names],
                    )
                    .await?;
            }
            Ok(())
        })
    }

    fn rows<'a>(&'a mut self, run: &'a str) -> LedgerFuture<'a, Vec<LedgerRow>> {
        Box::pin(async move {
            self.ledger
                .read_rows(&self.ledger.statements.rows, &[&run])
                .await
        })
    }

    fn contents<'a>(&'a mut self, run: &'a str) -> LedgerFuture<'a, Vec<RecordedContent>> {
        Box::pin(async move {
            let rows = self
                .ledger
                .read_rows(&self.ledger.statements.rows, &[&run])
                .await?;
            Ok(rows.iter().map(RecordedContent::of).collect())
        })
    }

    fn history<'a>(&'a mut self, run: &'a str) -> LedgerFuture<'a, RunHistory> {
        Box::pin(async move {
            self.ledger
                .read_history(&self.ledger.statements.history, &[&run])
                .await
        })
    }

    fn put_attempts<'a>(
        &'a mut self,
        run: &'a str,
        attempts: &'a [(u64, Attempt)],
    ) -> LedgerFuture<'a, ()> {
        Box::pin(async move {
            let now = now();
            for (line, attempt) in attempts {
                let (line, number) = (*line as i64, attempt.number as i32);
                self.ledger
                    .execute(
                        "import a journal's record",
                        &self.ledger.statements.put_attempt,
                        &[
                            &run,
                            &line,
                            &number,
                            &attempt.state.kind(),
                            &attempt.state.to_json(),
                            &now,
                        ],
                    )
                    .await?;
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
        Box::pin(async move {
            let ledger = self.ledger;
            let lines: Vec<i64> = lines.iter().map(|line| *line as i64).collect();
            let rows = ledger
                .client
                .query(
                    &ledger.statements.alike_elsewhere,
                    &[&run, &scope.environment().slug(), &lines, &scope.account()],
                )
                .await
                .map_err(|error| ledger.error("look for earlier payouts", error))?;
            rows.iter()
                .map(|row| {
                    let read = |error| ledger.error("look for earlier payouts", error);
                    Ok(AlikeRun {
                        run: row.try_get(0).map_err(read)?,
                        rows: row.try_get::<_, i64>(1).map_err(read)?.max(0) as u64,
                        credited: row.try_get::<_, i64>(2).map_err(read)?.max(0) as u64,
                    })
                })
                .collect()
        })
    }

    fn allow_overlaps<'a>(
        &'a mut self,
        run: &'a str,
        others: &'a [String],
    ) -> LedgerFuture<'a, ()> {
        Box::pin(async move {
            for other in others {
                self.ledger
                    .execute(
                        "record the run",
                        &self.ledger.statements.allow_overlap,
                        &[&run, other],
                    )
                    .await?;
            }
            Ok(())
        })
    }

    fn live(&mut self, key: i64) -> LedgerFuture<'_, bool> {
        self.ledger.held_elsewhere(key)
    }

    fn imported<'a>(
        &'a mut self,
        source: &'a str,
        digest: &'a str,
        scope: &'a LedgerScope,
    ) -> LedgerFuture<'a, bool> {
        Box::pin(async move {
            let row = self
                .ledger
                .client
                .query_one(
                    &self.ledger.statements.imported,
                    &[
                        &source,
                        &digest,
                        &scope.environment().slug(),
                        &scope.account(),
                    ],
                )
                .await
                .map_err(|error| self.ledger.error("read the imports", error))?;
            row.try_get(0)
                .map_err(|error| self.ledger.error("read the imports", error))
        })
    }

    fn mark_imported<'a>(
        &'a mut self,
        source: &'a str,
        digest: &'a str,
        scope: &'a LedgerScope,
    ) -> LedgerFuture<'a, ()> {
        Box::pin(async move {
            self.ledger
                .execute(
                    "record an import",
                    &self.ledger.statements.mark_imported,
                    &[
                        &source,
                        &digest,
                        &scope.environment().slug(),
                        &scope.account(),
                    ],
                )
                .await
                .map(drop)
        })
    }

    fn commit(self: Box<Self>) -> LedgerFuture<'static, ()> {
        self.end("COMMIT")
    }

    fn rollback(self: Box<Self>) -> LedgerFuture<'static, ()> {
        self.end("ROLLBACK")
    }
}

/// A database error as the client describes it: the server's SQLSTATE and
/// message, never its detail (which can quote a row's values).
fn described(error: tokio_postgres::Error) -> String {
    ConnectError::from(error).to_string()
}
