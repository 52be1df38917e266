//! The token lifecycle, as the vendor asks for it, for any number of
//! processes sharing one [`TokenStore`]: refresh through `POST /token/company`
//! before the access token expires and once after a 401; never many refreshes
//! at once (the vendor may revoke tokens after "an unusual number of refresh
//! requests"); keep every rotated refresh token.
//!
//! **Coordinated refresh.** A token that is about to expire (or that the
//! vendor answered 401 to) starts one coordinated step: take the store's lock,
//! read what the store holds now, and use that if another process (or an
//! operator) already refreshed; otherwise refresh, save the rotated tokens and
//! release the lock. A refresh the vendor refuses is answered by reading the
//! store again; only a refusal of the refresh token the store still holds is
//! [`NeedsPerson::RefreshRejected`].
//!
//! **Single flight.** Inside a process, callers that need the step queue on
//! one async lock; the first does it, the others find its result. The step
//! runs in a task of its own, so a caller that gives up (a timeout, a dropped
//! future) never interrupts a refresh between the vendor's answer and the
//! save.
//!
//! **No storms.** A refresh that fails for a passing reason (429, 5xx, the
//! network) while the access token is still valid does not fail the call: the
//! call goes out with the valid token, and refreshing backs off (1 s,
//! doubling, at most 5 minutes). A 401 that a refresh did not cure does not
//! start a refresh on every call: the next forced refresh waits, with the same
//! backoff, until a call succeeds again.
//!
//! **What can still be lost.** The vendor invalidates the old refresh token
//! when it answers. If the process dies (or the network drops the answer)
//! between the vendor's answer and the save, the new refresh token is lost
//! and a person must make a new one. The window is kept as short as it can
//! be: the answer's refresh token is taken first and saved before anything
//! else is done with it.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tracing::Instrument;

use crate::access_token::AccessToken;
use crate::auth_error::{AuthError, NeedsPerson, TransientAuth};
use crate::refresh_endpoint::{RefreshEndpoint, RefreshOutcome};
use crate::token_store::{StoreError, StoredTokens, TokenStore};
use crate::{EpochMillis, Secret};

/// The integration's credentials for refreshing tokens. `Debug` redacts the
/// secret.
#[derive(Clone, Debug)]
pub struct ClientCredentials {
    /// The integration's client id, from the Xoxoday dashboard.
    pub client_id: String,
    /// The integration's client secret.
    pub client_secret: Secret,
}

/// The first pause after a failed refresh; it doubles with each failure.
const BACKOFF_FIRST: Duration = Duration::from_secs(1);
/// The longest pause between refresh attempts.
const BACKOFF_LONGEST: Duration = Duration::from_secs(300);

/// Holds the tokens, refreshes them in step with every other process sharing
/// the store, and saves every rotation. Cheap to clone; clones share state.
#[derive(Clone)]
pub struct TokenManager {
    shared: Arc<Shared>,
}

struct Shared {
    store: Arc<dyn TokenStore>,
    credentials: ClientCredentials,
    margin: Duration,
    endpoint: RefreshEndpoint,
    /// Short critical sections only: never held across I/O or `.await`.
    state: Mutex<State>,
    /// Held during a coordinated step: the single flight.
    flight: tokio::sync::Mutex<()>,
    /// A refresh forced by a 401 happened; cleared (with the rejection
    /// backoff) when a call with a managed token is answered otherwise.
    rejection_armed: AtomicBool,
}

#[derive(Default)]
struct State {
    /// What the store held when last read, or a rotation of ours.
    tokens: Option<StoredTokens>,
    /// `tokens`' access token as a header, built once per token.
    bearer: Option<AccessToken>,
    /// Rotated tokens the store has not taken yet: not used until it has.
    unsaved: bool,
    /// After refreshes that failed for a passing reason.
    refresh_backoff: Backoff,
    /// After refreshes forced by a 401.
    rejection_backoff: Backoff,
}

/// Exponential backoff: 1 s, 2 s, 4 s, … at most 5 minutes.
#[derive(Default)]
struct Backoff {
    failures: u32,
    not_before: Option<Instant>,
}

