//! The targets of each programme year, as the reporting service's own `target.set`
//! events changed them, and the `target.reached` events it already published.

use std::collections::BTreeMap;

use circlemade_contracts::reporting::{KpiId, TargetEvent, Targets};

use super::canonical::Canonical;
use super::timeline::{DomainTime, seen_until};

/// The programme year whose targets hold until set otherwise: 2018, the seed's.
pub(crate) const DEFAULT_YEAR: u16 = 2018;

/// The targets of [`DEFAULT_YEAR`] until a `target.set` of that year.
pub(crate) const DEFAULT_TARGETS: Targets = Targets::PROGRAMME_2018;

/// A `target.reached` already published.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ReachedFact {
    /// When the figure reached the target.
    pub(crate) at: DomainTime,
    /// The target it reached.
    pub(crate) target: u32,
    /// The figure then.
    pub(crate) actual: u32,
}

/// Targets by year, and what was published about them.
#[derive(Debug, Default)]
pub(crate) struct TargetFacts {
    /// Each year's `target.set`, in stream order, which is also time order (a set dated
    /// before the previous one takes effect at its time).
    set: BTreeMap<u16, Vec<(DomainTime, Targets)>>,
    /// The first `target.reached` of each year and key figure.
    reached: BTreeMap<(u16, KpiId), ReachedFact>,
}

impl TargetFacts {
    /// Records one event of a year's targets stream.
    pub(crate) fn apply(&mut self, event: &TargetEvent, at: DomainTime) {
        match event {
            TargetEvent::TargetsSet(set) => {
                let history = self.set.entry(set.year.get()).or_default();
                let at = history.last().map_or(at, |(last, _)| at.max(*last));
                history.push((at, set.targets));
            }
            TargetEvent::TargetReached(reached) => {
                self.reached
                    .entry((reached.year.get(), reached.kpi))
                    .or_insert(ReachedFact {
                        at,
                        target: reached.target,
                        actual: reached.actual,
                    });
            }
        }
    }

    /// The targets of `year` as of `at`: the last set at or before it, else the
    /// defaults for [`DEFAULT_YEAR`], else none.
    pub(crate) fn at(&self, year: u16, at: DomainTime) -> Option<Targets> {
        let history = self.set.get(&year).map_or(&[][..], Vec::as_slice);
        let seen = seen_until(history, at, |(set_at, _)| *set_at);
        match seen.checked_sub(1) {
            Some(last) => Some(history[last].1),
            None => (year == DEFAULT_YEAR).then_some(DEFAULT_TARGETS),
        }
    }

    /// Every change of `year`'s targets: the defaults from the first moment (for the
    /// default year), then each set.
    pub(crate) fn changes(&self, year: u16) -> Vec<(DomainTime, Targets)> {
        let mut changes = Vec::new();
        if year == DEFAULT_YEAR {
            changes.push((DomainTime::MIN, DEFAULT_TARGETS));
        }
        changes.extend(self.set.get(&year).into_iter().flatten().copied());
        changes
    }

    /// The years that have targets: the default year and every year set.
    pub(crate) fn years(&self) -> impl Iterator<Item = u16> + '_ {
        let default = (!self.set.contains_key(&DEFAULT_YEAR)).then_some(DEFAULT_YEAR);
        let mut years: Vec<u16> = self.set.keys().copied().chain(default).collect();
        years.sort_unstable();
        years.into_iter()
    }

    /// The published `target.reached` events.
    pub(crate) fn reached(&self) -> &BTreeMap<(u16, KpiId), ReachedFact> {
        &self.reached
    }

    /// Heap bytes held, roughly.
    pub(crate) fn heap_bytes(&self) -> usize {
        let set: usize = self
            .set
            .values()
            .map(|history| history.capacity() * size_of::<(DomainTime, Targets)>() + 64)
            .sum();
        set + self.reached.len() * (size_of::<((u16, KpiId), ReachedFact)>() + 16)
    }

    /// Writes every year's targets and every published reach, by year.
    pub(crate) fn write_canonical(&self, out: &mut Canonical) {
        out.len(self.set.len());
        for (year, history) in &self.set {
            out.number(u32::from(*year));
            out.len(history.len());
            for (at, targets) in history {
                out.time(*at);
                for kpi in KpiId::ALL {
                    out.number(targets.get(kpi));
                }
            }
        }
        out.len(self.reached.len());
        for ((year, kpi), reached) in &self.reached {
            out.number(u32::from(*year));
            out.text(kpi.as_str());
            out.time(reached.at);
            out.number(reached.target);
            out.number(reached.actual);
        }
    }
}
