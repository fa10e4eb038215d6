//! Writing one pull Secret into one namespace: create, or update only when the content
//! differs, guarded by `resourceVersion` and retried on conflict, so another writer's change
//! is never silently overwritten.

use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DeleteParams, PostParams, Preconditions};

use super::retry::{Backoff, Conflict, retry_on_conflict};
use crate::rules::pullsecret::{
    is_managed, is_pull_secret_type, is_up_to_date, rancher_project, updated,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    Created,
    Configured,
    Unchanged,
    /// `--force` over a Secret of another type: `type` is immutable, so it was deleted first.
    Recreated,
}

impl Action {
    pub(crate) fn verb(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Configured => "configured",
            Self::Unchanged => "unchanged",
            Self::Recreated => "recreated",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum WriteError {
    #[error(transparent)]
    Api(#[from] kube::Error),
    #[error(
        "secret {name:?} exists and {why}; refusing to overwrite it (names are shared by all \
         Secrets in a namespace: pick another name, or pass --force to take it over)"
    )]
    NotOurs { name: String, why: String },
    #[error("secret {0:?} kept changing while we wrote it; try again")]
    TooManyConflicts(String),
    #[error(
        "secret {name:?} is Rancher's copy of a registry credential of project {project}; \
         Rancher reverts any change to it, so even --force leaves it alone (change it in Rancher, \
         or use another name)"
    )]
    RancherCopy { name: String, project: String },
    /// `--force` over another type deleted the old Secret, and creating ours failed.
    /// `restore` is the error of putting the old one back, if that failed too.
    #[error("secret {name:?}: replacing it failed: {create}")]
    ReplaceFailed {
        name: String,
        create: kube::Error,
        restore: Option<kube::Error>,
    },
}

/// What we already know about the Secret in a namespace before writing.
#[derive(Debug, Clone)]
pub(crate) enum Known {
    Absent,
    Present(Box<Secret>),
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct WriteOptions<'a> {
    pub(crate) server_dry_run: bool,
    pub(crate) force: bool,
    pub(crate) field_manager: &'a str,
}

/// Creates or updates `desired` in its namespace. The first attempt trusts what the caller
/// read (`known`); after a conflict it reads again.
pub(crate) async fn write(
    api: &Api<Secret>,
    desired: &Secret,
    known: Known,
    options: WriteOptions<'_>,
) -> Result<(Action, Secret), WriteError> {
    let name = desired.metadata.name.clone().unwrap_or_default();
    let post = PostParams {
        dry_run: options.server_dry_run,
        field_manager: Some(options.field_manager.to_string()),
    };
    let (name_ref, post_ref, known) = (name.as_str(), &post, &known);
    let result = retry_on_conflict(Backoff::DEFAULT, |attempt| async move {
        let current = match (attempt, known) {
            (0, Known::Absent) => None,
            (0, Known::Present(secret)) => Some((**secret).clone()),
            _ => api.get_opt(name_ref).await?,
        };
        write_once(api, desired, current, options.force, post_ref).await
    })
    .await;
    match result {
        Err(e) if e.is_conflict() => Err(WriteError::TooManyConflicts(name)),
        other => other,
    }
}

/// One attempt: create when absent, else check ownership and replace (guarded by the
/// `resourceVersion` read) only when the content differs.
async fn write_once(
    api: &Api<Secret>,
    desired: &Secret,
    current: Option<Secret>,
    force: bool,
    post: &PostParams,
) -> Result<(Action, Secret), WriteError> {
    let name = desired.metadata.name.clone().unwrap_or_default();
    let Some(existing) = current else {
        let mut fresh = desired.clone();
        fresh.metadata.resource_version = None;
        // A conflict here means someone created it since we looked: the retry compares
        // with theirs.
        return Ok((Action::Created, api.create(post, &fresh).await?));
    };
    if let Some(project) = rancher_project(&existing) {
        return Err(WriteError::RancherCopy {
            name,
            project: project.to_string(),
        });
    }
    if let Some(why) = not_ours(&existing)
        && !force
    {
        return Err(WriteError::NotOurs { name, why });
    }
    if is_up_to_date(&existing, desired) {
        return Ok((Action::Unchanged, existing));
    }
    if existing.type_ != desired.type_ {
        return recreate(api, &existing, desired, post).await;
    }
    let replaced = api
        .replace(&name, post, &updated(&existing, desired))
        .await?;
    Ok((Action::Configured, replaced))
}

impl Conflict for WriteError {
    fn is_conflict(&self) -> bool {
        matches!(self, Self::Api(e) if e.is_conflict())
    }
}

fn not_ours(existing: &Secret) -> Option<String> {
    if !is_pull_secret_type(existing) {
        let kind = existing.type_.as_deref().unwrap_or("Opaque");
        return Some(format!(
            "has type {kind}, not kubernetes.io/dockerconfigjson"
        ));
    }
    if !is_managed(existing) {
        return Some("is not managed by kubectl-regcred".to_string());
    }
    None
}

/// Deletes the Secret that was read, and only that one: the delete is guarded by its uid and
/// resourceVersion, so a Secret replaced or changed since is left alone (a 409 Conflict).
pub(crate) async fn delete_exactly(
    api: &Api<Secret>,
    existing: &Secret,
    dry_run: bool,
) -> Result<(), kube::Error> {
    let name = existing.metadata.name.clone().unwrap_or_default();
    let delete = DeleteParams {
        dry_run,
        preconditions: Some(Preconditions {
            uid: existing.metadata.uid.clone(),
            resource_version: existing.metadata.resource_version.clone(),
        }),
        ..DeleteParams::default()
    };
    api.delete(&name, &delete).await.map(|_| ())
}

/// `type` is immutable, so `--force` over another type deletes (guarded by uid and
/// resourceVersion) and creates anew.
async fn recreate(
    api: &Api<Secret>,
    existing: &Secret,
    desired: &Secret,
    post: &PostParams,
) -> Result<(Action, Secret), WriteError> {
    let name = desired.metadata.name.clone().unwrap_or_default();
    delete_exactly(api, existing, post.dry_run).await?;
    if post.dry_run {
        // The server kept the old object, so a dry-run create would clash with it.
        let mut preview = desired.clone();
        preview.metadata.namespace = existing.metadata.namespace.clone();
        return Ok((Action::Recreated, preview));
    }
    let mut fresh = desired.clone();
    fresh.metadata.resource_version = None;
    match api.create(post, &fresh).await {
        Ok(created) => Ok((Action::Recreated, created)),
        Err(create) => {
            // The old Secret is gone: put back the object we read, as a new object.
            let mut old = existing.clone();
            old.metadata.uid = None;
            old.metadata.resource_version = None;
            old.metadata.managed_fields = None;
            old.metadata.creation_timestamp = None;
            let restore = api.create(post, &old).await.err();
            Err(WriteError::ReplaceFailed {
                name,
                create,
                restore,
            })
        }
    }
}
