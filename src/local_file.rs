//! Reading a local input (docker's `config.json`, podman's `auth.json`, a kubeconfig, a
//! token file) so that it can never block or grow without end: it is opened without
//! blocking, refused unless it is a regular file, and read up to a documented size
//! (docs/conventions.md, "Guarantees"). A FIFO would hang an open; `/dev/zero` would never
//! end.

use std::io::Read;
use std::path::{Path, PathBuf};

/// The most read of a docker or podman config file, or a kubeconfig: far above any real
/// one (a config of 50,000 registries is about 5 MiB).
pub(crate) const MAX_CONFIG_FILE: u64 = 16 * 1024 * 1024;

/// Why a local input was not read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LocalFileError {
    #[error("{}: not a regular file ({kind}): refusing to read it", path.display())]
    NotAFile { path: PathBuf, kind: &'static str },
    #[error("{}: larger than {limit} bytes: refusing to read it", path.display())]
    TooLarge { path: PathBuf, limit: u64 },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The contents of `path`, or `None` when there is no such file.
pub(crate) fn read_regular(path: &Path, limit: u64) -> Result<Option<Vec<u8>>, LocalFileError> {
    let io = |source: std::io::Error| LocalFileError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = match open_without_blocking(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(e)),
    };
    // What was opened, not what the path named a moment before.
    let metadata = file.metadata().map_err(io)?;
    if !metadata.is_file() {
        return Err(LocalFileError::NotAFile {
            path: path.to_path_buf(),
            kind: kind_of(&metadata.file_type()),
        });
    }
    let mut bytes = Vec::new();
    file.by_ref()
        .take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > limit {
        return Err(LocalFileError::TooLarge {
            path: path.to_path_buf(),
            limit,
        });
    }
    Ok(Some(bytes))
}

/// The most read of a token file (a kubeconfig's `tokenFile`): a token is a few KiB.
pub(crate) const MAX_TOKEN_FILE: u64 = 1024 * 1024;

/// For a file another library reads (kube reads kubeconfigs and token files itself): whether
/// it exists, refusing what is not a regular file or is larger than `limit`. Looks without
/// opening, so a FIFO cannot block it.
pub(crate) fn check_regular(path: &Path, limit: u64) -> Result<bool, LocalFileError> {
    let metadata = match std::fs::metadata(path) {
        Ok(metadata) => metadata,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(source) => {
            return Err(LocalFileError::Io {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    if !metadata.is_file() {
        return Err(LocalFileError::NotAFile {
            path: path.to_path_buf(),
            kind: kind_of(&metadata.file_type()),
        });
    }
    if metadata.len() > limit {
        return Err(LocalFileError::TooLarge {
            path: path.to_path_buf(),
            limit,
        });
    }
    Ok(true)
}

/// [`read_regular`] as UTF-8 text.
pub(crate) fn read_regular_text(path: &Path, limit: u64) -> Result<Option<String>, LocalFileError> {
    match read_regular(path, limit)? {
        None => Ok(None),
        Some(bytes) => String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| LocalFileError::Io {
                path: path.to_path_buf(),
                source: std::io::Error::new(std::io::ErrorKind::InvalidData, "it is not UTF-8"),
            }),
    }
}

#[cfg(unix)]
fn open_without_blocking(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    // O_NONBLOCK: opening a FIFO with no writer returns at once instead of waiting for one.
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
        .open(path)
}

#[cfg(not(unix))]
fn open_without_blocking(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::File::open(path)
}

fn kind_of(file_type: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return "a FIFO";
        }
        if file_type.is_char_device() {
            return "a character device";
        }
        if file_type.is_block_device() {
            return "a block device";
        }
        if file_type.is_socket() {
            return "a socket";
        }
    }
    if file_type.is_dir() {
        "a directory"
    } else {
        "not a file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regular_files_are_read_and_capped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(&path, "{}").unwrap();
        assert_eq!(read_regular(&path, 2).unwrap().unwrap(), b"{}");
        assert!(matches!(
            read_regular(&path, 1),
            Err(LocalFileError::TooLarge { limit: 1, .. })
        ));
        assert!(
            read_regular(&dir.path().join("missing"), 2)
                .unwrap()
                .is_none()
        );
        assert!(matches!(
            read_regular(dir.path(), 2),
            Err(LocalFileError::NotAFile { .. })
        ));
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_or_a_device_is_refused_without_waiting() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("config.json");
        rustix::fs::mkfifoat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::Mode::RUSR | rustix::fs::Mode::WUSR,
        )
        .unwrap();
        let error = read_regular(&fifo, 1024).unwrap_err().to_string();
        assert!(error.contains("not a regular file (a FIFO)"), "{error}");
        let zero = dir.path().join("zero");
        std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
        let error = read_regular(&zero, 1024).unwrap_err().to_string();
        assert!(error.contains("a character device"), "{error}");
        assert!(check_regular(&fifo, 1024).is_err());
        assert!(check_regular(&zero, 1024).is_err());
        assert!(!check_regular(&dir.path().join("missing"), 1024).unwrap());
    }
}
