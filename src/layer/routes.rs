//! How a layer delivers what it intercepts: a chain of per-command routes, built by
//! [`CallbackLayer`](super::CallbackLayer)'s methods, with no boxing and no `dyn`.
//!
//! Each link keeps the rest of the chain behind an `Arc`, shared with the layer it was built from, so
//! that building a chain never clones a handler (handlers need not be `Clone`).

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::Extensions;
use pin_project_lite::pin_project;

use super::body::RequestBody;
use super::handler::{Handler, HandlerError};
use crate::command::CommandSet;
use crate::event::{Event, RoomEvent};
use crate::meta::CallbackMeta;
use crate::reject::{Rejection, RejectionKind};
use crate::trace::{room, Room};

mod sealed {
    pub trait Sealed {}
}

/// The routes of a [`CallbackLayer`](super::CallbackLayer): which commands it intercepts, where their
/// events go, and what request body the inner service receives. Sealed: built with `on`, `on_any`,
/// `extension` and `extension_any`.
pub trait Routes: sealed::Sealed + Send + Sync + 'static {
    /// The body of the requests the inner service receives, for an incoming body `B`: `B` itself, as
    /// it came, when every route has a handler (the inner service then only sees requests the layer
    /// passes through), or [`RequestBody<B>`](crate::RequestBody) once an extension route is registered
    /// (the original body for a passed-through request, the bytes the layer read for a forwarded one).
    type Body<B>;

    #[doc(hidden)]
    type Future: Future<Output = Result<(), HandlerError>> + Send + 'static;

    #[doc(hidden)]
    fn commands(&self) -> CommandSet;

    #[doc(hidden)]
    fn forwarded(&self) -> CommandSet;

    #[doc(hidden)]
    fn deliver(
        &self,
        meta: CallbackMeta,
        body: &Bytes,
        extensions: &mut Extensions,
    ) -> Result<Delivery<Self::Future>, Rejection>;

    #[doc(hidden)]
    fn pass<B>(body: B) -> Self::Body<B>;

    /// A passed-through request: as it came when `Self::Body<B>` is `B` (no move of its head).
    #[doc(hidden)]
    #[inline]
    fn pass_request<B>(req: http::Request<B>) -> http::Request<Self::Body<B>> {
        req.map(Self::pass)
    }

    #[doc(hidden)]
    fn forward<B>(body: Bytes) -> Option<Self::Body<B>>;
}

/// Where an intercepted event went: to a handler (its future), or into the request's extensions for the
/// inner service.
pub struct Delivery<F> {
    pub(crate) to: To<F>,
    pub(crate) room: Room,
}

pub(crate) enum To<F> {
    Handler(F),
    Inner,
}

impl<F> fmt::Debug for Delivery<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.to {
            To::Handler(_) => "Delivery::Handler",
            To::Inner => "Delivery::Inner",
        })
    }
}

impl<F> Delivery<F> {
    fn map_future<G>(self, f: impl FnOnce(F) -> G) -> Delivery<G> {
        let to = match self.to {
            To::Handler(fut) => To::Handler(f(fut)),
            To::Inner => To::Inner,
        };
        Delivery {
            to,
            room: self.room,
        }
    }

    fn handler(fut: F, room: Room) -> Self {
        Delivery {
            to: To::Handler(fut),
            room,
        }
    }
}

/// Puts an event and its metadata into the request's extensions, for the inner service.
fn forward<F, T: Clone + Send + Sync + 'static>(
    event: T,
    room: Room,
    meta: CallbackMeta,
    extensions: &mut Extensions,
) -> Delivery<F> {
    extensions.insert(event);
    extensions.insert(meta);
    Delivery {
        to: To::Inner,
        room,
    }
}

/// The empty chain: intercepts nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoRoutes;

impl sealed::Sealed for NoRoutes {}

impl Routes for NoRoutes {
    type Body<B> = B;
    type Future = std::future::Ready<Result<(), HandlerError>>;

    fn commands(&self) -> CommandSet {
        CommandSet::EMPTY
    }

    fn forwarded(&self) -> CommandSet {
        CommandSet::EMPTY
    }

    fn deliver(
        &self,
        _: CallbackMeta,
        _: &Bytes,
        _: &mut Extensions,
    ) -> Result<Delivery<Self::Future>, Rejection> {
        Err(Rejection::new(RejectionKind::UnknownCommand))
    }

    #[inline]
    fn pass<B>(body: B) -> B {
        body
    }

    #[inline]
    fn pass_request<B>(req: http::Request<B>) -> http::Request<B> {
        req
    }

