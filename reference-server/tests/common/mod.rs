//! Shared test fixture: a real server in-process on an ephemeral port with a fresh data dir,
//! and the real AWS SDK pointed at it.
#![allow(
    dead_code,
    reason = "each test binary uses a different subset of the fixture"
)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use aws_sdk_s3::config::{BehaviorVersion, Region};
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignatureLocation, SigningSettings,
    UriPathNormalizationMode,
};
use keygate_server::{RunningServer, Server, ServerConfig};

pub mod aws_sign;
use aws_sign::aws_sign;

pub const ROOT_AK: &str = "keygateroot";
pub const ROOT_SK: &str = "keygate-root-secret-0";

pub struct TestServer {
    pub server: RunningServer,
    pub dir: tempfile::TempDir,
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::start_with(|_| {}).await
    }

    /// Starts a server whose configuration `adjust` changes first (e.g. smaller limits).
    pub async fn start_with(adjust: impl FnOnce(&mut ServerConfig)) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut cfg = config_in(dir.path(), ROOT_SK);
        adjust(&mut cfg);
        let server = Server::start(cfg).await.expect("server starts");
        TestServer { server, dir }
    }

    pub fn endpoint(&self) -> &str {
        self.server.endpoint()
    }

    /// An S3 client with the SDK's default settings (checksums included), path-style.
    pub fn s3(&self, ak: &str, sk: &str) -> aws_sdk_s3::Client {
        self.s3_as(&Keys::new(ak, sk))
    }

    pub fn root_s3(&self) -> aws_sdk_s3::Client {
        self.s3(ROOT_AK, ROOT_SK)
    }
}

pub fn is_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false)
}

// ---------------------------------------------------------------------------------------------
// Restart on the same data directory.
// ---------------------------------------------------------------------------------------------

/// The configuration [`TestServer::start`] uses, on `dir` with the given root secret.
pub fn config_in(dir: &std::path::Path, root_secret: &str) -> ServerConfig {
    let mut cfg = ServerConfig::new(dir);
    cfg.root_access_key = Some(ROOT_AK.into());
    cfg.root_secret_key = Some(root_secret.into());
    cfg.test_clock = true;
    cfg.posix_ownership = is_root();
    cfg
}

impl TestServer {
    /// Shuts the server down and starts a new one on the same data directory with the same
    /// root keys (a new port: build new clients).
    pub async fn restart(self) -> TestServer {
        let TestServer { server, dir } = self;
        server.shutdown().await;
        let server = Server::start(config_in(dir.path(), ROOT_SK))
            .await
            .expect("server restarts on its data dir");
        TestServer { server, dir }
    }
}

// ---------------------------------------------------------------------------------------------
// Signed raw requests (aws-sigv4, never the server's code) over hyper's HTTP/1.1 client.
// ---------------------------------------------------------------------------------------------

/// Keys to sign with; `token` is sent as `x-amz-security-token` (and signed).
#[derive(Debug, Clone)]
pub struct Keys {
    pub ak: String,
    pub sk: String,
    pub token: Option<String>,
}

impl Keys {
    pub fn new(ak: &str, sk: &str) -> Keys {
        Keys {
            ak: ak.to_owned(),
            sk: sk.to_owned(),
            token: None,
        }
    }

    pub fn root() -> Keys {
        Keys::new(ROOT_AK, ROOT_SK)
    }

    pub fn with_token(mut self, token: Option<&str>) -> Keys {
        self.token = token.map(str::to_owned);
        self
    }

    pub fn credentials(&self) -> Credentials {
        Credentials::new(&self.ak, &self.sk, self.token.clone(), None, "test")
    }
}

/// A request to sign with aws-sigv4 and send as is.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: &'static str,
    /// Path and query, already percent-encoded.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Credential-scope service: `s3` (with `x-amz-content-sha256`) or `sts` (without).
    pub service: &'static str,
    /// Signing time; `None`: the server's clock (which tests may have moved forward).
    pub at: Option<SystemTime>,
}

impl Call {
    pub fn s3(method: &'static str, target: impl Into<String>) -> Call {
        Call {
            method,
            target: target.into(),
            headers: Vec::new(),
            body: Vec::new(),
            service: "s3",
            at: None,
        }
    }

