//! Node credential providers (KEP-2133, KEP-4412): the kubelet's `CredentialProviderConfig`,
//! which of its providers the kubelet asks for an image, and what a provider that wants the
//! Pod's ServiceAccount token needs of that ServiceAccount (docs/semantics.md §12).
//!
//! Upstream: `pkg/credentialprovider/plugin/config.go` (reading and validating the file),
//! `plugin.go` (`isImageAllowed`, `getServiceAccountData`) and `plugins.go` in Kubernetes 1.37.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use super::image::ImageRef;
use super::kubelet;

/// The config group's versions the kubelet reads.
const CONFIG_API_VERSIONS: [&str; 3] = [
    "kubelet.config.k8s.io/v1alpha1",
    "kubelet.config.k8s.io/v1beta1",
    "kubelet.config.k8s.io/v1",
];

/// The exec protocol's versions a provider may name.
const PLUGIN_API_VERSIONS: [&str; 3] = [
    "credentialprovider.kubelet.k8s.io/v1alpha1",
    "credentialprovider.kubelet.k8s.io/v1beta1",
    "credentialprovider.kubelet.k8s.io/v1",
];

/// A `CredentialProviderConfig` file, decoded strictly as the kubelet decodes it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CredentialProviderConfig {
    /// `kubelet.config.k8s.io/v1` (or `v1beta1`, `v1alpha1`).
    pub api_version: String,
    /// `CredentialProviderConfig`.
    pub kind: String,
    /// The providers, in the order the kubelet registers them.
    #[serde(default)]
    pub providers: Vec<Provider>,
}

/// One exec plugin, named as its binary in the kubelet's plugin directory.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Provider {
    /// The plugin binary's name.
    pub name: String,
    /// Images the plugin is asked about: keyring globs (`*.dkr.ecr.*.amazonaws.com`).
    #[serde(default)]
    pub match_images: Vec<String>,
    /// How long its answers are cached when they name no duration (Go duration: `12h`).
    #[serde(default)]
    pub default_cache_duration: Option<String>,
    /// The exec protocol's version (`credentialprovider.kubelet.k8s.io/v1`).
    #[serde(default)]
    pub api_version: String,
    /// Arguments to the plugin.
    #[serde(default)]
    pub args: Vec<String>,
    /// Environment of the plugin, besides the kubelet's own.
    #[serde(default)]
    pub env: Vec<EnvVar>,
    /// KEP-4412: the plugin gets the Pod's ServiceAccount token.
    #[serde(default)]
    pub token_attributes: Option<TokenAttributes>,
}

/// `name: value` for a plugin's environment.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvVar {
    /// The variable.
    pub name: String,
    /// Its value.
    pub value: String,
}

/// What a provider in ServiceAccount-token mode asks of the Pod's ServiceAccount.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TokenAttributes {
    /// The audience of the token the kubelet requests for the plugin.
    #[serde(default)]
    pub service_account_token_audience: String,
    /// `Token` or `ServiceAccount`.
    #[serde(default)]
    pub cache_type: Option<String>,
    /// Whether a Pod without a ServiceAccount is left without this provider.
    #[serde(default)]
    pub require_service_account: Option<bool>,
    /// Annotations the ServiceAccount must carry; without one, the plugin is not called.
    #[serde(default)]
    pub required_service_account_annotation_keys: Vec<String>,
    /// Annotations passed to the plugin when present.
    #[serde(default)]
    pub optional_service_account_annotation_keys: Vec<String>,
}

/// A config the kubelet would refuse to start with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderConfigError {
    /// The text is not a `CredentialProviderConfig` (bad YAML or JSON, an unknown field).
    #[error("not a CredentialProviderConfig: {0}")]
    Decode(String),
    /// It decodes, but the kubelet's validation refuses it.
    #[error("the kubelet would refuse it: {}", .0.join("; "))]
    Invalid(Vec<String>),
}

