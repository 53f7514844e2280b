//! The personal data of a member: its contact person's name, e-mail address and phone
//! number.
//!
//! It comes with an application and is checked with it, but it is never part of any
//! event: [`ApplicationForm::parse`](super::ApplicationForm::parse) hands it back beside
//! the command, for the service to store encrypted under the member's own key, so that
//! erasure can shred it. Nothing here prints it: `Debug` writes `[redacted]`, there is no
//! `Display`, and no validation message repeats it.
//!
//! # Rules
//!
//! - `name`: required, one line, at most [`limits::NAME_CHARS`] characters.
//! - `email`: required; one `@`, a local part of at most
//!   [`limits::EMAIL_LOCAL_CHARS`] characters without spaces, a host name with a dot;
//!   at most [`limits::EMAIL_CHARS`] characters.
//! - `phone`: optional; an optional leading `+`, then digits separated by spaces, dots,
//!   dashes, slashes or parentheses; [`limits::PHONE_MIN_DIGITS`] to
//!   [`limits::PHONE_MAX_DIGITS`] digits, at most [`limits::PHONE_CHARS`] characters.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::error::{Problem, ValidationErrors};
use super::limits;
use super::text::{self, Lines, is_host_name};

/// The contact person of a member, checked. Personal data: see the module.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "ContactForm")]
pub struct Contact {
    name: String,
    email: EmailAddress,
    #[serde(skip_serializing_if = "Option::is_none")]
    phone: Option<PhoneNumber>,
}

impl Contact {
    /// The contact person's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The contact person's e-mail address.
    pub fn email(&self) -> &EmailAddress {
        &self.email
    }

    /// The contact person's phone number, if given.
    pub fn phone(&self) -> Option<&PhoneNumber> {
        self.phone.as_ref()
    }
}

impl fmt::Debug for Contact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl TryFrom<ContactForm> for Contact {
    type Error = ValidationErrors;

    fn try_from(form: ContactForm) -> Result<Self, Self::Error> {
        form.parse()
    }
}

/// The contact person as received, before checking; personal data, so its `Debug`
/// writes `[redacted]` too.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct ContactForm {
    /// The contact person's name (`contact.name`).
    pub name: Option<String>,
    /// The contact person's e-mail address (`contact.email`).
    pub email: Option<String>,
    /// The contact person's phone number (`contact.phone`).
    pub phone: Option<String>,
}

impl ContactForm {
    /// The checked contact, or every failing field (`contact.name`, `contact.email`,
    /// `contact.phone`).
    pub fn parse(self) -> Result<Contact, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let contact = self.parse_into(&mut errors);
        match contact {
            Some(contact) if errors.is_empty() => Ok(contact),
            _ => Err(errors),
        }
    }

    /// Checks every field, recording the failures in `errors`.
    pub(crate) fn parse_into(self, errors: &mut ValidationErrors) -> Option<Contact> {
        let name = errors.check(
            "contact.name",
            text::required(self.name.as_deref(), limits::NAME_CHARS, Lines::One),
        );
        let email = errors.check(
            "contact.email",
            self.email
                .as_deref()
                .ok_or(Problem::Required)
                .and_then(EmailAddress::parse),
        );
        let phone = errors.check(
            "contact.phone",
            match self.phone.as_deref() {
                Some(phone) if !phone.trim().is_empty() => PhoneNumber::parse(phone).map(Some),
                _ => Ok(None),
            },
        );
        Some(Contact {
            name: name?,
            email: email?,
            phone: phone?,
        })
    }
}

impl fmt::Debug for ContactForm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// An e-mail address of the accepted shape (see the module). Personal data.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EmailAddress(String);

impl EmailAddress {
    /// Reads an e-mail address, trimmed.
    pub fn parse(input: &str) -> Result<Self, Problem> {
        let address = input.trim();
        if address.is_empty() {
            return Err(Problem::Blank);
        }
        if address.chars().count() > limits::EMAIL_CHARS {
            return Err(Problem::TooLong {
                max: limits::EMAIL_CHARS,
            });
        }
        let (local, host) = address.split_once('@').ok_or(Problem::Email)?;
        let local_ok = (1..=limits::EMAIL_LOCAL_CHARS).contains(&local.chars().count())
            && !local
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '@' | '<' | '>'));
        if !local_ok || !is_host_name(host) {
            return Err(Problem::Email);
        }
        Ok(Self(address.to_owned()))
    }

    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl TryFrom<String> for EmailAddress {
    type Error = Problem;

    fn try_from(address: String) -> Result<Self, Self::Error> {
        Self::parse(&address)
    }
}

impl From<EmailAddress> for String {
    fn from(address: EmailAddress) -> Self {
        address.0
    }
}

/// A phone number of the accepted shape (see the module), as written. Personal data.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PhoneNumber(String);

