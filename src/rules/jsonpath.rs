//! kubectl's `-o jsonpath=TEMPLATE` and `-o custom-columns=SPEC` (docs/conventions.md,
//! "jsonpath and custom-columns").
//!
//! kubectl's template language is JSONPath queries inside `{...}`, plain text between them,
//! quoted text, and `{range QUERY}...{end}` (client-go's `util/jsonpath`). The queries
//! themselves are evaluated by `serde_json_path` (RFC 9535); this module only reads kubectl's
//! spelling of them (`.name-with-dash`, `\.` escapes, `[?(@.a=="b")]`, `=~`) into RFC 9535
//! syntax and prints the results as kubectl prints them.

use serde_json::Value;
use serde_json_path::JsonPath;

use super::json::{byte_order, with_sorted_keys};

/// A template or column spec kubectl would not accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// `-o jsonpath=...`: the template as typed, and why it was refused.
    #[error("invalid jsonpath template {template:?}: {reason}")]
    Template {
        /// The template as typed.
        template: String,
        /// What is wrong with it.
        reason: String,
    },
    /// `-o custom-columns=...`: a column not of the form `HEADER:PATH`.
    #[error("invalid custom-columns spec {spec:?}: expected HEADER:PATH, e.g. NAME:.metadata.name")]
    Column {
        /// The column as typed.
        spec: String,
    },
}

/// A parsed `-o jsonpath=` template.
#[derive(Debug, Clone)]
pub struct Template {
    source: String,
    nodes: Vec<Node>,
}

impl PartialEq for Template {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Eq for Template {}

#[derive(Debug, Clone)]
enum Node {
    Text(String),
    Query(JsonPath),
    Range(JsonPath, Vec<Node>),
}

/// One `{...}` action: what it holds, before ranges are nested.
enum Action {
    Text(String),
    Query(JsonPath),
    Range(JsonPath),
    End,
}

impl Template {
    /// Reads a template as kubectl's `-o jsonpath=` takes it: text outside `{}` is printed
    /// as it is, so `.metadata.name` without braces prints itself, as in kubectl.
    pub fn parse(text: &str) -> Result<Self, TemplateError> {
        let refuse = |reason: String| TemplateError::Template {
            template: text.to_string(),
            reason,
        };
        let mut stack: Vec<(Option<JsonPath>, Vec<Node>)> = vec![(None, Vec::new())];
        for piece in split_actions(text).map_err(refuse)? {
            let action = match piece {
                Piece::Text(text) => Action::Text(text),
                Piece::Action(action) => read_action(&action).map_err(refuse)?,
            };
            match action {
                Action::Text(text) => stack.last_mut().expect("root").1.push(Node::Text(text)),
                Action::Query(path) => stack.last_mut().expect("root").1.push(Node::Query(path)),
                Action::Range(path) => stack.push((Some(path), Vec::new())),
                Action::End => {
                    let (Some(path), body) = stack.pop().expect("root") else {
                        return Err(refuse("{end} without a {range}".into()));
                    };
                    stack
                        .last_mut()
                        .expect("root")
                        .1
                        .push(Node::Range(path, body));
                }
            }
        }
        if stack.len() > 1 {
            return Err(refuse("{range} without an {end}".into()));
        }
        let (_, nodes) = stack.pop().expect("root");
        Ok(Self {
            source: text.to_string(),
            nodes,
        })
    }

    /// The template's output for `document`, as kubectl prints it: a query's results are
    /// separated by a space; strings bare, numbers and booleans as text, maps and lists as
    /// compact JSON. A key that is missing prints nothing (kubectl's
    /// `--allow-missing-template-keys`, on by default).
    pub fn render(&self, document: &Value) -> String {
        self.render_with(document, |value| value.to_string())
    }

    /// [`Template::render`] with every value found passed through `shown` (the template's
    /// own text is not): for a terminal, values from the cluster are escaped, while a
    /// template's `{"\t"}` stays a tab.
    pub fn render_with(&self, document: &Value, shown: impl Fn(&str) -> String) -> String {
        let mut out = String::new();
        render_nodes(&self.nodes, document, &shown, &mut out);
        out
    }

