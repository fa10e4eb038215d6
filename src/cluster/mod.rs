//! Cluster access: kubectl's connection flags turned into a kube client, the namespaces a
//! command targets, and API errors phrased the way kubectl phrases them.

use std::error::Error as _;
use std::path::Path;

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, ListParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

use crate::fanout;
use crate::local_file;
use crate::notices::Notices;
use crate::rules::kubeconfig::{self, FileKind, Selection, client_error};
use crate::rules::proxy;
use crate::rules::scope::{NamespaceScope, Scope};
use crate::rules::text::{escape_field, redact_userinfo};

pub(crate) mod fetch;
pub(crate) mod inventory;
#[cfg(test)]
pub(crate) mod mock;
pub(crate) mod retry;
pub(crate) mod secrets;
mod unreachable;
pub(crate) mod writes;

/// How long connecting (TCP and TLS) to the API server may take without --request-timeout.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// How long a request waits for the server to say anything (each read, headers first): the
/// API server's own default request timeout, past which it answers 504 itself.
const FIRST_BYTE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// From this many namespaces on, one cluster-wide read replaces one read per namespace.
pub(crate) const CLUSTER_WIDE_THRESHOLD: usize = 5;

/// A failed API request, in the words kubectl would use (see [`describe`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub(crate) struct ApiError {
    pub(crate) status: Option<u16>,
    pub(crate) message: String,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum ClusterError {
    /// Why a kubeconfig could not be used, by [`kubeconfig::failure`]: never its YAML.
    #[error("{what}: {reason}")]
    Kubeconfig { what: String, reason: String },
    /// No `#[source]`: kube's own message may quote an exec plugin's token ([`client_error`]).
    #[error("creating the Kubernetes client: {}", client_error(.0))]
    Client(kube::Error),
    #[error(transparent)]
    Proxy(#[from] proxy::ProxyError),
    #[error("reading {0}")]
    LocalFile(#[from] local_file::LocalFileError),
    /// A file the kubeconfig names for its cluster or user, refused before kube reads it.
    #[error("reading the kubeconfig's {field} {source}")]
    KubeconfigFile {
        field: &'static str,
        source: local_file::LocalFileError,
    },
    #[error("{context}: {source}")]
    Api {
        context: &'static str,
        source: ApiError,
    },
    #[error(
        "the kubeconfig user's token (or its exec plugin's) holds a line end or another control \
         character, which no HTTP header may; its text is not shown"
    )]
    InvalidToken,
    #[error("using the Pod's ServiceAccount (in-cluster configuration): {0}")]
    InCluster(String),
    #[error("no namespace matches the selector {0:?}")]
    NoNamespaceMatches(String),
}

/// Which cluster, as whom: the client options kubectl's connection flags give (the
/// settings layer fills it in).
#[derive(Debug, Clone, Default)]
pub(crate) struct Connection {
    pub(crate) kubeconfig: Option<std::path::PathBuf>,
    pub(crate) context: Option<String>,
    pub(crate) cluster: Option<String>,
    pub(crate) user: Option<String>,
    pub(crate) impersonate_user: Option<String>,
    pub(crate) impersonate_groups: Vec<String>,
    /// `None` means no limit (`--request-timeout=0`).
    pub(crate) request_timeout: Option<std::time::Duration>,
    /// A watch that runs until stopped (`sync --watch`): its reads may idle for minutes, and
    /// one failed connection must not fail the rest of its life (docs/conventions.md).
    pub(crate) long_running: bool,
}

/// A namespace as listed: its name and whether it is being deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ListedNamespace {
    pub(crate) name: String,
    pub(crate) terminating: bool,
}

/// A connected client plus what the kubeconfig says about where we are.
#[derive(Clone)]
pub(crate) struct Cluster {
    pub(crate) client: Client,
    pub(crate) server: String,
    pub(crate) default_namespace: String,
    /// The proxy the connection goes through (no credentials), for error messages.
    proxy: Option<String>,
    /// Whether the server serves `batch/v1` CronJobs, discovered once per command.
    cronjob_v1: std::sync::Arc<tokio::sync::OnceCell<bool>>,
    /// Where long fan-outs report their progress (a bar on the commands' terminal).
    progress: std::sync::Arc<dyn fanout::Progress>,
}

