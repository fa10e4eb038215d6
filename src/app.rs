//! The program: arguments in, an exit code out. It picks the mode (credential helper, shell
//! completion, a command), turns flags into settings and runs the command; errors are
//! rendered here and nowhere below.

use std::ffi::OsString;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};

use crate::cli::{self, Cli, Command, ControllerCommand};
use crate::commands;
use crate::completion;
use crate::credentials::ReadOnce;
use crate::desired::LocalAnswers;
use crate::error::{ExitStatus, exit_status_for, is_broken_pipe, render};
use crate::fleet::Targets;
use crate::printer::Printer;
use crate::settings::{
    self, Action, AttachSettings, CheckSettings, CreateSettings, DeleteSettings, DetachSettings,
    ListSettings, LoginSettings, ManifestsOptions, ShowSettings, SyncSettings, VerifyLogins,
    VerifySettings,
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
    let command = cli::command(name);
    let typed = lossy_strings(args.get(1..).unwrap_or_default());
    let cli = match command
        .clone()
        .try_get_matches_from(args)
        .and_then(|matches| Cli::from_arg_matches(&matches))
    {
        Ok(cli) => cli,
        Err(e) => {
            let e = cli::offer_only_visible(e, &command);
            // A command given without its subcommand shows its help, as kubectl does: on
            // stdout, a success.
            let text = cli::kubectl_wording(&e, &command, name, &typed);
            if e.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                let _ = write!(std::io::stdout(), "{text}");
                return ExitStatus::Success.into();
            }
            return if e.use_stderr() {
                let _ = write!(std::io::stderr(), "{text}");
                ExitStatus::Usage
            } else {
                let _ = write!(std::io::stdout(), "{text}");
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
    match runtime.block_on(run(cli, name, &printer)) {
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

/// Why `login`, `logout` and `logins` take no context selection.
const ON_THIS_MACHINE: &str = "the keychain logins are on this machine, in no context";

/// `name`: how the user typed us, for the help texts we print.
async fn run(cli: Cli, name: &str, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let targets = Targets::from_args(&cli.kube)?;
    let namespace = cli.kube.namespace.as_deref();
    // Each command: settings validated once, local credentials read once, writes to several
    // contexts confirmed, then the cluster work in each context (docs/contexts.md).
    match cli.command {
        Command::Create(args) => {
            let settings = CreateSettings::from_args(&args, namespace)?;
            let local =
                commands::create::read_local(&settings, targets.is_several(), printer).await?;
            targets.confirm_writes(settings.action(), printer)?;
            let (settings, local) = (&settings, local.as_deref());
            targets
                .run(printer, |connection, printer| async move {
                    commands::create::run(settings, local, connection, &printer).await
                })
                .await
        }
        Command::Attach(args) => {
            let settings = AttachSettings::from_args(&args, namespace)?;
            targets.confirm_writes(settings.action(), printer)?;
            let settings = &settings;
            targets
                .run(printer, |connection, printer| async move {
                    commands::attach::run(settings, connection, &printer).await
                })
                .await
        }
        Command::Detach(args) => {
            let settings = DetachSettings::from_args(&args, namespace)?;
            targets.confirm_writes(settings.action(), printer)?;
            let settings = &settings;
            targets
                .run(printer, |connection, printer| async move {
                    commands::detach::run(settings, connection, &printer).await
                })
                .await
        }
        Command::Sync(args) => run_sync(&args, targets, namespace, printer).await,
        Command::Controller(ControllerCommand::Manifests(args)) => {
            targets.one("controller manifests only prints, for any cluster")?;
            let settings = ManifestsOptions::from_args(&args, namespace)?;
            commands::controller::manifests(&settings, printer)
        }
        Command::Controller(ControllerCommand::Status(args)) => {
            let lease_namespace = namespace.unwrap_or(settings::CONTROLLER_NAMESPACE);
            let output = settings::structured_output(args.output.as_ref())?;
            let lease_name = args.lease_name.as_str();
            targets
                .run(printer, |connection, printer| {
                    let output = output.clone();
                    async move {
                        commands::controller::status(
                            lease_namespace,
                            lease_name,
                            output,
                            connection,
                            &printer,
                        )
                        .await
                    }
                })
                .await
        }
        Command::Delete(args) => {
            let settings = DeleteSettings::from_args(&args, namespace)?;
            targets.confirm_writes(settings.action(), printer)?;
            let settings = &settings;
            targets
                .run(printer, |connection, printer| async move {
                    commands::delete::run(settings, connection, &printer).await
                })
                .await
        }
        Command::List(args) => {
            let settings = ListSettings::from_args(&args, namespace)?;
            let settings = &settings;
            targets
                .run(printer, |connection, printer| async move {
                    commands::list::run(settings, connection, &printer).await
                })
                .await
        }
        Command::Show(args) => {
            let settings = ShowSettings::from_args(&args, namespace)?;
            let settings = &settings;
            targets
                .run(printer, |connection, printer| async move {
                    commands::show::run(settings, connection, &printer).await
                })
                .await
        }
        Command::Check(args) => {
            let settings = CheckSettings::from_args(&args, namespace)?;
            let settings = &settings;
            targets
                .run(printer, |connection, printer| async move {
                    commands::check::run(settings, connection, &printer).await
                })
                .await
        }
        Command::Verify(args) => run_verify(&args, targets, namespace, printer).await,
        Command::Login(args) => {
            targets.one(ON_THIS_MACHINE)?;
            commands::login::login(LoginSettings::from_args(&args)?, printer).await
        }
        Command::Logout(args) => {
            targets.one(ON_THIS_MACHINE)?;
            commands::login::logout(settings::logout_server(&args)?, printer)
        }
        Command::Logins(args) => {
            targets.one(ON_THIS_MACHINE)?;
            commands::login::logins(settings::structured_output(args.output.as_ref())?, printer)
        }
        Command::CredentialHelper(args) => Ok(serve_helper(&args.action, printer)),
        Command::Completion(args) => print_completion_script(args.shell, printer),
        Command::Version => print_version(printer),
        Command::Options => print_global_options(name, printer),
        Command::GenerateMan(args) => print_man_pages(&args.dir, printer),
        // Handled in `main` before clap parses; reachable only through odd spellings.
        Command::Complete(args) => {
            print_completions(&completion::complete(&args.words).await, printer)?;
            Ok(ExitStatus::Success)
        }
    }
}

/// `sync`: once in each context, or `--watch` in one.
async fn run_sync(
    args: &cli::SyncArgs,
    targets: Targets,
    namespace: Option<&str>,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    let settings = SyncSettings::from_args(args, namespace)?;
    let explicit = commands::sync::login_given_again(&settings, printer)?;
    if let Some(watch) = settings.watch.clone() {
        let connection = targets
            .one("sync --watch runs in one context: run one per cluster (docs/controller.md)")?;
        return commands::sync::watch(settings, watch, explicit, connection, printer).await;
    }
    targets.confirm_writes(settings.action(), printer)?;
    let reads = ReadOnce::default();
    let local = LocalAnswers {
        explicit: explicit.as_ref(),
        reads: &reads,
    };
    let settings = &settings;
    targets
        .run(printer, |connection, printer| async move {
            commands::sync::run(settings, local, connection, &printer).await
        })
        .await
}

/// `verify`: this machine's logins once, or `verify secret/NAME` in each context.
async fn run_verify(
    args: &cli::VerifyArgs,
    targets: Targets,
    namespace: Option<&str>,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    let settings = VerifySettings::from_args(args, namespace)?;
    if matches!(settings.logins, VerifyLogins::Local(_)) {
        let connection = targets
            .one("verify checks this machine's logins; only `verify secret/NAME` runs in several contexts")?;
        return commands::verify::run(&settings, connection, printer).await;
    }
    let settings = &settings;
    targets
        .run(printer, |connection, printer| async move {
            commands::verify::run(settings, connection, &printer).await
        })
        .await
}

/// `completion SHELL`: the shell's completion script.
fn print_completion_script(
    shell: clap_complete::Shell,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    let mut command = Cli::command();
    let mut out = printer.out();
    clap_complete::generate(shell, &mut command, "kubectl-regcred", &mut out);
    out.flush()?;
    Ok(ExitStatus::Success)
}

/// `options`: the flags every command takes.
fn print_global_options(name: &str, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let mut out = printer.human_out();
    write!(out, "{}", cli::global_options(name).render_help())?;
    out.flush()?;
    Ok(ExitStatus::Success)
}

/// `version`: the version, commit and target it was built for.
fn print_version(printer: &Printer) -> anyhow::Result<ExitStatus> {
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

/// `generate-man DIR`: writes the man pages and names each.
fn print_man_pages(dir: &Path, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let mut out = printer.human_out();
    for page in commands::manpages::write_all(dir)? {
        writeln!(out, "{}", page.display())?;
    }
    out.flush()?;
    Ok(ExitStatus::Success)
}
