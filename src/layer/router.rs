//! The routes of a layer: one table of type-erased routes, built by [`CallbackLayer`]'s methods and
//! looked up once per callback (Room commands by index, other exact names by hash, then prefixes,
//! longest first, then the catch-alls for every notification and every decision).
//!
//! [`CallbackLayer`]: super::CallbackLayer

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use http::Extensions;

use super::dedup::Dedup;
use super::handler::AckFuture;
use crate::command::{CallbackCommand, Command, Rank};
use crate::meta::CallbackMeta;
use crate::reject::Rejection;
use crate::trace::Room;

/// A verified callback whose body is all there, as a route receives it.
pub(crate) struct Intercepted<'a> {
    pub(crate) meta: CallbackMeta,
    pub(crate) body: &'a Bytes,
    /// The bound on every list in the body ([`Config::max_members`](crate::Config::max_members)).
    pub(crate) max_members: usize,
    /// A TRTC event decoded while it was verified, for a route that takes it typed.
    pub(crate) trtc: Option<crate::trtc::TrtcEvent>,
}

impl Intercepted<'_> {
    /// The callback's event as `E`: the one decoded while verifying when it is an `E`, else decoded now.
    pub(crate) fn decode<E: crate::event::Event>(&mut self) -> Result<E, Rejection> {
        let early = (&mut self.trtc as &mut dyn std::any::Any)
            .downcast_mut::<Option<E>>()
            .and_then(Option::take);
        match early {
            Some(event) => Ok(event),
            None => E::decode(&self.meta, self.body, self.max_members),
        }
    }
}

/// Where a route delivered a callback.
pub(crate) enum Delivered {
    /// To a handler, whose future answers.
    Handler(AckFuture),
    /// Into the request's extensions, for the inner service to answer.
    Inner,
}

/// One route: decodes a verified callback's body as it needs and delivers it. Its room (for the trace)
/// comes back with the delivery.
pub(crate) trait Route: Send + Sync + 'static {
    fn deliver(
        &self,
        callback: Intercepted<'_>,
        extensions: &mut Extensions,
    ) -> Result<(Delivered, Room), Rejection>;

    /// What the route is, for `Debug`: `on`, `on_command`, `extension`...
    fn kind(&self) -> &'static str;
}

/// A registered route.
#[derive(Clone)]
pub(crate) struct Entry {
    pub(crate) route: Arc<dyn Route>,
    /// Whether it forwards to the inner service (an extension route) rather than to a handler.
    pub(crate) forward: bool,
    /// The de-duplication in front of its handler, if any.
    pub(crate) dedup: Option<Dedup>,
}

/// Where a command's route is in the table, and how well it matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Slot {
    at: usize,
    rank: Rank,
}

/// The route found for a command.
pub(crate) struct Found<'a> {
    pub(crate) at: usize,
    pub(crate) entry: &'a Entry,
    pub(crate) rank: Rank,
}

/// Every route of a layer. Cheap to clone (the routes are shared), so that a layer that was cloned can
/// still be extended without touching the clone.
#[derive(Clone, Default)]
pub(crate) struct Table {
    /// The Room commands' routes, by [`Command`].
    typed: [Option<Slot>; Command::ALL.len()],
    /// Every other exact name's route (typed or raw), by its canonical name.
    names: HashMap<Box<str>, Slot>,
    /// Prefix routes, longest prefix first.
    prefixes: Vec<(Box<str>, Slot)>,
    /// The route of every notification no other route takes.
    notifications: Option<Slot>,
    /// The route of every decision no other route takes.
    decisions: Option<Slot>,
    /// The route of every command in neither table that no other route takes.
    unknown: Option<Slot>,
    entries: Vec<Entry>,
}

impl Table {
    /// Adds a route, to be named by [`name`](Self::name) and the rest.
    pub(crate) fn add(&mut self, route: Arc<dyn Route>, forward: bool) -> usize {
        self.entries.push(Entry {
            route,
            forward,
            dedup: None,
        });
        self.entries.len() - 1
    }

