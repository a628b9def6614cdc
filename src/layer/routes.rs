//! How a layer delivers what it intercepts: a chain of per-command routes, built by
//! [`CallbackLayer`](super::CallbackLayer)'s methods, with no boxing.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::request::Parts;
use http::Request;
use pin_project_lite::pin_project;

use super::handler::{Handler, HandlerError};
use crate::command::CommandSet;
use crate::event::{Event, RoomEvent};
use crate::query::CallbackMeta;
use crate::reject::{Rejection, RejectionKind};

mod sealed {
    pub trait Sealed {}
}

/// The routes of a [`CallbackLayer`](super::CallbackLayer): which commands it intercepts and which of
/// them go to the inner service. Sealed: built with `on`, `on_any`, `extension` and `extension_any`.
pub trait Routes: sealed::Sealed + Send + Sync + 'static {
    /// The commands intercepted.
    fn commands(&self) -> CommandSet;

    /// The commands delivered in request extensions to the inner service (the others go to handlers).
    fn forwarded(&self) -> CommandSet;
}

/// How [`Routes`] deliver an event that came with a request body of type `B`.
pub trait Deliver<B>: Routes {
    /// The future of the handlers in the chain.
    type Future: Future<Output = Result<(), HandlerError>> + Send;

    /// Decodes the body for `meta.command` and delivers the event.
    ///
    /// # Errors
    /// A [`Rejection`] when the body does not decode.
    fn deliver(
        &self,
        meta: CallbackMeta,
        parts: Parts,
        body: Bytes,
    ) -> Result<Delivery<Self::Future, B>, Rejection>;
}

/// Where an intercepted event went: to a handler (its future) or to the inner service (the request,
/// with the event in its extensions). Built by the crate's routes only.
pub struct Delivery<F, B> {
    pub(crate) to: To<F, B>,
    pub(crate) room: Room,
}

// Short-lived (moved out at once): boxing the request to even out the sizes would cost an allocation.
#[allow(clippy::large_enum_variant)]
pub(crate) enum To<F, B> {
    Handler(F),
    Inner(Request<B>),
}

/// The room of a delivered event, kept for the trace only when the `tracing` feature is on.
#[cfg(feature = "tracing")]
pub(crate) type Room = Option<String>;
/// The room of a delivered event, kept for the trace only when the `tracing` feature is on.
#[cfg(not(feature = "tracing"))]
#[derive(Debug, Clone, Copy)]
pub(crate) struct Room;

#[cfg(feature = "tracing")]
fn room(id: Option<&str>) -> Room {
    // Copied only when a subscriber may record it: `ERROR` is the least any of its events needs.
    if tracing::enabled!(target: "tencent_room_callback", tracing::Level::ERROR) {
        id.map(str::to_owned)
    } else {
        None
    }
}
#[cfg(not(feature = "tracing"))]
fn room(_: Option<&str>) -> Room {
    Room
}

impl<F, B> Delivery<F, B> {
    fn map_future<G>(self, f: impl FnOnce(F) -> G) -> Delivery<G, B> {
        let to = match self.to {
            To::Handler(fut) => To::Handler(f(fut)),
            To::Inner(req) => To::Inner(req),
        };
        Delivery {
            to,
            room: self.room,
        }
    }
}

/// Puts an event and its metadata into the request's extensions, for the inner service.
fn forward<F, B: From<Bytes>, T: Clone + Send + Sync + 'static>(
    event: T,
    room: Room,
    meta: CallbackMeta,
    parts: Parts,
    body: Bytes,
) -> Delivery<F, B> {
    let mut req = Request::from_parts(parts, B::from(body));
    req.extensions_mut().insert(event);
    req.extensions_mut().insert(meta);
    Delivery {
        to: To::Inner(req),
        room,
    }
}

impl<F, B> fmt::Debug for Delivery<F, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.to {
            To::Handler(_) => "Delivery::Handler",
            To::Inner(_) => "Delivery::Inner",
        })
    }
}

/// The empty chain: intercepts nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoRoutes;

impl sealed::Sealed for NoRoutes {}

impl Routes for NoRoutes {
    fn commands(&self) -> CommandSet {
        CommandSet::EMPTY
    }

