//! `controller manifests`: everything that runs `sync --watch` in a cluster, with the least
//! privilege it needs (docs/controller.md explains each rule). `deploy/` holds the default
//! output, and a test keeps the two equal.

use std::fmt::Write as _;

use super::attach::AutoAttach;

/// What `controller manifests` prints.
#[derive(Debug, Clone)]
pub(crate) struct ManifestsOptions {
    pub(crate) namespace: String,
    pub(crate) image: String,
    pub(crate) auto_attach: Option<AutoAttach>,
    pub(crate) refresh: Option<String>,
    pub(crate) replicas: u16,
    /// `--heal`: delete stuck Pods a new Pod would heal (docs/controller.md).
    pub(crate) heal: bool,
}

/// The port `/healthz` and `/readyz` are served on, for the kubelet's probes.
const PORT: u16 = 8080;
/// `/metrics` names credentials: served on the Pod's loopback only (docs/controller.md).
const METRICS: &str = "127.0.0.1:9090";

pub(crate) fn render(settings: &ManifestsOptions) -> String {
    let ns = &settings.namespace;
    let mut args = vec![
        "sync".to_string(),
        "--watch".into(),
        "--leader-elect".into(),
        format!("--listen=0.0.0.0:{PORT}"),
        format!("--metrics-listen={METRICS}"),
        "--log-format=json".into(),
        // It follows the definitions beside it, which only its operators may write.
        format!("--definitions-namespace={ns}"),
    ];
    if let Some(refresh) = &settings.refresh {
        args.push(format!("--refresh={refresh}"));
    }
    match settings.auto_attach {
        Some(AutoAttach::Workloads) => args.push("--auto-attach=workloads".into()),
        Some(AutoAttach::WorkloadsAndServiceAccounts) => {
            args.push("--auto-attach=serviceaccounts".into())
        }
        None => {}
    }
    if settings.heal {
        args.push("--heal".into());
    }
    let args: String = args
        .iter()
        .map(|arg| format!("            - {arg}\n"))
        .collect();
    let mut attach_rules = String::new();
    if settings.auto_attach.is_some() {
        // `--auto-attach`: read workloads, and patch their pod templates.
        attach_rules.push_str(
            "  - apiGroups: [apps]
    resources: [deployments, statefulsets, daemonsets]
    verbs: [get, list, watch, patch]
  - apiGroups: [batch]
    resources: [cronjobs]
    verbs: [get, list, watch, patch]
",
        );
    }
    if settings.auto_attach == Some(AutoAttach::WorkloadsAndServiceAccounts) {
        // ServiceAccounts: a guarded read-modify-write (update), plus the record (patch).
        attach_rules.push_str(
            "  - apiGroups: [\"\"]
    resources: [serviceaccounts]
    verbs: [get, list, watch, update, patch]
",
        );
    }
    if settings.heal {
        // `--heal`: watch pending Pods and delete the stuck ones; read what would remake
        // them (their owners' templates) and their ServiceAccounts.
        attach_rules.push_str(
            "  - apiGroups: [\"\"]
    resources: [pods]
    verbs: [get, list, watch, delete]
  - apiGroups: [\"\"]
    resources: [serviceaccounts]
    verbs: [get]
  - apiGroups: [apps]
    resources: [replicasets, statefulsets, daemonsets]
    verbs: [get]
  - apiGroups: [batch]
    resources: [jobs]
    verbs: [get]
",
        );
    }
    let mut out = String::new();
    let _ = write!(
        out,
        "# kubectl-regcred controller: `kubectl regcred sync --watch` as a Deployment.
# Made by `kubectl regcred controller manifests`; docs/controller.md explains every rule.
apiVersion: v1
kind: Namespace
metadata:
  name: {ns}
  labels:
    app.kubernetes.io/name: kubectl-regcred
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: kubectl-regcred
  namespace: {ns}
  labels:
    app.kubernetes.io/name: kubectl-regcred
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: kubectl-regcred
  labels:
    app.kubernetes.io/name: kubectl-regcred
rules:
  # Which namespaces exist, and their labels (scopes by selector or Rancher project).
  - apiGroups: [\"\"]
    resources: [namespaces]
    verbs: [get, list, watch]
  # Secrets: the definitions it follows and the copies it keeps (list, watch: one watch each,
  # narrowed to our label and types by the server), the copies it writes (create, update;
  # delete for --prune), and the sources definitions name (get). Kubernetes cannot narrow a
  # rule by label or type: docs/controller.md says what this role can reach.
  - apiGroups: [\"\"]
    resources: [secrets]
    verbs: [get, list, watch, create, update, delete]
{attach_rules}---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: kubectl-regcred
  labels:
    app.kubernetes.io/name: kubectl-regcred
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: kubectl-regcred
subjects:
  - kind: ServiceAccount
    name: kubectl-regcred
    namespace: {ns}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: kubectl-regcred-leader-election
  namespace: {ns}
  labels:
    app.kubernetes.io/name: kubectl-regcred
rules:
  # One Lease elects the writer and carries the status record.
  - apiGroups: [coordination.k8s.io]
    resources: [leases]
    verbs: [create]
  - apiGroups: [coordination.k8s.io]
    resources: [leases]
    resourceNames: [kubectl-regcred]
    verbs: [get, update]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: kubectl-regcred-leader-election
  namespace: {ns}
  labels:
    app.kubernetes.io/name: kubectl-regcred
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: kubectl-regcred-leader-election
subjects:
  - kind: ServiceAccount
    name: kubectl-regcred
    namespace: {ns}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: kubectl-regcred
  namespace: {ns}
  labels:
    app.kubernetes.io/name: kubectl-regcred
spec:
  replicas: {replicas}
  selector:
    matchLabels:
      app.kubernetes.io/name: kubectl-regcred
  template:
    metadata:
      labels:
        app.kubernetes.io/name: kubectl-regcred
    spec:
      serviceAccountName: kubectl-regcred
      # SIGTERM releases the Lease and exits within 5 s.
      terminationGracePeriodSeconds: 10
      securityContext:
        runAsNonRoot: true
        runAsUser: 65532
        runAsGroup: 65532
        seccompProfile:
          type: RuntimeDefault
      containers:
        - name: controller
          image: {image}
          args:
{args}          env:
            - name: POD_NAME
              valueFrom:
                fieldRef:
                  fieldPath: metadata.name
          ports:
            - name: http
              containerPort: {PORT}
          livenessProbe:
            httpGet:
              path: /healthz
              port: http
          readinessProbe:
            httpGet:
              path: /readyz
              port: http
          resources:
            requests:
              cpu: 10m
              memory: 32Mi
            limits:
              cpu: 200m
              memory: 128Mi
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities:
              drop: [ALL]
",
        replicas = settings.replicas,
        image = settings.image,
    );
    out
}
