//! The tower plumbing: [`CallbackLayer`], its service [`Callback`], handlers and routes.

use std::fmt;
use std::sync::Arc;

use tower_layer::Layer;

use crate::command::CommandSet;
use crate::config::Config;
use crate::event::{Event, RoomEvent};

mod future;
mod handler;
mod routes;
mod service;

pub use future::ResponseFuture;
pub use handler::{BoxError, Handler, HandlerError};
pub(crate) use routes::Room;
pub use routes::{Deliver, Delivery, Either, Extension, ExtensionAny, NoRoutes, On, OnAny, Routes};
pub use service::Callback;

/// What every service made by one layer shares: the configuration and the routes, with the command sets
/// worked out once.
pub(crate) struct Shared<R> {
    pub(crate) config: Config,
    pub(crate) routes: R,
    pub(crate) commands: CommandSet,
    pub(crate) forwarded: CommandSet,
}

/// A tower [`Layer`] that receives Tencent Cloud Room callbacks.
///
/// It intercepts the requests whose `CallbackCommand` it has a route for, verifies them against its
/// [`Config`], decodes the event, and delivers it to a [handler](Self::on) (then answers the
/// acknowledgment itself) or into the request's [extensions](Self::extension) for the inner service.
/// Every other request reaches the inner service untouched. See the [crate docs](crate) for examples.
///
/// Registering a command twice keeps the later registration.
#[must_use]
pub struct CallbackLayer<R = NoRoutes> {
    config: Config,
    routes: R,
}

impl CallbackLayer<NoRoutes> {
    /// A layer checking callbacks against `config`, with no routes yet.
    pub fn new(config: Config) -> Self {
        CallbackLayer {
            config,
            routes: NoRoutes,
        }
    }
}

impl<R> CallbackLayer<R> {
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
        CallbackLayer {
            config: self.config,
            routes: On::new(handler, self.routes),
        }
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
        CallbackLayer {
            config: self.config,
            routes: OnAny::new(commands.into(), handler, self.routes),
        }
    }

    /// Delivers events `E` to the inner service, in the request's extensions: the event as `E`, its
    /// metadata as [`CallbackMeta`](crate::CallbackMeta), the original body still readable. The inner
    /// service answers (with the `axum` feature an axum handler can return [`Ack`](crate::Ack)).
    ///
    /// Needs a request body type that can be rebuilt from bytes (`From<Bytes>`), such as axum's `Body`
    /// or `http_body_util::Full<Bytes>`.
    pub fn extension<E: Event>(self) -> CallbackLayer<Extension<E, R>> {
        CallbackLayer {
            config: self.config,
            routes: Extension::new(self.routes),
        }
    }

    /// Delivers the `commands` to the inner service as [`RoomEvent`] in the request's extensions.
    pub fn extension_any(self, commands: impl Into<CommandSet>) -> CallbackLayer<ExtensionAny<R>> {
        CallbackLayer {
            config: self.config,
            routes: ExtensionAny::new(commands.into(), self.routes),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }
}

impl<R: Clone> Clone for CallbackLayer<R> {
    fn clone(&self) -> Self {
        CallbackLayer {
            config: self.config.clone(),
            routes: self.routes.clone(),
        }
    }
}

impl<R: fmt::Debug> fmt::Debug for CallbackLayer<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallbackLayer")
            .field("config", &self.config)
            .field("routes", &self.routes)
            .finish()
    }
}

impl<S, R> Layer<S> for CallbackLayer<R>
where
    R: Routes + Clone,
{
    type Service = Callback<S, R>;

    fn layer(&self, inner: S) -> Self::Service {
        let routes = self.routes.clone();
        Callback {
            inner,
            shared: Arc::new(Shared {
                config: self.config.clone(),
                commands: routes.commands(),
                forwarded: routes.forwarded(),
                routes,
            }),
        }
    }
}
