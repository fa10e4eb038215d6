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
pub(crate) use login::{LoginCheck, LoginOutcome, verify_all};

use crate::rules::proxy::{self, ProxyEnv, ProxyError, ProxyProtocol};
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
    #[error(transparent)]
    Proxy(#[from] ProxyError),
    #[error("the proxy in {origin} cannot be used")]
    UnusableProxy { origin: &'static str },
}

/// A configured client. Built once per command, before any request.
#[derive(Debug, Clone)]
pub(crate) struct Transport {
    /// For requests that take no proxy.
    direct: ureq::Agent,
    plain_http: bool,
    /// The environment's proxies, applied per request as the API client applies them
    /// (docs/verify.md).
    proxies: Proxies,
}

/// `HTTPS_PROXY` and `HTTP_PROXY`, parsed once, each with its own client (so connections
/// are reused), and `NO_PROXY`.
#[derive(Debug, Clone)]
struct Proxies {
    https: Option<Route>,
    http: Option<Route>,
    no_proxy: String,
}

/// A client that goes through one proxy.
#[derive(Debug, Clone)]
struct Route {
    agent: ureq::Agent,
    /// The proxy's address, without credentials.
    shown: String,
}

impl Proxies {
    fn from_env(
        env: &ProxyEnv,
        agent_through: impl Fn(ureq::Proxy) -> ureq::Agent,
    ) -> Result<Self, TransportError> {
        let route = |url: &Option<String>, origin: &'static str| {
            url.as_deref()
                .map(|url| {
                    let chosen = proxy::parse(url, origin)?;
                    let proxy = to_ureq(&chosen).ok_or(TransportError::UnusableProxy { origin })?;
                    Ok::<_, TransportError>(Route {
                        agent: agent_through(proxy),
                        shown: chosen.address.to_string().trim_end_matches('/').to_string(),
                    })
                })
                .transpose()
        };
        Ok(Self {
            https: route(&env.https_proxy, "HTTPS_PROXY")?,
            http: route(&env.http_proxy, "HTTP_PROXY")?,
            no_proxy: env.no_proxy.clone().unwrap_or_default(),
        })
    }

    /// The route for `url`, by Go's rules: by the URL's scheme, none for loopback hosts or
    /// what `NO_PROXY` names.
    fn for_url(&self, url: &str) -> Option<&Route> {
        let uri: http::Uri = url.parse().ok()?;
        let route = match uri.scheme_str() {
            Some("http") => self.http.as_ref(),
            _ => self.https.as_ref(),
        }?;
        proxy::uses_proxy(&uri, &self.no_proxy).then_some(route)
    }
}

/// A parsed proxy as ureq's.
fn to_ureq(chosen: &proxy::Proxy) -> Option<ureq::Proxy> {
    let protocol = match chosen.protocol {
        ProxyProtocol::Http => ureq::ProxyProtocol::Http,
        ProxyProtocol::Https => ureq::ProxyProtocol::Https,
        // Go lets a socks5 proxy resolve host names, for socks5 as for socks5h.
        ProxyProtocol::Socks5 => ureq::ProxyProtocol::Socks5h,
    };
    let mut builder = ureq::Proxy::builder(protocol)
        .host(chosen.address.host()?)
        .port(chosen.address.port_u16()?);
    if let Some((user, password)) = &chosen.credentials {
        builder = builder.username(user).password(password);
    }
    builder.build().ok()
}

