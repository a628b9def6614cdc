//! Secrets: the callback token (and any valid signature, a credential replayable inside the window)
//! never appear in `Debug` or `Display` output, in rejections, in answers, or in tracing output; an
//! empty token is refused at construction; a `Sign` of the wrong length or case is refused.

use std::convert::Infallible;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use tencent_room_callback::config::ConfigError;
use tencent_room_callback::testing::signature;
use tencent_room_callback::{
    Ack, CallbackLayer, CallbackMeta, Config, HandlerError, MemberLeave, Rejection, RejectionKind,
};
use tower::{Layer, ServiceExt};

const APP: u64 = 1400000000;
const TOKEN: &str = "S3cr3t-Callback-T0ken";
const OLD_TOKEN: &str = "0ld-R0tated-T0ken";
const NOW: u64 = 1_700_000_000;
const CMD: &str = "Room.CallbackAfterMemberLeave";
const BODY: &str =
    r#"{"RoomId":"rid-123","MemberList_Account":["user1"],"EventTime":1670574414123}"#;

fn config() -> Config {
    Config::new(APP)
        .token(TOKEN)
        .unwrap()
        .token(OLD_TOKEN)
        .unwrap()
        .clock(|| UNIX_EPOCH + Duration::from_secs(NOW))
}

/// Every form in which a secret could leak: the tokens, their hex, and the valid signatures around
/// now (what an attacker could replay).
fn secrets() -> Vec<String> {
    let mut s = Vec::new();
    for t in [TOKEN, OLD_TOKEN] {
        s.push(t.to_owned());
        s.push(t.to_lowercase());
        s.push(t.bytes().map(|b| format!("{b:02x}")).collect());
        for time in NOW - 100..=NOW + 100 {
            s.push(signature(t, &time.to_string()));
        }
    }
    s
}

#[track_caller]
fn assert_clean(what: &str, text: &str) {
    for secret in secrets() {
        assert!(
            !text.contains(&secret),
            "{what} leaks a secret ({secret}): {text}"
        );
    }
}

fn q(time: &str, sign: &str) -> String {
    format!("SdkAppid={APP}&CallbackCommand={CMD}&RequestTime={time}&Sign={sign}")
}

/// Queries refused for every reason the query can give, each with a signature that is valid for
/// some token and time (so that an echo would be caught).
fn bad_queries() -> Vec<(String, RejectionKind)> {
    let now = NOW.to_string();
    let good = signature(TOKEN, &now);
    vec![
        (
            q(&now, &signature(TOKEN, &(NOW + 1).to_string())),
            RejectionKind::BadSignature,
        ),
        (q(&now, &good[..63]), RejectionKind::BadSignature),
        (q(&now, &format!("{good}0")), RejectionKind::BadSignature),
        (q(&now, &good.to_uppercase()), RejectionKind::BadSignature),
        (q(&now, &good[..32]), RejectionKind::BadSignature),
        (
            q(&now, &signature(&TOKEN[1..], &now)),
            RejectionKind::BadSignature,
        ),
        (
            q(
                &(NOW + 61).to_string(),
                &signature(TOKEN, &(NOW + 61).to_string()),
            ),
            RejectionKind::StaleRequestTime,
        ),
        (
            q(
                &(NOW - 61).to_string(),
                &signature(TOKEN, &(NOW - 61).to_string()),
            ),
            RejectionKind::StaleRequestTime,
        ),
        (q("x", &good), RejectionKind::MalformedRequestTime),
        (
            format!("SdkAppid={APP}&CallbackCommand={CMD}&RequestTime={now}"),
            RejectionKind::MissingSignature,
        ),
        (
            format!("{}&Sign={}", q(&now, &good), signature(OLD_TOKEN, &now)),
            RejectionKind::ConflictingParameter,
        ),
        // An app this receiver does not serve: answered as a served app's unsigned or wrongly signed
        // callback is (a valid signature for a token of this receiver included), never "unknown app".
        (
            format!("SdkAppid=1400000001&CallbackCommand={CMD}&RequestTime={now}&Sign={good}"),
            RejectionKind::BadSignature,
        ),
        (
            format!("SdkAppid=1400000001&CallbackCommand={CMD}&RequestTime={now}"),
            RejectionKind::MissingSignature,
        ),
    ]
}

#[test]
fn empty_token_is_refused_at_construction() {
    assert_eq!(
        Config::new(APP).token("").unwrap_err(),
        ConfigError::EmptyToken
    );
    // `Token` is no longer public: the same refusal, through the one public way to make a token.
    assert_eq!(
        Config::new(APP)
            .token(TOKEN)
            .unwrap()
            .token("")
            .unwrap_err(),
        ConfigError::EmptyToken
    );
    let text = ConfigError::EmptyToken.to_string();
    assert!(text.contains("empty"), "{text}");
    // A refused token leaves no authentication half-configured: the result is an error, not a config.
    assert!(Config::new(APP).token(TOKEN).unwrap().token("").is_err());
}

