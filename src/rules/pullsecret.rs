//! Image pull Secrets: the `.dockerconfigjson` payload rendered the way
//! `kubectl create secret docker-registry` renders it, and the Secret object around it,
//! labelled and annotated as ours (never with a secret value in metadata).

use std::collections::BTreeMap;

use base64::Engine;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;

use super::credential::Credential;
use super::expiry;
pub use super::kubelet::{DOCKERCFG_TYPE, DOCKERCONFIGJSON_KEY, DOCKERCONFIGJSON_TYPE};
use super::scope::RecordedScope;
use k8s_openapi::jiff::Timestamp;
/// The label that marks a Secret as written by a tool (a claim anyone can make: docs/sync.md, "Trust").
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
/// Our value of [`MANAGED_BY_LABEL`].
pub const MANAGER: &str = "kubectl-regcred";
/// Comma-separated registry keys the Secret holds.
pub const REGISTRIES_ANNOTATION: &str = "kubectl-regcred/registries";
/// JSON map registry → where its credential came from (no paths, no secrets).
pub const SOURCES_ANNOTATION: &str = "kubectl-regcred/sources";
/// The scope the copies were made for ([`RecordedScope`], JSON).
pub const SCOPE_ANNOTATION: &str = "kubectl-regcred/scope";
/// JSON map registry → when its password expires (RFC 3339), where that can be read.
pub const EXPIRES_ANNOTATION: &str = "kubectl-regcred/expires-at";
/// JSON map registry → the username of its login (not a secret): whose account each registry
/// pulls with, which `sync` keeps (docs/sync.md).
pub const USERNAMES_ANNOTATION: &str = "kubectl-regcred/usernames";
/// On a copy: `NAMESPACE/NAME` of the definition it is a copy of (docs/sync.md, "Trust").
pub const DEFINITION_ANNOTATION: &str = "kubectl-regcred/definition";
/// Every annotation we own on a copy; an update removes those the new copy no longer has.
const OUR_ANNOTATIONS: [&str; 6] = [
    DEFINITION_ANNOTATION,
    REGISTRIES_ANNOTATION,
    SOURCES_ANNOTATION,
    SCOPE_ANNOTATION,
    EXPIRES_ANNOTATION,
    USERNAMES_ANNOTATION,
];
/// Rancher's copies of a project-scoped registry credential carry this annotation ("true")
/// and the label [`RANCHER_COPY_LABEL`] naming the project; Rancher reverts edits to them.
pub const RANCHER_COPY_ANNOTATION: &str = "management.cattle.io/project-scoped-secret-copy";
/// The label Rancher puts on its copies of project-scoped Secrets; they are Rancher's to update.
pub const RANCHER_COPY_LABEL: &str = "management.cattle.io/project-scoped-secret";

/// kubectl's `DockerConfigEntry`: field order username, password, email, auth; email omitted
/// when empty.
#[derive(Serialize)]
struct Entry<'a> {
    username: &'a str,
    password: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<&'a str>,
    auth: String,
}

#[derive(Serialize)]
struct DockerConfigJson<'a> {
    auths: BTreeMap<String, Entry<'a>>,
}

/// The `.dockerconfigjson` bytes. `auth` is StdEncoding (padded) of `user:pass`, which every
/// kubelet version decodes (docs/semantics.md §4).
pub fn render_dockerconfigjson(credentials: &[Credential]) -> Vec<u8> {
    let auths = credentials
        .iter()
        .map(|c| {
            let auth = base64::engine::general_purpose::STANDARD.encode(format!(
                "{}:{}",
                c.username,
                c.password.expose()
            ));
            let entry = Entry {
                username: &c.username,
                password: c.password.expose(),
                email: c.email.as_deref().filter(|e| !e.is_empty()),
                auth,
            };
            (c.registry.secret_key(), entry)
        })
        .collect();
    serde_json::to_vec(&DockerConfigJson { auths }).expect("plain strings serialize")
}

