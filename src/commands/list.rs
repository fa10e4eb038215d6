//! `list`: pull Secrets (dockerconfigjson and legacy dockercfg) with their registries,
//! whether we manage them, and how many workloads and ServiceAccounts use them.

use std::collections::BTreeSet;
use std::io::Write;

use crate::cluster::inventory::{self, Wants};
use crate::desired;
use crate::error::ExitStatus;
use crate::output::{self, human_age};
use crate::printer::Printer;
use crate::rules::pullsecret::{SecretSummary, is_listed_type};
use crate::rules::trust::{self, DefinitionRef, Standing, Unmanaged};
use crate::settings::{Connection, ListFormat, ListSettings, NamespaceScope, OutputFormat};

pub(crate) async fn run(
    settings: &ListSettings,
    connection: Connection,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    let (cluster, namespaces) = super::connect_in(&connection, &settings.scope, printer).await?;
    let inventory = inventory::gather(&cluster, &namespaces, Wants::SECRETS_AND_USERS, 8).await;
    super::warn_unreadable(&inventory, printer);
    // Which of our Secrets a definition claims; a reader who may not read the definitions
    // still learns of those whose own record gives them away.
    let definitions = desired::list_definitions(&cluster, &settings.definitions_namespace)
        .await
        .ok()
        .map(|found| {
            found
                .iter()
                .filter_map(|d| d.metadata.name.as_deref())
                .map(|name| DefinitionRef::new(&settings.definitions_namespace, name))
                .collect::<BTreeSet<_>>()
        });
    let now = k8s_openapi::jiff::Timestamp::now();
    let mut summaries = Vec::new();
    for (ns, found) in &inventory.namespaces {
        for secret in found.secrets.iter().filter(|s| is_listed_type(s)) {
            let mut summary = SecretSummary::new(
                secret,
                found.users_of(secret.metadata.name.as_deref().unwrap_or("")),
                now,
            );
            let known = definitions.clone().unwrap_or_default();
            summary.unmanaged =
                match trust::standing(secret, &settings.definitions_namespace, &known) {
                    Some(Standing::Unmanaged(Unmanaged::NoSuchDefinition(_)))
                        if definitions.is_none() =>
                    {
                        None
                    }
                    Some(Standing::Unmanaged(why)) => Some(why.to_string()),
                    _ => None,
                };
            if !settings.managed_only || (summary.managed && summary.unmanaged.is_none()) {
                summaries.push((ns.clone(), summary));
            }
        }
    }
    let all = matches!(settings.scope.namespaces, NamespaceScope::All) || namespaces.len() > 1;
    match &settings.format {
        ListFormat::Structured(OutputFormat::Name) => {
            let mut stdout = printer.human_out();
            for (_, summary) in &summaries {
                writeln!(stdout, "secret/{}", summary.name)?;
            }
            stdout.flush()?;
        }
        ListFormat::Structured(format) => {
            let format = format.clone();
            let items: Vec<_> = summaries.iter().map(|(_, s)| s).collect();
            let document = serde_json::json!({ "items": items });
            output::emit_objects(printer, format, vec![document])?;
        }
        // Nothing found where something failed is not "no pull secrets": the errors say why.
        ListFormat::Table | ListFormat::Wide
            if summaries.is_empty() && !inventory.errors.is_empty() => {}
        ListFormat::Table | ListFormat::Wide if summaries.is_empty() => {
            match namespaces.as_slice() {
                [ns] if !all => printer.status(format!("No pull secrets found in {ns} namespace.")),
                _ => printer.status("No pull secrets found."),
            }
        }
        ListFormat::Table | ListFormat::Wide => {
            let (headers, rows) = table(&summaries, all, settings.format == ListFormat::Wide);
            output::emit_table(printer, &headers, rows)?;
        }
    }
    for (ns, error) in &inventory.errors {
        printer.error(format!("namespace {ns}: {error}"));
    }
    Ok(if inventory.errors.is_empty() {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    })
}

