//! What a receiver checks: its SDKAppIDs, their tokens and signature policies, the time window and the
//! body bounds.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::ack::Ack;

mod policy;
mod sets;
mod tokens;
/// The TRTC callback keys: public as [`crate::trtc::KeySets`].
pub(crate) mod trtc_keys;

pub use policy::SignPolicy;
pub use tokens::TokenSets;

use policy::Policies;
use tokens::Table;

/// A callback-authentication token. Never printed: `Debug` shows `Token(<redacted>)`. Deliberately not
/// comparable with `==` (which would not be constant-time).
#[derive(Clone)]
pub(crate) struct Token(Box<[u8]>);

impl Token {
    /// A token from its text.
    ///
    /// # Errors
    /// [`ConfigError::EmptyToken`] when the token is empty (it would make every signature trivial);
    /// [`ConfigError::TokenWhitespace`] when it starts or ends with white space (typically a newline
    /// read from a file or an environment variable, which would fail every signature).
    pub(crate) fn new(token: impl AsRef<str>) -> Result<Token, ConfigError> {
        let t = token.as_ref();
        if t.is_empty() {
            return Err(ConfigError::EmptyToken);
        }
        if t.trim() != t {
            return Err(ConfigError::TokenWhitespace);
        }
        Ok(Token(t.as_bytes().into()))
    }

    pub(crate) fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// A configuration that was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// An empty token.
    EmptyToken,
    /// A token with leading or trailing white space.
    TokenWhitespace,
    /// An empty token set given to [`TokenSets::set_app`] or [`TokenSets::set_default`] (it would turn
    /// the signature check off, or make it refuse everything).
    NoTokens,
    /// [`TokenSets::set_app`] for an SDKAppID that is not configured (the handle changes tokens, not
    /// the configured apps).
    UnknownApp(u64),
    /// A TRTC callback key that is not 1 to 32 ASCII letters or digits
    /// ([`Config::trtc_key`], [`KeySets`](crate::trtc::KeySets)).
    InvalidTrtcKey,
    /// An empty TRTC key set given to [`KeySets::set_app`](crate::trtc::KeySets::set_app) or
    /// [`KeySets::set_default`](crate::trtc::KeySets::set_default).
    NoTrtcKeys,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::EmptyToken => f.write_str("a callback token must not be empty"),
            ConfigError::TokenWhitespace => {
                f.write_str("a callback token must not start or end with white space")
            }
            ConfigError::NoTokens => {
                f.write_str("a callback token set must hold at least one token")
            }
            ConfigError::UnknownApp(id) => write!(f, "SDKAppID {id} is not configured"),
            ConfigError::InvalidTrtcKey => {
                f.write_str("a TRTC callback key must be 1 to 32 ASCII letters or digits")
            }
            ConfigError::NoTrtcKeys => {
                f.write_str("a TRTC callback key set must hold at least one key")
            }
        }
    }
}

impl std::error::Error for ConfigError {}

/// The default allowed distance between `RequestTime` and now: 60 seconds, either direction.
const DEFAULT_WINDOW: Duration = Duration::from_secs(60);
/// The default body limit: 1 MiB.
const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;
/// The default bound on a list of members in an event: 10,000 entries.
///
/// Real lists are far shorter (one callback carries the members of one join or leave), and a 1 MiB body
/// holds up to half a million one-character accounts, each costing its own allocation once decoded. A
/// list longer than the bound is refused while it is decoded ([`RejectionKind::MalformedBody`], 400),
/// after at most this many entries: see [`Config::max_members`]. Decoding outside a layer
/// ([`Event::from_json`], [`RoomEvent::from_json`], or `serde_json` on an event type) applies this
/// default.
///
/// [`RejectionKind::MalformedBody`]: crate::RejectionKind::MalformedBody
/// [`Event::from_json`]: crate::Event::from_json
/// [`RoomEvent::from_json`]: crate::RoomEvent::from_json
pub(crate) const DEFAULT_MAX_MEMBERS: usize = 10_000;
/// The default body-read timeout: 1 second, half of Tencent's 2 s answer budget, leaving the other half
/// for the handler. Real callbacks are a few hundred bytes and arrive in one packet.
const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(1);
/// The default decision deadline: 1.8 s, inside Tencent's 2 s.
const DEFAULT_DECISION_DEADLINE: Duration = Duration::from_millis(1800);

