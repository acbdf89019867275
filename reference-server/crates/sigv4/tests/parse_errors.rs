//! Every secret-free rejection of `parse`, in the SPEC's terms (V1, V3–V6), plus the signature
//! outcomes of `verify`, on requests built by the vector-checked test signer.

mod common;

use common::{hdrs, Req, Signer};
use keygate_sigv4::{
    parse, AuthError, AuthKind, Config, PayloadMode, SecretKey, Service, SigningKeyCache,
};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const NOW: OffsetDateTime = datetime!(2025-01-15 10:00:00 UTC);
const EMPTY: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

fn secret() -> SecretKey {
    SecretKey::from(Signer::s3(NOW).secret)
}

/// A header-signed S3 GET; `edit` may change the headers after signing.
fn header_req(signer: &Signer, target: &str, edit: impl FnOnce(&mut Vec<(String, String)>)) -> Req {
    let mut headers = hdrs(&[
        ("host", "bucket.s3.amazonaws.com"),
        ("x-amz-content-sha256", EMPTY),
    ]);
    signer.sign_headers("GET", target, &mut headers, EMPTY, None);
    edit(&mut headers);
    Req::new("GET", target, &headers)
}

fn presigned(signer: &Signer, expires: u64) -> String {
    let headers = hdrs(&[("host", "bucket.s3.amazonaws.com")]);
    signer.presign(
        "GET",
        "/bucket/key",
        &headers,
        expires,
        "host",
        "UNSIGNED-PAYLOAD",
    )
}

fn query_req(target: &str) -> Req {
    Req::new("GET", target, &hdrs(&[("host", "bucket.s3.amazonaws.com")]))
}

/// `parse` then `verify`, reduced to the outcome.
fn outcome(req: &Req, now: OffsetDateTime) -> Result<(), AuthError> {
    let pending = parse(&req.view(), now, &Config::default())?.expect("signed request");
    pending
        .verify(&secret(), &SigningKeyCache::new(4), None)
        .map(|_| ())
}

fn code(req: &Req, now: OffsetDateTime) -> (&'static str, u16) {
    let e = outcome(req, now).expect_err("must be rejected");
    (e.code(), e.http_status())
}

#[test]
fn valid_requests_verify() {
    let signer = Signer::s3(NOW);
    let req = header_req(
        &signer,
        "/bucket/my%20key/a%2Fb?list-type=2&prefix=a%2Fb&x=a+b",
        |_| {},
    );
    let p = parse(&req.view(), NOW, &Config::default())
        .unwrap()
        .unwrap();
    assert_eq!(
        (p.access_key(), p.service(), p.kind()),
        ("AKIDEXAMPLE", Service::S3, AuthKind::Header)
    );
    assert_eq!(
        *p.payload(),
        PayloadMode::Sha256(hex::decode(EMPTY).unwrap().try_into().unwrap())
    );
    let v = p.verify(&secret(), &SigningKeyCache::new(4), None).unwrap();
    assert_eq!(
        (v.access_key(), v.has_session_token(), v.signed_at()),
        ("AKIDEXAMPLE", false, NOW)
    );

    let req = query_req(&presigned(&signer, 3600));
    let p = parse(&req.view(), NOW, &Config::default())
        .unwrap()
        .unwrap();
    assert_eq!(
        (p.kind(), *p.payload()),
        (AuthKind::Query, PayloadMode::Unsigned)
    );
    p.verify(&secret(), &SigningKeyCache::new(4), None).unwrap();

    // Anonymous.
    assert!(parse(
        &query_req("/bucket/key?acl").view(),
        NOW,
        &Config::default()
    )
    .unwrap()
    .is_none());
    // Within the skew either way, and at the presign edges.
    outcome(
        &header_req(&signer, "/b/k", |_| {}),
        NOW + Duration::minutes(14),
    )
    .unwrap();
    outcome(
        &header_req(&signer, "/b/k", |_| {}),
        NOW - Duration::minutes(14),
    )
    .unwrap();
    outcome(
        &query_req(&presigned(&signer, 604_800)),
        NOW + Duration::days(7),
    )
    .unwrap();
    outcome(
        &query_req(&presigned(&signer, 1)),
        NOW - Duration::minutes(14),
    )
    .unwrap();
}

