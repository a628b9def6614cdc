//! TRTC callback keys: validated ([`Key`]), a default set and each app's own, replaceable at run time
//! through one shared handle ([`KeySets`]); the [`Config`] builder methods that set them and the window.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::sets::{self, Sets, Swap};
use super::{Config, ConfigError};

/// The longest TRTC callback key Tencent's console accepts, in bytes.
const MAX_KEY_LEN: usize = 32;

/// The default freshness window on `CallbackTs` / `CallbackMsTs`: 5 minutes, either direction.
const DEFAULT_WINDOW: Duration = Duration::from_secs(5 * 60);

/// A TRTC callback key, kept only as the HMAC-SHA256 state it keys (the inner and outer pads already
/// hashed, so a signature costs the body's blocks and one more). Never printed: `Debug` shows
/// `TrtcKey(<redacted>)`. Deliberately not comparable with `==`.
#[derive(Clone)]
pub(crate) struct Key {
    mac: Hmac<Sha256>,
}

impl Key {
    /// A key from its text: 1 to 32 ASCII letters or digits.
    ///
    /// # Errors
    /// [`ConfigError::InvalidTrtcKey`] for anything else (empty, longer than 32 bytes, or with any
    /// other character: a space or a newline read from a file would fail every signature).
    pub(crate) fn new(key: impl AsRef<str>) -> Result<Key, ConfigError> {
        let key = key.as_ref().as_bytes();
        if key.is_empty() || key.len() > MAX_KEY_LEN || !key.iter().all(u8::is_ascii_alphanumeric) {
            return Err(ConfigError::InvalidTrtcKey);
        }
        // HMAC takes a key of any length: this never fails.
        let mac = Hmac::<Sha256>::new_from_slice(key).map_err(|_| ConfigError::InvalidTrtcKey)?;
        Ok(Key { mac })
    }

    /// HMAC-SHA256 of `body` under this key.
    pub(crate) fn mac(&self, body: &[u8]) -> [u8; 32] {
        let mut mac = self.mac.clone();
        mac.update(body);
        mac.finalize().into_bytes().into()
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TrtcKey(<redacted>)")
    }
}

/// One immutable state of the key sets.
pub(crate) type Table = Sets<Key>;

/// Validates every key before anything changes; a set must not be empty.
fn validate<I>(keys: I) -> Result<Arc<[Key]>, ConfigError>
where
    I: IntoIterator,
    I::Item: AsRef<str>,
{
    sets::validate(keys, |s| Key::new(s), ConfigError::NoTrtcKeys)
}

/// The TRTC callback keys of a [`Config`], replaceable while it serves (key rotation).
///
/// A configured app with a set of its own ([`Config::trtc_app_key`], [`set_app`](KeySets::set_app))
/// is checked against exactly the keys of that set, never the default set nor another app's; every
/// other configured app against the default set ([`Config::trtc_key`],
/// [`set_default`](KeySets::set_default)). Any key of a set matches, so a set can hold the old and
/// the new key while you switch them in the TRTC console.
///
/// **One table per `Config`, from [`Config::new`] on.** Every clone of the configuration, every
/// handle ([`Config::trtc_keys`]) and every builder call ([`Config::trtc_key`],
/// [`Config::trtc_app_key`]) reads and writes the same table: a handle taken early, before later
/// builder calls, still reaches the layer built from the final configuration, and a change is seen by
/// the next callback every clone verifies. Each change is atomic: a callback is checked against the
/// complete set before the change or the complete set after it, never a mix.
///
/// The handle does not check that an app is configured (the configured SDKAppIDs belong to the
/// `Config`, not to this table): keys set for an app the `Config` does not know are kept, and never
/// used, since a callback of an unknown app is refused before any key is looked at.
///
/// `Debug` shows how many keys each set holds, never a key.
///
/// ```
/// use tencent_room_callback::Config;
///
/// let config = Config::new(1400000000);
/// let keys = config.trtc_keys(); // taken early: later builder calls write to the same table
/// let config = config.trtc_app_key(1400000001, "oldKey1")?;
/// // Later, from an admin endpoint or a secrets watcher: accept the new key next to the old one,
/// // switch it in the TRTC console, then drop the old one.
/// keys.set_app(1400000001, ["oldKey1", "newKey2"])?;
/// keys.set_app(1400000001, ["newKey2"])?;
/// assert_eq!(
///     format!("{keys:?}"),
///     "KeySets { default: 0 keys, apps: {1400000001: 1 key} }"
/// );
/// assert!(config.trtc_keys().has_own(1400000001));
/// # Ok::<(), tencent_room_callback::config::ConfigError>(())
/// ```
#[derive(Clone, Default)]
pub struct KeySets {
    shared: Arc<Swap<Table>>,
}

