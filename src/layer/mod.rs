//! The tower plumbing: [`CallbackLayer`], its service [`Callback`], handlers, routes and bodies.

use std::fmt;
use std::sync::Arc;

use tower_layer::Layer;

use crate::command::CommandSet;
use crate::config::Config;
use crate::event::{Event, RoomEvent};

mod body;
mod dedup;
mod future;
mod handler;
mod routes;
mod service;
#[cfg(test)]
mod tests;

pub use body::{RequestBody, ResponseBody};
pub use dedup::{Dedup, DedupFuture, Deduped};
pub use future::ResponseFuture;
#[cfg(test)]
use handler::BoxError;
pub use handler::{Handler, HandlerError, ServiceFuture, ServiceHandler};
pub use routes::{
    Extension, ExtensionAny, NoRoutes, On, OnAny, OnCommand, RawCallback, RawHandler, Routes,
};
pub use service::Callback;

#[cfg(trc_bench)]
pub(crate) use future::{read_body, read_body_limited};

/// What every service made by one layer shares, behind one `Arc`: the configuration, the paths and the
/// routes.
pub(crate) struct Shared<R> {
    pub(crate) config: Config,
    /// The paths served, matched exactly; empty for every path.
    pub(crate) paths: Box<[Box<str>]>,
    /// Whether a callback no route takes is verified before it reaches the inner service.
    pub(crate) verify_unrouted: bool,
    /// Behind an `Arc` of their own too: the next link of a chain holds it.
    pub(crate) routes: Arc<R>,
}

impl<R> Shared<R> {
    fn with_routes<R2>(&self, routes: Arc<R2>) -> Arc<Shared<R2>> {
        Arc::new(Shared {
            config: self.config.clone(),
            paths: self.paths.clone(),
            verify_unrouted: self.verify_unrouted,
            routes,
        })
    }

    /// Whether the layer serves the path of `uri` (the path is only looked at when paths are set).
    #[inline]
    pub(crate) fn serves(&self, uri: &http::Uri) -> bool {
        self.paths.is_empty() || self.paths.iter().any(|p| **p == *uri.path())
    }
}

/// A tower [`Layer`] that receives Tencent Cloud Room callbacks.
///
/// It intercepts the requests whose `CallbackCommand` it has a route for (on the [paths](Self::path)
/// it serves), verifies them against its [`Config`], decodes the event, and delivers it to a
/// [handler](Self::on) (then answers the acknowledgment itself) or into the request's
/// [extensions](Self::extension) for the inner service. Every other request reaches the inner service
/// untouched. See the [crate docs](crate) for examples.
///
/// The configuration and the routes live behind one `Arc`: cloning the layer, or making a service
/// with it, clones that `Arc` and nothing else, and handlers need not be `Clone`.
///
/// Registering a command twice keeps the later registration.
#[must_use]
pub struct CallbackLayer<R = NoRoutes> {
    shared: Arc<Shared<R>>,
}

impl CallbackLayer<NoRoutes> {
    /// A layer checking callbacks against `config`, serving every path, with no routes yet.
    pub fn new(config: Config) -> Self {
        CallbackLayer {
            shared: Arc::new(Shared {
                config,
                paths: Box::default(),
                verify_unrouted: true,
                routes: Arc::new(NoRoutes),
            }),
        }
    }
}

impl<R: Routes> CallbackLayer<R> {
    /// A layer with the same configuration and paths, and `routes` in front of these.
    pub(crate) fn link<R2: Routes>(self, routes: impl FnOnce(Arc<R>) -> R2) -> CallbackLayer<R2> {
        let rest = self.shared.routes.clone();
        CallbackLayer {
            shared: self.shared.with_routes(Arc::new(routes(rest))),
        }
    }

