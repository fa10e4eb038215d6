//! Shell completion through kubectl's plugin-completion protocol (kubectl 1.26+): kubectl runs
//! `kubectl_complete-regcred ARGS... WORD`, our shim runs `kubectl-regcred __complete ...`, and
//! we print one candidate per line plus a final `:<directive>` line (Cobra's directives).
//! Subcommands, flags and fixed values come from the clap definitions; namespaces, Secret
//! names and object names come from the current context when the cluster answers quickly,
//! and are silently left out otherwise.

use std::time::Duration;

use clap::CommandFactory;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{Api, DynamicObject, ListParams};

use crate::cli::Cli;
use crate::cluster::{self, fetch};
use crate::rules::contexts::ContextSelection;
use crate::rules::kinds::{ALL_KINDS, Kind};
use crate::rules::pullsecret::is_listed_type;
use crate::settings::Connection;

/// Cobra's `ShellCompDirectiveNoSpace`.
const NO_SPACE: u32 = 2;
/// Cobra's `ShellCompDirectiveNoFileComp`.
const NO_FILE_COMP: u32 = 4;
/// How long a dynamic lookup may take before it is left out.
const CLUSTER_TIMEOUT: Duration = Duration::from_secs(2);

/// Candidates and the directive for the last word of `words`.
pub(crate) struct Completion {
    pub(crate) candidates: Vec<String>,
    pub(crate) directive: u32,
}

impl Completion {
    fn of(candidates: Vec<String>, prefix: &str, directive: u32) -> Self {
        Self {
            candidates: candidates
                .into_iter()
                .filter(|c| c.starts_with(prefix))
                .collect(),
            directive,
        }
    }

    /// A comma list (`--namespaces`, `--context`): the part after the last comma completes,
    /// keeping a leading `^` (a `--context` exclusion).
    fn of_list(names: Vec<String>, current: &str) -> Self {
        let (done, part) = match current.rsplit_once(',') {
            Some((done, part)) => (format!("{done},"), part),
            None => (String::new(), current),
        };
        let (exclusion, part) = match part.strip_prefix('^') {
            Some(part) => ("^", part),
            None => ("", part),
        };
        let candidates = names
            .into_iter()
            .filter(|name| name.starts_with(part))
            .map(|name| format!("{done}{exclusion}{name}"))
            .collect();
        Self::of(candidates, current, NO_FILE_COMP)
    }

    pub(crate) fn render(&self) -> String {
        let mut out: String = self.candidates.iter().map(|c| format!("{c}\n")).collect();
        out.push_str(&format!(":{}\n", self.directive));
        out
    }
}

/// What the words before the cursor say.
struct Context {
    subcommand: Option<String>,
    /// The flag whose value is being completed (`--namespace`), if any.
    pending_flag: Option<String>,
    positionals: Vec<String>,
    connection: Connection,
    namespace: Option<String>,
}

fn read_context(words: &[String]) -> Context {
    let mut command = Cli::command();
    command.build();
    let mut context = Context {
        subcommand: None,
        pending_flag: None,
        positionals: Vec::new(),
        connection: Connection::default(),
        namespace: None,
    };
    let mut i = 0;
    while i < words.len() {
        let word = &words[i];
        if let Some(flag) = word.strip_prefix('-').filter(|w| !w.is_empty()) {
            let (name, inline) = match flag.split_once('=') {
                Some((name, value)) => (
                    name.trim_start_matches('-').to_string(),
                    Some(value.to_string()),
                ),
                None => (flag.trim_start_matches('-').to_string(), None),
            };
            let takes_value = flag_takes_value(&command, context.subcommand.as_deref(), &name);
            let value = match (takes_value, inline) {
                (false, _) => None,
                (true, Some(value)) => Some(value),
                (true, None) if i + 1 < words.len() => {
                    i += 1;
                    Some(words[i].clone())
                }
                (true, None) => {
                    context.pending_flag = Some(name.clone());
                    None
                }
            };
            if let Some(value) = value {
                match name.as_str() {
                    "n" | "namespace" => context.namespace = Some(value),
                    "kubeconfig" => context.connection.kubeconfig = Some(value.into()),
                    // Names from one plain context only, not from a list or a regex.
                    "context" => {
                        context.connection.context = ContextSelection::parse(&[value], false)
                            .ok()
                            .and_then(|s| s.single().map(str::to_string))
                    }
                    "cluster" => context.connection.cluster = Some(value),
                    "user" => context.connection.user = Some(value),
                    _ => {}
                }
            }
        } else if context.subcommand.is_none() {
            context.subcommand = Some(word.clone());
        } else {
            context.positionals.push(word.clone());
        }
        i += 1;
    }
    context.connection.request_timeout = Some(CLUSTER_TIMEOUT);
    context
}

fn subcommand<'a>(command: &'a clap::Command, name: Option<&str>) -> &'a clap::Command {
    name.and_then(|n| command.find_subcommand(n))
        .unwrap_or(command)
}