type ClockFn = dyn Fn() -> SystemTime + Send + Sync;

/// What the receiver checks on every intercepted callback.
///
/// ```
/// use std::time::Duration;
/// use tencent_room_callback::config::SignPolicy;
/// use tencent_room_callback::Config;
///
/// let config = Config::new(1400000000)
///     .app_id(1400000001)            // a second app sharing the receiver
///     .token("new-token")?           // callback authentication: Sign and RequestTime required
///     .token("old-token")?           // rotation: either token is accepted
///     .app_token(1400000002, "app-2-token")? // a third app, with a token of its own
///     .command_sign_policy("Room.", SignPolicy::Optional) // Room callbacks may come unsigned
///     .window(Duration::from_secs(30))
///     .body_limit(64 * 1024);
/// # Ok::<(), tencent_room_callback::config::ConfigError>(())
/// ```
///
/// # Tokens
///
/// Tencent sets callback tokens per SDKAppID. Each configured app is checked against one token set:
/// its own ([`app_token`](Config::app_token)) when it has one, else the default set
/// ([`token`](Config::token)); an app with a set of its own never accepts a token of the default
/// set or of another app. Any token of the set matches, so a set can hold the old and the new token
/// while you rotate. The sets can be replaced while the receiver runs, through the handle
/// [`tokens`](Config::tokens) returns.
///
/// # Signature policy
///
/// Whether a callback's `Sign` is checked ([`SignPolicy`]) is, for a configured app and a command
/// name, the first of:
/// 1. the policy of the longest command name prefix matching the command
///    ([`command_sign_policy`](Config::command_sign_policy));
/// 2. the app's policy ([`app_sign_policy`](Config::app_sign_policy));
/// 3. the default policy ([`sign_policy`](Config::sign_policy));
/// 4. [`SignPolicy::Required`] when the app's token set (its own, else the default set) holds a token
///    at the time of the callback, [`SignPolicy::Off`] when it holds none.
///
/// Without any policy set: with a token, every callback must be signed with it; without one, nothing
/// is checked.
///
/// `Debug` shows the apps, how many tokens each set holds and the policies; never a token.
#[derive(Clone)]
pub struct Config {
    tokens: TokenSets,
    policies: Policies,
    pub(crate) window: Duration,
    clock: Option<Arc<ClockFn>>,
    pub(crate) body_limit: usize,
    pub(crate) body_timeout: Option<Duration>,
    pub(crate) max_members: usize,
    pub(crate) decision_deadline: Duration,
    pub(crate) decision_fallback: Option<Ack>,
    /// The TRTC dialect's keys and window ([`crate::trtc`]).
    pub(crate) trtc: trtc_keys::Settings,
}

/// What a callback of one app and command is checked against: its policy and, at this moment, its
/// token set (one snapshot, never a mix of two sets).
#[derive(Debug, Clone)]
pub(crate) struct Auth<'t> {
    pub(crate) policy: SignPolicy,
    pub(crate) tokens: &'t Arc<[Token]>,
}

impl Config {
    /// The default allowed distance between `RequestTime` and now: 60 seconds, either direction.
    pub const DEFAULT_WINDOW: Duration = DEFAULT_WINDOW;
    /// The default body limit: 1 MiB.
    pub const DEFAULT_BODY_LIMIT: usize = DEFAULT_BODY_LIMIT;
    /// The default body-read timeout: 1 second, half of Tencent's 2 s answer budget, leaving the other
    /// half for the handler.
    pub const DEFAULT_BODY_TIMEOUT: Duration = DEFAULT_BODY_TIMEOUT;
    /// The default bound on a list in an event: 10,000 entries (see [`max_members`](Config::max_members)).
    pub const DEFAULT_MAX_MEMBERS: usize = DEFAULT_MAX_MEMBERS;
    /// The default decision deadline: 1.8 s (see [`decision_deadline`](Config::decision_deadline)).
    pub const DEFAULT_DECISION_DEADLINE: Duration = DEFAULT_DECISION_DEADLINE;

