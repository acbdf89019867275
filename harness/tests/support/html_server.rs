//! A stand-in for an endpoint that is not S3, shared by the tests that check it is refused.

/// An HTTP server that answers every request with a 200 HTML page, as `python3 -m
/// http.server` does for `GET /`.
pub async fn html_server() -> (String, tokio::task::JoinHandle<()>) {
    use http_body_util::Full;
    use hyper::{body::Bytes, Response};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(|_req| async {
                    let page =
                        "<!DOCTYPE HTML>\n<html><head><title>Directory listing for /</title>\
                                </head><body><h1>Directory listing for /</h1></body></html>\n";
                    Response::builder()
                        .header("content-type", "text/html; charset=utf-8")
                        .body(Full::new(Bytes::from(page)))
                });
                let io = hyper_util::rt::TokioIo::new(stream);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(io, svc)
                    .await;
            });
        }
    });
    (format!("http://{addr}"), task)
}
