//! The token lifecycle under deterministic simulation: replicas of a
//! service (two to five, some restarted after a crash), an operator forcing
//! a refresh, and a person putting new tokens in the store run the real
//! [`TokenManager`] against a store and a vendor in memory, on one thread
//! whose clock only moves when every task waits (the harness:
//! `xoxoday_reward_points_testing::simulation`). The seed chooses everything: each
//! replica's clock skew, whether its credentials are right and its store
//! writable, when it calls, how the vendor answers a refresh (rotates, 429,
//! 503, refuses, rotates and loses the answer), whether the vendor kills
//! the old access token, revokes the tokens, or a person replaces them —
//! and which named step of which process crashes.
//!
//! What must hold after every run:
//! - a save never puts a dead refresh token where the live one was;
//! - a rotation that reached its process is saved, unless that process died
//!   first or a person put newer tokens in the store meanwhile;
//! - no process asks the vendor for a refresh it cannot save;
//! - no two refreshes less than half a lifetime apart, beyond what clock
//!   skew explains, unless a person or an operator acted between (no
//!   storm);
//! - a refused refresh token is not tried again within 15 minutes by the
//!   process it was refused to, nor by another once the refusal is recorded
//!   (the skew of their clocks aside);
//! - at the end, once every access token has expired, each live replica's
//!   call either succeeds or says a person must act: nothing fails
//!   silently, and when the store's refresh token still works, a replica
//!   that may refresh does.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use tokio::time::Instant;
use xoxoday_reward_points_testing::simulation::{Harness, check_protocol, within_a_day};

use crate::tokens::access_token::AccessToken;
use crate::tokens::auth_error::{AuthError, TransientAuth};
use crate::tokens::clock::Clock;
use crate::tokens::credentials::ClientCredentials;
use crate::tokens::manager::TokenManager;
use crate::tokens::refresh_endpoint::{RefreshOutcome, Refresher, rotated};
use crate::tokens::store::{StoreError, StoreFuture, StoredTokens, TokenLease, TokenStore};
use crate::{EpochMillis, Secret};

/// Runs, unless `XOXODAY_SIMULATION_RUNS` says otherwise.
const DEFAULT_RUNS: u64 = 500;

/// The named steps a process can crash at: the store's reads, lock and
/// writes, the refresh before and after the vendor rotated, and a call.
const STEPS: [&str; 9] = [
    "load",
    "lock",
    "locked",
    "prepare",
    "refresh leaves",
    "vendor rotated",
    "save",
    "saved",
    "call",
];

/// The vendor's access token lifetime here, and the managers' margin.
const LIFETIME: Duration = Duration::from_secs(1_000);
const MARGIN: Duration = Duration::from_secs(100);
const EPOCH_AT_START: u64 = 1_800_000_000_000;
/// The first pause after a refused refresh token.
const REFUSAL_PAUSE: Duration = Duration::from_secs(15 * 60);
const RIGHT_SECRET: &str = "the-client-secret";

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// The vendor's side: which tokens work, and what it was asked.
#[derive(Default)]
struct Vendor {
    live_refresh: Option<String>,
    /// Access tokens and their expiry (the vendor's clock).
    access: BTreeMap<String, u64>,
    minted: u64,
    kills_old_access: bool,
    sends_expiry: bool,
    rotations: Vec<Rotation>,
    rejections: Vec<Rejection>,
    requests: Vec<Request>,
    /// When a person made new tokens in the dashboard.
    minted_by_a_person: Vec<u64>,
    /// When the vendor revoked the access tokens (a 401 then calls for a
    /// refresh before its time).
    revoked: Vec<u64>,
}

struct Rotation {
    at: u64,
    to: String,
    process: usize,
    by_operator: bool,
    /// When the answer reached its process (its place among the world's
    /// events), if it did.
    delivered: Option<u64>,
    saved: bool,
}

/// A refresh request the vendor received: when, from whom, and whether it
/// failed for a passing reason (429, 503).
struct Request {
    at: u64,
    process: usize,
    passing: bool,
}

struct Rejection {
    /// Its place among the world's events.
    seq: u64,
    at: u64,
    token: String,
    credentials: String,
    process: usize,
}

