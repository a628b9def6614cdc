//! A `redis-server` of a test's own.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::fs::TempDir;
use super::process::{free_addr, signal};

/// The variable that makes a missing `redis-server` a failure rather than a skipped test (`.ci/run`
/// sets it).
pub const REQUIRE: &str = "ROOM_CALLBACK_REQUIRE_REDIS";

/// Whether a Redis test can run: `redis-server` is on `PATH`. Without it the test is skipped, saying
/// so on stderr (the README's `cargo test` needs only the Rust toolchain) — unless `REQUIRE` is set,
/// as in CI, where it fails.
pub fn available(test: &str) -> bool {
    let found = std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths).any(|dir| dir.join("redis-server").is_file())
    });
    if found {
        return true;
    }
    assert!(
        std::env::var_os(REQUIRE).is_none(),
        "{test}: redis-server is not on PATH and {REQUIRE} is set: install it (`apt-get install -y \
         redis-server`; .ci/run does)"
    );
    eprintln!(
        "SKIPPED {test}: redis-server is not on PATH (install it to run the Redis inbox tests: \
         `apt-get install -y redis-server`; CI does, and sets {REQUIRE} so that it cannot be skipped)"
    );
    false
}

/// A `redis-server` of the test's own on a free port of 127.0.0.1, its AOF (`appendfsync always`) in a
/// temporary directory; killed when dropped. Needs `redis-server` (6.2 or later) on `PATH`: fails,
/// saying so, without it (tests ask [`available`] first).
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    dir: TempDir,
}

impl RedisServer {
    pub fn start(name: &str) -> RedisServer {
        let dir = TempDir::new(&format!("redis-{name}"));
        for _ in 0..5 {
            // A free port, released for the server: another process could take it in between, then the
            // server exits and another port is tried.
            let port = free_addr().port();
            if let Some(child) = launch(port, &dir) {
                return RedisServer {
                    child: Some(child),
                    port,
                    dir,
                };
            }
        }
        panic!(
            "redis-server did not start: see {}",
            dir.0.join("redis.log").display()
        );
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Kills the server (SIGKILL: a crash, no shutdown of its own).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port and directory (it loads its AOF).
    pub fn restart(&mut self) {
        self.child = Some(launch(self.port, &self.dir).expect("redis-server did not restart"));
    }

    /// Sends a signal to the server (`STOP`, `CONT`).
    pub fn signal(&self, name: &str) {
        signal(self.child.as_ref().expect("running").id(), name);
    }

    /// One command, its reply's first line (`+PONG`, `:1`, `-ERR ...`).
    pub fn command(&self, args: &[&str]) -> std::io::Result<String> {
        command(self.port, args)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(child) = &self.child {
            // A stopped server would not die of SIGKILL until continued on some systems: continue it.
            let _ = Command::new("kill")
                .args(["-CONT", &child.id().to_string()])
                .status();
        }
        self.kill();
    }
}

/// Starts `redis-server` on `port`, its files in `dir`: the process once it answers PING, `None` when it
/// exits first (the port is taken) or does not answer.
fn launch(port: u16, dir: &TempDir) -> Option<Child> {
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string()])
        .args(["--bind", "127.0.0.1"])
        .args(["--save", ""])
        .args(["--appendonly", "yes"])
        .args(["--appendfsync", "always"])
        .arg("--dir")
        .arg(&dir.0)
        .args(["--logfile", "redis.log"])
        .args(["--daemonize", "no"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
            "redis-server is not on PATH: the Redis inbox tests need a real Redis 6.2 or later \
             (install it: `apt-get install redis-server`, `brew install redis`; CI installs it)"
        ),
        Err(e) => panic!("cannot run redis-server: {e}"),
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return None;
        }
        if command(port, &["PING"]).is_ok_and(|reply| reply == "+PONG") {
            return Some(child);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

/// One command to the server on `port`: its reply's first line.
fn command(port: u16, args: &[&str]) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    let mut request = format!("*{}\r\n", args.len());
    for arg in args {
        request.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
    }
    stream.write_all(request.as_bytes())?;
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line)?;
    Ok(line.trim_end().to_owned())
}
