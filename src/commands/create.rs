//! `create`: local credentials → one pull Secret, written into every target namespace.
//! Everything is resolved and validated before the first request.

use anyhow::Context;
use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;

use super::Withheld;
use crate::cluster::fetch::{self, Query};
use crate::cluster::inventory::{self, Wants};
use crate::cluster::secrets::{self, Known, SecretWrite, WriteError};
use crate::cluster::writes::{self, WriteMode, Writer};
use crate::cluster::{self, ApiError, Cluster};
use crate::credentials::Credential;
use crate::error::{ExitStatus, UsageError};
use crate::output::{self, ResultRow, Written};
use crate::printer::Printer;
use crate::reconcile;
use crate::references::{self, Change, Plan};
use crate::rules::expiry::{self, Freshness};
use crate::rules::pullsecret::{
    build_secret, dropped_registries, keeping_other_registries, recorded_registries,
};
use crate::rules::scope::{RecordedScope, Scope};
use crate::rules::text::shell_quote;
use crate::rules::trust::{Owner, SourceNamedBy};
use crate::settings::{Connection, CreateSettings, NamespaceScope, SecretRef, WriteSettings};

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
            read_source_secret(cluster, settings, source, printer).await?
        }
        _ => unreachable!("--from-secret always connects"),
    };
    let context_namespace = match &cluster {
        Some(cluster) => cluster.default_namespace.clone(),
        None => cluster::context_namespace(&connection),
    };
    let recorded = settings.scope.record(&context_namespace);
    // Several namespaces share one definition, which only its operators can write
    // (docs/sync.md, "Trust"); a Secret for one namespace is its own.
    let owner = (!settings.scope.is_single_namespace())
        .then(|| Owner::defined(&settings.definitions_namespace, &settings.name, true));
    let namespaces = without_definitions_namespace(settings, namespaces, printer)?;
    let definition = match (&cluster, &owner) {
        (Some(cluster), Some(owner)) => {
            write_definition(cluster, settings, owner, &credentials, &recorded, printer).await?
        }
        _ => None,
    };
    // Without the right to write a definition, each namespace's Secret is its own.
    let owner = owner.filter(|_| definition.is_some() || cluster.is_none());
    if let (Some(_), None, false) = (&cluster, &owner, settings.scope.is_single_namespace()) {
        printer.note(format!(
            "may not write definitions in namespace {} (forbidden): each namespace's Secret is its \
             own, recording only its namespace (sync each with kubectl regcred sync {} -n NS)",
            settings.definitions_namespace, settings.name
        ));
    }
    let template = Template {
        credentials: &credentials,
        recorded: &recorded,
        definition: owner.as_ref().zip(definition.as_ref()),
        owner: owner.as_ref(),
        standalone: owner.is_none() && !settings.scope.is_single_namespace(),
    };
    let several = namespaces.len() > 1;
    let results =
        write_or_preview(cluster.as_ref(), settings, &template, namespaces, printer).await;
    let written: Vec<String> = results
        .iter()
        .filter(|(_, result)| result.is_ok())
        .map(|(ns, _)| ns.clone())
        .collect();
    let written_keys: Vec<String> = credentials
        .iter()
        .map(|c| c.registry.secret_key())
        .collect();
    let status = print_results_and_kept(settings, results, &written_keys, several, printer)?;
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

/// `--from-secret`: the logins of a pull Secret the operator named, checked as local ones are.
async fn read_source_secret(
    cluster: &Cluster,
    settings: &CreateSettings,
    source: &SecretRef,
    printer: &Printer,
) -> anyhow::Result<Vec<Credential>> {
    let credentials = reconcile::source_secret_credentials(
        cluster,
        &source.namespace,
        &source.name,
        &settings.lookup.servers,
        SourceNamedBy::Operator,
        &[],
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
        super::verify_before_writing(&credentials, transport, Withheld::Secret, printer).await?;
    }
    Ok(credentials)
}

/// Writes every namespace's Secret, or shows it when there is no cluster to write to.
async fn write_or_preview(
    cluster: Option<&Cluster>,
    settings: &CreateSettings,
    template: &Template<'_>,
    namespaces: Vec<String>,
    printer: &Printer,
) -> Vec<NamespaceResult> {
    let Some(cluster) = cluster else {
        return preview_all(settings, template, namespaces);
    };
    let results = write_all(cluster, settings, template, namespaces.clone()).await;
    if previews_offline(settings) && results.iter().all(|(_, r)| is_unreachable(r)) {
        // Like kubectl's, a client dry run of named namespaces works without a cluster; it
        // just cannot tell `created` from `configured` or `unchanged`.
        printer.warning(
            "could not reach the cluster to see what exists: showing the Secret as it would be created",
        );
        return preview_all(settings, template, namespaces);
    }
    results
}

