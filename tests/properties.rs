//! Property tests (proptest) of the whole service, in process, and of the event types.
//!
//! - Random queries (the real parameter names in random case, percent-encoded or not, duplicated, with
//!   random values) and random bodies (valid samples, mutated samples, random JSON, random bytes): the
//!   service never panics, always answers a well-formed acknowledgment (200 + OK, or 4xx/5xx + FAIL
//!   with a non-zero `ErrorCode` equal to status * 100 + n), and calls a handler if and only if the
//!   answer is OK. Requests the layer passes on reach the inner service untouched, with verified
//!   metadata exactly when they carry a `CallbackCommand` (one no route takes).
//! - Random valid events of every type, sent as valid signed callbacks, are accepted and delivered
//!   exactly as sent.
//! - Decoding a serialized event gives the same event back, for arbitrary events of each type.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use proptest::prelude::*;
use tencent_room_callback::event::{
    EnterType, EventTime, LeaveType, RoomInfo, RoomStatus, RoomType, Seat, TakeSeatMode,
    UnixSeconds,
};
use tencent_room_callback::service::ResponseBody;
use tencent_room_callback::testing::signature;
use tencent_room_callback::{
    Ack, CallbackCommand, CallbackLayer, CallbackMeta, Command, Config, CreateRoom, DestroyRoom,
    Event, HandlerError, MemberEnter, MemberLeave, RoomEvent, SeatInfoChanged, UpdateRoomInfo,
};
use tower::{Layer, ServiceExt};

const APP: u64 = 1400000000;
const TOKEN: &str = "proptest-t0ken";
const NOW: u64 = 1_700_000_000;
const LIMIT: usize = 4096;
/// The inner service's status for requests the layer passed through.
const PASSED: u16 = 299;

const SAMPLES: [(Command, &str); 6] = [
    (
        Command::MemberLeave,
        r#"{"CallbackCommand":"Room.CallbackAfterMemberLeave","Operator_Account":"user1","RoomId":"rid-123","MemberCount":20,"Type":"Leave","MemberList_Account":["user1"],"Reason":"xxxx","EventTime":1670574414123}"#,
    ),
    (
        Command::MemberEnter,
        r#"{"CallbackCommand":"Room.CallbackAfterMemberEnter","Operator_Account":"user1","RoomId":"rid-123","MemberCount":20,"Type":"Enter","MemberList_Account":["user1"],"EventTime":1670574414123}"#,
    ),
    (
        Command::CreateRoom,
        r#"{"CallbackCommand":"Room.CallbackAfterCreateRoom","Operator_Account":"admin","RoomInfo":{"RoomId":"tandy-test-rest","RoomName":"tandy-test-rest","RoomType":"Meeting","Owner_Account":"user3","MaxMemberCount":300,"MaxSeatCount":16,"IsVideoDisabled":true,"IsAudioDisabled":true,"IsMessageDisabled":true,"IsScreenSharingDisabled":true,"IsCloudRecordingDisabled":true,"CustomInfo":"custom123","ScheduleStartTime":1703589922,"ScheduleEndTime":1703593522,"RoomStatus":"Running","IsSeatEnabled":true,"TakeSeatMode":"ApplyToTake","CreateTime":1703589922},"ScheduleInviteeList_Account":["user2","user3","user3"],"EventTime":1703589922780}"#,
    ),
    (
        Command::DestroyRoom,
        r#"{"CallbackCommand":"Room.CallbackAfterDestroyRoom","Operator_Account":"admin","RoomId":"tandy-test-rest","EventTime":1703589922780}"#,
    ),
    (
        Command::UpdateRoomInfo,
        r#"{"CallbackCommand":"Room.CallbackAfterUpdateRoomInfo","Operator_Account":"bob","RoomInfo":{"RoomId":"rid-123","RoomName":"rname-123","Owner_Account":"jack","TakeSeatMode":"FreeToTake","MaxMemberCount":300,"IsVideoDisabled":false,"IsAudioDisabled":false,"IsMessageDisabled":false,"IsScreenSharingDisabled":false,"IsCloudRecordingDisabled":"false","CustomInfo":"123"},"EventTime":1670574414123}"#,
    ),
    (
        Command::SeatInfoChanged,
        r#"{"CallbackCommand":"Mic.CallbackAfterSeatInfoChanged","Operator_Account":"user1","RoomId":"rid-123","SeatList":[{"Index":1,"Member_Account":144115233775727695,"IsTakenDisabled":false,"IsVideoDisabled":false,"IsAudioDisabled":false}],"EventTime":1670574414123}"#,
    ),
];

