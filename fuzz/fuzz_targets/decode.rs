//! The decoders, without HTTP: every typed Room event, `RoomEvent`, the sans-IO `Config::decode_any`,
//! TRTC's `TrtcEvent` and its delivery key, and the departures of any command.
//!
//! Input: one selector byte, then the body. When the selector's high bit is set and the rest holds a
//! newline, what comes before it is the query string and what comes after is the body.
//!
//! Checked: no panic; a decoded event serializes, decodes back to the same event, with the same event
//! key; a TRTC event's key is the one `trtc::delivery_key` gives for its body; a rejection is a 400 with
//! a FAIL acknowledgment.

#![no_main]

use std::sync::OnceLock;
use std::time::{Duration, UNIX_EPOCH};

use libfuzzer_sys::fuzz_target;
use tencent_room_callback::trtc::{self, TrtcEvent};
use tencent_room_callback::{
    departure, CallbackCommand, CallbackMeta, Command, Config, CreateRoom, DestroyRoom, Event,
    MemberEnter, MemberLeave, RoomEvent, SeatInfoChanged, UpdateRoomInfo,
};

const TOKEN: &str = "fuzz-token-s3cr3t";

fn config() -> &'static Config {
    static CONFIG: OnceLock<Config> = OnceLock::new();
    CONFIG.get_or_init(|| {
        Config::new(1400000000)
            .token(TOKEN)
            .expect("a token")
            .clock(|| UNIX_EPOCH + Duration::from_secs(1669872112))
    })
}

const APP: u64 = 1400000000;

fn round_trip<E: Event + PartialEq>(body: &[u8]) {
    let meta = CallbackMeta::new(APP, CallbackCommand::new(E::COMMANDS[0]));
    let max = Config::DEFAULT_MAX_MEMBERS;
    match E::decode(&meta, body, max) {
        Ok(e) => {
            let json = serde_json::to_vec(&e).expect("an event serializes");
            let back = E::decode(&meta, &json, max).expect("a serialized event decodes");
            assert_eq!(back, e, "round trip of {}", String::from_utf8_lossy(&json));
            assert_eq!(back.event_key(), e.event_key());
        }
        Err(r) => {
            assert_eq!(r.status(), 400);
            assert!(!r.ack().is_ok());
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    if selector & 0x80 != 0 {
        if let Some(pos) = rest.iter().position(|b| *b == b'\n') {
            if let Ok(query) = std::str::from_utf8(&rest[..pos]) {
                match config().decode_any(query, &rest[pos + 1..]) {
                    Ok((event, meta)) => assert_eq!(event.command(), meta.command),
                    Err(r) => {
                        let ack = r.ack();
                        assert!(!ack.is_ok());
                        assert_eq!(ack.error_code() / 100, i64::from(r.status().as_u16()));
                        assert!(!ack.error_info().contains(TOKEN));
                    }
                }
            }
        }
        return;
    }
    let body = rest;
    round_trip::<MemberLeave>(body);
    round_trip::<MemberEnter>(body);
    round_trip::<CreateRoom>(body);
    round_trip::<DestroyRoom>(body);
    round_trip::<UpdateRoomInfo>(body);
    round_trip::<SeatInfoChanged>(body);
    match TrtcEvent::from_json(body) {
        Ok(e) => {
            let key = trtc::delivery_key(APP, body).expect("a decoded event has a key");
            assert_eq!(e.delivery_key(APP), key);
            let json = serde_json::to_vec(&e).expect("a TRTC event serializes");
            let back = TrtcEvent::from_json(&json).expect("a serialized TRTC event decodes");
            assert_eq!(back.delivery_key(APP), key);
        }
        Err(r) => assert_eq!(r.status(), 400),
    }
    let command = Command::ALL[usize::from(selector) % Command::ALL.len()];
    // Every command a departure comes from (Room, TRTC, Live, Chat groups), by the selector.
    let departing = departure::COMMANDS;
    let name = departing[usize::from(selector) % departing.len()];
    if let Ok(changes) = departure::changes(APP, name, body, Config::DEFAULT_MAX_MEMBERS) {
        assert!(changes.iter().all(|c| c.app() == APP));
    }
    if let Ok(e) = RoomEvent::from_json(command, body) {
        assert_eq!(e.command(), command);
        let json = serde_json::to_vec(&e).expect("an event serializes");
        assert_eq!(
            RoomEvent::from_json(command, &json).expect("decodes back"),
            e
        );
    }
});