    /// A configuration for one SDKAppID, no token, no signature policy, and the defaults: a 60 s window,
    /// a 1 MiB body limit and a 1 s body-read timeout. The timeout uses Tokio's timer: serve from a Tokio
    /// runtime with time enabled (as axum and hyper-util servers do), or turn it off with
    /// `body_timeout(None)`.
    pub fn new(sdk_app_id: u64) -> Config {
        Config {
            tokens: TokenSets::new(Table {
                app_ids: vec![sdk_app_id],
                ..Table::default()
            }),
            policies: Policies::default(),
            window: DEFAULT_WINDOW,
            clock: None,
            body_limit: DEFAULT_BODY_LIMIT,
            body_timeout: Some(DEFAULT_BODY_TIMEOUT),
            max_members: DEFAULT_MAX_MEMBERS,
            decision_deadline: DEFAULT_DECISION_DEADLINE,
            decision_fallback: None,
            trtc: trtc_keys::Settings::default(),
        }
    }

    /// Also accepts callbacks for `sdk_app_id`, checked against the default token set unless it gets a
    /// set of its own.
    #[must_use]
    pub fn app_id(self, sdk_app_id: u64) -> Config {
        self.tokens.change(|t| {
            if !t.knows(sdk_app_id) {
                t.app_ids.push(sdk_app_id);
            }
        });
        self
    }

    /// Adds `token` to the default token set: the set of every configured app without a set of its own
    /// ([`app_token`](Config::app_token)). Call again to accept another token (rotation). Unless a
    /// [`SignPolicy`] says otherwise, those apps' callbacks must then carry `Sign` and `RequestTime`.
    ///
    /// # Errors
    /// [`ConfigError::EmptyToken`] when the token is empty (it would make every signature trivial);
    /// [`ConfigError::TokenWhitespace`] when it starts or ends with white space (typically a newline
    /// read from a file or an environment variable, which would fail every signature).
    pub fn token(self, token: impl AsRef<str>) -> Result<Config, ConfigError> {
        let token = Token::new(token)?;
        self.tokens.change(|t| t.sets.add_default(token));
        Ok(self)
    }

    /// Adds `token` to app `sdk_app_id`'s own token set, and the app to the configured ones when it is
    /// not yet. An app with a set of its own is checked against that set only, never the default set
    /// ([`token`](Config::token)). Call again to accept another token for the app (rotation). Unless a
    /// [`SignPolicy`] says otherwise, the app's callbacks must then carry `Sign` and `RequestTime`.
    ///
    /// # Errors
    /// As [`token`](Config::token); nothing changes on error.
    pub fn app_token(self, sdk_app_id: u64, token: impl AsRef<str>) -> Result<Config, ConfigError> {
        let token = Token::new(token)?;
        self.tokens.change(|t| {
            if !t.knows(sdk_app_id) {
                t.app_ids.push(sdk_app_id);
            }
            t.sets.add_app(sdk_app_id, token);
        });
        Ok(self)
    }

    /// The default signature policy, for every app and command that no command prefix policy
    /// ([`command_sign_policy`](Config::command_sign_policy)) and no app policy
    /// ([`app_sign_policy`](Config::app_sign_policy)) covers. Without it, such callbacks are
    /// [`SignPolicy::Required`] when their app has a token, [`SignPolicy::Off`] otherwise. See
    /// [the resolution order](Config#signature-policy).
    #[must_use]
    pub fn sign_policy(mut self, policy: SignPolicy) -> Config {
        self.policies.set_default(policy);
        self
    }

    /// The signature policy of app `sdk_app_id`, for the commands no command prefix policy
    /// ([`command_sign_policy`](Config::command_sign_policy)) covers; it takes precedence over the
    /// default policy ([`sign_policy`](Config::sign_policy)). Setting it again replaces it. It does not
    /// add the app to the configured ones (use [`app_id`](Config::app_id) or
    /// [`app_token`](Config::app_token)). See [the resolution order](Config#signature-policy).
    #[must_use]
    pub fn app_sign_policy(mut self, sdk_app_id: u64, policy: SignPolicy) -> Config {
        self.policies.set_app(sdk_app_id, policy);
        self
    }

    /// The signature policy of every command whose name starts with `prefix` (case-sensitive), for
    /// every app: a family such as `"Room."` or `"C2C."`, or a full name such as
    /// `"Room.CallbackAfterMemberLeave"`. When several prefixes match a command, the longest wins; a
    /// matching prefix takes precedence over the app's policy ([`app_sign_policy`](Config::app_sign_policy))
    /// and the default one ([`sign_policy`](Config::sign_policy)). The empty prefix matches every
    /// command. Setting a prefix again replaces its policy. See
    /// [the resolution order](Config#signature-policy).
    #[must_use]
    pub fn command_sign_policy(mut self, prefix: impl Into<String>, policy: SignPolicy) -> Config {
        self.policies
            .set_command(prefix.into().into_boxed_str(), policy);
        self
    }

