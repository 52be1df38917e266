//! The token lifecycle where the vendor is odd or unwell, against local
//! servers that count what they receive: a rotated refresh token is kept
//! whatever else its answer lacks; a refresh that fails for a passing reason
//! neither fails calls nor repeats on every call; a 401 that a refresh did
//! not cure is not refreshed again and again; a refused refresh reads the
//! store again before it calls for a person.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};
use xoxoday_reward_points::{
    AuthError, EpochMillis, Error, MemoryTokenStore, Secret, StoreError, StoreFuture, StoredTokens,
    TokenLease, TokenStore, TransientAuth,
};

async fn refresh_answers(server: &MockServer, answer: ResponseTemplate) {
    Mock::given(method("POST"))
        .and(path(REFRESH_PATH))
        .respond_with(answer)
        .mount(server)
        .await;
}

/// Tokens whose access token expires in `seconds` (negative: expired).
fn expiring_in(seconds: i64) -> StoredTokens {
    let mut tokens = stored(true, true);
    tokens.access_token_expiry =
        Some(EpochMillis((now_ms() as i64 + seconds * 1000).max(0) as u64));
    tokens
}

async fn stored_refresh_token(store: &MemoryTokenStore) -> String {
    let tokens = store.load().await.unwrap().unwrap();
    tokens.refresh_token.expose_secret().to_owned()
}

// ---------------------------------------------------------------------------
// A rotated refresh token is never lost to decoding.

#[tokio::test]
async fn expires_in_as_a_string_keeps_the_new_refresh_token_and_reads_the_expiry() {
    within(async {
        let server = MockServer::start().await;
        refresh_answers(
            &server,
            ResponseTemplate::new(200).set_body_json(json!({
                "access_token": NEW_ACCESS, "refresh_token": NEW_REFRESH,
                "token_type": "bearer", "expires_in": "1296000"
            })),
        )
        .await;
        validate_accepts(&server, NEW_ACCESS).await;
        let store = MemoryTokenStore::new(expiring_in(-1));
        let client = managed_client(&server.uri(), Arc::new(store.clone()));
        let before = now_ms();

        client.validate_token_points().send().await.unwrap();

        let saved = store.load().await.unwrap().unwrap();
        assert_eq!(saved.refresh_token.expose_secret(), NEW_REFRESH);
        let expiry = saved.access_token_expiry.unwrap().as_millis();
        assert!(
            (before + 1_296_000_000..=now_ms() + 1_296_000_000).contains(&expiry),
            "{expiry}"
        );
    })
    .await
}

#[tokio::test]
async fn an_answer_with_no_expiry_at_all_keeps_the_new_refresh_token() {
    within(async {
        let server = MockServer::start().await;
        refresh_answers(
            &server,
            ResponseTemplate::new(200).set_body_json(json!({
                "access_token": NEW_ACCESS, "refresh_token": NEW_REFRESH,
                "access_token_expiry": "soon", "expires_in": null
            })),
        )
        .await;
        validate_accepts(&server, NEW_ACCESS).await;
        let store = MemoryTokenStore::new(expiring_in(-1));
        let client = managed_client(&server.uri(), Arc::new(store.clone()));

        client.validate_token_points().send().await.unwrap();
        // An unknown expiry is used until the vendor says 401: no refresh
        // on every call.
        client.validate_token_points().send().await.unwrap();

        let saved = store.load().await.unwrap().unwrap();
        assert_eq!(saved.refresh_token.expose_secret(), NEW_REFRESH);
        assert_eq!(saved.access_token_expiry, None);
        assert_eq!(requests_to(&server, REFRESH_PATH).await.len(), 1);
    })
    .await
}

