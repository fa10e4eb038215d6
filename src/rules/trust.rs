//! Whose word counts (docs/sync.md, "Trust"): the source permits; a copy never asks.
//!
//! A credential shared by several namespaces is defined by one Secret in the definitions
//! namespace, which only its operators may write; its copies hold a reference back to it and
//! nothing else that is ever read. A pull Secret made for one namespace is its own definition,
//! for that namespace only. Everything else that carries our label is a look-alike: reported,
//! never read, never written on a definition's behalf.
//!
//! Built so far: standalone Secrets as credentials of their own. Definitions, copies that
//! refer to them, and source permits are being wired into `sync` and the controller (issue
//! 26); until then their rules are tested here and unused elsewhere.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::Secret;

use super::pullsecret::{is_managed, is_pull_secret_type, rancher_project, recorded_scope};
use super::scope::{Exclusions, InvalidExclusion};

/// The type of a definition Secret: no kubelet or tool reads it as a pull Secret.
pub(crate) const DEFINITION_TYPE: &str = "kubectl-regcred.io/definition";
/// On a copy: `NAMESPACE/NAME` of the definition it is a copy of.
pub(crate) const DEFINITION_ANNOTATION: &str = "kubectl-regcred/definition";
/// On a source Secret: the namespaces it may be copied into, as names or whole-name regular
/// expressions (`team-a,ci-.*`), as kubernetes-reflector's allowed-namespaces annotation.
pub(crate) const COPY_TO_ANNOTATION: &str = "kubectl-regcred/copy-to";
/// Where definitions live unless the operator names another namespace; the controller's
/// manifests install it there too.
pub(crate) const DEFAULT_DEFINITIONS_NAMESPACE: &str = "regcred-system";

/// Where a definition lives.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct DefinitionRef {
    pub(crate) namespace: String,
    pub(crate) name: String,
}

impl DefinitionRef {
    pub(crate) fn new(namespace: &str, name: &str) -> Self {
        Self {
            namespace: namespace.to_string(),
            name: name.to_string(),
        }
    }

    /// `NAMESPACE/NAME`, as a copy records it; anything else is no reference.
    pub(crate) fn parse(text: &str) -> Option<Self> {
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
    pub(crate) fn annotation(&self) -> String {
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
pub(crate) enum Standing {
    /// A definition: our label, [`DEFINITION_TYPE`], in the definitions namespace.
    Definition,
    /// A copy of a definition that exists.
    Copy(DefinitionRef),
    /// A pull Secret made for its own namespace (`create NAME -n NS`): its own definition.
    Standalone,
    /// Carries our label but no definition claims it. Reported (`list`, `sync --check`, the
    /// controller's log and one gauge), never adopted.
    Unmanaged(Unmanaged),
}

/// Why a Secret with our label is not ours to act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Unmanaged {
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
            Self::NotAPullSecret => f.write_str("carries our label but is not a pull Secret"),
            Self::DefinitionElsewhere => {
                f.write_str("a definition outside the definitions namespace")
            }
            Self::NoSuchDefinition(definition) => {
                write!(f, "its definition {definition} does not exist")
            }
            Self::BadReference(text) => write!(f, "its definition reference {text:?} is invalid"),
            Self::NoDefinition => f.write_str(
                "records a scope beyond its namespace but has no definition (adopt it with sync NAME and a scope)",
            ),
        }
    }
}

