//! The bounds on what an activity may hold, so that a view, a report or a printed
//! programme stays readable and one request cannot grow the log without end. Lengths
//! count characters (Unicode scalar values), after surrounding spaces are trimmed.

/// The title of an activity.
pub const TITLE_CHARS: usize = 200;
/// The theme of an activity.
pub const THEME_CHARS: usize = 500;
/// Where a session takes place: an address, a venue, an online meeting's address.
pub const LOCATION_CHARS: usize = 300;
/// The coordinator's reason for cancelling a session or an activity.
pub const REASON_CHARS: usize = 1000;
/// The description of an outcome.
pub const OUTCOME_DESCRIPTION_CHARS: usize = 4000;

/// The most places an activity may have: far above any room or campaign of the cluster,
/// low enough that one activity's registrations stay a small aggregate.
pub const MAX_CAPACITY: u32 = 10_000;
/// The most sessions an activity may hold, cancelled ones included (a collective
/// accompaniment of 2018 had six).
pub const MAX_SESSIONS: usize = 100;
/// The longest a session may last, in days: a training or a meeting lasts hours, a
/// promotion campaign towards the public may run for a month.
pub const MAX_SESSION_DAYS: i64 = 31;
/// How many years before and after its programme year a session may take place: a
/// programme's activity may be prepared the year before and spill over into the next,
/// but a session ten years away is a typing error.
pub const PROGRAMME_MARGIN_YEARS: i32 = 1;
/// The most members one attendance record or one outcome may name.
pub const MAX_MEMBERS_PER_RECORD: usize = 1000;
/// The most jobs one outcome may record as created.
pub const MAX_JOBS_CREATED: u32 = 100_000;