/// The kubeconfig `--kubeconfig` names, or kubectl's default one.
pub(crate) fn read_kubeconfig(connection: &Connection) -> Result<Kubeconfig, ClusterError> {
    // kube reads the files: first make sure none is a FIFO, a device or huge
    // (docs/conventions.md, "Guarantees").
    for path in kubeconfig_paths(connection) {
        local_file::check_regular(&path, local_file::MAX_CONFIG_FILE)?;
    }
    let result = match &connection.kubeconfig {
        Some(path) => Kubeconfig::read_from(path),
        None => Kubeconfig::read(),
    };
    let what = match &connection.kubeconfig {
        Some(path) => format!("loading kubeconfig {}", path.display()),
        None => "loading kubeconfig ($KUBECONFIG or ~/.kube/config)".to_string(),
    };
    result.map_err(|error| ClusterError::Kubeconfig {
        what,
        reason: kubeconfig::failure(&error),
    })
}

/// The files kubectl would read: `--kubeconfig`, else each of `$KUBECONFIG`, else
/// `~/.kube/config`.
fn kubeconfig_paths(connection: &Connection) -> Vec<std::path::PathBuf> {
    if let Some(path) = &connection.kubeconfig {
        return vec![path.clone()];
    }
    match std::env::var_os("KUBECONFIG") {
        Some(list) if !list.is_empty() => std::env::split_paths(&list).collect(),
        _ => dirs::home_dir()
            .map(|home| vec![home.join(".kube").join("config")])
            .unwrap_or_default(),
    }
}

/// The kubeconfig's context names, in its order: what `--context` patterns select from.
pub(crate) fn context_names(connection: &Connection) -> Result<Vec<String>, ClusterError> {
    Ok(read_kubeconfig(connection)?
        .contexts
        .into_iter()
        .map(|context| context.name)
        .collect())
}

fn options(connection: &Connection) -> KubeConfigOptions {
    KubeConfigOptions {
        context: connection.context.clone(),
        cluster: connection.cluster.clone(),
        user: connection.user.clone(),
    }
}

/// The context's namespace without connecting, for client-side dry runs. With no usable
/// kubeconfig this is `default`, as with `kubectl create --dry-run=client`.
pub(crate) fn context_namespace(connection: &Connection) -> String {
    let Ok(config) = read_kubeconfig(connection) else {
        return "default".to_string();
    };
    selection(connection)
        .context(&config)
        .and_then(|context| context.namespace.clone())
        .unwrap_or_else(|| "default".to_string())
}

pub(crate) async fn connect(
    connection: &Connection,
    progress: &std::sync::Arc<dyn fanout::Progress>,
) -> Result<Cluster, ClusterError> {
    let (mut config, kubeconfig_copy) = if runs_in_cluster(connection) {
        let config =
            Config::incluster().map_err(|source| ClusterError::InCluster(source.to_string()))?;
        (config, Kubeconfig::default())
    } else {
        let kubeconfig = read_kubeconfig(connection)?;
        if let Some(user) = selection(connection).missing_user(&kubeconfig) {
            return Err(ClusterError::Kubeconfig {
                what: "using kubeconfig".to_string(),
                reason: format!(
                    "auth info {} does not exist",
                    escape_field(&format!("{user:?}"))
                ),
            });
        }
        // kube reads these itself (a tokenFile on every request): never a FIFO, a device or
        // a huge file.
        for (kind, field, path) in kubeconfig::files_read(&kubeconfig, &selection(connection)) {
            let limit = match kind {
                FileKind::Certificate => local_file::MAX_CONFIG_FILE,
                FileKind::Token => local_file::MAX_TOKEN_FILE,
            };
            local_file::check_regular(&path, limit)
                .map_err(|source| ClusterError::KubeconfigFile { field, source })?;
        }
        let kubeconfig_copy = kubeconfig.clone();
        let mut config = Config::from_custom_kubeconfig(kubeconfig, &options(connection))
            .await
            .map_err(|error| ClusterError::Kubeconfig {
                what: "using kubeconfig".to_string(),
                reason: kubeconfig::failure(&error),
            })?;
        // client-go trims a tokenFile's whitespace (`echo $TOKEN > file` ends in a newline);
        // kube sends it as it is, which no server accepts. A command reads it once, trimmed;
        // a watch leaves it to kube, which reads it again as it rotates.
        if !connection.long_running
            && config.auth_info.token.is_none()
            && let Some(file) = config.auth_info.token_file.take()
        {
            let path = Path::new(&file);
            let text = local_file::read_regular_text(path, local_file::MAX_TOKEN_FILE)
                .and_then(|text| {
                    text.ok_or_else(|| local_file::LocalFileError::Io {
                        path: path.to_path_buf(),
                        source: std::io::ErrorKind::NotFound.into(),
                    })
                })
                .map_err(|source| ClusterError::KubeconfigFile {
                    field: "tokenFile",
                    source,
                })?;
            config.auth_info.token = Some(text.trim().to_string().into());
        }
        (config, kubeconfig_copy)
    };
    if let Some(user) = &connection.impersonate_user {
        config.auth_info.impersonate = Some(user.clone());
    }
    if !connection.impersonate_groups.is_empty() {
        config.auth_info.impersonate_groups = Some(connection.impersonate_groups.clone());
    }
    match connection.request_timeout {
        Some(timeout) => {
            config.connect_timeout = Some(timeout);
            config.read_timeout = Some(timeout);
            config.write_timeout = Some(timeout);
            config.reset_reader_on_write = true;
        }
        // kubectl's transport gives the TCP connect and the TLS handshake 10 s each; the
        // connector here does both, so one 10 s bound.
        None => {
            config.connect_timeout = Some(CONNECT_TIMEOUT);
            // A server that completes TLS and then says nothing is given up on after the
            // API server's own request limit; a watch keeps kube's long reads.
            if !connection.long_running {
                config.read_timeout = Some(FIRST_BYTE_TIMEOUT);
            }
        }
    }
    // As messages show it: a password in the URL is masked, as kubectl masks it.
    let server = redact_userinfo(config.cluster_url.to_string().trim_end_matches('/'));
    let default_namespace = config.default_namespace.clone();
    let proxy = proxy::choose(
        &config.cluster_url,
        kubeconfig_proxy_url(&kubeconfig_copy, connection).as_deref(),
        &proxy::ProxyEnv::from_lookup(|name| std::env::var(name).ok()),
    )?;
    let proxy_address = proxy.as_ref().map(|proxy| proxy.address.to_string());
    let client = client(config, proxy, !connection.long_running)?;
    Ok(Cluster {
        client,
        server,
        default_namespace,
        proxy: proxy_address,
        cronjob_v1: Default::default(),
        progress: progress.clone(),
    })
}

