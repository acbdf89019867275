//! [`AdminTarget`]: a [`Target`] provisioned through Keygate's admin API (JSON over HTTP on the
//! S3 port, SigV4-signed with service `s3`) and AWS STS AssumeRole (through `aws-sdk-sts`).
//!
//! Both shipped adapters use it: `embedded` after starting the server in-process, `remote` for a
//! server that is already running. Errors the target answers with (`{"Code","Message"}`) become
//! [`TargetError::Rejected`] so scenarios can expect them; anything else is a transport error.

use super::http::{host_of, sign_request, HttpClient, SignSpec};
use super::{
    stat_local, Credentials, FileOwner, NewUser, RoleRequest, SharedClock, Target, TargetError,
    TargetInfo, UserUpdate,
};
use async_trait::async_trait;
use aws_sigv4::http_request::SignatureLocation;
use bytes::Bytes;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

const PREFIX: &str = "/_keygate/admin/v1";

/// Something the adapter must keep alive and stop at the end (the in-process server).
#[async_trait]
pub trait Guard: Send + Sync + std::fmt::Debug {
    async fn stop(&self);
}

/// A target provisioned through the admin API.
#[derive(Debug)]
pub struct AdminTarget {
    pub info: TargetInfo,
    pub root: Credentials,
    pub posix_root: Option<PathBuf>,
    pub clock: SharedClock,
    pub http: HttpClient,
    pub guard: Option<Box<dyn Guard>>,
}

