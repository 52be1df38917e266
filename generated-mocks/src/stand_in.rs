//! `StandIn`: an in-process stand-in of the Reward Points API that keeps
//! state, for offline demos and for the users' own tests. Send adds to a
//! balance, cancel takes it back, fetch reports it, bad tokens get a 401.
//!
//! One send is one transaction, whatever the number of recipients: the
//! vendor's answer carries one `unique_id`, and cancelling it takes back
//! every recipient's points. Fetch by phone finds users registered with
//! [`StandIn::register_phone`]; any other phone is refused as the vendor
//! refuses a request without a user (`success: 0`).
//! It runs on the [`MockVendor`] servers (127.0.0.1 only), mounted through the
//! generated typed mocks, so it answers exactly the requests the client sends.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use httpmock::{HttpMockRequest, HttpMockResponse, MockServer, Then};
use serde_json::{Value, json};
use xoxoday_reward_points::{Client, Environment, EpochMillis, Operation, Secret, StoredTokens};

use crate::MockVendor;
use crate::generated::MockServerExt;

/// The access token the stand-in accepts from the start.
pub const STAND_IN_ACCESS_TOKEN: &str = "stand-in-access-token";
/// The refresh token the stand-in accepts from the start.
pub const STAND_IN_REFRESH_TOKEN: &str = "stand-in-refresh-token";

/// The vendor's access tokens live 15 days.
const VENDOR_TOKEN_LIFETIME: Duration = Duration::from_secs(1_296_000);
/// Refresh tokens outlive everything a test does.
const REFRESH_TOKEN_LIFETIME: Duration = Duration::from_secs(60 * 86_400);

/// How many refresh requests the stand-in accepted and refused.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RefreshCounts {
    /// Refreshes with the one valid refresh token: each rotated it.
    pub accepted: u64,
    /// Refreshes with any other refresh token (one already rotated away).
    pub rejected: u64,
}

struct AccessGrant {
    /// Epoch milliseconds.
    expiry: u64,
    /// Issued by a refresh (the integration's), not by create user token.
    company: bool,
}

/// One send: what each recipient was credited, and whether it was
/// cancelled.
struct Transaction {
    credits: Vec<(String, f64)>,
    cancelled: bool,
}

struct Ledger {
    balances: HashMap<String, f64>,
    /// phone → email, for fetch by phone.
    phones: HashMap<String, String>,
    transactions: BTreeMap<i64, Transaction>,
    /// Requests received, per operation, answered or not.
    received: HashMap<Operation, u64>,
    next_unique_id: i64,
    access: HashMap<String, AccessGrant>,
    /// The integration's one valid refresh token: strict rotation.
    refresh_token: String,
    issued: u64,
    refreshes: RefreshCounts,
    token_lifetime: Duration,
    revoke_replaced: bool,
}

/// A stateful local stand-in of the vendor's API.
pub struct StandIn {
    vendor: MockVendor,
    ledger: Shared,
    initial_tokens: StoredTokens,
}

/// Builds a [`StandIn`] with tokens other than the vendor's defaults.
#[derive(Debug, Clone)]
pub struct StandInBuilder {
    token_lifetime: Duration,
    revoke_replaced: bool,
}

impl StandInBuilder {
    /// How long an access token lives (the vendor's 15 days by default): a
    /// short one makes clients refresh during a test.
    pub fn token_lifetime(mut self, lifetime: Duration) -> Self {
        self.token_lifetime = lifetime;
        self
    }

    /// Whether a refresh also kills the integration's earlier access tokens
    /// (off by default, as the vendor says nothing of it). The refresh token
    /// always rotates strictly: only the latest one works.
    pub fn revoke_replaced_access_tokens(mut self, revoke: bool) -> Self {
        self.revoke_replaced = revoke;
        self
    }

