//! Slow and stuck peers against a real axum server on 127.0.0.1: bodies that trickle or stall get 408
//! while everyone else is served; a panicking handler gets 500 and is reported while the server keeps
//! serving; a stuck worker behind a bounded in-memory inbox never makes the layer acknowledge an event
//! it did not store (503 when full), and every acknowledged event reaches the worker.
//!
//! Durations appear only as the body timeout under test and as generous bounds against hanging; the
//! assertions are about order and outcome. The tests about the body timeout run on tokio's paused clock
//! (a current-thread runtime): time moves only when every task waits, and then jumps to the next timer,
//! so a timeout passes without a real wait and no machine is too slow for the order they check. Before
//! time may move, they wait until the layer has the requests in question (see [`Recording::heads`]);
//! after that, tokio looks at the sockets (without blocking) before it moves the clock, and a loopback
//! write is there to be read at once. The other tests are not about a timeout and keep real time.

mod rawhttp;

use std::collections::HashSet;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::routing::any;
use axum::Router;
use futures_like::join_all;
use rawhttp::{exchange, post, Answer, Conn};
use tencent_room_callback::{Ack, CallbackLayer, CallbackMeta, Config, HandlerError, MemberLeave};
use tencent_room_callback_inbox::{Inbox, InboxEvent, WorkerHandle};
use tokio::sync::watch;
use tokio::time::Instant;
use tower::util::MapRequestLayer;

const APP: u64 = 1400000000;
const PATH: &str = "/cb?SdkAppid=1400000000&CallbackCommand=Room.CallbackAfterMemberLeave&contenttype=json&ClientIP=1.2.3.4&OptPlatform=Web";

fn body(room: &str) -> String {
    format!(
        r#"{{"CallbackCommand":"Room.CallbackAfterMemberLeave","Operator_Account":"user1","RoomId":"{room}","MemberCount":1,"Type":"Leave","MemberList_Account":["user1"],"EventTime":1670574414123}}"#
    )
}

fn fail_code(a: &Answer) -> i64 {
    let ack: Ack = serde_json::from_slice(&a.body).expect("an acknowledgment");
    assert!(!ack.is_ok());
    ack.error_code()
}

async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// A server whose `MemberLeave` handler records room IDs, and panics for the room `"panic"`.
async fn recording_server(config: Config) -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    let r = recording(config).await;
    (r.addr, r.rooms)
}

/// A [`recording_server`], and how many request heads it has taken in.
struct Recording {
    addr: SocketAddr,
    rooms: Arc<Mutex<Vec<String>>>,
    /// Counts the requests that reached the layer: counted just before the layer's service is called,
    /// whose future is polled in the same turn, so once a count is seen the layer has looked at that
    /// request's body (and started its timer if the body is not all there).
    heads: watch::Receiver<usize>,
}

impl Recording {
    /// Waits (boundedly) until the server has taken in `n` request heads.
    async fn heads(&mut self, n: usize) {
        tokio::time::timeout(rawhttp::ANSWER_WITHIN, self.heads.wait_for(|h| *h >= n))
            .await
            .unwrap_or_else(|_| panic!("the server did not take in {n} heads"))
            .expect("the server runs");
    }
}

async fn recording(config: Config) -> Recording {
    let rooms = Arc::new(Mutex::new(Vec::new()));
    let r = rooms.clone();
    let layer = CallbackLayer::new(config).on(move |e: MemberLeave, _: CallbackMeta| {
        // A panic in the handler's call itself...
        assert_ne!(e.room_id, "panic", "the handler was told to panic");
        let r = r.clone();
        async move {
            // ...and one inside the future it returns.
            assert_ne!(
                e.room_id, "panic-async",
                "the handler's future was told to panic"
            );
            r.lock().unwrap().push(e.room_id);
            Ok::<(), HandlerError>(())
        }
    });
    let (heads_tx, heads) = watch::channel(0);
    let app = Router::new()
        .route("/cb", any(|| async { "inner" }))
        .layer(layer)
        .layer(MapRequestLayer::new(move |req| {
            heads_tx.send_modify(|n| *n += 1);
            req
        }));
    Recording {
        addr: serve(app).await,
        rooms,
        heads,
    }
}

