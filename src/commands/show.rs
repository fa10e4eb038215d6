//! `show`: one pull Secret described (registries, usernames, masked passwords, origin and
//! users), or with `--reveal`, its decoded `.dockerconfigjson`.

use std::collections::BTreeSet;
use std::io::Write;

use anyhow::Context;
use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;

use crate::rules::text::shell_quote;
use crate::cluster::inventory::{self, Wants};
use crate::cluster::{self};
use crate::error::ExitStatus;
use crate::output::{self, human_age};
use crate::printer::Printer;
use crate::rules::pullsecret::{DEFINITION_ANNOTATION, DOCKERCONFIGJSON_KEY, SecretSummary};
use crate::rules::text::escape_field;
use crate::rules::trust::{self, DefinitionRef, Standing};
use crate::settings::{Connection, ShowSettings};

const MASK: &str = "********";

pub(crate) async fn run(
    settings: &ShowSettings,
    connection: Connection,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    let cluster = super::connect(&connection, printer).await?;
    let ns = settings
        .namespace
        .clone()
        .unwrap_or_else(|| cluster.default_namespace.clone());
    let api: Api<Secret> = Api::namespaced(cluster.client.clone(), &ns);
    let secret = api
        .get_opt(&settings.name)
        .await
        .map_err(|e| cluster.api_error(&e))?
        .with_context(|| format!("secret {:?} not found in namespace {ns}", settings.name))?;
    // --reveal prints the payload exactly, like `base64 --decode`; -o prints exact objects.
    let mut stdout = match (settings.reveal, &settings.output) {
        (false, None) => printer.human_out(),
        _ => printer.out(),
    };
    if settings.reveal {
        return reveal(&mut stdout, &secret, printer);
    }
    let namespaces = std::slice::from_ref(&ns);
    let inventory = inventory::gather(&cluster, namespaces, Wants::USERS, 1).await;
    super::warn_unreadable(&inventory, printer);
    let users = inventory
        .namespaces
        .get(&ns)
        .map(|i| i.users_of(&settings.name))
        .unwrap_or_default();
    let mut summary = SecretSummary::new(&secret, users, k8s_openapi::jiff::Timestamp::now());
    let standing = standing(&cluster, &secret).await;
    if let Some(Standing::Unmanaged(why)) = &standing {
        summary.unmanaged = Some(why.to_string());
    }
    match &settings.output {
        Some(format) => {
            output::emit_objects(printer, format.clone(), vec![serde_json::to_value(&summary)?])?
        }
        None => describe(&mut stdout, &summary, &secret, standing.as_ref())?,
    }
    stdout.flush()?;
    drop(stdout);
    for (ns, error) in &inventory.errors {
        printer.warning(format!(
            "namespace {ns}: users could not be listed: {error}"
        ));
    }
    Ok(ExitStatus::Success)
}

/// What the Secret is to us (docs/sync.md, "Trust"), judged with the definition its reference
/// names, if that can be read. `None` for Secrets that are not ours in kind.
async fn standing(cluster: &cluster::Cluster, secret: &Secret) -> Option<Standing> {
    let reference = secret
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(DEFINITION_ANNOTATION))
        .and_then(|text| DefinitionRef::parse(text));
    let mut definitions = BTreeSet::new();
    let mut definitions_namespace = trust::DEFAULT_DEFINITIONS_NAMESPACE.to_string();
    if let Some(reference) = reference {
        let api: Api<Secret> = Api::namespaced(cluster.client.clone(), &reference.namespace);
        match api.get_opt(&reference.name).await {
            Ok(Some(found)) if trust::is_definition(&found, &reference.namespace) => {
                definitions.insert(reference.clone());
            }
            Ok(_) => {}
            // Who may not read the definition cannot tell: it is shown as the copy it says.
            Err(_) => {
                definitions.insert(reference.clone());
            }
        }
        definitions_namespace = reference.namespace;
    }
    trust::standing(secret, &definitions_namespace, &definitions)
}