/// The Secret we want in one namespace. `namespace` is `None` when kubectl would leave it out
/// (client-side dry run without an explicit namespace). `scope` is recorded when given.
pub fn build_secret(
    name: &str,
    namespace: Option<&str>,
    credentials: &[Credential],
    scope: Option<&RecordedScope>,
) -> Secret {
    let registries: Vec<String> = credentials
        .iter()
        .map(|c| c.registry.secret_key())
        .collect();
    let sources: BTreeMap<String, String> = credentials
        .iter()
        .map(|c| (c.registry.secret_key(), c.origin.summary()))
        .collect();
    let expires: BTreeMap<String, String> = credentials
        .iter()
        .filter_map(|c| {
            let at = expiry::expiry_of(c.password.expose())?;
            Some((c.registry.secret_key(), at.to_string()))
        })
        .collect();
    let usernames: BTreeMap<String, String> = credentials
        .iter()
        .map(|c| (c.registry.secret_key(), c.username.clone()))
        .collect();
    let mut annotations = BTreeMap::from([
        (REGISTRIES_ANNOTATION.to_string(), registries.join(",")),
        (
            SOURCES_ANNOTATION.to_string(),
            serde_json::to_string(&sources).expect("strings serialize"),
        ),
        (
            USERNAMES_ANNOTATION.to_string(),
            serde_json::to_string(&usernames).expect("strings serialize"),
        ),
    ]);
    if let Some(scope) = scope {
        annotations.insert(SCOPE_ANNOTATION.to_string(), scope.to_annotation());
    }
    if !expires.is_empty() {
        annotations.insert(
            EXPIRES_ANNOTATION.to_string(),
            serde_json::to_string(&expires).expect("strings serialize"),
        );
    }
    Secret {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            namespace: namespace.map(str::to_string),
            labels: Some(BTreeMap::from([(
                MANAGED_BY_LABEL.to_string(),
                MANAGER.to_string(),
            )])),
            annotations: Some(annotations),
            ..ObjectMeta::default()
        },
        type_: Some(DOCKERCONFIGJSON_TYPE.to_string()),
        data: Some(BTreeMap::from([(
            DOCKERCONFIGJSON_KEY.to_string(),
            ByteString(render_dockerconfigjson(credentials)),
        )])),
        ..Secret::default()
    }
}

/// The registry keys `existing` holds, as written, that `written` will not hold: what a write
/// replacing it drops (`--force` over somebody else's pull Secret, or `--replace`), so that
/// the output can say so. Empty when `existing` is no readable pull Secret.
pub fn dropped_registries(existing: &Secret, written: &Secret) -> Vec<String> {
    let keys = |secret: &Secret| -> Vec<String> {
        super::kubelet::parse_secret(secret)
            .map(|entries| entries.into_iter().map(|entry| entry.raw).collect())
            .unwrap_or_default()
    };
    let kept = keys(written);
    let mut dropped: Vec<String> = keys(existing)
        .into_iter()
        .filter(|key| !kept.contains(key))
        .collect();
    dropped.dedup();
    dropped
}

