//! Preflight: before any scenario, is the target an S3 service that accepts the root keys?
//!
//! One ListBuckets (`GET /`) signed as the root with aws-sigv4 for the target's region, through
//! the raw client the runner uses, then [`Target::check_admin`] (one cheap root-signed read of
//! the admin API, for adapters that have one). A misconfigured target otherwise runs every
//! scenario and ends in a pile of `error`s and `fail`s (a wrong secret makes every matrix cell
//! `SignatureDoesNotMatch`), which a CI gate would read as a conformance regression.
//!
//! Classification ([`Problem`]): no answer is [`Problem::Unreachable`]; an S3 / STS error
//! that means the root keys or the region are wrong is [`Problem::Credentials`]; an answer
//! that is not S3's (an HTML page, not XML, a 2xx that is not a listing; judged by the
//! body, since some S3 implementations label XML `text/html`) is [`Problem::NotS3`]. Any
//! other S3 error (a target refusing ListBuckets for its own reasons) passes: the scenarios
//! will say what they find. An admin API that is missing (404) or answers garbage is
//! [`Problem::NotS3`] too. All three end the run with exit 3 before a scenario starts.
//!
//! Fixes name where the setting came from ([`Source`]): the file, or the environment variable
//! a root key was read from. `RequestTimeTooSkewed` names the likeliest cause first: a
//! previous run with `clock = true` left the server's test clock ahead (nothing moves it
//! back until the server restarts).
//!
//! Security: messages carry the endpoint, the file and the target's error code and message,
//! never a key or a secret.

use crate::target::http::{host_of, sign_request, HttpClient, HttpResponse, SignSpec};
use crate::target::{RootKeyEnv, Target, TargetError};
use aws_sigv4::http_request::SignatureLocation;
use bytes::Bytes;

/// Why the target is not worth running scenarios on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// No answer at all (connection refused, TLS, timeout).
    Unreachable(String),
    /// The root keys, or the region they are scoped to, are not the server's.
    Credentials(String),
    /// Something answered, but not as S3 does.
    NotS3(String),
    /// The target file declares a capability the target refuses (`clock = true` for a server
    /// without a test clock): a wrong setup, which scenarios would report as broken rules.
    Capability(String),
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::Unreachable(m)
            | Problem::Credentials(m)
            | Problem::NotS3(m)
            | Problem::Capability(m) => f.write_str(m),
        }
    }
}

/// Where a target's settings come from, for the fix a message names.
#[derive(Debug, Clone, Default)]
pub struct Source {
    /// The `--target` file, or "the embedded target".
    pub file: String,
    /// The environment variables the root keys were read from, if they were.
    pub env: RootKeyEnv,
}

impl Source {
    /// Settings that all come from `file` (or a description such as "the embedded target").
    pub fn file(file: impl Into<String>) -> Self {
        Self {
            file: file.into(),
            env: RootKeyEnv::default(),
        }
    }

    /// Settings read from the profile `file`, with the variables its root keys name.
    pub fn profile(file: &std::path::Path) -> Self {
        Self {
            file: file.display().to_string(),
            env: RootKeyEnv::of(file),
        }
    }

    /// Where the root secret came from: `$VAR (\`root_secret_key_env\` in FILE)` or `FILE`.
    fn secret(&self) -> String {
        self.key(self.env.secret_key.as_deref(), "root_secret_key_env")
    }

    fn access_key(&self) -> String {
        self.key(self.env.access_key.as_deref(), "root_access_key_env")
    }

    fn key(&self, var: Option<&str>, setting: &str) -> String {
        match var {
            Some(var) => format!("${var} (`{setting}` in {})", self.file),
            None => self.file.clone(),
        }
    }
}

/// Check `target` once. `source` names where its settings come from (the `--target` file, or
/// "the embedded target") for the fix in the message.
pub async fn check(target: &dyn Target, http: &HttpClient, source: &str) -> Result<(), Problem> {
    check_from(target, http, &Source::file(source)).await
}

