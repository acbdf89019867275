//! Verification builds the canonical request from what parsing prepared (signed header values,
//! query spans) and falls back to the general builders when a request does not fit. This
//! differential test runs every AWS vector request, re-scoped to `s3`, through both and
//! requires the same canonical request, and adds the shapes that force each fallback.

mod common;

use common::{read, vectors_dir, RawRequest, Req};
use keygate_sigv4::canonical::{self, CanonicalInput, UriEncoding};
use keygate_sigv4::{parse, Config};
use std::path::Path;

/// `Credential=` (header) or `X-Amz-Credential=` (query) re-scoped to `us-east-1/s3`.
fn rescope(text: &str, field: &str, sep: char, date8: &str, slash: &str) -> Option<String> {
    let at = text.find(field)? + field.len();
    let end = text[at..].find(sep).map_or(text.len(), |e| at + e);
    let scope = ["AKIDEXAMPLE", date8, "us-east-1", "s3", "aws4_request"].join(slash);
    Some(format!("{}{scope}{}", &text[..at], &text[end..]))
}

/// The canonical request without its payload line (which depends on the payload rules only).
fn without_payload(creq: &[u8]) -> &[u8] {
    let cut = creq.iter().rposition(|&b| b == b'\n').unwrap_or(0);
    &creq[..cut]
}

/// Parses `raw` and compares both builders; `None` when the request does not parse.
fn compare(name: &str, raw: &RawRequest, presigned: bool) -> Option<()> {
    let req = std::panic::catch_unwind(|| Req::new(&raw.method, &raw.target, &raw.headers)).ok()?;
    let date = raw.header("X-Amz-Date").map(str::to_owned).or_else(|| {
        let q = raw.query();
        let d = q.split('&').find_map(|p| p.strip_prefix("X-Amz-Date="))?;
        Some(d.to_owned())
    })?;
    let now = keygate_sigv4::parse::parse_amz_date(date.trim())?;
    let pending = parse(&req.view(), now, &Config::default()).ok()??;
    let fast = pending.canonical_request(None);
    let mut general = Vec::new();
    canonical::canonical_request(
        &mut general,
        &CanonicalInput {
            method: req.method.as_str(),
            path: req.uri.path(),
            query: req.uri.query().unwrap_or(""),
            headers: &req.headers,
            signed_headers: &signed_list(raw, presigned)?,
            payload_hash: "",
            uri: UriEncoding::S3,
            presigned,
            host_fallback: req.uri.authority().map(|a| a.as_str()),
        },
    );
    assert_eq!(
        String::from_utf8_lossy(without_payload(&fast)),
        String::from_utf8_lossy(without_payload(&general)),
        "{name}"
    );
    Some(())
}

/// Request headers as (name, value) pairs.
type Headers = Vec<(String, String)>;

fn signed_list(raw: &RawRequest, presigned: bool) -> Option<String> {
    if presigned {
        let q = raw.query();
        let v = q
            .split('&')
            .find_map(|p| p.strip_prefix("X-Amz-SignedHeaders="))?;
        return Some(v.replace("%3B", ";").replace("%3b", ";"));
    }
    let authz = raw.header("Authorization")?;
    let at = authz.find("SignedHeaders=")? + "SignedHeaders=".len();
    let end = authz[at..].find(',').map_or(authz.len(), |e| at + e);
    Some(authz[at..end].trim().to_owned())
}

fn header_form(mut raw: RawRequest, date8: &str) -> Option<RawRequest> {
    let authz = raw
        .headers
        .iter_mut()
        .find(|(n, _)| n.eq_ignore_ascii_case("authorization"))?;
    authz.1 = rescope(&authz.1, "Credential=", ',', date8, "/")?;
    Some(raw)
}

fn query_form(mut raw: RawRequest, date8: &str) -> Option<RawRequest> {
    raw.target = rescope(&raw.target, "X-Amz-Credential=", '&', date8, "%2F")?;
    Some(raw)
}

