//! Comparing an [`Outcome`] with an [`Expect`]ation, after applying the target profile's
//! overrides (`expect.profile.aws = {...}` replaces the fields it sets), then the transport's
//! (`expect.transport.https = {...}`).
//!
//! Rules: an unexpected 5xx fails whatever else was expected (SPEC: internal failures are bugs);
//! an expectation with neither `status`, `code` nor `ok` means "success"; listing comparisons
//! are by set. Each mismatch is one line naming what was expected and what was seen.

use super::context::Ctx;
use super::outcome::Outcome;
use crate::scenario::{Expect, Profile, Transport};
use crate::target::TargetError;
use std::collections::BTreeSet;
use std::path::PathBuf;

/// `base` with `profile`'s overrides applied, then `transport`'s (whose own `profile` entries
/// apply too).
pub fn effective(base: &Expect, profile: Profile, transport: Transport) -> Expect {
    let mut e = base.clone();
    e.profile.clear();
    e.transport.clear();
    if let Some(o) = base.profile.get(&profile) {
        overlay(&mut e, o);
    }
    if let Some(t) = base.transport.get(&transport) {
        let mut o = t.clone();
        if let Some(p) = t.profile.get(&profile) {
            overlay(&mut o, p);
        }
        overlay(&mut e, &o);
    }
    e
}

/// Replace the fields of `e` that `o` sets.
fn overlay(e: &mut Expect, o: &Expect) {
    macro_rules! over {
        ($($f:ident),*) => { $( if o.$f.is_some() { e.$f = o.$f.clone(); } )* };
    }
    over!(
        status,
        code,
        ok,
        body,
        body_contains,
        body_empty,
        headers,
        headers_present,
        items,
        items_include,
        items_exclude,
        item_errors,
        owner
    );
    // An override that states a status or code replaces the whole verdict, and with it what the
    // base expected of a success's body and listing (an `aws` 403 has no items to compare).
    if o.status.is_some() || o.code.is_some() || o.ok.is_some() {
        e.status = o.status;
        e.code = o.code.clone();
        e.ok = o.ok;
        e.body = o.body.clone();
        e.body_contains = o.body_contains.clone();
        e.body_empty = o.body_empty;
        e.items = o.items.clone();
        e.items_include = o.items_include.clone();
        e.items_exclude = o.items_exclude.clone();
        e.item_errors = o.item_errors.clone();
    }
}

/// One line describing what `e` expects, for reports.
pub fn describe(e: &Expect) -> String {
    let mut parts = Vec::new();
    if e.ok == Some(true) {
        parts.push("2xx".to_owned());
    }
    if let Some(s) = e.status {
        parts.push(s.to_string());
    }
    if let Some(c) = &e.code {
        parts.push(c.clone());
    }
    if parts.is_empty() {
        parts.push("success".into());
    }
    if let Some(i) = &e.items {
        parts.push(format!("items={i:?}"));
    }
    if let Some(o) = &e.owner {
        parts.push(format!("owner {}:{}", o.uid, o.gid));
    }
    if e.transport_error == Some(true) {
        parts = vec!["no answer (transport error)".into()];
    }
    parts.join(" ")
}

/// The mismatch of a 5xx the expectation did not name: `unexpected 500 InternalError:
/// internal failures are bugs` (without a code when the answer had none).
fn unexpected_5xx(e: &Expect, o: &Outcome) -> Option<String> {
    let s = o.status.filter(|s| *s >= 500 && e.status != Some(*s))?;
    let code = o
        .code
        .as_deref()
        .map(|c| format!(" {c}"))
        .unwrap_or_default();
    Some(format!("unexpected {s}{code}: internal failures are bugs"))
}