// ---------------------------------------------------------------------------------------------------
// The service under test: every command intercepted, MemberLeave by its own handler, the others by
// one `on_any` handler; both record what they receive.

type Seen = Arc<Mutex<Vec<RoomEvent>>>;

fn service(
    seen: Seen,
) -> impl tower::Service<
    Request<Full<Bytes>>,
    Response = Response<ResponseBody<Full<Bytes>>>,
    Error = Infallible,
    Future = impl Send,
> + Clone {
    let config = Config::new(APP)
        .token(TOKEN)
        .unwrap()
        .clock(|| UNIX_EPOCH + Duration::from_secs(NOW))
        .body_limit(LIMIT);
    let (s1, s2) = (seen.clone(), seen);
    let layer = CallbackLayer::new(config)
        .verify_unrouted(true)
        .on_any(
            [
                Command::MemberEnter,
                Command::CreateRoom,
                Command::DestroyRoom,
                Command::UpdateRoomInfo,
                Command::SeatInfoChanged,
            ],
            move |e: RoomEvent, _: CallbackMeta| {
                s1.lock().unwrap().push(e);
                std::future::ready(Ok::<(), HandlerError>(()))
            },
        )
        .on(move |e: MemberLeave, _: CallbackMeta| {
            s2.lock().unwrap().push(RoomEvent::from(e));
            std::future::ready(Ok::<(), HandlerError>(()))
        });
    layer.layer(tower::service_fn(|req: Request<Full<Bytes>>| async move {
        // Echoes what it got, so a test sees a passed-through request arrived untouched, with the
        // verified metadata it should carry.
        let (parts, body) = req.into_parts();
        let body = body.collect().await.unwrap().to_bytes();
        let meta = parts
            .extensions
            .get::<CallbackMeta>()
            .map(|m| format!("{} {}", m.command.as_str(), m.sdk_app_id));
        let mut res = Response::new(Full::new(Bytes::from(echo(
            &parts.method,
            &parts.uri,
            meta.as_deref(),
            &body,
        ))));
        *res.status_mut() = StatusCode::from_u16(PASSED).unwrap();
        Ok::<_, Infallible>(res)
    }))
}

/// What the inner service answers to a request it receives: its method, URI, the command and app of
/// the `CallbackMeta` in its extensions, and its body.
fn echo(method: &Method, uri: &Uri, meta: Option<&str>, body: &[u8]) -> Vec<u8> {
    let mut out = format!("{method} {uri} meta={meta:?}\n").into_bytes();
    out.extend_from_slice(body);
    out
}

/// The metadata the inner service must find in a request the layer let through, worked out with
/// `form_urlencoded`: none without a (non-empty) `CallbackCommand`; with one, a command no route takes,
/// verified, so for the configured app.
fn passed_meta(uri: &Uri) -> Option<String> {
    form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
        .filter(|(k, v)| k.eq_ignore_ascii_case("CallbackCommand") && !v.is_empty())
        .last()
        .map(|(_, v)| format!("{} {APP}", CallbackCommand::new(v).as_str()))
}

/// Sends one request through a fresh service on a current-thread runtime: the status, the body and
/// the events the handlers received, and the inner service's answer if the request reached it untouched
/// (with the metadata it must carry then).
fn run(method: Method, uri: Uri, body: Vec<u8>) -> (u16, Bytes, Vec<RoomEvent>, Vec<u8>) {
    let untouched = echo(&method, &uri, passed_meta(&uri).as_deref(), &body);
    thread_local! {
        static RT: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
    }
    let seen = Seen::default();
    let svc = service(seen.clone());
    let mut req = Request::new(Full::new(Bytes::from(body)));
    *req.method_mut() = method;
    *req.uri_mut() = uri;
    let (status, bytes) = RT.with(|rt| {
        rt.block_on(async {
            let res = svc.oneshot(req).await.unwrap();
            let status = res.status().as_u16();
            (status, res.into_body().collect().await.unwrap().to_bytes())
        })
    });
    let seen = std::mem::take(&mut *seen.lock().unwrap());
    (status, bytes, seen, untouched)
}

