//! A small HTTP/1 and HTTP/2 server you can put on the internet, for any
//! `tower::Service<http::Request<hyper::body::Incoming>>`: an axum `Router` with the
//! [`CallbackLayer`](tencent_room_callback::CallbackLayer), or the layer around a `tower::service_fn`.
//! Its API is [`ServeConfig`] (the limits, each with its default), [`bind`], [`serve`] and
//! [`BindError`]; it reads no environment variable (the receiver's program maps its `ROOM_CALLBACK_*`
//! variables onto a [`ServeConfig`]).
//!
//! ```no_run
//! use std::time::Duration;
//! use axum::{routing::any, Router};
//! use tencent_room_callback_receiver::serve::{self, ServeConfig};
//! use tencent_room_callback::{CallbackLayer, Config, MemberLeave};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let app = Router::new()
//!     .route("/callback", any(|| async { "not a callback this app handles" }))
//!     .layer(CallbackLayer::new(Config::new(1400000000)).path("/callback").on(
//!         |event: MemberLeave, _meta| async move {
//!             println!("{:?} left {}", event.members, event.room_id);
//!             Ok(())
//!         },
//!     ))
//!     // Its handlers made services once, as `axum::serve` does (see [`serve`]).
//!     .with_state(());
//! let mut config = ServeConfig::default(); // the limits below
//! config.idle_timeout = Duration::from_secs(30); // and the write timeout with it
//! let listener = serve::bind("0.0.0.0:3000").await?; // "cannot listen on 0.0.0.0:3000: ..."
//! serve::serve(listener, app, config, shutdown_signal()).await;
//! # Ok(())
//! # }
//! # async fn shutdown_signal() {} // Ctrl-C or SIGTERM: the receiver's main has one
//! ```
//!
//! `axum::serve` and a bare hyper-util loop have no head, idle or write timeout, no connection cap and
//! no bound on the request bodies held at once: a few thousand connections that send nothing, or a
//! header a byte at a time, or 400 KB headers that never end, or HTTP/2 connections that give no
//! flow-control window for the answer, hold their memory and file descriptors for as long as they
//! like, until a real callback cannot connect; a few connections sending 1 MiB bodies on 100 streams
//! each take the process to gigabytes. [`serve`] bounds each of them ([`ServeConfig`] has the
//! numbers). Every connection has a deadline in every state but one (the application's own time,
//! below):
//!
//! - **First byte and head.** A connection must complete its first request head within
//!   [`ServeConfig::header_timeout`] (10 s) of its accept, whatever it sends: nothing at all, an
//!   incomplete head, or an HTTP/2 preface and no request (hyper's own header timer covers none of
//!   these three). On HTTP/1 each later head must be complete within the same time of its first byte.
//!   Closed without an answer.
//! - **Head size.** HTTP/1 heads are read into a buffer of at most [`ServeConfig::max_header_bytes`]
//!   (16 KiB) with at most [`ServeConfig::max_headers`] (64) fields: a larger head is answered 431 and
//!   the connection closed. HTTP/2: the same size as `SETTINGS_MAX_HEADER_LIST_SIZE`, and at most
//!   [`ServeConfig::max_concurrent_streams`] (100) requests at once on a connection.
//! - **Writing.** Once the application has answered, the response must make progress: a connection
//!   with a response to write that takes none of it for [`ServeConfig::write_timeout`] (the idle
//!   timeout unless set) is dropped, the TCP connection closed (no `GOAWAY` to wait on). An HTTP/2
//!   peer that sets `SETTINGS_INITIAL_WINDOW_SIZE` to 0 and an HTTP/1 peer that stops reading cannot
//!   keep the connection.
//! - **Idle.** A connection with no request in progress for [`ServeConfig::idle_timeout`] (60 s) is
//!   closed (HTTP/2 with `GOAWAY`), and dropped if it does not close within the header timeout.
//! - **Request bodies in memory.** The requests in progress may together declare at most
//!   [`ServeConfig::max_buffered_bytes`] (64 MiB) of body: one reservation per request by its
//!   declared length (up to [`ServeConfig::max_body_charge`], 1 MiB, which is also what a body of
//!   undeclared length counts as), made before the application is called and given back when it
//!   answers. A request that does not fit is answered 503 at once, its body unread; bodies above 64
//!   KiB may take only three quarters of the budget, so that callbacks of a few KiB still fit while
//!   large bodies hold the rest. A request without a body costs nothing.
//! - **Connections.** At most [`ServeConfig::max_connections`] (10,000) at once, all clients
//!   together. One more is **accepted and closed at once**, with nothing read or written: the client
//!   sees the connection closed (Tencent counts a failed delivery and retries, where retries are
//!   on). Not a 503: an answer must wait for the request to arrive (a response written before it
//!   is not HTTP, and closing a socket with the request unread resets it, so the client may not even
//!   see the 503), and waiting means a buffer, a timer and a descriptor for each refused connection,
//!   which is what the cap is there to bound. Closing costs one `accept` and one `close`.
//! - **Accept errors.** Out of file descriptors (`EMFILE`, `ENFILE`), memory or buffers, the accept
//!   loop waits (5 ms, doubling up to 250 ms) and tries again, serving the open connections
//!   meanwhile; an error about one connection (reset, aborted) is skipped at once. The loop never
//!   ends on an error.
//! - **Shutdown.** Once the `shutdown` future resolves the listener is closed; connections with no
//!   request in progress are closed at once, the others finish their requests (HTTP/1 then closes,
//!   HTTP/2 sends `GOAWAY`) within [`ServeConfig::shutdown_grace`] (10 s); then whatever is left is
//!   dropped and [`serve`] returns.
//!
//! The application's own time (from a request's complete head until it answers) has no limit from
//! the server: bound it in the application (the layer reads a callback's body within
//! [`Config::body_timeout`](tencent_room_callback::Config::body_timeout), 1 s). Nor is there a limit
//! per client address: one address can take every connection, so put a proxy or firewall in front
//! for that.
//!
//! Refused connections, requests answered 503, connections dropped for a response not written and
//! accept errors are logged with `tracing` (WARN, each kind at most one event a second, counting the
//! others), as are the start and the end of a shutdown (INFO).

