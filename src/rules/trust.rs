//! Whose word counts (docs/sync.md, "Trust"): the source permits; a copy never asks.
//!
//! A credential shared by several namespaces is defined by one Secret in the definitions
//! namespace, which only its operators may write; its copies hold a reference back to it and
//! nothing else that is ever read. A pull Secret made for one namespace is its own definition,
//! for that namespace only. Everything else that carries our label is a look-alike: reported,
//! never read, never written on a definition's behalf.
//!

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::Secret;

use super::pullsecret::{is_managed, is_pull_secret_type, rancher_project, recorded_scope};
use super::scope::{Exclusions, InvalidExclusion};

/// The type of a definition Secret: no kubelet or tool reads it as a pull Secret.
pub const DEFINITION_TYPE: &str = "kubectl-regcred.io/definition";
pub use super::pullsecret::DEFINITION_ANNOTATION;
/// On a source Secret: the namespaces it may be copied into, as names or whole-name regular
/// expressions (`team-a,ci-.*`), as kubernetes-reflector's allowed-namespaces annotation.
pub const COPY_TO_ANNOTATION: &str = "kubectl-regcred/copy-to";
/// Where definitions live unless the operator names another namespace; the controller's
/// manifests install it there too.
pub const DEFAULT_DEFINITIONS_NAMESPACE: &str = "regcred-system";

/// Where a definition lives.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DefinitionRef {
    pub namespace: String,
    pub name: String,
}

impl DefinitionRef {
    /// The definition `namespace/name`.
    pub fn new(namespace: &str, name: &str) -> Self {
        Self {
            namespace: namespace.to_string(),
            name: name.to_string(),
        }
    }

    /// `NAMESPACE/NAME`, as a copy records it; anything else is no reference.
    pub fn parse(text: &str) -> Option<Self> {
        let (namespace, name) = text.split_once('/')?;
        let valid = |part: &str| {
            !part.is_empty()
                && part.len() <= 253
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        };
        (valid(namespace) && valid(name) && !name.contains('/')).then(|| Self::new(namespace, name))
    }

    /// What a copy records: `NAMESPACE/NAME`.
    pub fn annotation(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

impl std::fmt::Display for DefinitionRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// What a Secret that carries our label is, judged only by what the operator controls: where
/// it lives, its type, and whether a definition it names exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    /// A definition: our label, [`DEFINITION_TYPE`], in the definitions namespace.
    Definition,
    /// A copy of a definition that exists.
    Copy(DefinitionRef),
    /// A copy of a definition in another definitions namespace: another operator's, not
    /// this one's to follow, report or judge.
    ForeignCopy(DefinitionRef),
    /// A pull Secret made for its own namespace (`create NAME -n NS`): its own definition.
    Standalone,
    /// Carries our label but no definition claims it. Reported (`list`, `sync --check`, the
    /// controller's log and one gauge), never adopted.
    Unmanaged(Unmanaged),
}

/// Why a Secret with our label is not ours to act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unmanaged {
    /// Not a pull-secret type: we never write one, so it is someone else's.
    NotAPullSecret,
    /// A definition's type outside the definitions namespace.
    DefinitionElsewhere,
    /// Its reference names a definition that does not exist (deleted, or never made).
    NoSuchDefinition(DefinitionRef),
    /// Its reference is not `NAMESPACE/NAME` of a definition with the copy's own name.
    BadReference(String),
    /// It records a scope beyond its own namespace but names no definition: written before
    /// definitions existed, or a look-alike. `sync NAME` with a scope adopts it.
    NoDefinition,
}

impl std::fmt::Display for Unmanaged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotAPullSecret => f.write_str("it is not a pull Secret"),
            Self::DefinitionElsewhere => {
                f.write_str("it is a definition outside the definitions namespace")
            }
            Self::NoSuchDefinition(definition) => {
                write!(f, "its definition {definition} does not exist")
            }
            Self::BadReference(text) => write!(f, "its definition reference {text:?} is invalid"),
            Self::NoDefinition => f.write_str(
                "it records a scope beyond its namespace and refers to no definition (sync NAME with a scope adopts it)",
            ),
        }
    }
}

