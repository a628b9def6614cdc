//! Metrics of the callback layer (feature `metrics`), recorded through the
//! [`metrics`](https://docs.rs/metrics/0.24) facade: install any recorder (a Prometheus exporter, StatsD,
//! a test's `DebuggingRecorder`) and they appear there; with none installed, each recording is the
//! facade's no-op. Without the feature the layer records nothing and has no code for it.
//!
//! | name | type | labels | what it counts or measures |
//! |---|---|---|---|
//! | `tencent_room_callback_callbacks_total` | counter | `command`, `outcome` | requests that carry a `CallbackCommand` on a path the layer serves, by how the layer ended them |
//! | `tencent_room_callback_rejections_total` | counter | `reason` | FAIL answers of the layer (every `outcome` but `ok`, `forwarded` and `verified`), by [`RejectionKind`] |
//! | `tencent_room_callback_handler_duration_seconds` | histogram | `command`, `outcome` | a handler's time: from the event handed to it to its answer, error or panic |
//! | `tencent_room_callback_request_duration_seconds` | histogram | `command`, `outcome` | the layer's time for a request: from taking it to its answer being ready (verification, body, decoding, handler), or to the request handed to the inner service (`forwarded`, `verified`: the inner service's own time is not in it) |
//!
//! Requests without a `CallbackCommand` (or on a path the layer does not serve, or with a command no
//! route takes under `verify_unrouted(false)`) are passed through untouched and not counted.
//!
//! Every label takes its value from a fixed, small set, so that a sender cannot create series at will:
//!
//! - `command`: the canonical name of a Room command (`Room.CallbackAfterMemberLeave`...); for another
//!   command, the name of the [`on_command`](crate::CallbackLayer::on_command) route that took it, or
//!   the prefix of the [`on_prefix`](crate::CallbackLayer::on_prefix) route followed by `*`
//!   (`Group.*`; `*` for the prefix `""`); `other` for a verified command no route takes;
//!   `unverified` for a request refused before its query was verified (method, `SdkAppid`, signature,
//!   conflicting parameters), whose command nothing vouches for.
//! - `outcome`: `ok` (a handler answered), `forwarded` (the event went to the inner service in the
//!   request's extensions), `verified` (no route takes the command: passed on with its metadata),
//!   `rejected` (refused by the layer, or by the handler with a [`Rejection`](crate::Rejection) of its
//!   own), `handler_error`, `unavailable` (the handler's `HandlerError::unavailable`, 503),
//!   `handler_panic` (as the `tracing` feature's `outcome` field says), `decision_fallback` (a
//!   decision's handler was late, failed or panicked: the configured fallback answered).
//! - `reason`: [`RejectionKind`] in snake case: `unknown_command`, `missing_sdk_app_id`,
//!   `malformed_sdk_app_id`, `conflicting_parameter`, `body_read_error`, `malformed_body`,
//!   `missing_signature`, `malformed_request_time`, `stale_request_time`, `bad_signature`,
//!   `unknown_sdk_app_id`, `method_not_allowed`, `body_timeout`, `body_too_large`, `handler_failed`,
//!   `handler_panicked`, `unavailable`.
//!
//! Histograms are in seconds. Descriptions and units are given to the recorder the first time the layer
//! records anything; with a recorder installed later than that, call [`describe`]. A Prometheus
//! exporter renders a histogram as a summary unless it is given buckets for it (for instance
//! `PrometheusBuilder::set_buckets_for_metric` with [`HANDLER_DURATION`] and [`REQUEST_DURATION`]).
//! `examples/server.rs` serves them in Prometheus' text format when `ROOM_CALLBACK_METRICS_ADDR` is set.

#![cfg_attr(not(feature = "metrics"), allow(dead_code, unused_variables))]

#[cfg(feature = "metrics")]
use std::sync::{OnceLock, PoisonError, RwLock};
#[cfg(feature = "metrics")]
use std::time::Instant;

#[cfg(feature = "metrics")]
use ::metrics::{Key, Label, Level, Metadata, Unit};

use crate::command::CallbackCommand;
#[cfg(feature = "metrics")]
use crate::command::Command;
use crate::command::Rank;
use crate::reject::RejectionKind;

