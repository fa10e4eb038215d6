//! `check`: for each image of each target, what the kubelet would do, a verdict, and a
//! one-line fix. Exit 1 when any image has a problem, so CI can use it.

use std::collections::BTreeMap;
use std::io::Write;

use k8s_openapi::jiff::Timestamp;
use serde::Serialize;

use crate::cluster::inventory::{self, NamespaceInventory, Object, Wants};
use crate::error::ExitStatus;
use crate::output::{self, Tally};
use crate::printer::Printer;
use crate::probe::{self, Anonymous, LoginCheck, Transport, TransportSettings};
use crate::rules::text::counted;
use crate::rules::admission::PullSecretSource;
use crate::rules::credential::{Origin, RecordedOrigin, SourceKind};
use crate::rules::diagnosis::{self, PodInputs, SecretState, SecretStatus, Verdict};
use crate::rules::diagnosis::{Fix, LoginSource, ProviderMatch};
use crate::rules::providers::{self, Provider};
use crate::rules::image::ImageRef;
use crate::rules::kinds::{self, Kind};
use crate::rules::kubelet;
use crate::rules::pullsecret::{is_managed, rancher_project, recorded_sources};
use crate::rules::text::shell_quote;
use crate::rules::trust;
use crate::rules::verdict::RegistryVerdict;
use crate::settings::{CheckFormat, CheckSettings, Connection, OutputFormat};

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ObjectReport {
    namespace: String,
    object: String,
    /// `deployment/web`: the object a fix command changes. For a Pod, whose
    /// `imagePullSecrets` cannot change, its top owner, or (a bare Pod) its ServiceAccount.
    #[serde(skip)]
    command_target: String,
    /// A bare Pod: `pod/NAME`, which must be recreated to get what its fix attaches.
    #[serde(skip)]
    recreate: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    service_account: Option<String>,
    /// The pull secrets the kubelet would use, and where that list comes from.
    pull_secrets: Vec<String>,
    pull_secrets_from: PullSecretSource,
    /// Those of `pull_secrets` that Rancher keeps (copies of a project's credential), with
    /// the project: edit them in Rancher, not here.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    rancher_managed: BTreeMap<String, String>,
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
    /// The image volume that names it (KEP-4639), when a volume does.
    #[serde(skip_serializing_if = "Option::is_none")]
    volume: Option<String>,
    #[serde(flatten)]
    verdict: Verdict,
    detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    fix: Option<Fix>,
    #[serde(skip_serializing_if = "Option::is_none")]
    probe: Option<String>,
    /// The target's Pods that run now with this image, with the pull Secrets each lists:
    /// from a node's cache, so a failing credential fails their next pull, not this one.
    #[serde(skip)]
    running: Vec<(String, Vec<String>)>,
}

