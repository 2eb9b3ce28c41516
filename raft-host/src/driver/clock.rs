//! [`Clock`]: ticks from a monotonic clock.
//!
//! The node's logical clock is `elapsed / tick`, counted from the driver's
//! start on tokio's monotonic clock (so `tokio::time::pause` drives it in
//! tests). The driver steps every tick that came due before any other
//! input, so a node that was held up (a long step, a paused process)
//! catches up on its timeouts first, as the core expects.

use core::time::Duration;

use tokio::time::Instant;

/// The most ticks stepped at once after a stall. Beyond this many every
/// timeout of the core has fired anyway (it is a multiple of any sane
/// election timeout), so skipping the rest changes nothing but the time it
/// takes to catch up.
pub(crate) const MAX_CATCH_UP_TICKS: u64 = 10_000;

#[derive(Debug)]
pub(crate) struct Clock {
    start: Instant,
    tick_nanos: u64,
    /// Ticks stepped so far. Invariant: `stepped <= due(now)`.
    stepped: u64,
}

impl Clock {
    pub(crate) fn new(tick: Duration) -> Clock {
        let tick_nanos = u64::try_from(tick.as_nanos()).unwrap_or(u64::MAX).max(1);
        Clock { start: Instant::now(), tick_nanos, stepped: 0 }
    }

    /// Ticks stepped so far.
    pub(crate) fn ticks(&self) -> u64 {
        self.stepped
    }

    /// How many ticks are due now and not yet stepped; counts them as
    /// stepped (at most [`MAX_CATCH_UP_TICKS`]).
    pub(crate) fn take_due(&mut self) -> u64 {
        let elapsed = Instant::now().saturating_duration_since(self.start);
        let due = u64::try_from(elapsed.as_nanos() / u128::from(self.tick_nanos)).unwrap_or(u64::MAX);
        let missed = due.saturating_sub(self.stepped);
        if missed > MAX_CATCH_UP_TICKS {
            tracing::warn!(missed, stepped = MAX_CATCH_UP_TICKS, "the driver stalled; skipping ticks");
        }
        self.stepped = due;
        missed.min(MAX_CATCH_UP_TICKS)
    }

    /// When the next tick comes due.
    pub(crate) fn next_deadline(&self) -> Instant {
        let nanos = self.tick_nanos.saturating_mul(self.stepped.saturating_add(1));
        self.start + Duration::from_nanos(nanos)
    }
}