/// What a Secret with our label is, given the definitions that exist (docs/sync.md, "Trust").
/// Secrets without our label, and Rancher's copies, are not ours at all: `None`.
pub fn standing(
    secret: &Secret,
    definitions_namespace: &str,
    definitions: &BTreeSet<DefinitionRef>,
) -> Option<Standing> {
    if !is_managed(secret) || rancher_project(secret).is_some() {
        return None;
    }
    let namespace = secret.metadata.namespace.as_deref().unwrap_or_default();
    let name = secret.metadata.name.as_deref().unwrap_or_default();
    if secret.type_.as_deref() == Some(DEFINITION_TYPE) {
        return Some(if namespace == definitions_namespace {
            Standing::Definition
        } else {
            Standing::Unmanaged(Unmanaged::DefinitionElsewhere)
        });
    }
    if !is_pull_secret_type(secret) {
        return Some(Standing::Unmanaged(Unmanaged::NotAPullSecret));
    }
    let reference = secret
        .metadata
        .annotations
        .as_ref()
        .and_then(|annotations| annotations.get(DEFINITION_ANNOTATION));
    Some(match reference {
        Some(text) => match DefinitionRef::parse(text) {
            // A copy is named like its definition and never lives beside it.
            Some(reference)
                if reference.name == name
                    && reference.namespace == definitions_namespace
                    && namespace != definitions_namespace =>
            {
                if definitions.contains(&reference) {
                    Standing::Copy(reference)
                } else {
                    Standing::Unmanaged(Unmanaged::NoSuchDefinition(reference))
                }
            }
            Some(reference) if reference.name == name && namespace != reference.namespace => {
                Standing::ForeignCopy(reference)
            }
            _ => Standing::Unmanaged(Unmanaged::BadReference(text.clone())),
        },
        None if records_only_itself(secret, namespace) => Standing::Standalone,
        None => Standing::Unmanaged(Unmanaged::NoDefinition),
    })
}

/// A Secret without a reference is standalone only if its own record, if any, names nothing
/// but its own namespace: then it can steer nothing beyond what its writers already reach.
fn records_only_itself(secret: &Secret, namespace: &str) -> bool {
    match recorded_scope(secret) {
        None => true,
        Some(Ok(scope)) => {
            !scope.all
                && scope.selector.is_none()
                && scope.namespaces.iter().all(|ns| ns == namespace)
        }
        Some(Err(_)) => false,
    }
}

/// Whose Secrets one plan keeps (docs/sync.md, "Trust"): a definition's copies, or a
/// standalone Secret itself. Everything else of the same name is somebody else's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub definition: DefinitionRef,
    /// The definition is the one pull Secret at `definition` (`create NAME -n NS`).
    pub standalone: bool,
    /// The operator named the scope on the command line: our pull Secrets of the name that
    /// refer to no definition are adopted there. Never from a recorded scope.
    pub adopt: bool,
}

impl Owner {
    /// The owner of a Secret made by `create NAME -n NS`: that Secret is its own definition.
    pub fn standalone(namespace: &str, name: &str) -> Self {
        Self {
            definition: DefinitionRef::new(namespace, name),
            standalone: true,
            adopt: false,
        }
    }

    /// The owner of the copies of the definition `name` in `definitions_namespace`.
    pub fn defined(definitions_namespace: &str, name: &str, adopt: bool) -> Self {
        Self {
            definition: DefinitionRef::new(definitions_namespace, name),
            standalone: false,
            adopt,
        }
    }

