//! Field types that decode the way Tencent actually sends them.
//!
//! Tencent's own samples send account IDs as bare JSON numbers (some above 2^53), booleans as `"false"`
//! and times as numeric strings. The types here accept each documented shape, keep exact digits (never
//! through a float), and serialize back to the documented shape.

use std::fmt;
use std::marker::PhantomData;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::de::{self, Deserializer, SeqAccess, Unexpected, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use crate::reject::{fitting, Rejection, RejectionKind};

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
                    .ok_or_else(|| E::invalid_value(unexpected_str(v), &self))
            }
        }
        d.deserialize_any(V)
    }
}

/// Parses a non-empty string of ASCII digits (no sign, no space) into a `u64`, refusing overflow.
pub(crate) fn parse_digits(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// The longest string an error message quotes ([`unexpected_str`]).
const MAX_QUOTED: usize = 64;

/// `v` as the [`Unexpected`] value of an error message: quoted when short, else described by its
/// length. A message quotes a string with `{:?}`, which writes up to 6 bytes for each byte of it (a
/// DEL is `\u{7f}`): quoting a 1 MiB string would build a 6 MiB message, where one of these costs a
/// few hundred bytes whatever the body.
pub(crate) fn unexpected_str(v: &str) -> Unexpected<'_> {
    if v.len() <= MAX_QUOTED {
        Unexpected::Str(v)
    } else {
        Unexpected::Other("a string longer than 64 bytes")
    }
}

/// A string as an error message shows it: quoted (`{:?}`) when short, else described by its length
/// (as [`unexpected_str`] does, for the same reason).
pub(crate) struct Quoted<'a>(pub(crate) &'a str);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.len() <= MAX_QUOTED {
            write!(f, "{:?}", self.0)
        } else {
            write!(f, "a string of {} bytes", self.0.len())
        }
    }
}

/// The first `max` bytes (or a little less, on a character boundary) of what `text` displays, without
/// ever formatting more: the text of an error whose `Display` may be long (a decoder's message quoting
/// the body) costs at most `max` bytes here.
pub(crate) fn capped(text: impl fmt::Display, max: usize) -> String {
    struct Capped {
        out: String,
        max: usize,
    }
    impl fmt::Write for Capped {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            let room = self.max - self.out.len();
            let end = fitting(s, room);
            self.out.push_str(&s[..end]);
            if end < s.len() {
                // Full: stop the formatting (the error only ends it early).
                Err(fmt::Error)
            } else {
                Ok(())
            }
        }
    }
    let mut capped = Capped {
        out: String::new(),
        max,
    };
    let _ = fmt::Write::write_fmt(&mut capped, format_args!("{text}"));
    capped.out
}

/// The keys of the lists a decoded type builds, entry by entry (members, seats, message elements): the
/// lists [`check_lists`] bounds before the type is decoded. A list the type skips costs no memory and is
/// not bounded (a destroyed group's member list, say, which nothing here reads).
pub(crate) trait Lists {
    /// The keys, at any depth.
    const LISTS: &'static [&'static str];
}

/// Refuses a body that holds a list of more than `max` entries under one of the keys `lists` (at any
/// depth), before anything is decoded from it: the rejection names the key and the bound. This is how
/// every decode of the crate bounds the memory one callback can take once decoded (each entry of a list
/// becomes at least one allocation), with the bound passed explicitly: the layer passes
/// [`Config::max_members`](crate::Config::max_members), so do `RawCallback::decode`, the inbox and its
/// workers; the events' own `from_json` pass the default.
///
/// A body too short to hold such a list is not scanned at all: each entry takes at least two bytes (a
/// one-byte value and a comma), so below `2 × max + 3` bytes no list can be longer than `max`, and a
/// callback of ordinary size (a few hundred bytes) costs one comparison here. A longer body is scanned
/// once without building anything (keys up to 64 bytes excepted); a body that is not JSON is left to
/// the decoder, which says why.
pub(crate) fn check_lists(body: &[u8], max: usize, lists: &[&str]) -> Result<(), Rejection> {
    if lists.is_empty() || body.len() < max.saturating_mul(2).saturating_add(3) {
        return Ok(());
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let scan = ListScan {
        max,
        lists,
        key: None,
    };
    match de::DeserializeSeed::deserialize(scan, &mut de) {
        Err(e) if e.is_data() => Err(Rejection::with_detail(
            RejectionKind::MalformedBody,
            capped(e, 256),
        )),
        _ => Ok(()),
    }
}

/// The scan behind [`check_lists`]: a value, under `key` (the last map key seen above it).
#[derive(Clone, Copy)]
struct ListScan<'k> {
    max: usize,
    lists: &'k [&'k str],
    key: Option<&'k str>,
}

