//! Stdout's lines, with or without an inbox. With `ROOM_CALLBACK_PRINT=callbacks` (the default), each
//! callback as one JSON line: a Room event typed, any other one-URL body compacted (with the query's
//! `CallbackCommand` first when the body has none), a TRTC event's body compacted, keys in the order
//! received and every number as sent. With `departures`, one line per departed member and per closed
//! room, from both URLs, and nothing for the rest.

use std::fmt;
use std::time::Duration;

use serde::de::{Deserializer, IgnoredAny};
use serde::Deserialize;
use tencent_room_callback::departure::{Change, Changes};
use tencent_room_callback::{
    trtc, Ack, CallbackCommand, CallbackLayer, CallbackMeta, Event, HandlerError, RawCallback,
    Rejection, RejectionKind, RoomEvent,
};
use tencent_room_callback_inbox::{Inbox, InboxEvent, InboxHandler};

use crate::stdout::Printer;
use crate::{logs, LOG_TARGET};

/// Prints a Room event as one JSON line on stdout, after the simulated `work`.
async fn print_event(
    printer: Printer,
    event: RoomEvent,
    work: Duration,
) -> Result<(), HandlerError> {
    if !work.is_zero() {
        tokio::time::sleep(work).await;
    }
    // Serialized straight into the printer's buffer: no line of its own to allocate and copy.
    printer
        .print_with(|out| serde_json::to_writer(out, &event))
        .await
}

/// Prints any other callback's body as one JSON line on stdout (see the module docs), after `work`.
async fn print_raw(
    printer: Printer,
    callback: RawCallback,
    work: Duration,
) -> Result<Ack, HandlerError> {
    let line = raw_line(&callback)?;
    if !work.is_zero() {
        tokio::time::sleep(work).await;
    }
    printer.print(line).await?;
    Ok(Ack::ok())
}

/// The names of the commands in neither of the crate's tables seen so far, each logged once.
static UNKNOWN_SEEN: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// The most unknown command names remembered (and logged): a sender cannot grow the list past it.
const UNKNOWN_REMEMBERED: usize = 256;

/// With an inbox, a command in neither table (neither a known decision nor a known notification) is
/// handled inline, as a decision would be (it might be one), and its name is logged once at WARN, so
/// that it can be named in the configuration.
async fn print_unknown(
    printer: Printer,
    callback: RawCallback,
    work: Duration,
    mode: Mode,
) -> Result<Ack, HandlerError> {
    let name = callback.meta.command.as_str();
    let first = {
        let mut seen = UNKNOWN_SEEN.lock().unwrap_or_else(|e| e.into_inner());
        let new = seen.len() < UNKNOWN_REMEMBERED && !seen.iter().any(|n| n == name);
        if new {
            seen.push(name.to_owned());
        }
        new
    };
    if first {
        tracing::warn!(
            target: LOG_TARGET,
            command = name,
            "a command in neither table (decisions, notifications): handled inline, not stored; \
             if it is a notification, name it to store it"
        );
    }
    match mode {
        Mode::Callbacks => print_raw(printer, callback, work).await,
        Mode::Departures => Ok(Ack::ok()),
    }
}

/// The inbox worker's handler: the stored event printed as the same line as without an inbox.
async fn print_stored(
    printer: Printer,
    event: InboxEvent,
    work: Duration,
    mode: Mode,
) -> Result<(), HandlerError> {
    if mode == Mode::Departures {
        // Every notification is stored; only those that can say who left are read.
        let command = event.meta().command.as_str();
        if !<Changes as Event>::COMMANDS.contains(&command) {
            return Ok(());
        }
        let changes: Changes = event.decode()?;
        return print_changes(printer, changes, work).await;
    }
    let line = match event.meta().command.typed() {
        Some(command) => serde_json::to_vec(&RoomEvent::from_json(command, event.body())?)?,
        None => raw_line(&event.callback())?,
    };
    if !work.is_zero() {
        tokio::time::sleep(work).await;
    }
    printer.print(line).await
}

