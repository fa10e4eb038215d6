//! `sync --watch`: the `sync` reconciler, run on every change instead of once
//! (docs/controller.md). kube's runtime does the watching: reflector caches of Namespaces
//! and of our copies, a watch per source Secret and per namespace selector, and its
//! scheduler, which delays and deduplicates the work. Each event schedules only the
//! credential (or workload) it touches; [`reconcile::reconcile`] then plans from the caches
//! and writes only what differs, so an idle resync costs no request at all.
//!
//! The same loop runs in a terminal and in the cluster; with `--leader-elect` only the
//! replica holding the Lease ([`lease`]) writes, and the others keep warm caches.

mod attach;
mod heal;
pub(crate) mod http;
pub(crate) mod lease;
pub(crate) mod manifests;
mod runtime;
pub(crate) mod state;
mod watches;
mod work;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use futures::{FutureExt, StreamExt, channel::mpsc as queue};
use k8s_openapi::api::core::v1::{Namespace, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::jiff::Timestamp;
use kube::api::Api;
use kube::core::PartialObjectMeta;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::scheduler::{ScheduleRequest, scheduler};
use kube::runtime::{WatchStreamExt, watcher};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::cluster::Cluster;
use crate::cluster::secrets;
use crate::cluster::writes::WriteOptions;
use crate::credentials::{ExplicitLogin, ReadOnce};
use crate::desired::{self, Basis, Copies, Found, LocalAnswers};
use crate::error::ExitStatus;
use crate::notices::{Notice, Notices};
use crate::reconcile::{self, Desired};
use crate::rules::credential::Origin;
use crate::rules::expiry::expiry_of;
use crate::rules::kubelet::DOCKERCONFIGJSON_TYPE;
use crate::rules::pullsecret::{MANAGED_BY_LABEL, MANAGER, is_up_to_date};
use crate::rules::scope::{NamespaceScope, Scope};
use crate::rules::sync::PlanOptions;
use crate::rules::sync::{InScope, Step};
use crate::rules::trust::{self, DEFINITION_TYPE, DefinitionRef, Owner, Standing};
pub(crate) use attach::AutoAttach;
use runtime::*;
use state::State;
use watches::*;
use work::*;

/// What the watch loop and the controller were told: which credentials, how to keep them
/// (the `desired` layer's options, the plan, the writes) and how to run. Built by the
/// settings layer.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    /// `None`: every credential with a definition.
    pub(crate) name: Option<String>,
    pub(crate) desired: desired::Options,
    pub(crate) plan: PlanOptions,
    pub(crate) write: WriteOptions,
    pub(crate) watch: WatchOptions,
}

/// How `sync --watch` runs (docs/controller.md).
#[derive(Debug, Clone)]
pub(crate) struct WatchOptions {
    /// `None`: at 70% of a known lifetime only.
    pub(crate) refresh: Option<Duration>,
    pub(crate) resync: Duration,
    pub(crate) auto_attach: Option<AutoAttach>,
    /// Health, and metrics unless `metrics_listen` is given.
    pub(crate) listen: Option<std::net::SocketAddr>,
    pub(crate) metrics_listen: Option<std::net::SocketAddr>,
    pub(crate) json_logs: bool,
    pub(crate) lease: Option<LeaseOptions>,
    /// `--heal`: at most this many Pods deleted a minute (docs/controller.md).
    pub(crate) heal: Option<u32>,
    /// `--credential-provider-config` for `--auto-attach`.
    pub(crate) provider_config: Option<std::path::PathBuf>,
}

/// `--leader-elect`: which Lease, and for how long it holds.
#[derive(Debug, Clone)]
pub(crate) struct LeaseOptions {
    /// `None`: the Pod's namespace in a cluster, else the context's.
    pub(crate) namespace: Option<String>,
    pub(crate) name: String,
    pub(crate) duration: Duration,
}

/// A stuck Pod with no cure yet is looked at again this often, in case one came without an
/// event we watch (a Secret added to its ServiceAccount).
const HEAL_RECHECK: Duration = Duration::from_secs(30);

/// In-flight work gets this long after SIGTERM; the whole exit stays under 5 s.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

/// A credential the loop keeps true.
#[derive(Default)]
struct Tracked {
    desired: Option<Desired>,
    /// Read its sources again before the next reconcile.
    reload: bool,
    refresh_at: Option<Instant>,
    failures: u32,
    sources: Vec<(String, String)>,
}

/// The caches the loop reads; the watches write them.
struct Caches {
    namespaces: Store<PartialObjectMeta<Namespace>>,
    /// The watch behind `namespaces`, which runs as long as the loop.
    _namespaces_watch: AbortOnDrop,
    /// A watch per selector some credential's scope uses, released when none does.
    selected: HashMap<String, (Store<PartialObjectMeta<Namespace>>, AbortOnDrop)>,
    copies: Store<Secret>,
    /// The definitions: the only credentials this loop keeps (docs/sync.md, "Trust").
    definitions: Store<Secret>,
}

