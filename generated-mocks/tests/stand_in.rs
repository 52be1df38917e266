//! The stand-in keeps state the way the vendor does: send adds to the
//! balance, cancel takes it back once, a bad token gets 401.

use serde_json::json;
use xoxoday_reward_points::types::{
    CancelPointsBodyVariables, FetchPointsBodyVariables, SendPointsBodyVariables,
    SendPointsResponseData,
};
use xoxoday_reward_points::{Environment, Error, Operation};
use xoxoday_reward_points_mocks::StandIn;

fn who() -> FetchPointsBodyVariables {
    serde_json::from_value(json!({ "user_data": { "email": "john.doe@example.com" } })).unwrap()
}

#[tokio::test]
async fn send_adds_cancel_takes_back_and_bad_tokens_are_refused() {
    let stand_in = StandIn::start().await;
    let client = stand_in.client(Environment::Production);
    let balance = || async {
        client
            .fetch_points()
            .variables(who())
            .send()
            .await
            .unwrap()
            .into_inner()
            .into_result()
            .unwrap()
            .total()
    };
    assert_eq!(balance().await, Some(0.0));

    let send: SendPointsBodyVariables = serde_json::from_value(json!({ "recipients_data": {
        "sender_email": "admin@example.com", "expiry_month": 12,
        "recipients": [{ "to_name": "John Doe", "to_email": "john.doe@example.com", "amount": "250" }] } }))
    .unwrap();
    let sent = client
        .send_points()
        .variables(send)
        .send()
        .await
        .unwrap()
        .into_inner()
        .into_result()
        .unwrap();
    let Some(SendPointsResponseData::PointsTransaction(transaction)) = sent.data else {
        panic!("expected the transaction reading")
    };
    assert_eq!(balance().await, Some(250.0));
    assert_eq!(stand_in.balance("john.doe@example.com"), 250.0);

    let cancel: CancelPointsBodyVariables = serde_json::from_value(
        json!({ "recipients_data": { "recipients": [{ "unique_id": transaction.unique_id }] } }),
    )
    .unwrap();
    let cancelled = client
        .cancel_points()
        .variables(cancel.clone())
        .send()
        .await
        .unwrap()
        .into_inner();
    assert!(cancelled.into_result().is_ok());
    assert_eq!(balance().await, Some(0.0));
    let again = client
        .cancel_points()
        .variables(cancel)
        .send()
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        again.into_result().unwrap_err().to_string(),
        format!(
            "cancelPoints failed: unique_id {}: already cancelled",
            transaction.unique_id
        )
    );

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
