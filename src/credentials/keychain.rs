//! The OS keychain through the `keyring` crate: Secret Service on Linux (gnome-keyring or
//! KWallet, over D-Bus with the pure-Rust zbus client), Keychain on macOS, Credential Manager
//! on Windows. One entry per registry under the service `kubectl-regcred`, plus an index entry
//! without secrets so logins can be enumerated on every platform.

use std::collections::BTreeMap;
use std::sync::mpsc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::helper::TOKEN_USERNAME;
use super::{CredentialError, Lookup, Origin, Password, Source, TokenKind};
use crate::rules::json::JsonFault;
use crate::rules::registry::Registry;

pub(crate) use crate::rules::credential::KEYCHAIN_SERVICE as SERVICE;
/// The index entry's account name; no registry key can look like it.
const INDEX_ACCOUNT: &str = "kubectl-regcred index";

/// One stored login: exactly what a credential helper's `store` received.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StoredLogin {
    #[serde(rename = "ServerURL")]
    pub(crate) server_url: String,
    #[serde(rename = "Username")]
    pub(crate) username: String,
    #[serde(rename = "Secret")]
    pub(crate) secret: Password,
}

/// Index: registry key → (server URL as given, username). Holds no secret.
type Index = BTreeMap<String, (String, String)>;

#[derive(Debug, thiserror::Error)]
pub(crate) enum KeychainError {
    #[error(
        "no OS keychain is available: {0}. On Linux this needs a Secret Service (gnome-keyring or KWallet) \
         on the D-Bus session bus; on a headless machine, run inside `dbus-run-session` after \
         `gnome-keyring-daemon --unlock`"
    )]
    Unavailable(String),
    #[error(
        "the keychain is locked or access was denied: {0}. Unlock it (gnome-keyring: `gnome-keyring-daemon --unlock`; \
         macOS: unlock the login keychain) and allow access, then try again"
    )]
    Locked(String),
    #[error("the keychain failed: {0}")]
    Failure(String),
    /// The keychain (on Linux, the D-Bus session) accepted the call and never answered.
    #[error(
        "the OS keychain did not answer within {0}s (set REGCRED_KEYCHAIN_TIMEOUT, in seconds, to wait longer)"
    )]
    NoAnswer(u64),
}

impl KeychainError {
    /// The cause alone, without the advice, for lists of places searched.
    pub(crate) fn reason(&self) -> &str {
        match self {
            Self::Unavailable(reason) | Self::Locked(reason) | Self::Failure(reason) => reason,
            Self::NoAnswer(_) => "it did not answer in time",
        }
    }
}

/// The key an entry is stored under: the canonical registry, so Docker Hub's aliases (and
/// `https://quay.io` vs `quay.io`) share one entry. Anything else (the helper protocol
/// accepts any text) is kept behind a `raw:` prefix, which no canonical registry and not
/// the index's own name can have: a server URL can never overwrite or erase the index.
pub(crate) fn entry_key(server_url: &str) -> String {
    Registry::parse(server_url).map_or_else(
        |_| format!("{RAW_KEY_PREFIX}{}", server_url.trim()),
        |r| r.to_string(),
    )
}

/// Marks keys that are not registries; `raw` is no valid host:port.
const RAW_KEY_PREFIX: &str = "raw:";

fn map_error(error: keyring::Error) -> KeychainError {
    match error {
        keyring::Error::NoDefaultStore => {
            let reason = match keyring::Entry::store_status() {
                Err(e) => e.to_string(),
                Ok(()) => "no credential store".to_string(),
            };
            KeychainError::Unavailable(reason)
        }
        keyring::Error::NoStorageAccess(e) => KeychainError::Locked(e.to_string()),
        keyring::Error::PlatformFailure(e) => {
            let text = e.to_string();
            let lower = text.to_ascii_lowercase();
            if lower.contains("dbus")
                || lower.contains("d-bus")
                || lower.contains("org.freedesktop")
                || lower.contains("address")
            {
                KeychainError::Unavailable(text)
            } else if lower.contains("locked")
                || lower.contains("dismissed")
                || lower.contains("denied")
            {
                KeychainError::Locked(text)
            } else {
                KeychainError::Failure(text)
            }
        }
        other => KeychainError::Failure(other.to_string()),
    }
}

