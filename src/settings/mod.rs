//! Parsed flags turned into plain, validated settings. Usage mistakes stop here, before any
//! file is read or any request is made.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::cli::{
    AttachArgs, AutoAttachArg, CheckArgs, CreateArgs, DefinitionsArgs, DeleteArgs, DetachArgs,
    DryRunArg, ExplicitArgs, KubeArgs, ListArgs, ListOutputArg, LogFormatArg, LoginArgs,
    LogoutArgs, ManifestsArgs, OutputArg, RegistryArgs, ScopeArgs, SelectionArgs, ShowArgs,
    SourceArg, StructuredOutputArg, CheckOutputArg, Output, SyncArgs, VerifyArgs, WatchArgs, WriteArgs,
};
use crate::credentials::{Password, PasswordInput, SourceKind};
use crate::error::UsageError;
use crate::probe::TransportSettings;
use crate::rules::contexts::ContextSelection;
use crate::rules::image::ImageRef;
use crate::rules::jsonpath::{Columns, Template};
use crate::rules::kinds::{Kind, Target, TargetError};
use crate::rules::names;
use crate::rules::registry::Registry;
use crate::rules::scope::{Exclusions, project_selector};
use crate::rules::sync::PlanOptions;

mod registry;
mod sync;

pub(crate) use crate::cluster::Connection;
pub(crate) use crate::rules::scope::{NamespaceScope, Scope};
pub(crate) use registry::transport_settings;
use registry::unique_registries;

pub(crate) use crate::cluster::writes::{WriteMode, WriteOptions};
pub(crate) use crate::controller::manifests::ManifestsOptions;
pub(crate) use crate::controller::{AutoAttach, LeaseOptions, WatchOptions};
pub(crate) use crate::desired::Options as DesiredOptions;
pub(crate) use crate::report::OutputFormat;

/// `--dry-run`, `-o`, `--concurrency` and the field manager: what the write pipelines take
/// ([`WriteSettings::options`]) plus how the command prints.
#[derive(Debug, Clone)]
pub(crate) struct WriteSettings {
    pub(crate) mode: WriteMode,
    pub(crate) output: Option<OutputFormat>,
    pub(crate) concurrency: usize,
    pub(crate) field_manager: String,
}

#[derive(Debug, Clone)]
pub(crate) struct ExplicitSettings {
    pub(crate) username: String,
    pub(crate) email: Option<String>,
    pub(crate) password: PasswordInput,
}

#[derive(Debug, Clone)]
pub(crate) struct CreateSettings {
    pub(crate) name: String,
    /// Where local credentials are looked up (`lookup.servers` also filters `--from-secret`).
    pub(crate) lookup: LocalLookup,
    /// `--from-secret NS/NAME`.
    pub(crate) from_secret: Option<SecretRef>,
    pub(crate) scope: Scope,
    pub(crate) force: bool,
    /// `--replace`: drop the registries an existing Secret holds that this run does not write.
    pub(crate) replace: bool,
    /// `--all-registries`: with no `--server`, every login found may go to several namespaces.
    pub(crate) all_registries: bool,
    /// `--allow-expired`: write a login whose token has already expired.
    pub(crate) allow_expired: bool,
    /// `--verify`: how to reach the registries that must accept every login first.
    pub(crate) verify: Option<TransportSettings>,
    /// `--attach`: targets to attach the Secret to once it is written.
    pub(crate) attach: Vec<Target>,
    /// Where the definition of a credential for several namespaces is written.
    pub(crate) definitions_namespace: String,
    pub(crate) write: WriteSettings,
}

/// What `sync` keeps true, and how.
#[derive(Debug, Clone)]
pub(crate) struct SyncSettings {
    /// `None`: every credential we manage.
    pub(crate) name: Option<String>,
    /// `--username` again, for explicit credentials, with `--server` naming which.
    pub(crate) explicit: Option<ExplicitSettings>,
    pub(crate) plan: PlanOptions,
    pub(crate) check: bool,
    /// What each credential should hold and where (the `desired` layer's options).
    pub(crate) desired: DesiredOptions,
    pub(crate) write: WriteSettings,
    /// `--watch`: keep reconciling.
    pub(crate) watch: Option<WatchOptions>,
}

