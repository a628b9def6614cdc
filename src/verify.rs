//! Verification of a callback's query against a [`Config`]: the app, the time window and the signature.

use std::time::{Duration, UNIX_EPOCH};

use crate::command::Command;
use crate::config::Config;
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
/// In order: `SdkAppid` (present, decimal, not conflicting, one of the configured apps), conflicts in
/// the other parameters read, then with a token configured `RequestTime` (decimal, inside the window)
/// and `Sign`.
pub(crate) fn verify(
    config: &Config,
    command: Command,
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
