//! `check --probe`: ask a registry, without credentials, whether it serves an image to anyone
//! (the registry v2 auth flow, docs/semantics.md §8). This is the only network call to a registry the
//! tool makes, and only when asked.

use std::time::Duration;

use crate::rules::image::ImageRef;

/// What an anonymous pull would get.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Anonymous {
    Allowed,
    /// Refused, with the registry's answer.
    Refused(String),
    /// The probe could not tell (network error, not found, not a v2 registry).
    Unknown(String),
}

const MANIFEST_TYPES: &str = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, \
    application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json";

/// Docker Hub's API lives on registry-1.docker.io.
fn api_host(image: &ImageRef) -> &str {
    if image.domain == "docker.io" {
        "registry-1.docker.io"
    } else {
        &image.domain
    }
}

/// Like docker, plain http is only for local registries: exactly `localhost`, or a loopback
/// address that parses as an IP (so `127.evil.com` is not local).
fn is_local(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(bracketed) => bracketed.split_once(']').map_or(bracketed, |(ip, _)| ip),
        None => host.rsplit_once(':').map_or(host, |(h, _)| h),
    };
    name == "localhost"
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// A token realm we may ask: https, or http only when the registry itself is local.
fn realm_allowed(realm: &str, registry_host: &str) -> bool {
    realm.starts_with("https://") || (realm.starts_with("http://") && is_local(registry_host))
}

pub(crate) fn probe(image: &ImageRef, timeout: Duration) -> Anonymous {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        // A redirect could lead anywhere, plain http included: it is an answer, not a path.
        .max_redirects(0)
        .build()
        .into();
    let host = api_host(image);
    let mut schemes = vec!["https"];
    if is_local(host) {
        schemes.push("http");
    }
    let mut last_error = String::new();
    for scheme in schemes {
        let base = format!("{scheme}://{host}");
        match probe_at(&agent, &base, image) {
            Ok(answer) => return answer,
            Err(e) => last_error = e.to_string(),
        }
    }
    Anonymous::Unknown(last_error)
}

/// A probe request that got no answer.
#[derive(Debug, thiserror::Error)]
enum ProbeError {
    #[error("{url}: {source}")]
    Request {
        url: String,
        #[source]
        source: ureq::Error,
    },
    #[error("the Bearer challenge has no realm")]
    NoRealm,
    #[error("the token realm {0:?} is not https; not asked")]
    RealmRefused(String),
}

impl ProbeError {
    fn request(url: &str) -> impl FnOnce(ureq::Error) -> Self + '_ {
        move |source| Self::Request {
            url: url.to_string(),
            source,
        }
    }
}

fn probe_at(agent: &ureq::Agent, base: &str, image: &ImageRef) -> Result<Anonymous, ProbeError> {
    let reference = image
        .digest
        .clone()
        .or_else(|| image.tag.clone())
        .unwrap_or_else(|| "latest".to_string());
    let manifest = format!("{base}/v2/{}/manifests/{reference}", image.path);
    let first = agent
        .head(&manifest)
        .header("Accept", MANIFEST_TYPES)
        .call()
        .map_err(ProbeError::request(base))?;
    let token = match first.status().as_u16() {
        200 => return Ok(Anonymous::Allowed),
        401 => {
            let challenges: Vec<String> = first
                .headers()
                .get_all("www-authenticate")
                .iter()
                .filter_map(|v| v.to_str().ok().map(str::to_string))
                .collect();
            let Some(bearer) = challenges
                .iter()
                .find_map(|c| parse_challenge(c).filter(|(s, _)| s == "bearer"))
            else {
                return Ok(Anonymous::Refused(format!(
                    "{} asks for a login",
                    image.domain
                )));
            };
            anonymous_token(agent, &bearer.1, image)?
        }
        403 => return Ok(Anonymous::Refused("403 Forbidden".into())),
        404 => return Ok(Anonymous::Unknown("the manifest was not found".into())),
        redirect @ 300..=399 => {
            return Ok(Anonymous::Unknown(format!(
                "the registry answered {redirect}, a redirect, which a probe does not follow"
            )));
        }
        other => return Ok(Anonymous::Unknown(format!("the registry answered {other}"))),
    };
    let Some(token) = token else {
        return Ok(Anonymous::Refused(
            "its token service refused an anonymous token".into(),
        ));
    };
    let second = agent
        .head(&manifest)
        .header("Accept", MANIFEST_TYPES)
        .header("Authorization", &format!("Bearer {token}"))
        .call()
        .map_err(ProbeError::request(base))?;
    Ok(match second.status().as_u16() {
        200 => Anonymous::Allowed,
        401 | 403 => Anonymous::Refused(format!(
            "{} {}",
            second.status().as_u16(),
            "with an anonymous token"
        )),
        404 => Anonymous::Unknown("the manifest was not found".into()),
        other => Anonymous::Unknown(format!("the registry answered {other}")),
    })
}

