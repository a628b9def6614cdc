//! Verification of a callback's query against a [`Config`]: the app, the time window and the signature.

use std::time::{Duration, UNIX_EPOCH};

use crate::command::CallbackCommand;
use crate::config::{Config, SignPolicy, Token};
use crate::meta::{CallbackMeta, ClientIp, OptPlatform};
use crate::query::Scan;
use crate::reject::{Rejection, RejectionKind};
use crate::value::{parse_digits, UnixSeconds};

/// The rejection of a query that gives `CallbackCommand` twice with different values.
pub(crate) fn conflicting_command() -> Rejection {
    Rejection::with_detail(RejectionKind::ConflictingParameter, "CallbackCommand")
}

/// Checks the query of a callback for `command` against `config`, and returns its metadata.
///
/// In order: `SdkAppid` (present, decimal, not conflicting; with no token configured anywhere, one of
/// the configured apps), conflicts in the other parameters read, then the app and the signature. A configured app's callback is checked as its [`SignPolicy`] says,
/// against its token set: `RequestTime` (decimal, inside the window) and `Sign`. An app that is not
/// configured is refused: with 403 when no token is configured anywhere (there is no secret to keep);
/// otherwise exactly as a configured app's unsigned or wrongly signed callback would be (401, its
/// `ErrorCode`), so that answers do not tell which apps a receiver serves; the precise reason goes to
/// the trace only.
pub(crate) fn verify(
    config: &Config,
    command: &CallbackCommand,
    scan: Scan<'_>,
) -> Result<CallbackMeta, Rejection> {
    let crate::query::Params {
        app,
        sign,
        time,
        ip,
        platform,
    } = scan.params();

    let app = app
        .get("SdkAppid")?
        .ok_or(Rejection::new(RejectionKind::MissingSdkAppId))?;
    let sdk_app_id = parse_digits(&app).ok_or_else(|| {
        Rejection::with_detail(
            RejectionKind::MalformedSdkAppId,
            format_args!("{:?}", &*app),
        )
    })?;
    // The apps and their tokens, as they are now: one snapshot for the whole check.
    let table = config.snapshot();
    let known = table.knows(sdk_app_id);
    if !known && !table.sets.any() {
        // No token anywhere: nothing to keep secret, and the app is the first thing wrong.
        return Err(Rejection::with_detail(
            RejectionKind::UnknownSdkAppId,
            format_args!("{sdk_app_id}"),
        ));
    }
    let sign = sign.get("Sign")?;
    let time = time.get("RequestTime")?;
    let client_ip = ip.get("ClientIP")?.map(|v| ClientIp::parse(&v));
    let platform = platform.get("OptPlatform")?.map(|v| OptPlatform::parse(&v));

    if !known {
        let unknown = format_args!("SdkAppid {sdk_app_id} is not an app of this receiver");
        // With tokens configured (see above): checked as a configured app's callback whose token set nobody knows: it fails where a
        // configured app's unsigned or wrongly signed callback fails, with the same answer.
        let rejection = match signed(config, &[], sign.as_deref(), time.as_deref()) {
            Err(rejection) => rejection,
            Ok(_) => Rejection::new(RejectionKind::BadSignature),
        };
        return Err(rejection.noted(unknown));
    }

    let auth = config.auth(&table, sdk_app_id, command.as_str());
    let informational = || {
        // Not verified: RequestTime is informational (and ignored when malformed).
        time.as_deref()
            .and_then(parse_digits)
            .map(UnixSeconds::from_secs)
    };
    let request_time = match auth.policy {
        SignPolicy::Off => informational(),
        SignPolicy::Optional if sign.is_none() => informational(),
        _ => Some(signed(
            config,
            auth.tokens,
            sign.as_deref(),
            time.as_deref(),
        )?),
    };

    Ok(CallbackMeta {
        sdk_app_id,
        command: command.clone(),
        client_ip,
        platform,
        request_time,
    })
}

