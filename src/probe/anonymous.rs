//! `check --probe`: does a registry serve an image to anyone, without credentials?

use std::time::Duration;

use super::{
    MANIFEST_TYPES, Transport, TransportSettings, api_host, body_text, challenges, param,
    realm_allowed,
};
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

pub(crate) fn probe(image: &ImageRef, timeout: Duration) -> Anonymous {
    let transport = match Transport::new(&TransportSettings::with_timeout(timeout)) {
        Ok(transport) => transport,
        Err(e) => return Anonymous::Unknown(e.to_string()),
    };
    let mut last_error = String::new();
    for base in transport.bases(api_host(&image.domain)) {
        match probe_at(&transport, &base, image) {
            Ok(answer) => return answer,
            Err(e) => last_error = e.to_string(),
        }
    }
    Anonymous::Unknown(last_error)
}

/// A probe request that got no answer.
#[derive(Debug, thiserror::Error)]
enum ProbeError {
    /// The request failed: the URL, the proxy it went through, and why.
    #[error("{0}")]
    Request(String),
    #[error("the Bearer challenge has no realm")]
    NoRealm,
    #[error("the token realm {0:?} is not https; not asked")]
    RealmRefused(String),
}

impl ProbeError {
    fn request<'a>(
        transport: &'a Transport,
        url: &'a str,
    ) -> impl FnOnce(ureq::Error) -> Self + 'a {
        move |error| Self::Request(transport.failure(url, &error))
    }
}

fn probe_at(transport: &Transport, base: &str, image: &ImageRef) -> Result<Anonymous, ProbeError> {
    let manifest = format!("{base}/v2/{}/manifests/{}", image.path, reference(image));
    let first = transport
        .head(&manifest)
        .header("Accept", MANIFEST_TYPES)
        .call()
        .map_err(ProbeError::request(transport, base))?;
    let token = match first.status().as_u16() {
        200 => return Ok(Anonymous::Allowed),
        401 => {
            let Some((_, bearer)) = challenges(&first)
                .into_iter()
                .find(|(scheme, _)| scheme == "bearer")
            else {
                return Ok(Anonymous::Refused(format!(
                    "{} asks for a login",
                    image.domain
                )));
            };
            anonymous_token(transport, &bearer, image)?
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
    let second = transport
        .head(&manifest)
        .header("Accept", MANIFEST_TYPES)
        .header("Authorization", &format!("Bearer {token}"))
        .call()
        .map_err(ProbeError::request(transport, base))?;
    Ok(match second.status().as_u16() {
        200 => Anonymous::Allowed,
        status @ (401 | 403) => Anonymous::Refused(format!("{status} with an anonymous token")),
        404 => Anonymous::Unknown("the manifest was not found".into()),
        other => Anonymous::Unknown(format!("the registry answered {other}")),
    })
}

/// The tag or digest a manifest request names (`latest` when the image has neither).
pub(super) fn reference(image: &ImageRef) -> String {
    image
        .digest
        .clone()
        .or_else(|| image.tag.clone())
        .unwrap_or_else(|| "latest".to_string())
}

/// Asks the token service for an anonymous pull token. `Ok(None)`: refused.
fn anonymous_token(
    transport: &Transport,
    params: &[(String, String)],
    image: &ImageRef,
) -> Result<Option<String>, ProbeError> {
    let realm = param(params, "realm").ok_or(ProbeError::NoRealm)?;
    if !realm_allowed(realm, api_host(&image.domain), false) {
        return Err(ProbeError::RealmRefused(realm.to_string()));
    }
    let mut request = transport
        .get(realm)
        .query("scope", format!("repository:{}:pull", image.path));
    if let Some(service) = param(params, "service") {
        request = request.query("service", service);
    }
    let mut response = request
        .call()
        .map_err(ProbeError::request(transport, realm))?;
    if response.status().as_u16() != 200 {
        return Ok(None);
    }
    Ok(token_of(&body_text(&mut response)))
}

/// The token of a token service's JSON answer: `token`, or OAuth's `access_token`.
pub(super) fn token_of(body: &str) -> Option<String> {
    let body: serde_json::Value = serde_json::from_str(body).ok()?;
    body["token"]
        .as_str()
        .or(body["access_token"].as_str())
        .filter(|token| !token.is_empty())
        .map(str::to_string)
}
