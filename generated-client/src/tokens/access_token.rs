//! `AccessToken`: a bearer token that never prints itself.

use std::fmt;

use reqwest::header::HeaderValue;

use crate::Secret;

/// A Xoxoday access token. `Debug` and `Display` print `AccessToken(<redacted>)`,
/// and the `Authorization` header made from it is marked sensitive.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken {
    /// `Authorization: Bearer …`, built once: `None` when the token holds
    /// characters a header cannot carry.
    header: Option<HeaderValue>,
}

impl AccessToken {
    /// A token as the dashboard or a refresh gave it (without `Bearer `).
    pub fn new(token: impl Into<String>) -> Self {
        let header = HeaderValue::from_str(&format!("Bearer {}", token.into()))
            .ok()
            .map(|mut value| {
                value.set_sensitive(true);
                value
            });
        Self { header }
    }

    pub(crate) fn from_secret(secret: &Secret) -> Self {
        Self::new(secret.expose_secret())
    }

    /// The token a request carried, read back from its `Authorization` header.
    pub(crate) fn sent_in(header: &HeaderValue) -> Option<Secret> {
        let value = header.to_str().ok()?;
        value.strip_prefix("Bearer ").map(Secret::new)
    }

    /// The `Authorization: Bearer …` header value, marked sensitive so that
    /// reqwest and `http` never print it. `None` when the token holds
    /// characters a header cannot carry.
    pub(crate) fn bearer_header(&self) -> Option<HeaderValue> {
        self.header.clone()
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessToken(<redacted>)")
    }
}

impl fmt::Display for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessToken(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::AccessToken;

    #[test]
    fn never_prints_the_token() {
        let token = AccessToken::new("eyJ.secret-access-token");
        for shown in [
            format!("{token:?}"),
            format!("{token}"),
            format!("{:?}", token.bearer_header()),
        ] {
            assert!(!shown.contains("secret-access-token"), "{shown}");
        }
        assert_eq!(format!("{token:?}"), "AccessToken(<redacted>)");
    }
}
