//! The Room callback commands and sets of them.

use std::fmt;

/// A Room callback command, as carried by the `CallbackCommand` query parameter.
///
/// Adding a command is local: a variant here (and in [`Command::ALL`] and [`Command::names`]), its event
/// struct in the `event` module, and one line in each of that module's `room_events!` and `impl_event!`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Command {
    /// `Room.CallbackAfterCreateRoom`: a room was created.
    CreateRoom,
    /// `Room.CallbackAfterDestroyRoom`: a room was destroyed.
    DestroyRoom,
    /// `Room.CallbackAfterUpdateRoomInfo` (older name `Room.CallbackUpdateRoomInfo`): room information changed.
    UpdateRoomInfo,
    /// `Room.CallbackAfterMemberEnter`: members entered a room.
    MemberEnter,
    /// `Room.CallbackAfterMemberLeave`: members left a room.
    MemberLeave,
    /// `Mic.CallbackAfterSeatInfoChanged`: the seat list of a room changed.
    SeatInfoChanged,
}

impl Command {
    /// Every command, in declaration order. A slice: it grows as commands are added.
    pub const ALL: &'static [Command] = &[
        Command::CreateRoom,
        Command::DestroyRoom,
        Command::UpdateRoomInfo,
        Command::MemberEnter,
        Command::MemberLeave,
        Command::SeatInfoChanged,
    ];

    /// The wire names of this command: the canonical one first, then accepted older spellings.
    pub const fn names(self) -> &'static [&'static str] {
        match self {
            Command::CreateRoom => &["Room.CallbackAfterCreateRoom"],
            Command::DestroyRoom => &["Room.CallbackAfterDestroyRoom"],
            Command::UpdateRoomInfo => &[
                "Room.CallbackAfterUpdateRoomInfo",
                "Room.CallbackUpdateRoomInfo",
            ],
            Command::MemberEnter => &["Room.CallbackAfterMemberEnter"],
            Command::MemberLeave => &["Room.CallbackAfterMemberLeave"],
            Command::SeatInfoChanged => &["Mic.CallbackAfterSeatInfoChanged"],
        }
    }

    /// The canonical wire name, e.g. `Room.CallbackAfterMemberLeave`.
    pub const fn name(self) -> &'static str {
        self.names()[0]
    }

    /// The command with this exact (case-sensitive, already decoded) wire name, if any.
    pub fn from_name(name: &str) -> Option<Command> {
        Command::ALL
            .iter()
            .copied()
            .find(|c| c.names().contains(&name))
    }

    const fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The `CallbackCommand` of a callback: any command Tencent sends on the callback URL (Room, Chat,
/// Live...), typed as a [`Command`] when it is one of the Room commands this crate decodes.
///
/// Compares equal to the [`Command`] it names (`meta.command == Command::MemberLeave`). A Room command
/// takes no allocation; another command keeps its name.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct CallbackCommand(Name);

#[derive(Clone, PartialEq, Eq, Hash)]
enum Name {
    Typed(Command),
    Other(Box<str>),
}

impl CallbackCommand {
    /// The command with this wire name (case-sensitive, already decoded).
    pub fn new(name: impl AsRef<str>) -> Self {
        let name = name.as_ref();
        match Command::from_name(name) {
            Some(c) => CallbackCommand(Name::Typed(c)),
            None => CallbackCommand(Name::Other(name.into())),
        }
    }

    /// The wire name: a Room command's canonical name (`Room.CallbackAfterUpdateRoomInfo` for either
    /// spelling), any other command's name as it came.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Name::Typed(c) => c.name(),
            Name::Other(name) => name,
        }
    }

    /// Whether this is a "before" callback (`C2C.CallbackBeforeSendMsg`, `Group.CallbackBefore...`):
    /// one whose answer carries a decision, so that it must be answered by a handler, never stored for
    /// later. Every Room command is an "after" one.
    pub fn is_before(&self) -> bool {
        match &self.0 {
            Name::Typed(_) => false,
            Name::Other(name) => name
                .as_bytes()
                .windows(b"CallbackBefore".len())
                .any(|w| w.eq_ignore_ascii_case(b"CallbackBefore")),
        }
    }

    /// The Room command, when it is one.
    pub fn typed(&self) -> Option<Command> {
        match self.0 {
            Name::Typed(c) => Some(c),
            Name::Other(_) => None,
        }
    }
}

