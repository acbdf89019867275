//! The checks of a step's `expect`: statuses, codes and `ok` that can hold together, and the
//! fields each kind of expectation may carry.

use super::Checker;
use crate::scenario::model::Expect;

/// An HTTP status a response can carry.
pub(super) const STATUSES: std::ops::RangeInclusive<u16> = 100..=599;

/// An expectation that no response could meet, or that every response meets, is a scenario
/// bug: say so at load time instead of failing (or passing) every run. Each table is checked
/// on its own, overrides (`profile.*`, `transport.*`) too: an override that states a verdict
/// replaces its base's whole verdict (`run::expect::effective`), so merging cannot make a
/// contradiction that no single table has.
pub(super) fn check_expect(c: &mut Checker<'_>, path: &str, e: &Expect) {
    check_expect_fields(c, path, e);
    for (k, o) in &e.profile {
        check_expect_fields(c, &format!("{path}.profile.{}", k.as_str()), o);
    }
    for (k, t) in &e.transport {
        let at = format!("{path}.transport.{}", k.as_str());
        check_expect_fields(c, &at, t);
        for (p, o) in &t.profile {
            check_expect_fields(c, &format!("{at}.profile.{}", p.as_str()), o);
        }
    }
}

/// What one expectation table says on its own, before any merge.
fn check_expect_fields(c: &mut Checker<'_>, path: &str, e: &Expect) {
    if e.transport_error.is_none() {
        for (field, message) in verdict_conflicts(e) {
            c.err(format!("{path}.{field}"), message);
        }
    }
    if let Some(s) = e.status.filter(|s| !STATUSES.contains(s)) {
        c.err(
            format!("{path}.status"),
            format!("{s} is not an HTTP status (expected 100..599)"),
        );
    }
    if e.ok == Some(false) {
        c.err(
            format!("{path}.ok"),
            "only `true` is meaningful; to expect a failure give `status` or `code`",
        );
    }
    if e.body_empty == Some(false) {
        c.err(
            format!("{path}.body_empty"),
            "only `true` is meaningful (leave it out otherwise)",
        );
    }
    if e.body_empty == Some(true)
        && (e.body.as_ref().is_some_and(|b| !b.is_empty())
            || e.body_contains
                .as_ref()
                .is_some_and(|n| n.iter().any(|x| !x.is_empty())))
    {
        c.err(
            format!("{path}.body_empty"),
            "an empty body cannot also have `body` or `body_contains`",
        );
    }
    if let Some(items) = &e.items {
        for (field, list, inside) in [
            ("items_include", &e.items_include, false),
            ("items_exclude", &e.items_exclude, true),
        ] {
            if let Some(x) = list.iter().flatten().find(|x| items.contains(x) == inside) {
                let how = if inside { "lists" } else { "does not list" };
                c.err(
                    format!("{path}.{field}"),
                    format!("`items` {how} `{x}`: the two contradict each other"),
                );
            }
        }
    }
    if let Some(x) = e
        .items_include
        .iter()
        .flatten()
        .find(|x| e.items_exclude.iter().flatten().any(|y| y == *x))
    {
        c.err(
            format!("{path}.items_exclude"),
            format!("`{x}` is both included and excluded"),
        );
    }
}

/// Whether status, code and `ok` can hold together: an error code comes only with a failure,
/// and `ok` only with a 2xx. Returns the field at fault and why.
fn verdict_conflicts(e: &Expect) -> Vec<(&'static str, String)> {
    let mut bad = Vec::new();
    let success = e.status.map(|s| (200..300).contains(&s));
    let code = e.code.as_deref().filter(|c| *c != "none");
    if e.ok == Some(true) && success == Some(false) {
        bad.push((
            "ok",
            format!(
                "`ok` expects a 2xx, `status` {}",
                e.status.unwrap_or_default()
            ),
        ));
    }
    if let (Some(code), true) = (code, success == Some(true) || e.ok == Some(true)) {
        bad.push((
            "code",
            format!("a success carries no error code, yet `{code}` is expected with it"),
        ));
    }
    bad
}