/// The namespace `controller` subcommands work in unless `-n` says otherwise.
pub(crate) const CONTROLLER_NAMESPACE: &str = "regcred-system";

/// What `delete` removes, and where.
#[derive(Debug, Clone)]
pub(crate) struct DeleteSettings {
    pub(crate) name: String,
    pub(crate) scope: Scope,
    /// `-A` deletes the definition there too.
    pub(crate) definitions_namespace: String,
    pub(crate) keep_references: bool,
    pub(crate) force: bool,
    pub(crate) write: WriteSettings,
}

/// What `attach` and `detach` change, and where.
#[derive(Debug, Clone)]
pub(crate) struct AttachSettings {
    /// The Secret; `None` only with `--auto`.
    pub(crate) secret: Option<String>,
    pub(crate) targets: Vec<Target>,
    /// `-l`, for `--all KIND` targets.
    pub(crate) labels: Option<String>,
    pub(crate) auto: bool,
    pub(crate) allow_missing: bool,
    pub(crate) restart: bool,
    /// `--credential-provider-config` with `--auto`: images the node's providers serve get no
    /// Secret.
    pub(crate) provider_config: Option<PathBuf>,
    pub(crate) scope: Scope,
    pub(crate) write: WriteSettings,
}

#[derive(Debug, Clone)]
pub(crate) struct DetachSettings {
    pub(crate) secret: String,
    pub(crate) targets: Vec<Target>,
    pub(crate) labels: Option<String>,
    pub(crate) scope: Scope,
    pub(crate) write: WriteSettings,
}

/// How `list` prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ListFormat {
    Table,
    Wide,
    Structured(OutputFormat),
}

#[derive(Debug, Clone)]
pub(crate) struct ListSettings {
    pub(crate) scope: Scope,
    pub(crate) format: ListFormat,
    pub(crate) managed_only: bool,
    /// Where the definitions live that say which of our Secrets are claimed.
    pub(crate) definitions_namespace: String,
}

#[derive(Debug, Clone)]
pub(crate) struct ShowSettings {
    pub(crate) name: String,
    pub(crate) namespace: Option<String>,
    pub(crate) reveal: bool,
    pub(crate) output: Option<OutputFormat>,
}

/// How `check` prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CheckFormat {
    /// A paragraph per object, with its fixes.
    Text,
    /// A table, a row per image.
    Wide,
    /// The reports as a document; `Name` lists the objects that will not pull.
    Structured(OutputFormat),
}

