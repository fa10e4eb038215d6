//! Printing results the way kubectl prints them: `secret/NAME created`, or the objects
//! themselves with `-o json|yaml|name` (a `List` when there are several). In a run across
//! several contexts, tables and documents are gathered and printed once for all of them: one
//! table with a CONTEXT column, one document whose items carry a `context` field
//! (docs/contexts.md).

use std::fmt::Display;
use std::io::Write;

use serde_json::Value;

use crate::cluster::writes::WriteMode;
use crate::printer::Printer;
pub(crate) use crate::report::OutputFormat;
use crate::rules::json;
use crate::rules::yaml::{go_yaml_key_order, to_kubectl_yaml};
pub(crate) use crate::report::Tally;
use crate::rules::text::{escape_controls, escape_field};

/// kubectl's `kind.group/name` spelling (`secret/x`, `deployment.apps/web`).
pub(crate) fn object_ref(object: &Value) -> String {
    let kind = object["kind"]
        .as_str()
        .unwrap_or("object")
        .to_ascii_lowercase();
    let name = object["metadata"]["name"].as_str().unwrap_or("");
    match object["apiVersion"]
        .as_str()
        .and_then(|v| v.split_once('/'))
    {
        Some((group, _)) => format!("{kind}.{group}/{name}"),
        None => format!("{kind}/{name}"),
    }
}

/// One result line: `secret/regcred created`, with the namespace when several are involved
/// and kubectl's dry-run suffix.
pub(crate) fn action_line(
    object_ref: &str,
    action: &str,
    namespace: Option<&str>,
    dry_run: WriteMode,
) -> String {
    let mut line = format!("{object_ref} {action}");
    if let Some(ns) = namespace {
        line.push_str(" in namespace ");
        line.push_str(ns);
    }
    line.push_str(dry_run_mark(dry_run));
    line
}

/// What a line or summary says of a dry run, as kubectl marks its lines.
fn dry_run_mark(mode: WriteMode) -> &'static str {
    match mode {
        WriteMode::Persist => "",
        WriteMode::ClientDryRun => " (dry run)",
        WriteMode::ServerDryRun => " (server dry run)",
    }
}

/// One write's result, ready to print: `verb` goes on the line (`attached quay-cred`), `tally`
/// into the summary (`attached`), and `object` is printed instead with `-o`.
pub(crate) struct Written {
    pub(crate) tally: String,
    pub(crate) verb: String,
    pub(crate) object: Option<Value>,
}

/// One object's result, or the error that names what failed (`subject`: the object or the
/// namespace; empty when the error names them itself, as kubectl's "not found" does).
pub(crate) struct ResultRow<E> {
    pub(crate) namespace: String,
    pub(crate) reference: String,
    pub(crate) subject: String,
    pub(crate) outcome: Result<Written, E>,
}

/// Prints results as kubectl does: a line per object (with its namespace when several are
/// involved), or with `-o` the objects; errors on stderr. Returns the tally for a summary.
pub(crate) fn print_results<E: Display>(
    rows: Vec<ResultRow<E>>,
    (mode, format): (WriteMode, Option<OutputFormat>),
    several_namespaces: bool,
    printer: &Printer,
) -> anyhow::Result<Tally> {
    // Objects print exactly; kubectl-style lines go through the escaping writer.
    let mut out = match format {
        Some(_) => printer.out(),
        None => printer.human_out(),
    };
    let mut objects = Vec::new();
    let mut tally = Tally::default();
    for row in rows {
        match row.outcome {
            Ok(written) => {
                tally.add(&written.tally);
                match (&format, written.object) {
                    (Some(_), Some(object)) => objects.push(object),
                    (Some(_), None) => {}
                    (None, _) => {
                        let namespace = several_namespaces.then_some(row.namespace.as_str());
                        let line = action_line(&row.reference, &written.verb, namespace, mode);
                        writeln!(out, "{line}")?;
                    }
                }
            }
            Err(error) => {
                tally.fail();
                printer.error(match row.subject.as_str() {
                    "" => error.to_string(),
                    subject => format!("{subject}: {error}"),
                });
            }
        }
    }
    out.flush()?;
    drop(out);
    if let Some(format) = format
        && !objects.is_empty()
    {
        emit_objects(printer, format, objects)?;
    }
    Ok(tally)
}

