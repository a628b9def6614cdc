//! One connection: what it is doing (a head arriving, requests in progress, idle), the deadline that
//! follows from it, and the task that enforces it around hyper-util's connection.
//!
//! Three wrappers keep [`Conn`] up to date, all in the connection's own task for HTTP/1:
//! - [`Io`] around the socket notes the time of the first byte read while no request is in progress
//!   (an HTTP/1 head starting);
//! - [`ConnService`] around the application's service counts a request in progress from its complete
//!   head (hyper calls the service then) ...
//! - ... until [`Tracked`], around its response body, has given its last frame or is dropped.
//!
//! The task sleeps until the next deadline, or until a request ends (the idle clock starts), a head's
//! first byte arrives (the head clock starts), the connection ends, or the server stops.

use std::error::Error as StdError;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use http::{Request, Response, Version};
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use hyper_util::server::conn::auto;
use pin_project_lite::pin_project;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{watch, Notify, OwnedSemaphorePermit};
use tokio::time::Instant;
use tower_service::Service;

/// A time not yet noted.
const NONE: u64 = u64::MAX;

/// The state of one connection, shared by its task and its wrappers. Times are milliseconds since
/// `start`.
#[derive(Debug)]
pub(super) struct Conn {
    start: Instant,
    /// Woken when a request ends and none is left in progress, or a head's first byte arrives.
    notify: Notify,
    /// Requests from their complete head until their response body is written (or dropped).
    in_flight: AtomicUsize,
    /// Request heads completed.
    requests: AtomicU64,
    /// When the last request in progress ended.
    idle_since: AtomicU64,
    /// When the first byte of the HTTP/1 head in progress arrived (`NONE`: no head in progress).
    head_since: AtomicU64,
    /// The connection speaks HTTP/2 (known from its first request).
    h2: AtomicBool,
}

/// Why a connection is closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Why {
    /// A request head not complete in time (the first one: since the accept).
    Head,
    /// No request in progress for the idle timeout.
    Idle,
}

impl Conn {
    fn new() -> Conn {
        Conn {
            start: Instant::now(),
            notify: Notify::new(),
            in_flight: AtomicUsize::new(0),
            requests: AtomicU64::new(0),
            idle_since: AtomicU64::new(0),
            head_since: AtomicU64::new(NONE),
            h2: AtomicBool::new(false),
        }
    }

    /// Milliseconds since the connection started.
    fn now(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(NONE - 1)
    }

    fn at(&self, millis: u64, after: Duration) -> Instant {
        later(later(self.start, Duration::from_millis(millis)), after)
    }

    /// The next deadline and what it is for; `None` while a request is in progress (a request's own
    /// time is the application's to bound).
    fn due(&self, limits: &Limits) -> Option<(Instant, Why)> {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return None;
        }
        if self.requests.load(Ordering::Acquire) == 0 {
            return Some((later(self.start, limits.header_timeout), Why::Head));
        }
        let idle = self.at(self.idle_since.load(Ordering::Acquire), limits.idle_timeout);
        let head = self.head_since.load(Ordering::Acquire);
        if head != NONE && !self.h2.load(Ordering::Relaxed) {
            let head = self.at(head, limits.header_timeout);
            if head < idle {
                return Some((head, Why::Head));
            }
        }
        Some((idle, Why::Idle))
    }

    /// Whether the connection is between requests with nothing to answer: no complete head yet, or
    /// an HTTP/1 head arriving after the last response.
    fn nothing_to_answer(&self) -> bool {
        self.in_flight.load(Ordering::Acquire) == 0
            && (self.requests.load(Ordering::Acquire) == 0
                || self.head_since.load(Ordering::Acquire) != NONE)
    }

    /// `n` bytes were read from the socket.
    fn read(&self, n: usize) {
        if n > 0
            && self.in_flight.load(Ordering::Acquire) == 0
            && self.head_since.load(Ordering::Relaxed) == NONE
            && !self.h2.load(Ordering::Relaxed)
        {
            self.head_since.store(self.now(), Ordering::Release);
            self.notify.notify_one();
        }
    }
}

/// `at` + `after`, or a time decades away when that does not fit (a `Duration::MAX` setting).
pub(super) fn later(at: Instant, after: Duration) -> Instant {
    at.checked_add(after)
        .or_else(|| at.checked_add(Duration::from_secs(30 * 365 * 86_400)))
        .unwrap_or(at)
}

/// A request in progress; dropped once its response body is written, or with its future.
#[derive(Debug)]
pub(super) struct InFlight(Arc<Conn>);

impl InFlight {
    fn start(conn: &Arc<Conn>, version: Version) -> InFlight {
        conn.in_flight.fetch_add(1, Ordering::AcqRel);
        conn.requests.fetch_add(1, Ordering::AcqRel);
        conn.head_since.store(NONE, Ordering::Release);
        if version == Version::HTTP_2 {
            conn.h2.store(true, Ordering::Relaxed);
        }
        InFlight(conn.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        // The idle clock first: the task reads it only once it sees no request in progress.
        self.0.idle_since.store(self.0.now(), Ordering::Release);
        if self.0.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.notify.notify_one();
        }
    }
}

/// What one connection needs of the [`ServeConfig`](super::ServeConfig).
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    pub(super) header_timeout: Duration,
    pub(super) idle_timeout: Duration,
}

/// The server's signals to its connections: `Some(deadline)` once it stops, the time by which
/// every connection must be gone.
pub(super) type Stop = watch::Receiver<Option<Instant>>;

/// hyper-util's builder with the executor of [`serve`](super::serve).
pub(super) type Builder = auto::Builder<Executor>;

