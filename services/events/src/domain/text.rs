//! The rules every free-text field follows: trimmed, bounded, one line unless it is a
//! description. A blank optional text means "none", so a form's `""` and `null` agree.

use super::error::Problem;

/// Whether a text may span several lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Lines {
    /// A name, a title: no control character at all.
    One,
    /// A description or a reason: line breaks and tabs allowed.
    Many,
}

/// The text, trimmed, when it is not blank, at most `max` characters and free of
/// control characters (but line breaks and tabs when `lines` is [`Lines::Many`]).
pub(crate) fn bounded(text: &str, max: usize, lines: Lines) -> Result<String, Problem> {
    let text = text.trim();
    if text.is_empty() {
        return Err(Problem::Blank);
    }
    if text.chars().count() > max {
        return Err(Problem::TooLong { max });
    }
    let allowed = |c: char| lines == Lines::Many && matches!(c, '\n' | '\r' | '\t');
    if text.chars().any(|c| c.is_control() && !allowed(c)) {
        return Err(Problem::ControlCharacter);
    }
    Ok(text.to_owned())
}

/// A required text: missing is [`Problem::Required`], else as [`bounded`].
pub(crate) fn required(text: Option<&str>, max: usize, lines: Lines) -> Result<String, Problem> {
    bounded(text.ok_or(Problem::Required)?, max, lines)
}

/// An optional text: missing or blank is `None`, else as [`bounded`].
pub(crate) fn optional(
    text: Option<&str>,
    max: usize,
    lines: Lines,
) -> Result<Option<String>, Problem> {
    match text {
        Some(text) if !text.trim().is_empty() => bounded(text, max, lines).map(Some),
        _ => Ok(None),
    }
}

/// The value among `all` whose wire name is `name`, or the list of accepted names.
pub(crate) fn one_of<T: Copy>(
    name: Option<&str>,
    all: &[T],
    wire_name: fn(T) -> &'static str,
) -> Result<T, Problem> {
    let name = name.ok_or(Problem::Required)?;
    all.iter()
        .copied()
        .find(|value| wire_name(*value) == name.trim())
        .ok_or_else(|| Problem::UnknownValue {
            allowed: all.iter().copied().map(wire_name).collect(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_trimmed_bounded_and_single_line_unless_allowed() {
        assert_eq!(
            bounded("  Repair Café ", 20, Lines::One),
            Ok("Repair Café".to_owned())
        );
        assert_eq!(bounded(" \t ", 20, Lines::One), Err(Problem::Blank));
        assert_eq!(
            bounded("ééé", 2, Lines::One),
            Err(Problem::TooLong { max: 2 })
        );
        assert_eq!(bounded("ééé", 3, Lines::One).map(|t| t.len()), Ok(6));
        assert_eq!(
            bounded("a\nb", 20, Lines::One),
            Err(Problem::ControlCharacter)
        );
        assert_eq!(bounded("a\nb", 20, Lines::Many), Ok("a\nb".to_owned()));
        assert_eq!(
            bounded("a\u{7}b", 20, Lines::Many),
            Err(Problem::ControlCharacter)
        );
        assert_eq!(optional(Some("  "), 20, Lines::One), Ok(None));
        assert_eq!(optional(None, 20, Lines::One), Ok(None));
        assert_eq!(required(None, 20, Lines::One), Err(Problem::Required));
    }
}
