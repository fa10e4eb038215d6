//! The kubelet's view of pull Secrets (semantics §4): how it parses them, how it normalizes
//! their keys, and which keys it uses for an image.

use std::collections::BTreeMap;

use base64::Engine;
use k8s_openapi::api::core::v1::Secret;
use serde::Deserialize;

use crate::image::ImageRef;
use crate::pullsecret::{DOCKERCFG_TYPE, DOCKERCONFIGJSON_KEY, DOCKERCONFIGJSON_TYPE};

/// One usable key of a pull Secret, as the kubelet keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyEntry {
    /// The key as written in the Secret.
    pub raw: String,
    /// The kubelet's normalized key: `host[/path]`, scheme and `/v1/`-`/v2/` prefix dropped.
    pub key: String,
    pub username: String,
    pub has_password: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretProblem {
    #[error("type is {0}, not kubernetes.io/dockerconfigjson or kubernetes.io/dockercfg")]
    WrongType(String),
    #[error("it has no {0} key")]
    MissingKey(&'static str),
    /// Anything here makes the kubelet fail every pull of the pod (`MakeDockerKeyring`).
    #[error("{0}")]
    Malformed(String),
}

#[derive(Deserialize)]
struct ConfigJson {
    #[serde(default)]
    auths: BTreeMap<String, Entry>,
}

#[derive(Deserialize, Default)]
struct Entry {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    auth: String,
}

/// Parses a pull Secret the way the kubelet does. Any error breaks all pulls for the pod.
pub fn parse_secret(secret: &Secret) -> Result<Vec<KeyEntry>, SecretProblem> {
    let kind = secret.type_.as_deref().unwrap_or("Opaque");
    let data = |key: &'static str| {
        secret
            .data
            .as_ref()
            .and_then(|d| d.get(key))
            .map(|b| b.0.as_slice())
            .ok_or(SecretProblem::MissingKey(key))
    };
    let entries: BTreeMap<String, Entry> = match kind {
        DOCKERCONFIGJSON_TYPE => {
            let parsed: ConfigJson =
                serde_json::from_slice(data(DOCKERCONFIGJSON_KEY)?).map_err(|e| {
                    SecretProblem::Malformed(format!(
                        "{DOCKERCONFIGJSON_KEY} is not valid JSON: {e}"
                    ))
                })?;
            parsed.auths
        }
        DOCKERCFG_TYPE => serde_json::from_slice(data(".dockercfg")?)
            .map_err(|e| SecretProblem::Malformed(format!(".dockercfg is not valid JSON: {e}")))?,
        other => return Err(SecretProblem::WrongType(other.to_string())),
    };
    let mut keys = Vec::new();
    for (raw, entry) in entries {
        let (username, password) = if entry.auth.is_empty() {
            (entry.username, entry.password)
        } else {
            decode_auth_field(&entry.auth).map_err(|reason| {
                SecretProblem::Malformed(format!("the auth of {raw:?} {reason}"))
            })?
        };
        keys.push(KeyEntry {
            key: normalize_key(&raw),
            raw,
            username,
            has_password: !password.is_empty(),
        });
    }
    Ok(keys)
}

/// `decodeDockerConfigFieldAuth`: StdEncoding when the length is a multiple of 4, else
/// RawStdEncoding; then a split at the first ':', which must be there.
fn decode_auth_field(auth: &str) -> Result<(String, String), &'static str> {
    let engine = if auth.len().is_multiple_of(4) {
        &base64::engine::general_purpose::STANDARD
    } else {
        &base64::engine::general_purpose::STANDARD_NO_PAD
    };
    let bytes = engine.decode(auth).map_err(|_| "is not valid base64")?;
    let text = String::from_utf8_lossy(&bytes);
    let (user, pass) = text
        .split_once(':')
        .ok_or("has no ':' between username and password")?;
    Ok((user.to_string(), pass.to_string()))
}

/// `BasicDockerKeyring.Add`: prepend `https://` if there is no scheme, drop a leading `/v1/`
/// or `/v2/`, and keep `host + path` unless the path is empty or `/`.
pub fn normalize_key(raw: &str) -> String {
    let (host, path) = split_url(raw);
    let path = if path.starts_with("/v1/") || path.starts_with("/v2/") {
        &path[3..]
    } else {
        path
    };
    if path.is_empty() || path == "/" {
        host.to_string()
    } else {
        format!("{host}{path}")
    }
}

/// `ParseSchemelessURL` + `url.Parse`: (host with port, path). Query and fragment are dropped.
fn split_url(value: &str) -> (&str, &str) {
    let rest = value.split_once("://").map_or(value, |(_, rest)| rest);
    let rest = rest.split(['?', '#']).next().unwrap_or(rest);
    match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    }
}

