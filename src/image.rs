//! Image references, parsed by the distribution/reference grammar (semantics §5) into the
//! fully qualified repository the kubelet matches pull-secret keys against.

use std::fmt;

/// A parsed image reference. `domain` is canonical (`index.docker.io` becomes `docker.io`) and
/// `path` carries Docker Hub's `library/` prefix for single-component names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    pub domain: String,
    pub path: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid image reference {image:?}: {reason}")]
pub struct InvalidImage {
    pub image: String,
    pub reason: String,
}

const MAX_PATH_LEN: usize = 255;

impl ImageRef {
    /// `ParseNormalizedNamed`: `nginx` → `docker.io/library/nginx`.
    pub fn parse(image: &str) -> Result<Self, InvalidImage> {
        let invalid = |reason: &str| InvalidImage {
            image: image.to_string(),
            reason: reason.to_string(),
        };
        if image.is_empty() {
            return Err(invalid("it is empty"));
        }
        if image.len() == 64
            && image
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        {
            return Err(invalid(
                "a bare 64-hex identifier is an image ID, not a reference",
            ));
        }
        let (rest, digest) = match image.split_once('@') {
            Some((rest, digest)) => {
                check_digest(digest).map_err(&invalid)?;
                (rest, Some(digest.to_string()))
            }
            None => (image, None),
        };
        // A tag is a ':' after the last '/'; an earlier ':' is a registry port.
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => {
                let tag = &rest[last_slash + i + 1..];
                check_tag(tag).map_err(&invalid)?;
                (&rest[..last_slash + i], Some(tag.to_string()))
            }
            None => (rest, None),
        };
        let (domain, path) = split_docker_domain(name);
        check_domain(&domain).map_err(&invalid)?;
        if path.chars().any(|c| c.is_ascii_uppercase()) {
            return Err(invalid(&format!(
                "repository name ({path}) must be lowercase"
            )));
        }
        check_path(&path).map_err(&invalid)?;
        if path.len() > MAX_PATH_LEN {
            return Err(invalid("the repository name is longer than 255 characters"));
        }
        Ok(Self {
            domain,
            path,
            tag,
            digest,
        })
    }

    /// What the kubelet looks up in its keyring: `domain/path`, no tag or digest.
    pub fn repository(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.repository())?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

/// `splitDockerDomain`: the first component is a registry when it is `localhost`, or holds
/// `.` or `:`, or has uppercase letters; a name with no `/` is always on Docker Hub.
fn split_docker_domain(name: &str) -> (String, String) {
    let (domain, path) = match name.split_once('/') {
        Some((first, rest))
            if first == "localhost"
                || first.contains('.')
                || first.contains(':')
                || first.chars().any(|c| c.is_ascii_uppercase()) =>
        {
            (first.to_string(), rest.to_string())
        }
        _ => ("docker.io".to_string(), name.to_string()),
    };
    let domain = if domain == "index.docker.io" {
        "docker.io".to_string()
    } else {
        domain
    };
    let path = if domain == "docker.io" && !path.contains('/') {
        format!("library/{path}")
    } else {
        path
    };
    (domain, path)
}

fn check_domain(domain: &str) -> Result<(), &'static str> {
    let host = if let Some(rest) = domain.strip_prefix('[') {
        // [IPv6]:port
        let end = rest
            .find(']')
            .ok_or("the IPv6 registry host has no closing ']'")?;
        let after = &rest[end + 1..];
        if !after.is_empty() && !after.strip_prefix(':').is_some_and(is_port) {
            return Err("the registry port must be digits");
        }
        return Ok(());
    } else {
        match domain.rsplit_once(':') {
            Some((host, port)) if is_port(port) => host,
            Some(_) => return Err("the registry port must be digits"),
            None => domain,
        }
    };
    let component_ok = |c: &str| {
        !c.is_empty()
            && c.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-')
            && !c.starts_with('-')
            && !c.ends_with('-')
    };
    if host.split('.').all(component_ok) {
        Ok(())
    } else {
        Err("the registry host is not a valid domain name")
    }
}

fn is_port(port: &str) -> bool {
    !port.is_empty() && port.chars().all(|c| c.is_ascii_digit())
}

