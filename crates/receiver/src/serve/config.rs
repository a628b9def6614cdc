//! [`ServeConfig`]: the limits of [`serve`](super::serve) and their defaults.

use std::time::Duration;

/// What [`serve`](super::serve) allows a connection and the server: how long, how much, how many.
///
/// The defaults ([`ServeConfig::default`]) are meant for a receiver on the internet: a few callbacks a
/// second from Tencent, each a few hundred bytes, among whatever else finds the port.
///
/// | field | default |
/// |---|---|
/// | [`header_timeout`](Self::header_timeout) | 10 s ([`DEFAULT_HEADER_TIMEOUT`](Self::DEFAULT_HEADER_TIMEOUT)) |
/// | [`idle_timeout`](Self::idle_timeout) | 60 s ([`DEFAULT_IDLE_TIMEOUT`](Self::DEFAULT_IDLE_TIMEOUT)) |
/// | [`write_timeout`](Self::write_timeout) | `None`: the idle timeout |
/// | [`max_connections`](Self::max_connections) | 10,000 ([`DEFAULT_MAX_CONNECTIONS`](Self::DEFAULT_MAX_CONNECTIONS)) |
/// | [`max_header_bytes`](Self::max_header_bytes) | 16 KiB ([`DEFAULT_MAX_HEADER_BYTES`](Self::DEFAULT_MAX_HEADER_BYTES)) |
/// | [`max_headers`](Self::max_headers) | 64 ([`DEFAULT_MAX_HEADERS`](Self::DEFAULT_MAX_HEADERS)) |
/// | [`max_concurrent_streams`](Self::max_concurrent_streams) | 100 ([`DEFAULT_MAX_CONCURRENT_STREAMS`](Self::DEFAULT_MAX_CONCURRENT_STREAMS)) |
/// | [`max_buffered_bytes`](Self::max_buffered_bytes) | 64 MiB ([`DEFAULT_MAX_BUFFERED_BYTES`](Self::DEFAULT_MAX_BUFFERED_BYTES)) |
/// | [`max_body_charge`](Self::max_body_charge) | 1 MiB ([`DEFAULT_MAX_BODY_CHARGE`](Self::DEFAULT_MAX_BODY_CHARGE)) |
/// | [`shutdown_grace`](Self::shutdown_grace) | 10 s ([`DEFAULT_SHUTDOWN_GRACE`](Self::DEFAULT_SHUTDOWN_GRACE)) |
///
/// No value panics: a `Duration::MAX` timeout counts as decades, a zero count as the least that
/// still serves (one connection, one field, one stream) but where a field says otherwise.
///
/// ```
/// use std::time::Duration;
/// use tencent_room_callback_receiver::serve::ServeConfig;
///
/// let mut config = ServeConfig::default();
/// config.header_timeout = Duration::from_secs(5);
/// config.write_timeout = Some(Duration::from_secs(15));
/// assert_eq!(config.max_connections, ServeConfig::DEFAULT_MAX_CONNECTIONS);
/// assert_eq!(config.max_buffered_bytes, 64 * 1024 * 1024);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServeConfig {
    /// How long a request head may take. The first request's head must be complete within this time
    /// of the connection's accept, whatever the protocol: a connection that sends nothing, sends an
    /// incomplete head, or an HTTP/2 preface and no request, is closed then. On HTTP/1 every later head
    /// must be complete within this time of its first byte. Closed without an answer.
    ///
    /// Default 10 s; keep it well under 20 s.
    pub header_timeout: Duration,
    /// How long a connection may stay without a request in progress, from the end of its last
    /// response (HTTP/1 keep-alive, HTTP/2 alike). Then it is closed gracefully (HTTP/2: `GOAWAY`),
    /// and dropped if it has not closed within [`header_timeout`](Self::header_timeout). A request
    /// counts as in progress from its complete head until its response body is written.
    ///
    /// Default 60 s.
    pub idle_timeout: Duration,
    /// How long a connection may go without writing: while it has a response to write, from the
    /// response's start (the application has answered) or from the last part of a response body the
    /// connection took; and while its socket refuses every write (the peer does not read, the kernel's
    /// buffers are full), from the first refusal, whatever the connection is doing. Past it the
    /// connection is **dropped** (the TCP connection closed, no `GOAWAY` to wait on), whatever else it
    /// has in progress: an HTTP/2 peer that gives no flow-control window (`SETTINGS_INITIAL_WINDOW_SIZE`
    /// = 0) or an HTTP/1 peer that stops reading cannot hold the connection, its memory and its place
    /// under [`max_connections`](Self::max_connections). Counted per connection: on HTTP/2 a response
    /// written on one stream counts for the others (a connection that writes is not stalled), and the
    /// server's own frames (`PING` answers, `SETTINGS`) do not count as a response's progress.
    ///
    /// `None` (the default): the [`idle_timeout`](Self::idle_timeout).
    pub write_timeout: Option<Duration>,
    /// How many connections may be open at once, all clients together. One more is accepted and
    /// closed at once, nothing read or written: see [`serve`](super::serve). Keep it under the
    /// process's open-file limit (`ulimit -n`), less what the application itself opens. Zero counts
    /// as one.
    ///
    /// Default 10,000.
    pub max_connections: usize,
    /// The most bytes of a request head. HTTP/1: the read buffer, which the request line and the
    /// headers must fit (a larger head is answered 431 and the connection closed); at least 8 KiB
    /// ([`MIN_HEADER_BYTES`](Self::MIN_HEADER_BYTES): a smaller value counts as 8 KiB). HTTP/2:
    /// `SETTINGS_MAX_HEADER_LIST_SIZE` (the decoded list, as RFC 9113 counts it).
    ///
    /// Default 16 KiB.
    pub max_header_bytes: usize,
    /// The most header fields of an HTTP/1 request (more: 431, closed). Zero counts as one.
    ///
    /// Default 64.
    pub max_headers: usize,
    /// The most HTTP/2 streams (requests) open at once on one connection
    /// (`SETTINGS_MAX_CONCURRENT_STREAMS`).
    ///
    /// Default 100.
    pub max_concurrent_streams: u32,
    /// The most bytes of request bodies the requests in progress may hold between them, all
    /// connections together, counted by what each request **declares** (`Content-Length`, HTTP/1 or
    /// HTTP/2), up to [`max_body_charge`](Self::max_body_charge), before its body is read: one
    /// reservation when the request starts, given back when the application answers. A request with
    /// no body costs nothing and is never refused; one whose length is not declared (chunked, or
    /// HTTP/2 without `Content-Length`) is charged [`max_body_charge`](Self::max_body_charge).
    ///
    /// A request that does not fit is answered **503** at once (`Retry-After: 1`, no body; HTTP/1
    /// also `Connection: close`), its body unread and the application not called. Headroom for small
    /// requests: a body above 64 KiB may only take the budget up to three quarters, so that the last
    /// quarter is left to callbacks of a few KiB while large bodies hold the rest. A large body whose
    /// charge is above those three quarters is charged three quarters (it then goes alone). Zero:
    /// every request with a body is refused.
    ///
    /// Default 64 MiB.
    pub max_buffered_bytes: usize,
    /// The most one request is charged against [`max_buffered_bytes`](Self::max_buffered_bytes): what
    /// the application reads of a body at most (for the callback layer, its `Config::body_limit`, 1
    /// MiB by default), and what a request whose length is not declared is charged. `serve` does not
    /// enforce it: the application refuses longer bodies. Zero turns the accounting off.
    ///
    /// Default 1 MiB.
    pub max_body_charge: usize,
    /// Once the shutdown future resolves, how long the requests in progress have to finish. Then
    /// every connection still open is dropped and [`serve`](super::serve) returns.
    ///
    /// Default 10 s.
    pub shutdown_grace: Duration,
}

