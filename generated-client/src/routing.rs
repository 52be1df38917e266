//! Where each call goes. progenitor builds every request as `base URL + spec
//! path`; the `pre` hook (`hooks.rs`) replaces that URL with the route
//! table's (`routes.rs`, generated from the document's `servers`): the
//! operation's server in the client's environment, plus the path unless the
//! path is virtual, with any origin override applied.

use reqwest::Url;

use crate::ClientContext;
use crate::origins::OriginOverrides;
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

/// Each route's URL in `environment` with the origin overrides applied,
/// parsed once when the client is built (`None` for a path with
/// parameters, which is resolved per request).
pub(crate) fn resolve_all(environment: Environment, origins: &OriginOverrides) -> Vec<Option<Url>> {
    ROUTES
        .iter()
        .map(|route| {
            let fixed = route.virtual_path || !route.spec_path.contains('{');
            let url = Url::parse(&route.url(environment)).ok().filter(|_| fixed);
            url.map(|url| origins.apply(url))
        })
        .collect()
}

/// The URL a request built by progenitor (`base_url` + rendered path + query)
/// must really go to.
pub(crate) fn real_url(
    operation: Operation,
    context: &ClientContext,
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
    // The usual case: no path parameters, no query: the URL resolved when
    // the client was built.
    if query.is_none()
        && (route.virtual_path || path == route.spec_path)
        && let Some(Some(url)) = context.resolved.get(index)
    {
        return Ok(url.clone());
    }
    let mut url = route.servers[context.environment.index()].to_owned();
    if !route.virtual_path {
        url.push_str(path);
    }
    if let Some(query) = query {
        url.push('?');
        url.push_str(query);
    }
    let url = Url::parse(&url).map_err(|error| format!("route URL `{url}` is invalid: {error}"))?;
    Ok(context.origins.apply(url))
}
