//! The dispatcher: which handler (or the inner service) gets each of the six commands, for several
//! registrations and stacks; every command not registered verified, then passed on with its metadata
//! (and everything that is no callback passed through untouched); every event's documented
//! sample and quirks through the layer; the idempotency key across retries. Requests come from the test
//! kit (`testing::CallbackRequest`).

use std::convert::Infallible;
use std::future::{ready, Ready};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Extensions, Method, Request, Response, StatusCode};
use http_body::Body;
use http_body_util::{BodyExt, Full};
use tencent_room_callback::event::{EnterType, EventKey, LeaveType, RoomStatus};
use tencent_room_callback::meta::{ClientIp, OptPlatform};
use tencent_room_callback::testing::{fixtures, CallbackRequest};
use tencent_room_callback::{
    Ack, CallbackCommand, CallbackLayer, CallbackMeta, Command, CommandSet, Config, CreateRoom,
    DestroyRoom, Event, HandlerError, MemberEnter, MemberLeave, RejectionKind, RoomEvent,
    SeatInfoChanged, UpdateRoomInfo,
};
use tower::{service_fn, Service, ServiceBuilder, ServiceExt};

const APP: u64 = 1400000000;

/// What happened to one request.
#[derive(Debug, Clone, PartialEq)]
enum Hit {
    /// A handler of the layer got the event.
    Handler {
        label: &'static str,
        event: RoomEvent,
        meta: CallbackMeta,
    },
    /// The inner service got the request, with the event in its extensions when the layer forwarded one,
    /// and the verified metadata when a layer verified it.
    Inner {
        method: Method,
        uri: String,
        body: Bytes,
        event: Option<RoomEvent>,
        meta: Option<CallbackMeta>,
    },
}

#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<Hit>>>);

impl Log {
    fn take(&self) -> Vec<Hit> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }

    /// A handler for events `E` (one of the six, or `RoomEvent`) that records what it gets as `label`.
    fn handler<E: Into<RoomEvent>>(
        &self,
        label: &'static str,
    ) -> impl Fn(E, CallbackMeta) -> Ready<Result<(), HandlerError>> + Clone + Send + Sync + 'static
    {
        let log = self.clone();
        move |event: E, meta: CallbackMeta| {
            log.0.lock().unwrap().push(Hit::Handler {
                label,
                event: event.into(),
                meta,
            });
            ready(Ok(()))
        }
    }

    /// The app behind the layers: records what reaches it and answers `inner`. Its request body is
    /// `Full<Bytes>` behind handler routes only, `RequestBody<Full<Bytes>>` once a layer has an
    /// extension route.
    fn inner<B>(
        &self,
    ) -> impl Service<
        Request<B>,
        Response = Response<Full<Bytes>>,
        Error = Infallible,
        Future = impl Send,
    > + Clone
           + Send
    where
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: std::fmt::Debug,
    {
        let log = self.clone();
        service_fn(move |req: Request<B>| {
            let log = log.clone();
            async move {
                let (parts, body) = req.into_parts();
                let body = body.collect().await.unwrap().to_bytes();
                log.0.lock().unwrap().push(Hit::Inner {
                    method: parts.method,
                    uri: parts.uri.to_string(),
                    body,
                    event: forwarded_event(&parts.extensions),
                    meta: parts.extensions.get::<CallbackMeta>().cloned(),
                });
                Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"inner"))))
            }
        })
    }
}

/// The event a layer put in the extensions, whichever way it was registered.
fn forwarded_event(ext: &Extensions) -> Option<RoomEvent> {
    fn typed<E: Event + Into<RoomEvent>>(ext: &Extensions) -> Option<RoomEvent> {
        ext.get::<E>().cloned().map(Into::into)
    }
    ext.get::<RoomEvent>()
        .cloned()
        .or_else(|| typed::<MemberLeave>(ext))
        .or_else(|| typed::<MemberEnter>(ext))
        .or_else(|| typed::<CreateRoom>(ext))
        .or_else(|| typed::<DestroyRoom>(ext))
        .or_else(|| typed::<UpdateRoomInfo>(ext))
        .or_else(|| typed::<SeatInfoChanged>(ext))
}

/// Sends one request through a clone of `svc`: the status and the body.
async fn send<S, B>(svc: &S, req: Request<Full<Bytes>>) -> (StatusCode, Bytes)
where
    S: Service<Request<Full<Bytes>>, Response = Response<B>, Error = Infallible> + Clone,
    B: Body<Data = Bytes>,
    B::Error: std::fmt::Debug,
{
    let res = svc.clone().oneshot(req).await.unwrap();
    let status = res.status();
    (status, res.into_body().collect().await.unwrap().to_bytes())
}

/// Where a command should end up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum To {
    /// The handler with this label, answered OK by the layer.
    Handler(&'static str),
    /// The inner service, the request untouched, with its verified metadata (every command is verified,
    /// routed or not).
    Inner,
    /// The inner service, with the event in the extensions.
    Extension,
}