/// [`check`], naming in its fixes the environment variables the root keys were read from.
pub async fn check_from(
    target: &dyn Target,
    http: &HttpClient,
    source: &Source,
) -> Result<(), Problem> {
    let endpoint = target.endpoint().trim_end_matches('/');
    let resp = list_buckets(target, http, endpoint).await?;
    classify_s3(&resp, endpoint, target.region(), source)?;
    match target.check_admin().await {
        Ok(()) => Ok(()),
        Err(TargetError::Rejected {
            status,
            code,
            message,
            ..
        }) => {
            match credentials_fix(&code, &message, target.region(), source) {
                Some(fix) => Err(Problem::Credentials(format!(
                    "{endpoint}/_keygate/admin/v1 refused the root keys ({code}: {message}): {fix}"
                ))),
                // An S3 service without the admin API takes the path for a bucket.
                None if status == Some(404) => Err(Problem::NotS3(format!(
                "{endpoint} does not serve Keygate's admin API (GET /_keygate/admin/v1/policies: \
                 404 {code}{}), which a `remote` target needs for provisioning",
                if message.is_empty() { String::new() } else { format!(": {message}") }
            ))),
                None => Ok(()),
            }
        }
        Err(TargetError::Transport(e)) => Err(Problem::NotS3(format!(
            "{endpoint} does not answer Keygate's admin API as expected: {e}"
        ))),
        Err(TargetError::Unsupported(_) | TargetError::Local(_)) => Ok(()),
    }?;
    check_clock(target, source).await
}

/// A target declaring `clock = true` must move its clock: asked to move it by 0 seconds, a
/// server started without a test clock refuses, which the clock scenarios would otherwise
/// report as broken SPEC rules.
async fn check_clock(target: &dyn Target, source: &Source) -> Result<(), Problem> {
    if !target.info().capabilities.clock {
        return Ok(());
    }
    let refused = match target.advance_clock(0).await {
        Ok(()) | Err(TargetError::Unsupported(_)) => return Ok(()),
        Err(TargetError::Rejected { code, message, .. }) => format!("{code}: {message}"),
        Err(e) => e.to_string(),
    };
    Err(Problem::Capability(format!(
        "{} declares `clock = true` under [capabilities], but the target refused to move its \
         clock ({refused}): start the server with --test-clock, or set `clock = false` (the \
         scenarios that move the clock are then skipped)",
        source.file
    )))
}

async fn list_buckets(
    target: &dyn Target,
    http: &HttpClient,
    endpoint: &str,
) -> Result<HttpResponse, Problem> {
    let uri = format!("{endpoint}/");
    let mut req = http::Request::get(&uri)
        .header("host", host_of(endpoint))
        .body(Bytes::new())
        .map_err(|e| Problem::Unreachable(format!("target {endpoint}: building {uri}: {e}")))?;
    sign_request(
        &mut req,
        &SignSpec {
            credentials: target.root(),
            region: target.region(),
            service: "s3",
            time: target.clock().now(),
            location: SignatureLocation::Headers,
            expires_in: None,
            content_sha256_header: true,
            payload_override: None,
        },
    )
    .map_err(|e| Problem::Unreachable(format!("target {endpoint}: signing: {e}")))?;
    http.send(req).await.map_err(|e| {
        let e = format!("{e:#}");
        Problem::Unreachable(format!(
            "target {endpoint} unreachable: {e}{}",
            tls_hint(endpoint, &e)
        ))
    })
}

/// A hint for the TLS failures whose messages do not say what is wrong: an `https://` endpoint
/// whose server speaks plain HTTP (rustls: "corrupt message of type InvalidContentType"), and
/// one whose certificate no trusted CA signed ("UnknownIssuer": the profile's `ca_file`).
fn tls_hint(endpoint: &str, error: &str) -> &'static str {
    if endpoint.starts_with("https://")
        && (error.contains("InvalidContentType") || error.contains("corrupt message"))
    {
        " (the server answered in plain HTTP: is the endpoint http://?)"
    } else if endpoint.starts_with("https://")
        && (error.contains("UnknownIssuer") || error.contains("invalid peer certificate"))
    {
        " (its certificate is signed by a CA this machine does not trust: set `ca_file` in \
         the target profile to that CA's PEM)"
    } else {
        ""
    }
}

