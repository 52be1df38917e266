//! A proxy in the shell's environment (`http_proxy`, `https_proxy`,
//! `all_proxy`) never sees a secret in clear: a call to a loopback override
//! (a local TLS sidecar, the stand-in) goes straight to it, bearer token,
//! refresh token and client secret included; a call to the vendor's HTTPS
//! host goes through the proxy only as a tunnel (`CONNECT`), whose content
//! the proxy cannot read.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use xoxoday_reward_points::Operation;
use xoxoday_reward_points_mocks::{Faults, STAND_IN_ACCESS_TOKEN, STAND_IN_REFRESH_TOKEN};

use crate::support::world::{World, run_command};

/// A proxy on 127.0.0.1 that keeps the first bytes of every connection and
/// answers 502.
struct Proxy {
    url: String,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Proxy {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let kept = seen.clone();
        std::thread::spawn(move || {
            for connection in listener.incoming() {
                let Ok(mut connection) = connection else {
                    return;
                };
                let mut bytes = vec![0; 16 * 1024];
                let read = connection.read(&mut bytes).unwrap_or(0);
                kept.lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&bytes[..read]).into_owned());
                let _ =
                    connection.write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n");
            }
        });
        Self { url, seen }
    }

    fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

fn with_proxy(command: &mut std::process::Command, proxy: &Proxy) {
    for variable in [
        "http_proxy",
        "HTTP_PROXY",
        "https_proxy",
        "HTTPS_PROXY",
        "all_proxy",
        "ALL_PROXY",
    ] {
        command.env(variable, &proxy.url);
    }
    command.env_remove("no_proxy").env_remove("NO_PROXY");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_call_to_a_loopback_override_never_goes_through_the_proxy() {
    let world = World::start(Faults::none()).await;
    let proxy = Proxy::start();
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("tokens.json");
    let store = store.to_str().unwrap();

    let mut send = world.command(&[
        "send-points",
        "--sender-email",
        "admin@example.com",
        "--to-name",
        "Ann",
        "--to-email",
        "ann@example.com",
        "--amount",
        "5",
    ]);
    with_proxy(&mut send, &proxy);
    let sent = run_command(send).await;
    assert_eq!(
        sent.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&sent.stderr)
    );

    // A refresh carries the refresh token and the client secret.
    let mut seed = world.command(&["--token-store", store, "seed-token-store"]);
    seed.env("XOXODAY_REFRESH_TOKEN", STAND_IN_REFRESH_TOKEN)
        .env("XOXODAY_CLIENT_SECRET", "a-client-secret");
    with_proxy(&mut seed, &proxy);
    let seeded = run_command(seed).await;
    assert_eq!(
        seeded.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&seeded.stderr)
    );
    let mut refresh = world.command(&["--token-store", store, "refresh-token"]);
    refresh.env("XOXODAY_CLIENT_SECRET", "a-client-secret");
    with_proxy(&mut refresh, &proxy);
    let refreshed = run_command(refresh).await;
    assert_eq!(
        refreshed.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&refreshed.stderr)
    );

    assert_eq!(world.requests_received(Operation::SendPoints), 1);
    assert_eq!(world.requests_received(Operation::RefreshToken), 1);
    assert_eq!(proxy.seen(), Vec::<String>::new(), "the proxy saw calls");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_call_to_the_vendors_https_host_goes_through_the_proxy_only_as_a_tunnel() {
    let world = World::start(Faults::none()).await;
    let proxy = Proxy::start();
    let mut call = world.command(&["--env", "production", "--yes", "validate-token"]);
    call.env_remove("XOXODAY_ORIGIN_OVERRIDES")
        .args(["--timeout", "5"]);
    with_proxy(&mut call, &proxy);

    let output = run_command(call).await;

    assert_ne!(output.status.code(), Some(0), "the proxy answered 502");
    // Each attempt (validate-token is safe to repeat) opens a tunnel.
    let seen = proxy.seen();
    assert!(!seen.is_empty());
    for opened in &seen {
        assert!(
            opened.starts_with("CONNECT accounts.xoxoday.com:443 HTTP/1.1\r\n"),
            "{seen:?}"
        );
        assert!(!opened.contains(STAND_IN_ACCESS_TOKEN), "{seen:?}");
        assert!(!opened.to_lowercase().contains("authorization"), "{seen:?}");
    }
}
