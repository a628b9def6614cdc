//! The TRTC `Sign`: `base64(HMAC-SHA256(key, raw body bytes))`, and its constant-time check.

use std::sync::LazyLock;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::config::trtc_keys::Key;

/// The length of a `Sign`: 32 bytes in padded standard base64.
const SIGN_LEN: usize = 44;

/// The `Sign` Tencent sends with a TRTC callback whose body is `body`, for the app's callback `key`:
/// standard base64 (with `=` padding) of HMAC-SHA256 keyed with the key's bytes over the body bytes
/// **exactly as sent** (Tencent pretty-prints with `\n` and `\t`; the same JSON re-serialized signs
/// differently).
///
/// For building requests in tests and for senders; a receiver never compares it itself
/// ([`verify`](super::verify) does, in constant time). Any key is accepted here, valid or not, so that
/// a test can sign with a wrong one.
///
/// ```
/// // Tencent's own vector: key `123654` and the body with real newlines and tabs.
/// let body = "{\n\t\"EventGroupId\":\t2,\n\t\"EventType\":\t204,\n\t\"CallbackTs\":\t1664209748188,\n\t\"EventInfo\":\t{\n\t\t\"RoomId\":\t8489,\n\t\t\"EventTs\":\t1664209748,\n\t\t\"EventMsTs\":\t1664209748180,\n\t\t\"UserId\":\t\"user_85034614\",\n\t\t\"Reason\":\t0\n\t}\n}";
/// assert_eq!(
///     tencent_room_callback::trtc::sign("123654", body.as_bytes()),
///     "kkoFeO3Oh2ZHnjtg8tEAQhtXK16/KI05W3BQff8IvGA=",
/// );
/// ```
pub fn sign(key: &str, body: &[u8]) -> String {
    // HMAC accepts a key of any length: `new_from_slice` cannot fail.
    match Hmac::<Sha256>::new_from_slice(key.as_bytes()) {
        Ok(mut mac) => {
            mac.update(body);
            STANDARD.encode(mac.finalize().into_bytes())
        }
        Err(_) => String::new(),
    }
}

/// Decodes a `Sign` of exactly 44 characters of padded standard base64 into its 32 bytes. The input is
/// the sender's, not a secret.
fn decode_sign(sign: &[u8]) -> Option<[u8; 32]> {
    if sign.len() != SIGN_LEN {
        return None;
    }
    let mut out = [0u8; 32];
    match STANDARD.decode_slice(sign, &mut out) {
        Ok(32) => Some(out),
        _ => None,
    }
}

/// Whether `sign` is the signature of `body` under any of `keys`.
///
/// The sender's `Sign` is decoded first (44 characters of padded standard base64, else no match);
/// then the body's MAC under every key is compared with it in constant time, with no early exit. An
/// empty set matches nothing but costs as much as a set of one (an unknown app's callback is answered
/// as a wrongly signed one is, in time too).
pub(crate) fn verify(keys: &[Key], body: &[u8], sign: &[u8]) -> bool {
    let given = decode_sign(sign);
    let expected = given.unwrap_or([0; 32]);
    if keys.is_empty() {
        let _ = unknown_mac(body).ct_eq(&expected);
        return false;
    }
    let matched: bool = keys
        .iter()
        .fold(subtle::Choice::from(0), |acc, key| {
            acc | key.mac(body).ct_eq(&expected)
        })
        .into();
    matched && given.is_some()
}

