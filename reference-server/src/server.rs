//! Starting and stopping a server: in-process (tests, the harness) or from the binary.
//!
//! [`Server::start`] binds, prepares the data directory and serves HTTP/1.1 on a background
//! task; [`RunningServer::shutdown`] stops accepting, lets in-flight requests finish and
//! returns. Nothing here is process-global, so one test process can run several servers.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use http::Response;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::Watcher;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use crate::clock::Clock;
use crate::config::ServerConfig;
use crate::conn::TimedIncoming;
use crate::http_util::Body;
use crate::iam::Identities;
use crate::state::AppState;
use crate::store::Store;

/// Entry point for running a server.
#[derive(Debug)]
pub struct Server;

/// A server serving on a background task. `Debug` leaves out the root secret.
pub struct RunningServer {
    endpoint: String,
    addr: SocketAddr,
    root_access_key: String,
    root_secret_key: String,
    root_generated: bool,
    data_dir: PathBuf,
    state: Arc<AppState>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Server {
    /// Prepares the data dir, binds `cfg.listen` and starts serving.
    pub async fn start(cfg: ServerConfig) -> anyhow::Result<RunningServer> {
        if cfg.test_clock && !cfg.listen.ip().is_loopback() {
            bail!(
                "--test-clock is refused with a non-loopback listen address ({})",
                cfg.listen
            );
        }
        std::fs::create_dir_all(&cfg.data_dir)
            .with_context(|| format!("creating data dir {}", cfg.data_dir.display()))?;
        let data_dir = cfg.data_dir.canonicalize()?;
        if cfg.posix_ownership {
            check_can_chown(&data_dir)?;
        }
        let (state, root) = prepare(ServerConfig {
            data_dir: data_dir.clone(),
            ..cfg
        })?;
        let listen = state.config.listen;
        let listener = TcpListener::bind(listen)
            .await
            .with_context(|| format!("binding {listen}"))?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = watch::channel(false);
        tokio::spawn(purge_loop(state.clone(), stopped.clone()));
        let tls = match &state.config.tls {
            Some(tls) => Some(tls.acceptor()?),
            None => None,
        };
        let scheme = if tls.is_some() { "https" } else { "http" };
        let task = tokio::spawn(accept_loop(listener, state.clone(), tls, stopped));
        Ok(RunningServer {
            endpoint: format!("{scheme}://{addr}"),
            addr,
            root_access_key: root.access_key,
            root_secret_key: root.secret,
            root_generated: root.generated,
            data_dir,
            state,
            stop,
            task,
        })
    }
}

impl std::fmt::Debug for RunningServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningServer")
            .field("endpoint", &self.endpoint)
            .field("root_access_key", &self.root_access_key)
            .field("data_dir", &self.data_dir)
            .finish_non_exhaustive()
    }
}

