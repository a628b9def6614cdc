//! The tower plumbing: [`CallbackLayer`], its service [`Callback`], handlers, routes and bodies.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use tower_layer::Layer;

use crate::command::{CommandSet, Rank};
use crate::config::Config;
use crate::event::{Event, RoomEvent};

mod body;
mod dedup;
mod future;
mod handler;
mod router;
mod routes;
mod service;
#[cfg(test)]
mod tests;

pub use body::{BodyMode, HandlersOnly, RequestBody, ResponseBody, WithExtensions};
pub use dedup::Dedup;
pub use future::ResponseFuture;
#[cfg(test)]
use handler::BoxError;
pub use handler::{Handler, HandlerError, ServiceFuture, ServiceHandler};
pub use routes::{RawCallback, RawHandler};
pub use service::Callback;

#[cfg(trc_bench)]
pub(crate) use future::{read_body, read_body_limited};

use router::Table;
use routes::{Forward, OnEvent, OnRaw};

/// What every service made by one layer shares, behind one `Arc`: the configuration, the paths and the
/// routes.
#[derive(Clone)]
pub(crate) struct Shared {
    pub(crate) config: Config,
    /// The paths served, matched exactly; empty for every path.
    pub(crate) paths: Box<[Box<str>]>,
    /// The paths TRTC's event callbacks come to, matched exactly; empty for none.
    pub(crate) trtc_paths: Box<[Box<str>]>,
    /// Whether a callback no route takes is verified before it reaches the inner service: `None` for
    /// the default (yes with a path, no without one).
    pub(crate) verify_unrouted: Option<bool>,
    pub(crate) routes: Table,
}

impl Shared {
    /// Whether the layer serves the path of `uri` (the path is only looked at when paths are set).
    #[inline]
    pub(crate) fn serves(&self, uri: &http::Uri) -> bool {
        self.paths.is_empty() || self.paths.iter().any(|p| **p == *uri.path())
    }

    /// Whether `path` is one TRTC's event callbacks come to (one comparison when none is set).
    #[inline]
    pub(crate) fn is_trtc(&self, path: &str) -> bool {
        !self.trtc_paths.is_empty() && self.trtc_paths.iter().any(|p| **p == *path)
    }

    /// Whether the layer was given the paths it serves.
    #[inline]
    pub(crate) fn scoped(&self) -> bool {
        !self.paths.is_empty()
    }

    /// Whether a callback no route takes is verified before it reaches the inner service.
    #[inline]
    pub(crate) fn verifies_unrouted(&self) -> bool {
        self.verify_unrouted.unwrap_or(self.scoped())
    }
}

/// A tower [`Layer`] that receives Tencent Cloud callbacks.
///
/// It intercepts the callbacks it has a route for, verifies them against its [`Config`], decodes the
/// event, and delivers it to a [handler](Self::on) (then answers the acknowledgment itself) or into the
/// request's [extensions](Self::extension) for the inner service. Every other request reaches the inner
/// service untouched. See the [crate docs](crate) for examples.
///
/// # Scope
///
/// Give it the path Tencent posts to with [`path`](Self::path), as the quick start does. On that path,
/// every request that carries a `CallbackCommand` is the layer's: verified, then taken by its route,
/// or handed to your app's routes with its verified [`CallbackMeta`](crate::CallbackMeta) when no
/// route takes it ([`verify_unrouted`](Self::verify_unrouted)); anything wrong is refused there (405,
/// 400, 401, 403). Without a path the layer cannot tell Tencent's requests from your app's, so it takes
/// only a `POST` whose `CallbackCommand` one of its routes takes, on any path, and passes everything
/// else through unverified and untouched: it never answers your app's other routes by surprise.
///
/// # Routes
///
/// One table, looked up once per callback: a typed route ([`on`](Self::on), [`on_any`](Self::on_any),
/// [`extension`](Self::extension)) wins over an exact name ([`on_command`](Self::on_command)), an exact
/// name over a prefix ([`on_prefix`](Self::on_prefix); a longer prefix over a shorter one), and any of
/// them over the catch-alls for every notification ([`on_notifications`](Self::on_notifications)),
/// every decision ([`on_decisions`](Self::on_decisions)) and every command in neither table
/// ([`on_unknown`](Self::on_unknown)). Registering a command twice keeps the later
/// registration. The layer's type changes once, from `CallbackLayer` to
/// `CallbackLayer<WithExtensions>`, with the first extension route (its inner service then receives a
/// [`RequestBody`](crate::service::RequestBody)).
///
/// # When the layer refuses a callback
///
/// Every refusal is an HTTP answer (never a service error) with a FAIL acknowledgment whose `ErrorInfo`
/// starts with `callback layer:` and says what was wrong, and whose `ErrorCode` comes from the table on
/// [`RejectionKind`](crate::RejectionKind). A wrong or missing `Sign` answers 401 "Sign does not
/// match", and so does an SDKAppID that is not configured when a token is (an answer must not tell which
/// apps a receiver serves): which of the two it was is in the `tracing` event the layer emits with the
/// `tracing` feature, its `note` field. With a token configured, a mistyped SDKAppID therefore answers
/// 401 like a bad signature: read the log before rotating tokens. A `RequestTime` outside the window
/// is a 401 that says so, with how far it is from the receiver's clock (nothing secret: check the
/// clocks).
///
/// The configuration and the routes live behind one `Arc`: cloning the layer, or making a service
/// with it, clones that `Arc` and nothing else, and handlers need not be `Clone`.
#[must_use]
pub struct CallbackLayer<M = HandlersOnly> {
    shared: Arc<Shared>,
    mode: PhantomData<fn() -> M>,
}

