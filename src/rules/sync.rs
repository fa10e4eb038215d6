//! The plan that keeps one credential true across its scope (docs/sync.md): for every
//! namespace in scope, create, update or leave the copy; for copies outside it, prune or
//! report; and never touch what is not provably ours.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret;
use serde::Serialize;

use super::pullsecret::{is_up_to_date, not_ours, rancher_project};
use super::trust::Owner;

/// A namespace the scope names, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InScope {
    pub name: String,
    pub terminating: bool,
}

/// What to do in one namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "camelCase")]
pub enum Step {
    Create,
    Update,
    Unchanged,
    /// Delete our copy: the namespace left the scope (`--prune`).
    Prune,
    /// Our copy in a namespace that left the scope; without `--prune` it stays.
    LeftScope,
    /// A copy `--prune` would delete, but workloads or ServiceAccounts still use it.
    PruneBlocked {
        users: Vec<String>,
    },
    /// Nothing can be written here (a namespace being deleted).
    Skip {
        reason: String,
    },
    /// A same-named Secret that is not ours: never touched without `--force`.
    Conflict {
        reason: String,
    },
}

impl Step {
    /// Whether this step means the cluster differs from the credential (`sync --check`).
    pub fn is_drift(&self) -> bool {
        matches!(
            self,
            Self::Create
                | Self::Update
                | Self::Prune
                | Self::PruneBlocked { .. }
                | Self::Conflict { .. }
        )
    }

    /// The word for the plan: `create`, `prune`, ...
    pub fn word(&self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Update => "update",
            Self::Unchanged => "unchanged",
            Self::Prune => "prune",
            Self::LeftScope => "left-scope",
            Self::PruneBlocked { .. } => "prune-blocked",
            Self::Skip { .. } => "skip",
            Self::Conflict { .. } => "conflict",
        }
    }
}

/// What the planner needs to know about the cluster.
pub struct Observed<'a> {
    pub in_scope: &'a [InScope],
    /// Every Secret with the credential's name, by namespace, in scope or not.
    pub copies: &'a BTreeMap<String, Secret>,
    /// Namespace → the workloads and ServiceAccounts that reference the name there; only
    /// needed for copies that may be pruned.
    pub users: &'a BTreeMap<String, Vec<String>>,
    /// Whose copies these are: only they are updated or pruned (docs/sync.md, "Trust").
    pub owner: &'a Owner,
}

/// What a sync plan may do besides create and update.
#[derive(Debug, Clone, Copy, Default)]
pub struct PlanOptions {
    pub prune: bool,
    /// `--detach`: prune copies even when referenced (the references are removed first).
    pub detach: bool,
    /// `--force`: take over same-named Secrets that are not ours (never Rancher's).
    pub force: bool,
}

/// The plan, namespace by namespace (in scope first, in order, then the others by name).
pub fn plan(
    observed: &Observed<'_>,
    desired: impl Fn(&str) -> Secret,
    options: PlanOptions,
) -> Vec<(String, Step)> {
    let mut steps = Vec::new();
    for namespace in observed.in_scope {
        let step = match observed.copies.get(&namespace.name) {
            _ if namespace.terminating => Step::Skip {
                reason: "the namespace is being deleted".into(),
            },
            None => Step::Create,
            Some(existing) => match conflict(existing, observed.owner, options.force) {
                Some(reason) => Step::Conflict { reason },
                None if is_up_to_date(existing, &desired(&namespace.name)) => Step::Unchanged,
                None => Step::Update,
            },
        };
        steps.push((namespace.name.clone(), step));
    }
    for (namespace, existing) in observed.copies {
        if observed.in_scope.iter().any(|ns| &ns.name == namespace)
            || !observed.owner.owns(existing)
        {
            continue;
        }
        let users = observed.users.get(namespace).cloned().unwrap_or_default();
        let step = match (options.prune, users.is_empty() || options.detach) {
            (false, _) => Step::LeftScope,
            (true, true) => Step::Prune,
            (true, false) => Step::PruneBlocked { users },
        };
        steps.push((namespace.clone(), step));
    }
    steps
}

/// Why a same-named Secret must not be written, if it must not: it is Rancher's, somebody
/// else's, or ours in kind but another credential's (a look-alike, a stranger of the same
/// name, a copy of another definition).
fn conflict(existing: &Secret, owner: &Owner, force: bool) -> Option<String> {
    if let Some(project) = rancher_project(existing) {
        return Some(format!(
            "Rancher manages this Secret (a copy of project {project}'s credential) and reverts any change"
        ));
    }
    let why = not_ours(existing).or_else(|| owner.stranger(existing))?;
    (!force).then(|| {
        format!("a Secret of that name exists and {why} (--force with a scope on the command line takes it over)")
    })
}

