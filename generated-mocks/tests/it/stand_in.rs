//! The stand-in keeps state the way the vendor does: send adds to the
//! balance, cancel takes it back once, a bad token gets 401.

use xoxoday_reward_points::{Cancellation, Environment, Error, Operation, Payout, Recipient, User};
use xoxoday_reward_points_mocks::StandIn;

#[tokio::test]
async fn send_adds_cancel_takes_back_and_bad_tokens_are_refused() {
    let stand_in = StandIn::start().await;
    let client = stand_in.client(Environment::Production);
    let who = User::email("john.doe@example.com").unwrap();
    let balance = || async {
        client
            .fetch_points()
            .user(who.clone())
            .send()
            .await
            .unwrap()
            .into_inner()
            .total()
    };
    assert_eq!(balance().await, Some(0.0));

    let payout = Payout::new("admin@example.com")
        .unwrap()
        .expiry_months(12)
        .unwrap()
        .to(Recipient::new("John Doe", "john.doe@example.com", 250).unwrap());
    let sent = client
        .send_points()
        .payout(payout)
        .send()
        .await
        .unwrap()
        .into_inner();
    let transaction = sent.transaction_id().expect("the transaction reading");
    assert_eq!(balance().await, Some(250.0));
    assert_eq!(stand_in.balance("john.doe@example.com"), 250.0);

    let cancellation = Cancellation::of([transaction]).unwrap();
    let cancelled = client
        .cancel_points()
        .transactions(cancellation.clone())
        .send()
        .await
        .unwrap()
        .into_inner();
    assert!(cancelled.outcomes().iter().all(|outcome| outcome.cancelled));
    assert_eq!(balance().await, Some(0.0));
    match client
        .cancel_points()
        .transactions(cancellation)
        .send()
        .await
    {
        Err(Error::Refused { refusal, .. }) => assert_eq!(
            refusal.to_string(),
            format!("processed; transaction {transaction}: not cancelled (already cancelled)")
        ),
        other => panic!("expected a refusal, got {other:?}"),
    }

    let stranger = stand_in
        .vendor()
        .client(Environment::Sandbox, "not-a-token");
    match stranger.validate_token_points().send().await {
        Err(Error::Unauthorized { operation, message }) => {
            assert_eq!(operation, Operation::ValidateTokenPoints);
            assert_eq!(message.as_deref(), Some("Unauthorized"));
        }
        other => panic!("expected a 401, got {other:?}"),
    }
}
