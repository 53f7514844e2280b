//! The Belgian enterprise number (numéro d'entreprise / ondernemingsnummer), parsed once
//! at the edge and valid wherever it is held.
//!
//! # Rules
//!
//! - Ten digits; the first is 0 or 1.
//! - The last two digits are the check digits of the first eight:
//!   `97 - (first eight digits mod 97)` (so 01 to 97).
//! - Accepted spellings: `0123.456.749`, `0123456749`, `0123 456 749`, with surrounding
//!   spaces, and with the `BE` prefix of the VAT number (`BE0123456749`,
//!   `BE 0123.456.749`, any case), because members copy their number from an invoice as
//!   often as from the Crossroads Bank for Enterprises. Dots and spaces between digits
//!   are ignored; any other character is refused.
//! - Held normalised as the ten digits, the wire form of the contracts'
//!   [`EnterpriseNumber`](wire::EnterpriseNumber).
//!
//! A nine-digit number of the old VAT register is refused, not padded: the error says to
//! write the leading 0, so the member sees the number that will be recorded.

use std::fmt;
use std::str::FromStr;

use circlemade_contracts::membership as wire;

/// A valid Belgian enterprise number: ten digits, first 0 or 1, check digits right.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EnterpriseNumber(String);

impl EnterpriseNumber {
    /// Reads an enterprise number in any of the accepted spellings (see the module).
    pub fn parse(input: &str) -> Result<Self, EnterpriseNumberError> {
        let trimmed = input.trim();
        let unprefixed = match trimmed.get(..2) {
            Some(prefix) if prefix.eq_ignore_ascii_case("BE") => trimmed[2..].trim_start(),
            _ => trimmed,
        };
        let mut digits = String::with_capacity(10);
        for character in unprefixed.chars() {
            match character {
                '0'..='9' => digits.push(character),
                '.' | ' ' => {}
                other => return Err(EnterpriseNumberError::NotADigit { character: other }),
            }
        }
        if digits.len() != 10 {
            return Err(EnterpriseNumberError::WrongLength {
                digits: digits.len(),
            });
        }
        if !digits.starts_with(['0', '1']) {
            return Err(EnterpriseNumberError::FirstDigit);
        }
        // Every byte is an ASCII digit, checked above.
        let value = |digits: &str| {
            digits
                .bytes()
                .fold(0u32, |value, digit| value * 10 + u32::from(digit - b'0'))
        };
        let (prefix, check) = digits.split_at(8);
        let (prefix, found) = (value(prefix), value(check));
        let expected = check_digits(prefix);
        if found != u32::from(expected) {
            return Err(EnterpriseNumberError::CheckDigits {
                expected,
                // Two digits: below 100.
                found: found as u8,
            });
        }
        Ok(Self(digits))
    }

    /// The valid number whose first eight digits are `prefix` (e.g. `1_234_567` gives
    /// `0123456749`), or `None` when `prefix` has more than eight digits or would make
    /// the first digit other than 0 or 1.
    pub fn from_prefix(prefix: u32) -> Option<Self> {
        if prefix >= 20_000_000 {
            return None;
        }
        Some(Self(format!("{prefix:08}{:02}", check_digits(prefix))))
    }

    /// The ten digits, the stored and wire form, e.g. `0123456749`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The number as it is usually printed, e.g. `0123.456.749`.
    pub fn formatted(&self) -> String {
        format!("{}.{}.{}", &self.0[..4], &self.0[4..7], &self.0[7..])
    }
}

/// The check digits of an eight-digit prefix: `97 - (prefix mod 97)`, from 1 to 97.
pub fn check_digits(prefix: u32) -> u8 {
    // Below 97, so it fits.
    (97 - prefix % 97) as u8
}

impl fmt::Display for EnterpriseNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for EnterpriseNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("EnterpriseNumber").field(&self.0).finish()
    }
}