    /// Whether `secret` is this credential's own: what a plan may update, prune or delete.
    pub fn owns(&self, secret: &Secret) -> bool {
        let namespace = secret.metadata.namespace.as_deref().unwrap_or_default();
        if secret.metadata.name.as_deref() != Some(self.definition.name.as_str())
            || !is_ours_in_kind(secret)
        {
            return false;
        }
        if self.standalone {
            return namespace == self.definition.namespace && is_standalone(namespace, secret);
        }
        namespace != self.definition.namespace
            && reference_of(secret).and_then(|text| DefinitionRef::parse(&text))
                == Some(self.definition.clone())
    }

    /// Whether `secret` is one of our pull Secrets that no definition claims, which the
    /// operator's scope adopts.
    pub fn adopts(&self, secret: &Secret) -> bool {
        self.adopt
            && !self.standalone
            && secret.metadata.name.as_deref() == Some(self.definition.name.as_str())
            && is_ours_in_kind(secret)
            && reference_of(secret).is_none()
    }

    /// Why a same-named Secret that is ours in kind is not this credential's.
    pub fn stranger(&self, secret: &Secret) -> Option<String> {
        if !is_ours_in_kind(secret) || self.owns(secret) || self.adopts(secret) {
            return None;
        }
        Some(match reference_of(secret) {
            Some(text) => format!(
                "it refers to the definition {text:?}, not {}",
                self.definition
            ),
            None if self.standalone => {
                "it records a scope beyond its namespace and no definition".to_string()
            }
            None => format!(
                "it refers to no definition (a scope on the command line adopts it into {})",
                self.definition
            ),
        })
    }

    /// The copy for one namespace: `built` with the reference back to the definition.
    pub fn copy(&self, mut built: Secret) -> Secret {
        if !self.standalone {
            built
                .metadata
                .annotations
                .get_or_insert_with(BTreeMap::new)
                .insert(
                    DEFINITION_ANNOTATION.to_string(),
                    self.definition.annotation(),
                );
        }
        built
    }

    /// The copy of `definition` (as written) for one namespace: its logins and records, the
    /// pull-Secret type, and the reference back.
    pub fn copy_in(&self, definition: &Secret, namespace: &str) -> Secret {
        let mut copy = definition.clone();
        copy.type_ = Some(super::pullsecret::DOCKERCONFIGJSON_TYPE.to_string());
        copy.metadata.namespace = Some(namespace.to_string());
        self.copy(copy)
    }

    /// The definition itself: `built` (logins and records) with the definition's type and
    /// place. No kubelet reads it as a pull Secret.
    pub fn definition_secret(&self, mut built: Secret) -> Secret {
        built.metadata.namespace = Some(self.definition.namespace.clone());
        built.type_ = Some(DEFINITION_TYPE.to_string());
        built
    }
}

/// A pull Secret with our label, not Rancher's.
fn is_ours_in_kind(secret: &Secret) -> bool {
    is_managed(secret) && is_pull_secret_type(secret) && rancher_project(secret).is_none()
}

fn reference_of(secret: &Secret) -> Option<String> {
    secret
        .metadata
        .annotations
        .as_ref()?
        .get(DEFINITION_ANNOTATION)
        .cloned()
}

/// What `sync NAME` needs, after the name, to find the credential `secret` belongs to: `-n NS`
/// for a standalone Secret (sync looks in the context's namespace otherwise), and the
/// definitions namespace for a copy of a definition kept somewhere other than the default.
pub fn sync_flags(secret: &Secret) -> String {
    let namespace = secret.metadata.namespace.as_deref().unwrap_or_default();
    match reference_of(secret).and_then(|text| DefinitionRef::parse(&text)) {
        Some(reference) if reference.namespace == DEFAULT_DEFINITIONS_NAMESPACE => String::new(),
        Some(reference) => format!(
            " --definitions-namespace {}",
            super::text::shell_quote(&reference.namespace)
        ),
        None => format!(" -n {}", super::text::shell_quote(namespace)),
    }
}