    /// Serves callbacks at `path` only (call again to add another path): a request to any other path
    /// reaches the inner service untouched, whatever its query. Paths match exactly, as the layer sees
    /// them (`/callback` matches neither `/callback/` nor `//callback`; under axum's `nest`, the path
    /// is the nested router's). Without a path, the layer serves every path.
    ///
    /// ```
    /// use tencent_room_callback::{CallbackLayer, Config, HandlerError, MemberLeave, CallbackMeta};
    ///
    /// async fn on_leave(_: MemberLeave, _: CallbackMeta) -> Result<(), HandlerError> { Ok(()) }
    /// let layer = CallbackLayer::new(Config::new(1400000000))
    ///     .path("/callback")
    ///     .on(on_leave);
    /// ```
    pub fn path(self, path: impl Into<String>) -> CallbackLayer<R> {
        let path: Box<str> = path.into().into_boxed_str();
        let mut shared = self.shared.with_routes(self.shared.routes.clone());
        // Just made: this layer holds the only reference.
        if let Some(s) = Arc::get_mut(&mut shared) {
            let mut paths = s.paths.to_vec();
            if !paths.contains(&path) {
                paths.push(path);
            }
            s.paths = paths.into();
        }
        CallbackLayer { shared }
    }

    /// Whether a callback that no route takes is verified (the default) before it reaches the inner
    /// service: with `true`, every request that carries a `CallbackCommand` gets the same `SdkAppid` and
    /// `Sign`/`RequestTime` checks, and one that passes reaches the inner service with its verified
    /// [`CallbackMeta`](crate::CallbackMeta) in the extensions (its body untouched), while one that fails
    /// is answered 4xx with a FAIL acknowledgment. With `false`, such requests pass through unverified,
    /// as in 0.1.
    pub fn verify_unrouted(self, verify: bool) -> CallbackLayer<R> {
        let mut shared = self.shared.with_routes(self.shared.routes.clone());
        if let Some(s) = Arc::get_mut(&mut shared) {
            s.verify_unrouted = verify;
        }
        CallbackLayer { shared }
    }

    /// Handles events `E` with `handler`: the layer answers OK when it returns `Ok(())`, and the inner
    /// service is not called. `E` is inferred from the handler's first argument.
    ///
    /// ```
    /// use tencent_room_callback::{CallbackLayer, CallbackMeta, Config, HandlerError, MemberLeave};
    ///
    /// async fn on_leave(event: MemberLeave, meta: CallbackMeta) -> Result<(), HandlerError> {
    ///     println!("{} left {} (app {})", event.members.len(), event.room_id, meta.sdk_app_id);
    ///     Ok(())
    /// }
    /// let layer = CallbackLayer::new(Config::new(1400000000)).on(on_leave);
    /// ```
    pub fn on<E, H>(self, handler: H) -> CallbackLayer<On<E, H, R>>
    where
        E: Event,
        H: Handler<E>,
    {
        self.link(|rest| On::new(handler, rest))
    }

    /// Handles the `commands` (a [`Command`](crate::Command), an array of them, or a [`CommandSet`]) with
    /// one handler over [`RoomEvent`].
    pub fn on_any<H>(
        self,
        commands: impl Into<CommandSet>,
        handler: H,
    ) -> CallbackLayer<OnAny<H, R>>
    where
        H: Handler<RoomEvent>,
    {
        let commands = commands.into();
        self.link(|rest| OnAny::new(commands, handler, rest))
    }

    /// Handles the command `name` (any command, such as `C2C.CallbackBeforeSendMsg`) with `handler`,
    /// which receives the verified metadata and the raw body ([`RawCallback`]) and answers with an
    /// [`Ack`](crate::Ack): the plain OK, or a before-callback's decision with extra fields. A typed route
    /// ([`on`](Self::on), [`extension`](Self::extension)...) for the same command wins over it.
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
    pub fn on_command<H: RawHandler>(
        self,
        name: impl Into<String>,
        handler: H,
    ) -> CallbackLayer<OnCommand<H, R>> {
        self.link(|rest| OnCommand::exact(name, handler, rest))
    }

    /// Handles every command whose name starts with `prefix` (`"Group."`, `"C2C.Callback"`...) with
    /// `handler`, as [`on_command`](Self::on_command) does. A typed route or an exact name wins over a
    /// prefix; of two prefixes, the longer.
    pub fn on_prefix<H: RawHandler>(
        self,
        prefix: impl Into<String>,
        handler: H,
    ) -> CallbackLayer<OnCommand<H, R>> {
        self.link(|rest| OnCommand::prefix(prefix, handler, rest))
    }

