//! `PostgresTokenStore` (feature `postgres`): the tokens in a PostgreSQL
//! table, so that replicas on several machines share them through a database
//! they already run.
//!
//! The lock is a transaction-scoped advisory lock
//! (`pg_advisory_xact_lock`), keyed by the table's identity (its OID, so
//! `tokens` and `public.tokens` are one lock) and the token set's name: it is
//! taken in a transaction, and released by its commit, its rollback, or the
//! server when the holder's session ends — a crash, a dropped lease, or a
//! holder that vanished mid-transaction, whose session the server ends after
//! the lease timeout (`idle_in_transaction_session_timeout`, 60 s by
//! default). Saving writes the row and commits: durable when it returns.
//!
//! The connection is made as [`PostgresTarget`] says: libpq's environment
//! variables and password file fill what the URL leaves out, and a server
//! off loopback is reached only through TLS unless the URL says
//! `sslmode=disable`. No token ever reaches a log: tokio-postgres logs
//! statement parameters at debug level, and the tokens are given to it as
//! parameters that print as `<redacted>`.
//!
//! The table is created when it is missing (which needs the CREATE privilege
//! on the schema); an existing one is used as it is, so a role with only
//! `GRANT SELECT, INSERT, UPDATE ON xoxoday_reward_points_tokens TO app` can
//! use a table its owner created:
//!
//! ```sql
//! CREATE TABLE xoxoday_reward_points_tokens (
//!     name                    text PRIMARY KEY,   -- the token set, `default` unless named
//!     access_token            text NOT NULL,
//!     access_token_expiry     bigint,             -- epoch ms; NULL when unknown
//!     refresh_token           text NOT NULL,
//!     refresh_token_expiry    bigint,             -- epoch ms; NULL when unknown
//!     updated_at              timestamptz NOT NULL DEFAULT now(),
//!     refreshed_at            bigint,             -- epoch ms of the rotation; NULL from the dashboard
//!     refresh_rejected        text                -- JSON: the vendor's refusals of refresh_token, one per set of credentials
//! );
//! ```
//!
//! A table made by an earlier version lacks the last two columns: the
//! store adds them when its role may (the table's owner), and otherwise
//! stops, printing the `ALTER TABLE` for the owner to run.
//!
//! The table holds live credentials: grant access to it as to a secret.
//! Errors name the table and the server's SQLSTATE and message, never a
//! value of a row, nor the connection's password.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Mutex, OwnedMutexGuard};
use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};
use tokio_postgres::{Client, Config, Socket};

use crate::tokens::postgres_connection::{
    ConnectError, PostgresTarget, SecretParam, add_missing_columns, describe_database_error,
};
use crate::tokens::store::{
    RefreshRejection, StoreError, StoreFuture, StoredTokens, TokenLease, TokenStore,
};
use crate::{EpochMillis, Secret};

/// The table's default name.
pub const DEFAULT_TOKEN_TABLE: &str = "xoxoday_reward_points_tokens";
/// How long `lock` waits for another replica by default.
const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(30);
/// The columns this version added to the table, as `ALTER TABLE` adds them.
const ADDED_COLUMNS: [(&str, &str); 2] = [("refreshed_at", "bigint"), ("refresh_rejected", "text")];

type Connect = dyn Fn(PostgresTarget) -> Pin<Box<dyn Future<Output = Result<Client, ConnectError>> + Send>>
    + Send
    + Sync;

/// Keeps the tokens in a PostgreSQL table; see the module documentation for
/// its schema. Clones share one connection.
#[derive(Clone)]
pub struct PostgresTokenStore {
    shared: Arc<Shared>,
}

#[derive(Clone)]
struct Shared {
    target: PostgresTarget,
    connect: Arc<Connect>,
    table: String,
    token_set: String,
    lock_timeout: Duration,
    /// One connection, opened on first use and again after a failure, with
    /// the table's OID (the lock's key).
    connection: Arc<Mutex<Option<(Client, u32)>>>,
    /// What the messages call this store: the table, the token set, the
    /// server's host and database. Never the password.
    location: String,
}

