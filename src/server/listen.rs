//! Accepting connections: what axum's `serve` does, plus the bounds a server
//! exposed to the network needs. A client that sends half a request, or holds
//! connections open, must not take the server's descriptors or threads:
//!
//! - a request's head must arrive within `header_timeout` (hyper closes the
//!   connection otherwise), and its body within `body_timeout` (408);
//! - at most `max_connections` are open at once; one more is closed at accept;
//! - on shutdown, connections finish their request in flight and close.

use axum::body::Body;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};

/// How connections are bounded.
#[derive(Clone, Copy, Debug)]
pub struct ConnectionLimits {
    /// Open connections at most; more wait in the listen backlog.
    pub max_connections: usize,
    /// Time a client has to send a request's headers.
    pub header_timeout: Duration,
    /// Time a client has to send a request's body.
    pub body_timeout: Duration,
}

/// Serves `router` on `listener` until `stop` turns true, then waits for open
/// connections to finish their requests (the caller bounds that wait).
pub async fn serve(listener: TcpListener, router: axum::Router, limits: ConnectionLimits, mut stop: watch::Receiver<bool>) {
    let open = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors, say: wait rather than spin.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stop.wait_for(|s| *s) => break,
        };
        let Ok(permit) = open.clone().try_acquire_owned() else {
            tracing::warn!(%peer, limit = limits.max_connections, "connection limit reached; closing a new connection");
            drop(stream);
            continue;
        };
        let connection = http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(router.clone()));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(%peer, "connection ended: {e}");
            }
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// Reads a request's body within `timeout` (408 otherwise), so that a client that
/// stops sending in the middle of a body holds no handler.
pub async fn read_body_within(timeout: Duration, max_bytes: usize, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let body = match tokio::time::timeout(timeout, axum::body::to_bytes(body, max_bytes)).await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(e)) => {
            let too_large = std::error::Error::source(&e).is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
            return if too_large {
                super::error_response(StatusCode::PAYLOAD_TOO_LARGE, "limit", format!("request body over {max_bytes} bytes"))
            } else {
                super::error_response(StatusCode::BAD_REQUEST, "bad_request", format!("cannot read the request body: {e}"))
            };
        }
        Err(_) => {
            return super::error_response(
                StatusCode::REQUEST_TIMEOUT,
                "timeout",
                format!("the request body did not arrive within {} ms", timeout.as_millis()),
            )
        }
    };
    next.run(Request::from_parts(parts, Body::from(body))).await
}