/// Whether a definition Secret is one: our label and type, in the definitions namespace.
pub fn is_definition(secret: &Secret, definitions_namespace: &str) -> bool {
    is_managed(secret)
        && secret.type_.as_deref() == Some(DEFINITION_TYPE)
        && secret.metadata.namespace.as_deref() == Some(definitions_namespace)
}

/// A pull Secret of ours that records a scope of its own namespace only, and no definition.
pub fn is_standalone(namespace: &str, secret: &Secret) -> bool {
    is_managed(secret)
        && is_pull_secret_type(secret)
        && rancher_project(secret).is_none()
        && !has_reference(secret)
        && recorded_scope(secret).is_some()
        && records_only_itself(secret, namespace)
}

fn has_reference(secret: &Secret) -> bool {
    secret
        .metadata
        .annotations
        .as_ref()
        .is_some_and(|annotations| annotations.contains_key(DEFINITION_ANNOTATION))
}

/// Who gave the source Secret that a credential copies from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceNamedBy {
    /// The operator: `--from-secret` on the command line, or a definition's record, which
    /// only operators can write.
    Operator,
    /// A standalone Secret's own record, which anyone who can write its namespace can edit.
    Record,
}

/// Why a source Secret may not be read for a copy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceRefusal {
    #[error(
        "the source Secret {secret} does not permit copies into namespace {target} (its {COPY_TO_ANNOTATION} annotation must name it)"
    )]
    NotPermitted { secret: String, target: String },
    #[error("the source Secret {secret} has an invalid {COPY_TO_ANNOTATION} annotation: {reason}")]
    InvalidPermit { secret: String, reason: String },
}

