//! A small deterministic mutation fuzzer for the stable toolchain: what CI runs instead of
//! libFuzzer.
//!
//! Every input is a committed corpus file (`fuzz/corpus/<target>/`) put through a stack of
//! byte-level mutations: bit flips, interesting bytes and numbers, inserts, deletes, repeats,
//! splices with other corpus files, and the tokens of the target's libFuzzer dictionary
//! (`fuzz/dict/<target>.dict`, the same file `cargo fuzz run -- -dict=` reads). There is no
//! coverage feedback: the corpus and the dictionaries carry the knowledge of the formats.
//!
//! Invariants: a run is a pure function of (seed, target name, iteration count), never of time
//! or machine speed, and iteration `i` depends on nothing but the seed, the target and `i`, so
//! a crash is reproduced by the seed alone. The budget is a count of inputs, not seconds.

use std::panic::{catch_unwind, AssertUnwindSafe};

use super::Check;

/// SplitMix64: tiny, fast, and good enough to pick mutations (not for anything secret).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform-enough in `0..n`; 0 when `n` is 0.
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }

    /// A random `start..end` range within `0..len` of at most `max` bytes.
    fn range(&mut self, len: usize, max: usize) -> (usize, usize) {
        let start = self.below(len);
        let n = 1 + self.below(max.min(len - start));
        (start, start + n)
    }
}

/// The seed of one target's run: the run's seed mixed with the target's name (FNV-1a), so
/// targets draw different streams from one seed.
pub fn target_seed(seed: u64, target: &str) -> u64 {
    let mut h: u64 = 0xCBF2_9CE4_8422_2325;
    for b in target.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01B3);
    }
    seed ^ h
}

/// Reads a libFuzzer dictionary: one `"token"` (optionally `name="token"`) per line, `#`
/// comments, escapes `\\`, `\"` and `\xNN`. Malformed lines are reported by line number.
pub fn parse_dictionary(text: &str) -> Result<Vec<Vec<u8>>, String> {
    let mut tokens = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let quoted = match (line.find('"'), line.rfind('"')) {
            (Some(a), Some(b)) if b > a => &line[a + 1..b],
            _ => return Err(format!("line {}: expected a quoted token", n + 1)),
        };
        let mut token = Vec::new();
        let mut bytes = quoted.bytes();
        while let Some(b) = bytes.next() {
            if b != b'\\' {
                token.push(b);
                continue;
            }
            match bytes.next() {
                Some(b'x') => {
                    let hex = [bytes.next(), bytes.next()];
                    let digits = hex.iter().flatten().copied().collect::<Vec<u8>>();
                    let value = std::str::from_utf8(&digits)
                        .ok()
                        .filter(|d| d.len() == 2)
                        .and_then(|d| u8::from_str_radix(d, 16).ok())
                        .ok_or_else(|| format!("line {}: bad \\x escape", n + 1))?;
                    token.push(value);
                }
                Some(c @ (b'\\' | b'"')) => token.push(c),
                _ => return Err(format!("line {}: bad escape", n + 1)),
            }
        }
        tokens.push(token);
    }
    Ok(tokens)
}

/// Bytes that tend to sit on format boundaries.
const INTERESTING_BYTES: &[u8] = b"\x00\x01\x7f\x80\xff\n\r \t%/.=,;:\"'<>&\\*?${}[]-+";

/// Numbers at integer-width and parser edges, for lengths, sizes, counts and dates.
const INTERESTING_NUMBERS: &[&str] = &[
    "0",
    "1",
    "-1",
    "255",
    "256",
    "65536",
    "4294967295",
    "4294967296",
    "9223372036854775807",
    "18446744073709551615",
    "18446744073709551616",
    "ffffffff",
    "ffffffffffffffff",
    "10000000000000000",
    "1e309",
    "0000000000000000000001",
];

/// Makes inputs for one target from its corpus and dictionary.
#[derive(Debug)]
pub struct Mutator<'a> {
    pub corpus: &'a [Vec<u8>],
    pub dictionary: &'a [Vec<u8>],
    /// Inputs are cut to this length (the parsers' own limits are far below it).
    pub max_len: usize,
}

