//! The server's limits from the environment: the `ROOM_CALLBACK_*` variables that fill a
//! [`ServeConfig`] (the table in the README). The `serve` module itself reads no variable.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::time::Duration;

use crate::serve::ServeConfig;

/// [`ServeConfig::header_timeout`], in milliseconds.
pub(crate) const HEADER_TIMEOUT: &str = "ROOM_CALLBACK_HEADER_TIMEOUT_MS";
/// [`ServeConfig::idle_timeout`], in milliseconds.
pub(crate) const IDLE_TIMEOUT: &str = "ROOM_CALLBACK_IDLE_TIMEOUT_MS";
/// [`ServeConfig::write_timeout`], in milliseconds (unset: the idle timeout).
pub(crate) const WRITE_TIMEOUT: &str = "ROOM_CALLBACK_WRITE_TIMEOUT_MS";
/// [`ServeConfig::max_connections`].
pub(crate) const MAX_CONNECTIONS: &str = "ROOM_CALLBACK_MAX_CONNECTIONS";
/// [`ServeConfig::max_header_bytes`] (at least 8192).
pub(crate) const MAX_HEADER_BYTES: &str = "ROOM_CALLBACK_MAX_HEADER_BYTES";
/// [`ServeConfig::max_headers`].
pub(crate) const MAX_HEADERS: &str = "ROOM_CALLBACK_MAX_HEADERS";
/// [`ServeConfig::max_concurrent_streams`].
pub(crate) const MAX_STREAMS: &str = "ROOM_CALLBACK_MAX_STREAMS";
/// [`ServeConfig::max_buffered_bytes`] (at least [`MIN_BUFFERED_BYTES`]).
pub(crate) const MAX_BUFFERED_BYTES: &str = "ROOM_CALLBACK_MAX_BUFFERED_BYTES";
/// [`ServeConfig::shutdown_grace`], in milliseconds.
pub(crate) const SHUTDOWN_GRACE: &str = "ROOM_CALLBACK_SHUTDOWN_GRACE_MS";

/// The smallest `ROOM_CALLBACK_MAX_BUFFERED_BYTES`: twice the largest body the layer reads, so that
/// the three quarters large bodies may take hold a whole one.
const MIN_BUFFERED_BYTES: u64 = 2 * tencent_room_callback::Config::DEFAULT_BODY_LIMIT as u64;

/// The largest value a variable may hold: about 24 days in milliseconds, and more connections,
/// streams or bytes than anyone means.
const MAX_VALUE: u64 = i32::MAX as u64;

/// The limits: the defaults, with each variable that is set in place of its field. A set variable
/// must be a whole decimal number (digits only: no sign, unit or white space), not zero, at most
/// 2,147,483,647; `ROOM_CALLBACK_MAX_HEADER_BYTES` at least 8192, `ROOM_CALLBACK_MAX_BUFFERED_BYTES` at
/// least 2 MiB. Otherwise the error is one line naming the variable and its problem (and showing no
/// value but a number's). Each request is charged at most the layer's body limit (1 MiB), which the
/// receiver does not change.
pub(crate) fn from_env() -> Result<ServeConfig, String> {
    from_lookup(|name| std::env::var_os(name)).map_err(|e| e.to_string())
}

/// [`from_env`] over any source of variables.
fn from_lookup(lookup: impl Fn(&str) -> Option<OsString>) -> Result<ServeConfig, EnvError> {
    let number = |name: &'static str, min: u64| -> Result<Option<u64>, EnvError> {
        lookup(name)
            .map(|value| parse(name, &value, min))
            .transpose()
    };
    let millis = |name| -> Result<Option<Duration>, EnvError> {
        Ok(number(name, 1)?.map(Duration::from_millis))
    };
    let count = |name, min| -> Result<Option<usize>, EnvError> {
        Ok(number(name, min)?.map(|n| usize::try_from(n).unwrap_or(usize::MAX)))
    };
    let mut config = ServeConfig::default();
    if let Some(t) = millis(HEADER_TIMEOUT)? {
        config.header_timeout = t;
    }
    if let Some(t) = millis(IDLE_TIMEOUT)? {
        config.idle_timeout = t;
    }
    config.write_timeout = millis(WRITE_TIMEOUT)?;
    if let Some(n) = count(MAX_CONNECTIONS, 1)? {
        config.max_connections = n;
    }
    if let Some(n) = count(MAX_HEADER_BYTES, ServeConfig::MIN_HEADER_BYTES as u64)? {
        config.max_header_bytes = n;
    }
    if let Some(n) = count(MAX_HEADERS, 1)? {
        config.max_headers = n;
    }
    if let Some(n) = number(MAX_STREAMS, 1)? {
        config.max_concurrent_streams = u32::try_from(n).unwrap_or(u32::MAX);
    }
    if let Some(n) = count(MAX_BUFFERED_BYTES, MIN_BUFFERED_BYTES)? {
        config.max_buffered_bytes = n;
    }
    config.max_body_charge = tencent_room_callback::Config::DEFAULT_BODY_LIMIT;
    if let Some(t) = millis(SHUTDOWN_GRACE)? {
        config.shutdown_grace = t;
    }
    Ok(config)
}

