//! `sync`: read each managed credential again from the sources it was created from, then
//! reconcile it across its recorded (or newly given) scope.

use std::collections::BTreeMap;

use anyhow::bail;

use super::explicit_login;
use crate::rules::text::first_few;
use crate::credentials::ExplicitLogin;
use crate::desired::{self, LocalAnswers, Unclaimed};
use crate::error::ExitStatus;
use crate::notices::Notices;
use crate::output::{self, ResultRow, Written};
use crate::printer::Printer;
use crate::reconcile::{self, StepResult};
use crate::rules::sync::Step;
use crate::settings::{Connection, OutputFormat, SyncSettings, WatchOptions};

/// The password, if given again: read once, before any request, for every context.
pub(crate) fn login_given_again(
    settings: &SyncSettings,
    printer: &Printer,
) -> anyhow::Result<Option<ExplicitLogin>> {
    match &settings.explicit {
        Some(explicit) => Ok(Some(explicit_login(
            explicit,
            &settings.desired.servers,
            printer,
        )?)),
        None => Ok(None),
    }
}

/// `sync --watch`: runs until stopped, in one context.
pub(crate) async fn watch(
    settings: SyncSettings,
    watch: WatchOptions,
    explicit: Option<ExplicitLogin>,
    connection: Connection,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    let connection = Connection {
        long_running: true,
        ..connection
    };
    let cluster = super::connect(&connection, printer).await?;
    let options = crate::controller::Options {
        write: settings.write.options(),
        name: settings.name,
        desired: settings.desired,
        plan: settings.plan,
        watch,
    };
    crate::controller::run(options, explicit, cluster).await
}

/// One reconcile of every credential in scope, in the context `connection` names.
pub(crate) async fn run(
    settings: &SyncSettings,
    local: LocalAnswers<'_>,
    connection: Connection,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    let cluster = super::connect(&connection, printer).await?;
    let notices = Notices::default();
    let found = match &settings.name {
        Some(name) => desired::find_named(&cluster, &settings.desired, name, &notices)
            .await
            .map(|found| (vec![found], None)),
        None => desired::find_defined(&cluster, &settings.desired, &notices)
            .await
            .map(|(found, unclaimed)| (found, Some(unclaimed))),
    };
    printer.notices(&notices);
    let (credentials, unclaimed) = found?;
    if let Some(unclaimed) = unclaimed {
        report_unclaimed(settings, &unclaimed, credentials.is_empty(), printer)?;
    }
    let write = settings.write.options();
    let options = reconcile::Options {
        plan: settings.plan,
        check: settings.check,
        write: &write,
    };
    let mut results: Vec<(String, StepResult)> = Vec::new();
    let mut failed = false;
    for found in &credentials {
        let (name, subject) = (&found.name, found.subject());
        let desired = desired::desired(&cluster, &settings.desired, local, found, &notices).await;
        printer.notices(&notices);
        let desired = match desired {
            Ok(desired) => desired,
            Err(error) => {
                printer.error(format!("{subject}: {error:#}"));
                failed = true;
                continue;
            }
        };
        let in_scope = match reconcile::namespaces_in(&cluster, &desired.scope).await {
            Ok(in_scope) => in_scope,
            Err(error) => {
                printer.error(format!("{subject}: {error}"));
                failed = true;
                continue;
            }
        };
        match reconcile::reconcile(&cluster, &desired, &found.copies, &in_scope, &options).await {
            Ok(steps) => results.extend(steps.into_iter().map(|step| (name.clone(), step))),
            Err(error) => {
                printer.error(format!("{subject}: {error}"));
                failed = true;
            }
        }
    }
    let status = print_plan_or_results(settings, results, printer)?;
    Ok(if failed { ExitStatus::Failure } else { status })
}

/// `sync` without a NAME follows definitions only: the Secrets with our label that no
/// definition claims are said, never followed (docs/sync.md, "Trust").
fn report_unclaimed(
    settings: &SyncSettings,
    unclaimed: &Unclaimed,
    nothing_defined: bool,
    printer: &Printer,
) -> anyhow::Result<()> {
    let definitions_namespace = &settings.desired.definitions_namespace;
    // One line per name and reason, however many namespaces hold such a Secret.
    let mut grouped: BTreeMap<(&str, String), Vec<&str>> = BTreeMap::new();
    for (namespace, name, why) in &unclaimed.unmanaged {
        grouped
            .entry((name.as_str(), why.to_string()))
            .or_default()
            .push(namespace.as_str());
    }
    for ((name, why), namespaces) in grouped {
        let place = match namespaces.as_slice() {
            [one] => format!("namespace {one}"),
            many => format!("namespaces {}", first_few(many, 5)),
        };
        printer.warning(format!("secret/{name} in {place} is not synced: {why}"));
    }
    // No example command: a standalone Secret's record is its writer's, and whoever made it
    // syncs it (docs/sync.md, "Trust").
    if !unclaimed.standalone.is_empty() {
        printer.note(format!(
            "{} standalone Secret(s), made for one namespace each, are synced only by name, by \
             whoever made them: kubectl regcred sync NAME -n NAMESPACE",
            unclaimed.standalone.len()
        ));
    }
    if nothing_defined {
        if unclaimed.standalone.is_empty() && unclaimed.unmanaged.is_empty() {
            bail!(
                "kubectl-regcred manages no Secrets in this cluster; create one first (kubectl regcred create NAME)"
            );
        }
        bail!(
            "no credential is defined in namespace {definitions_namespace}, so there is nothing \
             to sync without a NAME; sync one by name, or adopt copies made before definitions \
             by naming their scope (kubectl regcred sync NAME --namespaces A,B)"
        );
    }
    Ok(())
}

