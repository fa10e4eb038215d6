//! `create`: local credentials → one pull Secret, written into every target namespace.
//! Everything is resolved and validated before the first request.

use anyhow::Context;
use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;

use super::Withheld;
use crate::cluster::fetch::{self, Query};
use crate::cluster::inventory::{self, Wants};
use crate::cluster::secrets::{self, Known, WriteError, WriteOptions};
use crate::cluster::writes::WriteMode;
use crate::cluster::{self, ApiError, Cluster};
use crate::credentials::{self, Credential};
use crate::error::{ExitStatus, UsageError};
use crate::output::{self, ResultRow, Written};
use crate::printer::Printer;
use crate::reconcile;
use crate::references::{self, Change, Plan};
use crate::rules::expiry::{self, Freshness};
use crate::rules::pullsecret::{
    build_secret, dropped_registries, keeping_other_registries, recorded_registries,
};
use crate::rules::scope::RecordedScope;
use crate::rules::text::shell_quote;
use crate::settings::{Connection, CreateSettings, DryRun, NamespaceScope};

/// Why the Secret could not be written in one namespace.
#[derive(Debug, thiserror::Error)]
enum NamespaceError {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error(transparent)]
    Write(WriteError),
    #[error(
        "secret {name:?} had another type, so --force deleted it to create ours, and creating ours failed: {create}. {}{}",
        match restore {
            None => "The old Secret was restored as it was.".to_string(),
            Some(e) => format!("Restoring the old Secret failed too ({e}): it is gone."),
        },
        if users.is_empty() { String::new() } else { format!(" It is referenced by {}.", users.join(", ")) }
    )]
    ReplaceFailed {
        name: String,
        create: ApiError,
        restore: Option<ApiError>,
        users: Vec<String>,
    },
}

/// What was written in one namespace.
struct Outcome {
    action: secrets::Action,
    /// The resulting object.
    secret: Secret,
    /// Registries the Secret held before and no longer holds (`--force`, `--replace`).
    dropped: Vec<String>,
}

/// Each namespace's outcome.
type NamespaceResult = (String, Result<Outcome, NamespaceError>);

/// What `create` takes from this machine, before any cluster is contacted and once however
/// many contexts it writes to: the local credentials, verified with `--verify`. `None` with
/// `--from-secret`, whose credentials each cluster holds.
pub(crate) async fn read_local(
    settings: &CreateSettings,
    several_contexts: bool,
    printer: &Printer,
) -> anyhow::Result<Option<Vec<Credential>>> {
    if settings.from_secret.is_some() {
        return Ok(None);
    }
    let credentials = super::local_credentials(&settings.lookup, printer)?;
    refuse_personal_fan_out(settings, several_contexts, &credentials)?;
    refuse_expired(settings, &credentials, printer)?;
    if let Some(transport) = &settings.verify {
        super::verify_before_writing(&credentials, transport, Withheld::Secret, printer).await?;
    }
    Ok(Some(credentials))
}

/// Every login on this machine (a personal Docker Hub account, a GitHub token with repository
/// scopes) copied into many namespaces is readable by anyone who can read Secrets in any of
/// them: with no `--server`, a fan-out must be asked for (`--all-registries`; docs/create.md).
fn refuse_personal_fan_out(
    settings: &CreateSettings,
    several_contexts: bool,
    credentials: &[Credential],
) -> Result<(), UsageError> {
    let lookup = &settings.lookup;
    let chose_registries = !lookup.servers.is_empty() || lookup.explicit.is_some();
    let fans_out = several_contexts || !settings.scope.is_single_namespace();
    if chose_registries || !fans_out || settings.all_registries || credentials.is_empty() {
        return Ok(());
    }
    let servers: Vec<String> = credentials
        .iter()
        .map(|c| format!("--server {}", shell_quote(&c.registry.to_string())))
        .collect();
    Err(UsageError(format!(
        "no --server given, so this would copy every login found here ({}) into {}; name the \
         registries to copy ({}), or pass --all-registries if every one is meant. Nothing was written",
        credentials
            .iter()
            .map(|c| c.registry.to_string())
            .collect::<Vec<_>>()
            .join(", "),
        if several_contexts {
            "several contexts"
        } else {
            "several namespaces"
        },
        servers.join(" ")
    )))
}

