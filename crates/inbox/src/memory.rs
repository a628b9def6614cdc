//! The inbox in this process's memory: not durable. For tests, development, and the receiver's shape
//! without a store.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::dur;
use super::record::{EventId, Record, Stored};
use super::sched::Shared;
use super::store::{
    Appended, Backend, BoxFuture, DeadLetter, Depth, InboxError, InboxErrorKind, InboxEvent,
    Quarantined,
};

#[derive(Debug, Default)]
struct State {
    next: u64,
    closed: bool,
    /// Each event, and how many times it was handed out.
    events: HashMap<u64, (Stored, u32)>,
    dead: BTreeMap<u64, Stored>,
    /// Each remembered key's expiry, and the keys by expiry (for purging).
    keys: HashMap<[u8; 17], Instant>,
    expiries: BTreeSet<(Instant, [u8; 17])>,
}

impl State {
    fn purge(&mut self, now: Instant) {
        while let Some(&(at, key)) = self.expiries.first() {
            if at > now {
                break;
            }
            self.expiries.pop_first();
            if self.keys.get(&key) == Some(&at) {
                self.keys.remove(&key);
            }
        }
    }

    fn next_seq(&mut self) -> u64 {
        self.next += 1;
        self.next
    }
}

#[derive(Debug)]
pub(crate) struct Memory {
    state: Mutex<State>,
    shared: Shared,
}

impl Memory {
    pub(crate) fn new() -> Self {
        Memory {
            state: Mutex::new(State::default()),
            shared: Shared::new(),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn append_now(&self, record: Record) -> Result<Appended, InboxError> {
        let now = Instant::now();
        let mut state = self.state();
        if state.closed {
            return Err(closed());
        }
        state.purge(now);
        let key = record.stored_key();
        if record.dedup_ttl.is_some() && state.keys.contains_key(&key) {
            return Ok(Appended::Duplicate);
        }
        // Checked under the lock that stores: concurrent callbacks cannot overshoot the bound.
        if record
            .max_pending
            .is_some_and(|max| state.events.len() as u64 >= max)
        {
            return Ok(Appended::Full);
        }
        if let Some(ttl) = record.dedup_ttl {
            let until = dur::after(now, ttl);
            state.keys.insert(key, until);
            state.expiries.insert((until, key));
        }
        let seq = state.next_seq();
        let room = record.room.clone();
        state.events.insert(
            seq,
            (
                Stored {
                    id: EventId::seq(seq),
                    record,
                    attempts: 0,
                    error: None,
                },
                0,
            ),
        );
        // The scheduler's lock is taken inside the state's, always in that order.
        self.shared.lock().insert(seq, room.as_deref(), now);
        drop(state);
        self.shared.wake();
        Ok(Appended::Stored(EventId::seq(seq)))
    }
}

fn closed() -> InboxError {
    InboxError::of(InboxErrorKind::Closed, "the inbox is closed")
}

/// The error noted with an event buried for having been handed out `attempts` times without an
/// outcome.
pub(crate) fn unsettled(attempts: u32) -> String {
    format!(
        "handed out {attempts} times without an outcome (its handler hung, or the process stopped \
         under it)"
    )
}

impl Backend for Memory {
    fn append(&self, record: Record) -> BoxFuture<'_, Result<Appended, InboxError>> {
        let appended = self.append_now(record);
        Box::pin(async move { appended })
    }

    fn claim(
        &self,
        max: usize,
        ordered: bool,
        wait: Duration,
        max_attempts: u32,
    ) -> BoxFuture<'_, Result<Vec<Stored>, InboxError>> {
        Box::pin(async move {
            let seqs = self.shared.claim(max, ordered, wait).await;
            let mut state = self.state();
            if state.closed {
                drop(state);
                let mut sched = self.shared.lock();
                for seq in seqs {
                    sched.requeue(seq, Instant::now());
                }
                return Err(closed());
            }
            let mut out = Vec::with_capacity(seqs.len());
            for seq in seqs {
                let Some((stored, handed)) = state.events.get_mut(&seq) else {
                    self.shared.lock().remove(seq);
                    continue;
                };
                if *handed >= max_attempts {
                    // Handed out its most attempts without an outcome: buried, not handed again.
                    let attempts = *handed;
                    if let Some((mut stored, _)) = state.events.remove(&seq) {
                        crate::obs::buried_unsettled(&stored.id, attempts);
                        stored.attempts = attempts;
                        stored.error = Some(unsettled(attempts));
                        state.dead.insert(seq, stored);
                    }
                    self.shared.lock().remove(seq);
                    continue;
                }
                let mut handed_out = stored.clone();
                handed_out.attempts = *handed;
                *handed += 1;
                out.push(handed_out);
            }
            drop(state);
            self.shared.wake();
            Ok(out)
        })
    }

