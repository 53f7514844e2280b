//! Commands on one aggregate take turns; commands on different aggregates run side by
//! side.
//!
//! The kit's [`CommandExecutor`](circlemade_kit::CommandExecutor) decides optimistically
//! and, on a version conflict, decides again on the fresh state. That is right for
//! commands that rarely meet, but a popular activity gets many registrations at once:
//! twenty members registering together would make one of them decide twenty times,
//! beyond the executor's bound on attempts. So the events service queues the commands
//! of one activity: each waits for the one before to be appended (durable), then
//! decides on the state it left, and appends without conflict. Registrations are
//! answered in the order they were taken, which is the order of their events.
//!
//! The queue is a fair (first come, first served) async lock per stripe of aggregate
//! ids: two activities sharing a stripe only share a queue, which costs nothing but a
//! short wait.

use tokio::sync::{Mutex, MutexGuard};
use uuid::Uuid;

/// Stripes of aggregate ids: many more than activities commanded at one instant, so
/// that two of them rarely share a queue (of 64 at once, two pairs share one with 1024
/// stripes, one pair in two runs with 4096).
const STRIPES: usize = 4096;

/// The turns of commands on aggregates. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub(crate) struct Turns {
    stripes: Box<[Mutex<()>]>,
}

impl Turns {
    pub(crate) fn new() -> Self {
        Turns {
            stripes: (0..STRIPES).map(|_| Mutex::new(())).collect(),
        }
    }

    /// Waits for the turn of aggregate `id`; the next command on it waits until the
    /// guard is dropped.
    pub(crate) async fn take(&self, id: Uuid) -> MutexGuard<'_, ()> {
        // The low bits of a UUID v7 are random.
        let stripe = (id.as_u128() % STRIPES as u128) as usize;
        self.stripes[stripe].lock().await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn a_second_command_on_one_aggregate_waits_for_the_first() {
        let turns = Arc::new(Turns::new());
        let id = Uuid::now_v7();
        let first = turns.take(id).await;
        let waiting = {
            let turns = Arc::clone(&turns);
            tokio::spawn(async move {
                let _turn = turns.take(id).await;
            })
        };
        // Another aggregate (another stripe) does not wait.
        let other = Uuid::from_u128(id.as_u128() + 1);
        let other_turn = tokio::time::timeout(Duration::from_secs(5), turns.take(other))
            .await
            .expect("another aggregate's turn is free");
        drop(other_turn);
        assert!(!waiting.is_finished());
        drop(first);
        tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("the second command gets its turn")
            .expect("no panic");
    }
}