impl<'de> de::DeserializeSeed<'de> for ListScan<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

/// A map key, cut to 64 bytes (it is the sender's).
struct ScanKey(String);

impl<'de> Deserialize<'de> for ScanKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ScanKey;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ScanKey, E> {
                Ok(ScanKey(v[..fitting(v, 64)].to_owned()))
            }
        }
        d.deserialize_str(V)
    }
}

impl<'de> Visitor<'de> for ListScan<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(ScanKey(key)) = map.next_key()? {
            map.next_value_seed(ListScan {
                max: self.max,
                lists: self.lists,
                key: Some(&key),
            })?;
        }
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let bounded = self.key.is_some_and(|key| self.lists.contains(&key));
        let mut entries = 0usize;
        while seq.next_element_seed(self)?.is_some() {
            entries += 1;
            if bounded && entries > self.max {
                return Err(de::Error::custom(format_args!(
                    "{}: the list is longer than {} entries",
                    self.key.unwrap_or("a list"),
                    self.max
                )));
            }
        }
        Ok(())
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_i128<E>(self, _: i128) -> Result<(), E> {
        Ok(())
    }
    fn visit_u128<E>(self, _: u128) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_bytes<E>(self, _: &[u8]) -> Result<(), E> {
        Ok(())
    }
    fn visit_none<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

/// Decodes the list of members (accounts...) in field `field`. Its length is bounded before the decode
/// ([`check_lists`], with the bound in force where the decode was started); here each entry is built as
/// it comes, and the list is not grown past what its entries need.
///
/// Anything but a list is refused with a short message (a string is described, not quoted: see
/// [`unexpected_str`]).
pub(crate) fn members<'de, D, T>(field: &'static str, d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    bounded_list(field, false, d)
}

/// [`members`] for a list of objects (seats...): each entry decoded as [`object`] decodes it.
pub(crate) fn object_members<'de, D, T>(field: &'static str, d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    bounded_list(field, true, d)
}

fn bounded_list<'de, D, T>(field: &'static str, objects: bool, d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct V<T> {
        field: &'static str,
        objects: bool,
        item: PhantomData<fn() -> T>,
    }
    impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
        type Value = Vec<T>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "a list ({})", self.field)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            // A hint from the format is trusted only up to 64 KiB of entries.
            let cautious = 64 * 1024 / std::mem::size_of::<T>().max(1);
            let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(cautious));
            loop {
                let item = if self.objects {
                    seq.next_element_seed(Object(PhantomData))?
                } else {
                    seq.next_element()?
                };
                match item {
                    Some(item) => items.push(item),
                    None => return Ok(items),
                }
            }
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Vec<T>, E> {
            Err(E::invalid_type(unexpected_str(v), &self))
        }
    }
    d.deserialize_any(V {
        field,
        objects,
        item: PhantomData,
    })
}

/// `deserialize_with` for a field holding an object (a derived struct such as [`RoomInfo`]): decoded
/// as the struct would be from an object (or, as serde allows for a struct, from a list of its fields
/// in order), and anything else refused with a short message.
///
/// A struct's own `Deserialize` asks the format for a struct, and `serde_json` answers a string there
/// with an error quoting the whole string (`{:?}`, up to 6 bytes for each byte of it: a 1 MiB string
/// of DEL characters made a 6 MiB message, and a peak of 7 times the body). Asking for any value
/// instead lets a string reach [`unexpected_str`].
///
/// [`RoomInfo`]: crate::event::RoomInfo
pub(crate) fn object<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    de::DeserializeSeed::deserialize(Object(PhantomData), d)
}

