//! Receive Tencent Cloud **Room** callbacks, and every other callback Tencent sends to the same URL,
//! in any tower stack (axum, hyper, tonic's HTTP side): one [`CallbackLayer`] that verifies, decodes
//! and acknowledges them.
//!
//! ```
//! use axum::body::Body;
//! use axum::http::{Request, Response, StatusCode};
//! use axum::{routing::post, Extension, Router};
//! use http_body_util::BodyExt;
//! use tencent_room_callback::{Ack, CallbackLayer, CallbackMeta, Config, HandlerError, MemberLeave};
//! use tower::ServiceExt;
//!
//! async fn on_leave(event: MemberLeave, meta: CallbackMeta) -> Result<(), HandlerError> {
//!     // Sync your own data here: Tencent waits 2 s for the acknowledgment.
//!     println!("{:?} left room {} of app {}", event.members, event.room_id, meta.sdk_app_id);
//!     Ok(())
//! }
//!
//! /// Every other command on the one URL (Chat, Live, the other Room events), verified by the layer:
//! /// acknowledged. (With the `axum` feature, `Ack` is an `IntoResponse` itself.)
//! async fn every_other(meta: Option<Extension<CallbackMeta>>) -> Response<Body> {
//!     match meta {
//!         Some(Extension(meta)) => {
//!             println!("{} from app {}", meta.command, meta.sdk_app_id);
//!             Ack::ok().http_response(StatusCode::OK)
//!         }
//!         None => Ack::fail(40000, "not a Tencent callback").http_response(StatusCode::BAD_REQUEST),
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // The SDKAppID callbacks must carry; with callback authentication on, add `.token(..)?`.
//! let config = Config::new(1400000000);
//! let app = Router::new()
//!     .route("/callback", post(every_other))
//!     .layer(CallbackLayer::new(config).path("/callback").on(on_leave));
//!
//! // What Tencent sends: a POST with the query, the event in the body.
//! let leave = Request::post("/callback?SdkAppid=1400000000&CallbackCommand=Room.CallbackAfterMemberLeave")
//!     .body(Body::from(r#"{"RoomId":"r1","MemberList_Account":["alice"],"EventTime":1700000000000}"#))?;
//! let answer = app.clone().oneshot(leave).await?;
//! assert_eq!(answer.status(), 200);
//! assert_eq!(answer.into_body().collect().await?.to_bytes(), Ack::OK_BODY);
//!
//! // The layer's own refusals say so.
//! let get = Request::get("/callback?SdkAppid=1400000000&CallbackCommand=State.StateChange")
//!     .body(Body::empty())?;
//! let refused = app.oneshot(get).await?;
//! assert_eq!(refused.status(), 405);
//! let body = refused.into_body().collect().await?.to_bytes();
//! assert_eq!(
//!     body,
//!     r#"{"ActionStatus":"FAIL","ErrorInfo":"callback layer: callbacks must be POSTed","ErrorCode":40501}"#
//! );
//! # Ok(())
//! # }
//! ```
//!
//! Tencent POSTs each callback to the app's one URL with `?SdkAppid=..&CallbackCommand=..&contenttype=json
//! &ClientIP=..&OptPlatform=..` (plus `Sign` and `RequestTime` with callback authentication); Chat,
//! Room and Live callbacks all come to the same URL. On the path it serves ([`CallbackLayer::path`]),
//! the layer verifies every request that carries a `CallbackCommand`, whatever the command:
//!
//! 1. answers 405 (with `Allow: POST`) to anything but a `POST`;
//! 2. checks `SdkAppid` against the [`Config`] (400 when missing or malformed; another app's: 403, or
//!    with tokens configured the same 401 as a bad signature, so that answers do not list your apps);
//! 3. checks `RequestTime` (±60 s) and `Sign` in constant time against the app's own token set, as its
//!    [`SignPolicy`](config::SignPolicy) says (401).
//!
//! A verified callback that no route takes reaches the inner service untouched, with its
//! [`CallbackMeta`] in the extensions (as `every_other` above). One that a route takes is intercepted:
//! the layer
//!
//! 4. reads the body up to a limit (413) and a timeout (408), decodes the event (400 when malformed);
//! 5. hands the event to your [`Handler`] (or the raw callback to a [`RawHandler`], whose [`Ack`] may
//!    carry a decision) and answers `{"ActionStatus":"OK","ErrorInfo":"","ErrorCode":0}` (500 or 503
//!    with a FAIL acknowledgment when the handler fails, 500 when it panics), or puts it in the
//!    request's extensions for the inner service ([`CallbackLayer::extension`]).
//!
//! Every other request goes to the inner service untouched: its body is not read, nothing is allocated.
//! Without a path the layer cannot tell Tencent's requests from your app's: it takes only a `POST`
//! whose `CallbackCommand` one of its routes takes, on any path, and passes everything else through
//! unverified (see [the scope](CallbackLayer#scope)).
//!
//! Every refusal is an HTTP response (never a service error) with a FAIL acknowledgment whose
//! `ErrorInfo` starts with `callback layer:` and whose `ErrorCode` comes from the table on
//! [`RejectionKind`]. A 401 says no more than "Sign does not match" or the like; the precise reason (an
//! SDKAppID that is not configured, a stale `RequestTime`) is the `note` of the `tracing` event the
//! layer emits with the `tracing` feature.
//!
//! # Customization
//!
//! - Several commands: chain [`CallbackLayer::on`] for each event type ([`MemberLeave`],
//!   [`MemberEnter`], [`CreateRoom`], [`DestroyRoom`], [`UpdateRoomInfo`], [`SeatInfoChanged`]), or take
//!   them all as a [`RoomEvent`] with [`CallbackLayer::on_any`].
//! - Any command, by name or prefix (Chat, Live...): [`CallbackLayer::on_command`],
//!   [`CallbackLayer::on_prefix`]; every decision or every notification at once:
//!   [`CallbackLayer::on_decisions`], [`CallbackLayer::on_notifications`] (the hook for a queue of your
//!   own; the `tencent-room-callback-inbox` crate is one).
//! - Tokens per app and their rotation at run time: [`Config::app_token`], [`Config::tokens`]; whether
//!   `Sign` is required: [`SignPolicy`](config::SignPolicy).
//! - Tower middleware around a handler: [`ServiceHandler`] makes any `tower::Service` a handler.
//! - Tencent's retries handled once, in memory: [`CallbackLayer::dedup`] with a [`Dedup`].
//! - Anywhere in a stack: answers carry a [`ResponseBody`](service::ResponseBody) (the inner body or the
//!   acknowledgment), so the layer goes inside or outside tower-http's layers; in extensions mode the
//!   inner service receives a [`RequestBody`](service::RequestBody) over any request body.
//! - Without tower: [`Config::decode`] and [`Config::decode_any`] take the query string and the body
//!   bytes; [`trtc::verify`] takes TRTC's headers and body.
//! - TRTC's room and media events, on a URL of their own: [`CallbackLayer::trtc_path`] and the [`trtc`]
//!   module.
//! - Who left which room (or entered it, or saw it closed), whatever the product said it: the
//!   [`departure`] module, sans-IO, for Room, Live, Chat group and TRTC callbacks alike.
//!
//! # Features
//!
//! None is on by default.
//!
//! - `axum`: `IntoResponse` for [`Ack`] and [`Rejection`].
//! - `tracing`: one event per intercepted request (command, room, outcome, reason and note; never a
//!   secret), rate-limited.
//! - `metrics`: callbacks by command and outcome, rejections by reason, handler and end-to-end latency,
//!   through the `metrics` facade (the `metrics` module has the table).
//! - `testing`: requests built exactly as Tencent sends them, signed, Tencent's samples, a fixed clock.
//! - `chat` and `live`: typed Chat (IM) and Live (TUILiveKit) events, in the `chat` and `live` modules.
//!
//! The durable inbox is the `tencent-room-callback-inbox` crate; a runnable receiver on a hardened
//! server is `tencent-room-callback-receiver`.
//!
//! # Security
//!
//! The signature covers only the token and the time, **not the body**: serve the callback URL over
//! HTTPS. Always configure your SDKAppID (it is mandatory here). Tokens never appear in `Debug` output,
//! answers or logs.

