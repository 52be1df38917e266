//! Which calls go through a proxy the environment names, and how: never a
//! secret to a proxy in clear.
//!
//! - An HTTPS origin goes through `HTTPS_PROXY` (or `https_proxy`, else
//!   `ALL_PROXY` / `all_proxy`) as a tunnel (`CONNECT host:443`): the proxy
//!   relays TLS it cannot read.
//! - A plain `http://` origin never goes through a proxy: the proxy would
//!   read the request, `Authorization` header, refresh token and client
//!   secret included. (Origin overrides accept plain http only on loopback:
//!   a local TLS sidecar, a stand-in.)
//! - Loopback origins, and the hosts `NO_PROXY` (or `no_proxy`) names, go
//!   straight to their host.
//!
//! `HTTP_PROXY` is never read. reqwest's own reading of the environment
//! (which sends plain http to `HTTP_PROXY`) is turned off.

/// The variables that name the proxy for HTTPS, in the order asked.
const HTTPS_PROXY_VARIABLES: [&str; 4] = ["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"];

/// Hosts never reached through a proxy, whatever `NO_PROXY` says.
const LOOPBACK: &str = "localhost,127.0.0.0/8,::1";

/// `builder` with the proxy policy of the module's documentation, the
/// environment read through `variable`.
pub(crate) fn apply(
    builder: reqwest::ClientBuilder,
    variable: impl Fn(&str) -> Option<String>,
) -> Result<reqwest::ClientBuilder, reqwest::Error> {
    let builder = builder.no_proxy();
    let Some(proxy) = HTTPS_PROXY_VARIABLES
        .iter()
        .find_map(|name| variable(name).filter(|value| !value.trim().is_empty()))
    else {
        return Ok(builder);
    };
    let bypass = match variable("NO_PROXY").or_else(|| variable("no_proxy")) {
        Some(listed) if !listed.trim().is_empty() => format!("{LOOPBACK},{listed}"),
        _ => LOOPBACK.to_owned(),
    };
    let proxy =
        reqwest::Proxy::https(proxy.trim())?.no_proxy(reqwest::NoProxy::from_string(&bypass));
    Ok(builder.proxy(proxy))
}
