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
    // A name the crate knows (a TRTC event's) needs no copy.
    Other(std::borrow::Cow<'static, str>),
}

impl CallbackCommand {
    /// The command with this wire name (case-sensitive, already decoded).
    pub fn new(name: impl AsRef<str>) -> Self {
        let name = name.as_ref();
        match Command::from_name(name) {
            Some(c) => CallbackCommand(Name::Typed(c)),
            // One name per command: a spelling Tencent also uses is its canonical name.
            None => CallbackCommand(Name::Other(canonical_name(name).to_owned().into())),
        }
    }

    /// A command whose name is one the crate knows, without a copy of it.
    pub(crate) fn known(name: &'static str) -> Self {
        CallbackCommand(Name::Other(name.into()))
    }

    /// The wire name: the canonical name of a command Tencent spells two ways
    /// (`Room.CallbackAfterUpdateRoomInfo`, `Live.CallbackAfterMemberStateChanged` for either spelling),
    /// any other command's name as it came.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Name::Typed(c) => c.name(),
            Name::Other(name) => name,
        }
    }

    /// Whether this callback is a decision: Tencent waits for its answer, whose `ErrorCode` allows or
    /// refuses something (a message, a friend request, a group join...). A decision must be answered
    /// by its handler at once: stored for later and answered OK, it would mean "allow".
    ///
    /// The commands in [`DECISIONS`](CallbackCommand::DECISIONS), and, so that a new one is never
    /// taken for a notification, any name with `CallbackBefore` or `CallbackPrev` in it (ASCII case
    /// ignored). No Room command is a decision.
    pub fn is_decision(&self) -> bool {
        match &self.0 {
            Name::Typed(_) => false,
            Name::Other(name) => is_decision(name),
        }
    }

    /// Whether this callback is known to be a notification: Tencent ignores its answer's content (an
    /// "after" callback), so that it may be stored and handled later. The six Room commands, the
    /// commands in [`NOTIFICATIONS`](CallbackCommand::NOTIFICATIONS), and every TRTC event
    /// (`TRTC.<group>.<type>`). A command that is neither a decision nor a known notification (a new
    /// one) is neither: route it by name.
    pub fn is_notification(&self) -> bool {
        match &self.0 {
            Name::Typed(_) => true,
            Name::Other(name) => is_notification(name),
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

impl CallbackCommand {
    /// The decision callbacks Tencent documents for Chat (IM), Live and Room, sorted: see
    /// [`is_decision`](CallbackCommand::is_decision). Sources: Tencent's callback lists
    /// (<https://trtc.io/document/34354>, <https://intl.cloud.tencent.com/document/product/1047/34354>)
    /// and each command's page.
    ///
    /// How each decides differs: `C2C.CallbackBeforeSendMsg` and `Group.CallbackBeforeSendMsg` read the
    /// answer's `ErrorCode` (0 allow, 1 refuse, 2 drop silently) and may take a replacement `MsgBody`;
    /// `Sns.CallbackPrevFriendAdd` and `Sns.CallbackPrevFriendResponse` refuse per target through
    /// `ResultItem[].ResultCode`, not the top-level `ErrorCode`; `Chatbot.OnC2CSignalMessage` answers
    /// with data (`RspData`). A late or failed answer lets a Chat message or request through, but
    /// blocks a gift (`Live.CallbackBeforeSendGift`). None is retried.
    pub const DECISIONS: &'static [&'static str] = DECISIONS;

    /// The notification callbacks Tencent documents for Chat (IM), Live and TUICallKit besides the six
    /// Room commands, sorted: see [`is_notification`](CallbackCommand::is_notification). Not in it, for
    /// want of a documented answer: `Bot.OnC2CMessage` and `Bot.OnGroupMessage`.
    pub const NOTIFICATIONS: &'static [&'static str] = NOTIFICATIONS;
}

/// See [`CallbackCommand::DECISIONS`].
const DECISIONS: &[&str] = &[
    "C2C.CallbackBeforeSendMsg",
    "Chatbot.OnC2CSignalMessage",
    "Group.CallbackBeforeApplyJoinGroup",
    "Group.CallbackBeforeCreateGroup",
    "Group.CallbackBeforeCreateTopic",
    "Group.CallbackBeforeInviteJoinGroup",
    "Group.CallbackBeforeSendMsg",
    "Live.CallbackBeforeSendGift",
    "OfficialAccount.CallbackBeforeAddSubscriber",
    "OfficialAccount.CallbackBeforeCreateOfficialAccount",
    "OfficialAccount.CallbackBeforeSendMsg",
    "Sns.CallbackPrevFriendAdd",
    "Sns.CallbackPrevFriendResponse",
];

