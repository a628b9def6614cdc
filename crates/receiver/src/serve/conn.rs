//! One connection: what it is doing (a head arriving, requests in progress, responses being written,
//! idle), the deadline that follows from it, and the task that enforces it around hyper-util's
//! connection.
//!
//! Three wrappers keep [`Conn`] up to date, all in the connection's own task for HTTP/1:
//! - [`Io`] around the socket notes bytes read while no request is in progress (a head arriving);
//! - [`ConnService`] around the application's service counts a request in progress from its complete
//!   head (hyper calls the service then), reserves its declared body length in the server's
//!   [`Budget`] (or answers 503) ...
//! - ... until [`Tracked`], around its response body, has given its last frame or is dropped (for
//!   HTTP/2 in the stream's own task), noting the time: the idle clock starts. From the response until
//!   then the response is being written: each frame it gives is progress, and the task cuts the
//!   connection when none comes for the write timeout.
//!
//! The task polls hyper-util's connection, then reads that state. One timer serves the whole
//! connection: never set later than the deadline in force, it fires early when that deadline has
//! moved later meanwhile, and is then set again (see [`Timer`]). A request moves the deadline later,
//! so it costs the task no timer, no wake-up and no lock: a few atomic operations, one clock read
//! (its end), and the task is polled only when the connection, its timer or the server's stop
//! signal has something for it.

use std::error::Error as StdError;
use std::future::Future;
use std::io;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll, Waker};
use std::time::Duration;

use http::header::{CONNECTION, RETRY_AFTER};
use http::{HeaderValue, Request, Response, StatusCode, Version};
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use hyper_util::server::conn::auto;
use pin_project_lite::pin_project;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{watch, OwnedSemaphorePermit};
use tokio::time::{Instant, Sleep};
use tower_service::Service;

/// The state of one connection, shared by its task and its wrappers. Times are milliseconds since
/// `start`.
#[derive(Debug)]
pub(super) struct Conn {
    start: Instant,
    /// Requests from their complete head until their response body is written (or dropped).
    in_flight: AtomicUsize,
    /// Request heads completed.
    requests: AtomicU64,
    /// When the last request in progress ended.
    idle_since: AtomicU64,
    /// Bytes were read while no request was in progress, and no request has started since: on
    /// HTTP/1 after the first request, a head arriving.
    head_bytes: AtomicBool,
    /// The connection speaks HTTP/2 (known from its first request).
    h2: AtomicBool,
    /// Responses the application has given and whose body is not all given to hyper (nor dropped):
    /// being written.
    writing: AtomicUsize,
    /// Bumped by every response body frame given to hyper and every response finished: the progress
    /// the task watches while responses are being written.
    written: AtomicU64,
    /// The last write to the socket could not go (the peer does not read): set by [`Io`], cleared
    /// by its next write that goes.
    write_blocked: AtomicBool,
    /// Writes to the socket that went after it was blocked: the task tells one block from the next.
    unblocked: AtomicU64,
    /// What the connections share: the budget of request bodies, the reports.
    shared: Arc<Shared>,
}

/// Why a connection is closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Why {
    /// A request head not complete in time (the first one: since the accept).
    Head,
    /// No request in progress for the idle timeout.
    Idle,
}

/// What every connection of one [`serve`](super::serve) shares.
#[derive(Debug)]
pub(super) struct Shared {
    /// The request bodies' bytes.
    pub(super) budget: Budget,
    /// Connections cut for a response not written in time, for the log.
    pub(super) stalled: Every,
}

impl Conn {
    fn new(shared: Arc<Shared>) -> Conn {
        Conn {
            start: Instant::now(),
            in_flight: AtomicUsize::new(0),
            requests: AtomicU64::new(0),
            idle_since: AtomicU64::new(0),
            head_bytes: AtomicBool::new(false),
            h2: AtomicBool::new(false),
            writing: AtomicUsize::new(0),
            written: AtomicU64::new(0),
            write_blocked: AtomicBool::new(false),
            unblocked: AtomicU64::new(0),
            shared,
        }
    }