impl fmt::Debug for PostgresTokenStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresTokenStore")
            .field("location", &self.shared.location)
            .field("lock_timeout", &self.shared.lock_timeout)
            .finish_non_exhaustive()
    }
}

impl PostgresTokenStore {
    /// A store on the server `url` describes (`postgres://user@host/db`, or
    /// `host=/run/postgresql user=app dbname=app`), with what it leaves out
    /// taken from libpq's `PG…` environment variables and password file, so
    /// the password need not be in it ([`PostgresTarget::from_url`]). A
    /// server off loopback is reached through TLS.
    pub fn from_url(url: &str) -> Result<Self, StoreError> {
        let target = PostgresTarget::from_url(url).map_err(|message| StoreError {
            location: "postgres".into(),
            // tokio-postgres names what is wrong, not the string.
            message,
        })?;
        Ok(Self::at(target))
    }

    /// A store on the server `config` describes, as it is: TLS off
    /// loopback, plain text on a socket or loopback.
    pub fn new(config: Config) -> Self {
        Self::at(PostgresTarget::new(config))
    }

    /// A store on `target`.
    pub fn at(target: PostgresTarget) -> Self {
        let connect: Arc<Connect> =
            Arc::new(|target: PostgresTarget| Box::pin(async move { target.connect().await }));
        Self::with_connect(target, connect)
    }

    /// A store on the server `config` describes, connecting through `tls`
    /// (another TLS backend than native-tls, or client certificates), for
    /// every host.
    pub fn with_tls<T>(config: Config, tls: T) -> Self
    where
        T: MakeTlsConnect<Socket> + Clone + Send + Sync + 'static,
        T::Stream: Send + 'static,
        T::TlsConnect: Send,
        <T::TlsConnect as TlsConnect<Socket>>::Future: Send,
    {
        let connect: Arc<Connect> = Arc::new(move |target: PostgresTarget| {
            let tls = tls.clone();
            Box::pin(async move { target.connect_through(tls).await })
        });
        Self::with_connect(PostgresTarget::new(config), connect)
    }

    fn with_connect(target: PostgresTarget, connect: Arc<Connect>) -> Self {
        let location = location(&target, DEFAULT_TOKEN_TABLE, "default");
        Self {
            shared: Arc::new(Shared {
                target,
                connect,
                table: DEFAULT_TOKEN_TABLE.into(),
                token_set: "default".into(),
                lock_timeout: DEFAULT_LOCK_TIMEOUT,
                connection: Arc::new(Mutex::new(None)),
                location,
            }),
        }
    }

    /// Another table than `xoxoday_reward_points_tokens`: a lower-case SQL
    /// name (letters, digits, `_`; at most 63 characters), optionally with
    /// its schema (`auth.tokens`).
    pub fn table(self, table: &str) -> Result<Self, StoreError> {
        let valid = |part: &str| {
            !part.is_empty()
                && part.len() <= 63
                && part.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
                && part
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        };
        if !table.split('.').all(valid) || table.split('.').count() > 2 {
            return Err(StoreError {
                location: self.shared.location.clone(),
                message: format!(
                    "`{table}` is not a table name this store accepts (lower-case letters, \
                     digits and `_`, optionally `schema.table`)"
                ),
            });
        }
        Ok(self.rebuilt(|shared| shared.table = table.to_owned()))
    }

    /// Which row of the table: one per integration sharing a table
    /// (default `default`).
    pub fn token_set(self, name: &str) -> Self {
        self.rebuilt(|shared| shared.token_set = name.to_owned())
    }

    /// How long taking the lock may wait for another replica (default 30 s).
    pub fn lock_timeout(self, timeout: Duration) -> Self {
        self.rebuilt(|shared| shared.lock_timeout = timeout)
    }

    /// How long a replica may hold the lock without a statement before the
    /// server ends its session and so releases the lock (default 60 s): a
    /// replica that vanishes while it holds the lock (frozen, cut off by the
    /// network) holds it no longer than this. It must be longer than a
    /// refresh request's time limit.
    pub fn lease_timeout(self, timeout: Duration) -> Self {
        self.rebuilt(|shared| shared.target = shared.target.clone().lease_timeout(timeout))
    }

