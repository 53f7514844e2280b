//! The query parameters of the reports: `year`, `as_of`, and nothing else but the
//! kit's `min_position`. Parsed into typed values, or refused naming each field: 400
//! `malformed_query` for what cannot be read, 422 `validation_failed` for a value out
//! of range. Never a 500.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use circlemade_contracts::activity::Year;
use circlemade_kit::{FieldError, MIN_POSITION_PARAM, Problem};

/// What the reports take from the query string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ReportParams {
    /// `year`, if given.
    pub(crate) year: Option<Year>,
    /// `as_of`, or now.
    pub(crate) as_of: DateTime<Utc>,
}

impl ReportParams {
    /// The year asked for, or else the year of `as_of`.
    pub(crate) fn year_or_as_of(&self) -> Result<Year, Problem> {
        match self.year {
            Some(year) => Ok(year),
            None => Year::new(i64::from(self.as_of.year())).map_err(|_| {
                Problem::validation_failed([FieldError::new(
                    "year",
                    format!(
                        "is required when as_of is outside the years {}..={}",
                        Year::MIN,
                        Year::MAX
                    ),
                )
                .with_code("required")])
            }),
        }
    }
}

/// The parameters of a report with a year: `year`, `as_of`, `min_position`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct YearQuery(pub(crate) ReportParams);

/// The parameters of a report without a year: `as_of`, `min_position`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct AsOfQuery(pub(crate) DateTime<Utc>);

/// A query string with nothing but `min_position`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct NoQuery;

