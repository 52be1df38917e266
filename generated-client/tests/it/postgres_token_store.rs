//! `PostgresTokenStore` against a real PostgreSQL server: the table created
//! when missing (and an existing one used by a role that may not create
//! one), an exclusive lock across connections keyed by the table itself,
//! given back by a dropped lease and by a holder that vanished, errors that
//! never print a token or a password, and no token in tokio-postgres's own
//! debug log.
//!
//! `cargo xtask test` starts a throwaway server and passes its connection
//! string in `XOXODAY_TEST_POSTGRES`; without one these tests fail, saying so.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::support::*;
use wiremock::MockServer;
use xoxoday_reward_points::{EpochMillis, PostgresTokenStore, Secret, StoredTokens, TokenStore};

fn server() -> String {
    xoxoday_reward_points_testing::postgres::test_postgres()
}

/// A table of its own for each test, so tests never see each other's rows.
fn store(tag: &str) -> (PostgresTokenStore, String) {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let table = format!("tokens_{tag}_{}_{nanos}", std::process::id());
    let store = PostgresTokenStore::from_url(&server())
        .unwrap()
        .table(&table)
        .unwrap();
    (store, table)
}

fn tokens(access: &str, refresh: &str) -> StoredTokens {
    StoredTokens::new(
        Secret::new(access),
        Some(EpochMillis(1_718_000_000_000)),
        Secret::new(refresh),
        None,
    )
}

#[tokio::test]
async fn creates_its_table_starts_empty_and_round_trips() {
    let (store, table) = store("round_trip");
    assert_eq!(store.load().await.unwrap(), None);

    store.save(tokens("access-1", "refresh-1")).await.unwrap();
    let lease = store.lock().await.unwrap();
    assert_eq!(lease.tokens(), Some(&tokens("access-1", "refresh-1")));
    lease.save(tokens("access-2", "refresh-2")).await.unwrap();

    assert_eq!(
        store.load().await.unwrap(),
        Some(tokens("access-2", "refresh-2"))
    );
    // Another store on the same table sees it: it is in the database.
    let other = PostgresTokenStore::from_url(&server())
        .unwrap()
        .table(&table)
        .unwrap();
    assert_eq!(
        other.load().await.unwrap(),
        Some(tokens("access-2", "refresh-2"))
    );
    // A token set of another name is another row.
    assert_eq!(other.token_set("second").load().await.unwrap(), None);
}

#[tokio::test]
async fn the_lock_is_exclusive_across_connections_and_a_dropped_lease_gives_it_back() {
    let (first, table) = store("lock");
    let second = PostgresTokenStore::from_url(&server())
        .unwrap()
        .table(&table)
        .unwrap()
        .lock_timeout(Duration::from_millis(200));
    first.save(tokens("access", "refresh")).await.unwrap();

    let held = first.lock().await.unwrap();
    let refused = second.lock().await.err().unwrap();
    assert_eq!(
        refused.to_string(),
        format!(
            "token store {}: another replica has held the lock for more than 0.2 s",
            second.location()
        )
    );

    // Dropped without release (a cancelled future): the connection closes
    // and the server gives the lock back.
    drop(held);
    let lease = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match second.lock().await {
                Ok(lease) => break lease,
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    })
    .await
    .expect("the lock came back after the lease was dropped");
    lease.release().await.unwrap();
    first.lock().await.unwrap().release().await.unwrap();
}

