//! Raw HTTP/1.1 over loopback, for the tests that talk to a compiled example.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// One HTTP/1.1 request to `addr` on a connection of its own (`Connection: close`, a JSON content
/// type), each step bounded by 10 s (a way out, not a timing assertion): the answer's status code, head
/// and body.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path_and_query: &str,
    body: &[u8],
) -> (u16, String, String) {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(10)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .set_write_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let head = format!(
        "{method} {path_and_query} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .expect("the whole answer within 10 s");
    let (head, body) = answer
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("not an HTTP answer: {answer:?}"));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status: {head:?}"));
    (status, head.to_owned(), body.to_owned())
}

/// [`request`]: the status code and the body.
pub fn status_and_body(
    addr: SocketAddr,
    method: &str,
    path_and_query: &str,
    body: &[u8],
) -> (u16, String) {
    let (status, _, body) = request(addr, method, path_and_query, body);
    (status, body)
}