#[derive(Debug, Clone)]
pub(crate) struct CheckSettings {
    /// Empty: every workload and standalone Pod in scope.
    pub(crate) targets: Vec<Target>,
    pub(crate) scope: Scope,
    pub(crate) format: CheckFormat,
    pub(crate) probe: Option<Duration>,
    /// The kubelet's `CredentialProviderConfig` (a file or directory), as the node has it.
    pub(crate) provider_config: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub(crate) struct LoginSettings {
    pub(crate) server: Registry,
    pub(crate) username: String,
    pub(crate) password: PasswordInput,
    /// How to reach the registry that must accept the login first; `None` with --no-verify.
    pub(crate) verify: Option<TransportSettings>,
}

fn password_input(
    username: &str,
    password: Option<&Password>,
    password_stdin: bool,
) -> Result<PasswordInput, UsageError> {
    if username.is_empty() || username.contains(':') {
        return Err(UsageError(format!(
            "invalid --username {username:?}: it must be non-empty and hold no ':'"
        )));
    }
    Ok(match (password, password_stdin) {
        (Some(password), _) => PasswordInput::Argv(password.clone()),
        (None, true) => PasswordInput::Stdin,
        (None, false) => PasswordInput::Prompt,
    })
}

fn registry(server: &str) -> Result<Registry, UsageError> {
    Registry::parse(server).map_err(|e| UsageError(e.to_string()))
}

pub(crate) fn logout_server(args: &LogoutArgs) -> Result<Registry, UsageError> {
    registry(&args.server)
}

pub(crate) fn structured_output(
    output: Option<&Output<StructuredOutputArg>>,
) -> Result<Option<OutputFormat>, UsageError> {
    structured(output)
}

fn structured(
    output: Option<&Output<StructuredOutputArg>>,
) -> Result<Option<OutputFormat>, UsageError> {
    output
        .map(|o| {
            output_format(o, |named| match named {
                StructuredOutputArg::Json => OutputFormat::Json,
                StructuredOutputArg::Yaml => OutputFormat::Yaml,
            })
        })
        .transpose()
}

/// A named format, or kubectl's `jsonpath=` or `custom-columns=` read now, before anything
/// runs (docs/conventions.md, "jsonpath and custom-columns").
fn output_format<F: Copy>(
    output: &Output<F>,
    named: impl FnOnce(F) -> OutputFormat,
) -> Result<OutputFormat, UsageError> {
    match output {
        Output::Named(format) => Ok(named(*format)),
        Output::JsonPath(template) if template.is_empty() => Err(UsageError(
            "-o jsonpath= needs a template, e.g. -o jsonpath='{.metadata.name}'".into(),
        )),
        Output::JsonPath(template) => Template::parse(template)
            .map(|t| OutputFormat::JsonPath(Arc::new(t)))
            .map_err(|e| UsageError(e.to_string())),
        Output::CustomColumns(spec) => Columns::parse(spec)
            .map(|c| OutputFormat::CustomColumns(Arc::new(c)))
            .map_err(|e| UsageError(e.to_string())),
    }
}

impl ListSettings {
    pub(crate) fn from_args(args: &ListArgs, namespace: Option<&str>) -> Result<Self, UsageError> {
        Ok(Self {
            scope: Scope::from_args(namespace, &args.scope, Purpose::Read)?,
            format: match &args.output {
                None => ListFormat::Table,
                Some(Output::Named(ListOutputArg::Wide)) => ListFormat::Wide,
                Some(output) => ListFormat::Structured(output_format(output, |named| match named {
                    ListOutputArg::Json => OutputFormat::Json,
                    ListOutputArg::Yaml => OutputFormat::Yaml,
                    ListOutputArg::Name | ListOutputArg::Wide => OutputFormat::Name,
                })?),
            },
            managed_only: args.managed,
            definitions_namespace: definitions_namespace(&args.definitions)?,
        })
    }
}

impl ShowSettings {
    pub(crate) fn from_args(args: &ShowArgs, namespace: Option<&str>) -> Result<Self, UsageError> {
        check_secret_name(&args.name)?;
        if let Some(ns) = namespace {
            names::check_label(ns)
                .map_err(|why| UsageError(format!("invalid namespace {ns:?}: {why}")))?;
        }
        Ok(Self {
            name: args.name.clone(),
            namespace: namespace.map(str::to_string),
            reveal: args.reveal,
            output: structured(args.output.as_ref())?,
        })
    }
}

impl CheckSettings {
    pub(crate) fn from_args(args: &CheckArgs, namespace: Option<&str>) -> Result<Self, UsageError> {
        let targets = args
            .targets
            .iter()
            .map(|t| Target::parse(t).map_err(target_error))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            targets,
            scope: Scope::from_args(namespace, &args.scope, Purpose::Read)?,
            format: match &args.output {
                None => CheckFormat::Text,
                Some(Output::Named(CheckOutputArg::Wide)) => CheckFormat::Wide,
                Some(output) => CheckFormat::Structured(output_format(output, |named| match named {
                    CheckOutputArg::Json => OutputFormat::Json,
                    CheckOutputArg::Yaml => OutputFormat::Yaml,
                    CheckOutputArg::Name | CheckOutputArg::Wide => OutputFormat::Name,
                })?),
            },
            probe: args.probe.then_some(args.probe_timeout),
            provider_config: args.credential_provider_config.clone(),
        })
    }
}

