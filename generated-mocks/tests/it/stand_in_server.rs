//! The stand-in on one port, as a shell uses it: every vendor origin sent
//! there, one transaction id per credit, the phone lookup, the ledger at
//! `GET /stand-in/ledger`, and each fault as the client sees it.

use std::time::Duration;

use xoxoday_reward_points::{
    Cancellation, Environment, Error, Operation, Payout, Recipient, UnknownCause, User,
};
use xoxoday_reward_points_mocks::{Credit, FaultCounts, Faults, LEDGER_PATH, StandInServer};

fn payout(email: &str, points: u64) -> Payout {
    Payout::new("admin@example.com")
        .unwrap()
        .to(Recipient::new("Someone", email, points).unwrap())
}

#[tokio::test]
async fn every_operation_through_one_port_and_the_ledger_over_http() {
    let server = StandInServer::start(0, Faults::none()).await.unwrap();
    // Production: cancel goes to another host than send; both reach the port.
    let client = server.client(Environment::Production);

    client.validate_token_points().send().await.unwrap();
    let first = client
        .send_points()
        .payout(payout("ann@example.com", 100))
        .send()
        .await
        .unwrap();
    let second = client
        .send_points()
        .payout(payout("bob@example.com", 40))
        .send()
        .await
        .unwrap();
    let (first, second) = (
        first.transaction_id().unwrap(),
        second.transaction_id().unwrap(),
    );
    assert_ne!(first, second, "each credit has its own transaction id");
    assert_eq!(first.0, 987_654_321);

    // Each recipient gets a phone on their first credit: +1-5550001, …
    let by_phone = client
        .fetch_points()
        .user(User::phone("+1-5550002").unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(by_phone.total(), Some(40.0));

    client
        .cancel_points()
        .transactions(Cancellation::of([first]).unwrap())
        .send()
        .await
        .unwrap();

    let ledger: serde_json::Value = http_get(&format!("{}{LEDGER_PATH}", server.origin())).await;
    assert_eq!(
        ledger,
        serde_json::json!({
            "balances": { "ann@example.com": 0.0, "bob@example.com": 40.0 },
            "credits": [
                { "unique_id": 987654321, "email": "ann@example.com", "points": 100.0, "cancelled": true },
                { "unique_id": 987654322, "email": "bob@example.com", "points": 40.0, "cancelled": false },
            ]
        })
    );
    assert_eq!(server.requests_received(Operation::SendPoints), 2);
}

/// A plain GET with the standard library's TCP, so the test needs no HTTP
/// client of its own beyond the one under test.
async fn http_get(url: &str) -> serde_json::Value {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = url.trim_start_matches("http://");
    let (host, path) = address.split_once('/').unwrap();
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    let request = format!("GET /{path} HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    let (_, body) = answer.split_once("\r\n\r\n").unwrap();
    serde_json::from_str(body).unwrap()
}

/// A stand-in with these faults, and what one send of 100 points to Ann got.
async fn send_ann_100(faults: Faults) -> (StandInServer, Result<String, Error>) {
    let server = StandInServer::start(0, faults).await.unwrap();
    let sent = server
        .client(Environment::Sandbox)
        .send_points()
        .payout(payout("ann@example.com", 100))
        .send()
        .await
        .map(|sent| format!("{sent:?}"));
    (server, sent)
}

#[tokio::test]
async fn each_fault_is_what_the_client_sees() {
    // Dropped after crediting: the points arrived, the answer did not.
    let (server, sent) = send_ann_100(Faults::none().dropped_answers(1.0)).await;
    assert!(
        matches!(
            sent,
            Err(Error::OutcomeUnknown {
                cause: UnknownCause::ConnectionLost { .. },
                ..
            })
        ),
        "{sent:?}"
    );
    assert_eq!(
        server.credits(),
        [Credit {
            unique_id: 987_654_321,
            email: "ann@example.com".into(),
            points: 100.0,
            cancelled: false,
        }]
    );
    assert_eq!(server.fault_counts().dropped_answers, 1);

    // 429 with Retry-After, not processed: the send is not retried.
    let (server, sent) = send_ann_100(Faults::none().rate_limited(1.0, 2)).await;
    assert!(
        matches!(
            sent,
            Err(Error::RateLimited {
                retry_after: Some(delay),
                ..
            }) if delay == Duration::from_secs(2)
        ),
        "{sent:?}"
    );
    assert!(server.credits().is_empty());

    // 500, not processed: the client cannot know that, so outcome unknown.
    let faults = Faults::none()
        .server_errors(1.0)
        .latency(Duration::from_millis(50));
    let (server, sent) = send_ann_100(faults).await;
    assert!(
        matches!(
            sent,
            Err(Error::OutcomeUnknown {
                cause: UnknownCause::ServerError { status: 500 },
                ..
            })
        ),
        "{sent:?}"
    );
    assert!(server.credits().is_empty());
    assert_eq!(
        server.fault_counts(),
        FaultCounts {
            server_errors: 1,
            ..FaultCounts::default()
        }
    );
}

#[tokio::test]
async fn a_share_of_faults_is_repeatable_by_seed() {
    let run = |seed| async move {
        let server = StandInServer::start(0, Faults::none().dropped_answers(0.3).seed(seed))
            .await
            .unwrap();
        let client = server.client(Environment::Sandbox);
        let mut lost = Vec::new();
        for index in 0..40 {
            let email = format!("user{index}@example.com");
            let sent = client.send_points().payout(payout(&email, 1)).send().await;
            if sent.is_err() {
                lost.push(index);
            }
        }
        assert_eq!(server.credits().len(), 40, "every send was credited");
        lost
    };
    let first = run(7).await;
    assert!((4..=20).contains(&first.len()), "{first:?}");
    assert_eq!(first, run(7).await);
}
