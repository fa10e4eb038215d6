//! What one credential should be now (docs/sync.md): found from its definition (or a
//! standalone Secret, or copies the operator adopts by naming their scope), with its logins
//! read again from the sources that record names. `sync` computes it once; the watch loop
//! again on every refresh. Nothing a copy says about itself is ever followed ("Trust").

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ListParams};

use crate::rules::text::first_few;
use crate::cluster::{Cluster, ClusterError};
use crate::credentials::{ExplicitLogin, LocalEnv, ReadOnce};
use crate::notices::Notices;
use crate::reconcile::{self, Desired};
use crate::rules::copies::{self, Disagreement};
use crate::rules::credential::{Credential, Origin, RecordedOrigin, SourceKind};
use crate::rules::kubelet;
use crate::rules::pullsecret::{
    DOCKERCONFIGJSON_TYPE, MANAGED_BY_LABEL, MANAGER, recorded_registries, recorded_scope,
    recorded_sources, recorded_usernames,
};
use crate::rules::registry::Registry;
use crate::rules::scope::{Exclusions, NamespaceScope, RecordedScope, Scope};
use crate::rules::trust::{
    self, DEFINITION_TYPE, DefinitionRef, Owner, SourceNamedBy, Standing, Unmanaged,
};

/// What `sync` was told about the credentials it keeps, beyond their names: where to look
/// and what may change (docs/sync.md). Built by the settings layer.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    /// Scope flags, when given: they replace the recorded scope (never `-n` alone).
    pub(crate) scope: Option<NamespaceScope>,
    /// `-n NS`: where `sync NAME` looks for a Secret made for one namespace.
    pub(crate) look_in: Option<String>,
    /// `--exclude-namespaces`, when given: it replaces the recorded exclusions.
    pub(crate) exclude: Option<Exclusions>,
    /// `--server`: which registries a login given again is for.
    pub(crate) servers: Vec<Registry>,
    pub(crate) docker_config: Option<PathBuf>,
    pub(crate) helper_timeout: Duration,
    /// `--allow-removal`: drop registries whose source no longer holds them.
    pub(crate) allow_removal: bool,
    /// `--allow-identity-change`: write a re-read login of another account.
    pub(crate) allow_identity_change: bool,
    /// Where definitions live: only they are followed (docs/sync.md, "Trust").
    pub(crate) definitions_namespace: String,
}

/// Every Secret named like the credential, by namespace.
pub(crate) type Copies = BTreeMap<String, Secret>;

/// Where a credential's word comes from (docs/sync.md, "Trust").
#[derive(Debug, Clone)]
pub(crate) enum Basis {
    /// Its definition, which only its operators may write.
    Definition(Box<Secret>),
    /// A standalone Secret in this namespace: its own word, for its own namespace only.
    Standalone(String),
    /// No definition yet: the operator named the scope, and the copies of ours in it that
    /// refer to no definition are adopted into a new one.
    Adopted,
}

/// One credential `sync` keeps: what it is based on, and every Secret of its name.
#[derive(Debug, Clone)]
pub(crate) struct Found {
    pub(crate) name: String,
    pub(crate) basis: Basis,
    pub(crate) copies: Copies,
}

impl Found {
    /// How messages name it: a standalone Secret with its namespace, since strangers in other
    /// namespaces may share its name.
    pub(crate) fn subject(&self) -> String {
        match &self.basis {
            Basis::Standalone(namespace) => {
                format!("secret/{} in namespace {namespace}", self.name)
            }
            _ => format!("secret/{}", self.name),
        }
    }
}

/// What `sync` found besides the credentials it keeps: Secrets with our label that no
/// definition claims, which it reports and never follows.
#[derive(Debug, Default)]
pub(crate) struct Unclaimed {
    /// Standalone Secrets, by namespace/name: synced only by name (`sync NAME -n NS`).
    pub(crate) standalone: Vec<(String, String)>,
    /// Look-alikes and copies written before definitions: namespace, name, why.
    pub(crate) unmanaged: Vec<(String, String, Unmanaged)>,
}