/// A MAC of `body` under a key nobody holds: the work a callback of an unknown app costs, the same as
/// for an app with one key (the key's pads hashed once, as a configured key's are).
fn unknown_mac(body: &[u8]) -> [u8; 32] {
    static NOBODY: LazyLock<Option<Key>> = LazyLock::new(|| Key::new("0").ok());
    match &*NOBODY {
        Some(key) => key.mac(body),
        None => [0; 32],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Tencent's vector (protocol.md §7): the body with real newlines and tabs.
    const VECTOR_BODY: &str = "{\n\t\"EventGroupId\":\t2,\n\t\"EventType\":\t204,\n\t\"CallbackTs\":\t1664209748188,\n\t\"EventInfo\":\t{\n\t\t\"RoomId\":\t8489,\n\t\t\"EventTs\":\t1664209748,\n\t\t\"EventMsTs\":\t1664209748180,\n\t\t\"UserId\":\t\"user_85034614\",\n\t\t\"Reason\":\t0\n\t}\n}";
    const VECTOR_SIGN: &str = "kkoFeO3Oh2ZHnjtg8tEAQhtXK16/KI05W3BQff8IvGA=";

    fn keys(list: &[&str]) -> Vec<Key> {
        list.iter().map(|k| Key::new(k).unwrap()).collect()
    }

    #[test]
    fn tencent_vector() {
        assert_eq!(sign("123654", VECTOR_BODY.as_bytes()), VECTOR_SIGN);
        assert!(verify(
            &keys(&["123654"]),
            VECTOR_BODY.as_bytes(),
            VECTOR_SIGN.as_bytes()
        ));
    }

    /// The web pages print the body with `\n` and `\t` escaped (backslash, letter): those bytes are
    /// another body, with another signature.
    #[test]
    fn the_escaped_form_of_the_web_page_does_not_verify() {
        let escaped = VECTOR_BODY.replace('\n', "\\n").replace('\t', "\\t");
        assert!(escaped.contains("\\n\\t\"EventGroupId\""));
        assert_ne!(sign("123654", escaped.as_bytes()), VECTOR_SIGN);
        assert!(!verify(
            &keys(&["123654"]),
            escaped.as_bytes(),
            VECTOR_SIGN.as_bytes()
        ));
        // Nor does the same JSON re-serialized compactly.
        let value: serde_json::Value = serde_json::from_str(VECTOR_BODY).unwrap();
        let compact = serde_json::to_vec(&value).unwrap();
        assert!(!verify(
            &keys(&["123654"]),
            &compact,
            VECTOR_SIGN.as_bytes()
        ));
    }

    #[test]
    fn near_misses_do_not_verify() {
        let k = keys(&["123654"]);
        let body = VECTOR_BODY.as_bytes();
        let mut flipped = VECTOR_SIGN.to_owned();
        flipped.replace_range(0..1, "j");
        let unpadded = VECTOR_SIGN.trim_end_matches('=');
        let url_safe = VECTOR_SIGN.replace('/', "_");
        for bad in [
            "",
            unpadded,
            &VECTOR_SIGN[..43],
            &format!("{VECTOR_SIGN}="),
            &format!(" {VECTOR_SIGN}"),
            &flipped,
            &url_safe,
            &VECTOR_SIGN.to_lowercase(),
            &"A".repeat(44),
            &"é".repeat(22),
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", // 44 chars, decodes to 32 zero bytes
        ] {
            assert!(!verify(&k, body, bad.as_bytes()), "{bad:?}");
        }
        // Another key, another body, no key.
        assert!(!verify(&keys(&["123655"]), body, VECTOR_SIGN.as_bytes()));
        assert!(!verify(&k, &body[1..], VECTOR_SIGN.as_bytes()));
        assert!(!verify(&[], body, VECTOR_SIGN.as_bytes()));
    }

    #[test]
    fn any_key_of_the_set_matches() {
        let body = VECTOR_BODY.as_bytes();
        assert!(verify(
            &keys(&["old", "123654"]),
            body,
            VECTOR_SIGN.as_bytes()
        ));
        assert!(verify(
            &keys(&["123654", "new"]),
            body,
            VECTOR_SIGN.as_bytes()
        ));
        assert!(!verify(
            &keys(&["old", "new"]),
            body,
            VECTOR_SIGN.as_bytes()
        ));
    }
}
