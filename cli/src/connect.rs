//! From the command line to a client: the environment, the origin
//! overrides (never applied to a live environment from the shell's
//! variables), the credentials from the environment, and the token store (a
//! file, or PostgreSQL).

use std::sync::Arc;
use std::time::Duration;

use xoxoday_reward_points::{AccessToken, Client, FileTokenStore, Secret, TokenStore};

use crate::args::{Cli, Command};
use crate::ending::Failure;

/// Where `stand-in` tells this tool to send the vendor's origins.
const ORIGIN_OVERRIDES_VARIABLE: &str = "XOXODAY_ORIGIN_OVERRIDES";

/// Refuses a connection string typed on the command line that holds a
/// password.
pub fn no_password_typed(option: &str, variable: &str, location: &str) -> Result<(), Failure> {
    #[cfg(feature = "postgres")]
    if xoxoday_reward_points::PostgresTarget::names_a_password(location) {
        return Err(Failure::nothing_done(format!(
            "{option}: the connection string holds a password, which `ps` shows to everyone on \
             this machine: put the password in PGPASSWORD or ~/.pgpass, or the whole string in \
             {variable}; nothing was done"
        )));
    }
    let _ = (option, variable, location);
    Ok(())
}

/// A credential from the environment.
pub fn secret_from_env(name: &str) -> Result<Secret, Failure> {
    std::env::var(name)
        .ok()
        .filter(|value| !value.is_empty())
        .map(Secret::new)
        .ok_or_else(|| Failure::nothing_done(format!("{name} is not set")))
}

/// The client the command line asks for.
pub fn client(cli: &Cli) -> Result<Client, Failure> {
    let mut builder = Client::builder(cli.vendor.environment)
        .attempt_timeout(Duration::from_secs(cli.vendor.timeout));
    for rule in &origin_overrides(cli)? {
        let (vendor, replacement) = rule.split_once('=').ok_or_else(|| {
            Failure::nothing_done(format!(
                "--origin-override `{rule}` is not VENDOR=REPLACEMENT"
            ))
        })?;
        builder = builder
            .origin_override(vendor, replacement)
            .map_err(Failure::nothing_done)?;
    }
    if let Some(location) = &cli.vendor.token_store
        && cli.typed.token_store
    {
        no_password_typed("--token-store", "XOXODAY_TOKEN_STORE", location)?;
    }
    builder = match &cli.vendor.token_store {
        // Seeding asks the vendor about the tokens it is given, not the store's.
        Some(_) if matches!(cli.command, Command::SeedTokenStore(_)) => builder.access_token(
            AccessToken::new(secret_from_env("XOXODAY_ACCESS_TOKEN")?.expose_secret()),
        ),
        Some(location) => builder
            .token_store(token_store(location, cli.vendor.token_table.as_deref())?)
            .client_credentials(
                secret_from_env("XOXODAY_CLIENT_ID")?.expose_secret(),
                secret_from_env("XOXODAY_CLIENT_SECRET")?,
            ),
        None => match secret_from_env("XOXODAY_ACCESS_TOKEN") {
            Ok(token) => builder.access_token(AccessToken::new(token.expose_secret())),
            // Refresh needs no access token; the others say so when sent.
            Err(_) if matches!(cli.command, Command::RefreshToken) => builder,
            Err(Failure::NothingDone(missing)) => {
                return Err(Failure::nothing_done(format!(
                    "{missing}: set it, or give --token-store PATH"
                )));
            }
            Err(other) => return Err(other),
        },
    };
    builder.build().map_err(Failure::nothing_done)
}

/// The origin overrides of this run: those on the command line, else those
/// of XOXODAY_ORIGIN_OVERRIDES (separated by any white space) — which never
/// apply to a live environment silently.
fn origin_overrides(cli: &Cli) -> Result<Vec<String>, Failure> {
    if !cli.vendor.origin_override.is_empty() {
        return Ok(cli.vendor.origin_override.clone());
    }
    let from_environment: Vec<String> = std::env::var(ORIGIN_OVERRIDES_VARIABLE)
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    if !from_environment.is_empty() && cli.vendor.environment.is_live() {
        return Err(Failure::nothing_done(format!(
            "{ORIGIN_OVERRIDES_VARIABLE} is set ({}), and would send {}'s calls and token \
             elsewhere: unset it (`unset {ORIGIN_OVERRIDES_VARIABLE}`), or give each override \
             with --origin-override for this run; nothing was sent",
            from_environment.join(" "),
            cli.vendor.environment.name()
        )));
    }
    Ok(from_environment)
}

/// Whether `location` names a PostgreSQL database rather than a file: a
/// `postgres://` or `postgresql://` URL, or libpq's `key=value` form (`host=db
/// user=app`), which must never become the name of a file (nor be printed
/// as one, password and all).
pub fn names_postgres(location: &str) -> bool {
    let location = location.trim_start();
    let key_value = location.split_once('=').is_some_and(|(key, _)| {
        [
            "host",
            "hostaddr",
            "port",
            "dbname",
            "user",
            "password",
            "sslmode",
            "application_name",
            "options",
            "connect_timeout",
            "target_session_attrs",
        ]
        .contains(&key.trim())
    });
    key_value
        || ["postgres://", "postgresql://"]
            .iter()
            .any(|scheme| location.starts_with(scheme))
}

/// A file store, or a PostgreSQL store for a `postgres://` URL.
pub fn token_store(location: &str, table: Option<&str>) -> Result<Arc<dyn TokenStore>, Failure> {
    if !names_postgres(location) {
        if table.is_some() {
            return Err(Failure::nothing_done(
                "--token-table applies to a PostgreSQL --token-store only",
            ));
        }
        return Ok(Arc::new(FileTokenStore::new(location)));
    }
    #[cfg(feature = "postgres")]
    {
        let mut store = xoxoday_reward_points::PostgresTokenStore::from_url(location)
            .map_err(Failure::nothing_done)?;
        if let Some(table) = table {
            store = store.table(table).map_err(Failure::nothing_done)?;
        }
        Ok(Arc::new(store))
    }
    #[cfg(not(feature = "postgres"))]
    Err(Failure::nothing_done(
        "this reward-points was built without PostgreSQL support: build it with the \
         `postgres` feature",
    ))
}