    /// The template as typed.
    pub fn source(&self) -> &str {
        &self.source
    }
}

fn render_nodes(nodes: &[Node], current: &Value, shown: &dyn Fn(&str) -> String, out: &mut String) {
    for node in nodes {
        match node {
            Node::Text(text) => out.push_str(text),
            Node::Query(path) => {
                let texts: Vec<String> = path
                    .query(current)
                    .all()
                    .into_iter()
                    .map(|value| shown(&text_of(value)))
                    .collect();
                out.push_str(&texts.join(" "));
            }
            Node::Range(path, body) => {
                for item in path.query(current).all() {
                    render_nodes(body, item, shown, out);
                }
            }
        }
    }
}

/// client-go's `PrintResults`: strings bare; maps and lists as Go's `json.Marshal` writes them.
fn text_of(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Object(_) | Value::Array(_) => go_json(value),
        Value::Null => "<nil>".into(),
        other => other.to_string(),
    }
}

/// Go's `json.Marshal`: compact, keys sorted (Go maps), and `<`, `>`, `&`, U+2028 and U+2029
/// escaped. Those characters can only occur inside strings, so replacing them is safe.
fn go_json(value: &Value) -> String {
    serde_json::to_string(&with_sorted_keys(value, byte_order))
        .expect("a Value serializes")
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

enum Piece {
    Text(String),
    Action(String),
}

/// Splits a template into text and `{...}` actions. A `}` inside quotes does not end an
/// action; a line break inside one is an error, as in client-go's parser.
fn split_actions(text: &str) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        if open > 0 {
            pieces.push(Piece::Text(rest[..open].to_string()));
        }
        let body = &rest[open + 1..];
        let mut quote = None;
        let mut escaped = false;
        let mut close = None;
        for (i, c) in body.char_indices() {
            match (quote, c) {
                (_, '\n' | '\r') => return Err("unclosed action".into()),
                (Some(_), '\\') if !escaped => {
                    escaped = true;
                    continue;
                }
                (Some(q), c) if c == q && !escaped => quote = None,
                (None, '"' | '\'') => quote = Some(c),
                (None, '}') => {
                    close = Some(i);
                    break;
                }
                _ => {}
            }
            escaped = false;
        }
        let close = close.ok_or("unclosed action")?;
        pieces.push(Piece::Action(body[..close].to_string()));
        rest = &body[close + 1..];
    }
    if !rest.is_empty() {
        pieces.push(Piece::Text(rest.to_string()));
    }
    Ok(pieces)
}

fn read_action(action: &str) -> Result<Action, String> {
    let action = action.trim_matches([' ', '\t']);
    if action == "end" {
        return Ok(Action::End);
    }
    if let Some(query) = action.strip_prefix("range")
        && (query.is_empty() || query.starts_with([' ', '\t']))
    {
        return Ok(Action::Range(compile(query.trim_start())?));
    }
    if action.starts_with(['"', '\'']) {
        return unquote(action).map(Action::Text);
    }
    compile(action).map(Action::Query)
}

fn compile(query: &str) -> Result<JsonPath, String> {
    let rfc = to_rfc9535(query, '$')?;
    JsonPath::parse(&rfc).map_err(|e| format!("{query}: {e}"))
}

/// kubectl's spelling of a query in RFC 9535's: `.a-b` → `['a-b']`, `\.` escapes a dot in
/// a name, `[?(@.a=="b")]` keeps its one comparison, `=~` is RFC 9535's `search()`.
/// A leading `$` or `@` is optional, as in kubectl (both name the current object).
fn to_rfc9535(query: &str, root: char) -> Result<String, String> {
    let chars: Vec<char> = query.chars().collect();
    let mut out = String::from(root);
    let mut i = 0;
    if matches!(chars.first(), Some('$' | '@')) {
        i = 1;
    }
    while i < chars.len() {
        match chars[i] {
            ' ' | '\t' => i += 1,
            '.' if chars.get(i + 1) == Some(&'.') => {
                out.push_str("..");
                i += 2;
                if chars
                    .get(i)
                    .is_some_and(|c| c.is_alphanumeric() || *c == '_')
                {
                    i = push_field(&chars, i, &mut out)?;
                } else if chars.get(i) == Some(&'*') {
                    out.push_str("[*]");
                    i += 1;
                }
            }
            '.' => i = push_field(&chars, i + 1, &mut out)?,
            '[' if chars[i..].starts_with(&['[', '?', '(']) => {
                let (filter, next) = take_filter(&chars, i + 3)?;
                out.push_str(&format!("[?{}]", filter_to_rfc9535(&filter)?));
                i = next;
            }
            '[' => {
                let close = chars[i..]
                    .iter()
                    .position(|c| *c == ']')
                    .ok_or("unterminated array")?;
                let inner: String = chars[i + 1..i + close].iter().collect();
                out.push_str(&format!("[{}]", selectors(&inner)?));
                i += close + 1;
            }
            c => return Err(format!("unrecognized character in action: {c:?}")),
        }
    }
    Ok(out)
}

