//! `PostgresTokenStore` against a real PostgreSQL server: the table created
//! when missing, an exclusive lock across connections that a dropped lease
//! gives back, and errors that never print a token or a password.
//!
//! `cargo xtask test` starts a throwaway server and passes its connection
//! string in `XOXODAY_TEST_POSTGRES`; without one these tests fail, saying so.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use xoxoday_reward_points::{EpochMillis, PostgresTokenStore, Secret, StoredTokens, TokenStore};

fn server() -> String {
    std::env::var("XOXODAY_TEST_POSTGRES").unwrap_or_else(|_| {
        panic!(
            "these tests need a PostgreSQL server: run them with `cargo xtask test`, which \
             starts a throwaway one from the system's binaries (installing Debian's \
             postgresql package when missing), or set XOXODAY_TEST_POSTGRES to a server's \
             connection string (such as postgresql://postgres@%2Ftmp%2Fpg/postgres)"
        )
    })
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
    StoredTokens {
        access_token: Secret::new(access),
        access_token_expiry: Some(EpochMillis(1_718_000_000_000)),
        refresh_token: Secret::new(refresh),
        refresh_token_expiry: None,
    }
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
