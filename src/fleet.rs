//! One command in several kubeconfig contexts at once (docs/contexts.md): the contexts run
//! concurrently up to `--context-concurrency`, one context's failure never stops the others,
//! writes are confirmed first, and the output is one report: lines prefixed with the context,
//! one table with a CONTEXT column, one `List`, and per-context and total summaries.

use std::future::Future;
use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::Value;

use crate::cli::KubeArgs;
use crate::cluster;
use crate::error::{ExitStatus, UsageError, render};
use crate::fanout;
use crate::output;
use crate::printer::Printer;
use crate::report::Gathered;
use crate::rules::text::escape_field;
use crate::settings::Connection;

/// Where a command runs.
#[derive(Debug, Clone)]
pub(crate) enum Targets {
    /// The current context, or the one `--context` names: exactly as kubectl.
    One(Connection),
    /// Several selected contexts.
    Many(Fleet),
}

#[derive(Debug, Clone)]
pub(crate) struct Fleet {
    /// The connection flags every context shares (`--kubeconfig`, `--as`, ...).
    connection: Connection,
    contexts: Vec<String>,
    concurrency: usize,
    yes: bool,
}

impl Targets {
    /// The contexts the flags select, read from the kubeconfig only when a selection could
    /// name several. A selection that matches nothing is a usage error listing the contexts.
    pub(crate) fn from_args(args: &KubeArgs) -> anyhow::Result<Self> {
        let (mut connection, selection) = Connection::from_args(args)?;
        if !selection.is_multi() {
            // A named context that the kubeconfig lacks is a usage error too; with no
            // readable kubeconfig, connecting reports what is wrong.
            if let (Some(_), Ok(available)) =
                (selection.single(), cluster::context_names(&connection))
            {
                selection
                    .select(&available)
                    .map_err(|e| UsageError(e.to_string()))?;
            }
            return Ok(Self::One(connection));
        }
        let available = cluster::context_names(&connection)?;
        let mut contexts = selection
            .select(&available)
            .map_err(|e| UsageError(e.to_string()))?;
        if contexts.len() == 1 {
            connection.context = contexts.pop();
            return Ok(Self::One(connection));
        }
        Ok(Self::Many(Fleet {
            connection,
            contexts,
            concurrency: usize::from(args.context_concurrency),
            yes: args.yes,
        }))
    }

    /// The connection of a command that cannot run in several contexts.
    /// Whether several contexts are selected.
    pub(crate) fn is_several(&self) -> bool {
        matches!(self, Self::Many(_))
    }

    pub(crate) fn one(self, why: &str) -> Result<Connection, UsageError> {
        match self {
            Self::One(connection) => Ok(connection),
            Self::Many(fleet) => Err(UsageError(format!(
                "{why}; --context selects {} contexts ({})",
                fleet.contexts.len(),
                fleet.contexts.join(", ")
            ))),
        }
    }

    /// Before writing to several contexts: ask on a terminal, or require `--yes`, so that no
    /// script fans out by surprise (kubectl-foreach asks too). `action` says what will happen.
    pub(crate) fn confirm_writes(
        &self,
        action: Option<String>,
        printer: &Printer,
    ) -> anyhow::Result<()> {
        let (Self::Many(fleet), Some(action)) = (self, action) else {
            return Ok(());
        };
        if fleet.yes {
            return Ok(());
        }
        let contexts = fleet.contexts.join(", ");
        let count = fleet.contexts.len();
        if !printer.stdin_is_terminal() {
            return Err(UsageError(format!(
                "this would {action} in {count} contexts ({contexts}); without a terminal to confirm on, pass --yes. Nothing was written"
            ))
            .into());
        }
        let question = format!("This will {action} in {count} contexts: {contexts}.\nContinue?");
        if printer.confirm(&question)? {
            Ok(())
        } else {
            anyhow::bail!("not confirmed; nothing was written")
        }
    }

    /// Runs `task` in each context: once with [`Targets::One`]; with [`Targets::Many`]
    /// concurrently, each with its own printer, then prints what was gathered and the totals.
    /// Exit 1 if any context failed.
    pub(crate) async fn run<F, Fut>(&self, printer: &Printer, task: F) -> anyhow::Result<ExitStatus>
    where
        F: Fn(Connection, Printer) -> Fut,
        Fut: Future<Output = anyhow::Result<ExitStatus>>,
    {
        match self {
            Self::One(connection) => task(connection.clone(), printer.clone()).await,
            Self::Many(fleet) => fleet.run(printer, task).await,
        }
    }
}

