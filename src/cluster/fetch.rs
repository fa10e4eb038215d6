//! Reading objects of one resource across namespaces in as few requests as the scope
//! allows. Every command that reads the cluster goes through [`fetch`].

use std::collections::BTreeMap;

use kube::api::{Api, DynamicObject, ListParams};
use kube::discovery::ApiResource;

use super::{ApiError, CLUSTER_WIDE_THRESHOLD, Cluster};
use crate::rules::kinds::Kind;

/// A kind's API resource at `version`.
pub(crate) fn kind_resource(kind: Kind, version: &str) -> ApiResource {
    let group = kind.group();
    ApiResource {
        group: group.to_string(),
        version: version.to_string(),
        api_version: if group.is_empty() {
            version.to_string()
        } else {
            format!("{group}/{version}")
        },
        kind: kind.kind_name().to_string(),
        plural: kind.plural(),
    }
}

/// The API resource to use for a kind on this cluster (see [`Cluster::serves_cronjob_v1`]).
pub(crate) async fn resource(cluster: &Cluster, kind: Kind) -> ApiResource {
    if kind == Kind::CronJob && !cluster.serves_cronjob_v1().await {
        return kind_resource(kind, "v1beta1");
    }
    kind_resource(kind, "v1")
}

/// A core (`v1`) resource, for kinds read through the dynamic API.
pub(crate) fn core_resource(kind: &str, plural: &str) -> ApiResource {
    ApiResource {
        group: String::new(),
        version: "v1".into(),
        api_version: "v1".into(),
        kind: kind.into(),
        plural: plural.into(),
    }
}

pub(crate) fn secret_resource() -> ApiResource {
    core_resource("Secret", "secrets")
}

/// A Secret read through the dynamic API, as the typed struct.
pub(crate) fn as_secret(object: &DynamicObject) -> Option<k8s_openapi::api::core::v1::Secret> {
    serde_json::to_value(object)
        .and_then(serde_json::from_value)
        .ok()
}

/// Which objects to read, and how many requests may be in flight.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Query<'a> {
    pub(crate) name: Option<&'a str>,
    pub(crate) labels: Option<&'a str>,
    /// A field selector, such as `type=kubernetes.io/dockerconfigjson`.
    pub(crate) fields: Option<&'a str>,
    pub(crate) concurrency: usize,
}

/// Field selectors for the two Secret types the kubelet reads. The API server filters on
/// them, so other Secrets (TLS keys, tokens, Helm releases) never leave the cluster.
pub(crate) const PULL_SECRET_SELECTORS: [&str; 2] = [
    "type=kubernetes.io/dockerconfigjson",
    "type=kubernetes.io/dockercfg",
];

/// The pull Secrets of `namespaces`, both types, in one result per namespace.
pub(crate) async fn fetch_pull_secrets(
    cluster: &Cluster,
    namespaces: &[String],
    concurrency: usize,
) -> Fetched {
    let mut merged: Vec<(String, Result<Vec<DynamicObject>, ApiError>)> = namespaces
        .iter()
        .map(|ns| (ns.clone(), Ok(Vec::new())))
        .collect();
    for fields in PULL_SECRET_SELECTORS {
        let query = Query {
            fields: Some(fields),
            concurrency,
            ..Query::default()
        };
        let fetched = fetch(cluster, &secret_resource(), namespaces, query).await;
        for ((_, into), (_, found)) in merged.iter_mut().zip(fetched) {
            match (into.as_mut(), found) {
                (Ok(objects), Ok(more)) => objects.extend(more),
                (Ok(_), Err(error)) => *into = Err(error),
                (Err(_), _) => {}
            }
        }
    }
    merged
}

/// Objects per page when listing, as kubectl's `--chunk-size` default.
const PAGE_SIZE: u32 = 500;

/// A list in pages of [`PAGE_SIZE`], following `continue` tokens to the end.
async fn list_paged(
    api: &Api<DynamicObject>,
    params: &ListParams,
) -> Result<Vec<DynamicObject>, kube::Error> {
    let mut params = params.clone().limit(PAGE_SIZE);
    let mut objects = Vec::new();
    loop {
        let page = api.list(&params).await?;
        objects.extend(page.items);
        match page.metadata.continue_.filter(|token| !token.is_empty()) {
            Some(token) => params = params.continue_token(&token),
            None => return Ok(objects),
        }
    }
}

/// Objects found in one namespace, or why they could not be read there.
pub(crate) type Fetched = Vec<(String, Result<Vec<DynamicObject>, ApiError>)>;

/// Fetches objects of one resource in `namespaces`: the named one, or all matching the labels.
/// Many namespaces are read with one cluster-wide list when allowed; otherwise one request
/// per namespace, so a Forbidden namespace fails alone. Results follow `namespaces`' order.
pub(crate) async fn fetch(
    cluster: &Cluster,
    resource: &ApiResource,
    namespaces: &[String],
    query: Query<'_>,
) -> Fetched {
    let mut params = ListParams::default();
    let name_field = query.name.map(|name| format!("metadata.name={name}"));
    let fields: Vec<&str> = name_field
        .iter()
        .map(String::as_str)
        .chain(query.fields)
        .collect();
    if !fields.is_empty() {
        params = params.fields(&fields.join(","));
    }
    if let Some(labels) = query.labels {
        params = params.labels(labels);
    }
    if namespaces.len() >= CLUSTER_WIDE_THRESHOLD {
        let api: Api<DynamicObject> = Api::all_with(cluster.client.clone(), resource);
        // Served from the watch cache; writes are guarded, so a stale read is safe.
        if let Ok(list) = api.list(&params.clone().at("0")).await {
            let mut by_namespace: BTreeMap<String, Vec<DynamicObject>> = BTreeMap::new();
            for object in list.items {
                let ns = object.metadata.namespace.clone().unwrap_or_default();
                by_namespace.entry(ns).or_default().push(object);
            }
            return namespaces
                .iter()
                .map(|ns| (ns.clone(), Ok(by_namespace.remove(ns).unwrap_or_default())))
                .collect();
        }
    }
    let params = &params;
    cluster
        .fan_out(
            namespaces.to_vec(),
            query.concurrency,
            "namespaces",
            |ns| async move {
                let api: Api<DynamicObject> =
                    Api::namespaced_with(cluster.client.clone(), &ns, resource);
                let result = match query.name {
                    Some(name) => api.get_opt(name).await.map(|o| o.into_iter().collect()),
                    None => list_paged(&api, params).await,
                };
                result.map_err(|e| cluster.api_error(&e))
            },
        )
        .await
}