impl ImageReport {
    /// The image, and the image volume that names it (`volume/NAME`).
    fn label(&self) -> String {
        kinds::PodImage {
            image: self.image.clone(),
            volume: self.volume.clone(),
        }
        .label()
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct SecretReport {
    secret: String,
    status: SecretStatus,
    detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    fix: Option<Fix>,
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
            || self.secrets.iter().any(|s| s.status != SecretStatus::Ok)
    }
}

pub(crate) async fn run(
    settings: &CheckSettings,
    connection: Connection,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    // The node's providers, read and validated before the cluster is (docs/check.md).
    let providers = match &settings.provider_config {
        Some(path) => crate::credentials::providers::load(path)?,
        None => Vec::new(),
    };
    if let Some(timeout) = settings.probe {
        // A proxy setting the probes cannot use is an error before anything is read, as for
        // `verify` (docs/verify.md): never a probe that quietly could not tell.
        Transport::new(&TransportSettings::with_timeout(timeout))?;
    }
    let (cluster, namespaces) = super::connect_in(&connection, &settings.scope, printer).await?;
    let inventory = inventory::gather(&cluster, &namespaces, Wants::ALL, 8).await;
    super::warn_unreadable(&inventory, printer);
    // Not one namespace could be read: nothing was checked, so this could not run (which a
    // run across contexts tells apart from problems found; docs/contexts.md).
    if !namespaces.is_empty()
        && inventory.errors.len() == namespaces.len()
        && let Some((ns, error)) = inventory.errors.iter().next()
    {
        anyhow::bail!("namespace {ns}: {error}");
    }
    let mut reports = Vec::new();
    let mut failed = false;
    for (ns, found) in &inventory.namespaces {
        if let Some(error) = inventory.errors.get(ns) {
            printer.error(format!("namespace {ns}: {error}"));
            failed = true;
            continue;
        }
        let states = secret_states(found);
        let (objects, missing) = targets(found, settings);
        if settings.scope.names_namespaces() {
            for reference in missing {
                printer.error(format!("{reference} not found in namespace {ns}"));
                failed = true;
            }
        }
        let rancher: BTreeMap<String, String> = found
            .secrets
            .iter()
            .filter_map(|secret| {
                let project = rancher_project(secret)?;
                Some((secret.metadata.name.clone()?, project.to_string()))
            })
            .collect();
        for object in objects {
            let mut report = object_report(ns, found, object, &states);
            with_node_providers(&mut report, found, &providers);
            report.rancher_managed = rancher
                .iter()
                .filter(|(name, _)| report.pull_secrets.contains(name))
                .map(|(name, project)| (name.clone(), project.clone()))
                .collect();
            reports.push(report);
        }
    }
    if let Some(timeout) = settings.probe {
        reprobe(&mut reports, timeout).await;
        verify_matched(&mut reports, &inventory, timeout).await;
    }
    // Pods that run an image whose credential no longer works run from a cache.
    for report in &mut reports {
        for image in &mut report.images {
            // Only Pods that pull with the failing Secret (an older ReplicaSet's may not).
            let failing = match &image.verdict {
                Verdict::Expired { secret, .. }
                | Verdict::BadCredentials { secret, .. }
                | Verdict::NoPullAccess { secret, .. } => Some(secret),
                _ => None,
            };
            let running: Vec<String> = image
                .running
                .iter()
                .filter(|(_, secrets)| failing.is_some_and(|s| secrets.contains(s)))
                .map(|(pod, _)| pod.clone())
                .collect();
            let verdict = diagnosis::on_cached_image(image.verdict.clone(), &running);
            if verdict != image.verdict {
                let ns = report.namespace.clone();
                image.set_verdict(verdict, &report.command_target, report.recreate.as_deref(), &ns);
            }
        }
    }
    for report in &mut reports {
        let Some(found) = inventory.namespaces.get(&report.namespace) else {
            continue;
        };
        for image in &mut report.images {
            let (source, sync_flags) = login_source(found, &image.verdict);
            if let Some(fix) = diagnosis::renewal_fix(&image.verdict, &source, &sync_flags) {
                image.fix = Some(fix);
            }
        }
    }
    // Pasted, a fix acts on the cluster this looked at (docs/check.md).
    let flags = connection_flags(&connection);
    for report in &mut reports {
        let images = report.images.iter_mut().map(|image| &mut image.fix);
        let secrets = report.secrets.iter_mut().map(|secret| &mut secret.fix);
        for fix in images.chain(secrets).flatten() {
            for text in [&mut fix.command, &mut fix.advice].into_iter().flatten() {
                *text = diagnosis::with_connection_flags(text, &flags);
            }
        }
    }
    print_reports(&reports, &settings.format, printer)?;
    // After an error or a forbidden read, "no workloads found" would say more than we know.
    let partial = failed || !inventory.unreadable.is_empty();
    summary(&reports, partial, printer);
    let problems = reports.iter().any(ObjectReport::problems);
    Ok(if problems || failed {
        ExitStatus::Failure
    } else {
        ExitStatus::Success
    })
}

fn print_reports(
    reports: &[ObjectReport],
    format: &CheckFormat,
    printer: &Printer,
) -> anyhow::Result<()> {
    match format {
        CheckFormat::Text => {
            let mut out = printer.human_out();
            for report in reports {
                print_text(&mut out, report)?;
            }
            out.flush()?;
        }
        CheckFormat::Wide => {
            let headers = ["NAMESPACE", "OBJECT", "IMAGE", "VERDICT", "DETAIL"];
            output::emit_table(printer, &headers, wide_rows(reports))?;
        }
        // The objects `check` exits 1 for, to pipe into another command.
        CheckFormat::Structured(OutputFormat::Name) => {
            let mut out = printer.human_out();
            for report in reports.iter().filter(|r| r.problems()) {
                writeln!(out, "{}", report.object)?;
            }
            out.flush()?;
        }
        CheckFormat::Structured(format) => {
            let document = serde_json::json!({ "items": reports });
            output::emit_objects(printer, format.clone(), vec![document])?;
        }
    }
    Ok(())
}

/// `-o wide`: a row per image, and per Secret a ServiceAccount lists.
fn wide_rows(reports: &[ObjectReport]) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    for report in reports {
        let row = |subject: &str, verdict: &str, detail: &str| {
            [&report.namespace, &report.object, subject, verdict, detail]
                .map(str::to_string)
                .to_vec()
        };
        for image in &report.images {
            rows.push(row(&image.label(), image.verdict.label(), &image.detail));
        }
        for secret in &report.secrets {
            let subject = format!("secret/{}", secret.secret);
            rows.push(row(&subject, secret.status.label(), &secret.detail));
        }
    }
    rows
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

/// The named targets, or every top-level workload and standalone Pod; and the references
/// of named targets that are not there.
fn targets<'a>(
    found: &'a NamespaceInventory,
    settings: &CheckSettings,
) -> (Vec<&'a Object>, Vec<String>) {
    if settings.targets.is_empty() {
        let all = found
            .workloads
            .iter()
            .chain(&found.pods)
            .filter(|o| o.owner.is_none())
            .collect();
        return (all, Vec::new());
    }
    let mut chosen = Vec::new();
    let mut missing = Vec::new();
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
            None => missing.push(target.reference()),
        }
    }
    (chosen, missing)
}

