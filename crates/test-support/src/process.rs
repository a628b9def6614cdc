//! The compiled examples and programs as processes: found next to the test binary (or given by the
//! `CARGO_BIN_EXE_*` path of a package's own program), started on a free loopback
//! address and waited for, their output read as it comes, stopped by a signal or killed. Every wait is
//! bounded (a way out for a loaded machine, not a timing assertion).

use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// The bound on a start.
const START_WITHIN: Duration = Duration::from_secs(60);
/// The bound on a stop after SIGTERM, unless told otherwise.
const STOP_WITHIN: Duration = Duration::from_secs(30);

/// `target/<profile>/examples/<name>`, next to this test's `deps/`; a failure saying how to build it
/// when it is missing, and a note when it is older than its source (`cargo test --test <name>` does
/// not rebuild the examples; a note, not a failure: sources may be edited while the tests run).
pub fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test's own path");
    let path = exe
        .parent()
        .and_then(|deps| deps.parent())
        .map(|profile| profile.join("examples"))
        .expect("the test binary sits in target/<profile>/deps")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.is_file(),
        "the `{name}` example is not at {}: build the examples first (`cargo test` does; so does \
         `cargo build --examples` at the workspace root), with the same target directory and \
         profile as this test",
        path.display()
    );
    // The examples are the root package's, in the repository's `examples/`.
    let source = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(format!("{name}.rs"));
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    if let (Some(bin), Some(src)) = (modified(&path), modified(&source)) {
        if src > bin {
            eprintln!(
                "note: {} is older than {}; run `cargo build --examples`",
                path.display(),
                source.display()
            );
        }
    }
    path
}

/// The example's command, its environment cleared of the `ROOM_CALLBACK_*` variables.
pub fn command(name: &str) -> Command {
    program(example(name))
}

/// The program at `path` (a `CARGO_BIN_EXE_*` path), its environment cleared of the
/// `ROOM_CALLBACK_*` variables.
pub fn program(path: impl AsRef<Path>) -> Command {
    let mut cmd = Command::new(path.as_ref());
    for (var, _) in std::env::vars_os() {
        if var.to_string_lossy().starts_with("ROOM_CALLBACK_") {
            cmd.env_remove(var);
        }
    }
    cmd
}

/// A free loopback address: bound, noted, released. Another process may take it before the program
/// does: [`Running::start`] then tries another.
pub fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
}

/// A pipe's whole content, read on a thread of its own.
pub fn drain(mut pipe: impl Read + Send + 'static) -> JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        bytes
    })
}

