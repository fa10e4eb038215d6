//! Keeping one credential true in every namespace of its scope (docs/sync.md). [`reconcile`]
//! reads the cluster, plans with [`crate::rules::sync::plan`], and writes: `sync` runs it
//! once per credential, and later the watch loop and the in-cluster controller run the same
//! function. It knows nothing of where the credentials came from.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ListParams};

use crate::cluster::inventory::{self, Wants};
use crate::cluster::secrets::{self, Known, SecretWrite, WriteError};
use crate::cluster::writes::{WriteMode, WriteOptions, Writer};
use crate::cluster::{ApiError, Cluster, ClusterError};
use crate::references::{self, Change, Plan};
use crate::rules::credential::{Credential, Origin};
use crate::rules::kinds::{ALL_KINDS, Kind, Target};
use crate::rules::kubelet;
use crate::rules::pullsecret::{DOCKERCONFIGJSON_TYPE, build_secret, is_up_to_date};
use crate::rules::registry::Registry;
use crate::rules::scope::{NamespaceScope, RecordedScope, Scope};
use crate::rules::sync::{self, InScope, Observed, PlanOptions, Step};
use crate::rules::trust::{self, Owner, SourceNamedBy, SourceRefusal};

/// What one credential should be, and where.
pub(crate) struct Desired {
    pub(crate) name: String,
    pub(crate) credentials: Vec<Credential>,
    pub(crate) scope: Scope,
    /// What each copy records about the scope.
    pub(crate) recorded: RecordedScope,
    /// Whose copies these are: a definition's, or a standalone Secret's (docs/sync.md, "Trust").
    pub(crate) owner: Owner,
    /// The definition as read, if it exists (not for a standalone Secret).
    pub(crate) definition_seen: Option<Secret>,
}

impl Desired {
    /// The copy for one namespace.
    pub(crate) fn secret(&self, namespace: &str) -> Secret {
        self.owner.copy(build_secret(
            &self.name,
            Some(namespace),
            &self.credentials,
            Some(&self.recorded),
        ))
    }

    /// The definition: the same logins and records, in the definitions namespace.
    pub(crate) fn definition(&self) -> Secret {
        self.owner.definition_secret(build_secret(
            &self.name,
            None,
            &self.credentials,
            Some(&self.recorded),
        ))
    }

    /// The step that keeps the definition itself true; none for a standalone Secret.
    fn definition_step(&self) -> Option<Step> {
        if self.owner.standalone {
            return None;
        }
        Some(match &self.definition_seen {
            None => Step::Create,
            Some(seen) if is_up_to_date(seen, &self.definition()) => Step::Unchanged,
            Some(_) => Step::Update,
        })
    }
}

pub(crate) struct Options<'a> {
    pub(crate) plan: PlanOptions,
    /// `--check`: plan only, never write.
    pub(crate) check: bool,
    pub(crate) write: &'a WriteOptions,
}

/// What happened in one namespace.
#[derive(Debug)]
pub(crate) struct StepResult {
    pub(crate) namespace: String,
    pub(crate) step: Step,
    /// The verb done (`created`, `pruned`, ...), or `None` when nothing was to be done.
    pub(crate) outcome: Result<Option<&'static str>, StepError>,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum StepError {
    #[error(transparent)]
    Api(#[from] ApiError),
    /// A write refused before or after it was sent: not ours, Rancher's, too many conflicts.
    #[error(transparent)]
    Write(WriteError),
    #[error("detaching it first failed: {0}")]
    Detach(DetachError),
}

/// Why a copy could not be detached from its users before a prune.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DetachError {
    /// Kinds the reader may not list: one of them could still reference the copy.
    #[error("may not list {} (forbidden), which could still reference it", .0.join(", "))]
    Unreadable(Vec<String>),
    /// Objects whose reference could not be removed, each with why.
    #[error("{}", .0.iter().map(|(object, why)| format!("{object}: {why}")).collect::<Vec<_>>().join("; "))]
    Failed(Vec<(String, references::ObjectError)>),
}

