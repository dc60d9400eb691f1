//! Timestamps as feeds write them: RFC 3339 strings, or numbers of seconds,
//! milliseconds, microseconds or nanoseconds since the Unix epoch.

use std::fmt;

use compact_str::CompactString;

use serde::ser::{Serialize, Serializer};

/// A message's `timestamp`, kept as the feed wrote it and read on demand (a fast feed
/// sends far more timestamps than anyone needs to read).
#[derive(Debug, Clone, PartialEq)]
pub enum Timestamp {
    /// A string, normally RFC 3339. Up to 24 bytes (RFC 3339 in UTC with
    /// milliseconds) it is stored inline: decoding it allocates nothing.
    Text(CompactString),
    /// A number of seconds, milliseconds, microseconds or nanoseconds since the epoch
    /// (which one is decided by magnitude), fractions allowed.
    Number(f64),
    /// Neither a string nor a number (an object, a list, a boolean): dropped, and
    /// counted by the reader, never a reason to reject the message.
    Unreadable,
}

impl Timestamp {
    /// Unix milliseconds, if it can be read.
    ///
    /// Numbers are taken by magnitude: below 10^11 seconds (until the year 5138),
    /// below 10^14 milliseconds, below 10^17 microseconds, else nanoseconds. A number
    /// that is negative, or later than RFC 3339's last instant (the end of the year
    /// 9999, [`LAST_UNIX_MS`]), cannot be read: every readable time is within a range
    /// where arithmetic on it is exact to the millisecond and cannot overflow.
    pub fn unix_ms(&self) -> Option<f64> {
        match self {
            Timestamp::Text(s) => parse_rfc3339_ms(s),
            Timestamp::Number(n) if n.is_finite() && *n >= 0.0 => Some(match *n {
                n if n < 1e11 => n * 1000.0,
                n if n < 1e14 => n,
                n if n < 1e17 => n / 1000.0,
                n => n / 1_000_000.0,
            })
            .filter(|ms| *ms <= LAST_UNIX_MS),
            _ => None,
        }
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Timestamp::Text(s) => f.write_str(s),
            Timestamp::Number(n) => write!(f, "{n}"),
            Timestamp::Unreadable => f.write_str("(unreadable)"),
        }
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Timestamp::Text(t) => s.serialize_str(t),
            Timestamp::Number(n) => s.serialize_f64(*n),
            Timestamp::Unreadable => s.serialize_none(),
        }
    }
}

/// 9999-12-31T23:59:59.999Z in Unix milliseconds: the last instant RFC 3339 can
/// write, and the last a numeric timestamp may name.
pub const LAST_UNIX_MS: f64 = 253_402_300_799_999.0;

/// Reads an RFC 3339 timestamp (`2025-01-01T12:00:00Z`, `…:00.123+02:00`) as Unix
/// milliseconds. Anything else is `None`.
pub fn parse_rfc3339_ms(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let part = s.get(from..from + len)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (y, mo, d) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    let (h, mi, sec) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut i = 19;
    let mut frac = 0.0;
    if b.get(i) == Some(&b'.') {
        let start = i + 1;
        i = start;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return None;
        }
        // Digits past nanoseconds add nothing; no allocation on the hot path.
        let mut scale = 0.1;
        for &c in &b[start..i.min(start + 9)] {
            frac += f64::from(c - b'0') * scale;
            scale /= 10.0;
        }
    }
    let offset_min = match b.get(i)? {
        b'Z' | b'z' if i + 1 == b.len() => 0,
        sign @ (b'+' | b'-') if i + 6 == b.len() && b[i + 3] == b':' => {
            let m = num(i + 1, 2)? * 60 + num(i + 4, 2)?;
            if *sign == b'-' {
                -m
            } else {
                m
            }
        }
        _ => return None,
    };
    let days = days_from_civil(y, mo, d);
    let secs = days * 86_400 + h * 3600 + mi * 60 + sec - offset_min * 60;
    Some((secs as f64 + frac) * 1000.0)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_rfc3339_in_its_usual_forms() {
        assert_eq!(parse_rfc3339_ms("1970-01-01T00:00:00Z"), Some(0.0));
        assert_eq!(
            parse_rfc3339_ms("2025-01-01T12:00:00Z"),
            Some(1_735_732_800_000.0)
        );
        assert_eq!(
            parse_rfc3339_ms("2025-01-01T12:00:00.250Z"),
            Some(1_735_732_800_250.0)
        );
        assert_eq!(
            parse_rfc3339_ms("2025-01-01T14:00:00+02:00"),
            Some(1_735_732_800_000.0)
        );
        assert_eq!(
            parse_rfc3339_ms("2024-02-29T00:00:00-00:30"),
            Some(1_709_166_600_000.0)
        );
        for bad in [
            "",
            "yesterday",
            "2025-13-01T00:00:00Z",
            "2025-01-01T00:00:00",
            "2025-01-01T00:00:00.Z",
            "2025-01-01T00:00:00Zjunk",
            "１０２５-01-01T00:00:00Z",
        ] {
            assert_eq!(parse_rfc3339_ms(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn numbers_are_read_by_magnitude() {
        let ms = 1_764_115_200_000.0;
        for n in [
            1_764_115_200.0,
            1_764_115_200_000.0,
            1_764_115_200_000_000.0,
            1_764_115_200_000_000_000.0,
        ] {
            assert_eq!(Timestamp::Number(n).unix_ms(), Some(ms), "{n}");
        }
        assert_eq!(
            Timestamp::Number(1_764_115_200.5).unix_ms(),
            Some(ms + 500.0)
        );
        assert_eq!(Timestamp::Number(-1.0).unix_ms(), None);
        // Past the year 9999, in any unit: unreadable, whatever the magnitude.
        assert_eq!(
            parse_rfc3339_ms("9999-12-31T23:59:59.999Z"),
            Some(LAST_UNIX_MS)
        );
        // Only nanoseconds reach it: 2.534e20 ns is in the year 9999, 2.535e20 after.
        assert!(Timestamp::Number(2.534e20).unix_ms().is_some());
        for n in [2.535e20, 1e30, f64::MAX] {
            assert_eq!(Timestamp::Number(n).unix_ms(), None, "{n}");
        }
        assert_eq!(Timestamp::Unreadable.unix_ms(), None);
        assert_eq!(Timestamp::Text("nope".into()).unix_ms(), None);
    }
}
