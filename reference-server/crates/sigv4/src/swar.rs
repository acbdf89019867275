//! Byte scans for the few scans that run over every request's longest fields (the
//! `Authorization` value, the signed-header list, header values, the presigned query), and
//! word-wide compares of short strings.
//!
//! The scans take sixteen bytes per step: a per-lane test written without branches, which the
//! compiler turns into vector compares, then one bit per lane ([`lane_mask`]: SSE2's
//! `movemask` on x86-64, through `safe_arch`'s safe wrapper since the workspace forbids
//! `unsafe`; a portable fold elsewhere), each match one `trailing_zeros` away. Until
//! 2026-11-30 the lane flags went through a `u128` on the stack, and `find_byte` and
//! `is_trimmed` were eight-byte SWAR; `movemask` took about 6% off a header-signed GET.
//! The tests compare every function with its plain byte loop.

/// Eight bytes as one little-endian word (`w` is eight bytes long, e.g. a `chunks_exact(8)`
/// item: one load).
pub(crate) fn word(w: &[u8]) -> u64 {
    u64::from_le_bytes(w.try_into().unwrap_or([0; 8]))
}

/// Four bytes as one little-endian word (`w` is four bytes long: one load).
pub(crate) fn half(w: &[u8]) -> u32 {
    u32::from_le_bytes(w.try_into().unwrap_or([0; 4]))
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

/// The position of the first `b` in `s`: sixteen bytes per step, as [`each_match`].
pub(crate) fn find_byte(s: &[u8], b: u8) -> Option<usize> {
    let flags = |w: [u8; 16]| {
        let mut lanes = [0u8; 16];
        for (l, c) in lanes.iter_mut().zip(w) {
            *l = 0u8.wrapping_sub(u8::from(c == b));
        }
        lane_mask(lanes)
    };
    let first = |m: u32, base: usize| (m != 0).then(|| base + m.trailing_zeros() as usize);
    if s.len() < 16 {
        // Padded with a byte that is not `b`.
        let mut w = [!b; 16];
        w[..s.len()].copy_from_slice(s);
        return first(flags(w), 0);
    }
    let mut chunks = s.chunks_exact(16);
    for (k, w) in (&mut chunks).enumerate() {
        if let Some(p) = first(flags(block16(w)), k * 16) {
            return Some(p);
        }
    }
    let rest = chunks.remainder().len();
    if rest == 0 {
        return None;
    }
    first(
        flags(block16(&s[s.len() - 16..])) >> (16 - rest),
        s.len() - rest,
    )
}

/// Calls `at(i)`, in order, for each position `i` of a byte of `b` for which `hit` holds.
/// Sixteen bytes per step: `hit` is applied lane by lane without branches (write it so, with
/// `|` rather than `||`), which the compiler turns into vector compares; [`lane_mask`] gives a
/// bit per flagged lane, and each flag is then one `trailing_zeros` away. The last step
/// overlaps the one before, its lanes already seen shifted out; a slice shorter than sixteen
/// is copied into a block and its extra lanes masked off.
#[inline(always)]
pub(crate) fn each_match(b: &[u8], hit: impl Fn(u8) -> bool, mut at: impl FnMut(usize)) {
    let flags = |w: [u8; 16]| {
        let mut lanes = [0u8; 16];
        for (l, c) in lanes.iter_mut().zip(w) {
            // All ones or zero, as a vector compare gives it (a shift here was scalarised).
            *l = 0u8.wrapping_sub(u8::from(hit(c)));
        }
        lane_mask(lanes)
    };
    let mut each = |mut m: u32, base: usize| {
        while m != 0 {
            at(base + m.trailing_zeros() as usize);
            m &= m - 1;
        }
    };
    if b.len() < 16 {
        let mut w = [0u8; 16];
        w[..b.len()].copy_from_slice(b);
        let real = (1u32 << b.len()) - 1;
        return each(flags(w) & real, 0);
    }
    let mut chunks = b.chunks_exact(16);
    for (k, w) in (&mut chunks).enumerate() {
        each(flags(block16(w)), k * 16);
    }
    let rest = chunks.remainder().len();
    if rest > 0 {
        let base = b.len() - 16;
        each(flags(block16(&b[base..])) >> (16 - rest), b.len() - rest);
    }
}

/// Sixteen bytes of a scan as one block (`w` is sixteen bytes long: one load).
#[inline(always)]
fn block16(w: &[u8]) -> [u8; 16] {
    <[u8; 16]>::try_from(w).unwrap_or([0; 16])
}

/// Bit `i` set for each lane `i` of `lanes` whose top bit is set: SSE2's `movemask`, one
/// instruction on the vector the lane tests left in a register.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[inline(always)]
fn lane_mask(lanes: [u8; 16]) -> u32 {
    safe_arch::move_mask_i8_m128i(safe_arch::m128i::from(lanes)) as u32
}

#[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
#[inline(always)]
fn lane_mask(lanes: [u8; 16]) -> u32 {
    lane_mask_portable(lanes)
}

/// [`lane_mask`] without vector instructions.
#[cfg_attr(
    all(target_arch = "x86_64", target_feature = "sse2"),
    allow(
        dead_code,
        reason = "the fallback of other targets, tested against movemask here"
    )
)]
#[inline(always)]
fn lane_mask_portable(lanes: [u8; 16]) -> u32 {
    lanes
        .iter()
        .enumerate()
        .fold(0, |m, (i, &l)| m | (u32::from(l >> 7) << i))
}

