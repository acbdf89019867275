//! SHA-256 and HMAC-SHA256 as bare states over `sha2`'s block function, for the verifier's
//! two hashes (the canonical request, the string to sign).
//!
//! Spec: FIPS 180-4 §5.1.1 (padding), §5.3.3 (initial value); RFC 2104 (HMAC). The block
//! function is `sha2::compress256` (the same SHA-NI or portable code as `sha2::Sha256`).
//!
//! Why not `sha2::Sha256` and `hmac::Hmac` themselves: a keyed `Hmac<Sha256>` is about 150
//! bytes (two hash cores and a block buffer), copied out of the signing-key cache and moved
//! between frames with `memcpy` on every request; its finalisation pads through that buffer and
//! clones the outer core. A signing key here is the two 32-byte states after HMAC's key
//! blocks, copied in registers; the sink ([`crate::sink::BlockSink`]) pads the string to sign
//! in the stack buffer it already writes through, and the outer hash is one block.
//!
//! Invariant: [`State`] only ever absorbs whole 64-byte blocks; the tests pin the digest of
//! every length up to 600 bytes against `sha2::Sha256`, and the MAC against `hmac::Hmac`.

use sha2::digest::block_buffer::{BlockBuffer, Eager};
use sha2::digest::typenum::U64;

/// SHA-256's initial hash value (FIPS 180-4 §5.3.3).
const IV: [u32; 8] = [
    0x6a09_e667,
    0xbb67_ae85,
    0x3c6e_f372,
    0xa54f_f53a,
    0x510e_527f,
    0x9b05_688c,
    0x1f83_d9ab,
    0x5be0_cd19,
];

/// SHA-256's block size.
pub(crate) const BLOCK: usize = 64;

/// Pads the message whose last `len` bytes are `buf[..len]` and whose whole length is `bits`:
/// `0x80`, zeros, the length in 64 bits big-endian, to a block boundary. Returns that boundary;
/// `buf` must reach it (`len + 9` rounded up to a block).
#[inline]
fn pad(buf: &mut [u8], len: usize, bits: u64) -> usize {
    let end = (len + 9).next_multiple_of(BLOCK);
    buf[len] = 0x80;
    buf[len + 1..end - 8].fill(0);
    buf[end - 8..end].copy_from_slice(&bits.to_be_bytes());
    end
}

/// A SHA-256 computation that has absorbed whole blocks only: the state words and how many
/// bytes went in.
#[derive(Clone, Copy)]
pub(crate) struct State {
    h: [u32; 8],
    bytes: u64,
}

impl State {
    /// SHA-256 of nothing yet.
    pub(crate) const fn new() -> Self {
        State { h: IV, bytes: 0 }
    }

    /// Hashes `whole`, whose length is a multiple of [`BLOCK`] (debug builds check).
    #[inline]
    pub(crate) fn absorb(&mut self, whole: &[u8]) {
        debug_assert_eq!(whole.len() % BLOCK, 0, "State::absorb takes whole blocks");
        self.bytes += whole.len() as u64;
        // The buffer only turns the bytes into `compress256`'s block slice: it is empty
        // before and, for whole blocks, after.
        let mut blocks = BlockBuffer::<U64, Eager>::default();
        let h = &mut self.h;
        blocks.digest_blocks(whole, |b| sha2::compress256(h, b));
    }

    /// The digest of everything absorbed and then `buf[..len]`: pads in `buf` (whose bytes past
    /// `len` are overwritten) and hashes the rest.
    #[inline]
    pub(crate) fn finish_in<const N: usize>(mut self, buf: &mut [u8; N], len: usize) -> [u8; 32] {
        const { assert!(N >= BLOCK && N % BLOCK == 0, "a buffer of whole blocks") };
        debug_assert!(len <= N, "a tail of {len} bytes in a buffer of {N}");
        let len = len.min(N);
        let bits = (self.bytes + len as u64).wrapping_mul(8);
        if len + 9 <= N {
            let end = pad(buf, len, bits);
            self.absorb(&buf[..end]);
        } else {
            // No room after the tail for the `0x80` byte and the length: hash the whole blocks
            // and pad the rest beside.
            let whole = len - len % BLOCK;
            self.absorb(&buf[..whole]);
            let mut last = [0u8; 2 * BLOCK];
            let tail = len - whole;
            last[..tail].copy_from_slice(&buf[whole..len]);
            let end = pad(&mut last, tail, bits);
            self.absorb(&last[..end]);
        }
        self.digest()
    }

