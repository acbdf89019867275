//! [`ContainerTarget`]: the container adapter's [`Target`], which is the admin-API target
//! plus fault injection into the container the harness started (capability `faults`).
//!
//! - `Restart`: the engine's stop (SIGTERM, SIGKILL after [`STOP_GRACE_SECONDS`]), then start.
//! - `Kill`: `docker kill --signal KILL`, waiting until the engine reports it stopped; the
//!   server gets no chance to finish a write or close its database. `Start` brings it back.
//! - `Pause` / `Unpause`: the engine's cgroup freezer. The kernel still completes TCP
//!   handshakes for the frozen server, so a request is sent and then nothing answers: only a
//!   client timeout ends it, as a transport error.
//!
//! After `Restart` and `Start` the injector waits for any HTTP answer (as at first start).
//! The published host port is fixed at creation (see the module above), so the endpoint
//! does not move. Every method but the fault ones is the admin target's, unchanged.

use super::{wait_ready, Ready, Running};
use crate::target::admin::AdminTarget;
use crate::target::{
    Credentials, Fault, FileOwner, NewUser, RoleRequest, SharedClock, Target, TargetError,
    TargetInfo, UserUpdate,
};
use async_trait::async_trait;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Seconds the server has to stop on its own at a `Restart` before the engine kills it.
pub const STOP_GRACE_SECONDS: i32 = 10;

/// The container target: provisioning through the admin API, faults through the engine.
#[derive(Debug)]
pub struct ContainerTarget {
    admin: AdminTarget,
    running: Arc<Running>,
    ready: Ready,
}

impl ContainerTarget {
    pub(super) fn new(admin: AdminTarget, running: Arc<Running>, ready: Ready) -> Self {
        Self {
            admin,
            running,
            ready,
        }
    }

    /// The container's id as the engine knows it.
    pub fn container_id(&self) -> &str {
        &self.running.id
    }

    /// A fault the engine performs on the container (everything but `Kill`).
    async fn engine(&self, fault: Fault) -> Result<(), TargetError> {
        let guard = self.running.container.lock().await;
        let c = guard
            .as_ref()
            .ok_or_else(|| TargetError::Transport("the container was removed".into()))?;
        let done = match fault {
            Fault::Restart => match c.stop_with_timeout(Some(STOP_GRACE_SECONDS)).await {
                Ok(()) => c.start().await,
                Err(e) => Err(e),
            },
            Fault::Start => c.start().await,
            Fault::Pause => c.pause().await,
            Fault::Unpause => c.unpause().await,
            Fault::Kill => return Err(TargetError::Unsupported("SIGKILL through the engine API")),
        };
        done.map_err(|e| TargetError::Transport(format!("{fault:?} {}: {e}", self.running.id)))
    }

    async fn serving(&self) -> Result<(), TargetError> {
        wait_ready(&self.admin.http, &self.admin.info.endpoint, &self.ready)
            .await
            .map_err(|e| TargetError::Transport(format!("after the fault: {e}")))
    }

    async fn kill(&self) -> Result<(), TargetError> {
        let id = &self.running.id;
        let out = tokio::process::Command::new("docker")
            .args(["kill", "--signal", "KILL", id])
            .output()
            .await
            .map_err(|e| TargetError::Transport(format!("docker kill: {e}")))?;
        if !out.status.success() {
            return Err(TargetError::Transport(format!(
                "docker kill {id}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        // `docker kill` returns once the signal is sent; `start` on a container still
        // exiting would do nothing.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let guard = self.running.container.lock().await;
            let running = match guard.as_ref() {
                Some(c) => c.is_running().await.unwrap_or(true),
                None => false,
            };
            drop(guard);
            if !running {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(TargetError::Transport(format!(
                    "{id} still runs after SIGKILL"
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl std::ops::Deref for ContainerTarget {
    type Target = AdminTarget;
    fn deref(&self) -> &AdminTarget {
        &self.admin
    }
}

#[async_trait]
impl Target for ContainerTarget {
    fn info(&self) -> TargetInfo {
        self.admin.info()
    }
    fn endpoint(&self) -> &str {
        self.admin.endpoint()
    }
    fn region(&self) -> &str {
        self.admin.region()
    }
    fn root(&self) -> &Credentials {
        self.admin.root()
    }
    fn clock(&self) -> &SharedClock {
        self.admin.clock()
    }
    async fn create_user(&self, user: &NewUser) -> Result<Credentials, TargetError> {
        self.admin.create_user(user).await
    }
    async fn update_user(&self, name: &str, update: &UserUpdate) -> Result<(), TargetError> {
        self.admin.update_user(name, update).await
    }
    async fn delete_user(&self, name: &str) -> Result<(), TargetError> {
        self.admin.delete_user(name).await
    }
    async fn put_policy(&self, name: &str, document: &str) -> Result<(), TargetError> {
        self.admin.put_policy(name, document).await
    }
    async fn delete_policy(&self, name: &str) -> Result<(), TargetError> {
        self.admin.delete_policy(name).await
    }
    async fn attach_policy(&self, user: &str, policy: &str) -> Result<(), TargetError> {
        self.admin.attach_policy(user, policy).await
    }
    async fn detach_policy(&self, user: &str) -> Result<(), TargetError> {
        self.admin.detach_policy(user).await
    }
    async fn assume_role(
        &self,
        caller: &Credentials,
        request: &RoleRequest,
    ) -> Result<Credentials, TargetError> {
        self.admin.assume_role(caller, request).await
    }
    async fn create_service_account(
        &self,
        caller: &Credentials,
        policy: Option<&str>,
    ) -> Result<Credentials, TargetError> {
        self.admin.create_service_account(caller, policy).await
    }
    async fn delete_service_account(
        &self,
        caller: &Credentials,
        access_key: &str,
    ) -> Result<(), TargetError> {
        self.admin.delete_service_account(caller, access_key).await
    }
    async fn check_admin(&self) -> Result<(), TargetError> {
        self.admin.check_admin().await
    }

    async fn count_users(&self) -> Result<Option<usize>, TargetError> {
        self.admin.count_users().await
    }

    async fn stat(&self, relative: &Path) -> Result<FileOwner, TargetError> {
        self.admin.stat(relative).await
    }
    async fn shutdown(&self) {
        self.admin.shutdown().await
    }

    fn supports_faults(&self) -> bool {
        true
    }

    async fn inject(&self, fault: Fault) -> Result<(), TargetError> {
        match fault {
            Fault::Kill => self.kill().await,
            Fault::Restart | Fault::Start => {
                self.engine(fault).await?;
                self.serving().await
            }
            Fault::Pause | Fault::Unpause => self.engine(fault).await,
        }
    }
}