impl AdminTarget {
    /// Send one admin request signed by `who`; `Ok(json)` on 2xx.
    async fn call(
        &self,
        who: &Credentials,
        method: http::Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Value, TargetError> {
        let uri = format!("{}{PREFIX}{path}", self.info.endpoint);
        let mut req = http::Request::builder()
            .method(method)
            .uri(&uri)
            .header("host", host_of(&self.info.endpoint));
        if body.is_some() {
            req = req.header("content-type", "application/json");
        }
        let mut req = req
            .body(Bytes::from(body.unwrap_or_default()))
            .map_err(|e| TargetError::Transport(format!("building {uri}: {e}")))?;
        sign_request(
            &mut req,
            &SignSpec {
                credentials: who,
                region: &self.info.region,
                service: "s3",
                time: self.clock.now(),
                location: SignatureLocation::Headers,
                expires_in: None,
                content_sha256_header: true,
                payload_override: None,
            },
        )
        .map_err(|e| TargetError::Transport(format!("signing: {e}")))?;
        let resp = self.http.send(req).await.map_err(TargetError::Transport)?;
        if (200..300).contains(&resp.status) {
            if resp.body.is_empty() {
                return Ok(Value::Null);
            }
            return serde_json::from_slice(&resp.body).map_err(|e| {
                TargetError::Transport(format!(
                    "{uri}: answer is not JSON ({e}): {}",
                    excerpt(&resp.text())
                ))
            });
        }
        let text = resp.text();
        let parsed: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let code = parsed["Code"]
            .as_str()
            .map(str::to_owned)
            .or_else(|| crate::run::outcome::xml_tag(&text, "Code"));
        match code {
            Some(code) => Err(TargetError::Rejected {
                status: Some(resp.status),
                code,
                message: parsed["Message"].as_str().unwrap_or_default().to_owned(),
                body: excerpt(&text),
            }),
            None => Err(TargetError::Transport(format!(
                "{uri}: status {} without an error code: {}",
                resp.status,
                excerpt(&text)
            ))),
        }
    }

    async fn root_call(
        &self,
        method: http::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, TargetError> {
        let body = body.map(|b| b.to_string().into_bytes());
        self.call(&self.root, method, path, body).await
    }
}

fn excerpt(s: &str) -> String {
    let mut s = s.to_owned();
    if s.len() > 2000 {
        let mut cut = 2000;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
    s
}

fn seg(s: &str) -> String {
    crate::run::raw::encode_segment(s)
}

fn cred_field(v: &Value, names: &[&str]) -> Result<String, TargetError> {
    names
        .iter()
        .find_map(|n| v[*n].as_str())
        .map(str::to_owned)
        .ok_or_else(|| TargetError::Transport(format!("answer lacks {}: {v}", names.join("/"))))
}

#[async_trait]
impl Target for AdminTarget {
    fn info(&self) -> TargetInfo {
        self.info.clone()
    }
    fn endpoint(&self) -> &str {
        &self.info.endpoint
    }
    fn region(&self) -> &str {
        &self.info.region
    }
    fn root(&self) -> &Credentials {
        &self.root
    }
    fn clock(&self) -> &SharedClock {
        &self.clock
    }
    fn tls_trust(&self) -> super::tls::TlsTrust {
        self.http.trust().clone()
    }

    /// `GET /policies` as the root: harmless and small. The in-process server is started with
    /// the keys it is asked with, so it is not asked.
    async fn check_admin(&self) -> Result<(), TargetError> {
        if self.info.kind == "embedded" {
            return Ok(());
        }
        self.root_call(http::Method::GET, "/policies", None)
            .await
            .map(drop)
    }

    async fn count_users(&self) -> Result<Option<usize>, TargetError> {
        let listed = self.root_call(http::Method::GET, "/users", None).await?;
        Ok(listed["users"].as_array().map(Vec::len))
    }

    async fn create_user(&self, user: &NewUser) -> Result<Credentials, TargetError> {
        let mut body = json!({"name": user.name, "password": user.password});
        if let Some(uid) = user.uid {
            body["posix_uid"] = json!(uid);
        }
        if let Some(gid) = user.gid {
            body["posix_gid"] = json!(gid);
        }
        self.root_call(http::Method::POST, "/users", Some(body))
            .await?;
        Ok(Credentials::new(&user.name, &user.password))
    }

    async fn update_user(&self, name: &str, update: &UserUpdate) -> Result<(), TargetError> {
        let mut body = json!({});
        if let Some(p) = &update.password {
            body["password"] = json!(p);
        }
        if let Some(uid) = update.uid {
            body["posix_uid"] = json!(uid);
        }
        if let Some(gid) = update.gid {
            body["posix_gid"] = json!(gid);
        }
        let path = format!("/users/{}", seg(name));
        self.root_call(http::Method::PATCH, &path, Some(body))
            .await
            .map(drop)
    }

    async fn delete_user(&self, name: &str) -> Result<(), TargetError> {
        let path = format!("/users/{}", seg(name));
        self.root_call(http::Method::DELETE, &path, None)
            .await
            .map(drop)
    }

    async fn put_policy(&self, name: &str, document: &str) -> Result<(), TargetError> {
        let path = format!("/policies/{}", seg(name));
        let body = Some(document.as_bytes().to_vec());
        self.call(&self.root, http::Method::PUT, &path, body)
            .await
            .map(drop)
    }

    async fn delete_policy(&self, name: &str) -> Result<(), TargetError> {
        let path = format!("/policies/{}", seg(name));
        self.root_call(http::Method::DELETE, &path, None)
            .await
            .map(drop)
    }

    async fn attach_policy(&self, user: &str, policy: &str) -> Result<(), TargetError> {
        let path = format!("/users/{}/policy", seg(user));
        self.root_call(http::Method::PUT, &path, Some(json!({"policy": policy})))
            .await
            .map(drop)
    }

    async fn detach_policy(&self, user: &str) -> Result<(), TargetError> {
        let path = format!("/users/{}/policy", seg(user));
        self.root_call(http::Method::DELETE, &path, None)
            .await
            .map(drop)
    }

    async fn assume_role(
        &self,
        caller: &Credentials,
        request: &RoleRequest,
    ) -> Result<Credentials, TargetError> {
        let client = crate::run::clients::sts_client(self, caller);
        let mut call = client
            .assume_role()
            .role_arn("arn:aws:iam::000000000000:role/keygate")
            .role_session_name("keygate");
        if let Some(d) = request.duration_seconds {
            call = call.duration_seconds(d);
        }
        if let Some(p) = &request.session_policy {
            call = call.policy(p);
        }
        match call.send().await {
            Ok(out) => {
                let c = out.credentials.ok_or_else(|| {
                    TargetError::Transport("AssumeRole answer without Credentials".into())
                })?;
                Ok(Credentials {
                    access_key: c.access_key_id,
                    secret_key: c.secret_access_key,
                    session_token: Some(c.session_token),
                    expiration: Some(c.expiration.to_string()),
                })
            }
            Err(e) => Err(crate::run::outcome::sdk_target_error(e)),
        }
    }

    async fn create_service_account(
        &self,
        caller: &Credentials,
        policy: Option<&str>,
    ) -> Result<Credentials, TargetError> {
        let body = match policy {
            Some(p) => json!({"policy": p}),
            None => json!({}),
        };
        let v = self
            .call(
                caller,
                http::Method::POST,
                "/service-accounts",
                Some(body.to_string().into_bytes()),
            )
            .await?;
        Ok(Credentials::new(
            cred_field(&v, &["access_key", "accessKey"])?,
            cred_field(&v, &["secret_key", "secretKey"])?,
        ))
    }

    async fn delete_service_account(
        &self,
        caller: &Credentials,
        access_key: &str,
    ) -> Result<(), TargetError> {
        let path = format!("/service-accounts/{}", seg(access_key));
        self.call(caller, http::Method::DELETE, &path, None)
            .await
            .map(drop)
    }

    async fn advance_clock(&self, seconds: i64) -> Result<(), TargetError> {
        if !self.info.capabilities.clock {
            return Err(TargetError::Unsupported("clock"));
        }
        self.root_call(
            http::Method::POST,
            "/clock/advance",
            Some(json!({"seconds": seconds})),
        )
        .await?;
        self.clock.advance(seconds);
        Ok(())
    }

    async fn stat(&self, relative: &Path) -> Result<FileOwner, TargetError> {
        match &self.posix_root {
            Some(root) => stat_local(root, relative),
            None => Err(TargetError::Unsupported("posix")),
        }
    }

    async fn shutdown(&self) {
        if let Some(g) = &self.guard {
            g.stop().await;
        }
    }
}