/// `create` over a Secret of ours that already holds registries this run does not write:
/// `desired` plus those registries, entries and records as they were, so that adding one
/// registry never drops another (docs/create.md; `--replace` skips this). Anything that is not
/// a readable pull Secret of ours gives `desired` unchanged.
pub fn keeping_other_registries(existing: &Secret, desired: Secret) -> Secret {
    let auths = |s: &Secret| -> Option<serde_json::Map<String, serde_json::Value>> {
        let bytes = s.data.as_ref()?.get(DOCKERCONFIGJSON_KEY)?;
        let payload: serde_json::Value = serde_json::from_slice(&bytes.0).ok()?;
        payload.get("auths")?.as_object().cloned()
    };
    // Ours in kind: a pull Secret, or a definition kept by a definition.
    if !is_managed(existing) || !(is_pull_secret_type(existing) || existing.type_ == desired.type_)
    {
        return desired;
    }
    let (Some(old), Some(new)) = (auths(existing), auths(&desired)) else {
        return desired;
    };
    let kept: Vec<&String> = old.keys().filter(|key| !new.contains_key(*key)).collect();
    if kept.is_empty() {
        return desired;
    }
    // Keys in the order kubectl renders them (sorted), as render_dockerconfigjson does.
    let mut merged: BTreeMap<String, serde_json::Value> = new.into_iter().collect();
    for key in &kept {
        merged.insert((*key).clone(), old[key.as_str()].clone());
    }
    let payload = serde_json::json!({ "auths": merged });
    let mut secret = desired;
    secret.data = Some(BTreeMap::from([(
        DOCKERCONFIGJSON_KEY.to_string(),
        ByteString(serde_json::to_vec(&payload).expect("JSON serializes")),
    )]));
    let annotations = secret
        .metadata
        .annotations
        .get_or_insert_with(BTreeMap::new);
    annotations.insert(
        REGISTRIES_ANNOTATION.to_string(),
        merged.keys().cloned().collect::<Vec<_>>().join(","),
    );
    // Where each kept registry came from, and when it expires, stay recorded.
    for record in [SOURCES_ANNOTATION, EXPIRES_ANNOTATION, USERNAMES_ANNOTATION] {
        let read = |s: &Secret| -> BTreeMap<String, String> {
            annotation(s, record)
                .and_then(|json| serde_json::from_str(json).ok())
                .unwrap_or_default()
        };
        let old_record = read(existing);
        let mut record_map = read(&secret);
        for key in &kept {
            if let Some(value) = old_record.get(key.as_str()) {
                record_map.insert((*key).clone(), value.clone());
            }
        }
        if !record_map.is_empty() {
            let annotations = secret
                .metadata
                .annotations
                .get_or_insert_with(BTreeMap::new);
            annotations.insert(
                record.to_string(),
                serde_json::to_string(&record_map).expect("strings serialize"),
            );
        }
    }
    secret
}

/// The registry keys a Secret of ours records holding.
pub fn recorded_registries(secret: &Secret) -> Vec<String> {
    annotation(secret, REGISTRIES_ANNOTATION)
        .map(|list| {
            list.split(',')
                .filter(|key| !key.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Whether the Secret carries our managed-by label (it says so; it proves nothing).
pub fn is_managed(secret: &Secret) -> bool {
    label(secret, MANAGED_BY_LABEL) == Some(MANAGER)
}

/// Why a Secret is not ours to write, prune or delete, if it is not: only pull Secrets that
/// carry our label are. Our label on a Secret of another type is somebody else's doing.
pub fn not_ours(existing: &Secret) -> Option<String> {
    const NOT_MANAGED: &str = "is not managed by kubectl-regcred";
    let managed = is_managed(existing);
    if is_pull_secret_type(existing) {
        return (!managed).then(|| NOT_MANAGED.to_string());
    }
    // No type: only its metadata was read, because it is not a pull Secret.
    let kind = match existing.type_.as_deref() {
        Some(kind) => format!("has type {kind}, not {DOCKERCONFIGJSON_TYPE}"),
        None => format!("is not of type {DOCKERCONFIGJSON_TYPE}"),
    };
    Some(if managed {
        kind
    } else {
        format!("{kind}, and {NOT_MANAGED}")
    })
}

/// The Rancher project whose registry credential this Secret is a copy of, if Rancher made it.
pub fn rancher_project(secret: &Secret) -> Option<&str> {
    (annotation(secret, RANCHER_COPY_ANNOTATION) == Some("true"))
        .then(|| label(secret, RANCHER_COPY_LABEL).unwrap_or("unknown"))
}

/// The scope recorded on a copy: `None` when it records none, `Some(Err)` when the record is
/// unreadable.
pub fn recorded_scope(
    secret: &Secret,
) -> Option<Result<RecordedScope, super::scope::InvalidRecordedScope>> {
    annotation(secret, SCOPE_ANNOTATION).map(RecordedScope::parse)
}

/// Registry key → the username recorded for it; `None` on a copy made before usernames were
/// recorded.
pub fn recorded_usernames(secret: &Secret) -> Option<BTreeMap<String, String>> {
    annotation(secret, USERNAMES_ANNOTATION).and_then(|json| serde_json::from_str(json).ok())
}

/// Registry key → recorded origin summary, from our sources annotation.
pub fn recorded_sources(secret: &Secret) -> BTreeMap<String, String> {
    annotation(secret, SOURCES_ANNOTATION)
        .and_then(|json| serde_json::from_str(json).ok())
        .unwrap_or_default()
}

/// Whether the Secret has the type we write, `kubernetes.io/dockerconfigjson`.
pub fn is_pull_secret_type(secret: &Secret) -> bool {
    matches!(secret.type_.as_deref(), Some(DOCKERCONFIGJSON_TYPE))
}

fn label<'a>(secret: &'a Secret, key: &str) -> Option<&'a str> {
    secret
        .metadata
        .labels
        .as_ref()?
        .get(key)
        .map(String::as_str)
}

fn annotation<'a>(secret: &'a Secret, key: &str) -> Option<&'a str> {
    secret
        .metadata
        .annotations
        .as_ref()?
        .get(key)
        .map(String::as_str)
}

