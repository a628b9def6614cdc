//! The query Tencent appends to the callback URL: routing, metadata and verification.

use std::borrow::Cow;
use std::net::IpAddr;
use std::time::{Duration, UNIX_EPOCH};

use percent_encoding::percent_decode_str;

use crate::command::{Command, CommandSet};
use crate::config::Config;
use crate::reject::{Rejection, RejectionKind};
use crate::value::{parse_digits, string_enum, UnixSeconds};

string_enum!(
    /// The platform of the client that caused the event (`OptPlatform`), parsed case-insensitively.
    OptPlatform, "platform" {
        /// `RESTAPI`.
        RestApi => ["RESTAPI"],
        /// `Web`.
        Web => ["Web"],
        /// `Android`.
        Android => ["Android"],
        /// `iOS` (also `IOS`, `iOs`).
        Ios => ["iOS"],
        /// `Windows`.
        Windows => ["Windows"],
        /// `Mac` (also `macOS`).
        Mac => ["Mac", "macOS"],
        /// `iPad`.
        IPad => ["iPad"],
        /// `Unknown`: Tencent's own "unknown".
        Unknown => ["Unknown"],
    }
);

/// The `ClientIP` parameter: an IP address when it is one, otherwise the value as sent.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ClientIp {
    /// A valid IPv4 or IPv6 address.
    Ip(IpAddr),
    /// Something else, kept as sent (percent-decoded).
    Other(String),
}

impl ClientIp {
    fn parse(value: &str) -> ClientIp {
        value
            .parse()
            .map(ClientIp::Ip)
            .unwrap_or_else(|_| ClientIp::Other(value.to_owned()))
    }

    /// The address, when the value is one.
    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            ClientIp::Ip(ip) => Some(*ip),
            ClientIp::Other(_) => None,
        }
    }
}

/// What the query says about a verified callback.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CallbackMeta {
    /// `SdkAppid`: the app (one of the configured ones).
    pub sdk_app_id: u64,
    /// `CallbackCommand`.
    pub command: Command,
    /// `ClientIP`, when present and not empty.
    pub client_ip: Option<ClientIp>,
    /// `OptPlatform`, when present and not empty.
    pub platform: Option<OptPlatform>,
    /// `RequestTime` (seconds), when present.
    pub request_time: Option<UnixSeconds>,
}

impl CallbackMeta {
    /// Metadata with only the app and the command, the optional parts `None`: for calling a handler
    /// directly in a unit test.
    pub fn new(sdk_app_id: u64, command: Command) -> Self {
        CallbackMeta {
            sdk_app_id,
            command,
            client_ip: None,
            platform: None,
            request_time: None,
        }
    }
}

/// The rejection of a query that gives `CallbackCommand` twice with different values.
pub(crate) fn conflicting_command() -> Rejection {
    Rejection::with_detail(RejectionKind::ConflictingParameter, "CallbackCommand")
}

/// A parameter the layer reads: `CallbackCommand`, or one of [`PARAMS`] (its index).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Param {
    Command,
    Slot(usize),
}

/// Which parameter a raw query key names once percent-decoded, ignoring ASCII case. No allocation.
fn param(raw: &str) -> Option<Param> {
    fn find(is: impl Fn(&str) -> bool) -> Option<Param> {
        if is("callbackcommand") {
            return Some(Param::Command);
        }
        PARAMS.iter().position(|name| is(name)).map(Param::Slot)
    }
    // Keys come as they are, compared at once (lengths first); only a key with an escape is decoded.
    find(|name| raw.eq_ignore_ascii_case(name)).or_else(|| {
        if !raw.contains('%') {
            return None;
        }
        find(|name| {
            percent_decode_str(raw)
                .map(|b| b.to_ascii_lowercase())
                .eq(name.bytes())
        })
    })
}

/// The raw `key=value` pairs of a query, as `application/x-www-form-urlencoded` splits them (on `&`,
/// empty pairs skipped, a pair without `=` has an empty value), without decoding anything. No
/// allocation.
fn pairs(query: &str) -> impl Iterator<Item = (&str, &str)> {
    let mut rest = query;
    std::iter::from_fn(move || loop {
        if rest.is_empty() {
            return None;
        }
        // Both separators are ASCII: the indices found are char boundaries.
        let end = memchr::memchr(b'&', rest.as_bytes()).unwrap_or(rest.len());
        let pair = &rest[..end];
        rest = rest.get(end + 1..).unwrap_or_default();
        if !pair.is_empty() {
            return Some(match memchr::memchr(b'=', pair.as_bytes()) {
                Some(eq) => (&pair[..eq], &pair[eq + 1..]),
                None => (pair, ""),
            });
        }
    })
}

