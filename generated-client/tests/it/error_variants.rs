//! Every variant of `Error` a caller `match`es, produced by a local server
//! as the vendor would produce it, and the HTTP manners around them:
//! `Retry-After`, the whole-call deadline, per-call options, `User-Agent`.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crate::support::*;

use serde_json::json;
use wiremock::matchers::{header, method};
use wiremock::{Mock, MockServer, ResponseTemplate};
use xoxoday_reward_points::{
    AuthError, CallOptions, CancelOutcome, Cancellation, Client, DecodeProblemKind, Error,
    MemoryTokenStore, NeedsPerson, Operation, Payout, Refusal, RetryPolicy, TransactionId,
    USER_AGENT, UnknownCause, User,
};

/// A server answering every request with `answer`, and a client for it.
async fn answering(answer: ResponseTemplate) -> (MockServer, Client) {
    let server = answering_everything(answer).await;
    let client = static_client(&server.uri());
    (server, client)
}

async fn points_requests(server: &MockServer) -> usize {
    requests_to(server, POINTS_PATH).await.len()
}

fn json_answer(body: serde_json::Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(body)
}

async fn fetch(client: &Client) -> Result<f64, Error> {
    let answer = client
        .fetch_points()
        .user(User::email("john.doe@example.com").unwrap())
        .send()
        .await?;
    Ok(answer.total().unwrap_or_default())
}

async fn send(client: &Client) -> Result<Option<TransactionId>, Error> {
    let answer = client.send_points().payout(payout()).send().await?;
    Ok(answer.transaction_id())
}

#[tokio::test]
async fn a_401_is_unauthorized_with_the_vendors_message() {
    within(async {
        let (_server, client) = answering(
            ResponseTemplate::new(401).set_body_json(json!({ "error": "Token expired" })),
        )
        .await;
        match fetch(&client).await {
            Err(Error::Unauthorized {
                operation: Operation::FetchPoints,
                message,
            }) => assert_eq!(message.as_deref(), Some("Token expired")),
            other => panic!("{other:?}"),
        }
    })
    .await
}

#[tokio::test]
async fn an_expired_refresh_token_needs_a_person_and_nothing_is_sent() {
    within(async {
        let server = MockServer::start().await;
        let store = Arc::new(MemoryTokenStore::new(stored(false, false)));
        let client = managed_client(&server.uri(), store);
        match send(&client).await {
            Err(Error::Auth {
                operation: Operation::SendPoints,
                source: AuthError::NeedsPerson(NeedsPerson::RefreshTokenExpired { .. }),
            }) => {}
            other => panic!("{other:?}"),
        }
        assert_eq!(server.received_requests().await.unwrap().len(), 0);
    })
    .await
}

#[tokio::test]
async fn a_429_with_retry_after_2_is_waited_for_on_fetch_and_never_retried_on_send() {
    within(async {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "2"))
            .up_to_n_times(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .respond_with(json_answer(balance_body()))
            .mount(&server)
            .await;
        let client = static_client(&server.uri());

        // Fetch is safe to repeat: the second attempt waits the 2 s asked
        // for, not the policy's 10 ms backoff.
        let started = Instant::now();
        assert_eq!(fetch(&client).await.unwrap(), 1500.0);
        assert!(
            started.elapsed() >= Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(points_requests(&server).await, 2);

        // Send is not: the caller gets the delay and decides.
        let (server, client) =
            answering(ResponseTemplate::new(429).insert_header("retry-after", "2")).await;
        match send(&client).await {
            Err(Error::RateLimited {
                operation: Operation::SendPoints,
                retry_after,
            }) => assert_eq!(retry_after, Some(Duration::from_secs(2))),
            other => panic!("{other:?}"),
        }
        assert_eq!(points_requests(&server).await, 1);
    })
    .await
}

