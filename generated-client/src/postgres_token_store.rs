//! `PostgresTokenStore` (feature `postgres`): the tokens in a PostgreSQL
//! table, so that replicas on several machines share them through a database
//! they already run.
//!
//! The lock is a transaction-scoped advisory lock
//! (`pg_advisory_xact_lock`), keyed by the table and the token set's name: it
//! is taken in a transaction, and released by its commit, its rollback, or the
//! server when the holder's connection ends (a crash, a dropped lease). Saving
//! writes the row and commits: durable when it returns.
//!
//! The table is created when missing:
//!
//! ```sql
//! CREATE TABLE IF NOT EXISTS xoxoday_reward_points_tokens (
//!     name                 text PRIMARY KEY,   -- the token set, `default` unless named
//!     access_token         text NOT NULL,
//!     access_token_expiry  bigint,             -- epoch ms; NULL when unknown
//!     refresh_token        text NOT NULL,
//!     refresh_token_expiry bigint,             -- epoch ms; NULL when unknown
//!     updated_at           timestamptz NOT NULL DEFAULT now()
//! );
//! ```
//!
//! The table holds live credentials: grant access to it as to a secret.
//! Errors name the table and the server's SQLSTATE and message, never a
//! value of a row, nor the connection's password.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Mutex, OwnedMutexGuard};
use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};
use tokio_postgres::{Client, Config, NoTls, Socket};

use crate::token_store::{StoreError, StoreFuture, StoredTokens, TokenLease, TokenStore};
use crate::{EpochMillis, Secret};

/// The table's default name.
pub const DEFAULT_TOKEN_TABLE: &str = "xoxoday_reward_points_tokens";
/// How long `lock` waits for another replica by default.
const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(30);

type Connect = dyn Fn(Config) -> Pin<Box<dyn Future<Output = Result<Client, tokio_postgres::Error>> + Send>>
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
    config: Config,
    connect: Arc<Connect>,
    table: String,
    token_set: String,
    lock_timeout: Duration,
    /// One connection, opened on first use and again after a failure.
    connection: Arc<Mutex<Option<Client>>>,
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
    /// `host=/run/postgresql user=app dbname=app`), without TLS: for a server
    /// on a socket, loopback or a private network. Use
    /// [`PostgresTokenStore::with_tls`] otherwise.
    pub fn from_url(url: &str) -> Result<Self, StoreError> {
        let config = Config::from_str(url).map_err(|error| StoreError {
            location: "postgres".into(),
            // tokio-postgres names what is wrong, not the string.
            message: format!("not a PostgreSQL connection string: {error}"),
        })?;
        Ok(Self::new(config))
    }

    /// A store on the server `config` describes, without TLS.
    pub fn new(config: Config) -> Self {
        Self::with_tls(config, NoTls)
    }

    /// A store on the server `config` describes, connecting through `tls`
    /// (for example `postgres_native_tls::MakeTlsConnector`).
    pub fn with_tls<T>(config: Config, tls: T) -> Self
    where
        T: MakeTlsConnect<Socket> + Clone + Send + Sync + 'static,
        T::Stream: Send + 'static,
        T::TlsConnect: Send,
        <T::TlsConnect as TlsConnect<Socket>>::Future: Send,
    {
        let connect: Arc<Connect> = Arc::new(move |config: Config| {
            let tls = tls.clone();
            Box::pin(async move {
                let (client, connection) = config.connect(tls).await?;
                tokio::spawn(async move {
                    if let Err(error) = connection.await {
                        tracing::warn!(%error, "token store connection ended");
                    }
                });
                Ok(client)
            })
        });
        let location = location(&config, DEFAULT_TOKEN_TABLE, "default");
        Self {
            shared: Arc::new(Shared {
                config,
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

    fn rebuilt(mut self, change: impl FnOnce(&mut Shared)) -> Self {
        let shared = Arc::make_mut(&mut self.shared);
        change(shared);
        shared.location = location(&shared.config, &shared.table, &shared.token_set);
        // A connection opened for other settings is not reused.
        shared.connection = Arc::new(Mutex::new(None));
        self
    }
}

/// `postgres table T (token set S) on HOST/DB`: never a password.
fn location(config: &Config, table: &str, token_set: &str) -> String {
    format!(
        "postgres table {table} (token set {token_set:?}) on {}",
        postgres_server(config)
    )
}

/// `HOST/DATABASE` of a PostgreSQL configuration, for messages that say
/// which database was meant: never the password or any other option.
pub fn postgres_server(config: &Config) -> String {
    use tokio_postgres::config::Host;
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(host)) => host.clone(),
        #[cfg(unix)]
        Some(Host::Unix(path)) => path.display().to_string(),
        None => "localhost".into(),
    };
    let database = config
        .get_dbname()
        .or(config.get_user())
        .unwrap_or("postgres");
    format!("{host}/{database}")
}

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
        if let Some(db) = error.as_db_error() {
            if db.code() == &tokio_postgres::error::SqlState::LOCK_NOT_AVAILABLE {
                return self.error(format!(
                    "another replica has held the lock for more than {} s",
                    self.lock_timeout.as_secs_f64()
                ));
            }
            return self.error(format!(
                "cannot {doing}: {} (SQLSTATE {})",
                db.message(),
                db.code().code()
            ));
        }
        let cause = std::error::Error::source(error)
            .map(|cause| format!(": {cause}"))
            .unwrap_or_default();
        self.error(format!("cannot {doing}: {error}{cause}"))
    }

    fn lock_key(&self) -> String {
        format!("xoxoday-reward-points:{}:{}", self.table, self.token_set)
    }

    /// The connection, opened (and the table created) when there is none.
    async fn connection(&self) -> Result<OwnedMutexGuard<Option<Client>>, StoreError> {
        let mut slot = self.connection.clone().lock_owned().await;
        if slot.as_ref().is_some_and(Client::is_closed) {
            *slot = None;
        }
        if slot.is_none() {
            let client = (self.connect)(self.config.clone())
                .await
                .map_err(|error| self.database_error("connect", &error))?;
            self.create_table(&client).await?;
            *slot = Some(client);
        }
        Ok(slot)
    }

    async fn create_table(&self, client: &Client) -> Result<(), StoreError> {
        // Two replicas creating the table at once would collide: one at a
        // time, under a lock of its own.
        let sql = format!(
            "BEGIN;
             SELECT pg_advisory_xact_lock(hashtextextended('xoxoday-reward-points:create:{table}', 0));
             CREATE TABLE IF NOT EXISTS {table} (
                 name                 text PRIMARY KEY,
                 access_token         text NOT NULL,
                 access_token_expiry  bigint,
                 refresh_token        text NOT NULL,
                 refresh_token_expiry bigint,
                 updated_at           timestamptz NOT NULL DEFAULT now()
             );
             COMMIT;",
            table = self.table
        );
        client
            .batch_execute(&sql)
            .await
            .map_err(|error| self.database_error("create the table", &error))
    }

    async fn read(&self, client: &Client) -> Result<Option<StoredTokens>, StoreError> {
        let sql = format!(
            "SELECT access_token, access_token_expiry, refresh_token, refresh_token_expiry
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
        Ok(Some(StoredTokens {
            access_token: Secret::new(row.try_get::<_, String>(0).map_err(decode)?),
            access_token_expiry: millis(row.try_get(1).map_err(decode)?),
            refresh_token: Secret::new(row.try_get::<_, String>(2).map_err(decode)?),
            refresh_token_expiry: millis(row.try_get(3).map_err(decode)?),
        }))
    }
}

