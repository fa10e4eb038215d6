//! The kinds `attach`, `detach` and `check` understand, where each keeps its pod spec, and
//! the strategic merge patches that change `imagePullSecrets` (docs/semantics.md §6). Pure:
//! the requests that send these patches live in `cluster::writes`.

use serde_json::{Value, json};

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

/// Every kind, in the order help and completion list them: workloads with pod templates
/// first.
pub const ALL_KINDS: [Kind; 8] = [
    Kind::Deployment,
    Kind::StatefulSet,
    Kind::DaemonSet,
    Kind::ReplicaSet,
    Kind::Job,
    Kind::CronJob,
    Kind::Pod,
    Kind::ServiceAccount,
];

/// Workload kinds whose pod template can be patched, in a stable order.
pub const TEMPLATE_KINDS: &[Kind] = ALL_KINDS.as_slice().split_at(6).0;

impl Kind {
    /// kubectl's spellings: singular, plural, short name, optionally with the group.
    pub fn parse(text: &str) -> Option<Self> {
        let lower = text.to_ascii_lowercase();
        let (name, group) = match lower.split_once('.') {
            Some((name, group)) => (name.to_string(), Some(group.to_string())),
            None => (lower, None),
        };
        let kind = ALL_KINDS.into_iter().find(|kind| {
            kind.singular() == name || kind.plural() == name || kind.short_name() == Some(&name)
        })?;
        match group {
            None => Some(kind),
            Some(group) if group == kind.group() => Some(kind),
            Some(_) => None,
        }
    }

    /// The API group (`""` for the core group).
    pub fn group(self) -> &'static str {
        match self {
            Self::Deployment | Self::StatefulSet | Self::DaemonSet | Self::ReplicaSet => "apps",
            Self::Job | Self::CronJob => "batch",
            Self::Pod | Self::ServiceAccount => "",
        }
    }

    /// The kind as the API spells it (`Deployment`).
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

    /// Whether an object whose controller (`ownerReferences[].controller`) is of kind
    /// `controller` and API group `group` follows a workload of one of the `handled` kinds:
    /// a Deployment rewrites its ReplicaSets' templates, a CronJob stamps out its Jobs, so
    /// writing to the owned object is undone or refused. Its owner is changed instead.
    pub fn follows_handled_owner(group: &str, controller: &str, handled: &[Kind]) -> bool {
        handled
            .iter()
            .any(|kind| kind.kind_name() == controller && kind.group() == group)
    }

    /// `deployment`: the lowercase singular kubectl accepts and shows in commands.
    pub fn singular(self) -> String {
        self.kind_name().to_ascii_lowercase()
    }

    /// The lower-case plural kubectl takes (`deployments`).
    pub fn plural(self) -> String {
        format!("{}s", self.singular())
    }

    /// kubectl's short name, where the kind has one.
    pub fn short_name(self) -> Option<&'static str> {
        match self {
            Self::Deployment => Some("deploy"),
            Self::StatefulSet => Some("sts"),
            Self::DaemonSet => Some("ds"),
            Self::ReplicaSet => Some("rs"),
            Self::Job => None,
            Self::CronJob => Some("cj"),
            Self::Pod => Some("po"),
            Self::ServiceAccount => Some("sa"),
        }
    }

    /// `deployment.apps`, `serviceaccount`: kubectl's prefix in `kind/name` output.
    pub fn display(self) -> String {
        match self.group() {
            "" => self.singular(),
            group => format!("{}.{group}", self.singular()),
        }
    }

    /// `deployment.apps/web`: how kubectl names an object in its output.
    pub fn reference(self, name: &str) -> String {
        format!("{}/{name}", self.display())
    }

    /// `deployment/web`: how a user types the object in a command.
    pub fn command_reference(self, name: &str) -> String {
        format!("{}/{name}", self.singular())
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

    /// Kinds whose pods a rollout restart replaces, like `kubectl rollout restart`.
    pub fn restartable(self) -> bool {
        matches!(self, Self::Deployment | Self::StatefulSet | Self::DaemonSet)
    }
}