    fn forwarded(&self) -> CommandSet {
        CommandSet::EMPTY
    }
}

impl<B> Deliver<B> for NoRoutes {
    type Future = std::future::Ready<Result<(), HandlerError>>;

    fn deliver(
        &self,
        _: CallbackMeta,
        _: Parts,
        _: Bytes,
    ) -> Result<Delivery<Self::Future, B>, Rejection> {
        Err(Rejection::new(RejectionKind::UnknownCommand))
    }
}

/// A handler for event `E`, in front of the rest of the chain.
pub struct On<E, H, R> {
    handler: H,
    rest: R,
    _event: PhantomData<fn() -> E>,
}

impl<E, H, R> On<E, H, R> {
    pub(crate) fn new(handler: H, rest: R) -> Self {
        On {
            handler,
            rest,
            _event: PhantomData,
        }
    }
}

impl<E, H: Clone, R: Clone> Clone for On<E, H, R> {
    fn clone(&self) -> Self {
        On::new(self.handler.clone(), self.rest.clone())
    }
}

impl<E: Event, H, R: fmt::Debug> fmt::Debug for On<E, H, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("On")
            .field("command", &E::COMMAND)
            .field("rest", &self.rest)
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
    fn commands(&self) -> CommandSet {
        self.rest.commands().with(E::COMMAND)
    }

    fn forwarded(&self) -> CommandSet {
        // A later registration replaces an earlier one for the same command.
        let rest = self.rest.forwarded();
        rest.iter().filter(|c| *c != E::COMMAND).collect()
    }
}

impl<B, E, H, R> Deliver<B> for On<E, H, R>
where
    E: Event,
    H: Handler<E>,
    R: Deliver<B>,
{
    type Future = Either<H::Future, R::Future>;

    fn deliver(
        &self,
        meta: CallbackMeta,
        parts: Parts,
        body: Bytes,
    ) -> Result<Delivery<Self::Future, B>, Rejection> {
        if meta.command != E::COMMAND {
            return Ok(self
                .rest
                .deliver(meta, parts, body)?
                .map_future(Either::Right));
        }
        let event = E::from_json(&body)?;
        let room = room(event.room_id());
        Ok(Delivery {
            to: To::Handler(Either::Left(self.handler.call(event, meta))),
            room,
        })
    }
}

/// Delivery of event `E` in the request's extensions (with its [`CallbackMeta`]), in front of the rest of
/// the chain.
pub struct Extension<E, R> {
    rest: R,
    _event: PhantomData<fn() -> E>,
}

impl<E, R> Extension<E, R> {
    pub(crate) fn new(rest: R) -> Self {
        Extension {
            rest,
            _event: PhantomData,
        }
    }
}

impl<E, R: Clone> Clone for Extension<E, R> {
    fn clone(&self) -> Self {
        Extension::new(self.rest.clone())
    }
}

impl<E: Event, R: fmt::Debug> fmt::Debug for Extension<E, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Extension")
            .field("command", &E::COMMAND)
            .field("rest", &self.rest)
            .finish()
    }
}

impl<E, R> sealed::Sealed for Extension<E, R> {}

impl<E: Event, R: Routes> Routes for Extension<E, R> {
    fn commands(&self) -> CommandSet {
        self.rest.commands().with(E::COMMAND)
    }

    fn forwarded(&self) -> CommandSet {
        self.rest.forwarded().with(E::COMMAND)
    }
}

impl<B, E, R> Deliver<B> for Extension<E, R>
where
    B: From<Bytes>,
    E: Event,
    R: Deliver<B>,
{
    type Future = R::Future;

    fn deliver(
        &self,
        meta: CallbackMeta,
        parts: Parts,
        body: Bytes,
    ) -> Result<Delivery<Self::Future, B>, Rejection> {
        if meta.command != E::COMMAND {
            return self.rest.deliver(meta, parts, body);
        }
        let event = E::from_json(&body)?;
        let room = room(event.room_id());
        Ok(forward(event, room, meta, parts, body))
    }
}

/// One handler over [`RoomEvent`] for a set of commands, in front of the rest of the chain.
pub struct OnAny<H, R> {
    commands: CommandSet,
    handler: H,
    rest: R,
}