impl Fleet {
    async fn run<F, Fut>(&self, printer: &Printer, task: F) -> anyhow::Result<ExitStatus>
    where
        F: Fn(Connection, Printer) -> Fut,
        Fut: Future<Output = anyhow::Result<ExitStatus>>,
    {
        let gathered = Arc::new(Mutex::new(Gathered::default()));
        let task = &task;
        let results = fanout::run(
            self.contexts.clone(),
            self.concurrency,
            indicatif::ProgressBar::hidden(),
            |context| {
                let connection = Connection {
                    context: Some(context.clone()),
                    ..self.connection.clone()
                };
                let printer = printer.for_context(&context, gathered.clone());
                async move {
                    let result = task(connection, printer.clone()).await;
                    if let Err(error) = &result {
                        printer.error(render(error));
                    }
                    result
                }
            },
        )
        .await;
        // "Ran and found problems" (exit 1 from the command) is not "could not run" (an
        // error before it could: the cluster unreachable, a permission missing).
        let outcomes: Vec<(String, ContextOutcome)> = results
            .iter()
            .map(|(context, result)| {
                let outcome = match result {
                    Ok(ExitStatus::Success) => ContextOutcome::Succeeded,
                    Ok(_) => ContextOutcome::ReportedProblems,
                    Err(error) => ContextOutcome::CouldNotRun(render(error)),
                };
                (context.clone(), outcome)
            })
            .collect();
        let mut gathered = gathered.lock().expect("gathered lock");
        print_gathered(&mut gathered, &self.contexts, &outcomes, printer)?;
        let named = |wanted: fn(&ContextOutcome) -> bool| -> Vec<String> {
            outcomes
                .iter()
                .filter(|(_, outcome)| wanted(outcome))
                .map(|(context, _)| escape_field(context).into_owned())
                .collect()
        };
        let problems = named(|o| matches!(o, ContextOutcome::ReportedProblems));
        let not_run = named(|o| matches!(o, ContextOutcome::CouldNotRun(_)));
        let mut summary = format!(
            "{} contexts: {} succeeded",
            self.contexts.len(),
            self.contexts.len() - problems.len() - not_run.len()
        );
        if !problems.is_empty() {
            summary.push_str(&format!(
                ", {} reported problems ({})",
                problems.len(),
                problems.join(", ")
            ));
        }
        if !not_run.is_empty() {
            summary.push_str(&format!(
                ", {} could not run ({})",
                not_run.len(),
                not_run.join(", ")
            ));
        }
        for total in gathered.total_summaries() {
            summary.push_str("; ");
            summary.push_str(&total);
        }
        printer.status(summary);
        Ok(if problems.is_empty() && not_run.is_empty() {
            ExitStatus::Success
        } else {
            ExitStatus::Failure
        })
    }
}

/// How one context's run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ContextOutcome {
    Succeeded,
    /// It ran, and what it reports has problems (exit 1): failures `check` found, a namespace
    /// a write failed in.
    ReportedProblems,
    /// It could not run; the error.
    CouldNotRun(String),
}

impl ContextOutcome {
    /// The context's entry in a document's `contexts` list.
    fn to_json(&self, context: &str) -> Value {
        match self {
            Self::Succeeded => serde_json::json!({"name": context, "outcome": "Succeeded"}),
            Self::ReportedProblems => {
                serde_json::json!({"name": context, "outcome": "ReportedProblems"})
            }
            Self::CouldNotRun(error) => {
                serde_json::json!({"name": context, "outcome": "CouldNotRun", "error": error})
            }
        }
    }
}