fn target_error(error: TargetError) -> UsageError {
    UsageError(error.to_string())
}

fn check_secret_name(name: &str) -> Result<(), UsageError> {
    names::check_subdomain(name)
        .map_err(|why| UsageError(format!("invalid Secret name {name:?}: {why}")))
}

/// Named targets plus `--all KIND`, validated.
fn targets(
    named: &[String],
    selection: &SelectionArgs,
) -> Result<(Vec<Target>, Option<String>), UsageError> {
    let mut targets = Vec::new();
    for text in named {
        let target = Target::parse(text).map_err(target_error)?;
        if let Some(name) = &target.name {
            names::check_subdomain(name)
                .map_err(|why| UsageError(format!("invalid name in {text:?}: {why}")))?;
        }
        targets.push(target);
    }
    for kind in &selection.all {
        let kind = Kind::parse(kind)
            .ok_or_else(|| target_error(TargetError::UnknownKind(kind.clone())))?;
        targets.push(Target { kind, name: None });
    }
    if selection.selector.is_some() && selection.all.is_empty() {
        return Err(UsageError(
            "-l selects objects for --all KIND; add --all deployments (or another kind)".into(),
        ));
    }
    if targets.is_empty() {
        return Err(UsageError(
            "name at least one target: KIND/NAME (e.g. deployment/web) or --all KIND".into(),
        ));
    }
    Ok((targets, selection.selector.clone()))
}

impl AttachSettings {
    pub(crate) fn from_args(
        args: &AttachArgs,
        namespace: Option<&str>,
    ) -> Result<Self, UsageError> {
        // A first argument without '/' is the Secret; the rest are KIND/NAME targets.
        let (secret, named) = match args.args.split_first() {
            Some((first, rest)) if !first.contains('/') => (Some(first.clone()), rest),
            _ => (None, args.args.as_slice()),
        };
        match &secret {
            Some(name) => check_secret_name(name)?,
            None if !args.auto => {
                return Err(UsageError(
                    "name the Secret to attach, or pass --auto to attach by registry".into(),
                ));
            }
            None => {}
        }
        let (targets, labels) = targets(named, &args.selection)?;
        if targets.iter().any(|t| t.kind == Kind::Pod) {
            return Err(UsageError(
                "a Pod's imagePullSecrets cannot change after it is created: attach to its workload or ServiceAccount".into(),
            ));
        }
        if args.auto && targets.iter().any(|t| t.kind == Kind::ServiceAccount) {
            return Err(UsageError(
                "--auto matches container images, and a ServiceAccount has none: name the Secret for ServiceAccounts".into(),
            ));
        }
        Ok(Self {
            secret,
            targets,
            labels,
            auto: args.auto,
            allow_missing: args.allow_missing,
            restart: args.restart,
            provider_config: args.credential_provider_config.clone(),
            scope: Scope::from_args(namespace, &args.scope, Purpose::Write)?,
            write: WriteSettings::from_args(&args.write)?,
        })
    }
}

impl DetachSettings {
    pub(crate) fn from_args(
        args: &DetachArgs,
        namespace: Option<&str>,
    ) -> Result<Self, UsageError> {
        check_secret_name(&args.secret)?;
        let (targets, labels) = targets(&args.targets, &args.selection)?;
        if targets.iter().any(|t| t.kind == Kind::Pod) {
            return Err(UsageError(
                "a Pod's imagePullSecrets cannot change after it is created: detach from its workload".into(),
            ));
        }
        Ok(Self {
            secret: args.secret.clone(),
            targets,
            labels,
            scope: Scope::from_args(namespace, &args.scope, Purpose::Write)?,
            write: WriteSettings::from_args(&args.write)?,
        })
    }
}

