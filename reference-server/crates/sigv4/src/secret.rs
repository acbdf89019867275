//! Secret material and signatures, shaped so that misuse does not compile.
//!
//! * [`SecretKey`] prints as a redaction in `Debug`, has no `Display` and no serialisation, so a
//!   secret cannot end up in a log line or an error body by accident.
//! * [`Signature`] has no `PartialEq`: the only comparison is [`Signature::ct_eq`], which runs in
//!   constant time (rule V7), so a timing side channel cannot be written by habit.

use std::fmt;
use subtle::ConstantTimeEq;

/// An AWS secret access key.
#[derive(Clone)]
pub struct SecretKey(Box<str>);

impl SecretKey {
    /// The secret itself, for the key derivation only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for SecretKey {
    fn from(s: String) -> Self {
        SecretKey(s.into_boxed_str())
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

/// A 32-byte HMAC-SHA256 signature: compared only in constant time, printed only as hex.
#[derive(Clone, Copy)]
pub struct Signature([u8; 32]);

impl Signature {
    /// Wraps raw signature bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Signature(bytes)
    }

    /// Parses 64 hex digits (either case); anything else is `None`.
    pub fn from_hex(s: &[u8]) -> Option<Self> {
        decode_hex32(s).map(Signature)
    }

    /// Constant-time equality.
    pub fn ct_eq(&self, other: &Signature) -> bool {
        ct_eq_bytes(&self.0, &other.0)
    }

    /// Lowercase hex into a stack buffer, as it appears in the next string to sign.
    pub fn to_hex(&self) -> [u8; 64] {
        hex_lower(&self.0)
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A client-sent signature is not secret, but a computed one is an oracle: never print.
        f.write_str("Signature(..)")
    }
}

/// Constant-time equality of two byte strings (their lengths are not secret; unequal lengths
/// are unequal): every byte is visited, eight at a time, and the differences are OR-ed into an
/// accumulator that passes an optimisation barrier (`std::hint::black_box`) at every step, so
/// the compiler cannot see that it may stop once a difference is found; the final test goes
/// through `subtle`. A barrier per word rather than per byte: four for a signature. For
/// signatures, secrets and session tokens alike.
pub fn ct_eq_bytes(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let (wa, wb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ta, tb) = (wa.remainder(), wb.remainder());
    let mut diff = 0u64;
    for (x, y) in wa.zip(wb) {
        diff = std::hint::black_box(diff | (crate::swar::word(x) ^ crate::swar::word(y)));
    }
    for (x, y) in ta.iter().zip(tb) {
        diff = std::hint::black_box(diff | u64::from(x ^ y));
    }
    diff.ct_eq(&0).into()
}

/// Decodes exactly 64 hex digits (either case). Written lane by lane without branches
/// (classify each digit, take its nibble: the low four bits, plus 9 for a letter), which the
/// compiler turns into vector code for the whole string, then pairs of nibbles are packed.
pub(crate) fn decode_hex32(s: &[u8]) -> Option<[u8; 32]> {
    let s: &[u8; 64] = s.try_into().ok()?;
    let (mut bad, mut nibbles) = (0u8, [0u8; 64]);
    for (n, &c) in nibbles.iter_mut().zip(s) {
        let digit = c.wrapping_sub(b'0') < 10;
        let letter = (c | 0x20).wrapping_sub(b'a') < 6;
        bad |= u8::from(!(digit | letter));
        *n = (c & 0x0f).wrapping_add(9 * ((c >> 6) & 1));
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = (nibbles[2 * i] << 4) | nibbles[2 * i + 1];
    }
    (bad == 0).then_some(out)
}

/// Lowercase hex of 32 bytes without allocating. Written byte by byte without branches (a
/// nibble's digit is `'0'` plus the nibble, plus 39 for a letter), which the compiler turns
/// into vector code for all 32 bytes.
pub(crate) fn hex_lower(bytes: &[u8; 32]) -> [u8; 64] {
    let digit = |n: u8| n + b'0' + u8::from(n > 9) * (b'a' - b'0' - 10);
    let mut out = [0u8; 64];
    for (o, &b) in out.chunks_exact_mut(2).zip(bytes) {
        o[0] = digit(b >> 4);
        o[1] = digit(b & 0x0f);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ct_eq_bytes_is_equality() {
        let cases: [(&[u8], &[u8]); 6] = [
            (b"", b""),
            (b"a", b"a"),
            (b"a", b"b"),
            (b"token", b"token"),
            (b"token", b"tokeN"),
            (b"token", b"token!"),
        ];
        for (a, b) in cases {
            assert_eq!(ct_eq_bytes(a, b), a == b, "{a:?} {b:?}");
            assert_eq!(ct_eq_bytes(b, a), a == b, "{b:?} {a:?}");
        }
        // Every length up to 70 (whole words and tails), a difference at every position and
        // in every bit.
        for len in 0..70 {
            let a: Vec<u8> = (0..len as u8).map(|i| i.wrapping_mul(37)).collect();
            assert!(ct_eq_bytes(&a, &a.clone()), "{len}");
            for at in 0..len {
                for bit in 0..8 {
                    let mut b = a.clone();
                    b[at] ^= 1 << bit;
                    assert!(!ct_eq_bytes(&a, &b), "{len} {at} {bit}");
                }
            }
        }
    }

    #[test]
    fn hex_encoding_matches_the_hex_crate() {
        let mut bytes = [0u8; 32];
        for round in 0..16u8 {
            for (i, b) in bytes.iter_mut().enumerate() {
                *b = round
                    .wrapping_mul(16)
                    .wrapping_add(i as u8 / 2)
                    .wrapping_mul(if i % 2 == 0 { 1 } else { 17 });
            }
            assert_eq!(hex_lower(&bytes).to_vec(), hex::encode(bytes).into_bytes());
        }
        // Every byte value once.
        for start in (0..=255u8).step_by(32) {
            let bytes: [u8; 32] = std::array::from_fn(|i| start.wrapping_add(i as u8));
            assert_eq!(hex_lower(&bytes).to_vec(), hex::encode(bytes).into_bytes());
        }
    }

    #[test]
    fn hex_decoding_accepts_exactly_the_hex_digits() {
        let base = *b"0123456789abcdefABCDEF0123456789abcdef0123456789abcdefABCDEF0123";
        let want: Vec<u8> = hex::decode(base).unwrap();
        assert_eq!(decode_hex32(&base).unwrap().to_vec(), want);
        for at in [0, 5, 7, 8, 31, 63] {
            for b in 0..=255u8 {
                let mut s = base;
                s[at] = b;
                let plain = hex::decode(s)
                    .ok()
                    .map(|v| <[u8; 32]>::try_from(v).unwrap());
                assert_eq!(decode_hex32(&s), plain, "byte {b:#x} at {at}");
            }
        }
    }

    #[test]
    fn secret_debug_is_redacted() {
        let s = SecretKey::from("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".to_owned());
        let shown = format!("{s:?} {s:#?}");
        assert!(!shown.contains("wJalr"), "{shown}");
        assert!(shown.contains("redacted"));
        assert_eq!(s.expose(), "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
    }

    #[test]
    fn signature_hex_round_trip_and_ct_eq() {
        let hex = b"5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";
        let a = Signature::from_hex(hex).unwrap();
        assert_eq!(&a.to_hex(), hex);
        assert!(a.ct_eq(&Signature::from_hex(hex).unwrap()));
        let mut other = *hex;
        other[63] = b'0';
        assert!(!a.ct_eq(&Signature::from_hex(&other).unwrap()));
        assert!(Signature::from_hex(b"zz").is_none());
        assert!(Signature::from_hex(&hex.to_ascii_uppercase()).is_some_and(|u| u.ct_eq(&a)));
        assert!(Signature::from_hex(&hex[..62]).is_none());
        assert!(!format!("{a:?}").contains("5fa0"));
    }
}
