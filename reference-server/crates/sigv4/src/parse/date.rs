//! Request dates: `X-Amz-Date` (`yyyymmddThhmmssZ`) and the `Date` header (IMF-fixdate).
//!
//! Spec: AWS SigV4 "Handling dates"; RFC 9110 §5.6.7. Parsing is strict (fixed widths, real
//! calendar dates) and allocation-free; the string to sign always uses the `X-Amz-Date` form.
//!
//! Cost: every request reads a clock and an `X-Amz-Date`, so both become integers at once
//! ([`Timestamp`], seconds since the epoch) without `time`'s calendar types: the days of a
//! date come from Hinnant's `days_from_civil`, and the tests hold every result to `time`'s.

use std::time::SystemTime;
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

/// A moment as seconds and nanoseconds since the Unix epoch: what verification compares the
/// request's time with, by integer arithmetic. Made from an `OffsetDateTime` or a
/// `SystemTime` (a clock read without calendar arithmetic).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    secs: i64,
    /// Below one second.
    nanos: u32,
}

impl Timestamp {
    /// The system clock, now.
    pub fn now() -> Timestamp {
        SystemTime::now().into()
    }

    /// `secs` seconds and `nanos` nanoseconds after the epoch (`nanos` may exceed a second).
    pub fn from_unix(secs: i64, nanos: u32) -> Timestamp {
        Timestamp {
            secs: secs.saturating_add(i64::from(nanos / 1_000_000_000)),
            nanos: nanos % 1_000_000_000,
        }
    }

    /// Whole seconds since the epoch, rounded down (as `OffsetDateTime::unix_timestamp`).
    pub fn unix_seconds(self) -> i64 {
        self.secs
    }

    /// `self - secs` in nanoseconds, exactly (an `i128` holds any such difference).
    pub(crate) fn nanos_since(self, secs: i64) -> i128 {
        (i128::from(self.secs) - i128::from(secs)) * 1_000_000_000 + i128::from(self.nanos)
    }
}

impl From<OffsetDateTime> for Timestamp {
    fn from(t: OffsetDateTime) -> Timestamp {
        Timestamp {
            secs: t.unix_timestamp(),
            nanos: t.nanosecond(),
        }
    }
}

impl From<SystemTime> for Timestamp {
    fn from(t: SystemTime) -> Timestamp {
        let (secs, nanos) = match t.duration_since(SystemTime::UNIX_EPOCH) {
            Ok(d) => (
                i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
                d.subsec_nanos(),
            ),
            // Before the epoch: round the seconds down, so the nanoseconds count forward.
            Err(e) => {
                let d = e.duration();
                let secs = -i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
                match d.subsec_nanos() {
                    0 => (secs, 0),
                    n => (secs - 1, 1_000_000_000 - n),
                }
            }
        };
        Timestamp { secs, nanos }
    }
}

fn digits(b: &[u8]) -> Option<u32> {
    b.iter().try_fold(0u32, |acc, &c| {
        c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
    })
}

/// The values of eight ASCII digits, tested all at once: every byte's high nibble is 3, and
/// stays 3 with 6 added (so the low nibble is at most 9; after the first test no lane can
/// carry into the next).
fn digits8(b: [u8; 8]) -> Option<[u8; 8]> {
    const NIBBLES: u64 = 0xf0f0_f0f0_f0f0_f0f0;
    const THREES: u64 = 0x3030_3030_3030_3030;
    let w = u64::from_le_bytes(b);
    let ok = w & NIBBLES == THREES && (w + 0x0606_0606_0606_0606) & NIBBLES == THREES;
    ok.then(|| (w - THREES).to_le_bytes())
}

/// Days from 1970-01-01 to `y-m-d` of the proleptic Gregorian calendar (H. Hinnant,
/// "chrono-Compatible Low-Level Date Algorithms", `days_from_civil`). `y >= 0`, `m` in
/// 1..=12 and `d` a day of that month.
fn days_from_civil(y: u32, m: u32, d: u32) -> i64 {
    // Years start in March, so the leap day is the last; year -1 (for January and February
    // of year 0) is handled by counting from year -400, a whole era earlier.
    let y = i64::from(y) + 400 - i64::from(m <= 2);
    let (era, yoe) = (y / 400, y % 400);
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era - 1) * 146_097 + doe - 719_468
}

/// `yyyymmdd` as days since the Unix epoch, if it is a real date.
pub(crate) fn ymd_days(b: &[u8; 8]) -> Option<i64> {
    ymd(b).map(|(y, m, d)| days_from_civil(y, m, d))
}