/// Every Secret named `name`, by namespace. Only pull Secrets are read whole; a same-named
/// Secret of another type (somebody else's, perhaps large) is read as metadata, enough to
/// report the conflict, and carries no type here.
pub(crate) async fn copies_everywhere(
    cluster: &Cluster,
    name: &str,
) -> Result<BTreeMap<String, Secret>, ClusterError> {
    copies_through(cluster, Api::all(cluster.client.clone()), name).await
}

/// The same, in `namespaces` only: for a reader who may not list Secrets cluster-wide.
pub(crate) async fn copies_in(
    cluster: &Cluster,
    name: &str,
    namespaces: &[String],
) -> Result<BTreeMap<String, Secret>, ClusterError> {
    let mut copies = BTreeMap::new();
    for namespace in namespaces {
        let api = Api::namespaced(cluster.client.clone(), namespace);
        copies.extend(copies_through(cluster, api, name).await?);
    }
    Ok(copies)
}

async fn copies_through(
    cluster: &Cluster,
    api: Api<Secret>,
    name: &str,
) -> Result<BTreeMap<String, Secret>, ClusterError> {
    let by_name = format!("metadata.name={name}");
    let error = |e: kube::Error| ClusterError::Api {
        context: "listing the copies of the Secret",
        source: cluster.api_error(&e),
    };
    let pull = ListParams::default().fields(&format!("{by_name},type={DOCKERCONFIGJSON_TYPE}"));
    let mut copies: BTreeMap<String, Secret> = api
        .list(&pull)
        .await
        .map_err(error)?
        .items
        .into_iter()
        .filter_map(|secret| Some((secret.metadata.namespace.clone()?, secret)))
        .collect();
    let every_type = api
        .list_metadata(&ListParams::default().fields(&by_name))
        .await
        .map_err(error)?;
    for other in every_type.items {
        if let Some(namespace) = other.metadata.namespace.clone() {
            copies.entry(namespace).or_insert_with(|| Secret {
                metadata: other.metadata,
                ..Secret::default()
            });
        }
    }
    Ok(copies)
}

/// The namespaces the scope names, with whether each is being deleted.
pub(crate) async fn namespaces_in(
    cluster: &Cluster,
    scope: &Scope,
) -> Result<Vec<InScope>, ClusterError> {
    let listed = match &scope.namespaces {
        NamespaceScope::Context => vec![InScope {
            name: cluster.default_namespace.clone(),
            terminating: false,
        }],
        NamespaceScope::Named(names) => names
            .iter()
            .map(|name| InScope {
                name: name.clone(),
                terminating: false,
            })
            .collect(),
        NamespaceScope::All | NamespaceScope::Selector(_) => cluster
            .list_namespaces(&scope.namespaces)
            .await?
            .into_iter()
            .map(|ns| InScope {
                name: ns.name,
                terminating: ns.terminating,
            })
            .collect(),
    };
    Ok(listed
        .into_iter()
        .filter(|ns| scope.admits(&ns.name))
        .collect())
}

