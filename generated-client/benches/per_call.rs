//! Per-call overhead: the same request, to the same local server on
//! 127.0.0.1, through the generated client and through a hand-written
//! reqwest call, in one run. Prints the medians and their ratios.
//!
//! `cargo bench --bench per_call` (the numbers in BENCHMARKS.md come from it).
//! Both sides decode the answer into the same generated type, so the ratio
//! is the client's own machinery: routing hook, retry wrapper, tracing span.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use xoxoday_reward_points::types::{FetchPointsBodyVariables, FetchPointsResponse};
use xoxoday_reward_points::{AccessToken, Client, Environment};

const ANSWER: &str =
    r#"{"data":{"user_balance":{"success":1,"message":null,"data":{"total":1500}}}}"#;
const TOKEN: &str = "bench-token";
const ROUNDS: usize = 15;
const SEQUENTIAL_PER_ROUND: usize = 300;
const CONCURRENCY: usize = 16;
const CONCURRENT_PER_ROUND: usize = 1600;

/// A keep-alive HTTP/1.1 server that answers every request with `ANSWER`.
async fn serve() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buffer = Vec::with_capacity(4096);
                let mut chunk = [0u8; 4096];
                loop {
                    // One request: the head, then content-length bytes.
                    let (end, length) = loop {
                        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                            let head = String::from_utf8_lossy(&buffer[..end]).to_ascii_lowercase();
                            let length = head
                                .lines()
                                .find_map(|line| line.strip_prefix("content-length:"))
                                .map_or(0, |value| value.trim().parse().unwrap_or(0));
                            if buffer.len() >= end + 4 + length {
                                break (end, length);
                            }
                        }
                        match stream.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(read) => buffer.extend_from_slice(&chunk[..read]),
                        }
                    };
                    buffer.drain(..end + 4 + length);
                    let response = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{ANSWER}",
                        ANSWER.len()
                    );
                    if stream.write_all(response.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    origin
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

struct Sides {
    generated: Client,
    http: reqwest::Client,
    url: String,
    variables: FetchPointsBodyVariables,
}

impl Sides {
    async fn generated_call(&self) {
        let answer = self
            .generated
            .fetch_points()
            .variables(self.variables.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(answer.into_inner().total(), Some(1500.0));
    }

    async fn hand_written_call(&self) {
        let body = json!({ "query": "storesAdmin.query.user_balance", "tag": "storeAdmin",
                           "variables": self.variables });
        let answer: FetchPointsResponse = self
            .http
            .post(&self.url)
            // The same request the generated client sends.
            .header("accept", "application/json")
            .header("api-version", "1.2")
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(answer.total(), Some(1500.0));
    }
}

/// Latencies in µs, one call of each side in turn, so that both meet the
/// same moment-to-moment conditions of a shared machine.
async fn sequential(sides: &Sides) -> (Vec<f64>, Vec<f64>) {
    let (mut generated, mut manual) = (Vec::new(), Vec::new());
    for _ in 0..SEQUENTIAL_PER_ROUND {
        let started = Instant::now();
        sides.generated_call().await;
        generated.push(started.elapsed().as_secs_f64() * 1e6);
        let started = Instant::now();
        sides.hand_written_call().await;
        manual.push(started.elapsed().as_secs_f64() * 1e6);
    }
    (generated, manual)
}

/// Calls per second with `CONCURRENCY` calls in flight.
async fn concurrent(sides: &Arc<Sides>, generated: bool) -> f64 {
    let started = Instant::now();
    let workers: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            let sides = sides.clone();
            tokio::spawn(async move {
                for _ in 0..CONCURRENT_PER_ROUND / CONCURRENCY {
                    if generated {
                        sides.generated_call().await;
                    } else {
                        sides.hand_written_call().await;
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.unwrap();
    }
    CONCURRENT_PER_ROUND as f64 / started.elapsed().as_secs_f64()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let origin = serve().await;
    let generated = Client::builder(Environment::Sandbox)
        .access_token(AccessToken::new(TOKEN))
        .origin_override("https://stagingstores.xoxoday.com", &origin)
        .unwrap()
        .attempt_timeout(Duration::from_secs(15))
        .build()
        .unwrap();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        // The same request the generated client sends, header for header.
        .user_agent(xoxoday_reward_points::USER_AGENT)
        .build()
        .unwrap();
    let variables: FetchPointsBodyVariables =
        serde_json::from_value(json!({ "user_data": { "email": "john.doe@example.com" } }))
            .unwrap();
    let sides = Arc::new(Sides {
        generated,
        http,
        url: format!("{origin}/chef/v1/oauth/api"),
        variables,
    });

    // Warm up both connection pools.
    sequential(&sides).await;

    let (mut generated_latency, mut manual_latency) = (Vec::new(), Vec::new());
    let (mut generated_rate, mut manual_rate) = (Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let (generated, manual) = sequential(&sides).await;
        generated_latency.extend(generated);
        manual_latency.extend(manual);
        // Alternate which side goes first, so drift hits both alike.
        for generated in if round % 2 == 0 {
            [true, false]
        } else {
            [false, true]
        } {
            let rate = concurrent(&sides, generated).await;
            if generated {
                generated_rate.push(rate);
            } else {
                manual_rate.push(rate);
            }
        }
    }
    let (generated_latency, manual_latency) = (median(generated_latency), median(manual_latency));
    let (generated_rate, manual_rate) = (median(generated_rate), median(manual_rate));
    println!("per-call overhead, {ROUNDS} rounds, 127.0.0.1, same request and answer");
    println!("                         generated client   hand-written reqwest   ratio");
    println!(
        "median latency (µs)      {generated_latency:>16.1}   {manual_latency:>20.1}   {:.3}",
        generated_latency / manual_latency
    );
    println!(
        "throughput, {CONCURRENCY} in flight   {generated_rate:>16.0}   {manual_rate:>20.0}   {:.3}",
        generated_rate / manual_rate
    );
    println!(
        "(latency ratio above 1, or throughput ratio below 1, is the client's overhead; target: within 5%)"
    );
}
