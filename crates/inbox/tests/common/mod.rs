//! The inbox tests' app and callbacks: the layer on `/cb` storing what it takes in an inbox, and
//! member-leave callbacks numbered by their `EventTime`.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::routing::post;
use axum::Router;
use http::StatusCode;
use http_body_util::BodyExt;
use tencent_room_callback::testing::CallbackRequest;
use tencent_room_callback::{CallbackLayer, Command, Config, HandlerError, MemberLeave};
use tencent_room_callback_inbox::{
    DeadLetter, Inbox, InboxEvent, InboxHandler, Worker, WorkerHandle,
};
use tower::ServiceExt;

use support::wait::{wait_for, wait_until};

pub const APP: u64 = 1400000000;

/// The layer on `/cb` with `inbox`; what it does not take reaches the app, which answers 404.
pub fn app(inbox: &Inbox) -> Router {
    Router::new()
        .route("/cb", post(|| async { (StatusCode::NOT_FOUND, "the app") }))
        .layer(
            CallbackLayer::new(Config::new(APP))
                .path("/cb")
                .on_notifications(inbox.clone()),
        )
}

/// Member `u<n>` leaving `room`, at `EventTime` `n`.
pub fn leave(room: &str, n: u64) -> CallbackRequest {
    CallbackRequest::raw(
        Command::MemberLeave,
        format!(r#"{{"RoomId":"{room}","MemberList_Account":["u{n}"],"EventTime":{n}}}"#),
    )
    .url("/cb")
}

/// The app's answer to `req`: its status and body.
pub async fn send(app: &Router, req: &CallbackRequest) -> (StatusCode, String) {
    let res = app.clone().oneshot(req.build::<Body>()).await.unwrap();
    let status = res.status();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// `copies` copies of `req` sent at once: the app's statuses.
pub async fn send_at_once(app: &Router, req: &CallbackRequest, copies: usize) -> Vec<StatusCode> {
    let tasks: Vec<_> = (0..copies)
        .map(|_| {
            let (app, req) = (app.clone(), req.clone());
            tokio::spawn(async move { send(&app, &req).await.0 })
        })
        .collect();
    let mut statuses = Vec::with_capacity(copies);
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    statuses
}

pub async fn pending(inbox: &Inbox) -> u64 {
    inbox.depth().await.unwrap().pending
}

/// The number (`EventTime`) of a [`leave`] event.
pub fn n_of(event: &InboxEvent) -> u64 {
    event
        .decode::<MemberLeave>()
        .unwrap()
        .event_time
        .as_millis()
}

/// The metadata an event keeps of a [`leave`] callback sent from 10.1.2.3 on Android: the app, the
/// command, the client's IP, the platform.
pub fn assert_meta_of_android_leave(event: &InboxEvent) {
    assert_eq!(event.meta().sdk_app_id, APP);
    assert_eq!(event.meta().command, Command::MemberLeave);
    assert_eq!(
        event.meta().client_ip.as_ref().unwrap().ip(),
        Some([10, 1, 2, 3].into())
    );
    assert_eq!(event.meta().platform.as_ref().unwrap().as_str(), "Android");
}

/// A worker, to start, that counts the events it handles in `count` and succeeds.
pub fn counting(inbox: &Inbox, count: &Arc<AtomicUsize>) -> Worker<impl InboxHandler> {
    let count = count.clone();
    inbox.worker(move |_: InboxEvent| {
        count.fetch_add(1, Ordering::SeqCst);
        async { Ok(()) }
    })
}

/// The inbox's dead letters (up to 10) once there are any; fails after `within`.
pub async fn dead_letters(inbox: &Inbox, within: Duration) -> Vec<DeadLetter> {
    wait_for("a dead letter", within, || {
        let inbox = inbox.clone();
        async move {
            let dead = inbox.dead_letters(10).await.unwrap();
            (!dead.is_empty()).then_some(dead)
        }
    })
    .await
}

/// Each attempt at an event: its number and when it began.
pub type Attempts = Arc<Mutex<Vec<(u32, Instant)>>>;

/// A worker whose handler fails the first three attempts at each event and succeeds at the fourth (5
/// attempts at most, a backoff from 50 ms to 1 s), noting each attempt in `attempts`: the worker, and
/// its count of successes.
pub fn failing_three_times(inbox: &Inbox, attempts: &Attempts) -> (WorkerHandle, Arc<AtomicUsize>) {
    let successes = Arc::new(AtomicUsize::new(0));
    let worker = {
        let (attempts, successes) = (attempts.clone(), successes.clone());
        inbox
            .worker(move |event: InboxEvent| {
                let attempt = event.attempt();
                attempts.lock().unwrap().push((attempt, Instant::now()));
                let successes = successes.clone();
                async move {
                    if attempt <= 3 {
                        Err(HandlerError::msg(format!("attempt {attempt} fails")))
                    } else {
                        successes.fetch_add(1, Ordering::SeqCst);
                        Ok(())
                    }
                }
            })
            .max_attempts(5)
            .backoff(Duration::from_millis(50), Duration::from_secs(1))
            .start()
    };
    (worker, successes)
}

/// The attempts of [`failing_three_times`] at one event: numbered 1 to 4, with the exponential backoff
/// between them (50, 100, 200 ms at least).
pub fn assert_backed_off(attempts: &[(u32, Instant)]) {
    assert_eq!(
        attempts.iter().map(|a| a.0).collect::<Vec<_>>(),
        [1, 2, 3, 4]
    );
    let gaps: Vec<_> = attempts.windows(2).map(|w| w[1].1 - w[0].1).collect();
    // Equal jitter: each wait at least half its backoff (50, 100, 200 ms).
    for (gap, least) in gaps.iter().zip([25, 50, 100]) {
        assert!(*gap >= Duration::from_millis(least), "{gaps:?}");
    }
}

/// Starts a worker of concurrency 4 on events 0 to 3 (0 and 1 take 100 ms, the others a minute) and
/// shuts it down, with 500 ms to finish, once it has started all four (waiting up to `within`): the two
/// quick ones finish, the two others are returned, pending again.
pub async fn shut_down_with_two_stuck(inbox: &Inbox, within: Duration) {
    let started = Arc::new(AtomicUsize::new(0));
    let worker = {
        let started = started.clone();
        inbox
            .worker(move |event: InboxEvent| {
                started.fetch_add(1, Ordering::SeqCst);
                let quick = n_of(&event) < 2;
                async move {
                    let ms = if quick { 100 } else { 60_000 };
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    Ok(())
                }
            })
            .concurrency(4)
            .start()
    };
    wait_until("4 started", within, || started.load(Ordering::SeqCst) == 4).await;
    let report = worker.shutdown(Duration::from_millis(500)).await;
    assert_eq!((report.finished, report.returned), (2, 2));
    assert_eq!(pending(inbox).await, 2);
}

/// Each event handled: its number and the attempt.
pub type Handled = Arc<Mutex<Vec<(u64, u32)>>>;

/// A worker (3 attempts at most, a backoff from 10 to 20 ms) whose handler fails event 1 ("downstream
/// says no") while `fail` holds, and notes each event it handles in `handled`.
pub fn failing_until_fixed(
    inbox: &Inbox,
    fail: &Arc<AtomicBool>,
    handled: &Handled,
) -> WorkerHandle {
    let (fail, handled) = (fail.clone(), handled.clone());
    inbox
        .worker(move |event: InboxEvent| {
            let n = n_of(&event);
            let failing = n == 1 && fail.load(Ordering::SeqCst);
            if !failing {
                handled.lock().unwrap().push((n, event.attempt()));
            }
            async move {
                if failing {
                    Err(HandlerError::msg("downstream says no"))
                } else {
                    Ok(())
                }
            }
        })
        .max_attempts(3)
        .backoff(Duration::from_millis(10), Duration::from_millis(20))
        .start()
}

/// The dead letters of [`failing_until_fixed`] while it fails: event 1 alone, after its 3 attempts,
/// with its error.
pub fn assert_event_1_buried(dead: &[DeadLetter]) {
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].error, "downstream says no");
    assert_eq!(dead[0].event.attempt(), 4, "3 attempts made");
    assert_eq!(n_of(&dead[0].event), 1);
}

/// Replays `dead`: stored again under a new ID, and only once.
pub async fn replay_once(inbox: &Inbox, dead: &DeadLetter) {
    let id = dead.event.id().clone();
    let new = inbox.replay(&id).await.unwrap().expect("replayed");
    assert_ne!(new, id);
    assert_eq!(
        inbox.replay(&id).await.unwrap(),
        None,
        "a dead letter replays once"
    );
}
