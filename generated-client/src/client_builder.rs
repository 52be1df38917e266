//! Building a client from an environment and a token (or a token store that
//! it keeps fresh): nobody types a URL to reach the vendor's hosts.

use std::sync::Arc;
use std::time::Duration;

use crate::call::context::{Auth, ClientContext};
use crate::call::options::{CallOptions, RetryPolicy};
use crate::routes::{Environment, Operation};
use crate::routing::Destinations;
use crate::routing::origins::{OriginError, OriginOverrides};
use crate::routing::proxies;
use crate::tokens::access_token::AccessToken;
#[cfg(not(another_document))]
use crate::tokens::clock::Clock;
use crate::tokens::credentials::ClientCredentials;
use crate::tokens::manager::TokenManager;
#[cfg(not(another_document))]
use crate::tokens::refresh_endpoint::RefreshEndpoint;
use crate::tokens::store::TokenStore;
use crate::{Client, Error, Secret};

/// Why a client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// An origin override was refused.
    #[error(transparent)]
    Origin(#[from] OriginError),
    /// reqwest could not build its client (no TLS backend, for one).
    #[error("cannot build the HTTP client: {0}")]
    Http(#[from] reqwest::Error),
    /// A token store was given without `client_credentials`, which
    /// refreshing needs.
    #[error("a token store needs the client credentials too: call `client_credentials`")]
    MissingCredentials,
}

/// Builds a [`Client`]: `Client::builder(Environment::Sandbox)`, then a
/// static `access_token`, or `token_store` with `client_credentials` for a
/// client that refreshes on its own; then `build()`.
#[derive(Debug)]
pub struct ClientBuilder {
    environment: Environment,
    origins: OriginOverrides,
    access_token: Option<AccessToken>,
    token_store: Option<Arc<dyn TokenStore>>,
    credentials: Option<ClientCredentials>,
    refresh_margin: Duration,
    options: CallOptions,
}

/// The `User-Agent` the client sends: this crate and its version.
pub const USER_AGENT: &str = concat!(env!("CARGO_PKG_NAME"), "/", env!("CARGO_PKG_VERSION"));
/// Refresh this long before the access token expires.
const DEFAULT_REFRESH_MARGIN: Duration = Duration::from_secs(300);

impl ClientBuilder {
    /// A builder for `environment` with the defaults: no token,
    /// [`CallOptions::default`], refresh 5 minutes before expiry.
    pub fn new(environment: Environment) -> Self {
        Self {
            environment,
            origins: OriginOverrides::default(),
            access_token: None,
            token_store: None,
            credentials: None,
            refresh_margin: DEFAULT_REFRESH_MARGIN,
            options: CallOptions::default(),
        }
    }

    /// A fixed bearer token, never refreshed.
    pub fn access_token(mut self, token: AccessToken) -> Self {
        self.access_token = Some(token);
        self
    }

    /// Keep the tokens in `store` and refresh them on their own: before the
    /// access token expires (see `refresh_margin`) and once after a 401.
    /// Each rotated refresh token is saved to the store before it is used.
    pub fn token_store(mut self, store: Arc<dyn TokenStore>) -> Self {
        self.token_store = Some(store);
        self
    }

    /// The integration's client id and secret, which refreshing needs.
    pub fn client_credentials(
        mut self,
        client_id: impl Into<String>,
        client_secret: Secret,
    ) -> Self {
        self.credentials = Some(ClientCredentials {
            client_id: client_id.into(),
            client_secret,
        });
        self
    }

    /// Refresh this long before the access token expires (default 5 minutes).
    pub fn refresh_margin(mut self, margin: Duration) -> Self {
        self.refresh_margin = margin;
        self
    }

    /// Retries for the operations safe to repeat (default: 3 attempts);
    /// see [`CallOptions::with_retry`].
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.options = self.options.with_retry(retry);
        self
    }

    /// The whole call's time limit (default 60 s); see
    /// [`CallOptions::with_deadline`].
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.options = self.options.with_deadline(deadline);
        self
    }

    /// Every time limit and the retries at once.
    pub fn call_options(mut self, options: CallOptions) -> Self {
        self.options = options;
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
        self.origins.insert(vendor_origin, replacement)?;
        Ok(self)
    }

    /// Each attempt's time limit (default 15 s); see
    /// [`CallOptions::with_attempt_timeout`].
    pub fn attempt_timeout(mut self, attempt_timeout: Duration) -> Self {
        self.options = self.options.with_attempt_timeout(attempt_timeout);
        self
    }

    /// The client; fails on a token store without credentials, or when
    /// reqwest cannot build its HTTP client.
    pub fn build(self) -> Result<Client, BuildError> {
        let http = reqwest::Client::builder()
            .connect_timeout(self.options.attempt_timeout())
            .timeout(self.options.attempt_timeout())
            .user_agent(USER_AGENT)
            // A redirect is never followed: it would carry the request —
            // its bearer token, or the refresh token and client secret in
            // its body — to another origin, and repeat a send. It is an
            // answer like any other (`call/mod.rs` says what it means).
            .redirect(reqwest::redirect::Policy::none());
        // No secret to a proxy in clear (`routing/proxies.rs`).
        let http = proxies::apply(http, |name| std::env::var(name).ok())?.build()?;
        let destinations = Destinations::new(self.environment, self.origins);
        let refresh_margin = self.refresh_margin;
        let context = |auth| ClientContext {
            destinations: destinations.clone(),
            auth,
            options: self.options.clone(),
            client_attempt_time_limit: self.options.attempt_timeout(),
            #[cfg(not(another_document))]
            user_tokens: Default::default(),
            refresh_margin,
        };
        let base_url = self.environment.server_url();
        let auth = match (self.token_store, self.access_token) {
            // Another document than the vendor's has no refresh operation
            // this crate knows (see `build.rs`): static tokens only.
            #[cfg(another_document)]
            (Some(_), _) => return Err(BuildError::MissingCredentials),
            #[cfg(not(another_document))]
            (Some(store), _) => {
                let credentials = self.credentials.ok_or(BuildError::MissingCredentials)?;
                let refresh_endpoint = RefreshEndpoint {
                    http: http.clone(),
                    url: destinations.of(Operation::RefreshToken),
                    timeout: self.options.attempt_timeout(),
                };
                Auth::Managed(TokenManager::new(
                    store,
                    credentials,
                    self.refresh_margin,
                    Box::new(refresh_endpoint),
                    Clock::system(),
                ))
            }
            (None, Some(token)) => Auth::Static(token),
            (None, None) => Auth::None,
        };
        Ok(Client::new_with_client(base_url, http, context(auth)))
    }
}

