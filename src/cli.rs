//! Every command-line flag, in one place. Nothing here does work: `settings` turns these
//! into plain structs that the commands see.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};

use crate::rules::credential::Password;

#[derive(Debug, Parser)]
#[command(
    name = "kubectl-regcred",
    version,
    about = "Turn local registry credentials into image pull Secrets, in one namespace or all of them",
    long_about = None,
    disable_help_subcommand = true,
    max_term_width = 100
)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) kube: KubeArgs,

    /// Print only results, warnings and errors: no notes, summaries or progress bar
    #[arg(short = 'q', long, global = true, help_heading = "Output")]
    pub(crate) quiet: bool,

    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Create or update an image pull Secret from local credentials
    #[command(long_about = CREATE_ABOUT, after_help = CREATE_EXAMPLES_SHORT, after_long_help = CREATE_EXAMPLES)]
    Create(CreateArgs),
    /// Add a pull Secret to workloads and ServiceAccounts, keeping their other entries
    #[command(long_about = ATTACH_ABOUT, after_help = ATTACH_EXAMPLES_SHORT, after_long_help = ATTACH_EXAMPLES)]
    Attach(AttachArgs),
    /// Remove a pull Secret from workloads and ServiceAccounts, and nothing else
    #[command(long_about = DETACH_ABOUT, after_help = DETACH_EXAMPLES)]
    Detach(DetachArgs),
    /// Keep credentials true: re-read them, then fix every copy in the recorded scope
    #[command(long_about = SYNC_ABOUT, after_help = SYNC_EXAMPLES_SHORT, after_long_help = SYNC_EXAMPLES)]
    Sync(SyncArgs),
    /// Run `sync --watch` inside the cluster: its manifests, and its status
    #[command(subcommand, long_about = CONTROLLER_ABOUT, after_help = CONTROLLER_EXAMPLES)]
    Controller(ControllerCommand),
    /// Detach a pull Secret from every workload and ServiceAccount, then delete its copies
    #[command(long_about = DELETE_ABOUT, after_help = DELETE_EXAMPLES)]
    Delete(DeleteArgs),
    /// List pull Secrets with their registries and who uses them
    #[command(
        long_about = LIST_ABOUT,
        after_help = "Examples:\n  kubectl regcred list\n  kubectl regcred list -A -o wide\n  kubectl regcred list --managed -o json"
    )]
    List(ListArgs),
    /// Show one pull Secret: registries, usernames (passwords masked), origin, users
    #[command(
        long_about = SHOW_ABOUT,
        after_help = "Examples:\n  kubectl regcred show regcred -n team-a\n  kubectl regcred show regcred --reveal"
    )]
    Show(ShowArgs),
    /// Explain whether each image of a workload can be pulled, and how to fix it if not
    #[command(long_about = CHECK_ABOUT, after_help = CHECK_EXAMPLES)]
    Check(CheckArgs),
    /// Ask registries whether logins work: local ones, or a pull Secret's (secret/NAME)
    #[command(long_about = VERIFY_ABOUT, after_help = VERIFY_EXAMPLES)]
    Verify(VerifyArgs),
    /// Store a registry login in the OS keychain (no docker needed)
    #[command(long_about = LOGIN_ABOUT, after_help = LOGIN_EXAMPLES)]
    Login(LoginArgs),
    /// Remove a registry login from the OS keychain
    #[command(long_about = LOGOUT_ABOUT)]
    Logout(LogoutArgs),
    /// List the registry logins held in the OS keychain (servers and usernames, no secrets)
    #[command(long_about = LOGINS_ABOUT)]
    Logins(LoginsArgs),
    /// Serve the docker credential-helper protocol on the OS keychain (what
    /// docker-credential-regcred runs): store, get, erase, list or version
    #[command(long_about = CREDENTIAL_HELPER_ABOUT)]
    CredentialHelper(CredentialHelperArgs),
    /// Print the shell completion script (bash, zsh, fish, powershell, elvish)
    #[command(long_about = COMPLETION_ABOUT, after_help = COMPLETION_EXAMPLES)]
    Completion(CompletionArgs),
    /// Print the version, git commit and target
    Version,
    /// Print the flags every command takes: cluster connection, contexts, output
    Options,
    /// kubectl's plugin completion protocol (run by kubectl_complete-regcred)
    #[command(name = "__complete", hide = true)]
    Complete(CompleteArgs),
    /// Write the man pages (kubectl-regcred.1 and one per subcommand) into a directory;
    /// release archives and install.sh ship them
    #[command(name = "generate-man", hide = true)]
    GenerateMan(GenerateManArgs),
}

// What each command does, for `--help-all` and the man pages' DESCRIPTION.
const SHOW_ABOUT: &str = "\
Show one pull Secret: registries, usernames (passwords masked), origin, users.

Reads the Secret NAME in the namespace and prints, per registry, the username, a masked password, when it expires (where the password says) and where it was read from; whether kubectl-regcred manages it and why; and the workloads and ServiceAccounts that list it. Changes nothing. -o json|yaml prints the same without passwords; --reveal prints the stored .dockerconfigjson exactly (passwords included, for piping). Exit status: 0 when the Secret was read, 1 when it is missing or unreadable, 2 for a usage error.";

const LOGIN_ABOUT: &str = "\
Store a registry login in the OS keychain (no docker needed).

Checks the login against the registry first (--no-verify skips it; the password goes only to that registry), then stores the username and password in the OS keychain (Keychain on macOS, Credential Manager on Windows, the Secret Service on Linux), where create, sync and docker-credential-regcred find it. The password comes from --password-stdin or a prompt that does not echo; never put it on the command line. An existing login for the server is replaced. Exit status: 0 when stored, 1 when the registry refused it or the keychain failed, 2 for a usage error.";

const LOGOUT_ABOUT: &str = "\
Remove a registry login from the OS keychain.

Deletes the login kubectl-regcred stored for SERVER; docker's and podman's own files are not touched, and pull Secrets already written keep their copy. Exit status: 0 when removed, 1 when there was none or the keychain failed, 2 for a usage error.";

const LOGINS_ABOUT: &str = "\
List the registry logins held in the OS keychain (servers and usernames, no secrets).

Reads the logins kubectl-regcred stored with login (or docker stored through docker-credential-regcred) and prints their servers and usernames; passwords are never read out. Exit status: 0 ok, 1 when the keychain cannot be read.";

const CREDENTIAL_HELPER_ABOUT: &str = "\
Serve the docker credential-helper protocol on the OS keychain.

What docker-credential-regcred runs, so that `docker login` stores into and `docker pull` reads from the same keychain entries as kubectl-regcred: store reads a JSON login on stdin, get prints the login for the server read on stdin, erase removes it, list prints servers and usernames, version prints the version. Errors go to stdout as docker expects, with exit status 1.";

const COMPLETION_ABOUT: &str = "\
Print the shell completion script (bash, zsh, fish, powershell, elvish).

The script completes commands, flags and their values; under `kubectl regcred`, kubectl's own plugin completion uses kubectl_complete-regcred, which install.sh puts on PATH. Changes nothing.";

const CONTROLLER_ABOUT: &str = "\
Run `sync --watch` inside the cluster: its manifests, and its status.

