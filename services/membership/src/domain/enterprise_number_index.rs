//! Which member holds which enterprise number: the one rule that spans all members.
//!
//! An enterprise number belongs to at most one member that is neither rejected nor
//! withdrawn. The aggregate cannot see the others, so the service keeps this index,
//! built from the events of every member (rebuildable from the log like any read
//! model), and checks the events a command produced before appending them. The check and
//! the append must not interleave with another application's, or two applicants could
//! both pass: the service runs them under one writer.
//!
//! - `applied` takes the number; a profile update that corrects it moves it;
//! - `rejected` and `withdrawn` free it, for good (both are final);
//! - a suspended member keeps it.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use circlemade_contracts::TypedEvent;
use circlemade_contracts::membership::{self as wire, MemberEvent, MemberId};

use super::enterprise_number::EnterpriseNumber;
use super::error::DomainError;

/// The enterprise numbers held by members that are neither rejected nor withdrawn.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EnterpriseNumberIndex {
    /// Who holds each number. More than one holder can only come from history written
    /// without the check (an import, or two racing writers); the index keeps them all,
    /// so that freeing one does not free the number for a third member.
    holders: BTreeMap<wire::EnterpriseNumber, BTreeSet<MemberId>>,
    /// The number each holder holds.
    held: HashMap<MemberId, wire::EnterpriseNumber>,
}

impl EnterpriseNumberIndex {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// Updates the index with one event of member `member`.
    pub fn apply(&mut self, member: MemberId, event: &MemberEvent) {
        match event {
            MemberEvent::Applied(applied) => self.hold(member, applied.enterprise_number.clone()),
            MemberEvent::ProfileUpdated(update) => {
                if let Some(number) = &update.enterprise_number {
                    if self.held.contains_key(&member) {
                        self.hold(member, number.clone());
                    }
                }
            }
            MemberEvent::Rejected(_) | MemberEvent::Withdrawn(_) => self.free(member),
            _ => {}
        }
    }

    /// Updates the index with an event read from the log.
    pub fn apply_typed(&mut self, event: &TypedEvent<MemberEvent>) {
        self.apply(event.aggregate_id, &event.payload);
    }

    /// `Ok` when no member that is neither rejected nor withdrawn holds `number`, else
    /// [`DomainError::DuplicateEnterpriseNumber`] naming one that does.
    pub fn check(&self, number: &EnterpriseNumber) -> Result<(), DomainError> {
        match self.holder(number) {
            None => Ok(()),
            Some(existing) => Err(DomainError::DuplicateEnterpriseNumber {
                number: number.into(),
                existing,
            }),
        }
    }

    /// Checks every number that `events`, just decided for member `member`, would give
    /// it (by `applied` or a profile update) against the other members. A number the
    /// member itself already holds passes.
    pub fn check_events(
        &self,
        member: MemberId,
        events: &[MemberEvent],
    ) -> Result<(), DomainError> {
        for event in events {
            let number = match event {
                MemberEvent::Applied(applied) => &applied.enterprise_number,
                MemberEvent::ProfileUpdated(update) => match &update.enterprise_number {
                    Some(number) => number,
                    None => continue,
                },
                _ => continue,
            };
            let existing = self
                .holders
                .get(number)
                .and_then(|holders| holders.iter().find(|holder| **holder != member));
            if let Some(existing) = existing {
                return Err(DomainError::DuplicateEnterpriseNumber {
                    number: number.clone(),
                    existing: *existing,
                });
            }
        }
        Ok(())
    }

    /// The member holding `number`, if any (the first to apply, should there be more).
    pub fn holder(&self, number: &EnterpriseNumber) -> Option<MemberId> {
        self.holders
            .get(&wire::EnterpriseNumber::from(number))
            .and_then(|holders| holders.first().copied())
    }

    /// How many members hold a number.
    pub fn len(&self) -> usize {
        self.held.len()
    }

    /// True when no member holds a number.
    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }

    fn hold(&mut self, member: MemberId, number: wire::EnterpriseNumber) {
        self.free(member);
        self.holders
            .entry(number.clone())
            .or_default()
            .insert(member);
        self.held.insert(member, number);
    }

    fn free(&mut self, member: MemberId) {
        if let Some(number) = self.held.remove(&member) {
            if let Some(holders) = self.holders.get_mut(&number) {
                holders.remove(&member);
                if holders.is_empty() {
                    self.holders.remove(&number);
                }
            }
        }
    }
}
