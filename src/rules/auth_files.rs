//! The formats of local login files, as their owners read them: docker's `config.json` and
//! `DOCKER_AUTH_CONFIG` (docs/semantics.md §1), and containers' `auth.json` (§3). Text in,
//! entries out; finding, reading and asking helpers is the credential sources' job.
//!
//! Every error names the file and the entry but never quotes a value: the values are
//! passwords and tokens (the `local_config` fuzz target checks it).

use std::collections::BTreeMap;

use serde::Deserialize;

use super::credential::Password;
use super::json::JsonFault;
use super::registry::{InvalidRegistry, Registry};

/// Why a login file could not be used. `what` names the file (or `DOCKER_AUTH_CONFIG`).
#[derive(Debug, thiserror::Error)]
pub enum AuthFileError {
    #[error("parsing {what}: {reason}")]
    Parse { what: String, reason: JsonFault },
    #[error("{what}: the entry for {key:?} has an invalid auth: {reason}")]
    InvalidAuth {
        what: String,
        key: String,
        reason: &'static str,
    },
    #[error(transparent)]
    InvalidRegistry(#[from] InvalidRegistry),
}

/// The parts of docker's `config.json` that hold credentials; a missing field is empty.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct DockerConfig {
    pub auths: BTreeMap<String, DockerAuth>,
    pub creds_store: String,
    pub cred_helpers: BTreeMap<String, String>,
}

/// One `auths` entry. `email` was dropped by docker v29 and is ignored like any unknown field.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DockerAuth {
    pub auth: Password,
    pub username: String,
    pub password: Password,
    pub identitytoken: Password,
    pub registrytoken: Password,
}

impl DockerAuth {
    /// The username and password the entry holds: a non-empty `auth` overrides the plain
    /// fields (it was checked when the file was parsed).
    pub fn login(&self) -> (String, Password) {
        if self.auth.is_empty() {
            return (self.username.clone(), self.password.clone());
        }
        let (username, password) =
            decode_docker_auth(self.auth.expose()).expect("checked by parse_docker_config");
        (username, Password::new(password))
    }
}

/// docker's `config.json`. docker fails the whole load on one bad `auth` ("invalid auth
/// configuration file"), and so does this.
pub fn parse_docker_config(text: &str, what: &str) -> Result<DockerConfig, AuthFileError> {
    let file: DockerConfig = serde_json::from_str(text).map_err(|e| AuthFileError::Parse {
        what: what.to_string(),
        reason: JsonFault::of(&e),
    })?;
    for (key, entry) in &file.auths {
        if !entry.auth.is_empty() {
            decode_docker_auth(entry.auth.expose()).map_err(|reason| {
                AuthFileError::InvalidAuth {
                    what: what.to_string(),
                    key: key.clone(),
                    reason,
                }
            })?;
        }
    }
    Ok(file)
}

/// `DOCKER_AUTH_CONFIG` allows only `auth` in each entry (docker uses DisallowUnknownFields).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EnvConfig {
    auths: BTreeMap<String, EnvEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EnvEntry {
    auth: Password,
}

/// `DOCKER_AUTH_CONFIG`: its logins by registry.
pub fn parse_docker_auth_config(
    json: &str,
) -> Result<BTreeMap<Registry, (String, Password)>, AuthFileError> {
    let what = "DOCKER_AUTH_CONFIG";
    let config: EnvConfig = serde_json::from_str(json).map_err(|e| AuthFileError::Parse {
        what: what.to_string(),
        reason: JsonFault::of(&e),
    })?;
    let mut auths = BTreeMap::new();
    for (key, entry) in config.auths {
        let (username, password) = decode_docker_auth(entry.auth.expose()).map_err(|reason| {
            AuthFileError::InvalidAuth {
                what: what.to_string(),
                key: key.clone(),
                reason,
            }
        })?;
        auths.insert(Registry::parse(&key)?, (username, Password::new(password)));
    }
    Ok(auths)
}

/// Decodes a docker `auth` field: standard base64 with padding, split at the first `:`
/// (the password may contain `:`), NUL bytes trimmed from the password (docs/semantics.md §1).
/// The kubelet decodes the same field differently ([`super::kubelet`]).
pub fn decode_docker_auth(auth: &str) -> Result<(String, String), &'static str> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(auth.trim())
        .map_err(|_| "it is not valid standard base64")?;
    let text = String::from_utf8(bytes).map_err(|_| "it does not decode to UTF-8 text")?;
    let (username, password) = text
        .split_once(':')
        .ok_or("the decoded value has no ':' between username and password")?;
    if username.is_empty() {
        return Err("the decoded username is empty");
    }
    Ok((
        username.to_string(),
        password.trim_matches('\0').to_string(),
    ))
}

/// A containers `auth.json` as containers/image reads it; a missing field is empty.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct AuthFile {
    auths: BTreeMap<String, AuthEntry>,
    cred_helpers: BTreeMap<String, String>,
}

/// containers/image reads only `auth` and `identitytoken`; `username`/`password` are ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct AuthEntry {
    auth: Password,
    identitytoken: Password,
}

/// A usable `auth.json` entry.
#[derive(Debug)]
pub enum PodmanEntry {
    Basic(String, Password),
    IdentityToken,
}

/// What an `auth.json` holds.
#[derive(Debug, Default)]
pub struct PodmanAuths {
    /// Usable entries, keyed by the registry the key names.
    pub entries: BTreeMap<Registry, PodmanEntry>,
    pub cred_helpers: BTreeMap<String, String>,
}