The controller keeps every credential its operator defined true, in the cluster, with no laptop involved: it runs `sync --watch` from a Deployment with one leader at a time (a Lease). `controller manifests` prints what runs it; `controller status` tells how it is doing.";

const MANIFESTS_ABOUT: &str = "\
Print the Namespace, RBAC and Deployment that run the controller.

Prints YAML for `kubectl apply -f -`: a Namespace (-n, default regcred-system), a ServiceAccount bound to a ClusterRole that reads Namespaces and reads and writes Secrets (Kubernetes cannot narrow a rule to pull Secrets; docs/controller.md says what it can reach), with --auto-attach the rights to patch workloads (and ServiceAccounts), a Role to hold its Lease, and a Deployment of --image with --replicas replicas. Reads nothing from the cluster and changes nothing.";

const STATUS_ABOUT: &str = "\
Who leads, when it last reconciled, and each credential's state.

Reads the controller's Lease, which also carries its status record (in the controller's namespace, -n), and prints the leader, the time of the last reconcile, and per credential its copies and errors. Changes nothing. Exit status: 0 when read, 1 when the controller's status cannot be read, 2 for a usage error.";
const CREATE_ABOUT: &str = "\
Create or update an image pull Secret from local credentials.

Reads the logins of the selected registries (explicit flags, the OS keychain, docker's config and credential helpers, podman's auth files, in that order) and writes them into one kubernetes.io/dockerconfigjson Secret NAME in each selected namespace. An existing Secret keeps the registries this run does not write (--replace drops them); a Secret that is not ours is refused (--force takes it over). Running it again with the same credentials writes nothing. Nothing is written until every login and flag has been checked. Exit status: 0 when every namespace succeeded, 1 when any failed (the others still ran), 2 for a usage error.";

const ATTACH_ABOUT: &str = "\
Add a pull Secret to workloads and ServiceAccounts, keeping their other entries.

