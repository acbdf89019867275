//! Thread CPU time of a request future, measured on a sample of requests.
//!
//! [`measured`] reads `CLOCK_THREAD_CPUTIME_ID` around every poll of the future it wraps and
//! sums the differences, so the figure is CPU the request's own code used (on whichever worker
//! thread polled it), not wall time: waiting for the disk, the client or another task does not
//! count. What happens outside the future (hyper parsing the request head and writing the
//! response, a streamed body, the runtime's scheduling and the socket) is not in it.
//!
//! Reading that clock is a system call (~0.6 µs on a VM; the vDSO only serves the wall
//! clocks), so only a sample of requests is measured: [`sampled`] picks about 1 in
//! [`SAMPLE_EVERY`] (or [`SAMPLE_ENV`]) with a per-thread xorshift generator (random, so a
//! periodic request mix cannot alias with the sampling). Part of each clock read falls inside the interval it
//! bounds; [`Overhead::calibrate`] measures that part (the smallest difference of two
//! back-to-back reads) once, and it is subtracted per poll.

use std::cell::Cell;
use std::future::Future;

/// About one request in this many is measured...
pub const SAMPLE_EVERY: u64 = 16;

/// ...unless `KEYGATE_CPU_SAMPLE_EVERY` says otherwise (1: every request, at ~1 µs of clock
/// reads each; for exact per-operation figures and for tests that must not depend on chance).
pub const SAMPLE_ENV: &str = "KEYGATE_CPU_SAMPLE_EVERY";

/// The sampling interval: [`SAMPLE_ENV`] when set to a positive number, else [`SAMPLE_EVERY`].
pub fn sample_every_from_env() -> u64 {
    std::env::var(SAMPLE_ENV)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .filter(|&n| n >= 1)
        .unwrap_or(SAMPLE_EVERY)
}

/// This thread's CPU time in nanoseconds.
pub fn thread_cpu_ns() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    (t.tv_sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(t.tv_nsec as u64)
}

thread_local! {
    static RNG: Cell<u64> = const { Cell::new(0) };
}

/// Whether to measure the next request (about 1 in `every`; `every` ≤ 1 means always).
pub fn sampled(every: u64) -> bool {
    if every <= 1 {
        return true;
    }
    RNG.with(|r| {
        let mut x = r.get();
        if x == 0 {
            // Seeded per thread from its stack address and the clock; never zero.
            let local = 0u8;
            x = (std::ptr::addr_of!(local) as u64) ^ thread_cpu_ns() ^ 0x9E37_79B9_7F4A_7C15;
            x |= 1;
        }
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        r.set(x);
        x % every == 0
    })
}

/// The part of one pair of clock reads that lands inside the interval they bound.
#[derive(Debug, Clone, Copy, Default)]
pub struct Overhead(u64);

impl Overhead {
    /// The smallest of 64 back-to-back differences (the clock's own cost, not noise).
    pub fn calibrate() -> Overhead {
        let min = (0..64)
            .map(|_| {
                let a = thread_cpu_ns();
                thread_cpu_ns().saturating_sub(a)
            })
            .min()
            .unwrap_or(0);
        Overhead(min)
    }

    pub fn ns(self) -> u64 {
        self.0
    }
}

tokio::task_local! {
    /// Set while a measured request runs: the CPU its [`offload`]ed work used on other
    /// threads, and the clock's cost to take off.
    static OFFLOADED: (Cell<u64>, Overhead);
}

/// Runs blocking work (an fsync, a SQLite commit) on the runtime's blocking pool, so the
/// worker thread goes on serving other requests meanwhile. When the calling request is being
/// measured, the thread CPU the work used is added to its figure, as if it ran in a poll.
pub async fn offload<T, F>(work: F) -> Result<T, tokio::task::JoinError>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let overhead = OFFLOADED.try_with(|(_, o)| *o).ok();
    let (out, ns) = tokio::task::spawn_blocking(move || match overhead {
        None => (work(), 0),
        Some(o) => {
            let t0 = thread_cpu_ns();
            let out = work();
            (out, thread_cpu_ns().saturating_sub(t0).saturating_sub(o.0))
        }
    })
    .await?;
    let _ = OFFLOADED.try_with(|(c, _)| c.set(c.get() + ns));
    Ok(out)
}

/// Runs `fut` to completion; returns its output and the thread CPU nanoseconds it used: its
/// polls (the clock's own cost removed per poll) and the work it [`offload`]ed.
pub async fn measured<F: Future>(fut: F, overhead: Overhead) -> (F::Output, u64) {
    let fut = OFFLOADED.scope((Cell::new(0), overhead), async move {
        let out = fut.await;
        (out, OFFLOADED.with(|(c, _)| c.get()))
    });
    let mut fut = std::pin::pin!(fut);
    let mut cpu = 0u64;
    let (out, offloaded) = std::future::poll_fn(|cx| {
        let t0 = thread_cpu_ns();
        let r = fut.as_mut().poll(cx);
        cpu += thread_cpu_ns()
            .saturating_sub(t0)
            .saturating_sub(overhead.0);
        r
    })
    .await;
    (out, cpu + offloaded)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Burns `ns` of this thread's CPU (by the CPU clock itself, so the test does not depend
    /// on the machine's speed).
    fn burn(ns: u64) {
        let until = thread_cpu_ns() + ns;
        while thread_cpu_ns() < until {
            std::hint::spin_loop();
        }
    }

    #[tokio::test]
    async fn measured_counts_cpu_burnt_in_polls_and_not_time_spent_waiting() {
        let overhead = Overhead::calibrate();
        let work = async {
            burn(2_000_000);
            // Waiting is not CPU: 30 ms asleep must not show.
            tokio::time::sleep(std::time::Duration::from_millis(30)).await;
            burn(1_000_000);
            7
        };
        let (out, cpu) = measured(work, overhead).await;
        assert_eq!(out, 7);
        // At least the burn, less the clock's calibrated cost taken off per poll (two polls).
        assert!(cpu >= 2_990_000, "measured {cpu} ns of a 3 ms burn");
        assert!(cpu < 25_000_000, "counted the 30 ms sleep: {cpu} ns");
    }

    #[tokio::test]
    async fn offloaded_work_counts_for_the_measured_request_only() {
        let overhead = Overhead::calibrate();
        let work = async {
            offload(|| burn(2_000_000)).await.unwrap();
            5
        };
        let (out, cpu) = measured(work, overhead).await;
        assert_eq!(out, 5);
        assert!(
            cpu >= 1_990_000,
            "measured {cpu} ns of a 2 ms offloaded burn"
        );
        // Outside a measured request it simply runs.
        assert_eq!(offload(|| 3).await.unwrap(), 3);
    }

    #[test]
    fn sampling_picks_about_one_in_n_and_always_when_asked() {
        assert!((0..100).all(|_| sampled(1)));
        let n = (0..160_000).filter(|_| sampled(SAMPLE_EVERY)).count();
        // Expected 10 000; a xorshift generator is far inside ±20%.
        assert!((8_000..12_000).contains(&n), "{n} of 160 000 sampled");
    }
}