fn date8(raw: &RawRequest) -> String {
    let from_query = raw
        .query()
        .split('&')
        .find_map(|p| p.strip_prefix("X-Amz-Date="));
    let d = raw.header("X-Amz-Date").or(from_query).unwrap_or("");
    d.trim().chars().take(8).collect()
}

fn walk(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            walk(&p, out);
        } else {
            out.push(p);
        }
    }
}

#[test]
fn every_vector_request_gives_the_same_canonical_request_both_ways() {
    let mut files = Vec::new();
    walk(&vectors_dir().join("sigv4"), &mut files);
    files.sort();
    let mut compared = 0;
    for f in &files {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let presigned = name.starts_with("query-signed-request");
        if !(name.ends_with(".sreq") || name.starts_with("header-signed-request") || presigned) {
            continue;
        }
        let raw = RawRequest::parse(&read(f));
        let d = date8(&raw);
        let raw = match presigned {
            true => query_form(raw, &d),
            false => header_form(raw, &d),
        };
        if let Some(raw) = raw {
            compared += usize::from(compare(&f.display().to_string(), &raw, presigned).is_some());
        }
    }
    // 186 files, of which 72 are SigV4a (refused) and a few unparseable targets.
    assert!(compared >= 100, "only {compared} vector requests compared");
}

#[test]
fn shapes_outside_the_prepared_form_fall_back_exactly() {
    let sig = "0".repeat(64);
    let auth = |signed: &str| {
        format!(
            "AWS4-HMAC-SHA256 Credential=AK/20250115/us-east-1/s3/aws4_request, \
             SignedHeaders={signed}, Signature={sig}"
        )
    };
    let base = [
        ("host", "h"),
        ("x-amz-date", "20250115T100000Z"),
        ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
    ];
    let mut many: Vec<(String, String)> = (0..20)
        .map(|i| (format!("x-amz-meta-m{i:02}"), format!(" v  {i} ")))
        .collect();
    many.sort();
    let many_names: Vec<&str> = many.iter().map(|(n, _)| n.as_str()).collect();
    let many_list = format!(
        "host;{};x-amz-content-sha256;x-amz-date",
        many_names.join(";")
    );
    let params: Vec<String> = (0..20).map(|i| format!("p{i}=v{i}")).collect();
    let cases: Vec<(&str, String, Headers)> = vec![
        (
            "uppercase names",
            "/b/k".into(),
            vec![(
                "Authorization".into(),
                auth("Host;X-Amz-Content-Sha256;X-Amz-Date"),
            )],
        ),
        (
            "a repeated header",
            "/b/k".into(),
            vec![
                ("x-amz-meta-a".into(), " one ".into()),
                ("x-amz-meta-a".into(), "two  words".into()),
                (
                    "authorization".into(),
                    auth("host;x-amz-content-sha256;x-amz-date;x-amz-meta-a"),
                ),
            ],
        ),
        ("more than 16 signed headers", "/b/k".into(), {
            let mut h = many.clone();
            h.push(("authorization".into(), auth(&many_list)));
            h
        }),
        (
            "more than 16 query parameters",
            format!("/b/k?{}", params.join("&")),
            vec![(
                "authorization".into(),
                auth("host;x-amz-content-sha256;x-amz-date"),
            )],
        ),
        (
            "a query to re-encode",
            "/b/k?b=%2f&a=x+y&c=*".into(),
            vec![(
                "authorization".into(),
                auth("host;x-amz-content-sha256;x-amz-date"),
            )],
        ),
        (
            "a path to re-encode",
            "/b/a%2fb/$x".into(),
            vec![(
                "authorization".into(),
                auth("host;x-amz-content-sha256;x-amz-date;x-amz-missing"),
            )],
        ),
    ];
    for (name, target, extra) in cases {
        let mut headers: Vec<(String, String)> = base
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect();
        headers.extend(extra);
        let raw = RawRequest {
            method: "GET".into(),
            target,
            headers,
            body: Vec::new(),
        };
        assert!(
            compare(name, &raw, false).is_some(),
            "{name}: did not parse"
        );
    }
}