/// The bytes of a raw query value decoded as `application/x-www-form-urlencoded` does (`+` is a space,
/// then percent-decoding), produced one by one. No allocation.
fn decoded_bytes(raw: &str) -> impl Iterator<Item = u8> + '_ {
    raw.split('+').enumerate().flat_map(|(i, part)| {
        (i > 0)
            .then_some(b' ')
            .into_iter()
            .chain(percent_decode_str(part))
    })
}

/// A raw query value decoded as `application/x-www-form-urlencoded` does (`+` is a space, then
/// percent-decoding, invalid UTF-8 replaced); borrowed when there is nothing to decode.
fn decode_value(raw: &str) -> Cow<'_, str> {
    if !raw.bytes().any(|b| b == b'%' || b == b'+') {
        return Cow::Borrowed(raw);
    }
    let bytes: Vec<u8> = decoded_bytes(raw).collect();
    Cow::Owned(String::from_utf8_lossy(&bytes).into_owned())
}

/// How a layer should treat a request, from its query alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Routing {
    /// Not for this layer: pass it on untouched.
    Pass,
    /// A callback for `Command`, which this layer handles.
    Handle(Command),
    /// `CallbackCommand` given more than once with different values, one of them handled here.
    Conflict,
}

/// Whether a raw query may name a command at all: every command's wire name has a `.` (`Room.…`,
/// `Mic.…`), so a query with neither `.` nor `%` names none. One vectorised look, for the requests a
/// layer passes through without scanning their query.
#[inline]
pub(crate) fn may_name_a_command(query: Option<&str>) -> bool {
    query.is_some_and(|q| memchr::memchr2(b'.', b'%', q.as_bytes()).is_some())
}

/// The parameters [`verify`] reads, in the order of [`Scan`]'s slots.
const PARAMS: [&str; 5] = ["sdkappid", "sign", "requesttime", "clientip", "optplatform"];

/// What one pass over a raw query finds: the commands `CallbackCommand` names, for [`Scan::route`],
/// and the raw values of the parameters [`verify`] reads. Nothing is decoded, nothing allocated.
///
/// Parameter names match case-insensitively and percent-decoded; values are decoded when read.
pub(crate) struct Scan<'a> {
    /// Every command named.
    named: CommandSet,
    /// The first command named.
    first: Option<Command>,
    /// Whether `CallbackCommand` came with another value than the first (or an unknown one).
    mixed: bool,
    slots: [Slot<'a>; PARAMS.len()],
}

impl<'a> Scan<'a> {
    pub(crate) fn new(query: Option<&'a str>) -> Scan<'a> {
        let mut scan = Scan {
            named: CommandSet::EMPTY,
            first: None,
            mixed: false,
            slots: [const { Slot::Absent }; PARAMS.len()],
        };
        for (key, value) in pairs(query.unwrap_or_default()) {
            match param(key) {
                Some(Param::Command) => match Command::from_raw_query_value(value) {
                    Some(c) => {
                        scan.named = scan.named.with(c);
                        scan.mixed |= scan.first.is_some_and(|f| f != c);
                        scan.first.get_or_insert(c);
                    }
                    None => scan.mixed = true,
                },
                Some(Param::Slot(i)) => scan.slots[i].put(value),
                None => {}
            }
        }
        scan
    }

    /// How a layer handling the `handled` commands treats the request.
    pub(crate) fn route(&self, handled: CommandSet) -> Routing {
        match self.first {
            Some(c) if !self.mixed && handled.contains(c) => Routing::Handle(c),
            _ if self.named.iter().any(|c| handled.contains(c)) => Routing::Conflict,
            _ => Routing::Pass,
        }
    }
}

/// One parameter's raw value: absent, one value, or conflicting values.
enum Slot<'a> {
    Absent,
    One(&'a str),
    Conflict,
}

impl<'a> Slot<'a> {
    fn put(&mut self, value: &'a str) {
        *self = match *self {
            Slot::Absent => Slot::One(value),
            // Values that differ only in their encoding are the same value. Compared byte by byte as
            // they decode: a passed-through request with repeated parameters allocates nothing either.
            Slot::One(prev) if prev == value || decoded_bytes(prev).eq(decoded_bytes(value)) => {
                Slot::One(prev)
            }
            Slot::One(_) | Slot::Conflict => Slot::Conflict,
        }
    }