/// The property every answer must have. `untouched`: the inner service's answer to the request as
/// sent (see [`echo`]).
fn check_answer(
    status: u16,
    body: &[u8],
    seen: &[RoomEvent],
    untouched: &[u8],
) -> Result<(), TestCaseError> {
    if status == PASSED {
        prop_assert_eq!(
            body,
            untouched,
            "passed through, but not untouched: {:?}",
            String::from_utf8_lossy(body)
        );
        prop_assert!(seen.is_empty());
        return Ok(());
    }
    let ack: Ack = serde_json::from_slice(body).map_err(|e| {
        TestCaseError::fail(format!(
            "not an acknowledgment ({e}): {:?}",
            String::from_utf8_lossy(body)
        ))
    })?;
    if status == 200 {
        prop_assert!(ack.is_ok(), "{:?}", ack);
        prop_assert_eq!(seen.len(), 1, "OK without exactly one handler call");
    } else {
        prop_assert!((400..600).contains(&status), "status {}", status);
        prop_assert!(!ack.is_ok());
        prop_assert_ne!(ack.error_code(), 0);
        prop_assert_eq!(ack.error_code() / 100, i64::from(status), "{:?}", ack);
        prop_assert!(!ack.error_info().is_empty());
        prop_assert!(!ack.error_info().contains(TOKEN));
        prop_assert!(
            seen.is_empty(),
            "a handler was called for a rejected request"
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------------
// Queries

const NAMES: [&str; 9] = [
    "SdkAppid",
    "CallbackCommand",
    "Sign",
    "RequestTime",
    "ClientIP",
    "OptPlatform",
    "contenttype",
    "SdkAppId",
    "Other",
];

/// A parameter name in random case, sometimes percent-encoded.
fn name() -> impl Strategy<Value = String> {
    (
        prop::sample::select(&NAMES[..]),
        any::<u64>(),
        prop::bool::weighted(0.1),
    )
        .prop_map(|(n, case_bits, encode)| {
            let n: String = n
                .chars()
                .enumerate()
                .map(|(i, c)| {
                    if case_bits >> (i % 64) & 1 == 1 {
                        c.to_ascii_uppercase()
                    } else {
                        c.to_ascii_lowercase()
                    }
                })
                .collect();
            if encode {
                n.bytes().map(|b| format!("%{b:02X}")).collect()
            } else {
                n
            }
        })
}

fn value() -> impl Strategy<Value = String> {
    let commands: Vec<String> = Command::ALL
        .iter()
        .flat_map(|c| c.names().iter().map(|n| n.to_string()))
        .chain(["Room.CallbackAfterOther".to_string(), String::new()])
        .collect();
    prop_oneof![
        3 => Just(APP.to_string()),
        1 => Just("1400000001".to_string()),
        3 => prop::sample::select(commands),
        2 => Just(signature(TOKEN, &NOW.to_string())),
        2 => Just(NOW.to_string()),
        1 => (NOW - 70..NOW + 70).prop_map(|t| t.to_string()),
        1 => any::<u64>().prop_map(|t| t.to_string()),
        1 => "[0-9a-fA-F]{60,68}",
        1 => "[-+.0-9eE ]{0,24}",
        1 => any::<String>(),
    ]
}

/// One `name=value` pair, the value percent-encoded or raw.
fn param() -> impl Strategy<Value = String> {
    (name(), value(), any::<bool>()).prop_map(|(n, v, encode)| {
        if encode {
            format!("{n}={}", utf8_percent_encode(&v, NON_ALPHANUMERIC))
        } else {
            format!("{n}={v}")
        }
    })
}

/// A URI `/cb?<query>`: raw when `http` takes it as is, otherwise with the offending bytes encoded.
fn uri_of(query: &str) -> Uri {
    Uri::try_from(format!("/cb?{query}")).unwrap_or_else(|_| {
        let mut q = String::new();
        for b in query.bytes() {
            if b.is_ascii_alphanumeric() || b"&=%.-_+~".contains(&b) {
                q.push(char::from(b));
            } else {
                q.push_str(&format!("%{b:02X}"));
            }
        }
        Uri::try_from(format!("/cb?{q}")).unwrap()
    })
}

/// Mostly-plausible queries for the command of sample `i` (sometimes for a command no route takes):
/// the usual parameters, with others added, duplicated or replacing them at random.
fn query(i: usize) -> impl Strategy<Value = String> {
    let usual = prop::collection::vec(param(), 0..8);
    let command = prop_oneof![
        9 => Just(SAMPLES[i].0.name()),
        1 => Just("Group.CallbackAfterSendMsg"),
    ];
    (prop::bool::weighted(0.8), usual, 0usize..5, command).prop_map(move |(signed, extra, how, command)| {
        let mut base = format!(
            "SdkAppid={APP}&CallbackCommand={command}&contenttype=json&ClientIP=1.2.3.4&OptPlatform=iOS"
        );
        if signed {
            base.push_str(&format!(
                "&RequestTime={NOW}&Sign={}",
                signature(TOKEN, &NOW.to_string())
            ));
        }
        match how {
            0 | 1 => base,
            2 => extra.join("&"),
            3 => format!("{base}&{}", extra.join("&")),
            _ => format!("{}&{base}", extra.join("&")),
        }
    })
}

/// A request: method, query and body, the query and the body usually about the same command.
fn request() -> impl Strategy<Value = (Method, String, Vec<u8>)> {
    (0usize..SAMPLES.len()).prop_flat_map(|i| {
        let body = prop_oneof![
            3 => Just(SAMPLES[i].1.as_bytes().to_vec()),
            5 => body(),
        ];
        (method(), query(i), body)
    })
}

// ---------------------------------------------------------------------------------------------------
// Differential: the layer's own query scanner against `form_urlencoded` and the documented rules.

/// What `decode` must answer for `query` (no token configured), worked out independently with
/// `form_urlencoded`: parameter names case-insensitive once decoded, a parameter given twice with
/// different decoded values conflicts, empty means absent, `RequestTime` informational.
type Expected = Result<
    (
        u64,
        Option<tencent_room_callback::meta::ClientIp>,
        Option<tencent_room_callback::meta::OptPlatform>,
        Option<UnixSeconds>,
    ),
    tencent_room_callback::RejectionKind,
>;

fn oracle(query: &str) -> Expected {
    use tencent_room_callback::meta::{ClientIp, OptPlatform};
    use tencent_room_callback::RejectionKind as K;
    #[derive(Clone)]
    enum Slot {
        Absent,
        One(String),
        Conflict,
    }
    const ORDER: [&str; 5] = ["sdkappid", "sign", "requesttime", "clientip", "optplatform"];
    let mut slots = vec![Slot::Absent; ORDER.len()];
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        let Some(i) = ORDER.iter().position(|n| k.eq_ignore_ascii_case(n)) else {
            continue;
        };
        slots[i] = match std::mem::replace(&mut slots[i], Slot::Absent) {
            Slot::Absent => Slot::One(v.into_owned()),
            Slot::One(prev) if prev == v => Slot::One(prev),
            _ => Slot::Conflict,
        };
    }
    let digits = |s: &str| {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u64>().ok())
            .flatten()
    };
    let value = |slot: &Slot| match slot {
        Slot::Conflict => Err(K::ConflictingParameter),
        Slot::One(v) if !v.is_empty() => Ok(Some(v.clone())),
        _ => Ok(None),
    };
    let app = value(&slots[0])?.ok_or(K::MissingSdkAppId)?;
    let app = digits(&app).ok_or(K::MalformedSdkAppId)?;
    if app != APP {
        return Err(K::UnknownSdkAppId);
    }
    value(&slots[1])?;
    let time = value(&slots[2])?;
    let ip = value(&slots[3])?.map(|v| match v.parse() {
        Ok(ip) => ClientIp::Ip(ip),
        Err(_) => ClientIp::Other(v),
    });
    let platform = value(&slots[4])?.map(|v| OptPlatform::parse(&v));
    let time = time.as_deref().and_then(digits).map(UnixSeconds::from_secs);
    Ok((app, ip, platform, time))
}

/// A value for the differential test: plausible, encoded, or anything.
fn tricky_value() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => Just(APP.to_string()),
        1 => Just(format!("{APP}%00")),
        1 => Just(format!("+{APP}")),
        1 => Just(format!("%31{}", &APP.to_string()[1..])),
        1 => Just(String::new()),
        1 => Just("%".to_string()),
        1 => Just("%zz".to_string()),
        1 => Just("%FF%FE".to_string()),
        1 => Just("1.2.3.4".to_string()),
        1 => Just("%3A%3A1".to_string()),
        1 => Just("i+OS".to_string()),
        1 => Just("iOS".to_string()),
        1 => "[0-9]{1,21}",
        1 => "[a-zA-Z0-9%+=.:]{0,12}",
        1 => any::<String>().prop_map(|s| s.replace(['&', '#'], "")),
    ]
}

