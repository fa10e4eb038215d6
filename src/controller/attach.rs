//! `--auto-attach`: workloads (and with `=serviceaccounts`, ServiceAccounts) created or
//! changed any way get the managed Secrets their images need, matched by the kubelet's
//! rules exactly as `attach --auto` matches them (docs/controller.md). Only missing names
//! are added, through the same writes `attach` makes, so an object that already lists them
//! costs no request and no rollout. Nothing is ever removed; what we added is recorded in
//! the [`ATTACHED_ANNOTATION`], and `kubectl-regcred/auto-attach: "false"` opts out.

use std::sync::Arc;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::CronJob;
use k8s_openapi::api::core::v1::{Secret, ServiceAccount};
use kube::api::{Api, Patch};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::{Trigger, forward};
use crate::cluster::Cluster;
use crate::cluster::fetch::{self, kind_resource};
use crate::cluster::writes::{Writer, patch_object, update_service_account};
use crate::rules::attach::{Candidate, auto_names_except};
use crate::rules::providers::{self, Provider};
use crate::rules::kinds::{self, Kind};
use crate::rules::kubelet;

/// What `--auto-attach` attaches to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AutoAttach {
    Workloads,
    WorkloadsAndServiceAccounts,
}

/// Set to `"false"` on a workload or ServiceAccount to keep auto-attach away from it.
pub(crate) const OPT_OUT_ANNOTATION: &str = "kubectl-regcred/auto-attach";
/// The names auto-attach added, comma-separated.
pub(crate) const ATTACHED_ANNOTATION: &str = "kubectl-regcred/auto-attached";

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct WorkloadKey {
    pub(crate) kind: Kind,
    pub(crate) namespace: String,
    pub(crate) name: String,
}

/// A workload as last seen; `None` once deleted.
#[derive(Debug)]
pub(crate) struct WorkloadEvent {
    pub(crate) key: WorkloadKey,
    pub(crate) object: Option<Value>,
}

/// Starts a watch per kind; returns the names to wait for before the caches count as synced.
pub(crate) async fn watch(
    cluster: &Cluster,
    what: AutoAttach,
    triggers: mpsc::UnboundedSender<Trigger>,
) -> Vec<&'static str> {
    let mut started = vec![
        watch_kind::<Deployment>(cluster, Kind::Deployment, "deployments", triggers.clone()),
        watch_kind::<StatefulSet>(cluster, Kind::StatefulSet, "statefulsets", triggers.clone()),
        watch_kind::<DaemonSet>(cluster, Kind::DaemonSet, "daemonsets", triggers.clone()),
    ];
    // batch/v1 CronJobs from Kubernetes 1.21; older servers' CronJobs are left alone.
    if cluster.serves_cronjob_v1().await {
        started.push(watch_kind::<CronJob>(
            cluster,
            Kind::CronJob,
            "cronjobs",
            triggers.clone(),
        ));
    }
    if what == AutoAttach::WorkloadsAndServiceAccounts {
        started.push(watch_kind::<ServiceAccount>(
            cluster,
            Kind::ServiceAccount,
            "serviceaccounts",
            triggers,
        ));
    }
    started
}

fn watch_kind<K>(
    cluster: &Cluster,
    kind: Kind,
    what: &'static str,
    triggers: mpsc::UnboundedSender<Trigger>,
) -> &'static str
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + serde::Serialize
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    let api: Api<K> = Api::all(cluster.client.clone());
    let stream = watcher::watcher(api, watcher::Config::default())
        .default_backoff()
        // Only spec and metadata matter; the rest would only cost memory.
        .modify(|object| object.managed_fields_mut().clear());
    tokio::spawn(forward(
        stream,
        what,
        triggers,
        move |event| {
            let (object, deleted) = match event {
                watcher::Event::Apply(o) | watcher::Event::InitApply(o) => (o, false),
                watcher::Event::Delete(o) => (o, true),
                _ => return None,
            };
            let key = WorkloadKey {
                kind,
                namespace: object.namespace()?,
                name: object.name_any(),
            };
            let object = if deleted {
                None
            } else {
                let mut value = serde_json::to_value(object).ok()?;
                if let Some(map) = value.as_object_mut() {
                    map.remove("status");
                }
                Some(value)
            };
            Some(Trigger::Workload(WorkloadEvent { key, object }))
        },
        true,
    ));
    what
}