    /// `POST /` with a form body, signed for `sts` as STS clients sign it.
    pub fn sts(form: &str) -> Call {
        Call {
            service: "sts",
            ..Call::s3("POST", "/")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form)
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Call {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Call {
        self.body = body.into();
        self
    }
}

/// A response read whole.
#[derive(Debug)]
pub struct Raw {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Vec<u8>,
}

impl Raw {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON (`null` when empty).
    pub fn json(&self) -> serde_json::Value {
        if self.body.is_empty() {
            return serde_json::Value::Null;
        }
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    /// The text of the first `<name>` element.
    pub fn xml(&self, name: &str) -> Option<String> {
        let text = self.text();
        let open = format!("<{name}>");
        let start = text.find(&open)? + open.len();
        let end = text[start..].find(&format!("</{name}>"))? + start;
        Some(text[start..end].to_owned())
    }

    /// The error code: `Code` of a JSON admin error or `<Code>` of an XML one.
    pub fn code(&self) -> String {
        if self.body.first() == Some(&b'{') {
            if let Some(c) = self.json()["Code"].as_str() {
                return c.to_owned();
            }
        }
        self.xml("Code").unwrap_or_else(|| "<none>".to_owned())
    }

    /// Asserts the status and error code.
    #[track_caller]
    pub fn expect_error(&self, status: u16, code: &str) {
        assert_eq!(
            (self.status, self.code().as_str()),
            (status, code),
            "{}",
            self.text()
        );
    }

    /// Asserts a 2xx and returns the JSON body.
    #[track_caller]
    pub fn ok(&self) -> serde_json::Value {
        assert!(
            (200..300).contains(&self.status),
            "expected success, got {}: {}",
            self.status,
            self.text()
        );
        self.json()
    }
}

/// `method target` signed by `keys` with aws-sigv4 as the tests send requests (single
/// percent-encoding, no path normalisation; `x-amz-content-sha256` for `s3`), at `at`:
/// in the headers, or presigned for five minutes. `headers` must start with `host`.
/// Returns the target (with the presigned parameters appended) and the headers to send.
pub fn sign_request(
    keys: &Keys,
    service: &str,
    at: SystemTime,
    (method, target): (&str, &str),
    mut headers: Vec<(String, String)>,
    body: SignableBody<'_>,
    presign: bool,
) -> (String, Vec<(String, String)>) {
    let mut settings = SigningSettings::default();
    settings.percent_encoding_mode = PercentEncodingMode::Single;
    settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    settings.payload_checksum_kind = if service == "s3" {
        PayloadChecksumKind::XAmzSha256
    } else {
        PayloadChecksumKind::NoHeader
    };
    if presign {
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(Duration::from_secs(300));
    }
    let host = match headers.first() {
        Some((name, value)) if name.eq_ignore_ascii_case("host") => value.clone(),
        _ => panic!("sign_request: the first header must be host: {headers:?}"),
    };
    let unsigned: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let signed = aws_sign(
        &keys.credentials(),
        service,
        settings,
        at,
        method,
        &format!("http://{host}{target}"),
        &unsigned,
        body,
    );
    headers.extend(signed.headers);
    let mut target = target.to_owned();
    for (k, v) in &signed.params {
        let sep = if target.contains('?') { '&' } else { '?' };
        let v = percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC);
        target = format!("{target}{sep}{k}={v}");
    }
    (target, headers)
}

impl TestServer {
    /// The server's clock as a `SystemTime` (moved by `advance_clock`).
    pub fn server_now(&self) -> SystemTime {
        let now = self.server.advance_clock(0).expect("test clock");
        UNIX_EPOCH + Duration::from_nanos(now.unix_timestamp_nanos() as u64)
    }

    /// Signs `call` with `keys` (aws-sigv4, `Authorization` header) and sends it.
    pub async fn send(&self, keys: &Keys, call: Call) -> Raw {
        // A `host` header in the call (virtual-host style) replaces the address.
        let host = call
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("host"))
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| self.server.addr().to_string());
        let mut headers = vec![("host".to_owned(), host.clone())];
        headers.extend(
            call.headers
                .iter()
                .filter(|(k, _)| !k.eq_ignore_ascii_case("host"))
                .cloned(),
        );
        let at = call.at.unwrap_or_else(|| self.server_now());
        let body = SignableBody::Bytes(&call.body);
        let (target, headers) = sign_request(
            keys,
            call.service,
            at,
            (call.method, &call.target),
            headers,
            body,
            false,
        );
        self.send_unsigned(call.method, &target, &headers, call.body)
            .await
    }