/// The namespaces whose copies a prune would consider: the owner's, outside the scope.
pub fn prune_candidates(
    in_scope: &[InScope],
    copies: &BTreeMap<String, Secret>,
    owner: &Owner,
) -> Vec<String> {
    copies
        .iter()
        .filter(|(namespace, secret)| {
            !in_scope.iter().any(|ns| &ns.name == *namespace) && owner.owns(secret)
        })
        .map(|(namespace, _)| namespace.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::credential::{Credential, Origin, Password};
    use crate::rules::pullsecret::{RANCHER_COPY_ANNOTATION, RANCHER_COPY_LABEL, build_secret};
    use crate::rules::registry::Registry;
    use crate::rules::scope::{NamespaceScope, Scope};

    fn desired(password: &str) -> impl Fn(&str) -> Secret {
        let password = password.to_string();
        move |ns: &str| {
            let credential = Credential {
                registry: Registry::parse("quay.io").unwrap(),
                username: "robot".into(),
                password: Password::new(password.clone()),
                email: None,
                origin: Origin::Keychain,
            };
            let scope = Scope {
                namespaces: NamespaceScope::All,
                exclude: Default::default(),
                skip_system: true,
            };
            let recorded = scope.record("default");
            owner(false).copy(build_secret(
                "regcred",
                Some(ns),
                &[credential],
                Some(&recorded),
            ))
        }
    }

    fn owner(adopt: bool) -> Owner {
        Owner::defined("regcred-system", "regcred", adopt)
    }

    fn in_scope(names: &[&str]) -> Vec<InScope> {
        names
            .iter()
            .map(|name| InScope {
                name: name.to_string(),
                terminating: *name == "dying",
            })
            .collect()
    }

    fn plan_of(
        scope: &[&str],
        copies: &BTreeMap<String, Secret>,
        users: &BTreeMap<String, Vec<String>>,
        options: PlanOptions,
    ) -> Vec<(String, &'static str)> {
        plan_as(&owner(false), scope, copies, users, options)
    }

    fn plan_as(
        owner: &Owner,
        scope: &[&str],
        copies: &BTreeMap<String, Secret>,
        users: &BTreeMap<String, Vec<String>>,
        options: PlanOptions,
    ) -> Vec<(String, &'static str)> {
        let scope = in_scope(scope);
        let observed = Observed {
            in_scope: &scope,
            copies,
            users,
            owner,
        };
        plan(&observed, desired("new"), options)
            .into_iter()
            .map(|(ns, step)| (ns, step.word()))
            .collect()
    }

    #[test]
    fn creates_updates_and_leaves_alone() {
        let old = desired("old");
        let new = desired("new");
        let copies = BTreeMap::from([
            ("stale".to_string(), old("stale")),
            ("fresh".to_string(), new("fresh")),
        ]);
        let steps = plan_of(
            &["fresh", "missing", "stale", "dying"],
            &copies,
            &BTreeMap::new(),
            PlanOptions::default(),
        );
        assert_eq!(
            steps,
            [
                ("fresh".to_string(), "unchanged"),
                ("missing".to_string(), "create"),
                ("stale".to_string(), "update"),
                ("dying".to_string(), "skip"),
            ]
        );
    }

    #[test]
    fn prunes_only_provable_copies_and_only_when_asked() {
        let new = desired("new");
        let mut foreign = new("gone-foreign");
        foreign.metadata.labels = None;
        let copies = BTreeMap::from([
            ("gone".to_string(), new("gone")),
            ("gone-used".to_string(), new("gone-used")),
            ("gone-foreign".to_string(), foreign),
        ]);
        let users = BTreeMap::from([("gone-used".to_string(), vec!["deployment/web".to_string()])]);
        let kept = plan_of(&[], &copies, &users, PlanOptions::default());
        assert_eq!(
            kept,
            [
                ("gone".to_string(), "left-scope"),
                ("gone-used".to_string(), "left-scope")
            ]
        );
        let prune = PlanOptions {
            prune: true,
            ..PlanOptions::default()
        };
        assert_eq!(
            plan_of(&[], &copies, &users, prune),
            [
                ("gone".to_string(), "prune"),
                ("gone-used".to_string(), "prune-blocked")
            ]
        );
        let detach = PlanOptions {
            detach: true,
            ..prune
        };
        assert_eq!(plan_of(&[], &copies, &users, detach)[1].1, "prune");
        assert_eq!(
            prune_candidates(&[], &copies, &owner(false)),
            ["gone", "gone-used"]
        );
    }

    #[test]
    fn foreign_and_rancher_secrets_are_conflicts() {
        let new = desired("new");
        let mut foreign = new("a");
        foreign.metadata.labels = None;
        let mut rancher = new("b");
        rancher.metadata.labels = Some(BTreeMap::from([(
            RANCHER_COPY_LABEL.to_string(),
            "p-7x2kq".to_string(),
        )]));
        rancher.metadata.annotations = Some(BTreeMap::from([(
            RANCHER_COPY_ANNOTATION.to_string(),
            "true".to_string(),
        )]));
        let copies = BTreeMap::from([("a".to_string(), foreign), ("b".to_string(), rancher)]);
        let steps = plan_of(
            &["a", "b"],
            &copies,
            &BTreeMap::new(),
            PlanOptions::default(),
        );
        assert_eq!(steps[0].1, "conflict");
        assert_eq!(steps[1].1, "conflict");
        let force = PlanOptions {
            force: true,
            ..PlanOptions::default()
        };
        let steps = plan_of(&["a", "b"], &copies, &BTreeMap::new(), force);
        assert_eq!(steps[0].1, "update");
        assert_eq!(
            steps[1].1, "conflict",
            "not even --force touches Rancher's copies"
        );
    }

    /// A tenant's Secret that looks like ours: our label and type, any records it likes.
    fn look_alike(ns: &str, reference: Option<&str>) -> Secret {
        let mut secret = desired("tenant")(ns);
        let annotations = secret.metadata.annotations.as_mut().unwrap();
        annotations.remove(crate::rules::pullsecret::DEFINITION_ANNOTATION);
        if let Some(reference) = reference {
            annotations.insert(
                crate::rules::pullsecret::DEFINITION_ANNOTATION.to_string(),
                reference.to_string(),
            );
        }
        secret
    }

    #[test]
    fn look_alikes_are_never_updated_pruned_or_adopted_from_a_record() {
        let copies = BTreeMap::from([
            ("team-a".to_string(), look_alike("team-a", None)),
            (
                "team-b".to_string(),
                look_alike("team-b", Some("regcred-system/other")),
            ),
            ("team-c".to_string(), look_alike("team-c", None)),
            (
                "team-d".to_string(),
                look_alike("team-d", Some("team-d/regcred")),
            ),
        ]);
        let prune = PlanOptions {
            prune: true,
            detach: true,
            ..PlanOptions::default()
        };
        // The recorded scope names team-a and team-b: both are conflicts, and the look-alikes
        // outside it are neither pruned nor reported as ours.
        assert_eq!(
            plan_of(&["team-a", "team-b"], &copies, &BTreeMap::new(), prune),
            [
                ("team-a".to_string(), "conflict"),
                ("team-b".to_string(), "conflict"),
            ]
        );
        // A scope the operator gave adopts our pull Secrets that refer to no definition, and
        // still not a copy of another definition.
        assert_eq!(
            plan_as(
                &owner(true),
                &["team-a", "team-b"],
                &copies,
                &BTreeMap::new(),
                prune
            ),
            [
                ("team-a".to_string(), "update"),
                ("team-b".to_string(), "conflict"),
            ]
        );
        assert!(prune_candidates(&[], &copies, &owner(true)).is_empty());
    }

    #[test]
    fn a_standalone_credential_keeps_only_its_own_secret() {
        let mut own = look_alike("team-a", None);
        own.metadata.annotations.as_mut().unwrap().insert(
            crate::rules::pullsecret::SCOPE_ANNOTATION.to_string(),
            r#"{"namespaces":["team-a"]}"#.to_string(),
        );
        let mut stranger = own.clone();
        stranger.metadata.namespace = Some("team-b".into());
        stranger.metadata.annotations.as_mut().unwrap().insert(
            crate::rules::pullsecret::SCOPE_ANNOTATION.to_string(),
            r#"{"namespaces":["team-b"]}"#.to_string(),
        );
        let copies = BTreeMap::from([
            ("team-a".to_string(), own),
            ("team-b".to_string(), stranger),
        ]);
        let standalone = Owner::standalone("team-a", "regcred");
        let prune = PlanOptions {
            prune: true,
            ..PlanOptions::default()
        };
        let steps = plan_as(&standalone, &["team-a"], &copies, &BTreeMap::new(), prune);
        assert_eq!(steps.len(), 1, "team-b's regcred is a stranger: {steps:?}");
        assert_ne!(steps[0].1, "conflict");
    }
}
