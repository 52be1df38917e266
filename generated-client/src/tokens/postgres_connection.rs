//! A PostgreSQL connection as production runs one (feature `postgres`), for
//! the token store and the payout journal alike:
//!
//! - **From where libpq would take it.** A URL (`postgres://user@host/db`)
//!   or key=value string, completed from libpq's environment variables for
//!   what it does not say (`PGHOST`, `PGPORT`, `PGDATABASE`, `PGUSER`,
//!   `PGPASSWORD`, `PGSSLMODE`) and from the password file (`PGPASSFILE`, or
//!   `~/.pgpass`, ignored unless only its owner can read it), so that the
//!   password need not be on a command line.
//! - **TLS off loopback.** A server on a Unix socket or a loopback address is
//!   reached in plain text; any other host only through TLS (native-tls,
//!   certificates checked against the system's roots), unless the URL says
//!   `sslmode=disable`.
//! - **Durable when acknowledged.** Each session asks for
//!   `synchronous_commit = on`, so a server tuned with it off still writes
//!   a commit to disk before it answers.
//! - **A vanished holder lets go.** Each session sets
//!   `idle_in_transaction_session_timeout` ([`PostgresTarget::lease_timeout`]),
//!   so a process that holds a lock in a transaction and then stops (frozen,
//!   cut off by the network) loses its session, and with it the lock, within
//!   that time; TCP keepalives notice a dead peer too.
//! - **No secret in any log.** tokio-postgres logs every statement's
//!   parameters at debug level; [`SecretParam`] is a parameter whose `Debug`
//!   is `<redacted>`.
//!
//! libpq's environment and password file are read by hand: tokio-postgres
//! does not read them, and no maintained crate does it for it.

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use bytes::BytesMut;
use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use tokio_postgres::{Client, Config, NoTls, Socket};

use crate::Secret;

/// Where Debian's PostgreSQL puts its socket, libpq's default host there.
const DEFAULT_SOCKET_DIRECTORY: &str = "/var/run/postgresql";

/// How long a session may sit in a transaction without a statement before
/// the server ends it (and releases its locks), unless told otherwise.
pub const DEFAULT_LEASE_TIMEOUT: Duration = Duration::from_secs(60);

/// Where a PostgreSQL server is and how to reach it; see the module's
/// documentation. `Debug` and every message name the host and database,
/// never the password.
#[derive(Clone)]
pub struct PostgresTarget {
    config: Config,
    tls: TlsChoice,
    lease_timeout: Duration,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TlsChoice {
    /// A Unix socket or loopback, or `sslmode=disable`.
    Plain,
    /// Any other host.
    Required,
}

impl fmt::Debug for PostgresTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresTarget")
            .field("server", &postgres_server(&self.config))
            .field("tls", &self.tls)
            .field("lease_timeout", &self.lease_timeout)
            .finish_non_exhaustive()
    }
}

impl PostgresTarget {
    /// The server `url` describes (a `postgres://` URL or a key=value
    /// string), completed from libpq's environment variables and password
    /// file. The error names what is wrong, never the string.
    pub fn from_url(url: &str) -> Result<Self, String> {
        let config = Config::from_str(url)
            .map_err(|error| format!("not a PostgreSQL connection string: {error}"))?;
        Ok(Self::new(complete_from_environment(
            config,
            url.contains("sslmode"),
            &|name| std::env::var(name).ok().filter(|value| !value.is_empty()),
        )))
    }

    /// Whether the connection string `url` itself holds a password (which
    /// a command line would show to everyone on the machine).
    pub fn names_a_password(url: &str) -> bool {
        Config::from_str(url).is_ok_and(|config| config.get_password().is_some())
    }

    /// The server `config` describes, as it is (no environment read).
    pub fn new(config: Config) -> Self {
        let tls = tls_choice(&config);
        Self {
            config,
            tls,
            lease_timeout: DEFAULT_LEASE_TIMEOUT,
        }
    }

    /// How long a session may hold a transaction open without a statement
    /// (default 60 s): a holder that vanishes gives its lock up within it.
    pub fn lease_timeout(mut self, timeout: Duration) -> Self {
        self.lease_timeout = timeout;
        self
    }

    /// The configuration, as completed.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// `HOST/DATABASE`, for messages.
    pub fn server(&self) -> String {
        postgres_server(&self.config)
    }

    /// Whether the connection is made through TLS.
    pub fn uses_tls(&self) -> bool {
        self.tls == TlsChoice::Required
    }

    /// Connects (through TLS when required), and sets the session's lease
    /// timeout. The connection runs in a task of its own.
    pub async fn connect(&self) -> Result<Client, ConnectError> {
        match self.tls {
            TlsChoice::Plain => self.connect_through(NoTls).await,
            TlsChoice::Required => self.connect_through(tls_connector()?).await,
        }
    }

