//! The inbox on Redis Streams, against a real `redis-server` per test (AOF on, `appendfsync always`,
//! in a temporary directory; killed when the test ends): callbacks through a real axum stack, workers,
//! de-duplication, retries, dead letters and replay, the takeover of a dead worker's events, a consumer
//! group destroyed under a running worker, a server killed and restarted (503 at once, then OK again with
//! the same `Inbox`, nothing acknowledged lost), a stalled server, two receivers and two workers on one
//! Redis.
//!
//! Needs `redis-server` (6.2 or later) on `PATH`: without it each test says so and skips, unless
//! `ROOM_CALLBACK_REQUIRE_REDIS` is set (as `.ci/run` sets it): then it fails.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{
    app, assert_backed_off, assert_event_1_buried, assert_meta_of_android_leave, counting,
    dead_letters, failing_three_times, failing_until_fixed, leave, n_of, pending, replay_once,
    send, send_at_once, shut_down_with_two_stuck, APP,
};
use http::StatusCode;
use support::redis::{self, RedisServer};
use support::wait::{wait_for, wait_until};
use tencent_room_callback::meta::DeliveryKey;
use tencent_room_callback::testing::CallbackRequest;
use tencent_room_callback::{Ack, HandlerError};
use tencent_room_callback_inbox::{Inbox, InboxEvent};

/// The bound on every test.
const TEST_TIMEOUT: Duration = Duration::from_secs(60);
/// The bound on each wait.
const WAIT: Duration = Duration::from_secs(15);

async fn ok(app: &axum::Router, req: &CallbackRequest) {
    let (status, body) = send(app, req).await;
    let expected = std::str::from_utf8(Ack::OK_BODY).unwrap();
    assert_eq!((status, body.as_str()), (StatusCode::OK, expected));
}

/// Runs a test's body within [`TEST_TIMEOUT`].
async fn bounded(test: impl std::future::Future<Output = ()>) {
    tokio::time::timeout(TEST_TIMEOUT, test)
        .await
        .expect("the test took too long");
}

