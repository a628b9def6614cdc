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
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

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

/// `target/<profile>/examples/<name>`, next to this test's `deps/`.
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test's own path");
    let path = exe
        .parent()
        .and_then(|deps| deps.parent())
        .map(|profile| profile.join("examples").join(name))
        .expect("the test binary sits in target/<profile>/deps");
    assert!(
        path.is_file(),
        "the `{name}` example is not at {}: build the examples first (`cargo test` does; so does \
         `cargo build -p tencent-room-callback-dev --examples`)",
        path.display()
    );
    path
}

/// A directory of the test's own under the temporary directory (for the inbox), emptied.
fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("server-examples-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// The example's command, its environment cleared of the examples' variables, `addr` to listen on,
/// an inbox directory of its own under `scratch`.
fn command(name: &str, addr: &str, scratch: &Path) -> Command {
    let mut cmd = Command::new(example(name));
    for (var, _) in std::env::vars_os() {
        if var.to_string_lossy().starts_with("ROOM_CALLBACK_") {
            cmd.env_remove(var);
        }
    }
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

fn drain(mut pipe: impl Read + Send + 'static) -> JoinHandle<String> {
    thread::spawn(move || {
        let mut text = String::new();
        let _ = pipe.read_to_string(&mut text);
        text
    })
}

/// Waits (boundedly) for the child to exit.
fn wait(child: &mut Child, within: Duration, what: &str) -> ExitStatus {
    let give_up = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().expect("the child's status") {
            return status;
        }
        if Instant::now() > give_up {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what}: did not exit within {within:?}");
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// A free loopback port (another process may take it first: the start is then retried).
fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
}

/// Starts `name` and waits until it accepts connections.
fn start(name: &str, scratch: &Path) -> (Child, SocketAddr, JoinHandle<String>) {
    let mut last_log = String::new();
    for _attempt in 0..5 {
        let addr = free_addr();
        let mut child = command(name, &addr.to_string(), scratch)
            .spawn()
            .unwrap_or_else(|e| panic!("{name} starts: {e}"));
        let stderr = drain(child.stderr.take().expect("piped stderr"));
        let give_up = Instant::now() + Duration::from_secs(60);
        loop {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return (child, addr, stderr);
            }
            if child.try_wait().expect("the child's status").is_some() {
                break;
            }
            assert!(
                Instant::now() < give_up,
                "{name} did not listen within 60 s"
            );
            thread::sleep(Duration::from_millis(20));
        }
        // It exited: most likely another process took the port first.
        last_log = stderr.join().unwrap_or_default();
    }
    panic!("{name} never listened; its last stderr:\n{last_log}");
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

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .expect("`kill` runs");
    assert!(status.success());
}

#[test]
fn every_server_example_answers_the_same_404_and_stops_cleanly_on_sigterm_and_ctrl_c() {
    let scratch = scratch("stop");
    for name in EXAMPLES {
        for sig in ["TERM", "INT"] {
            let (mut child, addr, stderr) = start(name, &scratch);
            let (status_line, body) = get_404(addr);
            assert!(
                status_line.starts_with("HTTP/1.1 404"),
                "{name}: {status_line}"
            );
            assert_eq!(body, NO_HANDLER_ACK, "{name}");
            signal(&child, sig);
            let status = wait(&mut child, Duration::from_secs(20), name);
            let log = stderr.join().unwrap_or_default();
            assert_eq!(
                status.code(),
                Some(0),
                "{name} on SIG{sig}: {status:?}\n{log}"
            );
        }
    }
    let _ = std::fs::remove_dir_all(&scratch);
}

#[test]
fn every_server_example_names_the_variable_or_the_address_of_a_startup_error() {
    // Taken for the whole test: every example must fail to listen on it.
    let taken = TcpListener::bind("127.0.0.1:0").expect("a port");
    let taken_addr = taken.local_addr().unwrap().to_string();
    let scratch = scratch("startup");
    for name in EXAMPLES {
        let cases = [
            (
                "a malformed app ID",
                command(name, "127.0.0.1:0", &scratch)
                    .env("ROOM_CALLBACK_SDKAPPID", "abc")
                    .spawn(),
                "ROOM_CALLBACK_SDKAPPID".to_owned(),
            ),
            (
                "an address in use",
                command(name, &taken_addr, &scratch).spawn(),
                format!("ROOM_CALLBACK_ADDR: cannot listen on {taken_addr}: "),
            ),
        ];
        for (what, child, named) in cases {
            let mut child = child.unwrap_or_else(|e| panic!("{name} starts: {e}"));
            let stderr = drain(child.stderr.take().expect("piped stderr"));
            let status = wait(&mut child, Duration::from_secs(30), name);
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
    let _ = std::fs::remove_dir_all(&scratch);
}
