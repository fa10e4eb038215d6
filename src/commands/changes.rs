//! What `attach`, `detach` and `create --attach` print of the reference pipeline
//! (`crate::references`): the lines or objects, the notices and a summary.

use anyhow::Context;

use crate::error::ExitStatus;
use crate::output::{self, ResultRow, Written};
use crate::printer::Printer;
use crate::references::{Change, Outcome, Plan, apply};
use crate::rules::kinds::Target;
use crate::rules::scope::Scope;
use crate::settings::{Connection, WriteSettings};

/// What `attach` and `detach` ask for, before the namespaces are known.
pub(crate) struct ChangeRequest<'a> {
    pub(crate) change: Change,
    pub(crate) targets: &'a [Target],
    pub(crate) labels: Option<&'a str>,
    pub(crate) scope: &'a Scope,
    pub(crate) write: &'a WriteSettings,
}

/// Connects, applies the request in every namespace of its scope, and reports.
pub(crate) async fn run_request(
    request: ChangeRequest<'_>,
    connection: &Connection,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    let (cluster, namespaces) = super::connect_in(connection, request.scope, printer).await?;
    let write = request.write.options();
    let plan = Plan {
        change: request.change,
        targets: request.targets,
        labels: request.labels,
        namespaces: &namespaces,
        missing_is_error: request.scope.names_namespaces(),
        write: &write,
    };
    let outcome = apply(&cluster, &plan).await;
    print_changes(outcome, request.write, namespaces.len() > 1, printer)
}

/// Prints the lines (or objects), notices and a summary; exit 1 if anything failed.
pub(crate) fn print_changes(
    outcome: Outcome,
    write: &WriteSettings,
    several_namespaces: bool,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    let rows = outcome
        .results
        .into_iter()
        .map(|result| ResultRow {
            subject: result.reference.clone(),
            namespace: result.namespace,
            reference: result.reference,
            outcome: result.outcome.map(|applied| Written {
                tally: applied.done.to_string(),
                verb: applied.to_string(),
                object: applied.object,
            }),
        })
        .collect();
    let tally = output::print_results(
        rows,
        (write.mode, write.output.clone()),
        several_namespaces,
        printer,
    )
    .context("printing the objects")?;
    for notice in &outcome.notices {
        printer.notice(notice);
    }
    if tally.total() == 0 {
        printer.status("no matching objects found");
    }
    output::emit_summary(printer, "objects", &tally, tally.total() > 1, write.mode);
    Ok(tally.exit_status())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::printer::Notice;
    use crate::references::{Applied, Done, ObjectError, ObjectResult};
    use crate::settings::WriteMode;
    use serde_json::Value;

    fn write_settings(output: Option<crate::settings::OutputFormat>) -> WriteSettings {
        WriteSettings {
            mode: WriteMode::Persist,
            output,
            concurrency: 1,
            field_manager: "test".into(),
        }
    }

    fn outcome() -> Outcome {
        Outcome {
            results: vec![
                ObjectResult {
                    namespace: "team-a".into(),
                    reference: "deployment.apps/web".into(),
                    outcome: Ok(Applied {
                        done: Done::Attached,
                        auto_names: vec!["quay".into(), "ghcr".into()],
                        object: Some(serde_json::json!({"kind": "Deployment"})),
                    }),
                },
                ObjectResult {
                    namespace: "team-b".into(),
                    reference: "deployment.apps/web".into(),
                    outcome: Err(ObjectError::NotFound {
                        reference: "deployment.apps/web".into(),
                        namespace: "team-b".into(),
                    }),
                },
            ],
            notices: vec![Notice::Note("rerun with --restart".into())],
        }
    }

    /// The report, printed without the binary: lines on stdout, errors, notes and the
    /// summary on stderr, exit 1 because one object failed.
    #[test]
    fn report_prints_lines_errors_notes_and_a_summary() {
        let printer = Printer::capture(false);
        let status = print_changes(outcome(), &write_settings(None), true, &printer).unwrap();
        assert_eq!(status, ExitStatus::Failure);
        let captured = printer.captured();
        assert_eq!(
            captured.stdout,
            "deployment.apps/web attached quay,ghcr in namespace team-a\n"
        );
        assert_eq!(
            captured.stderr,
            "error: deployment.apps/web: deployment.apps/web not found in namespace team-b\n\
             note: rerun with --restart\n\
             2 objects: 1 attached, 1 failed\n"
        );
    }

    #[test]
    fn quiet_report_keeps_results_and_errors() {
        let printer = Printer::capture(true);
        let json = Some(crate::settings::OutputFormat::Json);
        print_changes(outcome(), &write_settings(json), true, &printer).unwrap();
        let captured = printer.captured();
        assert_eq!(
            serde_json::from_str::<Value>(&captured.stdout).unwrap(),
            serde_json::json!({"kind": "Deployment"})
        );
        assert!(
            captured.stderr.starts_with("error: "),
            "{}",
            captured.stderr
        );
        assert_eq!(captured.stderr.lines().count(), 1, "{}", captured.stderr);
    }
}
