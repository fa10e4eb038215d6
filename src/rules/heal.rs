//! `--heal` (docs/controller.md, "Pods that heal"): which Pods stuck on a failed pull would
//! pull if they were made again.
//!
//! A Pod's `imagePullSecrets` are fixed when it is admitted: a Pod made before its
//! ServiceAccount (or its owner's template) got the Secret it needs stays in
//! `ImagePullBackOff` forever. Its owner makes a new one when it is deleted, and the new one
//! is admitted with the Secrets of today. Deleting is the cure only when the new Pod would
//! get a credential the old one lacks, and only for a Pod an owner makes again.

use std::collections::BTreeMap;

use serde_json::Value;

use super::diagnosis::{PodInputs, SecretState, Verdict, diagnose};
use super::kinds;

/// A container's waiting reason for a failed pull (the kubelet's `ErrImagePull`, and the
/// back-off after it).
pub const PULL_FAILURES: [&str; 2] = ["ErrImagePull", "ImagePullBackOff"];

/// A container of the Pod that waits on a failed pull.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StuckPull {
    /// The container's name.
    pub container: String,
    /// The image of that container in the Pod's spec.
    pub image: String,
    /// `ErrImagePull` or `ImagePullBackOff`.
    pub reason: String,
}

/// The Pod's containers (init, regular, ephemeral) that wait on a failed pull.
pub fn stuck_pulls(pod: &Value) -> Vec<StuckPull> {
    let spec = &pod["spec"];
    let image_of = |name: &str| {
        ["initContainers", "containers", "ephemeralContainers"]
            .iter()
            .flat_map(|field| spec[field].as_array().into_iter().flatten())
            .find(|c| c["name"].as_str() == Some(name))
            .and_then(|c| c["image"].as_str())
            .map(str::to_string)
    };
    [
        "initContainerStatuses",
        "containerStatuses",
        "ephemeralContainerStatuses",
    ]
    .iter()
    .flat_map(|field| pod["status"][field].as_array().into_iter().flatten())
    .filter_map(|status| {
        let reason = status["state"]["waiting"]["reason"].as_str()?;
        if !PULL_FAILURES.contains(&reason) {
            return None;
        }
        let container = status["name"].as_str()?.to_string();
        let image =
            image_of(&container).or_else(|| status["image"].as_str().map(str::to_string))?;
        Some(StuckPull {
            container,
            image,
            reason: reason.to_string(),
        })
    })
    .collect()
}

/// The controller of a Pod, from its `ownerReferences`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Controller {
    /// `apps/v1`, `batch/v1`, ...
    pub api_version: String,
    /// `ReplicaSet`, `StatefulSet`, ...
    pub kind: String,
    /// Its name, in the Pod's namespace.
    pub name: String,
}

impl Controller {
    /// The workload kind it is, when it is one of ours that makes Pods from a template
    /// (ReplicaSet, StatefulSet, DaemonSet, Job) in the group that kind belongs to.
    pub fn template_kind(&self) -> Option<kinds::Kind> {
        use kinds::Kind;
        let kind = Kind::parse(&self.kind)?;
        let group = self
            .api_version
            .rsplit_once('/')
            .map_or("", |(group, _)| group);
        let makes_pods = matches!(
            kind,
            Kind::ReplicaSet | Kind::StatefulSet | Kind::DaemonSet | Kind::Job
        );
        (makes_pods && group == kind.group()).then_some(kind)
    }
}

/// The controller that owns the Pod: what makes it again once deleted. `None` for a bare
/// Pod, which nothing would make again.
pub fn controller_of(pod: &Value) -> Option<Controller> {
    pod["metadata"]["ownerReferences"]
        .as_array()?
        .iter()
        .find(|r| r["controller"].as_bool() == Some(true))
        .and_then(|r| {
            Some(Controller {
                api_version: r["apiVersion"].as_str()?.to_string(),
                kind: r["kind"].as_str()?.to_string(),
                name: r["name"].as_str()?.to_string(),
            })
        })
}

/// Why deleting the Pod heals it: an image it cannot pull that a Pod made now would pull
/// with `secret`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remedy {
    /// The image that fails now and would pull.
    pub image: String,
    /// The Secret a new Pod would use for it.
    pub secret: String,
}

