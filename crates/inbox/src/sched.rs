//! Which stored events are due, for the stores that keep their index in this process (embedded, memory):
//! arrival order, backoff, and per-room order when a worker asks for it.
//!
//! Unordered, every event waits in `ready` (due now) or `delayed` (due later). Ordered, only the first
//! event of each room not yet completed or buried waits there: the next one of that room is scheduled
//! when it completes or dies. Every operation is O(log n).

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

#[derive(Debug)]
struct Entry {
    room: Option<Arc<str>>,
    due: Instant,
    in_flight: bool,
}

#[derive(Debug)]
pub(crate) struct Sched {
    entries: BTreeMap<u64, Entry>,
    ready: BTreeSet<u64>,
    delayed: BTreeSet<(Instant, u64)>,
    /// Ordered: each room's events not yet completed or buried, in arrival order.
    rooms: HashMap<Arc<str>, VecDeque<u64>>,
    ordered: bool,
    in_flight: usize,
}

impl Sched {
    pub(crate) fn new() -> Self {
        Sched {
            entries: BTreeMap::new(),
            ready: BTreeSet::new(),
            delayed: BTreeSet::new(),
            rooms: HashMap::new(),
            ordered: false,
            in_flight: 0,
        }
    }

    /// Events waiting or in a worker's hands.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Switches per-room order on or off, re-scheduling every event not in a worker's hands.
    pub(crate) fn set_ordered(&mut self, ordered: bool) {
        if self.ordered == ordered {
            return;
        }
        self.ordered = ordered;
        self.ready.clear();
        self.delayed.clear();
        self.rooms.clear();
        let seqs: Vec<u64> = self.entries.keys().copied().collect();
        for seq in seqs {
            self.place(seq);
        }
    }

    /// A new event (or one loaded at start), `seq` above every earlier one.
    pub(crate) fn insert(&mut self, seq: u64, room: Option<&str>, due: Instant) {
        let room = room.map(Arc::from);
        self.entries.insert(
            seq,
            Entry {
                room,
                due,
                in_flight: false,
            },
        );
        self.place(seq);
    }

    /// Puts `seq` where it waits: its room's queue when ordered (scheduled if first), else scheduled.
    fn place(&mut self, seq: u64) {
        let Some(entry) = self.entries.get(&seq) else {
            return;
        };
        if let (true, Some(room)) = (self.ordered, &entry.room) {
            let queue = self.rooms.entry(room.clone()).or_default();
            // Loaded or inserted in increasing order: pushing keeps each queue sorted.
            queue.push_back(seq);
            if queue.len() > 1 {
                return;
            }
        }
        self.schedule(seq);
    }

    fn schedule(&mut self, seq: u64) {
        let Some(entry) = self.entries.get(&seq) else {
            return;
        };
        if entry.in_flight {
            return;
        }
        if entry.due <= Instant::now() {
            self.ready.insert(seq);
        } else {
            self.delayed.insert((entry.due, seq));
        }
    }

    /// Up to `max` due events, oldest first, now in a worker's hands.
    pub(crate) fn claim(&mut self, now: Instant, max: usize) -> Vec<u64> {
        while let Some(&(due, seq)) = self.delayed.first() {
            if due > now {
                break;
            }
            self.delayed.pop_first();
            self.ready.insert(seq);
        }
        let mut out = Vec::new();
        while out.len() < max {
            let Some(seq) = self.ready.pop_first() else {
                break;
            };
            if let Some(entry) = self.entries.get_mut(&seq) {
                entry.in_flight = true;
                self.in_flight += 1;
                out.push(seq);
            }
        }
        out
    }

    /// When the next delayed event is due.
    pub(crate) fn next_due(&self) -> Option<Instant> {
        self.delayed.first().map(|(due, _)| *due)
    }

    /// The event is gone (handled or buried): its room's next event is scheduled.
    pub(crate) fn remove(&mut self, seq: u64) {
        let Some(entry) = self.entries.remove(&seq) else {
            return;
        };
        if entry.in_flight {
            self.in_flight -= 1;
        }
        self.ready.remove(&seq);
        self.delayed.remove(&(entry.due, seq));
        if let (true, Some(room)) = (self.ordered, entry.room) {
            if let Some(queue) = self.rooms.get_mut(&room) {
                let was_first = queue.front() == Some(&seq);
                queue.retain(|s| *s != seq);
                let next = queue.front().copied();
                if queue.is_empty() {
                    self.rooms.remove(&room);
                }
                if let (true, Some(next)) = (was_first, next) {
                    self.schedule(next);
                }
            }
        }
    }

    /// Rebuilds the schedule from `events` (sequence number, room), as a store reopened after a failure
    /// read them: the events in a worker's hands stay there (not handed twice), the others are due now,
    /// those gone from the store are forgotten.
    pub(crate) fn reset(&mut self, events: &[(u64, Option<Box<str>>)], now: Instant) {
        let in_flight: BTreeSet<u64> = self
            .entries
            .iter()
            .filter(|(_, e)| e.in_flight)
            .map(|(seq, _)| *seq)
            .collect();
        let delayed: HashMap<u64, Instant> = self
            .entries
            .iter()
            .filter(|(_, e)| !e.in_flight && e.due > now)
            .map(|(seq, e)| (*seq, e.due))
            .collect();
        self.entries.clear();
        self.ready.clear();
        self.delayed.clear();
        self.rooms.clear();
        self.in_flight = 0;
        for (seq, room) in events {
            let held = in_flight.contains(seq);
            self.entries.insert(
                *seq,
                Entry {
                    room: room.as_deref().map(Arc::from),
                    due: delayed.get(seq).copied().unwrap_or(now),
                    in_flight: held,
                },
            );
            if held {
                self.in_flight += 1;
            }
            self.place(*seq);
        }
    }

