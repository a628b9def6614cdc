//! [`ServeConfig`]: the limits of [`serve`](super::serve), their defaults, and their variables.

use std::error::Error;
use std::ffi::OsString;
use std::fmt;
use std::time::Duration;

/// The smallest HTTP/1 read buffer hyper takes (`max_buf_size`): a smaller
/// [`ServeConfig::max_header_bytes`] counts as this much.
pub const MIN_HEADER_BYTES: usize = 8 * 1024;

/// The default [`ServeConfig::header_timeout`]: 10 s.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// The default [`ServeConfig::idle_timeout`]: 60 s.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// The default [`ServeConfig::max_connections`]: 10,000.
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;
/// The default [`ServeConfig::max_header_bytes`]: 16 KiB.
pub const DEFAULT_MAX_HEADER_BYTES: usize = 16 * 1024;
/// The default [`ServeConfig::max_headers`]: 64.
pub const DEFAULT_MAX_HEADERS: usize = 64;
/// The default [`ServeConfig::max_concurrent_streams`]: 100.
pub const DEFAULT_MAX_CONCURRENT_STREAMS: u32 = 100;
/// The default [`ServeConfig::shutdown_grace`]: 10 s.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// What [`serve`](super::serve) allows a connection: how long, how much, how many.
///
/// The defaults ([`ServeConfig::default`]) are meant for a receiver on the internet: a few callbacks a
/// second from Tencent, each a few hundred bytes, among whatever else finds the port.
///
/// | field | default | variable ([`ServeConfig::from_env`]) |
/// |---|---|---|
/// | [`header_timeout`](Self::header_timeout) | 10 s | `ROOM_CALLBACK_HEADER_TIMEOUT_MS` |
/// | [`idle_timeout`](Self::idle_timeout) | 60 s | `ROOM_CALLBACK_IDLE_TIMEOUT_MS` |
/// | [`max_connections`](Self::max_connections) | 10,000 | `ROOM_CALLBACK_MAX_CONNECTIONS` |
/// | [`max_header_bytes`](Self::max_header_bytes) | 16 KiB | `ROOM_CALLBACK_MAX_HEADER_BYTES` |
/// | [`max_headers`](Self::max_headers) | 64 | `ROOM_CALLBACK_MAX_HEADERS` |
/// | [`max_concurrent_streams`](Self::max_concurrent_streams) | 100 | `ROOM_CALLBACK_MAX_STREAMS` |
/// | [`shutdown_grace`](Self::shutdown_grace) | 10 s | `ROOM_CALLBACK_SHUTDOWN_GRACE_MS` |
///
/// ```
/// use std::time::Duration;
/// use tencent_room_callback_receiver::serve::ServeConfig;
///
/// let mut config = ServeConfig::default();
/// config.header_timeout = Duration::from_secs(5);
/// assert_eq!(config.max_connections, 10_000);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServeConfig {
    /// How long a request head may take. The first request's head must be complete within this time
    /// of the connection's accept, whatever the protocol: a connection that sends nothing, sends an
    /// incomplete head, or an HTTP/2 preface and no request, is closed then. On HTTP/1 every later head
    /// must be complete within this time of its first byte. Closed without an answer.
    ///
    /// Default 10 s ([`DEFAULT_HEADER_TIMEOUT`]); keep it well under 20 s.
    pub header_timeout: Duration,
    /// How long a connection may stay without a request in progress, from the end of its last
    /// response (HTTP/1 keep-alive, HTTP/2 alike). Then it is closed gracefully (HTTP/2: `GOAWAY`),
    /// and dropped if it has not closed within [`header_timeout`](Self::header_timeout). A request
    /// counts as in progress from its complete head until its response body is written.
    ///
    /// Default 60 s ([`DEFAULT_IDLE_TIMEOUT`]).
    pub idle_timeout: Duration,
    /// How many connections may be open at once, all clients together. One more is accepted and
    /// closed at once, nothing read or written: see [`serve`](super::serve). Keep it under the
    /// process's open-file limit (`ulimit -n`), less what the application itself opens.
    ///
    /// Default 10,000 ([`DEFAULT_MAX_CONNECTIONS`]).
    pub max_connections: usize,
    /// The most bytes of a request head. HTTP/1: the read buffer, which the request line and the
    /// headers must fit (a larger head is answered 431 and the connection closed); at least 8 KiB
    /// ([`MIN_HEADER_BYTES`]: a smaller value counts as 8 KiB). HTTP/2: `SETTINGS_MAX_HEADER_LIST_SIZE`
    /// (the decoded list, as RFC 9113 counts it).
    ///
    /// Default 16 KiB ([`DEFAULT_MAX_HEADER_BYTES`]).
    pub max_header_bytes: usize,
    /// The most header fields of an HTTP/1 request (more: 431, closed).
    ///
    /// Default 64 ([`DEFAULT_MAX_HEADERS`]).
    pub max_headers: usize,
    /// The most HTTP/2 streams (requests) open at once on one connection
    /// (`SETTINGS_MAX_CONCURRENT_STREAMS`).
    ///
    /// Default 100 ([`DEFAULT_MAX_CONCURRENT_STREAMS`]).
    pub max_concurrent_streams: u32,
    /// Once the shutdown future resolves, how long the requests in progress have to finish. Then
    /// every connection still open is dropped and [`serve`](super::serve) returns.
    ///
    /// Default 10 s ([`DEFAULT_SHUTDOWN_GRACE`]).
    pub shutdown_grace: Duration,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_header_bytes: DEFAULT_MAX_HEADER_BYTES,
            max_headers: DEFAULT_MAX_HEADERS,
            max_concurrent_streams: DEFAULT_MAX_CONCURRENT_STREAMS,
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
        }
    }
}

