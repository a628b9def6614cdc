//! `Mic.CallbackAfterSeatInfoChanged`.

use serde::{Deserialize, Serialize};

use super::CommandTag;
use crate::value::{flex, opt_account, AccountId, EventTime};

/// `SeatList`, bounded ([`crate::Config::max_members`]).
fn seat_list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<Seat>, D::Error> {
    crate::value::object_members("SeatList", d)
}

/// One seat of a room's seat list (`SeatList` entry).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Seat {
    /// `Index`: the seat's position.
    #[serde(rename = "Index", deserialize_with = "flex::u32")]
    pub index: u32,
    /// `Member_Account`: who sits there; `None` for an empty seat (absent or empty on the wire).
    #[serde(
        rename = "Member_Account",
        default,
        deserialize_with = "opt_account",
        skip_serializing_if = "Option::is_none"
    )]
    pub member: Option<AccountId>,
    /// `IsTakenDisabled`: the seat is locked.
    #[serde(
        rename = "IsTakenDisabled",
        default,
        deserialize_with = "flex::opt_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub taken_disabled: Option<bool>,
    /// `IsVideoDisabled`: video is disabled on this seat.
    #[serde(
        rename = "IsVideoDisabled",
        default,
        deserialize_with = "flex::opt_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub video_disabled: Option<bool>,
    /// `IsAudioDisabled`: audio is disabled on this seat.
    #[serde(
        rename = "IsAudioDisabled",
        default,
        deserialize_with = "flex::opt_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub audio_disabled: Option<bool>,
}

impl Seat {
    /// A seat at `index`, empty, with no flags.
    pub fn new(index: u32) -> Self {
        Seat {
            index,
            ..Seat::default()
        }
    }
}

/// `Mic.CallbackAfterSeatInfoChanged`: a room's seat list changed.
///
/// Required on the wire: `RoomId` (a string), `SeatList`, `EventTime`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SeatInfoChanged {
    #[serde(rename = "CallbackCommand", default)]
    command: CommandTag<SeatInfoChanged>,
    /// `Operator_Account`: who made the change.
    #[serde(
        rename = "Operator_Account",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub operator: Option<AccountId>,
    /// `RoomId`: the room.
    #[serde(rename = "RoomId")]
    pub room_id: String,
    /// `SeatList`: the seats (at most [`Config::max_members`](crate::Config::max_members)).
    #[serde(rename = "SeatList", deserialize_with = "seat_list")]
    pub seats: Vec<Seat>,
    /// `EventTime`: when it happened (milliseconds).
    #[serde(rename = "EventTime")]
    pub event_time: EventTime,
}

impl SeatInfoChanged {
    /// A seat-change event.
    pub fn new(room_id: impl Into<String>, seats: Vec<Seat>, event_time: EventTime) -> Self {
        SeatInfoChanged {
            command: CommandTag::default(),
            operator: None,
            room_id: room_id.into(),
            seats,
            event_time,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seat_sample_with_numeric_account() {
        let e = SeatInfoChanged::from_json(br#"{"CallbackCommand":"Mic.CallbackAfterSeatInfoChanged","Operator_Account":"user1","RoomId":"rid-123",
 "SeatList":[{"Index":1,"Member_Account":144115233775727695,"IsTakenDisabled":false,
              "IsVideoDisabled":false,"IsAudioDisabled":false},{"Index":"2","Member_Account":""},{"Index":3}],
 "EventTime":1670574414123}"#).unwrap();
        assert_eq!(e.seats.len(), 3);
        assert_eq!(e.seats[0].member.as_ref().unwrap(), "144115233775727695");
        assert_eq!(e.seats[0].taken_disabled, Some(false));
        assert_eq!(e.seats[1].index, 2);
        assert_eq!(e.seats[1].member, None);
        assert_eq!(e.seats[2].member, None);
        let back = serde_json::to_vec(&e).unwrap();
        assert!(String::from_utf8_lossy(&back).contains(r#""Member_Account":"144115233775727695""#));
        assert_eq!(SeatInfoChanged::from_json(&back).unwrap(), e);
        assert!(SeatInfoChanged::from_json(
            br#"{"RoomId":"r","SeatList":[{"Member_Account":"a"}],"EventTime":1}"#
        )
        .is_err());
    }
}
