//! The body timer counts the network, not the server's own business: a body whose last bytes arrive
//! while the runtime is blocked (a saturated server) is answered OK when the server comes back, even
//! though more than the body timeout has passed by then. Real time, real sockets: the test is about a
//! runtime that cannot run, which tokio's paused clock cannot show.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use tencent_room_callback::{CallbackLayer, CallbackMeta, Config, HandlerError, MemberLeave};

const QUERY: &str = "/callback?SdkAppid=1400000000&CallbackCommand=Room.CallbackAfterMemberLeave";
const BODY: &str =
    r#"{"RoomId":"rid-123","MemberList_Account":["user1"],"EventTime":1670574414123}"#;

/// One request whose body comes in two halves, with the server's runtime blocked (by `hog`) in between,
/// after it has begun reading the body: the status line of the answer.
fn split_request(addr: SocketAddr, hog: tokio::sync::mpsc::UnboundedSender<()>) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let (first, second) = BODY.split_at(BODY.len() / 2);
    write!(
        stream,
        "POST {QUERY} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{first}",
        BODY.len()
    )
    .unwrap();
    stream.flush().unwrap();
    // The server reads the head and the first half, and starts waiting for the rest.
    std::thread::sleep(Duration::from_millis(200));
    // The server gets busy; the rest of the body arrives meanwhile.
    hog.send(()).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    stream.write_all(second.as_bytes()).unwrap();
    stream.flush().unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer.lines().next().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "current_thread")]
async fn a_body_that_arrived_while_the_server_was_busy_is_not_408() {
    let config = Config::new(1400000000).body_timeout(Some(Duration::from_millis(500)));
    let app = axum::Router::new().layer(
        CallbackLayer::new(config)
            .on(|_: MemberLeave, _: CallbackMeta| async { Ok::<(), HandlerError>(()) }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    // A task that blocks the (only) runtime thread for `block` each time it is told to: the server is
    // busy, no task of it runs.
    let block = Duration::from_millis(1200);
    let (hog, mut told) = tokio::sync::mpsc::unbounded_channel::<()>();
    tokio::spawn(async move {
        while told.recv().await.is_some() {
            std::thread::sleep(block);
        }
    });

    // Each body's second half arrives while the runtime is blocked for longer than the body timeout; a
    // timer checked before the body would answer 408 (tried: all five were).
    let client = tokio::task::spawn_blocking(move || {
        (0..5)
            .map(|_| split_request(addr, hog.clone()))
            .collect::<Vec<_>>()
    });
    let answers = tokio::time::timeout(Duration::from_secs(60), client)
        .await
        .expect("the clients hung")
        .unwrap();
    for status in &answers {
        assert_eq!(status, "HTTP/1.1 200 OK", "{answers:?}");
    }
}
