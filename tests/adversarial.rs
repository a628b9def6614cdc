//! Hostile and malformed requests, as raw bytes over TCP, against a real axum server on 127.0.0.1 with
//! the layer in handler mode (`MemberLeave`, callback authentication on, a fixed clock).
//!
//! Every case of the table gets its exact status and, when the layer answers, a FAIL acknowledgment
//! with the documented `ErrorCode`; the handler is never called; and a valid callback sent right after
//! on a fresh connection is answered OK (the server keeps serving). A few malformed heads never reach
//! the layer: hyper refuses them itself (its own 4xx, no acknowledgment); those cases say so in their
//! name and check only the status and that the handler was not called.
//!
//! A second table lists odd-looking requests that are valid and must be accepted exactly once.

mod rawhttp;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use axum::routing::any;
use axum::Router;
use http::StatusCode;
use rawhttp::{exchange, post, Answer, Conn};
use tencent_room_callback::testing::signature;
use tencent_room_callback::{Ack, CallbackLayer, CallbackMeta, Config, HandlerError, MemberLeave};

const APP: u64 = 1400000000;
const TOKEN: &str = "adversarial-t0ken";
/// The server's clock: every `RequestTime` is judged against this.
const NOW: u64 = 1_700_000_000;
const LIMIT: usize = 16 * 1024;
const CMD: &str = "Room.CallbackAfterMemberLeave";
const BODY: &str = r#"{"CallbackCommand":"Room.CallbackAfterMemberLeave","Operator_Account":"user1","RoomId":"rid-123","MemberCount":20,"Type":"Leave","MemberList_Account":["user1"],"Reason":"xxxx","EventTime":1670574414123}"#;

fn sign(time: u64) -> String {
    signature(TOKEN, &time.to_string())
}

/// The path and query of a callback with these raw values.
fn query(app: &str, time: &str, sign: &str) -> String {
    format!("/cb?SdkAppid={app}&CallbackCommand={CMD}&contenttype=json&ClientIP=1.2.3.4&OptPlatform=iOS&RequestTime={time}&Sign={sign}")
}

/// A valid path and query, signed for `NOW`.
fn good() -> String {
    query(&APP.to_string(), &NOW.to_string(), &sign(NOW))
}

/// A valid path and query signed for `time` (with its own correct signature).
fn at(time: u64) -> String {
    query(&APP.to_string(), &time.to_string(), &sign(time))
}

fn body_with(field: &str, value: &str) -> String {
    format!(
        r#"{{"RoomId":"rid-123","MemberList_Account":["user1"],"EventTime":1670574414123,"{field}":{value}}}"#
    )
}

fn raw(head: &str, body: &[u8]) -> Vec<u8> {
    let mut r = head.as_bytes().to_vec();
    r.extend_from_slice(body);
    r
}

/// What a case must get.
#[derive(Debug, Clone, Copy)]
enum Want {
    /// The layer's answer: this status and a FAIL acknowledgment with this `ErrorCode`.
    Fail(u16, i64),
    /// hyper refuses the request before any service sees it: this status, no acknowledgment.
    Hyper(u16),
}

struct Case {
    name: &'static str,
    request: Vec<u8>,
    want: Want,
}

fn case(name: &'static str, request: Vec<u8>, want: Want) -> Case {
    Case {
        name,
        request,
        want,
    }
}

use Want::{Fail, Hyper};