Adds SECRET to the imagePullSecrets of each target (a workload's pod template, or a ServiceAccount) and keeps every entry already there, unlike `kubectl patch`, which replaces the list. With --auto, attaches the namespace's pull Secrets whose registries match the images, by the kubelet's rules. Running pods change only when they are recreated (--restart rolls out the workloads of a changed ServiceAccount). Exit status: 0 ok, 1 when any target failed (the others still ran), 2 for a usage error.";

const DETACH_ABOUT: &str = "\
Remove a pull Secret from workloads and ServiceAccounts, and nothing else.

Removes SECRET from the imagePullSecrets of each target and keeps every other entry; the Secret itself stays. Exit status: 0 ok, 1 when any target failed, 2 for a usage error.";

const SYNC_ABOUT: &str = "\
Keep credentials true: re-read them, then fix every copy in the recorded scope.

Reads each credential again from the source it was created from, and brings every copy in the scope its definition records up to date: missing copies are created, stale ones updated, and with --prune copies that left the scope are deleted. Only copies of definitions in the definitions namespace are touched; a Secret that merely looks like ours is left alone. --check prints the plan and exits 1 on drift, without writing; --watch keeps doing it until stopped. Exit status: 0 ok, 1 on any failure or drift with --check, 2 for a usage error.";

const DELETE_ABOUT: &str = "\
Detach a pull Secret from every workload and ServiceAccount, then delete its copies.

In each namespace of the scope given on the command line, removes NAME from every imagePullSecrets that lists it (--keep-references leaves them), then deletes the Secret; Rancher's copies are refused. Exit status: 0 ok, 1 when any namespace failed, 2 for a usage error.";

const CHECK_ABOUT: &str = "\
Explain whether each image of a workload can be pulled, and how to fix it if not.

For every image of each target (workloads, Pods, ServiceAccounts), finds the pull Secrets the kubelet would use, matches them to the image's registry as the kubelet does, and gives a verdict with a fix line that works when pasted. Reads only; --probe also asks registries whether unmatched images pull anonymously. Exit status: 0 when every image is OK (or anonymous), 1 when any has a problem or a namespace could not be read, 2 for a usage error.";

const VERIFY_ABOUT: &str = "\
Ask registries whether logins work: local ones, or a pull Secret's (secret/NAME).

Logs in to each registry with the login we would write (or a pull Secret's) and reports a verdict; with --image, also proves the login may pull that image. Passwords are sent only to the registry they belong to. Exit status: 0 when every login is VALID, 1 otherwise, 2 for a usage error.";

const LIST_ABOUT: &str = "\
List pull Secrets with their registries and who uses them.

Reads only. MANAGED is `yes` for our Secrets that a definition keeps or that were made for their \
namespace alone, `unmanaged` for Secrets with our label that no definition claims (never \
followed or written; `show` says why), `rancher` for Rancher's copies of a project's \
credential, and `no` for everything else. USED-BY counts the workloads and ServiceAccounts \
that list the Secret. Passwords are never shown.";

const VERIFY_EXAMPLES: &str = "\
Examples:
  kubectl regcred verify                                      # every registry you are logged in to
  kubectl regcred verify quay.io --image quay.io/acme/web:1   # and may this login pull that image?
  kubectl regcred verify secret/regcred -n team-a             # a pull Secret's logins, in the cluster
  kubectl regcred verify reg.example.com --ca-file ca.pem -o json

Verdicts: VALID, BAD-CREDENTIALS, NO-PULL-ACCESS, EXPIRED, NOT-FOUND, UNREACHABLE, TLS,
NOT-A-REGISTRY; the exit code is 1 unless every one is VALID.";

const SYNC_EXAMPLES_SHORT: &str = "\
Examples:
  kubectl regcred sync regcred             # read again, fix every copy in the recorded scope
  kubectl regcred sync --check             # read-only: the plan; exit 1 on drift
  kubectl regcred sync --watch             # keep every managed credential true until Ctrl-C";

const SYNC_EXAMPLES: &str = "\
Examples:
  kubectl regcred sync regcred             # read again, fix every copy in the recorded scope
  kubectl regcred sync                     # every credential kubectl-regcred manages
  kubectl regcred sync regcred --prune     # also delete copies that left the scope
  kubectl regcred sync --check             # read-only: the plan; exit 1 on drift
  kubectl regcred sync regcred --project p-7x2kq   # record a new scope
  kubectl regcred sync --watch             # keep every managed credential true until Ctrl-C
  kubectl regcred sync regcred --watch --refresh 30m --auto-attach";

const CONTROLLER_EXAMPLES: &str = "\
Examples:
  kubectl regcred controller manifests --image registry.example/regcred:v1 | kubectl apply -f -
  kubectl regcred controller manifests --image registry.example/regcred:v1 --auto-attach
  kubectl regcred controller status        # leader, last reconcile, errors, per credential";

const DELETE_EXAMPLES: &str = "\
Examples:
  kubectl regcred delete regcred -n team-a
  kubectl regcred delete regcred -A --dry-run      # what would be detached and deleted
  kubectl regcred delete regcred -A --keep-references";

const COMPLETION_EXAMPLES: &str = "\
Examples:
  source <(kubectl-regcred completion bash)          # bash, for the kubectl-regcred command
  kubectl-regcred completion zsh > \"${fpath[1]}/_kubectl-regcred\"
  # `kubectl regcred <TAB>` completes through kubectl (1.26+) with the kubectl_complete-regcred
  # shim that install.sh puts next to the binary";

const LOGIN_EXAMPLES: &str = "\
Examples:
  kubectl regcred login quay.io -u robot --password-stdin < token.txt
  kubectl regcred login ghcr.io -u me          # prompts without echo
  kubectl regcred create regcred --from keychain -A
  # share the store with docker, podman, skopeo and buildah (~/.docker/config.json):
  #   {\"credsStore\": \"regcred\"}  or  {\"credHelpers\": {\"quay.io\": \"regcred\"}}";

const CHECK_EXAMPLES: &str = "\
Examples:
  kubectl regcred check deployment/web       # why can (or can't) this workload pull?
  kubectl regcred check -A                   # every workload; exit 1 on any problem
  kubectl regcred check pod/web-7d9c-abcde sa/builder
  kubectl regcred check deployment/web --probe -o json";

const ATTACH_EXAMPLES_SHORT: &str = "\
Examples:
  kubectl regcred attach regcred deployment/web serviceaccount/default -n team-a
  kubectl regcred attach --auto --all deployments -A     # the Secrets that match the images
  kubectl regcred attach regcred sa/default --restart    # and roll out the pods that use it";

const ATTACH_EXAMPLES: &str = "\
Examples:
  kubectl regcred attach regcred deployment/web serviceaccount/default -n team-a
  kubectl regcred attach regcred sa/builder deploy/api statefulset/db daemonset/agent cronjob/report
  kubectl regcred attach regcred --all deployments -l app.kubernetes.io/part-of=shop -A
  # every pull Secret of the namespace whose registry matches the images, as the kubelet matches
  kubectl regcred attach --auto deployment/web
  kubectl regcred attach --auto --all deployments -A
  # after a ServiceAccount change, roll out the workloads whose pods should pick it up
  kubectl regcred attach regcred sa/default --restart
  kubectl regcred attach regcred deploy/web --dry-run=server -o yaml";

const DETACH_EXAMPLES: &str = "\
Examples:
  kubectl regcred detach regcred deployment/web sa/default
  kubectl regcred detach regcred --all deployments -A";

const CREATE_EXAMPLES_SHORT: &str = "\
Examples:
  kubectl regcred create regcred                       # every registry you are logged in to
  kubectl regcred create regcred --server quay.io -A   # one registry, every namespace
  echo \"$TOKEN\" | kubectl regcred create regcred --server quay.io --username robot --password-stdin
  kubectl regcred create regcred --dry-run=client -o yaml";

const CREATE_EXAMPLES: &str = "\
Examples:
  # every registry you are logged in to (docker login, podman login, credential helpers)
  kubectl regcred create regcred
  # some registries, into several namespaces or all of them
  kubectl regcred create regcred --server quay.io --server ghcr.io --namespaces team-a,team-b
  kubectl regcred create regcred -A
  kubectl regcred create regcred --namespace-selector project=payments
  # explicit credentials; the password never goes on the command line
  echo \"$TOKEN\" | kubectl regcred create regcred --server quay.io --username robot --password-stdin
  # preview, or validate on the server without writing
  kubectl regcred create regcred --dry-run=client -o yaml
  kubectl regcred create regcred --dry-run=server";

/// The command line as clap parses it and `--help` shows it, under the name it was run as
/// (`kubectl regcred` or `kubectl-regcred`). Like kubectl's, a command's help shows its
/// description, its examples, its own flags and its usage; the flags every command takes
/// are listed once, by `options` ([`global_options`]).
pub(crate) fn command(name: &str) -> clap::Command {
    let root_footer = format!(
        "Use \"{name} <command> --help\" for more information about a given command.\n{}",
        options_pointer(name)
    );
    let root_template =
        format!("{{about-with-newline}}\n{{usage-heading}}\n  {{usage}}\n\n{{all-args}}\n\n{root_footer}");
    let command = Cli::command()
        .bin_name(name)
        .help_template(root_template)
        .mut_args(|arg| if arg.is_global_set() { arg.hide(true) } else { arg });
    with_kubectl_layout(with_help_flags(command), &options_pointer(name))
}

/// What clap's error or help `error` says, as kubectl words it: help without trailing spaces;
/// an error that ends with `See 'kubectl regcred create --help' for usage.` (kubectl's
/// wording) instead of clap's usage line and `For more information, try '--help'.`. `args`
/// (without argv[0]) name the command the user was typing.
pub(crate) fn kubectl_wording(error: &clap::Error, command: &clap::Command, name: &str, args: &[String]) -> String {
    let rendered = error.render().to_string();
    let help = error.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand;
    if help || !error.use_stderr() {
        return rendered.lines().map(str::trim_end).collect::<Vec<_>>().join("\n") + "\n";
    }
    let mut path = vec![name.to_string()];
    let mut current = command;
    for arg in args.iter().filter(|a| !a.starts_with('-')) {
        if let Some(sub) = current.find_subcommand(arg) {
            path.push(sub.get_name().to_string());
            current = sub;
        }
    }
    let mut lines: Vec<&str> = Vec::new();
    let mut in_usage = false;
    for line in rendered.lines() {
        if line.starts_with("Usage:") {
            in_usage = true;
            continue;
        }
        if in_usage && !line.trim().is_empty() {
            continue;
        }
        in_usage = false;
        if line.starts_with("For more information, try") {
            continue;
        }
        lines.push(line.trim_end());
    }
    while lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    let gap = if lines.len() > 1 { "\n" } else { "" };
    let mut text = lines.join("\n");
    text.push_str(&format!("\n{gap}See '{} --help' for usage.\n", path.join(" ")));
    text
}

/// `-h` and `--help` print the summary that fits a screen, as kubectl users expect of both;
/// `--help-all` prints every flag with its whole text and every example (clap's long help).
fn with_help_flags(command: clap::Command) -> clap::Command {
    use clap::{Arg, ArgAction};
    command
        .disable_help_flag(true)
        .arg(
            Arg::new("help")
                .short('h')
                .long("help")
                .action(ArgAction::HelpShort)
                .help_heading(None::<&str>)
                .help("Print this help (every flag and example: --help-all)"),
        )
        .arg(
            Arg::new("help-all")
                .long("help-all")
                .action(ArgAction::HelpLong)
                .help_heading(None::<&str>)
                .help("Print every flag with its whole description, and every example"),
        )
}

fn options_pointer(name: &str) -> String {
    format!("Use \"{name} options\" for a list of global command-line options (applies to all commands).")
}

/// Every subcommand's help in kubectl's order: description, examples, flags, usage, and the
/// pointer to `options`.
fn with_kubectl_layout(command: clap::Command, footer: &str) -> clap::Command {
    command.mut_subcommands(|sub| {
        // `{after-help}` (the examples) starts with its own blank line.
        let head = if sub.get_after_help().is_some() {
            "{about}{after-help}\n\n"
        } else {
            "{about-with-newline}\n"
        };
        let template =
            format!("{head}{{all-args}}\n\n{{usage-heading}}\n  {{usage}}\n\n{footer}");
        with_kubectl_layout(with_help_flags(sub.help_template(template)), footer)
    })
}

/// clap's "a similar subcommand exists" may name a hidden command (`get` suggested
/// `generate-man`): only visible commands are offered.
pub(crate) fn offer_only_visible(error: clap::Error, command: &clap::Command) -> clap::Error {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if error.kind() != ErrorKind::InvalidSubcommand {
        return error;
    }
    let hidden: Vec<&str> = command
        .get_subcommands()
        .filter(|sub| sub.is_hide_set())
        .map(|sub| sub.get_name())
        .collect();
    let mut offered = clap::Error::new(ErrorKind::InvalidSubcommand).with_cmd(command);
    for (kind, value) in error.context() {
        let value = match (kind, value) {
            (ContextKind::SuggestedSubcommand, ContextValue::Strings(names)) => {
                let visible: Vec<String> = names
                    .iter()
                    .filter(|name| !hidden.contains(&name.as_str()))
                    .cloned()
                    .collect();
                if visible.is_empty() {
                    continue;
                }
                ContextValue::Strings(visible)
            }
            // clap keeps an empty tip list, which would print as a blank line.
            (ContextKind::Suggested, ContextValue::StyledStrs(tips)) if tips.is_empty() => continue,
            (_, value) => value.clone(),
        };
        offered.insert(kind, value);
    }
    offered
}

/// `options`: the flags every command takes, as one help text.
pub(crate) fn global_options(name: &str) -> clap::Command {
    let root = Cli::command();
    let globals = root
        .get_arguments()
        .filter(|arg| arg.is_global_set())
        .map(|arg| arg.clone().global(false).hide(false));
    clap::Command::new("options")
        .bin_name(format!("{name} options"))
        .about("The following options can be passed to any command:")
        .max_term_width(100)
        .disable_help_flag(true)
        .help_template("{about-with-newline}\n{all-args}")
        .args(globals)
}

/// kubectl's connection flags (`genericclioptions.ConfigFlags`); kubectl does not parse them
/// for plugins, so we do.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Cluster connection")]
pub(crate) struct KubeArgs {
    /// Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)
    #[arg(long, global = true, value_name = "PATH")]
    pub(crate) kubeconfig: Option<PathBuf>,

    /// The kubeconfig context to use; a comma list, repeatable: NAME, /REGEX/, ^EXCLUDED
    #[arg(long, global = true, value_name = "NAME")]
    pub(crate) context: Vec<String>,

    /// Every context of the kubeconfig (--context ^NAME still excludes)
    #[arg(long, global = true)]
    pub(crate) all_contexts: bool,

    /// With several contexts: how many run at once
    #[arg(long, global = true, value_name = "N", default_value_t = 4,
          value_parser = clap::value_parser!(u16).range(1..))]
    pub(crate) context_concurrency: u16,

    /// With several contexts: write without asking first (required without a terminal)
    #[arg(long, global = true)]
    pub(crate) yes: bool,

    /// The kubeconfig cluster to use
    #[arg(long, global = true, value_name = "NAME")]
    pub(crate) cluster: Option<String>,

    /// The kubeconfig user to use
    #[arg(long, global = true, value_name = "NAME")]
    pub(crate) user: Option<String>,

    /// The namespace (default: the context's namespace)
    #[arg(short = 'n', long, global = true, value_name = "NAME")]
    pub(crate) namespace: Option<String>,

    /// Username to impersonate
    #[arg(long = "as", global = true, value_name = "USER")]
    pub(crate) as_user: Option<String>,

    /// Group to impersonate (repeatable)
    #[arg(long = "as-group", global = true, value_name = "GROUP")]
    pub(crate) as_group: Vec<String>,

    /// How long to wait for one API request (e.g. 5s, 1m); 0 means no limit
    #[arg(long, global = true, value_name = "DURATION", default_value = "0", value_parser = parse_duration)]
    pub(crate) request_timeout: Duration,
}

