//! User-scoped tokens ([`Client::user_client`](crate::Client::user_client)):
//! a token made by create user token with the company client, kept fresh the
//! way the company token is. Before it expires (the client's refresh margin,
//! at most half its lifetime) and after a 401, a new one is made with the
//! company client (whose own token the token manager keeps fresh), one
//! creation at a time, and the request is repeated once. The vendor
//! documents no refresh of a user token, so none is tried.
//!
//! All user clients of one company client for the same email address share
//! one [`UserTokens`] (the company client's [`UserTokenRegistry`]), so they
//! hold one token between them. Whether making a new user token ends the
//! previous one is not documented; either way no call fails for it: a 401
//! to a token older than the one held is repeated with the one held, and a
//! 401 to the one held makes one new token and repeats the call with it. A
//! new token refused before any call was accepted with it is not replaced
//! again until a pause has passed (doubling, as failed creations are): a
//! vendor refusing every user token of this email gets one creation per
//! pause, not a storm, and never a repeat with the refused token. A 401 to
//! the company token while making one goes to the token manager, as any
//! company call's would.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::AUTHORIZATION;
use serde_json::Value;
use tokio::time::Instant;

use crate::backoff::{BackingOff, Backoff};

use crate::call::context::Auth;
use crate::reading::DecodeProblem;
use crate::reading::limit;
use crate::reading::vendor_text::vendor_message;
use crate::tokens::access_token::AccessToken;
use crate::tokens::auth_error::{AuthError, TransientAuth};
use crate::types::{CreateUserTokenBody, TokenResponse};
use crate::{Client, EpochMillis, Operation, Secret};

/// After a creation that failed: pauses before the next, doubling.
const FAILED_CREATION: Backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(300));

/// The user-token sources of one company client, by email address: user
/// clients for the same address share one. Held weakly: a source lives as
/// long as a user client that uses it.
#[derive(Clone, Default)]
pub(crate) struct UserTokenRegistry {
    sources: Arc<Mutex<HashMap<String, Weak<UserTokens>>>>,
}

impl fmt::Debug for UserTokenRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let users = self.sources.lock().map(|map| map.len()).unwrap_or(0);
        f.debug_struct("UserTokenRegistry")
            .field("users", &users)
            .finish()
    }
}

impl UserTokenRegistry {
    /// The source for `email`, made with `company` when there is none yet.
    pub(crate) fn source(
        &self,
        company: &Client,
        email: &str,
        margin: Duration,
    ) -> Arc<UserTokens> {
        let mut sources = self.sources.lock().unwrap_or_else(|e| e.into_inner());
        sources.retain(|_, source| source.strong_count() > 0);
        if let Some(source) = sources.get(email).and_then(Weak::upgrade) {
            return source;
        }
        let source = Arc::new(UserTokens {
            company: company.clone(),
            email: email.to_owned(),
            margin,
            state: tokio::sync::Mutex::new(State::default()),
            unproven: AtomicBool::new(false),
        });
        sources.insert(email.to_owned(), Arc::downgrade(&source));
        source
    }
}

/// The user token of one email address, made and remade with the company
/// client.
pub(crate) struct UserTokens {
    company: Client,
    email: String,
    margin: Duration,
    /// Held across a creation: one creation at a time, and every caller
    /// waiting takes the token it made.
    state: tokio::sync::Mutex<State>,
    /// The token held was made after a 401 and no call has been accepted
    /// with it yet.
    unproven: AtomicBool,
}

impl fmt::Debug for UserTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserTokens")
            .field("email", &self.email)
            .finish_non_exhaustive()
    }
}

#[derive(Default)]
struct State {
    held: Option<Held>,
    /// Creations that failed in a row, and when the next may be tried.
    failures: BackingOff,
    /// New tokens refused in a row before one was accepted: a 401 to the
    /// newest stands until this pause has passed, then one more is made.
    refusals: BackingOff,
}

struct Held {
    token: Secret,
    bearer: AccessToken,
    made_at: EpochMillis,
    expiry: Option<EpochMillis>,
}

impl Held {
    fn expired(&self) -> bool {
        self.expiry
            .is_some_and(|expiry| EpochMillis::now().as_millis() >= expiry.as_millis())
    }