#[tokio::test]
async fn retry_after_as_an_http_date_is_honoured_and_a_long_one_ends_the_call() {
    within(async {
        let server = MockServer::start().await;
        // Before the date is made: the date's whole second, cut down, is
        // still at least a second after this.
        let started = Instant::now();
        let in_two_seconds = httpdate_in(Duration::from_secs(2));
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(503).insert_header("retry-after", in_two_seconds))
            .up_to_n_times(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .respond_with(json_answer(balance_body()))
            .mount(&server)
            .await;
        assert_eq!(fetch(&static_client(&server.uri())).await.unwrap(), 1500.0);
        // An HTTP date has whole seconds: at least one of the two is waited.
        assert!(
            started.elapsed() >= Duration::from_secs(1),
            "{:?}",
            started.elapsed()
        );

        // Longer than the policy waits (30 s by default): not retried, the
        // caller gets the delay at once.
        let (server, client) =
            answering(ResponseTemplate::new(429).insert_header("retry-after", "120")).await;
        let started = Instant::now();
        match fetch(&client).await {
            Err(Error::RateLimited {
                operation: Operation::FetchPoints,
                retry_after,
            }) => assert_eq!(retry_after, Some(Duration::from_secs(120))),
            other => panic!("{other:?}"),
        }
        assert!(started.elapsed() < Duration::from_secs(10));
        assert_eq!(points_requests(&server).await, 1);
    })
    .await
}

fn httpdate_in(delay: Duration) -> String {
    httpdate::fmt_http_date(SystemTime::now() + delay)
}

