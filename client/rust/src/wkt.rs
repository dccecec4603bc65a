//! `google.protobuf.Timestamp` and `google.protobuf.Duration`, with their
//! proto3 JSON forms: RFC 3339 in UTC ("2026-01-02T03:04:05.000006Z") and
//! seconds with an `s` suffix ("3600s", "1.5s").
//!
//! The generated messages use these types (build.rs maps the well-known types
//! here), so the JSON mapping of every message follows the proto3 rules.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A point in time: seconds and nanoseconds since the Unix epoch, in UTC.
#[derive(Clone, Copy, PartialEq, Eq, Hash, prost::Message)]
pub struct Timestamp {
    /// Seconds since 1970-01-01T00:00:00Z (may be negative).
    #[prost(int64, tag = "1")]
    pub seconds: i64,
    /// Non-negative fractions of a second, 0 to 999,999,999.
    #[prost(int32, tag = "2")]
    pub nanos: i32,
}

/// A signed span of time: seconds and nanoseconds of the same sign.
#[derive(Clone, Copy, PartialEq, Eq, Hash, prost::Message)]
pub struct Duration {
    /// Whole seconds.
    #[prost(int64, tag = "1")]
    pub seconds: i64,
    /// Fractions of a second, with the sign of `seconds`.
    #[prost(int32, tag = "2")]
    pub nanos: i32,
}

const NANOS_PER_SECOND: i64 = 1_000_000_000;
// 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z, the range proto3 JSON allows.
const MIN_SECONDS: i64 = -62_135_596_800;
const MAX_SECONDS: i64 = 253_402_300_799;
const MAX_DURATION_SECONDS: i64 = 315_576_000_000;

impl Timestamp {
    /// The current wall-clock time.
    pub fn now() -> Self {
        SystemTime::now().into()
    }

    /// Parses an RFC 3339 timestamp such as `2026-01-02T03:04:05.5+01:00`.
    pub fn parse_rfc3339(text: &str) -> Result<Self, String> {
        parse_timestamp(text).ok_or_else(|| format!("invalid RFC 3339 timestamp: {text:?}"))
    }
}

impl From<SystemTime> for Timestamp {
    fn from(time: SystemTime) -> Self {
        match time.duration_since(UNIX_EPOCH) {
            Ok(after) => Timestamp {
                seconds: after.as_secs() as i64,
                nanos: after.subsec_nanos() as i32,
            },
            Err(before) => {
                let before = before.duration();
                let (mut seconds, mut nanos) =
                    (-(before.as_secs() as i64), -(before.subsec_nanos() as i32));
                if nanos < 0 {
                    seconds -= 1;
                    nanos += NANOS_PER_SECOND as i32;
                }
                Timestamp { seconds, nanos }
            }
        }
    }
}

impl TryFrom<Timestamp> for SystemTime {
    type Error = String;

    fn try_from(ts: Timestamp) -> Result<Self, Self::Error> {
        if !(0..NANOS_PER_SECOND as i32).contains(&ts.nanos) {
            return Err(format!("timestamp nanos out of range: {}", ts.nanos));
        }
        let since = std::time::Duration::new(ts.seconds.unsigned_abs(), 0);
        let base = if ts.seconds >= 0 {
            UNIX_EPOCH.checked_add(since)
        } else {
            UNIX_EPOCH.checked_sub(since)
        };
        base.and_then(|t| t.checked_add(std::time::Duration::from_nanos(ts.nanos as u64)))
            .ok_or_else(|| "timestamp out of the range of SystemTime".to_string())
    }
}

impl fmt::Display for Timestamp {
    /// RFC 3339 in UTC with 0, 3, 6 or 9 fractional digits, as proto3 JSON prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.seconds.div_euclid(86_400);
        let secs = self.seconds.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        write!(
            f,
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        )?;
        write_fraction(f, self.nanos.unsigned_abs())?;
        f.write_str("Z")
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if !(MIN_SECONDS..=MAX_SECONDS).contains(&self.seconds)
            || !(0..NANOS_PER_SECOND as i32).contains(&self.nanos)
        {
            return Err(serde::ser::Error::custom(format!(
                "timestamp out of range: {}s {}ns",
                self.seconds, self.nanos
            )));
        }
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Timestamp;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an RFC 3339 timestamp string")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Timestamp, E> {
                Timestamp::parse_rfc3339(text).map_err(E::custom)
            }
        }
        deserializer.deserialize_str(V)
    }
}

