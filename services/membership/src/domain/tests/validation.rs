//! Every field of every form: each failure names its field as in the HTTP body, and all
//! failures come at once.

use circlemade_contracts::membership::{Category, Domain, SupportKind};

use super::fixtures::{accompaniment_form, application_form};
use crate::domain::{
    AccompanimentForm, ApplicationForm, ContactForm, DomainError, EnterpriseNumberError,
    NaceCodeError, OfferForm, Problem, Reason, ValidationErrors, limits,
};
use circlemade_contracts::membership::OfferId;

/// The `(field, problem code)` pairs of a failed parse, in order.
fn failures<T: std::fmt::Debug>(
    result: Result<T, ValidationErrors>,
) -> Vec<(&'static str, &'static str)> {
    result
        .expect_err("invalid")
        .iter()
        .map(|error| (error.field, error.problem.code()))
        .collect()
}

/// The failures of the valid application changed by `change`.
fn application_failures(
    change: impl FnOnce(&mut ApplicationForm),
) -> Vec<(&'static str, &'static str)> {
    let mut form = application_form();
    change(&mut form);
    failures(form.parse())
}

fn text(text: &str) -> Option<String> {
    Some(text.to_owned())
}

#[test]
fn a_valid_application_parses_with_its_contact_apart() {
    let (application, contact) = application_form().parse().expect("valid");
    assert_eq!(application.name(), "Ressourcerie du Canal");
    assert_eq!(application.enterprise_number().as_str(), "0123456749");
    assert_eq!(contact.name(), "Amina Diallo");
}

#[test]
fn an_empty_application_names_every_required_field_at_once() {
    assert_eq!(
        failures(ApplicationForm::default().parse()),
        [
            ("name", "required"),
            ("category", "required"),
            ("domains", "required"),
            ("enterprise_number", "required"),
            ("nace_code", "required"),
            ("size_band", "required"),
            ("municipality", "required"),
            ("contact", "required"),
        ]
    );
}

#[test]
fn every_invalid_field_is_named_at_once() {
    let form = ApplicationForm {
        name: text("   "),
        category: text("startup"),
        support_kind: text("moral"),
        domains: Some(vec!["composting".to_owned()]),
        enterprise_number: text("0123.456.748"),
        nace_code: text("38-32"),
        size_band: text("huge"),
        municipality: text("Anderlecht\nCureghem"),
        website: text("ressourcerie.example"),
        offer_summary: Some("x".repeat(limits::OFFER_SUMMARY_CHARS + 1)),
        contact: Some(ContactForm {
            name: text(""),
            email: text("amina"),
            phone: text("call me"),
        }),
    };
    assert_eq!(
        failures(form.parse()),
        [
            ("name", "blank"),
            ("category", "unknown_value"),
            ("support_kind", "unknown_value"),
            ("domains", "unknown_value"),
            ("enterprise_number", "wrong_check_digits"),
            ("nace_code", "invalid_nace_code"),
            ("size_band", "unknown_value"),
            ("municipality", "control_character"),
            ("website", "invalid_website"),
            ("offer_summary", "too_long"),
            ("contact.name", "blank"),
            ("contact.email", "invalid_email"),
            ("contact.phone", "invalid_phone"),
        ]
    );
}

#[test]
fn name_is_bounded() {
    assert_eq!(
        application_failures(|f| f.name = Some("n".repeat(limits::NAME_CHARS + 1))),
        [("name", "too_long")]
    );
    assert!(
        ApplicationForm {
            name: Some("n".repeat(limits::NAME_CHARS)),
            ..application_form()
        }
        .parse()
        .is_ok()
    );
}

#[test]
fn unknown_values_list_the_accepted_ones() {
    let errors = ApplicationForm {
        category: text("startup"),
        ..application_form()
    }
    .parse()
    .expect_err("unknown category");
    assert_eq!(
        errors.problems_of("category").collect::<Vec<_>>(),
        [&Problem::UnknownValue {
            allowed: vec!["company", "academic", "institutional", "support"]
        }]
    );
}