#[tokio::test]
async fn errors_name_the_table_and_cause_but_never_a_token_or_password() {
    // A table whose constraint refuses the row: the server's DETAIL
    // ("Failing row contains (…)") quotes the tokens; the store leaves it out.
    let (store, table) = store("refused");
    let (client, connection) = tokio_postgres::connect(&server(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
        .batch_execute(&format!(
            "CREATE TABLE {table} (
                 name text PRIMARY KEY,
                 access_token text NOT NULL CHECK (length(access_token) < 5),
                 access_token_expiry bigint,
                 refresh_token text NOT NULL,
                 refresh_token_expiry bigint,
                 updated_at timestamptz NOT NULL DEFAULT now())"
        ))
        .await
        .unwrap();

    let error = store
        .save(tokens("secret-access-token", "secret-refresh-token"))
        .await
        .unwrap_err();

    for shown in [error.to_string(), format!("{error:?}")] {
        assert!(!shown.contains("secret-"), "{shown}");
    }
    assert!(
        error.to_string().ends_with(&format!(
            "cannot save the tokens: new row for relation \"{table}\" violates check constraint \
             \"{table}_access_token_check\" (SQLSTATE 23514)"
        )),
        "{error}"
    );

    // An unreachable server: the password never shows.
    let unreachable =
        PostgresTokenStore::from_url("postgresql://app:hunter2@127.0.0.1:9/tokens").unwrap();
    let error = unreachable.lock().await.err().unwrap();
    for shown in [
        error.to_string(),
        format!("{error:?}"),
        format!("{unreachable:?}"),
    ] {
        assert!(!shown.contains("hunter2"), "{shown}");
    }
    assert!(
        error
            .to_string()
            .starts_with("token store postgres table xoxoday_reward_points_tokens (token set \"default\") on 127.0.0.1/tokens: cannot connect: error connecting to server"),
        "{error}"
    );
}

/// A superuser connection to the test server, for what the tests set up.
async fn admin() -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(&server(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
}

/// The test server's URL for another user.
fn server_as(user: &str) -> String {
    server().replacen("postgres@", &format!("{user}@"), 1)
}

/// Every record of the `log` facade, at every level, as text.
struct CapturedLog(Mutex<Vec<String>>);

impl log::Log for CapturedLog {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &log::Record<'_>) {
        self.0.lock().unwrap().push(format!(
            "{} {}: {}",
            record.level(),
            record.target(),
            record.args()
        ));
    }

    fn flush(&self) {}
}

/// A `log` logger at trace level for this whole test binary, as a service
/// with env_logger or tracing's log bridge has one.
fn captured_log() -> &'static CapturedLog {
    static LOG: OnceLock<&'static CapturedLog> = OnceLock::new();
    LOG.get_or_init(|| {
        let log: &'static CapturedLog = Box::leak(Box::new(CapturedLog(Mutex::new(Vec::new()))));
        log::set_logger(log).unwrap();
        log::set_max_level(log::LevelFilter::Trace);
        log
    })
}

#[tokio::test]
async fn no_token_reaches_tokio_postgres_debug_log() {
    within(async {
        let captured = captured_log();
        let vendor = MockServer::start().await;
        mount_refresh(&vendor, Duration::ZERO).await;
        mount_validate(&vendor).await;
        let (store, _) = store("logged");
        store.save(stored(false, true)).await.unwrap();
        let client = managed_client(&vendor.uri(), Arc::new(store.clone()));

        // A refresh: the store is locked, read, and saved to.
        client.validate_token_points().send().await.unwrap();
        let saved = store.load().await.unwrap().unwrap();
        assert_eq!(saved.refresh_token.expose_secret(), NEW_REFRESH);

        let lines = captured.0.lock().unwrap().clone();
        assert!(
            lines
                .iter()
                .any(|line| line.contains("executing statement") && line.contains("<redacted>")),
            "tokio-postgres logged no statement with its parameters: {lines:#?}"
        );
        for line in &lines {
            for secret in SECRETS {
                assert!(!line.contains(secret), "{secret} in the log: {line}");
            }
        }
    })
    .await
}

#[tokio::test]
async fn a_role_that_may_not_create_tables_uses_an_existing_one() {
    within(async {
        let admin = admin().await;
        let role = format!("limited_{}", std::process::id());
        admin
            .batch_execute(&format!(
                "DROP ROLE IF EXISTS {role}; CREATE ROLE {role} LOGIN;"
            ))
            .await
            .unwrap();
        let table = a_granted_table_is_used_by(&admin, &role).await;
        a_missing_table_is_not_created_by(&role, &table).await;
        an_old_table_is_upgraded_by_its_owner(&admin, &role, &table).await;
    })
    .await
}

/// A store on `table` connected as `role`.
fn store_as(role: &str, table: &str) -> PostgresTokenStore {
    PostgresTokenStore::from_url(&server_as(role))
        .unwrap()
        .table(table)
        .unwrap()
}

