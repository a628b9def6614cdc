//! The receiver (`examples/server.rs`) with an inbox, under faults, as separate processes on loopback:
//!
//! - 10,000 distinct callbacks at 64 connections, the receiver killed with SIGKILL half-way, restarted
//!   on the same inbox directory: every acknowledged event is printed (handled), and the only events
//!   printed twice are those the worker had in hand at the kill;
//! - two receivers and their workers on one Redis, every callback sent to both: each printed once;
//! - Redis stopped under load, then started again: no OK while it is down, nothing acknowledged lost.
//!
//! The Redis tests start their own `redis-server` (installed by `.ci/run`); they fail, saying so, when it
//! is missing.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command as Process, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

const APP: u64 = 1400000000;

// ----------------------------------------------------------------------------------------------------
// Processes

fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test's own path");
    let path = exe
        .parent()
        .and_then(|deps| deps.parent())
        .map(|profile| profile.join("examples").join(name))
        .expect("the test binary sits in target/<profile>/deps");
    assert!(
        path.is_file(),
        "the `{name}` example is not at {}: build the examples first (`cargo test` does)",
        path.display()
    );
    path
}

fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "room-callback-faults-{name}-{}-{}",
            std::process::id(),
            Instant::now().elapsed().as_nanos()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running receiver: its stdout lines as they come, killed when dropped.
struct Receiver {
    child: Child,
    addr: SocketAddr,
    lines: Arc<Mutex<Vec<String>>>,
    stdout: Option<JoinHandle<()>>,
    stderr: Option<JoinHandle<Vec<String>>>,
}

impl Receiver {
    fn start(env: &[(&str, &str)]) -> Receiver {
        let addr = free_addr();
        let mut cmd = Process::new(example("server"));
        for (k, _) in std::env::vars() {
            if k.starts_with("ROOM_CALLBACK_") {
                cmd.env_remove(k);
            }
        }
        cmd.env("ROOM_CALLBACK_ADDR", addr.to_string())
            .env("ROOM_CALLBACK_SDKAPPID", APP.to_string())
            .env("RUST_LOG", "warn,server=info");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the server example starts");
        let out = child.stdout.take().unwrap();
        let err = child.stderr.take().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stdout = {
            let lines = lines.clone();
            thread::spawn(move || {
                for line in BufReader::new(out).lines().map_while(Result::ok) {
                    lines.lock().unwrap().push(line);
                }
            })
        };
        let (tx, rx) = mpsc::channel();
        let stderr = thread::spawn(move || {
            let mut all = Vec::new();
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                let _ = tx.send(line.clone());
                all.push(line);
            }
            all
        });
        let mut receiver = Receiver {
            child,
            addr,
            lines,
            stdout: Some(stdout),
            stderr: Some(stderr),
        };
        let give_up = Instant::now() + Duration::from_secs(60);
        loop {
            match rx.recv_timeout(Duration::from_millis(50)) {
                Ok(line) if line.contains("listening") => return receiver,
                Ok(_) | Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let log = receiver.kill();
                    panic!("the receiver exited before listening:\n{log}");
                }
            }
            assert!(
                Instant::now() < give_up,
                "the receiver did not listen within 60 s"
            );
        }
    }

    fn url(&self) -> String {
        format!(
            "http://{}/callback?SdkAppid={APP}&CallbackCommand=Room.CallbackAfterMemberLeave&contenttype=json&ClientIP=127.0.0.1&OptPlatform=Web",
            self.addr
        )
    }

    fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// SIGKILL; its stderr.
    fn kill(&mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.collect()
    }

    /// SIGTERM, then its exit within 30 s; its stderr.
    fn terminate(&mut self) -> String {
        let _ = Process::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let give_up = Instant::now() + Duration::from_secs(30);
        while self.child.try_wait().ok().flatten().is_none() {
            if Instant::now() > give_up {
                let log = self.kill();
                panic!("the receiver did not stop on SIGTERM within 30 s:\n{log}");
            }
            thread::sleep(Duration::from_millis(20));
        }
        self.collect()
    }

    fn collect(&mut self) -> String {
        if let Some(h) = self.stdout.take() {
            let _ = h.join();
        }
        self.stderr
            .take()
            .map(|h| h.join().unwrap_or_default().join("\n"))
            .unwrap_or_default()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The event number (`EventTime`) of each printed line.
fn printed(lines: &[String]) -> Vec<u64> {
    lines
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v.get("EventTime").and_then(serde_json::Value::as_u64))
        .collect()
}

fn body(n: u64) -> String {
    format!(
        r#"{{"RoomId":"room-{}","MemberList_Account":["user-{n}"],"EventTime":{n}}}"#,
        n % 50
    )
}

type HttpClient = Client<hyper_util::client::legacy::connect::HttpConnector, Full<bytes::Bytes>>;

fn client() -> HttpClient {
    Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(64)
        .build_http()
}

