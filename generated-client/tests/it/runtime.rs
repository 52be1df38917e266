//! The runtime under faults, against local servers on 127.0.0.1 only:
//! retries that never repeat a send, the token lifecycle (refresh before
//! expiry, once after a 401, single flight, rotation saved first), typed
//! failures, and no secret in any formatted value or log line.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::support::*;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};
use xoxoday_reward_points::types::{RefreshTokenBody, TokenResponse};
use xoxoday_reward_points::{
    AccessToken, AuthError, Client, ClientCredentials, DecodeProblemKind, Environment, Error,
    FileTokenStore, MemoryTokenStore, NeedsPerson, Operation, Secret, TokenStore, TransientAuth,
    UnknownCause,
};

// ---------------------------------------------------------------------------
// A raw TCP server for what wiremock cannot do: read a whole request, count
// it, then reset the connection.

enum Reply {
    Reset,
    Json(&'static str),
}

struct RawServer {
    origin: String,
    requests: Arc<AtomicUsize>,
}

async fn raw_server(script: Vec<Reply>) -> RawServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let requests = Arc::new(AtomicUsize::new(0));
    let counter = requests.clone();
    tokio::spawn(async move {
        for reply in script {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            read_request(&mut stream).await;
            counter.fetch_add(1, Ordering::SeqCst);
            match reply {
                Reply::Reset => {
                    // Linger zero: closing sends RST, not FIN.
                    stream.set_zero_linger().unwrap();
                    drop(stream);
                }
                Reply::Json(body) => {
                    let head = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                        body.len()
                    );
                    stream.write_all(head.as_bytes()).await.unwrap();
                    stream.write_all(body.as_bytes()).await.unwrap();
                    stream.shutdown().await.ok();
                }
            }
        }
    });
    RawServer { origin, requests }
}

async fn read_request(stream: &mut tokio::net::TcpStream) {
    let mut data = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        let read = stream.read(&mut buffer).await.unwrap_or(0);
        if read == 0 {
            return;
        }
        data.extend_from_slice(&buffer[..read]);
        let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&data[..end]).to_lowercase();
        let length: usize = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length:"))
            .map_or(0, |value| value.trim().parse().unwrap());
        if data.len() >= end + 4 + length {
            return;
        }
    }
}

// ---------------------------------------------------------------------------
// Retries, and sends that are never repeated.

#[tokio::test]
async fn connection_resets_are_retried_for_fetch() {
    within(async {
        let server = raw_server(vec![
            Reply::Reset,
            Reply::Reset,
            Reply::Json(
                r#"{"data":{"user_balance":{"success":1,"message":null,"data":{"total":1500}}}}"#,
            ),
        ])
        .await;
        let client = static_client(&server.origin);

        let balance = client
            .fetch_points()
            .variables(fetch_variables())
            .send()
            .await
            .unwrap();

        assert_eq!(balance.into_inner().total(), Some(1500.0));
        assert_eq!(server.requests.load(Ordering::SeqCst), 3);
    })
    .await
}

#[tokio::test]
async fn server_error_then_success_is_retried_for_fetch() {
    within(async {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path(POINTS_PATH))
            .respond_with(ResponseTemplate::new(500))
            .up_to_n_times(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path(POINTS_PATH))
            .respond_with(ResponseTemplate::new(200).set_body_json(balance_body()))
            .mount(&server)
            .await;
        let client = static_client(&server.uri());

        let balance = client
            .fetch_points()
            .variables(fetch_variables())
            .send()
            .await
            .unwrap();

        assert_eq!(balance.into_inner().total(), Some(1500.0));
        assert_eq!(requests_to(&server, POINTS_PATH).await.len(), 2);
    })
    .await
}

#[tokio::test]
async fn a_response_slower_than_the_timeout_fails_after_bounded_retries() {
    within(async {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(balance_body())
                    .set_delay(Duration::from_secs(3)),
            )
            .mount(&server)
            .await;
        let client = impatient_client(&server.uri());

        let error = client
            .fetch_points()
            .variables(fetch_variables())
            .send()
            .await
            .unwrap_err();

        assert!(
            matches!(
                error,
                Error::Timeout {
                    operation: Operation::FetchPoints
                }
            ),
            "{error:?}"
        );
        assert_eq!(
            requests_to(&server, POINTS_PATH).await.len(),
            3,
            "max_attempts bounds the tries"
        );
    })
    .await
}