/// Objects for stdout: printed now, or in a run across contexts gathered for one `List`
/// (names are lines, prefixed with the context like any human line).
pub(crate) fn emit_objects(
    printer: &Printer,
    format: OutputFormat,
    objects: Vec<Value>,
) -> std::io::Result<()> {
    match (printer.context(), &format) {
        (_, OutputFormat::Name) | (None, OutputFormat::CustomColumns(_)) => {
            let mut out = printer.human_out();
            print_objects(&mut out, format, objects)?;
            out.flush()
        }
        (Some(scope), format) => {
            let mut gathered = scope.gathered.lock().expect("gathered lock");
            for object in objects {
                gathered.add_document(&scope.name, format.clone(), with_sorted_keys(&object, format));
            }
            Ok(())
        }
        // On a terminal, values from the cluster are shown escaped, never obeyed; piped,
        // they stay exact, as kubectl prints them (docs/conventions.md).
        (None, OutputFormat::JsonPath(template)) if printer.stdout_is_terminal() => {
            let document = document_of(&format, objects);
            let shown = template.render_with(&document, |v| escape_controls(v).into_owned());
            let mut out = printer.out();
            out.write_all(shown.as_bytes())?;
            out.flush()
        }
        (None, _) => {
            let mut out = printer.out();
            print_objects(&mut out, format, objects)?;
            out.flush()
        }
    }
}

/// A table for stdout: printed now, or in a run across contexts gathered under a CONTEXT
/// column.
pub(crate) fn emit_table(
    printer: &Printer,
    headers: &[&str],
    rows: Vec<Vec<String>>,
) -> std::io::Result<()> {
    match printer.context() {
        Some(scope) => {
            let mut gathered = scope.gathered.lock().expect("gathered lock");
            gathered.add_rows(&scope.name, headers, rows);
            Ok(())
        }
        None => {
            let mut out = printer.human_out();
            print_table(&mut out, headers, &rows)?;
            out.flush()
        }
    }
}

/// The `3 namespaces: 2 created, 1 failed` line when `print` (several objects), marked as
/// its lines are in a dry run, and in a run across contexts the tally kept for the total.
pub(crate) fn emit_summary(
    printer: &Printer,
    noun: &str,
    tally: &Tally,
    print: bool,
    mode: WriteMode,
) {
    if print {
        printer.status(format!("{}{}", tally.summary(noun), dry_run_mark(mode)));
    }
    if let Some(scope) = printer.context() {
        let mut gathered = scope.gathered.lock().expect("gathered lock");
        gathered.add_tally(noun, tally, dry_run_mark(mode));
    }
}

/// kubectl's `List` of objects.
pub(crate) fn list(items: Vec<Value>) -> Value {
    serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items, "metadata": {"resourceVersion": ""}})
}

/// Prints objects in the requested format. `managedFields` are left out of JSON and YAML, as
/// kubectl does (`--show-managed-fields=false`); templates see them, as kubectl's do.
pub(crate) fn print_objects(
    out: &mut impl Write,
    format: OutputFormat,
    objects: Vec<Value>,
) -> std::io::Result<()> {
    if format == OutputFormat::Name {
        for object in &objects {
            writeln!(out, "{}", object_ref(object))?;
        }
        return Ok(());
    }
    let document = document_of(&format, objects);
    print_document(out, &format, &document)
}

