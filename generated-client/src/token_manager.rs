//! The token lifecycle, as the vendor asks for it: refresh through
//! `POST /token/company` before the access token expires, and once after a
//! 401; never many refreshes at once (the vendor may revoke tokens after "an
//! unusual number of refresh requests"); keep every rotated refresh token.
//!
//! Single flight: callers that find the token expiring queue on one async
//! lock; the first refreshes, the others find a token newer than the one they
//! saw and use it. So any number of concurrent callers cause one refresh.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tracing::Instrument;

use crate::access_token::AccessToken;
use crate::token_store::{StoredTokens, TokenStore};
use crate::types::{RefreshTokenBody, RefreshTokenBodyGrantType, TokenResponse, Unauthorized};
use crate::{EpochMillis, Secret};

/// The integration's credentials for refreshing tokens. `Debug` redacts the
/// secret.
#[derive(Clone, Debug)]
pub struct ClientCredentials {
    pub client_id: String,
    pub client_secret: Secret,
}

/// Why no usable access token could be had. The texts never hold a token.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error(
        "the refresh token expired at {expired_at} (epoch ms) and cannot be renewed: make a new \
         one in the Xoxoday dashboard and put it in the token store"
    )]
    RefreshTokenExpired { expired_at: EpochMillis },
    #[error(
        "the vendor refused the refresh token (HTTP {status}{}): if it expired or was revoked, \
         make a new one in the Xoxoday dashboard and put it in the token store",
        message.as_deref().map(|m| format!(", {m:?}")).unwrap_or_default()
    )]
    RefreshRejected {
        status: u16,
        message: Option<String>,
    },
    #[error("could not refresh the access token: {0}")]
    RefreshFailed(String),
    #[error("the refresh response has no {0}; nothing was changed")]
    IncompleteRefresh(&'static str),
    #[error("the rotated tokens could not be saved, so they were not used: {0}")]
    Store(String),
    #[error(
        "the token store holds no tokens: save the tokens made in the Xoxoday dashboard to it first"
    )]
    EmptyStore,
}

/// Holds the tokens, refreshes them, and saves every rotation to the store.
/// Cheap to clone; clones share the tokens.
#[derive(Clone)]
pub struct TokenManager {
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    /// Held while refreshing: the single flight.
    refreshing: tokio::sync::Mutex<()>,
    store: Arc<dyn TokenStore>,
    credentials: ClientCredentials,
    margin: Duration,
    refresh_endpoint: RefreshEndpoint,
}

struct State {
    tokens: StoredTokens,
    /// Rotated tokens the store has not accepted yet: not used until it has.
    unsaved: bool,
}

impl fmt::Debug for TokenManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state();
        f.debug_struct("TokenManager")
            .field("access_token_expiry", &state.tokens.access_token_expiry)
            .field("refresh_token_expiry", &state.tokens.refresh_token_expiry)
            .field("store", &self.shared.store)
            .field("client_id", &self.shared.credentials.client_id)
            .field("margin", &self.shared.margin)
            .finish_non_exhaustive()
    }
}

pub(crate) fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis() as u64)
        .unwrap_or(0)
}

