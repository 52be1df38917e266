//! `StandInServer`: the stand-in's ledger on one HTTP port of 127.0.0.1,
//! for a shell or any language (`reward-points stand-in --port P` starts
//! one), with faults to inject for testing payout runs: latency, 429, 500,
//! and answers dropped after crediting.
//!
//! Every vendor origin is sent to the one port (the client's origin
//! overrides); each request is told apart by what the route table says of
//! it: method, real path, and the body's constants (`query`), so a request
//! the client would not send gets a 404. `GET /stand-in/ledger` answers the
//! ledger: balances and credits, to check in-doubt payout rows against.
//!
//! hyper serves it (already in the tree through httpmock); a dropped answer
//! is the service failing after the ledger credited, which makes hyper
//! close the connection without answering.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use xoxoday_reward_points::{Environment, Operation, ROUTES};

use crate::ledger::{self, Credit, Ledger, STAND_IN_ACCESS_TOKEN, Shared, VENDOR_TOKEN_LIFETIME};

/// The path that answers the ledger.
pub const LEDGER_PATH: &str = "/stand-in/ledger";
/// Where the stand-in's redirects point; it counts what reaches it.
pub const ELSEWHERE_PATH: &str = "/stand-in/elsewhere";

/// Faults the server injects into the points operations (fetch, send,
/// cancel), each in a share of requests (0.0 to 1.0). Which requests is
/// decided by the seed, the request's body and how often that body came
/// before — not by arrival order — so a run repeats its faults however its
/// requests interleave, and a request sent again meets a fresh roll.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Faults {
    latency: Duration,
    rate_limited: f64,
    retry_after_seconds: u64,
    server_errors: f64,
    dropped_answers: f64,
    undocumented_status: (f64, u16),
    seed: u64,
}

impl Faults {
    /// No faults.
    pub fn none() -> Self {
        Self::default()
    }

    /// Every points request waits this long before it is answered.
    pub fn latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    /// This share of points requests get HTTP 429 with `Retry-After:
    /// seconds`, and are not processed.
    pub fn rate_limited(mut self, share: f64, retry_after_seconds: u64) -> Self {
        self.rate_limited = share;
        self.retry_after_seconds = retry_after_seconds;
        self
    }

    /// This share of points requests get HTTP 500, and are not processed.
    pub fn server_errors(mut self, share: f64) -> Self {
        self.server_errors = share;
        self
    }

    /// This share of sends are credited, then the connection is closed
    /// without an answer: the client cannot know the points arrived.
    pub fn dropped_answers(mut self, share: f64) -> Self {
        self.dropped_answers = share;
        self
    }

    /// This share of sends are credited, then answered with `status` and
    /// no body: a status that says neither done nor not done (202 Accepted),
    /// or a redirect (3xx) whose `Location` is [`ELSEWHERE_PATH`] on this
    /// server, which counts what reaches it.
    pub fn undocumented_status(mut self, share: f64, status: u16) -> Self {
        self.undocumented_status = (share, status);
        self
    }

    /// The generator's seed (0 by default).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
}

/// How many faults the server injected so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FaultCounts {
    /// Answered 429.
    pub rate_limited: u64,
    /// Answered 500.
    pub server_errors: u64,
    /// Credited, then closed without an answer.
    pub dropped_answers: u64,
    /// Credited, then answered with the undocumented status.
    pub undocumented_statuses: u64,
    /// Requests that reached [`ELSEWHERE_PATH`]: a redirect followed.
    pub redirects_followed: u64,
}

struct State {
    ledger: Shared,
    faults: Faults,
    /// How often each body came, by its hash.
    seen: Mutex<HashMap<u64, u32>>,
    rate_limited: AtomicU64,
    server_errors: AtomicU64,
    dropped_answers: AtomicU64,
    undocumented_statuses: AtomicU64,
    redirects_followed: AtomicU64,
    /// This server's origin, for the `Location` of its redirects.
    origin: String,
    /// Where each operation is sent, from the route table.
    routes: Vec<Destination>,
}

