//! No file from outside can panic a payout run: the CSV reader and the
//! import of earlier versions' journals are fed thousands of random and
//! mutated files. Seeded: a
//! failure prints the seed, and `XOXODAY_PROPERTY_SEED` repeats it.

use std::time::{Duration, UNIX_EPOCH};

use xoxoday_reward_points::Environment;

use crate::payout_file::{PayoutFile, RunDefaults};
use crate::{LedgerContext, LedgerScope, RunOptions, SqliteLedger, plan_payouts};

const CASES: usize = 1_500;

fn rng() -> fastrand::Rng {
    let seed = std::env::var("XOXODAY_PROPERTY_SEED")
        .ok()
        .and_then(|seed| seed.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..));
    println!("seed {seed} (XOXODAY_PROPERTY_SEED={seed} repeats it)");
    fastrand::Rng::with_seed(seed)
}

/// A field as payout files (and their damaged copies) hold them.
fn field(rng: &mut fastrand::Rng) -> String {
    let pick: [&str; 16] = [
        "",
        "Ann",
        "ann@example.com",
        "=1+2@example.com",
        "100",
        "-50",
        "1e3",
        "99999999999999999999999",
        "0",
        "12",
        "\"quoted, with a comma\"",
        "\"unclosed",
        "é€😀",
        "\t",
        "name",
        "email",
    ];
    match rng.u8(..6) {
        0 => (0..rng.usize(..12)).map(|_| rng.char(..)).collect(),
        1 => rng.u64(..).to_string(),
        _ => pick[rng.usize(..pick.len())].to_owned(),
    }
}

fn csv(rng: &mut fastrand::Rng) -> Vec<u8> {
    let headers = [
        "name,email,points",
        "name,email,points,citation,sender_email,expiry_months",
        "points,email,name,expiry_months",
        "name,email",
        "",
    ];
    let mut text = String::new();
    if rng.u8(..10) == 0 {
        text.push('\u{feff}');
    }
    text.push_str(headers[rng.usize(..headers.len())]);
    for _ in 0..rng.usize(..12) {
        text.push(['\n', '\n', '\r'][rng.usize(..3)]);
        let fields: Vec<String> = (0..rng.usize(..8)).map(|_| field(rng)).collect();
        text.push_str(&fields.join(","));
    }
    let mut bytes = text.into_bytes();
    // Damage: a few random bytes, or a cut.
    for _ in 0..rng.usize(..3) {
        if !bytes.is_empty() {
            let at = rng.usize(..bytes.len());
            bytes[at] = rng.u8(..);
        }
    }
    if rng.bool() && !bytes.is_empty() {
        bytes.truncate(rng.usize(..=bytes.len()));
    }
    bytes
}

#[test]
fn no_payout_file_panics_the_reader() {
    let mut rng = rng();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("payouts.csv");
    for _ in 0..CASES {
        std::fs::write(&path, csv(&mut rng)).unwrap();
        let defaults = RunDefaults {
            sender_email: rng.bool().then(|| "admin@example.com".into()),
            expiry_months: rng.bool().then(|| rng.u32(..)),
        };
        let _ = PayoutFile::identify(&path);
        if let Ok(file) = PayoutFile::open(&path, defaults) {
            let rows: Vec<_> = file.rows().unwrap().collect();
            assert_eq!(rows.len() as u64, file.contents().rows);
            assert!(rows.iter().all(Result::is_ok));
        }
    }
}

/// A journal as runs write them, then damaged.
fn journal(rng: &mut fastrand::Rng) -> Vec<u8> {
    let sha = match rng.u8(..4) {
        0 => format!("a{}", "é€".repeat(20)),
        1 => String::new(),
        _ => "a".repeat(64),
    };
    let mut text = format!(
        "{{\"journal\":1,\"file\":\"payouts.csv\",\"sha256\":\"{sha}\",\"rows\":{}}}\n",
        rng.u64(..)
    );
    let states = [
        r#""state":"sending""#,
        r#""state":"sent","transaction":7"#,
        r#""state":"sent","transaction":-9223372036854775808"#,
        r#""state":"cancelled","transaction":0"#,
        r#""state":"in_doubt","cause":"é"#,
        r#""state":"refused","message":"no""#,
        r#""state":"unknown""#,
    ];
    for _ in 0..rng.usize(..10) {
        let attempt = [0, 1, u32::MAX as u64, u64::MAX][rng.usize(..4)];
        text.push_str(&format!(
            "{{\"line\":{},\"attempt\":{attempt},\"email\":\"a@example.com\",\"points\":{},{}}}\n",
            rng.u64(..),
            rng.u64(..),
            states[rng.usize(..states.len())]
        ));
    }
    let mut bytes = text.into_bytes();
    for _ in 0..rng.usize(..3) {
        if !bytes.is_empty() {
            let at = rng.usize(..bytes.len());
            bytes[at] = rng.u8(..);
        }
    }
    if rng.u8(..3) == 0 && !bytes.is_empty() {
        bytes.truncate(rng.usize(..=bytes.len()));
    }
    // The zeros written ahead of the records, and a stretch of them in the
    // middle, as a power loss can leave the pages of unsynced records.
    if rng.bool() {
        bytes.extend(std::iter::repeat_n(0, rng.usize(..5_000)));
    }
    if rng.u8(..4) == 0 && !bytes.is_empty() {
        let at = rng.usize(..bytes.len());
        let gap = rng.usize(..200).min(bytes.len() - at);
        bytes[at..at + gap].fill(0);
    }
    bytes
}

/// Damaged journals of earlier versions, with modification times from
/// before 1970 to far beyond 9999, beside a file that is paid: the run
/// imports them or says why not, and never panics.
#[tokio::test]
async fn no_journal_panics_the_import() {
    let mut rng = rng();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("payouts.csv.journal");
    let csv = dir.path().join("payouts.csv");
    std::fs::write(&csv, "name,email,points\nAnn,a@example.com,7\n").unwrap();
    let file = PayoutFile::open(
        &csv,
        RunDefaults {
            sender_email: Some("admin@example.com".into()),
            expiry_months: None,
        },
    )
    .unwrap();
    let ledger = SqliteLedger::open(&dir.path().join("ledger.sqlite3")).unwrap();
    let mut context = LedgerContext::new(LedgerScope::new(Environment::Sandbox, "client"));
    context.journals_paid_in = Some(Environment::Sandbox);
    let times = [
        UNIX_EPOCH - Duration::from_secs(86_400 * 365 * 100),
        UNIX_EPOCH + Duration::from_secs(86_400 * 365 * 9_000),
        UNIX_EPOCH,
    ];
    for _ in 0..CASES / 3 {
        std::fs::write(&path, journal(&mut rng)).unwrap();
        let when = times[rng.usize(..times.len())];
        let _ = std::fs::File::options()
            .write(true)
            .open(&path)
            .and_then(|journal| journal.set_modified(when));
        let options = RunOptions {
            pay_again: rng.bool(),
            ..RunOptions::default()
        };
        let _ = plan_payouts(&file, &ledger, &context, &options, rng.bool()).await;
    }
}