/// Check `o` against `e`; returns the mismatches (empty = pass).
pub async fn check(
    ctx: &Ctx<'_>,
    e: &Expect,
    o: &Outcome,
    step_bucket: Option<&str>,
    step_key: Option<&str>,
) -> Vec<String> {
    let mut bad = Vec::new();
    let verdict_given = e.status.is_some() || e.code.is_some() || e.ok.is_some();
    if let Some(m) = unexpected_5xx(e, o) {
        bad.push(m);
    }
    if let Some(s) = e.status {
        // A target without HTTP statuses (a CLI adapter) is judged on success and code.
        let matches = match o.status {
            Some(got) => got == s,
            None => (200..300).contains(&s) == o.ok(),
        };
        if !matches {
            bad.push(format!("status: expected {s}, got {}", o.summary()));
        }
    }
    if let Some(c) = &e.code {
        let want_none = c == "none";
        match (&o.code, want_none) {
            (None, true) => {}
            (Some(got), false) if got == c => {}
            _ => bad.push(format!("code: expected {c}, got {}", o.summary())),
        }
    }
    if e.ok == Some(true) && !o.ok() {
        bad.push(format!("expected success, got {}", o.summary()));
    }
    if !verdict_given && !o.ok() {
        bad.push(format!("expected success, got {}", o.summary()));
    }
    if let Some(b) = &e.body {
        let want = ctx.expand(b);
        if o.body != want {
            bad.push(format!("body: expected {want:?}, got {:?}", o.body));
        }
    }
    for needle in e.body_contains.iter().flatten() {
        let want = ctx.expand(needle);
        if !o.body.contains(&want) {
            bad.push(format!("body does not contain {want:?}"));
        }
    }
    if e.body_empty == Some(true) && !o.body.is_empty() {
        bad.push(format!("body: expected none, got {:?}", o.body));
    }
    for (name, want) in e.headers.iter().flatten() {
        let want = ctx.expand(want);
        match o.header(name) {
            Some(v) if v.contains(&want) => {}
            got => bad.push(format!(
                "header {name}: expected to contain {want:?}, got {got:?}"
            )),
        }
    }
    for name in e.headers_present.iter().flatten() {
        if o.header(name).is_none() {
            bad.push(format!("header {name}: missing"));
        }
    }
    let items: BTreeSet<String> = o.items.iter().flatten().cloned().collect();
    if let Some(want) = &e.items {
        let want: BTreeSet<String> = want.iter().map(|w| ctx.expand(w)).collect();
        if o.items.is_none() || want != items {
            bad.push(format!("items: expected {want:?}, got {items:?}"));
        }
    }
    for w in e.items_include.iter().flatten() {
        if !items.contains(&ctx.expand(w)) {
            bad.push(format!("items: expected to include {w:?}, got {items:?}"));
        }
    }
    for w in e.items_exclude.iter().flatten() {
        if items.contains(&ctx.expand(w)) {
            bad.push(format!(
                "items: expected not to include {w:?}, got {items:?}"
            ));
        }
    }
    if let Some(want) = &e.item_errors {
        if want != &o.item_errors {
            bad.push(format!(
                "per-key errors: expected {want:?}, got {:?}",
                o.item_errors
            ));
        }
    }
    if let Some(owner) = &e.owner {
        let bucket = owner
            .bucket
            .as_deref()
            .or(step_bucket)
            .map(|b| ctx.bucket(b))
            .unwrap_or_default();
        let rel = owner
            .path
            .clone()
            .or(step_key.map(str::to_owned))
            .unwrap_or_default();
        let path = PathBuf::from(&bucket).join(ctx.expand(&rel));
        match ctx.target.stat(&path).await {
            Ok(f) if f.uid == owner.uid && f.gid == owner.gid => {}
            Ok(f) => bad.push(format!(
                "owner of {}: expected {}:{}, got {}:{}",
                path.display(),
                owner.uid,
                owner.gid,
                f.uid,
                f.gid
            )),
            Err(TargetError::Unsupported(_)) => {
                bad.push("owner: the target cannot stat files".into())
            }
            Err(err) => bad.push(format!("owner of {}: {err}", path.display())),
        }
    }
    bad
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unexpected_5xx_reads_well_with_or_without_a_code() {
        let answer = |code: Option<&str>| Outcome {
            status: Some(500),
            code: code.map(str::to_owned),
            ..Default::default()
        };
        let none = Expect::default();
        assert_eq!(
            unexpected_5xx(&none, &answer(None)).as_deref(),
            Some("unexpected 500: internal failures are bugs")
        );
        assert_eq!(
            unexpected_5xx(&none, &answer(Some("InternalError"))).as_deref(),
            Some("unexpected 500 InternalError: internal failures are bugs")
        );
        let expected = Expect {
            status: Some(500),
            ..Default::default()
        };
        assert_eq!(unexpected_5xx(&expected, &answer(None)), None);
    }
}
