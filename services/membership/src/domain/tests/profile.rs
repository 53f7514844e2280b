//! Profile updates: only what changes, the support kind fitting the category, nothing
//! for a no-op, refused once the member is rejected or withdrawn.

use circlemade_contracts::membership::{
    Applied, Category, Domain, Domains, ProfileUpdated, SizeBand, SupportKind,
};

use super::fixtures::{applied, history};
use crate::domain::test_framework::given;
use crate::domain::{
    Command, CommandKind, DomainError, MemberStatus, ProfileUpdateForm, ValidationErrors,
};

fn update(form: ProfileUpdateForm) -> Command {
    Command::UpdateProfile(form.parse().expect("a valid update"))
}

fn value(text: &str) -> Option<Option<String>> {
    Some(Some(text.to_owned()))
}

/// A member that applied as a financial support organisation.
fn support_member() -> Vec<circlemade_contracts::membership::MemberEvent> {
    vec![
        Applied {
            category: Category::Support,
            support_kind: Some(SupportKind::Financial),
            ..applied()
        }
        .into(),
    ]
}

#[test]
fn only_the_changed_fields_are_in_the_event() {
    let member = given(history(MemberStatus::Admitted))
        .when(update(ProfileUpdateForm {
            name: value("Ressourcerie du Canal"),
            size_band: value("medium"),
            municipality: value("  Molenbeek-Saint-Jean "),
            nace_code: value("38.32"),
            ..ProfileUpdateForm::default()
        }))
        .then_expect_events(vec![
            ProfileUpdated {
                size_band: Some(SizeBand::Medium),
                municipality: Some("Molenbeek-Saint-Jean".to_owned()),
                ..ProfileUpdated::default()
            }
            .into(),
        ]);
    let profile = member.profile().expect("applied");
    assert_eq!(profile.size_band, SizeBand::Medium);
    assert_eq!(profile.municipality, "Molenbeek-Saint-Jean");
    assert_eq!(profile.name, "Ressourcerie du Canal");
}

#[test]
fn an_update_that_changes_nothing_gives_no_event() {
    given(history(MemberStatus::Admitted))
        .when(update(ProfileUpdateForm::default()))
        .then_expect_no_events();
    given(history(MemberStatus::Admitted))
        .when(update(ProfileUpdateForm {
            name: value("Ressourcerie du Canal"),
            category: value("company"),
            enterprise_number: value("BE 0123.456.749"),
            nace_code: value("3832"),
            // The same domains in another order.
            domains: Some(Some(vec![
                "recycling".to_owned(),
                "repair_reuse".to_owned(),
            ])),
            website: value("https://ressourcerie-du-canal.example"),
            ..ProfileUpdateForm::default()
        }))
        .then_expect_no_events();
}

#[test]
fn every_field_can_change() {
    let member = given(history(MemberStatus::Applied))
        .when(update(ProfileUpdateForm {
            name: value("Ressourcerie du Canal asbl"),
            category: value("academic"),
            domains: Some(Some(vec!["eco_design".to_owned()])),
            enterprise_number: value("1000.000.021"),
            nace_code: value("E"),
            size_band: value("large"),
            municipality: value("Ixelles"),
            website: value("https://canal.example/"),
            offer_summary: value("Repair workshops."),
            ..ProfileUpdateForm::default()
        }))
        .then_expect_events(vec![
            ProfileUpdated {
                name: Some("Ressourcerie du Canal asbl".to_owned()),
                category: Some(Category::Academic),
                support_kind: None,
                domains: Some(Domains::new(vec![Domain::EcoDesign]).expect("one domain")),
                enterprise_number: Some("1000000021".parse().expect("ten digits")),
                nace_code: Some("E".to_owned()),
                size_band: Some(SizeBand::Large),
                municipality: Some("Ixelles".to_owned()),
                website: Some(Some("https://canal.example/".to_owned())),
                offer_summary: Some(Some("Repair workshops.".to_owned())),
            }
            .into(),
        ]);
    let profile = member.profile().expect("applied");
    assert_eq!(profile.category, Category::Academic);
    assert_eq!(profile.enterprise_number.as_str(), "1000000021");
}

#[test]
fn null_or_blank_removes_the_website_and_offer_summary() {
    let member = given(history(MemberStatus::Admitted))
        .when(update(ProfileUpdateForm {
            website: Some(None),
            offer_summary: value("  "),
            ..ProfileUpdateForm::default()
        }))
        .then_expect_events(vec![
            ProfileUpdated {
                website: Some(None),
                offer_summary: Some(None),
                ..ProfileUpdated::default()
            }
            .into(),
        ]);
    let profile = member.profile().expect("applied");
    assert_eq!(profile.website, None);
    assert_eq!(profile.offer_summary, None);
    // Removing what is already absent changes nothing.
    member
        .handle(
            update(ProfileUpdateForm {
                website: Some(None),
                ..ProfileUpdateForm::default()
            }),
            crate::domain::test_framework::at(100),
        )
        .map(|events| assert!(events.is_empty()))
        .expect("accepted");
}