    /// The decoded value, `None` when absent or empty; a rejection when conflicting.
    fn get(self, name: &str) -> Result<Option<Cow<'a, str>>, Rejection> {
        match self {
            Slot::Absent => Ok(None),
            Slot::One("") => Ok(None),
            Slot::One(v) => Ok(Some(decode_value(v))),
            Slot::Conflict => Err(Rejection::with_detail(
                RejectionKind::ConflictingParameter,
                name,
            )),
        }
    }
}

/// Checks the query of a callback for `command` against `config`, and returns its metadata.
///
/// In order: `SdkAppid` (present, decimal, not conflicting, one of the configured apps), conflicts in
/// the other parameters read, then with a token configured `RequestTime` (decimal, inside the window)
/// and `Sign`.
pub(crate) fn verify(
    config: &Config,
    command: Command,
    scan: Scan<'_>,
) -> Result<CallbackMeta, Rejection> {
    let [app, sign, time, ip, platform] = scan.slots;

    let app = app
        .get("SdkAppid")?
        .ok_or(Rejection::new(RejectionKind::MissingSdkAppId))?;
    let sdk_app_id = parse_digits(&app).ok_or_else(|| {
        Rejection::with_detail(
            RejectionKind::MalformedSdkAppId,
            format_args!("{:?}", &*app),
        )
    })?;
    if !config.app_ids.contains(&sdk_app_id) {
        return Err(Rejection::with_detail(
            RejectionKind::UnknownSdkAppId,
            format_args!("{sdk_app_id}"),
        ));
    }
    let sign = sign.get("Sign")?;
    let time = time.get("RequestTime")?;
    let client_ip = ip.get("ClientIP")?.map(|v| ClientIp::parse(&v));
    let platform = platform.get("OptPlatform")?.map(|v| OptPlatform::parse(&v));

    let request_time = if config.tokens.is_empty() {
        // Nothing to verify against: RequestTime is informational (and ignored when malformed).
        time.as_deref()
            .and_then(parse_digits)
            .map(UnixSeconds::from_secs)
    } else {
        let (Some(sign), Some(time)) = (sign, time) else {
            return Err(Rejection::new(RejectionKind::MissingSignature));
        };
        let secs =
            parse_digits(&time).ok_or(Rejection::new(RejectionKind::MalformedRequestTime))?;
        check_window(config, secs)?;
        if !crate::sign::verify(&config.tokens, &time, &sign) {
            return Err(Rejection::new(RejectionKind::BadSignature));
        }
        Some(UnixSeconds::from_secs(secs))
    };

    Ok(CallbackMeta {
        sdk_app_id,
        command,
        client_ip,
        platform,
        request_time,
    })
}

/// `RequestTime` must be within the window of now, either direction; the edges are allowed.
fn check_window(config: &Config, secs: u64) -> Result<(), Rejection> {
    let now = config
        .now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs();
    if now.abs_diff(secs) > config.window.as_secs() {
        return Err(Rejection::with_detail(
            RejectionKind::StaleRequestTime,
            format_args!(
                "{secs} is {} s from this receiver's clock (window {} s)",
                now.abs_diff(secs),
                config.window.as_secs()
            ),
        ));
    }
    Ok(())
}

/// Verifies and decodes a callback without HTTP: the query string (without `?`) and the body bytes.
///
/// Checks what the layer checks on the query (the command, `SdkAppid`, and with a token `Sign` and
/// `RequestTime`), then decodes the body as `E`. The method and body-size checks belong to the transport
/// and are the layer's.
///
/// ```
/// use tencent_room_callback::{decode, Config, MemberLeave};
///
/// let config = Config::new(1400000000);
/// let query = "SdkAppid=1400000000&CallbackCommand=Room.CallbackAfterMemberLeave&contenttype=json";
/// let body = br#"{"RoomId":"rid-123","MemberList_Account":["user1"],"EventTime":1670574414123}"#;
/// let (event, meta) = decode::<MemberLeave>(&config, query, body)?;
/// assert_eq!(event.room_id, "rid-123");
/// assert_eq!(meta.sdk_app_id, 1400000000);
/// # Ok::<(), tencent_room_callback::Rejection>(())
/// ```
///
/// # Errors
/// The [`Rejection`] the layer would answer with.
pub fn decode<E: crate::Event>(
    config: &Config,
    query: &str,
    body: &[u8],
) -> Result<(E, CallbackMeta), Rejection> {
    let meta = verify_for(config, CommandSet::from(E::COMMAND), query)?;
    Ok((E::from_json(body)?, meta))
}

