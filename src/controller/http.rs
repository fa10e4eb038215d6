//! `--listen`: `/healthz` (the process runs), `/readyz` (caches synced, Lease held or
//! watched) and `/metrics` (Prometheus text), over plain HTTP/1.1 for kubelet probes and
//! scrapers. `--metrics-listen` moves `/metrics`, which names credentials, to an address of
//! its own (docs/controller.md).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use super::state::State;

type Body = String;

/// Which paths one listener answers; the others are 404.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Endpoints {
    pub(crate) health: bool,
    pub(crate) metrics: bool,
}

impl std::fmt::Display for Endpoints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut paths = Vec::new();
        if self.health {
            paths.extend(["/healthz", "/readyz"]);
        }
        if self.metrics {
            paths.push("/metrics");
        }
        f.write_str(&paths.join(" "))
    }
}

/// Binds now, so a taken port is an error before the loop starts; serves in the background.
pub(crate) async fn serve(
    address: SocketAddr,
    endpoints: Endpoints,
    state: Arc<State>,
) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(address).await?;
    let bound = listener.local_addr()?;
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let state = state.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request| {
                    let state = state.clone();
                    async move { Ok::<_, Infallible>(respond(&request, endpoints, &state)) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(bound)
}

fn respond(
    request: &Request<Incoming>,
    endpoints: Endpoints,
    state: &State,
) -> Response<Full<Bytes>> {
    let path = request.uri().path();
    let served = match path {
        "/healthz" | "/livez" | "/readyz" => endpoints.health,
        "/metrics" => endpoints.metrics,
        _ => false,
    };
    let (status, content_type, body): (StatusCode, &str, Body) = match path {
        _ if !served => (StatusCode::NOT_FOUND, "text/plain", "not found\n".into()),
        "/healthz" | "/livez" => (StatusCode::OK, "text/plain", "ok\n".into()),
        "/readyz" if state.is_ready() => (StatusCode::OK, "text/plain", "ok\n".into()),
        "/readyz" => (
            StatusCode::SERVICE_UNAVAILABLE,
            "text/plain",
            "not ready: caches syncing or Lease not yet seen\n".into(),
        ),
        "/metrics" => (
            StatusCode::OK,
            "text/plain; version=0.0.4; charset=utf-8",
            state.metrics(k8s_openapi::jiff::Timestamp::now()),
        ),
        _ => (StatusCode::NOT_FOUND, "text/plain", "not found\n".into()),
    };
    Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, content_type)
        .body(Full::new(Bytes::from(body)))
        .expect("a valid response")
}
