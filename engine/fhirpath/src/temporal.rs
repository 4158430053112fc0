//! Dates, date-times and times as FHIRPath defines them: partial precision, optional time zone,
//! comparison component by component (unknown where one value stops before the other decides),
//! calendar arithmetic with durations, and the `lowBoundary`/`highBoundary`/`precision` functions.
//!
//! Why not string comparison: `@2012-04-15T15:00:00+02:00 = @2012-04-15T16:00:00+03:00` is
//! true, `@2012-04-15T15:30:31 = @2012-04-15T15:30:31.0` is true, and `birthDate <
//! @1974-12-25T12:34` is unknown, not false. Forms compare ages and dates ("seen in the last
//! year") and need these answers.

use std::cmp::Ordering;

/// One date, date-time or time. Components past `prec` are zero and not significant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Moment {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub millis: u32,
    /// How many components are given: 1 year .. 3 day, 4 hour .. 7 millisecond. A time (no
    /// date) counts from 4.
    pub prec: u8,
    /// Offset from UTC in minutes, when the value says.
    pub tz: Option<i32>,
    /// A time of day, without a date.
    pub time_only: bool,
}

fn digits(s: &str, n: usize) -> Option<(u32, &str)> {
    if s.len() < n || !s.as_bytes()[..n].iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some((s[..n].parse().ok()?, &s[n..]))
}

impl Moment {
    /// Before parsing: the first instant, at the coarsest precision of its kind.
    fn start(time_only: bool) -> Moment {
        Moment { year: 0, month: 1, day: 1, hour: 0, minute: 0, second: 0, millis: 0, prec: if time_only { 4 } else { 1 }, tz: None, time_only }
    }

    /// A date or date-time (`2014`, `2014-01-05T10:30:00.000+01:00`, `2014-01-05T`).
    pub fn parse_date(s: &str) -> Option<Moment> {
        let mut m = Moment::start(false);
        let (y, mut rest) = digits(s, 4)?;
        m.year = y as i64;
        if let Some(r) = rest.strip_prefix('-') {
            let (mo, r) = digits(r, 2)?;
            (m.month, m.prec, rest) = (mo, 2, r);
            if let Some(r) = rest.strip_prefix('-') {
                let (d, r) = digits(r, 2)?;
                (m.day, m.prec, rest) = (d, 3, r);
            }
        }
        if let Some(r) = rest.strip_prefix('T') {
            if r.is_empty() {
                return m.valid().then_some(m);
            }
            if m.prec < 3 {
                return None;
            }
            rest = m.parse_clock(r)?;
        }
        if !rest.is_empty() && m.prec < 4 {
            return None;
        }
        m.tz = parse_tz(rest)?;
        m.valid().then_some(m)
    }

    /// A time of day (`14`, `14:34:28.123`), without the `T` of a literal.
    pub fn parse_time(s: &str) -> Option<Moment> {
        let mut m = Moment::start(true);
        let rest = m.parse_clock(s)?;
        (rest.is_empty() && m.valid()).then_some(m)
    }