/// The stand-in on one port of 127.0.0.1; stops when dropped.
pub struct StandInServer {
    address: SocketAddr,
    state: Arc<State>,
    task: JoinHandle<()>,
}

impl Drop for StandInServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The thing a dropped answer makes the service fail with.
#[derive(Debug)]
struct DroppedAnswer;

impl std::fmt::Display for DroppedAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("answer dropped after crediting (a stand-in fault)")
    }
}

impl std::error::Error for DroppedAnswer {}

impl StandInServer {
    /// Listens on 127.0.0.1:`port` (0: any free port) with `faults`.
    pub async fn start(port: u16, faults: Faults) -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        let address = listener.local_addr()?;
        let state = Arc::new(State {
            ledger: Ledger::new(VENDOR_TOKEN_LIFETIME, false),
            seen: Mutex::new(HashMap::new()),
            faults,
            rate_limited: AtomicU64::new(0),
            server_errors: AtomicU64::new(0),
            dropped_answers: AtomicU64::new(0),
            undocumented_statuses: AtomicU64::new(0),
            redirects_followed: AtomicU64::new(0),
            origin: format!("http://{address}"),
            routes: route_table(),
        });
        let serving = state.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let state = serving.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request| handle(state.clone(), request));
                    // A dropped answer ends the connection with an error:
                    // that is the fault, not a failure of the server.
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Self {
            address,
            state,
            task,
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn origin(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Each vendor origin, and this server's origin to send it to.
    pub fn origin_overrides(&self) -> Vec<(String, String)> {
        crate::vendor::vendor_origins()
            .into_iter()
            .map(|vendor| (vendor, self.origin()))
            .collect()
    }

    /// The access token the stand-in accepts.
    pub fn access_token(&self) -> &'static str {
        STAND_IN_ACCESS_TOKEN
    }

    /// A client for `environment` routed to this server, with the
    /// stand-in's token.
    pub fn client(&self, environment: Environment) -> xoxoday_reward_points::Client {
        let mut builder = xoxoday_reward_points::Client::builder(environment).access_token(
            xoxoday_reward_points::AccessToken::new(STAND_IN_ACCESS_TOKEN),
        );
        for (vendor, local) in self.origin_overrides() {
            builder = builder
                .origin_override(&vendor, &local)
                .expect("vendor origins and a loopback origin are accepted");
        }
        builder
            .build()
            .expect("a client with a static token builds")
    }

    /// Every credit, one per recipient of each send, oldest first.
    pub fn credits(&self) -> Vec<Credit> {
        ledger::lock(&self.state.ledger).credits()
    }

    /// A user's balance.
    pub fn balance(&self, email: &str) -> f64 {
        ledger::lock(&self.state.ledger).balance(email)
    }

    /// How many requests for `operation` the ledger answered (faults
    /// other than a dropped answer never reach it).
    pub fn requests_received(&self, operation: Operation) -> u64 {
        ledger::lock(&self.state.ledger).requests_received(operation)
    }

    /// The faults injected so far.
    pub fn fault_counts(&self) -> FaultCounts {
        FaultCounts {
            rate_limited: self.state.rate_limited.load(Ordering::Relaxed),
            server_errors: self.state.server_errors.load(Ordering::Relaxed),
            dropped_answers: self.state.dropped_answers.load(Ordering::Relaxed),
            undocumented_statuses: self.state.undocumented_statuses.load(Ordering::Relaxed),
            redirects_followed: self.state.redirects_followed.load(Ordering::Relaxed),
        }
    }
}

