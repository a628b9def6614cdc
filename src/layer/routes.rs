//! The routes a layer delivers to: a typed handler ([`CallbackLayer::on`]), a raw handler
//! ([`CallbackLayer::on_command`] and the rest), an extension route ([`CallbackLayer::extension`]); and
//! what a raw handler receives, [`RawCallback`].
//!
//! [`CallbackLayer::on`]: super::CallbackLayer::on
//! [`CallbackLayer::on_command`]: super::CallbackLayer::on_command
//! [`CallbackLayer::extension`]: super::CallbackLayer::extension

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::Extensions;
use pin_project_lite::pin_project;
use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};

use super::handler::{Handler, HandlerError};
use super::router::{Delivered, Intercepted, Route};
use crate::ack::Ack;
use crate::command::{CallbackCommand, TRTC_PREFIX};
use crate::config::DEFAULT_MAX_MEMBERS;
use crate::event::{decode_object, Event, RoomEvent};
use crate::meta::{CallbackMeta, DeliveryKey};
use crate::reject::{Rejection, RejectionKind};
use crate::trace::{room, Room};

/// A typed handler: decodes `E`, hands it to the handler.
pub(crate) struct OnEvent<E, H> {
    handler: H,
    event: PhantomData<fn() -> E>,
}

impl<E, H> OnEvent<E, H> {
    pub(crate) fn new(handler: H) -> Self {
        OnEvent {
            handler,
            event: PhantomData,
        }
    }
}

impl<E: Event, H: Handler<E>> Route for OnEvent<E, H> {
    fn deliver(
        &self,
        mut callback: Intercepted<'_>,
        _: &mut Extensions,
    ) -> Result<(Delivered, Room), Rejection> {
        let event = callback.decode::<E>()?;
        let room = room(event.room_id());
        let fut = Acked {
            fut: self.handler.call(event, callback.meta),
        };
        Ok((Delivered::Handler(Box::pin(fut)), room))
    }

    fn kind(&self) -> &'static str {
        "on"
    }
}

/// A raw handler: the body checked as the layer checks every body, then handed over as received.
pub(crate) struct OnRaw<H> {
    handler: H,
}

impl<H> OnRaw<H> {
    pub(crate) fn new(handler: H) -> Self {
        OnRaw { handler }
    }
}

impl<H: RawHandler> Route for OnRaw<H> {
    fn deliver(
        &self,
        callback: Intercepted<'_>,
        _: &mut Extensions,
    ) -> Result<(Delivered, Room), Rejection> {
        check_body(&callback.meta, callback.body, callback.max_members)?;
        let raw = RawCallback {
            meta: callback.meta,
            body: callback.body.clone(),
            max_members: callback.max_members,
        };
        // No room: a raw body is not looked into here.
        Ok((
            Delivered::Handler(Box::pin(self.handler.call(raw))),
            room(None),
        ))
    }

    fn kind(&self) -> &'static str {
        "raw"
    }
}

/// An extension route: decodes `E`, puts it and its metadata into the request's extensions.
pub(crate) struct Forward<E> {
    event: PhantomData<fn() -> E>,
}

impl<E> Forward<E> {
    pub(crate) fn new() -> Self {
        Forward { event: PhantomData }
    }
}

impl<E: Event> Route for Forward<E> {
    fn deliver(
        &self,
        mut callback: Intercepted<'_>,
        extensions: &mut Extensions,
    ) -> Result<(Delivered, Room), Rejection> {
        let event = callback.decode::<E>()?;
        let room = room(event.room_id());
        extensions.insert(event);
        extensions.insert(callback.meta);
        Ok((Delivered::Inner, room))
    }

    fn kind(&self) -> &'static str {
        "extension"
    }
}

/// The checks the layer makes of every body it hands to a raw handler, the same as a typed route's: a
/// Room event decodes as its type; any other body is one JSON object, whose `CallbackCommand`, when it
/// has one, is a string naming the query's command (any of its spellings). TRTC events were checked
/// where they were verified.
pub(crate) fn check_body(
    meta: &CallbackMeta,
    body: &[u8],
    max_members: usize,
) -> Result<(), Rejection> {
    let command = &meta.command;
    if command.typed().is_some() {
        return RoomEvent::decode(meta, body, max_members).map(drop);
    }
    if command.as_str().starts_with(TRTC_PREFIX) {
        return Ok(());
    }
    // Nothing is built from the body here (no list to bound).
    let _ = max_members;
    let top: TopLevel = decode_object(body)?;
    match top.command {
        Some(named) if CallbackCommand::new(&named) != *command => Err(Rejection::with_detail(
            RejectionKind::MalformedBody,
            format_args!(
                "CallbackCommand in the body is {}, the query says {:?}",
                crate::value::Quoted(&named),
                command.as_str()
            ),
        )),
        _ => Ok(()),
    }
}

