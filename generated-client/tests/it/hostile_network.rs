//! A network that does not behave, against the client: redirects (never
//! followed, so no token, refresh token or client secret reaches another
//! origin), statuses that say neither yes nor no (202, 3xx) to a send, an
//! answer that never ends, a `Retry-After` too large for the clock, and a
//! vendor text that echoes a secret across the point where it is cut.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::support::*;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use wiremock::{MockServer, ResponseTemplate};
use xoxoday_reward_points::types::RefreshTokenBody;
use xoxoday_reward_points::{
    AuthError, CallOptions, Cancellation, Client, Error, MAX_ANSWER_BYTES, MemoryTokenStore,
    Operation, RetryPolicy, Secret, TokenStore, TransactionId, TransientAuth, UnknownCause, User,
};

/// Where a redirect points: a server that counts what reaches it.
async fn elsewhere() -> MockServer {
    answering_everything(ResponseTemplate::new(200).set_body_json(json!({ "ok": true }))).await
}

async fn received(server: &MockServer) -> usize {
    server.received_requests().await.unwrap_or_default().len()
}

fn redirect(status: u16, to: &MockServer, path: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).insert_header("location", format!("{}{path}", to.uri()))
}

async fn send(client: &Client) -> Result<(), Error> {
    client.send_points().payout(payout()).send().await.map(drop)
}

async fn cancel(client: &Client) -> Result<(), Error> {
    let cancellation = Cancellation::of([TransactionId(987_654_321)]).unwrap();
    client
        .cancel_points()
        .transactions(cancellation)
        .send()
        .await
        .map(drop)
}

async fn fetch(client: &Client) -> Result<(), Error> {
    let user = User::email("john.doe@example.com").unwrap();
    client.fetch_points().user(user).send().await.map(drop)
}

fn unknown_status(result: Result<(), Error>) -> u16 {
    match result {
        Err(Error::OutcomeUnknown {
            cause: UnknownCause::UndocumentedStatus { status },
            ..
        }) => status,
        other => panic!("expected an unknown outcome from the status, got {other:?}"),
    }
}

#[tokio::test]
async fn a_307_to_the_refresh_is_not_followed_and_nothing_reaches_the_other_origin() {
    within(async {
        let other = elsewhere().await;
        let vendor = answering_everything(redirect(307, &other, REFRESH_PATH)).await;
        let store = MemoryTokenStore::new(stored(false, true));
        let client = managed_client(&vendor.uri(), Arc::new(store.clone()));

        let error = client.validate_token_points().send().await.unwrap_err();

        match &error {
            Error::Auth {
                source: AuthError::Transient(TransientAuth::RefreshUnavailable { reason }),
                ..
            } => assert_eq!(
                reason,
                "HTTP 307 Temporary Redirect, a redirect, which the client does not follow"
            ),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            received(&other).await,
            0,
            "the body went to the other origin"
        );
        assert_eq!(requests_to(&vendor, REFRESH_PATH).await.len(), 1);
        // The store still holds its tokens: nothing was rotated.
        let held = store.load().await.unwrap().unwrap();
        assert_eq!(held.refresh_token.expose_secret(), OLD_REFRESH);
    })
    .await
}

#[tokio::test]
async fn a_send_or_cancel_answered_202_or_3xx_has_an_unknown_outcome_and_is_not_followed() {
    within(async {
        let other = elsewhere().await;
        for status in [202, 204, 301, 302, 303, 307, 308] {
            let vendor = answering_everything(redirect(status, &other, POINTS_PATH)).await;
            let client = static_client(&vendor.uri());

            assert_eq!(unknown_status(send(&client).await), status);
            assert_eq!(unknown_status(cancel(&client).await), status);
            assert_eq!(requests_to(&vendor, POINTS_PATH).await.len(), 2);
        }
        assert_eq!(received(&other).await, 0);

        let vendor = answering_everything(ResponseTemplate::new(202)).await;
        let error = send(&static_client(&vendor.uri())).await.unwrap_err();
        assert_eq!(
            error.to_string(),
            "sendPoints: the request may have reached the vendor but its outcome is unknown (the \
             vendor answered HTTP 202, which does not say whether it was done): check before \
             sending it again"
        );
        let vendor = answering_everything(redirect(302, &other, "/")).await;
        let error = send(&static_client(&vendor.uri())).await.unwrap_err();
        assert_eq!(
            error.to_string(),
            "sendPoints: the request may have reached the vendor but its outcome is unknown (the \
             vendor answered HTTP 302, a redirect, which the client does not follow): check \
             before sending it again"
        );
    })
    .await
}

