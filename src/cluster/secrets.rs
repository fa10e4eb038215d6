//! Writing one pull Secret into one namespace: create, or update only when the content
//! differs, guarded by `resourceVersion` and retried on conflict, so another writer's change
//! is never silently overwritten.

use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;

use super::retry::{Backoff, Conflict, retry_on_conflict};
use super::writes::{WriteMode, Writer};
use crate::rules::pullsecret::{is_managed, is_up_to_date, not_ours, rancher_project, updated};

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
/// Set by a cache on a Secret it kept only in part ([`Known::Partial`]); never sent.
pub(crate) const PARTIAL_MARK: &str = "kubectl-regcred.io/kept-in-part";

/// What is known of the Secret a write replaces: `secret` as held, marked partial or not.
pub(crate) fn known(secret: &Secret) -> Known {
    let partial = secret
        .metadata
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key(PARTIAL_MARK));
    if partial {
        Known::Partial(Box::new(secret.clone()))
    } else {
        Known::Present(Box::new(secret.clone()))
    }
}

#[derive(Debug, Clone)]
pub(crate) enum Known {
    Absent,
    Present(Box<Secret>),
    /// Present, but what was kept of it is not all of it (a cache that bounds what anyone's
    /// Secret may cost): read it whole before writing, so nothing of others' is dropped.
    Partial(Box<Secret>),
}

/// How to write one pull Secret.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SecretWrite<'a> {
    pub(crate) mode: WriteMode,
    pub(crate) force: bool,
    pub(crate) field_manager: &'a str,
}

/// What one attempt must do, decided from what is there; the same decision gives a client
/// dry run its verb, so a preview says what the real run would do.
enum Decision {
    Create,
    Unchanged(Secret),
    /// Same type, other content: replaced, guarded by the `resourceVersion` read.
    Replace(Secret),
    /// `--force` over another type, which is immutable: delete, then create.
    Recreate(Secret),
}

/// Creates or updates the Secret `desired` gives for what is there (`None`: nothing) in its
/// namespace. The first attempt trusts what the caller read (`known`); after a conflict it
/// reads again and asks `desired` again, so a merge with what is there sees the latest. A
/// client dry run sends nothing: it decides from `known` and returns the Secret as it would be.
pub(crate) async fn write(
    api: &Api<Secret>,
    desired: &(dyn Fn(Option<&Secret>) -> Secret + Sync),
    known: Known,
    options: SecretWrite<'_>,
) -> Result<(Action, Secret), WriteError> {
    let Some(writer) = Writer::for_mode(options.mode, options.field_manager) else {
        let current = match known {
            Known::Absent => None,
            Known::Present(secret) | Known::Partial(secret) => Some(*secret),
        };
        let wanted = desired(current.as_ref());
        return Ok(preview(&wanted, decide(&wanted, current, options.force)?));
    };
    let name = desired(None).metadata.name.unwrap_or_default();
    let (known, name_ref) = (&known, name.as_str());
    let result = retry_on_conflict(Backoff::DEFAULT, |attempt| async move {
        let current = match (attempt, known) {
            (0, Known::Absent) => None,
            (0, Known::Present(secret)) => Some((**secret).clone()),
            _ => api.get_opt(name_ref).await?,
        };
        let wanted = desired(current.as_ref());
        let decision = decide(&wanted, current, options.force)?;
        send(api, &wanted, decision, writer).await
    })
    .await;
    match result {
        Err(e) if e.is_conflict() => Err(WriteError::TooManyConflicts(name)),
        other => other,
    }
}