    /// How far `RequestTime` may be from now, either direction, in whole seconds (default 60 s; the
    /// edges are inside). `RequestTime` itself has a resolution of one second. Any duration is taken:
    /// one past the clock's reach (`Duration::MAX`) accepts any time.
    #[must_use]
    pub fn window(mut self, window: Duration) -> Config {
        self.window = window;
        self
    }

    /// The largest body accepted, in bytes (default 1 MiB).
    #[must_use]
    pub fn body_limit(mut self, bytes: usize) -> Config {
        self.body_limit = bytes;
        self
    }

    /// How long the body may take to arrive once the head is in (default 1 s); `None` for no limit, as
    /// is a duration past the clock's reach (`Duration::MAX`). The timer needs a Tokio runtime with time
    /// enabled, and is only started when the body is not already there.
    #[must_use]
    pub fn body_timeout(mut self, timeout: Option<Duration>) -> Config {
        self.body_timeout = timeout;
        self
    }

    /// The most entries a list of members in an event may have (default [`Config::DEFAULT_MAX_MEMBERS`],
    /// 10,000): `MemberList_Account` of [`MemberLeave`] and [`MemberEnter`],
    /// `ScheduleInviteeList_Account` of [`CreateRoom`], `SeatList` of [`SeatInfoChanged`]. A longer
    /// list is refused while it is decoded, before it is built: the layer (and [`decode`],
    /// [`decode_any`]) answers 400 with a FAIL acknowledgment ([`RejectionKind::MalformedBody`])
    /// whose `ErrorInfo` names the list and the bound. Together with the body limit it bounds the
    /// memory one callback can take once decoded.
    ///
    /// [`MemberLeave`]: crate::MemberLeave
    /// [`MemberEnter`]: crate::MemberEnter
    /// [`CreateRoom`]: crate::CreateRoom
    /// [`SeatInfoChanged`]: crate::SeatInfoChanged
    /// [`decode`]: crate::Config::decode
    /// [`decode_any`]: crate::Config::decode_any
    /// [`RejectionKind::MalformedBody`]: crate::RejectionKind::MalformedBody
    #[must_use]
    pub fn max_members(mut self, entries: usize) -> Config {
        self.max_members = entries;
        self
    }

    /// How long a decision callback's handler has to answer, from the moment the layer took the callback
    /// (default 1.8 s: Tencent waits 2 s, and a late answer is no answer). When it passes, or the
    /// handler fails or panics, the layer answers the [fallback](Config::decision_fallback) itself and
    /// drops the handler's future. Any duration is taken: `Duration::MAX` (or any past the clock's
    /// reach) means no deadline, `Duration::ZERO` answers the fallback at once.
    #[must_use]
    pub fn decision_deadline(mut self, deadline: Duration) -> Config {
        self.decision_deadline = deadline;
        self
    }

    /// What the layer answers to a decision callback whose handler did not answer by the
    /// [deadline](Config::decision_deadline), failed or panicked. By default none of its own: it answers
    /// 503 with a FAIL acknowledgment, so that Tencent applies its own default, which differs by
    /// command (a Chat message or request goes through, a Live gift is blocked: see
    /// [`CallbackCommand::DECISIONS`](crate::CallbackCommand::DECISIONS)). Set one to decide yourself:
    /// `Ack::decision(1, "...")` refuses what a failed handler could not judge (fail closed), `Ack::ok()`
    /// allows it (fail open). Answered with status 200. Every fallback is logged at WARN (feature
    /// `tracing`) and counted (feature `metrics`, outcome `decision_fallback`).
    ///
    /// ```
    /// use tencent_room_callback::{Ack, Config};
    ///
    /// // Moderation that must not be bypassed by a slow or failing handler: refuse when in doubt.
    /// let config = Config::new(1400000000).decision_fallback(Ack::decision(1, "moderation unavailable"));
    /// ```
    #[must_use]
    pub fn decision_fallback(mut self, fallback: Ack) -> Config {
        self.decision_fallback = Some(fallback);
        self
    }

