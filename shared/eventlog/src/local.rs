//! The index of this service's own events: the runs of consecutive positions holding
//! [`Origin::Local`] records.
//!
//! A service with an inbox holds mostly copies of other services' events, and its
//! outbox relay must find its own among them. Rather than reading every record, the
//! relay walks this index: one entry per run, `first position -> last position` (both
//! `u64` big-endian, inclusive). A service that only appends (membership) has a single
//! run that grows; reporting has one short run per decision among a million copies.
//!
//! The writer updates the index in the transaction that writes the records, so after a
//! crash it covers exactly the records that survived. A log of format 1 had no index:
//! [`build`] makes it once, from the records' headers, when such a log is opened.

use sled::transaction::{TransactionalTree, UnabortableTransactionError};

use crate::record::{self, Origin};
use crate::{OpenError, Position};

/// A run of consecutive positions holding this service's own events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Run {
    pub(crate) first: Position,
    pub(crate) last: Position,
}

impl Run {
    fn decode(key: &[u8], value: &[u8]) -> Option<Run> {
        Some(Run {
            first: Position::from_key(key)?,
            last: Position::from_key(value)?,
        })
    }
}

/// The last run of the index, which the next local append may extend.
pub(crate) fn last(local: &sled::Tree) -> Result<Option<Run>, String> {
    match local.last() {
        Ok(None) => Ok(None),
        Ok(Some((key, value))) => Run::decode(&key, &value)
            .map(Some)
            .ok_or_else(|| "an entry of the index of local events is damaged".to_owned()),
        Err(error) => Err(error.to_string()),
    }
}

/// The runs as a batch changes them: `last` is the run the log ended with before the
/// batch; [`Growth::push`] each local position the batch writes, in order.
pub(crate) struct Growth {
    last: Option<Run>,
    /// Runs the batch created or extended, in order (the first may be `last` extended).
    touched: Vec<Run>,
}

impl Growth {
    pub(crate) fn new(last: Option<Run>) -> Self {
        Growth {
            last,
            touched: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, position: Position) {
        match &mut self.last {
            Some(run) if run.last.next() == position => run.last = position,
            _ => {
                self.last = Some(Run {
                    first: position,
                    last: position,
                });
            }
        }
        let run = self.last.expect("set just above");
        match self.touched.last_mut() {
            Some(touched) if touched.first == run.first => *touched = run,
            _ => self.touched.push(run),
        }
    }

    /// Writes the touched runs into the transaction's view of the index.
    pub(crate) fn write(
        &self,
        local: &TransactionalTree,
    ) -> Result<(), UnabortableTransactionError> {
        for run in &self.touched {
            local.insert(&run.first.to_key(), &run.last.to_key())?;
        }
        Ok(())
    }

    /// The log's last run once the batch is committed.
    pub(crate) fn last(&self) -> Option<Run> {
        self.last
    }
}

/// The runs that hold positions from `from` on, in order, the first possibly starting
/// before `from`.
pub(crate) fn runs_from(
    local: &sled::Tree,
    from: Position,
) -> impl Iterator<Item = Result<Run, String>> {
    let start = match local.range(..=from.to_key()).next_back() {
        Some(Ok((key, value))) => match Run::decode(&key, &value) {
            Some(run) if run.last >= from => run.first,
            Some(_) => from,
            None => Position::START,
        },
        _ => from,
    };
    local.range(start.to_key()..).map(|entry| {
        let (key, value) = entry.map_err(|e| e.to_string())?;
        Run::decode(&key, &value)
            .ok_or_else(|| "an entry of the index of local events is damaged".to_owned())
    })
}

/// Builds the index from the records' headers: the upgrade of a log written in format
/// 1, which had none. Clears whatever a build interrupted by a crash left.
pub(crate) fn build(
    path: &std::path::Path,
    events: &sled::Tree,
    local: &sled::Tree,
) -> Result<u64, OpenError> {
    let storage = |source| OpenError::Storage {
        path: path.to_owned(),
        source,
    };
    local.clear().map_err(storage)?;
    let mut growth = Growth::new(None);
    let mut runs = sled::Batch::default();
    let mut count = 0;
    for entry in events.iter() {
        let (key, bytes) = entry.map_err(storage)?;
        let position = Position::from_key(&key).ok_or(OpenError::DamagedMarker {
            path: path.to_owned(),
        })?;
        let raw = record::split(&bytes).map_err(|failure| OpenError::Corrupted {
            path: path.to_owned(),
            position,
            reason: failure.to_string(),
        })?;
        if raw.origin == Origin::Local {
            growth.push(position);
            count += 1;
        }
    }
    for run in &growth.touched {
        runs.insert(&run.first.to_key(), &run.last.to_key());
    }
    local.apply_batch(runs).map_err(storage)?;
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(first: u64, last: u64) -> Run {
        Run {
            first: Position(first),
            last: Position(last),
        }
    }

    #[test]
    fn consecutive_positions_extend_the_run_and_a_gap_starts_another() {
        let mut growth = Growth::new(Some(run(1, 3)));
        for position in [4, 5, 9, 10, 12] {
            growth.push(Position(position));
        }
        assert_eq!(growth.touched, vec![run(1, 5), run(9, 10), run(12, 12)]);
        assert_eq!(growth.last(), Some(run(12, 12)));
    }

    #[test]
    fn a_batch_after_a_gap_leaves_the_last_run_as_it_was() {
        let mut growth = Growth::new(Some(run(1, 3)));
        growth.push(Position(7));
        assert_eq!(growth.touched, vec![run(7, 7)]);
    }
}
