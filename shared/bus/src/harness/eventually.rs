//! Waiting on a condition with a deadline instead of sleeping a guessed time.

use std::{
    fmt,
    time::{Duration, Instant},
};

/// The first pause between two attempts; short, because most conditions hold soon.
const FIRST_PAUSE: Duration = Duration::from_millis(10);

/// The longest pause between two attempts, so a condition that comes true late is
/// still noticed within a fraction of a second.
const LONGEST_PAUSE: Duration = Duration::from_millis(250);

/// Retries `attempt` until it returns `Ok`, or fails once `within` has passed.
///
/// Tests must wait for what they expect (a replica caught up, a consumer saw a
/// message), never for a fixed time that is too short on a loaded machine and too long
/// everywhere else. Attempts are spaced by a pause that starts at 10 ms and doubles up
/// to 250 ms; an attempt still running at the deadline is abandoned, so the deadline
/// holds even if the awaited thing hangs.
///
/// ```no_run
/// # async fn demo(client: async_nats::Client) -> anyhow::Result<()> {
/// use std::time::Duration;
/// use circlemade_bus::harness::eventually;
///
/// let js = async_nats::jetstream::new(client);
/// let last_sequence = eventually(Duration::from_secs(10), || async {
///     let mut stream = js.get_stream("MEMBERSHIP").await?;
///     let state = &stream.info().await?.state;
///     anyhow::ensure!(state.messages == 3, "{} messages so far", state.messages);
///     Ok(state.last_sequence)
/// })
/// .await?;
/// # Ok(()) }
/// ```
///
/// # Errors
/// [`ConditionTimeout`] with the last attempt's error when the deadline passes.
pub async fn eventually<T, E, F, Fut>(
    within: Duration,
    mut attempt: F,
) -> Result<T, ConditionTimeout<E>>
where
    // Not `AsyncFnMut`: its futures cannot be proven `Send`, and tests spawn waits.
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let started = Instant::now();
    let deadline = started + within;
    let mut pause = FIRST_PAUSE;
    let mut attempts = 0;
    let mut last_error = None;
    loop {
        attempts += 1;
        let remaining = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(remaining, attempt()).await {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(error)) => last_error = Some(error),
            // The attempt itself outlived the deadline; keep the previous error.
            Err(_) => {}
        }
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(ConditionTimeout {
                waited: started.elapsed(),
                attempts,
                last_error,
            });
        }
        tokio::time::sleep(pause.min(remaining)).await;
        pause = (pause * 2).min(LONGEST_PAUSE);
    }
}

/// A condition awaited with [`eventually`] did not hold before its deadline.
///
/// It keeps the last attempt's error because that is what says what was still wrong
/// ("2 of 3 replicas current"), which a bare "timed out" would hide.
#[derive(Debug)]
pub struct ConditionTimeout<E> {
    /// How long the condition was awaited.
    pub waited: Duration,
    /// How many attempts were made.
    pub attempts: u32,
    /// The last attempt's error; `None` if every attempt outlived the deadline.
    pub last_error: Option<E>,
}

impl<E: fmt::Display> fmt::Display for ConditionTimeout<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "condition not met within {:?} ({} attempts); ",
            self.waited, self.attempts
        )?;
        match &self.last_error {
            Some(error) => write!(f, "last error: {error}"),
            None => write!(f, "the attempt was still running at the deadline"),
        }
    }
}

impl<E: fmt::Debug + fmt::Display> std::error::Error for ConditionTimeout<E> {}

#[cfg(test)]
mod tests {
    use std::{
        sync::atomic::{AtomicU32, Ordering},
        time::Duration,
    };

    use super::eventually;

    #[tokio::test]
    async fn returns_the_first_success() {
        let calls = AtomicU32::new(0);
        let value = eventually(Duration::from_secs(5), || async {
            let call = calls.fetch_add(1, Ordering::Relaxed) + 1;
            if call < 3 { Err("not yet") } else { Ok(call) }
        })
        .await
        .expect("the third attempt succeeds");
        assert_eq!(value, 3);
    }

    #[tokio::test]
    async fn reports_the_last_error_at_the_deadline() {
        let error = eventually(Duration::from_millis(50), || async {
            Err::<(), _>("still 2 of 3")
        })
        .await
        .expect_err("the condition never holds");
        assert_eq!(error.last_error, Some("still 2 of 3"));
        assert!(error.attempts >= 1);
        assert!(error.to_string().contains("still 2 of 3"));
    }

    #[tokio::test]
    async fn abandons_an_attempt_that_outlives_the_deadline() {
        let error = eventually(Duration::from_millis(50), || {
            std::future::pending::<Result<(), &str>>()
        })
        .await
        .expect_err("the attempt never finishes");
        assert_eq!(error.last_error, None);
    }

    #[test]
    fn its_future_can_be_spawned_on_a_multi_threaded_runtime() {
        fn assert_send<T: Send>(_: &T) {}
        let borrowed = String::from("state a test waits on");
        let waiting = eventually(Duration::ZERO, || async { Ok::<_, ()>(borrowed.len()) });
        assert_send(&waiting);
    }
}