    fn forward<B>(_: Bytes) -> Option<B> {
        None
    }
}

/// The rest of a chain: the routes the layer held before a link was added.
type Rest<R> = Arc<R>;

/// A handler for event `E`, in front of the rest of the chain.
pub struct On<E, H, R> {
    handler: H,
    rest: Rest<R>,
    _event: PhantomData<fn() -> E>,
}

impl<E, H, R> On<E, H, R> {
    pub(crate) fn new(handler: H, rest: Rest<R>) -> Self {
        On {
            handler,
            rest,
            _event: PhantomData,
        }
    }
}

impl<E: Event, H, R: fmt::Debug> fmt::Debug for On<E, H, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("On")
            .field("command", &E::COMMAND)
            .field("rest", &*self.rest)
            .finish_non_exhaustive()
    }
}

impl<E, H, R> sealed::Sealed for On<E, H, R> {}

impl<E, H, R> Routes for On<E, H, R>
where
    E: Event,
    H: Handler<E>,
    R: Routes,
{
    type Body<B> = R::Body<B>;
    type Future = RouteFuture<H::Future, R::Future>;

    fn commands(&self) -> CommandSet {
        self.rest.commands().with(E::COMMAND)
    }

    fn forwarded(&self) -> CommandSet {
        // A later registration replaces an earlier one for the same command.
        let rest = self.rest.forwarded();
        rest.iter().filter(|c| *c != E::COMMAND).collect()
    }

    fn deliver(
        &self,
        meta: CallbackMeta,
        body: &Bytes,
        extensions: &mut Extensions,
    ) -> Result<Delivery<Self::Future>, Rejection> {
        if meta.command != E::COMMAND {
            return Ok(self
                .rest
                .deliver(meta, body, extensions)?
                .map_future(RouteFuture::rest));
        }
        let event = E::from_json(body)?;
        let room = room(event.room_id());
        Ok(Delivery::handler(
            RouteFuture::this(self.handler.call(event, meta)),
            room,
        ))
    }

    #[inline]
    fn pass<B>(body: B) -> Self::Body<B> {
        R::pass(body)
    }

    #[inline]
    fn pass_request<B>(req: http::Request<B>) -> http::Request<Self::Body<B>> {
        R::pass_request(req)
    }

    fn forward<B>(body: Bytes) -> Option<Self::Body<B>> {
        R::forward(body)
    }
}

/// Delivery of event `E` in the request's extensions (with its [`CallbackMeta`]), in front of the rest of
/// the chain.
pub struct Extension<E, R> {
    rest: Rest<R>,
    _event: PhantomData<fn() -> E>,
}

impl<E, R> Extension<E, R> {
    pub(crate) fn new(rest: Rest<R>) -> Self {
        Extension {
            rest,
            _event: PhantomData,
        }
    }
}

impl<E: Event, R: fmt::Debug> fmt::Debug for Extension<E, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Extension")
            .field("command", &E::COMMAND)
            .field("rest", &*self.rest)
            .finish()
    }
}

impl<E, R> sealed::Sealed for Extension<E, R> {}

impl<E: Event, R: Routes> Routes for Extension<E, R> {
    type Body<B> = RequestBody<B>;
    type Future = R::Future;

    fn commands(&self) -> CommandSet {
        self.rest.commands().with(E::COMMAND)
    }

    fn forwarded(&self) -> CommandSet {
        self.rest.forwarded().with(E::COMMAND)
    }

    fn deliver(
        &self,
        meta: CallbackMeta,
        body: &Bytes,
        extensions: &mut Extensions,
    ) -> Result<Delivery<Self::Future>, Rejection> {
        if meta.command != E::COMMAND {
            return self.rest.deliver(meta, body, extensions);
        }
        let event = E::from_json(body)?;
        let room = room(event.room_id());
        Ok(forward(event, room, meta, extensions))
    }

    #[inline]
    fn pass<B>(body: B) -> RequestBody<B> {
        RequestBody::original(body)
    }

    fn forward<B>(body: Bytes) -> Option<RequestBody<B>> {
        Some(RequestBody::buffered(body))
    }
}

/// One handler over [`RoomEvent`] for a set of commands, in front of the rest of the chain.
pub struct OnAny<H, R> {
    commands: CommandSet,
    handler: H,
    rest: Rest<R>,
}

impl<H, R> OnAny<H, R> {
    pub(crate) fn new(commands: CommandSet, handler: H, rest: Rest<R>) -> Self {
        OnAny {
            commands,
            handler,
            rest,
        }
    }
}