/// Whether the source Secret may be copied into each of `targets`. A source named by the
/// operator may; otherwise one in the target's own namespace may, and one elsewhere only if
/// its [`COPY_TO_ANNOTATION`] admits the target (the source permits; a copy never asks).
pub fn source_permits(
    source: &Secret,
    named_by: SourceNamedBy,
    targets: &[String],
) -> Result<(), SourceRefusal> {
    if named_by == SourceNamedBy::Operator {
        return Ok(());
    }
    let namespace = source.metadata.namespace.as_deref().unwrap_or_default();
    let display = format!(
        "{namespace}/{}",
        source.metadata.name.as_deref().unwrap_or_default()
    );
    let patterns: Vec<String> = source
        .metadata
        .annotations
        .as_ref()
        .and_then(|annotations| annotations.get(COPY_TO_ANNOTATION))
        .map(|list| list.split(',').map(str::to_string).collect())
        .unwrap_or_default();
    let permitted =
        Exclusions::new(&patterns).map_err(|e: InvalidExclusion| SourceRefusal::InvalidPermit {
            secret: display.clone(),
            reason: e.to_string(),
        })?;
    match targets
        .iter()
        .find(|target| *target != namespace && !permitted.excludes(target))
    {
        Some(target) => Err(SourceRefusal::NotPermitted {
            secret: display,
            target: target.clone(),
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::pullsecret::{
        DOCKERCONFIGJSON_TYPE, MANAGED_BY_LABEL, MANAGER, RANCHER_COPY_ANNOTATION,
        RANCHER_COPY_LABEL, SCOPE_ANNOTATION, SOURCES_ANNOTATION,
    };

    const DEFS: &str = DEFAULT_DEFINITIONS_NAMESPACE;

    fn secret(namespace: &str, name: &str, type_: &str, annotations: &[(&str, &str)]) -> Secret {
        let mut secret = Secret::default();
        secret.metadata.namespace = Some(namespace.into());
        secret.metadata.name = Some(name.into());
        secret.type_ = Some(type_.into());
        secret.metadata.labels = Some(BTreeMap::from([(
            MANAGED_BY_LABEL.to_string(),
            MANAGER.to_string(),
        )]));
        secret.metadata.annotations = Some(
            annotations
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        );
        secret
    }

    fn copy(namespace: &str, name: &str, reference: &str) -> Secret {
        secret(
            namespace,
            name,
            DOCKERCONFIGJSON_TYPE,
            &[(DEFINITION_ANNOTATION, reference)],
        )
    }

    fn existing(refs: &[(&str, &str)]) -> BTreeSet<DefinitionRef> {
        refs.iter()
            .map(|(ns, name)| DefinitionRef::new(ns, name))
            .collect()
    }

    #[test]
    fn a_copy_of_an_existing_definition_is_ours_and_nothing_else_is() {
        let definitions = existing(&[(DEFS, "regcred")]);
        let regcred = DefinitionRef::new(DEFS, "regcred");
        let standing_of = |s: &Secret| standing(s, DEFS, &definitions);
        assert_eq!(
            standing_of(&copy("team-a", "regcred", "regcred-system/regcred")),
            Some(Standing::Copy(regcred.clone()))
        );
        assert_eq!(
            standing_of(&secret(DEFS, "regcred", DEFINITION_TYPE, &[])),
            Some(Standing::Definition)
        );
        // A definition written by a tenant in its own namespace defines nothing.
        assert_eq!(
            standing_of(&secret("team-dev", "regcred", DEFINITION_TYPE, &[])),
            Some(Standing::Unmanaged(Unmanaged::DefinitionElsewhere))
        );
        // A copy of a definition that does not exist, or of one with another name.
        assert_eq!(
            standing_of(&copy("team-a", "dev-pull", "regcred-system/dev-pull")),
            Some(Standing::Unmanaged(Unmanaged::NoSuchDefinition(
                DefinitionRef::new(DEFS, "dev-pull")
            )))
        );
        assert_eq!(
            standing_of(&copy("team-a", "regcred", "team-dev/regcred")),
            Some(Standing::ForeignCopy(DefinitionRef::new(
                "team-dev", "regcred"
            )))
        );
        for reference in [
            "regcred-system/other",
            "team-a/regcred",
            "regcred",
            "regcred-system/regcred/x",
            "",
        ] {
            assert!(
                matches!(
                    standing_of(&copy("team-a", "regcred", reference)),
                    Some(Standing::Unmanaged(Unmanaged::BadReference(_)))
                ),
                "{reference:?}"
            );
        }
        // Our label on an Opaque Secret makes it neither ours nor deletable.
        assert_eq!(
            standing_of(&secret(
                "team-a",
                "app-config",
                "Opaque",
                &[(DEFINITION_ANNOTATION, "regcred-system/app-config")]
            )),
            Some(Standing::Unmanaged(Unmanaged::NotAPullSecret))
        );
    }

    #[test]
    fn a_look_alike_recording_a_wide_scope_and_foreign_sources_is_unmanaged() {
        // Reproduction 1 of the trust issue: a tenant's Secret that records other teams'
        // sources and a scope of its own.
        let look_alike = secret(
            "team-dev",
            "dev-pull",
            DOCKERCONFIGJSON_TYPE,
            &[
                (
                    SOURCES_ANNOTATION,
                    r#"{"corp.example":"docker config.json","ghcr.io":"secret team-other/team-robot"}"#,
                ),
                (SCOPE_ANNOTATION, r#"{"namespaces":["team-dev","team-a"]}"#),
            ],
        );
        assert_eq!(
            standing(&look_alike, DEFS, &BTreeSet::new()),
            Some(Standing::Unmanaged(Unmanaged::NoDefinition))
        );
        let all = secret(
            "team-dev",
            "x",
            DOCKERCONFIGJSON_TYPE,
            &[(SCOPE_ANNOTATION, r#"{"all":true}"#)],
        );
        assert_eq!(
            standing(&all, DEFS, &BTreeSet::new()),
            Some(Standing::Unmanaged(Unmanaged::NoDefinition))
        );
        let broken = secret(
            "team-dev",
            "x",
            DOCKERCONFIGJSON_TYPE,
            &[(SCOPE_ANNOTATION, "{")],
        );
        assert_eq!(
            standing(&broken, DEFS, &BTreeSet::new()),
            Some(Standing::Unmanaged(Unmanaged::NoDefinition))
        );
    }

    #[test]
    fn a_secret_made_for_its_own_namespace_is_standalone() {
        let own = secret(
            "team-dev",
            "regcred",
            DOCKERCONFIGJSON_TYPE,
            &[(SCOPE_ANNOTATION, r#"{"namespaces":["team-dev"]}"#)],
        );
        assert_eq!(
            standing(&own, DEFS, &BTreeSet::new()),
            Some(Standing::Standalone)
        );
        // Reproduction 5: two teams' `regcred` are two credentials, each its own.
        let other = secret(
            "team-ops",
            "regcred",
            DOCKERCONFIGJSON_TYPE,
            &[(SCOPE_ANNOTATION, r#"{"namespaces":["team-ops"]}"#)],
        );
        let dev = Owner::standalone("team-dev", "regcred");
        assert!(dev.owns(&own));
        assert!(!dev.owns(&other));
        assert!(Owner::standalone("team-ops", "regcred").owns(&other));
        // Neither belongs to a shared definition of the same name, nor is adopted by it
        // unless the operator names a scope.
        let shared = Owner::defined(DEFS, "regcred", false);
        assert!(!shared.owns(&own) && !shared.adopts(&own));
    }

    #[test]
    fn other_peoples_and_ranchers_secrets_are_not_ours_at_all() {
        let mut foreign = copy("team-a", "regcred", "regcred-system/regcred");
        foreign.metadata.labels = None;
        assert_eq!(
            standing(&foreign, DEFS, &existing(&[(DEFS, "regcred")])),
            None
        );
        let mut rancher = copy("team-a", "regcred", "regcred-system/regcred");
        rancher
            .metadata
            .labels
            .get_or_insert_default()
            .insert(RANCHER_COPY_LABEL.into(), "p-1".into());
        rancher
            .metadata
            .annotations
            .get_or_insert_default()
            .insert(RANCHER_COPY_ANNOTATION.into(), "true".into());
        assert_eq!(
            standing(&rancher, DEFS, &existing(&[(DEFS, "regcred")])),
            None
        );
        let regcred = Owner::defined(DEFS, "regcred", true);
        assert!(!regcred.owns(&rancher) && !regcred.adopts(&rancher));
    }

    #[test]
    fn a_copy_belongs_only_to_the_definition_it_names() {
        let regcred = Owner::defined(DEFS, "regcred", false);
        assert!(regcred.owns(&copy("team-a", "regcred", "regcred-system/regcred")));
        // Under another definitions namespace (a second operator), the same copy is not ours.
        let platform = Owner::defined("platform", "regcred", true);
        let theirs = copy("team-a", "regcred", "regcred-system/regcred");
        assert!(!platform.owns(&theirs) && !platform.adopts(&theirs));
        assert!(platform.stranger(&theirs).is_some());
        // A copy of another name, or placed beside the definitions, is no copy of it.
        assert!(!regcred.owns(&copy("team-a", "other", "regcred-system/regcred")));
        assert!(!regcred.owns(&copy(DEFS, "regcred", "regcred-system/regcred")));
        // A definition's reference is written onto its copies, and only there.
        let built = secret("team-a", "regcred", DOCKERCONFIGJSON_TYPE, &[]);
        assert!(regcred.owns(&regcred.copy(built.clone())));
        let mine = Owner::standalone("team-a", "regcred");
        assert_eq!(mine.copy(built.clone()), built);
        let definition = regcred.definition_secret(built);
        assert_eq!(definition.type_.as_deref(), Some(DEFINITION_TYPE));
        assert!(is_definition(&definition, DEFS) && !regcred.owns(&definition));
    }

    #[test]
    fn a_source_elsewhere_permits_only_the_namespaces_it_names() {
        let source = |copy_to: Option<&str>| {
            let annotations: Vec<(&str, &str)> = copy_to
                .map(|v| vec![(COPY_TO_ANNOTATION, v)])
                .unwrap_or_default();
            secret(
                "team-other",
                "team-robot",
                DOCKERCONFIGJSON_TYPE,
                &annotations,
            )
        };
        let targets = |names: &[&str]| names.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        // Reproduction 1: a tenant's record names another team's robot.
        assert_eq!(
            source_permits(
                &source(None),
                SourceNamedBy::Record,
                &targets(&["team-dev"])
            ),
            Err(SourceRefusal::NotPermitted {
                secret: "team-other/team-robot".into(),
                target: "team-dev".into()
            })
        );
        assert_eq!(
            source_permits(
                &source(Some("team-a,ci-.*")),
                SourceNamedBy::Record,
                &targets(&["team-a", "ci-7", "team-other"])
            ),
            Ok(())
        );
        assert!(
            source_permits(
                &source(Some("team-a,ci-.*")),
                SourceNamedBy::Record,
                &targets(&["team-a", "team-dev"])
            )
            .is_err()
        );
        // A prefix is not a match: patterns match whole names.
        assert!(
            source_permits(
                &source(Some("team")),
                SourceNamedBy::Record,
                &targets(&["team-dev"])
            )
            .is_err()
        );
        assert!(matches!(
            source_permits(&source(Some("(")), SourceNamedBy::Record, &targets(&["x"])),
            Err(SourceRefusal::InvalidPermit { .. })
        ));
        // The operator's own --from-secret, or a definition's record, needs no permit.
        assert_eq!(
            source_permits(
                &source(None),
                SourceNamedBy::Operator,
                &targets(&["team-dev"])
            ),
            Ok(())
        );
    }

    #[test]
    fn standalone_secrets_of_one_name_are_strangers() {
        let standalone = |ns: &str| {
            secret(
                ns,
                "regcred",
                DOCKERCONFIGJSON_TYPE,
                &[(SCOPE_ANNOTATION, &format!(r#"{{"namespaces":["{ns}"]}}"#))],
            )
        };
        let wide = |ns: &str| {
            secret(
                ns,
                "regcred",
                DOCKERCONFIGJSON_TYPE,
                &[(SCOPE_ANNOTATION, r#"{"namespaces":["c","d"]}"#)],
            )
        };
        // Two teams' `create regcred -n`: each owns its own and nobody else's.
        let team_a = Owner::standalone("a", "regcred");
        assert!(team_a.owns(&standalone("a")));
        assert!(!team_a.owns(&standalone("b")));
        // A copy of a wider scope placed in its own namespace is not standalone.
        assert!(!team_a.owns(&wide("a")));
        assert!(team_a.stranger(&wide("a")).is_some());
        // Adopted only by an operator's scope, never by a standalone owner.
        assert!(Owner::defined(DEFS, "regcred", true).adopts(&wide("c")));
        assert!(!Owner::defined(DEFS, "regcred", false).adopts(&wide("c")));
    }

    #[test]
    fn sync_flags_find_the_credential_a_secret_belongs_to() {
        assert_eq!(
            sync_flags(&copy("team-a", "regcred", "regcred-system/regcred")),
            ""
        );
        assert_eq!(
            sync_flags(&copy("team-a", "regcred", "platform/regcred")),
            " --definitions-namespace platform"
        );
        let own = secret("team-a", "regcred", DOCKERCONFIGJSON_TYPE, &[]);
        assert_eq!(sync_flags(&own), " -n team-a");
    }

    #[test]
    fn references_parse_strictly() {
        assert_eq!(
            DefinitionRef::parse("regcred-system/regcred"),
            Some(DefinitionRef::new("regcred-system", "regcred"))
        );
        for bad in ["", "/", "a/", "/b", "A/b", "a/b c", "a b/c"] {
            assert_eq!(DefinitionRef::parse(bad), None, "{bad:?}");
        }
        assert_eq!(DefinitionRef::new("a", "b").annotation(), "a/b".to_string());
    }
}