impl KeySets {
    /// The current table: a read lock held only to clone an `Arc`.
    pub(crate) fn snapshot(&self) -> Arc<Table> {
        self.shared.snapshot()
    }

    /// Adds `key` to the default set (the builder's [`Config::trtc_key`]).
    fn add_default(&self, key: Key) {
        self.shared.change(|t| t.add_default(key));
    }

    /// Adds `key` to app `app_id`'s own set, creating it (the builder's [`Config::trtc_app_key`]).
    fn add_app(&self, app_id: u64, key: Key) {
        self.shared.change(|t| t.add_app(app_id, key));
    }

    /// Replaces the own key set of app `app_id` with `keys`, atomically: its callbacks are checked
    /// against the new set only (never the default set) from the next one on. Give the old and the
    /// new key together while switching in the TRTC console, then the new one alone.
    ///
    /// # Errors
    /// Nothing changes on error. [`ConfigError::NoTrtcKeys`] when `keys` is empty (use
    /// [`remove_app`](KeySets::remove_app) to go back to the default set);
    /// [`ConfigError::InvalidTrtcKey`] when a key is not 1 to 32 ASCII letters or digits.
    pub fn set_app<I>(&self, app_id: u64, keys: I) -> Result<(), ConfigError>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let set = validate(keys)?;
        self.shared.change(|t| t.apps.insert(app_id, set));
        Ok(())
    }

    /// Replaces the default key set, used by every configured app without a set of its own,
    /// atomically.
    ///
    /// # Errors
    /// Nothing changes on error. [`ConfigError::NoTrtcKeys`] when `keys` is empty (an empty set would
    /// silently turn the signature check off for those apps); [`ConfigError::InvalidTrtcKey`] when a
    /// key is not 1 to 32 ASCII letters or digits.
    pub fn set_default<I>(&self, keys: I) -> Result<(), ConfigError>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let set = validate(keys)?;
        self.shared.change(|t| t.default = set);
        Ok(())
    }

    /// Removes the own key set of app `app_id`: from the next callback on, the app is checked against
    /// the default set (and, when that is empty, its `Sign` is not checked at all). Returns whether
    /// the app had a set of its own.
    pub fn remove_app(&self, app_id: u64) -> bool {
        // Nothing swapped in when there is nothing to remove.
        self.has_own(app_id) && self.shared.change(|t| t.apps.remove(&app_id).is_some())
    }

    /// Whether app `app_id` has a key set of its own now.
    pub fn has_own(&self, app_id: u64) -> bool {
        self.shared.read().apps.contains_key(&app_id)
    }

    /// Whether any set (the default or an app's) holds a key now: TRTC callback authentication is on
    /// for some app.
    pub fn any_key(&self) -> bool {
        self.shared.read().any()
    }
}

impl fmt::Debug for KeySets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.snapshot().debug(f, "KeySets", "key")
    }
}

/// What a [`Config`] holds for the TRTC dialect: its keys (one shared table) and its freshness window.
#[derive(Clone)]
pub(crate) struct Settings {
    pub(crate) keys: KeySets,
    pub(crate) window: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            keys: KeySets::default(),
            window: DEFAULT_WINDOW,
        }
    }
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Trtc")
            .field("keys", &self.keys)
            .field("window", &self.window)
            .finish()
    }
}

/// The TRTC dialect's settings ([`crate::trtc`]).
impl Config {
    /// The default freshness window of TRTC callbacks ([`trtc_window`](Config::trtc_window)): 5
    /// minutes, either direction.
    pub const DEFAULT_TRTC_WINDOW: Duration = DEFAULT_WINDOW;

