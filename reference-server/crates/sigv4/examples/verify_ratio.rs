//! The cases of `benches/verify.rs`, each timed beside its floor as the minimum over many
//! interleaved batches: on a shared, busy machine the minimum is what the code costs, while
//! criterion's means also measure the neighbours. Prints one line per case and the ratio, and
//! for the two GETs their phases apart (`..., parse only`, `..., signature only`), each
//! against the same floor: where the time beyond the floor goes.
//!
//! `cargo run --release -p keygate-sigv4 --example verify_ratio [ROUNDS]`
//!
//! For profilers (`perf record`, `valgrind --tool=callgrind`), `loop WHAT N` runs one thing N
//! times and nothing else: `header`, `presigned` (parse + verify), `parse-header`,
//! `parse-presigned` (parse only), `signature-header`, `signature-presigned` (verify of one
//! parsed request: key lookup, canonical request, signature), `floor-header`,
//! `floor-presigned`; `cases` prints the cases `loop` takes, one a line, for scripts (`scripts/
//! ratio-ab --instructions` counts each). With callgrind, the
//! difference between two values of N divided by their difference is the cost of one call,
//! set-up excluded (valgrind hides SHA-NI, so SHA-256 counts run the portable code).

#[path = "../benches/support/floor.rs"]
mod floor;

#[path = "../tests/common/mod.rs"]
mod common;

#[path = "../benches/support/cases.rs"]
mod cases;

#[path = "../benches/support/timing.rs"]
mod timing;

use std::hint::black_box;
use std::time::Instant;
use timing::report;

/// How a request case is made.
type MakeCase = fn() -> cases::RequestCase;

/// The request cases `loop` takes (each also with a `parse-`, `signature-` or `floor-` prefix),
/// and how each is made.
const LOOP_CASES: [(&str, MakeCase); 2] = [
    ("header", cases::header_get),
    ("presigned", cases::presigned_get),
];

/// `loop WHAT N`: one case, N times, for a profiler.
fn run_loop(what: &str, n: u64) {
    let (case, part) = match what.split_once('-') {
        Some((part, case)) => (case, part),
        None => (what, "verify"),
    };
    let Some(&(_, make)) = LOOP_CASES.iter().find(|(name, _)| *name == case) else {
        eprintln!("loop: unknown case {what}");
        std::process::exit(2);
    };
    let case = make();
    let view = case.req.view();
    let pending = keygate_sigv4::parse(&view, cases::NOW, &case.cfg)
        .unwrap()
        .unwrap();
    let t = Instant::now();
    for _ in 0..n {
        match part {
            "signature" => {
                black_box(
                    black_box(&pending)
                        .verify(&case.secret, &case.cache, None)
                        .unwrap(),
                );
            }
            "parse" => {
                black_box(
                    keygate_sigv4::parse(black_box(&case.req.view()), cases::NOW, &case.cfg)
                        .unwrap()
                        .unwrap(),
                );
            }
            "floor" => {
                black_box(case.floor());
            }
            _ => {
                black_box(case.verify());
            }
        }
    }
    eprintln!("{what}: {:.0} ns", t.elapsed().as_nanos() as f64 / n as f64);
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("cases") {
        return LOOP_CASES.iter().for_each(|(name, _)| println!("{name}"));
    }
    if let [cmd, what, n] = &args[..] {
        if cmd == "loop" {
            return run_loop(what, n.parse().unwrap_or(1_000_000));
        }
    }
    let rounds = args.first().and_then(|r| r.parse().ok()).unwrap_or(300);
    for (name, short, case) in [
        (
            "header-signed GET, cached signing key",
            "header GET",
            cases::header_get(),
        ),
        ("presigned GET", "presigned GET", cases::presigned_get()),
    ] {
        report(
            name,
            rounds,
            2000,
            &mut || {
                black_box(case.verify());
            },
            &mut || {
                black_box(case.floor());
            },
        );
        // The two phases apart, each against the same floor, so that the time beyond the
        // floor can be placed: parsing hashes nothing, so its whole ratio is overhead; the
        // signature phase hashes two blocks fewer than the floor (the cached key's).
        let view = case.req.view();
        let pending = keygate_sigv4::parse(&view, cases::NOW, &case.cfg)
            .unwrap()
            .unwrap();
        let phases: [(&str, &mut dyn FnMut()); 2] = [
            ("parse only", &mut || {
                black_box(
                    keygate_sigv4::parse(black_box(&view), cases::NOW, &case.cfg)
                        .unwrap()
                        .unwrap(),
                );
            }),
            ("signature only", &mut || {
                black_box(
                    black_box(&pending)
                        .verify(&case.secret, &case.cache, None)
                        .unwrap(),
                );
            }),
        ];
        for (phase, work) in phases {
            report(
                &format!("{short}, {phase}"),
                rounds / 2,
                2000,
                work,
                &mut || {
                    black_box(case.floor());
                },
            );
        }
    }
    let chunk = cases::chunk_64k();
    let mut out = Vec::with_capacity(65_536);
    report(
        "one 64 KiB signed chunk",
        rounds / 10,
        20,
        &mut || {
            black_box(chunk.verify(&mut out));
        },
        &mut || {
            black_box(chunk.floor());
        },
    );
}
