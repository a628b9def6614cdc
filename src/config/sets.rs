//! What the token sets and the TRTC key sets share: validating a new set, and a `Debug` that counts
//! secrets without showing any.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

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