    /// Adds `key` to the default TRTC key set: the set of every configured app without a set of its
    /// own ([`trtc_app_key`](Config::trtc_app_key)). Call again to accept another key (a switch).
    /// Those apps' TRTC callbacks must then carry `Sign` ([`trtc::verify`](crate::trtc::verify)).
    ///
    /// Writes to the configuration's one key table, shared with its clones and with every handle
    /// from [`trtc_keys`](Config::trtc_keys), taken before or after (see [`KeySets`]).
    ///
    /// # Errors
    /// [`ConfigError::InvalidTrtcKey`] unless the key is 1 to 32 ASCII letters or digits (what the
    /// TRTC console accepts); nothing changes on error.
    pub fn trtc_key(self, key: impl AsRef<str>) -> Result<Config, ConfigError> {
        let key = Key::new(key)?;
        self.trtc.keys.add_default(key);
        Ok(self)
    }

    /// Adds `key` to app `sdk_app_id`'s own TRTC key set, and the app to the configured ones when it
    /// is not yet (as [`app_id`](Config::app_id)). An app with a set of its own is checked against
    /// that set only, never the default set ([`trtc_key`](Config::trtc_key)) nor another app's. Call
    /// again for the same app to accept a second key (a switch).
    ///
    /// # Errors
    /// As [`trtc_key`](Config::trtc_key); nothing changes on error.
    pub fn trtc_app_key(
        self,
        sdk_app_id: u64,
        key: impl AsRef<str>,
    ) -> Result<Config, ConfigError> {
        let key = Key::new(key)?;
        let config = self.app_id(sdk_app_id);
        config.trtc.keys.add_app(sdk_app_id, key);
        Ok(config)
    }

    /// How far `CallbackTs` (or `CallbackMsTs`) may be from now, either direction (default 5 minutes;
    /// the edges are inside; millisecond resolution). Only those callback times are checked, never
    /// the event's own `EventTs` / `EventMsTs`.
    #[must_use]
    pub fn trtc_window(mut self, window: Duration) -> Config {
        self.trtc.window = window;
        self
    }