impl Mutator<'_> {
    /// A corpus file (or nothing) under 1 to 16 stacked mutations.
    pub fn input(&self, rng: &mut Rng) -> Vec<u8> {
        let mut data = self.pick(rng).to_vec();
        for _ in 0..1 << rng.below(5) {
            self.mutate(&mut data, rng);
        }
        data.truncate(self.max_len);
        data
    }

    fn pick(&self, rng: &mut Rng) -> &[u8] {
        if self.corpus.is_empty() {
            return &[];
        }
        &self.corpus[rng.below(self.corpus.len())]
    }

    fn token(&self, rng: &mut Rng) -> Vec<u8> {
        if self.dictionary.is_empty() || rng.below(4) == 0 {
            let n = INTERESTING_NUMBERS[rng.below(INTERESTING_NUMBERS.len())];
            return n.as_bytes().to_vec();
        }
        self.dictionary[rng.below(self.dictionary.len())].clone()
    }

    fn mutate(&self, data: &mut Vec<u8>, rng: &mut Rng) {
        let len = data.len();
        let at = rng.below(len + 1);
        match rng.below(12) {
            0 if len > 0 => data[at.min(len - 1)] ^= 1 << rng.below(8),
            1 if len > 0 => {
                data[at.min(len - 1)] = INTERESTING_BYTES[rng.below(INTERESTING_BYTES.len())]
            }
            2 => {
                let n = 1 + rng.below(8);
                let random: Vec<u8> = (0..n).map(|_| rng.next_u64() as u8).collect();
                data.splice(at..at, random);
            }
            3 if len > 0 => {
                let max = if rng.below(4) == 0 { len } else { 16 };
                let (a, b) = rng.range(len, max);
                data.drain(a..b);
            }
            4 if len > 0 => {
                // Repeat a piece in place, up to 64 times: long runs of one element.
                let (a, b) = rng.range(len, 32);
                let piece = data[a..b].repeat(1 + rng.below(64));
                data.splice(b..b, piece);
            }
            5 | 6 => {
                let token = self.token(rng);
                data.splice(at..at, token);
            }
            7 => {
                let token = self.token(rng);
                let end = (at + token.len()).min(len);
                data.splice(at..end, token);
            }
            8 => {
                // Splice: this input's head, another corpus file's tail.
                let other = self.pick(rng);
                let from = rng.below(other.len() + 1);
                data.truncate(at);
                data.extend_from_slice(&other[from..]);
            }
            9 => {
                let other = self.pick(rng);
                if !other.is_empty() {
                    let (a, b) = rng.range(other.len(), 64);
                    data.splice(at..at, other[a..b].iter().copied());
                }
            }
            10 => {
                // Replace a run of (hex) digits with an edge number.
                if let Some(start) = (at..len).find(|&i| data[i].is_ascii_hexdigit()) {
                    let end = (start..len)
                        .find(|&i| !data[i].is_ascii_hexdigit())
                        .unwrap_or(len);
                    let n = INTERESTING_NUMBERS[rng.below(INTERESTING_NUMBERS.len())];
                    data.splice(start..end, n.bytes());
                }
            }
            11 if len > 1 => {
                // Rotate a piece: the same elements in another order.
                let (a, b) = rng.range(len, 32);
                data[a..b].rotate_left(rng.below(b - a));
            }
            _ => data.push(rng.next_u64() as u8),
        }
    }
}

/// An input on which a check panicked.
#[derive(Debug)]
pub struct Crash {
    pub iteration: u64,
    pub input: Vec<u8>,
    pub message: String,
}

/// Runs `check` on `iterations` inputs of `mutator` and stops at the first panic. Iteration
/// `i` draws from its own generator, seeded by the `i`-th number of `seed`'s stream.
pub fn run(check: Check, mutator: &Mutator<'_>, seed: u64, iterations: u64) -> Option<Crash> {
    let mut streams = Rng::new(seed);
    for iteration in 0..iterations {
        let mut rng = Rng::new(streams.next_u64());
        let input = mutator.input(&mut rng);
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| check(&input))) {
            let message = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_else(|| "a panic without a message".to_owned());
            return Some(Crash {
                iteration,
                input,
                message,
            });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dictionary_escapes() {
        let d = parse_dictionary("# c\n\"a\\x0d\\x0a\"\nkw=\"\\\"q\\\\\"\n\n").unwrap();
        assert_eq!(d, vec![b"a\r\n".to_vec(), b"\"q\\".to_vec()]);
        assert!(parse_dictionary("\"\\x0\"").is_err());
        assert!(parse_dictionary("bare").is_err());
    }
}
