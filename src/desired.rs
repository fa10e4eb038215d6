//! What one managed credential should be now: its scope (recorded on its copies, or given
//! again) and its logins, read again from the sources its copies record (docs/sync.md).
//! `sync` computes it once; the watch loop again on every refresh.

use std::collections::BTreeMap;

use anyhow::{Context, bail};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ListParams};

use crate::cluster::{Cluster, ClusterError};
use crate::credentials::{ExplicitLogin, LocalEnv, ReadOnce};
use crate::printer::Printer;
use crate::reconcile::{self, Desired};
use crate::rules::credential::{Credential, Origin, RecordedOrigin, SourceKind};
use crate::rules::kubelet;
use crate::rules::pullsecret::{
    DOCKERCONFIGJSON_TYPE, MANAGED_BY_LABEL, MANAGER, REGISTRIES_ANNOTATION, not_ours,
    rancher_project, recorded_scope, recorded_sources, recorded_usernames,
};
use crate::rules::registry::Registry;
use crate::rules::scope::{NamespaceScope, RecordedScope, Scope};
use crate::rules::trust;
use crate::settings::SyncSettings;

/// Every Secret named like the credential, by namespace.
pub(crate) type Copies = BTreeMap<String, Secret>;

/// Every credential we manage: the names of Secrets with our label, each with all the
/// Secrets of that name (ours or not, for conflicts).
pub(crate) async fn managed_credentials(
    cluster: &Cluster,
) -> anyhow::Result<Vec<(String, Copies)>> {
    let mut credentials = Vec::new();
    for name in managed_names(cluster).await? {
        let copies = reconcile::copies_everywhere(cluster, &name).await?;
        credentials.push((name, copies));
    }
    Ok(credentials)
}

/// The credentials `sync` works on: the Secrets of each name, split into the credentials they
/// make up (docs/sync.md, "Trust"): a standalone Secret is its own. With `-n NS` naming the
/// namespace of a standalone Secret, that one alone; with another scope given, every Secret of
/// the name as one, since that scope is being recorded on all of them.
pub(crate) fn credentials_to_sync(
    scope: Option<&NamespaceScope>,
    named: Vec<(String, Copies)>,
) -> Vec<(String, Copies)> {
    let mut credentials = Vec::new();
    for (name, copies) in named {
        match scope {
            None => credentials.extend(
                trust::credentials_of_one_name(&copies)
                    .into_iter()
                    .map(|group| (name.clone(), group)),
            ),
            Some(NamespaceScope::Named(namespaces)) if namespaces.len() == 1 => {
                let namespace = &namespaces[0];
                match copies.get(namespace) {
                    Some(secret) if trust::is_standalone(namespace, secret) => credentials
                        .push((name, BTreeMap::from([(namespace.clone(), secret.clone())]))),
                    _ => credentials.push((name, copies)),
                }
            }
            Some(_) => credentials.push((name, copies)),
        }
    }
    credentials
}

/// Every Secret named `name` in the cluster; for a reader who may not list Secrets in all
/// namespaces (a Role in its own), those in the namespaces it named, or its context's, as
/// kubectl would look there, with a note saying so.
pub(crate) async fn copies_readable(
    cluster: &Cluster,
    name: &str,
    scope: Option<&NamespaceScope>,
    printer: &Printer,
) -> Result<Copies, ClusterError> {
    let everywhere = reconcile::copies_everywhere(cluster, name).await;
    let forbidden =
        matches!(&everywhere, Err(ClusterError::Api { source, .. }) if source.status == Some(403));
    let namespaces = match scope {
        _ if !forbidden => return everywhere,
        Some(NamespaceScope::Named(namespaces)) => namespaces.clone(),
        Some(NamespaceScope::Context) | None => vec![cluster.default_namespace.clone()],
        Some(_) => return everywhere,
    };
    printer.note(format!(
        "may not list Secrets in all namespaces: looking for {name} in {} only",
        namespaces.join(", ")
    ));
    reconcile::copies_in(cluster, name, &namespaces).await
}