/// Adds to `object` the managed Secrets of its namespace (`managed`) that it needs and
/// lacks. Returns the result for the metrics: `attached`, `unchanged`, `skipped`, `error`.
pub(crate) async fn attach(
    cluster: &Cluster,
    key: &WorkloadKey,
    object: &Value,
    managed: &[Arc<Secret>],
    providers: &[Provider],
    field_manager: &str,
) -> &'static str {
    let annotations = &object["metadata"]["annotations"];
    if annotations[OPT_OUT_ANNOTATION].as_str() == Some("false") {
        return "skipped";
    }
    let Some(holder) = kinds::pull_secret_holder(key.kind, object) else {
        return "skipped";
    };
    let missing = missing_names(key.kind, holder, managed, providers);
    if missing.is_empty() {
        return "unchanged";
    }
    let record = json!({"metadata": {"annotations": {
        ATTACHED_ANNOTATION: recorded_with(annotations[ATTACHED_ANNOTATION].as_str(), &missing)
    }}});
    let writer = Writer::persist(field_manager);
    let reference = key.kind.reference(&key.name);
    match write_attachment(cluster, key, holder, &missing, record, writer).await {
        Ok(()) => {
            tracing::info!(namespace = %key.namespace, object = %reference, secrets = ?missing, "attached");
            "attached"
        }
        Err(error) => {
            tracing::warn!(namespace = %key.namespace, object = %reference, secrets = ?missing, error = %cluster.describe(&error), "auto-attach failed");
            "error"
        }
    }
}

/// The managed Secrets `holder` needs and lacks: for a ServiceAccount all of them, for a pod
/// template those whose keys the kubelet would use for its images.
fn missing_names(
    kind: Kind,
    holder: &Value,
    managed: &[Arc<Secret>],
    providers: &[Provider],
) -> Vec<String> {
    let candidates: Vec<Candidate> = managed
        .iter()
        .filter_map(|secret| {
            Some(Candidate {
                name: secret.metadata.name.clone()?,
                keys: kubelet::parse_secret(secret).ok()?,
            })
        })
        .collect();
    let wanted: Vec<String> = if kind == Kind::ServiceAccount {
        candidates.iter().map(|c| c.name.clone()).collect()
    } else {
        // Images nothing matches are said by interactive `attach --auto`; a controller
        // would repeat them on every event.
        // Images a node provider serves need no Secret (`--credential-provider-config`).
        auto_names_except(holder, &candidates, |image| {
            providers::covering(providers, image).map(|p| p.name.clone())
        })
        .names
    };
    kinds::added_names(&kinds::pull_secret_names(holder), &wanted)
}

/// The record of what auto-attach added, `recorded` (comma-separated) plus `added`, in order.
fn recorded_with(recorded: Option<&str>, added: &[String]) -> String {
    let mut names: Vec<String> = recorded
        .unwrap_or_default()
        .split(',')
        .filter(|n| !n.is_empty())
        .map(String::from)
        .collect();
    for name in added {
        if !names.contains(name) {
            names.push(name.clone());
        }
    }
    names.join(",")
}

/// Adds `missing` to the object with its record: for a ServiceAccount a guarded
/// read-modify-write then the record, for a pod template one strategic merge patch.
async fn write_attachment(
    cluster: &Cluster,
    key: &WorkloadKey,
    holder: &Value,
    missing: &[String],
    record: Value,
    writer: Writer<'_>,
) -> Result<(), kube::Error> {
    if key.kind == Kind::ServiceAccount {
        // An atomic list: a guarded read-modify-write (docs/semantics.md §6), then the record.
        let added = missing.to_vec();
        update_service_account(
            cluster,
            &key.namespace,
            &key.name,
            move |existing| kinds::with_names(existing, &added),
            writer,
        )
        .await?;
        patch_object(
            cluster,
            &kind_resource(Kind::ServiceAccount, "v1"),
            &key.namespace,
            &key.name,
            &Patch::Merge(&record),
            writer,
        )
        .await
        .map(|_| ())
    } else {
        // One strategic merge patch: the list merges by name, and the record rides along.
        let mut patch = kinds::attach_patch(key.kind, &kinds::pull_secret_names(holder), missing);
        merge(&mut patch, record);
        let resource = fetch::resource(cluster, key.kind).await;
        patch_object(
            cluster,
            &resource,
            &key.namespace,
            &key.name,
            &Patch::Strategic(&patch),
            writer,
        )
        .await
        .map(|_| ())
    }
}

/// Deep-merges `from` into `into` (objects only).
fn merge(into: &mut Value, from: Value) {
    match (into, from) {
        (Value::Object(into), Value::Object(from)) => {
            for (key, value) in from {
                merge(into.entry(key).or_insert(Value::Null), value);
            }
        }
        (into, from) => *into = from,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_record_keeps_what_was_added_before_once_in_order() {
        let added = ["quay".to_string(), "ghcr".to_string()];
        assert_eq!(recorded_with(None, &added), "quay,ghcr");
        assert_eq!(recorded_with(Some(""), &added), "quay,ghcr");
        assert_eq!(recorded_with(Some("old,quay"), &added), "old,quay,ghcr");
    }
}
