//! A PUT body that stops halfway until it is released: `put_storm` with `kill_after` sends its
//! last [`HELD`] PUTs this way, so by construction some PUTs are mid-body when the SIGKILL lands
//! (on a fast machine every other PUT may already be answered by then). After the kill the
//! rest of the body goes to a dead connection: the PUT ends without an answer and must not be
//! visible afterwards, or only whole.

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

/// PUTs of a killing storm that are held mid-body until the kill.
pub const HELD: usize = 4;

/// The body: the first half, then (once `release` resolves) the second.
pub(super) struct HeldBody {
    first: Option<Bytes>,
    rest: Option<Bytes>,
    len: u64,
    release: Pin<Box<dyn Future<Output = ()> + Send + Sync>>,
    /// Counts bodies whose first half has been taken by the client (sent or being sent).
    mid_body: Arc<AtomicUsize>,
}

impl HeldBody {
    pub(super) fn new(
        bytes: Vec<u8>,
        mut release: tokio::sync::watch::Receiver<bool>,
        mid_body: Arc<AtomicUsize>,
    ) -> HeldBody {
        let mut first = Bytes::from(bytes);
        let len = first.len() as u64;
        let rest = first.split_off(first.len() / 2);
        HeldBody {
            first: Some(first),
            rest: Some(rest),
            len,
            release: Box::pin(async move {
                let _ = release.wait_for(|released| *released).await;
            }),
            mid_body,
        }
    }
}

impl Body for HeldBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        if let Some(first) = self.first.take() {
            self.mid_body.fetch_add(1, Ordering::SeqCst);
            return Poll::Ready(Some(Ok(Frame::data(first))));
        }
        if self.rest.is_none() {
            return Poll::Ready(None);
        }
        match self.release.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(self.rest.take().map(|b| Ok(Frame::data(b)))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.len)
    }
}