/// Path components are `[a-z0-9]+` joined by `.`, `_`, `__` or runs of `-`.
fn check_path(path: &str) -> Result<(), &'static str> {
    const BAD: &str =
        "the repository path may hold only lowercase letters, digits and single separators";
    for component in path.split('/') {
        let bytes = component.as_bytes();
        if bytes.is_empty()
            || !bytes[0].is_ascii_alphanumeric()
            || !bytes[bytes.len() - 1].is_ascii_alphanumeric()
        {
            return Err(BAD);
        }
        let mut i = 0;
        while i < bytes.len() {
            let c = bytes[i];
            if c.is_ascii_lowercase() || c.is_ascii_digit() {
                i += 1;
                continue;
            }
            let run_end = bytes[i..]
                .iter()
                .position(|b| b.is_ascii_alphanumeric())
                .map_or(bytes.len(), |p| i + p);
            let separator = &component[i..run_end];
            let ok = matches!(separator, "." | "_" | "__") || separator.chars().all(|c| c == '-');
            if !ok {
                return Err(BAD);
            }
            i = run_end;
        }
    }
    Ok(())
}

fn check_tag(tag: &str) -> Result<(), &'static str> {
    let ok = !tag.is_empty()
        && tag.len() <= 128
        && tag.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if ok {
        Ok(())
    } else {
        Err("the tag is not valid")
    }
}

fn check_digest(digest: &str) -> Result<(), &'static str> {
    let (algorithm, hex) = digest
        .split_once(':')
        .ok_or("the digest has no algorithm")?;
    let algorithm_ok = algorithm.starts_with(|c: char| c.is_ascii_alphabetic())
        && algorithm
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '+' | '.'));
    if algorithm_ok && hex.len() >= 32 && hex.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err("the digest is not valid")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(image: &str) -> String {
        ImageRef::parse(image).unwrap().repository()
    }

    #[test]
    fn docker_hub_names_are_normalized() {
        assert_eq!(repo("nginx"), "docker.io/library/nginx");
        assert_eq!(repo("nginx:1.25"), "docker.io/library/nginx");
        assert_eq!(repo("bitnami/redis"), "docker.io/bitnami/redis");
        assert_eq!(repo("docker.io/nginx"), "docker.io/library/nginx");
        assert_eq!(
            repo("index.docker.io/library/nginx"),
            "docker.io/library/nginx"
        );
        // No '/': never a domain, even when it looks like one (the FIXME in splitDockerDomain).
        assert_eq!(repo("localhost"), "docker.io/library/localhost");
    }

    #[test]
    fn registries_are_recognized_by_dot_colon_localhost_or_uppercase() {
        assert_eq!(repo("quay.io/team/app:v1"), "quay.io/team/app");
        assert_eq!(repo("localhost/app"), "localhost/app");
        assert_eq!(repo("localhost:5000/app"), "localhost:5000/app");
        assert_eq!(repo("reg:5000/app"), "reg:5000/app");
        assert_eq!(repo("Registry/app"), "Registry/app");
        assert_eq!(repo("myuser/app"), "docker.io/myuser/app");
        assert_eq!(repo("[::1]:5000/app"), "[::1]:5000/app");
    }

    #[test]
    fn tags_and_digests() {
        let digest = format!("sha256:{}", "a".repeat(64));
        let image = ImageRef::parse(&format!("quay.io/app:v1@{digest}")).unwrap();
        assert_eq!(image.tag.as_deref(), Some("v1"));
        assert_eq!(image.digest.as_deref(), Some(digest.as_str()));
        assert_eq!(repo("reg:5000/app:latest"), "reg:5000/app");
    }

    #[test]
    fn invalid_references_are_rejected() {
        for bad in [
            "",
            "quay.io/App",
            "nginx:",
            "nginx@sha256:abc",
            "quay.io//app",
            "quay.io/app-",
            "-quay.io/app",
            "reg:port/app",
            &"a".repeat(64),
            &format!("quay.io/{}", "a".repeat(256)),
        ] {
            assert!(ImageRef::parse(bad).is_err(), "{bad:?}");
        }
        assert!(ImageRef::parse("quay.io/a__b/c.d/e---f").is_ok());
        assert!(ImageRef::parse("quay.io/a___b").is_err());
    }
}
