//! The bodies the layer puts on either side of the inner service: [`ResponseBody`] for every answer,
//! [`RequestBody`] for the requests an extension route forwards; and the [`BodyMode`] of a layer, which
//! says which request body its inner service receives.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

pin_project! {
    /// The response body of [`Callback`](super::Callback): the inner service's own body, untouched, or
    /// the layer's acknowledgment bytes.
    ///
    /// Its only bound is the inner body's own (`Body<Data = Bytes>`), as with tower-http's bodies, so
    /// the layer sits anywhere in a stack: inside or outside `TraceLayer`, `CompressionLayer`,
    /// `CatchPanicLayer` and the rest.
    pub struct ResponseBody<B> {
        #[pin]
        kind: Kind<B>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<B> {
        Inner { #[pin] body: B },
        Bytes { bytes: Option<Bytes> },
    }
}

impl<B> ResponseBody<B> {
    /// The inner service's body.
    #[inline]
    pub(crate) fn inner(body: B) -> Self {
        ResponseBody {
            kind: Kind::Inner { body },
        }
    }

    fn bytes(bytes: Bytes) -> Self {
        ResponseBody {
            kind: Kind::Bytes {
                bytes: Some(bytes).filter(|b| !b.is_empty()),
            },
        }
    }
}

/// An empty body, whatever `B` is: tower-http's `Timeout` and `Cors` answer with one, so the layer
/// can sit inside them in a `ServiceBuilder`.
impl<B> Default for ResponseBody<B> {
    fn default() -> Self {
        ResponseBody::bytes(Bytes::new())
    }
}

/// The layer's own answers are built from bytes.
impl<B> From<Bytes> for ResponseBody<B> {
    fn from(bytes: Bytes) -> Self {
        ResponseBody::bytes(bytes)
    }
}

/// Both bodies are one of the two kinds: the other body, or bytes of the layer's.
impl<B> Body for Kind<B>
where
    B: Body<Data = Bytes>,
{
    type Data = Bytes;
    type Error = B::Error;

    #[inline]
    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        match self.project() {
            KindProj::Inner { body } => body.poll_frame(cx),
            KindProj::Bytes { bytes } => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Kind::Inner { body } => body.is_end_stream(),
            Kind::Bytes { bytes } => bytes.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Kind::Inner { body } => body.size_hint(),
            Kind::Bytes { bytes } => {
                SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64))
            }
        }
    }
}

impl<B> Body for ResponseBody<B>
where
    B: Body<Data = Bytes>,
{
    type Data = Bytes;
    type Error = B::Error;

    #[inline]
    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        self.project().kind.poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.kind.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.kind.size_hint()
    }
}

impl<B> fmt::Debug for ResponseBody<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Inner { .. } => f.write_str("ResponseBody::Inner"),
            Kind::Bytes { bytes } => f
                .debug_struct("ResponseBody::Bytes")
                .field("len", &bytes.as_ref().map_or(0, Bytes::len))
                .finish(),
        }
    }
}

pin_project! {
    /// The request body the inner service receives when an [extension
    /// route](super::CallbackLayer::extension) is registered: the original body, untouched, for a
    /// request the layer passes through, or the bytes the layer read for a callback it forwards (the
    /// event is then in the request's extensions).
    ///
    /// It is a `Body<Data = Bytes>` whose error is the original body's, so it meets the bounds of
    /// axum's `Router` and of anything that takes hyper's `Incoming`.
    pub struct RequestBody<B> {
        #[pin]
        kind: Kind<B>,
    }
}

impl<B> RequestBody<B> {
    /// A passed-through request's body, untouched.
    #[inline]
    pub(crate) fn original(body: B) -> Self {
        RequestBody {
            kind: Kind::Inner { body },
        }
    }

    /// A forwarded callback's body, as read.
    pub(crate) fn buffered(bytes: Bytes) -> Self {
        RequestBody {
            kind: Kind::Bytes {
                bytes: Some(bytes).filter(|b| !b.is_empty()),
            },
        }
    }

    /// Whether this is a forwarded callback's body, read by the layer (rather than the original body).
    pub fn is_buffered(&self) -> bool {
        matches!(self.kind, Kind::Bytes { .. })
    }
}

impl<B> Body for RequestBody<B>
where
    B: Body<Data = Bytes>,
{
    type Data = Bytes;
    type Error = B::Error;

    #[inline]
    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        self.project().kind.poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.kind.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.kind.size_hint()
    }
}

