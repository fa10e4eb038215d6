//! Leader election on a `coordination.k8s.io/v1` Lease, as client-go's leaderelection does
//! it (docs/controller.md): the holder renews every retry period; another replica takes
//! over only when it has seen no renewal for a whole lease duration *by its own clock*
//! (never by comparing the holder's timestamps with its clock, so clock skew is harmless);
//! every write is guarded by the `resourceVersion` read, so two replicas can never both win.
//! On shutdown the holder releases the Lease so that a follower takes over at once.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, PostParams};
use tokio::sync::watch;
use tokio::time::Instant;

use super::state::{STATUS_ANNOTATION, State};

/// What a replica should do with the Lease as it was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    /// No Lease yet: create it, holding it.
    Create,
    /// We hold it: renew.
    Renew,
    /// Free, released, or not renewed for a lease duration: take it.
    TakeOver,
    /// Someone else holds it.
    Follow,
}

/// The last holder and renewal seen, and when (by our clock) they last changed.
#[derive(Debug, Clone, Default)]
pub(crate) struct Observation {
    record: Option<(Option<String>, Option<Timestamp>)>,
    since: Option<Instant>,
}

/// Decides from the Lease as read. `now` is our monotonic clock.
pub(crate) fn decide(
    spec: Option<&LeaseSpec>,
    identity: &str,
    duration: Duration,
    observation: &mut Observation,
    now: Instant,
) -> Decision {
    let Some(spec) = spec else {
        return Decision::Create;
    };
    let holder = spec.holder_identity.clone().filter(|h| !h.is_empty());
    if holder.as_deref() == Some(identity) {
        return Decision::Renew;
    }
    if holder.is_none() {
        return Decision::TakeOver;
    }
    let record = (holder, spec.renew_time.as_ref().map(|t| t.0));
    if observation.record.as_ref() != Some(&record) {
        observation.record = Some(record);
        observation.since = Some(now);
    }
    // The holder's own duration counts, as in client-go; ours if it gives none.
    let held_for = spec
        .lease_duration_seconds
        .and_then(|s| u64::try_from(s).ok())
        .map(Duration::from_secs)
        .unwrap_or(duration);
    match observation.since {
        Some(since) if now.duration_since(since) >= held_for => Decision::TakeOver,
        _ => Decision::Follow,
    }
}

pub(crate) struct Elector {
    pub(crate) api: Api<Lease>,
    pub(crate) name: String,
    pub(crate) identity: String,
    pub(crate) duration: Duration,
}

impl Elector {
    /// How often the holder renews and the others look.
    fn retry_period(&self) -> Duration {
        (self.duration / 7).clamp(Duration::from_millis(500), Duration::from_secs(2))
    }

    /// Runs until `stop` turns true; publishes leadership on `leader`, then releases the
    /// Lease if held.
    pub(crate) async fn run(
        self,
        leader: watch::Sender<bool>,
        state: Arc<State>,
        mut stop: watch::Receiver<bool>,
    ) {
        let mut observation = Observation::default();
        let mut last_renewal: Option<Instant> = None;
        loop {
            let holding = match self.try_acquire_or_renew(&mut observation, &state).await {
                Ok(holding) => {
                    if holding {
                        last_renewal = Some(Instant::now());
                    }
                    holding
                }
                Err(error) => {
                    tracing::warn!(lease = %self.name, %error, "reading or renewing the Lease failed");
                    // Keep leading only while the last renewal is surely still valid.
                    *leader.borrow()
                        && last_renewal.is_some_and(|at| at.elapsed() < self.duration * 2 / 3)
                }
            };
            if holding != *leader.borrow() {
                if holding {
                    tracing::info!(lease = %self.name, identity = %self.identity, "became the leader");
                } else {
                    tracing::info!(lease = %self.name, "no longer the leader");
                }
            }
            state.set_leader(holding);
            leader.send_replace(holding);
            tokio::select! {
                _ = tokio::time::sleep(self.retry_period()) => {}
                _ = stop.wait_for(|stop| *stop) => break,
            }
        }
        if *leader.borrow() {
            leader.send_replace(false);
            state.set_leader(false);
            match self.release().await {
                Ok(()) => tracing::info!(lease = %self.name, "released the Lease"),
                Err(error) => {
                    tracing::warn!(lease = %self.name, %error, "releasing the Lease failed")
                }
            }
        }
    }