fn tricky_name() -> impl Strategy<Value = String> {
    const NAMES: [&str; 6] = [
        "SdkAppid",
        "Sign",
        "RequestTime",
        "ClientIP",
        "OptPlatform",
        "Other",
    ];
    (prop::sample::select(&NAMES[..]), any::<u64>(), 0u8..4).prop_map(|(n, bits, enc)| {
        let n: String = n
            .chars()
            .enumerate()
            .map(|(i, c)| {
                if bits >> (i % 64) & 1 == 1 {
                    c.to_ascii_uppercase()
                } else {
                    c.to_ascii_lowercase()
                }
            })
            .collect();
        match enc {
            // Every byte escaped, in upper- or lower-case hex.
            0 => n.bytes().map(|b| format!("%{b:02X}")).collect(),
            1 => n.bytes().map(|b| format!("%{b:02x}")).collect(),
            _ => n,
        }
    })
}

proptest! {
    #![proptest_config(config(1024))]

    /// The layer's query scanner agrees with `form_urlencoded` and the documented rules on every
    /// parameter it reads.
    #[test]
    fn query_verification_agrees_with_a_form_urlencoded_oracle(
        pairs in prop::collection::vec((tricky_name(), tricky_value()), 0..8),
        dup in any::<prop::sample::Index>(),
        app in prop::option::weighted(0.7, any::<prop::sample::Index>()),
    ) {
        let mut pairs = pairs;
        if let Some(at) = app {
            // Usually a valid SdkAppid somewhere, so that the other parameters get read.
            pairs.insert(at.index(pairs.len() + 1), ("SdkAppid".to_string(), APP.to_string()));
        }
        if !pairs.is_empty() {
            // A duplicate of one pair, as sent (same value) or not.
            let p = pairs[dup.index(pairs.len())].clone();
            pairs.push(p);
        }
        let query = std::iter::once("CallbackCommand=Room.CallbackAfterMemberLeave".to_string())
            .chain(pairs.iter().map(|(n, v)| format!("{n}={v}")))
            .collect::<Vec<_>>()
            .join("&");
        let config = Config::new(APP);
        let got = config.decode::<MemberLeave>(&query, SAMPLES[0].1.as_bytes())
            .map(|(_, m)| (m.sdk_app_id, m.client_ip, m.platform, m.request_time))
            .map_err(|r| r.kind());
        prop_assert_eq!(got, oracle(&query), "{}", query);
    }
}

