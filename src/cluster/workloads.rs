//! Objects that reference pull Secrets: workloads with pod templates, Pods and
//! ServiceAccounts. Fetching them in few requests, reading their pod specs, and changing
//! `imagePullSecrets` with the right patch semantics for each (semantics §6).

use std::collections::BTreeMap;
use std::time::Duration;

use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::discovery::ApiResource;
use serde_json::{Value, json};

use super::{Cluster, status_code};

/// Kinds `attach`, `detach` and `check` understand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Deployment,
    StatefulSet,
    DaemonSet,
    ReplicaSet,
    Job,
    CronJob,
    Pod,
    ServiceAccount,
}

/// Workload kinds whose pod template can be patched, in a stable order.
pub const TEMPLATE_KINDS: [Kind; 6] = [
    Kind::Deployment,
    Kind::StatefulSet,
    Kind::DaemonSet,
    Kind::ReplicaSet,
    Kind::Job,
    Kind::CronJob,
];

impl Kind {
    /// kubectl's spellings: singular, plural, short name, optionally with the group.
    pub fn parse(text: &str) -> Option<Self> {
        let lower = text.to_ascii_lowercase();
        let (name, group) = match lower.split_once('.') {
            Some((name, group)) => (name.to_string(), Some(group.to_string())),
            None => (lower, None),
        };
        let kind = match name.as_str() {
            "deployment" | "deployments" | "deploy" => Self::Deployment,
            "statefulset" | "statefulsets" | "sts" => Self::StatefulSet,
            "daemonset" | "daemonsets" | "ds" => Self::DaemonSet,
            "replicaset" | "replicasets" | "rs" => Self::ReplicaSet,
            "job" | "jobs" => Self::Job,
            "cronjob" | "cronjobs" | "cj" => Self::CronJob,
            "pod" | "pods" | "po" => Self::Pod,
            "serviceaccount" | "serviceaccounts" | "sa" => Self::ServiceAccount,
            _ => return None,
        };
        match group {
            None => Some(kind),
            Some(group) if group == kind.group() => Some(kind),
            Some(_) => None,
        }
    }

    pub fn group(self) -> &'static str {
        match self {
            Self::Deployment | Self::StatefulSet | Self::DaemonSet | Self::ReplicaSet => "apps",
            Self::Job | Self::CronJob => "batch",
            Self::Pod | Self::ServiceAccount => "",
        }
    }

    pub fn kind_name(self) -> &'static str {
        match self {
            Self::Deployment => "Deployment",
            Self::StatefulSet => "StatefulSet",
            Self::DaemonSet => "DaemonSet",
            Self::ReplicaSet => "ReplicaSet",
            Self::Job => "Job",
            Self::CronJob => "CronJob",
            Self::Pod => "Pod",
            Self::ServiceAccount => "ServiceAccount",
        }
    }

    fn plural(self) -> String {
        format!("{}s", self.kind_name().to_ascii_lowercase())
    }

    /// `deployment.apps`, `serviceaccount`: kubectl's prefix in `kind/name` output.
    pub fn display(self) -> String {
        let kind = self.kind_name().to_ascii_lowercase();
        match self.group() {
            "" => kind,
            group => format!("{kind}.{group}"),
        }
    }

    /// Where the pod spec sits in the object.
    pub fn pod_spec_path(self) -> &'static [&'static str] {
        match self {
            Self::Pod => &["spec"],
            Self::CronJob => &["spec", "jobTemplate", "spec", "template", "spec"],
            Self::ServiceAccount => &[],
            _ => &["spec", "template", "spec"],
        }
    }

    pub fn has_pod_template(self) -> bool {
        TEMPLATE_KINDS.contains(&self)
    }

    /// Kinds whose pods a rollout restart replaces, like `kubectl rollout restart`.
    pub fn restartable(self) -> bool {
        matches!(self, Self::Deployment | Self::StatefulSet | Self::DaemonSet)
    }

    fn api_resource(self, version: &str) -> ApiResource {
        let group = self.group();
        ApiResource {
            group: group.to_string(),
            version: version.to_string(),
            api_version: if group.is_empty() {
                version.to_string()
            } else {
                format!("{group}/{version}")
            },
            kind: self.kind_name().to_string(),
            plural: self.plural(),
        }
    }
}

/// A `kind/name` reference, or every object of a kind (`--all KIND`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub kind: Kind,
    pub name: Option<String>,
}

