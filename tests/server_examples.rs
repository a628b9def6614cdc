//! Every server example behaves alike at its edges, black-box: the compiled `server`, `extensions`,
//! `hyper`, `tower_http` and `inbox_worker` examples
//!
//! - answer a request the layer does not take with the same 404 FAIL acknowledgment;
//! - stop cleanly, exit 0, on SIGTERM and on Ctrl-C (SIGINT);
//! - report a startup error as the receiver does: one line on stderr, `<example>: ` then the variable
//!   or the address, exit code 2 (a malformed `ROOM_CALLBACK_SDKAPPID`, an address already in use).
//!
//! Unix only (signals). Every process and socket is bounded by a timeout.
#![cfg(unix)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use support::fs::TempDir;
use support::process::{drain_text, exit_within, Ready, Running};

const NO_HANDLER_ACK: &str =
    r#"{"ActionStatus":"FAIL","ErrorInfo":"no handler for this command","ErrorCode":40401}"#;

/// The server examples.
const EXAMPLES: [&str; 5] = [
    "server",
    "extensions",
    "hyper",
    "tower_http",
    "inbox_worker",
];

/// The example's command, its environment cleared of the examples' variables, `addr` to listen on,
/// an inbox directory of its own under `scratch`.
fn command(name: &str, addr: &str, scratch: &Path) -> Command {
    let mut cmd = support::process::command(name);
    // One inbox directory per process started: two at once may not share one.
    static STARTED: AtomicUsize = AtomicUsize::new(0);
    let inbox = scratch.join(format!("{name}-{}", STARTED.fetch_add(1, Ordering::SeqCst)));
    cmd.env("ROOM_CALLBACK_ADDR", addr)
        .env("INBOX_DIR", inbox)
        .env("WORK_MS", "10")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    cmd
}

/// Starts `name` and waits until it accepts connections.
fn start(name: &str, scratch: &Path) -> Running {
    Running::start(name, Ready::Accepting, |addr| {
        command(name, &addr.to_string(), scratch)
    })
}

/// `GET /not-a-callback` on a connection of its own: the status line and the body.
fn get_404(addr: SocketAddr) -> (String, String) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET /not-a-callback?CallbackCommand=Room.CallbackAfterMemberLeave HTTP/1.1\r\nHost: {addr}\r\n\
         Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    (
        head.lines().next().unwrap_or_default().to_owned(),
        body.to_owned(),
    )
}

#[test]
fn every_server_example_answers_the_same_404_and_stops_cleanly_on_sigterm_and_ctrl_c() {
    let scratch = TempDir::new("server-examples-stop");
    for name in EXAMPLES {
        for sig in ["TERM", "INT"] {
            let mut example = start(name, &scratch.0);
            let (status_line, body) = get_404(example.addr);
            assert!(
                status_line.starts_with("HTTP/1.1 404"),
                "{name}: {status_line}"
            );
            assert_eq!(body, NO_HANDLER_ACK, "{name}");
            example.signal(sig);
            let status = example.exit_within(Duration::from_secs(20));
            let (_, log) = example.stop();
            assert_eq!(
                status.code(),
                Some(0),
                "{name} on SIG{sig}: {status:?}\n{log}"
            );
        }
    }
}

#[test]
fn every_server_example_names_the_variable_or_the_address_of_a_startup_error() {
    // Taken for the whole test: every example must fail to listen on it.
    let taken = TcpListener::bind("127.0.0.1:0").expect("a port");
    let taken_addr = taken.local_addr().unwrap().to_string();
    let scratch = TempDir::new("server-examples-startup");
    for name in EXAMPLES {
        let cases = [
            (
                "a malformed app ID",
                command(name, "127.0.0.1:0", &scratch.0)
                    .env("ROOM_CALLBACK_SDKAPPID", "abc")
                    .spawn(),
                "ROOM_CALLBACK_SDKAPPID".to_owned(),
            ),
            (
                "an address in use",
                command(name, &taken_addr, &scratch.0).spawn(),
                format!("ROOM_CALLBACK_ADDR: cannot listen on {taken_addr}: "),
            ),
        ];
        for (what, child, named) in cases {
            let mut child = child.unwrap_or_else(|e| panic!("{name} starts: {e}"));
            let stderr = drain_text(child.stderr.take().expect("piped stderr"));
            let status = exit_within(&mut child, Duration::from_secs(30))
                .unwrap_or_else(|| panic!("{name}: did not exit within 30 s"));
            let err = stderr.join().unwrap_or_default();
            assert_eq!(status.code(), Some(2), "{name}, {what}: {err}");
            assert_eq!(err.trim_end().lines().count(), 1, "{name}, {what}: {err}");
            assert!(
                err.starts_with(&format!("{name}: ")) && err.contains(&named),
                "{name}, {what}: {err}"
            );
        }
    }
    drop(taken);
}
