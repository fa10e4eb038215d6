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

pub mod rules;

/// Declares the tool's private modules, all behind the `cli` feature.
macro_rules! tool_modules {
    ($($module:ident),* $(,)?) => { $( #[cfg(feature = "cli")] mod $module; )* };
}

tool_modules!(
    app,
    cli,
    cluster,
    commands,
    completion,
    controller,
    credentials,
    desired,
    error,
    fanout,
    fleet,
    local_file,
    notices,
    output,
    printer,
    probe,
    reconcile,
    references,
    report,
    settings,
);

#[cfg(feature = "cli")]
pub use app::main;