    /// The event goes back to waiting, due at `due` (a retry's backoff, or now for a release).
    pub(crate) fn requeue(&mut self, seq: u64, due: Instant) {
        let Some(entry) = self.entries.get_mut(&seq) else {
            return;
        };
        if entry.in_flight {
            entry.in_flight = false;
            self.in_flight -= 1;
        }
        self.delayed.remove(&(entry.due, seq));
        entry.due = due;
        self.schedule(seq);
    }
}

/// A scheduler shared by a store's appends and its workers' claims.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) sched: Mutex<Sched>,
    pub(crate) notify: Notify,
}

impl Shared {
    pub(crate) fn new() -> Self {
        Shared {
            sched: Mutex::new(Sched::new()),
            notify: Notify::new(),
        }
    }

    /// The scheduler, a poisoned lock taken over (its state is consistent after every operation).
    pub(crate) fn lock(&self) -> MutexGuard<'_, Sched> {
        self.sched.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Something may have become due: wake the waiting claims.
    pub(crate) fn wake(&self) {
        self.notify.notify_waiters();
    }

    /// Up to `max` due events, waiting up to `wait` for one.
    pub(crate) async fn claim(&self, max: usize, ordered: bool, wait: Duration) -> Vec<u64> {
        let deadline = crate::dur::after(Instant::now(), wait);
        loop {
            let mut notified = std::pin::pin!(self.notify.notified());
            notified.as_mut().enable();
            let (seqs, next) = {
                let mut sched = self.lock();
                sched.set_ordered(ordered);
                (sched.claim(Instant::now(), max), sched.next_due())
            };
            if !seqs.is_empty() {
                return seqs;
            }
            if Instant::now() >= deadline {
                return seqs;
            }
            let until = next.map_or(deadline, |next| next.min(deadline));
            // Woken by a new or re-queued event, or at the next due time (or the deadline).
            let _ = tokio::time::timeout_at(until.into(), notified).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unordered_claims_oldest_first_up_to_max() {
        let mut s = Sched::new();
        let now = Instant::now();
        for seq in 1..=5 {
            s.insert(seq, Some("r"), now);
        }
        assert_eq!(s.claim(now, 2), [1, 2]);
        assert_eq!(s.claim(now, 10), [3, 4, 5]);
        assert!(s.claim(now, 10).is_empty());
        s.remove(3);
        assert_eq!(s.len(), 4);
    }

    #[test]
    fn ordered_hands_one_event_of_a_room_at_a_time() {
        let mut s = Sched::new();
        s.set_ordered(true);
        let now = Instant::now();
        s.insert(1, Some("a"), now);
        s.insert(2, Some("a"), now);
        s.insert(3, Some("b"), now);
        s.insert(4, None, now);
        s.insert(5, None, now);
        assert_eq!(s.claim(now, 10), [1, 3, 4, 5]);
        assert!(s.claim(now, 10).is_empty());
        s.remove(1);
        assert_eq!(s.claim(now, 10), [2]);
    }

    #[test]
    fn a_retried_event_keeps_its_room_waiting_until_it_is_done() {
        let mut s = Sched::new();
        s.set_ordered(true);
        let now = Instant::now();
        s.insert(1, Some("a"), now);
        s.insert(2, Some("a"), now);
        assert_eq!(s.claim(now, 10), [1]);
        let later = now + Duration::from_secs(5);
        s.requeue(1, later);
        assert!(s.claim(now, 10).is_empty());
        assert_eq!(s.next_due(), Some(later));
        assert_eq!(s.claim(later, 10), [1]);
        s.remove(1);
        assert_eq!(s.claim(later, 10), [2]);
    }

    #[test]
    fn a_reset_keeps_what_is_in_hand_and_forgets_what_is_gone() {
        let mut s = Sched::new();
        s.set_ordered(true);
        let now = Instant::now();
        s.insert(1, Some("a"), now);
        s.insert(2, Some("a"), now);
        s.insert(3, None, now);
        s.insert(4, None, now);
        assert_eq!(s.claim(now, 2), [1, 3]);
        // Reopened: 3 is gone (its removal was durable), 5 was found in the file.
        let found: Vec<(u64, Option<Box<str>>)> = vec![
            (1, Some("a".into())),
            (2, Some("a".into())),
            (4, None),
            (5, None),
        ];
        s.reset(&found, now);
        assert_eq!(s.len(), 4);
        // 1 is still in hand: not handed again, and room a waits for it.
        assert_eq!(s.claim(now, 10), [4, 5]);
        s.remove(1);
        assert_eq!(s.claim(now, 10), [2]);
    }

    #[test]
    fn switching_order_reschedules_what_waits() {
        let mut s = Sched::new();
        let now = Instant::now();
        s.insert(1, Some("a"), now);
        s.insert(2, Some("a"), now);
        s.set_ordered(true);
        assert_eq!(s.claim(now, 10), [1]);
        s.set_ordered(false);
        assert_eq!(s.claim(now, 10), [2]);
    }
}