fn table(
    summaries: &[(String, SecretSummary)],
    with_namespace: bool,
    wide: bool,
) -> (Vec<&'static str>, Vec<Vec<String>>) {
    let mut headers = vec!["NAME", "REGISTRIES", "MANAGED", "USED-BY", "AGE"];
    if with_namespace {
        headers.insert(0, "NAMESPACE");
    }
    if wide {
        headers.extend(["USERNAMES", "USERS", "EXPIRES"]);
    }
    let rows: Vec<Vec<String>> = summaries
        .iter()
        .map(|(ns, s)| {
            let registries = match &s.malformed {
                Some(_) => "<malformed>".to_string(),
                None if s.registries.is_empty() => "<none>".to_string(),
                None => s
                    .registries
                    .iter()
                    .map(|r| r.server.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
            };
            let mut row = vec![
                s.name.clone(),
                registries,
                s.manager().to_string(),
                s.used_by.len().to_string(),
                s.age_seconds
                    .map(human_age)
                    .unwrap_or_else(|| "<unknown>".into()),
            ];
            if with_namespace {
                row.insert(0, ns.clone());
            }
            if wide {
                let users: Vec<&str> = s
                    .registries
                    .iter()
                    .map(|r| r.username.as_str())
                    .filter(|u| !u.is_empty())
                    .collect();
                row.push(if users.is_empty() {
                    "<none>".into()
                } else {
                    users.join(",")
                });
                row.push(if s.used_by.is_empty() {
                    "<none>".into()
                } else {
                    s.used_by.join(",")
                });
                row.push(s.earliest_expiry().unwrap_or("<unknown>").to_string());
            }
            row
        })
        .collect();
    (headers, rows)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::output::print_table;

    /// A pull Secret created a week before `now()`, holding `docker_config`.
    pub(crate) fn secret(
        namespace: &str,
        name: &str,
        managed: bool,
        docker_config: &str,
    ) -> k8s_openapi::api::core::v1::Secret {
        serde_json::from_value(serde_json::json!({
            "metadata": {
                "name": name,
                "namespace": namespace,
                "creationTimestamp": "2026-12-01T00:00:00Z",
                "labels": if managed { serde_json::json!({"app.kubernetes.io/managed-by": "kubectl-regcred"}) } else { serde_json::json!({}) },
            },
            "type": "kubernetes.io/dockerconfigjson",
            "data": {".dockerconfigjson": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, docker_config)},
        }))
        .unwrap()
    }

    pub(crate) fn now() -> k8s_openapi::jiff::Timestamp {
        "2026-12-08T00:00:00Z".parse().unwrap()
    }

    fn summary(namespace: &str, name: &str, managed: bool, docker_config: &str) -> SecretSummary {
        let secret = secret(namespace, name, managed, docker_config);
        SecretSummary::new(&secret, vec!["deployment/web".into()], now())
    }

    fn rendered(with_namespace: bool, wide: bool) -> String {
        let summaries = vec![
            ("team-a".to_string(), summary("team-a", "regcred", true, r#"{"auths":{"quay.io":{"auth":"cm9ib3Q6cHc="},"ghcr.io":{"username":"me","password":"x"}}}"#)),
            ("team-b".to_string(), summary("team-b", "legacy", false, r#"{"auths":{}}"#)),
        ];
        let (headers, rows) = table(&summaries, with_namespace, wide);
        let mut out = Vec::new();
        print_table(&mut out, &headers, &rows).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn list_tables() {
        insta::assert_snapshot!("list_table", rendered(false, false));
        insta::assert_snapshot!("list_table_all_namespaces", rendered(true, false));
        insta::assert_snapshot!("list_table_wide", rendered(true, true));
    }

    #[test]
    fn list_documents() {
        let items = vec![summary("team-a", "regcred", true, r#"{"auths":{"quay.io":{"auth":"cm9ib3Q6cHc="}}}"#)];
        let document = serde_json::json!({ "items": items });
        for (format, name) in [(OutputFormat::Json, "list_json"), (OutputFormat::Yaml, "list_yaml")] {
            let mut out = Vec::new();
            output::print_objects(&mut out, format, vec![document.clone()]).unwrap();
            insta::assert_snapshot!(name, String::from_utf8(out).unwrap());
        }
    }
}