/// The document `objects` print as: one object alone, several as kubectl's `List`, keys
/// sorted as kubectl's output has them, and without `managedFields` in JSON and YAML.
fn document_of(format: &OutputFormat, mut objects: Vec<Value>) -> Value {
    if matches!(format, OutputFormat::Json | OutputFormat::Yaml) {
        for object in &mut objects {
            if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
                meta.remove("managedFields");
            }
        }
    }
    let document = if objects.len() == 1 {
        objects.pop().expect("one object")
    } else {
        list(objects)
    };
    with_sorted_keys(&document, format)
}

/// An API object with its keys sorted at every level as kubectl's output has them: it prints
/// objects as Go maps, which encoding/json writes in byte order and go-yaml in its own
/// (rules::yaml), so `diff` against its output is empty. Our own documents (`list`'s and
/// `check`'s reports, `sync`'s plan) are sorted the same way, as kubectl sorts everything.
fn with_sorted_keys(value: &Value, format: &OutputFormat) -> Value {
    let order = match format {
        OutputFormat::Yaml => go_yaml_key_order,
        _ => json::byte_order,
    };
    json::with_sorted_keys(value, order)
}

/// One JSON or YAML document, formatted as kubectl formats its output.
pub(crate) fn print_document(
    out: &mut impl Write,
    format: &OutputFormat,
    document: &Value,
) -> std::io::Result<()> {
    match format {
        OutputFormat::Json => {
            // kubectl indents JSON by four spaces.
            let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
            let mut serializer = serde_json::Serializer::with_formatter(&mut *out, formatter);
            // A closed pipe stays a BrokenPipe, which the caller treats as the reader being done.
            serde::Serialize::serialize(document, &mut serializer).map_err(|error| {
                match error.io_error_kind() {
                    Some(kind) => std::io::Error::from(kind),
                    None => std::io::Error::other(error),
                }
            })?;
            writeln!(out)
        }
        // go-yaml's output, as kubectl's (rules::yaml): keys sorted as go-yaml sorts them.
        OutputFormat::Yaml => out.write_all(to_kubectl_yaml(document).as_bytes()),
        // kubectl ends a template's output with nothing it did not write.
        OutputFormat::JsonPath(template) => out.write_all(template.render(document).as_bytes()),
        OutputFormat::CustomColumns(columns) => {
            print_table(out, &columns.headers(), &columns.rows(document))
        }
        OutputFormat::Name => unreachable!("names are lines, not a document"),
    }
}

/// A kubectl-style table: uppercase headers, columns padded to the widest cell and separated
/// by three spaces, no trailing padding.
pub(crate) fn print_table(
    out: &mut impl Write,
    headers: &[&str],
    rows: &[Vec<String>],
) -> std::io::Result<()> {
    // A cell is one field from the cluster or a kubeconfig: it never starts a line.
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            row.iter()
                .map(|cell| escape_field(cell).into_owned())
                .collect()
        })
        .collect();
    let rows = rows.as_slice();
    // Go's tabwriter as kubectl sets it up: a column is at least 6 wide with its padding of 3.
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len().max(3)).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let last = cells.len() - 1;
        cells
            .iter()
            .enumerate()
            .map(|(i, cell)| {
                if i == last {
                    cell.to_string()
                } else {
                    format!("{cell:<width$}", width = widths[i])
                }
            })
            .collect::<Vec<_>>()
            .join("   ")
            .trim_end()
            .to_string()
    };
    writeln!(out, "{}", line(headers.to_vec()))?;
    for row in rows {
        writeln!(out, "{}", line(row.iter().map(String::as_str).collect()))?;
    }
    Ok(())
}