/// The owner creates a table (by using the store once) and grants `role`
/// what the store needs: the role's store reads and saves through it. The
/// table's name.
async fn a_granted_table_is_used_by(admin: &tokio_postgres::Client, role: &str) -> String {
    let (owner, table) = store("granted");
    owner.save(tokens("access-1", "refresh-1")).await.unwrap();
    admin
        .batch_execute(&format!(
            "GRANT SELECT, INSERT, UPDATE ON {table} TO {role}"
        ))
        .await
        .unwrap();
    let limited = store_as(role, &table);
    assert_eq!(
        limited.load().await.unwrap(),
        Some(tokens("access-1", "refresh-1"))
    );
    let lease = limited.lock().await.unwrap();
    lease.save(tokens("access-2", "refresh-2")).await.unwrap();
    assert_eq!(
        owner.load().await.unwrap(),
        Some(tokens("access-2", "refresh-2"))
    );
    table
}

/// A missing table (named after `table`): `role` cannot create it, and is
/// told what to do.
async fn a_missing_table_is_not_created_by(role: &str, table: &str) {
    let missing = store_as(role, &format!("{table}_missing"));
    let error = missing.load().await.unwrap_err().to_string();
    assert!(
        error.contains(
            "the table is missing and this role cannot create it (permission denied for \
             schema public (SQLSTATE 42501)): create it as the type's documentation shows, \
             and grant this role SELECT, INSERT and UPDATE on it"
        ),
        "{error}"
    );
}

/// A table an earlier version made (named after `table`) lacks three
/// columns: `role` is told what its owner must run, and the owner's store
/// adds them.
async fn an_old_table_is_upgraded_by_its_owner(
    admin: &tokio_postgres::Client,
    role: &str,
    table: &str,
) {
    let old = format!("{table}_old");
    admin
        .batch_execute(&format!(
            "CREATE TABLE {old} (name text PRIMARY KEY, access_token text NOT NULL,
                 access_token_expiry bigint, refresh_token text NOT NULL,
                 refresh_token_expiry bigint,
                 updated_at timestamptz NOT NULL DEFAULT now());
             GRANT SELECT, INSERT, UPDATE ON {old} TO {role};"
        ))
        .await
        .unwrap();
    let limited_old = store_as(role, &old);
    let error = limited_old.load().await.unwrap_err().to_string();
    assert!(
        error.contains(&format!(
            "have the table's owner run `ALTER TABLE {old} ADD COLUMN IF NOT EXISTS \
             refreshed_at bigint, ADD COLUMN IF NOT EXISTS refresh_rejected text`"
        )),
        "{error}"
    );
    let owner_old = PostgresTokenStore::from_url(&server())
        .unwrap()
        .table(&old)
        .unwrap();
    owner_old
        .save(tokens("access-3", "refresh-3"))
        .await
        .unwrap();
    assert_eq!(
        limited_old.load().await.unwrap(),
        Some(tokens("access-3", "refresh-3"))
    );
}

#[tokio::test]
async fn the_lock_is_the_tables_whatever_its_name_is_spelled() {
    within(async {
        let (plain, table) = store("spelling");
        plain.save(tokens("access", "refresh")).await.unwrap();
        let qualified = PostgresTokenStore::from_url(&server())
            .unwrap()
            .table(&format!("public.{table}"))
            .unwrap()
            .lock_timeout(Duration::from_millis(200));

        let held = plain.lock().await.unwrap();
        let refused = qualified.lock().await.err().unwrap();
        assert!(
            refused
                .to_string()
                .ends_with("another replica has held the lock for more than 0.2 s"),
            "{refused}"
        );
        held.release().await.unwrap();
        qualified.lock().await.unwrap().release().await.unwrap();
    })
    .await
}

/// The lock holder of `the_lock_of_a_holder_that_vanishes_…`, run as a
/// process of its own: takes the lock with a 2-second lease timeout, says
/// so, and sleeps (its parent freezes it with SIGSTOP).
#[tokio::test]
#[ignore = "a child process of the_lock_of_a_holder_that_vanishes_comes_back_within_the_lease_timeout"]
async fn lock_holder_child_process() {
    let table = std::env::var("XOXODAY_TEST_LOCK_TABLE").unwrap();
    let store = PostgresTokenStore::from_url(&server())
        .unwrap()
        .table(&table)
        .unwrap()
        .lease_timeout(Duration::from_secs(2));
    let _lease = store.lock().await.unwrap();
    println!("locked");
    tokio::time::sleep(Duration::from_secs(120)).await;
}

