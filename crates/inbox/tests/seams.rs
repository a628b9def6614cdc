//! The inbox's seams, at the library level: every `Duration` setting at `Duration::MAX` and at
//! `Duration::ZERO` (no panic, no refusal loop, each doing what its documentation says), the default
//! bounds, `close`, unreadable records kept aside (events and dead letters), a handler that kills its
//! process (run in child processes of this test binary) ending as a dead letter, and on Redis: the
//! pending bound counting the events in hand and the retries, an oversized TTL, and a completion that
//! Redis refuses written again rather than dropped.
//!
//! The Redis tests need the feature `redis` and `redis-server` on `PATH`: they skip themselves,
//! saying so, without the server (unless `ROOM_CALLBACK_REQUIRE_REDIS` is set).

#[allow(dead_code)]
mod common;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{app, leave, n_of, pending, send, APP};
use http::StatusCode;
use support::fs::TempDir;
#[cfg(feature = "redis")]
use support::redis;
use support::redis::RedisServer;
use support::wait::{wait_for, wait_until};
use tencent_room_callback::meta::DeliveryKey;
use tencent_room_callback::HandlerError;
use tencent_room_callback_inbox::{
    Inbox, InboxBuilder, InboxErrorKind, InboxEvent, DEFAULT_HANDLER_TIMEOUT, DEFAULT_MAX_PENDING,
    DEFAULT_STORE_TIMEOUT, MIN_STORE_TIMEOUT,
};

/// The bound on each wait.
const WAIT: Duration = Duration::from_secs(10);

/// How to open an inbox from its settings (memory, a directory, a Redis).
type Opener = Box<dyn Fn(InboxBuilder, &str) -> Pin<Box<dyn Future<Output = Inbox>>>>;

fn memory() -> Opener {
    Box::new(|builder, _| Box::pin(async move { builder.in_memory() }))
}

fn embedded(dir: &TempDir) -> Opener {
    let dir = dir.0.clone();
    Box::new(move |builder, name| {
        let dir = dir.join(name);
        Box::pin(async move { builder.open(dir).unwrap() })
    })
}

#[cfg(feature = "redis")]
fn on_redis(url: String) -> Opener {
    Box::new(move |builder, name| {
        let url = url.clone();
        let name = name.to_owned();
        Box::pin(async move { builder.redis_prefix(name).redis(&url).await.unwrap() })
    })
}

