//! Open-loop load for `keygate load --rate R/s`, in wrk2's model.
//!
//! Requests are due at fixed intended start times `t0 + k/R` ([`Schedule`]), whatever the
//! target does. A pacing thread ([`Pacer`], an OS thread sleeping to each due time with a
//! 1 µs timer slack, not the runtime's 1 ms timer wheel) releases each slot into a queue (on
//! time while users wait for slots; in batches while slots wait for users, as a wake-up per
//! slot would then only take the generator's CPU); the
//! goose users take slots from it, one per transaction, and send at once. A transaction's
//! latency is measured from its slot's *intended* start, so when the target stalls (or every
//! user is busy) the wait shows up as latency instead of as requests never sent: coordinated
//! omission corrected, as wrk2 does, without goose's synthetic backfill.
//!
//! The generator's own part is reported apart ([`OpenLoopResult`]): how late the pacer
//! released slots (`pacer_lag`), how long released slots waited for a free user
//! (`queue_wait`), the slots of the steady window never started, and whether the queue
//! overflowed (more than 2 s of schedule waiting: the run cannot keep the rate and stops
//! pacing). A run that did not keep its schedule is flagged, warned about and fails.

use super::report::Latency;
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The intended start times: `start + k / rate` for slot `k = 0, 1, 2, …`.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    start: Instant,
    rate: u64,
}

impl Schedule {
    pub fn new(start: Instant, rate_per_s: u64) -> Schedule {
        Schedule {
            start,
            rate: rate_per_s.max(1),
        }
    }

    pub fn rate(&self) -> u64 {
        self.rate
    }

    /// Slot `k`'s intended start (nanoseconds rounded down).
    pub fn intended(&self, k: u64) -> Instant {
        let ns = u128::from(k) * 1_000_000_000 / u128::from(self.rate);
        self.start + Duration::from_nanos(u64::try_from(ns).unwrap_or(u64::MAX))
    }

    /// How many slots are due at `now`: every `k` with `intended(k) ≤ now`.
    pub fn due(&self, now: Instant) -> u64 {
        if now < self.start {
            return 0;
        }
        // intended(k) ≤ now  ⟺  ⌊k·1e9/R⌋ ≤ ns  ⟺  k·1e9 < (ns+1)·R.
        let ns = (now - self.start).as_nanos();
        let n = ((ns + 1) * u128::from(self.rate)).div_ceil(1_000_000_000);
        u64::try_from(n).unwrap_or(u64::MAX)
    }

    /// Slots whose intended start lies in `[from, until)`.
    pub fn in_window(&self, from: Instant, until: Instant) -> u64 {
        let before = |t: Instant| {
            // Slots strictly before t.
            if t <= self.start {
                0
            } else {
                self.due(t - Duration::from_nanos(1))
            }
        };
        before(until).saturating_sub(before(from))
    }
}

/// One released slot.
#[derive(Debug, Clone, Copy)]
pub struct Slot {
    pub intended: Instant,
    pub released: Instant,
}

/// The generator's side of the schedule, steady window only (µs histograms).
#[derive(Debug)]
struct Lags {
    pacer: Histogram<u64>,
    queue: Histogram<u64>,
    started: u64,
    waited_over_1ms: u64,
}

/// The pacing thread and its queue.
#[derive(Debug)]
pub struct Pacer {
    schedule: Schedule,
    rx: flume::Receiver<Slot>,
    lags: Mutex<Lags>,
    overflowed: Arc<AtomicBool>,
    max_backlog: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    from: Instant,
    until: Instant,
}

/// Most schedule that may wait in the queue before the run is declared unable to keep it.
const MAX_BACKLOG: Duration = Duration::from_secs(2);