/// `tencent_room_callback_callbacks_total`: a counter, labels `command` and `outcome`.
#[cfg(feature = "metrics")]
pub const CALLBACKS: &str = "tencent_room_callback_callbacks_total";
/// `tencent_room_callback_rejections_total`: a counter, label `reason`.
#[cfg(feature = "metrics")]
pub const REJECTIONS: &str = "tencent_room_callback_rejections_total";
/// `tencent_room_callback_handler_duration_seconds`: a histogram, labels `command` and `outcome`.
#[cfg(feature = "metrics")]
pub const HANDLER_DURATION: &str = "tencent_room_callback_handler_duration_seconds";
/// `tencent_room_callback_request_duration_seconds`: a histogram, labels `command` and `outcome`.
#[cfg(feature = "metrics")]
pub const REQUEST_DURATION: &str = "tencent_room_callback_request_duration_seconds";
/// Gives the installed recorder the description and unit of every metric above. The layer does it by
/// itself the first time it records; call this when the recorder is installed after that.
#[cfg(feature = "metrics")]
pub fn describe() {
    ::metrics::describe_counter!(
        CALLBACKS,
        Unit::Count,
        "Requests carrying a CallbackCommand on a served path, by command and outcome"
    );
    ::metrics::describe_counter!(
        REJECTIONS,
        Unit::Count,
        "FAIL answers of the callback layer, by rejection kind"
    );
    ::metrics::describe_histogram!(
        HANDLER_DURATION,
        Unit::Seconds,
        "Time from an event handed to its handler to the handler's answer"
    );
    ::metrics::describe_histogram!(
        REQUEST_DURATION,
        Unit::Seconds,
        "Time from the layer taking a callback to its answer (or its hand-off to the inner service)"
    );
}

/// How a request ended: the `outcome` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Ok,
    Forwarded,
    Verified,
    Rejected,
    HandlerError,
    Unavailable,
    HandlerPanic,
    DecisionFallback,
}

impl Outcome {
    /// Every outcome, in the order of their discriminants (the index into a series' keys).
    #[cfg(feature = "metrics")]
    const ALL: [Outcome; 8] = [
        Outcome::Ok,
        Outcome::Forwarded,
        Outcome::Verified,
        Outcome::Rejected,
        Outcome::HandlerError,
        Outcome::Unavailable,
        Outcome::HandlerPanic,
        Outcome::DecisionFallback,
    ];

    #[cfg(feature = "metrics")]
    const COUNT: usize = Outcome::ALL.len();

    const fn label(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Forwarded => "forwarded",
            Outcome::Verified => "verified",
            Outcome::Rejected => "rejected",
            Outcome::HandlerError => "handler_error",
            Outcome::Unavailable => "unavailable",
            Outcome::HandlerPanic => "handler_panic",
            Outcome::DecisionFallback => "decision_fallback",
        }
    }

    /// The outcome of an answer with this rejection.
    const fn of(kind: RejectionKind) -> Outcome {
        match kind {
            RejectionKind::HandlerFailed => Outcome::HandlerError,
            RejectionKind::Unavailable => Outcome::Unavailable,
            RejectionKind::HandlerPanicked => Outcome::HandlerPanic,
            _ => Outcome::Rejected,
        }
    }
}

/// The `reason` label of every rejection kind, at its place in the table of rejection keys.
const REASONS: [&str; 17] = [
    "unknown_command",
    "missing_sdk_app_id",
    "malformed_sdk_app_id",
    "conflicting_parameter",
    "body_read_error",
    "malformed_body",
    "missing_signature",
    "malformed_request_time",
    "stale_request_time",
    "bad_signature",
    "unknown_sdk_app_id",
    "method_not_allowed",
    "body_timeout",
    "body_too_large",
    "handler_failed",
    "handler_panicked",
    "unavailable",
];