/// The credential `sync NAME` keeps (docs/sync.md, "Trust"): its definition if one exists;
/// else, with a scope on the command line, the copies there to adopt; else the standalone
/// Secret of that name in the namespace given with `-n` (or the context's).
pub(crate) async fn find_named(
    cluster: &Cluster,
    options: &Options,
    name: &str,
    notices: &Notices,
) -> anyhow::Result<Found> {
    let definitions_namespace = &options.definitions_namespace;
    let definition = read_definition(cluster, definitions_namespace, name).await?;
    let scope = options.scope.as_ref();
    // `-n NS` names the namespace to look in: a Secret made for NS is the one meant, even
    // when a definition of the same name exists (strangers share names).
    let namespace = match &options.look_in {
        Some(namespace) => namespace.clone(),
        None => cluster.default_namespace.clone(),
    };
    let here = match (&options.look_in, &definition, scope) {
        (Some(_), _, None) | (None, None, None) => {
            reconcile::copies_in(cluster, name, std::slice::from_ref(&namespace)).await?
        }
        _ => Copies::new(),
    };
    if here
        .get(&namespace)
        .is_some_and(|secret| trust::is_standalone(&namespace, secret))
    {
        return Ok(Found {
            name: name.to_string(),
            basis: Basis::Standalone(namespace),
            copies: here,
        });
    }
    if let Some(definition) = definition {
        return Ok(Found {
            name: name.to_string(),
            basis: Basis::Definition(Box::new(definition)),
            copies: copies_readable(cluster, name, scope, notices).await?,
        });
    }
    if scope.is_some() {
        return Ok(Found {
            name: name.to_string(),
            basis: Basis::Adopted,
            copies: copies_readable(cluster, name, scope, notices).await?,
        });
    }
    let copies = here;
    let Some(secret) = copies.get(&namespace) else {
        bail!(
            "{}",
            not_found(cluster, definitions_namespace, name, &namespace).await
        );
    };
    let definitions = BTreeSet::new();
    match trust::standing(secret, definitions_namespace, &definitions) {
        Some(Standing::Standalone) => Ok(Found {
            name: name.to_string(),
            basis: Basis::Standalone(namespace),
            copies,
        }),
        Some(Standing::Unmanaged(Unmanaged::NoSuchDefinition(reference))) => bail!(
            "secret/{name} in namespace {namespace} is a copy of {reference}, which does not exist or which you may not read; its operator syncs it (kubectl regcred sync {name} --definitions-namespace {})",
            reference.namespace
        ),
        Some(Standing::Unmanaged(why)) => bail!(
            "secret/{name} in namespace {namespace} is not synced: {why}. Nothing it records is followed, because anyone who can write a copy could have written it; to adopt it, name the scope it should have, for example: kubectl regcred sync {name} --namespaces {namespace},OTHER"
        ),
        _ => bail!(
            "secret/{name} in namespace {namespace} is not managed by kubectl-regcred (create it with kubectl regcred create {name} -n {namespace})"
        ),
    }
}