impl Duration {
    /// Parses the proto3 JSON form, e.g. `"3600s"`, `"-1.5s"`.
    pub fn parse(text: &str) -> Result<Self, String> {
        parse_duration(text).ok_or_else(|| format!("invalid duration: {text:?}"))
    }
}

impl From<std::time::Duration> for Duration {
    fn from(d: std::time::Duration) -> Self {
        Duration {
            seconds: d.as_secs() as i64,
            nanos: d.subsec_nanos() as i32,
        }
    }
}

impl TryFrom<Duration> for std::time::Duration {
    type Error = String;

    fn try_from(d: Duration) -> Result<Self, Self::Error> {
        if d.seconds < 0 || d.nanos < 0 || d.nanos >= NANOS_PER_SECOND as i32 {
            return Err(format!(
                "not a non-negative duration: {}s {}ns",
                d.seconds, d.nanos
            ));
        }
        Ok(std::time::Duration::new(d.seconds as u64, d.nanos as u32))
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.seconds < 0 || self.nanos < 0 {
            f.write_str("-")?;
        }
        write!(f, "{}", self.seconds.unsigned_abs())?;
        write_fraction(f, self.nanos.unsigned_abs())?;
        f.write_str("s")
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mixed_signs =
            (self.seconds < 0 && self.nanos > 0) || (self.seconds > 0 && self.nanos < 0);
        if self.seconds.unsigned_abs() > MAX_DURATION_SECONDS as u64
            || self.nanos.unsigned_abs() >= NANOS_PER_SECOND as u32
            || mixed_signs
        {
            return Err(serde::ser::Error::custom(format!(
                "duration out of range: {}s {}ns",
                self.seconds, self.nanos
            )));
        }
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Duration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration string such as \"1.5s\"")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Duration, E> {
                Duration::parse(text).map_err(E::custom)
            }
        }
        deserializer.deserialize_str(V)
    }
}

/// `.fff`, `.ffffff` or `.fffffffff`, whichever is shortest without loss; nothing for 0.
fn write_fraction(f: &mut fmt::Formatter<'_>, nanos: u32) -> fmt::Result {
    if nanos == 0 {
        Ok(())
    } else if nanos.is_multiple_of(1_000_000) {
        write!(f, ".{:03}", nanos / 1_000_000)
    } else if nanos.is_multiple_of(1_000) {
        write!(f, ".{:06}", nanos / 1_000)
    } else {
        write!(f, ".{nanos:09}")
    }
}

/// Parses `.d{1,9}` digits (without the dot) into nanoseconds.
fn parse_fraction(digits: &str) -> Option<i32> {
    if digits.is_empty() || digits.len() > 9 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let value: i32 = digits.parse().ok()?;
    Some(value * 10_i32.pow(9 - digits.len() as u32))
}

fn digits<T: std::str::FromStr>(text: &str, at: usize, len: usize) -> Option<T> {
    let part = text.get(at..at + len)?;
    if !part.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    part.parse().ok()
}

