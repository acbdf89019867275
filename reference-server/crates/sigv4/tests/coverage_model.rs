//! The optimised `SignedHeaders` coverage (SPEC V5) and canonical headers, checked through the
//! public API against a naive model written here from AWS's rules, on many generated requests.
//!
//! The model: a `SignedHeaders` list is valid when it is a non-empty `;` list of non-empty RFC
//! 9110 tokens; `host` must be in it and so must every `x-amz-*` header present (names compared
//! case-insensitively); the canonical headers are the list's names lowercased, in list order,
//! each followed by its values (trimmed, inner runs of spaces and tabs collapsed to one space,
//! several values joined with `,` in arrival order; `host` falls back to the URI authority).
//!
//! Each generated request is signed here over the model's canonical request (own HMAC, with the
//! signing key of the vector-checked test signer), then must parse to the model's outcome, give
//! the model's canonical request, and verify. Mutations of an accepted request (a signed value
//! changed, another value appended, blanks added, a header removed, an unsigned header added)
//! must verify exactly when the model's canonical request is unchanged.
//!
//! Deterministic: a fixed seed; `COVERAGE_MODEL_SEED` and `COVERAGE_MODEL_CASES` override the
//! seed and the number of cases when exploring.

mod common;

use common::{Req, Signer};
use hmac::{Hmac, Mac};
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use keygate_sigv4::{parse, AuthError, Config, SecretKey, SigningKeyCache};
use sha2::{Digest, Sha256};
use time::macros::datetime;
use time::OffsetDateTime;

const NOW: OffsetDateTime = datetime!(2025-01-15 10:00:00 UTC);
const DATE: &str = "20250115T100000Z";
const SCOPE: &str = "20250115/us-east-1/s3/aws4_request";
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const DEFAULT_SEED: u64 = 0x6b65_7967_6174_6535;
const DEFAULT_CASES: usize = 2500;

/// splitmix64: small, seedable, good enough to spread the cases.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<'x, T>(&mut self, xs: &'x [T]) -> &'x T {
        &xs[self.below(xs.len())]
    }
}

/// Header names: the ones SigV4 reads, `x-amz-*` names sharing their first eight bytes or
/// differing only in a middle or last word, names shorter than eight bytes, near misses of
/// `x-amz-` and `host`.
const POOL: &[&str] = &[
    "host",
    "x-amz-date",
    "x-amz-content-sha256",
    "x-amz-security-token",
    "x-amz-meta-a",
    "x-amz-meta-b",
    "x-amz-meta-ab",
    "x-amz-meta-",
    "x-amz-meta-12345",
    "x-amz-meta-aaaaaaaa1",
    "x-amz-meta-aaaaaaaa2",
    "x-amz-metb-aaaaaaaa1",
    "x-amz-meta-aaaaaaaaaaaa1",
    "x-amz-storage-class",
    "x-amz-checksum-crc32",
    "x-amz-decoded-content-length",
    "x-amz-me",
    "x-amz-met",
    "x-amz-m",
    "x-amz-",
    "x-amz",
    "x-amzfoo",
    "x_amz-meta-a",
    "xamz-meta",
    "a",
    "ab",
    "hos",
    "hosts",
    "host-x",
    "date",
    "range",
    "content-type",
    "content-md5",
    "amz-sdk-invocation-id",
];

/// Pieces of header values: words, blanks (runs of spaces and tabs), separators, UTF-8.
const VALUE_PIECES: &[&str] = &[
    "a", "b", "xyz", "0", "é", " ", "  ", "\t", " \t ", "\t\t", "-", "=", ",", ";", "v 1",
];

/// One generated request: header or presigned auth, headers in arrival order, the signed list.
#[derive(Clone)]
struct Case {
    presigned: bool,
    /// The URI authority (`host` falls back to it when the header is absent).
    authority: Option<&'static str>,
    /// Header auth only: (raw query, canonical query).
    query: (&'static str, &'static str),
    headers: Vec<(String, Vec<u8>)>,
    signed: String,
}

impl Case {
    /// A header-signed request with a path-only URI and no query.
    fn header_auth(headers: &[(&str, &str)], signed: &str) -> Self {
        Case {
            presigned: false,
            authority: None,
            query: ("", ""),
            headers: headers
                .iter()
                .map(|(n, v)| ((*n).to_owned(), v.as_bytes().to_vec()))
                .collect(),
            signed: signed.to_owned(),
        }
    }
}