impl CallbackLayer {
    /// A layer checking callbacks against `config`, with no path and no route yet.
    pub fn new(config: Config) -> Self {
        CallbackLayer {
            shared: Arc::new(Shared {
                config,
                paths: Box::default(),
                trtc_paths: Box::default(),
                verify_unrouted: None,
                routes: Table::default(),
            }),
            mode: PhantomData,
        }
    }
}

impl<M: body::BodyMode> CallbackLayer<M> {
    /// This layer with its shared part changed (copied first when another layer shares it).
    fn edit<M2>(mut self, change: impl FnOnce(&mut Shared)) -> CallbackLayer<M2> {
        change(Arc::make_mut(&mut self.shared));
        CallbackLayer {
            shared: self.shared,
            mode: PhantomData,
        }
    }

    /// Serves callbacks at `path` (call again to add another path): the path Tencent posts to. A
    /// request to any other path reaches the inner service untouched, whatever its query. Paths match
    /// exactly, as the layer sees them (`/callback` matches neither `/callback/` nor `//callback`;
    /// under axum's `nest`, the path is the nested router's). See [the scope](Self#scope).
    ///
    /// ```
    /// use tencent_room_callback::{CallbackLayer, CallbackMeta, Config, HandlerError, MemberLeave};
    ///
    /// async fn on_leave(_: MemberLeave, _: CallbackMeta) -> Result<(), HandlerError> { Ok(()) }
    /// let layer = CallbackLayer::new(Config::new(1400000000))
    ///     .path("/callback")
    ///     .on(on_leave);
    /// ```
    pub fn path(self, path: impl Into<String>) -> Self {
        let path: Box<str> = path.into().into_boxed_str();
        self.edit(|s| {
            if !s.paths.contains(&path) {
                let mut paths = s.paths.to_vec();
                paths.push(path);
                s.paths = paths.into();
            }
        })
    }

