//! The response future: the inner service's own future for a passed-through request, with the
//! intercepted path kept out of line behind one `Box`.

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use bytes::{Buf, Bytes, BytesMut};
use http::request::Parts;
use http::{Request, Response, StatusCode};
use http_body::Body;
use pin_project_lite::pin_project;
use tokio::time::Sleep;
use tower_service::Service;

use super::body::ResponseBody;
use super::handler::BoxError;
use super::routes::{Routes, To};
use super::Shared;
use crate::ack::Ack;
use crate::command::CallbackCommand;
use crate::meta::CallbackMeta;
use crate::metrics;
use crate::reject::{Rejection, RejectionKind};
use crate::trace::{self, Room};
use crate::value::with_max_members;

pin_project! {
    /// The response future of [`Callback`](super::Callback).
    ///
    /// For a passed-through request it is the inner service's future and a tag: whatever handlers are
    /// registered, their futures and the body being read live in one allocation made for an
    /// intercepted callback only.
    pub struct ResponseFuture<S, R, B>
    where
        S: Service<Request<R::Body<B>>>,
        R: Routes,
    {
        #[pin]
        state: State<S, R, B>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, R, B>
    where
        S: Service<Request<R::Body<B>>>,
        R: Routes,
    {
        // Passed through, or an event delivered in extensions.
        Inner { #[pin] fut: S::Future },
        // Refused from the head alone.
        Refused { rejection: Option<Rejection> },
        // An intercepted callback: its body, then its handler.
        Intercepted { callback: Pin<Box<Intercept<S, R, B>>> },
    }
}

impl<S, R, B> ResponseFuture<S, R, B>
where
    S: Service<Request<R::Body<B>>>,
    R: Routes,
{
    #[inline]
    pub(crate) fn inner(fut: S::Future) -> Self {
        ResponseFuture {
            state: State::Inner { fut },
        }
    }

    pub(crate) fn reject(
        command: Option<&str>,
        measured: metrics::Request,
        rejection: Rejection,
    ) -> Self {
        trace::rejected(command, &rejection);
        metrics::rejected(measured, rejection.kind());
        ResponseFuture {
            state: State::Refused {
                rejection: Some(rejection),
            },
        }
    }

    pub(crate) fn collect(
        req: Request<B>,
        meta: CallbackMeta,
        at: u16,
        measured: metrics::Request,
        shared: Arc<Shared<R>>,
        inner: Option<S>,
    ) -> Self {
        let (parts, body) = req.into_parts();
        ResponseFuture {
            state: State::Intercepted {
                callback: Box::pin(Intercept {
                    command: meta.command.clone(),
                    at,
                    measured,
                    head: Some((parts, meta)),
                    shared,
                    inner,
                    timer: None,
                    phase: Phase::Reading {
                        body,
                        buf: Collected::Empty,
                    },
                }),
            },
        }
    }
}

impl<S, R, B, ResBody> Future for ResponseFuture<S, R, B>
where
    S: Service<Request<R::Body<B>>, Response = Response<ResBody>>,
    R: Routes,
    B: Body,
    B::Error: Into<BoxError>,
{
    type Output = Result<Response<ResponseBody<ResBody>>, S::Error>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.project().state;
        // Most requests are passed through: forwarding their poll is small enough to inline.
        if let StateProj::Inner { fut } = state.as_mut().project() {
            return fut.poll(cx).map_ok(|res| res.map(ResponseBody::inner));
        }
        poll_state(state, cx)
    }
}

/// Polls an intercepted or refused request, out of line: see [`ResponseFuture::poll`].
#[inline(never)]
fn poll_state<S, R, B, ResBody>(
    mut state: Pin<&mut State<S, R, B>>,
    cx: &mut Context<'_>,
) -> Poll<Result<Response<ResponseBody<ResBody>>, S::Error>>
where
    S: Service<Request<R::Body<B>>, Response = Response<ResBody>>,
    R: Routes,
    B: Body,
    B::Error: Into<BoxError>,
{
    loop {
        match state.as_mut().project() {
            StateProj::Inner { fut } => {
                return fut.poll(cx).map_ok(|res| res.map(ResponseBody::inner))
            }
            StateProj::Refused { rejection } => {
                let rejection = rejection
                    .take()
                    .expect("ResponseFuture polled after completion");
                return Poll::Ready(Ok(rejection.http_response()));
            }
            StateProj::Intercepted { callback } => match ready!(callback.as_mut().poll_step(cx)) {
                Step::Answer(Ok(ack)) => return Poll::Ready(Ok(ack.http_response(StatusCode::OK))),
                Step::Answer(Err(rejection)) => return Poll::Ready(Ok(rejection.http_response())),
                Step::Forward(fut) => state.set(State::Inner { fut }),
            },
        }
    }
}

/// What an intercepted callback comes to: an answer of the layer's, or the inner service's future.
enum Step<F> {
    Answer(Result<Ack, Rejection>),
    Forward(F),
}

pin_project! {
    /// An intercepted callback, boxed: reading its body, then running its handler.
    struct Intercept<S, R, B>
    where
        R: Routes,
    {
        command: CallbackCommand,
        // The route that takes it: its place in the chain.
        at: u16,
        // Its command's label and when the layer took it, for the metrics (empty without them).
        measured: metrics::Request,
        // Taken when the body is all there: the head is large, and every move copies it.
        head: Option<(Parts, CallbackMeta)>,
        shared: Arc<Shared<R>>,
        // The readied instance, for an event forwarded to the inner service.
        inner: Option<S>,
        // Started only for a body that is not all there when first polled.
        #[pin]
        timer: Option<Sleep>,
        #[pin]
        phase: Phase<R, B>,
    }
}

pin_project! {
    #[project = PhaseProj]
    enum Phase<R, B>
    where
        R: Routes,
    {
        Reading { #[pin] body: B, buf: Collected },
        Handling { #[pin] fut: R::Future, room: Room, since: metrics::Clock },
        Done,
    }
}

impl<S, R, B> Intercept<S, R, B>
where
    S: Service<Request<R::Body<B>>>,
    R: Routes,
    B: Body,
    B::Error: Into<BoxError>,
{
    fn poll_step(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Step<S::Future>> {
        let mut this = self.project();
        let command = this.command.as_str();
        let at = *this.at;
        let measured = *this.measured;
        loop {
            match this.phase.as_mut().project() {
                PhaseProj::Reading { body, buf } => {
                    let limit = this.shared.config.body_limit;
                    let result = match read(body, buf, limit, cx) {
                        Poll::Ready(result) => result,
                        Poll::Pending => {
                            // The body is not all there: start the timer (only now) and wait.
                            let Some(timeout) = this.shared.config.body_timeout else {
                                return Poll::Pending;
                            };
                            if this.timer.is_none() {
                                this.timer.set(Some(tokio::time::sleep(timeout)));
                            }
                            if let Some(timer) = this.timer.as_mut().as_pin_mut() {
                                ready!(timer.poll(cx));
                            }
                            Err(Rejection::new(RejectionKind::BodyTimeout))
                        }
                    };
                    let bytes = buf.take();
                    this.phase.set(Phase::Done);
                    let (mut parts, meta) = this
                        .head
                        .take()
                        .expect("ResponseFuture polled after completion");
                    let delivery = result.and_then(|()| {
                        // The event is decoded under the configuration's bound on member lists.
                        catch_unwind(AssertUnwindSafe(|| {
                            with_max_members(this.shared.config.max_members, || {
                                this.shared
                                    .routes
                                    .deliver(at, meta, &bytes, &mut parts.extensions)
                            })
                        }))
                        .unwrap_or_else(|panic| Err(panicked(command, None, &*panic)))
                    });
                    match delivery {
                        Err(rejection) => {
                            // A panic was reported where it was caught: one event per request.
                            if rejection.kind() != RejectionKind::HandlerPanicked {
                                trace::rejected(Some(command), &rejection);
                            }
                            metrics::rejected(measured, rejection.kind());
                            return Poll::Ready(Step::Answer(Err(rejection)));
                        }
                        Ok(delivery) => match delivery.to {
                            To::Handler(fut) => this.phase.set(Phase::Handling {
                                fut,
                                room: delivery.room,
                                since: metrics::Clock::start(),
                            }),
                            To::Inner => {
                                trace::forwarded(command, &delivery.room);
                                metrics::forwarded(measured);
                                // Only a route selected as forwarding delivers here, and for it the
                                // service took the readied inner service; and only routes whose
                                // inner body can hold bytes forward.
                                let (Some(mut svc), Some(body)) =
                                    (this.inner.take(), R::forward::<B>(bytes))
                                else {
                                    return Poll::Ready(Step::Answer(Err(Rejection::new(
                                        RejectionKind::HandlerFailed,
                                    ))));
                                };
                                let req = Request::from_parts(parts, body);
                                return Poll::Ready(Step::Forward(svc.call(req)));
                            }
                        },
                    }
                }
                PhaseProj::Handling { fut, room, since } => {
                    let answer = match catch_unwind(AssertUnwindSafe(|| fut.poll(cx))) {
                        Ok(Poll::Pending) => return Poll::Pending,
                        Ok(Poll::Ready(Ok(ack))) => {
                            trace::handled(command, room);
                            Ok(ack)
                        }
                        Ok(Poll::Ready(Err(e))) => {
                            if let Some(rejection) = e.get_ref().downcast_ref::<Rejection>() {
                                // The handler's own verdict on the callback (a body that does not
                                // decode, say): answered as the layer would have.
                                trace::rejected(Some(command), rejection);
                                Err(rejection.clone())
                            } else {
                                let kind = if e.is_unavailable() {
                                    RejectionKind::Unavailable
                                } else {
                                    RejectionKind::HandlerFailed
                                };
                                let rejection = Rejection::new(kind);
                                trace::handler_failed(
                                    command,
                                    room,
                                    &rejection,
                                    &e,
                                    e.is_unavailable(),
                                );
                                Err(rejection)
                            }
                        }
                        Err(panic) => Err(panicked(command, Some(room), &*panic)),
                    };
                    metrics::handled(
                        measured,
                        *since,
                        answer.as_ref().map(|_| ()).map_err(Rejection::kind),
                    );
                    this.phase.set(Phase::Done);
                    return Poll::Ready(Step::Answer(answer));
                }
                PhaseProj::Done => panic!("ResponseFuture polled after completion"),
            }
        }
    }
}

/// Reads the body into `buf` up to `limit` bytes: `Ready(Ok)` once it is all there.
fn read<B>(
    mut body: Pin<&mut B>,
    buf: &mut Collected,
    limit: usize,
    cx: &mut Context<'_>,
) -> Poll<Result<(), Rejection>>
where
    B: Body,
    B::Error: Into<BoxError>,
{
    loop {
        match ready!(body.as_mut().poll_frame(cx)) {
            None => return Poll::Ready(Ok(())),
            Some(Err(e)) => return Poll::Ready(Err(body_error(e.into()))),
            Some(Ok(frame)) => {
                let Ok(mut data) = frame.into_data() else {
                    continue;
                };
                let data = data.copy_to_bytes(data.remaining());
                if buf.len() + data.len() > limit {
                    return Poll::Ready(Err(Rejection::with_detail(
                        RejectionKind::BodyTooLarge,
                        format_args!("more than {limit} bytes"),
                    )));
                }
                buf.push(data);
            }
        }
    }
}

/// The whole body, at most `limit` bytes, as an intercepted callback reads it (for the benches).
#[cfg(trc_bench)]
pub(crate) async fn read_body<B>(body: B, limit: usize) -> Result<Bytes, Rejection>
where
    B: Body,
    B::Error: Into<BoxError>,
{
    let mut body = std::pin::pin!(body);
    let mut buf = Collected::Empty;
    std::future::poll_fn(|cx| read(body.as_mut(), &mut buf, limit, cx)).await?;
    Ok(buf.take())
}

/// The same with `http_body_util`: the body's own errors marked, under `Limited`, collected.
#[cfg(trc_bench)]
pub(crate) async fn read_body_limited<B>(body: B, limit: usize) -> Result<Bytes, Rejection>
where
    B: Body,
    B::Error: Into<BoxError>,
{
    use http_body_util::BodyExt;
    #[derive(Debug)]
    struct Inner(BoxError);
    impl std::fmt::Display for Inner {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            self.0.fmt(f)
        }
    }
    impl std::error::Error for Inner {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&*self.0)
        }
    }
    let marked = body.map_err((|e| Inner(e.into())) as fn(B::Error) -> Inner);
    match http_body_util::Limited::new(marked, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(Rejection::with_detail(
            RejectionKind::BodyTooLarge,
            format_args!("more than {limit} bytes"),
        )),
        Err(e) => Err(body_error(e)),
    }
}

/// The rejection for a body that failed to arrive: 413 when a body limit of another layer cut it off
/// (`http_body_util::LengthLimitError` anywhere in the error's sources, as `RequestBodyLimitLayer` and
/// axum's `DefaultBodyLimit` report it), 400 otherwise.
pub(super) fn body_error(error: BoxError) -> Rejection {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&*error);
    while let Some(e) = source {
        if e.is::<http_body_util::LengthLimitError>() {
            return Rejection::with_detail(
                RejectionKind::BodyTooLarge,
                "a body limit in front of this layer was exceeded",
            );
        }
        source = e.source();
    }
    Rejection::with_detail(RejectionKind::BodyReadError, error)
}