impl Target {
    pub fn parse(text: &str) -> Result<Self, String> {
        let (kind, name) = text.split_once('/').ok_or_else(|| {
            format!("{text:?} is not KIND/NAME (e.g. deployment/web, sa/default)")
        })?;
        let kind = Kind::parse(kind).ok_or_else(|| unknown_kind(kind))?;
        if name.is_empty() || name.contains('/') {
            return Err(format!("{text:?} is not KIND/NAME"));
        }
        Ok(Self {
            kind,
            name: Some(name.to_string()),
        })
    }
}

pub fn unknown_kind(kind: &str) -> String {
    format!(
        "unknown kind {kind:?}: use deployment, statefulset, daemonset, replicaset, job, cronjob, pod or serviceaccount"
    )
}

/// The API resource to use for a kind on this cluster (see [`Cluster::serves_cronjob_v1`]).
pub async fn resource(cluster: &Cluster, kind: Kind) -> ApiResource {
    if kind == Kind::CronJob && !cluster.serves_cronjob_v1().await {
        return kind.api_resource("v1beta1");
    }
    kind.api_resource("v1")
}

/// A core (`v1`) resource, for kinds read through the dynamic API.
pub fn core_resource(kind: &str, plural: &str) -> ApiResource {
    ApiResource {
        group: String::new(),
        version: "v1".into(),
        api_version: "v1".into(),
        kind: kind.into(),
        plural: plural.into(),
    }
}

pub fn secret_resource() -> ApiResource {
    core_resource("Secret", "secrets")
}

/// A Secret read through the dynamic API, as the typed struct.
pub fn as_secret(object: &DynamicObject) -> Option<k8s_openapi::api::core::v1::Secret> {
    serde_json::to_value(object)
        .and_then(serde_json::from_value)
        .ok()
}

/// Fetches objects of one resource in `namespaces`: the named one, or all matching `labels`.
/// Many namespaces are read with one cluster-wide list when allowed; otherwise one request
/// per namespace, so a Forbidden namespace fails alone. Results follow `namespaces`' order.
pub async fn fetch(
    cluster: &Cluster,
    resource: &ApiResource,
    namespaces: &[String],
    name: Option<&str>,
    labels: Option<&str>,
    concurrency: usize,
) -> Vec<(String, Result<Vec<DynamicObject>, String>)> {
    let mut params = ListParams::default();
    if let Some(name) = name {
        params = params.fields(&format!("metadata.name={name}"));
    }
    if let Some(labels) = labels {
        params = params.labels(labels);
    }
    if namespaces.len() >= super::CLUSTER_WIDE_THRESHOLD {
        let api: Api<DynamicObject> = Api::all_with(cluster.client.clone(), resource);
        // Served from the watch cache; writes are guarded, so a stale read is safe.
        if let Ok(list) = api.list(&params.clone().at("0")).await {
            let mut by_namespace: BTreeMap<String, Vec<DynamicObject>> = BTreeMap::new();
            for object in list.items {
                let ns = object.metadata.namespace.clone().unwrap_or_default();
                by_namespace.entry(ns).or_default().push(object);
            }
            return namespaces
                .iter()
                .map(|ns| (ns.clone(), Ok(by_namespace.remove(ns).unwrap_or_default())))
                .collect();
        }
    }
    let params = &params;
    crate::fanout::run(
        namespaces.to_vec(),
        concurrency,
        "namespaces",
        |ns| async move {
            let api: Api<DynamicObject> =
                Api::namespaced_with(cluster.client.clone(), &ns, resource);
            let result = match name {
                Some(name) => api.get_opt(name).await.map(|o| o.into_iter().collect()),
                None => api.list(params).await.map(|l| l.items),
            };
            result.map_err(|e| cluster.describe(&e))
        },
    )
    .await
}

/// The pod spec inside an object, if it has one.
pub fn pod_spec(kind: Kind, object: &Value) -> Option<&Value> {
    let path = kind.pod_spec_path();
    if path.is_empty() {
        return None;
    }
    path.iter().try_fold(object, |value, key| value.get(key))
}