#[derive(Debug, Args)]
pub(crate) struct CreateArgs {
    /// Name of the Secret (a DNS-1123 subdomain)
    pub(crate) name: String,

    #[command(flatten)]
    pub(crate) credentials: CredentialArgs,

    #[command(flatten)]
    pub(crate) scope: ScopeArgs,

    #[command(flatten)]
    pub(crate) definitions: DefinitionsArgs,

    /// Then attach it to this workload or ServiceAccount
    ///
    /// Repeatable; the same as `attach NAME KIND/NAME` after writing.
    #[arg(long = "attach", value_name = "KIND/NAME", help_heading = "Writing")]
    pub(crate) attach: Vec<String>,

    /// Take over a same-named Secret that is not ours
    ///
    /// A Secret of another type is deleted and created again.
    #[arg(long, help_heading = "Writing")]
    pub(crate) force: bool,

    /// Drop registries this run does not write
    ///
    /// By default the Secret keeps every registry it already holds.
    #[arg(long, help_heading = "Writing")]
    pub(crate) replace: bool,

    /// Without --server, copy every login found into several namespaces or contexts (refused otherwise)
    #[arg(hide_short_help = true, long, help_heading = "Writing")]
    pub(crate) all_registries: bool,

    /// Write a login whose token has already expired (refused otherwise)
    #[arg(hide_short_help = true, long, help_heading = "Writing")]
    pub(crate) allow_expired: bool,

    /// Write nothing unless every login verifies
    ///
    /// Asks each registry first, as `verify` does.
    #[arg(long, help_heading = "Writing")]
    pub(crate) verify: bool,

    #[command(flatten)]
    pub(crate) registry: RegistryArgs,

    #[command(flatten)]
    pub(crate) write: WriteArgs,
}

#[derive(Debug, Args)]
pub(crate) struct SyncArgs {
    /// The credential (a Secret name); default: every one we manage
    pub(crate) name: Option<String>,

    /// Explicit credentials cannot be read again: give them again to change them
    #[command(flatten)]
    pub(crate) explicit: ExplicitArgs,

    #[command(flatten)]
    pub(crate) lookup: LookupArgs,

    #[command(flatten)]
    pub(crate) scope: ScopeArgs,

    #[command(flatten)]
    pub(crate) definitions: DefinitionsArgs,

    /// Also delete our copies in namespaces that left the scope
    #[arg(long, help_heading = "Sync")]
    pub(crate) prune: bool,

    /// With --prune: detach each copy before deleting it
    ///
    /// From the workloads and ServiceAccounts that use it.
    #[arg(long, requires = "prune", help_heading = "Sync")]
    pub(crate) detach: bool,

    /// Only print the plan; exit 1 if anything would change
    #[arg(long, help_heading = "Sync")]
    pub(crate) check: bool,

    /// Drop a registry that its source no longer holds, instead of failing
    #[arg(hide_short_help = true, long, help_heading = "Sync")]
    pub(crate) allow_removal: bool,

    /// Write a re-read login whose username differs from the one the copies hold
    #[arg(hide_short_help = true, long, help_heading = "Sync")]
    pub(crate) allow_identity_change: bool,

    /// Take over same-named Secrets that are not ours
    ///
    /// Only in a scope given on this command line, and never Rancher's copies.
    #[arg(long, help_heading = "Writing")]
    pub(crate) force: bool,

    #[command(flatten)]
    pub(crate) watch: WatchArgs,

    #[command(flatten)]
    pub(crate) write: WriteArgs,
}

/// `sync --watch`: the continuous reconciler (docs/controller.md).
#[derive(Debug, Args)]
#[command(next_help_heading = "Watching")]
pub(crate) struct WatchArgs {
    /// Keep reconciling until stopped (Ctrl-C or SIGTERM)
    #[arg(long, conflicts_with = "check")]
    pub(crate) watch: bool,

