//! Local registry credentials: explicit flags, the OS keychain, the docker config (with its
//! credential helpers) and podman's auth files, looked up in that order for each registry.
//!
//! Every source answers [`Lookup`] for one registry and can enumerate the registries it
//! knows, so `create` with no `--server` takes everything the user is logged in to.

pub(crate) mod docker;
mod explicit;
pub(crate) mod helper;
pub(crate) mod keychain;
pub(crate) mod podman;
pub(crate) mod providers;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub(crate) use crate::rules::credential::{
    Credential, HelperSetting, Origin, Password, SourceKind, TokenKind,
};
pub(crate) use docker::DockerSource;
pub(crate) use explicit::{ExplicitLogin, PasswordInput, read_password};
pub(crate) use helper::HelperError;
pub(crate) use keychain::{KeychainError, KeychainSource};
pub(crate) use podman::PodmanSource;

use crate::local_file;
use crate::rules::auth_files::AuthFileError;
use crate::rules::registry::{InvalidRegistry, Registry};

/// One source's answer for one registry.
#[derive(Debug)]
pub(crate) enum Lookup {
    Found(Credential),
    Unusable {
        origin: Origin,
        kind: TokenKind,
    },
    /// Nothing here; `searched` describes each place looked at, for the error message.
    NotFound {
        searched: Vec<String>,
    },
}

