//! Bounded-concurrency fan-out: one task per namespace (or object), at most N in flight,
//! advancing a progress bar, results returned in input order. Whether a bar shows is not
//! this layer's choice: it asks a [`Progress`] reporter, which the commands' printer
//! implements (a bar on a terminal) and the controller does not need.

use std::future::Future;

use futures::StreamExt;
use indicatif::ProgressBar;

/// Where a fan-out reports its progress.
pub(crate) trait Progress: Send + Sync {
    /// A bar for `len` items of `what`; a hidden one when nothing should be drawn.
    fn bar(&self, len: usize, what: &str) -> ProgressBar;
}

/// No progress shown: the controller, completion, and tests.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct NoProgress;

impl NoProgress {
    /// A reporter that shows nothing, as lower layers take one.
    pub(crate) fn shared() -> std::sync::Arc<dyn Progress> {
        std::sync::Arc::new(Self)
    }
}

impl Progress for NoProgress {
    fn bar(&self, _len: usize, _what: &str) -> ProgressBar {
        ProgressBar::hidden()
    }
}

pub(crate) async fn run<T, R, F, Fut>(
    items: Vec<T>,
    concurrency: usize,
    progress: ProgressBar,
    task: F,
) -> Vec<(T, R)>
where
    T: Clone,
    F: Fn(T) -> Fut,
    Fut: Future<Output = R>,
{
    let mut results: Vec<(usize, T, R)> = futures::stream::iter(items.into_iter().enumerate())
        .map(|(index, item)| {
            let future = task(item.clone());
            let progress = &progress;
            async move {
                let result = future.await;
                progress.inc(1);
                (index, item, result)
            }
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    progress.finish_and_clear();
    results.sort_by_key(|(index, _, _)| *index);
    results
        .into_iter()
        .map(|(_, item, result)| (item, result))
        .collect()
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn keeps_input_order_and_bounds_concurrency() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let in_flight = AtomicUsize::new(0);
        let peak = AtomicUsize::new(0);
        let items: Vec<u32> = (0..40).collect();
        let results = super::run(items, 3, indicatif::ProgressBar::hidden(), |n| {
            let in_flight = &in_flight;
            let peak = &peak;
            async move {
                let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(std::time::Duration::from_millis((40 - n as u64) % 7)).await;
                in_flight.fetch_sub(1, Ordering::SeqCst);
                n * 2
            }
        })
        .await;
        assert_eq!(
            results.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
            (0..40).collect::<Vec<_>>()
        );
        assert!(results.iter().all(|(n, r)| *r == n * 2));
        assert!(peak.load(Ordering::SeqCst) <= 3);
    }
}