impl Backoff {
    fn remaining(&self, now: Instant) -> Option<Duration> {
        let not_before = self.not_before?;
        not_before
            .checked_duration_since(now)
            .filter(|wait| !wait.is_zero())
    }

    fn arm(&mut self, now: Instant) {
        let delay = BACKOFF_FIRST
            .saturating_mul(1 << self.failures.min(16))
            .min(BACKOFF_LONGEST);
        self.not_before = Some(now + delay);
        self.failures += 1;
    }

    fn reset(&mut self) {
        *self = Self::default();
    }
}

/// How a step under the lock ended.
enum Step {
    /// Settled: the tokens to use, or `None` when a 401 stands.
    Done(Option<StoredTokens>),
    /// An earlier rotation was just saved: start again.
    Again,
}

/// What started a coordinated step.
enum Trigger {
    /// No token yet, or it is about to expire.
    Expiring,
    /// The vendor answered 401 to this token.
    Rejected(Secret),
    /// Refresh whatever the expiry says: an operator asked for it.
    Forced,
}

impl fmt::Debug for TokenManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.shared.state();
        let tokens = state.tokens.as_ref();
        f.debug_struct("TokenManager")
            .field(
                "access_token_expiry",
                &tokens.and_then(|t| t.access_token_expiry),
            )
            .field(
                "refresh_token_expiry",
                &tokens.and_then(|t| t.refresh_token_expiry),
            )
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

fn expired(tokens: &StoredTokens) -> bool {
    tokens
        .access_token_expiry
        .is_some_and(|expiry| now_millis() >= expiry.as_millis())
}

impl TokenManager {
    /// A manager over `store`. Nothing is read until the first call needs a
    /// token.
    pub(crate) fn new(
        store: Arc<dyn TokenStore>,
        credentials: ClientCredentials,
        margin: Duration,
        endpoint: RefreshEndpoint,
    ) -> Self {
        Self {
            shared: Arc::new(Shared {
                store,
                credentials,
                margin,
                endpoint,
                state: Mutex::new(State::default()),
                flight: tokio::sync::Mutex::new(()),
                rejection_armed: AtomicBool::new(false),
            }),
        }
    }

    /// The tokens as this process last saw them (tokens redacted in `Debug`).
    pub fn tokens(&self) -> Option<StoredTokens> {
        self.shared.state().tokens.clone()
    }

    /// The store the tokens live in.
    pub fn store(&self) -> &Arc<dyn TokenStore> {
        &self.shared.store
    }

    /// Refreshes now, whatever the access token's expiry, in step with every
    /// process sharing the store (an operator's `reward-points
    /// refresh-token`), and returns the new tokens.
    pub async fn refresh_now(&self) -> Result<StoredTokens, AuthError> {
        self.run(Trigger::Forced)
            .await?
            .ok_or_else(|| unreachable_stand("a forced refresh"))
    }

    /// An access token that is not about to expire, refreshing first (in step
    /// with the other processes) when needed.
    pub(crate) async fn access_token(&self) -> Result<AccessToken, AuthError> {
        {
            let state = self.shared.state();
            if let (Some(tokens), Some(bearer)) = (&state.tokens, &state.bearer)
                && !state.unsaved
                && self.shared.usable(tokens)
            {
                return Ok(bearer.clone());
            }
        }
        let tokens = self
            .run(Trigger::Expiring)
            .await?
            .ok_or_else(|| unreachable_stand("an expiring token"))?;
        Ok(self.shared.bearer_for(&tokens))
    }

    /// After the vendor answered 401 to `rejected`: the token to repeat the
    /// request with (another process's, or a refreshed one), or `None` when
    /// the 401 stands (a refresh forced by a 401 already failed to cure it,
    /// and the backoff has not passed).
    pub(crate) async fn after_rejection(
        &self,
        rejected: Secret,
    ) -> Result<Option<AccessToken>, AuthError> {
        let tokens = self.run(Trigger::Rejected(rejected)).await?;
        Ok(tokens.map(|tokens| self.shared.bearer_for(&tokens)))
    }

    /// A call with a managed token was answered with something other than
    /// 401: a refresh forced by a 401 cured it.
    pub(crate) fn note_accepted(&self) {
        if self.shared.rejection_armed.load(Ordering::Relaxed) {
            self.shared.rejection_armed.store(false, Ordering::Relaxed);
            self.shared.state().rejection_backoff.reset();
        }
    }

