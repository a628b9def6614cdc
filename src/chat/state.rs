//! `State.StateChange`.

use serde::{Deserialize, Serialize};

use super::Tag;
use crate::meta::OptPlatform;
use crate::value::{string_enum, AccountId, EventTime};

string_enum!(
    /// What happened to a user's connection (`Info.Action` of [`StateChange`]).
    ///
    /// The current docs report a dropped connection as `Disconnect` with the reason
    /// [`StateReason::LinkClose`] or [`StateReason::TimeOut`]; real deployments also report it as
    /// `Logout` with one of those reasons (see [`StateChangeInfo::is_connection_lost`] and
    /// [`StateChangeInfo::is_heartbeat_timeout`], which read both). Any action this version does not
    /// know is kept.
    StateAction, "state-change action" {
        /// `Login`: the user came online (a connection was established).
        Login => ["Login"],
        /// `Logout`: the user logged out (reason `Unregister`); older deployments also send it for a
        /// dropped connection (reason `LinkClose` or `TimeOut`).
        Logout => ["Logout"],
        /// `Disconnect`: the connection dropped (closed, or the heartbeat timed out).
        Disconnect => ["Disconnect"],
        /// `CustomStatusChange`: the user set a custom status.
        CustomStatusChange => ["CustomStatusChange"],
    }
);

string_enum!(
    /// Why a user's state changed (`Info.Reason` of [`StateChange`]).
    StateReason, "state-change reason" {
        /// `Register`: a connection was established, or re-established after a network drop (`Login`).
        Register => ["Register"],
        /// `Unregister`: the user logged out (`Logout`).
        Unregister => ["Unregister"],
        /// `LinkClose`: Tencent saw the connection close (`Disconnect`, or `Logout` from older
        /// deployments).
        LinkClose => ["LinkClose"],
        /// `TimeOut`: the client's heartbeat timed out, 400 s by default (`Disconnect`, or `Logout` from
        /// older deployments). Sent as `TimeOut` or `Timeout`: parsing ignores ASCII case.
        TimeOut => ["TimeOut"],
        /// `SetCustomStatus`: the user set a custom status (`CustomStatusChange`).
        SetCustomStatus => ["SetCustomStatus"],
    }
);

/// What changed and for whom (`Info` of [`StateChange`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct StateChangeInfo {
    /// `Action`: what happened.
    #[serde(rename = "Action")]
    pub action: StateAction,
    /// `To_Account`: the user whose state changed.
    #[serde(rename = "To_Account")]
    pub user: AccountId,
    /// `Reason`: why.
    #[serde(rename = "Reason", default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<StateReason>,
    /// `CustomStatus`: the user's custom status after a `CustomStatusChange` (listed with the `Info`
    /// fields in Tencent's field table; no sample shows it).
    #[serde(
        rename = "CustomStatus",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub custom_status: Option<String>,
}

impl StateChangeInfo {
    /// An `Info` with its required fields; `reason` and `custom_status` are `None`.
    pub fn new(action: StateAction, user: impl Into<AccountId>) -> Self {
        StateChangeInfo {
            action,
            user: user.into(),
            reason: None,
            custom_status: None,
        }
    }

    /// Whether this is a disconnection detected by a heartbeat timeout: the reason `TimeOut` (any
    /// case) with the action `Disconnect`, as the current docs say, or `Logout`, as older deployments
    /// send it.
    pub fn is_heartbeat_timeout(&self) -> bool {
        matches!(self.action, StateAction::Disconnect | StateAction::Logout)
            && self.reason == Some(StateReason::TimeOut)
    }

    /// Whether the user's connection was lost rather than closed by the user: any `Disconnect`, or a
    /// `Logout` for `LinkClose` or `TimeOut` (how older deployments report a dropped link or a
    /// heartbeat timeout).
    pub fn is_connection_lost(&self) -> bool {
        match self.action {
            StateAction::Disconnect => true,
            StateAction::Logout => matches!(
                self.reason,
                Some(StateReason::LinkClose | StateReason::TimeOut)
            ),
            _ => false,
        }
    }
}

/// A device the login kicked off line (`KickedDevice` entry of [`StateChange`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct KickedDevice {
    /// `Platform`: the kicked device's platform (any case: `iOS`, `IOS`; unknown ones such as `Linux`
    /// are kept as sent).
    #[serde(rename = "Platform")]
    pub platform: OptPlatform,
}

impl KickedDevice {
    /// A kicked device on `platform`.
    pub fn new(platform: OptPlatform) -> Self {
        KickedDevice { platform }
    }
}

/// `State.StateChange`: a user logged in, logged out, was disconnected, or set a custom status.
///
/// Required on the wire: `Info` with its `Action` and `To_Account`. `EventTime` is optional: older
/// deployments send none. `KickedDevice` comes only with a `Login` that kicked other devices off line.
/// Unknown fields are ignored. A `CallbackCommand` in the body, when present, must be
/// `State.StateChange`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct StateChange {
    #[serde(rename = "CallbackCommand", default)]
    command: Tag<StateChange>,
    /// `EventTime`: when it happened (milliseconds; an integer or a numeric string on the wire; absent
    /// from older deployments' callbacks).
    #[serde(rename = "EventTime", default, skip_serializing_if = "Option::is_none")]
    pub event_time: Option<EventTime>,
    /// `Info`: what changed and for whom.
    #[serde(rename = "Info")]
    pub info: StateChangeInfo,
    /// `KickedDevice`: the devices this login kicked off line (empty when absent).
    #[serde(
        rename = "KickedDevice",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub kicked_devices: Vec<KickedDevice>,
}

impl StateChange {
    /// A state change with its required field, no time and no kicked device.
    pub fn new(info: StateChangeInfo) -> Self {
        StateChange {
            command: Tag::default(),
            event_time: None,
            info,
            kicked_devices: Vec::new(),
        }
    }
}
