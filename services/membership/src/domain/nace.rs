//! The NACE-BEL activity code of a member's sector, checked for shape.
//!
//! # Accepted shapes
//!
//! | level | shape | example | stored as |
//! | --- | --- | --- | --- |
//! | section | one letter A to V | `E`, `e` | `E` |
//! | division | two digits | `38` | `38` |
//! | group | division, dot, one digit | `38.1`, `381` | `38.1` |
//! | class | division, dot, two digits | `38.11`, `3811` | `38.11` |
//! | subclass (NACE-BEL) | division, dot, three digits | `38.110`, `38110` | `38.110` |
//!
//! Surrounding spaces are ignored; digits without the dot (as in many exports of the
//! Crossroads Bank for Enterprises) are stored with it, so one sector has one spelling.
//! Sections run to V so that codes of NACE-BEL 2025 (NACE Rev. 2.1) are accepted beside
//! those of NACE-BEL 2008. Only the shape is checked, not that the code exists in one
//! edition of the nomenclature: the list changes between editions and a member's code
//! may come from either.

use std::fmt;
use std::str::FromStr;

/// A NACE-BEL code of the accepted shape, normalised (see the module).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NaceCode(String);

/// How fine a NACE code is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NaceLevel {
    /// A letter, e.g. `E` (water supply, waste management).
    Section,
    /// Two digits, e.g. `38` (waste collection, treatment and disposal; materials
    /// recovery).
    Division,
    /// Three digits, e.g. `38.1`.
    Group,
    /// Four digits, e.g. `38.11`.
    Class,
    /// Five digits, the Belgian refinement, e.g. `38.110`.
    Subclass,
}

impl NaceCode {
    /// Reads a NACE code in any accepted shape (see the module).
    pub fn parse(input: &str) -> Result<Self, NaceCodeError> {
        let code = input.trim();
        if code.is_empty() {
            return Err(NaceCodeError::Empty);
        }
        let mut chars = code.chars();
        if let (Some(letter), None) = (chars.next(), chars.next()) {
            if letter.is_ascii_alphabetic() {
                let section = letter.to_ascii_uppercase();
                return if ('A'..='V').contains(&section) {
                    Ok(Self(section.to_string()))
                } else {
                    Err(NaceCodeError::UnknownSection)
                };
            }
        }
        let (division, rest) = match code.split_once('.') {
            Some((division, rest)) if !rest.is_empty() => (division, rest),
            Some(_) => return Err(NaceCodeError::Shape),
            None => (code.get(..2).ok_or(NaceCodeError::Shape)?, &code[2..]),
        };
        let all_digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
        if division.len() != 2 || !all_digits(division) || rest.len() > 3 || !all_digits(rest) {
            return Err(NaceCodeError::Shape);
        }
        if rest.is_empty() {
            Ok(Self(division.to_owned()))
        } else {
            Ok(Self(format!("{division}.{rest}")))
        }
    }

    /// The normalised code, e.g. `38.11`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// How fine the code is.
    pub fn level(&self) -> NaceLevel {
        match self.0.len() {
            1 => NaceLevel::Section,
            2 => NaceLevel::Division,
            4 => NaceLevel::Group,
            5 => NaceLevel::Class,
            _ => NaceLevel::Subclass,
        }
    }

    /// The two-digit division, e.g. 38 for `38.11`; `None` for a section.
    pub fn division(&self) -> Option<u8> {
        self.0.get(..2).and_then(|digits| digits.parse().ok())
    }
}

impl fmt::Display for NaceCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for NaceCode {
    type Err = NaceCodeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl From<NaceCode> for String {
    fn from(code: NaceCode) -> Self {
        code.0
    }
}

/// Why a text is not a NACE-BEL code of an accepted shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NaceCodeError {
    /// Nothing but spaces.
    #[error("must not be blank")]
    Empty,
    /// A single letter after V.
    #[error("must be a section letter from A to V")]
    UnknownSection,
    /// Neither a section letter nor a division with an optional group, class or
    /// subclass.
    #[error(
        "must be a NACE-BEL code: a section letter (E), or two digits optionally followed \
         by a dot and one to three digits (38, 38.1, 38.11, 38.110)"
    )]
    Shape,
}

impl NaceCodeError {
    /// The stable, machine-readable code of the error.
    pub fn code(&self) -> &'static str {
        match self {
            NaceCodeError::Empty => "blank",
            NaceCodeError::UnknownSection => "unknown_nace_section",
            NaceCodeError::Shape => "invalid_nace_code",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_every_level_and_normalises_it() {
        for (input, stored, level) in [
            ("E", "E", NaceLevel::Section),
            (" v ", "V", NaceLevel::Section),
            ("38", "38", NaceLevel::Division),
            ("38.1", "38.1", NaceLevel::Group),
            ("381", "38.1", NaceLevel::Group),
            ("38.11", "38.11", NaceLevel::Class),
            ("3811", "38.11", NaceLevel::Class),
            ("38.110", "38.110", NaceLevel::Subclass),
            ("38110", "38.110", NaceLevel::Subclass),
            ("01.110", "01.110", NaceLevel::Subclass),
        ] {
            let code = NaceCode::parse(input).expect(input);
            assert_eq!(code.as_str(), stored, "{input}");
            assert_eq!(code.level(), level, "{input}");
        }
        assert_eq!(
            NaceCode::parse("38.32").ok().and_then(|c| c.division()),
            Some(38)
        );
        assert_eq!(NaceCode::parse("E").ok().and_then(|c| c.division()), None);
    }

    #[test]
    fn refuses_other_shapes() {
        for input in [
            "3", "38.", ".38", "38.1111", "381111", "38.1.1", "E38", "3a.11", "38 11", "38,11",
            "AB", "٣٨",
        ] {
            assert_eq!(
                NaceCode::parse(input),
                Err(NaceCodeError::Shape),
                "{input:?}"
            );
        }
        assert_eq!(NaceCode::parse("  "), Err(NaceCodeError::Empty));
        assert_eq!(NaceCode::parse("W"), Err(NaceCodeError::UnknownSection));
    }

    proptest! {
        #[test]
        fn a_normalised_code_parses_to_itself(input in "[A-Va-v]|[0-9]{2}(\\.?[0-9]{1,3})?") {
            let code = NaceCode::parse(&input).expect("an accepted shape");
            prop_assert_eq!(NaceCode::parse(code.as_str()), Ok(code.clone()));
        }

        #[test]
        fn parsing_never_panics(input in ".{0,8}") {
            let _ = NaceCode::parse(&input);
        }
    }
}
