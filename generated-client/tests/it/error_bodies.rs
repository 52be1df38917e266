//! Error bodies keep their content: a 401's `error` text reaches the caller,
//! typed, instead of decoding into an empty success value.

use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};
use xoxoday_reward_points::types::FetchPointsBodyVariables;
use xoxoday_reward_points::{AccessToken, Client, Environment, Error};

async fn unauthorized_server(http_method: &str, at: &str) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method(http_method))
        .and(path(at))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_json(json!({ "error": "Token expired or revoked" })),
        )
        .expect(1)
        .mount(&server)
        .await;
    server
}

fn sandbox_client(server: &MockServer) -> Client {
    Client::builder(Environment::Sandbox)
        .access_token(AccessToken::new("revoked-token"))
        .origin_override("https://stagingstores.xoxoday.com", &server.uri())
        .unwrap()
        .build()
        .unwrap()
}

fn unauthorized_text<T: std::fmt::Debug>(result: Result<T, Error>) -> String {
    match result {
        Err(Error::Unauthorized { message, .. }) => message.expect("the `error` field decoded"),
        other => panic!("expected a typed 401 error, got {other:?}"),
    }
}

#[tokio::test]
async fn validate_token_401_carries_the_vendor_message() {
    let server = unauthorized_server("GET", "/chef/v1/oauth/token").await;
    let client = sandbox_client(&server);

    let result = client.validate_token_points().send().await;

    assert_eq!(unauthorized_text(result), "Token expired or revoked");
}

#[tokio::test]
async fn fetch_points_401_carries_the_vendor_message() {
    let server = unauthorized_server("POST", "/chef/v1/oauth/api").await;
    let client = sandbox_client(&server);
    let variables: FetchPointsBodyVariables =
        serde_json::from_value(json!({ "user_data": { "email": "john.doe@example.com" } }))
            .unwrap();

    let result = client.fetch_points().variables(variables).send().await;

    assert_eq!(unauthorized_text(result), "Token expired or revoked");
}
