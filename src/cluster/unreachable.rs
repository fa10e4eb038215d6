//! One dead server costs one bound. After a request to the API server fails in transport (no
//! answer at all: refused, timed out, TLS failed), every later request of the same command
//! fails at once with the same cause, instead of waiting its own bound: `list -n NS` reads
//! ten kinds, and ten connects one after another made ten bounds (docs/conventions.md). Not
//! for a watch, which outlives a failed connection and retries with backoff.

use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use tower::BoxError;

/// The cause of the first transport failure, shared by every request of one client.
type Latch = Arc<Mutex<Option<String>>>;

#[derive(Clone, Default)]
pub(super) struct Layer {
    dead: Latch,
}

impl<S> tower::Layer<S> for Layer {
    type Service = Service<S>;

    fn layer(&self, inner: S) -> Service<S> {
        Service {
            inner,
            dead: self.dead.clone(),
        }
    }
}

#[derive(Clone)]
pub(super) struct Service<S> {
    inner: S,
    dead: Latch,
}

/// The first failure's cause, given again.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Unreachable(String);

impl<S, R> tower::Service<R> for Service<S>
where
    S: tower::Service<R, Error = BoxError>,
    S::Future: Send + 'static,
    S::Response: Send + 'static,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = BoxFuture<'static, Result<S::Response, BoxError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> Self::Future {
        let known = self.dead.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some(cause) = known {
            return Box::pin(async move { Err(Box::new(Unreachable(cause)) as BoxError) });
        }
        let dead = self.dead.clone();
        let call = self.inner.call(request);
        Box::pin(async move {
            let result = call.await;
            if let Err(error) = &result {
                let mut cause: &(dyn std::error::Error + 'static) = error.as_ref();
                while let Some(deeper) = cause.source() {
                    cause = deeper;
                }
                *dead.lock().unwrap_or_else(|e| e.into_inner()) = Some(cause.to_string());
            }
            result
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tower::{Layer as _, Service as _, ServiceExt as _};

    #[tokio::test]
    async fn after_one_transport_failure_the_rest_fail_at_once() {
        let calls = Arc::new(AtomicUsize::new(0));
        let counted = calls.clone();
        let inner = tower::service_fn(move |_: ()| {
            let n = counted.fetch_add(1, Ordering::SeqCst);
            async move {
                if n == 0 {
                    Err::<(), BoxError>("connection refused".into())
                } else {
                    Ok(())
                }
            }
        });
        let mut service = Layer::default().layer(inner);
        let first = service.ready().await.unwrap().call(()).await.unwrap_err();
        assert_eq!(first.to_string(), "connection refused");
        for _ in 0..9 {
            let again = service.ready().await.unwrap().call(()).await.unwrap_err();
            assert_eq!(again.to_string(), "connection refused");
        }
        assert_eq!(
            calls.load(Ordering::SeqCst),
            1,
            "the dead server was asked once"
        );
    }
}