#[test]
fn session_tokens_travel_in_header_or_query() {
    let mut signer = Signer::s3(NOW);
    signer.token = Some("tok/en+=".into());
    let req = header_req(&signer, "/b/k", |_| {});
    let p = parse(&req.view(), NOW, &Config::default())
        .unwrap()
        .unwrap();
    assert_eq!(p.session_token(), Some("tok/en+="));
    let v = p.verify(&secret(), &SigningKeyCache::new(4), None).unwrap();
    assert!(v.has_session_token());
    let req = query_req(&presigned(&signer, 60));
    let p = parse(&req.view(), NOW, &Config::default())
        .unwrap()
        .unwrap();
    assert_eq!(p.session_token(), Some("tok/en+="));
    p.verify(&secret(), &SigningKeyCache::new(4), None).unwrap();
    // A presigned URL with a signed x-amz-security-token header as well: the same token is no
    // conflict; another is refused (regression: the query's was used, the header's ignored).
    for (header, ok) in [("tok/en+=", true), ("other", false)] {
        let headers = hdrs(&[
            ("host", "bucket.s3.amazonaws.com"),
            ("x-amz-security-token", header),
        ]);
        let signed = "host;x-amz-security-token";
        let url = signer.presign(
            "GET",
            "/bucket/key",
            &headers,
            60,
            signed,
            "UNSIGNED-PAYLOAD",
        );
        let got = outcome(&Req::new("GET", &url, &headers), NOW);
        match ok {
            true => got.unwrap(),
            false => assert_eq!(got.unwrap_err().code(), "AuthorizationQueryParametersError"),
        }
    }
}

#[test]
fn sts_post_without_content_hash_signs_the_body() {
    let mut signer = Signer::s3(NOW);
    signer.service = "sts".into();
    signer.uri = keygate_sigv4::canonical::UriEncoding::Generic { normalize: true };
    let body = b"Action=AssumeRole&Version=2011-06-15";
    let body_hash: [u8; 32] = <sha2::Sha256 as sha2::Digest>::digest(body).into();
    let mut headers = hdrs(&[
        ("host", "localhost:9000"),
        (
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        ),
    ]);
    signer.sign_headers("POST", "/", &mut headers, &hex::encode(body_hash), None);
    let req = Req::new("POST", "/", &headers);
    let p = parse(&req.view(), NOW, &Config::default())
        .unwrap()
        .unwrap();
    assert_eq!(
        (p.service(), *p.payload()),
        (Service::Sts, PayloadMode::Absent)
    );
    let cache = SigningKeyCache::new(4);
    let p2 = parse(&req.view(), NOW, &Config::default())
        .unwrap()
        .unwrap();
    assert_eq!(
        p.verify(&secret(), &cache, Some(body_hash))
            .unwrap()
            .service(),
        Service::Sts
    );
    let other: [u8; 32] = <sha2::Sha256 as sha2::Digest>::digest(b"Action=Other").into();
    assert_eq!(
        p2.verify(&secret(), &cache, Some(other)).unwrap_err(),
        AuthError::SignatureDoesNotMatch
    );
}

#[test]
fn date_header_is_accepted_instead_of_x_amz_date() {
    let signer = Signer::s3(NOW);
    let req = header_req(&signer, "/b/k", |h| {
        h.retain(|(n, _)| n != "X-Amz-Date");
        h.push(("date".into(), "Wed, 15 Jan 2025 10:00:00 GMT".into()));
    });
    // Signed with x-amz-date in the list but sent with Date: parse accepts the date,
    // the signature then fails on the missing header.
    assert_eq!(code(&req, NOW), ("SignatureDoesNotMatch", 403));
    let mut headers = hdrs(&[("host", "h"), ("date", "Wed, 15 Jan 2025 10:00:00 GMT")]);
    signer.sign_headers("GET", "/b/k", &mut headers, EMPTY, Some("date;host"));
    headers.retain(|(n, _)| n != "X-Amz-Date");
    outcome(&Req::new("GET", "/b/k", &headers), NOW).unwrap();
}

