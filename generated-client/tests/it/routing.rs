//! Every call goes where the vendor says it goes, request by request: all six
//! operations in all three environments, against local servers standing in
//! for the vendor's hosts (in each environment: its own host and
//! `accounts.xoxoday.com`). What each request carries is the workspace's
//! snapshots' (`tests/it/`, `requests__*`).

use crate::support::{call_with_example, example_answer, example_body};

use serde_json::{Value, json};
use wiremock::matchers::{any, body_partial_json};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};
use xoxoday_reward_points::{AccessToken, Client, Environment, Operation, ROUTES};

const TOKEN: &str = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.company-token";
const ACCOUNTS: &str = "https://accounts.xoxoday.com";

/// The vendor's host for an environment's global server.
fn environment_origin(environment: Environment) -> &'static str {
    match environment {
        Environment::Sandbox => "https://stagingstores.xoxoday.com",
        Environment::Production => ACCOUNTS,
        Environment::Testing => "https://canvas.xoxoday.com",
        other => panic!("the document has a new environment, {other:?}: add its host here"),
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
            example_body(Operation::RefreshToken),
        ),
        auth(
            Operation::CreateUserToken,
            "POST",
            "/chef/v1/oauth/token/create/user",
            example_body(Operation::CreateUserToken),
        ),
        points(
            Operation::FetchPoints,
            example_body(Operation::FetchPoints).unwrap(),
            false,
        ),
        points(
            Operation::SendPoints,
            example_body(Operation::SendPoints).unwrap(),
            false,
        ),
        points(
            Operation::CancelPoints,
            example_body(Operation::CancelPoints).unwrap(),
            true,
        ),
    ]
}

async fn call(client: &Client, operation: Operation) {
    if let Err(error) = call_with_example(client, operation).await {
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

/// The points operations share one URL: each is told apart by its body's
/// `query` and answered with the vendor's example success; anything else
/// gets `{}`.
async fn answer_ok(server: &MockServer) {
    for operation in Operation::ALL {
        let (Some(request), Some(answer)) = (example_body(operation), example_answer(operation))
        else {
            continue;
        };
        Mock::given(body_partial_json(json!({ "query": request["query"] })))
            .respond_with(ResponseTemplate::new(200).set_body_json(answer))
            .mount(server)
            .await;
    }
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