/// Any callback but a Room event, as its printed line (see the module docs).
fn raw_line(callback: &RawCallback) -> Result<Vec<u8>, HandlerError> {
    let command = callback.meta.command.as_str();
    if command.starts_with(trtc::COMMAND_PREFIX) {
        return trtc_line(callback);
    }
    // A JSON object (the library's rule: 400 MalformedBody otherwise), its top-level CallbackCommand.
    let top: TopLevel = callback.json()?;
    let refuse = |why: fmt::Arguments<'_>| {
        tracing::warn!(target: logs::CALLBACK_TARGET, command, "refused: {why}");
        Err(HandlerError::new(Rejection::new(
            RejectionKind::MalformedBody,
        )))
    };
    // serde_json checks the UTF-8 of the keys and of the strings it decodes, not of those it skips.
    if std::str::from_utf8(&callback.body).is_err() {
        return refuse(format_args!("the body is not UTF-8"));
    }
    let body = compact(&callback.body);
    let line = match top.command {
        // One command, whichever of its spellings each side uses.
        Some(c) if CallbackCommand::new(&c) == callback.meta.command => body,
        Some(c) => {
            return refuse(format_args!(
                "CallbackCommand in the body is {c:?}, the query's is {command:?}"
            ))
        }
        None => {
            // `{"CallbackCommand":"<query's>",` + the rest of the object.
            let mut line = b"{\"CallbackCommand\":".to_vec();
            line.extend(serde_json::to_vec(command)?);
            if body.len() > 2 {
                line.push(b',');
            }
            line.extend_from_slice(&body[1..]);
            line
        }
    };
    Ok(line)
}

/// A TRTC event (verified on the TRTC path: its pseudo-command `TRTC.<group>.<type>` is never taken
/// from a query) as its printed line: its body compacted, keys in the order received, every number as
/// sent.
fn trtc_line(callback: &RawCallback) -> Result<Vec<u8>, HandlerError> {
    let command = callback.meta.command.as_str();
    if std::str::from_utf8(&callback.body).is_err() || callback.json::<IgnoredAny>().is_err() {
        tracing::warn!(target: logs::CALLBACK_TARGET, command, "refused: the body is not a UTF-8 JSON object");
        return Err(HandlerError::new(Rejection::new(
            RejectionKind::MalformedBody,
        )));
    }
    Ok(compact(&callback.body))
}

/// What the raw printer needs to know of a body: its top-level `CallbackCommand`, which must be a string
/// given at most once (`RawCallback::json` has checked that the body is one JSON object; every other
/// value is checked and skipped, numbers as text).
#[derive(Deserialize)]
struct TopLevel {
    #[serde(rename = "CallbackCommand", default, deserialize_with = "a_string")]
    command: Option<String>,
}

/// A present `CallbackCommand` must be a string (`null` is refused, not read as absent).
fn a_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    String::deserialize(d).map(Some)
}

/// Valid JSON without the white space outside its strings: every other byte as it came.
fn compact(json: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(json.len());
    let (mut in_string, mut escaped) = (false, false);
    for &b in json {
        if in_string {
            out.push(b);
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
        } else if !matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
            in_string = b == b'"';
            out.push(b);
        }
    }
    out
}

/// What stdout shows: `ROOM_CALLBACK_PRINT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Every callback, as its line (the default).
    Callbacks,
    /// One line per departed member and per closed room, nothing else.
    Departures,
}

impl Mode {
    /// As the variable and the startup log name it.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Mode::Callbacks => "callbacks",
            Mode::Departures => "departures",
        }
    }
}

/// The departures and closed rooms of `changes`, each as its line (arrivals are left out), printed
/// together after `work`; nothing when there are none.
async fn print_changes(
    printer: Printer,
    changes: Changes,
    work: Duration,
) -> Result<(), HandlerError> {
    let mut lines = Vec::new();
    for change in &changes.0 {
        if matches!(change, Change::Departure(_) | Change::Closed(_)) {
            if !lines.is_empty() {
                lines.push(b'\n');
            }
            serde_json::to_writer(&mut lines, change)?;
        }
    }
    if !work.is_zero() {
        tokio::time::sleep(work).await;
    }
    if lines.is_empty() {
        return Ok(());
    }
    // One write for the lines of one callback: another callback's lines never come between them.
    printer.print(lines).await
}