/// A kubectl field name after `.`: up to a terminator, `\x` standing for `x`.
fn push_field(chars: &[char], mut i: usize, out: &mut String) -> Result<usize, String> {
    let mut name = String::new();
    while let Some(&c) = chars.get(i) {
        match c {
            '\\' => {
                if let Some(&next) = chars.get(i + 1) {
                    name.push(next);
                }
                i += 2;
                continue;
            }
            ' ' | '\t' | '.' | ',' | '[' | ']' | '$' | '@' | '{' | '}' => break,
            c => name.push(c),
        }
        i += 1;
    }
    match name.as_str() {
        "" => {}
        "*" => out.push_str("[*]"),
        name => out.push_str(&format!("[{}]", quoted(name))),
    }
    Ok(i)
}

/// An RFC 9535 single-quoted name.
fn quoted(name: &str) -> String {
    let mut text = String::from("'");
    for c in name.chars() {
        match c {
            '\'' => text.push_str("\\'"),
            '\\' => text.push_str("\\\\"),
            c if (c as u32) < 0x20 => text.push_str(&format!("\\u{:04x}", c as u32)),
            c => text.push(c),
        }
    }
    text.push('\'');
    text
}

/// The inside of `[...]`: `*`, an index, a slice, `'key'`, or a union of them.
fn selectors(inner: &str) -> Result<String, String> {
    if inner.trim() == "*" {
        return Ok("*".into());
    }
    let slice = regex::Regex::new(r"^-?\d*(:-?\d*)?(:-?\d*)?$").expect("valid regex");
    inner
        .split(',')
        .map(str::trim)
        .map(|part| {
            if let Some(key) = part.strip_prefix('\'').and_then(|p| p.strip_suffix('\'')) {
                Ok(quoted(key))
            } else if !part.is_empty() && slice.is_match(part) {
                Ok(part.to_string())
            } else {
                Err(format!("invalid array index {part}"))
            }
        })
        .collect::<Result<Vec<_>, _>>()
        .map(|parts| parts.join(","))
}

/// The text of `[?( ... )]` and the index after `)]`; quotes may hold `)`.
fn take_filter(chars: &[char], start: usize) -> Result<(String, usize), String> {
    let mut quote = None;
    let mut i = start;
    while let Some(&c) = chars.get(i) {
        match (quote, c) {
            (Some(_), '\\') => i += 1,
            (Some(q), c) if c == q => quote = None,
            (None, '"' | '\'') => quote = Some(c),
            (None, ')') if chars.get(i + 1) == Some(&']') => {
                return Ok((chars[start..i].iter().collect(), i + 2));
            }
            _ => {}
        }
        i += 1;
    }
    Err("unterminated filter".into())
}

/// kubectl's filter: one comparison `LEFT OP RIGHT`, or a query alone (exists). Queries in
/// it start at the element being filtered, whether written with `@` or `$`.
fn filter_to_rfc9535(filter: &str) -> Result<String, String> {
    let comparison = regex::Regex::new(r"^([^!<>=]+)([!<>=~]+)(.+?)$").expect("valid regex");
    let Some(parts) = comparison.captures(filter) else {
        return operand(filter.trim());
    };
    let (left, op, right) = (
        operand(parts[1].trim())?,
        &parts[2],
        operand(parts[3].trim())?,
    );
    match op {
        "==" | "!=" | "<" | ">" | "<=" | ">=" => Ok(format!("{left} {op} {right}")),
        "=~" => Ok(format!("search({left}, {right})")),
        op => Err(format!("unrecognized filter operator {op}")),
    }
}

fn operand(text: &str) -> Result<String, String> {
    if text.starts_with(['@', '$', '.']) {
        return to_rfc9535(text, '@');
    }
    if text.starts_with(['"', '\'']) {
        return unquote(text).map(|s| quoted(&s));
    }
    let literal = text == "true"
        || text == "false"
        || text == "null"
        || text.parse::<f64>().is_ok_and(|n| n.is_finite());
    if literal {
        Ok(text.to_string())
    } else {
        Err(format!("invalid filter operand {text}"))
    }
}

