//! Which pull Secrets `attach --auto` and the controller's auto-attach give a pod spec: the
//! owners of every key the kubelet would use for any of its images, over all candidates
//! together, since the kubelet merges a pod's Secrets into one keyring (docs/semantics.md
//! §3). The kubelet oracle test compares this choice with the kubelet's own code.

use serde_json::Value;

use super::image::ImageRef;
use super::kinds;
use super::kubelet::{KeyEntry, Keyring};

/// A pull Secret that can be attached, with the kubelet's keys for it.
pub struct Candidate {
    pub name: String,
    pub keys: Vec<KeyEntry>,
}

/// The Secrets to attach, in the candidates' order, and why some images found none.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct AutoChoice {
    pub names: Vec<String>,
    /// An image that does not parse, or that no candidate's key matches (fine if public).
    pub unmatched: Vec<String>,
    /// Images left to a node credential provider, with its name (docs/attach.md).
    pub left_to_providers: Vec<(String, String)>,
}

/// The choice for the pod spec `spec`: every image it pulls, image volumes included
/// (docs/semantics.md §11).
pub fn auto_names(spec: &Value, candidates: &[Candidate]) -> AutoChoice {
    auto_names_except(spec, candidates, |_| None)
}

/// [`auto_names`], leaving out the images `provider_for` names a node credential provider
/// for (`--credential-provider-config`): the kubelet gets those without a pull Secret.
pub fn auto_names_except(
    spec: &Value,
    candidates: &[Candidate],
    provider_for: impl Fn(&ImageRef) -> Option<String>,
) -> AutoChoice {
    let keyring = Keyring::new(
        candidates
            .iter()
            .map(|c| (c.name.as_str(), c.keys.as_slice())),
    );
    let mut choice = AutoChoice::default();
    for image in kinds::images(spec) {
        let parsed = match ImageRef::parse(&image) {
            Ok(parsed) => parsed,
            Err(e) => {
                choice.unmatched.push(e.to_string());
                continue;
            }
        };
        if let Some(provider) = provider_for(&parsed) {
            choice.left_to_providers.push((image, provider));
            continue;
        }
        let found = keyring.lookup(&parsed);
        if found.is_empty() {
            choice.unmatched.push(format!(
                "no pull Secret matches image {image} ({}); fine if it is public",
                parsed.repository()
            ));
        }
        for candidate in candidates {
            if found.iter().any(|c| c.secret == candidate.name)
                && !choice.names.contains(&candidate.name)
            {
                choice.names.push(candidate.name.clone());
            }
        }
    }
    choice
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::kubelet::{DOCKERCONFIGJSON_KEY, DOCKERCONFIGJSON_TYPE, parse_secret};
    use k8s_openapi::ByteString;
    use k8s_openapi::api::core::v1::Secret;

    fn candidate(name: &str, registries: &[&str]) -> Candidate {
        let auths: serde_json::Map<String, Value> = registries
            .iter()
            .map(|r| {
                (
                    r.to_string(),
                    serde_json::json!({"username": "u", "password": "p"}),
                )
            })
            .collect();
        let json = serde_json::json!({ "auths": auths }).to_string();
        let secret = Secret {
            type_: Some(DOCKERCONFIGJSON_TYPE.into()),
            data: Some(
                [(
                    DOCKERCONFIGJSON_KEY.to_string(),
                    ByteString(json.into_bytes()),
                )]
                .into(),
            ),
            ..Secret::default()
        };
        Candidate {
            name: name.into(),
            keys: parse_secret(&secret).unwrap(),
        }
    }

    #[test]
    fn every_owner_of_a_matching_key_is_chosen_once_and_misses_are_said() {
        let spec = serde_json::json!({
            "initContainers": [{"name": "i", "image": "quay.io/team/init:1"}],
            "containers": [
                {"name": "a", "image": "quay.io/team/app:1"},
                {"name": "b", "image": "ghcr.io/org/tool"},
                {"name": "c", "image": "docker.io/library/nginx"},
            ],
        });
        let candidates = [
            candidate("quay", &["quay.io"]),
            candidate("ghcr", &["ghcr.io/org"]),
            candidate("other", &["registry.example.com"]),
        ];
        let choice = auto_names(&spec, &candidates);
        assert_eq!(choice.names, ["quay", "ghcr"]);
        assert_eq!(choice.unmatched.len(), 1, "{:?}", choice.unmatched);
        assert!(choice.unmatched[0].contains("docker.io/library/nginx"));
    }

    #[test]
    fn images_a_provider_serves_are_left_to_it() {
        let spec = serde_json::json!({
            "containers": [
                {"name": "a", "image": "quay.io/team/app:1"},
                {"name": "b", "image": "123.dkr.ecr.eu-west-1.amazonaws.com/team/b:1"},
            ],
        });
        let candidates = [
            candidate("quay", &["quay.io"]),
            candidate("ecr", &["*.dkr.ecr.*.amazonaws.com"]),
        ];
        let choice = auto_names_except(&spec, &candidates, |image| {
            image
                .domain
                .contains(".ecr.")
                .then(|| "ecr-credential-provider".to_string())
        });
        assert_eq!(choice.names, ["quay"]);
        assert_eq!(
            choice.left_to_providers,
            [(
                "123.dkr.ecr.eu-west-1.amazonaws.com/team/b:1".to_string(),
                "ecr-credential-provider".to_string()
            )]
        );
    }

    /// The kubelet pulls image volumes with the Pod's pull Secrets (docs/semantics.md §11).
    #[test]
    fn an_image_volume_gets_the_secret_it_needs() {
        let spec = serde_json::json!({
            "containers": [{"name": "a", "image": "quay.io/team/app:1"}],
            "volumes": [{"name": "models", "image": {"reference": "ghcr.io/org/models:v2"}}],
        });
        let candidates = [
            candidate("quay", &["quay.io"]),
            candidate("ghcr", &["ghcr.io"]),
        ];
        assert_eq!(auto_names(&spec, &candidates).names, ["quay", "ghcr"]);
    }
}
