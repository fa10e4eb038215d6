//! Which namespaces a command works in, and the scope recorded on each copy of a credential
//! so that `sync` can find them all again (docs/sync.md).

use serde::{Deserialize, Serialize};

/// The namespaces Kubernetes itself runs in. Writing commands leave them out of `-A` and
/// namespace selectors unless they are named, as Rancher leaves them out of projects.
pub const SYSTEM_NAMESPACES: [&str; 3] = ["kube-system", "kube-public", "kube-node-lease"];

/// The label Rancher puts on every namespace of a project (value: the project ID).
pub const RANCHER_PROJECT_LABEL: &str = "field.cattle.io/projectId";

/// Which namespaces a command acts in, as its flags said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NamespaceScope {
    /// The context's namespace (kubectl's default), `default` if it names none.
    Context,
    /// `-n NS` or `--namespaces a,b`.
    Named(Vec<String>),
    /// `-A`.
    All,
    /// `--namespace-selector` or `--project`.
    Selector(String),
}

impl NamespaceScope {
    /// Whether the user named the namespaces (kubectl then writes them into printed objects).
    pub fn is_explicit(&self) -> bool {
        !matches!(self, Self::Context)
    }

    /// Whether the namespaces are named (by the context, `-n` or `--namespaces`) rather than
    /// chosen by `-A` or a selector. A named target missing from a named namespace is an
    /// error; one missing from a selected namespace is just not there.
    pub fn names_namespaces(&self) -> bool {
        matches!(self, Self::Context | Self::Named(_))
    }
}

/// `--exclude-namespaces`: names or regular expressions, each matching a whole name.
#[derive(Debug, Clone, Default)]
pub struct Exclusions {
    patterns: Vec<String>,
    compiled: Vec<regex::Regex>,
}

impl PartialEq for Exclusions {
    fn eq(&self, other: &Self) -> bool {
        self.patterns == other.patterns
    }
}

impl Eq for Exclusions {}

/// An `--exclude-namespaces` entry that is not a regular expression.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid --exclude-namespaces entry {pattern:?}: {reason}")]
pub struct InvalidExclusion {
    pattern: String,
    reason: String,
}

impl Exclusions {
    /// The `--exclude-namespaces` patterns, each compiled to match a whole name, without repeats.
    pub fn new(patterns: &[String]) -> Result<Self, InvalidExclusion> {
        let mut unique: Vec<String> = Vec::new();
        for pattern in patterns.iter().map(|p| p.trim()).filter(|p| !p.is_empty()) {
            if !unique.iter().any(|p| p == pattern) {
                unique.push(pattern.to_string());
            }
        }
        let compiled = unique
            .iter()
            .map(|pattern| {
                regex::Regex::new(&format!("^(?:{pattern})$")).map_err(|e| InvalidExclusion {
                    pattern: pattern.clone(),
                    reason: e.to_string().lines().last().unwrap_or_default().to_string(),
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            patterns: unique,
            compiled,
        })
    }

    /// Whether a pattern matches the namespace.
    pub fn excludes(&self, namespace: &str) -> bool {
        self.compiled.iter().any(|re| re.is_match(namespace))
    }

    /// The patterns as given, for the recorded scope.
    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }
}

/// A command's namespaces: which, minus exclusions, and whether the system namespaces count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub namespaces: NamespaceScope,
    pub exclude: Exclusions,
    /// Whether `-A` and selectors leave out [`SYSTEM_NAMESPACES`] (writing commands).
    pub skip_system: bool,
}

/// In words, for a confirmation prompt: `all namespaces except kube-.*`.
impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.namespaces {
            NamespaceScope::Context => f.write_str("each context's namespace")?,
            NamespaceScope::Named(names) if names.len() == 1 => {
                write!(f, "namespace {}", names[0])?
            }
            NamespaceScope::Named(names) => write!(f, "namespaces {}", names.join(", "))?,
            NamespaceScope::All => f.write_str("all namespaces")?,
            NamespaceScope::Selector(selector) => write!(f, "namespaces matching {selector}")?,
        }
        if !self.exclude.patterns.is_empty() {
            write!(f, " except {}", self.exclude.patterns.join(", "))?;
        }
        Ok(())
    }
}

impl Scope {
    /// [`NamespaceScope::is_explicit`] of its namespaces.
    pub fn is_explicit(&self) -> bool {
        self.namespaces.is_explicit()
    }

    /// [`NamespaceScope::names_namespaces`] of its namespaces.
    pub fn names_namespaces(&self) -> bool {
        self.namespaces.names_namespaces()
    }

    /// Whether the scope is one namespace: the context's, or a single one named.
    pub fn is_single_namespace(&self) -> bool {
        match &self.namespaces {
            NamespaceScope::Context => true,
            NamespaceScope::Named(names) => names.len() == 1,
            NamespaceScope::All | NamespaceScope::Selector(_) => false,
        }
    }

    /// Whether a namespace the server listed for this scope belongs in it. Named namespaces
    /// are in scope even when they are system ones; exclusions always apply.
    pub fn admits(&self, namespace: &str) -> bool {
        if self.exclude.excludes(namespace) {
            return false;
        }
        match &self.namespaces {
            NamespaceScope::Context | NamespaceScope::Named(_) => true,
            NamespaceScope::All | NamespaceScope::Selector(_) => {
                !(self.skip_system && SYSTEM_NAMESPACES.contains(&namespace))
            }
        }
    }

