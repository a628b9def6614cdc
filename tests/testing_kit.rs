//! The test kit (`testing`): requests exactly as Tencent sends them, signatures, fixtures.

use std::collections::HashMap;
use std::time::UNIX_EPOCH;

use axum::body::Body;
use bytes::Bytes;
use http::{header, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use tencent_room_callback::event::EventTime;
use tencent_room_callback::meta::{ClientIp, OptPlatform};
use tencent_room_callback::service::RequestBody;
use tencent_room_callback::testing::{
    fixed_clock, fixtures, CallbackRequest, DEFAULT_SDK_APP_ID, FIXED_REQUEST_TIME,
};
use tencent_room_callback::{
    Ack, CallbackLayer, CallbackMeta, Command, CommandSet, Config, HandlerError, MemberLeave,
    RejectionKind, RoomEvent,
};
use tower::{service_fn, ServiceBuilder, ServiceExt};

/// The protocol's test vector.
const VECTOR: &str = "17773bc39a671d7b9aa835458704d2a6db81360a5940292b587d6d760d484061";

/// The query parameters of a request, decoded; panics on a repeated name.
fn params(req: &Request<Bytes>) -> HashMap<String, String> {
    let mut map = HashMap::new();
    for (k, v) in form_urlencoded::parse(req.uri().query().unwrap_or_default().as_bytes()) {
        assert!(
            map.insert(k.to_string(), v.to_string()).is_none(),
            "{k} twice"
        );
    }
    map
}

#[test]
fn signature_matches_the_protocol_test_vector() {
    let req = CallbackRequest::new(fixtures::member_leave())
        .token("xxxxyyyy")
        .request_time(1669872112)
        .build::<Bytes>();
    let p = params(&req);
    assert_eq!(p["Sign"], VECTOR);
    assert_eq!(p["RequestTime"], "1669872112");
    assert_eq!(FIXED_REQUEST_TIME, 1669872112);
    assert_eq!(
        tencent_room_callback::testing::signature("xxxxyyyy", &FIXED_REQUEST_TIME.to_string()),
        VECTOR
    );
    // Another token or another time, another signature.
    for req in [
        CallbackRequest::sample(Command::MemberLeave)
            .token("xxxxyyyz")
            .request_time(1669872112),
        CallbackRequest::sample(Command::MemberLeave)
            .token("xxxxyyyy")
            .request_time(1669872113),
    ] {
        assert_ne!(params(&req.build())["Sign"], VECTOR);
    }
}

#[test]
fn query_carries_every_parameter_tencent_sends() {
    for &command in Command::ALL {
        let req = CallbackRequest::sample(command).build::<Bytes>();
        let p = params(&req);
        assert_eq!(p["SdkAppid"], "1400000000");
        assert_eq!(p["CallbackCommand"], command.name());
        assert_eq!(p["contenttype"], "json");
        assert_eq!(p["ClientIP"], "127.0.0.1");
        assert_eq!(p["OptPlatform"], "Web");
        assert_eq!(p.len(), 5, "no Sign or RequestTime without a token: {p:?}");
        assert_eq!(req.method(), "POST");
        assert_eq!(req.uri().path(), "/callback");
        assert_eq!(req.headers()[header::CONTENT_TYPE], "application/json");
        assert_eq!(
            req.headers()[header::CONTENT_LENGTH],
            req.body().len().to_string()
        );
    }
    assert_eq!(DEFAULT_SDK_APP_ID, 1400000000);

    let req = CallbackRequest::sample(Command::SeatInfoChanged)
        .sdk_app_id(1400000123)
        .client_ip("::1")
        .platform("iPad")
        .build::<Bytes>();
    let p = params(&req);
    assert_eq!(
        (
            p["SdkAppid"].as_str(),
            p["ClientIP"].as_str(),
            p["OptPlatform"].as_str()
        ),
        ("1400000123", "::1", "iPad")
    );
    // Encoded for the query: the colons of an IPv6 address are escaped.
    assert!(req.uri().query().unwrap().contains("ClientIP=%3A%3A1"));

    let p = params(
        &CallbackRequest::sample(Command::MemberLeave)
            .without_client_info()
            .build(),
    );
    assert!(!p.contains_key("ClientIP") && !p.contains_key("OptPlatform"));
    assert_eq!(p.len(), 3);
}

#[test]
fn urls_absolute_or_with_a_query() {
    let q = |url: &str| {
        CallbackRequest::sample(Command::DestroyRoom)
            .url(url)
            .build::<Bytes>()
            .uri()
            .to_string()
    };
    let tail = "SdkAppid=1400000000&CallbackCommand=Room.CallbackAfterDestroyRoom&contenttype=json&ClientIP=127.0.0.1&OptPlatform=Web";
    assert_eq!(q("/callback"), format!("/callback?{tail}"));
    assert_eq!(
        q("http://127.0.0.1:3000/cb"),
        format!("http://127.0.0.1:3000/cb?{tail}")
    );
    assert_eq!(
        q("https://example.com/cb?tenant=a"),
        format!("https://example.com/cb?tenant=a&{tail}")
    );
    assert_eq!(q("/cb?"), format!("/cb?{tail}"));
    assert!(CallbackRequest::sample(Command::DestroyRoom)
        .url("not a url")
        .try_build::<Bytes>()
        .is_err());
}

#[test]
fn bodies_typed_or_raw() {
    for &command in Command::ALL {
        let event = fixtures::event(command);
        let req = CallbackRequest::new(event.clone());
        assert_eq!(req.command(), command);
        assert_eq!(req.body()[..], serde_json::to_vec(&event).unwrap()[..]);
        // Tencent's field names, the command included.
        let v: serde_json::Value = serde_json::from_slice(req.body()).unwrap();
        assert_eq!(v["CallbackCommand"], command.name());
        assert!(v.get("EventTime").is_some());
        assert_eq!(RoomEvent::from_json(command, req.body()).unwrap(), event);
    }
    // The typed event and its enum make the same request.
    assert_eq!(
        CallbackRequest::new(fixtures::member_enter()).body(),
        CallbackRequest::new(RoomEvent::from(fixtures::member_enter())).body()
    );
    // Raw bodies go out byte for byte, valid or not.
    for raw in [
        &b"{\"RoomId\":1}"[..],
        b"not json",
        b"",
        fixtures::SEAT_INFO_CHANGED_JSON.as_bytes(),
    ] {
        let req = CallbackRequest::raw(Command::SeatInfoChanged, Bytes::copy_from_slice(raw))
            .build::<Bytes>();
        assert_eq!(&req.body()[..], raw);
    }
}

#[tokio::test]
async fn builds_any_body_type() {
    let kit = CallbackRequest::sample(Command::MemberLeave);
    let want = kit.body().clone();
    let axum: Request<Body> = kit.build();
    assert_eq!(axum.into_body().collect().await.unwrap().to_bytes(), want);
    let full: Request<Full<Bytes>> = kit.build();
    assert_eq!(full.into_body().collect().await.unwrap().to_bytes(), want);
    let bytes: Request<Bytes> = kit.build();
    assert_eq!(*bytes.body(), want);
}

#[test]
fn fixtures_are_valid_json_of_the_documented_samples() {
    for &command in Command::ALL {
        let json = fixtures::json(command);
        let v: serde_json::Value = serde_json::from_str(json)
            .unwrap_or_else(|e| panic!("{command} fixture is not JSON: {e}"));
        assert!(!json.contains("//"), "{command}: no comments");
        assert_eq!(v["CallbackCommand"], command.name());
        assert!(v["Operator_Account"].as_str().is_some(), "{command}");
        let event = fixtures::event(command);
        assert_eq!(event.command(), command);
        // The typed event keeps every field of the sample: serialized again, it is the sample's JSON
        // value, but for the two documented quirks (normalised here in the sample).
        let mut want = v.clone();
        normalise_quirks(&mut want);
        assert_eq!(
            serde_json::to_value(&event).unwrap(),
            want,
            "{command}: a field of the sample was dropped or changed"
        );
    }
    // all(): the six samples, in a fixed order (written out here, not derived from Command::ALL).
    let all = fixtures::all();
    assert_eq!(all.len(), 6);
    assert_eq!(
        all.iter().map(RoomEvent::command).collect::<Vec<_>>(),
        [
            Command::CreateRoom,
            Command::DestroyRoom,
            Command::UpdateRoomInfo,
            Command::MemberEnter,
            Command::MemberLeave,
            Command::SeatInfoChanged,
        ],
        "all() order"
    );
    // Each typed constructor is its sample.
    assert_eq!(
        RoomEvent::from(fixtures::member_leave()),
        fixtures::event(Command::MemberLeave)
    );
    assert_eq!(
        RoomEvent::from(fixtures::member_enter()),
        fixtures::event(Command::MemberEnter)
    );
    assert_eq!(
        RoomEvent::from(fixtures::create_room()),
        fixtures::event(Command::CreateRoom)
    );
    assert_eq!(
        RoomEvent::from(fixtures::destroy_room()),
        fixtures::event(Command::DestroyRoom)
    );
    assert_eq!(
        RoomEvent::from(fixtures::update_room_info()),
        fixtures::event(Command::UpdateRoomInfo)
    );
    assert_eq!(
        RoomEvent::from(fixtures::seat_info_changed()),
        fixtures::event(Command::SeatInfoChanged)
    );
    // The samples' quirks are kept, as Tencent sends them.
    let update: serde_json::Value = serde_json::from_str(fixtures::UPDATE_ROOM_INFO_JSON).unwrap();
    assert_eq!(update["RoomInfo"]["IsCloudRecordingDisabled"], "false");
    assert!(fixtures::SEAT_INFO_CHANGED_JSON.contains("\"Member_Account\": 144115233775727695"));
    assert_eq!(
        fixtures::seat_info_changed().seats[0]
            .member
            .as_ref()
            .unwrap(),
        "144115233775727695"
    );
    assert_eq!(
        fixtures::member_leave().event_time.as_millis(),
        1670574414123
    );
    assert_eq!(
        fixtures::create_room().event_time.as_millis(),
        1703589922780
    );
}

#[test]
fn requests_decode_sans_io() {
    let config = Config::new(1400000000)
        .token("xxxxyyyy")
        .unwrap()
        .clock(fixed_clock);
    for &command in Command::ALL {
        let req = CallbackRequest::sample(command)
            .token("xxxxyyyy")
            .request_time(FIXED_REQUEST_TIME)
            .client_ip("10.1.2.3")
            .platform("Android");
        let (event, meta) = config.decode_any(&req.query(), req.body()).unwrap();
        assert_eq!(event, fixtures::event(command));
        assert_eq!(meta.command, command);
        assert_eq!(meta.client_ip, Some(ClientIp::Ip([10, 1, 2, 3].into())));
        assert_eq!(meta.platform, Some(OptPlatform::Android));
        assert_eq!(meta.request_time.unwrap().as_secs(), FIXED_REQUEST_TIME);
    }
    assert_eq!(
        fixed_clock().duration_since(UNIX_EPOCH).unwrap().as_secs(),
        FIXED_REQUEST_TIME
    );
    // The older update name, through the query override.
    let req = CallbackRequest::sample(Command::UpdateRoomInfo)
        .callback_command("Room.CallbackUpdateRoomInfo")
        .token("xxxxyyyy")
        .request_time(FIXED_REQUEST_TIME);
    assert!(req
        .query()
        .contains("CallbackCommand=Room.CallbackUpdateRoomInfo&"));
    let (event, _) = config.decode_any(&req.query(), req.body()).unwrap();
    assert_eq!(event.command(), Command::UpdateRoomInfo);
}

#[test]
fn signing_defaults_to_now() {
    // Signed at the time of building: a receiver with the real clock and the default window accepts it.
    let config = Config::new(1400000000).token("tok").unwrap();
    let req = CallbackRequest::new(fixtures::member_leave()).token("tok");
    let (_, meta) = config
        .decode::<MemberLeave>(&req.query(), req.body())
        .unwrap();
    assert!(meta.request_time.is_some());
    // The same request at the fixed time is refused by that receiver: the default is not a fixed time.
    let fixed = req.request_time(FIXED_REQUEST_TIME);
    let err = config
        .decode::<MemberLeave>(&fixed.query(), fixed.body())
        .unwrap_err();
    assert_eq!(err.kind(), RejectionKind::StaleRequestTime);
}

#[test]
fn wrong_requests_are_refused_with_the_right_kind() {
    let config = Config::new(1400000000)
        .token("xxxxyyyy")
        .unwrap()
        .clock(fixed_clock);
    let kind = |req: CallbackRequest| {
        config
            .decode_any(&req.query(), req.body())
            .map(|_| ())
            .map_err(|r| r.kind())
    };
    let base = || {
        CallbackRequest::sample(Command::MemberLeave)
            .token("xxxxyyyy")
            .request_time(FIXED_REQUEST_TIME)
    };
    assert_eq!(kind(base()), Ok(()));
    assert_eq!(
        kind(CallbackRequest::sample(Command::MemberLeave)),
        Err(RejectionKind::MissingSignature)
    );
    assert_eq!(
        kind(base().token("other")),
        Err(RejectionKind::BadSignature)
    );
    assert_eq!(
        kind(base().sign(VECTOR.to_uppercase())),
        Err(RejectionKind::BadSignature)
    );
    assert_eq!(kind(base().sign(VECTOR)), Ok(()));
    assert_eq!(
        kind(base().request_time(FIXED_REQUEST_TIME + 61)),
        Err(RejectionKind::StaleRequestTime)
    );
    // Another app: with a token configured, refused as this app's request would be when unsigned or
    // wrongly signed (the answer does not say the app is unknown), even signed with the token.
    assert_eq!(
        kind(base().sdk_app_id(1400000001)),
        Err(RejectionKind::BadSignature)
    );
    assert_eq!(
        kind(CallbackRequest::sample(Command::MemberLeave).sdk_app_id(1400000001)),
        Err(RejectionKind::MissingSignature)
    );
    assert_eq!(
        kind(
            base()
                .sdk_app_id(1400000001)
                .request_time(FIXED_REQUEST_TIME + 61)
        ),
        Err(RejectionKind::StaleRequestTime)
    );
    // Without any token there is nothing to hide: unknown, plainly.
    let open = Config::new(1400000000);
    let req = CallbackRequest::sample(Command::MemberLeave).sdk_app_id(1400000001);
    assert_eq!(
        open.decode_any(&req.query(), req.body())
            .map(|_| ())
            .map_err(|r| r.kind()),
        Err(RejectionKind::UnknownSdkAppId)
    );
    assert_eq!(
        kind(
            CallbackRequest::raw(Command::MemberLeave, "[]")
                .token("xxxxyyyy")
                .request_time(FIXED_REQUEST_TIME)
        ),
        Err(RejectionKind::MalformedBody)
    );
    // A forged Sign without a token still carries a RequestTime.
    let q = CallbackRequest::sample(Command::MemberLeave)
        .sign("forged")
        .request_time(5)
        .query();
    assert!(q.ends_with("&Sign=forged&RequestTime=5"), "{q}");
}

#[test]
fn debug_never_shows_the_token() {
    let req = CallbackRequest::sample(Command::MemberLeave).token("super-secret-token");
    let dbg = format!("{req:?}");
    assert!(!dbg.contains("super-secret-token"), "{dbg}");
    assert!(dbg.contains("<redacted>"), "{dbg}");
}

#[tokio::test]
async fn users_test_their_handler_through_axum() {
    use std::sync::{Arc, Mutex};
    let seen: Arc<Mutex<Vec<(MemberLeave, CallbackMeta)>>> = Arc::default();
    let handler = {
        let seen = seen.clone();
        move |e: MemberLeave, m: CallbackMeta| {
            let seen = seen.clone();
            async move {
                seen.lock().unwrap().push((e, m));
                Ok::<(), HandlerError>(())
            }
        }
    };
    let app = axum::Router::new()
        .route("/callback", axum::routing::post(|| async { "app" }))
        .layer(CallbackLayer::new(Config::new(1400000000).token("t").unwrap()).on(handler));

    // A custom event, signed now.
    let mut event = MemberLeave::new("room-7", ["alice", "bob"], EventTime::from_millis(1));
    event.reason = Some("bye".into());
    let res = app
        .clone()
        .oneshot(
            CallbackRequest::new(event.clone())
                .token("t")
                .build::<Body>(),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.into_body().collect().await.unwrap().to_bytes(),
        Ack::OK_BODY
    );
    let (got, meta) = seen.lock().unwrap().pop().unwrap();
    assert_eq!(got, event);
    assert_eq!(meta.sdk_app_id, 1400000000);

    // The same without the token: refused, the handler never called.
    let res = app
        .oneshot(CallbackRequest::new(event).build::<Body>())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let ack: Ack =
        serde_json::from_slice(&res.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert!(!ack.is_ok());
    assert!(seen.lock().unwrap().is_empty());
}

#[tokio::test]
async fn through_a_plain_tower_stack_with_a_fixed_clock() {
    let svc = ServiceBuilder::new()
        .layer(
            CallbackLayer::new(
                Config::new(1400000000)
                    .token("xxxxyyyy")
                    .unwrap()
                    .clock(fixed_clock),
            )
            .extension_any(CommandSet::ALL),
        )
        // Behind an extension route the inner service gets a `RequestBody`: here always the bytes the
        // layer read for a forwarded callback.
        .service(service_fn(
            |req: Request<RequestBody<Full<Bytes>>>| async move {
                assert!(req.body().is_buffered());
                let event = req.extensions().get::<RoomEvent>().cloned().unwrap();
                Ok::<_, std::convert::Infallible>(http::Response::new(Full::new(Bytes::from(
                    event.command().name(),
                ))))
            },
        ));
    for &command in Command::ALL {
        let req = CallbackRequest::sample(command)
            .token("xxxxyyyy")
            .request_time(FIXED_REQUEST_TIME)
            .build();
        let res = svc.clone().oneshot(req).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(
            res.into_body().collect().await.unwrap().to_bytes(),
            command.name()
        );
    }
}

/// The samples' two documented quirks, as the typed events hold them: `IsCloudRecordingDisabled` given
/// as the string `"false"` is the boolean `false`, and a numeric `Member_Account` is its decimal string.
fn normalise_quirks(v: &mut serde_json::Value) {
    use serde_json::Value;
    match v {
        Value::Object(map) => {
            for (k, x) in map.iter_mut() {
                match (k.as_str(), &*x) {
                    ("IsCloudRecordingDisabled", Value::String(b)) if b == "false" => {
                        *x = Value::Bool(false)
                    }
                    ("Member_Account", Value::Number(n)) => *x = Value::String(n.to_string()),
                    _ => normalise_quirks(x),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(normalise_quirks),
        _ => {}
    }
}