/// Like [`decode`] for any Room command: the query's command picks the event type.
///
/// # Errors
/// The [`Rejection`] the layer would answer with.
pub fn decode_any(
    config: &Config,
    query: &str,
    body: &[u8],
) -> Result<(crate::RoomEvent, CallbackMeta), Rejection> {
    let meta = verify_for(config, CommandSet::ALL, query)?;
    Ok((crate::RoomEvent::from_json(meta.command, body)?, meta))
}

fn verify_for(
    config: &Config,
    handled: CommandSet,
    query: &str,
) -> Result<CallbackMeta, Rejection> {
    let scan = Scan::new(Some(query));
    match scan.route(handled) {
        Routing::Handle(command) => verify(config, command, scan),
        Routing::Conflict => Err(conflicting_command()),
        Routing::Pass => Err(Rejection::new(RejectionKind::UnknownCommand)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEAVE: CommandSet = CommandSet::EMPTY.with(Command::MemberLeave);

    fn route(query: Option<&str>, handled: CommandSet) -> Routing {
        Scan::new(query).route(handled)
    }

    fn verify(config: &Config, command: Command, query: &str) -> Result<CallbackMeta, Rejection> {
        super::verify(config, command, Scan::new(Some(query)))
    }

    fn at(secs: u64) -> Config {
        Config::new(1400000000)
            .token("xxxxyyyy")
            .unwrap()
            .clock(move || UNIX_EPOCH + Duration::from_secs(secs))
    }

    #[test]
    fn routing() {
        use Routing::*;
        let cases = [
            (None, Pass),
            (Some(""), Pass),
            (Some("a=b"), Pass),
            (Some("CallbackCommand=Room.CallbackAfterMemberLeave"), Handle(Command::MemberLeave)),
            (Some("callbackcommand=Room.CallbackAfterMemberLeave"), Handle(Command::MemberLeave)),
            (Some("CALLBACKCOMMAND=Room%2ECallbackAfterMemberLeave"), Handle(Command::MemberLeave)),
            (Some("Callback%43ommand=Room.CallbackAfterMemberLeave"), Handle(Command::MemberLeave)),
            (Some("CallbackCommand=Room.CallbackAfterMemberEnter"), Pass),
            (Some("CallbackCommand=room.callbackaftermemberleave"), Pass),
            (Some("CallbackCommand=Room.CallbackAfterMemberLeave&CallbackCommand=Room.CallbackAfterMemberLeave"), Handle(Command::MemberLeave)),
            (Some("CallbackCommand=Room.CallbackAfterMemberLeave&CallbackCommand=Room.CallbackAfterMemberEnter"), Conflict),
            (Some("CallbackCommand=Room.CallbackAfterMemberLeave&CallbackCommand="), Conflict),
            (Some("CallbackCommand=Other&CallbackCommand=Room.CallbackAfterMemberLeave"), Conflict),
            (Some("CallbackCommand=Room.CallbackAfterMemberEnter&CallbackCommand=Other"), Pass),
            (Some("CallbackCommand%=Room.CallbackAfterMemberLeave"), Pass),
            (Some("CallbackCommandX=Room.CallbackAfterMemberLeave"), Pass),
        ];
        for (q, want) in cases {
            assert_eq!(route(q, LEAVE), want, "{q:?}");
        }
    }

    #[test]
    fn names_match_ignoring_case_and_escapes() {
        assert_eq!(param("SdkAppid"), Some(Param::Slot(0)));
        assert_eq!(param("SDKAPPID"), Some(Param::Slot(0)));
        assert_eq!(param("Sdk%41ppid"), Some(Param::Slot(0)));
        assert_eq!(param("%53ign"), Some(Param::Slot(1)));
        assert_eq!(param("callback%43ommand"), Some(Param::Command));
        assert_eq!(param("Sdk%4ppid"), None);
        assert_eq!(param("SdkAppid%"), None);
        assert_eq!(param("contenttype"), None);
        assert_eq!(param(""), None);
    }

    #[test]
    fn every_command_name_has_a_dot() {
        // The layer passes a query with neither `.` nor `%` through unscanned: it cannot name one.
        for c in Command::ALL {
            for name in c.names() {
                assert!(name.contains('.'), "{name}");
                assert!(may_name_a_command(Some(&format!("CallbackCommand={name}"))));
            }
        }
        assert!(may_name_a_command(Some(
            "CallbackCommand=Room%2ECallbackAfterMemberLeave"
        )));
        assert!(!may_name_a_command(Some("page=2&sort=name")));
        assert!(!may_name_a_command(Some("")));
        assert!(!may_name_a_command(None));
    }

    #[test]
    fn pairs_split_and_decode_as_form_urlencoded_does() {
        let queries = [
            "",
            "&",
            "a",
            "a=",
            "=b",
            "a=b=c&&d&e=%41%zz+f&g=%E4%BD%A0&h=%FF&=&x=1+2%2B3",
            "&&SdkAppid=1&",
            "k=v&k=w",
            "é=ü&ü",
        ];
        for q in queries {
            let ours: Vec<(String, String)> = pairs(q)
                .map(|(k, v)| (decode_value(k).into_owned(), decode_value(v).into_owned()))
                .collect();
            let theirs: Vec<(String, String)> = form_urlencoded::parse(q.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            assert_eq!(ours, theirs, "{q:?}");
        }
        assert!(matches!(decode_value("1400000000"), Cow::Borrowed(_)));
    }

    #[test]
    fn metadata() {
        let c = Config::new(1400000000);
        let m = verify(
            &c,
            Command::MemberLeave,
            "sdkappid=1400000000&ClientIP=10.0.0.1&OptPlatform=IOS&contenttype=json",
        )
        .unwrap();
        assert_eq!(m.sdk_app_id, 1400000000);
        assert_eq!(m.client_ip, Some(ClientIp::Ip("10.0.0.1".parse().unwrap())));
        assert_eq!(m.platform, Some(OptPlatform::Ios));
        let m = verify(
            &c,
            Command::MemberLeave,
            "SdkAppId=1400000000&ClientIP=%3A%3A1&OptPlatform=macOS",
        )
        .unwrap();
        assert_eq!(m.client_ip.unwrap().ip(), Some("::1".parse().unwrap()));
        assert_eq!(m.platform, Some(OptPlatform::Mac));
        let m = verify(
            &c,
            Command::MemberLeave,
            "SdkAppid=1400000000&ClientIP=unknown&OptPlatform=Quest&RequestTime=5",
        )
        .unwrap();
        assert_eq!(m.client_ip, Some(ClientIp::Other("unknown".into())));
        assert_eq!(m.platform, Some(OptPlatform::Other("Quest".into())));
        assert_eq!(m.request_time, Some(UnixSeconds::from_secs(5)));
        let m = verify(
            &c,
            Command::MemberLeave,
            "SdkAppid=1400000000&ClientIP=&OptPlatform=",
        )
        .unwrap();
        assert_eq!((m.client_ip, m.platform), (None, None));
        for p in ["iOs", "ios", "MAC", "restapi", "IPAD"] {
            assert!(
                !matches!(OptPlatform::parse(p), OptPlatform::Other(_)),
                "{p}"
            );
        }
    }

    #[test]
    fn app_id_rules() {
        let c = Config::new(1400000000).app_id(1400000001);
        let kind = |q: &str| {
            verify(&c, Command::MemberLeave, q)
                .map(|m| m.sdk_app_id)
                .map_err(|r| r.kind())
        };
        assert_eq!(kind("SdkAppid=1400000001"), Ok(1400000001));
        assert_eq!(
            kind("SdkAppid=1400000000&SDKAPPID=1400000000"),
            Ok(1400000000)
        );
        assert_eq!(kind(""), Err(RejectionKind::MissingSdkAppId));
        assert_eq!(kind("SdkAppid="), Err(RejectionKind::MissingSdkAppId));
        assert_eq!(kind("SdkAppid=abc"), Err(RejectionKind::MalformedSdkAppId));
        assert_eq!(
            kind("SdkAppid=+1400000000"),
            Err(RejectionKind::MalformedSdkAppId)
        );
        assert_eq!(
            kind("SdkAppid=1400000000%00"),
            Err(RejectionKind::MalformedSdkAppId)
        );
        assert_eq!(
            kind("SdkAppid=99999999999999999999999"),
            Err(RejectionKind::MalformedSdkAppId)
        );
        assert_eq!(
            kind("SdkAppid=1400000002"),
            Err(RejectionKind::UnknownSdkAppId)
        );
        assert_eq!(
            kind("SdkAppid=1400000000&sdkappid=1400000001"),
            Err(RejectionKind::ConflictingParameter)
        );
        assert_eq!(
            kind("SdkAppid=1400000000&ClientIP=a&ClientIP=b"),
            Err(RejectionKind::ConflictingParameter)
        );
    }

    #[test]
    fn signature_rules() {
        const SIGN: &str = "17773bc39a671d7b9aa835458704d2a6db81360a5940292b587d6d760d484061";
        let q = |t: &str, s: &str| format!("SdkAppid=1400000000&RequestTime={t}&Sign={s}");
        let kind = |c: &Config, q: &str| {
            verify(c, Command::MemberLeave, q)
                .map(|_| ())
                .map_err(|r| r.kind())
        };
        let c = at(1669872112);
        assert_eq!(kind(&c, &q("1669872112", SIGN)), Ok(()));
        assert_eq!(
            kind(&c, "SdkAppid=1400000000"),
            Err(RejectionKind::MissingSignature)
        );
        assert_eq!(
            kind(&c, &format!("SdkAppid=1400000000&Sign={SIGN}")),
            Err(RejectionKind::MissingSignature)
        );
        assert_eq!(
            kind(&c, "SdkAppid=1400000000&RequestTime=1669872112"),
            Err(RejectionKind::MissingSignature)
        );
        assert_eq!(
            kind(&c, &q("1669872112", &SIGN.to_uppercase())),
            Err(RejectionKind::BadSignature)
        );
        assert_eq!(
            kind(&c, &q("1669872112", &SIGN[1..])),
            Err(RejectionKind::BadSignature)
        );
        assert_eq!(
            kind(&c, &q("-1669872112", SIGN)),
            Err(RejectionKind::MalformedRequestTime)
        );
        assert_eq!(
            kind(&c, &q("1669872112.0", SIGN)),
            Err(RejectionKind::MalformedRequestTime)
        );
        assert_eq!(
            kind(&c, &q("99999999999999999999999", SIGN)),
            Err(RejectionKind::MalformedRequestTime)
        );
        // The window's edges are inside; one second past either is out.
        assert_eq!(kind(&at(1669872112 + 60), &q("1669872112", SIGN)), Ok(()));
        assert_eq!(kind(&at(1669872112 - 60), &q("1669872112", SIGN)), Ok(()));
        assert_eq!(
            kind(&at(1669872112 + 61), &q("1669872112", SIGN)),
            Err(RejectionKind::StaleRequestTime)
        );
        assert_eq!(
            kind(&at(1669872112 - 61), &q("1669872112", SIGN)),
            Err(RejectionKind::StaleRequestTime)
        );
        assert_eq!(
            kind(&c, &q("0", SIGN)),
            Err(RejectionKind::StaleRequestTime)
        );
        assert_eq!(
            kind(&c, &q("18446744073709551615", SIGN)),
            Err(RejectionKind::StaleRequestTime)
        );
        // Without a token, Sign is not checked.
        let open = Config::new(1400000000);
        assert_eq!(kind(&open, &q("1", "nonsense")), Ok(()));
        // A rejection never carries the expected signature or the token.
        let r = verify(&c, Command::MemberLeave, &q("1669872112", &"0".repeat(64))).unwrap_err();
        let text = format!("{r} {r:?} {}", String::from_utf8_lossy(&r.ack().to_bytes()));
        assert!(!text.contains(SIGN) && !text.contains("xxxxyyyy"), "{text}");
    }

    #[test]
    fn sans_io_decode() {
        let c = Config::new(1400000000);
        let body = br#"{"RoomId":"r","MemberList_Account":["a"],"EventTime":1}"#;
        let q = "SdkAppid=1400000000&CallbackCommand=Room.CallbackAfterMemberLeave";
        let (e, m) = decode::<crate::MemberLeave>(&c, q, body).unwrap();
        assert_eq!((e.room_id.as_str(), m.command), ("r", Command::MemberLeave));
        let err = decode::<crate::MemberEnter>(&c, q, body).unwrap_err();
        assert_eq!(err.kind(), RejectionKind::UnknownCommand);
        let (any, _) = decode_any(&c, q, body).unwrap();
        assert_eq!(any.command(), Command::MemberLeave);
        assert_eq!(
            decode_any(&c, "SdkAppid=1400000000", body)
                .unwrap_err()
                .kind(),
            RejectionKind::UnknownCommand
        );
    }
}