impl RunningServer {
    /// `http://127.0.0.1:PORT`, or `https://…` with TLS.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn root_access_key(&self) -> &str {
        &self.root_access_key
    }

    pub fn root_secret_key(&self) -> &str {
        &self.root_secret_key
    }

    /// Whether this start generated the root keys (the binary prints them then).
    pub fn root_generated(&self) -> bool {
        self.root_generated
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Moves the server's clock forward (only with `test_clock`).
    pub fn advance_clock(&self, seconds: i64) -> Option<time::OffsetDateTime> {
        self.state.clock.advance(seconds)
    }

    /// Stops accepting connections, waits for in-flight requests (up to 30 s), returns.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

async fn accept_loop(
    listener: TcpListener,
    state: Arc<AppState>,
    tls: Option<TlsAcceptor>,
    mut stopped: watch::Receiver<bool>,
) {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let limits = state.config.connection_limits.clone();
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    loop {
        // A free slot first: beyond the limit, connections wait in the accept queue.
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
            _ = stopped.changed() => break,
        };
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stopped.changed() => break,
        };
        let _ = stream.set_nodelay(true);
        let state = state.clone();
        let watcher = graceful.watcher();
        let tls = tls.clone();
        let limits = limits.clone();
        tokio::spawn(async move {
            let _slot = slot;
            match tls {
                None => serve_connection(TokioIo::new(stream), state, remote, false, watcher).await,
                Some(acceptor) => {
                    let handshake = acceptor.accept(stream);
                    match tokio::time::timeout(limits.header_read_timeout, handshake).await {
                        Ok(Ok(stream)) => {
                            serve_connection(TokioIo::new(stream), state, remote, true, watcher)
                                .await
                        }
                        Ok(Err(e)) => tracing::debug!(error = %e, %remote, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%remote, "TLS handshake timed out"),
                    }
                }
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(Duration::from_secs(30), graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("in-flight requests still running after 30 s; stopping anyway");
    }
}

/// Serves HTTP/1.1 on one accepted (and, with TLS, handshaken) connection until it closes.
async fn serve_connection<I>(
    io: TokioIo<I>,
    state: Arc<AppState>,
    remote: SocketAddr,
    secure: bool,
    watcher: Watcher,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let limits = state.config.connection_limits.clone();
    let body_limits = limits.clone();
    let service = service_fn(move |req: http::Request<hyper::body::Incoming>| {
        let state = state.clone();
        let mut req = req.map(|body| TimedIncoming::new(body, &body_limits));
        let is_head = req.method() == http::Method::HEAD;
        let body_end = declares_body(req.headers()).then(|| req.body_mut().watch_end());
        let ids = state.clone();
        let served = crate::s3::serve(state, req, remote, secure);
        async move {
            let mut resp = answer_even_on_panic(served, || ids.next_request_id(), is_head).await;
            if body_end.is_some_and(|ended| !ended.load(std::sync::atomic::Ordering::Relaxed)) {
                // The answer left the body unread (a refusal, a panic), so the connection
                // cannot carry another request: say so (RFC 9112 §9.6) rather than close it
                // under a client that would send its next request on it.
                resp.headers_mut().insert(
                    http::header::CONNECTION,
                    http::HeaderValue::from_static("close"),
                );
            }
            Ok::<_, Infallible>(resp)
        }
    });
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_header_size(limits.max_header_bytes)
        .max_buf_size(limits.max_header_bytes.max(8192))
        .max_headers(limits.max_headers)
        .serve_connection(io, service);
    if let Err(e) = watcher.watch(conn).await {
        tracing::debug!(error = %e, "connection ended with an error");
    }
}

/// Whether the request says a body follows (a non-zero length, or chunked framing).
fn declares_body(headers: &http::HeaderMap) -> bool {
    headers.contains_key(http::header::TRANSFER_ENCODING)
        || headers
            .get(http::header::CONTENT_LENGTH)
            .is_some_and(|v| v.as_bytes() != b"0")
}

/// Runs a request's handler; if it panics (a bug, or a library's), the client still gets an
/// answer, a bare `InternalError` (500) whose body says nothing internal, instead of a dropped
/// connection (which stays usable when the request's body was read).
async fn answer_even_on_panic<F>(
    served: F,
    request_id: impl FnOnce() -> String,
    is_head: bool,
) -> Response<Body>
where
    F: std::future::Future<Output = Response<Body>>,
{
    use futures_util::FutureExt;
    match std::panic::AssertUnwindSafe(served).catch_unwind().await {
        Ok(resp) => resp,
        Err(_) => {
            let e = crate::s3::error::S3Error::internal("a request handler panicked");
            let request_id = request_id();
            let mut resp = crate::s3::error_response(&e, "", &request_id, is_head);
            if let Ok(v) = http::HeaderValue::from_str(&request_id) {
                resp.headers_mut().insert("x-amz-request-id", v);
            }
            resp
        }
    }
}

/// The root keys as a start resolved them.
pub(crate) struct RootInfo {
    pub access_key: String,
    pub secret: String,
    pub generated: bool,
}

/// Opens everything a server needs under `cfg.data_dir` (which must be canonical): root keys,
/// object store, identity database, clock. Shared by [`Server::start`] and [`crate::HotPath`].
pub(crate) fn prepare(cfg: ServerConfig) -> anyhow::Result<(Arc<AppState>, RootInfo)> {
    let data_dir = cfg.data_dir.clone();
    let root = crate::root::load_or_create(
        &data_dir,
        cfg.root_access_key.as_deref(),
        cfg.root_secret_key.as_deref(),
    )?;
    let store = Store::open(&data_dir, cfg.posix_ownership)
        .with_context(|| format!("opening the object store in {}", data_dir.display()))?;
    let clock = if cfg.test_clock {
        Clock::adjustable()
    } else {
        Clock::system()
    };
    let root_secret = root.secret_key.expose().to_owned();
    let key_material = match &cfg.kms_key_file {
        Some(path) => {
            crate::root::check_private(path)?;
            let material = std::fs::read(path)
                .with_context(|| format!("reading the key file {}", path.display()))?;
            if material.len() < 32 {
                bail!(
                    "the key file {} must hold at least 32 bytes",
                    path.display()
                );
            }
            material
        }
        None => root_secret.as_bytes().to_vec(),
    };
    let db_path = data_dir.join(".keygate/iam.db");
    crate::root::ensure_private(&db_path)?;
    let identities = Identities::open(
        &db_path,
        &root.access_key,
        root.secret_key,
        &key_material,
        cfg.limits,
    )?;
    let info = RootInfo {
        access_key: root.access_key,
        secret: root_secret,
        generated: root.generated,
    };
    Ok((Arc::new(AppState::new(cfg, clock, store, identities)), info))
}

/// Purges expired STS credentials every minute (S8), until the server stops.
async fn purge_loop(state: Arc<AppState>, mut stopped: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tokio::select! {
            _ = tick.tick() => {
                let now = state.clock.now().unix_timestamp();
                match state.identities.purge_expired(now) {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(purged = n, "expired STS credentials purged"),
                    Err(e) => tracing::warn!(error = %e, "purging expired STS credentials failed"),
                }
            }
            _ = stopped.changed() => break,
        }
    }
}

/// Refuses to start with ownership on when this process cannot chown (SPEC X1: better no
/// server than files silently owned by the wrong user).
fn check_can_chown(data_dir: &Path) -> anyhow::Result<()> {
    let probe = data_dir.join(".keygate-chown-probe");
    std::fs::write(&probe, b"")?;
    let result = std::os::unix::fs::chown(&probe, Some(65534), Some(65534));
    let _ = std::fs::remove_file(&probe);
    result.context(
        "POSIX ownership is on but this process cannot chown files (run as root, or turn it off with --no-posix-ownership)",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    async fn panicking() -> Response<Body> {
        if std::hint::black_box(true) {
            panic!("secret-looking detail that must not reach the client");
        }
        crate::http_util::empty(http::StatusCode::OK)
    }

    #[tokio::test]
    async fn a_panicking_handler_still_answers_a_bare_internal_error() {
        let resp = answer_even_on_panic(panicking(), || "REQ1".into(), false).await;
        assert_eq!(resp.status(), 500);
        assert_eq!(resp.headers()["x-amz-request-id"], "REQ1");
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        let body = String::from_utf8_lossy(&body);
        assert!(body.contains("<Code>InternalError</Code>"), "{body}");
        assert!(!body.contains("secret-looking"), "{body}");

        let head = answer_even_on_panic(panicking(), || "REQ2".into(), true).await;
        assert_eq!(head.status(), 500);
        assert!(head
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .is_empty());
    }
}