/// Judge a root-signed ListBuckets answer.
pub fn classify_s3(
    resp: &HttpResponse,
    endpoint: &str,
    region: &str,
    source: &Source,
) -> Result<(), Problem> {
    let text = resp.text();
    let body = text.trim_start();
    let content_type = resp.header("content-type").unwrap_or("no content-type");
    let not_s3 = || {
        Problem::NotS3(format!(
            "{endpoint} does not answer as S3 (got {} {content_type}: {}); check `endpoint` in {}",
            resp.status,
            excerpt(body),
            source.file
        ))
    };
    // Judged by the body: some S3 implementations (moto) label their XML `text/html`.
    let html = body
        .get(..14)
        .is_some_and(|s| s.eq_ignore_ascii_case("<!doctype html"))
        || body
            .get(..5)
            .is_some_and(|s| s.eq_ignore_ascii_case("<html"));
    if html || !body.starts_with('<') {
        return Err(not_s3());
    }
    if (200..300).contains(&resp.status) {
        return if body.contains("ListAllMyBucketsResult") {
            Ok(())
        } else {
            Err(not_s3())
        };
    }
    let Some(code) = crate::run::outcome::xml_tag(body, "Code") else {
        return Err(not_s3());
    };
    let message = crate::run::outcome::xml_tag(body, "Message")
        .map(|m| unescape(&m))
        .unwrap_or_default();
    match credentials_fix(&code, &message, region, source) {
        Some(fix) => Err(Problem::Credentials(format!(
            "{endpoint} refused the root keys ({code}: {message}): {fix}"
        ))),
        None => Ok(()),
    }
}

/// The fix for an error code that means the root keys or their region are wrong, if it is one.
fn credentials_fix(code: &str, message: &str, region: &str, source: &Source) -> Option<String> {
    let file = &source.file;
    Some(match code {
        "SignatureDoesNotMatch" => {
            format!(
                "the root secret in {} does not match the server's",
                source.secret()
            )
        }
        "InvalidAccessKeyId" | "InvalidClientTokenId" => format!(
            "the root access key in {} is unknown to the server",
            source.access_key()
        ),
        "AccessDenied" => {
            format!("the root keys in {file} are not the server's root (access denied)")
        }
        "AuthorizationHeaderMalformed" if message.to_ascii_lowercase().contains("region") => {
            format!("the region `{region}` in {file} is not the server's")
        }
        "RequestTimeTooSkewed" => "this host's clock and the server's differ by more than \
            SigV4 allows (15 minutes); a previous run with `clock = true` (under \
            `[capabilities]`) may have moved the server's clock forward: restart the server \
            to reset it, else check this host's clock"
            .to_owned(),
        _ => return None,
    })
}

