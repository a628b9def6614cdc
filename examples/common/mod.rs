//! What the server examples share, none of it about the layer: their settings from the environment, a
//! listener whose failure names the address, the signal that stops them, and the exit code. Each example
//! takes it in with `mod common;`.
//!
//! Startup errors are reported as the receiver (`examples/server.rs`) reports them. A setting that is set
//! but wrong (empty, not a number, not an address, a token the layer refuses) stops the example before
//! it listens, with one line on stderr that starts with the example's name and names the variable and
//! what is wrong with it, and exit code 2: `hyper: ROOM_CALLBACK_SDKAPPID is not a number: "abc"`. So
//! does an address that cannot be listened on: `hyper: ROOM_CALLBACK_ADDR: cannot listen on
//! 127.0.0.1:3001: Address already in use (os error 98)`. Any later error exits 1, the same way.

use std::env::VarError;
use std::error::Error;
use std::fmt;
use std::net::ToSocketAddrs;
use std::process::ExitCode;
use std::str::FromStr;

use tencent_room_callback::Config;
use tokio::net::TcpListener;

/// A startup error: a variable set but wrong, or an address that cannot be listened on. The example
/// stops with exit code 2.
#[derive(Debug)]
pub struct Startup(String);

impl fmt::Display for Startup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Error for Startup {}

impl From<String> for Startup {
    fn from(message: String) -> Self {
        Startup(message)
    }
}

/// `ROOM_CALLBACK_ADDR`, `ROOM_CALLBACK_SDKAPPID` and `ROOM_CALLBACK_TOKEN`, checked.
pub struct Settings {
    /// Where to listen: `ROOM_CALLBACK_ADDR`, a `host:port` (default: the example's own).
    pub addr: String,
    /// `ROOM_CALLBACK_SDKAPPID` (default 1400000000).
    pub sdk_app_id: u64,
    /// The layer's configuration for that app, verifying `Sign` / `RequestTime` when
    /// `ROOM_CALLBACK_TOKEN` is set.
    pub config: Config,
}

impl Settings {
    /// Reads the three variables; an unset one takes its default.
    pub fn from_env(default_addr: &str) -> Result<Settings, Startup> {
        let addr = var("ROOM_CALLBACK_ADDR")?.unwrap_or_else(|| default_addr.to_owned());
        let mut resolved = addr.to_socket_addrs().map_err(|e| {
            format!("ROOM_CALLBACK_ADDR is not a host:port address: {addr:?} ({e})")
        })?;
        if resolved.next().is_none() {
            return Err(format!("ROOM_CALLBACK_ADDR names no address: {addr:?}").into());
        }
        let sdk_app_id = number("ROOM_CALLBACK_SDKAPPID", 1400000000)?;
        let mut config = Config::new(sdk_app_id);
        if let Some(token) = var("ROOM_CALLBACK_TOKEN")? {
            config = config
                .token(token)
                .map_err(|e| format!("ROOM_CALLBACK_TOKEN is not a valid token: {e}"))?;
        }
        Ok(Settings {
            addr,
            sdk_app_id,
            config,
        })
    }
}

/// A variable's value: `None` when it is unset, an error naming it when it is set but empty or not
/// UTF-8. No error shows a token.
fn var(name: &str) -> Result<Option<String>, Startup> {
    match std::env::var(name) {
        Ok(value) if value.is_empty() => Err(format!("{name} is set but empty").into()),
        Ok(value) => Ok(Some(value)),
        Err(VarError::NotPresent) => Ok(None),
        // Not the value: it may be a token.
        Err(VarError::NotUnicode(_)) => Err(format!("{name} is not valid UTF-8").into()),
    }
}

/// A numeric variable, or `default` when it is unset.
pub fn number<T: FromStr>(name: &str, default: T) -> Result<T, Startup> {
    match var(name)? {
        None => Ok(default),
        Some(value) => value
            .parse()
            .map_err(|_| format!("{name} is not a number: {value:?}").into()),
    }
}

/// Listens on `addr` (`ROOM_CALLBACK_ADDR`), or says which address could not be listened on and why.
pub async fn listen(addr: &str) -> Result<TcpListener, Startup> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| format!("ROOM_CALLBACK_ADDR: cannot listen on {addr}: {e}").into())
}

/// Logs to stderr (colours only on a terminal), filtered by `RUST_LOG`, else by `default_filter`.
/// (`extensions` logs nothing, so it leaves this unused.)
#[allow(dead_code)]
pub fn init_logs(default_filter: &str) {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter)),
        )
        .init();
}

/// Resolves on Ctrl-C or SIGTERM: the server then stops accepting, finishes what is in flight, and the
/// process exits 0.
pub async fn shutdown() {
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

/// The process's exit code: 0 after a clean stop; otherwise the error as one line on stderr after the
/// example's name, and 2 for a [`Startup`] error, 1 for any other.
pub fn exit_code(result: Result<(), Box<dyn Error>>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{}: {e}", env!("CARGO_CRATE_NAME"));
            if e.is::<Startup>() {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
