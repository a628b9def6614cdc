//! `tencent-room-callback-receiver`: the receiver as a program of its own (see the library's docs).

fn main() -> std::process::ExitCode {
    tencent_room_callback_receiver::main()
}