/// Plans and (unless `--check`) carries out one credential's sync. `copies` are every Secret
/// of its name in the cluster, as [`copies_everywhere`] read them (or a watch cache holds
/// them), and `in_scope` the namespaces its scope names ([`namespaces_in`]).
pub(crate) async fn reconcile(
    cluster: &Cluster,
    desired: &Desired,
    copies: &BTreeMap<String, Secret>,
    in_scope: &[InScope],
    options: &Options<'_>,
) -> Result<Vec<StepResult>, ClusterError> {
    // A copy never lives beside the definitions: that place is the definition's.
    let in_scope: Vec<InScope> = in_scope
        .iter()
        .filter(|ns| desired.owner.standalone || ns.name != desired.owner.definition.namespace)
        .cloned()
        .collect();
    let in_scope = in_scope.as_slice();
    let users = if options.plan.prune {
        users_of(
            cluster,
            &desired.name,
            &sync::prune_candidates(in_scope, copies, &desired.owner),
            options,
        )
        .await
    } else {
        BTreeMap::new()
    };
    let observed = Observed {
        in_scope,
        copies,
        users: &users,
        owner: &desired.owner,
    };
    let steps = sync::plan(&observed, |ns| desired.secret(ns), options.plan);
    let definition = desired
        .definition_step()
        .map(|step| (desired.owner.definition.namespace.clone(), step));
    if options.check || options.write.mode == WriteMode::ClientDryRun {
        return Ok(definition
            .into_iter()
            .chain(steps)
            .map(|(namespace, step)| StepResult {
                outcome: Ok(planned_verb(&step)),
                namespace,
                step,
            })
            .collect());
    }
    // The definition first: copies never hold what their definition does not.
    let mut definition_result = Vec::new();
    if let Some((namespace, step)) = definition {
        let outcome = write_definition(cluster, desired, &step, options).await;
        let failed = outcome.is_err();
        definition_result.push(StepResult {
            namespace,
            step,
            outcome,
        });
        if failed {
            return Ok(definition_result);
        }
    }
    let results = cluster
        .fan_out(
            steps,
            options.write.concurrency,
            "namespaces",
            |(namespace, step)| async move {
                let outcome = carry_out(cluster, desired, copies, &namespace, &step, options).await;
                (namespace, step, outcome)
            },
        )
        .await;
    Ok(definition_result
        .into_iter()
        .chain(
            results
                .into_iter()
                .map(|(_, (namespace, step, outcome))| StepResult {
                    namespace,
                    step,
                    outcome,
                }),
        )
        .collect())
}

/// Creates or updates the definition, guarded like a copy (docs/sync.md, "Trust").
async fn write_definition(
    cluster: &Cluster,
    desired: &Desired,
    step: &Step,
    options: &Options<'_>,
) -> Result<Option<&'static str>, StepError> {
    if *step == Step::Unchanged {
        return Ok(planned_verb(step));
    }
    let api: Api<Secret> =
        Api::namespaced(cluster.client.clone(), &desired.owner.definition.namespace);
    let definition = desired.definition();
    let written = write_one(
        cluster,
        &api,
        definition,
        desired.definition_seen.as_ref(),
        false,
        options,
    );
    written.await
}

/// Writes `wanted` over what was seen (or creates it), guarded as every write is, and says
/// which verb it was.
async fn write_one(
    cluster: &Cluster,
    api: &Api<Secret>,
    wanted: Secret,
    seen: Option<&Secret>,
    force: bool,
    options: &Options<'_>,
) -> Result<Option<&'static str>, StepError> {
    let known = match seen {
        Some(secret) => secrets::known(secret),
        None => Known::Absent,
    };
    let write_options = SecretWrite {
        mode: options.write.mode,
        force,
        field_manager: &options.write.field_manager,
    };
    let (action, _) = secrets::write(api, &|_| wanted.clone(), known, write_options)
        .await
        .map_err(|e| match e {
            WriteError::Api(e) => StepError::Api(cluster.api_error(&e)),
            other => StepError::Write(other),
        })?;
    Ok(Some(action.verb()))
}

/// The verb a step would produce, for plans and client-side dry runs.
fn planned_verb(step: &Step) -> Option<&'static str> {
    match step {
        Step::Create => Some("created"),
        Step::Update => Some("configured"),
        Step::Unchanged => Some("unchanged"),
        Step::Prune => Some("pruned"),
        _ => None,
    }
}

/// Who references the credential in each namespace a prune would touch.
async fn users_of(
    cluster: &Cluster,
    name: &str,
    namespaces: &[String],
    options: &Options<'_>,
) -> BTreeMap<String, Vec<String>> {
    if namespaces.is_empty() {
        return BTreeMap::new();
    }
    let found =
        inventory::gather(cluster, namespaces, Wants::USERS, options.write.concurrency).await;
    let mut users: BTreeMap<String, Vec<String>> = found
        .namespaces
        .iter()
        .map(|(ns, inventory)| (ns.clone(), inventory.users_of(name)))
        .collect();
    // A namespace whose users could not be read is treated as used: never prune blind.
    for (ns, error) in &found.errors {
        users.insert(ns.clone(), vec![format!("(unknown: {error})")]);
    }
    users
}

