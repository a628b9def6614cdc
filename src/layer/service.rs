//! The service: routes on the query, verifies the head, then collects and delivers.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{header, Method, Request, Response};
use http_body::Body;
use tower_service::Service;

use super::body::{BodyMode, HandlersOnly, ResponseBody};
use super::future::ResponseFuture;
use super::handler::BoxError;
use super::Shared;
use crate::command::{CallbackCommand, TRTC_PREFIX};
use crate::metrics;
use crate::query::{may_carry_a_command, Routing, Scan};
use crate::reject::{Rejection, RejectionKind};
use crate::verify::{conflicting_command, verify};

/// The service made by [`CallbackLayer`](crate::CallbackLayer): intercepts the callbacks it handles,
/// passes everything else to `inner` untouched.
///
/// Its responses carry a [`ResponseBody`] (the inner service's body or the layer's acknowledgment);
/// its inner service receives the requests with the body its [`BodyMode`] `M` names.
///
/// # Readiness
///
/// The service is ready when its inner service is: tower's contract gives no way to know the next
/// request before it is called, and a request passed through must find the inner service ready. A
/// callback it intercepts for a handler then gives back what the inner service reserved (the readied
/// instance is dropped, a fresh clone takes its place), so that a callback never holds a permit of the
/// inner service (a `ConcurrencyLimit`'s, a `Buffer`'s slot) while its handler runs or after, even on a
/// keep-alive connection that carries callbacks only. A callback forwarded to the inner service takes
/// the readied instance with it, as any request does.
pub struct Callback<S, M = HandlersOnly> {
    pub(crate) inner: S,
    pub(crate) shared: Arc<Shared>,
    pub(crate) mode: PhantomData<fn() -> M>,
}

impl<S, M> Callback<S, M> {
    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The inner service, unwrapped.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: Clone, M> Clone for Callback<S, M> {
    fn clone(&self) -> Self {
        Callback {
            inner: self.inner.clone(),
            shared: self.shared.clone(),
            mode: PhantomData,
        }
    }
}

impl<S: fmt::Debug, M> fmt::Debug for Callback<S, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Callback")
            .field("inner", &self.inner)
            .field("config", &self.shared.config)
            .field("paths", &self.shared.paths)
            .field("routes", &self.shared.routes)
            .finish()
    }
}

impl<S, M, ReqBody, ResBody> Service<Request<ReqBody>> for Callback<S, M>
where
    M: BodyMode,
    S: Service<Request<M::Body<ReqBody>>, Response = Response<ResBody>> + Clone,
    ReqBody: Body,
    ReqBody::Error: Into<BoxError>,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S, M, ReqBody>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    #[inline]
    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        if self.shared.is_trtc(req.uri().path()) {
            return self.trtc(req);
        }
        // Most requests are passed through after one look (at the path when paths are set, at the query
        // otherwise): this much is small enough to inline into the caller, so that the inner future is
        // not wrapped in a function call of its own.
        if !self.shared.serves(req.uri()) || !may_carry_a_command(req.uri().query()) {
            return ResponseFuture::inner(self.inner.call(M::pass_request(req)));
        }
        self.route(req)
    }
}