/// A `kind/name` reference, or every object of a kind (`--all KIND`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub kind: Kind,
    pub name: Option<String>,
}

/// Why a `KIND/NAME` argument was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("{0:?} is not KIND/NAME (e.g. deployment/web, sa/default)")]
    NoSlash(String),
    #[error("{0:?} is not KIND/NAME")]
    BadName(String),
    #[error(
        "unknown kind {0:?}: use deployment, statefulset, daemonset, replicaset, job, cronjob, pod or serviceaccount"
    )]
    UnknownKind(String),
}

/// `deployment/web`, or `every deployment` for `--all deployments`.
impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.name {
            Some(name) => f.write_str(&self.kind.command_reference(name)),
            None => write!(f, "every {}", self.kind.singular()),
        }
    }
}

impl Target {
    /// `KIND/NAME` as kubectl takes it (`deploy/web`, `sa/default`).
    pub fn parse(text: &str) -> Result<Self, TargetError> {
        let (kind, name) = text
            .split_once('/')
            .ok_or_else(|| TargetError::NoSlash(text.to_string()))?;
        let kind = Kind::parse(kind).ok_or_else(|| TargetError::UnknownKind(kind.to_string()))?;
        if name.is_empty() || name.contains('/') {
            return Err(TargetError::BadName(text.to_string()));
        }
        Ok(Self {
            kind,
            name: Some(name.to_string()),
        })
    }

    /// `deployment.apps/web`, or `deployment.apps/*` for every object of the kind.
    pub fn reference(&self) -> String {
        self.kind.reference(self.name.as_deref().unwrap_or("*"))
    }
}

/// The pod spec inside an object, if it has one.
pub fn pod_spec(kind: Kind, object: &Value) -> Option<&Value> {
    let path = kind.pod_spec_path();
    if path.is_empty() {
        return None;
    }
    path.iter().try_fold(object, |value, key| value.get(key))
}

/// What holds `imagePullSecrets`: the pod spec, or a ServiceAccount itself.
pub fn pull_secret_holder(kind: Kind, object: &Value) -> Option<&Value> {
    match kind {
        Kind::ServiceAccount => Some(object),
        kind => pod_spec(kind, object),
    }
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

/// An image a pod pulls, and the image volume that names it, if a volume does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodImage {
    /// The image reference as written.
    pub image: String,
    /// `spec.volumes[].name` of an image volume (KEP-4639); `None` for a container's image.
    pub volume: Option<String>,
}

impl PodImage {
    /// `quay.io/a/b:1`, or `ghcr.io/m:v2 (volume/models)` for an image volume.
    pub fn label(&self) -> String {
        match &self.volume {
            Some(volume) => format!("{} (volume/{volume})", self.image),
            None => self.image.clone(),
        }
    }
}