async fn carry_out(
    cluster: &Cluster,
    desired: &Desired,
    copies: &BTreeMap<String, Secret>,
    namespace: &str,
    step: &Step,
    options: &Options<'_>,
) -> Result<Option<&'static str>, StepError> {
    let api: Api<Secret> = Api::namespaced(cluster.client.clone(), namespace);
    let Some(writer) = Writer::for_options(options.write) else {
        // A client dry run sends nothing (reconcile returns the plan before this).
        return Ok(planned_verb(step));
    };
    match step {
        Step::Create | Step::Update => {
            let wanted = desired.secret(namespace);
            let seen = copies.get(namespace);
            write_one(cluster, &api, wanted, seen, options.plan.force, options).await
        }
        Step::Prune => {
            let existing = &copies[namespace];
            if options.plan.detach {
                let detached =
                    detach_everywhere(cluster, &desired.name, namespace, options.write).await?;
                // A prune must know every user is gone; a kind it may not read could hold one.
                if !detached.unreadable.is_empty() {
                    return Err(StepError::Detach(DetachError::Unreadable(
                        detached.unreadable,
                    )));
                }
            }
            secrets::delete_exactly(&api, existing, writer)
                .await
                .map_err(|e| StepError::Api(cluster.api_error(&e)))?;
            Ok(Some("pruned"))
        }
        Step::Unchanged => Ok(Some("unchanged")),
        Step::LeftScope | Step::PruneBlocked { .. } | Step::Skip { .. } | Step::Conflict { .. } => {
            Ok(None)
        }
    }
}

/// What [`detach_everywhere`] did.
pub(crate) struct Detached {
    /// The objects it changed.
    pub(crate) changed: Vec<references::ObjectResult>,
    /// Kinds the caller may not list there (`statefulsets.apps`): left as they are.
    pub(crate) unreadable: Vec<String>,
}

/// Removes `secret` from every workload template and ServiceAccount in `namespace` that the
/// caller may list; the kinds it may not list are returned, not an error.
pub(crate) async fn detach_everywhere(
    cluster: &Cluster,
    secret: &str,
    namespace: &str,
    write: &WriteOptions,
) -> Result<Detached, StepError> {
    let targets: Vec<Target> = ALL_KINDS
        .into_iter()
        .filter(|kind| *kind != Kind::Pod)
        .map(|kind| Target { kind, name: None })
        .collect();
    let namespaces = [namespace.to_string()];
    let plan = Plan {
        change: Change::Detach {
            secret: secret.to_string(),
        },
        targets: &targets,
        labels: None,
        namespaces: &namespaces,
        missing_is_error: false,
        write,
    };
    let outcome = references::apply(cluster, &plan).await;
    let mut unreadable = Vec::new();
    let mut failures = Vec::new();
    let mut changed = Vec::new();
    for result in outcome.results {
        match result.outcome {
            Ok(ref applied) => {
                if applied.done != references::Done::Unchanged {
                    changed.push(result);
                }
            }
            // `kind/*` is a list of that kind; forbidden means a Role that does not cover it.
            Err(references::ObjectError::Api(ref e))
                if e.status == Some(403) && result.reference.ends_with("/*") =>
            {
                // `statefulset.apps/*` → `statefulsets.apps`, as kubectl names resources.
                let display = result.reference.trim_end_matches("/*");
                unreadable.push(match display.split_once('.') {
                    Some((kind, group)) => format!("{kind}s.{group}"),
                    None => format!("{display}s"),
                });
            }
            Err(e) => failures.push((result.reference, e)),
        }
    }
    if !failures.is_empty() {
        return Err(StepError::Detach(DetachError::Failed(failures)));
    }
    Ok(Detached {
        changed,
        unreadable,
    })
}

