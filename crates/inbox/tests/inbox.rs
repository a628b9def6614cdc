//! The durable inbox through a real axum stack: OK only after a sync, group commit, duplicates
//! acknowledged and not stored, events kept across a restart, workers (retries, dead letters, replay,
//! per-room order, graceful shutdown), and "before" callbacks never stored. The embedded store runs on
//! a real directory; the memory store runs the same worker tests.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::routing::post;
use axum::Router;
use common::{
    app, assert_backed_off, assert_event_1_buried, assert_meta_of_android_leave, counting,
    dead_letters, failing_three_times, failing_until_fixed, leave, pending, replay_once, send,
    send_at_once, shut_down_with_two_stuck, APP,
};
use http::StatusCode;
use support::fs::TempDir;
use support::wait::wait_until;
use tencent_room_callback::testing::CallbackRequest;
use tencent_room_callback::{Ack, CallbackLayer, Command, Config, HandlerError, MemberLeave};
use tencent_room_callback_inbox::{Inbox, InboxEvent};

/// The bound on each wait.
const WAIT: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_ok_follows_a_sync_to_disk() {
    let dir = TempDir::new("inbox-sync");
    let inbox = Inbox::open(&dir.0).unwrap();
    let app = app(&inbox);
    for n in 0..20 {
        let before = inbox.syncs().unwrap();
        let (status, body) = send(&app, &leave("r", n)).await;
        let after = inbox.syncs().unwrap();
        assert_eq!((status, body.as_bytes()), (StatusCode::OK, Ack::OK_BODY));
        assert!(
            after > before,
            "callback {n} was acknowledged with no sync since it arrived ({before} → {after})"
        );
    }
    assert_eq!(pending(&inbox).await, 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_callbacks_share_a_sync() {
    let dir = TempDir::new("inbox-group");
    let inbox = Inbox::open(&dir.0).unwrap();
    let app = app(&inbox);
    let before = inbox.syncs().unwrap();
    let tasks: Vec<_> = (0..64u64)
        .map(|c| {
            let app = app.clone();
            tokio::spawn(async move {
                for i in 0..10 {
                    let (status, _) = send(&app, &leave(&format!("r{c}"), c * 100 + i)).await;
                    assert_eq!(status, StatusCode::OK);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let syncs = inbox.syncs().unwrap() - before;
    assert_eq!(pending(&inbox).await, 640);
    assert!(
        syncs < 640 / 2,
        "640 concurrent callbacks took {syncs} syncs: no group commit"
    );
    eprintln!("640 callbacks at 64 at once: {syncs} syncs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_is_acknowledged_but_stored_and_handled_once() {
    let dir = TempDir::new("inbox-dup");
    let inbox = Inbox::open(&dir.0).unwrap();
    let app = app(&inbox);
    for _ in 0..3 {
        assert_eq!(send(&app, &leave("r", 1)).await.0, StatusCode::OK);
    }
    // 30 copies of another callback at once: one stored, every copy OK.
    for status in send_at_once(&app, &leave("r", 2), 30).await {
        assert_eq!(status, StatusCode::OK);
    }
    // The same body for another command, or another body: not duplicates.
    let enter = CallbackRequest::raw(
        Command::MemberEnter,
        r#"{"RoomId":"r","MemberList_Account":["u1"],"EventTime":1}"#,
    )
    .url("/cb");
    assert_eq!(send(&app, &enter).await.0, StatusCode::OK);
    assert_eq!(pending(&inbox).await, 3);

    let handled = Arc::new(AtomicUsize::new(0));
    let worker = counting(&inbox, &handled).start();
    wait_until("3 events handled", WAIT, || {
        handled.load(Ordering::SeqCst) == 3
    })
    .await;
    worker.shutdown(Duration::from_secs(1)).await;
    // Handled and gone, the key is still remembered: a late copy is not handled again.
    assert_eq!(send(&app, &leave("r", 1)).await.0, StatusCode::OK);
    assert_eq!(pending(&inbox).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_dedup_every_copy_is_stored() {
    let dir = TempDir::new("inbox-nodedup");
    let inbox = Inbox::builder().dedup_ttl(None).open(&dir.0).unwrap();
    let app = app(&inbox);
    for _ in 0..3 {
        assert_eq!(send(&app, &leave("r", 1)).await.0, StatusCode::OK);
    }
    assert_eq!(pending(&inbox).await, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_is_forgotten_after_its_ttl() {
    let inbox = Inbox::builder()
        .dedup_ttl(Duration::from_millis(200))
        .in_memory();
    let app = app(&inbox);
    assert_eq!(send(&app, &leave("r", 1)).await.0, StatusCode::OK);
    assert_eq!(send(&app, &leave("r", 1)).await.0, StatusCode::OK);
    assert_eq!(pending(&inbox).await, 1);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(send(&app, &leave("r", 1)).await.0, StatusCode::OK);
    assert_eq!(pending(&inbox).await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_and_keys_survive_a_restart() {
    let dir = TempDir::new("inbox-restart");
    {
        let inbox = Inbox::open(&dir.0).unwrap();
        let app = app(&inbox);
        for n in 0..10 {
            assert_eq!(send(&app, &leave("r", n)).await.0, StatusCode::OK);
        }
        // A second open of the same directory while it is in use: refused, with a reason.
        let err = Inbox::open(&dir.0).unwrap_err().to_string();
        assert!(err.contains("another process"), "{err}");
    }
    let inbox = Inbox::open(&dir.0).unwrap();
    assert_eq!(pending(&inbox).await, 10);
    let app = app(&inbox);
    // Keys too: a copy of an event stored before the restart is a duplicate.
    assert_eq!(send(&app, &leave("r", 3)).await.0, StatusCode::OK);
    assert_eq!(pending(&inbox).await, 10);

    let seen = Arc::new(Mutex::new(Vec::new()));
    let worker = {
        let seen = seen.clone();
        inbox
            .worker(move |event: InboxEvent| {
                let leave: MemberLeave = event.decode().unwrap();
                seen.lock().unwrap().push(leave.event_time.as_millis());
                async { Ok(()) }
            })
            .concurrency(1)
            .start()
    };
    wait_until("10 events", WAIT, || seen.lock().unwrap().len() == 10).await;
    worker.shutdown(Duration::from_secs(1)).await;
    assert_eq!(*seen.lock().unwrap(), (0..10).collect::<Vec<u64>>());
    assert_eq!(pending(&inbox).await, 0);
}

/// Runs `test` on the memory store and on the embedded one.
async fn on_both<F, Fut>(name: &str, test: F)
where
    F: Fn(Inbox) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    on_both_with(name, Inbox::builder, test).await;
}

/// Runs `test` on the memory store and on the embedded one, both built from `builder()`.
async fn on_both_with<F, Fut>(
    name: &str,
    builder: impl Fn() -> tencent_room_callback_inbox::InboxBuilder,
    test: F,
) where
    F: Fn(Inbox) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    test(builder().in_memory()).await;
    let dir = TempDir::new(&format!("inbox-{name}"));
    test(builder().open(&dir.0).unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_that_fails_three_times_then_succeeds_is_retried() {
    on_both("retry", |inbox| async move {
        let app = app(&inbox);
        assert_eq!(send(&app, &leave("r", 1)).await.0, StatusCode::OK);
        let attempts = Arc::new(Mutex::new(Vec::new()));
        let started = Instant::now();
        let (worker, _) = failing_three_times(&inbox, &attempts);
        wait_until("4 attempts", WAIT, || attempts.lock().unwrap().len() == 4).await;
        // Settled: nothing more comes.
        tokio::time::sleep(Duration::from_millis(300)).await;
        worker.shutdown(Duration::from_secs(1)).await;
        assert_backed_off(&attempts.lock().unwrap());
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(inbox.depth().await.unwrap(), Default::default());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_always_failing_event_ends_in_dead_letters_and_can_be_replayed() {
    on_both("dead", |inbox| async move {
        let app = app(&inbox);
        assert_eq!(send(&app, &leave("r", 1)).await.0, StatusCode::OK);
        assert_eq!(send(&app, &leave("r", 2)).await.0, StatusCode::OK);
        let fail = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let handled = Arc::new(Mutex::new(Vec::new()));
        let worker = failing_until_fixed(&inbox, &fail, &handled);
        let dead = dead_letters(&inbox, WAIT).await;
        assert_event_1_buried(&dead);
        wait_until("event 2", WAIT, || {
            handled.lock().unwrap().iter().map(|h| h.0).eq([2])
        })
        .await;
        assert_eq!(inbox.depth().await.unwrap().dead, 1);

        // Fixed downstream: the replay is handled.
        fail.store(false, Ordering::SeqCst);
        replay_once(&inbox, &dead[0]).await;
        wait_until("the replay", WAIT, || handled.lock().unwrap().len() == 2).await;
        worker.shutdown(Duration::from_secs(1)).await;
        assert_eq!(inbox.depth().await.unwrap(), Default::default());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ordered_workers_keep_each_rooms_arrival_order() {
    on_both("order", |inbox| async move {
        let app = app(&inbox);
        for n in 0..60u64 {
            let room = format!("room{}", n % 4);
            assert_eq!(send(&app, &leave(&room, n)).await.0, StatusCode::OK);
        }
        let seen: Arc<Mutex<HashMap<String, Vec<u64>>>> = Arc::default();
        let busy: Arc<Mutex<HashMap<String, bool>>> = Arc::default();
        let overlap = Arc::new(AtomicUsize::new(0));
        let failed_once = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let worker = {
            let (seen, busy, overlap, failed_once) = (
                seen.clone(),
                busy.clone(),
                overlap.clone(),
                failed_once.clone(),
            );
            inbox
                .worker(move |event: InboxEvent| {
                    let leave: MemberLeave = event.decode().unwrap();
                    let room = leave.room_id.clone();
                    let n = leave.event_time.as_millis();
                    let (seen, busy, overlap, failed_once) = (
                        seen.clone(),
                        busy.clone(),
                        overlap.clone(),
                        failed_once.clone(),
                    );
                    async move {
                        if busy.lock().unwrap().insert(room.clone(), true) == Some(true) {
                            overlap.fetch_add(1, Ordering::SeqCst);
                        }
                        // Later events of a room finish sooner, unless order holds them back.
                        tokio::time::sleep(Duration::from_millis(20 - n / 4)).await;
                        busy.lock().unwrap().insert(room.clone(), false);
                        // Event 5 (room1) fails once: room1's later events wait for its retry.
                        if n == 5 && !failed_once.swap(true, Ordering::SeqCst) {
                            return Err(HandlerError::msg("once"));
                        }
                        seen.lock().unwrap().entry(room).or_default().push(n);
                        Ok(())
                    }
                })
                .concurrency(8)
                .ordered_by_room(true)
                .backoff(Duration::from_millis(30), Duration::from_millis(30))
                .start()
        };
        wait_until("60 events", WAIT, || {
            seen.lock().unwrap().values().map(Vec::len).sum::<usize>() == 60
        })
        .await;
        worker.shutdown(Duration::from_secs(1)).await;
        assert_eq!(
            overlap.load(Ordering::SeqCst),
            0,
            "two events of one room at once"
        );
        for (room, ns) in seen.lock().unwrap().iter() {
            let mut sorted = ns.clone();
            sorted.sort_unstable();
            assert_eq!(ns, &sorted, "{room} out of order");
            assert_eq!(ns.len(), 15);
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unordered_workers_run_events_concurrently() {
    let inbox = Inbox::builder().in_memory();
    let app = app(&inbox);
    for n in 0..16 {
        assert_eq!(send(&app, &leave("one-room", n)).await.0, StatusCode::OK);
    }
    let running = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let worker = {
        let (running, most, done) = (running.clone(), most.clone(), done.clone());
        inbox
            .worker(move |_: InboxEvent| {
                let (running, most, done) = (running.clone(), most.clone(), done.clone());
                async move {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    running.fetch_sub(1, Ordering::SeqCst);
                    done.fetch_add(1, Ordering::SeqCst);
                    Ok(())
                }
            })
            .concurrency(4)
            .start()
    };
    wait_until("16 events", WAIT, || done.load(Ordering::SeqCst) == 16).await;
    worker.shutdown(Duration::from_secs(1)).await;
    assert_eq!(most.load(Ordering::SeqCst), 4, "concurrency 4, 16 events");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shutdown_finishes_or_returns_what_the_worker_holds() {
    let dir = TempDir::new("inbox-shutdown");
    let inbox = Inbox::open(&dir.0).unwrap();
    let app = app(&inbox);
    for n in 0..4 {
        assert_eq!(
            send(&app, &leave(&format!("r{n}"), n)).await.0,
            StatusCode::OK
        );
    }
    shut_down_with_two_stuck(&inbox, WAIT).await;
    // The returned events are handed again, their attempt not counted.
    let attempts = Arc::new(Mutex::new(Vec::new()));
    let worker = {
        let attempts = attempts.clone();
        inbox
            .worker(move |event: InboxEvent| {
                attempts.lock().unwrap().push(event.attempt());
                async { Ok(()) }
            })
            .start()
    };
    wait_until("the 2 returned", WAIT, || {
        attempts.lock().unwrap().len() == 2
    })
    .await;
    worker.shutdown(Duration::from_secs(1)).await;
    assert_eq!(*attempts.lock().unwrap(), [1, 1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_handler_is_a_failed_attempt() {
    let inbox = Inbox::builder().in_memory();
    let app = app(&inbox);
    assert_eq!(send(&app, &leave("r", 1)).await.0, StatusCode::OK);
    let worker = inbox
        .worker(|_: InboxEvent| async { panic!("boom") })
        .max_attempts(2)
        .backoff(Duration::from_millis(10), Duration::from_millis(10))
        .start();
    let dead = dead_letters(&inbox, WAIT).await;
    worker.shutdown(Duration::from_secs(1)).await;
    assert_eq!(dead[0].error, "the handler panicked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn before_callbacks_are_never_stored() {
    let inbox = Inbox::builder().in_memory();
    let before = || {
        CallbackRequest::raw(
            Command::MemberLeave,
            r#"{"From_Account":"a","To_Account":"b","MsgBody":[]}"#,
        )
        .callback_command("C2C.CallbackBeforeSendMsg")
        .url("/cb")
    };
    // `inbox()` does not take it: it reaches the app, verified.
    let (status, body) = send(&app(&inbox), &before()).await;
    assert_eq!((status, body.as_str()), (StatusCode::NOT_FOUND, "the app"));
    // An inbox given it explicitly refuses it rather than answer OK for a decision: with no fallback
    // configured, the layer answers the decision 503, so that Tencent applies its own default.
    let explicit = Router::new()
        .route("/cb", post(|| async { "the app" }))
        .layer(
            CallbackLayer::new(Config::new(APP))
                .path("/cb")
                .on_prefix("", inbox.clone()),
        );
    let (status, body) = send(&explicit, &before()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(body.contains("FAIL"), "{body}");
    // Another product's "after" callback is stored, as is.
    let after = CallbackRequest::raw(Command::MemberLeave, r#"{"GroupId":"g","EventTime":1}"#)
        .callback_command("Group.CallbackAfterSendMsg")
        .url("/cb");
    assert_eq!(send(&app(&inbox), &after).await.0, StatusCode::OK);
    assert_eq!(pending(&inbox).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_body_is_refused_not_stored() {
    let inbox = Inbox::builder().in_memory();
    let app = app(&inbox);
    let bad_room_event =
        CallbackRequest::raw(Command::MemberLeave, r#"{"RoomId":7,"EventTime":"soon"}"#).url("/cb");
    let (status, body) = send(&app, &bad_room_event).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("FAIL"), "{body}");
    let not_an_object = CallbackRequest::raw(Command::MemberLeave, "[1,2]")
        .callback_command("Group.CallbackAfterSendMsg")
        .url("/cb");
    assert_eq!(send(&app, &not_an_object).await.0, StatusCode::BAD_REQUEST);
    assert_eq!(pending(&inbox).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_an_inbox_before_callbacks_go_to_their_handler() {
    let inbox = Inbox::builder().in_memory();
    let decided = Arc::new(AtomicUsize::new(0));
    let app = {
        let decided = decided.clone();
        Router::new()
            .route("/cb", post(|| async { "the app" }))
            .layer(
                CallbackLayer::new(Config::new(APP))
                    .path("/cb")
                    .on_notifications(inbox.clone())
                    .on_decisions(move |_: tencent_room_callback::RawCallback| {
                        decided.fetch_add(1, Ordering::SeqCst);
                        async { Ok(tencent_room_callback::Ack::decision(1, "refused")) }
                    }),
            )
    };
    let before = CallbackRequest::raw(Command::MemberLeave, r#"{"From_Account":"a"}"#)
        .callback_command("Group.CallbackBeforeSendMsg")
        .url("/cb");
    let (status, body) = send(&app, &before).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains(r#""ErrorCode":1"#), "{body}");
    let after = CallbackRequest::raw(Command::MemberLeave, r#"{"GroupId":"g"}"#)
        .callback_command("Group.CallbackAfterSendMsg")
        .url("/cb");
    assert_eq!(send(&app, &after).await.0, StatusCode::OK);
    assert_eq!(send(&app, &leave("r", 1)).await.0, StatusCode::OK);
    assert_eq!(decided.load(Ordering::SeqCst), 1);
    assert_eq!(pending(&inbox).await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_pending_holds_under_concurrent_callbacks() {
    let bounded = || Inbox::builder().max_pending(8);
    on_both_with("full", bounded, |inbox| async move {
        let app = app(&inbox);
        let tasks: Vec<_> = (0..20u64)
            .map(|n| {
                let app = app.clone();
                tokio::spawn(async move { send(&app, &leave("r", n)).await.0 })
            })
            .collect();
        let mut statuses = Vec::new();
        for task in tasks {
            statuses.push(task.await.unwrap());
        }
        let ok = statuses.iter().filter(|s| **s == StatusCode::OK).count();
        let full = statuses
            .iter()
            .filter(|s| **s == StatusCode::SERVICE_UNAVAILABLE)
            .count();
        assert_eq!((ok, full), (8, 12), "{statuses:?}");
        assert_eq!(pending(&inbox).await, 8);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_typed_route_wins_over_the_inbox() {
    let inbox = Inbox::builder().in_memory();
    let got = Arc::new(AtomicUsize::new(0));
    let app = {
        let got = got.clone();
        Router::new()
            .route("/cb", post(|| async { "the app" }))
            .layer(
                CallbackLayer::new(Config::new(APP))
                    .path("/cb")
                    .on_notifications(inbox.clone())
                    .on(move |_: MemberLeave, _| {
                        got.fetch_add(1, Ordering::SeqCst);
                        async { Ok(()) }
                    }),
            )
    };
    assert_eq!(send(&app, &leave("r", 1)).await.0, StatusCode::OK);
    let enter = CallbackRequest::raw(
        Command::MemberEnter,
        r#"{"RoomId":"r","MemberList_Account":["u1"],"EventTime":1}"#,
    )
    .url("/cb");
    assert_eq!(send(&app, &enter).await.0, StatusCode::OK);
    assert_eq!(got.load(Ordering::SeqCst), 1);
    assert_eq!(pending(&inbox).await, 1, "only the enter went to the inbox");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_event_keeps_its_metadata_but_no_secret() {
    let dir = TempDir::new("inbox-meta");
    let token = "secret-token-for-the-inbox-test";
    let inbox = Inbox::open(&dir.0).unwrap();
    let app = Router::new()
        .route("/cb", post(|| async { "the app" }))
        .layer(
            CallbackLayer::new(Config::new(APP).token(token).unwrap())
                .path("/cb")
                .on_notifications(inbox.clone()),
        );
    let req = leave("r", 7)
        .token(token)
        .client_ip("10.1.2.3")
        .platform("Android");
    assert_eq!(send(&app, &req).await.0, StatusCode::OK);
    drop(app);
    drop(inbox);
    let file = std::fs::read(dir.0.join("inbox.redb")).unwrap();
    let text = String::from_utf8_lossy(&file);
    assert!(!text.contains(token), "the token is in the inbox file");
    let inbox = Inbox::open(&dir.0).unwrap();
    let got = Arc::new(Mutex::new(None));
    let worker = {
        let got = got.clone();
        inbox
            .worker(move |event: InboxEvent| {
                *got.lock().unwrap() = Some(event);
                async { Ok(()) }
            })
            .start()
    };
    wait_until("the event", WAIT, || got.lock().unwrap().is_some()).await;
    worker.shutdown(Duration::from_secs(1)).await;
    let event = got.lock().unwrap().take().unwrap();
    assert_meta_of_android_leave(&event);
    assert!(event.meta().request_time.is_some());
    assert_eq!(event.room(), Some("\"r\""));
    assert_eq!(event.body(), req.body());
    assert_eq!(
        event.key(),
        tencent_room_callback::meta::DeliveryKey::of(
            APP,
            "Room.CallbackAfterMemberLeave",
            req.body()
        )
    );
}