    /// The state words as the big-endian digest.
    #[inline]
    fn digest(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        for (o, w) in out.chunks_exact_mut(4).zip(self.h) {
            o.copy_from_slice(&w.to_be_bytes());
        }
        out
    }
}

/// HMAC-SHA256 under a 32-byte key, kept as the states after the inner and the outer key
/// block: signing a message hashes only its own blocks and one outer block.
#[derive(Clone, Copy)]
pub(crate) struct KeyedHmac {
    inner: [u32; 8],
    outer: [u32; 8],
}

impl KeyedHmac {
    /// Keys HMAC with `key` (32 bytes: shorter than a block, so used as is, zero-padded).
    pub(crate) fn new(key: &[u8; 32]) -> Self {
        let keyed = |pad: u8| {
            let mut block = [pad; BLOCK];
            for (b, k) in block.iter_mut().zip(key) {
                *b ^= k;
            }
            let mut s = State::new();
            s.absorb(&block);
            s.h
        };
        KeyedHmac {
            inner: keyed(0x36),
            outer: keyed(0x5c),
        }
    }

    /// The inner hash, its key block absorbed: feed it the message, finish it, and hand the
    /// digest to [`KeyedHmac::outer`].
    #[inline]
    pub(crate) fn inner(&self) -> State {
        State {
            h: self.inner,
            bytes: BLOCK as u64,
        }
    }

    /// The MAC, from the inner hash's digest: one block of the outer hash.
    #[inline]
    pub(crate) fn outer(&self, inner_digest: &[u8; 32]) -> [u8; 32] {
        let mut block = [0u8; BLOCK];
        block[..32].copy_from_slice(inner_digest);
        let state = State {
            h: self.outer,
            bytes: BLOCK as u64,
        };
        state.finish_in(&mut block, 32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hmac::{Hmac, Mac};
    use sha2::{Digest, Sha256};

    fn data(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 31 % 251) as u8).collect()
    }

    /// SHA-256 of `msg` through `State`: whole buffers of `N` bytes absorbed, the rest
    /// finished in a buffer that holds junk past the tail.
    fn sha256_via_state<const N: usize>(msg: &[u8]) -> [u8; 32] {
        let mut s = State::new();
        let cut = msg.len() - msg.len() % N;
        s.absorb(&msg[..cut]);
        let tail = &msg[cut..];
        let mut buf = [0xa5; N];
        buf[..tail.len()].copy_from_slice(tail);
        s.finish_in(&mut buf, tail.len())
    }

    #[test]
    fn digests_agree_with_sha2_for_every_length_and_buffer() {
        for n in 0..=600 {
            let msg = data(n);
            let want: [u8; 32] = Sha256::digest(&msg).into();
            assert_eq!(sha256_via_state::<64>(&msg), want, "length {n}, buffer 64");
            assert_eq!(
                sha256_via_state::<256>(&msg),
                want,
                "length {n}, buffer 256"
            );
        }
    }

    #[test]
    fn a_full_buffer_is_finished_too() {
        // Every tail length a 256-byte buffer can hold, the full one included (a sink's
        // buffer can be exactly full when it finishes).
        for len in 0..=256 {
            let msg = data(len);
            let mut buf = [0u8; 256];
            buf[..len].copy_from_slice(&msg);
            let got = State::new().finish_in(&mut buf, len);
            assert_eq!(got, <[u8; 32]>::from(Sha256::digest(&msg)), "tail {len}");
        }
    }

    #[test]
    fn hmac_agrees_with_the_hmac_crate() {
        for key in [[0u8; 32], std::array::from_fn(|i| (i * 7 + 1) as u8)] {
            let mac = KeyedHmac::new(&key);
            for n in 0..=600 {
                let msg = data(n);
                let mut want = Hmac::<Sha256>::new_from_slice(&key).unwrap();
                want.update(&msg);
                let want: [u8; 32] = want.finalize().into_bytes().into();
                // As a sink does it: whole buffers absorbed, the tail finished in a buffer
                // that holds junk past it.
                let mut buf = [0xa5; 256];
                let mut inner = mac.inner();
                let cut = n - n % 256;
                inner.absorb(&msg[..cut]);
                buf[..n - cut].copy_from_slice(&msg[cut..]);
                let got = mac.outer(&inner.finish_in(&mut buf, n - cut));
                assert_eq!(got, want, "message of {n} bytes, key {:?}", key[0]);
            }
        }
    }
}
