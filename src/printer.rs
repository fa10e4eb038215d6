//! The one place that writes to the terminal. Commands hand results to stdout through
//! [`Printer::out`] and tell the user things on stderr through [`Printer::error`],
//! [`Printer::warning`], [`Printer::note`] and [`Printer::status`]. The printer decides about
//! colour (only on a terminal, never with `NO_COLOR`), the progress bar (only on a terminal)
//! and `--quiet` (no notes, status lines or progress; results, warnings and errors stay).
//! A captured printer lets tests read what a command printed without running the binary.
//! In a run across several contexts each context gets [`Printer::for_context`]: its lines and
//! messages carry the context's name, and its tables and documents are gathered so that one
//! table and one `List` can be printed for all of them (docs/contexts.md).

use std::fmt::Display;
use std::io::{self, IsTerminal, Write};
use std::sync::{Arc, Mutex};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

pub(crate) use crate::notices::Notice;
use crate::report::Gathered;
use crate::rules::text::{escape_controls, escape_field};

/// Below this many items a progress bar would only flicker.
const PROGRESS_THRESHOLD: usize = 20;

#[derive(Debug, Clone)]
pub(crate) struct Printer {
    quiet: bool,
    color: bool,
    progress: bool,
    streams: Streams,
    /// Set in a run across several contexts.
    context: Option<ContextScope>,
}

/// The context a printer speaks for, and where its tables and documents are gathered.
#[derive(Debug, Clone)]
pub(crate) struct ContextScope {
    pub(crate) name: Arc<str>,
    pub(crate) gathered: Arc<Mutex<Gathered>>,
}

#[derive(Debug, Clone)]
enum Streams {
    Terminal,
    /// Only tests capture; the commands print, the lower layers return notices.
    #[cfg_attr(not(test), allow(dead_code))]
    Captured(Arc<Mutex<Captured>>),
}

/// What a captured printer received.
#[derive(Debug, Default, Clone)]
pub(crate) struct Captured {
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Printer {
    /// The printer for a run: colour and progress when stderr is a terminal.
    pub(crate) fn for_terminal(quiet: bool) -> Self {
        let stderr_is_terminal = io::stderr().is_terminal();
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Self {
            quiet,
            color: stderr_is_terminal && !no_color,
            progress: stderr_is_terminal && !quiet,
            streams: Streams::Terminal,
            context: None,
        }
    }

    /// A printer that writes into memory, for tests; read it back with [`Printer::captured`].
    #[cfg(test)]
    pub(crate) fn capture(quiet: bool) -> Self {
        Self {
            quiet,
            color: false,
            progress: false,
            streams: Streams::Captured(Arc::default()),
            context: None,
        }
    }

    /// This printer, speaking for one of several contexts: its human lines and messages are
    /// prefixed with `name: `, its tables and documents go to `gathered`, and it draws no
    /// progress bar (several would fight over the terminal).
    pub(crate) fn for_context(&self, name: &str, gathered: Arc<Mutex<Gathered>>) -> Self {
        Self {
            progress: false,
            context: Some(ContextScope {
                name: name.into(),
                gathered,
            }),
            ..self.clone()
        }
    }

    /// The context this printer speaks for, in a run across several.
    pub(crate) fn context(&self) -> Option<&ContextScope> {
        self.context.as_ref()
    }

    /// What a captured printer holds so far (empty for a terminal printer).
    #[cfg(test)]
    pub(crate) fn captured(&self) -> Captured {
        match &self.streams {
            Streams::Terminal => Captured::default(),
            Streams::Captured(buffer) => buffer.lock().expect("capture lock").clone(),
        }
    }

    /// Standard output, for results. Lock it once per command and flush it before stderr
    /// messages that must come after the results.
    pub(crate) fn out(&self) -> Box<dyn Write + '_> {
        match &self.streams {
            Streams::Terminal => Box::new(io::stdout().lock()),
            Streams::Captured(buffer) => Box::new(CaptureWriter { buffer }),
        }
    }