/// The names of the Secrets with our label, sorted, each once.
async fn managed_names(cluster: &Cluster) -> anyhow::Result<Vec<String>> {
    let api: Api<Secret> = Api::all(cluster.client.clone());
    // Only our type: other people's Secrets never leave the cluster, not even their names.
    let params = ListParams::default()
        .labels(&format!("{MANAGED_BY_LABEL}={MANAGER}"))
        .fields(&format!("type={DOCKERCONFIGJSON_TYPE}"));
    let list = api.list_metadata(&params).await.map_err(|e| {
        anyhow::anyhow!(
            "listing the Secrets kubectl-regcred manages: {}",
            cluster.api_error(&e)
        )
    })?;
    let mut names: Vec<String> = list
        .items
        .into_iter()
        .filter_map(|secret| secret.metadata.name)
        .collect();
    names.sort();
    names.dedup();
    Ok(names)
}

/// What `sync` takes from this machine: the login given again (`--username`), and the local
/// sources' answers, read once per run however many clusters ask (docs/contexts.md).
#[derive(Debug, Clone, Copy)]
pub(crate) struct LocalAnswers<'a> {
    pub(crate) explicit: Option<&'a ExplicitLogin>,
    pub(crate) reads: &'a ReadOnce,
}

/// The credential as it should be now: its scope (recorded, or given) and its logins, read
/// again from where they came from.
pub(crate) async fn desired(
    cluster: &Cluster,
    settings: &SyncSettings,
    local: LocalAnswers<'_>,
    name: &str,
    copies: &Copies,
    printer: &Printer,
) -> anyhow::Result<Desired> {
    let ours: Vec<(&String, &Secret)> = copies
        .iter()
        .filter(|(_, secret)| not_ours(secret).is_none() && rancher_project(secret).is_none())
        .collect();
    if copies.is_empty() {
        bail!("{}", not_found(cluster, name).await);
    }
    let mut scope = match &settings.scope {
        Some(namespaces) => Scope {
            namespaces: namespaces.clone(),
            exclude: Default::default(),
            skip_system: true,
        },
        None => the_recorded_scope(name, &ours)?.scope()?,
    };
    if let Some(exclude) = &settings.exclude {
        scope.exclude = exclude.clone();
    }
    let recorded = scope.record(&cluster.default_namespace);
    let Some(reference) = reference_copy(name, &ours)? else {
        bail!(
            "no copy of it is managed by kubectl-regcred; create it first (kubectl regcred create {name} ...)"
        );
    };
    let credentials = read_again(cluster, settings, local, reference, &ours, printer).await?;
    Ok(Desired {
        name: name.to_string(),
        credentials,
        scope,
        recorded,
    })
}

/// No Secret of that name anywhere: say so, and name the credentials that exist, as a typo
/// would want.
async fn not_found(cluster: &Cluster, name: &str) -> String {
    match managed_names(cluster).await {
        Ok(names) if names.is_empty() => format!(
            "no Secret named {name:?} exists in any namespace, and kubectl-regcred manages none; create one first (kubectl regcred create {name} ...)"
        ),
        Ok(names) => format!(
            "no Secret named {name:?} exists in any namespace; the credentials kubectl-regcred manages are: {}",
            names.join(", ")
        ),
        Err(error) => format!("no Secret named {name:?} exists in any namespace ({error})"),
    }
}

