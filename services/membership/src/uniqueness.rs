//! Enterprise numbers: unique among members that are neither rejected nor withdrawn,
//! also when two commands claim one number at the same moment.
//!
//! The [`EnterpriseNumberIndex`] of the domain says who holds each number, as of the
//! events appended so far. A command that gives a member a number (an application, a
//! profile update that corrects it) first **reserves** it here, under a short lock
//! that is never held across an await: the reservation fails when another member
//! holds the number or has reserved it. The command then appends; its events go into
//! the index and the reservation is released ([`Reservation::commit`]), or, if the
//! command refused or failed, the reservation is released when dropped. So of two
//! applications with one number, exactly one is accepted, whatever their timing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use circlemade_contracts::membership::{self as wire, MemberEvent, MemberId};

use crate::domain::{DomainError, EnterpriseNumber, EnterpriseNumberIndex};

/// The index and the numbers reserved by commands under way. Cheap to clone.
#[derive(Clone, Debug, Default)]
pub(crate) struct EnterpriseNumbers {
    inner: Arc<Mutex<Numbers>>,
}

#[derive(Debug, Default)]
struct Numbers {
    index: EnterpriseNumberIndex,
    reserved: HashMap<wire::EnterpriseNumber, MemberId>,
}

impl EnterpriseNumbers {
    /// The numbers held according to `index` (built from the log at start).
    pub(crate) fn new(index: EnterpriseNumberIndex) -> Self {
        EnterpriseNumbers {
            inner: Arc::new(Mutex::new(Numbers {
                index,
                reserved: HashMap::new(),
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Numbers> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reserves `number` for `member`, which may already hold it. Refused with
    /// [`DomainError::DuplicateEnterpriseNumber`] when another member holds it or a
    /// command for another member has reserved it.
    pub(crate) fn reserve(
        &self,
        member: MemberId,
        number: &EnterpriseNumber,
    ) -> Result<Reservation, DomainError> {
        let wire_number = wire::EnterpriseNumber::from(number);
        let mut numbers = self.lock();
        let claim = [MemberEvent::ProfileUpdated(wire::ProfileUpdated {
            enterprise_number: Some(wire_number.clone()),
            ..wire::ProfileUpdated::default()
        })];
        numbers.index.check_events(member, &claim)?;
        match numbers.reserved.get(&wire_number) {
            Some(other) if *other != member => {
                return Err(DomainError::DuplicateEnterpriseNumber {
                    number: wire_number,
                    existing: *other,
                });
            }
            Some(_) => {
                // The same member, in another command under way: that command holds
                // the reservation; this one goes on without its own.
                return Ok(Reservation {
                    numbers: self.clone(),
                    held: None,
                });
            }
            None => {}
        }
        numbers.reserved.insert(wire_number.clone(), member);
        Ok(Reservation {
            numbers: self.clone(),
            held: Some((wire_number, member)),
        })
    }

    /// Records events appended without a reservation (transitions that free a number).
    pub(crate) fn record(&self, member: MemberId, events: &[MemberEvent]) {
        let mut numbers = self.lock();
        for event in events {
            numbers.index.apply(member, event);
        }
    }

    /// The member holding `number`, if any.
    #[cfg(test)]
    pub(crate) fn holder(&self, number: &EnterpriseNumber) -> Option<MemberId> {
        self.lock().index.holder(number)
    }
}

/// A number reserved for a command under way; released when dropped.
#[derive(Debug)]
pub(crate) struct Reservation {
    numbers: EnterpriseNumbers,
    held: Option<(wire::EnterpriseNumber, MemberId)>,
}

impl Reservation {
    /// Records the command's appended events in the index and releases the number, in
    /// one step: no other command sees the number free in between.
    pub(crate) fn commit(mut self, member: MemberId, events: &[MemberEvent]) {
        let mut numbers = self.numbers.lock();
        for event in events {
            numbers.index.apply(member, event);
        }
        if let Some((number, _)) = self.held.take() {
            numbers.reserved.remove(&number);
        }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if let Some((number, member)) = self.held.take() {
            let mut numbers = self.numbers.lock();
            if numbers.reserved.get(&number) == Some(&member) {
                numbers.reserved.remove(&number);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use circlemade_contracts::EventPayload;

    fn number(text: &str) -> EnterpriseNumber {
        EnterpriseNumber::parse(text).unwrap()
    }

    #[test]
    fn a_reserved_number_is_refused_to_another_member_until_released() {
        let numbers = EnterpriseNumbers::default();
        let (a, b) = (MemberId::new(), MemberId::new());
        let held = numbers.reserve(a, &number("0123456749")).unwrap();
        assert!(matches!(
            numbers.reserve(b, &number("0123456749")),
            Err(DomainError::DuplicateEnterpriseNumber { existing, .. }) if existing == a
        ));
        drop(held);
        assert!(numbers.reserve(b, &number("0123456749")).is_ok());
    }

    #[test]
    fn a_committed_application_holds_its_number_for_good() {
        let numbers = EnterpriseNumbers::default();
        let (a, b) = (MemberId::new(), MemberId::new());
        let held = numbers.reserve(a, &number("0123456749")).unwrap();
        let mut applied = wire::Applied::example();
        applied.enterprise_number = "0123456749".parse().unwrap();
        held.commit(a, &[MemberEvent::Applied(applied)]);
        assert_eq!(numbers.holder(&number("0123456749")), Some(a));
        assert!(numbers.reserve(b, &number("0123456749")).is_err());
        // The holder itself may claim it again (an unchanged number in an update).
        assert!(numbers.reserve(a, &number("0123456749")).is_ok());
        numbers.record(a, &[MemberEvent::Rejected(wire::Rejected::default())]);
        assert!(numbers.reserve(b, &number("0123456749")).is_ok());
    }
}