    /// Standard output for human formats (lines, tables, descriptions): control characters
    /// in what is written, other than line ends, are shown escaped (`\u{1b}`), never obeyed.
    /// JSON and YAML go through [`Printer::out`] and stay exact.
    pub(crate) fn human_out(&self) -> Box<dyn Write + '_> {
        let escaped = EscapingWriter { inner: self.out() };
        match &self.context {
            None => Box::new(escaped),
            Some(scope) => Box::new(PrefixingWriter {
                inner: escaped,
                prefix: format!("{}: ", escape_field(&scope.name)),
                at_line_start: true,
            }),
        }
    }

    pub(crate) fn stdout_is_terminal(&self) -> bool {
        matches!(self.streams, Streams::Terminal) && io::stdout().is_terminal()
    }

    /// Whether a question can be asked (and answered) on stdin.
    pub(crate) fn stdin_is_terminal(&self) -> bool {
        matches!(self.streams, Streams::Terminal) && io::stdin().is_terminal()
    }

    /// Asks `question [y/N]` on stderr and reads the answer from stdin: yes only for `y` or
    /// `yes`. Shown even with `--quiet`: it waits for the user.
    pub(crate) fn confirm(&self, question: &str) -> io::Result<bool> {
        if !self.stdin_is_terminal() {
            return Ok(false);
        }
        let mut stderr = io::stderr().lock();
        write!(stderr, "{} [y/N] ", escape_controls(question))?;
        stderr.flush()?;
        drop(stderr);
        let mut answer = String::new();
        io::stdin().read_line(&mut answer)?;
        Ok(matches!(
            answer.trim().to_ascii_lowercase().as_str(),
            "y" | "yes"
        ))
    }

    /// `error: ...`: something failed. Always shown.
    pub(crate) fn error(&self, message: impl Display) {
        self.labelled("error", "1;31", message);
    }

    /// `warning: ...`: done, but the user should know something. Always shown.
    pub(crate) fn warning(&self, message: impl Display) {
        self.labelled("warning", "1;33", message);
    }

    /// `note: ...`: advice; hidden by `--quiet`.
    pub(crate) fn note(&self, message: impl Display) {
        if !self.quiet {
            self.labelled("note", "1;36", message);
        }
    }

    pub(crate) fn notice(&self, notice: &Notice) {
        match notice {
            Notice::Warning(text) => self.warning(text),
            Notice::Note(text) => self.note(text),
            Notice::Status(text) => self.status(text),
        }
    }

    /// Prints what a lower layer gathered, in order.
    pub(crate) fn notices(&self, notices: &crate::notices::Notices) {
        for notice in notices.take() {
            self.notice(&notice);
        }
    }

    /// A plain line on stderr (what was used, a summary); hidden by `--quiet`.
    pub(crate) fn status(&self, message: impl Display) {
        if !self.quiet {
            self.stderr_line(&self.in_context(message));
        }
    }

    /// A progress bar for `len` items, drawn only on a terminal and for long runs.
    fn progress(&self, len: usize, what: &str) -> ProgressBar {
        if !self.progress || len < PROGRESS_THRESHOLD {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::with_draw_target(Some(len as u64), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len}")
                .expect("static template")
                .progress_chars("=> "),
        );
        bar.set_prefix(what.to_string());
        bar
    }

    /// `name: message` when speaking for one of several contexts.
    fn in_context(&self, message: impl Display) -> String {
        match &self.context {
            None => message.to_string(),
            Some(scope) => format!("{}: {message}", escape_field(&scope.name)),
        }
    }

    fn labelled(&self, label: &str, style: &str, message: impl Display) {
        let message = escape_controls(&self.in_context(message)).into_owned();
        let line = if self.color {
            // Our own colour codes, added after the message was escaped.
            format!("\x1b[{style}m{label}\x1b[0m: {message}")
        } else {
            format!("{label}: {message}")
        };
        self.raw_stderr_line(&line);
    }

    fn stderr_line(&self, line: &str) {
        // Messages quote cluster text (image names, event messages): never raw escapes.
        self.raw_stderr_line(&escape_controls(line));
    }

    fn raw_stderr_line(&self, line: &str) {
        match &self.streams {
            // A closed stderr (`2>&1 | head -0`) must not stop the command: the work goes
            // on and the exit code still reports it, as kubectl's does. eprintln! would panic.
            Streams::Terminal => {
                let _ = writeln!(io::stderr().lock(), "{line}");
            }
            Streams::Captured(buffer) => {
                let mut buffer = buffer.lock().expect("capture lock");
                buffer.stderr.push_str(line);
                buffer.stderr.push('\n');
            }
        }
    }
}

/// Escapes C0, DEL and C1 control characters, but not `\n`, on their way through.
struct EscapingWriter<W: Write> {
    inner: W,
}

