//! [`PostgresJournal`] (feature `postgres`): the journal as rows of a
//! PostgreSQL table, so that workers on several machines share one run —
//! the same server the replicas' token store uses, if you like.
//!
//! Each row of the file is one row of the table, keyed by (run, line); a
//! claim is an `INSERT … ON CONFLICT DO NOTHING` (first attempt) or an
//! `UPDATE … WHERE attempt = <seen>` (later ones), so of several workers
//! exactly one gets each row. Every statement commits on its own: a record
//! is durable when `transition` returns.
//!
//! ```sql
//! CREATE TABLE <table>_runs (run TEXT PRIMARY KEY, file TEXT NOT NULL,
//!   sha256 TEXT NOT NULL, rows BIGINT NOT NULL, created_at TIMESTAMPTZ NOT NULL DEFAULT now());
//! CREATE TABLE <table> (run TEXT NOT NULL, line BIGINT NOT NULL, attempt INTEGER NOT NULL,
//!   email TEXT NOT NULL, points BIGINT NOT NULL, state TEXT NOT NULL,
//!   updated_at TIMESTAMPTZ NOT NULL DEFAULT now(), name TEXT, PRIMARY KEY (run, line));
//! ```
//!
//! Both are created when missing (a role without CREATE can use tables
//! made for it, with SELECT, INSERT and UPDATE granted on both); the `name`
//! column is added to a table an earlier version made. The runs table is
//! where a run looks for earlier runs of the same content. Errors carry the
//! server's SQLSTATE and message, never its detail (which can quote a row)
//! nor the password.

use std::collections::BTreeMap;

use tokio_postgres::Client;
use xoxoday_reward_points::{PostgresTarget, add_missing_columns, describe_database_error};

use crate::journal::{
    EarlierRun, Journal, JournalError, JournalFuture, JournalState, PaidAlike, RowRecord,
};
use crate::payout_file::FileIdentity;

/// The table's name unless told otherwise.
pub const DEFAULT_JOURNAL_TABLE: &str = "reward_points_payout_journal";

/// A journal in a PostgreSQL table, shared by every worker of a run.
pub struct PostgresJournal {
    client: Client,
    table: String,
    run: String,
    location: String,
    /// The server and table, for naming other runs.
    tables: String,
}

impl PostgresJournal {
    /// Connects to `url` (completed from libpq's environment variables and
    /// password file; TLS off loopback, as `PostgresTarget` says) and
    /// creates the tables when missing. `run` names
    /// the run: workers given the same name share it; `None` names it after
    /// the file (its name and SHA-256), so the same file is the same run.
    pub async fn connect(
        url: &str,
        table: &str,
        run: Option<&str>,
        file: &FileIdentity,
    ) -> Result<Self, JournalError> {
        let target = PostgresTarget::from_url(url).map_err(|message| JournalError {
            location: "postgres".into(),
            message,
        })?;
        if !table.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(JournalError {
                location: table.to_owned(),
                message: "a table name is letters, digits and `_`".into(),
            });
        }
        let run = run.map_or_else(
            || {
                let digest: String = file.sha256.chars().take(16).collect();
                format!("{}:{digest}", file.name)
            },
            str::to_owned,
        );
        let tables = format!("postgres {} table {table}", target.server());
        let location = format!("{tables}, run {run}");
        let fail =
            |doing: &str, error: tokio_postgres::Error| database_error(&location, doing, &error);
        let client = target.connect().await.map_err(|error| JournalError {
            location: location.clone(),
            message: format!("cannot connect: {error}"),
        })?;
        let exists = client
            .query_one(
                "SELECT to_regclass($1) IS NOT NULL AND to_regclass($2) IS NOT NULL",
                &[&format!("{table}_runs"), &table],
            )
            .await
            .map_err(|error| fail("look for the journal's tables", error))?
            .get::<_, bool>(0);
        if !exists {
            // Two workers starting the same run at once would collide in
            // `CREATE TABLE IF NOT EXISTS` (PostgreSQL checks the catalog
            // before it locks it): one at a time, under an advisory lock of
            // its own. Only when missing, so a role without CREATE can use
            // tables made for it.
            client
                .batch_execute(&format!(
                    "BEGIN;
                     SELECT pg_advisory_xact_lock(hashtextextended('xoxoday-reward-points:create-table', 0));
                     CREATE TABLE IF NOT EXISTS {table}_runs (run TEXT PRIMARY KEY, file TEXT NOT NULL, \
                     sha256 TEXT NOT NULL, rows BIGINT NOT NULL, \
                     created_at TIMESTAMPTZ NOT NULL DEFAULT now());
                     CREATE TABLE IF NOT EXISTS {table} (run TEXT NOT NULL, line BIGINT NOT NULL, \
                     attempt INTEGER NOT NULL, email TEXT NOT NULL, points BIGINT NOT NULL, \
                     state TEXT NOT NULL, updated_at TIMESTAMPTZ NOT NULL DEFAULT now(), \
                     name TEXT, PRIMARY KEY (run, line));
                     COMMIT;"
                ))
                .await
                .map_err(|error| fail("create the journal's tables", error))?;
        }
        add_missing_columns(&client, table, &[("name", "TEXT")])
            .await
            .map_err(|message| JournalError {
                location: location.clone(),
                message,
            })?;
        Ok(Self {
            client,
            table: table.to_owned(),
            run,
            location,
            tables,
        })
    }

    fn error(&self, doing: &str, error: &tokio_postgres::Error) -> JournalError {
        database_error(&self.location, doing, error)
    }
}

