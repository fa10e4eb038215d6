//! One module per subcommand; each holds orchestration only and sees plain settings.

pub(crate) mod attach;
mod changes;
pub(crate) mod check;
pub(crate) mod controller;
pub(crate) mod create;
pub(crate) mod credential_helper;
pub(crate) mod delete;
pub(crate) mod detach;
pub(crate) mod list;
pub(crate) mod login;
pub(crate) mod manpages;
pub(crate) mod show;
pub(crate) mod sync;
pub(crate) mod verify;

use crate::credentials::{self, Credential, ExplicitLogin, LocalEnv, Request};
use crate::printer::Printer;
use crate::probe::{self, LoginCheck, Transport, TransportSettings};
use crate::rules::registry::Registry;
use crate::rules::verdict::RegistryVerdict;
use crate::settings::{ExplicitSettings, LocalLookup};

/// Prints the result rows (lines, or objects with `-o`) and the summary counting `what`;
/// exit 1 when any row failed.
pub(crate) fn print_rows<E: std::fmt::Display>(
    rows: Vec<crate::output::ResultRow<E>>,
    write: &crate::settings::WriteSettings,
    what: &str,
    several: bool,
    printer: &Printer,
) -> anyhow::Result<crate::error::ExitStatus> {
    let tally = crate::output::print_results(rows, (write.mode, write.output.clone()), several, printer)?;
    crate::output::emit_summary(printer, what, &tally, several, write.mode);
    Ok(tally.exit_status())
}

/// Connects for a command: long fan-outs draw their progress with `printer`.
pub(crate) async fn connect(
    connection: &crate::settings::Connection,
    printer: &Printer,
) -> Result<crate::cluster::Cluster, crate::cluster::ClusterError> {
    crate::cluster::connect(connection, &printer.reporter()).await
}

/// Connects and lists the namespaces `scope` names, saying which it skips.
pub(crate) async fn connect_in(
    connection: &crate::settings::Connection,
    scope: &crate::settings::Scope,
    printer: &Printer,
) -> Result<(crate::cluster::Cluster, Vec<String>), crate::cluster::ClusterError> {
    let notices = crate::notices::Notices::default();
    let connected =
        crate::cluster::connect_in(connection, scope, &printer.reporter(), &notices).await;
    printer.notices(&notices);
    connected
}

/// Says which resources could not be read in which namespace (a Role that does not cover
/// them): what the command reports leaves them out, and the reader must know.
pub(crate) fn warn_unreadable(inventory: &crate::cluster::inventory::Inventory, printer: &Printer) {
    for (namespace, resources) in &inventory.unreadable {
        printer.warning(format!(
            "namespace {namespace}: may not list {} (forbidden); what they hold is left out",
            resources.join(", ")
        ));
    }
}

/// `--username` with its password, read now (stdin or a no-echo prompt), before any request.
pub(crate) fn explicit_login(
    explicit: &ExplicitSettings,
    servers: &[Registry],
    printer: &Printer,
) -> anyhow::Result<ExplicitLogin> {
    if let Some(warning) = explicit.password.warning() {
        printer.warning(warning);
    }
    let password = credentials::read_password(explicit.password.clone(), &explicit.username)?;
    Ok(ExplicitLogin {
        servers: servers.to_vec(),
        username: explicit.username.clone(),
        password,
        email: explicit.email.clone(),
    })
}

/// Local credentials as `create` and `verify` find them; warnings and where each came from
/// go to stderr.
pub(crate) fn local_credentials(
    lookup: &LocalLookup,
    printer: &Printer,
) -> anyhow::Result<Vec<Credential>> {
    let explicit = match &lookup.explicit {
        None => None,
        Some(explicit) => Some(explicit_login(explicit, &lookup.servers, printer)?),
    };
    let request = Request {
        servers: lookup.servers.clone(),
        from: lookup.from.clone(),
        explicit,
        docker_config: lookup.docker_config.clone(),
        helper_timeout: lookup.helper_timeout,
    };
    let resolution = credentials::resolve(&request, &LocalEnv::from_process())?;
    for warning in &resolution.warnings {
        printer.warning(warning);
    }
    for credential in &resolution.credentials {
        printer.status(format!(
            "using {} from {}",
            credential.registry, credential.origin
        ));
    }
    Ok(resolution.credentials)
}

/// `create --verify` and `login`: every login must be VALID at its registry, or nothing is
/// written; the error names each registry that said otherwise, and why.
/// What a failed verification withholds, which also decides the advice: `login` is itself
/// the logging in that the usual advice would send the user to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Withheld {
    /// `create --verify`: the Secret.
    Secret,
    /// `login`: the keychain entry.
    Login,
}

pub(crate) async fn verify_before_writing(
    credentials: &[Credential],
    transport: &TransportSettings,
    withheld: Withheld,
    printer: &Printer,
) -> anyhow::Result<()> {
    let transport = Transport::new(transport)?;
    let checks = credentials
        .iter()
        .map(|credential| LoginCheck {
            domain: credential.registry.host().to_string(),
            username: credential.username.clone(),
            password: credential.password.clone(),
            image: None,
        })
        .collect();
    let outcomes = probe::verify_all(&transport, checks, k8s_openapi::jiff::Timestamp::now()).await;
    let mut refused = Vec::new();
    for (credential, outcome) in credentials.iter().zip(outcomes) {
        if outcome.verdict == RegistryVerdict::Valid {
            printer.status(format!(
                "verified {}: {}",
                credential.registry, outcome.reason
            ));
        } else {
            let fix = match withheld {
                Withheld::Secret => outcome.verdict.fix(),
                Withheld::Login => outcome.verdict.fix_when_logging_in(),
            }
            .map(|f| format!("; {f}"))
            .unwrap_or_default();
            refused.push(format!(
                "{}: {} ({}){fix}",
                credential.registry, outcome.verdict, outcome.reason
            ));
        }
    }
    if refused.is_empty() {
        return Ok(());
    }
    anyhow::bail!(
        "{}: {} not verified:\n  - {}",
        match withheld {
            Withheld::Secret => "nothing was written",
            Withheld::Login => "the login was not stored",
        },
        if refused.len() == 1 {
            "a login was"
        } else {
            "logins were"
        },
        refused.join("\n  - ")
    )
}