async fn valid(addr: SocketAddr, room: &str) -> Answer {
    exchange(addr, post(PATH, body(room).as_bytes()))
        .await
        .expect("an answer")
}

/// The head and the first bytes of a body whose `Content-Length` promises more.
fn partial(room: &str) -> (Vec<u8>, Vec<u8>) {
    let b = body(room).into_bytes();
    let head = format!(
        "POST {PATH} HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n",
        b.len()
    )
    .into_bytes();
    (head, b)
}

/// Others are served while stallers wait: on a server whose body timeout (60 s) is far longer than the
/// test, no staller can have been answered yet when the others are, whatever the machine's speed.
///
/// On the paused clock: the stallers are inside the layer, waiting on their bodies, before the others
/// are sent; the others are all served before the clock has reached the stallers' timeout (a server
/// that made them wait behind the stallers would let the clock jump to their 10 s bound, or to the 60 s
/// timeout, first); and then, once the clock passes it, every staller gets its 408.
#[tokio::test(start_paused = true)]
async fn others_are_served_while_stallers_wait() {
    const TIMEOUT: Duration = Duration::from_secs(60);
    let start = Instant::now();
    let config = Config::new(APP).body_timeout(Some(TIMEOUT));
    let mut server = recording(config).await;
    let addr = server.addr;

    // Five stallers: the head and 10 bytes, then nothing.
    let mut stallers = Vec::new();
    for i in 0..5 {
        let (head, b) = partial(&format!("stalled-{i}"));
        let mut c = Conn::open(addr).await;
        assert!(c.send(&head).await && c.send(&b[..10]).await);
        stallers.push(c);
    }
    server.heads(5).await;

    // Meanwhile, twenty valid callbacks from other clients, concurrently.
    let served =
        join_all((0..20).map(|i| async move { valid(addr, &format!("ok-{i}")).await })).await;
    for a in &served {
        assert_eq!(a.status, 200);
        assert_eq!(a.body, Ack::OK_BODY);
    }
    assert!(
        start.elapsed() < TIMEOUT,
        "the others were served only after the stallers' timeout"
    );
    // They were all served while every staller was still waiting for its answer.
    for c in stallers.iter_mut() {
        assert!(
            c.nothing_yet().await,
            "a staller was answered before its 60 s body timeout"
        );
    }
    let mut rooms = server.rooms.lock().unwrap().clone();
    rooms.sort();
    let mut expected: Vec<String> = (0..20).map(|i| format!("ok-{i}")).collect();
    expected.sort();
    assert_eq!(rooms, expected);

    // The stallers were waiting on their timeout: past it, each gets its 408.
    tokio::time::sleep_until(start + TIMEOUT + Duration::from_secs(1)).await;
    for mut c in stallers {
        let a = c.answer().await.expect("a staller gets an answer");
        assert_eq!((a.status, fail_code(&a)), (408, 40801));
    }
    assert_eq!(server.rooms.lock().unwrap().len(), 20);
}