    fn rebuilt(mut self, change: impl FnOnce(&mut Shared)) -> Self {
        let shared = Arc::make_mut(&mut self.shared);
        change(shared);
        shared.location = location(&shared.target, &shared.table, &shared.token_set);
        // A connection opened for other settings is not reused.
        shared.connection = Arc::new(Mutex::new(None));
        self
    }
}

/// `postgres table T (token set S) on HOST/DB`: never a password.
fn location(target: &PostgresTarget, table: &str, token_set: &str) -> String {
    format!(
        "postgres table {table} (token set {token_set:?}) on {}",
        target.server()
    )
}

type Slot = OwnedMutexGuard<Option<(Client, u32)>>;

impl Shared {
    fn error(&self, message: impl fmt::Display) -> StoreError {
        StoreError {
            location: self.location.clone(),
            message: message.to_string(),
        }
    }

    /// The server's SQLSTATE and message, or the connection's failure; no
    /// detail (it can quote a row's values).
    fn database_error(&self, doing: &str, error: &tokio_postgres::Error) -> StoreError {
        if let Some(db) = error.as_db_error()
            && db.code() == &tokio_postgres::error::SqlState::LOCK_NOT_AVAILABLE
        {
            return self.error(format!(
                "another replica has held the lock for more than {} s",
                self.lock_timeout.as_secs_f64()
            ));
        }
        self.error(format!(
            "cannot {doing}: {}",
            describe_database_error(error)
        ))
    }

    /// The connection (opened, and the table found or created, when there is
    /// none) and the table's OID.
    async fn connection(&self) -> Result<Slot, StoreError> {
        let mut slot = self.connection.clone().lock_owned().await;
        if slot.as_ref().is_some_and(|(client, _)| client.is_closed()) {
            *slot = None;
        }
        if slot.is_none() {
            let client = (self.connect)(self.target.clone())
                .await
                .map_err(|error| self.error(format!("cannot connect: {error}")))?;
            let table = self.table_oid(&client).await?;
            *slot = Some((client, table));
        }
        Ok(slot)
    }

    /// The table's OID, after creating the table when it is missing and
    /// adding the columns an earlier version's table lacks.
    async fn table_oid(&self, client: &Client) -> Result<u32, StoreError> {
        let find = || async {
            client
                .query_one("SELECT to_regclass($1)::oid", &[&self.table])
                .await
                .map_err(|error| self.database_error("look for the table", &error))
                .map(|row| row.get::<_, Option<u32>>(0))
        };
        let oid = match find().await? {
            Some(oid) => oid,
            None => {
                self.create_table(client).await?;
                find()
                    .await?
                    .ok_or_else(|| self.error("the table was created but cannot be found"))?
            }
        };
        add_missing_columns(client, &self.table, &ADDED_COLUMNS)
            .await
            .map_err(|message| self.error(message))?;
        Ok(oid)
    }

    async fn create_table(&self, client: &Client) -> Result<(), StoreError> {
        // Two replicas creating the table at once would collide: one at a
        // time, under a lock of its own, and only when still missing.
        let sql = format!(
            "BEGIN;
             SELECT pg_advisory_xact_lock(hashtextextended('xoxoday-reward-points:create-table', 0));
             CREATE TABLE IF NOT EXISTS {table} (
                 name                    text PRIMARY KEY,
                 access_token            text NOT NULL,
                 access_token_expiry     bigint,
                 refresh_token           text NOT NULL,
                 refresh_token_expiry    bigint,
                 updated_at              timestamptz NOT NULL DEFAULT now(),
                 refreshed_at            bigint,
                 refresh_rejected        text
             );
             COMMIT;",
            table = self.table
        );
        client.batch_execute(&sql).await.map_err(|error| {
            self.error(format!(
                "the table is missing and this role cannot create it ({}): create it as the \
                 type's documentation shows, and grant this role SELECT, INSERT and UPDATE on it",
                describe_database_error(&error)
            ))
        })
    }

    fn lock_key(&self, table: u32) -> String {
        format!("xoxoday-reward-points:tokens:{table}:{}", self.token_set)
    }

