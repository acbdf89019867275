//! `keygate null-server`: the ceiling of this machine and generator.
//!
//! A minimal HTTP/1.1 server (hyper, one tokio runtime with the server's worker count) that
//! reads each request's body and answers `200` with an empty body, no authentication, no
//! storage. `--spin-us N` burns N µs of CPU per request: the planted slowdown the regression
//! gate's test must catch (never used for a quoted figure). Loopback only.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Serves until killed.
pub async fn serve(listen: SocketAddr, spin_us: u64) -> anyhow::Result<()> {
    anyhow::ensure!(
        listen.ip().is_loopback(),
        "the null server listens on loopback only"
    );
    let listener = tokio::net::TcpListener::bind(listen).await?;
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let svc = service_fn(
                move |req: hyper::Request<hyper::body::Incoming>| async move {
                    let _ = req.into_body().collect().await;
                    if spin_us > 0 {
                        let until = Instant::now() + Duration::from_micros(spin_us);
                        while Instant::now() < until {
                            std::hint::spin_loop();
                        }
                    }
                    Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::new())))
                },
            );
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}