mod config;
mod conn;

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response};
use http_body::Body;
use hyper::body::Incoming;
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tower_service::Service;

pub use config::ServeConfig;

/// The first wait after an accept error that is not about one connection.
const MIN_BACKOFF: Duration = Duration::from_millis(5);
/// The longest wait between two accepts after errors.
const MAX_BACKOFF: Duration = Duration::from_millis(250);
/// Once the grace period is over, how long the connections have to go after they are told to.
const LAST_WAIT: Duration = Duration::from_millis(500);

/// The listen backlog [`bind`] asks for: connections the kernel has completed and the accept loop
/// has not taken yet. The kernel caps it (`net.core.somaxconn`, 4096 by default since Linux 5.4).
/// `TcpListener::bind` asks for 128: a burst beyond that has its SYNs dropped, and each such client
/// retries a second later, half of Tencent's 2 s.
pub const LISTEN_BACKLOG: u32 = 4096;

/// Listens on `addr` (a `host:port`, resolved; the first of its addresses that can be listened on)
/// with a backlog of [`LISTEN_BACKLOG`], or says which address could not be listened on and why.
pub async fn bind(addr: &str) -> Result<TcpListener, BindError> {
    let error = |source| BindError {
        addr: addr.to_owned(),
        source,
    };
    let mut last = None;
    for resolved in tokio::net::lookup_host(addr).await.map_err(error)? {
        match listen(resolved) {
            Ok(listener) => return Ok(listener),
            Err(e) => last = Some(e),
        }
    }
    Err(error(last.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "the name resolves to no address",
        )
    })))
}