impl Pacer {
    /// Starts pacing at `schedule`'s start until `stop_at`; `[from, until)` is the steady
    /// window the figures are kept for.
    pub fn start(schedule: Schedule, stop_at: Instant, from: Instant, until: Instant) -> Pacer {
        let (tx, rx) = flume::unbounded();
        let overflowed = Arc::new(AtomicBool::new(false));
        let max_backlog = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let limit = (MAX_BACKLOG.as_secs_f64() * schedule.rate() as f64) as usize;
        let thread = {
            let (overflowed, max_backlog, stop) =
                (overflowed.clone(), max_backlog.clone(), stop.clone());
            std::thread::Builder::new()
                .name("keygate-pacer".into())
                .spawn(move || {
                    // Sleep to the microsecond, not to the default 50 µs slack.
                    let _ =
                        rustix::thread::set_current_timer_slack(std::num::NonZeroU64::new(1_000));
                    let mut k = 0u64;
                    // Slots due before `stop_at`: all released, even when woken late.
                    let last = schedule.due(stop_at - Duration::from_nanos(1));
                    loop {
                        let now = Instant::now();
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        let due = schedule.due(now).min(last);
                        while k < due {
                            let slot = Slot {
                                intended: schedule.intended(k),
                                released: now,
                            };
                            if tx.send(slot).is_err() {
                                return;
                            }
                            k += 1;
                        }
                        let backlog = tx.len();
                        max_backlog.fetch_max(backlog as u64, Ordering::Relaxed);
                        if backlog > limit.max(1000) {
                            overflowed.store(true, Ordering::Relaxed);
                            break;
                        }
                        if now >= stop_at {
                            break;
                        }
                        // With slots already waiting, the users are all busy: releasing
                        // the next ones on time would gain nothing and cost a wake-up each,
                        // so sleep until half the queue would have been taken.
                        let ahead = (backlog / 2) as u64;
                        let next = schedule.intended(k + ahead).min(stop_at);
                        let wait = next.saturating_duration_since(Instant::now());
                        std::thread::sleep(wait.min(Duration::from_millis(100)));
                    }
                })
                .expect("spawning the pacing thread")
        };
        let hist = || Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid bounds");
        Pacer {
            schedule,
            rx,
            lags: Mutex::new(Lags {
                pacer: hist(),
                queue: hist(),
                started: 0,
                waited_over_1ms: 0,
            }),
            overflowed,
            max_backlog,
            stop,
            thread: Mutex::new(Some(thread)),
            from,
            until,
        }
    }

    /// The next slot (waiting for it to be due); `None` once pacing has stopped.
    pub async fn next(&self) -> Option<Slot> {
        let slot = self.rx.recv_async().await.ok()?;
        if slot.intended >= self.from && slot.intended < self.until {
            let picked = Instant::now();
            let us = |d: Duration| (d.as_micros() as u64).clamp(1, 60_000_000);
            let wait = picked.saturating_duration_since(slot.released);
            let mut l = self.lags.lock().expect("lags lock");
            let _ = l
                .pacer
                .record(us(slot.released.saturating_duration_since(slot.intended)));
            let _ = l.queue.record(us(wait));
            l.started += 1;
            if wait > Duration::from_millis(1) {
                l.waited_over_1ms += 1;
            }
        }
        Some(slot)
    }

    /// Stops the thread (if still pacing) and summarizes the steady window.
    pub fn finish(&self, users: usize) -> OpenLoopResult {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.lock().expect("pacer lock").take() {
            let _ = t.join();
        }
        let l = self.lags.lock().expect("lags lock");
        let scheduled = self.schedule.in_window(self.from, self.until);
        let never_started = scheduled.saturating_sub(l.started);
        let overflowed = self.overflowed.load(Ordering::Relaxed);
        let mut problems = Vec::new();
        if overflowed {
            problems.push(format!(
                "more than {} s of schedule waited for a user: the generator cannot keep {}/s with {users} users",
                MAX_BACKLOG.as_secs(),
                self.schedule.rate()
            ));
        }
        if never_started * 100 > scheduled {
            problems.push(format!(
                "{never_started} of {scheduled} steady-window slots never started (> 1%)"
            ));
        }
        if l.waited_over_1ms * 100 > l.started.max(1) {
            problems.push(format!(
                "{} of {} slots waited > 1 ms for a free user (> 1%): raise --users, or the generator is out of CPU",
                l.waited_over_1ms, l.started
            ));
        }
        OpenLoopResult {
            rate: self.schedule.rate(),
            users,
            scheduled,
            started: l.started,
            never_started,
            max_backlog: self.max_backlog.load(Ordering::Relaxed),
            pacer_lag_us: Latency::of(&l.pacer),
            queue_wait_us: Latency::of(&l.queue),
            waited_over_1ms: l.waited_over_1ms,
            kept_schedule: problems.is_empty(),
            problems,
        }
    }
}