impl Lookup {
    /// A usable username and password (never with an email: only `--email` sets one).
    pub(crate) fn found(
        registry: &Registry,
        username: String,
        password: Password,
        origin: Origin,
    ) -> Self {
        Self::Found(Credential {
            registry: registry.clone(),
            username,
            password,
            email: None,
            origin,
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum CredentialError {
    #[error("reading {0}")]
    LocalFile(local_file::LocalFileError),
    #[error(transparent)]
    AuthFile(#[from] AuthFileError),
    #[error(transparent)]
    InvalidRegistry(#[from] InvalidRegistry),
    #[error(transparent)]
    Helper(#[from] HelperError),
    #[error(transparent)]
    Keychain(#[from] KeychainError),
    #[error("no credentials for {registry}; searched:{}", bullet_list(searched))]
    NotFound {
        registry: Registry,
        searched: Vec<String>,
    },
    #[error(
        "no registry credentials found; searched:{}{}\nlog in with `docker login` or `podman login`, or pass --server, --username and --password-stdin",
        bullet_list(searched),
        if skipped.is_empty() { String::new() } else { format!("\nskipped:{}", bullet_list(skipped)) }
    )]
    NothingFound {
        searched: Vec<String>,
        /// What was found but could not be used, and why: kept, as it is what to fix.
        skipped: Vec<String>,
    },
    #[error(
        "{registry}: {origin} holds only {kind}, which the kubelet cannot use for pulls; \
         create an access token or a robot account for the registry and pass it with \
         --server {registry} --username USER --password-stdin"
    )]
    UnusableToken {
        registry: Registry,
        origin: Origin,
        kind: TokenKind,
    },
    #[error("{0}")]
    Usage(String),
}

fn bullet_list(items: &[String]) -> String {
    items.iter().map(|item| format!("\n  - {item}")).collect()
}

/// The environment the sources read, captured once so tests can supply their own.
#[derive(Clone, Default)]
pub(crate) struct LocalEnv {
    pub(crate) home: Option<PathBuf>,
    /// `DOCKER_CONFIG`: a directory holding `config.json`.
    pub(crate) docker_config_dir: Option<PathBuf>,
    pub(crate) docker_auth_config: Option<String>,
    pub(crate) registry_auth_file: Option<PathBuf>,
    pub(crate) xdg_runtime_dir: Option<PathBuf>,
    pub(crate) xdg_config_home: Option<PathBuf>,
    pub(crate) uid: Option<u32>,
    /// `PATH`, searched for `docker-credential-*` when docker would pick a default store.
    pub(crate) path: Option<std::ffi::OsString>,
}

// By hand: `DOCKER_AUTH_CONFIG` holds logins, and no `{:?}` may show them.
impl std::fmt::Debug for LocalEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalEnv")
            .field("home", &self.home)
            .field("docker_config_dir", &self.docker_config_dir)
            .field(
                "docker_auth_config",
                &self.docker_auth_config.as_ref().map(|_| "<redacted>"),
            )
            .field("registry_auth_file", &self.registry_auth_file)
            .field("xdg_runtime_dir", &self.xdg_runtime_dir)
            .field("xdg_config_home", &self.xdg_config_home)
            .field("uid", &self.uid)
            .field("path", &self.path)
            .finish()
    }
}

impl LocalEnv {
    pub(crate) fn from_process() -> Self {
        let var_path = |name: &str| {
            std::env::var_os(name)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        Self {
            home: dirs::home_dir(),
            docker_config_dir: var_path("DOCKER_CONFIG"),
            docker_auth_config: std::env::var("DOCKER_AUTH_CONFIG")
                .ok()
                .filter(|v| !v.is_empty()),
            registry_auth_file: var_path("REGISTRY_AUTH_FILE"),
            xdg_runtime_dir: var_path("XDG_RUNTIME_DIR"),
            xdg_config_home: var_path("XDG_CONFIG_HOME"),
            uid: current_uid(),
            path: std::env::var_os("PATH"),
        }
    }
}

#[cfg(target_os = "linux")]
fn current_uid() -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").ok().map(|m| m.uid())
}

#[cfg(not(target_os = "linux"))]
fn current_uid() -> Option<u32> {
    None
}

/// What the user asked for.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    /// Registries to include; empty means every registry the sources know.
    pub(crate) servers: Vec<Registry>,
    pub(crate) from: Vec<SourceKind>,
    pub(crate) explicit: Option<ExplicitLogin>,
    /// `--docker-config`: read this file instead of `$DOCKER_CONFIG/config.json`.
    pub(crate) docker_config: Option<PathBuf>,
    pub(crate) helper_timeout: Duration,
}

#[derive(Debug)]
pub(crate) struct Resolution {
    pub(crate) credentials: Vec<Credential>,
    /// Registries found but left out, with the reason; shown on stderr.
    pub(crate) warnings: Vec<String>,
}

/// One place credentials live. Implemented by the docker config and podman's auth files.
pub(crate) trait Source {
    /// Credentials for one registry, or why there are none.
    fn lookup(&self, registry: &Registry) -> Result<Lookup, CredentialError>;
    /// Every registry this source knows, with warnings for what it had to skip.
    fn registries(&self, warnings: &mut Vec<String>) -> Result<Vec<Registry>, CredentialError>;
    /// The places this source reads, for "nothing found" errors.
    fn places(&self) -> Vec<String>;
    /// What the user should hear about this source even when others answer.
    fn warnings(&self) -> Vec<String> {
        Vec::new()
    }
}

impl Request {
    /// Whether `--from` allows a source (no `--from` allows all).
    fn wants(&self, kind: SourceKind) -> bool {
        self.from.is_empty() || self.from.contains(&kind)
    }
}

/// Finds credentials for the request, before anything touches a cluster.
pub(crate) fn resolve(request: &Request, env: &LocalEnv) -> Result<Resolution, CredentialError> {
    if let Some(login) = &request.explicit {
        if !request.wants(SourceKind::Explicit) {
            return Err(CredentialError::Usage(
                "--username was given, but --from leaves out explicit".into(),
            ));
        }
        return Ok(Resolution {
            credentials: login.credentials(),
            warnings: Vec::new(),
        });
    }
    if !request.from.is_empty() && request.from == [SourceKind::Explicit] {
        return Err(CredentialError::Usage(
            "--from explicit needs --username (and --password-stdin)".into(),
        ));
    }
    let sources = load_sources(request, env)?;
    let mut resolution = if request.servers.is_empty() {
        everything_logged_in(&sources)?
    } else {
        let credentials = request
            .servers
            .iter()
            .map(|registry| find_required(&sources, registry))
            .collect::<Result<_, _>>()?;
        Resolution {
            credentials,
            warnings: Vec::new(),
        }
    };
    let mut warnings: Vec<String> = sources.iter().flat_map(|s| s.warnings()).collect();
    warnings.append(&mut resolution.warnings);
    resolution.warnings = warnings;
    Ok(resolution)
}

/// `sync`: reads each registry again from the kind of source it was recorded from. Each
/// source is loaded once; a registry it no longer holds is an error for that registry.
pub(crate) fn reread(
    wanted: &[(Registry, SourceKind)],
    docker_config: Option<&Path>,
    helper_timeout: Duration,
    env: &LocalEnv,
) -> Vec<(Registry, Result<Credential, CredentialError>)> {
    // A source that failed to load fails each of its registries with the same message.
    type Loaded = Result<Vec<Box<dyn Source>>, String>;
    let mut loaded: Vec<(SourceKind, Loaded)> = Vec::new();
    wanted
        .iter()
        .map(|(registry, kind)| {
            if !loaded.iter().any(|(k, _)| k == kind) {
                let request = Request {
                    servers: vec![registry.clone()],
                    from: vec![*kind],
                    explicit: None,
                    docker_config: docker_config.map(Path::to_path_buf),
                    helper_timeout,
                };
                let sources = load_sources(&request, env).map_err(|e| e.to_string());
                loaded.push((*kind, sources));
            }
            let sources = &loaded.iter().find(|(k, _)| k == kind).expect("loaded").1;
            let found = match sources {
                Ok(sources) => find_required(sources, registry),
                Err(error) => Err(CredentialError::Usage(error.clone())),
            };
            (registry.clone(), found)
        })
        .collect()
}

/// One registry read again: its login, or why not (shared by every context that asks).
pub(crate) type Reread = Result<Credential, Arc<CredentialError>>;

/// Re-reads shared by the contexts of one `sync` run: each registry is read from its source
/// (a credential helper, the keychain) once, however many clusters hold copies of it.
#[derive(Debug, Default)]
pub(crate) struct ReadOnce {
    /// Errors are shared, not copied into text: each context's report names the same one.
    reads: std::sync::Mutex<BTreeMap<(Registry, SourceKind), Reread>>,
}

impl ReadOnce {
    /// [`reread`], answering what an earlier call of this run already read.
    pub(crate) fn reread(
        &self,
        wanted: &[(Registry, SourceKind)],
        docker_config: Option<&Path>,
        helper_timeout: Duration,
        env: &LocalEnv,
    ) -> Vec<(Registry, Reread)> {
        let mut reads = self.reads.lock().expect("reads lock");
        let missing: Vec<(Registry, SourceKind)> = wanted
            .iter()
            .filter(|key| !reads.contains_key(*key))
            .cloned()
            .collect();
        let found = reread(&missing, docker_config, helper_timeout, env);
        for (key, (_, result)) in missing.into_iter().zip(found) {
            reads.insert(key, result.map_err(Arc::new));
        }
        wanted
            .iter()
            .map(|key| (key.0.clone(), reads[key].clone()))
            .collect()
    }
}

/// The sources `--from` allows, in lookup order.
fn load_sources(
    request: &Request,
    env: &LocalEnv,
) -> Result<Vec<Box<dyn Source>>, CredentialError> {
    let mut sources: Vec<Box<dyn Source>> = Vec::new();
    if request.wants(SourceKind::Keychain) {
        // Only an explicit `--from keychain` makes an unavailable keychain an error.
        let required = request.from.contains(&SourceKind::Keychain);
        sources.push(Box::new(KeychainSource::load(required)?));
    }
    if request.wants(SourceKind::Docker) {
        sources.push(Box::new(DockerSource::load(
            env,
            request.docker_config.as_deref(),
            request.helper_timeout,
        )?));
    }
    if request.wants(SourceKind::Podman) {
        sources.push(Box::new(PodmanSource::load(env, request.helper_timeout)?));
    }
    Ok(sources)
}

/// With no `--server`: every registry any source has a login for, each from the first
/// source with a usable credential. Logins the kubelet cannot use are skipped with a warning.
fn everything_logged_in(sources: &[Box<dyn Source>]) -> Result<Resolution, CredentialError> {
    let mut warnings = Vec::new();
    // A set: a config of many thousand registries is read in linear time.
    let mut registries = std::collections::BTreeSet::new();
    for source in sources {
        registries.extend(source.registries(&mut warnings)?);
    }
    let mut credentials = Vec::new();
    for registry in &registries {
        match find_first(sources, registry)? {
            Found::Usable(credential) => credentials.push(credential),
            Found::OnlyUnusable { origin, kind } => warnings.push(format!(
                "skipping {registry}: {origin} holds only {kind}, which the kubelet cannot use"
            )),
            Found::Nothing { .. } => warnings.push(format!(
                "skipping {registry}: a login is recorded but no credentials could be read for it"
            )),
        }
    }
    if credentials.is_empty() {
        return Err(CredentialError::NothingFound {
            searched: sources.iter().flat_map(|s| s.places()).collect(),
            skipped: warnings,
        });
    }
    Ok(Resolution {
        credentials,
        warnings,
    })
}

enum Found {
    Usable(Credential),
    OnlyUnusable { origin: Origin, kind: TokenKind },
    Nothing { searched: Vec<String> },
}

/// Sources in order; the first usable credential wins. An unusable token is reported only
/// if no later source has a usable credential.
fn find_first(sources: &[Box<dyn Source>], registry: &Registry) -> Result<Found, CredentialError> {
    let mut unusable = None;
    let mut searched = Vec::new();
    for source in sources {
        match source.lookup(registry)? {
            Lookup::Found(credential) => return Ok(Found::Usable(credential)),
            Lookup::Unusable { origin, kind } => {
                unusable.get_or_insert((origin, kind));
            }
            Lookup::NotFound { searched: places } => searched.extend(places),
        }
    }
    Ok(match unusable {
        Some((origin, kind)) => Found::OnlyUnusable { origin, kind },
        None => Found::Nothing { searched },
    })
}

fn find_required(
    sources: &[Box<dyn Source>],
    registry: &Registry,
) -> Result<Credential, CredentialError> {
    match find_first(sources, registry)? {
        Found::Usable(credential) => Ok(credential),
        Found::OnlyUnusable { origin, kind } => Err(CredentialError::UnusableToken {
            registry: registry.clone(),
            origin,
            kind,
        }),
        Found::Nothing { searched } => Err(CredentialError::NotFound {
            registry: registry.clone(),
            searched,
        }),
    }
}

/// Reads a JSON file that may be missing. `Ok(None)` means there is no such file. Never
/// blocks on a FIFO nor reads without end ([`local_file`]).
fn read_optional(path: &std::path::Path) -> Result<Option<String>, CredentialError> {
    local_file::read_regular_text(path, local_file::MAX_CONFIG_FILE)
        .map_err(CredentialError::LocalFile)
}

/// Map keys of a config file, grouped by the registry they name (several spellings may
/// name one registry, e.g. `docker.io` and `https://index.docker.io/v1/`).
fn keys_by_registry<'a>(
    keys: impl Iterator<Item = &'a String>,
    what: &str,
    warnings: &mut Vec<String>,
) -> BTreeMap<Registry, Vec<String>> {
    let mut map: BTreeMap<Registry, Vec<String>> = BTreeMap::new();
    for key in keys {
        match Registry::parse(key) {
            Ok(registry) => map.entry(registry).or_default().push(key.clone()),
            Err(e) => warnings.push(format!("{what}: skipping key: {e}")),
        }
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_a_login() {
        let env = LocalEnv {
            docker_auth_config: Some(r#"{"auths":{"quay.io":{"auth":"UzNDUkVU"}}}"#.into()),
            ..LocalEnv::default()
        };
        let shown = format!("{env:?}");
        assert!(
            !shown.contains("UzNDUkVU") && shown.contains("<redacted>"),
            "{shown}"
        );
    }

    #[test]
    fn password_debug_is_redacted() {
        let p = Password::new("hunter2".into());
        assert!(!format!("{p:?}").contains("hunter2"));
    }
}
