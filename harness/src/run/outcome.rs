//! What a step observed: the [`Outcome`] of one call, whichever way it was made (aws-sdk-s3,
//! aws-sdk-sts, the admin adapter, or a raw request), normalised so expectations read the same.
//!
//! SDK calls are observed through a per-call [`Capture`] interceptor, so a success carries the
//! real status line and headers, and a failure its raw error body. Session tokens are redacted
//! from request excerpts; secrets never reach the harness's HTTP layer in clear.

use crate::target::TargetError;
use aws_sdk_s3::config::interceptors::{
    AfterDeserializationInterceptorContextRef, BeforeDeserializationInterceptorContextRef,
    BeforeTransmitInterceptorContextRef,
};
use aws_sdk_s3::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::http::Response as HttpResponse;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Bytes of a body kept in reports.
pub const EXCERPT: usize = 2048;

/// The normalised result of one call.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Outcome {
    /// HTTP status, when the call reached a target that has one.
    pub status: Option<u16>,
    pub code: Option<String>,
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<(String, String)>,
    /// Body text (excerpt for reports, whole for small bodies).
    pub body: String,
    /// Listing results: keys, bucket names, deleted keys.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub items: Option<Vec<String>>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub item_errors: BTreeMap<String, String>,
    /// The request as sent (method, URL, headers), for reports.
    pub request: String,
    /// No answer at all: connection refused, timeout, garbage.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transport_error: Option<String>,
}

impl Outcome {
    pub fn ok(&self) -> bool {
        self.transport_error.is_none()
            && self.code.is_none()
            && self.status.is_none_or(|s| (200..300).contains(&s))
    }