/// A token that has expired (a JWT's `exp`, an ECR token's `expiration`) would only fail every
/// pull: refused unless `--allow-expired`, and a warning when it expires within the hour.
fn refuse_expired(
    settings: &CreateSettings,
    credentials: &[Credential],
    printer: &Printer,
) -> anyhow::Result<()> {
    let now = k8s_openapi::jiff::Timestamp::now();
    let mut expired = Vec::new();
    for credential in credentials {
        let Some(at) = expiry::expiry_of(credential.password.expose()) else {
            continue;
        };
        match expiry::freshness(at, now) {
            Freshness::Valid => {}
            Freshness::Expiring => printer.warning(format!(
                "the login for {} expires at {at}, within the hour: pods that start after that cannot pull with it",
                credential.registry
            )),
            Freshness::Expired if settings.allow_expired => printer.warning(format!(
                "the login for {} expired at {at}; writing it anyway (--allow-expired)",
                credential.registry
            )),
            Freshness::Expired => expired.push(format!("{} at {at}", credential.registry)),
        }
    }
    if !expired.is_empty() {
        let one = expired.len() == 1;
        anyhow::bail!(
            "{} expired ({}): the kubelet cannot pull with {}; get a new token (docker login, or \
             the cloud's CLI) and run this again, or pass --allow-expired. Nothing was written",
            if one { "a login has" } else { "logins have" },
            expired.join(", "),
            if one { "it" } else { "them" }
        );
    }
    Ok(())
}

/// Writes the Secret in the context `connection` names, from `local` (see [`read_local`]).
pub(crate) async fn run(
    settings: &CreateSettings,
    local: Option<&[Credential]>,
    connection: Connection,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    let (cluster, namespaces) = target_namespaces(settings, &connection, printer).await?;
    let credentials = match (local, &cluster, &settings.from_secret) {
        (Some(local), _, _) => local.to_vec(),
        (None, Some(cluster), Some(source)) => {
            let credentials = reconcile::source_secret_credentials(
                cluster,
                &source.namespace,
                &source.name,
                &settings.lookup.servers,
            )
            .await?;
            for credential in &credentials {
                printer.status(format!(
                    "using {} from {}",
                    credential.registry, credential.origin
                ));
            }
            refuse_expired(settings, &credentials, printer)?;
            if let Some(transport) = &settings.verify {
                super::verify_before_writing(&credentials, transport, Withheld::Secret, printer)
                    .await?;
            }
            credentials
        }
        _ => unreachable!("--from-secret always connects"),
    };
    let context_namespace = match &cluster {
        Some(cluster) => cluster.default_namespace.clone(),
        None => cluster::context_namespace(&connection),
    };
    let recorded = settings.scope.record(&context_namespace);
    let several = namespaces.len() > 1;
    let results: Vec<NamespaceResult> = match &cluster {
        None => preview_all(settings, &credentials, &recorded, namespaces),
        Some(cluster) => {
            let results = write_all(
                cluster,
                settings,
                &credentials,
                &recorded,
                namespaces.clone(),
            )
            .await;
            if previews_offline(settings) && results.iter().all(|(_, r)| is_unreachable(r)) {
                // Like kubectl's, a client dry run of named namespaces works without a
                // cluster; it just cannot tell `created` from `configured` or `unchanged`.
                printer.warning(
                    "could not reach the cluster to see what exists: showing the Secret as it would be created",
                );
                preview_all(settings, &credentials, &recorded, namespaces)
            } else {
                results
            }
        }
    };
    let written: Vec<String> = results
        .iter()
        .filter(|(_, result)| result.is_ok())
        .map(|(ns, _)| ns.clone())
        .collect();
    let written_keys: Vec<String> = credentials
        .iter()
        .map(|c| c.registry.secret_key())
        .collect();
    let status = report(settings, results, &written_keys, several, printer)?;
    let (Some(cluster), false) = (&cluster, settings.attach.is_empty()) else {
        return Ok(status);
    };
    let attached = attach_all(cluster, settings, &written, several, printer).await?;
    Ok(if status == ExitStatus::Success {
        attached
    } else {
        status
    })
}

/// A client dry run of named namespaces needs no cluster, like kubectl's: it reads what
/// exists when it can, to print the verb the real run would (docs/dry-run.md), and previews
/// offline when there is no cluster to ask.
fn previews_offline(settings: &CreateSettings) -> bool {
    settings.write.dry_run == DryRun::Client
        && settings.scope.names_namespaces()
        && settings.from_secret.is_none()
}

