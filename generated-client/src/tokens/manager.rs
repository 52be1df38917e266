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
//! doubling, at most 5 minutes); a 401 meanwhile stands rather than asking
//! the struggling vendor again. A 401 that a refresh did not cure does not
//! start a refresh on every call: the next forced refresh waits, with the same
//! backoff, until a call succeeds again. A refresh token the vendor refused is
//! recorded in the store ([`StoredTokens::refresh_rejected`]), and nobody
//! sharing the store tries it again for 15 minutes, then 30, then at most
//! once an hour; meanwhile calls go out with the access token while it is
//! valid, an error-level event says a person must act, and
//! [`TokenManager::health`] says so to whoever asks. A token is never due for
//! refresh before half its lifetime has passed since it was rotated, so a
//! rotation that already counts as expiring (a lifetime shorter than the
//! margin, a clock ahead of the vendor's, an expiry sent in seconds) does not
//! start another.
//!
//! **What can still be lost.** The vendor invalidates the old refresh token
//! when it answers. If the process dies (or the network drops the answer)
//! between the vendor's answer and the save, the new refresh token is lost
//! and a person must make a new one. The window is kept as short as it can
//! be: the answer's refresh token is taken first and saved before anything
//! else is done with it. A rotation the store could not take is kept in
//! memory, unused, and saved again in the same step (three more tries over
//! 3.5 s, in the step's own task), then at the next step, the error
//! meanwhile saying so ([`TransientAuth::RotationUnsaved`]) — unless the
//! store meanwhile holds other tokens than the ones it was rotated from (a
//! person seeded new ones): those are newer, and are never overwritten.
//!
//! These rules are explored with replicas, crashes at every step and clocks
//! that disagree in `tokens::simulation` (ARCHITECTURE.md, "Simulation").

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::time::Instant;
use tracing::Instrument;

use crate::backoff::{BackingOff, Backoff};
use crate::tokens::access_token::AccessToken;
use crate::tokens::auth_error::{AuthError, NeedsPerson, TransientAuth};
use crate::tokens::clock::Clock;
use crate::tokens::credentials::ClientCredentials;
use crate::tokens::refresh_endpoint::{RefreshOutcome, Refresher};
use crate::tokens::store::{RefreshRejection, StoreError, StoredTokens, TokenLease, TokenStore};
use crate::{EpochMillis, Secret};

/// The `tracing` target of the events that say a call waits, and for what
/// (their `wait` field: `"token store lock"`, then `""` when the wait is
/// over): a tool can show them as they happen (the CLI's progress line
/// does), whatever its log level.
pub const WAIT_EVENTS: &str = "xoxoday_reward_points::waits";

/// How long a wait for the store's lock goes unsaid.
const NOTICEABLE_WAIT: Duration = Duration::from_millis(500);

/// After a refresh that failed for a passing reason, and after a 401 that a
/// refresh did not cure.
const PASSING_FAILURE: Backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(300));
/// After the vendor refused the refresh token: a handful of tries an hour
/// at most, in case the refusal was the vendor's mistake.
const REFUSED_REFRESH_TOKEN: Backoff =
    Backoff::new(Duration::from_secs(15 * 60), Duration::from_secs(60 * 60));
/// A rotation the store did not take is saved again this many times in the
/// same step, after these pauses, before the step fails (and the next step
/// tries again): the vendor has already killed the refresh token it was
/// rotated from.
const SAVE_TRIES: u32 = 3;
const SAVE_AGAIN: Backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(2));
/// After those tries failed, the steps that follow say so at once (rather
/// than each queueing for the tries) during this pause, then try again.
const SAVE_PAUSE: Backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(30));
/// While a refused refresh token stands, how often the store is read again
/// (without its lock) for tokens a person put there.
const LOOK_AGAIN: Duration = Duration::from_secs(10);

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
    refresher: Box<dyn Refresher>,
    clock: Clock,
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
    /// Rotated tokens the store has not taken yet (not used until it has),
    /// and the refresh token they were rotated from.
    unsaved_from: Option<Secret>,
    /// After refreshes that failed for a passing reason.
    refresh_backoff: BackingOff,
    /// After refreshes forced by a 401.
    rejection_backoff: BackingOff,
    /// The vendor refused the refresh token `tokens` hold.
    refused: Option<Refused>,
    /// The store could not be written when a refresh was due: refreshing
    /// waits (with `refresh_backoff`) until it can.
    unwritable: Option<NeedsPerson>,
    /// After a step's tries to save a rotation all failed: the next steps
    /// say so at once until this has passed, and then try again.
    save_backoff: BackingOff,
    unsaved_error: Option<StoreError>,
}

