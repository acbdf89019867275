//! Virtual-host-style addressing under `--domain` (issue 2): `<bucket>.<domain>` in `Host`
//! names the bucket, the path the key; path-style requests keep working beside it.

mod common;

use common::{content_md5, Call, Keys, TestServer};

#[tokio::test]
async fn bucket_in_the_host_name_under_domain() {
    let t = TestServer::start_with(|cfg| cfg.domain = Some("s3.keygate.test".into())).await;
    let root = Keys::root();
    assert_eq!(t.send(&root, Call::s3("PUT", "/vhb")).await.status, 200);
    let vhost = format!("vhb.s3.keygate.test:{}", t.server.addr().port());

    let put = t
        .send(
            &root,
            Call::s3("PUT", "/dir/obj.txt")
                .header("host", &vhost)
                .body("hello"),
        )
        .await;
    assert_eq!(put.status, 200, "{}", put.text());
    // The object is where path-style addressing (and the filesystem) put bucket vhb.
    let get = t.send(&root, Call::s3("GET", "/vhb/dir/obj.txt")).await;
    assert_eq!((get.status, get.text().as_str()), (200, "hello"));
    assert!(t.server.data_dir().join("vhb/dir/obj.txt").is_file());

    let list = t
        .send(
            &root,
            Call::s3("GET", "/?list-type=2").header("host", &vhost),
        )
        .await;
    assert_eq!(list.status, 200, "{}", list.text());
    assert_eq!(list.xml("Key").as_deref(), Some("dir/obj.txt"));

    // A host outside the domain is path-style: `/dir/obj.txt` names bucket `dir`.
    let other = t
        .send(
            &root,
            Call::s3("GET", "/dir/obj.txt").header("host", "elsewhere.test"),
        )
        .await;
    assert_eq!(other.status, 404, "{}", other.text());
    assert_eq!(other.code(), "NoSuchBucket");

    // DeleteObjects on the bucket's host is `POST /?delete`; sent with a form content type
    // (some HTTP clients' default) it is still S3's, not taken for an STS call.
    let body = "<Delete><Object><Key>dir/obj.txt</Key></Object></Delete>";
    let delete = t
        .send(
            &root,
            Call::s3("POST", "/?delete")
                .header("host", &vhost)
                .header("content-type", "application/x-www-form-urlencoded")
                .header("content-md5", &content_md5(body.as_bytes()))
                .body(body),
        )
        .await;
    assert_eq!(delete.status, 200, "{}", delete.text());
    assert_eq!(delete.xml("Key").as_deref(), Some("dir/obj.txt"));
    assert!(!t.server.data_dir().join("vhb/dir/obj.txt").exists());
}
