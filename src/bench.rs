//! Internals the crate's own benchmarks compare with well-kept crates (`benches/crates.rs`): hidden,
//! not part of the API, and only built with `RUSTFLAGS="--cfg trc_bench"`.

use bytes::Bytes;
use http_body::Body;

use crate::command::Command;
use crate::query::{Routing, Scan};
use crate::reject::Rejection;

/// What the layer reads first from a query: the command it routes on and the raw `SdkAppid`, with
/// conflicting repeats detected.
pub fn scan_query(query: &str) -> (Option<Command>, Option<String>) {
    let scan = Scan::new(Some(query));
    let command = match scan.route() {
        Routing::Callback(name) => Command::from_name(&name),
        Routing::Pass | Routing::Conflict => None,
    };
    let app = scan
        .params()
        .app
        .get("SdkAppid")
        .ok()
        .flatten()
        .map(|v| v.into_owned());
    (command, app)
}

/// The layer's body reader: the whole body, at most `limit` bytes.
///
/// # Errors
/// The rejection the layer would answer with.
pub async fn read_body<B>(body: B, limit: usize) -> Result<Bytes, Rejection>
where
    B: Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    crate::layer::read_body(body, limit).await
}

/// The body reader built from `http_body_util` instead: the body's errors marked (so that an outer
/// limit is told from this one), `Limited`, `collect`, `Collected::to_bytes`.
///
/// # Errors
/// The rejection the layer would answer with.
pub async fn read_body_limited<B>(body: B, limit: usize) -> Result<Bytes, Rejection>
where
    B: Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    crate::layer::read_body_limited(body, limit).await
}
