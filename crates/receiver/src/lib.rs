//! The receiver of tencent-room-callback, as a library: [`main`] (what the program
//! `tencent-room-callback-receiver` and the workspace's `cargo run --example server` run) and [`serve`],
//! the hardened HTTP/1 and HTTP/2 server it runs on. The program's settings, output and exit codes are
//! in the README below; its environment variables are read here, never by [`serve`].
//!
#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

use std::fmt;
use std::process::ExitCode;
use std::time::Duration;

use axum::{http::StatusCode, routing::any, Router};
use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};
use serve::ServeConfig;
use tencent_room_callback::config::TokenSets;
use tencent_room_callback::{
    Ack, CallbackLayer, CommandSet, Config, HandlerError, RawCallback, Rejection, RejectionKind,
    RoomEvent,
};
use tencent_room_callback_inbox::{Inbox, InboxEvent};
use tower::util::Either;
use tower::Layer;

/// `ROOM_CALLBACK_METRICS_ADDR`: the Prometheus endpoint.
mod metrics;

/// `ROOM_CALLBACK_INBOX`, `ROOM_CALLBACK_REDIS`: the inbox and its worker.
mod inbox;

/// The server's limits from `ROOM_CALLBACK_*` variables.
mod limits;

/// Stderr, and the bound on what each callback writes there.
mod logs;

/// Stdout, written in batches by a task of its own.
mod stdout;
use stdout::Printer;

pub mod serve;

/// The target of the receiver's own log events: `server`, as when it was the workspace's example (so that
/// `RUST_LOG=server=debug` keeps its meaning). The server's connection events are under
/// `tencent_room_callback_receiver::serve`.
pub(crate) const LOG_TARGET: &str = "server";

/// The apps served when `ROOM_CALLBACK_SDKAPPID` is not set.
const DEFAULT_SDK_APP_ID: u64 = 1400000000;

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
    print_raw(printer, callback, work).await
}