/// What the layer needs to know of a raw body: that it is one JSON object (every value checked, none
/// converted or kept), and its top-level `CallbackCommand`, which must be a string given at most once.
struct TopLevel {
    command: Option<String>,
}

impl<'de> Deserialize<'de> for TopLevel {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Object;
        impl<'de> Visitor<'de> for Object {
            type Value = TopLevel;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TopLevel, A::Error> {
                let mut command = None;
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    if key != "CallbackCommand" {
                        map.next_value::<IgnoredAny>()?;
                    } else if command.is_some() {
                        return Err(de::Error::duplicate_field("CallbackCommand"));
                    } else {
                        command = Some(map.next_value::<String>()?);
                    }
                }
                Ok(TopLevel { command })
            }
        }
        d.deserialize_map(Object)
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
    /// The bound on lists the layer checked the body with.
    max_members: usize,
}

impl RawCallback {
    /// A callback with this metadata and body, to be decoded with the default bound on lists
    /// ([`Config::DEFAULT_MAX_MEMBERS`](crate::Config::DEFAULT_MAX_MEMBERS)): for a queue that hands
    /// stored callbacks back, or for calling a [`RawHandler`] in a test.
    pub fn new(meta: CallbackMeta, body: Bytes) -> Self {
        RawCallback {
            meta,
            body,
            max_members: DEFAULT_MAX_MEMBERS,
        }
    }

    /// This callback, to be decoded with `max_members` as the bound on lists: a queue that stored
    /// [`max_members`](Self::max_members) gives it back this way, so that its workers decode with the
    /// bound the layer checked the body with.
    #[must_use]
    pub fn with_max_members(mut self, max_members: usize) -> Self {
        self.max_members = max_members;
        self
    }

    /// The bound on lists this callback decodes with: the layer's
    /// [`Config::max_members`](crate::Config::max_members) for a callback it delivered.
    pub fn max_members(&self) -> usize {
        self.max_members
    }

    /// The key of this delivery, what copies of it share: see [`DeliveryKey`].
    pub fn key(&self) -> DeliveryKey {
        delivery_key(&self.meta, &self.body)
    }

    /// The body decoded as event `E` (its command must be one `E` takes), lists bounded by
    /// [`max_members`](Self::max_members).
    ///
    /// # Errors
    /// As [`Event::decode`]; a command `E` does not take is [`RejectionKind::UnknownCommand`].
    pub fn decode<E: Event>(&self) -> Result<E, Rejection> {
        E::decode(&self.meta, &self.body, self.max_members)
    }

    /// The body decoded as JSON into your `T` (a JSON object only, as Tencent sends). Lists in `T` are
    /// yours to bound (the body is within the layer's body limit); the crate's own types are decoded,
    /// bounded by [`max_members`](Self::max_members), with [`decode`](Self::decode).
    ///
    /// # Errors
    /// A [`Rejection`] of kind [`RejectionKind::MalformedBody`]: returned from the handler (`?` makes it
    /// a [`HandlerError`]), it answers 400 with that rejection, as a malformed Room event does.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, Rejection> {
        decode_object(&self.body)
    }
}

/// An async handler of callbacks by command name or prefix ([`CallbackLayer::on_command`],
/// [`CallbackLayer::on_prefix`]), of every notification or every decision
/// ([`CallbackLayer::on_notifications`], [`CallbackLayer::on_decisions`]), answering with an [`Ack`]:
/// [`Ack::ok`] for a notification, or the decision of a decision callback ([`Ack::decision`], extra
/// fields).
///
/// Implemented for every `Fn(RawCallback) -> impl Future<Output = Result<Ack, HandlerError>>`.
///
/// [`CallbackLayer::on_command`]: crate::CallbackLayer::on_command
/// [`CallbackLayer::on_prefix`]: crate::CallbackLayer::on_prefix
/// [`CallbackLayer::on_notifications`]: crate::CallbackLayer::on_notifications
/// [`CallbackLayer::on_decisions`]: crate::CallbackLayer::on_decisions
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
    struct Acked<F> {
        #[pin]
        fut: F,
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

/// The key of a verified callback as it was delivered: [`DeliveryKey::of`] its app, command and body;
/// for a TRTC event, the event's identity (a retry may carry a new `CallbackTs`).
pub(crate) fn delivery_key(meta: &CallbackMeta, body: &[u8]) -> DeliveryKey {
    if crate::trtc::EventCode::of(&meta.command).is_some() {
        if let Ok(key) = crate::trtc::delivery_key(meta.sdk_app_id, body) {
            return key;
        }
    }
    DeliveryKey::of(meta.sdk_app_id, meta.command.as_str(), body)
}