    /// Milliseconds since the connection started.
    fn now(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// The deadline in force, and what it is for; `None` while a request is in progress (a request's
    /// own time is the application's to bound). `head`: when the task saw the HTTP/1 head in progress
    /// start, if one is.
    fn due(&self, limits: &Limits, head: Option<Instant>) -> Option<(Instant, Why)> {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return None;
        }
        if self.requests.load(Ordering::Acquire) == 0 {
            return Some((later(self.start, limits.header_timeout), Why::Head));
        }
        let idle_since = Duration::from_millis(self.idle_since.load(Ordering::Acquire));
        let idle = later(later(self.start, idle_since), limits.idle_timeout);
        if let Some(head) = head {
            let head = later(head, limits.header_timeout);
            if head < idle {
                return Some((head, Why::Head));
            }
        }
        Some((idle, Why::Idle))
    }

    /// Whether an HTTP/1 head after the first request has started to arrive and is not complete:
    /// `Some(requests)` (the heads completed so far, which tells one head from the next).
    fn head_in_progress(&self) -> Option<u64> {
        if !self.head_bytes.load(Ordering::Relaxed)
            || self.in_flight.load(Ordering::Acquire) > 0
            || self.h2.load(Ordering::Relaxed)
        {
            return None;
        }
        match self.requests.load(Ordering::Acquire) {
            0 => None,
            n => Some(n),
        }
    }

    /// Whether the connection is between requests with nothing to answer: no complete head yet, or
    /// an HTTP/1 head arriving after the last response.
    fn nothing_to_answer(&self) -> bool {
        self.in_flight.load(Ordering::Acquire) == 0
            && (self.requests.load(Ordering::Acquire) == 0
                || (self.head_bytes.load(Ordering::Relaxed) && !self.h2.load(Ordering::Relaxed)))
    }

    /// A write to the socket went, or could not go (in the connection's task): one relaxed load when
    /// it went and the socket was not blocked.
    fn wrote(&self, written: &Poll<io::Result<usize>>) {
        match written {
            Poll::Pending => self.write_blocked.store(true, Ordering::Relaxed),
            Poll::Ready(Ok(n)) if *n > 0 && self.write_blocked.load(Ordering::Relaxed) => {
                self.unblocked.fetch_add(1, Ordering::Relaxed);
                self.write_blocked.store(false, Ordering::Relaxed);
            }
            Poll::Ready(_) => {}
        }
    }