    /// Read credentials again this often
    ///
    /// Default: at 70% of a known lifetime.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, requires = "watch")]
    pub(crate) refresh: Option<Duration>,

    /// Reconcile every credential from the watch caches this often, even without events
    #[arg(hide_short_help = true, long, value_name = "DURATION", default_value = "10m", value_parser = parse_duration, requires = "watch")]
    pub(crate) resync: Duration,

    /// Attach matching Secrets to new or changed workloads
    ///
    /// With =serviceaccounts, every ServiceAccount too.
    #[arg(
        long,
        value_enum,
        value_name = "WHAT",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "workloads",
        requires = "watch"
    )]
    pub(crate) auto_attach: Option<AutoAttachArg>,

    /// Delete Pods stuck on a pull that a new Pod would pull, so their owners remake them
    ///
    /// A Pod in ErrImagePull or ImagePullBackOff that a workload owns, whose ServiceAccount or
    /// template now has the Secret it lacks: never a bare Pod (docs/controller.md).
    #[arg(hide_short_help = true, long, requires = "watch")]
    pub(crate) heal: bool,

    /// With --auto-attach: the nodes' kubelet credential provider config (file or directory)
    ///
    /// Images a node credential provider serves get no Secret (docs/controller.md).
    #[arg(hide_short_help = true, long, value_name = "FILE", requires = "auto_attach")]
    pub(crate) credential_provider_config: Option<PathBuf>,

    /// At most this many Pods deleted by --heal a minute
    #[arg(hide_short_help = true, long, value_name = "N", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1000), requires = "heal")]
    pub(crate) heal_limit: u32,

    /// Serve /healthz, /readyz and /metrics on this address (e.g. 0.0.0.0:8080)
    #[arg(hide_short_help = true, long, value_name = "ADDR", requires = "watch")]
    pub(crate) listen: Option<std::net::SocketAddr>,

    /// Serve /metrics on this address instead (e.g. 127.0.0.1:9090): credential names stay
    /// off the address the kubelet probes
    #[arg(hide_short_help = true, long, value_name = "ADDR", requires = "watch")]
    pub(crate) metrics_listen: Option<std::net::SocketAddr>,

    /// Log format
    #[arg(hide_short_help = true, 
        long,
        value_enum,
        default_value = "text",
        value_name = "FORMAT",
        requires = "watch"
    )]
    pub(crate) log_format: LogFormatArg,

    /// Elect one writer among replicas with a coordination.k8s.io Lease
    #[arg(hide_short_help = true, long, requires = "watch")]
    pub(crate) leader_elect: bool,

    /// Namespace of the Lease (default: the Pod's or the context's namespace)
    #[arg(hide_short_help = true, long, value_name = "NAMESPACE", requires = "leader_elect")]
    pub(crate) lease_namespace: Option<String>,

    /// Name of the Lease
    #[arg(hide_short_help = true, 
        long,
        value_name = "NAME",
        default_value = "kubectl-regcred",
        requires = "leader_elect"
    )]
    pub(crate) lease_name: String,

    /// How long a Lease holds without renewal
    #[arg(hide_short_help = true, long, value_name = "DURATION", default_value = "15s", value_parser = parse_duration, requires = "leader_elect")]
    pub(crate) lease_duration: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum AutoAttachArg {
    // Deployments, StatefulSets, DaemonSets and CronJobs, by their images. (Plain comments:
    // documented values would switch clap to the long help layout.)
    Workloads,
    // Workloads, and every ServiceAccount gets the managed Secrets of its namespace.
    Serviceaccounts,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum LogFormatArg {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub(crate) struct DeleteArgs {
    /// The Secret
    pub(crate) name: String,

    #[command(flatten)]
    pub(crate) scope: ScopeArgs,

    #[command(flatten)]
    pub(crate) definitions: DefinitionsArgs,

    /// Leave workloads and ServiceAccounts referencing it as they are
    #[arg(long, help_heading = "Writing")]
    pub(crate) keep_references: bool,

    /// Delete it even where kubectl-regcred does not manage it (never Rancher's copies)
    #[arg(long, help_heading = "Writing")]
    pub(crate) force: bool,

    #[command(flatten)]
    pub(crate) write: WriteArgs,
}

/// Where `create` takes credentials from.
#[derive(Debug, Args)]
#[command(next_help_heading = "Credentials")]
pub(crate) struct CredentialArgs {
    #[command(flatten)]
    pub(crate) explicit: ExplicitArgs,

    /// Only look in these sources (repeatable)
    ///
    /// By default: explicit flags, the keychain, docker, podman, in that order.
    #[arg(long = "from", value_enum, value_name = "SOURCE")]
    pub(crate) from: Vec<SourceArg>,

    /// Copy the logins of this pull Secret instead
    ///
    /// A pull Secret in the cluster, read instead of local credentials; `sync` reads it again.
    #[arg(long, value_name = "NS/NAME", conflicts_with_all = ["username", "from", "docker_config"])]
    pub(crate) from_secret: Option<String>,

    #[command(flatten)]
    pub(crate) lookup: LookupArgs,
}

/// Registries and explicit credentials (`create`, and `sync` for explicit ones again).
#[derive(Debug, Args)]
#[command(next_help_heading = "Credentials")]
pub(crate) struct ExplicitArgs {
    /// Registry to include (repeatable); default: all found
    ///
    /// Also spelled --docker-server, as kubectl spells it.
    #[arg(
        long = "server",
        alias = "docker-server",
        value_name = "SERVER"
    )]
    pub(crate) servers: Vec<String>,

    /// Username for explicit credentials
    ///
    /// The password then comes from stdin or a prompt. Also spelled --docker-username.
    #[arg(short = 'u', long, alias = "docker-username", value_name = "USER")]
    pub(crate) username: Option<String>,

    /// Read the password from stdin
    #[arg(long, requires = "username")]
    pub(crate) password_stdin: bool,

    /// Password in argv, for kubectl compatibility (insecure: other users can see it)
    #[arg(hide_short_help = true, 
        long,
        visible_alias = "docker-password",
        value_name = "PASSWORD",
        value_parser = parse_password,
        requires = "username",
        conflicts_with = "password_stdin"
    )]
    pub(crate) password: Option<Password>,

    /// Email for explicit credentials (written only if given)
    #[arg(hide_short_help = true, long, visible_alias = "docker-email", value_name = "EMAIL")]
    pub(crate) email: Option<String>,
}

/// How local sources are read.
#[derive(Debug, Args)]
#[command(next_help_heading = "Credentials")]
pub(crate) struct LookupArgs {
    /// Docker config file to read instead of $DOCKER_CONFIG/config.json or ~/.docker/config.json
    #[arg(hide_short_help = true, long, value_name = "PATH")]
    pub(crate) docker_config: Option<PathBuf>,

    /// How long a credential helper may take to answer
    #[arg(hide_short_help = true, long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub(crate) helper_timeout: Duration,
}

#[derive(Debug, Args)]
pub(crate) struct AttachArgs {
    /// The Secret (optional with --auto), then targets
    ///
    /// Targets are KIND/NAME: deployment/web, sa/default, sts/db, ds/agent, rs/x, cj/report,
    /// job/migrate.
    #[arg(value_name = "SECRET] [KIND/NAME")]
    pub(crate) args: Vec<String>,

