//! Request dates: `X-Amz-Date` (`yyyymmddThhmmssZ`) and the `Date` header (IMF-fixdate).
//!
//! Spec: AWS SigV4 "Handling dates"; RFC 9110 §5.6.7. Parsing is strict (fixed widths, real
//! calendar dates) and allocation-free; the string to sign always uses the `X-Amz-Date` form.

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

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

/// `yyyymmdd` as a calendar date.
pub(crate) fn parse_ymd(b: &[u8; 8]) -> Option<Date> {
    let [y0, y1, y2, y3, m0, m1, d0, d1] = digits8(*b)?;
    let y = i32::from(y0) * 1000 + i32::from(y1) * 100 + i32::from(y2) * 10 + i32::from(y3);
    let m = Month::try_from(m0 * 10 + m1).ok()?;
    Date::from_calendar_date(y, m, d0 * 10 + d1).ok()
}

fn parse_hms(h: &[u8], m: &[u8], s: &[u8]) -> Option<Time> {
    let h = u8::try_from(digits(h)?).ok()?;
    let m = u8::try_from(digits(m)?).ok()?;
    let s = u8::try_from(digits(s)?).ok()?;
    Time::from_hms(h, m, s).ok()
}

/// `yyyymmddThhmmssZ`.
pub fn parse_amz_date(s: &str) -> Option<OffsetDateTime> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let date = parse_ymd(b[0..8].try_into().ok()?)?;
    // `hhmmss` and two padding zeros.
    let [h0, h1, m0, m1, s0, s1, ..] =
        digits8([b[9], b[10], b[11], b[12], b[13], b[14], b'0', b'0'])?;
    let time = Time::from_hms(h0 * 10 + h1, m0 * 10 + m1, s0 * 10 + s1).ok()?;
    Some(PrimitiveDateTime::new(date, time).assume_utc())
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
        assert_eq!(parse_ymd(b"20240229").map(|d| d.ordinal()), Some(60));
        for bad in [
            b"20230229",
            b"20241301",
            b"20240100",
            b"20240431",
            b"2024 101",
        ] {
            assert!(parse_ymd(bad).is_none(), "{bad:?}");
        }
    }
}
