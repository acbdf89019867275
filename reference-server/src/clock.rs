//! The server's clock: wall time plus an offset that tests (and `serve --test-clock`) can
//! move forward, so expiry can be checked without waiting. Only a clock built with
//! [`Clock::adjustable`] accepts [`Clock::advance`].

use std::sync::atomic::{AtomicI64, Ordering};

use time::OffsetDateTime;

/// The latest time a test clock may show, 9998-12-31T00:00:00Z: a year before the end of the
/// calendar the server's times are kept in (9999-12-31), so what is computed from the clock (an
/// STS expiry or a presigned URL's end, a week later at most) stays representable.
pub const LATEST_UNIX_SECONDS: i64 = 253_370_678_400;

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

    /// The time as SigV4 verification reads it, once per request, without calendar
    /// arithmetic (unless the clock was moved). On Linux this is the coarse real-time clock,
    /// the kernel's time as of its last tick (a few milliseconds old at most, and never
    /// ahead): the checks it serves count in seconds and minutes (clock skew, presigned
    /// expiry, token expiry), and it is read without the time stamp counter.
    pub fn timestamp(&self) -> keygate_sigv4::Timestamp {
        match self.offset_ms.load(Ordering::Relaxed) {
            0 => coarse_now(),
            _ => self.now().into(),
        }
    }

    pub fn now_ms(&self) -> i64 {
        (self.now().unix_timestamp_nanos() / 1_000_000) as i64
    }

    /// Moves the clock forward by `seconds` (never backward). `None` if not adjustable, the
    /// argument is negative, or the clock would pass [`LATEST_UNIX_SECONDS`] (then it stays
    /// where it was).
    pub fn advance(&self, seconds: i64) -> Option<OffsetDateTime> {
        if !self.adjustable || seconds < 0 {
            return None;
        }
        let add = seconds.checked_mul(1000)?;
        let mut offset = self.offset_ms.load(Ordering::Relaxed);
        loop {
            let next = offset.checked_add(add)?;
            let wall_ms = OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
            if wall_ms + i128::from(next) > i128::from(LATEST_UNIX_SECONDS) * 1000 {
                return None;
            }
            match self.offset_ms.compare_exchange_weak(
                offset,
                next,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Some(self.now()),
                Err(seen) => offset = seen,
            }
        }
    }
}

#[cfg(target_os = "linux")]
fn coarse_now() -> keygate_sigv4::Timestamp {
    use rustix::time::{clock_gettime, ClockId};
    let t = clock_gettime(ClockId::RealtimeCoarse);
    // The kernel keeps `tv_nsec` below a second and never negative.
    keygate_sigv4::Timestamp::from_unix(t.tv_sec, u32::try_from(t.tv_nsec).unwrap_or(0))
}

#[cfg(not(target_os = "linux"))]
fn coarse_now() -> keygate_sigv4::Timestamp {
    keygate_sigv4::Timestamp::now()
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
        // The coarse reading is within a tick (well under a second) of the precise one: between
        // a precise reading a second before it and one taken after it, however long the
        // thread waits between the reads.
        let before = keygate_sigv4::Timestamp::now();
        let coarse = system.timestamp();
        let after_coarse = keygate_sigv4::Timestamp::now();
        assert!(coarse.unix_seconds() >= before.unix_seconds() - 1);
        assert!(coarse.unix_seconds() <= after_coarse.unix_seconds());
        // The verifier's reading moves with it.
        assert!(clock.timestamp().unix_seconds() >= after.unix_timestamp());
        assert!(system.timestamp().unix_seconds() + 3000 < after.unix_timestamp());
        assert!(clock.advance(-1).is_none());
    }

    #[test]
    fn a_test_clock_stops_short_of_the_calendar_s_end() {
        let clock = Clock::adjustable();
        let before = clock.now();
        assert!(clock.advance(i64::MAX).is_none());
        let to_latest = LATEST_UNIX_SECONDS - before.unix_timestamp();
        assert!(clock.advance(to_latest + 10).is_none());
        assert!(
            clock.now() - before < time::Duration::seconds(60),
            "unmoved"
        );
        // Up to the latest time it moves, and its times stay usable a week beyond.
        let at = clock.advance(to_latest - 60).unwrap();
        assert!(at.year() == 9998);
        assert!((at + time::Duration::days(7)).year() == 9999);
        assert!(clock.timestamp().unix_seconds() >= at.unix_timestamp());
        assert!(clock.advance(3600).is_none());
    }
}
