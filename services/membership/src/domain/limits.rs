//! The bounds on what a member's record may hold, so that a view, an e-mail or a report
//! stays readable and one request cannot grow the log without end. Lengths count
//! characters (Unicode scalar values), after surrounding spaces are trimmed.

/// An organisation's name, and a contact person's name.
pub const NAME_CHARS: usize = 200;
/// The municipality of a member's seat.
pub const MUNICIPALITY_CHARS: usize = 100;
/// A website address.
pub const WEBSITE_CHARS: usize = 2048;
/// The short description of a member's circular offer.
pub const OFFER_SUMMARY_CHARS: usize = 1000;
/// The coordinator's reason for a transition (admission, rejection, ...).
pub const REASON_CHARS: usize = 1000;
/// The title of a published offer.
pub const OFFER_TITLE_CHARS: usize = 200;
/// The description of a published offer.
pub const OFFER_DESCRIPTION_CHARS: usize = 4000;
/// The name of the advisor who gave an accompaniment.
pub const ADVISOR_CHARS: usize = 200;
/// The topic of an accompaniment.
pub const TOPIC_CHARS: usize = 500;
/// An e-mail address (RFC 5321 path limit).
pub const EMAIL_CHARS: usize = 254;
/// The local part of an e-mail address, before the `@` (RFC 5321).
pub const EMAIL_LOCAL_CHARS: usize = 64;
/// A phone number as written, separators included.
pub const PHONE_CHARS: usize = 32;
/// The fewest digits of a phone number (short Belgian service numbers excluded).
pub const PHONE_MIN_DIGITS: usize = 6;
/// The most digits of a phone number (E.164).
pub const PHONE_MAX_DIGITS: usize = 15;
/// The longest accompaniment one record may hold: one session takes place on one day.
pub const ACCOMPANIMENT_HOURS: f64 = 24.0;