    /// Handles every decision callback (a "before" callback such as `C2C.CallbackBeforeSendMsg`, whose
    /// answer carries a decision) that no more specific route takes, with `handler`, as
    /// [`on_command`](Self::on_command) does. Next to [`on_notifications`](Self::on_notifications),
    /// this is where the decisions go.
    pub fn on_decisions<H: RawHandler>(self, handler: H) -> CallbackLayer<OnCommand<H, R>> {
        self.link(|rest| OnCommand::before(handler, rest))
    }

    /// Hands every verified notification callback (any command that is not a "before" callback) that
    /// no more specific route takes to `handler`, as [`on_command`](Self::on_command) does: the hook
    /// for putting callbacks into a queue of your own (the `tencent-room-callback-inbox` crate's
    /// `Inbox` is such a handler). Decision callbacks never reach it.
    pub fn on_notifications<H: RawHandler>(self, handler: H) -> CallbackLayer<OnCommand<H, R>> {
        self.link(|rest| OnCommand::after(handler, rest))
    }

    /// De-duplicates, in memory, the callbacks that the routes registered **before** this call deliver
    /// to handlers: a copy of a callback a handler already took (same app, command and body bytes,
    /// within the TTL) is acknowledged OK without reaching the handler again; a copy that arrives while
    /// the first is in its handler waits for it. "Before" callbacks and events forwarded to the inner
    /// service are not de-duplicated. See [`Dedup`]; across replicas and restarts, the
    /// inbox (feature `inbox`) de-duplicates durably.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tencent_room_callback::{CallbackLayer, CallbackMeta, Config, Dedup, HandlerError, MemberLeave};
    ///
    /// async fn on_leave(_: MemberLeave, _: CallbackMeta) -> Result<(), HandlerError> { Ok(()) }
    ///
    /// let layer = CallbackLayer::new(Config::new(1400000000))
    ///     .on(on_leave)
    ///     .dedup(Dedup::new(100_000, Duration::from_secs(24 * 3600)));
    /// ```
    pub fn dedup(self, dedup: Dedup) -> CallbackLayer<Deduped<R>> {
        self.link(|rest| Deduped::new(dedup, rest))
    }

    /// Delivers events `E` to the inner service, in the request's extensions: the event as `E`, its
    /// metadata as [`CallbackMeta`](crate::CallbackMeta), the original body still readable. The inner
    /// service answers (with the `axum` feature an axum handler can return [`Ack`](crate::Ack)).
    ///
    /// The inner service then receives a [`RequestBody<B>`](crate::service::RequestBody) for a request body
    /// `B`: the original body, untouched, for a request the layer passes through, the bytes it read for
    /// a callback it forwards. Any `B: Body<Data = Bytes>` works: axum's `Body`, `Limited<Body>` under
    /// `RequestBodyLimitLayer`, hyper's `Incoming`.
    pub fn extension<E: Event>(self) -> CallbackLayer<Extension<E, R>> {
        self.link(Extension::new)
    }

    /// Delivers the `commands` to the inner service as [`RoomEvent`] in the request's extensions.
    pub fn extension_any(self, commands: impl Into<CommandSet>) -> CallbackLayer<ExtensionAny<R>> {
        let commands = commands.into();
        self.link(|rest| ExtensionAny::new(commands, rest))
    }
}

impl<R> CallbackLayer<R> {
    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.shared.config
    }
}

impl<R> Clone for CallbackLayer<R> {
    fn clone(&self) -> Self {
        CallbackLayer {
            shared: self.shared.clone(),
        }
    }
}

impl<R: fmt::Debug> fmt::Debug for CallbackLayer<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallbackLayer")
            .field("config", &self.shared.config)
            .field("paths", &self.shared.paths)
            .field("verify_unrouted", &self.shared.verify_unrouted)
            .field("routes", &self.shared.routes)
            .finish()
    }
}

impl<S, R> Layer<S> for CallbackLayer<R> {
    type Service = Callback<S, R>;

    fn layer(&self, inner: S) -> Self::Service {
        Callback {
            inner,
            shared: self.shared.clone(),
        }
    }
}