impl TokenStore for PostgresTokenStore {
    fn load(&self) -> StoreFuture<'_, Option<StoredTokens>> {
        Box::pin(async move {
            let mut slot = self.shared.connection().await?;
            let client = slot.as_ref().expect("connected above");
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
            let client = slot.as_ref().expect("connected above");
            let begin = format!(
                "BEGIN; SET LOCAL lock_timeout = '{}ms'",
                shared.lock_timeout.as_millis().max(1)
            );
            let locked = async {
                client.batch_execute(&begin).await?;
                client
                    .execute(
                        "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
                        &[&shared.lock_key()],
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
    slot: Option<OwnedMutexGuard<Option<Client>>>,
    tokens: Option<StoredTokens>,
}

impl PostgresLease {
    /// Ends the transaction with `sql` (COMMIT or ROLLBACK); on failure the
    /// connection is closed, which ends it on the server.
    async fn finish(mut self: Box<Self>, sql: &'static str, doing: &str) -> Result<(), StoreError> {
        let mut slot = self.slot.take().expect("a lease ends once");
        let client = slot.as_ref().expect("a lease holds a connection");
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
            let slot = self.slot.as_ref().expect("a live lease holds a connection");
            let client = slot.as_ref().expect("a lease holds a connection");
            self.tokens = self.shared.read(client).await?;
            Ok(self.tokens.clone())
        })
    }

    fn save(self: Box<Self>, tokens: StoredTokens) -> StoreFuture<'static, ()> {
        Box::pin(async move {
            let shared = self.shared.clone();
            let sql = format!(
                "INSERT INTO {} (name, access_token, access_token_expiry, refresh_token,
                                 refresh_token_expiry, updated_at)
                 VALUES ($1, $2, $3, $4, $5, now())
                 ON CONFLICT (name) DO UPDATE SET
                     access_token = EXCLUDED.access_token,
                     access_token_expiry = EXCLUDED.access_token_expiry,
                     refresh_token = EXCLUDED.refresh_token,
                     refresh_token_expiry = EXCLUDED.refresh_token_expiry,
                     updated_at = EXCLUDED.updated_at",
                shared.table
            );
            let millis = |expiry: Option<EpochMillis>| {
                expiry.map(|ms| i64::try_from(ms.as_millis()).unwrap_or(i64::MAX))
            };
            let written = {
                let slot = self.slot.as_ref().expect("a live lease holds a connection");
                let client = slot.as_ref().expect("a lease holds a connection");
                client
                    .execute(
                        &sql,
                        &[
                            &shared.token_set,
                            &tokens.access_token.expose_secret(),
                            &millis(tokens.access_token_expiry),
                            &tokens.refresh_token.expose_secret(),
                            &millis(tokens.refresh_token_expiry),
                        ],
                    )
                    .await
            };
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
