//! `sync`, `sync --watch` and `controller manifests`: their flags as the controller's and the
//! `desired` layer's own options.

use super::*;

impl From<AutoAttachArg> for AutoAttach {
    fn from(arg: AutoAttachArg) -> Self {
        match arg {
            AutoAttachArg::Workloads => Self::Workloads,
            AutoAttachArg::Serviceaccounts => Self::WorkloadsAndServiceAccounts,
        }
    }
}

impl WatchOptions {
    fn from_args(args: &WatchArgs, write: &WriteArgs) -> Result<Option<Self>, UsageError> {
        if !args.watch {
            return Ok(None);
        }
        if write.output.is_some() || write.dry_run != DryRunArg::None {
            return Err(UsageError(
                "--watch writes as it goes: use `sync --check` (or --dry-run) without --watch to see a plan".into(),
            ));
        }
        if args.resync < Duration::from_secs(1) {
            return Err(UsageError("--resync must be at least 1s".into()));
        }
        if args.refresh.is_some_and(|d| d < Duration::from_secs(1)) {
            return Err(UsageError("--refresh must be at least 1s".into()));
        }
        if args.lease_duration < Duration::from_secs(3) {
            return Err(UsageError("--lease-duration must be at least 3s".into()));
        }
        if let Some(namespace) = &args.lease_namespace {
            names::check_label(namespace).map_err(|why| {
                UsageError(format!("invalid --lease-namespace {namespace:?}: {why}"))
            })?;
        }
        names::check_subdomain(&args.lease_name).map_err(|why| {
            UsageError(format!("invalid --lease-name {:?}: {why}", args.lease_name))
        })?;
        Ok(Some(Self {
            refresh: args.refresh,
            resync: args.resync,
            auto_attach: args.auto_attach.map(AutoAttach::from),
            listen: args.listen,
            metrics_listen: args.metrics_listen,
            json_logs: args.log_format == LogFormatArg::Json,
            heal: args.heal.then_some(args.heal_limit),
            provider_config: args.credential_provider_config.clone(),
            lease: args.leader_elect.then(|| LeaseOptions {
                namespace: args.lease_namespace.clone(),
                name: args.lease_name.clone(),
                duration: args.lease_duration,
            }),
        }))
    }
}

impl ManifestsOptions {
    pub(crate) fn from_args(
        args: &ManifestsArgs,
        namespace: Option<&str>,
    ) -> Result<Self, UsageError> {
        let namespace = namespace.unwrap_or(CONTROLLER_NAMESPACE);
        names::check_label(namespace)
            .map_err(|why| UsageError(format!("invalid namespace {namespace:?}: {why}")))?;
        if let Some(refresh) = &args.refresh {
            crate::cli::parse_duration(refresh).map_err(|e| UsageError(e.to_string()))?;
        }
        if args.image.trim().is_empty() || args.image.chars().any(char::is_whitespace) {
            return Err(UsageError(format!("invalid --image {:?}", args.image)));
        }
        Ok(Self {
            namespace: namespace.to_string(),
            image: args.image.clone(),
            auto_attach: args.auto_attach.map(AutoAttach::from),
            refresh: args.refresh.clone(),
            replicas: args.replicas,
            heal: args.heal,
        })
    }
}

impl SyncSettings {
    pub(crate) fn from_args(args: &SyncArgs, namespace: Option<&str>) -> Result<Self, UsageError> {
        if let Some(name) = &args.name {
            check_secret_name(name)?;
        }
        // `-n NS` alone says where to look, as in kubectl: a Secret made for NS, or the
        // credential whose copy is there. It never re-scopes a definition; the scope flags do
        // (docs/sync.md, "Trust").
        let scope_given = !args.scope.namespaces.is_empty()
            || args.scope.all_namespaces
            || args.scope.namespace_selector.is_some()
            || args.scope.project.is_some();
        let mut servers = Vec::new();
        for server in &args.explicit.servers {
            servers.push(registry(server)?);
        }
        // A recorded scope is what a copy says about itself; taking over somebody else's
        // Secret needs the operator's own word (docs/sync.md, "Trust").
        if args.force && !scope_given {
            return Err(UsageError(
                "--force takes over Secrets only in namespaces given on the command line: add \
                 --namespaces, -A, --namespace-selector or --project"
                    .into(),
            ));
        }
        Ok(Self {
            name: args.name.clone(),
            explicit: ExplicitSettings::from_args(&args.explicit)?,
            plan: PlanOptions {
                prune: args.prune,
                detach: args.detach,
                force: args.force,
            },
            check: args.check,
            desired: DesiredOptions {
                scope: scope_given
                    .then(|| namespace_scope(namespace, &args.scope))
                    .transpose()?,
                look_in: namespace.map(str::to_string),
                exclude: (!args.scope.exclude_namespaces.is_empty())
                    .then(|| Exclusions::new(&args.scope.exclude_namespaces))
                    .transpose()
                    .map_err(|e| UsageError(e.to_string()))?,
                servers,
                docker_config: args.lookup.docker_config.clone(),
                helper_timeout: args.lookup.helper_timeout,
                allow_removal: args.allow_removal,
                allow_identity_change: args.allow_identity_change,
                definitions_namespace: definitions_namespace(&args.definitions)?,
            },
            write: WriteSettings::from_args(&args.write)?,
            watch: WatchOptions::from_args(&args.watch, &args.write)?,
        })
    }
}