/// Why a source Secret (`--from-secret`) cannot be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SourceSecretError {
    #[error("reading the source secret {namespace}/{name}: {source}")]
    Api {
        namespace: String,
        name: String,
        source: ApiError,
    },
    #[error("the source secret {namespace}/{name} does not exist")]
    Missing { namespace: String, name: String },
    #[error("the source secret {namespace}/{name} cannot be used: {reason}")]
    Unusable {
        namespace: String,
        name: String,
        reason: String,
    },
    #[error("the source secret {namespace}/{name} has no login for {registry}")]
    NoLogin {
        namespace: String,
        name: String,
        registry: String,
    },
    #[error(transparent)]
    NotPermitted(#[from] SourceRefusal),
}

/// The logins of a pull Secret in the cluster, as credentials whose origin is that Secret:
/// those for `only`, or all of them. `named_by` says who named the source: one named only by
/// a record that anyone could have written must permit copies into `targets` itself
/// (docs/sync.md, "Trust").
pub(crate) async fn source_secret_credentials(
    cluster: &Cluster,
    namespace: &str,
    name: &str,
    only: &[Registry],
    named_by: SourceNamedBy,
    targets: &[String],
) -> Result<Vec<Credential>, SourceSecretError> {
    let (ns, n) = (namespace.to_string(), name.to_string());
    let api: Api<Secret> = Api::namespaced(cluster.client.clone(), namespace);
    let secret = api
        .get_opt(name)
        .await
        .map_err(|e| SourceSecretError::Api {
            namespace: ns.clone(),
            name: n.clone(),
            source: cluster.api_error(&e),
        })?
        .ok_or_else(|| SourceSecretError::Missing {
            namespace: ns.clone(),
            name: n.clone(),
        })?;
    trust::source_permits(&secret, named_by, targets)?;
    let unusable = |reason: String| SourceSecretError::Unusable {
        namespace: ns.clone(),
        name: n.clone(),
        reason,
    };
    let logins = kubelet::secret_logins(&secret).map_err(|e| unusable(e.to_string()))?;
    let mut credentials = Vec::new();
    for login in logins {
        let registry = Registry::parse(&login.raw).map_err(|e| unusable(e.to_string()))?;
        if !only.is_empty() && !only.contains(&registry) {
            continue;
        }
        credentials.push(Credential {
            registry,
            username: login.username,
            password: login.password,
            email: None,
            origin: Origin::SourceSecret {
                namespace: ns.clone(),
                name: n.clone(),
            },
        });
    }
    if let Some(missing) = only
        .iter()
        .find(|registry| !credentials.iter().any(|c| &c.registry == *registry))
    {
        return Err(SourceSecretError::NoLogin {
            namespace: ns,
            name: n,
            registry: missing.to_string(),
        });
    }
    if credentials.is_empty() {
        return Err(unusable("it holds no logins".into()));
    }
    Ok(credentials)
}

