//! `check`: for each image of each target, what the kubelet would do, a verdict, and a
//! one-line fix. Exit 1 when any image has a problem, so CI can use it.

use std::collections::BTreeMap;
use std::io::Write;

use serde::Serialize;

use crate::cluster::inventory::{self, NamespaceInventory, Object, Wants};
use crate::cluster::workloads::{self, Kind};
use crate::cluster::{self};
use crate::diagnosis::{self, PodInputs, SecretState, Verdict};
use crate::error::ExitStatus;
use crate::image::ImageRef;
use crate::kubelet;
use crate::output;
use crate::probe::{self, Anonymous};
use crate::settings::{CheckSettings, Connection, NamespaceScope};

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ObjectReport {
    namespace: String,
    object: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    service_account: Option<String>,
    /// The pull secrets the kubelet would use, and where that list comes from.
    pull_secrets: Vec<String>,
    pull_secrets_from: &'static str,
    images: Vec<ImageReport>,
    /// For ServiceAccount targets: the health of each Secret it lists.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    secrets: Vec<SecretReport>,
    events: Vec<EventLine>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ImageReport {
    image: String,
    #[serde(flatten)]
    verdict: Verdict,
    detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    fix: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    probe: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct SecretReport {
    secret: String,
    status: &'static str,
    detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    fix: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct EventLine {
    reason: String,
    pod: String,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_seen: Option<String>,
}

impl ObjectReport {
    fn problems(&self) -> bool {
        self.images.iter().any(|i| i.verdict.is_problem())
            || self.secrets.iter().any(|s| s.status != "OK")
    }
}

pub async fn run(settings: CheckSettings, connection: Connection) -> anyhow::Result<ExitStatus> {
    let cluster = cluster::connect(&connection).await?;
    let namespaces = cluster.namespaces(&settings.scope).await?;
    let wants = Wants {
        secrets: true,
        workloads: true,
        pods: true,
        service_accounts: true,
        events: true,
    };
    let inventory = inventory::gather(&cluster, &namespaces, wants, 8).await;
    let missing_is_error = matches!(
        settings.scope,
        NamespaceScope::Context | NamespaceScope::Named(_)
    );
    let mut reports = Vec::new();
    let mut failed = false;
    for (ns, found) in &inventory.namespaces {
        if let Some(error) = inventory.errors.get(ns) {
            eprintln!("error: namespace {ns}: {error}");
            failed = true;
            continue;
        }
        let states = secret_states(found);
        for object in targets(found, &settings, ns, missing_is_error, &mut failed) {
            reports.push(report(ns, found, object, &states, &BTreeMap::new()));
        }
    }
    if let Some(timeout) = settings.probe {
        reprobe(&mut reports, timeout).await;
    }

    let mut stdout = std::io::stdout().lock();
    match settings.output {
        Some(format) => {
            let document = serde_json::json!({ "items": reports });
            output::print_objects(&mut stdout, format, vec![document])?;
        }
        None => {
            for report in &reports {
                print_text(&mut stdout, report)?;
            }
        }
    }
    stdout.flush()?;
    summary(&reports);
    let problems = reports.iter().any(ObjectReport::problems);
    Ok(if problems || failed {
        ExitStatus::Failure
    } else {
        ExitStatus::Success
    })
}

/// Every Secret of the namespace as the kubelet would see it.
fn secret_states(found: &NamespaceInventory) -> BTreeMap<String, SecretState> {
    found
        .secrets
        .iter()
        .map(|s| {
            let name = s.metadata.name.clone().unwrap_or_default();
            (name, SecretState::from_parse(kubelet::parse_secret(s)))
        })
        .collect()
}

/// The named targets, or every top-level workload and standalone Pod.
fn targets<'a>(
    found: &'a NamespaceInventory,
    settings: &CheckSettings,
    ns: &str,
    missing_is_error: bool,
    failed: &mut bool,
) -> Vec<&'a Object> {
    if settings.targets.is_empty() {
        return found
            .workloads
            .iter()
            .chain(&found.pods)
            .filter(|o| o.owner.is_none())
            .collect();
    }
    let mut chosen = Vec::new();
    for target in &settings.targets {
        let pool: Vec<&Object> = match target.kind {
            Kind::Pod => found.pods.iter().collect(),
            Kind::ServiceAccount => found.service_accounts.iter().collect(),
            kind => found.workloads.iter().filter(|w| w.kind == kind).collect(),
        };
        match pool
            .into_iter()
            .find(|o| Some(&o.name) == target.name.as_ref())
        {
            Some(object) => chosen.push(object),
            None if missing_is_error => {
                *failed = true;
                eprintln!(
                    "error: {}/{} not found in namespace {ns}",
                    target.kind.display(),
                    target.name.as_deref().unwrap_or("")
                );
            }
            None => {}
        }
    }
    chosen
}

fn report(
    ns: &str,
    found: &NamespaceInventory,
    object: &Object,
    states: &BTreeMap<String, SecretState>,
    probes: &BTreeMap<String, String>,
) -> ObjectReport {
    if object.kind == Kind::ServiceAccount {
        return service_account_report(ns, object, states);
    }
    let spec = object.pull_secret_holder().cloned().unwrap_or_default();
    let own = workloads::pull_secret_names(&spec);
    let account = workloads::service_account(&spec);
    let account_secrets = found.service_account(&account).map(Object::pull_secrets);
    let pods: Vec<&Object> = if object.kind == Kind::Pod {
        vec![object]
    } else {
        found.pods_of(object)
    };
    let pod_names: Vec<&str> = pods.iter().map(|p| p.name.as_str()).collect();
    let events: Vec<EventLine> = found
        .events
        .iter()
        .filter(|e| pod_names.contains(&e["involvedObject"]["name"].as_str().unwrap_or("")))
        .map(|e| EventLine {
            reason: e["reason"].as_str().unwrap_or("").to_string(),
            pod: e["involvedObject"]["name"]
                .as_str()
                .unwrap_or("")
                .to_string(),
            message: e["message"].as_str().unwrap_or("").to_string(),
            last_seen: e["lastTimestamp"]
                .as_str()
                .or(e["eventTime"].as_str())
                .or(e["metadata"]["creationTimestamp"].as_str())
                .map(str::to_string),
        })
        .collect();
    let images = workloads::images(&spec);
    let auth_failures: Vec<String> = images
        .iter()
        .filter(|image| {
            events
                .iter()
                .any(|e| diagnosis::is_auth_failure(&e.message, image))
        })
        .cloned()
        .collect();
    let is_pod = object.kind == Kind::Pod;
    let inputs = PodInputs {
        own: &own,
        is_pod,
        service_account: account_secrets.as_deref(),
        secrets: states,
        auth_failures: &auth_failures,
        probe_refusals: probes,
    };
    let target = format!(
        "{}/{}",
        object.kind.kind_name().to_ascii_lowercase(),
        object.name
    );
    let image_reports = images
        .iter()
        .map(|image| {
            let mut verdict = diagnosis::diagnose(image, &inputs);
            if let Verdict::PodPredatesSa { pods, .. } = &mut verdict {
                pods.push(object.name.clone());
            }
            // A template that is fine can still run pods made before its ServiceAccount changed.
            if !is_pod && !verdict.is_problem() {
                let stale = stale_pods(image, &pods, &inputs);
                if let Some(stale) = stale {
                    verdict = stale;
                }
            }
            let fix = diagnosis::fix(&verdict, image, &target, ns);
            ImageReport {
                image: image.clone(),
                detail: verdict.detail(),
                verdict,
                fix,
                probe: None,
            }
        })
        .collect();
    ObjectReport {
        namespace: ns.to_string(),
        object: object.reference(),
        service_account: Some(account),
        pull_secrets: inputs.effective(),
        pull_secrets_from: if is_pod || !own.is_empty() {
            "pod spec"
        } else {
            "serviceaccount"
        },
        images: image_reports,
        secrets: Vec::new(),
        events,
    }
}

/// Pods of a workload that, unlike its template, get no credential for `image` because they
/// were created before the ServiceAccount gained it.
fn stale_pods(image: &str, pods: &[&Object], template: &PodInputs<'_>) -> Option<Verdict> {
    let mut names = Vec::new();
    let mut secrets = Vec::new();
    for pod in pods {
        let own = pod.pull_secrets();
        let inputs = PodInputs {
            own: &own,
            is_pod: true,
            ..*template
        };
        if let Verdict::PodPredatesSa { secrets: s, .. } = diagnosis::diagnose(image, &inputs) {
            names.push(pod.name.clone());
            secrets = s;
        }
    }
    (!names.is_empty()).then_some(Verdict::PodPredatesSa {
        secrets,
        pods: names,
    })
}

fn service_account_report(
    ns: &str,
    account: &Object,
    states: &BTreeMap<String, SecretState>,
) -> ObjectReport {
    let names = account.pull_secrets();
    let secrets = names
        .iter()
        .map(|name| {
            let (status, detail, fix) = match states.get(name) {
                None | Some(SecretState::Missing) => (
                    "SECRET-MISSING",
                    "it does not exist".to_string(),
                    Some(format!("kubectl regcred create {name} -n {ns}")),
                ),
                Some(SecretState::Ignored(why)) => (
                    "SECRET-MISSING",
                    format!("the kubelet ignores it: {why}"),
                    Some(format!("kubectl regcred detach {name} sa/{} -n {ns}", account.name)),
                ),
                Some(SecretState::Malformed(why)) => (
                    "SECRET-MALFORMED",
                    format!("every pull of pods using it fails: {why}"),
                    Some(format!("kubectl regcred create {name} --server SERVER -n {ns} --force")),
                ),
                Some(SecretState::Keys(keys)) if keys.iter().all(|k| k.username.is_empty() && !k.has_password) => (
                    "IDENTITY-TOKEN-ONLY",
                    "it holds no username or password the kubelet can use".to_string(),
                    Some(format!(
                        "kubectl regcred create {name} --server SERVER --username USER --password-stdin -n {ns} --force"
                    )),
                ),
                Some(SecretState::Keys(keys)) => (
                    "OK",
                    format!("registries {}", keys.iter().map(|k| k.raw.as_str()).collect::<Vec<_>>().join(", ")),
                    None,
                ),
            };
            SecretReport {
                secret: name.clone(),
                status,
                detail,
                fix,
            }
        })
        .collect();
    ObjectReport {
        namespace: ns.to_string(),
        object: account.reference(),
        service_account: None,
        pull_secrets: names,
        pull_secrets_from: "serviceaccount",
        images: Vec::new(),
        secrets,
        events: Vec::new(),
    }
}

/// `--probe`: ask the registries of ANONYMOUS images, and turn refusals into NO-CREDENTIAL.
async fn reprobe(reports: &mut [ObjectReport], timeout: std::time::Duration) {
    let mut asked: BTreeMap<String, Anonymous> = BTreeMap::new();
    for report in reports.iter() {
        for image in report
            .images
            .iter()
            .filter(|i| i.verdict == Verdict::Anonymous)
        {
            if asked.contains_key(&image.image) {
                continue;
            }
            let Ok(parsed) = ImageRef::parse(&image.image) else {
                continue;
            };
            let answer = tokio::task::spawn_blocking(move || probe::probe(&parsed, timeout))
                .await
                .unwrap_or_else(|e| Anonymous::Unknown(e.to_string()));
            asked.insert(image.image.clone(), answer);
        }
    }
    let refusals: BTreeMap<String, String> = asked
        .iter()
        .filter_map(|(image, answer)| match answer {
            Anonymous::Refused(why) => Some((image.clone(), why.clone())),
            _ => None,
        })
        .collect();
    for report in reports.iter_mut() {
        let target = report.object.clone();
        let short_target = target.replace(".apps/", "/").replace(".batch/", "/");
        for image in report
            .images
            .iter_mut()
            .filter(|i| i.verdict == Verdict::Anonymous)
        {
            image.probe = asked.get(&image.image).map(|answer| match answer {
                Anonymous::Allowed => "anonymous pulls allowed".to_string(),
                Anonymous::Refused(why) => format!("anonymous pulls refused: {why}"),
                Anonymous::Unknown(why) => format!("could not tell: {why}"),
            });
            if let Some(why) = refusals.get(&image.image) {
                image.verdict = Verdict::NoCredential {
                    evidence: format!("the registry refused an anonymous pull ({why})"),
                };
                image.detail = image.verdict.detail();
                image.fix = diagnosis::fix(
                    &image.verdict,
                    &image.image,
                    &short_target,
                    &report.namespace,
                );
            }
        }
    }
}

fn print_text(out: &mut impl Write, report: &ObjectReport) -> std::io::Result<()> {
    writeln!(out, "{} in namespace {}", report.object, report.namespace)?;
    if let Some(account) = &report.service_account {
        let secrets = if report.pull_secrets.is_empty() {
            "none".to_string()
        } else {
            report.pull_secrets.join(", ")
        };
        writeln!(
            out,
            "  serviceaccount {account}; pull secrets: {secrets} (from the {})",
            report.pull_secrets_from
        )?;
    }
    let width = report
        .images
        .iter()
        .map(|i| i.image.len())
        .max()
        .unwrap_or(0);
    for image in &report.images {
        writeln!(
            out,
            "  {:<19} {:<width$}   {}",
            image.verdict.label(),
            image.image,
            image.detail
        )?;
        if let Some(probe) = &image.probe {
            writeln!(out, "  {:<19} probe: {probe}", "")?;
        }
        if let Some(fix) = &image.fix {
            writeln!(out, "  {:<19} fix: {fix}", "")?;
        }
    }
    if report.service_account.is_none() && report.secrets.is_empty() {
        writeln!(out, "  no imagePullSecrets")?;
    }
    for secret in &report.secrets {
        writeln!(
            out,
            "  {:<19} secret/{}   {}",
            secret.status, secret.secret, secret.detail
        )?;
        if let Some(fix) = &secret.fix {
            writeln!(out, "  {:<19} fix: {fix}", "")?;
        }
    }
    let recent: Vec<&EventLine> = report.events.iter().rev().take(3).collect();
    for event in recent.into_iter().rev() {
        writeln!(
            out,
            "  event {} on pod/{}: {}",
            event.reason, event.pod, event.message
        )?;
    }
    Ok(())
}

fn summary(reports: &[ObjectReport]) {
    if reports.is_empty() {
        eprintln!("no workloads found");
        return;
    }
    let tally = |labels: Vec<&str>| {
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for label in &labels {
            *counts.entry(label).or_default() += 1;
        }
        let parts: Vec<String> = counts
            .iter()
            .map(|(label, n)| format!("{n} {label}"))
            .collect();
        (labels.len(), parts.join(", "))
    };
    let (images, image_counts) = tally(
        reports
            .iter()
            .flat_map(|r| r.images.iter().map(|i| i.verdict.label()))
            .collect(),
    );
    let (secrets, secret_counts) = tally(
        reports
            .iter()
            .flat_map(|r| r.secrets.iter().map(|s| s.status))
            .collect(),
    );
    let mut line = format!("{} objects: {images} images", reports.len());
    if images > 0 {
        line.push_str(&format!(" ({image_counts})"));
    }
    if secrets > 0 {
        line.push_str(&format!(
            ", {secrets} ServiceAccount secrets ({secret_counts})"
        ));
    }
    eprintln!("{line}");
}