    /// Sends a request exactly as given (headers must include `host`).
    pub async fn send_unsigned(
        &self,
        method: &str,
        target: &str,
        headers: &[(String, String)],
        body: Vec<u8>,
    ) -> Raw {
        let stream = tokio::net::TcpStream::connect(self.server.addr())
            .await
            .expect("connects");
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .expect("HTTP/1.1 handshake");
        tokio::spawn(conn);
        let mut req = http::Request::builder().method(method).uri(target);
        for (k, v) in headers {
            req = req.header(k.as_str(), v.as_str());
        }
        // hyper sends no length for an empty body; S3 clients send `Content-Length: 0` with a
        // PUT or POST (without it, PutObject is 411 MissingContentLength).
        let framed = headers.iter().any(|(k, _)| {
            k.eq_ignore_ascii_case("content-length") || k.eq_ignore_ascii_case("transfer-encoding")
        });
        if !framed && (method == "PUT" || method == "POST") {
            req = req.header("content-length", body.len());
        }
        let req = req
            .body(http_body_util::Full::new(bytes::Bytes::from(body)))
            .expect("request");
        let resp = sender.send_request(req).await.expect("a response");
        let (parts, body) = resp.into_parts();
        let body = http_body_util::BodyExt::collect(body)
            .await
            .expect("whole body")
            .to_bytes();
        Raw {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body: body.to_vec(),
        }
    }

    /// GET of a presigned URL as produced by the SDK.
    pub async fn get_url(&self, url: &str) -> Raw {
        let target = url
            .strip_prefix(self.endpoint())
            .expect("a URL of this server");
        let headers = [("host".to_owned(), self.server.addr().to_string())];
        self.send_unsigned("GET", target, &headers, Vec::new())
            .await
    }
}

// ---------------------------------------------------------------------------------------------
// The admin API and identities.
// ---------------------------------------------------------------------------------------------

/// The password (= secret) of users the helpers create.
pub const PW: &str = "Passw0rd-test";

/// Admin API path prefix.
pub const ADMIN: &str = "/_keygate/admin/v1/";

/// The keys of a user created by the helpers.
pub fn user_keys(name: &str) -> Keys {
    Keys::new(name, PW)
}

impl TestServer {
    /// An admin API call (`path` after the prefix) signed by `keys`.
    pub async fn admin_as(
        &self,
        keys: &Keys,
        method: &'static str,
        path: &str,
        body: impl Into<Vec<u8>>,
    ) -> Raw {
        let body = body.into();
        let mut call = Call::s3(method, format!("{ADMIN}{path}")).body(body);
        if !call.body.is_empty() {
            call = call.header("content-type", "application/json");
        }
        self.send(keys, call).await
    }

    /// An admin API call signed by the root keys.
    pub async fn admin(&self, method: &'static str, path: &str, body: impl Into<Vec<u8>>) -> Raw {
        self.admin_as(&Keys::root(), method, path, body).await
    }

    /// Adds a user with password [`PW`] and the given posix ids.
    pub async fn add_user_posix(&self, name: &str, uid: u32, gid: u32) -> Keys {
        let body =
            serde_json::json!({"name": name, "password": PW, "posix_uid": uid, "posix_gid": gid});
        self.admin("POST", "users", body.to_string()).await.ok();
        user_keys(name)
    }

    /// Adds a user with password [`PW`] and no policy.
    pub async fn add_user(&self, name: &str) -> Keys {
        let body = serde_json::json!({"name": name, "password": PW});
        self.admin("POST", "users", body.to_string()).await.ok();
        user_keys(name)
    }

    pub async fn put_policy(&self, name: &str, document: &str) {
        self.admin("PUT", &format!("policies/{name}"), document)
            .await
            .ok();
    }