/// A listener on one address, as `TcpListener::bind` makes it but for the backlog.
fn listen(addr: std::net::SocketAddr) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    // As std and Tokio do on Unix: a restart may listen again at once.
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// An address [`bind`] could not listen on. Its `Display` names it: `cannot listen on
/// 127.0.0.1:3000: Address already in use (os error 98)`.
#[derive(Debug)]
pub struct BindError {
    addr: String,
    source: io::Error,
}

impl BindError {
    /// The address as given.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Why it could not be listened on.
    pub fn io_error(&self) -> &io::Error {
        &self.source
    }
}

impl fmt::Display for BindError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot listen on {}: {}", self.addr, self.source)
    }
}

impl StdError for BindError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&self.source)
    }
}

/// Serves `service` on `listener`, HTTP/1 and HTTP/2 (told apart by the HTTP/2 preface, no TLS),
/// within `config`'s limits (see the [module docs](self)), until `shutdown` resolves and the requests
/// in progress have finished or the grace period is over.
///
/// Each connection gets a clone of `service`, and each request a clone readied before it is called
/// (as tower's `oneshot` does). Errors never end it: it returns only after `shutdown`. Spawns its
/// tasks with `tokio::spawn`: call it on a Tokio runtime with time and I/O enabled.
///
/// An axum `Router` is served as given: call `with_state(())` on it first, as `axum::serve` does
/// (through `into_make_service`), or each request turns the handler it reaches, and the layers
/// around it, into a service anew (a few allocations). A [`CallbackLayer`](tencent_room_callback::CallbackLayer) in
/// front of the whole `Router` (`layer.layer(router)`) rather than inside it (`Router::layer`) takes
/// a callback before axum routes it and boxes its body: `examples/server.rs` does both, ≈ 6,000
/// instructions less per callback than such an app as it is (`SUITE=servers
/// scripts/instructions.sh`).
///
/// The server's own work per request is a few atomic operations and one clock read: no timer is
/// set, no task woken and no lock taken for it (each connection has one timer, moved only when a
/// deadline comes earlier than it).
pub async fn serve<S, B, F>(listener: TcpListener, service: S, config: ServeConfig, shutdown: F)
where
    S: Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn StdError + Send + Sync>>,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
    F: Future<Output = ()>,
{
    let limits = conn::Limits {
        header_timeout: config.header_timeout,
        idle_timeout: config.idle_timeout,
        write_timeout: config.write_timeout_or_idle(),
    };
    let shared = Arc::new(conn::Shared {
        budget: conn::Budget::new(config.max_buffered_bytes, config.max_body_charge),
        stalled: conn::Every::new(),
    });
    let (stop_tx, stop_rx) = watch::channel(None);
    let (abort_tx, abort_rx) = watch::channel(false);
    let mut builder = auto::Builder::new(conn::Executor { abort: abort_rx });
    builder
        .http1()
        .keep_alive(true)
        .half_close(false)
        // The connection's own task times heads (hyper's timer would also close idle keep-alive
        // connections at the header timeout).
        .header_read_timeout(None)
        .max_buf_size(config.max_header_bytes.max(ServeConfig::MIN_HEADER_BYTES));
    // Up to hyper's own bound, the connection's service counts the fields (see HYPER_MAX_HEADERS).
    let max_headers = config.max_headers.max(1);
    if max_headers > conn::HYPER_MAX_HEADERS {
        builder.http1().max_headers(max_headers);
    }
    builder
        .http2()
        .max_concurrent_streams(config.max_concurrent_streams)
        .max_header_list_size(u32::try_from(config.max_header_bytes).unwrap_or(u32::MAX));
    let builder = Arc::new(builder);
    let permits = Arc::new(Semaphore::new(
        config.max_connections.clamp(1, Semaphore::MAX_PERMITS),
    ));
    let mut connections = JoinSet::new();
    let refused = conn::Every::new();
    let failed = conn::Every::new();
    let mut backoff = MIN_BACKOFF;

    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, _peer)) => {
                backoff = MIN_BACKOFF;
                match permits.clone().try_acquire_owned() {
                    Ok(permit) => {
                        let _ = stream.set_nodelay(true);
                        connections.spawn(conn::run(
                            stream,
                            service.clone(),
                            builder.clone(),
                            limits,
                            stop_rx.clone(),
                            max_headers,
                            shared.clone(),
                            permit,
                        ));
                    }
                    // Over the cap: closed at once (see the module docs).
                    Err(_) => {
                        drop(stream);
                        if let Some(n) = refused.tick() {
                            log::refused(n, config.max_connections);
                        }
                    }
                }
            }
            Err(e) if about_one_connection(&e) => {}
            Err(e) => {
                if let Some(n) = failed.tick() {
                    log::accept_failed(&e, n, backoff);
                }
                tokio::select! {
                    biased;
                    () = &mut shutdown => break,
                    () = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
        // Finished connections, reaped as we go.
        while connections.try_join_next().is_some() {}
    }

    drop(listener);
    while connections.try_join_next().is_some() {}
    log::stopping(connections.len(), config.shutdown_grace);
    let deadline = conn::later(Instant::now(), config.shutdown_grace);
    let _ = stop_tx.send(Some(deadline));
    let drained = tokio::time::timeout_at(conn::later(deadline, LAST_WAIT), async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    let dropped = connections.len();
    if drained.is_err() {
        connections.shutdown().await;
    }
    // HTTP/2 streams still running.
    let _ = abort_tx.send(true);
    log::stopped(dropped);
}

/// An accept error about one connection (it went before it was accepted): the next accept may
/// succeed at once.
fn about_one_connection(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
    )
}

