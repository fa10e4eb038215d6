//! kubectl-regcred: local registry credentials → image pull Secrets in one, several or all
//! namespaces, written the way the kubelet reads them.
//!
//! `main.rs` only calls [`main`]; flags live in [`cli`], become plain [`settings`], and each
//! subcommand in [`commands`] orchestrates the library modules.

pub mod cli;
pub mod cluster;
pub mod commands;
pub mod completion;
pub mod credentials;
pub mod diagnosis;
pub mod error;
pub mod fanout;
pub mod image;
pub mod kubelet;
#[cfg(test)]
mod kubelet_oracle;
pub mod names;
pub mod output;
pub mod probe;
pub mod pullsecret;
pub mod registry;
pub mod settings;

use std::ffi::OsString;
use std::path::Path;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};

use cli::{Cli, Command};
use error::{ExitStatus, exit_status_for, is_broken_pipe, render};
use settings::{
    AttachSettings, CheckSettings, Connection, CreateSettings, DetachSettings, ListSettings,
    LoginSettings, ShowSettings,
};

/// The name shown in usage: `kubectl regcred` when kubectl ran us as a plugin (it execs the
/// plugin by its full path, and kubectl 1.37+ also sets `KUBECTL_PATH`), else the binary name.
pub fn display_name(argv0: Option<&OsString>) -> &'static str {
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
        let actions: Vec<String> = args
            .iter()
            .skip(1)
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        return serve_helper(&actions);
    }
    // `__complete` takes raw words (flags included), so clap must not parse them.
    if args.get(1).is_some_and(|a| a == "__complete") {
        let words: Vec<String> = args
            .iter()
            .skip(2)
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build();
        if let Ok(runtime) = runtime {
            print!(
                "{}",
                runtime.block_on(completion::complete(&words)).render()
            );
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
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime starts");
    match runtime.block_on(run(cli)) {
        Ok(status) => status.into(),
        Err(e) if is_broken_pipe(&e) => ExitStatus::Success.into(),
        Err(e) => {
            eprintln!("error: {}", render(&e));
            exit_status_for(&e).into()
        }
    }
}

fn serve_helper(actions: &[String]) -> ExitCode {
    let mut stdout = std::io::stdout().lock();
    let code =
        commands::credential_helper::serve(actions, &mut std::io::stdin().lock(), &mut stdout);
    let _ = std::io::Write::flush(&mut stdout);
    ExitCode::from(code as u8)
}

async fn run(cli: Cli) -> anyhow::Result<ExitStatus> {
    let connection = Connection::from_args(&cli.kube);
    match cli.command {
        Command::Create(args) => {
            let settings = CreateSettings::from_args(&args, cli.kube.namespace.as_deref())?;
            commands::create::run(settings, connection).await
        }
        Command::Attach(args) => {
            let settings = AttachSettings::from_args(&args, cli.kube.namespace.as_deref())?;
            commands::attach::run(settings, connection).await
        }
        Command::Detach(args) => {
            let settings = DetachSettings::from_args(&args, cli.kube.namespace.as_deref())?;
            commands::detach::run(settings, connection).await
        }
        Command::List(args) => {
            let settings = ListSettings::from_args(&args, cli.kube.namespace.as_deref())?;
            commands::list::run(settings, connection).await
        }
        Command::Show(args) => {
            let settings = ShowSettings::from_args(&args, cli.kube.namespace.as_deref())?;
            commands::show::run(settings, connection).await
        }
        Command::Login(args) => commands::login::login(LoginSettings::from_args(&args)?),
        Command::Logout(args) => commands::login::logout(settings::logout_server(&args)?),
        Command::Logins(args) => commands::login::logins(settings::structured_output(args.output)),
        Command::CredentialHelper(args) => {
            let mut stdout = std::io::stdout().lock();
            let code = commands::credential_helper::serve(
                &args.action,
                &mut std::io::stdin().lock(),
                &mut stdout,
            );
            std::io::Write::flush(&mut stdout)?;
            Ok(if code == 0 {
                ExitStatus::Success
            } else {
                ExitStatus::Failure
            })
        }
        Command::Completion(args) => {
            let mut command = Cli::command();
            clap_complete::generate(
                args.shell,
                &mut command,
                "kubectl-regcred",
                &mut std::io::stdout(),
            );
            Ok(ExitStatus::Success)
        }
        Command::Version => {
            println!(
                "kubectl-regcred {} (commit {}, {})",
                env!("CARGO_PKG_VERSION"),
                env!("REGCRED_GIT_COMMIT"),
                env!("REGCRED_TARGET")
            );
            Ok(ExitStatus::Success)
        }
        // Handled in `main` before clap parses; reachable only through odd spellings.
        Command::Complete(args) => {
            print!("{}", completion::complete(&args.words).await.render());
            Ok(ExitStatus::Success)
        }
        Command::Check(args) => {
            let settings = CheckSettings::from_args(&args, cli.kube.namespace.as_deref())?;
            commands::check::run(settings, connection).await
        }
    }
}
