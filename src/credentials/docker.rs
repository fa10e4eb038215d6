//! The docker CLI's `config.json` (docs/semantics.md §1): `DOCKER_AUTH_CONFIG` first, then
//! `credHelpers[host]`, then `credsStore`, then plain `auths` entries.

use std::cell::OnceCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::helper::{Helper, HelperCredential};
use super::{
    CredentialError, HelperSetting, LocalEnv, Lookup, Origin, Password, Source, TokenKind,
    keys_by_registry, read_optional,
};
use crate::rules::auth_files::{DockerConfig, parse_docker_auth_config, parse_docker_config};
use crate::rules::registry::Registry;

pub(crate) struct DockerSource {
    path: PathBuf,
    /// `None` when the file does not exist (not an error, as with docker).
    file: Option<DockerConfig>,
    /// Decoded `DOCKER_AUTH_CONFIG` entries by registry.
    env_auths: BTreeMap<Registry, (String, Password)>,
    env_set: bool,
    helper_timeout: Duration,
    /// docker's `DetectDefaultStore`, only when the file names no auths, store or helpers.
    default_store: Option<String>,
    /// Server URLs from the store's `list`, by registry, once enumerated.
    listed: OnceCell<BTreeMap<Registry, Vec<String>>>,
    /// The file's `auths` keys by the registry each names, parsed once (in key order), so a
    /// lookup never scans them all.
    auth_keys: BTreeMap<Registry, Vec<String>>,
    /// `credHelpers` by the host each key names (the first in key order), parsed once.
    helpers_by_host: BTreeMap<String, String>,
}

impl DockerSource {
    pub(crate) fn load(
        env: &LocalEnv,
        override_path: Option<&Path>,
        helper_timeout: Duration,
    ) -> Result<Self, CredentialError> {
        let path = match (override_path, &env.docker_config_dir, &env.home) {
            (Some(path), _, _) => path.to_path_buf(),
            (None, Some(dir), _) => dir.join("config.json"),
            (None, None, Some(home)) => home.join(".docker").join("config.json"),
            (None, None, None) => PathBuf::from(".docker/config.json"),
        };
        let text = read_optional(&path)?;
        if text.is_none() && override_path.is_some() {
            return Err(CredentialError::LocalFile(
                crate::local_file::LocalFileError::Io {
                    path,
                    source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
                },
            ));
        }
        let file = match text {
            Some(text) => Some(parse_docker_config(&text, &path.display().to_string())?),
            None => None,
        };
        let env_auths = match &env.docker_auth_config {
            Some(json) => parse_docker_auth_config(json)?,
            None => BTreeMap::new(),
        };
        let names_nothing = file.as_ref().is_none_or(|f| {
            f.auths.is_empty() && f.creds_store.is_empty() && f.cred_helpers.is_empty()
        });
        let default_store = if names_nothing {
            detect_default_store(env.path.as_deref())
        } else {
            None
        };
        let mut auth_keys: BTreeMap<Registry, Vec<String>> = BTreeMap::new();
        for key in file.iter().flat_map(|f| f.auths.keys()) {
            if let Ok(registry) = Registry::parse(key) {
                auth_keys.entry(registry).or_default().push(key.clone());
            }
        }
        let mut helpers_by_host: BTreeMap<String, String> = BTreeMap::new();
        for (key, name) in file.iter().flat_map(|f| f.cred_helpers.iter()) {
            if let Ok(registry) = Registry::parse(key) {
                helpers_by_host
                    .entry(registry.host().to_string())
                    .or_insert_with(|| name.clone());
            }
        }
        Ok(Self {
            auth_keys,
            helpers_by_host,
            path,
            file,
            env_auths,
            env_set: env.docker_auth_config.is_some(),
            helper_timeout,
            default_store,
            listed: OnceCell::new(),
        })
    }

    /// The helper docker would ask for this registry, with the setting that chose it.
    fn helper_for(&self, registry: &Registry) -> Option<(Helper, HelperSetting)> {
        let file = self.file.as_ref();
        let by_host = self.helpers_by_host.get(registry.host());
        let (name, setting) = match (by_host, file.map(|f| f.creds_store.as_str())) {
            (Some(name), _) => (name.as_str(), HelperSetting::CredHelpers),
            (None, Some(store)) if !store.is_empty() => (store, HelperSetting::CredsStore),
            _ => (self.default_store.as_deref()?, HelperSetting::DefaultStore),
        };
        Some((Helper::new(name, self.helper_timeout), setting))
    }

