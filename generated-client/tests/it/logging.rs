//! Each call is logged with its operation, environment, status and latency,
//! and no log line ever holds a token or the client secret. In a process of
//! its own (this test binary again, told so by its environment): tracing
//! caches per-callsite interest process-wide, so a thread-local subscriber
//! only sees everything when no other test runs beside it.

use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::support::{
    CLIENT_SECRET, NEW_ACCESS, NEW_REFRESH, OLD_ACCESS, OLD_REFRESH, SECRETS, now_ms,
};

use serde_json::json;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};
use xoxoday_reward_points::{
    Client, Environment, EpochMillis, MemoryTokenStore, Secret, StoredTokens,
};

/// A `Write` that keeps what a tracing subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Set in the process that runs the test alone.
const ALONE: &str = "XOXODAY_TEST_LOGGING_ALONE";

#[test]
fn logs_name_each_call_and_never_a_secret() {
    if std::env::var_os(ALONE).is_some() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        return runtime.block_on(logs_of_one_call());
    }
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "logging::logs_name_each_call_and_never_a_secret",
            "--nocapture",
        ])
        .env(ALONE, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains("test result: ok. 1 passed"),
        "the test alone in its process:\n{stdout}\n{stderr}"
    );
}

async fn logs_of_one_call() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    // The access token has expired: the call refreshes it first.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/chef/v1/oauth/token/company"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": NEW_ACCESS, "refresh_token": NEW_REFRESH,
            "access_token_expiry": now_ms() + 86_400_000, "refresh_token_expiry": now_ms() + 86_400_000
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/chef/v1/oauth/token"))
        .and(header(
            "authorization",
            format!("Bearer {NEW_ACCESS}").as_str(),
        ))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({ "access_token": NEW_ACCESS })),
        )
        .mount(&server)
        .await;
    let tokens = StoredTokens::new(
        Secret::new(OLD_ACCESS),
        Some(EpochMillis(now_ms() - 1000)),
        Secret::new(OLD_REFRESH),
        Some(EpochMillis(now_ms() + 86_400_000)),
    );
    let client = Client::builder(Environment::Sandbox)
        .token_store(Arc::new(MemoryTokenStore::new(tokens)))
        .client_credentials("your_client_id", Secret::new(CLIENT_SECRET))
        .origin_override("https://stagingstores.xoxoday.com", &server.uri())
        .unwrap()
        .attempt_timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    client.validate_token_points().send().await.unwrap();

    let mut log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    for secret in SECRETS {
        assert!(!log.contains(secret), "{secret} logged:\n{log}");
    }
    log = log.replace('"', "");
    assert!(log.contains("operation=validateTokenPoints"), "{log}");
    assert!(log.contains("environment=Sandbox"), "{log}");
    assert!(log.contains("status=200"), "{log}");
    assert!(log.contains("latency_ms="), "{log}");
    assert!(log.contains("access token refreshed"), "{log}");
}