/// How long one keychain call may take. Long enough for an unlock prompt; bounded, because
/// a D-Bus peer that never answers would otherwise hang `create`, and every `docker pull`
/// that uses our helper.
fn deadline() -> Duration {
    std::env::var("REGCRED_KEYCHAIN_TIMEOUT")
        .ok()
        .and_then(|secs| secs.trim().parse::<u64>().ok())
        .map_or(Duration::from_secs(30), Duration::from_secs)
}

/// Runs one call on the entry for `account` on a thread of its own, and gives up at the
/// deadline (the blocked thread is left behind; the process ends soon after).
fn with_entry<T: Send + 'static>(
    account: &str,
    call: impl FnOnce(keyring::Entry) -> Result<T, keyring::Error> + Send + 'static,
) -> Result<T, KeychainError> {
    let account = account.to_string();
    let (sender, answer) = mpsc::channel();
    std::thread::spawn(move || {
        let result = keyring::Entry::new(SERVICE, &account).and_then(call);
        let _ = sender.send(result);
    });
    let deadline = deadline();
    match answer.recv_timeout(deadline) {
        Ok(result) => result.map_err(map_error),
        Err(_) => Err(KeychainError::NoAnswer(deadline.as_secs())),
    }
}

/// `NoEntry` as "absent", which most calls expect.
fn absent_is_none<T>(result: Result<T, keyring::Error>) -> Result<Option<T>, keyring::Error> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(keyring::Error::NoEntry) => Ok(None),
        Err(e) => Err(e),
    }
}

fn read(account: &str) -> Result<Option<String>, KeychainError> {
    with_entry(account, |entry| absent_is_none(entry.get_password()))
}

fn write(account: &str, value: &str) -> Result<(), KeychainError> {
    let value = zeroize::Zeroizing::new(value.to_string());
    with_entry(account, move |entry| entry.set_password(&value))
}

fn delete(account: &str) -> Result<bool, KeychainError> {
    with_entry(account, |entry| {
        absent_is_none(entry.delete_credential()).map(|found| found.is_some())
    })
}

fn read_index() -> Result<Index, KeychainError> {
    match read(INDEX_ACCOUNT)? {
        None => Ok(Index::new()),
        Some(json) => serde_json::from_str(&json)
            .map_err(|e| KeychainError::Failure(format!("the kubectl-regcred index entry is unreadable ({}); run `kubectl regcred logout` for each login to reset it", JsonFault::of(&e)))),
    }
}

fn write_index(index: &Index) -> Result<(), KeychainError> {
    write(
        INDEX_ACCOUNT,
        &serde_json::to_string(index).expect("strings serialize"),
    )
}

/// Stores a login. The entry is written before the index; if the index cannot be written,
/// the entry is removed again, so nothing is half-written.
pub(crate) fn store(login: &StoredLogin) -> Result<(), KeychainError> {
    let key = entry_key(&login.server_url);
    let mut index = read_index()?;
    write(
        &key,
        &serde_json::to_string(login).expect("strings serialize"),
    )?;
    index.insert(
        key.clone(),
        (login.server_url.clone(), login.username.clone()),
    );
    if let Err(e) = write_index(&index) {
        let _ = delete(&key);
        return Err(e);
    }
    Ok(())
}

pub(crate) fn get(server_url: &str) -> Result<Option<StoredLogin>, KeychainError> {
    match read(&entry_key(server_url))? {
        None => Ok(None),
        Some(json) => serde_json::from_str(&json).map(Some).map_err(|e| {
            KeychainError::Failure(format!(
                "the entry for {server_url} is unreadable: {}",
                JsonFault::of(&e)
            ))
        }),
    }
}

/// Removes a login; `false` if there was none. The index is updated first and restored if
/// the entry cannot be deleted.
pub(crate) fn erase(server_url: &str) -> Result<bool, KeychainError> {
    let key = entry_key(server_url);
    let mut index = read_index()?;
    let previous = index.remove(&key);
    if previous.is_some() {
        write_index(&index)?;
    }
    match delete(&key) {
        Ok(found) => Ok(found || previous.is_some()),
        Err(e) => {
            if let Some(previous) = previous {
                index.insert(key, previous);
                let _ = write_index(&index);
            }
            Err(e)
        }
    }
}

/// Every login: server URL (as stored) → username.
pub(crate) fn list() -> Result<BTreeMap<String, String>, KeychainError> {
    Ok(read_index()?.into_values().collect())
}

