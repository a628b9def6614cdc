//! The receiver (`examples/server.rs`) with an inbox, under faults, as separate processes on loopback:
//!
//! - 10,000 distinct callbacks at 64 connections, the receiver killed with SIGKILL half-way, restarted
//!   on the same inbox directory: every acknowledged event is printed (handled), and the only events
//!   printed twice are those the worker had in hand at the kill;
//! - two receivers and their workers on one Redis, every callback sent to both: each printed once;
//! - Redis stopped under load, then started again: no OK while it is down, nothing acknowledged lost.
//!
//! The Redis tests start their own `redis-server` (installed by `.ci/run`); without one each says so and
//! skips, unless `ROOM_CALLBACK_REQUIRE_REDIS` is set (as `.ci/run` sets it): then it fails.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use support::fs::TempDir;
use support::process::{program, Ready, Running};
use support::redis::{self, RedisServer};
use support::wait::block_until;

const APP: u64 = 1400000000;

// ----------------------------------------------------------------------------------------------------
// Processes

/// Starts the receiver (the `server` example) with `env`, and waits for it to listen. Its stdout lines
/// are the events it printed.
fn start_receiver(env: &[(&str, &str)]) -> Running {
    Running::start("the receiver", Ready::Line("listening"), |addr| {
        let mut cmd = program(env!("CARGO_BIN_EXE_tencent-room-callback-receiver"));
        cmd.env("ROOM_CALLBACK_ADDR", addr.to_string())
            .env("ROOM_CALLBACK_SDKAPPID", APP.to_string())
            .env("RUST_LOG", "warn,server=info")
            .envs(env.iter().copied());
        cmd
    })
}

/// The receiver's URL for a member-leave callback.
fn callback_url(receiver: &Running) -> String {
    format!(
        "{}?SdkAppid={APP}&CallbackCommand=Room.CallbackAfterMemberLeave&contenttype=json&ClientIP=127.0.0.1&OptPlatform=Web",
        receiver.url()
    )
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

// ----------------------------------------------------------------------------------------------------
// Embedded

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_receiver_loses_no_acknowledged_event() {
    let dir = TempDir::new("faults-kill");
    let inbox = dir.0.to_str().unwrap().to_owned();
    let env = [
        ("ROOM_CALLBACK_INBOX", inbox.as_str()),
        ("ROOM_CALLBACK_WORK_MS", "2"),
    ];
    let mut first = start_receiver(&env);
    let acked: Arc<Mutex<HashSet<u64>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let sender = tokio::spawn(load(
        callback_url(&first),
        10_000,
        64,
        stop.clone(),
        acked.clone(),
    ));
    // Half-way: SIGKILL, while callbacks are in flight and the worker is behind.
    let half = acked.clone();
    tokio::task::spawn_blocking(move || {
        block_until("5,000 acknowledgments", Duration::from_secs(120), || {
            half.lock().unwrap().len() >= 5_000
        })
    })
    .await
    .unwrap();
    first.stop();
    stop.store(true, Ordering::SeqCst);
    let statuses = sender.await.unwrap();
    let before_kill = printed(&first.stdout());
    let acked = acked.lock().unwrap().clone();
    assert!(
        statuses.keys().all(|s| matches!(s, None | Some(200))),
        "only OK or a dropped connection: {statuses:?}"
    );

    // Restarted on the same directory: the worker handles what was stored.
    let mut second = start_receiver(&env);
    let missing = |lines: &[String]| {
        let seen: HashSet<u64> = before_kill.iter().chain(&printed(lines)).copied().collect();
        acked.iter().filter(|n| !seen.contains(n)).count()
    };
    block_until(
        "every acknowledged event printed",
        Duration::from_secs(120),
        || missing(&second.stdout()) == 0,
    );
    // Let it settle, then stop it cleanly.
    thread::sleep(Duration::from_millis(300));
    let (_, _, log) = second.terminate();
    let after = printed(&second.stdout());

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
    let dir = TempDir::new("faults-copies");
    let inbox = dir.0.to_str().unwrap().to_owned();
    let mut receiver = start_receiver(&[("ROOM_CALLBACK_INBOX", inbox.as_str())]);
    let client = client();
    for n in 0..20 {
        for _ in 0..3 {
            assert_eq!(post(&client, &callback_url(&receiver), n).await, Some(200));
        }
    }
    block_until("20 events printed", Duration::from_secs(30), || {
        printed(&receiver.stdout()).len() >= 20
    });
    thread::sleep(Duration::from_millis(300));
    receiver.terminate();
    let mut got = printed(&receiver.stdout());
    got.sort_unstable();
    assert_eq!(got, (0..20).collect::<Vec<_>>());
}

// ----------------------------------------------------------------------------------------------------
// Redis

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_receivers_on_one_redis_print_each_event_once() {
    if !redis::available("two_receivers_on_one_redis_print_each_event_once") {
        return;
    }
    let redis = RedisServer::start("faults-shared");
    let url = redis.url();
    let env = [("ROOM_CALLBACK_REDIS", url.as_str())];
    let mut a = start_receiver(&env);
    let mut b = start_receiver(&env);
    let client = client();
    // Each event to both receivers, twice: 4 copies of each.
    let sent = AtomicUsize::new(0);
    for n in 0..300 {
        for r in [&a, &b, &a, &b] {
            assert_eq!(
                post(&client, &callback_url(r), n).await,
                Some(200),
                "event {n}"
            );
            sent.fetch_add(1, Ordering::SeqCst);
        }
    }
    let all = |a: &Running, b: &Running| {
        let mut got = printed(&a.stdout());
        got.extend(printed(&b.stdout()));
        got
    };
    block_until("300 events printed", Duration::from_secs(60), || {
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
    let (pa, pb) = (printed(&a.stdout()).len(), printed(&b.stdout()).len());
    eprintln!(
        "{} copies sent; printed {pa} by one receiver, {pb} by the other",
        sent.into_inner()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_means_503_never_ok_and_nothing_acknowledged_is_lost() {
    if !redis::available("redis_down_means_503_never_ok_and_nothing_acknowledged_is_lost") {
        return;
    }
    let mut redis = RedisServer::start("faults-down");
    let url = redis.url();
    let mut receiver = start_receiver(&[("ROOM_CALLBACK_REDIS", url.as_str())]);
    let client = client();
    let mut acked = HashSet::new();
    for n in 0..200 {
        assert_eq!(post(&client, &callback_url(&receiver), n).await, Some(200));
        acked.insert(n);
    }
    // Redis goes down: every answer is 503 (FAIL), promptly.
    redis.kill();
    let down = Instant::now();
    for n in 200..260 {
        let started = Instant::now();
        let status = post(&client, &callback_url(&receiver), n).await;
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
        match post(&client, &callback_url(&receiver), n).await {
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
    block_until(
        "every acknowledged event printed",
        Duration::from_secs(60),
        || {
            let seen: HashSet<u64> = printed(&receiver.stdout()).into_iter().collect();
            acked.iter().all(|n| seen.contains(n))
        },
    );
    receiver.terminate();
    let seen = printed(&receiver.stdout());
    assert!(
        seen.iter().all(|n| acked.contains(n)),
        "an event refused with 503 was printed"
    );
}
