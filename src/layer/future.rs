//! The response future: no boxing, one state machine.

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

use super::handler::BoxError;
use super::routes::{Deliver, Room, To};
use super::Shared;
use crate::ack::Ack;
use crate::command::Command;
use crate::query::CallbackMeta;
use crate::reject::{Rejection, RejectionKind};
use crate::trace;

pin_project! {
    /// The response future of [`Callback`](super::Callback).
    pub struct ResponseFuture<S, R, B>
    where
        S: Service<Request<B>>,
        R: Deliver<B>,
    {
        #[pin]
        state: State<S, R, B>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, R, B>
    where
        S: Service<Request<B>>,
        R: Deliver<B>,
    {
        // Passed through, or an event delivered in extensions.
        Inner { #[pin] fut: S::Future },
        // Decided without the inner service: OK, or a rejection.
        Answer { answer: Option<Result<(), Rejection>> },
        // Reading the body.
        Collect {
            #[pin]
            body: B,
            // Boxed: only an intercepted request reads its body, while every request carries this
            // future, which so stays about as small as the inner service's own.
            reading: Box<Reading<S, R>>,
        },
        // The user's handler is running.
        Handler { #[pin] fut: R::Future, room: Room, command: Command },
    }
}

impl<S, R, B> ResponseFuture<S, R, B>
where
    S: Service<Request<B>>,
    R: Deliver<B>,
{
    #[inline]
    pub(crate) fn inner(fut: S::Future) -> Self {
        ResponseFuture {
            state: State::Inner { fut },
        }
    }

    pub(crate) fn reject(command: Option<Command>, rejection: Rejection) -> Self {
        trace::rejected(command, &rejection);
        ResponseFuture {
            state: State::Answer {
                answer: Some(Err(rejection)),
            },
        }
    }

    pub(crate) fn collect(
        req: Request<B>,
        meta: CallbackMeta,
        shared: Arc<Shared<R>>,
        inner: Option<S>,
    ) -> Self {
        let (parts, body) = req.into_parts();
        ResponseFuture {
            state: State::Collect {
                body,
                reading: Box::new(Reading {
                    timer: None,
                    buf: Collected::Empty,
                    command: meta.command,
                    head: Some((parts, meta)),
                    shared,
                    inner,
                }),
            },
        }
    }
}

impl<S, R, B, ResBody> Future for ResponseFuture<S, R, B>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
    R: Deliver<B>,
    B: Body,
    B::Error: Into<BoxError>,
    ResBody: From<Bytes>,
{
    type Output = Result<Response<ResBody>, S::Error>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.project().state;
        // Most requests are passed through: forwarding their poll is small enough to inline.
        if let StateProj::Inner { fut } = state.as_mut().project() {
            return fut.poll(cx);
        }
        poll_state(state, cx)
    }
}

/// Polls an intercepted request's state machine, out of line: see [`ResponseFuture::poll`].
#[inline(never)]
fn poll_state<S, R, B, ResBody>(
    mut state: Pin<&mut State<S, R, B>>,
    cx: &mut Context<'_>,
) -> Poll<Result<Response<ResBody>, S::Error>>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
    R: Deliver<B>,
    B: Body,
    B::Error: Into<BoxError>,
    ResBody: From<Bytes>,
{
    loop {
        match state.as_mut().project() {
            StateProj::Inner { fut } => return fut.poll(cx),
            StateProj::Answer { answer } => {
                let answer = answer
                    .take()
                    .expect("ResponseFuture polled after completion");
                return Poll::Ready(Ok(match answer {
                    Ok(()) => Ack::ok().into_response(StatusCode::OK),
                    Err(rejection) => rejection.into_response(),
                }));
            }
            StateProj::Collect { mut body, reading } => {
                let Reading {
                    timer,
                    buf,
                    head,
                    command,
                    shared,
                    inner,
                } = &mut **reading;
                let command = *command;
                let read = loop {
                    match body.as_mut().poll_frame(cx) {
                        Poll::Pending => break None,
                        Poll::Ready(None) => break Some(Ok(())),
                        Poll::Ready(Some(Err(e))) => {
                            let e: BoxError = e.into();
                            break Some(Err(Rejection::with_detail(
                                RejectionKind::BodyReadError,
                                e,
                            )));
                        }
                        Poll::Ready(Some(Ok(frame))) => {
                            let Ok(mut data) = frame.into_data() else {
                                continue;
                            };
                            let data = data.copy_to_bytes(data.remaining());
                            let limit = shared.config.body_limit;
                            if buf.len() + data.len() > limit {
                                break Some(Err(Rejection::with_detail(
                                    RejectionKind::BodyTooLarge,
                                    format_args!("more than {limit} bytes"),
                                )));
                            }
                            buf.push(data);
                        }
                    }
                };
                let result = match read {
                    Some(result) => result,
                    None => {
                        // The body is not all there: start the timer (only now) and wait.
                        let Some(timeout) = shared.config.body_timeout else {
                            return Poll::Pending;
                        };
                        let timer =
                            timer.get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
                        ready!(timer.as_mut().poll(cx));
                        Err(Rejection::new(RejectionKind::BodyTimeout))
                    }
                };
                let delivery = result.and_then(|()| {
                    catch_unwind(AssertUnwindSafe(|| {
                        // Taken here rather than moved in: the head is large, and every move copies it.
                        let (parts, meta) =
                            head.take().expect("ResponseFuture polled after completion");
                        shared.routes.deliver(meta, parts, buf.take())
                    }))
                    .unwrap_or_else(|panic| Err(panicked(command, None, &*panic)))
                });
                match delivery {
                    Err(rejection) => {
                        // A panic was reported where it was caught: one event per request.
                        if rejection.kind() != RejectionKind::HandlerPanicked {
                            trace::rejected(Some(command), &rejection);
                        }
                        state.set(State::Answer {
                            answer: Some(Err(rejection)),
                        });
                    }
                    Ok(delivery) => match delivery.to {
                        To::Handler(fut) => state.set(State::Handler {
                            fut,
                            room: delivery.room,
                            command,
                        }),
                        To::Inner(req) => {
                            trace::forwarded(command, &delivery.room);
                            let mut svc =
                                inner.take().expect("an inner service for forwarded events");
                            state.set(State::Inner { fut: svc.call(req) });
                        }
                    },
                }
            }
            StateProj::Handler { fut, room, command } => {
                let answer = match catch_unwind(AssertUnwindSafe(|| fut.poll(cx))) {
                    Ok(Poll::Pending) => return Poll::Pending,
                    Ok(Poll::Ready(Ok(()))) => {
                        trace::handled(*command, room);
                        Ok(())
                    }
                    Ok(Poll::Ready(Err(e))) => {
                        let kind = if e.is_unavailable() {
                            RejectionKind::Unavailable
                        } else {
                            RejectionKind::HandlerFailed
                        };
                        let rejection = Rejection::new(kind);
                        trace::handler_failed(*command, room, &rejection, &e);
                        Err(rejection)
                    }
                    Err(panic) => Err(panicked(*command, Some(room), &*panic)),
                };
                state.set(State::Answer {
                    answer: Some(answer),
                });
            }
        }
    }
}

/// The answer to a panicking handler; the panic is reported (with its message, when it has one) in the
/// request's one trace event. The message is not sent to Tencent.
fn panicked(
    command: Command,
    room: Option<&Room>,
    panic: &(dyn std::any::Any + Send),
) -> Rejection {
    let message = panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a non-string payload");
    let rejection = Rejection::new(RejectionKind::HandlerPanicked);
    trace::panicked(command, room, &rejection, message);
    rejection
}

/// What an intercepted request needs while its body is read.
struct Reading<S, R> {
    // Made only for a body that is not all there when first polled.
    timer: Option<Pin<Box<Sleep>>>,
    buf: Collected,
    head: Option<(Parts, CallbackMeta)>,
    command: Command,
    shared: Arc<Shared<R>>,
    inner: Option<S>,
}

/// A body being collected: a single chunk stays as it came (no copy).
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
