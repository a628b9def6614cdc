//! Who may post: the tokens of the one URL (`ROOM_CALLBACK_TOKEN`, `_TOKENS`, `_TOKENS_FILE`), read
//! at start and, for the file, again on SIGHUP.

use tencent_room_callback::config::TokenSets;

use crate::LOG_TARGET;

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

/// `APPID=TOKEN` entries from `source` (a variable or a file), checked: every app one of `app_ids`,
/// every token present and without surrounding white space. Errors name the entry's place and, once
/// it is known, its app: never an entry or a token.
pub(crate) fn token_entries<'a>(
    source: &str,
    entries: impl Iterator<Item = &'a str>,
    app_ids: &[u64],
) -> Result<Vec<(u64, String)>, String> {
    let mut out = Vec::new();
    for (n, entry) in (1..).zip(entries) {
        if entry.is_empty() {
            return Err(format!(
                "{source}: entry {n} is empty (expected APPID=TOKEN,APPID=TOKEN)"
            ));
        }
        let Some((app, token)) = entry.split_once('=') else {
            return Err(format!(
                "{source}: entry {n} is not APPID=TOKEN (it has no '=')"
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
        if token.is_empty() {
            return Err(format!(
                "{source}: entry {n} (app {id}) has no token after '='"
            ));
        }
        if token.trim() != token {
            return Err(format!(
                "{source}: entry {n} (app {id}): the token starts or ends with white space"
            ));
        }
        out.push((id, token.to_owned()));
    }
    Ok(out)
}

/// The entries of a tokens file: one `APPID=TOKEN` a line, blank lines and `#` comments skipped.
pub(crate) fn read_tokens_file(path: &str, app_ids: &[u64]) -> Result<Vec<(u64, String)>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{TOKENS_FILE}: cannot read {path}: {e}"))?;
    let lines = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'));
    let entries = token_entries(&format!("{TOKENS_FILE} ({path})"), lines, app_ids)?;
    if entries.is_empty() {
        return Err(format!("{TOKENS_FILE}: {path} holds no token"));
    }
    Ok(entries)
}

/// On each SIGHUP, reads the tokens file again and replaces the sets of the apps in it, each at once;
/// a file that does not read keeps the tokens in force.
pub(crate) async fn reload_on_hangup(path: String, app_ids: Vec<u64>, tokens: TokenSets) {
    #[cfg(unix)]
    {
        let Ok(mut hangups) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        else {
            tracing::error!(target: LOG_TARGET, "cannot listen for SIGHUP: the tokens file is read at start only");
            return;
        };
        while hangups.recv().await.is_some() {
            let entries = match read_tokens_file(&path, &app_ids) {
                Ok(entries) => entries,
                Err(e) => {
                    tracing::error!(target: LOG_TARGET, error = %e, "tokens not reloaded: the tokens in force stay");
                    continue;
                }
            };
            let mut sets: Vec<(u64, Vec<String>)> = Vec::new();
            for (id, token) in entries {
                match sets.iter_mut().find(|(app, _)| *app == id) {
                    Some((_, set)) => set.push(token),
                    None => sets.push((id, vec![token])),
                }
            }
            for (id, set) in &sets {
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
    }
    #[cfg(not(unix))]
    let _ = (path, app_ids, tokens);
}
