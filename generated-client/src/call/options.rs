//! How long a call may take and how it is retried: set per client
//! (`ClientBuilder`), and overridden per call with [`Client::with_options`]:
//!
//! ```
//! # use std::time::Duration;
//! # use xoxoday_reward_points::{Client, Environment, RetryPolicy};
//! # fn f(client: &Client) {
//! let patient = client.options().clone().with_deadline(Duration::from_secs(120));
//! let once = client.options().clone().with_retry(RetryPolicy::none());
//! let _ = (client.with_options(patient), client.with_options(once));
//! # }
//! ```
//!
//! [`Client::with_options`]: crate::Client::with_options

use std::time::Duration;

use crate::backoff::Backoff;

/// Retries for the operations safe to repeat (validate token, fetch points),
/// on connection errors, timeouts, 429 and 5xx: exponential backoff with
/// jitter, at most [`RetryPolicy::max_attempts`] attempts in all. A
/// `Retry-After` in a 429 or 503 answer is waited for instead of the backoff,
/// when it is at most [`RetryPolicy::max_retry_after`]; a longer one ends the
/// retries (the call fails with `Error::RateLimited` carrying it). Send and
/// cancel are never retried: a repeated send credits twice.
///
/// Each setting has one name: `with_x` sets it, `x()` reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    max_attempts: u32,
    backoff: Backoff,
    max_retry_after: Duration,
}

impl Default for RetryPolicy {
    /// 3 attempts, backoff from 200 ms to 5 s, `Retry-After` up to 30 s.
    fn default() -> Self {
        Self {
            max_attempts: 3,
            backoff: Backoff::new(Duration::from_millis(200), Duration::from_secs(5)).with_jitter(),
            max_retry_after: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// One attempt: no retries at all.
    pub fn none() -> Self {
        Self::default().with_max_attempts(1)
    }

    /// At most this many attempts in all (at least 1).
    pub fn with_max_attempts(mut self, max_attempts: u32) -> Self {
        self.max_attempts = max_attempts.max(1);
        self
    }

    /// At most this many attempts in all.
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The pauses between attempts: from `first`, doubling, up to
    /// `longest`, with jitter.
    pub fn with_backoff(mut self, first: Duration, longest: Duration) -> Self {
        self.backoff = Backoff::new(first, longest).with_jitter();
        self
    }

    /// The pauses between attempts ([`Backoff::first`],
    /// [`Backoff::longest`]).
    pub fn backoff(&self) -> Backoff {
        self.backoff
    }

    /// The longest `Retry-After` waited for.
    pub fn with_max_retry_after(mut self, max_retry_after: Duration) -> Self {
        self.max_retry_after = max_retry_after;
        self
    }

    /// The longest `Retry-After` waited for.
    pub fn max_retry_after(&self) -> Duration {
        self.max_retry_after
    }
}

/// A call's time limits and retries. Each setting has one name: `with_x`
/// sets it, `x()` reads it (and `ClientBuilder::x` sets a client's).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallOptions {
    attempt_timeout: Duration,
    deadline: Duration,
    retry: RetryPolicy,
}

impl Default for CallOptions {
    /// 15 s per attempt, 60 s for the whole call, [`RetryPolicy::default`].
    fn default() -> Self {
        Self {
            attempt_timeout: Duration::from_secs(15),
            deadline: Duration::from_secs(60),
            retry: RetryPolicy::default(),
        }
    }
}

impl CallOptions {
    /// Each attempt's time limit: connecting, sending and receiving.
    pub fn with_attempt_timeout(mut self, attempt_timeout: Duration) -> Self {
        self.attempt_timeout = attempt_timeout;
        self
    }

    /// Each attempt's time limit.
    pub fn attempt_timeout(&self) -> Duration {
        self.attempt_timeout
    }

    /// The whole call's time limit: every attempt, every pause between them,
    /// and a token refresh. When it passes, a call safe to repeat fails with
    /// `Error::Timeout`; a send or cancel already sent with
    /// `Error::OutcomeUnknown`.
    pub fn with_deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// The whole call's time limit.
    pub fn deadline(&self) -> Duration {
        self.deadline
    }

    /// How the operations safe to repeat are retried.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// How the operations safe to repeat are retried.
    pub fn retry(&self) -> &RetryPolicy {
        &self.retry
    }
}
