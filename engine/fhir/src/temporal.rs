//! FHIR `date`, `dateTime` and `time`, keeping the precision they were given at.
//!
//! A patient who says "1998" for when a condition started has told us the year
//! and nothing more; writing back `1998-01-01` would invent a day. So a date is
//! year plus optional month and day, and comparisons between values of
//! different precision are *indeterminate* (`None`), as in FHIRPath.

use std::cmp::Ordering;
use std::fmt;

use crate::json::{Cx, FromJson, Json, JsonRef, ModelError, ModelErrorKind, ToJson};

/// A calendar date at year, year-month or full precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Date {
    pub year: i32,
    pub month: Option<u8>,
    pub day: Option<u8>,
}

/// How precisely a date or time was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Precision {
    Year,
    Month,
    Day,
    Minute,
    Second,
}

impl Date {
    pub fn ymd(year: i32, month: u8, day: u8) -> Self {
        Date { year, month: Some(month), day: Some(day) }
    }

    pub fn precision(&self) -> Precision {
        match (self.month, self.day) {
            (None, _) => Precision::Year,
            (Some(_), None) => Precision::Month,
            (Some(_), Some(_)) => Precision::Day,
        }
    }

    /// Parse `YYYY`, `YYYY-MM` or `YYYY-MM-DD`, checking the calendar.
    pub fn parse(s: &str) -> Option<Date> {
        let b = s.as_bytes();
        if b.len() < 4 || !b[..4].iter().all(u8::is_ascii_digit) {
            return None;
        }
        let year: i32 = s[..4].parse().ok()?;
        match b.len() {
            4 => Some(Date { year, month: None, day: None }),
            7 if b[4] == b'-' => {
                let month = two_digits(&b[5..7])?;
                (1..=12).contains(&month).then_some(Date { year, month: Some(month), day: None })
            }
            10 if b[4] == b'-' && b[7] == b'-' => {
                let month = two_digits(&b[5..7])?;
                let day = two_digits(&b[8..10])?;
                ((1..=12).contains(&month) && day >= 1 && day <= days_in_month(year, month))
                    .then_some(Date { year, month: Some(month), day: Some(day) })
            }
            _ => None,
        }
    }

    /// Compare at the shared precision; `None` when the precisions differ and
    /// the shared part is equal (we cannot tell which is earlier).
    pub fn partial_cmp_fhir(&self, other: &Date) -> Option<Ordering> {
        match self.year.cmp(&other.year) {
            Ordering::Equal => {}
            o => return Some(o),
        }
        match (self.month, other.month) {
            (Some(a), Some(b)) if a != b => return Some(a.cmp(&b)),
            (Some(_), Some(_)) => {}
            (None, None) => return Some(Ordering::Equal),
            _ => return None,
        }
        match (self.day, other.day) {
            (Some(a), Some(b)) => Some(a.cmp(&b)),
            (None, None) => Some(Ordering::Equal),
            _ => None,
        }
    }

    /// Days since 1970-01-01 of the first day this date covers.
    pub fn days_from_epoch(&self) -> i64 {
        days_from_civil(self.year, self.month.unwrap_or(1), self.day.unwrap_or(1))
    }

    /// Whole years from `self` to `on` (age on a date). `None` if `self` is only a year
    /// and `on` falls in a year where the answer depends on the unknown month.
    pub fn whole_years_until(&self, on: &Date) -> i64 {
        let mut years = (on.year - self.year) as i64;
        let (m, d) = (self.month.unwrap_or(1), self.day.unwrap_or(1));
        let (om, od) = (on.month.unwrap_or(1), on.day.unwrap_or(1));
        if (om, od) < (m, d) {
            years -= 1;
        }
        years
    }

    /// Whole months from `self` to `on`.
    pub fn whole_months_until(&self, on: &Date) -> i64 {
        let mut months = (on.year - self.year) as i64 * 12 + on.month.unwrap_or(1) as i64 - self.month.unwrap_or(1) as i64;
        if on.day.unwrap_or(1) < self.day.unwrap_or(1) {
            months -= 1;
        }
        months
    }

    /// The date `days` after this full date (negative goes back).
    pub fn plus_days(&self, days: i64) -> Date {
        let (y, m, d) = civil_from_days(self.days_from_epoch() + days);
        Date::ymd(y, m, d)
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}", self.year)?;
        if let Some(m) = self.month {
            write!(f, "-{m:02}")?;
            if let Some(d) = self.day {
                write!(f, "-{d:02}")?;
            }
        }
        Ok(())
    }
}

/// A time of day, `hh:mm:ss` with an optional fraction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Time {
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
    /// Fractional seconds in nanoseconds.
    pub nanos: u32,
    /// How many fraction digits were written (0 = none), so `10:00:00.50` stays as written.
    pub frac_digits: u8,
}

