//! `ore serve`: the JIT as a long-running HTTP/JSON service (axum on tokio).
//!
//! The HTTP layer is thin: it authenticates, parses JSON, and runs every request
//! that compiles or calls code on tokio's blocking pool, so a slow compile or a
//! long call never holds up the async workers that answer `/healthz` and everyone
//! else. The state and the rules live in `namespaces`; `store` persists modules,
//! `metrics` renders Prometheus text. docs/SERVER.md is the user's guide.

mod json;
mod listen;
mod metrics;
pub mod namespaces;
mod store;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::FromRequestParts;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use metrics::Metrics;
use namespaces::{CallRequest, ModuleRequest, Registry, ServiceError, Settings};
use serde::de::DeserializeOwned;
use serde_json::json;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

pub use listen::ConnectionLimits;
pub use store::Store;

/// Stack of the threads calls run on: Ore recursion gets this much room before
/// `stack overflow` (committed only as used).
const CALL_STACK_BYTES: usize = 16 << 20;

/// Everything `ore serve` is started with.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// The address to listen on.
    pub listen: SocketAddr,
    /// Required as `Authorization: Bearer TOKEN` on every endpoint but `/healthz`.
    pub token: Option<String>,
    /// What every namespace and call gets.
    pub settings: Settings,
    /// Request bodies larger than this are refused (413).
    pub max_body_bytes: usize,
    /// Bounds on connections.
    pub connections: ConnectionLimits,
    /// Calls running at once; one more is answered 503 `busy`.
    pub max_concurrent_calls: usize,
    /// Bytes the arrays of all running calls may take together.
    pub max_total_array_bytes: u64,
    /// How long in-flight requests may take to finish after SIGTERM or SIGINT.
    pub grace: Duration,
    /// The state file that modules persist in, if any.
    pub state: Option<PathBuf>,
}

/// How long after a call's deadline the server answers `timeout` itself, if the
/// engine has not (it cannot while a compile runs: compiles are not interruptible,
/// and finish in the background).
const DEADLINE_SLACK: Duration = Duration::from_millis(20);

struct App {
    registry: Registry,
    metrics: Metrics,
    token: Option<String>,
    /// One permit per call that may run; held by the call's blocking task, so a
    /// call answered `timeout` while it still compiles keeps its permit until done.
    call_permits: Arc<tokio::sync::Semaphore>,
    max_concurrent_calls: usize,
}

type Shared = Arc<App>;

