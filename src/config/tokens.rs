//! The token sets: a default set and each app's own, replaceable at run time through [`TokenSets`].

use std::fmt;
use std::sync::Arc;

use super::sets::{self, Sets, Swap};
use super::{ConfigError, Token};

/// The token sets of a [`Config`](crate::Config), replaceable while it serves (token rotation).
///
/// A configured app with a set of its own ([`Config::app_token`](crate::Config::app_token),
/// [`set_app`](TokenSets::set_app)) accepts exactly the tokens of that set; every other configured app
/// accepts the tokens of the default set ([`Config::token`](crate::Config::token),
/// [`set_default`](TokenSets::set_default)). Any token of a set matches (several at once let you
/// rotate without downtime).
///
/// A handle from [`Config::tokens`](crate::Config::tokens) is cheap to clone and shared with every
/// clone of that `Config`, so with every [`CallbackLayer`](crate::CallbackLayer) and service built from
/// it: a change is seen by the next callback each of them verifies. It never detaches: the `Config`'s own
/// builder calls ([`token`](crate::Config::token), [`app_token`](crate::Config::app_token),
/// [`app_id`](crate::Config::app_id)) write through the same table, so a handle taken before them sees
/// their changes and reaches the layer all the same. Each change is atomic: a callback is checked
/// against the complete set before the change or the complete set after it, never a mix. The handle
/// changes tokens only; it adds no SDKAppID.
///
/// `Debug` shows how many tokens each set holds, never a token.
///
/// ```
/// use tencent_room_callback::Config;
///
/// let config = Config::new(1400000000).app_token(1400000001, "app-1-token")?;
/// let tokens = config.tokens(); // keep it; build the layer from `config`
/// // Later, from an admin endpoint or a secrets watcher: start accepting the new token next to the
/// // old one, switch it in Tencent's console, then drop the old one.
/// tokens.set_app(1400000001, ["app-1-token", "app-1-token-v2"])?;
/// tokens.set_app(1400000001, ["app-1-token-v2"])?;
/// assert_eq!(
///     format!("{tokens:?}"),
///     "TokenSets { default: 0 tokens, apps: {1400000001: 1 token} }"
/// );
/// # Ok::<(), tencent_room_callback::config::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct TokenSets {
    shared: Arc<Swap<Table>>,
}

/// One immutable state of the configured apps and their token sets.
#[derive(Clone, Default)]
pub(crate) struct Table {
    /// The configured SDKAppIDs, in the order configured.
    pub(crate) app_ids: Vec<u64>,
    /// The default set and the apps' own.
    pub(crate) sets: Sets<Token>,
}

impl Table {
    /// Whether `app_id` is one of the configured apps.
    pub(crate) fn knows(&self, app_id: u64) -> bool {
        self.app_ids.contains(&app_id)
    }
}

impl fmt::Debug for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.sets.debug(f, "TokenSets", "token")
    }
}

/// Validates every token before anything changes; a set must not be empty.
fn validate<I>(tokens: I) -> Result<Arc<[Token]>, ConfigError>
where
    I: IntoIterator,
    I::Item: AsRef<str>,
{
    sets::validate(tokens, |s| Token::new(s), ConfigError::NoTokens)
}

impl TokenSets {
    /// A new handle (shared with nobody yet) over `table`.
    pub(super) fn new(table: Table) -> TokenSets {
        TokenSets {
            shared: Arc::new(Swap::new(table)),
        }
    }

    /// The current table: a read lock held only to clone an `Arc`.
    pub(crate) fn snapshot(&self) -> Arc<Table> {
        self.shared.snapshot()
    }

    /// The effective set of `app_id` (its own, else the default), for the tests.
    #[cfg(test)]
    pub(super) fn effective(&self, app_id: u64) -> Arc<[Token]> {
        Arc::clone(self.shared.read().sets.effective(app_id))
    }

    /// Changes the table (a changed copy swapped in): see [`Swap::change`].
    pub(super) fn change<R>(&self, change: impl FnOnce(&mut Table) -> R) -> R {
        self.shared.change(change)
    }

    fn check_app(&self, app_id: u64) -> Result<(), ConfigError> {
        if self.shared.read().knows(app_id) {
            Ok(())
        } else {
            Err(ConfigError::UnknownApp(app_id))
        }
    }

