//! Logical timers counted in ticks.
//!
//! The core knows no wall time: the host steps `Input::Tick` once per tick
//! period, and every timeout is a number of ticks. Each timer is a
//! [`Timeout`] that counts up and fires once; firing again needs a reset, so
//! a timer that nobody handles is caught where it starts (in debug builds).

/// One timeout: it fires when `elapsed` reaches `after`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Timeout {
    after: u32,
    elapsed: u32,
    /// Set when `fired` returned true; cleared by `reset`.
    fired_since_reset: bool,
}

impl Timeout {
    pub(crate) const fn new(after: u32) -> Timeout {
        Timeout { after, elapsed: 0, fired_since_reset: false }
    }

    /// One tick elapsed.
    #[inline]
    pub(crate) fn tick(&mut self) {
        self.elapsed = self.elapsed.saturating_add(1);
    }

    /// Whether the timeout has expired. A caller that sees `true` must
    /// `reset` before asking again.
    #[inline]
    pub(crate) fn fired(&mut self) -> bool {
        let fired = self.elapsed >= self.after;
        if fired {
            debug_assert!(!self.fired_since_reset, "timer fired twice without a reset");
            self.fired_since_reset = true;
        }
        fired
    }

    /// Starts counting again from zero, with a new period.
    #[inline]
    pub(crate) fn reset(&mut self, after: u32) {
        self.after = after;
        self.elapsed = 0;
        self.fired_since_reset = false;
    }

    /// Ticks counted since the last reset.
    #[cfg(test)]
    pub(crate) fn elapsed(&self) -> u32 {
        self.elapsed
    }

    /// The period.
    #[cfg(test)]
    pub(crate) fn after(&self) -> u32 {
        self.after
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fires_at_its_period_and_again_after_reset() {
        let mut t = Timeout::new(3);
        t.tick();
        t.tick();
        assert!(!t.fired());
        t.tick();
        assert!(t.fired());
        t.reset(1);
        assert_eq!(t.elapsed(), 0);
        assert!(!t.fired());
        t.tick();
        assert!(t.fired());
        assert_eq!(t.after(), 1);
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "fired twice")]
    fn firing_twice_without_reset_is_caught() {
        let mut t = Timeout::new(0);
        assert!(t.fired());
        let _ = t.fired();
    }
}