    /// `n` bytes were read from the socket (in the connection's task).
    fn read(&self, n: usize) {
        if n > 0
            && !self.head_bytes.load(Ordering::Relaxed)
            && self.in_flight.load(Ordering::Acquire) == 0
        {
            self.head_bytes.store(true, Ordering::Relaxed);
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
pub(super) struct InFlight {
    conn: Arc<Conn>,
    /// Its reservation in the server's [`Budget`], until the application answers.
    charge: usize,
    /// The application has answered: its response is being written.
    writing: bool,
}

impl InFlight {
    /// Called in the connection's task, as hyper calls the service.
    fn start(conn: &Arc<Conn>, version: Version) -> InFlight {
        conn.in_flight.fetch_add(1, Ordering::AcqRel);
        conn.requests.fetch_add(1, Ordering::AcqRel);
        if conn.head_bytes.load(Ordering::Relaxed) {
            conn.head_bytes.store(false, Ordering::Relaxed);
        }
        if version == Version::HTTP_2 && !conn.h2.load(Ordering::Relaxed) {
            conn.h2.store(true, Ordering::Relaxed);
        }
        InFlight {
            conn: conn.clone(),
            charge: 0,
            writing: false,
        }
    }

    /// The response is given to hyper: the body's reservation goes back (the application has read
    /// what it reads), the response is being written.
    fn responding(&mut self) {
        self.release();
        if !self.writing {
            self.writing = true;
            self.conn.writing.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// A frame of the response body was given to hyper.
    fn wrote(&self) {
        self.conn.written.fetch_add(1, Ordering::Relaxed);
    }

    fn release(&mut self) {
        if self.charge > 0 {
            self.conn
                .shared
                .budget
                .release(std::mem::take(&mut self.charge));
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.release();
        if self.writing {
            // Progress first: the task looks for it while it sees responses being written.
            self.conn.written.fetch_add(1, Ordering::Relaxed);
            self.conn.writing.fetch_sub(1, Ordering::AcqRel);
        }
        // The idle clock first: the task reads it only once it sees no request in progress. No
        // wake-up: the task's timer is never later than the idle deadline this starts (see `Timer`).
        self.conn
            .idle_since
            .store(self.conn.now(), Ordering::Release);
        self.conn.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The bytes of request bodies the requests in progress may hold, all connections together
/// ([`ServeConfig::max_buffered_bytes`](super::ServeConfig::max_buffered_bytes)), reserved by
/// declared length: one atomic update when a request with a body starts, one when it is answered.
#[derive(Debug)]
pub(super) struct Budget {
    /// Reserved now.
    used: AtomicUsize,
    /// What all the requests may reserve together.
    limit: usize,
    /// What the requests with a large body may reserve together: the rest is kept for small ones.
    large_limit: usize,
    /// The most one request is charged.
    max_charge: usize,
    /// Requests refused, for the log.
    pub(super) refused: Every,
}

/// A body of at most this many bytes is small: it may use the whole budget. A larger one only
/// [`LARGE_SHARE`] of it.
const SMALL_BODY: usize = 64 * 1024;

/// The part of the budget that large bodies may take together: three quarters, the rest is kept for
/// small ones.
const fn large_share(limit: usize) -> usize {
    limit - limit / 4
}

impl Budget {
    pub(super) fn new(limit: usize, max_charge: usize) -> Budget {
        Budget {
            used: AtomicUsize::new(0),
            limit,
            large_limit: large_share(limit),
            max_charge,
            refused: Every::new(),
        }
    }

    /// What a request whose body has this size hint is charged: its declared length up to the most
    /// one request is charged, that most when it declares none, nothing without a body.
    fn charge(&self, hint: &SizeHint) -> usize {
        match hint.upper() {
            Some(0) => 0,
            Some(declared) => {
                usize::try_from(declared).map_or(self.max_charge, |d| d.min(self.max_charge))
            }
            None => self.max_charge,
        }
    }

    /// Reserves `charge` (not zero) if it fits: what was reserved.
    fn reserve(&self, charge: usize) -> Option<usize> {
        let cap = if charge <= SMALL_BODY {
            self.limit
        } else {
            self.large_limit
        };
        if cap == 0 {
            return None;
        }
        let charge = charge.min(cap);
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(charge).filter(|&n| n <= cap)
            })
            .ok()
            .map(|_| charge)
    }

    fn release(&self, charge: usize) {
        self.used.fetch_sub(charge, Ordering::AcqRel);
    }

    /// Reserved now (for the tests).
    #[cfg(test)]
    pub(super) fn used(&self) -> usize {
        self.used.load(Ordering::Acquire)
    }
}

/// Counts events of one kind from any task and lets one report through a second, with how many
/// there were since the last one. A clock read per event: for events that are rare, or refusals.
#[derive(Debug)]
pub(super) struct Every {
    base: Instant,
    /// Milliseconds since `base` of the last report, plus one (0: never).
    last: AtomicU64,
    count: AtomicU64,
}

impl Every {
    pub(super) fn new() -> Every {
        Every {
            base: Instant::now(),
            last: AtomicU64::new(0),
            count: AtomicU64::new(0),
        }
    }

    /// One more event: `Some(count)` when it is time to report them.
    pub(super) fn tick(&self) -> Option<u64> {
        self.count.fetch_add(1, Ordering::Relaxed);
        let now = u64::try_from(self.base.elapsed().as_millis())
            .unwrap_or(u64::MAX - 1)
            .saturating_add(1);
        let last = self.last.load(Ordering::Relaxed);
        if last != 0 && now.saturating_sub(last) < 1000 {
            return None;
        }
        self.last
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .ok()
            .map(|_| self.count.swap(0, Ordering::Relaxed))
    }
}

/// What one connection needs of the [`ServeConfig`](super::ServeConfig).
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    pub(super) header_timeout: Duration,
    pub(super) idle_timeout: Duration,
    pub(super) write_timeout: Duration,
}

/// The server's signals to its connections: `Some(deadline)` once it stops, the time by which
/// every connection must be gone.
pub(super) type Stop = watch::Receiver<Option<Instant>>;

/// hyper-util's builder with the executor of [`serve`](super::serve).
pub(super) type Builder = auto::Builder<Executor>;

/// The connection's one timer.
///
/// Invariant: while the connection is not closing, the timer is never set later than the deadline in
/// force (`Conn::due`), so no connection is kept past its deadline; it may be earlier, and then it
/// fires early and is set again, to the deadline then in force. The task moves it earlier only when a
/// deadline may have come before it: an HTTP/1 head still incomplete after a read; a request starting
/// when the idle timeout is shorter than the header timeout (the idle deadline its end starts could
/// then come before a head's); a close. Otherwise a request leaves it alone: the idle deadline that
/// its end starts is later than the header deadline of its head (the header timeout being the
/// shorter), and later than the timer set while it was in progress (to the idle timeout from then).
///
/// The write deadline (the write timeout from the last progress the task saw while responses are
/// being written) is kept the same way: the task brings the timer no later than it whenever it sees a
/// response being written with new progress, at the end of a poll (a comparison: with the defaults,
/// the write timeout being the idle timeout and at least the header timeout, the timer is already
/// earlier), and when the timer fires while a request is in progress it is set no later than it.
struct Timer<'a> {
    sleep: Pin<&'a mut Sleep>,
    /// The instant the sleep is set to.
    at: Instant,
    /// The sleep must be polled (it was set, or the task's waker is new to it) before the task
    /// waits: a sleep that has fired or was never polled has no waker to wake.
    poll: bool,
}

impl Timer<'_> {
    /// Sets the timer to `at` if that is earlier than its own time.
    fn no_later_than(&mut self, at: Instant) {
        if at < self.at {
            self.set(at);
        }
    }

    fn set(&mut self, at: Instant) {
        self.sleep.as_mut().reset(at);
        self.at = at;
        self.poll = true;
    }

    /// Whether it has fired, polling the sleep only when it must or may have (an atomic load
    /// otherwise).
    fn fired(&mut self, cx: &mut Context<'_>) -> bool {
        if !self.poll && !self.sleep.is_elapsed() {
            return false;
        }
        self.poll = false;
        self.sleep.as_mut().poll(cx).is_ready()
    }
}

/// The shortest wait before the task looks again at a request in progress.
const MIN_RECHECK: Duration = Duration::from_millis(1);

/// What the task has seen of the writes: while responses are being written, their progress count
/// and when it saw it change (or the first response start); while the socket is blocked, its
/// unblock count and when it saw the block start. The write deadline follows from the earlier.
#[derive(Debug, Default)]
struct Writes {
    written: u64,
    responses_since: Option<Instant>,
    unblocked: u64,
    blocked_since: Option<Instant>,
}

impl Writes {
    /// The write deadline in force, `None` when no response is being written and the socket is not
    /// blocked. Reads the clock only when one of them has moved since the last look.
    fn deadline(&mut self, conn: &Conn, timeout: Duration) -> Option<Instant> {
        let mut now = None;
        if conn.writing.load(Ordering::Acquire) == 0 {
            self.responses_since = None;
        } else {
            let written = conn.written.load(Ordering::Relaxed);
            if self.responses_since.is_none() || written != self.written {
                self.written = written;
                self.responses_since = Some(*now.get_or_insert_with(Instant::now));
            }
        }
        if !conn.write_blocked.load(Ordering::Relaxed) {
            self.blocked_since = None;
        } else {
            let unblocked = conn.unblocked.load(Ordering::Relaxed);
            if self.blocked_since.is_none() || unblocked != self.unblocked {
                self.unblocked = unblocked;
                self.blocked_since = Some(*now.get_or_insert_with(Instant::now));
            }
        }
        let since = match (self.responses_since, self.blocked_since) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => a.or(b)?,
        };
        Some(later(since, timeout))
    }
}

/// Serves one accepted connection with `builder` and `service`, within `limits`, until it ends, a
/// deadline closes it, or the server stops. `_permit` is its place under the connection cap.
#[allow(clippy::too_many_arguments)]
pub(super) async fn run<S, B>(
    stream: TcpStream,
    service: S,
    builder: Arc<Builder>,
    limits: Limits,
    stop: Stop,
    max_headers: usize,
    shared: Arc<Shared>,
    _permit: OwnedSemaphorePermit,
) where
    S: Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn StdError + Send + Sync>>,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    let conn = Arc::new(Conn::new(shared));
    let io = TokioIo::new(Io {
        stream,
        conn: conn.clone(),
    });
    let service = ConnService {
        inner: service,
        conn: conn.clone(),
        max_headers,
    };
    let mut connection = pin!(builder.serve_connection(io, service));
    // The stop signal's future, polled only when the signal has changed (an atomic load) or the
    // task's waker is new to it: each poll of it takes the channel's lock.
    let mut signal = stop.clone();
    let mut stopped = pin!(signal.changed());
    let first = later(conn.start, limits.header_timeout);
    let mut timer = Timer {
        sleep: pin!(tokio::time::sleep_until(first)),
        at: first,
        poll: true,
    };
    // `Some(deadline)` once closing: gracefully first, dropped at the deadline.
    let mut closing: Option<Instant> = None;
    let mut stopping = false;
    if let Some(deadline) = *stop.borrow() {
        connection.as_mut().graceful_shutdown();
        closing = Some(deadline);
        stopping = true;
        timer.no_later_than(deadline);
    }
    // The HTTP/1 head in progress after the first request, as the task saw it start: the heads
    // completed before it, and when.
    let mut head: Option<(u64, Instant)> = None;
    // The requests started, as the task last counted them (when the idle timeout is the shorter).
    let mut started = 0;
    // The responses being written, as the task last saw them.
    let mut writes = Writes::default();
    // The waker the timer and the stop signal's future were last polled with.
    let mut waker: Option<Waker> = None;

    std::future::poll_fn(|cx| {
        let mut listen = false;
        if !waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            waker = Some(cx.waker().clone());
            timer.poll = true;
            listen = true;
        }
        // The stop signal and the timer before the connection, while the task's cooperative budget
        // is whole: a future refused for want of budget would not keep the waker.
        if !stopping && (listen || !matches!(stop.has_changed(), Ok(false))) {
            if let Poll::Ready(changed) = stopped.as_mut().poll(cx) {
                stopping = true;
                let deadline = match changed {
                    Ok(()) => *stop.borrow(),
                    // The server is gone: stop now.
                    Err(_) => None,
                };
                let deadline = deadline.unwrap_or_else(Instant::now);
                if conn.nothing_to_answer() {
                    return Poll::Ready(());
                }
                connection.as_mut().graceful_shutdown();
                // An idle close already under way keeps its own, earlier, deadline.
                let deadline = closing.map_or(deadline, |d| d.min(deadline));
                closing = Some(deadline);
                timer.no_later_than(deadline);
            }
        }
        while timer.fired(cx) {
            let now = Instant::now();
            // A response not written in time: the connection dropped, whatever its state.
            let write_due = writes.deadline(&conn, limits.write_timeout);
            if write_due.is_some_and(|at| at <= now) {
                if let Some(n) = conn.shared.stalled.tick() {
                    super::log::write_stalled(n, limits.write_timeout);
                }
                return Poll::Ready(());
            }
            let next = match closing {
                // Past the closing deadline: dropped.
                Some(deadline) if deadline <= now => return Poll::Ready(()),
                Some(deadline) => deadline,
                None => match conn.due(&limits, head.map(|(_, since)| since)) {
                    Some((at, Why::Head)) if at <= now => return Poll::Ready(()),
                    Some((at, Why::Idle)) if at <= now => {
                        connection.as_mut().graceful_shutdown();
                        let deadline = later(now, limits.header_timeout);
                        closing = Some(deadline);
                        deadline
                    }
                    Some((at, _)) => at,
                    // A request in progress: the idle deadline its end starts is later than this.
                    None => later(now, limits.idle_timeout.max(MIN_RECHECK)),
                },
            };
            timer.set(write_due.map_or(next, |at| at.min(next)));
        }

        // Ended by itself: the peer closed, an error, or a graceful close completed.
        if connection.as_mut().poll(cx).is_ready() {
            return Poll::Ready(());
        }

        if closing.is_none() {
            if limits.idle_timeout < limits.header_timeout {
                let requests = conn.requests.load(Ordering::Acquire);
                if requests != started {
                    started = requests;
                    timer.no_later_than(later(Instant::now(), limits.idle_timeout));
                }
            }
            match conn.head_in_progress() {
                Some(n) => {
                    let since = match head {
                        Some((m, since)) if m == n => since,
                        _ => Instant::now(),
                    };
                    head = Some((n, since));
                    timer.no_later_than(later(since, limits.header_timeout));
                }
                None => head = None,
            }
        }
        if let Some(at) = writes.deadline(&conn, limits.write_timeout) {
            timer.no_later_than(at);
        }
        if timer.poll {
            // Set since it was polled: polled first thing in the next poll.
            cx.waker().wake_by_ref();
        }
        Poll::Pending
    })
    .await
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
        let written = Pin::new(&mut self.stream).poll_write(cx, buf);
        self.conn.wrote(&written);
        written
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        self.conn.wrote(&written);
        written
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
///
/// An HTTP/1 request with more header fields than `max_headers` is answered 431 here and the
/// connection closed, as hyper answers a head over its own bound (see [`HYPER_MAX_HEADERS`]).
#[derive(Debug, Clone)]
pub(super) struct ConnService<S> {
    inner: S,
    conn: Arc<Conn>,
    max_headers: usize,
}

/// hyper's own bound on an HTTP/1 head's fields, when none is set (`http1::Builder::max_headers`,
/// "Default is 100"): an array on the stack. Setting any bound instead makes hyper fill a vector of
/// that many entries twice per request (≈ 1,400 instructions, 3.5 % of a callback through the
/// receiver), so [`serve`](super::serve) sets it only above this, and [`ConnService`] enforces a
/// lower one.
pub(super) const HYPER_MAX_HEADERS: usize = 100;

impl<S, B> hyper::service::Service<Request<Incoming>> for ConnService<S>
where
    S: Service<Request<Incoming>, Response = Response<B>> + Clone,
{
    type Response = Response<Tracked<B>>;
    type Error = S::Error;
    type Future = CallFuture<S>;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        let h2 = req.version() == Version::HTTP_2;
        let mut in_flight = InFlight::start(&self.conn, req.version());
        let state = if req.headers().len() > self.max_headers && !h2 {
            CallState::TooManyHeaders
        } else {
            // A body: its declared length reserved, once (a request without one costs a branch).
            let budget = &self.conn.shared.budget;
            let charge = budget.charge(&req.body().size_hint());
            match charge {
                0 => CallState::Ready {
                    service: self.inner.clone(),
                    req: Some(req),
                },
                _ => match budget.reserve(charge) {
                    Some(reserved) => {
                        in_flight.charge = reserved;
                        CallState::Ready {
                            service: self.inner.clone(),
                            req: Some(req),
                        }
                    }
                    None => {
                        if let Some(n) = budget.refused.tick() {
                            super::log::busy(n, budget.limit);
                        }
                        CallState::Busy { h2 }
                    }
                },
            }
        };
        CallFuture {
            state,
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
        // Answered 431 without calling the service.
        TooManyHeaders,
        // Answered 503 without calling the service: the request bodies' budget is spent.
        Busy { h2: bool },
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
                    return Poll::Ready(Ok(
                        res.map(|body| Tracked::new(Answer::App { body }, this.in_flight.take()))
                    ));
                }
                CallStateProj::TooManyHeaders => {
                    // As hyper answers a head over its bound: 431, no body, the connection closed.
                    let mut res = Response::new(Tracked::new(Answer::Empty, this.in_flight.take()));
                    *res.status_mut() = StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE;
                    res.headers_mut()
                        .insert(CONNECTION, HeaderValue::from_static("close"));
                    return Poll::Ready(Ok(res));
                }
                CallStateProj::Busy { h2 } => {
                    // The body unread: an HTTP/1 connection cannot carry another request after it.
                    let mut res = Response::new(Tracked::new(Answer::Empty, this.in_flight.take()));
                    *res.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
                    res.headers_mut()
                        .insert(RETRY_AFTER, HeaderValue::from_static("1"));
                    if !*h2 {
                        res.headers_mut()
                            .insert(CONNECTION, HeaderValue::from_static("close"));
                    }
                    return Poll::Ready(Ok(res));
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
        body: Answer<B>,
        in_flight: Option<InFlight>,
    }
}

pin_project! {
    /// The application's response body, or none (the server's own answer).
    #[derive(Debug)]
    #[project = AnswerProj]
    enum Answer<B> {
        App { #[pin] body: B },
        Empty,
    }
}

impl<B> Tracked<B> {
    /// The response `body` given to hyper: the request's body reservation goes back, its writing
    /// starts.
    fn new(body: Answer<B>, mut in_flight: Option<InFlight>) -> Tracked<B> {
        if let Some(in_flight) = &mut in_flight {
            in_flight.responding();
        }
        Tracked { body, in_flight }
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
        let frame = match this.body.project() {
            AnswerProj::App { body } => ready!(body.poll_frame(cx)),
            AnswerProj::Empty => None,
        };
        match (&frame, &*this.in_flight) {
            (Some(Ok(_)), Some(in_flight)) => in_flight.wrote(),
            (Some(Ok(_)), None) => {}
            _ => *this.in_flight = None,
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        match &self.body {
            Answer::App { body } => body.is_end_stream(),
            Answer::Empty => true,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.body {
            Answer::App { body } => body.size_hint(),
            Answer::Empty => SizeHint::with_exact(0),
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    const KIB: usize = 1024;

    #[test]
    fn the_budget_charges_by_declared_length_and_keeps_a_quarter_for_small_bodies() {
        let budget = Budget::new(1024 * KIB, 512 * KIB);
        let hint = |n: u64| SizeHint::with_exact(n);
        assert_eq!(budget.charge(&hint(0)), 0);
        assert_eq!(budget.charge(&hint(10)), 10);
        assert_eq!(budget.charge(&hint(10 << 20)), 512 * KIB);
        assert_eq!(budget.charge(&hint(u64::MAX)), 512 * KIB);
        // Undeclared: the most.
        assert_eq!(budget.charge(&SizeHint::new()), 512 * KIB);

        assert_eq!(budget.reserve(512 * KIB), Some(512 * KIB));
        // Large bodies stop at three quarters (768 KiB).
        assert_eq!(budget.reserve(300 * KIB), None);
        assert_eq!(budget.reserve(256 * KIB), Some(256 * KIB));
        // Small ones have the last quarter.
        for _ in 0..4 {
            assert_eq!(budget.reserve(64 * KIB), Some(64 * KIB));
        }
        assert_eq!(budget.reserve(1), None);
        assert_eq!(budget.used(), 1024 * KIB);
        budget.release(512 * KIB);
        budget.release(256 * KIB);
        budget.release(4 * 64 * KIB);
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn a_budget_too_small_for_one_large_body_lets_one_go_alone_and_zero_refuses_all() {
        let tiny = Budget::new(100, 512 * KIB);
        assert_eq!(tiny.reserve(512 * KIB), Some(75));
        assert_eq!(tiny.reserve(512 * KIB), None);
        assert_eq!(tiny.reserve(25), Some(25));
        assert_eq!(tiny.reserve(1), None);
        let none = Budget::new(0, 512 * KIB);
        assert_eq!(none.reserve(1), None);
        assert_eq!(none.reserve(512 * KIB), None);
        // No charge, no accounting.
        let off = Budget::new(1024, 0);
        assert_eq!(off.charge(&SizeHint::with_exact(1 << 30)), 0);
        assert_eq!(off.charge(&SizeHint::new()), 0);
    }

    #[test]
    fn reports_come_at_most_once_a_second_with_the_count() {
        let every = Every::new();
        assert_eq!(every.tick(), Some(1));
        assert_eq!(every.tick(), None);
        assert_eq!(every.tick(), None);
        // The count is kept for the next report.
        assert_eq!(every.count.load(Ordering::Relaxed), 2);
    }
}