impl<S: Send + Sync> FromRequestParts<S> for NoQuery {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Problem> {
        parse(parts.uri.query().unwrap_or(""), &[]).map(|_| NoQuery)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for YearQuery {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Problem> {
        parse(parts.uri.query().unwrap_or(""), &["year", "as_of"]).map(YearQuery)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for AsOfQuery {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Problem> {
        parse(parts.uri.query().unwrap_or(""), &["as_of"]).map(|params| AsOfQuery(params.as_of))
    }
}

/// Why one parameter was refused.
enum Refusal {
    /// It cannot be read: 400.
    Malformed(FieldError),
    /// It is read but out of range: 422.
    Invalid(FieldError),
}

/// Reads `query` (without the `?`), which may name `allowed` and `min_position` once
/// each (the kit reads `min_position` itself).
pub(crate) fn parse(query: &str, allowed: &[&str]) -> Result<ReportParams, Problem> {
    let mut year = None;
    let mut as_of = None;
    let mut refusals = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        let (raw_name, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
        let name = decode(raw_name);
        let value = decode(raw_value);
        if name == MIN_POSITION_PARAM {
            continue;
        }
        if !allowed.contains(&name.as_str()) {
            refusals.push(Refusal::Malformed(
                FieldError::new(
                    name.clone(),
                    if allowed.is_empty() {
                        "is not a parameter of this route (it takes only min_position)".to_owned()
                    } else {
                        format!(
                            "is not a parameter of this route (it takes: {}, min_position)",
                            allowed.join(", ")
                        )
                    },
                )
                .with_code("unknown_parameter"),
            ));
            continue;
        }
        if seen.contains(&name) {
            refusals.push(Refusal::Malformed(
                FieldError::new(name.clone(), "is given more than once").with_code("repeated"),
            ));
            continue;
        }
        seen.push(name.clone());
        match name.as_str() {
            "year" => match parse_year(&value) {
                Ok(parsed) => year = Some(parsed),
                Err(refusal) => refusals.push(refusal),
            },
            _ => match parse_as_of(&value) {
                Ok(parsed) => as_of = Some(parsed),
                Err(refusal) => refusals.push(refusal),
            },
        }
    }
    if refusals.is_empty() {
        return Ok(ReportParams {
            year,
            as_of: as_of.unwrap_or_else(Utc::now),
        });
    }
    let malformed: Vec<FieldError> = refusals
        .iter()
        .filter_map(|refusal| match refusal {
            Refusal::Malformed(error) => Some(error.clone()),
            Refusal::Invalid(_) => None,
        })
        .collect();
    if malformed.is_empty() {
        return Err(Problem::validation_failed(refusals.into_iter().map(
            |refusal| match refusal {
                Refusal::Malformed(error) | Refusal::Invalid(error) => error,
            },
        )));
    }
    let fields: Vec<&str> = malformed.iter().map(|error| error.field.as_str()).collect();
    Err(Problem::bad_request(
        "malformed_query",
        format!("the query cannot be read: {}", fields.join(", ")),
    )
    .with_errors(malformed))
}

/// A programme year: a whole number from [`Year::MIN`] to [`Year::MAX`].
pub(crate) fn parse_year_text(text: &str) -> Result<Year, Problem> {
    parse_year(text).map_err(|refusal| match refusal {
        Refusal::Malformed(error) => {
            Problem::bad_request("malformed_year", format!("year {}", error.reason))
                .with_errors([error])
        }
        Refusal::Invalid(error) => Problem::validation_failed([error]),
    })
}

fn parse_year(text: &str) -> Result<Year, Refusal> {
    let text = text.trim();
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Refusal::Malformed(
            FieldError::new("year", "must be a year, e.g. 2018").with_code("not_a_year"),
        ));
    }
    let range = || {
        Refusal::Invalid(
            FieldError::new(
                "year",
                format!("must be from {} to {}", Year::MIN, Year::MAX),
            )
            .with_code("out_of_range"),
        )
    };
    let number = text.parse::<i64>().map_err(|_| range())?;
    Year::new(number).map_err(|_| range())
}

/// Reads an `as_of` as the reports do (see the private parser below): an RFC 3339
/// moment, or a day meaning the end of that day in UTC; else what is wrong with it.
pub fn parse_as_of_text(text: &str) -> Result<DateTime<Utc>, String> {
    parse_as_of(text).map_err(|refusal| match refusal {
        Refusal::Malformed(error) | Refusal::Invalid(error) => format!("as_of {}", error.reason),
    })
}

/// `as_of`: an RFC 3339 moment (`2018-06-30T12:00:00Z`, `2018-06-30T14:00:00+02:00`),
/// or a day (`2018-06-30`), which means the end of that day in UTC: everything dated
/// that day is seen.
fn parse_as_of(text: &str) -> Result<DateTime<Utc>, Refusal> {
    // A `+` of an offset arrives as a space when the client did not encode it.
    let text = text.trim().replace(' ', "+");
    let malformed = || {
        Refusal::Malformed(
            FieldError::new(
                "as_of",
                "must be an RFC 3339 moment (2018-06-30T12:00:00Z) or a day (2018-06-30)",
            )
            .with_code("not_a_moment"),
        )
    };
    let moment = if let Ok(day) = NaiveDate::parse_from_str(&text, "%Y-%m-%d") {
        day.and_hms_opt(0, 0, 0)
            .map(|midnight| midnight.and_utc())
            .and_then(|start| start.checked_add_signed(Duration::days(1)))
            .and_then(|next| next.checked_sub_signed(Duration::nanoseconds(1)))
            .ok_or_else(malformed)?
    } else {
        DateTime::parse_from_rfc3339(&text)
            .map_err(|_| malformed())?
            .to_utc()
    };
    // The reports keep nanoseconds in an i64: 1677 to 2262.
    if moment.timestamp_nanos_opt().is_none() {
        return Err(Refusal::Invalid(
            FieldError::new("as_of", "must be between the years 1678 and 2261")
                .with_code("out_of_range"),
        ));
    }
    Ok(moment)
}

/// Percent-decoding of a query component (`+` is a space).
fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                {
                    Some(byte) => {
                        out.push(byte);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(query: &str) -> Result<ReportParams, Problem> {
        parse(query, &["year", "as_of"])
    }

    #[test]
    fn a_year_and_a_moment_or_a_day_are_read() {
        let read =
            params("year=2018&as_of=2018-06-30T12:00:00%2B02:00&min_position=4").expect("valid");
        assert_eq!(read.year.map(Year::get), Some(2018));
        assert_eq!(read.as_of.to_rfc3339(), "2018-06-30T10:00:00+00:00");
        let unencoded = params("as_of=2018-06-30T12:00:00+02:00").expect("valid");
        assert_eq!(unencoded.as_of, read.as_of);
        let day = params("as_of=2018-06-30").expect("valid");
        assert_eq!(
            day.as_of.to_rfc3339(),
            "2018-06-30T23:59:59.999999999+00:00"
        );
        assert_eq!(day.year_or_as_of().map(Year::get).ok(), Some(2018));
    }

    #[test]
    fn unreadable_parameters_are_400_and_out_of_range_ones_422_each_named() {
        let problem = params("year=twenty&as_of=yesterday").expect_err("malformed");
        assert_eq!(problem.status().as_u16(), 400);
        assert_eq!(problem.code, "malformed_query");
        let fields: Vec<&str> = problem.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["year", "as_of"]);

        let problem = params("year=1999").expect_err("out of range");
        assert_eq!(problem.status().as_u16(), 422);
        assert_eq!(problem.errors[0].field, "year");
        let problem = params("year=99999999999999999999999").expect_err("out of range");
        assert_eq!(problem.status().as_u16(), 422);
        let problem = params("as_of=9999-01-01T00:00:00Z").expect_err("out of range");
        assert_eq!(problem.errors[0].field, "as_of");
        assert_eq!(problem.status().as_u16(), 422);

        for bad in [
            "colour=red",
            "year=2018&year=2019",
            "as_of=",
            "year=-1",
            "as_of=%ZZ",
        ] {
            let problem = params(bad).expect_err(bad);
            assert_eq!(problem.status().as_u16(), 400, "{bad}");
        }
        let composition = parse("year=2018", &["as_of"]).expect_err("no year here");
        assert_eq!(composition.errors[0].field, "year");
    }
}
