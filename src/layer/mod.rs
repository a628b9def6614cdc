//! The tower plumbing: [`CallbackLayer`], its service [`Callback`], handlers, routes and bodies.

use std::fmt;
use std::sync::Arc;

use tower_layer::Layer;

use crate::command::CommandSet;
use crate::config::Config;
use crate::event::{Event, RoomEvent};

mod body;
mod future;
mod handler;
mod routes;
mod service;
#[cfg(test)]
mod tests;

pub use body::{RequestBody, ResponseBody};
pub use future::ResponseFuture;
#[cfg(test)]
use handler::BoxError;
pub use handler::{Handler, HandlerError, ServiceHandler};
pub use routes::{Extension, ExtensionAny, NoRoutes, On, OnAny, Routes};
pub use service::Callback;

#[cfg(feature = "testing")]
pub(crate) use future::{read_body, read_body_limited};

/// What every service made by one layer shares, behind one `Arc`: the configuration, the paths and the
/// routes, with the command sets worked out once.
pub(crate) struct Shared<R> {
    pub(crate) config: Config,
    /// The paths served, matched exactly; empty for every path.
    pub(crate) paths: Box<[Box<str>]>,
    /// Behind an `Arc` of their own too: the next link of a chain holds it.
    pub(crate) routes: Arc<R>,
    pub(crate) commands: CommandSet,
    pub(crate) forwarded: CommandSet,
}

impl<R: Routes> Shared<R> {
    fn new(config: Config, paths: Box<[Box<str>]>, routes: Arc<R>) -> Arc<Self> {
        Arc::new(Shared {
            config,
            paths,
            commands: routes.commands(),
            forwarded: routes.forwarded(),
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
            shared: Shared::new(config, Box::default(), Arc::new(NoRoutes)),
        }
    }
}

impl<R: Routes> CallbackLayer<R> {
    /// A layer with the same configuration and paths, and `routes` in front of these.
    fn link<R2: Routes>(self, routes: impl FnOnce(Arc<R>) -> R2) -> CallbackLayer<R2> {
        let Shared {
            config,
            paths,
            routes: rest,
            ..
        } = &*self.shared;
        CallbackLayer {
            shared: Shared::new(
                config.clone(),
                paths.clone(),
                Arc::new(routes(rest.clone())),
            ),
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
        let Shared {
            config,
            paths,
            routes,
            ..
        } = &*self.shared;
        let mut paths = paths.to_vec();
        if !paths.contains(&path) {
            paths.push(path);
        }
        CallbackLayer {
            shared: Shared::new(config.clone(), paths.into(), routes.clone()),
        }
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

    /// Delivers events `E` to the inner service, in the request's extensions: the event as `E`, its
    /// metadata as [`CallbackMeta`](crate::CallbackMeta), the original body still readable. The inner
    /// service answers (with the `axum` feature an axum handler can return [`Ack`](crate::Ack)).
    ///
    /// The inner service then receives a [`RequestBody<B>`](crate::RequestBody) for a request body
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