/// The one scope the copies record. Copies that disagree are an error: never guess.
fn the_recorded_scope(name: &str, ours: &[(&String, &Secret)]) -> anyhow::Result<RecordedScope> {
    let mut found: Option<(&String, RecordedScope)> = None;
    for (namespace, secret) in ours {
        let recorded = match recorded_scope(secret) {
            None => continue,
            Some(parsed) => parsed.with_context(|| format!("its copy in namespace {namespace}"))?,
        };
        match &found {
            None => found = Some((namespace, recorded)),
            Some((first, scope)) if *scope != recorded => bail!(
                "its copies record different scopes: the copy in namespace {first} records {scope}, \
                 the one in namespace {namespace} records {recorded}. Give the scope that is meant \
                 once, and sync records it on every copy: for exactly the namespaces that hold a \
                 copy now, kubectl regcred sync {name} --namespaces {}",
                ours.iter()
                    .map(|(ns, _)| ns.as_str())
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            Some(_) => {}
        }
    }
    match found {
        Some((_, scope)) => Ok(scope),
        None => bail!(
            "no copy of it records its scope (made by hand or by an older kubectl-regcred); give \
             the scope once, for example `kubectl regcred sync {name} -A`, and sync records it"
        ),
    }
}

/// The copy whose record of registries and sources `sync` follows. Every copy must record
/// the same: the record decides which sources are read (an in-cluster Secret, perhaps), so a
/// copy edited in one namespace must never steer what all the others get.
fn reference_copy<'a>(
    name: &str,
    ours: &[(&String, &'a Secret)],
) -> anyhow::Result<Option<&'a Secret>> {
    let record = |secret: &Secret| {
        let annotations = secret.metadata.annotations.clone().unwrap_or_default();
        (
            annotations.get(REGISTRIES_ANNOTATION).cloned(),
            recorded_sources(secret),
            recorded_usernames(secret),
        )
    };
    let Some((first_namespace, first)) = ours.first() else {
        return Ok(None);
    };
    if let Some((namespace, _)) = ours
        .iter()
        .find(|(_, other)| record(other) != record(first))
    {
        bail!(
            "its copies in namespaces {first_namespace} and {namespace} record different registries, \
             sources or usernames; recreate it (kubectl regcred create {name} ... --force) so that they agree"
        );
    }
    Ok(Some(first))
}

/// Each registry of the reference copy, read again from the source it records.
async fn read_again(
    cluster: &Cluster,
    settings: &SyncSettings,
    local_answers: LocalAnswers<'_>,
    reference: &Secret,
    ours: &[(&String, &Secret)],
    printer: &Printer,
) -> anyhow::Result<Vec<Credential>> {
    let keys: Vec<String> = reference
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(REGISTRIES_ANNOTATION))
        .map(|list| {
            list.split(',')
                .filter(|k| !k.is_empty())
                .map(String::from)
                .collect()
        })
        .unwrap_or_default();
    let sources = recorded_sources(reference);
    let mut slots: Vec<(Registry, Option<Credential>)> = Vec::new();
    let mut local: Vec<(Registry, SourceKind)> = Vec::new();
    let mut problems: Vec<String> = Vec::new();
    for key in keys {
        let registry = Registry::parse(&key)?;
        let origin = sources
            .get(&key)
            .and_then(|summary| Origin::reread_from(summary));
        let credential = match origin {
            None => {
                problems.push(format!(
                    "{registry}: the copy does not record where it came from"
                ));
                None
            }
            Some(RecordedOrigin::Local(SourceKind::Explicit)) => Some(explicit_again(
                settings,
                local_answers.explicit,
                ours,
                &key,
                &registry,
                printer,
            )?),
            Some(RecordedOrigin::Local(kind)) => {
                local.push((registry.clone(), kind));
                None
            }
            Some(RecordedOrigin::SourceSecret { namespace, name }) => {
                match reconcile::source_secret_credentials(
                    cluster,
                    &namespace,
                    &name,
                    std::slice::from_ref(&registry),
                )
                .await
                {
                    Ok(mut found) => found.pop(),
                    Err(error) => {
                        problems.push(error.to_string());
                        None
                    }
                }
            }
        };
        slots.push((registry, credential));
    }
    let reread = local_answers.reads.reread(
        &local,
        settings.docker_config.as_deref(),
        settings.helper_timeout,
        &LocalEnv::from_process(),
    );
    for (registry, found) in reread {
        match found {
            Ok(credential) => {
                if let Some(slot) = slots.iter_mut().find(|(r, _)| *r == registry) {
                    slot.1 = Some(credential);
                }
            }
            Err(error) => problems.push(format!("{registry}: {error}")),
        }
    }
    if !problems.is_empty() {
        if !settings.allow_removal {
            bail!(
                "its credentials cannot all be read again:\n  - {}\n(--allow-removal drops registries whose source no longer holds them)",
                problems.join("\n  - ")
            );
        }
        for problem in &problems {
            printer.warning(format!("dropping {problem}"));
        }
    }
    refuse_identity_change(settings, reference, &slots)?;
    let credentials: Vec<Credential> = slots.into_iter().filter_map(|(_, c)| c).collect();
    if credentials.is_empty() {
        bail!("no registry is left to write");
    }
    for credential in &credentials {
        printer.status(format!(
            "using {} from {}",
            credential.registry, credential.origin
        ));
    }
    Ok(credentials)
}