/// Whether to create, leave, replace or recreate, given what is there now; refuses a Secret
/// that is not ours (unless `force`) and Rancher's copies (always).
// Only the small refusals are built here; the large variant comes from `recreate`.
#[allow(clippy::result_large_err)]
fn decide(desired: &Secret, current: Option<Secret>, force: bool) -> Result<Decision, WriteError> {
    let name = desired.metadata.name.clone().unwrap_or_default();
    let Some(existing) = current else {
        return Ok(Decision::Create);
    };
    if let Some(project) = rancher_project(&existing) {
        return Err(WriteError::RancherCopy {
            name,
            project: project.to_string(),
        });
    }
    // A Secret of the type we write with our label is ours in kind (a copy, or a definition
    // in the definitions namespace); which credential it belongs to, the plan decided.
    let same_kind = existing.type_ == desired.type_ && is_managed(&existing);
    if let Some(why) = not_ours(&existing).filter(|_| !same_kind)
        && !force
    {
        return Err(WriteError::NotOurs { name, why });
    }
    Ok(if is_up_to_date(&existing, desired) {
        Decision::Unchanged(existing)
    } else if existing.type_ != desired.type_ {
        Decision::Recreate(existing)
    } else {
        Decision::Replace(existing)
    })
}

/// A client dry run's result: the verb and the object the real run would produce.
fn preview(desired: &Secret, decision: Decision) -> (Action, Secret) {
    match decision {
        Decision::Create => (Action::Created, desired.clone()),
        Decision::Unchanged(existing) => (Action::Unchanged, existing),
        Decision::Replace(existing) => (Action::Configured, updated(&existing, desired)),
        Decision::Recreate(existing) => {
            let mut preview = desired.clone();
            preview.metadata.namespace = existing.metadata.namespace.clone();
            (Action::Recreated, preview)
        }
    }
}

/// One attempt's requests.
async fn send(
    api: &Api<Secret>,
    desired: &Secret,
    decision: Decision,
    writer: Writer<'_>,
) -> Result<(Action, Secret), WriteError> {
    let name = desired.metadata.name.clone().unwrap_or_default();
    match decision {
        Decision::Create => {
            let mut fresh = desired.clone();
            fresh.metadata.resource_version = None;
            // A conflict here means someone created it since we looked: the retry compares
            // with theirs.
            Ok((Action::Created, api.create(&writer.post(), &fresh).await?))
        }
        Decision::Unchanged(existing) => Ok((Action::Unchanged, existing)),
        Decision::Replace(existing) => {
            let replaced = api
                .replace(&name, &writer.post(), &updated(&existing, desired))
                .await?;
            Ok((Action::Configured, replaced))
        }
        Decision::Recreate(existing) => recreate(api, &existing, desired, writer).await,
    }
}

impl Conflict for WriteError {
    fn is_conflict(&self) -> bool {
        matches!(self, Self::Api(e) if e.is_conflict())
    }
}

/// Deletes the Secret that was read, and only that one: the delete is guarded by its uid and
/// resourceVersion, so a Secret replaced or changed since is left alone (a 409 Conflict).
pub(crate) async fn delete_exactly(
    api: &Api<Secret>,
    existing: &Secret,
    writer: Writer<'_>,
) -> Result<(), kube::Error> {
    let name = existing.metadata.name.clone().unwrap_or_default();
    let params = writer.delete_exactly(
        existing.metadata.uid.clone(),
        existing.metadata.resource_version.clone(),
    );
    api.delete(&name, &params).await.map(|_| ())
}

/// `type` is immutable, so `--force` over another type deletes (guarded by uid and
/// resourceVersion) and creates anew.
async fn recreate(
    api: &Api<Secret>,
    existing: &Secret,
    desired: &Secret,
    writer: Writer<'_>,
) -> Result<(Action, Secret), WriteError> {
    let name = desired.metadata.name.clone().unwrap_or_default();
    delete_exactly(api, existing, writer).await?;
    if writer.is_dry_run() {
        // The server kept the old object, so a dry-run create would clash with it.
        return Ok(preview(desired, Decision::Recreate(existing.clone())));
    }
    let post = writer.post();
    let mut fresh = desired.clone();
    fresh.metadata.resource_version = None;
    match api.create(&post, &fresh).await {
        Ok(created) => Ok((Action::Recreated, created)),
        Err(create) => {
            // The old Secret is gone: put back the object we read, as a new object.
            let mut old = existing.clone();
            old.metadata.uid = None;
            old.metadata.resource_version = None;
            old.metadata.managed_fields = None;
            old.metadata.creation_timestamp = None;
            let restore = api.create(&post, &old).await.err();
            Err(WriteError::ReplaceFailed {
                name,
                create,
                restore,
            })
        }
    }
}