#[test]
fn required_fields_cannot_be_removed() {
    let errors: ValidationErrors = ProfileUpdateForm {
        name: Some(None),
        category: Some(None),
        domains: Some(None),
        enterprise_number: Some(None),
        nace_code: Some(None),
        size_band: Some(None),
        municipality: Some(None),
        ..ProfileUpdateForm::default()
    }
    .parse()
    .expect_err("required fields set to null");
    assert_eq!(
        errors
            .iter()
            .map(|e| (e.field, e.problem.code()))
            .collect::<Vec<_>>(),
        [
            ("name", "required"),
            ("category", "required"),
            ("domains", "required"),
            ("enterprise_number", "required"),
            ("nace_code", "required"),
            ("size_band", "required"),
            ("municipality", "required"),
        ]
    );
}

#[test]
fn update_fields_are_checked_like_an_application() {
    let errors = ProfileUpdateForm {
        name: value(""),
        category: value("startup"),
        support_kind: value("moral"),
        domains: Some(Some(Vec::new())),
        enterprise_number: value("0123.456.748"),
        nace_code: value("381.1"),
        size_band: value("xl"),
        municipality: value("m\u{0}"),
        website: value("canal.example"),
        offer_summary: Some(Some(
            "s".repeat(crate::domain::limits::OFFER_SUMMARY_CHARS + 1),
        )),
    }
    .parse()
    .expect_err("every field invalid");
    assert_eq!(
        errors
            .iter()
            .map(|e| (e.field, e.problem.code()))
            .collect::<Vec<_>>(),
        [
            ("name", "blank"),
            ("category", "unknown_value"),
            ("support_kind", "unknown_value"),
            ("domains", "no_domain"),
            ("enterprise_number", "wrong_check_digits"),
            ("nace_code", "invalid_nace_code"),
            ("size_band", "unknown_value"),
            ("municipality", "control_character"),
            ("website", "invalid_website"),
            ("offer_summary", "too_long"),
        ]
    );
}

#[test]
fn a_profile_update_form_reads_absent_null_and_values_apart() {
    let form: ProfileUpdateForm = serde_json::from_value(serde_json::json!({
        "name": "Canal",
        "website": null,
    }))
    .expect("a valid body");
    assert_eq!(form.name, value("Canal"));
    assert_eq!(form.website, Some(None));
    assert_eq!(form.offer_summary, None);
}

#[test]
fn becoming_a_support_organisation_needs_a_support_kind() {
    given(history(MemberStatus::Admitted))
        .when(update(ProfileUpdateForm {
            category: value("support"),
            ..ProfileUpdateForm::default()
        }))
        .then_expect_invalid(&[("support_kind", "required")]);
    let member = given(history(MemberStatus::Admitted))
        .when(update(ProfileUpdateForm {
            category: value("support"),
            support_kind: value("communication"),
            ..ProfileUpdateForm::default()
        }))
        .then_expect_events(vec![
            ProfileUpdated {
                category: Some(Category::Support),
                support_kind: Some(SupportKind::Communication),
                ..ProfileUpdated::default()
            }
            .into(),
        ]);
    assert_eq!(
        member.profile().and_then(|p| p.support_kind),
        Some(SupportKind::Communication)
    );
}

#[test]
fn a_support_organisation_changes_its_kind_alone() {
    given(support_member())
        .when(update(ProfileUpdateForm {
            support_kind: value("other"),
            ..ProfileUpdateForm::default()
        }))
        .then_expect_events(vec![
            ProfileUpdated {
                support_kind: Some(SupportKind::Other),
                ..ProfileUpdated::default()
            }
            .into(),
        ]);
    // The same kind, with or without the same category, changes nothing.
    given(support_member())
        .when(update(ProfileUpdateForm {
            category: value("support"),
            support_kind: value("financial"),
            ..ProfileUpdateForm::default()
        }))
        .then_expect_no_events();
}

#[test]
fn a_support_organisation_cannot_lose_its_kind() {
    given(support_member())
        .when(update(ProfileUpdateForm {
            support_kind: Some(None),
            ..ProfileUpdateForm::default()
        }))
        .then_expect_invalid(&[("support_kind", "required")]);
}

#[test]
fn leaving_support_drops_the_support_kind() {
    let member = given(support_member())
        .when(update(ProfileUpdateForm {
            category: value("institutional"),
            ..ProfileUpdateForm::default()
        }))
        .then_expect_events(vec![
            ProfileUpdated {
                category: Some(Category::Institutional),
                ..ProfileUpdated::default()
            }
            .into(),
        ]);
    assert_eq!(member.profile().and_then(|p| p.support_kind), None);
    // Saying so explicitly is the same.
    given(support_member())
        .when(update(ProfileUpdateForm {
            category: value("institutional"),
            support_kind: Some(None),
            ..ProfileUpdateForm::default()
        }))
        .then_expect_events(vec![
            ProfileUpdated {
                category: Some(Category::Institutional),
                ..ProfileUpdated::default()
            }
            .into(),
        ]);
    given(support_member())
        .when(update(ProfileUpdateForm {
            category: value("institutional"),
            support_kind: value("financial"),
            ..ProfileUpdateForm::default()
        }))
        .then_expect_invalid(&[("support_kind", "only_for_support")]);
}