    /// Attach the Secrets whose registries match the images
    ///
    /// Every pull Secret of the namespace is a candidate, matched by the kubelet's rules; with a
    /// SECRET, only that one.
    #[arg(long, help_heading = "Attaching")]
    pub(crate) auto: bool,

    #[command(flatten)]
    pub(crate) selection: SelectionArgs,

    /// Reference the Secret even where it does not exist
    ///
    /// Pulls then fail until it does.
    #[arg(long, help_heading = "Attaching")]
    pub(crate) allow_missing: bool,

    /// Roll out the workloads of a changed ServiceAccount
    ///
    /// Its Deployments, StatefulSets and DaemonSets, so that their pods pick the Secret up (as
    /// kubectl rollout restart does).
    #[arg(long, help_heading = "Attaching")]
    pub(crate) restart: bool,

    /// With --auto: the nodes' kubelet credential provider config (a file or directory)
    ///
    /// Images a node credential provider serves get no Secret: the kubelet gets their
    /// credentials from the provider (docs/attach.md). Providers that require ServiceAccount
    /// annotations do not count, since a pod template cannot show them.
    #[arg(hide_short_help = true, long, value_name = "FILE", requires = "auto", help_heading = "Attaching")]
    pub(crate) credential_provider_config: Option<PathBuf>,

    #[command(flatten)]
    pub(crate) scope: ScopeArgs,

    #[command(flatten)]
    pub(crate) write: WriteArgs,
}

#[derive(Debug, Args)]
pub(crate) struct DetachArgs {
    /// The Secret to remove
    pub(crate) secret: String,

    /// KIND/NAME targets: deployment/web, sa/default, ...
    #[arg(value_name = "KIND/NAME")]
    pub(crate) targets: Vec<String>,

    #[command(flatten)]
    pub(crate) selection: SelectionArgs,

    #[command(flatten)]
    pub(crate) scope: ScopeArgs,

    #[command(flatten)]
    pub(crate) write: WriteArgs,
}

#[derive(Debug, Args)]
pub(crate) struct LoginArgs {
    /// The registry, e.g. quay.io, ghcr.io, docker.io or reg.example.com:5000
    pub(crate) server: String,

    /// Username
    #[arg(short = 'u', long, value_name = "USER")]
    pub(crate) username: String,

    /// Read the password (or token) from stdin
    #[arg(long)]
    pub(crate) password_stdin: bool,

    /// Password in argv (insecure: other users can see it)
    #[arg(hide_short_help = true, 
        short = 'p',
        long,
        value_name = "PASSWORD",
        value_parser = parse_password,
        conflicts_with = "password_stdin"
    )]
    pub(crate) password: Option<Password>,

    /// Store the login without asking the registry whether it works
    #[arg(long)]
    pub(crate) no_verify: bool,

    #[command(flatten)]
    pub(crate) registry: RegistryArgs,
}

#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// Registries, or secret/NAME (default: every login)
    ///
    /// Registries to verify (default: every one you are logged in to, or the images'), or
    /// secret/NAME for the logins of a pull Secret in the cluster.
    #[arg(value_name = "REGISTRY|secret/NAME")]
    pub(crate) targets: Vec<String>,

    /// Also prove the login may pull this image
    ///
    /// Its token scope and its manifest (repeatable).
    #[arg(long = "image", value_name = "IMAGE")]
    pub(crate) images: Vec<String>,

    /// Verify this username instead of a stored login
    ///
    /// The password comes from stdin or a prompt.
    #[arg(short = 'u', long, value_name = "USER", help_heading = "Credentials")]
    pub(crate) username: Option<String>,

    /// Read the password from stdin
    #[arg(long, requires = "username", help_heading = "Credentials")]
    pub(crate) password_stdin: bool,

    /// Only look in these sources (repeatable)
    ///
    /// By default: explicit flags, the keychain, docker, podman, in that order.
    #[arg(
        long = "from",
        value_enum,
        value_name = "SOURCE",
        help_heading = "Credentials"
    )]
    pub(crate) from: Vec<SourceArg>,

    #[command(flatten)]
    pub(crate) lookup: LookupArgs,

    #[command(flatten)]
    pub(crate) registry: RegistryArgs,

    /// Output format: json, yaml, jsonpath=, custom-columns= (default: a table)
    ///
    /// jsonpath=TEMPLATE and custom-columns=SPEC take kubectl's syntax, e.g.
    /// -o jsonpath='{.metadata.name}' or -o custom-columns=NAME:.metadata.name.
    #[arg(
        short = 'o',
        long,
        value_name = "FORMAT",
        value_parser = OutputParser::<StructuredOutputArg>::new(),
        hide_possible_values = true,
        help_heading = "Output"
    )]
    pub(crate) output: Option<Output<StructuredOutputArg>>,
}

/// How registries are reached (`verify`, `create --verify`, `login`).
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Registry requests")]
pub(crate) struct RegistryArgs {
    /// How long each request to a registry or token service may take
    #[arg(hide_short_help = true, long = "timeout", value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub(crate) timeout: Duration,

    /// Also trust the CA certificates in this PEM file
    #[arg(hide_short_help = true, long, value_name = "PATH")]
    pub(crate) ca_file: Option<PathBuf>,

    /// Do not check the registry's certificate (insecure)
    #[arg(hide_short_help = true, long)]
    pub(crate) insecure_skip_tls_verify: bool,

    /// Speak plain http to the registry (without it, only loopback registries get http)
    #[arg(hide_short_help = true, long)]
    pub(crate) plain_http: bool,
}

#[derive(Debug, Args)]
pub(crate) struct LogoutArgs {
    /// The registry
    pub(crate) server: String,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ControllerCommand {
    /// Print the Namespace, RBAC and Deployment that run the controller (-n: its namespace)
    #[command(long_about = MANIFESTS_ABOUT)]
    Manifests(ManifestsArgs),
    /// Who leads, when it last reconciled, and each credential's state (-n: its namespace)
    #[command(long_about = STATUS_ABOUT)]
    Status(ControllerStatusArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ManifestsArgs {
    /// The controller's image, as scripts/image.sh builds and pushes it
    ///
    /// Required: no image is published yet, and a default that does not exist would only
    /// fail later, as ImagePullBackOff.
    #[arg(long, value_name = "IMAGE", required = true)]
    pub(crate) image: String,

    /// Also let it attach Secrets to workloads (and ServiceAccounts): adds that RBAC
    #[arg(
        long,
        value_enum,
        value_name = "WHAT",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "workloads"
    )]
    pub(crate) auto_attach: Option<AutoAttachArg>,

    /// Re-read credentials this often
    #[arg(long, value_name = "DURATION")]
    pub(crate) refresh: Option<String>,

    /// Replicas (one leads; the others wait)
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=10))]
    pub(crate) replicas: u16,

    /// Also delete Pods stuck on a pull that a new Pod would pull (sync --heal): adds that RBAC
    #[arg(long)]
    pub(crate) heal: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ControllerStatusArgs {
    /// Name of the Lease
    #[arg(long, value_name = "NAME", default_value = "kubectl-regcred")]
    pub(crate) lease_name: String,

    /// Output format: json, yaml, jsonpath=, custom-columns= (default: a summary)
    ///
    /// jsonpath=TEMPLATE and custom-columns=SPEC take kubectl's syntax, e.g.
    /// -o jsonpath='{.metadata.name}' or -o custom-columns=NAME:.metadata.name.
    #[arg(short = 'o', long, value_name = "FORMAT", value_parser = OutputParser::<StructuredOutputArg>::new(), hide_possible_values = true)]
    pub(crate) output: Option<Output<StructuredOutputArg>>,
}

