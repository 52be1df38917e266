//! Fixtures shared by the runtime tests: the vendor's paths, tokens that are
//! easy to look for in output, clients routed to a local server, and the
//! refresh and validate answers of a vendor that rotates tokens.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};
use xoxoday_reward_points::types::{
    CancelPointsBodyVariables, CreateUserTokenBody, FetchPointsBodyVariables, RefreshTokenBody,
};
use xoxoday_reward_points::{
    AccessToken, Client, ClientBuilder, Environment, EpochMillis, Error, Operation, Payout,
    Recipient, RetryPolicy, Secret, StoredTokens, TokenStore,
};

pub const SANDBOX: &str = "https://stagingstores.xoxoday.com";
/// Cancel points goes here in every environment.
pub const ACCOUNTS: &str = "https://accounts.xoxoday.com";
pub const POINTS_PATH: &str = "/chef/v1/oauth/api";
pub const TOKEN_PATH: &str = "/chef/v1/oauth/token";
pub const REFRESH_PATH: &str = "/chef/v1/oauth/token/company";
pub const OLD_ACCESS: &str = "old-access-token-7f3a";
pub const NEW_ACCESS: &str = "new-access-token-9c1e";
pub const OLD_REFRESH: &str = "old-refresh-token-4b2d";
pub const NEW_REFRESH: &str = "new-refresh-token-8e6f";
pub const CLIENT_SECRET: &str = "client-secret-5a0c";
pub const SECRETS: [&str; 5] = [
    OLD_ACCESS,
    NEW_ACCESS,
    OLD_REFRESH,
    NEW_REFRESH,
    CLIENT_SECRET,
];

/// Every test here ends within a minute or fails: a hang must never stall
/// the suite (or CI) until its own limit.
pub async fn within<T>(test: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(60), test)
        .await
        .expect("the test did not finish within 60 s")
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

pub const DAY_MS: u64 = 86_400_000;

pub fn stored(access_valid: bool, refresh_valid: bool) -> StoredTokens {
    let now = now_ms();
    StoredTokens::new(
        Secret::new(OLD_ACCESS),
        Some(EpochMillis(if access_valid {
            now + DAY_MS
        } else {
            now - 1000
        })),
        Secret::new(OLD_REFRESH),
        Some(EpochMillis(if refresh_valid {
            now + 30 * DAY_MS
        } else {
            now - 1000
        })),
    )
}

pub fn fast_retries() -> RetryPolicy {
    RetryPolicy::default()
        .with_max_attempts(3)
        .with_backoff(Duration::from_millis(10), Duration::from_millis(40))
}

