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
use crate::ack::Ack;
use crate::command::{CallbackCommand, CommandSet, Rank};
use crate::event::{decode_json, Event, RoomEvent};
use crate::meta::CallbackMeta;
use crate::reject::{Rejection, RejectionKind};
use crate::trace::{room, Room};

pub(crate) mod sealed {
    pub trait Sealed {}
}

/// The routes of a [`CallbackLayer`](super::CallbackLayer): which commands it intercepts, where their
/// events go, and what request body the inner service receives. Sealed: built with `on`, `on_any`,
/// `extension` and `extension_any`.
pub trait Routes: sealed::Sealed + Send + Sync + 'static {
    /// The body of the requests the inner service receives, for an incoming body `B`: `B` itself, as
    /// it came, when every route has a handler (the inner service then only sees requests the layer
    /// passes through), or [`RequestBody<B>`](crate::service::RequestBody) once an extension route is registered
    /// (the original body for a passed-through request, the bytes the layer read for a forwarded one).
    type Body<B>;

    #[doc(hidden)]
    type Future: Future<Output = Result<Ack, HandlerError>> + Send + 'static;

    /// How many links the chain has: a link's place in it.
    #[doc(hidden)]
    fn depth(&self) -> u16;

    /// The route that takes `command`, if any: a typed route wins over an exact name, an exact name
    /// over a prefix, a longer prefix over a shorter one, a later registration over an earlier one.
    #[doc(hidden)]
    fn select(&self, command: &CallbackCommand) -> Option<Selected>;

    #[doc(hidden)]
    fn deliver(
        &self,
        at: u16,
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

/// The route a chain picked for a command: where it is in the chain, how well it matched, and whether
/// it forwards the event to the inner service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Selected {
    pub(crate) at: u16,
    pub(crate) rank: Rank,
    pub(crate) forward: bool,
}

