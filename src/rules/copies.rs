//! What the copies of a credential must agree on before anything is taken from them
//! (docs/sync.md): one copy edited by hand in one namespace must never steer or spread to
//! the others.

use k8s_openapi::api::core::v1::Secret;

use super::pullsecret::{REGISTRIES_ANNOTATION, recorded_sources, recorded_usernames};

/// Two copies that record different registries, sources or usernames.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disagreement {
    pub first: String,
    pub other: String,
}

/// The copy whose record every copy shares (the first), or the first two namespaces whose
/// records differ. `None` when there is no copy.
pub fn agreed_record<'a>(
    copies: &[(&String, &'a Secret)],
) -> Result<Option<&'a Secret>, Disagreement> {
    let record = |secret: &Secret| {
        (
            secret
                .metadata
                .annotations
                .as_ref()
                .and_then(|annotations| annotations.get(REGISTRIES_ANNOTATION))
                .cloned(),
            recorded_sources(secret),
            recorded_usernames(secret),
        )
    };
    let Some((first_namespace, first)) = copies.first() else {
        return Ok(None);
    };
    let first_record = record(first);
    match copies
        .iter()
        .find(|(_, other)| record(other) != first_record)
    {
        Some((namespace, _)) => Err(Disagreement {
            first: first_namespace.to_string(),
            other: namespace.to_string(),
        }),
        None => Ok(Some(first)),
    }
}

/// The value more than half of `held` share by `same`, if one does: what most copies hold
/// is kept, and a minority (a copy edited by hand) is repaired, never spread. `None` when
/// there is nothing, or no strict majority.
pub fn majority<T>(held: &[T], same: impl Fn(&T, &T) -> bool) -> Option<&T> {
    let (value, votes) = held
        .iter()
        .map(|value| {
            (
                value,
                held.iter().filter(|other| same(value, other)).count(),
            )
        })
        .max_by_key(|(_, votes)| *votes)?;
    (votes * 2 > held.len()).then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn copy(registries: &str) -> Secret {
        let mut secret = Secret::default();
        secret.metadata.annotations = Some(BTreeMap::from([(
            REGISTRIES_ANNOTATION.to_string(),
            registries.to_string(),
        )]));
        secret
    }

    #[test]
    fn copies_agree_or_the_first_two_that_differ_are_named() {
        let (a, b, c) = (
            "team-a".to_string(),
            "team-b".to_string(),
            "team-c".to_string(),
        );
        let (same, also_same, edited) = (copy("quay.io"), copy("quay.io"), copy("quay.io,evil.io"));
        assert_eq!(agreed_record(&[]), Ok(None));
        assert!(
            agreed_record(&[(&a, &same), (&b, &also_same)])
                .unwrap()
                .is_some()
        );
        assert_eq!(
            agreed_record(&[(&a, &same), (&b, &also_same), (&c, &edited)]),
            Err(Disagreement {
                first: a.clone(),
                other: c.clone()
            })
        );
    }

    #[test]
    fn only_a_strict_majority_is_kept() {
        let eq = |a: &&str, b: &&str| a == b;
        assert_eq!(majority(&["x", "x", "y"], eq), Some(&"x"));
        assert_eq!(majority(&["x", "y"], eq), None);
        assert_eq!(majority(&["x", "x", "y", "y"], eq), None);
        assert_eq!(majority(&["x"], eq), Some(&"x"));
        assert_eq!(majority::<&str>(&[], eq), None);
    }
}