    /// `hh[:mm[:ss[.fff]]]`; returns what follows.
    fn parse_clock<'a>(&mut self, s: &'a str) -> Option<&'a str> {
        let (h, mut rest) = digits(s, 2)?;
        (self.hour, self.prec) = (h, 4);
        if let Some(r) = rest.strip_prefix(':') {
            let (mi, r) = digits(r, 2)?;
            (self.minute, self.prec, rest) = (mi, 5, r);
            if let Some(r) = rest.strip_prefix(':') {
                let (sec, r) = digits(r, 2)?;
                (self.second, self.prec, rest) = (sec, 6, r);
                if let Some(r) = rest.strip_prefix('.') {
                    let n = r.bytes().take_while(u8::is_ascii_digit).count();
                    if n == 0 {
                        return None;
                    }
                    let frac = &r[..n.min(3)];
                    self.millis = format!("{frac:0<3}").parse().ok()?;
                    self.prec = 7;
                    rest = &r[n..];
                }
            }
        }
        Some(rest)
    }

    fn valid(&self) -> bool {
        (1..=12).contains(&self.month)
            && self.day >= 1
            && self.day <= days_in_month(self.year, self.month)
            && self.hour < 24
            && self.minute < 60
            && self.second < 60
    }

    /// The text of this value (no `@`), keeping the precision and the zone.
    pub fn format(&self) -> String {
        let mut s = String::new();
        if !self.time_only {
            s.push_str(&format!("{:04}", self.year));
            if self.prec >= 2 {
                s.push_str(&format!("-{:02}", self.month));
            }
            if self.prec >= 3 {
                s.push_str(&format!("-{:02}", self.day));
            }
            if self.prec >= 4 {
                s.push('T');
            }
        }
        if self.prec >= 4 {
            s.push_str(&format!("{:02}", self.hour));
        }
        if self.prec >= 5 {
            s.push_str(&format!(":{:02}", self.minute));
        }
        if self.prec >= 6 {
            s.push_str(&format!(":{:02}", self.second));
        }
        if self.prec >= 7 {
            s.push_str(&format!(".{:03}", self.millis));
        }
        if let Some(tz) = self.tz {
            if !self.time_only && self.prec >= 4 {
                if tz == 0 {
                    s.push('Z');
                } else {
                    let sign = if tz < 0 { '-' } else { '+' };
                    s.push_str(&format!("{sign}{:02}:{:02}", tz.abs() / 60, tz.abs() % 60));
                }
            }
        }
        s
    }

    /// The same instant in UTC (only meaningful with a time and a zone).
    fn to_utc(self) -> Moment {
        match self.tz {
            Some(tz) if tz != 0 && self.prec >= 4 && !self.time_only => {
                let mut m = self.add_millis(-(tz as i64) * 60_000);
                m.tz = Some(0);
                m
            }
            _ => self,
        }
    }

    fn epoch_millis(&self) -> i64 {
        let days = days_from_civil(self.year, self.month, self.day);
        ((days * 24 + self.hour as i64) * 60 + self.minute as i64) * 60_000 + self.second as i64 * 1000 + self.millis as i64
    }

    fn add_millis(self, ms: i64) -> Moment {
        let total = self.epoch_millis() + ms;
        let days = total.div_euclid(86_400_000);
        let rem = total.rem_euclid(86_400_000);
        let (y, mo, d) = civil_from_days(days);
        Moment {
            year: y,
            month: mo,
            day: d,
            hour: (rem / 3_600_000) as u32,
            minute: (rem / 60_000 % 60) as u32,
            second: (rem / 1000 % 60) as u32,
            millis: (rem % 1000) as u32,
            ..self
        }
    }

    /// Components as a list for comparison; seconds and milliseconds are one precision.
    fn parts(&self) -> [i64; 6] {
        [self.year, self.month as i64, self.day as i64, self.hour as i64, self.minute as i64, self.second as i64 * 1000 + self.millis as i64]
    }

    /// Precision as a number of comparable components (seconds and milliseconds count as one).
    fn level(&self) -> usize {
        (self.prec.min(6)) as usize
    }

    /// `<` and `=` order: `None` where the values stop at different precisions before one
    /// decides, or where only one of two date-times says its zone.
    pub fn compare(&self, other: &Moment) -> Option<Ordering> {
        if self.time_only != other.time_only {
            return None;
        }
        let (a, b) = if self.prec >= 4 && other.prec >= 4 && !self.time_only {
            match (self.tz, other.tz) {
                (Some(_), Some(_)) => (self.to_utc(), other.to_utc()),
                (None, None) => (*self, *other),
                _ => return None,
            }
        } else {
            (*self, *other)
        };
        let (pa, pb) = (a.parts(), b.parts());
        let start = if self.time_only { 3 } else { 0 };
        let common = a.level().min(b.level());
        for i in start..common {
            match pa[i].cmp(&pb[i]) {
                Ordering::Equal => {}
                o => return Some(o),
            }
        }
        if a.level() != b.level() { None } else { Some(Ordering::Equal) }
    }

    /// `+`/`-` a duration: calendar units (and UCUM `d`, `wk`, `h`, `min`, `s`, `ms`), whole
    /// amounts except milliseconds. `None` where the spec says it is an error (UCUM `a`, `mo`:
    /// not calendar durations; a non-time unit).
    pub fn plus(&self, amount: f64, unit: &str) -> Option<Moment> {
        let unit = calendar_unit(unit)?;
        let n = amount.trunc() as i64;
        let mut m = *self;
        match unit {
            "year" => {
                m.year += n;
                m.day = m.day.min(days_in_month(m.year, m.month));
            }
            "month" => {
                let months = m.year * 12 + (m.month as i64 - 1) + n;
                m.year = months.div_euclid(12);
                m.month = (months.rem_euclid(12) + 1) as u32;
                m.day = m.day.min(days_in_month(m.year, m.month));
            }
            _ => {
                let ms: i64 = match unit {
                    "week" => n * 7 * 86_400_000,
                    "day" => n * 86_400_000,
                    "hour" => n * 3_600_000,
                    "minute" => n * 60_000,
                    "second" => n * 1000,
                    _ => amount.round() as i64,
                };
                // Below the value's precision the amount is converted to that precision,
                // truncating (`@2014 + 400 days` is 2015).
                let ms = match m.prec {
                    1 => return Some(Moment { year: m.year + ms / (365 * 86_400_000), ..m }),
                    2 => return m.plus((ms / (30 * 86_400_000)) as f64, "month"),
                    3 => ms - ms % 86_400_000,
                    4 => ms - ms % 3_600_000,
                    5 => ms - ms % 60_000,
                    6 => ms - ms % 1000,
                    _ => ms,
                };
                if m.time_only {
                    let day = 86_400_000;
                    let t = (((m.hour as i64 * 60 + m.minute as i64) * 60 + m.second as i64) * 1000 + m.millis as i64 + ms).rem_euclid(day);
                    m.hour = (t / 3_600_000) as u32;
                    m.minute = (t / 60_000 % 60) as u32;
                    m.second = (t / 1000 % 60) as u32;
                    m.millis = (t % 1000) as u32;
                } else {
                    m = m.add_millis(ms);
                }
            }
        }
        Some(m)
    }

    /// `lowBoundary(p)`/`highBoundary(p)`: the earliest/latest value this one can stand for, at
    /// `p` digits of precision (4 year .. 17 millisecond; a time 2 .. 9). A date-time without a
    /// zone takes the widest zones (+14:00 low, -12:00 high), as the spec says.
    pub fn boundary(&self, high: bool, digits: Option<i64>) -> Option<Moment> {
        let prec = match (self.time_only, digits) {
            (false, None) => 7,
            (true, None) => 7,
            (false, Some(4)) => 1,
            (false, Some(6)) => 2,
            (false, Some(8)) => 3,
            (false, Some(10)) => 4,
            (false, Some(12)) => 5,
            (false, Some(14)) => 6,
            (false, Some(17)) => 7,
            (true, Some(2)) => 4,
            (true, Some(4)) => 5,
            (true, Some(6)) => 6,
            (true, Some(9)) => 7,
            _ => return None,
        };
        let mut m = *self;
        if !high {
            if m.prec < 2 { m.month = 1 }
            if m.prec < 3 { m.day = 1 }
            if m.prec < 4 { m.hour = 0 }
            if m.prec < 5 { m.minute = 0 }
            if m.prec < 6 { m.second = 0 }
            if m.prec < 7 { m.millis = 0 }
        } else {
            if m.prec < 2 { m.month = 12 }
            if m.prec < 3 { m.day = days_in_month(m.year, m.month) }
            if m.prec < 4 { m.hour = 23 }
            if m.prec < 5 { m.minute = 59 }
            if m.prec < 6 { m.second = 59 }
            if m.prec < 7 { m.millis = 999 }
        }
        m.prec = prec;
        if prec >= 4 && !m.time_only && m.tz.is_none() {
            m.tz = Some(if high { -12 * 60 } else { 14 * 60 });
        }
        Some(m)
    }

    /// `precision()`: the number of digits the value is given to.
    pub fn digits(&self) -> i64 {
        if self.time_only {
            return [0, 0, 0, 0, 2, 4, 6, 9][self.prec as usize];
        }
        [0, 4, 6, 8, 10, 12, 14, 17][self.prec as usize]
    }
}

