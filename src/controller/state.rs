//! What the watch loop knows about itself, shared with the HTTP endpoints and the Lease
//! loop: readiness, leadership, counters for `/metrics` (Prometheus text format 0.0.4),
//! and the status record `controller status` reads (docs/controller.md).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;

use k8s_openapi::jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// One credential as the leader last saw it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CredentialStatus {
    /// When it was last reconciled (RFC 3339).
    pub(crate) last_reconcile: String,
    /// `ok`, or the last error.
    pub(crate) result: String,
    pub(crate) copies: u64,
    /// Failures in a row; the retry waits longer after each.
    pub(crate) consecutive_failures: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) expires_at: Option<String>,
    /// When its logins were last read from their sources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) last_refresh: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) refresh_error: Option<String>,
}

/// The status record the leader keeps on its Lease (annotation [`STATUS_ANNOTATION`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StatusRecord {
    pub(crate) credentials: BTreeMap<String, CredentialStatus>,
    #[serde(default)]
    pub(crate) writes: u64,
    #[serde(default)]
    pub(crate) errors: u64,
    /// `--heal`: the latest Pods deleted so their owners make them again, newest last.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) healed: Vec<HealedPod>,
}

/// A Pod `--heal` deleted.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct HealedPod {
    /// `namespace/name`.
    pub(crate) pod: String,
    /// `replicaset/web-5d8c`: what makes it again.
    pub(crate) owner: String,
    pub(crate) image: String,
    /// The Secret the new Pod gets for the image.
    pub(crate) secret: String,
    pub(crate) at: String,
}

/// How many healed Pods the status record keeps.
const HEALED_KEPT: usize = 20;

pub(crate) const STATUS_ANNOTATION: &str = "kubectl-regcred/status";

#[derive(Default)]
struct Inner {
    caches_synced: bool,
    leader: bool,
    /// The Lease is held or watched (or no election is configured).
    lease_known: bool,
    reconciles: BTreeMap<(String, &'static str), u64>,
    refresh_failures: BTreeMap<String, u64>,
    writes: BTreeMap<&'static str, u64>,
    attaches: BTreeMap<&'static str, u64>,
    heals: BTreeMap<&'static str, u64>,
    expiry: BTreeMap<String, Timestamp>,
    /// Secrets with our label that no definition this loop follows claims.
    unclaimed: u64,
    record: StatusRecord,
}

#[derive(Default)]
pub(crate) struct State {
    inner: Mutex<Inner>,
}

impl State {
    fn with<R>(&self, f: impl FnOnce(&mut Inner) -> R) -> R {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut inner)
    }

    /// How many Secrets with our label no definition claims (docs/controller.md).
    pub(crate) fn set_unclaimed(&self, count: u64) {
        self.with(|s| s.unclaimed = count);
    }

    pub(crate) fn set_caches_synced(&self) {
        self.with(|s| s.caches_synced = true);
    }

    pub(crate) fn set_leader(&self, leader: bool) {
        self.with(|s| {
            s.leader = leader;
            s.lease_known = true;
        });
    }

    pub(crate) fn is_ready(&self) -> bool {
        self.with(|s| s.caches_synced && s.lease_known)
    }

    pub(crate) fn record(&self) -> StatusRecord {
        self.with(|s| s.record.clone())
    }