impl std::fmt::Debug for Case {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let headers: Vec<(&str, String)> = self
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), String::from_utf8_lossy(v).into_owned()))
            .collect();
        f.debug_struct("Case")
            .field("presigned", &self.presigned)
            .field("authority", &self.authority)
            .field("query", &self.query.0)
            .field("headers", &headers)
            .field("signed", &self.signed)
            .finish()
    }
}

/// What the model says `parse` does with a case.
#[derive(PartialEq, Eq)]
enum Expect {
    /// A header authentication reads was sent more than once.
    Repeated,
    /// The list is not a valid `SignedHeaders` list.
    Malformed,
    /// No `Host` header, and no authority in the URI to stand for it.
    MissingHost,
    HostNotSigned,
    UnsignedAmz,
    /// Accepted, with this canonical request.
    Accept(Vec<u8>),
}

impl std::fmt::Debug for Expect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Expect::Repeated => f.write_str("Repeated"),
            Expect::Malformed => f.write_str("Malformed"),
            Expect::MissingHost => f.write_str("MissingHost"),
            Expect::HostNotSigned => f.write_str("HostNotSigned"),
            Expect::UnsignedAmz => f.write_str("UnsignedAmz"),
            Expect::Accept(c) => write!(f, "Accept({:?})", String::from_utf8_lossy(c)),
        }
    }
}

// ---- the model -------------------------------------------------------------------------------

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// A value trimmed, inner runs of spaces and tabs collapsed to one space.
fn collapse(v: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut blank = false;
    for &b in v {
        if b == b' ' || b == b'\t' {
            blank = !out.is_empty();
        } else {
            if blank {
                out.push(b' ');
            }
            blank = false;
            out.push(b);
        }
    }
    out
}

/// AWS's URI encoding: unreserved bytes kept, everything else `%XX` uppercase.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The presigned query without `X-Amz-Signature`, already sorted and encoded.
fn presign_query(signed: &str) -> String {
    format!(
        "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={}&X-Amz-Date={DATE}\
         &X-Amz-Expires=300&X-Amz-SignedHeaders={}",
        encode(&format!("AKIDEXAMPLE/{SCOPE}")),
        encode(signed)
    )
}

/// The values of header `name` (any case), in arrival order.
fn values_of<'c>(case: &'c Case, name: &'c str) -> impl Iterator<Item = &'c [u8]> + 'c {
    case.headers
        .iter()
        .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_slice())
}

/// The headers whose value authentication reads: each must come at most once.
const READ_ONCE: &[&str] = &[
    "authorization",
    "host",
    "date",
    "x-amz-date",
    "x-amz-content-sha256",
    "x-amz-security-token",
    "x-amz-decoded-content-length",
];

fn model(case: &Case) -> Expect {
    if READ_ONCE.iter().any(|n| values_of(case, n).count() > 1) {
        return Expect::Repeated;
    }
    let list = &case.signed;
    if list.is_empty()
        || list
            .split(';')
            .any(|n| n.is_empty() || !n.bytes().all(is_token_byte))
    {
        return Expect::Malformed;
    }
    if values_of(case, "host").next().is_none() && case.authority.is_none() {
        return Expect::MissingHost;
    }
    let names: Vec<String> = list.split(';').map(str::to_ascii_lowercase).collect();
    if !names.iter().any(|n| n == "host") {
        return Expect::HostNotSigned;
    }
    let unsigned_amz = case.headers.iter().any(|(n, _)| {
        let n = n.to_ascii_lowercase();
        n.starts_with("x-amz-") && !names.contains(&n)
    });
    if unsigned_amz {
        return Expect::UnsignedAmz;
    }
    let mut c = b"GET\n/bucket/key\n".to_vec();
    if case.presigned {
        c.extend_from_slice(presign_query(list).as_bytes());
    } else {
        c.extend_from_slice(case.query.1.as_bytes());
    }
    c.push(b'\n');
    for n in &names {
        c.extend_from_slice(n.as_bytes());
        c.push(b':');
        let values: Vec<Vec<u8>> = values_of(case, n).map(collapse).collect();
        if values.is_empty() && n == "host" {
            if let Some(a) = case.authority {
                c.extend_from_slice(a.as_bytes());
            }
        }
        c.extend_from_slice(&values.join(&b","[..]));
        c.push(b'\n');
    }
    c.push(b'\n');
    c.extend_from_slice(names.join(";").as_bytes());
    c.push(b'\n');
    let default: &[u8] = match case.presigned {
        true => b"UNSIGNED-PAYLOAD",
        false => EMPTY_SHA256.as_bytes(),
    };
    c.extend_from_slice(
        values_of(case, "x-amz-content-sha256")
            .next()
            .unwrap_or(default),
    );
    Expect::Accept(c)
}

