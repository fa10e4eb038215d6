//! `delete`: detach a pull Secret from every workload template and ServiceAccount in each
//! namespace, then delete the copy there, guarded by its uid and resourceVersion.

use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;

use crate::cluster::Cluster;
use crate::cluster::fetch::{self, Query};
use crate::cluster::secrets;
use crate::cluster::writes::Writer;
use crate::error::ExitStatus;
use crate::output::{ResultRow, Written};
use crate::printer::Printer;
use crate::reconcile;
use crate::rules::pullsecret::{not_ours, rancher_project};
use crate::rules::scope::NamespaceScope;
use crate::rules::trust;
use crate::settings::{Connection, DeleteSettings};

/// One namespace's lines: the references removed, then the Secret.
type NamespaceRows = Vec<ResultRow<String>>;

pub(crate) async fn run(
    settings: &DeleteSettings,
    connection: Connection,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    let (cluster, mut namespaces) =
        super::connect_in(&connection, &settings.scope, printer).await?;
    // The definitions namespace holds definitions, not copies (docs/sync.md, "Trust").
    let definitions_namespace = &settings.definitions_namespace;
    namespaces.retain(|ns| ns != definitions_namespace);
    let definition_rows = definition(&cluster, settings, printer).await;
    let query = Query {
        name: Some(&settings.name),
        concurrency: settings.write.concurrency,
        ..Query::default()
    };
    let fetched = fetch::fetch(&cluster, &fetch::secret_resource(), &namespaces, query).await;
    let several = namespaces.len() > 1;
    let warnings = std::sync::Mutex::new(Vec::new());
    let results = cluster
        .fan_out(
            fetched,
            settings.write.concurrency,
            "namespaces",
            |(namespace, found)| {
                let (cluster, settings, warnings) = (&cluster, &settings, &warnings);
                async move {
                    let existing = match found {
                        Err(error) => {
                            return vec![failure(&namespace, &settings.name, error.to_string())];
                        }
                        Ok(objects) => objects.first().and_then(fetch::as_secret),
                    };
                    delete_in(cluster, settings, &namespace, existing, warnings).await
                }
            },
        )
        .await;
    for warning in warnings.into_inner().unwrap_or_else(|e| e.into_inner()) {
        printer.warning(warning);
    }
    let rows: Vec<ResultRow<String>> = definition_rows
        .into_iter()
        .chain(results.into_iter().flat_map(|(_, rows)| rows))
        .collect();
    super::print_rows(rows, &settings.write, "objects", several, printer)
}

/// The credential's definition: `-A` deletes it first, so that no controller writes the
/// copies again; a narrower scope leaves it, and says that it still names those namespaces.
async fn definition(
    cluster: &Cluster,
    settings: &DeleteSettings,
    printer: &Printer,
) -> Vec<ResultRow<String>> {
    let (namespace, name) = (&settings.definitions_namespace, &settings.name);
    let api: Api<Secret> = Api::namespaced(cluster.client.clone(), namespace);
    // A reader who may not read definitions has none to delete (a tenant's own Secret).
    let Ok(Some(definition)) = api.get_opt(name).await else {
        return Vec::new();
    };
    if !trust::is_definition(&definition, namespace) {
        return Vec::new();
    }
    if settings.scope.namespaces != NamespaceScope::All {
        printer.warning(format!(
            "its definition {namespace}/{name} is kept: sync and the controller write the copies \
             its scope names again (change the scope with kubectl regcred sync {name} \
             --namespaces ..., or delete it everywhere with kubectl regcred delete {name} -A)"
        ));
        return Vec::new();
    }
    let deleted = match Writer::for_mode(settings.write.mode, &settings.write.field_manager) {
        None => Ok(()),
        Some(writer) => secrets::delete_exactly(&api, &definition, writer)
            .await
            .map_err(|e| cluster.api_error(&e).to_string()),
    };
    vec![ResultRow {
        namespace: namespace.to_string(),
        reference: format!("secret/{name}"),
        subject: format!("namespace {namespace}: secret/{name} (the definition)"),
        outcome: deleted.map(|()| done("deleted")),
    }]
}

async fn delete_in(
    cluster: &Cluster,
    settings: &DeleteSettings,
    namespace: &str,
    existing: Option<Secret>,
    warnings: &std::sync::Mutex<Vec<String>>,
) -> NamespaceRows {
    let name = &settings.name;
    let Some(existing) = existing else {
        // Named namespaces must hold it; under -A or a selector it is simply not there.
        return if settings.scope.names_namespaces() {
            vec![ResultRow {
                subject: String::new(),
                ..failure(
                    namespace,
                    name,
                    format!("secret {name:?} not found in namespace {namespace}"),
                )
            }]
        } else {
            Vec::new()
        };
    };
    if let Some(project) = rancher_project(&existing) {
        return vec![failure(
            namespace,
            name,
            format!("it is Rancher's copy of project {project}'s credential; delete it in Rancher"),
        )];
    }
    if let Some(why) = not_ours(&existing)
        && !settings.force
    {
        return vec![failure(
            namespace,
            name,
            format!("it {why}; --force deletes it anyway"),
        )];
    }
    let mut rows = Vec::new();
    if !settings.keep_references {
        match reconcile::detach_everywhere(cluster, name, namespace, &settings.write.options())
            .await
        {
            Ok(detached) => {
                if !detached.unreadable.is_empty() {
                    warnings.lock().unwrap_or_else(|e| e.into_inner()).push(format!(
                        "namespace {namespace}: may not list {} (forbidden): any that reference secret/{name} still do",
                        detached.unreadable.join(", ")
                    ));
                }
                rows.extend(detached.changed.into_iter().map(|result| ResultRow {
                    subject: result.reference.clone(),
                    namespace: namespace.to_string(),
                    reference: result.reference,
                    outcome: Ok(done("detached")),
                }));
            }
            Err(error) => {
                rows.push(failure(namespace, name, format!("not deleted: {error}")));
                return rows;
            }
        }
    }
    let deleted = match Writer::for_mode(settings.write.mode, &settings.write.field_manager) {
        // A client dry run deletes nothing.
        None => Ok(()),
        Some(writer) => {
            let api: Api<Secret> = Api::namespaced(cluster.client.clone(), namespace);
            secrets::delete_exactly(&api, &existing, writer)
                .await
                .map_err(|e| cluster.api_error(&e).to_string())
        }
    };
    rows.push(ResultRow {
        namespace: namespace.to_string(),
        reference: format!("secret/{name}"),
        subject: format!("namespace {namespace}: secret/{name}"),
        outcome: deleted.map(|()| done("deleted")),
    });
    rows
}

fn done(verb: &str) -> Written {
    Written {
        tally: verb.to_string(),
        verb: verb.to_string(),
        object: None,
    }
}

fn failure(namespace: &str, name: &str, message: String) -> ResultRow<String> {
    ResultRow {
        namespace: namespace.to_string(),
        reference: format!("secret/{name}"),
        subject: format!("namespace {namespace}: secret/{name}"),
        outcome: Err(message),
    }
}