/// The inbox worker's handler: the stored event printed as the same line as without an inbox.
async fn print_stored(
    printer: Printer,
    event: InboxEvent,
    work: Duration,
) -> Result<(), HandlerError> {
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
        Some(c) if c == command => body,
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

/// What the raw printer needs to know of a body: that it is one JSON object (every value checked, none
/// converted: numbers are skipped as text), and its top-level `CallbackCommand`, which must be a string
/// given at most once.
struct TopLevel {
    command: Option<String>,
}

impl<'de> Deserialize<'de> for TopLevel {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Object;
        impl<'de> Visitor<'de> for Object {
            type Value = TopLevel;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TopLevel, A::Error> {
                let mut command = None;
                while let Some(key) = map.next_key::<String>()? {
                    if key != "CallbackCommand" {
                        map.next_value::<IgnoredAny>()?;
                    } else if command.is_some() {
                        return Err(de::Error::duplicate_field("CallbackCommand"));
                    } else {
                        command = Some(map.next_value::<String>()?);
                    }
                }
                Ok(TopLevel { command })
            }
        }
        d.deserialize_map(Object)
    }
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

/// The app's own route: anything the layer did not intercept.
async fn no_handler() -> (StatusCode, Ack) {
    (
        StatusCode::NOT_FOUND,
        Ack::fail(40401, "no handler for this command"),
    )
}

/// What the environment asks for.
struct Settings {
    addr: String,
    app_ids: Vec<u64>,
    config: Config,
    /// `ROOM_CALLBACK_TOKENS_FILE`, to read again on SIGHUP.
    tokens_file: Option<String>,
    /// How each app is verified, for the log.
    auth: String,
    /// The apps without any token: their callbacks are not verified.
    unverified: Vec<u64>,
    /// The server's limits: `ROOM_CALLBACK_HEADER_TIMEOUT_MS` and the rest.
    limits: ServeConfig,
    /// `ROOM_CALLBACK_INBOX` or `_REDIS`, `_WORK_MS`, `_WORKERS`.
    inbox: inbox::Settings,
}

/// A variable that is set, as text: unset is `None`; set but not UTF-8, empty or only white space is
/// an error naming it (and saying what leaving it unset means).
fn var(name: &str, unset: &str) -> Result<Option<String>, String> {
    match std::env::var(name) {
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(format!("{name} is not valid UTF-8")),
        Ok(v) if v.is_empty() => Err(format!("{name} is set but empty (unset, it means {unset})")),
        Ok(v) if v.trim().is_empty() => Err(format!("{name} is only white space")),
        Ok(v) => Ok(Some(v)),
    }
}

/// A decimal SDKAppID: digits only, fitting in 64 bits.
fn app_id(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

const APPS: &str = "ROOM_CALLBACK_SDKAPPID";
const TOKEN: &str = "ROOM_CALLBACK_TOKEN";
const TOKENS: &str = "ROOM_CALLBACK_TOKENS";
const TOKENS_FILE: &str = "ROOM_CALLBACK_TOKENS_FILE";

/// `APPID=TOKEN` entries from `source` (a variable or a file), checked: every app one of `app_ids`,
/// every token present and without surrounding white space. Errors name the entry's place and, once
/// it is known, its app: never an entry or a token.
fn token_entries<'a>(
    source: &str,
    entries: impl Iterator<Item = &'a str>,
    app_ids: &[u64],
) -> Result<Vec<(u64, String)>, String> {
    let mut out = Vec::new();
    for (n, entry) in (1..).zip(entries) {
        if entry.is_empty() {
            return Err(format!(
                "{source}: entry {n} is empty (expected APPID=TOKEN,APPID=TOKEN)"
            ));
        }
        let Some((app, token)) = entry.split_once('=') else {
            return Err(format!(
                "{source}: entry {n} is not APPID=TOKEN (it has no '=')"
            ));
        };
        let id = app_id(app).ok_or_else(|| {
            format!("{source}: entry {n}: the part before '=' is not a decimal SDKAppID")
        })?;
        if !app_ids.contains(&id) {
            let listed = app_ids
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(",");
            return Err(format!(
                "{source}: entry {n}: app {id} is not one of {APPS} ({listed}); add it there"
            ));
        }
        if token.is_empty() {
            return Err(format!(
                "{source}: entry {n} (app {id}) has no token after '='"
            ));
        }
        if token.trim() != token {
            return Err(format!(
                "{source}: entry {n} (app {id}): the token starts or ends with white space"
            ));
        }
        out.push((id, token.to_owned()));
    }
    Ok(out)
}

/// The entries of a tokens file: one `APPID=TOKEN` a line, blank lines and `#` comments skipped.
fn read_tokens_file(path: &str, app_ids: &[u64]) -> Result<Vec<(u64, String)>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{TOKENS_FILE}: cannot read {path}: {e}"))?;
    let lines = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'));
    let entries = token_entries(&format!("{TOKENS_FILE} ({path})"), lines, app_ids)?;
    if entries.is_empty() {
        return Err(format!("{TOKENS_FILE}: {path} holds no token"));
    }
    Ok(entries)
}

/// On each SIGHUP, reads the tokens file again and replaces the sets of the apps in it, each at once;
/// a file that does not read keeps the tokens in force.
async fn reload_on_hangup(path: String, app_ids: Vec<u64>, tokens: TokenSets) {
    #[cfg(unix)]
    {
        let Ok(mut hangups) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        else {
            tracing::error!(target: LOG_TARGET, "cannot listen for SIGHUP: the tokens file is read at start only");
            return;
        };
        while hangups.recv().await.is_some() {
            let entries = match read_tokens_file(&path, &app_ids) {
                Ok(entries) => entries,
                Err(e) => {
                    tracing::error!(target: LOG_TARGET, error = %e, "tokens not reloaded: the tokens in force stay");
                    continue;
                }
            };
            let mut sets: Vec<(u64, Vec<String>)> = Vec::new();
            for (id, token) in entries {
                match sets.iter_mut().find(|(app, _)| *app == id) {
                    Some((_, set)) => set.push(token),
                    None => sets.push((id, vec![token])),
                }
            }
            for (id, set) in &sets {
                match tokens.set_app(*id, set) {
                    Ok(()) => {
                        tracing::info!(target: LOG_TARGET, sdk_app_id = id, tokens = set.len(), "tokens reloaded")
                    }
                    Err(e) => {
                        tracing::error!(target: LOG_TARGET, sdk_app_id = id, error = %e, "tokens not reloaded")
                    }
                }
            }
        }
    }
    #[cfg(not(unix))]
    let _ = (path, app_ids, tokens);
}

