//! Which proxy, if any, carries a connection: for the API server the kubeconfig's
//! `proxy-url`, else `HTTPS_PROXY`/`HTTP_PROXY` minus `NO_PROXY`, by the rules of client-go and
//! Go's `net/http` (docs/semantics.md §9); registry probes follow the same environment rules.
//! The environment is passed in.

use std::net::IpAddr;

use http::Uri;

/// The proxy variables of the environment, upper case first as Go reads them.
#[derive(Debug, Default, Clone)]
pub struct ProxyEnv {
    pub https_proxy: Option<String>,
    pub http_proxy: Option<String>,
    pub no_proxy: Option<String>,
}

impl ProxyEnv {
    /// The variables as `lookup` gives them (the process environment, for the callers).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let any = |names: [&str; 2]| {
            names
                .iter()
                .find_map(|name| lookup(name).filter(|value| !value.is_empty()))
        };
        ProxyEnv {
            https_proxy: any(["HTTPS_PROXY", "https_proxy"]),
            http_proxy: any(["HTTP_PROXY", "http_proxy"]),
            no_proxy: any(["NO_PROXY", "no_proxy"]),
        }
    }
}

/// A proxy to connect through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proxy {
    pub protocol: ProxyProtocol,
    /// `scheme://host:port`, without credentials.
    pub address: Uri,
    /// `user:password` from the URL, percent-decoded.
    pub credentials: Option<(String, String)>,
}

/// How a proxy is spoken to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyProtocol {
    /// HTTP CONNECT to a proxy reached over plain TCP.
    Http,
    /// HTTP CONNECT to a proxy reached over TLS.
    Https,
    /// SOCKS5; the proxy resolves host names, for `socks5` as for `socks5h`, as Go's client does.
    Socks5,
}

/// A proxy setting that cannot be used. The URL is never quoted: it may hold a password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProxyError {
    #[error("the proxy in {origin} is not a valid URL")]
    Invalid { origin: &'static str },
    #[error(
        "the proxy in {origin} uses the scheme {scheme:?}; supported are http, https, socks5 and socks5h"
    )]
    UnsupportedScheme {
        origin: &'static str,
        scheme: String,
    },
}

/// The proxy for `server`. A kubeconfig `proxy-url` applies to every request, as in
/// client-go; otherwise the environment applies as Go's `http.ProxyFromEnvironment` does.
pub fn choose(
    server: &Uri,
    kubeconfig_proxy: Option<&str>,
    env: &ProxyEnv,
) -> Result<Option<Proxy>, ProxyError> {
    if let Some(url) = kubeconfig_proxy.filter(|url| !url.is_empty()) {
        return parse(url, "the kubeconfig's proxy-url").map(Some);
    }
    let (variable, origin) = match server.scheme_str() {
        Some("http") => (&env.http_proxy, "HTTP_PROXY"),
        _ => (&env.https_proxy, "HTTPS_PROXY"),
    };
    let Some(url) = variable else {
        return Ok(None);
    };
    if !uses_proxy(server, env.no_proxy.as_deref().unwrap_or("")) {
        return Ok(None);
    }
    parse(url, origin).map(Some)
}

/// Go's `useProxy`: never for `localhost` or a loopback IP, and not for a host `NO_PROXY`
/// names.
pub fn uses_proxy(server: &Uri, no_proxy: &str) -> bool {
    let Some(host) = server.host() else {
        return false;
    };
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    let port = server
        .port_u16()
        .unwrap_or(if server.scheme_str() == Some("http") {
            80
        } else {
            443
        });
    let ip = host.parse::<IpAddr>().ok();
    if host == "localhost" || ip.is_some_and(|ip| ip.is_loopback()) {
        return false;
    }
    !no_proxy
        .split(',')
        .map(|entry| entry.trim().to_ascii_lowercase())
        .filter(|entry| !entry.is_empty())
        .any(|entry| excludes(&entry, &host, ip, port))
}

/// One `NO_PROXY` entry, as Go's `httpproxy` reads it: `*`, an IP or CIDR, or a domain that
/// matches itself and its subdomains (`.domain` and `*.domain`: subdomains only), each with
/// an optional port.
fn excludes(entry: &str, host: &str, ip: Option<IpAddr>, port: u16) -> bool {
    if entry == "*" {
        return true;
    }
    if let Some((network, bits)) = entry.split_once('/') {
        return match (ip, network.parse::<IpAddr>(), bits.parse::<u8>()) {
            (Some(ip), Ok(network), Ok(bits)) => in_network(ip, network, bits),
            _ => false,
        };
    }
    let (entry_host, entry_port) = split_port(entry);
    if entry_port.is_some_and(|entry_port| entry_port != port) {
        return false;
    }
    if let Ok(entry_ip) = entry_host.parse::<IpAddr>() {
        return ip == Some(entry_ip);
    }
    if entry_host.is_empty() {
        return false;
    }
    let entry_host = entry_host.strip_prefix('*').unwrap_or(entry_host);
    match entry_host.strip_prefix('.') {
        Some(_) => host.ends_with(entry_host),
        None => host == entry_host || host.ends_with(&format!(".{entry_host}")),
    }
}