impl Vendor {
    /// New tokens: the refresh token the only live one.
    fn mint(&mut self, now: u64) -> (String, String) {
        self.minted += 1;
        let (access, refresh) = (format!("a{}", self.minted), format!("r{}", self.minted));
        self.access.insert(access.clone(), now + millis(LIFETIME));
        self.live_refresh = Some(refresh.clone());
        (access, refresh)
    }
}

/// The store the replicas share.
#[derive(Default)]
struct Store {
    tokens: Option<StoredTokens>,
    holder: Option<usize>,
    /// Refusals as they were recorded: (refresh token, credentials, count,
    /// when, its place among the world's events).
    refusals: Vec<(String, String, u32, u64, u64)>,
    /// When a person's tokens were written (places among the events).
    person_saves: Vec<u64>,
}

/// What a process is.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Role {
    /// A replica of the service: calls, this many times.
    Service(u32),
    /// An operator's `refresh-token`.
    Operator,
    /// A person putting new tokens in the store.
    Person,
}

#[derive(Clone, Copy, Debug)]
struct Config {
    role: Role,
    writable: bool,
    right_credentials: bool,
    skew_ms: i64,
}

struct World {
    harness: Arc<Harness>,
    start: Instant,
    vendor: Mutex<Vendor>,
    store: Mutex<Store>,
    configs: Mutex<BTreeMap<usize, Config>>,
    violations: Mutex<Vec<String>>,
    /// The last phase: no passing faults.
    ending: AtomicBool,
    events: AtomicU64,
    /// Processes that ended saying their rotation could not be saved.
    told: Mutex<BTreeSet<usize>>,
    /// The store's disk is full until then (the vendor's clock).
    full_until: Mutex<u64>,
    /// Woken when a process says a person must act.
    alarm: tokio::sync::Notify,
    managers: Mutex<BTreeMap<usize, TokenManager>>,
}

impl World {
    fn vendor_now(&self) -> u64 {
        EPOCH_AT_START + millis(self.start.elapsed())
    }

    /// The next event's place in the world's order.
    fn event(&self) -> u64 {
        self.events.fetch_add(1, Ordering::Relaxed)
    }

    fn config(&self, process: usize) -> Config {
        self.configs.lock().unwrap()[&process]
    }

    fn violated(&self, what: String) {
        self.violations.lock().unwrap().push(what);
    }

    fn faults(&self) -> bool {
        !self.ending.load(Ordering::Relaxed)
    }

    /// Whether a write fails now: the disk fills up now and then (one
    /// write in fifteen), and stays full for up to 20 seconds.
    fn disk_full(&self) -> bool {
        let now = self.vendor_now();
        let mut full_until = self.full_until.lock().unwrap();
        if now < *full_until {
            return true;
        }
        if self.faults() && self.harness.rng(|rng| rng.u8(..15)) == 0 {
            *full_until = now + self.harness.rng(|rng| rng.u64(..20_000));
            return true;
        }
        false
    }

    /// A process's error that a person sees (and may act on).
    fn alarm(&self, error: &AuthError) {
        if matches!(
            error,
            AuthError::NeedsPerson(_) | AuthError::Transient(TransientAuth::RotationUnsaved { .. })
        ) {
            self.alarm.notify_waiters();
        }
    }

    /// Whether the store's refresh token is the one that works.
    fn store_is_live(&self) -> bool {
        let store = self.store.lock().unwrap();
        let vendor = self.vendor.lock().unwrap();
        store.tokens.as_ref().is_some_and(|tokens| {
            vendor.live_refresh.as_deref() == Some(tokens.refresh_token.expose_secret())
        })
    }

    fn accepts(&self, token: &str) -> bool {
        let now = self.vendor_now();
        self.vendor
            .lock()
            .unwrap()
            .access
            .get(token)
            .is_some_and(|expiry| now < *expiry)
    }

    fn start_process(&self, config: Config) -> usize {
        let process = self.harness.spawn_process();
        self.harness.trace(|| format!("p{process}: {config:?}"));
        self.configs.lock().unwrap().insert(process, config);
        process
    }