impl Connection {
    /// The connection flags, and which contexts `--context`/`--all-contexts` select. One
    /// plain `--context NAME` is the connection's context, as in kubectl.
    pub(crate) fn from_args(args: &KubeArgs) -> Result<(Self, ContextSelection), UsageError> {
        let selection = ContextSelection::parse(&args.context, args.all_contexts)
            .map_err(|e| UsageError(e.to_string()))?;
        let connection = Self {
            kubeconfig: args.kubeconfig.clone(),
            context: selection.single().map(str::to_string),
            cluster: args.cluster.clone(),
            user: args.user.clone(),
            impersonate_user: args.as_user.clone(),
            impersonate_groups: args.as_group.clone(),
            request_timeout: (!args.request_timeout.is_zero()).then_some(args.request_timeout),
            long_running: false,
        };
        Ok((connection, selection))
    }
}

/// Whether a command reads or writes: writes leave the system namespaces out of `-A` and
/// selectors (docs/sync.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    Read,
    Write,
}

impl Scope {
    pub(crate) fn from_args(
        namespace: Option<&str>,
        scope: &ScopeArgs,
        purpose: Purpose,
    ) -> Result<Self, UsageError> {
        let exclude =
            Exclusions::new(&scope.exclude_namespaces).map_err(|e| UsageError(e.to_string()))?;
        Ok(Self {
            namespaces: namespace_scope(namespace, scope)?,
            exclude,
            skip_system: purpose == Purpose::Write,
        })
    }
}

fn namespace_scope(
    namespace: Option<&str>,
    scope: &ScopeArgs,
) -> Result<NamespaceScope, UsageError> {
    if scope.all_namespaces {
        // kubectl: -A ignores -n.
        return Ok(NamespaceScope::All);
    }
    if let Some(project) = &scope.project {
        names::check_label(project)
            .map_err(|why| UsageError(format!("invalid --project {project:?}: {why}")))?;
        if namespace.is_some() {
            return Err(UsageError("-n and --project cannot be combined".into()));
        }
        return Ok(NamespaceScope::Selector(project_selector(project)));
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
        return Ok(NamespaceScope::Selector(selector.clone()));
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
        (None, true) => return Ok(NamespaceScope::Context),
    };
    let mut unique = Vec::new();
    for ns in named {
        names::check_label(&ns)
            .map_err(|why| UsageError(format!("invalid namespace {ns:?}: {why}")))?;
        if !unique.contains(&ns) {
            unique.push(ns);
        }
    }
    Ok(NamespaceScope::Named(unique))
}

impl WriteSettings {
    pub(crate) fn from_args(args: &WriteArgs) -> Result<Self, UsageError> {
        Ok(Self {
            mode: match args.dry_run {
                DryRunArg::None => WriteMode::Persist,
                DryRunArg::Client => WriteMode::ClientDryRun,
                DryRunArg::Server => WriteMode::ServerDryRun,
            },
            output: args
                .output
                .as_ref()
                .map(|o| {
                    output_format(o, |named| match named {
                        OutputArg::Json => OutputFormat::Json,
                        OutputArg::Yaml => OutputFormat::Yaml,
                        OutputArg::Name => OutputFormat::Name,
                    })
                })
                .transpose()?,
            concurrency: usize::from(args.concurrency),
            field_manager: args.field_manager.clone(),
        })
    }
}

