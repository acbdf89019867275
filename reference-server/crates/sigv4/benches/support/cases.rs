//! The requests `benches/verify.rs` and `examples/verify_ratio.rs` measure, and the inputs of
//! the floor they are compared with (`floor.rs`; shared, so both time exactly the same work).

use crate::common::{hdrs, Req, Signer};
use crate::floor::{check, floor};
use keygate_sigv4::{parse, Config, SecretKey, SigningKeyCache, Verified};
use std::hint::black_box;
use time::macros::datetime;
use time::OffsetDateTime;

pub const NOW: OffsetDateTime = datetime!(2025-01-15 10:00:00 UTC);
const EMPTY: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const PATH: &str = "/bucket/photos/2025/cat.jpg";

/// A signed request, what verifying it needs, and the inputs of its floor.
pub struct RequestCase {
    pub req: Req,
    pub cfg: Config,
    pub secret: SecretKey,
    pub cache: SigningKeyCache,
    pub creq: Vec<u8>,
    pub key: [u8; 32],
    pub prefix: String,
}

impl RequestCase {
    fn new(req: Req, signer: &Signer) -> Self {
        let cfg = Config::default();
        let creq = parse(&req.view(), NOW, &cfg)
            .unwrap()
            .unwrap()
            .canonical_request(None);
        let case = RequestCase {
            secret: SecretKey::from(signer.secret.clone()),
            cache: SigningKeyCache::new(64),
            creq,
            key: signer.signing_key(),
            prefix: format!("AWS4-HMAC-SHA256\n{}\n{}\n", signer.date(), signer.scope()),
            req,
            cfg,
        };
        case.verify(); // signs correctly, and warms the key cache
        check(&case.key, case.prefix.as_bytes(), &case.creq);
        case
    }

    /// Parse and verify, as the server does for each request.
    pub fn verify(&self) -> Verified {
        let p = parse(black_box(&self.req.view()), NOW, &self.cfg)
            .unwrap()
            .unwrap();
        p.verify(&self.secret, &self.cache, None).unwrap()
    }

    pub fn floor(&self) -> [u8; 32] {
        floor(&self.key, self.prefix.as_bytes(), black_box(&self.creq))
    }
}

/// A GET as the AWS SDK for Rust sends it, header-signed.
pub fn header_get() -> RequestCase {
    let signer = Signer::s3(NOW);
    let mut headers = hdrs(&[
        ("host", "bucket.s3.us-east-1.amazonaws.com"),
        ("x-amz-content-sha256", EMPTY),
        ("user-agent", "aws-sdk-rust/1.3 os/linux lang/rust"),
        (
            "amz-sdk-invocation-id",
            "0f0c3c5e-6c1e-4d2c-9b0e-5f1f0f6f6b0a",
        ),
        ("amz-sdk-request", "attempt=1; max=3"),
    ]);
    signer.sign_headers("GET", PATH, &mut headers, EMPTY, None);
    RequestCase::new(Req::new("GET", PATH, &headers), &signer)
}

/// A presigned GET.
pub fn presigned_get() -> RequestCase {
    let signer = Signer::s3(NOW);
    let headers = hdrs(&[("host", "bucket.s3.us-east-1.amazonaws.com")]);
    let url = signer.presign("GET", PATH, &headers, 3600, "host", "UNSIGNED-PAYLOAD");
    RequestCase::new(Req::new("GET", &url, &headers), &signer)
}

/// One 64 KiB chunk of a signed aws-chunked body, and the inputs of its floor.
pub struct ChunkCase {
    pub verified: Verified,
    /// The size line, 64 KiB, CRLF.
    pub first: Vec<u8>,
    pub data: Vec<u8>,
    pub key: [u8; 32],
    pub prefix: String,
}

impl ChunkCase {
    /// Decodes the chunk (checking its signature) into `out`.
    pub fn verify(&self, out: &mut Vec<u8>) -> u64 {
        out.clear();
        let mut dec = self.verified.chunk_decoder(None).unwrap();
        dec.push(black_box(&self.first), out).unwrap();
        dec.decoded_len()
    }

    pub fn floor(&self) -> [u8; 32] {
        floor(&self.key, self.prefix.as_bytes(), black_box(&self.data))
    }
}

pub fn chunk_64k() -> ChunkCase {
    let signer = Signer::s3(NOW);
    let mode = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
    let mut headers = hdrs(&[("host", "h"), ("x-amz-content-sha256", mode)]);
    signer.sign_headers("PUT", "/b/k", &mut headers, mode, None);
    let authz = &headers.last().unwrap().1;
    let seed = authz.rsplit("Signature=").next().unwrap().to_owned();
    let req = Req::new("PUT", "/b/k", &headers);
    let p = parse(&req.view(), NOW, &Config::default())
        .unwrap()
        .unwrap();
    let secret = SecretKey::from(signer.secret.clone());
    let verified = p.verify(&secret, &SigningKeyCache::new(1), None).unwrap();
    let data = vec![b'a'; 65_536];
    let body = signer.chunked_body(Some(&seed), &[&data], None);
    let first = body[..88 + 65_536 + 2].to_vec();
    assert_eq!(&first[first.len() - 2..], b"\r\n");
    let prefix = format!(
        "AWS4-HMAC-SHA256-PAYLOAD\n{}\n{}\n{seed}\n{EMPTY}\n",
        signer.date(),
        signer.scope()
    );
    let key = signer.signing_key();
    check(&key, prefix.as_bytes(), &data);
    ChunkCase {
        verified,
        first,
        data,
        key,
        prefix,
    }
}