/// `ROOM_CALLBACK_HEADER_TIMEOUT_MS`: [`ServeConfig::header_timeout`], in milliseconds.
pub const HEADER_TIMEOUT_VAR: &str = "ROOM_CALLBACK_HEADER_TIMEOUT_MS";
/// `ROOM_CALLBACK_IDLE_TIMEOUT_MS`: [`ServeConfig::idle_timeout`], in milliseconds.
pub const IDLE_TIMEOUT_VAR: &str = "ROOM_CALLBACK_IDLE_TIMEOUT_MS";
/// `ROOM_CALLBACK_MAX_CONNECTIONS`: [`ServeConfig::max_connections`].
pub const MAX_CONNECTIONS_VAR: &str = "ROOM_CALLBACK_MAX_CONNECTIONS";
/// `ROOM_CALLBACK_MAX_HEADER_BYTES`: [`ServeConfig::max_header_bytes`] (at least 8192).
pub const MAX_HEADER_BYTES_VAR: &str = "ROOM_CALLBACK_MAX_HEADER_BYTES";
/// `ROOM_CALLBACK_MAX_HEADERS`: [`ServeConfig::max_headers`].
pub const MAX_HEADERS_VAR: &str = "ROOM_CALLBACK_MAX_HEADERS";
/// `ROOM_CALLBACK_MAX_STREAMS`: [`ServeConfig::max_concurrent_streams`].
pub const MAX_STREAMS_VAR: &str = "ROOM_CALLBACK_MAX_STREAMS";
/// `ROOM_CALLBACK_SHUTDOWN_GRACE_MS`: [`ServeConfig::shutdown_grace`], in milliseconds.
pub const SHUTDOWN_GRACE_VAR: &str = "ROOM_CALLBACK_SHUTDOWN_GRACE_MS";

/// Every variable [`ServeConfig::from_env`] reads, in the order of the table on [`ServeConfig`].
pub const ENV_VARS: [&str; 7] = [
    HEADER_TIMEOUT_VAR,
    IDLE_TIMEOUT_VAR,
    MAX_CONNECTIONS_VAR,
    MAX_HEADER_BYTES_VAR,
    MAX_HEADERS_VAR,
    MAX_STREAMS_VAR,
    SHUTDOWN_GRACE_VAR,
];

/// The largest value a variable may hold: about 24 days in milliseconds, and more connections,
/// streams or bytes than anyone means.
const MAX_VALUE: u64 = i32::MAX as u64;

impl ServeConfig {
    /// The defaults, with each variable of the table on [`ServeConfig`] that is set in place of its
    /// field. A set variable must be a whole decimal number (digits only: no sign, unit or white
    /// space), not zero, at most 2,147,483,647; `ROOM_CALLBACK_MAX_HEADER_BYTES` at least 8192.
    /// Otherwise the error names the variable and its problem (and shows no value but a number's).
    pub fn from_env() -> Result<ServeConfig, EnvError> {
        ServeConfig::from_lookup(|name| std::env::var_os(name))
    }

