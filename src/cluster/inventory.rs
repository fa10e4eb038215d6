//! Everything about pull Secrets in a set of namespaces, read once per resource type (one
//! cluster-wide list when there are many namespaces): Secrets, workloads, Pods,
//! ServiceAccounts and Events. `list`, `show` and `check` work from this.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret;
use kube::api::DynamicObject;
use kube::discovery::ApiResource;
use serde_json::Value;

use super::fetch::{self, Query};
use super::{ApiError, Cluster};
use crate::rules::kinds::{self, Kind, TEMPLATE_KINDS};

/// A workload, Pod or ServiceAccount, as plain JSON.
#[derive(Debug, Clone)]
pub(crate) struct Object {
    pub(crate) kind: Kind,
    pub(crate) name: String,
    pub(crate) uid: String,
    /// `(kind, uid)` of the controller that owns it, if any.
    pub(crate) owner: Option<(String, String)>,
    pub(crate) value: Value,
}

impl Object {
    fn from_dynamic(kind: Kind, object: DynamicObject) -> Self {
        let owner = object
            .metadata
            .owner_references
            .as_ref()
            .and_then(|refs| {
                refs.iter()
                    .find(|r| r.controller == Some(true))
                    .or(refs.first())
            })
            .map(|r| (r.kind.clone(), r.uid.clone()));
        Self {
            kind,
            name: object.metadata.name.clone().unwrap_or_default(),
            uid: object.metadata.uid.clone().unwrap_or_default(),
            owner,
            value: serde_json::to_value(&object).unwrap_or_default(),
        }
    }

    /// `deployment.apps/web`.
    pub(crate) fn reference(&self) -> String {
        self.kind.reference(&self.name)
    }

    /// The pod spec (templates and Pods) or the account itself (ServiceAccounts): whatever
    /// holds `imagePullSecrets`.
    pub(crate) fn pull_secret_holder(&self) -> Option<&Value> {
        kinds::pull_secret_holder(self.kind, &self.value)
    }

    pub(crate) fn pull_secrets(&self) -> Vec<String> {
        self.pull_secret_holder()
            .map(kinds::pull_secret_names)
            .unwrap_or_default()
    }
}

#[derive(Debug, Default)]
pub(crate) struct NamespaceInventory {
    pub(crate) secrets: Vec<Secret>,
    /// Template workloads (owned ones too: ReplicaSets of Deployments, Jobs of CronJobs).
    pub(crate) workloads: Vec<Object>,
    pub(crate) pods: Vec<Object>,
    pub(crate) service_accounts: Vec<Object>,
    /// Pull-failure Events about Pods.
    pub(crate) events: Vec<Value>,
}

/// Reasons the kubelet gives image pull problems.
pub(crate) const PULL_EVENT_REASONS: [&str; 4] = [
    "Failed",
    "ErrImagePull",
    "ImagePullBackOff",
    "ErrImageNeverPull",
];

impl NamespaceInventory {
    /// Objects that name `secret` directly: top-level workloads and ServiceAccounts.
    pub(crate) fn users_of(&self, secret: &str) -> Vec<String> {
        self.workloads
            .iter()
            .filter(|w| w.owner.is_none())
            .chain(&self.service_accounts)
            .filter(|o| o.pull_secrets().iter().any(|n| n == secret))
            .map(Object::reference)
            .collect()
    }

    pub(crate) fn service_account(&self, name: &str) -> Option<&Object> {
        self.service_accounts.iter().find(|sa| sa.name == name)
    }

    /// The workload at the top of `object`'s chain of controllers (Pod → ReplicaSet →
    /// Deployment, Pod → Job → CronJob), or `None` when nothing here controls it. A Pod's
    /// `imagePullSecrets` cannot change after creation: its owner's template is what to fix.
    pub(crate) fn top_owner(&self, object: &Object) -> Option<&Object> {
        let mut top = None;
        let mut current = object;
        // Bounded: an owner chain is short, and a cycle must not hang us.
        for _ in 0..8 {
            let Some((_, uid)) = &current.owner else {
                break;
            };
            let Some(owner) = self.workloads.iter().find(|w| &w.uid == uid) else {
                break;
            };
            top = Some(owner);
            current = owner;
        }
        top
    }

    /// Pods a workload runs, following owner references (Deployment → ReplicaSet → Pod,
    /// CronJob → Job → Pod).
    pub(crate) fn pods_of(&self, workload: &Object) -> Vec<&Object> {
        let owned_by =
            |object: &Object, uid: &str| object.owner.as_ref().is_some_and(|(_, u)| u == uid);
        let mut owners = vec![workload.uid.clone()];
        owners.extend(
            self.workloads
                .iter()
                .filter(|w| owned_by(w, &workload.uid))
                .map(|w| w.uid.clone()),
        );
        self.pods
            .iter()
            .filter(|pod| owners.iter().any(|uid| owned_by(pod, uid)))
            .collect()
    }
}

/// Which resource types to read.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Wants {
    pub(crate) secrets: bool,
    pub(crate) workloads: bool,
    pub(crate) pods: bool,
    pub(crate) service_accounts: bool,
    pub(crate) events: bool,
}