/// A variable's value as a number in `min..=MAX_VALUE`.
fn parse(name: &'static str, value: &OsStr, min: u64) -> Result<u64, EnvError> {
    let error = |problem| EnvError {
        variable: name,
        problem,
        min,
    };
    let value = value.to_str().ok_or(error(Problem::NotUnicode))?;
    if value.is_empty() {
        return Err(error(Problem::Empty));
    }
    if value.trim().is_empty() {
        return Err(error(Problem::Blank));
    }
    if value.trim() != value {
        return Err(error(Problem::WhiteSpace));
    }
    if !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(error(Problem::NotANumber));
    }
    // Digits only: the one failure left is overflow.
    let n = value.parse::<u64>().unwrap_or(u64::MAX);
    if n == 0 {
        return Err(error(Problem::Zero));
    }
    if n < min {
        return Err(error(Problem::TooSmall { min }));
    }
    if n > MAX_VALUE {
        return Err(error(Problem::TooLarge { max: MAX_VALUE }));
    }
    Ok(n)
}

/// A variable that is set but unusable: which, and why. Its `Display` is one line that starts with
/// the variable's name, as `ROOM_CALLBACK_MAX_CONNECTIONS is zero (expected a whole number from 1 to
/// 2147483647)`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct EnvError {
    variable: &'static str,
    problem: Problem,
    /// The smallest value the variable takes, for the message.
    min: u64,
}

