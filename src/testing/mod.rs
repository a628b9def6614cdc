//! Test your handler without Tencent (feature `testing`): [`CallbackRequest`] builds a request exactly as
//! Tencent sends it, and [`fixtures`] holds Tencent's documented sample of every Room callback.
//!
//! ```
//! use std::sync::{Arc, Mutex};
//!
//! use axum::{body::Body, routing::post, Router};
//! use http_body_util::BodyExt;
//! use tencent_room_callback::testing::{fixtures, CallbackRequest};
//! use tencent_room_callback::{Ack, CallbackLayer, CallbackMeta, Config, HandlerError, MemberLeave};
//! use tower::ServiceExt;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // The handler under test: it records who left.
//! let left = Arc::new(Mutex::new(Vec::new()));
//! let on_leave = {
//!     let left = left.clone();
//!     move |event: MemberLeave, _meta: CallbackMeta| {
//!         let left = left.clone();
//!         async move {
//!             left.lock().unwrap().extend(event.members);
//!             Ok::<(), HandlerError>(())
//!         }
//!     }
//! };
//! let config = Config::new(1400000000).token("my-callback-token")?;
//! let app = Router::new()
//!     .route("/callback", post(|| async { "not a callback" }))
//!     .layer(CallbackLayer::new(config).on(on_leave));
//!
//! // Tencent's documented sample, signed with the token at the current time.
//! let request = CallbackRequest::new(fixtures::member_leave())
//!     .sdk_app_id(1400000000)
//!     .token("my-callback-token")
//!     .build::<Body>();
//! let response = app.oneshot(request).await?;
//!
//! assert_eq!(response.status(), 200);
//! assert_eq!(response.into_body().collect().await?.to_bytes(), Ack::OK_BODY);
//! assert_eq!(*left.lock().unwrap(), ["user1"]);
//! # Ok(())
//! # }
//! ```
//!
//! # Customization
//!
//! - Your own event: build one with its `new` and set its public fields
//!   (`MemberLeave::new("room-7", ["alice"], EventTime::from_millis(..))`), or start from a fixture.
//! - A body the typed events cannot express (unknown fields, account IDs as numbers, malformed JSON):
//!   [`CallbackRequest::raw`].
//! - Reproducible signatures: [`CallbackRequest::request_time`] with [`FIXED_REQUEST_TIME`], and
//!   [`fixed_clock`] as the receiver's [`Config::clock`](crate::Config::clock).
//! - Without HTTP: [`CallbackRequest::query`] and [`CallbackRequest::body`] feed
//!   [`decode`](crate::Config::decode) and [`decode_any`](crate::Config::decode_any).

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{header, HeaderValue, Method, Request};

use crate::{Command, RoomEvent};

pub mod fixtures;

/// The SDKAppID a [`CallbackRequest`] carries unless told otherwise (and the example receiver's default).
pub const DEFAULT_SDK_APP_ID: u64 = 1_400_000_000;

/// The `Sign` Tencent sends for `token` and `request_time` (the decimal seconds string, as in the
/// query): lowercase hex of SHA-256 over the token followed by the time, no separator. For building
/// requests in tests; a receiver never compares signatures itself (the layer does, in constant time).
///
/// ```
/// assert_eq!(
///     tencent_room_callback::testing::signature("xxxxyyyy", "1669872112"),
///     "17773bc39a671d7b9aa835458704d2a6db81360a5940292b587d6d760d484061",
/// );
/// ```
pub fn signature(token: &str, request_time: &str) -> String {
    crate::sign::signature(token, request_time)
}

/// The `RequestTime` of the protocol's signature test vector: with token `xxxxyyyy` it signs as
/// `17773bc39a671d7b9aa835458704d2a6db81360a5940292b587d6d760d484061`. Use it with
/// [`CallbackRequest::request_time`] and [`fixed_clock`] for reproducible tests.
pub const FIXED_REQUEST_TIME: u64 = 1_669_872_112;