#[tokio::test]
async fn a_redirect_to_an_operation_safe_to_repeat_is_an_error_naming_the_status() {
    within(async {
        let other = elsewhere().await;
        let vendor = answering_everything(redirect(302, &other, POINTS_PATH)).await;
        let client = static_client(&vendor.uri());

        match fetch(&client).await {
            Err(Error::UnexpectedStatus {
                operation: Operation::FetchPoints,
                status: 302,
                message: None,
            }) => {}
            other => panic!("{other:?}"),
        }
        match client.validate_token_points().send().await {
            Err(Error::UnexpectedStatus { status: 302, .. }) => {}
            other => panic!("{other:?}"),
        }
        assert_eq!(received(&other).await, 0);
        // Not a passing failure: not retried.
        assert_eq!(requests_to(&vendor, POINTS_PATH).await.len(), 1);
    })
    .await
}

/// A server whose answer never ends: chunks of `x` as fast as the client
/// takes them. Counts the requests it got.
async fn endless_answer() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let requests = Arc::new(AtomicUsize::new(0));
    let counter = requests.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut request = [0u8; 8192];
                let _ = stream.read(&mut request).await;
                let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                            transfer-encoding: chunked\r\n\r\n";
                if stream.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let chunk = format!("10000\r\n{}\r\n", "x".repeat(0x10000));
                while stream.write_all(chunk.as_bytes()).await.is_ok() {}
            });
        }
    });
    (origin, requests)
}

#[tokio::test]
async fn an_answer_that_never_ends_is_cut_at_the_limit() {
    within(async {
        let (origin, requests) = endless_answer().await;
        let client = static_client(&origin);
        let client = client.with_options(client.options().clone().with_retry(RetryPolicy::none()));

        match fetch(&client).await {
            Err(error @ Error::AnswerTooLarge { .. }) => assert_eq!(
                error.to_string(),
                format!(
                    "fetchPoints: the answer is larger than {MAX_ANSWER_BYTES} bytes, so it was \
                     not read"
                )
            ),
            other => panic!("{other:?}"),
        }
        match send(&client).await {
            Err(Error::OutcomeUnknown {
                cause: UnknownCause::AnswerTooLarge { limit },
                ..
            }) => assert_eq!(limit, MAX_ANSWER_BYTES),
            other => panic!("{other:?}"),
        }
        assert_eq!(requests.load(Ordering::SeqCst), 2);
    })
    .await
}

#[tokio::test]
async fn a_retry_after_too_large_for_the_clock_ends_the_call_without_a_panic() {
    within(async {
        let vendor = answering_everything(
            ResponseTemplate::new(429).insert_header("retry-after", u64::MAX.to_string()),
        )
        .await;
        let client = static_client(&vendor.uri());
        let client = client.with_options(CallOptions::default().with_deadline(Duration::MAX));
        match fetch(&client).await {
            Err(Error::RateLimited {
                retry_after: Some(wait),
                ..
            }) => assert_eq!(wait, Duration::from_secs(u64::MAX)),
            other => panic!("{other:?}"),
        }
    })
    .await
}

#[tokio::test]
async fn a_secret_echoed_across_the_cut_of_a_vendor_text_is_scrubbed_whole() {
    within(async {
        // The refresh token's first 20 characters fall before the cut at
        // 300, the rest after it.
        let secret = "refresh-token-that-crosses-the-cut-4f1e";
        let echo = format!("{} {secret} is not valid", "x".repeat(279));
        let vendor = answering_everything(
            ResponseTemplate::new(400).set_body_json(json!({ "error": echo })),
        )
        .await;
        let client = static_client(&vendor.uri());
        let body = RefreshTokenBody::new(
            Secret::new(secret),
            "your_client_id",
            Secret::new(CLIENT_SECRET),
        );

        let error = client.refresh_token().body(body).send().await.unwrap_err();

        let shown = format!("{error} {error:?}");
        assert!(shown.contains("<redacted>"), "{shown}");
        assert!(!shown.contains(&secret[..12]), "{shown}");
    })
    .await
}

#[tokio::test]
async fn a_refusal_inside_http_200_is_scrubbed_and_cut_too() {
    within(async {
        // The vendor (or a proxy) echoes the bearer token in its refusal,
        // at length.
        let echo = format!(
            "{} token {OLD_ACCESS} is not allowed here",
            "x".repeat(5_000)
        );
        let vendor = answering_everything(ResponseTemplate::new(200).set_body_json(json!({
            "data": { "user_balance": { "success": 0, "message": echo, "data": null } }
        })))
        .await;

        match fetch(&static_client(&vendor.uri())).await {
            Err(Error::Refused { refusal, .. }) => {
                assert_eq!(refusal.message.chars().count(), 300);
                assert!(!format!("{refusal} {refusal:?}").contains(OLD_ACCESS));
            }
            other => panic!("{other:?}"),
        }
        let echo = format!("token {OLD_ACCESS} is not allowed here");
        let vendor = answering_everything(ResponseTemplate::new(200).set_body_json(json!({
            "data": { "user_balance": { "success": 0, "message": echo, "data": null } }
        })))
        .await;
        match fetch(&static_client(&vendor.uri())).await {
            Err(Error::Refused { refusal, .. }) => {
                assert_eq!(refusal.message, "token <redacted> is not allowed here")
            }
            other => panic!("{other:?}"),
        }
    })
    .await
}