/// Whether a Pod made again would pull what this one cannot. `pod_spec` is the stuck Pod's
/// spec (its `imagePullSecrets` as admitted), `template_spec` its owner's pod template,
/// `account_secrets` the `imagePullSecrets` of its ServiceAccount now (`None`: no such
/// ServiceAccount), `secrets` every Secret these name, as the kubelet reads them, and `now`
/// judges expiry.
pub fn remedy(
    pod_spec: &Value,
    template_spec: &Value,
    account_secrets: Option<&[String]>,
    secrets: &BTreeMap<String, SecretState>,
    stuck: &[StuckPull],
    now: k8s_openapi::jiff::Timestamp,
) -> Option<Remedy> {
    let own = kinds::pull_secret_names(pod_spec);
    let template = kinds::pull_secret_names(template_spec);
    let no_refusals = BTreeMap::new();
    let pod = PodInputs {
        own: &own,
        is_pod: true,
        service_account: None,
        secrets,
        auth_failures: &[],
        probe_refusals: &no_refusals,
        now,
    };
    // A new Pod gets the template's list, or the ServiceAccount's when it lists none
    // (ServiceAccount admission: docs/semantics.md §7).
    let remade = PodInputs {
        own: &template,
        is_pod: false,
        service_account: account_secrets,
        ..pod
    };
    stuck.iter().find_map(|stuck| {
        let Verdict::Ok { secret, .. } = diagnose(&stuck.image, &remade) else {
            return None;
        };
        let fails_now = !matches!(diagnose(&stuck.image, &pod), Verdict::Ok { .. });
        fails_now.then(|| Remedy {
            image: stuck.image.clone(),
            secret,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::kubelet::parse_secret;
    use serde_json::json;

    fn pod(pull_secrets: &[&str], waiting: &str) -> Value {
        let secrets: Vec<Value> = pull_secrets.iter().map(|n| json!({"name": n})).collect();
        json!({
            "metadata": {"name": "web-1", "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-5d8c", "uid": "u", "controller": true}
            ]},
            "spec": {"imagePullSecrets": secrets, "containers": [
                {"name": "app", "image": "quay.io/team/app:1"},
                {"name": "side", "image": "docker.io/library/busybox"},
            ]},
            "status": {"phase": "Pending", "containerStatuses": [
                {"name": "app", "image": "quay.io/team/app:1", "state": {"waiting": {"reason": waiting}}},
                {"name": "side", "image": "busybox", "state": {"running": {}}},
            ]},
        })
    }

    fn now() -> k8s_openapi::jiff::Timestamp {
        "2026-12-08T00:00:00Z".parse().unwrap()
    }

    fn states() -> BTreeMap<String, SecretState> {
        let secret: k8s_openapi::api::core::v1::Secret = serde_json::from_value(json!({
            "type": "kubernetes.io/dockerconfigjson",
            "data": {".dockerconfigjson": "eyJhdXRocyI6eyJxdWF5LmlvIjp7ImF1dGgiOiJjbTlpYjNRNmNIYz0ifX19"},
        }))
        .unwrap();
        BTreeMap::from([(
            "regcred".to_string(),
            SecretState::from_parse(parse_secret(&secret)),
        )])
    }

    #[test]
    fn a_pod_admitted_before_its_serviceaccount_got_the_secret_heals() {
        let stuck_pod = pod(&[], "ImagePullBackOff");
        let stuck = stuck_pulls(&stuck_pod);
        assert_eq!(stuck.len(), 1);
        assert_eq!(stuck[0].image, "quay.io/team/app:1");
        let owner = controller_of(&stuck_pod).unwrap();
        assert_eq!(
            (owner.kind.as_str(), owner.name.as_str()),
            ("ReplicaSet", "web-5d8c")
        );
        assert_eq!(owner.template_kind(), Some(kinds::Kind::ReplicaSet));
        // A ReplicaSet of another API group is not ours to read.
        let other = Controller {
            api_version: "example.com/v1".into(),
            ..owner
        };
        assert_eq!(other.template_kind(), None);
        let account = vec!["regcred".to_string()];
        let template = json!({"containers": []});
        assert_eq!(
            remedy(
                &stuck_pod["spec"],
                &template,
                Some(&account),
                &states(),
                &stuck,
                now()
            ),
            Some(Remedy {
                image: "quay.io/team/app:1".into(),
                secret: "regcred".into()
            })
        );
    }

    #[test]
    fn nothing_heals_what_a_new_pod_could_not_pull_either_or_what_pulls_now() {
        let stuck_pod = pod(&[], "ErrImagePull");
        let stuck = stuck_pulls(&stuck_pod);
        let template = json!({"containers": []});
        // The ServiceAccount has nothing either.
        assert_eq!(
            remedy(
                &stuck_pod["spec"],
                &template,
                Some(&[]),
                &states(),
                &stuck,
                now()
            ),
            None
        );
        // The template lists its own (empty of the match): the ServiceAccount's are ignored.
        let own_list = json!({"imagePullSecrets": [{"name": "other"}]});
        let account = vec!["regcred".to_string()];
        assert_eq!(
            remedy(
                &stuck_pod["spec"],
                &own_list,
                Some(&account),
                &states(),
                &stuck,
                now()
            ),
            None
        );
        // The Pod already has the Secret: its failure is something else (a bad password).
        let has_it = pod(&["regcred"], "ImagePullBackOff");
        let stuck = stuck_pulls(&has_it);
        assert_eq!(
            remedy(
                &has_it["spec"],
                &template,
                Some(&account),
                &states(),
                &stuck,
                now()
            ),
            None
        );
    }

    #[test]
    fn only_pull_failures_count_and_bare_pods_have_no_controller() {
        let crashing = pod(&[], "CrashLoopBackOff");
        assert!(stuck_pulls(&crashing).is_empty());
        let mut bare = pod(&[], "ImagePullBackOff");
        bare["metadata"]["ownerReferences"] = json!([]);
        assert_eq!(controller_of(&bare), None);
    }
}