impl ServeConfig {
    /// The default [`header_timeout`](Self::header_timeout): 10 s.
    pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
    /// The default [`idle_timeout`](Self::idle_timeout): 60 s.
    pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
    /// The default [`max_connections`](Self::max_connections): 10,000.
    pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;
    /// The default [`max_header_bytes`](Self::max_header_bytes): 16 KiB.
    pub const DEFAULT_MAX_HEADER_BYTES: usize = 16 * 1024;
    /// The smallest HTTP/1 read buffer hyper takes (`max_buf_size`): a smaller
    /// [`max_header_bytes`](Self::max_header_bytes) counts as this much, 8 KiB.
    pub const MIN_HEADER_BYTES: usize = 8 * 1024;
    /// The default [`max_headers`](Self::max_headers): 64.
    pub const DEFAULT_MAX_HEADERS: usize = 64;
    /// The default [`max_concurrent_streams`](Self::max_concurrent_streams): 100.
    pub const DEFAULT_MAX_CONCURRENT_STREAMS: u32 = 100;
    /// The default [`max_buffered_bytes`](Self::max_buffered_bytes): 64 MiB.
    pub const DEFAULT_MAX_BUFFERED_BYTES: usize = 64 * 1024 * 1024;
    /// The default [`max_body_charge`](Self::max_body_charge): 1 MiB, the callback layer's default
    /// body limit.
    pub const DEFAULT_MAX_BODY_CHARGE: usize = 1024 * 1024;
    /// The default [`shutdown_grace`](Self::shutdown_grace): 10 s.
    pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

