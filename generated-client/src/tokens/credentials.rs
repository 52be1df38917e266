//! The integration's credentials for refreshing tokens.

use crate::Secret;

/// The integration's credentials for refreshing tokens. `Debug` redacts the
/// secret.
#[derive(Clone, Debug)]
pub struct ClientCredentials {
    /// The integration's client id, from the Xoxoday dashboard.
    pub client_id: String,
    /// The integration's client secret.
    pub client_secret: Secret,
}

impl ClientCredentials {
    /// A fingerprint of the credentials (not the credentials: the first 16
    /// hex digits of a SHA-256 of them), recorded with a refusal so that a
    /// process with other credentials does not take it for its own.
    pub(crate) fn fingerprint(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut hasher = Sha256::new();
        hasher.update(self.client_id.as_bytes());
        hasher.update([0]);
        hasher.update(self.client_secret.expose_secret().as_bytes());
        hasher.finalize()[..8]
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect()
    }
}
