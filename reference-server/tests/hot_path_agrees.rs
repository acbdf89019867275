//! `HotPath::check`, which the hot-path benches and `hot_path_ratio` time, repeats by hand what
//! the server's dispatch does for a request head (authenticate against the snapshot, route,
//! authorise). A benchmark of the wrong path measures nothing, so this sends the same signed
//! heads to both, the running server over HTTP and a `HotPath` opened on its data directory,
//! and requires the same decision: where the hot path allows, the server answers what an
//! authorised request gets (200, or 404 for a missing object); where it refuses, the server
//! answers 403 with the same error code.
//!
//! The heads cover what the benches time (a `readwrite` user, a custom policy with a variable,
//! STS credentials with a session policy, a service account) and the refusals around them
//! (no policy, a policy that does not cover the action, a deleted user, a wrong secret, an
//! unknown key, an anonymous request), header-signed and presigned, object-, bucket- and
//! service-level. Each case also states its expected outcome, so the test cannot pass by the
//! two agreeing on everything being refused.

mod common;

use std::net::SocketAddr;
use std::time::SystemTime;

use aws_sigv4::http_request::SignableBody;
use common::{allow, config_in, sign_request, Keys, TestServer, ROOT_SK};
use keygate_server::HotPath;

/// A request head as sent: method, path and query, headers (`host` first).
struct Head {
    method: &'static str,
    target: String,
    headers: Vec<(String, String)>,
}

impl Head {
    fn parts(&self) -> http::request::Parts {
        let mut builder = http::Request::builder()
            .method(self.method)
            .uri(&self.target);
        for (k, v) in &self.headers {
            builder = builder.header(k, v);
        }
        builder.body(()).expect("request").into_parts().0
    }
}

/// `method target` signed by `keys` for `host`, in the headers or presigned.
fn signed(
    keys: &Keys,
    (method, target): (&'static str, &str),
    presign: bool,
    host: &str,
    at: SystemTime,
) -> Head {
    let body = match presign {
        true => SignableBody::UnsignedPayload,
        false => SignableBody::Bytes(b""),
    };
    let headers = vec![("host".to_owned(), host.to_owned())];
    let (target, headers) = sign_request(keys, "s3", at, (method, target), headers, body, presign);
    Head {
        method,
        target,
        headers,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hot_path_decides_as_the_served_request() {
    let t = TestServer::start().await;
    t.bucket("bkt").await;
    t.object("bkt", "k", b"v").await;
    let rw = t.user_with("rwuser", "readwrite").await;
    let ro = t.user_with("rouser", "readonly").await;
    let nopolicy = t.add_user("nopolicy").await;
    let home = t
        .user_with_doc(
            "home",
            &allow(&["s3:GetObject"], &["arn:aws:s3:::bkt/${aws:username}/*"]),
        )
        .await;
    let session = allow(&["s3:GetObject"], &["arn:aws:s3:::bkt/*"]);
    let sts = t.assume_role(&rw, Some(&session)).await;
    let sa = t.add_service_account(&rw, None).await;
    let gone = t.user_with("gone", "readwrite").await;
    t.delete_user("gone").await;
    let wrong_secret = Keys::new("rwuser", "not-the-password");
    let unknown = Keys::new("nobody", "Password1");
    // Every change above is committed: a hot path opened now sees the same identities.
    // Opening the data directory also clears the store's temporary files, so no request may
    // be in flight here (each above was awaited).
    let hot = HotPath::open(config_in(t.dir.path(), ROOT_SK)).expect("hot path opens");
    let remote: SocketAddr = "127.0.0.1:50000".parse().expect("address");
    let host = t.server.addr().to_string();
    // Signed at the server's clock, as `send` signs (neither clock is moved here).
    let now = t.server_now();

    let root = Keys::root();
    // Each allowed head with the status the server answers once authorised.
    let allowed = [
        (&root, "GET", "/bkt/k", false, 200),
        (&rw, "GET", "/bkt/k", false, 200),
        (&rw, "GET", "/bkt/k", true, 200),
        (&rw, "PUT", "/bkt/written-by-rw", false, 200),
        (&rw, "GET", "/", false, 200),
        (&ro, "GET", "/bkt?list-type=2&prefix=a%2Fb", false, 200),
        (&ro, "HEAD", "/bkt/k", false, 200),
        (&home, "GET", "/bkt/home/photo.jpg", false, 404),
        (&sts, "GET", "/bkt/k", false, 200),
        (&sa, "GET", "/bkt/k", false, 200),
        (&sa, "GET", "/bkt/k", true, 200),
    ];
    let refused = [
        (&ro, "PUT", "/bkt/x", false, "AccessDenied"),
        (&nopolicy, "GET", "/bkt/k", false, "AccessDenied"),
        (&nopolicy, "GET", "/bkt/k", true, "AccessDenied"),
        (&home, "GET", "/bkt/k", false, "AccessDenied"),
        (&sts, "PUT", "/bkt/x", false, "AccessDenied"),
        (&gone, "GET", "/bkt/k", false, "InvalidAccessKeyId"),
        (
            &wrong_secret,
            "GET",
            "/bkt/k",
            false,
            "SignatureDoesNotMatch",
        ),
        (&unknown, "GET", "/bkt/k", true, "InvalidAccessKeyId"),
    ];
    let cases = allowed
        .iter()
        .map(|&(keys, method, target, presign, status)| {
            (
                signed(keys, (method, target), presign, &host, now),
                Ok(status),
            )
        })
        .chain(
            refused
                .iter()
                .map(|&(keys, method, target, presign, code)| {
                    (
                        signed(keys, (method, target), presign, &host, now),
                        Err(code),
                    )
                }),
        )
        .chain([(
            Head {
                method: "GET",
                target: "/bkt/k".to_owned(),
                headers: vec![("host".to_owned(), host.clone())],
            },
            Err("AccessDenied"),
        )]);
    for (head, expected) in cases {
        let what = format!("{} {} ({expected:?})", head.method, head.target);
        let decided = hot.check(&head.parts(), remote).map_err(|c| c.as_str());
        let served = t
            .send_unsigned(head.method, &head.target, &head.headers, Vec::new())
            .await;
        match expected {
            Ok(status) => {
                assert!(decided.is_ok(), "{what}: hot path refused: {decided:?}");
                assert_eq!(served.status, status, "{what}: served {}", served.text());
            }
            Err(code) => {
                assert_eq!(decided.err(), Some(code), "{what}: hot path");
                assert_eq!(served.status, 403, "{what}: served {}", served.text());
                assert_eq!(served.code(), code, "{what}: served");
            }
        }
    }
}
