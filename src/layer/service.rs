//! The service: routes on the query, verifies the head, then collects and delivers.

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{header, Method, Request, Response};
use http_body::Body;
use tower_service::Service;

use super::body::ResponseBody;
use super::future::ResponseFuture;
use super::handler::BoxError;
use super::routes::Routes;
use super::Shared;
use crate::command::CallbackCommand;
use crate::metrics;
use crate::query::{may_carry_a_command, Routing, Scan};
use crate::reject::{Rejection, RejectionKind};
use crate::verify::{conflicting_command, verify};

/// The service made by [`CallbackLayer`](super::CallbackLayer): intercepts the callbacks it handles,
/// passes everything else to `inner` untouched.
///
/// Its responses carry a [`ResponseBody`] (the inner service's body or the layer's acknowledgment);
/// its inner service receives the requests with the body type [`Routes::Body`] names.
pub struct Callback<S, R> {
    pub(crate) inner: S,
    pub(crate) shared: Arc<Shared<R>>,
}

impl<S, R> Callback<S, R> {
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

impl<S: Clone, R> Clone for Callback<S, R> {
    fn clone(&self) -> Self {
        Callback {
            inner: self.inner.clone(),
            shared: self.shared.clone(),
        }
    }
}

impl<S: fmt::Debug, R: fmt::Debug> fmt::Debug for Callback<S, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Callback")
            .field("inner", &self.inner)
            .field("config", &self.shared.config)
            .field("paths", &self.shared.paths)
            .field("routes", &self.shared.routes)
            .finish()
    }
}

impl<S, R, ReqBody, ResBody> Service<Request<ReqBody>> for Callback<S, R>
where
    R: Routes,
    S: Service<Request<R::Body<ReqBody>>, Response = Response<ResBody>> + Clone,
    ReqBody: Body,
    ReqBody::Error: Into<BoxError>,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S, R, ReqBody>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    #[inline]
    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        // Most requests are passed through after one look (at the path when paths are set, at the query
        // otherwise): this much is small enough to inline into the caller, so that the inner future is
        // not wrapped in a function call of its own.
        if !self.shared.serves(req.uri()) || !may_carry_a_command(req.uri().query()) {
            return ResponseFuture::inner(self.inner.call(R::pass_request(req)));
        }
        self.route(req)
    }
}

impl<S, R> Callback<S, R> {
    /// Routes a request whose query may carry a command: passed through, rejected, forwarded with its
    /// verified metadata, or collected for its route.
    fn route<ReqBody, ResBody>(
        &mut self,
        mut req: Request<ReqBody>,
    ) -> ResponseFuture<S, R, ReqBody>
    where
        R: Routes,
        S: Service<Request<R::Body<ReqBody>>, Response = Response<ResBody>> + Clone,
        ReqBody: Body,
        ReqBody::Error: Into<BoxError>,
    {
        let shared = &self.shared;
        let scan = Scan::new(req.uri().query());
        let command = match scan.route() {
            Routing::Pass => return ResponseFuture::inner(self.inner.call(R::pass_request(req))),
            Routing::Callback(name) => CallbackCommand::new(name),
            Routing::Conflict => {
                return ResponseFuture::reject(
                    None,
                    metrics::Request::start(),
                    conflicting_command(),
                )
            }
        };
        let selected = shared.routes.select(&command);
        if selected.is_none() && !shared.verify_unrouted {
            return ResponseFuture::inner(self.inner.call(R::pass_request(req)));
        }
        // Taken now (with the `metrics` feature): the request's end-to-end time starts here.
        let measured = metrics::Request::start();
        if req.method() != Method::POST {
            return ResponseFuture::reject(
                Some(command.as_str()),
                measured,
                Rejection::new(RejectionKind::MethodNotAllowed),
            );
        }
        let meta = match verify(&shared.config, &command, scan) {
            Ok(meta) => meta,
            Err(r) => return ResponseFuture::reject(Some(command.as_str()), measured, r),
        };
        let measured = measured.verified(&meta.command, selected.map(|s| s.rank));
        let Some(selected) = selected else {
            // Verified, and no route of ours: the app's, with what was verified.
            crate::trace::verified(meta.command.as_str());
            metrics::verified(measured);
            req.extensions_mut().insert(meta);
            return ResponseFuture::inner(self.inner.call(R::pass_request(req)));
        };
        let limit = shared.config.body_limit;
        if let Some(len) = declared_length(&req) {
            if len > limit as u64 {
                let r = Rejection::with_detail(
                    RejectionKind::BodyTooLarge,
                    format_args!("{len} bytes declared, limit {limit}"),
                );
                return ResponseFuture::reject(Some(meta.command.as_str()), measured, r);
            }
        }
        // Only a request whose event goes to the inner service needs it: take the instance that was
        // readied, leave a fresh clone in its place.
        let inner = selected.forward.then(|| {
            let clone = self.inner.clone();
            std::mem::replace(&mut self.inner, clone)
        });
        ResponseFuture::collect(req, meta, selected.at, measured, shared.clone(), inner)
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