/// Pull-failure Events about `pods`.
fn pull_events(found: &NamespaceInventory, pods: &[&Object]) -> Vec<EventLine> {
    let pod_names: Vec<&str> = pods.iter().map(|p| p.name.as_str()).collect();
    let text = |value: &serde_json::Value| value.as_str().unwrap_or("").to_string();
    found
        .events
        .iter()
        .filter(|e| pod_names.contains(&e["involvedObject"]["name"].as_str().unwrap_or("")))
        .map(|e| EventLine {
            reason: text(&e["reason"]),
            pod: text(&e["involvedObject"]["name"]),
            message: text(&e["message"]),
            last_seen: e["lastTimestamp"]
                .as_str()
                .or(e["eventTime"].as_str())
                .or(e["metadata"]["creationTimestamp"].as_str())
                .map(str::to_string),
        })
        .collect()
}

fn object_report(
    ns: &str,
    found: &NamespaceInventory,
    object: &Object,
    states: &BTreeMap<String, SecretState>,
) -> ObjectReport {
    if object.kind == Kind::ServiceAccount {
        return service_account_report(ns, object, states);
    }
    let spec = object.pull_secret_holder().cloned().unwrap_or_default();
    let own = kinds::pull_secret_names(&spec);
    let account = kinds::service_account(&spec);
    let account_secrets = found.service_account(&account).map(Object::pull_secrets);
    let is_pod = object.kind == Kind::Pod;
    let pods: Vec<&Object> = if is_pod {
        vec![object]
    } else {
        found.pods_of(object)
    };
    let events = pull_events(found, &pods);
    let images = kinds::pod_images(&spec);
    let auth_failures: Vec<String> = images
        .iter()
        .map(|found| found.image.clone())
        .filter(|image| {
            events
                .iter()
                .any(|e| diagnosis::is_auth_failure(&e.message, image))
        })
        .collect();
    let inputs = PodInputs {
        own: &own,
        is_pod,
        service_account: account_secrets.as_deref(),
        secrets: states,
        auth_failures: &auth_failures,
        probe_refusals: &BTreeMap::new(),
        now: k8s_openapi::jiff::Timestamp::now(),
    };
    let (command_target, recreate) = fix_target(found, object, &account);
    let image_reports = images
        .iter()
        .map(|found| {
            image_report(
                found,
                object,
                &pods,
                &inputs,
                &command_target,
                recreate.as_deref(),
                ns,
            )
        })
        .collect();
    let (pull_secrets, pull_secrets_from) = inputs.effective();
    ObjectReport {
        namespace: ns.to_string(),
        object: object.reference(),
        command_target,
        recreate,
        service_account: Some(account),
        pull_secrets,
        pull_secrets_from,
        rancher_managed: BTreeMap::new(),
        images: image_reports,
        secrets: Vec::new(),
        events,
    }
}

