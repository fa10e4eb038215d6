//! `attach`: put a pull Secret into pod templates and ServiceAccounts without losing any
//! existing entry, or with `--auto`, every Secret of the namespace that matches the images.
//! `detach` and `create --attach` share the pipeline: fetch, change each object, report.

use std::collections::BTreeMap;
use std::io::Write;

use anyhow::Context;
use kube::api::{DynamicObject, TypeMeta};
use kube::discovery::ApiResource;
use serde_json::Value;

use crate::cluster::inventory::{self, Wants};
use crate::cluster::workloads::{self, Kind, PatchOptions, Target};
use crate::cluster::{self, Cluster};
use crate::error::ExitStatus;
use crate::image::ImageRef;
use crate::kubelet::{self, Keyring};
use crate::output::{self, Tally, action_line};
use crate::pullsecret::{DOCKERCFG_TYPE, DOCKERCONFIGJSON_TYPE};
use crate::settings::{AttachSettings, Connection, DryRun, NamespaceScope, WriteSettings};

/// The change to make on each target.
#[derive(Debug, Clone)]
pub enum Change {
    Attach {
        secret: Option<String>,
        auto: bool,
        allow_missing: bool,
        restart: bool,
    },
    Detach {
        secret: String,
    },
}

/// Which objects, where, and how to write.
pub struct Plan<'a> {
    pub change: Change,
    pub targets: &'a [Target],
    pub labels: Option<&'a str>,
    pub namespaces: &'a [String],
    /// Named targets missing in a namespace are errors when the user named the namespaces,
    /// and skipped under `-A` or a selector.
    pub missing_is_error: bool,
    pub write: &'a WriteSettings,
}

/// One line of the report.
pub struct ObjectResult {
    pub namespace: String,
    pub reference: String,
    pub outcome: Result<(String, Value), String>,
}

/// What happened, plus notes for stderr.
#[derive(Default)]
pub struct Outcome {
    pub results: Vec<ObjectResult>,
    pub notes: Vec<String>,
}

pub async fn run(settings: AttachSettings, connection: Connection) -> anyhow::Result<ExitStatus> {
    let cluster = cluster::connect(&connection).await?;
    let namespaces = cluster.namespaces(&settings.scope).await?;
    let plan = Plan {
        change: Change::Attach {
            secret: settings.secret.clone(),
            auto: settings.auto,
            allow_missing: settings.allow_missing,
            restart: settings.restart,
        },
        targets: &settings.targets,
        labels: settings.labels.as_deref(),
        namespaces: &namespaces,
        missing_is_error: matches!(
            settings.scope,
            NamespaceScope::Context | NamespaceScope::Named(_)
        ),
        write: &settings.write,
    };
    let outcome = apply(&cluster, &plan).await;
    report(outcome, &settings.write, namespaces.len() > 1)
}

/// Runs the plan across every namespace and target.
pub async fn apply(cluster: &Cluster, plan: &Plan<'_>) -> Outcome {
    let mut outcome = Outcome::default();
    let candidates = match &plan.change {
        Change::Attach { .. } => candidate_secrets(cluster, plan, &mut outcome).await,
        Change::Detach { .. } => BTreeMap::new(),
    };

    // Every target object, fetched per kind in as few requests as the scope allows.
    let mut work: Vec<(String, Kind, ApiResource, DynamicObject)> = Vec::new();
    for target in plan.targets {
        let resource = workloads::resource(cluster, target.kind).await;
        let fetched = workloads::fetch(
            cluster,
            &resource,
            plan.namespaces,
            target.name.as_deref(),
            plan.labels.filter(|_| target.name.is_none()),
            plan.write.concurrency,
        )
        .await;
        for (ns, objects) in fetched {
            let reference = format!(
                "{}/{}",
                target.kind.display(),
                target.name.as_deref().unwrap_or("*")
            );
            match objects {
                Err(message) => outcome.results.push(ObjectResult {
                    namespace: ns,
                    reference,
                    outcome: Err(message),
                }),
                Ok(objects) if objects.is_empty() && target.name.is_some() => {
                    if plan.missing_is_error {
                        outcome.results.push(ObjectResult {
                            namespace: ns.clone(),
                            reference: reference.clone(),
                            outcome: Err(format!("{reference} not found in namespace {ns}")),
                        });
                    }
                }
                Ok(objects) => {
                    for mut object in objects {
                        object.types = Some(TypeMeta {
                            api_version: resource.api_version.clone(),
                            kind: resource.kind.clone(),
                        });
                        work.push((ns.clone(), target.kind, resource.clone(), object));
                    }
                }
            }
        }
    }

    let candidates = &candidates;
    let changed = crate::fanout::run(
        work,
        plan.write.concurrency,
        "objects",
        |(ns, kind, resource, object)| async move {
            let reference = format!(
                "{}/{}",
                kind.display(),
                object.metadata.name.clone().unwrap_or_default()
            );
            let mut notes = Vec::new();
            let result = match candidates.get(&ns) {
                Some(Err(message)) => Err(message.clone()),
                _ => {
                    let secrets = candidates.get(&ns).and_then(|c| c.as_ref().ok());
                    change_object(
                        cluster, plan, &ns, kind, &resource, &object, secrets, &mut notes,
                    )
                    .await
                }
            };
            (ns, kind, reference, result, notes)
        },
    )
    .await;

    let mut changed_accounts: Vec<(String, String)> = Vec::new();
    for (_, (ns, kind, reference, result, notes)) in changed {
        outcome.notes.extend(notes);
        if kind == Kind::ServiceAccount
            && matches!(&result, Ok((verb, _)) if verb == "attached")
            && let Some(name) = reference.split('/').nth(1)
        {
            changed_accounts.push((ns.clone(), name.to_string()));
        }
        outcome.results.push(ObjectResult {
            namespace: ns,
            reference,
            outcome: result,
        });
    }
    if let Change::Attach {
        secret: Some(secret),
        restart,
        ..
    } = &plan.change
        && !changed_accounts.is_empty()
    {
        service_account_caveats(
            cluster,
            plan,
            &changed_accounts,
            secret,
            *restart,
            &mut outcome,
        )
        .await;
    }
    outcome
}