pub(crate) async fn run(
    options: Options,
    explicit: Option<ExplicitLogin>,
    cluster: Cluster,
) -> anyhow::Result<ExitStatus> {
    let watch_options = options.watch.clone();
    // The node's providers, read and validated before anything runs (docs/controller.md).
    let providers = match &watch_options.provider_config {
        Some(path) => crate::credentials::providers::load(path)?,
        None => Vec::new(),
    };
    init_logging(watch_options.json_logs);
    let state = Arc::new(State::default());
    serve_endpoints(&watch_options, &state).await?;
    let (stop_tx, stop) = watch::channel(false);
    tokio::spawn(signals(stop_tx));

    let (leader_tx, leader) = watch::channel(watch_options.lease.is_none());
    let lease_task = start_election(&watch_options, &cluster, &state, &leader_tx, &stop);

    let (triggers_tx, triggers) = mpsc::unbounded_channel();
    let (namespaces, namespaces_watch) = watch_namespaces(&cluster, None, triggers_tx.clone());
    let caches = Caches {
        namespaces,
        _namespaces_watch: namespaces_watch,
        selected: HashMap::new(),
        copies: watch_copies(&cluster, options.name.as_deref(), triggers_tx.clone()),
        definitions: watch_definitions(
            &cluster,
            &options.desired.definitions_namespace,
            options.name.as_deref(),
            triggers_tx.clone(),
        ),
    };
    tracing::info!(namespace = %options.desired.definitions_namespace, "following the definitions in this namespace only");
    let mut startup_watches = HashSet::from(["namespaces", "copies", "definitions"]);
    if let Some(what) = watch_options.auto_attach {
        startup_watches.extend(attach::watch(&cluster, what, triggers_tx.clone()).await);
    }
    let heal_limit = watch_options.heal;
    if heal_limit.is_some() {
        startup_watches.insert(heal::watch(&cluster, triggers_tx.clone()));
    }
    let mut controller = Controller {
        cluster,
        watch: watch_options,
        options,
        explicit,
        state,
        caches,
        tracked: BTreeMap::new(),
        unclaimed_logged: HashSet::new(),
        caches_synced: false,
        watched_sources: HashMap::new(),
        workloads: HashMap::new(),
        stuck_pods: HashMap::new(),
        providers,
        limiter: heal_limit.map(heal::Limiter::new),
        triggers_tx,
        schedule: None,
    };
    let outcome = controller
        .run_loop(triggers, startup_watches, leader, stop)
        .await;
    if let Some(task) = lease_task {
        // The Lease loop saw the stop too: it releases the Lease (bounded by the grace).
        let _ = tokio::time::timeout(SHUTDOWN_GRACE, task).await;
    }
    outcome
}

struct Controller {
    cluster: Cluster,
    options: Options,
    watch: WatchOptions,
    explicit: Option<ExplicitLogin>,
    state: Arc<State>,
    caches: Caches,
    tracked: BTreeMap<String, Tracked>,
    /// The Secrets with our label no definition claims, as last counted (each logged once).
    unclaimed_logged: HashSet<(String, String)>,
    /// Every startup watch has listed.
    caches_synced: bool,
    /// A watch per source Secret some credential reads, released when none does.
    watched_sources: HashMap<(String, String), AbortOnDrop>,
    /// The latest version of every workload auto-attach watches.
    workloads: HashMap<attach::WorkloadKey, serde_json::Value>,
    /// `--credential-provider-config`: images these serve get no Secret from auto-attach.
    providers: Vec<crate::rules::providers::Provider>,
    /// `--heal`: the pending Pods that wait on a failed pull, as last seen.
    stuck_pods: HashMap<heal::PodKey, serde_json::Value>,
    limiter: Option<heal::Limiter>,
    triggers_tx: mpsc::UnboundedSender<Trigger>,
    schedule: Option<queue::UnboundedSender<ScheduleRequest<Work>>>,
}