/// Asks the token service for an anonymous pull token. `Ok(None)`: refused.
fn anonymous_token(
    agent: &ureq::Agent,
    params: &[(String, String)],
    image: &ImageRef,
) -> Result<Option<String>, ProbeError> {
    let get = |key: &str| {
        params
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let realm = get("realm").ok_or(ProbeError::NoRealm)?;
    if !realm_allowed(realm, api_host(image)) {
        return Err(ProbeError::RealmRefused(realm.to_string()));
    }
    let mut request = agent
        .get(realm)
        .query("scope", format!("repository:{}:pull", image.path));
    if let Some(service) = get("service") {
        request = request.query("service", service);
    }
    let mut response = request.call().map_err(ProbeError::request(realm))?;
    if response.status().as_u16() != 200 {
        return Ok(None);
    }
    let body: serde_json::Value = response
        .body_mut()
        .read_to_string()
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default();
    Ok(body["token"]
        .as_str()
        .or(body["access_token"].as_str())
        .map(str::to_string))
}

/// One `WWW-Authenticate` challenge (RFC 2617 style): the lower-cased scheme and its
/// parameters, names lower-cased, values unquoted with `\` escapes.
pub(crate) fn parse_challenge(header: &str) -> Option<(String, Vec<(String, String)>)> {
    let header = header.trim();
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    if scheme.is_empty() {
        return None;
    }
    let mut params = Vec::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let name: String = chars
            .by_ref()
            .take_while(|c| *c != '=')
            .collect::<String>()
            .trim()
            .to_ascii_lowercase();
        if name.is_empty() {
            break;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            while let Some(c) = chars.peek() {
                if *c == ',' {
                    break;
                }
                value.push(*c);
                chars.next();
            }
        }
        params.push((name, value.trim().to_string()));
    }
    Some((scheme.to_ascii_lowercase(), params))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_parse_like_docker() {
        let (scheme, params) = parse_challenge(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:samalba/my-app:pull,push""#,
        )
        .unwrap();
        assert_eq!(scheme, "bearer");
        assert_eq!(
            params[0],
            ("realm".into(), "https://auth.docker.io/token".into())
        );
        assert_eq!(
            params[2],
            ("scope".into(), "repository:samalba/my-app:pull,push".into())
        );
        let (scheme, params) = parse_challenge(r#"Basic Realm="a \"quoted\" realm""#).unwrap();
        assert_eq!(scheme, "basic");
        assert_eq!(params[0], ("realm".into(), r#"a "quoted" realm"#.into()));
    }

    #[test]
    fn hub_uses_registry_1_and_only_local_hosts_use_http() {
        assert_eq!(
            api_host(&ImageRef::parse("nginx").unwrap()),
            "registry-1.docker.io"
        );
        assert!(is_local("127.0.0.1:5000"));
        assert!(is_local("localhost"));
        assert!(is_local("[::1]:5000"));
        assert!(is_local("127.0.0.2"));
        assert!(!is_local("quay.io"));
        assert!(!is_local("127.evil.com"));
        assert!(!is_local("localhost.evil.com:5000"));
    }

    #[test]
    fn realms_must_be_https_unless_the_registry_is_local() {
        assert!(realm_allowed("https://auth.example.com/token", "quay.io"));
        assert!(!realm_allowed("http://auth.example.com/token", "quay.io"));
        assert!(!realm_allowed(
            "http://169.254.169.254/latest",
            "127.evil.com"
        ));
        assert!(!realm_allowed("file:///etc/passwd", "quay.io"));
        assert!(realm_allowed(
            "http://127.0.0.1:5001/token",
            "127.0.0.1:5000"
        ));
    }
}
