//! The signing-key cache checked against fresh derivations: whatever the scopes share (bytes
//! around the slot hash's eight-byte words, the same bytes split differently between region
//! and service, other dates), a cached key is always the one derived for its own scope, from
//! two threads at once, and the cache never grows past its capacity. (Split from
//! `coverage_model.rs`, which checks the signed-header coverage the same way.)

use keygate_sigv4::key::derive_signing_key;
use keygate_sigv4::{SecretKey, SigningKeyCache};

/// Scopes that share bytes in every way the slot hash could confuse: secrets around the
/// eight-byte word boundaries and differing only in a last byte, the same bytes split
/// differently between region and service, other dates.
fn scopes() -> Vec<(SecretKey, [u8; 8], &'static str, &'static str)> {
    let secrets = [
        "",
        "k",
        "abcdefg",
        "abcdefgh",
        "abcdefghi",
        "abcdefghabcdefgh",
        "abcdefghabcdefgi",
        "sécret-ü",
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEZ",
    ];
    let dates = [*b"20250115", *b"20250116", *b"20241231"];
    let parts = [
        ("us-east-1", "s3"),
        ("us-east-1s", "3"),
        ("us-east-", "1s3"),
        ("us-east-1", "sts"),
        ("us-east-1", "s"),
        ("eu-west-1", "s3"),
        ("us-east-1s3", "x"),
    ];
    let mut out = Vec::new();
    for s in secrets {
        for d in dates {
            for (r, v) in parts {
                out.push((SecretKey::from(s.to_owned()), d, r, v));
            }
        }
    }
    out
}

#[test]
fn signing_key_cache_never_serves_another_scopes_key() {
    let scopes = scopes();
    // What each scope's own key signs, derived without the cache; all distinct.
    let want: Vec<[u8; 32]> = scopes
        .iter()
        .map(|(s, d, r, v)| {
            let date = std::str::from_utf8(d).unwrap();
            *derive_signing_key(s, date, r, v).sign(b"probe").as_bytes()
        })
        .collect();
    let distinct: std::collections::HashSet<_> = want.iter().collect();
    assert_eq!(distinct.len(), scopes.len(), "two scopes derive one key");
    let cache = SigningKeyCache::new(4);
    // Two threads, each in its own order, some scopes asked twice in a row (a hit).
    std::thread::scope(|t| {
        for seed in [1u64, 2] {
            let (scopes, want, cache) = (&scopes, &want, &cache);
            t.spawn(move || {
                // A 64-bit LCG: deterministic, and enough to mix the order.
                let mut x = seed;
                let mut below = |n: usize| {
                    x = x
                        .wrapping_mul(6_364_136_223_846_793_005)
                        .wrapping_add(1_442_695_040_888_963_407);
                    (x >> 33) as usize % n
                };
                for _ in 0..1500 {
                    let i = below(scopes.len());
                    for _ in 0..=below(2) {
                        let (s, d, r, v) = &scopes[i];
                        let got = cache.get(s, d, r, v).sign(b"probe");
                        assert_eq!(got.as_bytes(), &want[i], "scope {i}: {d:?} {r} {v}");
                        assert!(cache.len() <= 4);
                    }
                }
            });
        }
    });
}