// ---------------------------------------------------------------------------------------------------
// Bodies

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let keys = prop::sample::select(vec![
        "CallbackCommand",
        "RoomId",
        "MemberList_Account",
        "EventTime",
        "MemberCount",
        "Type",
        "Reason",
        "Operator_Account",
        "RoomInfo",
        "SeatList",
        "Index",
        "Member_Account",
        "IsVideoDisabled",
        "x",
    ]);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        "[0-9]{0,22}".prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            prop::collection::vec((keys.clone(), inner), 0..8).prop_map(|kv| Value::Object(
                kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
            )),
        ]
    })
}

/// A valid sample with random byte edits: replace, insert, delete.
fn mutated_sample() -> impl Strategy<Value = Vec<u8>> {
    (
        0usize..SAMPLES.len(),
        prop::collection::vec((any::<usize>(), 0u8..3, any::<u8>()), 1..6),
    )
        .prop_map(|(i, edits)| {
            let mut b = SAMPLES[i].1.as_bytes().to_vec();
            for (pos, op, byte) in edits {
                let p = pos % (b.len() + 1);
                match op {
                    0 if p < b.len() => b[p] = byte,
                    1 => b.insert(p, byte),
                    _ if p < b.len() => {
                        b.remove(p);
                    }
                    _ => {}
                }
            }
            b
        })
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => (0usize..SAMPLES.len()).prop_map(|i| SAMPLES[i].1.as_bytes().to_vec()),
        3 => mutated_sample(),
        2 => json_value().prop_map(|v| serde_json::to_vec(&v).unwrap()),
        1 => prop::collection::vec(any::<u8>(), 0..64),
        1 => Just(Vec::new()),
        1 => Just(vec![b' '; LIMIT + 1]),
    ]
}

