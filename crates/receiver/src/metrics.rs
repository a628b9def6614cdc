//! The receiver's metrics endpoint: when `ROOM_CALLBACK_METRICS_ADDR` is set, the library's metrics
//! (feature `metrics`) are recorded by the Prometheus exporter's recorder and served in Prometheus'
//! text format at `GET /metrics` on that address, apart from the callback address (scrape it from
//! inside your network; it says nothing secret, but it is no business of Tencent's).
//!
//! The exporter is used without its own HTTP listener: a small axum app serves its `render()`, so
//! that binding the address is this program's, with its errors named like every other setting's. It
//! runs on the same hardened [`serve`](crate::serve) as the callbacks, with the default limits but
//! for the connections ([`MAX_CONNECTIONS`]): a scraper needs one.

use std::net::SocketAddr;
use std::time::Duration;

use crate::serve::{bind, serve, ServeConfig};
use crate::LOG_TARGET;
use axum::http::header::CONTENT_TYPE;
use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tencent_room_callback::metrics::{describe, HANDLER_DURATION, REQUEST_DURATION};

/// The variable naming the metrics endpoint's address.
pub(crate) const VAR: &str = "ROOM_CALLBACK_METRICS_ADDR";

/// Bucket bounds of the latency histograms, in seconds: sub-millisecond answers up to Tencent's 2 s
/// timeout and beyond.
const BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0,
];

/// The most connections to the endpoint at once.
const MAX_CONNECTIONS: usize = 64;

/// The content type of Prometheus' text format.
const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Binds the endpoint and installs the recorder when `ROOM_CALLBACK_METRICS_ADDR` is set: the address it
/// listens on, `None` when the variable is unset. The error is one line naming the variable and the
/// address (the server exits with 2 on it, as for any other setting).
pub(crate) async fn start() -> Result<Option<SocketAddr>, String> {
    let Some(addr) = super::var(VAR, "no metrics endpoint")? else {
        return Ok(None);
    };
    if addr.trim() != addr {
        return Err(format!("{VAR} starts or ends with white space"));
    }
    let listener = bind(&addr).await.map_err(|e| format!("{VAR}: {e}"))?;
    let local = listener
        .local_addr()
        .map_err(|e| format!("{VAR}: cannot listen on {addr}: {e}"))?;
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full(HANDLER_DURATION.into()), BUCKETS)
        .and_then(|b| b.set_buckets_for_metric(Matcher::Full(REQUEST_DURATION.into()), BUCKETS))
        .and_then(PrometheusBuilder::install_recorder)
        .map_err(|e| format!("{VAR}: cannot install the metrics recorder: {e}"))?;
    describe();
    tokio::spawn(upkeep(handle.clone()));
    let app = Router::new()
        .route(
            "/metrics",
            get(move || {
                let text = handle.render();
                async move { ([(CONTENT_TYPE, TEXT_FORMAT)], text) }
            }),
        )
        .with_state(());
    let limits = ServeConfig {
        max_connections: MAX_CONNECTIONS,
        ..ServeConfig::default()
    };
    // Served until the process ends.
    tokio::spawn(serve(listener, app, limits, std::future::pending()));
    tracing::info!(target: LOG_TARGET, addr = %local, "serving metrics at /metrics");
    Ok(Some(local))
}

/// The exporter's periodic maintenance (its histograms' storage), which a recorder installed without
/// the exporter's own listener leaves to its owner.
async fn upkeep(handle: PrometheusHandle) {
    let mut every = tokio::time::interval(Duration::from_secs(5));
    loop {
        every.tick().await;
        handle.run_upkeep();
    }
}
