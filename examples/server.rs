//! The receiver: `cargo run --example server`. Every callback an SDKAppID sends to its one URL
//! (`/callback`), verified, printed on stdout as one JSON line and acknowledged; TRTC's room events on
//! `/trtc`. Configured by `ROOM_CALLBACK_*` environment variables: see `crates/receiver/README.md`.
//!
//! The program is the `tencent-room-callback-receiver` crate; this example is its entry point at the
//! workspace root, so that `cargo run --example server` needs no flag.

fn main() -> std::process::ExitCode {
    tencent_room_callback_receiver::main()
}
