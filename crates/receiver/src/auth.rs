//! Who may post: the tokens of the one URL (`ROOM_CALLBACK_TOKEN`, `_TOKENS`, `_TOKENS_FILE`) and the
//! TRTC callback keys of `/trtc` (`ROOM_CALLBACK_TRTC_KEY`, `_TRTC_KEYS`, `_TRTC_KEYS_FILE`), read at
//! start and, for the files, again on SIGHUP. Both are `APPID=VALUE` lists, parsed, read and reloaded
//! by the same code; no message ever shows a token or a key.

use tencent_room_callback::config::TokenSets;
use tencent_room_callback::trtc::KeySets;
use tencent_room_callback::Config;

use crate::{var, LOG_TARGET};

/// A decimal SDKAppID: digits only, fitting in 64 bits.
pub(crate) fn app_id(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

pub(crate) const APPS: &str = "ROOM_CALLBACK_SDKAPPID";
pub(crate) const TOKEN: &str = "ROOM_CALLBACK_TOKEN";
pub(crate) const TOKENS: &str = "ROOM_CALLBACK_TOKENS";
pub(crate) const TOKENS_FILE: &str = "ROOM_CALLBACK_TOKENS_FILE";
pub(crate) const TRTC_KEY: &str = "ROOM_CALLBACK_TRTC_KEY";
pub(crate) const TRTC_KEYS: &str = "ROOM_CALLBACK_TRTC_KEYS";
pub(crate) const TRTC_KEYS_FILE: &str = "ROOM_CALLBACK_TRTC_KEYS_FILE";

/// What an `APPID=VALUE` list holds: one URL's tokens, or TRTC callback keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Tokens,
    TrtcKeys,
}

impl Kind {
    /// One value, as the messages name it.
    fn noun(self) -> &'static str {
        match self {
            Kind::Tokens => "token",
            Kind::TrtcKeys => "key",
        }
    }

    /// The shape of an entry.
    fn entry(self) -> &'static str {
        match self {
            Kind::Tokens => "APPID=TOKEN",
            Kind::TrtcKeys => "APPID=KEY",
        }
    }

    /// The variable naming the file.
    fn file(self) -> &'static str {
        match self {
            Kind::Tokens => TOKENS_FILE,
            Kind::TrtcKeys => TRTC_KEYS_FILE,
        }
    }

    /// Why `value` (present) is refused, if it is; never the value itself.
    fn refuse(self, value: &str) -> Option<&'static str> {
        match self {
            Kind::Tokens if value.trim() != value => {
                Some("the token starts or ends with white space")
            }
            Kind::TrtcKeys if !is_trtc_key(value) => {
                Some("the key is not 1 to 32 ASCII letters or digits")
            }
            _ => None,
        }
    }
}

/// What the TRTC console accepts as a callback key: 1 to 32 ASCII letters or digits.
fn is_trtc_key(key: &str) -> bool {
    (1..=32).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// `APPID=VALUE` entries from `source` (a variable or a file), checked: every app one of `app_ids`,
/// every value present and valid for its `kind`. Errors name the entry's place and, once it is known,
/// its app: never an entry or a value.
pub(crate) fn entries<'a>(
    kind: Kind,
    source: &str,
    entries: impl Iterator<Item = &'a str>,
    app_ids: &[u64],
) -> Result<Vec<(u64, String)>, String> {
    let (noun, shape) = (kind.noun(), kind.entry());
    let mut out = Vec::new();
    for (n, entry) in (1..).zip(entries) {
        if entry.is_empty() {
            return Err(format!(
                "{source}: entry {n} is empty (expected {shape},{shape})"
            ));
        }
        let Some((app, value)) = entry.split_once('=') else {
            return Err(format!(
                "{source}: entry {n} is not {shape} (it has no '=')"
            ));
        };
        let id = app_id(app).ok_or_else(|| {
            format!("{source}: entry {n}: the part before '=' is not a decimal SDKAppID")
        })?;
        if !app_ids.contains(&id) {
            let listed = app_ids
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(",");
            return Err(format!(
                "{source}: entry {n}: app {id} is not one of {APPS} ({listed}); add it there"
            ));
        }
        if value.is_empty() {
            return Err(format!(
                "{source}: entry {n} (app {id}) has no {noun} after '='"
            ));
        }
        if let Some(why) = kind.refuse(value) {
            return Err(format!("{source}: entry {n} (app {id}): {why}"));
        }
        out.push((id, value.to_owned()));
    }
    Ok(out)
}

