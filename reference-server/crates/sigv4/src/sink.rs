//! Where canonical-request and string-to-sign bytes go: a caller's `Vec` (the public
//! builders, diagnostics) or straight into SHA-256 or the keyed HMAC ([`BlockSink`]), so
//! verification never materialises either string.
//!
//! Invariant: every sink sees the same byte sequence, because one generic writer feeds any of
//! them; the tests pin the block sink against one-shot SHA-256 for writes of many sizes,
//! ending inside a buffer and at its end.

use crate::hash::State;

/// A byte sink for the canonical request writers.
pub(crate) trait Sink {
    /// Appends `bytes`.
    fn put(&mut self, bytes: &[u8]);
    /// Appends one byte.
    fn byte(&mut self, b: u8);
}

impl Sink for Vec<u8> {
    #[inline]
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
    #[inline]
    fn byte(&mut self, b: u8) {
        self.push(b);
    }
}

/// Four SHA-256 blocks: an SDK request's canonical form is two to four of these.
pub(crate) const BUF: usize = 256;

/// The buffer a [`BlockSink`] writes through. The caller owns it, so that one buffer serves
/// the canonical request and then the string to sign (zeroing it showed in profiles).
pub(crate) type Block = [u8; BUF];

/// A SHA-256 computation (of a canonical request, or the inner hash of an HMAC) fed through a
/// stack buffer of whole blocks: small writes are plain copies, the hash sees only whole blocks
/// (compressed in place, never re-buffered), and [`BlockSink::finish`] pads the tail where it
/// lies.
///
/// The sink borrows its buffer (a few hundred bytes: moving or zeroing it showed in
/// profiles); the hash state is 40 bytes and lives in the sink. Write, then
/// [`BlockSink::finish`], once.
pub(crate) struct BlockSink<'h> {
    state: State,
    buf: &'h mut Block,
    len: usize,
}

impl<'h> BlockSink<'h> {
    /// A sink into `state` through `buf` (whatever it holds: it is written before read).
    pub(crate) fn new(state: State, buf: &'h mut Block) -> Self {
        BlockSink { state, buf, len: 0 }
    }

    /// The buffer is full or `bytes` does not fit: hash what is whole, keep the tail.
    #[inline(never)]
    fn spill(&mut self, bytes: &[u8]) {
        let (head, rest) = bytes.split_at(BUF - self.len);
        self.buf[self.len..].copy_from_slice(head);
        self.state.absorb(&self.buf[..]);
        let (whole, tail) = rest.split_at(rest.len() - rest.len() % BUF);
        self.state.absorb(whole);
        self.buf[..tail.len()].copy_from_slice(tail);
        self.len = tail.len();
    }

    /// The digest of everything written. (Taking `&mut self`, not `self`: consuming the sink
    /// measured 2% slower.) The sink is then empty, and must not be written to again.
    #[inline]
    #[must_use]
    pub(crate) fn finish(&mut self) -> [u8; 32] {
        let len = std::mem::take(&mut self.len);
        self.state.finish_in(self.buf, len)
    }
}

/// Copies `src` into `dst` (same length) with fixed-size moves when it is at most 64 bytes:
/// most pieces of a canonical request are short (a name, a `:`, a date, a host, a hash), and a
/// call to `memcpy` for each costs more than the copy. Two overlapping moves cover every length
/// between a size and its double.
#[inline(always)]
fn copy_short(dst: &mut [u8], src: &[u8]) {
    #[inline(always)]
    fn two<const N: usize>(dst: &mut [u8], src: &[u8]) {
        let n = src.len();
        dst[..N].copy_from_slice(&src[..N]);
        dst[n - N..].copy_from_slice(&src[n - N..]);
    }
    match src.len() {
        0 => {}
        1..=3 => {
            let n = src.len();
            dst[0] = src[0];
            dst[n / 2] = src[n / 2];
            dst[n - 1] = src[n - 1];
        }
        4..=7 => two::<4>(dst, src),
        8..=15 => two::<8>(dst, src),
        16..=32 => two::<16>(dst, src),
        33..=64 => two::<32>(dst, src),
        _ => dst.copy_from_slice(src),
    }
}

impl Sink for BlockSink<'_> {
    #[inline]
    fn put(&mut self, bytes: &[u8]) {
        match self.buf.get_mut(self.len..self.len + bytes.len()) {
            Some(dst) => {
                copy_short(dst, bytes);
                self.len += bytes.len();
            }
            None => self.spill(bytes),
        }
    }
    #[inline]
    fn byte(&mut self, b: u8) {
        match self.buf.get_mut(self.len) {
            Some(slot) => {
                *slot = b;
                self.len += 1;
            }
            None => self.spill(&[b]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    /// SHA-256 of what `write` puts into a block sink.
    fn sha256(write: impl FnOnce(&mut BlockSink)) -> [u8; 32] {
        // Not zeroed: what a sink reads of its buffer it wrote first.
        let mut buf = [0xa5; BUF];
        let mut s = BlockSink::new(State::new(), &mut buf);
        write(&mut s);
        s.finish()
    }

    #[test]
    fn short_copies_copy_every_byte_of_every_length() {
        let src: Vec<u8> = (1..=80).collect();
        for n in 0..=80 {
            let mut dst = [0u8; 80];
            copy_short(&mut dst[..n], &src[..n]);
            assert_eq!(&dst[..n], &src[..n], "length {n}");
            assert!(
                dst[n..].iter().all(|&b| b == 0),
                "length {n} wrote past its end"
            );
        }
    }

    #[test]
    fn block_sink_equals_one_shot_sha256_for_any_split() {
        // Lengths that end inside the buffer and at its very end (full when finished).
        for len in [1500, 255, 256, 257, 512, 768] {
            let data: Vec<u8> = (0..len as u32).map(|i| (i * 7 % 251) as u8).collect();
            for step in [1, 3, 63, 64, 65, 255, 256, 257, 700, 1500] {
                let got = sha256(|s| {
                    for piece in data.chunks(step) {
                        if piece.len() == 1 {
                            s.byte(piece[0]);
                        } else {
                            s.put(piece);
                        }
                    }
                });
                let want: [u8; 32] = Sha256::digest(&data).into();
                assert_eq!(got, want, "{len} bytes in steps of {step}");
            }
        }
        let empty = sha256(|_| {});
        assert_eq!(empty, <[u8; 32]>::from(Sha256::digest(b"")));
    }
}