fn method() -> impl Strategy<Value = Method> {
    prop_oneof![
        8 => Just(Method::POST),
        1 => Just(Method::GET),
        1 => Just(Method::PUT),
    ]
}

/// `cases` cases; a failure is saved next to this file (`tests/properties.regressions`) and replayed
/// first on the next run.
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::WithSource("regressions"),
        )),
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config(1024))]

    /// Any request: never a panic, always a well-formed answer, a handler called iff OK.
    #[test]
    fn every_answer_is_well_formed((method, query, body) in request()) {
        let (status, bytes, seen, untouched) = run(method, uri_of(&query), body);
        check_answer(status, &bytes, &seen, &untouched)?;
    }
}

/// The generator is not degenerate: over a fixed sample of requests it reaches OK, pass-through and
/// every rejection status the query and body can cause.
#[test]
fn the_request_generator_reaches_every_outcome() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strategy = request();
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    let mut with_meta = 0;
    for _ in 0..1024 {
        let (m, q, b) = strategy.new_tree(&mut runner).unwrap().current();
        let (status, bytes, seen, untouched) = run(m, uri_of(&q), b);
        check_answer(status, &bytes, &seen, &untouched).unwrap();
        *statuses.entry(status).or_default() += 1;
        if status == PASSED && !bytes.windows(10).any(|w| w == b"meta=None\n") {
            with_meta += 1;
        }
    }
    println!("{with_meta} passed on with their metadata");
    assert!(
        with_meta > 0,
        "no unrouted command was verified and passed on"
    );
    println!("statuses over 1024 generated requests: {statuses:?}");
    for want in [200, PASSED, 400, 401, 405, 413] {
        assert!(
            statuses.contains_key(&want),
            "{want} never reached: {statuses:?}"
        );
    }
    // A token is configured: another app's callback is answered as a bad signature would be (401), never
    // 403, which would tell which apps the receiver serves.
    assert!(!statuses.contains_key(&403), "403 answered: {statuses:?}");
}

// ---------------------------------------------------------------------------------------------------
// Events

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9_-]{0,16}",
        prop::collection::vec(any::<char>(), 0..12).prop_map(String::from_iter),
    ]
}

/// An account ID: text, or the digits of a (possibly huge) number.
fn account() -> impl Strategy<Value = tencent_room_callback::event::AccountId> {
    prop_oneof![text(), any::<u64>().prop_map(|n| n.to_string())].prop_map(Into::into)
}

/// An unknown enum value: prefixed so that it never matches a known one.
fn unknown() -> impl Strategy<Value = String> {
    "[A-Za-z]{0,10}".prop_map(|s| format!("X-{s}"))
}

fn event_time() -> impl Strategy<Value = EventTime> {
    any::<u64>().prop_map(EventTime::from_millis)
}