impl Controller {
    async fn run_loop(
        &mut self,
        mut triggers: mpsc::UnboundedReceiver<Trigger>,
        mut syncing: HashSet<&'static str>,
        mut leader: watch::Receiver<bool>,
        mut stop: watch::Receiver<bool>,
    ) -> anyhow::Result<ExitStatus> {
        let (schedule, requests) = queue::unbounded();
        self.schedule = Some(schedule);
        let mut due = std::pin::pin!(scheduler(requests));
        let mut stop_during_work = stop.clone();
        loop {
            let ready = syncing.is_empty() && *leader.borrow();
            tokio::select! {
                _ = stop.wait_for(|stop| *stop) => break,
                changed = leader.changed() => {
                    if changed.is_err() {
                        break;
                    }
                }
                Some(trigger) = triggers.recv() => {
                    if let Trigger::Synced(what) = trigger {
                        syncing.remove(what);
                        if syncing.is_empty() {
                            self.state.set_caches_synced();
                            tracing::info!("caches synced");
                            self.caches_synced = true;
                            self.count_unclaimed();
                            self.warn_if_nothing_to_keep();
                        }
                    } else {
                        self.on_trigger(trigger);
                    }
                }
                Some(work) = due.next(), if ready => {
                    let mut step = std::pin::pin!(self.work(work));
                    tokio::select! {
                        () = &mut step => {}
                        _ = stop_during_work.wait_for(|stop| *stop) => {
                            // SIGTERM lets in-flight writes finish, within the grace period.
                            let _ = tokio::time::timeout(SHUTDOWN_GRACE, step).await;
                            break;
                        }
                    }
                }
            }
        }
        tracing::info!("stopping");
        Ok(ExitStatus::Success)
    }

    fn schedule(&self, work: Work, at: Instant) {
        if let Some(schedule) = &self.schedule {
            let _ = schedule.unbounded_send(ScheduleRequest {
                message: work,
                run_at: at,
            });
        }
    }

    fn on_trigger(&mut self, trigger: Trigger) {
        let now = Instant::now();
        match trigger {
            Trigger::Synced(_) => {}
            Trigger::Copy { name, namespace } => self.on_copy(name, &namespace, now),
            Trigger::Definition(name) => self.on_definition(name, now),
            Trigger::Namespace(namespace) => self.on_namespace(&namespace, now),
            Trigger::Selected {
                selector,
                namespace,
            } => self.on_selected(&selector, Some(&namespace), now),
            Trigger::SelectorListed(selector) => self.on_selected(&selector, None, now),
            Trigger::Source { namespace, name } => self.on_source((namespace, name), now),
            Trigger::Pod(event) => match event.object {
                Some(pod) if !crate::rules::heal::stuck_pulls(&pod).is_empty() => {
                    self.stuck_pods.insert(event.key.clone(), pod);
                    self.schedule(Work::Heal(event.key), now);
                }
                _ => {
                    self.stuck_pods.remove(&event.key);
                }
            },
            Trigger::Workload(event) => match event.object {
                Some(object) => {
                    self.workloads.insert(event.key.clone(), object);
                    self.schedule(Work::Attach(event.key), now);
                }
                None => {
                    self.workloads.remove(&event.key);
                }
            },
        }
    }

    fn on_copy(&mut self, name: String, namespace: &str, now: Instant) {
        // A copy schedules only a credential its definition made us keep: a look-alike costs
        // a cache entry and nothing more.
        if self.tracked.contains_key(&name) {
            self.schedule(Work::Credential(name), now);
        }
        // Once listed: counting on every event of the first list would cost its square.
        if self.caches_synced {
            self.count_unclaimed();
        }
        // A new copy may be what a stuck Pod there was waiting for.
        let stuck: Vec<_> = self
            .stuck_pods
            .keys()
            .filter(|key| key.namespace == namespace)
            .cloned()
            .collect();
        for key in stuck {
            self.schedule(Work::Heal(key), now);
        }
        // A new copy may be what a workload there was waiting for.
        if self.watch.auto_attach.is_some() {
            let waiting: Vec<_> = self
                .workloads
                .keys()
                .filter(|key| key.namespace == namespace)
                .cloned()
                .collect();
            for key in waiting {
                self.schedule(Work::Attach(key), now);
            }
        }
    }

    fn on_definition(&mut self, name: String, now: Instant) {
        if self.options.name.as_ref().is_none_or(|n| *n == name) {
            let definition = self.definition(&name);
            let tracked = self.tracked.entry(name.clone()).or_default();
            // Our own write of the definition changes nothing that was read.
            let read_again = match (&tracked.desired, &definition) {
                (Some(desired), Some(definition)) => {
                    !is_up_to_date(definition, &desired.definition())
                }
                _ => true,
            };
            tracked.reload |= read_again;
            self.schedule(Work::Credential(name), now);
        }
        // Once listed: counting on every event of the first list would cost its square.
        if self.caches_synced {
            self.count_unclaimed();
        }
    }

    fn on_namespace(&mut self, namespace: &str, now: Instant) {
        let touched: Vec<String> = self
            .tracked
            .iter()
            .filter(|(_, tracked)| match &tracked.desired {
                Some(desired) => names_namespace(&desired.scope, namespace, &self.cluster),
                // Not read yet: a namespace cannot fix what failed; its backoff retries.
                None => tracked.failures == 0,
            })
            .map(|(name, _)| name.clone())
            .collect();
        for name in touched {
            self.schedule(Work::Credential(name), now);
        }
    }