/// A pull Secret that can be attached, with the kubelet's keys for `--auto`.
pub struct Candidate {
    pub name: String,
    pub keys: Vec<kubelet::KeyEntry>,
}

/// Per namespace: the Secrets that may be attached, or why none can.
async fn candidate_secrets(
    cluster: &Cluster,
    plan: &Plan<'_>,
    outcome: &mut Outcome,
) -> BTreeMap<String, Result<Vec<Candidate>, String>> {
    let Change::Attach {
        secret,
        auto,
        allow_missing,
        ..
    } = &plan.change
    else {
        return BTreeMap::new();
    };
    let resource = workloads::secret_resource();
    let name = secret.as_deref();
    let fetched = workloads::fetch(
        cluster,
        &resource,
        plan.namespaces,
        name,
        None,
        plan.write.concurrency,
    )
    .await;
    let mut by_namespace = BTreeMap::new();
    for (ns, found) in fetched {
        let result = found.and_then(|objects| {
            let mut candidates = Vec::new();
            for object in &objects {
                let Some(secret) = workloads::as_secret(object) else {
                    continue;
                };
                let secret_name = secret.metadata.name.clone().unwrap_or_default();
                let kind = secret.type_.clone().unwrap_or_else(|| "Opaque".into());
                if kind != DOCKERCONFIGJSON_TYPE && kind != DOCKERCFG_TYPE {
                    if name.is_some() {
                        return Err(format!(
                            "secret {secret_name:?} has type {kind}; only kubernetes.io/dockerconfigjson and kubernetes.io/dockercfg Secrets can be pull secrets"
                        ));
                    }
                    continue;
                }
                match kubelet::parse_secret(&secret) {
                    Ok(keys) => candidates.push(Candidate { name: secret_name, keys }),
                    Err(problem) if *auto => outcome.notes.push(format!(
                        "warning: namespace {ns}: skipping secret {secret_name:?}: {problem}"
                    )),
                    // Attaching by name: a malformed Secret is the user's to fix; attach anyway.
                    Err(_) => candidates.push(Candidate { name: secret_name, keys: Vec::new() }),
                }
            }
            if let (Some(name), true) = (name, candidates.is_empty()) {
                if *allow_missing {
                    candidates.push(Candidate { name: name.to_string(), keys: Vec::new() });
                } else {
                    return Err(format!(
                        "secret {name:?} not found in namespace {ns}; a reference to a missing Secret makes pulls fail. \
                         Create it first (kubectl regcred create {name} -n {ns}) or pass --allow-missing"
                    ));
                }
            }
            Ok(candidates)
        });
        by_namespace.insert(ns, result);
    }
    by_namespace
}

/// Names `--auto` attaches for a pod spec: the owners of every key the kubelet would use for
/// any of its images, over all candidates together (the kubelet merges a pod's Secrets into
/// one keyring). Images nothing matches are noted.
pub(crate) fn auto_names(
    spec: &Value,
    candidates: &[Candidate],
    context: &str,
    notes: &mut Vec<String>,
) -> Vec<String> {
    let keyring = Keyring::new(
        candidates
            .iter()
            .map(|c| (c.name.as_str(), c.keys.as_slice())),
    );
    let mut names = Vec::new();
    for image in workloads::images(spec) {
        let parsed = match ImageRef::parse(&image) {
            Ok(parsed) => parsed,
            Err(e) => {
                notes.push(format!("warning: {context}: {e}"));
                continue;
            }
        };
        let found = keyring.lookup(&parsed);
        if found.is_empty() {
            notes.push(format!(
                "warning: {context}: no pull Secret matches image {image} ({}); fine if it is public",
                parsed.repository()
            ));
        }
        for candidate in candidates {
            if found.iter().any(|c| c.secret == candidate.name) && !names.contains(&candidate.name)
            {
                names.push(candidate.name.clone());
            }
        }
    }
    names
}