/// The server's few log events.
mod log {
    use std::io;
    use std::time::Duration;

    /// The events' target: the module's path.
    const TARGET: &str = "tencent_room_callback_receiver::serve";

    pub(super) fn refused(count: u64, max: usize) {
        tracing::warn!(
            target: TARGET,
            refused = count,
            max_connections = max,
            "connection limit reached: connections refused (accepted and closed at once)"
        );
    }

    pub(super) fn accept_failed(error: &io::Error, count: u64, backoff: Duration) {
        tracing::warn!(
            target: TARGET,
            %error,
            errors = count,
            retry_in_ms = u64::try_from(backoff.as_millis()).unwrap_or(u64::MAX),
            "accept failed; retrying"
        );
    }

    pub(super) fn write_stalled(count: u64, timeout: Duration) {
        tracing::warn!(
            target: TARGET,
            cut = count,
            write_timeout_ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
            "connections dropped: a response not written within the write timeout (the peer gives \
             no flow-control window or does not read)"
        );
    }

    pub(super) fn busy(count: u64, max: usize) {
        tracing::warn!(
            target: TARGET,
            refused = count,
            max_buffered_bytes = max,
            "requests answered 503: the bodies of the requests in progress hold the buffered-bytes \
             budget"
        );
    }

    pub(super) fn stopping(open: usize, grace: Duration) {
        tracing::info!(
            target: TARGET,
            open_connections = open,
            grace_ms = u64::try_from(grace.as_millis()).unwrap_or(u64::MAX),
            "stopping: no new connections; requests in progress may finish"
        );
    }

