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

/// Constant-time equality of two byte strings of equal length (the length is not secret):
/// every byte is visited, differences are OR-ed, and only the final byte goes through
/// `subtle`'s optimisation barrier (one barrier instead of one per byte).
pub(crate) fn ct_eq_bytes(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y));
    diff.ct_eq(&0).into()
}

/// Decodes exactly 64 hex digits (either case).
pub(crate) fn decode_hex32(s: &[u8]) -> Option<[u8; 32]> {
    const fn table() -> [u8; 256] {
        let mut t = [0xffu8; 256];
        let mut i = 0;
        while i < 10 {
            t[b'0' as usize + i] = i as u8;
            i += 1;
        }
        let mut i = 0;
        while i < 6 {
            t[b'a' as usize + i] = 10 + i as u8;
            t[b'A' as usize + i] = 10 + i as u8;
            i += 1;
        }
        t
    }
    static NIBBLE: [u8; 256] = table();
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    let mut bad = 0u8;
    for (o, pair) in out.iter_mut().zip(s.chunks_exact(2)) {
        let (h, l) = (NIBBLE[usize::from(pair[0])], NIBBLE[usize::from(pair[1])]);
        bad |= h | l;
        *o = (h << 4) | (l & 0xf);
    }
    (bad & 0xf0 == 0).then_some(out)
}

/// Lowercase hex of 32 bytes without allocating.
pub(crate) fn hex_lower(bytes: &[u8; 32]) -> [u8; 64] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; 64];
    for (i, b) in bytes.iter().enumerate() {
        out[2 * i] = HEX[usize::from(b >> 4)];
        out[2 * i + 1] = HEX[usize::from(b & 0xf)];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(Signature::from_hex(&hex[..62]).is_none());
        assert!(!format!("{a:?}").contains("5fa0"));
    }
}
