//! Connection limits of the listener, and the request-body stream that enforces the body
//! read timeout.
//!
//! What is bounded, and what a client that exceeds it sees:
//! - request head bytes ([`ConnLimits::max_header_bytes`]) and header count
//!   ([`ConnLimits::max_headers`]): hyper answers `431 Request Header Fields Too Large` and
//!   closes the connection (no S3 XML: the request was never parsed);
//! - time to send a request head, and idle time between keep-alive requests
//!   ([`ConnLimits::header_read_timeout`]): the connection is closed (slow-loris); TLS
//!   handshakes get the same time;
//! - time between two pieces of a request body ([`ConnLimits::body_read_timeout`]), and the
//!   whole time a body may take from the request head on ([`ConnLimits::body_total_timeout`],
//!   so a body trickled a byte at a time cannot hold a connection forever): 400
//!   `RequestTimeout`, then the connection is closed;
//! - open connections ([`ConnLimits::max_connections`]): further ones wait in the kernel's
//!   accept queue until one closes (they are not read from, so they cost nothing here).
//!
//! Body sizes (XML 1 MiB, PUT 5 GiB, policies 2048 bytes) are checked where bodies are read.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use tokio::time::{Instant, Sleep};

use crate::s3::error::{S3Error, S3ErrorCode};

/// Connection and request limits of the listener (defaults suit a test server).
#[derive(Debug, Clone)]
pub struct ConnLimits {
    /// Open connections at once; further ones wait to be accepted.
    pub max_connections: usize,
    /// Time a client has to send a whole request head, and the longest a keep-alive
    /// connection may sit idle.
    pub header_read_timeout: Duration,
    /// Longest wait for the next piece of a request body.
    pub body_read_timeout: Duration,
    /// Longest a whole request body may take to arrive, counted from its request head
    /// (generous: a 5 GiB PUT at 20 Mbit/s still fits).
    pub body_total_timeout: Duration,
    /// Largest request head (request line and headers) in bytes.
    pub max_header_bytes: usize,
    /// Most headers in one request. Above hyper's 100 so that a PUT carrying many small
    /// `x-amz-meta-*` headers within the 2 KB metadata limit still reaches S3 code (its
    /// parse buffers are then allocated per request head rather than kept on the stack).
    pub max_headers: usize,
}

impl Default for ConnLimits {
    fn default() -> ConnLimits {
        ConnLimits {
            max_connections: 1024,
            header_read_timeout: Duration::from_secs(30),
            body_read_timeout: Duration::from_secs(30),
            body_total_timeout: Duration::from_secs(60 * 60),
            max_header_bytes: 64 * 1024,
            max_headers: 300,
        }
    }
}

/// Why reading a request body stopped early.
#[derive(Debug)]
pub enum BodyError {
    /// The connection failed or closed mid-body.
    Connection(hyper::Error),
    /// Nothing arrived for the body read timeout, or the body outlived its total timeout.
    Timeout,
}

impl From<BodyError> for S3Error {
    fn from(e: BodyError) -> S3Error {
        match e {
            BodyError::Connection(_) => S3Error::new(S3ErrorCode::IncompleteBody),
            BodyError::Timeout => S3Error::new(S3ErrorCode::RequestTimeout),
        }
    }
}

/// A request body that fails with [`BodyError::Timeout`] when its next frame takes longer
/// than the body read timeout, or when it is still arriving at its deadline (the total
/// timeout, counted from [`TimedIncoming::new`]).
#[derive(Debug)]
pub struct TimedIncoming {
    inner: Incoming,
    idle: Duration,
    deadline: Instant,
    sleep: Option<Pin<Box<Sleep>>>,
    /// Set once the body has been read to its end, when someone watches ([`Self::watch_end`]).
    ended: Option<Arc<AtomicBool>>,
}

impl TimedIncoming {
    /// Times `inner` by `limits`' body read and total timeouts, starting now.
    pub fn new(inner: Incoming, limits: &ConnLimits) -> TimedIncoming {
        TimedIncoming {
            inner,
            idle: limits.body_read_timeout,
            deadline: Instant::now() + limits.body_total_timeout,
            sleep: None,
            ended: None,
        }
    }

    /// A flag that turns true when the body has been read to its end: a body left unread
    /// means the connection cannot carry another request.
    pub fn watch_end(&mut self) -> Arc<AtomicBool> {
        let flag = self.ended.get_or_insert_with(Default::default).clone();
        if self.inner.is_end_stream() {
            flag.store(true, Ordering::Relaxed);
        }
        flag
    }
}

impl Body for TimedIncoming {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = &mut *self;
        if Instant::now() >= this.deadline && !this.inner.is_end_stream() {
            this.sleep = None;
            return Poll::Ready(Some(Err(BodyError::Timeout)));
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                this.sleep = None;
                if let Some(ended) = &this.ended {
                    if frame.is_none() || this.inner.is_end_stream() {
                        ended.store(true, Ordering::Relaxed);
                    }
                }
                Poll::Ready(frame.map(|f| f.map_err(BodyError::Connection)))
            }
            Poll::Pending => {
                let until = (Instant::now() + this.idle).min(this.deadline);
                let sleep = this
                    .sleep
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(until)));
                match sleep.as_mut().poll(cx) {
                    Poll::Ready(()) => {
                        this.sleep = None;
                        Poll::Ready(Some(Err(BodyError::Timeout)))
                    }
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
