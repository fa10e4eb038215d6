//! Reading the kubelet's `CredentialProviderConfig` (`--credential-provider-config`): a file,
//! or a directory whose `*.json`, `*.yaml` and `*.yml` files are merged in name order, as the
//! kubelet's `--image-credential-provider-config` takes it (docs/check.md, "Node credential
//! providers"). Each file is read as every local input is (local_file).

use std::path::{Path, PathBuf};

use crate::local_file::{self, LocalFileError, MAX_CONFIG_FILE};
use crate::rules::providers::{self, Provider, ProviderConfigError};

/// Why the config could not be used; it names the file.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ProviderConfigLoadError {
    #[error(transparent)]
    File(#[from] LocalFileError),
    #[error("{}: no such file or directory", .0.display())]
    Missing(PathBuf),
    #[error("{}: no *.json, *.yaml or *.yml file in this directory", .0.display())]
    EmptyDirectory(PathBuf),
    #[error("{}: {source}", path.display())]
    Config {
        path: PathBuf,
        source: ProviderConfigError,
    },
}

/// The providers of the config at `path`, in the kubelet's order, validated as it validates.
pub(crate) fn load(path: &Path) -> Result<Vec<Provider>, ProviderConfigLoadError> {
    let io = |source: std::io::Error| LocalFileError::Io {
        path: path.to_path_buf(),
        source,
    };
    let files = if path.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(io)?
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|file| {
                !file.is_dir()
                    && matches!(
                        file.extension().and_then(|e| e.to_str()),
                        Some("json" | "yaml" | "yml")
                    )
            })
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(ProviderConfigLoadError::EmptyDirectory(path.to_path_buf()));
        }
        files
    } else {
        vec![path.to_path_buf()]
    };
    let mut configs = Vec::new();
    for file in &files {
        let text = local_file::read_regular_text(file, MAX_CONFIG_FILE)?
            .ok_or_else(|| ProviderConfigLoadError::Missing(file.clone()))?;
        let config = providers::parse_config(&text).map_err(|source| {
            ProviderConfigLoadError::Config {
                path: file.clone(),
                source,
            }
        })?;
        configs.push(config);
    }
    providers::merge(configs).map_err(|source| ProviderConfigLoadError::Config {
        path: path.to_path_buf(),
        source,
    })
}