/// Sends the documented sample of every command and checks where each went.
async fn expect_routes<S, B>(svc: &S, log: &Log, want: impl Fn(Command) -> To)
where
    S: Service<Request<Full<Bytes>>, Response = Response<B>, Error = Infallible> + Clone,
    B: Body<Data = Bytes>,
    B::Error: std::fmt::Debug,
{
    for &command in Command::ALL {
        let req = CallbackRequest::sample(command);
        let (status, body) = send(svc, req.build()).await;
        let hits = log.take();
        let expected = fixtures::event(command);
        match want(command) {
            To::Handler(label) => {
                assert_eq!(
                    (status, &body[..]),
                    (StatusCode::OK, Ack::OK_BODY),
                    "{command}"
                );
                let [Hit::Handler {
                    label: got,
                    event,
                    meta,
                }] = &hits[..]
                else {
                    panic!("{command}: expected handler {label}, got {hits:?}");
                };
                assert_eq!(*got, label, "{command}");
                assert_eq!(*event, expected, "{command}");
                assert_eq!(meta.command, command);
                assert_eq!(meta.sdk_app_id, APP);
            }
            To::Inner | To::Extension => {
                assert_eq!(
                    (status, &body[..]),
                    (StatusCode::OK, &b"inner"[..]),
                    "{command}"
                );
                let [Hit::Inner {
                    method,
                    uri,
                    body,
                    event,
                    meta,
                }] = &hits[..]
                else {
                    panic!("{command}: expected the inner service, got {hits:?}");
                };
                assert_eq!(method, Method::POST);
                assert_eq!(*uri, req.uri(), "{command}");
                assert_eq!(
                    body,
                    req.body(),
                    "{command}: the body reaches the inner service intact"
                );
                let want = (want(command) == To::Extension).then_some(expected);
                assert_eq!(*event, want, "{command}");
                let meta = meta
                    .as_ref()
                    .unwrap_or_else(|| panic!("{command}: no metadata"));
                assert_eq!(meta.command, command);
                assert_eq!(meta.sdk_app_id, APP);
            }
        }
    }
}

fn config() -> Config {
    Config::new(APP)
}

#[tokio::test]
async fn one_handler_per_command_for_all_six() {
    let log = Log::default();
    let layer = CallbackLayer::new(config())
        .verify_unrouted(true)
        .on(log.handler::<MemberLeave>("leave"))
        .on(log.handler::<MemberEnter>("enter"))
        .on(log.handler::<CreateRoom>("create"))
        .on(log.handler::<DestroyRoom>("destroy"))
        .on(log.handler::<UpdateRoomInfo>("update"))
        .on(log.handler::<SeatInfoChanged>("seat"));
    let svc = ServiceBuilder::new().layer(layer).service(log.inner());
    expect_routes(&svc, &log, |c| {
        To::Handler(match c {
            Command::MemberLeave => "leave",
            Command::MemberEnter => "enter",
            Command::CreateRoom => "create",
            Command::DestroyRoom => "destroy",
            Command::UpdateRoomInfo => "update",
            Command::SeatInfoChanged => "seat",
            _ => unreachable!(),
        })
    })
    .await;
}

#[tokio::test]
async fn per_command_subsets_pass_on_the_rest() {
    let log = Log::default();
    let leave_only = ServiceBuilder::new()
        .layer(
            CallbackLayer::new(config())
                .verify_unrouted(true)
                .on(log.handler::<MemberLeave>("leave")),
        )
        .service(log.inner());
    expect_routes(&leave_only, &log, |c| match c {
        Command::MemberLeave => To::Handler("leave"),
        _ => To::Inner,
    })
    .await;

    let rooms = ServiceBuilder::new()
        .layer(
            CallbackLayer::new(config())
                .verify_unrouted(true)
                .on(log.handler::<CreateRoom>("create"))
                .on(log.handler::<UpdateRoomInfo>("update"))
                .on(log.handler::<DestroyRoom>("destroy")),
        )
        .service(log.inner());
    expect_routes(&rooms, &log, |c| match c {
        Command::CreateRoom => To::Handler("create"),
        Command::UpdateRoomInfo => To::Handler("update"),
        Command::DestroyRoom => To::Handler("destroy"),
        _ => To::Inner,
    })
    .await;
}

#[tokio::test]
async fn one_enum_handler_over_any_subset() {
    let subsets: [CommandSet; 6] = [
        CommandSet::EMPTY,
        Command::SeatInfoChanged.into(),
        [Command::MemberLeave, Command::MemberEnter].into(),
        [
            Command::CreateRoom,
            Command::DestroyRoom,
            Command::UpdateRoomInfo,
        ]
        .into(),
        CommandSet::ALL
            .iter()
            .filter(|c| *c != Command::MemberLeave)
            .collect(),
        CommandSet::ALL,
    ];
    for subset in subsets {
        let log = Log::default();
        let svc = ServiceBuilder::new()
            .layer(
                CallbackLayer::new(config())
                    .verify_unrouted(true)
                    .on_any(subset, log.handler::<RoomEvent>("any")),
            )
            .service(log.inner());
        expect_routes(&svc, &log, |c| {
            if subset.contains(c) {
                To::Handler("any")
            } else {
                To::Inner
            }
        })
        .await;
    }
}

