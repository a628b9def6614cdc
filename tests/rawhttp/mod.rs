//! A raw HTTP/1.1 client over `tokio::net::TcpStream` for the reliability tests: it sends exactly the
//! bytes it is given (lying `Content-Length`, broken chunking, NULs...) and reads answers leniently.
//! Shared by several test crates, so not every helper is used by each.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

/// How long any one answer may take before the test fails instead of hanging.
pub const ANSWER_WITHIN: Duration = Duration::from_secs(10);

/// An HTTP answer as read off the wire.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One client connection: writes bytes, reads answers in order.
pub struct Conn {
    read: OwnedReadHalf,
    write: Option<OwnedWriteHalf>,
    buf: Vec<u8>,
}

impl Conn {
    pub async fn open(addr: SocketAddr) -> Conn {
        let stream = TcpStream::connect(addr).await.expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        let (read, write) = stream.into_split();
        Conn {
            read,
            write: Some(write),
            buf: Vec::new(),
        }
    }

    /// Writes `bytes`; an error (the server already answered and closed) is not the test's concern.
    pub async fn send(&mut self, bytes: &[u8]) -> bool {
        let w = self.write.as_mut().expect("the write half");
        w.write_all(bytes).await.is_ok() && w.flush().await.is_ok()
    }

    /// Reads bytes until the buffer holds `n` or the peer closes; `false` on close.
    async fn fill(&mut self, n: usize) -> bool {
        let mut chunk = [0u8; 16 * 1024];
        while self.buf.len() < n {
            match self.read.read(&mut chunk).await {
                Ok(0) | Err(_) => return false,
                Ok(k) => self.buf.extend_from_slice(&chunk[..k]),
            }
        }
        true
    }

    async fn fill_until(&mut self, pat: &[u8]) -> Option<usize> {
        let mut chunk = [0u8; 16 * 1024];
        loop {
            if let Some(p) = find(&self.buf, pat) {
                return Some(p);
            }
            match self.read.read(&mut chunk).await {
                Ok(0) | Err(_) => return None,
                Ok(k) => self.buf.extend_from_slice(&chunk[..k]),
            }
        }
    }

    /// The next answer, `None` if the connection closed first. Panics after [`ANSWER_WITHIN`].
    pub async fn answer(&mut self) -> Option<Answer> {
        tokio::time::timeout(ANSWER_WITHIN, self.read_answer())
            .await
            .expect("no answer within the test's timeout")
    }

    /// Whether the server closed the connection (EOF or reset) without sending anything more,
    /// waiting at most `within`.
    pub async fn closed_within(&mut self, within: Duration) -> bool {
        let mut chunk = [0u8; 1024];
        match tokio::time::timeout(within, self.read.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) => true,
            Ok(Ok(n)) => {
                self.buf.extend_from_slice(&chunk[..n]);
                false
            }
            Err(_) => false,
        }
    }

    /// Whether nothing at all has come back yet (no byte, no close), without waiting.
    pub async fn nothing_yet(&mut self) -> bool {
        if !self.buf.is_empty() {
            return false;
        }
        let mut chunk = [0u8; 1024];
        match tokio::time::timeout(Duration::ZERO, self.read.read(&mut chunk)).await {
            Err(_) => true,
            Ok(Ok(n)) => {
                self.buf.extend_from_slice(&chunk[..n]);
                false
            }
            Ok(Err(_)) => false,
        }
    }

    async fn read_answer(&mut self) -> Option<Answer> {
        let end = self.fill_until(b"\r\n\r\n").await?;
        let head = String::from_utf8_lossy(&self.buf[..end]).into_owned();
        self.buf.drain(..end + 4);
        let mut lines = head.split("\r\n");
        let status_line = lines.next()?;
        let status: u16 = status_line.split(' ').nth(1)?.parse().ok()?;
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        if (100..200).contains(&status) {
            // An interim answer (100 Continue): no body.
            return Some(Answer {
                status,
                headers,
                body: Vec::new(),
            });
        }
        let get = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
        };
        let body = if let Some(len) = get("content-length") {
            let len: usize = len.parse().ok()?;
            if !self.fill(len).await {
                return None;
            }
            self.buf.drain(..len).collect()
        } else if get("transfer-encoding").is_some_and(|t| t.contains("chunked")) {
            let mut body = Vec::new();
            loop {
                let p = self.fill_until(b"\r\n").await?;
                let size_line = String::from_utf8_lossy(&self.buf[..p]).into_owned();
                self.buf.drain(..p + 2);
                let size = usize::from_str_radix(size_line.split(';').next()?.trim(), 16).ok()?;
                if !self.fill(size + 2).await {
                    return None;
                }
                body.extend(self.buf.drain(..size));
                self.buf.drain(..2);
                if size == 0 {
                    break;
                }
            }
            body
        } else {
            // Delimited by the connection's end.
            let mut chunk = [0u8; 16 * 1024];
            while let Ok(k) = self.read.read(&mut chunk).await {
                if k == 0 {
                    break;
                }
                self.buf.extend_from_slice(&chunk[..k]);
            }
            std::mem::take(&mut self.buf)
        };
        Some(Answer {
            status,
            headers,
            body,
        })
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Sends `request` on a fresh connection and reads the first answer, writing and reading at the
/// same time (the server may answer before it has read everything).
pub async fn exchange(addr: SocketAddr, request: Vec<u8>) -> Option<Answer> {
    let mut conn = Conn::open(addr).await;
    let mut write = conn.write.take().expect("the write half");
    let writer = tokio::spawn(async move {
        let _ = write.write_all(&request).await;
        let _ = write.flush().await;
        // Keep the write half open (no FIN): a stalled body stays stalled.
        std::future::pending::<()>().await;
    });
    let answer = conn.answer().await;
    writer.abort();
    answer
}

/// A request head and body as Tencent sends them: `POST {path}?{query}` with an honest
/// `Content-Length`.
pub fn post(path_and_query: &str, body: &[u8]) -> Vec<u8> {
    let mut r = format!(
        "POST {path_and_query} HTTP/1.1\r\nHost: callback.test\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    r.extend_from_slice(body);
    r
}
