//! `verify`: does a registry accept a login, and may it pull an image? The flow of
//! docs/verify.md: an unauthenticated `GET /v2/` first (GHCR refuses Basic sent up front),
//! then Basic or a token from the challenge's realm, then `GET /v2/` again; with an image,
//! the granted scope and a manifest request prove pull rights.

use base64::Engine;
use k8s_openapi::jiff::Timestamp;

use super::anonymous::{reference, token_of};
use super::{
    MANIFEST_TYPES, Transport, api_host, body_text, challenges, param, realm_allowed, url_host,
};
use crate::rules::expiry::expiry_of;
use crate::rules::image::ImageRef;
use crate::rules::verdict::{self, RegistryVerdict};

/// The login to check. Never printed: only the registry and the username are.
#[derive(Clone, Copy)]
pub(crate) struct Login<'a> {
    /// The registry's domain (`host[:port]`; `docker.io` for Docker Hub).
    pub(crate) domain: &'a str,
    pub(crate) username: &'a str,
    pub(crate) password: &'a str,
}

// By hand, so that no `{:?}` can show the password.
impl std::fmt::Debug for Login<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Login")
            .field("domain", &self.domain)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// What the registry said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LoginOutcome {
    pub(crate) verdict: RegistryVerdict,
    /// Why, in words; never a secret.
    pub(crate) reason: String,
    /// The token service's host when it is not the registry's (Docker Hub's auth.docker.io).
    pub(crate) token_service: Option<String>,
}

impl LoginOutcome {
    fn new(verdict: RegistryVerdict, reason: impl Into<String>) -> Self {
        Self {
            verdict,
            reason: reason.into(),
            token_service: None,
        }
    }
}

/// How the registry wants to be spoken to, learnt from the unauthenticated ping.
enum Authorization {
    /// `GET /v2/` answered 200: the registry is open.
    None,
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
    },
}

/// Verifies one login, optionally for one image. `now` decides a known expiry.
pub(crate) fn verify(
    transport: &Transport,
    login: &Login<'_>,
    image: Option<&ImageRef>,
    now: Timestamp,
) -> LoginOutcome {
    if let Some(expiry) = expiry_of(login.password).filter(|expiry| *expiry <= now) {
        return LoginOutcome::new(
            RegistryVerdict::Expired,
            format!("the token expired at {expiry}"),
        );
    }
    let host = api_host(login.domain);
    let mut last = LoginOutcome::new(RegistryVerdict::Unreachable, format!("{host}: not tried"));
    for base in transport.bases(host) {
        match ping(transport, &base) {
            Ok(authorization) => {
                return verify_at(transport, &base, host, login, image, authorization);
            }
            Err(PingFailure::TryPlainHttp(outcome)) => last = outcome,
            Err(PingFailure::Final(outcome)) => return outcome,
        }
    }
    last
}

enum PingFailure {
    /// The https attempt met something that is not TLS; a loopback registry may speak http.
    TryPlainHttp(LoginOutcome),
    Final(LoginOutcome),
}

/// `GET /v2/` without credentials.
fn ping(transport: &Transport, base: &str) -> Result<Authorization, PingFailure> {
    let url = format!("{base}/v2/");
    let response = transport
        .get(&url)
        .call()
        .map_err(|error| classify(transport, &url, error))?;
    let status = response.status().as_u16();
    match status {
        200 => Ok(Authorization::None),
        401 => {
            let challenges = challenges(&response);
            if let Some((_, params)) = challenges.iter().find(|(scheme, _)| scheme == "bearer") {
                return match param(params, "realm") {
                    Some(realm) => Ok(Authorization::Bearer {
                        realm: realm.to_string(),
                        service: param(params, "service").map(str::to_string),
                    }),
                    None => Err(PingFailure::Final(LoginOutcome::new(
                        RegistryVerdict::NotARegistry,
                        format!("{url}: its Bearer challenge names no token service (realm)"),
                    ))),
                };
            }
            if challenges.iter().any(|(scheme, _)| scheme == "basic") {
                return Ok(Authorization::Basic);
            }
            Err(PingFailure::Final(LoginOutcome::new(
                RegistryVerdict::NotARegistry,
                format!("{url} answered 401 without a Basic or Bearer challenge"),
            )))
        }
        _ => Err(PingFailure::Final(LoginOutcome::new(
            RegistryVerdict::NotARegistry,
            format!("{url} answered {status}, not the registry v2 API"),
        ))),
    }
}