impl<S, M> Callback<S, M> {
    /// Routes a request whose query may carry a command: passed through, rejected, forwarded with its
    /// verified metadata, or collected for its route.
    fn route<ReqBody, ResBody>(
        &mut self,
        mut req: Request<ReqBody>,
    ) -> ResponseFuture<S, M, ReqBody>
    where
        M: BodyMode,
        S: Service<Request<M::Body<ReqBody>>, Response = Response<ResBody>> + Clone,
        ReqBody: Body,
        ReqBody::Error: Into<BoxError>,
    {
        let shared = &self.shared;
        let scan = Scan::new(req.uri().query());
        let command = match scan.route() {
            Routing::Pass => return ResponseFuture::inner(self.inner.call(M::pass_request(req))),
            Routing::Callback(name) => CallbackCommand::new(name),
            Routing::Conflict => {
                return ResponseFuture::reject(
                    None,
                    metrics::Request::start(),
                    conflicting_command(),
                )
            }
        };
        let found = shared.routes.find(&command);
        let taken = found.is_some() && (shared.scoped() || req.method() == Method::POST);
        if !taken && !shared.verifies_unrouted() {
            // Not the layer's: without a path, only a POST whose command has a route is.
            return ResponseFuture::inner(self.inner.call(M::pass_request(req)));
        }
        // Taken now (with the `metrics` feature): the request's end-to-end time starts here.
        let measured = metrics::Request::start();
        if req.method() != Method::POST {
            return ResponseFuture::reject(
                Some(&command),
                measured,
                Rejection::new(RejectionKind::MethodNotAllowed),
            );
        }
        let meta = match verify(&shared.config, &command, scan) {
            Ok(meta) => meta,
            Err(r) => return ResponseFuture::reject(Some(&command), measured, r),
        };
        let measured = measured.verified(&meta.command, found.as_ref().map(|f| f.rank));
        if meta.command.as_str().starts_with(TRTC_PREFIX) {
            // Pseudo-commands of TRTC's event callbacks, which come to the TRTC path with their own
            // signature: never taken from a query.
            let r = Rejection::with_detail(
                RejectionKind::UnknownCommand,
                "TRTC.* names TRTC's event callbacks, which have a dialect and a path of their own",
            );
            return ResponseFuture::reject(Some(&command), measured, r);
        }
        let Some(found) = found else {
            // Verified, and no route of ours: the app's, with what was verified.
            crate::trace::verified(meta.command.as_str());
            metrics::verified(measured);
            req.extensions_mut().insert(meta);
            return ResponseFuture::inner(self.inner.call(M::pass_request(req)));
        };
        let limit = shared.config.body_limit;
        if let Some(len) = declared_length(&req) {
            if len > limit as u64 {
                let r = Rejection::with_detail(
                    RejectionKind::BodyTooLarge,
                    format_args!("{len} bytes declared, limit {limit}"),
                );
                return ResponseFuture::reject(Some(&meta.command), measured, r);
            }
        }
        // The readied instance: a forwarded event takes it to the inner service; a callback for a
        // handler gives back what it reserved (see "Readiness" on `Callback`). Either way a fresh clone
        // takes its place, to be readied for the next request.
        let clone = self.inner.clone();
        let readied = std::mem::replace(&mut self.inner, clone);
        let inner = found.entry.forward.then_some(readied);
        ResponseFuture::collect(req, meta, found.at, measured, shared.clone(), inner)
    }
}

impl<S: Clone, M> Callback<S, M> {
    /// A request to a TRTC path: refused from its head (405, 413), or collected, then verified and
    /// routed once its body is all there. Its route is not known before: it gives back what the inner
    /// service reserved, as a callback for a handler does.
    fn trtc<ReqBody, ResBody>(&mut self, req: Request<ReqBody>) -> ResponseFuture<S, M, ReqBody>
    where
        M: BodyMode,
        S: Service<Request<M::Body<ReqBody>>, Response = Response<ResBody>>,
        ReqBody: Body,
        ReqBody::Error: Into<BoxError>,
    {
        let measured = metrics::Request::start();
        if req.method() != Method::POST {
            let r = Rejection::new(RejectionKind::MethodNotAllowed);
            return ResponseFuture::reject_trtc(measured, r);
        }
        let limit = self.shared.config.body_limit;
        if let Some(len) = declared_length(&req) {
            if len > limit as u64 {
                let r = Rejection::with_detail(
                    RejectionKind::BodyTooLarge,
                    format_args!("{len} bytes declared, limit {limit}"),
                );
                return ResponseFuture::reject_trtc(measured, r);
            }
        }
        // The readied instance goes with the callback: an extension route may forward the event to it
        // once it is verified and routed; otherwise it is given back then.
        let clone = self.inner.clone();
        let readied = std::mem::replace(&mut self.inner, clone);
        ResponseFuture::collect_trtc(req, measured, self.shared.clone(), readied)
    }
}

/// The body length the request declares: `Content-Length`, or the body's exact size hint.
fn declared_length<B: Body>(req: &Request<B>) -> Option<u64> {
    let header = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let hint = req.body().size_hint().lower();
    Some(header.unwrap_or(0).max(hint)).filter(|n| *n > 0)
}