/// Stalled and trickling bodies get 408 on a server with a short body timeout. The tricklers send the
/// WHOLE body, a few bytes at a time, each gap (200 ms) shorter than the timeout (500 ms) but the whole
/// body arriving only after it: a timer that restarted on every byte would let them through (200).
///
/// On the paused clock the gaps are exact: the tricklers' sleeps and the server's timers are on the one
/// clock, which moves only when everyone waits. Every head is in before the first piece is sent.
#[tokio::test(start_paused = true)]
async fn stalled_and_trickling_bodies_get_408() {
    const GAP: Duration = Duration::from_millis(200);
    const PIECES: usize = 10;
    const TIMEOUT: Duration = Duration::from_millis(500);
    let config = Config::new(APP).body_timeout(Some(TIMEOUT));
    assert!(GAP < TIMEOUT);
    assert!(GAP * (PIECES as u32 - 1) > TIMEOUT * 3);
    let mut server = recording(config).await;
    let (addr, rooms) = (server.addr, server.rooms.clone());
    let start = Instant::now();

    // Five stallers: the head and 10 bytes, then nothing.
    let mut stallers = Vec::new();
    for i in 0..5 {
        let (head, b) = partial(&format!("stalled-{i}"));
        let mut c = Conn::open(addr).await;
        assert!(c.send(&head).await && c.send(&b[..10]).await);
        stallers.push(c);
    }
    // Five tricklers: the whole body in PIECES pieces, GAP apart.
    let mut tricklers = Vec::new();
    for i in 0..5 {
        let (head, b) = partial(&format!("trickled-{i}"));
        let mut c = Conn::open(addr).await;
        assert!(c.send(&head).await);
        tricklers.push((c, b));
    }
    server.heads(10).await;
    let trickling = tokio::spawn(async move {
        let mut conns = tricklers;
        let len = conns[0].1.len();
        let piece = len.div_ceil(PIECES);
        let mut k = 0;
        while k < len {
            if k > 0 {
                tokio::time::sleep(GAP).await;
            }
            for (c, b) in conns.iter_mut() {
                // The server may already have answered and closed: not the test's concern.
                let _ = c.send(&b[k..(k + piece).min(b.len())]).await;
            }
            k += piece;
        }
        conns.into_iter().map(|(c, _)| c).collect::<Vec<_>>()
    });

    for mut c in stallers {
        let a = c.answer().await.expect("a staller gets an answer");
        assert_eq!(a.status, 408);
        assert_eq!(fail_code(&a), 40801);
    }
    assert!(start.elapsed() >= TIMEOUT, "answered before the timeout");
    let tricklers = tokio::time::timeout(rawhttp::ANSWER_WITHIN, trickling)
        .await
        .expect("the tricklers finish sending")
        .unwrap();
    // The last piece went out after the timeout.
    assert!(start.elapsed() >= GAP * (PIECES as u32 - 1));
    for mut c in tricklers {
        let a = c.answer().await.expect("a trickler gets an answer");
        assert_eq!(a.status, 408, "a whole body trickled past the timeout");
        assert_eq!(fail_code(&a), 40801);
    }
    // None of them reached the handler.
    assert!(
        rooms.lock().unwrap().is_empty(),
        "{:?}",
        rooms.lock().unwrap()
    );

    // And the server still works afterwards.
    assert_eq!(valid(addr, "after").await.status, 200);
    assert_eq!(*rooms.lock().unwrap(), ["after"]);
}

/// The default body timeout applies without any configuration, and fits Tencent's 2 s budget. On the
/// paused clock: the 408 comes once the clock has passed it.
#[tokio::test(start_paused = true)]
async fn the_default_body_timeout_answers_a_stall_with_408() {
    assert_eq!(Config::DEFAULT_BODY_TIMEOUT, Duration::from_secs(1));
    assert!(Config::DEFAULT_BODY_TIMEOUT < Duration::from_secs(2));
    let (addr, rooms) = recording_server(Config::new(APP)).await;
    let start = Instant::now();
    let (head, b) = partial("stalled");
    let mut c = Conn::open(addr).await;
    assert!(c.send(&head).await && c.send(&b[..b.len() - 1]).await);
    let a = c.answer().await.expect("an answer");
    assert_eq!((a.status, fail_code(&a)), (408, 40801));
    assert!(start.elapsed() >= Config::DEFAULT_BODY_TIMEOUT);
    assert!(rooms.lock().unwrap().is_empty());
    assert_eq!(valid(addr, "after").await.status, 200);
}

/// The body timeout starts once the head is in: a peer that trickles its *head* is the HTTP server's
/// business. `axum::serve` sets no timer, so hyper's header-read timeout is off there; served with
/// hyper-util and a timer, a stalled head is cut off while others are served.
// Real time: the timeout under test is hyper's own, on a real server as deployed, not the layer's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_head_is_cut_off_by_hyper_when_it_has_a_timer() {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    use hyper_util::server::conn::auto::Builder;
    use tower::ServiceExt;

    let layer = CallbackLayer::new(Config::new(APP))
        .on(|_: MemberLeave, _: CallbackMeta| async { Ok::<(), HandlerError>(()) });
    let app = Router::new()
        .route("/cb", any(|| async { "inner" }))
        .layer(layer);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (io, _) = listener.accept().await.unwrap();
            let app = app.clone();
            tokio::spawn(async move {
                let mut builder = Builder::new(TokioExecutor::new());
                builder
                    .http1()
                    .timer(TokioTimer::new())
                    .header_read_timeout(Duration::from_millis(500));
                let svc = hyper::service::service_fn(move |req| app.clone().oneshot(req));
                let _ = builder.serve_connection(TokioIo::new(io), svc).await;
            });
        }
    });

    let mut c = Conn::open(addr).await;
    assert!(
        c.send(format!("POST {PATH} HTTP/1.1\r\nHost: t\r\n").as_bytes())
            .await
    );
    assert_eq!(valid(addr, "meanwhile").await.status, 200);
    // hyper closes the connection (without an answer, or with a 408).
    if let Some(a) = c.answer().await {
        assert_eq!(a.status, 408);
    }
    assert_eq!(valid(addr, "after").await.status, 200);
}

