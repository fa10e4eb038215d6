//! `create`: local credentials → one pull Secret, written into every target namespace.
//! Everything is resolved and validated before the first request.

use anyhow::Context;
use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;

use crate::cluster::fetch::{self, Query};
use crate::cluster::inventory::{self, Wants};
use crate::cluster::secrets::{self, Known, WriteError, WriteOptions};
use crate::cluster::{self, ApiError, Cluster};
use crate::credentials::{self, Credential};
use crate::error::ExitStatus;
use crate::output::{self, ResultRow, Written};
use crate::printer::Printer;
use crate::reconcile;
use crate::references::{self, Change, Plan};
use crate::rules::pullsecret::build_secret;
use crate::rules::scope::RecordedScope;
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

/// Each namespace's outcome: what was done and the resulting object.
type NamespaceResult = (String, Result<(secrets::Action, Secret), NamespaceError>);

/// What `create` takes from this machine, before any cluster is contacted and once however
/// many contexts it writes to: the local credentials, verified with `--verify`. `None` with
/// `--from-secret`, whose credentials each cluster holds.
pub(crate) async fn read_local(
    settings: &CreateSettings,
    printer: &Printer,
) -> anyhow::Result<Option<Vec<Credential>>> {
    if settings.from_secret.is_some() {
        return Ok(None);
    }
    let credentials = super::local_credentials(&settings.lookup, printer)?;
    if let Some(transport) = &settings.verify {
        super::verify_before_writing(&credentials, transport, "nothing was written", printer)
            .await?;
    }
    Ok(Some(credentials))
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
            if let Some(transport) = &settings.verify {
                super::verify_before_writing(
                    &credentials,
                    transport,
                    "nothing was written",
                    printer,
                )
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
        Some(cluster) => write_all(cluster, settings, &credentials, &recorded, namespaces).await,
    };
    let written: Vec<String> = results
        .iter()
        .filter(|(_, result)| result.is_ok())
        .map(|(ns, _)| ns.clone())
        .collect();
    let status = report(settings, results, several, printer)?;
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

/// The namespaces to write to, and the cluster unless this is a client-side dry run with
/// known namespaces: that never contacts the cluster, like kubectl's.
async fn target_namespaces(
    settings: &CreateSettings,
    connection: &Connection,
    printer: &Printer,
) -> anyhow::Result<(Option<Cluster>, Vec<String>)> {
    let offline = settings.write.dry_run == DryRun::Client
        && settings.scope.names_namespaces()
        && settings.from_secret.is_none();
    let (cluster, namespaces) = if offline {
        let namespaces = match &settings.scope.namespaces {
            NamespaceScope::Named(names) => names.clone(),
            _ => vec![cluster::context_namespace(connection)],
        };
        (None, namespaces)
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
            (ns, Ok((secrets::Action::Created, secret)))
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
        server_dry_run: settings.write.dry_run == DryRun::Server,
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
                let desired = build_secret(&settings.name, Some(&ns), credentials, Some(recorded));
                secrets::write(&api, &desired, known?, options)
                    .await
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

fn report(
    settings: &CreateSettings,
    results: Vec<NamespaceResult>,
    several: bool,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    let mut rows = Vec::new();
    for (namespace, result) in results {
        let outcome = match result {
            Ok((action, secret)) => Ok(Written {
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
