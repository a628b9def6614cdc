//! The receiver's log on stderr, and its bound: the events written for each callback (the library's
//! `callback handled`, `callback forwarded` and `callback verified`, all at DEBUG, the receiver's own
//! refusals of a raw body) are rate-limited together, [`BURST`] at once then [`PER_SECOND`] a second,
//! whatever `RUST_LOG` says; what is left out is counted and reported every [`REPORT_EVERY`] in one
//! line. A flood of replayed callbacks (a signed URL is valid for a minute) adds at most about 1.5
//! KB a second to the log instead of a line per request. Every accepted callback is still printed on
//! stdout, which is the receiver's record of them; the library's WARN and ERROR events (refusals,
//! failures) are rate-limited by the library itself and pass here untouched, as do the receiver's
//! and the server's other events.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;

use crate::LOG_TARGET;

/// The target of the receiver's own per-callback events (under `server`, so that `RUST_LOG=server=..`
/// covers them).
pub(crate) const CALLBACK_TARGET: &str = "server::callback";

/// The library's target (its events at INFO and more verbose are per callback; they are DEBUG).
const LIBRARY_TARGET: &str = "tencent_room_callback";

/// Per-callback events written at once after a quiet spell.
pub(crate) const BURST: u64 = 50;
/// Per-callback events written a second, once the burst is spent.
pub(crate) const PER_SECOND: u64 = 10;
/// How often the count of the events left out is reported (when there are any).
pub(crate) const REPORT_EVERY: Duration = Duration::from_secs(10);

const NANOS_PER_SECOND: u64 = 1_000_000_000;

/// Whether an event is one of those written for each callback.
fn per_callback(meta: &Metadata<'_>) -> bool {
    let target = meta.target();
    target == CALLBACK_TARGET || (target == LIBRARY_TARGET && *meta.level() >= Level::INFO)
}

/// A token bucket of [`BURST`] events refilled at [`PER_SECOND`] a second (the GCRA form: one atomic
/// "full at" time), with a count of the events it refused.
#[derive(Debug)]
pub(crate) struct Gate {
    base: Instant,
    /// When the bucket is full again, in nanoseconds since `base`.
    full_at: AtomicU64,
    suppressed: AtomicU64,
}

impl Gate {
    pub(crate) fn new() -> Gate {
        Gate {
            base: Instant::now(),
            full_at: AtomicU64::new(0),
            suppressed: AtomicU64::new(0),
        }
    }

    /// Takes one event's room at `now` (nanoseconds since `base`), if there is one; counts it
    /// otherwise.
    fn admit(&self, now: u64) -> bool {
        let interval = NANOS_PER_SECOND / PER_SECOND;
        let tolerance = interval * (BURST - 1);
        let mut full_at = self.full_at.load(Relaxed);
        loop {
            let from = full_at.max(now);
            if from - now > tolerance {
                self.suppressed.fetch_add(1, Relaxed);
                return false;
            }
            match self.full_at.compare_exchange_weak(
                full_at,
                from.saturating_add(interval),
                Relaxed,
                Relaxed,
            ) {
                Ok(_) => return true,
                Err(current) => full_at = current,
            }
        }
    }

    fn now(&self) -> u64 {
        u64::try_from(self.base.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// The events left out since the last call.
    pub(crate) fn take_suppressed(&self) -> u64 {
        self.suppressed.swap(0, Relaxed)
    }
}

/// The gate as a layer: a per-callback event over the limit is disabled for every layer (nothing
/// formatted, nothing written).
struct GateLayer(Arc<Gate>);

impl<S: Subscriber> Layer<S> for GateLayer {
    fn event_enabled(&self, event: &Event<'_>, _ctx: Context<'_, S>) -> bool {
        !per_callback(event.metadata()) || self.0.admit(self.0.now())
    }
}

/// Installs the log: stderr (colours on a terminal only), `RUST_LOG` (default `info`), the gate; a
/// subscriber already installed stays. The gate, for [`report`].
pub(crate) fn init() -> Arc<Gate> {
    let gate = Arc::new(Gate::new());
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    // A process that installed its own subscriber before calling `main` keeps it (no panic).
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(GateLayer(gate.clone()))
        .with(fmt)
        .try_init();
    gate
}

/// Every [`REPORT_EVERY`], how many per-callback events were left out, if any (one INFO line).
pub(crate) async fn report(gate: Arc<Gate>) {
    let mut every = tokio::time::interval(REPORT_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    every.tick().await;
    loop {
        every.tick().await;
        report_now(&gate);
    }
}

/// How many per-callback events were left out since the last report, if any (one INFO line).
pub(crate) fn report_now(gate: &Gate) {
    let suppressed = gate.take_suppressed();
    if suppressed > 0 {
        tracing::info!(
            target: LOG_TARGET,
            suppressed,
            burst = BURST,
            per_second = PER_SECOND,
            "per-callback log events left out (rate-limited; every accepted callback is on stdout)"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_rate() {
        let gate = Gate::new();
        let admitted = (0..1000).filter(|_| gate.admit(0)).count() as u64;
        assert_eq!(admitted, BURST);
        assert_eq!(gate.take_suppressed(), 1000 - BURST);
        // One second later: PER_SECOND more.
        let later = (0..1000).filter(|_| gate.admit(NANOS_PER_SECOND)).count() as u64;
        assert_eq!(later, PER_SECOND);
        // After a quiet spell the burst is whole again.
        let quiet = 100 * NANOS_PER_SECOND;
        let again = (0..1000).filter(|_| gate.admit(quiet)).count() as u64;
        assert_eq!(again, BURST);
    }

    #[test]
    fn only_per_callback_events_are_gated() {
        use tracing::callsite::Identifier;
        use tracing::field::FieldSet;
        use tracing::metadata::Kind;

        struct Site;
        impl tracing::Callsite for Site {
            fn set_interest(&self, _: tracing::subscriber::Interest) {}
            fn metadata(&self) -> &Metadata<'_> {
                unreachable!()
            }
        }
        static SITE: Site = Site;
        let meta = |target: &'static str, level| {
            Metadata::new(
                "event",
                target,
                level,
                None,
                None,
                None,
                FieldSet::new(&[], Identifier(&SITE)),
                Kind::EVENT,
            )
        };
        assert!(per_callback(&meta(LIBRARY_TARGET, Level::INFO)));
        assert!(per_callback(&meta(LIBRARY_TARGET, Level::DEBUG)));
        assert!(per_callback(&meta(CALLBACK_TARGET, Level::WARN)));
        // The library's WARN and ERROR are its own to limit; the rest is not per callback.
        assert!(!per_callback(&meta(LIBRARY_TARGET, Level::WARN)));
        assert!(!per_callback(&meta(LIBRARY_TARGET, Level::ERROR)));
        assert!(!per_callback(&meta(
            "tencent_room_callback_inbox",
            Level::INFO
        )));
        assert!(!per_callback(&meta(LOG_TARGET, Level::INFO)));
        assert!(!per_callback(&meta(
            "tencent_room_callback_receiver::serve",
            Level::WARN
        )));
    }
}
