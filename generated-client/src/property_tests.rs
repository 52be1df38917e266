//! No value from outside can panic the client: the readers of the vendor's
//! answers (the points operations' verdicts, the refresh answer, the
//! `Retry-After` header, vendor messages, expiries) are fed thousands of
//! random and mutated answers. Seeded: a failure prints the seed, and
//! `XOXODAY_PROPERTY_SEED` repeats it.

use serde_json::{Value, json};

use crate::EpochMillis;
use crate::call::answers::Answer;
use crate::call::retry_after::retry_after;
use crate::reading::vendor_text::vendor_message;
use crate::tokens::refresh_endpoint::rotated;
use crate::tokens::store::StoredTokens;
use crate::types::{CancelPointsResponse, FetchPointsResponse, SendPointsResponse};

const CASES: usize = 3_000;

fn rng() -> fastrand::Rng {
    let seed = std::env::var("XOXODAY_PROPERTY_SEED")
        .ok()
        .and_then(|seed| seed.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..));
    println!("seed {seed} (XOXODAY_PROPERTY_SEED={seed} repeats it)");
    fastrand::Rng::with_seed(seed)
}

/// A string of the kinds answers hold: empty, digits, huge numbers, non-ASCII,
/// long, control characters.
fn text(rng: &mut fastrand::Rng) -> String {
    match rng.u8(..8) {
        0 => String::new(),
        1 => rng.u64(..).to_string(),
        2 => "99999999999999999999999999".into(),
        3 => "-1".into(),
        4 => "é€😀".repeat(rng.usize(..200)),
        5 => "x".repeat(rng.usize(..5_000)),
        6 => (0..rng.usize(..20)).map(|_| rng.char(..)).collect(),
        _ => ["bearer", "1296000", "1e3", "null", "true", " 12 "][rng.usize(..6)].into(),
    }
}

fn number(rng: &mut fastrand::Rng) -> Value {
    match rng.u8(..7) {
        0 => json!(u64::MAX),
        1 => json!(i64::MIN),
        2 => json!(f64::MAX),
        3 => json!(-0.5),
        4 => json!(1e-300),
        5 => json!(0),
        _ => json!(rng.i64(..)),
    }
}

fn value(rng: &mut fastrand::Rng, depth: u32) -> Value {
    match rng.u8(..if depth > 3 { 5 } else { 7 }) {
        0 => Value::Null,
        1 => json!(rng.bool()),
        2 | 3 => number(rng),
        4 => json!(text(rng)),
        5 => Value::Array((0..rng.usize(..4)).map(|_| value(rng, depth + 1)).collect()),
        _ => {
            let keys = [
                "data",
                "user_balance",
                "success",
                "message",
                "total",
                "unique_id",
                "sendBalance",
                "error",
                "cancelBalance",
                "recipients",
                "access_token",
                "refresh_token",
                "expires_in",
                "access_token_expiry",
                "refresh_token_expiry",
            ];
            Value::Object(
                (0..rng.usize(..5))
                    .map(|_| {
                        (
                            keys[rng.usize(..keys.len())].to_owned(),
                            value(rng, depth + 1),
                        )
                    })
                    .collect(),
            )
        }
    }
}

/// `answer` with one node (possibly the root) replaced by a random value.
fn mutated(rng: &mut fastrand::Rng, mut answer: Value) -> Value {
    fn walk(node: &mut Value, rng: &mut fastrand::Rng) -> bool {
        let children: Vec<&mut Value> = match node {
            Value::Object(fields) => fields.values_mut().collect(),
            Value::Array(items) => items.iter_mut().collect(),
            _ => Vec::new(),
        };
        let count = children.len();
        if count == 0 || rng.u8(..4) == 0 {
            *node = value(rng, 1);
            return true;
        }
        let pick = rng.usize(..count);
        children
            .into_iter()
            .nth(pick)
            .is_some_and(|child| walk(child, rng))
    }
    walk(&mut answer, rng);
    answer
}

fn documented_answers() -> [Value; 5] {
    [
        json!({ "data": { "user_balance": { "success": 1, "message": null,
                                            "data": { "total": 1500 } } } }),
        json!({ "data": { "unique_id": 987654321, "email": "a@example.com", "points": 100,
                          "name": "A", "phone_code": "+1", "phone_number": "5550100" } }),
        json!({ "data": { "sendBalance": { "error": false, "message": "points sent" } } }),
        json!({ "data": { "cancelBalance": { "error": false, "message": "processed",
            "recipients": [{ "unique_id": 987654321, "success": true, "message": "ok" }] } } }),
        json!({ "access_token": "a", "token_type": "bearer", "expires_in": 1296000,
                "refresh_token": "r", "access_token_expiry": "1718000000000",
                "refresh_token_expiry": 1718000000000u64 }),
    ]
}

/// Reads `answer` as every answer type does.
fn read_every_way(answer: &Value) {
    let bytes = answer.to_string();
    if let Ok(fetch) = serde_json::from_str::<FetchPointsResponse>(&bytes) {
        let _ = fetch.verdict();
        let _ = fetch.total();
    }
    if let Ok(send) = serde_json::from_str::<SendPointsResponse>(&bytes) {
        let _ = send.verdict();
        let _ = send.transaction_id();
    }
    if let Ok(cancel) = serde_json::from_str::<CancelPointsResponse>(&bytes) {
        let _ = cancel.verdict();
        let _ = cancel.outcomes();
        let _ = cancel.is_partial();
    }
    let held = StoredTokens::new("a".into(), None, "r".into(), None);
    let _ = rotated(bytes.as_bytes(), &held, EpochMillis::now());
    let _ = rotated(bytes.as_bytes(), &held, EpochMillis(u64::MAX));
    let _ = vendor_message(answer, &["r", "é"]);
    let _ = serde_json::from_str::<EpochMillis>(&bytes);
}

#[test]
fn no_answer_panics_a_reader() {
    let mut rng = rng();
    for _ in 0..CASES {
        read_every_way(&value(&mut rng, 0));
        for documented in documented_answers() {
            read_every_way(&mutated(&mut rng, documented));
        }
        // Bytes that are not JSON at all, or JSON cut short.
        let documented = documented_answers()[rng.usize(..5)].to_string();
        let cut = rng.usize(..=documented.len());
        let held = StoredTokens::new("a".into(), None, "r".into(), None);
        let _ = rotated(&documented.as_bytes()[..cut], &held, EpochMillis::now());
        let noise: Vec<u8> = (0..rng.usize(..64)).map(|_| rng.u8(..)).collect();
        let _ = rotated(&noise, &held, EpochMillis::now());
    }
}

#[test]
fn no_retry_after_panics_or_waits_forever_by_surprise() {
    let mut rng = rng();
    for _ in 0..CASES {
        let mut headers = reqwest::header::HeaderMap::new();
        let candidate = match rng.u8(..4) {
            0 => text(&mut rng),
            1 => u64::MAX.to_string(),
            2 => "Fri, 31 Dec 9999 23:59:59 GMT".into(),
            _ => format!("{}", rng.i64(..)),
        };
        if let Ok(header) = reqwest::header::HeaderValue::from_str(&candidate) {
            headers.insert(reqwest::header::RETRY_AFTER, header);
            let _ = retry_after(&headers);
        }
    }
}