/// A callback acknowledged and printed nothing of (departures mode).
async fn acknowledge(_: RawCallback) -> Result<Ack, HandlerError> {
    Ok(Ack::ok())
}

/// The routes of `layer` for `mode`. Without an inbox, the handlers print, then answer. With one,
/// every notification (TRTC events included) is stored and answered once durable, and the worker
/// ([`handle_stored`]) prints; decisions and commands in neither table are handled at once.
pub(crate) fn routes(
    layer: CallbackLayer,
    mode: Mode,
    printer: &Printer,
    work: Duration,
    inbox: Option<&Inbox>,
) -> CallbackLayer {
    let unknown = printer.clone();
    let on_unknown = move |callback| print_unknown(unknown.clone(), callback, work, mode);
    match (inbox, mode) {
        (Some(inbox), Mode::Callbacks) => {
            let raw = printer.clone();
            layer
                .on_notifications(inbox.clone())
                .on_decisions(move |callback| print_raw(raw.clone(), callback, work))
                .on_unknown(on_unknown)
        }
        (Some(inbox), Mode::Departures) => layer
            .on_notifications(inbox.clone())
            .on_decisions(acknowledge)
            .on_unknown(on_unknown),
        (None, Mode::Callbacks) => {
            let (events, raw) = (printer.clone(), printer.clone());
            layer
                .on_any(
                    tencent_room_callback::CommandSet::ALL,
                    move |event, _meta| print_event(events.clone(), event, work),
                )
                .on_prefix("", move |callback| print_raw(raw.clone(), callback, work))
        }
        (None, Mode::Departures) => {
            let changes = printer.clone();
            layer
                .on(move |c: Changes, _meta: CallbackMeta| print_changes(changes.clone(), c, work))
                .on_prefix("", acknowledge)
        }
    }
}

/// The inbox worker's handler for `mode`: each stored event printed as without an inbox.
pub(crate) fn handle_stored(printer: &Printer, work: Duration, mode: Mode) -> impl InboxHandler {
    let printer = printer.clone();
    move |event| print_stored(printer.clone(), event, work, mode)
}

#[cfg(test)]
mod tests {
    use tencent_room_callback::{CallbackCommand, CallbackMeta, RawCallback};

    use super::raw_line;

    fn line(command: &str, body: &str) -> Result<String, String> {
        let meta = CallbackMeta::new(1400000000, CallbackCommand::new(command));
        let callback = RawCallback::new(meta, body.as_bytes().to_vec().into());
        raw_line(&callback)
            .map(|l| String::from_utf8(l).unwrap())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn the_body_s_command_is_checked_and_given_when_absent() {
        let cmd = "Group.CallbackAfterSendMsg";
        assert_eq!(
            line(cmd, "{ \"A\": 1 }").unwrap(),
            format!("{{\"CallbackCommand\":\"{cmd}\",\"A\":1}}")
        );
        assert_eq!(
            line(cmd, "{}").unwrap(),
            format!("{{\"CallbackCommand\":\"{cmd}\"}}")
        );
        let named = format!("{{\"CallbackCommand\": \"{cmd}\", \"B\": [1, 2]}}");
        assert_eq!(
            line(cmd, &named).unwrap(),
            format!("{{\"CallbackCommand\":\"{cmd}\",\"B\":[1,2]}}")
        );
        // The other spelling of the query's command is the same command.
        let alias = r#"{"CallbackCommand":"Live.CallbackMemberStateChanged"}"#;
        assert_eq!(
            line("Live.CallbackAfterMemberStateChanged", alias).unwrap(),
            alias
        );
        for refused in [
            r#"{"CallbackCommand":null}"#,
            r#"{"CallbackCommand":1}"#,
            r#"{"CallbackCommand":"Group.X"}"#,
            r#"{"CallbackCommand":"Group.CallbackAfterSendMsg","CallbackCommand":"Group.CallbackAfterSendMsg"}"#,
            r#"[1, 2]"#,
            r#"{"A": 1} x"#,
        ] {
            assert!(line(cmd, refused).is_err(), "{refused}");
        }
    }
}