/// Re-reading a source is for rotation: the same account with a new password or token. A
/// source that now holds another account's login (someone else's docker config) must not
/// swap whose account the cluster pulls with, unless `--allow-identity-change` (docs/sync.md).
/// Usernames are not secret; the copies record them.
fn refuse_identity_change(
    settings: &SyncSettings,
    reference: &Secret,
    slots: &[(Registry, Option<Credential>)],
) -> anyhow::Result<()> {
    // The record, which every copy agrees on (reference_copy), not one copy's data, which
    // anyone who can write its namespace can edit. Copies older than the record: no guard.
    let held = recorded_usernames(reference).unwrap_or_default();
    let changed: Vec<String> = slots
        .iter()
        .filter_map(|(registry, credential)| {
            let credential = credential.as_ref()?;
            // Given again on the command line: the change is the user's own.
            if credential.origin == Origin::Explicit {
                return None;
            }
            let before = held.get(&registry.secret_key())?;
            (before != &credential.username).then(|| {
                format!(
                    "{registry}: the copies hold the login of {before:?}; {} now holds {:?}'s",
                    credential.origin.summary(),
                    credential.username
                )
            })
        })
        .collect();
    if changed.is_empty() || settings.allow_identity_change {
        return Ok(());
    }
    bail!(
        "a source now holds another account's login, and sync rotates passwords, it does not \
         change whose account the cluster pulls with:\n  - {}\n(--allow-identity-change writes \
         the new account's login; or create a credential of its own for it)",
        changed.join("\n  - ")
    )
}

/// Explicit credentials cannot be read again: the new ones if given, else the login every
/// copy holds. Copies that disagree are an error: one edited copy must not spread.
fn explicit_again(
    settings: &SyncSettings,
    explicit: Option<&ExplicitLogin>,
    ours: &[(&String, &Secret)],
    key: &str,
    registry: &Registry,
    printer: &Printer,
) -> anyhow::Result<Credential> {
    if let Some(login) = explicit
        && (settings.servers.is_empty() || settings.servers.contains(registry))
    {
        return Ok(Credential {
            registry: registry.clone(),
            username: login.username.clone(),
            password: login.password.clone(),
            email: login.email.clone(),
            origin: Origin::Explicit,
        });
    }
    // A copy that cannot be parsed or lacks the login is drift: sync rewrites it.
    let held: Vec<kubelet::SecretLogin> = ours
        .iter()
        .filter_map(|(_, secret)| {
            kubelet::secret_logins(secret)
                .ok()?
                .into_iter()
                .find(|login| login.raw == key)
        })
        .collect();
    let same = |a: &kubelet::SecretLogin, b: &kubelet::SecretLogin| {
        a.username == b.username && a.password.expose() == b.password.expose()
    };
    let (login, votes) = held
        .iter()
        .map(|login| {
            (
                login,
                held.iter().filter(|other| same(login, other)).count(),
            )
        })
        .max_by_key(|(_, votes)| *votes)
        .with_context(|| format!("{registry}: no copy holds a login for it"))?;
    // Only a login most copies hold is kept: one copy edited by hand is repaired, never spread.
    if votes * 2 <= held.len() {
        bail!(
            "{registry}: its copies hold different explicit credentials and none is held by most \
             of them; give them again with --server {registry} --username USER --password-stdin"
        );
    }
    let login = login.clone();
    printer.note(format!(
        "{registry}: explicit credentials cannot be read again; kept as they are (give --username and --password-stdin to change them)"
    ));
    Ok(Credential {
        registry: registry.clone(),
        username: login.username,
        password: login.password,
        email: None,
        origin: Origin::Explicit,
    })
}
