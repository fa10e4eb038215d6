//! A mocked API service for fast tests of the layers above it (docs/testing.md): every
//! request is recorded (method, path and query, body) and answered by the test's closure,
//! as kube-rs's controller-rs tests do with its `ApiServerVerifier`. It runs in `cargo test`
//! in milliseconds; it never stands in for the e2e suite on the real control plane.

use std::sync::{Arc, Mutex};

use http::{Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use kube::client::Body;
use serde_json::{Value, json};

use super::Cluster;

/// One request the code under test sent.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub(crate) method: Method,
    /// Path and query, as sent.
    pub(crate) uri: String,
    pub(crate) body: Value,
}

impl Call {
    /// `METHOD /path?query`, for assertions that read like the audit log.
    pub(crate) fn line(&self) -> String {
        format!("{} {}", self.method, self.uri)
    }

    pub(crate) fn is_write(&self) -> bool {
        self.method != Method::GET
    }
}

/// The answer to a call, given the calls before it.
type Answer = dyn Fn(&Call, &[Call]) -> (StatusCode, Value) + Send + Sync;

/// The recorded calls of a mocked cluster.
#[derive(Clone, Default)]
pub(crate) struct Recorded(Arc<Mutex<Vec<Call>>>);

impl Recorded {
    pub(crate) fn calls(&self) -> Vec<Call> {
        self.0.lock().expect("not poisoned").clone()
    }

    /// Every call that is not a GET, as lines.
    pub(crate) fn writes(&self) -> Vec<String> {
        self.calls()
            .iter()
            .filter(|call| call.is_write())
            .map(Call::line)
            .collect()
    }
}

/// A `Cluster` whose API server is `answer`.
pub(crate) fn cluster(
    answer: impl Fn(&Call, &[Call]) -> (StatusCode, Value) + Send + Sync + 'static,
) -> (Cluster, Recorded) {
    let recorded = Recorded::default();
    let answer: Arc<Answer> = Arc::new(answer);
    let calls = recorded.clone();
    let service = tower::service_fn(move |request: Request<Body>| {
        let (calls, answer) = (calls.clone(), answer.clone());
        async move {
            let (parts, body) = request.into_parts();
            let bytes = body.collect().await?.to_bytes();
            let call = Call {
                method: parts.method,
                uri: parts.uri.to_string(),
                body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            };
            let before = calls.calls();
            let (status, value) = answer(&call, &before);
            calls.0.lock().expect("not poisoned").push(call);
            Response::builder()
                .status(status)
                .header("content-type", "application/json")
                .body(Body::from(serde_json::to_vec(&value)?))
                .map_err(Into::<Box<dyn std::error::Error + Send + Sync>>::into)
        }
    });
    let client = kube::Client::new(service, "default");
    (Cluster::for_tests(client), recorded)
}

/// What an API server answers by default: an empty list to a list, 404 to a read of one
/// object, the object back (with a new resourceVersion) to a create or replace, and success
/// to a delete.
pub(crate) fn default_answer(call: &Call) -> (StatusCode, Value) {
    let path = call.uri.split('?').next().unwrap_or_default();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    // After /api/v1 or /apis/GROUP/VERSION: [namespaces, NS,] RESOURCE [, NAME].
    let prefix = if segments.first() == Some(&"apis") {
        3
    } else {
        2
    };
    let rest = segments.len().saturating_sub(prefix);
    let collection = rest % 2 == 1 || rest == 0;
    match call.method {
        Method::GET if collection => (
            StatusCode::OK,
            json!({"kind": "List", "apiVersion": "v1", "metadata": {"resourceVersion": "1"}, "items": []}),
        ),
        Method::GET => (StatusCode::NOT_FOUND, status(404, "NotFound", "not found")),
        Method::POST => (StatusCode::CREATED, stored(&call.body, "1")),
        Method::PUT => (StatusCode::OK, stored(&call.body, "2")),
        Method::DELETE => (StatusCode::OK, status(200, "", "")),
        _ => (
            StatusCode::METHOD_NOT_ALLOWED,
            status(405, "MethodNotAllowed", ""),
        ),
    }
}

/// `object` as stored, with `resource_version`.
pub(crate) fn stored(object: &Value, resource_version: &str) -> Value {
    let mut object = object.clone();
    object["metadata"]["resourceVersion"] = json!(resource_version);
    object["metadata"]["uid"] = json!("uid-1");
    object
}

/// A `Status` object, as the API server sends with an error.
pub(crate) fn status(code: u16, reason: &str, message: &str) -> Value {
    json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {},
        "status": if code < 300 { "Success" } else { "Failure" },
        "reason": reason, "message": message, "code": code,
    })
}