/// client-go's rule: with no kubeconfig named (flag or `$KUBECONFIG`) and none at
/// `~/.kube/config`, a Pod (`KUBERNETES_SERVICE_HOST` set) uses its ServiceAccount.
fn runs_in_cluster(connection: &Connection) -> bool {
    let named = connection.kubeconfig.is_some()
        || connection.context.is_some()
        || connection.cluster.is_some()
        || connection.user.is_some()
        || std::env::var_os("KUBECONFIG").is_some_and(|v| !v.is_empty());
    let default_exists = dirs::home_dir().is_some_and(|home| home.join(".kube/config").exists());
    !named
        && !default_exists
        && std::env::var_os("KUBERNETES_SERVICE_HOST").is_some_and(|v| !v.is_empty())
        && std::env::var_os("KUBERNETES_SERVICE_PORT").is_some_and(|v| !v.is_empty())
}

/// Connects, then lists the namespaces `scope` names: what every multi-namespace command
/// starts with.
pub(crate) async fn connect_in(
    connection: &Connection,
    scope: &Scope,
    progress: &std::sync::Arc<dyn fanout::Progress>,
    notices: &Notices,
) -> Result<(Cluster, Vec<String>), ClusterError> {
    let cluster = connect(connection, progress).await?;
    let namespaces = cluster.namespaces(scope, notices).await?;
    Ok((cluster, namespaces))
}

/// The `proxy-url` of the cluster entry the connection flags select.
fn kubeconfig_proxy_url(kubeconfig: &Kubeconfig, connection: &Connection) -> Option<String> {
    selection(connection).cluster(kubeconfig)?.proxy_url.clone()
}

/// The kubeconfig entries the connection flags select.
fn selection(connection: &Connection) -> Selection<'_> {
    Selection {
        context: connection.context.as_deref(),
        cluster: connection.cluster.as_deref(),
        user: connection.user.as_deref(),
    }
}