/// The canonical name of a duration unit for date arithmetic; `None` for UCUM `a`/`mo` (not
/// calendar durations) and units that are not durations.
pub(crate) fn calendar_unit(unit: &str) -> Option<&'static str> {
    Some(match unit {
        "year" | "years" => "year",
        "month" | "months" => "month",
        "week" | "weeks" | "wk" => "week",
        "day" | "days" | "d" => "day",
        "hour" | "hours" | "h" => "hour",
        "minute" | "minutes" | "min" => "minute",
        "second" | "seconds" | "s" => "second",
        "millisecond" | "milliseconds" | "ms" => "millisecond",
        _ => return None,
    })
}

/// `Z`, `+hh:mm`, `-hh:mm`, or nothing (all of the text must be the zone).
fn parse_tz(s: &str) -> Option<Option<i32>> {
    if s.is_empty() {
        return Some(None);
    }
    if s == "Z" {
        return Some(Some(0));
    }
    let sign = match s.as_bytes()[0] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let (h, r) = digits(&s[1..], 2)?;
    let (m, r) = digits(r.strip_prefix(':')?, 2)?;
    (r.is_empty() && h <= 14 && m < 60).then_some(Some(sign * (h as i32 * 60 + m as i32)))
}

pub(crate) fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        4 | 6 | 9 | 11 => 30,
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}

