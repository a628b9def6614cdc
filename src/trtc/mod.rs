//! TRTC room and media event callbacks, the second wire dialect (protocol.md §7): callback keys and
//! the signature so far.

mod keys;
mod sign;

pub use keys::KeySets;
pub(crate) use keys::Settings;
pub use sign::sign;
