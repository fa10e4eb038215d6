//! What a lower layer has to tell the user, returned as values: nothing below `commands/`
//! prints (docs/architecture.md). A command prints them with its `Printer`; the watch loop
//! and the controller log them, so a warning is never lost to a discarded printer.

use std::fmt::Display;
use std::sync::Mutex;

/// One thing to say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Notice {
    /// Done, but the user should know something (`warning: ...`).
    Warning(String),
    /// Advice (`note: ...`, hidden by `--quiet`).
    Note(String),
    /// What was used or done (a plain line, hidden by `--quiet`).
    Status(String),
}

/// Notices gathered while a layer works, in order; shared by the steps of one piece of work.
#[derive(Debug, Default)]
pub(crate) struct Notices(Mutex<Vec<Notice>>);

impl Notices {
    pub(crate) fn warning(&self, message: impl Display) {
        self.push(Notice::Warning(message.to_string()));
    }

    pub(crate) fn note(&self, message: impl Display) {
        self.push(Notice::Note(message.to_string()));
    }

    pub(crate) fn status(&self, message: impl Display) {
        self.push(Notice::Status(message.to_string()));
    }

    fn push(&self, notice: Notice) {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(notice);
    }

    /// Everything gathered so far, leaving none behind.
    pub(crate) fn take(&self) -> Vec<Notice> {
        std::mem::take(
            &mut self
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_come_back_in_order_once() {
        let notices = Notices::default();
        notices.status("using quay.io from docker");
        notices.warning("dropping ghcr.io");
        notices.note("kept as they are");
        assert_eq!(
            notices.take(),
            [
                Notice::Status("using quay.io from docker".into()),
                Notice::Warning("dropping ghcr.io".into()),
                Notice::Note("kept as they are".into()),
            ]
        );
        assert!(notices.take().is_empty());
    }
}