    /// Spellings to pass to a helper's `get`: those the file records, then docker's own key.
    fn helper_server_urls(&self, registry: &Registry) -> Vec<String> {
        // A store's `list` (run while enumerating) gives the exact spelling of each login.
        let mut urls: Vec<String> = self
            .listed
            .get()
            .map(|listed| listed.get(registry).cloned().unwrap_or_default())
            .unwrap_or_default();
        urls.extend(self.auth_keys.get(registry).into_iter().flatten().cloned());
        urls.push(registry.docker_config_key());
        let mut seen = std::collections::HashSet::new();
        urls.retain(|url| seen.insert(url.clone()));
        urls
    }

    fn lookup_with_helper(
        &self,
        registry: &Registry,
        helper: &Helper,
        setting: HelperSetting,
    ) -> Result<Lookup, CredentialError> {
        let origin = Origin::DockerHelper {
            program: helper.program(),
            setting,
            path: self.path.clone(),
        };
        for url in self.helper_server_urls(registry) {
            let answer = match helper.get(&url) {
                Ok(answer) => answer,
                // A default store the user never configured may not work here (no keychain
                // daemon, say); that is "nothing found", not a failure.
                Err(_) if setting == HelperSetting::DefaultStore => None,
                Err(e) => return Err(e.into()),
            };
            match answer {
                Some(HelperCredential::Basic { username, password }) => {
                    return Ok(Lookup::found(registry, username, password, origin));
                }
                Some(HelperCredential::IdentityToken) => {
                    return Ok(Lookup::Unusable {
                        origin,
                        kind: TokenKind::IdentityToken,
                    });
                }
                None => {}
            }
        }
        // docker's native store overrides the file's entry even when the helper has nothing,
        // so plain `auths` are not consulted once a helper is chosen.
        Ok(Lookup::NotFound {
            searched: vec![format!("{origin}: not found")],
        })
    }

    fn lookup_in_auths(&self, registry: &Registry, file: &DockerConfig) -> Lookup {
        let origin = Origin::DockerConfig {
            path: self.path.clone(),
        };
        // docker: the exact key first, then a scan comparing hostnames. The scan follows
        // Go's random map order; we take keys in sorted order so the result is stable.
        let exact = registry.docker_config_key();
        let entry = file.auths.get(&exact).or_else(|| {
            self.auth_keys
                .get(registry)
                .and_then(|keys| keys.first())
                .and_then(|key| file.auths.get(key))
        });
        let Some(entry) = entry else {
            return Lookup::NotFound {
                searched: vec![format!(
                    "{}: no auths entry for {registry}",
                    self.path.display()
                )],
            };
        };
        if !entry.identitytoken.is_empty() {
            return Lookup::Unusable {
                origin,
                kind: TokenKind::IdentityToken,
            };
        }
        if !entry.registrytoken.is_empty() {
            return Lookup::Unusable {
                origin,
                kind: TokenKind::RegistryToken,
            };
        }
        let (username, password) = entry.login();
        if username.is_empty() {
            return Lookup::NotFound {
                searched: vec![format!(
                    "{}: the auths entry for {registry} is empty (a login held by a credential \
                     helper), but no credsStore or credHelpers is configured",
                    self.path.display()
                )],
            };
        }
        Lookup::found(registry, username, password, origin)
    }
}

impl Source for DockerSource {
    fn lookup(&self, registry: &Registry) -> Result<Lookup, CredentialError> {
        // DOCKER_AUTH_CONFIG is layered over the file and consulted first.
        if let Some((username, password)) = self.env_auths.get(registry) {
            return Ok(Lookup::found(
                registry,
                username.clone(),
                password.clone(),
                Origin::DockerAuthConfigEnv,
            ));
        }
        let mut searched = Vec::new();
        if self.env_set {
            searched.push(format!("DOCKER_AUTH_CONFIG: no entry for {registry}"));
        }
        let lookup = if let Some((helper, setting)) = self.helper_for(registry) {
            self.lookup_with_helper(registry, &helper, setting)?
        } else if let Some(file) = &self.file {
            self.lookup_in_auths(registry, file)
        } else {
            Lookup::NotFound {
                searched: vec![format!("{}: no such file", self.path.display())],
            }
        };
        Ok(match lookup {
            Lookup::NotFound { searched: more } => {
                searched.extend(more);
                Lookup::NotFound { searched }
            }
            other => other,
        })
    }