    /// Not due for renewal: not expiring within the margin (at most half
    /// its lifetime), or of unknown expiry.
    fn usable(&self, margin: Duration) -> bool {
        let Some(expiry) = self.expiry.map(EpochMillis::as_millis) else {
            return true;
        };
        let lifetime = expiry.saturating_sub(self.made_at.as_millis());
        let margin = u64::try_from(margin.as_millis())
            .unwrap_or(u64::MAX)
            .min(lifetime / 2);
        EpochMillis::now().as_millis().saturating_add(margin) < expiry
    }
}

impl UserTokens {
    /// The company client the user tokens are made with.
    pub(crate) fn company(&self) -> &Client {
        &self.company
    }

    /// A user token that is not about to expire, made first when needed.
    pub(crate) async fn access_token(&self) -> Result<AccessToken, AuthError> {
        let mut state = self.state.lock().await;
        if let Some(held) = &state.held
            && held.usable(self.margin)
        {
            return Ok(held.bearer.clone());
        }
        self.renew(&mut state).await
    }

    /// After a 401 to `rejected`: the token held when it is another (made
    /// since), else a new one. `None` when the 401 stands: the token held
    /// was itself made after a 401 and not accepted yet, and the pause after
    /// such refusals (doubling) has not passed. Never the refused token.
    pub(crate) async fn after_rejection(
        &self,
        rejected: Secret,
    ) -> Result<Option<AccessToken>, AuthError> {
        let mut state = self.state.lock().await;
        let now = Instant::now();
        if let Some(held) = &state.held
            && held.token != rejected
            && !held.expired()
        {
            return Ok(Some(held.bearer.clone()));
        }
        if self.unproven.load(Ordering::Relaxed) {
            if state.refusals.remaining(now).is_some() {
                return Ok(None);
            }
            state.refusals.arm(now, FAILED_CREATION);
        } else {
            state.refusals.reset();
        }
        let token = self.create_now(&mut state, now).await?;
        self.unproven.store(true, Ordering::Relaxed);
        Ok(Some(token))
    }

    /// A call with the user token was answered otherwise than 401.
    pub(crate) fn note_accepted(&self) {
        self.unproven.store(false, Ordering::Relaxed);
    }

    /// Makes a new user token with the company client, unless a creation
    /// failed recently; keeps the token held (while it lasts) when one
    /// fails.
    async fn renew(&self, state: &mut State) -> Result<AccessToken, AuthError> {
        let fallback = |state: &State, error: AuthError| match &state.held {
            Some(held) if !held.expired() => Ok(held.bearer.clone()),
            _ => Err(error),
        };
        match self.create_now(state, Instant::now()).await {
            Ok(token) => Ok(token),
            Err(error) if error.needs_person() => Err(error),
            Err(error) => fallback(state, error),
        }
    }

    /// Makes a new user token now, unless a creation failed recently: the
    /// new token is held from then on.
    async fn create_now(&self, state: &mut State, now: Instant) -> Result<AccessToken, AuthError> {
        if let Some(retry_in) = state.failures.remaining(now) {
            return Err(TransientAuth::BackingOff { retry_in }.into());
        }
        match self.create_unhooked().await {
            Ok(held) => {
                let bearer = held.bearer.clone();
                state.held = Some(held);
                state.failures.reset();
                tracing::debug!("made a new user token");
                Ok(bearer)
            }
            Err(error) => {
                state.failures.arm(now, FAILED_CREATION);
                tracing::warn!(%error, "could not make a new user token");
                Err(error)
            }
        }
    }

    /// One create user token call through the company client's `send()`:
    /// the first token, whose failure is the call's own error.
    async fn create(&self) -> Result<Held, crate::Error> {
        let asked_at = EpochMillis::now();
        let answer = self
            .company
            .create_user_token()
            .body(CreateUserTokenBody::user_session(self.email.as_str()))
            .send()
            .await?
            .into_inner();
        held(answer, asked_at).ok_or(crate::Error::IncompleteAnswer {
            operation: Operation::CreateUserToken,
            missing: "access_token",
        })
    }