/// `--credential-provider-config`: images no pull Secret serves that a node provider matches
/// (docs/semantics.md §12), judged with the Pod's ServiceAccount's annotations.
fn with_node_providers(report: &mut ObjectReport, found: &NamespaceInventory, providers: &[Provider]) {
    let Some(account) = report.service_account.clone() else {
        return;
    };
    if providers.is_empty() {
        return;
    }
    let annotations: Option<BTreeMap<String, String>> = found.service_account(&account).map(|sa| {
        sa.value["metadata"]["annotations"]
            .as_object()
            .map(|map| {
                map.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                    .collect()
            })
            .unwrap_or_default()
    });
    for image in &mut report.images {
        let Ok(parsed) = ImageRef::parse(&image.image) else {
            continue;
        };
        let matched: Vec<ProviderMatch> = providers::matching(providers, &parsed)
            .into_iter()
            .map(|provider| ProviderMatch {
                name: provider.name.clone(),
                missing_annotations: providers::missing_annotations(provider, annotations.as_ref()),
            })
            .collect();
        let verdict = diagnosis::with_providers(image.verdict.clone(), &matched, &account);
        if verdict != image.verdict {
            let ns = report.namespace.clone();
            image.set_verdict(verdict, &report.command_target, report.recreate.as_deref(), &ns);
        }
    }
}

/// Where the login a verdict names came from, read from the Secret's record, and what
/// `sync NAME` needs to find its credential ([`trust::sync_flags`]).
fn login_source(found: &NamespaceInventory, verdict: &Verdict) -> (LoginSource, String) {
    let (Verdict::Expired { secret, key, .. }
    | Verdict::Expiring { secret, key, .. }
    | Verdict::BadCredentials { secret, key, .. }) = verdict.cause()
    else {
        return (LoginSource::Unrecorded, String::new());
    };
    let Some(copy) = found
        .secrets
        .iter()
        .find(|s| s.metadata.name.as_deref() == Some(secret.as_str()))
    else {
        return (LoginSource::Unrecorded, String::new());
    };
    if !is_managed(copy) {
        return (LoginSource::Unrecorded, String::new());
    }
    let source = match recorded_sources(copy)
        .get(key)
        .and_then(|s| Origin::reread_from(s))
    {
        None => LoginSource::Unrecorded,
        Some(RecordedOrigin::Local(SourceKind::Explicit)) => {
            let username = kubelet::secret_logins(copy)
                .ok()
                .and_then(|logins| logins.into_iter().find(|l| &l.raw == key))
                .map(|login| login.username)
                .unwrap_or_else(|| "USER".to_string());
            LoginSource::Explicit { username }
        }
        Some(_) => LoginSource::Rereadable,
    };
    (source, trust::sync_flags(copy))
}

