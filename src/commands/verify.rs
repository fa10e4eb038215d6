//! `verify`: ask each registry whether a login works, and with `--image` whether it may pull
//! that image (docs/verify.md). Local logins are found as `create` finds them; `secret/NAME`
//! takes the logins of a pull Secret in the cluster.

use anyhow::Context;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::jiff::Timestamp;
use kube::api::Api;

use crate::error::ExitStatus;
use crate::output;
use crate::printer::Printer;
use crate::probe::{self, LoginCheck, LoginOutcome, Transport};
use crate::rules::credential::Password;
use crate::rules::image::ImageRef;
use crate::rules::kubelet::{self, KeyEntry, Keyring};
use crate::rules::verdict::RegistryVerdict;
use crate::settings::{Connection, OutputFormat, VerifyLogins, VerifySettings};

/// A login to verify and where it came from. The password is never printed.
#[derive(Debug, Clone)]
pub(crate) struct FoundLogin {
    /// The key as the user knows it (`quay.io`, `https://index.docker.io/v1/`).
    pub(crate) key: String,
    pub(crate) username: String,
    pub(crate) password: Password,
    /// `docker config`, `keychain`, `secret team-a/regcred`, ...
    pub(crate) source: String,
}

impl FoundLogin {
    /// The kubelet's form of the key (`host[/path]`), `None` if the kubelet would skip it.
    fn normalized(&self) -> Option<String> {
        kubelet::normalize_key(&self.key)
    }

    /// The registry's `host[:port]`, to which requests go.
    fn domain(&self) -> String {
        kubelet::key_registry(&self.key).unwrap_or_else(|| self.key.clone())
    }
}

/// One row of the report.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Row {
    registry: String,
    username: String,
    source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    image: Option<String>,
    verdict: RegistryVerdict,
    reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    token_service: Option<String>,
}