/// Reads one config file's text (YAML or JSON) as the kubelet's strict decoder does, and
/// validates it as `validateCredentialProviderConfig` does.
pub fn parse_config(text: &str) -> Result<CredentialProviderConfig, ProviderConfigError> {
    let config: CredentialProviderConfig = serde_saphyr::from_str(text)
        .map_err(|e| ProviderConfigError::Decode(decode_reason(&e.to_string())))?;
    if !CONFIG_API_VERSIONS.contains(&config.api_version.as_str()) {
        return Err(ProviderConfigError::Decode(format!(
            "apiVersion {:?} is not one of {}",
            config.api_version,
            CONFIG_API_VERSIONS.join(", ")
        )));
    }
    // Only the v1 schema has `tokenAttributes`: in the older ones it is an unknown field,
    // which the strict decoder refuses.
    if config.api_version != "kubelet.config.k8s.io/v1"
        && config
            .providers
            .iter()
            .any(|p| p.token_attributes.is_some())
    {
        return Err(ProviderConfigError::Decode(format!(
            "unknown field providers[].tokenAttributes in {} (it is in kubelet.config.k8s.io/v1 only)",
            config.api_version
        )));
    }
    if config.kind != "CredentialProviderConfig" {
        return Err(ProviderConfigError::Decode(format!(
            "kind {:?} is not CredentialProviderConfig",
            config.kind
        )));
    }
    Ok(config)
}

/// The parser's reason without the file's text: its first line only (the rest quotes the
/// file), and any quoted value masked, since a provider's `env` may hold a secret.
fn decode_reason(message: &str) -> String {
    let first = message.lines().next().unwrap_or_default();
    let first = first.strip_prefix("error: ").unwrap_or(first);
    regex::Regex::new(r#""[^"]*""#)
        .expect("valid regex")
        .replace_all(first, "\"***\"")
        .into_owned()
}

/// Several files' providers as one list, as the kubelet merges a directory's `*.json`,
/// `*.yaml` and `*.yml` files (in name order); then validated.
pub fn merge(configs: Vec<CredentialProviderConfig>) -> Result<Vec<Provider>, ProviderConfigError> {
    let mut providers: Vec<Provider> = Vec::new();
    for config in configs {
        for provider in config.providers {
            if providers.iter().any(|p| p.name == provider.name) {
                return Err(ProviderConfigError::Decode(format!(
                    "duplicate provider name {:?} found in configuration file(s)",
                    provider.name
                )));
            }
            providers.push(provider);
        }
    }
    let problems = validate(&providers);
    if problems.is_empty() {
        Ok(providers)
    } else {
        Err(ProviderConfigError::Invalid(problems))
    }
}

/// The kubelet's `validateCredentialProviderConfig`, with the ServiceAccount-token feature
/// on (its default since 1.34).
fn validate(providers: &[Provider]) -> Vec<String> {
    let mut problems = Vec::new();
    if providers.is_empty() {
        problems.push("providers: at least 1 item in plugins is required".to_string());
    }
    for provider in providers {
        let name = &provider.name;
        if name.contains('/') || name.contains(' ') || name == "." || name == ".." {
            problems.push(format!("providers.name {name:?}: not a file name"));
        }
        if provider.api_version.is_empty() {
            problems.push(format!("provider {name}: apiVersion is required"));
        } else if !PLUGIN_API_VERSIONS.contains(&provider.api_version.as_str()) {
            problems.push(format!(
                "provider {name}: apiVersion {:?} is not supported",
                provider.api_version
            ));
        }
        if provider.match_images.is_empty() {
            problems.push(format!(
                "provider {name}: at least 1 item in matchImages is required"
            ));
        }
        for glob in &provider.match_images {
            if !kubelet::parses_as_schemeless_url(glob) {
                problems.push(format!("provider {name}: match image {glob:?} is invalid"));
            }
        }
        match provider.default_cache_duration.as_deref().map(go_duration) {
            None => problems.push(format!("provider {name}: defaultCacheDuration is required")),
            Some(None) => problems.push(format!(
                "provider {name}: defaultCacheDuration is not a duration (like 12h or 30m)"
            )),
            Some(Some(_)) => {}
        }
        if let Some(token) = &provider.token_attributes {
            if token.service_account_token_audience.is_empty() {
                problems.push(format!(
                    "provider {name}: tokenAttributes.serviceAccountTokenAudience is required"
                ));
            }
            match token.require_service_account {
                None => problems.push(format!(
                    "provider {name}: tokenAttributes.requireServiceAccount is required"
                )),
                Some(false) if !token.required_service_account_annotation_keys.is_empty() => {
                    problems.push(format!(
                        "provider {name}: requireServiceAccount cannot be false when requiredServiceAccountAnnotationKeys is set"
                    ))
                }
                Some(_) => {}
            }
            if provider.api_version != "credentialprovider.kubelet.k8s.io/v1" {
                problems.push(format!(
                    "provider {name}: tokenAttributes is only supported for credentialprovider.kubelet.k8s.io/v1"
                ));
            }
            if !matches!(
                token.cache_type.as_deref(),
                Some("Token" | "ServiceAccount")
            ) {
                problems.push(format!(
                    "provider {name}: tokenAttributes.cacheType must be Token or ServiceAccount"
                ));
            }
            let both = token
                .required_service_account_annotation_keys
                .iter()
                .filter(|k| token.optional_service_account_annotation_keys.contains(k))
                .count();
            if both > 0 {
                problems.push(format!(
                    "provider {name}: annotation keys cannot be both required and optional"
                ));
            }
        }
    }
    problems
}

/// Go's `time.ParseDuration` for what configs hold: `[-+]?(\d+(\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)`
/// repeated, or `0`. Negative durations are refused as the kubelet refuses them.
pub fn go_duration(text: &str) -> Option<Duration> {
    if text == "0" {
        return Some(Duration::ZERO);
    }
    let units = regex::Regex::new(r"^((\d+(\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h))+$").expect("valid");
    if !units.is_match(text) {
        return None;
    }
    let part = regex::Regex::new(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)").expect("valid");
    let mut seconds = 0f64;
    for found in part.captures_iter(text) {
        let value: f64 = found[1].parse().ok()?;
        let unit = match &found[2] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            _ => 3600.0,
        };
        seconds += value * unit;
    }
    Duration::try_from_secs_f64(seconds).ok()
}

