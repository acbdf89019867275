//! Word-at-a-time byte scans (SWAR: eight bytes per step in a `u64`) for the few scans that
//! run over every request's longest fields: the `Authorization` value and header values.
//!
//! The bit tricks are the classic ones ("Bit Twiddling Hacks", `haszero`/`hasless`): for a
//! byte-wise test, the lowest flagged byte of a word is always a true match (a borrow only
//! propagates upward), so the first match position is exact; the tests compare every function
//! with its plain byte loop.

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = LO << 7;

/// Eight bytes as one little-endian word (`w` is eight bytes long, e.g. a `chunks_exact(8)`
/// item: one load).
pub(crate) fn word(w: &[u8]) -> u64 {
    u64::from_le_bytes(w.try_into().unwrap_or([0; 8]))
}

/// Four bytes as one little-endian word (`w` is four bytes long: one load).
pub(crate) fn half(w: &[u8]) -> u32 {
    u32::from_le_bytes(w.try_into().unwrap_or([0; 4]))
}

/// The flags (high bit of each byte) of the bytes of `x` below `n` (`n <= 128`).
fn below(x: u64, n: u8) -> u64 {
    x.wrapping_sub(LO * u64::from(n)) & !x & HI
}

/// `a == b` without a call to `memcmp`, for the short strings compared on every request (a
/// region, a service, a date, a 64-digit hash): whole words, the last one overlapping, and
/// for fewer than eight bytes two overlapping halves or three single bytes. Not constant
/// time: for secrets, [`crate::secret::ct_eq_bytes`].
#[inline]
pub(crate) fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    match n {
        0 => true,
        1..=3 => a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1],
        4..=7 => half(&a[..4]) == half(&b[..4]) && half(&a[n - 4..]) == half(&b[n - 4..]),
        _ => {
            let diff = a
                .chunks_exact(8)
                .zip(b.chunks_exact(8))
                .fold(0, |d, (x, y)| d | (word(x) ^ word(y)));
            diff | (word(&a[n - 8..]) ^ word(&b[n - 8..])) == 0
        }
    }
}

/// The position of the first `b` in `s`.
pub(crate) fn find_byte(s: &[u8], b: u8) -> Option<usize> {
    let mut words = s.chunks_exact(8);
    for (i, w) in (&mut words).enumerate() {
        let flags = below(word(w) ^ (LO * u64::from(b)), 1);
        if flags != 0 {
            return Some(i * 8 + (flags.trailing_zeros() / 8) as usize);
        }
    }
    let done = s.len() - words.remainder().len();
    words
        .remainder()
        .iter()
        .position(|&c| c == b)
        .map(|p| done + p)
}

/// Calls `at(i)`, in order, for each position `i` of a byte of `b` for which `hit` holds.
/// Sixteen bytes per step: `hit` is applied lane by lane without branches (write it so, with
/// `|` rather than `||`), which the compiler turns into vector compares; that gives a word
/// with the top bit of each flagged lane set, and each flag is then one `trailing_zeros`
/// away. The last step overlaps the one before, its lanes already seen shifted out; a slice
/// shorter than sixteen is copied into a block and its extra lanes masked off.
#[inline(always)]
pub(crate) fn each_match(b: &[u8], hit: impl Fn(u8) -> bool, mut at: impl FnMut(usize)) {
    const TOP: u128 = u128::MAX / 255 * 0x80;
    let flags = |w: [u8; 16]| {
        let mut lanes = [0u8; 16];
        for (l, c) in lanes.iter_mut().zip(w) {
            // All ones or zero, as a vector compare gives it (a shift here was scalarised).
            *l = 0u8.wrapping_sub(u8::from(hit(c)));
        }
        u128::from_le_bytes(lanes) & TOP
    };
    let block = |w: &[u8]| <[u8; 16]>::try_from(w).unwrap_or([0; 16]);
    let mut each = |mut m: u128, base: usize| {
        while m != 0 {
            at(base + (m.trailing_zeros() / 8) as usize);
            m &= m - 1;
        }
    };
    if b.len() < 16 {
        let mut w = [0u8; 16];
        w[..b.len()].copy_from_slice(b);
        let real = (1u128 << (8 * b.len())) - 1;
        return each(flags(w) & real, 0);
    }
    let mut chunks = b.chunks_exact(16);
    for (k, w) in (&mut chunks).enumerate() {
        each(flags(block(w)), k * 16);
    }
    let rest = chunks.remainder().len();
    if rest > 0 {
        let base = b.len() - 16;
        each(
            flags(block(&b[base..])) >> (8 * (16 - rest)),
            b.len() - rest,
        );
    }
}

/// The flags (high bit of each byte) of exactly the bytes of `x` equal to `b`: unlike
/// [`below`], no false flag above a true one (the low seven bits are summed without a borrow
/// crossing into the next byte).
fn eq_exact(x: u64, b: u8) -> u64 {
    const LOW7: u64 = LO * 0x7f;
    let y = x ^ (LO * u64::from(b));
    !(((y & LOW7) + LOW7) | y | LOW7)
}