/// kube's default client stack over our own connector: through the chosen proxy, and with
/// TCP_NODELAY. kube's own connector leaves Nagle on, so the first request on every
/// connection waits ~40 ms for a delayed ACK; Go's net/http, and so kubectl, sets TCP_NODELAY.
fn client(
    config: Config,
    proxy: Option<proxy::Proxy>,
    fail_fast: bool,
) -> Result<Client, ClusterError> {
    use hyper_util::client::legacy::connect::HttpConnector;
    use hyper_util::client::legacy::connect::proxy::{SocksV5, Tunnel};
    use kube::client::ConfigExt;

    let mut tcp = HttpConnector::new();
    tcp.enforce_http(false);
    tcp.set_nodelay(true);
    let Some(proxy) = proxy else {
        return client_over(config, tcp, fail_fast);
    };
    let basic_auth = proxy.credentials.as_ref().and_then(|(user, password)| {
        use base64::Engine as _;
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        http::HeaderValue::from_str(&format!("Basic {token}")).ok()
    });
    fn with_auth<C>(tunnel: Tunnel<C>, header: Option<http::HeaderValue>) -> Tunnel<C> {
        match header {
            Some(header) => tunnel.with_auth(header),
            None => tunnel,
        }
    }
    match proxy.protocol {
        proxy::ProxyProtocol::Http => {
            let connector = with_auth(Tunnel::new(proxy.address, tcp), basic_auth);
            client_over(config, connector, fail_fast)
        }
        proxy::ProxyProtocol::Https => {
            // Go dials an https proxy with the transport's TLS settings; so does this.
            let tls = config
                .rustls_https_connector_with_connector(tcp)
                .map_err(ClusterError::Client)?;
            let connector = with_auth(Tunnel::new(proxy.address, tls), basic_auth);
            client_over(config, connector, fail_fast)
        }
        proxy::ProxyProtocol::Socks5 => {
            let connector = match proxy.credentials {
                Some((user, password)) => {
                    SocksV5::new(proxy.address, tcp).with_auth(user, password)
                }
                None => SocksV5::new(proxy.address, tcp),
            };
            client_over(config, connector, fail_fast)
        }
    }
}

fn client_over<C>(config: Config, connector: C, fail_fast: bool) -> Result<Client, ClusterError>
where
    C: tower::Service<http::Uri> + Clone + Send + Sync + 'static,
    C::Response: hyper::rt::Read
        + hyper::rt::Write
        + hyper_util::client::legacy::connect::Connection
        + Send
        + Unpin
        + 'static,
    C::Future: Send + 'static,
    C::Error: std::error::Error + Send + Sync + 'static,
{
    use kube::client::ConfigExt;
    use kube::client::retry::RetryPolicy;
    use tower::ServiceBuilder;
    use tower::retry::RetryLayer;

    let https = config
        .rustls_https_connector_with_connector(connector)
        .map_err(ClusterError::Client)?;
    let mut timeouts = hyper_timeout::TimeoutConnector::new(https);
    timeouts.set_connect_timeout(config.connect_timeout);
    timeouts.set_read_timeout(config.read_timeout);
    timeouts.set_write_timeout(config.write_timeout);
    timeouts.set_reset_reader_on_write(config.reset_reader_on_write);
    let hyper = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build(timeouts);
    // kube's authentication layer for the kubeconfig's user runs its exec plugin, if any, and
    // builds the `Authorization` header with an `expect`: a token with a line end or another
    // control character (in the kubeconfig or from a plugin) would panic. It is an error
    // here instead, and its text is never shown.
    let previous_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let built = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| config.auth_layer()));
    std::panic::set_hook(previous_hook);
    let auth_layer = built
        .map_err(|_| ClusterError::InvalidToken)?
        .map_err(ClusterError::Client)?;
    let service = ServiceBuilder::new()
        .layer(config.base_uri_layer())
        .layer(RetryLayer::new(RetryPolicy::server_retry()))
        .option_layer(auth_layer)
        .layer(config.extra_headers_layer().map_err(ClusterError::Client)?)
        .option_layer(fail_fast.then(unreachable::Layer::default))
        .map_err(tower::BoxError::from)
        .service(hyper);
    Ok(Client::new(service, config.default_namespace))
}

impl Cluster {
    /// A cluster over `client` alone, for tests against a mocked API service ([`mock`]).
    #[cfg(test)]
    pub(crate) fn for_tests(client: Client) -> Self {
        Cluster {
            client,
            server: "https://mock.invalid".into(),
            default_namespace: "default".into(),
            proxy: None,
            cronjob_v1: Default::default(),
            progress: fanout::NoProgress::shared(),
        }
    }

    /// CronJob is `batch/v1` from Kubernetes 1.21; older servers only have `batch/v1beta1`.
    pub(crate) async fn serves_cronjob_v1(&self) -> bool {
        *self
            .cronjob_v1
            .get_or_init(|| async {
                self.client
                    .list_api_group_resources("batch/v1")
                    .await
                    .map(|list| list.resources.iter().any(|r| r.name == "cronjobs"))
                    .unwrap_or(true)
            })
            .await
    }

