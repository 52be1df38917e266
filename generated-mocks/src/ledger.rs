//! The stand-in's state and what it answers, whatever serves it: the
//! in-process [`StandIn`](crate::StandIn) on httpmock servers, or the
//! [`StandInServer`](crate::StandInServer) a shell starts on one port.
//!
//! Send adds to a balance and answers one transaction id per send (whatever
//! the number of recipients); cancel takes it back once; fetch reports it, by
//! email or by a phone the ledger knows (each recipient gets one on their
//! first credit, and [`Ledger::register_phone`] adds others); bad tokens get
//! 401; the refresh token rotates strictly.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde::Serialize;
use serde_json::{Value, json};
use xoxoday_reward_points::{EpochMillis, Operation, Secret, StoredTokens};

/// The access token the stand-in accepts from the start.
pub const STAND_IN_ACCESS_TOKEN: &str = "stand-in-access-token";
/// The refresh token the stand-in accepts from the start.
pub const STAND_IN_REFRESH_TOKEN: &str = "stand-in-refresh-token";

/// The vendor's access tokens live 15 days.
pub(crate) const VENDOR_TOKEN_LIFETIME: Duration = Duration::from_secs(1_296_000);
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

/// One credit as the stand-in's ledger holds it: what a person checks an
/// in-doubt payout row against.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct Credit {
    /// The transaction id send points answered (or would have, had the
    /// answer not been dropped).
    pub unique_id: i64,
    /// The recipient.
    pub email: String,
    /// The points credited.
    pub points: f64,
    /// Whether a cancel took it back.
    pub cancelled: bool,
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

/// The stand-in's whole state.
pub(crate) struct Ledger {
    balances: HashMap<String, f64>,
    /// phone → email, for fetch by phone.
    phones: HashMap<String, String>,
    /// email → phone number (without its `+1` country code), given on the
    /// first credit.
    numbers: HashMap<String, String>,
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
    initial_tokens: StoredTokens,
}

/// The ledger, shared by every server of one stand-in.
pub(crate) type Shared = Arc<Mutex<Ledger>>;

pub(crate) fn lock(ledger: &Shared) -> MutexGuard<'_, Ledger> {
    ledger.lock().unwrap_or_else(|e| e.into_inner())
}

fn now_millis() -> u64 {
    EpochMillis::now().as_millis()
}

fn millis(duration: Duration) -> u64 {
    duration.as_millis() as u64
}

/// A request as the ledger needs it.
pub(crate) struct Request<'a> {
    /// The token after `Bearer `, if any.
    pub bearer: Option<&'a str>,
    pub body: &'a [u8],
}

/// What the stand-in answers.
pub(crate) struct Answer {
    pub status: u16,
    pub body: Value,
}

fn respond(status: u16, body: Value) -> Answer {
    Answer { status, body }
}

fn unauthorized() -> Answer {
    respond(401, json!({ "error": "Unauthorized" }))
}

impl Ledger {
    pub(crate) fn new(token_lifetime: Duration, revoke_replaced: bool) -> Shared {
        let now = now_millis();
        let initial_tokens = StoredTokens::new(
            Secret::new(STAND_IN_ACCESS_TOKEN),
            Some(EpochMillis(now + millis(token_lifetime))),
            Secret::new(STAND_IN_REFRESH_TOKEN),
            Some(EpochMillis(now + millis(REFRESH_TOKEN_LIFETIME))),
        );
        Arc::new(Mutex::new(Ledger {
            balances: HashMap::new(),
            phones: HashMap::new(),
            numbers: HashMap::new(),
            transactions: BTreeMap::new(),
            received: HashMap::new(),
            next_unique_id: 987_654_321,
            access: HashMap::from([(
                STAND_IN_ACCESS_TOKEN.to_owned(),
                AccessGrant {
                    expiry: now + millis(token_lifetime),
                    company: true,
                },
            )]),
            refresh_token: STAND_IN_REFRESH_TOKEN.to_owned(),
            issued: 0,
            refreshes: RefreshCounts::default(),
            token_lifetime,
            revoke_replaced,
            initial_tokens,
        }))
    }

    pub(crate) fn initial_tokens(&self) -> StoredTokens {
        self.initial_tokens.clone()
    }

    pub(crate) fn balance(&self, email: &str) -> f64 {
        self.balances.get(email).copied().unwrap_or(0.0)
    }

    pub(crate) fn requests_received(&self, operation: Operation) -> u64 {
        self.received.get(&operation).copied().unwrap_or(0)
    }

    pub(crate) fn register_phone(&mut self, phone: &str, email: &str) {
        self.phones.insert(phone.to_owned(), email.to_owned());
    }

    pub(crate) fn refresh_counts(&self) -> RefreshCounts {
        self.refreshes
    }

    /// Every credit, one per recipient of each send, oldest first.
    pub(crate) fn credits(&self) -> Vec<Credit> {
        self.transactions
            .iter()
            .flat_map(|(unique_id, transaction)| {
                transaction.credits.iter().map(|(email, points)| Credit {
                    unique_id: *unique_id,
                    email: email.clone(),
                    points: *points,
                    cancelled: transaction.cancelled,
                })
            })
            .collect()
    }

    /// The ledger as a shell reads it: balances and credits.
    pub(crate) fn view(&self) -> Value {
        let balances: BTreeMap<&String, &f64> = self.balances.iter().collect();
        json!({ "balances": balances, "credits": self.credits() })
    }