/// The connection flags this run was given (in a run across contexts, its context), as they
/// go into a pasted command, shell-quoted.
fn connection_flags(connection: &Connection) -> Vec<String> {
    let path = |p: &std::path::PathBuf| p.to_string_lossy().into_owned();
    // Whom the run acted as, too: a fix pasted without `--as` would act as someone else.
    let groups = connection
        .impersonate_groups
        .iter()
        .map(|group| ("--as-group", Some(group.clone())));
    [
        ("--kubeconfig", connection.kubeconfig.as_ref().map(path)),
        ("--context", connection.context.clone()),
        ("--cluster", connection.cluster.clone()),
        ("--user", connection.user.clone()),
        ("--as", connection.impersonate_user.clone()),
    ]
    .into_iter()
    .chain(groups)
    .filter_map(|(flag, value)| Some(format!("{flag} {}", shell_quote(&value?))))
    .collect()
}

/// What a fix for `object` changes, and for a bare Pod, the Pod to recreate afterwards.
fn fix_target(
    found: &NamespaceInventory,
    object: &Object,
    account: &str,
) -> (String, Option<String>) {
    if object.kind != Kind::Pod {
        return (object.kind.command_reference(&object.name), None);
    }
    match found.top_owner(object) {
        Some(owner) => (owner.kind.command_reference(&owner.name), None),
        None => (
            Kind::ServiceAccount.command_reference(account),
            Some(object.kind.command_reference(&object.name)),
        ),
    }
}

impl ImageReport {
    /// A probe's verdict replaces the cluster's, and with it the detail and the fix line.
    fn set_verdict(
        &mut self,
        verdict: Verdict,
        command_target: &str,
        recreate: Option<&str>,
        ns: &str,
    ) {
        self.detail = verdict.detail();
        self.fix = fix_line(&verdict, &self.image, command_target, recreate, ns);
        self.verdict = verdict;
    }
}

/// The fix for `verdict`, ending, for a bare Pod, with its recreation.
fn fix_line(
    verdict: &Verdict,
    image: &str,
    command_target: &str,
    recreate: Option<&str>,
    ns: &str,
) -> Option<Fix> {
    // A bare Pod made before its ServiceAccount gained the Secret: only recreating it helps.
    let target = match (recreate, verdict) {
        (Some(pod), Verdict::PodPredatesSa { .. }) => pod,
        _ => command_target,
    };
    let fix = diagnosis::fix(verdict, image, target, ns)?;
    Some(match recreate {
        Some(pod) if diagnosis::fix_changes_the_target(verdict) => fix.then(&format!(
            "afterwards recreate {pod}: a Pod's imagePullSecrets cannot change after it is created"
        )),
        _ => fix,
    })
}

fn image_report(
    found: &kinds::PodImage,
    object: &Object,
    pods: &[&Object],
    inputs: &PodInputs<'_>,
    command_target: &str,
    recreate: Option<&str>,
    ns: &str,
) -> ImageReport {
    let image = found.image.as_str();
    let mut verdict = diagnosis::diagnose(image, inputs);
    if let Verdict::PodPredatesSa { pods, .. } = &mut verdict {
        pods.push(object.name.clone());
    }
    // A template that is fine can still run pods made before its ServiceAccount changed.
    if !inputs.is_pod
        && !verdict.is_problem()
        && let Some(stale) = stale_pods(image, pods, inputs)
    {
        verdict = stale;
    }
    let fix = fix_line(&verdict, image, command_target, recreate, ns);
    let running = pods
        .iter()
        .filter(|pod| pod.value["status"]["phase"] == "Running")
        .filter(|pod| kinds::images(&pod.value["spec"]).iter().any(|i| i == image))
        .map(|pod| (pod.name.clone(), pod.pull_secrets()))
        .collect();
    ImageReport {
        image: image.to_string(),
        volume: found.volume.clone(),
        detail: verdict.detail(),
        verdict,
        fix,
        probe: None,
        running,
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
            let health = diagnosis::secret_health(name, states.get(name), &account.name, ns);
            SecretReport {
                secret: name.clone(),
                status: health.status,
                detail: health.detail,
                fix: health.fix,
            }
        })
        .collect();
    ObjectReport {
        namespace: ns.to_string(),
        object: account.reference(),
        command_target: account.kind.command_reference(&account.name),
        recreate: None,
        service_account: None,
        pull_secrets: names,
        pull_secrets_from: PullSecretSource::ServiceAccount,
        rancher_managed: BTreeMap::new(),
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
                let verdict = Verdict::NoCredential {
                    evidence: format!("the registry refused an anonymous pull ({why})"),
                };
                image.set_verdict(verdict, &report.command_target, report.recreate.as_deref(), &report.namespace);
            }
        }
    }
}

