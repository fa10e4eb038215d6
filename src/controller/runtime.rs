//! The process around the loop: logging, and shutdown on SIGTERM or Ctrl-C.

use super::*;

/// SIGTERM or Ctrl-C turns `stop` true.
pub(super) async fn signals(stop: watch::Sender<bool>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut term) = signal(SignalKind::terminate()) else {
            return;
        };
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
            _ = tokio::signal::ctrl_c() => tracing::info!("interrupted: shutting down"),
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("interrupted: shutting down");
    }
    stop.send_replace(true);
}

/// `tracing` to stderr: human on a terminal, JSON lines with `--log-format json`.
/// `RUST_LOG` narrows or widens it (default `info`).
pub(super) fn init_logging(json: bool) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,kube_client::client::tls=error"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    let _ = if json {
        builder.json().flatten_event(true).try_init()
    } else {
        use std::io::IsTerminal;
        builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init()
    };
}

/// What reading a credential had to say, in the log: a warning (a registry dropped under
/// `--allow-removal`) at warn level, the rest at info.
pub(super) fn log_notices(name: &str, notices: &Notices) {
    for notice in notices.take() {
        match notice {
            Notice::Warning(message) => tracing::warn!(credential = name, "{message}"),
            Notice::Note(message) | Notice::Status(message) => {
                tracing::info!(credential = name, "{message}");
            }
        }
    }
}
