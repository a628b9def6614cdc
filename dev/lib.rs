//! Nothing here: this package only builds the examples, integration tests and benches of
//! `tencent-room-callback` (see `Cargo.toml`).