/// On the paused clock: the pieces come 20 ms apart, and the body is whole well within the default 1 s.
#[tokio::test(start_paused = true)]
async fn a_body_that_arrives_in_pieces_within_the_timeout_is_accepted() {
    let mut server = recording(Config::new(APP)).await;
    let start = Instant::now();
    let (head, b) = partial("pieces");
    let mut c = Conn::open(server.addr).await;
    assert!(c.send(&head).await);
    server.heads(1).await;
    for piece in b.chunks(b.len() / 3 + 1) {
        assert!(c.send(piece).await);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let a = c.answer().await.expect("an answer");
    assert_eq!(a.status, 200);
    assert!(start.elapsed() < Config::DEFAULT_BODY_TIMEOUT);
    assert_eq!(*server.rooms.lock().unwrap(), vec!["pieces".to_string()]);
}

/// Captures every tracing event of the process (the subscriber is global: servers run on several
/// threads).
fn traces() -> &'static Mutex<Vec<u8>> {
    static BUF: OnceLock<&'static Mutex<Vec<u8>>> = OnceLock::new();
    BUF.get_or_init(|| {
        let buf: &'static Mutex<Vec<u8>> = Box::leak(Box::new(Mutex::new(Vec::new())));
        struct W(&'static Mutex<Vec<u8>>);
        impl Write for W {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        tracing_subscriber::fmt()
            .with_writer(move || W(buf))
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .init();
        buf
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_handler_gets_500_is_reported_and_the_server_keeps_serving() {
    let traces = traces();
    let (addr, rooms) = recording_server(Config::new(APP)).await;
    for round in 0..3 {
        for room in ["panic", "panic-async"] {
            let a = valid(addr, room).await;
            assert_eq!(a.status, 500, "{room}, round {round}");
            assert_eq!(fail_code(&a), 50002);
            let a = valid(addr, &format!("after-{room}-{round}")).await;
            assert_eq!(a.status, 200);
        }
    }
    assert_eq!(rooms.lock().unwrap().len(), 6);
    let log = String::from_utf8_lossy(&traces.lock().unwrap()).into_owned();
    assert!(
        log.contains("callback handler panicked")
            && log.contains("the handler was told to panic")
            && log.contains("the handler's future was told to panic"),
        "the panic is reported with its message: {log}"
    );
}

/// A server whose callbacks go to a bounded in-memory inbox (0.1's queue), with no worker yet.
async fn inbox_server(max_pending: u64) -> (SocketAddr, Inbox) {
    let inbox = Inbox::builder().max_pending(max_pending).in_memory();
    let app = Router::new()
        .route("/cb", any(|| async { "inner" }))
        .layer(CallbackLayer::new(Config::new(APP)).on_notifications(inbox.clone()));
    (serve(app).await, inbox)
}

/// A worker that records the room of each event it handles, after `work`.
fn recording_worker(inbox: &Inbox, work: Duration) -> (WorkerHandle, Arc<Mutex<Vec<String>>>) {
    let got = Arc::new(Mutex::new(Vec::new()));
    let g = got.clone();
    let worker = inbox
        .worker(move |event: InboxEvent| {
            let g = g.clone();
            async move {
                tokio::time::sleep(work).await;
                let leave: MemberLeave = event.decode()?;
                assert_eq!(event.meta().sdk_app_id, APP);
                g.lock().unwrap().push(leave.room_id);
                Ok(())
            }
        })
        .concurrency(4)
        .start();
    (worker, got)
}

async fn drained(inbox: &Inbox) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while inbox.depth().await.unwrap().pending > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the worker does not drain the inbox"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_worker_fills_the_inbox_then_callbacks_get_503() {
    let (addr, inbox) = inbox_server(4).await;
    // No worker yet: the first four are stored and acknowledged at once.
    for i in 0..4 {
        let a = valid(addr, &format!("q-{i}")).await;
        assert_eq!(a.status, 200, "event {i}");
        assert_eq!(a.body, Ack::OK_BODY);
    }
    assert_eq!(inbox.depth().await.unwrap().pending, 4);
    // The fifth does not fit: 503, FAIL, not stored.
    let a = valid(addr, "q-overflow").await;
    assert_eq!(a.status, 503);
    assert_eq!(fail_code(&a), 50301);
    assert_eq!(inbox.depth().await.unwrap().pending, 4);
    // Once the worker has caught up, there is room again.
    let (worker, got) = recording_worker(&inbox, Duration::ZERO);
    drained(&inbox).await;
    worker.shutdown(Duration::from_secs(1)).await;
    let mut got = got.lock().unwrap().clone();
    got.sort();
    assert_eq!(got, ["q-0", "q-1", "q-2", "q-3"]);
    assert_eq!(valid(addr, "q-4").await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_event_reaches_the_slow_worker_and_no_refused_one_does() {
    let (addr, inbox) = inbox_server(8).await;
    // No worker yet, so the inbox fills up deterministically: 8 fit, the other 4 are refused,
    // whatever the order in which they arrive.
    let mut outcomes = join_all((0..12).map(|i| async move {
        let room = format!("gated-{i}");
        let a = valid(addr, &room).await;
        (room, a.status)
    }))
    .await;
    let count = |outcomes: &[(String, u16)], status: u16| {
        outcomes.iter().filter(|(_, s)| *s == status).count()
    };
    assert_eq!(
        (count(&outcomes, 200), count(&outcomes, 503)),
        (8, 4),
        "{outcomes:?}"
    );
    // A slow worker: some of the next 400 find the inbox full.
    let (worker, processed) = recording_worker(&inbox, Duration::from_millis(2));
    outcomes.extend(
        join_all((0..400).map(|i| async move {
            let room = format!("e-{i}");
            let a = valid(addr, &room).await;
            (room, a.status)
        }))
        .await,
    );
    drained(&inbox).await;
    worker.shutdown(Duration::from_secs(5)).await;

    let acked: HashSet<String> = outcomes
        .iter()
        .filter(|(_, s)| *s == 200)
        .map(|(r, _)| r.clone())
        .collect();
    let refused: HashSet<String> = outcomes
        .iter()
        .filter(|(_, s)| *s == 503)
        .map(|(r, _)| r.clone())
        .collect();
    assert_eq!(acked.len() + refused.len(), 412, "only 200 or 503");
    assert!(!acked.is_empty(), "nothing was acknowledged");
    assert!(!refused.is_empty(), "nothing was refused");
    let processed = processed.lock().unwrap().clone();
    let set: HashSet<String> = processed.iter().cloned().collect();
    assert_eq!(set.len(), processed.len(), "an event was delivered twice");
    assert!(
        set.is_disjoint(&refused),
        "a refused event reached the worker: {:?}",
        set.intersection(&refused).collect::<Vec<_>>()
    );
    assert_eq!(set, acked, "the worker got exactly the acknowledged events");
    println!(
        "{} acknowledged and processed, {} refused with 503 (inbox of 8, slow worker)",
        acked.len(),
        refused.len()
    );
}

/// Minimal join_all on tokio tasks (no futures crate in the dev-dependencies).
mod futures_like {
    pub async fn join_all<F>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output>
    where
        F: std::future::Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let tasks: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
        let mut out = Vec::with_capacity(tasks.len());
        for t in tasks {
            out.push(t.await.expect("task"));
        }
        out
    }
}

/// What happens to a handler slower than the sender's patience: when the peer gives up and closes the
/// connection, hyper drops the request's future, so the handler is cancelled at its next `.await`. Work
/// that must complete belongs in a queue (or a spawned task), not in the handler's future.
// Real time: about cancellation, not a timeout; the handler's 30 s sleep only has to outlast the test.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_handler_is_cancelled_when_the_sender_gives_up() {
    struct Guard(Arc<Mutex<Vec<&'static str>>>);
    impl Drop for Guard {
        fn drop(&mut self) {
            self.0.lock().unwrap().push("dropped");
        }
    }
    let log = Arc::new(Mutex::new(Vec::new()));
    let l = log.clone();
    let layer = CallbackLayer::new(Config::new(APP)).on(move |_: MemberLeave, _: CallbackMeta| {
        let l = l.clone();
        async move {
            let _guard = Guard(l.clone());
            l.lock().unwrap().push("started");
            tokio::time::sleep(Duration::from_secs(30)).await;
            l.lock().unwrap().push("finished");
            Ok::<(), HandlerError>(())
        }
    });
    let addr = serve(
        Router::new()
            .route("/cb", any(|| async { "inner" }))
            .layer(layer),
    )
    .await;
    let mut c = Conn::open(addr).await;
    assert!(c.send(&post(PATH, body("slow").as_bytes())).await);
    // Wait until the handler runs, then give up like a sender whose timeout expired.
    tokio::time::timeout(rawhttp::ANSWER_WITHIN, async {
        while log.lock().unwrap().is_empty() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the handler started");
    drop(c);
    tokio::time::timeout(rawhttp::ANSWER_WITHIN, async {
        while log.lock().unwrap().len() < 2 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the handler's future is dropped once the peer is gone");
    assert_eq!(*log.lock().unwrap(), ["started", "dropped"]);
}

/// `.body_timeout(None)`: no timer at all, so a body that arrives later than the default 1 s is still
/// read and accepted. On the paused clock, once the layer has the head and is waiting on the body: a
/// timer of the layer's would fire on the way to the end of the sleep, and its 408 would be there.
#[tokio::test(start_paused = true)]
async fn without_a_body_timeout_a_late_body_is_accepted() {
    let mut server = recording(Config::new(APP).body_timeout(None)).await;
    let (head, b) = partial("late");
    let mut c = Conn::open(server.addr).await;
    assert!(c.send(&head).await && c.send(&b[..10]).await);
    server.heads(1).await;
    // Longer than the default body timeout (the sleep lasts at least this long).
    tokio::time::sleep(Config::DEFAULT_BODY_TIMEOUT + Duration::from_millis(200)).await;
    assert!(c.nothing_yet().await, "answered before the body was in");
    assert!(c.send(&b[10..]).await);
    let a = c.answer().await.expect("an answer");
    assert_eq!(a.status, 200);
    assert_eq!(a.body, Ack::OK_BODY);
    assert_eq!(*server.rooms.lock().unwrap(), ["late"]);
}

/// The timer starts only when a body is incomplete: a complete in-memory body is served on a Tokio
/// runtime WITHOUT time enabled (creating a `tokio::time::Sleep` there would panic), with the default
/// 1 s body timeout configured.
#[test]
fn a_complete_body_needs_no_timer_and_no_time_driver() {
    use http_body_util::{BodyExt, Full};
    use tencent_room_callback::testing::CallbackRequest;
    use tencent_room_callback::Command;
    use tower::ServiceExt;

    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime without time");
    let rooms = Arc::new(Mutex::new(Vec::new()));
    let r = rooms.clone();
    // The default configuration: a 1 s body timeout.
    let layer = CallbackLayer::new(Config::new(APP)).on(move |e: MemberLeave, _: CallbackMeta| {
        let r = r.clone();
        async move {
            r.lock().unwrap().push(e.room_id);
            Ok::<(), HandlerError>(())
        }
    });
    let inner = tower::service_fn(|_req: http::Request<Full<bytes::Bytes>>| async {
        Ok::<_, std::convert::Infallible>(http::Response::new(Full::new(
            bytes::Bytes::from_static(b"inner"),
        )))
    });
    let req: http::Request<Full<bytes::Bytes>> =
        CallbackRequest::sample(Command::MemberLeave).build();
    let res = rt
        .block_on(tower::Layer::layer(&layer, inner).oneshot(req))
        .expect("an answer");
    assert_eq!(res.status(), 200);
    let body = rt
        .block_on(res.into_body().collect())
        .expect("the answer's body")
        .to_bytes();
    assert_eq!(&body[..], Ack::OK_BODY);
    assert_eq!(rooms.lock().unwrap().len(), 1);
}