/// The better of a link's own match and the rest's: the link's on a tie (it was registered later).
fn better(mine: Option<Selected>, rest: Option<Selected>) -> Option<Selected> {
    match (mine, rest) {
        (Some(m), Some(r)) if r.rank > m.rank => Some(r),
        (Some(m), _) => Some(m),
        (None, r) => r,
    }
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
    type Future = std::future::Ready<Result<Ack, HandlerError>>;

    fn depth(&self) -> u16 {
        0
    }

    fn select(&self, _: &CallbackCommand) -> Option<Selected> {
        None
    }

    fn deliver(
        &self,
        _: u16,
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

/// The place of a link in front of `rest`.
fn depth_over<R: Routes>(rest: &R) -> u16 {
    rest.depth().saturating_add(1)
}

/// A handler for event `E`, in front of the rest of the chain.
pub struct On<E, H, R> {
    handler: H,
    rest: Rest<R>,
    at: u16,
    _event: PhantomData<fn() -> E>,
}

impl<E, H, R: Routes> On<E, H, R> {
    pub(crate) fn new(handler: H, rest: Rest<R>) -> Self {
        On {
            handler,
            at: depth_over(&*rest),
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
    type Future = RouteFuture<Acked<H::Future>, R::Future>;

    fn depth(&self) -> u16 {
        self.at
    }

    fn select(&self, command: &CallbackCommand) -> Option<Selected> {
        let mine = (*command == E::COMMAND).then_some(Selected {
            at: self.at,
            rank: Rank::Typed,
            forward: false,
        });
        better(mine, self.rest.select(command))
    }

    fn deliver(
        &self,
        at: u16,
        meta: CallbackMeta,
        body: &Bytes,
        extensions: &mut Extensions,
    ) -> Result<Delivery<Self::Future>, Rejection> {
        if at != self.at {
            return Ok(self
                .rest
                .deliver(at, meta, body, extensions)?
                .map_future(RouteFuture::rest));
        }
        let event = E::from_json(body)?;
        let room = room(event.room_id());
        Ok(Delivery::handler(
            RouteFuture::this(Acked::new(self.handler.call(event, meta))),
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
    at: u16,
    _event: PhantomData<fn() -> E>,
}

impl<E, R: Routes> Extension<E, R> {
    pub(crate) fn new(rest: Rest<R>) -> Self {
        Extension {
            at: depth_over(&*rest),
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

    fn depth(&self) -> u16 {
        self.at
    }

    fn select(&self, command: &CallbackCommand) -> Option<Selected> {
        let mine = (*command == E::COMMAND).then_some(Selected {
            at: self.at,
            rank: Rank::Typed,
            forward: true,
        });
        better(mine, self.rest.select(command))
    }

    fn deliver(
        &self,
        at: u16,
        meta: CallbackMeta,
        body: &Bytes,
        extensions: &mut Extensions,
    ) -> Result<Delivery<Self::Future>, Rejection> {
        if at != self.at {
            return self.rest.deliver(at, meta, body, extensions);
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
    at: u16,
}

impl<H, R: Routes> OnAny<H, R> {
    pub(crate) fn new(commands: CommandSet, handler: H, rest: Rest<R>) -> Self {
        OnAny {
            commands,
            handler,
            at: depth_over(&*rest),
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
    type Future = RouteFuture<Acked<H::Future>, R::Future>;

    fn depth(&self) -> u16 {
        self.at
    }

    fn select(&self, command: &CallbackCommand) -> Option<Selected> {
        let mine = command
            .typed()
            .filter(|c| self.commands.contains(*c))
            .map(|_| Selected {
                at: self.at,
                rank: Rank::Typed,
                forward: false,
            });
        better(mine, self.rest.select(command))
    }

    fn deliver(
        &self,
        at: u16,
        meta: CallbackMeta,
        body: &Bytes,
        extensions: &mut Extensions,
    ) -> Result<Delivery<Self::Future>, Rejection> {
        let command = match meta.command.typed() {
            Some(c) if at == self.at => c,
            _ => {
                return Ok(self
                    .rest
                    .deliver(at, meta, body, extensions)?
                    .map_future(RouteFuture::rest))
            }
        };
        let event = RoomEvent::from_json(command, body)?;
        let room = room(event.room_id());
        Ok(Delivery::handler(
            RouteFuture::this(Acked::new(self.handler.call(event, meta))),
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
    at: u16,
}

impl<R: Routes> ExtensionAny<R> {
    pub(crate) fn new(commands: CommandSet, rest: Rest<R>) -> Self {
        ExtensionAny {
            commands,
            at: depth_over(&*rest),
            rest,
        }
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

    fn depth(&self) -> u16 {
        self.at
    }

    fn select(&self, command: &CallbackCommand) -> Option<Selected> {
        let mine = command
            .typed()
            .filter(|c| self.commands.contains(*c))
            .map(|_| Selected {
                at: self.at,
                rank: Rank::Typed,
                forward: true,
            });
        better(mine, self.rest.select(command))
    }

    fn deliver(
        &self,
        at: u16,
        meta: CallbackMeta,
        body: &Bytes,
        extensions: &mut Extensions,
    ) -> Result<Delivery<Self::Future>, Rejection> {
        let command = match meta.command.typed() {
            Some(c) if at == self.at => c,
            _ => return self.rest.deliver(at, meta, body, extensions),
        };
        let event = RoomEvent::from_json(command, body)?;
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

/// Which commands a [`OnCommand`] route takes: one name, or every name with a prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Pattern {
    Exact(Box<str>),
    Prefix(Box<str>),
    /// Every command that is not a "before" callback.
    After,
    /// Every "before" callback.
    Before,
}

/// A handler for a command by name or prefix, with the raw body ([`RawCallback`]), in front of the rest
/// of the chain. Typed routes win over it for the commands they take.
pub struct OnCommand<H, R> {
    pattern: Pattern,
    handler: H,
    rest: Rest<R>,
    at: u16,
}

impl<H, R: Routes> OnCommand<H, R> {
    fn new(pattern: Pattern, handler: H, rest: Rest<R>) -> Self {
        OnCommand {
            pattern,
            handler,
            at: depth_over(&*rest),
            rest,
        }
    }

    pub(crate) fn exact(name: impl Into<String>, handler: H, rest: Rest<R>) -> Self {
        OnCommand::new(Pattern::Exact(name.into().into_boxed_str()), handler, rest)
    }

    pub(crate) fn before(handler: H, rest: Rest<R>) -> Self {
        OnCommand::new(Pattern::Before, handler, rest)
    }

    pub(crate) fn after(handler: H, rest: Rest<R>) -> Self {
        OnCommand::new(Pattern::After, handler, rest)
    }

    pub(crate) fn prefix(prefix: impl Into<String>, handler: H, rest: Rest<R>) -> Self {
        OnCommand::new(
            Pattern::Prefix(prefix.into().into_boxed_str()),
            handler,
            rest,
        )
    }
}

impl<H, R: fmt::Debug> fmt::Debug for OnCommand<H, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OnCommand")
            .field("pattern", &self.pattern)
            .field("rest", &*self.rest)
            .finish_non_exhaustive()
    }
}

impl<H, R> sealed::Sealed for OnCommand<H, R> {}

impl<H, R> Routes for OnCommand<H, R>
where
    H: RawHandler,
    R: Routes,
{
    type Body<B> = R::Body<B>;
    type Future = RouteFuture<H::Future, R::Future>;

    fn depth(&self) -> u16 {
        self.at
    }

    fn select(&self, command: &CallbackCommand) -> Option<Selected> {
        let name = command.as_str();
        let rank = match &self.pattern {
            Pattern::Exact(n) if **n == *name => Some(Rank::Exact),
            Pattern::Prefix(p) if name.starts_with(&**p) => Some(Rank::Prefix(p.len())),
            Pattern::After if !command.is_before() => Some(Rank::After),
            Pattern::Before if command.is_before() => Some(Rank::After),
            _ => None,
        };
        let mine = rank.map(|rank| Selected {
            at: self.at,
            rank,
            forward: false,
        });
        better(mine, self.rest.select(command))
    }

    fn deliver(
        &self,
        at: u16,
        meta: CallbackMeta,
        body: &Bytes,
        extensions: &mut Extensions,
    ) -> Result<Delivery<Self::Future>, Rejection> {
        if at != self.at {
            return Ok(self
                .rest
                .deliver(at, meta, body, extensions)?
                .map_future(RouteFuture::rest));
        }
        // No room: a raw body is not looked into here.
        let callback = RawCallback {
            meta,
            body: body.clone(),
        };
        Ok(Delivery::handler(
            RouteFuture::this(self.handler.call(callback)),
            room(None),
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

/// A verified callback of any command, as a [`RawHandler`] receives it: its metadata and its body as
/// received.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RawCallback {
    /// What the query says (the app, the command, the client...), verified.
    pub meta: CallbackMeta,
    /// The body, as received.
    pub body: Bytes,
}

impl RawCallback {
    /// A callback with this metadata and body: for a queue that hands stored callbacks back, or for
    /// calling a [`RawHandler`] in a test.
    pub fn new(meta: CallbackMeta, body: Bytes) -> Self {
        RawCallback { meta, body }
    }

    /// The key of this delivery (its app, command and body bytes): what copies of it share. See
    /// [`DeliveryKey`](crate::meta::DeliveryKey).
    pub fn key(&self) -> crate::meta::DeliveryKey {
        crate::meta::DeliveryKey::of(self.meta.sdk_app_id, self.meta.command.as_str(), &self.body)
    }

    /// The body decoded as JSON into `T` (a JSON object only, as Tencent sends).
    ///
    /// # Errors
    /// A [`Rejection`] of kind [`RejectionKind::MalformedBody`]: returned from the handler (`?` makes it
    /// a [`HandlerError`]), it answers 400 with that rejection, as a malformed Room event does.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, Rejection> {
        decode_json(&self.body)
    }
}

/// An async handler of callbacks by command name or prefix ([`CallbackLayer::on_command`],
/// [`CallbackLayer::on_prefix`]), answering with an [`Ack`]: [`Ack::ok`] for an "after" callback, or
/// the decision of a "before" callback ([`Ack::decision`], extra fields).
///
/// Implemented for every `Fn(RawCallback) -> impl Future<Output = Result<Ack, HandlerError>>`.
///
/// [`CallbackLayer::on_command`]: crate::CallbackLayer::on_command
/// [`CallbackLayer::on_prefix`]: crate::CallbackLayer::on_prefix
pub trait RawHandler: Send + Sync + 'static {
    /// The future the handler returns.
    type Future: Future<Output = Result<Ack, HandlerError>> + Send + 'static;

    /// Handles one callback.
    fn call(&self, callback: RawCallback) -> Self::Future;
}

impl<F, Fut> RawHandler for F
where
    F: Fn(RawCallback) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Ack, HandlerError>> + Send + 'static,
{
    type Future = Fut;

    fn call(&self, callback: RawCallback) -> Fut {
        self(callback)
    }
}

pin_project! {
    /// A typed handler's future, answering the OK acknowledgment for `Ok(())`.
    #[derive(Debug)]
    pub struct Acked<F> {
        #[pin]
        fut: F,
    }
}

impl<F> Acked<F> {
    fn new(fut: F) -> Self {
        Acked { fut }
    }
}

impl<F> Future for Acked<F>
where
    F: Future<Output = Result<(), HandlerError>>,
{
    type Output = Result<Ack, HandlerError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project().fut.poll(cx).map_ok(|()| Ack::ok())
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