#[test]
fn a_member_of_another_category_gets_no_support_kind() {
    given(history(MemberStatus::Admitted))
        .when(update(ProfileUpdateForm {
            support_kind: value("financial"),
            ..ProfileUpdateForm::default()
        }))
        .then_expect_invalid(&[("support_kind", "only_for_support")]);
}

#[test]
fn every_event_decided_is_valid_on_the_wire() {
    // The contracts refuse a support category without a kind when reading: what the
    // domain writes must read back.
    for form in [
        ProfileUpdateForm {
            category: value("support"),
            support_kind: value("other"),
            ..ProfileUpdateForm::default()
        },
        ProfileUpdateForm {
            category: value("company"),
            ..ProfileUpdateForm::default()
        },
    ] {
        for start in [support_member(), history(MemberStatus::Admitted)] {
            let events = given(start)
                .when(update(form.clone()))
                .result()
                .clone()
                .unwrap_or_default();
            for event in events {
                let circlemade_contracts::membership::MemberEvent::ProfileUpdated(payload) = event
                else {
                    panic!("a profile update decides a profile update");
                };
                let json = serde_json::to_value(&payload).expect("serialises");
                let read: ProfileUpdated = serde_json::from_value(json).expect("reads back");
                assert_eq!(read, payload);
            }
        }
    }
}

#[test]
fn rejected_and_withdrawn_members_keep_their_profile() {
    for status in [MemberStatus::Rejected, MemberStatus::Withdrawn] {
        given(history(status))
            .when(update(ProfileUpdateForm {
                size_band: value("micro"),
                ..ProfileUpdateForm::default()
            }))
            .then_expect_error(DomainError::IllegalTransition {
                from: status,
                command: CommandKind::UpdateProfile,
            });
    }
}

mod properties {
    use proptest::option;
    use proptest::prelude::*;
    use proptest::sample::select;

    use super::{support_member, update};
    use crate::domain::test_framework::{at, given};
    use crate::domain::{MemberStatus, ProfileUpdateForm};

    fn maybe(values: &'static [&'static str]) -> impl Strategy<Value = Option<Option<String>>> {
        option::of(select(values).prop_map(|v| Some(v.to_owned())))
    }

    fn removable(values: &'static [&'static str]) -> impl Strategy<Value = Option<Option<String>>> {
        option::of(option::of(select(values).prop_map(str::to_owned)))
    }

    prop_compose! {
        fn forms()(
            name in maybe(&["Ressourcerie du Canal", "Canal Circulaire"]),
            category in maybe(&["company", "academic", "support"]),
            support_kind in removable(&["financial", "other"]),
            domains in option::of(select(vec![
                vec!["recycling"], vec!["recycling", "repair_reuse"], vec!["eco_design"],
            ])),
            enterprise_number in maybe(&["0123.456.749", "1000.000.021"]),
            nace_code in maybe(&["38.32", "E", "38110"]),
            size_band in maybe(&["small", "large"]),
            municipality in maybe(&["Anderlecht", "Forest"]),
            website in removable(&["https://ressourcerie-du-canal.example", "https://canal.example"]),
            offer_summary in removable(&["Repair workshops."]),
        ) -> ProfileUpdateForm {
            ProfileUpdateForm {
                name, category, support_kind,
                domains: domains.map(|d| Some(d.into_iter().map(str::to_owned).collect())),
                enterprise_number, nace_code, size_band, municipality, website, offer_summary,
            }
        }
    }

    proptest! {
        /// An accepted update, once applied, is a no-op when sent again, and what it
        /// decided reads back from the wire.
        #[test]
        fn an_accepted_update_sent_twice_changes_nothing_the_second_time(
            form in forms(),
            support in any::<bool>(),
        ) {
            let start = if support { support_member() } else { super::history(MemberStatus::Admitted) };
            let given = given(start);
            let mut member = given.member().clone();
            let events = match member.handle(update(form.clone()), at(50)) {
                Ok(events) => events,
                // Refused only when the support kind does not fit the category.
                Err(error) => {
                    let fields: Vec<&str> = error
                        .validation_errors()
                        .map(|errors| errors.fields().collect())
                        .unwrap_or_default();
                    prop_assert_eq!(fields, ["support_kind"]);
                    return Ok(());
                }
            };
            prop_assert!(events.len() <= 1);
            for event in &events {
                member.apply(event, at(50));
                let data = circlemade_contracts::EventFamily::to_data(event).expect("serialises");
                let read = <circlemade_contracts::membership::MemberEvent as circlemade_contracts::EventFamily>::from_data("profile_updated", &data);
                prop_assert!(matches!(read, Some(Ok(ref again)) if again == event));
            }
            prop_assert_eq!(member.handle(update(form), at(51)), Ok(Vec::new()));
        }
    }
}