#[tokio::test]
async fn a_later_registration_replaces_an_earlier_one() {
    let log = Log::default();
    // The enum handler for all six, then a typed handler for one: the typed one wins for its command.
    let svc = ServiceBuilder::new()
        .layer(
            CallbackLayer::new(config())
                .verify_unrouted(true)
                .on_any(CommandSet::ALL, log.handler::<RoomEvent>("any"))
                .on(log.handler::<MemberLeave>("leave")),
        )
        .service(log.inner());
    expect_routes(&svc, &log, |c| match c {
        Command::MemberLeave => To::Handler("leave"),
        _ => To::Handler("any"),
    })
    .await;

    // The other way round: the enum handler covers the typed one's command.
    let svc = ServiceBuilder::new()
        .layer(
            CallbackLayer::new(config())
                .verify_unrouted(true)
                .on(log.handler::<MemberLeave>("leave"))
                .on_any(
                    [Command::MemberLeave, Command::MemberEnter],
                    log.handler::<RoomEvent>("any"),
                ),
        )
        .service(log.inner());
    expect_routes(&svc, &log, |c| match c {
        Command::MemberLeave | Command::MemberEnter => To::Handler("any"),
        _ => To::Inner,
    })
    .await;

    // A handler replaced by delivery in extensions, and the other way round.
    let svc = ServiceBuilder::new()
        .layer(
            CallbackLayer::new(config())
                .verify_unrouted(true)
                .on(log.handler::<MemberLeave>("leave"))
                .extension::<MemberLeave>()
                .extension::<MemberEnter>()
                .on(log.handler::<MemberEnter>("enter")),
        )
        .service(log.inner());
    expect_routes(&svc, &log, |c| match c {
        Command::MemberLeave => To::Extension,
        Command::MemberEnter => To::Handler("enter"),
        _ => To::Inner,
    })
    .await;
}

#[tokio::test]
async fn handlers_and_extensions_in_one_layer() {
    let log = Log::default();
    let svc = ServiceBuilder::new()
        .layer(
            CallbackLayer::new(config())
                .verify_unrouted(true)
                .on(log.handler::<MemberLeave>("leave"))
                .extension::<MemberEnter>()
                .extension_any([Command::CreateRoom, Command::DestroyRoom])
                .on_any(
                    [Command::UpdateRoomInfo],
                    log.handler::<RoomEvent>("update"),
                ),
        )
        .service(log.inner());
    expect_routes(&svc, &log, |c| match c {
        Command::MemberLeave => To::Handler("leave"),
        Command::UpdateRoomInfo => To::Handler("update"),
        Command::MemberEnter | Command::CreateRoom | Command::DestroyRoom => To::Extension,
        _ => To::Inner,
    })
    .await;
}

#[tokio::test]
async fn stacked_layers_each_pass_on_what_they_do_not_handle() {
    let log = Log::default();
    let svc = ServiceBuilder::new()
        .layer(
            CallbackLayer::new(config())
                .verify_unrouted(true)
                .on(log.handler::<MemberLeave>("leave")),
        )
        .layer(
            CallbackLayer::new(config())
                .verify_unrouted(true)
                .on(log.handler::<MemberEnter>("enter")),
        )
        .layer(CallbackLayer::new(config()).verify_unrouted(true).on_any(
            [Command::CreateRoom, Command::DestroyRoom],
            log.handler::<RoomEvent>("rooms"),
        ))
        .layer(
            CallbackLayer::new(config())
                .verify_unrouted(true)
                .extension::<UpdateRoomInfo>(),
        )
        .service(log.inner());
    expect_routes(&svc, &log, |c| match c {
        Command::MemberLeave => To::Handler("leave"),
        Command::MemberEnter => To::Handler("enter"),
        Command::CreateRoom | Command::DestroyRoom => To::Handler("rooms"),
        Command::UpdateRoomInfo => To::Extension,
        _ => To::Inner,
    })
    .await;
}

/// The `ErrorCode` of a FAIL acknowledgment.
fn error_code(body: &[u8]) -> i64 {
    serde_json::from_slice::<Ack>(body)
        .unwrap_or_else(|e| panic!("not an acknowledgment ({e}): {body:?}"))
        .error_code()
}