/// The providers the kubelet asks about `image` (`isImageAllowed`: a `matchImages` glob
/// matches the image's repository by the keyring's rules), in its order.
pub fn matching<'a>(providers: &'a [Provider], image: &ImageRef) -> Vec<&'a Provider> {
    let repository = image.repository();
    providers
        .iter()
        .filter(|p| {
            p.match_images
                .iter()
                .any(|glob| kubelet::key_matches(glob, &repository))
        })
        .collect()
}

/// The first provider that serves `image` for any Pod: it matches, and needs no ServiceAccount
/// annotation (which a Pod spec alone cannot show). `attach --auto` leaves such images to it.
pub fn covering<'a>(providers: &'a [Provider], image: &ImageRef) -> Option<&'a Provider> {
    matching(providers, image).into_iter().find(|provider| {
        provider
            .token_attributes
            .as_ref()
            .is_none_or(|t| t.required_service_account_annotation_keys.is_empty())
    })
}

/// Whether the kubelet calls `provider` for a Pod whose ServiceAccount carries
/// `annotations` (`None`: the Pod names no ServiceAccount): a provider without
/// `tokenAttributes` always; in ServiceAccount-token mode, a Pod without a ServiceAccount
/// only when `requireServiceAccount` is false, and one with a ServiceAccount only when it
/// carries every required annotation (`plugin.go`, `provide`).
pub fn calls(provider: &Provider, annotations: Option<&BTreeMap<String, String>>) -> bool {
    match (&provider.token_attributes, annotations) {
        (None, _) => true,
        (Some(token), None) => token.require_service_account == Some(false),
        (Some(_), Some(_)) => missing_annotations(provider, annotations).is_empty(),
    }
}

