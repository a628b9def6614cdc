//! The decoder, without HTTP: every typed event, `RoomEvent`, and the sans-IO `decode_any`.
//!
//! Input: one selector byte, then the body. When the selector's high bit is set and the rest holds a
//! newline, what comes before it is the query string and what comes after is the body.
//!
//! Checked: no panic; a decoded event serializes, decodes back to the same event, with the same
//! idempotency key; a rejection is a 400 with a FAIL acknowledgment.

#![no_main]

use std::sync::OnceLock;
use std::time::{Duration, UNIX_EPOCH};

use libfuzzer_sys::fuzz_target;
use tencent_room_callback::{Command, Config, CreateRoom, DestroyRoom, Event, MemberEnter, MemberLeave, RoomEvent, SeatInfoChanged, UpdateRoomInfo};

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

fn round_trip<E: Event + PartialEq>(body: &[u8]) {
    match E::from_json(body) {
        Ok(e) => {
            let json = serde_json::to_vec(&e).expect("an event serializes");
            let back = E::from_json(&json).expect("a serialized event decodes");
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
                match decode_any(config(), query, &rest[pos + 1..]) {
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
    let command = Command::ALL[usize::from(selector) % Command::ALL.len()];
    if let Ok(e) = RoomEvent::from_json(command, body) {
        assert_eq!(e.command(), command);
        let json = serde_json::to_vec(&e).expect("an event serializes");
        assert_eq!(
            RoomEvent::from_json(command, &json).expect("decodes back"),
            e
        );
    }
});