/// Whether the crate can take its prepared path for a case (lowercase list of at most 16
/// names, no signed header sent twice): counted, to show both paths are exercised.
fn prepared_path(case: &Case) -> bool {
    let names: Vec<&str> = case.signed.split(';').collect();
    !case.signed.bytes().any(|b| b.is_ascii_uppercase())
        && names.len() <= 16
        && names.iter().all(|n| values_of(case, n).count() <= 1)
}

// ---- signing and running through the crate ---------------------------------------------------

/// The signature over a canonical request: string to sign and HMAC built here, with the test
/// signer's own (vector-checked) key derivation.
fn sign(key: &[u8; 32], creq: &[u8]) -> String {
    let sts = format!(
        "AWS4-HMAC-SHA256\n{DATE}\n{SCOPE}\n{}",
        hex::encode(Sha256::digest(creq))
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    mac.update(sts.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// The model's canonical request for a case it accepts (empty otherwise) and the signature
/// over it (a dummy one for a refused case).
fn signed_as_the_model_says(case: &Case, key: &[u8; 32]) -> (Vec<u8>, String) {
    match model(case) {
        Expect::Accept(creq) => {
            let sig = sign(key, &creq);
            (creq, sig)
        }
        _ => (Vec::new(), "0".repeat(64)),
    }
}

fn request(case: &Case, sig: &str) -> Req {
    let base = case
        .authority
        .map_or(String::new(), |a| format!("http://{a}"));
    let mut headers = HeaderMap::new();
    for (n, v) in &case.headers {
        headers.append(
            HeaderName::from_bytes(n.as_bytes()).unwrap(),
            HeaderValue::from_bytes(v).unwrap(),
        );
    }
    let target = if case.presigned {
        let q = presign_query(&case.signed);
        format!("{base}/bucket/key?{q}&X-Amz-Signature={sig}")
    } else {
        let auth = format!(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/{SCOPE}, SignedHeaders={}, Signature={sig}",
            case.signed
        );
        headers.append(http::header::AUTHORIZATION, auth.parse().unwrap());
        match case.query.0 {
            "" => format!("{base}/bucket/key"),
            q => format!("{base}/bucket/key?{q}"),
        }
    };
    Req {
        method: Method::GET,
        uri: target.parse().unwrap(),
        headers,
    }
}

/// What the crate does: the parse error, or the canonical request and whether it verified.
fn crate_outcome(
    case: &Case,
    sig: &str,
    cache: &SigningKeyCache,
) -> Result<(Vec<u8>, bool), AuthError> {
    let req = request(case, sig);
    let pending = parse(&req.view(), NOW, &Config::default())?.expect("a signed request");
    let creq = pending.canonical_request(None);
    let secret = SecretKey::from(Signer::s3(NOW).secret);
    match pending.verify(&secret, cache, None) {
        Ok(_) => Ok((creq, true)),
        Err(AuthError::SignatureDoesNotMatch) => Ok((creq, false)),
        Err(e) => panic!("{case:?}: verify failed with {e:?}"),
    }
}

#[derive(Debug, Default)]
struct Stats {
    repeated: usize,
    missing_host: usize,
    malformed: usize,
    host_not_signed: usize,
    unsigned_amz: usize,
    accepted_prepared: usize,
    accepted_general: usize,
    mutants_verified: usize,
    mutants_refused: usize,
}

/// Runs one case through the crate and requires the model's answer. `signed_creq` is the
/// canonical request the signature was made over; the request must verify exactly when the
/// model's canonical request is that one.
fn agree(case: &Case, sig: &str, signed_creq: &[u8], cache: &SigningKeyCache) -> Expect {
    let want = model(case);
    let got = crate_outcome(case, sig, cache);
    match (&want, &got) {
        (Expect::Malformed, Err(AuthError::MalformedAuthorization(_))) if !case.presigned => {}
        (Expect::Malformed, Err(AuthError::MalformedPresign(_))) if case.presigned => {}
        (Expect::HostNotSigned, Err(AuthError::HostNotSigned)) => {}
        (Expect::Repeated, Err(AuthError::RepeatedHeader(_))) => {}
        (Expect::MissingHost, Err(AuthError::MissingHost)) => {}
        (Expect::UnsignedAmz, Err(AuthError::UnsignedAmzHeader)) => {}
        (Expect::Accept(model_creq), Ok((creq, verified))) => {
            assert_eq!(
                String::from_utf8_lossy(creq),
                String::from_utf8_lossy(model_creq),
                "canonical request differs from the model's for {case:?}"
            );
            assert_eq!(
                *verified,
                model_creq == signed_creq,
                "signature outcome wrong for {case:?}"
            );
        }
        _ => {
            let got = got.map(|(c, v)| (String::from_utf8_lossy(&c).into_owned(), v));
            panic!("{case:?}\nmodel: {want:?}\ncrate: {got:?}")
        }
    }
    want
}

// ---- generation --------------------------------------------------------------------------------

/// A name in a random case (`HeaderName` lowercases header names; lists keep their case).
fn recase(rng: &mut Rng, name: &str) -> String {
    match rng.below(10) {
        0 => name.to_ascii_uppercase(),
        1 => name
            .split('-')
            .map(|w| {
                let mut cs = w.chars();
                cs.next().map_or(String::new(), |c| {
                    c.to_ascii_uppercase().to_string() + cs.as_str()
                })
            })
            .collect::<Vec<_>>()
            .join("-"),
        _ => name.to_owned(),
    }
}

fn value(rng: &mut Rng) -> Vec<u8> {
    let n = rng.below(7);
    (0..n)
        .flat_map(|_| rng.pick(VALUE_PIECES).as_bytes().to_vec())
        .collect()
}

/// Leading and trailing blanks (which trimming removes).
fn padded(rng: &mut Rng, v: &str) -> Vec<u8> {
    let blanks = ["", " ", "\t", " \t  "];
    format!("{}{v}{}", rng.pick(&blanks), rng.pick(&blanks)).into_bytes()
}

fn gen_headers(rng: &mut Rng, presigned: bool) -> Vec<(String, Vec<u8>)> {
    let mut headers: Vec<(String, Vec<u8>)> = Vec::new();
    // Header auth needs the date; presigned requests may carry it too.
    if !presigned || rng.chance(50) {
        headers.push((recase(rng, "x-amz-date"), padded(rng, DATE)));
    }
    if rng.chance(85) {
        headers.push((recase(rng, "host"), padded(rng, "bucket.s3.example.com")));
    }
    if rng.chance(50) {
        let v = *rng.pick(&[EMPTY_SHA256, "UNSIGNED-PAYLOAD"]);
        headers.push((recase(rng, "x-amz-content-sha256"), v.as_bytes().to_vec()));
    }
    // Many headers at times: more than the 16 values the general builder snapshots.
    let extra = match rng.below(10) {
        0 => 14 + rng.below(10),
        _ => rng.below(8),
    };
    for _ in 0..extra {
        let name = *rng.pick(POOL);
        let v = match name {
            "x-amz-date" => padded(rng, DATE),
            "x-amz-content-sha256" => EMPTY_SHA256.as_bytes().to_vec(),
            _ => value(rng),
        };
        headers.push((recase(rng, name), v));
    }
    // Repeated headers (later values of one name), any of them.
    if !headers.is_empty() && rng.chance(25) {
        for _ in 0..=rng.below(3) {
            let name = rng.pick(&headers).0.clone();
            headers.push((name, value(rng)));
        }
    }
    headers
}

fn gen_signed(rng: &mut Rng, headers: &[(String, Vec<u8>)]) -> String {
    let mut names: Vec<String> = if rng.chance(60) {
        // What an SDK sends: every header present, lowercase, sorted, once.
        let mut n: Vec<String> = headers
            .iter()
            .map(|(n, _)| n.to_ascii_lowercase())
            .collect();
        if rng.chance(80) {
            n.push("host".into());
        }
        n.sort();
        n.dedup();
        n
    } else {
        (0..rng.below(20))
            .map(|_| (*rng.pick(POOL)).to_owned())
            .collect()
    };
    if !names.is_empty() && rng.chance(20) {
        let i = rng.below(names.len());
        names.remove(i);
    }
    if rng.chance(30) {
        let at = rng.below(names.len() + 1);
        names.insert(at, (*rng.pick(POOL)).to_owned());
    }
    if !names.is_empty() && rng.chance(15) {
        let i = rng.below(names.len());
        let again = names[i].clone();
        names.insert(rng.below(names.len() + 1), again);
    }
    if rng.chance(15) {
        for n in names.iter_mut() {
            *n = recase(rng, n);
        }
    }
    if rng.chance(15) {
        for i in (1..names.len()).rev() {
            names.swap(i, rng.below(i + 1));
        }
    }
    if rng.chance(10) {
        // Past the prepared form's 16 names.
        names.extend((0..17).map(|i| format!("x-pad-{i}")));
    }
    if rng.chance(4) {
        names.insert(rng.below(names.len() + 1), String::new());
    }
    if rng.chance(2) {
        names.insert(rng.below(names.len() + 1), "ho@st".into());
    }
    names.join(";")
}

fn gen_case(rng: &mut Rng) -> Case {
    let presigned = rng.chance(30);
    let headers = gen_headers(rng, presigned);
    let signed = gen_signed(rng, &headers);
    Case {
        presigned,
        authority: rng.chance(30).then_some("bucket.s3.example.com:8443"),
        query: *rng.pick(&[("", ""), ("prefix=a&list-type=2", "list-type=2&prefix=a")]),
        headers,
        signed,
    }
}

/// The names in the list, lowercased.
fn signed_names(case: &Case) -> Vec<String> {
    case.signed
        .split(';')
        .map(str::to_ascii_lowercase)
        .collect()
}

/// Edits of an accepted case; the model decides what each must give.
fn mutants(rng: &mut Rng, case: &Case) -> Vec<Case> {
    let names = signed_names(case);
    let is_signed = |n: &str| names.iter().any(|s| s.eq_ignore_ascii_case(n));
    // Indexes of signed headers whose value may change without breaking the date or the
    // payload-hash syntax (their first value is parsed).
    let first = |i: usize| {
        let n = &case.headers[i].0;
        case.headers[..i]
            .iter()
            .all(|(m, _)| !m.eq_ignore_ascii_case(n))
    };
    let parsed = |i: usize| {
        let n = case.headers[i].0.to_ascii_lowercase();
        first(i) && (n == "x-amz-date" || n == "x-amz-content-sha256")
    };
    let signed_idx: Vec<usize> = (0..case.headers.len())
        .filter(|&i| is_signed(&case.headers[i].0))
        .collect();
    let free: Vec<usize> = signed_idx.iter().copied().filter(|&i| !parsed(i)).collect();
    let mut out = Vec::new();
    if !free.is_empty() {
        // A signed value changed.
        let mut m = case.clone();
        m.headers[*rng.pick(&free)].1.push(b'Z');
        out.push(m);
        // Blanks added around and inside a signed value: same canonical form.
        let mut m = case.clone();
        let i = *rng.pick(&free);
        let v = std::mem::take(&mut m.headers[i].1);
        let mut spaced = b" \t".to_vec();
        for b in v {
            spaced.extend_from_slice(if b == b' ' {
                b" \t "
            } else {
                std::slice::from_ref(&b)
            });
        }
        spaced.extend_from_slice(b"\t ");
        m.headers[i].1 = spaced;
        out.push(m);
    }
    // Another value for a signed name (present or not).
    let mut m = case.clone();
    let name = rng.pick(&names).clone();
    // A payload hash that still parses should it become the first value.
    let v = match name.as_str() {
        "x-amz-content-sha256" => "UNSIGNED-PAYLOAD",
        _ => "extra",
    };
    m.headers.push((name, v.as_bytes().to_vec()));
    out.push(m);
    // A signed header removed (all its values), unless it carries the request date.
    if let Some(&i) = signed_idx.get(rng.below(signed_idx.len().max(1))) {
        let n = case.headers[i].0.to_ascii_lowercase();
        if case.presigned || n != "x-amz-date" {
            let mut m = case.clone();
            m.headers.retain(|(h, _)| !h.eq_ignore_ascii_case(&n));
            out.push(m);
        }
    }
    // An unsigned header added: refused when it is `x-amz-*`, ignored otherwise.
    let unsigned: Vec<&str> = POOL
        .iter()
        .copied()
        .chain(["x-amz-meta-unsigned", "x-other"])
        .filter(|n| !is_signed(n))
        .collect();
    if !unsigned.is_empty() {
        let mut m = case.clone();
        let at = rng.below(m.headers.len() + 1);
        let name = *rng.pick(&unsigned);
        let name = recase(rng, name);
        m.headers.insert(at, (name, b"u".to_vec()));
        out.push(m);
    }
    out
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn coverage_and_canonical_headers_agree_with_the_model() {
    let mut rng = Rng(env_or("COVERAGE_MODEL_SEED", DEFAULT_SEED));
    let cases = env_or("COVERAGE_MODEL_CASES", DEFAULT_CASES);
    let key = Signer::s3(NOW).signing_key();
    let cache = SigningKeyCache::new(4);
    let mut stats = Stats::default();
    for _ in 0..cases {
        let case = gen_case(&mut rng);
        let (creq, sig) = signed_as_the_model_says(&case, &key);
        match agree(&case, &sig, &creq, &cache) {
            Expect::Repeated => stats.repeated += 1,
            Expect::MissingHost => stats.missing_host += 1,
            Expect::Malformed => stats.malformed += 1,
            Expect::HostNotSigned => stats.host_not_signed += 1,
            Expect::UnsignedAmz => stats.unsigned_amz += 1,
            Expect::Accept(_) => {
                match prepared_path(&case) {
                    true => stats.accepted_prepared += 1,
                    false => stats.accepted_general += 1,
                }
                for m in mutants(&mut rng, &case) {
                    let same = model(&m) == Expect::Accept(creq.clone());
                    agree(&m, &sig, &creq, &cache);
                    match same {
                        true => stats.mutants_verified += 1,
                        false => stats.mutants_refused += 1,
                    }
                }
            }
        }
    }
    eprintln!("{cases} cases: {stats:?}");
    // Every outcome, both canonical-header paths and both mutant outcomes are exercised.
    let least = cases / 50;
    for (what, n) in [
        ("repeated", stats.repeated),
        ("missing host", stats.missing_host),
        ("malformed", stats.malformed),
        ("host not signed", stats.host_not_signed),
        ("unsigned x-amz-*", stats.unsigned_amz),
        ("accepted, prepared path", stats.accepted_prepared),
        ("accepted, general path", stats.accepted_general),
        ("mutants verified", stats.mutants_verified),
        ("mutants refused", stats.mutants_refused),
    ] {
        assert!(n >= least, "only {n} cases {what}: {stats:?}");
    }
}

#[test]
fn lists_longer_than_the_prepared_spans_reach_fall_back_exactly() {
    // Spans are 16-bit: names past byte 65535 of the list cannot be prepared.
    let long = "x-pad".repeat(14_000);
    let key = Signer::s3(NOW).signing_key();
    let cache = SigningKeyCache::new(4);
    // A URI cannot be that long: header auth only.
    for signed in [
        format!("{long};host;x-amz-date;x-amz-meta-a"),
        format!("host;x-amz-date;x-amz-meta-a;{long}"),
        format!("host;{long};x-amz-meta-a"),
        format!("host;x-amz-date;{long}"),
    ] {
        let case = Case::header_auth(
            &[
                ("host", "h"),
                ("x-amz-date", DATE),
                ("x-amz-meta-a", " a \t b "),
            ],
            &signed,
        );
        let (creq, sig) = signed_as_the_model_says(&case, &key);
        agree(&case, &sig, &creq, &cache);
    }
}

#[test]
fn debug_output_of_a_signed_streaming_upload_shows_no_key_material() {
    let case = Case::header_auth(
        &[
            ("host", "bucket.s3.example.com"),
            ("x-amz-date", DATE),
            ("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"),
            ("x-amz-decoded-content-length", "0"),
        ],
        "host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length",
    );
    let signer = Signer::s3(NOW);
    let key = signer.signing_key();
    let (creq, sig) = signed_as_the_model_says(&case, &key);
    assert!(!creq.is_empty(), "the model refuses {case:?}");
    let req = request(&case, &sig);
    let pending = parse(&req.view(), NOW, &Config::default())
        .unwrap()
        .unwrap();
    let secret = SecretKey::from(signer.secret.clone());
    let cache = SigningKeyCache::new(4);
    let verified = pending.verify(&secret, &cache, None).unwrap();
    let decoder = verified.chunk_decoder(None).unwrap();
    let shown = format!("{pending:?} {verified:?} {verified:#?} {cache:?} {decoder:?} {secret:?}");
    for leak in [
        signer.secret.as_str(),
        &hex::encode(key),
        &hex::encode(&key[..8]),
    ] {
        assert!(!shown.contains(leak), "Debug shows {leak}");
    }
}
