//! Payload checksums: the `x-amz-checksum-*` algorithms and `Content-MD5`.
//!
//! Spec: S3 "Checking object integrity". A checksum travels as the base64 of the big-endian
//! digest (CRC32, CRC32C, CRC64/NVME, SHA-1, SHA-256), in a header or an aws-chunked trailer.
//! `Content-MD5` is the base64 of the 16-byte MD5 (SPEC V2: malformed -> `InvalidDigest`,
//! mismatch -> `BadDigest`).

use crate::error::AuthError;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use sha1::Sha1;
use sha2::{Digest, Sha256};
use std::fmt;

/// A flexible-checksum algorithm S3 accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChecksumAlgorithm {
    /// CRC-32 (IEEE).
    Crc32,
    /// CRC-32C (Castagnoli).
    Crc32c,
    /// CRC-64/NVME.
    Crc64Nvme,
    /// SHA-1.
    Sha1,
    /// SHA-256.
    Sha256,
}

impl ChecksumAlgorithm {
    /// All algorithms.
    pub const ALL: [ChecksumAlgorithm; 5] = [
        ChecksumAlgorithm::Crc32,
        ChecksumAlgorithm::Crc32c,
        ChecksumAlgorithm::Crc64Nvme,
        ChecksumAlgorithm::Sha1,
        ChecksumAlgorithm::Sha256,
    ];

    /// The algorithm for a header or trailer name such as `x-amz-checksum-crc32` (any case).
    pub fn from_header_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|a| a.header_name().eq_ignore_ascii_case(name.trim()))
    }

    /// The algorithm S3 names `name` (`CRC32`, `CRC32C`, `CRC64NVME`, `SHA1`, `SHA256`; any
    /// case), as `x-amz-checksum-algorithm` and `x-amz-sdk-checksum-algorithm` name it.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(name.trim()))
    }

    /// S3's name, e.g. `CRC32`; the XML element of a value is `Checksum` + this.
    pub fn name(self) -> &'static str {
        match self {
            ChecksumAlgorithm::Crc32 => "CRC32",
            ChecksumAlgorithm::Crc32c => "CRC32C",
            ChecksumAlgorithm::Crc64Nvme => "CRC64NVME",
            ChecksumAlgorithm::Sha1 => "SHA1",
            ChecksumAlgorithm::Sha256 => "SHA256",
        }
    }

    /// Bytes in a digest.
    pub fn digest_len(self) -> usize {
        match self {
            ChecksumAlgorithm::Crc32 | ChecksumAlgorithm::Crc32c => 4,
            ChecksumAlgorithm::Crc64Nvme => 8,
            ChecksumAlgorithm::Sha1 => 20,
            ChecksumAlgorithm::Sha256 => 32,
        }
    }

    /// A CRC, whose checksum of a whole object can be made from its parts' (S3's
    /// `FULL_OBJECT` checksums of multipart uploads take only these).
    pub fn is_crc(self) -> bool {
        !matches!(self, ChecksumAlgorithm::Sha1 | ChecksumAlgorithm::Sha256)
    }

    /// The digest a checksum value (base64) spells, if it is one of this algorithm's.
    pub fn decode(self, value: &str) -> Option<Vec<u8>> {
        STANDARD
            .decode(value.trim())
            .ok()
            .filter(|d| d.len() == self.digest_len())
    }

    /// The lowercase header name, e.g. `x-amz-checksum-crc32`.
    pub fn header_name(self) -> &'static str {
        match self {
            ChecksumAlgorithm::Crc32 => "x-amz-checksum-crc32",
            ChecksumAlgorithm::Crc32c => "x-amz-checksum-crc32c",
            ChecksumAlgorithm::Crc64Nvme => "x-amz-checksum-crc64nvme",
            ChecksumAlgorithm::Sha1 => "x-amz-checksum-sha1",
            ChecksumAlgorithm::Sha256 => "x-amz-checksum-sha256",
        }
    }
}

#[derive(Clone)]
enum State {
    Crc32(crc32fast::Hasher),
    Crc32c(u32),
    Crc64Nvme(crc64fast_nvme::Digest),
    Sha1(Sha1),
    Sha256(Sha256),
}

/// An incremental checksum whose result is spelled as AWS sends it.
#[derive(Clone)]
pub struct Checksummer {
    alg: ChecksumAlgorithm,
    state: State,
}

impl Checksummer {
    /// A fresh checksum for `alg`.
    pub fn new(alg: ChecksumAlgorithm) -> Self {
        let state = match alg {
            ChecksumAlgorithm::Crc32 => State::Crc32(crc32fast::Hasher::new()),
            ChecksumAlgorithm::Crc32c => State::Crc32c(0),
            ChecksumAlgorithm::Crc64Nvme => State::Crc64Nvme(crc64fast_nvme::Digest::new()),
            ChecksumAlgorithm::Sha1 => State::Sha1(Sha1::new()),
            ChecksumAlgorithm::Sha256 => State::Sha256(Sha256::new()),
        };
        Checksummer { alg, state }
    }

