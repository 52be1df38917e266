//! `StandIn`: an in-process stand-in of the Reward Points API that keeps
//! state, for offline demos and for the users' own tests. What it answers is
//! the ledger's (`ledger.rs`): send adds to a balance, cancel takes it back,
//! fetch reports it, bad tokens get a 401. It runs on the [`MockVendor`]
//! servers (127.0.0.1 only), mounted through the generated typed mocks, so it
//! answers exactly the requests the client sends.
//!
//! One send is one transaction, whatever the number of recipients: the
//! vendor's answer carries one `unique_id`, and cancelling it takes back
//! every recipient's points. Fetch by phone finds each recipient by the
//! phone the stand-in gave them on their first credit, and users registered
//! with [`StandIn::register_phone`]; any other phone is refused as the vendor
//! refuses a request without a user (`success: 0`).

use std::time::Duration;

use httpmock::{HttpMockRequest, HttpMockResponse, MockServer, Then};
use xoxoday_reward_points::{Client, Environment, Operation, StoredTokens};

use crate::MockVendor;
use crate::generated::MockServerExt;
use crate::ledger::{
    Credit, Ledger, RefreshCounts, Request, STAND_IN_ACCESS_TOKEN, Shared, VENDOR_TOKEN_LIFETIME,
    lock,
};

/// A stateful local stand-in of the vendor's API.
pub struct StandIn {
    vendor: MockVendor,
    ledger: Shared,
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
        let stand_in = StandIn {
            vendor: MockVendor::start_async().await,
            ledger: Ledger::new(self.token_lifetime, self.revoke_replaced),
        };
        stand_in.mount();
        stand_in
    }
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
        lock(&self.ledger).initial_tokens()
    }

    /// A user's balance as the stand-in keeps it.
    pub fn balance(&self, email: &str) -> f64 {
        lock(&self.ledger).balance(email)
    }

    /// Every credit, one per recipient of each send, oldest first.
    pub fn credits(&self) -> Vec<Credit> {
        lock(&self.ledger).credits()
    }

    /// How many requests for `operation` reached the stand-in so far,
    /// whatever it answered: zero proves a call sent nothing.
    pub fn requests_received(&self, operation: Operation) -> u64 {
        lock(&self.ledger).requests_received(operation)
    }

    /// Lets fetch points find the user with `email` by `phone` too (written
    /// as the client sends it, such as `+91-8999888887`).
    pub fn register_phone(&self, phone: &str, email: &str) {
        lock(&self.ledger).register_phone(phone, email);
    }

    /// How many refresh requests were accepted and refused so far.
    pub fn refresh_counts(&self) -> RefreshCounts {
        lock(&self.ledger).refresh_counts()
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
        let answer = move |then: Then| {
            let ledger = ledger.clone();
            then.respond_with(move |request| answer(&ledger, operation, request));
        };
        // An operation renamed or removed in the document is a compile error
        // here; one added lands in the last arm until the stand-in models it.
        match operation {
            Operation::ValidateTokenPoints => {
                server.validate_token_points(|_, then| answer(then.into_inner()));
            }
            Operation::RefreshToken => {
                server.refresh_token(|_, then| answer(then.into_inner()));
            }
            Operation::CreateUserToken => {
                server.create_user_token(|_, then| answer(then.into_inner()));
            }
            Operation::FetchPoints => {
                server.fetch_points(|_, then| answer(then.into_inner()));
            }
            Operation::SendPoints => {
                server.send_points(|_, then| answer(then.into_inner()));
            }
            Operation::CancelPoints => {
                server.cancel_points(|_, then| answer(then.into_inner()));
            }
            // Not modelled: unmatched, so the stand-in answers 404.
            _ => {}
        }
    }
}

/// The ledger's answer to an httpmock request.
fn answer(ledger: &Shared, operation: Operation, request: &HttpMockRequest) -> HttpMockResponse {
    let headers = request.headers();
    let bearer = headers
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    let body = request.body_bytes();
    let answer = lock(ledger).answer(
        operation,
        &Request {
            bearer,
            body: &body,
        },
    );
    HttpMockResponse::builder()
        .status(answer.status)
        .header("content-type", "application/json")
        .body(answer.body.to_string())
        .build()
}
