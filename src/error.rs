//! Exit statuses and the one error type that means "the command line was wrong".

use std::process::ExitCode;

/// A command-line mistake found after clap parsed the flags; exits with 2, like clap's own.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct UsageError(pub String);

/// How a run ended: 0 ok, 1 failure (something did not work), 2 usage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ExitStatus {
    Success,
    Failure,
    Usage,
}

impl From<ExitStatus> for ExitCode {
    fn from(status: ExitStatus) -> Self {
        match status {
            ExitStatus::Success => ExitCode::SUCCESS,
            ExitStatus::Failure => ExitCode::from(1),
            ExitStatus::Usage => ExitCode::from(2),
        }
    }
}

/// The status for an error that ended a run.
pub(crate) fn exit_status_for(error: &anyhow::Error) -> ExitStatus {
    let usage = error.chain().any(|cause| {
        cause.is::<UsageError>()
            || matches!(
                cause.downcast_ref::<crate::credentials::CredentialError>(),
                Some(crate::credentials::CredentialError::Usage(_))
            )
    });
    if usage {
        ExitStatus::Usage
    } else {
        ExitStatus::Failure
    }
}

/// True when the error is only a closed stdout (`| head`), which is not a failure.
pub(crate) fn is_broken_pipe(error: &anyhow::Error) -> bool {
    // Windows reports a reader that went away (`| head`) as ERROR_NO_DATA (232) or, on a
    // pipe that is already gone, ERROR_PIPE_NOT_CONNECTED (233), which std does not map to
    // BrokenPipe.
    const WINDOWS_PIPE_GONE: [i32; 2] = [232, 233];
    error.chain().any(|cause| {
        cause.downcast_ref::<std::io::Error>().is_some_and(|e| {
            e.kind() == std::io::ErrorKind::BrokenPipe
                || (cfg!(windows)
                    && e.raw_os_error()
                        .is_some_and(|c| WINDOWS_PIPE_GONE.contains(&c)))
        })
    })
}

/// `error: ...` text for an error and its causes, joined by ": ". A cause whose text the
/// message already holds is skipped (many libraries embed their source in their own message).
pub(crate) fn render(error: &anyhow::Error) -> String {
    let mut message = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if message.contains(&text) {
            continue;
        }
        if !message.is_empty() {
            message.push_str(": ");
        }
        message.push_str(&text);
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_skips_causes_already_in_the_message() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let error = anyhow::Error::new(io)
            .context("reading x: no such file")
            .context("loading");
        assert_eq!(render(&error), "loading: reading x: no such file");
    }

    #[test]
    fn usage_errors_exit_2() {
        let error = anyhow::Error::new(UsageError("bad".into())).context("create");
        assert_eq!(exit_status_for(&error), ExitStatus::Usage);
        assert_eq!(
            exit_status_for(&anyhow::anyhow!("boom")),
            ExitStatus::Failure
        );
    }
}
