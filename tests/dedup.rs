//! In-memory de-duplication in handler mode (`CallbackLayer::dedup`), through an axum stack: a copy of
//! a handled callback is acknowledged without reaching the handler; a copy of one still in its handler
//! waits for it; a failed one is not remembered; the TTL and the bound on entries hold.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::routing::post;
use axum::Router;
use http::StatusCode;
use http_body_util::BodyExt;
use tencent_room_callback::testing::CallbackRequest;
use tencent_room_callback::{
    Ack, CallbackLayer, CallbackMeta, Command, Config, Dedup, HandlerError, MemberLeave,
};
use tower::ServiceExt;

const APP: u64 = 1400000000;

/// An app whose handler counts its calls, sleeps `ms`, and fails while `fail` is above 0 (counting
/// down).
fn app(dedup: Dedup, calls: Arc<AtomicUsize>, ms: u64, fail: Arc<AtomicUsize>) -> Router {
    let handler = move |_: MemberLeave, _: CallbackMeta| {
        calls.fetch_add(1, Ordering::SeqCst);
        let fail = fail.clone();
        async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            let failing = fail
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
            if failing {
                Err(HandlerError::msg("downstream failed"))
            } else {
                Ok(())
            }
        }
    };
    Router::new()
        .route("/cb", post(|| async { "the app" }))
        .layer(
            CallbackLayer::new(Config::new(APP))
                .path("/cb")
                .on(handler)
                .dedup(dedup),
        )
}

fn leave(n: u64) -> CallbackRequest {
    CallbackRequest::raw(
        Command::MemberLeave,
        format!(r#"{{"RoomId":"r","MemberList_Account":["u"],"EventTime":{n}}}"#),
    )
    .url("/cb")
}

async fn send(app: &Router, req: &CallbackRequest) -> (StatusCode, Vec<u8>) {
    let res = app.clone().oneshot(req.build::<Body>()).await.unwrap();
    let status = res.status();
    (
        status,
        res.into_body().collect().await.unwrap().to_bytes().to_vec(),
    )
}

#[tokio::test]
async fn a_copy_of_a_handled_callback_does_not_reach_the_handler() {
    let calls = Arc::new(AtomicUsize::new(0));
    let app = app(Dedup::default(), calls.clone(), 0, Arc::default());
    for _ in 0..3 {
        assert_eq!(
            send(&app, &leave(1)).await,
            (StatusCode::OK, Ack::OK_BODY.to_vec())
        );
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    // Another body is another callback.
    assert_eq!(send(&app, &leave(2)).await.0, StatusCode::OK);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copies_that_arrive_while_the_first_runs_wait_for_it() {
    let calls = Arc::new(AtomicUsize::new(0));
    let app = app(Dedup::default(), calls.clone(), 200, Arc::default());
    let copies: Vec<_> = (0..20)
        .map(|_| {
            let app = app.clone();
            tokio::spawn(async move { send(&app, &leave(1)).await })
        })
        .collect();
    for copy in copies {
        assert_eq!(copy.await.unwrap(), (StatusCode::OK, Ack::OK_BODY.to_vec()));
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_callback_is_not_remembered() {
    let calls = Arc::new(AtomicUsize::new(0));
    let fail = Arc::new(AtomicUsize::new(1));
    let app = app(Dedup::default(), calls.clone(), 200, fail);
    // The first copy fails; a copy that waited for it is told to retry (503), not OK.
    let first = {
        let app = app.clone();
        tokio::spawn(async move { send(&app, &leave(1)).await.0 })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    let waiting = send(&app, &leave(1)).await;
    assert_eq!(first.await.unwrap(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(waiting.0, StatusCode::SERVICE_UNAVAILABLE);
    assert!(String::from_utf8_lossy(&waiting.1).contains("FAIL"));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    // Tencent's retry reaches the handler, which now succeeds.
    assert_eq!(send(&app, &leave(1)).await.0, StatusCode::OK);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(send(&app, &leave(1)).await.0, StatusCode::OK);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn keys_are_forgotten_after_the_ttl_and_beyond_the_bound() {
    let calls = Arc::new(AtomicUsize::new(0));
    let dedup = Dedup::new(1000, Duration::from_millis(100));
    let app_ttl = app(dedup.clone(), calls.clone(), 0, Arc::default());
    send(&app_ttl, &leave(1)).await;
    send(&app_ttl, &leave(1)).await;
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    tokio::time::sleep(Duration::from_millis(150)).await;
    send(&app_ttl, &leave(1)).await;
    assert_eq!(calls.load(Ordering::SeqCst), 2);

    let calls = Arc::new(AtomicUsize::new(0));
    let dedup = Dedup::new(2, Duration::from_secs(60));
    let app = app(dedup.clone(), calls.clone(), 0, Arc::default());
    for n in [1, 2, 3] {
        send(&app, &leave(n)).await;
    }
    assert!(dedup.len() <= 2, "{} keys for a bound of 2", dedup.len());
    // 3 and 2 are remembered, 1 (the oldest) was forgotten.
    send(&app, &leave(3)).await;
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    send(&app, &leave(1)).await;
    assert_eq!(calls.load(Ordering::SeqCst), 4);
}