    /// [`from_env`](Self::from_env) over any source of variables.
    pub(crate) fn from_lookup(
        lookup: impl Fn(&str) -> Option<OsString>,
    ) -> Result<ServeConfig, EnvError> {
        let number = |name: &'static str, min: u64| -> Result<Option<u64>, EnvError> {
            lookup(name)
                .map(|value| parse(name, &value, min))
                .transpose()
        };
        let millis = |name, default| -> Result<Duration, EnvError> {
            Ok(number(name, 1)?.map_or(default, Duration::from_millis))
        };
        let count = |name, default: usize| -> Result<usize, EnvError> {
            Ok(number(name, 1)?.map_or(default, |n| usize::try_from(n).unwrap_or(usize::MAX)))
        };
        let defaults = ServeConfig::default();
        Ok(ServeConfig {
            header_timeout: millis(HEADER_TIMEOUT_VAR, defaults.header_timeout)?,
            idle_timeout: millis(IDLE_TIMEOUT_VAR, defaults.idle_timeout)?,
            max_connections: count(MAX_CONNECTIONS_VAR, defaults.max_connections)?,
            max_header_bytes: match number(MAX_HEADER_BYTES_VAR, MIN_HEADER_BYTES as u64)? {
                Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
                None => defaults.max_header_bytes,
            },
            max_headers: count(MAX_HEADERS_VAR, defaults.max_headers)?,
            max_concurrent_streams: match number(MAX_STREAMS_VAR, 1)? {
                Some(n) => u32::try_from(n).unwrap_or(u32::MAX),
                None => defaults.max_concurrent_streams,
            },
            shutdown_grace: millis(SHUTDOWN_GRACE_VAR, defaults.shutdown_grace)?,
        })
    }
}

/// A variable's value as a number in `min..=MAX_VALUE`.
fn parse(name: &'static str, value: &std::ffi::OsStr, min: u64) -> Result<u64, EnvError> {
    let error = |problem| EnvError {
        variable: name,
        problem,
        min,
    };
    let value = value.to_str().ok_or(error(EnvProblem::NotUnicode))?;
    if value.is_empty() {
        return Err(error(EnvProblem::Empty));
    }
    if value.trim().is_empty() {
        return Err(error(EnvProblem::Blank));
    }
    if value.trim() != value {
        return Err(error(EnvProblem::WhiteSpace));
    }
    if !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(error(EnvProblem::NotANumber));
    }
    // Digits only: the one failure left is overflow.
    let n = value.parse::<u64>().unwrap_or(u64::MAX);
    if n == 0 {
        return Err(error(EnvProblem::Zero));
    }
    if n < min {
        return Err(error(EnvProblem::TooSmall { min }));
    }
    if n > MAX_VALUE {
        return Err(error(EnvProblem::TooLarge { max: MAX_VALUE }));
    }
    Ok(n)
}

/// A variable of [`ServeConfig::from_env`] that is set but unusable: which, and why. Its `Display` is
/// one line that starts with the variable's name, as `ROOM_CALLBACK_MAX_CONNECTIONS is zero (expected
/// a whole number from 1 to 2147483647)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvError {
    variable: &'static str,
    problem: EnvProblem,
    /// The smallest value the variable takes, for the message.
    min: u64,
}

impl EnvError {
    /// The variable's name.
    pub fn variable(&self) -> &'static str {
        self.variable
    }

    /// What is wrong with its value.
    pub fn problem(&self) -> &EnvProblem {
        &self.problem
    }
}

/// What is wrong with a variable's value (see [`EnvError`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EnvProblem {
    /// Set to the empty string.
    Empty,
    /// Only white space.
    Blank,
    /// A value with white space before or after it.
    WhiteSpace,
    /// Not valid UTF-8.
    NotUnicode,
    /// Not a whole decimal number (a sign, a unit, a decimal point, another character).
    NotANumber,
    /// Zero, which would turn the limit into a refusal of everything.
    Zero,
    /// Below the smallest value the setting takes.
    TooSmall {
        /// The smallest value.
        min: u64,
    },
    /// Above the largest value the setting takes.
    TooLarge {
        /// The largest value.
        max: u64,
    },
}

impl fmt::Display for EnvProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EnvProblem::Empty => f.write_str("is set but empty"),
            EnvProblem::Blank => f.write_str("is only white space"),
            EnvProblem::WhiteSpace => f.write_str("starts or ends with white space"),
            EnvProblem::NotUnicode => f.write_str("is not valid UTF-8"),
            EnvProblem::NotANumber => f.write_str("is not a whole decimal number (digits only)"),
            EnvProblem::Zero => f.write_str("is zero"),
            EnvProblem::TooSmall { min } => write!(f, "is below {min}"),
            EnvProblem::TooLarge { max } => write!(f, "is above {max}"),
        }
    }
}

impl fmt::Display for EnvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = if self.variable.ends_with("_MS") {
            "milliseconds"
        } else {
            "a whole number"
        };
        write!(
            f,
            "{} {} (expected {unit} from {} to {MAX_VALUE})",
            self.variable, self.problem, self.min
        )
    }
}