    async fn read(&self, client: &Client) -> Result<Option<StoredTokens>, StoreError> {
        let sql = format!(
            "SELECT access_token, access_token_expiry, refresh_token, refresh_token_expiry,
                    refreshed_at, refresh_rejected
             FROM {} WHERE name = $1",
            self.table
        );
        let row = client
            .query_opt(&sql, &[&self.token_set])
            .await
            .map_err(|error| self.database_error("read the tokens", &error))?;
        let Some(row) = row else { return Ok(None) };
        let decode = |error: tokio_postgres::Error| self.database_error("read the tokens", &error);
        let millis = |value: Option<i64>| value.map(|ms| EpochMillis(ms.max(0) as u64));
        let mut tokens = StoredTokens::new(
            Secret::new(row.try_get::<_, String>(0).map_err(decode)?),
            millis(row.try_get(1).map_err(decode)?),
            Secret::new(row.try_get::<_, String>(2).map_err(decode)?),
            millis(row.try_get(3).map_err(decode)?),
        );
        tokens.refreshed_at = millis(row.try_get(4).map_err(decode)?);
        let rejected: Option<String> = row.try_get(5).map_err(decode)?;
        // A list, or one refusal as 0.5 wrote it. A refusal that cannot be
        // read is no refusal: the token is tried.
        tokens.refresh_rejected = rejected
            .and_then(|rejected| {
                serde_json::from_str::<Vec<RefreshRejection>>(&rejected)
                    .or_else(|_| {
                        serde_json::from_str::<RefreshRejection>(&rejected).map(|one| vec![one])
                    })
                    .ok()
            })
            .unwrap_or_default();
        Ok(Some(tokens))
    }
}

impl TokenStore for PostgresTokenStore {
    fn load(&self) -> StoreFuture<'_, Option<StoredTokens>> {
        Box::pin(async move {
            let mut slot = self.shared.connection().await?;
            let (client, _) = slot.as_ref().expect("connected above");
            let tokens = self.shared.read(client).await;
            if tokens.is_err() {
                *slot = None;
            }
            tokens
        })
    }

    fn lock(&self) -> StoreFuture<'_, Box<dyn TokenLease>> {
        Box::pin(async move {
            let shared = self.shared.clone();
            let mut slot = shared.connection().await?;
            let (client, table) = slot.as_ref().expect("connected above");
            let begin = format!(
                "BEGIN; SET LOCAL lock_timeout = '{}ms'",
                shared.lock_timeout.as_millis().max(1)
            );
            let locked = async {
                client.batch_execute(&begin).await?;
                client
                    .execute(
                        "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
                        &[&shared.lock_key(*table)],
                    )
                    .await
            }
            .await;
            if let Err(error) = locked {
                // Ends the transaction with the connection.
                *slot = None;
                return Err(shared.database_error("take the lock", &error));
            }
            let tokens = match shared.read(client).await {
                Ok(tokens) => tokens,
                Err(error) => {
                    *slot = None;
                    return Err(error);
                }
            };
            Ok(Box::new(PostgresLease {
                shared,
                slot: Some(slot),
                tokens,
            }) as Box<dyn TokenLease>)
        })
    }

    fn location(&self) -> String {
        self.shared.location.clone()
    }
}

/// The connection, inside a transaction that holds the advisory lock.
struct PostgresLease {
    shared: Arc<Shared>,
    /// `None` once the transaction has ended.
    slot: Option<Slot>,
    tokens: Option<StoredTokens>,
}

impl PostgresLease {
    fn client(&self) -> &Client {
        let slot = self.slot.as_ref().expect("a live lease holds a connection");
        &slot.as_ref().expect("a lease holds a connection").0
    }

    /// Ends the transaction with `sql` (COMMIT or ROLLBACK); on failure the
    /// connection is closed, which ends it on the server.
    async fn finish(mut self: Box<Self>, sql: &'static str, doing: &str) -> Result<(), StoreError> {
        let mut slot = self.slot.take().expect("a lease ends once");
        let (client, _) = slot.as_ref().expect("a lease holds a connection");
        if let Err(error) = client.batch_execute(sql).await {
            *slot = None;
            return Err(self.shared.database_error(doing, &error));
        }
        Ok(())
    }
}

