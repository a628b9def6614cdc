//! The user's handler: what runs for an intercepted, verified, decoded event.

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use pin_project_lite::pin_project;
use tower_service::Service;

use crate::ack::Ack;
use crate::meta::CallbackMeta;

/// A handler's answer, type-erased: one allocation per intercepted callback.
pub(crate) type AckFuture = Pin<Box<dyn Future<Output = Result<Ack, HandlerError>> + Send>>;

/// A boxed error: what `tower` middleware returns.
pub(crate) type BoxError = Box<dyn StdError + Send + Sync>;

/// An async handler of events `E`.
///
/// Implemented for every `Fn(E, CallbackMeta) -> impl Future<Output = Result<(), HandlerError>>`,
/// including `async fn`s; for any `tower::Service` through [`ServiceHandler`] (so that tower's
/// middleware, such as a timeout, a concurrency limit or load shedding, can wrap a handler); and for your
/// own types holding state. A handler need not be `Clone`: the layer shares it behind an `Arc`.
///
/// ```
/// use std::future::Future;
/// use std::pin::Pin;
/// use std::sync::{Arc, Mutex};
/// use tencent_room_callback::{CallbackMeta, Handler, HandlerError, MemberLeave};
///
/// #[derive(Default)]
/// struct Presence(Arc<Mutex<Vec<String>>>);
///
/// impl Handler<MemberLeave> for Presence {
///     type Future = Pin<Box<dyn Future<Output = Result<(), HandlerError>> + Send>>;
///     fn call(&self, event: MemberLeave, _meta: CallbackMeta) -> Self::Future {
///         let left = self.0.clone();
///         Box::pin(async move {
///             left.lock().unwrap().extend(event.members.into_iter().map(|m| m.into_string()));
///             Ok(())
///         })
///     }
/// }
/// ```
///
/// `Ok(())` answers the OK acknowledgment. An error answers 500 with a FAIL acknowledgment whose
/// `ErrorInfo` is fixed ("the handler failed"): the error itself is not sent to Tencent (it may carry
/// internal details) but is reported through `tracing` when that feature is on. An error made with
/// [`HandlerError::unavailable`] answers 503 instead. A panic answers 500 and is reported too; the
/// server keeps serving.
pub trait Handler<E>: Send + Sync + 'static {
    /// The future the handler returns.
    type Future: Future<Output = Result<(), HandlerError>> + Send + 'static;

    /// Handles one event.
    fn call(&self, event: E, meta: CallbackMeta) -> Self::Future;
}

impl<E, F, Fut> Handler<E> for F
where
    F: Fn(E, CallbackMeta) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), HandlerError>> + Send + 'static,
{
    type Future = Fut;

    fn call(&self, event: E, meta: CallbackMeta) -> Fut {
        self(event, meta)
    }
}

/// Why a handler did not take an event.
///
/// Any `std::error::Error + Send + Sync + 'static` converts into it with `?`. It converts into a
/// `Box<dyn Error + Send + Sync>` too (a service handler may return it through tower's middleware), and
/// comes back out of one as itself, [`unavailable`](Self::unavailable) kept.
pub struct HandlerError {
    unavailable: bool,
    source: BoxError,
}

impl HandlerError {
    /// A failure: the answer is 500 with a FAIL acknowledgment.
    pub fn new(error: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        HandlerError::from_boxed(error.into(), false)
    }

    /// Takes a boxed error back: a `HandlerError` that was boxed is itself again.
    fn from_boxed(error: BoxError, unavailable: bool) -> Self {
        match error.downcast::<Boxed>() {
            Ok(boxed) => HandlerError {
                unavailable: unavailable || boxed.0.unavailable,
                source: boxed.0.source,
            },
            Err(source) => HandlerError {
                unavailable,
                source,
            },
        }
    }

    /// A failure with just a message.
    pub fn msg(message: impl fmt::Display) -> Self {
        HandlerError::new(message.to_string())
    }

    /// The handler cannot take the event now (a full queue, a dependency down): the answer is 503 with a
    /// FAIL acknowledgment, so that Tencent's retry, where enabled, can deliver it again.
    pub fn unavailable(error: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        HandlerError::from_boxed(error.into(), true)
    }

    /// Whether this is an [`unavailable`](Self::unavailable) error.
    pub fn is_unavailable(&self) -> bool {
        self.unavailable
    }

    /// The underlying error.
    pub fn get_ref(&self) -> &(dyn StdError + Send + Sync + 'static) {
        &*self.source
    }

    /// The underlying error, owned.
    pub fn into_source(self) -> Box<dyn StdError + Send + Sync> {
        self.source
    }
}

impl<E: StdError + Send + Sync + 'static> From<E> for HandlerError {
    fn from(error: E) -> Self {
        HandlerError::new(error)
    }
}

impl fmt::Debug for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HandlerError")
            .field("unavailable", &self.unavailable)
            .field("source", &self.source)
            .finish()
    }
}

impl fmt::Display for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.source, f)
    }
}

/// A [`HandlerError`] in a box: `HandlerError` is not a `std::error::Error` itself (it converts from
/// every one), so a box of it carries this, which [`HandlerError::new`] unwraps again.
struct Boxed(HandlerError);

impl fmt::Debug for Boxed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for Boxed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl StdError for Boxed {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&*self.0.source)
    }
}