/// Serves until SIGTERM or SIGINT, then finishes in-flight requests for up to the
/// grace period. Prints `listening on ADDR` on stdout once ready.
pub fn run(options: ServeOptions) -> Result<(), String> {
    if !options.listen.ip().is_loopback() && options.token.is_none() {
        return Err(format!(
            "refusing to listen on {} without a token: give --token (or ORE_TOKEN), or listen on loopback",
            options.listen
        ));
    }
    let store = match &options.state {
        Some(path) => Some(Store::open(path).map_err(|e| format!("cannot open state file {}: {e}", path.display()))?),
        None => None,
    };
    let registry = Registry::new(options.settings.clone(), store).map_err(|e| e.to_string())?;
    crate::runtime::set_process_array_limit(options.max_total_array_bytes);
    let descriptors = crate::runtime::process::raise_descriptor_limit();
    tracing::info!(descriptors, "open file limit");
    let app = Arc::new(App {
        registry,
        metrics: Metrics::default(),
        token: options.token.clone(),
        call_permits: Arc::new(tokio::sync::Semaphore::new(options.max_concurrent_calls)),
        max_concurrent_calls: options.max_concurrent_calls,
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("ore-serve")
        .thread_stack_size(CALL_STACK_BYTES)
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    runtime.block_on(serve(app, options))
}

async fn serve(app: Shared, options: ServeOptions) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(options.listen).await.map_err(|e| format!("cannot listen on {}: {e}", options.listen))?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    println!("listening on {address}");
    crate::runtime::output::flush();
    tracing::info!(%address, "serving");

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let router = router(app.clone(), options.max_body_bytes, options.connections.body_timeout);
    let mut server = std::pin::pin!(listen::serve(listener, router, options.connections, stop_rx));
    tokio::select! {
        () = &mut server => return Ok(()),
        () = shutdown_signal() => {}
    }
    tracing::info!(grace_ms = options.grace.as_millis() as u64, "shutting down: no new connections");
    let _ = stop_tx.send(true);
    tokio::select! {
        () = &mut server => Ok(()),
        () = tokio::time::sleep(options.grace) => {
            let running = app.metrics.calls_in_flight.load(Relaxed);
            tracing::warn!(running, "grace period over; exiting with calls still running");
            Ok(())
        }
    }
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("installing a SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

fn router(app: Shared, max_body_bytes: usize, body_timeout: Duration) -> Router {
    let api = Router::new()
        .route("/v1/namespaces", get(list_namespaces))
        .route("/v1/namespaces/{ns}/modules", post(add_module).get(list_modules))
        .route("/v1/namespaces/{ns}/modules/{name}", get(module).delete(delete_module))
        .route("/v1/namespaces/{ns}/call", post(call))
        .route("/v1/namespaces/{ns}/functions", get(functions))
        .route("/v1/namespaces/{ns}", delete(delete_namespace))
        .route("/metrics", get(metrics))
        .route_layer(axum::middleware::from_fn_with_state(app.clone(), authenticate));
    Router::new()
        .merge(api)
        .route("/healthz", get(|| async { Json(json!({"status": "ok"})) }))
        .fallback(|| async { error_response(StatusCode::NOT_FOUND, "not_found", "no such endpoint".into()) })
        .method_not_allowed_fallback(|method: axum::http::Method, uri: axum::http::Uri| async move {
            error_response(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", format!("{uri} does not take {method}"))
        })
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(axum::middleware::from_fn(move |request, next| listen::read_body_within(body_timeout, max_body_bytes, request, next)))
        .with_state(app)
}

/// `{"error": {"kind": KIND, "message": MESSAGE}}` with `status`.
fn error_response(status: StatusCode, kind: &str, message: String) -> Response {
    (status, Json(json!({"error": {"kind": kind, "message": message}}))).into_response()
}

/// The status and `kind` each error is answered with (docs/SERVER.md lists them).
fn classify(error: &ServiceError) -> (StatusCode, &'static str) {
    use crate::runtime::RuntimeError;
    match error {
        ServiceError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
        ServiceError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
        ServiceError::Compile(_) => (StatusCode::BAD_REQUEST, "compile"),
        ServiceError::Limit(_) => (StatusCode::BAD_REQUEST, "limit"),
        ServiceError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "limit"),
        ServiceError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
        ServiceError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
        ServiceError::Runtime { error: RuntimeError::Timeout, .. } => (StatusCode::REQUEST_TIMEOUT, "timeout"),
        ServiceError::Runtime { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "runtime"),
        ServiceError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        ServiceError::Busy(_) => (StatusCode::SERVICE_UNAVAILABLE, "busy"),
    }
}

impl App {
    fn fail(&self, error: ServiceError) -> Response {
        let (status, kind) = classify(&error);
        self.metrics.error(kind);
        match error {
            ServiceError::Compile(e) => {
                (status, Json(json!({"error": {"kind": kind, "message": e.to_string(), "diagnostics": e.diagnostics}}))).into_response()
            }
            other => error_response(status, kind, other.to_string()),
        }
    }
}

/// Parses a JSON body; a body that is too large or unreadable is an error like any other.
fn parse_body<T: DeserializeOwned>(body: Result<Bytes, BytesRejection>) -> Result<T, ServiceError> {
    let bytes = body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ServiceError::TooLarge(rejection.body_text()),
        _ => ServiceError::BadRequest(rejection.body_text()),
    })?;
    serde_json::from_slice(&bytes).map_err(|e| ServiceError::BadRequest(format!("invalid JSON body: {e}")))
}

/// `Path`, with a rejection (a segment that is not UTF-8, say) answered as the
/// documented JSON error like every other.
struct ApiPath<T>(T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, Response> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(ApiPath(value)),
            Err(rejection) => Err(error_response(StatusCode::BAD_REQUEST, "bad_request", rejection.body_text())),
        }
    }
}

/// Runs `f` on the blocking pool: compiling and calling may take long.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, ServiceError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| ServiceError::Internal(format!("request task failed: {e}")))
}

async fn authenticate(
    State(app): State<Shared>,
    headers: HeaderMap,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if let Some(token) = &app.token {
        let given = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
        if !given.is_some_and(|g| constant_time_eq(g.as_bytes(), token.as_bytes())) {
            app.metrics.error("unauthorized");
            let mut response = error_response(StatusCode::UNAUTHORIZED, "unauthorized", "missing or wrong bearer token".into());
            response.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
            return response;
        }
    }
    next.run(request).await
}

/// Compares without an early exit, so response timing does not reveal a prefix.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn add_module(State(app): State<Shared>, ApiPath(ns): ApiPath<String>, body: Result<Bytes, BytesRejection>) -> Response {
    let request: ModuleRequest = match parse_body(body) {
        Ok(r) => r,
        Err(e) => return app.fail(e),
    };
    let name = request.name.clone();
    let created = move |functions| (StatusCode::CREATED, Json(json!({"module": name, "functions": functions}))).into_response();
    answer(app, move |r| r.add_module(&ns, request), created).await
}