impl State {
    /// A number in [0, 1) from the seed, the body and its occurrence.
    fn roll(&self, body: &[u8]) -> f64 {
        let mut hasher = DefaultHasher::new();
        body.hash(&mut hasher);
        let key = hasher.finish();
        let occurrence = {
            let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
            let count = seen.entry(key).or_default();
            *count += 1;
            *count
        };
        let mut rng = fastrand::Rng::with_seed(
            self.faults.seed ^ key ^ u64::from(occurrence).wrapping_mul(0x9E37_79B9_7F4A_7C15),
        );
        rng.f64()
    }
}

/// Where an operation is really sent: method, real path, the body's
/// constants (JSON text by field), and the operation.
type Destination = (
    Method,
    String,
    &'static [(&'static str, &'static str)],
    Operation,
);

/// Where each operation is really sent, in every environment.
fn route_table() -> Vec<Destination> {
    let mut table = Vec::new();
    for route in ROUTES.iter() {
        let Ok(method) = Method::from_bytes(route.http_method.as_bytes()) else {
            continue;
        };
        for environment in Environment::ALL {
            let url = route.url(environment);
            let path = url[crate::vendor::origin_of(&url).len()..].to_owned();
            let entry = (
                method.clone(),
                if path.is_empty() {
                    "/".to_owned()
                } else {
                    path
                },
                route.body_constants,
                route.operation,
            );
            if !table.contains(&entry) {
                table.push(entry);
            }
        }
    }
    table
}

fn json_answer(status: u16, body: &Value) -> Response<Full<Bytes>> {
    let mut answer = Response::new(Full::new(Bytes::from(body.to_string())));
    *answer.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    answer.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    answer
}

