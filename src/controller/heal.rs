//! `--heal` (docs/controller.md, "Pods that heal"): a Pod stuck in `ErrImagePull` or
//! `ImagePullBackOff` because it was admitted before its ServiceAccount (or its owner's
//! template) got the Secret it needs is deleted, so that its owner makes a new one that is
//! admitted with that Secret. Never a bare Pod; at most `--heal-limit` a minute; only when
//! the new Pod would get a credential the stuck one lacks ([`rules::heal::remedy`]).

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use k8s_openapi::api::core::v1::{Pod, Secret, ServiceAccount};
use kube::api::{Api, DynamicObject};
use kube::runtime::{WatchStreamExt, watcher};
use kube::ResourceExt;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::{Trigger, forward};
use crate::cluster::Cluster;
use crate::cluster::fetch::kind_resource;
use crate::cluster::writes::{self, Writer};
use crate::rules::diagnosis::SecretState;
use crate::rules::heal::{self, Remedy};
use crate::rules::kinds;
use crate::rules::kubelet;

/// A Pod, by namespace and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct PodKey {
    pub(crate) namespace: String,
    pub(crate) name: String,
}

/// A pending Pod as last seen; `None` once it is gone or no longer pending.
#[derive(Debug)]
pub(crate) struct PodEvent {
    pub(crate) key: PodKey,
    pub(crate) object: Option<Value>,
}

/// Watches pending Pods in every namespace: a Pod stuck on a pull is `Pending`, so the API
/// server's field selector keeps running Pods off the wire.
pub(crate) fn watch(cluster: &Cluster, triggers: mpsc::UnboundedSender<Trigger>) -> &'static str {
    let api: Api<Pod> = Api::all(cluster.client.clone());
    let config = watcher::Config::default().fields("status.phase=Pending");
    let stream = watcher::watcher(api, config)
        .default_backoff()
        .modify(|pod| pod.managed_fields_mut().clear());
    tokio::spawn(forward(
        stream,
        "pods",
        triggers,
        |event| {
            let (pod, gone) = match event {
                watcher::Event::Apply(p) | watcher::Event::InitApply(p) => (p, false),
                watcher::Event::Delete(p) => (p, true),
                _ => return None,
            };
            let key = PodKey {
                namespace: pod.namespace()?,
                name: pod.name_any(),
            };
            let object = if gone {
                None
            } else {
                Some(serde_json::to_value(pod).ok()?)
            };
            Some(Trigger::Pod(PodEvent { key, object }))
        },
        true,
    ));
    "pods"
}

/// What became of a stuck Pod.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Deleted: its owner makes it again, with the Secret that pulls `remedy.image`.
    Healed(Remedy),
    /// Left alone, and why (for the debug log): nothing stuck, a bare Pod, no cure.
    Skipped(&'static str),
    /// Over `--heal-limit`: try again when the window has room.
    Limited(Instant),
    Failed(String),
}

/// At most `per_minute` deletions in any minute.
#[derive(Debug)]
pub(crate) struct Limiter {
    per_minute: u32,
    recent: VecDeque<Instant>,
}

const WINDOW: Duration = Duration::from_secs(60);

impl Limiter {
    pub(crate) fn new(per_minute: u32) -> Self {
        Self {
            per_minute,
            recent: VecDeque::new(),
        }
    }

    /// `Ok` and counted, or when the next one may go.
    fn take(&mut self, now: Instant) -> Result<(), Instant> {
        while self.recent.front().is_some_and(|t| now.duration_since(*t) >= WINDOW) {
            self.recent.pop_front();
        }
        if self.recent.len() < self.per_minute as usize {
            self.recent.push_back(now);
            return Ok(());
        }
        Err(self.recent.front().map_or(now, |t| *t + WINDOW))
    }
}