/// A client dry run of named namespaces needs no cluster, like kubectl's: it reads what
/// exists when it can, to print the verb the real run would (docs/dry-run.md), and previews
/// offline when there is no cluster to ask.
fn previews_offline(settings: &CreateSettings) -> bool {
    settings.write.mode == WriteMode::ClientDryRun
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
            Ok(_) => match super::connect(connection, printer).await {
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
        let (cluster, namespaces) = super::connect_in(connection, &settings.scope, printer).await?;
        (Some(cluster), namespaces)
    };
    if namespaces.is_empty() {
        anyhow::bail!("there are no namespaces to write to");
    }
    Ok((cluster, namespaces))
}

/// What each namespace's Secret is made from: the logins read and the scope recorded, or,
/// for several namespaces, the definition as written.
struct Template<'a> {
    credentials: &'a [Credential],
    recorded: &'a RecordedScope,
    definition: Option<(&'a Owner, &'a Secret)>,
    /// Set for several namespaces: each copy refers to the definition.
    owner: Option<&'a Owner>,
    /// Several namespaces, but no definition may be written: each Secret records only its own.
    standalone: bool,
}

impl Template<'_> {
    fn secret(&self, name: &str, namespace: Option<&str>) -> Secret {
        match (self.definition, namespace) {
            (Some((owner, definition)), Some(namespace)) => owner.copy_in(definition, namespace),
            (None, Some(namespace)) if self.standalone => {
                let own = Scope {
                    namespaces: NamespaceScope::Named(vec![namespace.to_string()]),
                    exclude: Default::default(),
                    skip_system: true,
                };
                build_secret(
                    name,
                    Some(namespace),
                    self.credentials,
                    Some(&own.record(namespace)),
                )
            }
            _ => {
                let built = build_secret(name, namespace, self.credentials, Some(self.recorded));
                match self.owner {
                    Some(owner) => owner.copy(built),
                    None => built,
                }
            }
        }
    }
}

/// The definitions namespace holds definitions, never copies: left out of `-A` and
/// selectors, and an error when named.
fn without_definitions_namespace(
    settings: &CreateSettings,
    mut namespaces: Vec<String>,
    printer: &Printer,
) -> anyhow::Result<Vec<String>> {
    let definitions_namespace = &settings.definitions_namespace;
    if settings.scope.is_single_namespace() || !namespaces.contains(definitions_namespace) {
        return Ok(namespaces);
    }
    if settings.scope.names_namespaces() {
        return Err(UsageError(format!(
            "namespace {definitions_namespace} holds the definitions of credentials shared by \
             several namespaces, and gets no copy; leave it out of --namespaces (or give \
             --definitions-namespace another namespace). Nothing was written"
        ))
        .into());
    }
    namespaces.retain(|ns| ns != definitions_namespace);
    printer.note(format!(
        "namespace {definitions_namespace} holds the definition and gets no copy"
    ));
    Ok(namespaces)
}

/// Writes the definition of a credential for several namespaces (docs/sync.md, "Trust"),
/// creating the definitions namespace if needed, and returns it as the copies will hold it.
async fn write_definition(
    cluster: &Cluster,
    settings: &CreateSettings,
    owner: &Owner,
    credentials: &[Credential],
    recorded: &RecordedScope,
    printer: &Printer,
) -> anyhow::Result<Option<Secret>> {
    let namespace = owner.definition.namespace.as_str();
    let name = settings.name.as_str();
    let built = owner.definition_secret(build_secret(name, None, credentials, Some(recorded)));
    let report = |verb: &str| {
        printer.status(output::action_line(
            &format!("definition secret/{name}"),
            verb,
            Some(namespace),
            settings.write.mode,
        ));
    };
    let exists = match ensure_namespace(cluster, namespace, &settings.write, printer).await {
        Ok(Some(exists)) => exists,
        Ok(None) => return Ok(None),
        // Like kubectl's, a client dry run previews without a cluster (docs/dry-run.md).
        Err(_) if previews_offline(settings) => {
            report("created");
            return Ok(Some(built));
        }
        Err(error) => return Err(error),
    };
    let api: Api<Secret> = Api::namespaced(cluster.client.clone(), namespace);
    let current = match exists {
        true => match api.get_opt(name).await {
            Ok(current) => current,
            Err(e) if is_forbidden(&e) => return Ok(None),
            Err(e) => anyhow::bail!(
                "reading the definition {namespace}/{name}: {}",
                cluster.api_error(&e)
            ),
        },
        false => None,
    };
    // Registries the definition holds that this run does not write are kept, unless
    // --replace, as for a single Secret (docs/create.md).
    let desired = |current: Option<&Secret>| match current {
        Some(existing) if !settings.replace => keeping_other_registries(existing, built.clone()),
        _ => built.clone(),
    };
    let wanted = desired(current.as_ref());
    let verb = if exists {
        let known = match current {
            Some(secret) => Known::Present(Box::new(secret)),
            None => Known::Absent,
        };
        let options = SecretWrite {
            mode: settings.write.mode,
            force: false,
            field_manager: &settings.write.field_manager,
        };
        let (action, _) = match secrets::write(&api, &desired, known, options).await {
            Err(WriteError::Api(e)) if is_forbidden(&e) => return Ok(None),
            other => other,
        }
        .map_err(|e| match e {
            WriteError::Api(e) => anyhow::anyhow!(
                "writing the definition {namespace}/{name}: {}. Nothing else was written",
                cluster.api_error(&e)
            ),
            other => anyhow::anyhow!(
                "writing the definition {namespace}/{name}: {other}. Nothing else was written"
            ),
        })?;
        action.verb()
    } else {
        // A dry run: the namespace was not created, so neither is the definition.
        "created"
    };
    report(verb);
    Ok(Some(wanted))
}

