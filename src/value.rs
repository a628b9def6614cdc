//! Field types that decode the way Tencent actually sends them.
//!
//! Tencent's own samples send account IDs as bare JSON numbers (some above 2^53), booleans as `"false"`
//! and times as numeric strings. The types here accept each documented shape, keep exact digits (never
//! through a float), and serialize back to the documented shape.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::de::{self, Deserializer, Unexpected, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// A Tencent account (user) ID.
///
/// Decodes from a JSON string or a JSON integer; an integer keeps its exact decimal digits
/// (`144115233775727695` stays `"144115233775727695"`). Floats are refused. Serializes as a string,
/// its documented type.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct AccountId(String);

impl AccountId {
    /// An account ID from its string form.
    pub fn new(id: impl Into<String>) -> Self {
        AccountId(id.into())
    }

    /// The ID as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The ID as its owned string.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Debug for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for AccountId {
    fn from(s: &str) -> Self {
        AccountId(s.to_owned())
    }
}

impl From<String> for AccountId {
    fn from(s: String) -> Self {
        AccountId(s)
    }
}

impl AsRef<str> for AccountId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for AccountId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for AccountId {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl Serialize for AccountId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for AccountId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = AccountId;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an account ID (string or integer)")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<AccountId, E> {
                Ok(AccountId(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<AccountId, E> {
                Ok(AccountId(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<AccountId, E> {
                Ok(AccountId(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<AccountId, E> {
                Ok(AccountId(v.to_string()))
            }
            // f64 is left to the default, which refuses it: a float has lost digits already.
        }
        d.deserialize_any(V)
    }
}

/// An unsigned integer sent as a JSON integer or as a string of ASCII digits.
pub(crate) struct FlexU64(pub(crate) u64);

impl<'de> Deserialize<'de> for FlexU64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = FlexU64;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a non-negative integer (or a string of digits)")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<FlexU64, E> {
                Ok(FlexU64(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<FlexU64, E> {
                u64::try_from(v)
                    .map(FlexU64)
                    .map_err(|_| E::invalid_value(Unexpected::Signed(v), &self))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<FlexU64, E> {
                parse_digits(v)
                    .map(FlexU64)
                    .ok_or_else(|| E::invalid_value(Unexpected::Str(v), &self))
            }
        }
        d.deserialize_any(V)
    }
}

/// The length of the longest prefix of `s` of at most `max` bytes that ends on a character boundary:
/// where to cut a text that must fit in `max` bytes (answers and logs alike).
pub(crate) fn fitting(s: &str, max: usize) -> usize {
    if s.len() <= max {
        return s.len();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    end
}

/// Parses a non-empty string of ASCII digits (no sign, no space) into a `u64`, refusing overflow.
pub(crate) fn parse_digits(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// A boolean sent as a JSON boolean or as the string `"true"` / `"false"` (any ASCII case).
pub(crate) struct FlexBool(pub(crate) bool);

impl<'de> Deserialize<'de> for FlexBool {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = FlexBool;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a boolean (or \"true\" / \"false\")")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<FlexBool, E> {
                Ok(FlexBool(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<FlexBool, E> {
                if v.eq_ignore_ascii_case("true") {
                    Ok(FlexBool(true))
                } else if v.eq_ignore_ascii_case("false") {
                    Ok(FlexBool(false))
                } else {
                    Err(E::invalid_value(Unexpected::Str(v), &self))
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// `deserialize_with` helpers for plain field types.
pub(crate) mod flex {
    use super::{FlexBool, FlexU64};
    use serde::de::{Deserializer, Error};
    use serde::Deserialize;

    pub(crate) fn u32<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
        let v = FlexU64::deserialize(d)?.0;
        u32::try_from(v).map_err(|_| D::Error::custom(format_args!("{v} is out of range")))
    }

    pub(crate) fn opt_u32<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
        match Option::<FlexU64>::deserialize(d)? {
            None => Ok(None),
            Some(FlexU64(v)) => u32::try_from(v)
                .map(Some)
                .map_err(|_| D::Error::custom(format_args!("{v} is out of range"))),
        }
    }

    pub(crate) fn opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
        Ok(Option::<FlexBool>::deserialize(d)?.map(|b| b.0))
    }
}

/// `deserialize_with` for an optional account ID where an empty string means "none" (an empty seat).
pub(crate) fn opt_account<'de, D: Deserializer<'de>>(d: D) -> Result<Option<AccountId>, D::Error> {
    Ok(Option::<AccountId>::deserialize(d)?.filter(|a| !a.0.is_empty()))
}

macro_rules! unix_time {
    ($(#[$m:meta])* $name:ident, $unit:literal, $from:ident, $as:ident, $dur:path) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        pub struct $name(u64);

        impl $name {
            #[doc = concat!("The time from its count of ", $unit, " since the Unix epoch.")]
            pub const fn $from(value: u64) -> Self {
                $name(value)
            }

            #[doc = concat!("The count of ", $unit, " since the Unix epoch, as sent.")]
            pub const fn $as(self) -> u64 {
                self.0
            }

            /// The time as a [`SystemTime`]; `None` only for a value past what this platform's
            /// `SystemTime` can hold (an absurd time, never a panic).
            pub fn to_system_time(self) -> Option<SystemTime> {
                UNIX_EPOCH.checked_add($dur(self.0))
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_u64(self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                FlexU64::deserialize(d).map(|v| $name(v.0))
            }
        }
    };
}

unix_time!(
    /// An event time in **milliseconds** since the Unix epoch (`EventTime`), sent as an integer or a
    /// numeric string.
    EventTime, "milliseconds", from_millis, as_millis, Duration::from_millis
);

unix_time!(
    /// A time in **seconds** since the Unix epoch (`CreateTime`, `ScheduleStartTime`, `ScheduleEndTime`).
    UnixSeconds, "seconds", from_secs, as_secs, Duration::from_secs
);

/// Declares a string enum that keeps unknown values: case-insensitive parsing, aliases, `as_str`.
macro_rules! string_enum {
    (
        $(#[$m:meta])*
        $name:ident, $what:literal {
            $( $(#[$vm:meta])* $variant:ident => [$canon:literal $(, $alias:literal)*] ),* $(,)?
        }
    ) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $( $(#[$vm])* $variant, )*
            /// A value this version does not know, kept as sent.
            Other(String),
        }

        impl $name {
            /// Parses a wire value (ASCII case-insensitive, documented variants accepted); unknown values
            /// become `Other`.
            pub fn parse(value: &str) -> Self {
                $(
                    if value.eq_ignore_ascii_case($canon) $(|| value.eq_ignore_ascii_case($alias))* {
                        return $name::$variant;
                    }
                )*
                $name::Other(value.to_owned())
            }

            /// The canonical wire value (or the unknown value as sent).
            pub fn as_str(&self) -> &str {
                match self {
                    $( $name::$variant => $canon, )*
                    $name::Other(s) => s,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl serde::de::Visitor<'_> for V {
                    type Value = $name;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str(concat!("a string (", $what, ")"))
                    }
                    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<$name, E> {
                        Ok($name::parse(v))
                    }
                }
                d.deserialize_str(V)
            }
        }
    };
}
pub(crate) use string_enum;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_ids_keep_exact_digits() {
        let a: AccountId = serde_json::from_str("144115233775727695").unwrap();
        assert_eq!(a.as_str(), "144115233775727695");
        let a: AccountId = serde_json::from_str("18446744073709551615").unwrap();
        assert_eq!(a.as_str(), "18446744073709551615");
        let a: AccountId = serde_json::from_str("-7").unwrap();
        assert_eq!(a.as_str(), "-7");
        let a: AccountId = serde_json::from_str("\"user1\"").unwrap();
        assert_eq!(a, "user1");
        assert_eq!(serde_json::to_string(&a).unwrap(), "\"user1\"");
        // Past u64, serde_json would go through f64: refused, not rounded.
        assert!(serde_json::from_str::<AccountId>("18446744073709551616").is_err());
        assert!(serde_json::from_str::<AccountId>("1.5").is_err());
        assert!(serde_json::from_str::<AccountId>("true").is_err());
        assert!(serde_json::from_str::<AccountId>("null").is_err());
    }

    #[test]
    fn flexible_integers() {
        let t: EventTime = serde_json::from_str("1670574414123").unwrap();
        assert_eq!(t.as_millis(), 1670574414123);
        let t: EventTime = serde_json::from_str("\"1670574414123\"").unwrap();
        assert_eq!(t.as_millis(), 1670574414123);
        assert_eq!(
            t.to_system_time(),
            Some(UNIX_EPOCH + Duration::from_millis(1670574414123))
        );
        assert!(EventTime::from_millis(u64::MAX).to_system_time().is_some());
        for bad in [
            "-1",
            "1.0",
            "\"\"",
            "\" 1\"",
            "\"+1\"",
            "\"1e3\"",
            "\"99999999999999999999\"",
            "true",
        ] {
            assert!(serde_json::from_str::<EventTime>(bad).is_err(), "{bad}");
        }
        let s: UnixSeconds = serde_json::from_str("1703589922").unwrap();
        assert_eq!(
            s.to_system_time(),
            Some(UNIX_EPOCH + Duration::from_secs(1703589922))
        );
        // Past what SystemTime holds: None, not a panic.
        assert_eq!(UnixSeconds::from_secs(u64::MAX).to_system_time(), None);
    }

    #[test]
    fn flexible_booleans() {
        for (src, want) in [
            ("true", true),
            ("false", false),
            ("\"false\"", false),
            ("\"TRUE\"", true),
        ] {
            assert_eq!(serde_json::from_str::<FlexBool>(src).unwrap().0, want);
        }
        for bad in ["\"no\"", "0", "1", "null"] {
            assert!(serde_json::from_str::<FlexBool>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn digits_only() {
        assert_eq!(parse_digits("0"), Some(0));
        assert_eq!(parse_digits("1400000000"), Some(1_400_000_000));
        assert_eq!(parse_digits("+1"), None);
        assert_eq!(parse_digits(""), None);
        assert_eq!(parse_digits("18446744073709551616"), None);
    }
}