/// What a Secret with our label is, given the definitions that exist (docs/sync.md, "Trust").
/// Secrets without our label, and Rancher's copies, are not ours at all: `None`.
pub(crate) fn standing(
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

/// Whether `existing`, found where `definition` would write, is a Secret that definition may
/// write over, prune or delete: a pull Secret of ours that belongs to it. For a standalone
/// definition the Secret itself is the one.
pub(crate) fn belongs_to(
    existing: &Secret,
    definition: &DefinitionRef,
    definitions_namespace: &str,
    definitions: &BTreeSet<DefinitionRef>,
) -> bool {
    let namespace = existing.metadata.namespace.as_deref().unwrap_or_default();
    match standing(existing, definitions_namespace, definitions) {
        Some(Standing::Copy(reference)) => &reference == definition,
        Some(Standing::Standalone) => {
            definition.namespace == namespace
                && existing.metadata.name.as_deref() == Some(definition.name.as_str())
        }
        _ => false,
    }
}

/// The credentials that the Secrets of one name, by namespace, make up. Each standalone Secret
/// is a credential of its own, for its own namespace: two teams' `regcred` are strangers that
/// share a name. The rest (copies recording a wider scope, and Secrets that are not ours, which
/// the plan must see as conflicts) are one. A group with nothing of ours is left out, unless
/// nothing else remains (so that `sync` can say what it found).
pub(crate) fn credentials_of_one_name(
    secrets: &BTreeMap<String, Secret>,
) -> Vec<BTreeMap<String, Secret>> {
    let mut shared = BTreeMap::new();
    let mut groups = Vec::new();
    for (namespace, secret) in secrets {
        if is_standalone(namespace, secret) {
            groups.push(BTreeMap::from([(namespace.clone(), secret.clone())]));
        } else {
            shared.insert(namespace.clone(), secret.clone());
        }
    }
    let any_of_ours = shared.values().any(|secret| {
        is_managed(secret) && is_pull_secret_type(secret) && rancher_project(secret).is_none()
    });
    if any_of_ours || groups.is_empty() {
        groups.insert(0, shared);
    }
    groups
}

/// A pull Secret of ours that records a scope of its own namespace only, and no definition.
pub(crate) fn is_standalone(namespace: &str, secret: &Secret) -> bool {
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
pub(crate) enum SourceNamedBy {
    /// The operator: `--from-secret` on the command line, or a definition's record, which
    /// only operators can write.
    Operator,
    /// A standalone Secret's own record, which anyone who can write its namespace can edit.
    Record,
}

/// Why a source Secret may not be read for a copy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum SourceRefusal {
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
pub(crate) fn source_permits(
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
        for reference in [
            "regcred-system/other",
            "team-dev/regcred",
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
        let dev = DefinitionRef::new("team-dev", "regcred");
        let none = BTreeSet::new();
        assert!(belongs_to(&own, &dev, DEFS, &none));
        assert!(!belongs_to(&other, &dev, DEFS, &none));
        assert!(belongs_to(
            &other,
            &DefinitionRef::new("team-ops", "regcred"),
            DEFS,
            &none
        ));
        // Neither belongs to a shared definition of the same name.
        let shared = DefinitionRef::new(DEFS, "regcred");
        assert!(!belongs_to(
            &own,
            &shared,
            DEFS,
            &existing(&[(DEFS, "regcred")])
        ));
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
        assert!(!belongs_to(
            &rancher,
            &DefinitionRef::new(DEFS, "regcred"),
            DEFS,
            &existing(&[(DEFS, "regcred")])
        ));
    }

    #[test]
    fn a_copy_belongs_only_to_the_definition_it_names() {
        let definitions = existing(&[(DEFS, "regcred"), (DEFS, "other")]);
        let regcred = DefinitionRef::new(DEFS, "regcred");
        assert!(belongs_to(
            &copy("team-a", "regcred", "regcred-system/regcred"),
            &regcred,
            DEFS,
            &definitions
        ));
        // Under another definitions namespace (a second operator), the same copy is not ours.
        assert!(!belongs_to(
            &copy("team-a", "regcred", "regcred-system/regcred"),
            &DefinitionRef::new("platform", "regcred"),
            "platform",
            &existing(&[("platform", "regcred")])
        ));
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
    fn standalone_secrets_of_one_name_are_separate_credentials() {
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
        let mut foreign = standalone("e");
        foreign.metadata.labels = None;
        let namespaces = |groups: Vec<BTreeMap<String, Secret>>| {
            groups
                .into_iter()
                .map(|group| group.into_keys().collect::<Vec<_>>().join(","))
                .collect::<Vec<_>>()
        };
        let all = BTreeMap::from([
            ("a".to_string(), standalone("a")),
            ("b".to_string(), standalone("b")),
            ("c".to_string(), wide("c")),
            ("d".to_string(), wide("d")),
            ("e".to_string(), foreign.clone()),
        ]);
        assert_eq!(
            namespaces(credentials_of_one_name(&all)),
            ["c,d,e", "a", "b"]
        );
        // Two teams' `create regcred -n`: two credentials, and nobody else's in either.
        let strangers = BTreeMap::from([
            ("a".to_string(), standalone("a")),
            ("b".to_string(), standalone("b")),
            ("e".to_string(), foreign.clone()),
        ]);
        assert_eq!(namespaces(credentials_of_one_name(&strangers)), ["a", "b"]);
        // Only somebody else's: one group, for the plan's conflicts and `sync`'s message.
        let theirs = BTreeMap::from([("e".to_string(), foreign)]);
        assert_eq!(namespaces(credentials_of_one_name(&theirs)), ["e"]);
        // A copy of a wider scope placed in its own namespace is not standalone.
        let look_alike = BTreeMap::from([("a".to_string(), wide("a"))]);
        assert_eq!(namespaces(credentials_of_one_name(&look_alike)), ["a"]);
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
