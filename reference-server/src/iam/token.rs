//! STS session tokens: opaque to clients, unforgeable, bound to their access key (SPEC S2).
//!
//! A token is `KG1.<base64url(access_key "|" expires)>.<base64url(HMAC-SHA256)>`, keyed by a
//! server secret derived like the sealing key (never stored in the database). Because the
//! token carries its own expiry under the server's MAC, an expired credential is recognised
//! as expired (`ExpiredToken`) even after the background purge removed its row.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// Issues and checks session tokens. Never printed.
pub struct TokenSigner {
    key: [u8; 32],
}

impl std::fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenSigner(<redacted>)")
    }
}

/// What a valid token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenClaims {
    pub access_key: String,
    /// Unix seconds.
    pub expires: i64,
}

impl TokenSigner {
    pub fn derive(material: &[u8]) -> TokenSigner {
        let hk = Hkdf::<Sha256>::new(Some(b"keygate-sts-tokens"), material);
        let mut key = [0u8; 32];
        hk.expand(b"session tokens v1", &mut key)
            .expect("32 bytes is a valid HKDF-SHA256 length");
        TokenSigner { key }
    }

    fn mac(&self, payload: &[u8]) -> [u8; 32] {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(b"KG1.");
        mac.update(payload);
        mac.finalize().into_bytes().into()
    }

    pub fn issue(&self, access_key: &str, expires: i64) -> String {
        let payload = format!("{access_key}|{expires}");
        let tag = self.mac(payload.as_bytes());
        format!(
            "KG1.{}.{}",
            URL_SAFE_NO_PAD.encode(payload),
            URL_SAFE_NO_PAD.encode(tag)
        )
    }

    /// The claims of a token this server issued; `None` for anything else (forged,
    /// truncated, altered).
    pub fn verify(&self, token: &str) -> Option<TokenClaims> {
        let rest = token.strip_prefix("KG1.")?;
        let (payload_b64, tag_b64) = rest.split_once('.')?;
        let payload = URL_SAFE_NO_PAD.decode(payload_b64).ok()?;
        let tag = URL_SAFE_NO_PAD.decode(tag_b64).ok()?;
        let expected = self.mac(&payload);
        if tag.len() != expected.len() || !bool::from(tag.ct_eq(&expected)) {
            return None;
        }
        let text = String::from_utf8(payload).ok()?;
        let (access_key, expires) = text.rsplit_once('|')?;
        Some(TokenClaims {
            access_key: access_key.to_owned(),
            expires: expires.parse().ok()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s2_tokens_bind_their_key_and_cannot_be_forged_or_truncated() {
        let s = TokenSigner::derive(b"material");
        let t = s.issue("AKIAEXAMPLE", 1_000);
        assert_eq!(
            s.verify(&t),
            Some(TokenClaims {
                access_key: "AKIAEXAMPLE".into(),
                expires: 1_000
            })
        );
        assert_eq!(s.verify(&t[..t.len() - 1]), None);
        assert_eq!(TokenSigner::derive(b"other").verify(&t), None);
        let forged = format!(
            "KG1.{}.{}",
            URL_SAFE_NO_PAD.encode("AKIAEXAMPLE|9999999999"),
            t.rsplit('.').next().unwrap()
        );
        assert_eq!(s.verify(&forged), None);
        for junk in ["", "KG1.", "KG1..", "abc", "KG1.!!.!!"] {
            assert_eq!(s.verify(junk), None, "{junk}");
        }
    }
}