/// A failed request as a verdict. Certificate problems are `TLS`; other TLS failures on an
/// https attempt may mean the server speaks plain http.
fn classify(transport: &Transport, url: &str, error: ureq::Error) -> PingFailure {
    match tls_error(&error) {
        Some(rustls::Error::InvalidCertificate(reason)) => PingFailure::Final(LoginOutcome::new(
            RegistryVerdict::Tls,
            format!("{url}: the certificate is not trusted: {reason:?}"),
        )),
        Some(other) => PingFailure::TryPlainHttp(LoginOutcome::new(
            RegistryVerdict::Tls,
            format!("{url}: the TLS handshake failed: {other}"),
        )),
        None => PingFailure::Final(unreachable(transport, url, &error)),
    }
}

/// The rustls error behind a failed request: ureq reports handshake failures either as its
/// own variant or as an I/O error wrapping rustls's.
fn tls_error(error: &ureq::Error) -> Option<&rustls::Error> {
    match error {
        ureq::Error::Rustls(e) => Some(e),
        ureq::Error::Io(e) => e.get_ref()?.downcast_ref::<rustls::Error>(),
        _ => None,
    }
}

fn unreachable(transport: &Transport, url: &str, error: &ureq::Error) -> LoginOutcome {
    LoginOutcome::new(RegistryVerdict::Unreachable, transport.failure(url, error))
}

fn verify_at(
    transport: &Transport,
    base: &str,
    host: &str,
    login: &Login<'_>,
    image: Option<&ImageRef>,
    authorization: Authorization,
) -> LoginOutcome {
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", login.username, login.password))
    );
    let (header, token_service) = match authorization {
        Authorization::None => {
            let open = LoginOutcome::new(
                RegistryVerdict::Valid,
                "the registry is open: it asks for no login",
            );
            return match image {
                Some(image) => pull(transport, base, image, None).unwrap_or(open),
                None => open,
            };
        }
        Authorization::Basic => (basic, None),
        Authorization::Bearer { realm, service } => {
            let realm_host = url_host(&realm).to_string();
            let token_service = (realm_host != host).then_some(realm_host);
            match bearer(
                transport,
                &realm,
                service.as_deref(),
                host,
                login,
                &basic,
                image,
            ) {
                Ok(header) => (header, token_service),
                Err(outcome) => {
                    return LoginOutcome {
                        token_service,
                        ..outcome
                    };
                }
            }
        }
    };
    let url = format!("{base}/v2/");
    let outcome = match transport.get(&url).header("Authorization", &header).call() {
        Err(error) => unreachable(transport, &url, &error),
        Ok(mut response) => match response.status().as_u16() {
            200 => match image {
                Some(image) => pull(transport, base, image, Some(&header)).unwrap_or_else(|| {
                    LoginOutcome::new(
                        RegistryVerdict::Valid,
                        format!("{} may pull it", login.username),
                    )
                }),
                None => LoginOutcome::new(
                    RegistryVerdict::Valid,
                    format!("{} is logged in", login.username),
                ),
            },
            status @ (401 | 403) => refused(status, &body_text(&mut response), "the registry"),
            status => LoginOutcome::new(
                RegistryVerdict::NotARegistry,
                format!("{url} answered {status} to the login"),
            ),
        },
    };
    LoginOutcome {
        token_service,
        ..outcome
    }
}

/// The `Bearer` header from the realm's token, or the verdict that stops here: a realm over
/// plain http is never sent credentials, and a token granting no pull on the image is
/// `NO-PULL-ACCESS` (docs/verify.md).
fn bearer(
    transport: &Transport,
    realm: &str,
    service: Option<&str>,
    host: &str,
    login: &Login<'_>,
    basic: &str,
    image: Option<&ImageRef>,
) -> Result<String, LoginOutcome> {
    if !realm_allowed(realm, host, transport.plain_http) {
        return Err(LoginOutcome::new(
            RegistryVerdict::NotARegistry,
            format!(
                "its token service {} is plain http; credentials not sent there",
                url_host(realm)
            ),
        ));
    }
    let token = token(transport, realm, service, login, basic, image)?;
    if let Some(image) = image
        && verdict::grants_pull(&token, &image.path) == Some(false)
    {
        return Err(LoginOutcome::new(
            RegistryVerdict::NoPullAccess,
            format!(
                "the token service granted {} no pull on {}",
                login.username, image.path
            ),
        ));
    }
    Ok(format!("Bearer {token}"))
}

/// A refusal of the credentials: `EXPIRED` when the answer says so.
fn refused(status: u16, body: &str, by: &str) -> LoginOutcome {
    if verdict::says_expired(body) {
        LoginOutcome::new(
            RegistryVerdict::Expired,
            format!("{by} answered {status}: the token expired"),
        )
    } else {
        LoginOutcome::new(
            RegistryVerdict::BadCredentials,
            format!("{by} refused the credentials ({status})"),
        )
    }
}