/// Days since 1970-01-01 (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + (m <= 2) as i64, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Moment {
        Moment::parse_date(s).unwrap()
    }

    #[test]
    fn zones_normalise_and_missing_precision_is_unknown() {
        assert_eq!(d("2012-04-15T15:00:00+02:00").compare(&d("2012-04-15T16:00:00+03:00")), Some(Ordering::Equal));
        assert_eq!(d("2012-04-15T15:30:31").compare(&d("2012-04-15T15:30:31.0")), Some(Ordering::Equal));
        assert_eq!(d("1974-12-25").compare(&d("1974-12-25T12:34:00")), None);
        assert_eq!(d("1974-12-24").compare(&d("1974-12-25T12:34:00")), Some(Ordering::Less));
        assert_eq!(d("2012-04-15T15:00:00Z").compare(&d("2012-04-15T10:00:00")), None);
    }

    #[test]
    fn calendar_arithmetic_clamps_to_the_month() {
        assert_eq!(d("1973-12-25").plus(7.0, "days").unwrap().format(), "1974-01-01");
        assert_eq!(d("2024-01-31").plus(1.0, "month").unwrap().format(), "2024-02-29");
        assert_eq!(d("2024-02-29").plus(-1.0, "year").unwrap().format(), "2023-02-28");
        assert_eq!(d("1973-12-25T00:00:00.000+10:00").plus(10.0, "ms").unwrap().format(), "1973-12-25T00:00:00.010+10:00");
        assert_eq!(d("1973-12-25").plus(1.0, "a"), None);
    }

    #[test]
    fn civil_days_round_trip() {
        for days in [-800_000, -1, 0, 59, 365, 11_016, 2_000_000] {
            let (y, m, dd) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, dd), days);
        }
    }
}