    /// What a copy records, with the context's namespace resolved.
    pub fn record(&self, context_namespace: &str) -> RecordedScope {
        let (namespaces, all, selector) = match &self.namespaces {
            NamespaceScope::Context => (vec![context_namespace.to_string()], false, None),
            NamespaceScope::Named(names) => (names.clone(), false, None),
            NamespaceScope::All => (Vec::new(), true, None),
            NamespaceScope::Selector(selector) => (Vec::new(), false, Some(selector.clone())),
        };
        RecordedScope {
            namespaces,
            all,
            selector,
            exclude: self.exclude.patterns().to_vec(),
        }
    }
}

/// The scope annotation on each copy: exactly one of `namespaces`, `all` or `selector`, plus
/// `exclude`. JSON, so that no name or selector can be misread.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordedScope {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub all: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<String>,
}

/// A scope annotation that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("its scope annotation is not valid: {0}")]
pub struct InvalidRecordedScope(String);

impl RecordedScope {
    /// A scope annotation: exactly one of namespaces, all or selector.
    pub fn parse(text: &str) -> Result<Self, InvalidRecordedScope> {
        let recorded: Self = serde_json::from_str(text)
            .map_err(|e| InvalidRecordedScope(super::json::JsonFault::of(&e).to_string()))?;
        let kinds = usize::from(!recorded.namespaces.is_empty())
            + usize::from(recorded.all)
            + usize::from(recorded.selector.is_some());
        if kinds != 1 {
            return Err(InvalidRecordedScope(
                "it must name exactly one of namespaces, all or selector".into(),
            ));
        }
        Ok(recorded)
    }

    /// The scope as its annotation value.
    pub fn to_annotation(&self) -> String {
        serde_json::to_string(self).expect("strings serialize")
    }

    /// The scope to work in again, as a writing command's.
    pub fn scope(&self) -> Result<Scope, InvalidRecordedScope> {
        let namespaces = if self.all {
            NamespaceScope::All
        } else if let Some(selector) = &self.selector {
            NamespaceScope::Selector(selector.clone())
        } else {
            NamespaceScope::Named(self.namespaces.clone())
        };
        let exclude =
            Exclusions::new(&self.exclude).map_err(|e| InvalidRecordedScope(e.to_string()))?;
        Ok(Scope {
            namespaces,
            exclude,
            skip_system: true,
        })
    }
}

impl std::fmt::Display for RecordedScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.all {
            f.write_str("all namespaces")?;
        } else if let Some(selector) = &self.selector {
            write!(f, "namespaces matching {selector}")?;
        } else {
            write!(f, "namespaces {}", self.namespaces.join(","))?;
        }
        if !self.exclude.is_empty() {
            write!(f, " except {}", self.exclude.join(","))?;
        }
        Ok(())
    }
}

/// `--project ID`: Rancher's project label as a namespace selector.
pub fn project_selector(project: &str) -> String {
    format!("{RANCHER_PROJECT_LABEL}={project}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(namespaces: NamespaceScope, exclude: &[&str]) -> Scope {
        Scope {
            namespaces,
            exclude: Exclusions::new(&exclude.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .unwrap(),
            skip_system: true,
        }
    }

    #[test]
    fn exclusions_are_names_or_whole_name_regexes() {
        let all = scope(NamespaceScope::All, &["team-a", "ci-.*"]);
        assert!(!all.admits("team-a"));
        assert!(all.admits("team-ab"));
        assert!(!all.admits("ci-123"));
        assert!(all.admits("my-ci-123"));
        let error = Exclusions::new(&["(".to_string()]).unwrap_err();
        assert!(error.to_string().contains("\"(\""), "{error}");
    }

    #[test]
    fn system_namespaces_only_when_named() {
        assert!(!scope(NamespaceScope::All, &[]).admits("kube-system"));
        assert!(!scope(NamespaceScope::Selector("a=b".into()), &[]).admits("kube-public"));
        assert!(
            scope(NamespaceScope::Named(vec!["kube-system".into()]), &[]).admits("kube-system")
        );
        let mut reads = scope(NamespaceScope::All, &[]);
        reads.skip_system = false;
        assert!(reads.admits("kube-node-lease"));
    }

    #[test]
    fn recorded_scopes_round_trip_and_refuse_ambiguity() {
        for recorded in [
            scope(NamespaceScope::All, &["x"]).record("ctx"),
            scope(NamespaceScope::Context, &[]).record("ctx"),
            scope(NamespaceScope::Named(vec!["a".into(), "b".into()]), &[]).record("ctx"),
            scope(NamespaceScope::Selector(project_selector("p-7x2kq")), &[]).record("ctx"),
        ] {
            let text = recorded.to_annotation();
            assert_eq!(RecordedScope::parse(&text).unwrap(), recorded, "{text}");
        }
        assert_eq!(
            scope(NamespaceScope::Context, &[])
                .record("ctx")
                .to_annotation(),
            r#"{"namespaces":["ctx"]}"#
        );
        assert_eq!(
            scope(NamespaceScope::All, &["x"])
                .record("ctx")
                .to_annotation(),
            r#"{"all":true,"exclude":["x"]}"#
        );
        assert!(RecordedScope::parse(r#"{"all":true,"selector":"a=b"}"#).is_err());
        assert!(RecordedScope::parse(r#"{}"#).is_err());
        assert!(RecordedScope::parse(r#"{"every":true}"#).is_err());
        assert!(RecordedScope::parse("not json").is_err());
    }
}