    pub async fn attach(&self, policy: &str, user: &str) {
        let body = serde_json::json!({ "policy": policy }).to_string();
        self.admin("PUT", &format!("users/{user}/policy"), body)
            .await
            .ok();
    }

    pub async fn detach(&self, user: &str) {
        self.admin("DELETE", &format!("users/{user}/policy"), "")
            .await
            .ok();
    }

    pub async fn delete_user(&self, user: &str) {
        self.admin("DELETE", &format!("users/{user}"), "")
            .await
            .ok();
    }

    /// Adds a user holding `policy` (pre-defined or already added).
    pub async fn user_with(&self, name: &str, policy: &str) -> Keys {
        let keys = self.add_user(name).await;
        self.attach(policy, name).await;
        keys
    }

    /// Adds a custom policy named after the user and a user holding it.
    pub async fn user_with_doc(&self, name: &str, document: &str) -> Keys {
        let policy = format!("{name}-policy");
        self.put_policy(&policy, document).await;
        self.user_with(name, &policy).await
    }

    /// Creates a service account for `user` (optionally with an embedded policy).
    pub async fn add_service_account(&self, user: &Keys, policy: Option<&str>) -> Keys {
        let body = match policy {
            Some(p) => serde_json::json!({ "policy": p }).to_string(),
            None => String::new(),
        };
        let created = self
            .admin_as(user, "POST", "service-accounts", body)
            .await
            .ok();
        Keys::new(
            created["access_key"].as_str().expect("access_key"),
            created["secret_key"].as_str().expect("secret_key"),
        )
    }

    /// An S3 client signing with `keys` (session token included).
    pub fn s3_as(&self, keys: &Keys) -> aws_sdk_s3::Client {
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .endpoint_url(self.endpoint())
            .region(Region::new("us-east-1"))
            .credentials_provider(keys.credentials())
            .force_path_style(true)
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }

    /// An STS client pointed at the server, signing with `keys`.
    pub fn sts(&self, keys: &Keys) -> aws_sdk_sts::Client {
        let config = aws_sdk_sts::Config::builder()
            .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
            .endpoint_url(self.endpoint())
            .region(aws_sdk_sts::config::Region::new("us-east-1"))
            .credentials_provider(keys.credentials())
            .build();
        aws_sdk_sts::Client::from_conf(config)
    }

    /// AssumeRole through aws-sdk-sts; the session's keys with their token.
    pub async fn assume_role(&self, keys: &Keys, policy: Option<&str>) -> Keys {
        let out = self
            .sts(keys)
            .assume_role()
            .role_arn("arn:aws:iam::000000000000:role/keygate")
            .role_session_name("test")
            .set_policy(policy.map(str::to_owned))
            .send()
            .await
            .expect("AssumeRole succeeds");
        let c = out.credentials().expect("credentials");
        Keys::new(c.access_key_id(), c.secret_access_key()).with_token(Some(c.session_token()))
    }

    /// Creates a bucket as root.
    pub async fn bucket(&self, name: &str) {
        self.root_s3()
            .create_bucket()
            .bucket(name)
            .send()
            .await
            .expect("root creates the bucket");
    }

    /// Puts an object as root.
    pub async fn object(&self, bucket: &str, key: &str, body: &'static [u8]) {
        self.root_s3()
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(aws_sdk_s3::primitives::ByteStream::from_static(body))
            .send()
            .await
            .expect("root puts the object");
    }
}

/// The outcome of an SDK call: `"ok"` or the error code (`"<status>"` when there is none,
/// as for HEAD errors).
pub fn outcome<T, E>(r: Result<T, aws_sdk_s3::error::SdkError<E>>) -> String
where
    E: aws_sdk_s3::error::ProvideErrorMetadata,
{
    match r {
        Ok(_) => "ok".to_owned(),
        Err(e) => {
            let status = e.raw_response().map(|r| r.status().as_u16());
            match e.as_service_error().and_then(|s| s.code()) {
                Some(c) => c.to_owned(),
                None => format!(
                    "<{}>",
                    status.map_or("no response".to_owned(), |s| s.to_string())
                ),
            }
        }
    }
}