    /// The namespaces a scope names, minus its exclusions. `-A` and selectors leave out
    /// namespaces being deleted, where nothing can be created.
    pub(crate) async fn namespaces(
        &self,
        scope: &Scope,
        notices: &Notices,
    ) -> Result<Vec<String>, ClusterError> {
        let listed = match &scope.namespaces {
            NamespaceScope::Context => vec![self.default_namespace.clone()],
            NamespaceScope::Named(names) => names.clone(),
            NamespaceScope::All | NamespaceScope::Selector(_) => {
                let mut live = Vec::new();
                for ns in self.list_namespaces(&scope.namespaces).await? {
                    if !ns.terminating {
                        live.push(ns.name);
                    } else if scope.admits(&ns.name) {
                        notices.note(format!(
                            "skipping namespace {}: it is being deleted",
                            ns.name
                        ));
                    }
                }
                live
            }
        };
        Ok(listed.into_iter().filter(|ns| scope.admits(ns)).collect())
    }

    /// Every namespace `-A` or a selector names, sorted, with whether it is being deleted.
    /// An empty selection by a selector is an error, as it is most likely a typo.
    pub(crate) async fn list_namespaces(
        &self,
        scope: &NamespaceScope,
    ) -> Result<Vec<ListedNamespace>, ClusterError> {
        let selector = match scope {
            NamespaceScope::Selector(selector) => Some(selector.as_str()),
            _ => None,
        };
        let api: Api<Namespace> = Api::all(self.client.clone());
        let mut params = ListParams::default();
        if let Some(selector) = selector {
            params = params.labels(selector);
        }
        let list = api
            .list_metadata(&params)
            .await
            .map_err(|e| ClusterError::Api {
                context: "listing namespaces",
                source: self.api_error(&e),
            })?;
        let mut namespaces: Vec<ListedNamespace> = list
            .items
            .into_iter()
            .filter_map(|ns| {
                Some(ListedNamespace {
                    terminating: ns.metadata.deletion_timestamp.is_some(),
                    name: ns.metadata.name?,
                })
            })
            .collect();
        namespaces.sort_by(|a, b| a.name.cmp(&b.name));
        if namespaces.is_empty()
            && let Some(selector) = selector
        {
            return Err(ClusterError::NoNamespaceMatches(selector.to_string()));
        }
        Ok(namespaces)
    }

    /// An API error as kubectl would show it: the server's own message, which for Forbidden
    /// names the user, verb, resource and namespace.
    pub(crate) fn describe(&self, error: &kube::Error) -> String {
        describe(error, &self.server, self.proxy.as_deref())
    }

    /// [`Cluster::describe`] as a typed error that keeps the HTTP status.
    pub(crate) fn api_error(&self, error: &kube::Error) -> ApiError {
        ApiError {
            status: status_code(error),
            message: self.describe(error),
        }
    }

    /// [`fanout::run`] with this command's progress bar.
    pub(crate) async fn fan_out<T, R, F, Fut>(
        &self,
        items: Vec<T>,
        concurrency: usize,
        what: &str,
        task: F,
    ) -> Vec<(T, R)>
    where
        T: Clone,
        F: Fn(T) -> Fut,
        Fut: std::future::Future<Output = R>,
    {
        let progress = self.progress.bar(items.len(), what);
        fanout::run(items, concurrency, progress, task).await
    }
}

fn describe(error: &kube::Error, server: &str, proxy: Option<&str>) -> String {
    if matches!(error, kube::Error::Auth(_)) {
        return client_error(error);
    }
    match error {
        kube::Error::Api(status) if status.code == 401 => {
            format!("You must be logged in to the server {server} (Unauthorized)")
        }
        kube::Error::Api(status) if !status.message.is_empty() => status.message.clone(),
        kube::Error::Api(status) => {
            format!("the server answered {} {}", status.code, status.reason)
        }
        kube::Error::HyperError(_) | kube::Error::Service(_) => {
            let mut reason = error.to_string();
            let mut source = error.source();
            while let Some(cause) = source {
                reason = cause.to_string();
                source = cause.source();
            }
            let via = proxy
                .map(|proxy| {
                    format!(
                        " through the proxy {}",
                        redact_userinfo(proxy.trim_end_matches('/'))
                    )
                })
                .unwrap_or_default();
            format!("cannot reach the Kubernetes API server at {server}{via}: {reason}")
        }
        other => other.to_string(),
    }
}

/// The HTTP status of an API error, if it is one.
pub(crate) fn status_code(error: &kube::Error) -> Option<u16> {
    match error {
        kube::Error::Api(status) => Some(status.code),
        _ => None,
    }
}
