//! When a registry password stops working, where that can be read offline from the password
//! itself (docs/semantics.md §10): an ECR token, or a JWT such as an ACR refresh token or a
//! GAR access token in JWT form. Anything else has no known expiry: it is never guessed.

use base64::Engine;
use k8s_openapi::jiff::{SignedDuration, Timestamp};

/// How close to its expiry a credential counts as `EXPIRING`.
pub const EXPIRING_WITHIN: SignedDuration = SignedDuration::from_hours(1);

/// The expiry the password carries, if it carries one.
pub fn expiry_of(password: &str) -> Option<Timestamp> {
    ecr_expiry(password).or_else(|| jwt_expiry(password))
}

/// ECR's `GetAuthorizationToken` password: standard base64 of a JSON object whose
/// `expiration` is a Unix time in seconds.
fn ecr_expiry(password: &str) -> Option<Timestamp> {
    let json = base64::engine::general_purpose::STANDARD
        .decode(password.trim())
        .ok()?;
    let value: serde_json::Value = serde_json::from_slice(&json).ok()?;
    seconds(value.get("expiration")?)
}

/// A JWT (`header.payload.signature`, base64url without padding): its `exp` claim. The
/// signature is not checked; only the registry can, and an expiry is all this needs.
fn jwt_expiry(password: &str) -> Option<Timestamp> {
    let mut parts = password.trim().split('.');
    let (_header, payload, _signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let value: serde_json::Value = serde_json::from_slice(&json).ok()?;
    seconds(value.get("exp")?)
}

fn seconds(value: &serde_json::Value) -> Option<Timestamp> {
    let seconds = value
        .as_i64()
        .or_else(|| value.as_f64().filter(|s| s.is_finite()).map(|s| s as i64))?;
    Timestamp::from_second(seconds).ok()
}

/// Where a credential stands at `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    Valid,
    Expiring,
    Expired,
}

/// Where a credential that expires at `expires` stands at `now`.
pub fn freshness(expires: Timestamp, now: Timestamp) -> Freshness {
    if expires <= now {
        Freshness::Expired
    } else if expires.duration_since(now) <= EXPIRING_WITHIN {
        Freshness::Expiring
    } else {
        Freshness::Valid
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(bytes: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    fn jwt(claims: &str) -> String {
        let part = |text: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text);
        format!(
            "{}.{}.{}",
            part(r#"{"alg":"RS256"}"#),
            part(claims),
            part("sig")
        )
    }

    #[test]
    fn ecr_tokens_carry_their_expiration() {
        let password = b64(br#"{"payload":"x","datakey":"y","version":"2","type":"DATA_KEY","expiration":1700000000}"#);
        assert_eq!(
            expiry_of(&password),
            Some(Timestamp::from_second(1_700_000_000).unwrap())
        );
    }

    #[test]
    fn jwts_carry_exp() {
        assert_eq!(
            expiry_of(&jwt(r#"{"exp":1800000000,"sub":"robot"}"#)),
            Some(Timestamp::from_second(1_800_000_000).unwrap())
        );
        assert_eq!(expiry_of(&jwt(r#"{"sub":"robot"}"#)), None);
        assert_eq!(expiry_of(&jwt(r#"{"exp":"soon"}"#)), None);
    }

    #[test]
    fn ordinary_passwords_have_no_expiry() {
        for password in [
            "hunter2",
            "a.b.c",
            "",
            &b64(b"{}"),
            &b64(b"not json"),
            "x.y.z.w",
        ] {
            assert_eq!(expiry_of(password), None, "{password}");
        }
    }

    #[test]
    fn freshness_has_an_hour_of_warning() {
        let now = Timestamp::from_second(1_000_000).unwrap();
        let at = |s: i64| Timestamp::from_second(1_000_000 + s).unwrap();
        assert_eq!(freshness(at(-1), now), Freshness::Expired);
        assert_eq!(freshness(at(0), now), Freshness::Expired);
        assert_eq!(freshness(at(3600), now), Freshness::Expiring);
        assert_eq!(freshness(at(3601), now), Freshness::Valid);
    }
}