/// Heals `pod` if it is stuck and would pull if made again: reads its owner's template, its
/// ServiceAccount and the Secrets they name, and deletes it (that exact Pod: its uid is a
/// precondition) when [`heal::remedy`] finds a cure in one of `ours` (the copies this loop
/// keeps in the Pod's namespace: privileged code acts only on what its operator defined)
/// and the limiter allows.
pub(crate) async fn heal(
    cluster: &Cluster,
    pod: &Value,
    ours: &[String],
    limiter: &mut Limiter,
    field_manager: &str,
) -> Outcome {
    let stuck = heal::stuck_pulls(pod);
    if stuck.is_empty() {
        return Outcome::Skipped("no container waits on a failed pull");
    }
    let Some(owner) = heal::controller_of(pod) else {
        return Outcome::Skipped("a bare Pod: nothing would make it again");
    };
    let Some(kind) = owner.template_kind() else {
        return Outcome::Skipped("its owner is of a kind we do not read");
    };
    let owner_name = owner.name;
    let namespace = pod["metadata"]["namespace"].as_str().unwrap_or_default();
    let owners: Api<DynamicObject> = Api::namespaced_with(
        cluster.client.clone(),
        namespace,
        &kind_resource(kind, "v1"),
    );
    let owner = match owners.get_opt(&owner_name).await {
        Ok(Some(owner)) => serde_json::to_value(owner).unwrap_or_default(),
        Ok(None) => return Outcome::Skipped("its owner is gone"),
        Err(error) => return Outcome::Failed(format!("reading its owner: {error}")),
    };
    let Some(template) = kinds::pod_spec(kind, &owner).cloned() else {
        return Outcome::Skipped("its owner has no pod template");
    };
    let account_name = kinds::service_account(&pod["spec"]);
    let accounts: Api<ServiceAccount> = Api::namespaced(cluster.client.clone(), namespace);
    let account = match accounts.get_opt(&account_name).await {
        Ok(account) => account.map(|a| {
            a.image_pull_secrets
                .unwrap_or_default()
                .into_iter()
                .map(|r| r.name)
                .collect::<Vec<_>>()
        }),
        Err(error) => return Outcome::Failed(format!("reading its ServiceAccount: {error}")),
    };
    let mut names = kinds::pull_secret_names(&pod["spec"]);
    names.extend(kinds::pull_secret_names(&template));
    names.extend(account.iter().flatten().cloned());
    names.sort();
    names.dedup();
    let secrets_api: Api<Secret> = Api::namespaced(cluster.client.clone(), namespace);
    let mut states = BTreeMap::new();
    for name in names {
        match secrets_api.get_opt(&name).await {
            Ok(Some(secret)) => {
                states.insert(name, SecretState::from_parse(kubelet::parse_secret(&secret)));
            }
            Ok(None) => {}
            Err(error) => return Outcome::Failed(format!("reading secret {name}: {error}")),
        }
    }
    let now = k8s_openapi::jiff::Timestamp::now();
    let Some(remedy) = heal::remedy(&pod["spec"], &template, account.as_deref(), &states, &stuck, now)
    else {
        return Outcome::Skipped("a Pod made again would not pull either");
    };
    if !ours.contains(&remedy.secret) {
        return Outcome::Skipped("the Secret that would cure it is not a copy this loop keeps");
    }
    if let Err(next) = limiter.take(Instant::now()) {
        return Outcome::Limited(next);
    }
    let name = pod["metadata"]["name"].as_str().unwrap_or_default();
    let uid = pod["metadata"]["uid"].as_str().unwrap_or_default();
    match writes::delete_pod(cluster, namespace, name, uid, Writer::persist(field_manager)).await {
        Ok(true) => Outcome::Healed(remedy),
        // Gone already, or replaced by a Pod of the same name: nothing to heal.
        Ok(false) => Outcome::Skipped("it went before we deleted it"),
        Err(error) => Outcome::Failed(format!("deleting it: {error}")),
    }
}

/// The pod's owner as `kind/name`, for the log.
pub(crate) fn owner_of(pod: &Value) -> String {
    heal::controller_of(pod).map_or_else(String::new, |owner| {
        format!("{}/{}", owner.kind.to_ascii_lowercase(), owner.name)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limiter_lets_n_a_minute_through_and_says_when_the_next_may_go() {
        let mut limiter = Limiter::new(2);
        let start = Instant::now();
        assert!(limiter.take(start).is_ok());
        assert!(limiter.take(start + Duration::from_secs(10)).is_ok());
        assert_eq!(limiter.take(start + Duration::from_secs(20)), Err(start + WINDOW));
        // A minute after the first, its place is free again.
        assert!(limiter.take(start + WINDOW).is_ok());
        assert!(limiter.take(start + WINDOW).is_err());
    }
}
