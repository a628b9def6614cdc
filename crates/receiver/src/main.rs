//! `tencent-room-callback-receiver`: the receiver as a program of its own (see the library's docs).
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    tencent_room_callback_receiver::main()
}