/// What the registry's answer about a matched credential makes of an image's verdict: a
/// refusal is the verdict; a yes, or no answer at all, is a note (`probe:`) that leaves the
/// verdict as it was, since this machine's view of the registry is not the node's.
fn probed_verdict(
    answer: RegistryVerdict,
    secret: String,
    key: String,
    reason: String,
) -> Result<Verdict, String> {
    Ok(match answer {
        RegistryVerdict::Valid => return Err(format!("the registry accepts it: {reason}")),
        RegistryVerdict::BadCredentials => Verdict::BadCredentials {
            secret,
            key,
            reason,
        },
        RegistryVerdict::NoPullAccess => Verdict::NoPullAccess {
            secret,
            key,
            reason,
        },
        RegistryVerdict::NotFound => Verdict::NotFound {
            secret,
            key,
            reason,
        },
        RegistryVerdict::Expired => Verdict::Expired {
            secret,
            key,
            at: format!("an unknown time ({reason})"),
        },
        other => {
            return Err(format!(
                "could not verify the credential: {other}: {reason}"
            ));
        }
    })
}

/// `--probe`, for images a credential matches: ask the registry with that credential
/// whether it may pull the image (docs/verify.md), and turn a refusal into BAD-CREDENTIALS,
/// NO-PULL-ACCESS, EXPIRED or NOT-FOUND. A registry this machine cannot reach says nothing
/// about the nodes, so that stays a note.
async fn verify_matched(
    reports: &mut [ObjectReport],
    inventory: &inventory::Inventory,
    timeout: std::time::Duration,
) {
    // matched_login → the check's index; each asked once.
    let mut wanted: BTreeMap<(String, String, String, String), usize> = BTreeMap::new();
    let mut checks = Vec::new();
    for report in reports.iter() {
        let Some(found) = inventory.namespaces.get(&report.namespace) else {
            continue;
        };
        for image in &report.images {
            let Some(id) = matched_login(&report.namespace, image) else {
                continue;
            };
            if wanted.contains_key(&id) {
                continue;
            }
            let Some(check) = login_check(found, &id.1, &id.2, &image.image) else {
                continue;
            };
            wanted.insert(id, checks.len());
            checks.push(check);
        }
    }
    if checks.is_empty() {
        return;
    }
    let transport = match Transport::new(&TransportSettings::with_timeout(timeout)) {
        Ok(transport) => transport,
        Err(_) => return,
    };
    let outcomes = probe::verify_all(&transport, checks, Timestamp::now()).await;
    for report in reports.iter_mut() {
        for image in report.images.iter_mut() {
            let Some(id) = matched_login(&report.namespace, image) else {
                continue;
            };
            let Some(outcome) = wanted.get(&id).map(|i| &outcomes[*i]) else {
                continue;
            };
            let (_, secret, key, _) = id;
            let verdict = match probed_verdict(outcome.verdict, secret, key, outcome.reason.clone())
            {
                Ok(verdict) => verdict,
                Err(note) => {
                    image.probe = Some(note);
                    continue;
                }
            };
            image.set_verdict(verdict, &report.command_target, report.recreate.as_deref(), &report.namespace);
        }
    }
}

