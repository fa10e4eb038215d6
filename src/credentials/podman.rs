//! containers/podman auth files (docs/semantics.md §3), in podman's search order:
//! `REGISTRY_AUTH_FILE` alone if set; else `${XDG_RUNTIME_DIR}/containers/auth.json`, then
//! `${XDG_CONFIG_HOME:-~/.config}/containers/auth.json`. Docker's own files, which podman
//! also falls back to, are the docker source's job and are not read twice.

use std::path::PathBuf;
use std::time::Duration;

use super::helper::{Helper, HelperCredential};
use super::{
    CredentialError, LocalEnv, Lookup, Origin, Source, TokenKind, keys_by_registry, read_optional,
};
use crate::rules::auth_files::{PodmanAuths, PodmanEntry, parse_podman_auth_file};
use crate::rules::registry::Registry;

struct LoadedFile {
    path: PathBuf,
    auths: PodmanAuths,
}

pub(crate) struct PodmanSource {
    files: Vec<LoadedFile>,
    /// Every path considered, with why it was skipped if it was.
    considered: Vec<String>,
    warnings: Vec<String>,
    helper_timeout: Duration,
}

impl PodmanSource {
    pub(crate) fn load(env: &LocalEnv, helper_timeout: Duration) -> Result<Self, CredentialError> {
        let mut files = Vec::new();
        let mut considered = Vec::new();
        let mut warnings = Vec::new();
        for candidate in search_order(env) {
            let path = match candidate {
                Candidate::File(path) => path,
                Candidate::Skipped(reason) => {
                    considered.push(reason);
                    continue;
                }
            };
            match read_optional(&path)? {
                None => considered.push(format!("{} (no such file)", path.display())),
                Some(text) => {
                    considered.push(path.display().to_string());
                    files.push(load_file(path, &text, &mut warnings)?);
                }
            }
        }
        Ok(Self {
            files,
            considered,
            warnings,
            helper_timeout,
        })
    }
}

enum Candidate {
    File(PathBuf),
    Skipped(String),
}

fn search_order(env: &LocalEnv) -> Vec<Candidate> {
    if let Some(path) = &env.registry_auth_file {
        // An explicit auth file is the only one podman reads.
        return vec![Candidate::File(path.clone())];
    }
    let mut order = Vec::new();
    let config_home = env
        .xdg_config_home
        .clone()
        .or_else(|| env.home.as_ref().map(|h| h.join(".config")));
    if cfg!(target_os = "linux") {
        match (&env.xdg_runtime_dir, env.uid) {
            // podman warns and skips a runtime dir that is set but missing.
            (Some(dir), _) if !dir.is_dir() => order.push(Candidate::Skipped(format!(
                "{} (XDG_RUNTIME_DIR does not exist)",
                dir.join("containers/auth.json").display()
            ))),
            (Some(dir), _) => order.push(Candidate::File(dir.join("containers/auth.json"))),
            (None, Some(uid)) => order.push(Candidate::File(PathBuf::from(format!(
                "/run/containers/{uid}/auth.json"
            )))),
            (None, None) => {}
        }
    }
    if let Some(config_home) = config_home {
        let path = config_home.join("containers/auth.json");
        let already = order
            .iter()
            .any(|c| matches!(c, Candidate::File(p) if *p == path));
        if !already {
            order.push(Candidate::File(path));
        }
    }
    order
}

fn load_file(
    path: PathBuf,
    text: &str,
    warnings: &mut Vec<String>,
) -> Result<LoadedFile, CredentialError> {
    let auths = parse_podman_auth_file(text, &path.display().to_string(), warnings)?;
    Ok(LoadedFile { path, auths })
}