/// `URLsMatchStr(glob, target)`: equal ports, the same number of host labels, each label
/// matched by `filepath.Match` (so `*` stays within one label), and the target path starting
/// with the key path as a raw string prefix.
pub fn key_matches(glob: &str, target: &str) -> bool {
    let (glob_host, glob_path) = split_url(glob);
    let (target_host, target_path) = split_url(target);
    let (glob_labels, glob_port) = split_host_port(glob_host);
    let (target_labels, target_port) = split_host_port(target_host);
    glob_port == target_port
        && glob_labels.len() == target_labels.len()
        && target_path.starts_with(glob_path)
        && glob_labels
            .iter()
            .zip(&target_labels)
            .all(|(pattern, label)| glob_match(pattern, label))
}

fn split_host_port(host: &str) -> (Vec<&str>, &str) {
    // net.SplitHostPort fails without a port; the whole host is then the hostname.
    let (hostname, port) = match host.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') || h.starts_with('[') => {
            (h.trim_start_matches('[').trim_end_matches(']'), p)
        }
        _ => (host, ""),
    };
    (hostname.split('.').collect(), port)
}

/// Go's `filepath.Match` for one host label: `*`, `?`, `[class]`, `[^class]`, `\` escapes.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    fn matches(p: &[char], n: &[char]) -> bool {
        match p.first() {
            None => n.is_empty(),
            Some('*') => (0..=n.len()).any(|skip| matches(&p[1..], &n[skip..])),
            Some('?') => !n.is_empty() && matches(&p[1..], &n[1..]),
            Some('[') => {
                let Some(c) = n.first() else { return false };
                let Some(end) = p.iter().skip(1).position(|&x| x == ']').map(|i| i + 1) else {
                    return false;
                };
                let class = &p[1..end];
                let (negated, class) = match class.first() {
                    Some('^') => (true, &class[1..]),
                    _ => (false, class),
                };
                let mut hit = false;
                let mut i = 0;
                while i < class.len() {
                    if i + 2 < class.len() && class[i + 1] == '-' {
                        hit |= class[i] <= *c && *c <= class[i + 2];
                        i += 3;
                    } else {
                        hit |= class[i] == *c;
                        i += 1;
                    }
                }
                hit != negated && matches(&p[end + 1..], &n[1..])
            }
            Some('\\') if p.len() > 1 => n.first() == Some(&p[1]) && matches(&p[2..], &n[1..]),
            Some(c) => n.first() == Some(c) && matches(&p[1..], &n[1..]),
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    matches(&p, &n)
}

/// `isDefaultRegistryMatch`: images that fall back to the `index.docker.io` key.
fn is_default_registry_match(repository: &str) -> bool {
    let mut parts = repository.splitn(2, '/');
    let first = parts.next().unwrap_or("");
    if first.is_empty() {
        return false;
    }
    if parts.next().is_none() {
        return true;
    }
    first == "docker.io" || first == "index.docker.io" || !first.contains(['.', ':'])
}