/// Whether a header value is already in canonical form: no control byte (tab, CR, LF, ...),
/// no space at either end and no two spaces in a row; then trimming and collapsing blanks
/// would give it back unchanged. (`false` only means "take the general path".)
pub(crate) fn is_trimmed(s: &[u8]) -> bool {
    if s.first() == Some(&b' ') || s.last() == Some(&b' ') {
        return false;
    }
    // A control byte, or two spaces in a row, the first of them possibly the last byte of the
    // word before (`carry`, a space there moved to byte 0). Most words (hashes, dates, hosts,
    // ids) hold no byte up to a space at all: one test, exact when it finds nothing.
    let exact = |w: u64, carry: u64| {
        if below(w, b' ' + 1) == 0 {
            return 0;
        }
        let sp = eq_exact(w, b' ');
        below(w, b' ') | (sp & ((sp << 8) | carry))
    };
    if s.len() < 8 {
        // Padded with letters (neither a space nor a control byte), built in a register.
        let w = s
            .iter()
            .rev()
            .fold(LO * u64::from(b'a'), |w, &c| w << 8 | u64::from(c));
        return exact(w, 0) == 0;
    }
    let (mut bad, mut carry) = (0u64, 0u64);
    for w in s.chunks_exact(8) {
        let w = word(w);
        bad |= exact(w, carry);
        carry = u64::from(w >> 56 == u64::from(b' ')) << 7;
    }
    // The last eight bytes, overlapping the words before: every pair the words did not see
    // lies inside them (the last whole word ends at or after their start).
    bad |= exact(word(&s[s.len() - 8..]), 0);
    bad == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trim_check_agrees_with_its_definition_on_generated_values() {
        let mut next = crate::test_rng(0x0123_4567_89ab_cdef);
        for _ in 0..50_000 {
            let len = (next() % 41) as usize;
            // Blanks, a control byte, the bytes either side of the space, DEL and a high byte.
            const BYTES: &[u8; 8] = b" a\t \x1f!\x7f\xff";
            let s: Vec<u8> = (0..len)
                .map(|_| BYTES[(next() % BYTES.len() as u64) as usize])
                .collect();
            let want = s.first() != Some(&b' ')
                && s.last() != Some(&b' ')
                && !s.iter().any(|&c| c < b' ')
                && !s.windows(2).any(|w| w == b"  ");
            assert_eq!(is_trimmed(&s), want, "{s:?}");
        }
    }

    #[test]
    fn same_bytes_is_equality() {
        let mut next = crate::test_rng(0x5eed_0b17_e5ca_1e00);
        for _ in 0..20_000 {
            let len = (next() % 70) as usize;
            let a: Vec<u8> = (0..len).map(|_| (next() % 3) as u8).collect();
            let mut b = a.clone();
            match next() % 3 {
                // One byte changed anywhere, or a byte more or less.
                0 if len > 0 => b[(next() % len as u64) as usize] ^= 1 << (next() % 8),
                1 => b.push(0),
                _ => {}
            }
            assert_eq!(same_bytes(&a, &b), a == b, "{a:?} {b:?}");
        }
    }

    #[test]
    fn scans_agree_with_byte_loops() {
        let samples: [&[u8]; 13] = [
            b"",
            b"abc",
            b"Credential=AK/20250115/us-east-1/s3/aws4_request, SignedHeaders=host",
            b"\x01\x00\xff,,\x80 \t=",
            b"0123456789abcdef0123456789abcdef,",
            b"attempt=1; max=3",
            b"aws-sdk-rust/1.3 os/linux  lang/rust x",
            b"a       b",
            b"abcdefg  h",
            b" a b c d e f g h i",
            b"a b c d e f g h i ",
            b"\x80 \xff  \xa0\x20",
            &[0x7f, 0x80, 0x81, 0xfe, 0xff, 0x21, 0x20, 0x09, 0x00],
        ];
        for s in samples {
            for start in 0..s.len().min(9) {
                let s = &s[start..];
                for b in [b',', b'=', b' ', 0, 0xff, b'a'] {
                    assert_eq!(find_byte(s, b), s.iter().position(|&c| c == b), "{s:?} {b}");
                }
                for b in [b',', b';', 0, 0xff] {
                    let mut got = Vec::new();
                    each_match(s, |c| (c == b) | (c == b'"'), |i| got.push(i));
                    let want: Vec<usize> = (0..s.len())
                        .filter(|&i| s[i] == b || s[i] == b'"')
                        .collect();
                    assert_eq!(got, want, "{s:?} {b}");
                }
                let trimmed = !s.is_empty()
                    && s[0] != b' '
                    && s[s.len() - 1] != b' '
                    && !s.iter().any(|&c| c < b' ')
                    && !s.windows(2).any(|w| w == b"  ");
                assert_eq!(is_trimmed(s), trimmed || s.is_empty(), "{s:?}");
            }
        }
    }
}