#[test]
fn debug_of_config_token_layer_and_service_shows_no_token() {
    let config = config();
    assert_clean("Config Debug", &format!("{config:?} {config:#?}"));
    // The configuration shows how many tokens each set holds, never a token.
    let text = format!("{config:?}");
    assert!(
        text.contains("tokens: TokenSets { default: 2 tokens, apps: {} }"),
        "{text}"
    );
    // An app's own set, and a rotation through the handle: counts only.
    // (A configuration of its own: clones share their token sets, builder calls included.)
    let with_app = self::config().app_token(1400000001, TOKEN).unwrap();
    with_app
        .tokens()
        .set_app(1400000001, [OLD_TOKEN, TOKEN])
        .unwrap();
    let text = format!("{with_app:?} {with_app:#?} {:?}", with_app.tokens());
    assert_clean("Config Debug with an app's own set", &text);
    assert!(
        text.contains("tokens: TokenSets { default: 2 tokens, apps: {1400000001: 2 tokens} }"),
        "{text}"
    );

    let layer = CallbackLayer::new(config)
        .verify_unrouted(true)
        .on(|_: MemberLeave, _: CallbackMeta| async { Ok::<(), HandlerError>(()) });
    assert_clean("CallbackLayer Debug", &format!("{layer:?} {layer:#?}"));

    #[derive(Debug, Clone)]
    struct Inner;
    let svc = layer.layer(Inner);
    let text = format!("{svc:?} {svc:#?}");
    assert!(
        text.contains("Callback") && text.contains("TokenSets { default: 2 tokens, apps: {} }"),
        "{text}"
    );
    assert_clean("Callback Debug", &text);
}

#[test]
fn rejections_and_their_answers_show_no_secret() {
    let config = config();
    for (query, kind) in bad_queries() {
        let r: Rejection = config
            .decode::<MemberLeave>(&query, BODY.as_bytes())
            .unwrap_err();
        assert_eq!(r.kind(), kind, "{query}");
        assert_clean("Rejection Display/Debug", &format!("{r} {r:?} {r:#?}"));
        let ack = r.ack();
        assert_clean("FAIL acknowledgment", &format!("{ack:?}"));
        assert_clean("FAIL body", &String::from_utf8_lossy(&ack.to_bytes()));
    }
}

#[test]
fn sign_of_the_wrong_length_or_case_is_refused() {
    let config = config();
    let now = NOW.to_string();
    let good = signature(TOKEN, &now);
    assert!(config
        .decode::<MemberLeave>(&q(&now, &good), BODY.as_bytes())
        .is_ok());
    assert!(config
        .decode::<MemberLeave>(&q(&now, &signature(OLD_TOKEN, &now)), BODY.as_bytes())
        .is_ok());
    for sign in [
        good[..63].to_owned(),
        format!("{good}0"),
        format!("{good}{good}"),
        good[..1].to_owned(),
        good.to_uppercase(),
        format!("{}A", &good[..63]),
        format!(" {}", &good[..63]),
        format!("{}%00", &good[..62]),
    ] {
        let r = config
            .decode::<MemberLeave>(&q(&now, &sign), BODY.as_bytes())
            .unwrap_err();
        assert_eq!(r.kind(), RejectionKind::BadSignature, "{sign:?}");
        assert_eq!(r.status(), 401);
    }
}

/// A writer into a shared buffer, for a thread-local tracing subscriber.
#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn answers_and_tracing_output_show_no_secret() {
    let buf = Buf::default();
    let writer = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::TRACE)
        .finish();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    let svc = CallbackLayer::new(config())
        .verify_unrouted(true)
        .on(|e: MemberLeave, _: CallbackMeta| async move {
            if e.room_id == "fail" {
                return Err(HandlerError::msg("the store is down"));
            }
            if e.room_id == "busy" {
                return Err(HandlerError::unavailable("queue full"));
            }
            Ok(())
        })
        .layer(tower::service_fn(|_: Request<Full<Bytes>>| async {
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"inner"))))
        }));

    let now = NOW.to_string();
    let good = q(&now, &signature(TOKEN, &now));
    let mut requests: Vec<(String, String, u16)> = bad_queries()
        .into_iter()
        .map(|(query, kind)| (query, BODY.to_owned(), kind.status().as_u16()))
        .collect();
    requests.push((good.clone(), BODY.to_owned(), 200));
    requests.push((good.clone(), BODY.replace("rid-123", "fail"), 500));
    requests.push((good.clone(), BODY.replace("rid-123", "busy"), 503));
    requests.push((good.clone(), "{".to_owned(), 400));
    // Any command is verified, routed or not: a wrong signature on one no route takes.
    requests.push((
        format!(
            "SdkAppid={APP}&CallbackCommand=Group.CallbackAfterSendMsg&RequestTime={now}&Sign={}",
            signature(TOKEN, &(NOW + 1).to_string())
        ),
        BODY.to_owned(),
        401,
    ));

    let mut answers = String::new();
    tracing::subscriber::with_default(subscriber, || {
        for (query, body, status) in &requests {
            let req = Request::post(format!("/cb?{query}"))
                .body(Full::new(Bytes::from(body.clone())))
                .unwrap();
            let res = rt.block_on(svc.clone().oneshot(req)).unwrap();
            assert_eq!(res.status(), *status, "{query}");
            let bytes = rt.block_on(res.into_body().collect()).unwrap().to_bytes();
            let ack: Ack = serde_json::from_slice(&bytes).unwrap();
            assert_eq!(ack.is_ok(), *status == 200);
            answers.push_str(&String::from_utf8_lossy(&bytes));
            answers.push('\n');
        }
    });
    assert_clean("answers", &answers);
    let log = String::from_utf8_lossy(&buf.0.lock().unwrap()).into_owned();
    // The trace is there (one event per request), and clean.
    assert!(
        log.contains("rejected") && log.contains("Sign does not match"),
        "{log}"
    );
    assert!(log.contains("the store is down"), "{log}");
    // Why an unknown app was refused is in the trace only, never in its answer.
    assert!(
        log.contains(r#"note="SdkAppid 1400000001 is not an app of this receiver""#),
        "{log}"
    );
    assert!(!answers.contains("1400000001"), "{answers}");
    // Exactly one event per request from the crate (other lines, e.g. a panic's, are not its own).
    assert_eq!(
        log.lines()
            .filter(|l| l.contains(" tencent_room_callback: "))
            .count(),
        requests.len(),
        "{log}"
    );
    assert_clean("tracing output", &log);
}
