//! Which kubeconfig contexts a command runs in: `--context` entries and `--all-contexts`,
//! with kubectl-foreach's conventions (docs/contexts.md): an exact name, a `/regex/`, or an
//! exclusion (`^name`, `^/regex/`); comma lists, repeatable.

use super::text::escape_field;
use regex::Regex;

/// One `--context` entry.
#[derive(Debug, Clone)]
pub enum Pattern {
    Exact(String),
    Regex(Regex),
}

impl Pattern {
    fn matches(&self, context: &str) -> bool {
        match self {
            Self::Exact(name) => name == context,
            Self::Regex(regex) => regex.is_match(context),
        }
    }
}

impl std::fmt::Display for Pattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Exact(name) => f.write_str(name),
            Self::Regex(regex) => write!(f, "/{}/", regex.as_str()),
        }
    }
}

/// What the flags ask for, before the kubeconfig is read.
#[derive(Debug, Clone, Default)]
pub struct ContextSelection {
    pub all: bool,
    pub include: Vec<Pattern>,
    pub exclude: Vec<Pattern>,
}

/// Context names from a kubeconfig, each on no line of its own (docs/conventions.md).
fn names(available: &[String]) -> String {
    available
        .iter()
        .map(|name| escape_field(name).into_owned())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Why `--context` or `--all-contexts` selects nothing usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectionError {
    #[error("invalid --context {}: {reason}", escape_field(&format!("{entry:?}")))]
    Invalid { entry: String, reason: String },
    #[error(
        "--context {} matches no context; the kubeconfig has: {}",
        escape_field(pattern),
        names(available)
    )]
    NoMatch {
        pattern: String,
        available: Vec<String>,
    },
    #[error(
        "--context selects no context; the kubeconfig has: {}",
        names(available)
    )]
    Empty { available: Vec<String> },
}

impl ContextSelection {
    /// Parses `--context` values (each a comma list) and `--all-contexts`.
    pub fn parse(values: &[String], all: bool) -> Result<Self, SelectionError> {
        let mut selection = Self {
            all,
            ..Self::default()
        };
        for entry in values.iter().flat_map(|value| split_entries(value)) {
            let (excluded, pattern) = match entry.strip_prefix('^') {
                Some(rest) => (true, rest),
                None => (false, entry.as_str()),
            };
            let invalid = |reason: &str| SelectionError::Invalid {
                entry: entry.clone(),
                reason: reason.to_string(),
            };
            let pattern = if let Some(body) = pattern
                .strip_prefix('/')
                .and_then(|rest| rest.strip_suffix('/'))
            {
                Pattern::Regex(Regex::new(body).map_err(|e| invalid(&e.to_string()))?)
            } else if pattern.is_empty() {
                return Err(invalid("empty"));
            } else {
                Pattern::Exact(pattern.to_string())
            };
            if excluded {
                selection.exclude.push(pattern);
            } else {
                selection.include.push(pattern);
            }
        }
        Ok(selection)
    }

    /// A single plain `--context NAME`: today's behaviour, no fan-out.
    pub fn single(&self) -> Option<&str> {
        match (self.all, self.include.as_slice(), self.exclude.is_empty()) {
            (false, [Pattern::Exact(name)], true) => Some(name),
            _ => None,
        }
    }

    /// Whether several contexts may be meant (anything but nothing or one plain name).
    pub fn is_multi(&self) -> bool {
        self.single().is_none()
            && (self.all || !self.include.is_empty() || !self.exclude.is_empty())
    }

    /// The selected contexts, in the kubeconfig's order. Every include must match something,
    /// and the result must not be empty; the errors list what is available.
    pub fn select(&self, available: &[String]) -> Result<Vec<String>, SelectionError> {
        for pattern in &self.include {
            if !available.iter().any(|context| pattern.matches(context)) {
                return Err(SelectionError::NoMatch {
                    pattern: pattern.to_string(),
                    available: available.to_vec(),
                });
            }
        }
        // Only exclusions (or --all-contexts): start from every context.
        let everything = self.all || self.include.is_empty();
        let selected: Vec<String> = available
            .iter()
            .filter(|context| everything || self.include.iter().any(|p| p.matches(context)))
            .filter(|context| !self.exclude.iter().any(|p| p.matches(context)))
            .cloned()
            .collect();
        if selected.is_empty() {
            return Err(SelectionError::Empty {
                available: available.to_vec(),
            });
        }
        Ok(selected)
    }
}

/// Splits a comma list, keeping commas inside a `/regex/` (`/a{1,2}/`).
fn split_entries(value: &str) -> Vec<String> {
    let mut entries = Vec::new();
    let mut current = String::new();
    let mut in_regex = false;
    for c in value.chars() {
        match c {
            '/' => {
                in_regex = !in_regex;
                current.push(c);
            }
            ',' if !in_regex => entries.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    entries.push(current);
    entries
        .into_iter()
        .map(|e| e.trim().to_string())
        .filter(|e| !e.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contexts() -> Vec<String> {
        ["dev", "stage", "prod-eu", "prod-us", "prod-legacy"]
            .map(String::from)
            .to_vec()
    }

    fn select(values: &[&str], all: bool) -> Result<Vec<String>, SelectionError> {
        let values: Vec<String> = values.iter().map(|v| v.to_string()).collect();
        ContextSelection::parse(&values, all)?.select(&contexts())
    }

    #[test]
    fn names_regexes_and_exclusions_select_in_kubeconfig_order() {
        assert_eq!(select(&["prod-us,dev"], false).unwrap(), ["dev", "prod-us"]);
        assert_eq!(
            select(&["/^prod-/", "^prod-legacy"], false).unwrap(),
            ["prod-eu", "prod-us"]
        );
        assert_eq!(select(&["^/^prod-/"], false).unwrap(), ["dev", "stage"]);
        assert_eq!(select(&["^dev"], true).unwrap().len(), 4);
        assert_eq!(select(&[], true).unwrap(), contexts());
        // The comma inside the regex does not split it; prod-us has no `e`.
        assert_eq!(select(&["/e{1,2}/"], false).unwrap().len(), 4);
    }

    #[test]
    fn a_selection_that_matches_nothing_lists_the_contexts() {
        let error = select(&["dev,qa"], false).unwrap_err();
        assert_eq!(
            error.to_string(),
            "--context qa matches no context; the kubeconfig has: dev, stage, prod-eu, prod-us, prod-legacy"
        );
        assert!(matches!(
            select(&["/^x/"], false),
            Err(SelectionError::NoMatch { .. })
        ));
        assert!(matches!(
            select(&["dev", "^dev"], false),
            Err(SelectionError::Empty { .. })
        ));
        assert!(matches!(
            select(&["/(/"], false),
            Err(SelectionError::Invalid { .. })
        ));
        assert!(matches!(
            select(&["^"], false),
            Err(SelectionError::Invalid { .. })
        ));
    }

    #[test]
    fn one_plain_name_is_todays_single_context() {
        let parse = |values: &[&str], all| {
            let values: Vec<String> = values.iter().map(|v| v.to_string()).collect();
            ContextSelection::parse(&values, all).unwrap()
        };
        assert_eq!(parse(&["dev"], false).single(), Some("dev"));
        assert!(!parse(&["dev"], false).is_multi());
        assert!(!parse(&[], false).is_multi());
        assert!(parse(&["dev,prod-us"], false).is_multi());
        assert!(parse(&["/dev/"], false).is_multi());
        assert!(parse(&[], true).is_multi());
        assert!(parse(&["^dev"], false).is_multi());
    }
}
