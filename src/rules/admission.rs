//! ServiceAccount admission, the one model `attach` and `check` share (docs/semantics.md §7):
//! when a Pod is created listing no `imagePullSecrets` of its own, the admission plugin copies
//! its ServiceAccount's list into it; a Pod that lists any keeps only its own. Pods are never
//! changed afterwards, so an account that gains a Secret helps only Pods created later.

use std::fmt;

use serde::Serialize;

/// Where the pull secrets a pod uses come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum PullSecretSource {
    #[serde(rename = "pod spec")]
    PodSpec,
    #[serde(rename = "serviceaccount")]
    ServiceAccount,
}

impl fmt::Display for PullSecretSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::PodSpec => "pod spec",
            Self::ServiceAccount => "serviceaccount",
        })
    }
}

/// Whether a pod spec takes its ServiceAccount's pull secrets when a Pod is created from it.
pub fn takes_account_secrets(own: &[String]) -> bool {
    own.is_empty()
}

/// The pull secrets the kubelet uses for a pod. A Pod has been admitted, so its own list is
/// final. A template's future Pods get its own list, or the account's when it has none.
pub fn effective_pull_secrets(
    own: &[String],
    is_pod: bool,
    account: Option<&[String]>,
) -> (Vec<String>, PullSecretSource) {
    if is_pod || !takes_account_secrets(own) {
        (own.to_vec(), PullSecretSource::PodSpec)
    } else {
        (
            account.unwrap_or_default().to_vec(),
            PullSecretSource::ServiceAccount,
        )
    }
}

/// How a pod template whose ServiceAccount just gained `secret` picks it up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pickup {
    /// Its new Pods take the account's list: a rollout brings the Secret to running pods.
    OnNewPods,
    /// It lists the Secret itself already.
    AlreadyListed,
    /// It lists its own Secrets, so the account's are ignored: attach to it directly.
    Never,
}

/// How a template that lists `own` pull Secrets picks up `secret` once its ServiceAccount lists it.
pub fn template_pickup(own: &[String], secret: &str) -> Pickup {
    if takes_account_secrets(own) {
        Pickup::OnNewPods
    } else if own.iter().any(|name| name == secret) {
        Pickup::AlreadyListed
    } else {
        Pickup::Never
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn templates_use_the_account_only_without_a_list_of_their_own() {
        let account = names(&["sa-cred"]);
        assert_eq!(
            effective_pull_secrets(&[], false, Some(&account)),
            (account.clone(), PullSecretSource::ServiceAccount)
        );
        assert_eq!(
            effective_pull_secrets(&names(&["own"]), false, Some(&account)),
            (names(&["own"]), PullSecretSource::PodSpec)
        );
        // An admitted Pod keeps what it got, even an empty list.
        assert_eq!(
            effective_pull_secrets(&[], true, Some(&account)),
            (vec![], PullSecretSource::PodSpec)
        );
        assert_eq!(
            effective_pull_secrets(&[], false, None),
            (vec![], PullSecretSource::ServiceAccount)
        );
    }

    #[test]
    fn pickup_of_a_new_account_secret() {
        assert_eq!(template_pickup(&[], "x"), Pickup::OnNewPods);
        assert_eq!(template_pickup(&names(&["x"]), "x"), Pickup::AlreadyListed);
        assert_eq!(template_pickup(&names(&["y"]), "x"), Pickup::Never);
    }
}
