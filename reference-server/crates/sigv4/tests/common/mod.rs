//! Test support: the vector files, a parser of the suites' raw HTTP requests, and a small
//! test-only signer (request, presigned URL, aws-chunked body) that `vectors.rs` checks
//! against AWS's vectors before the negative tests rely on it.
#![allow(dead_code)] // Each test binary uses a different part of this module.

use hmac::{Hmac, Mac};
use http::{HeaderMap, HeaderName, HeaderValue};
use keygate_sigv4::canonical::{self, CanonicalInput, UriEncoding};
use keygate_sigv4::key::derive_signing_key;
use keygate_sigv4::SecretKey;
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use time::OffsetDateTime;

/// `../shared/vectors` beside the repository, or `KEYGATE_VECTORS` (for a checkout kept
/// elsewhere, such as a git worktree); fails loudly when absent.
pub fn vectors_dir() -> PathBuf {
    let dir = match std::env::var_os("KEYGATE_VECTORS") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../../shared/vectors"),
    };
    assert!(
        dir.join("sigv4").is_dir(),
        "SigV4 test vectors not found at {} (they sit beside the repository; \
         KEYGATE_VECTORS names another place)",
        dir.display()
    );
    dir
}

pub fn read(path: &PathBuf) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// A request as written in the suites' `.req`/`request.txt` files.
#[derive(Debug, Clone)]
pub struct RawRequest {
    pub method: String,
    /// Path and query exactly as in the request line (may contain spaces or raw UTF-8).
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawRequest {
    pub fn parse(text: &str) -> Self {
        let text = text.replace("\r\n", "\n");
        let (head, body) = match text.split_once("\n\n") {
            Some((h, b)) => (h.to_owned(), b.as_bytes().to_vec()),
            None => (text.trim_end_matches('\n').to_owned(), Vec::new()),
        };
        let mut lines = head.lines();
        let request_line = lines.next().expect("request line");
        let (method, rest) = request_line.split_once(' ').expect("method");
        let target = rest.strip_suffix(" HTTP/1.1").expect("HTTP/1.1").to_owned();
        let mut headers: Vec<(String, String)> = Vec::new();
        for line in lines {
            if line.starts_with([' ', '\t']) {
                // Obsolete line folding: the continuation joins the previous value.
                let last = headers.last_mut().expect("continuation after a header");
                last.1.push(' ');
                last.1.push_str(line);
            } else {
                let (name, value) = line.split_once(':').expect("header line");
                headers.push((name.to_owned(), value.to_owned()));
            }
        }
        RawRequest {
            method: method.to_owned(),
            target,
            headers,
            body,
        }
    }

    pub fn path(&self) -> &str {
        self.target.split_once('?').map_or(&self.target, |(p, _)| p)
    }

    pub fn query(&self) -> &str {
        self.target.split_once('?').map_or("", |(_, q)| q)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn header_map(&self) -> HeaderMap {
        header_map(&self.headers)
    }
}

pub fn header_map(headers: &[(String, String)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (n, v) in headers {
        map.append(
            HeaderName::from_bytes(n.as_bytes()).expect("header name"),
            HeaderValue::from_bytes(v.as_bytes()).expect("header value"),
        );
    }
    map
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

pub fn amz_date(t: OffsetDateTime) -> String {
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

fn enc(s: &str) -> String {
    let mut out = Vec::new();
    canonical::uri_encode(&mut out, s.as_bytes(), false);
    String::from_utf8(out).unwrap()
}

/// A test-only SigV4 signer built on the crate's canonical rules (which the vectors pin).
#[derive(Debug, Clone)]
pub struct Signer {
    pub access_key: String,
    pub secret: String,
    pub region: String,
    pub service: String,
    pub uri: UriEncoding,
    pub time: OffsetDateTime,
    pub token: Option<String>,
}

impl Signer {
    pub fn s3(time: OffsetDateTime) -> Self {
        Signer {
            access_key: "AKIDEXAMPLE".into(),
            secret: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            region: "us-east-1".into(),
            service: "s3".into(),
            uri: UriEncoding::S3,
            time,
            token: None,
        }
    }

    pub fn date(&self) -> String {
        amz_date(self.time)
    }

    pub fn scope(&self) -> String {
        format!(
            "{}/{}/{}/aws4_request",
            &self.date()[..8],
            self.region,
            self.service
        )
    }

    pub fn signing_key(&self) -> [u8; 32] {
        let h = |k: &[u8], m: &[u8]| -> [u8; 32] {
            let mut mac = Hmac::<Sha256>::new_from_slice(k).unwrap();
            mac.update(m);
            mac.finalize().into_bytes().into()
        };
        let k = h(
            format!("AWS4{}", self.secret).as_bytes(),
            &self.date().as_bytes()[..8],
        );
        let k = h(&k, self.region.as_bytes());
        let k = h(&k, self.service.as_bytes());
        h(&k, b"aws4_request")
    }

    pub fn hmac_hex(&self, msg: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.signing_key()).unwrap();
        mac.update(msg.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// Signature over a canonical request, using the crate's key derivation too so a
    /// divergence between the two derivations shows up here.
    fn sign_creq(&self, creq: &[u8]) -> String {
        let sts = canonical::string_to_sign(&self.date(), &self.scope(), creq);
        let ours = self.hmac_hex(&sts);
        let key = derive_signing_key(
            &SecretKey::from(self.secret.clone()),
            &self.date()[..8],
            &self.region,
            &self.service,
        );
        let theirs = hex::encode(key.sign(sts.as_bytes()).as_bytes());
        assert_eq!(
            ours, theirs,
            "test signer and crate disagree on the signing key"
        );
        ours
    }

    #[allow(clippy::too_many_arguments)] // reason: mirrors CanonicalInput's fields in a test helper
    fn sign_parts(
        &self,
        method: &str,
        path: &str,
        query: &str,
        headers: &[(String, String)],
        signed_headers: &str,
        payload_hash: &str,
        presigned: bool,
    ) -> String {
        let map = header_map(headers);
        let mut creq = Vec::new();
        let input = CanonicalInput {
            method,
            path,
            query,
            headers: &map,
            signed_headers,
            payload_hash,
            uri: self.uri,
            presigned,
            host_fallback: None,
        };
        canonical::canonical_request(&mut creq, &input);
        self.sign_creq(&creq)
    }

    /// Header-signs: adds `x-amz-date` (and the token), signs every header present (sorted) or
    /// the `signed` list, and adds `Authorization`.
    pub fn sign_headers(
        &self,
        method: &str,
        target: &str,
        headers: &mut Vec<(String, String)>,
        payload_hash: &str,
        signed: Option<&str>,
    ) {
        headers.push(("X-Amz-Date".into(), self.date()));
        if let Some(t) = &self.token {
            headers.push(("X-Amz-Security-Token".into(), t.clone()));
        }
        let signed = signed.map(str::to_owned).unwrap_or_else(|| {
            let mut names: Vec<String> = headers
                .iter()
                .map(|(n, _)| n.to_ascii_lowercase())
                .collect();
            names.sort();
            names.dedup();
            names.join(";")
        });
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let sig = self.sign_parts(method, path, query, headers, &signed, payload_hash, false);
        headers.push((
            "Authorization".into(),
            format!(
                "AWS4-HMAC-SHA256 Credential={}/{}, SignedHeaders={signed}, Signature={sig}",
                self.access_key,
                self.scope()
            ),
        ));
    }

    /// Presigns: returns the target with the six `X-Amz-*` parameters (and the token).
    pub fn presign(
        &self,
        method: &str,
        target: &str,
        headers: &[(String, String)],
        expires: u64,
        signed: &str,
        payload_hash: &str,
    ) -> String {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let mut params = vec![
            format!("X-Amz-Algorithm=AWS4-HMAC-SHA256"),
            format!(
                "X-Amz-Credential={}",
                enc(&format!("{}/{}", self.access_key, self.scope()))
            ),
            format!("X-Amz-Date={}", self.date()),
            format!("X-Amz-Expires={expires}"),
            format!("X-Amz-SignedHeaders={}", enc(signed)),
        ];
        if let Some(t) = &self.token {
            params.push(format!("X-Amz-Security-Token={}", enc(t)));
        }
        let mut q = query.to_owned();
        for p in params {
            if !q.is_empty() {
                q.push('&');
            }
            q.push_str(&p);
        }
        let sig = self.sign_parts(method, path, &q, headers, signed, payload_hash, true);
        format!("{path}?{q}&X-Amz-Signature={sig}")
    }

    /// Next signature in an aws-chunked chain.
    pub fn chunk_signature(&self, prev: &str, data: &[u8]) -> String {
        let sts = format!(
            "AWS4-HMAC-SHA256-PAYLOAD\n{}\n{}\n{prev}\n{}\n{}",
            self.date(),
            self.scope(),
            sha256_hex(b""),
            sha256_hex(data)
        );
        self.hmac_hex(&sts)
    }

    pub fn trailer_signature(&self, prev: &str, trailer_lines: &str) -> String {
        let sts = format!(
            "AWS4-HMAC-SHA256-TRAILER\n{}\n{}\n{prev}\n{}",
            self.date(),
            self.scope(),
            sha256_hex(trailer_lines.as_bytes())
        );
        self.hmac_hex(&sts)
    }

    /// An aws-chunked body of `chunks`: signed from `seed` when given; with a trailer of
    /// `trailer` lines (`name:value`) when given.
    pub fn chunked_body(
        &self,
        seed: Option<&str>,
        chunks: &[&[u8]],
        trailer: Option<&[(&str, &str)]>,
    ) -> Vec<u8> {
        let mut body = Vec::new();
        let mut prev = seed.map(str::to_owned);
        for data in chunks.iter().copied().chain(std::iter::once(&b""[..])) {
            match &mut prev {
                Some(p) => {
                    let sig = self.chunk_signature(p, data);
                    body.extend_from_slice(
                        format!("{:x};chunk-signature={sig}\r\n", data.len()).as_bytes(),
                    );
                    *p = sig;
                }
                None => body.extend_from_slice(format!("{:x}\r\n", data.len()).as_bytes()),
            }
            if !data.is_empty() {
                body.extend_from_slice(data);
                body.extend_from_slice(b"\r\n");
            }
        }
        if let Some(lines) = trailer {
            let mut canonical_lines = String::new();
            for (n, v) in lines {
                body.extend_from_slice(format!("{n}:{v}\r\n").as_bytes());
                canonical_lines.push_str(&format!("{n}:{v}\n"));
            }
            if let Some(p) = &prev {
                let sig = self.trailer_signature(p, &canonical_lines);
                body.extend_from_slice(format!("x-amz-trailer-signature:{sig}\r\n").as_bytes());
            }
        }
        body.extend_from_slice(b"\r\n");
        body
    }
}

/// An owned request to hand to `keygate_sigv4::parse` through a `RequestView`.
#[derive(Debug)]
pub struct Req {
    pub method: http::Method,
    pub uri: http::Uri,
    pub headers: HeaderMap,
}

impl Req {
    pub fn new(method: &str, target: &str, headers: &[(String, String)]) -> Self {
        Req {
            method: method.parse().expect("method"),
            uri: target.parse().expect("uri"),
            headers: header_map(headers),
        }
    }

    pub fn view(&self) -> keygate_sigv4::RequestView<'_> {
        keygate_sigv4::RequestView {
            method: &self.method,
            uri: &self.uri,
            headers: &self.headers,
        }
    }
}

/// `(name, value)` pairs from string literals.
pub fn hdrs(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect()
}