/// Every credential defined in the definitions namespace, for `sync` without a NAME; and the
/// Secrets with our label no definition claims, to report (never to follow).
pub(crate) async fn find_defined(
    cluster: &Cluster,
    options: &Options,
    notices: &Notices,
) -> anyhow::Result<(Vec<Found>, Unclaimed)> {
    let definitions_namespace = &options.definitions_namespace;
    let definitions = list_definitions(cluster, definitions_namespace).await?;
    let references: BTreeSet<DefinitionRef> = definitions
        .iter()
        .filter_map(|d| d.metadata.name.as_deref())
        .map(|name| DefinitionRef::new(definitions_namespace, name))
        .collect();
    let mut found = Vec::new();
    for definition in definitions {
        let name = definition.metadata.name.clone().unwrap_or_default();
        let copies = copies_readable(cluster, &name, options.scope.as_ref(), notices).await?;
        found.push(Found {
            name,
            basis: Basis::Definition(Box::new(definition)),
            copies,
        });
    }
    let mut unclaimed = Unclaimed::default();
    match labelled_pull_secrets(cluster).await {
        Ok(secrets) => {
            for secret in secrets {
                let namespace = secret.metadata.namespace.clone().unwrap_or_default();
                let name = secret.metadata.name.clone().unwrap_or_default();
                match trust::standing(&secret, definitions_namespace, &references) {
                    Some(Standing::Standalone) => unclaimed.standalone.push((namespace, name)),
                    Some(Standing::Unmanaged(why)) => {
                        unclaimed.unmanaged.push((namespace, name, why));
                    }
                    _ => {}
                }
            }
        }
        Err(error) => notices.note(format!(
            "could not look for Secrets with our label that no definition claims ({error})"
        )),
    }
    Ok((found, unclaimed))
}

/// The definition `definitions_namespace/name`, if it exists and is one; `None` also when the
/// reader may not read it (a tenant's standalone Secret needs no definition).
async fn read_definition(
    cluster: &Cluster,
    definitions_namespace: &str,
    name: &str,
) -> anyhow::Result<Option<Secret>> {
    let api: Api<Secret> = Api::namespaced(cluster.client.clone(), definitions_namespace);
    match api.get_opt(name).await {
        Ok(Some(secret)) if trust::is_definition(&secret, definitions_namespace) => {
            Ok(Some(secret))
        }
        Ok(Some(_)) => bail!(
            "secret/{name} in namespace {definitions_namespace} is not a kubectl-regcred definition (type {DEFINITION_TYPE} with our label); the definitions namespace is for definitions only"
        ),
        Ok(None) => Ok(None),
        Err(kube::Error::Api(status)) if status.code == 403 => Ok(None),
        Err(error) => bail!(
            "reading the definition {definitions_namespace}/{name}: {}",
            cluster.api_error(&error)
        ),
    }
}

/// Every definition in the definitions namespace.
pub(crate) async fn list_definitions(
    cluster: &Cluster,
    definitions_namespace: &str,
) -> anyhow::Result<Vec<Secret>> {
    let api: Api<Secret> = Api::namespaced(cluster.client.clone(), definitions_namespace);
    let params = ListParams::default()
        .labels(&format!("{MANAGED_BY_LABEL}={MANAGER}"))
        .fields(&format!("type={DEFINITION_TYPE}"));
    let mut definitions = api.list(&params).await.map_err(|e| {
        anyhow::anyhow!(
            "listing the definitions in namespace {definitions_namespace}: {}",
            cluster.api_error(&e)
        )
    })?;
    definitions
        .items
        .sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    Ok(definitions.items)
}

/// Every Secret named `name` in the cluster; for a reader who may not list Secrets in all
/// namespaces (a Role in its own), those in the namespaces it named, or its context's, as
/// kubectl would look there, with a note saying so.
pub(crate) async fn copies_readable(
    cluster: &Cluster,
    name: &str,
    scope: Option<&NamespaceScope>,
    notices: &Notices,
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
    notices.note(format!(
        "may not list Secrets in all namespaces: looking for {name} in {} only",
        namespaces.join(", ")
    ));
    reconcile::copies_in(cluster, name, &namespaces).await
}