#[tokio::test]
async fn the_lock_of_a_holder_that_vanishes_comes_back_within_the_lease_timeout() {
    within(async {
        let (store, table) = store("vanished");
        store.save(tokens("access", "refresh")).await.unwrap();
        let mut holder = Command::new(std::env::current_exe().unwrap())
            .args([
                "--ignored",
                "--exact",
                "postgres_token_store::lock_holder_child_process",
                "--nocapture",
            ])
            .env("XOXODAY_TEST_LOCK_TABLE", &table)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = holder.stdout.take().unwrap();
        let locked = tokio::task::spawn_blocking(move || {
            BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                .any(|line| line == "locked")
        })
        .await
        .unwrap();
        assert!(locked, "the holder did not take the lock");
        // Frozen while it holds the lock: it will never release it.
        let stopped = Command::new("kill")
            .args(["-STOP", &holder.id().to_string()])
            .status()
            .unwrap();
        assert!(stopped.success());

        let waiter = store.lock_timeout(Duration::from_secs(20));
        let started = Instant::now();
        let lease = waiter.lock().await;
        let waited = started.elapsed();
        let _ = holder.kill();
        let _ = holder.wait();

        lease.unwrap().release().await.unwrap();
        assert!(
            waited < Duration::from_secs(10),
            "the lock came back after {waited:?}"
        );
    })
    .await
}

/// A server (here: a role) tuned with `synchronous_commit = off` would
/// acknowledge a commit before it is on disk; every session this crate
/// opens, for the token store and the payout ledger alike, asks for `on`.
#[tokio::test]
async fn a_session_asks_for_synchronous_commit_whatever_the_servers_default() {
    within(async {
        let admin = admin().await;
        let role = format!("tuned_{}", std::process::id());
        admin
            .batch_execute(&format!(
                "DROP ROLE IF EXISTS {role}; CREATE ROLE {role} LOGIN; \
                 ALTER ROLE {role} SET synchronous_commit = off;"
            ))
            .await
            .unwrap();
        let target = xoxoday_reward_points::PostgresTarget::from_url(&server_as(&role)).unwrap();
        let (plain, connection) = tokio_postgres::connect(&server_as(&role), tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        let setting = |row: tokio_postgres::Row| row.get::<_, String>(0);
        let default = plain
            .query_one("SHOW synchronous_commit", &[])
            .await
            .unwrap();
        assert_eq!(setting(default), "off", "the role is tuned so");

        let session = target.connect().await.unwrap();
        let asked = session
            .query_one("SHOW synchronous_commit", &[])
            .await
            .unwrap();

        assert_eq!(setting(asked), "on");
        drop((plain, session));
        admin
            .batch_execute(&format!("DROP ROLE IF EXISTS {role}"))
            .await
            .unwrap();
    })
    .await;
}

/// A role that may read the token table but not write it: the store is
/// found unwritable under the lock, before the vendor is asked, and the
/// refresh token at the vendor stays the one the table holds.
#[tokio::test]
async fn a_role_that_may_not_write_the_table_never_refreshes() {
    within(async {
        let admin = admin().await;
        let role = format!("reader_{}", std::process::id());
        admin
            .batch_execute(&format!(
                "DROP ROLE IF EXISTS {role}; CREATE ROLE {role} LOGIN;"
            ))
            .await
            .unwrap();
        let (owner, table) = store("readonly");
        let mut held = tokens("access-1", "refresh-1");
        held.access_token_expiry = Some(EpochMillis(1_000));
        owner.save(held).await.unwrap();
        admin
            .batch_execute(&format!("GRANT SELECT ON {table} TO {role}"))
            .await
            .unwrap();
        let reader = PostgresTokenStore::from_url(&server_as(&role))
            .unwrap()
            .table(&table)
            .unwrap();
        let vendor = MockServer::start().await;
        mount_refresh(&vendor, Duration::ZERO).await;
        let client = managed_client(&vendor.uri(), Arc::new(reader));

        let refused = client.validate_token_points().send().await.unwrap_err();

        assert!(
            refused
                .to_string()
                .contains("the tokens are not refreshed until the store can be written"),
            "{refused}"
        );
        assert!(requests_to(&vendor, REFRESH_PATH).await.is_empty());
        assert_eq!(
            owner
                .load()
                .await
                .unwrap()
                .unwrap()
                .refresh_token
                .expose_secret(),
            "refresh-1"
        );
        drop(client);
        admin
            .batch_execute(&format!(
                "REVOKE ALL ON {table} FROM {role}; DROP ROLE IF EXISTS {role}"
            ))
            .await
            .unwrap();
    })
    .await;
}