#[test]
fn signature_mismatches() {
    let signer = Signer::s3(NOW);
    let tampered = header_req(&signer, "/b/k", |h| {
        let a = &mut h.last_mut().unwrap().1;
        let last = a.pop().unwrap();
        a.push(if last == '0' { '1' } else { '0' });
    });
    assert_eq!(code(&tampered, NOW), ("SignatureDoesNotMatch", 403));
    let mut wrong = Signer::s3(NOW);
    wrong.secret = "not-the-secret".into();
    assert_eq!(
        code(&header_req(&wrong, "/b/k", |_| {}), NOW),
        ("SignatureDoesNotMatch", 403)
    );
    let other_path = header_req(&signer, "/b/k", |_| {});
    let moved = Req {
        uri: "/b/k2".parse().unwrap(),
        ..other_path
    };
    assert_eq!(code(&moved, NOW), ("SignatureDoesNotMatch", 403));
    let url = presigned(&signer, 60).replace("/bucket/key", "/bucket/other");
    assert_eq!(code(&query_req(&url), NOW), ("SignatureDoesNotMatch", 403));
    // The message never echoes a signature.
    let e = outcome(&tampered, NOW).unwrap_err();
    assert!(!e
        .message()
        .chars()
        .any(|c| c.is_ascii_hexdigit() && c.is_ascii_digit()));
}

#[test]
fn sigv2_algorithm_and_duplicate_auth_are_invalid_request() {
    let signer = Signer::s3(NOW);
    let v2 = Req::new(
        "GET",
        "/b/k",
        &hdrs(&[("host", "h"), ("authorization", "AWS AKID:c2lnbmF0dXJl")]),
    );
    assert_eq!(code(&v2, NOW), ("InvalidRequest", 400));
    let v2q = query_req("/b/k?AWSAccessKeyId=AKID&Expires=1700000000&Signature=abc%3D");
    assert_eq!(code(&v2q, NOW), ("InvalidRequest", 400));
    let alg = header_req(&signer, "/b/k", |h| {
        let a = &mut h.last_mut().unwrap().1;
        *a = a.replace("AWS4-HMAC-SHA256", "AWS4-HMAC-SHA512");
    });
    assert_eq!(code(&alg, NOW), ("InvalidRequest", 400));
    // Presigned, the algorithm is a query parameter like the others (V6).
    for alg in ["AWS4-ECDSA-P256-SHA256", "AWS4-HMAC-SHA512"] {
        let url = presigned(&signer, 60).replace(
            "X-Amz-Algorithm=AWS4-HMAC-SHA256",
            &format!("X-Amz-Algorithm={alg}"),
        );
        let e = outcome(&query_req(&url), NOW).unwrap_err();
        assert_eq!(
            (e.code(), e.http_status()),
            ("AuthorizationQueryParametersError", 400)
        );
        assert!(e.message().contains("X-Amz-Algorithm"), "{e}");
    }
    let both = header_req(&signer, &presigned(&signer, 60), |_| {});
    assert_eq!(code(&both, NOW), ("InvalidRequest", 400));
}

#[test]
fn malformed_authorization_header() {
    let signer = Signer::s3(NOW);
    let with = |f: &dyn Fn(&str) -> String| {
        header_req(&signer, "/b/k", |h| {
            let a = &mut h.last_mut().unwrap().1;
            *a = f(a);
        })
    };
    type Edit = Box<dyn Fn(&str) -> String>;
    let cases: Vec<Edit> = vec![
        Box::new(|a| a.split(", Signature=").next().unwrap().to_owned()),
        Box::new(|a| a.replace("SignedHeaders=", "Signedheaders=")),
        Box::new(|a| a.replace("Credential=AKIDEXAMPLE/", "Credential=")),
        Box::new(|a| a.replace("/aws4_request", "/aws4_reqest")),
        Box::new(|a| a.replace("/20250115/", "/2025011/")),
        Box::new(|a| a.replace("/20250115/", "/20250114/")),
        Box::new(|a| format!("{a}, Signature=00")),
        Box::new(|a| a.replace("Signature=", "Signature=zz")),
        Box::new(|a| a.replace("SignedHeaders=", "SignedHeaders=;")),
        Box::new(|_| "AWS4-HMAC-SHA256".to_owned()),
        Box::new(|_| String::new()),
    ];
    for (i, f) in cases.iter().enumerate() {
        assert_eq!(
            code(&with(f.as_ref()), NOW),
            ("AuthorizationHeaderMalformed", 400),
            "case {i}"
        );
    }
}

