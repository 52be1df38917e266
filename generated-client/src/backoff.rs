//! The crate's one backoff: pauses that double from a first one up to a
//! longest one — backon's exponential backoff — with jitter where many
//! clients may retry at once. Used by the retries of the operations safe to
//! repeat ([`RetryPolicy`](crate::RetryPolicy)), by the token manager (after
//! a refresh that failed, after a refresh token the vendor refused), by a
//! user client's renewals and by the payout run (after a send that did not
//! leave). [`BackingOff`] holds one under way.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
// Tokio's, so that a paused runtime's clock (the simulation's) moves it.
use tokio::time::Instant;

/// Pauses that double from `first` up to `longest`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    first: Duration,
    longest: Duration,
    jitter: bool,
}

impl Backoff {
    /// Pauses from `first`, doubling, up to `longest` (at least `first`).
    pub const fn new(first: Duration, longest: Duration) -> Self {
        let longest = if longest.as_nanos() < first.as_nanos() {
            first
        } else {
            longest
        };
        Self {
            first,
            longest,
            jitter: false,
        }
    }

    /// Each pause a random part longer, so that clients that failed
    /// together do not all come back at once.
    pub const fn with_jitter(mut self) -> Self {
        self.jitter = true;
        self
    }

    /// The first pause.
    pub fn first(&self) -> Duration {
        self.first
    }

    /// The longest pause.
    pub fn longest(&self) -> Duration {
        self.longest
    }

    /// The pause after `failures` failures in a row (0: the first pause).
    pub fn delay(&self, failures: u32) -> Duration {
        // Doubling reaches any pause within 64 steps; past them it stays.
        let steps = usize::try_from(failures.min(64)).unwrap_or(64);
        self.exponential()
            .without_max_times()
            .build()
            .nth(steps)
            .unwrap_or(self.longest)
    }

    /// backon's builder for these pauses.
    pub(crate) fn exponential(&self) -> ExponentialBuilder {
        let builder = ExponentialBuilder::default()
            .with_min_delay(self.first)
            .with_max_delay(self.longest)
            .with_factor(2.0);
        if self.jitter {
            builder.with_jitter()
        } else {
            builder
        }
    }
}

/// A backoff under way: failures so far, and the end of the current pause.
#[derive(Default)]
pub(crate) struct BackingOff {
    failures: u32,
    not_before: Option<Instant>,
}

impl BackingOff {
    pub(crate) fn remaining(&self, now: Instant) -> Option<Duration> {
        let not_before = self.not_before?;
        not_before
            .checked_duration_since(now)
            .filter(|wait| !wait.is_zero())
    }

    pub(crate) fn arm(&mut self, now: Instant, policy: Backoff) {
        self.not_before = now.checked_add(policy.delay(self.failures));
        self.failures = self.failures.saturating_add(1);
    }

    pub(crate) fn reset(&mut self) {
        *self = Self::default();
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::Backoff;

    #[test]
    fn pauses_double_up_to_the_longest() {
        let backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(300));
        let pauses: Vec<u64> = (0..12).map(|n| backoff.delay(n).as_secs()).collect();
        assert_eq!(pauses, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]);
        assert_eq!(backoff.delay(u32::MAX), Duration::from_secs(300));
        let inverted = Backoff::new(Duration::from_secs(5), Duration::from_secs(1));
        assert_eq!(inverted.longest(), Duration::from_secs(5));
    }
}