/// True when `existing` already holds what `desired` would write: the same type, our label and
/// annotations, and the same `.dockerconfigjson` as JSON (key order and spacing do not count).
pub fn is_up_to_date(existing: &Secret, desired: &Secret) -> bool {
    let payload = |s: &Secret| -> Option<serde_json::Value> {
        let bytes = s.data.as_ref()?.get(DOCKERCONFIGJSON_KEY)?;
        serde_json::from_slice(&bytes.0).ok()
    };
    let data_keys = |s: &Secret| s.data.as_ref().map(|d| d.len()).unwrap_or(0);
    existing.type_ == desired.type_
        && is_managed(existing)
        && data_keys(existing) == 1
        && payload(existing).is_some()
        && payload(existing) == payload(desired)
        && OUR_ANNOTATIONS
            .iter()
            .all(|key| annotation(existing, key) == annotation(desired, key))
}

/// `desired` applied onto `existing`: other writers' labels and annotations are kept, ours and
/// the data are replaced, and `resourceVersion` stays as the optimistic-concurrency guard.
pub fn updated(existing: &Secret, desired: &Secret) -> Secret {
    let mut secret = existing.clone();
    let merge = |target: &mut Option<BTreeMap<String, String>>,
                 ours: &Option<BTreeMap<String, String>>| {
        let target = target.get_or_insert_with(BTreeMap::new);
        target.extend(ours.clone().unwrap_or_default());
    };
    merge(&mut secret.metadata.labels, &desired.metadata.labels);
    if let Some(annotations) = secret.metadata.annotations.as_mut() {
        annotations.retain(|key, _| !OUR_ANNOTATIONS.contains(&key.as_str()));
    }
    merge(
        &mut secret.metadata.annotations,
        &desired.metadata.annotations,
    );
    secret.metadata.managed_fields = None;
    secret.data = desired.data.clone();
    secret.string_data = None;
    secret
}

/// What `list` and `show` say about a pull Secret. It has no field for a password or `auth`,
/// so no printer can leak one.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretSummary {
    pub namespace: String,
    pub name: String,
    #[serde(rename = "type")]
    pub type_: String,
    pub registries: Vec<RegistryEntry>,
    /// Why the kubelet cannot parse it, if it cannot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub malformed: Option<String>,
    pub managed: bool,
    /// Why it carries our label but no definition claims it (docs/sync.md, "Trust").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unmanaged: Option<String>,
    /// The Rancher project whose credential this is a copy of, when Rancher made it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rancher_project: Option<String>,
    /// Registry key → where its credential came from (our annotation).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub sources: BTreeMap<String, String>,
    pub used_by: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(skip)]
    pub age_seconds: Option<i64>,
}

/// One registry of a pull Secret as `list` and `show` print it: never the password.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RegistryEntry {
    pub server: String,
    pub username: String,
    /// Whether a password is set (never the password).
    pub has_password: bool,
    /// When the password expires (RFC 3339), where the password says (rules::expiry).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
}

/// Whether `list` shows the Secret: either type the kubelet reads.
pub fn is_listed_type(secret: &Secret) -> bool {
    matches!(
        secret.type_.as_deref(),
        Some(DOCKERCONFIGJSON_TYPE | DOCKERCFG_TYPE)
    )
}

