//! `/_keygate/metrics`: Prometheus text with per-stage histograms and counts that match the
//! requests served; the scrape itself is not counted; a bucket named `metrics` is unaffected.

mod common;

use common::*;

/// One `GET /_keygate/metrics` over a raw socket (loopback: no signature needed).
async fn scrape(ts: &TestServer) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(ts.server.addr())
        .await
        .unwrap();
    let req = "GET /_keygate/metrics HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n";
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    out
}

fn value(text: &str, series: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn metrics_count_what_was_served_by_stage_operation_and_code() {
    let ts = TestServer::start().await;
    ts.bucket("metrics").await;
    let s3 = ts.root_s3();
    s3.put_object()
        .bucket("metrics")
        .key("k")
        .body(b"x".to_vec().into())
        .send()
        .await
        .unwrap();
    for _ in 0..3 {
        s3.head_object()
            .bucket("metrics")
            .key("k")
            .send()
            .await
            .unwrap();
    }
    let _ = s3
        .head_object()
        .bucket("metrics")
        .key("missing")
        .send()
        .await;
    let before = scrape(&ts).await;
    let again = scrape(&ts).await;
    assert!(before.contains("# TYPE keygate_stage_duration_seconds histogram"));
    assert_eq!(
        value(&before, "keygate_requests_total{operation=\"HeadObject\"}"),
        4
    );
    assert_eq!(
        value(&before, "keygate_requests_total{operation=\"PutObject\"}"),
        1
    );
    assert_eq!(
        value(&before, "keygate_errors_total{code=\"NoSuchKey\"}"),
        1
    );
    let total = value(
        &before,
        "keygate_stage_duration_seconds_count{stage=\"total\"}",
    );
    let sigv4 = value(
        &before,
        "keygate_stage_duration_seconds_count{stage=\"sigv4\"}",
    );
    let policy = value(
        &before,
        "keygate_stage_duration_seconds_count{stage=\"policy\"}",
    );
    assert!(total >= 6 && sigv4 >= 5 && policy >= 5, "{before}");
    // Scraping is not counted.
    assert_eq!(
        total,
        value(
            &again,
            "keygate_stage_duration_seconds_count{stage=\"total\"}"
        )
    );
    // The bucket named `metrics` still works.
    let got = s3
        .get_object()
        .bucket("metrics")
        .key("k")
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.body.collect().await.unwrap().into_bytes().as_ref(),
        b"x"
    );
}
