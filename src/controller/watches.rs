//! The watches that feed the loop: namespaces (all, or a selector's), our copies, the
//! definitions and each source Secret, each a kube reflector whose events become
//! [`Trigger`]s. Caches keep only what the loop reads, bounded, so a tenant's large Secret
//! costs little (docs/controller.md).

use super::*;

/// A metadata-only watch of Namespaces (all, or those a label selector picks).
pub(super) fn watch_namespaces(
    cluster: &Cluster,
    selector: Option<&str>,
    triggers: mpsc::UnboundedSender<Trigger>,
) -> (Store<PartialObjectMeta<Namespace>>, AbortOnDrop) {
    // Metadata only, and of that only names and deletion (the selector is the server's).
    let api: Api<PartialObjectMeta<Namespace>> = Api::all(cluster.client.clone());
    let config = match selector {
        Some(selector) => watcher::Config::default().labels(selector),
        None => watcher::Config::default(),
    };
    let (reader, writer) = reflector::store();
    let selector = selector.map(String::from);
    let report_synced = selector.is_none();
    let stream = reflector::reflector(
        writer,
        watcher::watcher(api, config)
            .default_backoff()
            .modify(keep_scope_metadata),
    );
    let task = tokio::spawn(forward(
        stream,
        "namespaces",
        triggers,
        move |event| {
            let name =
                |ns: &PartialObjectMeta<Namespace>| ns.metadata.name.clone().unwrap_or_default();
            let namespace = match event {
                watcher::Event::Apply(ns)
                | watcher::Event::Delete(ns)
                | watcher::Event::InitApply(ns) => name(ns),
                watcher::Event::InitDone => return selector.clone().map(Trigger::SelectorListed),
                watcher::Event::Init => return None,
            };
            Some(match &selector {
                Some(selector) => Trigger::Selected {
                    selector: selector.clone(),
                    namespace,
                },
                None => Trigger::Namespace(namespace),
            })
        },
        report_synced,
    ));
    (reader, AbortOnDrop(task.abort_handle()))
}

/// Keeps of a cached Namespace only what a scope reads, which is most of the memory a large
/// cluster's Namespace cache would otherwise take (managedFields above all).
pub(super) fn keep_scope_metadata(namespace: &mut PartialObjectMeta<Namespace>) {
    let metadata = std::mem::take(&mut namespace.metadata);
    namespace.metadata = ObjectMeta {
        name: metadata.name,
        deletion_timestamp: metadata.deletion_timestamp,
        resource_version: metadata.resource_version,
        uid: metadata.uid,
        ..ObjectMeta::default()
    };
}

/// The copies: every pull Secret carrying our managed-by label (of one name, with `sync
/// NAME`). Only pull Secrets ever leave the cluster (README, "Guarantees"), even with our label.
pub(super) fn watch_copies(
    cluster: &Cluster,
    name: Option<&str>,
    triggers: mpsc::UnboundedSender<Trigger>,
) -> Store<Secret> {
    let api: Api<Secret> = Api::all(cluster.client.clone());
    watch_ours(api, DOCKERCONFIGJSON_TYPE, name, "copies", triggers, |s| {
        Some(Trigger::Copy {
            name: s.metadata.name.clone()?,
            namespace: s.metadata.namespace.clone()?,
        })
    })
}

/// The definitions in the definitions namespace (of one name, with `sync NAME`): only our
/// label and type there define anything (docs/sync.md, "Trust").
pub(super) fn watch_definitions(
    cluster: &Cluster,
    namespace: &str,
    name: Option<&str>,
    triggers: mpsc::UnboundedSender<Trigger>,
) -> Store<Secret> {
    let api: Api<Secret> = Api::namespaced(cluster.client.clone(), namespace);
    watch_ours(api, DEFINITION_TYPE, name, "definitions", triggers, |s| {
        Some(Trigger::Definition(s.metadata.name.clone()?))
    })
}

/// A reflector cache of the Secrets of `type_` with our label that `api` reaches (of one name,
/// with `sync NAME`), each bounded in memory ([`keep_copy_bounded`]); every change becomes the
/// trigger `to_trigger` makes of it.
pub(super) fn watch_ours(
    api: Api<Secret>,
    type_: &str,
    name: Option<&str>,
    what: &'static str,
    triggers: mpsc::UnboundedSender<Trigger>,
    to_trigger: fn(&Secret) -> Option<Trigger>,
) -> Store<Secret> {
    let mut fields = format!("type={type_}");
    if let Some(name) = name {
        fields.push_str(&format!(",metadata.name={name}"));
    }
    let config = watcher::Config::default()
        .labels(&format!("{MANAGED_BY_LABEL}={MANAGER}"))
        .fields(&fields);
    let (reader, writer) = reflector::store();
    let stream = reflector::reflector(
        writer,
        watcher::watcher(api, config)
            .default_backoff()
            // Not needed to compare or replace (an update without them keeps them): memory.
            .modify(keep_copy_bounded),
    );
    tokio::spawn(forward(
        stream,
        what,
        triggers,
        move |event| match event {
            watcher::Event::Apply(s) | watcher::Event::Delete(s) | watcher::Event::InitApply(s) => {
                to_trigger(s)
            }
            _ => None,
        },
        true,
    ));
    reader
}

