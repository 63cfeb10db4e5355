//! The HTTP/1.1 server both fakes run on: an accept loop over plain TCP (the
//! Runtime API) or TLS (the AWS endpoints), keep-alive connections, a
//! `Server` handle that stops the loop and every connection when dropped, and
//! the `Journal` of what the AWS side saw (to take the first event apart).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::Service;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;

/// Timestamped notes from the fake AWS side: TLS handshakes and requests.
#[derive(Debug, Default)]
pub struct Journal {
    entries: Mutex<Vec<(Instant, String)>>,
}

impl Journal {
    pub fn note(&self, at: Instant, what: String) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.push((at, what));
        }
    }

    /// The notes taken from `since` on, oldest first.
    pub fn since(&self, since: Instant) -> Vec<(Instant, String)> {
        let mut notes: Vec<(Instant, String)> = self
            .entries
            .lock()
            .map(|entries| {
                entries
                    .iter()
                    .filter(|(at, _)| *at >= since)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        notes.sort_by_key(|(at, _)| *at);
        notes
    }
}

/// What a listener saw, for the report: how many connections (with TLS,
/// handshakes) and why handshakes failed (an untrusted CA shows up here).
#[derive(Debug, Default)]
pub struct ConnectionStats {
    connections: AtomicU64,
    handshake_failures: Mutex<Vec<String>>,
}

impl ConnectionStats {
    pub fn connections(&self) -> u64 {
        self.connections.load(Ordering::Relaxed)
    }

    pub fn handshake_failures(&self) -> Vec<String> {
        self.handshake_failures
            .lock()
            .map(|failures| failures.clone())
            .unwrap_or_default()
    }
}

/// A running listener. Dropping it aborts the accept loop, whose `JoinSet`
/// aborts the open connections with it (a killed function's long-poll
/// cannot leak into the next cold start).
#[derive(Debug)]
pub struct Server {
    pub addr: SocketAddr,
    pub stats: Arc<ConnectionStats>,
    task: JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// TLS for a listener, and where its handshakes are noted.
#[derive(Clone)]
pub struct Tls {
    pub acceptor: TlsAcceptor,
    pub journal: Arc<Journal>,
}

/// Listen on `addr` (port 0: a free one) and serve every connection with
/// `service`, inside TLS when `tls` is given.
pub async fn serve<S>(addr: SocketAddr, tls: Option<Tls>, service: S) -> Result<Server>
where
    S: Service<Request<Incoming>, Response = Response<Full<Bytes>>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let addr = listener
        .local_addr()
        .context("the listener has no address")?;
    let stats = Arc::new(ConnectionStats::default());
    let task = tokio::spawn(accept_loop(listener, addr, tls, service, stats.clone()));
    Ok(Server { addr, stats, task })
}

async fn accept_loop<S>(
    listener: TcpListener,
    addr: SocketAddr,
    tls: Option<Tls>,
    service: S,
    stats: Arc<ConnectionStats>,
) where
    S: Service<Request<Incoming>, Response = Response<Full<Bytes>>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else {
                    // Out of descriptors or similar: back off instead of spinning.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                // Small request/response pairs: Nagle would add delay to the latency we measure.
                let _ = stream.set_nodelay(true);
                stats.connections.fetch_add(1, Ordering::Relaxed);
                let (tls, service, stats) = (tls.clone(), service.clone(), stats.clone());
                connections.spawn(async move {
                    match tls {
                        None => serve_connection(stream, service).await,
                        Some(tls) => {
                            let accepted = Instant::now();
                            match tls.acceptor.accept(stream).await {
                                Ok(stream) => {
                                    tls.journal.note(accepted, format!("TCP accepted on {addr}"));
                                    tls.journal.note(Instant::now(), format!("TLS established on {addr}"));
                                    serve_connection(stream, service).await;
                                }
                                Err(error) => {
                                    if let Ok(mut failures) = stats.handshake_failures.lock() {
                                        failures.push(error.to_string());
                                    }
                                }
                            }
                        }
                    }
                });
            }
            // Reap finished connections so the set does not grow over a long run.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn serve_connection<I, S>(io: I, service: S)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: Service<Request<Incoming>, Response = Response<Full<Bytes>>, Error = Infallible>
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    // A connection error is the client going away (a killed function); the
    // function's own view of failures is what the harness measures.
    let _ = http1::Builder::new()
        .keep_alive(true)
        .serve_connection(TokioIo::new(io), service)
        .await;
}