#[test]
fn region_and_service_must_be_ours() {
    let mut signer = Signer::s3(NOW);
    signer.region = "eu-west-1".into();
    let e = outcome(&header_req(&signer, "/b/k", |_| {}), NOW).unwrap_err();
    assert_eq!(
        (e.code(), e.http_status()),
        ("AuthorizationHeaderMalformed", 400)
    );
    assert!(e.message().contains("us-east-1"));
    // Presigned, the scope is the X-Amz-Credential parameter's.
    let e = outcome(&query_req(&presigned(&signer, 60)), NOW).unwrap_err();
    assert_eq!(
        (e.code(), e.http_status()),
        ("AuthorizationQueryParametersError", 400)
    );
    assert!(
        e.message().contains("X-Amz-Credential") && e.message().contains("us-east-1"),
        "{e}"
    );
    let mut signer = Signer::s3(NOW);
    signer.service = "ec2".into();
    assert_eq!(
        code(&header_req(&signer, "/b/k", |_| {}), NOW),
        ("AuthorizationHeaderMalformed", 400)
    );
    let e = outcome(&query_req(&presigned(&signer, 60)), NOW).unwrap_err();
    assert_eq!(e.code(), "AuthorizationQueryParametersError");
    assert!(e.message().contains("X-Amz-Credential"), "{e}");
    // A scope date other than X-Amz-Date's day.
    let url = presigned(&Signer::s3(NOW), 60).replace("%2F20250115%2F", "%2F20250114%2F");
    let e = outcome(&query_req(&url), NOW).unwrap_err();
    assert_eq!(e.code(), "AuthorizationQueryParametersError");
    assert!(e.message().contains("X-Amz-Credential"), "{e}");
    // Another configured region is honoured.
    let cfg = Config {
        region: "eu-west-1".into(),
        ..Config::default()
    };
    let mut signer = Signer::s3(NOW);
    signer.region = "eu-west-1".into();
    let req = header_req(&signer, "/b/k", |_| {});
    assert!(parse(&req.view(), NOW, &cfg).unwrap().is_some());
}

#[test]
fn dates_skew_and_presign_window() {
    let signer = Signer::s3(NOW);
    let no_date = header_req(&signer, "/b/k", |h| h.retain(|(n, _)| n != "X-Amz-Date"));
    assert_eq!(code(&no_date, NOW), ("AccessDenied", 403));
    let bad_date = header_req(&signer, "/b/k", |h| {
        h.iter_mut().find(|(n, _)| n == "X-Amz-Date").unwrap().1 = "2025-01-15T10:00:00Z".into();
    });
    assert_eq!(code(&bad_date, NOW), ("AccessDenied", 403));
    let req = header_req(&signer, "/b/k", |_| {});
    assert_eq!(
        code(&req, NOW + Duration::minutes(16)),
        ("RequestTimeTooSkewed", 403)
    );
    assert_eq!(
        code(&req, NOW - Duration::minutes(16)),
        ("RequestTimeTooSkewed", 403)
    );
    // The edges, to the nanosecond: fifteen minutes either way is accepted, a nanosecond more
    // is not; a presigned URL is valid through its last second, and not a nanosecond after.
    let skew = Duration::minutes(15);
    let ns = Duration::nanoseconds(1);
    for now in [NOW + skew, NOW - skew] {
        assert!(outcome(&req, now).is_ok(), "{now}");
    }
    for now in [NOW + skew + ns, NOW - skew - ns] {
        assert_eq!(code(&req, now), ("RequestTimeTooSkewed", 403), "{now}");
    }
    let url = query_req(&presigned(&signer, 60));
    assert!(outcome(&url, NOW + Duration::seconds(60)).is_ok());
    assert!(matches!(
        outcome(&url, NOW + Duration::seconds(60) + ns),
        Err(AuthError::PresignExpired)
    ));
    assert!(outcome(&url, NOW - skew).is_ok());
    assert!(matches!(
        outcome(&url, NOW - skew - ns),
        Err(AuthError::PresignNotYetValid)
    ));
    // Skew is checked before the key: a wrong secret still reports the skew.
    let mut wrong = Signer::s3(NOW);
    wrong.secret = "x".into();
    let req = header_req(&wrong, "/b/k", |_| {});
    assert_eq!(
        code(&req, NOW + Duration::hours(1)),
        ("RequestTimeTooSkewed", 403)
    );

    let url = presigned(&signer, 60);
    let e = outcome(&query_req(&url), NOW + Duration::seconds(61)).unwrap_err();
    assert_eq!(
        (e.code(), e.message().as_str()),
        ("AccessDenied", "Request has expired")
    );
    let e = outcome(&query_req(&url), NOW - Duration::minutes(16)).unwrap_err();
    assert_eq!(e.code(), "AccessDenied");
    // Unparseable: 403 in a header (V3), but a bad parameter in a presigned URL (V6).
    for date in ["notadate", "2025-01-15T10:00:00Z", "20250115T100000"] {
        let bad = url.replace("X-Amz-Date=20250115T100000Z", &format!("X-Amz-Date={date}"));
        let e = outcome(&query_req(&bad), NOW).unwrap_err();
        assert_eq!(
            (e.code(), e.http_status()),
            ("AuthorizationQueryParametersError", 400),
            "{date}"
        );
        assert!(e.message().contains("X-Amz-Date"), "{e}");
    }
    // The far edge of the calendar neither panics nor passes.
    let url = presigned(&signer, 604_800)
        .replace("X-Amz-Date=20250115T100000Z", "X-Amz-Date=99991231T235959Z");
    assert_eq!(code(&query_req(&url), NOW), ("AccessDenied", 403));
    let req = header_req(&signer, "/b/k", |h| {
        h.iter_mut().find(|(n, _)| n == "X-Amz-Date").unwrap().1 = "99991231T235959Z".into();
    });
    assert_eq!(code(&req, NOW), ("RequestTimeTooSkewed", 403));
}