#[allow(clippy::too_many_arguments)]
async fn change_object(
    cluster: &Cluster,
    plan: &Plan<'_>,
    ns: &str,
    kind: Kind,
    resource: &ApiResource,
    object: &DynamicObject,
    candidates: Option<&Vec<Candidate>>,
    notes: &mut Vec<String>,
) -> Result<(String, Value), String> {
    let name = object.metadata.name.clone().unwrap_or_default();
    let context = format!("{}/{name} in namespace {ns}", kind.display());
    let current = serde_json::to_value(object).map_err(|e| e.to_string())?;
    let holder = if kind == Kind::ServiceAccount {
        Some(&current)
    } else {
        workloads::pod_spec(kind, &current)
    };
    let Some(holder) = holder else {
        return Err(format!("{context} has no pod template"));
    };
    let existing = workloads::pull_secret_names(holder);
    let (wanted, done_verb, auto_suffix) = match &plan.change {
        Change::Attach { secret, auto, .. } => {
            let candidates = candidates.map(Vec::as_slice).unwrap_or_default();
            let added = if *auto {
                auto_names(holder, candidates, &context, notes)
            } else {
                secret.iter().cloned().collect()
            };
            let suffix = if *auto && !added.is_empty() {
                format!(" {}", added.join(","))
            } else {
                String::new()
            };
            (workloads::with_names(&existing, &added), "attached", suffix)
        }
        Change::Detach { secret } => (
            workloads::without_name(&existing, secret),
            "detached",
            String::new(),
        ),
    };
    if wanted == existing {
        return Ok((format!("unchanged{auto_suffix}"), current));
    }
    if kind == Kind::Job {
        return Err(format!(
            "{context}: a Job's pod template cannot change after it is created; change its CronJob or ServiceAccount, or recreate the Job"
        ));
    }
    let verb = format!("{done_verb}{auto_suffix}");
    if plan.write.dry_run == DryRun::Client {
        return Ok((verb, workloads::with_pull_secrets(kind, &current, &wanted)));
    }
    let options = PatchOptions {
        server_dry_run: plan.write.dry_run == DryRun::Server,
        field_manager: &plan.write.field_manager,
    };
    let added: Vec<String> = wanted
        .iter()
        .filter(|n| !existing.contains(n))
        .cloned()
        .collect();
    let written = if kind == Kind::ServiceAccount {
        // Applied to the list as read at write time, which may have gained entries since.
        let change = |names: &[String]| match &plan.change {
            Change::Attach { .. } => workloads::with_names(names, &added),
            Change::Detach { secret } => workloads::without_name(names, secret),
        };
        match workloads::update_service_account(cluster, ns, &name, change, options).await {
            Ok((false, object)) => return Ok(("unchanged".into(), to_value(object, resource))),
            Ok((true, object)) => object,
            Err(e) => return Err(cluster.describe(&e)),
        }
    } else {
        let patch = match &plan.change {
            Change::Attach { .. } => workloads::attach_patch(kind, &existing, &added),
            Change::Detach { secret } => workloads::detach_patch(kind, secret),
        };
        workloads::patch_template(cluster, resource, ns, &name, &patch, options)
            .await
            .map_err(|e| cluster.describe(&e))?
    };
    Ok((verb, to_value(written, resource)))
}

fn to_value(mut object: DynamicObject, resource: &ApiResource) -> Value {
    object.types = Some(TypeMeta {
        api_version: resource.api_version.clone(),
        kind: resource.kind.clone(),
    });
    serde_json::to_value(object).unwrap_or_default()
}

