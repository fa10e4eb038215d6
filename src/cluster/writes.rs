//! Changing `imagePullSecrets` on the cluster with the right patch semantics for each kind
//! (docs/semantics.md §6): a strategic merge patch for pod templates, a guarded
//! read-modify-write for ServiceAccounts, and `kubectl rollout restart`'s annotation.

use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use kube::discovery::ApiResource;
use serde_json::{Value, json};

use super::Cluster;
use super::fetch::kind_resource;
use super::retry::{Backoff, retry_on_conflict};
use crate::rules::kinds::{self, Kind};

#[derive(Debug, Clone, Copy)]
pub(crate) struct PatchOptions<'a> {
    pub(crate) server_dry_run: bool,
    pub(crate) field_manager: &'a str,
}

/// Applies a strategic merge patch to a pod-template workload.
pub(crate) async fn patch_template(
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

/// Whether a write changed anything (a ServiceAccount may already hold what we wanted when
/// we read it again), with the object as it now is.
#[derive(Debug)]
pub(crate) enum Write {
    Unchanged(DynamicObject),
    Written(DynamicObject),
}

/// Changes a ServiceAccount's `imagePullSecrets`, an atomic list that any patch would replace
/// whole: read it, compute the new list, and write it back with the `resourceVersion` we read
/// as a precondition. On a conflict, read again and retry, so no entry another writer added
/// in between is lost.
pub(crate) async fn update_service_account(
    cluster: &Cluster,
    namespace: &str,
    name: &str,
    change: impl Fn(&[String]) -> Vec<String>,
    options: PatchOptions<'_>,
) -> Result<Write, kube::Error> {
    let resource = kind_resource(Kind::ServiceAccount, "v1");
    let api: Api<DynamicObject> =
        Api::namespaced_with(cluster.client.clone(), namespace, &resource);
    let params = PostParams {
        dry_run: options.server_dry_run,
        field_manager: Some(options.field_manager.to_string()),
    };
    let (api, params, change) = (&api, &params, &change);
    // Many writers may be changing the same account (attach across a fleet): allow more
    // attempts than client-go's default.
    retry_on_conflict(Backoff::CONTENDED, |_| async move {
        let current = api.get(name).await?;
        let existing = kinds::pull_secret_names(&current.data);
        let wanted = change(&existing);
        if wanted == existing {
            return Ok(Write::Unchanged(current));
        }
        let mut updated = current;
        kinds::set_pull_secret_names(&mut updated.data, &wanted);
        updated.metadata.managed_fields = None;
        api.replace(name, params, &updated)
            .await
            .map(Write::Written)
    })
    .await
}

/// `kubectl rollout restart`: a new `restartedAt` annotation on the pod template.
pub(crate) async fn rollout_restart(
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