#[tokio::test]
async fn stacked_layers_keep_their_own_configuration() {
    let log = Log::default();
    // The outer layer wants signed leave callbacks of app A; the inner one unsigned enter callbacks of B.
    // The outer one leaves the commands it does not route to the layers inside it, unverified: without
    // `verify_unrouted(false)` it would verify them against its own configuration (below).
    let a = Config::new(1400000001).token("token-a").unwrap();
    let b = Config::new(1400000002);
    let svc = ServiceBuilder::new()
        .layer(
            CallbackLayer::new(a.clone())
                .verify_unrouted(true)
                .verify_unrouted(false)
                .on(log.handler::<MemberLeave>("leave")),
        )
        .layer(
            CallbackLayer::new(b.clone())
                .verify_unrouted(true)
                .on(log.handler::<MemberEnter>("enter")),
        )
        .service(log.inner());

    let enter = CallbackRequest::sample(Command::MemberEnter).sdk_app_id(1400000002);
    assert_eq!(send(&svc, enter.build()).await.0, StatusCode::OK);
    let [Hit::Handler {
        label: "enter",
        meta,
        ..
    }] = &log.take()[..]
    else {
        panic!("not handled by the inner layer");
    };
    assert_eq!(meta.sdk_app_id, 1400000002);

    let leave = CallbackRequest::sample(Command::MemberLeave).sdk_app_id(1400000001);
    let (status, body) = send(&svc, leave.clone().build()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        error_code(&body),
        RejectionKind::MissingSignature.error_code()
    );
    assert_eq!(log.take(), []);

    let (status, _) = send(&svc, leave.clone().token("token-a").build()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(matches!(
        &log.take()[..],
        [Hit::Handler { label: "leave", .. }]
    ));

    // Each layer checks the SDKAppID of its own commands only.
    let enter_for_a = CallbackRequest::sample(Command::MemberEnter).sdk_app_id(1400000001);
    let (status, body) = send(&svc, enter_for_a.build()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        error_code(&body),
        RejectionKind::UnknownSdkAppId.error_code()
    );
    assert_eq!(log.take(), []);

    // A command neither layer routes is verified by the inner one alone, with B's configuration.
    let other = CallbackRequest::raw(Command::MemberLeave, "{}")
        .callback_command("Group.CallbackAfterSendMsg")
        .sdk_app_id(1400000002);
    let req = other.build();
    let uri = req.uri().to_string();
    assert_eq!(
        send(&svc, req).await,
        (StatusCode::OK, Bytes::from_static(b"inner"))
    );
    let [Hit::Inner {
        uri: got,
        meta: Some(meta),
        event: None,
        ..
    }] = &log.take()[..]
    else {
        panic!("not passed on with its metadata");
    };
    assert_eq!(*got, uri);
    assert_eq!(meta.sdk_app_id, 1400000002);
    assert_eq!(meta.command.as_str(), "Group.CallbackAfterSendMsg");
    let (status, _) = send(&svc, other.sdk_app_id(1400000001).build()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(log.take(), []);

    // Without `verify_unrouted(false)`, the outer layer verifies every command with A's configuration,
    // the inner layer's included: B's callbacks are refused, answered as A's unsigned or wrongly signed
    // callbacks are (A has a token: no telling which apps it serves), even signed with A's token.
    let verifying = ServiceBuilder::new()
        .layer(
            CallbackLayer::new(a)
                .verify_unrouted(true)
                .on(log.handler::<MemberLeave>("leave")),
        )
        .layer(
            CallbackLayer::new(b)
                .verify_unrouted(true)
                .on(log.handler::<MemberEnter>("enter")),
        )
        .service(log.inner());
    let (status, body) = send(&verifying, enter.build()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        error_code(&body),
        RejectionKind::MissingSignature.error_code()
    );
    let (status, body) = send(&verifying, enter.clone().token("token-a").build()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(&body), RejectionKind::BadSignature.error_code());
    assert_eq!(log.take(), []);
    // A's own callbacks still reach A's handler.
    let (status, _) = send(&verifying, leave.token("token-a").build()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(matches!(
        &log.take()[..],
        [Hit::Handler { label: "leave", .. }]
    ));
}

#[tokio::test]
async fn unrouted_commands_are_verified_then_passed_on_with_their_meta() {
    let log = Log::default();
    let svc = ServiceBuilder::new()
        .layer(
            CallbackLayer::new(config())
                .verify_unrouted(true)
                .on(log.handler::<MemberLeave>("leave"))
                .on_any([Command::CreateRoom], log.handler::<RoomEvent>("create")),
        )
        .service(log.inner());

    // Verified, then passed on untouched (the body not even read: malformed ones included), with the
    // verified metadata: (the request, the command its metadata names, the Room command it is).
    type Verified = (Request<Full<Bytes>>, &'static str, Option<Command>);
    let verified: Vec<Verified> = vec![
        // Room commands nobody registered.
        (
            CallbackRequest::sample(Command::MemberEnter).build(),
            "Room.CallbackAfterMemberEnter",
            Some(Command::MemberEnter),
        ),
        (
            CallbackRequest::raw(Command::DestroyRoom, "not json").build(),
            "Room.CallbackAfterDestroyRoom",
            Some(Command::DestroyRoom),
        ),
        // Commands this crate does not know, from Room or another product.
        (
            CallbackRequest::raw(Command::MemberLeave, fixtures::MEMBER_LEAVE_JSON)
                .callback_command("Room.CallbackAfterSomethingNew")
                .build(),
            "Room.CallbackAfterSomethingNew",
            None,
        ),
        (
            CallbackRequest::raw(Command::MemberLeave, "{}")
                .callback_command("Group.CallbackAfterSendMsg")
                .build(),
            "Group.CallbackAfterSendMsg",
            None,
        ),
        // A wrong case is another command (values are case-sensitive).
        (
            CallbackRequest::sample(Command::MemberLeave)
                .callback_command("room.callbackaftermemberleave")
                .build(),
            "room.callbackaftermemberleave",
            None,
        ),
    ];
    for (req, command, typed) in verified {
        let (method, uri) = (req.method().clone(), req.uri().to_string());
        let sent = req.body().clone().collect().await.unwrap().to_bytes();
        let (status, body) = send(&svc, req).await;
        assert_eq!(
            (status, &body[..]),
            (StatusCode::OK, &b"inner"[..]),
            "{uri}"
        );
        let mut meta = CallbackMeta::new(APP, CallbackCommand::new(command));
        meta.client_ip = Some(ClientIp::Ip("127.0.0.1".parse().unwrap()));
        meta.platform = Some(OptPlatform::Web);
        assert_eq!(
            log.take(),
            [Hit::Inner {
                method,
                uri: uri.clone(),
                body: sent,
                event: None,
                meta: Some(meta.clone()),
            }]
        );
        assert_eq!(meta.command.as_str(), command, "{uri}");
        assert_eq!(meta.command.typed(), typed, "{uri}");
    }

    // Not callbacks at all: passed on untouched, nothing added.
    for req in [
        Request::post("/callback")
            .body(Full::new(Bytes::from("x")))
            .unwrap(),
        Request::post("/other?a=b")
            .body(Full::new(Bytes::new()))
            .unwrap(),
        Request::get("/callback?SdkAppid=1&CallbackCommand=&RoomId=x")
            .body(Full::new(Bytes::from("x")))
            .unwrap(),
    ] {
        let (method, uri) = (req.method().clone(), req.uri().to_string());
        let sent = req.body().clone().collect().await.unwrap().to_bytes();
        let (status, body) = send(&svc, req).await;
        assert_eq!(
            (status, &body[..]),
            (StatusCode::OK, &b"inner"[..]),
            "{uri}"
        );
        assert_eq!(
            log.take(),
            [Hit::Inner {
                method,
                uri,
                body: sent,
                event: None,
                meta: None,
            }]
        );
    }

    // An unrouted command that fails the checks is refused, as a Room callback would be: another
    // app's ID (no token here: 403), any other method than POST, a second, different command.
    let mut get = CallbackRequest::sample(Command::MemberEnter).build();
    *get.method_mut() = Method::GET;
    let mut conflicting = CallbackRequest::sample(Command::MemberEnter)
        .callback_command("Group.CallbackAfterSendMsg")
        .build::<Full<Bytes>>();
    let uri = format!(
        "{}&CallbackCommand=C2C.CallbackAfterSendMsg",
        conflicting.uri()
    );
    *conflicting.uri_mut() = uri.parse().unwrap();
    let refused = [
        (
            CallbackRequest::sample(Command::SeatInfoChanged)
                .sdk_app_id(1)
                .build(),
            StatusCode::FORBIDDEN,
            RejectionKind::UnknownSdkAppId,
        ),
        (
            CallbackRequest::raw(Command::MemberLeave, "{}")
                .callback_command("Group.CallbackAfterSendMsg")
                .sdk_app_id(1)
                .build(),
            StatusCode::FORBIDDEN,
            RejectionKind::UnknownSdkAppId,
        ),
        (
            get,
            StatusCode::METHOD_NOT_ALLOWED,
            RejectionKind::MethodNotAllowed,
        ),
        (
            conflicting,
            StatusCode::BAD_REQUEST,
            RejectionKind::ConflictingParameter,
        ),
    ];
    for (req, status, kind) in refused {
        let uri = req.uri().to_string();
        let (got, body) = send(&svc, req).await;
        assert_eq!(got, status, "{uri}");
        assert_eq!(error_code(&body), kind.error_code(), "{uri}");
        assert_eq!(log.take(), [], "{uri}");
    }

    // A registered command is the layer's, whatever else is wrong with the request.
    let mut get = CallbackRequest::sample(Command::MemberLeave).build();
    *get.method_mut() = Method::GET;
    assert_eq!(send(&svc, get).await.0, StatusCode::METHOD_NOT_ALLOWED);
    let bad = CallbackRequest::raw(Command::CreateRoom, "not json").build();
    assert_eq!(send(&svc, bad).await.0, StatusCode::BAD_REQUEST);
    assert_eq!(log.take(), []);

    // With `verify_unrouted(false)`, as in 0.1: unrouted commands pass through unverified, whatever
    // their app or method, and carry no metadata.
    let unverified = ServiceBuilder::new()
        .layer(
            CallbackLayer::new(config())
                .verify_unrouted(true)
                .verify_unrouted(false)
                .on(log.handler::<MemberLeave>("leave")),
        )
        .service(log.inner());
    let mut get = CallbackRequest::sample(Command::MemberEnter)
        .sdk_app_id(1)
        .build::<Full<Bytes>>();
    *get.method_mut() = Method::GET;
    let uri = get.uri().to_string();
    assert_eq!(
        send(&unverified, get).await,
        (StatusCode::OK, Bytes::from_static(b"inner"))
    );
    assert!(
        matches!(&log.take()[..], [Hit::Inner { uri: got, meta: None, .. }] if *got == uri),
        "{uri}"
    );
}

#[tokio::test]
async fn the_older_update_name_reaches_the_update_handler() {
    let log = Log::default();
    let svc = ServiceBuilder::new()
        .layer(
            CallbackLayer::new(config())
                .verify_unrouted(true)
                .on(log.handler::<UpdateRoomInfo>("update")),
        )
        .service(log.inner());
    let old_body = fixtures::UPDATE_ROOM_INFO_JSON.replace(
        "Room.CallbackAfterUpdateRoomInfo",
        "Room.CallbackUpdateRoomInfo",
    );
    let req = CallbackRequest::raw(Command::UpdateRoomInfo, old_body)
        .callback_command("Room.CallbackUpdateRoomInfo");
    assert_eq!(send(&svc, req.build()).await.0, StatusCode::OK);
    let [Hit::Handler { event, meta, .. }] = &log.take()[..] else {
        panic!("not handled");
    };
    assert_eq!(*event, fixtures::event(Command::UpdateRoomInfo));
    assert_eq!(meta.command, Command::UpdateRoomInfo);
}

#[tokio::test]
async fn the_handler_sees_the_query_metadata() {
    let log = Log::default();
    let svc = ServiceBuilder::new()
        .layer(
            CallbackLayer::new(config())
                .verify_unrouted(true)
                .on_any(CommandSet::ALL, log.handler::<RoomEvent>("any")),
        )
        .service(log.inner());
    let req = CallbackRequest::sample(Command::MemberLeave)
        .client_ip("2001:db8::1")
        .platform("iOS");
    assert_eq!(send(&svc, req.build()).await.0, StatusCode::OK);
    let [Hit::Handler { meta, .. }] = &log.take()[..] else {
        panic!("not handled");
    };
    assert_eq!(
        meta.client_ip,
        Some(ClientIp::Ip("2001:db8::1".parse().unwrap()))
    );
    assert_eq!(meta.platform, Some(OptPlatform::Ios));
    assert_eq!(meta.request_time, None);

    let req = CallbackRequest::sample(Command::MemberLeave).without_client_info();
    assert_eq!(send(&svc, req.build()).await.0, StatusCode::OK);
    let [Hit::Handler { meta, .. }] = &log.take()[..] else {
        panic!("not handled");
    };
    assert_eq!(
        (meta.client_ip.clone(), meta.platform.clone()),
        (None, None)
    );
}

/// Sends a raw body for `command` through a layer handling all six; the event the handler got.
async fn through_layer(command: Command, json: &str) -> Result<RoomEvent, (StatusCode, Ack)> {
    let log = Log::default();
    let svc = ServiceBuilder::new()
        .layer(
            CallbackLayer::new(config())
                .verify_unrouted(true)
                .on_any(CommandSet::ALL, log.handler::<RoomEvent>("any")),
        )
        .service(log.inner());
    let (status, body) = send(&svc, CallbackRequest::raw(command, json.to_owned()).build()).await;
    let hits = log.take();
    if status != StatusCode::OK {
        assert_eq!(hits, [], "a rejected event reaches no one");
        return Err((status, serde_json::from_slice(&body).unwrap()));
    }
    assert_eq!(&body[..], Ack::OK_BODY);
    match <[Hit; 1]>::try_from(hits) {
        Ok([Hit::Handler { event, .. }]) => Ok(event),
        other => panic!("{other:?}"),
    }
}

/// The documented sample of `command` through the layer, as the handler got it.
async fn sample_through_layer(command: Command) -> RoomEvent {
    through_layer(command, fixtures::json(command))
        .await
        .unwrap()
}

#[tokio::test]
async fn member_leave_sample_and_quirks() {
    let RoomEvent::MemberLeave(e) = sample_through_layer(Command::MemberLeave).await else {
        panic!("wrong type");
    };
    assert_eq!(e.operator.as_ref().unwrap(), "user1");
    assert_eq!(e.room_id, "rid-123");
    assert_eq!(e.member_count, Some(20));
    assert_eq!(e.kind, Some(LeaveType::Leave));
    assert_eq!(e.members, ["user1"]);
    assert_eq!(e.reason.as_deref(), Some("xxxx"));
    assert_eq!(e.event_time.as_millis(), 1670574414123);

    // Several members, one of them a number above 2^53; the other documented types; an unknown one.
    for (ty, kind) in [
        ("Kicked", LeaveType::Kicked),
        ("Expired", LeaveType::Expired),
        ("Vanished", LeaveType::Other("Vanished".into())),
    ] {
        let json = format!(
            r#"{{"RoomId":"r","Type":"{ty}","MemberList_Account":["a",144115233775727695],"EventTime":"1670574414123","Unknown":[1]}}"#
        );
        let Ok(RoomEvent::MemberLeave(e)) = through_layer(Command::MemberLeave, &json).await else {
            panic!("{ty}");
        };
        assert_eq!(e.kind, Some(kind));
        assert_eq!(e.members, ["a", "144115233775727695"]);
        assert_eq!(e.event_time.as_millis(), 1670574414123);
        assert_eq!((e.operator, e.member_count, e.reason), (None, None, None));
    }
}

#[tokio::test]
async fn member_enter_sample_and_quirks() {
    let RoomEvent::MemberEnter(e) = sample_through_layer(Command::MemberEnter).await else {
        panic!("wrong type");
    };
    assert_eq!(e.operator.as_ref().unwrap(), "user1");
    assert_eq!(e.room_id, "rid-123");
    assert_eq!(e.member_count, Some(20));
    assert_eq!(e.kind, Some(EnterType::Enter));
    assert_eq!(e.members, ["user1"]);
    assert_eq!(e.event_time.as_millis(), 1670574414123);

    let json = r#"{"CallbackCommand":"Room.CallbackAfterMemberEnter","Operator_Account":144115233775727695,
        "RoomId":"r","MemberCount":"3","MemberList_Account":[144115233775727695],"EventTime":1}"#;
    let Ok(RoomEvent::MemberEnter(e)) = through_layer(Command::MemberEnter, json).await else {
        panic!("quirks refused");
    };
    assert_eq!(e.operator.as_ref().unwrap(), "144115233775727695");
    assert_eq!(e.members, ["144115233775727695"]);
    assert_eq!(e.member_count, Some(3));
    assert_eq!(e.kind, None);
}

#[tokio::test]
async fn create_room_sample_and_quirks() {
    let RoomEvent::CreateRoom(e) = sample_through_layer(Command::CreateRoom).await else {
        panic!("wrong type");
    };
    let i = &e.room_info;
    assert_eq!(e.operator.as_ref().unwrap(), "admin");
    assert_eq!(i.room_id.as_deref(), Some("tandy-test-rest"));
    assert_eq!(i.room_name.as_deref(), Some("tandy-test-rest"));
    assert_eq!(i.owner.as_ref().unwrap(), "user3");
    assert_eq!(
        (i.max_member_count, i.max_seat_count),
        (Some(300), Some(16))
    );
    assert_eq!(
        [
            i.video_disabled,
            i.audio_disabled,
            i.message_disabled,
            i.screen_sharing_disabled,
            i.cloud_recording_disabled,
            i.seat_enabled
        ],
        [Some(true); 6]
    );
    assert_eq!(i.custom_info.as_deref(), Some("custom123"));
    // Seconds here, milliseconds for EventTime.
    assert_eq!(i.schedule_start_time.unwrap().as_secs(), 1703589922);
    assert_eq!(i.schedule_end_time.unwrap().as_secs(), 1703593522);
    assert_eq!(i.create_time.unwrap().as_secs(), 1703589922);
    assert_eq!(i.room_status, Some(RoomStatus::Running));
    assert_eq!(e.schedule_invitees, ["user2", "user3", "user3"]);
    assert_eq!(e.event_time.as_millis(), 1703589922780);

    let json = r#"{"RoomInfo":{"RoomId":"r","Owner_Account":42,"IsVideoDisabled":"TRUE","RoomStatus":"Paused"},"EventTime":"5"}"#;
    let Ok(RoomEvent::CreateRoom(e)) = through_layer(Command::CreateRoom, json).await else {
        panic!("quirks refused");
    };
    assert_eq!(e.room_info.owner.as_ref().unwrap(), "42");
    assert_eq!(e.room_info.video_disabled, Some(true));
    assert_eq!(
        e.room_info.room_status,
        Some(RoomStatus::Other("Paused".into()))
    );
    assert!(e.schedule_invitees.is_empty());
    assert_eq!(e.event_time.as_millis(), 5);
}

#[tokio::test]
async fn destroy_room_sample_and_quirks() {
    let RoomEvent::DestroyRoom(e) = sample_through_layer(Command::DestroyRoom).await else {
        panic!("wrong type");
    };
    assert_eq!(e.operator.as_ref().unwrap(), "admin");
    assert_eq!(e.room_id, "tandy-test-rest");
    assert_eq!(e.event_time.as_millis(), 1703589922780);

    let json = r#"{"RoomId":"r","EventTime":"1703589922780","Operator_Account":7}"#;
    let Ok(RoomEvent::DestroyRoom(e)) = through_layer(Command::DestroyRoom, json).await else {
        panic!("quirks refused");
    };
    assert_eq!(e.operator.as_ref().unwrap(), "7");
    assert_eq!(e.event_time.as_millis(), 1703589922780);
}

#[tokio::test]
async fn update_room_info_sample_and_quirks() {
    let RoomEvent::UpdateRoomInfo(e) = sample_through_layer(Command::UpdateRoomInfo).await else {
        panic!("wrong type");
    };
    let i = &e.room_info;
    assert_eq!(e.operator.as_ref().unwrap(), "bob");
    assert_eq!(i.room_id.as_deref(), Some("rid-123"));
    assert_eq!(i.room_name.as_deref(), Some("rname-123"));
    assert_eq!(i.owner.as_ref().unwrap(), "jack");
    // Sent as the string "false".
    assert_eq!(i.cloud_recording_disabled, Some(false));
    assert_eq!(i.video_disabled, Some(false));
    assert_eq!(i.custom_info.as_deref(), Some("123"));
    assert_eq!((i.room_type.clone(), i.max_seat_count), (None, None));
    assert_eq!(e.event_time.as_millis(), 1670574414123);

    // Only some fields: every RoomInfo field is optional.
    let json = r#"{"CallbackCommand":"Room.CallbackUpdateRoomInfo","RoomInfo":{"RoomName":"n"},"EventTime":1}"#;
    let Ok(RoomEvent::UpdateRoomInfo(e)) = through_layer(Command::UpdateRoomInfo, json).await
    else {
        panic!("quirks refused");
    };
    assert_eq!(e.room_info.room_name.as_deref(), Some("n"));
    assert_eq!(e.room_id(), None);
}

#[tokio::test]
async fn seat_info_changed_sample_and_quirks() {
    let RoomEvent::SeatInfoChanged(e) = sample_through_layer(Command::SeatInfoChanged).await else {
        panic!("wrong type");
    };
    assert_eq!(e.operator.as_ref().unwrap(), "user1");
    assert_eq!(e.room_id, "rid-123");
    let [seat] = &e.seats[..] else {
        panic!("one seat");
    };
    assert_eq!(seat.index, 1);
    // A bare number above 2^53 in the sample: its exact digits.
    assert_eq!(seat.member.as_ref().unwrap(), "144115233775727695");
    assert_eq!(
        (
            seat.taken_disabled,
            seat.video_disabled,
            seat.audio_disabled
        ),
        (Some(false), Some(false), Some(false))
    );

    let json = r#"{"RoomId":"r","SeatList":[{"Index":"2","Member_Account":""},{"Index":3,"IsTakenDisabled":"true"}],"EventTime":1}"#;
    let Ok(RoomEvent::SeatInfoChanged(e)) = through_layer(Command::SeatInfoChanged, json).await
    else {
        panic!("quirks refused");
    };
    assert_eq!((e.seats[0].index, e.seats[0].member.clone()), (2, None));
    assert_eq!(
        (e.seats[1].member.clone(), e.seats[1].taken_disabled),
        (None, Some(true))
    );
}

#[tokio::test]
async fn malformed_bodies_are_refused_for_every_command() {
    for &command in Command::ALL {
        let other = if command == Command::MemberLeave {
            Command::MemberEnter
        } else {
            Command::MemberLeave
        };
        for json in [
            "",
            "{",
            "[]",
            r#"{"EventTime":1}"#,
            // Another command's sample: missing fields or a contradicting CallbackCommand.
            fixtures::json(other),
        ] {
            let Err((status, ack)) = through_layer(command, json).await else {
                panic!("{command} accepted {json:?}");
            };
            assert_eq!(status, StatusCode::BAD_REQUEST, "{command} {json:?}");
            assert_eq!(ack.error_code(), RejectionKind::MalformedBody.error_code());
        }
    }
}

#[tokio::test]
async fn idempotency_key_is_stable_across_retries() {
    let log = Log::default();
    let svc = ServiceBuilder::new()
        .layer(
            CallbackLayer::new(Config::new(APP).token("t").unwrap())
                .verify_unrouted(true)
                .on_any(CommandSet::ALL, log.handler::<RoomEvent>("any")),
        )
        .service(log.inner());
    let mut keys = Vec::new();
    for &command in Command::ALL {
        let first = CallbackRequest::sample(command).token("t");
        // A retry: same event, another moment (another RequestTime and Sign), another client IP.
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let retry = CallbackRequest::sample(command)
            .token("t")
            .request_time(now - 30)
            .client_ip("10.0.0.2");
        let mut got = Vec::new();
        for req in [first, retry] {
            assert_eq!(send(&svc, req.build()).await.0, StatusCode::OK);
            let [Hit::Handler { event, .. }] = &log.take()[..] else {
                panic!("not handled");
            };
            got.push(event.event_key());
        }
        assert_eq!(got[0], got[1], "{command}");
        assert_eq!(got[0], fixtures::event(command).event_key());
        keys.push(got[0]);
    }
    // Different events, different keys.
    let mut distinct = keys.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), keys.len(), "{keys:?}");
}

#[tokio::test]
async fn idempotency_key_ignores_encoding_differences() {
    let key = |e: RoomEvent| e.event_key();
    // The leave sample re-encoded: fields reordered, times and counts as strings, an unknown field.
    let leave = r#"{"EventTime":"1670574414123","Reason":"xxxx","MemberList_Account":["user1"],
        "Type":"Leave","MemberCount":"20","RoomId":"rid-123","Operator_Account":"user1","New":{"x":1}}"#;
    let a = key(through_layer(Command::MemberLeave, leave).await.unwrap());
    assert_eq!(a, fixtures::member_leave().event_key());
    // The seat sample with its account as a string instead of a number.
    let seat =
        fixtures::SEAT_INFO_CHANGED_JSON.replace("144115233775727695", "\"144115233775727695\"");
    let b = key(through_layer(Command::SeatInfoChanged, &seat)
        .await
        .unwrap());
    assert_eq!(b, fixtures::seat_info_changed().event_key());
    // The update sample under the older command name, its boolean as a real boolean.
    let update = fixtures::UPDATE_ROOM_INFO_JSON
        .replace(
            "Room.CallbackAfterUpdateRoomInfo",
            "Room.CallbackUpdateRoomInfo",
        )
        .replace("\"false\"", "false");
    let c = key(through_layer(Command::UpdateRoomInfo, &update)
        .await
        .unwrap());
    assert_eq!(c, fixtures::update_room_info().event_key());
}

#[test]
fn idempotency_key_differs_for_different_events() {
    let base = fixtures::member_leave();
    let k = |e: &MemberLeave| -> EventKey { e.event_key() };
    let mut variants = vec![base.clone()];
    let mut e = base.clone();
    e.room_id = "rid-124".into();
    variants.push(e);
    let mut e = base.clone();
    e.event_time = tencent_room_callback::event::EventTime::from_millis(1670574414124);
    variants.push(e);
    let mut e = base.clone();
    e.members.push("user2".into());
    variants.push(e);
    let mut e = base.clone();
    e.kind = Some(LeaveType::Kicked);
    variants.push(e);
    let mut e = base.clone();
    e.reason = None;
    variants.push(e);
    let mut keys: Vec<_> = variants.iter().map(k).collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), variants.len());
    // Same fields under two commands (leave and enter) are two events.
    let enter = MemberEnter::new("rid-123", ["user1"], base.event_time);
    let leave = MemberLeave::new("rid-123", ["user1"], base.event_time);
    assert_ne!(enter.event_key(), leave.event_key());
    // The enum's key is the inner event's.
    assert_eq!(RoomEvent::from(base.clone()).event_key(), k(&base));
}