/// The place of a rejection kind's `reason` in [`REASONS`] (an exhaustive match: a new kind must be
/// given its name).
const fn reason(kind: RejectionKind) -> usize {
    match kind {
        RejectionKind::UnknownCommand => 0,
        RejectionKind::MissingSdkAppId => 1,
        RejectionKind::MalformedSdkAppId => 2,
        RejectionKind::ConflictingParameter => 3,
        RejectionKind::BodyReadError => 4,
        RejectionKind::MalformedBody => 5,
        RejectionKind::MissingSignature => 6,
        RejectionKind::MalformedRequestTime => 7,
        RejectionKind::StaleRequestTime => 8,
        RejectionKind::BadSignature => 9,
        RejectionKind::UnknownSdkAppId => 10,
        RejectionKind::MethodNotAllowed => 11,
        RejectionKind::BodyTimeout => 12,
        RejectionKind::BodyTooLarge => 13,
        RejectionKind::HandlerFailed => 14,
        RejectionKind::HandlerPanicked => 15,
        RejectionKind::Unavailable => 16,
    }
}

/// The `command` label for a request refused before its query was verified.
const UNVERIFIED: &str = "unverified";
/// The `command` label for a verified command that is neither a Room command nor a route's.
const OTHER: &str = "other";
/// At most this many route names and prefixes get a `command` label of their own (a bound on memory
/// should a chain of routes be built from names without end); the others count as `other`.
#[cfg(feature = "metrics")]
const MAX_NAMED: usize = 256;

/// The keys of one `command` label, built once: recording copies nothing and allocates nothing.
#[cfg(feature = "metrics")]
#[derive(Debug)]
struct Series {
    /// The label (read by `Debug` and the tests).
    #[cfg_attr(not(test), allow(dead_code))]
    command: &'static str,
    callbacks: [Key; Outcome::COUNT],
    handler: [Key; Outcome::COUNT],
    request: [Key; Outcome::COUNT],
}

#[cfg(feature = "metrics")]
impl Series {
    fn new(command: &'static str) -> Series {
        let keys = |name: &'static str| {
            Outcome::ALL.map(|outcome| {
                Key::from_parts(
                    name,
                    vec![
                        Label::new("command", command),
                        Label::from_static_parts("outcome", outcome.label()),
                    ],
                )
            })
        };
        Series {
            command,
            callbacks: keys(CALLBACKS),
            handler: keys(HANDLER_DURATION),
            request: keys(REQUEST_DURATION),
        }
    }
}

/// The series of the fixed labels (the Room commands, `other`, `unverified`) and the rejection keys.
#[cfg(feature = "metrics")]
#[derive(Debug)]
struct Fixed {
    /// In the order of `Command::ALL`.
    room: Box<[Series]>,
    other: Series,
    unverified: Series,
    rejections: [Key; 17],
}

#[cfg(feature = "metrics")]
fn fixed() -> &'static Fixed {
    static FIXED: OnceLock<Fixed> = OnceLock::new();
    FIXED.get_or_init(|| {
        describe();
        Fixed {
            room: Command::ALL.iter().map(|c| Series::new(c.name())).collect(),
            other: Series::new(OTHER),
            unverified: Series::new(UNVERIFIED),
            rejections: REASONS.map(|name| {
                Key::from_parts(REJECTIONS, vec![Label::from_static_parts("reason", name)])
            }),
        }
    })
}

/// The series of a route's name (`prefix` false) or prefix, made the first time it is asked for.
#[cfg(feature = "metrics")]
fn named(name: &str, prefix: bool) -> &'static Series {
    struct Named {
        name: &'static str,
        prefix: bool,
        series: &'static Series,
    }
    static NAMED: RwLock<Vec<Named>> = RwLock::new(Vec::new());
    let find = |all: &[Named]| {
        all.iter()
            .find(|n| n.prefix == prefix && n.name == name)
            .map(|n| n.series)
    };
    if let Some(series) = find(&NAMED.read().unwrap_or_else(PoisonError::into_inner)) {
        return series;
    }
    let mut all = NAMED.write().unwrap_or_else(PoisonError::into_inner);
    if let Some(series) = find(&all) {
        return series;
    }
    if all.len() >= MAX_NAMED {
        return &fixed().other;
    }
    // Leaked on purpose: one per route name or prefix, for the life of the process, as the fixed ones.
    let label = if prefix {
        format!("{name}*")
    } else {
        name.to_owned()
    };
    let series: &'static Series = Box::leak(Box::new(Series::new(Box::leak(label.into()))));
    all.push(Named {
        name: Box::leak(name.into()),
        prefix,
        series,
    });
    series
}

