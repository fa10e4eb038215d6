//! `create`: local credentials → one pull Secret, written into every target namespace.
//! Everything is resolved and validated before the first request.

use std::io::Write;

use anyhow::Context;
use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;

use crate::cluster::secrets::{self, Known, WriteOptions};
use crate::cluster::{self, Cluster, workloads};
use crate::commands::attach;
use crate::credentials::{self, ExplicitLogin, LocalEnv, PasswordInput, Request};
use crate::error::ExitStatus;
use crate::fanout;
use crate::output::{self, Tally, action_line};
use crate::pullsecret::build_secret;
use crate::settings::{Connection, CreateSettings, DryRun, NamespaceScope};

/// Each namespace's outcome: what was done and the resulting object, or the error text.
type NamespaceResult = (String, Result<(secrets::Action, Secret), String>);

pub async fn run(settings: CreateSettings, connection: Connection) -> anyhow::Result<ExitStatus> {
    let credentials = resolve_credentials(&settings)?;

    // A client-side dry run with known namespaces never contacts the cluster, like kubectl's.
    let offline = settings.write.dry_run == DryRun::Client
        && matches!(
            settings.scope,
            NamespaceScope::Context | NamespaceScope::Named(_)
        );
    let (cluster, namespaces) = if offline {
        let namespaces = match &settings.scope {
            NamespaceScope::Named(names) => names.clone(),
            _ => vec![cluster::context_namespace(&connection)],
        };
        (None, namespaces)
    } else {
        let cluster = cluster::connect(&connection).await?;
        let namespaces = cluster.namespaces(&settings.scope).await?;
        (Some(cluster), namespaces)
    };
    if namespaces.is_empty() {
        anyhow::bail!("there are no namespaces to write to");
    }

    let several = namespaces.len() > 1;
    // kubectl writes the namespace into printed objects only when the user named it.
    let namespace_in_object = settings.scope.is_explicit() || several;
    let results: Vec<NamespaceResult> = match &cluster {
        None => namespaces
            .into_iter()
            .map(|ns| {
                let secret = build_secret(
                    &settings.name,
                    namespace_in_object.then_some(ns.as_str()),
                    &credentials,
                );
                (ns, Ok((secrets::Action::Created, secret)))
            })
            .collect(),
        Some(cluster) => write_all(cluster, &settings, &credentials, namespaces).await,
    };
    let written: Vec<String> = results
        .iter()
        .filter(|(_, result)| result.is_ok())
        .map(|(ns, _)| ns.clone())
        .collect();
    let status = report(&settings, results, several)?;
    let (Some(cluster), false) = (&cluster, settings.attach.is_empty()) else {
        return Ok(status);
    };
    let plan = attach::Plan {
        change: attach::Change::Attach {
            secret: Some(settings.name.clone()),
            auto: false,
            // In a dry run the Secret was not stored, so it cannot be found yet.
            allow_missing: settings.write.dry_run != DryRun::None,
            restart: false,
        },
        targets: &settings.attach,
        labels: None,
        namespaces: &written,
        missing_is_error: matches!(
            settings.scope,
            NamespaceScope::Context | NamespaceScope::Named(_)
        ),
        write: &settings.write,
    };
    let attached = attach::report(
        attach::apply(cluster, &plan).await,
        &settings.write,
        several,
    )?;
    Ok(if status == ExitStatus::Success {
        attached
    } else {
        status
    })
}

fn resolve_credentials(settings: &CreateSettings) -> anyhow::Result<Vec<credentials::Credential>> {
    let explicit = match &settings.explicit {
        None => None,
        Some(explicit) => {
            if matches!(explicit.password, PasswordInput::Argv(_)) {
                eprintln!(
                    "warning: --password puts the password in the process list, where other users can read it; use --password-stdin"
                );
            }
            let password =
                credentials::read_password(explicit.password.clone(), &explicit.username)?;
            Some(ExplicitLogin {
                servers: settings.servers.clone(),
                username: explicit.username.clone(),
                password,
                email: explicit.email.clone(),
            })
        }
    };
    let request = Request {
        servers: settings.servers.clone(),
        from: settings.from.clone(),
        explicit,
        docker_config: settings.docker_config.clone(),
        helper_timeout: settings.helper_timeout,
    };
    let resolution = credentials::resolve(&request, &LocalEnv::from_process())?;
    for warning in &resolution.warnings {
        eprintln!("warning: {warning}");
    }
    for credential in &resolution.credentials {
        eprintln!("using {} from {}", credential.registry, credential.origin);
    }
    Ok(resolution.credentials)
}

async fn write_all(
    cluster: &Cluster,
    settings: &CreateSettings,
    credentials: &[credentials::Credential],
    namespaces: Vec<String>,
) -> Vec<NamespaceResult> {
    // What is there now: one cluster-wide read for many namespaces, else one per namespace.
    let fetched = workloads::fetch(
        cluster,
        &workloads::secret_resource(),
        &namespaces,
        Some(&settings.name),
        None,
        settings.write.concurrency,
    )
    .await;
    let known: Vec<(String, Result<Known, String>)> = fetched
        .into_iter()
        .map(|(ns, found)| {
            let known = found.map(
                |objects| match objects.first().and_then(workloads::as_secret) {
                    Some(secret) => Known::Present(Box::new(secret)),
                    None => Known::Absent,
                },
            );
            (ns, known)
        })
        .collect();
    let options = WriteOptions {
        server_dry_run: settings.write.dry_run == DryRun::Server,
        force: settings.force,
        field_manager: &settings.write.field_manager,
    };
    let written = fanout::run(
        known,
        settings.write.concurrency,
        "namespaces",
        |(ns, known)| async move {
            let api: Api<Secret> = Api::namespaced(cluster.client.clone(), &ns);
            let desired = build_secret(&settings.name, Some(&ns), credentials);
            secrets::write(&api, &desired, known?, options)
                .await
                .map_err(|e| match e {
                    secrets::WriteError::Api(api_error) => cluster.describe(&api_error),
                    other => other.to_string(),
                })
        },
    )
    .await;
    written
        .into_iter()
        .map(|((ns, _), result)| (ns, result))
        .collect()
}

fn report(
    settings: &CreateSettings,
    results: Vec<NamespaceResult>,
    several: bool,
) -> anyhow::Result<ExitStatus> {
    let mut stdout = std::io::stdout().lock();
    let mut objects = Vec::new();
    let mut tally = Tally::default();
    for (ns, result) in results {
        match result {
            Ok((action, secret)) => {
                tally.add(action.verb());
                match settings.write.output {
                    Some(_) => {
                        objects.push(serde_json::to_value(&secret).context("encoding the Secret")?)
                    }
                    None => {
                        let reference = format!("secret/{}", settings.name);
                        let namespace = several.then_some(ns.as_str());
                        writeln!(
                            stdout,
                            "{}",
                            action_line(
                                &reference,
                                action.verb(),
                                namespace,
                                settings.write.dry_run
                            )
                        )?;
                    }
                }
            }
            Err(message) => {
                tally.fail();
                eprintln!("error: namespace {ns}: {message}");
            }
        }
    }
    if let Some(format) = settings.write.output
        && !objects.is_empty()
    {
        output::print_objects(&mut stdout, format, objects)?;
    }
    stdout.flush()?;
    if several {
        eprintln!("{}", tally.summary("namespaces"));
    }
    Ok(if tally.failed() {
        ExitStatus::Failure
    } else {
        ExitStatus::Success
    })
}