impl<W: Write> Write for EscapingWriter<W> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let mut start = 0;
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            // C1 controls are U+0080..U+009F: 0xC2 0x80..=0x9F in UTF-8.
            let c1 = b == 0xC2 && bytes.get(i + 1).is_some_and(|n| (0x80..=0x9F).contains(n));
            let control = (b < 0x20 && b != b'\n') || b == 0x7F || c1;
            if control {
                self.inner.write_all(&bytes[start..i])?;
                let code = if c1 {
                    u32::from(bytes[i + 1])
                } else {
                    u32::from(b)
                };
                write!(self.inner, "\\u{{{code:x}}}")?;
                i += if c1 { 2 } else { 1 };
                start = i;
            } else {
                i += 1;
            }
        }
        self.inner.write_all(&bytes[start..])?;
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Starts every line with the context's name.
struct PrefixingWriter<W: Write> {
    inner: W,
    prefix: String,
    at_line_start: bool,
}

impl<W: Write> Write for PrefixingWriter<W> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        for line in bytes.split_inclusive(|b| *b == b'\n') {
            if self.at_line_start {
                self.inner.write_all(self.prefix.as_bytes())?;
            }
            self.inner.write_all(line)?;
            self.at_line_start = line.ends_with(b"\n");
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Captured standard output.
struct CaptureWriter<'a> {
    buffer: &'a Mutex<Captured>,
}

impl Write for CaptureWriter<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let mut buffer = self.buffer.lock().expect("capture lock");
        buffer.stdout.push_str(&String::from_utf8_lossy(bytes));
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Printer {
    /// This printer as the progress reporter lower layers take.
    pub(crate) fn reporter(&self) -> std::sync::Arc<dyn crate::fanout::Progress> {
        std::sync::Arc::new(self.clone())
    }
}

impl crate::fanout::Progress for Printer {
    fn bar(&self, len: usize, what: &str) -> ProgressBar {
        self.progress(len, what)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_hides_notes_and_status_but_not_warnings_errors_or_results() {
        let printer = Printer::capture(true);
        printer.note("a note");
        printer.status("3 namespaces: 3 created");
        printer.warning("careful");
        printer.error("broken");
        writeln!(printer.out(), "secret/x created").unwrap();
        let captured = printer.captured();
        assert_eq!(captured.stdout, "secret/x created\n");
        assert_eq!(captured.stderr, "warning: careful\nerror: broken\n");
    }

    #[test]
    fn messages_show_control_characters_instead_of_obeying_them() {
        let printer = Printer::capture(false);
        printer.warning("image evil\u{1b}]0;pwned\u{7}\u{1b}[2J:1 matches nothing");
        printer.status("event\u{1b}[31m");
        assert_eq!(
            printer.captured().stderr,
            "warning: image evil\\u{1b}]0;pwned\\u{7}\\u{1b}[2J:1 matches nothing\nevent\\u{1b}[31m\n"
        );
    }

    #[test]
    fn human_stdout_escapes_controls_and_keeps_line_ends() {
        let printer = Printer::capture(false);
        write!(
            printer.human_out(),
            "pod/web: pull \u{1b}[2J\u{9b}31m\u{7f} failed\nnext ünïcode\n"
        )
        .unwrap();
        writeln!(printer.out(), "{{\"raw\": \"\u{1b}\"}}").unwrap();
        assert_eq!(
            printer.captured().stdout,
            "pod/web: pull \\u{1b}[2J\\u{9b}31m\\u{7f} failed\nnext ünïcode\n{\"raw\": \"\u{1b}\"}\n"
        );
    }

    #[test]
    fn a_context_printer_prefixes_lines_and_messages_with_its_name() {
        let printer = Printer::capture(false).for_context("prod", Arc::default());
        let mut out = printer.human_out();
        write!(out, "secret/x created\nsecret/y ").unwrap();
        writeln!(out, "created").unwrap();
        drop(out);
        printer.error("namespace a: forbidden");
        printer.status("2 namespaces: 2 created");
        let captured = printer.captured();
        assert_eq!(
            captured.stdout,
            "prod: secret/x created\nprod: secret/y created\n"
        );
        assert_eq!(
            captured.stderr,
            "error: prod: namespace a: forbidden\nprod: 2 namespaces: 2 created\n"
        );
    }

    #[test]
    fn labels_without_colour_off_a_terminal() {
        let printer = Printer::capture(false);
        printer.notice(&Notice::Note("rerun with --restart".into()));
        assert_eq!(printer.captured().stderr, "note: rerun with --restart\n");
        assert!(printer.progress(100, "namespaces").is_hidden());
    }
}