#[cfg(feature = "metrics")]
static METADATA: Metadata<'static> =
    Metadata::new("tencent_room_callback", Level::INFO, Some(module_path!()));

/// What the metrics of one request need: its `command` label (`unverified` until its query is
/// verified) and when the layer took it. Empty without the feature.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Request {
    #[cfg(feature = "metrics")]
    series: &'static Series,
    #[cfg(feature = "metrics")]
    started: Instant,
}

impl Request {
    /// A request that carries a command, taken now, not verified yet.
    #[inline]
    pub(crate) fn start() -> Request {
        Request {
            #[cfg(feature = "metrics")]
            series: &fixed().unverified,
            #[cfg(feature = "metrics")]
            started: Instant::now(),
        }
    }

    /// The same request once its query is verified: labelled with its command, as the route that
    /// takes it (`rank`, if any) allows.
    #[inline]
    pub(crate) fn verified(self, command: &CallbackCommand, rank: Option<Rank>) -> Request {
        #[cfg(feature = "metrics")]
        {
            Request {
                series: series(command, rank),
                started: self.started,
            }
        }
        #[cfg(not(feature = "metrics"))]
        self
    }
}

/// The series of a verified command: its own for a Room command or a route's name, the route's prefix's,
/// or `other`'s.
#[cfg(feature = "metrics")]
fn series(command: &CallbackCommand, rank: Option<Rank>) -> &'static Series {
    let fixed = fixed();
    if let Some(typed) = command.typed() {
        if let Some(at) = Command::ALL.iter().position(|c| *c == typed) {
            return &fixed.room[at];
        }
    }
    let name = command.as_str();
    match rank {
        // Only a route registered with exactly this name takes it by name (a typed route takes only
        // names the crate knows).
        Some(Rank::Exact | Rank::Typed) => named(name, false),
        // The name starts with the route's prefix, `len` bytes long.
        Some(Rank::Prefix(len)) => match name.get(..len) {
            Some(prefix) => named(prefix, true),
            None => &fixed.other,
        },
        // No route: passed on with its metadata, or taken by a route of any name.
        _ => &fixed.other,
    }
}

/// When a handler was handed its event. Empty without the feature.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    #[cfg(feature = "metrics")]
    at: Instant,
}

impl Clock {
    #[inline]
    pub(crate) fn start() -> Clock {
        Clock {
            #[cfg(feature = "metrics")]
            at: Instant::now(),
        }
    }
}

/// The layer refused the request (from its head, its body, or its event) or the event's delivery
/// panicked, before any handler ran.
#[inline]
pub(crate) fn rejected(request: Request, kind: RejectionKind) {
    #[cfg(feature = "metrics")]
    record(request, Outcome::of(kind), Some(kind), None);
}

/// A verified callback no route takes went to the inner service with its metadata.
#[inline]
pub(crate) fn verified(request: Request) {
    #[cfg(feature = "metrics")]
    record(request, Outcome::Verified, None, None);
}

/// The event went to the inner service in the request's extensions.
#[inline]
pub(crate) fn forwarded(request: Request) {
    #[cfg(feature = "metrics")]
    record(request, Outcome::Forwarded, None, None);
}

/// The handler handed its event at `handler` answered (`Ok`), or failed, refused the callback or
/// panicked (`Err` with the answer's kind).
#[inline]
pub(crate) fn handled(request: Request, handler: Clock, result: Result<(), RejectionKind>) {
    #[cfg(feature = "metrics")]
    match result {
        Ok(()) => record(request, Outcome::Ok, None, Some(handler)),
        Err(kind) => record(request, Outcome::of(kind), Some(kind), Some(handler)),
    }
}

/// A decision's handler was late, failed or panicked: the configured fallback answered.
#[inline]
pub(crate) fn fell_back(request: Request, handler: Clock) {
    #[cfg(feature = "metrics")]
    record(request, Outcome::DecisionFallback, None, Some(handler));
}