/// What is wrong with a variable's value.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Problem {
    Empty,
    Blank,
    WhiteSpace,
    NotUnicode,
    NotANumber,
    Zero,
    TooSmall { min: u64 },
    TooLarge { max: u64 },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Empty => f.write_str("is set but empty"),
            Problem::Blank => f.write_str("is only white space"),
            Problem::WhiteSpace => f.write_str("starts or ends with white space"),
            Problem::NotUnicode => f.write_str("is not valid UTF-8"),
            Problem::NotANumber => f.write_str("is not a whole decimal number (digits only)"),
            Problem::Zero => f.write_str("is zero"),
            Problem::TooSmall { min } => write!(f, "is below {min}"),
            Problem::TooLarge { max } => write!(f, "is above {max}"),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn with(vars: &[(&str, &str)]) -> Result<ServeConfig, EnvError> {
        from_lookup(|name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| OsString::from(v))
        })
    }

    #[test]
    fn unset_variables_leave_the_defaults() {
        let c = with(&[]).unwrap();
        assert_eq!(
            c,
            ServeConfig {
                max_body_charge: tencent_room_callback::Config::DEFAULT_BODY_LIMIT,
                ..ServeConfig::default()
            }
        );
        assert_eq!(c.write_timeout, None);
        assert_eq!(c.max_buffered_bytes, 64 * 1024 * 1024);
    }

    #[test]
    fn set_variables_replace_the_defaults() {
        let c = with(&[
            (HEADER_TIMEOUT, "2000"),
            (IDLE_TIMEOUT, "5000"),
            (WRITE_TIMEOUT, "700"),
            (MAX_CONNECTIONS, "50"),
            (MAX_HEADER_BYTES, "8192"),
            (MAX_HEADERS, "10"),
            (MAX_STREAMS, "7"),
            (MAX_BUFFERED_BYTES, "2097152"),
            (SHUTDOWN_GRACE, "1"),
        ])
        .unwrap();
        assert_eq!(c.header_timeout, Duration::from_millis(2000));
        assert_eq!(c.idle_timeout, Duration::from_millis(5000));
        assert_eq!(c.write_timeout, Some(Duration::from_millis(700)));
        assert_eq!(c.max_connections, 50);
        assert_eq!(c.max_header_bytes, 8192);
        assert_eq!(c.max_headers, 10);
        assert_eq!(c.max_concurrent_streams, 7);
        assert_eq!(c.max_buffered_bytes, 2 * 1024 * 1024);
        assert_eq!(c.shutdown_grace, Duration::from_millis(1));
    }

    #[test]
    fn errors_name_the_variable_and_the_problem() {
        let cases: &[(&str, &str, Problem)] = &[
            (HEADER_TIMEOUT, "", Problem::Empty),
            (HEADER_TIMEOUT, "   ", Problem::Blank),
            (IDLE_TIMEOUT, " 100", Problem::WhiteSpace),
            (IDLE_TIMEOUT, "100\n", Problem::WhiteSpace),
            (WRITE_TIMEOUT, "", Problem::Empty),
            (WRITE_TIMEOUT, "0", Problem::Zero),
            (WRITE_TIMEOUT, "3s", Problem::NotANumber),
            (MAX_CONNECTIONS, "ten", Problem::NotANumber),
            (MAX_CONNECTIONS, "-1", Problem::NotANumber),
            (MAX_CONNECTIONS, "+1", Problem::NotANumber),
            (HEADER_TIMEOUT, "2s", Problem::NotANumber),
            (HEADER_TIMEOUT, "1.5", Problem::NotANumber),
            (MAX_CONNECTIONS, "0", Problem::Zero),
            (HEADER_TIMEOUT, "000", Problem::Zero),
            (MAX_HEADER_BYTES, "4096", Problem::TooSmall { min: 8192 }),
            (MAX_BUFFERED_BYTES, "0", Problem::Zero),
            (MAX_BUFFERED_BYTES, "64MiB", Problem::NotANumber),
            (
                MAX_BUFFERED_BYTES,
                "1048576",
                Problem::TooSmall {
                    min: 2 * 1024 * 1024,
                },
            ),
            (
                MAX_BUFFERED_BYTES,
                "4294967296",
                Problem::TooLarge { max: MAX_VALUE },
            ),
            (
                MAX_STREAMS,
                "99999999999999999999999",
                Problem::TooLarge { max: MAX_VALUE },
            ),
            (
                SHUTDOWN_GRACE,
                "2147483648",
                Problem::TooLarge { max: MAX_VALUE },
            ),
        ];
        for (var, value, problem) in cases {
            let e = with(&[(var, value)]).unwrap_err();
            assert_eq!((e.variable, &e.problem), (*var, problem), "{var}={value:?}");
            let line = e.to_string();
            assert!(line.starts_with(&format!("{var} ")), "{line}");
            assert_eq!(line.lines().count(), 1, "{line}");
        }
        assert_eq!(
            with(&[(MAX_CONNECTIONS, "0")]).unwrap_err().to_string(),
            "ROOM_CALLBACK_MAX_CONNECTIONS is zero (expected a whole number from 1 to 2147483647)"
        );
        assert_eq!(
            with(&[(HEADER_TIMEOUT, "abc")]).unwrap_err().to_string(),
            "ROOM_CALLBACK_HEADER_TIMEOUT_MS is not a whole decimal number (digits only) \
             (expected milliseconds from 1 to 2147483647)"
        );
        assert_eq!(
            with(&[(MAX_HEADER_BYTES, "100")]).unwrap_err().to_string(),
            "ROOM_CALLBACK_MAX_HEADER_BYTES is below 8192 (expected a whole number from 8192 to \
             2147483647)"
        );
        assert_eq!(
            with(&[(MAX_BUFFERED_BYTES, "1000")])
                .unwrap_err()
                .to_string(),
            "ROOM_CALLBACK_MAX_BUFFERED_BYTES is below 2097152 (expected a whole number from \
             2097152 to 2147483647)"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_value_that_is_not_utf8_is_named() {
        use std::os::unix::ffi::OsStringExt;
        let e = from_lookup(|name| {
            (name == IDLE_TIMEOUT).then(|| OsString::from_vec(vec![0xff, b'1']))
        })
        .unwrap_err();
        assert_eq!(e.variable, IDLE_TIMEOUT);
        assert_eq!(e.problem, Problem::NotUnicode);
    }
}