/// The server's SQLSTATE and message, or the connection's failure; no
/// detail (it can quote a row's values).
fn database_error(location: &str, doing: &str, error: &tokio_postgres::Error) -> JournalError {
    JournalError {
        location: location.to_owned(),
        message: format!("cannot {doing}: {}", describe_database_error(error)),
    }
}

impl Journal for PostgresJournal {
    fn location(&self) -> String {
        self.location.clone()
    }

    fn bind<'a>(&'a self, file: &'a FileIdentity) -> JournalFuture<'a, ()> {
        Box::pin(async move {
            let table = &self.table;
            self.client
                .execute(
                    &format!(
                        "INSERT INTO {table}_runs (run, file, sha256, rows) VALUES ($1, $2, $3, $4) \
                         ON CONFLICT (run) DO NOTHING"
                    ),
                    &[&self.run, &file.name, &file.sha256, &(file.rows as i64)],
                )
                .await
                .map_err(|error| self.error("record the run", &error))?;
            let row = self
                .client
                .query_one(
                    &format!("SELECT file, sha256 FROM {table}_runs WHERE run = $1"),
                    &[&self.run],
                )
                .await
                .map_err(|error| self.error("read the run", &error))?;
            let read = |error: tokio_postgres::Error| self.error("read the run", &error);
            let name: String = row.try_get(0).map_err(read)?;
            let sha256: String = row.try_get(1).map_err(read)?;
            if sha256 != file.sha256 {
                return Err(JournalError {
                    location: self.location.clone(),
                    message: format!(
                        "the run was started with another version of the file ({name}, SHA-256 \
                         {}…; this one is {}…): a changed file cannot be matched to it row by \
                         row. Pay the rows still to pay from a new file under another run name",
                        sha256.chars().take(12).collect::<String>(),
                        file.sha256.chars().take(12).collect::<String>()
                    ),
                });
            }
            Ok(())
        })
    }

