//! User clients that run for months: their user token, made by create user
//! token with the company client, is made again before it expires and after
//! a 401, one creation at a time, shared by the user clients of one email.
//! A local vendor issues user tokens that expire after three seconds, and
//! either ends the previous token when it makes a new one or keeps it (the
//! vendor does not document which).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};
use xoxoday_reward_points::Client;

use crate::support::{OLD_ACCESS, TOKEN_PATH, now_ms, static_client_builder, within};

const CREATE_PATH: &str = "/chef/v1/oauth/token/create/user";
const LIFETIME_MS: u64 = 3_000;

/// The vendor's user tokens: each issued one, until when it is good.
#[derive(Default)]
struct UserTokenVendor {
    issued: Mutex<Vec<(String, u64)>>,
    /// A new token ends the ones before it.
    ends_previous: bool,
    /// Create user token answers 500.
    failing: AtomicBool,
    /// The expiry create user token announces, when not the real one.
    announced_expiry: Mutex<Option<u64>>,
}

impl UserTokenVendor {
    fn accepts(&self, token: &str) -> bool {
        let issued = self.issued.lock().unwrap();
        let now = now_ms();
        match issued.iter().position(|(issued, _)| issued == token) {
            Some(index) if self.ends_previous && index + 1 != issued.len() => false,
            Some(index) => now < issued[index].1,
            None => false,
        }
    }

    fn created(&self) -> usize {
        self.issued.lock().unwrap().len()
    }

    /// Ends every token issued so far, as a vendor revoking them would.
    fn end_all(&self) {
        for (_, until) in self.issued.lock().unwrap().iter_mut() {
            *until = 0;
        }
    }
}

struct Create(Arc<UserTokenVendor>);

impl Respond for Create {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let company = request
            .headers
            .get("authorization")
            .and_then(|value| value.to_str().ok());
        if company != Some(format!("Bearer {OLD_ACCESS}").as_str()) {
            return ResponseTemplate::new(401).set_body_json(json!({ "error": "Unauthorized" }));
        }
        if self.0.failing.load(Ordering::Relaxed) {
            return ResponseTemplate::new(500).set_body_json(json!({ "error": "try later" }));
        }
        let mut issued = self.0.issued.lock().unwrap();
        let token = format!("user-token-{}", issued.len() + 1);
        let until = now_ms() + LIFETIME_MS;
        issued.push((token.clone(), until));
        let announced = self.0.announced_expiry.lock().unwrap().unwrap_or(until);
        ResponseTemplate::new(200).set_body_json(json!({
            "access_token": token,
            "token_type": "bearer",
            "access_token_expiry": announced
        }))
    }
}

struct Validate(Arc<UserTokenVendor>);

impl Respond for Validate {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let token = request
            .headers
            .get("authorization")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .unwrap_or_default();
        if self.0.accepts(token) {
            ResponseTemplate::new(200).set_body_json(json!({ "token_type": "bearer" }))
        } else {
            ResponseTemplate::new(401).set_body_json(json!({ "error": "Unauthorized" }))
        }
    }
}

async fn vendor(ends_previous: bool) -> (MockServer, Arc<UserTokenVendor>) {
    let state = Arc::new(UserTokenVendor {
        ends_previous,
        ..UserTokenVendor::default()
    });
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(CREATE_PATH))
        .respond_with(Create(state.clone()))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(TOKEN_PATH))
        .respond_with(Validate(state.clone()))
        .mount(&server)
        .await;
    (server, state)
}

/// A company client with a static company token, renewing user tokens a
/// second before they expire (a call slower than that would reach the
/// vendor with an expired token, and make one more).
fn company(origin: &str) -> Client {
    static_client_builder(origin)
        .refresh_margin(Duration::from_secs(1))
        .attempt_timeout(Duration::from_secs(2))
        .build()
        .unwrap()
}