impl<H, R> OnAny<H, R> {
    pub(crate) fn new(commands: CommandSet, handler: H, rest: R) -> Self {
        OnAny {
            commands,
            handler,
            rest,
        }
    }
}

impl<H: Clone, R: Clone> Clone for OnAny<H, R> {
    fn clone(&self) -> Self {
        OnAny::new(self.commands, self.handler.clone(), self.rest.clone())
    }
}

impl<H, R: fmt::Debug> fmt::Debug for OnAny<H, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OnAny")
            .field("commands", &self.commands)
            .field("rest", &self.rest)
            .finish_non_exhaustive()
    }
}

impl<H, R> sealed::Sealed for OnAny<H, R> {}

impl<H, R> Routes for OnAny<H, R>
where
    H: Handler<RoomEvent>,
    R: Routes,
{
    fn commands(&self) -> CommandSet {
        self.rest.commands().union(self.commands)
    }

    fn forwarded(&self) -> CommandSet {
        let rest = self.rest.forwarded();
        rest.iter()
            .filter(|c| !self.commands.contains(*c))
            .collect()
    }
}

impl<B, H, R> Deliver<B> for OnAny<H, R>
where
    H: Handler<RoomEvent>,
    R: Deliver<B>,
{
    type Future = Either<H::Future, R::Future>;

    fn deliver(
        &self,
        meta: CallbackMeta,
        parts: Parts,
        body: Bytes,
    ) -> Result<Delivery<Self::Future, B>, Rejection> {
        if !self.commands.contains(meta.command) {
            return Ok(self
                .rest
                .deliver(meta, parts, body)?
                .map_future(Either::Right));
        }
        let event = RoomEvent::from_json(meta.command, &body)?;
        let room = room(event.room_id());
        Ok(Delivery {
            to: To::Handler(Either::Left(self.handler.call(event, meta))),
            room,
        })
    }
}

/// Delivery of [`RoomEvent`] in the request's extensions for a set of commands, in front of the rest of
/// the chain.
#[derive(Clone, Debug)]
pub struct ExtensionAny<R> {
    commands: CommandSet,
    rest: R,
}

impl<R> ExtensionAny<R> {
    pub(crate) fn new(commands: CommandSet, rest: R) -> Self {
        ExtensionAny { commands, rest }
    }
}

impl<R> sealed::Sealed for ExtensionAny<R> {}

impl<R: Routes> Routes for ExtensionAny<R> {
    fn commands(&self) -> CommandSet {
        self.rest.commands().union(self.commands)
    }

    fn forwarded(&self) -> CommandSet {
        self.rest.forwarded().union(self.commands)
    }
}

impl<B, R> Deliver<B> for ExtensionAny<R>
where
    B: From<Bytes>,
    R: Deliver<B>,
{
    type Future = R::Future;

    fn deliver(
        &self,
        meta: CallbackMeta,
        parts: Parts,
        body: Bytes,
    ) -> Result<Delivery<Self::Future, B>, Rejection> {
        if !self.commands.contains(meta.command) {
            return self.rest.deliver(meta, parts, body);
        }
        let event = RoomEvent::from_json(meta.command, &body)?;
        let room = room(event.room_id());
        Ok(forward(event, room, meta, parts, body))
    }
}

pin_project! {
    /// The future of one of two handlers in a chain.
    #[derive(Debug)]
    pub struct Either<L, R> {
        #[pin]
        inner: EitherInner<L, R>,
    }
}

pin_project! {
    #[project = EitherProj]
    #[derive(Debug)]
    enum EitherInner<L, R> {
        Left { #[pin] fut: L },
        Right { #[pin] fut: R },
    }
}

#[allow(non_snake_case)]
impl<L, R> Either<L, R> {
    fn Left(fut: L) -> Self {
        Either {
            inner: EitherInner::Left { fut },
        }
    }
    fn Right(fut: R) -> Self {
        Either {
            inner: EitherInner::Right { fut },
        }
    }
}

impl<L, R, T> Future for Either<L, R>
where
    L: Future<Output = T>,
    R: Future<Output = T>,
{
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        match self.project().inner.project() {
            EitherProj::Left { fut } => fut.poll(cx),
            EitherProj::Right { fut } => fut.poll(cx),
        }
    }
}