/// Prints the plan (`--check`, `-o`) or the results, and decides the exit status.
fn print_plan_or_results(
    settings: &SyncSettings,
    results: Vec<(String, StepResult)>,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    if let Some(format) = settings.write.output.clone() {
        return print_plan(format, &results, settings.check, printer);
    }
    if settings.check {
        let rows: Vec<Vec<String>> = results
            .iter()
            .map(|(name, r)| {
                vec![
                    r.namespace.clone(),
                    name.clone(),
                    r.step.word().to_string(),
                    detail(&r.step),
                ]
            })
            .collect();
        output::emit_table(printer, &["NAMESPACE", "SECRET", "ACTION", "DETAIL"], rows)?;
        let drift = results.iter().filter(|(_, r)| r.step.is_drift()).count();
        printer.status(match drift {
            0 => "in sync".to_string(),
            n => format!("{n} change(s) needed"),
        });
        return Ok(if drift == 0 {
            ExitStatus::Success
        } else {
            ExitStatus::Failure
        });
    }
    let several = results.len() > 1;
    let mut rows = Vec::new();
    for (name, result) in results {
        let reference = if result.namespace == settings.desired.definitions_namespace {
            format!("definition secret/{name}")
        } else {
            format!("secret/{name}")
        };
        let subject = format!("namespace {}: {reference}", result.namespace);
        let outcome = match (&result.step, result.outcome) {
            (_, Err(error)) => Err(error.to_string()),
            (Step::LeftScope | Step::Skip { .. }, Ok(_)) => {
                printer.note(format!("{subject}: {}", detail(&result.step)));
                continue;
            }
            (Step::PruneBlocked { .. } | Step::Conflict { .. }, Ok(_)) => Err(detail(&result.step)),
            (_, Ok(verb)) => Ok(Written {
                tally: verb.unwrap_or("unchanged").to_string(),
                verb: verb.unwrap_or("unchanged").to_string(),
                object: None,
            }),
        };
        rows.push(ResultRow {
            namespace: result.namespace,
            reference,
            subject,
            outcome,
        });
    }
    super::print_rows(rows, &settings.write, "secrets", several, printer)
}

/// What a step means, for the DETAIL column and messages.
fn detail(step: &Step) -> String {
    match step {
        Step::LeftScope => {
            "the namespace left the scope; the copy stays (--prune deletes it)".into()
        }
        Step::PruneBlocked { users } => format!(
            "left the scope but is still used by {}; not pruned (--detach removes those references first)",
            users.join(", ")
        ),
        Step::Skip { reason } | Step::Conflict { reason } => reason.clone(),
        _ => String::new(),
    }
}

/// `-o json|yaml`: the plan as data, with each step's result unless `--check`.
fn print_plan(
    format: OutputFormat,
    results: &[(String, StepResult)],
    check: bool,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    if format == OutputFormat::Name {
        let mut out = printer.human_out();
        for (name, _) in results {
            writeln!(out, "secret/{name}")?;
        }
        out.flush()?;
        return Ok(ExitStatus::Success);
    }
    let items: Vec<serde_json::Value> = results
        .iter()
        .map(|(name, result)| {
            let mut item = serde_json::json!({"namespace": result.namespace, "secret": name});
            let step = serde_json::to_value(&result.step).expect("steps serialize");
            item.as_object_mut()
                .expect("object")
                .extend(step.as_object().cloned().unwrap_or_default());
            if !check {
                item["result"] = match &result.outcome {
                    Ok(Some(verb)) => serde_json::json!(verb),
                    Ok(None) => serde_json::Value::Null,
                    Err(error) => serde_json::json!(format!("error: {error}")),
                };
            }
            item
        })
        .collect();
    output::emit_objects(printer, format, vec![serde_json::json!({ "steps": items })])?;
    let failed = results.iter().any(|(_, r)| {
        r.outcome.is_err() || matches!(r.step, Step::PruneBlocked { .. } | Step::Conflict { .. })
    });
    let drift = check && results.iter().any(|(_, r)| r.step.is_drift());
    Ok(if failed || drift {
        ExitStatus::Failure
    } else {
        ExitStatus::Success
    })
}