impl<H, R: fmt::Debug> fmt::Debug for OnAny<H, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OnAny")
            .field("commands", &self.commands)
            .field("rest", &*self.rest)
            .finish_non_exhaustive()
    }
}

impl<H, R> sealed::Sealed for OnAny<H, R> {}

impl<H, R> Routes for OnAny<H, R>
where
    H: Handler<RoomEvent>,
    R: Routes,
{
    type Body<B> = R::Body<B>;
    type Future = RouteFuture<H::Future, R::Future>;

    fn commands(&self) -> CommandSet {
        self.rest.commands().union(self.commands)
    }

    fn forwarded(&self) -> CommandSet {
        let rest = self.rest.forwarded();
        rest.iter()
            .filter(|c| !self.commands.contains(*c))
            .collect()
    }

    fn deliver(
        &self,
        meta: CallbackMeta,
        body: &Bytes,
        extensions: &mut Extensions,
    ) -> Result<Delivery<Self::Future>, Rejection> {
        if !self.commands.contains(meta.command) {
            return Ok(self
                .rest
                .deliver(meta, body, extensions)?
                .map_future(RouteFuture::rest));
        }
        let event = RoomEvent::from_json(meta.command, body)?;
        let room = room(event.room_id());
        Ok(Delivery::handler(
            RouteFuture::this(self.handler.call(event, meta)),
            room,
        ))
    }

    #[inline]
    fn pass<B>(body: B) -> Self::Body<B> {
        R::pass(body)
    }

    #[inline]
    fn pass_request<B>(req: http::Request<B>) -> http::Request<Self::Body<B>> {
        R::pass_request(req)
    }

    fn forward<B>(body: Bytes) -> Option<Self::Body<B>> {
        R::forward(body)
    }
}

/// Delivery of [`RoomEvent`] in the request's extensions for a set of commands, in front of the rest of
/// the chain.
pub struct ExtensionAny<R> {
    commands: CommandSet,
    rest: Rest<R>,
}

impl<R> ExtensionAny<R> {
    pub(crate) fn new(commands: CommandSet, rest: Rest<R>) -> Self {
        ExtensionAny { commands, rest }
    }
}

impl<R: fmt::Debug> fmt::Debug for ExtensionAny<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExtensionAny")
            .field("commands", &self.commands)
            .field("rest", &*self.rest)
            .finish()
    }
}

impl<R> sealed::Sealed for ExtensionAny<R> {}

impl<R: Routes> Routes for ExtensionAny<R> {
    type Body<B> = RequestBody<B>;
    type Future = R::Future;

    fn commands(&self) -> CommandSet {
        self.rest.commands().union(self.commands)
    }

    fn forwarded(&self) -> CommandSet {
        self.rest.forwarded().union(self.commands)
    }

    fn deliver(
        &self,
        meta: CallbackMeta,
        body: &Bytes,
        extensions: &mut Extensions,
    ) -> Result<Delivery<Self::Future>, Rejection> {
        if !self.commands.contains(meta.command) {
            return self.rest.deliver(meta, body, extensions);
        }
        let event = RoomEvent::from_json(meta.command, body)?;
        let room = room(event.room_id());
        Ok(forward(event, room, meta, extensions))
    }

    #[inline]
    fn pass<B>(body: B) -> RequestBody<B> {
        RequestBody::original(body)
    }

    fn forward<B>(body: Bytes) -> Option<RequestBody<B>> {
        Some(RequestBody::buffered(body))
    }
}

pin_project! {
    /// The future of a route's handler or of the rest of the chain's.
    #[derive(Debug)]
    pub struct RouteFuture<T, R> {
        #[pin]
        inner: Which<T, R>,
    }
}

pin_project! {
    #[project = WhichProj]
    #[derive(Debug)]
    enum Which<T, R> {
        This { #[pin] fut: T },
        Rest { #[pin] fut: R },
    }
}

impl<T, R> RouteFuture<T, R> {
    fn this(fut: T) -> Self {
        RouteFuture {
            inner: Which::This { fut },
        }
    }
    fn rest(fut: R) -> Self {
        RouteFuture {
            inner: Which::Rest { fut },
        }
    }
}

impl<T, R, O> Future for RouteFuture<T, R>
where
    T: Future<Output = O>,
    R: Future<Output = O>,
{
    type Output = O;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<O> {
        match self.project().inner.project() {
            WhichProj::This { fut } => fut.poll(cx),
            WhichProj::Rest { fut } => fut.poll(cx),
        }
    }
}