    /// The clock used for the `RequestTime` window (default: [`SystemTime::now`]); for tests, with the
    /// `testing` feature (see [`testing::fixed_clock`](crate::testing::fixed_clock)).
    #[cfg(any(test, feature = "testing"))]
    #[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
    #[must_use]
    pub fn clock(mut self, now: impl Fn() -> SystemTime + Send + Sync + 'static) -> Config {
        self.clock = Some(Arc::new(now));
        self
    }

    /// The configured SDKAppIDs.
    pub fn app_ids(&self) -> Vec<u64> {
        self.tokens.app_ids()
    }

    /// The handle to this configuration's token sets, to replace them while the receiver runs
    /// (rotation): shared with every clone of this `Config`, and so with every layer and service built
    /// from it. It never detaches: take it whenever you like, before or after the builder calls that
    /// change tokens or apps ([`token`](Config::token), [`app_token`](Config::app_token),
    /// [`app_id`](Config::app_id)), which write through the same table. Clones of a `Config` share that
    /// table too: build one configuration, then clone it.
    pub fn tokens(&self) -> TokenSets {
        self.tokens.clone()
    }

    /// Whether any token is configured now, in the default set or an app's (callback authentication
    /// is on for some app unless a [`SignPolicy`] turns it off).
    pub fn authenticates(&self) -> bool {
        self.tokens.any_token()
    }

    /// The apps and token sets right now, in one snapshot (an `Arc` clone under a read lock).
    pub(crate) fn snapshot(&self) -> Arc<Table> {
        self.tokens.snapshot()
    }

