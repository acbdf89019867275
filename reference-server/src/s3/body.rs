//! Request bodies as handlers consume them: decoded (aws-chunked), hashed and checked.
//!
//! A [`RequestBody`] yields the payload bytes as they arrive; everything the request claimed
//! about them (x-amz-content-sha256, Content-MD5, an `x-amz-checksum-*` header or trailer,
//! chunk signatures, the decoded length) is verified in [`RequestBody::finish`]. Handlers
//! write what they read to a temp file and commit only after `finish` succeeds, so a body
//! that fails a check leaves nothing behind (SPEC V2, X4).

use bytes::Bytes;
use http::HeaderMap;
use http_body_util::BodyExt;
use keygate_sigv4::{ChecksumAlgorithm, Checksummer, ChunkDecoder, PayloadMode, Verified};
use md5::{Digest as _, Md5};
use sha2::Sha256;

use super::error::{S3Error, S3ErrorCode, S3Result};
use crate::auth::from_auth;
use crate::conn::TimedIncoming;

/// Where the bytes come from: already buffered (they had to be hashed before the signature
/// could be checked) or still on the connection.
#[derive(Debug)]
pub enum Source {
    Buffered(Option<Bytes>),
    Stream(TimedIncoming),
    Empty,
}

/// A request body being read and checked.
#[derive(Debug)]
pub struct RequestBody {
    source: Source,
    decoder: Option<ChunkDecoder>,
    sha256: Option<(Sha256, [u8; 32])>,
    content_md5: Option<(Md5, String)>,
    checksum: Option<(Checksummer, ChecksumAlgorithm, String)>,
    /// The algorithm of the checksum the body comes with (a header or a declared trailer).
    declared: Option<ChecksumAlgorithm>,
    expected_len: Option<u64>,
    received: u64,
    limit: u64,
}

/// What the checks established about a finished body.
#[derive(Debug, Default)]
pub struct Finished {
    /// The additional checksum the client supplied and the server verified.
    pub checksum: Option<(ChecksumAlgorithm, String)>,
    pub len: u64,
}

impl RequestBody {
    /// Prepares to read `source` under the payload rules of `verified` (None: anonymous).
    pub fn new(
        source: Source,
        headers: &HeaderMap,
        verified: Option<&Verified>,
        limit: u64,
    ) -> S3Result<RequestBody> {
        Self::with_checksum_headers(source, headers, verified, limit, true)
    }

    /// [`RequestBody::new`], with `x-amz-checksum-*` headers taken as the body's checksum or
    /// not (`false`: for a request whose checksum headers are about something else:
    /// CompleteMultipartUpload's name the object's).
    pub fn with_checksum_headers(
        source: Source,
        headers: &HeaderMap,
        verified: Option<&Verified>,
        limit: u64,
        checksum_headers: bool,
    ) -> S3Result<RequestBody> {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        // An anonymous request's declared payload is checked as a signed one's would be (a
        // hex hash against the body, an unsigned aws-chunked body decoded), so what it stores
        // is what it sent; only the signed chunk forms need a signature.
        let mode = match verified {
            Some(v) => *v.payload(),
            None => keygate_sigv4::unsigned_payload_mode(
                headers.get("x-amz-content-sha256").map(|v| v.as_bytes()),
            )
            .map_err(from_auth)?,
        };
        let (mut decoder, mut sha256, mut trailer_alg) = (None, None, None);
        let expected_len = if mode.is_streaming() {
            let trailer = match header("x-amz-trailer") {
                Some(name) => Some(ChecksumAlgorithm::from_header_name(name.trim()).ok_or_else(
                    || {
                        S3Error::with_message(
                            S3ErrorCode::InvalidArgument,
                            "Unsupported x-amz-trailer value.",
                        )
                    },
                )?),
                None => None,
            };
            trailer_alg = trailer;
            let decoded_len = match header("x-amz-decoded-content-length").map(str::parse::<u64>) {
                Some(Ok(n)) => n,
                Some(Err(_)) => {
                    return Err(S3Error::with_message(
                        S3ErrorCode::InvalidArgument,
                        "Invalid x-amz-decoded-content-length.",
                    ))
                }
                None => return Err(S3Error::new(S3ErrorCode::MissingContentLength)),
            };
            decoder = Some(match verified {
                Some(v) => v.chunk_decoder(trailer).map_err(from_auth)?,
                None => ChunkDecoder::unsigned_trailer(trailer, Some(decoded_len)),
            });
            Some(decoded_len)
        } else {
            if let PayloadMode::Sha256(expected) = mode {
                sha256 = Some((Sha256::new(), expected));
            }
            match header("content-length").map(str::parse::<u64>) {
                Some(Ok(n)) => Some(n),
                Some(Err(_)) => {
                    return Err(S3Error::with_message(
                        S3ErrorCode::InvalidArgument,
                        "Invalid Content-Length.",
                    ))
                }
                None => None,
            }
        };
        if expected_len.is_some_and(|n| n > limit) {
            return Err(S3Error::new(S3ErrorCode::EntityTooLarge));
        }
        let content_md5 = header("content-md5").map(|v| (Md5::new(), v.to_owned()));
        let mut checksum = None;
        for (name, value) in headers.iter().filter(|_| checksum_headers) {
            if let Some(alg) = ChecksumAlgorithm::from_header_name(name.as_str()) {
                // As S3: one checksum per request, never one checked and another ignored.
                if checksum.is_some() {
                    return Err(S3Error::with_message(
                        S3ErrorCode::InvalidRequest,
                        "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.",
                    ));
                }
                // Not a digest of this algorithm at all: no body could match it (S3 names
                // the header rather than compare).
                let value = value
                    .to_str()
                    .ok()
                    .filter(|v| alg.decode(v).is_some())
                    .ok_or_else(|| {
                        S3Error::with_message(
                            S3ErrorCode::InvalidRequest,
                            format!("Value for {} header is invalid.", alg.header_name()),
                        )
                    })?;
                checksum = Some((Checksummer::new(alg), alg, value.trim().to_owned()));
            }
        }
        let declared = checksum.as_ref().map(|(_, alg, _)| *alg).or(trailer_alg);
        Ok(RequestBody {
            source,
            decoder,
            sha256,
            content_md5,
            checksum,
            declared,
            expected_len,
            received: 0,
            limit,
        })
    }