    fn registries(&self, warnings: &mut Vec<String>) -> Result<Vec<Registry>, CredentialError> {
        let mut registries: Vec<Registry> = self.env_auths.keys().cloned().collect();
        let what = self.path.display().to_string();
        if let Some(file) = &self.file {
            registries.extend(keys_by_registry(file.auths.keys(), &what, warnings).into_keys());
            registries
                .extend(keys_by_registry(file.cred_helpers.keys(), &what, warnings).into_keys());
        }
        let store = self
            .file
            .as_ref()
            .map(|f| f.creds_store.as_str())
            .filter(|s| !s.is_empty());
        let (store, setting) = match (store, &self.default_store) {
            (Some(store), _) => (store, HelperSetting::CredsStore),
            (None, Some(default)) => (default.as_str(), HelperSetting::DefaultStore),
            (None, None) => return Ok(registries),
        };
        let helper = Helper::new(store, self.helper_timeout);
        match helper.list() {
            Ok(listed) => {
                let listed = keys_by_registry(listed.keys(), &helper.program(), warnings);
                registries.extend(listed.keys().cloned());
                let _ = self.listed.set(listed);
            }
            Err(e) if setting == HelperSetting::DefaultStore => {
                warnings.push(format!("skipping docker's default store: {e}"));
            }
            Err(e) => return Err(e.into()),
        }
        Ok(registries)
    }

    fn places(&self) -> Vec<String> {
        let mut places = Vec::new();
        if self.env_set {
            places.push("DOCKER_AUTH_CONFIG".to_string());
        }
        match &self.file {
            None => places.push(format!("{} (no such file)", self.path.display())),
            Some(file) => {
                places.push(self.path.display().to_string());
                if !file.creds_store.is_empty() {
                    places.push(format!(
                        "docker-credential-{} (credsStore)",
                        file.creds_store
                    ));
                }
                for helper in file.cred_helpers.values() {
                    places.push(format!("docker-credential-{helper} (credHelpers)"));
                }
            }
        }
        if let Some(store) = &self.default_store {
            places.push(format!(
                "docker-credential-{store} (docker's default store)"
            ));
        }
        places
    }
}

/// docker's `DetectDefaultStore`: the platform's helper, if its binary is on PATH.
fn detect_default_store(path: Option<&std::ffi::OsStr>) -> Option<String> {
    let candidates: &[&str] = if cfg!(target_os = "macos") {
        &["osxkeychain"]
    } else if cfg!(windows) {
        &["wincred"]
    } else if on_path(path, "pass") {
        &["pass"]
    } else {
        &["secretservice"]
    };
    candidates
        .iter()
        .find(|name| on_path(path, &format!("docker-credential-{name}")))
        .map(|name| name.to_string())
}