    pub(super) fn stopped(dropped: usize) {
        if dropped > 0 {
            tracing::warn!(
                target: TARGET,
                dropped_connections = dropped,
                "stopped: connections still open after the grace period were dropped"
            );
        } else {
            tracing::info!(target: TARGET, "stopped: every connection closed");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use bytes::Bytes;
    use http_body_util::Full;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    use super::*;

    /// Serves a 200 "ok" on a free loopback port with `config`; the address, the signal that stops
    /// it, and its task.
    async fn start(
        config: ServeConfig,
    ) -> (
        std::net::SocketAddr,
        tokio::sync::oneshot::Sender<()>,
        tokio::task::JoinHandle<()>,
    ) {
        let listener = bind("127.0.0.1:0").await.expect("a loopback port");
        let addr = listener.local_addr().expect("its address");
        let service = tower::service_fn(|_req: Request<Incoming>| async {
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
        });
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(listener, service, config, async {
            let _ = stopped.await;
        }));
        (addr, stop, server)
    }

    /// Serves `service` on a free loopback port with `config`; the address, the signal that stops
    /// it, and its task.
    async fn start_with<S, B>(
        config: ServeConfig,
        service: S,
    ) -> (
        std::net::SocketAddr,
        tokio::sync::oneshot::Sender<()>,
        tokio::task::JoinHandle<()>,
    )
    where
        S: Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
        S::Future: Send + 'static,
        S::Error: Into<Box<dyn StdError + Send + Sync>>,
        B: Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<Box<dyn StdError + Send + Sync>>,
    {
        let listener = bind("127.0.0.1:0").await.expect("a loopback port");
        let addr = listener.local_addr().expect("its address");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(listener, service, config, async {
            let _ = stopped.await;
        }));
        (addr, stop, server)
    }