/// A containers `auth.json` named `what`. Entries containers/image skips with a warning are
/// skipped the same way, their warnings added to `warnings`.
pub fn parse_podman_auth_file(
    text: &str,
    what: &str,
    warnings: &mut Vec<String>,
) -> Result<PodmanAuths, AuthFileError> {
    let file: AuthFile = serde_json::from_str(text).map_err(|e| AuthFileError::Parse {
        what: what.to_string(),
        reason: JsonFault::of(&e),
    })?;
    let mut entries = BTreeMap::new();
    for (key, entry) in &file.auths {
        let registry = match Registry::parse(&normalize_auth_file_key(key)) {
            Ok(registry) => registry,
            Err(e) => {
                warnings.push(format!("{what}: skipping key: {e}"));
                continue;
            }
        };
        let parsed = if !entry.identitytoken.is_empty() {
            PodmanEntry::IdentityToken
        } else if entry.auth.is_empty() {
            continue; // `{}` marks a login held by a credential helper.
        } else {
            match decode_docker_auth(entry.auth.expose()) {
                Ok((username, password)) => PodmanEntry::Basic(username, Password::new(password)),
                // containers/image: bad base64 is a hard error; a missing ':' only a warning.
                Err(reason) if reason.contains("base64") || reason.contains("UTF-8") => {
                    return Err(AuthFileError::InvalidAuth {
                        what: what.to_string(),
                        key: key.clone(),
                        reason,
                    });
                }
                Err(reason) => {
                    warnings.push(format!("{what}: skipping the entry for {key:?}: {reason}"));
                    continue;
                }
            }
        };
        // The exact key wins over a spelling that only normalizes to the same registry.
        if !entries.contains_key(&registry) || key == &registry.to_string() {
            entries.insert(registry, parsed);
        }
    }
    Ok(PodmanAuths {
        entries,
        cred_helpers: file.cred_helpers,
    })
}

/// containers/image `normalizeAuthFileKey`: strip the scheme, and only when there was one,
/// drop the path too.
fn normalize_auth_file_key(key: &str) -> String {
    match key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
    {
        Some(rest) => rest.split('/').next().unwrap_or(rest).to_string(),
        None => key.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    #[test]
    fn auth_splits_at_the_first_colon() {
        assert_eq!(
            decode_docker_auth(&b64("robot:pa:ss:word")).unwrap(),
            ("robot".to_string(), "pa:ss:word".to_string())
        );
    }

    #[test]
    fn auth_trims_nul_bytes_from_the_password() {
        assert_eq!(decode_docker_auth(&b64("u:pw\0\0")).unwrap().1, "pw");
    }

    #[test]
    fn auth_errors_are_specific() {
        assert!(decode_docker_auth("%%%").unwrap_err().contains("base64"));
        assert!(
            decode_docker_auth(&b64("nocolon"))
                .unwrap_err()
                .contains("':'")
        );
        assert!(
            decode_docker_auth(&b64(":pw"))
                .unwrap_err()
                .contains("username is empty")
        );
        // Padding is required, as with Go's StdEncoding.
        assert!(decode_docker_auth(b64("u:pw").trim_end_matches('=')).is_err());
    }

    #[test]
    fn errors_name_the_file_and_key_but_never_the_value() {
        let secret = "S3CRET-VALUE-123";
        for (text, needle) in [
            (
                format!(r#"{{"auths":{{"quay.io":{{"auth":3}}}}, "x":"{secret}"}}"#),
                "wrong type",
            ),
            (
                format!(r#"{{"auths":{{"quay.io":{{"auth":"{secret}"}}}}}}"#),
                "base64",
            ),
        ] {
            let error = parse_docker_config(&text, "/home/me/config.json")
                .unwrap_err()
                .to_string();
            assert!(
                error.contains("/home/me/config.json") && error.contains(needle),
                "{error}"
            );
            assert!(!error.contains(secret), "{error}");
        }
    }

    #[test]
    fn a_docker_entry_with_auth_overrides_the_plain_fields() {
        let text = format!(
            r#"{{"auths":{{"quay.io":{{"auth":"{}","username":"other","password":"x"}}}}}}"#,
            b64("robot:pa:ss")
        );
        let config = parse_docker_config(&text, "config.json").unwrap();
        let (username, password) = config.auths["quay.io"].login();
        assert_eq!((username.as_str(), password.expose()), ("robot", "pa:ss"));
    }

    #[test]
    fn docker_auth_config_takes_only_auth() {
        let error = parse_docker_auth_config(r#"{"auths":{"quay.io":{"username":"u"}}}"#)
            .unwrap_err()
            .to_string();
        assert!(error.contains("DOCKER_AUTH_CONFIG"), "{error}");
    }

    #[test]
    fn podman_skips_what_containers_image_skips_and_keeps_the_exact_key() {
        let text = format!(
            r#"{{"auths":{{
                "https://quay.io/v1/": {{"auth":"{}"}},
                "quay.io": {{"auth":"{}"}},
                "ghcr.io": {{"auth":"{}"}},
                "docker.io": {{}}
            }}}}"#,
            b64("first:a"),
            b64("exact:b"),
            b64("nocolon"),
        );
        let mut warnings = Vec::new();
        let auths = parse_podman_auth_file(&text, "auth.json", &mut warnings).unwrap();
        let quay = Registry::parse("quay.io").unwrap();
        assert!(matches!(&auths.entries[&quay], PodmanEntry::Basic(user, _) if user == "exact"));
        assert_eq!(auths.entries.len(), 1);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("ghcr.io"), "{warnings:?}");
    }
}