impl Source for PodmanSource {
    fn lookup(&self, registry: &Registry) -> Result<Lookup, CredentialError> {
        let mut searched = Vec::new();
        let mut unusable = None;
        for file in &self.files {
            // credHelpers are keyed by host only; when one is set the file's auths are not read.
            let helper =
                file.auths.cred_helpers.iter().find(|(key, _)| {
                    Registry::parse(key).is_ok_and(|r| r.host() == registry.host())
                });
            if let Some((_, name)) = helper {
                let helper = Helper::new(name, self.helper_timeout);
                let origin = Origin::PodmanHelper {
                    program: helper.program(),
                    path: file.path.clone(),
                };
                match helper.get(registry.host())? {
                    Some(HelperCredential::Basic { username, password }) => {
                        return Ok(Lookup::found(registry, username, password, origin));
                    }
                    Some(HelperCredential::IdentityToken) => {
                        unusable.get_or_insert((origin, TokenKind::IdentityToken));
                    }
                    None => searched.push(format!("{origin}: not found")),
                }
                continue;
            }
            let origin = Origin::PodmanAuthFile {
                path: file.path.clone(),
            };
            match file.auths.entries.get(registry) {
                Some(PodmanEntry::Basic(username, password)) => {
                    return Ok(Lookup::found(
                        registry,
                        username.clone(),
                        password.clone(),
                        origin,
                    ));
                }
                Some(PodmanEntry::IdentityToken) => {
                    unusable.get_or_insert((origin, TokenKind::IdentityToken));
                }
                None => searched.push(format!(
                    "{}: no auths entry for {registry}",
                    file.path.display()
                )),
            }
        }
        if let Some((origin, kind)) = unusable {
            return Ok(Lookup::Unusable { origin, kind });
        }
        searched.extend(
            self.considered
                .iter()
                .filter(|place| {
                    !self
                        .files
                        .iter()
                        .any(|f| f.path.display().to_string() == **place)
                })
                .cloned(),
        );
        Ok(Lookup::NotFound { searched })
    }

    fn registries(&self, warnings: &mut Vec<String>) -> Result<Vec<Registry>, CredentialError> {
        warnings.extend(self.warnings.iter().cloned());
        let mut registries = Vec::new();
        for file in &self.files {
            registries.extend(file.auths.entries.keys().cloned());
            let what = file.path.display().to_string();
            registries.extend(
                keys_by_registry(file.auths.cred_helpers.keys(), &what, warnings).into_keys(),
            );
        }
        Ok(registries)
    }

    fn places(&self) -> Vec<String> {
        self.considered.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    fn write(path: &std::path::Path, json: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, json).unwrap();
    }

    fn username(source: &PodmanSource, server: &str) -> Option<String> {
        match source.lookup(&Registry::parse(server).unwrap()).unwrap() {
            Lookup::Found(c) => Some(c.username),
            _ => None,
        }
    }

    #[test]
    fn runtime_file_wins_over_config_file() {
        let dir = tempfile::tempdir().unwrap();
        let runtime = dir.path().join("run");
        let config = dir.path().join("config");
        write(
            &runtime.join("containers/auth.json"),
            &format!(
                r#"{{"auths":{{"quay.io":{{"auth":"{}"}}}}}}"#,
                b64("runtime:pw")
            ),
        );
        write(
            &config.join("containers/auth.json"),
            &format!(
                r#"{{"auths":{{"quay.io":{{"auth":"{}"}},"ghcr.io":{{"auth":"{}"}}}}}}"#,
                b64("config:pw"),
                b64("config:pw")
            ),
        );
        let env = LocalEnv {
            xdg_runtime_dir: Some(runtime),
            xdg_config_home: Some(config),
            ..LocalEnv::default()
        };
        let source = PodmanSource::load(&env, Duration::from_secs(1)).unwrap();
        assert_eq!(username(&source, "quay.io").as_deref(), Some("runtime"));
        assert_eq!(username(&source, "ghcr.io").as_deref(), Some("config"));
    }