    /// A namespace the selector now selects (or its first list, `None`): every credential
    /// scoped by that selector (and admitting the namespace) is planned again.
    fn on_selected(&mut self, selector: &str, namespace: Option<&str>, now: Instant) {
        let scope = NamespaceScope::Selector(selector.to_string());
        let touched: Vec<String> = self
            .tracked
            .iter()
            .filter(|(_, tracked)| {
                tracked.desired.as_ref().is_some_and(|desired| {
                    desired.scope.namespaces == scope
                        && namespace.is_none_or(|namespace| desired.scope.admits(namespace))
                })
            })
            .map(|(name, _)| name.clone())
            .collect();
        for name in touched {
            self.schedule(Work::Credential(name), now);
        }
    }

    /// A Secret some credential was read from changed: those credentials are read again.
    fn on_source(&mut self, source: (String, String), now: Instant) {
        let mut touched = Vec::new();
        for (credential, tracked) in &mut self.tracked {
            if tracked.sources.contains(&source) {
                tracked.reload = true;
                touched.push(credential.clone());
            }
        }
        for credential in touched {
            self.schedule(Work::Credential(credential), now);
        }
    }

    async fn work(&mut self, work: Work) {
        match work {
            Work::Credential(name) => self.reconcile_credential(&name).await,
            Work::Attach(key) => {
                let Some(object) = self.workloads.get(&key).cloned() else {
                    return;
                };
                let candidates = self.managed_in(&key.namespace);
                let result = attach::attach(
                    &self.cluster,
                    &key,
                    &object,
                    &candidates,
                    &self.providers,
                    &self.options.write.field_manager,
                )
                .await;
                self.state.attach(result);
            }
            Work::Heal(key) => self.heal(key).await,
        }
    }

    /// `--heal` of one stuck Pod: deleted, left, or tried again later.
    async fn heal(&mut self, key: heal::PodKey) {
        let ours: Vec<String> = self
            .managed_in(&key.namespace)
            .iter()
            .filter_map(|secret| secret.metadata.name.clone())
            .collect();
        let (Some(pod), Some(limiter)) = (self.stuck_pods.get(&key).cloned(), self.limiter.as_mut())
        else {
            return;
        };
        let field_manager = self.options.write.field_manager.as_str();
        let outcome = heal::heal(&self.cluster, &pod, &ours, limiter, field_manager).await;
        let pod_name = format!("{}/{}", key.namespace, key.name);
        match outcome {
            heal::Outcome::Healed(remedy) => {
                let owner = heal::owner_of(&pod);
                tracing::info!(
                    pod = %pod_name, %owner, image = %remedy.image, secret = %remedy.secret,
                    "healed: deleted a Pod stuck on a pull; its owner makes it again, with the Secret it lacked"
                );
                self.state.healed(&pod_name, &owner, &remedy.image, &remedy.secret);
                self.stuck_pods.remove(&key);
            }
            heal::Outcome::Skipped(why) => {
                tracing::debug!(pod = %pod_name, why, "not healed");
                // The cure may come later (a Secret attached to its ServiceAccount).
                self.schedule(Work::Heal(key), Instant::now() + HEAL_RECHECK);
            }
            heal::Outcome::Limited(at) => {
                self.state.heal_result("limited");
                tracing::info!(pod = %pod_name, "healing waits: --heal-limit reached for this minute");
                self.schedule(Work::Heal(key), at);
            }
            heal::Outcome::Failed(error) => {
                self.state.heal_result("error");
                tracing::warn!(pod = %pod_name, %error, "could not heal");
                self.schedule(Work::Heal(key), Instant::now() + HEAL_RECHECK);
            }
        }
    }

    /// Our copies in `namespace` of the credentials this loop keeps.
    fn managed_in(&self, namespace: &str) -> Vec<Arc<Secret>> {
        self.caches.copies.state_filter(|secret| {
            secret.metadata.namespace.as_deref() == Some(namespace)
                && secret.metadata.name.as_ref().is_some_and(|name| {
                    self.tracked.contains_key(name) && self.owner(name).owns(secret)
                })
        })
    }

    /// `sync NAME --watch` of a name with no definition would idle silently: say why.
    fn warn_if_nothing_to_keep(&self) {
        if let Some(name) = &self.options.name
            && self.definition(name).is_none()
        {
            tracing::warn!(
                credential = %name,
                "no definition {}/{name}: nothing to keep until one is created (a Secret made for one namespace is kept by `kubectl regcred sync {name} -n NAMESPACE`, run once)",
                self.options.desired.definitions_namespace
            );
        }
    }

    fn owner(&self, name: &str) -> Owner {
        Owner::defined(&self.options.desired.definitions_namespace, name, false)
    }

    /// The definition of `name`, as the cache holds it.
    fn definition(&self, name: &str) -> Option<Arc<Secret>> {
        self.caches
            .definitions
            .get(&ObjectRef::new(name).within(&self.options.desired.definitions_namespace))
    }