impl Wants {
    /// Everything `check` weighs.
    pub(crate) const ALL: Self = Self {
        secrets: true,
        workloads: true,
        pods: true,
        service_accounts: true,
        events: true,
    };
    /// What names a Secret: workloads and ServiceAccounts.
    pub(crate) const USERS: Self = Self {
        secrets: false,
        workloads: true,
        pods: false,
        service_accounts: true,
        events: false,
    };
    /// Pull Secrets and what names them.
    pub(crate) const SECRETS_AND_USERS: Self = Self {
        secrets: true,
        ..Self::USERS
    };
    /// Workloads and their pods, to follow a ServiceAccount change.
    pub(crate) const WORKLOADS_AND_PODS: Self = Self {
        secrets: false,
        workloads: true,
        pods: true,
        service_accounts: false,
        events: false,
    };
}

pub(crate) struct Inventory {
    pub(crate) namespaces: BTreeMap<String, NamespaceInventory>,
    /// The first error per namespace; that namespace's data is incomplete.
    pub(crate) errors: BTreeMap<String, ApiError>,
    /// Namespace → the resources other than Secrets its reader may not list (`statefulsets.apps`,
    /// `events`): a user with a Role on a few kinds still gets the rest, and is told what was
    /// left out.
    pub(crate) unreadable: BTreeMap<String, Vec<String>>,
}

/// Reads what `wants` asks for in `namespaces`, one request per resource type (or one per
/// namespace when a cluster-wide read is not allowed).
pub(crate) async fn gather(
    cluster: &Cluster,
    namespaces: &[String],
    wants: Wants,
    concurrency: usize,
) -> Inventory {
    let mut inventory = Inventory {
        namespaces: namespaces
            .iter()
            .map(|ns| (ns.clone(), NamespaceInventory::default()))
            .collect(),
        errors: BTreeMap::new(),
        unreadable: BTreeMap::new(),
    };
    if wants.secrets {
        let fetched = fetch::fetch_pull_secrets(cluster, namespaces, concurrency).await;
        inventory.file_all(None, &fetch::secret_resource(), fetched);
    }
    let query = Query {
        concurrency,
        ..Query::default()
    };
    for (kind, resource) in resources(cluster, wants).await {
        let fetched = fetch::fetch(cluster, &resource, namespaces, query).await;
        inventory.file_all(kind, &resource, fetched);
    }
    inventory
}

impl Inventory {
    /// Files every object fetched, or the first error of each namespace.
    fn file_all(&mut self, kind: Option<Kind>, resource: &ApiResource, fetched: fetch::Fetched) {
        for (ns, result) in fetched {
            match result {
                Ok(objects) => {
                    let entry = self.namespaces.entry(ns).or_default();
                    for object in objects {
                        entry.file(kind, resource, object);
                    }
                }
                Err(error) if error.status == Some(403) && resource.kind != "Secret" => {
                    let name = match resource.group.as_str() {
                        "" => resource.plural.clone(),
                        group => format!("{}.{group}", resource.plural),
                    };
                    self.unreadable.entry(ns).or_default().push(name);
                }
                Err(error) => {
                    self.errors.entry(ns).or_insert(error);
                }
            }
        }
    }
}

/// The resources to read besides Secrets: `(kind, resource)`, with no kind for Events.
async fn resources(cluster: &Cluster, wants: Wants) -> Vec<(Option<Kind>, ApiResource)> {
    let mut resources = Vec::new();
    if wants.workloads {
        for &kind in TEMPLATE_KINDS {
            resources.push((Some(kind), fetch::resource(cluster, kind).await));
        }
    }
    if wants.pods {
        resources.push((Some(Kind::Pod), fetch::core_resource("Pod", "pods")));
    }
    if wants.service_accounts {
        resources.push((
            Some(Kind::ServiceAccount),
            fetch::core_resource("ServiceAccount", "serviceaccounts"),
        ));
    }
    if wants.events {
        resources.push((None, fetch::core_resource("Event", "events")));
    }
    resources
}

impl NamespaceInventory {
    /// Puts one object read through `resource` where it belongs; Events only when they are
    /// about a Pod's image pull.
    fn file(&mut self, kind: Option<Kind>, resource: &ApiResource, object: DynamicObject) {
        match (kind, resource.kind.as_str()) {
            (None, "Secret") => self.secrets.extend(fetch::as_secret(&object)),
            (None, _) => {
                let event = serde_json::to_value(&object).unwrap_or_default();
                let reason = event["reason"].as_str().unwrap_or("");
                if event["involvedObject"]["kind"] == "Pod" && PULL_EVENT_REASONS.contains(&reason)
                {
                    self.events.push(event);
                }
            }
            (Some(Kind::Pod), _) => self.pods.push(Object::from_dynamic(Kind::Pod, object)),
            (Some(Kind::ServiceAccount), _) => self
                .service_accounts
                .push(Object::from_dynamic(Kind::ServiceAccount, object)),
            (Some(kind), _) => self.workloads.push(Object::from_dynamic(kind, object)),
        }
    }
}