/// Every image a pod spec makes the kubelet pull: those of its init containers, containers
/// and ephemeral containers (the kubelet's `VisitContainers` order), then its image volumes'
/// (`volumes[].image.reference`), which the kubelet pulls with the same pull Secrets
/// (docs/semantics.md, "Image volumes").
pub fn pod_images(spec: &Value) -> Vec<PodImage> {
    let containers = ["initContainers", "containers", "ephemeralContainers"]
        .iter()
        .flat_map(|field| spec[field].as_array().into_iter().flatten())
        .filter_map(|c| c["image"].as_str())
        .map(|image| PodImage {
            image: image.to_string(),
            volume: None,
        });
    let volumes = spec["volumes"]
        .as_array()
        .into_iter()
        .flatten()
        // Any image source counts: the kubelet tries to pull even an empty reference.
        .filter(|v| v["image"].is_object())
        .map(|v| PodImage {
            image: v["image"]["reference"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            volume: Some(v["name"].as_str().unwrap_or_default().to_string()),
        });
    containers.chain(volumes).collect()
}

/// Every image a pod spec pulls ([`pod_images`]), without where each comes from.
pub fn images(spec: &Value) -> Vec<String> {
    pod_images(spec).into_iter().map(|i| i.image).collect()
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

/// Names in `wanted` that `existing` lacks, in `wanted`'s order.
pub fn added_names(existing: &[String], wanted: &[String]) -> Vec<String> {
    wanted
        .iter()
        .filter(|n| !existing.contains(n))
        .cloned()
        .collect()
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
    let new = added_names(existing, added);
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

/// Sets a holder's `imagePullSecrets` to `names`, removing the field when there are none
/// (what the API server stores for an empty list).
pub fn set_pull_secret_names(holder: &mut Value, names: &[String]) {
    if names.is_empty() {
        if let Some(map) = holder.as_object_mut() {
            map.remove("imagePullSecrets");
        }
    } else {
        holder["imagePullSecrets"] = references(names);
    }
}

/// `object` with its pod template's (or ServiceAccount's) `imagePullSecrets` set to `names`,
/// for client-side dry runs.
pub fn with_pull_secrets(kind: Kind, object: &Value, names: &[String]) -> Value {
    let mut object = object.clone();
    let holder = kind
        .pod_spec_path()
        .iter()
        .fold(&mut object, |value, key| &mut value[*key]);
    set_pull_secret_names(holder, names);
    object
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owned_objects_follow_a_handled_owner_of_the_same_group_only() {
        let handled = [Kind::Deployment, Kind::CronJob, Kind::ReplicaSet, Kind::Job];
        assert!(Kind::follows_handled_owner("apps", "Deployment", &handled));
        assert!(Kind::follows_handled_owner("batch", "CronJob", &handled));
        // Another group's "Deployment" (a CRD) is no workload of ours.
        assert!(!Kind::follows_handled_owner(
            "example.com",
            "Deployment",
            &handled
        ));
        // An owner kind not being changed in this run: the object is changed itself.
        assert!(!Kind::follows_handled_owner(
            "apps",
            "Deployment",
            &[Kind::ReplicaSet]
        ));
    }

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
            ("jobs", Kind::Job),
            ("po", Kind::Pod),
            ("sa", Kind::ServiceAccount),
            ("ServiceAccount", Kind::ServiceAccount),
        ] {
            assert_eq!(Kind::parse(text), Some(kind), "{text}");
        }
        assert_eq!(Kind::parse("deployment.batch"), None);
        assert_eq!(Kind::parse("service"), None);
        assert_eq!(
            Target::parse("deploy"),
            Err(TargetError::NoSlash("deploy".into()))
        );
        assert!(
            Target::parse("widget/x")
                .unwrap_err()
                .to_string()
                .contains("unknown kind")
        );
        assert_eq!(Kind::Deployment.display(), "deployment.apps");
        assert_eq!(Kind::ServiceAccount.display(), "serviceaccount");
        assert_eq!(Kind::CronJob.command_reference("x"), "cronjob/x");
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
        let cleared = with_pull_secrets(Kind::Deployment, &deployment, &[]);
        assert!(pod_spec(Kind::Deployment, &cleared).unwrap()["imagePullSecrets"].is_null());
    }

    #[test]
    fn image_volumes_are_images_the_pod_pulls() {
        let spec = json!({
            "containers": [{"name": "app", "image": "quay.io/a/app:1"}],
            "volumes": [
                {"name": "data", "emptyDir": {}},
                {"name": "models", "image": {"reference": "ghcr.io/m/models:v2", "pullPolicy": "IfNotPresent"}},
            ],
        });
        let found = pod_images(&spec);
        assert_eq!(images(&spec), ["quay.io/a/app:1", "ghcr.io/m/models:v2"]);
        assert_eq!(found[1].volume.as_deref(), Some("models"));
        assert_eq!(found[1].label(), "ghcr.io/m/models:v2 (volume/models)");
        assert_eq!(found[0].label(), "quay.io/a/app:1");
    }
}