impl CreateSettings {
    pub(crate) fn from_args(
        args: &CreateArgs,
        namespace: Option<&str>,
    ) -> Result<Self, UsageError> {
        check_secret_name(&args.name)?;
        let credentials = &args.credentials;
        let mut servers = unique_registries(credentials.explicit.servers.iter())?;
        let explicit = ExplicitSettings::from_args(&credentials.explicit)?;
        if explicit.is_some() && servers.is_empty() {
            // kubectl's --docker-server default.
            servers.push(Registry::docker_hub());
        }
        Ok(Self {
            name: args.name.clone(),
            lookup: LocalLookup {
                servers,
                explicit,
                from: source_kinds(&credentials.from),
                docker_config: credentials.lookup.docker_config.clone(),
                helper_timeout: credentials.lookup.helper_timeout,
            },
            from_secret: credentials
                .from_secret
                .as_deref()
                .map(SecretRef::parse)
                .transpose()?,
            scope: Scope::from_args(namespace, &args.scope, Purpose::Write)?,
            force: args.force,
            replace: args.replace,
            all_registries: args.all_registries,
            allow_expired: args.allow_expired,
            verify: args
                .verify
                .then(|| transport_settings(&args.registry))
                .transpose()?,
            attach: attach_targets(&args.attach)?,
            definitions_namespace: definitions_namespace(&args.definitions)?,
            write: WriteSettings::from_args(&args.write)?,
        })
    }
}

/// `--definitions-namespace`, checked like any namespace name.
fn definitions_namespace(args: &DefinitionsArgs) -> Result<String, UsageError> {
    let namespace = &args.definitions_namespace;
    names::check_label(namespace).map_err(|why| {
        UsageError(format!(
            "invalid --definitions-namespace {namespace:?}: {why}"
        ))
    })?;
    Ok(namespace.clone())
}

/// A Secret named as `NAMESPACE/NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SecretRef {
    pub(crate) namespace: String,
    pub(crate) name: String,
}

impl SecretRef {
    fn parse(text: &str) -> Result<Self, UsageError> {
        let (namespace, name) = text.split_once('/').ok_or_else(|| {
            UsageError(format!(
                "invalid --from-secret {text:?}: give it as NAMESPACE/NAME"
            ))
        })?;
        names::check_label(namespace)
            .map_err(|why| UsageError(format!("invalid namespace {namespace:?}: {why}")))?;
        check_secret_name(name)?;
        Ok(Self {
            namespace: namespace.to_string(),
            name: name.to_string(),
        })
    }
}

impl DeleteSettings {
    pub(crate) fn from_args(
        args: &DeleteArgs,
        namespace: Option<&str>,
    ) -> Result<Self, UsageError> {
        check_secret_name(&args.name)?;
        Ok(Self {
            name: args.name.clone(),
            scope: Scope::from_args(namespace, &args.scope, Purpose::Write)?,
            definitions_namespace: definitions_namespace(&args.definitions)?,
            keep_references: args.keep_references,
            force: args.force,
            write: WriteSettings::from_args(&args.write)?,
        })
    }
}

impl ExplicitSettings {
    /// `--username` with its password source and `--email`, or `None` without a username.
    fn from_args(credentials: &ExplicitArgs) -> Result<Option<Self>, UsageError> {
        let Some(username) = &credentials.username else {
            if credentials.email.is_some() {
                return Err(UsageError("--email goes with --username".into()));
            }
            return Ok(None);
        };
        let password = password_input(
            username,
            credentials.password.as_ref(),
            credentials.password_stdin,
        )?;
        Ok(Some(Self {
            username: username.clone(),
            email: credentials.email.clone().filter(|e| !e.is_empty()),
            password,
        }))
    }
}

/// Where local credentials are looked up (`create`, `verify`).
#[derive(Debug, Clone)]
pub(crate) struct LocalLookup {
    /// Requested registries; empty means all found.
    pub(crate) servers: Vec<Registry>,
    pub(crate) explicit: Option<ExplicitSettings>,
    pub(crate) from: Vec<SourceKind>,
    pub(crate) docker_config: Option<PathBuf>,
    pub(crate) helper_timeout: Duration,
}

/// `verify`: which logins, which images, and how to reach the registries.
#[derive(Debug, Clone)]
pub(crate) struct VerifySettings {
    pub(crate) logins: VerifyLogins,
    pub(crate) images: Vec<ImageRef>,
    pub(crate) transport: TransportSettings,
    pub(crate) output: Option<OutputFormat>,
}