#[test]
fn a_support_organisation_needs_a_support_kind() {
    assert_eq!(
        application_failures(|f| f.category = text("support")),
        [("support_kind", "required")]
    );
    let (application, _) = ApplicationForm {
        category: text("support"),
        support_kind: text("financial"),
        ..application_form()
    }
    .parse()
    .expect("support with a kind");
    assert_eq!(application.category, Category::Support);
    assert_eq!(application.support_kind, Some(SupportKind::Financial));
}

#[test]
fn only_a_support_organisation_has_a_support_kind() {
    for category in ["company", "academic", "institutional"] {
        assert_eq!(
            application_failures(|f| {
                f.category = text(category);
                f.support_kind = text("communication");
            }),
            [("support_kind", "only_for_support")],
            "{category}"
        );
    }
    // Blank counts as absent.
    assert!(
        ApplicationForm {
            support_kind: text(" "),
            ..application_form()
        }
        .parse()
        .is_ok()
    );
}

#[test]
fn domains_are_one_or_more_known_ones_none_twice() {
    assert_eq!(
        application_failures(|f| f.domains = Some(Vec::new())),
        [("domains", "no_domain")]
    );
    let errors = ApplicationForm {
        domains: Some(vec![
            "recycling".to_owned(),
            "eco_design".to_owned(),
            "recycling".to_owned(),
        ]),
        ..application_form()
    }
    .parse()
    .expect_err("recycling twice");
    assert_eq!(
        errors.problems_of("domains").collect::<Vec<_>>(),
        [&Problem::RepeatedDomain(Domain::Recycling)]
    );
    assert_eq!(
        application_failures(|f| f.domains = Some(vec!["Recycling".to_owned()])),
        [("domains", "unknown_value")]
    );
    let (application, _) = ApplicationForm {
        domains: Some(Domain::ALL.iter().map(|d| d.as_str().to_owned()).collect()),
        ..application_form()
    }
    .parse()
    .expect("all six domains");
    assert_eq!(application.domains.as_slice(), Domain::ALL);
}

#[test]
fn the_enterprise_number_is_parsed_and_normalised() {
    let (application, _) = ApplicationForm {
        enterprise_number: text("BE 0123 456 749"),
        ..application_form()
    }
    .parse()
    .expect("a valid number");
    assert_eq!(application.enterprise_number().as_str(), "0123456749");
    for (input, expected) in [
        (
            "0123.456.74",
            EnterpriseNumberError::WrongLength { digits: 9 },
        ),
        (
            "0123/456/749",
            EnterpriseNumberError::NotADigit { character: '/' },
        ),
        ("2123.456.749", EnterpriseNumberError::FirstDigit),
        (
            "0123.456.750",
            EnterpriseNumberError::CheckDigits {
                expected: 49,
                found: 50,
            },
        ),
    ] {
        let errors = ApplicationForm {
            enterprise_number: text(input),
            ..application_form()
        }
        .parse()
        .expect_err(input);
        assert_eq!(
            errors.problems_of("enterprise_number").collect::<Vec<_>>(),
            [&Problem::EnterpriseNumber(expected)],
            "{input}"
        );
    }
}

#[test]
fn the_nace_code_has_a_nace_shape() {
    let (application, _) = ApplicationForm {
        nace_code: text("38110"),
        ..application_form()
    }
    .parse()
    .expect("a valid code");
    assert_eq!(application.nace_code.as_str(), "38.110");
    let errors = ApplicationForm {
        nace_code: text("38.1234"),
        ..application_form()
    }
    .parse()
    .expect_err("too fine");
    assert_eq!(
        errors.problems_of("nace_code").collect::<Vec<_>>(),
        [&Problem::NaceCode(NaceCodeError::Shape)]
    );
    assert_eq!(
        application_failures(|f| f.nace_code = text(" ")),
        [("nace_code", "blank")]
    );
}

#[test]
fn municipality_is_required_and_bounded() {
    assert_eq!(
        application_failures(|f| f.municipality = text("")),
        [("municipality", "blank")]
    );
    assert_eq!(
        application_failures(|f| f.municipality = Some("m".repeat(limits::MUNICIPALITY_CHARS + 1))),
        [("municipality", "too_long")]
    );
}

#[test]
fn website_and_offer_summary_are_optional() {
    let (application, _) = ApplicationForm {
        website: None,
        offer_summary: text("  "),
        ..application_form()
    }
    .parse()
    .expect("both optional");
    assert_eq!(application.website, None);
    assert_eq!(application.offer_summary, None);
    assert_eq!(
        application_failures(|f| f.website = text("ftp://ressourcerie.example")),
        [("website", "invalid_website")]
    );
}