    /// The algorithm.
    pub fn algorithm(&self) -> ChecksumAlgorithm {
        self.alg
    }

    /// Absorbs bytes.
    pub fn update(&mut self, data: &[u8]) {
        match &mut self.state {
            State::Crc32(h) => h.update(data),
            State::Crc32c(c) => *c = crc32c::crc32c_append(*c, data),
            State::Crc64Nvme(d) => d.write(data),
            State::Sha1(h) => h.update(data),
            State::Sha256(h) => h.update(data),
        }
    }

    /// The base64 of the big-endian digest.
    pub fn finish(self) -> String {
        match self.state {
            State::Crc32(h) => STANDARD.encode(h.finalize().to_be_bytes()),
            State::Crc32c(c) => STANDARD.encode(c.to_be_bytes()),
            State::Crc64Nvme(d) => STANDARD.encode(d.sum64().to_be_bytes()),
            State::Sha1(h) => STANDARD.encode(h.finalize()),
            State::Sha256(h) => STANDARD.encode(h.finalize()),
        }
    }
}

impl fmt::Debug for Checksummer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Checksummer")
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

/// Checks a `Content-MD5` header against the body's MD5: not base64 of 16 bytes ->
/// `InvalidDigest`; different -> `BadDigest`.
pub fn content_md5_check(header_value: &str, md5: [u8; 16]) -> Result<(), AuthError> {
    let sent = STANDARD
        .decode(header_value.trim())
        .map_err(|_| AuthError::InvalidDigest)?;
    if sent.len() != 16 {
        return Err(AuthError::InvalidDigest);
    }
    if sent != md5 {
        return Err(AuthError::BadDigest);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sum(alg: ChecksumAlgorithm, data: &[u8]) -> String {
        let mut c = Checksummer::new(alg);
        let (a, b) = data.split_at(data.len() / 2);
        c.update(a);
        c.update(b);
        c.finish()
    }

    #[test]
    fn known_values_of_hello_world() {
        // Values as the AWS CLI reports them for the 11 bytes "Hello world".
        let d = b"Hello world";
        assert_eq!(sum(ChecksumAlgorithm::Crc32, d), "i9aeUg==");
        assert_eq!(sum(ChecksumAlgorithm::Crc32c, d), "crUfeA==");
        assert_eq!(
            sum(ChecksumAlgorithm::Sha1, d),
            "e1AsOh9IyGCa4hLN+2Od7jlnP14="
        );
        assert_eq!(
            sum(ChecksumAlgorithm::Sha256, d),
            "ZOyIygCyaOW6GjVnihtTFtIS9PNmskdyMlNKiuyjfzw="
        );
        // CRC-64/NVME check value: crc("123456789") = 0xAE8B14860A799888.
        assert_eq!(
            sum(ChecksumAlgorithm::Crc64Nvme, b"123456789"),
            STANDARD.encode(0xAE8B_1486_0A79_9888u64.to_be_bytes())
        );
    }

    #[test]
    fn names_and_digest_lengths() {
        for a in ChecksumAlgorithm::ALL {
            assert_eq!(ChecksumAlgorithm::from_name(a.name()), Some(a));
            let value = sum(a, b"abc");
            assert_eq!(a.decode(&value).map(|d| d.len()), Some(a.digest_len()));
        }
        assert_eq!(
            ChecksumAlgorithm::from_name("crc64nvme"),
            Some(ChecksumAlgorithm::Crc64Nvme)
        );
        assert_eq!(ChecksumAlgorithm::from_name("MD5"), None);
        assert_eq!(ChecksumAlgorithm::Crc32.decode("!!!!"), None);
        assert_eq!(ChecksumAlgorithm::Crc32.decode("AAA="), None);
        assert_eq!(
            ChecksumAlgorithm::Crc32.decode("AAAAAA=="),
            Some(vec![0; 4])
        );
    }

    #[test]
    fn header_names_round_trip() {
        for a in ChecksumAlgorithm::ALL {
            assert_eq!(
                ChecksumAlgorithm::from_header_name(a.header_name()),
                Some(a)
            );
        }
        assert_eq!(
            ChecksumAlgorithm::from_header_name("X-Amz-Checksum-CRC32C"),
            Some(ChecksumAlgorithm::Crc32c)
        );
        assert_eq!(
            ChecksumAlgorithm::from_header_name("x-amz-checksum-md5"),
            None
        );
    }

    #[test]
    fn content_md5() {
        use md5::{Digest as _, Md5};
        let md5: [u8; 16] = Md5::digest(b"abc").into();
        let good = STANDARD.encode(md5);
        assert_eq!(content_md5_check(&good, md5), Ok(()));
        assert_eq!(content_md5_check("!!", md5), Err(AuthError::InvalidDigest));
        assert_eq!(
            content_md5_check("AAAA", md5),
            Err(AuthError::InvalidDigest)
        );
        let other = STANDARD.encode([0u8; 16]);
        assert_eq!(content_md5_check(&other, md5), Err(AuthError::BadDigest));
    }
}