#[test]
fn presign_parameters() {
    let signer = Signer::s3(NOW);
    let url = presigned(&signer, 60);
    for name in [
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-Date",
        "X-Amz-Expires",
        "X-Amz-SignedHeaders",
        "X-Amz-Signature",
    ] {
        let (path, q) = url.split_once('?').unwrap();
        let kept: Vec<&str> = q
            .split('&')
            .filter(|p| !p.starts_with(&format!("{name}=")))
            .collect();
        let req = query_req(&format!("{path}?{}", kept.join("&")));
        assert_eq!(
            code(&req, NOW),
            ("AuthorizationQueryParametersError", 400),
            "without {name}"
        );
    }
    for expires in [
        "0",
        "604801",
        "-1",
        "abc",
        "",
        "+5",
        "%2B5",
        "5%20",
        "99999999999999999999",
    ] {
        let bad = url.replace("X-Amz-Expires=60", &format!("X-Amz-Expires={expires}"));
        assert_eq!(
            code(&query_req(&bad), NOW),
            ("AuthorizationQueryParametersError", 400),
            "{expires}"
        );
    }
    let bad = url.replace("%2Faws4_request", "%2Fbad");
    let e = outcome(&query_req(&bad), NOW).unwrap_err();
    assert_eq!(
        (e.code(), e.http_status()),
        ("AuthorizationQueryParametersError", 400)
    );
    assert!(e.message().contains("X-Amz-Credential"), "{e}");
}

/// A header the checks read sent twice is refused, not read by its first value while the
/// signature covers both joined: whichever value is valid, and signed as sent.
#[test]
fn headers_read_for_authentication_come_once() {
    let signer = Signer::s3(NOW);
    // Two more values: a header the request had is then sent thrice, another twice.
    let twice = |name: &str, value: &str| {
        header_req(&signer, "/b/k", |h| {
            h.push((name.to_owned(), value.to_owned()));
            h.push((name.to_owned(), value.to_owned()));
        })
    };
    let good = header_req(&signer, "/b/k", |_| {});
    outcome(&good, NOW).unwrap();
    let e = outcome(&twice("authorization", "garbage"), NOW).unwrap_err();
    assert_eq!(
        (e.code(), e.http_status()),
        ("AuthorizationHeaderMalformed", 400)
    );
    // The valid one second.
    let second = header_req(&signer, "/b/k", |h| {
        h.insert(h.len() - 1, ("authorization".into(), "garbage".into()));
    });
    assert_eq!(code(&second, NOW), ("AuthorizationHeaderMalformed", 400));
    for (name, value) in [
        ("x-amz-date", "20250115T110000Z"),
        ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
        ("x-amz-security-token", "t"),
        ("x-amz-decoded-content-length", "5"),
        ("host", "other"),
        ("date", "Wed, 15 Jan 2025 10:00:00 GMT"),
    ] {
        let e = outcome(&twice(name, value), NOW).unwrap_err();
        assert_eq!(
            (e.code(), e.http_status()),
            ("InvalidArgument", 400),
            "{name}"
        );
        assert!(e.message().contains(name), "{e}");
    }
    // Signed over both values (as a client joining them would), still refused.
    let mut headers = hdrs(&[
        ("host", "bucket.s3.amazonaws.com"),
        ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
        ("x-amz-content-sha256", EMPTY),
    ]);
    signer.sign_headers("PUT", "/b/k", &mut headers, "UNSIGNED-PAYLOAD", None);
    let e = outcome(&Req::new("PUT", "/b/k", &headers), NOW).unwrap_err();
    assert_eq!(e, AuthError::RepeatedHeader("x-amz-content-sha256"));
    // Presigned too.
    let url = presigned(&signer, 60);
    let req = Req::new(
        "GET",
        &url,
        &hdrs(&[("host", "bucket.s3.amazonaws.com"), ("host", "b")]),
    );
    assert_eq!(code(&req, NOW), ("InvalidArgument", 400));
    // Other headers may repeat.
    outcome(
        &header_req(&signer, "/b/k", |h| {
            h.push(("user-agent".into(), "a".into()));
            h.push(("user-agent".into(), "b".into()));
        }),
        NOW,
    )
    .unwrap();
}