impl Time {
    /// Parse `hh:mm:ss(.fff)`; `hh:mm` is accepted (HTML time inputs send it).
    pub fn parse(s: &str) -> Option<Time> {
        let b = s.as_bytes();
        if b.len() < 5 || b[2] != b':' {
            return None;
        }
        let hour = two_digits(&b[0..2])?;
        let minute = two_digits(&b[3..5])?;
        let (second, nanos, frac_digits) = if b.len() == 5 {
            (0, 0, 0)
        } else {
            if b.len() < 8 || b[5] != b':' {
                return None;
            }
            let second = two_digits(&b[6..8])?;
            let (nanos, digits) = if b.len() > 8 {
                let frac = &b[9..];
                if b[8] != b'.' || frac.is_empty() || frac.len() > 9 || !frac.iter().all(u8::is_ascii_digit) {
                    return None;
                }
                let mut nanos = 0u32;
                for i in 0..9 {
                    nanos = nanos * 10 + frac.get(i).map(|d| (d - b'0') as u32).unwrap_or(0);
                }
                (nanos, frac.len() as u8)
            } else {
                (0, 0)
            };
            (second, nanos, digits)
        };
        (hour < 24 && minute < 60 && second < 60).then_some(Time { hour, minute, second, nanos, frac_digits })
    }

    fn millis_of_day(&self) -> u32 {
        ((self.hour as u32 * 60 + self.minute as u32) * 60 + self.second as u32) * 1000 + self.nanos / 1_000_000
    }
}

impl PartialOrd for Time {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.millis_of_day().cmp(&other.millis_of_day()))
    }
}

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}:{:02}", self.hour, self.minute, self.second)?;
        if self.frac_digits > 0 {
            let digits = format!("{:09}", self.nanos);
            write!(f, ".{}", &digits[..self.frac_digits as usize])?;
        }
        Ok(())
    }
}

/// A FHIR `dateTime`: a date, optionally with a time and a zone offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DateTime {
    pub date: Date,
    pub time: Option<Time>,
    /// Offset from UTC in minutes; `None` when no zone was given.
    pub offset_minutes: Option<i16>,
    /// The zone was written `Z` (rather than `+00:00`); kept for a faithful round trip.
    pub zulu: bool,
}

impl DateTime {
    pub fn parse(s: &str) -> Option<DateTime> {
        let Some(t_at) = s.find('T') else {
            return Some(DateTime { date: Date::parse(s)?, time: None, offset_minutes: None, zulu: false });
        };
        let date = Date::parse(&s[..t_at])?;
        if date.day.is_none() {
            return None;
        }
        let rest = &s[t_at + 1..];
        let (time_str, offset) = if let Some(stripped) = rest.strip_suffix('Z') {
            (stripped, Some(0))
        } else if let Some(pos) = rest.rfind(['+', '-']) {
            let (t, z) = rest.split_at(pos);
            let zb = z.as_bytes();
            if zb.len() != 6 || zb[3] != b':' {
                return None;
            }
            let h = two_digits(&zb[1..3])? as i16;
            let m = two_digits(&zb[4..6])? as i16;
            if h > 14 || m > 59 {
                return None;
            }
            let sign = if zb[0] == b'-' { -1 } else { 1 };
            (t, Some(sign * (h * 60 + m)))
        } else {
            (rest, None)
        };
        let time = Time::parse(time_str)?;
        Some(DateTime { date, time: Some(time), offset_minutes: offset, zulu: rest.ends_with('Z') })
    }

    pub fn precision(&self) -> Precision {
        match self.time {
            None => self.date.precision(),
            Some(_) => Precision::Second,
        }
    }

    /// Milliseconds since the epoch in UTC (a missing zone is read as UTC).
    pub fn epoch_millis(&self) -> i64 {
        let days = self.date.days_from_epoch();
        let ms = self.time.map(|t| t.millis_of_day() as i64).unwrap_or(0);
        days * 86_400_000 + ms - self.offset_minutes.unwrap_or(0) as i64 * 60_000
    }

    /// Compare; `None` when the precisions differ and the shared part cannot decide.
    pub fn partial_cmp_fhir(&self, other: &DateTime) -> Option<Ordering> {
        match (self.time, other.time) {
            (Some(_), Some(_)) => Some(self.epoch_millis().cmp(&other.epoch_millis())),
            (None, None) => self.date.partial_cmp_fhir(&other.date),
            _ => match self.date.partial_cmp_fhir(&other.date) {
                Some(Ordering::Equal) | None => None,
                o => o,
            },
        }
    }

    /// The calendar date in the value's own zone.
    pub fn local_date(&self) -> Date {
        self.date
    }
}

