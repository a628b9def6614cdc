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
use tokio::time::{Instant, Sleep};
use tower_service::Service;

use super::body::{BodyMode, ResponseBody};
use super::handler::AckFuture;
use super::handler::BoxError;
use super::router::{Delivered, Intercepted};
use super::Shared;
use crate::ack::Ack;
use crate::command::CallbackCommand;
use crate::meta::CallbackMeta;
use crate::metrics;
use crate::reject::{Rejection, RejectionKind};
use crate::trace::{self, Room};

pin_project! {
    /// The response future of [`Callback`](super::Callback).
    ///
    /// For a passed-through request it is the inner service's future and a tag: the body being read
    /// and the handler's future of an intercepted callback live in allocations made for it only.
    pub struct ResponseFuture<S, M, B>
    where
        S: Service<Request<M::Body<B>>>,
        M: BodyMode,
    {
        #[pin]
        state: State<S, M, B>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, M, B>
    where
        S: Service<Request<M::Body<B>>>,
        M: BodyMode,
    {
        // Passed through, or an event delivered in extensions.
        Inner { #[pin] fut: S::Future },
        // Refused from the head alone.
        Refused { rejection: Option<Rejection>, dialect: Dialect },
        // An intercepted callback: its body, then its handler.
        Intercepted { callback: Pin<Box<Intercept<S, M, B>>> },
    }
}

impl<S, M, B> ResponseFuture<S, M, B>
where
    S: Service<Request<M::Body<B>>>,
    M: BodyMode,
{
    #[inline]
    pub(crate) fn inner(fut: S::Future) -> Self {
        ResponseFuture {
            state: State::Inner { fut },
        }
    }

    pub(crate) fn reject(
        command: Option<&CallbackCommand>,
        measured: metrics::Request,
        rejection: Rejection,
    ) -> Self {
        refused(command, measured, &rejection);
        ResponseFuture {
            state: State::Refused {
                rejection: Some(rejection),
                dialect: Dialect::OneUrl,
            },
        }
    }

    /// A request to a TRTC path refused from its head, answered in TRTC's dialect.
    pub(crate) fn reject_trtc(measured: metrics::Request, rejection: Rejection) -> Self {
        let dialect = CallbackCommand::known(crate::trtc::COMMAND_PREFIX);
        refused(Some(&dialect), measured, &rejection);
        ResponseFuture {
            state: State::Refused {
                rejection: Some(rejection),
                dialect: Dialect::Trtc,
            },
        }
    }

    /// A request to a TRTC path, to be verified and routed once its body is all there.
    pub(crate) fn collect_trtc(
        req: Request<B>,
        measured: metrics::Request,
        shared: Arc<Shared>,
        readied: S,
    ) -> Self {
        let (parts, body) = req.into_parts();
        ResponseFuture {
            state: State::Intercepted {
                callback: Box::pin(Intercept {
                    command: CallbackCommand::known(crate::trtc::COMMAND_PREFIX),
                    dialect: Dialect::Trtc,
                    at: None,
                    measured,
                    deadline: None,
                    head: Some((parts, None)),
                    shared,
                    inner: Some(readied),
                    timer: None,
                    phase: Phase::Reading {
                        body,
                        buf: Collected::Empty,
                    },
                    mode: std::marker::PhantomData,
                }),
            },
        }
    }

    pub(crate) fn collect(
        req: Request<B>,
        meta: CallbackMeta,
        at: usize,
        measured: metrics::Request,
        shared: Arc<Shared>,
        inner: Option<S>,
    ) -> Self {
        let (parts, body) = req.into_parts();
        // A decision's deadline runs from now: the answer is due within Tencent's 2 s of its sending.
        let deadline = if meta.command.is_decision() {
            Instant::now().checked_add(shared.config.decision_deadline)
        } else {
            None
        };
        ResponseFuture {
            state: State::Intercepted {
                callback: Box::pin(Intercept {
                    command: meta.command.clone(),
                    dialect: Dialect::OneUrl,
                    at: Some(at),
                    measured,
                    deadline,
                    head: Some((parts, Some(meta))),
                    shared,
                    inner,
                    timer: None,
                    phase: Phase::Reading {
                        body,
                        buf: Collected::Empty,
                    },
                    mode: std::marker::PhantomData,
                }),
            },
        }
    }
}

/// Reports a refusal: the trace (a WARN for a decision: each one refused lets what it decides through
/// at Tencent's end) and the metrics.
fn refused(command: Option<&CallbackCommand>, measured: metrics::Request, rejection: &Rejection) {
    match command {
        Some(c) if c.is_decision() => trace::decision_refused(c.as_str(), rejection),
        _ => trace::rejected(command.map(CallbackCommand::as_str), rejection),
    }
    metrics::rejected(measured, rejection.kind());
}

impl<S, M, B, ResBody> Future for ResponseFuture<S, M, B>
where
    S: Service<Request<M::Body<B>>, Response = Response<ResBody>>,
    M: BodyMode,
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
fn poll_state<S, M, B, ResBody>(
    mut state: Pin<&mut State<S, M, B>>,
    cx: &mut Context<'_>,
) -> Poll<Result<Response<ResponseBody<ResBody>>, S::Error>>
where
    S: Service<Request<M::Body<B>>, Response = Response<ResBody>>,
    M: BodyMode,
    B: Body,
    B::Error: Into<BoxError>,
{
    loop {
        match state.as_mut().project() {
            StateProj::Inner { fut } => {
                return fut.poll(cx).map_ok(|res| res.map(ResponseBody::inner))
            }
            StateProj::Refused { rejection, dialect } => {
                let rejection = rejection
                    .take()
                    .unwrap_or(Rejection::new(RejectionKind::HandlerFailed));
                return Poll::Ready(Ok(dialect.answer(Err(rejection))));
            }
            StateProj::Intercepted { callback } => match ready!(callback.as_mut().poll_step(cx)) {
                Step::Answer(answer) => {
                    return Poll::Ready(Ok(callback.dialect.answer(answer)));
                }
                Step::Forward(fut) => state.set(State::Inner { fut }),
            },
        }
    }
}

/// The dialect a callback came in, and its answers are given in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialect {
    /// The one URL's: an acknowledgment (`ActionStatus`, `ErrorCode`, `ErrorInfo`).
    OneUrl,
    /// TRTC's event callbacks': `{"code":0}`, or the failure's status with `code` and `message`.
    Trtc,
}

impl Dialect {
    /// The HTTP answer to a callback: a handler's acknowledgment (status 200), or a rejection.
    fn answer<B: From<bytes::Bytes>>(self, answer: Result<Ack, Rejection>) -> Response<B> {
        match (self, answer) {
            (Dialect::OneUrl, Ok(ack)) => ack.http_response(StatusCode::OK),
            (Dialect::OneUrl, Err(rejection)) => rejection.http_response(),
            (Dialect::Trtc, Ok(ack)) => crate::trtc::ack_response(&ack),
            (Dialect::Trtc, Err(rejection)) => crate::trtc::rejection_response(&rejection),
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
    struct Intercept<S, M, B> {
        // Its command (a TRTC event's once verified).
        command: CallbackCommand,
        dialect: Dialect,
        // The route that takes it: its place in the table (a TRTC event's is found once verified).
        at: Option<usize>,
        // Its command's label and when the layer took it, for the metrics (empty without them).
        measured: metrics::Request,
        // A decision's deadline (none for a notification, or a deadline past the clock's reach).
        deadline: Option<Instant>,
        // Taken when the body is all there: the head is large, and every move copies it. The metadata
        // of a TRTC event comes from its verification, once its body is there.
        head: Option<(Parts, Option<CallbackMeta>)>,
        shared: Arc<Shared>,
        // The readied instance, for an event forwarded to the inner service.
        inner: Option<S>,
        // Started only for a body that is not all there when first polled, then for a decision's
        // deadline.
        #[pin]
        timer: Option<Sleep>,
        #[pin]
        phase: Phase<B>,
        mode: std::marker::PhantomData<fn() -> M>,
    }
}

pin_project! {
    #[project = PhaseProj]
    enum Phase<B> {
        Reading { #[pin] body: B, buf: Collected },
        Handling { fut: AckFuture, room: Room, since: metrics::Clock },
        Done,
    }
}

impl<S, M, B> Intercept<S, M, B>
where
    S: Service<Request<M::Body<B>>>,
    M: BodyMode,
    B: Body,
    B::Error: Into<BoxError>,
{
    fn poll_step(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Step<S::Future>> {
        let mut this = self.project();
        loop {
            let measured = *this.measured;
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
                    // The body's timer is done with; a decision's deadline takes its place.
                    this.timer.set(this.deadline.map(tokio::time::sleep_until));
                    let Some((mut parts, meta)) = this.head.take() else {
                        return Poll::Ready(Step::Answer(Err(Rejection::new(
                            RejectionKind::HandlerFailed,
                        ))));
                    };
                    let (meta, at, early) = match (meta, *this.at) {
                        (Some(meta), Some(at)) => (meta, at, None),
                        // A TRTC event: verified now that its body is all there, then routed.
                        _ => {
                            let verified = result.clone().and_then(|()| {
                                crate::trtc::verify_event(
                                    &this.shared.config,
                                    &parts.headers,
                                    &bytes,
                                )
                            });
                            let (meta, early) = match verified {
                                Ok(verified) => verified,
                                Err(rejection) => {
                                    // Logged as `TRTC.`: the dialect, the event being unread.
                                    refused(Some(this.command), measured, &rejection);
                                    return Poll::Ready(Step::Answer(Err(rejection)));
                                }
                            };
                            let found = this.shared.routes.find(&meta.command);
                            *this.measured =
                                measured.verified(&meta.command, found.as_ref().map(|f| f.rank));
                            *this.command = meta.command.clone();
                            let Some(found) = found else {
                                // Verified, and nobody's: acknowledged, so that Tencent does not send it
                                // again for a minute.
                                trace::verified(meta.command.as_str());
                                metrics::verified(*this.measured);
                                return Poll::Ready(Step::Answer(Ok(Ack::ok())));
                            };
                            if !found.entry.forward {
                                // The readied inner service is not needed: given back.
                                this.inner.take();
                            }
                            *this.at = Some(found.at);
                            (meta, found.at, early)
                        }
                    };
                    let measured = *this.measured;
                    let command = this.command.as_str();
                    let delivery = result.and_then(|()| {
                        catch_unwind(AssertUnwindSafe(|| {
                            deliver(this.shared, at, meta, &bytes, early, &mut parts.extensions)
                        }))
                        .unwrap_or_else(|panic| Err(panicked(command, None, &*panic)))
                    });
                    match delivery {
                        Err(rejection) => {
                            // A panic was reported where it was caught: one event per request.
                            if rejection.kind() != RejectionKind::HandlerPanicked {
                                refused(Some(this.command), measured, &rejection);
                            } else {
                                metrics::rejected(measured, rejection.kind());
                            }
                            return Poll::Ready(Step::Answer(Err(rejection)));
                        }
                        Ok((Delivered::Handler(fut), room)) => this.phase.set(Phase::Handling {
                            fut,
                            room,
                            since: metrics::Clock::start(),
                        }),
                        Ok((Delivered::Inner, room)) => {
                            trace::forwarded(command, &room);
                            metrics::forwarded(measured);
                            // Only a route registered as forwarding delivers here, and for it the
                            // service took the readied inner service; and only a mode whose inner body
                            // can hold bytes has such routes.
                            let (Some(mut svc), Some(body)) =
                                (this.inner.take(), M::forward::<B>(bytes))
                            else {
                                return Poll::Ready(Step::Answer(Err(Rejection::new(
                                    RejectionKind::HandlerFailed,
                                ))));
                            };
                            let req = Request::from_parts(parts, body);
                            return Poll::Ready(Step::Forward(svc.call(req)));
                        }
                    }
                }
                PhaseProj::Handling { fut, room, since } => {
                    let measured = *this.measured;
                    let polled = catch_unwind(AssertUnwindSafe(|| fut.as_mut().poll(cx)));
                    let late = match polled {
                        Ok(Poll::Pending) => match this.timer.as_mut().as_pin_mut() {
                            Some(timer) => {
                                ready!(timer.poll(cx));
                                true
                            }
                            None => return Poll::Pending,
                        },
                        _ => false,
                    };
                    let answer = if late {
                        Err(Failure::Late)
                    } else {
                        match polled {
                            Ok(Poll::Ready(Ok(ack))) => Ok(ack),
                            Ok(Poll::Ready(Err(e))) => Err(Failure::Error(e)),
                            Err(panic) => Err(Failure::Panic(panic)),
                            Ok(Poll::Pending) => Err(Failure::Late),
                        }
                    };
                    let answer = settle(this.shared, this.command, room, answer, measured, *since);
                    this.phase.set(Phase::Done);
                    return Poll::Ready(Step::Answer(answer));
                }
                PhaseProj::Done => {
                    return Poll::Ready(Step::Answer(Err(Rejection::new(
                        RejectionKind::HandlerFailed,
                    ))))
                }
            }
        }
    }
}

/// Why a handler gave no answer.
enum Failure {
    /// A decision's deadline passed first.
    Late,
    Error(super::handler::HandlerError),
    Panic(Box<dyn std::any::Any + Send>),
}

/// The answer to a callback whose handler ended (or whose deadline passed), reported once: the
/// handler's own answer; for a decision that got none, the configured fallback; otherwise the rejection
/// the failure answers with.
fn settle(
    shared: &Shared,
    command: &CallbackCommand,
    room: &Room,
    answer: Result<Ack, Failure>,
    measured: metrics::Request,
    since: metrics::Clock,
) -> Result<Ack, Rejection> {
    let name = command.as_str();
    let failure = match answer {
        Ok(ack) => {
            trace::handled(name, room);
            metrics::handled(measured, since, Ok(()));
            return Ok(ack);
        }
        Err(Failure::Error(e)) if e.get_ref().is::<Rejection>() => {
            // The handler's own verdict on the callback (a body that does not decode, say): answered
            // as the layer would have, a decision too.
            let rejection = e
                .get_ref()
                .downcast_ref::<Rejection>()
                .cloned()
                .unwrap_or(Rejection::new(RejectionKind::MalformedBody));
            if command.is_decision() {
                trace::decision_refused(name, &rejection);
            } else {
                trace::rejected(Some(name), &rejection);
            }
            metrics::handled(measured, since, Err(rejection.kind()));
            return Err(rejection);
        }
        Err(failure) => failure,
    };
    if command.is_decision() {
        let why = match &failure {
            Failure::Late => "its handler did not answer before the decision deadline".to_owned(),
            Failure::Error(e) => format!("its handler failed: {e}"),
            Failure::Panic(panic) => format!("its handler panicked: {}", panic_message(&**panic)),
        };
        trace::decision_fallback(name, room, &why);
        metrics::fell_back(measured, since);
        return match &shared.config.decision_fallback {
            Some(ack) => Ok(ack.clone()),
            // No fallback of the receiver's: a failure, so that Tencent applies its own default.
            None => Err(Rejection::with_detail(RejectionKind::Unavailable, why)),
        };
    }
    let rejection = match failure {
        // Only decisions have a deadline.
        Failure::Late => Rejection::new(RejectionKind::Unavailable),
        Failure::Error(e) => {
            let kind = if e.is_unavailable() {
                RejectionKind::Unavailable
            } else {
                RejectionKind::HandlerFailed
            };
            let rejection = Rejection::new(kind);
            trace::handler_failed(name, room, &rejection, &e, e.is_unavailable());
            rejection
        }
        Failure::Panic(panic) => panicked(name, Some(room), &*panic),
    };
    metrics::handled(measured, since, Err(rejection.kind()));
    Err(rejection)
}

/// Decodes and delivers an intercepted callback through its route (under the route's de-duplication,
/// when it has one).
fn deliver(
    shared: &Shared,
    at: usize,
    meta: CallbackMeta,
    body: &Bytes,
    trtc: Option<crate::trtc::TrtcEvent>,
    extensions: &mut http::Extensions,
) -> Result<(Delivered, Room), Rejection> {
    let entry = shared.routes.entry(at);
    let max_members = shared.config.max_members;
    let Some(dedup) = &entry.dedup else {
        let callback = Intercepted {
            meta,
            body,
            max_members,
            trtc,
        };
        return entry.route.deliver(callback, extensions);
    };
    // A TRTC event decoded already has its key at hand.
    let key = match &trtc {
        Some(event) => event.delivery_key(meta.sdk_app_id),
        None => super::routes::delivery_key(&meta, body),
    };
    let mut room = None;
    let fut = dedup.run(key, || {
        let callback = Intercepted {
            meta,
            body,
            max_members,
            trtc,
        };
        match entry.route.deliver(callback, extensions)? {
            (Delivered::Handler(fut), r) => {
                room = Some(r);
                Ok(fut)
            }
            // Only handler routes are de-duplicated.
            (Delivered::Inner, _) => Err(Rejection::new(RejectionKind::HandlerFailed)),
        }
    })?;
    Ok((
        Delivered::Handler(fut),
        room.unwrap_or_else(|| trace::room(None)),
    ))
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

/// A panic's message, when it has one.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a non-string payload")
}

/// The answer to a panicking handler; the panic is reported (with its message, when it has one) in the
/// request's one trace event. The message is not sent to Tencent.
fn panicked(command: &str, room: Option<&Room>, panic: &(dyn std::any::Any + Send)) -> Rejection {
    let rejection = Rejection::new(RejectionKind::HandlerPanicked);
    trace::panicked(command, room, &rejection, panic_message(panic));
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
