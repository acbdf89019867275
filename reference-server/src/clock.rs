//! The server's clock: wall time plus an offset that tests (and `serve --test-clock`) can
//! move forward, so expiry can be checked without waiting. Only a clock built with
//! [`Clock::adjustable`] accepts [`Clock::advance`].

use std::sync::atomic::{AtomicI64, Ordering};

use time::OffsetDateTime;

#[derive(Debug)]
pub struct Clock {
    offset_ms: AtomicI64,
    adjustable: bool,
}

impl Clock {
    /// Wall time, not adjustable.
    pub fn system() -> Clock {
        Clock {
            offset_ms: AtomicI64::new(0),
            adjustable: false,
        }
    }

    /// Wall time that [`Clock::advance`] can move forward.
    pub fn adjustable() -> Clock {
        Clock {
            offset_ms: AtomicI64::new(0),
            adjustable: true,
        }
    }

    pub fn is_adjustable(&self) -> bool {
        self.adjustable
    }

    pub fn now(&self) -> OffsetDateTime {
        // Read on every request: skip the calendar arithmetic of adding a zero offset.
        match self.offset_ms.load(Ordering::Relaxed) {
            0 => OffsetDateTime::now_utc(),
            offset => OffsetDateTime::now_utc() + time::Duration::milliseconds(offset),
        }
    }

    /// The time as SigV4 verification reads it, once per request: from the system clock
    /// without calendar arithmetic (unless the clock was moved).
    pub fn timestamp(&self) -> keygate_sigv4::Timestamp {
        match self.offset_ms.load(Ordering::Relaxed) {
            0 => keygate_sigv4::Timestamp::now(),
            _ => self.now().into(),
        }
    }

    pub fn now_ms(&self) -> i64 {
        (self.now().unix_timestamp_nanos() / 1_000_000) as i64
    }

    /// Moves the clock forward by `seconds` (never backward). `None` if not adjustable or
    /// the argument is negative.
    pub fn advance(&self, seconds: i64) -> Option<OffsetDateTime> {
        if !self.adjustable || seconds < 0 {
            return None;
        }
        self.offset_ms
            .fetch_add(seconds.saturating_mul(1000), Ordering::Relaxed);
        Some(self.now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_adjustable_clock_moves_and_only_forward() {
        let system = Clock::system();
        assert!(system.advance(10).is_none());
        let clock = Clock::adjustable();
        let before = clock.now();
        let after = clock.advance(3600).unwrap();
        assert!(after - before >= time::Duration::seconds(3600));
        // The verifier's reading moves with it.
        assert!(clock.timestamp().unix_seconds() >= after.unix_timestamp());
        assert!(system.timestamp().unix_seconds() + 3000 < after.unix_timestamp());
        assert!(clock.advance(-1).is_none());
    }
}