/// A clock stopped at [`FIXED_REQUEST_TIME`], for [`Config::clock`](crate::Config::clock): a receiver using
/// it accepts requests signed at that time.
///
/// ```
/// use tencent_room_callback::testing::{fixed_clock, fixtures, CallbackRequest, FIXED_REQUEST_TIME};
/// use tencent_room_callback::{Config, MemberLeave};
///
/// let config = Config::new(1400000000).token("xxxxyyyy")?.clock(fixed_clock);
/// let request = CallbackRequest::new(fixtures::member_leave())
///     .token("xxxxyyyy")
///     .request_time(FIXED_REQUEST_TIME);
/// let (event, meta) = config.decode::<MemberLeave>(&request.query(), request.body())?;
/// assert_eq!(event, fixtures::member_leave());
/// assert_eq!(meta.request_time.map(|t| t.as_secs()), Some(FIXED_REQUEST_TIME));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn fixed_clock() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(FIXED_REQUEST_TIME)
}

/// A Room callback request as Tencent sends it: a `POST` with a JSON body to the callback URL, with
/// `SdkAppid`, `CallbackCommand`, `contenttype=json`, `ClientIP` and `OptPlatform` appended to the query,
/// and `Sign` and `RequestTime` when a [token](Self::token) is set.
///
/// Defaults: URL `/callback`, SDKAppID [`DEFAULT_SDK_APP_ID`], `ClientIP=127.0.0.1`, `OptPlatform=Web`,
/// no token, `RequestTime` = now when signing. The builder never checks what it is given, so it can make
/// the wrong requests a test needs too (another app, a stale time, a bad signature, a malformed body).
///
/// ```
/// use tencent_room_callback::testing::{fixtures, CallbackRequest};
///
/// let request = CallbackRequest::new(fixtures::member_leave())
///     .url("https://example.com/callback")
///     .token("xxxxyyyy")
///     .request_time(1669872112)
///     .build::<bytes::Bytes>();
/// assert_eq!(request.method(), "POST");
/// assert_eq!(
///     request.uri().query(),
///     Some("SdkAppid=1400000000&CallbackCommand=Room.CallbackAfterMemberLeave&contenttype=json\
///           &ClientIP=127.0.0.1&OptPlatform=Web\
///           &Sign=17773bc39a671d7b9aa835458704d2a6db81360a5940292b587d6d760d484061\
///           &RequestTime=1669872112"),
/// );
/// ```
#[derive(Clone)]
pub struct CallbackRequest {
    command: Command,
    command_name: String,
    body: Bytes,
    url: String,
    sdk_app_id: u64,
    token: Option<String>,
    sign: Option<String>,
    request_time: Option<u64>,
    client_ip: Option<String>,
    platform: Option<String>,
}

impl CallbackRequest {
    /// A request carrying `event` (any of the six event types, or a [`RoomEvent`]), serialized with
    /// Tencent's field names; the command comes from the event.
    pub fn new(event: impl Into<RoomEvent>) -> Self {
        let event = event.into();
        let body = serde_json::to_vec(&event).expect("a typed event always serializes");
        Self::raw(event.command(), body)
    }

    /// A request for `command` carrying `json` as its body, byte for byte (it is not checked: it may be
    /// a fixture, a body with quirks, or a malformed one).
    pub fn raw(command: Command, json: impl Into<Bytes>) -> Self {
        CallbackRequest {
            command,
            command_name: command.name().to_owned(),
            body: json.into(),
            url: "/callback".to_owned(),
            sdk_app_id: DEFAULT_SDK_APP_ID,
            token: None,
            sign: None,
            request_time: None,
            client_ip: Some("127.0.0.1".to_owned()),
            platform: Some("Web".to_owned()),
        }
    }

    /// Tencent's documented sample of `command` ([`fixtures::event`]).
    pub fn sample(command: Command) -> Self {
        Self::new(fixtures::event(command))
    }

    /// The callback URL the app configured: absolute (`https://example.com/callback`, as an HTTP client
    /// needs) or a path (`/callback`, the default, as a tower service gets). A URL that already has a
    /// query keeps it; Tencent's parameters follow.
    #[must_use]
    pub fn url(mut self, url: impl Into<String>) -> Self {
        self.url = url.into();
        self
    }

    /// The `SdkAppid` (default [`DEFAULT_SDK_APP_ID`]).
    #[must_use]
    pub fn sdk_app_id(mut self, sdk_app_id: u64) -> Self {
        self.sdk_app_id = sdk_app_id;
        self
    }

    /// Signs the request with `token`: adds `Sign` and `RequestTime`, as Tencent does with callback
    /// authentication on.
    #[must_use]
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// The `RequestTime`, in Unix seconds (default: the time the request is built). Sent only with a
    /// [token](Self::token) or a [sign](Self::sign).
    #[must_use]
    pub fn request_time(mut self, secs: u64) -> Self {
        self.request_time = Some(secs);
        self
    }

