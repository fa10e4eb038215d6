//! What a run reports besides its lines: the tally of outcomes behind a summary line, and in
//! a run across several contexts what their printers gathered to print once for all of them
//! (docs/contexts.md): tables under a CONTEXT column, documents whose items carry a
//! `context` field, and tallies that add up to the total.

use crate::rules::jsonpath::{Columns, Template};
use crate::rules::text::counted;
use std::sync::Arc;
use serde_json::Value;

/// `-o json|yaml|name|jsonpath=...|custom-columns=...`: how a command prints the objects it
/// wrote or read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum OutputFormat {
    Json,
    Yaml,
    Name,
    JsonPath(Arc<Template>),
    CustomColumns(Arc<Columns>),
}

/// Counts of outcomes by verb (`created`, `attached`, ...) plus failures, for the summary line
/// a multi-object command prints on stderr.
#[derive(Debug, Default, Clone)]
pub(crate) struct Tally {
    counts: Vec<(String, usize)>,
    failed: usize,
}

impl Tally {
    pub(crate) fn add(&mut self, verb: &str) {
        self.add_many(verb, 1);
    }

    fn add_many(&mut self, verb: &str, n: usize) {
        match self.counts.iter_mut().find(|(v, _)| v == verb) {
            Some((_, total)) => *total += n,
            None => self.counts.push((verb.to_string(), n)),
        }
    }

    pub(crate) fn fail(&mut self) {
        self.failed += 1;
    }

    pub(crate) fn merge(&mut self, other: &Tally) {
        for (verb, n) in &other.counts {
            self.add_many(verb, *n);
        }
        self.failed += other.failed;
    }

    pub(crate) fn failed(&self) -> bool {
        self.failed > 0
    }

    /// Exit 1 when anything failed.
    pub(crate) fn exit_status(&self) -> crate::error::ExitStatus {
        if self.failed() {
            crate::error::ExitStatus::Failure
        } else {
            crate::error::ExitStatus::Success
        }
    }

    pub(crate) fn total(&self) -> usize {
        self.counts.iter().map(|(_, n)| n).sum::<usize>() + self.failed
    }

    /// `2 created, 1 failed`.
    pub(crate) fn breakdown(&self) -> String {
        let mut parts: Vec<String> = self
            .counts
            .iter()
            .map(|(verb, n)| format!("{n} {verb}"))
            .collect();
        if self.failed > 0 {
            parts.push(format!("{} failed", self.failed));
        }
        parts.join(", ")
    }

    /// `3 namespaces: 2 created, 1 failed`.
    pub(crate) fn summary(&self, noun: &str) -> String {
        format!("{}: {}", counted(self.total(), noun), self.breakdown())
    }
}

/// What the contexts of a run across several printed to stdout as tables and documents, and
/// their tallies, kept to print once at the end.
#[derive(Debug, Default)]
pub(crate) struct Gathered {
    /// Rows by header row, each row led by its context.
    tables: Vec<(Vec<String>, Vec<Vec<String>>)>,
    /// The key documents hold their items under (`items`, or `steps` for `sync`) and their
    /// format, once any context printed one (even an empty one).
    document: Option<(&'static str, OutputFormat)>,
    items: Vec<Value>,
    /// Each noun's tally, and what its summary says of a dry run (` (dry run)`).
    tallies: Vec<(String, Tally, &'static str)>,
}

impl Gathered {
    pub(crate) fn add_rows(&mut self, context: &str, headers: &[&str], rows: Vec<Vec<String>>) {
        let headers: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
        let index = match self.tables.iter().position(|(h, _)| *h == headers) {
            Some(index) => index,
            None => {
                self.tables.push((headers, Vec::new()));
                self.tables.len() - 1
            }
        };
        let table = &mut self.tables[index].1;
        for row in rows {
            let mut with_context = Vec::with_capacity(row.len() + 1);
            with_context.push(context.to_string());
            with_context.extend(row);
            table.push(with_context);
        }
    }

    /// A List's items, a report's `items` or `sync`'s `steps` join those of the other
    /// contexts; any other document is one item.
    pub(crate) fn add_document(&mut self, context: &str, format: OutputFormat, document: Value) {
        let key = ["steps", "items"]
            .into_iter()
            .find(|key| document.get(key).is_some_and(Value::is_array));
        let (key, items) = match (key, document) {
            (Some(key), Value::Object(mut map)) => match map.remove(key) {
                Some(Value::Array(items)) => (key, items),
                _ => unreachable!("checked to be an array"),
            },
            (_, document) => ("items", vec![document]),
        };
        self.document = Some((key, format));
        self.items
            .extend(items.into_iter().map(|item| with_context(context, item)));
    }

    pub(crate) fn add_tally(&mut self, noun: &str, tally: &Tally, dry_run_mark: &'static str) {
        match self.tallies.iter_mut().find(|(n, _, _)| n == noun) {
            Some((_, total, _)) => total.merge(tally),
            None => self
                .tallies
                .push((noun.to_string(), tally.clone(), dry_run_mark)),
        }
    }

    /// `600 namespaces: 600 created` for each noun the contexts counted.
    pub(crate) fn total_summaries(&self) -> Vec<String> {
        self.tallies
            .iter()
            .filter(|(_, tally, _)| tally.total() > 0)
            .map(|(noun, tally, mark)| format!("{}{mark}", tally.summary(noun)))
            .collect()
    }

    /// The gathered tables, each led by a CONTEXT column, rows in `contexts` order.
    pub(crate) fn tables(&mut self, contexts: &[String]) -> Vec<(Vec<String>, Vec<Vec<String>>)> {
        let position = |context: &str| contexts.iter().position(|c| c == context);
        std::mem::take(&mut self.tables)
            .into_iter()
            .map(|(headers, mut rows)| {
                rows.sort_by_key(|row| position(&row[0]));
                let mut all_headers = vec!["CONTEXT".to_string()];
                all_headers.extend(headers);
                (all_headers, rows)
            })
            .collect()
    }

    /// The gathered items in `contexts` order, with the key they came under (`items`, or
    /// `steps`) and their format; `None` if no context printed a document (an empty one counts).
    pub(crate) fn items(
        &mut self,
        contexts: &[String],
    ) -> Option<(&'static str, OutputFormat, Vec<Value>)> {
        let position = |context: &str| contexts.iter().position(|c| c == context);
        let (key, format) = self.document.clone()?;
        let mut items = std::mem::take(&mut self.items);
        items.sort_by_key(|item| position(item["context"].as_str().unwrap_or("")));
        Some((key, format, items))
    }
}

/// The item with `context` as its first field.
fn with_context(context: &str, item: Value) -> Value {
    let mut map = serde_json::Map::new();
    map.insert("context".into(), Value::String(context.into()));
    match item {
        Value::Object(fields) => map.extend(fields.into_iter().filter(|(k, _)| k != "context")),
        other => {
            map.insert("value".into(), other);
        }
    }
    Value::Object(map)
}