impl TokenLease for PostgresLease {
    fn tokens(&self) -> Option<&StoredTokens> {
        self.tokens.as_ref()
    }

    fn reload(&mut self) -> StoreFuture<'_, Option<StoredTokens>> {
        Box::pin(async move {
            self.tokens = self.shared.read(self.client()).await?;
            Ok(self.tokens.clone())
        })
    }

    fn save(self: Box<Self>, tokens: StoredTokens) -> StoreFuture<'static, ()> {
        Box::pin(async move {
            let shared = self.shared.clone();
            let sql = format!(
                "INSERT INTO {} (name, access_token, access_token_expiry, refresh_token,
                                 refresh_token_expiry, refreshed_at, refresh_rejected,
                                 updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, now())
                 ON CONFLICT (name) DO UPDATE SET
                     access_token = EXCLUDED.access_token,
                     access_token_expiry = EXCLUDED.access_token_expiry,
                     refresh_token = EXCLUDED.refresh_token,
                     refresh_token_expiry = EXCLUDED.refresh_token_expiry,
                     refreshed_at = EXCLUDED.refreshed_at,
                     refresh_rejected = EXCLUDED.refresh_rejected,
                     updated_at = EXCLUDED.updated_at",
                shared.table
            );
            let millis = |expiry: Option<EpochMillis>| {
                expiry.map(|ms| i64::try_from(ms.as_millis()).unwrap_or(i64::MAX))
            };
            let rejection = (!tokens.refresh_rejected.is_empty())
                .then(|| serde_json::to_string(&tokens.refresh_rejected).ok())
                .flatten();
            let written = self
                .client()
                .execute(
                    &sql,
                    &[
                        &shared.token_set,
                        &SecretParam(&tokens.access_token),
                        &millis(tokens.access_token_expiry),
                        &SecretParam(&tokens.refresh_token),
                        &millis(tokens.refresh_token_expiry),
                        &millis(tokens.refreshed_at),
                        &rejection,
                    ],
                )
                .await;
            if let Err(error) = written {
                let mut lease = self;
                if let Some(mut slot) = lease.slot.take() {
                    *slot = None;
                }
                return Err(shared.database_error("save the tokens", &error));
            }
            self.finish("COMMIT", "save the tokens").await
        })
    }

    fn prepare(&mut self) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            // The row written to itself, and the right to insert asked: a
            // read-only server or session, or a role without UPDATE or
            // INSERT on the table, is found now; the save's own write is
            // in this transaction, so nothing else changes.
            let shared = self.shared.clone();
            let sql = format!(
                "UPDATE {table} SET updated_at = updated_at WHERE name = $1;",
                table = shared.table
            );
            let client = self.client();
            let checked = async {
                client.execute(sql.as_str(), &[&shared.token_set]).await?;
                client
                    .query_one("SELECT has_table_privilege($1, 'INSERT')", &[&shared.table])
                    .await
                    .map(|row| row.get::<_, bool>(0))
            }
            .await;
            match checked {
                Ok(true) => Ok(()),
                Ok(false) => Err(StoreError {
                    location: shared.location.clone(),
                    message: format!(
                        "cannot write: this role may not INSERT into {}: GRANT INSERT, UPDATE \
                         on it",
                        shared.table
                    ),
                }),
                // The transaction is aborted; releasing the lease rolls it
                // back.
                Err(error) => Err(shared.database_error("write the tokens", &error)),
            }
        })
    }

    fn release(self: Box<Self>) -> StoreFuture<'static, ()> {
        Box::pin(async move { self.finish("ROLLBACK", "release the lock").await })
    }
}

impl Drop for PostgresLease {
    fn drop(&mut self) {
        // Dropped while the transaction is open (a cancelled future): close
        // the connection, so the server ends the transaction and its lock
        // now rather than when the connection is next used.
        if let Some(mut slot) = self.slot.take() {
            *slot = None;
        }
    }
}
