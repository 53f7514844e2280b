//! Properties of capacity and the waitlist over random sequences of registrations,
//! cancellations, departures and capacity changes: registered <= capacity, no member
//! twice, first come first promoted, and a promotion only into a free place.

use std::collections::{BTreeSet, VecDeque};

use circlemade_contracts::activity::ActivityEvent;
use circlemade_contracts::membership::{MemberId, MemberStatus};
use proptest::prelude::*;

use super::fixtures::{history, member};
use crate::domain::test_framework::at;
use crate::domain::{
    Activity, ActivityStatus, Command, Departure, DomainError, Registration, UpdateForm,
};

/// One step of a random run.
#[derive(Clone, Debug)]
enum Step {
    /// Member `n` registers, with this status as the service knows it.
    Register(u128, Option<MemberStatus>),
    /// Member `n` cancels its registration.
    Cancel(u128),
    /// Member `n` leaves the cluster or is suspended.
    Depart(u128, Departure),
    /// The capacity changes to this many places.
    Capacity(i64),
}

fn member_number() -> impl Strategy<Value = u128> {
    0..12u128
}

fn step() -> impl Strategy<Value = Step> {
    let status = prop_oneof![
        6 => Just(Some(MemberStatus::Admitted)),
        1 => Just(None),
        1 => Just(Some(MemberStatus::Applied)),
        1 => Just(Some(MemberStatus::Suspended)),
        1 => Just(Some(MemberStatus::Withdrawn)),
    ];
    let departure = prop_oneof![Just(Departure::Suspended), Just(Departure::Withdrawn)];
    prop_oneof![
        6 => (member_number(), status).prop_map(|(n, status)| Step::Register(n, status)),
        3 => member_number().prop_map(Step::Cancel),
        1 => (member_number(), departure).prop_map(|(n, d)| Step::Depart(n, d)),
        2 => (1..8i64).prop_map(Step::Capacity),
    ]
}

fn command(step: &Step) -> Command {
    match step {
        Step::Register(n, status) => Command::Register {
            member_id: member(*n),
            status: *status,
        },
        Step::Cancel(n) => Command::CancelRegistration {
            member_id: member(*n),
        },
        Step::Depart(n, departure) => Command::CancelMemberRegistrations {
            member_id: member(*n),
            departure: *departure,
        },
        Step::Capacity(places) => Command::Update(
            UpdateForm {
                capacity: Some(Some(*places)),
                ..UpdateForm::default()
            }
            .parse()
            .expect("a capacity from 1 to 7"),
        ),
    }
}

/// What a reader of the events alone expects: who holds a place, who waits in which
/// order, and how many places there are.
#[derive(Debug)]
struct Model {
    capacity: usize,
    registered: BTreeSet<MemberId>,
    waitlist: VecDeque<MemberId>,
}

impl Model {
    /// Follows one event, checking it against the rules as it goes.
    fn follow(&mut self, event: &ActivityEvent) -> Result<(), TestCaseError> {
        match event {
            ActivityEvent::MemberRegistered(e) => {
                prop_assert!(
                    self.registered.len() < self.capacity,
                    "registered into a full activity"
                );
                prop_assert!(self.waitlist.is_empty(), "registered past a waitlist");
                prop_assert!(self.registered.insert(e.member_id), "registered twice");
                prop_assert!(!self.waitlist.contains(&e.member_id));
            }
            ActivityEvent::MemberWaitlisted(e) => {
                prop_assert_eq!(
                    self.registered.len(),
                    self.capacity,
                    "waitlisted with a free place"
                );
                prop_assert!(!self.registered.contains(&e.member_id));
                prop_assert!(!self.waitlist.contains(&e.member_id), "waitlisted twice");
                self.waitlist.push_back(e.member_id);
            }
            ActivityEvent::RegistrationCancelled(e) => {
                let was_registered = self.registered.remove(&e.member_id);
                let position = self.waitlist.iter().position(|m| *m == e.member_id);
                prop_assert!(was_registered != position.is_some(), "cancelled a stranger");
                if let Some(position) = position {
                    self.waitlist.remove(position);
                }
            }
            ActivityEvent::WaitlistPromoted(e) => {
                prop_assert!(
                    self.registered.len() < self.capacity,
                    "promoted into no free place"
                );
                prop_assert_eq!(
                    self.waitlist.pop_front(),
                    Some(e.member_id),
                    "not the first waitlisted"
                );
                self.registered.insert(e.member_id);
            }
            ActivityEvent::CapacityChanged(e) => {
                let places = usize::try_from(e.capacity.get()).expect("a small capacity");
                prop_assert!(
                    places >= self.registered.len(),
                    "capacity below the registered"
                );
                self.capacity = places;
            }
            other => prop_assert!(false, "unexpected event {other:?}"),
        }
        Ok(())
    }

