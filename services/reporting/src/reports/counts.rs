//! A fixed list of named counts, written as a JSON object in that order.

use serde::ser::{Serialize, SerializeMap, Serializer};

/// Counts by name, in a fixed order (the wire order of the names' enum), every name
/// present even when zero: `{"company": 3, "academic": 0, ...}`. The same names in the
/// same order every time, so a report's JSON is byte for byte the same for the same
/// figures.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Counts(Vec<(&'static str, u64)>);

impl Counts {
    /// Zero for each of `names`, in that order.
    pub(crate) fn zero(names: impl IntoIterator<Item = &'static str>) -> Counts {
        Counts(names.into_iter().map(|name| (name, 0)).collect())
    }

    /// Adds one to `name` (one of the names it was made with).
    pub(crate) fn add(&mut self, name: &str) {
        if let Some((_, count)) = self.0.iter_mut().find(|(known, _)| *known == name) {
            *count += 1;
        }
    }

    /// The count of `name`; `None` for a name it does not have.
    pub fn get(&self, name: &str) -> Option<u64> {
        self.0
            .iter()
            .find(|(known, _)| *known == name)
            .map(|(_, count)| *count)
    }

    /// Every name with its count, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        self.0.iter().copied()
    }

    /// The sum of the counts.
    pub fn total(&self) -> u64 {
        self.0.iter().map(|(_, count)| count).sum()
    }
}

impl Serialize for Counts {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, count) in &self.0 {
            map.serialize_entry(name, count)?;
        }
        map.end()
    }
}