    /// Connects through `tls` (another TLS backend, client certificates),
    /// with the same settings as [`PostgresTarget::connect`].
    pub async fn connect_through<T>(&self, tls: T) -> Result<Client, ConnectError>
    where
        T: MakeTlsConnect<Socket> + Send + 'static,
        T::Stream: Send + 'static,
        T::TlsConnect: Send,
        <T::TlsConnect as TlsConnect<Socket>>::Future: Send,
    {
        let mut config = self.config.clone();
        config.keepalives(true);
        config.keepalives_idle(Duration::from_secs(30));
        config.keepalives_interval(Duration::from_secs(10));
        config.keepalives_retries(3);
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        if self.tls == TlsChoice::Required {
            config.ssl_mode(SslMode::Require);
        }
        let (client, connection) = config.connect(tls).await?;
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::warn!(error = %describe_database_error(&error), "PostgreSQL connection ended");
            }
        });
        let millis = self.lease_timeout.as_millis().clamp(1, i32::MAX as u128);
        // A commit is acknowledged only once it is on the server's disk,
        // whatever the server's default: a token rotation or a payout's
        // intent acknowledged and then lost would be lost for good.
        client
            .batch_execute(&format!(
                "SET idle_in_transaction_session_timeout = {millis}; SET synchronous_commit = on"
            ))
            .await?;
        Ok(client)
    }
}

/// Why a connection could not be made.
#[derive(Debug)]
pub enum ConnectError {
    /// The server, or the way to it, failed.
    Database(tokio_postgres::Error),
    /// TLS could not be set up.
    Tls(String),
}