/// Go's `strconv.Unquote` for `"..."` and `'...'`: the escapes people write in templates.
fn unquote(text: &str) -> Result<String, String> {
    let quote = text.chars().next().ok_or("empty quoted string")?;
    let inner = text
        .strip_prefix(quote)
        .and_then(|t| t.strip_suffix(quote))
        .filter(|_| text.len() >= 2)
        .ok_or_else(|| format!("unterminated quoted string {text}"))?;
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let escaped = chars.next().ok_or("a quoted string ends in \\")?;
        out.push(match escaped {
            'n' => '\n',
            't' => '\t',
            'r' => '\r',
            'a' => '\u{7}',
            'b' => '\u{8}',
            'f' => '\u{c}',
            'v' => '\u{b}',
            '\\' | '"' | '\'' => escaped,
            'x' | 'u' | 'U' => {
                let width = match escaped {
                    'x' => 2,
                    'u' => 4,
                    _ => 8,
                };
                let hex: String = chars.by_ref().take(width).collect();
                u32::from_str_radix(&hex, 16)
                    .ok()
                    .filter(|_| hex.len() == width)
                    .and_then(char::from_u32)
                    .ok_or_else(|| format!("invalid escape \\{escaped}{hex}"))?
            }
            other => return Err(format!("invalid escape \\{other}")),
        });
    }
    Ok(out)
}

/// A parsed `-o custom-columns=` spec: headers and the query of each column.
#[derive(Debug, Clone)]
pub struct Columns {
    source: String,
    columns: Vec<(String, Template)>,
}

impl PartialEq for Columns {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Eq for Columns {}

impl Columns {
    /// `NAME:.metadata.name,TYPE:.type`; a path may be written `.a.b`, `a.b`, `{.a.b}` or
    /// `{a.b}` (kubectl's `RelaxedJSONPathExpression`).
    pub fn parse(spec: &str) -> Result<Self, TemplateError> {
        let mut columns = Vec::new();
        for column in spec.split(',') {
            let parts: Vec<&str> = column.split(':').collect();
            let [header, path] = parts.as_slice() else {
                return Err(TemplateError::Column {
                    spec: column.to_string(),
                });
            };
            let relaxed = path
                .strip_prefix('{')
                .and_then(|p| p.strip_suffix('}'))
                .unwrap_or(path);
            let relaxed = relaxed.strip_prefix('.').unwrap_or(relaxed);
            if relaxed.is_empty() || relaxed.contains(['{', '}']) {
                return Err(TemplateError::Column {
                    spec: column.to_string(),
                });
            }
            let template = Template::parse(&format!("{{.{relaxed}}}")).map_err(|e| match e {
                TemplateError::Template { reason, .. } => TemplateError::Template {
                    template: path.to_string(),
                    reason,
                },
                other => other,
            })?;
            columns.push((header.to_string(), template));
        }
        Ok(Self {
            source: spec.to_string(),
            columns,
        })
    }

    /// The header row, as typed.
    pub fn headers(&self) -> Vec<&str> {
        self.columns.iter().map(|(h, _)| h.as_str()).collect()
    }

    /// One row for `object`: each column's results printed as Go's `%v` prints them, joined
    /// by commas; `<none>` when a column finds nothing.
    pub fn row(&self, object: &Value) -> Vec<String> {
        self.columns
            .iter()
            .map(|(_, template)| {
                let mut values = Vec::new();
                for node in &template.nodes {
                    if let Node::Query(path) = node {
                        values.extend(path.query(object).all().into_iter().map(go_v));
                    }
                }
                if values.is_empty() {
                    "<none>".to_string()
                } else {
                    values.join(",")
                }
            })
            .collect()
    }