    /// Counts, for one gauge, the Secrets with our label that no kept definition claims
    /// (standalone ones and look-alikes), and logs each new one once.
    fn count_unclaimed(&mut self) {
        let definitions_namespace = &self.options.desired.definitions_namespace;
        let kept: BTreeSet<DefinitionRef> = self
            .tracked
            .keys()
            .map(|name| DefinitionRef::new(definitions_namespace, name))
            .collect();
        // Another operator's copies are theirs: neither counted nor logged.
        let unclaimed: HashSet<(String, String)> = self
            .caches
            .copies
            .state()
            .iter()
            .filter(|secret| {
                matches!(
                    trust::standing(secret, definitions_namespace, &kept),
                    Some(Standing::Standalone | Standing::Unmanaged(_))
                )
            })
            .filter_map(|s| Some((s.metadata.namespace.clone()?, s.metadata.name.clone()?)))
            .collect();
        for (namespace, name) in unclaimed.difference(&self.unclaimed_logged) {
            tracing::info!(secret = %name, %namespace, "not followed: no definition in {definitions_namespace} claims it");
        }
        // One series, whatever their number: look-alikes must not cost series.
        self.state.set_unclaimed(unclaimed.len() as u64);
        self.unclaimed_logged = unclaimed;
    }

    fn copies_of(&self, name: &str) -> Copies {
        self.caches
            .copies
            .state_filter(|secret| secret.metadata.name.as_deref() == Some(name))
            .into_iter()
            .filter_map(|secret| Some((secret.metadata.namespace.clone()?, (*secret).clone())))
            .collect()
    }

    async fn reconcile_credential(&mut self, name: &str) {
        let Some(definition) = self.definition(name) else {
            // Its definition is gone (`delete NAME`): so is the credential, with what it held
            // (docs/controller.md). Its copies stay until pruned or deleted.
            self.forget(name);
            return;
        };
        let copies = self.copies_of(name);
        let now = Instant::now();
        let tracked = self.tracked.entry(name.to_string()).or_default();
        let due = tracked.desired.is_none()
            || tracked.reload
            || tracked.refresh_at.is_some_and(|at| at <= now);
        if due {
            let found = Found {
                name: name.to_string(),
                basis: Basis::Definition(Box::new((*definition).clone())),
                copies: copies.clone(),
            };
            self.load(name, &found).await;
        }
        let tracked = self.tracked.get_mut(name).expect("tracked above");
        if let Some(desired) = tracked.desired.as_mut() {
            // What we compare the definition with is the one cached now, ours included.
            desired.definition_seen = Some((*definition).clone());
        }
        let Some(desired) = &tracked.desired else {
            let failures = tracked.failures;
            self.retry_later(name, failures);
            return;
        };
        let Some(in_scope) = in_scope(&self.caches, &desired.scope, &self.cluster) else {
            // Its selector's watch has not listed yet; the list schedules it again.
            return;
        };
        let options = reconcile::Options {
            plan: self.options.plan,
            check: false,
            write: &self.options.write,
        };
        let expires = desired
            .credentials
            .iter()
            .filter_map(|c| expiry_of(c.password.expose()))
            .min();
        let outcome =
            reconcile::reconcile(&self.cluster, desired, &copies, &in_scope, &options).await;
        let (result, writes, copies_now) =
            summarize(name, outcome, &self.options.desired.definitions_namespace);
        let tracked = self.tracked.get_mut(name).expect("tracked above");
        tracked.failures = if result.is_ok() {
            0
        } else {
            tracked.failures + 1
        };
        let failures = tracked.failures;
        let refresh_at = tracked.refresh_at;
        self.state.reconciled(
            name,
            result
                .as_ref()
                .map_err(|e| e as &dyn std::error::Error)
                .copied(),
            &writes,
            copies_now,
            expires,
        );
        if failures > 0 {
            self.retry_later(name, failures);
        } else {
            let resync = Instant::now() + self.watch.resync;
            let next = refresh_at.map_or(resync, |at| at.min(resync));
            self.schedule(Work::Credential(name.to_string()), next);
        }
    }

    /// Drops a credential, its series, and the watches no other credential uses.
    fn forget(&mut self, name: &str) {
        if self.tracked.remove(name).is_some() {
            tracing::info!(credential = name, "its definition is gone: forgotten");
        }
        self.state.forget(name);
        let desired = || self.tracked.values().filter_map(|t| t.desired.as_ref());
        let selectors: HashSet<String> = desired()
            .filter_map(|d| match &d.scope.namespaces {
                NamespaceScope::Selector(selector) => Some(selector.clone()),
                _ => None,
            })
            .collect();
        let sources: HashSet<(String, String)> = self
            .tracked
            .values()
            .flat_map(|t| t.sources.iter().cloned())
            .collect();
        self.caches
            .selected
            .retain(|selector, _| selectors.contains(selector));
        self.watched_sources
            .retain(|source, _| sources.contains(source));
    }