impl From<tokio_postgres::Error> for ConnectError {
    fn from(error: tokio_postgres::Error) -> Self {
        ConnectError::Database(error)
    }
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectError::Database(error) => {
                write!(f, "{}", describe_database_error(error))
            }
            ConnectError::Tls(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for ConnectError {}

/// Adds to `table` (which exists) the `columns` (name, SQL type) it lacks:
/// a table made by an earlier version. A role that may not alter the table
/// gets the `ALTER TABLE` its owner must run, as the error.
pub(crate) async fn add_missing_columns(
    client: &Client,
    table: &str,
    columns: &[(&str, &str)],
) -> Result<(), String> {
    let present: Vec<String> = client
        .query(
            "SELECT attname::text FROM pg_attribute \
             WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped",
            &[&table],
        )
        .await
        .map_err(|error| {
            format!(
                "cannot read the columns of {table}: {}",
                describe_database_error(&error)
            )
        })?
        .iter()
        .map(|row| row.get(0))
        .collect();
    let missing: Vec<String> = columns
        .iter()
        .filter(|(name, _)| !present.iter().any(|column| column == name))
        .map(|(name, kind)| format!("ADD COLUMN IF NOT EXISTS {name} {kind}"))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let alter = format!("ALTER TABLE {table} {}", missing.join(", "));
    client.batch_execute(&alter).await.map_err(|error| {
        format!(
            "the table lacks columns this version needs, and this role cannot add them ({}): \
             have the table's owner run `{alter}`",
            describe_database_error(&error)
        )
    })
}

/// The server's SQLSTATE and message, or the connection's failure and its
/// cause; never the server's detail (it can quote a row's values).
pub(crate) fn describe_database_error(error: &tokio_postgres::Error) -> String {
    if let Some(db) = error.as_db_error() {
        return format!("{} (SQLSTATE {})", db.message(), db.code().code());
    }
    let cause = std::error::Error::source(error)
        .map(|cause| format!(": {cause}"))
        .unwrap_or_default();
    format!("{error}{cause}")
}

/// native-tls (the system's OpenSSL on Linux), certificates checked
/// against the system's roots.
fn tls_connector() -> Result<postgres_native_tls::MakeTlsConnector, ConnectError> {
    native_tls::TlsConnector::new()
        .map(postgres_native_tls::MakeTlsConnector::new)
        .map_err(|error| ConnectError::Tls(format!("cannot set up TLS: {error}")))
}

/// Plain text on a Unix socket or loopback, or when the URL says
/// `sslmode=disable`; TLS otherwise.
fn tls_choice(config: &Config) -> TlsChoice {
    if config.get_ssl_mode() == SslMode::Disable {
        return TlsChoice::Plain;
    }
    let loopback = |host: &Host| match host {
        Host::Tcp(name) => {
            let bare = name.trim_start_matches('[').trim_end_matches(']');
            name.eq_ignore_ascii_case("localhost")
                || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
        }
        #[cfg(unix)]
        Host::Unix(_) => true,
    };
    let hosts = config.get_hosts();
    // `hostaddr` is where the connection really goes, whatever `host` says.
    let all_local = !hosts.is_empty()
        && hosts.iter().all(loopback)
        && config.get_hostaddrs().iter().all(IpAddr::is_loopback);
    if all_local && config.get_ssl_mode() != SslMode::Require {
        TlsChoice::Plain
    } else {
        TlsChoice::Required
    }
}

/// `config` with what it does not say taken from libpq's environment
/// variables (read through `var`) and password file. `PGSSLMODE` applies
/// only when the string said no `sslmode`, and only to ask for TLS: plain
/// text off loopback is the connection string's decision alone, never a
/// variable's left in a shell.
fn complete_from_environment(
    mut config: Config,
    says_sslmode: bool,
    var: &dyn Fn(&str) -> Option<String>,
) -> Config {
    if config.get_hosts().is_empty() {
        match var("PGHOST") {
            Some(hosts) => {
                for host in hosts.split(',') {
                    config.host(host);
                }
            }
            // libpq's default: Debian's socket directory, else localhost.
            None if cfg!(unix) && std::path::Path::new(DEFAULT_SOCKET_DIRECTORY).is_dir() => {
                config.host(DEFAULT_SOCKET_DIRECTORY);
            }
            None => {
                config.host("localhost");
            }
        }
    }
    if config.get_ports().is_empty()
        && let Some(port) = var("PGPORT").and_then(|port| port.parse().ok())
    {
        config.port(port);
    }
    if config.get_user().is_none()
        && let Some(user) = var("PGUSER").or_else(|| var("USER"))
    {
        config.user(user);
    }
    if config.get_dbname().is_none()
        && let Some(dbname) = var("PGDATABASE")
    {
        config.dbname(dbname);
    }
    if !says_sslmode
        && var("PGSSLMODE")
            .is_some_and(|mode| matches!(mode.as_str(), "require" | "verify-ca" | "verify-full"))
    {
        config.ssl_mode(SslMode::Require);
    }
    if config.get_password().is_none() {
        if let Some(password) = var("PGPASSWORD") {
            config.password(password);
        } else if let Some(password) = password_file(&config, var) {
            config.password(password);
        }
    }
    config
}

/// The password the password file gives for `config`'s first host, port,
/// database and user, when the file exists and only its owner can read it.
fn password_file(config: &Config, var: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    let path = var("PGPASSFILE")
        .map(PathBuf::from)
        .or_else(|| var("HOME").map(|home| PathBuf::from(home).join(".pgpass")))?;
    let metadata = std::fs::metadata(&path).ok()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if metadata.permissions().mode() & 0o077 != 0 {
            tracing::warn!(
                path = %path.display(),
                "the password file is readable by others than its owner, so it is not used \
                 (chmod 0600 it)"
            );
            return None;
        }
    }
    #[cfg(not(unix))]
    let _ = metadata;
    let text = std::fs::read_to_string(&path).ok()?;
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(name)) => name.clone(),
        // A Unix socket matches `localhost`, as libpq has it.
        #[cfg(unix)]
        Some(Host::Unix(_)) | None => "localhost".into(),
        #[cfg(not(unix))]
        None => "localhost".into(),
    };
    let port = config
        .get_ports()
        .first()
        .copied()
        .unwrap_or(5432)
        .to_string();
    let user = config.get_user().unwrap_or_default();
    let dbname = config.get_dbname().unwrap_or(user);
    let wanted = [host.as_str(), port.as_str(), dbname, user];
    text.lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .map(pgpass_fields)
        .find(|fields| {
            fields.len() == 5
                && fields[..4]
                    .iter()
                    .zip(wanted)
                    .all(|(field, wanted)| field == "*" || field == wanted)
        })
        .map(|mut fields| fields.swap_remove(4))
}

/// A password-file line's fields: `:` separates them, `\` escapes `:` and
/// `\`.
fn pgpass_fields(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut characters = line.chars();
    while let Some(character) = characters.next() {
        match character {
            '\\' => {
                if let Some(escaped) = characters.next()
                    && let Some(field) = fields.last_mut()
                {
                    field.push(escaped);
                }
            }
            ':' => fields.push(String::new()),
            other => {
                if let Some(field) = fields.last_mut() {
                    field.push(other);
                }
            }
        }
    }
    fields
}

/// `HOST/DATABASE` of a PostgreSQL configuration, for messages that say
/// which database was meant: never the password or any other option.
pub(crate) fn postgres_server(config: &Config) -> String {
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

/// A statement parameter that carries a secret: sent as text, and printed
/// as `<redacted>` by tokio-postgres's debug log of every statement's
/// parameters (which `env_logger` or tracing's `log` bridge would show).
pub(crate) struct SecretParam<'a>(pub &'a Secret);