/// How well the generator kept an open-loop schedule (steady window).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct OpenLoopResult {
    pub rate: u64,
    pub users: usize,
    /// Slots whose intended start lies in the steady window...
    pub scheduled: u64,
    /// ...taken by a user, and never taken before the end.
    pub started: u64,
    pub never_started: u64,
    /// Most slots released and waiting for a user at once (whole run).
    pub max_backlog: u64,
    /// Release time − intended time (the pacing thread's lateness).
    pub pacer_lag_us: Latency,
    /// Pick-up time − release time (waiting for a free user).
    pub queue_wait_us: Latency,
    pub waited_over_1ms: u64,
    pub kept_schedule: bool,
    pub problems: Vec<String>,
}

/// The users an open-loop run needs by default: enough that a few milliseconds of stall at
/// `rate` stay outstanding at the target instead of queueing in the generator
/// (rate × 4 ms, at least 16, at most 512).
pub fn default_users(rate: u64) -> usize {
    ((rate / 250) as usize).clamp(16, 512)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intended_times_are_k_over_r_and_due_counts_them_exactly() {
        let t0 = Instant::now();
        for rate in [1u64, 3, 7, 1000, 33_333, 1_000_000] {
            let s = Schedule::new(t0, rate);
            assert_eq!(s.intended(0), t0);
            assert_eq!(s.due(t0), 1);
            for k in [1u64, 2, 5, 999, 12_345, 10_000_000] {
                let at = s.intended(k);
                assert_eq!(
                    at - t0,
                    Duration::from_nanos((u128::from(k) * 1_000_000_000 / u128::from(rate)) as u64)
                );
                assert_eq!(s.due(at), k + 1, "rate {rate} k {k}");
                assert_eq!(s.due(at - Duration::from_nanos(1)), k, "rate {rate} k {k}");
            }
        }
        let s = Schedule::new(t0 + Duration::from_secs(1), 10);
        assert_eq!(s.due(t0), 0, "nothing is due before the start");
    }

    #[test]
    fn the_window_holds_rate_times_its_length() {
        let t0 = Instant::now();
        let s = Schedule::new(t0, 1000);
        let from = t0 + Duration::from_secs(2);
        assert_eq!(s.in_window(from, from + Duration::from_secs(3)), 3000);
        // Slot 2000 is at exactly `from`: in; slot 5000 at `until`: out.
        assert_eq!(s.in_window(from, from + Duration::from_millis(1)), 1);
        assert_eq!(s.in_window(t0, t0), 0);
        assert_eq!(
            Schedule::new(t0, 3).in_window(t0, t0 + Duration::from_secs(1)),
            3
        );
    }

    #[tokio::test]
    async fn the_pacer_releases_every_slot_in_order_and_never_early() {
        let t0 = Instant::now() + Duration::from_millis(5);
        let s = Schedule::new(t0, 2000);
        let (from, until) = (t0, t0 + Duration::from_millis(100));
        let p = Pacer::start(s, until, from, until);
        let mut prev = None;
        let mut n = 0;
        while let Some(slot) = p.next().await {
            assert!(slot.released >= slot.intended, "released before its time");
            if let Some(prev) = prev {
                assert!(slot.intended > prev);
            }
            prev = Some(slot.intended);
            n += 1;
        }
        let r = p.finish(1);
        assert_eq!(n, 200);
        assert_eq!((r.scheduled, r.started, r.never_started), (200, 200, 0));
    }

    #[tokio::test]
    async fn a_generator_that_falls_behind_is_flagged() {
        let t0 = Instant::now();
        let (from, until) = (t0, t0 + Duration::from_millis(200));
        let p = Pacer::start(Schedule::new(t0, 1000), until, from, until);
        // One slow user: takes a slot every 20 ms, so ~190 of 200 slots are never started.
        while let Some(_slot) = p.next().await {
            tokio::time::sleep(Duration::from_millis(20)).await;
            if Instant::now() > until {
                break;
            }
        }
        let r = p.finish(1);
        assert!(!r.kept_schedule, "{r:?}");
        assert!(r.never_started > 100, "{r:?}");
        assert!(
            r.problems.iter().any(|p| p.contains("never started")),
            "{r:?}"
        );
        assert_eq!(default_users(1000), 16);
        assert_eq!(default_users(40_000), 160);
    }
}
