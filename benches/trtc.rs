//! The TRTC dialect's sans-IO cost against a Room leave callback of the same size through the one-URL
//! path's sans-IO entry point.
//!
//! ```text
//! cargo bench --bench trtc -- --warm-up-time 1 --measurement-time 3
//! ```
//!
//! Group `same_size` (both bodies 247 bytes, both signed, the clock fixed so that both are fresh):
//!
//! - `room_leave_decode`: [`Config::decode`] of the documented `Room.CallbackAfterMemberLeave` sample
//!   (its `Reason` padded to the TRTC body's size), a token configured: the query scanned, `Sign`
//!   and `RequestTime` checked, the body decoded into [`MemberLeave`].
//! - `trtc_exit_verify_decode`: [`trtc::verify`] then [`TrtcEvent::from_json`] of an exit event (104)
//!   as Tencent pretty-prints it, a key configured: `SdkAppId`, `Sign` (HMAC-SHA256 over the body),
//!   the envelope and `CallbackTs`, then the event.
//! - the TRTC steps alone: `trtc_verify`, `trtc_decode`, `trtc_delivery_key`, `trtc_hmac` (the
//!   signature check's share: one keyed HMAC-SHA256 over the body, as `trtc::sign` computes it, less
//!   the base64).
//!
//! Group `body_size`: verify + decode against the Room decode as the bodies grow (padding in a field
//! neither reads), to see the per-byte cost of the HMAC and the envelope skim.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use http::{HeaderMap, HeaderValue};
use tencent_room_callback::testing::{fixed_clock, signature, FIXED_REQUEST_TIME};
use tencent_room_callback::trtc::{self, TrtcEvent};
use tencent_room_callback::{Config, MemberLeave};

const APP: u64 = 1400000000;
const TOKEN: &str = "bench-callback-token";
const KEY: &str = "benchTrtcKey123";

/// An exit event as Tencent prints it (tabs and newlines), sent at the fixed clock's time, with
/// `pad` bytes of padding in a field neither decoder reads.
fn trtc_body(pad: usize) -> String {
    let padding = if pad == 0 {
        String::new()
    } else {
        format!("\t\"Padding\":\t\"{}\",\n", "x".repeat(pad))
    };
    format!(
        "{{\n\t\"EventGroupId\":\t1,\n\t\"EventType\":\t104,\n\t\"CallbackTs\":\t{}000,\n{padding}\t\"EventInfo\":\t{{\n\t\t\"RoomId\":\t8489,\n\t\t\"EventTs\":\t1669872112,\n\t\t\"EventMsTs\":\t1669872112180,\n\t\t\"UserId\":\t\"user_85034614\",\n\t\t\"UniqueId\":\t1615360520,\n\t\t\"Role\":\t20,\n\t\t\"Reason\":\t1\n\t}}\n}}",
        FIXED_REQUEST_TIME
    )
}

/// The documented leave sample with its `Reason` padded so that the body is `len` bytes long.
fn room_body(len: usize) -> String {
    let make = |reason: &str| {
        format!(
            r#"{{"CallbackCommand":"Room.CallbackAfterMemberLeave","Operator_Account":"user1","RoomId":"rid-123","MemberCount":20,"Type":"Leave","MemberList_Account":["user1"],"Reason":"{reason}","EventTime":1670574414123}}"#
        )
    };
    let base = make("").len();
    make(&"x".repeat(len.saturating_sub(base)))
}

fn room_query() -> String {
    let time = FIXED_REQUEST_TIME.to_string();
    format!(
        "SdkAppid={APP}&CallbackCommand=Room.CallbackAfterMemberLeave&contenttype=json&ClientIP=1.2.3.4&OptPlatform=iOS&RequestTime={time}&Sign={}",
        signature(TOKEN, &time)
    )
}

fn trtc_headers(body: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("content-type", HeaderValue::from_static("application/json"));
    h.insert("sdkappid", HeaderValue::from_static("1400000000"));
    h.insert(
        "sign",
        HeaderValue::from_str(&trtc::sign(KEY, body.as_bytes())).expect("base64 is a header value"),
    );
    h
}

fn config() -> Config {
    Config::new(APP)
        .token(TOKEN)
        .expect("a valid token")
        .trtc_key(KEY)
        .expect("a valid key")
        .clock(fixed_clock)
}

fn same_size(c: &mut Criterion) {
    let config = config();
    let trtc = trtc_body(0);
    let room = room_body(trtc.len());
    assert_eq!(room.len(), trtc.len());
    let query = room_query();
    let headers = trtc_headers(&trtc);
    // Both accepted before measuring.
    let (leave, _) = config
        .decode::<MemberLeave>(&query, room.as_bytes())
        .expect("the Room callback verifies");
    assert_eq!(leave.room_id, "rid-123");
    let meta =
        trtc::verify(&config, &headers, trtc.as_bytes()).expect("the TRTC callback verifies");
    assert_eq!(meta.command.as_str(), "TRTC.1.104");
    TrtcEvent::from_json(trtc.as_bytes()).expect("the TRTC event decodes");

    let mut g = c.benchmark_group("same_size");
    g.throughput(Throughput::Bytes(trtc.len() as u64));
    g.bench_function("room_leave_decode", |b| {
        b.iter(|| {
            black_box(config.decode::<MemberLeave>(black_box(&query), black_box(room.as_bytes())))
        })
    });
    g.bench_function("trtc_exit_verify_decode", |b| {
        b.iter(|| {
            let meta = trtc::verify(&config, black_box(&headers), black_box(trtc.as_bytes()));
            let event = TrtcEvent::from_json(black_box(trtc.as_bytes()));
            black_box((meta, event))
        })
    });
    g.bench_function("trtc_verify", |b| {
        b.iter(|| {
            black_box(trtc::verify(
                &config,
                black_box(&headers),
                black_box(trtc.as_bytes()),
            ))
        })
    });
    g.bench_function("trtc_decode", |b| {
        b.iter(|| black_box(TrtcEvent::from_json(black_box(trtc.as_bytes()))))
    });
    g.bench_function("trtc_delivery_key", |b| {
        b.iter(|| black_box(trtc::delivery_key(APP, black_box(trtc.as_bytes()))))
    });
    g.bench_function("trtc_hmac", |b| {
        b.iter(|| black_box(trtc::sign(black_box(KEY), black_box(trtc.as_bytes()))))
    });
    g.finish();
}

fn body_size(c: &mut Criterion) {
    let config = config();
    let query = room_query();
    let mut g = c.benchmark_group("body_size");
    for pad in [0usize, 1024, 16 * 1024] {
        let trtc = trtc_body(pad);
        let room = room_body(trtc.len());
        let headers = trtc_headers(&trtc);
        g.throughput(Throughput::Bytes(trtc.len() as u64));
        g.bench_with_input(
            BenchmarkId::new("room_leave_decode", trtc.len()),
            &room,
            |b, room| {
                b.iter(|| {
                    black_box(config.decode::<MemberLeave>(&query, black_box(room.as_bytes())))
                })
            },
        );
        g.bench_with_input(
            BenchmarkId::new("trtc_exit_verify_decode", trtc.len()),
            &trtc,
            |b, trtc| {
                b.iter(|| {
                    let meta = trtc::verify(&config, &headers, black_box(trtc.as_bytes()));
                    let event = TrtcEvent::from_json(black_box(trtc.as_bytes()));
                    black_box((meta, event))
                })
            },
        );
    }
    g.finish();
}

criterion_group!(benches, same_size, body_size);
criterion_main!(benches);