    /// Route `at` takes the command `name` (any of its spellings) with `rank`, unless a route of a
    /// higher rank already does: of two routes of one rank, the later wins.
    pub(crate) fn name(&mut self, name: &str, at: usize, rank: Rank) {
        let slot = Slot { at, rank };
        let command = CallbackCommand::new(name);
        let keep = |old: Option<&Slot>| old.is_some_and(|old| old.rank > rank);
        match command.typed() {
            Some(c) => {
                if !keep(self.typed[c as usize].as_ref()) {
                    self.typed[c as usize] = Some(slot);
                }
            }
            None => {
                if !keep(self.names.get(command.as_str())) {
                    self.names.insert(command.as_str().into(), slot);
                }
            }
        }
    }

    /// Route `at` takes every command starting with `prefix`.
    pub(crate) fn prefix(&mut self, prefix: &str, at: usize) {
        let slot = Slot {
            at,
            rank: Rank::Prefix(prefix.len()),
        };
        self.prefixes.retain(|(p, _)| **p != *prefix);
        self.prefixes.push((prefix.into(), slot));
        // Stable: of prefixes of one length only one can match a name.
        self.prefixes
            .sort_by_key(|(p, _)| std::cmp::Reverse(p.len()));
    }

    /// Route `at` takes every notification no other route takes.
    pub(crate) fn notifications(&mut self, at: usize) {
        self.notifications = Some(Slot {
            at,
            rank: Rank::After,
        });
    }

    /// Route `at` takes every decision no other route takes.
    pub(crate) fn decisions(&mut self, at: usize) {
        self.decisions = Some(Slot {
            at,
            rank: Rank::After,
        });
    }

    /// Route `at` takes every command in neither table that no other route takes.
    pub(crate) fn unknown(&mut self, at: usize) {
        self.unknown = Some(Slot {
            at,
            rank: Rank::After,
        });
    }

    /// Puts `dedup` in front of every handler route that has none yet.
    pub(crate) fn dedup(&mut self, dedup: &Dedup) {
        for entry in &mut self.entries {
            if !entry.forward && entry.dedup.is_none() {
                entry.dedup = Some(dedup.clone());
            }
        }
    }

    /// The route at `at` (as [`find`](Self::find) gave it).
    pub(crate) fn entry(&self, at: usize) -> &Entry {
        &self.entries[at]
    }

    /// The route that takes `command`: one lookup. A typed route wins over an exact name, an exact name
    /// over a prefix, a longer prefix over a shorter one, and any of them over the catch-alls.
    #[inline]
    pub(crate) fn find(&self, command: &CallbackCommand) -> Option<Found<'_>> {
        let slot = match command.typed() {
            Some(c) => self.typed[c as usize].or_else(|| self.by_name(command)),
            None => self.by_name(command),
        }?;
        Some(Found {
            at: slot.at,
            entry: &self.entries[slot.at],
            rank: slot.rank,
        })
    }

    fn by_name(&self, command: &CallbackCommand) -> Option<Slot> {
        let name = command.as_str();
        if !self.names.is_empty() {
            if let Some(slot) = self.names.get(name) {
                return Some(*slot);
            }
        }
        if let Some((_, slot)) = self.prefixes.iter().find(|(p, _)| name.starts_with(&**p)) {
            return Some(*slot);
        }
        if command.is_decision() {
            self.decisions
        } else if command.is_notification() {
            self.notifications
        } else {
            self.unknown
        }
    }
}

impl fmt::Debug for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = |slot: &Slot| self.entries[slot.at].route.kind();
        let mut map = f.debug_map();
        for (c, slot) in Command::ALL.iter().zip(&self.typed) {
            if let Some(slot) = slot {
                map.entry(&c.name(), &kind(slot));
            }
        }
        let mut names: Vec<_> = self.names.iter().collect();
        names.sort_by(|a, b| a.0.cmp(b.0));
        for (name, slot) in names {
            map.entry(name, &kind(slot));
        }
        for (prefix, slot) in &self.prefixes {
            map.entry(&format_args!("{prefix}*"), &kind(slot));
        }
        if let Some(slot) = &self.notifications {
            map.entry(&"<every notification>", &kind(slot));
        }
        if let Some(slot) = &self.decisions {
            map.entry(&"<every decision>", &kind(slot));
        }
        if let Some(slot) = &self.unknown {
            map.entry(&"<every unknown command>", &kind(slot));
        }
        map.finish()
    }
}