    /// `process`'s token manager: one for its whole life.
    fn manager(self: &Arc<Self>, process: usize) -> TokenManager {
        let mut managers = self.managers.lock().unwrap();
        managers
            .entry(process)
            .or_insert_with(|| self.new_manager(process))
            .clone()
    }

    fn new_manager(self: &Arc<Self>, process: usize) -> TokenManager {
        let config = self.config(process);
        let secret = if config.right_credentials {
            RIGHT_SECRET
        } else {
            "an-old-client-secret"
        };
        TokenManager::new(
            Arc::new(SimStore {
                world: self.clone(),
                process,
            }),
            ClientCredentials {
                client_id: "simulated-client".into(),
                client_secret: Secret::new(secret),
            },
            MARGIN,
            Box::new(SimVendor {
                world: self.clone(),
                process,
            }),
            Clock::simulated(self.start, EPOCH_AT_START, config.skew_ms),
        )
    }
}

/// One process's handle on the store.
#[derive(Clone)]
struct SimStore {
    world: Arc<World>,
    process: usize,
}

impl std::fmt::Debug for SimStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SimStore(p{})", self.process)
    }
}

impl SimStore {
    fn error(&self, message: &str) -> StoreError {
        StoreError {
            location: self.location(),
            message: message.into(),
        }
    }
}

impl TokenStore for SimStore {
    fn load(&self) -> StoreFuture<'_, Option<StoredTokens>> {
        Box::pin(async move {
            self.world.harness.step(self.process, "load").await;
            Ok(self.world.store.lock().unwrap().tokens.clone())
        })
    }

    fn lock(&self) -> StoreFuture<'_, Box<dyn TokenLease>> {
        Box::pin(async move {
            let world = &self.world;
            world.harness.step(self.process, "lock").await;
            let asked = Instant::now();
            loop {
                {
                    let mut store = world.store.lock().unwrap();
                    // A dead holder's lock is gone, as an OS file lock is.
                    if store
                        .holder
                        .is_none_or(|holder| world.harness.crashed(holder))
                    {
                        store.holder = Some(self.process);
                        break;
                    }
                }
                if asked.elapsed() > Duration::from_secs(30) {
                    return Err(self.error("timed out waiting for the lock"));
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            world.harness.step(self.process, "locked").await;
            let tokens = world.store.lock().unwrap().tokens.clone();
            Ok(Box::new(SimLease {
                store: self.clone(),
                tokens,
            }) as Box<dyn TokenLease>)
        })
    }

    fn location(&self) -> String {
        "the simulated store".into()
    }
}

/// The store's lock, held by `store.process`.
struct SimLease {
    store: SimStore,
    tokens: Option<StoredTokens>,
}

impl Drop for SimLease {
    fn drop(&mut self) {
        let mut store = self.store.world.store.lock().unwrap();
        if store.holder == Some(self.store.process) {
            store.holder = None;
        }
    }
}

impl SimLease {
    /// Writes `tokens`, checking that the store's live refresh token is
    /// never replaced by a dead one.
    fn write(&self, tokens: StoredTokens) {
        let world = &self.store.world;
        let now = world.vendor_now();
        let mut store = world.store.lock().unwrap();
        let mut vendor = world.vendor.lock().unwrap();
        let live = |tokens: &StoredTokens| {
            vendor.live_refresh.as_deref() == Some(tokens.refresh_token.expose_secret())
        };
        if store.tokens.as_ref().is_some_and(live) && !live(&tokens) {
            world.violated(format!(
                "p{} replaced the store's live refresh token by a dead one",
                self.store.process
            ));
        }
        let refresh = tokens.refresh_token.expose_secret().to_owned();
        for rotation in vendor.rotations.iter_mut().filter(|r| r.to == refresh) {
            rotation.saved = true;
        }
        for refusal in &tokens.refresh_rejected {
            let key = (
                refresh.clone(),
                refusal.credentials.clone().unwrap_or_default(),
                refusal.count,
            );
            if !store
                .refusals
                .iter()
                .any(|(token, credentials, count, _, _)| {
                    (token, credentials, count) == (&key.0, &key.1, &key.2)
                })
            {
                store
                    .refusals
                    .push((key.0, key.1, key.2, now, world.event()));
            }
        }
        if world.config(self.store.process).role == Role::Person {
            store.person_saves.push(world.event());
        }
        store.tokens = Some(tokens);
    }
}