impl Client {
    /// Starts building a client for one of the vendor's environments.
    pub fn builder(environment: Environment) -> ClientBuilder {
        ClientBuilder::new(environment)
    }

    /// The environment this client sends to.
    pub fn environment(&self) -> Environment {
        self.inner.destinations.environment()
    }

    /// This client's time limits and retries.
    pub fn options(&self) -> &CallOptions {
        &self.inner.options
    }

    /// This client with other time limits or retries, for one call or a few:
    /// `client.with_options(client.options().clone().with_deadline(d)).send_points()…`.
    /// Cheap: the connection pool and the tokens are shared.
    pub fn with_options(&self, options: CallOptions) -> Client {
        let context = ClientContext {
            options,
            ..self.inner.clone()
        };
        Client::new_with_client(&self.baseurl, self.client.clone(), context)
    }

    /// Where a call of `operation` goes from this client: the route
    /// table's URL in its environment, with the origin overrides applied.
    pub fn destination(&self, operation: Operation) -> reqwest::Url {
        self.inner.destinations.of(operation)
    }

    /// Whether a call of `operation` reaches a host where real points live:
    /// a host of a live environment ([`Environment::is_live`]) that no
    /// override sends to loopback. Cancel points reaches Production's host
    /// from every environment, as the vendor documents.
    pub fn reaches_live_host(&self, operation: Operation) -> bool {
        self.inner.destinations.reaches_live_host(operation)
    }

    /// The token manager, for a client built with a token store.
    pub fn token_manager(&self) -> Option<&TokenManager> {
        match &self.inner.auth {
            Auth::Managed(manager) => Some(manager),
            _ => None,
        }
    }

    /// A client scoped to one user, for the calls the vendor lets a user
    /// make: its user-session token is made by `createUserToken` with this
    /// (company) client, and kept fresh the way the company token is —
    /// remade before it expires (this client's refresh margin, at most half
    /// its lifetime) and after a 401 (the request is then repeated once).
    /// The vendor documents no refresh of a user token: a new one is made.
    /// User clients of this client for the same email address share one
    /// token. The first token is made here; its failure is the create
    /// call's error. Later failures to make one are
    /// [`AuthError::Transient`](crate::AuthError::Transient), and calls go
    /// on with the token held while it lasts.
    #[cfg(not(another_document))]
    pub async fn user_client(&self, user_email: &str) -> Result<Client, Error> {
        // Made with the company client, also when asked of a user client.
        let company = match &self.inner.auth {
            Auth::User(source) => source.company(),
            _ => self,
        };
        let source =
            company
                .inner
                .user_tokens
                .source(company, user_email, company.inner.refresh_margin);
        source.first().await?;
        let context = ClientContext {
            auth: Auth::User(source),
            ..self.inner.clone()
        };
        Ok(Client::new_with_client(
            &self.baseurl,
            self.client.clone(),
            context,
        ))
    }
}
