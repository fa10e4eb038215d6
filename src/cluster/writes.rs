//! The one place that sends writes to the API (docs/dry-run.md): [`Writer`] is the only
//! maker of kube's write parameters, and a client dry run never gets one. Here too:
//! changing `imagePullSecrets` with the right patch semantics for each kind
//! (docs/semantics.md §6): a strategic merge patch for pod templates, a guarded
//! read-modify-write for ServiceAccounts, and `kubectl rollout restart`'s annotation.

use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, PostParams, Preconditions};
use kube::discovery::ApiResource;
use serde_json::{Value, json};

use super::Cluster;
use super::fetch::kind_resource;
use super::retry::{Backoff, retry_on_conflict};
use crate::rules::kinds::{self, Kind};

/// How a command's writes reach the API server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WriteMode {
    /// Send them, and the server stores them.
    Persist,
    /// Send them with `dryRun=All`: the server validates and admits them, and stores nothing.
    ServerDryRun,
    /// Send nothing. Reads are allowed, so a preview can say what would change.
    ClientDryRun,
}

/// Leave to send a write. Only [`Writer::for_mode`] makes one, and not for a client dry run,
/// so code holding a client dry run cannot reach a POST, PUT, PATCH or DELETE: every write
/// function takes a `Writer`, and only this type builds the parameters kube's write verbs need
/// (tests/architecture.rs keeps them here).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Writer<'a> {
    server_dry_run: bool,
    field_manager: &'a str,
}

/// How a pipeline writes: in which mode, how many objects at once, as which field manager.
#[derive(Debug, Clone)]
pub(crate) struct WriteOptions {
    pub(crate) mode: WriteMode,
    pub(crate) concurrency: usize,
    pub(crate) field_manager: String,
}

impl<'a> Writer<'a> {
    /// Leave to send a pipeline's writes: `None` in a client dry run, which previews instead.
    pub(crate) fn for_options(write: &'a WriteOptions) -> Option<Self> {
        Self::for_mode(write.mode, &write.field_manager)
    }

    /// `None` for a client dry run: the caller previews instead.
    pub(crate) fn for_mode(mode: WriteMode, field_manager: &'a str) -> Option<Self> {
        let server_dry_run = match mode {
            WriteMode::Persist => false,
            WriteMode::ServerDryRun => true,
            WriteMode::ClientDryRun => return None,
        };
        Some(Self {
            server_dry_run,
            field_manager,
        })
    }

    /// For what always writes (the controller, which has no dry run).
    pub(crate) fn persist(field_manager: &'a str) -> Self {
        Self {
            server_dry_run: false,
            field_manager,
        }
    }

    /// Whether the server stores nothing (`dryRun=All`).
    pub(crate) fn is_dry_run(self) -> bool {
        self.server_dry_run
    }

    pub(super) fn post(self) -> PostParams {
        PostParams {
            dry_run: self.server_dry_run,
            field_manager: Some(self.field_manager.to_string()),
        }
    }

    fn patch(self) -> PatchParams {
        PatchParams {
            dry_run: self.server_dry_run,
            field_manager: Some(self.field_manager.to_string()),
            ..PatchParams::default()
        }
    }

    /// A delete of exactly the object read: guarded by its uid and resourceVersion.
    pub(super) fn delete_exactly(
        self,
        uid: Option<String>,
        resource_version: Option<String>,
    ) -> DeleteParams {
        DeleteParams {
            dry_run: self.server_dry_run,
            preconditions: Some(Preconditions {
                uid,
                resource_version,
            }),
            ..DeleteParams::default()
        }
    }
}

/// Deletes the Pod `namespace/name` whose uid is `uid`, and no other (`--heal`: its owner
/// makes it again). A Pod already gone, or replaced under the same name, is `Ok(false)`.
pub(crate) async fn delete_pod(
    cluster: &Cluster,
    namespace: &str,
    name: &str,
    uid: &str,
    writer: Writer<'_>,
) -> Result<bool, kube::Error> {
    let api: Api<k8s_openapi::api::core::v1::Pod> =
        Api::namespaced(cluster.client.clone(), namespace);
    match api
        .delete(name, &writer.delete_exactly(Some(uid.to_string()), None))
        .await
    {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(status)) if status.code == 404 || status.code == 409 => Ok(false),
        Err(error) => Err(error),
    }
}

/// Patches one object: a strategic merge patch for a pod template (docs/semantics.md §6), a
/// JSON merge patch for metadata (the controller's record of what it attached).
pub(crate) async fn patch_object(
    cluster: &Cluster,
    resource: &ApiResource,
    namespace: &str,
    name: &str,
    patch: &Patch<&Value>,
    writer: Writer<'_>,
) -> Result<DynamicObject, kube::Error> {
    let api: Api<DynamicObject> = Api::namespaced_with(cluster.client.clone(), namespace, resource);
    api.patch(name, &writer.patch(), patch).await
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
    writer: Writer<'_>,
) -> Result<Write, kube::Error> {
    let resource = kind_resource(Kind::ServiceAccount, "v1");
    let api: Api<DynamicObject> =
        Api::namespaced_with(cluster.client.clone(), namespace, &resource);
    let params = writer.post();
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
    writer: Writer<'_>,
) -> Result<DynamicObject, kube::Error> {
    let now = k8s_openapi::jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let patch = json!({"spec": {"template": {"metadata": {"annotations": {
        "kubectl.kubernetes.io/restartedAt": now
    }}}}});
    patch_object(
        cluster,
        resource,
        namespace,
        name,
        &Patch::Strategic(&patch),
        writer,
    )
    .await
}

/// Creates a Namespace (the definitions namespace, docs/sync.md "Trust"). One that exists by
/// now is not an error.
pub(crate) async fn create_namespace(
    cluster: &Cluster,
    name: &str,
    writer: Writer<'_>,
) -> Result<(), kube::Error> {
    use k8s_openapi::api::core::v1::Namespace;
    let api: Api<Namespace> = Api::all(cluster.client.clone());
    let fresh = Namespace {
        metadata: kube::api::ObjectMeta {
            name: Some(name.to_string()),
            ..Default::default()
        },
        ..Namespace::default()
    };
    match api.create(&writer.post(), &fresh).await {
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(()),
        other => other.map(|_| ()),
    }
}