/// See [`CallbackCommand::NOTIFICATIONS`].
const NOTIFICATIONS: &[&str] = &[
    "Alert.RequestOverLimit",
    "C2C.CallbackAfterC2CMsgExtension",
    "C2C.CallbackAfterModifyMsg",
    "C2C.CallbackAfterMsgReadAll",
    "C2C.CallbackAfterMsgReadReceipt",
    "C2C.CallbackAfterMsgReport",
    "C2C.CallbackAfterMsgWithDraw",
    "C2C.CallbackAfterSendMsg",
    "Call.CallbackAfterEndCall",
    "Call.CallbackAfterMemberChanged",
    "Call.CallbackAfterStartCall",
    "ContentCallback.ResultNotify",
    "Follow.CallbackAfterFollowAdd",
    "Follow.CallbackAfterFollowDelete",
    "Group.CallbackAfterChangeGroupOwner",
    "Group.CallbackAfterCreateGroup",
    "Group.CallbackAfterCreateTopic",
    "Group.CallbackAfterGroupAttrChanged",
    "Group.CallbackAfterGroupDestroyed",
    "Group.CallbackAfterGroupFull",
    "Group.CallbackAfterGroupInfoChanged",
    "Group.CallbackAfterGroupMsgExtension",
    "Group.CallbackAfterMemberExit",
    "Group.CallbackAfterMemberFieldChanged",
    "Group.CallbackAfterModifyMsg",
    "Group.CallbackAfterNewMemberJoin",
    "Group.CallbackAfterReadReceipt",
    "Group.CallbackAfterRecallMsg",
    "Group.CallbackAfterSendMsg",
    "Group.CallbackAfterTopicDestroyed",
    "Group.CallbackAfterTopicInfoChanged",
    "Group.CallbackOnDailyGroupQuotaAlarm",
    "Group.CallbackOnMemberStateChange",
    "Group.CallbackSendMsgException",
    "Live.CallbackAfterChangeOwner",
    "Live.CallbackAfterCloudRecordingChanged",
    "Live.CallbackAfterCreateBattle",
    "Live.CallbackAfterCreateRoom",
    "Live.CallbackAfterCreateRoomReachingThreshold",
    "Live.CallbackAfterDelMetadata",
    "Live.CallbackAfterDestroyRoom",
    "Live.CallbackAfterEndBattle",
    "Live.CallbackAfterMemberStateChanged",
    "Live.CallbackAfterModifyAdmin",
    "Live.CallbackAfterSetMetadata",
    "Live.CallbackAfterStartBattle",
    "Live.CallbackAfterUpdateRoomInfo",
    "Live.CallbackMemberStateChanged",
    "OfficialAccount.CallbackAfterAddSubscriber",
    "OfficialAccount.CallbackAfterCreateOfficialAccount",
    "OfficialAccount.CallbackAfterDeleteSubscriber",
    "OfficialAccount.CallbackAfterMsgWithDraw",
    "OfficialAccount.CallbackAfterOfficialAccountDestroyed",
    "OfficialAccount.CallbackAfterOfficialAccountFull",
    "OfficialAccount.CallbackAfterOfficialAccountInfoChanged",
    "OfficialAccount.CallbackAfterSendMsg",
    "Profile.CallbackPortraitSet",
    "Push.AllMemberPush",
    "Push.OfflinePush",
    "Sns.CallbackBlackListAdd",
    "Sns.CallbackBlackListDelete",
    "Sns.CallbackFriendAdd",
    "Sns.CallbackFriendDelete",
    "State.StateChange",
];

/// The prefix of the pseudo-commands TRTC's event callbacks are routed by (`TRTC.1.104`).
pub(crate) const TRTC_PREFIX: &str = "TRTC.";

fn contains_ignoring_case(name: &str, part: &str) -> bool {
    name.as_bytes()
        .windows(part.len())
        .any(|w| w.eq_ignore_ascii_case(part.as_bytes()))
}

fn is_decision(name: &str) -> bool {
    DECISIONS.binary_search(&name).is_ok()
        || contains_ignoring_case(name, "CallbackBefore")
        || contains_ignoring_case(name, "CallbackPrev")
}

fn is_notification(name: &str) -> bool {
    !is_decision(name)
        && (NOTIFICATIONS.binary_search(&name).is_ok()
            || Command::from_name(name).is_some()
            || name.starts_with(TRTC_PREFIX))
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
/// last resort (any notification, or any decision), a prefix (by its length), an exact name, a typed
/// event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Rank {
    /// Any notification (an inbox), any decision: the last resort.
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
    fn the_tables_are_sorted_and_apart() {
        assert!(DECISIONS.windows(2).all(|w| w[0] < w[1]));
        assert!(NOTIFICATIONS.windows(2).all(|w| w[0] < w[1]));
        for d in DECISIONS {
            let c = CallbackCommand::new(d);
            assert!(c.is_decision() && !c.is_notification(), "{d}");
        }
        for n in NOTIFICATIONS {
            let c = CallbackCommand::new(n);
            assert!(c.is_notification() && !c.is_decision(), "{n}");
        }
        for &c in Command::ALL {
            let c = CallbackCommand::from(c);
            assert!(c.is_notification() && !c.is_decision());
        }
        // Named like a decision: one, known or not. Named like nothing known: neither.
        assert!(CallbackCommand::new("Group.CallbackBeforeSomethingNew").is_decision());
        assert!(CallbackCommand::new("Sns.CallbackPrevSomethingNew").is_decision());
        assert!(CallbackCommand::new("c2c.callbackbeforesendmsg").is_decision());
        let new = CallbackCommand::new("Group.CallbackAfterSomethingNew");
        assert!(!new.is_decision() && !new.is_notification());
        assert!(CallbackCommand::new("TRTC.1.104").is_notification());
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