async fn call(State(app): State<Shared>, ApiPath(ns): ApiPath<String>, body: Result<Bytes, BytesRejection>) -> Response {
    let request: CallRequest = match parse_body(body) {
        Ok(r) => r,
        Err(e) => return app.fail(e),
    };
    let timeout = match app.registry.call_timeout(&request) {
        Ok(t) => t,
        Err(e) => return app.fail(e),
    };
    let Ok(permit) = app.call_permits.clone().try_acquire_owned() else {
        let busy = ServiceError::Busy(format!("the server is running its limit of {} calls; retry later", app.max_concurrent_calls));
        let mut response = app.fail(busy);
        // Calls end within their deadline, so a second is a fair first guess.
        response.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
        return response;
    };
    app.metrics.calls.fetch_add(1, Relaxed);
    app.metrics.calls_in_flight.fetch_add(1, Relaxed);
    let worker = app.clone();
    let task = blocking(move || {
        let _permit = permit;
        worker.registry.call(&ns, request, timeout)
    });
    // The engine answers `timeout` itself at the deadline, except while compiling.
    let outcome = match tokio::time::timeout(timeout + DEADLINE_SLACK, task).await {
        Ok(joined) => joined.and_then(|r| r),
        Err(_) => Err(ServiceError::Runtime { error: crate::runtime::RuntimeError::Timeout, trace: Default::default() }),
    };
    app.metrics.calls_in_flight.fetch_sub(1, Relaxed);
    let outcome = match outcome {
        Ok(o) => o,
        Err(e) => return app.fail(e),
    };
    // The result (or error) first: it is what a reader looks for.
    let (status, head) = match outcome.result {
        Ok(value) => (StatusCode::OK, ("result", value)),
        Err(error) => {
            let (status, kind) = classify(&error);
            app.metrics.error(kind);
            let mut detail = json!({"kind": kind, "message": error.to_string()});
            if let ServiceError::Runtime { trace, .. } = &error {
                detail["trace"] = json!(trace.frames);
                if trace.omitted > 0 {
                    detail["trace_omitted"] = json!(trace.omitted);
                }
            }
            (status, ("error", detail))
        }
    };
    let mut body = serde_json::Map::new();
    body.insert(head.0.into(), head.1);
    body.insert("stdout".into(), json!(outcome.stdout));
    if !outcome.stderr.is_empty() {
        body.insert("stderr".into(), json!(outcome.stderr));
    }
    if outcome.output_truncated {
        body.insert("output_truncated".into(), json!(true));
    }
    body.insert("compiled".into(), json!(outcome.compiled));
    body.insert("elapsed_us".into(), json!(outcome.elapsed_us));
    (status, Json(serde_json::Value::Object(body))).into_response()
}

/// Answers with what `f` makes of the registry, run on the blocking pool (it may
/// wait for a module being added, or free a JIT'd namespace), as `ok` renders it.
async fn answer<T: Send + 'static>(
    app: Shared,
    f: impl FnOnce(&Registry) -> Result<T, ServiceError> + Send + 'static,
    ok: impl FnOnce(T) -> Response,
) -> Response {
    let worker = app.clone();
    match blocking(move || f(&worker.registry)).await.and_then(|r| r) {
        Ok(value) => ok(value),
        Err(e) => app.fail(e),
    }
}

fn no_content(_: ()) -> Response {
    StatusCode::NO_CONTENT.into_response()
}

async fn delete_module(State(app): State<Shared>, ApiPath((ns, name)): ApiPath<(String, String)>) -> Response {
    answer(app, move |r| r.delete_module(&ns, &name), no_content).await
}

async fn delete_namespace(State(app): State<Shared>, ApiPath(ns): ApiPath<String>) -> Response {
    answer(app, move |r| r.delete_namespace(&ns), no_content).await
}

async fn list_namespaces(State(app): State<Shared>) -> Response {
    answer(app, |r| Ok(r.namespaces()), |list| Json(json!({"namespaces": list})).into_response()).await
}

async fn list_modules(State(app): State<Shared>, ApiPath(ns): ApiPath<String>) -> Response {
    answer(app, move |r| r.modules(&ns), |list| Json(json!({"modules": list})).into_response()).await
}

async fn module(State(app): State<Shared>, ApiPath((ns, name)): ApiPath<(String, String)>) -> Response {
    answer(app, move |r| r.module(&ns, &name), |module| Json(module).into_response()).await
}

async fn functions(State(app): State<Shared>, ApiPath(ns): ApiPath<String>) -> Response {
    answer(app, move |r| r.functions(&ns), |list| Json(json!({"functions": list})).into_response()).await
}

async fn metrics(State(app): State<Shared>) -> Response {
    let text = app.metrics.render(&app.registry);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}