/// The answer to a panicking handler; the panic is reported (with its message, when it has one) in the
/// request's one trace event. The message is not sent to Tencent.
fn panicked(command: &str, room: Option<&Room>, panic: &(dyn std::any::Any + Send)) -> Rejection {
    let message = panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a non-string payload");
    let rejection = Rejection::new(RejectionKind::HandlerPanicked);
    trace::panicked(command, room, &rejection, message);
    rejection
}

/// A body being collected: a single chunk stays as it came (no copy, no allocation).
///
/// Hand-written rather than `http_body_util::{Limited, Collected}`: `Collected` keeps its chunks in a
/// `VecDeque` (one more allocation per callback, for the usual single chunk), and behind `Limited` an
/// outer layer's limit error cannot be told from this one's without marking the body's own errors
/// first. Measured side by side (`benches/crates.rs`): a callback in one chunk reads in 232 ns here,
/// 277 ns with `Limited` + `collect`, 337 ns with the marking that keeps this behaviour; in eight
/// chunks, 656, 692 and 691 ns.
#[derive(Debug)]
enum Collected {
    Empty,
    One(Bytes),
    Many(BytesMut),
}

impl Collected {
    fn len(&self) -> usize {
        match self {
            Collected::Empty => 0,
            Collected::One(b) => b.len(),
            Collected::Many(b) => b.len(),
        }
    }

    fn push(&mut self, data: Bytes) {
        if data.is_empty() {
            return;
        }
        *self = match std::mem::replace(self, Collected::Empty) {
            Collected::Empty => Collected::One(data),
            Collected::One(first) => {
                let mut all = BytesMut::with_capacity(first.len() + data.len());
                all.extend_from_slice(&first);
                all.extend_from_slice(&data);
                Collected::Many(all)
            }
            Collected::Many(mut all) => {
                all.extend_from_slice(&data);
                Collected::Many(all)
            }
        }
    }

    fn take(&mut self) -> Bytes {
        match std::mem::replace(self, Collected::Empty) {
            Collected::Empty => Bytes::new(),
            Collected::One(b) => b,
            Collected::Many(b) => b.freeze(),
        }
    }
}
