//! Every logged field is length-capped: a value longer than its cap is cut on a character boundary and
//! marked with "…". One rule for all fields, in two forms: [`cap`] for text already in memory (borrowed,
//! no copy, when it fits), [`Capped`] for a value formatted as it is logged (never formatted into memory
//! past its cap, whatever its length).

use std::borrow::Cow;
use std::fmt::{self, Display, Write as _};

use crate::reject::fitting;

/// Longest command name or room ID logged, in bytes (then "…"): both come from the sender.
pub(super) const MAX_NAME: usize = 128;
/// Longest free text logged (note, handler error, panic message), in bytes (then "…").
pub(super) const MAX_TEXT: usize = 256;
/// Longest reason logged, in bytes (then "…"): a rejection's `Display` is a fixed text (at most 64
/// bytes), ": " and a detail already cut at 200 bytes and marked, so it is never cut here in practice.
pub(super) const MAX_REASON: usize = 320;
/// What follows a cut value.
pub(super) const MARK: &str = "…";

/// `s` as logged: whole if it is at most `max` bytes long, else its first `max` bytes at most (cut on a
/// character boundary) followed by "…". Allocates only to cut.
pub(super) fn cap(s: &str, max: usize) -> Cow<'_, str> {
    let end = fitting(s, max);
    if end == s.len() {
        return Cow::Borrowed(s);
    }
    let mut cut = String::with_capacity(end + MARK.len());
    cut.push_str(&s[..end]);
    cut.push_str(MARK);
    Cow::Owned(cut)
}

/// A `Display` value as logged: its text, cut as [`cap`] cuts, written straight to the subscriber (no
/// allocation; what is past the cap is dropped as it is formatted).
pub(super) struct Capped<'a, T: ?Sized>(pub(super) &'a T, pub(super) usize);

impl<T: Display + ?Sized> Display for Capped<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = Bounded {
            f,
            left: self.1,
            cut: false,
        };
        write!(out, "{}", self.0)?;
        if out.cut {
            out.f.write_str(MARK)?;
        }
        Ok(())
    }
}

impl<T: Display + ?Sized> fmt::Debug for Capped<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Display::fmt(self, f)
    }
}

/// Passes on at most `left` bytes (on character boundaries), then swallows the rest: stopping is not an
/// error, so the value is never asked to handle one.
struct Bounded<'a, 'b> {
    f: &'a mut fmt::Formatter<'b>,
    left: usize,
    cut: bool,
}

impl fmt::Write for Bounded<'_, '_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if self.cut {
            return Ok(());
        }
        let end = fitting(s, self.left);
        self.f.write_str(&s[..end])?;
        self.left -= end;
        self.cut = end < s.len();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reject::Rejection;

    #[test]
    fn short_text_is_kept_whole_and_borrowed() {
        assert!(matches!(cap("rid-ok", MAX_NAME), Cow::Borrowed("rid-ok")));
        assert!(matches!(cap("", MAX_NAME), Cow::Borrowed("")));
        let exact = "a".repeat(MAX_NAME);
        assert!(matches!(cap(&exact, MAX_NAME), Cow::Borrowed(s) if s == exact));
        assert_eq!(Capped("rid-ok", MAX_NAME).to_string(), "rid-ok");
        assert_eq!(Capped(&exact, MAX_NAME).to_string(), exact);
    }

    #[test]
    fn long_text_is_cut_on_a_character_boundary_and_marked() {
        let huge = "a".repeat(1 << 20);
        let cut = cap(&huge, MAX_NAME);
        assert_eq!(cut, format!("{}…", "a".repeat(MAX_NAME)));
        assert_eq!(cut.len(), MAX_NAME + MARK.len());
        assert_eq!(Capped(&huge, MAX_NAME).to_string(), cut);
        assert_eq!(cap(&"a".repeat(MAX_NAME + 1), MAX_NAME).len(), 131);
        // A cut inside a character backs off to its start.
        let long = format!("a{}", "é".repeat(100));
        assert_eq!(cap(&long, MAX_NAME), format!("a{}…", "é".repeat(63)));
        assert_eq!(Capped(&long, MAX_NAME).to_string(), cap(&long, MAX_NAME));
        let emoji = "😀".repeat(100);
        assert_eq!(cap(&emoji, 6), "😀…");
        assert_eq!(cap(&emoji, 3), "…");
    }

    /// A `Display` that writes in many pieces, like a chain of errors or a derived message.
    struct Pieces<'a>(&'a [&'a str]);
    impl Display for Pieces<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            for piece in self.0 {
                f.write_str(piece)?;
            }
            Ok(())
        }
    }

    #[test]
    fn a_display_is_cut_across_its_pieces() {
        assert_eq!(Capped(&Pieces(&["ab", "cd"]), 4).to_string(), "abcd");
        assert_eq!(Capped(&Pieces(&["ab", "cd", ""]), 4).to_string(), "abcd");
        assert_eq!(Capped(&Pieces(&["ab", "cd", "e"]), 4).to_string(), "abcd…");
        assert_eq!(Capped(&Pieces(&["ab", "cde"]), 4).to_string(), "abcd…");
        assert_eq!(Capped(&Pieces(&["abc", "é", "f"]), 4).to_string(), "abc…");
        // A million pieces: the output stays at the cap.
        let many = vec!["x"; 1 << 20];
        let text = Capped(&Pieces(&many), MAX_TEXT).to_string();
        assert_eq!(text.len(), MAX_TEXT + MARK.len());
        // Debug is the same text (a `?` field reads as a `%` one).
        assert_eq!(format!("{:?}", Capped(&Pieces(&many), 4)), "xxxx…");
    }

    #[test]
    fn a_rejection_reason_is_never_cut() {
        // Its detail is already cut at 200 bytes (and marked): the longest kind text, ": ", 200 bytes and
        // "…" fit in MAX_REASON, so the reason is logged exactly as its `Display` reads.
        for kind in crate::reject::tests::ALL_KINDS {
            assert!(kind.as_str().len() <= 64, "{kind:?}");
            for detail in ["x".repeat(10_000), "é".repeat(10_000)] {
                let rejection = Rejection::with_detail(kind, &detail);
                let whole = rejection.to_string();
                assert!(whole.len() <= MAX_REASON, "{kind:?}: {}", whole.len());
                assert_eq!(Capped(&rejection, MAX_REASON).to_string(), whole);
            }
        }
    }
}