/// `yyyymmdd` as year, month and day, if it is a real date.
pub(crate) fn ymd(b: &[u8; 8]) -> Option<(u32, u32, u32)> {
    /// The last day of each month (index 1 to 12; February's 29th is checked apart).
    const LAST: [u8; 16] = [0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31, 0, 0, 0];
    let [y0, y1, y2, y3, m0, m1, d0, d1] = digits8(*b)?;
    let (m, d) = (m0 * 10 + m1, d0 * 10 + d1);
    // `m` is at most 99 and `d - 1` wraps below 1: one comparison each way.
    if d.wrapping_sub(1) >= *LAST.get(usize::from(m))? {
        return None;
    }
    let y = u32::from(y0) * 1000 + u32::from(y1) * 100 + u32::from(y2) * 10 + u32::from(y3);
    // A leap year: by 4, and by 400 if by 100 (`y % 25 == 0` and by 4 means by 100).
    if m == 2 && d == 29 && !(y % 4 == 0 && (y % 25 != 0 || y % 16 == 0)) {
        return None;
    }
    Some((y, u32::from(m), u32::from(d)))
}

/// `yyyymmddThhmmssZ` as seconds since the Unix epoch.
pub(crate) fn amz_date_seconds(b: &[u8]) -> Option<i64> {
    let b: &[u8; 16] = b.try_into().ok()?;
    if b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let days = ymd_days(b[..8].try_into().ok()?)?;
    // `hhmmss` and two padding zeros.
    let [h0, h1, m0, m1, s0, s1, ..] =
        digits8([b[9], b[10], b[11], b[12], b[13], b[14], b'0', b'0'])?;
    let (h, m, s) = (h0 * 10 + h1, m0 * 10 + m1, s0 * 10 + s1);
    if h > 23 || m > 59 || s > 59 {
        return None;
    }
    Some(days * 86_400 + i64::from(h) * 3600 + i64::from(m) * 60 + i64::from(s))
}

/// The `OffsetDateTime` of seconds since the epoch that a date parsed here gave (any such
/// is in `time`'s range; the epoch stands in for one that is not).
pub(crate) fn offset_date_time(secs: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(secs).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// `yyyymmddThhmmssZ`.
pub fn parse_amz_date(s: &str) -> Option<OffsetDateTime> {
    amz_date_seconds(s.as_bytes()).and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok())
}

fn parse_hms(h: &[u8], m: &[u8], s: &[u8]) -> Option<Time> {
    let h = u8::try_from(digits(h)?).ok()?;
    let m = u8::try_from(digits(m)?).ok()?;
    let s = u8::try_from(digits(s)?).ok()?;
    Time::from_hms(h, m, s).ok()
}

/// IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the `Date` header form.
pub fn parse_http_date(s: &str) -> Option<OffsetDateTime> {
    const MONTHS: [&[u8]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    let b = s.trim().as_bytes();
    if b.len() != 29 || &b[3..5] != b", " || &b[25..] != b" GMT" {
        return None;
    }
    if b[7] != b' ' || b[11] != b' ' || b[16] != b' ' || b[19] != b':' || b[22] != b':' {
        return None;
    }
    let m = MONTHS.iter().position(|m| *m == &b[8..11])?;
    let month = Month::try_from(u8::try_from(m + 1).ok()?).ok()?;
    let day = u8::try_from(digits(&b[5..7])?).ok()?;
    let year = i32::try_from(digits(&b[12..16])?).ok()?;
    let date = Date::from_calendar_date(year, month, day).ok()?;
    let time = parse_hms(&b[17..19], &b[20..22], &b[23..25])?;
    Some(PrimitiveDateTime::new(date, time).assume_utc())
}

/// `yyyymmddThhmmssZ` of a time, for the string to sign.
pub(crate) fn format_amz_date(t: OffsetDateTime) -> [u8; 16] {
    let mut out = *b"00000000T000000Z";
    let mut put = |at: usize, width: usize, mut v: u32| {
        for i in (0..width).rev() {
            out[at + i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, 4, u32::try_from(t.year()).unwrap_or(0));
    put(4, 2, u32::from(u8::from(t.month())));
    put(6, 2, u32::from(t.day()));
    put(9, 2, u32::from(t.hour()));
    put(11, 2, u32::from(t.minute()));
    put(13, 2, u32::from(t.second()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        let t = parse_amz_date("20150830T123600Z").unwrap();
        assert_eq!(&format_amz_date(t), b"20150830T123600Z");
        assert_eq!(parse_http_date("Sun, 30 Aug 2015 12:36:00 GMT"), Some(t));
        for bad in [
            "20150830T123600",
            "20151330T123600Z",
            "20150830T126000Z",
            "2015083OT123600Z",
            "",
        ] {
            assert!(parse_amz_date(bad).is_none(), "{bad}");
        }
        assert!(parse_http_date("Sun, 30 Foo 2015 12:36:00 GMT").is_none());
        assert!(parse_http_date("garbage").is_none());
    }

    #[test]
    fn the_eight_digit_test_agrees_with_a_byte_loop_for_every_byte_and_place() {
        for c in 0..=255u8 {
            for at in 0..8 {
                let mut b = *b"20150830";
                b[at] = c;
                let want = b
                    .iter()
                    .all(u8::is_ascii_digit)
                    .then(|| b.map(|d| d.wrapping_sub(b'0')));
                assert_eq!(digits8(b), want, "{c:#x} at {at}");
            }
        }
        let leap_day = Date::from_calendar_date(2024, Month::February, 29).unwrap();
        let epoch = Date::from_calendar_date(1970, Month::January, 1).unwrap();
        assert_eq!(ymd_days(b"20240229"), Some((leap_day - epoch).whole_days()));
        for bad in [
            b"20230229",
            b"20241301",
            b"20240100",
            b"20240431",
            b"2024 101",
        ] {
            assert!(ymd_days(bad).is_none(), "{bad:?}");
        }
    }

    /// What `parse_amz_date` computed before it was integer arithmetic: `time`'s own
    /// calendar, the oracle the integer parse is held to.
    fn oracle(b: &[u8]) -> Option<i64> {
        let s = std::str::from_utf8(b).ok()?;
        let b = s.as_bytes();
        if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
            return None;
        }
        let year = i32::try_from(digits(&b[0..4])?).ok()?;
        let month = Month::try_from(u8::try_from(digits(&b[4..6])?).ok()?).ok()?;
        let date = Date::from_calendar_date(year, month, u8::try_from(digits(&b[6..8])?).ok()?);
        let time = parse_hms(&b[9..11], &b[11..13], &b[13..15])?;
        Some(
            PrimitiveDateTime::new(date.ok()?, time)
                .assume_utc()
                .unix_timestamp(),
        )
    }

    #[test]
    fn integer_dates_agree_with_the_calendar_on_every_day_of_chosen_years() {
        let years = [
            0, 1, 3, 4, 99, 100, 399, 400, 1600, 1900, 1969, 1970, 2000, 2024, 2100,
        ];
        let mut checked = 0;
        for y in years.into_iter().chain([2400, 9998, 9999]) {
            for m in 0..=13 {
                for d in 0..=32 {
                    for hms in ["000000", "235959", "240000", "126000", "120060", "123456"] {
                        let s = format!("{y:04}{m:02}{d:02}T{hms}Z");
                        let got = amz_date_seconds(s.as_bytes());
                        assert_eq!(got, oracle(s.as_bytes()), "{s}");
                        assert_eq!(parse_amz_date(&s).map(|t| t.unix_timestamp()), got, "{s}");
                        checked += usize::from(got.is_some());
                    }
                }
            }
        }
        // 18 years of 365 or 366 days (0, 4, 400, 1600, 2000, 2024 and 2400 leap years),
        // three valid times each.
        assert_eq!(checked, (18 * 365 + 7) * 3);
    }

    #[test]
    fn integer_dates_agree_with_the_calendar_on_generated_strings() {
        let mut next = crate::test_rng(0x5eed_da7e);
        let base = *b"20240229T235959Z";
        for _ in 0..200_000 {
            let mut b = base;
            // One to three bytes replaced by a digit, a letter, a separator or any byte.
            for _ in 0..=next() % 3 {
                let at = (next() % 16) as usize;
                b[at] = match next() % 4 {
                    0 | 1 => b'0' + (next() % 10) as u8,
                    2 => b"TZ:- /"[(next() % 6) as usize],
                    _ => next() as u8,
                };
            }
            assert_eq!(
                amz_date_seconds(&b),
                oracle(&b),
                "{:?}",
                String::from_utf8_lossy(&b)
            );
        }
        assert_eq!(amz_date_seconds(b"20240229T235959"), None);
        assert_eq!(amz_date_seconds(b"20240229T235959ZZ"), None);
    }

    #[test]
    fn timestamps_from_either_clock_type_agree() {
        use std::time::Duration;
        for nanos in [
            0i128,
            1,
            999_999_999,
            1_000_000_000,
            1_732_838_400_123_456_789,
            -1,
            -999_999_999,
            -1_000_000_000,
            -1_000_000_001,
        ] {
            let odt = OffsetDateTime::from_unix_timestamp_nanos(nanos).unwrap();
            let abs = Duration::from_nanos(nanos.unsigned_abs() as u64);
            let st = if nanos >= 0 {
                SystemTime::UNIX_EPOCH + abs
            } else {
                SystemTime::UNIX_EPOCH - abs
            };
            let (a, b) = (Timestamp::from(odt), Timestamp::from(st));
            assert_eq!(a, b, "{nanos}");
            assert_eq!(a.unix_seconds(), odt.unix_timestamp(), "{nanos}");
            assert_eq!(a.nanos_since(0), nanos, "{nanos}");
            assert_eq!(a.nanos_since(5), nanos - 5_000_000_000, "{nanos}");
            let (secs, sub) = (
                nanos.div_euclid(1_000_000_000),
                nanos.rem_euclid(1_000_000_000),
            );
            let parts = Timestamp::from_unix(secs as i64, sub as u32);
            assert_eq!(parts, a, "{nanos}");
            assert_eq!(
                Timestamp::from_unix(secs as i64 - 1, sub as u32 + 1_000_000_000),
                a
            );
        }
    }
}
