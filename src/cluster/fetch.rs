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
#[derive(Debug, Clone, Copy)]
pub(crate) struct Query<'a> {
    pub(crate) name: Option<&'a str>,
    pub(crate) labels: Option<&'a str>,
    pub(crate) concurrency: usize,
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
    if let Some(name) = query.name {
        params = params.fields(&format!("metadata.name={name}"));
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
                    None => api.list(params).await.map(|l| l.items),
                };
                result.map_err(|e| cluster.api_error(&e))
            },
        )
        .await
}
