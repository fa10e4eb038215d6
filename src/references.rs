//! The reference pipeline that `attach`, `detach` and `create --attach` share: fetch the
//! target objects, change each one's `imagePullSecrets` the way its kind requires, follow a
//! ServiceAccount change to the pods it does not reach, and report each result.

use std::collections::BTreeMap;
use std::fmt;

use kube::api::{DynamicObject, Patch, TypeMeta};
use kube::discovery::ApiResource;
use serde_json::Value;

use crate::rules::text::first_few;
use crate::cluster::fetch::{self, Query};
use crate::cluster::inventory::{self, Wants};
use crate::cluster::writes::WriteOptions;
use crate::cluster::writes::{self, Write, Writer};
use crate::cluster::{ApiError, Cluster};
use crate::notices::Notice;
use crate::rules::admission::{self, Pickup};
use crate::rules::attach::{self, Candidate};
use crate::rules::kinds::{self, Kind, Target};
use crate::rules::providers::{self, Provider};
use crate::rules::kubelet::{self, DOCKERCFG_TYPE, DOCKERCONFIGJSON_TYPE};

/// The change to make on each target.
#[derive(Debug, Clone)]
pub(crate) enum Change {
    Attach {
        secret: Option<String>,
        auto: bool,
        allow_missing: bool,
        restart: bool,
        /// `--credential-provider-config`: images these serve get no Secret from `--auto`.
        providers: Vec<Provider>,
    },
    Detach {
        secret: String,
    },
}

/// Which objects, where, and how to write.
pub(crate) struct Plan<'a> {
    pub(crate) change: Change,
    pub(crate) targets: &'a [Target],
    pub(crate) labels: Option<&'a str>,
    pub(crate) namespaces: &'a [String],
    /// Named targets missing in a namespace are errors when the user named the namespaces,
    /// and skipped under `-A` or a selector.
    pub(crate) missing_is_error: bool,
    pub(crate) write: &'a WriteOptions,
}

/// What was done to one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Done {
    Attached,
    Detached,
    Unchanged,
    Restarted,
}

impl fmt::Display for Done {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Attached => "attached",
            Self::Detached => "detached",
            Self::Unchanged => "unchanged",
            Self::Restarted => "restarted",
        })
    }
}

/// A successful change: what was done, the names `--auto` chose, and the object as written
/// (as it would be, for a dry run), if there is one to print.
#[derive(Debug, Clone)]
pub(crate) struct Applied {
    pub(crate) done: Done,
    pub(crate) auto_names: Vec<String>,
    pub(crate) object: Option<Value>,
}

impl fmt::Display for Applied {
    /// `attached`, or with `--auto`, `attached quay-cred,ghcr-cred`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.done)?;
        if !self.auto_names.is_empty() {
            write!(f, " {}", self.auto_names.join(","))?;
        }
        Ok(())
    }
}

/// Why one object (or one namespace) could not be changed.
#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum ObjectError {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error("{reference} not found in namespace {namespace}")]
    NotFound {
        reference: String,
        namespace: String,
    },
    #[error(
        "secret {name:?} has type {type_}; only kubernetes.io/dockerconfigjson and kubernetes.io/dockercfg Secrets can be pull secrets"
    )]
    NotAPullSecret { name: String, type_: String },
    #[error(
        "secret {name:?} not found in namespace {namespace}; a reference to a missing Secret makes pulls fail. \
         Create it first (kubectl regcred create {name} -n {namespace}) or pass --allow-missing"
    )]
    SecretMissing { name: String, namespace: String },
    /// The kubelet fails every pull of a pod that references it (docs/semantics.md §4).
    #[error(
        "secret {name:?} is malformed (SECRET-MALFORMED): {reason}; the kubelet would fail every pull of pods that reference it. \
         Rewrite it (kubectl regcred create {name} --server SERVER --force) or pass --allow-missing"
    )]
    SecretMalformed { name: String, reason: String },
    #[error("{0} has no pod template")]
    NoPodTemplate(String),
    #[error(
        "{0}: a Job's pod template cannot change after it is created; change its CronJob or ServiceAccount, or recreate the Job"
    )]
    JobTemplateImmutable(String),
}