#[test]
fn the_contact_is_required_and_checked() {
    assert_eq!(
        application_failures(|f| f.contact = None),
        [("contact", "required")]
    );
    assert_eq!(
        application_failures(|f| f.contact = Some(ContactForm::default())),
        [("contact.name", "required"), ("contact.email", "required")]
    );
    assert_eq!(
        application_failures(|f| {
            f.contact = Some(ContactForm {
                name: Some("n".repeat(limits::NAME_CHARS + 1)),
                email: text("amina@ressourcerie"),
                phone: text("12"),
            })
        }),
        [
            ("contact.name", "too_long"),
            ("contact.email", "invalid_email"),
            ("contact.phone", "invalid_phone")
        ]
    );
    // The phone is optional.
    let (_, contact) = ApplicationForm {
        contact: Some(ContactForm {
            phone: None,
            ..application_form().contact.expect("a contact")
        }),
        ..application_form()
    }
    .parse()
    .expect("no phone");
    assert_eq!(contact.phone(), None);
}

#[test]
fn a_reason_is_optional_and_bounded() {
    assert_eq!(Reason::parse(None), Ok(Reason::none()));
    assert_eq!(Reason::parse(Some("  ")), Ok(Reason::none()));
    assert_eq!(
        Reason::parse(Some("Fee paid.\nThanks.")).map(|r| r.into_inner()),
        Ok(Some("Fee paid.\nThanks.".to_owned()))
    );
    assert_eq!(
        failures(Reason::parse(Some(&"r".repeat(limits::REASON_CHARS + 1)))),
        [("reason", "too_long")]
    );
}

#[test]
fn an_offer_needs_a_title_and_a_description() {
    let id = OfferId::new();
    assert_eq!(
        failures(OfferForm::default().parse(id)),
        [("title", "required"), ("description", "required")]
    );
    assert_eq!(
        failures(
            OfferForm {
                title: Some("t".repeat(limits::OFFER_TITLE_CHARS + 1)),
                description: Some("d".repeat(limits::OFFER_DESCRIPTION_CHARS + 1)),
            }
            .parse(id)
        ),
        [("title", "too_long"), ("description", "too_long")]
    );
    let offer = OfferForm {
        title: text(" Office furniture "),
        description: text("Desks.\nChairs."),
    }
    .parse(id)
    .expect("valid");
    assert_eq!(offer.offer_id(), id);
    assert_eq!(offer.title, "Office furniture");
}

#[test]
fn an_accompaniment_needs_an_advisor_a_topic_and_hours_above_zero() {
    assert_eq!(
        failures(AccompanimentForm::default().parse()),
        [
            ("advisor", "required"),
            ("topic", "required"),
            ("hours", "required")
        ]
    );
    for hours in [
        0.0,
        -1.5,
        f64::NAN,
        f64::INFINITY,
        limits::ACCOMPANIMENT_HOURS + 0.5,
    ] {
        assert_eq!(
            failures(
                AccompanimentForm {
                    hours: Some(hours),
                    ..accompaniment_form()
                }
                .parse()
            ),
            [("hours", "invalid_hours")],
            "{hours}"
        );
    }
    for hours in [0.25, limits::ACCOMPANIMENT_HOURS] {
        assert!(
            AccompanimentForm {
                hours: Some(hours),
                ..accompaniment_form()
            }
            .parse()
            .is_ok()
        );
    }
    assert_eq!(
        failures(
            AccompanimentForm {
                advisor: text("\t"),
                topic: Some("t".repeat(limits::TOPIC_CHARS + 1)),
                ..accompaniment_form()
            }
            .parse()
        ),
        [("advisor", "blank"), ("topic", "too_long")]
    );
}

#[test]
fn a_validation_failure_is_a_422_with_a_stable_code() {
    let error = DomainError::from(ApplicationForm::default().parse().expect_err("empty"));
    assert_eq!(error.code(), "validation_failed");
    assert_eq!(error.http_status(), 422);
    assert_eq!(
        error.validation_errors().map(ValidationErrors::len),
        Some(8)
    );
}
