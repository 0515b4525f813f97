//! The accept loop, ours instead of `axum::serve` because that one has no knobs: every
//! connection is HTTP/1.1 through hyper with a header read timeout (a client that has not
//! sent a whole request head within it is disconnected, also between keep-alive requests),
//! and the number of open connections is capped by a semaphore.
//!
//! At the cap the loop stops accepting until a connection closes: new clients wait in the
//! kernel's listen backlog (their connect succeeds, the answer comes once a place frees)
//! instead of being refused, and no descriptor is spent on them. Slow or idle holders of a
//! place lose it within the header or body read timeout, so the wait is bounded. A warning
//! says so, once a minute at most while it lasts.
//!
//! HTTP/2 is not offered: hyper's automatic protocol detection waits for the client's
//! first bytes with no timeout, which is the hole this closes; browsers speak HTTP/2 only
//! over TLS, which a reverse proxy in front terminates.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tower::ServiceExt;

/// How the accept loop treats connections.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnLimits {
    /// Time a client has to send a whole request head.
    pub header_read_timeout: Duration,
    /// Connections open at once; more wait to be accepted.
    pub max_connections: usize,
}

/// At most one "connection limit reached" warning per this long.
const WARN_EVERY: Duration = Duration::from_secs(60);

/// Serves `app` on `listener` until `shutdown` completes, then lets open connections
/// finish their requests (hyper's graceful shutdown) and returns when all have closed.
pub(crate) async fn run(
    listener: TcpListener,
    app: Router,
    limits: ConnLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    // `stop` tells connections to finish; every connection task holds a `done` receiver,
    // so `done_tx.closed()` resolves once the last one has ended.
    let (stop_tx, stop_rx) = watch::channel(());
    let (done_tx, done_rx) = watch::channel(());
    let mut shutdown = pin!(shutdown);
    let mut warned: Option<Instant> = None;
    loop {
        let permit = match slots.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                if warned.is_none_or(|t| t.elapsed() >= WARN_EVERY) {
                    tracing::warn!(
                        max_connections = limits.max_connections,
                        "connection limit {} reached: new connections wait until one closes \
                         (raise `max_connections` with the file-descriptor limit if this is \
                         normal load)",
                        limits.max_connections
                    );
                    warned = Some(Instant::now());
                }
                tokio::select! {
                    p = slots.clone().acquire_owned() => match p {
                        Ok(p) => p,
                        Err(_) => break,
                    },
                    _ = &mut shutdown => break,
                }
            }
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    accept_error(e).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let app = app.clone();
        let mut stop = stop_rx.clone();
        let done = done_rx.clone();
        tokio::spawn(async move {
            let _place = permit;
            let _done = done;
            serve_connection(stream, peer, app, limits, &mut stop).await;
        });
    }
    drop(listener);
    drop(stop_rx);
    drop(done_rx);
    let _ = stop_tx.send(());
    done_tx.closed().await;
    Ok(())
}

async fn serve_connection(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    app: Router,
    limits: ConnLimits,
    stop: &mut watch::Receiver<()>,
) {
    // What `into_make_service_with_connect_info` would add: the peer, for `ClientIp`.
    let service = app.map_request(move |mut req: axum::http::Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        req
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let mut conn = pin!(builder
        .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
        .with_upgrades());
    let mut stopping = false;
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(%peer, error = %e, "connection ended with an error");
                }
                break;
            }
            _ = stop.changed(), if !stopping => {
                stopping = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

/// Per-connection errors (the peer reset before accept) are nothing; others, such as
/// running out of file descriptors, are logged and retried after a second, as hyper did.
async fn accept_error(e: std::io::Error) {
    use std::io::ErrorKind::*;
    if matches!(
        e.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %e, "accepting a connection failed");
    tokio::time::sleep(Duration::from_secs(1)).await;
}