    #[test]
    fn registry_auth_file_is_the_only_file_read() {
        let dir = tempfile::tempdir().unwrap();
        let explicit = dir.path().join("explicit.json");
        write(
            &explicit,
            &format!(
                r#"{{"auths":{{"docker.io":{{"auth":"{}"}}}}}}"#,
                b64("hub:pw")
            ),
        );
        write(
            &dir.path().join("config/containers/auth.json"),
            &format!(r#"{{"auths":{{"quay.io":{{"auth":"{}"}}}}}}"#, b64("q:pw")),
        );
        let env = LocalEnv {
            registry_auth_file: Some(explicit),
            xdg_config_home: Some(dir.path().join("config")),
            ..LocalEnv::default()
        };
        let source = PodmanSource::load(&env, Duration::from_secs(1)).unwrap();
        // podman writes docker.io; every Hub alias finds it.
        assert_eq!(username(&source, "index.docker.io").as_deref(), Some("hub"));
        assert_eq!(username(&source, "quay.io"), None);
    }

    #[test]
    fn username_password_fields_are_ignored_and_missing_colon_only_warns() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("auth.json");
        write(
            &file,
            &format!(
                r#"{{"auths":{{"quay.io":{{"username":"u","password":"p"}},"ghcr.io":{{"auth":"{}"}}}}}}"#,
                b64("nocolon")
            ),
        );
        let env = LocalEnv {
            registry_auth_file: Some(file),
            ..LocalEnv::default()
        };
        let source = PodmanSource::load(&env, Duration::from_secs(1)).unwrap();
        assert_eq!(username(&source, "quay.io"), None);
        assert_eq!(username(&source, "ghcr.io"), None);
        let mut warnings = Vec::new();
        assert!(source.registries(&mut warnings).unwrap().is_empty());
        assert!(
            warnings
                .iter()
                .any(|w| w.contains("ghcr.io") && w.contains("':'")),
            "{warnings:?}"
        );
    }

    #[test]
    fn bad_base64_is_a_hard_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("auth.json");
        write(&file, r#"{"auths":{"quay.io":{"auth":"!!"}}}"#);
        let env = LocalEnv {
            registry_auth_file: Some(file.clone()),
            ..LocalEnv::default()
        };
        let err = PodmanSource::load(&env, Duration::from_secs(1))
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains(&file.display().to_string()) && err.contains("base64"),
            "{err}"
        );
    }

    #[test]
    fn namespaced_keys_keep_their_path() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("auth.json");
        write(
            &file,
            &format!(
                r#"{{"auths":{{"quay.io/team":{{"auth":"{}"}},"https://ghcr.io/org":{{"auth":"{}"}}}}}}"#,
                b64("t:pw"),
                b64("g:pw")
            ),
        );
        let env = LocalEnv {
            registry_auth_file: Some(file),
            ..LocalEnv::default()
        };
        let source = PodmanSource::load(&env, Duration::from_secs(1)).unwrap();
        let names: Vec<String> = source
            .registries(&mut Vec::new())
            .unwrap()
            .iter()
            .map(|r| r.to_string())
            .collect();
        // With a scheme the path is dropped (normalizeAuthFileKey); without, it is kept.
        assert_eq!(names, ["ghcr.io", "quay.io/team"]);
    }

    #[test]
    fn missing_runtime_dir_is_skipped_and_reported() {
        let dir = tempfile::tempdir().unwrap();
        let env = LocalEnv {
            xdg_runtime_dir: Some(dir.path().join("gone")),
            home: Some(dir.path().to_path_buf()),
            ..LocalEnv::default()
        };
        let source = PodmanSource::load(&env, Duration::from_secs(1)).unwrap();
        let places = source.places();
        if cfg!(target_os = "linux") {
            assert!(
                places[0].contains("XDG_RUNTIME_DIR does not exist"),
                "{places:?}"
            );
        }
        assert!(
            places
                .last()
                .unwrap()
                .contains(".config/containers/auth.json"),
            "{places:?}"
        );
    }
}