/// Names in a pod spec's (or ServiceAccount's) `imagePullSecrets`, in order.
pub fn pull_secret_names(holder: &Value) -> Vec<String> {
    holder["imagePullSecrets"]
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|r| r["name"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Every image of a pod spec: containers, init containers and ephemeral containers.
pub fn images(spec: &Value) -> Vec<String> {
    ["initContainers", "containers", "ephemeralContainers"]
        .iter()
        .flat_map(|field| spec[field].as_array().into_iter().flatten())
        .filter_map(|c| c["image"].as_str().map(str::to_string))
        .collect()
}

/// The ServiceAccount a pod spec runs under (admission fills in `default`).
pub fn service_account(spec: &Value) -> String {
    spec["serviceAccountName"]
        .as_str()
        .or_else(|| spec["serviceAccount"].as_str())
        .filter(|s| !s.is_empty())
        .unwrap_or("default")
        .to_string()
}

/// `existing` plus `added`, keeping the existing order and appending only what is new.
pub fn with_names(existing: &[String], added: &[String]) -> Vec<String> {
    let mut names = existing.to_vec();
    for name in added {
        if !names.contains(name) {
            names.push(name.clone());
        }
    }
    names
}

/// `existing` without `removed`, order kept.
pub fn without_name(existing: &[String], removed: &str) -> Vec<String> {
    existing.iter().filter(|n| *n != removed).cloned().collect()
}

fn references(names: &[String]) -> Value {
    Value::Array(names.iter().map(|n| json!({ "name": n })).collect())
}

/// Nests `leaf` under `path`: `["spec","template","spec"]` → `{"spec":{"template":{"spec":leaf}}}`.
fn nest(path: &[&str], leaf: Value) -> Value {
    path.iter()
        .rev()
        .fold(leaf, |inner, key| json!({ *key: inner }))
}

/// The strategic merge patch that adds `added` to a pod template. `imagePullSecrets` in a
/// PodSpec merges by `name`, so existing entries are kept; `$setElementOrder` keeps the
/// existing order and puts the new names last.
pub fn attach_patch(kind: Kind, existing: &[String], added: &[String]) -> Value {
    let order = with_names(existing, added);
    let new: Vec<String> = added
        .iter()
        .filter(|n| !existing.contains(n))
        .cloned()
        .collect();
    nest(
        kind.pod_spec_path(),
        json!({ "$setElementOrder/imagePullSecrets": references(&order), "imagePullSecrets": references(&new) }),
    )
}

/// The strategic merge patch that removes one entry: `$patch: delete` by merge key.
pub fn detach_patch(kind: Kind, name: &str) -> Value {
    nest(
        kind.pod_spec_path(),
        json!({ "imagePullSecrets": [{ "$patch": "delete", "name": name }] }),
    )
}

/// `object` with its pod template's (or ServiceAccount's) `imagePullSecrets` set to `names`,
/// for client-side dry runs.
pub fn with_pull_secrets(kind: Kind, object: &Value, names: &[String]) -> Value {
    let mut object = object.clone();
    let holder = kind
        .pod_spec_path()
        .iter()
        .fold(&mut object, |value, key| &mut value[*key]);
    if names.is_empty() {
        if let Some(map) = holder.as_object_mut() {
            map.remove("imagePullSecrets");
        }
    } else {
        holder["imagePullSecrets"] = references(names);
    }
    object
}

#[derive(Debug, Clone, Copy)]
pub struct PatchOptions<'a> {
    pub server_dry_run: bool,
    pub field_manager: &'a str,
}

/// Applies a strategic merge patch to a pod-template workload.
pub async fn patch_template(
    cluster: &Cluster,
    resource: &ApiResource,
    namespace: &str,
    name: &str,
    patch: &Value,
    options: PatchOptions<'_>,
) -> Result<DynamicObject, kube::Error> {
    let api: Api<DynamicObject> = Api::namespaced_with(cluster.client.clone(), namespace, resource);
    let params = PatchParams {
        dry_run: options.server_dry_run,
        field_manager: Some(options.field_manager.to_string()),
        ..PatchParams::default()
    };
    api.patch(name, &params, &Patch::Strategic(patch)).await
}

/// Attempts for a ServiceAccount read-modify-write under contention.
const SA_ATTEMPTS: u32 = 25;

/// Changes a ServiceAccount's `imagePullSecrets`, an atomic list that any patch would replace
/// whole: read it, compute the new list, and write it back with the `resourceVersion` we read
/// as a precondition. On a conflict, read again and retry (bounded), so no entry another
/// writer added in between is lost. Returns `None` when nothing needed to change.
pub async fn update_service_account(
    cluster: &Cluster,
    namespace: &str,
    name: &str,
    change: impl Fn(&[String]) -> Vec<String>,
    options: PatchOptions<'_>,
) -> Result<(bool, DynamicObject), kube::Error> {
    let resource = Kind::ServiceAccount.api_resource("v1");
    let api: Api<DynamicObject> =
        Api::namespaced_with(cluster.client.clone(), namespace, &resource);
    let params = PostParams {
        dry_run: options.server_dry_run,
        field_manager: Some(options.field_manager.to_string()),
    };
    let mut attempt = 0;
    loop {
        let current = api.get(name).await?;
        let existing = pull_secret_names(&current.data);
        let wanted = change(&existing);
        if wanted == existing {
            return Ok((false, current));
        }
        let mut updated = current.clone();
        if wanted.is_empty() {
            if let Some(map) = updated.data.as_object_mut() {
                map.remove("imagePullSecrets");
            }
        } else {
            updated.data["imagePullSecrets"] = references(&wanted);
        }
        updated.metadata.managed_fields = None;
        match api.replace(name, &params, &updated).await {
            Ok(written) => return Ok((true, written)),
            Err(e) if status_code(&e) == Some(409) && attempt + 1 < SA_ATTEMPTS => {
                attempt += 1;
                tokio::time::sleep(backoff(attempt)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// A short, jittered, growing pause so concurrent writers stop colliding.
fn backoff(attempt: u32) -> Duration {
    let jitter = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() % 20)
        .unwrap_or(0);
    Duration::from_millis(u64::from(5 * attempt.min(10) + jitter))
}

/// `kubectl rollout restart`: a new `restartedAt` annotation on the pod template.
pub async fn rollout_restart(
    cluster: &Cluster,
    resource: &ApiResource,
    namespace: &str,
    name: &str,
    options: PatchOptions<'_>,
) -> Result<DynamicObject, kube::Error> {
    let now = k8s_openapi::jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let patch = json!({"spec": {"template": {"metadata": {"annotations": {
        "kubectl.kubernetes.io/restartedAt": now
    }}}}});
    patch_template(cluster, resource, namespace, name, &patch, options).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_accept_kubectls_spellings() {
        for (text, kind) in [
            ("deploy", Kind::Deployment),
            ("deployments.apps", Kind::Deployment),
            ("sts", Kind::StatefulSet),
            ("ds", Kind::DaemonSet),
            ("rs", Kind::ReplicaSet),
            ("cj", Kind::CronJob),
            ("job.batch", Kind::Job),
            ("sa", Kind::ServiceAccount),
            ("ServiceAccount", Kind::ServiceAccount),
        ] {
            assert_eq!(Kind::parse(text), Some(kind), "{text}");
        }
        assert_eq!(Kind::parse("deployment.batch"), None);
        assert_eq!(Kind::parse("service"), None);
        assert!(Target::parse("deploy").is_err());
        assert!(
            Target::parse("widget/x")
                .unwrap_err()
                .contains("unknown kind")
        );
        assert_eq!(Kind::Deployment.display(), "deployment.apps");
        assert_eq!(Kind::ServiceAccount.display(), "serviceaccount");
    }

    #[test]
    fn merge_keeps_order_and_never_duplicates() {
        let existing = vec!["a".to_string(), "b".to_string()];
        assert_eq!(with_names(&existing, &["c".into()]), ["a", "b", "c"]);
        assert_eq!(with_names(&existing, &["a".into()]), ["a", "b"]);
        assert_eq!(without_name(&existing, "a"), ["b"]);
        assert_eq!(without_name(&existing, "z"), ["a", "b"]);
    }

    #[test]
    fn patches_for_templates() {
        let patch = attach_patch(Kind::Deployment, &["x".into()], &["regcred".into()]);
        assert_eq!(
            patch,
            json!({"spec":{"template":{"spec":{
                "$setElementOrder/imagePullSecrets":[{"name":"x"},{"name":"regcred"}],
                "imagePullSecrets":[{"name":"regcred"}]}}}})
        );
        let patch = detach_patch(Kind::CronJob, "old");
        assert_eq!(
            patch["spec"]["jobTemplate"]["spec"]["template"]["spec"]["imagePullSecrets"],
            json!([{"$patch":"delete","name":"old"}])
        );
    }

    #[test]
    fn pod_spec_reading() {
        let deployment = json!({"spec":{"template":{"spec":{
            "serviceAccountName":"builder",
            "imagePullSecrets":[{"name":"x"}],
            "initContainers":[{"image":"busybox"}],
            "containers":[{"image":"quay.io/a/b:1"},{"image":"nginx"}]}}}});
        let spec = pod_spec(Kind::Deployment, &deployment).unwrap();
        assert_eq!(images(spec), ["busybox", "quay.io/a/b:1", "nginx"]);
        assert_eq!(pull_secret_names(spec), ["x"]);
        assert_eq!(service_account(spec), "builder");
        assert_eq!(service_account(&json!({})), "default");
        let changed = with_pull_secrets(Kind::Deployment, &deployment, &["x".into(), "y".into()]);
        assert_eq!(
            pull_secret_names(pod_spec(Kind::Deployment, &changed).unwrap()),
            ["x", "y"]
        );
    }
}
