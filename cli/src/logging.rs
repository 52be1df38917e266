//! What the client does, on stderr for an operator: `-v` (repeatable) or
//! `RUST_LOG`, through `tracing-subscriber`. The client's spans and events
//! carry no token or secret at any level (its tests check that at the most
//! verbose one, and the CLI's over every command); tokio-postgres logs
//! through `log`, which is not bridged here.
//!
//! Whatever the level, the client's wait events (`WAIT_EVENTS`: waiting
//! for the token store's lock) reach whoever listens with [`on_wait`] (a
//! payout run's progress line).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use xoxoday_reward_points::WAIT_EVENTS;

/// The crates whose spans and events `-v` shows.
const OURS: [&str; 3] = [
    "xoxoday_reward_points",
    "xoxoday_reward_points_payouts",
    "reward_points",
];

type WaitListener = Box<dyn Fn(&str) + Send + Sync>;

/// Who is told of waits: what the client waits for, or `""` when it is over.
fn listener() -> &'static Mutex<Option<WaitListener>> {
    static LISTENER: OnceLock<Mutex<Option<WaitListener>>> = OnceLock::new();
    LISTENER.get_or_init(|| Mutex::new(None))
}

/// Tells `listen` what the client waits for as it starts waiting, and `""`
/// when the wait is over.
pub fn on_wait(listen: impl Fn(&str) + Send + Sync + 'static) {
    *listener().lock().unwrap_or_else(|e| e.into_inner()) = Some(Box::new(listen));
}

/// Passes the client's wait events to the listener.
struct Waits;

impl<S: Subscriber> Layer<S> for Waits {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        if event.metadata().target() != WAIT_EVENTS {
            return;
        }
        struct WaitField(Option<String>);
        impl Visit for WaitField {
            fn record_str(&mut self, field: &Field, value: &str) {
                if field.name() == "wait" {
                    self.0 = Some(value.to_owned());
                }
            }
            fn record_debug(&mut self, _: &Field, _: &dyn std::fmt::Debug) {}
        }
        let mut wait = WaitField(None);
        event.record(&mut wait);
        if let (Some(wait), Some(listen)) = (
            wait.0,
            listener()
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .as_ref(),
        ) {
            listen(&wait);
        }
    }
}

/// Starts the subscriber: the wait events always; the log on stderr when
/// asked for, by `RUST_LOG` when set (its directives as
/// `tracing-subscriber` reads them), else by `verbose`: 1 info, 2 debug
/// for this crate and the client, 3 or more trace for everything.
pub fn start(verbose: u8) {
    let by_verbosity = || {
        let level = match verbose {
            0 => return None,
            1 => "info",
            2 => "debug",
            _ => "trace",
        };
        let directives = if verbose >= 3 {
            level.to_owned()
        } else {
            OURS.map(|target| format!("{target}={level}")).join(",")
        };
        Some(EnvFilter::new(directives))
    };
    let filter = match std::env::var("RUST_LOG") {
        Ok(directives) if !directives.trim().is_empty() => {
            match EnvFilter::builder().parse(&directives) {
                Ok(filter) => Some(filter),
                Err(error) => {
                    eprintln!(
                        "warning: RUST_LOG is not understood ({error}); it is ignored{}",
                        if verbose > 0 { ", -v is used" } else { "" }
                    );
                    by_verbosity()
                }
            }
        }
        _ => by_verbosity(),
    };
    LOGGING.store(filter.is_some(), Ordering::Relaxed);
    let log = filter.map(|filter| {
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_filter(filter)
    });
    // The wait events only, whatever the log's level.
    let waits = Waits.with_filter(Targets::new().with_target(WAIT_EVENTS, Level::INFO));
    tracing_subscriber::registry().with(log).with(waits).init();
}

/// Whether a log is written to stderr (a progress bar would be torn by it).
static LOGGING: AtomicBool = AtomicBool::new(false);

/// Whether `-v` or `RUST_LOG` turned the log on.
pub fn is_on() -> bool {
    LOGGING.load(Ordering::Relaxed)
}