    /// Serves TRTC's room and media event callbacks at `path` (call again to add another): the URL set
    /// in TRTC's console, apart from the one-URL callbacks'. Every request there is the layer's and is
    /// answered in TRTC's dialect (`{"code":0}`, or the failure's status with
    /// `{"code":<status>,"message":"callback layer: ..."}`): a `POST` whose body is read within the
    /// body limit and timeout, verified ([`trtc::verify`](crate::trtc::verify): the `SdkAppId` header,
    /// `Sign` over the raw body with the app's [key](crate::Config::trtc_app_key), the freshness of
    /// `CallbackTs`), then delivered by the same routes as every callback, under its pseudo-command
    /// `TRTC.<EventGroupId>.<EventType>`: a typed route for [`TrtcEvent`](crate::trtc::TrtcEvent) or
    /// [`departure::Changes`](crate::departure::Changes), a raw route by name (`TRTC.1.104`) or prefix
    /// (`TRTC.`), [`on_notifications`](Self::on_notifications) (TRTC's events are notifications). A
    /// verified event no route takes is acknowledged, so that Tencent does not send it again for a
    /// minute.
    ///
    /// ```
    /// use tencent_room_callback::trtc::TrtcEvent;
    /// use tencent_room_callback::{CallbackLayer, CallbackMeta, Config, HandlerError};
    ///
    /// async fn on_trtc(event: TrtcEvent, meta: CallbackMeta) -> Result<(), HandlerError> {
    ///     println!("{} in room {} of app {}", meta.command, event.room_id(), meta.sdk_app_id);
    ///     Ok(())
    /// }
    ///
    /// let config = Config::new(1400000000).trtc_key("123654")?;
    /// let layer = CallbackLayer::new(config)
    ///     .path("/callback")
    ///     .trtc_path("/trtc")
    ///     .on(on_trtc);
    /// # Ok::<(), tencent_room_callback::config::ConfigError>(())
    /// ```
    pub fn trtc_path(self, path: impl Into<String>) -> Self {
        let path: Box<str> = path.into().into_boxed_str();
        self.edit(|s| {
            if !s.trtc_paths.contains(&path) {
                let mut paths = s.trtc_paths.to_vec();
                paths.push(path);
                s.trtc_paths = paths.into();
            }
        })
    }

    /// Whether a callback that no route takes is verified before it reaches the inner service: with
    /// `true`, every request that carries a `CallbackCommand` gets the same `SdkAppid` and
    /// `Sign`/`RequestTime` checks, and one that passes reaches the inner service with its verified
    /// [`CallbackMeta`](crate::CallbackMeta) in the extensions (its body untouched), while one that
    /// fails is answered 4xx with a FAIL acknowledgment. With `false`, such requests pass through
    /// unverified. By default, `true` on the [paths](Self::path) given, `false` without a path.
    pub fn verify_unrouted(self, verify: bool) -> Self {
        self.edit(|s| s.verify_unrouted = Some(verify))
    }

    /// Handles events `E` with `handler`: the layer answers OK when it returns `Ok(())`, and the inner
    /// service is not called. `E` is inferred from the handler's first argument: a Room event
    /// ([`MemberLeave`](crate::MemberLeave)...) for its command, [`RoomEvent`] for all six.
    ///
    /// ```
    /// use tencent_room_callback::{CallbackLayer, CallbackMeta, Config, HandlerError, MemberLeave};
    ///
    /// async fn on_leave(event: MemberLeave, meta: CallbackMeta) -> Result<(), HandlerError> {
    ///     println!("{} left {} (app {})", event.members.len(), event.room_id, meta.sdk_app_id);
    ///     Ok(())
    /// }
    /// let layer = CallbackLayer::new(Config::new(1400000000)).path("/callback").on(on_leave);
    /// ```
    pub fn on<E, H>(self, handler: H) -> Self
    where
        E: Event,
        H: Handler<E>,
    {
        self.typed(E::COMMANDS, Arc::new(OnEvent::new(handler)), false)
    }

    /// Handles the `commands` (a [`Command`](crate::Command), an array of them, or a [`CommandSet`]) with
    /// one handler over [`RoomEvent`].
    pub fn on_any<H>(self, commands: impl Into<CommandSet>, handler: H) -> Self
    where
        H: Handler<RoomEvent>,
    {
        let route: Arc<dyn router::Route> = Arc::new(OnEvent::<RoomEvent, H>::new(handler));
        let commands = commands.into();
        self.edit(|s| {
            let at = s.routes.add(route, false);
            for command in commands.iter() {
                for name in command.names() {
                    s.routes.name(name, at, Rank::Typed);
                }
            }
        })
    }