#[tokio::test]
async fn a_send_whose_answer_does_not_come_in_time_has_an_unknown_outcome() {
    within(async {
        let server = answering_everything(
            json_answer(json!({ "data": { "unique_id": 1 } })).set_delay(Duration::from_secs(3)),
        )
        .await;
        let client = impatient_client(&server.uri());
        match send(&client).await {
            Err(error @ Error::OutcomeUnknown { .. }) => {
                assert!(error.outcome_unknown());
                assert!(matches!(
                    error,
                    Error::OutcomeUnknown {
                        operation: Operation::SendPoints,
                        cause: UnknownCause::TimedOut
                    }
                ));
                assert_eq!(
                    error.to_string(),
                    "sendPoints: the request may have reached the vendor but its outcome is \
                     unknown (no answer within the time limit): check before sending it again"
                );
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(points_requests(&server).await, 1);

        // The same fault on fetch, safe to repeat: retried, then a timeout.
        match fetch(&client).await {
            Err(Error::Timeout {
                operation: Operation::FetchPoints,
            }) => {}
            other => panic!("{other:?}"),
        }
        assert_eq!(points_requests(&server).await, 1 + 3);
    })
    .await
}

#[tokio::test]
async fn an_undecodable_answer_names_the_place_and_is_unknown_for_a_send() {
    within(async {
        let (_server, client) =
            answering(ResponseTemplate::new(200).set_body_raw("{\"data\": [", "application/json"))
                .await;
        match fetch(&client).await {
            Err(Error::Undecodable {
                operation: Operation::FetchPoints,
                status: 200,
                problem,
            }) => assert_eq!(problem.kind, DecodeProblemKind::CutShort),
            other => panic!("{other:?}"),
        }
        match send(&client).await {
            Err(Error::OutcomeUnknown {
                operation: Operation::SendPoints,
                cause: UnknownCause::Undecodable { problem },
            }) => assert_eq!(problem.kind, DecodeProblemKind::CutShort),
            other => panic!("{other:?}"),
        }
    })
    .await
}

#[tokio::test]
async fn success_0_inside_http_200_is_a_refusal_with_the_vendors_message() {
    within(async {
        let (_server, client) = answering(json_answer(json!({ "data": { "user_balance": {
            "success": 0, "message": "missing user's details", "data": null } } })))
        .await;
        match fetch(&client).await {
            Err(Error::Refused {
                operation: Operation::FetchPoints,
                refusal,
            }) => assert_eq!(
                refusal,
                Refusal {
                    message: "missing user's details".into(),
                    recipients: vec![],
                }
            ),
            other => panic!("{other:?}"),
        }

        let (_server, client) = answering(json_answer(
            json!({ "data": { "sendBalance": { "error": true, "message": "insufficient balance" } } }),
        ))
        .await;
        match send(&client).await {
            Err(Error::Refused {
                operation: Operation::SendPoints,
                refusal,
            }) => assert_eq!(refusal.message, "insufficient balance"),
            other => panic!("{other:?}"),
        }
    })
    .await
}

#[tokio::test]
async fn an_answer_of_another_shape_is_incomplete_not_a_refusal() {
    within(async {
        // The vendor renamed `user_balance`: nothing says it refused.
        let (_server, client) = answering(json_answer(json!({ "data": { "userBalance": {
            "success": 1, "data": { "total": 5 } } } })))
        .await;
        match fetch(&client).await {
            Err(Error::IncompleteAnswer {
                operation: Operation::FetchPoints,
                missing,
            }) => assert_eq!(missing, "data.user_balance"),
            other => panic!("{other:?}"),
        }
        // On a send the same is an unknown outcome: it may have credited.
        let (_server, client) = answering(json_answer(json!({ "result": "ok" }))).await;
        match send(&client).await {
            Err(Error::OutcomeUnknown {
                operation: Operation::SendPoints,
                cause: UnknownCause::IncompleteAnswer { missing: "data" },
            }) => {}
            other => panic!("{other:?}"),
        }
    })
    .await
}

#[tokio::test]
async fn a_partial_cancel_is_a_result_with_each_outcome() {
    within(async {
        let answer = |first: bool| {
            json_answer(json!({ "data": { "cancelBalance": {
                "error": false, "message": "processed", "recipients": [
                    { "unique_id": 11, "success": first, "message": "first" },
                    { "unique_id": 12, "success": false, "message": "already cancelled" },
                ] } } }))
        };
        let cancellation = || Cancellation::of([TransactionId(11), TransactionId(12)]).unwrap();
        let outcome = |id, cancelled, message: &str| CancelOutcome {
            transaction: TransactionId(id),
            cancelled,
            message: Some(message.into()),
        };

        let (_server, client) = answering(answer(true)).await;
        let done = client
            .cancel_points()
            .transactions(cancellation())
            .send()
            .await
            .unwrap();
        assert!(done.is_partial());
        assert_eq!(
            done.outcomes(),
            [
                outcome(11, true, "first"),
                outcome(12, false, "already cancelled")
            ]
        );

        // None cancelled: a refusal that still names each.
        let (_server, client) = answering(answer(false)).await;
        match client
            .cancel_points()
            .transactions(cancellation())
            .send()
            .await
        {
            Err(Error::Refused {
                operation: Operation::CancelPoints,
                refusal,
            }) => assert_eq!(
                refusal.recipients,
                [
                    outcome(11, false, "first"),
                    outcome(12, false, "already cancelled")
                ]
            ),
            other => panic!("{other:?}"),
        }
    })
    .await
}

#[tokio::test]
async fn other_statuses_missing_input_and_unreachable_hosts() {
    within(async {
        let (server, client) = answering(
            ResponseTemplate::new(404).set_body_json(json!({ "message": "no such route" })),
        )
        .await;
        match fetch(&client).await {
            Err(Error::UnexpectedStatus {
                operation: Operation::FetchPoints,
                status: 404,
                message,
            }) => assert_eq!(message.as_deref(), Some("no such route")),
            other => panic!("{other:?}"),
        }

        // A send without a payout: refused before anything is sent.
        match client.send_points().send().await {
            Err(Error::InvalidInput {
                operation: Operation::SendPoints,
                message,
            }) => assert!(message.contains("variables"), "{message}"),
            other => panic!("{other:?}"),
        }

        // A payout without recipients: refused, naming the field.
        let empty = Payout::new("admin@example.com").unwrap();
        match client.send_points().payout(empty).send().await {
            Err(error @ Error::InvalidInput { .. }) => assert_eq!(
                error.to_string(),
                "sendPoints: invalid input, nothing was sent: recipients: a payout needs at \
                 least one recipient (add one with `Payout::to`)"
            ),
            other => panic!("{other:?}"),
        }
        assert_eq!(points_requests(&server).await, 1, "only the fetch above");

        // Nothing listens: the request never left, so even a send is a plain
        // network error, not an unknown outcome.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let origin = format!("http://{}", closed.local_addr().unwrap());
        drop(closed);
        match send(&static_client(&origin)).await {
            Err(Error::Network {
                operation: Operation::SendPoints,
                source,
            }) => assert!(source.is_connect(), "{source}"),
            other => panic!("{other:?}"),
        }
    })
    .await
}

#[tokio::test]
async fn the_deadline_ends_the_whole_call() {
    within(async {
        // Fetch against a server that keeps failing: with a 1 s deadline the
        // retries stop when the next pause would pass it, not after the
        // policy's 20 attempts (some 6 s of pauses).
        let (server, client) = answering(ResponseTemplate::new(503)).await;
        let options = CallOptions::default()
            .with_attempt_timeout(Duration::from_secs(5))
            .with_deadline(Duration::from_secs(1))
            .with_retry(
                RetryPolicy::default()
                    .with_max_attempts(20)
                    .with_backoff(Duration::from_millis(300), Duration::from_millis(300)),
            );
        let started = Instant::now();
        match fetch(&client.with_options(options.clone())).await {
            Err(Error::Timeout {
                operation: Operation::FetchPoints,
            }) => {}
            other => panic!("{other:?}"),
        }
        let took = started.elapsed();
        assert!(took < Duration::from_secs(3), "{took:?}");
        let attempts = points_requests(&server).await;
        assert!((2..20).contains(&attempts), "{attempts}");

        // A send whose answer takes 10 s: the deadline ends it at 1 s, with
        // an unknown outcome.
        let (_server, client) =
            answering(json_answer(json!({ "data": {} })).set_delay(Duration::from_secs(10))).await;
        let started = Instant::now();
        match send(&client.with_options(options)).await {
            Err(Error::OutcomeUnknown {
                operation: Operation::SendPoints,
                cause: UnknownCause::DeadlinePassed,
            }) => {}
            other => panic!("{other:?}"),
        }
        let took = started.elapsed();
        assert!(
            took >= Duration::from_secs(1) && took < Duration::from_secs(3),
            "{took:?}"
        );
    })
    .await
}

#[tokio::test]
async fn per_call_options_override_the_clients() {
    within(async {
        let (server, client) = answering(ResponseTemplate::new(503)).await;
        let once = client.options().clone().with_retry(RetryPolicy::none());
        assert!(fetch(&client.with_options(once)).await.is_err());
        assert_eq!(points_requests(&server).await, 1);
        // The client itself still retries.
        assert!(fetch(&client).await.is_err());
        assert_eq!(points_requests(&server).await, 1 + 3);
    })
    .await
}

#[tokio::test]
async fn every_request_carries_the_user_agent() {
    within(async {
        assert_eq!(
            USER_AGENT,
            format!("xoxoday-reward-points/{}", client_crate_version())
        );
        let server = MockServer::start().await;
        Mock::given(header("user-agent", USER_AGENT))
            .respond_with(json_answer(balance_body()))
            .mount(&server)
            .await;
        let client = static_client(&server.uri());
        // Only a request with the header gets an answer that decodes.
        assert_eq!(fetch(&client).await.unwrap(), 1500.0);

        // The token manager's refresh too.
        let server = MockServer::start().await;
        mount_refresh(&server, Duration::ZERO).await;
        mount_validate(&server).await;
        let store = Arc::new(MemoryTokenStore::new(stored(false, true)));
        let client = managed_client(&server.uri(), store);
        client.validate_token_points().send().await.unwrap();
        for request in server.received_requests().await.unwrap() {
            assert_eq!(
                request.headers.get("user-agent").unwrap(),
                USER_AGENT,
                "{}",
                request.url
            );
        }
    })
    .await
}

/// The client crate's version, from its manifest.
fn client_crate_version() -> String {
    let manifest =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml")).unwrap();
    manifest
        .lines()
        .find_map(|line| line.strip_prefix("version = "))
        .unwrap()
        .trim_matches('"')
        .to_owned()
}