    async fn try_acquire_or_renew(
        &self,
        observation: &mut Observation,
        state: &State,
    ) -> Result<bool, kube::Error> {
        let current = self.api.get_opt(&self.name).await?;
        let decision = decide(
            current.as_ref().and_then(|l| l.spec.as_ref()),
            &self.identity,
            self.duration,
            observation,
            Instant::now(),
        );
        let now = MicroTime(Timestamp::now());
        let status = serde_json::to_string(&state.record()).unwrap_or_default();
        let post = PostParams::default();
        let result = match (decision, current) {
            (Decision::Follow, _) => return Ok(false),
            (Decision::Create, _) => {
                let lease = Lease {
                    metadata: ObjectMeta {
                        name: Some(self.name.clone()),
                        annotations: Some([(STATUS_ANNOTATION.to_string(), status)].into()),
                        ..Default::default()
                    },
                    spec: Some(LeaseSpec {
                        holder_identity: Some(self.identity.clone()),
                        lease_duration_seconds: Some(self.duration.as_secs() as i32),
                        acquire_time: Some(now.clone()),
                        renew_time: Some(now),
                        lease_transitions: Some(0),
                        ..Default::default()
                    }),
                };
                self.api.create(&post, &lease).await.map(|_| ())
            }
            (decision, Some(mut lease)) => {
                let spec = lease.spec.get_or_insert_with(Default::default);
                if decision == Decision::TakeOver {
                    spec.holder_identity = Some(self.identity.clone());
                    spec.acquire_time = Some(now.clone());
                    spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
                }
                spec.lease_duration_seconds = Some(self.duration.as_secs() as i32);
                spec.renew_time = Some(now);
                lease
                    .metadata
                    .annotations
                    .get_or_insert_with(Default::default)
                    .insert(STATUS_ANNOTATION.to_string(), status);
                // Guarded by the resourceVersion read: a rival's write in between wins.
                self.api
                    .replace(&self.name, &post, &lease)
                    .await
                    .map(|_| ())
            }
            (_, None) => return Ok(false),
        };
        match result {
            Ok(()) => Ok(true),
            Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// Gives the Lease up: no holder, and a one-second duration, as client-go's
    /// `ReleaseOnCancel` leaves it.
    async fn release(&self) -> Result<(), kube::Error> {
        let Some(mut lease) = self.api.get_opt(&self.name).await? else {
            return Ok(());
        };
        let spec = lease.spec.get_or_insert_with(Default::default);
        if spec.holder_identity.as_deref() != Some(self.identity.as_str()) {
            return Ok(());
        }
        spec.holder_identity = None;
        spec.lease_duration_seconds = Some(1);
        spec.renew_time = Some(MicroTime(Timestamp::now()));
        self.api
            .replace(&self.name, &PostParams::default(), &lease)
            .await
            .map(|_| ())
    }
}

/// The name this replica holds the Lease by: the Pod name when in a Pod (its hostname),
/// plus a random suffix so that a restarted process never mistakes the old holder for itself.
pub(crate) fn identity() -> String {
    let host = std::env::var("POD_NAME")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_string())
        })
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "kubectl-regcred".to_string());
    format!("{host}_{:08x}", fastrand::u32(..))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(holder: Option<&str>, renewed: i64) -> LeaseSpec {
        LeaseSpec {
            holder_identity: holder.map(String::from),
            lease_duration_seconds: Some(15),
            renew_time: Some(MicroTime(Timestamp::from_second(renewed).unwrap())),
            ..Default::default()
        }
    }

    #[test]
    fn takes_over_only_after_a_full_duration_without_renewal_by_our_clock() {
        let duration = Duration::from_secs(15);
        let mut seen = Observation::default();
        let start = Instant::now();
        let other = spec(Some("a"), 100);
        assert_eq!(
            decide(None, "me", duration, &mut seen, start),
            Decision::Create
        );
        assert_eq!(
            decide(Some(&other), "me", duration, &mut seen, start),
            Decision::Follow
        );
        // A renewal resets our clock, however old its timestamp looks.
        let later = start + Duration::from_secs(10);
        assert_eq!(
            decide(Some(&spec(Some("a"), 1)), "me", duration, &mut seen, later),
            Decision::Follow
        );
        assert_eq!(
            decide(
                Some(&spec(Some("a"), 1)),
                "me",
                duration,
                &mut seen,
                later + Duration::from_secs(14)
            ),
            Decision::Follow
        );
        assert_eq!(
            decide(
                Some(&spec(Some("a"), 1)),
                "me",
                duration,
                &mut seen,
                later + Duration::from_secs(15)
            ),
            Decision::TakeOver
        );
    }

    #[test]
    fn renews_its_own_and_takes_a_released_lease_at_once() {
        let duration = Duration::from_secs(15);
        let mut seen = Observation::default();
        let now = Instant::now();
        assert_eq!(
            decide(Some(&spec(Some("me"), 1)), "me", duration, &mut seen, now),
            Decision::Renew
        );
        assert_eq!(
            decide(Some(&spec(None, 1)), "me", duration, &mut seen, now),
            Decision::TakeOver
        );
        assert_eq!(
            decide(Some(&spec(Some(""), 1)), "me", duration, &mut seen, now),
            Decision::TakeOver
        );
    }
}