/// The pull Secrets with our label, as metadata (their names and annotations, never data).
async fn labelled_pull_secrets(cluster: &Cluster) -> anyhow::Result<Vec<Secret>> {
    let api: Api<Secret> = Api::all(cluster.client.clone());
    // Only our type: other people's Secrets never leave the cluster, not even their names.
    let params = ListParams::default()
        .labels(&format!("{MANAGED_BY_LABEL}={MANAGER}"))
        .fields(&format!("type={DOCKERCONFIGJSON_TYPE}"));
    let list = api.list_metadata(&params).await.map_err(|e| {
        anyhow::anyhow!(
            "listing the Secrets with kubectl-regcred's label: {}",
            cluster.api_error(&e)
        )
    })?;
    Ok(list
        .items
        .into_iter()
        .map(|meta| Secret {
            metadata: meta.metadata,
            type_: Some(DOCKERCONFIGJSON_TYPE.to_string()),
            ..Secret::default()
        })
        .collect())
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
    options: &Options,
    local: LocalAnswers<'_>,
    found: &Found,
    notices: &Notices,
) -> anyhow::Result<Desired> {
    let name = found.name.as_str();
    let definitions_namespace = options.definitions_namespace.as_str();
    let (owner, mut scope, definition_seen) = owner_and_scope(found, options)?;
    if let Some(exclude) = &options.exclude {
        scope.exclude = exclude.clone();
    }
    let recorded = scope.record(&cluster.default_namespace);
    // The definition's logins read as a pull Secret's (its data has the same shape).
    let definition_as_pull = match &found.basis {
        Basis::Definition(definition) => {
            let mut as_pull = (**definition).clone();
            as_pull.type_ = Some(DOCKERCONFIGJSON_TYPE.to_string());
            Some(as_pull)
        }
        _ => None,
    };
    // Whose record is followed: the definition's, or the Secrets the operator's scope names.
    let (holders, named_by, targets): (Vec<(&String, &Secret)>, SourceNamedBy, Vec<String>) = match (
        &found.basis,
        &definition_as_pull,
    ) {
        (Basis::Definition(_), Some(definition)) => (
            vec![(&options.definitions_namespace, definition)],
            SourceNamedBy::Operator,
            Vec::new(),
        ),
        (Basis::Standalone(namespace), _) => (
            found.copies.get_key_value(namespace).into_iter().collect(),
            SourceNamedBy::Record,
            vec![namespace.clone()],
        ),
        (Basis::Adopted, _) | (Basis::Definition(_), None) => {
            let targets: Vec<String> = reconcile::namespaces_in(cluster, &scope)
                .await?
                .into_iter()
                .map(|ns| ns.name)
                .filter(|ns| ns != definitions_namespace)
                .collect();
            let holders: Vec<(&String, &Secret)> = found
                .copies
                .iter()
                .filter(|(ns, secret)| targets.contains(ns) && owner.adopts(secret))
                .collect();
            if holders.is_empty() {
                bail!(
                    "it has no definition in namespace {definitions_namespace}, and no Secret of ours in the scope given to adopt; create it (kubectl regcred create {name} ...)"
                );
            }
            notices.note(format!(
                    "adopting {name}: its definition {definitions_namespace}/{name} records what its Secrets in {} agree on",
                    holders
                        .iter()
                        .map(|(ns, _)| ns.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            (holders, SourceNamedBy::Record, targets)
        }
    };
    let Some(reference) = reference_copy(name, &holders)? else {
        bail!(
            "no copy of it is managed by kubectl-regcred; create it first (kubectl regcred create {name} ...)"
        );
    };
    let sources = Sources {
        named_by,
        targets: &targets,
        keep_explicit: !matches!(found.basis, Basis::Adopted),
    };
    let credentials = read_again(
        cluster, options, local, reference, &holders, sources, notices,
    )
    .await?;
    Ok(Desired {
        name: name.to_string(),
        credentials,
        scope,
        recorded,
        owner,
        definition_seen,
    })
}

/// Whose copies these are, the scope they are kept in (the command line's, else the
/// definition's record; a standalone Secret's own namespace), and the definition as read.
fn owner_and_scope(
    found: &Found,
    options: &Options,
) -> anyhow::Result<(Owner, Scope, Option<Secret>)> {
    let name = found.name.as_str();
    let definitions_namespace = options.definitions_namespace.as_str();
    let given = options.scope.as_ref().map(|namespaces| Scope {
        namespaces: namespaces.clone(),
        exclude: Default::default(),
        skip_system: true,
    });
    Ok(match &found.basis {
        Basis::Definition(definition) => {
            let holder = [(&options.definitions_namespace, &**definition)];
            let scope = match given {
                Some(scope) => scope,
                None => the_recorded_scope(name, &holder)?.scope()?,
            };
            let owner = Owner::defined(definitions_namespace, name, options.scope.is_some());
            (owner, scope, Some((**definition).clone()))
        }
        // A standalone Secret's scope is its own namespace, whatever it records.
        Basis::Standalone(namespace) => (
            Owner::standalone(namespace, name),
            Scope {
                namespaces: NamespaceScope::Named(vec![namespace.clone()]),
                exclude: Default::default(),
                skip_system: true,
            },
            None,
        ),
        Basis::Adopted => (
            Owner::defined(definitions_namespace, name, true),
            given.context("adopting a credential takes a scope on the command line")?,
            None,
        ),
    })
}

/// Who named the source Secrets a record lists, and where their logins go.
#[derive(Clone, Copy)]
struct Sources<'a> {
    named_by: SourceNamedBy,
    targets: &'a [String],
    /// Whether explicit logins may be kept from the holders' data: the definition's or a
    /// standalone Secret's own, never copies being adopted, whose data anyone who may write
    /// one of them chose (docs/sync.md, "Trust").
    keep_explicit: bool,
}

/// Nothing of that name to sync: say so, and name the credentials that exist, as a typo
/// would want.
async fn not_found(
    cluster: &Cluster,
    definitions_namespace: &str,
    name: &str,
    namespace: &str,
) -> String {
    let defined = match list_definitions(cluster, definitions_namespace).await {
        Ok(definitions) => definitions
            .into_iter()
            .filter_map(|d| d.metadata.name)
            .collect::<Vec<_>>(),
        Err(_) => Vec::new(),
    };
    let mut message = format!(
        "no definition {definitions_namespace}/{name} exists, and no Secret named {name:?} in namespace {namespace}"
    );
    // Standalone Secrets elsewhere are found with -n; copies written before definitions (or
    // look-alikes) are said, with how to adopt them.
    let labelled = labelled_pull_secrets(cluster).await.unwrap_or_default();
    let (standalone, elsewhere): (Vec<&Secret>, Vec<&Secret>) = labelled
        .iter()
        .filter(|s| s.metadata.name.as_deref() == Some(name))
        .partition(|s| {
            trust::is_standalone(s.metadata.namespace.as_deref().unwrap_or_default(), s)
        });
    let namespace_of = |s: &&Secret| s.metadata.namespace.clone();
    let standalone: Vec<String> = standalone.iter().filter_map(namespace_of).collect();
    let elsewhere: Vec<String> = elsewhere.iter().filter_map(namespace_of).collect();
    if !standalone.is_empty() {
        message.push_str(&format!(
            "; secret/{name} in namespace {} is made for that namespace only, and its record is \
             whoever wrote it; if you made it: kubectl regcred sync {name} -n {}",
            standalone.join(", "),
            standalone[0]
        ));
    }
    // The namespaces are not offered as a command: anyone who may write Secrets in one of
    // them could have put a Secret there to be adopted into the scope.
    if !elsewhere.is_empty() {
        return format!(
            "{message}. Secrets of that name with kubectl-regcred's label exist in namespaces {}, \
             but no definition claims them (written by an older kubectl-regcred, or by anyone \
             who can write there), so nothing they record is followed. To adopt them as one \
             credential, check each (kubectl regcred show {name} -n NAMESPACE) and name the \
             namespaces it is meant for: kubectl regcred sync {name} --namespaces NS,NS",
            elsewhere.join(", ")
        );
    }
    if !standalone.is_empty() {
        return message;
    }
    if defined.is_empty() {
        message.push_str(&format!(
            "; create it first (kubectl regcred create {name} ...)"
        ));
    } else {
        message.push_str(&format!(
            "; the credentials defined in namespace {definitions_namespace} are: {} (all of them: \
             kubectl get secrets -n {definitions_namespace} --field-selector type={DEFINITION_TYPE})",
            first_few(&defined, 10)
        ));
    }
    message
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
    copies::agreed_record(ours).map_err(|Disagreement { first, other }| {
        anyhow::anyhow!(
            "its copies in namespaces {first} and {other} record different registries, \
             sources or usernames; recreate it (kubectl regcred create {name} ... --force) so that they agree"
        )
    })
}

/// Each registry of the reference copy, read again from the source it records.
async fn read_again(
    cluster: &Cluster,
    options: &Options,
    local_answers: LocalAnswers<'_>,
    reference: &Secret,
    ours: &[(&String, &Secret)],
    source_secrets: Sources<'_>,
    notices: &Notices,
) -> anyhow::Result<Vec<Credential>> {
    let keys = recorded_registries(reference);
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
            Some(RecordedOrigin::Local(SourceKind::Explicit)) => Some(kept_explicit_login(
                options,
                local_answers.explicit,
                source_secrets.keep_explicit.then_some(ours),
                &key,
                &registry,
                notices,
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
                    source_secrets.named_by,
                    source_secrets.targets,
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
        options.docker_config.as_deref(),
        options.helper_timeout,
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
    drop_or_refuse(options, &problems, notices)?;
    refuse_identity_change(options, reference, &slots)?;
    let credentials: Vec<Credential> = slots.into_iter().filter_map(|(_, c)| c).collect();
    if credentials.is_empty() {
        bail!("no registry is left to write");
    }
    for credential in &credentials {
        notices.status(format!(
            "using {} from {}",
            credential.registry, credential.origin
        ));
    }
    Ok(credentials)
}

/// Registries whose source no longer holds them stop the sync, unless `--allow-removal`,
/// which drops each and says so.
fn drop_or_refuse(options: &Options, problems: &[String], notices: &Notices) -> anyhow::Result<()> {
    if problems.is_empty() {
        return Ok(());
    }
    if !options.allow_removal {
        bail!(
            "its credentials cannot all be read again:\n  - {}\n(--allow-removal drops registries whose source no longer holds them)",
            problems.join("\n  - ")
        );
    }
    for problem in problems {
        notices.warning(format!("dropping {problem}"));
    }
    Ok(())
}

/// Re-reading a source is for rotation: the same account with a new password or token. A
/// source that now holds another account's login (someone else's docker config) must not
/// swap whose account the cluster pulls with, unless `--allow-identity-change` (docs/sync.md).
/// Usernames are not secret; the copies record them.
fn refuse_identity_change(
    options: &Options,
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
    if changed.is_empty() || options.allow_identity_change {
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
fn kept_explicit_login(
    options: &Options,
    explicit: Option<&ExplicitLogin>,
    ours: Option<&[(&String, &Secret)]>,
    key: &str,
    registry: &Registry,
    notices: &Notices,
) -> anyhow::Result<Credential> {
    if let Some(login) = explicit
        && (options.servers.is_empty() || options.servers.contains(registry))
    {
        return Ok(Credential {
            registry: registry.clone(),
            username: login.username.clone(),
            password: login.password.clone(),
            email: login.email.clone(),
            origin: Origin::Explicit,
        });
    }
    let Some(ours) = ours else {
        bail!(
            "{registry}: an explicit login is not taken from copies being adopted, since anyone \
             who may write one of them chose its data; give it again with --server {registry} \
             --username USER --password-stdin"
        );
    };
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
    if held.is_empty() {
        bail!("{registry}: no copy holds a login for it");
    }
    // Only a login most copies hold is kept: one copy edited by hand is repaired, never spread.
    let Some(login) = copies::majority(&held, |a, b| {
        a.username == b.username && a.password.expose() == b.password.expose()
    }) else {
        bail!(
            "{registry}: its copies hold different explicit credentials and none is held by most \
             of them; give them again with --server {registry} --username USER --password-stdin"
        );
    };
    let login = login.clone();
    notices.note(format!(
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