    fn retry_later(&self, name: &str, failures: u32) {
        let backoff =
            Duration::from_secs(1u64 << failures.saturating_sub(1).min(9)).min(MAX_BACKOFF);
        tracing::info!(credential = name, retry_in = ?backoff, "will retry");
        self.schedule(Work::Credential(name.to_string()), Instant::now() + backoff);
    }

    /// Reads the credential's sources again. A failure keeps what was read before: a
    /// refresh never blanks the copies.
    async fn load(&mut self, name: &str, found: &Found) {
        let notices = Notices::default();
        // A fresh read every time: a refresh must ask the sources again.
        let reads = ReadOnce::default();
        let local = LocalAnswers {
            explicit: self.explicit.as_ref(),
            reads: &reads,
        };
        let result =
            desired::desired(&self.cluster, &self.options.desired, local, found, &notices).await;
        log_notices(name, &notices);
        let tracked = self.tracked.get_mut(name).expect("tracked by the caller");
        tracked.reload = false;
        match result {
            Ok(desired) => {
                let now = Instant::now();
                tracked.refresh_at = refresh_at(&desired, self.watch.refresh, now);
                tracked.sources = desired
                    .credentials
                    .iter()
                    .filter_map(|c| match &c.origin {
                        Origin::SourceSecret { namespace, name } => {
                            Some((namespace.clone(), name.clone()))
                        }
                        _ => None,
                    })
                    .collect();
                let sources: Vec<String> = desired
                    .credentials
                    .iter()
                    .map(|c| format!("{} from {}", c.registry, c.origin))
                    .collect();
                tracing::info!(credential = name, scope = %desired.recorded, logins = ?sources, next_refresh = ?tracked.refresh_at.map(|at| at - now), "read credentials");
                let selector = match &desired.scope.namespaces {
                    NamespaceScope::Selector(selector) => Some(selector.clone()),
                    _ => None,
                };
                let new_sources: Vec<(String, String)> = tracked
                    .sources
                    .iter()
                    .filter(|s| !self.watched_sources.contains_key(*s))
                    .cloned()
                    .collect();
                tracked.desired = Some(desired);
                self.state.refreshed(name, Ok(()));
                for (namespace, secret) in new_sources {
                    let task =
                        watch_source(&self.cluster, &namespace, &secret, self.triggers_tx.clone());
                    self.watched_sources.insert((namespace, secret), task);
                }
                if let Some(selector) = selector
                    && !self.caches.selected.contains_key(&selector)
                {
                    let watch =
                        watch_namespaces(&self.cluster, Some(&selector), self.triggers_tx.clone());
                    self.caches.selected.insert(selector, watch);
                }
            }
            Err(error) => {
                let message = format!("{error:#}");
                self.state.refreshed(name, Err(&message));
                if tracked.desired.is_some() {
                    tracing::warn!(credential = name, error = %message, "reading the credentials again failed; the copies keep the logins read before");
                    // Try again soon rather than at the next scheduled refresh.
                    tracked.refresh_at = Some(Instant::now() + Duration::from_secs(30));
                } else {
                    tracing::error!(credential = name, error = %message, "cannot read the credentials");
                    tracked.failures += 1;
                }
            }
        }
    }
}