/// Two user clients of one email call for three token lifetimes: no call
/// fails, and the vendor makes one user token at first and one per expiry
/// after (renewed a second early: at about 2, 4 and 6 s; the next would be
/// at 8 s).
async fn across_three_expiries(ends_previous: bool) {
    let (server, vendor) = vendor(ends_previous).await;
    let company = company(&server.uri());
    let first = company.user_client("jane@example.com").await.unwrap();
    let second = company.user_client("jane@example.com").await.unwrap();
    assert_eq!(
        vendor.created(),
        1,
        "the second user client shares the token"
    );

    let started = Instant::now();
    let mut calls = 0;
    while started.elapsed() < Duration::from_millis(7_000) {
        for user in [&first, &second] {
            user.validate_token_points()
                .send()
                .await
                .unwrap_or_else(|error| panic!("call {calls} failed: {error}"));
            calls += 1;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    assert!(calls > 40, "{calls}");
    assert_eq!(
        vendor.created(),
        4,
        "one user token at first and one per expiry"
    );
}

#[tokio::test]
async fn a_user_client_renews_its_token_when_the_vendor_ends_the_previous_one() {
    within(across_three_expiries(true)).await;
}

#[tokio::test]
async fn a_user_client_renews_its_token_when_the_vendor_keeps_the_previous_one() {
    within(across_three_expiries(false)).await;
}

/// The vendor ends the token held: the next call is answered 401, makes
/// one new token and is repeated with it; a vendor that refuses that one
/// too gets no second creation from the same call.
#[tokio::test]
async fn a_401_to_the_user_token_makes_one_new_token_and_repeats_the_call() {
    within(async {
        let (server, vendor) = vendor(true).await;
        let company = company(&server.uri());
        let user = company.user_client("jane@example.com").await.unwrap();
        user.validate_token_points().send().await.unwrap();

        vendor.end_all();
        user.validate_token_points().send().await.unwrap();
        assert_eq!(vendor.created(), 2);

        let validations = server
            .received_requests()
            .await
            .unwrap()
            .into_iter()
            .filter(|request| request.url.path() == TOKEN_PATH)
            .count();
        assert_eq!(validations, 3, "the refused call was repeated once");
    })
    .await
}

/// The vendor ends the token held while create user token fails: that call
/// fails (there is no token to repeat it with), but the client is not stuck
/// with the refused token: once creating works again, the next call makes
/// a new token and succeeds.
#[tokio::test]
async fn a_refused_token_is_never_repeated_and_the_client_recovers() {
    within(async {
        let (server, vendor) = vendor(true).await;
        let company = company(&server.uri());
        let user = company.user_client("jane@example.com").await.unwrap();

        vendor.end_all();
        vendor.failing.store(true, Ordering::Relaxed);
        assert!(user.validate_token_points().send().await.is_err());
        vendor.failing.store(false, Ordering::Relaxed);
        // The pause after a failed creation (1 s) passes.
        tokio::time::sleep(Duration::from_millis(1_100)).await;
        user.validate_token_points().send().await.unwrap();
        assert_eq!(vendor.created(), 2);
    })
    .await
}

/// A user client asked for another user's client makes it with the
/// company token, not its own user token.
#[tokio::test]
async fn a_user_client_of_a_user_client_is_made_with_the_company_token() {
    within(async {
        let (server, vendor) = vendor(false).await;
        let company = company(&server.uri());
        let jane = company.user_client("jane@example.com").await.unwrap();

        let bob = jane.user_client("bob@example.com").await.unwrap();

        bob.validate_token_points().send().await.unwrap();
        assert_eq!(vendor.created(), 2);
    })
    .await
}

/// An expiry that has passed when the token arrives (seconds read as
/// milliseconds, a clock far off) says nothing: the token is used, not
/// made again on every call.
#[tokio::test]
async fn a_token_that_arrives_expired_is_not_made_again_on_every_call() {
    within(async {
        let (server, vendor) = vendor(false).await;
        *vendor.announced_expiry.lock().unwrap() = Some(1_000);
        let company = company(&server.uri());
        let user = company.user_client("jane@example.com").await.unwrap();

        for _ in 0..5 {
            user.validate_token_points().send().await.unwrap();
        }
        assert_eq!(vendor.created(), 1);
    })
    .await
}
