//! Every call goes where the vendor says it goes, request by request: all six
//! operations in all three environments, against local servers standing in
//! for the vendor's hosts (in each environment: its own host and
//! `accounts.xoxoday.com`).

use std::fmt::Write;

use serde_json::{Value, json};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, ResponseTemplate};
use xoxoday_reward_points::types::{
    CancelPointsBodyVariables, CreateUserTokenBody, FetchPointsBodyVariables, RefreshTokenBody,
    SendPointsBodyVariables,
};
use xoxoday_reward_points::{AccessToken, Client, Environment, Operation, ROUTES};

const TOKEN: &str = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.company-token";
const ACCOUNTS: &str = "https://accounts.xoxoday.com";

/// The vendor's host for an environment's global server.
fn environment_origin(environment: Environment) -> &'static str {
    match environment {
        Environment::Sandbox => "https://stagingstores.xoxoday.com",
        Environment::Production => ACCOUNTS,
        Environment::Testing => "https://canvas.xoxoday.com",
    }
}

/// A request as a user would check it: where it went and what it carried.
#[derive(Debug, PartialEq)]
struct Sent {
    /// The vendor origin whose stand-in received it.
    host: String,
    method: String,
    path: String,
    authorization: Option<String>,
    content_type: Option<String>,
    body: Option<Value>,
}

struct Expected {
    operation: Operation,
    method: &'static str,
    /// The path on the vendor's host.
    path: &'static str,
    /// Whether it goes to accounts.xoxoday.com whatever the environment.
    accounts_always: bool,
    authorized: bool,
    body: Option<Value>,
}

fn fetch_body() -> Value {
    json!({
        "query": "storesAdmin.query.user_balance",
        "tag": "storeAdmin",
        "variables": { "user_data": { "email": "john.doe@example.com", "phone": "+91-8999888887" } }
    })
}

fn send_body() -> Value {
    json!({
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
    })
}

fn cancel_body() -> Value {
    json!({
        "query": "storesAdmin.mutation.cancelBalance",
        "tag": "storeAdmin",
        "variables": { "recipients_data": { "recipients": [{ "unique_id": 987654321 }] } }
    })
}

fn refresh_body() -> Value {
    json!({
        "grant_type": "refresh_token",
        "refresh_token": "dGhpcyBpcyBhIHJlZnJlc2ggdG9rZW4...",
        "client_id": "your_client_id",
        "client_secret": "your_client_secret"
    })
}

fn create_user_body() -> Value {
    json!({ "user_input": "your.email@example.com", "scope": "user_session" })
}

fn expectations() -> Vec<Expected> {
    let auth = |operation, method, path, body: Option<Value>| Expected {
        operation,
        method,
        path,
        accounts_always: false,
        authorized: operation != Operation::RefreshToken,
        body,
    };
    let points = |operation, body: Value, accounts_always| Expected {
        operation,
        method: "POST",
        path: "/chef/v1/oauth/api",
        accounts_always,
        authorized: true,
        body: Some(body),
    };
    vec![
        auth(
            Operation::ValidateTokenPoints,
            "GET",
            "/chef/v1/oauth/token",
            None,
        ),
        auth(
            Operation::RefreshToken,
            "POST",
            "/chef/v1/oauth/token/company",
            Some(refresh_body()),
        ),
        auth(
            Operation::CreateUserToken,
            "POST",
            "/chef/v1/oauth/token/create/user",
            Some(create_user_body()),
        ),
        points(Operation::FetchPoints, fetch_body(), false),
        points(Operation::SendPoints, send_body(), false),
        points(Operation::CancelPoints, cancel_body(), true),
    ]
}

/// Calls one operation with its canonical input: the vendor's example.
/// The points operations are given only their `variables`.
async fn call(client: &Client, operation: Operation) {
    fn variables<T: serde::de::DeserializeOwned>(body: Value) -> T {
        serde_json::from_value(body["variables"].clone()).unwrap()
    }
    let outcome = match operation {
        Operation::ValidateTokenPoints => client.validate_token_points().send().await.map(drop),
        Operation::RefreshToken => {
            let body: RefreshTokenBody = serde_json::from_value(refresh_body()).unwrap();
            client.refresh_token().body(body).send().await.map(drop)
        }
        Operation::CreateUserToken => {
            let body: CreateUserTokenBody = serde_json::from_value(create_user_body()).unwrap();
            client.create_user_token().body(body).send().await.map(drop)
        }
        Operation::FetchPoints => {
            let vars: FetchPointsBodyVariables = variables(fetch_body());
            client.fetch_points().variables(vars).send().await.map(drop)
        }
        Operation::SendPoints => {
            let vars: SendPointsBodyVariables = variables(send_body());
            client.send_points().variables(vars).send().await.map(drop)
        }
        Operation::CancelPoints => {
            let vars: CancelPointsBodyVariables = variables(cancel_body());
            client
                .cancel_points()
                .variables(vars)
                .send()
                .await
                .map(drop)
        }
    };
    if let Err(error) = outcome {
        panic!("{operation} failed: {error:?}");
    }
}

/// One local server per vendor origin the route table knows, so that no
/// call can leave loopback even if the document names a new host.
struct StandIns {
    servers: Vec<(String, MockServer)>,
}

