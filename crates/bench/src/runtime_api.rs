//! The local Lambda Runtime API (plain HTTP/1.1 on 127.0.0.1), one per cold
//! start: `/next` long-polls until the harness hands out an event, and every
//! arrival and hand-out is reported, with its `Instant`, to the harness in
//! the order the server saw them.

use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use tokio::sync::{Mutex, mpsc};

use crate::server::{self, Server};

const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:111122223333:function:coverage-bench";
/// The deadline each invocation is given, as a 30-second function timeout.
pub const DEADLINE_MS: u128 = 30_000;

/// One event to hand out.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub request_id: String,
    pub body: Bytes,
}

/// What the function did, as the Runtime API saw it.
#[derive(Debug)]
pub enum Report {
    /// A `/next` request arrived (the function is idle from here on).
    Next { at: Instant },
    /// The `/next` answer carrying this invocation was handed to the HTTP
    /// server to write.
    HandedOut { request_id: String, at: Instant },
    /// `/invocation/{id}/response` arrived (headers read; `at` is taken
    /// before the body is collected).
    Response {
        request_id: String,
        at: Instant,
        body: Bytes,
    },
    /// `/invocation/{id}/error`.
    InvocationError {
        request_id: String,
        at: Instant,
        body: Bytes,
    },
    /// `/init/error`.
    InitError { at: Instant, body: Bytes },
    /// A request the Runtime API does not have.
    Unexpected { at: Instant, what: String },
}

struct Shared {
    /// Only one `/next` is answered at a time, as Lambda does for one
    /// execution environment.
    invocations: Mutex<mpsc::Receiver<Invocation>>,
    reports: mpsc::UnboundedSender<Report>,
}

/// The Runtime API of one execution environment.
#[derive(Debug)]
pub struct RuntimeApi {
    server: Server,
    invocations: mpsc::Sender<Invocation>,
    reports: mpsc::UnboundedReceiver<Report>,
}

impl RuntimeApi {
    /// Listen on a free port of 127.0.0.1.
    pub async fn start() -> Result<RuntimeApi> {
        let (invocations_tx, invocations_rx) = mpsc::channel(1);
        let (reports_tx, reports_rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            invocations: Mutex::new(invocations_rx),
            reports: reports_tx,
        });
        let service = service_fn(move |request| {
            let shared = shared.clone();
            async move { Ok::<_, Infallible>(handle(&shared, request).await) }
        });
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        let server = server::serve(addr, None, service).await?;
        Ok(RuntimeApi {
            server,
            invocations: invocations_tx,
            reports: reports_rx,
        })
    }

    /// `host:port`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> SocketAddr {
        self.server.addr
    }

    /// Queue the next event; the pending (or next) `/next` hands it out.
    pub async fn invoke(&self, invocation: Invocation) -> Result<()> {
        self.invocations
            .send(invocation)
            .await
            .map_err(|_| anyhow!("the Runtime API stopped"))
    }

    /// The next thing the function did (`None`: the server stopped).
    pub async fn report(&mut self) -> Option<Report> {
        self.reports.recv().await
    }
}

async fn handle(shared: &Shared, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let at = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let report = match (&method, segments.as_slice()) {
        (&Method::GET, ["2018-06-01", "runtime", "invocation", "next"]) => {
            return next(shared, at).await;
        }
        (&Method::POST, ["2018-06-01", "runtime", "invocation", id, "response"]) => {
            Report::Response {
                request_id: (*id).to_owned(),
                at,
                body: body(request).await,
            }
        }
        (&Method::POST, ["2018-06-01", "runtime", "invocation", id, "error"]) => {
            Report::InvocationError {
                request_id: (*id).to_owned(),
                at,
                body: body(request).await,
            }
        }
        (&Method::POST, ["2018-06-01", "runtime", "init", "error"]) => Report::InitError {
            at,
            body: body(request).await,
        },
        _ => {
            let _ = shared.reports.send(Report::Unexpected {
                at,
                what: format!("{method} {path}"),
            });
            return status(StatusCode::NOT_FOUND);
        }
    };
    // The harness ending first is the only way this send fails.
    let _ = shared.reports.send(report);
    status(StatusCode::ACCEPTED)
}

/// The long poll: report the arrival, wait for the harness's next event.
async fn next(shared: &Shared, at: Instant) -> Response<Full<Bytes>> {
    let _ = shared.reports.send(Report::Next { at });
    let invocation = shared.invocations.lock().await.recv().await;
    let Some(invocation) = invocation else {
        return status(StatusCode::SERVICE_UNAVAILABLE);
    };
    let response = match invocation_response(&invocation) {
        Ok(response) => response,
        Err(error) => {
            let _ = shared.reports.send(Report::Unexpected {
                at: Instant::now(),
                what: format!("cannot hand out {}: {error:#}", invocation.request_id),
            });
            return status(StatusCode::INTERNAL_SERVER_ERROR);
        }
    };
    let _ = shared.reports.send(Report::HandedOut {
        request_id: invocation.request_id,
        at: Instant::now(),
    });
    response
}

fn invocation_response(invocation: &Invocation) -> Result<Response<Full<Bytes>>> {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .context("the clock is before 1970")?
        .as_millis();
    let trace_id = format!(
        "Root=1-{:08x}-{:0>24};Parent={:0>16};Sampled=0",
        now_ms / 1000,
        hex(&invocation.request_id),
        "ba5e"
    );
    let mut response = Response::new(Full::new(invocation.body.clone()));
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    let mut set = |name: &'static str, value: &str| -> Result<()> {
        let value = HeaderValue::from_str(value)
            .with_context(|| format!("{name} value {value:?} is not a header value"))?;
        headers.insert(HeaderName::from_static(name), value);
        Ok(())
    };
    set("lambda-runtime-aws-request-id", &invocation.request_id)?;
    set(
        "lambda-runtime-deadline-ms",
        &(now_ms + DEADLINE_MS).to_string(),
    )?;
    set("lambda-runtime-invoked-function-arn", FUNCTION_ARN)?;
    set("lambda-runtime-trace-id", &trace_id)?;
    Ok(response)
}

/// The last 24 hex digits of the request id's bytes: a trace id unique per invocation.
fn hex(text: &str) -> String {
    let digits: String = text.bytes().map(|byte| format!("{byte:02x}")).collect();
    let start = digits.len().saturating_sub(24);
    digits[start..].to_owned()
}

async fn body(request: Request<Incoming>) -> Bytes {
    match request.into_body().collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(error) => Bytes::from(format!("(the body could not be read: {error})")),
    }
}

fn status(code: StatusCode) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = code;
    response
}