/// Why one reconcile of a credential failed, for the status record and the retry.
#[derive(Debug, thiserror::Error)]
enum ReconcileFailure {
    #[error(transparent)]
    Cluster(#[from] crate::cluster::ClusterError),
    #[error("{}", .0.iter().map(|(namespace, error)| format!("namespace {namespace}: {error}")).collect::<Vec<_>>().join("; "))]
    Writes(Vec<(String, reconcile::StepError)>),
}

/// Logs each step with a write or an error; returns the overall result, the writes by verb,
/// and how many copies the scope now holds.
fn summarize(
    name: &str,
    outcome: Result<Vec<reconcile::StepResult>, crate::cluster::ClusterError>,
    definitions_namespace: &str,
) -> (Result<(), ReconcileFailure>, Vec<&'static str>, u64) {
    let steps = match outcome {
        Ok(steps) => steps,
        Err(error) => {
            tracing::error!(credential = name, %error, "reconcile failed");
            return (Err(error.into()), Vec::new(), 0);
        }
    };
    let mut writes = Vec::new();
    let mut errors = Vec::new();
    let mut copies = 0;
    for step in steps {
        match (&step.step, step.outcome) {
            (_, Err(error)) => {
                tracing::warn!(credential = name, namespace = %step.namespace, %error, "write failed");
                errors.push((step.namespace, error));
            }
            (Step::Conflict { reason } | Step::Skip { reason }, Ok(_)) => {
                tracing::warn!(credential = name, namespace = %step.namespace, reason = %reason, "not written");
            }
            (Step::PruneBlocked { users }, Ok(_)) => {
                tracing::warn!(credential = name, namespace = %step.namespace, users = ?users, "left the scope but still used; not pruned");
            }
            (step_kind, Ok(verb)) => {
                // The definition's own step is not a copy.
                if matches!(step_kind, Step::Create | Step::Update | Step::Unchanged)
                    && step.namespace != definitions_namespace
                {
                    copies += 1;
                }
                if let Some(verb @ ("created" | "configured" | "pruned")) = verb {
                    tracing::info!(credential = name, namespace = %step.namespace, "secret/{name} {verb}");
                    writes.push(verb);
                }
            }
        }
    }
    let result = if errors.is_empty() {
        Ok(())
    } else {
        Err(ReconcileFailure::Writes(errors))
    };
    (result, writes, copies)
}

/// Whether an event on `namespace` can change what `scope` holds.
fn names_namespace(scope: &Scope, namespace: &str, cluster: &Cluster) -> bool {
    scope.admits(namespace)
        && match &scope.namespaces {
            NamespaceScope::Context => namespace == cluster.default_namespace,
            NamespaceScope::Named(names) => names.iter().any(|n| n == namespace),
            NamespaceScope::All => true,
            // Its own watch reports those.
            NamespaceScope::Selector(_) => false,
        }
}

/// The namespaces of `scope` as the caches hold them; `None` until its selector's watch
/// has listed. Named namespaces that do not exist are left out: their creation is an event.
fn in_scope(caches: &Caches, scope: &Scope, cluster: &Cluster) -> Option<Vec<InScope>> {
    let listed = |store: &Store<PartialObjectMeta<Namespace>>| -> Vec<InScope> {
        store
            .state()
            .iter()
            .filter_map(|ns| {
                Some(InScope {
                    name: ns.metadata.name.clone()?,
                    terminating: ns.metadata.deletion_timestamp.is_some(),
                })
            })
            .collect()
    };
    let all = listed(&caches.namespaces);
    let named = |names: &[String]| -> Vec<InScope> {
        all.iter()
            .filter(|ns| names.contains(&ns.name))
            .cloned()
            .collect()
    };
    let mut found = match &scope.namespaces {
        NamespaceScope::Context => named(std::slice::from_ref(&cluster.default_namespace)),
        NamespaceScope::Named(names) => named(names),
        NamespaceScope::All => all.clone(),
        NamespaceScope::Selector(selector) => {
            let (store, _) = caches.selected.get(selector)?;
            store.wait_until_ready().now_or_never()?.ok()?;
            listed(store)
        }
    };
    found.retain(|ns| scope.admits(&ns.name));
    found.sort_by(|a, b| a.name.cmp(&b.name));
    Some(found)
}

/// What each trigger schedules, without watches or a cluster: the loop's decisions alone,
/// over a mocked API service that no decision may call.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::mock;
    use crate::rules::credential::{Credential, Password};
    use crate::rules::registry::Registry;
    use crate::rules::scope::{Exclusions, RecordedScope};
    use futures::channel::mpsc::UnboundedReceiver;

    /// A loop over a mocked API server, and where its scheduled work arrives. Every test ends
    /// with [`decided_alone`]: deciding sends nothing to the API server.
    fn controller(only: Option<&str>) -> (Controller, Scheduled) {
        let (cluster, recorded) = mock::cluster(|call, _| mock::default_answer(call));
        let (namespaces, _) = reflector::store();
        let (copies, _) = reflector::store();
        let (definitions, _) = reflector::store();
        let (schedule, scheduled) = queue::unbounded();
        let options = Options {
            name: only.map(str::to_string),
            desired: desired::Options {
                scope: None,
                look_in: None,
                exclude: None,
                servers: Vec::new(),
                docker_config: None,
                helper_timeout: Duration::from_secs(1),
                allow_removal: false,
                allow_identity_change: false,
                definitions_namespace: "regcred-system".into(),
            },
            plan: PlanOptions {
                prune: false,
                detach: false,
                force: false,
            },
            write: WriteOptions {
                mode: crate::cluster::writes::WriteMode::Persist,
                concurrency: 1,
                field_manager: "test".into(),
            },
            watch: WatchOptions {
                refresh: None,
                resync: Duration::from_secs(600),
                auto_attach: None,
                listen: None,
                metrics_listen: None,
                json_logs: false,
                lease: None,
                heal: None,
                provider_config: None,
            },
        };
        let controller = Controller {
            cluster,
            watch: options.watch.clone(),
            options,
            explicit: None,
            state: Arc::new(State::default()),
            caches: Caches {
                namespaces,
                _namespaces_watch: AbortOnDrop(tokio::spawn(async {}).abort_handle()),
                selected: HashMap::new(),
                copies,
                definitions,
            },
            tracked: BTreeMap::new(),
            unclaimed_logged: HashSet::new(),
            caches_synced: false,
            watched_sources: HashMap::new(),
            workloads: HashMap::new(),
            stuck_pods: HashMap::new(),
            providers: Vec::new(),
            limiter: None,
            triggers_tx: mpsc::unbounded_channel().0,
            schedule: Some(schedule),
        };
        (controller, Scheduled(scheduled, recorded))
    }