    /// One create user token call made while a call gets its token: sent
    /// without the generated client's hooks (those would call this again,
    /// and a future that contains itself is neither `Send` nor finite), as
    /// the token manager's refresh is. The URL comes from the route table,
    /// the body is the generated type, the company token from the company
    /// client (its token manager refreshes it as needed). What failed, in
    /// words without a token.
    async fn create_unhooked(&self) -> Result<Held, AuthError> {
        let company = &self.company.inner;
        let unavailable =
            |reason: String| AuthError::from(TransientAuth::RefreshUnavailable { reason });
        let manager = match &company.auth {
            Auth::Managed(manager) => Some(manager),
            _ => None,
        };
        let mut token = match &company.auth {
            Auth::Static(token) => token.clone(),
            Auth::Managed(manager) => manager.access_token().await?,
            Auth::None | Auth::User(_) => {
                return Err(unavailable(
                    "the company client has no company token".into(),
                ));
            }
        };
        // At most twice: again once after the company token's 401, with
        // the token the manager gives then (another process may have
        // rotated it).
        for attempt in 0..2 {
            let header = token.bearer_header().ok_or_else(|| {
                unavailable("the company token holds characters an HTTP header cannot carry".into())
            })?;
            let asked_at = EpochMillis::now();
            let response = self
                .company
                .client
                .post(company.destinations.of(Operation::CreateUserToken))
                .timeout(company.options.attempt_timeout())
                .header(AUTHORIZATION, header.clone())
                .json(&CreateUserTokenBody::user_session(self.email.as_str()))
                .send()
                .await
                // reqwest's text names the URL, never a header or the body.
                .map_err(|error| unavailable(error.to_string()))?;
            let status = response.status();
            let bytes = limit::bounded(response)
                .bytes()
                .await
                .map_err(|error| unavailable(format!("cannot read the answer: {error}")))?;
            if status == StatusCode::UNAUTHORIZED
                && attempt == 0
                && let (Some(manager), Some(sent)) = (manager, AccessToken::sent_in(&header))
                && let Some(fresh) = manager.after_rejection(sent).await?
            {
                token = fresh;
                continue;
            }
            if !status.is_success() {
                let message = serde_json::from_slice::<Value>(&bytes)
                    .ok()
                    .and_then(|body| vendor_message(&body, &[token_text(&token)]));
                return Err(unavailable(match message {
                    Some(message) => format!("create user token: HTTP {status}: {message}"),
                    None => format!("create user token: HTTP {status}"),
                }));
            }
            let answer: TokenResponse = serde_json::from_slice(&bytes).map_err(|error| {
                unavailable(format!("the answer is {}", DecodeProblem::of(&error)))
            })?;
            return held(answer, asked_at)
                .ok_or_else(|| unavailable("the answer had no access_token".into()));
        }
        Err(unavailable("the company token was refused twice".into()))
    }

    /// The first token, made when the user client is: its failure is the
    /// create call's own error.
    pub(crate) async fn first(&self) -> Result<(), crate::Error> {
        let mut state = self.state.lock().await;
        if state
            .held
            .as_ref()
            .is_some_and(|held| held.usable(self.margin))
        {
            return Ok(());
        }
        state.held = Some(self.create().await?);
        state.failures.reset();
        Ok(())
    }
}

/// The token a create user token answer carries, with its expiry.
fn held(answer: TokenResponse, asked_at: EpochMillis) -> Option<Held> {
    let token = answer.access_token?;
    // `as` saturates: an absurd `expires_in` is a far expiry.
    let expires_in = answer.expires_in.map(|seconds| seconds as f64);
    Some(Held {
        bearer: AccessToken::from_secret(&token),
        token,
        made_at: asked_at,
        // An expiry at or before the asking (seconds for milliseconds, a
        // clock far off) says nothing usable: as if none were given.
        expiry: EpochMillis::token_expiry(asked_at, answer.access_token_expiry, expires_in)
            .filter(|expiry| expiry.as_millis() > asked_at.as_millis()),
    })
}

/// The company token's text, to scrub from what the vendor echoes.
fn token_text(token: &AccessToken) -> String {
    token
        .bearer_header()
        .and_then(|header| header.to_str().ok().map(str::to_owned))
        .and_then(|header| header.strip_prefix("Bearer ").map(str::to_owned))
        .unwrap_or_default()
}