/// Whether a header value is already in canonical form: no control byte (tab, CR, LF, ...),
/// no space at either end and no two spaces in a row; then trimming and collapsing blanks
/// would give it back unchanged. (`false` only means "take the general path".)
pub(crate) fn is_trimmed(s: &[u8]) -> bool {
    if s.first() == Some(&b' ') || s.last() == Some(&b' ') {
        return false;
    }
    // Per sixteen bytes, a bit per lane: control bytes, and spaces whose lane before (`carry`:
    // the last lane of the block before) is a space too.
    let bad = |w: [u8; 16], carry: u32| {
        let mut ctrl = [0u8; 16];
        let mut space = [0u8; 16];
        for ((c, sp), b) in ctrl.iter_mut().zip(&mut space).zip(w) {
            *c = 0u8.wrapping_sub(u8::from(b < b' '));
            *sp = 0u8.wrapping_sub(u8::from(b == b' '));
        }
        let sp = lane_mask(space);
        (lane_mask(ctrl) | (sp & ((sp << 1) | carry)), sp >> 15)
    };
    if s.len() < 16 {
        // Padded with letters (neither a space nor a control byte).
        let mut w = [b'a'; 16];
        w[..s.len()].copy_from_slice(s);
        return bad(w, 0).0 == 0;
    }
    let (mut any, mut carry) = (0, 0);
    let mut blocks = s.chunks_exact(16);
    for w in &mut blocks {
        let (b, c) = bad(block16(w), carry);
        any |= b;
        carry = c;
    }
    // The last sixteen bytes, overlapping the blocks before: every pair the blocks did not
    // see lies inside them (the last whole block ends at or after their start).
    if !blocks.remainder().is_empty() {
        any |= bad(block16(&s[s.len() - 16..]), 0).0;
    }
    any == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`is_trimmed`]'s definition, byte by byte.
    fn trimmed_by_definition(s: &[u8]) -> bool {
        s.first() != Some(&b' ')
            && s.last() != Some(&b' ')
            && !s.iter().any(|&c| c < b' ')
            && !s.windows(2).any(|w| w == b"  ")
    }

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
            assert_eq!(is_trimmed(&s), trimmed_by_definition(&s), "{s:?}");
        }
    }

    #[test]
    fn the_lane_mask_takes_each_lanes_top_bit() {
        let mut next = crate::test_rng(0x1a2e_3a5c_0ffe_e000);
        for _ in 0..10_000 {
            let lanes: [u8; 16] = std::array::from_fn(|_| next() as u8);
            let want = (0..16).fold(0u32, |m, i| m | (u32::from(lanes[i] >= 0x80) << i));
            assert_eq!(lane_mask(lanes), want, "{lanes:?}");
            // The fallback of other targets, checked here too.
            assert_eq!(lane_mask_portable(lanes), want, "{lanes:?}");
        }
    }

    /// One or two bytes of interest at every position of every length across three blocks,
    /// so that each block boundary, the short padded path and the overlapping last block
    /// (whose lanes already seen must not be reported again) all meet a match.
    #[test]
    fn scans_find_bytes_at_every_position_and_block_boundary() {
        for n in 0..=50 {
            for i in 0..n {
                for j in [None, Some(i + 1), Some(i + 7), Some(i + 16)] {
                    let j = j.filter(|&j| j < n);
                    let mut s = vec![b'a'; n];
                    s[i] = b',';
                    if let Some(j) = j {
                        s[j] = b',';
                    }
                    let want: Vec<usize> = (0..n).filter(|&k| s[k] == b',').collect();
                    let mut got = Vec::new();
                    each_match(&s, |c| c == b',', |k| got.push(k));
                    assert_eq!(got, want, "each_match, {n} bytes, at {i} and {j:?}");
                    assert_eq!(find_byte(&s, b','), Some(i), "find_byte, {n} bytes, at {i}");
                }
            }
            assert_eq!(find_byte(&vec![b'a'; n], b','), None, "{n} bytes, none");
            let all = vec![b','; n];
            let mut got = Vec::new();
            each_match(&all, |c| c == b',', |k| got.push(k));
            assert_eq!(got, (0..n).collect::<Vec<_>>(), "{n} bytes, all");
        }
    }

    /// Two spaces in a row at every position of every length up to four blocks (a pair
    /// across a block boundary is caught only by the carry between blocks), and one space,
    /// tab or control byte anywhere.
    #[test]
    fn the_trim_check_sees_every_position() {
        for n in 0..=66 {
            for i in 0..n {
                for (at, bytes) in [(i, &b"  "[..]), (i, b" "), (i, b"\t"), (i, b"\x1f")] {
                    let mut s = vec![b'a'; n];
                    let end = (at + bytes.len()).min(n);
                    s[at..end].copy_from_slice(&bytes[..end - at]);
                    assert_eq!(is_trimmed(&s), trimmed_by_definition(&s), "{s:?}");
                }
            }
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
                assert_eq!(is_trimmed(s), trimmed_by_definition(s), "{s:?}");
            }
        }
    }
}
