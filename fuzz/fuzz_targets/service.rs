//! The whole service, in process: path, query, method, `Content-Length` and body all come from the input.
//!
//! Input: one flags byte (method, authentication, `Content-Length` mode, path), then the raw query up to
//! the first newline, then the body. The layer handles `MemberLeave` with a handler, the four room and
//! seat commands with `on_any`, and forwards `MemberEnter` in extensions to the inner service, which also
//! answers everything the layer passes through. It serves every path, or `/cb` only.
//!
//! Checked: no panic; the future is ready at once (in-memory body); a pass-through request reaches the
//! inner service untouched (its original body, no event); a verified callback no route takes reaches it
//! with its `CallbackMeta` and no event, never one of the routed commands; a request to a path the layer does not serve
//! is passed through whatever its query; otherwise the answer is the OK acknowledgment with 200 exactly
//! when a handler was called, or a FAIL acknowledgment whose `ErrorCode` carries the status; no token in
//! any answer.

#![no_main]

use std::convert::Infallible;
use std::future::{ready, Future, Ready};
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, UNIX_EPOCH};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use libfuzzer_sys::fuzz_target;
use tencent_room_callback::service::RequestBody;
use tencent_room_callback::{Ack, CallbackLayer, CallbackMeta, Command, Config, HandlerError, MemberEnter, MemberLeave, RoomEvent};
use tower_layer::Layer;
use tower_service::Service;

const TOKEN: &str = "fuzz-token-s3cr3t";
/// The status the inner service answers with for pass-through requests.
const PASSED: u16 = 299;

#[derive(Clone)]
struct Inner;

impl Service<Request<RequestBody<Full<Bytes>>>> for Inner {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<RequestBody<Full<Bytes>>>) -> Self::Future {
        let event = req.extensions().get::<MemberEnter>().is_some();
        let meta = req.extensions().get::<CallbackMeta>();
        assert!(!event || meta.is_some(), "an event comes with its metadata");
        if let (Some(meta), false) = (meta, event) {
            // A verified callback no route takes, handed on with its metadata (the app's fallback
            // answers it): never one of the routed commands.
            assert!(
                ![
                    Command::MemberEnter,
                    Command::MemberLeave,
                    Command::CreateRoom,
                    Command::DestroyRoom,
                    Command::UpdateRoomInfo,
                    Command::SeatInfoChanged,
                ]
                .iter()
                .any(|c| meta.command.typed() == Some(*c)),
                "a routed command reached the inner service without its event: {}",
                meta.command
            );
        }
        assert!(
            !event || req.body().is_buffered(),
            "a forwarded event comes with the bytes read"
        );
        if meta.is_none() {
            assert!(
                !req.body().is_buffered(),
                "a passed-through request comes with its own body"
            );
        }
        let res = if event {
            Ack::ok().http_response(StatusCode::OK)
        } else {
            let mut res = Response::new(Full::new(Bytes::from_static(b"inner")));
            *res.status_mut() = StatusCode::from_u16(PASSED).expect("a status");
            res
        };
        ready(Ok(res))
    }
}

fn now_ready<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    match fut.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("an in-memory request must be answered at once"),
    }
}

/// `path` and the raw query, as far as `http::Uri` takes it; other bytes percent-encoded.
fn uri(path: &str, query: &[u8]) -> Uri {
    let raw = format!("{path}?{}", String::from_utf8_lossy(query));
    if let Ok(u) = Uri::try_from(raw.as_str()) {
        return u;
    }
    let mut enc = format!("{path}?");
    for &b in query {
        if b.is_ascii_alphanumeric() || b"&=%.-_+".contains(&b) {
            enc.push(char::from(b));
        } else {
            enc.push_str(&format!("%{b:02X}"));
        }
    }
    Uri::try_from(enc).expect("an encoded query is a valid URI")
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let (query, body) = match rest.iter().position(|b| *b == b'\n') {
        Some(p) => (&rest[..p], &rest[p + 1..]),
        None => (rest, &[][..]),
    };
    let method = match flags & 0b11 {
        0 | 1 => Method::POST,
        2 => Method::GET,
        _ => Method::PUT,
    };
    let mut config = Config::new(1400000000)
        .body_limit(512)
        .clock(|| UNIX_EPOCH + Duration::from_secs(1669872112));
    if flags & 0b100 != 0 {
        config = config.token(TOKEN).expect("a token");
    }
    let calls = Arc::new(AtomicUsize::new(0));
    let (c1, c2) = (calls.clone(), calls.clone());
    let layer = CallbackLayer::new(config)
        .extension::<MemberEnter>()
        .on_any(
            [
                Command::CreateRoom,
                Command::DestroyRoom,
                Command::UpdateRoomInfo,
                Command::SeatInfoChanged,
            ],
            move |_: RoomEvent, _: CallbackMeta| {
                c1.fetch_add(1, Ordering::Relaxed);
                ready(Ok::<(), HandlerError>(()))
            },
        )
        .on(move |_: MemberLeave, _: CallbackMeta| {
            c2.fetch_add(1, Ordering::Relaxed);
            ready(Ok::<(), HandlerError>(()))
        });
    // Bit 6: the request goes to `/other` rather than `/cb`; bit 7: the layer serves every path rather
    // than `/cb` only.
    let path = if flags & 0x40 != 0 { "/other" } else { "/cb" };
    let scoped = flags & 0x80 == 0;
    let layer = if scoped { layer.path("/cb") } else { layer };
    let mut svc = layer.layer(Inner);

    let mut req = Request::new(Full::new(Bytes::copy_from_slice(body)));
    *req.method_mut() = method;
    *req.uri_mut() = uri(path, query);
    let declared = match (flags >> 3) & 0b111 {
        0 => None,
        1 => Some(body.len() as u64),
        2 => Some((body.len() as u64).saturating_sub(1)),
        3 => Some(body.len() as u64 + 1),
        4 => Some(513),
        5 => Some(u64::MAX),
        _ => None,
    };
    if let Some(n) = declared {
        req.headers_mut()
            .insert(http::header::CONTENT_LENGTH, n.into());
    }

    let res = now_ready(svc.call(req)).expect("never a service error");
    let status = res.status().as_u16();
    let bytes = now_ready(res.into_body().collect())
        .expect("an in-memory body")
        .to_bytes();
    let calls = calls.load(Ordering::Relaxed);
    if scoped && path != "/cb" {
        assert_eq!(
            status, PASSED,
            "a request to a path the layer does not serve"
        );
    }
    if status == PASSED {
        assert_eq!(&bytes[..], b"inner");
        assert_eq!(calls, 0);
        return;
    }
    assert!(
        !String::from_utf8_lossy(&bytes).contains(TOKEN),
        "the token leaked"
    );
    let ack: Ack = serde_json::from_slice(&bytes).expect("every answer is an acknowledgment");
    if status == 200 {
        assert!(ack.is_ok(), "{ack:?}");
        // The OK came from a handler (called once) or from the inner service (MemberEnter).
        assert!(calls <= 1);
    } else {
        assert!(!ack.is_ok());
        assert_ne!(ack.error_code(), 0);
        assert_eq!(ack.error_code() / 100, i64::from(status), "{ack:?}");
        assert_eq!(calls, 0, "a handler was called for a rejected request");
    }
});
