//! Parsed flags turned into plain, validated settings. Usage mistakes stop here, before any
//! file is read or any request is made.

use std::path::PathBuf;
use std::time::Duration;

use crate::cli::{CreateArgs, DryRunArg, KubeArgs, OutputArg, ScopeArgs, SourceArg, WriteArgs};
use crate::credentials::{Password, PasswordInput, SourceKind};
use crate::error::UsageError;
use crate::names;
use crate::registry::Registry;

/// Which cluster, as whom; kubectl's connection flags.
#[derive(Debug, Clone, Default)]
pub struct Connection {
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    pub cluster: Option<String>,
    pub user: Option<String>,
    pub impersonate_user: Option<String>,
    pub impersonate_groups: Vec<String>,
    /// `None` means no limit (`--request-timeout=0`).
    pub request_timeout: Option<Duration>,
}

/// The namespaces a command works in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NamespaceScope {
    /// The context's namespace (kubectl's default), `default` if it names none.
    Context,
    /// `-n NS` or `--namespaces a,b`.
    Named(Vec<String>),
    /// `-A`.
    All,
    /// `--namespace-selector`.
    Selector(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DryRun {
    None,
    Client,
    Server,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    Json,
    Yaml,
    Name,
}

#[derive(Debug, Clone)]
pub struct WriteSettings {
    pub dry_run: DryRun,
    pub output: Option<OutputFormat>,
    pub concurrency: usize,
    pub field_manager: String,
}

#[derive(Debug, Clone)]
pub struct ExplicitSettings {
    pub username: String,
    pub email: Option<String>,
    pub password: PasswordInput,
}

#[derive(Debug, Clone)]
pub struct CreateSettings {
    pub name: String,
    /// Requested registries; empty means all found.
    pub servers: Vec<Registry>,
    pub explicit: Option<ExplicitSettings>,
    pub from: Vec<SourceKind>,
    pub docker_config: Option<PathBuf>,
    pub helper_timeout: Duration,
    pub scope: NamespaceScope,
    pub force: bool,
    pub write: WriteSettings,
}

impl Connection {
    pub fn from_args(args: &KubeArgs) -> Self {
        Self {
            kubeconfig: args.kubeconfig.clone(),
            context: args.context.clone(),
            cluster: args.cluster.clone(),
            user: args.user.clone(),
            impersonate_user: args.as_user.clone(),
            impersonate_groups: args.as_group.clone(),
            request_timeout: (!args.request_timeout.is_zero()).then_some(args.request_timeout),
        }
    }
}

impl NamespaceScope {
    pub fn from_args(namespace: Option<&str>, scope: &ScopeArgs) -> Result<Self, UsageError> {
        if scope.all_namespaces {
            // kubectl: -A ignores -n.
            return Ok(Self::All);
        }
        if let Some(selector) = &scope.namespace_selector {
            if namespace.is_some() {
                return Err(UsageError(
                    "-n and --namespace-selector cannot be combined".into(),
                ));
            }
            if selector.trim().is_empty() {
                return Err(UsageError("--namespace-selector is empty".into()));
            }
            return Ok(Self::Selector(selector.clone()));
        }
        let named: Vec<String> = match (namespace, scope.namespaces.is_empty()) {
            (Some(_), false) => {
                return Err(UsageError(
                    "-n and --namespaces cannot be combined; list them all in --namespaces".into(),
                ));
            }
            (Some(ns), true) => vec![ns.to_string()],
            (None, false) => scope
                .namespaces
                .iter()
                .map(|ns| ns.trim().to_string())
                .collect(),
            (None, true) => return Ok(Self::Context),
        };
        let mut unique = Vec::new();
        for ns in named {
            names::check_label(&ns)
                .map_err(|why| UsageError(format!("invalid namespace {ns:?}: {why}")))?;
            if !unique.contains(&ns) {
                unique.push(ns);
            }
        }
        Ok(Self::Named(unique))
    }

    /// Whether the user named the namespaces (kubectl then writes them into printed objects).
    pub fn is_explicit(&self) -> bool {
        !matches!(self, Self::Context)
    }
}

impl WriteSettings {
    pub fn from_args(args: &WriteArgs) -> Self {
        Self {
            dry_run: match args.dry_run {
                DryRunArg::None => DryRun::None,
                DryRunArg::Client => DryRun::Client,
                DryRunArg::Server => DryRun::Server,
            },
            output: args.output.map(|o| match o {
                OutputArg::Json => OutputFormat::Json,
                OutputArg::Yaml => OutputFormat::Yaml,
                OutputArg::Name => OutputFormat::Name,
            }),
            concurrency: usize::from(args.concurrency),
            field_manager: args.field_manager.clone(),
        }
    }
}

impl CreateSettings {
    pub fn from_args(args: &CreateArgs, namespace: Option<&str>) -> Result<Self, UsageError> {
        names::check_subdomain(&args.name)
            .map_err(|why| UsageError(format!("invalid Secret name {:?}: {why}", args.name)))?;
        let mut servers = Vec::new();
        for server in &args.servers {
            let registry = Registry::parse(server).map_err(|e| UsageError(e.to_string()))?;
            if !servers.contains(&registry) {
                servers.push(registry);
            }
        }
        let explicit = match &args.username {
            None => None,
            Some(username) if username.is_empty() || username.contains(':') => {
                return Err(UsageError(format!(
                    "invalid --username {username:?}: it must be non-empty and hold no ':'"
                )));
            }
            Some(username) => {
                if servers.is_empty() {
                    // kubectl's --docker-server default.
                    servers.push(Registry::docker_hub());
                }
                let password = match (&args.password, args.password_stdin) {
                    (Some(password), _) => PasswordInput::Argv(Password::new(password.clone())),
                    (None, true) => PasswordInput::Stdin,
                    (None, false) => PasswordInput::Prompt,
                };
                Some(ExplicitSettings {
                    username: username.clone(),
                    email: args.email.clone().filter(|e| !e.is_empty()),
                    password,
                })
            }
        };
        if explicit.is_none() && args.email.is_some() {
            return Err(UsageError("--email goes with --username".into()));
        }
        let mut from: Vec<SourceKind> = args
            .from
            .iter()
            .map(|s| match s {
                SourceArg::Explicit => SourceKind::Explicit,
                SourceArg::Docker => SourceKind::Docker,
                SourceArg::Podman => SourceKind::Podman,
            })
            .collect();
        from.sort();
        from.dedup();
        Ok(Self {
            name: args.name.clone(),
            servers,
            explicit,
            from,
            docker_config: args.docker_config.clone(),
            helper_timeout: args.helper_timeout,
            scope: NamespaceScope::from_args(namespace, &args.scope)?,
            force: args.force,
            write: WriteSettings::from_args(&args.write),
        })
    }
}
