//! Secrets at rest: sealed with ChaCha20-Poly1305 under a key that is not in the database.
//!
//! The key is derived with HKDF-SHA256 from the root secret, or from the bytes of a
//! `--kms-key-file`; a copy of the database alone therefore reveals no secret. Each sealed
//! value is `nonce (12 bytes) || ciphertext+tag`, and the access key is bound in as
//! associated data so a sealed secret cannot be moved to another key's row. A known value
//! sealed at creation (the key check) lets a start with the wrong key fail clearly instead of
//! serving with secrets it cannot read.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hkdf::Hkdf;
use sha2::Sha256;

/// The sealing key. Never printed.
pub struct Sealer {
    cipher: ChaCha20Poly1305,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(<redacted>)")
    }
}

/// The value sealed as the key check.
const KEY_CHECK: &[u8] = b"keygate-key-check-v1";

impl Sealer {
    /// Derives the sealing key from `material` (the root secret or a key file's bytes).
    pub fn derive(material: &[u8]) -> Sealer {
        let hk = Hkdf::<Sha256>::new(Some(b"keygate-identity-store"), material);
        let mut key = [0u8; 32];
        hk.expand(b"seal secrets v1", &mut key)
            .expect("32 bytes is a valid HKDF-SHA256 length");
        Sealer {
            cipher: ChaCha20Poly1305::new(Key::from_slice(&key)),
        }
    }

    /// Seals `secret` bound to `access_key`.
    pub fn seal(&self, access_key: &str, secret: &[u8]) -> Vec<u8> {
        let nonce: [u8; 12] = rand::random();
        let mut out = nonce.to_vec();
        let sealed = self
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: secret,
                    aad: access_key.as_bytes(),
                },
            )
            .expect("ChaCha20-Poly1305 encryption of a short secret cannot fail");
        out.extend_from_slice(&sealed);
        out
    }

    /// Opens a sealed value; `None` if it was not sealed by this key for this access key.
    pub fn open(&self, access_key: &str, sealed: &[u8]) -> Option<Vec<u8>> {
        if sealed.len() < 12 {
            return None;
        }
        let (nonce, ciphertext) = sealed.split_at(12);
        self.cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: access_key.as_bytes(),
                },
            )
            .ok()
    }

    pub fn key_check(&self) -> Vec<u8> {
        self.seal("", KEY_CHECK)
    }

    pub fn verify_key_check(&self, sealed: &[u8]) -> bool {
        self.open("", sealed).as_deref() == Some(KEY_CHECK)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_only_with_the_same_key_and_access_key() {
        let s = Sealer::derive(b"root secret");
        let sealed = s.seal("alice", b"Password1");
        assert!(!sealed.windows(9).any(|w| w == b"Password1"));
        assert_eq!(s.open("alice", &sealed).as_deref(), Some(&b"Password1"[..]));
        assert_eq!(s.open("bob", &sealed), None);
        assert_eq!(Sealer::derive(b"other").open("alice", &sealed), None);
        assert_eq!(s.open("alice", &sealed[..5]), None);
        assert!(s.verify_key_check(&s.key_check()));
        assert!(!Sealer::derive(b"other").verify_key_check(&s.key_check()));
        assert_eq!(format!("{s:?}"), "Sealer(<redacted>)");
    }
}