impl fmt::Display for DateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.date)?;
        if let Some(t) = self.time {
            write!(f, "T{t}")?;
            match self.offset_minutes {
                Some(0) if self.zulu => f.write_str("Z")?,
                Some(off) => {
                    let sign = if off < 0 { '-' } else { '+' };
                    let a = off.unsigned_abs();
                    write!(f, "{sign}{:02}:{:02}", a / 60, a % 60)?;
                }
                None => {}
            }
        }
        Ok(())
    }
}

fn two_digits(b: &[u8]) -> Option<u8> {
    if b.len() == 2 && b[0].is_ascii_digit() && b[1].is_ascii_digit() {
        Some((b[0] - b'0') * 10 + (b[1] - b'0'))
    } else {
        None
    }
}

fn is_leap(y: i32) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

pub fn days_in_month(y: i32, m: u8) -> u8 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Howard Hinnant's days-from-civil.
fn days_from_civil(y: i32, m: u8, d: u8) -> i64 {
    let y = if m <= 2 { y as i64 - 1 } else { y as i64 };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i32, u8, u8) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    ((if m <= 2 { y + 1 } else { y }) as i32, m, d)
}

macro_rules! string_primitive {
    ($ty:ident, $what:literal) => {
        impl FromJson for $ty {
            fn from_node(v: JsonRef<'_>, cx: &mut Cx) -> Result<Self, ModelError> {
                match v.as_str() {
                    Some(s) => $ty::parse(s.trim()).ok_or_else(|| {
                        cx.error(ModelErrorKind::Invalid { expected: $what, value: s.to_owned() })
                    }),
                    None => Err(cx.wrong_node(concat!("a ", $what, " string"), v)),
                }
            }
        }
        impl ToJson for $ty {
            fn to_json(&self) -> Json {
                Json::String(self.to_string())
            }
        }
        impl crate::json::WriteJson for $ty {
            fn write_json(&self, out: &mut String) {
                use std::fmt::Write;
                out.push('"');
                let _ = write!(out, "{self}");
                out.push('"');
            }
        }
    };
}

string_primitive!(Date, "date");
string_primitive!(DateTime, "dateTime");
string_primitive!(Time, "time");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_keep_precision() {
        for s in ["1998", "1998-07", "1998-07-04"] {
            assert_eq!(Date::parse(s).map(|d| d.to_string()).as_deref(), Some(s));
        }
        assert_eq!(Date::parse("1998-02-30"), None);
        assert_eq!(Date::parse("2024-02-29").map(|d| d.day), Some(Some(29)));
        assert_eq!(Date::parse("2023-02-29"), None);
        assert_eq!(Date::parse("98-01-01"), None);
        assert_eq!(Date::parse("1998-13"), None);
    }

    #[test]
    fn mixed_precision_compare_is_indeterminate() {
        let y = Date::parse("2020").unwrap();
        let ym = Date::parse("2020-05").unwrap();
        let other = Date::parse("2021-01").unwrap();
        assert_eq!(y.partial_cmp_fhir(&ym), None);
        assert_eq!(ym.partial_cmp_fhir(&other), Some(Ordering::Less));
        assert_eq!(y.partial_cmp_fhir(&other), Some(Ordering::Less));
    }

    #[test]
    fn date_times_with_zones() {
        let a = DateTime::parse("2024-03-01T10:00:00+02:00").unwrap();
        let b = DateTime::parse("2024-03-01T08:00:00Z").unwrap();
        assert_eq!(a.partial_cmp_fhir(&b), Some(Ordering::Equal));
        assert_eq!(a.to_string(), "2024-03-01T10:00:00+02:00");
        assert_eq!(DateTime::parse("2024-03-01T10:00:00.5Z").unwrap().to_string(), "2024-03-01T10:00:00.5Z");
        assert_eq!(DateTime::parse("2024-03-01T10:00:00+00:00").unwrap().to_string(), "2024-03-01T10:00:00+00:00");
        assert!(DateTime::parse("2024-03T10:00:00Z").is_none());
        assert!(DateTime::parse("2024-03-01T25:00:00Z").is_none());
    }

    #[test]
    fn ages() {
        let born = Date::parse("2018-05-22").unwrap();
        assert_eq!(born.whole_years_until(&Date::parse("2026-05-21").unwrap()), 7);
        assert_eq!(born.whole_years_until(&Date::parse("2026-05-22").unwrap()), 8);
        assert_eq!(born.whole_months_until(&Date::parse("2018-11-21").unwrap()), 5);
        assert_eq!(Date::ymd(2024, 2, 28).plus_days(2), Date::ymd(2024, 3, 1));
        assert_eq!(Date::ymd(1970, 1, 1).days_from_epoch(), 0);
    }

    #[test]
    fn times() {
        assert_eq!(Time::parse("07:30").unwrap().to_string(), "07:30:00");
        assert!(Time::parse("24:00:00").is_none());
        assert!(Time::parse("7:30").is_none());
    }
}
