//! Building a client from an environment (and a token): nobody types a URL
//! to reach the vendor's hosts.

use std::time::Duration;

use crate::Client;
use crate::access_token::AccessToken;
use crate::origins::{OriginError, OriginOverrides};
use crate::routes::Environment;

/// Everything the hooks need besides progenitor's own fields; the generated
/// `Client` carries it as its `inner` value.
#[derive(Clone, Debug)]
pub struct ClientContext {
    pub(crate) environment: Environment,
    pub(crate) origins: OriginOverrides,
    pub(crate) access_token: Option<AccessToken>,
}

/// Why a client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Origin(#[from] OriginError),
    #[error("cannot build the HTTP client: {0}")]
    Http(#[from] reqwest::Error),
}

/// Builds a [`Client`]: `Client::builder(Environment::Sandbox).access_token(…).build()`.
#[derive(Debug)]
pub struct ClientBuilder {
    context: ClientContext,
    timeout: Duration,
}

/// What progenitor uses by default, kept.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);

impl ClientBuilder {
    pub fn new(environment: Environment) -> Self {
        Self {
            context: ClientContext {
                environment,
                origins: OriginOverrides::default(),
                access_token: None,
            },
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// The bearer token sent on every operation the document secures.
    pub fn access_token(mut self, token: AccessToken) -> Self {
        self.context.access_token = Some(token);
        self
    }

    /// Sends calls bound for `vendor_origin` (such as
    /// `https://accounts.xoxoday.com`) to `replacement` (such as a local test
    /// server, `http://127.0.0.1:8080`), keeping the path.
    pub fn origin_override(
        mut self,
        vendor_origin: &str,
        replacement: &str,
    ) -> Result<Self, OriginError> {
        self.context.origins.insert(vendor_origin, replacement)?;
        Ok(self)
    }

    /// Connect and whole-request timeout (default 15 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn build(self) -> Result<Client, BuildError> {
        let http = reqwest::Client::builder()
            .connect_timeout(self.timeout)
            .timeout(self.timeout)
            .build()?;
        let base_url = self.context.environment.server_url();
        Ok(Client::new_with_client(base_url, http, self.context))
    }
}

impl Client {
    /// Starts building a client for one of the vendor's environments.
    pub fn builder(environment: Environment) -> ClientBuilder {
        ClientBuilder::new(environment)
    }

    /// The environment this client sends to.
    pub fn environment(&self) -> Environment {
        self.inner.environment
    }
}
