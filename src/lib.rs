//! kubectl-regcred: local registry credentials → image pull Secrets in one, several or all
//! namespaces, written the way the kubelet reads them.
//!
//! `main.rs` only calls [`main`]; flags live in [`cli`], become plain [`settings`], and each
//! subcommand in [`commands`] orchestrates the library modules.

#![deny(clippy::print_stdout, clippy::print_stderr)]
#![warn(unreachable_pub)]

mod cli;
mod cluster;
mod commands;
mod completion;
mod controller;
mod credentials;
mod desired;
mod error;
mod fanout;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
#[cfg(test)]
mod kubelet_oracle;
mod output;
mod printer;
mod probe;
mod reconcile;
mod references;
mod rules;
mod settings;

use std::ffi::OsString;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};

use cli::{Cli, Command, ControllerCommand};
use error::{ExitStatus, UsageError, exit_status_for, is_broken_pipe, render};
use printer::Printer;
use settings::{
    AttachSettings, CheckSettings, Connection, CreateSettings, DeleteSettings, DetachSettings,
    ListSettings, LoginSettings, ManifestsSettings, ShowSettings, SyncSettings, VerifySettings,
};

/// The name shown in usage: `kubectl regcred` when kubectl ran us as a plugin (it execs the
/// plugin by its full path, and kubectl 1.37+ also sets `KUBECTL_PATH`), else the binary name.
fn display_name(argv0: Option<&OsString>) -> &'static str {
    let Some(argv0) = argv0 else {
        return "kubectl-regcred";
    };
    let path = Path::new(argv0);
    let is_plugin_binary = path
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with("kubectl-"));
    if is_plugin_binary && (std::env::var_os("KUBECTL_PATH").is_some() || path.is_absolute()) {
        "kubectl regcred"
    } else {
        "kubectl-regcred"
    }
}

pub fn main(args: Vec<OsString>) -> ExitCode {
    // Invoked through the `docker-credential-regcred` link: serve the helper protocol.
    let invoked_as = args
        .first()
        .and_then(|a| Path::new(a).file_name())
        .and_then(|n| n.to_str())
        .unwrap_or("");
    if invoked_as.starts_with("docker-credential-") {
        return serve_helper(&lossy_strings(&args[1..]), &Printer::for_terminal(true)).into();
    }
    // `__complete` takes raw words (flags included), so clap must not parse them.
    if args.get(1).is_some_and(|a| a == "__complete") {
        let words = lossy_strings(&args[2..]);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build();
        if let Ok(runtime) = runtime {
            let printer = Printer::for_terminal(true);
            let _ = print_completions(&runtime.block_on(completion::complete(&words)), &printer);
        }
        return ExitCode::SUCCESS;
    }
    let name = display_name(args.first());
    let command = Cli::command().bin_name(name);
    let cli = match command
        .try_get_matches_from(args)
        .and_then(|matches| Cli::from_arg_matches(&matches))
    {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitStatus::Usage
            } else {
                ExitStatus::Success
            }
            .into();
        }
    };
    let printer = Printer::for_terminal(cli.quiet);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime starts");
    match runtime.block_on(run(cli, &printer)) {
        Ok(status) => status.into(),
        Err(e) if is_broken_pipe(&e) => ExitStatus::Success.into(),
        Err(e) => {
            printer.error(render(&e));
            exit_status_for(&e).into()
        }
    }
}

fn lossy_strings(args: &[OsString]) -> Vec<String> {
    args.iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect()
}

/// One helper-protocol action on stdin and stdout.
fn serve_helper(actions: &[String], printer: &Printer) -> ExitStatus {
    let mut out = printer.out();
    let status =
        commands::credential_helper::serve(actions, &mut std::io::stdin().lock(), &mut out);
    let _ = out.flush();
    status
}

fn print_completions(
    completions: &completion::Completion,
    printer: &Printer,
) -> std::io::Result<()> {
    let mut out = printer.out();
    out.write_all(completions.render().as_bytes())?;
    out.flush()
}