impl TokenManager {
    /// Loads the tokens from `store`; they must be there already.
    pub(crate) fn new(
        store: Arc<dyn TokenStore>,
        credentials: ClientCredentials,
        margin: Duration,
        refresh_endpoint: RefreshEndpoint,
    ) -> Result<Self, AuthError> {
        let tokens = store
            .load()
            .map_err(|error| AuthError::Store(error.to_string()))?
            .ok_or(AuthError::EmptyStore)?;
        Ok(Self {
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    tokens,
                    unsaved: false,
                }),
                refreshing: tokio::sync::Mutex::new(()),
                store,
                credentials,
                margin,
                refresh_endpoint,
            }),
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.shared.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The tokens as they are now (tokens redacted in `Debug`).
    pub fn tokens(&self) -> StoredTokens {
        self.state().tokens.clone()
    }

    fn usable(&self, state: &State) -> bool {
        let margin = self.shared.margin.as_millis() as u64;
        !state.unsaved
            && now_millis().saturating_add(margin) < state.tokens.access_token_expiry.as_millis()
    }

    /// An access token that is not about to expire, refreshing first if
    /// needed.
    pub(crate) async fn access_token(&self) -> Result<AccessToken, AuthError> {
        let seen = {
            let state = self.state();
            if self.usable(&state) {
                return Ok(AccessToken::from_secret(&state.tokens.access_token));
            }
            state.tokens.access_token.clone()
        };
        self.refresh(&seen, false).await
    }

    /// After the vendor answered 401 to `rejected`: refresh, unless another
    /// caller already has, and return the token to repeat the request with.
    pub(crate) async fn after_rejection(
        &self,
        rejected: &Secret,
    ) -> Result<AccessToken, AuthError> {
        self.refresh(rejected, true).await
    }

    async fn refresh(&self, seen: &Secret, force: bool) -> Result<AccessToken, AuthError> {
        let _flight = self.shared.refreshing.lock().await;
        {
            let mut state = self.state();
            let replaced = state.tokens.access_token != *seen;
            if self.usable(&state) && (replaced || !force) {
                return Ok(AccessToken::from_secret(&state.tokens.access_token));
            }
            if state.unsaved {
                // An earlier rotation is only in memory: save it before use.
                self.shared
                    .store
                    .save(&state.tokens)
                    .map_err(|error| AuthError::Store(error.to_string()))?;
                state.unsaved = false;
                if self.usable(&state) && (replaced || !force) {
                    return Ok(AccessToken::from_secret(&state.tokens.access_token));
                }
            }
            if let Some(expired_at) = state.tokens.refresh_token_expiry
                && now_millis() >= expired_at.as_millis()
            {
                tracing::error!("refresh token expired; a new one must be made in the dashboard");
                return Err(AuthError::RefreshTokenExpired { expired_at });
            }
        }
        let refresh_token = self.state().tokens.refresh_token.clone();
        let rotated = self.call_refresh(refresh_token).await?;

        let mut state = self.state();
        state.tokens = rotated;
        if let Err(error) = self.shared.store.save(&state.tokens) {
            // The old refresh token is already invalid: keep the new one in
            // memory, unused, and try the store again on the next call.
            state.unsaved = true;
            tracing::error!(%error, "rotated tokens could not be saved");
            return Err(AuthError::Store(error.to_string()));
        }
        tracing::info!(
            access_token_expiry = %state.tokens.access_token_expiry,
            "access token refreshed"
        );
        Ok(AccessToken::from_secret(&state.tokens.access_token))
    }

    async fn call_refresh(&self, refresh_token: Secret) -> Result<StoredTokens, AuthError> {
        let body = RefreshTokenBody {
            client_id: self.shared.credentials.client_id.clone(),
            client_secret: self.shared.credentials.client_secret.clone(),
            grant_type: RefreshTokenBodyGrantType::RefreshToken,
            refresh_token,
        };
        let sent_at = now_millis();
        let response = self.shared.refresh_endpoint.send(&body).await?;
        let access_token = response
            .access_token
            .ok_or(AuthError::IncompleteRefresh("access_token"))?;
        let refresh_token = response
            .refresh_token
            .ok_or(AuthError::IncompleteRefresh("refresh_token"))?;
        let access_token_expiry = match (response.access_token_expiry, response.expires_in) {
            (Some(expiry), _) => expiry,
            (None, Some(seconds)) if seconds > 0 => {
                EpochMillis(sent_at.saturating_add(seconds as u64 * 1000))
            }
            _ => {
                return Err(AuthError::IncompleteRefresh(
                    "access_token_expiry or expires_in",
                ));
            }
        };
        Ok(StoredTokens {
            access_token,
            access_token_expiry,
            refresh_token,
            refresh_token_expiry: response.refresh_token_expiry,
        })
    }
}

/// `POST /token/company`, sent without the generated client's hooks: those
/// hooks call this manager, and a call that could call itself would make
/// every request future non-`Send`. The URL still comes from the route table
/// and the body and answer are the generated types.
pub(crate) struct RefreshEndpoint {
    pub(crate) http: reqwest::Client,
    pub(crate) url: reqwest::Url,
}

impl RefreshEndpoint {
    async fn send(&self, body: &RefreshTokenBody) -> Result<TokenResponse, AuthError> {
        let span = tracing::info_span!(
            "xoxoday_reward_points.refresh",
            status = tracing::field::Empty
        );
        let response = self
            .http
            .post(self.url.clone())
            .json(body)
            .send()
            .instrument(span.clone())
            .await
            // reqwest's error text names the URL, never the body.
            .map_err(|error| AuthError::RefreshFailed(error.to_string()))?;
        let status = response.status();
        span.record("status", status.as_u16());
        let bytes = response.bytes().await.map_err(|error| {
            AuthError::RefreshFailed(format!("cannot read the answer: {error}"))
        })?;
        if status.is_success() {
            // Name the place of a decoding error, never the content: it may
            // hold a token.
            return serde_json::from_slice(&bytes).map_err(|error| {
                AuthError::RefreshFailed(format!(
                    "the answer is not the expected JSON (line {}, column {})",
                    error.line(),
                    error.column()
                ))
            });
        }
        if status.is_client_error() {
            let message = serde_json::from_slice::<Unauthorized>(&bytes)
                .ok()
                .and_then(|body| body.error);
            return Err(AuthError::RefreshRejected {
                status: status.as_u16(),
                message,
            });
        }
        Err(AuthError::RefreshFailed(format!(
            "unexpected HTTP {status}"
        )))
    }
}