/// Why the kubelet would not call `provider` for a Pod running as a ServiceAccount with
/// `annotations` (`None`: the Pod has no ServiceAccount): the required annotation keys it
/// lacks. Empty when the plugin is called.
pub fn missing_annotations(
    provider: &Provider,
    annotations: Option<&BTreeMap<String, String>>,
) -> Vec<String> {
    let Some(token) = &provider.token_attributes else {
        return Vec::new();
    };
    match annotations {
        // No ServiceAccount: `requireServiceAccount` leaves the plugin out; otherwise it is
        // called without a token.
        None => Vec::new(),
        Some(annotations) => token
            .required_service_account_annotation_keys
            .iter()
            .filter(|key| !annotations.contains_key(*key))
            .cloned()
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An EKS-like node config, and a token provider.
    fn ecr() -> String {
        [
            r#"apiVersion: kubelet.config.k8s.io/v1"#,
            r#"kind: CredentialProviderConfig"#,
            r#"providers:"#,
            r#"  - name: ecr-credential-provider"#,
            r#"    matchImages: ["*.dkr.ecr.*.amazonaws.com", "*.dkr.ecr.*.amazonaws.com.cn"]"#,
            r#"    defaultCacheDuration: 12h"#,
            r#"    apiVersion: credentialprovider.kubelet.k8s.io/v1"#,
            r#"    args: [get-credentials]"#,
            r#"    env: [{name: AWS_PROFILE, value: node}]"#,
            r#"  - name: acr-sa"#,
            r#"    matchImages: ["*.azurecr.io"]"#,
            r#"    defaultCacheDuration: 10m"#,
            r#"    apiVersion: credentialprovider.kubelet.k8s.io/v1"#,
            r#"    tokenAttributes:"#,
            r#"      serviceAccountTokenAudience: api://AzureADTokenExchange"#,
            r#"      cacheType: ServiceAccount"#,
            r#"      requireServiceAccount: true"#,
            r#"      requiredServiceAccountAnnotationKeys: [azure.workload.identity/client-id]"#,
        ]
        .join("\n")
    }

    fn providers() -> Vec<Provider> {
        merge(vec![parse_config(&ecr()).unwrap()]).unwrap()
    }

    #[test]
    fn match_images_use_the_keyrings_globs_on_the_repository() {
        let providers = providers();
        let names = |image: &str| -> Vec<String> {
            matching(&providers, &ImageRef::parse(image).unwrap())
                .into_iter()
                .map(|p| p.name.clone())
                .collect()
        };
        assert_eq!(
            names("123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/app:1"),
            ["ecr-credential-provider"]
        );
        assert_eq!(names("team.azurecr.io/app:1"), ["acr-sa"]);
        // `*` stays within one label: a host with another number of labels is not matched.
        assert!(names("azurecr.io/app:1").is_empty());
        assert!(names("quay.io/team/app:1").is_empty());
    }

    #[test]
    fn a_token_provider_needs_its_required_annotations() {
        let providers = providers();
        let acr = &providers[1];
        let none = BTreeMap::new();
        assert_eq!(
            missing_annotations(acr, Some(&none)),
            ["azure.workload.identity/client-id"]
        );
        let set = BTreeMap::from([(
            "azure.workload.identity/client-id".to_string(),
            "0000".to_string(),
        )]);
        assert!(missing_annotations(acr, Some(&set)).is_empty());
        assert!(missing_annotations(&providers[0], Some(&none)).is_empty());
    }

    #[test]
    fn what_the_kubelet_refuses_is_refused() {
        for (text, why) in [
            (
                "apiVersion: v1\nkind: CredentialProviderConfig\nproviders: []",
                "apiVersion",
            ),
            (
                "apiVersion: kubelet.config.k8s.io/v1\nkind: CredentialProviderConfig\nprovider: []",
                "unknown field",
            ),
        ] {
            let error = parse_config(text).unwrap_err().to_string();
            assert!(error.contains(why), "{error}");
        }
        let missing = "apiVersion: kubelet.config.k8s.io/v1\nkind: CredentialProviderConfig\nproviders:\n  - name: x\n    apiVersion: credentialprovider.kubelet.k8s.io/v1\n    matchImages: ['a.io']\n";
        let error = merge(vec![parse_config(missing).unwrap()])
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("defaultCacheDuration is required"),
            "{error}"
        );
        let twice = merge(vec![
            parse_config(&ecr()).unwrap(),
            parse_config(&ecr()).unwrap(),
        ]);
        assert!(
            twice
                .unwrap_err()
                .to_string()
                .contains("duplicate provider name")
        );
    }

    #[test]
    fn a_decode_error_quotes_no_value_of_the_file() {
        let text = "apiVersion: kubelet.config.k8s.io/v1\nkind: CredentialProviderConfig\nproviders:\n  - name: x\n    env: [{name: TOKEN, value: [\"s3cret-value\"]}]\n";
        let error = parse_config(text).unwrap_err().to_string();
        assert!(!error.contains("s3cret-value"), "{error}");
        assert_eq!(error.lines().count(), 1, "{error}");
    }

    #[test]
    fn go_durations() {
        assert_eq!(go_duration("12h"), Some(Duration::from_secs(43_200)));
        assert_eq!(go_duration("1h30m"), Some(Duration::from_secs(5_400)));
        assert_eq!(go_duration("1.5s"), Some(Duration::from_millis(1_500)));
        assert_eq!(go_duration("0"), Some(Duration::ZERO));
        assert_eq!(go_duration("-1s"), None);
        assert_eq!(go_duration("12"), None);
    }
}
