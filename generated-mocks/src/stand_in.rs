//! `StandIn`: an in-process stand-in of the Reward Points API that keeps
//! state, for offline demos and for the users' own tests. Send adds to a
//! balance, cancel takes it back, fetch reports it, bad tokens get a 401.
//! It runs on the [`MockVendor`] servers (127.0.0.1 only), mounted through the
//! generated typed mocks, so it answers exactly the requests the client sends.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use httpmock::{HttpMockRequest, HttpMockResponse, MockServer, Then};
use serde_json::{Value, json};
use xoxoday_reward_points::{Client, Environment, ROUTES};

use crate::MockVendor;
use crate::generated::MockServerExt;

/// The access token the stand-in accepts from the start.
pub const STAND_IN_ACCESS_TOKEN: &str = "stand-in-access-token";
/// The refresh token the stand-in accepts from the start.
pub const STAND_IN_REFRESH_TOKEN: &str = "stand-in-refresh-token";

#[derive(Default)]
struct Ledger {
    balances: HashMap<String, f64>,
    /// unique_id → (recipient email, points, cancelled)
    transactions: BTreeMap<i64, (String, f64, bool)>,
    next_unique_id: i64,
    access_tokens: HashSet<String>,
    refresh_tokens: HashSet<String>,
    issued: u64,
}

/// A stateful local stand-in of the vendor's API.
pub struct StandIn {
    vendor: MockVendor,
    ledger: Arc<Mutex<Ledger>>,
}

type Shared = Arc<Mutex<Ledger>>;

fn lock(ledger: &Shared) -> MutexGuard<'_, Ledger> {
    ledger.lock().unwrap_or_else(|e| e.into_inner())
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
    /// Starts the stand-in on local servers, one per vendor host.
    pub async fn start() -> Self {
        let stand_in = Self {
            vendor: MockVendor::start_async().await,
            ledger: Arc::new(Mutex::new(Ledger {
                next_unique_id: 987_654_321,
                access_tokens: HashSet::from([STAND_IN_ACCESS_TOKEN.to_owned()]),
                refresh_tokens: HashSet::from([STAND_IN_REFRESH_TOKEN.to_owned()]),
                ..Ledger::default()
            })),
        };
        stand_in.mount();
        stand_in
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

    /// A user's balance as the stand-in keeps it.
    pub fn balance(&self, email: &str) -> f64 {
        lock(&self.ledger)
            .balances
            .get(email)
            .copied()
            .unwrap_or(0.0)
    }

    /// Every (server, operation) once: an operation is mounted on each
    /// server it goes to in some environment.
    fn mount(&self) {
        let mut mounted: Vec<(*const MockServer, &str)> = Vec::new();
        for route in &ROUTES {
            for environment in Environment::ALL {
                let server = self.vendor.server(environment, route.operation_id);
                let key = (server as *const MockServer, route.operation_id);
                if mounted.contains(&key) {
                    continue;
                }
                mounted.push(key);
                self.mount_operation(server, route.operation_id);
            }
        }
    }

    fn mount_operation(&self, server: &MockServer, operation_id: &str) {
        let ledger = self.ledger.clone();
        let answer =
            move |then: Then, handler: fn(&Shared, &HttpMockRequest) -> HttpMockResponse| {
                let ledger = ledger.clone();
                then.respond_with(move |request| handler(&ledger, request));
            };
        match operation_id {
            "validateTokenPoints" => {
                server.validate_token_points(|_, then| answer(then.into_inner(), validate));
            }
            "refreshToken" => {
                server.refresh_token(|_, then| answer(then.into_inner(), refresh));
            }
            "createUserToken" => {
                server.create_user_token(|_, then| answer(then.into_inner(), create_user_token));
            }
            "fetchPoints" => {
                server.fetch_points(|_, then| answer(then.into_inner(), fetch));
            }
            "sendPoints" => {
                server.send_points(|_, then| answer(then.into_inner(), send));
            }
            "cancelPoints" => {
                server.cancel_points(|_, then| answer(then.into_inner(), cancel));
            }
            // An operation added to the document that the stand-in does not
            // model yet: unmatched, so httpmock answers 404.
            _ => {}
        }
    }
}

fn authorized(ledger: &Shared, request: &HttpMockRequest) -> bool {
    bearer(request).is_some_and(|token| lock(ledger).access_tokens.contains(&token))
}

fn issue_tokens(ledger: &mut Ledger) -> Value {
    ledger.issued += 1;
    let access = format!("stand-in-access-token-{}", ledger.issued);
    let refresh = format!("stand-in-refresh-token-{}", ledger.issued);
    ledger.access_tokens.insert(access.clone());
    ledger.refresh_tokens.insert(refresh.clone());
    json!({
        "access_token": access,
        "token_type": "bearer",
        "expires_in": 1_296_000,
        "refresh_token": refresh,
        "access_token_expiry": 4_102_444_800_000u64,
        "refresh_token_expiry": 4_102_444_800_000u64
    })
}

fn validate(ledger: &Shared, request: &HttpMockRequest) -> HttpMockResponse {
    if !authorized(ledger, request) {
        return unauthorized();
    }
    respond(
        200,
        json!({ "access_token": bearer(request), "token_type": "bearer", "expires_in": 1_296_000,
                "access_token_expiry": 4_102_444_800_000u64, "refresh_token_expiry": 4_102_444_800_000u64 }),
    )
}

fn refresh(ledger: &Shared, request: &HttpMockRequest) -> HttpMockResponse {
    let body = body(request);
    let mut ledger = lock(ledger);
    let presented = body["refresh_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    // Each refresh token works once: the vendor rotates it.
    if !ledger.refresh_tokens.remove(&presented) {
        return unauthorized();
    }
    respond(200, issue_tokens(&mut ledger))
}

fn create_user_token(ledger: &Shared, request: &HttpMockRequest) -> HttpMockResponse {
    if !authorized(ledger, request) {
        return unauthorized();
    }
    respond(200, issue_tokens(&mut lock(ledger)))
}

fn fetch(ledger: &Shared, request: &HttpMockRequest) -> HttpMockResponse {
    if !authorized(ledger, request) {
        return unauthorized();
    }
    let body = body(request);
    let email = body["variables"]["user_data"]["email"].as_str();
    let Some(email) = email.filter(|email| !email.is_empty()) else {
        return respond(
            200,
            json!({ "data": { "user_balance": {
            "success": 0, "message": "missing user's details", "data": null } } }),
        );
    };
    let total = lock(ledger).balances.get(email).copied().unwrap_or(0.0);
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
    let mut ledger = lock(ledger);
    let mut answer = json!(null);
    for recipient in &recipients {
        let email = recipient["to_email"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
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
        let unique_id = ledger.next_unique_id;
        ledger.next_unique_id += 1;
        *ledger.balances.entry(email.clone()).or_default() += points;
        ledger
            .transactions
            .insert(unique_id, (email.clone(), points, false));
        if answer.is_null() {
            answer = json!({ "data": { "unique_id": unique_id, "email": email, "points": points,
                "name": first["to_name"], "phone_code": "+1", "phone_number": "5550100" } });
        }
    }
    respond(200, answer)
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
        let outcome = match ledger.transactions.get(&unique_id).cloned() {
            Some((email, points, false)) => {
                *ledger.balances.entry(email.clone()).or_default() -= points;
                ledger.transactions.insert(unique_id, (email, points, true));
                json!({ "unique_id": unique_id, "success": true, "message": "Points cancelled successfully" })
            }
            Some((_, _, true)) => {
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