/// A namespace that could not be read because no server answered (no HTTP status).
fn is_unreachable(result: &Result<Outcome, NamespaceError>) -> bool {
    matches!(
        result,
        Err(NamespaceError::Api(ApiError { status: None, .. }))
    )
}

/// The namespaces to write to, and the cluster, if there is one to read (see
/// [`previews_offline`]).
async fn target_namespaces(
    settings: &CreateSettings,
    connection: &Connection,
    printer: &Printer,
) -> anyhow::Result<(Option<Cluster>, Vec<String>)> {
    let (cluster, namespaces) = if previews_offline(settings) {
        let namespaces = match &settings.scope.namespaces {
            NamespaceScope::Named(names) => names.clone(),
            _ => vec![cluster::context_namespace(connection)],
        };
        // No kubeconfig, or one that names no usable cluster: nothing to read.
        let cluster = match cluster::read_kubeconfig(connection) {
            Ok(_) => match cluster::connect(connection, printer).await {
                Ok(cluster) => Some(cluster),
                Err(error) => {
                    printer.warning(format!(
                        "could not connect to see what exists ({error}): showing the Secret as it would be created"
                    ));
                    None
                }
            },
            Err(_) => None,
        };
        (cluster, namespaces)
    } else {
        let (cluster, namespaces) =
            cluster::connect_in(connection, &settings.scope, printer).await?;
        (Some(cluster), namespaces)
    };
    if namespaces.is_empty() {
        anyhow::bail!("there are no namespaces to write to");
    }
    Ok((cluster, namespaces))
}

/// A client-side dry run: the Secrets as they would be created.
fn preview_all(
    settings: &CreateSettings,
    credentials: &[credentials::Credential],
    recorded: &RecordedScope,
    namespaces: Vec<String>,
) -> Vec<NamespaceResult> {
    // kubectl writes the namespace into printed objects only when the user named it.
    let namespace_in_object = settings.scope.is_explicit() || namespaces.len() > 1;
    namespaces
        .into_iter()
        .map(|ns| {
            let namespace = namespace_in_object.then_some(ns.as_str());
            let secret = build_secret(&settings.name, namespace, credentials, Some(recorded));
            let outcome = Outcome {
                action: secrets::Action::Created,
                secret,
                dropped: Vec::new(),
            };
            (ns, Ok(outcome))
        })
        .collect()
}

/// `--attach`: the new Secret into the named workloads, in the namespaces written.
async fn attach_all(
    cluster: &Cluster,
    settings: &CreateSettings,
    written: &[String],
    several_namespaces: bool,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    let plan = Plan {
        change: Change::Attach {
            secret: Some(settings.name.clone()),
            auto: false,
            // In a dry run the Secret was not stored, so it cannot be found yet.
            allow_missing: settings.write.dry_run != DryRun::None,
            restart: false,
        },
        targets: &settings.attach,
        labels: None,
        namespaces: written,
        missing_is_error: settings.scope.names_namespaces(),
        write: &settings.write,
    };
    let outcome = references::apply(cluster, &plan).await;
    references::report(outcome, &settings.write, several_namespaces, printer)
}

