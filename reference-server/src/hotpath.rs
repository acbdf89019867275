//! The hot path without the network: authenticate and authorise one request head exactly as
//! the server does (`keygate_sigv4` verification against the identity snapshot, routing,
//! policy evaluation), for benches and load-generator calibration. Nothing is served and no
//! body is read, so requests must carry `x-amz-content-sha256` or be presigned.

use std::net::SocketAddr;
use std::sync::Arc;

use keygate_policy::Decision;

use crate::auth::authenticate_head;
use crate::config::ServerConfig;
use crate::iam::Identities;
use crate::s3::error::S3ErrorCode;
use crate::s3::query::Query;
use crate::s3::router;
use crate::state::AppState;

/// A server's state without a listener. `Debug` leaves out the root secret.
pub struct HotPath {
    state: Arc<AppState>,
    root_access_key: String,
    root_secret_key: String,
}

impl std::fmt::Debug for HotPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HotPath")
            .field("root_access_key", &self.root_access_key)
            .finish_non_exhaustive()
    }
}

impl HotPath {
    /// Opens the data dir as [`crate::Server::start`] would, without listening.
    pub fn open(cfg: ServerConfig) -> anyhow::Result<HotPath> {
        std::fs::create_dir_all(&cfg.data_dir)?;
        let data_dir = cfg.data_dir.canonicalize()?;
        let (state, root) = crate::server::prepare(ServerConfig { data_dir, ..cfg })?;
        Ok(HotPath {
            state,
            root_access_key: root.access_key,
            root_secret_key: root.secret,
        })
    }

    /// The identity service, to provision users, policies and credentials.
    pub fn identities(&self) -> &Identities {
        &self.state.identities
    }

    pub fn root_access_key(&self) -> &str {
        &self.root_access_key
    }

    pub fn root_secret_key(&self) -> &str {
        &self.root_secret_key
    }

    /// Authenticates and authorises `parts` as an S3 request from `remote`: the decision,
    /// or the S3 error code the server would answer with.
    pub fn check(
        &self,
        parts: &http::request::Parts,
        remote: SocketAddr,
    ) -> Result<Decision, S3ErrorCode> {
        let state = &self.state;
        let caller = authenticate_head(state, parts).map_err(|e| e.code)?;
        let query = Query::parse(parts.uri.query().unwrap_or(""));
        let route = router::route_request(state.config.domain.as_deref(), parts, &query)
            .map_err(|e| e.code)?;
        let request = crate::authz::AuthzRequest {
            state,
            caller: &caller,
            headers: &parts.headers,
            query: &query,
            remote,
            secure: false,
            body_tags: None,
        };
        crate::authz::decide(
            &request,
            route.op.action(),
            route.resource(parts.uri.path()),
        )
        .map_err(|e| e.code)
    }
}