impl FromStr for EnterpriseNumber {
    type Err = EnterpriseNumberError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl From<EnterpriseNumber> for wire::EnterpriseNumber {
    fn from(number: EnterpriseNumber) -> Self {
        wire::EnterpriseNumber::try_from(number.0)
            .expect("a parsed enterprise number is ten digits, the wire form")
    }
}

impl From<&EnterpriseNumber> for wire::EnterpriseNumber {
    fn from(number: &EnterpriseNumber) -> Self {
        number.clone().into()
    }
}

impl TryFrom<&wire::EnterpriseNumber> for EnterpriseNumber {
    type Error = EnterpriseNumberError;

    /// Checks the first digit and check digits, which the wire form does not.
    fn try_from(number: &wire::EnterpriseNumber) -> Result<Self, Self::Error> {
        Self::parse(number.as_str())
    }
}

impl PartialEq<wire::EnterpriseNumber> for EnterpriseNumber {
    fn eq(&self, other: &wire::EnterpriseNumber) -> bool {
        self.0 == other.as_str()
    }
}

/// Why a text is not a valid Belgian enterprise number.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EnterpriseNumberError {
    /// A character other than a digit, a dot or a space (after an optional `BE`).
    #[error("must contain only digits, dots and spaces, not {character:?}")]
    NotADigit {
        /// The first character refused.
        character: char,
    },
    /// Not ten digits.
    #[error("must have 10 digits, not {digits} (write an old 9-digit number with a leading 0)")]
    WrongLength {
        /// How many digits were given.
        digits: usize,
    },
    /// The first digit is neither 0 nor 1.
    #[error("must start with 0 or 1")]
    FirstDigit,
    /// The last two digits are not the check digits of the first eight.
    #[error("has wrong check digits: {found:02} instead of {expected:02}")]
    CheckDigits {
        /// The check digits the first eight digits call for.
        expected: u8,
        /// The last two digits given.
        found: u8,
    },
}