    /// Runs a coordinated step in a task of its own, so that a caller that
    /// gives up never cuts a refresh short.
    async fn run(&self, trigger: Trigger) -> Result<Option<StoredTokens>, AuthError> {
        let shared = self.shared.clone();
        match tokio::spawn(shared.coordinated(trigger).in_current_span()).await {
            Ok(result) => result,
            Err(error) => Err(TransientAuth::RefreshUnavailable {
                reason: format!("the refresh task failed: {error}"),
            }
            .into()),
        }
    }
}

fn unreachable_stand(what: &str) -> AuthError {
    TransientAuth::RefreshUnavailable {
        reason: format!("internal error: {what} found no token"),
    }
    .into()
}

fn store_failed(error: StoreError) -> AuthError {
    TransientAuth::Store(error).into()
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Not expiring within the margin (or of unknown expiry).
    fn usable(&self, tokens: &StoredTokens) -> bool {
        let margin = self.margin.as_millis() as u64;
        tokens
            .access_token_expiry
            .is_none_or(|expiry| now_millis().saturating_add(margin) < expiry.as_millis())
    }

    /// Whether `tokens` settle what `trigger` asked for, with no refresh.
    fn settles(&self, trigger: &Trigger, tokens: &StoredTokens) -> bool {
        match trigger {
            Trigger::Expiring => self.usable(tokens),
            Trigger::Rejected(rejected) => tokens.access_token != *rejected && !expired(tokens),
            Trigger::Forced => false,
        }
    }

    fn remember(&self, tokens: &StoredTokens, unsaved: bool) {
        let mut state = self.state();
        if state.tokens.as_ref() != Some(tokens) {
            state.bearer = Some(AccessToken::from_secret(&tokens.access_token));
            state.tokens = Some(tokens.clone());
        }
        state.unsaved = unsaved;
    }

    fn bearer_for(&self, tokens: &StoredTokens) -> AccessToken {
        let state = self.state();
        match (&state.tokens, &state.bearer) {
            (Some(known), Some(bearer)) if known.access_token == tokens.access_token => {
                bearer.clone()
            }
            _ => AccessToken::from_secret(&tokens.access_token),
        }
    }

    /// One coordinated step; see the module's documentation. `Ok(None)`
    /// means the 401 stands.
    async fn coordinated(
        self: Arc<Self>,
        trigger: Trigger,
    ) -> Result<Option<StoredTokens>, AuthError> {
        let _flight = self.flight.lock().await;
        loop {
            // Settled in this process while this caller queued?
            {
                let state = self.state();
                if let Some(tokens) = &state.tokens
                    && !state.unsaved
                    && self.settles(&trigger, tokens)
                {
                    return Ok(Some(tokens.clone()));
                }
            }
            // A cold start reads without the lock first.
            if self.state().tokens.is_none()
                && let Some(tokens) = self.store.load().await.map_err(store_failed)?
            {
                self.remember(&tokens, false);
                if self.settles(&trigger, &tokens) {
                    return Ok(Some(tokens));
                }
            }
            match self.step_under_lock(&trigger).await? {
                Step::Done(tokens) => return Ok(tokens),
                Step::Again => continue,
            }
        }
    }

    /// Takes the lock and settles `trigger`.
    async fn step_under_lock(&self, trigger: &Trigger) -> Result<Step, AuthError> {
        let now = Instant::now();
        let (refresh_wait, rejection_wait, known) = {
            let state = self.state();
            (
                state.refresh_backoff.remaining(now),
                state.rejection_backoff.remaining(now),
                state.tokens.clone(),
            )
        };
        // Backing off after failed refreshes, with a token still valid: use
        // it, and do not even take the lock.
        if let (Trigger::Expiring, Some(_), Some(tokens)) = (trigger, refresh_wait, &known)
            && !expired(tokens)
            && !self.state().unsaved
        {
            return Ok(Step::Done(Some(tokens.clone())));
        }

        let lease = match self.store.lock().await {
            Ok(lease) => lease,
            Err(error) => {
                if let (Trigger::Expiring, Some(tokens)) = (trigger, &known)
                    && !expired(tokens)
                    && !self.state().unsaved
                {
                    tracing::warn!(%error, "token store unavailable; the access token is still valid");
                    return Ok(Step::Done(Some(tokens.clone())));
                }
                return Err(store_failed(error));
            }
        };

        // An earlier rotation the store did not take: it is newer than what
        // the store holds (whose refresh token the vendor already killed).
        let pending = {
            let state = self.state();
            state.unsaved.then(|| state.tokens.clone()).flatten()
        };
        if let Some(pending) = pending {
            lease.save(pending.clone()).await.map_err(store_failed)?;
            self.remember(&pending, false);
            tracing::info!("rotated tokens saved to the store");
            return Ok(Step::Again);
        }

        let Some(held) = lease.tokens().cloned() else {
            lease.release().await.map_err(store_failed)?;
            return Err(NeedsPerson::EmptyStore {
                location: self.store.location(),
            }
            .into());
        };
        self.remember(&held, false);
        if self.settles(trigger, &held) {
            lease.release().await.map_err(store_failed)?;
            return Ok(Step::Done(Some(held)));
        }
        match trigger {
            Trigger::Expiring if refresh_wait.is_some() => {
                lease.release().await.map_err(store_failed)?;
                if expired(&held) {
                    return Err(TransientAuth::BackingOff {
                        retry_in: refresh_wait.unwrap_or_default(),
                    }
                    .into());
                }
                return Ok(Step::Done(Some(held)));
            }
            Trigger::Rejected(_) if rejection_wait.is_some() => {
                lease.release().await.map_err(store_failed)?;
                return Ok(Step::Done(None));
            }
            _ => {}
        }
        if let Some(expired_at) = held.refresh_token_expiry
            && now_millis() >= expired_at.as_millis()
        {
            lease.release().await.map_err(store_failed)?;
            tracing::error!("refresh token expired; a new one must be made in the dashboard");
            return Err(NeedsPerson::RefreshTokenExpired { expired_at }.into());
        }

        match self.endpoint.refresh(&self.credentials, &held).await {
            RefreshOutcome::Rotated { tokens, missing } => {
                if let Err(error) = lease.save(tokens.clone()).await {
                    // The old refresh token is already dead: keep the new one
                    // in memory, unused, and give it to the store next time.
                    self.remember(&tokens, true);
                    tracing::error!(%error, "rotated tokens could not be saved");
                    return Err(store_failed(error));
                }
                self.remember(&tokens, false);
                {
                    let mut state = self.state();
                    match missing {
                        None => state.refresh_backoff.reset(),
                        Some(_) => state.refresh_backoff.arm(now),
                    }
                    if let Trigger::Rejected(_) = trigger {
                        state.rejection_backoff.arm(now);
                        self.rejection_armed.store(true, Ordering::Relaxed);
                    }
                }
                tracing::info!(
                    access_token_expiry = ?tokens.access_token_expiry.map(EpochMillis::as_millis),
                    "access token refreshed"
                );
                match missing {
                    None => Ok(Step::Done(Some(tokens))),
                    Some(missing) => Err(TransientAuth::IncompleteRefresh { missing }.into()),
                }
            }
            RefreshOutcome::Rejected { status, message } => {
                // Another writer may have rotated it without the lock.
                let mut lease = lease;
                let again = lease.reload().await;
                lease.release().await.map_err(store_failed)?;
                if let Ok(Some(current)) = again
                    && current.refresh_token != held.refresh_token
                {
                    self.remember(&current, false);
                    return Ok(Step::Done(Some(current)));
                }
                tracing::error!(
                    status,
                    "the vendor refused the stored refresh token; a new one must be made in the dashboard"
                );
                Err(NeedsPerson::RefreshRejected { status, message }.into())
            }
            RefreshOutcome::Unavailable { reason } => {
                lease.release().await.map_err(store_failed)?;
                self.state().refresh_backoff.arm(now);
                tracing::warn!(%reason, "refresh failed; backing off");
                if matches!(trigger, Trigger::Expiring) && !expired(&held) {
                    Ok(Step::Done(Some(held)))
                } else {
                    Err(TransientAuth::RefreshUnavailable { reason }.into())
                }
            }
        }
    }
}