/// One line of the report.
pub(crate) struct ObjectResult {
    pub(crate) namespace: String,
    pub(crate) reference: String,
    pub(crate) outcome: Result<Applied, ObjectError>,
}

/// What happened, plus notices for stderr.
#[derive(Default)]
pub(crate) struct Outcome {
    pub(crate) results: Vec<ObjectResult>,
    pub(crate) notices: Vec<Notice>,
}

/// Per namespace: the Secrets that may be attached, or why none can.
type Candidates = BTreeMap<String, Result<Vec<Candidate>, ObjectError>>;

/// An object to change, with the resource it was read through.
struct WorkItem {
    namespace: String,
    kind: Kind,
    resource: ApiResource,
    object: DynamicObject,
}

/// Runs the plan across every namespace and target.
pub(crate) async fn apply(cluster: &Cluster, plan: &Plan<'_>) -> Outcome {
    let mut outcome = Outcome::default();
    let candidates = match &plan.change {
        Change::Attach { .. } => candidate_secrets(cluster, plan, &mut outcome).await,
        Change::Detach { .. } => BTreeMap::new(),
    };
    let work = fetch_targets(cluster, plan, &mut outcome).await;
    let changed_accounts = change_all(cluster, plan, &candidates, work, &mut outcome).await;
    if let Change::Attach {
        secret: Some(secret),
        restart,
        ..
    } = &plan.change
        && !changed_accounts.is_empty()
    {
        follow_account_changes(
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

/// Every target object, fetched per kind in as few requests as the scope allows. A failed
/// read, or a named target missing from a named namespace, becomes a result of its own.
async fn fetch_targets(cluster: &Cluster, plan: &Plan<'_>, outcome: &mut Outcome) -> Vec<WorkItem> {
    let mut work = Vec::new();
    let handled: Vec<Kind> = plan.targets.iter().map(|target| target.kind).collect();
    for target in plan.targets {
        let resource = fetch::resource(cluster, target.kind).await;
        let query = Query {
            name: target.name.as_deref(),
            labels: plan.labels.filter(|_| target.name.is_none()),
            concurrency: plan.write.concurrency,
            ..Query::default()
        };
        for (namespace, objects) in fetch::fetch(cluster, &resource, plan.namespaces, query).await {
            let reference = target.reference();
            match objects {
                Err(error) => outcome.results.push(ObjectResult {
                    namespace,
                    reference,
                    outcome: Err(error.into()),
                }),
                Ok(objects) if objects.is_empty() && target.name.is_some() => {
                    if plan.missing_is_error {
                        outcome.results.push(ObjectResult {
                            namespace: namespace.clone(),
                            reference: reference.clone(),
                            outcome: Err(ObjectError::NotFound {
                                reference,
                                namespace,
                            }),
                        });
                    }
                }
                Ok(objects) => work.extend(
                    objects
                        .into_iter()
                        .filter(|object| {
                            // Every object of a kind, not one named: leave those a handled workload
                            // controls to their owner (a Deployment's ReplicaSets, a CronJob's Jobs).
                            target.name.is_some() || !follows_owner_in(object, &handled)
                        })
                        .map(|mut object| {
                            object.types = Some(type_meta(&resource));
                            WorkItem {
                                namespace: namespace.clone(),
                                kind: target.kind,
                                resource: resource.clone(),
                                object,
                            }
                        }),
                ),
            }
        }
    }
    work
}

/// Whether `object`'s controller is a workload of one of the `handled` kinds.
fn follows_owner_in(object: &DynamicObject, handled: &[Kind]) -> bool {
    object
        .metadata
        .owner_references
        .iter()
        .flatten()
        .filter(|owner| owner.controller == Some(true))
        .any(|owner| {
            let group = owner
                .api_version
                .split_once('/')
                .map_or("", |(group, _)| group);
            Kind::follows_handled_owner(group, &owner.kind, handled)
        })
}

/// Changes every fetched object, at most `concurrency` at once. Returns the ServiceAccounts
/// that gained the Secret, as `(namespace, name)`.
async fn change_all(
    cluster: &Cluster,
    plan: &Plan<'_>,
    candidates: &Candidates,
    work: Vec<WorkItem>,
    outcome: &mut Outcome,
) -> Vec<(String, String)> {
    let items: Vec<usize> = (0..work.len()).collect();
    let work = &work;
    let changed = cluster
        .fan_out(
            items,
            plan.write.concurrency,
            "objects",
            |index| async move {
                let item = &work[index];
                let mut notices = Vec::new();
                let result = match candidates.get(&item.namespace) {
                    Some(Err(error)) => Err(error.clone()),
                    found => {
                        let pool = found.and_then(|c| c.as_ref().ok());
                        let pool = pool.map(Vec::as_slice).unwrap_or_default();
                        change_object(cluster, plan, item, pool, &mut notices).await
                    }
                };
                (result, notices)
            },
        )
        .await;
    let mut changed_accounts = Vec::new();
    for (index, (result, notices)) in changed {
        let item = &work[index];
        let name = item.object.metadata.name.clone().unwrap_or_default();
        outcome.notices.extend(notices);
        if item.kind == Kind::ServiceAccount
            && matches!(&result, Ok(applied) if applied.done == Done::Attached)
        {
            changed_accounts.push((item.namespace.clone(), name.clone()));
        }
        outcome.results.push(ObjectResult {
            namespace: item.namespace.clone(),
            reference: item.kind.reference(&name),
            outcome: result,
        });
    }
    changed_accounts
}

/// Per namespace, the Secrets that may be attached: the named one (which must exist and be a
/// pull Secret, unless `--allow-missing`), or for `--auto`, every pull Secret that parses.
async fn candidate_secrets(
    cluster: &Cluster,
    plan: &Plan<'_>,
    outcome: &mut Outcome,
) -> Candidates {
    let Change::Attach {
        secret,
        auto,
        allow_missing,
        ..
    } = &plan.change
    else {
        return BTreeMap::new();
    };
    let concurrency = plan.write.concurrency;
    // By name, any type (a wrong one is reported); for --auto, only the pull Secret types.
    let fetched = match secret.as_deref() {
        Some(name) => {
            let query = Query {
                name: Some(name),
                concurrency,
                ..Query::default()
            };
            fetch::fetch(cluster, &fetch::secret_resource(), plan.namespaces, query).await
        }
        None => fetch::fetch_pull_secrets(cluster, plan.namespaces, concurrency).await,
    };
    let want = PoolRequest {
        named: secret.as_deref(),
        auto: *auto,
        allow_missing: *allow_missing,
    };
    fetched
        .into_iter()
        .map(|(namespace, found)| {
            let result = found.map_err(ObjectError::from).and_then(|objects| {
                candidates_in(&namespace, &objects, &want, &mut outcome.notices)
            });
            (namespace, result)
        })
        .collect()
}

/// What `attach` asked for, as the candidate pool reads it.
struct PoolRequest<'a> {
    /// `attach SECRET`: that one, of any type (a wrong type is an error).
    named: Option<&'a str>,
    auto: bool,
    allow_missing: bool,
}

/// The pull Secrets of one namespace that may be attached, or why none can.
fn candidates_in(
    namespace: &str,
    objects: &[DynamicObject],
    want: &PoolRequest<'_>,
    notices: &mut Vec<Notice>,
) -> Result<Vec<Candidate>, ObjectError> {
    let mut candidates = Vec::new();
    for secret in objects.iter().filter_map(fetch::as_secret) {
        let name = secret.metadata.name.clone().unwrap_or_default();
        let type_ = secret.type_.clone().unwrap_or_else(|| "Opaque".into());
        if type_ != DOCKERCONFIGJSON_TYPE && type_ != DOCKERCFG_TYPE {
            if want.named.is_some() {
                return Err(ObjectError::NotAPullSecret { name, type_ });
            }
            continue;
        }
        match kubelet::parse_secret(&secret) {
            Ok(keys) => candidates.push(Candidate { name, keys }),
            Err(problem) if want.auto => notices.push(Notice::Warning(format!(
                "namespace {namespace}: skipping secret {name:?}: {problem}"
            ))),
            // By name: referencing it would break every pull of the pod, so only
            // with --allow-missing, and then with a warning.
            Err(problem) if want.allow_missing => {
                notices.push(Notice::Warning(format!(
                    "namespace {namespace}: secret {name:?} is malformed (SECRET-MALFORMED), attaching it anyway: {problem}"
                )));
                candidates.push(Candidate {
                    name,
                    keys: Vec::new(),
                });
            }
            Err(problem) => {
                return Err(ObjectError::SecretMalformed {
                    name,
                    reason: problem.to_string(),
                });
            }
        }
    }
    match (want.named, candidates.is_empty()) {
        (Some(name), true) if want.allow_missing => candidates.push(Candidate {
            name: name.to_string(),
            keys: Vec::new(),
        }),
        (Some(name), true) => {
            return Err(ObjectError::SecretMissing {
                name: name.to_string(),
                namespace: namespace.to_string(),
            });
        }
        _ => {}
    }
    Ok(candidates)
}

/// The list an object should end with, and what that change is called.
struct Wanted {
    existing: Vec<String>,
    wanted: Vec<String>,
    done: Done,
    auto_names: Vec<String>,
}

/// Works out the change for one object from its current state (no request).
fn wanted_names(
    plan: &Plan<'_>,
    holder: &Value,
    candidates: &[Candidate],
    context: &str,
    notices: &mut Vec<Notice>,
) -> Wanted {
    let existing = kinds::pull_secret_names(holder);
    match &plan.change {
        Change::Attach {
            secret,
            auto,
            providers,
            ..
        } => {
            let added = if *auto {
                let choice = attach::auto_names_except(holder, candidates, |image| {
                    providers::covering(providers, image).map(|p| p.name.clone())
                });
                notices.extend(
                    choice
                        .unmatched
                        .iter()
                        .map(|why| Notice::Warning(format!("{context}: {why}"))),
                );
                notices.extend(choice.left_to_providers.iter().map(|(image, provider)| {
                    Notice::Note(format!(
                        "{context}: {image} is left to the node credential provider {provider}"
                    ))
                }));
                choice.names
            } else {
                secret.iter().cloned().collect()
            };
            Wanted {
                wanted: kinds::with_names(&existing, &added),
                existing,
                done: Done::Attached,
                auto_names: if *auto { added } else { Vec::new() },
            }
        }
        Change::Detach { secret } => Wanted {
            wanted: kinds::without_name(&existing, secret),
            existing,
            done: Done::Detached,
            auto_names: Vec::new(),
        },
    }
}

async fn change_object(
    cluster: &Cluster,
    plan: &Plan<'_>,
    item: &WorkItem,
    candidates: &[Candidate],
    notices: &mut Vec<Notice>,
) -> Result<Applied, ObjectError> {
    let kind = item.kind;
    let name = item.object.metadata.name.clone().unwrap_or_default();
    let context = format!("{} in namespace {}", kind.reference(&name), item.namespace);
    let current = serde_json::to_value(&item.object).unwrap_or_default();
    let holder = kinds::pull_secret_holder(kind, &current)
        .ok_or_else(|| ObjectError::NoPodTemplate(context.clone()))?;
    let change = wanted_names(plan, holder, candidates, &context, notices);
    let applied = |done, object| Applied {
        done,
        auto_names: change.auto_names.clone(),
        object: Some(object),
    };
    if change.wanted == change.existing {
        return Ok(applied(Done::Unchanged, current));
    }
    if kind == Kind::Job {
        return Err(ObjectError::JobTemplateImmutable(context));
    }
    let Some(writer) = Writer::for_options(plan.write) else {
        // A client dry run: the object as the change would leave it.
        let preview = kinds::with_pull_secrets(kind, &current, &change.wanted);
        return Ok(applied(change.done, preview));
    };
    let written = write_change(cluster, plan, writer, item, &name, &change).await?;
    Ok(match written {
        Write::Written(object) => applied(change.done, to_value(object, &item.resource)),
        // Another writer made the change first.
        Write::Unchanged(object) => Applied {
            done: Done::Unchanged,
            auto_names: Vec::new(),
            object: Some(to_value(object, &item.resource)),
        },
    })
}

/// Sends the change: a guarded read-modify-write for a ServiceAccount, whose list any patch
/// would replace whole; a strategic merge patch for a pod template (docs/semantics.md §6).
async fn write_change(
    cluster: &Cluster,
    plan: &Plan<'_>,
    writer: Writer<'_>,
    item: &WorkItem,
    name: &str,
    change: &Wanted,
) -> Result<Write, ObjectError> {
    let added = kinds::added_names(&change.existing, &change.wanted);
    let describe = |e: kube::Error| ObjectError::Api(cluster.api_error(&e));
    if item.kind == Kind::ServiceAccount {
        // Applied to the list as read at write time, which may have gained entries since.
        let edit = |names: &[String]| match &plan.change {
            Change::Attach { .. } => kinds::with_names(names, &added),
            Change::Detach { secret } => kinds::without_name(names, secret),
        };
        return writes::update_service_account(cluster, &item.namespace, name, edit, writer)
            .await
            .map_err(describe);
    }
    let patch = match &plan.change {
        Change::Attach { .. } => kinds::attach_patch(item.kind, &change.existing, &added),
        Change::Detach { secret } => kinds::detach_patch(item.kind, secret),
    };
    writes::patch_object(
        cluster,
        &item.resource,
        &item.namespace,
        name,
        &Patch::Strategic(&patch),
        writer,
    )
    .await
    .map(Write::Written)
    .map_err(describe)
}

fn type_meta(resource: &ApiResource) -> TypeMeta {
    TypeMeta {
        api_version: resource.api_version.clone(),
        kind: resource.kind.clone(),
    }
}

fn to_value(mut object: DynamicObject, resource: &ApiResource) -> Value {
    object.types = Some(type_meta(resource));
    serde_json::to_value(object).unwrap_or_default()
}

/// A workload to roll out so its pods pick up an account's new Secret.
#[derive(Clone)]
struct Rollout {
    namespace: String,
    kind: Kind,
    name: String,
}

/// ServiceAccount admission copies the account's pull secrets only into Pods created later,
/// and only into Pods that list none of their own (rules::admission). Name what will not pick
/// the Secret up, and with `--restart`, roll out the workloads whose new pods would. One
/// inventory read serves every changed account, whatever the number of namespaces.
async fn follow_account_changes(
    cluster: &Cluster,
    plan: &Plan<'_>,
    changed: &[(String, String)],
    secret: &str,
    restart: bool,
    outcome: &mut Outcome,
) {
    let mut namespaces: Vec<String> = changed.iter().map(|(ns, _)| ns.clone()).collect();
    namespaces.dedup();
    let wants = Wants::WORKLOADS_AND_PODS;
    let inventory = inventory::gather(cluster, &namespaces, wants, plan.write.concurrency).await;
    let mut to_restart = Vec::new();
    for (ns, account) in changed {
        if let Some(found) = inventory.namespaces.get(ns) {
            let rollouts =
                account_caveats(found, ns, account, secret, restart, &mut outcome.notices);
            to_restart.extend(rollouts);
        }
    }
    if restart && !to_restart.is_empty() {
        let restarted = restart_all(cluster, plan, to_restart).await;
        outcome.results.extend(restarted);
    }
}

/// Notices for one account that gained `secret`, and the workloads a rollout would fix.
fn account_caveats(
    found: &inventory::NamespaceInventory,
    ns: &str,
    account: &str,
    secret: &str,
    restart: bool,
    notices: &mut Vec<Notice>,
) -> Vec<Rollout> {
    let runs_under = |spec: &Value| kinds::service_account(spec) == account;
    let stale: Vec<&str> = found
        .pods
        .iter()
        .filter(|pod| runs_under(&pod.value["spec"]))
        .filter(|pod| !pod.pull_secrets().iter().any(|n| n == secret))
        .map(|pod| pod.name.as_str())
        .collect();
    if !stale.is_empty() {
        notices.push(Notice::Note(format!(
            "namespace {ns}: {} existing pod(s) run under serviceaccount/{account} and keep their old pull secrets until they are recreated: {}",
            stale.len(),
            first_few(&stale, 5)
        )));
    }
    let mut rollouts = Vec::new();
    // Owned ReplicaSets and Jobs follow their owner's template.
    for workload in found.workloads.iter().filter(|w| w.owner.is_none()) {
        let Some(spec) = kinds::pod_spec(workload.kind, &workload.value) else {
            continue;
        };
        if !runs_under(spec) {
            continue;
        }
        match admission::template_pickup(&kinds::pull_secret_names(spec), secret) {
            Pickup::OnNewPods if workload.kind.restartable() => rollouts.push(Rollout {
                namespace: ns.to_string(),
                kind: workload.kind,
                name: workload.name.clone(),
            }),
            Pickup::OnNewPods | Pickup::AlreadyListed => {}
            Pickup::Never => notices.push(Notice::Note(format!(
                "{} in namespace {ns} lists its own imagePullSecrets, so its pods ignore the ServiceAccount's; \
                 attach to it directly: kubectl regcred attach {secret} {} -n {ns}",
                workload.reference(),
                workload.kind.command_reference(&workload.name)
            ))),
        }
    }
    if !rollouts.is_empty() && !restart {
        let names: Vec<String> = rollouts.iter().map(|r| r.kind.reference(&r.name)).collect();
        notices.push(Notice::Note(format!(
            "namespace {ns}: {} run under serviceaccount/{account}; their running pods get the Secret once rolled out (rerun with --restart)",
            names.join(", ")
        )));
    }
    rollouts
}

/// `kubectl rollout restart` for each workload, at most `concurrency` at once.
async fn restart_all(
    cluster: &Cluster,
    plan: &Plan<'_>,
    rollouts: Vec<Rollout>,
) -> Vec<ObjectResult> {
    let writer = Writer::for_options(plan.write);
    let restarted = cluster
        .fan_out(
            rollouts,
            plan.write.concurrency,
            "restarts",
            |rollout| async move {
                let object = match writer {
                    // A client dry run restarts nothing.
                    None => Ok(None),
                    Some(writer) => {
                        let resource = fetch::resource(cluster, rollout.kind).await;
                        writes::rollout_restart(
                            cluster,
                            &resource,
                            &rollout.namespace,
                            &rollout.name,
                            writer,
                        )
                        .await
                        .map(|o| Some(to_value(o, &resource)))
                        .map_err(|e| ObjectError::Api(cluster.api_error(&e)))
                    }
                };
                ObjectResult {
                    namespace: rollout.namespace.clone(),
                    reference: rollout.kind.reference(&rollout.name),
                    outcome: object.map(|object| Applied {
                        done: Done::Restarted,
                        auto_names: Vec::new(),
                        object,
                    }),
                }
            },
        )
        .await;
    restarted.into_iter().map(|(_, result)| result).collect()
}
