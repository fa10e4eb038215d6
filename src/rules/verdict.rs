//! What a registry said about a login: the verdicts of `verify` and `check --probe`
//! (docs/verify.md), and the pure readings of registry answers they rest on.

use base64::Engine;

/// One login's verdict, per registry or per image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "SCREAMING-KEBAB-CASE")]
pub enum RegistryVerdict {
    /// The credentials are accepted (and, with an image, its manifest is served).
    Valid,
    /// The registry or its token service refused the credentials.
    BadCredentials,
    /// Authenticated, but the image is refused, or the token service left out its pull scope.
    NoPullAccess,
    /// The login's known expiry has passed, or the registry says the token expired.
    Expired,
    /// Authenticated, but the image's repository or tag does not exist.
    NotFound,
    /// DNS, connect or timeout failure.
    Unreachable,
    /// The TLS handshake failed (untrusted or invalid certificate).
    Tls,
    /// No registry v2 API at that address.
    NotARegistry,
}

impl RegistryVerdict {
    /// The verdict as printed and in `-o json`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Valid => "VALID",
            Self::BadCredentials => "BAD-CREDENTIALS",
            Self::NoPullAccess => "NO-PULL-ACCESS",
            Self::Expired => "EXPIRED",
            Self::NotFound => "NOT-FOUND",
            Self::Unreachable => "UNREACHABLE",
            Self::Tls => "TLS",
            Self::NotARegistry => "NOT-A-REGISTRY",
        }
    }

    /// What to do about it when the failure came from `login` itself, which "log in again"
    /// would only send the user back to.
    pub fn fix_when_logging_in(self) -> Option<&'static str> {
        match self {
            Self::BadCredentials => Some("check the username and the password or token given"),
            Self::Expired => Some("get a new token and log in with it"),
            other => other.fix(),
        }
    }

    /// What to do about it, for the human output.
    pub fn fix(self) -> Option<&'static str> {
        match self {
            Self::Valid => None,
            Self::BadCredentials => {
                Some("log in again (docker login, or kubectl regcred login), then sync the copies")
            }
            Self::NoPullAccess => Some(
                "give this account pull rights on the repository, or use one that has them (a robot account)",
            ),
            Self::Expired => Some("refresh the token, then run kubectl regcred sync NAME"),
            Self::NotFound => Some("check the image name and tag"),
            Self::Unreachable => Some("check the registry address, the network and any proxy"),
            Self::Tls => Some(
                "pass the registry's CA with --ca-file (or, knowing the risk, --insecure-skip-tls-verify)",
            ),
            Self::NotARegistry => Some("check the registry address: it serves no /v2/ API"),
        }
    }
}

impl std::fmt::Display for RegistryVerdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a bearer token grants `pull` on `repository`, read from the `access` claim the
/// distribution token spec defines. `None` when the token is not a JWT with that claim (an
/// opaque token): then only the manifest request can tell. A token server must grant less
/// rather than fail when the user holds only part of a scope (docs/semantics.md §8), so a
/// token alone proves nothing about pull rights.
pub fn grants_pull(token: &str, repository: &str) -> Option<bool> {
    let mut parts = token.split('.');
    let (_header, payload) = (parts.next()?, parts.next()?);
    parts.next()?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let access = claims.get("access")?.as_array()?;
    Some(access.iter().any(|entry| {
        entry["type"] == "repository"
            && entry["name"] == repository
            && entry["actions"]
                .as_array()
                .is_some_and(|actions| actions.iter().any(|a| a == "pull" || a == "*"))
    }))
}

/// The `errors[].code` values of a registry error body (distribution's error format).
pub fn error_codes(body: &str) -> Vec<String> {
    let Ok(value) = serde_json::from_str::<serde_json::Value>(body) else {
        return Vec::new();
    };
    value["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .filter_map(|e| e["code"].as_str().map(str::to_ascii_uppercase))
                .collect()
        })
        .unwrap_or_default()
}

/// Whether a refusal says the token expired (registries word it in the message or the
/// OAuth `error_description`, never with a code of its own).
pub fn says_expired(body: &str) -> bool {
    body.to_ascii_lowercase().contains("expired")
}