/// A client sending the company token `OLD_ACCESS` to `origin`, with fast
/// retries; an attempt may take 5 s, far more than a local answer needs on
/// a loaded machine.
pub fn static_client(origin: &str) -> Client {
    static_client_builder(origin)
        .attempt_timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

/// `static_client` giving up on an attempt after 400 ms, for servers that
/// answer after the time limit on purpose.
pub fn impatient_client(origin: &str) -> Client {
    static_client_builder(origin)
        .attempt_timeout(Duration::from_millis(400))
        .build()
        .unwrap()
}

/// A client sending the company token `OLD_ACCESS` to `origin`, with fast
/// retries, to finish building.
pub fn static_client_builder(origin: &str) -> ClientBuilder {
    Client::builder(Environment::Sandbox)
        .access_token(AccessToken::new(OLD_ACCESS))
        .origin_override(SANDBOX, origin)
        .unwrap()
        .origin_override(ACCOUNTS, origin)
        .unwrap()
        .retry(fast_retries())
}

pub fn managed_client(origin: &str, store: Arc<dyn TokenStore>) -> Client {
    Client::builder(Environment::Sandbox)
        .token_store(store)
        .client_credentials("your_client_id", Secret::new(CLIENT_SECRET))
        .origin_override(SANDBOX, origin)
        .unwrap()
        .origin_override(ACCOUNTS, origin)
        .unwrap()
        .retry(fast_retries())
        .attempt_timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

pub fn fetch_variables() -> FetchPointsBodyVariables {
    serde_json::from_value(json!({ "user_data": { "email": "john.doe@example.com" } })).unwrap()
}

/// The vendor's example payout: 100 points to John Doe, from the Super
/// Admin, expiring in 12 months.
pub fn payout() -> Payout {
    Payout::new("admin@example.com")
        .unwrap()
        .expiry_months(12)
        .unwrap()
        .to(Recipient::new("John Doe", "john.doe@example.com", 100)
            .unwrap()
            .citation("Great work on the launch"))
}

pub fn balance_body() -> Value {
    json!({ "data": { "user_balance": { "success": 1, "message": null, "data": { "total": 1500 } } } })
}

pub fn rotated_tokens() -> Value {
    json!({
        "access_token": NEW_ACCESS,
        "token_type": "bearer",
        "expires_in": 1296000,
        "refresh_token": NEW_REFRESH,
        // One vendor page prints the expiries as strings: accepted.
        "access_token_expiry": (now_ms() + 15 * DAY_MS).to_string(),
        "refresh_token_expiry": now_ms() + 60 * DAY_MS
    })
}

/// A local server that answers every GET and POST with `answer`.
pub async fn answering_everything(answer: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(answer.clone())
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(answer)
        .mount(&server)
        .await;
    server
}

pub async fn requests_to(server: &MockServer, at: &str) -> Vec<wiremock::Request> {
    let all = server.received_requests().await.unwrap_or_default();
    all.into_iter()
        .filter(|request| request.url.path() == at)
        .collect()
}

pub async fn mount_refresh(server: &MockServer, delay: Duration) {
    Mock::given(method("POST"))
        .and(path(REFRESH_PATH))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(rotated_tokens())
                .set_delay(delay),
        )
        .mount(server)
        .await;
}

pub async fn mount_validate(server: &MockServer) {
    validate_accepts(server, NEW_ACCESS).await;
}

/// Validate token answers 200 to `token` only, 401 to anything else.
pub async fn validate_accepts(server: &MockServer, token: &str) {
    let valid = json!({ "access_token": token, "token_type": "bearer", "expires_in": 1296000 });
    Mock::given(method("GET"))
        .and(path(TOKEN_PATH))
        .and(header("authorization", format!("Bearer {token}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(valid))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path(TOKEN_PATH))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({ "error": "Unauthorized" })))
        .mount(server)
        .await;
}

// ---------------------------------------------------------------------------
// Every operation, with the vendor's example input.

/// The vendor's example request body of `operation` (for the points
/// operations, the whole body the client sends).
pub fn example_body(operation: Operation) -> Option<Value> {
    match operation {
        Operation::ValidateTokenPoints => None,
        Operation::RefreshToken => Some(json!({
            "grant_type": "refresh_token",
            "refresh_token": "dGhpcyBpcyBhIHJlZnJlc2ggdG9rZW4...",
            "client_id": "your_client_id",
            "client_secret": "your_client_secret"
        })),
        Operation::CreateUserToken => {
            Some(json!({ "user_input": "your.email@example.com", "scope": "user_session" }))
        }
        Operation::FetchPoints => Some(json!({
            "query": "storesAdmin.query.user_balance",
            "tag": "storeAdmin",
            "variables": { "user_data": { "email": "john.doe@example.com", "phone": "+91-8999888887" } }
        })),
        Operation::SendPoints => Some(json!({
            "query": "storesAdmin.mutation.sendBalance",
            "tag": "storeAdmin",
            "variables": { "recipients_data": {
                "sender_email": "admin@example.com",
                "expiry_month": 12,
                "recipients": [{
                    "to_name": "John Doe",
                    "to_email": "john.doe@example.com",
                    "amount": "100",
                    "citation": "Great work on the launch"
                }]
            } }
        })),
        Operation::CancelPoints => Some(json!({
            "query": "storesAdmin.mutation.cancelBalance",
            "tag": "storeAdmin",
            "variables": { "recipients_data": { "recipients": [{ "unique_id": 987654321 }] } }
        })),
        other => panic!("the document has a new operation, {other}: add its example here"),
    }
}

/// A success answer to `operation` as the vendor documents it, for the
/// points operations (whose success is judged from the body); `None` for the
/// token operations.
pub fn example_answer(operation: Operation) -> Option<Value> {
    match operation {
        Operation::FetchPoints => Some(balance_body()),
        Operation::SendPoints => Some(json!({ "data": {
            "unique_id": 987654321, "email": "john.doe@example.com", "points": 100,
            "name": "John Doe", "phone_code": "+1", "phone_number": "5550100"
        } })),
        Operation::CancelPoints => Some(json!({ "data": { "cancelBalance": {
            "error": false, "message": "processed",
            "recipients": [{ "unique_id": 987654321, "success": true,
                             "message": "Points cancelled successfully" }]
        } } })),
        _ => None,
    }
}

/// Calls `operation` with its example input; the points operations are
/// given only their `variables`.
pub async fn call_with_example(client: &Client, operation: Operation) -> Result<(), Error> {
    fn typed<T: serde::de::DeserializeOwned>(value: Value) -> T {
        serde_json::from_value(value).unwrap()
    }
    let body = example_body(operation).unwrap_or_default();
    let variables = body.get("variables").cloned().unwrap_or_default();
    match operation {
        Operation::ValidateTokenPoints => client.validate_token_points().send().await.map(drop),
        Operation::RefreshToken => {
            let body: RefreshTokenBody = typed(body);
            client.refresh_token().body(body).send().await.map(drop)
        }
        Operation::CreateUserToken => {
            let body: CreateUserTokenBody = typed(body);
            client.create_user_token().body(body).send().await.map(drop)
        }
        Operation::FetchPoints => {
            let variables: FetchPointsBodyVariables = typed(variables);
            client
                .fetch_points()
                .variables(variables)
                .send()
                .await
                .map(drop)
        }
        Operation::SendPoints => client.send_points().payout(payout()).send().await.map(drop),
        Operation::CancelPoints => {
            let variables: CancelPointsBodyVariables = typed(variables);
            client
                .cancel_points()
                .variables(variables)
                .send()
                .await
                .map(drop)
        }
        other => panic!("the document has a new operation, {other}: add its call here"),
    }
}