impl TokenLease for SimLease {
    fn tokens(&self) -> Option<&StoredTokens> {
        self.tokens.as_ref()
    }

    fn reload(&mut self) -> StoreFuture<'_, Option<StoredTokens>> {
        Box::pin(async move { Ok(self.store.world.store.lock().unwrap().tokens.clone()) })
    }

    fn prepare(&mut self) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let world = &self.store.world;
            world.harness.step(self.store.process, "prepare").await;
            if world.config(self.store.process).writable {
                Ok(())
            } else {
                Err(self.store.error("permission denied"))
            }
        })
    }

    fn save(self: Box<Self>, tokens: StoredTokens) -> StoreFuture<'static, ()> {
        Box::pin(async move {
            let world = self.store.world.clone();
            let process = self.store.process;
            world.harness.step(process, "save").await;
            if !world.config(process).writable || world.disk_full() {
                return Err(self.store.error("no space left on device"));
            }
            self.write(tokens);
            world.harness.step(process, "saved").await;
            Ok(())
        })
    }

    fn release(self: Box<Self>) -> StoreFuture<'static, ()> {
        Box::pin(async { Ok(()) })
    }
}

/// One process's handle on the vendor's refresh endpoint.
struct SimVendor {
    world: Arc<World>,
    process: usize,
}

impl SimVendor {
    /// The vendor's answer to a refresh of `held` with `credentials`: a
    /// rotation (and the tokens it made), or why not.
    fn answer(
        &self,
        credentials: &ClientCredentials,
        held: &StoredTokens,
    ) -> Result<(String, String, u64), Box<RefreshOutcome>> {
        let world = &self.world;
        let now = world.vendor_now();
        let passing = world.faults() && world.harness.rng(|rng| rng.u8(..100)) < 12;
        let mut vendor = world.vendor.lock().unwrap();
        vendor.requests.push(Request {
            at: now,
            process: self.process,
            passing,
        });
        if passing {
            return Err(Box::new(unavailable("HTTP 429 Too Many Requests")));
        }
        let token = held.refresh_token.expose_secret();
        let right = credentials.client_secret.expose_secret() == RIGHT_SECRET;
        if !right || vendor.live_refresh.as_deref() != Some(token) {
            vendor.rejections.push(Rejection {
                seq: world.event(),
                at: now,
                token: token.to_owned(),
                credentials: credentials.fingerprint(),
                process: self.process,
            });
            return Err(Box::new(RefreshOutcome::Rejected {
                status: if right { 400 } else { 401 },
                message: Some(
                    if right {
                        "invalid refresh token"
                    } else {
                        "invalid client"
                    }
                    .into(),
                ),
            }));
        }
        if vendor.kills_old_access {
            vendor.access.remove(held.access_token.expose_secret());
        }
        let (access, refresh) = vendor.mint(now);
        let by_operator = world.config(self.process).role == Role::Operator;
        vendor.rotations.push(Rotation {
            at: now,
            to: refresh.clone(),
            process: self.process,
            by_operator,
            delivered: None,
            saved: false,
        });
        Ok((access, refresh, now))
    }
}

fn unavailable(reason: &str) -> RefreshOutcome {
    RefreshOutcome::Unavailable {
        reason: reason.into(),
    }
}