#[derive(Debug, Args)]
pub(crate) struct LoginsArgs {
    /// Output format: json, yaml, jsonpath=, custom-columns= (default: a table)
    ///
    /// jsonpath=TEMPLATE and custom-columns=SPEC take kubectl's syntax, e.g.
    /// -o jsonpath='{.metadata.name}' or -o custom-columns=NAME:.metadata.name.
    #[arg(short = 'o', long, value_name = "FORMAT", value_parser = OutputParser::<StructuredOutputArg>::new(), hide_possible_values = true)]
    pub(crate) output: Option<Output<StructuredOutputArg>>,
}

#[derive(Debug, Args)]
pub(crate) struct CredentialHelperArgs {
    /// The protocol action; exactly one
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "ACTION"
    )]
    pub(crate) action: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct CompletionArgs {
    /// The shell
    #[arg(value_enum)]
    pub(crate) shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub(crate) struct GenerateManArgs {
    /// Where to write the pages (created if missing)
    pub(crate) dir: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct CompleteArgs {
    /// The words after `regcred`, the last being the one to complete
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub(crate) words: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// Output format: wide, json, yaml, name, jsonpath=, custom-columns=
    ///
    /// The default is a table. jsonpath=TEMPLATE and custom-columns=SPEC take kubectl's syntax, e.g.
    /// -o jsonpath='{.metadata.name}' or -o custom-columns=NAME:.metadata.name.
    #[arg(short = 'o', long, value_name = "FORMAT", value_parser = OutputParser::<ListOutputArg>::new(), hide_possible_values = true)]
    pub(crate) output: Option<Output<ListOutputArg>>,

    /// Only Secrets managed by kubectl-regcred
    #[arg(long)]
    pub(crate) managed: bool,

    #[command(flatten)]
    pub(crate) scope: ScopeArgs,

    #[command(flatten)]
    pub(crate) definitions: DefinitionsArgs,
}

#[derive(Debug, Args)]
pub(crate) struct ShowArgs {
    /// The Secret
    pub(crate) name: String,

    /// Print the decoded .dockerconfigjson, passwords included
    #[arg(long)]
    pub(crate) reveal: bool,

    /// Output format: json, yaml, jsonpath=, custom-columns=; never includes passwords
    ///
    /// The default is a description. jsonpath=TEMPLATE and custom-columns=SPEC take
    /// kubectl's syntax, e.g. -o jsonpath='{.users}'.
    #[arg(
        short = 'o',
        long,
        value_name = "FORMAT",
        value_parser = OutputParser::<StructuredOutputArg>::new(),
        hide_possible_values = true,
        conflicts_with = "reveal"
    )]
    pub(crate) output: Option<Output<StructuredOutputArg>>,
}

#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    /// Workloads, pod/NAME or sa/NAME; default: all
    ///
    /// KIND/NAME targets; by default every workload and standalone Pod in the namespaces.
    #[arg(value_name = "KIND/NAME")]
    pub(crate) targets: Vec<String>,

    /// Ask registries whether unmatched images pull anonymously
    ///
    /// For images no credential matches: the only request to a registry `check` makes.
    #[arg(long)]
    pub(crate) probe: bool,

    /// The nodes' kubelet credential provider config (a file or directory)
    ///
    /// The kubelet's own CredentialProviderConfig (kubelet.config.k8s.io/v1), as its
    /// --image-credential-provider-config takes it: check tells which provider the kubelet asks
    /// for each image no pull Secret serves, and whether the ServiceAccount carries the
    /// annotations a token provider requires.
    #[arg(hide_short_help = true, long, value_name = "FILE")]
    pub(crate) credential_provider_config: Option<PathBuf>,

    /// How long a --probe may take per registry
    #[arg(hide_short_help = true, long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    pub(crate) probe_timeout: Duration,

    /// Output format: wide, name, json, yaml, jsonpath=, custom-columns= (default: text)
    ///
    /// wide is a table with a row per image; name lists the objects that will not pull (those
    /// check exits 1 for). jsonpath=TEMPLATE and custom-columns=SPEC take kubectl's syntax and
    /// read the json document, e.g. -o jsonpath='{.items[*].object}'.
    #[arg(short = 'o', long, value_name = "FORMAT", value_parser = OutputParser::<CheckOutputArg>::new(), hide_possible_values = true)]
    pub(crate) output: Option<Output<CheckOutputArg>>,

    #[command(flatten)]
    pub(crate) scope: ScopeArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ListOutputArg {
    Wide,
    Json,
    Yaml,
    Name,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum StructuredOutputArg {
    Json,
    Yaml,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum CheckOutputArg {
    Wide,
    Name,
    Json,
    Yaml,
}

/// `-o`: one of a command's format names, or kubectl's `jsonpath=TEMPLATE` or
/// `custom-columns=SPEC` (the template is read when settings are made).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Output<F> {
    Named(F),
    JsonPath(String),
    CustomColumns(String),
}

/// Parses `-o` into an [`Output`]; lists the names and the two template forms as its
/// possible values, for help and completion.
#[derive(Clone)]
pub(crate) struct OutputParser<F>(std::marker::PhantomData<F>);

impl<F> OutputParser<F> {
    pub(crate) fn new() -> Self {
        Self(std::marker::PhantomData)
    }
}

impl<F: ValueEnum + Clone + Send + Sync + 'static> clap::builder::TypedValueParser
    for OutputParser<F>
{
    type Value = Output<F>;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<Self::Value, clap::Error> {
        if let Some(text) = value.to_str() {
            if let Some(template) = text.strip_prefix("jsonpath=") {
                return Ok(Output::JsonPath(template.to_string()));
            }
            if let Some(spec) = text.strip_prefix("custom-columns=") {
                return Ok(Output::CustomColumns(spec.to_string()));
            }
        }
        clap::builder::EnumValueParser::<F>::new()
            .parse_ref(cmd, arg, value)
            .map(Output::Named)
            .map_err(|_| {
                // clap's own error, listing the template forms too.
                use clap::error::{ContextKind, ContextValue, ErrorKind};
                let mut error = clap::Error::new(ErrorKind::InvalidValue).with_cmd(cmd);
                let arg = arg.map_or("--output <FORMAT>".to_string(), ToString::to_string);
                let valid = self.possible_values().into_iter().flatten();
                let valid = valid.map(|v| v.get_name().to_string()).collect();
                let value = value.to_string_lossy().into_owned();
                error.insert(ContextKind::InvalidArg, ContextValue::String(arg));
                error.insert(ContextKind::InvalidValue, ContextValue::String(value));
                error.insert(ContextKind::ValidValue, ContextValue::Strings(valid));
                error
            })
    }

    fn possible_values(
        &self,
    ) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        let named = F::value_variants()
            .iter()
            .filter_map(ValueEnum::to_possible_value);
        // Completed as kubectl completes them: the prefix, for the user to go on typing.
        let templates = [
            ("jsonpath=", "jsonpath=TEMPLATE, e.g. jsonpath='{.metadata.name}'"),
            ("custom-columns=", "custom-columns=SPEC, e.g. custom-columns=NAME:.metadata.name"),
        ]
        .map(|(name, help)| clap::builder::PossibleValue::new(name).help(help));
        Some(Box::new(named.chain(templates)))
    }
}