    /// Starts the stand-in on local servers, one per vendor host.
    pub async fn start(self) -> StandIn {
        let now = now_millis();
        let initial_tokens = StoredTokens {
            access_token: Secret::new(STAND_IN_ACCESS_TOKEN),
            access_token_expiry: Some(EpochMillis(now + millis(self.token_lifetime))),
            refresh_token: Secret::new(STAND_IN_REFRESH_TOKEN),
            refresh_token_expiry: Some(EpochMillis(now + millis(REFRESH_TOKEN_LIFETIME))),
        };
        let ledger = Ledger {
            balances: HashMap::new(),
            phones: HashMap::new(),
            transactions: BTreeMap::new(),
            received: HashMap::new(),
            next_unique_id: 987_654_321,
            access: HashMap::from([(
                STAND_IN_ACCESS_TOKEN.to_owned(),
                AccessGrant {
                    expiry: now + millis(self.token_lifetime),
                    company: true,
                },
            )]),
            refresh_token: STAND_IN_REFRESH_TOKEN.to_owned(),
            issued: 0,
            refreshes: RefreshCounts::default(),
            token_lifetime: self.token_lifetime,
            revoke_replaced: self.revoke_replaced,
        };
        let stand_in = StandIn {
            vendor: MockVendor::start_async().await,
            ledger: Arc::new(Mutex::new(ledger)),
            initial_tokens,
        };
        stand_in.mount();
        stand_in
    }
}

type Shared = Arc<Mutex<Ledger>>;

fn lock(ledger: &Shared) -> MutexGuard<'_, Ledger> {
    ledger.lock().unwrap_or_else(|e| e.into_inner())
}

fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as u64)
}

fn millis(duration: Duration) -> u64 {
    duration.as_millis() as u64
}

fn respond(status: u16, body: Value) -> HttpMockResponse {
    HttpMockResponse::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(body.to_string())
        .build()
}

fn unauthorized() -> HttpMockResponse {
    respond(401, json!({ "error": "Unauthorized" }))
}

fn bearer(request: &HttpMockRequest) -> Option<String> {
    let headers = request.headers();
    let value = headers.get("authorization")?.to_str().ok()?;
    value.strip_prefix("Bearer ").map(str::to_owned)
}

fn body(request: &HttpMockRequest) -> Value {
    serde_json::from_slice(&request.body_bytes()).unwrap_or(Value::Null)
}

impl StandIn {
    /// Starts the stand-in on local servers, one per vendor host, with the
    /// vendor's token lifetime.
    pub async fn start() -> Self {
        Self::builder().start().await
    }

    /// A stand-in with other token settings.
    pub fn builder() -> StandInBuilder {
        StandInBuilder {
            token_lifetime: VENDOR_TOKEN_LIFETIME,
            revoke_replaced: false,
        }
    }

    /// A client for `environment` that talks to the stand-in with its token.
    pub fn client(&self, environment: Environment) -> Client {
        self.vendor.client(environment, STAND_IN_ACCESS_TOKEN)
    }

    /// The servers, to build clients of other kinds (a token store, a bad
    /// token) with [`MockVendor::client_builder`].
    pub fn vendor(&self) -> &MockVendor {
        &self.vendor
    }

    /// The tokens the stand-in issued at its start, to seed a token store.
    pub fn initial_tokens(&self) -> StoredTokens {
        self.initial_tokens.clone()
    }

    /// A user's balance as the stand-in keeps it.
    pub fn balance(&self, email: &str) -> f64 {
        lock(&self.ledger)
            .balances
            .get(email)
            .copied()
            .unwrap_or(0.0)
    }

    /// How many requests for `operation` reached the stand-in so far,
    /// whatever it answered: zero proves a call sent nothing.
    pub fn requests_received(&self, operation: Operation) -> u64 {
        lock(&self.ledger)
            .received
            .get(&operation)
            .copied()
            .unwrap_or(0)
    }

    /// Lets fetch points find the user with `email` by `phone` too (written
    /// as the client sends it, such as `+91-8999888887`).
    pub fn register_phone(&self, phone: &str, email: &str) {
        lock(&self.ledger)
            .phones
            .insert(phone.to_owned(), email.to_owned());
    }

    /// How many refresh requests were accepted and refused so far.
    pub fn refresh_counts(&self) -> RefreshCounts {
        lock(&self.ledger).refreshes
    }