/// Serves one accepted connection with `builder` and `service`, within `limits`, until it ends, a
/// deadline closes it, or the server stops. `_permit` is its place under the connection cap.
pub(super) async fn run<S, B>(
    stream: TcpStream,
    service: S,
    builder: Arc<Builder>,
    limits: Limits,
    mut stop: Stop,
    _permit: OwnedSemaphorePermit,
) where
    S: Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn StdError + Send + Sync>>,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    let conn = Arc::new(Conn::new());
    let io = TokioIo::new(Io {
        stream,
        conn: conn.clone(),
    });
    let service = ConnService {
        inner: service,
        conn: conn.clone(),
    };
    let connection = builder.serve_connection(io, service);
    tokio::pin!(connection);

    // `Some(deadline)` once closing: gracefully first, dropped at the deadline.
    let mut closing: Option<Instant> = None;
    let mut stopping = stop.borrow().is_some();
    if let Some(deadline) = *stop.borrow() {
        connection.as_mut().graceful_shutdown();
        closing = Some(deadline);
    }
    loop {
        let due = match closing {
            Some(deadline) => Some((deadline, None)),
            None => conn.due(&limits).map(|(at, why)| (at, Some(why))),
        };
        let sleep = async {
            match due {
                Some((at, _)) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            // Ended by itself: the peer closed, an error, or a graceful close completed.
            _ = connection.as_mut() => return,
            () = conn.notify.notified(), if closing.is_none() => {}
            changed = stop.changed(), if !stopping => {
                stopping = true;
                let deadline = match changed {
                    Ok(()) => *stop.borrow(),
                    // The server is gone: stop now.
                    Err(_) => Some(Instant::now()),
                };
                let deadline = deadline.unwrap_or_else(Instant::now);
                if conn.nothing_to_answer() {
                    return;
                }
                connection.as_mut().graceful_shutdown();
                // An idle close already under way keeps its own, earlier, deadline.
                closing = Some(closing.map_or(deadline, |d| d.min(deadline)));
            }
            () = sleep => match due {
                // Past the closing deadline: drop it.
                Some((_, None)) => return,
                // Checked again: a request may have started or ended since.
                _ => match conn.due(&limits) {
                    Some((at, Why::Head)) if at <= Instant::now() => return,
                    Some((at, Why::Idle)) if at <= Instant::now() => {
                        connection.as_mut().graceful_shutdown();
                        closing = Some(later(Instant::now(), limits.header_timeout));
                    }
                    _ => {}
                },
            },
        }
    }
}

/// The socket, noting each read in the connection's state.
#[derive(Debug)]
pub(super) struct Io {
    stream: TcpStream,
    conn: Arc<Conn>,
}

impl AsyncRead for Io {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        ready!(Pin::new(&mut self.stream).poll_read(cx, buf))?;
        self.conn.read(buf.filled().len().saturating_sub(before));
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Io {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// The application's service as hyper calls it on one connection: each call readies a clone (as
/// tower's `oneshot`) and counts as a request in progress until its response body is written.
#[derive(Debug, Clone)]
pub(super) struct ConnService<S> {
    inner: S,
    conn: Arc<Conn>,
}

impl<S, B> hyper::service::Service<Request<Incoming>> for ConnService<S>
where
    S: Service<Request<Incoming>, Response = Response<B>> + Clone,
{
    type Response = Response<Tracked<B>>;
    type Error = S::Error;
    type Future = CallFuture<S>;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        let in_flight = InFlight::start(&self.conn, req.version());
        CallFuture {
            state: CallState::Ready {
                service: self.inner.clone(),
                req: Some(req),
            },
            in_flight: Some(in_flight),
        }
    }
}

pin_project! {
    /// A call of the application's service: readied, called, its response body wrapped.
    pub(super) struct CallFuture<S>
    where
        S: Service<Request<Incoming>>,
    {
        #[pin]
        state: CallState<S>,
        in_flight: Option<InFlight>,
    }
}

pin_project! {
    #[project = CallStateProj]
    enum CallState<S>
    where
        S: Service<Request<Incoming>>,
    {
        Ready { service: S, req: Option<Request<Incoming>> },
        Called { #[pin] fut: S::Future },
    }
}

impl<S, B> Future for CallFuture<S>
where
    S: Service<Request<Incoming>, Response = Response<B>>,
{
    type Output = Result<Response<Tracked<B>>, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                CallStateProj::Ready { service, req } => {
                    ready!(service.poll_ready(cx))?;
                    // Always there: the state turns to `Called` as it is taken.
                    let Some(req) = req.take() else {
                        return Poll::Pending;
                    };
                    let fut = service.call(req);
                    this.state.set(CallState::Called { fut });
                }
                CallStateProj::Called { fut } => {
                    let res = ready!(fut.poll(cx))?;
                    let in_flight = this.in_flight.take();
                    return Poll::Ready(Ok(res.map(|body| Tracked { body, in_flight })));
                }
            }
        }
    }
}

pin_project! {
    /// A response body that ends its request's time in progress once its last frame is given (or
    /// it is dropped).
    #[derive(Debug)]
    pub(super) struct Tracked<B> {
        #[pin]
        body: B,
        in_flight: Option<InFlight>,
    }
}

impl<B: Body> Body for Tracked<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let frame = ready!(this.body.poll_frame(cx));
        if !matches!(frame, Some(Ok(_))) {
            *this.in_flight = None;
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// Runs the tasks hyper spawns (an HTTP/2 connection's streams) on Tokio, each until it ends or
/// the server's last deadline, whichever comes first.
#[derive(Debug, Clone)]
pub(super) struct Executor {
    pub(super) abort: watch::Receiver<bool>,
}

impl<F> hyper::rt::Executor<F> for Executor
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, fut: F) {
        let mut abort = self.abort.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = fut => {}
                _ = abort.wait_for(|abort| *abort) => {}
            }
        });
    }
}
