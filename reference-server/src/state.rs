//! Everything a request handler needs, shared by all connections of one server.

use std::sync::atomic::{AtomicU64, Ordering};

use keygate_sigv4::SigningKeyCache;

use crate::clock::Clock;
use crate::config::ServerConfig;
use crate::iam::Identities;
use crate::metrics::Metrics;
use crate::store::Store;

#[derive(Debug)]
pub struct AppState {
    pub config: ServerConfig,
    pub sigv4: keygate_sigv4::Config,
    pub key_cache: SigningKeyCache,
    pub clock: Clock,
    pub store: Store,
    pub identities: Identities,
    /// Per-stage latency and request counts, served at `/_keygate/metrics`.
    pub metrics: Metrics,
    request_ids: AtomicU64,
    request_id_base: u64,
}

impl AppState {
    pub fn new(
        config: ServerConfig,
        clock: Clock,
        store: Store,
        identities: Identities,
    ) -> AppState {
        let sigv4 = keygate_sigv4::Config {
            region: config.region.clone(),
            ..keygate_sigv4::Config::default()
        };
        AppState {
            config,
            sigv4,
            key_cache: SigningKeyCache::new(4096),
            clock,
            store,
            identities,
            metrics: Metrics::default(),
            request_ids: AtomicU64::new(0),
            request_id_base: rand::random(),
        }
    }

    /// A unique request id: 16 upper-case hex characters, as MinIO's.
    pub fn next_request_id(&self) -> String {
        let n = self.request_ids.fetch_add(1, Ordering::Relaxed);
        format!(
            "{:016X}",
            self.request_id_base
                .wrapping_add(n.wrapping_mul(0x9E37_79B9_7F4A_7C15))
        )
    }
}

/// A server's state in `dir`, without a listener, for unit tests: root `testroot` /
/// `test-root-secret`, no POSIX ownership.
#[cfg(test)]
pub(crate) fn for_tests(dir: &std::path::Path) -> std::sync::Arc<AppState> {
    let mut cfg = ServerConfig::new(dir);
    cfg.posix_ownership = false;
    cfg.root_access_key = Some("testroot".into());
    cfg.root_secret_key = Some("test-root-secret".into());
    crate::server::prepare(cfg).expect("test state").0
}