/// Checks `Sign` and `RequestTime` against `tokens`: both present, the time decimal and inside the
/// window, the signature one of the tokens' (in constant time; an empty set matches nothing but is
/// compared as long as a set of one).
fn signed(
    config: &Config,
    tokens: &[Token],
    sign: Option<&str>,
    time: Option<&str>,
) -> Result<UnixSeconds, Rejection> {
    let (Some(sign), Some(time)) = (sign, time) else {
        return Err(Rejection::new(RejectionKind::MissingSignature));
    };
    let secs = parse_digits(time).ok_or(Rejection::new(RejectionKind::MalformedRequestTime))?;
    check_window(config, secs)?;
    if !crate::sign::verify(tokens, time, sign) {
        return Err(Rejection::new(RejectionKind::BadSignature));
    }
    Ok(UnixSeconds::from_secs(secs))
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

#[cfg(test)]
mod tests {
    use super::*;

    use crate::command::Command;

    fn verify(config: &Config, command: Command, query: &str) -> Result<CallbackMeta, Rejection> {
        super::verify(config, &command.into(), Scan::new(Some(query)))
    }

    fn at(secs: u64) -> Config {
        Config::new(1400000000)
            .token("xxxxyyyy")
            .unwrap()
            .clock(move || UNIX_EPOCH + Duration::from_secs(secs))
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

    /// `Sign` for `token` at the fixed time the tests' clock reads.
    fn signed_query(app: u64, token: &str) -> String {
        let time = "1669872112";
        format!(
            "SdkAppid={app}&RequestTime={time}&Sign={}",
            crate::sign::signature(token, time)
        )
    }

    fn kind(c: &Config, command: &str, q: &str) -> Result<(), RejectionKind> {
        super::verify(c, &CallbackCommand::new(command), Scan::new(Some(q)))
            .map(|_| ())
            .map_err(|r| r.kind())
    }

    const LEAVE: &str = "Room.CallbackAfterMemberLeave";
    const C2C: &str = "C2C.CallbackBeforeSendMsg";

    #[test]
    fn each_app_is_checked_against_its_own_tokens() {
        let c = Config::new(1)
            .app_token(1, "token-of-one")
            .unwrap()
            .app_token(2, "token-of-two")
            .unwrap()
            .clock(|| UNIX_EPOCH + Duration::from_secs(1669872112));
        assert_eq!(kind(&c, LEAVE, &signed_query(1, "token-of-one")), Ok(()));
        assert_eq!(kind(&c, LEAVE, &signed_query(2, "token-of-two")), Ok(()));
        // App one's token never validates app two's callbacks, nor the other way round.
        assert_eq!(
            kind(&c, LEAVE, &signed_query(2, "token-of-one")),
            Err(RejectionKind::BadSignature)
        );
        assert_eq!(
            kind(&c, C2C, &signed_query(1, "token-of-two")),
            Err(RejectionKind::BadSignature)
        );
        // Any command, not only Room's.
        assert_eq!(
            kind(&c, C2C, "SdkAppid=1"),
            Err(RejectionKind::MissingSignature)
        );
        // Rotation: the new set applies to the next callback.
        c.tokens().set_app(2, ["rotated"]).unwrap();
        assert_eq!(
            kind(&c, LEAVE, &signed_query(2, "token-of-two")),
            Err(RejectionKind::BadSignature)
        );
        assert_eq!(kind(&c, LEAVE, &signed_query(2, "rotated")), Ok(()));
    }

    #[test]
    fn unknown_apps_are_answered_like_bad_signatures() {
        let c = at(1669872112).app_id(1400000001);
        for (query_of, unknown) in [(1400000000, 1400000009), (1400000001, 99)] {
            let cases = [
                String::new(),
                "&RequestTime=1669872112".to_string(),
                "&RequestTime=x&Sign=00".to_string(),
                format!("&RequestTime=1&Sign={}", "0".repeat(64)),
                format!("&RequestTime=1669872112&Sign={}", "0".repeat(64)),
                format!(
                    "&RequestTime=1669872112&Sign={}",
                    crate::sign::signature("wrong", "1669872112")
                ),
            ];
            for rest in &cases {
                let known = kind(&c, LEAVE, &format!("SdkAppid={query_of}{rest}"));
                let stranger = super::verify(
                    &c,
                    &CallbackCommand::new(LEAVE),
                    Scan::new(Some(&format!("SdkAppid={unknown}{rest}"))),
                )
                .unwrap_err();
                assert!(known.is_err(), "{rest}");
                assert_eq!(Err(stranger.kind()), known, "{rest}");
                // The answer never says why; the trace does.
                let answer = String::from_utf8_lossy(&stranger.ack().to_bytes()).into_owned();
                assert!(!answer.contains(&unknown.to_string()), "{answer}");
                assert!(stranger
                    .note()
                    .unwrap()
                    .contains("not an app of this receiver"));
            }
            // Even the default token does not open an unknown app.
            assert_eq!(
                kind(&c, LEAVE, &signed_query(unknown, "xxxxyyyy")),
                Err(RejectionKind::BadSignature)
            );
        }
        // Without any token there is nothing to hide: 403.
        assert_eq!(
            kind(&Config::new(1), LEAVE, "SdkAppid=2"),
            Err(RejectionKind::UnknownSdkAppId)
        );
    }

    #[test]
    fn the_policy_decides_whether_sign_is_checked() {
        let c = at(1669872112)
            .command_sign_policy("Room.", crate::config::SignPolicy::Optional)
            .command_sign_policy("State.", crate::config::SignPolicy::Off);
        // Optional: accepted unsigned, verified when signed.
        assert_eq!(kind(&c, LEAVE, "SdkAppid=1400000000"), Ok(()));
        assert_eq!(
            kind(
                &c,
                LEAVE,
                &format!(
                    "SdkAppid=1400000000&RequestTime=1669872112&Sign={}",
                    "0".repeat(64)
                )
            ),
            Err(RejectionKind::BadSignature)
        );
        assert_eq!(
            kind(&c, LEAVE, &signed_query(1400000000, "xxxxyyyy")),
            Ok(())
        );
        // Off: not even a wrong Sign is looked at.
        assert_eq!(
            kind(
                &c,
                "State.StateChange",
                &format!("SdkAppid=1400000000&Sign={}", "0".repeat(64))
            ),
            Ok(())
        );
        // Required (a token, no policy for the prefix).
        assert_eq!(
            kind(&c, C2C, "SdkAppid=1400000000"),
            Err(RejectionKind::MissingSignature)
        );
        // Required without any token: nothing can sign, nothing passes.
        let closed = Config::new(5).sign_policy(crate::config::SignPolicy::Required);
        assert_eq!(
            kind(&closed, C2C, "SdkAppid=5"),
            Err(RejectionKind::MissingSignature)
        );
    }
}
