//! Token rotation at run time, under load: the application's `TokenSets` handle replaces an app's set
//! while requests signed with the old and the new token keep arriving on several threads. Every request
//! is answered by the set in force at some moment during its call: never a mix, never a token that was
//! not in the set at any moment of the call. Overlapping sets ([A] → [A, B] → [B]) rotate without a
//! single refusal of a valid token.

use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use http::Request;
use tencent_room_callback::testing::{fixtures, CallbackRequest};
use tencent_room_callback::{CallbackLayer, CallbackMeta, Config, HandlerError, MemberLeave};
use tower::{service_fn, Layer, ServiceExt};

const APP: u64 = 1400000000;
const OTHER_APP: u64 = 1400000001;

fn signed(app: u64, token: &str) -> Request<Body> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    CallbackRequest::new(fixtures::member_leave())
        .sdk_app_id(app)
        .token(token)
        .request_time(now)
        .build::<Body>()
}

/// What one request saw: the phases whose set may have been in force during its call (from the last
/// one completed before the call to the last one begun after it), its token, its status.
#[derive(Debug, Clone, Copy)]
struct Seen {
    from: u8,
    to: u8,
    token_b: bool,
    status: u16,
}

/// Whether `token_b`'s request may be accepted in `phase`: 1 = [A], 2 = [A, B], 3 = [B].
fn valid(phase: u8, token_b: bool) -> bool {
    match phase {
        1 => !token_b,
        2 => true,
        _ => token_b,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotating_an_apps_tokens_under_load_never_mixes_sets() {
    let config = Config::new(APP)
        .app_token(APP, "token-a")
        .unwrap()
        .app_token(OTHER_APP, "other-app-token")
        .unwrap();
    let tokens = config.tokens();
    let handled = Arc::new(AtomicUsize::new(0));
    let svc = {
        let handled = handled.clone();
        CallbackLayer::new(config)
            .on(move |_: MemberLeave, _: CallbackMeta| {
                handled.fetch_add(1, SeqCst);
                async { Ok::<(), HandlerError>(()) }
            })
            .layer(service_fn(|_: Request<Body>| async {
                Ok::<_, std::convert::Infallible>(http::Response::new(Body::empty()))
            }))
    };

    // `begun` is raised just before a set is swapped in, `done` just after: a call that read `done`
    // before it and `begun` after it can only have seen the sets of the phases in between.
    let begun = Arc::new(AtomicU8::new(1));
    let done = Arc::new(AtomicU8::new(1));
    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    for client in 0..8 {
        let (svc, begun, done, stop) = (svc.clone(), begun.clone(), done.clone(), stop.clone());
        clients.push(tokio::spawn(async move {
            let mut seen = Vec::new();
            let mut token_b = client % 2 == 0;
            while !stop.load(SeqCst) {
                token_b = !token_b;
                let req = signed(APP, if token_b { "token-b" } else { "token-a" });
                let from = done.load(SeqCst);
                let res = svc.clone().oneshot(req).await.unwrap();
                let to = begun.load(SeqCst);
                seen.push(Seen {
                    from,
                    to,
                    token_b,
                    status: res.status().as_u16(),
                });
                tokio::task::yield_now().await;
            }
            seen
        }));
    }

    // The application rotates: add the new token, then retire the old one.
    let step = Duration::from_millis(150);
    tokio::time::sleep(step).await;
    begun.store(2, SeqCst);
    tokens.set_app(APP, ["token-a", "token-b"]).unwrap();
    done.store(2, SeqCst);
    tokio::time::sleep(step).await;
    begun.store(3, SeqCst);
    tokens.set_app(APP, ["token-b"]).unwrap();
    done.store(3, SeqCst);
    tokio::time::sleep(step).await;
    stop.store(true, SeqCst);

    let mut all = Vec::new();
    for client in clients {
        all.extend(
            tokio::time::timeout(Duration::from_secs(10), client)
                .await
                .expect("a client hung")
                .unwrap(),
        );
    }

    let mut per_phase = [[0usize; 2]; 4];
    for s in &all {
        let phases = s.from..=s.to;
        let accepted = s.status == 200;
        assert!(
            s.status == 200 || s.status == 401,
            "unexpected status: {s:?}"
        );
        if accepted {
            assert!(
                phases.clone().any(|p| valid(p, s.token_b)),
                "accepted with a token no set in force held: {s:?}"
            );
        } else {
            assert!(
                phases.clone().any(|p| !valid(p, s.token_b)),
                "refused a token every set in force held: {s:?}"
            );
        }
        if s.from == s.to {
            // Only one set can have been in force: the answer is exactly that set's.
            assert_eq!(accepted, valid(s.from, s.token_b), "{s:?}");
            per_phase[usize::from(s.from)][usize::from(s.token_b)] += 1;
        }
    }
    for (p, counts) in per_phase.iter().enumerate().skip(1) {
        assert!(
            counts[0] > 10 && counts[1] > 10,
            "phase {p} saw too few requests of each token: {counts:?}"
        );
    }
    let accepted = all.iter().filter(|s| s.status == 200).count();
    assert_eq!(handled.load(SeqCst), accepted);

    // The other app's set was never touched, and its token never opened this app.
    let res = svc
        .clone()
        .oneshot(signed(OTHER_APP, "other-app-token"))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = svc
        .clone()
        .oneshot(signed(APP, "other-app-token"))
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    println!(
        "{} requests; per phase (token a, token b): {:?}",
        all.len(),
        &per_phase[1..]
    );
}
