//! Requests to registries, only when asked, following the registry v2 auth flow
//! (docs/semantics.md §8): `check --probe` asks without credentials whether an image is
//! served to anyone ([`anonymous`]); `verify`, `create --verify` and `login` prove a login
//! ([`login`]). Both share one HTTP client with the same safety rules (docs/verify.md): a
//! timeout on every request, capped bodies, no redirects, https unless the registry is on
//! loopback or `--plain-http` is asked for.

mod anonymous;
mod login;

use std::path::PathBuf;
use std::time::Duration;

pub(crate) use anonymous::{Anonymous, probe};
pub(crate) use login::{LoginCheck, Outcome, verify_all};

use crate::rules::registry::Registry;
use crate::rules::verdict::parse_challenge;

/// What a manifest request accepts: every image and index type.
const MANIFEST_TYPES: &str = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, \
    application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json";

/// The largest body read from a registry or token service: a token or an error fits easily.
const BODY_LIMIT: u64 = 1024 * 1024;

/// How to reach registries: `--timeout`, `--ca-file`, `--insecure-skip-tls-verify`,
/// `--plain-http`.
#[derive(Debug, Clone)]
pub(crate) struct TransportSettings {
    pub(crate) timeout: Duration,
    pub(crate) ca_file: Option<PathBuf>,
    pub(crate) insecure_skip_tls_verify: bool,
    pub(crate) plain_http: bool,
}

impl TransportSettings {
    pub(crate) fn with_timeout(timeout: Duration) -> Self {
        Self {
            timeout,
            ca_file: None,
            insecure_skip_tls_verify: false,
            plain_http: false,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum TransportError {
    #[error("reading --ca-file {path}: {reason}")]
    CaFile { path: PathBuf, reason: String },
}

/// A configured client. Built once per command, before any request.
#[derive(Debug, Clone)]
pub(crate) struct Transport {
    agent: ureq::Agent,
    plain_http: bool,
}

impl Transport {
    pub(crate) fn new(settings: &TransportSettings) -> Result<Self, TransportError> {
        let mut tls =
            ureq::tls::TlsConfig::builder().disable_verification(settings.insecure_skip_tls_verify);
        if let Some(path) = &settings.ca_file {
            tls = tls.root_certs(roots_with(path)?);
        }
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(settings.timeout))
            .http_status_as_error(false)
            // A redirect could lead anywhere, plain http included, and must never carry
            // credentials to another host: it is an answer, not a path.
            .max_redirects(0)
            .tls_config(tls.build())
            .build()
            .into();
        Ok(Self {
            agent,
            plain_http: settings.plain_http,
        })
    }

    /// The base URLs to try for a registry host, in order: https first; plain http only
    /// for loopback registries (as docker does) or with `--plain-http`, which uses only it.
    fn bases(&self, host: &str) -> Vec<String> {
        if self.plain_http {
            return vec![format!("http://{host}")];
        }
        let mut bases = vec![format!("https://{host}")];
        if is_local(host) {
            bases.push(format!("http://{host}"));
        }
        bases
    }
}

/// The system's roots plus the certificates of `path` (PEM): `--ca-file` adds a CA.
fn roots_with(path: &std::path::Path) -> Result<ureq::tls::RootCerts, TransportError> {
    let error = |reason: String| TransportError::CaFile {
        path: path.to_path_buf(),
        reason,
    };
    let pem = std::fs::read(path).map_err(|e| error(e.to_string()))?;
    let mut roots = Vec::new();
    for item in ureq::tls::parse_pem(&pem) {
        if let ureq::tls::PemItem::Certificate(cert) = item.map_err(|e| error(e.to_string()))? {
            roots.push(cert);
        }
    }
    if roots.is_empty() {
        return Err(error("no PEM certificate in it".into()));
    }
    let system = rustls_native_certs::load_native_certs();
    roots.extend(
        system
            .certs
            .iter()
            .map(|der| ureq::tls::Certificate::from_der(der.as_ref()).to_owned()),
    );
    Ok(ureq::tls::RootCerts::new_with_certs(&roots))
}

/// The host serving a registry's API: Docker Hub's (`docker.io`) lives on
/// registry-1.docker.io.
fn api_host(domain: &str) -> &str {
    if domain == Registry::docker_hub().host() {
        "registry-1.docker.io"
    } else {
        domain
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

/// A token realm we may send credentials to: https anywhere (Docker Hub's is on another
/// host), plain http only where the registry itself is spoken to over http: a loopback
/// realm of a loopback registry, or the registry's own host with `--plain-http`.
fn realm_allowed(realm: &str, registry_host: &str, plain_http: bool) -> bool {
    if realm.starts_with("https://") {
        return true;
    }
    if !realm.starts_with("http://") {
        return false;
    }
    let realm_host = url_host(realm);
    (is_local(registry_host) && is_local(realm_host)) || (plain_http && realm_host == registry_host)
}

/// The host of an http(s) URL, for naming a token service on another host.
fn url_host(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host)
}

/// A response body as text, at most [`BODY_LIMIT`] bytes; unreadable bodies read as empty.
fn body_text(response: &mut ureq::http::Response<ureq::Body>) -> String {
    response
        .body_mut()
        .with_config()
        .limit(BODY_LIMIT)
        .read_to_string()
        .unwrap_or_default()
}

/// The `WWW-Authenticate` challenges of a response, parsed.
fn challenges(response: &ureq::http::Response<ureq::Body>) -> Vec<(String, Vec<(String, String)>)> {
    response
        .headers()
        .get_all("www-authenticate")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(parse_challenge)
        .collect()
}

/// A challenge parameter by (lower-cased) name.
fn param<'a>(params: &'a [(String, String)], key: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
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
        assert_eq!(api_host("docker.io"), "registry-1.docker.io");
        assert_eq!(api_host("quay.io"), "quay.io");
        assert_eq!(
            url_host("https://auth.docker.io/token?x=1"),
            "auth.docker.io"
        );
        assert_eq!(url_host("https://u:p@127.0.0.1:5001/t"), "127.0.0.1:5001");
        assert!(is_local("127.0.0.1:5000"));
        assert!(is_local("localhost"));
        assert!(is_local("[::1]:5000"));
        assert!(is_local("127.0.0.2"));
        assert!(!is_local("quay.io"));
        assert!(!is_local("127.evil.com"));
        assert!(!is_local("localhost.evil.com:5000"));
    }

    #[test]
    fn realms_must_be_https_unless_the_registry_is_spoken_to_over_http() {
        assert!(realm_allowed(
            "https://auth.example.com/token",
            "quay.io",
            false
        ));
        assert!(!realm_allowed(
            "http://auth.example.com/token",
            "quay.io",
            false
        ));
        assert!(!realm_allowed(
            "http://169.254.169.254/latest",
            "127.evil.com",
            false
        ));
        assert!(!realm_allowed("file:///etc/passwd", "quay.io", false));
        assert!(realm_allowed(
            "http://127.0.0.1:5001/token",
            "127.0.0.1:5000",
            false
        ));
        // A loopback registry cannot send credentials over http to another host.
        assert!(!realm_allowed(
            "http://auth.example.com/token",
            "127.0.0.1:5000",
            false
        ));
        // --plain-http: the registry's own host only.
        assert!(realm_allowed(
            "http://reg.lan:5000/token",
            "reg.lan:5000",
            true
        ));
        assert!(!realm_allowed(
            "http://auth.lan/token",
            "reg.lan:5000",
            true
        ));
    }
}