impl SecretSummary {
    /// Who keeps it: `yes` (us), `rancher`, `no`, or `unmanaged` (our label, but no
    /// definition claims it: a look-alike, or a copy written before definitions).
    pub fn manager(&self) -> &'static str {
        match (self.managed, &self.rancher_project, &self.unmanaged) {
            (_, Some(_), _) => "rancher",
            (true, None, Some(_)) => "unmanaged",
            (true, None, None) => "yes",
            (false, None, _) => "no",
        }
    }

    /// The earliest expiry of its registries, if any says.
    pub fn earliest_expiry(&self) -> Option<&str> {
        // RFC 3339 in UTC sorts as time does.
        self.registries
            .iter()
            .filter_map(|r| r.expires.as_deref())
            .min()
    }

    /// The summary of `secret` as of `now` (its age).
    pub fn new(secret: &Secret, used_by: Vec<String>, now: Timestamp) -> Self {
        let (registries, malformed) = match super::kubelet::parse_secret(secret) {
            Ok(keys) => (
                keys.into_iter()
                    .map(|k| RegistryEntry {
                        server: k.raw,
                        username: k.username,
                        has_password: k.has_password,
                        expires: k.expires.map(|at| at.to_string()),
                    })
                    .collect(),
                None,
            ),
            Err(problem) => (Vec::new(), Some(problem.to_string())),
        };
        let created = secret.metadata.creation_timestamp.as_ref().map(|t| t.0);
        Self {
            namespace: secret.metadata.namespace.clone().unwrap_or_default(),
            name: secret.metadata.name.clone().unwrap_or_default(),
            type_: secret.type_.clone().unwrap_or_else(|| "Opaque".into()),
            registries,
            malformed,
            managed: is_managed(secret),
            unmanaged: None,
            rancher_project: rancher_project(secret).map(str::to_string),
            sources: recorded_sources(secret),
            used_by,
            created: created.map(|t| t.to_string()),
            age_seconds: created.map(|t| now.as_second() - t.as_second()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::credential::{Origin, Password};
    use crate::rules::registry::Registry;

    fn credential(server: &str, user: &str, pass: &str, email: Option<&str>) -> Credential {
        Credential {
            registry: Registry::parse(server).unwrap(),
            username: user.into(),
            password: Password::new(pass.into()),
            email: email.map(str::to_string),
            origin: Origin::Explicit,
        }
    }

    fn payload(secret: &Secret) -> String {
        String::from_utf8(
            secret.data.as_ref().unwrap()[DOCKERCONFIGJSON_KEY]
                .0
                .clone(),
        )
        .unwrap()
    }

    #[test]
    fn a_replacing_write_names_the_registries_it_drops() {
        let both = build_secret(
            "regcred",
            Some("a"),
            &[
                credential("ghcr.io", "me", "pw", None),
                credential("quay.io", "robot", "pw", None),
            ],
            None,
        );
        let quay = build_secret(
            "regcred",
            Some("a"),
            &[credential("quay.io", "robot", "new", None)],
            None,
        );
        assert_eq!(dropped_registries(&both, &quay), ["ghcr.io"]);
        assert_eq!(dropped_registries(&quay, &both), Vec::<String>::new());
        let mut opaque = both.clone();
        opaque.type_ = Some("Opaque".into());
        assert_eq!(dropped_registries(&opaque, &quay), Vec::<String>::new());
    }

    #[test]
    fn create_over_our_secret_keeps_the_registries_it_does_not_write() {
        let existing = build_secret(
            "regcred",
            Some("a"),
            &[
                credential("ghcr.io", "gh", "old", None),
                credential("quay.io", "robot", "old", None),
            ],
            None,
        );
        let desired = build_secret(
            "regcred",
            Some("a"),
            &[credential("quay.io", "robot", "new", None)],
            None,
        );
        let merged = keeping_other_registries(&existing, desired.clone());
        assert_eq!(
            payload(&merged),
            r#"{"auths":{"ghcr.io":{"username":"gh","password":"old","auth":"Z2g6b2xk"},"quay.io":{"username":"robot","password":"new","auth":"cm9ib3Q6bmV3"}}}"#
        );
        assert_eq!(recorded_registries(&merged), ["ghcr.io", "quay.io"]);
        assert_eq!(recorded_sources(&merged).len(), 2);
        // Merging again changes nothing: a second run is `unchanged`.
        assert!(is_up_to_date(
            &merged,
            &keeping_other_registries(&merged, desired.clone())
        ));
        // Nothing to keep, or not ours: desired as it is.
        let same = build_secret(
            "regcred",
            Some("a"),
            &[credential("quay.io", "robot", "x", None)],
            None,
        );
        assert_eq!(keeping_other_registries(&same, desired.clone()), desired);
        let mut theirs = existing.clone();
        theirs.metadata.labels = None;
        assert_eq!(keeping_other_registries(&theirs, desired.clone()), desired);
    }

    #[test]
    fn renders_kubectls_shape() {
        let json = render_dockerconfigjson(&[credential("quay.io", "robot", "s3:cret", None)]);
        assert_eq!(
            String::from_utf8(json).unwrap(),
            r#"{"auths":{"quay.io":{"username":"robot","password":"s3:cret","auth":"cm9ib3Q6czM6Y3JldA=="}}}"#
        );
    }

    #[test]
    fn email_only_when_given_and_hub_uses_kubectls_key() {
        let json =
            render_dockerconfigjson(&[credential("docker.io", "u", "p", Some("u@example.com"))]);
        assert_eq!(
            String::from_utf8(json).unwrap(),
            r#"{"auths":{"https://index.docker.io/v1/":{"username":"u","password":"p","email":"u@example.com","auth":"dTpw"}}}"#
        );
    }

    #[test]
    fn several_registries_share_one_secret_and_metadata_has_no_secret() {
        let creds = [
            credential("quay.io", "a", "topsecret1", None),
            credential("ghcr.io", "b", "topsecret2", None),
        ];
        let secret = build_secret("regcred", Some("team-a"), &creds, None);
        let meta = serde_json::to_string(&secret.metadata).unwrap();
        assert!(!meta.contains("topsecret"), "{meta}");
        assert_eq!(
            secret.metadata.annotations.as_ref().unwrap()[REGISTRIES_ANNOTATION],
            "quay.io,ghcr.io"
        );
        let payload: serde_json::Value =
            serde_json::from_slice(&secret.data.as_ref().unwrap()[DOCKERCONFIGJSON_KEY].0).unwrap();
        assert_eq!(payload["auths"].as_object().unwrap().len(), 2);
    }

    #[test]
    fn up_to_date_ignores_json_formatting_but_not_content_or_ownership() {
        let creds = [credential("quay.io", "robot", "pw", None)];
        let desired = build_secret("regcred", Some("ns"), &creds, None);
        let mut existing = desired.clone();
        let pretty = serde_json::to_vec_pretty(
            &serde_json::from_slice::<serde_json::Value>(&render_dockerconfigjson(&creds)).unwrap(),
        )
        .unwrap();
        existing.data = Some(BTreeMap::from([(
            DOCKERCONFIGJSON_KEY.into(),
            ByteString(pretty),
        )]));
        assert!(is_up_to_date(&existing, &desired));

        let changed = build_secret(
            "regcred",
            Some("ns"),
            &[credential("quay.io", "robot", "new", None)],
            None,
        );
        assert!(!is_up_to_date(&existing, &changed));

        existing.metadata.labels = None;
        assert!(!is_up_to_date(&existing, &desired));
    }

    #[test]
    fn update_keeps_other_writers_metadata() {
        let desired = build_secret(
            "regcred",
            Some("ns"),
            &[credential("quay.io", "u", "p", None)],
            None,
        );
        let mut existing = Secret::default();
        existing.metadata.labels = Some(BTreeMap::from([("team".into(), "a".into())]));
        existing.metadata.resource_version = Some("42".into());
        let merged = updated(&existing, &desired);
        let labels = merged.metadata.labels.unwrap();
        assert_eq!(labels["team"], "a");
        assert_eq!(labels[MANAGED_BY_LABEL], MANAGER);
        assert_eq!(merged.metadata.resource_version.as_deref(), Some("42"));
    }
}
