//! `controller manifests` prints what runs `sync --watch` in the cluster; `controller status`
//! reads its Lease and the status record the leader keeps on it.

use std::io::Write;

use anyhow::{Context, bail};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::jiff::Timestamp;
use kube::api::Api;

use crate::controller::manifests;
use crate::controller::state::{STATUS_ANNOTATION, StatusRecord};
use crate::error::ExitStatus;
use crate::output::{self, human_age};
use crate::printer::Printer;
use crate::settings::{Connection, ManifestsOptions, OutputFormat};

pub(crate) fn manifests(
    settings: &ManifestsOptions,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    let mut out = printer.out();
    out.write_all(manifests::render(settings).as_bytes())?;
    out.flush()?;
    Ok(ExitStatus::Success)
}

pub(crate) async fn status(
    namespace: &str,
    lease_name: &str,
    format: Option<OutputFormat>,
    connection: Connection,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    let cluster = super::connect(&connection, printer).await?;
    let (spec, record) = read_lease(&cluster, namespace, lease_name).await?;
    let now = Timestamp::now();
    let leader = Leader {
        holder: spec.holder_identity.clone().filter(|h| !h.is_empty()),
        renewed_ago: spec
            .renew_time
            .as_ref()
            .map(|t| now.duration_since(t.0).as_secs()),
        duration: i64::from(spec.lease_duration_seconds.unwrap_or(15)),
    };
    let live = leader.is_live();
    let healthy = live && record.credentials.values().all(|c| c.result == "ok");
    if let Some(format) = format {
        let document = serde_json::json!({
            "lease": format!("{namespace}/{lease_name}"),
            "leader": leader.holder,
            "renewTime": spec.renew_time.as_ref().map(|t| t.0.to_string()),
            "leaseDurationSeconds": leader.duration,
            "live": live,
            "status": record,
        });
        output::emit_objects(printer, format, vec![document])?;
    } else {
        let mut out = printer.human_out();
        writeln!(out, "Lease:   {namespace}/{lease_name}")?;
        writeln!(out, "Leader:  {}", leader.describe())?;
        writeln!(
            out,
            "Writes:  {}   Errors: {}",
            record.writes, record.errors
        )?;
        if !record.credentials.is_empty() {
            writeln!(out)?;
            print_credentials(&mut out, &record, now)?;
        }
        if !record.healed.is_empty() {
            writeln!(out, "\nHealed Pods (--heal; newest last):")?;
            let rows: Vec<Vec<String>> = record
                .healed
                .iter()
                .map(|h| {
                    vec![h.pod.clone(), h.owner.clone(), h.image.clone(), h.secret.clone(), h.at.clone()]
                })
                .collect();
            output::print_table(&mut out, &["POD", "OWNER", "IMAGE", "SECRET", "AT"], &rows)?;
        }
        out.flush()?;
    }
    Ok(if healthy {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    })
}

/// The Lease and the status record its holder keeps on it.
async fn read_lease(
    cluster: &crate::cluster::Cluster,
    namespace: &str,
    lease_name: &str,
) -> anyhow::Result<(k8s_openapi::api::coordination::v1::LeaseSpec, StatusRecord)> {
    let api: Api<Lease> = Api::namespaced(cluster.client.clone(), namespace);
    let lease = api.get_opt(lease_name).await.map_err(|e| {
        anyhow::anyhow!(
            "reading lease {namespace}/{lease_name}: {}",
            cluster.api_error(&e)
        )
    })?;
    let Some(lease) = lease else {
        bail!(
            "lease {namespace}/{lease_name} not found: no controller runs there with --leader-elect. \
             A `sync --watch --leader-elect` in a terminal keeps its Lease in its --lease-namespace \
             (by default the context's namespace): pass that namespace with -n. To install the \
             controller here, see docs/controller.md (controller manifests --image YOUR-IMAGE -n {namespace})"
        );
    };
    let record = match lease
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(STATUS_ANNOTATION))
    {
        Some(text) => serde_json::from_str(text).with_context(|| {
            format!("lease {namespace}/{lease_name}: its status record is not valid")
        })?,
        None => StatusRecord::default(),
    };
    Ok((lease.spec.unwrap_or_default(), record))
}

/// Who holds the Lease, and whether it still renews it.
struct Leader {
    holder: Option<String>,
    renewed_ago: Option<i64>,
    duration: i64,
}

impl Leader {
    fn is_live(&self) -> bool {
        self.holder.is_some() && self.renewed_ago.is_some_and(|ago| ago <= self.duration)
    }

    fn describe(&self) -> String {
        match (&self.holder, self.renewed_ago) {
            (Some(holder), Some(ago)) if self.is_live() => {
                format!("{holder} (renewed {} ago)", human_age(ago))
            }
            (Some(holder), Some(ago)) => format!(
                "none: {holder} has not renewed for {} (lease {}s)",
                human_age(ago),
                self.duration
            ),
            _ => "none (the Lease is released)".to_string(),
        }
    }
}

/// One row per credential the leader keeps.
fn print_credentials(
    out: &mut impl Write,
    record: &StatusRecord,
    now: Timestamp,
) -> std::io::Result<()> {
    let rows: Vec<Vec<String>> = record
        .credentials
        .iter()
        .map(|(name, c)| {
            let ago = |at: &str| {
                at.parse::<Timestamp>()
                    .map(|t| format!("{} ago", human_age(now.duration_since(t).as_secs())))
                    .unwrap_or_else(|_| "-".into())
            };
            let mut result = c.result.clone();
            if let Some(error) = &c.refresh_error {
                result.push_str(&format!("; refresh failed: {error}"));
            }
            vec![
                name.clone(),
                c.copies.to_string(),
                ago(&c.last_reconcile),
                c.expires_at.clone().unwrap_or_else(|| "-".into()),
                result,
            ]
        })
        .collect();
    output::print_table(
        out,
        &["CREDENTIAL", "COPIES", "RECONCILED", "EXPIRES", "RESULT"],
        &rows,
    )
}
