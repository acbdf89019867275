//! Interrupts: SIGINT (Ctrl-C) and SIGTERM (what CI runners send on a timeout) as a value a
//! run watches, so `keygate run` and `keygate load` stop cleanly instead of dying mid-way.
//!
//! After the first signal the command stops starting work, tears its target down (the
//! in-process server's temporary data directory, which holds root credentials, removed; a
//! container stopped and removed; a spawned process killed; a remote target, which keeps
//! running, rid of what the run created on it), writes what it can report, and
//! exits with 128 + the signal's number: [`Signal::exit_code`], 130 for SIGINT, 143 for
//! SIGTERM, apart from every other exit code. A second signal exits at once with that code,
//! without cleanup, for when the cleanup itself hangs; the same signal again within a second
//! is not a second one (`timeout` and process-group kills deliver one signal twice).
//!
//! Invariant: [`Interrupt::listen`] replaces both signals' default action (terminate) for the
//! rest of the process, so it is called only by commands that then watch the value. Code that
//! is handed [`Interrupt::never`] (library callers, tests) behaves as before.

use tokio::signal::unix::{self, SignalKind};
use tokio::sync::watch;

/// The signal that interrupted a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGINT: Ctrl-C on a terminal.
    Int,
    /// SIGTERM: a CI runner's timeout, `kill`, a container stop.
    Term,
}

impl Signal {
    pub fn name(self) -> &'static str {
        match self {
            Signal::Int => "SIGINT",
            Signal::Term => "SIGTERM",
        }
    }

    /// 128 + the signal's number, as shells report a process the signal killed.
    pub fn exit_code(self) -> u8 {
        match self {
            Signal::Int => 130,
            Signal::Term => 143,
        }
    }
}

/// The run was interrupted (an error value, for code that stops by returning `Err`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interrupted(pub Signal);

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "interrupted by {}", self.0.name())
    }
}

impl std::error::Error for Interrupted {}

/// Whether (and by which signal) the process was interrupted; cheap to clone and to ask.
#[derive(Debug, Clone, Default)]
pub struct Interrupt(Option<watch::Receiver<Option<Signal>>>);

impl Interrupt {
    /// An interrupt that never comes (the signals keep their default action).
    pub fn never() -> Self {
        Self(None)
    }

    /// Catch SIGINT and SIGTERM from now on (inside a tokio runtime). On the first signal,
    /// `notice` is printed to stderr after the signal's name and [`Interrupt::received`] turns
    /// `Some`; a second signal prints one line and exits the process at once.
    pub fn listen(notice: &'static str) -> std::io::Result<Self> {
        let int = Sigint::Tokio(unix::signal(SignalKind::interrupt())?);
        Self::start(notice, int)
    }

    /// [`Interrupt::listen`] for a process that runs goose attacks (`keygate load`). Goose
    /// installs a Ctrl-C handler of its own through the `ctrlc` crate when an attack starts,
    /// replacing whatever caught SIGINT before: it ends the attack on the first Ctrl-C and
    /// exits 1 on the second, which is the code for a regression, leaving the target
    /// provisioned. `ctrlc` takes one handler per process, so claiming it first leaves goose's
    /// attempt refused (goose logs it and goes on) and SIGINT keeps the contract: the first
    /// stops the attack through the same path as SIGTERM, the second exits 130.
    pub fn listen_before_goose(notice: &'static str) -> std::io::Result<Self> {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        ctrlc::set_handler(move || {
            let _ = tx.send(());
        })
        .map_err(std::io::Error::other)?;
        Self::start(notice, Sigint::CtrlC(rx))
    }

    fn start(notice: &'static str, mut int: Sigint) -> std::io::Result<Self> {
        let mut term = unix::signal(SignalKind::terminate())?;
        let (tx, rx) = watch::channel(None);
        tokio::spawn(async move {
            let first = next(&mut int, &mut term).await;
            say!(
                "\nkeygate: {} received: {notice} ({} again, a second or more later, exits at \
                 once, without cleanup)",
                first.name(),
                first.name()
            );
            let _ = tx.send(Some(first));
            let at = tokio::time::Instant::now();
            // The same signal again within a second is the first one delivered twice (as
            // `timeout` does, to the process and then to its group), not a second request.
            let second = loop {
                let s = next(&mut int, &mut term).await;
                if s != first || at.elapsed() >= REPEAT_WINDOW {
                    break s;
                }
            };
            say!(
                "keygate: {} received again: exiting now, without cleanup",
                second.name()
            );
            crate::target::command::kill_running_commands();
            std::process::exit(i32::from(second.exit_code()));
        });
        Ok(Self(Some(rx)))
    }

    /// The first signal received so far, if any.
    pub fn received(&self) -> Option<Signal> {
        self.0.as_ref().and_then(|rx| *rx.borrow())
    }

    /// Resolves when a signal has been received (at once if one already was); never for
    /// [`Interrupt::never`].
    pub async fn wait(&self) -> Signal {
        if let Some(rx) = &self.0 {
            let mut rx = rx.clone();
            let got = rx.wait_for(Option::is_some).await.ok().and_then(|s| *s);
            if let Some(signal) = got {
                return signal;
            }
        }
        std::future::pending().await
    }
}

/// How soon the same signal again counts as the first one delivered twice.
const REPEAT_WINDOW: std::time::Duration = std::time::Duration::from_secs(1);

/// Where SIGINT arrives from: tokio's signal stream, or the `ctrlc` crate's handler thread.
enum Sigint {
    Tokio(unix::Signal),
    CtrlC(tokio::sync::mpsc::UnboundedReceiver<()>),
}

impl Sigint {
    async fn recv(&mut self) {
        let got = match self {
            Sigint::Tokio(s) => s.recv().await,
            Sigint::CtrlC(rx) => rx.recv().await,
        };
        if got.is_none() {
            // The source is gone (cannot happen while the process runs): never again.
            std::future::pending::<()>().await;
        }
    }
}

async fn next(int: &mut Sigint, term: &mut unix::Signal) -> Signal {
    tokio::select! {
        () = int.recv() => Signal::Int,
        _ = term.recv() => Signal::Term,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn never_is_never_received() {
        let i = Interrupt::never();
        assert_eq!(i.received(), None);
        let waited = tokio::time::timeout(std::time::Duration::from_millis(10), i.wait()).await;
        assert!(waited.is_err(), "never resolved");
    }

    #[test]
    fn exit_codes_are_128_plus_the_signal_number() {
        assert_eq!(Signal::Int.exit_code(), 128 + 2);
        assert_eq!(Signal::Term.exit_code(), 128 + 15);
        assert_eq!(
            Interrupted(Signal::Term).to_string(),
            "interrupted by SIGTERM"
        );
    }
}
