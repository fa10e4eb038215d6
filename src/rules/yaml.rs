//! YAML as `kubectl get -o yaml` writes it, byte for byte (docs/conventions.md, "Output").
//!
//! kubectl turns an object into JSON and the JSON into YAML with go-yaml v2
//! (sigs.k8s.io/yaml), so its output follows go-yaml's rules, which no Rust YAML library
//! copies: keys in go-yaml's order (digits compared as numbers, letters after other
//! characters), a string plain when YAML 1.1 would read it back as that string, else single
//! quotes, double quotes when it holds characters single quotes cannot, `|` blocks for text
//! with line breaks, and long lines folded at spaces past column 80. The sources are
//! go-yaml's `encode.go` (`stringv`), `resolve.go` and libyaml's emitter
//! (`yaml_emitter_analyze_scalar`, `yaml_emitter_select_scalar_style`, the `write_*_scalar`
//! functions), as vendored in sigs.k8s.io/yaml.

use serde_json::Value;
use std::cmp::Ordering;

/// The column past which go-yaml folds a line at a space (libyaml's `best_width`).
const BEST_WIDTH: usize = 80;
/// go-yaml's indent step.
const INDENT: usize = 2;

/// `value` as kubectl prints it with `-o yaml`, ending with a newline. Keys keep their order:
/// sort them with [`go_yaml_key_order`] first for kubectl's.
pub fn to_kubectl_yaml(value: &Value) -> String {
    let mut emitter = Emitter {
        whitespace: true,
        ..Emitter::default()
    };
    match value {
        Value::Object(map) if !map.is_empty() => emitter.mapping(map, 0),
        Value::Array(items) if !items.is_empty() => emitter.sequence(items, 0),
        scalar => {
            emitter.whitespace = true;
            emitter.scalar(scalar, 0, false);
            if emitter.column > 0 {
                emitter.newline();
            }
        }
    }
    emitter.out
}

#[derive(Default)]
struct Emitter {
    out: String,
    column: usize,
    /// Whether the last character written is a space or a line start (libyaml's
    /// `whitespace`): a scalar then needs no space before it.
    whitespace: bool,
}

impl Emitter {
    fn push(&mut self, text: &str) {
        for c in text.chars() {
            self.out.push(c);
            if c == '\n' {
                self.column = 0;
            } else {
                self.column += 1;
            }
        }
        self.whitespace = text.ends_with([' ', '\n']);
    }

    fn newline(&mut self) {
        self.push("\n");
    }

    /// A new line (unless at the start of one) indented to `indent`.
    fn start_line(&mut self, indent: usize) {
        if self.column > 0 {
            self.newline();
        }
        while self.column < indent {
            self.push(" ");
        }
    }

    /// A block mapping whose keys start at `indent`; after `- ` its first key stays on the
    /// dash's line.
    fn mapping(&mut self, map: &serde_json::Map<String, Value>, indent: usize) {
        for (i, (key, value)) in map.iter().enumerate() {
            if i > 0 || self.column < indent || !self.whitespace {
                self.start_line(indent);
            }
            self.string(key, indent, true);
            self.push(":");
            self.value(value, indent, true);
        }
    }

    /// A block sequence whose `- ` starts at `indent` (go-yaml does not indent a sequence
    /// under its key).
    fn sequence(&mut self, items: &[Value], indent: usize) {
        for (i, item) in items.iter().enumerate() {
            if i > 0 || self.column < indent || !self.whitespace {
                self.start_line(indent);
            }
            self.push("-");
            self.value(item, indent, false);
        }
    }

    /// A mapping value (after `key:`) or a sequence item (after `-`).
    fn value(&mut self, value: &Value, indent: usize, in_mapping: bool) {
        match value {
            Value::Object(map) if !map.is_empty() => {
                if in_mapping {
                    self.newline();
                } else {
                    self.push(" ");
                }
                self.mapping(map, indent + INDENT);
            }
            Value::Array(items) if !items.is_empty() => {
                if in_mapping {
                    self.newline();
                    self.sequence(items, indent);
                } else {
                    self.push(" ");
                    self.sequence(items, indent + INDENT);
                }
            }
            scalar => {
                self.scalar(scalar, indent + INDENT, false);
                // A `|` text that ends with a line break has ended its line.
                if self.column > 0 {
                    self.newline();
                }
            }
        }
    }