/// Reads and checks every variable; the error is one line naming the variable (never a token).
fn settings() -> Result<Settings, String> {
    let addr = match var("ROOM_CALLBACK_ADDR", "127.0.0.1:3000")? {
        Some(a) if a.trim() != a => {
            return Err("ROOM_CALLBACK_ADDR starts or ends with white space".into())
        }
        Some(a) => a,
        None => "127.0.0.1:3000".into(),
    };

    let app_ids = match var(APPS, "1400000000")? {
        None => vec![DEFAULT_SDK_APP_ID],
        Some(list) => {
            let mut ids = Vec::new();
            for (n, item) in (1..).zip(list.split(',')) {
                if item.is_empty() {
                    return Err(format!(
                        "{APPS}: item {n} is empty (expected app IDs separated by commas, as \
                         1400000000,1400000001)"
                    ));
                }
                let id = app_id(item).ok_or_else(|| {
                    format!("{APPS}: item {n} ({item:?}) is not a decimal SDKAppID")
                })?;
                if ids.contains(&id) {
                    return Err(format!("{APPS}: app {id} is listed twice"));
                }
                ids.push(id);
            }
            ids
        }
    };

    let mut config = Config::new(app_ids[0]);
    for id in &app_ids[1..] {
        config = config.app_id(*id);
    }
    let default_token = var(TOKEN, "no token for the apps without their own")?;
    let has_default = default_token.is_some();
    if let Some(token) = default_token {
        config = config.token(token).map_err(|e| format!("{TOKEN}: {e}"))?;
    }
    // The app of each token of ROOM_CALLBACK_TOKENS (or of the file), for the log.
    let mut own_tokens = Vec::new();
    let tokens_file = var(TOKENS_FILE, "no file of tokens")?;
    let entries = match (var(TOKENS, "no app has tokens of its own")?, &tokens_file) {
        (Some(_), Some(_)) => {
            return Err(format!(
                "{TOKENS} and {TOKENS_FILE} are both set: choose one"
            ))
        }
        (Some(list), None) => token_entries(TOKENS, list.split(','), &app_ids)?,
        (None, Some(path)) => read_tokens_file(path, &app_ids)?,
        (None, None) => Vec::new(),
    };
    let source = if tokens_file.is_some() {
        TOKENS_FILE
    } else {
        TOKENS
    };
    for (id, token) in entries {
        config = config
            .app_token(id, token)
            .map_err(|e| format!("{source}: app {id}: {e}"))?;
        own_tokens.push(id);
    }

    let auth = app_ids
        .iter()
        .map(|id| {
            let own = own_tokens.iter().filter(|a| *a == id).count();
            match (own, has_default) {
                (0, true) => format!("{id}: {TOKEN}"),
                (0, false) => format!("{id}: not verified"),
                (1, _) => format!("{id}: 1 token of {source}"),
                (n, _) => format!("{id}: {n} tokens of {source}"),
            }
        })
        .collect::<Vec<_>>()
        .join("; ");
    let unverified = app_ids
        .iter()
        .copied()
        .filter(|id| !has_default && !own_tokens.contains(id))
        .collect();
    let limits = limits::from_env()?;
    let inbox = inbox::settings()?;
    Ok(Settings {
        addr,
        app_ids,
        config,
        tokens_file,
        auth,
        unverified,
        limits,
        inbox,
    })
}

/// Runs the receiver as the environment says, until Ctrl-C or SIGTERM: exit code 0 after a clean stop,
/// 2 for a startup error (a variable, an address), 1 for a later error. Errors and logs go to stderr,
/// each startup error as one line starting with the program's name.
pub fn main() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("{}: cannot start the async runtime: {e}", program());
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run())
}

/// The program's name, for its error lines: the file name it was started as (`server` for the
/// workspace's example).
fn program() -> String {
    std::env::args_os()
        .next()
        .map(std::path::PathBuf::from)
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "receiver".to_owned())
}

async fn run() -> ExitCode {
    // Stderr, `RUST_LOG`, and the per-callback events rate-limited (see `logs`).
    let gate = logs::init();
    tokio::spawn(logs::report(gate.clone()));
    let code = start().await;
    // What the gate left out since its last report, so that every event is accounted for.
    logs::report_now(&gate);
    code
}