    /// The algorithm of the checksum the body declares it comes with (an `x-amz-checksum-*`
    /// header or the `x-amz-trailer` it names), known before a byte is read; [`Self::finish`]
    /// verifies it.
    pub fn declared_checksum(&self) -> Option<ChecksumAlgorithm> {
        self.declared
    }

    /// The next piece of payload, or `None` at the end.
    pub async fn next(&mut self) -> S3Result<Option<Bytes>> {
        loop {
            let raw = match &mut self.source {
                Source::Empty => return Ok(None),
                Source::Buffered(b) => match b.take() {
                    Some(b) => b,
                    None => return Ok(None),
                },
                Source::Stream(incoming) => match incoming.frame().await {
                    None => return Ok(None),
                    Some(Err(e)) => return Err(e.into()),
                    Some(Ok(frame)) => match frame.into_data() {
                        Ok(data) => data,
                        Err(_) => continue,
                    },
                },
            };
            let data = match &mut self.decoder {
                Some(decoder) => {
                    let mut out = Vec::with_capacity(raw.len());
                    decoder.push(&raw, &mut out).map_err(from_auth)?;
                    Bytes::from(out)
                }
                None => raw,
            };
            if data.is_empty() {
                continue;
            }
            self.received += data.len() as u64;
            if self.received > self.limit || self.expected_len.is_some_and(|n| self.received > n) {
                return Err(if self.received > self.limit {
                    S3Error::new(S3ErrorCode::EntityTooLarge)
                } else {
                    S3Error::new(S3ErrorCode::IncompleteBody)
                });
            }
            if let Some((h, _)) = &mut self.sha256 {
                h.update(&data);
            }
            if let Some((h, _)) = &mut self.content_md5 {
                h.update(&data);
            }
            if let Some((h, _, _)) = &mut self.checksum {
                h.update(&data);
            }
            return Ok(Some(data));
        }
    }

    /// Verifies every claim about the payload once it has been read to the end.
    pub fn finish(self) -> S3Result<Finished> {
        if self.expected_len.is_some_and(|n| n != self.received) {
            return Err(S3Error::new(S3ErrorCode::IncompleteBody));
        }
        let mut finished = Finished {
            checksum: None,
            len: self.received,
        };
        if let Some(decoder) = self.decoder {
            let trailers = decoder.finish().map_err(from_auth)?;
            finished.checksum = trailers.checksum;
        }
        if let Some((h, expected)) = self.sha256 {
            let got: [u8; 32] = h.finalize().into();
            if got != expected {
                return Err(S3Error::new(S3ErrorCode::XAmzContentSHA256Mismatch));
            }
        }
        if let Some((h, header)) = self.content_md5 {
            keygate_sigv4::content_md5_check(&header, h.finalize().into()).map_err(from_auth)?;
        }
        if let Some((h, alg, expected)) = self.checksum {
            if h.finish() != expected {
                return Err(S3Error::with_message(
                    S3ErrorCode::BadDigest,
                    format!(
                        "The {} you specified did not match the calculated checksum.",
                        alg.header_name()
                    ),
                ));
            }
            finished.checksum = Some((alg, expected));
        }
        Ok(finished)
    }

    /// Reads a whole (small) body into memory, checked; bodies over `max` are refused.
    pub async fn collect(mut self, max: usize) -> S3Result<(Bytes, Finished)> {
        let mut buf = Vec::new();
        while let Some(chunk) = self.next().await? {
            // As a declared length over the limit is refused (`new`).
            if buf.len() + chunk.len() > max {
                return Err(S3Error::new(S3ErrorCode::EntityTooLarge));
            }
            buf.extend_from_slice(&chunk);
        }
        let finished = self.finish()?;
        Ok((Bytes::from(buf), finished))
    }
}