/// (namespace, secret, key, image) of an image a credential matches, which `--probe` verifies.
fn matched_login(namespace: &str, image: &ImageReport) -> Option<(String, String, String, String)> {
    let (Verdict::Ok { secret, key } | Verdict::Expiring { secret, key, .. }) = &image.verdict
    else {
        return None;
    };
    Some((
        namespace.to_string(),
        secret.clone(),
        key.clone(),
        image.image.clone(),
    ))
}

/// The login `secret` holds under `key`, to be checked against `image`.
fn login_check(
    found: &NamespaceInventory,
    secret: &str,
    key: &str,
    image: &str,
) -> Option<LoginCheck> {
    let object = found
        .secrets
        .iter()
        .find(|s| s.metadata.name.as_deref() == Some(secret))?;
    let login = kubelet::secret_logins(object)
        .ok()?
        .into_iter()
        .find(|login| login.raw == key)?;
    Some(LoginCheck {
        domain: kubelet::key_registry(key)?,
        username: login.username,
        password: login.password,
        image: Some(ImageRef::parse(image).ok()?),
    })
}

fn print_text(out: &mut impl Write, report: &ObjectReport) -> std::io::Result<()> {
    writeln!(out, "{} in namespace {}", report.object, report.namespace)?;
    if let Some(account) = &report.service_account {
        let secrets = if report.pull_secrets.is_empty() {
            "none".to_string()
        } else {
            report
                .pull_secrets
                .iter()
                .map(|name| match report.rancher_managed.get(name) {
                    Some(project) => format!("{name} (Rancher, project {project})"),
                    None => name.clone(),
                })
                .collect::<Vec<_>>()
                .join(", ")
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
        .map(|i| i.label().chars().count())
        .max()
        .unwrap_or(0);
    for image in &report.images {
        writeln!(
            out,
            "  {:<19} {:<width$}   {}",
            image.verdict.label(),
            image.label(),
            image.detail
        )?;
        if let Some(probe) = &image.probe {
            writeln!(out, "  {:<19} probe: {probe}", "")?;
        }
        print_fix(out, image.fix.as_ref())?;
    }
    if report.service_account.is_none() && report.secrets.is_empty() {
        writeln!(out, "  no imagePullSecrets")?;
    }
    for secret in &report.secrets {
        writeln!(
            out,
            "  {:<19} secret/{}   {}",
            secret.status.label(),
            secret.secret,
            secret.detail
        )?;
        print_fix(out, secret.fix.as_ref())?;
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

/// `note:` with the advice, then `fix:` with the command, which pastes as it is.
fn print_fix(out: &mut dyn Write, fix: Option<&Fix>) -> std::io::Result<()> {
    let Some(fix) = fix else { return Ok(()) };
    if let Some(advice) = &fix.advice {
        writeln!(out, "  {:<19} note: {advice}", "")?;
    }
    if let Some(command) = &fix.command {
        writeln!(out, "  {:<19} fix: {command}", "")?;
    }
    Ok(())
}

fn summary(reports: &[ObjectReport], partial: bool, printer: &Printer) {
    if reports.is_empty() {
        if !partial {
            printer.status("no workloads found");
        }
        return;
    }
    // Labels in alphabetical order, as the summary has always listed them.
    let tally = |mut labels: Vec<&str>| {
        labels.sort_unstable();
        let mut tally = Tally::default();
        for label in labels {
            tally.add(label);
        }
        tally
    };
    let images = tally(
        reports
            .iter()
            .flat_map(|r| r.images.iter().map(|i| i.verdict.label()))
            .collect(),
    );
    let secrets = tally(
        reports
            .iter()
            .flat_map(|r| r.secrets.iter().map(|s| s.status.label()))
            .collect(),
    );
    let mut line = format!(
        "{}: {}",
        counted(reports.len(), "objects"),
        counted(images.total(), "images")
    );
    if images.total() > 0 {
        line.push_str(&format!(" ({})", images.breakdown()));
    }
    if secrets.total() > 0 {
        line.push_str(&format!(
            ", {} ({})",
            counted(secrets.total(), "ServiceAccount secrets"),
            secrets.breakdown()
        ));
    }
    printer.status(line);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reports() -> Vec<ObjectReport> {
        let image = |image: &str, verdict: Verdict, detail: &str, fix: Option<&str>| ImageReport {
            image: image.into(),
            volume: None,
            verdict,
            detail: detail.into(),
            fix: fix.map(|command| Fix {
                command: Some(command.into()),
                advice: None,
            }),
            probe: None,
            running: Vec::new(),
        };
        let web = ObjectReport {
            namespace: "team-a".into(),
            object: "deployment.apps/web".into(),
            command_target: "deployment/web".into(),
            recreate: None,
            service_account: Some("default".into()),
            pull_secrets: vec!["regcred".into()],
            pull_secrets_from: PullSecretSource::ServiceAccount,
            rancher_managed: BTreeMap::new(),
            images: vec![
                image(
                    "quay.io/team/web:1",
                    Verdict::Ok {
                        secret: "regcred".into(),
                        key: "quay.io".into(),
                    },
                    "regcred (quay.io)",
                    None,
                ),
                image(
                    "ghcr.io/team/sidecar:2",
                    Verdict::NotAttached {
                        secrets: vec!["ghcr".into()],
                    },
                    "ghcr would match but nothing references it",
                    Some("kubectl regcred attach ghcr deployment/web -n team-a"),
                ),
            ],
            secrets: Vec::new(),
            events: vec![EventLine {
                reason: "Failed".into(),
                pod: "web-5d8c-x2".into(),
                message: "Failed to pull image \"ghcr.io/team/sidecar:2\"".into(),
                last_seen: None,
            }],
        };
        let account = ObjectReport {
            namespace: "team-b".into(),
            object: "serviceaccount/builder".into(),
            command_target: "serviceaccount/builder".into(),
            recreate: None,
            service_account: None,
            pull_secrets: vec!["gone".into()],
            pull_secrets_from: PullSecretSource::ServiceAccount,
            rancher_managed: BTreeMap::new(),
            images: Vec::new(),
            secrets: vec![SecretReport {
                secret: "gone".into(),
                status: SecretStatus::SecretMissing,
                detail: "not found in namespace team-b".into(),
                fix: None,
            }],
            events: Vec::new(),
        };
        let mut web = web;
        let mut models = image(
            "ghcr.io/team/models:v2",
            Verdict::NotAttached {
                secrets: vec!["ghcr".into()],
            },
            "ghcr would match but nothing references it",
            None,
        );
        models.volume = Some("models".into());
        web.images.push(models);
        vec![web, account]
    }

    #[test]
    fn check_text_and_wide_table() {
        let mut text = Vec::new();
        for report in &reports() {
            print_text(&mut text, report).unwrap();
        }
        insta::assert_snapshot!("check_text", String::from_utf8(text).unwrap());
        let headers = ["NAMESPACE", "OBJECT", "IMAGE", "VERDICT", "DETAIL"];
        let mut wide = Vec::new();
        output::print_table(&mut wide, &headers, &wide_rows(&reports())).unwrap();
        insta::assert_snapshot!("check_wide", String::from_utf8(wide).unwrap());
        let document = serde_json::json!({ "items": reports() });
        for (format, name) in [(OutputFormat::Json, "check_json"), (OutputFormat::Yaml, "check_yaml")] {
            let mut out = Vec::new();
            output::print_objects(&mut out, format, vec![document.clone()]).unwrap();
            insta::assert_snapshot!(name, String::from_utf8(out).unwrap());
        }
    }
}