    /// The invariants that hold between commands.
    fn check(&self, activity: &Activity) -> Result<(), TestCaseError> {
        prop_assert!(self.registered.len() <= self.capacity);
        if !self.waitlist.is_empty() {
            prop_assert_eq!(
                self.registered.len(),
                self.capacity,
                "a place stays free while members wait"
            );
        }
        let registered: BTreeSet<MemberId> = activity.registered().iter().copied().collect();
        prop_assert_eq!(
            registered.len(),
            activity.registered().len(),
            "a member holds two places"
        );
        prop_assert_eq!(&registered, &self.registered);
        let waitlist: Vec<MemberId> = activity.waitlist().collect();
        prop_assert_eq!(
            &waitlist,
            &self.waitlist.iter().copied().collect::<Vec<_>>()
        );
        prop_assert!(registered.iter().all(|m| !waitlist.contains(m)));
        prop_assert_eq!(
            activity
                .capacity()
                .map(|c| usize::try_from(c.get()).unwrap_or(0)),
            Some(self.capacity)
        );
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn capacity_and_waitlist_rules_hold_over_any_sequence(
        steps in prop::collection::vec(step(), 1..60),
    ) {
        let mut activity = Activity::default();
        let mut log: Vec<(ActivityEvent, chrono::DateTime<chrono::Utc>)> = Vec::new();
        for event in history(ActivityStatus::RegistrationOpen) {
            activity.apply(&event, at(0));
            log.push((event, at(0)));
        }
        let mut model = Model {
            capacity: 2,
            registered: BTreeSet::new(),
            waitlist: VecDeque::new(),
        };
        for (i, step) in steps.iter().enumerate() {
            let when = at(1 + i64::try_from(i).expect("a short run"));
            let standing = |n: &u128| activity.registration_of(member(*n));
            let result = activity.handle(command(step), when);
            // Refused for exactly the right reasons, and accepted otherwise.
            match (step, &result) {
                (Step::Register(_, status), Err(DomainError::MemberNotEligible { .. })) => {
                    prop_assert_ne!(*status, Some(MemberStatus::Admitted));
                }
                (Step::Register(n, status), Err(DomainError::AlreadyRegistered { waitlisted, .. })) => {
                    prop_assert_eq!(*status, Some(MemberStatus::Admitted));
                    let expected = if *waitlisted { Registration::Waitlisted } else { Registration::Registered };
                    prop_assert_eq!(standing(n), Some(expected));
                }
                (Step::Register(n, status), Ok(events)) => {
                    prop_assert_eq!(*status, Some(MemberStatus::Admitted));
                    prop_assert_eq!(standing(n), None);
                    prop_assert_eq!(events.len(), 1);
                }
                (Step::Cancel(n), Err(DomainError::NotRegistered { .. })) => {
                    prop_assert_eq!(standing(n), None);
                }
                (Step::Cancel(n), Ok(_)) => prop_assert!(standing(n).is_some()),
                (Step::Depart(n, _), Ok(events)) => {
                    prop_assert_eq!(events.is_empty(), standing(n).is_none());
                }
                (Step::Capacity(places), Err(DomainError::CapacityBelowRegistrations { registered, .. })) => {
                    prop_assert!(usize::try_from(*places).unwrap_or(0) < *registered);
                }
                (Step::Capacity(_), Ok(_)) => {}
                (step, result) => prop_assert!(false, "{step:?} gave {result:?}"),
            }
            if let Ok(events) = result {
                for event in &events {
                    model.follow(event)?;
                    activity.apply(event, when);
                    log.push((event.clone(), when));
                }
                model.check(&activity)?;
            }
        }
        // The same history, replayed from scratch, builds the same activity.
        let rebuilt = Activity::from_history(log.iter().map(|(event, at)| (event, *at)));
        prop_assert_eq!(rebuilt, activity);
    }
}