/// `host:port` or `[v6]:port` into its parts; anything else is all host.
fn split_port(entry: &str) -> (&str, Option<u16>) {
    if let Some(rest) = entry.strip_prefix('[')
        && let Some((host, after)) = rest.split_once(']')
    {
        return (host, after.strip_prefix(':').and_then(|p| p.parse().ok()));
    }
    match entry.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => match port.parse() {
            Ok(port) => (host, Some(port)),
            Err(_) => (entry, None),
        },
        _ => (entry, None),
    }
}

fn in_network(ip: IpAddr, network: IpAddr, bits: u8) -> bool {
    match (ip, network) {
        (IpAddr::V4(ip), IpAddr::V4(network)) if bits <= 32 => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(ip) & mask == u32::from(network) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(network)) if bits <= 128 => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(ip) & mask == u128::from(network) & mask
        }
        _ => false,
    }
}

/// Go's `parseProxy`: a value without a scheme is an http proxy.
pub fn parse(url: &str, origin: &'static str) -> Result<Proxy, ProxyError> {
    let url = url.trim();
    let with_scheme = if url.contains("://") {
        url.to_string()
    } else {
        format!("http://{url}")
    };
    let uri: Uri = with_scheme
        .parse()
        .map_err(|_| ProxyError::Invalid { origin })?;
    let scheme = uri.scheme_str().unwrap_or_default().to_ascii_lowercase();
    let protocol = match scheme.as_str() {
        "http" => ProxyProtocol::Http,
        "https" => ProxyProtocol::Https,
        "socks5" | "socks5h" => ProxyProtocol::Socks5,
        _ => return Err(ProxyError::UnsupportedScheme { origin, scheme }),
    };
    let authority = uri.authority().ok_or(ProxyError::Invalid { origin })?;
    let (credentials, host_port) = match authority.as_str().rsplit_once('@') {
        // Go's url.Parse refuses a bad escape ("%zz") rather than send it as written.
        Some((userinfo, _)) if !escapes_are_valid(userinfo) => {
            return Err(ProxyError::Invalid { origin });
        }
        Some((userinfo, host_port)) => (Some(split_userinfo(userinfo)), host_port),
        None => (None, authority.as_str()),
    };
    if host_port.is_empty() {
        return Err(ProxyError::Invalid { origin });
    }
    let default_port = match protocol {
        ProxyProtocol::Http => 80,
        ProxyProtocol::Https => 443,
        ProxyProtocol::Socks5 => 1080,
    };
    let host_port = match split_port(host_port) {
        (_, Some(_)) => host_port.to_string(),
        _ => format!("{host_port}:{default_port}"),
    };
    let address = format!("{scheme}://{host_port}")
        .parse()
        .map_err(|_| ProxyError::Invalid { origin })?;
    Ok(Proxy {
        protocol,
        address,
        credentials,
    })
}

/// Every `%` starts an escape of two hex digits.
fn escapes_are_valid(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.iter().enumerate().all(|(at, byte)| {
        *byte != b'%'
            || bytes
                .get(at + 1..at + 3)
                .is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit))
    })
}