/// The entries of a tokens or keys file: one `APPID=VALUE` a line, blank lines and `#` comments
/// skipped.
pub(crate) fn read_file(
    kind: Kind,
    path: &str,
    app_ids: &[u64],
) -> Result<Vec<(u64, String)>, String> {
    let file = kind.file();
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("{file}: cannot read {path}: {e}"))?;
    let lines = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'));
    let entries = entries(kind, &format!("{file} ({path})"), lines, app_ids)?;
    if entries.is_empty() {
        return Err(format!("{file}: {path} holds no {}", kind.noun()));
    }
    Ok(entries)
}

/// `(app, value)` pairs, as given.
type Entries = Vec<(u64, String)>;

/// The entries grouped by app, in the order the apps first appear.
fn by_app(entries: Vec<(u64, String)>) -> Vec<(u64, Vec<String>)> {
    let mut sets: Vec<(u64, Vec<String>)> = Vec::new();
    for (id, value) in entries {
        match sets.iter_mut().find(|(app, _)| *app == id) {
            Some((_, set)) => set.push(value),
            None => sets.push((id, vec![value])),
        }
    }
    sets
}

/// How the apps are authenticated, as the settings say.
pub(crate) struct Auth {
    /// `ROOM_CALLBACK_TOKENS_FILE`, to read again on SIGHUP.
    pub(crate) tokens_file: Option<String>,
    /// `ROOM_CALLBACK_TRTC_KEYS_FILE`, to read again on SIGHUP.
    pub(crate) keys_file: Option<String>,
    /// How each app's one-URL callbacks are verified, for the log.
    pub(crate) tokens: String,
    /// The apps without any token: their callbacks are not verified.
    pub(crate) unverified: Vec<u64>,
    /// How each app's TRTC events are verified, for the log.
    pub(crate) trtc_keys: String,
    /// The apps without a TRTC key: their events' `Sign` is not checked.
    pub(crate) unsigned: Vec<u64>,
}

/// The tokens and TRTC keys of the environment, into `config` (whose apps are `app_ids`).
pub(crate) fn settings(mut config: Config, app_ids: &[u64]) -> Result<(Config, Auth), String> {
    let default_token = var(TOKEN, "no token for the apps without their own")?;
    let has_default = default_token.is_some();
    if let Some(token) = default_token {
        config = config.token(token).map_err(|e| format!("{TOKEN}: {e}"))?;
    }
    let tokens_file = var(TOKENS_FILE, "no file of tokens")?;
    let list = var(TOKENS, "no app has tokens of its own")?;
    let (source, entries) = own(Kind::Tokens, TOKENS, list, tokens_file.as_deref(), app_ids)?;
    // The app of each token of ROOM_CALLBACK_TOKENS (or of the file), for the log.
    let mut own_tokens = Vec::new();
    for (id, token) in entries {
        config = config
            .app_token(id, token)
            .map_err(|e| format!("{source}: app {id}: {e}"))?;
        own_tokens.push(id);
    }
    let tokens = describe(app_ids, &own_tokens, |id, own| match (own, has_default) {
        (0, true) => format!("{id}: {TOKEN}"),
        (0, false) => format!("{id}: not verified"),
        (1, _) => format!("{id}: 1 token of {source}"),
        (n, _) => format!("{id}: {n} tokens of {source}"),
    });
    let unverified = app_ids
        .iter()
        .copied()
        .filter(|id| !has_default && !own_tokens.contains(id))
        .collect();

    let default_key = var(TRTC_KEY, "no TRTC key for the apps without their own")?;
    let has_default = default_key.is_some();
    if let Some(key) = default_key {
        let invalid = || format!("{TRTC_KEY}: the key is not 1 to 32 ASCII letters or digits");
        if !is_trtc_key(&key) {
            return Err(invalid());
        }
        config = config.trtc_key(key).map_err(|_| invalid())?;
    }
    let keys_file = var(TRTC_KEYS_FILE, "no file of TRTC keys")?;
    let list = var(TRTC_KEYS, "no app has TRTC keys of its own")?;
    let (source, entries) = own(
        Kind::TrtcKeys,
        TRTC_KEYS,
        list,
        keys_file.as_deref(),
        app_ids,
    )?;
    let mut own_keys = Vec::new();
    for (id, key) in entries {
        config = config.trtc_app_key(id, key).map_err(|_| {
            format!("{source}: app {id}: the key is not 1 to 32 ASCII letters or digits")
        })?;
        own_keys.push(id);
    }
    let trtc_keys = describe(app_ids, &own_keys, |id, own| match (own, has_default) {
        (0, true) => format!("{id}: {TRTC_KEY}"),
        (0, false) => format!("{id}: Sign not checked"),
        (1, _) => format!("{id}: 1 key of {source}"),
        (n, _) => format!("{id}: {n} keys of {source}"),
    });
    let unsigned = app_ids
        .iter()
        .copied()
        .filter(|id| !has_default && !own_keys.contains(id))
        .collect();
    let auth = Auth {
        tokens_file,
        keys_file,
        tokens,
        unverified,
        trtc_keys,
        unsigned,
    };
    Ok((config, auth))
}