fn flag_takes_value(command: &clap::Command, sub: Option<&str>, name: &str) -> bool {
    subcommand(command, sub)
        .get_arguments()
        .chain(command.get_arguments())
        .find(|a| {
            a.get_long() == Some(name) || (name.len() == 1 && a.get_short() == name.chars().next())
        })
        .is_some_and(|a| {
            a.get_action().takes_values() && a.get_num_args().is_none_or(|n| n.min_values() > 0)
        })
}

/// Completes the last of `words` (the words after `regcred`, the last possibly empty).
pub(crate) async fn complete(words: &[String]) -> Completion {
    let (current, before) = match words.split_last() {
        Some((current, before)) => (current.as_str(), before),
        None => ("", &[][..]),
    };
    let context = read_context(before);
    let mut command = Cli::command();
    command.build();

    if let Some(flag) = &context.pending_flag {
        return complete_flag_value(&command, &context, flag, current).await;
    }
    let Some(sub) = &context.subcommand else {
        if current.starts_with('-') {
            return Completion::of(flags(&command), current, NO_FILE_COMP);
        }
        let names = command
            .get_subcommands()
            .filter(|s| !s.is_hide_set())
            .map(|s| s.get_name().to_string())
            .collect();
        return Completion::of(names, current, NO_FILE_COMP);
    };
    if current.starts_with('-') {
        let mut all = flags(subcommand(&command, Some(sub)));
        all.extend(flags(&command));
        return Completion::of(all, current, NO_FILE_COMP);
    }
    match (sub.as_str(), context.positionals.len()) {
        ("show", 0) | ("detach", 0) => {
            Completion::of(secret_names(&context).await, current, NO_FILE_COMP)
        }
        ("attach", 0) if !current.contains('/') => {
            let mut all = secret_names(&context).await;
            all.extend(kind_prefixes(false));
            Completion::of(all, current, NO_FILE_COMP | NO_SPACE)
        }
        ("attach" | "detach" | "check", _) => {
            complete_target(&context, current, sub == "check").await
        }
        ("completion", 0) => {
            let shells = ["bash", "zsh", "fish", "powershell", "elvish"]
                .map(String::from)
                .to_vec();
            Completion::of(shells, current, NO_FILE_COMP)
        }
        _ => Completion::of(Vec::new(), current, NO_FILE_COMP),
    }
}

fn flags(command: &clap::Command) -> Vec<String> {
    command
        .get_arguments()
        .filter(|a| !a.is_hide_set())
        .filter_map(|a| a.get_long().map(|l| format!("--{l}")))
        .collect()
}

async fn complete_flag_value(
    command: &clap::Command,
    context: &Context,
    flag: &str,
    current: &str,
) -> Completion {
    match flag {
        "n" | "namespace" => Completion::of(namespaces(context).await, current, NO_FILE_COMP),
        "namespaces" => Completion::of_list(namespaces(context).await, current),
        "context" => Completion::of_list(kubeconfig_names(context, flag), current),
        "cluster" | "user" => {
            Completion::of(kubeconfig_names(context, flag), current, NO_FILE_COMP)
        }
        "all" => Completion::of(kind_prefixes(true), current, NO_FILE_COMP),
        "kubeconfig" | "docker-config" => Completion {
            candidates: Vec::new(),
            directive: 0,
        },
        _ => {
            let sub = subcommand(command, context.subcommand.as_deref());
            let values = sub
                .get_arguments()
                .chain(command.get_arguments())
                .find(|a| {
                    a.get_long() == Some(flag)
                        || (flag.len() == 1 && a.get_short() == flag.chars().next())
                })
                .map(|a| {
                    a.get_possible_values()
                        .into_iter()
                        .filter(|v| !v.is_hide_set())
                        .map(|v| v.get_name().to_string())
                        .collect()
                })
                .unwrap_or_default();
            Completion::of(values, current, NO_FILE_COMP)
        }
    }
}

/// `deployment/`, `sa/`, ... (or plural names for `--all`).
fn kind_prefixes(plural: bool) -> Vec<String> {
    ALL_KINDS
        .into_iter()
        .filter(|kind| *kind != Kind::Pod)
        .map(|kind| {
            if plural {
                kind.plural()
            } else {
                format!("{}/", kind.singular())
            }
        })
        .collect()
}

async fn complete_target(context: &Context, current: &str, with_pods: bool) -> Completion {
    let Some((kind_text, _)) = current.split_once('/') else {
        let mut kinds = kind_prefixes(false);
        if with_pods {
            kinds.push("pod/".into());
        }
        return Completion::of(kinds, current, NO_FILE_COMP | NO_SPACE);
    };
    let Some(kind) = Kind::parse(kind_text) else {
        return Completion::of(Vec::new(), current, NO_FILE_COMP);
    };
    let names = with_cluster(context, |cluster, ns| async move {
        let resource = fetch::resource(&cluster, kind).await;
        let api: Api<DynamicObject> = Api::namespaced_with(cluster.client.clone(), &ns, &resource);
        let list = api.list_metadata(&ListParams::default()).await.ok()?;
        Some(
            list.items
                .into_iter()
                .filter_map(|o| o.metadata.name)
                .collect(),
        )
    })
    .await;
    let candidates = names
        .into_iter()
        .map(|n| format!("{kind_text}/{n}"))
        .collect();
    Completion::of(candidates, current, NO_FILE_COMP)
}

