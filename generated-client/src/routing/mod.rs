//! Where each call goes. progenitor builds every request as `base URL + spec
//! path`; the call's first step (`call/steps.rs`) replaces that URL with the
//! route table's (`routes`, generated from the document's `servers`): the
//! operation's server in the client's environment, plus the path unless the
//! path is virtual, with any origin override applied ([`Destinations`]).

pub(crate) mod environment;
pub(crate) mod origins;
pub(crate) mod proxies;

use std::sync::Arc;

use reqwest::Url;

use self::origins::OriginOverrides;
use crate::routes::{Environment, Operation, ROUTES};

/// The credential an operation is sent with, from the document's `security`
/// (regen refuses a document that asks for one the client cannot send).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Credential {
    /// Nothing: the document asks for no credential.
    None,
    /// `Authorization: Bearer <access token>`.
    BearerToken,
}

/// Where one operation goes. `N` is the number of environments.
#[derive(Debug)]
pub struct Route<const N: usize> {
    /// The operation this route belongs to.
    pub operation: Operation,
    /// The HTTP method, such as `POST`.
    pub http_method: &'static str,
    /// The path as the document writes it.
    pub spec_path: &'static str,
    /// A virtual path is not sent: the call goes to the server URL itself.
    pub virtual_path: bool,
    /// The credential the document asks for.
    pub credential: Credential,
    /// Safe to repeat, so retried on connection errors, timeouts, 429 and
    /// 5xx: GETs and operations the overlay marks `x-idempotent`.
    pub idempotent: bool,
    /// The server URL in each environment, in `Environment::ALL` order.
    pub servers: [&'static str; N],
    /// The body's fields that hold one value for this operation, each with
    /// that value as JSON text (`("query", "\"storesAdmin.query.user_balance\"")`):
    /// what tells apart the operations sent to one URL.
    pub body_constants: &'static [(&'static str, &'static str)],
}

impl<const N: usize> Route<N> {
    /// The real URL in `environment`, as the vendor's pages print it.
    pub fn url(&self, environment: Environment) -> String {
        let server = self.servers[environment.index()];
        if self.virtual_path {
            server.to_owned()
        } else {
            format!("{server}{}", self.spec_path)
        }
    }
}

/// Where each operation goes from one client: its environment, the origin
/// overrides, and each route's URL, resolved once when the client is built.
#[derive(Clone, Debug)]
pub(crate) struct Destinations {
    environment: Environment,
    origins: OriginOverrides,
    /// Each route's URL with the overrides applied (`None` for a path with
    /// parameters, which is resolved per request).
    resolved: Arc<Vec<Option<Url>>>,
}

impl Destinations {
    pub(crate) fn new(environment: Environment, origins: OriginOverrides) -> Self {
        let resolved = ROUTES
            .iter()
            .map(|route| {
                let fixed = route.virtual_path || !route.spec_path.contains('{');
                let url = Url::parse(&route.url(environment)).ok().filter(|_| fixed);
                url.map(|url| origins.apply(url))
            })
            .collect();
        Self {
            environment,
            origins,
            resolved: Arc::new(resolved),
        }
    }

    /// The environment the client sends to.
    pub(crate) fn environment(&self) -> Environment {
        self.environment
    }

    /// Where a call of `operation` goes: the route table's URL in the
    /// environment, with the origin overrides applied.
    pub(crate) fn of(&self, operation: Operation) -> Url {
        let url = Url::parse(&operation.route().url(self.environment))
            .expect("route URLs are checked by regen");
        self.origins.apply(url)
    }

    /// Whether a call of `operation` reaches a host where real points live:
    /// a host of a live environment that no override sends to loopback.
    pub(crate) fn reaches_live_host(&self, operation: Operation) -> bool {
        let Ok(vendor) = Url::parse(&operation.route().url(self.environment)) else {
            return true;
        };
        let live = live_origins().contains(&vendor.origin().ascii_serialization());
        live && !origins::is_loopback(&self.of(operation))
    }

    /// The URL a request built by progenitor (`base_url` + rendered path +
    /// query) must really go to.
    pub(crate) fn real_url(
        &self,
        operation: Operation,
        base_url: &str,
        built: &Url,
    ) -> Result<Url, String> {
        let route = operation.route();
        let index = operation as usize;
        let rendered = built
            .as_str()
            .strip_prefix(base_url)
            .ok_or_else(|| format!("request URL does not start with the base URL `{base_url}`"))?;
        let (path, query) = match rendered.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (rendered, None),
        };
        // The usual case: no path parameters, no query: the URL resolved
        // when the client was built.
        if query.is_none()
            && (route.virtual_path || path == route.spec_path)
            && let Some(Some(url)) = self.resolved.get(index)
        {
            return Ok(url.clone());
        }
        let mut url = route.servers[self.environment.index()].to_owned();
        if !route.virtual_path {
            url.push_str(path);
        }
        if let Some(query) = query {
            url.push('?');
            url.push_str(query);
        }
        let url =
            Url::parse(&url).map_err(|error| format!("route URL `{url}` is invalid: {error}"))?;
        Ok(self.origins.apply(url))
    }
}

/// The origins of every route in every live environment.
fn live_origins() -> Vec<String> {
    Environment::ALL
        .into_iter()
        .filter(|environment| environment.is_live())
        .flat_map(|environment| {
            ROUTES
                .iter()
                .filter_map(move |route| Url::parse(&route.url(environment)).ok())
        })
        .map(|url| url.origin().ascii_serialization())
        .collect()
}