/// XML's five predefined entities, for an error message read without an XML parser.
fn unescape(s: &str) -> String {
    s.replace("&apos;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The start of an answer, on one line, for a message.
fn excerpt(body: &str) -> String {
    let flat: String = body
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let mut words = flat.split_whitespace().collect::<Vec<_>>().join(" ");
    if words.chars().count() > 80 {
        words = words.chars().take(80).collect::<String>() + "…";
    }
    if words.is_empty() {
        "empty body".to_owned()
    } else {
        words
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn https_to_a_plain_http_server_says_so() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // Answers whatever comes in plain HTTP, as a server without TLS does.
        let task = tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                use tokio::io::AsyncWriteExt;
                let _ = sock
                    .write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
                    .await;
            }
        });
        let endpoint = format!("https://{addr}");
        let http = super::HttpClient::new().unwrap();
        let req = http::Request::get(format!("{endpoint}/"))
            .body(bytes::Bytes::new())
            .unwrap();
        let e = format!("{:#}", http.send(req).await.unwrap_err());
        assert_eq!(
            super::tls_hint(&endpoint, &e),
            " (the server answered in plain HTTP: is the endpoint http://?)",
            "the hint matches what the TLS client says: {e}"
        );
        assert_eq!(super::tls_hint(&format!("http://{addr}"), &e), "");
        task.abort();
    }

    /// A certificate no trusted CA signed names the profile key that fixes it (a probe saw
    /// only rustls's "UnknownIssuer").
    #[test]
    fn an_unknown_issuer_points_at_ca_file() {
        let e = "client error (Connect): invalid peer certificate: UnknownIssuer";
        assert!(super::tls_hint("https://s3.example:9000", e).contains("`ca_file`"));
        assert_eq!(super::tls_hint("http://s3.example:9000", e), "");
    }

    use super::*;

    fn resp(status: u16, content_type: &str, body: &str) -> HttpResponse {
        HttpResponse {
            status,
            headers: vec![("content-type".into(), content_type.into())],
            body: Bytes::from(body.to_owned()),
        }
    }

    fn judge(r: &HttpResponse) -> Result<(), Problem> {
        classify_s3(r, "http://h:1", "eu-west-1", &Source::file("t.toml"))
    }

    fn error(code: &str, message: &str) -> HttpResponse {
        resp(
            403,
            "application/xml",
            &format!("<?xml version=\"1.0\"?><Error><Code>{code}</Code><Message>{message}</Message></Error>"),
        )
    }

    #[test]
    fn a_listing_and_unrelated_s3_errors_pass() {
        let ok = "<?xml version=\"1.0\"?><ListAllMyBucketsResult></ListAllMyBucketsResult>";
        assert_eq!(judge(&resp(200, "application/xml", ok)), Ok(()));
        // moto's listing comes as `text/html`; the body decides.
        assert_eq!(judge(&resp(200, "text/html; charset=utf-8", ok)), Ok(()));
        assert_eq!(judge(&error("NotImplemented", "no")), Ok(()));
    }

    #[test]
    fn wrong_keys_and_region_name_the_file_and_the_fix() {
        let Err(Problem::Credentials(m)) = judge(&error("SignatureDoesNotMatch", "bad")) else {
            panic!("not a credentials problem");
        };
        assert!(
            m.contains("the root secret in t.toml does not match the server's"),
            "{m}"
        );
        assert!(m.starts_with("http://h:1 refused the root keys"), "{m}");
        let r = error(
            "AuthorizationHeaderMalformed",
            "the region 'eu-west-1' is wrong; expecting 'us-east-1'",
        );
        let Err(Problem::Credentials(m)) = judge(&r) else {
            panic!("not a credentials problem");
        };
        assert!(
            m.contains("the region `eu-west-1` in t.toml is not the server's"),
            "{m}"
        );
        let skew = error("RequestTimeTooSkewed", "too far");
        let Err(Problem::Credentials(m)) = judge(&skew) else {
            panic!("not a credentials problem");
        };
        assert!(
            m.contains("a previous run with `clock = true`") && m.contains("restart the server"),
            "{m}"
        );
        for code in ["InvalidAccessKeyId", "AccessDenied"] {
            assert!(
                matches!(judge(&error(code, "x")), Err(Problem::Credentials(_))),
                "{code}"
            );
        }
    }

    #[test]
    fn keys_read_from_the_environment_name_the_variable() {
        let source = Source {
            file: "remote.toml".into(),
            env: RootKeyEnv {
                access_key: Some("KG_ACCESS".into()),
                secret_key: Some("KG_SECRET".into()),
            },
        };
        let judge = |r: &HttpResponse| classify_s3(r, "http://h:1", "us-east-1", &source);
        let Err(Problem::Credentials(m)) = judge(&error("SignatureDoesNotMatch", "bad")) else {
            panic!("not a credentials problem");
        };
        assert!(
            m.contains(
                "the root secret in $KG_SECRET (`root_secret_key_env` in remote.toml) does not \
                 match the server's"
            ),
            "{m}"
        );
        let Err(Problem::Credentials(m)) = judge(&error("InvalidAccessKeyId", "who")) else {
            panic!("not a credentials problem");
        };
        assert!(
            m.contains("the root access key in $KG_ACCESS (`root_access_key_env` in remote.toml)"),
            "{m}"
        );
    }

    #[test]
    fn html_or_a_non_listing_is_not_s3() {
        let page = "<!DOCTYPE HTML>\n<html><body><h1>Directory listing</h1></body></html>";
        for r in [
            resp(200, "text/html; charset=utf-8", page),
            resp(404, "text/plain", "404 page not found"),
            resp(200, "application/json", "{}"),
            resp(200, "application/xml", "<other/>"),
            resp(502, "text/xml", "<p>bad gateway</p>"),
        ] {
            let Err(Problem::NotS3(m)) = judge(&r) else {
                panic!("{r:?} passed");
            };
            assert!(
                m.starts_with("http://h:1 does not answer as S3 (got "),
                "{m}"
            );
            assert!(!m.contains('\n'), "{m}");
        }
    }
}