#[tokio::test]
async fn malformed_json_and_non_json_answers_are_typed_errors_not_retried() {
    within(async {
        for (content_type, body, kind) in [
            (
                "application/json",
                r#"{"data": {"user_balance": "#,
                DecodeProblemKind::CutShort,
            ),
            (
                "text/html",
                "<html><body>502 Bad Gateway</body></html>",
                DecodeProblemKind::NotJson,
            ),
        ] {
            let server = MockServer::start().await;
            Mock::given(method("POST"))
                .respond_with(ResponseTemplate::new(200).set_body_raw(body, content_type))
                .mount(&server)
                .await;
            let client = static_client(&server.uri());

            let error = client
                .fetch_points()
                .variables(fetch_variables())
                .send()
                .await
                .unwrap_err();

            match &error {
                Error::Undecodable {
                    operation: Operation::FetchPoints,
                    status: 200,
                    problem,
                } => assert_eq!(problem.kind, kind, "{content_type}"),
                other => panic!("expected Undecodable for {content_type}, got {other:?}"),
            }
            // Only the place of the problem, never the answer.
            assert!(!format!("{error} {error:?}").contains("user_balance"));
            assert!(!format!("{error} {error:?}").contains("Bad Gateway"));
            assert_eq!(
                requests_to(&server, POINTS_PATH).await.len(),
                1,
                "{content_type}"
            );
        }
    })
    .await
}