#![forbid(unsafe_code)]
#![warn(
    missing_docs,
    missing_debug_implementations,
    rust_2018_idioms,
    unreachable_pub
)]
#![cfg_attr(docsrs, feature(doc_cfg))]

// Internals that benches/crates.rs compares with well-kept crates: built only under
// `RUSTFLAGS="--cfg trc_bench"`, never part of the API.
#[cfg(trc_bench)]
#[doc(hidden)]
#[path = "bench.rs"]
pub mod __bench;
mod ack;
#[cfg(feature = "chat")]
#[cfg_attr(docsrs, doc(cfg(feature = "chat")))]
pub mod chat;
mod command;
pub mod config;
mod decode;
pub mod departure;
pub mod event;
mod layer;
#[cfg(feature = "live")]
#[cfg_attr(docsrs, doc(cfg(feature = "live")))]
pub mod live;
pub mod meta;
#[cfg(feature = "metrics")]
#[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
pub mod metrics;
#[cfg(not(feature = "metrics"))]
mod metrics;
mod query;
mod reject;
mod sign;
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;
mod trace;
pub mod trtc;
mod value;
mod verify;

pub use ack::Ack;
pub use command::{CallbackCommand, Command, CommandSet};
#[doc(inline)]
pub use config::Config;
#[doc(inline)]
pub use event::{
    CreateRoom, DestroyRoom, Event, MemberEnter, MemberLeave, RoomEvent, SeatInfoChanged,
    UpdateRoomInfo,
};
pub use layer::{
    CallbackLayer, Dedup, Handler, HandlerError, RawCallback, RawHandler, ServiceHandler,
};
#[doc(inline)]
pub use meta::CallbackMeta;
pub use reject::{Rejection, RejectionKind};

/// The tower plumbing behind [`CallbackLayer`]: its service, the service's future, the bodies it
/// answers with and hands on, the body modes that name its inner service's request body, and the future
/// of a [`ServiceHandler`]. Named in types, rarely written.
pub mod service {
    pub use crate::layer::{
        BodyMode, Callback, HandlersOnly, RequestBody, ResponseBody, ResponseFuture, ServiceFuture,
        WithExtensions,
    };
}

/// The README's `rust` code blocks as doc tests, compiled as shown (rustdoc does not call the test
/// example's `#[tokio::test]` function). The features are those the README's `toml` blocks name;
/// `cargo test` from the workspace turns them on (`tests/readme.rs` checks the blocks themselves).
#[cfg(all(doctest, feature = "axum", feature = "tracing", feature = "testing"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