    /// Every (server, operation) once: an operation is mounted on each
    /// server it goes to in some environment.
    fn mount(&self) {
        let mut mounted: Vec<(*const MockServer, Operation)> = Vec::new();
        for operation in Operation::ALL {
            for environment in Environment::ALL {
                let server = self.vendor.server(environment, operation);
                let key = (server as *const MockServer, operation);
                if mounted.contains(&key) {
                    continue;
                }
                mounted.push(key);
                self.mount_operation(server, operation);
            }
        }
    }

    fn mount_operation(&self, server: &MockServer, operation: Operation) {
        let ledger = self.ledger.clone();
        let answer =
            move |then: Then, handler: fn(&Shared, &HttpMockRequest) -> HttpMockResponse| {
                let ledger = ledger.clone();
                then.respond_with(move |request| {
                    *lock(&ledger).received.entry(operation).or_default() += 1;
                    handler(&ledger, request)
                });
            };
        // An operation renamed or removed in the document is a compile error
        // here; one added lands in the last arm until the stand-in models it.
        match operation {
            Operation::ValidateTokenPoints => {
                server.validate_token_points(|_, then| answer(then.into_inner(), validate));
            }
            Operation::RefreshToken => {
                server.refresh_token(|_, then| answer(then.into_inner(), refresh));
            }
            Operation::CreateUserToken => {
                server.create_user_token(|_, then| answer(then.into_inner(), create_user_token));
            }
            Operation::FetchPoints => {
                server.fetch_points(|_, then| answer(then.into_inner(), fetch));
            }
            Operation::SendPoints => {
                server.send_points(|_, then| answer(then.into_inner(), send));
            }
            Operation::CancelPoints => {
                server.cancel_points(|_, then| answer(then.into_inner(), cancel));
            }
            // Not modelled: unmatched, so the stand-in answers 404.
            _ => {}
        }
    }
}

fn authorized(ledger: &Shared, request: &HttpMockRequest) -> bool {
    let Some(token) = bearer(request) else {
        return false;
    };
    let now = now_millis();
    lock(ledger)
        .access
        .get(&token)
        .is_some_and(|grant| now < grant.expiry)
}

/// New tokens: for the integration (a refresh) or for a user.
fn issue_tokens(ledger: &mut Ledger, company: bool) -> Value {
    let now = now_millis();
    ledger.issued += 1;
    let access = format!("stand-in-access-token-{}", ledger.issued);
    let refresh = format!("stand-in-refresh-token-{}", ledger.issued);
    let expiry = now + millis(ledger.token_lifetime);
    if company && ledger.revoke_replaced {
        ledger.access.retain(|_, grant| !grant.company);
    }
    ledger.access.retain(|_, grant| now < grant.expiry);
    ledger
        .access
        .insert(access.clone(), AccessGrant { expiry, company });
    if company {
        ledger.refresh_token = refresh.clone();
    }
    json!({
        "access_token": access,
        "token_type": "bearer",
        "expires_in": ledger.token_lifetime.as_secs(),
        "refresh_token": refresh,
        "access_token_expiry": expiry,
        "refresh_token_expiry": now + millis(REFRESH_TOKEN_LIFETIME)
    })
}

fn validate(ledger: &Shared, request: &HttpMockRequest) -> HttpMockResponse {
    if !authorized(ledger, request) {
        return unauthorized();
    }
    let token = bearer(request).unwrap_or_default();
    let ledger = lock(ledger);
    let expiry = ledger.access.get(&token).map_or(0, |grant| grant.expiry);
    respond(
        200,
        json!({ "access_token": token, "token_type": "bearer",
                "expires_in": ledger.token_lifetime.as_secs(),
                "access_token_expiry": expiry,
                "refresh_token_expiry": now_millis() + millis(REFRESH_TOKEN_LIFETIME) }),
    )
}

fn refresh(ledger: &Shared, request: &HttpMockRequest) -> HttpMockResponse {
    let body = body(request);
    let mut ledger = lock(ledger);
    let presented = body["refresh_token"].as_str().unwrap_or_default();
    // Only the latest refresh token works: the vendor rotates it on every
    // refresh and kills the old one at once.
    if presented.is_empty() || presented != ledger.refresh_token {
        ledger.refreshes.rejected += 1;
        return respond(401, json!({ "error": "invalid refresh token" }));
    }
    ledger.refreshes.accepted += 1;
    respond(200, issue_tokens(&mut ledger, true))
}

