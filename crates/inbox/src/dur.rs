//! Durations taken from settings, made safe: every one the inbox accepts is clamped to a range it can
//! add to an [`Instant`], turn into milliseconds for Redis, or wait on, so that no setting — not
//! `Duration::MAX`, not `Duration::ZERO` — panics or makes a store refuse its own commands.

use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The longest delay, TTL or idle time the inbox uses (365 days): a longer setting is cut to it. Far
/// beyond any useful setting, far below what an `Instant` or Redis's `PX` can hold.
pub(crate) const MAX_DELAY: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// `d`, at most [`MAX_DELAY`].
pub(crate) fn capped(d: Duration) -> Duration {
    d.min(MAX_DELAY)
}

/// `now + d`, `d` capped first: never overflows.
pub(crate) fn after(now: Instant, d: Duration) -> Instant {
    let d = capped(d);
    now.checked_add(d).unwrap_or(now)
}

/// `d` in whole milliseconds, capped.
pub(crate) fn millis(d: Duration) -> u64 {
    u64::try_from(capped(d).as_millis()).unwrap_or(u64::MAX)
}

/// A pseudo-random number in `0..=max` (not for secrets: for jitter).
pub(crate) fn random_up_to(max: u64) -> u64 {
    static N: AtomicU64 = AtomicU64::new(0);
    if max == 0 {
        return 0;
    }
    let r = RandomState::new().hash_one(N.fetch_add(1, Ordering::Relaxed));
    match max.checked_add(1) {
        Some(span) => r % span,
        None => r,
    }
}

/// Equal jitter: a delay between half of `d` and `d`, uniformly. Half is kept as a floor so that a
/// failing downstream is never retried at once; the other half spreads the retries of events that
/// failed together.
pub(crate) fn equal_jitter(d: Duration) -> Duration {
    let d = capped(d);
    let half = d / 2;
    let spread = u64::try_from((d - half).as_micros()).unwrap_or(u64::MAX);
    half + Duration::from_micros(random_up_to(spread))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extreme_durations_are_safe() {
        let now = Instant::now();
        assert_eq!(after(now, Duration::MAX), now + MAX_DELAY);
        assert_eq!(after(now, Duration::ZERO), now);
        assert_eq!(millis(Duration::MAX), MAX_DELAY.as_secs() * 1000);
        assert_eq!(equal_jitter(Duration::ZERO), Duration::ZERO);
        assert!(equal_jitter(Duration::MAX) <= MAX_DELAY);
        assert!(equal_jitter(Duration::MAX) >= MAX_DELAY / 2);
        assert_eq!(random_up_to(0), 0);
        let _ = random_up_to(u64::MAX);
    }

    #[test]
    fn equal_jitter_stays_between_half_and_all() {
        let d = Duration::from_millis(100);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..200 {
            let j = equal_jitter(d);
            assert!(j >= d / 2 && j <= d, "{j:?}");
            seen.insert(j);
        }
        assert!(
            seen.len() > 50,
            "not spread: {} distinct delays",
            seen.len()
        );
    }
}