    /// The write timeout in force: [`write_timeout`](Self::write_timeout), else the idle timeout.
    pub(crate) fn write_timeout_or_idle(&self) -> Duration {
        self.write_timeout.unwrap_or(self.idle_timeout)
    }
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            header_timeout: Self::DEFAULT_HEADER_TIMEOUT,
            idle_timeout: Self::DEFAULT_IDLE_TIMEOUT,
            write_timeout: None,
            max_connections: Self::DEFAULT_MAX_CONNECTIONS,
            max_header_bytes: Self::DEFAULT_MAX_HEADER_BYTES,
            max_headers: Self::DEFAULT_MAX_HEADERS,
            max_concurrent_streams: Self::DEFAULT_MAX_CONCURRENT_STREAMS,
            max_buffered_bytes: Self::DEFAULT_MAX_BUFFERED_BYTES,
            max_body_charge: Self::DEFAULT_MAX_BODY_CHARGE,
            shutdown_grace: Self::DEFAULT_SHUTDOWN_GRACE,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_safe() {
        let c = ServeConfig::default();
        assert!(c.header_timeout <= Duration::from_secs(20));
        assert_eq!(c.header_timeout, Duration::from_secs(10));
        assert_eq!(c.idle_timeout, Duration::from_secs(60));
        assert_eq!(c.write_timeout, None);
        assert_eq!(c.write_timeout_or_idle(), Duration::from_secs(60));
        assert!(c.max_connections >= 10_000);
        assert_eq!(c.max_header_bytes, 16 * 1024);
        assert_eq!(c.max_headers, 64);
        assert_eq!(c.max_buffered_bytes, 64 << 20);
        assert_eq!(c.max_body_charge, 1 << 20);
    }

    #[test]
    fn the_write_timeout_follows_the_idle_timeout_unless_set() {
        let mut c = ServeConfig {
            idle_timeout: Duration::from_secs(3),
            ..ServeConfig::default()
        };
        assert_eq!(c.write_timeout_or_idle(), Duration::from_secs(3));
        c.write_timeout = Some(Duration::from_millis(500));
        assert_eq!(c.write_timeout_or_idle(), Duration::from_millis(500));
    }
}
