//! A service's background tasks (its inboxes, relay, projection followers...) and how
//! it stops them when it drains.

use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// A spawned background task and the token that asks it to stop.
#[derive(Debug)]
pub struct Task {
    handle: JoinHandle<()>,
    stop: CancellationToken,
}

impl Task {
    /// Spawns `run` with the token it must watch to stop.
    pub fn spawn<F>(run: impl FnOnce(CancellationToken) -> F) -> Self
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let stop = CancellationToken::new();
        let handle = tokio::spawn(run(stop.clone()));
        Task { handle, stop }
    }

    /// Asks the task to stop and waits until it has.
    pub async fn stop(self) {
        self.stop.cancel();
        let _ = self.handle.await;
    }

    /// Asks the task to stop and waits at most `within`; a task still running then is
    /// aborted. Returns whether it stopped by itself in time.
    pub async fn stop_within(self, within: Duration) -> bool {
        stop_all(vec![self], within).await == 0
    }
}

/// Stops the outbox relay's task, which publishes what the log still holds before it
/// returns, waiting at most `within` (the drain timeout); what is left then goes at
/// the next start, and a warning says so.
pub async fn drain_outbox(relay: Task, within: Duration) {
    if !relay.stop_within(within).await {
        tracing::warn!(
            timeout_ms = within.as_millis() as u64,
            "the outbox did not drain in time; the rest is published at the next start"
        );
    }
}

/// Asks every task to stop at once, then waits for them until `within` has passed and
/// aborts those still running. Returns how many had to be aborted.
pub async fn stop_all(tasks: Vec<Task>, within: Duration) -> usize {
    for task in &tasks {
        task.stop.cancel();
    }
    let deadline = tokio::time::Instant::now() + within;
    let mut aborted = 0;
    for task in tasks {
        let mut handle = task.handle;
        if tokio::time::timeout_at(deadline, &mut handle)
            .await
            .is_err()
        {
            handle.abort();
            aborted += 1;
        }
    }
    aborted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_task_that_stops_when_asked_stops_in_time_and_one_that_does_not_is_aborted() {
        let obedient = Task::spawn(|stop| async move { stop.cancelled().await });
        assert!(obedient.stop_within(Duration::from_secs(5)).await);

        let (dropped, gone) = tokio::sync::oneshot::channel::<()>();
        let stubborn = Task::spawn(|_| async move {
            // Holds `dropped` until it is aborted.
            let _held = dropped;
            std::future::pending::<()>().await;
        });
        assert!(!stubborn.stop_within(Duration::from_millis(10)).await);
        assert!(gone.await.is_err(), "the aborted task dropped what it held");
    }

    #[tokio::test]
    async fn stop_all_counts_the_tasks_it_aborted() {
        let tasks = vec![
            Task::spawn(|stop| async move { stop.cancelled().await }),
            Task::spawn(|_| std::future::pending::<()>()),
            Task::spawn(|stop| async move { stop.cancelled().await }),
        ];
        assert_eq!(stop_all(tasks, Duration::from_millis(50)).await, 1);
    }
}
