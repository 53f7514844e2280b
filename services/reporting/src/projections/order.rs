//! Each aggregate's events in their producer's order, whatever order they arrived in.
//!
//! The facts of an aggregate are folded in its stream order, but the log's order is
//! arrival order: a JetStream consumer redelivers a message whose acknowledgement was
//! lost (a crash of the service while it was in flight) after the messages behind it,
//! so an admission can reach the log after the withdrawal that followed it. Every event
//! a producer publishes carries its version within its aggregate (`streamversion`), so
//! the state applies an aggregate's event `n` only after `n - 1`: one that comes early
//! is held until the events before it have come. A version already applied (the same
//! event again) is skipped.
//!
//! Events without a version (built in memory, never appended to a log) are applied as
//! they come.

use std::collections::{BTreeMap, HashMap};

use circlemade_contracts::CloudEvent;
use uuid::Uuid;

use super::canonical::Canonical;

/// The aggregates whose order is kept, by the first part of their subject.
const AGGREGATES: [&str; 3] = ["member", "activity", "target"];

/// An aggregate: its kind (an index in [`AGGREGATES`]) and id.
type Key = (u8, Uuid);

/// What to do with an event now.
pub(crate) enum Turn {
    /// Apply it now; then the held events returned by [`Order::applied`].
    Now,
    /// It waits for an earlier event of its aggregate: held.
    Held,
    /// Its version was applied already: skip it.
    Stale,
}

/// The next version expected of each aggregate, and the events that came early.
#[derive(Debug, Default)]
pub(crate) struct Order {
    next: HashMap<Key, u64>,
    held: BTreeMap<Key, BTreeMap<u64, CloudEvent>>,
    held_count: usize,
}

fn key_of(event: &CloudEvent) -> Option<Key> {
    let (aggregate, id) = event.subject_parts()?;
    let kind = AGGREGATES.iter().position(|known| *known == aggregate)?;
    Some((u8::try_from(kind).ok()?, id.parse().ok()?))
}

impl Order {
    /// Whether `event` is applied now, held, or skipped.
    pub(crate) fn turn(&mut self, event: &CloudEvent) -> Turn {
        let (Some(version), Some(key)) = (event.streamversion, key_of(event)) else {
            return Turn::Now;
        };
        let next = self.next.get(&key).copied().unwrap_or(1);
        if version < next {
            return Turn::Stale;
        }
        if version > next {
            let held = self.held.entry(key).or_default();
            if held.insert(version, event.clone()).is_none() {
                self.held_count += 1;
            }
            return Turn::Held;
        }
        Turn::Now
    }

    /// Records that `event` was applied, and takes the held events of its aggregate
    /// that may follow it now, in order.
    pub(crate) fn applied(&mut self, event: &CloudEvent) -> Vec<CloudEvent> {
        let (Some(version), Some(key)) = (event.streamversion, key_of(event)) else {
            return Vec::new();
        };
        let mut next = version + 1;
        let mut ready = Vec::new();
        if let Some(held) = self.held.get_mut(&key) {
            while let Some(event) = held.remove(&next) {
                ready.push(event);
                next += 1;
            }
            if held.is_empty() {
                self.held.remove(&key);
            }
        }
        self.held_count = self.held_count.saturating_sub(ready.len());
        // The caller applies the ready events in order, each through `applied` again,
        // which moves the next version past it.
        self.next.insert(key, version + 1);
        ready
    }

    /// Events held, waiting for an earlier one of their aggregate.
    pub(crate) fn held(&self) -> usize {
        self.held_count
    }

    /// Heap bytes held, roughly (held events count by their data's JSON size).
    pub(crate) fn heap_bytes(&self) -> usize {
        self.next.capacity() * (size_of::<(Key, u64)>() + 1)
            + self
                .held
                .values()
                .flat_map(BTreeMap::values)
                .map(|event| size_of::<CloudEvent>() + event.data.to_string().len())
                .sum::<usize>()
    }

    /// Writes the held events, if any, by aggregate then version (nothing when none
    /// is held, which is the rule: a state that holds events waits for a redelivery).
    pub(crate) fn write_canonical(&self, out: &mut Canonical) {
        if self.held.is_empty() {
            return;
        }
        out.text("held");
        out.len(self.held.len());
        for ((kind, id), held) in &self.held {
            out.text(AGGREGATES.get(usize::from(*kind)).copied().unwrap_or(""));
            out.uuid(*id);
            out.len(held.len());
            for event in held.values() {
                out.uuid(event.id.0);
            }
        }
    }
}