    /// The rows of a document: one per item of a list (anything with `items`, as kubectl's
    /// `meta.IsListType`), else one for the object.
    pub fn rows(&self, document: &Value) -> Vec<Vec<String>> {
        match document.get("items").and_then(Value::as_array) {
            Some(items) => items.iter().map(|item| self.row(item)).collect(),
            None => vec![self.row(document)],
        }
    }
}

/// Go's `fmt.Sprintf("%v", v)` of a decoded JSON value: `map[a:1 b:x]`, `[a b]`, `<nil>`.
fn go_v(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => "<nil>".into(),
        Value::Array(items) => {
            format!("[{}]", items.iter().map(go_v).collect::<Vec<_>>().join(" "))
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let inner: Vec<String> = entries
                .into_iter()
                .map(|(k, v)| format!("{k}:{}", go_v(v)))
                .collect();
            format!("map[{}]", inner.join(" "))
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn secret() -> Value {
        json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": "regcred",
                "namespace": "team-a",
                "labels": {"app.kubernetes.io/managed-by": "kubectl-regcred", "tier": "web"},
            },
            "type": "kubernetes.io/dockerconfigjson",
            "data": {".dockerconfigjson": "e30="},
        })
    }

    fn list() -> Value {
        let mut other = secret();
        other["metadata"]["name"] = json!("other");
        other["metadata"]["labels"]["tier"] = json!("db");
        json!({"apiVersion": "v1", "kind": "List", "items": [secret(), other]})
    }

    fn render(template: &str, document: &Value) -> String {
        Template::parse(template).unwrap().render(document)
    }

    #[test]
    fn kubectls_field_names_reach_keys_with_dots_and_dashes() {
        assert_eq!(render("{.metadata.name}", &secret()), "regcred");
        assert_eq!(render("{.data.\\.dockerconfigjson}", &secret()), "e30=");
        assert_eq!(
            render(
                "{.metadata.labels.app\\.kubernetes\\.io/managed-by}",
                &secret()
            ),
            "kubectl-regcred"
        );
        assert_eq!(render("{.metadata['name']}", &secret()), "regcred");
        assert_eq!(render("{$.kind}", &secret()), "Secret");
    }

    #[test]
    fn text_ranges_and_quoted_text_print_as_kubectl_does() {
        assert_eq!(
            render(
                r#"{range .items[*]}{.metadata.name}{"\t"}{.metadata.labels.tier}{"\n"}{end}"#,
                &list()
            ),
            "regcred\tweb\nother\tdb\n"
        );
        assert_eq!(
            render("name: {.items[*].metadata.name}", &list()),
            "name: regcred other"
        );
        assert_eq!(render(".metadata.name", &secret()), ".metadata.name");
        assert_eq!(render("{.items[-1:].metadata.name}", &list()), "other");
    }

    #[test]
    fn values_can_be_escaped_and_the_templates_text_cannot() {
        let document = json!({"a": "x\u{1b}[31my"});
        let template = Template::parse(r#"{.a}{"\t"}"#).unwrap();
        let shown = template.render_with(&document, |v| v.replace('\u{1b}', "\\u{1b}"));
        assert_eq!(shown, "x\\u{1b}[31my\t");
    }

    #[test]
    fn filters_compare_once_and_match_regexes() {
        assert_eq!(
            render(
                r#"{.items[?(@.metadata.labels.tier=="db")].metadata.name}"#,
                &list()
            ),
            "other"
        );
        assert_eq!(
            render(
                r#"{.items[?(@.metadata.name=~"^reg")].metadata.name}"#,
                &list()
            ),
            "regcred"
        );
        assert_eq!(
            render("{.items[?(@.data)].metadata.name}", &list()),
            "regcred other"
        );
    }

    #[test]
    fn maps_and_lists_print_as_gos_json_marshal() {
        assert_eq!(
            render("{.metadata.labels}", &secret()),
            r#"{"app.kubernetes.io/managed-by":"kubectl-regcred","tier":"web"}"#
        );
        assert_eq!(render("{.a}", &json!({"a": "<&>"})), "<&>");
        assert_eq!(
            render("{.a}", &json!({"a": ["<&>", 1, true]})),
            r#"["\u003c\u0026\u003e",1,true]"#
        );
        assert_eq!(render("{.missing}", &secret()), "");
        // kubectl fails with "array index out of bounds"; docs/conventions.md says we differ.
        assert_eq!(render("{.items[5].kind}", &list()), "");
    }

    #[test]
    fn broken_templates_are_refused_with_the_reason() {
        for (template, reason) in [
            ("{.metadata.name", "unclosed action"),
            ("{range .items[*]}{.a}", "{range} without an {end}"),
            ("{end}", "{end} without a {range}"),
            ("{.items[x]}", "invalid array index x"),
            ("{.items[?(@.a=!1)]}", "unrecognized filter operator =!"),
            ("{#}", "unrecognized character in action: '#'"),
            ("{.items[?(@.a[*]==1)]}", "@.a[*]"),
        ] {
            let error = Template::parse(template).unwrap_err().to_string();
            assert!(error.contains(reason), "{template}: {error}");
        }
    }

    #[test]
    fn custom_columns_take_relaxed_paths_and_print_gos_v() {
        let columns =
            Columns::parse("NAME:.metadata.name,TIER:metadata.labels.tier,DATA:{.data},X:.nope")
                .unwrap();
        assert_eq!(columns.headers(), ["NAME", "TIER", "DATA", "X"]);
        assert_eq!(
            columns.rows(&list()),
            [
                ["regcred", "web", "map[.dockerconfigjson:e30=]", "<none>"],
                ["other", "db", "map[.dockerconfigjson:e30=]", "<none>"],
            ]
        );
        assert_eq!(
            Columns::parse("N:.a[*]")
                .unwrap()
                .row(&json!({"a": [1, "b"]})),
            ["1,b"]
        );
        assert!(Columns::parse("NAME").is_err());
        assert!(Columns::parse("A:b:c").is_err());
    }
}
