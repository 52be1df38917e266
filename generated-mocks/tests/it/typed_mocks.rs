//! The client driven against each generated mock: every operation's mock
//! matches the request the client really sends (real path, real host, the
//! `query` and `tag` values), and only that operation's request.

use httpmock::Mock;
use serde_json::{Value, json};
use xoxoday_reward_points::types::{
    CancelPointsBody, CancelPointsResponse, CreateUserTokenBody, FetchPointsBody,
    FetchPointsResponse, RefreshTokenBody, SendPointsBody, SendPointsResponse, TokenResponse,
    ValidateTokenPointsResponse,
};
use xoxoday_reward_points::{Client, Environment, Error, Operation, Payout, Recipient};
use xoxoday_reward_points_mocks::{MockServerExt, MockVendor};

fn typed<T: serde::de::DeserializeOwned>(value: Value) -> T {
    serde_json::from_value(value).unwrap()
}

fn fetch_body() -> Value {
    json!({ "query": "storesAdmin.query.user_balance", "tag": "storeAdmin",
            "variables": { "user_data": { "email": "john.doe@example.com" } } })
}

fn send_body() -> Value {
    json!({ "query": "storesAdmin.mutation.sendBalance", "tag": "storeAdmin",
            "variables": { "recipients_data": { "sender_email": "admin@example.com", "expiry_month": 12,
                "recipients": [{ "to_name": "John Doe", "to_email": "john.doe@example.com", "amount": "100" }] } } })
}

/// The payout `send_body` carries.
fn payout() -> Payout {
    Payout::new("admin@example.com")
        .unwrap()
        .expiry_months(12)
        .unwrap()
        .to(Recipient::new("John Doe", "john.doe@example.com", 100).unwrap())
}

fn cancel_body() -> Value {
    json!({ "query": "storesAdmin.mutation.cancelBalance", "tag": "storeAdmin",
            "variables": { "recipients_data": { "recipients": [{ "unique_id": 987654321 }] } } })
}

fn tokens() -> TokenResponse {
    typed(json!({ "access_token": "new", "refresh_token": "rotated", "expires_in": 1296000 }))
}

/// The refresh the client sends, and its mock matches.
fn refresh_body() -> RefreshTokenBody {
    typed(json!({ "grant_type": "refresh_token",
        "refresh_token": "r", "client_id": "id", "client_secret": "s" }))
}

/// The user token request the client sends, and its mock matches.
fn create_body() -> CreateUserTokenBody {
    typed(json!({ "user_input": "your.email@example.com", "scope": "user_session" }))
}

/// Each operation's mock, and the client calling each once in
/// `environment`: each mock is called once.
async fn every_operation_in(environment: Environment) {
    let vendor = MockVendor::start_async().await;
    let client: Client = vendor.client(environment, "company-token");
    let mut mocks = token_mocks(&vendor, environment);
    mocks.extend(points_mocks(&vendor, environment));

    call_every_operation(&client).await;

    for (name, mock) in &mocks {
        assert_eq!(mock.calls_async().await, 1, "{name} in {environment:?}");
    }
}

/// The mocks of the token operations (validate, refresh, create user
/// token) in `environment`, each named, matching what the client sends.
fn token_mocks(vendor: &MockVendor, environment: Environment) -> Vec<(&'static str, Mock<'_>)> {
    let validate = vendor
        .server(environment, Operation::ValidateTokenPoints)
        .validate_token_points(|when, then| {
            when.into_inner()
                .header("authorization", "Bearer company-token");
            then.ok(&typed::<ValidateTokenPointsResponse>(
                json!({ "token_type": "bearer" }),
            ));
        });
    let refresh = vendor
        .server(environment, Operation::RefreshToken)
        .refresh_token(|when, then| {
            when.body(&refresh_body());
            then.ok(&tokens());
        });
    let create = vendor
        .server(environment, Operation::CreateUserToken)
        .create_user_token(|when, then| {
            when.body(&create_body());
            then.ok(&tokens());
        });
    vec![
        ("validate", validate),
        ("refresh", refresh),
        ("create user token", create),
    ]
}

/// The mocks of the points operations (fetch, send, cancel) in
/// `environment`, each named, matching what the client sends.
fn points_mocks(vendor: &MockVendor, environment: Environment) -> Vec<(&'static str, Mock<'_>)> {
    let fetch = vendor
        .server(environment, Operation::FetchPoints)
        .fetch_points(|when, then| {
            when.body(&typed::<FetchPointsBody>(fetch_body()));
            then.ok(&typed::<FetchPointsResponse>(
                json!({ "data": { "user_balance": {
            "success": 1, "message": null, "data": { "total": 1500 } } } }),
            ));
        });
    let send = vendor
        .server(environment, Operation::SendPoints)
        .send_points(|when, then| {
            when.body(&typed::<SendPointsBody>(send_body()));
            then.ok(&typed::<SendPointsResponse>(
                json!({ "data": { "unique_id": 987654321 } }),
            ));
        });
    let cancel = vendor
        .server(environment, Operation::CancelPoints)
        .cancel_points(|when, then| {
            when.body(&typed::<CancelPointsBody>(cancel_body()));
            then.ok(&typed::<CancelPointsResponse>(
                json!({ "data": { "cancelBalance": {
            "error": false, "recipients": [{ "unique_id": 987654321, "success": true }] } } }),
            ));
        });
    vec![("fetch", fetch), ("send", send), ("cancel", cancel)]
}

/// Each operation, called once by `client` as the mocks expect it; the
/// fetch answers the mocked balance.
async fn call_every_operation(client: &Client) {
    client.validate_token_points().send().await.unwrap();
    client
        .refresh_token()
        .body(refresh_body())
        .send()
        .await
        .unwrap();
    client
        .create_user_token()
        .body(create_body())
        .send()
        .await
        .unwrap();
    let balance = client
        .fetch_points()
        .variables(typed::<
            xoxoday_reward_points::types::FetchPointsBodyVariables,
        >(fetch_body()["variables"].clone()))
        .send()
        .await
        .unwrap();
    assert_eq!(balance.into_inner().total(), Some(1500.0));
    client.send_points().payout(payout()).send().await.unwrap();
    client
        .cancel_points()
        .variables(typed::<
            xoxoday_reward_points::types::CancelPointsBodyVariables,
        >(cancel_body()["variables"].clone()))
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn each_mock_matches_the_real_request_in_sandbox() {
    every_operation_in(Environment::Sandbox).await;
}

#[tokio::test]
async fn each_mock_matches_the_real_request_in_production() {
    every_operation_in(Environment::Production).await;
}

/// The three points operations share one real path; the mocks still tell
/// them apart by `query`, so a fetch mock never answers a send.
#[tokio::test]
async fn a_points_mock_does_not_answer_another_points_operation() {
    let vendor = MockVendor::start_async().await;
    let client = vendor.client(Environment::Sandbox, "company-token");
    let fetch = vendor
        .server(Environment::Sandbox, Operation::FetchPoints)
        .fetch_points(|_, then| {
            then.ok(&typed::<FetchPointsResponse>(json!({})));
        });

    let sent = client.send_points().payout(payout()).send().await;

    assert!(
        matches!(
            sent,
            Err(Error::UnexpectedStatus {
                operation: Operation::SendPoints,
                status: 404,
                ..
            })
        ),
        "{sent:?}"
    );
    assert_eq!(fetch.calls_async().await, 0);
}