    /// One reconcile of `credential`: its result, the writes it made by verb, and how many
    /// copies it now has.
    pub(crate) fn reconciled(
        &self,
        credential: &str,
        outcome: Result<(), &dyn std::error::Error>,
        writes: &[&'static str],
        copies: u64,
        expires: Option<Timestamp>,
    ) {
        let now = Timestamp::now();
        self.with(|s| {
            let result = if outcome.is_ok() { "success" } else { "error" };
            *s.reconciles
                .entry((credential.to_string(), result))
                .or_default() += 1;
            for verb in writes {
                *s.writes.entry(verb).or_default() += 1;
            }
            s.record.writes += writes.len() as u64;
            match expires {
                Some(at) => s.expiry.insert(credential.to_string(), at),
                None => s.expiry.remove(credential),
            };
            let status = s
                .record
                .credentials
                .entry(credential.to_string())
                .or_default();
            status.last_reconcile = now.to_string();
            status.copies = copies;
            status.expires_at = expires.map(|at| at.to_string());
            match outcome {
                Ok(()) => {
                    status.result = "ok".into();
                    status.consecutive_failures = 0;
                }
                Err(error) => {
                    status.result = error.to_string();
                    status.consecutive_failures += 1;
                    s.record.errors += 1;
                }
            }
        });
    }

    /// A read of `credential`'s sources: `Err` keeps the old logins.
    pub(crate) fn refreshed(&self, credential: &str, outcome: Result<(), &dyn std::fmt::Display>) {
        let now = Timestamp::now();
        self.with(|s| {
            let status = s
                .record
                .credentials
                .entry(credential.to_string())
                .or_default();
            match outcome {
                Ok(()) => {
                    status.last_refresh = Some(now.to_string());
                    status.refresh_error = None;
                }
                Err(error) => {
                    *s.refresh_failures
                        .entry(credential.to_string())
                        .or_default() += 1;
                    status.refresh_error = Some(error.to_string());
                }
            }
        });
    }

    /// A credential that is gone: its series go too, so that credentials created and deleted
    /// (look-alikes among them) cost nothing once gone.
    pub(crate) fn forget(&self, credential: &str) {
        self.with(|s| {
            s.record.credentials.remove(credential);
            s.expiry.remove(credential);
            s.refresh_failures.remove(credential);
            s.reconciles.retain(|(name, _), _| name != credential);
        });
    }

    /// A Pod `--heal` deleted.
    pub(crate) fn healed(&self, pod: &str, owner: &str, image: &str, secret: &str) {
        self.with(|s| {
            *s.heals.entry("healed").or_default() += 1;
            s.record.healed.push(HealedPod {
                pod: pod.into(),
                owner: owner.into(),
                image: image.into(),
                secret: secret.into(),
                at: Timestamp::now().to_string(),
            });
            let extra = s.record.healed.len().saturating_sub(HEALED_KEPT);
            s.record.healed.drain(..extra);
        });
    }

    /// A `--heal` attempt that deleted nothing: `limited` or `error`.
    pub(crate) fn heal_result(&self, result: &'static str) {
        self.with(|s| *s.heals.entry(result).or_default() += 1);
    }

    /// One auto-attach decision: `attached`, `unchanged`, `skipped` or `error`.
    pub(crate) fn attach(&self, result: &'static str) {
        self.with(|s| *s.attaches.entry(result).or_default() += 1);
    }

    /// The Prometheus text exposition of every metric.
    pub(crate) fn metrics(&self, now: Timestamp) -> String {
        self.with(|s| {
            let mut out = String::new();
            let mut family = |name: &str, kind: &str, help: &str, samples: Vec<(String, f64)>| {
                let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
                for (labels, value) in samples {
                    let _ = writeln!(out, "{name}{labels} {value}");
                }
            };
            family(
                "regcred_reconciles_total",
                "counter",
                "Reconciles of a credential, by result.",
                s.reconciles
                    .iter()
                    .map(|((credential, result), n)| {
                        (
                            labels(&[("credential", credential), ("result", result)]),
                            *n as f64,
                        )
                    })
                    .collect(),
            );
            family(
                "regcred_reconcile_errors_total",
                "counter",
                "Reconciles that failed, per credential.",
                s.record
                    .credentials
                    .keys()
                    .map(|credential| {
                        let n = s
                            .reconciles
                            .get(&(credential.clone(), "error"))
                            .copied()
                            .unwrap_or(0);
                        (labels(&[("credential", credential)]), n as f64)
                    })
                    .collect(),
            );
            family(
                "regcred_refresh_errors_total",
                "counter",
                "Reads of a credential's sources that failed (the old copies are kept).",
                s.record
                    .credentials
                    .keys()
                    .map(|credential| {
                        let n = s.refresh_failures.get(credential).copied().unwrap_or(0);
                        (labels(&[("credential", credential)]), n as f64)
                    })
                    .collect(),
            );
            family(
                "regcred_writes_total",
                "counter",
                "Writes to copies, by kind (created, configured, pruned).",
                ["created", "configured", "pruned"]
                    .iter()
                    .map(|kind| {
                        let n = s.writes.get(kind).copied().unwrap_or(0);
                        (labels(&[("kind", kind)]), n as f64)
                    })
                    .collect(),
            );
            family(
                "regcred_auto_attach_total",
                "counter",
                "Auto-attach decisions on workloads and ServiceAccounts, by result.",
                s.attaches
                    .iter()
                    .map(|(result, n)| (labels(&[("result", result)]), *n as f64))
                    .collect(),
            );
            family(
                "regcred_heal_total",
                "counter",
                "--heal: Pods deleted so their owners make them again (healed), and attempts that waited for --heal-limit (limited) or failed (error).",
                s.heals
                    .iter()
                    .map(|(result, n)| (labels(&[("result", result)]), *n as f64))
                    .collect(),
            );
            family(
                "regcred_copies",
                "gauge",
                "Copies of a credential in its scope after the last reconcile.",
                s.record
                    .credentials
                    .iter()
                    .map(|(credential, status)| {
                        (labels(&[("credential", credential)]), status.copies as f64)
                    })
                    .collect(),
            );
            family(
                "regcred_expiry_seconds",
                "gauge",
                "Seconds until a credential's earliest login expires (negative: expired).",
                s.expiry
                    .iter()
                    .map(|(credential, at)| {
                        let seconds = at.duration_since(now).as_secs_f64().round();
                        (labels(&[("credential", credential)]), seconds)
                    })
                    .collect(),
            );
            family(
                "regcred_unclaimed_secrets",
                "gauge",
                "Pull Secrets with our label that no definition claims: standalone ones and look-alikes, never followed. One series, however many.",
                vec![(String::new(), s.unclaimed as f64)],
            );
            family(
                "regcred_leader",
                "gauge",
                "1 while this instance holds the Lease (or runs without election).",
                vec![(String::new(), f64::from(u8::from(s.leader)))],
            );
            family(
                "regcred_ready",
                "gauge",
                "1 once the caches are synced and the Lease is held or watched.",
                vec![(
                    String::new(),
                    f64::from(u8::from(s.caches_synced && s.lease_known)),
                )],
            );
            out
        })
    }
}

/// `{a="x",b="y"}`, with values escaped as the text format requires.
fn labels(pairs: &[(&str, &str)]) -> String {
    let inner: Vec<String> = pairs
        .iter()
        .map(|(name, value)| {
            let escaped = value
                .replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n");
            format!("{name}=\"{escaped}\"")
        })
        .collect();
    format!("{{{}}}", inner.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_move_and_labels_are_escaped() {
        let state = State::default();
        state.reconciled("a\"b", Ok(()), &["created", "created"], 2, None);
        let boom = std::io::Error::other("boom");
        state.reconciled("a\"b", Err(&boom), &[], 2, None);
        let text = state.metrics(Timestamp::now());
        assert!(
            text.contains("regcred_reconciles_total{credential=\"a\\\"b\",result=\"success\"} 1")
        );
        assert!(text.contains("regcred_reconcile_errors_total{credential=\"a\\\"b\"} 1"));
        assert!(text.contains("regcred_writes_total{kind=\"created\"} 2"));
        assert!(text.contains("regcred_leader 0"));
        let record = state.record();
        assert_eq!(record.credentials["a\"b"].consecutive_failures, 1);
        assert_eq!(record.credentials["a\"b"].result, "boom");
    }

    #[test]
    fn healed_pods_are_counted_and_the_record_keeps_the_latest() {
        let state = State::default();
        for i in 0..25 {
            state.healed(&format!("ns/web-{i}"), "replicaset/web-1", "quay.io/a:1", "regcred");
        }
        state.heal_result("limited");
        let text = state.metrics(Timestamp::now());
        assert!(text.contains("regcred_heal_total{result=\"healed\"} 25"), "{text}");
        assert!(text.contains("regcred_heal_total{result=\"limited\"} 1"), "{text}");
        let record = state.record();
        assert_eq!(record.healed.len(), HEALED_KEPT);
        assert_eq!(record.healed.last().unwrap().pod, "ns/web-24");
        // The record round-trips through the Lease annotation `controller status` reads.
        let text = serde_json::to_string(&record).unwrap();
        assert_eq!(serde_json::from_str::<StatusRecord>(&text).unwrap(), record);
    }

    #[test]
    fn ready_needs_caches_and_lease() {
        let state = State::default();
        assert!(!state.is_ready());
        state.set_caches_synced();
        assert!(!state.is_ready());
        state.set_leader(false);
        assert!(state.is_ready());
    }
}
