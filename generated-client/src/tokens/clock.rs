//! The wall clock the token manager reads: the machine's, or, in the
//! simulation of many processes (`tokens::simulation`), a process's own —
//! tokio's paused clock shifted by that process's skew, so that clocks that
//! disagree are replayed exactly. Elapsed time (backoffs, waits) is read
//! from `tokio::time::Instant`, the machine's monotonic clock outside a
//! paused runtime.

use crate::EpochMillis;

/// A process's wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Clock {
    /// `None`: the machine's clock.
    simulated: Option<Simulated>,
}

/// Only the simulation makes one.
#[cfg_attr(not(test), allow(dead_code))]
#[derive(Clone, Copy, Debug)]
struct Simulated {
    /// The simulation's start, and the epoch time it stands for.
    start: tokio::time::Instant,
    epoch_at_start: u64,
    /// How far this process's clock is ahead (negative: behind).
    skew_ms: i64,
}

impl Clock {
    /// The machine's clock.
    pub(crate) fn system() -> Self {
        Self::default()
    }

    /// A clock reading `epoch_at_start` at `start` of tokio's (paused)
    /// clock, `skew_ms` ahead.
    #[cfg(test)]
    pub(crate) fn simulated(
        start: tokio::time::Instant,
        epoch_at_start: u64,
        skew_ms: i64,
    ) -> Self {
        Self {
            simulated: Some(Simulated {
                start,
                epoch_at_start,
                skew_ms,
            }),
        }
    }

    /// Now, by this clock.
    pub(crate) fn now(&self) -> EpochMillis {
        match self.simulated {
            None => EpochMillis::now(),
            Some(simulated) => {
                let elapsed =
                    u64::try_from(simulated.start.elapsed().as_millis()).unwrap_or(u64::MAX);
                EpochMillis(
                    simulated
                        .epoch_at_start
                        .saturating_add(elapsed)
                        .saturating_add_signed(simulated.skew_ms),
                )
            }
        }
    }
}