impl EnterpriseNumberError {
    /// The stable, machine-readable code of the error.
    pub fn code(&self) -> &'static str {
        match self {
            EnterpriseNumberError::NotADigit { .. } => "not_a_digit",
            EnterpriseNumberError::WrongLength { .. } => "wrong_length",
            EnterpriseNumberError::FirstDigit => "wrong_first_digit",
            EnterpriseNumberError::CheckDigits { .. } => "wrong_check_digits",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_the_usual_spellings_and_normalises_them() {
        for input in [
            "0123.456.749",
            "0123456749",
            "0123 456 749",
            "  0123.456.749 ",
            "BE0123456749",
            "BE 0123.456.749",
            "be0123.456.749",
        ] {
            let number = EnterpriseNumber::parse(input).expect(input);
            assert_eq!(number.as_str(), "0123456749", "{input}");
            assert_eq!(number.formatted(), "0123.456.749");
            assert_eq!(number.to_string(), "0123456749");
        }
    }

    #[test]
    fn accepts_numbers_starting_with_one_and_check_digits_97() {
        // 10000000 mod 97 = 76, so 97 - 76 = 21.
        assert!(EnterpriseNumber::parse("1000.000.021").is_ok());
        // A multiple of 97 has check digits 97.
        let prefix = 97 * 10_000;
        assert_eq!(check_digits(prefix), 97);
        let number = EnterpriseNumber::from_prefix(prefix).expect("eight digits, first 0");
        assert_eq!(number.as_str(), "0097000097");
        assert!(EnterpriseNumber::parse("0097.000.097").is_ok());
    }

    #[test]
    fn refuses_wrong_check_digits() {
        assert_eq!(
            EnterpriseNumber::parse("0123.456.748"),
            Err(EnterpriseNumberError::CheckDigits {
                expected: 49,
                found: 48
            })
        );
    }

    #[test]
    fn refuses_a_wrong_length() {
        assert_eq!(
            EnterpriseNumber::parse("123.456.749"),
            Err(EnterpriseNumberError::WrongLength { digits: 9 })
        );
        assert_eq!(
            EnterpriseNumber::parse("01234567490"),
            Err(EnterpriseNumberError::WrongLength { digits: 11 })
        );
        assert_eq!(
            EnterpriseNumber::parse(""),
            Err(EnterpriseNumberError::WrongLength { digits: 0 })
        );
        assert_eq!(
            EnterpriseNumber::parse("BE"),
            Err(EnterpriseNumberError::WrongLength { digits: 0 })
        );
    }

    #[test]
    fn refuses_other_characters() {
        assert_eq!(
            EnterpriseNumber::parse("0123-456-749"),
            Err(EnterpriseNumberError::NotADigit { character: '-' })
        );
        assert_eq!(
            EnterpriseNumber::parse("NL0123456749"),
            Err(EnterpriseNumberError::NotADigit { character: 'N' })
        );
        assert_eq!(
            EnterpriseNumber::parse("０123456749"),
            Err(EnterpriseNumberError::NotADigit { character: '０' })
        );
    }

    #[test]
    fn refuses_a_first_digit_other_than_zero_or_one() {
        // Right check digits, wrong first digit.
        let prefix: u32 = 21_234_567;
        let input = format!("{prefix}{:02}", check_digits(prefix));
        assert_eq!(
            EnterpriseNumber::parse(&input),
            Err(EnterpriseNumberError::FirstDigit)
        );
        assert_eq!(EnterpriseNumber::from_prefix(prefix), None);
    }

    #[test]
    fn converts_to_and_from_the_wire_form() {
        let number = EnterpriseNumber::parse("0123.456.749").expect("valid");
        let on_wire = wire::EnterpriseNumber::from(&number);
        assert_eq!(on_wire.as_str(), "0123456749");
        assert_eq!(number, on_wire);
        assert_eq!(EnterpriseNumber::try_from(&on_wire), Ok(number));
        let ten_digits_wrong_check: wire::EnterpriseNumber =
            "0123456748".parse().expect("ten digits");
        assert!(EnterpriseNumber::try_from(&ten_digits_wrong_check).is_err());
    }

    fn prefixes() -> impl Strategy<Value = u32> {
        0u32..20_000_000
    }

    proptest! {
        #[test]
        fn any_prefix_with_its_check_digits_parses(prefix in prefixes()) {
            let digits = format!("{prefix:08}{:02}", check_digits(prefix));
            let number = EnterpriseNumber::parse(&digits).expect("computed check digits");
            prop_assert_eq!(number.as_str(), digits.as_str());
            let dotted = format!("BE {}", number.formatted());
            prop_assert_eq!(EnterpriseNumber::parse(&dotted).ok(), Some(number.clone()));
            prop_assert_eq!(EnterpriseNumber::from_prefix(prefix), Some(number));
        }

        #[test]
        fn changing_any_single_digit_makes_it_invalid(
            prefix in prefixes(),
            position in 0usize..10,
            delta in 1u8..10,
        ) {
            let mut digits = format!("{prefix:08}{:02}", check_digits(prefix)).into_bytes();
            digits[position] = b'0' + (digits[position] - b'0' + delta) % 10;
            let changed = String::from_utf8(digits).expect("ASCII digits");
            prop_assert!(EnterpriseNumber::parse(&changed).is_err(), "{} parsed", changed);
        }

        #[test]
        fn wrong_check_digits_are_refused(prefix in prefixes(), check in 0u8..100) {
            prop_assume!(check != check_digits(prefix));
            let digits = format!("{prefix:08}{check:02}");
            prop_assert_eq!(
                EnterpriseNumber::parse(&digits),
                Err(EnterpriseNumberError::CheckDigits { expected: check_digits(prefix), found: check })
            );
        }

        #[test]
        fn parsing_never_panics(input in ".{0,24}") {
            let _ = EnterpriseNumber::parse(&input);
        }
    }
}