/// `--username` with its password, read now (stdin or a prompt), for `servers`.
async fn write_all(
    cluster: &Cluster,
    settings: &CreateSettings,
    credentials: &[credentials::Credential],
    recorded: &RecordedScope,
    namespaces: Vec<String>,
) -> Vec<NamespaceResult> {
    // What is there now: one cluster-wide read for many namespaces, else one per namespace.
    let query = Query {
        name: Some(&settings.name),
        concurrency: settings.write.concurrency,
        ..Query::default()
    };
    let fetched = fetch::fetch(cluster, &fetch::secret_resource(), &namespaces, query).await;
    let known: Vec<(String, Result<Known, ApiError>)> = fetched
        .into_iter()
        .map(|(ns, found)| {
            let known = found.map(|objects| match objects.first().and_then(fetch::as_secret) {
                Some(secret) => Known::Present(Box::new(secret)),
                None => Known::Absent,
            });
            (ns, known)
        })
        .collect();
    let options = WriteOptions {
        mode: WriteMode::of(&settings.write),
        force: settings.force,
        field_manager: &settings.write.field_manager,
    };
    let written = cluster
        .fan_out(
            known,
            settings.write.concurrency,
            "namespaces",
            |(ns, known)| async move {
                let api: Api<Secret> = Api::namespaced(cluster.client.clone(), &ns);
                let built = build_secret(&settings.name, Some(&ns), credentials, Some(recorded));
                // Registries the Secret holds that this run does not write are kept, unless
                // --replace (docs/create.md).
                // What a replacing write drops is said, never silent (a retry recomputes it).
                let dropped = std::sync::Mutex::new(Vec::new());
                let desired = |current: Option<&Secret>| {
                    let desired = match current {
                        Some(existing) if !settings.replace => {
                            keeping_other_registries(existing, built.clone())
                        }
                        _ => built.clone(),
                    };
                    *dropped.lock().unwrap_or_else(|e| e.into_inner()) = current
                        .map(|existing| dropped_registries(existing, &desired))
                        .unwrap_or_default();
                    desired
                };
                let written = secrets::write(&api, &desired, known?, options).await;
                let dropped = dropped.into_inner().unwrap_or_else(|e| e.into_inner());
                written
                    .map(|(action, secret)| Outcome {
                        action,
                        secret,
                        dropped,
                    })
                    .map_err(|e| match e {
                        WriteError::Api(api_error) => {
                            NamespaceError::Api(cluster.api_error(&api_error))
                        }
                        WriteError::ReplaceFailed {
                            name,
                            create,
                            restore,
                        } => NamespaceError::ReplaceFailed {
                            name,
                            create: cluster.api_error(&create),
                            restore: restore.map(|e| cluster.api_error(&e)),
                            users: Vec::new(),
                        },
                        other => NamespaceError::Write(other),
                    })
            },
        )
        .await;
    let mut results: Vec<NamespaceResult> = written
        .into_iter()
        .map(|((ns, _), result)| (ns, result))
        .collect();
    name_users_of_failed_replacements(cluster, &mut results).await;
    results
}

/// A failed `--force` replacement names what references the Secret, which the failure may
/// have left without one.
async fn name_users_of_failed_replacements(cluster: &Cluster, results: &mut [NamespaceResult]) {
    for (ns, result) in results.iter_mut() {
        if let Err(NamespaceError::ReplaceFailed { name, users, .. }) = result {
            let inventory =
                inventory::gather(cluster, std::slice::from_ref(ns), Wants::USERS, 1).await;
            if let Some(found) = inventory.namespaces.get(ns.as_str()) {
                *users = found.users_of(name);
            }
        }
    }
}

/// Prints each namespace's line (or object), what each existing Secret kept, and a summary.
fn report(
    settings: &CreateSettings,
    results: Vec<NamespaceResult>,
    written_keys: &[String],
    several: bool,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    let mut rows = Vec::new();
    for (namespace, result) in results {
        let place = if several {
            format!(" in namespace {namespace}")
        } else {
            String::new()
        };
        if let Ok(outcome) = &result {
            let kept: Vec<String> = match outcome.action {
                secrets::Action::Configured | secrets::Action::Unchanged => {
                    recorded_registries(&outcome.secret)
                        .into_iter()
                        .filter(|key| !written_keys.contains(key))
                        .collect()
                }
                _ => Vec::new(),
            };
            if !kept.is_empty() {
                printer.note(format!(
                    "secret/{}{place} kept {}, which this run did not write (--replace drops them)",
                    settings.name,
                    kept.join(", ")
                ));
            }
            if !outcome.dropped.is_empty() {
                let dry = if settings.write.dry_run == DryRun::None {
                    "no longer holds"
                } else {
                    "would no longer hold"
                };
                printer.warning(format!(
                    "secret/{}{place} {dry} {}, which it held before this run",
                    settings.name,
                    outcome.dropped.join(", ")
                ));
            }
        }
        let outcome = match result {
            Ok(Outcome { action, secret, .. }) => Ok(Written {
                tally: action.verb().to_string(),
                verb: action.verb().to_string(),
                object: Some(serde_json::to_value(&secret).context("encoding the Secret")?),
            }),
            Err(error) => Err(error),
        };
        rows.push(ResultRow {
            subject: format!("namespace {namespace}"),
            reference: format!("secret/{}", settings.name),
            namespace,
            outcome,
        });
    }
    let tally = output::print_results(rows, &settings.write, several, printer)?;
    output::emit_summary(printer, "namespaces", &tally, several);
    Ok(tally.exit_status())
}