/// `--all KIND` and `-l`: targets chosen by kind and labels rather than by name.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Targets")]
pub(crate) struct SelectionArgs {
    /// Every object of this kind (repeatable), e.g. --all deployments
    #[arg(long = "all", value_name = "KIND")]
    pub(crate) all: Vec<String>,

    /// Only objects whose labels match (with --all)
    #[arg(short = 'l', long = "selector", value_name = "SELECTOR")]
    pub(crate) selector: Option<String>,
}

/// Where the definitions of credentials shared by several namespaces live (docs/sync.md).
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Namespaces")]
pub(crate) struct DefinitionsArgs {
    /// The namespace holding the definitions of credentials shared by several namespaces
    #[arg(hide_short_help = true, long, value_name = "NS", default_value = "regcred-system")]
    pub(crate) definitions_namespace: String,
}

/// Which namespaces a command works in, besides `-n`.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Namespaces")]
pub(crate) struct ScopeArgs {
    /// These namespaces (comma-separated)
    #[arg(long, value_delimiter = ',', value_name = "NS,...", conflicts_with_all = ["all_namespaces", "namespace_selector", "project"])]
    pub(crate) namespaces: Vec<String>,

    /// Every namespace
    ///
    /// Commands that write skip kube-system, kube-public and kube-node-lease.
    #[arg(short = 'A', long, conflicts_with_all = ["namespace_selector", "project"])]
    pub(crate) all_namespaces: bool,

    /// Namespaces whose labels match (e.g. team=payments)
    #[arg(long, value_name = "SELECTOR", conflicts_with = "project")]
    pub(crate) namespace_selector: Option<String>,

    /// A Rancher project's namespaces
    ///
    /// Those labelled field.cattle.io/projectId=ID.
    #[arg(long, value_name = "ID")]
    pub(crate) project: Option<String>,

    /// Leave out these namespaces (names or whole-name regexes, comma-separated)
    #[arg(hide_short_help = true, long, value_delimiter = ',', value_name = "NS,...")]
    pub(crate) exclude_namespaces: Vec<String>,
}

/// Flags shared by commands that write objects.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Writing")]
pub(crate) struct WriteArgs {
    /// Output format: json, yaml, name, jsonpath=, custom-columns=
    ///
    /// jsonpath=TEMPLATE and custom-columns=SPEC take kubectl's syntax, e.g.
    /// -o jsonpath='{.metadata.name}' or -o custom-columns=NAME:.metadata.name.
    #[arg(short = 'o', long, value_name = "FORMAT", value_parser = OutputParser::<OutputArg>::new(), hide_possible_values = true)]
    pub(crate) output: Option<Output<OutputArg>>,

    /// Write nothing: print (client) or validate (server)
    #[arg(
        long,
        value_enum,
        value_name = "STRATEGY",
        num_args = 0..=1,
        require_equals = true,
        default_value = "none",
        default_missing_value = "client"
    )]
    pub(crate) dry_run: DryRunArg,

    /// How many namespaces to work on at once
    #[arg(hide_short_help = true, long, default_value_t = 8, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub(crate) concurrency: u16,

    /// Name of the field manager recorded by the API server
    #[arg(hide_short_help = true, long, default_value = "kubectl-regcred", value_name = "NAME")]
    pub(crate) field_manager: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum SourceArg {
    Explicit,
    Keychain,
    Docker,
    Podman,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum OutputArg {
    Json,
    Yaml,
    Name,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum DryRunArg {
    None,
    Client,
    Server,
}

/// `--password`: held as a [`Password`] from the start (redacted `Debug`, zeroed on drop).
fn parse_password(text: &str) -> Result<Password, std::convert::Infallible> {
    Ok(Password::new(text.to_string()))
}

/// A duration kubectl would not accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum InvalidDuration {
    #[error("invalid duration {0:?}: use a number with a unit, e.g. 500ms, 5s, 2m, 1h")]
    Spelling(String),
    #[error("invalid duration {0:?}: longer than Go's (and so kubectl's) limit of about 292 years")]
    OutOfRange(String),
}

/// Go's `time.Duration` is an int64 of nanoseconds; `time.ParseDuration` refuses more.
const LONGEST_DURATION: Duration = Duration::from_nanos(i64::MAX as u64);

/// kubectl's duration spelling: `0`, `500ms`, `5s`, `2m`, `1h`, `1m30s`.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, InvalidDuration> {
    let text = text.trim();
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    let bad = || InvalidDuration::Spelling(text.to_string());
    let out_of_range = || InvalidDuration::OutOfRange(text.to_string());
    let mut total = Duration::ZERO;
    let mut rest = text;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .ok_or_else(bad)?;
        let number: f64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let seconds = match &rest[..unit_len] {
            "ms" => number / 1000.0,
            "s" => number,
            "m" => number * 60.0,
            "h" => number * 3600.0,
            _ => return Err(bad()),
        };
        total = Duration::try_from_secs_f64(seconds)
            .ok()
            .and_then(|part| total.checked_add(part))
            .filter(|sum| *sum <= LONGEST_DURATION)
            .ok_or_else(out_of_range)?;
        rest = &rest[unit_len..];
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definitions_are_consistent() {
        Cli::command().debug_assert();
        command("kubectl regcred").debug_assert();
        global_options("kubectl regcred").debug_assert();
    }

    /// A password given in argv is held as a `Password` from parsing on: no `Debug` of the
    /// parsed command line shows it.
    #[test]
    fn argv_passwords_never_show_in_debug() {
        use clap::Parser;
        for args in [
            [
                "kubectl-regcred",
                "create",
                "x",
                "--username",
                "u",
                "--password",
                "S3CRET-CANARY",
            ],
            [
                "kubectl-regcred",
                "login",
                "quay.io",
                "-u",
                "u",
                "--password",
                "S3CRET-CANARY",
            ],
        ] {
            let cli = Cli::try_parse_from(args).unwrap();
            let debug = format!("{cli:?}");
            assert!(!debug.contains("CANARY"), "{debug}");
        }
    }

    #[test]
    fn durations_follow_kubectl() {
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
        assert_eq!(parse_duration("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("5x").is_err());
        assert!(parse_duration("").is_err());
        // Too long for Go's time.Duration: a usage error, not a panic.
        for huge in ["99999999999999999999999h", "300000000h", "1e400s"] {
            assert!(
                matches!(
                    parse_duration(huge),
                    Err(InvalidDuration::OutOfRange(_) | InvalidDuration::Spelling(_))
                ),
                "{huge}"
            );
        }
        assert_eq!(
            parse_duration("99999999999999999999999h"),
            Err(InvalidDuration::OutOfRange(
                "99999999999999999999999h".into()
            ))
        );
        assert!(parse_duration("2000000h").is_ok());
    }
}