#[cfg(feature = "metrics")]
fn record(
    request: Request,
    outcome: Outcome,
    reason: Option<RejectionKind>,
    handler: Option<Clock>,
) {
    let now = Instant::now();
    let at = outcome as usize;
    let series = request.series;
    ::metrics::with_recorder(|recorder| {
        recorder
            .register_counter(&series.callbacks[at], &METADATA)
            .increment(1);
        if let Some(kind) = reason {
            recorder
                .register_counter(&fixed().rejections[self::reason(kind)], &METADATA)
                .increment(1);
        }
        if let Some(handler) = handler {
            recorder
                .register_histogram(&series.handler[at], &METADATA)
                .record(now.saturating_duration_since(handler.at).as_secs_f64());
        }
        recorder
            .register_histogram(&series.request[at], &METADATA)
            .record(now.saturating_duration_since(request.started).as_secs_f64());
    });
}

#[cfg(all(test, feature = "metrics"))]
mod tests {
    use std::collections::HashSet;

    use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};

    use super::*;
    use crate::reject::tests::ALL_KINDS;

    /// Every value recorded since the last snapshot: (name, labels as `k=v` sorted, value).
    fn values(snapshotter: &Snapshotter) -> Vec<(String, Vec<String>, DebugValue)> {
        let mut all: Vec<_> = snapshotter
            .snapshot()
            .into_vec()
            .into_iter()
            .map(|(key, _, _, value)| {
                let key = key.key();
                let mut labels: Vec<String> = key
                    .labels()
                    .map(|l| format!("{}={}", l.key(), l.value()))
                    .collect();
                labels.sort();
                (key.name().to_owned(), labels, value)
            })
            .collect();
        all.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        all
    }

    fn labels(pairs: &[&str]) -> Vec<String> {
        pairs.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn reasons_are_distinct_snake_case_names_of_every_kind() {
        let mut places = HashSet::new();
        let mut names = HashSet::new();
        for kind in ALL_KINDS {
            let at = reason(kind);
            let name = REASONS[at];
            assert!(places.insert(at), "{kind:?}: place {at} taken twice");
            assert!(names.insert(name), "{kind:?}: {name} taken twice");
            assert!(
                name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{name}"
            );
            // The same words as the variant's name.
            let words: String = format!("{kind:?}").to_ascii_lowercase();
            assert_eq!(name.replace('_', ""), words, "{kind:?}");
        }
        assert_eq!(places.len(), REASONS.len());
        // The module docs list every reason.
        let docs = include_str!("metrics.rs");
        for name in names {
            assert!(
                docs.contains(&format!("`{name}`")),
                "{name} is not documented"
            );
        }
    }

    #[test]
    fn outcomes_sit_at_their_index() {
        for (at, outcome) in Outcome::ALL.into_iter().enumerate() {
            assert_eq!(outcome as usize, at, "{outcome:?}");
        }
        assert_eq!(Outcome::of(RejectionKind::BadSignature), Outcome::Rejected);
        assert_eq!(
            Outcome::of(RejectionKind::HandlerFailed),
            Outcome::HandlerError
        );
        assert_eq!(
            Outcome::of(RejectionKind::Unavailable),
            Outcome::Unavailable
        );
        assert_eq!(
            Outcome::of(RejectionKind::HandlerPanicked),
            Outcome::HandlerPanic
        );
    }

    #[test]
    fn command_labels_come_from_a_bounded_set() {
        let label =
            |name: &str, rank: Option<Rank>| series(&CallbackCommand::new(name), rank).command;
        for command in Command::ALL {
            for rank in [None, Some(Rank::Typed), Some(Rank::Prefix(5))] {
                assert_eq!(label(command.name(), rank), command.name());
            }
        }
        // The older spelling counts as the canonical name.
        assert_eq!(
            label("Room.CallbackUpdateRoomInfo", None),
            "Room.CallbackAfterUpdateRoomInfo"
        );
        // A route's own name; a prefix route's prefix; anything else `other`.
        assert_eq!(
            label("Group.CallbackAfterSendMsg", Some(Rank::Exact)),
            "Group.CallbackAfterSendMsg"
        );
        assert_eq!(
            label("Group.CallbackAfterSendMsg", Some(Rank::Prefix(6))),
            "Group.*"
        );
        assert_eq!(label("Group.x1", Some(Rank::Prefix(6))), "Group.*");
        assert_eq!(label("Live.Anything", Some(Rank::Prefix(0))), "*");
        assert_eq!(label("Live.Anything", None), OTHER);
        assert_eq!(label("Random.a8f3", None), OTHER);
        // A length that is not a boundary of the name (never given by a route): `other`.
        assert_eq!(label("é", Some(Rank::Prefix(1))), OTHER);
        // The same name is one series, made once.
        let a = series(&CallbackCommand::new("Group.x1"), Some(Rank::Prefix(6)));
        let b = series(&CallbackCommand::new("Group.x2"), Some(Rank::Prefix(6)));
        assert!(std::ptr::eq(a, b));
        assert_eq!(Request::start().series.command, UNVERIFIED);
    }

    #[test]
    fn recordings_carry_their_labels() {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        let _guard = ::metrics::set_default_local_recorder(&recorder);

        let leave = CallbackCommand::from(Command::MemberLeave);
        rejected(Request::start(), RejectionKind::BadSignature);
        let request = Request::start().verified(&leave, Some(Rank::Typed));
        handled(request, Clock::start(), Ok(()));
        handled(request, Clock::start(), Err(RejectionKind::Unavailable));
        let chat = CallbackCommand::new("Group.CallbackAfterSendMsg");
        verified(Request::start().verified(&chat, None));
        forwarded(Request::start().verified(&chat, Some(Rank::Exact)));

        let all = values(&snapshotter);
        let leave = "command=Room.CallbackAfterMemberLeave";
        let group = "command=Group.CallbackAfterSendMsg";
        let counter = DebugValue::Counter;
        fn one_sample(value: &DebugValue) -> bool {
            let DebugValue::Histogram(samples) = value else {
                return false;
            };
            samples.len() == 1 && (0.0..60.0).contains(&samples[0].0)
        }
        // Everything recorded, and nothing else.
        let expected = [
            (
                CALLBACKS,
                vec![group, "outcome=forwarded"],
                Some(counter(1)),
            ),
            (CALLBACKS, vec![leave, "outcome=ok"], Some(counter(1))),
            (
                CALLBACKS,
                vec![leave, "outcome=unavailable"],
                Some(counter(1)),
            ),
            (
                CALLBACKS,
                vec!["command=other", "outcome=verified"],
                Some(counter(1)),
            ),
            (
                CALLBACKS,
                vec!["command=unverified", "outcome=rejected"],
                Some(counter(1)),
            ),
            (HANDLER_DURATION, vec![leave, "outcome=ok"], None),
            (HANDLER_DURATION, vec![leave, "outcome=unavailable"], None),
            (REJECTIONS, vec!["reason=bad_signature"], Some(counter(1))),
            (REJECTIONS, vec!["reason=unavailable"], Some(counter(1))),
            (REQUEST_DURATION, vec![group, "outcome=forwarded"], None),
            (REQUEST_DURATION, vec![leave, "outcome=ok"], None),
            (REQUEST_DURATION, vec![leave, "outcome=unavailable"], None),
            (
                REQUEST_DURATION,
                vec!["command=other", "outcome=verified"],
                None,
            ),
            (
                REQUEST_DURATION,
                vec!["command=unverified", "outcome=rejected"],
                None,
            ),
        ];
        assert_eq!(
            all.iter()
                .map(|(name, labels, _)| (name.clone(), labels.clone()))
                .collect::<Vec<_>>(),
            expected
                .iter()
                .map(|(name, l, _)| (name.to_string(), labels(l)))
                .collect::<Vec<_>>(),
        );
        for ((name, labels, value), (_, _, expected)) in all.iter().zip(expected) {
            match expected {
                Some(expected) => assert_eq!(*value, expected, "{name} {labels:?}"),
                // A histogram: one sample, in seconds.
                None => assert!(one_sample(value), "{name} {labels:?}: {value:?}"),
            }
        }
    }
}
