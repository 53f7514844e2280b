//! Publishing `target.reached`: once per target and year, also across restarts,
//! redeliveries and a new replica.
//!
//! What is published is decided from the state alone: [`newly_reached`] lists the
//! targets the state shows met at some moment that no `target.reached` in the log
//! records yet. Each is appended through the targets' command side under an event id
//! derived from its year and key figure, then relayed to REPORTING by the outbox. Its
//! event comes back into the state through the log, and from then on it is no longer
//! new. So:
//!
//! - a restart publishes nothing twice: the state is rebuilt from the log, which holds
//!   what was published;
//! - a second pass before the first one's event reached the state finds the event in
//!   the log under the same id and appends nothing;
//! - a new replica first imports REPORTING (it waits until every stream it consumes
//!   has caught up, see [`CatchUp`]), so it learns what an earlier replica published
//!   before it decides anything.
//!
//! Passes run after the state advances, at most one per [`MIN_INTERVAL`]: a pass scans
//! every member and activity, which a busy import should not pay for each batch.
//!
//! A `target.reached` belongs to no trace (it carries no `traceparent`): it follows
//! from the figures of many events, decided by a pass over the state, not from the one
//! event that crossed the target, which the state does not single out.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use circlemade_eventlog::EventLog;
use circlemade_kit::{MinPosition, Outcome, Problem};
use tokio_util::sync::CancellationToken;

use crate::catch_up::CatchUp;
use crate::live::LiveState;
use crate::targets::TargetCommands;

/// The shortest time between two passes.
pub(crate) const MIN_INTERVAL: Duration = Duration::from_millis(200);

/// Decides and records reached targets until `stop`, counting its passes in `passes`.
/// See the module docs.
pub(crate) async fn publish_reached(
    log: EventLog,
    live: LiveState,
    targets: TargetCommands,
    catch_up: CatchUp,
    passes: Arc<AtomicU64>,
    stop: CancellationToken,
) {
    if !catch_up.wait_all(&stop).await {
        return;
    }
    let mut advanced = live.watch().subscribe();
    loop {
        // Everything imported so far, applied.
        let head = log.head();
        tokio::select! {
            applied = advanced.wait_for(|at| *at >= head) => if applied.is_err() { return },
            () = stop.cancelled() => return,
        }
        if let Err(problem) = pass(&live, &targets).await {
            tracing::warn!(code = %problem.code, detail = ?problem.detail, "deciding reached targets failed; trying again at the next change");
        }
        passes.fetch_add(1, Ordering::Relaxed);
        tokio::select! {
            () = tokio::time::sleep(MIN_INTERVAL) => {}
            () = stop.cancelled() => return,
        }
        tokio::select! {
            changed = advanced.changed() => if changed.is_err() { return },
            () = stop.cancelled() => return,
        }
    }
}

/// One pass: every target newly reached, recorded.
async fn pass(live: &LiveState, targets: &TargetCommands) -> Result<(), Problem> {
    let (reached, _) = live
        .read(MinPosition(None), |state| state.targets_newly_reached())
        .await?;
    for target in reached {
        let outcome = targets.record_reached(target).await?;
        if outcome == Outcome::Appended {
            tracing::info!(
                year = target.year.get(),
                kpi = %target.kpi,
                target = target.target,
                actual = target.actual,
                at = %target.at,
                "target reached"
            );
        }
    }
    Ok(())
}