#[tokio::test]
async fn an_answer_without_an_access_token_still_saves_the_new_refresh_token() {
    within(async {
        let server = MockServer::start().await;
        refresh_answers(
            &server,
            ResponseTemplate::new(200).set_body_json(json!({ "refresh_token": NEW_REFRESH })),
        )
        .await;
        validate_accepts(&server, NEW_ACCESS).await;
        let store = MemoryTokenStore::new(expiring_in(-1));
        let client = managed_client(&server.uri(), Arc::new(store.clone()));

        let error = client.validate_token_points().send().await.unwrap_err();

        assert!(
            matches!(
                error,
                Error::Auth {
                    source: AuthError::Transient(TransientAuth::IncompleteRefresh {
                        missing: "access_token"
                    }),
                    ..
                }
            ),
            "{error:?}"
        );
        assert_eq!(stored_refresh_token(&store).await, NEW_REFRESH);
        assert!(requests_to(&server, TOKEN_PATH).await.is_empty());
    })
    .await
}

// ---------------------------------------------------------------------------
// No storms, no false alarms.

/// 40 calls over about 1.6 s while the access token is valid but inside the
/// refresh margin, with every refresh failing: all calls succeed with the
/// valid token, and refreshing backs off (at 0 s, then after 1 s).
async fn passing_refresh_failures_do_not_fail_calls(status: u16) {
    let server = MockServer::start().await;
    refresh_answers(
        &server,
        ResponseTemplate::new(status).set_body_json(json!({ "error": "try later" })),
    )
    .await;
    validate_accepts(&server, OLD_ACCESS).await;
    // Valid for a minute; the margin is five.
    let store = MemoryTokenStore::new(expiring_in(60));
    let client = managed_client(&server.uri(), Arc::new(store.clone()));

    for _ in 0..40 {
        let answer = client.validate_token_points().send().await;
        assert!(answer.is_ok(), "HTTP {status} on refresh: {answer:?}");
        tokio::time::sleep(Duration::from_millis(40)).await;
    }

    let refreshes = requests_to(&server, REFRESH_PATH).await.len();
    assert!(
        (1..=2).contains(&refreshes),
        "HTTP {status}: {refreshes} refresh requests"
    );
    assert_eq!(requests_to(&server, TOKEN_PATH).await.len(), 40);
    assert_eq!(stored_refresh_token(&store).await, OLD_REFRESH);
}

#[tokio::test]
async fn a_429_on_refresh_with_a_valid_access_token_fails_no_call_and_backs_off() {
    within(passing_refresh_failures_do_not_fail_calls(429)).await
}

#[tokio::test]
async fn a_500_on_refresh_with_a_valid_access_token_fails_no_call_and_backs_off() {
    within(passing_refresh_failures_do_not_fail_calls(500)).await
}

#[tokio::test]
async fn a_503_on_refresh_with_an_expired_token_is_transient_and_never_asks_for_a_person() {
    within(async {
        let server = MockServer::start().await;
        refresh_answers(&server, ResponseTemplate::new(503)).await;
        let client = managed_client(
            &server.uri(),
            Arc::new(MemoryTokenStore::new(expiring_in(-1))),
        );

        let first = client.validate_token_points().send().await.unwrap_err();
        let second = client.validate_token_points().send().await.unwrap_err();

        match &first {
            Error::Auth {
                source: AuthError::Transient(TransientAuth::RefreshUnavailable { reason }),
                ..
            } => assert_eq!(reason, "HTTP 503 Service Unavailable"),
            other => panic!("expected a passing failure, got {other:?}"),
        }
        // The second call does not refresh again: it is backing off.
        assert!(
            matches!(
                &second,
                Error::Auth {
                    source: AuthError::Transient(TransientAuth::BackingOff { .. }),
                    ..
                }
            ),
            "{second:?}"
        );
        for error in [&first, &second] {
            assert!(!error.to_string().contains("dashboard"), "{error}");
        }
        assert_eq!(requests_to(&server, REFRESH_PATH).await.len(), 1);
        assert!(requests_to(&server, TOKEN_PATH).await.is_empty());
    })
    .await
}