/// kubectl's AGE column (`duration.HumanDuration`): 45s, 5m10s, 3h, 2d5h, 400d, 3y20d.
pub(crate) fn human_age(seconds: i64) -> String {
    let s = seconds.max(0);
    let (m, h, d) = (s / 60, s / 3600, s / 86400);
    if s < 120 {
        format!("{s}s")
    } else if m < 10 {
        match s % 60 {
            0 => format!("{m}m"),
            rest => format!("{m}m{rest}s"),
        }
    } else if m < 180 {
        format!("{m}m")
    } else if h < 8 {
        match m % 60 {
            0 => format!("{h}h"),
            rest => format!("{h}h{rest}m"),
        }
    } else if h < 48 {
        format!("{h}h")
    } else if h < 24 * 8 {
        match h % 24 {
            0 => format!("{d}d"),
            rest => format!("{d}d{rest}h"),
        }
    } else if h < 24 * 365 * 2 {
        format!("{d}d")
    } else if h < 24 * 365 * 8 {
        let years = d / 365;
        match d % 365 {
            0 => format!("{years}y"),
            rest => format!("{years}y{rest}d"),
        }
    } else {
        format!("{}y", d / 365)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn refs_follow_kubectl() {
        assert_eq!(
            object_ref(&json!({"apiVersion":"v1","kind":"Secret","metadata":{"name":"x"}})),
            "secret/x"
        );
        assert_eq!(
            object_ref(
                &json!({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"}})
            ),
            "deployment.apps/web"
        );
    }

    #[test]
    fn action_lines() {
        assert_eq!(
            action_line("secret/x", "created", None, WriteMode::Persist),
            "secret/x created"
        );
        assert_eq!(
            action_line(
                "secret/x",
                "unchanged",
                Some("team-a"),
                WriteMode::ServerDryRun
            ),
            "secret/x unchanged in namespace team-a (server dry run)"
        );
    }

    /// kubectl reads YAML 1.1 (go-yaml v2): strings that look like its booleans, numbers or
    /// null must come out quoted, or `kubectl create -f` would see another type.
    #[test]
    fn yaml_quotes_what_yaml_1_1_would_read_as_another_type() {
        let tricky = [
            "yes",
            "no",
            "on",
            "off",
            "y",
            "n",
            "Y",
            "true",
            "False",
            "null",
            "~",
            "",
            "0777",
            "0x1F",
            "1e3",
            "1_000",
            "3.5",
            ".inf",
            "2024-01-01",
            "- x",
            ": x",
            "#x",
            " lead",
            "a: b",
            "@x",
            "`x",
            "%x",
            "!x",
            "&x",
            "*x",
        ];
        let annotations: serde_json::Map<String, Value> = tricky
            .iter()
            .enumerate()
            .map(|(i, text)| (format!("k{i}"), json!(text)))
            .collect();
        let object = json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "x", "annotations": annotations}});
        let mut out = Vec::new();
        print_objects(&mut out, OutputFormat::Yaml, vec![object.clone()]).unwrap();
        let text = String::from_utf8(out).unwrap();
        for (i, value) in tricky.iter().enumerate() {
            let line = text
                .lines()
                .find(|l| l.trim_start().starts_with(&format!("k{i}:")))
                .unwrap_or_else(|| panic!("k{i} in\n{text}"));
            let rendered = line.trim_start()[format!("k{i}:").len()..].trim_start();
            assert!(
                rendered.starts_with('"') || rendered.starts_with('\''),
                "{value:?} is not quoted: {line}"
            );
        }
        let parsed: Value = serde_saphyr::from_str(&text).unwrap();
        assert_eq!(parsed, object);
        assert!(text.ends_with("\n"));
    }

    /// A reader that went away (`| head -1`) is a BrokenPipe, however deep in the JSON
    /// writer it was found, so the command ends quietly (it said `error: Broken pipe`).
    #[test]
    fn a_closed_pipe_stays_a_broken_pipe() {
        struct Closed;
        impl Write for Closed {
            fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
                Err(std::io::ErrorKind::BrokenPipe.into())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let document = json!({"items": vec![json!({"metadata": {"name": "x"}}); 1000]});
        for format in [OutputFormat::Json, OutputFormat::Yaml] {
            let error = print_document(&mut Closed, &format, &document).unwrap_err();
            assert_eq!(error.kind(), std::io::ErrorKind::BrokenPipe, "{format:?}");
        }
    }

    #[test]
    fn documents_print_their_keys_in_kubectls_order() {
        let object = serde_json::json!({
            "type": "kubernetes.io/dockerconfigjson",
            "kind": "Secret",
            "metadata": {"uid": "u", "name": "n", "annotations": {"b": "1", "a": "2"}},
            "apiVersion": "v1",
            "items": [{"z": 1, "a": 2}],
        });
        let mut out = Vec::new();
        print_objects(&mut out, OutputFormat::Json, vec![object]).unwrap();
        let text = String::from_utf8(out).unwrap();
        let expected = [
            r#""apiVersion""#,
            r#""items""#,
            r#""a": 2"#,
            r#""z""#,
            r#""kind""#,
            r#""metadata""#,
            r#""annotations""#,
            r#""a": "2""#,
            r#""b""#,
            r#""name""#,
            r#""uid""#,
            r#""type""#,
        ];
        let order: Vec<usize> = expected
            .iter()
            .map(|key| text.find(key).unwrap_or_else(|| panic!("{key} in {text}")))
            .collect();
        assert!(order.windows(2).all(|pair| pair[0] < pair[1]), "{text}");
    }

    #[test]
    fn yaml_keeps_long_strings_on_one_line_like_kubectl() {
        let long = "eyJ".repeat(60);
        let object =
            json!({"apiVersion": "v1", "kind": "Secret", "data": {".dockerconfigjson": long}});
        let mut out = Vec::new();
        print_objects(&mut out, OutputFormat::Yaml, vec![object]).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!("apiVersion: v1\ndata:\n  .dockerconfigjson: {long}\nkind: Secret\n")
        );
    }

    #[test]
    fn several_objects_print_as_a_list_without_managed_fields() {
        let objects = vec![
            json!({"apiVersion":"v1","kind":"Secret","metadata":{"name":"a","managedFields":[{}]}}),
            json!({"apiVersion":"v1","kind":"Secret","metadata":{"name":"b"}}),
        ];
        let mut out = Vec::new();
        print_objects(&mut out, OutputFormat::Json, objects).unwrap();
        let parsed: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(parsed["kind"], "List");
        assert!(
            parsed["items"][0]["metadata"]
                .get("managedFields")
                .is_none()
        );
        assert!(
            String::from_utf8(out)
                .unwrap()
                .contains("\n    \"apiVersion\"")
        );
    }
}

