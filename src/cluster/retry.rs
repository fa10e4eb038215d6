//! Optimistic concurrency, after client-go's `retry.RetryOnConflict`: run a read-modify-write,
//! and when the server answers 409 Conflict (someone wrote in between), pause briefly and run
//! it again from the read, a bounded number of times.

use std::future::Future;
use std::time::Duration;

/// How often to retry and how long to pause: `base × factor^n`, capped, with up to `jitter`
/// of it added at random so writers that collided once do not collide again in lockstep.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Backoff {
    pub(crate) attempts: u32,
    pub(crate) base: Duration,
    pub(crate) factor: f64,
    pub(crate) cap: Duration,
    pub(crate) jitter: f64,
}

impl Backoff {
    /// client-go's `retry.DefaultRetry`: 5 attempts, 10 ms apart, 10% jitter.
    pub(crate) const DEFAULT: Self = Self {
        attempts: 5,
        base: Duration::from_millis(10),
        factor: 1.0,
        cap: Duration::from_millis(10),
        jitter: 0.1,
    };

    /// For objects many writers change at once: more attempts, growing pauses, wide jitter.
    pub(crate) const CONTENDED: Self = Self {
        attempts: 25,
        base: Duration::from_millis(5),
        factor: 1.3,
        cap: Duration::from_millis(100),
        jitter: 1.0,
    };

    /// The pause before attempt `attempt + 1` (attempt counts from 0), given a random
    /// `unit` in [0, 1).
    fn pause(&self, attempt: u32, unit: f64) -> Duration {
        let grown = self.base.as_secs_f64() * self.factor.powi(attempt as i32);
        let capped = grown.min(self.cap.as_secs_f64());
        Duration::from_secs_f64(capped * (1.0 + self.jitter * unit))
    }
}

/// Errors that may mean "someone else wrote first".
pub(crate) trait Conflict {
    fn is_conflict(&self) -> bool;
}

impl Conflict for kube::Error {
    fn is_conflict(&self) -> bool {
        super::status_code(self) == Some(409)
    }
}

/// Runs `attempt(n)` until it succeeds, fails with anything but a conflict, or `backoff`'s
/// attempts are used up; then the last error is returned.
pub(crate) async fn retry_on_conflict<T, E, F, Fut>(
    backoff: Backoff,
    mut attempt: F,
) -> Result<T, E>
where
    E: Conflict,
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut n = 0;
    loop {
        match attempt(n).await {
            Err(e) if e.is_conflict() && n + 1 < backoff.attempts => {
                tokio::time::sleep(backoff.pause(n, fastrand::f64())).await;
                n += 1;
            }
            result => return result,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[derive(Debug, PartialEq)]
    enum Failure {
        Conflict,
        Other,
    }

    impl Conflict for Failure {
        fn is_conflict(&self) -> bool {
            *self == Failure::Conflict
        }
    }

    const FAST: Backoff = Backoff {
        attempts: 4,
        base: Duration::from_millis(1),
        factor: 2.0,
        cap: Duration::from_millis(3),
        jitter: 0.5,
    };

    #[tokio::test]
    async fn retries_conflicts_until_success() {
        let calls = Cell::new(0);
        let result = retry_on_conflict(FAST, |n| {
            calls.set(calls.get() + 1);
            async move { if n < 2 { Err(Failure::Conflict) } else { Ok(n) } }
        })
        .await;
        assert_eq!(result, Ok(2));
        assert_eq!(calls.get(), 3);
    }

    #[tokio::test]
    async fn stops_at_the_bound_with_the_last_conflict() {
        let calls = Cell::new(0);
        let result: Result<(), _> = retry_on_conflict(FAST, |_| {
            calls.set(calls.get() + 1);
            async { Err(Failure::Conflict) }
        })
        .await;
        assert_eq!(result, Err(Failure::Conflict));
        assert_eq!(calls.get(), 4);
    }

    #[tokio::test]
    async fn other_errors_are_not_retried() {
        let calls = Cell::new(0);
        let result: Result<(), _> = retry_on_conflict(FAST, |_| {
            calls.set(calls.get() + 1);
            async { Err(Failure::Other) }
        })
        .await;
        assert_eq!(result, Err(Failure::Other));
        assert_eq!(calls.get(), 1);
    }

    #[test]
    fn pauses_grow_are_capped_and_jittered() {
        assert_eq!(FAST.pause(0, 0.0), Duration::from_millis(1));
        assert_eq!(FAST.pause(1, 0.0), Duration::from_millis(2));
        assert_eq!(FAST.pause(5, 0.0), Duration::from_millis(3));
        assert_eq!(FAST.pause(5, 0.999).as_micros(), 4498);
        assert_eq!(Backoff::DEFAULT.pause(3, 0.0), Duration::from_millis(10));
    }
}