/// GetObject's outcome (see [`outcome`]).
pub async fn try_get(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> String {
    outcome(s3.get_object().bucket(bucket).key(key).send().await)
}

/// PutObject's outcome (see [`outcome`]).
pub async fn try_put(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> String {
    let body = aws_sdk_s3::primitives::ByteStream::from_static(b"data");
    outcome(
        s3.put_object()
            .bucket(bucket)
            .key(key)
            .body(body)
            .send()
            .await,
    )
}

/// A one-statement policy allowing `actions` on `resources`.
pub fn allow(actions: &[&str], resources: &[&str]) -> String {
    serde_json::json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": actions, "Resource": resources}
    ]})
    .to_string()
}

/// A valid policy of exactly `len` bytes (spaces before the closing brace).
pub fn padded_policy(len: usize) -> String {
    let base = allow(&["s3:GetObject"], &["arn:aws:s3:::bkt/*"]);
    let body = &base[..base.len() - 1];
    format!("{body}{}}}", " ".repeat(len - base.len()))
}

impl TestServer {
    /// The error code of an AssumeRole through aws-sdk-sts that must fail.
    pub async fn assume_role_refused(&self, keys: &Keys) -> String {
        let err = self
            .sts(keys)
            .assume_role()
            .role_arn("arn:aws:iam::000000000000:role/keygate")
            .role_session_name("test")
            .send()
            .await
            .expect_err("AssumeRole must be refused");
        aws_sdk_sts::error::ProvideErrorMetadata::code(&err.into_service_error())
            .unwrap_or("<none>")
            .to_owned()
    }
}

/// IEEE CRC-32 (the `x-amz-checksum-crc32` algorithm), bit by bit: written out here so that
/// expected checksums never come from the server's code.
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// The `Content-MD5` header value of `body` (base64 of its MD5), which DeleteObjects requires.
pub fn content_md5(body: &[u8]) -> String {
    use base64::Engine as _;
    use md5::{Digest, Md5};
    base64::engine::general_purpose::STANDARD.encode(Md5::digest(body))
}

/// A PUT whose head has been authenticated and whose body is still to come.
#[derive(Debug)]
pub struct InFlight {
    stream: tokio::net::TcpStream,
    body: Vec<u8>,
}

impl InFlight {
    /// Sends a signed PUT of 64 KiB to `target` (with the `extra` headers beside `host` and
    /// `content-length`) and `Expect: 100-continue`, and waits for the `100 Continue`, which
    /// the server sends only once it reads the body: past authentication, authorisation and
    /// the checks made before the body.
    pub async fn start(
        t: &TestServer,
        keys: &Keys,
        target: &str,
        extra: &[(&str, &str)],
    ) -> InFlight {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let body = vec![b'x'; 64 * 1024];
        let mut headers = vec![
            ("host".to_owned(), t.server.addr().to_string()),
            ("content-length".to_owned(), body.len().to_string()),
            ("expect".to_owned(), "100-continue".to_owned()),
        ];
        headers.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let unsigned = aws_sigv4::http_request::SignableBody::UnsignedPayload;
        let at = t.server_now();
        let (target, headers) =
            sign_request(keys, "s3", at, ("PUT", target), headers, unsigned, false);
        let mut head = format!("PUT {target} HTTP/1.1\r\n");
        for (k, v) in &headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("connection: close\r\n\r\n");
        let mut stream = tokio::net::TcpStream::connect(t.server.addr())
            .await
            .unwrap();
        stream.write_all(head.as_bytes()).await.unwrap();
        let mut got = Vec::new();
        while !got.ends_with(b"\r\n\r\n") {
            let mut byte = [0u8];
            assert_eq!(stream.read(&mut byte).await.unwrap(), 1, "closed: {got:?}");
            got.push(byte[0]);
        }
        let got = String::from_utf8_lossy(&got);
        assert!(got.starts_with("HTTP/1.1 100"), "{got}");
        InFlight { stream, body }
    }

    /// Sends the body; the response's status.
    pub async fn finish(mut self) -> u16 {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        self.stream.write_all(&self.body).await.unwrap();
        let mut resp = Vec::new();
        self.stream.read_to_end(&mut resp).await.unwrap();
        let resp = String::from_utf8_lossy(&resp);
        resp.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0)
    }
}
