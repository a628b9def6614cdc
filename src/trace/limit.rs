//! Rate limiting of the per-request WARN and ERROR events, which a sender can cause at will (a wrong
//! `Sign` costs it nothing; a handler may fail or panic on some input): per kind of event, a token
//! bucket of [`BURST`] events refilled at [`PER_SECOND`] a second, shared by the whole process.
//!
//! An event over the limit is counted, not logged; the count is reported in one summary event
//! ("callback events suppressed", with `kind` and `suppressed`) just before the next event of that kind
//! that is logged, or on the next successful callback once the bucket has room again: never lost
//! silently. Lock-free (one compare-and-swap to admit, one `fetch_add` to suppress), no allocation.
//!
//! The bucket is the GCRA form of a token bucket: one atomic "theoretical arrival time" per kind, in
//! nanoseconds since the first event. The clock is passed in, so the tests need no sleeping.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::OnceLock;
use std::time::Instant;

use super::TARGET;

/// Events of one kind logged per second, once the burst is spent.
pub(super) const PER_SECOND: u64 = 10;
/// Events of one kind logged at once after a quiet spell (also what a quiet receiver logs unlimited: a
/// test, or a handful of refusals, never sees a summary).
pub(super) const BURST: u64 = 50;

const NANOS_PER_SECOND: u64 = 1_000_000_000;

/// A token bucket of `burst` events refilled at `per_second` a second, with a count of the events it
/// refused since it last reported them.
#[derive(Debug)]
pub(super) struct Limiter {
    /// When the bucket is full again (the GCRA's theoretical arrival time), in nanoseconds.
    full_at: AtomicU64,
    /// Events refused and not reported yet.
    suppressed: AtomicU64,
    /// Nanoseconds per event.
    interval: u64,
    /// How far `full_at` may be ahead of now for one more event to be admitted.
    tolerance: u64,
}

impl Limiter {
    pub(super) const fn new(per_second: u64, burst: u64) -> Self {
        assert!(per_second > 0 && per_second <= NANOS_PER_SECOND && burst > 0);
        let interval = NANOS_PER_SECOND / per_second;
        Limiter {
            full_at: AtomicU64::new(0),
            suppressed: AtomicU64::new(0),
            interval,
            tolerance: interval * (burst - 1),
        }
    }

    /// Takes one event's room in the bucket at `now` (nanoseconds), if there is one.
    fn acquire(&self, now: u64) -> bool {
        let mut full_at = self.full_at.load(Relaxed);
        loop {
            let from = full_at.max(now);
            if from - now > self.tolerance {
                return false;
            }
            match self.full_at.compare_exchange_weak(
                full_at,
                from.saturating_add(self.interval),
                Relaxed,
                Relaxed,
            ) {
                Ok(_) => return true,
                Err(current) => full_at = current,
            }
        }
    }

    /// An event at `now`: `None` if it is over the limit (and then counted), else `Some` of how many
    /// were suppressed since the last report (to report now, before it).
    pub(super) fn admit(&self, now: u64) -> Option<u64> {
        if self.acquire(now) {
            Some(self.suppressed.swap(0, Relaxed))
        } else {
            self.suppressed.fetch_add(1, Relaxed);
            None
        }
    }

    /// The count of suppressed events to report at `now` without an event of this kind, if there is
    /// one and the bucket has room for its report (which takes the room of one event).
    pub(super) fn overdue(&self, now: u64) -> Option<u64> {
        if self.suppressed.load(Relaxed) == 0 || !self.acquire(now) {
            return None;
        }
        Some(self.suppressed.swap(0, Relaxed)).filter(|&n| n > 0)
    }

    /// Whether some suppressed events are not reported yet (one relaxed load).
    fn pending(&self) -> bool {
        self.suppressed.load(Relaxed) != 0
    }
}

/// The kinds of events limited, each with its own bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// `rejected`: a refused request.
    Rejected,
    /// `handler_failed`: the handler returned an error (unavailable included).
    HandlerFailed,
    /// `panicked`: the handler panicked.
    Panicked,
}

impl Kind {
    const ALL: [Kind; 3] = [Kind::Rejected, Kind::HandlerFailed, Kind::Panicked];

    fn as_str(self) -> &'static str {
        match self {
            Kind::Rejected => "rejected",
            Kind::HandlerFailed => "handler_failed",
            Kind::Panicked => "panicked",
        }
    }

    fn limiter(self) -> &'static Limiter {
        static LIMITERS: [Limiter; 3] = [
            Limiter::new(PER_SECOND, BURST),
            Limiter::new(PER_SECOND, BURST),
            Limiter::new(PER_SECOND, BURST),
        ];
        &LIMITERS[self as usize]
    }
}

/// Nanoseconds since the first call (a monotonic clock).
fn now() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    let start = *START.get_or_init(Instant::now);
    u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// Whether an event of `kind` may be logged now; if so, the summary of those suppressed before it is
/// logged first. Called only when a subscriber wants the event.
pub(super) fn admit(kind: Kind) -> bool {
    match kind.limiter().admit(now()) {
        None => false,
        Some(suppressed) => {
            summary(kind, suppressed);
            true
        }
    }
}

