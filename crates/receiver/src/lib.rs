//! The receiver of tencent-room-callback, as a library: [`main`] (what the program
//! `tencent-room-callback-receiver` and the workspace's `cargo run --example server` run) and [`serve`],
//! the hardened HTTP/1 and HTTP/2 server it runs on. The program's settings, output and exit codes are
//! in the README below; its environment variables are read here, never by [`serve`].
//!
#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

use std::process::ExitCode;

use auth::{app_id, APPS};
use axum::{http::StatusCode, routing::any, Router};
use print::Mode;
use serve::ServeConfig;
use tencent_room_callback::{Ack, CallbackLayer, Config};
use tencent_room_callback_inbox::Inbox;
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

/// What each callback prints, as `ROOM_CALLBACK_PRINT` says, and the routes that print it.
mod print;

/// The tokens and the TRTC keys: parsed, and their files read again on SIGHUP.
mod auth;
use stdout::Printer;

pub mod serve;

/// The target of the receiver's own log events: `server`, as when it was the workspace's example (so that
/// `RUST_LOG=server=debug` keeps its meaning). The server's connection events are under
/// `tencent_room_callback_receiver::serve`.
pub(crate) const LOG_TARGET: &str = "server";

/// What stdout shows: `callbacks` (the default) or `departures`.
const PRINT: &str = "ROOM_CALLBACK_PRINT";

/// The apps served when `ROOM_CALLBACK_SDKAPPID` is not set.
const DEFAULT_SDK_APP_ID: u64 = 1400000000;

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
    /// The tokens and TRTC keys: their files, and how each app is verified.
    auth: auth::Auth,
    /// `ROOM_CALLBACK_PRINT`.
    print: Mode,
    /// The server's limits: `ROOM_CALLBACK_HEADER_TIMEOUT_MS` and the rest.
    limits: ServeConfig,
    /// `ROOM_CALLBACK_INBOX` or `_REDIS`, `_WORK_MS`, `_WORKERS`.
    inbox: inbox::Settings,
}

/// A variable that is set, as text: unset is `None`; set but not UTF-8, empty or only white space is
/// an error naming it (and saying what leaving it unset means).
pub(crate) fn var(name: &str, unset: &str) -> Result<Option<String>, String> {
    match std::env::var(name) {
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(format!("{name} is not valid UTF-8")),
        Ok(v) if v.is_empty() => Err(format!("{name} is set but empty (unset, it means {unset})")),
        Ok(v) if v.trim().is_empty() => Err(format!("{name} is only white space")),
        Ok(v) => Ok(Some(v)),
    }
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
    let (config, auth) = auth::settings(config, &app_ids)?;
    let print = match var(PRINT, "callbacks")?.as_deref() {
        None | Some("callbacks") => Mode::Callbacks,
        Some("departures") => Mode::Departures,
        Some(other) => {
            return Err(format!(
                "{PRINT}: {other:?} is not what to print (expected departures, or callbacks: the \
                 default)"
            ))
        }
    };
    let limits = limits::from_env()?;
    let inbox = inbox::settings()?;
    Ok(Settings {
        addr,
        app_ids,
        config,
        auth,
        print,
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
        auth,
        print,
        limits,
        inbox,
    } = settings;
    let authenticated = config.authenticates();
    let any_trtc_key = config.trtc_keys().any_key();
    let reload = auth::Reload {
        app_ids: app_ids.clone(),
        tokens: auth.tokens_file.clone().map(|path| (path, config.tokens())),
        keys: auth
            .keys_file
            .clone()
            .map(|path| (path, config.trtc_keys())),
    };
    let (printer, writer) = Printer::start();
    let work = inbox.work;
    let layer = CallbackLayer::new(config)
        .path("/callback")
        .trtc_path("/trtc");
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
            let worker = inbox
                .shape(opened.worker(print::handle_stored(&printer, work, print)))
                .start();
            let app = print::routes(layer, print, &printer, work, Some(&opened)).layer(routes);
            (app, Some((worker, opened)), store.describe())
        }
        _ => {
            let app = print::routes(layer, print, &printer, work, None).layer(routes);
            (app, None, "none".to_owned())
        }
    };
    drop(printer);

    // A `serve::BindError`, which `main` names as the variable's. The warnings come after it, so that
    // a bind error is the only line.
    let listener = serve::bind(&addr).await?;
    if reload.tokens.is_some() || reload.keys.is_some() {
        tokio::spawn(auth::reload_on_hangup(reload));
    }
    if authenticated && !auth.unverified.is_empty() {
        tracing::warn!(
            target: LOG_TARGET,
            sdk_app_ids = ?auth.unverified,
            "these apps have no token: their callbacks are accepted unsigned"
        );
    }
    if !any_trtc_key {
        tracing::warn!(
            target: LOG_TARGET,
            "no TRTC key (ROOM_CALLBACK_TRTC_KEY, _TRTC_KEYS or _TRTC_KEYS_FILE): the Sign of TRTC \
             events on /trtc is not checked, anyone can post events"
        );
    } else if !auth.unsigned.is_empty() {
        tracing::warn!(
            target: LOG_TARGET,
            sdk_app_ids = ?auth.unsigned,
            "these apps have no TRTC key: their TRTC events are accepted unsigned"
        );
    }
    tracing::info!(
        target: LOG_TARGET,
        addr = %listener.local_addr()?,
        sdk_app_ids = ?app_ids,
        authenticated,
        tokens = %auth.tokens,
        trtc_keys = %auth.trtc_keys,
        print = %print.as_str(),
        header_timeout_ms = limits.header_timeout.as_millis(),
        idle_timeout_ms = limits.idle_timeout.as_millis(),
        write_timeout_ms = limits.write_timeout.unwrap_or(limits.idle_timeout).as_millis(),
        max_connections = limits.max_connections,
        max_buffered_bytes = limits.max_buffered_bytes,
        inbox = %store,
        "listening for callbacks (Room, Chat, Live) on /callback and TRTC events on /trtc"
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
