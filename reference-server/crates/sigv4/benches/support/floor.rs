//! The floor every verification is measured against: the hashing no verifier can avoid, done
//! as leanly as this crate knows how. Shared by the sigv4 and the server benches and examples
//! (`#[path]`), so every ratio divides by the same work.
//!
//! The work: SHA-256 of the canonical request; its hex after the rest of the string to sign
//! (on the stack); HMAC-SHA256 of that, keyed from the 32-byte signing key (the two key blocks
//! included: the verifier caches its keyed state, the floor does not). Done on `sha2`'s block
//! function with the padding written here, not through `Sha256` and `Hmac`: their block
//! buffers, state copies and finalisation cost about 5% of this work, which the verifier's own
//! hashing (`src/hash.rs`) no longer pays; a floor that paid them would flatter every ratio.
//! Setup code checks the result against the `hmac` crate ([`check`]).

use sha2::digest::block_buffer::{BlockBuffer, Eager};
use sha2::digest::typenum::U64;

/// SHA-256's initial hash value (FIPS 180-4 §5.3.3). `src/hash.rs` has the same constant and the
/// same padding: kept apart on purpose, so the yardstick does not lean on the code it measures.
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

/// Compresses whole 64-byte blocks into `h`.
fn absorb(h: &mut [u32; 8], whole: &[u8]) {
    BlockBuffer::<U64, Eager>::default().digest_blocks(whole, |b| sha2::compress256(h, b));
}

/// The digest of `msg`, hashed after `prior` bytes already compressed into `h`.
fn finish(mut h: [u32; 8], prior: usize, msg: &[u8]) -> [u8; 32] {
    let whole = msg.len() - msg.len() % 64;
    absorb(&mut h, &msg[..whole]);
    let tail = &msg[whole..];
    let mut last = [0u8; 128];
    last[..tail.len()].copy_from_slice(tail);
    last[tail.len()] = 0x80;
    let end = (tail.len() + 9).next_multiple_of(64);
    let bits = ((prior + msg.len()) as u64) * 8;
    last[end - 8..end].copy_from_slice(&bits.to_be_bytes());
    absorb(&mut h, &last[..end]);
    let mut out = [0u8; 32];
    for (o, w) in out.chunks_exact_mut(4).zip(h) {
        o.copy_from_slice(&w.to_be_bytes());
    }
    out
}

/// HMAC-SHA256 (`key`, `sts_prefix` + hex(SHA-256(`creq`))): a request's signature, when
/// `sts_prefix` is its string to sign up to the hash and `key` its signing key.
pub fn floor(key: &[u8; 32], sts_prefix: &[u8], creq: &[u8]) -> [u8; 32] {
    let keyed = |pad: u8| {
        let mut block = [pad; 64];
        for (b, k) in block.iter_mut().zip(key) {
            *b ^= k;
        }
        let mut h = IV;
        absorb(&mut h, &block);
        h
    };
    let mut sts = [0u8; 512];
    let n = sts_prefix.len();
    sts[..n].copy_from_slice(sts_prefix);
    hex::encode_to_slice(finish(IV, 0, creq), &mut sts[n..n + 64]).expect("64 hex digits");
    let inner = finish(keyed(0x36), 64, &sts[..n + 64]);
    finish(keyed(0x5c), 64, &inner)
}

/// Panics unless [`floor`] computes what `sha2::Sha256` and `hmac::Hmac` do.
pub fn check(key: &[u8; 32], sts_prefix: &[u8], creq: &[u8]) {
    use hmac::{Hmac, Mac};
    use sha2::{Digest, Sha256};
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("any key length");
    mac.update(sts_prefix);
    mac.update(hex::encode(Sha256::digest(creq)).as_bytes());
    let want: [u8; 32] = mac.finalize().into_bytes().into();
    assert_eq!(
        floor(key, sts_prefix, creq),
        want,
        "the floor hashes wrongly"
    );
}
