//! Incremental decoder of aws-chunked request bodies, checking chunk and trailer signatures
//! and the trailer checksum.
//!
//! Spec: AWS S3 "Signature calculations for the Authorization header: transferring payload in
//! multiple chunks" and "... including trailing headers"; SPEC V2. Framing:
//!
//! ```text
//! hex-size[;chunk-signature=SIG][;ext...]\r\n  data  \r\n      (repeated)
//! 0[;chunk-signature=SIG]\r\n  [name:value\r\n ...]  [x-amz-trailer-signature:SIG\r\n]  \r\n
//! ```
//!
//! Chunk string to sign: `AWS4-HMAC-SHA256-PAYLOAD\n date\n scope\n prev-sig\n
//! hex(sha256(""))\n hex(sha256(data))`, chained from the seed (request) signature; trailer:
//! `AWS4-HMAC-SHA256-TRAILER\n date\n scope\n prev-sig\n hex(sha256(trailer lines))` where
//! each trailer line is `name:value\n`.
//!
//! Invariants: memory is bounded (one partial line of at most [`MAX_LINE`] bytes, at most
//! [`MAX_TRAILERS`] trailer lines); chunk data is hashed as it streams and written to `out`
//! before the chunk's signature is checked (the caller commits only after [`ChunkDecoder::finish`]).
//! No input panics: sizes use checked arithmetic and every malformed byte is an error. After
//! an error the decoder stays failed.

use crate::checksum::{ChecksumAlgorithm, Checksummer};
use crate::error::AuthError;
use crate::key::SigningKey;
use crate::secret::{hex_lower, Signature};
use crate::sink::{Sink, BUF};
use crate::verify::{put_scope, EMPTY_SHA256};
use crate::Service;
use sha2::{Digest, Sha256};
use std::fmt;

/// Longest size or trailer line accepted, CRLF included.
pub const MAX_LINE: usize = 4096;
/// Most trailer lines accepted.
pub const MAX_TRAILERS: usize = 32;

/// What the request's trailer carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trailers {
    /// The checksum trailer, already checked against the decoded data, base64 as sent.
    pub checksum: Option<(ChecksumAlgorithm, String)>,
}

/// The signing context of a signed aws-chunked body (`Debug` prints no key material: the
/// key and the signature redact themselves).
#[derive(Clone, Debug)]
pub(crate) struct ChunkSigner {
    pub(crate) key: SigningKey,
    pub(crate) amz_date: [u8; 16],
    pub(crate) scope_date: [u8; 8],
    pub(crate) region: String,
    pub(crate) service: Service,
    pub(crate) prev: Signature,
}

impl ChunkSigner {
    fn sign(&self, kind: &[u8], tail: &[&[u8]]) -> Signature {
        self.key.sign_with(&mut [0; BUF], |s| {
            s.put(kind);
            s.byte(b'\n');
            s.put(&self.amz_date);
            s.byte(b'\n');
            put_scope(s, &self.scope_date, &self.region, self.service);
            s.byte(b'\n');
            s.put(&self.prev.to_hex());
            for part in tail {
                s.byte(b'\n');
                s.put(part);
            }
        })
    }

    /// Checks a chunk's claimed signature and advances the chain.
    fn check_chunk(
        &mut self,
        data_sha256: &[u8; 32],
        claimed: Option<Signature>,
    ) -> Result<(), AuthError> {
        let claimed = claimed.ok_or(AuthError::SignatureDoesNotMatch)?;
        let expected = self.sign(
            b"AWS4-HMAC-SHA256-PAYLOAD",
            &[&hex_lower(&EMPTY_SHA256), &hex_lower(data_sha256)],
        );
        if !expected.ct_eq(&claimed) {
            return Err(AuthError::SignatureDoesNotMatch);
        }
        self.prev = claimed;
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    SizeLine,
    Data,
    DataCr,
    DataLf,
    TrailerLine,
    Done,
    Failed,
}

/// Decodes an aws-chunked body fed in any slicing; see the module docs.
pub struct ChunkDecoder {
    signer: Option<ChunkSigner>,
    trailer_mode: bool,
    expected_trailer: Option<ChecksumAlgorithm>,
    checksum: Option<Checksummer>,
    state: State,
    line: Vec<u8>,
    remaining: u64,
    chunk_sig: Option<Signature>,
    chunk_hash: Sha256,
    decoded: u64,
    expected_len: Option<u64>,
    trailer_value: Option<String>,
    trailer_hash: Sha256,
    trailer_sig: Option<Signature>,
    trailer_lines: usize,
}

impl fmt::Debug for ChunkDecoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChunkDecoder")
            .field("signed", &self.signer.is_some())
            .field("trailer_mode", &self.trailer_mode)
            .field("expected_trailer", &self.expected_trailer)
            .field("state", &self.state)
            .field("decoded", &self.decoded)
            .finish_non_exhaustive()
    }
}

fn malformed(why: &'static str) -> AuthError {
    AuthError::MalformedChunkedBody(why)
}

