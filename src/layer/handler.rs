//! The user's handler: what runs for an intercepted, verified, decoded event.

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;

use crate::query::CallbackMeta;

/// A boxed error, as handlers may return.
pub type BoxError = Box<dyn StdError + Send + Sync>;

/// An async handler of events `E`.
///
/// Implemented for every `Fn(E, CallbackMeta) -> impl Future<Output = Result<(), HandlerError>>`,
/// including `async fn`s, and for your own types holding state:
///
/// ```
/// use std::future::Future;
/// use std::pin::Pin;
/// use std::sync::Arc;
/// use tencent_room_callback::{CallbackMeta, Handler, HandlerError, MemberLeave};
///
/// #[derive(Clone, Default)]
/// struct Presence(Arc<std::sync::Mutex<Vec<String>>>);
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
/// Any `std::error::Error + Send + Sync + 'static` converts into it with `?`.
pub struct HandlerError {
    unavailable: bool,
    source: BoxError,
}

impl HandlerError {
    /// A failure: the answer is 500 with a FAIL acknowledgment.
    pub fn new(error: impl Into<BoxError>) -> Self {
        HandlerError {
            unavailable: false,
            source: error.into(),
        }
    }

    /// A failure with just a message.
    pub fn msg(message: impl fmt::Display) -> Self {
        HandlerError::new(message.to_string())
    }

    /// The handler cannot take the event now (a full queue, a dependency down): the answer is 503 with a
    /// FAIL acknowledgment, so that Tencent's retry, where enabled, can deliver it again.
    pub fn unavailable(error: impl Into<BoxError>) -> Self {
        HandlerError {
            unavailable: true,
            source: error.into(),
        }
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
    pub fn into_source(self) -> BoxError {
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