impl From<Command> for CallbackCommand {
    fn from(command: Command) -> Self {
        CallbackCommand(Name::Typed(command))
    }
}

impl PartialEq<Command> for CallbackCommand {
    fn eq(&self, other: &Command) -> bool {
        self.typed() == Some(*other)
    }
}

impl PartialEq<CallbackCommand> for Command {
    fn eq(&self, other: &CallbackCommand) -> bool {
        other == self
    }
}

impl fmt::Display for CallbackCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for CallbackCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

/// A set of [`Command`]s, small and `Copy`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct CommandSet(u32);

impl CommandSet {
    /// No command.
    pub const EMPTY: CommandSet = CommandSet(0);
    /// Every command.
    pub const ALL: CommandSet = {
        let mut set = CommandSet::EMPTY;
        let mut i = 0;
        while i < Command::ALL.len() {
            set = set.with(Command::ALL[i]);
            i += 1;
        }
        set
    };

    /// This set plus `command`.
    #[must_use]
    pub const fn with(self, command: Command) -> CommandSet {
        CommandSet(self.0 | command.bit())
    }

    /// Whether `command` is in the set.
    pub const fn contains(self, command: Command) -> bool {
        self.0 & command.bit() != 0
    }

    /// Whether the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The union of two sets.
    #[must_use]
    pub const fn union(self, other: CommandSet) -> CommandSet {
        CommandSet(self.0 | other.0)
    }

    /// The commands in the set, in declaration order.
    pub fn iter(self) -> impl Iterator<Item = Command> {
        Command::ALL
            .iter()
            .copied()
            .filter(move |c| self.contains(*c))
    }
}

impl FromIterator<Command> for CommandSet {
    fn from_iter<I: IntoIterator<Item = Command>>(iter: I) -> Self {
        iter.into_iter().fold(CommandSet::EMPTY, CommandSet::with)
    }
}

impl<const N: usize> From<[Command; N]> for CommandSet {
    fn from(commands: [Command; N]) -> Self {
        commands.into_iter().collect()
    }
}

impl From<Command> for CommandSet {
    fn from(command: Command) -> Self {
        CommandSet::EMPTY.with(command)
    }
}

impl fmt::Debug for CommandSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

/// Commands Tencent names in two ways: `(alias, canonical)`. The docs of each spell the query's
/// `CallbackCommand` one way and the body's the other, so both spellings name one command: a query with
/// one and a body with the other is not a mismatch.
const ALIASES: &[(&str, &str)] = &[
    // Older Room pages (protocol.md §3); `Command::UpdateRoomInfo` accepts both too.
    (
        "Room.CallbackUpdateRoomInfo",
        "Room.CallbackAfterUpdateRoomInfo",
    ),
    // TUILiveKit's member-state page: `Live.CallbackMemberStateChanged` in the query table, the other in
    // the body sample and on the older pages (protocol.md §9).
    (
        "Live.CallbackMemberStateChanged",
        "Live.CallbackAfterMemberStateChanged",
    ),
];

/// The canonical name of the command `name` (exact, case-sensitive, already decoded): the canonical
/// spelling for a known alias, `name` itself for every other name.
pub(crate) fn canonical_name(name: &str) -> &str {
    ALIASES
        .iter()
        .find(|(alias, _)| *alias == name)
        .map_or(name, |(_, canonical)| canonical)
}

/// Whether two command names (say the query's and the body's) name one command.
pub(crate) fn same_command(a: &str, b: &str) -> bool {
    canonical_name(a) == canonical_name(b)
}

