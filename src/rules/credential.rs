//! A credential as the rest of the tool sees it, whatever source it came from: the registry,
//! username, password (never printed) and where it was found. Pure data; reading the sources
//! is `credentials`' job.

use std::fmt;
use std::path::PathBuf;

use crate::rules::registry::Registry;

/// The keychain service our logins are stored under.
pub const KEYCHAIN_SERVICE: &str = "kubectl-regcred";

/// A password or token. Its `Debug` never shows the value, so it cannot leak into logs, and
/// its memory is zeroed when it is dropped. It (de)serializes as the plain string.
#[derive(Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Password(String);

impl Password {
    /// Wraps a secret value; it is zeroed when dropped and never shown by `Debug`.
    pub fn new(value: String) -> Self {
        Self(value)
    }
    /// The secret value, for the one place that must send or store it.
    pub fn expose(&self) -> &str {
        &self.0
    }
    /// Whether no value is set.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Drop for Password {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

impl From<String> for Password {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<hidden>)")
    }
}

/// The places `--from` can restrict lookups to, in lookup order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SourceKind {
    Explicit,
    Keychain,
    Docker,
    Podman,
}

/// Where one credential came from. `Display` is for the user's terminal (it names files);
/// [`Origin::summary`] is for annotations (no paths, never a secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Explicit,
    Keychain,
    DockerAuthConfigEnv,
    DockerConfig {
        path: PathBuf,
    },
    DockerHelper {
        program: String,
        setting: HelperSetting,
        path: PathBuf,
    },
    PodmanAuthFile {
        path: PathBuf,
    },
    PodmanHelper {
        program: String,
        path: PathBuf,
    },
    /// A pull Secret in the cluster (`--from-secret NS/NAME`).
    SourceSecret {
        namespace: String,
        name: String,
    },
}

/// Which docker config setting chose a credential helper.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HelperSetting {
    CredHelpers,
    CredsStore,
    /// docker's `DetectDefaultStore`, used when the config names no store at all.
    DefaultStore,
}

impl fmt::Display for HelperSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::CredHelpers => "credHelpers",
            Self::CredsStore => "credsStore",
            Self::DefaultStore => "the platform's default store",
        })
    }
}

impl Origin {
    /// Where the credential came from, in a few words, for tables and notes.
    pub fn summary(&self) -> String {
        match self {
            Self::Explicit => "explicit".into(),
            Self::Keychain => "keychain".into(),
            Self::DockerAuthConfigEnv => "docker DOCKER_AUTH_CONFIG".into(),
            Self::DockerConfig { .. } => "docker config.json".into(),
            Self::DockerHelper {
                program, setting, ..
            } => format!("docker {setting} {program}"),
            Self::PodmanAuthFile { .. } => "podman auth.json".into(),
            Self::PodmanHelper { program, .. } => format!("podman credHelpers {program}"),
            Self::SourceSecret { namespace, name } => format!("secret {namespace}/{name}"),
        }
    }

    /// Where `sync` reads a credential again, from the summary a copy records.
    pub fn reread_from(summary: &str) -> Option<RecordedOrigin> {
        if let Some(secret) = summary.strip_prefix("secret ") {
            let (namespace, name) = secret.split_once('/')?;
            return Some(RecordedOrigin::SourceSecret {
                namespace: namespace.to_string(),
                name: name.to_string(),
            });
        }
        let kind = match summary.split(' ').next()? {
            "explicit" => SourceKind::Explicit,
            "keychain" => SourceKind::Keychain,
            "docker" => SourceKind::Docker,
            "podman" => SourceKind::Podman,
            _ => return None,
        };
        Some(RecordedOrigin::Local(kind))
    }
}

/// Where a recorded credential came from, as `sync` needs to know it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordedOrigin {
    Local(SourceKind),
    SourceSecret { namespace: String, name: String },
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Explicit => f.write_str("the command line"),
            Self::Keychain => write!(f, "the OS keychain ({})", KEYCHAIN_SERVICE),
            Self::DockerAuthConfigEnv => f.write_str("DOCKER_AUTH_CONFIG"),
            Self::DockerConfig { path } => write!(f, "{}", path.display()),
            Self::DockerHelper {
                program,
                setting,
                path,
            } => write!(f, "{program} ({setting} in {})", path.display()),
            Self::PodmanAuthFile { path } => write!(f, "{}", path.display()),
            Self::PodmanHelper { program, path } => {
                write!(f, "{program} (credHelpers in {})", path.display())
            }
            Self::SourceSecret { namespace, name } => {
                write!(f, "secret {name} in namespace {namespace}")
            }
        }
    }
}

/// A username and password the kubelet can use for one registry.
#[derive(Debug, Clone)]
pub struct Credential {
    pub registry: Registry,
    pub username: String,
    pub password: Password,
    pub email: Option<String>,
    pub origin: Origin,
}

/// A stored login the kubelet cannot use (it reads only username, password and auth).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    IdentityToken,
    RegistryToken,
}

impl fmt::Display for TokenKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::IdentityToken => "an identity token",
            Self::RegistryToken => "a registry token",
        })
    }
}