    /// Label for `expect_counts`: the error code when there is one, else the status.
    pub fn label(&self) -> String {
        if let Some(t) = &self.transport_error {
            return format!("transport: {t}");
        }
        match &self.code {
            Some(c) => c.clone(),
            None if self.ok() => "ok".into(),
            None => self.status.map(|s| s.to_string()).unwrap_or_default(),
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// A one-line summary for progress output and JUnit: `403 AccessDenied (message)`, `200`;
    /// from a target without HTTP statuses (a command adapter) the code alone,
    /// `InvalidTokenId (message)`, or `success`.
    pub fn summary(&self) -> String {
        if let Some(t) = &self.transport_error {
            return format!("transport error: {t}");
        }
        let message = self
            .message
            .as_deref()
            .filter(|m| !m.is_empty())
            .map(|m| format!(" ({m})"))
            .unwrap_or_default();
        match (self.status, &self.code) {
            (Some(s), Some(c)) => format!("{s} {c}{message}"),
            (None, Some(c)) => format!("{c}{message}"),
            (Some(s), None) => s.to_string(),
            (None, None) => "success".into(),
        }
    }

    pub fn from_target_error(e: TargetError) -> Self {
        match e {
            TargetError::Rejected {
                status,
                code,
                message,
                body,
            } => Outcome {
                status,
                code: Some(code),
                message: Some(message),
                body,
                ..Default::default()
            },
            TargetError::Transport(t) => Outcome {
                transport_error: Some(t),
                ..Default::default()
            },
            TargetError::Unsupported(what) => Outcome {
                transport_error: Some(format!("unsupported by the target: {what}")),
                ..Default::default()
            },
            TargetError::Local(why) => Outcome {
                transport_error: Some(format!("local file inspection: {why}")),
                ..Default::default()
            },
        }
    }
}

/// Cut a body to [`EXCERPT`] bytes on a char boundary.
pub fn excerpt(s: &str) -> String {
    if s.len() <= EXCERPT {
        return s.to_owned();
    }
    let mut cut = EXCERPT;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}… ({} bytes)", &s[..cut], s.len())
}

/// The text of the first `<tag>…</tag>` in `xml` (error bodies are tiny; no full parse needed).
pub fn xml_tag(xml: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{tag}>"))? + start;
    Some(xml[start..end].to_owned())
}

fn redact_header(name: &str, value: &str) -> String {
    if name.eq_ignore_ascii_case("x-amz-security-token") {
        format!("{}…", value.chars().take(8).collect::<String>())
    } else {
        value.to_owned()
    }
}

/// A response body as reports keep it: the values of credential fields an answer can carry
/// (STS's `<SecretAccessKey>` and `<SessionToken>`, any JSON field whose name says secret,
/// token or password) replaced, so a report never holds a live secret; everything else as it was.
pub fn redact_body(body: &str) -> String {
    use std::sync::OnceLock;
    static XML: OnceLock<regex::Regex> = OnceLock::new();
    static JSON: OnceLock<regex::Regex> = OnceLock::new();
    let xml = XML.get_or_init(|| {
        regex::Regex::new(r"<(SecretAccessKey|SessionToken)>[^<]*").expect("valid regex")
    });
    let json = JSON.get_or_init(|| {
        regex::Regex::new(r#"(?i)"([^"]*(?:secret|token|password)[^"]*)"(\s*:\s*)"[^"]*""#)
            .expect("valid regex")
    });
    let body = xml.replace_all(body, "<$1>** redacted **");
    json.replace_all(&body, r#""$1"$2"** redacted **""#)
        .into_owned()
}

/// `uri` with a presigned URL's `X-Amz-Security-Token` cut as the header is.
fn redact_query(uri: &str) -> String {
    let Some((path, query)) = uri.split_once('?') else {
        return uri.to_owned();
    };
    let params: Vec<String> = query
        .split('&')
        .map(|p| match p.split_once('=') {
            Some((k, v)) => format!("{k}={}", redact_header(k, v)),
            None => p.to_owned(),
        })
        .collect();
    format!("{path}?{}", params.join("&"))
}

/// Render a request line and headers for reports.
pub fn render_request<'a>(
    method: &str,
    uri: &str,
    headers: impl Iterator<Item = (&'a str, &'a str)>,
) -> String {
    let mut s = format!("{method} {}\n", redact_query(uri));
    for (n, v) in headers {
        s.push_str(&format!("{n}: {}\n", redact_header(n, v)));
    }
    s
}

#[derive(Debug, Default)]
struct Seen {
    request: String,
    status: Option<u16>,
    headers: Vec<(String, String)>,
    body: Option<String>,
}

/// A per-call interceptor recording the last attempt's request and response.
#[derive(Debug, Clone, Default)]
pub struct Capture(Arc<Mutex<Seen>>);

impl Intercept for Capture {
    fn name(&self) -> &'static str {
        "keygate-capture"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        let req = context.request();
        let text = render_request(req.method(), req.uri(), req.headers().iter());
        if let Ok(mut seen) = self.0.lock() {
            seen.request = text;
        }
        Ok(())
    }

    fn read_before_deserialization(
        &self,
        context: &BeforeDeserializationInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        let resp = context.response();
        if let Ok(mut seen) = self.0.lock() {
            seen.status = Some(resp.status().as_u16());
            seen.headers = resp
                .headers()
                .iter()
                .map(|(n, v)| (n.to_ascii_lowercase(), v.to_owned()))
                .collect();
            seen.body = resp
                .body()
                .bytes()
                .map(|b| excerpt(&String::from_utf8_lossy(b)));
        }
        Ok(())
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        // Non-streaming bodies are buffered by now; streaming ones (GetObject) stay unread.
        if let Some(b) = context.response().body().bytes() {
            if let Ok(mut seen) = self.0.lock() {
                seen.body = Some(excerpt(&String::from_utf8_lossy(b)));
            }
        }
        Ok(())
    }
}
impl Capture {
    /// The outcome of a successful call (status and headers as seen on the wire).
    pub fn success(&self) -> Outcome {
        let seen = self
            .0
            .lock()
            .map(|mut s| std::mem::take(&mut *s))
            .unwrap_or_default();
        Outcome {
            status: seen.status,
            headers: seen.headers,
            body: seen.body.unwrap_or_default(),
            request: seen.request,
            ..Default::default()
        }
    }