/// A worker that records every event it handles (`n`, attempt) and succeeds.
fn recording(
    inbox: &Inbox,
    seen: &Arc<Mutex<Vec<(u64, u32)>>>,
) -> tencent_room_callback_inbox::WorkerHandle {
    let seen = seen.clone();
    inbox
        .worker(move |event: InboxEvent| {
            seen.lock().unwrap().push((n_of(&event), event.attempt()));
            async { Ok::<(), HandlerError>(()) }
        })
        .start()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callbacks_are_stored_then_handled_with_everything_they_carried() {
    if !redis::available("callbacks_are_stored_then_handled_with_everything_they_carried") {
        return;
    }
    let server = RedisServer::start("roundtrip");
    bounded(async {
        let inbox = Inbox::builder().redis(&server.url()).await.unwrap();
        assert_eq!(inbox.store_name(), "redis");
        let app = app(&inbox);
        let first = leave("r1", 0).client_ip("10.1.2.3").platform("Android");
        ok(&app, &first).await;
        for n in 1..5 {
            ok(&app, &leave("r1", n)).await;
        }
        assert_eq!(pending(&inbox).await, 5);
        // Another prefix is another inbox.
        let other = Inbox::builder()
            .redis_prefix("another")
            .redis(&server.url())
            .await
            .unwrap();
        assert_eq!(pending(&other).await, 0);

        let got = Arc::new(Mutex::new(Vec::new()));
        let worker = {
            let got = got.clone();
            inbox
                .worker(move |event: InboxEvent| {
                    got.lock().unwrap().push(event);
                    async { Ok(()) }
                })
                .concurrency(1)
                .start()
        };
        wait_until("5 events", WAIT, || got.lock().unwrap().len() == 5).await;
        worker.shutdown(Duration::from_secs(1)).await;
        let got = got.lock().unwrap().clone();
        // One worker, one at a time: stream order, which is arrival order.
        assert_eq!(got.iter().map(n_of).collect::<Vec<_>>(), [0, 1, 2, 3, 4]);
        let event = &got[0];
        assert!(
            event.id().to_string().contains('-'),
            "a stream ID: {}",
            event.id()
        );
        assert_meta_of_android_leave(event);
        assert_eq!(event.body(), first.body());
        assert_eq!(event.room(), Some("\"r1\""));
        assert_eq!(event.attempt(), 1);
        assert_eq!(
            event.key(),
            DeliveryKey::of(APP, "Room.CallbackAfterMemberLeave", first.body())
        );
        let age = event.received_at().elapsed().unwrap_or_default();
        assert!(age < Duration::from_secs(30), "received {age:?} ago");
        assert_eq!(inbox.depth().await.unwrap(), Default::default());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_are_acknowledged_but_stored_once() {
    if !redis::available("duplicates_are_acknowledged_but_stored_once") {
        return;
    }
    let server = RedisServer::start("dedup");
    bounded(async {
        let inbox = Inbox::builder().redis(&server.url()).await.unwrap();
        let app = app(&inbox);
        ok(&app, &leave("r", 1)).await;
        ok(&app, &leave("r", 1)).await;
        assert_eq!(pending(&inbox).await, 1, "the same callback twice");
        ok(&app, &leave("r", 2)).await;
        assert_eq!(pending(&inbox).await, 2, "another body");
        // 30 copies at once: one stored, every copy OK.
        for status in send_at_once(&app, &leave("r", 3), 30).await {
            assert_eq!(status, StatusCode::OK);
        }
        assert_eq!(pending(&inbox).await, 3);

        // A short TTL: the key is forgotten after it (Redis expires it).
        let short = Inbox::builder()
            .redis_prefix("short")
            .dedup_ttl(Duration::from_millis(300))
            .redis(&server.url())
            .await
            .unwrap();
        let app = self::app(&short);
        ok(&app, &leave("r", 1)).await;
        ok(&app, &leave("r", 1)).await;
        assert_eq!(pending(&short).await, 1);
        tokio::time::sleep(Duration::from_millis(450)).await;
        ok(&app, &leave("r", 1)).await;
        assert_eq!(pending(&short).await, 2, "stored again after the TTL");

        // No de-duplication: every copy stored.
        let none = Inbox::builder()
            .redis_prefix("none")
            .dedup_ttl(None)
            .redis(&server.url())
            .await
            .unwrap();
        let app = self::app(&none);
        for _ in 0..3 {
            ok(&app, &leave("r", 1)).await;
        }
        assert_eq!(pending(&none).await, 3);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_that_fails_three_times_then_succeeds_is_handled_once() {
    if !redis::available("a_handler_that_fails_three_times_then_succeeds_is_handled_once") {
        return;
    }
    let server = RedisServer::start("retry");
    bounded(async {
        let inbox = Inbox::builder().redis(&server.url()).await.unwrap();
        let app = app(&inbox);
        ok(&app, &leave("r", 1)).await;
        let attempts = Arc::new(Mutex::new(Vec::new()));
        let (worker, successes) = failing_three_times(&inbox, &attempts);
        wait_until("a success", WAIT, || successes.load(Ordering::SeqCst) == 1).await;
        // Settled: nothing more comes.
        tokio::time::sleep(Duration::from_millis(500)).await;
        worker.shutdown(Duration::from_secs(1)).await;
        assert_eq!(successes.load(Ordering::SeqCst), 1);
        assert_backed_off(&attempts.lock().unwrap());
        assert_eq!(inbox.depth().await.unwrap(), Default::default());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_always_failing_event_ends_in_dead_letters_and_is_replayed() {
    if !redis::available("an_always_failing_event_ends_in_dead_letters_and_is_replayed") {
        return;
    }
    let server = RedisServer::start("dead");
    bounded(async {
        let inbox = Inbox::builder().redis(&server.url()).await.unwrap();
        let app = app(&inbox);
        ok(&app, &leave("r", 1)).await;
        ok(&app, &leave("r", 2)).await;
        let fail = Arc::new(AtomicBool::new(true));
        let handled = Arc::new(Mutex::new(Vec::new()));
        let worker = failing_until_fixed(&inbox, &fail, &handled);
        let dead = dead_letters(&inbox, WAIT).await;
        assert_event_1_buried(&dead);
        wait_until("event 2", WAIT, || {
            handled.lock().unwrap().as_slice() == [(2, 1)]
        })
        .await;
        assert_eq!(inbox.depth().await.unwrap().dead, 1);
        assert_eq!(inbox.depth().await.unwrap().pending, 0);

        // Fixed downstream: the replay is handled, from its first attempt.
        fail.store(false, Ordering::SeqCst);
        replay_once(&inbox, &dead[0]).await;
        assert_eq!(inbox.replay(&"42".parse().unwrap()).await.unwrap(), None);
        assert_eq!(inbox.replay(&"1-1".parse().unwrap()).await.unwrap(), None);
        wait_until("the replay", WAIT, || handled.lock().unwrap().len() == 2).await;
        worker.shutdown(Duration::from_secs(1)).await;
        assert_eq!(handled.lock().unwrap()[1], (1, 1));
        assert_eq!(inbox.depth().await.unwrap(), Default::default());
        assert!(inbox.dead_letters(10).await.unwrap().is_empty());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shutdown_gives_back_what_it_did_not_finish_at_once() {
    if !redis::available("a_shutdown_gives_back_what_it_did_not_finish_at_once") {
        return;
    }
    let server = RedisServer::start("release");
    bounded(async {
        // The default claim idle time (30 s): what a shutdown gives back must not wait for it.
        let inbox = Inbox::builder().redis(&server.url()).await.unwrap();
        let app = app(&inbox);
        for n in 0..4 {
            ok(&app, &leave(&format!("r{n}"), n)).await;
        }
        shut_down_with_two_stuck(&inbox, WAIT).await;
        let seen = Arc::new(Mutex::new(Vec::new()));
        let again = Instant::now();
        // Another receiver's worker (another consumer) takes them.
        let other = Inbox::builder().redis(&server.url()).await.unwrap();
        let worker = recording(&other, &seen);
        wait_until("the 2 returned", WAIT, || seen.lock().unwrap().len() == 2).await;
        assert!(
            again.elapsed() < Duration::from_secs(5),
            "{:?}",
            again.elapsed()
        );
        worker.shutdown(Duration::from_secs(1)).await;
        let mut seen = seen.lock().unwrap().clone();
        seen.sort_unstable();
        assert_eq!(seen, [(2, 1), (3, 1)], "handed again, no attempt counted");
        assert_eq!(pending(&inbox).await, 0);
    })
    .await;
}

/// Starts a worker on its own runtime (its own thread): a process of its own, as far as the inbox can
/// tell. The worker's handler reports each event it starts, then holds it forever.
fn doomed_worker(url: String, started: Arc<Mutex<Vec<u64>>>) -> tokio::runtime::Runtime {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    runtime.spawn(async move {
        let inbox = Inbox::builder()
            .redis_claim_idle(Duration::from_millis(600))
            .redis(&url)
            .await
            .unwrap();
        let worker = inbox
            .worker(move |event: InboxEvent| {
                started.lock().unwrap().push(n_of(&event));
                std::future::pending::<Result<(), HandlerError>>()
            })
            .start();
        std::future::pending::<()>().await;
        drop(worker);
    });
    runtime
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_workers_events_are_taken_over_but_a_slow_live_one_keeps_its_own() {
    if !redis::available("a_dead_workers_events_are_taken_over_but_a_slow_live_one_keeps_its_own") {
        return;
    }
    let server = RedisServer::start("takeover");
    bounded(async {
        let idle = Duration::from_millis(600);
        let inbox = Inbox::builder()
            .redis_claim_idle(idle)
            .redis(&server.url())
            .await
            .unwrap();
        let app = app(&inbox);

        // A slow but live worker: its handler runs 4 claim idle times; another worker runs meanwhile
        // and must not take its event (the live one renews its claim).
        ok(&app, &leave("r", 1)).await;
        let slow_done = Arc::new(AtomicUsize::new(0));
        let slow_started = Arc::new(AtomicBool::new(false));
        let slow = {
            let (slow_done, slow_started) = (slow_done.clone(), slow_started.clone());
            inbox
                .worker(move |_: InboxEvent| {
                    slow_started.store(true, Ordering::SeqCst);
                    let slow_done = slow_done.clone();
                    async move {
                        tokio::time::sleep(idle * 4).await;
                        slow_done.fetch_add(1, Ordering::SeqCst);
                        Ok(())
                    }
                })
                .start()
        };
        wait_until("the slow handler's start", WAIT, || {
            slow_started.load(Ordering::SeqCst)
        })
        .await;
        let other_seen = Arc::new(Mutex::new(Vec::new()));
        let other_inbox = Inbox::builder()
            .redis_claim_idle(idle)
            .redis(&server.url())
            .await
            .unwrap();
        let other = recording(&other_inbox, &other_seen);
        wait_until("the slow handler", WAIT, || {
            slow_done.load(Ordering::SeqCst) == 1
        })
        .await;
        tokio::time::sleep(idle).await;
        assert!(
            other_seen.lock().unwrap().is_empty(),
            "a live worker's event was taken over: {:?}",
            other_seen.lock().unwrap()
        );
        slow.shutdown(Duration::from_secs(1)).await;
        other.shutdown(Duration::from_secs(1)).await;
        assert_eq!(pending(&inbox).await, 0);

        // A worker that dies with an event in hand (its runtime dropped: no release, no renewal).
        let started = Arc::new(Mutex::new(Vec::new()));
        let doomed = doomed_worker(server.url(), started.clone());
        ok(&app, &leave("r", 2)).await;
        wait_until("the doomed worker's claim", WAIT, || {
            started.lock().unwrap().as_slice() == [2]
        })
        .await;
        doomed.shutdown_background();
        let died = Instant::now();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let survivor = recording(&inbox, &seen);
        wait_until("the takeover", WAIT, || !seen.lock().unwrap().is_empty()).await;
        let took = died.elapsed();
        // Not before the claim idle time (the worker could be alive), not long after it.
        assert!(
            took >= idle - Duration::from_millis(50),
            "taken over after {took:?}"
        );
        assert!(
            took < idle + Duration::from_secs(3),
            "taken over after {took:?}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
        survivor.shutdown(Duration::from_secs(1)).await;
        // The dead worker's hand-out counts: this is the second attempt.
        assert_eq!(
            *seen.lock().unwrap(),
            [(2, 2)],
            "once more, the dead worker's attempt counted"
        );
        assert_eq!(pending(&inbox).await, 0);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_destroyed_consumer_group_is_created_again_and_nothing_is_skipped() {
    if !redis::available("a_destroyed_consumer_group_is_created_again_and_nothing_is_skipped") {
        return;
    }
    let server = RedisServer::start("nogroup");
    bounded(async {
        let inbox = Inbox::builder().redis(&server.url()).await.unwrap();
        let app = app(&inbox);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let worker = recording(&inbox, &seen);
        ok(&app, &leave("r", 0)).await;
        wait_until("event 0", WAIT, || seen.lock().unwrap().len() == 1).await;
        for round in 1..=2u64 {
            let reply = server
                .command(&[
                    "XGROUP",
                    "DESTROY",
                    "{tencent-room-callback}:events",
                    "{tencent-room-callback}:workers",
                ])
                .unwrap();
            assert_eq!(reply, ":1", "the group was there");
            for n in 0..3 {
                ok(&app, &leave("r", round * 10 + n)).await;
            }
            wait_until("the events after the group's loss", WAIT, || {
                let seen = seen.lock().unwrap();
                let distinct: std::collections::HashSet<u64> = seen.iter().map(|s| s.0).collect();
                distinct.len() == 1 + 3 * round as usize
            })
            .await;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        worker.shutdown(Duration::from_secs(1)).await;
        let mut seen: Vec<u64> = seen.lock().unwrap().iter().map(|s| s.0).collect();
        seen.sort_unstable();
        assert_eq!(seen, [0, 10, 11, 12, 20, 21, 22], "each once");
        assert_eq!(pending(&inbox).await, 0);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_fails_fast_then_serves_again_with_nothing_lost() {
    if !redis::available("a_killed_server_fails_fast_then_serves_again_with_nothing_lost") {
        return;
    }
    let mut server = RedisServer::start("killed");
    bounded(async {
        let inbox = Inbox::builder().redis(&server.url()).await.unwrap();
        let app = app(&inbox);
        for n in 0..5 {
            ok(&app, &leave("r", n)).await;
        }
        server.kill();
        for n in 100..103 {
            let started = Instant::now();
            let (status, body) = send(&app, &leave("r", n)).await;
            let took = started.elapsed();
            assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
            assert!(body.contains("FAIL"), "{body}");
            assert!(took < Duration::from_secs(2), "503 after {took:?}");
            eprintln!("server down: 503 in {took:?}");
        }
        assert!(inbox.depth().await.is_err());
        // An inbox made while the server is down: made all the same, it fails until the server is up.
        let late = Inbox::builder().redis(&server.url()).await.unwrap();
        assert!(late.depth().await.is_err());

        server.restart();
        // The same inboxes serve again at once: the first callback after the restart is stored.
        ok(&app, &leave("r", 5)).await;
        assert_eq!(
            late.depth().await.unwrap().pending,
            6,
            "acknowledged events kept"
        );
        // Their keys too: a copy of one acknowledged before the crash is a duplicate.
        ok(&app, &leave("r", 3)).await;
        assert_eq!(pending(&inbox).await, 6);

        let seen = Arc::new(Mutex::new(Vec::new()));
        let worker = recording(&inbox, &seen);
        wait_until("6 events", WAIT, || seen.lock().unwrap().len() == 6).await;
        // A worker whose server goes away and comes back goes on.
        server.kill();
        tokio::time::sleep(Duration::from_millis(700)).await;
        server.restart();
        ok(&app, &leave("r", 6)).await;
        wait_until("event 6", WAIT, || seen.lock().unwrap().len() == 7).await;
        worker.shutdown(Duration::from_secs(1)).await;
        let mut ns: Vec<u64> = seen.lock().unwrap().iter().map(|s| s.0).collect();
        ns.sort_unstable();
        assert_eq!(ns, [0, 1, 2, 3, 4, 5, 6]);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_server_fails_within_the_bound_then_serves_again() {
    if !redis::available("a_stalled_server_fails_within_the_bound_then_serves_again") {
        return;
    }
    let server = RedisServer::start("stalled");
    bounded(async {
        let inbox = Inbox::builder().redis(&server.url()).await.unwrap();
        let app = app(&inbox);
        ok(&app, &leave("r", 0)).await;
        // Stopped: connections stay open, nothing answers.
        server.signal("STOP");
        for n in 1..3 {
            let started = Instant::now();
            let (status, body) = send(&app, &leave("r", n)).await;
            let took = started.elapsed();
            assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
            assert!(took < Duration::from_secs(2), "503 after {took:?}");
            eprintln!("server stalled: 503 in {took:?}");
        }
        server.signal("CONT");
        let back = wait_for("the store to serve again", WAIT, || {
            let app = app.clone();
            async move { (send(&app, &leave("r", 9)).await.0 == StatusCode::OK).then_some(()) }
        });
        back.await;
        // The callbacks answered 503 may have been stored all the same (Tencent retries them: the
        // retry is then a duplicate): at least the two acknowledged ones are there.
        assert!(pending(&inbox).await >= 2);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_receivers_and_two_workers_handle_each_callback_once() {
    if !redis::available("two_receivers_and_two_workers_handle_each_callback_once") {
        return;
    }
    let server = RedisServer::start("shared");
    bounded(async {
        let receivers = [
            Inbox::builder().redis(&server.url()).await.unwrap(),
            Inbox::builder().redis(&server.url()).await.unwrap(),
        ];
        let apps = [app(&receivers[0]), app(&receivers[1])];
        let handled: Arc<Mutex<HashMap<u64, Vec<usize>>>> = Arc::default();
        let workers: Vec<_> = (0..2)
            .map(|w| {
                let handled = handled.clone();
                receivers[w]
                    .worker(move |event: InboxEvent| {
                        let handled = handled.clone();
                        async move {
                            tokio::time::sleep(Duration::from_millis(2)).await;
                            handled
                                .lock()
                                .unwrap()
                                .entry(n_of(&event))
                                .or_default()
                                .push(w);
                            Ok(())
                        }
                    })
                    .concurrency(8)
                    .start()
            })
            .collect();
        // Each callback sent to both receivers at once (Tencent's retry reaching the other one).
        const N: u64 = 200;
        let sends: Vec<_> = (0..N)
            .flat_map(|n| {
                apps.iter().map(move |app| {
                    let app = app.clone();
                    tokio::spawn(
                        async move { send(&app, &leave(&format!("r{}", n % 7), n)).await.0 },
                    )
                })
            })
            .collect();
        for sent in sends {
            assert_eq!(sent.await.unwrap(), StatusCode::OK);
        }
        wait_until("every callback", WAIT, || {
            handled.lock().unwrap().len() == N as usize
        })
        .await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        for worker in workers {
            worker.shutdown(Duration::from_secs(1)).await;
        }
        assert_eq!(pending(&receivers[0]).await, 0);
        let handled = handled.lock().unwrap();
        let twice: Vec<_> = handled.iter().filter(|(_, by)| by.len() != 1).collect();
        assert!(twice.is_empty(), "handled more than once: {twice:?}");
        let by_first = handled.values().filter(|by| by[0] == 0).count();
        eprintln!(
            "{N} callbacks: {by_first} handled by worker 0, {} by worker 1",
            N as usize - by_first
        );
    })
    .await;
}

/// Figures, not a test: `cargo test --test inbox_redis -- --ignored --nocapture`. Callbacks stored
/// through the layer by 64 concurrent senders (each OK after Redis's AOF fsync), then handled by one
/// worker of concurrency 64.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement"]
async fn throughput() {
    if !redis::available("throughput") {
        return;
    }
    let server = RedisServer::start("throughput");
    bounded(async {
        let inbox = Inbox::builder().redis(&server.url()).await.unwrap();
        let app = app(&inbox);
        const SENDERS: u64 = 64;
        const EACH: u64 = 100;
        let started = Instant::now();
        let senders: Vec<_> = (0..SENDERS)
            .map(|s| {
                let app = app.clone();
                tokio::spawn(async move {
                    let mut latencies = Vec::new();
                    for i in 0..EACH {
                        let req = leave(&format!("r{s}"), s * EACH + i);
                        let t = Instant::now();
                        assert_eq!(send(&app, &req).await.0, StatusCode::OK);
                        latencies.push(t.elapsed());
                    }
                    latencies
                })
            })
            .collect();
        let mut latencies = Vec::new();
        for sender in senders {
            latencies.extend(sender.await.unwrap());
        }
        let took = started.elapsed();
        latencies.sort_unstable();
        let total = SENDERS * EACH;
        let at = |q: f64| latencies[((latencies.len() as f64 - 1.0) * q) as usize];
        eprintln!(
            "stored {total} callbacks in {took:?}: {:.0}/s; latency p50 {:?}, p99 {:?}, max {:?}",
            total as f64 / took.as_secs_f64(),
            at(0.5),
            at(0.99),
            at(1.0)
        );
        assert_eq!(pending(&inbox).await, total);
        let done = Arc::new(AtomicUsize::new(0));
        let started = Instant::now();
        let worker = counting(&inbox, &done).concurrency(64).start();
        wait_until("every event", WAIT, || {
            done.load(Ordering::SeqCst) == total as usize
        })
        .await;
        let took = started.elapsed();
        worker.shutdown(Duration::from_secs(1)).await;
        eprintln!(
            "handled {total} events in {took:?}: {:.0}/s",
            total as f64 / took.as_secs_f64()
        );
        assert_eq!(pending(&inbox).await, 0);
    })
    .await;
}