fn create_user_token(ledger: &Shared, request: &HttpMockRequest) -> HttpMockResponse {
    if !authorized(ledger, request) {
        return unauthorized();
    }
    respond(200, issue_tokens(&mut lock(ledger), false))
}

fn fetch(ledger: &Shared, request: &HttpMockRequest) -> HttpMockResponse {
    if !authorized(ledger, request) {
        return unauthorized();
    }
    let body = body(request);
    let user = &body["variables"]["user_data"];
    let ledger = lock(ledger);
    let email = match (user["email"].as_str(), user["phone"].as_str()) {
        (Some(email), _) if !email.is_empty() => Some(email),
        (_, Some(phone)) => ledger.phones.get(phone).map(String::as_str),
        _ => None,
    };
    let Some(email) = email else {
        return respond(
            200,
            json!({ "data": { "user_balance": {
            "success": 0, "message": "missing user's details", "data": null } } }),
        );
    };
    let total = ledger.balances.get(email).copied().unwrap_or(0.0);
    respond(
        200,
        json!({ "data": { "user_balance": {
        "success": 1, "message": null, "data": { "total": total } } } }),
    )
}

fn send(ledger: &Shared, request: &HttpMockRequest) -> HttpMockResponse {
    if !authorized(ledger, request) {
        return unauthorized();
    }
    let body = body(request);
    let variables = &body["variables"];
    // Both readings of the vendor's pages: under `recipients_data` or not.
    let data = if variables.get("recipients_data").is_some() {
        &variables["recipients_data"]
    } else {
        variables
    };
    let recipients = data["recipients"].as_array().cloned().unwrap_or_default();
    let Some(first) = recipients.first() else {
        return respond(
            200,
            json!({ "data": { "sendBalance": { "error": true, "message": "no recipients" } } }),
        );
    };
    let mut credits = Vec::new();
    for recipient in &recipients {
        let email = recipient["to_email"].as_str().unwrap_or_default();
        let Ok(points) = recipient["amount"]
            .as_str()
            .unwrap_or_default()
            .parse::<f64>()
        else {
            return respond(
                200,
                json!({ "data": { "sendBalance": {
                "error": true, "message": "amount must be a number in a string" } } }),
            );
        };
        credits.push((email.to_owned(), points));
    }
    let mut ledger = lock(ledger);
    let unique_id = ledger.next_unique_id;
    ledger.next_unique_id += 1;
    for (email, points) in &credits {
        *ledger.balances.entry(email.clone()).or_default() += points;
    }
    let total: f64 = credits.iter().map(|(_, points)| points).sum();
    ledger.transactions.insert(
        unique_id,
        Transaction {
            credits,
            cancelled: false,
        },
    );
    respond(
        200,
        json!({ "data": { "unique_id": unique_id, "email": first["to_email"], "points": total,
            "name": first["to_name"], "phone_code": "+1", "phone_number": "5550100" } }),
    )
}

fn cancel(ledger: &Shared, request: &HttpMockRequest) -> HttpMockResponse {
    if !authorized(ledger, request) {
        return unauthorized();
    }
    let body = body(request);
    let recipients = body["variables"]["recipients_data"]["recipients"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut ledger = lock(ledger);
    let mut results = Vec::new();
    for recipient in recipients {
        let unique_id = recipient["unique_id"].as_i64().unwrap_or_default();
        let ledger = &mut *ledger;
        let outcome = match ledger.transactions.get_mut(&unique_id) {
            Some(transaction) if !transaction.cancelled => {
                transaction.cancelled = true;
                for (email, points) in &transaction.credits {
                    *ledger.balances.entry(email.clone()).or_default() -= points;
                }
                json!({ "unique_id": unique_id, "success": true, "message": "Points cancelled successfully" })
            }
            Some(_) => {
                json!({ "unique_id": unique_id, "success": false, "message": "already cancelled" })
            }
            None => {
                json!({ "unique_id": unique_id, "success": false, "message": "no such transaction" })
            }
        };
        results.push(outcome);
    }
    respond(
        200,
        json!({ "data": { "cancelBalance": {
        "error": false, "message": "processed", "recipients": results } } }),
    )
}
