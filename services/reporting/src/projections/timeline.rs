//! Domain time as the projections keep it: one `i64` of nanoseconds per fact, and the
//! year and month boundaries the reports cut time at.

use chrono::{DateTime, TimeZone, Utc};

/// A moment of domain time (a CloudEvent's `time`, or an `as_of`), in nanoseconds since
/// the Unix epoch: eight bytes per fact instead of a `DateTime`'s twelve, and compared
/// with one instruction.
///
/// Times beyond what nanoseconds in an `i64` hold (before 1677 or after 2262) are
/// clamped to the first or last representable moment, which keeps their order; the
/// value [`DomainTime::NEVER`] sits above every clamped time, so a fact that never
/// happened is never seen, whatever the `as_of`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct DomainTime(i64);

impl DomainTime {
    /// The earliest moment a fact can have.
    pub(crate) const MIN: DomainTime = DomainTime(i64::MIN + 1);
    /// The latest moment a fact can have.
    pub(crate) const MAX: DomainTime = DomainTime(i64::MAX - 1);
    /// Later than any fact: the time of something that has not happened.
    pub(crate) const NEVER: DomainTime = DomainTime(i64::MAX);

    /// The moment `time`, clamped to [`DomainTime::MIN`]..=[`DomainTime::MAX`].
    pub(crate) fn of(time: DateTime<Utc>) -> DomainTime {
        let nanos = time
            .timestamp_nanos_opt()
            .unwrap_or(if time.timestamp() < 0 {
                i64::MIN
            } else {
                i64::MAX
            });
        DomainTime(nanos.clamp(Self::MIN.0, Self::MAX.0))
    }

    /// Back to a `DateTime`, exact for every time that was not clamped.
    pub(crate) fn to_utc(self) -> DateTime<Utc> {
        DateTime::from_timestamp_nanos(self.0)
    }

    /// The last moment before this one: "as of the end of" a period that ends here.
    pub(crate) fn just_before(self) -> DomainTime {
        DomainTime(self.0.saturating_sub(1).max(Self::MIN.0))
    }

    /// The nanoseconds, for the canonical encoding.
    pub(crate) fn nanos(self) -> i64 {
        self.0
    }

    /// The 1st of `month` (1-12) of `year`, 00:00 UTC; the 1st of January of the next
    /// year for month 13.
    pub(crate) fn month_start(year: i32, month: u32) -> DomainTime {
        let (year, month) = if month > 12 {
            (year + 1, month - 12)
        } else {
            (year, month)
        };
        Utc.with_ymd_and_hms(year, month, 1, 0, 0, 0)
            .single()
            .map_or(DomainTime::MAX, DomainTime::of)
    }
}

/// The index just past the last entry of `entries` (sorted by time) whose time is at
/// or before `at`: the entries an `as_of` of `at` sees are `entries[..index]`.
pub(crate) fn seen_until<T>(
    entries: &[T],
    at: DomainTime,
    time: impl Fn(&T) -> DomainTime,
) -> usize {
    entries.partition_point(|entry| time(entry) <= at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_keep_their_order_and_round_trip() {
        let a = Utc
            .with_ymd_and_hms(2018, 5, 24, 10, 0, 0)
            .single()
            .expect("a date");
        let b = a + chrono::Duration::nanoseconds(1);
        assert!(DomainTime::of(a) < DomainTime::of(b));
        assert_eq!(DomainTime::of(b).to_utc(), b);
        assert_eq!(DomainTime::of(b).just_before(), DomainTime::of(a));
    }

    #[test]
    fn far_times_are_clamped_below_never() {
        let far = Utc
            .with_ymd_and_hms(9000, 1, 1, 0, 0, 0)
            .single()
            .expect("a date");
        let old = Utc
            .with_ymd_and_hms(1000, 1, 1, 0, 0, 0)
            .single()
            .expect("a date");
        assert_eq!(DomainTime::of(far), DomainTime::MAX);
        assert_eq!(DomainTime::of(old), DomainTime::MIN);
        assert!(DomainTime::of(far) < DomainTime::NEVER);
    }

    #[test]
    fn months_start_on_the_first_and_roll_over_the_year() {
        let december = DomainTime::month_start(2018, 12);
        let next = DomainTime::month_start(2018, 13);
        assert_eq!(december.to_utc().to_rfc3339(), "2018-12-01T00:00:00+00:00");
        assert_eq!(next.to_utc().to_rfc3339(), "2019-01-01T00:00:00+00:00");
        assert_eq!(
            next.just_before().to_utc().to_rfc3339(),
            "2018-12-31T23:59:59.999999999+00:00"
        );
    }

    #[test]
    fn an_as_of_sees_the_facts_at_or_before_it() {
        let facts = [DomainTime(1), DomainTime(3), DomainTime(3), DomainTime(7)];
        assert_eq!(seen_until(&facts, DomainTime(0), |t| *t), 0);
        assert_eq!(seen_until(&facts, DomainTime(3), |t| *t), 3);
        assert_eq!(seen_until(&facts, DomainTime(6), |t| *t), 3);
        assert_eq!(seen_until(&facts, DomainTime::MAX, |t| *t), 4);
    }
}
