//! What the token sets and the TRTC key sets share: validating a new set, and a `Debug` that counts
//! secrets without showing any.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard};

use super::ConfigError;

/// Makes a set from `items` with `new`, validating every one before anything changes; a set must not
/// be empty (`empty` is the error then).
pub(super) fn validate<T, I>(
    items: I,
    new: fn(&str) -> Result<T, ConfigError>,
    empty: ConfigError,
) -> Result<Arc<[T]>, ConfigError>
where
    I: IntoIterator,
    I::Item: AsRef<str>,
{
    let set = items
        .into_iter()
        .map(|item| new(item.as_ref()))
        .collect::<Result<Arc<[T]>, _>>()?;
    if set.is_empty() {
        return Err(empty);
    }
    Ok(set)
}

/// `Name { default: n tokens, apps: {id: 1 token, ...} }`: `noun` is the singular (`token`, `key`).
pub(super) fn debug_sets<T>(
    f: &mut fmt::Formatter<'_>,
    name: &str,
    noun: &'static str,
    default: &[T],
    apps: &BTreeMap<u64, Arc<[T]>>,
) -> fmt::Result {
    f.debug_struct(name)
        .field("default", &Count(default.len(), noun))
        .field(
            "apps",
            &DebugMap(apps.iter().map(|(id, set)| (*id, Count(set.len(), noun)))),
        )
        .finish()
}

/// `n token(s)`, `n key(s)`.
struct Count(usize, &'static str);

impl fmt::Debug for Count {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            1 => write!(f, "1 {}", self.1),
            n => write!(f, "{n} {}s", self.1),
        }
    }
}

/// A map's `Debug` from an iterator, without collecting it.
struct DebugMap<I>(I);

impl<I, V> fmt::Debug for DebugMap<I>
where
    I: Iterator<Item = (u64, V)> + Clone,
    V: fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.0.clone()).finish()
    }
}

/// A default set and each app's own set of secrets (tokens, TRTC keys): one immutable state, replaced
/// whole.
pub(crate) struct Sets<S> {
    pub(super) default: Arc<[S]>,
    /// The apps with a set of their own (never empty once built through the public API).
    pub(super) apps: BTreeMap<u64, Arc<[S]>>,
}

impl<S> Clone for Sets<S> {
    fn clone(&self) -> Self {
        Sets {
            default: Arc::clone(&self.default),
            apps: self.apps.clone(),
        }
    }
}

impl<S> Default for Sets<S> {
    fn default() -> Self {
        Sets {
            default: Arc::from(Vec::new()),
            apps: BTreeMap::new(),
        }
    }
}

impl<S: Clone> Sets<S> {
    /// The set `app_id`'s callbacks are checked against: its own, else the default.
    pub(crate) fn effective(&self, app_id: u64) -> &Arc<[S]> {
        self.apps.get(&app_id).unwrap_or(&self.default)
    }

    /// Whether any set holds a secret.
    pub(crate) fn any(&self) -> bool {
        !self.default.is_empty() || self.apps.values().any(|set| !set.is_empty())
    }

    /// Adds `item` to the default set.
    pub(super) fn add_default(&mut self, item: S) {
        self.default = append(&self.default, item);
    }

    /// Adds `item` to app `app_id`'s own set, creating it.
    pub(super) fn add_app(&mut self, app_id: u64, item: S) {
        let own = self
            .apps
            .entry(app_id)
            .or_insert_with(|| Arc::from(Vec::new()));
        *own = append(own, item);
    }

    /// `Name { default: n tokens, apps: {id: 1 token, ...} }`: `noun` is the singular.
    pub(super) fn debug(
        &self,
        f: &mut fmt::Formatter<'_>,
        name: &str,
        noun: &'static str,
    ) -> fmt::Result {
        debug_sets(f, name, noun, &self.default, &self.apps)
    }
}

fn append<S: Clone>(set: &[S], item: S) -> Arc<[S]> {
    set.iter().cloned().chain([item]).collect()
}

/// A state shared by every handle and clone of a `Config`: readers clone the current `Arc` under a
/// read lock, writers swap in a changed copy under the write lock (so concurrent writers never lose
/// each other's changes, and a callback sees the complete state before a change or after it). A
/// poisoned lock is used as is: the state is only ever replaced whole, never half-written.
pub(super) struct Swap<T>(RwLock<Arc<T>>);

impl<T: Clone> Swap<T> {
    pub(super) fn new(value: T) -> Swap<T> {
        Swap(RwLock::new(Arc::new(value)))
    }

    /// The current state.
    pub(super) fn snapshot(&self) -> Arc<T> {
        Arc::clone(&self.read())
    }

    /// The current state, under the read lock.
    pub(super) fn read(&self) -> RwLockReadGuard<'_, Arc<T>> {
        self.0.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Replaces the state by a copy changed by `change`; returns what `change` returns. `change`
    /// must not panic.
    pub(super) fn change<R>(&self, change: impl FnOnce(&mut T) -> R) -> R {
        let mut current = self.0.write().unwrap_or_else(PoisonError::into_inner);
        let mut next = T::clone(&current);
        let out = change(&mut next);
        *current = Arc::new(next);
        out
    }

    /// Whether a writer panicked while holding the lock (for the tests).
    #[cfg(test)]
    pub(super) fn lock(&self) -> &RwLock<Arc<T>> {
        &self.0
    }
}

impl<T: Default + Clone> Default for Swap<T> {
    fn default() -> Self {
        Swap::new(T::default())
    }
}