/// [`drain`], as text.
pub fn drain_text(mut pipe: impl Read + Send + 'static) -> JoinHandle<String> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// Waits up to `within` for `child` to exit: its status, or `None` (the child killed) when it did not.
pub fn exit_within(child: &mut Child, within: Duration) -> Option<ExitStatus> {
    let give_up = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().expect("the child's status") {
            return Some(status);
        }
        if Instant::now() >= give_up {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// Sends signal `name` (`TERM`, `INT`, `HUP`, `STOP`...) to process `pid`; fails when `kill` does.
pub fn signal(pid: u32, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &pid.to_string()])
        .status()
        .expect("`kill` runs");
    assert!(status.success(), "kill -{name} {pid}: {status:?}");
}

/// When a started program is ready.
#[derive(Debug, Clone, Copy)]
pub enum Ready {
    /// Once it writes a line holding this to its stderr (the `server` example's `listening`).
    Line(&'static str),
    /// Once its address accepts a connection.
    Accepting,
}

/// A running program, its stdout and stderr lines kept as they come; killed when dropped, even when
/// the test fails.
pub struct Running {
    pub child: Child,
    /// The address it was given.
    pub addr: SocketAddr,
    what: String,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<Vec<String>>>,
    readers: Vec<JoinHandle<()>>,
    /// Each stderr line as it comes, until it is ready.
    stderr_lines: Option<mpsc::Receiver<String>>,
}

impl Running {
    /// Runs `command(addr)` on a free loopback address and waits until it is `ready`. One that exits
    /// first most likely lost its port to another process: another address is tried, five in all.
    pub fn start(
        what: &str,
        ready: Ready,
        mut command: impl FnMut(SocketAddr) -> Command,
    ) -> Running {
        let mut last_log = String::new();
        for _attempt in 0..5 {
            let addr = free_addr();
            let mut running = Running::spawn(what, addr, &mut command(addr));
            if running.wait_ready(ready) {
                return running;
            }
            last_log = running.stop().1;
        }
        panic!("{what} never listened; its last stderr:\n{last_log}");
    }

    /// Spawns `command`, given `addr`: its stdin empty, its stdout and stderr read as they come.
    pub fn spawn(what: &str, addr: SocketAddr, command: &mut Command) -> Running {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{what} starts: {e}"));
        let (stdout, stderr) = (Arc::default(), Arc::default());
        let (tx, rx) = mpsc::channel();
        let readers = vec![
            read_lines(child.stdout.take().expect("piped stdout"), &stdout, None),
            read_lines(
                child.stderr.take().expect("piped stderr"),
                &stderr,
                Some(tx),
            ),
        ];
        Running {
            child,
            addr,
            what: what.to_owned(),
            stdout,
            stderr,
            readers,
            stderr_lines: Some(rx),
        }
    }

    /// Whether it is ready; false when it exited first. Fails (killing it) when it did neither within
    /// a minute.
    fn wait_ready(&mut self, ready: Ready) -> bool {
        let lines = self.stderr_lines.take().expect("not waited for yet");
        let give_up = Instant::now() + START_WITHIN;
        loop {
            match ready {
                Ready::Line(needle) => match lines.recv_timeout(Duration::from_millis(50)) {
                    Ok(line) if line.contains(needle) => return true,
                    Ok(_) | Err(RecvTimeoutError::Timeout) => {}
                    // Its stderr closed: it exited.
                    Err(RecvTimeoutError::Disconnected) => return false,
                },
                Ready::Accepting => {
                    if TcpStream::connect_timeout(&self.addr, Duration::from_millis(200)).is_ok() {
                        return true;
                    }
                    thread::sleep(Duration::from_millis(20));
                }
            }
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if Instant::now() >= give_up {
                let (_, log) = self.stop();
                panic!(
                    "{} neither listened nor exited within {START_WITHIN:?}:\n{log}",
                    self.what
                );
            }
        }
    }

    /// `http://<addr>/callback`.
    pub fn url(&self) -> String {
        format!("http://{}/callback", self.addr)
    }

    /// Its stdout lines so far.
    pub fn stdout(&self) -> Vec<String> {
        self.stdout
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Its stderr lines so far.
    pub fn stderr(&self) -> Vec<String> {
        self.stderr
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Sends it signal `name`.
    pub fn signal(&self, name: &str) {
        signal(self.child.id(), name);
    }

    /// Waits up to `within` for it to exit: its status. Fails (killing it) when it does not.
    pub fn exit_within(&mut self, within: Duration) -> ExitStatus {
        match exit_within(&mut self.child, within) {
            Some(status) => status,
            None => {
                let (_, log) = self.stop();
                panic!("{}: did not exit within {within:?}:\n{log}", self.what);
            }
        }
    }

    /// Kills it (SIGKILL), then reads its output to the end: its stdout lines and its stderr.
    pub fn stop(&mut self) -> (Vec<String>, String) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
        (self.stdout(), self.stderr().join("\n"))
    }

    /// SIGTERM, then its exit within 30 s: its exit status, stdout lines and stderr.
    pub fn terminate(&mut self) -> (ExitStatus, Vec<String>, String) {
        self.terminate_within(STOP_WITHIN)
    }

    /// SIGTERM, then its exit within `within` (failing, and killing it, past that): its exit status,
    /// stdout lines and stderr.
    pub fn terminate_within(&mut self, within: Duration) -> (ExitStatus, Vec<String>, String) {
        self.signal("TERM");
        let status = self.exit_within(within);
        let (lines, log) = self.stop();
        (status, lines, log)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads `pipe` line by line on a thread of its own, into `lines`, and passes each line to `each`.
fn read_lines(
    pipe: impl Read + Send + 'static,
    lines: &Arc<Mutex<Vec<String>>>,
    each: Option<mpsc::Sender<String>>,
) -> JoinHandle<()> {
    let lines = Arc::clone(lines);
    thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            if let Some(each) = &each {
                let _ = each.send(line.clone());
            }
            lines.lock().unwrap_or_else(|e| e.into_inner()).push(line);
        }
    })
}
