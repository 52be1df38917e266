//! The token lifecycle where the vendor is odd or unwell, against local
//! servers that count what they receive: a rotated refresh token is kept
//! whatever else its answer lacks; a refresh that fails for a passing reason
//! neither fails calls nor repeats on every call; a 401 that a refresh did
//! not cure is not refreshed again and again; a refused refresh reads the
//! store again before it calls for a person.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::support::*;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};
use xoxoday_reward_points::{
    AuthError, EpochMillis, Error, MemoryTokenStore, NeedsPerson, RefreshRejection, Secret,
    StoreError, StoreFuture, StoredTokens, TokenLease, TokenStore, TransientAuth,
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

/// Calls for 1.6 s while the access token is valid but inside the
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

    // Calls for 1.6 s: past the retry after a second, well before the one
    // after that (however slow each call is).
    let started = std::time::Instant::now();
    let mut calls = 0;
    while started.elapsed() < Duration::from_millis(1_600) {
        let answer = client.validate_token_points().send().await;
        assert!(answer.is_ok(), "HTTP {status} on refresh: {answer:?}");
        calls += 1;
        tokio::time::sleep(Duration::from_millis(40)).await;
    }

    let refreshes = requests_to(&server, REFRESH_PATH).await.len();
    assert!(
        (1..=2).contains(&refreshes),
        "HTTP {status}: {refreshes} refresh requests"
    );
    assert!(calls >= 10, "{calls} calls");
    assert_eq!(requests_to(&server, TOKEN_PATH).await.len(), calls);
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

/// A 401 while refreshing backs off after a passing failure (the vendor
/// answering 503): the 401 stands rather than each call asking a
/// struggling vendor again.
#[tokio::test]
async fn a_401_after_a_refresh_that_failed_for_a_passing_reason_does_not_refresh_again() {
    within(async {
        let server = MockServer::start().await;
        refresh_answers(&server, ResponseTemplate::new(503)).await;
        // The vendor takes no access token (it revoked them); the stored
        // one has not expired by this clock.
        validate_accepts(&server, NEW_ACCESS).await;
        let client = managed_client(
            &server.uri(),
            Arc::new(MemoryTokenStore::new(expiring_in(3600))),
        );

        let first = client.validate_token_points().send().await.unwrap_err();
        let answers = [
            client.validate_token_points().send().await.unwrap_err(),
            client.validate_token_points().send().await.unwrap_err(),
        ];

        // The first call's refresh failed (503); the next calls' 401s stand
        // while the refresh backs off.
        assert!(
            matches!(
                &first,
                Error::Auth {
                    source: AuthError::Transient(TransientAuth::RefreshUnavailable { .. }),
                    ..
                }
            ),
            "{first:?}"
        );
        for answer in &answers {
            assert!(matches!(answer, Error::Unauthorized { .. }), "{answer:?}");
        }
        assert_eq!(requests_to(&server, REFRESH_PATH).await.len(), 1);
        assert_eq!(requests_to(&server, TOKEN_PATH).await.len(), 3);
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
            later: StoredTokens::new(
                Secret::new(NEW_ACCESS),
                Some(EpochMillis(now_ms() + DAY_MS)),
                Secret::new(NEW_REFRESH),
                None,
            ),
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

// ---------------------------------------------------------------------------
// A refresh token the vendor refuses: no storm, calls go on, the store knows.

#[tokio::test]
async fn a_refused_refresh_token_is_not_tried_again_and_calls_go_on_while_the_token_is_valid() {
    within(async {
        let server = MockServer::start().await;
        refresh_answers(
            &server,
            ResponseTemplate::new(400).set_body_json(json!({ "error": "invalid_grant" })),
        )
        .await;
        validate_accepts(&server, OLD_ACCESS).await;
        // Valid for two more minutes: inside the five-minute margin.
        let store = MemoryTokenStore::new(expiring_in(120));
        let first = managed_client(&server.uri(), Arc::new(store.clone()));

        // A long-running client, busy: every call wants a refresh.
        for _ in 0..200 {
            first.validate_token_points().send().await.unwrap();
        }
        let calls = (0..100).map(|_| {
            let client = first.clone();
            async move { client.validate_token_points().send().await.map(drop) }
        });
        for answer in futures_join_all(calls).await {
            answer.unwrap();
        }

        assert_eq!(requests_to(&server, REFRESH_PATH).await.len(), 1);
        let manager = first.token_manager().unwrap();
        match manager.health() {
            Err(AuthError::NeedsPerson(NeedsPerson::RefreshRejected {
                status: 400,
                message,
            })) => {
                assert_eq!(message.as_deref(), Some("invalid_grant"))
            }
            other => panic!("{other:?}"),
        }
        // The refusal is in the store, for the other processes.
        let held = store.load().await.unwrap().unwrap();
        let [rejection] = &held.refresh_rejected[..] else {
            panic!(
                "one refusal recorded in the store: {:?}",
                held.refresh_rejected
            );
        };
        assert_eq!(rejection.status, 400);
        assert_eq!(held.refresh_token.expose_secret(), OLD_REFRESH);

        // Another process sharing the store does not try the dead token.
        let second = managed_client(&server.uri(), Arc::new(store.clone()));
        for _ in 0..50 {
            second.validate_token_points().send().await.unwrap();
        }
        assert_eq!(requests_to(&server, REFRESH_PATH).await.len(), 1);
        assert!(
            second
                .token_manager()
                .unwrap()
                .health()
                .unwrap_err()
                .needs_person()
        );
        assert_eq!(requests_to(&server, TOKEN_PATH).await.len(), 350);
    })
    .await
}

#[tokio::test]
async fn a_refused_refresh_token_with_an_expired_access_token_fails_fast_and_new_tokens_heal_it() {
    within(async {
        let server = MockServer::start().await;
        refresh_answers(
            &server,
            ResponseTemplate::new(401).set_body_json(json!({ "error": "invalid refresh token" })),
        )
        .await;
        validate_accepts(&server, NEW_ACCESS).await;
        let store = MemoryTokenStore::new(expiring_in(-1));
        let client = managed_client(&server.uri(), Arc::new(store.clone()));

        for _ in 0..30 {
            match client.validate_token_points().send().await {
                Err(Error::Auth {
                    source: AuthError::NeedsPerson(NeedsPerson::RefreshRejected { .. }),
                    ..
                }) => {}
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(requests_to(&server, REFRESH_PATH).await.len(), 1);
        assert!(requests_to(&server, TOKEN_PATH).await.is_empty());

        // A person seeds new tokens; the client picks them up within ten
        // seconds, without a refresh.
        store
            .save(StoredTokens::new(
                Secret::new(NEW_ACCESS),
                Some(EpochMillis(now_ms() + DAY_MS)),
                Secret::new(NEW_REFRESH),
                None,
            ))
            .await
            .unwrap();
        let healed = tokio::time::timeout(Duration::from_secs(15), async {
            while client.validate_token_points().send().await.is_err() {
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        })
        .await;
        assert!(healed.is_ok(), "new tokens in the store were not picked up");
        client.token_manager().unwrap().health().unwrap();
        assert_eq!(requests_to(&server, REFRESH_PATH).await.len(), 1);
    })
    .await
}

/// Runs the futures at once, each in a task, and returns their outputs.
async fn futures_join_all<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let mut set = tokio::task::JoinSet::new();
    for future in futures {
        set.spawn(future);
    }
    let mut outputs = Vec::new();
    while let Some(output) = set.join_next().await {
        outputs.push(output.unwrap());
    }
    outputs
}

// ---------------------------------------------------------------------------
// A rotation that already counts as expiring does not start another.

async fn refreshes_after_fifty_calls(rotated: Value) -> usize {
    let server = MockServer::start().await;
    refresh_answers(&server, ResponseTemplate::new(200).set_body_json(rotated)).await;
    validate_accepts(&server, NEW_ACCESS).await;
    let client = managed_client(
        &server.uri(),
        Arc::new(MemoryTokenStore::new(expiring_in(-1))),
    );
    for _ in 0..50 {
        client.validate_token_points().send().await.unwrap();
    }
    requests_to(&server, REFRESH_PATH).await.len()
}

#[tokio::test]
async fn a_lifetime_shorter_than_the_margin_does_not_make_every_call_refresh() {
    within(async {
        // A minute's lifetime, a five-minute margin.
        let rotated = json!({ "access_token": NEW_ACCESS, "refresh_token": NEW_REFRESH,
                              "expires_in": 60 });
        assert_eq!(refreshes_after_fifty_calls(rotated).await, 1);
    })
    .await
}

#[tokio::test]
async fn an_expiry_sent_in_seconds_or_a_clock_ahead_does_not_make_every_call_refresh() {
    within(async {
        // Epoch seconds where milliseconds belong: 1970, already past.
        let rotated = json!({ "access_token": NEW_ACCESS, "refresh_token": NEW_REFRESH,
                              "access_token_expiry": now_ms() / 1000 });
        assert_eq!(refreshes_after_fifty_calls(rotated).await, 1);
        // A clock ahead of the vendor's by a day: the vendor's expiry in an
        // hour is already past here.
        let rotated = json!({ "access_token": NEW_ACCESS, "refresh_token": NEW_REFRESH,
                              "access_token_expiry": now_ms() - DAY_MS + 3_600_000 });
        assert_eq!(refreshes_after_fifty_calls(rotated).await, 1);
    })
    .await
}

// ---------------------------------------------------------------------------
// A rotation the store could not take never overwrites newer tokens.

/// A memory store whose first `failing` saves fail (a disk that fills up).
#[derive(Debug, Clone)]
struct SavesFail {
    inner: MemoryTokenStore,
    failing: Arc<AtomicU32>,
}

impl SavesFail {
    fn new(inner: MemoryTokenStore, failing: u32) -> Self {
        Self {
            inner,
            failing: Arc::new(AtomicU32::new(failing)),
        }
    }
}

struct SavesFailLease {
    inner: Box<dyn TokenLease>,
    failing: Arc<AtomicU32>,
}

impl TokenStore for SavesFail {
    fn load(&self) -> StoreFuture<'_, Option<StoredTokens>> {
        self.inner.load()
    }

    fn lock(&self) -> StoreFuture<'_, Box<dyn TokenLease>> {
        let failing = self.failing.clone();
        Box::pin(async move {
            let inner = self.inner.lock().await?;
            Ok(Box::new(SavesFailLease { inner, failing }) as Box<dyn TokenLease>)
        })
    }

    fn location(&self) -> String {
        "saves fail".into()
    }
}

impl TokenLease for SavesFailLease {
    fn tokens(&self) -> Option<&StoredTokens> {
        self.inner.tokens()
    }

    fn reload(&mut self) -> StoreFuture<'_, Option<StoredTokens>> {
        self.inner.reload()
    }

    fn save(self: Box<Self>, tokens: StoredTokens) -> StoreFuture<'static, ()> {
        let fails = self
            .failing
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if fails {
            return Box::pin(async {
                Err(StoreError {
                    location: "saves fail".into(),
                    message: "disk full".into(),
                })
            });
        }
        self.inner.save(tokens)
    }

    fn release(self: Box<Self>) -> StoreFuture<'static, ()> {
        self.inner.release()
    }
}

/// The first save and the three tries after it.
const EVERY_TRY: u32 = 4;

#[tokio::test]
async fn a_rotation_the_store_could_not_take_at_once_is_saved_by_the_same_call() {
    within(async {
        let server = MockServer::start().await;
        mount_refresh(&server, Duration::ZERO).await;
        validate_accepts(&server, NEW_ACCESS).await;
        let memory = MemoryTokenStore::new(expiring_in(-1));
        let store = SavesFail::new(memory.clone(), EVERY_TRY - 1);
        let client = managed_client(&server.uri(), Arc::new(store));

        client.validate_token_points().send().await.unwrap();

        assert_eq!(stored_refresh_token(&memory).await, NEW_REFRESH);
        assert_eq!(requests_to(&server, REFRESH_PATH).await.len(), 1);
    })
    .await
}

/// An operator's refresh whose first save failed is saved by the tries
/// after it, and the vendor is asked once: not once more after the save.
#[tokio::test]
async fn a_forced_refresh_saved_at_its_second_try_asks_the_vendor_once() {
    within(async {
        let server = MockServer::start().await;
        mount_refresh(&server, Duration::ZERO).await;
        let memory = MemoryTokenStore::new(expiring_in(3600));
        let store = SavesFail::new(memory.clone(), 1);
        let client = managed_client(&server.uri(), Arc::new(store));

        let tokens = client.token_manager().unwrap().refresh_now().await.unwrap();

        assert_eq!(tokens.refresh_token.expose_secret(), NEW_REFRESH);
        assert_eq!(stored_refresh_token(&memory).await, NEW_REFRESH);
        assert_eq!(requests_to(&server, REFRESH_PATH).await.len(), 1);
    })
    .await
}

#[tokio::test]
async fn a_rotation_the_store_could_not_take_is_saved_later_but_never_over_newer_tokens() {
    within(async {
        const SEEDED_ACCESS: &str = "seeded-by-a-person-access-2d7c";
        const SEEDED_REFRESH: &str = "seeded-by-a-person-refresh-6a1b";
        let server = MockServer::start().await;
        mount_refresh(&server, Duration::ZERO).await;
        validate_accepts(&server, SEEDED_ACCESS).await;
        let memory = MemoryTokenStore::new(expiring_in(-1));
        let store = SavesFail::new(memory.clone(), EVERY_TRY);
        let client = managed_client(&server.uri(), Arc::new(store));

        // The vendor rotated the tokens, the store would not take them.
        match client.validate_token_points().send().await {
            Err(Error::Auth {
                source: AuthError::Transient(TransientAuth::RotationUnsaved { error }),
                ..
            }) => assert_eq!(error.message, "disk full"),
            other => panic!("{other:?}"),
        }
        // Meanwhile a person (or another replica) stores newer tokens.
        memory
            .save(StoredTokens::new(
                Secret::new(SEEDED_ACCESS),
                Some(EpochMillis(now_ms() + DAY_MS)),
                Secret::new(SEEDED_REFRESH),
                None,
            ))
            .await
            .unwrap();

        tokio::time::sleep(Duration::from_millis(1_100)).await;
        client.validate_token_points().send().await.unwrap();

        let held = memory.load().await.unwrap().unwrap();
        assert_eq!(held.refresh_token.expose_secret(), SEEDED_REFRESH);
        assert_eq!(requests_to(&server, REFRESH_PATH).await.len(), 1);
        let sent = &requests_to(&server, TOKEN_PATH).await[0];
        assert_eq!(
            sent.headers["authorization"],
            format!("Bearer {SEEDED_ACCESS}").as_str()
        );
    })
    .await
}

#[tokio::test]
async fn a_rotation_the_store_could_not_take_is_saved_at_the_next_call() {
    within(async {
        let server = MockServer::start().await;
        mount_refresh(&server, Duration::ZERO).await;
        validate_accepts(&server, NEW_ACCESS).await;
        let memory = MemoryTokenStore::new(expiring_in(-1));
        let store = SavesFail::new(memory.clone(), EVERY_TRY);
        let client = managed_client(&server.uri(), Arc::new(store));

        let error = client.validate_token_points().send().await.unwrap_err();
        assert_eq!(
            error.to_string(),
            "validateTokenPoints: the vendor rotated the refresh token and the token store would \
             not take the new one (token store saves fail: disk full): this process holds it and \
             saves it at its next call; if the process ends first, it is lost and a new one must \
             be made in the Xoxoday dashboard"
        );
        // Until the pause after the failed tries is over, calls say so at
        // once; then the next saves it.
        let again = client.validate_token_points().send().await.unwrap_err();
        assert!(
            matches!(
                &again,
                Error::Auth {
                    source: AuthError::Transient(TransientAuth::RotationUnsaved { .. }),
                    ..
                }
            ),
            "{again:?}"
        );
        tokio::time::sleep(Duration::from_millis(1_100)).await;
        client.validate_token_points().send().await.unwrap();

        assert_eq!(stored_refresh_token(&memory).await, NEW_REFRESH);
        assert_eq!(requests_to(&server, REFRESH_PATH).await.len(), 1);
    })
    .await
}

/// A refusal recorded by a process with other credentials (a replica with a
/// wrong client secret) says nothing of the token: this client refreshes.
#[tokio::test]
async fn a_refusal_recorded_with_other_credentials_stops_no_refresh() {
    within(async {
        let server = MockServer::start().await;
        mount_refresh(&server, Duration::ZERO).await;
        validate_accepts(&server, NEW_ACCESS).await;
        let mut tokens = expiring_in(-1);
        tokens.refresh_rejected = vec![RefreshRejection::new(
            EpochMillis(now_ms()),
            401,
            1,
            Some("0123456789abcdef".into()),
        )];
        let store = MemoryTokenStore::new(tokens);
        let client = managed_client(&server.uri(), Arc::new(store.clone()));

        client.validate_token_points().send().await.unwrap();

        assert_eq!(requests_to(&server, REFRESH_PATH).await.len(), 1);
        let saved = store.load().await.unwrap().unwrap();
        assert_eq!(saved.refresh_token.expose_secret(), NEW_REFRESH);
        assert_eq!(saved.refresh_rejected, [], "new tokens clear the refusal");
        client.token_manager().unwrap().health().unwrap();
    })
    .await
}

/// A refusal recorded by a process with the same credentials is honoured:
/// no refresh, and the client says a person must act.
#[tokio::test]
async fn a_refusal_recorded_with_the_same_credentials_is_honoured() {
    within(async {
        let server = MockServer::start().await;
        mount_refresh(&server, Duration::ZERO).await;
        validate_accepts(&server, OLD_ACCESS).await;
        // A first client records the refusal...
        let refusing = MockServer::start().await;
        refresh_answers(
            &refusing,
            ResponseTemplate::new(401).set_body_json(json!({ "error": "invalid refresh token" })),
        )
        .await;
        validate_accepts(&refusing, OLD_ACCESS).await;
        let store = MemoryTokenStore::new(expiring_in(120));
        managed_client(&refusing.uri(), Arc::new(store.clone()))
            .validate_token_points()
            .send()
            .await
            .unwrap();
        assert!(store.load().await.unwrap().unwrap().refresh_rejected.len() == 1);

        // ...which a second one, with the same credentials, honours.
        let client = managed_client(&server.uri(), Arc::new(store));
        client.validate_token_points().send().await.unwrap();
        assert!(requests_to(&server, REFRESH_PATH).await.is_empty());
        assert!(
            client
                .token_manager()
                .unwrap()
                .health()
                .unwrap_err()
                .needs_person()
        );
    })
    .await
}

/// Two replicas with different credentials (one with a wrong client
/// secret) share a store whose refresh token is dead: each records its own
/// refusal beside the other's, and each honours its own, so that a replica
/// that starts again (a crash-looping pod) does not try the token at once.
#[tokio::test]
async fn each_credential_set_keeps_its_own_refusal_record() {
    within(async {
        let refusing = MockServer::start().await;
        refresh_answers(
            &refusing,
            ResponseTemplate::new(401).set_body_json(json!({ "error": "invalid refresh token" })),
        )
        .await;
        validate_accepts(&refusing, OLD_ACCESS).await;
        let store = MemoryTokenStore::new(expiring_in(120));
        let with_secret = |secret: &str| {
            xoxoday_reward_points::Client::builder(xoxoday_reward_points::Environment::Sandbox)
                .token_store(Arc::new(store.clone()))
                .client_credentials("your_client_id", Secret::new(secret))
                .origin_override(SANDBOX, &refusing.uri())
                .unwrap()
                .origin_override(ACCOUNTS, &refusing.uri())
                .unwrap()
                .retry(fast_retries())
                .build()
                .unwrap()
        };
        with_secret("right-secret")
            .validate_token_points()
            .send()
            .await
            .unwrap();
        with_secret("wrong-secret")
            .validate_token_points()
            .send()
            .await
            .unwrap();
        let held = store.load().await.unwrap().unwrap();
        assert_eq!(
            held.refresh_rejected.len(),
            2,
            "{:?}",
            held.refresh_rejected
        );

        // Each set, started again, honours its own record.
        for secret in ["right-secret", "wrong-secret", "right-secret"] {
            let again = with_secret(secret);
            again.validate_token_points().send().await.unwrap();
            assert!(
                again
                    .token_manager()
                    .unwrap()
                    .health()
                    .unwrap_err()
                    .needs_person()
            );
        }
        assert_eq!(requests_to(&refusing, REFRESH_PATH).await.len(), 2);
    })
    .await
}
