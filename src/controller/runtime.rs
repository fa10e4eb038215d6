//! The process around the loop: logging, the health and metrics endpoints, the leader
//! election, and shutdown on SIGTERM or Ctrl-C.

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

/// Health on `--listen` (with metrics unless `--metrics-listen` is given), metrics on
/// `--metrics-listen`.
pub(super) async fn serve_endpoints(
    options: &WatchOptions,
    state: &Arc<State>,
) -> anyhow::Result<()> {
    let listeners = [
        (
            options.listen,
            http::Endpoints {
                health: true,
                metrics: options.metrics_listen.is_none(),
            },
        ),
        (
            options.metrics_listen,
            http::Endpoints {
                health: false,
                metrics: true,
            },
        ),
    ];
    for (address, endpoints) in listeners {
        let Some(address) = address else { continue };
        let bound = http::serve(address, endpoints, state.clone())
            .await
            .map_err(|e| anyhow::anyhow!("listening on {address}: {e}"))?;
        tracing::info!(address = %bound, paths = %endpoints, "serving");
    }
    Ok(())
}

/// Without `--lease` this replica leads at once; with it, a task campaigns for the Lease
/// and reports through `leader` until `stop`. The caller keeps `leader` alive: the loop
/// stops when every sender is gone.
pub(super) fn start_election(
    options: &WatchOptions,
    cluster: &Cluster,
    state: &Arc<State>,
    leader: &watch::Sender<bool>,
    stop: &watch::Receiver<bool>,
) -> Option<tokio::task::JoinHandle<()>> {
    let Some(lease) = &options.lease else {
        state.set_leader(true);
        return None;
    };
    let namespace = lease
        .namespace
        .clone()
        .unwrap_or_else(|| cluster.default_namespace.clone());
    let elector = lease::Elector {
        api: Api::namespaced(cluster.client.clone(), &namespace),
        name: lease.name.clone(),
        identity: lease::identity(),
        duration: lease.duration,
    };
    tracing::info!(lease = %lease.name, %namespace, identity = %elector.identity, "electing a leader");
    Some(tokio::spawn(elector.run(
        leader.clone(),
        state.clone(),
        stop.clone(),
    )))
}