#[cfg(test)]
mod table_tests {
    use super::*;

    #[test]
    fn tally_summaries() {
        let mut tally = Tally::default();
        tally.add("created");
        tally.add("created");
        tally.add("unchanged");
        tally.fail();
        assert_eq!(
            tally.summary("namespaces"),
            "4 namespaces: 2 created, 1 unchanged, 1 failed"
        );
        assert!(tally.failed());
    }

    #[test]
    fn ages_follow_kubectl() {
        assert_eq!(human_age(45), "45s");
        assert_eq!(human_age(310), "5m10s");
        assert_eq!(human_age(600), "10m");
        assert_eq!(human_age(3 * 3600), "3h");
        assert_eq!(human_age(3 * 3600 + 120), "3h2m");
        assert_eq!(human_age(30 * 3600), "30h");
        assert_eq!(human_age(2 * 86400 + 5 * 3600), "2d5h");
        assert_eq!(human_age(400 * 86400), "400d");
        assert_eq!(human_age(3 * 365 * 86400 + 20 * 86400), "3y20d");
    }

    #[test]
    fn tables_align() {
        let mut out = Vec::new();
        print_table(
            &mut out,
            &["NAME", "AGE"],
            &[
                vec!["regcred".into(), "5m".into()],
                vec!["a".into(), "1d".into()],
            ],
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "NAME      AGE\nregcred   5m\na         1d\n"
        );
    }
}