impl Refresher for SimVendor {
    fn refresh<'a>(
        &'a self,
        credentials: &'a ClientCredentials,
        held: &'a StoredTokens,
        sent_at: EpochMillis,
    ) -> Pin<Box<dyn Future<Output = RefreshOutcome> + Send + 'a>> {
        Box::pin(async move {
            let world = &self.world;
            world.harness.step(self.process, "refresh leaves").await;
            if !world.config(self.process).writable {
                world.violated(format!(
                    "p{} asked the vendor for a refresh with a store it cannot write",
                    self.process
                ));
            }
            let (access, refresh, now) = match self.answer(credentials, held) {
                Ok(rotation) => rotation,
                Err(outcome) => return *outcome,
            };
            world.harness.step(self.process, "vendor rotated").await;
            if world.faults() && world.harness.rng(|rng| rng.u8(..20)) == 0 {
                // The answer is lost on its way back.
                return unavailable("connection reset");
            }
            let sends_expiry = {
                let mut vendor = world.vendor.lock().unwrap();
                let delivered = world.event();
                if let Some(rotation) = vendor.rotations.iter_mut().find(|r| r.to == refresh) {
                    rotation.delivered = Some(delivered);
                }
                vendor.sends_expiry
            };
            let mut answer = json!({
                "access_token": access,
                "refresh_token": refresh,
                "token_type": "bearer",
                "expires_in": LIFETIME.as_secs(),
                "refresh_token_expiry": now + 90 * 24 * 3600 * 1000,
            });
            if sends_expiry {
                answer["access_token_expiry"] = json!(now + millis(LIFETIME));
            }
            rotated(answer.to_string().as_bytes(), held, sent_at)
        })
    }
}

/// Why a call failed.
#[derive(Debug)]
enum CallFailed {
    Auth(AuthError),
    /// The vendor answered 401, and no token cured it.
    Unauthorized,
}

fn secret_of(token: &AccessToken) -> String {
    token
        .bearer_header()
        .and_then(|header| AccessToken::sent_in(&header))
        .map(|secret| secret.expose_secret().to_owned())
        .unwrap_or_default()
}

/// One call, as the client makes it: a token, the request, and on a 401
/// the token another process refreshed (or a refresh), once.
async fn call(world: &World, process: usize, manager: &TokenManager) -> Result<(), CallFailed> {
    let token = manager.access_token().await.map_err(CallFailed::Auth)?;
    world.harness.step(process, "call").await;
    if world.accepts(&secret_of(&token)) {
        manager.note_accepted();
        return Ok(());
    }
    let again = manager
        .after_rejection(Secret::new(secret_of(&token)))
        .await
        .map_err(CallFailed::Auth)?
        .ok_or(CallFailed::Unauthorized)?;
    if world.accepts(&secret_of(&again)) {
        manager.note_accepted();
        Ok(())
    } else {
        Err(CallFailed::Unauthorized)
    }
}

/// One call of a replica, its failure said to whoever watches.
async fn service_call(world: Arc<World>, process: usize, manager: TokenManager) {
    let outcome = call(&world, process, &manager).await;
    if let Err(CallFailed::Auth(error)) = &outcome {
        world.alarm(error);
    }
    world
        .harness
        .trace(|| format!("p{process} call: {outcome:?}"));
}

/// What a process does, from its start to its end.
async fn process_work(world: Arc<World>, process: usize) {
    let config = world.config(process);
    let rng = |range: std::ops::Range<u64>| world.harness.rng(|rng| rng.u64(range));
    match config.role {
        Role::Service(calls) => {
            let manager = world.manager(process);
            for _ in 0..calls {
                tokio::time::sleep(Duration::from_millis(rng(0..millis(LIFETIME) / 4))).await;
                // Now and then a burst: several calls at once.
                let burst: Vec<_> = (0..rng(1..9))
                    .map(|_| tokio::spawn(service_call(world.clone(), process, manager.clone())))
                    .collect();
                for call in burst {
                    let _ = call.await;
                }
            }
        }
        Role::Operator => {
            tokio::time::sleep(Duration::from_millis(rng(0..4 * millis(LIFETIME)))).await;
            let outcome = world.manager(process).refresh_now().await;
            if let Err(error) = &outcome {
                world.alarm(error);
                if let AuthError::Transient(TransientAuth::RotationUnsaved { .. }) = error {
                    // The command ends, and says the rotation is lost.
                    world.told.lock().unwrap().insert(process);
                }
            }
            world
                .harness
                .trace(|| format!("p{process} refresh-token: {:?}", outcome.map(|_| ())));
        }
        Role::Person => {
            // Alerted by a process, or on their own (replacing tokens).
            let on_their_own = Duration::from_millis(rng(0..4 * millis(LIFETIME)));
            let _ = tokio::time::timeout(on_their_own, world.alarm.notified()).await;
            let now = world.vendor_now();
            let (access, refresh) = {
                let mut vendor = world.vendor.lock().unwrap();
                vendor.minted_by_a_person.push(now);
                vendor.mint(now)
            };
            // The person takes a while to paste them in.
            tokio::time::sleep(Duration::from_millis(rng(0..60_000))).await;
            let tokens = StoredTokens::new(
                Secret::new(access),
                Some(EpochMillis(now + millis(LIFETIME))),
                Secret::new(refresh),
                None,
            );
            let store = SimStore {
                world: world.clone(),
                process,
            };
            let outcome = store.save(tokens).await;
            world
                .harness
                .trace(|| format!("p{process} put new tokens in the store: {outcome:?}"));
        }
    }
}