/// Whose logins `verify` checks.
#[derive(Debug, Clone)]
pub(crate) enum VerifyLogins {
    /// Local sources (or `--username`); no servers and no images: every registry found.
    Local(LocalLookup),
    /// `secret/NAME`: a pull Secret in the namespace.
    Secret {
        name: String,
        namespace: Option<String>,
    },
}

/// `--from` as sorted, distinct source kinds.
fn source_kinds(args: &[SourceArg]) -> Vec<SourceKind> {
    let mut kinds: Vec<SourceKind> = args.iter().map(|s| s.kind()).collect();
    kinds.sort();
    kinds.dedup();
    kinds
}

impl SourceArg {
    fn kind(self) -> SourceKind {
        match self {
            Self::Explicit => SourceKind::Explicit,
            Self::Keychain => SourceKind::Keychain,
            Self::Docker => SourceKind::Docker,
            Self::Podman => SourceKind::Podman,
        }
    }
}

/// `create --attach KIND/NAME...`: workloads and ServiceAccounts, never Pods.
fn attach_targets(named: &[String]) -> Result<Vec<Target>, UsageError> {
    if named.is_empty() {
        return Ok(Vec::new());
    }
    let no_selection = SelectionArgs {
        all: Vec::new(),
        selector: None,
    };
    let (targets, _) = targets(named, &no_selection)?;
    if targets.iter().any(|t| t.kind == Kind::Pod) {
        return Err(UsageError(
            "--attach takes workloads and ServiceAccounts, not Pods".into(),
        ));
    }
    Ok(targets)
}

/// What a write will do, in words, for the confirmation before writing to several contexts
/// (docs/contexts.md). `None` when nothing will be written (a dry run, `sync --check`).
pub(crate) trait Action {
    fn action(&self) -> Option<String>;
}