impl Transport {
    pub(crate) fn new(settings: &TransportSettings) -> Result<Self, TransportError> {
        let mut tls =
            ureq::tls::TlsConfig::builder().disable_verification(settings.insecure_skip_tls_verify);
        if let Some(path) = &settings.ca_file {
            tls = tls.root_certs(roots_with(path)?);
        }
        let tls = tls.build();
        let agent = |proxy: Option<ureq::Proxy>| -> ureq::Agent {
            ureq::Agent::config_builder()
                // Never ureq's own reading of the environment, which differs from Go's
                // (ALL_PROXY; socks only with a feature): `Proxies` chooses.
                .proxy(proxy)
                .timeout_global(Some(settings.timeout))
                .http_status_as_error(false)
                // A redirect could lead anywhere, plain http included, and must never carry
                // credentials to another host: it is an answer, not a path.
                .max_redirects(0)
                .tls_config(tls.clone())
                .build()
                .into()
        };
        let env = ProxyEnv::from_lookup(|name| std::env::var(name).ok());
        Ok(Self {
            proxies: Proxies::from_env(&env, |proxy| agent(Some(proxy)))?,
            direct: agent(None),
            plain_http: settings.plain_http,
        })
    }

    /// A `GET` of `url`, through the proxy the environment names for it.
    fn get(&self, url: &str) -> ureq::RequestBuilder<ureq::typestate::WithoutBody> {
        self.agent_for(url).get(url)
    }

    /// A `HEAD` of `url`, through the proxy the environment names for it.
    fn head(&self, url: &str) -> ureq::RequestBuilder<ureq::typestate::WithoutBody> {
        self.agent_for(url).head(url)
    }

    fn agent_for(&self, url: &str) -> &ureq::Agent {
        self.proxies
            .for_url(url)
            .map_or(&self.direct, |route| &route.agent)
    }

    /// Why a request to `url` failed, naming the proxy it went through (never its password).
    fn failure(&self, url: &str, error: &ureq::Error) -> String {
        let via = self
            .proxies
            .for_url(url)
            .map(|route| format!(" (through the proxy {})", route.shown))
            .unwrap_or_default();
        format!("{url}{via}: {error}")
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

    fn proxies(https: &str, http: &str, no_proxy: &str) -> Result<Proxies, TransportError> {
        let some = |value: &str| (!value.is_empty()).then(|| value.to_string());
        Proxies::from_env(
            &ProxyEnv {
                https_proxy: some(https),
                http_proxy: some(http),
                no_proxy: some(no_proxy),
            },
            |proxy| {
                ureq::Agent::config_builder()
                    .proxy(Some(proxy))
                    .build()
                    .into()
            },
        )
    }

    fn proxied(proxies: &Proxies, url: &str) -> Option<String> {
        proxies.for_url(url).map(|route| route.shown.clone())
    }

    #[test]
    fn registries_use_the_environments_proxy_by_gos_rules() {
        let env = proxies(
            "socks5://u:pw@sock:1080",
            "http://plain:3128",
            "internal.lan",
        )
        .unwrap();
        assert_eq!(
            proxied(&env, "https://quay.io/v2/").as_deref(),
            Some("socks5://sock:1080")
        );
        let socks = env.for_url("https://quay.io/v2/").unwrap();
        let socks = socks.agent.config().proxy().unwrap();
        assert_eq!(socks.protocol(), ureq::ProxyProtocol::Socks5h);
        assert_eq!(
            proxied(&env, "http://reg.lan:5000/v2/").as_deref(),
            Some("http://plain:3128")
        );
        // Loopback never goes through a proxy, as with Go; NO_PROXY is honoured.
        assert_eq!(proxied(&env, "https://127.0.0.1:5000/v2/"), None);
        assert_eq!(proxied(&env, "http://localhost:5000/v2/"), None);
        assert_eq!(proxied(&env, "https://[::1]:5000/v2/"), None);
        assert_eq!(proxied(&env, "https://reg.internal.lan/v2/"), None);
        let none = proxies("", "", "").unwrap();
        assert_eq!(proxied(&none, "https://quay.io/v2/"), None);
    }

    #[test]
    fn proxies_that_cannot_be_used_fail_before_any_request_without_quoting_them() {
        for (https, http, origin) in [
            ("ftp://u:S3CRET@p", "", "HTTPS_PROXY"),
            ("", "gopher://u:S3CRET@p", "HTTP_PROXY"),
        ] {
            let error = proxies(https, http, "").unwrap_err().to_string();
            assert!(
                error.contains(origin) && !error.contains("S3CRET"),
                "{error}"
            );
        }
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