fn describe(
    out: &mut impl Write,
    s: &SecretSummary,
    secret: &Secret,
    standing: Option<&Standing>,
) -> std::io::Result<()> {
    writeln!(out, "Name:        {}", s.name)?;
    writeln!(out, "Namespace:   {}", s.namespace)?;
    writeln!(out, "Type:        {}", s.type_)?;
    let managed = match (&s.rancher_project, standing) {
        (Some(project), _) => format!(
            "by Rancher (a copy of project {project}'s registry credential; Rancher reverts edits)"
        ),
        // What a Secret says of itself is reported as said: a reference names a definition,
        // whose own scope decides whether this namespace is one of its copies'.
        (None, Some(Standing::Copy(definition))) => format!(
            "yes: it names the definition {definition}, which keeps it where that definition's scope reaches"
        ),
        (None, Some(Standing::ForeignCopy(definition))) => {
            format!("names the definition {definition}, another definitions namespace's")
        }
        (None, Some(Standing::Standalone)) => format!(
            "yes, for this namespace only; anyone who may write here could have written it, so \
             sync it only if you made it (kubectl regcred sync {} -n {})",
            shell_quote(&s.name),
            shell_quote(&s.namespace)
        ),
        (None, Some(Standing::Unmanaged(why))) => {
            format!(
                "unmanaged: it carries kubectl-regcred's label, but no definition claims it: {why}. Nothing it records is followed"
            )
        }
        (None, _) if s.managed => "yes (app.kubernetes.io/managed-by=kubectl-regcred)".into(),
        (None, _) => "no".into(),
    };
    writeln!(out, "Managed:     {managed}")?;
    if let (Some(created), Some(age)) = (&s.created, s.age_seconds) {
        writeln!(out, "Created:     {created} ({} ago)", human_age(age))?;
    }
    let annotations = secret.metadata.annotations.clone().unwrap_or_default();
    let ours: Vec<_> = annotations
        .iter()
        .filter(|(k, _)| k.starts_with("kubectl-regcred/"))
        .collect();
    if !ours.is_empty() {
        writeln!(out, "Annotations:")?;
        for (key, value) in ours {
            writeln!(out, "  {}: {}", escape_field(key), escape_field(value))?;
        }
    }
    match &s.malformed {
        Some(reason) => writeln!(
            out,
            "Registries:  cannot be read as the kubelet reads them: {reason}"
        )?,
        None => {
            writeln!(out, "Registries:")?;
            registries_table(out, s)?;
        }
    }
    if s.used_by.is_empty() {
        writeln!(out, "Used by:     <nothing references it>")?;
    } else {
        writeln!(out, "Used by:")?;
        for user in &s.used_by {
            writeln!(out, "  {}", escape_field(user))?;
        }
    }
    Ok(())
}

/// One row per registry, passwords masked, indented under `Registries:`.
fn registries_table(out: &mut impl Write, s: &SecretSummary) -> std::io::Result<()> {
    let rows: Vec<Vec<String>> = s
        .registries
        .iter()
        .map(|r| {
            let source = s
                .sources
                .get(&r.server)
                .cloned()
                .unwrap_or_else(|| "<unknown>".into());
            let password = match (r.has_password, r.username.is_empty()) {
                (true, _) => MASK.to_string(),
                (false, true) => "<none: no usable credential>".to_string(),
                (false, false) => "<empty>".to_string(),
            };
            let expires = r.expires.clone().unwrap_or_else(|| "<unknown>".into());
            vec![
                r.server.clone(),
                or_none(&r.username),
                password,
                expires,
                source,
            ]
        })
        .collect();
    let mut table = Vec::new();
    output::print_table(
        &mut table,
        &["SERVER", "USERNAME", "PASSWORD", "EXPIRES", "SOURCE"],
        &rows,
    )?;
    for line in String::from_utf8_lossy(&table).lines() {
        writeln!(out, "  {line}")?;
    }
    Ok(())
}

fn or_none(text: &str) -> String {
    if text.is_empty() {
        "<none>".into()
    } else {
        text.into()
    }
}

/// The decoded payload, like `kubectl get secret -o jsonpath=... | base64 --decode`.
fn reveal(out: &mut impl Write, secret: &Secret, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let data = secret.data.clone().unwrap_or_default();
    let bytes = data
        .get(DOCKERCONFIGJSON_KEY)
        .or_else(|| data.get(".dockercfg"))
        .context("the Secret has neither .dockerconfigjson nor .dockercfg")?;
    if printer.stdout_is_terminal() {
        printer.warning("printing registry passwords in clear text");
    }
    match serde_json::from_slice::<serde_json::Value>(&bytes.0) {
        Ok(value) => writeln!(out, "{}", serde_json::to_string_pretty(&value)?)?,
        Err(_) => out.write_all(&bytes.0)?,
    }
    Ok(ExitStatus::Success)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::list::tests::{now, secret};

    #[test]
    fn show_describes_a_secret() {
        let secret = secret(
            "team-a",
            "regcred",
            true,
            r#"{"auths":{"quay.io":{"auth":"cm9ib3Q6cHc="},"ghcr.io":{"username":"me","password":"x"}}}"#,
        );
        let summary = SecretSummary::new(&secret, vec!["deployment/web".into()], now());
        let mut out = Vec::new();
        describe(&mut out, &summary, &secret, Some(&Standing::Standalone)).unwrap();
        insta::assert_snapshot!("show_standalone", String::from_utf8(out).unwrap());
    }
}
