//! Receive Tencent Cloud **Room** callbacks in any tower stack (axum, hyper, tonic's HTTP side): one
//! [`CallbackLayer`] that verifies, decodes and acknowledges them.
//!
//! ```
//! use axum::{routing::post, Router};
//! use tencent_room_callback::{CallbackLayer, CallbackMeta, Config, HandlerError, MemberLeave};
//!
//! async fn on_leave(event: MemberLeave, meta: CallbackMeta) -> Result<(), HandlerError> {
//!     // Sync your own data here; answer within Tencent's 2 s.
//!     println!("{:?} left room {} of app {}", event.members, event.room_id, meta.sdk_app_id);
//!     Ok(())
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let config = Config::new(1400000000)      // the SDKAppID callbacks must carry
//!     .token("my-callback-token")?;        // optional: verify Sign / RequestTime
//!
//! let app: Router = Router::new()
//!     .route("/callback", post(|| async { "not a callback this app handles" }))
//!     .layer(CallbackLayer::new(config).path("/callback").on(on_leave));
//! # use tower::ServiceExt;
//! # let req = http::Request::post("/callback?SdkAppid=1400000000&CallbackCommand=Room.CallbackAfterMemberLeave")
//! #     .body(axum::body::Body::from(r#"{"RoomId":"r","MemberList_Account":["u"],"EventTime":1}"#))?;
//! # let res = app.oneshot(req).await?;
//! # assert_eq!(res.status(), 401); // a token is configured and the request is unsigned
//! # Ok(())
//! # }
//! ```
//!
//! Tencent POSTs each callback to the app's one URL with `?SdkAppid=..&CallbackCommand=..&contenttype=json
//! &ClientIP=..&OptPlatform=..` (plus `Sign` and `RequestTime` with callback authentication); Chat,
//! Room and Live callbacks all come to the same URL. On the paths it serves ([`CallbackLayer::path`];
//! every path without one), the layer verifies every request that carries a `CallbackCommand`, whatever
//! the command:
//!
//! 1. answers 405 (with `Allow: POST`) to anything but a `POST`;
//! 2. checks `SdkAppid` against the [`Config`] (400 when missing or malformed; another app's: 403, or
//!    with tokens configured the same 401 as a bad signature, so that answers do not list your apps);
//! 3. checks `RequestTime` (±60 s) and `Sign` in constant time against the app's own token set, as its
//!    [`SignPolicy`](config::SignPolicy) says (401);
//!
//! A verified callback that no route takes reaches the inner service untouched, with its
//! [`CallbackMeta`] in the extensions. One that a route takes is intercepted: the layer
//!
//! 4. reads the body up to a limit (413) and a timeout (408), decodes the event (400 when malformed);
//! 5. hands the event to your [`Handler`] (or the raw callback to a [`RawHandler`], whose [`Ack`] may
//!    carry a before-callback's decision) and answers `{"ActionStatus":"OK","ErrorInfo":"","ErrorCode":0}`
//!    (500 or 503 with a FAIL acknowledgment when the handler fails, 500 when it panics), or puts it in
//!    the request's extensions for the inner service ([`CallbackLayer::extension`]).
//!
//! Every other request goes to the inner service untouched: its body is not read, nothing is allocated.
//! Every rejection is an HTTP response (never a service error) with a FAIL acknowledgment whose
//! `ErrorCode` comes from the table on [`RejectionKind`].
//!
//! # Customization
//!
//! - Several commands: chain [`CallbackLayer::on`] for each event type ([`MemberLeave`],
//!   [`MemberEnter`], [`CreateRoom`], [`DestroyRoom`], [`UpdateRoomInfo`], [`SeatInfoChanged`]), or take
//!   them all as a [`RoomEvent`] with [`CallbackLayer::on_any`].
//! - Any command, by name or prefix (Chat, Live...): [`CallbackLayer::on_command`],
//!   [`CallbackLayer::on_prefix`]; tokens per app and their rotation at run time: [`Config::app_token`],
//!   [`Config::tokens`]; whether `Sign` is required: [`SignPolicy`](config::SignPolicy).
//! - Tower middleware around a handler: [`ServiceHandler`] makes any `tower::Service` a handler.
//! - Anywhere in a stack: answers carry a [`ResponseBody`](service::ResponseBody) (the inner body or the acknowledgment), so
//!   the layer goes inside or outside tower-http's layers; in extensions mode the inner service receives
//!   a [`RequestBody`](service::RequestBody) over any request body.
//! - Without tower: [`Config::decode`] and [`Config::decode_any`] take the query string and the body bytes.
//! - Who left which room (or entered it, or saw it closed), whatever the product said it: the
//!   [`departure`] module, sans-IO, for Room, Live, Chat group and TRTC callbacks alike.
//! - Features: `axum` (`IntoResponse` for [`Ack`] and [`Rejection`]), `tracing` (one event per
//!   intercepted request, never a secret), `metrics` (callbacks by command and outcome, rejections by
//!   reason, handler and end-to-end latency, through the `metrics` facade: see
//!   the `metrics` module), `chat` and `live` (typed Chat and Live (TUILiveKit) callback events, in
//!   the `chat` and `live` modules), `testing` (build requests exactly as Tencent sends them,
//!   sign them, and fix the clock), `serve` (the `serve` module: a server with head
//!   and idle timeouts, bounded heads and a connection cap, to put the stack on the internet).
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