/// How well a route matched a command (the layer ranks its routes by it; metrics label by it): the
/// last resort (any "after", or any "before", callback), a prefix (by its length), an exact name, a
/// typed event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Rank {
    /// Any "after" callback (an inbox), any "before" callback: the last resort.
    After,
    Prefix(usize),
    Exact,
    Typed,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_alias() {
        for &c in Command::ALL {
            for n in c.names() {
                assert_eq!(Command::from_name(n), Some(c));
            }
        }
        assert_eq!(
            Command::from_name("Room.CallbackUpdateRoomInfo"),
            Some(Command::UpdateRoomInfo)
        );
        assert_eq!(Command::from_name("room.callbackaftermemberleave"), None);
        assert_eq!(Command::from_name(""), None);
    }

    #[test]
    fn callback_commands_of_any_name() {
        let leave = CallbackCommand::new("Room.CallbackAfterMemberLeave");
        assert_eq!(leave, Command::MemberLeave);
        assert_eq!(Command::MemberLeave, leave);
        assert_eq!(leave.typed(), Some(Command::MemberLeave));
        let alias = CallbackCommand::new("Room.CallbackUpdateRoomInfo");
        assert_eq!(alias.as_str(), "Room.CallbackAfterUpdateRoomInfo");
        let chat = CallbackCommand::new("C2C.CallbackBeforeSendMsg");
        assert_eq!(chat.typed(), None);
        assert_eq!(chat.as_str(), "C2C.CallbackBeforeSendMsg");
        assert_ne!(chat, Command::MemberLeave);
        assert_eq!(
            format!("{chat} {chat:?}"),
            "C2C.CallbackBeforeSendMsg \"C2C.CallbackBeforeSendMsg\""
        );
        assert_eq!(
            CallbackCommand::from(Command::CreateRoom),
            CallbackCommand::new("Room.CallbackAfterCreateRoom")
        );
    }

    #[test]
    fn aliases_name_one_command() {
        assert_eq!(
            canonical_name("Live.CallbackMemberStateChanged"),
            "Live.CallbackAfterMemberStateChanged"
        );
        assert_eq!(
            canonical_name("Live.CallbackAfterMemberStateChanged"),
            "Live.CallbackAfterMemberStateChanged"
        );
        assert_eq!(
            canonical_name("Room.CallbackUpdateRoomInfo"),
            "Room.CallbackAfterUpdateRoomInfo"
        );
        // Any other name is its own canonical name, case and all.
        for name in [
            "Room.CallbackAfterMemberLeave",
            "State.StateChange",
            "live.callbackmemberstatechanged",
            "",
        ] {
            assert_eq!(canonical_name(name), name);
        }
        assert!(same_command(
            "Live.CallbackMemberStateChanged",
            "Live.CallbackAfterMemberStateChanged"
        ));
        assert!(same_command(
            "Room.CallbackAfterUpdateRoomInfo",
            "Room.CallbackUpdateRoomInfo"
        ));
        assert!(same_command("State.StateChange", "State.StateChange"));
        assert!(!same_command(
            "Live.CallbackMemberStateChanged",
            "Live.CallbackAfterDestroyRoom"
        ));
        // The table agrees with the Room commands' own spellings, and names no alias twice.
        for &c in Command::ALL {
            for n in c.names() {
                assert_eq!(canonical_name(n), c.name());
            }
        }
        for (i, (alias, canonical)) in ALIASES.iter().enumerate() {
            assert_eq!(canonical_name(canonical), *canonical);
            assert!(ALIASES[i + 1..].iter().all(|(a, _)| a != alias));
        }
    }

    #[test]
    fn sets() {
        let s = CommandSet::from([Command::MemberLeave, Command::CreateRoom]);
        assert!(s.contains(Command::MemberLeave));
        assert!(!s.contains(Command::MemberEnter));
        assert_eq!(s.iter().count(), 2);
        assert_eq!(CommandSet::ALL.iter().count(), 6);
        assert!(CommandSet::EMPTY.is_empty());
    }
}