/// The hostile table.
#[rustfmt::skip]
fn cases() -> Vec<Case> {
    let app = APP.to_string();
    let now = NOW.to_string();
    let sig = sign(NOW);
    let b = BODY.as_bytes();
    let deep = format!(
        r#"{{"RoomId":"r","MemberList_Account":{}{},"EventTime":1}}"#,
        "[".repeat(5000),
        "]".repeat(5000)
    );
    let long_value = "7".repeat(8 * 1024);
    let big_body = {
        let pad = "p".repeat(LIMIT);
        body_with("Pad", &format!("\"{pad}\""))
    };
    let chunked_past_limit = {
        let mut r = format!(
            "POST {} HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n",
            good()
        )
        .into_bytes();
        for _ in 0..(LIMIT / 1024 + 2) {
            r.extend_from_slice(b"400\r\n");
            r.extend_from_slice(&[b' '; 1024]);
            r.extend_from_slice(b"\r\n");
        }
        r.extend_from_slice(b"0\r\n\r\n");
        r
    };
    let mut bom = vec![0xEF, 0xBB, 0xBF];
    bom.extend_from_slice(b);
    let mut nul_after = b.to_vec();
    nul_after.push(0);
    let mut latin1 = BODY.replace("xxxx", "caf").into_bytes();
    let p = latin1.windows(3).position(|w| w == b"caf").unwrap() + 3;
    latin1.insert(p, 0xE9); // "café" in Latin-1: not UTF-8
    let nul_in_string = BODY.replace("xxxx", "x\u{0}x");

    vec![
        // --- The query: duplicated, conflicting, encoded parameters -------------------------------
        case("conflicting SdkAppid", post(&format!("{}&SdkAppid=1400000001", good()), b), Fail(400, 40004)),
        case("conflicting SdkAppid, name in another case", post(&format!("{}&SDKAPPID=1400000001", good()), b), Fail(400, 40004)),
        case("conflicting SdkAppid, name percent-encoded", post(&format!("{}&Sdk%41ppid=1400000001", good()), b), Fail(400, 40004)),
        case("conflicting CallbackCommand", post(&format!("{}&CallbackCommand=Room.CallbackAfterMemberEnter", good()), b), Fail(400, 40004)),
        case("CallbackCommand given again, empty", post(&format!("{}&CallbackCommand=", good()), b), Fail(400, 40004)),
        case("conflicting CallbackCommand, percent-encoded name", post(&format!("{}&callback%43ommand=Mic.CallbackAfterSeatInfoChanged", good()), b), Fail(400, 40004)),
        case("conflicting Sign", post(&format!("{}&Sign={}", good(), sign(NOW + 1)), b), Fail(400, 40004)),
        case("conflicting RequestTime", post(&format!("{}&requesttime={}", good(), NOW + 1), b), Fail(400, 40004)),
        case("conflicting ClientIP", post(&format!("{}&ClientIP=5.6.7.8", good()), b), Fail(400, 40004)),
        // --- SdkAppid ----------------------------------------------------------------------------
        case("SdkAppid missing", post(&format!("/cb?CallbackCommand={CMD}&RequestTime={now}&Sign={sig}"), b), Fail(400, 40002)),
        case("SdkAppid empty", post(&query("", &now, &sig), b), Fail(400, 40002)),
        case("SdkAppid with a NUL (%00)", post(&query(&format!("{app}%00"), &now, &sig), b), Fail(400, 40003)),
        case("SdkAppid with '+' (a space once decoded)", post(&query(&format!("+{app}"), &now, &sig), b), Fail(400, 40003)),
        case("SdkAppid with %2B (a plus sign)", post(&query(&format!("%2B{app}"), &now, &sig), b), Fail(400, 40003)),
        case("SdkAppid negative", post(&query(&format!("-{app}"), &now, &sig), b), Fail(400, 40003)),
        case("SdkAppid a float", post(&query(&format!("{app}.0"), &now, &sig), b), Fail(400, 40003)),
        case("SdkAppid past u64", post(&query("99999999999999999999999", &now, &sig), b), Fail(400, 40003)),
        case("SdkAppid overlong (8 KiB of digits)", post(&query(&long_value, &now, &sig), b), Fail(400, 40003)),
        case("SdkAppid invalid UTF-8 (%FF)", post(&query("%FF", &now, &sig), b), Fail(400, 40003)),
        // An app this receiver does not serve is answered as a configured app's callback with the same
        // Sign and RequestTime would be when unsigned or wrongly signed: the answer never says which
        // apps are served (the reason goes to the trace only). Signed with this receiver's own token,
        // it is a bad signature.
        case("SdkAppid of another app, signed with this receiver's token", post(&query("1400000001", &now, &sig), b), Fail(401, 40104)),
        case("SdkAppid of another app, unsigned", post(&format!("/cb?SdkAppid=1400000001&CallbackCommand={CMD}"), b), Fail(401, 40101)),
        case("SdkAppid of another app, RequestTime malformed", post(&query("1400000001", &format!("{now}.0"), &sig), b), Fail(401, 40102)),
        case("SdkAppid of another app, RequestTime stale", post(&query("1400000001", &(NOW + 61).to_string(), &sign(NOW + 61)), b), Fail(401, 40103)),
        // --- Sign ----------------------------------------------------------------------------------
        case("Sign missing", post(&format!("/cb?SdkAppid={app}&CallbackCommand={CMD}&RequestTime={now}"), b), Fail(401, 40101)),
        case("RequestTime missing", post(&format!("/cb?SdkAppid={app}&CallbackCommand={CMD}&Sign={sig}"), b), Fail(401, 40101)),
        case("Sign empty", post(&query(&app, &now, ""), b), Fail(401, 40101)),
        case("Sign one digit short (63)", post(&query(&app, &now, &sig[..63]), b), Fail(401, 40104)),
        case("Sign one digit long (65)", post(&query(&app, &now, &format!("{sig}0")), b), Fail(401, 40104)),
        case("Sign truncated to half (32)", post(&query(&app, &now, &sig[..32]), b), Fail(401, 40104)),
        case("Sign in upper case", post(&query(&app, &now, &sig.to_uppercase()), b), Fail(401, 40104)),
        case("Sign not hex", post(&query(&app, &now, &"g".repeat(64)), b), Fail(401, 40104)),
        case("Sign of another time", post(&query(&app, &now, &sign(NOW - 1)), b), Fail(401, 40104)),
        case("Sign of another token", post(&query(&app, &now, &signature("other-token", &now)), b), Fail(401, 40104)),
        case("Sign percent-encoded with a NUL", post(&query(&app, &now, &format!("{}%00", &sig[..63])), b), Fail(401, 40104)),
        case("Sign overlong (8 KiB)", post(&query(&app, &now, &"a".repeat(8 * 1024)), b), Fail(401, 40104)),
        // --- RequestTime: the window's edges and absurd values --------------------------------------
        case("RequestTime 61 s in the future (just past the edge)", post(&at(NOW + 61), b), Fail(401, 40103)),
        case("RequestTime 61 s in the past (just past the edge)", post(&at(NOW - 61), b), Fail(401, 40103)),
        case("RequestTime 0", post(&at(0), b), Fail(401, 40103)),
        case("RequestTime u64::MAX", post(&at(u64::MAX), b), Fail(401, 40103)),
        case("RequestTime in milliseconds", post(&at(NOW * 1000), b), Fail(401, 40103)),
        case("RequestTime past u64", post(&query(&app, "99999999999999999999999", &sig), b), Fail(401, 40102)),
        case("RequestTime negative", post(&query(&app, &format!("-{now}"), &sig), b), Fail(401, 40102)),
        case("RequestTime a float", post(&query(&app, &format!("{now}.0"), &sig), b), Fail(401, 40102)),
        case("RequestTime with a leading space (+)", post(&query(&app, &format!("+{now}"), &sig), b), Fail(401, 40102)),
        // --- Methods -----------------------------------------------------------------------------
        case("GET", format!("GET {} HTTP/1.1\r\nHost: t\r\n\r\n", good()).into_bytes(), Fail(405, 40501)),
        case("PUT with a valid body", raw(&format!("PUT {} HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n", good(), b.len()), b), Fail(405, 40501)),
        case("DELETE", format!("DELETE {} HTTP/1.1\r\nHost: t\r\n\r\n", good()).into_bytes(), Fail(405, 40501)),
        case("OPTIONS", format!("OPTIONS {} HTTP/1.1\r\nHost: t\r\n\r\n", good()).into_bytes(), Fail(405, 40501)),
        case("method in lower case (post)", raw(&format!("post {} HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n", good(), b.len()), b), Fail(405, 40501)),
        // --- Bodies ------------------------------------------------------------------------------
        case("empty body", post(&good(), b""), Fail(400, 40006)),
        case("body of whitespace", post(&good(), b" \r\n\t "), Fail(400, 40006)),
        case("UTF-8 BOM before the JSON", post(&good(), &bom), Fail(400, 40006)),
        case("NUL after the JSON", post(&good(), &nul_after), Fail(400, 40006)),
        case("raw NUL inside a string", post(&good(), nul_in_string.as_bytes()), Fail(400, 40006)),
        case("invalid UTF-8 inside a string", post(&good(), &latin1), Fail(400, 40006)),
        case("JSON null", post(&good(), b"null"), Fail(400, 40006)),
        case("JSON array of the fields", post(&good(), br#"["Room.CallbackAfterMemberLeave",null,"r",1,null,["a"],null,1]"#), Fail(400, 40006)),
        case("truncated JSON", post(&good(), &b[..b.len() - 1]), Fail(400, 40006)),
        case("5000-deep nesting in MemberList_Account", post(&good(), deep.as_bytes()), Fail(400, 40006)),
        case("duplicated key RoomId", post(&good(), br#"{"RoomId":"a","RoomId":"b","MemberList_Account":["u"],"EventTime":1}"#), Fail(400, 40006)),
        case("CallbackCommand in the body names another command", post(&good(), BODY.replace("MemberLeave", "MemberEnter").as_bytes()), Fail(400, 40006)),
        case("RoomId a number", post(&good(), br#"{"RoomId":5,"MemberList_Account":["u"],"EventTime":1}"#), Fail(400, 40006)),
        case("EventTime huge (past u64)", post(&good(), body_with("MemberCount", "1").replace("1670574414123", "99999999999999999999999").as_bytes()), Fail(400, 40006)),
        case("EventTime negative", post(&good(), body_with("MemberCount", "1").replace("1670574414123", "-1670574414123").as_bytes()), Fail(400, 40006)),
        case("EventTime a float", post(&good(), body_with("MemberCount", "1").replace("1670574414123", "1670574414123.0").as_bytes()), Fail(400, 40006)),
        case("EventTime in exponent form", post(&good(), body_with("MemberCount", "1").replace("1670574414123", "1.670574414123e12").as_bytes()), Fail(400, 40006)),
        case("MemberCount a float", post(&good(), body_with("MemberCount", "20.0").as_bytes()), Fail(400, 40006)),
        case("MemberCount past u32", post(&good(), body_with("MemberCount", "4294967296").as_bytes()), Fail(400, 40006)),
        case("MemberCount negative", post(&good(), body_with("MemberCount", "-1").as_bytes()), Fail(400, 40006)),
        case("account ID a float", post(&good(), br#"{"RoomId":"r","MemberList_Account":[1.5],"EventTime":1}"#), Fail(400, 40006)),
        case("account ID past u64", post(&good(), br#"{"RoomId":"r","MemberList_Account":[18446744073709551616],"EventTime":1}"#), Fail(400, 40006)),
        // --- Lengths, chunking and timing --------------------------------------------------------
        case("Content-Length shorter than the body (the rest is garbage for hyper)", raw(&format!("POST {} HTTP/1.1\r\nHost: t\r\nContent-Length: 20\r\n\r\n", good()), b), Fail(400, 40006)),
        case("Content-Length longer than the body, then a stall", raw(&format!("POST {} HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n", good(), b.len() + 50), b), Fail(408, 40801)),
        case("head only, the body never comes", format!("POST {} HTTP/1.1\r\nHost: t\r\nContent-Length: 200\r\n\r\n", good()).into_bytes(), Fail(408, 40801)),
        case("chunked body stalls before its last chunk", raw(&format!("POST {} HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n", good(), b.len()), &[b, b"\r\n".as_slice()].concat()), Fail(408, 40801)),
        case("Content-Length above the limit (refused before reading)", format!("POST {} HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n", good(), LIMIT + 1).into_bytes(), Fail(413, 41301)),
        case("Content-Length of 10^18", format!("POST {} HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000000000000000\r\n\r\n", good()).into_bytes(), Fail(413, 41301)),
        case("body above the limit, honest Content-Length", post(&good(), big_body.as_bytes()), Fail(413, 41301)),
        case("chunked body past the limit", chunked_past_limit, Fail(413, 41301)),
        case("broken chunk size (not hex)", raw(&format!("POST {} HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", good()), b), Fail(400, 40005)),
        case("'&' percent-encoded inside Sign (no parameter smuggled)", post(&format!("/cb?SdkAppid={app}&CallbackCommand={CMD}&RequestTime={now}&Sign={}%26SdkAppid%3D1400000000", &sig[..40]), b), Fail(401, 40104)),
        case("';' as a separator: not a callback query, passed to the app's route", post(&format!("/cb?SdkAppid={app};CallbackCommand={CMD};RequestTime={now};Sign={sig}"), b), Fail(404, 40401)),
        case("10,000 junk parameters, then a conflicting SdkAppid", post(&format!("{}&{}SdkAppid=1", good(), "x=1&".repeat(10_000)), b), Fail(400, 40004)),
        // --- Commands no route of the layer takes: verified all the same -------------------------------
        case("unrouted command, unsigned", post(&format!("/cb?SdkAppid={app}&CallbackCommand=Group.CallbackAfterSendMsg"), b), Fail(401, 40101)),
        case("unrouted command, wrong Sign", post(&format!("/cb?SdkAppid={app}&CallbackCommand=Group.CallbackAfterSendMsg&RequestTime={now}&Sign={}", sign(NOW - 1)), b), Fail(401, 40104)),
        case("unrouted command, SdkAppid of another app", post(&format!("/cb?SdkAppid=1400000001&CallbackCommand=Group.CallbackAfterSendMsg&RequestTime={now}&Sign={sig}"), b), Fail(401, 40104)),
        case("unrouted command, SdkAppid missing", post(&format!("/cb?CallbackCommand=Group.CallbackAfterSendMsg&RequestTime={now}&Sign={sig}"), b), Fail(400, 40002)),
        case("unrouted command, GET", format!("GET /cb?SdkAppid={app}&CallbackCommand=Group.CallbackAfterSendMsg&RequestTime={now}&Sign={sig} HTTP/1.1\r\nHost: t\r\n\r\n").into_bytes(), Fail(405, 40501)),
        case("conflicting CallbackCommand, both unrouted", post(&format!("/cb?SdkAppid={app}&CallbackCommand=Group.CallbackAfterSendMsg&CallbackCommand=C2C.CallbackAfterSendMsg&RequestTime={now}&Sign={sig}"), b), Fail(400, 40004)),
        case("unrouted command, signed: verified, then passed to the app's route", post(&format!("/cb?SdkAppid={app}&CallbackCommand=Group.CallbackAfterSendMsg&RequestTime={now}&Sign={sig}"), b), Fail(404, 40401)),
        // --- Heads hyper refuses before the layer --------------------------------------------------
        case("hyper: two conflicting Content-Length headers", raw(&format!("POST {} HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\nContent-Length: 5\r\n\r\n", good(), b.len()), b), Hyper(400)),
        case("hyper: negative Content-Length", raw(&format!("POST {} HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\n", good()), b), Hyper(400)),
        case("hyper: Content-Length past u64", raw(&format!("POST {} HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999999999999999999\r\n\r\n", good()), b), Hyper(400)),
        case("hyper: NUL in a header value", raw(&format!("POST {} HTTP/1.1\r\nHost: t\r\nX-A: a\0b\r\nContent-Length: {}\r\n\r\n", good(), b.len()), b), Hyper(400)),
        case("raw UTF-8 (not percent-encoded) at the end of Sign", raw(&format!("POST {}\u{e9} HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n", good(), b.len()), b), Fail(401, 40104)),
        case("hyper: raw invalid UTF-8 byte 0xFF in the request target", [format!("POST {}", good()).as_bytes(), &[0xFF], format!(" HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n", b.len()).as_bytes(), b].concat(), Hyper(400)),
        case("hyper: request target of 70 KB", post(&format!("{}&x={}", good(), "y".repeat(70_000)), b), Hyper(414)),
        case("hyper: 200 headers", raw(&format!("POST {} HTTP/1.1\r\nHost: t\r\n{}Content-Length: {}\r\n\r\n", good(), (0..200).map(|i| format!("X-H{i}: v\r\n")).collect::<String>(), b.len()), b), Hyper(431)),
        case("hyper: space in the request target", raw(&format!("POST {} x HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n", good(), b.len()), b), Hyper(400)),
    ]
}

/// Requests that look odd but are valid callbacks.
#[rustfmt::skip]
fn accepted() -> Vec<(&'static str, Vec<u8>)> {
    let app = APP.to_string();
    let now = NOW.to_string();
    let sig = sign(NOW);
    let b = BODY.as_bytes();
    vec![
        ("RequestTime exactly 60 s in the future (the edge)", post(&at(NOW + 60), b)),
        ("RequestTime exactly 60 s in the past (the edge)", post(&at(NOW - 60), b)),
        ("parameter names in other cases", post(&format!("/cb?SDKAPPID={app}&callbackcommand={CMD}&requesttime={now}&SIGN={sig}"), b)),
        ("CallbackCommand value percent-encoded", post(&format!("/cb?SdkAppid={app}&CallbackCommand=Room%2ECallbackAfterMemberLeave&RequestTime={now}&Sign={sig}"), b)),
        ("every parameter twice with the same value", post(&format!("{}&SdkAppid={app}&CallbackCommand={CMD}&RequestTime={now}&Sign={sig}", good()), b)),
        ("SdkAppid with leading zeros", post(&query(&format!("00{app}"), &now, &sig), b)),
        ("unknown parameters and fields", post(&format!("{}&Extra=%00%FF&x", good()), body_with("NewField", r#"{"a":[1,2,{"b":null}]}"#).as_bytes())),
        ("account IDs as numbers, EventTime as a string", post(&good(), br#"{"RoomId":"r","MemberList_Account":[144115233775727695],"EventTime":"1670574414123"}"#)),
        // serde_json skips unknown values without recursing: any depth is safe, and ignored.
        ("5000-deep nesting in an unknown field", post(&good(), format!(r#"{{"RoomId":"r","MemberList_Account":["u"],"EventTime":1,"X":{}{}}}"#, "[".repeat(5000), "]".repeat(5000)).as_bytes())),
        ("absolute-form request target", raw(&format!("POST http://callback.test{} HTTP/1.1\r\nHost: callback.test\r\nContent-Length: {}\r\n\r\n", good(), b.len()), b)),
        ("HTTP/1.0 without Host", raw(&format!("POST {} HTTP/1.0\r\nContent-Length: {}\r\n\r\n", good(), b.len()), b)),
        ("chunked with chunk extensions and a trailer", raw(&format!("POST {} HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n", good()), format!("{:x};ext=1\r\n{BODY}\r\n0\r\nX-Trailer: t\r\n\r\n", BODY.len()).as_bytes())),
        // RFC 9112 6.3: Transfer-Encoding overrides Content-Length; hyper drops the latter.
        ("chunked, with a Content-Length above the limit as well", raw(&format!("POST {} HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n", good(), LIMIT + 1, b.len()), &[b, b"\r\n0\r\n\r\n".as_slice()].concat())),
        ("no Content-Type", raw(&format!("POST {} HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n", good(), b.len()), b)),
        ("chunked in three chunks", raw(&format!("POST {} HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n", good()), format!("5\r\n{}\r\n3\r\n{}\r\n{:x}\r\n{}\r\n0\r\n\r\n", &BODY[..5], &BODY[5..8], BODY.len() - 8, &BODY[8..]).as_bytes())),
        ("body exactly at the limit", post(&good(), body_with("Pad", &format!("\"{}\"", "p".repeat(LIMIT - body_with("Pad", "\"\"").len()))).as_bytes())),
    ]
}

struct Server {
    addr: SocketAddr,
    calls: Arc<AtomicUsize>,
    rooms: Arc<Mutex<Vec<String>>>,
}

async fn not_a_callback() -> (StatusCode, Ack) {
    (
        StatusCode::NOT_FOUND,
        Ack::fail(40401, "not a callback this app handles"),
    )
}

async fn start() -> Server {
    let calls = Arc::new(AtomicUsize::new(0));
    let rooms = Arc::new(Mutex::new(Vec::new()));
    let (c, r) = (calls.clone(), rooms.clone());
    let config = Config::new(APP)
        .token(TOKEN)
        .unwrap()
        .clock(|| UNIX_EPOCH + Duration::from_secs(NOW))
        .body_limit(LIMIT)
        .body_timeout(Some(Duration::from_millis(300)));
    let layer = CallbackLayer::new(config).verify_unrouted(true).on(
        move |e: MemberLeave, _: CallbackMeta| {
            c.fetch_add(1, SeqCst);
            r.lock().unwrap().push(e.room_id);
            std::future::ready(Ok::<(), HandlerError>(()))
        },
    );
    let app = Router::new()
        .route("/cb", any(not_a_callback))
        .fallback(not_a_callback)
        .layer(layer);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Server { addr, calls, rooms }
}

fn ack_of(name: &str, a: &Answer) -> Ack {
    assert_eq!(
        a.header("content-type"),
        Some("application/json"),
        "{name}: {a:?}"
    );
    serde_json::from_slice(&a.body).unwrap_or_else(|e| {
        panic!(
            "{name}: not an acknowledgment ({e}): {:?}",
            String::from_utf8_lossy(&a.body)
        )
    })
}

/// A valid callback on a fresh connection: OK, and the handler called once more.
async fn still_serving(s: &Server, after: &str) {
    let before = s.calls.load(SeqCst);
    let a = exchange(s.addr, post(&good(), BODY.as_bytes()))
        .await
        .unwrap_or_else(|| panic!("after {after:?}: no answer to a valid callback"));
    assert_eq!(a.status, 200, "after {after:?}: {a:?}");
    assert_eq!(a.body, Ack::OK_BODY, "after {after:?}");
    assert_eq!(s.calls.load(SeqCst), before + 1, "after {after:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_requests_are_refused_exactly_and_the_server_keeps_serving() {
    let s = start().await;
    let secrets = [TOKEN.to_owned(), sign(NOW)];
    let cases = cases();
    // The table's size is pinned: a case dropped by mistake fails here.
    assert_eq!(cases.len(), 99, "cases in the table");
    assert_eq!(
        cases.iter().filter(|c| matches!(c.want, Hyper(_))).count(),
        8,
        "cases refused by hyper itself"
    );
    let mut names = std::collections::HashSet::new();
    let mut failed = Vec::new();
    for c in &cases {
        assert!(names.insert(c.name), "duplicate case name {:?}", c.name);
        let before = s.calls.load(SeqCst);
        let a = exchange(s.addr, c.request.clone())
            .await
            .unwrap_or_else(|| panic!("{}: connection closed without an answer", c.name));
        let status_ok = match c.want {
            Fail(status, _) | Hyper(status) => a.status == status,
        };
        if !status_ok {
            failed.push(format!(
                "{}: want {:?}, got {} {:?}",
                c.name,
                c.want,
                a.status,
                String::from_utf8_lossy(&a.body)
            ));
            still_serving(&s, c.name).await;
            continue;
        }
        match c.want {
            Fail(status, code) => {
                assert_eq!(a.status, status, "{}: {a:?}", c.name);
                let ack = ack_of(c.name, &a);
                assert!(!ack.is_ok(), "{}", c.name);
                assert_eq!(ack.error_code(), code, "{}: {ack:?}", c.name);
                assert!(!ack.error_info().is_empty(), "{}", c.name);
                let text = String::from_utf8_lossy(&a.body);
                for secret in &secrets {
                    assert!(!text.contains(secret.as_str()), "{}: {text}", c.name);
                }
                if status == 405 {
                    assert_eq!(a.header("allow"), Some("POST"), "{}", c.name);
                }
            }
            Hyper(status) => {
                assert_eq!(a.status, status, "{}: {a:?}", c.name);
                assert!(
                    serde_json::from_slice::<Ack>(&a.body).is_err(),
                    "{}: hyper answered, not the layer",
                    c.name
                );
            }
        }
        assert_eq!(
            s.calls.load(SeqCst),
            before,
            "{}: the handler was called",
            c.name
        );
        still_serving(&s, c.name).await;
    }
    assert!(
        failed.is_empty(),
        "{} cases failed:\n{}",
        failed.len(),
        failed.join("\n")
    );
    assert_eq!(s.calls.load(SeqCst), cases.len());
    println!("{} hostile cases refused", cases.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odd_but_valid_requests_are_accepted_once() {
    let s = start().await;
    let accepted = accepted();
    for (name, request) in &accepted {
        let before = s.calls.load(SeqCst);
        let a = exchange(s.addr, request.clone())
            .await
            .unwrap_or_else(|| panic!("{name}: no answer"));
        assert_eq!(a.status, 200, "{name}: {a:?}");
        assert_eq!(a.body, Ack::OK_BODY, "{name}");
        assert_eq!(s.calls.load(SeqCst), before + 1, "{name}");
    }
}

/// A `Content-Length` shorter than the body on a kept-alive connection: the first request is refused
/// with its truncated body, and what follows is read as the next request. Here that is a complete,
/// valid callback (pipelined), so it is accepted on the same connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_content_length_leaves_the_rest_to_the_next_request() {
    let s = start().await;
    let mut smuggled = format!(
        "POST {} HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\n{{}}",
        good()
    )
    .into_bytes();
    let next = BODY.replace("rid-123", "rid-next");
    smuggled.extend_from_slice(&post(&good(), next.as_bytes()));
    let mut conn = Conn::open(s.addr).await;
    assert!(conn.send(&smuggled).await);
    let first = conn.answer().await.expect("the first answer");
    assert_eq!(first.status, 400);
    assert_eq!(ack_of("first", &first).error_code(), 40006);
    let second = conn.answer().await.expect("the second answer");
    assert_eq!(second.status, 200);
    assert_eq!(second.body, Ack::OK_BODY);
    assert_eq!(*s.rooms.lock().unwrap(), vec!["rid-next".to_string()]);
}

/// `Expect: 100-continue`: a callback refused from its head is answered at once, without asking for
/// the body; an accepted one gets `100 Continue`, sends its body, and is answered OK.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expect_continue_asks_for_the_body_only_when_the_head_is_accepted() {
    let s = start().await;
    let head = |q: &str| {
        format!(
            "POST {q} HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: {}\r\n\r\n",
            BODY.len()
        )
    };

    let mut refused = Conn::open(s.addr).await;
    assert!(refused.send(head(&at(NOW + 61)).as_bytes()).await);
    let a = refused.answer().await.expect("an answer");
    assert_eq!(a.status, 401, "{a:?}");
    assert_eq!(ack_of("refused", &a).error_code(), 40103);

    let mut accepted = Conn::open(s.addr).await;
    assert!(accepted.send(head(&good()).as_bytes()).await);
    let a = accepted.answer().await.expect("an interim answer");
    assert_eq!(a.status, 100, "{a:?}");
    assert!(accepted.send(BODY.as_bytes()).await);
    let a = accepted.answer().await.expect("the answer");
    assert_eq!(a.status, 200);
    assert_eq!(a.body, Ack::OK_BODY);
    assert_eq!(s.calls.load(SeqCst), 1);
}

/// An app this receiver does not serve gets, byte for byte, the answer a configured app's callback with
/// the same `Sign` and `RequestTime` gets when unsigned or wrongly signed: the answers do not tell which
/// apps are served. Correctly signed with the receiver's own token, it is answered as a bad signature.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_apps_are_answered_exactly_like_a_served_apps_bad_callbacks() {
    let s = start().await;
    let now = NOW.to_string();
    let stale = (NOW + 61).to_string();
    let wrong = sign(NOW - 1);
    // (the rest of the query after SdkAppid and CallbackCommand, the ErrorCode both get)
    let cases = [
        (String::new(), 40101),
        (format!("&RequestTime={now}"), 40101),
        (format!("&Sign={wrong}"), 40101),
        (format!("&RequestTime={now}.0&Sign={wrong}"), 40102),
        (
            format!("&RequestTime={stale}&Sign={}", sign(NOW + 61)),
            40103,
        ),
        (format!("&RequestTime={now}&Sign={wrong}"), 40104),
        (format!("&RequestTime={now}&Sign={}", "0".repeat(64)), 40104),
    ];
    let head = |a: &Answer| {
        (
            a.status,
            a.header("content-type").map(str::to_owned),
            a.header("www-authenticate").map(str::to_owned),
            a.header("content-length").map(str::to_owned),
            a.body.clone(),
        )
    };
    for command in [CMD, "Group.CallbackAfterSendMsg"] {
        for (rest, code) in &cases {
            let ctx = format!("{command}{rest}");
            let served = exchange(
                s.addr,
                post(
                    &format!("/cb?SdkAppid={APP}&CallbackCommand={command}{rest}"),
                    BODY.as_bytes(),
                ),
            )
            .await
            .unwrap_or_else(|| panic!("{ctx}: no answer"));
            let unknown = exchange(
                s.addr,
                post(
                    &format!("/cb?SdkAppid=1400000009&CallbackCommand={command}{rest}"),
                    BODY.as_bytes(),
                ),
            )
            .await
            .unwrap_or_else(|| panic!("{ctx}: no answer"));
            assert_eq!(served.status, 401, "{ctx}: {served:?}");
            assert_eq!(ack_of(&ctx, &served).error_code(), *code, "{ctx}");
            assert_eq!(head(&unknown), head(&served), "{ctx}");
            assert!(
                !String::from_utf8_lossy(&unknown.body).contains("1400000009"),
                "{ctx}: {unknown:?}"
            );
        }
        // Signed with this receiver's own token: the served app's callback passes, the unknown one's is a
        // bad signature, answered as the served app's wrongly signed callback is.
        let signed = format!("&RequestTime={now}&Sign={}", sign(NOW));
        let unknown = exchange(
            s.addr,
            post(
                &format!("/cb?SdkAppid=1400000009&CallbackCommand={command}{signed}"),
                BODY.as_bytes(),
            ),
        )
        .await
        .expect("an answer");
        let wrongly_signed = exchange(
            s.addr,
            post(
                &format!(
                    "/cb?SdkAppid={APP}&CallbackCommand={command}&RequestTime={now}&Sign={wrong}"
                ),
                BODY.as_bytes(),
            ),
        )
        .await
        .expect("an answer");
        assert_eq!(head(&unknown), head(&wrongly_signed), "{command}");
        assert_eq!(ack_of(command, &unknown).error_code(), 40104, "{command}");
    }
    assert_eq!(s.calls.load(SeqCst), 0, "the handler was called");
}