/// The vendor revokes every token (as it may after "an unusual number of
/// refresh requests"), or only the access tokens, at a moment the seed
/// chooses.
async fn revocation(world: Arc<World>, at: u64, refresh_too: bool) {
    tokio::time::sleep(Duration::from_millis(at)).await;
    let mut vendor = world.vendor.lock().unwrap();
    if refresh_too {
        vendor.live_refresh = None;
    }
    vendor.access.clear();
    let now = world.vendor_now();
    vendor.revoked.push(now);
    world.harness.trace(|| {
        format!("the vendor revoked the access tokens (the refresh token too: {refresh_too})")
    });
}

/// The processes of one run.
fn configs(world: &World) -> Vec<Config> {
    let harness = &world.harness;
    let skew = |far: bool| {
        let limit: i64 = if far { 120_000 } else { 5_000 };
        harness.rng(|rng| rng.i64(-limit..=limit))
    };
    let mut configs: Vec<Config> = (0..harness.rng(|rng| rng.usize(2..6)))
        .map(|_| Config {
            role: Role::Service(harness.rng(|rng| rng.u32(10..40))),
            writable: harness.rng(|rng| rng.u8(..6)) != 0,
            right_credentials: harness.rng(|rng| rng.u8(..6)) != 0,
            skew_ms: skew(harness.rng(|rng| rng.u8(..4)) == 0),
        })
        .collect();
    for (role, one_in) in [(Role::Operator, 3), (Role::Person, 2)] {
        if harness.rng(|rng| rng.u8(..one_in)) == 0 {
            configs.push(Config {
                role,
                writable: true,
                right_credentials: true,
                skew_ms: skew(false),
            });
        }
    }
    configs
}

/// Runs `processes` until each has ended or crashed.
async fn run_all(world: &Arc<World>, processes: &[usize]) {
    let work = processes
        .iter()
        .map(|&process| (process, process_work(world.clone(), process)))
        .collect();
    world.harness.run_all(work).await;
}

/// A live replica's call once every access token has expired.
struct LastCall {
    process: usize,
    outcome: Result<(), CallFailed>,
    /// Whether the store's refresh token worked as the call began.
    store_was_live: bool,
}

/// The last phase: every access token has expired; each live replica
/// calls once, those that may refresh first.
async fn ending(world: &Arc<World>, replicas: &[usize]) -> Vec<LastCall> {
    world.ending.store(true, Ordering::Relaxed);
    tokio::time::sleep(LIFETIME + Duration::from_secs(60)).await;
    let mut live: Vec<usize> = replicas
        .iter()
        .copied()
        .filter(|process| !world.harness.crashed(*process))
        .collect();
    live.sort_by_key(|process| {
        let config = world.config(*process);
        (!(config.writable && config.right_credentials), *process)
    });
    let outcomes = Arc::new(Mutex::new(Vec::new()));
    for process in live {
        // One at a time; the call may crash too.
        let (caller, outcomes) = (world.clone(), outcomes.clone());
        let last_call = async move {
            let manager = caller.manager(process);
            let store_was_live = caller.store_is_live();
            let outcome = call(&caller, process, &manager).await;
            caller
                .harness
                .trace(|| format!("p{process} last call: {outcome:?}"));
            outcomes.lock().unwrap().push(LastCall {
                process,
                outcome,
                store_was_live,
            });
        };
        world.harness.run_all(vec![(process, last_call)]).await;
    }
    std::mem::take(&mut *outcomes.lock().unwrap())
}

