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
    let api: Api<Lease> = Api::namespaced(cluster.client.clone(), namespace);
    let lease = api.get_opt(lease_name).await.map_err(|e| {
        anyhow::anyhow!(
            "reading lease {namespace}/{lease_name}: {}",
            cluster.api_error(&e)
        )
    })?;
    let Some(lease) = lease else {
        bail!(
            "lease {namespace}/{lease_name} not found: no controller runs there with --leader-elect \
             (install it with `kubectl regcred controller manifests -n {namespace} | kubectl apply -f -`)"
        );
    };
    let spec = lease.spec.clone().unwrap_or_default();
    let record: StatusRecord = match lease
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
    let now = Timestamp::now();
    let holder = spec.holder_identity.clone().filter(|h| !h.is_empty());
    let renewed_ago = spec
        .renew_time
        .as_ref()
        .map(|t| now.duration_since(t.0).as_secs());
    let duration = i64::from(spec.lease_duration_seconds.unwrap_or(15));
    let live = holder.is_some() && renewed_ago.is_some_and(|ago| ago <= duration);
    let healthy = live && record.credentials.values().all(|c| c.result == "ok");
    if let Some(format) = format {
        let document = serde_json::json!({
            "lease": format!("{namespace}/{lease_name}"),
            "leader": holder,
            "renewTime": spec.renew_time.as_ref().map(|t| t.0.to_string()),
            "leaseDurationSeconds": duration,
            "live": live,
            "status": record,
        });
        output::emit_objects(printer, format, vec![document])?;
    } else {
        let mut out = printer.human_out();
        writeln!(out, "Lease:   {namespace}/{lease_name}")?;
        let leader = match (&holder, renewed_ago) {
            (Some(holder), Some(ago)) if live => {
                format!("{holder} (renewed {} ago)", human_age(ago))
            }
            (Some(holder), Some(ago)) => format!(
                "none: {holder} has not renewed for {} (lease {duration}s)",
                human_age(ago)
            ),
            _ => "none (the Lease is released)".to_string(),
        };
        writeln!(out, "Leader:  {leader}")?;
        writeln!(
            out,
            "Writes:  {}   Errors: {}",
            record.writes, record.errors
        )?;
        if !record.credentials.is_empty() {
            writeln!(out)?;
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
                &mut out,
                &["CREDENTIAL", "COPIES", "RECONCILED", "EXPIRES", "RESULT"],
                &rows,
            )?;
        }
        out.flush()?;
    }
    Ok(if healthy {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    })
}