/// A refresh token the vendor refused, and when to try it again.
struct Refused {
    refresh_token: Secret,
    error: NeedsPerson,
    /// No refresh with it before this.
    not_before: Instant,
    /// The store is read again for new tokens after this.
    look_again: Instant,
    /// How often it was refused in a row, here.
    failures: u32,
    /// The refusal's time as the store records it.
    recorded_at: Option<EpochMillis>,
}

/// How a step under the lock ended.
enum Step {
    /// Settled: the tokens to use, or `None` when a 401 stands.
    Done(Option<StoredTokens>),
    /// An earlier rotation was just saved (or given up for newer tokens):
    /// start again.
    Again,
    /// A rotation the store could not take: it is tried again (see
    /// `SAVE_TRIES`).
    Unsaved(StoreError),
}

/// What a step knows of this process's state before it takes the lock.
struct Before {
    refresh_wait: Option<Duration>,
    rejection_wait: Option<Duration>,
    known: Option<StoredTokens>,
    /// A rotation the store did not take waits to be saved.
    unsaved: bool,
}

/// A step settled without the lock, or one that takes it.
enum Ahead {
    Settled(Result<Step, AuthError>),
    Lock(Before),
}

/// What the tokens the store holds under the lock call for.
enum Held {
    Settled(Result<Step, AuthError>),
    Refresh(StoredTokens),
}

/// A step's outcome under the lock, with the lease unless a save consumed
/// it (a save releases the lock itself): `step_under_lock` releases it.
type UnderLease = (Result<Step, AuthError>, Option<Box<dyn TokenLease>>);

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

/// The access token's expiry, unless it is one nothing can be read from: an
/// expiry before the moment the token was made (an expiry sent in seconds,
/// a clock far ahead of the vendor's). Such a token is used until the vendor
/// answers 401.
fn meaningful_expiry(tokens: &StoredTokens) -> Option<u64> {
    let expiry = tokens.access_token_expiry?.as_millis();
    match tokens.refreshed_at {
        Some(made) if expiry <= made.as_millis() => None,
        _ => Some(expiry),
    }
}

fn expired(tokens: &StoredTokens, now: EpochMillis) -> bool {
    meaningful_expiry(tokens).is_some_and(|expiry| now.as_millis() >= expiry)
}