/// The seed behind [`object`], for the entries of a list too.
struct Object<T>(PhantomData<fn() -> T>);

impl<'de, T: Deserialize<'de>> de::DeserializeSeed<'de> for Object<T> {
    type Value = T;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<T, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for Object<T> {
    type Value = T;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object")
    }
    fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        T::deserialize(de::value::MapAccessDeserializer::new(map))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<T, A::Error> {
        T::deserialize(de::value::SeqAccessDeserializer::new(seq))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        Err(E::invalid_type(unexpected_str(v), &self))
    }
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
                    Err(E::invalid_value(unexpected_str(v), &self))
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

    /// A JSON list of `n` one-character accounts.
    fn list(n: usize) -> String {
        let mut s = String::from("[");
        for i in 0..n {
            if i > 0 {
                s.push(',');
            }
            s.push_str("\"a\"");
        }
        s.push(']');
        s
    }

    #[derive(Debug, Deserialize)]
    struct Listed {
        #[serde(deserialize_with = "listed")]
        l: Vec<AccountId>,
    }

    fn listed<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<AccountId>, D::Error> {
        members("L", d)
    }

    fn decode_list(n: usize) -> Result<usize, String> {
        serde_json::from_str::<Listed>(&format!(r#"{{"l":{}}}"#, list(n)))
            .map(|x| x.l.len())
            .map_err(|e| e.to_string())
    }

    /// What `check_lists` says of `{"l":<n entries>}` under `max`.
    fn scan(n: usize, max: usize) -> Result<(), String> {
        check_lists(format!(r#"{{"l":{}}}"#, list(n)).as_bytes(), max, &["l"])
            .map_err(|r| r.to_string())
    }

    #[test]
    fn lists_are_bounded_before_the_decode() {
        const DEFAULT: usize = crate::config::DEFAULT_MAX_MEMBERS;
        assert_eq!(scan(0, DEFAULT), Ok(()));
        assert_eq!(scan(DEFAULT, DEFAULT), Ok(()));
        let err = scan(DEFAULT + 1, DEFAULT).unwrap_err();
        assert!(
            err.ends_with("l: the list is longer than 10000 entries at line 1 column 40010"),
            "{err}"
        );
        assert_eq!(scan(5, 5), Ok(()));
        assert!(scan(6, 5)
            .unwrap_err()
            .contains("l: the list is longer than 5 entries"));
        assert_eq!(scan(0, 0), Ok(()));
        assert!(scan(1, 0).is_err());
        // At any depth, named by the key it is under, in objects and in lists.
        let nested = format!(r#"{{"a":{{"b":[{{"SeatList":{}}}]}}}}"#, list(4));
        let err = check_lists(nested.as_bytes(), 3, &["SeatList"])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("SeatList: the list is longer than 3 entries"),
            "{err}"
        );
        let inner = format!(r#"{{"x":[[1],{}]}}"#, list(4));
        assert!(check_lists(inner.as_bytes(), 3, &["x"]).is_err());
        // A list under another key is not one the type builds: not bounded.
        assert!(check_lists(nested.as_bytes(), 3, &["MemberList"]).is_ok());
        assert!(check_lists(nested.as_bytes(), 3, &[]).is_ok());
        // A body too short to hold a list past the bound is not even read: not JSON, still Ok here
        // (the decoder says why).
        assert!(check_lists(b"[1,1,1,1", 3, &["l"]).is_ok());
        // A long body that is not JSON is left to the decoder too (past the bound, a list is refused
        // whatever follows it).
        assert!(check_lists(format!("{{\"a\":{}", "x".repeat(100)).as_bytes(), 3, &["a"]).is_ok());
        let unfinished = format!("{{\"l\":[{}", "1,".repeat(100));
        assert!(check_lists(unfinished.as_bytes(), 3, &["l"]).is_err());
        // A long key is cut in the message.
        let long_key = format!(r#"{{"{}":{}}}"#, "k".repeat(1000), list(4));
        let key = "k".repeat(64);
        let err = check_lists(long_key.as_bytes(), 3, &[&key])
            .unwrap_err()
            .to_string();
        assert!(err.len() < 300, "{err}");
        // The decode after it is not bounded: what the scan let through decodes whole.
        assert_eq!(decode_list(DEFAULT + 5), Ok(DEFAULT + 5));
    }

    #[test]
    fn a_member_list_of_another_type_is_refused_briefly() {
        let long = "\u{7f}".repeat(100_000);
        let err = serde_json::from_str::<Listed>(&format!(r#"{{"l":"{long}"}}"#)).unwrap_err();
        let text = err.to_string();
        assert!(text.len() < 200, "{}", text.len());
        assert!(text.contains("a string longer than 64 bytes"), "{text}");
        for bad in [r#"{"l":"a"}"#, r#"{"l":{}}"#, r#"{"l":null}"#, r#"{"l":7}"#] {
            assert!(serde_json::from_str::<Listed>(bad).is_err(), "{bad}");
        }
        // A long string where a number is expected is not quoted whole either.
        let err = serde_json::from_str::<EventTime>(&format!("\"{long}\"")).unwrap_err();
        assert!(err.to_string().len() < 200, "{err}");
        let Err(err) = serde_json::from_str::<FlexBool>(&format!("\"{long}\"")) else {
            panic!("a long string is not a boolean");
        };
        assert!(err.to_string().len() < 200, "{err}");
        assert!(serde_json::from_str::<EventTime>("\"x\"")
            .unwrap_err()
            .to_string()
            .contains("string \"x\""));
    }

    #[test]
    fn objects_are_objects_and_a_long_string_is_not_quoted() {
        use crate::event::{CreateRoom, SeatInfoChanged};
        let long = "\u{7f}".repeat(100_000);
        let bodies = [
            format!(r#"{{"EventTime":1,"RoomInfo":"{long}"}}"#),
            format!(r#"{{"RoomId":"r","EventTime":1,"SeatList":[{{"Index":1}},"{long}"]}}"#),
        ];
        let errors = [
            CreateRoom::from_json(bodies[0].as_bytes()).map(drop),
            SeatInfoChanged::from_json(bodies[1].as_bytes()).map(drop),
        ];
        for err in errors {
            let text = err.unwrap_err().to_string();
            assert!(
                text.contains("invalid type: a string longer than 64 bytes, expected an object"),
                "{text}"
            );
        }
        // An object, or its fields in order as serde allows for a struct; nothing else.
        let e = CreateRoom::from_json(br#"{"EventTime":1,"RoomInfo":{"RoomId":"r"}}"#).unwrap();
        assert_eq!(e.room_info.room_id.as_deref(), Some("r"));
        let e = CreateRoom::from_json(br#"{"EventTime":1,"RoomInfo":["r"]}"#).unwrap();
        assert_eq!(e.room_info.room_id.as_deref(), Some("r"));
        for bad in [
            &br#"{"EventTime":1,"RoomInfo":null}"#[..],
            br#"{"EventTime":1,"RoomInfo":"r"}"#,
            br#"{"EventTime":1,"RoomInfo":7}"#,
            br#"{"EventTime":1}"#,
            br#"{"EventTime":1,"RoomInfo":{"RoomId":5}}"#,
        ] {
            assert!(
                CreateRoom::from_json(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        let missing = CreateRoom::from_json(br#"{"EventTime":1}"#).unwrap_err();
        assert!(
            missing.to_string().contains("missing field `RoomInfo`"),
            "{missing}"
        );
        let seat = SeatInfoChanged::from_json(br#"{"RoomId":"r","EventTime":1,"SeatList":["x"]}"#)
            .unwrap_err();
        assert!(
            seat.to_string()
                .contains(r#"string "x", expected an object"#),
            "{seat}"
        );
    }

    #[test]
    fn capped_text() {
        assert_eq!(capped("short", 10), "short");
        assert_eq!(capped(format_args!("{}{}", "abc", "def"), 4), "abcd");
        // A character is never split.
        assert_eq!(capped("ééé", 5), "éé");
        assert_eq!(capped("", 0), "");
        assert_eq!(Quoted("ab").to_string(), "\"ab\"");
        assert_eq!(Quoted(&"x".repeat(65)).to_string(), "a string of 65 bytes");
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