    fn complete(&self, event: &Stored) -> BoxFuture<'_, Result<(), InboxError>> {
        let seq = event.seq();
        let mut state = self.state();
        if state.closed {
            return Box::pin(async { Err(closed()) });
        }
        state.events.remove(&seq);
        self.shared.lock().remove(seq);
        drop(state);
        self.shared.wake();
        Box::pin(async { Ok(()) })
    }

    fn retry(
        &self,
        event: &Stored,
        delay: Duration,
        error: &str,
    ) -> BoxFuture<'_, Result<(), InboxError>> {
        let seq = event.seq();
        let mut state = self.state();
        if state.closed {
            return Box::pin(async { Err(closed()) });
        }
        if let Some((stored, _)) = state.events.get_mut(&seq) {
            stored.attempts = event.attempts + 1;
            stored.error = Some(error.to_owned());
        }
        self.shared
            .lock()
            .requeue(seq, dur::after(Instant::now(), delay));
        drop(state);
        self.shared.wake();
        Box::pin(async { Ok(()) })
    }

    fn bury(&self, event: &Stored, error: &str) -> BoxFuture<'_, Result<(), InboxError>> {
        let seq = event.seq();
        let mut state = self.state();
        if state.closed {
            return Box::pin(async { Err(closed()) });
        }
        if let Some((mut stored, _)) = state.events.remove(&seq) {
            stored.attempts = event.attempts + 1;
            stored.error = Some(error.to_owned());
            state.dead.insert(seq, stored);
        }
        self.shared.lock().remove(seq);
        drop(state);
        self.shared.wake();
        Box::pin(async { Ok(()) })
    }

    fn release(&self, event: &Stored) -> BoxFuture<'_, Result<(), InboxError>> {
        let seq = event.seq();
        let mut state = self.state();
        if let Some((_, handed)) = state.events.get_mut(&seq) {
            *handed = handed.saturating_sub(1);
        }
        self.shared.lock().requeue(seq, Instant::now());
        drop(state);
        self.shared.wake();
        Box::pin(async { Ok(()) })
    }

    fn dead_letters(&self, max: usize) -> BoxFuture<'_, Result<Vec<DeadLetter>, InboxError>> {
        let dead = self
            .state()
            .dead
            .values()
            .take(max)
            .map(|stored| DeadLetter {
                error: stored.error.clone().unwrap_or_default(),
                event: InboxEvent {
                    stored: stored.clone(),
                },
            })
            .collect();
        Box::pin(async move { Ok(dead) })
    }

    fn replay(&self, id: &EventId) -> BoxFuture<'_, Result<Option<EventId>, InboxError>> {
        let mut state = self.state();
        let replayed = id
            .as_seq()
            .and_then(|seq| state.dead.remove(&seq))
            .map(|mut stored| {
                let seq = state.next_seq();
                stored.id = EventId::seq(seq);
                stored.attempts = 0;
                stored.error = None;
                let room = stored.record.room.clone();
                state.events.insert(seq, (stored, 0));
                self.shared
                    .lock()
                    .insert(seq, room.as_deref(), Instant::now());
                EventId::seq(seq)
            });
        drop(state);
        self.shared.wake();
        Box::pin(async move { Ok(replayed) })
    }

    fn depth(&self) -> BoxFuture<'_, Result<Depth, InboxError>> {
        let state = self.state();
        let depth = Depth {
            pending: state.events.len() as u64,
            dead: state.dead.len() as u64,
            quarantined: 0,
        };
        Box::pin(async move { Ok(depth) })
    }

    fn quarantined(&self, _max: usize) -> BoxFuture<'_, Result<Vec<Quarantined>, InboxError>> {
        // Nothing in memory is ever unreadable.
        Box::pin(async { Ok(Vec::new()) })
    }

    fn close(&self) -> BoxFuture<'_, Result<(), InboxError>> {
        self.state().closed = true;
        self.shared.wake();
        Box::pin(async { Ok(()) })
    }

    fn name(&self) -> &'static str {
        "memory"
    }

    fn pending_now(&self) -> Option<u64> {
        Some(self.state().events.len() as u64)
    }
}