#[tokio::test]
async fn a_401_that_a_refresh_did_not_cure_is_not_refreshed_on_every_call() {
    within(async {
        let server = MockServer::start().await;
        mount_refresh(&server, Duration::ZERO).await;
        // Every token is refused, the refreshed one too.
        validate_accepts(&server, "no-token-is-good-enough").await;
        let client = managed_client(
            &server.uri(),
            Arc::new(MemoryTokenStore::new(stored(true, true))),
        );

        for _ in 0..20 {
            let error = client.validate_token_points().send().await.unwrap_err();
            assert!(
                matches!(&error, Error::Unauthorized { message: Some(m), .. } if m == "Unauthorized"),
                "{error:?}"
            );
        }

        assert_eq!(requests_to(&server, REFRESH_PATH).await.len(), 1);
        // The first call is repeated once with the refreshed token.
        assert_eq!(requests_to(&server, TOKEN_PATH).await.len(), 21);
    })
    .await
}

// ---------------------------------------------------------------------------
// A refused refresh reads the store again.

/// A store written by a program that does not take the lock: the lock shows
/// the tokens as they were, and a second read, newer ones.
#[derive(Debug)]
struct WrittenBehindTheLock {
    at_lock: StoredTokens,
    later: StoredTokens,
}

struct StaleLease {
    tokens: StoredTokens,
    later: StoredTokens,
}

impl TokenStore for WrittenBehindTheLock {
    fn load(&self) -> StoreFuture<'_, Option<StoredTokens>> {
        let tokens = self.at_lock.clone();
        Box::pin(async move { Ok(Some(tokens)) })
    }

    fn lock(&self) -> StoreFuture<'_, Box<dyn TokenLease>> {
        let lease = StaleLease {
            tokens: self.at_lock.clone(),
            later: self.later.clone(),
        };
        Box::pin(async move { Ok(Box::new(lease) as Box<dyn TokenLease>) })
    }

    fn location(&self) -> String {
        "written behind the lock".into()
    }
}

impl TokenLease for StaleLease {
    fn tokens(&self) -> Option<&StoredTokens> {
        Some(&self.tokens)
    }

    fn reload(&mut self) -> StoreFuture<'_, Option<StoredTokens>> {
        self.tokens = self.later.clone();
        let tokens = self.tokens.clone();
        Box::pin(async move { Ok(Some(tokens)) })
    }

    fn save(self: Box<Self>, _: StoredTokens) -> StoreFuture<'static, ()> {
        Box::pin(async {
            Err(StoreError {
                location: "written behind the lock".into(),
                message: "not expected to be saved to".into(),
            })
        })
    }

    fn release(self: Box<Self>) -> StoreFuture<'static, ()> {
        Box::pin(async { Ok(()) })
    }
}

#[tokio::test]
async fn a_refused_refresh_reads_the_store_again_before_asking_for_a_person() {
    within(async {
        let server = MockServer::start().await;
        // The old refresh token was rotated by the other program.
        refresh_answers(
            &server,
            ResponseTemplate::new(401).set_body_json(json!({ "error": "invalid refresh token" })),
        )
        .await;
        validate_accepts(&server, NEW_ACCESS).await;
        let store = WrittenBehindTheLock {
            at_lock: expiring_in(-1),
            later: StoredTokens {
                access_token: Secret::new(NEW_ACCESS),
                access_token_expiry: Some(EpochMillis(now_ms() + DAY_MS)),
                refresh_token: Secret::new(NEW_REFRESH),
                refresh_token_expiry: None,
            },
        };
        let client = managed_client(&server.uri(), Arc::new(store));

        client.validate_token_points().send().await.unwrap();

        let refreshes = requests_to(&server, REFRESH_PATH).await;
        assert_eq!(refreshes.len(), 1);
        let sent: Value = serde_json::from_slice(&refreshes[0].body).unwrap();
        assert_eq!(sent["refresh_token"], OLD_REFRESH);
    })
    .await
}