impl Error for EnvError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(vars: &[(&str, &str)]) -> Result<ServeConfig, EnvError> {
        ServeConfig::from_lookup(|name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| OsString::from(v))
        })
    }

    #[test]
    fn defaults_are_safe() {
        let c = ServeConfig::default();
        assert!(c.header_timeout <= Duration::from_secs(20));
        assert_eq!(c.header_timeout, Duration::from_secs(10));
        assert_eq!(c.idle_timeout, Duration::from_secs(60));
        assert!(c.max_connections >= 10_000);
        assert_eq!(c.max_header_bytes, 16 * 1024);
        assert_eq!(c.max_headers, 64);
        assert_eq!(with(&[]), Ok(c));
    }

    #[test]
    fn set_variables_replace_the_defaults() {
        let c = with(&[
            (HEADER_TIMEOUT_VAR, "2000"),
            (IDLE_TIMEOUT_VAR, "5000"),
            (MAX_CONNECTIONS_VAR, "50"),
            (MAX_HEADER_BYTES_VAR, "8192"),
            (MAX_HEADERS_VAR, "10"),
            (MAX_STREAMS_VAR, "7"),
            (SHUTDOWN_GRACE_VAR, "1"),
        ])
        .unwrap();
        assert_eq!(c.header_timeout, Duration::from_millis(2000));
        assert_eq!(c.idle_timeout, Duration::from_millis(5000));
        assert_eq!(c.max_connections, 50);
        assert_eq!(c.max_header_bytes, 8192);
        assert_eq!(c.max_headers, 10);
        assert_eq!(c.max_concurrent_streams, 7);
        assert_eq!(c.shutdown_grace, Duration::from_millis(1));
    }

    #[test]
    fn errors_name_the_variable_and_the_problem() {
        let cases: &[(&str, &str, EnvProblem)] = &[
            (HEADER_TIMEOUT_VAR, "", EnvProblem::Empty),
            (HEADER_TIMEOUT_VAR, "   ", EnvProblem::Blank),
            (IDLE_TIMEOUT_VAR, " 100", EnvProblem::WhiteSpace),
            (IDLE_TIMEOUT_VAR, "100\n", EnvProblem::WhiteSpace),
            (MAX_CONNECTIONS_VAR, "ten", EnvProblem::NotANumber),
            (MAX_CONNECTIONS_VAR, "-1", EnvProblem::NotANumber),
            (MAX_CONNECTIONS_VAR, "+1", EnvProblem::NotANumber),
            (HEADER_TIMEOUT_VAR, "2s", EnvProblem::NotANumber),
            (HEADER_TIMEOUT_VAR, "1.5", EnvProblem::NotANumber),
            (MAX_CONNECTIONS_VAR, "0", EnvProblem::Zero),
            (HEADER_TIMEOUT_VAR, "000", EnvProblem::Zero),
            (
                MAX_HEADER_BYTES_VAR,
                "4096",
                EnvProblem::TooSmall { min: 8192 },
            ),
            (
                MAX_STREAMS_VAR,
                "99999999999999999999999",
                EnvProblem::TooLarge { max: MAX_VALUE },
            ),
            (
                SHUTDOWN_GRACE_VAR,
                "2147483648",
                EnvProblem::TooLarge { max: MAX_VALUE },
            ),
        ];
        for (var, value, problem) in cases {
            let e = with(&[(var, value)]).unwrap_err();
            assert_eq!(
                (e.variable(), e.problem()),
                (*var, problem),
                "{var}={value:?}"
            );
            let line = e.to_string();
            assert!(line.starts_with(&format!("{var} ")), "{line}");
            assert_eq!(line.lines().count(), 1, "{line}");
        }
        assert_eq!(
            with(&[(MAX_CONNECTIONS_VAR, "0")]).unwrap_err().to_string(),
            "ROOM_CALLBACK_MAX_CONNECTIONS is zero (expected a whole number from 1 to 2147483647)"
        );
        assert_eq!(
            with(&[(HEADER_TIMEOUT_VAR, "abc")])
                .unwrap_err()
                .to_string(),
            "ROOM_CALLBACK_HEADER_TIMEOUT_MS is not a whole decimal number (digits only) \
             (expected milliseconds from 1 to 2147483647)"
        );
        assert_eq!(
            with(&[(MAX_HEADER_BYTES_VAR, "100")])
                .unwrap_err()
                .to_string(),
            "ROOM_CALLBACK_MAX_HEADER_BYTES is below 8192 (expected a whole number from 8192 to \
             2147483647)"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_value_that_is_not_utf8_is_named() {
        use std::os::unix::ffi::OsStringExt;
        let e = ServeConfig::from_lookup(|name| {
            (name == IDLE_TIMEOUT_VAR).then(|| OsString::from_vec(vec![0xff, b'1']))
        })
        .unwrap_err();
        assert_eq!(e.variable(), IDLE_TIMEOUT_VAR);
        assert_eq!(e.problem(), &EnvProblem::NotUnicode);
    }
}
