//! CPU pinning for load runs on one machine: the spawned target on one CPU, the generator on
//! the others (`keygate load --pin`, on by default with ≥ 2 CPUs and a spawned target).
//!
//! Without it the target's runtime (one worker thread per CPU) and goose's share every CPU,
//! and a request's latency includes waiting for a CPU the other process holds: on 2 cores
//! that scheduler contention dominated the tail. Pinned, the target runs on its own CPU with
//! one worker thread per CPU it was given (`TOKIO_WORKER_THREADS`, which tokio reads), and the
//! generator never competes with it; the figures then describe the target on that CPU.
//!
//! The target inherits its CPUs from the thread that spawns it (a short-lived thread pinned
//! first, so no thread of the target ever runs elsewhere); the generator's threads are pinned
//! one by one (`/proc/self/task`; threads started later inherit it) and restored afterwards.

use rustix::thread::{sched_getaffinity, sched_setaffinity, CpuSet, Pid};

/// The CPUs of each side.
#[derive(Clone, Copy)]
pub struct Pinning {
    target: CpuSet,
    generator: CpuSet,
    original: CpuSet,
    workers: usize,
}

impl std::fmt::Debug for Pinning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pinning")
            .field("target", &cpus(&self.target))
            .field("generator", &cpus(&self.generator))
            .field("workers", &self.workers)
            .finish()
    }
}

/// The CPU numbers in `set`.
pub fn cpus(set: &CpuSet) -> Vec<usize> {
    (0..CpuSet::MAX_CPU).filter(|&c| set.is_set(c)).collect()
}

impl Pinning {
    /// The last CPU this process may use for the target, the others for the generator; `None`
    /// with fewer than 2 CPUs (or when the affinity cannot be read).
    pub fn split() -> Option<Pinning> {
        let original = sched_getaffinity(None).ok()?;
        let all = cpus(&original);
        if all.len() < 2 {
            return None;
        }
        let (mut target, mut generator) = (CpuSet::new(), CpuSet::new());
        let (last, rest) = all.split_last()?;
        target.set(*last);
        for &c in rest {
            generator.set(c);
        }
        Some(Pinning {
            target,
            generator,
            original,
            workers: 1,
        })
    }

    /// Runtime worker threads for the target (default: one per target CPU).
    pub fn with_workers(self, workers: Option<usize>) -> Pinning {
        Pinning {
            workers: workers.unwrap_or(cpus(&self.target).len()).max(1),
            ..self
        }
    }

    pub fn workers(&self) -> usize {
        self.workers
    }

    pub fn target_cpus(&self) -> Vec<usize> {
        cpus(&self.target)
    }

    pub fn generator_cpus(&self) -> Vec<usize> {
        cpus(&self.generator)
    }

    /// Spawns `cmd` from a thread pinned to the target's CPUs, so the child starts there.
    pub fn spawn_target(
        &self,
        mut cmd: std::process::Command,
    ) -> std::io::Result<std::process::Child> {
        let set = self.target;
        cmd.env("TOKIO_WORKER_THREADS", self.workers.to_string());
        std::thread::scope(|s| {
            s.spawn(move || {
                sched_setaffinity(None, &set)?;
                cmd.spawn()
            })
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("the spawning thread panicked")))
        })
    }

    /// Pins every thread of this process to the generator's CPUs.
    pub fn pin_generator(&self) -> std::io::Result<()> {
        set_all_threads(&self.generator)
    }

    /// Gives every thread of this process back the CPUs it had before.
    pub fn restore_generator(&self) -> std::io::Result<()> {
        set_all_threads(&self.original)
    }
}

fn set_all_threads(set: &CpuSet) -> std::io::Result<()> {
    for entry in std::fs::read_dir("/proc/self/task")? {
        let tid = entry?.file_name().to_string_lossy().parse::<i32>().ok();
        if let Some(pid) = tid.and_then(Pid::from_raw) {
            // A thread that ended since the listing is not an error.
            match sched_setaffinity(Some(pid), set) {
                Ok(()) | Err(rustix::io::Errno::SRCH) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pinned_child_runs_only_on_the_target_cpu_and_the_generator_is_restored() {
        let Some(p) = Pinning::split() else {
            // One CPU: nothing to split (the run records pinning as off).
            return;
        };
        assert_eq!(p.target_cpus().len(), 1);
        assert!(!p.generator_cpus().contains(&p.target_cpus()[0]));
        let mut cmd = std::process::Command::new("sh");
        cmd.args([
            "-c",
            "grep Cpus_allowed_list /proc/self/status; echo $TOKIO_WORKER_THREADS",
        ]);
        cmd.stdout(std::process::Stdio::piped());
        let out = p.spawn_target(cmd).unwrap().wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let want = format!("Cpus_allowed_list:\t{}\n1\n", p.target_cpus()[0]);
        assert_eq!(text, want);
        p.pin_generator().unwrap();
        let mine = cpus(&sched_getaffinity(None).unwrap());
        p.restore_generator().unwrap();
        assert_eq!(mine, p.generator_cpus());
        assert_eq!(cpus(&sched_getaffinity(None).unwrap()), cpus(&p.original));
    }
}