impl<B> fmt::Debug for RequestBody<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Inner { .. } => f.write_str("RequestBody::Original"),
            Kind::Bytes { bytes } => f
                .debug_struct("RequestBody::Buffered")
                .field("len", &bytes.as_ref().map_or(0, Bytes::len))
                .finish(),
        }
    }
}

mod sealed {
    pub trait Sealed {}
}

/// Which request body a layer's inner service receives, for an incoming body `B`: named by the type
/// parameter of [`CallbackLayer`](crate::CallbackLayer), which starts as [`HandlersOnly`] and becomes
/// [`WithExtensions`] with the first extension route. Sealed.
pub trait BodyMode: sealed::Sealed + Send + Sync + 'static {
    /// The body of the requests the inner service receives.
    type Body<B>;

    /// A passed-through request's body, for the inner service.
    fn pass<B>(body: B) -> Self::Body<B>;

    /// A passed-through request, for the inner service: as it came when the body is unchanged (its
    /// head is not even moved).
    #[inline]
    fn pass_request<B>(req: http::Request<B>) -> http::Request<Self::Body<B>> {
        req.map(Self::pass)
    }

    /// A forwarded callback's body (the bytes the layer read), when this mode can carry one.
    fn forward<B>(bytes: Bytes) -> Option<Self::Body<B>>;
}

/// The mode of a layer whose routes all have handlers: the inner service receives every request it
/// gets (only what the layer passes through) exactly as it came, body type `B` and all.
#[derive(Debug, Clone, Copy, Default)]
pub struct HandlersOnly;

/// The mode of a layer with an extension route ([`CallbackLayer::extension`]): the inner service
/// receives a [`RequestBody<B>`] (the original body of a passed-through request, the bytes the layer
/// read for a forwarded callback).
///
/// [`CallbackLayer::extension`]: crate::CallbackLayer::extension
#[derive(Debug, Clone, Copy, Default)]
pub struct WithExtensions;

impl sealed::Sealed for HandlersOnly {}
impl sealed::Sealed for WithExtensions {}

impl BodyMode for HandlersOnly {
    type Body<B> = B;

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

impl BodyMode for WithExtensions {
    type Body<B> = RequestBody<B>;

    #[inline]
    fn pass<B>(body: B) -> RequestBody<B> {
        RequestBody::original(body)
    }

    fn forward<B>(bytes: Bytes) -> Option<RequestBody<B>> {
        Some(RequestBody::buffered(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt, Empty, Full};

    fn now<F: std::future::Future>(f: F) -> F::Output {
        match std::pin::pin!(f).poll(&mut Context::from_waker(std::task::Waker::noop())) {
            Poll::Ready(v) => v,
            Poll::Pending => unreachable!("ready at once"),
        }
    }

    #[test]
    fn both_kinds_stream_their_bytes_and_say_their_size() {
        let ours = ResponseBody::<Empty<Bytes>>::from(Bytes::from_static(b"ack"));
        assert_eq!(ours.size_hint().exact(), Some(3));
        assert!(!ours.is_end_stream());
        assert_eq!(now(ours.collect()).unwrap().to_bytes(), "ack");
        let theirs = ResponseBody::inner(Full::new(Bytes::from_static(b"app")));
        assert_eq!(theirs.size_hint().exact(), Some(3));
        assert_eq!(now(theirs.collect()).unwrap().to_bytes(), "app");
        let empty = ResponseBody::<Empty<Bytes>>::from(Bytes::new());
        assert!(empty.is_end_stream());
        // `Default` needs nothing of the inner body type.
        struct NotDefault;
        let default = ResponseBody::<NotDefault>::default();
        assert_eq!(format!("{default:?}"), "ResponseBody::Bytes { len: 0 }");
        assert!(ResponseBody::<Empty<Bytes>>::default().is_end_stream());

        let read = RequestBody::<Empty<Bytes>>::buffered(Bytes::from_static(b"{}"));
        assert!(read.is_buffered());
        assert_eq!(now(read.collect()).unwrap().to_bytes(), "{}");
        let original = RequestBody::original(Full::new(Bytes::from_static(b"x")));
        assert!(!original.is_buffered());
        assert_eq!(format!("{original:?}"), "RequestBody::Original");
        assert_eq!(now(original.collect()).unwrap().to_bytes(), "x");
    }
}