/// ServiceAccount admission copies the account's pull secrets only into Pods created later,
/// and only into Pods that list none of their own. Name what will not pick the Secret up, and
/// with `--restart`, roll out the workloads whose new pods would. One inventory read serves
/// every changed account, whatever the number of namespaces.
async fn service_account_caveats(
    cluster: &Cluster,
    plan: &Plan<'_>,
    changed: &[(String, String)],
    secret: &str,
    restart: bool,
    outcome: &mut Outcome,
) {
    let mut namespaces: Vec<String> = changed.iter().map(|(ns, _)| ns.clone()).collect();
    namespaces.dedup();
    let wants = Wants {
        workloads: true,
        pods: true,
        ..Wants::default()
    };
    let inventory = inventory::gather(cluster, &namespaces, wants, plan.write.concurrency).await;
    let mut to_restart: Vec<(String, Kind, String)> = Vec::new();
    for (ns, account) in changed {
        let Some(found) = inventory.namespaces.get(ns) else {
            continue;
        };
        let stale: Vec<&str> = found
            .pods
            .iter()
            .filter(|pod| workloads::service_account(&pod.value["spec"]) == *account)
            .filter(|pod| !pod.pull_secrets().iter().any(|n| n == secret))
            .map(|pod| pod.name.as_str())
            .collect();
        if !stale.is_empty() {
            let more = if stale.len() > 5 {
                format!(" and {} more", stale.len() - 5)
            } else {
                String::new()
            };
            outcome.notes.push(format!(
                "note: namespace {ns}: {} existing pod(s) run under serviceaccount/{account} and keep their old pull secrets until they are recreated: {}{more}",
                stale.len(),
                stale.iter().take(5).copied().collect::<Vec<_>>().join(", ")
            ));
        }
        let mut rollout = Vec::new();
        // Owned ReplicaSets and Jobs follow their owner's template.
        for workload in found.workloads.iter().filter(|w| w.owner.is_none()) {
            let Some(spec) = workloads::pod_spec(workload.kind, &workload.value) else {
                continue;
            };
            if workloads::service_account(spec) != *account {
                continue;
            }
            let own = workloads::pull_secret_names(spec);
            if own.is_empty() {
                if workload.kind.restartable() {
                    rollout.push(workload.reference());
                    to_restart.push((ns.clone(), workload.kind, workload.name.clone()));
                }
            } else if !own.iter().any(|n| n == secret) {
                outcome.notes.push(format!(
                    "note: {} in namespace {ns} lists its own imagePullSecrets, so its pods ignore the ServiceAccount's; \
                     attach to it directly: kubectl regcred attach {secret} {}/{} -n {ns}",
                    workload.reference(),
                    workload.kind.kind_name().to_ascii_lowercase(),
                    workload.name
                ));
            }
        }
        if !rollout.is_empty() && !restart {
            outcome.notes.push(format!(
                "note: namespace {ns}: {} run under serviceaccount/{account}; their running pods get the Secret once rolled out (rerun with --restart)",
                rollout.join(", ")
            ));
        }
    }
    if !restart || to_restart.is_empty() {
        return;
    }
    let options = PatchOptions {
        server_dry_run: plan.write.dry_run == DryRun::Server,
        field_manager: &plan.write.field_manager,
    };
    let restarted = crate::fanout::run(
        to_restart,
        plan.write.concurrency,
        "restarts",
        |(ns, kind, name)| async move {
            let result = if plan.write.dry_run == DryRun::Client {
                Ok(("restarted".to_string(), Value::Null))
            } else {
                let resource = workloads::resource(cluster, kind).await;
                workloads::rollout_restart(cluster, &resource, &ns, &name, options)
                    .await
                    .map(|o| ("restarted".to_string(), to_value(o, &resource)))
                    .map_err(|e| cluster.describe(&e))
            };
            ObjectResult {
                namespace: ns,
                reference: format!("{}/{name}", kind.display()),
                outcome: result,
            }
        },
    )
    .await;
    outcome
        .results
        .extend(restarted.into_iter().map(|(_, result)| result));
}

/// Prints the lines (or objects), notes and a summary; exit 1 if anything failed.
pub fn report(
    outcome: Outcome,
    write: &WriteSettings,
    several_namespaces: bool,
) -> anyhow::Result<ExitStatus> {
    let mut stdout = std::io::stdout().lock();
    let mut objects = Vec::new();
    let mut tally = Tally::default();
    for result in outcome.results {
        match result.outcome {
            Ok((verb, object)) => {
                // `attached quay-cred` counts as `attached`.
                tally.add(verb.split(' ').next().unwrap_or(""));
                match write.output {
                    Some(_) if !object.is_null() => objects.push(object),
                    Some(_) => {}
                    None => {
                        let namespace = several_namespaces.then_some(result.namespace.as_str());
                        writeln!(
                            stdout,
                            "{}",
                            action_line(&result.reference, &verb, namespace, write.dry_run)
                        )?;
                    }
                }
            }
            Err(message) => {
                tally.fail();
                eprintln!("error: {}: {message}", result.reference);
            }
        }
    }
    if let Some(format) = write.output
        && !objects.is_empty()
    {
        output::print_objects(&mut stdout, format, objects).context("printing the objects")?;
    }
    stdout.flush()?;
    for note in &outcome.notes {
        eprintln!("{note}");
    }
    match tally.total() {
        0 => eprintln!("no matching objects found"),
        1 => {}
        _ => eprintln!("{}", tally.summary("objects")),
    }
    Ok(if tally.failed() {
        ExitStatus::Failure
    } else {
        ExitStatus::Success
    })
}