/// Every `Duration` the inbox takes, at `Duration::MAX` then at `Duration::ZERO`, on the store
/// `open` makes.
async fn durations_at_their_extremes(open: Opener, redis: Option<&RedisServer>) {
    // MAX: a TTL that never runs out within the test, a deadline that waits, a backoff that does not
    // come back, a handler timeout that never fires, a shutdown that waits for the handlers.
    #[allow(unused_mut)]
    let mut at_max = Inbox::builder()
        .dedup_ttl(Duration::MAX)
        .store_timeout(Duration::MAX);
    #[cfg(feature = "redis")]
    if redis.is_some() {
        at_max = at_max.redis_claim_idle(Duration::MAX);
    }
    let inbox = open(at_max, "max").await;
    assert_eq!(inbox.store_timeout(), Duration::MAX);
    let router = app(&inbox);
    for _ in 0..2 {
        assert_eq!(send(&router, &leave("r", 1)).await.0, StatusCode::OK);
    }
    assert_eq!(send(&router, &leave("r", 2)).await.0, StatusCode::OK);
    assert_eq!(pending(&inbox).await, 2, "the copy is a duplicate");
    if let Some(server) = redis {
        // The key's TTL: cut to 365 days, stored with the event (never "stored, then the script
        // failed").
        let key = DeliveryKey::of(APP, "Room.CallbackAfterMemberLeave", leave("r", 1).body());
        let hex: String = std::iter::once(1u8)
            .chain(key.as_bytes().iter().copied())
            .map(|b| format!("{b:02x}"))
            .collect();
        let ttl = server
            .command(&["PTTL", &format!("{{max}}:key:{hex}")])
            .unwrap();
        let ms: u64 = ttl.trim_start_matches(':').parse().unwrap();
        assert!(
            ms > 364 * 24 * 3600 * 1000 && ms <= 365 * 24 * 3600 * 1000,
            "{ttl}"
        );
    }
    let attempts: Arc<Mutex<Vec<(u64, u32)>>> = Arc::default();
    let worker = {
        let attempts = attempts.clone();
        inbox
            .worker(move |event: InboxEvent| {
                let n = n_of(&event);
                attempts.lock().unwrap().push((n, event.attempt()));
                async move {
                    if n == 1 {
                        Err(HandlerError::msg("no"))
                    } else {
                        Ok(())
                    }
                }
            })
            .backoff(Duration::MAX, Duration::MAX)
            .handler_timeout(Duration::MAX)
            .start()
    };
    wait_until("both events handled once", WAIT, || {
        attempts.lock().unwrap().len() == 2
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut seen = attempts.lock().unwrap().clone();
    seen.sort_unstable();
    assert_eq!(seen, [(1, 1), (2, 1)], "event 1 waits for its (long) retry");
    let report = tokio::time::timeout(WAIT, worker.shutdown(Duration::MAX))
        .await
        .expect("a shutdown with Duration::MAX grace returns once the handlers are done");
    assert_eq!((report.finished, report.returned), (0, 0));
    assert_eq!(pending(&inbox).await, 1, "event 1 still waits");
    inbox.close().await.unwrap();

    // ZERO: no de-duplication, a deadline raised to its floor, no backoff, a handler timeout of 1 ms,
    // a shutdown that cancels at once.
    #[allow(unused_mut)]
    let mut at_zero = Inbox::builder()
        .dedup_ttl(Duration::ZERO)
        .store_timeout(Duration::ZERO);
    #[cfg(feature = "redis")]
    if redis.is_some() {
        at_zero = at_zero.redis_claim_idle(Duration::ZERO);
    }
    let inbox = open(at_zero, "zero").await;
    assert_eq!(inbox.store_timeout(), MIN_STORE_TIMEOUT);
    let router = app(&inbox);
    for _ in 0..2 {
        assert_eq!(send(&router, &leave("r", 1)).await.0, StatusCode::OK);
    }
    assert_eq!(pending(&inbox).await, 2, "no de-duplication: both stored");
    let started = Instant::now();
    let worker = inbox
        .worker(|_: InboxEvent| async {
            tokio::time::sleep(Duration::from_millis(200)).await;
            Ok(())
        })
        .backoff(Duration::ZERO, Duration::ZERO)
        .handler_timeout(Duration::ZERO)
        .max_attempts(2)
        .start();
    let dead = wait_for("two dead letters", WAIT, || {
        let inbox = inbox.clone();
        async move {
            let dead = inbox.dead_letters(10).await.unwrap();
            (dead.len() == 2).then_some(dead)
        }
    })
    .await;
    worker.shutdown(Duration::ZERO).await;
    for d in &dead {
        assert_eq!(d.error, "the handler did not finish within 1 ms");
        assert_eq!(d.event.attempt(), 3, "2 attempts made");
    }
    assert!(started.elapsed() < WAIT);
    // A shutdown with no grace: the handler in progress is cancelled and its event given back.
    assert_eq!(send(&router, &leave("r", 3)).await.0, StatusCode::OK);
    let running = Arc::new(AtomicBool::new(false));
    let worker = {
        let running = running.clone();
        inbox
            .worker(move |_: InboxEvent| {
                running.store(true, Ordering::SeqCst);
                std::future::pending::<Result<(), HandlerError>>()
            })
            .start()
    };
    wait_until("the handler runs", WAIT, || running.load(Ordering::SeqCst)).await;
    let report = tokio::time::timeout(Duration::from_secs(2), worker.shutdown(Duration::ZERO))
        .await
        .expect("a shutdown with no grace returns at once");
    assert_eq!((report.finished, report.returned), (0, 1));
    assert_eq!(pending(&inbox).await, 1);
    inbox.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_duration_setting_takes_max_and_zero_in_memory() {
    durations_at_their_extremes(memory(), None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_duration_setting_takes_max_and_zero_embedded() {
    let dir = TempDir::new("seams-durations");
    durations_at_their_extremes(embedded(&dir), None).await;
}

#[cfg(feature = "redis")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_duration_setting_takes_max_and_zero_on_redis() {
    if !redis::available("every_duration_setting_takes_max_and_zero_on_redis") {
        return;
    }
    let server = RedisServer::start("seams-durations");
    durations_at_their_extremes(on_redis(server.url()), Some(&server)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_defaults_are_bounded() {
    let inbox = Inbox::builder().in_memory();
    assert_eq!(inbox.max_pending(), DEFAULT_MAX_PENDING);
    const { assert!(DEFAULT_MAX_PENDING >= 100_000) };
    assert_eq!(inbox.store_timeout(), DEFAULT_STORE_TIMEOUT);
    assert_eq!(DEFAULT_STORE_TIMEOUT, Duration::from_secs(1));
    assert_eq!(DEFAULT_HANDLER_TIMEOUT, Duration::from_secs(30));
    const { assert!(tencent_room_callback_inbox::DEFAULT_MAX_ATTEMPTS >= 3) };
    // 0 is taken as 1: one event, then 503.
    let inbox = Inbox::builder().max_pending(0).in_memory();
    let app = app(&inbox);
    assert_eq!(send(&app, &leave("r", 1)).await.0, StatusCode::OK);
    let (status, body) = send(&app, &leave("r", 2)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(body.contains("FAIL"), "{body}");
    // A duplicate of what is stored is still acknowledged: it is stored.
    assert_eq!(send(&app, &leave("r", 1)).await.0, StatusCode::OK);
    assert_eq!(inbox.stats().refused, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_inbox_answers_503_and_its_directory_reopens_at_once() {
    let dir = TempDir::new("seams-close");
    let inbox = Inbox::open(&dir.0).unwrap();
    let app = app(&inbox);
    assert_eq!(send(&app, &leave("r", 1)).await.0, StatusCode::OK);
    inbox.close().await.unwrap();
    let (status, body) = send(&app, &leave("r", 2)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(body.contains("FAIL"), "{body}");
    let err = inbox.store(leave_callback(3)).await.unwrap_err();
    assert_eq!(err.kind(), InboxErrorKind::Closed);
    assert_eq!(inbox.stats().refused, 1);
    // Closed: the file is unlocked, though a clone (the app's) is still alive.
    let started = Instant::now();
    let again = Inbox::open(&dir.0).unwrap();
    assert!(started.elapsed() < Duration::from_millis(500));
    assert_eq!(pending(&again).await, 1);
    again.close().await.unwrap();
}

/// A member-leave callback numbered `n`, as a `RawCallback`.
fn leave_callback(n: u64) -> tencent_room_callback::RawCallback {
    let req = leave("r", n);
    tencent_room_callback::RawCallback::new(
        tencent_room_callback::CallbackMeta::new(
            APP,
            tencent_room_callback::CallbackCommand::new("Room.CallbackAfterMemberLeave"),
        ),
        req.body().clone(),
    )
}

// ------------------------------------------------------------------------------------------------
// Damage

/// Makes the version of every stored copy of event `n`'s header unknown (old copies in freed pages
/// too): how many copies.
fn damage_record(file: &std::path::Path, n: u64) -> usize {
    let mut bytes = std::fs::read(file).unwrap();
    let needle = format!("\"EventTime\":{n}}}");
    let mut damaged = 0;
    let mut from = 0;
    while let Some(at) = bytes[from..]
        .windows(needle.len())
        .position(|w| w == needle.as_bytes())
    {
        let at = from + at;
        from = at + needle.len();
        let window = at.saturating_sub(1024);
        if let Some(header) = bytes[window..at]
            .windows(7)
            .rposition(|w| w == b"{\"v\":1,")
        {
            bytes[window + header + 5] = b'7';
            damaged += 1;
        }
    }
    std::fs::write(file, &bytes).unwrap();
    damaged
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_records_are_kept_aside_not_handed_nor_dropped() {
    let dir = TempDir::new("seams-damage");
    {
        let inbox = Inbox::open(&dir.0).unwrap();
        let app = app(&inbox);
        for n in 1..=3 {
            assert_eq!(send(&app, &leave("r", n)).await.0, StatusCode::OK);
        }
        // Event 3 becomes a dead letter.
        let worker = inbox
            .worker(|event: InboxEvent| async move {
                if n_of(&event) == 3 {
                    Err(HandlerError::msg("no"))
                } else {
                    std::future::pending().await
                }
            })
            .max_attempts(1)
            .start();
        wait_until("a dead letter", WAIT, || {
            futures_now(inbox.depth()).is_some_and(|d| d.unwrap().dead == 1)
        })
        .await;
        worker.shutdown(Duration::ZERO).await;
        inbox.close().await.unwrap();
    }
    let file = dir.0.join("inbox.redb");
    assert!(damage_record(&file, 2) >= 1);
    assert!(damage_record(&file, 3) >= 1);

    let inbox = Inbox::open(&dir.0).unwrap();
    let depth = inbox.depth().await.unwrap();
    assert_eq!((depth.pending, depth.dead, depth.quarantined), (1, 0, 2));
    let quarantined = inbox.quarantined(10).await.unwrap();
    let mut found: Vec<(&str, String, bool)> = quarantined
        .iter()
        .map(|q| {
            (
                q.from,
                q.reason.clone(),
                String::from_utf8_lossy(&q.bytes).contains("\"EventTime\":"),
            )
        })
        .collect();
    found.sort();
    assert_eq!(
        found,
        [
            (
                "dead",
                "a stored event is corrupt: unknown version".to_owned(),
                true
            ),
            (
                "events",
                "a stored event is corrupt: unknown version".to_owned(),
                true
            ),
        ]
    );
    // Only the readable event is handed.
    let seen = Arc::new(Mutex::new(Vec::new()));
    let worker = {
        let seen = seen.clone();
        inbox
            .worker(move |event: InboxEvent| {
                seen.lock().unwrap().push(n_of(&event));
                async { Ok(()) }
            })
            .start()
    };
    wait_until("event 1", WAIT, || !seen.lock().unwrap().is_empty()).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    worker.shutdown(Duration::from_secs(1)).await;
    assert_eq!(*seen.lock().unwrap(), [1]);
    assert!(inbox.dead_letters(10).await.unwrap().is_empty());
    inbox.close().await.unwrap();
}

/// The value of `future` if it is ready at once.
fn futures_now<F: Future>(future: F) -> Option<F::Output> {
    let mut future = std::pin::pin!(future);
    let waker = std::task::Waker::noop();
    match future
        .as_mut()
        .poll(&mut std::task::Context::from_waker(waker))
    {
        std::task::Poll::Ready(out) => Some(out),
        std::task::Poll::Pending => None,
    }
}

// ------------------------------------------------------------------------------------------------
// A handler that kills its process

/// Where the child process finds the inbox.
const CHILD_DIR: &str = "ROOM_CALLBACK_INBOX_TEST_CHILD_DIR";

/// Run in a child process by [`a_handler_that_kills_its_process_ends_as_a_dead_letter`]: a worker (one
/// event at a time, 3 attempts) whose handler aborts the process on event 1, until nothing is pending.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run in a child process by a_handler_that_kills_its_process_ends_as_a_dead_letter"]
async fn child_worker_that_aborts_on_event_1() {
    let Some(dir) = std::env::var_os(CHILD_DIR) else {
        return;
    };
    let inbox = Inbox::open(&dir).unwrap();
    let worker = inbox
        .worker(|event: InboxEvent| async move {
            if n_of(&event) == 1 {
                std::process::abort();
            }
            println!("handled {}", n_of(&event));
            Ok(())
        })
        .concurrency(1)
        .max_attempts(3)
        .start();
    let inbox_ = inbox.clone();
    wait_for("nothing pending", WAIT, || {
        let inbox = inbox_.clone();
        async move { (pending(&inbox).await == 0).then_some(()) }
    })
    .await;
    worker.shutdown(Duration::from_secs(1)).await;
    inbox.close().await.unwrap();
}

#[test]
fn a_handler_that_kills_its_process_ends_as_a_dead_letter() {
    let dir = TempDir::new("seams-abort");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let inbox = Inbox::open(&dir.0).unwrap();
        for n in 0..3 {
            assert!(inbox.store(leave_callback(n)).await.unwrap());
        }
        inbox.close().await.unwrap();
    });
    let mut runs = Vec::new();
    let mut handled = Vec::new();
    let mut outputs = String::new();
    for _ in 0..6 {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "child_worker_that_aborts_on_event_1",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_DIR, &dir.0)
            .env_remove("RUST_LOG")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        outputs.push_str(&text);
        outputs.push_str(&String::from_utf8_lossy(&out.stderr));
        // libtest's own "test ... " may share the line.
        handled.extend(text.split("handled ").skip(1).map(|rest| {
            rest.chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
        }));
        runs.push(out.status.success());
        if out.status.success() {
            break;
        }
    }
    assert_eq!(
        runs,
        [false, false, false, true],
        "killed under its handler 3 times, then buried without a 4th hand-out"
    );
    assert_eq!(
        handled,
        ["0", "2"],
        "the others handled once each:\n{outputs}"
    );
    runtime.block_on(async {
        let inbox = Inbox::open(&dir.0).unwrap();
        let dead = inbox.dead_letters(10).await.unwrap();
        assert_eq!(dead.len(), 1);
        assert_eq!(n_of(&dead[0].event), 1);
        assert_eq!(dead[0].event.attempt(), 4, "3 attempts made");
        assert!(
            dead[0].error.contains("handed out 3 times"),
            "{}",
            dead[0].error
        );
        assert_eq!(pending(&inbox).await, 0);
        inbox.close().await.unwrap();
    });
}

// ------------------------------------------------------------------------------------------------
// Redis

#[cfg(feature = "redis")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_redis_the_bound_counts_events_in_hand_and_retries() {
    if !redis::available("on_redis_the_bound_counts_events_in_hand_and_retries") {
        return;
    }
    let server = RedisServer::start("seams-bound");
    let inbox = Inbox::builder()
        .max_pending(2)
        .redis(&server.url())
        .await
        .unwrap();
    let app = app(&inbox);
    assert_eq!(send(&app, &leave("r", 1)).await.0, StatusCode::OK);
    assert_eq!(send(&app, &leave("r", 2)).await.0, StatusCode::OK);
    let (status, body) = send(&app, &leave("r", 3)).await;
    assert_eq!(
        (status, body.contains("FAIL")),
        (StatusCode::SERVICE_UNAVAILABLE, true)
    );
    // One event in a handler's hands, the other waiting for a (long) retry: both still count.
    let tried = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let worker = {
        let tried = tried.clone();
        inbox
            .worker(move |event: InboxEvent| {
                tried.fetch_add(1, Ordering::SeqCst);
                async move {
                    if n_of(&event) == 1 {
                        Err(HandlerError::msg("later"))
                    } else {
                        std::future::pending().await
                    }
                }
            })
            .backoff(Duration::from_secs(60), Duration::from_secs(60))
            .start()
    };
    wait_until("both handed out", WAIT, || {
        tried.load(Ordering::SeqCst) == 2
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        send(&app, &leave("r", 3)).await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(pending(&inbox).await, 2);
    worker.shutdown(Duration::ZERO).await;
    assert_eq!(inbox.stats().refused, 2);
}

#[cfg(feature = "redis")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_redis_a_refused_completion_is_written_again_not_dropped() {
    if !redis::available("on_redis_a_refused_completion_is_written_again_not_dropped") {
        return;
    }
    let server = RedisServer::start("seams-settle");
    let inbox = Inbox::builder().redis(&server.url()).await.unwrap();
    let app = app(&inbox);
    assert_eq!(send(&app, &leave("r", 1)).await.0, StatusCode::OK);
    let started = Arc::new(AtomicBool::new(false));
    let go = Arc::new(tokio::sync::Notify::new());
    let handled = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let worker = {
        let (started, go, handled) = (started.clone(), go.clone(), handled.clone());
        inbox
            .worker(move |_: InboxEvent| {
                started.store(true, Ordering::SeqCst);
                handled.fetch_add(1, Ordering::SeqCst);
                let go = go.clone();
                async move {
                    go.notified().await;
                    Ok(())
                }
            })
            .start()
    };
    wait_until("the handler runs", WAIT, || started.load(Ordering::SeqCst)).await;
    // Redis stalls as the handler finishes: the completion fails, and is written again once Redis is
    // back — the event is neither handed again nor left pending.
    server.signal("STOP");
    go.notify_one();
    tokio::time::sleep(Duration::from_secs(3)).await;
    server.signal("CONT");
    let resumed = Instant::now();
    wait_for("the completion", WAIT, || {
        let inbox = inbox.clone();
        async move {
            match inbox.depth().await {
                Ok(depth) if depth.pending == 0 => Some(()),
                _ => None,
            }
        }
    })
    .await;
    let took = resumed.elapsed();
    worker.shutdown(Duration::from_secs(1)).await;
    assert_eq!(handled.load(Ordering::SeqCst), 1, "handled once");
    assert!(
        took < Duration::from_secs(8),
        "completed {took:?} after Redis resumed"
    );
}

#[cfg(feature = "redis")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_redis_a_lost_delivery_is_taken_back_after_a_failure_not_the_claim_idle_time() {
    if !redis::available(
        "on_redis_a_lost_delivery_is_taken_back_after_a_failure_not_the_claim_idle_time",
    ) {
        return;
    }
    let server = RedisServer::start("seams-lost");
    let (events, group) = (
        "{tencent-room-callback}:events",
        "{tencent-room-callback}:workers",
    );
    let inbox = Inbox::builder().redis(&server.url()).await.unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let go = Arc::new(tokio::sync::Notify::new());
    let worker = {
        let (seen, go) = (seen.clone(), go.clone());
        inbox
            .worker(move |event: InboxEvent| {
                let n = n_of(&event);
                seen.lock().unwrap().push(n);
                let go = go.clone();
                async move {
                    if n == 0 {
                        go.notified().await;
                    }
                    Ok(())
                }
            })
            .concurrency(1)
            .start()
    };
    assert!(inbox.store(leave_callback(0)).await.unwrap());
    wait_until("event 0 in hand", WAIT, || !seen.lock().unwrap().is_empty()).await;
    // The worker's consumer, from the entry it holds; event 1 delivered to it behind its back (as a
    // read whose reply was lost would): pending for it, in no one's hands.
    let client = ::redis::Client::open(server.url()).unwrap();
    let mut raw = client.get_multiplexed_async_connection().await.unwrap();
    let held: Vec<(String, String, u64, u64)> = ::redis::cmd("XPENDING")
        .arg(events)
        .arg(group)
        .arg("-")
        .arg("+")
        .arg(10)
        .query_async(&mut raw)
        .await
        .unwrap();
    let consumer = held[0].1.clone();
    assert!(inbox.store(leave_callback(1)).await.unwrap());
    let _: ::redis::Value = ::redis::cmd("XREADGROUP")
        .arg("GROUP")
        .arg(group)
        .arg(&consumer)
        .arg("COUNT")
        .arg(1)
        .arg("STREAMS")
        .arg(events)
        .arg(">")
        .query_async(&mut raw)
        .await
        .unwrap();
    // Redis stalls as event 0's handler finishes: its completion fails (and is written again).
    server.signal("STOP");
    go.notify_one();
    tokio::time::sleep(Duration::from_secs(3)).await;
    server.signal("CONT");
    let resumed = Instant::now();
    // Event 1 handled within seconds, not after the claim idle time (30 s).
    wait_until("event 1 handled", WAIT, || seen.lock().unwrap().len() == 2).await;
    let took = resumed.elapsed();
    worker.shutdown(Duration::from_secs(1)).await;
    assert_eq!(*seen.lock().unwrap(), [0, 1]);
    assert!(took < Duration::from_secs(8), "{took:?}");
    eprintln!("a lost delivery taken back {took:?} after Redis resumed");
}

/// One bound on lists from the layer to the worker: a leave of 20,000 members, under a layer bound of
/// 50,000, is stored (not refused by the inbox's own check) and decoded whole by the worker after a
/// restart (the bound travels with the stored event); one past the bound is refused before anything is
/// stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_layers_bound_on_lists_holds_in_the_inbox_and_its_worker() {
    use axum::routing::post;
    use tencent_room_callback::testing::CallbackRequest;
    use tencent_room_callback::{CallbackLayer, Command, Config, MemberLeave};

    let members = |n: usize| {
        let list = (0..n)
            .map(|i| format!("\"u{i}\""))
            .collect::<Vec<_>>()
            .join(",");
        CallbackRequest::raw(
            Command::MemberLeave,
            format!(r#"{{"RoomId":"r","MemberList_Account":[{list}],"EventTime":1}}"#),
        )
        .url("/cb")
    };
    let dir = TempDir::new("seams-bound");
    let inbox = Inbox::open(&dir.0).unwrap();
    let app = axum::Router::new()
        .route("/cb", post(|| async { (StatusCode::NOT_FOUND, "the app") }))
        .layer(
            CallbackLayer::new(Config::new(APP).max_members(50_000))
                .path("/cb")
                .on_notifications(inbox.clone()),
        );
    assert_eq!(send(&app, &members(20_000)).await.0, StatusCode::OK);
    let (status, body) = send(&app, &members(50_001)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("longer than 50000 entries"), "{body}");
    assert_eq!(pending(&inbox).await, 1);
    inbox.close().await.unwrap();
    // After a restart, the worker decodes it under the bound it was stored with.
    let inbox = Inbox::open(&dir.0).unwrap();
    let decoded = Arc::new(Mutex::new(Vec::new()));
    let seen = decoded.clone();
    let worker = inbox
        .worker(move |event: InboxEvent| {
            let seen = seen.clone();
            async move {
                let leave: MemberLeave = event.decode()?;
                seen.lock().unwrap().push(leave.members.len());
                Ok::<(), HandlerError>(())
            }
        })
        .start();
    wait_until("the worker", WAIT, || !decoded.lock().unwrap().is_empty()).await;
    assert_eq!(*decoded.lock().unwrap(), [20_000]);
    worker.shutdown(Duration::from_secs(5)).await;
    inbox.close().await.unwrap();
}