/// The apps' own values: from the variable `list_name` (its value `list`) or the file `file`, not
/// both. The source's name for the messages, and the entries.
fn own(
    kind: Kind,
    list_name: &'static str,
    list: Option<String>,
    file: Option<&str>,
    app_ids: &[u64],
) -> Result<(&'static str, Entries), String> {
    let file_name = kind.file();
    match (list, file) {
        (Some(_), Some(_)) => Err(format!(
            "{list_name} and {file_name} are both set: choose one"
        )),
        (Some(list), None) => Ok((
            list_name,
            entries(kind, list_name, list.split(','), app_ids)?,
        )),
        (None, Some(path)) => Ok((file_name, read_file(kind, path, app_ids)?)),
        (None, None) => Ok((list_name, Vec::new())),
    }
}

/// Each app as `line(id, number of its own values)`, joined with `; `.
fn describe(app_ids: &[u64], own: &[u64], line: impl Fn(u64, usize) -> String) -> String {
    app_ids
        .iter()
        .map(|id| line(*id, own.iter().filter(|a| *a == id).count()))
        .collect::<Vec<_>>()
        .join("; ")
}

/// What SIGHUP reads again.
pub(crate) struct Reload {
    pub(crate) app_ids: Vec<u64>,
    /// The tokens file, and the tokens it replaces.
    pub(crate) tokens: Option<(String, TokenSets)>,
    /// The TRTC keys file, and the keys it replaces.
    pub(crate) keys: Option<(String, KeySets)>,
}

/// On each SIGHUP, reads the tokens file and the TRTC keys file again (those that are set) and
/// replaces the sets of the apps in each, each set at once; a file that does not read keeps what is
/// in force.
pub(crate) async fn reload_on_hangup(reload: Reload) {
    #[cfg(unix)]
    {
        let Ok(mut hangups) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        else {
            tracing::error!(target: LOG_TARGET, "cannot listen for SIGHUP: the tokens and TRTC keys files are read at start only");
            return;
        };
        while hangups.recv().await.is_some() {
            if let Some((path, tokens)) = &reload.tokens {
                reload_tokens(path, &reload.app_ids, tokens);
            }
            if let Some((path, keys)) = &reload.keys {
                reload_keys(path, &reload.app_ids, keys);
            }
        }
    }
    #[cfg(not(unix))]
    let _ = reload;
}

/// Reads the tokens file again into `tokens`.
fn reload_tokens(path: &str, app_ids: &[u64], tokens: &TokenSets) {
    let entries = match read_file(Kind::Tokens, path, app_ids) {
        Ok(entries) => entries,
        Err(e) => {
            tracing::error!(target: LOG_TARGET, error = %e, "tokens not reloaded: the tokens in force stay");
            return;
        }
    };
    for (id, set) in &by_app(entries) {
        match tokens.set_app(*id, set) {
            Ok(()) => {
                tracing::info!(target: LOG_TARGET, sdk_app_id = id, tokens = set.len(), "tokens reloaded")
            }
            Err(e) => {
                tracing::error!(target: LOG_TARGET, sdk_app_id = id, error = %e, "tokens not reloaded")
            }
        }
    }
}