    /// How callbacks for `command` of the configured app `sdk_app_id` are checked, in `table`: the
    /// policy ([resolved](Config#signature-policy) against that snapshot of the tokens) and the app's
    /// token set. For an app that is not configured, the default set is used.
    pub(crate) fn auth<'t>(&self, table: &'t Table, sdk_app_id: u64, command: &str) -> Auth<'t> {
        let tokens = table.sets.effective(sdk_app_id);
        let policy = self
            .policies
            .resolve(sdk_app_id, command, !tokens.is_empty());
        Auth { policy, tokens }
    }

    /// Whether `sdk_app_id` is configured now.
    pub(crate) fn knows(&self, sdk_app_id: u64) -> bool {
        self.snapshot().knows(sdk_app_id)
    }

    /// The policy of `sdk_app_id`'s callbacks of `command` now, for the tests.
    #[cfg(test)]
    fn policy_of(&self, sdk_app_id: u64, command: &str) -> SignPolicy {
        self.auth(&self.snapshot(), sdk_app_id, command).policy
    }

    /// The token set of `sdk_app_id` right now (its own, else the default), for the tests.
    #[cfg(test)]
    pub(crate) fn tokens_for(&self, sdk_app_id: u64) -> Arc<[Token]> {
        self.tokens.effective(sdk_app_id)
    }

    pub(crate) fn now(&self) -> SystemTime {
        match &self.clock {
            Some(clock) => clock(),
            None => SystemTime::now(),
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("app_ids", &self.app_ids())
            .field("tokens", &self.tokens)
            .field("sign_policies", &self.policies)
            .field("window", &self.window)
            .field(
                "clock",
                &if self.clock.is_some() {
                    "custom"
                } else {
                    "system"
                },
            )
            .field("body_limit", &self.body_limit)
            .field("body_timeout", &self.body_timeout)
            .field("max_members", &self.max_members)
            .field("decision_deadline", &self.decision_deadline)
            .field("decision_fallback", &self.decision_fallback)
            .field("trtc", &self.trtc)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_never_printed() {
        let c = Config::new(1).token("s3cr3t-token").unwrap();
        let dbg = format!("{c:?} {:?}", c.tokens_for(1)[0]);
        assert!(!dbg.contains("s3cr3t"), "{dbg}");
        assert!(dbg.contains("redacted"));
    }

    #[test]
    fn token_with_surrounding_white_space_is_refused() {
        for t in ["tok\n", " tok", "tok\t", "\n"] {
            assert!(Config::new(1).token(t).is_err(), "{t:?}");
        }
        assert!(Config::new(1).token("to k").is_ok());
        assert_eq!(
            Token::new("tok\r\n").unwrap_err(),
            ConfigError::TokenWhitespace
        );
    }

    #[test]
    fn empty_token_is_refused() {
        assert_eq!(
            Config::new(1).token("").unwrap_err(),
            ConfigError::EmptyToken
        );
        assert!(Token::new("").is_err());
    }

    #[test]
    fn app_ids_accumulate_without_duplicates() {
        let c = Config::new(1).app_id(2).app_id(1);
        assert_eq!(c.app_ids(), [1, 2]);
        assert!(!c.authenticates());
        assert_eq!(c.tokens().app_ids(), [1, 2]);
    }

    use std::time::Instant;
    use SignPolicy::{Off, Optional, Required};

    /// A set as token texts (for tests only: real code never exposes a token).
    fn texts(set: &[Token]) -> Vec<String> {
        set.iter()
            .map(|t| String::from_utf8(t.expose().to_vec()).unwrap())
            .collect()
    }

    fn auth(c: &Config, app: u64, command: &str) -> (SignPolicy, Vec<String>) {
        let table = c.snapshot();
        let a = c.auth(&table, app, command);
        (a.policy, texts(a.tokens))
    }

    const LEAVE: &str = "Room.CallbackAfterMemberLeave";

    #[test]
    fn each_app_has_its_own_set_or_the_default() -> Result<(), ConfigError> {
        let c = Config::new(1)
            .app_id(2)
            .token("d1")?
            .app_token(3, "c1")?
            .app_token(2, "b1")?
            .token("d2")?
            .app_token(3, "c2")?
            .app_id(4);
        assert_eq!(c.app_ids(), [1, 2, 3, 4]);
        assert!((1..=4).all(|id| c.knows(id)) && !c.knows(5));
        assert_eq!(texts(&c.tokens_for(1)), ["d1", "d2"]);
        assert_eq!(texts(&c.tokens_for(4)), ["d1", "d2"]);
        // An app with its own set gets neither the default set nor another app's.
        assert_eq!(texts(&c.tokens_for(2)), ["b1"]);
        assert_eq!(texts(&c.tokens_for(3)), ["c1", "c2"]);
        assert_eq!(auth(&c, 2, LEAVE), (Required, vec!["b1".into()]));
        // No policy: one token makes every app's callbacks require it.
        let c = Config::new(1).app_id(2).token("t")?;
        for app in [1, 2] {
            assert_eq!(auth(&c, app, LEAVE), (Required, vec!["t".into()]));
        }
        let open = Config::new(1).app_id(2);
        assert_eq!(auth(&open, 2, LEAVE), (Off, vec![]));
        Ok(())
    }

    #[test]
    fn an_app_with_its_own_set_only_needs_no_default() -> Result<(), ConfigError> {
        let c = Config::new(1).app_token(2, "b")?;
        assert_eq!(auth(&c, 1, LEAVE), (Off, vec![]));
        assert_eq!(auth(&c, 2, LEAVE), (Required, vec!["b".into()]));
        assert!(c.authenticates());
        // `app_token` validates like `token`.
        assert_eq!(
            Config::new(1).app_token(2, "").unwrap_err(),
            ConfigError::EmptyToken
        );
        assert_eq!(
            Config::new(1).app_token(2, "b\n").unwrap_err(),
            ConfigError::TokenWhitespace
        );
        Ok(())
    }

    #[test]
    fn policy_resolution_order() -> Result<(), ConfigError> {
        let c = Config::new(1)
            .app_id(2)
            .app_token(3, "c")?
            .command_sign_policy("C2C.", Optional);
        // No app or default policy: Required with tokens, Off without; prefixes apply either way.
        assert_eq!(c.policy_of(1, LEAVE), Off);
        assert_eq!(c.policy_of(3, LEAVE), Required);
        assert_eq!(c.policy_of(1, "C2C.CallbackAfterSendMsg"), Optional);
        assert_eq!(c.policy_of(3, "C2C.CallbackAfterSendMsg"), Optional);
        // The default beats the tokens rule.
        let c = c.sign_policy(Required);
        assert_eq!(c.policy_of(1, LEAVE), Required);
        assert_eq!(c.policy_of(3, LEAVE), Required);
        // The app's beats the default.
        let c = c.app_sign_policy(3, Off).app_sign_policy(2, Optional);
        assert_eq!(c.policy_of(3, LEAVE), Off);
        assert_eq!(c.policy_of(2, LEAVE), Optional);
        assert_eq!(c.policy_of(1, LEAVE), Required);
        // A prefix beats the app's; the longest prefix wins.
        let c = c
            .command_sign_policy("Room.CallbackAfterMemberLeave", Off)
            .command_sign_policy("Room.", Required);
        assert_eq!(c.policy_of(3, "Room.CallbackAfterMemberEnter"), Required);
        assert_eq!(c.policy_of(3, LEAVE), Off);
        assert_eq!(c.policy_of(1, LEAVE), Off);
        assert_eq!(c.policy_of(3, "Group.CallbackAfterSendMsg"), Off);
        // A policy for an app that is not configured does not configure it.
        let c = Config::new(1).app_sign_policy(9, Off);
        assert!(!c.knows(9));
        assert_eq!(c.app_ids(), [1]);
        Ok(())
    }

    #[test]
    fn the_tokens_rule_follows_the_sets_at_run_time() -> Result<(), ConfigError> {
        let c = Config::new(1).app_id(2);
        let sets = c.tokens();
        assert_eq!(c.policy_of(2, LEAVE), Off);
        assert!(!c.authenticates());
        sets.set_app(2, ["b"])?;
        assert_eq!(auth(&c, 2, LEAVE), (Required, vec!["b".into()]));
        assert_eq!(auth(&c, 1, LEAVE), (Off, vec![]));
        assert!(c.authenticates());
        sets.set_default(["d"])?;
        assert_eq!(auth(&c, 1, LEAVE), (Required, vec!["d".into()]));
        assert_eq!(auth(&c, 2, LEAVE), (Required, vec!["b".into()]));
        assert!(sets.remove_app(2));
        assert_eq!(auth(&c, 2, LEAVE), (Required, vec!["d".into()]));
        Ok(())
    }

    #[test]
    fn the_handle_and_the_builders_share_one_table() -> Result<(), ConfigError> {
        let built = Config::new(1).app_id(2).token("d")?;
        let early = built.clone();
        let layer_copy = built.clone();
        let handle = built.tokens();
        handle.set_app(2, ["new"])?;
        // Every clone (a layer's copy) sees the change.
        for c in [&built, &early, &layer_copy] {
            assert_eq!(texts(&c.tokens_for(2)), ["new"]);
        }
        // A builder call writes through the same table: the handle taken before it, and every clone,
        // see it (so a handle never detaches from what a layer checks).
        let more = built.clone().token("d2")?;
        for c in [&more, &built, &layer_copy] {
            assert_eq!(texts(&c.tokens_for(1)), ["d", "d2"]);
        }
        let wider = built.clone().app_id(3);
        handle.set_app(3, ["c"])?;
        assert_eq!(texts(&wider.tokens_for(3)), ["c"]);
        assert_eq!(built.app_ids(), [1, 2, 3]);
        // The handle still adds no app.
        assert_eq!(handle.set_app(4, ["x"]), Err(ConfigError::UnknownApp(4)));
        Ok(())
    }

    #[test]
    fn refused_changes_change_nothing() -> Result<(), ConfigError> {
        let c = Config::new(1).app_id(2).token("d")?.app_token(2, "b")?;
        let sets = c.tokens();
        let before = format!("{c:?}");
        assert_eq!(sets.set_app(2, ["ok", ""]), Err(ConfigError::EmptyToken));
        assert_eq!(
            sets.set_app(2, ["ok", "x "]),
            Err(ConfigError::TokenWhitespace)
        );
        assert_eq!(sets.set_app(2, [""; 0]), Err(ConfigError::NoTokens));
        assert_eq!(sets.set_app(3, ["ok"]), Err(ConfigError::UnknownApp(3)));
        assert_eq!(
            sets.set_default(["ok", "\tx"]),
            Err(ConfigError::TokenWhitespace)
        );
        assert_eq!(
            sets.set_default(Vec::<&str>::new()),
            Err(ConfigError::NoTokens)
        );
        assert_eq!(auth(&c, 1, LEAVE), (Required, vec!["d".into()]));
        assert_eq!(auth(&c, 2, LEAVE), (Required, vec!["b".into()]));
        assert_eq!(format!("{c:?}"), before);
        for e in [ConfigError::NoTokens, ConfigError::UnknownApp(3)] {
            assert!(!e.to_string().is_empty());
        }
        Ok(())
    }

    /// One thread rotates an app's set and the default set between two complete sets; readers take
    /// `auth` snapshots and must always see exactly one of them.
    #[test]
    fn rotation_is_atomic_for_readers() -> Result<(), ConfigError> {
        const A: [&str; 3] = ["a-1", "a-2", "a-3"];
        const B: [&str; 2] = ["b-1", "b-2"];
        let c = Config::new(1).app_id(2).app_token(2, "x")?;
        let sets = c.tokens();
        sets.set_app(2, A)?;
        sets.set_default(A)?;
        let deadline = Instant::now() + Duration::from_secs(2);
        std::thread::scope(|scope| {
            let writer = scope.spawn(|| {
                let mut n = 0u32;
                while n < 20_000 && Instant::now() < deadline {
                    let set: &[&str] = if n % 2 == 0 { &B } else { &A };
                    sets.set_app(2, set).unwrap();
                    sets.set_default(set).unwrap();
                    n += 1;
                }
                n
            });
            let readers: Vec<_> = (0..3)
                .map(|_| {
                    let c = c.clone();
                    scope.spawn(move || {
                        let mut seen = [0u32; 2];
                        for _ in 0..20_000 {
                            if Instant::now() >= deadline {
                                break;
                            }
                            for app in [1, 2] {
                                let table = c.snapshot();
                                let a = c.auth(&table, app, LEAVE);
                                assert_eq!(a.policy, Required);
                                let got = texts(a.tokens);
                                if got == A {
                                    seen[0] += 1;
                                } else if got == B {
                                    seen[1] += 1;
                                } else {
                                    panic!("a mixed set: {got:?}");
                                }
                            }
                        }
                        seen
                    })
                })
                .collect();
            assert!(writer.join().unwrap() > 0);
            for r in readers {
                let [a, b] = r.join().unwrap();
                assert!(a + b > 0);
            }
        });
        Ok(())
    }

    #[test]
    fn debug_shows_counts_and_policies_never_tokens() -> Result<(), ConfigError> {
        let c = Config::new(1400000000)
            .token("s3cr3t-default-1")?
            .token("s3cr3t-default-2")?
            .app_token(1400000001, "s3cr3t-app")?
            .sign_policy(Required)
            .app_sign_policy(1400000001, Optional)
            .command_sign_policy("Room.", Off);
        let sets = c.tokens();
        assert_eq!(
            format!("{sets:?}"),
            "TokenSets { default: 2 tokens, apps: {1400000001: 1 token} }"
        );
        sets.set_app(1400000001, ["s3cr3t-rotated", "s3cr3t-app"])?;
        let table = c.snapshot();
        let dbg = format!(
            "{c:?} {c:#?} {sets:?} {sets:#?} {:?} {:?}",
            c.auth(&table, 1400000001, LEAVE),
            c.auth(&table, 1400000000, "C2C.X"),
        );
        assert!(!dbg.contains("s3cr3t"), "{dbg}");
        assert!(dbg.contains("apps: {1400000001: 2 tokens}"), "{dbg}");
        assert!(dbg.contains("default: Some(Required)"), "{dbg}");
        assert!(dbg.contains("apps: {1400000001: Optional}"), "{dbg}");
        assert!(dbg.contains("commands: {\"Room.\": Off}"), "{dbg}");
        Ok(())
    }
}

#[cfg(test)]
mod handles {
    use super::*;

    /// A handle taken before later builder calls still reaches what the configuration checks: its
    /// changes are seen, and the builder's are seen through it.
    #[test]
    fn a_token_handle_never_detaches() -> Result<(), ConfigError> {
        let early = Config::new(1).tokens();
        let _ = early;
        let c = Config::new(1);
        let handle = c.tokens();
        let c = c.token("first")?.app_id(2).app_token(3, "three")?;
        assert_eq!(handle.app_ids(), [1, 2, 3]);
        assert!(handle.has_own(3));
        // A change through the early handle reaches the built configuration.
        handle.set_default(["rotated"])?;
        assert_eq!(
            c.tokens_for(1)
                .iter()
                .map(|t| t.expose().to_vec())
                .collect::<Vec<_>>(),
            [b"rotated".to_vec()]
        );
        handle.set_app(2, ["two"])?;
        assert!(c.tokens().has_own(2));
        Ok(())
    }
}
