//! `MockVendor`: a local httpmock server for each vendor host the route table
//! names, and clients whose calls go to them.

use httpmock::MockServer;
use xoxoday_reward_points::{AccessToken, Client, ClientBuilder, Environment, Operation, ROUTES};

/// One local mock server per vendor origin (such as
/// `https://accounts.xoxoday.com`), all on 127.0.0.1.
pub struct MockVendor {
    servers: Vec<(String, MockServer)>,
}

/// The origins the route table and the environments send to.
pub(crate) fn vendor_origins() -> Vec<String> {
    let mut origins: Vec<String> = ROUTES
        .iter()
        .flat_map(|route| route.servers)
        .chain(Environment::ALL.map(Environment::server_url))
        .map(origin_of)
        .collect();
    origins.sort();
    origins.dedup();
    origins
}

pub(crate) fn origin_of(url: &str) -> String {
    let after_scheme = url.find("://").map_or(0, |index| index + 3);
    let end = url[after_scheme..]
        .find('/')
        .map_or(url.len(), |index| after_scheme + index);
    url[..end].to_owned()
}

impl MockVendor {
    /// Starts the servers (blocking; see [`MockVendor::start_async`]).
    pub fn start() -> Self {
        Self {
            servers: vendor_origins()
                .into_iter()
                .map(|origin| (origin, MockServer::start()))
                .collect(),
        }
    }

    /// Starts the servers from async code.
    pub async fn start_async() -> Self {
        let mut servers = Vec::new();
        for origin in vendor_origins() {
            servers.push((origin, MockServer::start_async().await));
        }
        Self { servers }
    }

    /// The server standing in for the host `operation` goes to in
    /// `environment`: mount that operation's mocks on it.
    pub fn server(&self, environment: Environment, operation: Operation) -> &MockServer {
        let url = operation.route().servers[environment as usize];
        self.server_for_origin(&origin_of(url))
    }

    /// The server standing in for one vendor origin.
    ///
    /// # Panics
    /// When the route table never sends to that origin.
    pub fn server_for_origin(&self, origin: &str) -> &MockServer {
        self.servers
            .iter()
            .find(|(known, _)| known == origin)
            .map(|(_, server)| server)
            .unwrap_or_else(|| panic!("`{origin}` is not a vendor origin"))
    }

    /// Each vendor origin and the local base URL standing in for it, to pass
    /// to tools that take origin overrides (such as `reward-points
    /// --origin-override VENDOR=LOCAL`).
    pub fn origin_overrides(&self) -> Vec<(String, String)> {
        self.servers
            .iter()
            .map(|(origin, server)| (origin.clone(), server.base_url()))
            .collect()
    }

    /// A client builder for `environment` whose every vendor host is one of
    /// these servers; add a token, a store or a retry policy, then build.
    pub fn client_builder(&self, environment: Environment) -> ClientBuilder {
        let mut builder = Client::builder(environment);
        for (origin, server) in &self.servers {
            builder = builder
                .origin_override(origin, &server.base_url())
                .expect("a loopback origin for a vendor origin is accepted");
        }
        builder
    }

    /// A client for `environment` sending `token`, routed to these servers.
    pub fn client(&self, environment: Environment, token: &str) -> Client {
        self.client_builder(environment)
            .access_token(AccessToken::new(token))
            .build()
            .expect("a client for local servers builds")
    }
}
