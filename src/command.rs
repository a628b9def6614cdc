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

    /// Like [`Command::from_name`] for a raw query value that may still be percent-encoded.
    /// Never allocates.
    pub(crate) fn from_raw_query_value(raw: &str) -> Option<Command> {
        if memchr::memchr(b'%', raw.as_bytes()).is_none() {
            return Command::from_name(raw);
        }
        Command::ALL.iter().copied().find(|c| {
            c.names()
                .iter()
                .any(|n| percent_encoding::percent_decode_str(raw).eq(n.bytes()))
        })
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
    fn raw_values_are_percent_decoded() {
        assert_eq!(
            Command::from_raw_query_value("Room%2ECallbackAfterMemberLeave"),
            Some(Command::MemberLeave)
        );
        assert_eq!(
            Command::from_raw_query_value("Room%2eCallbackAfterMemberLeave"),
            Some(Command::MemberLeave)
        );
        assert_eq!(
            Command::from_raw_query_value("Room.CallbackAfterMemberLeave%00"),
            None
        );
        assert_eq!(Command::from_raw_query_value("%"), None);
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