    struct Scheduled(UnboundedReceiver<ScheduleRequest<Work>>, mock::Recorded);

    fn decided_alone(scheduled: &Scheduled) {
        assert!(scheduled.1.calls().is_empty(), "{:?}", scheduled.1.calls());
    }

    /// A credential the loop keeps, read, for the namespaces `scope` names.
    fn read(scope: NamespaceScope, sources: &[(&str, &str)]) -> Tracked {
        Tracked {
            desired: Some(Desired {
                name: "regcred".into(),
                credentials: vec![Credential {
                    registry: Registry::parse("quay.io").unwrap(),
                    username: "robot".into(),
                    password: Password::from("pw".to_string()),
                    email: None,
                    origin: Origin::Explicit,
                }],
                scope: Scope {
                    namespaces: scope,
                    exclude: Exclusions::default(),
                    skip_system: true,
                },
                recorded: RecordedScope {
                    namespaces: Vec::new(),
                    all: true,
                    selector: None,
                    exclude: Vec::new(),
                },
                owner: Owner::defined("regcred-system", "regcred", false),
                definition_seen: None,
            }),
            sources: sources
                .iter()
                .map(|(ns, name)| (ns.to_string(), name.to_string()))
                .collect(),
            ..Tracked::default()
        }
    }

    /// What has been scheduled so far.
    fn scheduled(receiver: &mut Scheduled) -> Vec<Work> {
        std::iter::from_fn(|| receiver.0.try_recv().ok())
            .map(|request| request.message)
            .collect()
    }

    fn credential(name: &str) -> Work {
        Work::Credential(name.to_string())
    }

    #[tokio::test]
    async fn a_copy_event_schedules_only_a_credential_the_loop_keeps() {
        let (mut controller, mut receiver) = controller(None);
        controller.on_trigger(Trigger::Copy {
            name: "look-alike".into(),
            namespace: "team-a".into(),
        });
        assert!(scheduled(&mut receiver).is_empty());
        controller
            .tracked
            .insert("regcred".into(), Tracked::default());
        controller.on_trigger(Trigger::Copy {
            name: "regcred".into(),
            namespace: "team-a".into(),
        });
        assert_eq!(scheduled(&mut receiver), [credential("regcred")]);
        decided_alone(&receiver);
    }

    #[tokio::test]
    async fn a_definition_event_starts_keeping_it_unless_another_name_was_asked_for() {
        let (mut controller, mut receiver) = controller(Some("regcred"));
        controller.on_trigger(Trigger::Definition("other".into()));
        assert!(scheduled(&mut receiver).is_empty());
        assert!(!controller.tracked.contains_key("other"));
        controller.on_trigger(Trigger::Definition("regcred".into()));
        assert_eq!(scheduled(&mut receiver), [credential("regcred")]);
        assert!(
            controller.tracked["regcred"].reload,
            "a new definition is read"
        );
        decided_alone(&receiver);
    }

    #[tokio::test]
    async fn a_source_event_reads_again_only_the_credentials_that_read_it() {
        let (mut controller, mut receiver) = controller(None);
        let all = NamespaceScope::All;
        controller
            .tracked
            .insert("from-src".into(), read(all.clone(), &[("src", "upstream")]));
        controller
            .tracked
            .insert("other".into(), read(all, &[("src", "another")]));
        controller.on_trigger(Trigger::Source {
            namespace: "src".into(),
            name: "upstream".into(),
        });
        assert_eq!(scheduled(&mut receiver), [credential("from-src")]);
        assert!(controller.tracked["from-src"].reload);
        assert!(!controller.tracked["other"].reload);
        decided_alone(&receiver);
    }

    #[tokio::test]
    async fn a_namespace_event_schedules_the_credentials_whose_scope_admits_it() {
        let (mut controller, mut receiver) = controller(None);
        let named = |names: &[&str]| {
            NamespaceScope::Named(names.iter().map(|name| name.to_string()).collect())
        };
        controller
            .tracked
            .insert("a-only".into(), read(named(&["team-a"]), &[]));
        controller
            .tracked
            .insert("b-only".into(), read(named(&["team-b"]), &[]));
        // Not read yet and failing: its backoff retries it, not every namespace event.
        controller.tracked.insert(
            "failing".into(),
            Tracked {
                failures: 2,
                ..Tracked::default()
            },
        );
        controller.on_trigger(Trigger::Namespace("team-a".into()));
        assert_eq!(scheduled(&mut receiver), [credential("a-only")]);
        decided_alone(&receiver);
    }
}