/// Asks the realm for a token with Basic credentials (docs/semantics.md §8, step 4).
fn token(
    transport: &Transport,
    realm: &str,
    service: Option<&str>,
    login: &Login<'_>,
    basic: &str,
    image: Option<&ImageRef>,
) -> Result<String, LoginOutcome> {
    let mut request = transport
        .get(realm)
        .query("account", login.username)
        .header("Authorization", basic);
    if let Some(service) = service {
        request = request.query("service", service);
    }
    if let Some(image) = image {
        request = request.query("scope", format!("repository:{}:pull", image.path));
    }
    let realm_host = url_host(realm);
    let mut response = request
        .call()
        .map_err(|error| unreachable(transport, realm_host, &error))?;
    let status = response.status().as_u16();
    let body = body_text(&mut response);
    match status {
        200 => token_of(&body).ok_or_else(|| {
            LoginOutcome::new(
                RegistryVerdict::NotARegistry,
                format!("the token service {realm_host} answered without a token"),
            )
        }),
        // public.ecr.aws answers 400 to an expired token.
        400 | 401 | 403 => Err(refused(
            status,
            &body,
            &format!("the token service {realm_host}"),
        )),
        _ => Err(LoginOutcome::new(
            RegistryVerdict::Unreachable,
            format!("the token service {realm_host} answered {status}"),
        )),
    }
}

/// The manifest request that proves pull rights. `None` when the answer is a plain yes
/// and the caller's own wording should stand.
fn pull(
    transport: &Transport,
    base: &str,
    image: &ImageRef,
    authorization: Option<&str>,
) -> Option<LoginOutcome> {
    let url = format!("{base}/v2/{}/manifests/{}", image.path, reference(image));
    let request = |head: bool| {
        let mut request = if head {
            transport.head(&url)
        } else {
            transport.get(&url)
        }
        .header("Accept", MANIFEST_TYPES);
        if let Some(authorization) = authorization {
            request = request.header("Authorization", authorization);
        }
        request.call()
    };
    let response = match request(true) {
        Ok(response) => response,
        Err(error) => return Some(unreachable(transport, &url, &error)),
    };
    let status = response.status().as_u16();
    // A HEAD answer has no body; a 404 is asked again to tell "denied" from "unknown".
    let codes = if status == 404 {
        match request(false) {
            Ok(mut response) => verdict::error_codes(&body_text(&mut response)),
            Err(_) => Vec::new(),
        }
    } else {
        Vec::new()
    };
    let verdict = verdict::manifest_verdict(status, &codes);
    let named = format!("{}/{}:{}", image.domain, image.path, reference(image));
    Some(match verdict {
        RegistryVerdict::Valid => return None,
        RegistryVerdict::NoPullAccess => LoginOutcome::new(
            verdict,
            format!("{named}: the manifest request was refused ({status})"),
        ),
        RegistryVerdict::NotFound => LoginOutcome::new(verdict, format!("{named} does not exist")),
        _ => LoginOutcome::new(verdict, format!("{url} answered {status}")),
    })
}

/// One check of a batch: a login, owned, and the image it must pull, if any.
#[derive(Debug, Clone)]
pub(crate) struct LoginCheck {
    pub(crate) domain: String,
    pub(crate) username: String,
    pub(crate) password: crate::rules::credential::Password,
    pub(crate) image: Option<ImageRef>,
}

/// Runs checks on blocking threads, a few at once, and answers in their order.
pub(crate) async fn verify_all(
    transport: &Transport,
    checks: Vec<LoginCheck>,
    now: Timestamp,
) -> Vec<LoginOutcome> {
    use futures::StreamExt;
    // Registries are few; more at once would only look like an attack to them.
    const CONCURRENCY: usize = 8;
    futures::stream::iter(checks)
        .map(|check| {
            let transport = transport.clone();
            async move {
                tokio::task::spawn_blocking(move || {
                    let login = Login {
                        domain: &check.domain,
                        username: &check.username,
                        password: check.password.expose(),
                    };
                    verify(&transport, &login, check.image.as_ref(), now)
                })
                .await
                .unwrap_or_else(|e| {
                    LoginOutcome::new(
                        RegistryVerdict::Unreachable,
                        format!("the check failed: {e}"),
                    )
                })
            }
        })
        .buffered(CONCURRENCY)
        .collect()
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_password() {
        let login = Login {
            domain: "quay.io",
            username: "robot",
            password: "S3CRET",
        };
        let shown = format!("{login:?}");
        assert!(
            !shown.contains("S3CRET") && shown.contains("robot"),
            "{shown}"
        );
    }
}