impl fmt::Debug for SecretParam<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl ToSql for SecretParam<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        self.0.expose_secret().to_sql(ty, out)
    }

    fn accepts(ty: &Type) -> bool {
        <&str as ToSql>::accepts(ty)
    }

    to_sql_checked!();
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::str::FromStr;

    use tokio_postgres::Config;

    use super::{TlsChoice, complete_from_environment, pgpass_fields, tls_choice};

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn tls_is_required_off_loopback_unless_the_url_disables_it() {
        let choice = |url: &str| tls_choice(&Config::from_str(url).unwrap());
        assert_eq!(
            choice("postgres://app@db.internal/app"),
            TlsChoice::Required
        );
        assert_eq!(choice("postgres://app@10.0.0.5/app"), TlsChoice::Required);
        assert_eq!(
            choice("postgres://app@db.internal/app?sslmode=prefer"),
            TlsChoice::Required
        );
        assert_eq!(
            choice("postgres://app@db.internal/app?sslmode=disable"),
            TlsChoice::Plain
        );
        assert_eq!(choice("postgres://app@127.0.0.1/app"), TlsChoice::Plain);
        assert_eq!(choice("postgres://app@[::1]:5433/app"), TlsChoice::Plain);
        assert_eq!(choice("postgres://app@localhost/app"), TlsChoice::Plain);
        assert_eq!(choice("host=/run/postgresql user=app"), TlsChoice::Plain);
        assert_eq!(
            choice("postgres://app@localhost/app?sslmode=require"),
            TlsChoice::Required
        );
        // One remote host among local ones: TLS.
        assert_eq!(
            choice("host=localhost,db.internal user=app"),
            TlsChoice::Required
        );
        // A local name for a remote address: the address decides.
        assert_eq!(
            choice("host=localhost hostaddr=10.0.0.5 user=app"),
            TlsChoice::Required
        );
        assert_eq!(
            choice("host=localhost hostaddr=127.0.0.1 user=app"),
            TlsChoice::Plain
        );
    }

    #[test]
    fn what_the_url_does_not_say_comes_from_libpqs_variables() {
        let config = complete_from_environment(
            Config::from_str("postgres://").unwrap(),
            false,
            &env(&[
                ("PGHOST", "db.internal"),
                ("PGPORT", "6543"),
                ("PGUSER", "app"),
                ("PGDATABASE", "rewards"),
                ("PGPASSWORD", "hunter2-secret"),
                ("PGSSLMODE", "disable"),
            ]),
        );
        assert_eq!(super::postgres_server(&config), "db.internal/rewards");
        assert_eq!(config.get_ports(), [6543]);
        assert_eq!(config.get_user(), Some("app"));
        assert_eq!(config.get_password(), Some(&b"hunter2-secret"[..]));
        // A PGSSLMODE=disable left in a shell never sends a password in plain
        // text to a host off loopback: only the string can say so.
        assert_eq!(tls_choice(&config), TlsChoice::Required);
        // A PGSSLMODE=require does ask for TLS, unless the string says.
        let asked = |says| {
            let config = complete_from_environment(
                Config::from_str("postgres://app@localhost/db").unwrap(),
                says,
                &env(&[("PGSSLMODE", "require")]),
            );
            tls_choice(&config)
        };
        assert_eq!(asked(false), TlsChoice::Required);
        assert_eq!(asked(true), TlsChoice::Plain);

        // The URL wins over the variables.
        let config = complete_from_environment(
            Config::from_str("postgres://other:pw@elsewhere/db").unwrap(),
            false,
            &env(&[("PGHOST", "db.internal"), ("PGPASSWORD", "not-this")]),
        );
        assert_eq!(super::postgres_server(&config), "elsewhere/db");
        assert_eq!(config.get_password(), Some(&b"pw"[..]));
    }

    #[test]
    fn the_password_file_is_read_only_when_private_and_matched_field_by_field() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pgpass");
        std::fs::write(
            &path,
            "# comment\n\
             other.host:5432:*:app:wrong\n\
             db.internal:5432:rewards:app:pa\\:ss\\\\word\n\
             *:*:*:*:fallback\n",
        )
        .unwrap();
        let passfile = path.to_str().unwrap();
        let complete = |url: &str| {
            complete_from_environment(
                Config::from_str(url).unwrap(),
                false,
                &env(&[("PGPASSFILE", passfile)]),
            )
        };
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            let config = complete("postgres://app@db.internal/rewards");
            assert_eq!(config.get_password(), None, "a file others can read");
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let config = complete("postgres://app@db.internal/rewards");
        assert_eq!(config.get_password(), Some(&b"pa:ss\\word"[..]));
        let config = complete("postgres://someone@elsewhere/db");
        assert_eq!(config.get_password(), Some(&b"fallback"[..]));
        assert_eq!(
            pgpass_fields(r"a\:b:c\\:d"),
            ["a:b".to_owned(), "c\\".to_owned(), "d".to_owned()]
        );
    }
}
