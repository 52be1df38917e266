//! What a client carries for its calls besides progenitor's own fields: the
//! generated `Client`'s `inner` value.

#[cfg(not(another_document))]
use std::sync::Arc;
use std::time::Duration;

use crate::call::options::CallOptions;
use crate::routing::Destinations;
use crate::tokens::access_token::AccessToken;
use crate::tokens::manager::TokenManager;
#[cfg(not(another_document))]
use crate::tokens::user_tokens::{UserTokenRegistry, UserTokens};

/// Everything a call needs besides progenitor's own fields; the generated
/// `Client` carries it as its `inner` value. `Debug` shows no secret.
#[derive(Clone, Debug)]
pub struct ClientContext {
    /// Where each operation goes.
    pub(crate) destinations: Destinations,
    pub(crate) auth: Auth,
    pub(crate) options: CallOptions,
    /// The user-token sources of this client's user clients, by email.
    #[cfg(not(another_document))]
    pub(crate) user_tokens: UserTokenRegistry,
    /// How long before expiry a token is renewed.
    pub(crate) refresh_margin: Duration,
    /// The attempt time limit the reqwest client was built with (and keeps
    /// when `Client::with_options` changes `options`).
    pub(crate) client_attempt_time_limit: Duration,
}

/// How a client authenticates.
#[derive(Clone, Debug)]
pub(crate) enum Auth {
    None,
    Static(AccessToken),
    Managed(TokenManager),
    /// A user client's token, renewed with the company client.
    #[cfg(not(another_document))]
    User(Arc<UserTokens>),
}