impl ChunkDecoder {
    pub(crate) fn new(
        signer: Option<ChunkSigner>,
        trailer_mode: bool,
        expected_trailer: Option<ChecksumAlgorithm>,
        expected_len: Option<u64>,
    ) -> Self {
        ChunkDecoder {
            signer,
            trailer_mode,
            expected_trailer,
            checksum: expected_trailer.map(Checksummer::new),
            state: State::SizeLine,
            line: Vec::new(),
            remaining: 0,
            chunk_sig: None,
            chunk_hash: Sha256::new(),
            decoded: 0,
            expected_len,
            trailer_value: None,
            trailer_hash: Sha256::new(),
            trailer_sig: None,
            trailer_lines: 0,
        }
    }

    /// A decoder for an unsigned request's `STREAMING-UNSIGNED-PAYLOAD-TRAILER` body: chunks
    /// without signatures, then the trailer (checked when it is `expected_trailer`'s checksum).
    pub fn unsigned_trailer(
        expected_trailer: Option<ChecksumAlgorithm>,
        expected_len: Option<u64>,
    ) -> Self {
        ChunkDecoder::new(None, true, expected_trailer, expected_len)
    }

    /// Decoded payload bytes emitted so far.
    pub fn decoded_len(&self) -> u64 {
        self.decoded
    }