pub(crate) async fn run(
    settings: &VerifySettings,
    connection: Connection,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    // A bad --ca-file is found before any login is read or any request made.
    let transport = Transport::new(&settings.transport)?;
    let logins = match &settings.logins {
        VerifyLogins::Local(lookup) => super::local_credentials(lookup, printer)?
            .into_iter()
            .map(|credential| FoundLogin {
                key: credential.registry.secret_key(),
                username: credential.username,
                password: credential.password,
                source: credential.origin.to_string(),
            })
            .collect(),
        VerifyLogins::Secret { name, namespace } => {
            secret_logins(name, namespace.as_deref(), &connection, printer).await?
        }
    };
    let (pairs, unmatched) = pair(&logins, &settings.images);
    for image in &unmatched {
        printer.error(format!(
            "no login matches image {image} by the kubelet's rules; logins: {}",
            logins
                .iter()
                .map(|l| l.key.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let checks = pairs
        .iter()
        .map(|(login, image)| LoginCheck {
            domain: login.domain(),
            username: login.username.clone(),
            password: login.password.clone(),
            image: image.cloned(),
        })
        .collect();
    let outcomes = probe::verify_all(&transport, checks, Timestamp::now()).await;
    let rows: Vec<Row> = pairs
        .iter()
        .zip(outcomes)
        .map(|((login, image), outcome)| row(login, image.map(|i| i.to_string()), outcome))
        .collect();
    print(&rows, settings.output.clone(), !settings.images.is_empty(), printer)?;
    let all_valid = rows.iter().all(|r| r.verdict == RegistryVerdict::Valid);
    Ok(if all_valid && unmatched.is_empty() {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    })
}

/// Each login alone, or with images: each image with every login whose key matches it the
/// way the kubelet matches (the kubelet tries them in this order). Images no login matches
/// come back on their own.
pub(crate) fn pair<'a>(
    logins: &'a [FoundLogin],
    images: &'a [ImageRef],
) -> (
    Vec<(&'a FoundLogin, Option<&'a ImageRef>)>,
    Vec<&'a ImageRef>,
) {
    if images.is_empty() {
        return (
            logins.iter().map(|login| (login, None)).collect(),
            Vec::new(),
        );
    }
    let entries: Vec<Vec<KeyEntry>> = logins
        .iter()
        .map(|login| {
            login
                .normalized()
                .map(|key| KeyEntry {
                    raw: login.key.clone(),
                    key,
                    username: login.username.clone(),
                    has_password: !login.password.is_empty(),
                    expires: None,
                })
                .into_iter()
                .collect()
        })
        .collect();
    let labels: Vec<String> = (0..logins.len()).map(|i| i.to_string()).collect();
    let keyring = Keyring::new(
        labels
            .iter()
            .zip(&entries)
            .map(|(label, entries)| (label.as_str(), entries.as_slice())),
    );
    let mut pairs = Vec::new();
    let mut unmatched = Vec::new();
    for image in images {
        let matched = keyring.lookup(image);
        if matched.is_empty() {
            unmatched.push(image);
        }
        for credential in matched {
            let index: usize = credential.secret.parse().expect("labels are indexes");
            pairs.push((&logins[index], Some(image)));
        }
    }
    (pairs, unmatched)
}

fn row(login: &FoundLogin, image: Option<String>, outcome: LoginOutcome) -> Row {
    Row {
        registry: login.key.clone(),
        username: login.username.clone(),
        source: login.source.clone(),
        image,
        verdict: outcome.verdict,
        reason: outcome.reason,
        token_service: outcome.token_service,
    }
}

/// The logins of a pull Secret, parsed as the kubelet parses it.
async fn secret_logins(
    name: &str,
    namespace: Option<&str>,
    connection: &Connection,
    printer: &Printer,
) -> anyhow::Result<Vec<FoundLogin>> {
    let cluster = super::connect(connection, printer).await?;
    let namespace = namespace.map_or_else(|| cluster.default_namespace.clone(), str::to_string);
    let api: Api<Secret> = Api::namespaced(cluster.client.clone(), &namespace);
    let secret = api
        .get_opt(name)
        .await
        .map_err(|e| cluster.api_error(&e))?
        .with_context(|| format!("secret {name:?} not found in namespace {namespace}"))?;
    let logins = kubelet::secret_logins(&secret)
        .map_err(|problem| anyhow::anyhow!("secret {namespace}/{name}: {problem}"))?;
    if logins.is_empty() {
        anyhow::bail!("secret {namespace}/{name} holds no login the kubelet would use");
    }
    Ok(logins
        .into_iter()
        .map(|login| FoundLogin {
            key: login.raw,
            username: login.username,
            password: login.password,
            source: format!("secret {namespace}/{name}"),
        })
        .collect())
}

fn print(
    rows: &[Row],
    format: Option<OutputFormat>,
    with_images: bool,
    printer: &Printer,
) -> anyhow::Result<()> {
    if let Some(format) = format {
        let document = serde_json::json!({ "items": rows });
        output::emit_objects(printer, format, vec![document])?;
        return Ok(());
    }
    let mut headers = vec!["REGISTRY", "USERNAME"];
    if with_images {
        headers.push("IMAGE");
    }
    headers.extend(["VERDICT", "REASON"]);
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            let mut cells = vec![row.registry.clone(), row.username.clone()];
            if with_images {
                cells.push(row.image.clone().unwrap_or_default());
            }
            let mut reason = row.reason.clone();
            if let Some(service) = &row.token_service {
                reason.push_str(&format!(" (token service {service})"));
            }
            cells.extend([row.verdict.to_string(), reason]);
            cells
        })
        .collect();
    if !table.is_empty() {
        output::emit_table(printer, &headers, table)?;
    }
    let mut hinted = Vec::new();
    for row in rows {
        if let Some(fix) = row.verdict.fix()
            && !hinted.contains(&(row.registry.as_str(), row.verdict))
        {
            hinted.push((row.registry.as_str(), row.verdict));
            printer.note(format!("{}: {}: {fix}", row.registry, row.verdict));
        }
    }
    Ok(())
}