fn parse_timestamp(text: &str) -> Option<Timestamp> {
    // YYYY-MM-DDTHH:MM:SS[.f{1,9}](Z|+HH:MM|-HH:MM)
    let b = text.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let year: i64 = digits(text, 0, 4)?;
    let month: u32 = digits(text, 5, 2)?;
    let day: u32 = digits(text, 8, 2)?;
    let hour: i64 = digits(text, 11, 2)?;
    let minute: i64 = digits(text, 14, 2)?;
    let second: i64 = digits(text, 17, 2)?;
    if !(1..=12).contains(&month)
        || day == 0
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let mut rest = &text[19..];
    let mut nanos = 0;
    if let Some(after_dot) = rest.strip_prefix('.') {
        let end = after_dot
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(after_dot.len());
        nanos = parse_fraction(&after_dot[..end])?;
        rest = &after_dot[end..];
    }
    let offset_seconds = match rest {
        "Z" | "z" => 0,
        _ => {
            let rb = rest.as_bytes();
            if rb.len() != 6 || rb[3] != b':' {
                return None;
            }
            let sign = match rb[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let oh: i64 = digits(rest, 1, 2)?;
            let om: i64 = digits(rest, 4, 2)?;
            if oh > 23 || om > 59 {
                return None;
            }
            sign * (oh * 3600 + om * 60)
        }
    };
    let seconds = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second
        - offset_seconds;
    if !(MIN_SECONDS..=MAX_SECONDS).contains(&seconds) {
        return None;
    }
    Some(Timestamp { seconds, nanos })
}

fn parse_duration(text: &str) -> Option<Duration> {
    let body = text.strip_suffix('s')?;
    let (negative, body) = match body.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, body),
    };
    let (whole, fraction) = match body.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (body, None),
    };
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let seconds: i64 = whole.parse().ok()?;
    if seconds > MAX_DURATION_SECONDS {
        return None;
    }
    let nanos = match fraction {
        Some(f) => parse_fraction(f)?,
        None => 0,
    };
    let sign = if negative { -1 } else { 1 };
    Some(Duration {
        seconds: sign * seconds,
        nanos: sign as i32 * nanos,
    })
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (i64::from(month) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian date of a day count since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(text: &str) -> Timestamp {
        Timestamp::parse_rfc3339(text).unwrap()
    }

    #[test]
    fn timestamps_round_trip_in_canonical_form() {
        for text in [
            "1970-01-01T00:00:00Z",
            "2026-01-02T03:04:05.000006Z",
            "2026-01-02T03:04:05.123Z",
            "2026-01-02T03:04:05.000000001Z",
            "2000-02-29T23:59:59.999999999Z",
            "0001-01-01T00:00:00Z",
            "9999-12-31T23:59:59Z",
            "1969-12-31T23:59:59.5Z",
        ] {
            let parsed = ts(text);
            let printed = parsed.to_string();
            assert_eq!(ts(&printed), parsed, "{text}");
        }
        assert_eq!(
            ts("2026-01-02T03:04:05.000006Z").to_string(),
            "2026-01-02T03:04:05.000006Z"
        );
        assert_eq!(
            ts("1969-12-31T23:59:59.5Z").to_string(),
            "1969-12-31T23:59:59.500Z"
        );
        assert_eq!(ts("1970-01-01T00:00:00Z").seconds, 0);
        assert_eq!(ts("2001-09-09T01:46:40Z").seconds, 1_000_000_000);
    }

    #[test]
    fn timestamps_with_offsets_are_normalized_to_utc() {
        assert_eq!(ts("2026-01-02T04:04:05+01:00"), ts("2026-01-02T03:04:05Z"));
        assert_eq!(
            ts("2026-01-01T23:04:05-04:00").to_string(),
            "2026-01-02T03:04:05Z"
        );
    }

    #[test]
    fn bad_timestamps_are_refused() {
        for text in [
            "",
            "2026-01-02",
            "2026-13-02T03:04:05Z",
            "2026-02-30T03:04:05Z",
            "2026-01-02T24:04:05Z",
            "2026-01-02T03:04:05",
            "2026-01-02T03:04:05.Z",
            "2026-01-02T03:04:05.1234567890Z",
            "2026-01-02T03:04:05+0100",
        ] {
            assert!(Timestamp::parse_rfc3339(text).is_err(), "{text}");
        }
    }

    #[test]
    fn durations_round_trip() {
        for (text, canonical) in [
            ("3600s", "3600s"),
            ("0s", "0s"),
            ("1.5s", "1.500s"),
            ("-1.000000001s", "-1.000000001s"),
            ("0.000001s", "0.000001s"),
        ] {
            assert_eq!(Duration::parse(text).unwrap().to_string(), canonical);
        }
        assert!(Duration::parse("1").is_err());
        assert!(Duration::parse("s").is_err());
        assert!(Duration::parse("1.s").is_err());
    }

    #[test]
    fn system_time_conversions() {
        let now = SystemTime::now();
        let back: SystemTime = Timestamp::from(now).try_into().unwrap();
        assert_eq!(back, now);
        let before = UNIX_EPOCH - std::time::Duration::from_millis(1500);
        let t = Timestamp::from(before);
        assert_eq!((t.seconds, t.nanos), (-2, 500_000_000));
        assert_eq!(SystemTime::try_from(t).unwrap(), before);
    }
}