    /// Feeds the next bytes of the body; appends decoded payload to `out`.
    pub fn push(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(), AuthError> {
        if self.state == State::Failed {
            return Err(malformed("the body already failed to decode"));
        }
        let r = self.push_inner(input, out);
        if r.is_err() {
            self.state = State::Failed;
        }
        r
    }

    fn push_inner(&mut self, mut input: &[u8], out: &mut Vec<u8>) -> Result<(), AuthError> {
        while let Some(&first) = input.first() {
            match self.state {
                State::SizeLine | State::TrailerLine => {
                    let Some(line_len) = self.take_line(&mut input)? else {
                        return Ok(());
                    };
                    let line = std::mem::take(&mut self.line);
                    let r = if self.state == State::SizeLine {
                        self.size_line(&line[..line_len])
                    } else {
                        self.trailer_line(&line[..line_len])
                    };
                    self.line = line;
                    self.line.clear();
                    r?;
                }
                State::Data => {
                    let n = usize::try_from(self.remaining)
                        .unwrap_or(usize::MAX)
                        .min(input.len());
                    let (data, rest) = input.split_at(n);
                    self.chunk_hash.update(data);
                    if let Some(c) = &mut self.checksum {
                        c.update(data);
                    }
                    out.extend_from_slice(data);
                    self.decoded += n as u64;
                    self.remaining -= n as u64;
                    if self.remaining == 0 {
                        self.state = State::DataCr;
                    }
                    input = rest;
                }
                State::DataCr | State::DataLf => {
                    let want = if self.state == State::DataCr {
                        b'\r'
                    } else {
                        b'\n'
                    };
                    if first != want {
                        return Err(malformed("chunk data is not followed by CRLF"));
                    }
                    input = &input[1..];
                    if self.state == State::DataCr {
                        self.state = State::DataLf;
                    } else {
                        let hash: [u8; 32] = self.chunk_hash.finalize_reset().into();
                        if let Some(s) = &mut self.signer {
                            s.check_chunk(&hash, self.chunk_sig.take())?;
                        }
                        self.state = State::SizeLine;
                    }
                }
                State::Done => return Err(malformed("data after the end of the aws-chunked body")),
                State::Failed => return Err(malformed("the body already failed to decode")),
            }
        }
        Ok(())
    }

    /// Moves bytes up to and including `\n` into `self.line`; returns the length of the line
    /// without CRLF once complete, `None` if more input is needed.
    fn take_line(&mut self, input: &mut &[u8]) -> Result<Option<usize>, AuthError> {
        let (chunk, complete) = match input.iter().position(|&b| b == b'\n') {
            Some(p) => (&input[..=p], true),
            None => (&input[..], false),
        };
        if self.line.len() + chunk.len() > MAX_LINE {
            return Err(malformed("a chunk-size or trailer line is too long"));
        }
        self.line.extend_from_slice(chunk);
        *input = &input[chunk.len()..];
        if !complete {
            return Ok(None);
        }
        match self.line.len().checked_sub(2) {
            Some(n) if self.line[n] == b'\r' => Ok(Some(n)),
            _ => Err(malformed("a line does not end with CRLF")),
        }
    }

    fn size_line(&mut self, line: &[u8]) -> Result<(), AuthError> {
        let mut parts = line.split(|&b| b == b';');
        let size_hex = parts.next().unwrap_or_default();
        if size_hex.is_empty() {
            return Err(malformed("empty chunk size"));
        }
        let mut size: u64 = 0;
        for &b in size_hex {
            let d = (b as char)
                .to_digit(16)
                .ok_or(malformed("chunk size is not hex"))?;
            size = size
                .checked_mul(16)
                .and_then(|s| s.checked_add(u64::from(d)))
                .ok_or(malformed("chunk size overflows"))?;
        }
        self.chunk_sig = None;
        for ext in parts {
            let (name, value) = match ext.iter().position(|&b| b == b'=') {
                Some(p) => (&ext[..p], &ext[p + 1..]),
                None => (ext, &[][..]),
            };
            if name.trim_ascii() == b"chunk-signature" {
                // One signature a chunk: with two, which one was checked would be this
                // decoder's choice, not the signer's.
                if self.chunk_sig.is_some() {
                    return Err(malformed("a chunk header names two chunk signatures"));
                }
                let sig = Signature::from_hex(value.trim_ascii())
                    .ok_or(AuthError::SignatureDoesNotMatch)?;
                self.chunk_sig = Some(sig);
            }
        }
        if let Some(limit) = self.expected_len {
            if self
                .decoded
                .checked_add(size)
                .is_none_or(|total| total > limit)
            {
                return Err(AuthError::IncompleteBody);
            }
        }
        if size == 0 {
            if let Some(s) = &mut self.signer {
                s.check_chunk(&EMPTY_SHA256, self.chunk_sig.take())?;
            }
            self.state = State::TrailerLine;
        } else {
            self.remaining = size;
            self.state = State::Data;
        }
        Ok(())
    }

    fn trailer_line(&mut self, line: &[u8]) -> Result<(), AuthError> {
        if line.is_empty() {
            self.state = State::Done;
            return Ok(());
        }
        if !self.trailer_mode {
            return Err(malformed("trailer in a body declared without trailers"));
        }
        self.trailer_lines += 1;
        if self.trailer_lines > MAX_TRAILERS {
            return Err(malformed("too many trailer lines"));
        }
        let p = line
            .iter()
            .position(|&b| b == b':')
            .ok_or(malformed("a trailer line has no ':'"))?;
        let name =
            std::str::from_utf8(line[..p].trim_ascii()).map_err(|_| malformed("trailer name"))?;
        let value = std::str::from_utf8(line[p + 1..].trim_ascii())
            .map_err(|_| malformed("trailer value"))?;
        let name = name.to_ascii_lowercase();
        if name == "x-amz-trailer-signature" {
            let sig =
                Signature::from_hex(value.as_bytes()).ok_or(AuthError::SignatureDoesNotMatch)?;
            if self.trailer_sig.replace(sig).is_some() {
                return Err(malformed("repeated trailer signature"));
            }
            return Ok(());
        }
        if self.trailer_sig.is_some() {
            return Err(malformed("trailer after the trailer signature"));
        }
        self.trailer_hash.update(name.as_bytes());
        self.trailer_hash.update(b":");
        self.trailer_hash.update(value.as_bytes());
        self.trailer_hash.update(b"\n");
        if let Some(alg) = ChecksumAlgorithm::from_header_name(&name) {
            if self.expected_trailer != Some(alg) {
                return Err(malformed("checksum trailer not declared in x-amz-trailer"));
            }
            if self.trailer_value.replace(value.to_owned()).is_some() {
                return Err(malformed("repeated checksum trailer"));
            }
        }
        Ok(())
    }

    /// Ends the body: the framing must be complete, the trailer signature valid, the trailer
    /// checksum equal to the decoded data's, and the length equal to
    /// `x-amz-decoded-content-length` when sent.
    pub fn finish(mut self) -> Result<Trailers, AuthError> {
        match self.state {
            State::Done => {}
            // Tolerated: a client that omits the very last CRLF after a complete trailer.
            State::TrailerLine if self.line.is_empty() => {}
            State::Failed => return Err(malformed("the body already failed to decode")),
            State::SizeLine | State::Data | State::DataCr | State::DataLf | State::TrailerLine => {
                return Err(AuthError::IncompleteBody)
            }
        }
        if self.trailer_mode {
            if let Some(s) = &self.signer {
                let claimed = self.trailer_sig.ok_or(AuthError::SignatureDoesNotMatch)?;
                let hash: [u8; 32] = self.trailer_hash.finalize_reset().into();
                let expected = s.sign(b"AWS4-HMAC-SHA256-TRAILER", &[&hex_lower(&hash)]);
                if !expected.ct_eq(&claimed) {
                    return Err(AuthError::SignatureDoesNotMatch);
                }
            }
        }
        if self.expected_len.is_some_and(|n| n != self.decoded) {
            return Err(AuthError::IncompleteBody);
        }
        let checksum = match (self.checksum.take(), self.trailer_value.take()) {
            (None, _) => None,
            (Some(_), None) => return Err(malformed("the checksum trailer is missing")),
            (Some(c), Some(sent)) => {
                let alg = c.algorithm();
                if c.finish() != sent {
                    return Err(AuthError::BadDigest);
                }
                Some((alg, sent))
            }
        };
        Ok(Trailers { checksum })
    }
}