    /// Sends a request on a new connection (`Connection: close`) and reads the whole answer.
    async fn get(addr: std::net::SocketAddr) -> String {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .expect("write");
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer).await;
        answer
    }

    /// Reads until the server closes the connection: how long that took.
    async fn closed_after(stream: &mut TcpStream) -> Duration {
        let started = Instant::now();
        let mut buf = [0u8; 256];
        while let Ok(Ok(n)) =
            tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf)).await
        {
            if n == 0 {
                break;
            }
        }
        started.elapsed()
    }

    #[tokio::test]
    async fn serves_closes_silent_connections_and_stops() {
        let config = ServeConfig {
            header_timeout: Duration::from_millis(300),
            shutdown_grace: Duration::from_millis(200),
            ..ServeConfig::default()
        };
        let (addr, stop, server) = start(config).await;
        assert!(get(addr).await.starts_with("HTTP/1.1 200"));

        let mut silent = TcpStream::connect(addr).await.expect("connect");
        let took = closed_after(&mut silent).await;
        assert!(took >= Duration::from_millis(250), "{took:?}");
        assert!(took < Duration::from_secs(2), "{took:?}");

        let _ = stop.send(());
        tokio::time::timeout(Duration::from_secs(5), server)
            .await
            .expect("stopped within the grace period")
            .expect("the server task");
        assert!(TcpStream::connect(addr).await.is_err(), "still listening");
    }

    #[tokio::test]
    async fn one_connection_past_the_cap_is_closed_at_once() {
        let config = ServeConfig {
            max_connections: 1,
            ..ServeConfig::default()
        };
        let (addr, stop, server) = start(config).await;
        let held = TcpStream::connect(addr).await.expect("connect");
        // The held one accepted first (accepts are in order).
        let mut over = TcpStream::connect(addr).await.expect("connect");
        assert!(closed_after(&mut over).await < Duration::from_secs(2));
        drop(held);
        let mut answer = String::new();
        for _ in 0..100 {
            answer = get(addr).await;
            if !answer.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer:?}");
        let _ = stop.send(());
        let _ = server.await;
    }

    #[tokio::test]
    async fn limits_too_large_or_too_small_do_not_panic() {
        let config = ServeConfig {
            header_timeout: Duration::MAX,
            idle_timeout: Duration::MAX,
            write_timeout: Some(Duration::MAX),
            shutdown_grace: Duration::ZERO,
            max_connections: usize::MAX,
            max_header_bytes: 0,
            max_headers: 0,
            max_concurrent_streams: 0,
            max_buffered_bytes: usize::MAX,
            max_body_charge: usize::MAX,
        };
        let (addr, stop, server) = start(config).await;
        // At least one field is allowed: this request has two.
        let answer = get(addr).await;
        assert!(answer.starts_with("HTTP/1.1 431"), "{answer:?}");
        let _ = stop.send(());
        tokio::time::timeout(Duration::from_secs(5), server)
            .await
            .expect("stopped")
            .expect("the server task");
    }

    /// Sends `head` on a new connection and reads until the server closes it: the whole answer.
    async fn answer_to(addr: std::net::SocketAddr, head: &str) -> String {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        stream.write_all(head.as_bytes()).await.expect("write");
        let mut answer = String::new();
        let _ =
            tokio::time::timeout(Duration::from_secs(10), stream.read_to_string(&mut answer)).await;
        answer
    }

    /// A head with `fields` header fields (`Host` one of them), `Connection: close` another.
    fn head_with(fields: usize) -> String {
        let mut head = String::from("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n");
        for n in 2..fields {
            head.push_str(&format!("X-H{n}: v\r\n"));
        }
        head + "\r\n"
    }

    #[tokio::test]
    async fn more_header_fields_than_the_bound_are_answered_431_as_hyper_does() {
        let (addr, stop, server) = start(ServeConfig::default()).await;
        assert!(answer_to(addr, &head_with(64))
            .await
            .starts_with("HTTP/1.1 200"));
        // Over ours (64), counted by the connection's service; over hyper's own (100), by hyper:
        // the same answer, and the connection closed (read_to_string returned).
        let without_date = |answer: String| {
            answer
                .lines()
                .filter(|l| !l.starts_with("date:"))
                .collect::<Vec<_>>()
                .join("\n")
        };
        let ours = without_date(answer_to(addr, &head_with(65)).await);
        let hypers = without_date(answer_to(addr, &head_with(101)).await);
        assert!(
            ours.starts_with("HTTP/1.1 431 Request Header Fields Too Large"),
            "{ours:?}"
        );
        assert!(ours.contains("connection: close"), "{ours:?}");
        assert_eq!(ours, hypers);
        // A bound above hyper's own is hyper's to enforce.
        let config = ServeConfig {
            max_headers: 150,
            ..ServeConfig::default()
        };
        let (wide, stop_wide, server_wide) = start(config).await;
        assert!(answer_to(wide, &head_with(150))
            .await
            .starts_with("HTTP/1.1 200"));
        assert!(answer_to(wide, &head_with(151))
            .await
            .starts_with("HTTP/1.1 431"));
        let _ = stop.send(());
        let _ = stop_wide.send(());
        let _ = server.await;
        let _ = server_wide.await;
    }

    #[tokio::test]
    async fn an_idle_timeout_shorter_than_the_header_timeout_still_closes_on_time() {
        // The connection's timer starts at the header timeout from the accept; a request must bring
        // it forward to the (shorter) idle timeout from its end.
        let config = ServeConfig {
            header_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_millis(300),
            ..ServeConfig::default()
        };
        let (addr, stop, server) = start(config).await;
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        for _ in 0..2 {
            stream
                .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                .await
                .expect("write");
            let mut answer = Vec::new();
            let mut buf = [0u8; 256];
            while !answer.ends_with(b"ok") {
                let n = stream.read(&mut buf).await.expect("read");
                assert!(n > 0, "closed before the answer");
                answer.extend_from_slice(&buf[..n]);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let took = closed_after(&mut stream).await + Duration::from_millis(100);
        assert!(took >= Duration::from_millis(250), "{took:?}");
        assert!(took < Duration::from_secs(2), "{took:?}");
        let _ = stop.send(());
        let _ = server.await;
    }

    /// A body of `len` bytes in 64 KiB frames, each given as hyper asks for it.
    struct Chunks {
        left: usize,
    }

    impl Body for Chunks {
        type Data = Bytes;
        type Error = Infallible;

        fn poll_frame(
            mut self: std::pin::Pin<&mut Self>,
            _cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Infallible>>> {
            let n = self.left.min(64 * 1024);
            if n == 0 {
                return std::task::Poll::Ready(None);
            }
            self.left -= n;
            std::task::Poll::Ready(Some(Ok(http_body::Frame::data(Bytes::from(vec![b'x'; n])))))
        }
    }

    /// A connection whose peer does not read: connected with a small receive buffer, the request
    /// sent, nothing read for `wait`; then everything it can read: the bytes and whether the server
    /// closed it (end of stream or reset) within 5 s.
    async fn unread_answer(
        addr: std::net::SocketAddr,
        request: &[u8],
        wait: Duration,
    ) -> (usize, bool) {
        let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
        socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
        let mut stream = socket.connect(addr).await.expect("connect");
        stream.write_all(request).await.expect("write");
        tokio::time::sleep(wait).await;
        let mut total = 0;
        let mut buf = vec![0u8; 64 * 1024];
        let give_up = Instant::now() + Duration::from_secs(5);
        loop {
            match tokio::time::timeout_at(give_up, stream.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return (total, true),
                Ok(Ok(n)) => total += n,
                Err(_) => return (total, false),
            }
        }
    }

    #[tokio::test]
    async fn an_http1_peer_that_does_not_read_is_dropped_at_the_write_timeout() {
        const LEN: usize = 16 * 1024 * 1024;
        let config = ServeConfig {
            write_timeout: Some(Duration::from_millis(300)),
            ..ServeConfig::default()
        };
        // Streamed in frames (the body's progress stops) and in one frame (hyper holds it all: the
        // socket's refusals stop it).
        let streamed = tower::service_fn(|_req: Request<Incoming>| async {
            Ok::<_, Infallible>(Response::new(Chunks { left: LEN }))
        });
        let whole = tower::service_fn(|_req: Request<Incoming>| async {
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(vec![b'x'; LEN]))))
        });
        let request = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        let (a, stop_a, server_a) = start_with(config.clone(), streamed).await;
        let (b, stop_b, server_b) = start_with(config, whole).await;
        for addr in [a, b] {
            let (read, closed) = unread_answer(addr, request, Duration::from_millis(1500)).await;
            assert!(closed, "{addr}: still open after {read} bytes");
            assert!(read < LEN, "{addr}: {read} bytes: the whole answer");
        }
        // A reader that reads gets the whole answer, however long it takes.
        let (read, closed) = unread_answer(
            a,
            b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            Duration::ZERO,
        )
        .await;
        assert!(closed && read > LEN, "{read} bytes");
        for (stop, server) in [(stop_a, server_a), (stop_b, server_b)] {
            let _ = stop.send(());
            tokio::time::timeout(Duration::from_secs(5), server)
                .await
                .expect("stopped")
                .expect("the server task");
        }
    }

    #[tokio::test]
    async fn an_http2_stream_without_a_window_is_dropped_at_the_write_timeout() {
        let timeout = Duration::from_millis(500);
        let config = ServeConfig {
            write_timeout: Some(timeout),
            ..ServeConfig::default()
        };
        let (addr, stop, server) = start(config).await;
        let stream = TcpStream::connect(addr).await.expect("connect");
        let (mut sender, conn) =
            hyper::client::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new())
                .initial_stream_window_size(0)
                .handshake::<_, http_body_util::Empty<Bytes>>(hyper_util::rt::TokioIo::new(stream))
                .await
                .expect("the handshake");
        let conn = tokio::spawn(conn);
        let req = Request::get(format!("http://{addr}/"))
            .body(http_body_util::Empty::new())
            .expect("a request");
        let res = sender.send_request(req).await.expect("the response head");
        assert_eq!(res.status(), 200);
        let answered = Instant::now();
        // The body cannot come; the connection goes at the write timeout.
        let ended = tokio::time::timeout(Duration::from_secs(10), conn).await;
        let took = answered.elapsed();
        assert!(ended.is_ok(), "still open after {took:?}");
        assert!(
            took + Duration::from_millis(100) >= timeout && took < timeout + Duration::from_secs(1),
            "dropped {took:?} after the answer's head"
        );
        let _ = stop.send(());
        let _ = server.await;
    }

    #[tokio::test]
    async fn bodies_past_the_budget_are_answered_503_and_small_ones_keep_their_headroom() {
        // 1 MiB in all, 768 KiB for bodies above 64 KiB; one request charged 512 KiB at most.
        let config = ServeConfig {
            max_buffered_bytes: 1024 * 1024,
            max_body_charge: 512 * 1024,
            ..ServeConfig::default()
        };
        // Requests with a body wait until told (their reservation held); the others answer at once.
        let release = Arc::new(tokio::sync::Notify::new());
        let service = {
            let release = release.clone();
            tower::service_fn(move |req: Request<Incoming>| {
                let release = release.clone();
                async move {
                    if req.body().size_hint().exact() != Some(0) {
                        release.notified().await;
                    }
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
                }
            })
        };
        let (addr, stop, server) = start_with(config, service).await;
        // A head with a declared body, the body not sent: the server answers or holds it.
        let send = |head: String| async move {
            let mut stream = TcpStream::connect(addr).await.expect("connect");
            stream.write_all(head.as_bytes()).await.expect("write");
            stream
        };
        let declared =
            |len: usize| format!("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {len}\r\n\r\n");
        // Answered at once, or nothing within 300 ms (held).
        let answer = |mut stream: TcpStream| async move {
            let mut answer = Vec::new();
            let mut buf = [0u8; 1024];
            let give_up = Instant::now() + Duration::from_millis(300);
            while let Ok(Ok(n)) = tokio::time::timeout_at(give_up, stream.read(&mut buf)).await {
                if n == 0 {
                    break;
                }
                answer.extend_from_slice(&buf[..n]);
            }
            (String::from_utf8_lossy(&answer).into_owned(), stream)
        };
        let mut held = Vec::new();
        // A large body declared above the most one request is charged: 512 KiB reserved.
        let (a, stream) = answer(send(declared(10 * 1024 * 1024)).await).await;
        assert_eq!(a, "", "the first large body is held");
        held.push(stream);
        // 300 KiB more would take large bodies past 768 KiB: 503 at once, and the connection closed.
        let (b, _) = answer(send(declared(300 * 1024)).await).await;
        assert!(b.starts_with("HTTP/1.1 503"), "{b:?}");
        assert!(
            b.contains("retry-after: 1") && b.contains("connection: close"),
            "{b:?}"
        );
        // A body of undeclared length counts as the most (512 KiB): refused too.
        let chunked = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".to_owned();
        let (c, _) = answer(send(chunked).await).await;
        assert!(c.starts_with("HTTP/1.1 503"), "{c:?}");
        // Small bodies have the last quarter: eight of 60 KiB fit (512 + 480 <= 1024)...
        for _ in 0..8 {
            let (small, stream) = answer(send(declared(60 * 1024)).await).await;
            assert_eq!(small, "", "a small body is held");
            held.push(stream);
        }
        // ... a ninth does not.
        let (d, _) = answer(send(declared(60 * 1024)).await).await;
        assert!(d.starts_with("HTTP/1.1 503"), "{d:?}");
        // A request without a body is never refused.
        assert!(get(addr).await.starts_with("HTTP/1.1 200"));
        // Once they are answered, their reservations are back.
        release.notify_waiters();
        for stream in held {
            let (answer, _) = answer(stream).await;
            assert!(answer.starts_with("HTTP/1.1 200"), "{answer:?}");
        }
        let (e, stream) = answer(send(declared(700 * 1024)).await).await;
        assert_eq!(e, "", "a large body is held again");
        drop(stream);
        let _ = stop.send(());
        let _ = server.await;
    }

    #[tokio::test]
    async fn bind_names_the_address() {
        let taken = bind("127.0.0.1:0").await.expect("a port");
        let addr = taken.local_addr().expect("its address").to_string();
        let e = bind(&addr).await.expect_err("the port is taken");
        assert_eq!(e.addr(), addr);
        assert!(
            e.to_string()
                .starts_with(&format!("cannot listen on {addr}: ")),
            "{e}"
        );
    }
}