/// Reads the settings, opens what they name, and serves until the shutdown.
async fn start() -> ExitCode {
    let settings = match settings() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{}: {e}", program());
            return ExitCode::from(2);
        }
    };
    if let Err(e) = metrics::start().await {
        eprintln!("{}: {e}", program());
        return ExitCode::from(2);
    }
    // The inbox, before listening: a directory it cannot use is a startup error too.
    let opened = match &settings.inbox.store {
        Some(store) => match inbox::open(store, &settings.inbox).await {
            Ok(opened) => Some(opened),
            Err(e) => {
                eprintln!("{}: {e}", program());
                return ExitCode::from(2);
            }
        },
        None => None,
    };
    match serve(settings, opened).await {
        Ok(()) => ExitCode::SUCCESS,
        // The address: a startup error, as a variable's.
        Err(e) if e.is::<serve::BindError>() => {
            eprintln!("{}: ROOM_CALLBACK_ADDR: {e}", program());
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("{}: {e}", program());
            ExitCode::FAILURE
        }
    }
}

async fn serve(
    settings: Settings,
    opened: Option<Inbox>,
) -> Result<(), Box<dyn std::error::Error>> {
    let Settings {
        addr,
        app_ids,
        config,
        tokens_file,
        auth,
        unverified,
        limits,
        inbox,
    } = settings;
    let authenticated = config.authenticates();
    if authenticated && !unverified.is_empty() {
        tracing::warn!(
            target: LOG_TARGET,
            sdk_app_ids = ?unverified,
            "these apps have no token: their callbacks are accepted unsigned"
        );
    }

    if let Some(path) = tokens_file {
        tokio::spawn(reload_on_hangup(path, app_ids.clone(), config.tokens()));
    }
    let (printer, writer) = Printer::start();
    let work = inbox.work;
    let layer = CallbackLayer::new(config).path("/callback");
    let raw = printer.clone();
    let print_raw = move |callback| print_raw(raw.clone(), callback, work);
    // The app's own routes, for whatever the layer does not take. `with_state(())` turns them into
    // services once, as `axum::serve` does: a `Router` called as it is builds its handlers' services
    // anew for every request.
    let routes = Router::new()
        .route("/callback", any(no_handler))
        .fallback(no_handler)
        .with_state(());
    // The layer in front of the whole app, not inside each of its routes (`Router::layer`): a
    // callback is taken before any routing, and its body is not boxed into axum's.
    // With an inbox: the layer stores, the worker prints. Without: the handlers print, then answer.
    let (app, worker, store) = match (opened, &inbox.store) {
        (Some(opened), Some(store)) => {
            let stored = printer.clone();
            let unknown = printer.clone();
            let worker = inbox
                .shape(opened.worker(move |event| print_stored(stored.clone(), event, work)))
                .start();
            let app = layer
                .on_notifications(opened.clone())
                .on_decisions(print_raw)
                .on_unknown(move |callback| print_unknown(unknown.clone(), callback, work))
                .layer(routes);
            (Either::Left(app), Some((worker, opened)), store.describe())
        }
        _ => {
            let events = printer.clone();
            let app = layer
                .on_any(CommandSet::ALL, move |event, _meta| {
                    print_event(events.clone(), event, work)
                })
                .on_prefix("", print_raw)
                .layer(routes);
            (Either::Right(app), None, "none".to_owned())
        }
    };
    drop(printer);

    // A `serve::BindError`, which `main` names as the variable's.
    let listener = serve::bind(&addr).await?;
    tracing::info!(
        target: LOG_TARGET,
        addr = %listener.local_addr()?,
        sdk_app_ids = ?app_ids,
        authenticated,
        tokens = %auth,
        header_timeout_ms = limits.header_timeout.as_millis(),
        idle_timeout_ms = limits.idle_timeout.as_millis(),
        write_timeout_ms = limits.write_timeout.unwrap_or(limits.idle_timeout).as_millis(),
        max_connections = limits.max_connections,
        max_buffered_bytes = limits.max_buffered_bytes,
        inbox = %store,
        "listening for callbacks (Room, Chat, Live) on /callback"
    );
    let grace = limits.shutdown_grace;
    serve::serve(listener, app, limits, shutdown()).await;
    if let Some((worker, inbox)) = worker {
        // No request in progress any more: the worker finishes what it holds, or leaves it stored.
        let report = worker.shutdown(grace).await;
        tracing::info!(
            target: LOG_TARGET,
            finished = report.finished,
            left_in_the_inbox = report.returned,
            "the inbox's worker stopped"
        );
        // Closed cleanly (the embedded file written clean and unlocked) before the process exits.
        let _ = inbox.close().await;
    }
    // Every connection is closed and the app dropped with its printers: the printer's task writes
    // what is left (every acknowledged line already is) and ends.
    let _ = writer.await;
    tracing::info!(target: LOG_TARGET, "stopped");
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