impl TokenManager {
    /// A manager over `store`, refreshing through `refresher` and reading
    /// the time from `clock`. Nothing is read until the first call needs a
    /// token.
    pub(crate) fn new(
        store: Arc<dyn TokenStore>,
        credentials: ClientCredentials,
        margin: Duration,
        refresher: Box<dyn Refresher>,
        clock: Clock,
    ) -> Self {
        Self {
            shared: Arc::new(Shared {
                store,
                credentials,
                margin,
                refresher,
                clock,
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

    /// `Ok` while the tokens can be kept fresh on their own;
    /// `Err(AuthError::NeedsPerson)` once the vendor refused the refresh
    /// token (here or in another process sharing the store), or while the
    /// store cannot be written. Calls go on
    /// with the access token until it expires: a health check or an alert
    /// can ask this, so that a person replaces the tokens before then.
    pub fn health(&self) -> Result<(), AuthError> {
        let state = self.shared.state();
        match (&state.refused, &state.tokens, &state.unwritable) {
            (Some(refused), Some(tokens), _) if refused.refresh_token == tokens.refresh_token => {
                Err(refused.error.clone().into())
            }
            (_, _, Some(unwritable)) => Err(unwritable.clone().into()),
            _ => Ok(()),
        }
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
                && state.unsaved_from.is_none()
                && (self.shared.usable(tokens)
                    || state.waiting_for_a_person(tokens, self.shared.clock.now()))
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

impl State {
    /// A refused refresh token stands for `tokens`, whose access token is
    /// still valid, and it is not yet time to read the store again: calls go
    /// out with the access token.
    fn waiting_for_a_person(&self, tokens: &StoredTokens, now: EpochMillis) -> bool {
        self.refused.as_ref().is_some_and(|refused| {
            refused.refresh_token == tokens.refresh_token
                && Instant::now() < refused.look_again
                && !expired(tokens, now)
        })
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

    /// `tokens`' access token has expired, by this process's clock.
    fn expired(&self, tokens: &StoredTokens) -> bool {
        expired(tokens, self.clock.now())
    }

    /// Not due for refresh: not expiring within the margin, or of unknown
    /// expiry. The margin is at most half the token's lifetime when it is
    /// known when the token was made.
    fn usable(&self, tokens: &StoredTokens) -> bool {
        let Some(expiry) = meaningful_expiry(tokens) else {
            return true;
        };
        let margin = u64::try_from(self.margin.as_millis()).unwrap_or(u64::MAX);
        let margin = match tokens.refreshed_at {
            Some(made) => margin.min((expiry - made.as_millis()) / 2),
            None => margin,
        };
        self.clock.now().as_millis().saturating_add(margin) < expiry
    }

    /// Whether `tokens` settle what `trigger` asked for, with no refresh.
    fn settles(&self, trigger: &Trigger, tokens: &StoredTokens) -> bool {
        match trigger {
            Trigger::Expiring => self.usable(tokens),
            Trigger::Rejected(rejected) => {
                tokens.access_token != *rejected && !self.expired(tokens)
            }
            Trigger::Forced => false,
        }
    }

    /// Takes `tokens` as the ones to use; `unsaved_from`: a rotation of ours
    /// from that refresh token, which the store has not taken yet.
    fn remember(&self, tokens: &StoredTokens, unsaved_from: Option<Secret>) {
        let mut state = self.state();
        if state.tokens.as_ref() != Some(tokens) {
            if state.tokens.as_ref().map(|t| &t.access_token) != Some(&tokens.access_token) {
                state.bearer = Some(AccessToken::from_secret(&tokens.access_token));
            }
            state.tokens = Some(tokens.clone());
        }
        state.unsaved_from = unsaved_from;
        if state
            .refused
            .as_ref()
            .is_some_and(|refused| refused.refresh_token != tokens.refresh_token)
        {
            // New tokens: the refusal was about others.
            state.refused = None;
        }
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
        let mut save_failures = 0;
        loop {
            // Settled in this process while this caller queued?
            {
                let state = self.state();
                if let Some(tokens) = &state.tokens
                    && state.unsaved_from.is_none()
                    && (self.settles(&trigger, tokens)
                        || (matches!(trigger, Trigger::Expiring)
                            && state.waiting_for_a_person(tokens, self.clock.now())))
                {
                    return Ok(Some(tokens.clone()));
                }
            }
            // A cold start, or a refused refresh token that a person may
            // have replaced meanwhile: read without the lock first.
            let (cold, look_for_a_person) = {
                let mut state = self.state();
                let now = Instant::now();
                let cold = state.tokens.is_none();
                let unsaved = state.unsaved_from.is_some();
                let look = match state.refused.as_mut() {
                    // Moved on before the read, so that a store that does
                    // not answer is not asked again on every call.
                    Some(refused) if !cold && !unsaved && now >= refused.look_again => {
                        refused.look_again = now.checked_add(LOOK_AGAIN).unwrap_or(now);
                        true
                    }
                    _ => false,
                };
                (cold, look)
            };
            if cold || look_for_a_person {
                let loaded = match self.store.load().await {
                    Ok(loaded) => loaded,
                    Err(error) if cold => return Err(store_failed(error)),
                    Err(error) => {
                        // The step below decides with what this process
                        // holds.
                        tracing::warn!(%error, "token store unavailable");
                        None
                    }
                };
                if let Some(tokens) = loaded {
                    self.remember(&tokens, None);
                    self.note_recorded_refusal(&tokens);
                    if self.settles(&trigger, &tokens) {
                        return Ok(Some(tokens));
                    }
                }
            }
            match self.step_under_lock(&trigger).await? {
                Step::Done(tokens) => return Ok(tokens),
                Step::Again => continue,
                Step::Unsaved(error) if save_failures < SAVE_TRIES => {
                    // In this step's own task: a caller that gives up does
                    // not stop it, and a one-shot command waits for it.
                    tokio::time::sleep(SAVE_AGAIN.delay(save_failures)).await;
                    save_failures += 1;
                    tracing::warn!(%error, "saving the rotated tokens again");
                }
                Step::Unsaved(error) => {
                    // The next steps say so at once, rather than each
                    // trying again for seconds, until the pause is over.
                    let mut state = self.state();
                    state.save_backoff.arm(Instant::now(), SAVE_PAUSE);
                    state.unsaved_error = Some(error.clone());
                    return Err(TransientAuth::RotationUnsaved { error }.into());
                }
            }
        }
    }

    /// A refusal another process recorded in the store, for the refresh
    /// token `tokens` hold: tried again only when its backoff has passed.
    fn note_recorded_refusal(&self, tokens: &StoredTokens) {
        // A refusal to other credentials (a replica with a wrong client
        // secret) says nothing of the token: only this set's counts.
        let Some(rejection) = tokens.refusal_for(&self.credentials.fingerprint()) else {
            return;
        };
        let since = Duration::from_millis(
            self.clock
                .now()
                .as_millis()
                .saturating_sub(rejection.at.as_millis()),
        );
        let now = Instant::now();
        let delay = REFUSED_REFRESH_TOKEN.delay(rejection.count.saturating_sub(1));
        let not_before = now.checked_add(delay.saturating_sub(since)).unwrap_or(now);
        let mut state = self.state();
        if let Some(refused) = state
            .refused
            .as_mut()
            .filter(|refused| refused.refresh_token == tokens.refresh_token)
        {
            // Known here; a newer refusal (another process tried again)
            // moves the next try on for everyone.
            if refused.recorded_at < Some(rejection.at) {
                refused.recorded_at = Some(rejection.at);
                refused.not_before = refused.not_before.max(not_before);
                refused.failures = refused.failures.max(rejection.count);
            }
            return;
        }
        state.refused = Some(Refused {
            refresh_token: tokens.refresh_token.clone(),
            error: NeedsPerson::RefreshRejected {
                status: rejection.status,
                message: None,
            },
            not_before,
            look_again: now.checked_add(LOOK_AGAIN).unwrap_or(now),
            failures: rejection.count,
            recorded_at: Some(rejection.at),
        });
        drop(state);
        tracing::error!(
            status = rejection.status,
            "the vendor refused the stored refresh token (recorded in the store by another \
             process); a new one must be made in the dashboard"
        );
    }

    /// Decides a trigger without refreshing, while a refused refresh token
    /// stands and its backoff has not passed: the access token while it is
    /// valid (for an expiring one), else what the person must do.
    fn while_refused(
        &self,
        trigger: &Trigger,
        held: &StoredTokens,
    ) -> Option<Result<Step, AuthError>> {
        let state = self.state();
        let now = Instant::now();
        let refused = state
            .refused
            .as_ref()
            .filter(|refused| refused.refresh_token == held.refresh_token)?;
        if matches!(trigger, Trigger::Forced) || now >= refused.not_before {
            return None;
        }
        let error = refused.error.clone();
        Some(match trigger {
            Trigger::Expiring if !self.expired(held) => Ok(Step::Done(Some(held.clone()))),
            _ => Err(error.into()),
        })
    }

    /// Takes the lock and settles `trigger`. A lease no save consumed comes
    /// back here and is released in this one place, whatever the path.
    async fn step_under_lock(&self, trigger: &Trigger) -> Result<Step, AuthError> {
        let now = Instant::now();
        let before = match self.before_locking(trigger, now) {
            Ahead::Settled(decided) => return decided,
            Ahead::Lock(before) => before,
        };
        let lease = match self.lock_store().await {
            Ok(lease) => lease,
            Err(error) => return self.store_unavailable(trigger, &before, error),
        };
        let (outcome, unreleased) = if before.unsaved {
            self.save_pending(trigger, lease).await
        } else {
            match self.settle_held(trigger, lease.tokens(), &before) {
                Held::Settled(outcome) => (outcome, Some(lease)),
                Held::Refresh(held) => self.refresh(trigger, lease, held, now).await,
            }
        };
        if let Some(lease) = unreleased {
            lease.release().await.map_err(store_failed)?;
        }
        outcome
    }

    /// What can be settled before the lock is asked for, or what the step
    /// under it needs to know of this process's state.
    fn before_locking(&self, trigger: &Trigger, now: Instant) -> Ahead {
        let before = {
            let state = self.state();
            if state.unsaved_from.is_some()
                && state.save_backoff.remaining(now).is_some()
                && let Some(error) = state.unsaved_error.clone()
            {
                return Ahead::Settled(Err(TransientAuth::RotationUnsaved { error }.into()));
            }
            Before {
                refresh_wait: state.refresh_backoff.remaining(now),
                rejection_wait: state.rejection_backoff.remaining(now),
                known: state.tokens.clone(),
                unsaved: state.unsaved_from.is_some(),
            }
        };
        // Backing off after failed refreshes, with a token still valid: use
        // it, and do not even take the lock.
        if let (Trigger::Expiring, Some(_), Some(tokens)) =
            (trigger, before.refresh_wait, &before.known)
            && !self.expired(tokens)
            && !before.unsaved
        {
            return Ahead::Settled(Ok(Step::Done(Some(tokens.clone()))));
        }
        if let Some(tokens) = before.known.as_ref().filter(|_| !before.unsaved)
            && let Some(decided) = self.while_refused(trigger, tokens)
        {
            return Ahead::Settled(decided);
        }
        Ahead::Lock(before)
    }

    /// Takes the store's lock, saying so in the log when another process
    /// makes this one wait for it.
    async fn lock_store(&self) -> Result<Box<dyn TokenLease>, StoreError> {
        let mut locking = self.store.lock();
        if let Ok(locked) = tokio::time::timeout(NOTICEABLE_WAIT, &mut locking).await {
            return locked;
        }
        // Another process holds the store's lock (it is refreshing).
        let asked = Instant::now();
        tracing::info!(
            target: WAIT_EVENTS,
            wait = "token store lock",
            "waiting for the token store's lock (another process holds it)"
        );
        let locked = locking.await;
        tracing::info!(
            target: WAIT_EVENTS,
            wait = "",
            waited_ms = (asked.elapsed() + NOTICEABLE_WAIT).as_millis() as u64,
            "the wait for the token store's lock is over"
        );
        locked
    }

    /// The store's lock could not be had: a valid access token is used, a
    /// rotation not yet saved is tried again, anything else fails.
    fn store_unavailable(
        &self,
        trigger: &Trigger,
        before: &Before,
        error: StoreError,
    ) -> Result<Step, AuthError> {
        if let (Trigger::Expiring, Some(tokens)) = (trigger, &before.known)
            && !self.expired(tokens)
            && !before.unsaved
        {
            tracing::warn!(%error, "token store unavailable; the access token is still valid");
            return Ok(Step::Done(Some(tokens.clone())));
        }
        if before.unsaved {
            return Ok(Step::Unsaved(error));
        }
        Err(store_failed(error))
    }

    /// Settles `trigger` with what the store holds under the lock, or says
    /// that those tokens are to be refreshed.
    fn settle_held(&self, trigger: &Trigger, held: Option<&StoredTokens>, before: &Before) -> Held {
        let Some(held) = held.cloned() else {
            return Held::Settled(Err(NeedsPerson::EmptyStore {
                location: self.store.location(),
            }
            .into()));
        };
        self.remember(&held, None);
        self.note_recorded_refusal(&held);
        if self.settles(trigger, &held) {
            return Held::Settled(Ok(Step::Done(Some(held))));
        }
        if let Some(decided) = self.while_refused(trigger, &held) {
            return Held::Settled(decided);
        }
        if let Some(decided) = self.while_backing_off(trigger, &held, before) {
            return Held::Settled(decided);
        }
        if let Some(expired_at) = held.refresh_token_expiry
            && self.clock.now() >= expired_at
        {
            tracing::error!("refresh token expired; a new one must be made in the dashboard");
            return Held::Settled(Err(NeedsPerson::RefreshTokenExpired { expired_at }.into()));
        }
        Held::Refresh(held)
    }

    /// Decides a trigger without refreshing while an earlier refresh or 401
    /// is backing off.
    fn while_backing_off(
        &self,
        trigger: &Trigger,
        held: &StoredTokens,
        before: &Before,
    ) -> Option<Result<Step, AuthError>> {
        match trigger {
            Trigger::Expiring if before.refresh_wait.is_some() => Some(if self.expired(held) {
                Err(TransientAuth::BackingOff {
                    retry_in: before.refresh_wait.unwrap_or_default(),
                }
                .into())
            } else {
                Ok(Step::Done(Some(held.clone())))
            }),
            // A 401 that a refresh did not cure, or a refresh that failed
            // for a passing reason: the 401 stands until the pause is
            // over, rather than each call asking a struggling vendor again.
            Trigger::Rejected(_)
                if before.rejection_wait.is_some() || before.refresh_wait.is_some() =>
            {
                // Waiting for a store that cannot be written: that is what
                // a person must fix.
                let unwritable = self.state().unwritable.clone();
                Some(match unwritable.filter(|_| before.refresh_wait.is_some()) {
                    Some(needs) => Err(needs.into()),
                    None => Ok(Step::Done(None)),
                })
            }
            _ => None,
        }
    }

    /// An earlier rotation the store did not take: it is newer than what the
    /// store holds (whose refresh token the vendor already killed) — unless
    /// the store meanwhile holds other tokens than the ones it was rotated
    /// from (a person seeded new ones), which are never overwritten.
    async fn save_pending(&self, trigger: &Trigger, lease: Box<dyn TokenLease>) -> UnderLease {
        let (pending, rotated_from) = {
            let state = self.state();
            (state.tokens.clone(), state.unsaved_from.clone())
        };
        let (Some(pending), Some(rotated_from)) = (pending, rotated_from) else {
            return (Ok(Step::Again), Some(lease));
        };
        let held = lease.tokens().cloned();
        if held
            .as_ref()
            .is_some_and(|held| held.refresh_token != rotated_from)
        {
            tracing::warn!(
                "the token store holds tokens written after this process rotated its own, which \
                 it could not save: keeping the store's, and dropping this process's rotation"
            );
            match held {
                Some(held) => self.remember(&held, None),
                None => self.state().unsaved_from = None,
            }
            return (Ok(Step::Again), Some(lease));
        }
        if let Err(error) = lease.save(pending.clone()).await {
            return (Ok(Step::Unsaved(error)), None);
        }
        self.remember(&pending, None);
        {
            let mut state = self.state();
            state.save_backoff.reset();
            state.unsaved_error = None;
        }
        tracing::info!("rotated tokens saved to the store");
        let step = match trigger {
            // A refresh: the rotation just saved is one, and the vendor is
            // not asked for another.
            Trigger::Forced => Step::Done(Some(pending)),
            _ => Step::Again,
        };
        (Ok(step), None)
    }

    /// Refreshes `held` under `lease` and settles `trigger` with the
    /// outcome.
    async fn refresh(
        &self,
        trigger: &Trigger,
        mut lease: Box<dyn TokenLease>,
        held: StoredTokens,
        now: Instant,
    ) -> UnderLease {
        // The store is made ready for the save before the vendor is asked:
        // its answer kills the old refresh token.
        if let Err(error) = lease.prepare().await {
            return (self.unwritable(trigger, held, error, now), Some(lease));
        }
        self.state().unwritable = None;
        let sent_at = self.clock.now();
        match self
            .refresher
            .refresh(&self.credentials, &held, sent_at)
            .await
        {
            RefreshOutcome::Rotated { tokens, missing } => {
                let outcome = self
                    .rotated(trigger, lease, &held, tokens, missing, now)
                    .await;
                (outcome, None)
            }
            RefreshOutcome::Rejected { status, message } => {
                self.refused(trigger, lease, held, status, message).await
            }
            RefreshOutcome::Unavailable { reason } => {
                self.state().refresh_backoff.arm(now, PASSING_FAILURE);
                tracing::warn!(%reason, "refresh failed; backing off");
                let outcome = if matches!(trigger, Trigger::Expiring) && !self.expired(&held) {
                    Ok(Step::Done(Some(held)))
                } else {
                    Err(TransientAuth::RefreshUnavailable { reason }.into())
                };
                (outcome, Some(lease))
            }
        }
    }

    /// The vendor rotated `held` into `tokens`: saves them (the save
    /// releases the lock) and settles `trigger`.
    async fn rotated(
        &self,
        trigger: &Trigger,
        lease: Box<dyn TokenLease>,
        held: &StoredTokens,
        tokens: StoredTokens,
        missing: Option<&'static str>,
        now: Instant,
    ) -> Result<Step, AuthError> {
        if let Err(error) = lease.save(tokens.clone()).await {
            // The old refresh token is already dead: keep the new one in
            // memory, unused, and give it to the store again.
            self.remember(&tokens, Some(held.refresh_token.clone()));
            tracing::error!(%error, "rotated tokens could not be saved");
            return Ok(Step::Unsaved(error));
        }
        self.remember(&tokens, None);
        {
            let mut state = self.state();
            match missing {
                None => state.refresh_backoff.reset(),
                Some(_) => state.refresh_backoff.arm(now, PASSING_FAILURE),
            }
            if let Trigger::Rejected(_) = trigger {
                state.rejection_backoff.arm(now, PASSING_FAILURE);
                self.rejection_armed.store(true, Ordering::Relaxed);
            }
        }
        if !self.usable(&tokens) && missing.is_none() {
            tracing::warn!(
                "the vendor's new access token already counts as expiring (its lifetime is \
                 shorter than the refresh margin, or this clock is ahead of the vendor's): it \
                 is used until the vendor refuses it"
            );
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

    /// The store cannot be written, so no refresh was asked of the vendor:
    /// refreshing backs off, and a person is called for; calls go on with a
    /// valid access token.
    fn unwritable(
        &self,
        trigger: &Trigger,
        held: StoredTokens,
        error: StoreError,
        now: Instant,
    ) -> Result<Step, AuthError> {
        tracing::error!(
            %error,
            "the token store cannot be written: no refresh until it can; calls go on with the \
             access token while it is valid"
        );
        let needs = NeedsPerson::StoreNotWritable { error };
        {
            let mut state = self.state();
            state.refresh_backoff.arm(now, PASSING_FAILURE);
            state.unwritable = Some(needs.clone());
        }
        match trigger {
            Trigger::Expiring if !self.expired(&held) => Ok(Step::Done(Some(held))),
            _ => Err(needs.into()),
        }
    }

    /// The vendor refused `held`'s refresh token: unless another writer
    /// replaced it meanwhile, record the refusal in the store, back off, and
    /// call for a person — while calls go on with a valid access token.
    async fn refused(
        &self,
        trigger: &Trigger,
        mut lease: Box<dyn TokenLease>,
        held: StoredTokens,
        status: u16,
        message: Option<String>,
    ) -> UnderLease {
        // Another writer may have rotated it without the lock.
        if let Ok(Some(current)) = lease.reload().await
            && current.refresh_token != held.refresh_token
        {
            self.remember(&current, None);
            return (Ok(Step::Done(Some(current))), Some(lease));
        }
        let fingerprint = self.credentials.fingerprint();
        let failures = {
            let state = self.state();
            let here = state
                .refused
                .as_ref()
                .filter(|refused| refused.refresh_token == held.refresh_token)
                .map_or(0, |refused| refused.failures);
            let recorded = held
                .refusal_for(&fingerprint)
                .map_or(0, |rejection| rejection.count);
            here.max(recorded)
        };
        let at = self.clock.now();
        // Recorded beside the refusals of other credentials, never over them.
        let marked = held.clone().with_refusal(RefreshRejection::new(
            at,
            status,
            failures.saturating_add(1),
            Some(fingerprint),
        ));
        if let Err(error) = lease.save(marked.clone()).await {
            tracing::warn!(%error, "the refusal could not be recorded in the token store");
        } else {
            self.remember(&marked, None);
        }
        let error = NeedsPerson::RefreshRejected { status, message };
        {
            let mut state = self.state();
            let now = Instant::now();
            state.refused = Some(Refused {
                refresh_token: held.refresh_token.clone(),
                error: error.clone(),
                not_before: now
                    .checked_add(REFUSED_REFRESH_TOKEN.delay(failures))
                    .unwrap_or(now),
                look_again: now.checked_add(LOOK_AGAIN).unwrap_or(now),
                failures: failures.saturating_add(1),
                recorded_at: Some(at),
            });
        }
        tracing::error!(
            status,
            "the vendor refused the stored refresh token; a new one must be made in the dashboard"
        );
        let outcome = match trigger {
            Trigger::Expiring if !self.expired(&held) => Ok(Step::Done(Some(marked))),
            _ => Err(error.into()),
        };
        (outcome, None)
    }
}