    fn authorized(&self, request: &Request<'_>) -> bool {
        let Some(token) = request.bearer else {
            return false;
        };
        let now = now_millis();
        self.access
            .get(token)
            .is_some_and(|grant| now < grant.expiry)
    }

    /// New tokens: for the integration (a refresh) or for a user.
    fn issue_tokens(&mut self, company: bool) -> Value {
        let now = now_millis();
        self.issued += 1;
        let access = format!("stand-in-access-token-{}", self.issued);
        let refresh = format!("stand-in-refresh-token-{}", self.issued);
        let expiry = now + millis(self.token_lifetime);
        if company && self.revoke_replaced {
            self.access.retain(|_, grant| !grant.company);
        }
        self.access.retain(|_, grant| now < grant.expiry);
        self.access
            .insert(access.clone(), AccessGrant { expiry, company });
        if company {
            self.refresh_token = refresh.clone();
        }
        json!({
            "access_token": access,
            "token_type": "bearer",
            "expires_in": self.token_lifetime.as_secs(),
            "refresh_token": refresh,
            "access_token_expiry": expiry,
            "refresh_token_expiry": now + millis(REFRESH_TOKEN_LIFETIME)
        })
    }

    /// Counts the request and answers it as the vendor would.
    pub(crate) fn answer(&mut self, operation: Operation, request: &Request<'_>) -> Answer {
        *self.received.entry(operation).or_default() += 1;
        let body: Value = serde_json::from_slice(request.body).unwrap_or(Value::Null);
        match operation {
            Operation::RefreshToken => self.refresh(&body),
            _ if !self.authorized(request) => unauthorized(),
            Operation::ValidateTokenPoints => self.validate(request.bearer.unwrap_or_default()),
            Operation::CreateUserToken => respond(200, self.issue_tokens(false)),
            Operation::FetchPoints => self.fetch(&body),
            Operation::SendPoints => self.send(&body),
            Operation::CancelPoints => self.cancel(&body),
            // An operation the stand-in does not model.
            _ => respond(404, json!({ "error": "not modelled by the stand-in" })),
        }
    }

    fn validate(&self, token: &str) -> Answer {
        let expiry = self.access.get(token).map_or(0, |grant| grant.expiry);
        respond(
            200,
            json!({ "access_token": token, "token_type": "bearer",
                    "expires_in": self.token_lifetime.as_secs(),
                    "access_token_expiry": expiry,
                    "refresh_token_expiry": now_millis() + millis(REFRESH_TOKEN_LIFETIME) }),
        )
    }

    fn refresh(&mut self, body: &Value) -> Answer {
        let presented = body["refresh_token"].as_str().unwrap_or_default();
        // Only the latest refresh token works: the vendor rotates it on every
        // refresh and kills the old one at once.
        if presented.is_empty() || presented != self.refresh_token {
            self.refreshes.rejected += 1;
            return respond(401, json!({ "error": "invalid refresh token" }));
        }
        self.refreshes.accepted += 1;
        respond(200, self.issue_tokens(true))
    }

    fn fetch(&self, body: &Value) -> Answer {
        let user = &body["variables"]["user_data"];
        let email = match (user["email"].as_str(), user["phone"].as_str()) {
            (Some(email), _) if !email.is_empty() => Some(email),
            (_, Some(phone)) => self.phones.get(phone).map(String::as_str),
            _ => None,
        };
        let Some(email) = email else {
            return respond(
                200,
                json!({ "data": { "user_balance": {
                "success": 0, "message": "missing user's details", "data": null } } }),
            );
        };
        respond(
            200,
            json!({ "data": { "user_balance": {
            "success": 1, "message": null, "data": { "total": self.balance(email) } } } }),
        )
    }

    fn send(&mut self, body: &Value) -> Answer {
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
        let unique_id = self.next_unique_id;
        self.next_unique_id += 1;
        for (email, points) in &credits {
            *self.balances.entry(email.clone()).or_default() += points;
            let next = self.numbers.len() + 1;
            let number = self
                .numbers
                .entry(email.clone())
                .or_insert_with(|| format!("555{next:04}"))
                .clone();
            self.phones.insert(format!("+1-{number}"), email.clone());
        }
        let total: f64 = credits.iter().map(|(_, points)| points).sum();
        let first_email = first["to_email"].as_str().unwrap_or_default();
        let number = self.numbers.get(first_email).cloned().unwrap_or_default();
        self.transactions.insert(
            unique_id,
            Transaction {
                credits,
                cancelled: false,
            },
        );
        respond(
            200,
            json!({ "data": { "unique_id": unique_id, "email": first_email, "points": total,
                "name": first["to_name"], "phone_code": "+1", "phone_number": number } }),
        )
    }

    fn cancel(&mut self, body: &Value) -> Answer {
        let recipients = body["variables"]["recipients_data"]["recipients"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let mut results = Vec::new();
        for recipient in recipients {
            let unique_id = recipient["unique_id"].as_i64().unwrap_or_default();
            let outcome = match self.transactions.get_mut(&unique_id) {
                Some(transaction) if !transaction.cancelled => {
                    transaction.cancelled = true;
                    for (email, points) in &transaction.credits {
                        *self.balances.entry(email.clone()).or_default() -= points;
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
}