    /// Handles the command `name` (any command, such as `C2C.CallbackBeforeSendMsg`) with `handler`,
    /// which receives the verified metadata and the raw body ([`RawCallback`]) and answers with an
    /// [`Ack`](crate::Ack): the plain OK, or a decision's answer with extra fields. The layer checks the
    /// body first as it checks every body (a JSON object; its `CallbackCommand`, if any, the query's; a
    /// Room event decodes as its type). A typed route ([`on`](Self::on), [`extension`](Self::extension)...)
    /// for the same command wins over it.
    ///
    /// ```
    /// use tencent_room_callback::{Ack, CallbackLayer, Config, HandlerError, RawCallback};
    ///
    /// #[derive(serde::Deserialize)]
    /// struct BeforeSend {
    ///     #[serde(rename = "From_Account")]
    ///     from: String,
    /// }
    ///
    /// let layer = CallbackLayer::new(Config::new(1400000000))
    ///     .path("/callback")
    ///     .on_command("C2C.CallbackBeforeSendMsg", |cb: RawCallback| async move {
    ///         let msg: BeforeSend = cb.json()?;
    ///         // Refuse what the blocked sender sends (ErrorCode 1), let the rest through.
    ///         Ok::<_, HandlerError>(if msg.from == "blocked" { Ack::decision(1, "") } else { Ack::ok() })
    ///     });
    /// ```
    pub fn on_command<H: RawHandler>(self, name: impl AsRef<str>, handler: H) -> Self {
        let route: Arc<dyn router::Route> = Arc::new(OnRaw::new(handler));
        self.edit(|s| {
            let at = s.routes.add(route, false);
            s.routes.name(name.as_ref(), at, Rank::Exact);
        })
    }

    /// Handles every command whose name starts with `prefix` (`"Group."`, `"C2C.Callback"`...) with
    /// `handler`, as [`on_command`](Self::on_command) does. A typed route or an exact name wins over a
    /// prefix; of two prefixes, the longer.
    pub fn on_prefix<H: RawHandler>(self, prefix: impl AsRef<str>, handler: H) -> Self {
        let route: Arc<dyn router::Route> = Arc::new(OnRaw::new(handler));
        self.edit(|s| {
            let at = s.routes.add(route, false);
            s.routes.prefix(prefix.as_ref(), at);
        })
    }

    /// Hands every verified notification callback that no more specific route takes to `handler`, as
    /// [`on_command`](Self::on_command) does: the hook for putting callbacks into a queue of your own
    /// (the `tencent-room-callback-inbox` crate's `Inbox` is such a handler; so could a Kafka or SQS
    /// producer be). A notification is a command Tencent documents as one
    /// ([`CallbackCommand::is_notification`](crate::CallbackCommand::is_notification): the Room
    /// commands, Chat's and Live's "after" callbacks, TRTC's events). A decision never reaches it, nor does
    /// a command in neither table (a new one): that one goes on to your other routes, so name it
    /// ([`on_command`](Self::on_command)) if it belongs in the queue.
    pub fn on_notifications<H: RawHandler>(self, handler: H) -> Self {
        let route: Arc<dyn router::Route> = Arc::new(OnRaw::new(handler));
        self.edit(|s| {
            let at = s.routes.add(route, false);
            s.routes.notifications(at);
        })
    }

    /// Hands every decision callback (Tencent waits for its answer, whose `ErrorCode` allows or refuses
    /// a message, a friend request, a group join...: see
    /// [`CallbackCommand::is_decision`](crate::CallbackCommand::is_decision)) that no more specific
    /// route takes to `handler`, as [`on_command`](Self::on_command) does.
    ///
    /// A decision is answered by its handler at once, never stored or batched. Tencent lets a message
    /// or request through when the answer is late, refused or failed: the layer answers the
    /// [fallback](crate::Config::decision_fallback) itself when the handler has not answered by the
    /// [decision deadline](crate::Config::decision_deadline) (default 1.8 s), or fails, or panics.
    pub fn on_decisions<H: RawHandler>(self, handler: H) -> Self {
        let route: Arc<dyn router::Route> = Arc::new(OnRaw::new(handler));
        self.edit(|s| {
            let at = s.routes.add(route, false);
            s.routes.decisions(at);
        })
    }