/// The normalized keys the kubelet would use for an image, in its order: every matching key
/// (reverse-sorted, most specific first), or only if none matched and the image is on Docker
/// Hub, the `index.docker.io` key.
pub fn matching_keys<'a>(keys: impl IntoIterator<Item = &'a str>, image: &ImageRef) -> Vec<String> {
    let target = image.repository();
    let mut index: Vec<&str> = keys.into_iter().collect();
    index.sort_unstable_by(|a, b| b.cmp(a));
    index.dedup();
    let matched: Vec<String> = index
        .iter()
        .filter(|key| key_matches(key, &target))
        .map(|key| key.to_string())
        .collect();
    if matched.is_empty()
        && is_default_registry_match(&target)
        && index.contains(&"index.docker.io")
    {
        return vec!["index.docker.io".to_string()];
    }
    matched
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::ByteString;

    fn keys_for(keys: &[&str], image: &str) -> Vec<String> {
        let normalized: Vec<String> = keys.iter().map(|k| normalize_key(k)).collect();
        matching_keys(
            normalized.iter().map(String::as_str),
            &ImageRef::parse(image).unwrap(),
        )
    }

    #[test]
    fn key_normalization() {
        assert_eq!(
            normalize_key("https://index.docker.io/v1/"),
            "index.docker.io"
        );
        assert_eq!(normalize_key("https://quay.io/v1/"), "quay.io");
        assert_eq!(normalize_key("quay.io"), "quay.io");
        assert_eq!(normalize_key("quay.io/team"), "quay.io/team");
        assert_eq!(normalize_key("http://reg:5000/v2/team"), "reg:5000/team");
    }

    /// A table from the kubelet's rules (keyring.go and keyring_test.go).
    #[test]
    fn kubelet_matching_table() {
        let cases: &[(&[&str], &str, &[&str])] = &[
            // exact host
            (&["quay.io"], "quay.io/team/app:v1", &["quay.io"]),
            (&["quay.io"], "ghcr.io/team/app", &[]),
            // globs match within one label only
            (&["*.k8s.io"], "registry.k8s.io/pause", &["*.k8s.io"]),
            (&["*.k8s.io"], "k8s.io/pause", &[]),
            (&["*.k8s.io"], "a.b.k8s.io/pause", &[]),
            (&["app*.k8s.io"], "apps.k8s.io/x", &["app*.k8s.io"]),
            (&["k8s.*"], "k8s.io/x", &["k8s.*"]),
            // ports must be equal; absent is not a wildcard
            (&["reg:5000"], "reg:5000/app", &["reg:5000"]),
            (&["reg"], "reg:5000/app", &[]),
            (&["reg:5000"], "reg.example.com/app", &[]),
            // path is a raw string prefix, most specific first
            (
                &["bar.example.com/pong"],
                "bar.example.com/pongz/x",
                &["bar.example.com/pong"],
            ),
            (
                &["quay.io/team", "quay.io"],
                "quay.io/team/app",
                &["quay.io/team", "quay.io"],
            ),
            (&["quay.io/team"], "quay.io/other/app", &[]),
            // Docker Hub: docker.io matches directly, index.docker.io through the fallback
            (&["docker.io"], "nginx", &["docker.io"]),
            (
                &["https://index.docker.io/v1/"],
                "nginx",
                &["index.docker.io"],
            ),
            (&["index.docker.io"], "bitnami/redis", &["index.docker.io"]),
            (&["https://index.docker.io/v1/"], "quay.io/app", &[]),
            // registry-1.docker.io never matches a Hub image (3 labels vs 2)
            (&["registry-1.docker.io"], "nginx", &[]),
            (&["registry-1.docker.io"], "docker.io/library/nginx", &[]),
        ];
        for (keys, image, want) in cases {
            assert_eq!(keys_for(keys, image), *want, "keys {keys:?} image {image}");
        }
    }

    #[test]
    fn go_filepath_match() {
        assert!(glob_match("*", "anything"));
        assert!(glob_match("a?c", "abc"));
        assert!(glob_match("[a-c]x", "bx"));
        assert!(!glob_match("[^a-c]x", "bx"));
        assert!(glob_match("\\*", "*"));
        assert!(!glob_match("ab", "abc"));
    }

    fn secret(kind: &str, key: &str, payload: &str) -> Secret {
        Secret {
            type_: Some(kind.into()),
            data: Some(BTreeMap::from([(
                key.to_string(),
                ByteString(payload.as_bytes().to_vec()),
            )])),
            ..Secret::default()
        }
    }

    #[test]
    fn parses_like_the_kubelet() {
        let ok = secret(
            DOCKERCONFIGJSON_TYPE,
            DOCKERCONFIGJSON_KEY,
            r#"{"auths":{"https://index.docker.io/v1/":{"auth":"dTpw"},"quay.io":{"username":"a","password":"b"}}}"#,
        );
        let keys = parse_secret(&ok).unwrap();
        assert_eq!(keys[0].key, "index.docker.io");
        assert_eq!(keys[0].username, "u");
        assert!(keys[1].has_password);

        // Unpadded base64 is accepted (RawStdEncoding when len % 4 != 0).
        let unpadded = secret(
            DOCKERCONFIGJSON_TYPE,
            DOCKERCONFIGJSON_KEY,
            r#"{"auths":{"q.io":{"auth":"dTpwdw"}}}"#,
        );
        assert_eq!(parse_secret(&unpadded).unwrap()[0].username, "u");

        let legacy = secret(
            DOCKERCFG_TYPE,
            ".dockercfg",
            r#"{"quay.io":{"auth":"dTpw"}}"#,
        );
        assert_eq!(parse_secret(&legacy).unwrap()[0].key, "quay.io");
    }

    #[test]
    fn malformed_secrets_are_named() {
        let cases = [
            (r#"{"auths":"#, "not valid JSON"),
            (r#"{"auths":{"q.io":{"auth":"!!!!"}}}"#, "not valid base64"),
            (r#"{"auths":{"q.io":{"auth":"bm9jb2xvbg=="}}}"#, "no ':'"),
        ];
        for (payload, needle) in cases {
            let err = parse_secret(&secret(
                DOCKERCONFIGJSON_TYPE,
                DOCKERCONFIGJSON_KEY,
                payload,
            ))
            .unwrap_err();
            assert!(err.to_string().contains(needle), "{err}");
        }
        assert!(matches!(
            parse_secret(&secret("Opaque", "x", "{}")),
            Err(SecretProblem::WrongType(_))
        ));
        assert!(matches!(
            parse_secret(&secret(DOCKERCONFIGJSON_TYPE, "other", "{}")),
            Err(SecretProblem::MissingKey(_))
        ));
    }
}