/// The requests a reconcile sends, against a mocked API service (`cluster::mock`): which
/// writes, in which order, in each write mode. The real control plane is tests/e2e's.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::mock::{self, Call, Recorded};
    use crate::rules::credential::Password;
    use crate::rules::scope::Exclusions;
    use http::StatusCode;
    use serde_json::Value;

    const DEFINITIONS: &str = "regcred-system";

    /// `regcred`, one quay.io login, defined in regcred-system for team-a.
    fn desired(password: &str) -> Desired {
        let owner = Owner::defined(DEFINITIONS, "regcred", false);
        let mut desired = Desired {
            name: "regcred".into(),
            credentials: vec![Credential {
                registry: Registry::parse("quay.io").unwrap(),
                username: "robot".into(),
                password: Password::from(password.to_string()),
                email: None,
                origin: Origin::Explicit,
            }],
            scope: Scope {
                namespaces: NamespaceScope::Named(vec!["team-a".into()]),
                exclude: Exclusions::default(),
                skip_system: true,
            },
            recorded: RecordedScope {
                namespaces: vec!["team-a".into()],
                all: false,
                selector: None,
                exclude: Vec::new(),
            },
            owner,
            definition_seen: None,
        };
        // The definition exists and is up to date: only copies are at stake.
        desired.definition_seen = Some(as_stored(desired.definition(), "7"));
        desired
    }

    fn as_stored(secret: Secret, resource_version: &str) -> Secret {
        let value = mock::stored(&serde_json::to_value(secret).unwrap(), resource_version);
        serde_json::from_value(value).unwrap()
    }

    fn in_scope() -> Vec<InScope> {
        vec![InScope {
            name: "team-a".into(),
            terminating: false,
        }]
    }

    async fn run(
        copies: &[(&str, Secret)],
        mode: WriteMode,
        prune: bool,
        answer: impl Fn(&Call, &[Call]) -> (StatusCode, Value) + Send + Sync + 'static,
    ) -> (Vec<(String, Option<&'static str>)>, Recorded) {
        let (cluster, recorded) = mock::cluster(answer);
        let copies: BTreeMap<String, Secret> = copies
            .iter()
            .map(|(ns, secret)| (ns.to_string(), secret.clone()))
            .collect();
        let write = WriteOptions {
            mode,
            concurrency: 2,
            field_manager: "kubectl-regcred".into(),
        };
        let options = Options {
            plan: PlanOptions {
                prune,
                detach: false,
                force: false,
            },
            check: false,
            write: &write,
        };
        let results = reconcile(&cluster, &desired("pw"), &copies, &in_scope(), &options)
            .await
            .unwrap();
        let verbs = results
            .into_iter()
            .map(|result| (result.namespace, result.outcome.unwrap()))
            .collect();
        (verbs, recorded)
    }

    fn answer_default(call: &Call, _: &[Call]) -> (StatusCode, Value) {
        mock::default_answer(call)
    }

    const COPY: &str = "/api/v1/namespaces/team-a/secrets";

    #[tokio::test]
    async fn a_missing_copy_is_created_with_one_post() {
        let (verbs, recorded) = run(&[], WriteMode::Persist, false, answer_default).await;
        assert_eq!(
            verbs,
            [
                (DEFINITIONS.to_string(), Some("unchanged")),
                ("team-a".to_string(), Some("created"))
            ]
        );
        assert_eq!(
            recorded.writes(),
            [format!("POST {COPY}?&fieldManager=kubectl-regcred")]
        );
        let sent = &recorded.calls()[0].body;
        assert_eq!(sent["type"], "kubernetes.io/dockerconfigjson");
        assert_eq!(
            sent["metadata"]["annotations"]["kubectl-regcred/definition"],
            "regcred-system/regcred"
        );
    }

    #[tokio::test]
    async fn an_up_to_date_copy_costs_no_request() {
        let copy = as_stored(desired("pw").secret("team-a"), "3");
        let (verbs, recorded) = run(
            &[("team-a", copy)],
            WriteMode::Persist,
            false,
            answer_default,
        )
        .await;
        assert_eq!(verbs[1], ("team-a".to_string(), Some("unchanged")));
        assert!(recorded.calls().is_empty(), "{:?}", recorded.calls());
    }

    #[tokio::test]
    async fn a_stale_copy_is_replaced_guarded_by_its_resource_version() {
        let stale = as_stored(desired("old").secret("team-a"), "3");
        let (verbs, recorded) = run(
            &[("team-a", stale)],
            WriteMode::Persist,
            false,
            answer_default,
        )
        .await;
        assert_eq!(verbs[1], ("team-a".to_string(), Some("configured")));
        assert_eq!(
            recorded.writes(),
            [format!("PUT {COPY}/regcred?&fieldManager=kubectl-regcred")]
        );
        assert_eq!(recorded.calls()[0].body["metadata"]["resourceVersion"], "3");
    }

    #[tokio::test]
    async fn a_conflict_is_read_again_and_retried() {
        let stale = as_stored(desired("old").secret("team-a"), "3");
        let current =
            serde_json::to_value(as_stored(desired("other").secret("team-a"), "4")).unwrap();
        let (verbs, recorded) = run(
            &[("team-a", stale)],
            WriteMode::Persist,
            false,
            move |call, before| match (call.method.as_str(), before.len()) {
                ("PUT", 0) => (
                    StatusCode::CONFLICT,
                    mock::status(409, "Conflict", "changed"),
                ),
                ("GET", _) => (StatusCode::OK, current.clone()),
                _ => mock::default_answer(call),
            },
        )
        .await;
        assert_eq!(verbs[1], ("team-a".to_string(), Some("configured")));
        let lines: Vec<String> = recorded.calls().iter().map(Call::line).collect();
        assert_eq!(
            lines,
            [
                format!("PUT {COPY}/regcred?&fieldManager=kubectl-regcred"),
                format!("GET {COPY}/regcred"),
                format!("PUT {COPY}/regcred?&fieldManager=kubectl-regcred"),
            ]
        );
        // The retry is guarded by what it read, not by what it first believed.
        assert_eq!(recorded.calls()[2].body["metadata"]["resourceVersion"], "4");
    }

    #[tokio::test]
    async fn a_copy_outside_the_scope_is_pruned_exactly() {
        let up_to_date = as_stored(desired("pw").secret("team-a"), "3");
        let outside = as_stored(desired("pw").secret("team-b"), "5");
        let (verbs, recorded) = run(
            &[("team-a", up_to_date), ("team-b", outside)],
            WriteMode::Persist,
            true,
            answer_default,
        )
        .await;
        assert!(
            verbs.contains(&("team-b".to_string(), Some("pruned"))),
            "{verbs:?}"
        );
        assert_eq!(
            recorded.writes(),
            ["DELETE /api/v1/namespaces/team-b/secrets/regcred?"]
        );
        let delete = recorded.calls().into_iter().find(Call::is_write).unwrap();
        assert_eq!(delete.body["preconditions"]["resourceVersion"], "5");
        assert_eq!(delete.body["preconditions"]["uid"], "uid-1");
    }

    /// The bug this project once shipped: a client dry run wrote. It must send no write
    /// however much there is to do, and still say what it would do.
    #[tokio::test]
    async fn a_client_dry_run_sends_no_write() {
        let stale = as_stored(desired("old").secret("team-a"), "3");
        let outside = as_stored(desired("pw").secret("team-b"), "5");
        let (verbs, recorded) = run(
            &[("team-a", stale), ("team-b", outside)],
            WriteMode::ClientDryRun,
            true,
            answer_default,
        )
        .await;
        assert!(recorded.writes().is_empty(), "{:?}", recorded.writes());
        assert!(
            verbs.contains(&("team-a".to_string(), Some("configured"))),
            "{verbs:?}"
        );
        assert!(
            verbs.contains(&("team-b".to_string(), Some("pruned"))),
            "{verbs:?}"
        );
    }

    #[tokio::test]
    async fn a_server_dry_run_sends_every_write_with_dry_run_all() {
        let stale = as_stored(desired("old").secret("team-a"), "3");
        let outside = as_stored(desired("pw").secret("team-b"), "5");
        let (_, recorded) = run(
            &[("team-a", stale), ("team-b", outside)],
            WriteMode::ServerDryRun,
            true,
            answer_default,
        )
        .await;
        let writes: Vec<Call> = recorded
            .calls()
            .into_iter()
            .filter(Call::is_write)
            .collect();
        assert_eq!(writes.len(), 2, "{writes:?}");
        // A delete carries it in its DeleteOptions body, the others in the query.
        for write in &writes {
            assert!(
                write.uri.contains("dryRun=All")
                    || write.body["dryRun"] == serde_json::json!(["All"]),
                "{write:?}"
            );
        }
    }
}