fn is_forbidden(error: &kube::Error) -> bool {
    cluster::status_code(error) == Some(403)
}

/// Creates the definitions namespace if it does not exist; whether it exists now (not after a
/// dry run), or `None` when it may not be created. A reader who may not read Namespaces goes
/// on: reading the definition says whether it may.
async fn ensure_namespace(
    cluster: &Cluster,
    namespace: &str,
    write: &WriteSettings,
    printer: &Printer,
) -> anyhow::Result<Option<bool>> {
    use k8s_openapi::api::core::v1::Namespace;
    let dry_run = write.mode;
    let api: Api<Namespace> = Api::all(cluster.client.clone());
    match api.get_opt(namespace).await {
        Ok(Some(_)) => return Ok(Some(true)),
        Ok(None) => {}
        Err(e) if is_forbidden(&e) => return Ok(Some(true)),
        Err(e) => anyhow::bail!("reading namespace {namespace}: {}", cluster.api_error(&e)),
    }
    if let Some(writer) = Writer::for_mode(write.mode, &write.field_manager) {
        match writes::create_namespace(cluster, namespace, writer).await {
            Ok(()) => {}
            Err(e) if is_forbidden(&e) => return Ok(None),
            Err(e) => anyhow::bail!(
                "creating namespace {namespace}, where the definitions of credentials shared by \
                 several namespaces live: {}. Ask an administrator to create it (kubectl create \
                 namespace {namespace}), or give --definitions-namespace another one. Nothing was \
                 written",
                cluster.api_error(&e)
            ),
        }
    }
    printer.status(output::action_line(
        &format!("namespace/{namespace}"),
        "created",
        None,
        dry_run,
    ));
    Ok(Some(dry_run == WriteMode::Persist))
}

/// A client-side dry run: the Secrets as they would be created.
fn preview_all(
    settings: &CreateSettings,
    template: &Template<'_>,
    namespaces: Vec<String>,
) -> Vec<NamespaceResult> {
    // kubectl writes the namespace into printed objects only when the user named it.
    let namespace_in_object = settings.scope.is_explicit() || namespaces.len() > 1;
    namespaces
        .into_iter()
        .map(|ns| {
            let namespace = namespace_in_object.then_some(ns.as_str());
            let secret = match template.definition {
                Some(_) => template.secret(&settings.name, Some(&ns)),
                None => template.secret(&settings.name, namespace),
            };
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
    let write = settings.write.options();
    let plan = Plan {
        change: Change::Attach {
            secret: Some(settings.name.clone()),
            auto: false,
            // In a dry run the Secret was not stored, so it cannot be found yet.
            allow_missing: settings.write.mode != WriteMode::Persist,
            restart: false,
            providers: Vec::new(),
        },
        targets: &settings.attach,
        labels: None,
        namespaces: written,
        missing_is_error: settings.scope.names_namespaces(),
        write: &write,
    };
    let outcome = references::apply(cluster, &plan).await;
    super::changes::print_changes(outcome, &settings.write, several_namespaces, printer)
}

/// `--username` with its password, read now (stdin or a prompt), for `servers`.
async fn write_all(
    cluster: &Cluster,
    settings: &CreateSettings,
    template: &Template<'_>,
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
    let options = SecretWrite {
        mode: settings.write.mode,
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
                let built = template.secret(&settings.name, Some(&ns));
                // Registries the Secret holds that this run does not write are kept, unless
                // --replace (docs/create.md). A copy holds exactly its definition, which
                // kept them already: one copy's extras never spread.
                let keep_others = !settings.replace && template.definition.is_none();
                // What a replacing write drops is said, never silent (a retry recomputes it).
                let dropped = std::sync::Mutex::new(Vec::new());
                let desired = |current: Option<&Secret>| {
                    let desired = match current {
                        Some(existing) if keep_others => {
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
fn print_results_and_kept(
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
                let dry = if settings.write.mode == WriteMode::Persist {
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
    super::print_rows(rows, &settings.write, "namespaces", several, printer)
}