    /// Sends `sign` as `Sign` instead of the signature computed from the token (a forged or mangled
    /// signature, for a test); `RequestTime` is sent too.
    #[must_use]
    pub fn sign(mut self, sign: impl Into<String>) -> Self {
        self.sign = Some(sign.into());
        self
    }

    /// The `ClientIP` (default `127.0.0.1`).
    #[must_use]
    pub fn client_ip(mut self, ip: impl Into<String>) -> Self {
        self.client_ip = Some(ip.into());
        self
    }

    /// The `OptPlatform` (default `Web`; Tencent's values are `RESTAPI`, `Web`, `Android`, `iOS`,
    /// `Windows`, `Mac`, `iPad`, `Unknown`).
    #[must_use]
    pub fn platform(mut self, platform: impl Into<String>) -> Self {
        self.platform = Some(platform.into());
        self
    }

    /// Leaves `ClientIP` and `OptPlatform` out, as some callbacks do.
    #[must_use]
    pub fn without_client_info(mut self) -> Self {
        self.client_ip = None;
        self.platform = None;
        self
    }

    /// The `CallbackCommand` query value as sent (default: the command's canonical name), e.g. an older
    /// spelling such as `Room.CallbackUpdateRoomInfo`, or a command no layer handles.
    #[must_use]
    pub fn callback_command(mut self, name: impl Into<String>) -> Self {
        self.command_name = name.into();
        self
    }

    /// The command the request was made for.
    pub fn command(&self) -> Command {
        self.command
    }

    /// The body.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// The query Tencent appends (without `?`), form-encoded; signed at the current time when no
    /// [`request_time`](Self::request_time) was given.
    pub fn query(&self) -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        q.append_pair("SdkAppid", &self.sdk_app_id.to_string())
            .append_pair("CallbackCommand", &self.command_name)
            .append_pair("contenttype", "json");
        if let Some(ip) = &self.client_ip {
            q.append_pair("ClientIP", ip);
        }
        if let Some(platform) = &self.platform {
            q.append_pair("OptPlatform", platform);
        }
        if self.token.is_some() || self.sign.is_some() {
            let time = self
                .request_time
                .unwrap_or_else(|| {
                    SystemTime::now()
                        .duration_since(UNIX_EPOCH)
                        .unwrap_or(Duration::ZERO)
                        .as_secs()
                })
                .to_string();
            let sign = match (&self.sign, &self.token) {
                (Some(sign), _) => sign.clone(),
                (None, Some(token)) => signature(token, &time),
                (None, None) => unreachable!("checked above"),
            };
            q.append_pair("Sign", &sign)
                .append_pair("RequestTime", &time);
        }
        q.finish()
    }

    /// The full request URI: the URL, then the query.
    pub fn uri(&self) -> String {
        let sep = match self.url.find('?') {
            None => "?",
            Some(_) if self.url.ends_with(['?', '&']) => "",
            Some(_) => "&",
        };
        format!("{}{sep}{}", self.url, self.query())
    }

    /// The request, with a body of any type made from [`Bytes`] (axum's `Body`,
    /// `http_body_util::Full<Bytes>`, `Bytes`...), `Content-Type: application/json` and its
    /// `Content-Length`.
    ///
    /// # Errors
    /// When the [URL](Self::url) is not a valid URI.
    pub fn try_build<B: From<Bytes>>(&self) -> Result<Request<B>, http::Error> {
        Request::builder()
            .method(Method::POST)
            .uri(self.uri())
            .header(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )
            .header(header::CONTENT_LENGTH, self.body.len())
            .body(B::from(self.body.clone()))
    }

    /// Like [`try_build`](Self::try_build).
    ///
    /// # Panics
    /// When the [URL](Self::url) is not a valid URI.
    pub fn build<B: From<Bytes>>(&self) -> Request<B> {
        self.try_build()
            .unwrap_or_else(|e| panic!("invalid callback URL {:?}: {e}", self.url))
    }
}

impl fmt::Debug for CallbackRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallbackRequest")
            .field("command", &self.command)
            .field("url", &self.url)
            .field("sdk_app_id", &self.sdk_app_id)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("request_time", &self.request_time)
            .field("body", &String::from_utf8_lossy(&self.body))
            .finish_non_exhaustive()
    }
}