    /// A scalar whose folded lines start at `indent`.
    fn scalar(&mut self, value: &Value, indent: usize, key: bool) {
        let text = match value {
            Value::Null => "null".to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => go_number(n),
            Value::String(s) => return self.string(s, indent, key),
            Value::Object(_) => "{}".to_string(),
            Value::Array(_) => "[]".to_string(),
        };
        if !self.whitespace {
            self.push(" ");
        }
        self.push(&text);
    }

    fn string(&mut self, text: &str, indent: usize, key: bool) {
        match scalar_style(text, key) {
            Style::Plain => self.plain(text, indent, !key),
            Style::SingleQuoted => self.single_quoted(text, indent, !key),
            Style::DoubleQuoted => self.double_quoted(text, indent, !key),
            Style::Literal => self.literal(text, indent),
        }
    }

    fn plain(&mut self, text: &str, indent: usize, allow_breaks: bool) {
        if !self.whitespace {
            self.push(" ");
        }
        let chars: Vec<char> = text.chars().collect();
        let mut spaces = false;
        for (i, &c) in chars.iter().enumerate() {
            if c == ' ' {
                let next_is_space = chars.get(i + 1) == Some(&' ');
                if allow_breaks && !spaces && self.column > BEST_WIDTH && !next_is_space {
                    self.fold(indent);
                } else {
                    self.push(" ");
                }
                spaces = true;
            } else {
                self.push_char(c);
                spaces = false;
            }
        }
    }

    fn single_quoted(&mut self, text: &str, indent: usize, allow_breaks: bool) {
        if !self.whitespace {
            self.push(" ");
        }
        self.push("'");
        let chars: Vec<char> = text.chars().collect();
        let mut spaces = false;
        for (i, &c) in chars.iter().enumerate() {
            if c == ' ' {
                let inner = i != 0 && i != chars.len() - 1;
                let next_is_space = chars.get(i + 1) == Some(&' ');
                if allow_breaks && !spaces && self.column > BEST_WIDTH && inner && !next_is_space {
                    self.fold(indent);
                } else {
                    self.push(" ");
                }
                spaces = true;
            } else {
                if c == '\'' {
                    self.push("'");
                }
                self.push_char(c);
                spaces = false;
            }
        }
        self.push("'");
        self.whitespace = false;
    }

    fn double_quoted(&mut self, text: &str, indent: usize, allow_breaks: bool) {
        if !self.whitespace {
            self.push(" ");
        }
        self.push("\"");
        let chars: Vec<char> = text.chars().collect();
        let mut spaces = false;
        for (i, &c) in chars.iter().enumerate() {
            if !is_printable(c) || c == '\u{feff}' || is_break(c) || c == '"' || c == '\\' {
                self.push(&escape(c));
                spaces = false;
            } else if c == ' ' {
                let inner = i != 0 && i != chars.len() - 1;
                if allow_breaks && !spaces && self.column > BEST_WIDTH && inner {
                    self.fold(indent);
                    if chars.get(i + 1) == Some(&' ') {
                        self.push("\\");
                    }
                } else {
                    self.push(" ");
                }
                spaces = true;
            } else {
                self.push_char(c);
                spaces = false;
            }
        }
        self.push("\"");
        self.whitespace = false;
    }

    fn literal(&mut self, text: &str, indent: usize) {
        if !self.whitespace {
            self.push(" ");
        }
        self.push("|");
        let chars: Vec<char> = text.chars().collect();
        if chars.first().is_some_and(|c| *c == ' ' || is_break(*c)) {
            self.push(&INDENT.to_string());
        }
        match chars.as_slice() {
            [.., last] if !is_break(*last) => self.push("-"),
            [_] => self.push("+"),
            [.., before, _] if is_break(*before) => self.push("+"),
            _ => {}
        }
        self.newline();
        let mut line_start = true;
        for c in chars {
            if is_break(c) {
                self.newline();
                line_start = true;
            } else {
                if line_start {
                    while self.column < indent {
                        self.push(" ");
                    }
                    line_start = false;
                }
                self.push_char(c);
            }
        }
    }