/// One run of the simulation, from its harness's seed.
fn simulate(harness: Arc<Harness>) -> Result<(), String> {
    within_a_day(async move {
        let world = Arc::new(World {
            harness,
            start: Instant::now(),
            vendor: Mutex::default(),
            store: Mutex::default(),
            configs: Mutex::default(),
            violations: Mutex::default(),
            ending: AtomicBool::new(false),
            events: AtomicU64::new(0),
            told: Mutex::default(),
            full_until: Mutex::default(),
            alarm: tokio::sync::Notify::new(),
            managers: Mutex::default(),
        });
        let seeded = {
            let mut vendor = world.vendor.lock().unwrap();
            vendor.kills_old_access = world.harness.rng(|rng| rng.bool());
            vendor.sends_expiry = world.harness.rng(|rng| rng.bool());
            let (access, refresh) = vendor.mint(EPOCH_AT_START);
            StoredTokens::new(
                Secret::new(access),
                Some(EpochMillis(EPOCH_AT_START + millis(LIFETIME))),
                Secret::new(refresh),
                None,
            )
        };
        world.store.lock().unwrap().tokens = Some(seeded);
        let processes: Vec<usize> = configs(&world)
            .into_iter()
            .map(|config| world.start_process(config))
            .collect();
        if world.harness.rng(|rng| rng.u8(..2)) == 0 {
            let at = world.harness.rng(|rng| rng.u64(..4 * millis(LIFETIME)));
            let refresh_too = world.harness.rng(|rng| rng.bool());
            tokio::spawn(revocation(world.clone(), at, refresh_too));
        }
        run_all(&world, &processes).await;
        // A replica that crashed is started again, once.
        let again: Vec<usize> = processes
            .iter()
            .filter(|process| world.harness.crashed(**process))
            .map(|process| world.config(*process))
            .filter(|config| matches!(config.role, Role::Service(_)))
            .map(|config| world.start_process(config))
            .collect();
        run_all(&world, &again).await;
        let replicas: Vec<usize> = processes
            .iter()
            .chain(&again)
            .copied()
            .filter(|process| matches!(world.config(*process).role, Role::Service(_)))
            .collect();
        let last = ending(&world, &replicas).await;
        // The managers hold the world: the cycle goes with them.
        world.managers.lock().unwrap().clear();
        check(&world, &last)
    })
}

/// What must hold after every run (see the module's documentation).
fn check(world: &World, last: &[LastCall]) -> Result<(), String> {
    if let Some(violation) = world.violations.lock().unwrap().first() {
        return Err(violation.clone());
    }
    let vendor = world.vendor.lock().unwrap();
    let store = world.store.lock().unwrap();
    let configs = world.configs.lock().unwrap().clone();
    let skews: Vec<i64> = configs.values().map(|config| config.skew_ms).collect();
    let max = skews.iter().copied().max().unwrap_or(0);
    let min = skews.iter().copied().min().unwrap_or(0);
    // How far apart two clocks, or one clock and the vendor's, may be.
    let skew = u64::try_from((max - min).max(max.abs()).max(min.abs())).unwrap_or(0);
    rotations_kept(world, &vendor, &store)?;
    no_storm(&vendor, skew)?;
    passing_failures_back_off(&vendor, &configs)?;
    refusals_honoured(&vendor, &store, &configs, skew)?;
    drop((vendor, store));
    check_ending(world, last)
}

/// A rotation that reached its process is saved, unless the process died,
/// a one-shot command ended saying it could not save it, or a person's
/// tokens were put in the store after it (the rotation is then dropped).
fn rotations_kept(world: &World, vendor: &Vendor, store: &Store) -> Result<(), String> {
    for rotation in &vendor.rotations {
        let Some(delivered) = rotation.delivered else {
            continue;
        };
        let excused = world.harness.crashed(rotation.process)
            || world.told.lock().unwrap().contains(&rotation.process)
            || store.person_saves.iter().any(|saved| *saved > delivered);
        if !rotation.saved && !excused {
            return Err(format!(
                "p{} received a rotation and never saved it",
                rotation.process
            ));
        }
    }
    Ok(())
}

