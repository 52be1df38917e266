//! No error a caller can print holds a token or a secret: every operation,
//! against answers that carry the tokens in every way a broken or odd vendor
//! could send them (JSON of another shape, JSON cut short, HTML, error
//! statuses whose message echoes what was sent), and `user_client` on a
//! malformed create-user-token answer. Both `Display` and `Debug`.

use std::sync::Arc;

use crate::support::*;
use serde_json::{Value, json};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};
use xoxoday_reward_points::{
    AccessToken, Client, ClientBuilder, Environment, MemoryTokenStore, Operation, Secret,
};

/// A fixed answer, or an error answer whose message repeats what the
/// request carried: its bearer token and every string of its JSON body.
enum Odd {
    Fixed(ResponseTemplate),
    Echo(u16),
}

impl Respond for Odd {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let status = match self {
            Odd::Fixed(answer) => return answer.clone(),
            Odd::Echo(status) => *status,
        };
        let mut sent: Vec<String> = request
            .headers
            .get("authorization")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
            .into_iter()
            .collect();
        if let Ok(Value::Object(body)) = serde_json::from_slice(&request.body) {
            sent.extend(body.values().filter_map(Value::as_str).map(str::to_owned));
        }
        ResponseTemplate::new(status)
            .set_body_json(json!({ "error": format!("refused: {}", sent.join(" ")) }))
    }
}

/// What the vendor could answer, each holding secrets.
fn odd_answers() -> Vec<(&'static str, Odd)> {
    let everything = format!(
        "{OLD_ACCESS} {NEW_ACCESS} {OLD_REFRESH} {NEW_REFRESH} {CLIENT_SECRET} \
         dGhpcyBpcyBhIHJlZnJlc2ggdG9rZW4... your_client_secret"
    );
    // Every response type has `access_token` or `data`: retyped, both fail.
    let other_shape = json!({
        "access_token": [everything], "refresh_token": [everything],
        "data": [everything], "expires_in": everything,
    });
    vec![
        (
            "200, JSON of another shape",
            Odd::Fixed(ResponseTemplate::new(200).set_body_json(other_shape)),
        ),
        (
            "200, JSON cut short",
            Odd::Fixed(ResponseTemplate::new(200).set_body_raw(
                format!("{{\"access_token\": \"{everything}\", \"data\": {{"),
                "application/json",
            )),
        ),
        (
            "200, HTML",
            Odd::Fixed(
                ResponseTemplate::new(200)
                    .set_body_raw(format!("<html>{everything}</html>"), "text/html"),
            ),
        ),
        ("401 echoing what was sent", Odd::Echo(401)),
        ("400 echoing what was sent", Odd::Echo(400)),
        ("500 echoing what was sent", Odd::Echo(500)),
    ]
}

/// Every vendor origin sent to one local server.
fn routed_to(server: &MockServer, builder: ClientBuilder) -> Client {
    let mut builder = builder.retry(xoxoday_reward_points::RetryPolicy::none());
    for origin in [
        "https://stagingstores.xoxoday.com",
        "https://accounts.xoxoday.com",
    ] {
        builder = builder.origin_override(origin, &server.uri()).unwrap();
    }
    builder.build().unwrap()
}

fn assert_no_secret(shown: &str, case: &str) {
    for secret in SECRETS
        .iter()
        .chain(&["dGhpcyBpcyBhIHJlZnJlc2ggdG9rZW4", "your_client_secret"])
    {
        assert!(!shown.contains(secret), "{case}: {secret} shown in {shown}");
    }
}

#[tokio::test]
async fn no_error_of_any_operation_prints_a_token() {
    within(async {
        for (case, answer) in odd_answers() {
            let server = MockServer::start().await;
            Mock::given(any()).respond_with(answer).mount(&server).await;
            let clients = [
                routed_to(
                    &server,
                    Client::builder(Environment::Sandbox)
                        .access_token(AccessToken::new(OLD_ACCESS)),
                ),
                routed_to(
                    &server,
                    Client::builder(Environment::Sandbox)
                        .token_store(Arc::new(MemoryTokenStore::new(stored(true, true))))
                        .client_credentials("your_client_id", Secret::new(CLIENT_SECRET)),
                ),
            ];
            for client in &clients {
                for operation in Operation::ALL {
                    let Err(error) = call_with_example(client, operation).await else {
                        panic!("{case}: {operation} succeeded");
                    };
                    let case = format!("{case}, {operation}");
                    assert_no_secret(&error.to_string(), &case);
                    assert_no_secret(&format!("{error:?}"), &case);
                }
                let error = client
                    .user_client("jane.doe@example.com")
                    .await
                    .unwrap_err();
                assert_no_secret(&error.to_string(), case);
                assert_no_secret(&format!("{error:?}"), case);
            }
        }
    })
    .await
}
