//! Origin overrides: send a vendor host to another origin (a local test
//! server, a proxy), keeping the path. Plain `http://` is accepted only for
//! loopback addresses.

use std::collections::BTreeMap;
use std::net::IpAddr;

use reqwest::Url;

use crate::routes::{Environment, ROUTES};

/// Why an origin override was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OriginError {
    /// The text given is not `scheme://host[:port]`.
    #[error("`{0}` is not an origin (scheme://host[:port], no path, query or credentials)")]
    NotAnOrigin(String),
    /// The origin to replace is none of the vendor's.
    #[error("`{from}` is not a host of the Reward Points API; known: {known}")]
    UnknownVendorOrigin {
        /// The origin given.
        from: String,
        /// The vendor's origins, comma-separated.
        known: String,
    },
    /// A replacement over plain `http://` that is not loopback.
    #[error(
        "`{0}` uses plain http:// on a host that is not loopback; \
         use https://, or http:// only with 127.0.0.0/8, [::1] or localhost"
    )]
    PlainHttpNotLoopback(String),
}

/// Vendor origin → replacement origin, both as `scheme://host[:port]`.
#[derive(Clone, Debug, Default)]
pub struct OriginOverrides {
    map: BTreeMap<String, Url>,
}

impl OriginOverrides {
    /// Sends every call bound for `vendor_origin` (such as
    /// `https://accounts.xoxoday.com`) to `replacement` (such as
    /// `http://127.0.0.1:8080`), path kept.
    pub fn insert(&mut self, vendor_origin: &str, replacement: &str) -> Result<(), OriginError> {
        let from = parse_origin(vendor_origin)?;
        let from = from.origin().ascii_serialization();
        let known = vendor_origins();
        if !known.contains(&from) {
            return Err(OriginError::UnknownVendorOrigin {
                from,
                known: known.join(", "),
            });
        }
        let to = parse_origin(replacement)?;
        if to.scheme() == "http" && !is_loopback(&to) {
            return Err(OriginError::PlainHttpNotLoopback(replacement.to_owned()));
        }
        self.map.insert(from, to);
        Ok(())
    }

    /// `url` with its origin replaced, when an override names that origin.
    pub(crate) fn apply(&self, mut url: Url) -> Url {
        if let Some(to) = self.map.get(&url.origin().ascii_serialization()) {
            // Both URLs parsed as http(s) origins: these setters cannot fail.
            let _ = url.set_scheme(to.scheme());
            let _ = url.set_host(to.host_str());
            let _ = url.set_port(to.port());
        }
        url
    }
}

fn parse_origin(text: &str) -> Result<Url, OriginError> {
    let not_origin = || OriginError::NotAnOrigin(text.to_owned());
    let url = Url::parse(text).map_err(|_| not_origin())?;
    let bare = matches!(url.scheme(), "http" | "https")
        && url.host().is_some()
        && url.username().is_empty()
        && url.password().is_none()
        && url.path() == "/"
        && url.query().is_none()
        && url.fragment().is_none();
    if bare { Ok(url) } else { Err(not_origin()) }
}

/// Whether `url`'s host is loopback (127.0.0.0/8, `[::1]`, `localhost`).
pub(crate) fn is_loopback(url: &Url) -> bool {
    let host = url.host_str().unwrap_or_default();
    let ip = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost") || ip.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Every origin the route table and the environments send to.
fn vendor_origins() -> Vec<String> {
    let urls = Environment::ALL
        .iter()
        .map(|environment| environment.server_url())
        .chain(
            ROUTES
                .iter()
                .flat_map(|route| route.servers.iter().copied()),
        );
    let mut origins: Vec<String> = urls
        .filter_map(|url| Url::parse(url).ok())
        .map(|url| url.origin().ascii_serialization())
        .collect();
    origins.sort();
    origins.dedup();
    origins
}

#[cfg(test)]
mod tests {
    use super::{OriginError, OriginOverrides};

    #[test]
    fn loopback_http_replaces_the_origin_and_keeps_the_path() {
        let mut overrides = OriginOverrides::default();
        overrides
            .insert("https://accounts.xoxoday.com", "http://127.0.0.1:8080")
            .unwrap();
        overrides
            .insert("https://canvas.xoxoday.com/", "http://[::1]:9000")
            .unwrap();
        let moved = |url: &str| overrides.apply(url.parse().unwrap()).to_string();

        assert_eq!(
            moved("https://accounts.xoxoday.com/chef/v1/oauth/api"),
            "http://127.0.0.1:8080/chef/v1/oauth/api"
        );
        assert_eq!(
            moved("https://canvas.xoxoday.com/chef/v1/oauth/token?x=1"),
            "http://[::1]:9000/chef/v1/oauth/token?x=1"
        );
        assert_eq!(
            moved("https://stagingstores.xoxoday.com/chef/v1/oauth/api"),
            "https://stagingstores.xoxoday.com/chef/v1/oauth/api"
        );
    }

    #[test]
    fn refuses_plain_http_off_loopback_unknown_hosts_and_non_origins() {
        let mut overrides = OriginOverrides::default();
        let refuse = |overrides: &mut OriginOverrides, from: &str, to: &str| {
            overrides.insert(from, to).unwrap_err().to_string()
        };

        assert_eq!(
            refuse(
                &mut overrides,
                "https://accounts.xoxoday.com",
                "http://10.0.0.5:8080"
            ),
            "`http://10.0.0.5:8080` uses plain http:// on a host that is not loopback; \
             use https://, or http:// only with 127.0.0.0/8, [::1] or localhost"
        );
        assert_eq!(
            refuse(&mut overrides, "https://example.com", "http://127.0.0.1:1"),
            "`https://example.com` is not a host of the Reward Points API; known: \
             https://accounts.xoxoday.com, https://canvas.xoxoday.com, \
             https://stagingstores.xoxoday.com"
        );
        assert_eq!(
            refuse(
                &mut overrides,
                "https://accounts.xoxoday.com",
                "http://127.0.0.1:1/api"
            ),
            "`http://127.0.0.1:1/api` is not an origin (scheme://host[:port], no path, query or \
             credentials)"
        );
        assert!(matches!(
            overrides.insert(
                "https://accounts.xoxoday.com",
                "https://proxy.internal.example"
            ),
            Ok(())
        ));
        assert!(matches!(
            overrides.insert("https://accounts.xoxoday.com", "http://localhost:3000"),
            Ok(())
        ));
        assert!(matches!(
            overrides.insert("ftp://accounts.xoxoday.com", "http://localhost:3000"),
            Err(OriginError::NotAnOrigin(_))
        ));
    }
}