/// A signed request without `Host` would be checked with `host` signed as empty.
#[test]
fn a_signed_request_needs_a_host_header() {
    let signer = Signer::s3(NOW);
    // Signed without one, `host` still in the list; the general reading of the list
    // (uppercase names) agrees.
    for list in [
        "host;x-amz-content-sha256;x-amz-date",
        "Host;x-amz-content-sha256;x-amz-date",
    ] {
        let mut headers = hdrs(&[("x-amz-content-sha256", EMPTY)]);
        signer.sign_headers("GET", "/b/k", &mut headers, EMPTY, Some(list));
        let req = Req::new("GET", "/b/k", &headers);
        assert_eq!(
            outcome(&req, NOW).unwrap_err(),
            AuthError::MissingHost,
            "{list}"
        );
    }
    // Not signed and not sent: still the missing header (400), not the unsigned one.
    let req = header_req(&signer, "/b/k", |h| h.retain(|(n, _)| n != "host"));
    assert_eq!(code(&req, NOW), ("InvalidArgument", 400));
    // Presigned.
    let req = Req::new("GET", &presigned(&signer, 60), &[]);
    assert_eq!(outcome(&req, NOW).unwrap_err(), AuthError::MissingHost);
}

#[test]
fn signed_header_rules() {
    let signer = Signer::s3(NOW);
    let mut headers = hdrs(&[("host", "h"), ("x-amz-content-sha256", EMPTY)]);
    signer.sign_headers(
        "GET",
        "/b/k",
        &mut headers,
        EMPTY,
        Some("x-amz-content-sha256;x-amz-date"),
    );
    assert_eq!(
        code(&Req::new("GET", "/b/k", &headers), NOW),
        ("AccessDenied", 403)
    );
    let extra = header_req(&signer, "/b/k", |h| {
        h.push(("x-amz-meta-added".into(), "later".into()))
    });
    assert_eq!(code(&extra, NOW), ("AccessDenied", 403));
    // A header outside x-amz-* may be added unsigned.
    outcome(
        &header_req(&signer, "/b/k", |h| {
            h.push(("user-agent".into(), "x".into()))
        }),
        NOW,
    )
    .unwrap();
    // Presigned too: an x-amz-* header must be signed.
    let url = presigned(&signer, 60);
    let req = Req::new(
        "GET",
        &url,
        &hdrs(&[
            ("host", "bucket.s3.amazonaws.com"),
            ("x-amz-acl", "public-read"),
        ]),
    );
    assert_eq!(code(&req, NOW), ("AccessDenied", 403));
}