/// Posts event `n` to `url`: the status, or `None` when the connection failed.
async fn post(client: &HttpClient, url: &str, n: u64) -> Option<u16> {
    let req = http::Request::post(url)
        .header("content-type", "application/json")
        .body(Full::new(bytes::Bytes::from(body(n))))
        .unwrap();
    let res = tokio::time::timeout(Duration::from_secs(10), client.request(req))
        .await
        .ok()?
        .ok()?;
    let status = res.status().as_u16();
    let _ = res.into_body().collect().await;
    Some(status)
}

/// Sends events `0..total` over `conns` connections; stops early when `stop` is set. The events
/// acknowledged OK, and the statuses seen.
async fn load(
    url: String,
    total: u64,
    conns: u64,
    stop: Arc<AtomicBool>,
    acked: Arc<Mutex<HashSet<u64>>>,
) -> HashMap<Option<u16>, usize> {
    let client = client();
    let statuses: Arc<Mutex<HashMap<Option<u16>, usize>>> = Arc::default();
    let tasks: Vec<_> = (0..conns)
        .map(|c| {
            let (client, url, stop, acked, statuses) = (
                client.clone(),
                url.clone(),
                stop.clone(),
                acked.clone(),
                statuses.clone(),
            );
            tokio::spawn(async move {
                let mut n = c;
                while n < total && !stop.load(Ordering::SeqCst) {
                    let status = post(&client, &url, n).await;
                    if status == Some(200) {
                        acked.lock().unwrap().insert(n);
                    }
                    *statuses.lock().unwrap().entry(status).or_default() += 1;
                    n += conns;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let statuses = statuses.lock().unwrap().clone();
    statuses
}

fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let give_up = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < give_up, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(20));
    }
}

// ----------------------------------------------------------------------------------------------------
// Embedded

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_receiver_loses_no_acknowledged_event() {
    let dir = TempDir::new("kill");
    let inbox = dir.0.to_str().unwrap().to_owned();
    let env = [
        ("ROOM_CALLBACK_INBOX", inbox.as_str()),
        ("ROOM_CALLBACK_WORK_MS", "2"),
    ];
    let mut first = Receiver::start(&env);
    let acked: Arc<Mutex<HashSet<u64>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let sender = tokio::spawn(load(first.url(), 10_000, 64, stop.clone(), acked.clone()));
    // Half-way: SIGKILL, while callbacks are in flight and the worker is behind.
    let half = acked.clone();
    tokio::task::spawn_blocking(move || {
        wait_until("5,000 acknowledgments", Duration::from_secs(120), || {
            half.lock().unwrap().len() >= 5_000
        })
    })
    .await
    .unwrap();
    first.kill();
    stop.store(true, Ordering::SeqCst);
    let statuses = sender.await.unwrap();
    let before_kill = printed(&first.lines());
    let acked = acked.lock().unwrap().clone();
    assert!(
        statuses.keys().all(|s| matches!(s, None | Some(200))),
        "only OK or a dropped connection: {statuses:?}"
    );

    // Restarted on the same directory: the worker handles what was stored.
    let mut second = Receiver::start(&env);
    let missing = |lines: &[String]| {
        let seen: HashSet<u64> = before_kill.iter().chain(&printed(lines)).copied().collect();
        acked.iter().filter(|n| !seen.contains(n)).count()
    };
    wait_until(
        "every acknowledged event printed",
        Duration::from_secs(120),
        || missing(&second.lines()) == 0,
    );
    // Let it settle, then stop it cleanly.
    thread::sleep(Duration::from_millis(300));
    let log = second.terminate();
    let after = printed(&second.lines());

    let mut times: HashMap<u64, usize> = HashMap::new();
    for n in before_kill.iter().chain(&after) {
        *times.entry(*n).or_default() += 1;
    }
    let twice: Vec<u64> = times
        .iter()
        .filter(|(_, c)| **c > 1)
        .map(|(n, _)| *n)
        .collect();
    let once_per_run = |ns: &[u64]| ns.iter().collect::<HashSet<_>>().len() == ns.len();
    assert!(
        once_per_run(&before_kill),
        "an event printed twice before the kill"
    );
    assert!(
        once_per_run(&after),
        "an event printed twice after the restart:\n{log}"
    );
    // Printed twice: handled before the kill, its removal from the inbox not yet committed. The
    // worker's slot is held until that commit: at most what the worker (32 at once) had in hand.
    assert!(
        twice.len() <= 32,
        "{} events printed twice: more than were in flight at the kill",
        twice.len()
    );
    // Nothing printed that was not sent.
    assert!(times.keys().all(|n| *n < 10_000));
    eprintln!(
        "acknowledged {} before the kill ({:?}); printed {} before and {} after the restart; {} twice",
        acked.len(),
        statuses,
        before_kill.len(),
        after.len(),
        twice.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copies_are_acknowledged_and_printed_once() {
    let dir = TempDir::new("copies");
    let inbox = dir.0.to_str().unwrap().to_owned();
    let mut receiver = Receiver::start(&[("ROOM_CALLBACK_INBOX", inbox.as_str())]);
    let client = client();
    for n in 0..20 {
        for _ in 0..3 {
            assert_eq!(post(&client, &receiver.url(), n).await, Some(200));
        }
    }
    wait_until("20 events printed", Duration::from_secs(30), || {
        printed(&receiver.lines()).len() >= 20
    });
    thread::sleep(Duration::from_millis(300));
    receiver.terminate();
    let mut got = printed(&receiver.lines());
    got.sort_unstable();
    assert_eq!(got, (0..20).collect::<Vec<_>>());
}

// ----------------------------------------------------------------------------------------------------
// Redis

/// A `redis-server` of our own on a free port, with `appendfsync always`; killed when dropped.
struct Redis {
    child: Option<Child>,
    port: u16,
    dir: TempDir,
}

impl Redis {
    fn start() -> Redis {
        let dir = TempDir::new("redis");
        let port = free_addr().port();
        let mut redis = Redis {
            child: None,
            port,
            dir,
        };
        redis.restart();
        redis
    }

    fn restart(&mut self) {
        let child = Process::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--dir",
                self.dir.0.to_str().unwrap(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("redis-server could not start ({e}): install it (`apt-get install -y redis-server`; .ci/run does)")
            });
        self.child = Some(child);
        let give_up = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < give_up, "redis-server did not listen");
            thread::sleep(Duration::from_millis(20));
        }
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}

fn path_has(program: &str) -> bool {
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|p| Path::new(&p).join(program).is_file()))
        .unwrap_or(false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_receivers_on_one_redis_print_each_event_once() {
    assert!(
        path_has("redis-server"),
        "redis-server is not installed: `apt-get install -y redis-server` (.ci/run does)"
    );
    let redis = Redis::start();
    let url = redis.url();
    let env = [("ROOM_CALLBACK_REDIS", url.as_str())];
    let mut a = Receiver::start(&env);
    let mut b = Receiver::start(&env);
    let client = client();
    // Each event to both receivers, twice: 4 copies of each.
    let sent = AtomicUsize::new(0);
    for n in 0..300 {
        for r in [&a, &b, &a, &b] {
            assert_eq!(post(&client, &r.url(), n).await, Some(200), "event {n}");
            sent.fetch_add(1, Ordering::SeqCst);
        }
    }
    let all = |a: &Receiver, b: &Receiver| {
        let mut got = printed(&a.lines());
        got.extend(printed(&b.lines()));
        got
    };
    wait_until("300 events printed", Duration::from_secs(60), || {
        all(&a, &b).len() >= 300
    });
    thread::sleep(Duration::from_millis(500));
    a.terminate();
    b.terminate();
    let mut got = all(&a, &b);
    got.sort_unstable();
    assert_eq!(
        got,
        (0..300).collect::<Vec<_>>(),
        "each event once, between the two"
    );
    let (pa, pb) = (printed(&a.lines()).len(), printed(&b.lines()).len());
    eprintln!(
        "{} copies sent; printed {pa} by one receiver, {pb} by the other",
        sent.into_inner()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_means_503_never_ok_and_nothing_acknowledged_is_lost() {
    assert!(
        path_has("redis-server"),
        "redis-server is not installed: `apt-get install -y redis-server` (.ci/run does)"
    );
    let mut redis = Redis::start();
    let url = redis.url();
    let mut receiver = Receiver::start(&[("ROOM_CALLBACK_REDIS", url.as_str())]);
    let client = client();
    let mut acked = HashSet::new();
    for n in 0..200 {
        assert_eq!(post(&client, &receiver.url(), n).await, Some(200));
        acked.insert(n);
    }
    // Redis goes down: every answer is 503 (FAIL), promptly.
    redis.stop();
    let down = Instant::now();
    for n in 200..260 {
        let started = Instant::now();
        let status = post(&client, &receiver.url(), n).await;
        assert_eq!(status, Some(503), "event {n} while Redis is down");
        assert!(started.elapsed() < Duration::from_secs(3), "a slow 503");
    }
    eprintln!(
        "60 callbacks answered 503 in {:?} while Redis was down",
        down.elapsed()
    );
    // Back up (same data directory, AOF): serving again without a restart.
    redis.restart();
    let back = Instant::now();
    let mut n = 260;
    while n < 400 {
        match post(&client, &receiver.url(), n).await {
            Some(200) => {
                acked.insert(n);
                n += 1;
            }
            Some(503) => {
                assert!(
                    back.elapsed() < Duration::from_secs(20),
                    "still 503 20 s after Redis came back"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            other => panic!("event {n}: {other:?}"),
        }
    }
    wait_until(
        "every acknowledged event printed",
        Duration::from_secs(60),
        || {
            let seen: HashSet<u64> = printed(&receiver.lines()).into_iter().collect();
            acked.iter().all(|n| seen.contains(n))
        },
    );
    receiver.terminate();
    let seen = printed(&receiver.lines());
    assert!(
        seen.iter().all(|n| acked.contains(n)),
        "an event refused with 503 was printed"
    );
}