impl StandIns {
    async fn start() -> Self {
        let mut origins: Vec<String> = ROUTES
            .iter()
            .flat_map(|route| route.servers)
            .chain(Environment::ALL.map(Environment::server_url))
            .map(|url| {
                reqwest::Url::parse(url)
                    .unwrap()
                    .origin()
                    .ascii_serialization()
            })
            .collect();
        origins.sort();
        origins.dedup();
        let mut servers = Vec::new();
        for origin in origins {
            let server = MockServer::start().await;
            answer_ok(&server).await;
            servers.push((origin, server));
        }
        Self { servers }
    }

    fn client(&self, environment: Environment) -> Client {
        let mut builder = Client::builder(environment).access_token(AccessToken::new(TOKEN));
        for (origin, server) in &self.servers {
            builder = builder.origin_override(origin, &server.uri()).unwrap();
        }
        builder.build().unwrap()
    }

    /// Every request received since the last call, then forgets them.
    async fn take(&self) -> Vec<(Sent, Request)> {
        let mut sent = Vec::new();
        for (origin, server) in &self.servers {
            for request in server.received_requests().await.unwrap_or_default() {
                sent.push((describe(origin, &request), request));
            }
            server.reset().await;
            answer_ok(server).await;
        }
        sent
    }
}

async fn answer_ok(server: &MockServer) {
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
        .mount(server)
        .await;
}

fn describe(origin: &str, request: &Request) -> Sent {
    let header = |name: &str| {
        request
            .headers
            .get(name)
            .map(|value| value.to_str().unwrap().to_owned())
    };
    Sent {
        host: origin.to_owned(),
        method: request.method.to_string(),
        path: request.url.path().to_owned(),
        authorization: header("authorization"),
        content_type: header("content-type"),
        body: (!request.body.is_empty()).then(|| serde_json::from_slice(&request.body).unwrap()),
    }
}

#[tokio::test]
async fn all_six_operations_in_all_three_environments_reach_the_right_host_and_path() {
    let stand_ins = StandIns::start().await;
    let mut cases = 0;
    for environment in Environment::ALL {
        let client = stand_ins.client(environment);
        for expected in expectations() {
            call(&client, expected.operation).await;
            let sent = stand_ins.take().await;

            let on_accounts = expected.accounts_always || environment == Environment::Production;
            let want = Sent {
                host: if on_accounts {
                    ACCOUNTS
                } else {
                    environment_origin(environment)
                }
                .to_owned(),
                method: expected.method.to_owned(),
                path: expected.path.to_owned(),
                authorization: expected.authorized.then(|| format!("Bearer {TOKEN}")),
                content_type: expected
                    .body
                    .as_ref()
                    .map(|_| "application/json".to_owned()),
                body: expected.body,
            };
            let got: Vec<&Sent> = sent.iter().map(|(sent, _)| sent).collect();
            assert_eq!(
                got,
                vec![&want],
                "{} in {:?}",
                expected.operation,
                environment
            );
            cases += 1;
        }
    }
    assert_eq!(cases, 18);
}

/// The route table as a reviewer reads it: one line per operation and
/// environment, so a changed server URL is a one-line diff.
#[test]
fn route_table() {
    let mut table = String::new();
    for route in &ROUTES {
        for environment in Environment::ALL {
            writeln!(
                table,
                "{:<20} {:<11} {:<5} {}",
                route.operation.id(),
                environment.name(),
                route.http_method,
                route.url(environment)
            )
            .unwrap();
        }
    }
    insta::assert_snapshot!(table);
}

/// The exact request each operation sends in Sandbox for its canonical input,
/// with the vendor's host put back in place of the local stand-in and the
/// token redacted.
#[tokio::test]
async fn sandbox_requests() {
    let stand_ins = StandIns::start().await;
    let client = stand_ins.client(Environment::Sandbox);
    let mut transcript = String::new();
    for expected in expectations() {
        call(&client, expected.operation).await;
        let sent = stand_ins.take().await;
        assert_eq!(sent.len(), 1, "{}", expected.operation);
        let (summary, request) = &sent[0];
        let origin = &summary.host;
        writeln!(transcript, "## {}", expected.operation).unwrap();
        writeln!(
            transcript,
            "{} {origin}{}",
            request.method,
            request.url.path()
        )
        .unwrap();
        let mut headers: Vec<(String, String)> = request
            .headers
            .iter()
            .filter(|(name, _)| name.as_str() != "host")
            .map(|(name, value)| {
                let value = value.to_str().unwrap().replace(TOKEN, "<redacted>");
                (name.to_string(), value)
            })
            .collect();
        headers.sort();
        for (name, value) in headers {
            writeln!(transcript, "{name}: {value}").unwrap();
        }
        if !request.body.is_empty() {
            // The bytes as sent, not re-serialized: serde_json's map order
            // depends on features another workspace member may turn on.
            let body = String::from_utf8_lossy(&request.body)
                .replace("dGhpcyBpcyBhIHJlZnJlc2ggdG9rZW4...", "<redacted>")
                .replace("your_client_secret", "<redacted>");
            writeln!(transcript, "\n{body}").unwrap();
        }
        writeln!(transcript).unwrap();
    }
    insta::assert_snapshot!(transcript);
}

#[test]
fn a_client_never_prints_its_token() {
    let client = Client::builder(Environment::Sandbox)
        .access_token(AccessToken::new(TOKEN))
        .build()
        .unwrap();
    let shown = format!("{client:?}");
    assert!(!shown.contains(TOKEN), "{shown}");
    assert!(shown.contains("AccessToken(<redacted>)"), "{shown}");
}