#[test]
fn content_sha256_forms() {
    let signer = Signer::s3(NOW);
    for (value, mode) in [
        ("UNSIGNED-PAYLOAD", PayloadMode::Unsigned),
        (
            "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
            PayloadMode::StreamingSigned,
        ),
        (
            "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
            PayloadMode::StreamingUnsignedTrailer,
        ),
        (
            "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
            PayloadMode::StreamingSignedTrailer,
        ),
    ] {
        let mut headers = hdrs(&[("host", "h"), ("x-amz-content-sha256", value)]);
        signer.sign_headers("PUT", "/b/k", &mut headers, value, None);
        let req = Req::new("PUT", "/b/k", &headers);
        let p = parse(&req.view(), NOW, &Config::default())
            .unwrap()
            .unwrap();
        assert_eq!(*p.payload(), mode);
        p.verify(&secret(), &SigningKeyCache::new(1), None).unwrap();
    }
    for value in ["garbage", "STREAMING-AWS4-HMAC-SHA256-EVENTS", &EMPTY[1..]] {
        let mut headers = hdrs(&[("host", "h"), ("x-amz-content-sha256", value)]);
        signer.sign_headers("PUT", "/b/k", &mut headers, value, None);
        assert_eq!(
            code(&Req::new("PUT", "/b/k", &headers), NOW),
            ("InvalidArgument", 400),
            "{value}"
        );
    }
}

#[test]
fn every_error_has_a_wire_code_and_status() {
    let all = [
        AuthError::SigV2NotSupported,
        AuthError::UnsupportedAlgorithm,
        AuthError::DuplicateAuth,
        AuthError::MalformedAuthorization("x"),
        AuthError::WrongRegion {
            expected: "us-east-1".into(),
        },
        AuthError::WrongService,
        AuthError::MalformedPresign("x"),
        AuthError::BadPresignParameter("x".into()),
        AuthError::RepeatedHeader("x-amz-date"),
        AuthError::MissingHost,
        AuthError::MissingDate,
        AuthError::MalformedDate,
        AuthError::RequestTimeTooSkewed,
        AuthError::PresignExpired,
        AuthError::PresignNotYetValid,
        AuthError::HostNotSigned,
        AuthError::UnsignedAmzHeader,
        AuthError::InvalidContentSha256,
        AuthError::SignatureDoesNotMatch,
        AuthError::ContentSha256Mismatch,
        AuthError::BadDigest,
        AuthError::InvalidDigest,
        AuthError::IncompleteBody,
        AuthError::MalformedChunkedBody("x"),
        AuthError::NotChunked,
    ];
    for e in all {
        assert!(matches!(e.http_status(), 400 | 403), "{e:?}");
        assert!(!e.code().is_empty() && !e.message().is_empty());
        assert!(e.to_string().starts_with(e.code()));
    }
    assert_eq!(
        AuthError::ContentSha256Mismatch.code(),
        "XAmzContentSHA256Mismatch"
    );
}

/// `parse` then, when it passes, `verify`: any outcome but a panic is fine.
fn exercise(req: &Req) {
    if let Ok(Some(p)) = parse(&req.view(), NOW, &Config::default()) {
        let _ = (p.access_key(), p.session_token(), p.canonical_request(None));
        let _ = p.verify(&secret(), &SigningKeyCache::new(1), None);
    }
}

/// Mutated Authorization headers and presigned queries: `parse` and `verify` never panic.
#[test]
fn mutated_requests_never_panic() {
    const BYTES: &[u8] = b"AWS4-HMAC-SHA256 Credential=/,;= %2F0123456789abcdefXZ\t+&?";
    let signer = Signer::s3(NOW);
    let good = header_req(&signer, "/b/k?x=1", |_| {});
    let authz = good.headers["authorization"].as_bytes().to_vec();
    let url = presigned(&signer, 60);
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for _ in 0..2000 {
        let mut a = authz.clone();
        let mut u = url.clone().into_bytes();
        for _ in 0..1 + next() % 4 {
            let b = BYTES[(next() % BYTES.len() as u64) as usize];
            let (r, alen, ulen) = (next(), a.len().max(1) as u64, u.len() as u64);
            match next() % 3 {
                0 if !a.is_empty() => a[(r % alen) as usize] = b,
                1 => a.truncate((r % alen) as usize),
                _ => u[(r % ulen) as usize] = if b == b' ' || b == b'\t' { b'_' } else { b },
            }
        }
        let mut req = Req::new("GET", "/b/k?x=1", &[]);
        req.headers = good.headers.clone();
        if let Ok(v) = http::HeaderValue::from_bytes(&a) {
            req.headers.insert("authorization", v);
            exercise(&req);
        }
        if let Ok(uri) = std::str::from_utf8(&u).unwrap_or("/").parse::<http::Uri>() {
            let q = Req {
                uri,
                ..query_req("/")
            };
            exercise(&q);
        }
    }
}