/// `secret/NAME` and targets, in words: `deployment/web, every serviceaccount`.
fn targets_in_words(targets: &[Target]) -> String {
    targets
        .iter()
        .map(Target::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

impl WriteSettings {
    fn writes(&self) -> bool {
        self.mode == WriteMode::Persist
    }

    /// What the lower layers need to write.
    pub(crate) fn options(&self) -> WriteOptions {
        WriteOptions {
            mode: self.mode,
            concurrency: self.concurrency,
            field_manager: self.field_manager.clone(),
        }
    }
}

impl Action for CreateSettings {
    fn action(&self) -> Option<String> {
        let mut action = format!("create or update secret/{} in {}", self.name, self.scope);
        if !self.attach.is_empty() {
            action.push_str(&format!(
                ", and attach it to {}",
                targets_in_words(&self.attach)
            ));
        }
        self.write.writes().then_some(action)
    }
}

impl Action for AttachSettings {
    fn action(&self) -> Option<String> {
        let secret = match &self.secret {
            Some(name) => format!("secret/{name}"),
            None => "the pull Secrets matching their images".to_string(),
        };
        let action = format!(
            "attach {secret} to {} in {}",
            targets_in_words(&self.targets),
            self.scope
        );
        self.write.writes().then_some(action)
    }
}

impl Action for DetachSettings {
    fn action(&self) -> Option<String> {
        let action = format!(
            "detach secret/{} from {} in {}",
            self.secret,
            targets_in_words(&self.targets),
            self.scope
        );
        self.write.writes().then_some(action)
    }
}

impl Action for DeleteSettings {
    fn action(&self) -> Option<String> {
        let mut action = format!("delete secret/{} from {}", self.name, self.scope);
        if !self.keep_references {
            action.push_str(" and remove the references to it");
        }
        self.write.writes().then_some(action)
    }
}

impl Action for SyncSettings {
    fn action(&self) -> Option<String> {
        let what = match &self.name {
            Some(name) => format!("secret/{name}"),
            None => "every credential kubectl-regcred manages".to_string(),
        };
        let mut action = format!("sync {what}");
        if self.plan.prune {
            action.push_str(", deleting copies that left the scope");
        }
        (self.write.writes() && !self.check).then_some(action)
    }
}

/// The translation from flags to settings, checked without running a command: what each
/// flag becomes, and which combinations are usage errors before anything is read or sent.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    fn cli(argv: &[&str]) -> Cli {
        let mut full = vec!["kubectl-regcred"];
        full.extend_from_slice(argv);
        Cli::try_parse_from(full).expect("the flags parse")
    }

    fn sync(argv: &[&str]) -> Result<SyncSettings, UsageError> {
        let cli = cli(argv);
        let Command::Sync(args) = &cli.command else {
            panic!("not sync");
        };
        SyncSettings::from_args(args, cli.kube.namespace.as_deref())
    }

    fn create(argv: &[&str]) -> Result<CreateSettings, UsageError> {
        let cli = cli(argv);
        let Command::Create(args) = &cli.command else {
            panic!("not create");
        };
        CreateSettings::from_args(args, cli.kube.namespace.as_deref())
    }

    fn usage(result: Result<impl std::fmt::Debug, UsageError>) -> String {
        result.expect_err("a usage error").0
    }

    #[test]
    fn sync_with_n_looks_there_and_never_rescopes() {
        let settings = sync(&["sync", "regcred", "-n", "team-a"]).unwrap();
        assert_eq!(settings.desired.look_in.as_deref(), Some("team-a"));
        assert!(settings.desired.scope.is_none());
        let settings = sync(&["sync", "regcred", "--namespaces", "a,b"]).unwrap();
        assert!(matches!(
            settings.desired.scope,
            Some(NamespaceScope::Named(ref names)) if names == &["a", "b"]
        ));
        assert_eq!(settings.desired.definitions_namespace, CONTROLLER_NAMESPACE);
    }

    #[test]
    fn sync_refuses_what_it_cannot_do_before_reading_anything() {
        assert!(usage(sync(&["sync", "regcred", "--force"])).contains("--force takes over"));
        assert!(usage(sync(&["sync", "--watch", "-o", "json"])).contains("--watch writes"));
        assert!(usage(sync(&["sync", "--watch", "--resync", "0s"])).contains("--resync"));
        assert!(
            usage(sync(&[
                "sync",
                "--watch",
                "--leader-elect",
                "--lease-name",
                "Not_A_Name"
            ]))
            .contains("--lease-name")
        );
        assert!(usage(sync(&["sync", "Bad_Name"])).contains("Bad_Name"));
    }

    #[test]
    fn dry_run_becomes_the_write_layers_mode() {
        for (flag, mode) in [
            ("--dry-run=none", WriteMode::Persist),
            ("--dry-run=client", WriteMode::ClientDryRun),
            ("--dry-run=server", WriteMode::ServerDryRun),
        ] {
            let settings = sync(&["sync", "regcred", flag]).unwrap();
            assert_eq!(settings.write.mode, mode, "{flag}");
            assert_eq!(settings.write.options().mode, mode, "{flag}");
        }
    }

    #[test]
    fn create_checks_names_and_scopes() {
        assert!(usage(create(&["create", "Bad_Name", "--server", "quay.io"])).contains("Bad_Name"));
        let settings =
            create(&["create", "regcred", "--server", "quay.io", "-n", "team-a"]).unwrap();
        assert!(matches!(
            settings.scope.namespaces,
            NamespaceScope::Named(ref names) if names == &["team-a"]
        ));
    }

    /// What a typical `sync --watch` becomes, whole, as uv's `show_settings` tests do: a
    /// change in the translation shows up in review.
    #[test]
    fn a_watch_command_in_full() {
        let settings = sync(&[
            "sync",
            "regcred",
            "--namespaces",
            "a,b",
            "--prune",
            "--watch",
            "--refresh",
            "1h",
            "--auto-attach=workloads",
            "--leader-elect",
        ])
        .unwrap();
        insta::assert_debug_snapshot!(settings);
    }
}