async fn run(cli: Cli, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let (mut connection, contexts) = Connection::from_args(&cli.kube)?;
    if contexts.is_multi() {
        // Selected from the kubeconfig; a selection that matches nothing is a usage error.
        let available = cluster::context_names(&connection)?;
        let selected = contexts
            .select(&available)
            .map_err(|e| UsageError(e.to_string()))?;
        match selected.as_slice() {
            [only] => connection.context = Some(only.clone()),
            several => anyhow::bail!(
                "running in several contexts at once ({}) is not implemented yet (issue 15)",
                several.join(", ")
            ),
        }
    }
    let namespace = cli.kube.namespace.as_deref();
    match cli.command {
        Command::Create(args) => {
            let settings = CreateSettings::from_args(&args, namespace)?;
            commands::create::run(settings, connection, printer).await
        }
        Command::Attach(args) => {
            let settings = AttachSettings::from_args(&args, namespace)?;
            commands::attach::run(settings, connection, printer).await
        }
        Command::Detach(args) => {
            let settings = DetachSettings::from_args(&args, namespace)?;
            commands::detach::run(settings, connection, printer).await
        }
        Command::Sync(args) => {
            let settings = SyncSettings::from_args(&args, namespace)?;
            commands::sync::run(settings, connection, printer).await
        }
        Command::Controller(ControllerCommand::Manifests(args)) => {
            let settings = ManifestsSettings::from_args(&args, namespace)?;
            commands::controller::manifests(&settings, printer)
        }
        Command::Controller(ControllerCommand::Status(args)) => {
            let lease_namespace = namespace.unwrap_or(settings::CONTROLLER_NAMESPACE);
            commands::controller::status(
                lease_namespace,
                &args.lease_name,
                settings::structured_output(args.output),
                connection,
                printer,
            )
            .await
        }
        Command::Delete(args) => {
            let settings = DeleteSettings::from_args(&args, namespace)?;
            commands::delete::run(settings, connection, printer).await
        }
        Command::List(args) => {
            let settings = ListSettings::from_args(&args, namespace)?;
            commands::list::run(settings, connection, printer).await
        }
        Command::Show(args) => {
            let settings = ShowSettings::from_args(&args, namespace)?;
            commands::show::run(settings, connection, printer).await
        }
        Command::Check(args) => {
            let settings = CheckSettings::from_args(&args, namespace)?;
            commands::check::run(settings, connection, printer).await
        }
        Command::Verify(args) => {
            let settings = VerifySettings::from_args(&args, namespace)?;
            commands::verify::run(settings, connection, printer).await
        }
        Command::Login(args) => {
            commands::login::login(LoginSettings::from_args(&args)?, printer).await
        }
        Command::Logout(args) => commands::login::logout(settings::logout_server(&args)?, printer),
        Command::Logins(args) => {
            commands::login::logins(settings::structured_output(args.output), printer)
        }
        Command::CredentialHelper(args) => Ok(serve_helper(&args.action, printer)),
        Command::Completion(args) => {
            let mut command = Cli::command();
            let mut out = printer.out();
            clap_complete::generate(args.shell, &mut command, "kubectl-regcred", &mut out);
            out.flush()?;
            Ok(ExitStatus::Success)
        }
        Command::Version => {
            let mut out = printer.out();
            writeln!(
                out,
                "kubectl-regcred {} (commit {}, {})",
                env!("CARGO_PKG_VERSION"),
                env!("REGCRED_GIT_COMMIT"),
                env!("REGCRED_TARGET")
            )?;
            out.flush()?;
            Ok(ExitStatus::Success)
        }
        // Handled in `main` before clap parses; reachable only through odd spellings.
        Command::Complete(args) => {
            print_completions(&completion::complete(&args.words).await, printer)?;
            Ok(ExitStatus::Success)
        }
    }
}