fn split_userinfo(userinfo: &str) -> (String, String) {
    let decode = |text: &str| {
        percent_encoding::percent_decode_str(text)
            .decode_utf8_lossy()
            .into_owned()
    };
    match userinfo.split_once(':') {
        Some((user, password)) => (decode(user), decode(password)),
        None => (decode(userinfo), String::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(https: Option<&str>, no_proxy: Option<&str>) -> ProxyEnv {
        ProxyEnv {
            https_proxy: https.map(String::from),
            http_proxy: None,
            no_proxy: no_proxy.map(String::from),
        }
    }

    fn chosen(server: &str, kubeconfig: Option<&str>, env: &ProxyEnv) -> Option<String> {
        choose(&server.parse().unwrap(), kubeconfig, env)
            .unwrap()
            .map(|proxy| proxy.address.to_string())
    }

    #[test]
    fn kubeconfig_proxy_url_wins_and_applies_even_to_loopback() {
        let env = env(Some("http://env:1"), Some("*"));
        assert_eq!(
            chosen(
                "https://127.0.0.1:6443",
                Some("http://kc.example:3128"),
                &env
            )
            .as_deref(),
            Some("http://kc.example:3128/")
        );
    }

    #[test]
    fn environment_proxy_skips_localhost_and_loopback_like_go() {
        let env = env(Some("proxy.example:3128"), None);
        assert_eq!(chosen("https://localhost:6443", None, &env), None);
        assert_eq!(chosen("https://127.0.0.9:6443", None, &env), None);
        assert_eq!(chosen("https://[::1]:6443", None, &env), None);
        assert_eq!(
            chosen("https://10.0.0.1:6443", None, &env).as_deref(),
            Some("http://proxy.example:3128/")
        );
        // Not loopback to Go's IsLoopback, so it is proxied.
        assert!(chosen("https://0.0.0.0:6443", None, &env).is_some());
    }

    #[test]
    fn http_servers_use_http_proxy() {
        let env = ProxyEnv {
            https_proxy: Some("http://secure:1".into()),
            http_proxy: Some("http://plain:2".into()),
            no_proxy: None,
        };
        assert_eq!(
            chosen("http://api.example", None, &env).as_deref(),
            Some("http://plain:2/")
        );
        assert_eq!(
            chosen("https://api.example", None, &env).as_deref(),
            Some("http://secure:1/")
        );
    }

    #[test]
    fn no_proxy_follows_go_httpproxy() {
        let proxied = |server: &str, no_proxy: &str| {
            chosen(server, None, &env(Some("http://p:3128"), Some(no_proxy))).is_some()
        };
        assert!(!proxied("https://api.example.com", "*"));
        assert!(!proxied("https://api.example.com", "example.com"));
        assert!(!proxied("https://example.com", "example.com"));
        assert!(!proxied("https://api.example.com", ".example.com"));
        assert!(proxied("https://example.com", ".example.com"));
        assert!(!proxied("https://api.example.com", "*.example.com"));
        assert!(proxied("https://notexample.com", "example.com"));
        assert!(!proxied(
            "https://api.example.com:6443",
            "api.example.com:6443"
        ));
        assert!(proxied(
            "https://api.example.com:6443",
            "api.example.com:443"
        ));
        assert!(!proxied("https://api.example.com", "API.Example.com:443"));
        assert!(!proxied("https://10.1.2.3:6443", "10.0.0.0/8"));
        assert!(proxied("https://11.1.2.3:6443", "10.0.0.0/8"));
        assert!(!proxied("https://10.1.2.3:6443", " other , 10.1.2.3 "));
        assert!(!proxied("https://[fd00::5]:6443", "fd00::/16"));
        assert!(!proxied("https://[fd00::5]:6443", "[fd00::5]:6443"));
        assert!(proxied("https://10.1.2.3:6443", "10.1.2.4"));
        assert!(proxied("https://api.example.com", ""));
    }

    #[test]
    fn proxy_urls_parse_like_go_and_keep_credentials_apart() {
        let proxy = parse("http://us%40er:p%3Ass@proxy:8080", "test").unwrap();
        assert_eq!(proxy.address.to_string(), "http://proxy:8080/");
        assert_eq!(
            proxy.credentials,
            Some(("us@er".to_string(), "p:ss".to_string()))
        );
        assert_eq!(
            parse("socks5h://proxy", "test")
                .unwrap()
                .address
                .to_string(),
            "socks5h://proxy:1080/"
        );
        assert_eq!(
            parse("https://proxy", "test").unwrap().protocol,
            ProxyProtocol::Https
        );
    }

    #[test]
    fn bad_proxies_are_refused_without_quoting_them() {
        let error = parse("ftp://user:S3CRET@proxy", "HTTPS_PROXY").unwrap_err();
        assert!(!error.to_string().contains("S3CRET"), "{error}");
        assert!(matches!(error, ProxyError::UnsupportedScheme { .. }));
        let error = parse("http://user:S3CRET@pro xy", "HTTPS_PROXY").unwrap_err();
        assert!(!error.to_string().contains("S3CRET"), "{error}");
        // A bad escape in the password is refused, as Go's url.Parse refuses it.
        let error = parse("http://user:s3c%zzK@proxy:3128", "HTTPS_PROXY").unwrap_err();
        assert!(matches!(error, ProxyError::Invalid { .. }), "{error}");
        assert!(!error.to_string().contains("s3c"), "{error}");
        assert!(parse("http://user:p%3Ass@proxy:3128", "HTTPS_PROXY").is_ok());
    }
}