/// Answers one request: the ledger's view, a followed redirect, a 404 for
/// a request the client would not send, a points request's injected fault,
/// or the ledger's answer.
async fn handle(
    state: Arc<State>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, DroppedAnswer> {
    let (head, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map(|collected| collected.to_bytes())
        .unwrap_or_default();
    if let Some(answer) = state.own_path_answer(&head) {
        return Ok(answer);
    }
    let Some(operation) = state.operation_sent_to(&head, &body) else {
        return Ok(json_answer(
            404,
            &json!({ "error": "no operation is sent here" }),
        ));
    };
    let points = matches!(
        operation,
        Operation::FetchPoints | Operation::SendPoints | Operation::CancelPoints
    );
    if points {
        tokio::time::sleep(state.faults.latency).await;
        if let Some(fault) = state.injected_fault(operation, &head.headers, &body) {
            return fault;
        }
    }
    let answer = state.ledger_answer(operation, &head.headers, &body);
    Ok(json_answer(answer.status, &answer.body))
}

impl State {
    /// The answer of the stand-in's own paths: the ledger's view at
    /// [`LEDGER_PATH`], and a redirect followed to [`ELSEWHERE_PATH`]
    /// (counted).
    fn own_path_answer(&self, head: &hyper::http::request::Parts) -> Option<Response<Full<Bytes>>> {
        if head.method == Method::GET && head.uri.path() == LEDGER_PATH {
            return Some(json_answer(200, &ledger::lock(&self.ledger).view()));
        }
        if head.uri.path() == ELSEWHERE_PATH {
            self.redirects_followed.fetch_add(1, Ordering::Relaxed);
            return Some(json_answer(200, &json!({ "followed": true })));
        }
        None
    }

    /// The operation whose route the request matches — method, real path,
    /// and the constants of its JSON `body` — if any.
    fn operation_sent_to(
        &self,
        head: &hyper::http::request::Parts,
        body: &[u8],
    ) -> Option<Operation> {
        let fields: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        self.routes
            .iter()
            .find_map(|(method, path, constants, operation)| {
                let constants_match = constants.iter().all(|(name, json)| {
                    serde_json::to_string(&fields[*name]).is_ok_and(|value| value == *json)
                });
                (*method == head.method && path == head.uri.path() && constants_match)
                    .then_some(*operation)
            })
    }

    /// What the ledger answers the request for `operation`.
    fn ledger_answer(
        &self,
        operation: Operation,
        headers: &hyper::HeaderMap,
        body: &[u8],
    ) -> ledger::Answer {
        let bearer = bearer(headers);
        let request = ledger::Request {
            bearer: bearer.as_deref(),
            body,
        };
        ledger::lock(&self.ledger).answer(operation, &request)
    }

    /// The fault a points request meets, as its roll decides: a 429, a 500,
    /// a send credited then answered with the undocumented status, or a
    /// send credited then dropped. `None`: no fault, the ledger answers.
    fn injected_fault(
        &self,
        operation: Operation,
        headers: &hyper::HeaderMap,
        body: &[u8],
    ) -> Option<Result<Response<Full<Bytes>>, DroppedAnswer>> {
        let roll = self.roll(body);
        let faults = &self.faults;
        if roll < faults.rate_limited {
            self.rate_limited.fetch_add(1, Ordering::Relaxed);
            let mut answer = json_answer(429, &json!({ "error": "Too Many Requests" }));
            answer.headers_mut().insert(
                hyper::header::RETRY_AFTER,
                hyper::header::HeaderValue::from(faults.retry_after_seconds),
            );
            return Some(Ok(answer));
        }
        if roll < faults.rate_limited + faults.server_errors {
            self.server_errors.fetch_add(1, Ordering::Relaxed);
            return Some(Ok(json_answer(500, &json!({ "error": "stand-in fault" }))));
        }
        let before_odd = faults.rate_limited + faults.server_errors + faults.dropped_answers;
        let dropped = operation == Operation::SendPoints && roll < before_odd;
        let (odd_share, odd_status) = faults.undocumented_status;
        if operation == Operation::SendPoints && !dropped && roll < before_odd + odd_share {
            return Some(Ok(
                self.credited_then_undocumented(operation, headers, body, odd_status)
            ));
        }
        if dropped {
            return Some(self.credited_then_dropped(operation, headers, body));
        }
        None
    }

    /// A send the ledger credits, then answered with `odd_status` and no
    /// body (a redirect's `Location` is [`ELSEWHERE_PATH`]); the ledger's
    /// own answer when it refuses the send.
    fn credited_then_undocumented(
        &self,
        operation: Operation,
        headers: &hyper::HeaderMap,
        body: &[u8],
        odd_status: u16,
    ) -> Response<Full<Bytes>> {
        let credited = self.ledger_answer(operation, headers, body);
        if credited.status != 200 {
            return json_answer(credited.status, &credited.body);
        }
        self.undocumented_statuses.fetch_add(1, Ordering::Relaxed);
        let mut answer = Response::new(Full::new(Bytes::new()));
        *answer.status_mut() = StatusCode::from_u16(odd_status).unwrap_or(StatusCode::ACCEPTED);
        if answer.status().is_redirection() {
            let location = format!("{}{ELSEWHERE_PATH}", self.origin);
            if let Ok(location) = hyper::header::HeaderValue::from_str(&location) {
                answer
                    .headers_mut()
                    .insert(hyper::header::LOCATION, location);
            }
        }
        answer
    }

    /// A send the ledger credits, then [`DroppedAnswer`]: the connection
    /// closes without an answer. The ledger's own answer when it refuses
    /// the send.
    fn credited_then_dropped(
        &self,
        operation: Operation,
        headers: &hyper::HeaderMap,
        body: &[u8],
    ) -> Result<Response<Full<Bytes>>, DroppedAnswer> {
        let credited = self.ledger_answer(operation, headers, body);
        if credited.status == 200 {
            self.dropped_answers.fetch_add(1, Ordering::Relaxed);
            return Err(DroppedAnswer);
        }
        Ok(json_answer(credited.status, &credited.body))
    }
}

fn bearer(headers: &hyper::HeaderMap) -> Option<String> {
    headers
        .get(hyper::header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::to_owned)
}