    /// Replaces the own token set of app `app_id` with `tokens`, atomically: its callbacks are checked
    /// against the new set only (never the default set) from the next one on. Give the old and the new
    /// token together while switching in Tencent's console, then the new one alone.
    ///
    /// # Errors
    /// Nothing changes on error. [`ConfigError::UnknownApp`] when `app_id` is not one of the
    /// configured SDKAppIDs (the handle adds no app); [`ConfigError::NoTokens`] when `tokens`
    /// is empty (use [`remove_app`](TokenSets::remove_app) to go back to the default set);
    /// [`ConfigError::EmptyToken`] or [`ConfigError::TokenWhitespace`] for an invalid token, as
    /// [`Config::token`](crate::Config::token).
    pub fn set_app<I>(&self, app_id: u64, tokens: I) -> Result<(), ConfigError>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        self.check_app(app_id)?;
        let set = validate(tokens)?;
        self.change(|t| t.sets.apps.insert(app_id, set));
        Ok(())
    }

    /// Replaces the default token set, used by every configured app without a set of its own,
    /// atomically.
    ///
    /// # Errors
    /// Nothing changes on error. [`ConfigError::NoTokens`] when `tokens` is empty (an empty set
    /// would silently turn the signature check off for the apps whose policy is not set);
    /// [`ConfigError::EmptyToken`] or [`ConfigError::TokenWhitespace`] for an invalid token, as
    /// [`Config::token`](crate::Config::token).
    pub fn set_default<I>(&self, tokens: I) -> Result<(), ConfigError>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let set = validate(tokens)?;
        self.change(|t| t.sets.default = set);
        Ok(())
    }

    /// Removes the own token set of app `app_id`: from the next callback on, the app is checked
    /// against the default set (and, when that is empty and no [`SignPolicy`](crate::config::SignPolicy)
    /// applies, not checked at all). Returns whether the app had a set of its own.
    pub fn remove_app(&self, app_id: u64) -> bool {
        // Nothing swapped in when there is nothing to remove.
        self.has_own(app_id) && self.change(|t| t.sets.apps.remove(&app_id).is_some())
    }

    /// Whether app `app_id` has a set of its own now.
    pub fn has_own(&self, app_id: u64) -> bool {
        self.shared.read().sets.apps.contains_key(&app_id)
    }

    /// Whether any set (the default or an app's) holds a token now.
    pub fn any_token(&self) -> bool {
        self.shared.read().sets.any()
    }

    /// The configured SDKAppIDs now, the apps whose sets this handle may change.
    pub fn app_ids(&self) -> Vec<u64> {
        self.shared.read().app_ids.clone()
    }
}

impl fmt::Debug for TokenSets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.snapshot(), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sets() -> TokenSets {
        let mut table = Table {
            app_ids: vec![1, 2, 3],
            ..Table::default()
        };
        table.sets.add_default(Token::new("d").unwrap());
        TokenSets::new(table)
    }

    /// The sets as lists of token texts (for tests only: real code never exposes a token).
    fn texts(set: &[Token]) -> Vec<String> {
        set.iter()
            .map(|t| String::from_utf8(t.expose().to_vec()).unwrap())
            .collect()
    }

    #[test]
    fn set_app_replaces_only_that_app() {
        let s = sets();
        s.set_app(1, ["a1", "a2"]).unwrap();
        assert_eq!(texts(&s.effective(1)), ["a1", "a2"]);
        assert_eq!(texts(&s.effective(2)), ["d"]);
        s.set_app(1, ["a3"]).unwrap();
        assert_eq!(texts(&s.effective(1)), ["a3"]);
        assert!(s.has_own(1) && !s.has_own(2));
        s.set_default(["d2", "d3"]).unwrap();
        assert_eq!(texts(&s.effective(1)), ["a3"]);
        assert_eq!(texts(&s.effective(2)), ["d2", "d3"]);
        assert!(s.remove_app(1));
        assert!(!s.remove_app(1));
        assert_eq!(texts(&s.effective(1)), ["d2", "d3"]);
    }

    #[test]
    fn failed_changes_change_nothing() {
        let s = sets();
        s.set_app(2, ["own"]).unwrap();
        let before = s.snapshot();
        let cases: [(Result<(), ConfigError>, ConfigError); 6] = [
            (s.set_app(2, ["ok", ""]), ConfigError::EmptyToken),
            (s.set_app(2, ["ok", "bad\n"]), ConfigError::TokenWhitespace),
            (s.set_app(2, Vec::<String>::new()), ConfigError::NoTokens),
            (s.set_app(9, ["ok"]), ConfigError::UnknownApp(9)),
            (s.set_default([" bad", "ok"]), ConfigError::TokenWhitespace),
            (s.set_default([""; 0]), ConfigError::NoTokens),
        ];
        for (got, want) in cases {
            assert_eq!(got, Err(want));
        }
        assert!(!s.remove_app(9));
        // Not even a new table was swapped in.
        assert!(Arc::ptr_eq(&before, &s.snapshot()));
        assert_eq!(texts(&s.effective(2)), ["own"]);
        assert_eq!(texts(&s.effective(1)), ["d"]);
    }

    #[test]
    fn clones_share_the_sets() {
        let s = sets();
        let c = s.clone();
        c.set_app(3, ["x"]).unwrap();
        assert_eq!(texts(&s.effective(3)), ["x"]);
        assert_eq!(s.app_ids(), [1, 2, 3]);
    }

    #[test]
    fn a_poisoned_lock_is_tolerated() {
        let s = sets();
        s.set_app(1, ["a"]).unwrap();
        let c = s.clone();
        let panicked = std::thread::spawn(move || {
            let _guard = c.shared.lock().write().unwrap();
            panic!("poison the lock");
        })
        .join();
        assert!(panicked.is_err());
        assert!(s.shared.lock().is_poisoned());
        assert_eq!(texts(&s.effective(1)), ["a"]);
        assert!(s.any_token());
        s.set_app(1, ["b"]).unwrap();
        assert_eq!(texts(&s.effective(1)), ["b"]);
        assert!(s.remove_app(1));
        assert_eq!(format!("{s:?}"), "TokenSets { default: 1 token, apps: {} }");
    }

    #[test]
    fn handles_are_send_and_sync() {
        fn check<T: Send + Sync + 'static>() {}
        check::<TokenSets>();
    }
}