/// The keychain as a credential source, between explicit flags and the docker config.
pub(crate) struct KeychainSource {
    /// Logins by registry; `None` when the keychain is unavailable and was optional.
    logins: Option<BTreeMap<Registry, String>>,
    unavailable: Option<String>,
    /// Set when the keychain hung: worth a warning, unlike a machine with no keychain.
    hung: Option<String>,
}

impl KeychainSource {
    /// `required`: `--from keychain` was given, so an unavailable keychain is an error.
    pub(crate) fn load(required: bool) -> Result<Self, CredentialError> {
        match read_index() {
            Ok(index) => Ok(Self {
                logins: Some(
                    index
                        .into_values()
                        .filter_map(|(url, _)| Registry::parse(&url).ok().map(|r| (r, url)))
                        .collect(),
                ),
                unavailable: None,
                hung: None,
            }),
            Err(e) if required => Err(CredentialError::Keychain(e)),
            Err(e) => Ok(Self {
                logins: None,
                unavailable: Some(e.reason().to_string()),
                hung: matches!(e, KeychainError::NoAnswer(_))
                    .then(|| format!("skipping the OS keychain: {e}")),
            }),
        }
    }
}

impl Source for KeychainSource {
    fn lookup(&self, registry: &Registry) -> Result<Lookup, CredentialError> {
        let not_found = |why: String| Lookup::NotFound {
            searched: vec![why],
        };
        let Some(logins) = &self.logins else {
            return Ok(not_found(format!(
                "the OS keychain (unavailable: {})",
                self.unavailable.as_deref().unwrap_or("")
            )));
        };
        let Some(url) = logins.get(registry) else {
            return Ok(not_found(format!(
                "the OS keychain ({SERVICE}): no login for {registry}"
            )));
        };
        let Some(login) = get(url).map_err(CredentialError::Keychain)? else {
            return Ok(not_found(format!(
                "the OS keychain ({SERVICE}): no login for {registry}"
            )));
        };
        if login.username == TOKEN_USERNAME {
            return Ok(Lookup::Unusable {
                origin: Origin::Keychain,
                kind: TokenKind::IdentityToken,
            });
        }
        Ok(Lookup::found(
            registry,
            login.username,
            login.secret.clone(),
            Origin::Keychain,
        ))
    }

    fn registries(&self, _warnings: &mut Vec<String>) -> Result<Vec<Registry>, CredentialError> {
        Ok(self.logins.iter().flat_map(|l| l.keys().cloned()).collect())
    }

    fn warnings(&self) -> Vec<String> {
        self.hung.iter().cloned().collect()
    }

    fn places(&self) -> Vec<String> {
        match &self.unavailable {
            None => vec![format!("the OS keychain ({SERVICE})")],
            Some(why) => vec![format!("the OS keychain (unavailable: {why})")],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_logins_never_show_their_secret_in_debug() {
        let login = StoredLogin {
            server_url: "quay.io".into(),
            username: "robot".into(),
            secret: Password::new("S3CRET-CANARY".into()),
        };
        assert!(!format!("{login:?}").contains("CANARY"));
        // The helper protocol and the keychain still see the plain string.
        assert!(
            serde_json::to_string(&login)
                .unwrap()
                .contains("\"Secret\":\"S3CRET-CANARY\"")
        );
    }

    #[test]
    fn aliases_share_one_entry() {
        assert_eq!(entry_key("https://index.docker.io/v1/"), "docker.io");
        assert_eq!(entry_key("docker.io"), "docker.io");
        assert_eq!(entry_key("https://quay.io"), "quay.io");
        assert_eq!(entry_key("not a url"), "raw:not a url");
        assert_ne!(entry_key("quay.io"), INDEX_ACCOUNT);
        // The index's own name, and anything else that is no registry, maps elsewhere.
        for raw in [
            INDEX_ACCOUNT,
            " kubectl-regcred index ",
            "raw:x",
            "not a registry",
        ] {
            let key = entry_key(raw);
            assert_ne!(key, INDEX_ACCOUNT, "{raw:?}");
            assert!(key.starts_with(RAW_KEY_PREFIX), "{raw:?} → {key}");
            assert!(Registry::parse(&key).is_err(), "{key}");
        }
    }

    #[test]
    fn stored_logins_use_the_helper_protocols_field_names() {
        let login = StoredLogin {
            server_url: "quay.io".into(),
            username: "u".into(),
            secret: Password::new("s".into()),
        };
        assert_eq!(
            serde_json::to_string(&login).unwrap(),
            r#"{"ServerURL":"quay.io","Username":"u","Secret":"s"}"#
        );
    }
}