/// Reads the TRTC keys file again into `keys`.
fn reload_keys(path: &str, app_ids: &[u64], keys: &KeySets) {
    let entries = match read_file(Kind::TrtcKeys, path, app_ids) {
        Ok(entries) => entries,
        Err(e) => {
            tracing::error!(target: LOG_TARGET, error = %e, "TRTC keys not reloaded: the keys in force stay");
            return;
        }
    };
    for (id, set) in &by_app(entries) {
        match keys.set_app(*id, set) {
            Ok(()) => {
                tracing::info!(target: LOG_TARGET, sdk_app_id = id, keys = set.len(), "TRTC keys reloaded")
            }
            Err(e) => {
                tracing::error!(target: LOG_TARGET, sdk_app_id = id, error = %e, "TRTC keys not reloaded")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const APPS_OK: &[u64] = &[1400000000, 1400000001];

    fn error(kind: Kind, source: &str, list: &str) -> String {
        entries(kind, source, list.split(','), APPS_OK).unwrap_err()
    }

    #[test]
    fn the_token_messages_are_those_of_before() {
        let t = |list: &str| error(Kind::Tokens, TOKENS, list);
        assert_eq!(
            t("1400000000=a,"),
            "ROOM_CALLBACK_TOKENS: entry 2 is empty (expected APPID=TOKEN,APPID=TOKEN)"
        );
        assert_eq!(
            t("secret"),
            "ROOM_CALLBACK_TOKENS: entry 1 is not APPID=TOKEN (it has no '=')"
        );
        assert_eq!(
            t("x=secret"),
            "ROOM_CALLBACK_TOKENS: entry 1: the part before '=' is not a decimal SDKAppID"
        );
        assert_eq!(
            t("7=secret"),
            "ROOM_CALLBACK_TOKENS: entry 1: app 7 is not one of ROOM_CALLBACK_SDKAPPID \
             (1400000000,1400000001); add it there"
        );
        assert_eq!(
            t("1400000001="),
            "ROOM_CALLBACK_TOKENS: entry 1 (app 1400000001) has no token after '='"
        );
        assert_eq!(
            t("1400000001= secret"),
            "ROOM_CALLBACK_TOKENS: entry 1 (app 1400000001): the token starts or ends with white space"
        );
        // A token may hold `=` and any other character but a comma.
        let ok = entries(
            Kind::Tokens,
            TOKENS,
            ["1400000000=a=b c-d"].into_iter(),
            APPS_OK,
        );
        assert_eq!(ok, Ok(vec![(1400000000, "a=b c-d".to_owned())]));
    }

    #[test]
    fn a_trtc_key_is_1_to_32_letters_or_digits_and_never_in_a_message() {
        let k = |list: &str| error(Kind::TrtcKeys, TRTC_KEYS, list);
        assert_eq!(
            k("1400000000=secret-key"),
            "ROOM_CALLBACK_TRTC_KEYS: entry 1 (app 1400000000): the key is not 1 to 32 ASCII \
             letters or digits"
        );
        assert_eq!(
            k("1400000000="),
            "ROOM_CALLBACK_TRTC_KEYS: entry 1 (app 1400000000) has no key after '='"
        );
        assert_eq!(
            k("secretKey"),
            "ROOM_CALLBACK_TRTC_KEYS: entry 1 is not APPID=KEY (it has no '=')"
        );
        for bad in ["secret key", "secretKey ", "sécret", &"k".repeat(33)] {
            let e = k(&format!("1400000000={bad}"));
            assert!(e.ends_with("1 to 32 ASCII letters or digits"), "{e}");
            assert!(!e.contains(bad), "{e}");
        }
        let two = entries(
            Kind::TrtcKeys,
            TRTC_KEYS,
            ["1400000000=a1", "1400000001=B2", "1400000000=k"].into_iter(),
            APPS_OK,
        )
        .unwrap();
        assert_eq!(
            by_app(two),
            [
                (1400000000, vec!["a1".to_owned(), "k".to_owned()]),
                (1400000001, vec!["B2".to_owned()]),
            ]
        );
        assert!(is_trtc_key(&"k".repeat(32)));
    }
}