fn opt_secs() -> impl Strategy<Value = Option<UnixSeconds>> {
    prop::option::of(any::<u64>().prop_map(UnixSeconds::from_secs))
}

fn member_leave() -> impl Strategy<Value = MemberLeave> {
    (
        text(),
        prop::collection::vec(account(), 0..4),
        event_time(),
        prop::option::of(account()),
        prop::option::of(any::<u32>()),
        prop::option::of(prop_oneof![
            Just(LeaveType::Leave),
            Just(LeaveType::Kicked),
            Just(LeaveType::Expired),
            unknown().prop_map(LeaveType::Other),
        ]),
        prop::option::of(text()),
    )
        .prop_map(|(room, members, time, operator, count, kind, reason)| {
            let mut e = MemberLeave::new(room, members, time);
            e.operator = operator;
            e.member_count = count;
            e.kind = kind;
            e.reason = reason;
            e
        })
}

fn member_enter() -> impl Strategy<Value = MemberEnter> {
    (
        text(),
        prop::collection::vec(account(), 0..4),
        event_time(),
        prop::option::of(account()),
        prop::option::of(any::<u32>()),
        prop::option::of(prop_oneof![
            Just(EnterType::Enter),
            unknown().prop_map(EnterType::Other)
        ]),
    )
        .prop_map(|(room, members, time, operator, count, kind)| {
            let mut e = MemberEnter::new(room, members, time);
            e.operator = operator;
            e.member_count = count;
            e.kind = kind;
            e
        })
}

fn room_info() -> impl Strategy<Value = RoomInfo> {
    let names = (
        prop::option::of(text()),
        prop::option::of(text()),
        prop::option::of(prop_oneof![
            Just(RoomType::Meeting),
            Just(RoomType::Live),
            unknown().prop_map(RoomType::Other),
        ]),
        prop::option::of(account()),
        prop::option::of(text()),
    );
    let numbers = (
        prop::option::of(any::<u32>()),
        prop::option::of(any::<u32>()),
        opt_secs(),
        opt_secs(),
        opt_secs(),
    );
    let flags = prop::collection::vec(prop::option::of(any::<bool>()), 6);
    let states = (
        prop::option::of(prop_oneof![
            Just(RoomStatus::None),
            Just(RoomStatus::NotStarted),
            Just(RoomStatus::Running),
            unknown().prop_map(RoomStatus::Other),
        ]),
        prop::option::of(prop_oneof![
            Just(TakeSeatMode::None),
            Just(TakeSeatMode::FreeToTake),
            Just(TakeSeatMode::ApplyToTake),
            unknown().prop_map(TakeSeatMode::Other),
        ]),
    );
    (names, numbers, flags, states).prop_map(
        |(
            (room_id, room_name, room_type, owner, custom),
            (max_members, max_seats, start, end, created),
            f,
            (status, mode),
        )| {
            let mut i = RoomInfo::default();
            i.room_id = room_id;
            i.room_name = room_name;
            i.room_type = room_type;
            i.owner = owner;
            i.custom_info = custom;
            i.max_member_count = max_members;
            i.max_seat_count = max_seats;
            i.schedule_start_time = start;
            i.schedule_end_time = end;
            i.create_time = created;
            i.video_disabled = f[0];
            i.audio_disabled = f[1];
            i.message_disabled = f[2];
            i.screen_sharing_disabled = f[3];
            i.cloud_recording_disabled = f[4];
            i.seat_enabled = f[5];
            i.room_status = status;
            i.take_seat_mode = mode;
            i
        },
    )
}

fn create_room() -> impl Strategy<Value = CreateRoom> {
    (
        room_info(),
        event_time(),
        prop::option::of(account()),
        prop::collection::vec(account(), 0..4),
    )
        .prop_map(|(info, time, operator, invitees)| {
            let mut e = CreateRoom::new(info, time);
            e.operator = operator;
            e.schedule_invitees = invitees;
            e
        })
}

fn update_room() -> impl Strategy<Value = UpdateRoomInfo> {
    (room_info(), event_time(), prop::option::of(account())).prop_map(|(info, time, operator)| {
        let mut e = UpdateRoomInfo::new(info, time);
        e.operator = operator;
        e
    })
}

