//! kubectl-regcred: local registry credentials → image pull Secrets in one, several or all
//! namespaces, written the way the kubelet reads them.
//!
//! As a library the crate is [`rules`]: Kubernetes', the kubelet's, docker's and podman's
//! rules as pure functions and data, with no I/O. Build it alone with
//! `default-features = false`; the `cli` feature (on by default) adds the tool itself, whose
//! modules are private: `main.rs` calls `app::main`, flags live in `cli`, become plain
//! `settings`, and each subcommand in `commands` orchestrates the layers below
//! (docs/architecture.md).

#![forbid(unsafe_code)]
#![deny(clippy::print_stdout, clippy::print_stderr)]
#![warn(unreachable_pub)]

#[cfg(feature = "cli")]
mod cli;
#[cfg(feature = "cli")]
mod cluster;
#[cfg(feature = "cli")]
mod commands;
#[cfg(feature = "cli")]
mod completion;
#[cfg(feature = "cli")]
mod controller;
#[cfg(feature = "cli")]
mod credentials;
#[cfg(feature = "cli")]
mod desired;
#[cfg(feature = "cli")]
mod error;
#[cfg(feature = "cli")]
mod fanout;
#[cfg(feature = "cli")]
mod fleet;
#[cfg(feature = "cli")]
mod local_file;
#[cfg(feature = "cli")]
mod notices;
#[cfg(feature = "cli")]
mod output;
#[cfg(feature = "cli")]
mod printer;
#[cfg(feature = "cli")]
mod probe;
#[cfg(feature = "cli")]
mod reconcile;
#[cfg(feature = "cli")]
mod references;
#[cfg(feature = "cli")]
mod report;
pub mod rules;
#[cfg(feature = "cli")]
mod settings;

#[cfg(feature = "cli")]
mod app;
#[cfg(feature = "cli")]
pub use app::main;
