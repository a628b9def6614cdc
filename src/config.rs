//! What a receiver checks: its SDKAppIDs, its tokens, the time window and the body bounds.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

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
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::EmptyToken => f.write_str("a callback token must not be empty"),
            ConfigError::TokenWhitespace => {
                f.write_str("a callback token must not start or end with white space")
            }
        }
    }
}

impl std::error::Error for ConfigError {}

/// The default allowed distance between `RequestTime` and now: 60 seconds, either direction.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(60);
/// The default body limit: 1 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;
/// The default body-read timeout: 1 second, half of Tencent's 2 s answer budget, leaving the other half
/// for the handler. Real callbacks are a few hundred bytes and arrive in one packet.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(1);

type ClockFn = dyn Fn() -> SystemTime + Send + Sync;

/// What the receiver checks on every intercepted callback.
///
/// ```
/// use std::time::Duration;
/// use tencent_room_callback::Config;
///
/// let config = Config::new(1400000000)
///     .app_id(1400000001)            // a second app sharing the receiver
///     .token("new-token")?           // callback authentication: Sign and RequestTime required
///     .token("old-token")?           // rotation: either token is accepted
///     .window(Duration::from_secs(30))
///     .body_limit(64 * 1024);
/// # Ok::<(), tencent_room_callback::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct Config {
    pub(crate) app_ids: Vec<u64>,
    pub(crate) tokens: Vec<Token>,
    pub(crate) window: Duration,
    clock: Option<Arc<ClockFn>>,
    pub(crate) body_limit: usize,
    pub(crate) body_timeout: Option<Duration>,
}

impl Config {
    /// A configuration for one SDKAppID, no token, and the defaults: a 60 s window, a 1 MiB body limit
    /// and a 1 s body-read timeout. The timeout uses Tokio's timer: serve from a Tokio runtime with time
    /// enabled (as axum and hyper-util servers do), or turn it off with `body_timeout(None)`.
    pub fn new(sdk_app_id: u64) -> Config {
        Config {
            app_ids: vec![sdk_app_id],
            tokens: Vec::new(),
            window: DEFAULT_WINDOW,
            clock: None,
            body_limit: DEFAULT_BODY_LIMIT,
            body_timeout: Some(DEFAULT_BODY_TIMEOUT),
        }
    }

    /// Also accepts callbacks for `sdk_app_id`.
    #[must_use]
    pub fn app_id(mut self, sdk_app_id: u64) -> Config {
        if !self.app_ids.contains(&sdk_app_id) {
            self.app_ids.push(sdk_app_id);
        }
        self
    }

    /// Turns on callback authentication with `token`, or adds it as another accepted token (rotation).
    /// With at least one token, `Sign` and `RequestTime` are required.
    ///
    /// # Errors
    /// [`ConfigError::EmptyToken`] when the token is empty (it would make every signature trivial);
    /// [`ConfigError::TokenWhitespace`] when it starts or ends with white space (typically a newline
    /// read from a file or an environment variable, which would fail every signature).
    pub fn token(mut self, token: impl AsRef<str>) -> Result<Config, ConfigError> {
        self.tokens.push(Token::new(token)?);
        Ok(self)
    }

    /// How far `RequestTime` may be from now, either direction, in whole seconds (default 60 s; the
    /// edges are inside). `RequestTime` itself has a resolution of one second.
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

    /// How long the body may take to arrive once the head is in (default 1 s); `None` for no limit.
    /// The timer needs a Tokio runtime with time enabled, and is only started when the body is not
    /// already there.
    #[must_use]
    pub fn body_timeout(mut self, timeout: Option<Duration>) -> Config {
        self.body_timeout = timeout;
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
    pub fn app_ids(&self) -> &[u64] {
        &self.app_ids
    }

    /// Whether callback authentication is on (at least one token).
    pub fn authenticates(&self) -> bool {
        !self.tokens.is_empty()
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
            .field("app_ids", &self.app_ids)
            .field("tokens", &self.tokens)
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
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_never_printed() {
        let c = Config::new(1).token("s3cr3t-token").unwrap();
        let dbg = format!("{c:?} {:?}", c.tokens[0]);
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
        assert_eq!(c.app_ids(), &[1, 2]);
        assert!(!c.authenticates());
    }
}