/// What the contexts gathered: one table with a CONTEXT column, and one document (a `List`,
/// or `sync`'s `steps`) whose items carry their context; in `contexts` order. The document
/// also says how each context's run ended (`contexts`), so a script can tell a context that
/// could not run from one whose items show problems.
fn print_gathered(
    gathered: &mut Gathered,
    contexts: &[String],
    outcomes: &[(String, ContextOutcome)],
    printer: &Printer,
) -> std::io::Result<()> {
    for (headers, rows) in gathered.tables(contexts) {
        let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
        let mut out = printer.human_out();
        output::print_table(&mut out, &headers, &rows)?;
        out.flush()?;
    }
    if let Some((key, format, items)) = gathered.items(contexts) {
        let mut document = match key {
            "steps" => serde_json::json!({ "steps": items }),
            _ => output::list(items),
        };
        let ended: Vec<Value> = contexts
            .iter()
            .filter_map(|context| {
                let (_, outcome) = outcomes.iter().find(|(c, _)| c == context)?;
                Some(outcome.to_json(context))
            })
            .collect();
        document["contexts"] = Value::Array(ended);
        let mut out = printer.out();
        output::print_document(&mut out, &format, &document)?;
        out.flush()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::output::{Tally, emit_objects, emit_summary, emit_table};
    use crate::cluster::writes::WriteMode;
    use crate::settings::OutputFormat;

    fn contexts() -> Vec<String> {
        vec!["dev".into(), "prod".into()]
    }

    #[test]
    fn tables_of_several_contexts_become_one_with_a_context_column() {
        let gathered = Arc::new(Mutex::new(Gathered::default()));
        let printer = Printer::capture(false);
        // prod finishes first; rows still print in the selection's order.
        let prod = printer.for_context("prod", gathered.clone());
        let dev = printer.for_context("dev", gathered.clone());
        emit_table(
            &prod,
            &["NAMESPACE", "NAME"],
            vec![vec!["a".into(), "x".into()]],
        )
        .unwrap();
        emit_table(
            &dev,
            &["NAMESPACE", "NAME"],
            vec![vec!["b".into(), "x".into()]],
        )
        .unwrap();
        assert_eq!(printer.captured().stdout, "");
        print_gathered(&mut gathered.lock().unwrap(), &contexts(), &[], &printer).unwrap();
        assert_eq!(
            printer.captured().stdout,
            "CONTEXT   NAMESPACE   NAME\ndev       b           x\nprod      a           x\n"
        );
    }

    #[test]
    fn documents_of_several_contexts_become_one_list_whose_items_name_their_context() {
        let gathered = Arc::new(Mutex::new(Gathered::default()));
        let printer = Printer::capture(false);
        let dev = printer.for_context("dev", gathered.clone());
        let prod = printer.for_context("prod", gathered.clone());
        let secret = |ns: &str| serde_json::json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "r", "namespace": ns}});
        emit_objects(&prod, OutputFormat::Json, vec![secret("a")]).unwrap();
        emit_objects(&dev, OutputFormat::Json, vec![secret("b"), secret("c")]).unwrap();
        emit_objects(
            &dev,
            OutputFormat::Json,
            vec![serde_json::json!({"items": [{"registry": "quay.io"}]})],
        )
        .unwrap();
        print_gathered(&mut gathered.lock().unwrap(), &contexts(), &[], &printer).unwrap();
        let list: Value = serde_json::from_str(&printer.captured().stdout).unwrap();
        assert_eq!(list["kind"], "List");
        let items = list["items"].as_array().unwrap();
        let summary: Vec<(String, String)> = items
            .iter()
            .map(|item| {
                let what = item["metadata"]["namespace"]
                    .as_str()
                    .or(item["registry"].as_str())
                    .unwrap();
                (item["context"].as_str().unwrap().into(), what.into())
            })
            .collect();
        let expected = [
            ("dev", "b"),
            ("dev", "c"),
            ("dev", "quay.io"),
            ("prod", "a"),
        ];
        assert_eq!(
            summary,
            expected.map(|(c, w)| (c.to_string(), w.to_string()))
        );
        // `context` comes first, the object follows unchanged.
        assert_eq!(
            items[0].as_object().unwrap().keys().next().unwrap(),
            "context"
        );
        assert_eq!(items[0]["kind"], "Secret");
    }

    #[test]
    fn sync_steps_stay_steps_and_tallies_add_up() {
        let gathered = Arc::new(Mutex::new(Gathered::default()));
        let printer = Printer::capture(false);
        for context in contexts() {
            let scoped = printer.for_context(&context, gathered.clone());
            emit_objects(
                &scoped,
                OutputFormat::Yaml,
                vec![serde_json::json!({"steps": [{"namespace": "a", "action": "create"}]})],
            )
            .unwrap();
            let mut tally = Tally::default();
            tally.add("created");
            if context == "prod" {
                tally.fail();
            }
            emit_summary(&scoped, "namespaces", &tally, true, WriteMode::Persist);
        }
        let mut gathered = gathered.lock().unwrap();
        assert_eq!(
            gathered.total_summaries(),
            ["3 namespaces: 2 created, 1 failed"]
        );
        print_gathered(&mut gathered, &contexts(), &[], &printer).unwrap();
        let captured = printer.captured();
        assert!(
            captured.stdout.starts_with("steps:\n- context: dev\n"),
            "{}",
            captured.stdout
        );
        assert_eq!(
            captured.stderr,
            "dev: 1 namespace: 1 created\nprod: 2 namespaces: 1 created, 1 failed\n"
        );
    }
}