/// Under every injected fault, a send reaches the server at most once.
#[tokio::test]
async fn a_send_reaches_the_server_at_most_once_under_every_fault() {
    within(async {
        let reset = raw_server(vec![Reply::Reset, Reply::Reset]).await;
        let client = static_client(&reset.origin);
        // The request was read before the connection broke: the points may
        // have been credited.
        let lost = client.send_points().payout(payout()).send().await;
        assert!(
            matches!(
                lost,
                Err(Error::OutcomeUnknown {
                    operation: Operation::SendPoints,
                    cause: UnknownCause::ConnectionLost { .. }
                })
            ),
            "{lost:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(reset.requests.load(Ordering::SeqCst), 1, "connection reset");

        // Each fault, and what the caller is told: whether the points may
        // have been credited.
        let faults: [(&str, ResponseTemplate, &str); 6] = [
            (
                "500",
                ResponseTemplate::new(500),
                "OutcomeUnknown { operation: SendPoints, cause: ServerError { status: 500 } }",
            ),
            (
                "503",
                ResponseTemplate::new(503),
                "OutcomeUnknown { operation: SendPoints, cause: ServerError { status: 503 } }",
            ),
            (
                "429",
                ResponseTemplate::new(429),
                "RateLimited { operation: SendPoints, retry_after: None }",
            ),
            (
                "slower than the timeout",
                ResponseTemplate::new(200).set_delay(Duration::from_secs(3)),
                "OutcomeUnknown { operation: SendPoints, cause: TimedOut }",
            ),
            (
                "malformed JSON",
                ResponseTemplate::new(200).set_body_raw("{\"data\":", "application/json"),
                "OutcomeUnknown { operation: SendPoints, cause: Undecodable { problem: \
                 DecodeProblem { kind: CutShort, line: 1, column: 8 } } }",
            ),
            (
                "not JSON",
                ResponseTemplate::new(200).set_body_raw("<html></html>", "text/html"),
                "OutcomeUnknown { operation: SendPoints, cause: Undecodable { problem: \
                 DecodeProblem { kind: NotJson, line: 1, column: 1 } } }",
            ),
        ];
        for (fault, answer, expected) in faults {
            let server = MockServer::start().await;
            Mock::given(method("POST"))
                .respond_with(answer)
                .mount(&server)
                .await;
            let client = impatient_client(&server.uri());

            let result = client.send_points().payout(payout()).send().await;

            let error = result.expect_err(fault);
            assert_eq!(format!("{error:?}"), expected, "{fault}");
            assert_eq!(requests_to(&server, POINTS_PATH).await.len(), 1, "{fault}");
        }
    })
    .await
}

// ---------------------------------------------------------------------------
// The token lifecycle.

#[tokio::test]
async fn a_401_refreshes_once_saves_the_rotated_token_first_and_repeats_once() {
    within(async {
        let server = MockServer::start().await;
        mount_refresh(&server, Duration::ZERO).await;
        mount_validate(&server).await;
        let dir = tempfile::tempdir().unwrap();
        let store = FileTokenStore::new(dir.path().join("tokens.json"));
        store.save(stored(true, true)).await.unwrap();
        let client = managed_client(&server.uri(), Arc::new(store.clone()));

        let answer = client.validate_token_points().send().await.unwrap();

        assert_eq!(answer.status(), 200);
        let refreshes = requests_to(&server, REFRESH_PATH).await;
        assert_eq!(refreshes.len(), 1);
        assert!(
            refreshes[0].headers.get("authorization").is_none(),
            "refresh is sent without a bearer"
        );
        assert_eq!(
            serde_json::from_slice::<Value>(&refreshes[0].body).unwrap(),
            json!({
                "grant_type": "refresh_token",
                "refresh_token": OLD_REFRESH,
                "client_id": "your_client_id",
                "client_secret": CLIENT_SECRET
            })
        );
        let bearers: Vec<String> = requests_to(&server, TOKEN_PATH)
            .await
            .iter()
            .map(|request| {
                request.headers["authorization"]
                    .to_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        assert_eq!(
            bearers,
            [
                format!("Bearer {OLD_ACCESS}"),
                format!("Bearer {NEW_ACCESS}")
            ]
        );

        let saved = store.load().await.unwrap().unwrap();
        assert_eq!(saved.refresh_token.expose_secret(), NEW_REFRESH);
        assert_eq!(saved.access_token.expose_secret(), NEW_ACCESS);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(store.path())
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(
            left,
            ["tokens.json", "tokens.json.lock"],
            "no temporary file is left behind"
        );
    })
    .await
}

#[tokio::test]
async fn an_expiring_access_token_is_refreshed_before_the_call() {
    within(async {
        let server = MockServer::start().await;
        mount_refresh(&server, Duration::ZERO).await;
        mount_validate(&server).await;
        let store = Arc::new(MemoryTokenStore::new(stored(false, true)));
        let client = managed_client(&server.uri(), store.clone());

        client.validate_token_points().send().await.unwrap();

        assert_eq!(requests_to(&server, REFRESH_PATH).await.len(), 1);
        assert_eq!(
            requests_to(&server, TOKEN_PATH).await.len(),
            1,
            "no 401 round trip"
        );
        assert_eq!(
            store
                .load()
                .await
                .unwrap()
                .unwrap()
                .refresh_token
                .expose_secret(),
            NEW_REFRESH
        );
    })
    .await
}

#[tokio::test]
async fn an_expired_refresh_token_says_to_make_a_new_one_and_sends_nothing() {
    within(async {
        let server = MockServer::start().await;
        let tokens = stored(false, false);
        let expired_at = tokens.refresh_token_expiry.unwrap();
        let client = managed_client(&server.uri(), Arc::new(MemoryTokenStore::new(tokens)));

        let error = client
            .fetch_points()
            .variables(fetch_variables())
            .send()
            .await
            .unwrap_err();

        match &error {
            Error::Auth {
                operation: Operation::FetchPoints,
                source: AuthError::NeedsPerson(NeedsPerson::RefreshTokenExpired { expired_at: at }),
            } => assert_eq!(*at, expired_at),
            other => panic!("expected the refresh-token error, got {other:?}"),
        }
        assert_eq!(
            error.to_string(),
            format!(
                "fetchPoints: the refresh token expired at {expired_at} (epoch ms) and cannot be \
             renewed: make a new one in the Xoxoday dashboard and put it in the token store"
            )
        );
        assert!(server.received_requests().await.unwrap().is_empty());
    })
    .await
}

#[tokio::test]
async fn a_refused_refresh_after_a_401_is_the_calls_error() {
    within(async {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path(REFRESH_PATH))
            .respond_with(
                ResponseTemplate::new(401)
                    .set_body_json(json!({ "error": "invalid refresh token" })),
            )
            .mount(&server)
            .await;
        mount_validate(&server).await;
        let client = managed_client(
            &server.uri(),
            Arc::new(MemoryTokenStore::new(stored(true, true))),
        );

        let error = client.validate_token_points().send().await.unwrap_err();

        match &error {
            Error::Auth {
                source: AuthError::NeedsPerson(NeedsPerson::RefreshRejected { status, message }),
                ..
            } => {
                assert_eq!(*status, 401);
                assert_eq!(message.as_deref(), Some("invalid refresh token"));
            }
            other => panic!("expected the refusal, got {other:?}"),
        }
        assert_eq!(
            error.to_string(),
            "validateTokenPoints: the vendor refused the refresh token that the token store holds \
             (HTTP 401, \"invalid refresh token\"): it expired or was revoked; make a new one in \
             the Xoxoday dashboard and put it in the token store"
        );
        assert_eq!(
            requests_to(&server, TOKEN_PATH).await.len(),
            1,
            "not repeated without a token"
        );
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_calls_with_an_expired_token_cause_one_refresh() {
    within(async {
        let server = MockServer::start().await;
        mount_refresh(&server, Duration::from_millis(200)).await;
        mount_validate(&server).await;
        let client = managed_client(
            &server.uri(),
            Arc::new(MemoryTokenStore::new(stored(false, true))),
        );

        let calls: Vec<_> = (0..1000)
            .map(|_| {
                let client = client.clone();
                tokio::spawn(async move {
                    client
                        .validate_token_points()
                        .send()
                        .await
                        .map(|r| r.status())
                })
            })
            .collect();
        for call in calls {
            assert_eq!(call.await.unwrap().unwrap(), 200);
        }

        assert_eq!(requests_to(&server, REFRESH_PATH).await.len(), 1);
        assert_eq!(requests_to(&server, TOKEN_PATH).await.len(), 1000);

        // wiremock verifies a server on drop with a blocking `block_on`; after
        // a thousand awaited tasks this task's tokio budget is spent, and that
        // `block_on` would spin forever. A yield gives it a fresh budget.
        tokio::task::yield_now().await;
        drop(server);
    })
    .await
}

// ---------------------------------------------------------------------------
// No secret in any formatted value or log line.

#[tokio::test]
async fn no_public_type_prints_a_secret() {
    within(async {
        let server = MockServer::start().await;
        let client = managed_client(
            &server.uri(),
            Arc::new(MemoryTokenStore::new(stored(true, true))),
        );
        let manager = client.token_manager().unwrap().clone();
        let builder = Client::builder(Environment::Production)
            .access_token(AccessToken::new(OLD_ACCESS))
            .client_credentials("your_client_id", Secret::new(CLIENT_SECRET))
            .token_store(Arc::new(MemoryTokenStore::new(stored(true, true))));
        let refresh_body: RefreshTokenBody = serde_json::from_value(json!({
            "grant_type": "refresh_token", "refresh_token": OLD_REFRESH,
            "client_id": "your_client_id", "client_secret": CLIENT_SECRET
        }))
        .unwrap();
        let token_response: TokenResponse = serde_json::from_value(rotated_tokens()).unwrap();
        let credentials = ClientCredentials {
            client_id: "your_client_id".into(),
            client_secret: Secret::new(CLIENT_SECRET),
        };

        let mut shown = vec![
            format!("{:?}", AccessToken::new(OLD_ACCESS)),
            format!("{}", AccessToken::new(OLD_ACCESS)),
            format!("{:?}", Secret::new(CLIENT_SECRET)),
            format!("{}", Secret::new(CLIENT_SECRET)),
            format!("{:?}", stored(true, true)),
            format!("{credentials:?}"),
            format!("{manager:?}"),
            format!("{client:?}"),
            format!("{builder:?}"),
            format!("{refresh_body:?}"),
            format!("{token_response:?}"),
        ];
        let errors: [AuthError; 4] = [
            NeedsPerson::RefreshRejected {
                status: 401,
                message: Some("Unauthorized".into()),
            }
            .into(),
            TransientAuth::RefreshUnavailable {
                reason: "HTTP 503".into(),
            }
            .into(),
            NeedsPerson::EmptyStore {
                location: "tokens.json".into(),
            }
            .into(),
            TransientAuth::IncompleteRefresh {
                missing: "access_token",
            }
            .into(),
        ];
        for error in errors {
            shown.push(format!("{error:?}"));
            shown.push(format!("{error}"));
        }
        for text in &shown {
            for secret in SECRETS {
                assert!(!text.contains(secret), "{secret} printed in {text}");
            }
        }
    })
    .await
}

#[tokio::test]
async fn user_client_sends_the_user_token_from_create_user_token() {
    within(async {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/chef/v1/oauth/token/create/user"))
            .and(header(
                "authorization",
                format!("Bearer {OLD_ACCESS}").as_str(),
            ))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "access_token": "user-session-token", "token_type": "bearer", "expires_in": 1296000
            })))
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path(TOKEN_PATH))
            .and(header("authorization", "Bearer user-session-token"))
            .respond_with(
                ResponseTemplate::new(200).set_body_json(json!({ "token_type": "bearer" })),
            )
            .expect(1)
            .mount(&server)
            .await;
        let company = static_client(&server.uri());

        let user = company.user_client("your.email@example.com").await.unwrap();
        user.validate_token_points().send().await.unwrap();

        let created = requests_to(&server, "/chef/v1/oauth/token/create/user").await;
        assert_eq!(
            serde_json::from_slice::<Value>(&created[0].body).unwrap(),
            json!({ "user_input": "your.email@example.com", "scope": "user_session" })
        );
        assert_eq!(user.environment(), Environment::Sandbox);
    })
    .await
}
