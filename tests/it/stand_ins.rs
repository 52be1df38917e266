//! One local server per vendor origin the route table knows (each on
//! 127.0.0.1), a client whose every vendor host is one of them, and what
//! each received: so a snapshot shows the vendor's URL a request was for.

use serde_json::Value;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, ResponseTemplate};
use xoxoday_reward_points::{AccessToken, Client, Environment, ROUTES, USER_AGENT};

/// The access token the clients send; snapshots show it redacted.
pub const TOKEN: &str = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.a-company-token";

/// Values the document's examples carry in secret fields (and whatever
/// else a field by these names holds): snapshots show them redacted.
const SECRET_FIELDS: [&str; 3] = ["refresh_token", "client_secret", "access_token"];

pub struct StandIns {
    servers: Vec<(String, MockServer)>,
}

fn origin(url: &str) -> String {
    reqwest::Url::parse(url)
        .expect("a route's URL")
        .origin()
        .ascii_serialization()
}

impl StandIns {
    pub async fn start() -> Self {
        let mut origins: Vec<String> = ROUTES
            .iter()
            .flat_map(|route| route.servers)
            .chain(Environment::ALL.map(Environment::server_url))
            .map(origin)
            .collect();
        origins.sort();
        origins.dedup();
        let mut servers = Vec::new();
        for origin in origins {
            servers.push((origin, MockServer::start().await));
        }
        Self { servers }
    }

    /// A client for `environment`, sending [`TOKEN`], every vendor host
    /// one of these servers.
    pub fn client(&self, environment: Environment) -> Client {
        let mut builder = Client::builder(environment).access_token(AccessToken::new(TOKEN));
        for (origin, server) in &self.servers {
            builder = builder.origin_override(origin, &server.uri()).unwrap();
        }
        builder.build().unwrap()
    }

    /// Every server answers `status` with `body` from now on, and forgets
    /// what it received.
    pub async fn answer(&self, status: u16, body: &Value) {
        for (_, server) in &self.servers {
            server.reset().await;
            Mock::given(any())
                .respond_with(ResponseTemplate::new(status).set_body_json(body))
                .mount(server)
                .await;
        }
    }

    /// What the servers received since the last [`StandIns::answer`], each
    /// as the vendor would have: its URL, headers (no secret) and body.
    pub async fn received(&self) -> Vec<String> {
        let mut received = Vec::new();
        for (origin, server) in &self.servers {
            for request in server.received_requests().await.unwrap_or_default() {
                received.push(transcript(origin, &request));
            }
        }
        received
    }
}

/// A request as the vendor's host would have received it.
fn transcript(origin: &str, request: &Request) -> String {
    let query = request
        .url
        .query()
        .map(|query| format!("?{query}"))
        .unwrap_or_default();
    let mut text = format!("{} {origin}{}{query}\n", request.method, request.url.path());
    let mut headers: Vec<(String, String)> = request
        .headers
        .iter()
        .filter(|(name, _)| name.as_str() != "host")
        .map(|(name, value)| {
            let value = value
                .to_str()
                .unwrap_or("<not text>")
                .replace(TOKEN, "<redacted>")
                // The crate's version changes with each release.
                .replace(USER_AGENT, "xoxoday-reward-points/<version>");
            (name.to_string(), value)
        })
        .collect();
    headers.sort();
    for (name, value) in headers {
        text.push_str(&format!("{name}: {value}\n"));
    }
    if !request.body.is_empty() {
        // The bytes as sent (the order of their fields is the client's),
        // with the secret fields' values redacted.
        let mut shown = String::from_utf8_lossy(&request.body).into_owned();
        if let Ok(body) = serde_json::from_slice::<Value>(&request.body) {
            for secret in secrets(&body) {
                let quoted = Value::String(secret).to_string();
                shown = shown.replace(&quoted, "\"<redacted>\"");
            }
        }
        text.push_str(&format!("\n{shown}\n"));
    }
    text
}

/// The text values of the secret fields in `value`.
fn secrets(value: &Value) -> Vec<String> {
    match value {
        Value::Object(object) => object
            .iter()
            .flat_map(|(key, field)| match field {
                Value::String(text) if SECRET_FIELDS.contains(&key.as_str()) => vec![text.clone()],
                other => secrets(other),
            })
            .collect(),
        Value::Array(items) => items.iter().flat_map(secrets).collect(),
        _ => Vec::new(),
    }
}
