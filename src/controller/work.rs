//! What the loop works on and when. The watches send [`Trigger`]s; the loop turns them into
//! [`Work`] for kube's `scheduler`, which deduplicates and delays. This is not kube's
//! `Controller` on purpose: a credential is not an API object. It is a definition plus its
//! copies, sources and refresh times spread over many objects and namespaces, so the work
//! item is a credential's name, and a refresh is a timer of ours, not a watch event.

use super::*;

/// A refresh comes at this share of a login's known lifetime (docs/controller.md).
pub(super) const REFRESH_AT_LIFETIME: f64 = 0.7;
/// Retries after a failed reconcile wait 1 s, 2 s, 4 s, ... up to this.
pub(super) const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// What a watch saw, sent to the loop.
#[derive(Debug)]
pub(super) enum Trigger {
    /// A startup watch finished its first list.
    Synced(&'static str),
    Namespace(String),
    /// A namespace entered, changed in or left a selector's watch.
    Selected {
        selector: String,
        namespace: String,
    },
    /// A selector's watch has listed (again): its namespaces are known.
    SelectorListed(String),
    Copy {
        name: String,
        namespace: String,
    },
    /// A definition in the definitions namespace changed, appeared or went.
    Definition(String),
    Source {
        namespace: String,
        name: String,
    },
    Workload(attach::WorkloadEvent),
    /// `--heal`: a pending Pod changed or went.
    Pod(heal::PodEvent),
}

/// What the scheduler hands back, deduplicated.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) enum Work {
    Credential(String),
    Attach(attach::WorkloadKey),
    Heal(heal::PodKey),
}

/// When to read the credential's sources again: `--refresh`, or 70% into the remaining
/// lifetime of its earliest-expiring login, whichever is sooner.
pub(super) fn refresh_at(
    desired: &Desired,
    every: Option<Duration>,
    now: Instant,
) -> Option<Instant> {
    let wall = Timestamp::now();
    let by_expiry = desired
        .credentials
        .iter()
        .filter_map(|c| expiry_of(c.password.expose()))
        .min()
        .map(|expires| {
            let left = expires.duration_since(wall).as_secs_f64().max(0.0);
            // An expired login is retried in a minute, not in a busy loop.
            now + Duration::from_secs_f64((left * REFRESH_AT_LIFETIME).max(60.0))
        });
    let by_flag = every.map(|every| now + every);
    match (by_expiry, by_flag) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