/// The verdict for a manifest request made with accepted credentials.
pub fn manifest_verdict(status: u16, codes: &[String]) -> RegistryVerdict {
    let denied = codes
        .iter()
        .any(|c| c == "DENIED" || c == "UNAUTHORIZED" || c == "FORBIDDEN");
    match status {
        200..=299 => RegistryVerdict::Valid,
        401 | 403 => RegistryVerdict::NoPullAccess,
        // Quay and others answer 404 for a repository you may not see.
        404 if denied => RegistryVerdict::NoPullAccess,
        404 => RegistryVerdict::NotFound,
        _ => RegistryVerdict::NotARegistry,
    }
}

/// One `WWW-Authenticate` challenge (RFC 2617 style): the lower-cased scheme and its
/// parameters, names lower-cased, values unquoted with `\` escapes.
pub fn parse_challenge(header: &str) -> Option<(String, Vec<(String, String)>)> {
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

    fn jwt(claims: serde_json::Value) -> String {
        let encode = |v: &serde_json::Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
        };
        format!(
            "{}.{}.c2ln",
            encode(&serde_json::json!({"alg": "RS256"})),
            encode(&claims)
        )
    }

    #[test]
    fn the_granted_scope_decides_pull_rights_when_the_token_shows_it() {
        let pull = jwt(serde_json::json!({"access": [
            {"type": "repository", "name": "team/app", "actions": ["pull"]}
        ]}));
        assert_eq!(grants_pull(&pull, "team/app"), Some(true));
        assert_eq!(grants_pull(&pull, "team/other"), Some(false));
        // What a spec-following server grants a user with no rights: an empty scope.
        let empty = jwt(serde_json::json!({"access": []}));
        assert_eq!(grants_pull(&empty, "team/app"), Some(false));
        let push_only = jwt(serde_json::json!({"access": [
            {"type": "repository", "name": "team/app", "actions": ["push"]}
        ]}));
        assert_eq!(grants_pull(&push_only, "team/app"), Some(false));
        let wildcard = jwt(serde_json::json!({"access": [
            {"type": "repository", "name": "team/app", "actions": ["*"]}
        ]}));
        assert_eq!(grants_pull(&wildcard, "team/app"), Some(true));
        // Opaque tokens and JWTs without the claim say nothing.
        assert_eq!(grants_pull("opaque-token", "team/app"), None);
        assert_eq!(
            grants_pull(&jwt(serde_json::json!({"sub": "x"})), "team/app"),
            None
        );
    }

    #[test]
    fn manifest_answers_map_to_verdicts() {
        let codes = |body: &str| error_codes(body);
        assert_eq!(manifest_verdict(200, &[]), RegistryVerdict::Valid);
        assert_eq!(manifest_verdict(401, &[]), RegistryVerdict::NoPullAccess);
        assert_eq!(manifest_verdict(403, &[]), RegistryVerdict::NoPullAccess);
        assert_eq!(
            manifest_verdict(
                404,
                &codes(r#"{"errors":[{"code":"DENIED","message":"x"}]}"#)
            ),
            RegistryVerdict::NoPullAccess
        );
        assert_eq!(
            manifest_verdict(404, &codes(r#"{"errors":[{"code":"MANIFEST_UNKNOWN"}]}"#)),
            RegistryVerdict::NotFound
        );
        assert_eq!(
            manifest_verdict(404, &codes("not json")),
            RegistryVerdict::NotFound
        );
        assert_eq!(manifest_verdict(500, &[]), RegistryVerdict::NotARegistry);
    }

    #[test]
    fn verdicts_print_as_the_docs_spell_them() {
        assert_eq!(
            RegistryVerdict::BadCredentials.to_string(),
            "BAD-CREDENTIALS"
        );
        assert_eq!(
            serde_json::to_value(RegistryVerdict::NoPullAccess).unwrap(),
            "NO-PULL-ACCESS"
        );
        assert_eq!(serde_json::to_value(RegistryVerdict::Tls).unwrap(), "TLS");
        assert!(says_expired(
            r#"{"error":"invalid_grant","error_description":"Token Expired"}"#
        ));
        assert!(RegistryVerdict::Valid.fix().is_none());
    }
}