    fn records(&self) -> JournalFuture<'_, BTreeMap<u64, RowRecord>> {
        Box::pin(async move {
            let rows = self
                .client
                .query(
                    &format!(
                        "SELECT line, attempt, email, points, state, name FROM {} WHERE run = $1",
                        self.table
                    ),
                    &[&self.run],
                )
                .await
                .map_err(|error| self.error("read the journal", &error))?;
            let mut records = BTreeMap::new();
            for row in rows {
                let read = |error: tokio_postgres::Error| self.error("read the journal", &error);
                let line: i64 = row.try_get(0).map_err(read)?;
                let attempt: i32 = row.try_get(1).map_err(read)?;
                let email: String = row.try_get(2).map_err(read)?;
                let points: i64 = row.try_get(3).map_err(read)?;
                let state: String = row.try_get(4).map_err(read)?;
                let name: Option<String> = row.try_get(5).map_err(read)?;
                let state: JournalState =
                    serde_json::from_str(&state).map_err(|error| JournalError {
                        location: self.location.clone(),
                        message: format!("line {line}'s state is not a journal state: {error}"),
                    })?;
                records.insert(
                    line as u64,
                    RowRecord {
                        line: line as u64,
                        attempt: attempt as u32,
                        email,
                        points: points as u64,
                        name,
                        state,
                    },
                );
            }
            Ok(records)
        })
    }

    fn transition(&self, seen: Option<u32>, record: RowRecord) -> JournalFuture<'_, bool> {
        Box::pin(async move {
            let state = serde_json::to_string(&record.state).map_err(|error| JournalError {
                location: self.location.clone(),
                message: error.to_string(),
            })?;
            let (line, attempt, points) = (
                record.line as i64,
                record.attempt as i32,
                record.points as i64,
            );
            let table = &self.table;
            let changed =
                match seen {
                    None => self
                        .client
                        .execute(
                            &format!(
                                "INSERT INTO {table} (run, line, attempt, email, points, state, \
                                 name) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                                 ON CONFLICT (run, line) DO NOTHING"
                            ),
                            &[
                                &self.run,
                                &line,
                                &attempt,
                                &record.email,
                                &points,
                                &state,
                                &record.name,
                            ],
                        )
                        .await,
                    Some(seen) => self
                        .client
                        .execute(
                            &format!(
                                "UPDATE {table} SET attempt = $3, state = $4, updated_at = now() \
                                 WHERE run = $1 AND line = $2 AND attempt = $5"
                            ),
                            &[&self.run, &line, &attempt, &state, &(seen as i32)],
                        )
                        .await,
                }
                .map_err(|error| self.error("record a row", &error))?;
            Ok(changed == 1)
        })
    }

    fn earlier_runs<'a>(
        &'a self,
        file: &'a FileIdentity,
        paid: &'a PaidAlike,
    ) -> JournalFuture<'a, Vec<EarlierRun>> {
        Box::pin(async move {
            let table = &self.table;
            let emails: Vec<&str> = paid.emails().collect();
            let rows = self
                .client
                .query(
                    &format!(
                        "SELECT r.run, r.file, r.created_at::text, r.sha256, j.line, j.email, \
                         j.points, j.state \
                         FROM {table} j JOIN {table}_runs r ON r.run = j.run \
                         WHERE j.run <> $1 AND (r.sha256 = $2 OR lower(j.email) = ANY($3))"
                    ),
                    &[&self.run, &file.sha256, &emails],
                )
                .await
                .map_err(|error| self.error("look for earlier runs", &error))?;
            let mut runs: BTreeMap<String, EarlierRun> = BTreeMap::new();
            for row in rows {
                let read = |error: tokio_postgres::Error| self.error("read earlier runs", &error);
                let run: String = row.try_get(0).map_err(read)?;
                let sha256: String = row.try_get(3).map_err(read)?;
                let email: String = row.try_get(5).map_err(read)?;
                let points: i64 = row.try_get(6).map_err(read)?;
                let state: String = row.try_get(7).map_err(read)?;
                let entry = match runs.entry(run.clone()) {
                    std::collections::btree_map::Entry::Occupied(entry) => entry.into_mut(),
                    std::collections::btree_map::Entry::Vacant(entry) => entry.insert(EarlierRun {
                        journal: format!("run {run} of {}", self.tables),
                        file: row.try_get(1).map_err(read)?,
                        started: row.try_get(2).map_err(read)?,
                        same_content: sha256 == file.sha256,
                        rows_recorded: 0,
                        rows_alike: 0,
                    }),
                };
                entry.rows_recorded += 1;
                let credited = serde_json::from_str::<JournalState>(&state)
                    .map_or(true, |state| state.credited_or_maybe());
                if credited && paid.contains(&email, u64::try_from(points).unwrap_or(0)) {
                    entry.rows_alike += 1;
                }
            }
            let mut runs: Vec<EarlierRun> = runs
                .into_values()
                .filter(|run| run.same_content || run.rows_alike > 0)
                .collect();
            runs.sort_by(|a, b| a.started.cmp(&b.started));
            Ok(runs)
        })
    }

    fn shared(&self) -> bool {
        true
    }
}