fn on_path(path: Option<&std::ffi::OsStr>, program: &str) -> bool {
    let Some(path) = path else { return false };
    std::env::split_paths(path).any(|dir| {
        let candidate = dir.join(program);
        candidate.is_file() || (cfg!(windows) && candidate.with_extension("exe").is_file())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    fn source_from(json: &str, env_json: Option<&str>) -> (tempfile::TempDir, DockerSource) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.json"), json).unwrap();
        let env = LocalEnv {
            docker_config_dir: Some(dir.path().to_path_buf()),
            docker_auth_config: env_json.map(str::to_string),
            ..LocalEnv::default()
        };
        let source = DockerSource::load(&env, None, Duration::from_secs(5)).unwrap();
        (dir, source)
    }

    fn found(source: &DockerSource, server: &str) -> (String, String) {
        match source.lookup(&Registry::parse(server).unwrap()).unwrap() {
            Lookup::Found(c) => (c.username, c.password.expose().to_string()),
            other => panic!("expected credentials for {server}, got {other:?}"),
        }
    }

    #[test]
    fn auth_overrides_username_and_password() {
        let json = format!(
            r#"{{"auths":{{"quay.io":{{"auth":"{}","username":"other","password":"x","email":"e@x"}}}}}}"#,
            b64("robot:pa:ss")
        );
        let (_dir, source) = source_from(&json, None);
        assert_eq!(found(&source, "quay.io"), ("robot".into(), "pa:ss".into()));
    }

    #[test]
    fn plain_username_password_are_read_when_auth_is_empty() {
        let (_dir, source) = source_from(
            r#"{"auths":{"https://ghcr.io":{"username":"me","password":"pw"}}}"#,
            None,
        );
        assert_eq!(found(&source, "ghcr.io"), ("me".into(), "pw".into()));
    }

    #[test]
    fn hub_aliases_find_the_hub_entry() {
        let json = format!(
            r#"{{"auths":{{"https://index.docker.io/v1/":{{"auth":"{}"}}}}}}"#,
            b64("hub:pw")
        );
        let (_dir, source) = source_from(&json, None);
        for alias in ["docker.io", "index.docker.io", "registry-1.docker.io"] {
            assert_eq!(found(&source, alias).0, "hub");
        }
        let mut warnings = Vec::new();
        assert_eq!(
            source.registries(&mut warnings).unwrap(),
            vec![Registry::docker_hub()]
        );
    }

    #[test]
    fn docker_auth_config_is_consulted_first() {
        let json = format!(
            r#"{{"auths":{{"quay.io":{{"auth":"{}"}}}}}}"#,
            b64("file:pw")
        );
        let env_json = format!(
            r#"{{"auths":{{"quay.io":{{"auth":"{}"}}}}}}"#,
            b64("env:pw")
        );
        let (_dir, source) = source_from(&json, Some(&env_json));
        assert_eq!(found(&source, "quay.io").0, "env");
    }

    #[test]
    fn docker_auth_config_rejects_unknown_fields() {
        let dir = tempfile::tempdir().unwrap();
        let env = LocalEnv {
            docker_config_dir: Some(dir.path().to_path_buf()),
            docker_auth_config: Some(r#"{"auths":{"quay.io":{"username":"u"}}}"#.into()),
            ..LocalEnv::default()
        };
        let err = DockerSource::load(&env, None, Duration::from_secs(1))
            .err()
            .unwrap();
        assert!(
            err.to_string().starts_with("parsing DOCKER_AUTH_CONFIG"),
            "{err}"
        );
    }

    #[test]
    fn identity_and_registry_tokens_are_unusable() {
        let (_dir, source) = source_from(
            r#"{"auths":{"quay.io":{"identitytoken":"tok"},"ghcr.io":{"registrytoken":"tok"}}}"#,
            None,
        );
        let kind = |server| match source.lookup(&Registry::parse(server).unwrap()).unwrap() {
            Lookup::Unusable { kind, .. } => kind,
            other => panic!("{other:?}"),
        };
        assert_eq!(kind("quay.io"), TokenKind::IdentityToken);
        assert_eq!(kind("ghcr.io"), TokenKind::RegistryToken);
    }

    #[test]
    fn an_empty_entry_without_a_helper_is_not_found_with_a_reason() {
        let (_dir, source) = source_from(r#"{"auths":{"quay.io":{}}}"#, None);
        match source.lookup(&Registry::parse("quay.io").unwrap()).unwrap() {
            Lookup::NotFound { searched } => {
                assert!(searched[0].contains("no credsStore"), "{searched:?}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn malformed_files_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        for (json, needle) in [
            ("{not json", "parsing"),
            (
                r#"{"auths":{"quay.io":{"auth":"@@@"}}}"#,
                "not valid standard base64",
            ),
            (r#"{"auths":{"quay.io":{"auth":"bm9jb2xvbg=="}}}"#, "no ':'"),
        ] {
            std::fs::write(&path, json).unwrap();
            let env = LocalEnv {
                docker_config_dir: Some(dir.path().to_path_buf()),
                ..LocalEnv::default()
            };
            let err = DockerSource::load(&env, None, Duration::from_secs(1))
                .err()
                .unwrap()
                .to_string();
            assert!(err.contains(&path.display().to_string()), "{err}");
            assert!(err.contains(needle), "{err}");
        }
    }

    #[test]
    fn a_missing_file_is_not_an_error_unless_named_explicitly() {
        let dir = tempfile::tempdir().unwrap();
        let env = LocalEnv {
            docker_config_dir: Some(dir.path().join("nope")),
            ..LocalEnv::default()
        };
        let source = DockerSource::load(&env, None, Duration::from_secs(1)).unwrap();
        assert!(matches!(
            source.lookup(&Registry::parse("quay.io").unwrap()).unwrap(),
            Lookup::NotFound { .. }
        ));
        let missing = dir.path().join("missing.json");
        assert!(DockerSource::load(&env, Some(&missing), Duration::from_secs(1)).is_err());
    }
}