impl From<HandlerError> for Box<dyn StdError + Send + Sync> {
    fn from(error: HandlerError) -> Self {
        Box::new(Boxed(error))
    }
}

/// A `tower::Service` as a [`Handler`]: any service that takes `(E, CallbackMeta)` and returns `()`, so
/// that tower's middleware can wrap a handler.
///
/// ```
/// use std::time::Duration;
/// use tencent_room_callback::{CallbackLayer, CallbackMeta, Config, HandlerError, MemberLeave, ServiceHandler};
/// use tower::ServiceBuilder;
///
/// let handler = ServiceBuilder::new()
///     // Shed load beyond 64 events at a time, give each 1.5 s. Every error of this stack answers
///     // 503, so that Tencent may retry (refused, late, or the handler's own): to keep 500 for the
///     // handler's own errors, map only tower's `Elapsed` and `Overloaded` (examples/tower_http.rs).
///     .map_err(HandlerError::unavailable)
///     .load_shed()
///     .concurrency_limit(64)
///     .timeout(Duration::from_millis(1500))
///     .service_fn(|(event, meta): (MemberLeave, CallbackMeta)| async move {
///         println!("{} left {} (app {})", event.members.len(), event.room_id, meta.sdk_app_id);
///         Ok::<(), HandlerError>(())
///     });
/// let layer = CallbackLayer::new(Config::new(1400000000)).on(ServiceHandler::new(handler));
/// ```
///
/// Each event is handled by a clone of the service, readied and called once (as tower's `oneshot`
/// does), so the service must be `Clone`; middleware state such as a concurrency limit is shared by the
/// clones. An error answers 500 with a FAIL acknowledgment, or 503 when it is a
/// [`HandlerError::unavailable`] (kept through the box tower's middleware puts errors in).
///
/// A timeout here bounds the handler only: the body is read before, within
/// [`Config::body_timeout`](crate::Config::body_timeout). Keep the two together well inside Tencent's
/// 2 s.
#[derive(Clone, Debug)]
pub struct ServiceHandler<S> {
    service: S,
}

impl<S> ServiceHandler<S> {
    /// Wraps `service`.
    pub fn new(service: S) -> Self {
        ServiceHandler { service }
    }

    /// The service.
    pub fn get_ref(&self) -> &S {
        &self.service
    }

    /// The service, unwrapped.
    pub fn into_inner(self) -> S {
        self.service
    }
}

impl<E, S> Handler<E> for ServiceHandler<S>
where
    E: Send + 'static,
    S: Service<(E, CallbackMeta), Response = ()> + Clone + Send + Sync + 'static,
    S::Error: Into<Box<dyn StdError + Send + Sync>>,
    S::Future: Send + 'static,
{
    type Future = ServiceFuture<S, E>;

    fn call(&self, event: E, meta: CallbackMeta) -> Self::Future {
        ServiceFuture {
            state: Oneshot::NotReady {
                service: self.service.clone(),
                request: Some((event, meta)),
            },
        }
    }
}

pin_project! {
    /// The future of a [`ServiceHandler`]: readies a clone of the service, then calls it once.
    pub struct ServiceFuture<S, E>
    where
        S: Service<(E, CallbackMeta)>,
    {
        #[pin]
        state: Oneshot<S, E>,
    }
}

pin_project! {
    #[project = OneshotProj]
    enum Oneshot<S, E>
    where
        S: Service<(E, CallbackMeta)>,
    {
        NotReady { service: S, request: Option<(E, CallbackMeta)> },
        Called { #[pin] fut: S::Future },
    }
}

impl<S, E> fmt::Debug for ServiceFuture<S, E>
where
    S: Service<(E, CallbackMeta)>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ServiceFuture")
    }
}

impl<S, E> Future for ServiceFuture<S, E>
where
    S: Service<(E, CallbackMeta), Response = ()>,
    S::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    type Output = Result<(), HandlerError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.project().state;
        loop {
            match state.as_mut().project() {
                OneshotProj::NotReady { service, request } => {
                    if let Err(e) = ready!(service.poll_ready(cx)) {
                        return Poll::Ready(Err(HandlerError::new(e)));
                    }
                    let Some(request) = request.take() else {
                        return Poll::Ready(Err(HandlerError::msg("polled after completion")));
                    };
                    let fut = service.call(request);
                    state.set(Oneshot::Called { fut });
                }
                OneshotProj::Called { fut } => {
                    return fut.poll(cx).map_err(HandlerError::new);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Down;
    impl fmt::Display for Down {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("database down")
        }
    }
    impl StdError for Down {}

    #[test]
    fn a_boxed_handler_error_comes_back_as_itself() {
        let boxed: BoxError = HandlerError::unavailable(Down).into();
        assert_eq!(boxed.to_string(), "database down");
        let back = HandlerError::new(boxed);
        assert!(back.is_unavailable());
        assert!(back.get_ref().is::<Down>());
        let plain = HandlerError::new(Box::new(Down) as BoxError);
        assert!(!plain.is_unavailable());
        // Made unavailable on the way back: unavailable whatever it was.
        let boxed: BoxError = HandlerError::new(Down).into();
        assert!(HandlerError::unavailable(boxed).is_unavailable());
    }
}
