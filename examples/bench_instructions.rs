//! Instruction counts per request, for `scripts/instructions.sh` (valgrind's callgrind counts
//! instructions, not seconds: the same for the same binary and input, whatever else the machine does).
//!
//! `bench_instructions CONTENDER N` calls the contender's service N times with the same request and
//! drains each answer, polling by hand (every future here is ready at once: no runtime). The script runs
//! it twice with different N and divides the difference, so set-up cancels out.
//!
//! Contenders: `no_layer` (a bare function answering 200), `layer` (the callback layer in front of it,
//! handler mode, request passed through), `layer_16k` (the same with a handler whose future holds
//! 16 KiB), `layer_extension` (an extension route registered: the inner service gets a `RequestBody`),
//! `leave_layer` (the documented leave sample, intercepted and handled), `leave_floor` (a bare function
//! collecting that body and decoding it with `serde_json`, no check at all), `leave_signed` (the leave
//! sample signed with a token: `Sign` and `RequestTime` checked), `trtc_layer` (a TRTC exit event of the
//! same size, pretty-printed as Tencent sends it and signed with a key, on the layer's TRTC path:
//! verified, decoded as a `TrtcEvent`, handled).

use std::convert::Infallible;
use std::future::{ready, Future, Ready};
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use http::{Request, Response};
use http_body::Body;
use http_body_util::{BodyExt, Full};
use tencent_room_callback::trtc::{self, TrtcEvent};
use tencent_room_callback::{CallbackLayer, CallbackMeta, Config, HandlerError, MemberLeave};
use tower::{service_fn, Layer, Service};

const LEAVE_URI: &str = "/callback?SdkAppid=1400000000&CallbackCommand=Room.CallbackAfterMemberLeave&contenttype=json&ClientIP=1.2.3.4&OptPlatform=iOS";
const SAMPLE: &str = r#"{"CallbackCommand":"Room.CallbackAfterMemberLeave","Operator_Account":"user1","RoomId":"rid-123","MemberCount":20,"Type":"Leave","MemberList_Account":["user1"],"Reason":"xxxx","EventTime":1670574414123}"#;

fn now<F: Future>(f: F) -> F::Output {
    match pin!(f).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("every future here is ready at once"),
    }
}

fn app<B>(_: Request<B>) -> Ready<Result<Response<Full<Bytes>>, Infallible>> {
    ready(Ok(Response::new(Full::new(Bytes::from_static(b"app")))))
}

async fn on_leave(event: MemberLeave, _: CallbackMeta) -> Result<(), HandlerError> {
    black_box(event);
    Ok(())
}

async fn on_leave_16k(event: MemberLeave, _: CallbackMeta) -> Result<(), HandlerError> {
    let scratch = [0u8; 16 * 1024];
    ready(()).await;
    black_box(&scratch);
    black_box(event);
    Ok(())
}

async fn on_trtc(event: TrtcEvent, _: CallbackMeta) -> Result<(), HandlerError> {
    black_box(event);
    Ok(())
}

const TOKEN: &str = "bench-callback-token";
const KEY: &str = "benchkey123";

fn config() -> Config {
    Config::new(1400000000).body_timeout(None)
}

/// Now, in seconds since the epoch.
fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A TRTC exit (104) sent now, pretty-printed with tabs as Tencent sends it, about the size of the leave
/// sample.
fn trtc_exit() -> String {
    let ms = now_secs() * 1000;
    format!(
        "{{\n\t\"EventGroupId\":\t1,\n\t\"EventType\":\t104,\n\t\"CallbackTs\":\t{ms},\n\t\"EventInfo\":\t{{\n\t\t\"RoomId\":\t\"rid-123\",\n\t\t\"EventTs\":\t{},\n\t\t\"EventMsTs\":\t{ms},\n\t\t\"UserId\":\t\"user1\",\n\t\t\"Role\":\t20,\n\t\t\"Reason\":\t1\n\t}}\n}}",
        ms / 1000
    )
}

fn run<S, B>(mut svc: S, n: u64, make: impl Fn() -> Request<Full<Bytes>>)
where
    S: Service<Request<Full<Bytes>>, Response = Response<B>>,
    S::Error: std::fmt::Debug,
    B: Body,
    B::Error: std::fmt::Debug,
{
    for _ in 0..n {
        let res = now(svc.call(make())).unwrap();
        assert_eq!(res.status(), 200);
        black_box(now(res.into_body().collect()).unwrap().to_bytes());
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let contender = args.next().unwrap_or_default();
    let n: u64 = args.next().and_then(|n| n.parse().ok()).unwrap_or(1000);
    let health = || {
        Request::get("/health")
            .body(Full::new(Bytes::new()))
            .unwrap()
    };
    let leave = || {
        Request::post(LEAVE_URI)
            .header("content-length", SAMPLE.len())
            .body(Full::new(Bytes::from_static(SAMPLE.as_bytes())))
            .unwrap()
    };
    match contender.as_str() {
        "no_layer" => run(service_fn(app), n, health),
        "layer" => run(
            CallbackLayer::new(config())
                .on(on_leave)
                .layer(service_fn(app)),
            n,
            health,
        ),
        "layer_16k" => run(
            CallbackLayer::new(config())
                .on(on_leave_16k)
                .layer(service_fn(app)),
            n,
            health,
        ),
        "layer_extension" => run(
            CallbackLayer::new(config())
                .extension::<MemberLeave>()
                .layer(service_fn(app)),
            n,
            health,
        ),
        "leave_layer" => run(
            CallbackLayer::new(config())
                .on(on_leave)
                .layer(service_fn(app)),
            n,
            leave,
        ),
        "leave_signed" => {
            let time = now_secs().to_string();
            let uri = format!(
                "{LEAVE_URI}&RequestTime={time}&Sign={}",
                tencent_room_callback::testing::signature(TOKEN, &time)
            );
            run(
                CallbackLayer::new(config().token(TOKEN).unwrap())
                    .on(on_leave)
                    .layer(service_fn(app)),
                n,
                || {
                    Request::post(uri.as_str())
                        .header("content-length", SAMPLE.len())
                        .body(Full::new(Bytes::from_static(SAMPLE.as_bytes())))
                        .unwrap()
                },
            )
        }
        "trtc_layer" => {
            let body = Bytes::from(trtc_exit());
            let sign = trtc::sign(KEY, &body);
            eprintln!(
                "trtc body: {} bytes, leave sample: {} bytes",
                body.len(),
                SAMPLE.len()
            );
            run(
                CallbackLayer::new(config().trtc_key(KEY).unwrap())
                    .trtc_path("/trtc")
                    .on(on_trtc)
                    .layer(service_fn(app)),
                n,
                || {
                    Request::post("/trtc")
                        .header("content-type", "application/json")
                        .header("content-length", body.len())
                        .header("SdkAppId", "1400000000")
                        .header("Sign", sign.as_str())
                        .body(Full::new(body.clone()))
                        .unwrap()
                },
            )
        }
        "leave_floor" => run(
            service_fn(|req: Request<Full<Bytes>>| async move {
                let body = req.into_body().collect().await.unwrap().to_bytes();
                let event: MemberLeave = serde_json::from_slice(&body).unwrap();
                black_box(event);
                Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(
                    tencent_room_callback::Ack::OK_BODY,
                ))))
            }),
            n,
            leave,
        ),
        other => {
            eprintln!("unknown contender {other:?}: no_layer, layer, layer_16k, layer_extension, leave_layer, leave_signed, trtc_layer, leave_floor");
            std::process::exit(2);
        }
    }
}