/// What the copies cache keeps of a Secret: not its managedFields (never compared), and not
/// data larger than any pull Secret we write (anyone may label a Secret of a megabyte; its
/// data then reads as "differs", and a copy in scope is simply rewritten). The cache's memory
/// is bounded by the number of labelled Secrets, not by what their writers put in them.
pub(super) fn keep_copy_bounded(secret: &mut Secret) {
    secret.metadata.managed_fields = None;
    let size: usize = secret
        .data
        .iter()
        .flatten()
        .map(|(key, value)| key.len() + value.0.len())
        .sum();
    if size > MAX_CACHED_DATA {
        secret.data = None;
    }
    // Annotations of up to 256 KiB are anyone's to write: past a bound, only ours are kept
    // (what plans compare), and the copy is marked so that a write reads it whole first and
    // drops nothing of others' (docs/controller.md).
    if let Some(annotations) = secret.metadata.annotations.as_mut() {
        let size: usize = annotations.iter().map(|(k, v)| k.len() + v.len()).sum();
        if size > MAX_CACHED_ANNOTATIONS {
            annotations.retain(|key, _| key.starts_with("kubectl-regcred/"));
            annotations.insert(secrets::PARTIAL_MARK.to_string(), String::new());
        }
    }
}

/// Far above a pull Secret of many registries with long tokens (a few KiB).
pub(super) const MAX_CACHED_DATA: usize = 64 * 1024;
/// Far above what our annotations and kubectl's take on a copy.
pub(super) const MAX_CACHED_ANNOTATIONS: usize = 16 * 1024;

/// One source Secret (`--from-secret`): a change (by resourceVersion, so a relist of the
/// same version is not one) makes its credentials read again.
pub(super) fn watch_source(
    cluster: &Cluster,
    namespace: &str,
    name: &str,
    triggers: mpsc::UnboundedSender<Trigger>,
) -> AbortOnDrop {
    let api: Api<Secret> = Api::namespaced(cluster.client.clone(), namespace);
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    let (namespace, name) = (namespace.to_string(), name.to_string());
    // The version after the first complete list is the baseline; a relist compares too,
    // so a change (or deletion) during a watch gap is not missed.
    let mut baseline: Option<Option<String>> = None;
    let mut listing: Option<String> = None;
    let stream = watcher::watcher(api, config).default_backoff();
    let task = tokio::spawn(forward(
        stream,
        "source",
        triggers,
        move |event| {
            let now = match event {
                watcher::Event::Init => {
                    listing = None;
                    return None;
                }
                watcher::Event::InitApply(s) => {
                    listing = s.metadata.resource_version.clone();
                    return None;
                }
                watcher::Event::InitDone => listing.take(),
                watcher::Event::Apply(s) => s.metadata.resource_version.clone(),
                watcher::Event::Delete(_) => None,
            };
            let changed = baseline.as_ref().is_some_and(|before| *before != now);
            baseline = Some(now);
            changed.then(|| Trigger::Source {
                namespace: namespace.clone(),
                name: name.clone(),
            })
        },
        false,
    ));
    AbortOnDrop(task.abort_handle())
}

/// A spawned watch that stops, closing its connection, when this is dropped.
pub(super) struct AbortOnDrop(pub(super) tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Drives a watch stream, turning its events into triggers; reports the first complete
/// list as `Synced(what)` when `report_synced`.
pub(super) async fn forward<K, S>(
    stream: S,
    what: &'static str,
    triggers: mpsc::UnboundedSender<Trigger>,
    mut to_trigger: impl FnMut(&watcher::Event<K>) -> Option<Trigger> + Send,
    report_synced: bool,
) where
    S: futures::Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send,
{
    let mut stream = std::pin::pin!(stream);
    let mut synced = false;
    while let Some(event) = stream.next().await {
        match event {
            Ok(event) => {
                if let Some(trigger) = to_trigger(&event) {
                    let _ = triggers.send(trigger);
                }
                if matches!(event, watcher::Event::InitDone) && !synced {
                    synced = true;
                    if report_synced {
                        let _ = triggers.send(Trigger::Synced(what));
                    }
                }
            }
            Err(error) => tracing::warn!(watch = what, %error, "watch failed; retrying"),
        }
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::ByteString;

    use super::*;

    #[test]
    fn the_copies_cache_keeps_no_large_data() {
        let secret = |bytes: usize| Secret {
            data: Some([(".dockerconfigjson".into(), ByteString(vec![b'x'; bytes]))].into()),
            ..Secret::default()
        };
        let mut small = secret(4 * 1024);
        keep_copy_bounded(&mut small);
        assert!(small.data.is_some(), "a pull Secret of ours is kept whole");
        let mut large = secret(900 * 1024);
        keep_copy_bounded(&mut large);
        assert_eq!(large.data, None);
    }

    #[test]
    fn large_annotations_are_kept_only_in_part_and_marked() {
        let mut secret = Secret::default();
        secret.metadata.annotations = Some(
            [
                (
                    "kubectl-regcred/registries".to_string(),
                    "quay.io".to_string(),
                ),
                ("team/notes".to_string(), "x".repeat(200 * 1024)),
            ]
            .into(),
        );
        keep_copy_bounded(&mut secret);
        let kept = secret.metadata.annotations.clone().unwrap();
        assert_eq!(kept.get("kubectl-regcred/registries").unwrap(), "quay.io");
        assert!(!kept.contains_key("team/notes"));
        // A write reads it whole first: nothing of others' is dropped.
        assert!(matches!(
            secrets::known(&secret),
            secrets::Known::Partial(_)
        ));
    }
}
