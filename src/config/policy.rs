//! Whether a callback's signature is checked: [`SignPolicy`] and its resolution per app and command.

use std::fmt;

/// Whether the `Sign` of a callback is checked.
///
/// Set for every app ([`Config::sign_policy`](crate::Config::sign_policy)), per app
/// ([`Config::app_sign_policy`](crate::Config::app_sign_policy)) or per command name prefix
/// ([`Config::command_sign_policy`](crate::Config::command_sign_policy)). Without any, an app's
/// callbacks are `Required` when it has tokens, `Off` otherwise (as before policies existed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignPolicy {
    /// `Sign` and `RequestTime` must be present, `RequestTime` inside the window and `Sign` the
    /// signature of one of the app's tokens. With no token for the app, every callback it covers is
    /// refused (nothing can match).
    Required,
    /// Checked as `Required` when `Sign` is present; a callback without `Sign` is accepted. For commands
    /// Tencent may send unsigned (whether Room callbacks carry `Sign` is not documented).
    Optional,
    /// Not checked: `Sign` is ignored, `RequestTime` is informational.
    Off,
}

/// The policies a [`Config`](crate::Config) was given, resolved per app and command by
/// [`resolve`](Policies::resolve).
#[derive(Clone, Default)]
pub(super) struct Policies {
    default: Option<SignPolicy>,
    /// Per app, in the order set (a few entries: a linear look-up).
    apps: Vec<(u64, SignPolicy)>,
    /// Per command name prefix, longest first (so the first match is the longest).
    commands: Vec<(Box<str>, SignPolicy)>,
}

impl Policies {
    pub(super) fn set_default(&mut self, policy: SignPolicy) {
        self.default = Some(policy);
    }

    pub(super) fn set_app(&mut self, app_id: u64, policy: SignPolicy) {
        match self.apps.iter_mut().find(|(id, _)| *id == app_id) {
            Some(entry) => entry.1 = policy,
            None => self.apps.push((app_id, policy)),
        }
    }

    pub(super) fn set_command(&mut self, prefix: Box<str>, policy: SignPolicy) {
        match self.commands.iter_mut().find(|(p, _)| *p == prefix) {
            Some(entry) => entry.1 = policy,
            None => {
                // Stable: keeps the longest first.
                let at = self
                    .commands
                    .partition_point(|(p, _)| p.len() >= prefix.len());
                self.commands.insert(at, (prefix, policy));
            }
        }
    }

    /// The policy for `command` of app `app_id`: the longest matching command prefix's, else the
    /// app's, else the default one, else `Required` when the app has tokens (`has_tokens`) and `Off`
    /// when it has none.
    pub(super) fn resolve(&self, app_id: u64, command: &str, has_tokens: bool) -> SignPolicy {
        self.commands
            .iter()
            .find(|(prefix, _)| command.starts_with(&**prefix))
            .map(|(_, p)| *p)
            .or_else(|| {
                self.apps
                    .iter()
                    .find(|(id, _)| *id == app_id)
                    .map(|(_, p)| *p)
            })
            .or(self.default)
            .unwrap_or(if has_tokens {
                SignPolicy::Required
            } else {
                SignPolicy::Off
            })
    }
}

impl fmt::Debug for Policies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignPolicies")
            .field("default", &self.default)
            .field("apps", &DebugMap(&self.apps))
            .field("commands", &DebugMap(&self.commands))
            .finish()
    }
}

struct DebugMap<'a, K, V>(&'a [(K, V)]);

impl<K: fmt::Debug, V: fmt::Debug> fmt::Debug for DebugMap<'_, K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(k, v)| (k, v)))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::SignPolicy::{Off, Optional, Required};
    use super::*;

    #[test]
    fn resolution_order() {
        let mut p = Policies::default();
        // Nothing set: by tokens.
        assert_eq!(
            p.resolve(1, "Room.CallbackAfterMemberLeave", true),
            Required
        );
        assert_eq!(p.resolve(1, "Room.CallbackAfterMemberLeave", false), Off);
        // The default beats the tokens rule, either way.
        p.set_default(Optional);
        assert_eq!(p.resolve(1, "C2C.CallbackAfterSendMsg", true), Optional);
        assert_eq!(p.resolve(1, "C2C.CallbackAfterSendMsg", false), Optional);
        // The app's beats the default, for that app only.
        p.set_app(2, Off);
        assert_eq!(p.resolve(2, "C2C.CallbackAfterSendMsg", true), Off);
        assert_eq!(p.resolve(1, "C2C.CallbackAfterSendMsg", true), Optional);
        // A command prefix beats the app's; the longest prefix wins, whatever the order set.
        p.set_command("C2C.CallbackBeforeSendMsg".into(), Off);
        p.set_command("C2C.".into(), Required);
        p.set_command("C2C.CallbackBefore".into(), Optional);
        assert_eq!(p.resolve(2, "C2C.CallbackAfterSendMsg", false), Required);
        assert_eq!(p.resolve(2, "C2C.CallbackBeforeSendMsg", true), Off);
        assert_eq!(p.resolve(2, "C2C.CallbackBeforeOther", true), Optional);
        assert_eq!(p.resolve(2, "Group.CallbackAfterSendMsg", true), Off);
        // Prefixes are case-sensitive and match from the start only.
        assert_eq!(p.resolve(1, "c2c.CallbackAfterSendMsg", true), Optional);
        assert_eq!(p.resolve(1, "X.C2C.", true), Optional);
        // Setting a prefix again replaces its policy; so does setting an app again.
        p.set_command("C2C.".into(), Off);
        assert_eq!(p.resolve(1, "C2C.CallbackAfterSendMsg", true), Off);
        p.set_app(2, Required);
        assert_eq!(p.resolve(2, "Group.CallbackAfterSendMsg", false), Required);
        // The empty prefix matches every command, below every longer prefix.
        p.set_command("".into(), Off);
        assert_eq!(p.resolve(2, "Group.CallbackAfterSendMsg", true), Off);
        assert_eq!(p.resolve(2, "C2C.CallbackBeforeSendMsg", true), Off);
        assert_eq!(p.resolve(2, "C2C.CallbackBeforeOther", true), Optional);
    }

    #[test]
    fn prefixes_stay_longest_first() {
        let mut p = Policies::default();
        for prefix in ["a", "abc", "", "ab", "abcd", "b", "abc"] {
            p.set_command(prefix.into(), Off);
        }
        let lens: Vec<usize> = p.commands.iter().map(|(p, _)| p.len()).collect();
        assert_eq!(lens, [4, 3, 2, 1, 1, 0]);
    }
}