fn destroy_room() -> impl Strategy<Value = DestroyRoom> {
    (text(), event_time(), prop::option::of(account())).prop_map(|(room, time, operator)| {
        let mut e = DestroyRoom::new(room, time);
        e.operator = operator;
        e
    })
}

fn seat() -> impl Strategy<Value = Seat> {
    (
        any::<u32>(),
        // An empty account means an empty seat on the wire: a present member is never empty.
        prop::option::of(
            account().prop_filter("a seated member has an ID", |a| !a.as_str().is_empty()),
        ),
        prop::collection::vec(prop::option::of(any::<bool>()), 3),
    )
        .prop_map(|(index, member, f)| {
            let mut s = Seat::new(index);
            s.member = member;
            s.taken_disabled = f[0];
            s.video_disabled = f[1];
            s.audio_disabled = f[2];
            s
        })
}

fn seat_info_changed() -> impl Strategy<Value = SeatInfoChanged> {
    (
        text(),
        prop::collection::vec(seat(), 0..4),
        event_time(),
        prop::option::of(account()),
    )
        .prop_map(|(room, seats, time, operator)| {
            let mut e = SeatInfoChanged::new(room, seats, time);
            e.operator = operator;
            e
        })
}

fn room_event() -> impl Strategy<Value = RoomEvent> {
    prop_oneof![
        member_leave().prop_map(RoomEvent::from),
        member_enter().prop_map(RoomEvent::from),
        create_room().prop_map(RoomEvent::from),
        destroy_room().prop_map(RoomEvent::from),
        update_room().prop_map(RoomEvent::from),
        seat_info_changed().prop_map(RoomEvent::from),
    ]
}

fn round_trip<E: Event + PartialEq>(e: &E) -> Result<(), TestCaseError> {
    let json = serde_json::to_vec(e).unwrap();
    let command = CallbackCommand::new(E::COMMANDS[0]);
    let meta = CallbackMeta::new(1400000000, command.clone());
    let back = E::decode(&meta, &json, Config::DEFAULT_MAX_MEMBERS);
    prop_assert!(
        back.is_ok(),
        "{:?} from {}",
        back,
        String::from_utf8_lossy(&json)
    );
    let back = back.unwrap();
    prop_assert_eq!(&back, e);
    // Serializing the decoded event gives the same bytes again.
    prop_assert_eq!(serde_json::to_vec(&back).unwrap(), json.clone());
    let typed = command.typed().unwrap();
    let any = RoomEvent::from_json(typed, &json).unwrap();
    prop_assert_eq!(any.command(), typed);
    Ok(())
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn member_leave_round_trips(e in member_leave()) { round_trip(&e)?; }

    #[test]
    fn member_enter_round_trips(e in member_enter()) { round_trip(&e)?; }

    #[test]
    fn create_room_round_trips(e in create_room()) { round_trip(&e)?; }

    #[test]
    fn destroy_room_round_trips(e in destroy_room()) { round_trip(&e)?; }

    #[test]
    fn update_room_info_round_trips(e in update_room()) { round_trip(&e)?; }

    #[test]
    fn seat_info_changed_round_trips(e in seat_info_changed()) { round_trip(&e)?; }

    /// A random valid event sent as a valid signed callback: OK, and the handler gets exactly it.
    #[test]
    fn valid_callbacks_are_delivered_intact(e in room_event(), time in NOW - 60..=NOW + 60) {
        let body = serde_json::to_vec(&e).unwrap();
        prop_assume!(body.len() <= LIMIT);
        let query = format!(
            "SdkAppid={APP}&CallbackCommand={}&RequestTime={time}&Sign={}",
            utf8_percent_encode(e.command().name(), NON_ALPHANUMERIC),
            signature(TOKEN, &time.to_string())
        );
        let (status, bytes, seen, untouched) = run(Method::POST, uri_of(&query), body);
        check_answer(status, &bytes, &seen, &untouched)?;
        prop_assert_eq!(status, 200);
        prop_assert_eq!(seen, vec![e]);
    }
}