impl PhoneNumber {
    /// Reads a phone number, trimmed.
    pub fn parse(input: &str) -> Result<Self, Problem> {
        let number = input.trim();
        if number.is_empty() {
            return Err(Problem::Blank);
        }
        if number.chars().count() > limits::PHONE_CHARS {
            return Err(Problem::TooLong {
                max: limits::PHONE_CHARS,
            });
        }
        let body = number.strip_prefix('+').unwrap_or(number);
        let shape_ok = body
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '.' | '-' | '/' | '(' | ')'));
        let digits = body.chars().filter(char::is_ascii_digit).count();
        if !shape_ok || !(limits::PHONE_MIN_DIGITS..=limits::PHONE_MAX_DIGITS).contains(&digits) {
            return Err(Problem::Phone);
        }
        Ok(Self(number.to_owned()))
    }

    /// The number as written, trimmed.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl TryFrom<String> for PhoneNumber {
    type Error = Problem;

    fn try_from(number: String) -> Result<Self, Self::Error> {
        Self::parse(&number)
    }
}

impl From<PhoneNumber> for String {
    fn from(number: PhoneNumber) -> Self {
        number.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(name: &str, email: &str, phone: Option<&str>) -> ContactForm {
        ContactForm {
            name: Some(name.to_owned()),
            email: Some(email.to_owned()),
            phone: phone.map(str::to_owned),
        }
    }

    #[test]
    fn a_valid_contact_keeps_its_fields_trimmed() {
        let contact = form(
            " Amina Diallo ",
            "amina@ressourcerie.example ",
            Some("+32 2 123 45 67"),
        )
        .parse()
        .expect("valid contact");
        assert_eq!(contact.name(), "Amina Diallo");
        assert_eq!(contact.email().as_str(), "amina@ressourcerie.example");
        assert_eq!(
            contact.phone().map(PhoneNumber::as_str),
            Some("+32 2 123 45 67")
        );
    }

    #[test]
    fn debug_never_shows_personal_data() {
        let contact = form(
            "Amina Diallo",
            "amina@ressourcerie.example",
            Some("02/123.45.67"),
        )
        .parse()
        .expect("valid contact");
        for printed in [
            format!("{contact:?}"),
            format!("{contact:#?}"),
            format!("{:?}", contact.email()),
            format!("{:?}", contact.phone()),
            format!("{:?}", form("Amina Diallo", "amina@x.example", None)),
        ] {
            assert!(!printed.contains("Amina"), "{printed}");
            assert!(!printed.contains("amina"), "{printed}");
            assert!(!printed.contains("123"), "{printed}");
            assert!(printed.contains("[redacted]"), "{printed}");
        }
    }

    #[test]
    fn every_failing_field_is_named() {
        let errors = form(" ", "amina.example", Some("call me"))
            .parse()
            .expect_err("invalid");
        assert_eq!(
            errors
                .iter()
                .map(|e| (e.field, e.problem.code()))
                .collect::<Vec<_>>(),
            [
                ("contact.name", "blank"),
                ("contact.email", "invalid_email"),
                ("contact.phone", "invalid_phone")
            ]
        );
        let errors = ContactForm::default().parse().expect_err("empty");
        assert_eq!(
            errors.fields().collect::<Vec<_>>(),
            ["contact.name", "contact.email"]
        );
    }

    #[test]
    fn messages_never_repeat_the_value() {
        let errors = form("Amina\nDiallo", "amina diallo@example.be", Some("+32 abc"))
            .parse()
            .expect_err("invalid");
        let message = errors.to_string();
        assert!(
            !message.contains("Amina") && !message.contains("amina"),
            "{message}"
        );
    }

    #[test]
    fn e_mail_shapes() {
        for ok in [
            "a@b.be",
            "first.last+cluster@hub.brussels",
            "x@sub.domain.example",
        ] {
            assert!(EmailAddress::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "a@b",
            "@b.be",
            "a@@b.be",
            "a b@c.be",
            "a@b .be",
            "a@localhost",
            "a@1.2.3.4",
        ] {
            assert_eq!(EmailAddress::parse(bad), Err(Problem::Email), "{bad}");
        }
        let long_local = format!("{}@b.be", "a".repeat(limits::EMAIL_LOCAL_CHARS + 1));
        assert_eq!(EmailAddress::parse(&long_local), Err(Problem::Email));
    }

    #[test]
    fn phone_shapes() {
        for ok in [
            "02 123 45 67",
            "+32 (0)2 123.45.67",
            "0470/12-34-56",
            "+3221234567",
        ] {
            assert!(PhoneNumber::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "12345",
            "+32 2 123 45 67 89 01 23",
            "02 123 45 67 ext 4",
            "++32212345",
            "32+2123456",
        ] {
            assert_eq!(PhoneNumber::parse(bad), Err(Problem::Phone), "{bad}");
        }
    }

    #[test]
    fn a_contact_round_trips_through_json_and_is_checked_when_read() {
        let contact = form("Amina Diallo", "amina@ressourcerie.example", None)
            .parse()
            .expect("valid contact");
        let json = serde_json::to_value(&contact).expect("serialises");
        assert_eq!(
            json,
            serde_json::json!({"name": "Amina Diallo", "email": "amina@ressourcerie.example"})
        );
        let read: Contact = serde_json::from_value(json).expect("reads back");
        assert_eq!(read, contact);
        assert!(
            serde_json::from_value::<Contact>(serde_json::json!({"name": "A", "email": "nope"}))
                .is_err()
        );
    }
}