    /// The outcome of a failed SDK call.
    pub fn failure<E>(&self, err: SdkError<E, HttpResponse>) -> Outcome
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let mut out = self.success();
        let head = out.request.starts_with("HEAD ");
        match &err {
            SdkError::ServiceError(se) => {
                let e = se.err();
                out.code = e.code().map(str::to_owned);
                out.message = e.message().map(str::to_owned);
                if out.code.is_none() {
                    // HEAD errors have no body (V8): the status is the outcome.
                    out.code = xml_tag(&out.body, "Code");
                }
            }
            SdkError::ResponseError(_) if out.status.is_some() => {
                out.code = xml_tag(&out.body, "Code");
            }
            other => {
                if out.status.is_none() {
                    out.transport_error = Some(error_chain(other));
                }
            }
        }
        if head {
            // HEAD errors carry no body (V8): any code would be the SDK's invention.
            out.code = None;
            out.message = None;
        }
        if out.status.is_some_and(|s| (200..300).contains(&s))
            && out.code.is_none()
            && out.transport_error.is_none()
        {
            // A 2xx the SDK could not parse: report it as a protocol failure, not a pass.
            out.code = Some("UnparseableResponse".into());
            out.message = Some(error_chain(&err));
        }
        out
    }
}

/// An error and its sources, `: `-separated (a TLS failure under "client error (Connect)").
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// Map an SDK failure of a provisioning call to a [`TargetError`].
pub fn sdk_target_error<E>(err: SdkError<E, HttpResponse>) -> TargetError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let status = err.raw_response().map(|r| r.status().as_u16());
    match &err {
        SdkError::ServiceError(se) => TargetError::Rejected {
            status,
            code: se.err().code().unwrap_or("Unknown").to_owned(),
            message: se.err().message().unwrap_or_default().to_owned(),
            body: String::new(),
        },
        other => TargetError::Transport(error_chain(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::Outcome;

    #[test]
    fn summaries_read_well_without_a_status() {
        let coded = |status, message: Option<&str>| Outcome {
            status,
            code: Some("InvalidTokenId".into()),
            message: message.map(str::to_owned),
            ..Default::default()
        };
        assert_eq!(
            coded(None, Some("bad token")).summary(),
            "InvalidTokenId (bad token)"
        );
        assert_eq!(coded(None, Some("")).summary(), "InvalidTokenId");
        assert_eq!(
            coded(Some(403), Some("bad token")).summary(),
            "403 InvalidTokenId (bad token)"
        );
        assert_eq!(Outcome::default().summary(), "success");
        let status_only = Outcome {
            status: Some(200),
            ..Default::default()
        };
        assert_eq!(status_only.summary(), "200");
    }

    #[test]
    fn a_presigned_session_token_is_cut_in_reports() {
        let r = super::render_request(
            "GET",
            "http://h/b?X-Amz-Date=1&X-Amz-Security-Token=KG1.secret-token-body&x=",
            [("x-amz-security-token", "KG1.other-secret")].into_iter(),
        );
        assert!(
            !r.contains("secret-token-body") && !r.contains("other-secret"),
            "{r}"
        );
        assert!(r.starts_with("GET http://h/b?X-Amz-Date=1&X-Amz-Security-Token=KG1.secr…&x=\n"));
    }

    #[test]
    fn credentials_in_response_bodies_are_redacted_in_reports() {
        let sts = "<Credentials><AccessKeyId>AKID1</AccessKeyId>\
                   <SecretAccessKey>s3cr3t/KEY+x</SecretAccessKey>\
                   <SessionToken>KG1.tok.en</SessionToken></Credentials>";
        let r = super::redact_body(sts);
        assert!(!r.contains("s3cr3t") && !r.contains("KG1.tok"), "{r}");
        assert!(r.contains("<AccessKeyId>AKID1</AccessKeyId>"), "{r}");
        assert!(
            r.contains("<SecretAccessKey>** redacted **</SecretAccessKey>"),
            "{r}"
        );
        let admin = r#"{"accessKey":"AK","secretKey": "pw-1","Password":"pw-2","n":1}"#;
        let r = super::redact_body(admin);
        assert!(!r.contains("pw-1") && !r.contains("pw-2"), "{r}");
        assert!(
            r.contains(r#""accessKey":"AK""#) && r.contains(r#""n":1"#),
            "{r}"
        );
    }
}