    /// A line break inside a scalar: the next line starts at `indent`.
    fn fold(&mut self, indent: usize) {
        self.newline();
        while self.column < indent {
            self.push(" ");
        }
    }

    fn push_char(&mut self, c: char) {
        let mut buffer = [0; 4];
        self.push(c.encode_utf8(&mut buffer));
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    Plain,
    SingleQuoted,
    DoubleQuoted,
    Literal,
}

/// go-yaml's `stringv` asks for a style; libyaml's `select_scalar_style` downgrades it to
/// what the text allows.
fn scalar_style(text: &str, key: bool) -> Style {
    let wanted = if text.contains('\n') {
        Style::Literal
    } else if resolves_to_string(text) && !is_base60_float(text) {
        Style::Plain
    } else {
        Style::DoubleQuoted
    };
    let allowed = analyze(text);
    let multiline = allowed.line_breaks;
    if key && multiline {
        return Style::DoubleQuoted;
    }
    match wanted {
        Style::Plain if !allowed.block_plain || (text.is_empty() && key) => {
            if allowed.single_quoted {
                Style::SingleQuoted
            } else {
                Style::DoubleQuoted
            }
        }
        Style::Literal if !allowed.block || key => Style::DoubleQuoted,
        style => style,
    }
}

struct Allowed {
    block_plain: bool,
    single_quoted: bool,
    block: bool,
    line_breaks: bool,
}

/// libyaml's `yaml_emitter_analyze_scalar`, for block context.
fn analyze(text: &str) -> Allowed {
    let chars: Vec<char> = text.chars().collect();
    if chars.is_empty() {
        return Allowed {
            block_plain: true,
            single_quoted: true,
            block: false,
            line_breaks: false,
        };
    }
    let mut block_indicators = text.starts_with("---") || text.starts_with("...");
    let (mut leading_space, mut leading_break) = (false, false);
    let (mut trailing_space, mut trailing_break) = (false, false);
    let (mut break_space, mut space_break) = (false, false);
    let (mut previous_space, mut previous_break) = (false, false);
    let (mut line_breaks, mut special_characters) = (false, false);
    let mut preceded_by_whitespace = true;
    let blankz = |i: usize| {
        chars
            .get(i)
            .is_none_or(|c| *c == ' ' || *c == '\t' || is_break(*c))
    };
    for (i, &c) in chars.iter().enumerate() {
        let followed_by_whitespace = blankz(i + 1);
        let (first, last) = (i == 0, i == chars.len() - 1);
        if first {
            if "#,[]{}&*!|>'\"%@`".contains(c) {
                block_indicators = true;
            }
            if (c == '?' || c == ':' || c == '-') && followed_by_whitespace {
                block_indicators = true;
            }
        } else if (c == ':' && followed_by_whitespace) || (c == '#' && preceded_by_whitespace) {
            block_indicators = true;
        }
        if !is_printable(c) || c == '\u{feff}' {
            special_characters = true;
        }
        if is_break(c) {
            line_breaks = true;
        }
        if c == ' ' {
            leading_space |= first;
            trailing_space |= last;
            break_space |= previous_break;
            previous_space = true;
            previous_break = false;
        } else if is_break(c) {
            leading_break |= first;
            trailing_break |= last;
            space_break |= previous_space;
            previous_break = true;
            previous_space = false;
        } else {
            previous_space = false;
            previous_break = false;
        }
        preceded_by_whitespace = blankz(i);
    }
    let mut allowed = Allowed {
        block_plain: true,
        single_quoted: true,
        block: true,
        line_breaks,
    };
    if leading_space || leading_break || trailing_space || trailing_break {
        allowed.block_plain = false;
    }
    if trailing_space {
        allowed.block = false;
    }
    if break_space {
        allowed.block_plain = false;
        allowed.single_quoted = false;
    }
    if space_break || special_characters {
        allowed.block_plain = false;
        allowed.single_quoted = false;
        allowed.block = false;
    }
    if line_breaks || block_indicators {
        allowed.block_plain = false;
    }
    allowed
}

/// libyaml's `is_printable` with go-yaml's unicode output: only these are written as they
/// are inside quotes.
fn is_printable(c: char) -> bool {
    matches!(c, '\n' | '\u{20}'..='\u{7e}' | '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}')
}

fn is_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

fn escape(c: char) -> String {
    let short = match c {
        '\0' => '0',
        '\u{7}' => 'a',
        '\u{8}' => 'b',
        '\t' => 't',
        '\n' => 'n',
        '\u{b}' => 'v',
        '\u{c}' => 'f',
        '\r' => 'r',
        '\u{1b}' => 'e',
        '"' => '"',
        '\\' => '\\',
        '\u{85}' => 'N',
        '\u{a0}' => '_',
        '\u{2028}' => 'L',
        '\u{2029}' => 'P',
        c => {
            let code = c as u32;
            return match code {
                0..=0xff => format!("\\x{code:02X}"),
                0x100..=0xffff => format!("\\u{code:04X}"),
                _ => format!("\\U{code:08X}"),
            };
        }
    };
    format!("\\{short}")
}

/// go-yaml's `resolve` of a plain scalar: whether YAML 1.1 reads `text` back as a string
/// (not a bool, null, number, timestamp or merge key).
fn resolves_to_string(text: &str) -> bool {
    const SPECIAL: &[&str] = &[
        "y", "Y", "yes", "Yes", "YES", "on", "On", "ON", "n", "N", "no", "No", "NO", "off", "Off",
        "OFF", "true", "True", "TRUE", "false", "False", "FALSE", "", "~", "null", "Null", "NULL",
        ".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf",
        "-.Inf", "-.INF", "<<",
    ];
    let hint = text.chars().next();
    match hint {
        None => false,
        Some(c) if !"+-0123456789yYnNtTfFoO~.<".contains(c) => true,
        Some(_) if SPECIAL.contains(&text) => false,
        Some('.') => !regex_match(r"^\.[0-9]+([eE][-+]?[0-9]+)?$", text),
        Some('+' | '-' | '0'..='9') => {
            let plain = text.replace('_', "");
            !(is_timestamp(text)
                || regex_match(
                    r"^[-+]?(0[xX][0-9a-fA-F]+|0[oO]?[0-7]*|[1-9][0-9]*|0[bB][01]+)$",
                    &plain,
                )
                || regex_match(
                    r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$",
                    &plain,
                ))
        }
        Some(_) => true,
    }
}

/// go-yaml's `parseTimestamp`: `2006-1-2`, with `T`, `t` or a space and a time.
fn is_timestamp(text: &str) -> bool {
    regex_match(
        r"^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(([Tt][0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2}))|( [0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}(\.[0-9]+)?))?$",
        text,
    )
}

fn is_base60_float(text: &str) -> bool {
    regex_match(r"^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$", text)
}

fn regex_match(pattern: &str, text: &str) -> bool {
    regex::Regex::new(pattern)
        .expect("valid regex")
        .is_match(text)
}

/// A JSON number as go-yaml writes it: integers as they are, floats as Go's
/// `strconv.FormatFloat(f, 'g', -1, 64)`.
fn go_number(number: &serde_json::Number) -> String {
    if number.is_i64() || number.is_u64() {
        return number.to_string();
    }
    let value = number.as_f64().unwrap_or(0.0);
    let exponent = if value == 0.0 {
        0
    } else {
        value.abs().log10().floor() as i32
    };
    if (-4..21).contains(&exponent) {
        format!("{value}")
    } else {
        let text = format!("{value:e}");
        let (mantissa, exp) = text.split_once('e').expect("an exponent");
        let exp: i32 = exp.parse().expect("a number");
        format!(
            "{mantissa}e{}{:02}",
            if exp < 0 { '-' } else { '+' },
            exp.abs()
        )
    }
}

/// go-yaml's `keyList.Less`: letters after other characters, runs of digits compared as
/// numbers.
pub fn go_yaml_key_order(a: &str, b: &str) -> Ordering {
    let (ar, br): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    for i in 0..ar.len().min(br.len()) {
        if ar[i] == br[i] {
            continue;
        }
        let (al, bl) = (ar[i].is_alphabetic(), br[i].is_alphabetic());
        if al && bl {
            return ar[i].cmp(&br[i]);
        }
        if al || bl {
            return if bl {
                Ordering::Less
            } else {
                Ordering::Greater
            };
        }
        let (mut an, mut bn) = (0i64, 0i64);
        if ar[i] == '0' || br[i] == '0' {
            for j in (0..i).rev() {
                if !ar[j].is_ascii_digit() {
                    break;
                }
                if ar[j] != '0' {
                    an = 1;
                    bn = 1;
                    break;
                }
            }
        }
        let mut ai = i;
        while ai < ar.len() && ar[ai].is_ascii_digit() {
            an = an
                .saturating_mul(10)
                .saturating_add(i64::from(ar[ai] as u8 - b'0'));
            ai += 1;
        }
        let mut bi = i;
        while bi < br.len() && br[bi].is_ascii_digit() {
            bn = bn
                .saturating_mul(10)
                .saturating_add(i64::from(br[bi] as u8 - b'0'));
            bi += 1;
        }
        if an != bn {
            return an.cmp(&bn);
        }
        if ai != bi {
            return ai.cmp(&bi);
        }
        return ar[i].cmp(&br[i]);
    }
    ar.len().cmp(&br.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sorted(value: &Value) -> Value {
        crate::rules::json::with_sorted_keys(value, go_yaml_key_order)
    }

    #[test]
    fn strings_take_go_yamls_styles() {
        let yaml = to_kubectl_yaml(&sorted(&json!({
            "plain": "kubernetes.io/dockerconfigjson",
            "json": "{\"a\":1}",
            "yes": "yes",
            "number": "0777",
            "date": "2026-12-01T00:00:00Z",
            "empty": "",
            "colon": "a: b",
            "quote": "it's",
            "tab": "a\tb",
            "lines": "one\ntwo",
            "lines-end": "one\ntwo\n",
            "dash": "-",
            "emoji": "\u{1F600}",
        })));
        let expected = [
            r#"colon: 'a: b'"#,
            r#"dash: '-'"#,
            r#"date: "2026-12-01T00:00:00Z""#,
            r#"emoji: "\U0001F600""#,
            r#"empty: """#,
            r#"json: '{"a":1}'"#,
            r#"lines: |-"#,
            r#"  one"#,
            r#"  two"#,
            r#"lines-end: |"#,
            r#"  one"#,
            r#"  two"#,
            r#"number: "0777""#,
            r#"plain: kubernetes.io/dockerconfigjson"#,
            r#"quote: it's"#,
            r#"tab: "a\tb""#,
            r#""yes": "yes""#,
        ];
        assert_eq!(yaml, expected.map(|line| format!("{line}\n")).concat());
    }

    #[test]
    fn nesting_follows_go_yaml() {
        let yaml = to_kubectl_yaml(&sorted(&json!({
            "items": [{"a": 1, "b": [true, null]}, [], {}],
            "metadata": {"labels": {"x": "y"}, "empty": {}},
        })));
        assert_eq!(
            yaml,
            "items:\n- a: 1\n  b:\n  - true\n  - null\n- []\n- {}\nmetadata:\n  empty: {}\n  labels:\n    x: \"y\"\n"
        );
    }

    #[test]
    fn long_lines_fold_at_spaces_past_column_80() {
        let words = "word ".repeat(30);
        let yaml = to_kubectl_yaml(&json!({ "message": words.trim_end() }));
        let lines: Vec<&str> = yaml.lines().collect();
        assert!(lines.len() > 1, "{yaml}");
        assert!(lines[1].starts_with("  word"), "{yaml}");
        assert!(lines[0].len() <= 86, "{yaml}");
    }

    #[test]
    fn keys_sort_as_go_yaml_sorts_them() {
        let mut keys = vec!["a10", "a9", "b", "_x", "A", ".dockerconfigjson", "a-1"];
        keys.sort_by(|a, b| go_yaml_key_order(a, b));
        assert_eq!(
            keys,
            [".dockerconfigjson", "_x", "A", "a-1", "a9", "a10", "b"]
        );
    }

    #[test]
    fn floats_print_as_go_does() {
        assert_eq!(
            go_number(&serde_json::Number::from_f64(1.5).unwrap()),
            "1.5"
        );
        assert_eq!(
            go_number(&serde_json::Number::from_f64(1e21).unwrap()),
            "1e+21"
        );
        assert_eq!(
            go_number(&serde_json::Number::from_f64(0.00001).unwrap()),
            "1e-05"
        );
    }
}