/// Reports the suppressed events not reported yet, of every kind whose bucket has room (on a
/// successful callback: a flood that stopped still gets its summary). One relaxed load per kind when
/// there is nothing to report.
pub(super) fn flush() {
    for kind in Kind::ALL {
        let limiter = kind.limiter();
        if limiter.pending() && tracing::enabled!(target: TARGET, tracing::Level::WARN) {
            if let Some(suppressed) = limiter.overdue(now()) {
                summary(kind, suppressed);
            }
        }
    }
}

fn summary(kind: Kind, suppressed: u64) {
    if suppressed > 0 {
        tracing::warn!(
            target: TARGET,
            kind = kind.as_str(),
            suppressed,
            per_second = PER_SECOND,
            burst = BURST,
            "callback events suppressed"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: u64 = NANOS_PER_SECOND;

    #[test]
    fn a_burst_then_the_rate() {
        let limiter = Limiter::new(10, 50);
        // A full bucket at the start: 50 events at once, then none.
        for _ in 0..50 {
            assert_eq!(limiter.admit(0), Some(0));
        }
        for _ in 0..1000 {
            assert_eq!(limiter.admit(0), None);
        }
        // One more every 100 ms, each reporting what was refused before it.
        assert_eq!(limiter.admit(SECOND / 10 - 1), None);
        assert_eq!(limiter.admit(SECOND / 10), Some(1001));
        assert_eq!(limiter.admit(SECOND / 10), None);
        assert_eq!(limiter.admit(2 * SECOND / 10), Some(1));
        // After 10 s of quiet, the bucket is full again: 50 at once, never more.
        let later = 10 * SECOND;
        for _ in 0..50 {
            assert!(limiter.admit(later).is_some());
        }
        assert_eq!(limiter.admit(later), None);
        assert_eq!(limiter.admit(later + SECOND / 10), Some(1));
    }

    #[test]
    fn a_flood_logs_the_burst_plus_the_rate() {
        // 50,000 events spread evenly over 5 s: 50 + 10 a second are admitted, and every refused one is
        // accounted for by the reports.
        let limiter = Limiter::new(PER_SECOND, BURST);
        let (mut admitted, mut reported) = (0, 0);
        let n = 50_000;
        for i in 0..n {
            if let Some(suppressed) = limiter.admit(i * 5 * SECOND / n) {
                admitted += 1;
                reported += suppressed;
            }
        }
        assert_eq!(admitted, BURST + 5 * PER_SECOND - 1);
        // What is left is reported on the first chance after the flood.
        assert_eq!(limiter.overdue(5 * SECOND - 1), None, "no room yet");
        let rest = limiter.overdue(5 * SECOND).unwrap();
        assert_eq!(admitted + reported + rest, n);
        assert_eq!(limiter.overdue(7 * SECOND), None, "nothing left");
    }

    #[test]
    fn nothing_suppressed_nothing_reported() {
        let limiter = Limiter::new(10, 2);
        assert_eq!(limiter.overdue(0), None);
        assert_eq!(limiter.admit(0), Some(0));
        assert_eq!(limiter.admit(0), Some(0));
        // A report takes an event's room only when there is something to report.
        assert_eq!(limiter.overdue(0), None);
        assert_eq!(limiter.admit(0), None);
        assert_eq!(limiter.overdue(0), None, "no room");
        assert_eq!(limiter.overdue(SECOND / 10), Some(1));
        assert_eq!(limiter.admit(SECOND / 10), None, "the report took the room");
        assert_eq!(limiter.admit(2 * SECOND / 10), Some(1));
    }

    #[test]
    fn the_clock_going_nowhere_or_far_is_harmless() {
        let limiter = Limiter::new(PER_SECOND, BURST);
        assert!(limiter.admit(u64::MAX).is_some());
        assert!(limiter.admit(u64::MAX).is_some());
        // Once the bucket is ahead of now, an earlier now only refuses.
        let limiter = Limiter::new(1, 1);
        assert!(limiter.admit(5 * SECOND).is_some());
        assert_eq!(limiter.admit(SECOND), None);
        assert_eq!(limiter.admit(6 * SECOND), Some(1));
    }

    #[test]
    fn concurrent_events_are_all_accounted_for() {
        let limiter = Limiter::new(PER_SECOND, BURST);
        let per_thread = 20_000;
        let (admitted, reported) = std::thread::scope(|s| {
            let threads: Vec<_> = (0..4)
                .map(|t| {
                    let limiter = &limiter;
                    s.spawn(move || {
                        let (mut admitted, mut reported) = (0, 0);
                        for i in 0..per_thread {
                            // Each thread's clock moves on, over 2 s.
                            let now = (i * 2 * SECOND / per_thread) + t;
                            if let Some(n) = limiter.admit(now) {
                                admitted += 1;
                                reported += n;
                            }
                        }
                        (admitted, reported)
                    })
                })
                .collect();
            threads
                .into_iter()
                .map(|t| t.join().unwrap())
                .fold((0, 0), |(a, r), (a2, r2)| (a + a2, r + r2))
        });
        let rest = limiter.overdue(100 * SECOND).unwrap_or(0);
        assert_eq!(admitted + reported + rest, 4 * per_thread);
        // Never more than the burst and the rate over the 2 s (and a step of the clocks).
        assert!(admitted <= BURST + 2 * PER_SECOND + 1, "{admitted}");
        assert!(admitted >= BURST, "{admitted}");
    }
}