async fn namespaces(context: &Context) -> Vec<String> {
    with_cluster(context, |cluster, _| async move {
        let api: Api<Namespace> = Api::all(cluster.client.clone());
        let list = api.list_metadata(&ListParams::default()).await.ok()?;
        Some(
            list.items
                .into_iter()
                .filter_map(|n| n.metadata.name)
                .collect(),
        )
    })
    .await
}

async fn secret_names(context: &Context) -> Vec<String> {
    with_cluster(context, |cluster, ns| async move {
        let api: Api<Secret> = Api::namespaced(cluster.client.clone(), &ns);
        let list = api.list(&ListParams::default()).await.ok()?;
        Some(
            list.items
                .into_iter()
                .filter(is_listed_type)
                .filter_map(|s| s.metadata.name)
                .collect(),
        )
    })
    .await
}

/// Runs a lookup against the current context within the timeout; empty on any failure.
async fn with_cluster<F, Fut>(context: &Context, lookup: F) -> Vec<String>
where
    F: FnOnce(cluster::Cluster, String) -> Fut,
    Fut: std::future::Future<Output = Option<Vec<String>>>,
{
    let attempt = async {
        // Completion must print nothing but candidates: no progress bar.
        let cluster = cluster::connect(&context.connection, &crate::fanout::NoProgress::shared())
            .await
            .ok()?;
        let ns = context
            .namespace
            .clone()
            .unwrap_or_else(|| cluster.default_namespace.clone());
        lookup(cluster, ns).await
    };
    let mut names = tokio::time::timeout(CLUSTER_TIMEOUT, attempt)
        .await
        .ok()
        .flatten()
        .unwrap_or_default();
    names.sort();
    names
}

fn kubeconfig_names(context: &Context, flag: &str) -> Vec<String> {
    let Ok(config) = cluster::read_kubeconfig(&context.connection) else {
        return Vec::new();
    };
    match flag {
        "context" => config.contexts.into_iter().map(|c| c.name).collect(),
        "cluster" => config.clusters.into_iter().map(|c| c.name).collect(),
        _ => config.auth_infos.into_iter().map(|u| u.name).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &[&str]) -> Vec<String> {
        text.iter().map(|s| s.to_string()).collect()
    }

    async fn candidates(text: &[&str]) -> (Vec<String>, u32) {
        let c = complete(&words(text)).await;
        (c.candidates, c.directive)
    }

    #[tokio::test]
    async fn subcommands_flags_and_values() {
        let (names, directive) = candidates(&[""]).await;
        assert!(
            names.contains(&"create".to_string()) && names.contains(&"check".to_string()),
            "{names:?}"
        );
        assert!(
            !names.iter().any(|n| n.starts_with("__")),
            "hidden commands stay hidden"
        );
        assert_eq!(directive, NO_FILE_COMP);
        assert_eq!(candidates(&["cr"]).await.0, ["create", "credential-helper"]);
        let (flags, _) = candidates(&["create", "x", "--dry"]).await;
        assert_eq!(flags, ["--dry-run"]);
        assert_eq!(
            candidates(&["create", "x", "--from", "d"]).await.0,
            ["docker"]
        );
        assert_eq!(
            candidates(&["list", "-o", ""]).await.0,
            ["wide", "json", "yaml", "name", "jsonpath=", "custom-columns="]
        );
        assert_eq!(candidates(&["completion", "f"]).await.0, ["fish"]);
        let (kinds, directive) = candidates(&["check", "dep"]).await;
        assert_eq!(kinds, ["deployment/"]);
        assert_eq!(directive, NO_FILE_COMP | NO_SPACE);
    }

    #[test]
    fn comma_lists_complete_their_last_entry_and_keep_an_exclusion() {
        let names = || vec!["dev".to_string(), "prod-eu".into(), "prod-us".into()];
        assert_eq!(
            Completion::of_list(names(), "pro").candidates,
            ["prod-eu", "prod-us"]
        );
        assert_eq!(
            Completion::of_list(names(), "dev,^prod-u").candidates,
            ["dev,^prod-us"]
        );
        assert_eq!(Completion::of_list(names(), "dev,").candidates.len(), 3);
    }

    #[test]
    fn render_follows_the_protocol() {
        let c = Completion {
            candidates: vec!["a".into(), "b".into()],
            directive: 4,
        };
        assert_eq!(c.render(), "a\nb\n:4\n");
    }
}