/// No rotation sooner after the one before than the access token's
/// lifetime less the margin and what the clocks' skew explains — unless a
/// person made new tokens between, the vendor revoked the access tokens,
/// or an operator asked (once).
fn no_storm(vendor: &Vendor, skew: u64) -> Result<(), String> {
    let acted_between = |from: u64, to: u64| {
        vendor
            .minted_by_a_person
            .iter()
            .chain(&vendor.revoked)
            .any(|at| (from..=to).contains(at))
    };
    for pair in vendor.rotations.windows(2) {
        let (earlier, later) = (&pair[0], &pair[1]);
        let twice_by_one_command = earlier.by_operator && earlier.process == later.process;
        let explained =
            (later.by_operator && !twice_by_one_command) || acted_between(earlier.at, later.at);
        let gap = later.at - earlier.at;
        if !explained && gap + skew < millis(LIFETIME - MARGIN) {
            return Err(format!(
                "p{} and p{} refreshed {gap} ms apart: a storm",
                earlier.process, later.process
            ));
        }
    }
    Ok(())
}

/// A replica whose refresh failed for a passing reason backs off: its next
/// refresh request comes a second later at the soonest (the backoff's first
/// pause, counted from before the lock was taken: a tenth of it is allowed
/// for the wait), whatever its calls meanwhile (a 401 included).
fn passing_failures_back_off(
    vendor: &Vendor,
    configs: &BTreeMap<usize, Config>,
) -> Result<(), String> {
    for (n, request) in vendor.requests.iter().enumerate() {
        if configs[&request.process].role == Role::Operator || !request.passing {
            continue;
        }
        let next = vendor.requests[n + 1..]
            .iter()
            .find(|later| later.process == request.process);
        if let Some(next) = next
            && next.at - request.at < 900
        {
            return Err(format!(
                "p{} asked for a refresh {} ms after one that failed for a passing reason",
                request.process,
                next.at - request.at
            ));
        }
    }
    Ok(())
}

/// A refused refresh token is not tried again within 15 minutes by the
/// process it was refused to, nor by another once the refusal is recorded.
fn refusals_honoured(
    vendor: &Vendor,
    store: &Store,
    configs: &BTreeMap<usize, Config>,
    skew: u64,
) -> Result<(), String> {
    let service = |process: usize| matches!(configs[&process].role, Role::Service(_));
    for (n, rejection) in vendor.rejections.iter().enumerate() {
        if !service(rejection.process) {
            continue;
        }
        let again_here = vendor.rejections[..n].iter().any(|earlier| {
            earlier.process == rejection.process
                && earlier.token == rejection.token
                && rejection.at - earlier.at < millis(REFUSAL_PAUSE)
        });
        let recorded = store
            .refusals
            .iter()
            .any(|(token, credentials, _, at, seq)| {
                *token == rejection.token
                    && *credentials == rejection.credentials
                    && *seq < rejection.seq
                    && rejection.at - at + skew < millis(REFUSAL_PAUSE)
            });
        if again_here || recorded {
            return Err(format!(
                "p{} tried the refused refresh token {} again too soon",
                rejection.process, rejection.token
            ));
        }
    }
    Ok(())
}

/// The last calls: each succeeded or called for a person; one by a
/// replica that may refresh succeeded if the store's refresh token worked
/// as it began.
fn check_ending(world: &World, last: &[LastCall]) -> Result<(), String> {
    for call in last {
        let process = call.process;
        let config = world.config(process);
        match &call.outcome {
            Ok(()) => {}
            Err(failed) if call.store_was_live && config.writable && config.right_credentials => {
                return Err(format!(
                    "the store's refresh token worked, and p{process} could not refresh: \
                     {failed:?}"
                ));
            }
            Err(CallFailed::Auth(AuthError::NeedsPerson(_))) => {}
            Err(failed) => {
                return Err(format!(
                    "p{process}'s last call failed without calling for a person: {failed:?}"
                ));
            }
        }
    }
    Ok(())
}

#[test]
fn token_rotation_across_replicas_crashes_and_skewed_clocks_never_loses_or_storms() {
    // The default budget reaches every step, and crashes at each.
    check_protocol("token rotation", DEFAULT_RUNS, &STEPS, simulate);
}
