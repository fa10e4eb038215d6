//! Printing results the way kubectl prints them: `secret/NAME created`, or the objects
//! themselves with `-o json|yaml|name` (a `List` when there are several).

use std::io::Write;

use serde_json::Value;

use crate::settings::{DryRun, OutputFormat};

/// kubectl's `kind.group/name` spelling (`secret/x`, `deployment.apps/web`).
pub fn object_ref(object: &Value) -> String {
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
pub fn action_line(
    object_ref: &str,
    action: &str,
    namespace: Option<&str>,
    dry_run: DryRun,
) -> String {
    let mut line = format!("{object_ref} {action}");
    if let Some(ns) = namespace {
        line.push_str(" in namespace ");
        line.push_str(ns);
    }
    match dry_run {
        DryRun::None => {}
        DryRun::Client => line.push_str(" (dry run)"),
        DryRun::Server => line.push_str(" (server dry run)"),
    }
    line
}

/// Prints objects in the requested format. `managedFields` are left out, as kubectl does.
pub fn print_objects(
    out: &mut impl Write,
    format: OutputFormat,
    mut objects: Vec<Value>,
) -> std::io::Result<()> {
    for object in &mut objects {
        if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.remove("managedFields");
        }
    }
    if format == OutputFormat::Name {
        for object in &objects {
            writeln!(out, "{}", object_ref(object))?;
        }
        return Ok(());
    }
    let document = if objects.len() == 1 {
        objects.pop().expect("one object")
    } else {
        serde_json::json!({"apiVersion": "v1", "kind": "List", "items": objects, "metadata": {"resourceVersion": ""}})
    };
    match format {
        OutputFormat::Json => {
            // kubectl indents JSON by four spaces.
            let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
            let mut serializer = serde_json::Serializer::with_formatter(&mut *out, formatter);
            serde::Serialize::serialize(&document, &mut serializer)
                .map_err(std::io::Error::other)?;
            writeln!(out)
        }
        OutputFormat::Yaml => {
            let text = serde_yaml::to_string(&document).map_err(std::io::Error::other)?;
            out.write_all(text.as_bytes())
        }
        OutputFormat::Name => unreachable!("handled above"),
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
            action_line("secret/x", "created", None, DryRun::None),
            "secret/x created"
        );
        assert_eq!(
            action_line("secret/x", "unchanged", Some("team-a"), DryRun::Server),
            "secret/x unchanged in namespace team-a (server dry run)"
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
