//! Callback authentication: `Sign = lowercase_hex(SHA-256(token ‖ RequestTime))`.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::Token;

/// The `Sign` Tencent sends for `token` and `request_time` (the decimal seconds string, as in the query):
/// lowercase hex of SHA-256 over the token followed by the time, no separator. Public as
/// `testing::signature`, for building requests; a receiver never compares it itself.
#[cfg(any(test, feature = "testing"))]
pub(crate) fn signature(token: &str, request_time: &str) -> String {
    digest(token.as_bytes(), request_time.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn digest(token: &[u8], request_time: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(token);
    h.update(request_time);
    h.finalize().into()
}

/// Decodes a `Sign` of exactly 64 lowercase hex digits. The input is the sender's, not a secret.
fn decode_sign(sign: &str) -> Option<[u8; 32]> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        }
    }
    let s = sign.as_bytes();
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (o, pair) in out.iter_mut().zip(s.chunks_exact(2)) {
        *o = nibble(pair[0])? << 4 | nibble(pair[1])?;
    }
    Some(out)
}

/// Whether `sign` is the signature of `request_time` under any of `tokens`.
///
/// The length and alphabet are checked first (64 lowercase hex digits); the digests are then compared in
/// constant time, against every token (no early exit).
pub(crate) fn verify(tokens: &[Token], request_time: &str, sign: &str) -> bool {
    let Some(given) = decode_sign(sign) else {
        return false;
    };
    if tokens.is_empty() {
        // Nothing can match; take as long as one token would (an unknown app's callback is answered
        // like a wrongly signed one, in time too).
        let _ = digest(b"", request_time.as_bytes()).ct_eq(&given);
        return false;
    }
    tokens
        .iter()
        .fold(subtle::Choice::from(0), |acc, t| {
            acc | digest(t.expose(), request_time.as_bytes()).ct_eq(&given)
        })
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    const VECTOR: &str = "17773bc39a671d7b9aa835458704d2a6db81360a5940292b587d6d760d484061";

    #[test]
    fn protocol_test_vector() {
        assert_eq!(signature("xxxxyyyy", "1669872112"), VECTOR);
        let tokens = [Token::new("xxxxyyyy").unwrap()];
        assert!(verify(&tokens, "1669872112", VECTOR));
    }

    #[test]
    fn rejects_near_misses() {
        let tokens = [Token::new("xxxxyyyy").unwrap()];
        assert!(!verify(&tokens, "1669872113", VECTOR));
        assert!(!verify(&tokens, "1669872112", &VECTOR.to_uppercase()));
        assert!(!verify(&tokens, "1669872112", &VECTOR[..63]));
        assert!(!verify(&tokens, "1669872112", &VECTOR[..32]));
        assert!(!verify(&tokens, "1669872112", &format!("{VECTOR}0")));
        assert!(!verify(&tokens, "1669872112", ""));
        let mut flipped = VECTOR.to_owned();
        flipped.replace_range(63..64, "0");
        assert!(!verify(&tokens, "1669872112", &flipped));
        assert!(!verify(&tokens, "1669872112", &"é".repeat(32)));
        assert!(!verify(&[], "1669872112", VECTOR));
    }

    #[test]
    fn any_token_may_match() {
        let tokens = [Token::new("old").unwrap(), Token::new("xxxxyyyy").unwrap()];
        assert!(verify(&tokens, "1669872112", VECTOR));
    }
}