    /// The handle to this configuration's TRTC key sets, to replace them while the receiver runs
    /// (rotation). Shared with every clone of this `Config` and with its later builder calls: a handle
    /// taken at any point reaches the layers and services built from it.
    pub fn trtc_keys(&self) -> KeySets {
        self.trtc.keys.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The key set of `app` right now, as the MACs of a probe body (keys are never exposed).
    fn macs(sets: &KeySets, app: u64) -> Vec<[u8; 32]> {
        sets.snapshot()
            .effective(app)
            .iter()
            .map(|k| k.mac(b"probe"))
            .collect()
    }

    fn mac_of(key: &str) -> [u8; 32] {
        Key::new(key).unwrap().mac(b"probe")
    }

    #[test]
    fn keys_are_letters_or_digits_up_to_32() {
        for good in ["1", "123654", "abcXYZ09", &"k".repeat(32)] {
            assert!(Key::new(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            &"k".repeat(33),
            "key\n",
            " key",
            "ke y",
            "key-1",
            "key_1",
            "clé",
            "１２３", // full-width digits: not ASCII
            "key=",
        ] {
            assert_eq!(
                Key::new(bad).unwrap_err(),
                ConfigError::InvalidTrtcKey,
                "{bad:?}"
            );
        }
        let text = ConfigError::InvalidTrtcKey.to_string();
        assert!(text.contains("1 to 32 ASCII letters or digits"), "{text}");
        assert!(!ConfigError::NoTrtcKeys.to_string().is_empty());
    }

    #[test]
    fn builder_sets_default_and_app_keys() -> Result<(), ConfigError> {
        let c = Config::new(1)
            .trtc_key("d1")?
            .trtc_app_key(2, "b1")?
            .trtc_app_key(2, "b2")? // listed twice: two keys, for a switch
            .trtc_key("d2")?;
        assert_eq!(c.app_ids(), &[1, 2]);
        let sets = c.trtc_keys();
        assert_eq!(macs(&sets, 1), [mac_of("d1"), mac_of("d2")]);
        assert_eq!(macs(&sets, 2), [mac_of("b1"), mac_of("b2")]);
        // An unconfigured app falls back to the default set here; verify refuses it before looking.
        assert_eq!(macs(&sets, 3), [mac_of("d1"), mac_of("d2")]);
        assert!(sets.any_key() && sets.has_own(2) && !sets.has_own(1));
        // A refused key changes nothing.
        let before = format!("{sets:?}");
        assert!(c.clone().trtc_key("bad key").is_err());
        assert!(c.clone().trtc_app_key(9, "").is_err());
        assert_eq!(format!("{sets:?}"), before);
        assert_eq!(c.app_ids(), &[1, 2]);
        Ok(())
    }

    #[test]
    fn a_handle_taken_early_reaches_the_final_config() -> Result<(), ConfigError> {
        let first = Config::new(1);
        let early = first.trtc_keys();
        let built = first.app_id(2).trtc_key("d1")?.trtc_app_key(3, "c1")?;
        // The early handle sees what later builder calls wrote...
        assert!(early.has_own(3));
        assert_eq!(macs(&early, 1), [mac_of("d1")]);
        // ...and what it writes reaches the built configuration (and so its layer).
        early.set_app(2, ["rotated"])?;
        assert_eq!(macs(&built.trtc_keys(), 2), [mac_of("rotated")]);
        let layer_copy = built.clone();
        early.set_default(["d2"])?;
        assert_eq!(macs(&layer_copy.trtc_keys(), 1), [mac_of("d2")]);
        assert!(early.remove_app(3));
        assert!(!early.remove_app(3));
        assert_eq!(macs(&built.trtc_keys(), 3), [mac_of("d2")]);
        Ok(())
    }

    #[test]
    fn refused_changes_change_nothing() {
        let sets = KeySets::default();
        sets.set_app(2, ["own"]).unwrap();
        let before = sets.snapshot();
        let cases = [
            (sets.set_app(2, ["ok", ""]), ConfigError::InvalidTrtcKey),
            (
                sets.set_app(2, ["ok", "no good"]),
                ConfigError::InvalidTrtcKey,
            ),
            (
                sets.set_app(2, Vec::<String>::new()),
                ConfigError::NoTrtcKeys,
            ),
            (sets.set_default(["ok", "x\n"]), ConfigError::InvalidTrtcKey),
            (sets.set_default([""; 0]), ConfigError::NoTrtcKeys),
        ];
        for (got, want) in cases {
            assert_eq!(got, Err(want));
        }
        assert!(Arc::ptr_eq(&before, &sets.snapshot()));
        assert_eq!(macs(&sets, 2), [mac_of("own")]);
    }

    #[test]
    fn debug_never_shows_a_key() -> Result<(), ConfigError> {
        let c = Config::new(1400000000)
            .trtc_key("s3cr3tDefault")?
            .trtc_app_key(1400000001, "s3cr3tApp")?;
        let sets = c.trtc_keys();
        sets.set_app(1400000001, ["s3cr3tRotated", "s3cr3tApp"])?;
        let key = Key::new("s3cr3tKey")?;
        let dbg = format!("{c:?} {c:#?} {sets:?} {sets:#?} {key:?}");
        assert!(!dbg.contains("s3cr3t"), "{dbg}");
        assert!(
            dbg.contains("KeySets { default: 1 key, apps: {1400000001: 2 keys} }"),
            "{dbg}"
        );
        assert!(dbg.contains("TrtcKey(<redacted>)"), "{dbg}");
        assert!(dbg.contains("window: 300s"), "{dbg}");
        Ok(())
    }

    #[test]
    fn a_poisoned_lock_is_tolerated() {
        let sets = KeySets::default();
        sets.set_app(1, ["a"]).unwrap();
        let c = sets.clone();
        let panicked = std::thread::spawn(move || {
            let _guard = c.shared.lock().write().unwrap();
            panic!("poison the lock");
        })
        .join();
        assert!(panicked.is_err());
        assert!(sets.shared.lock().is_poisoned());
        assert_eq!(macs(&sets, 1), [mac_of("a")]);
        sets.set_app(1, ["b"]).unwrap();
        assert_eq!(macs(&sets, 1), [mac_of("b")]);
    }

    #[test]
    fn handles_are_send_and_sync() {
        fn check<T: Send + Sync + 'static>() {}
        check::<KeySets>();
        check::<Config>();
    }

    #[test]
    fn window_is_configurable() {
        let c = Config::new(1);
        assert_eq!(c.trtc.window, Config::DEFAULT_TRTC_WINDOW);
        assert_eq!(Config::DEFAULT_TRTC_WINDOW, Duration::from_secs(300));
        let c = c.trtc_window(Duration::from_secs(30));
        assert_eq!(c.trtc.window, Duration::from_secs(30));
    }
}