    /// Hands every verified callback of a command in neither table (neither a known decision nor a
    /// known notification: one Tencent added since, say) that no more specific route takes to
    /// `handler`, as [`on_command`](Self::on_command) does. Treat it as a decision might be treated:
    /// answer at once, and log its name so that it can be routed by name.
    pub fn on_unknown<H: RawHandler>(self, handler: H) -> Self {
        let route: Arc<dyn router::Route> = Arc::new(OnRaw::new(handler));
        self.edit(|s| {
            let at = s.routes.add(route, false);
            s.routes.unknown(at);
        })
    }

    /// De-duplicates, in memory, the callbacks that the routes registered **before** this call deliver
    /// to handlers: a copy of a callback a handler already answered (same app, command and body bytes,
    /// within the TTL) gets the same answer byte for byte without reaching the handler again; a copy
    /// that arrives while the first is in its handler waits for it. Events forwarded to the inner
    /// service are not de-duplicated. See [`Dedup`]; across replicas and restarts, the inbox crate
    /// de-duplicates durably.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tencent_room_callback::{CallbackLayer, CallbackMeta, Config, Dedup, HandlerError, MemberLeave};
    ///
    /// async fn on_leave(_: MemberLeave, _: CallbackMeta) -> Result<(), HandlerError> { Ok(()) }
    ///
    /// let layer = CallbackLayer::new(Config::new(1400000000))
    ///     .path("/callback")
    ///     .on(on_leave)
    ///     .dedup(Dedup::new(100_000, Duration::from_secs(24 * 3600)));
    /// ```
    pub fn dedup(self, dedup: Dedup) -> Self {
        self.edit(|s| s.routes.dedup(&dedup))
    }

    /// Delivers events `E` to the inner service, in the request's extensions: the event as `E`, its
    /// metadata as [`CallbackMeta`](crate::CallbackMeta), the original body still readable. The inner
    /// service answers (with the `axum` feature an axum handler can return [`Ack`](crate::Ack)).
    ///
    /// The inner service then receives a [`RequestBody<B>`](crate::service::RequestBody) for a request
    /// body `B`: the original body, untouched, for a request the layer passes through, the bytes it read
    /// for a callback it forwards. Any `B: Body<Data = Bytes>` works: axum's `Body`, `Limited<Body>`
    /// under `RequestBodyLimitLayer`, hyper's `Incoming`.
    pub fn extension<E: Event>(self) -> CallbackLayer<WithExtensions> {
        self.typed(E::COMMANDS, Arc::new(Forward::<E>::new()), true)
    }

    /// Delivers the `commands` to the inner service as [`RoomEvent`] in the request's extensions.
    pub fn extension_any(self, commands: impl Into<CommandSet>) -> CallbackLayer<WithExtensions> {
        let route: Arc<dyn router::Route> = Arc::new(Forward::<RoomEvent>::new());
        let commands = commands.into();
        self.edit(|s| {
            let at = s.routes.add(route, true);
            for command in commands.iter() {
                for name in command.names() {
                    s.routes.name(name, at, Rank::Typed);
                }
            }
        })
    }

    /// Registers `route` as the typed route of every name in `names`.
    fn typed<M2>(
        self,
        names: &[&str],
        route: Arc<dyn router::Route>,
        forward: bool,
    ) -> CallbackLayer<M2> {
        self.edit(|s| {
            let at = s.routes.add(route, forward);
            for name in names {
                s.routes.name(name, at, Rank::Typed);
            }
        })
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.shared.config
    }
}

impl<M> Clone for CallbackLayer<M> {
    fn clone(&self) -> Self {
        CallbackLayer {
            shared: self.shared.clone(),
            mode: PhantomData,
        }
    }
}

impl<M> fmt::Debug for CallbackLayer<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallbackLayer")
            .field("config", &self.shared.config)
            .field("paths", &self.shared.paths)
            .field("trtc_paths", &self.shared.trtc_paths)
            .field("verify_unrouted", &self.shared.verifies_unrouted())
            .field("routes", &self.shared.routes)
            .finish()
    }
}

impl<S, M> Layer<S> for CallbackLayer<M> {
    type Service = Callback<S, M>;

    fn layer(&self, inner: S) -> Self::Service {
        Callback {
            inner,
            shared: self.shared.clone(),
            mode: PhantomData,
        }
    }
}
