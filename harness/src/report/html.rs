//! `report.html`: one self-contained page (inline CSS, no scripts, no external assets) with the
//! summary, per-area results (scenarios that did not run counted apart from skips), the fault
//! scenarios' ledgers, the SPEC rule coverage table (uncovered rules listed) and every failure
//! or error with its request and response excerpts, transport errors marked as such. All text
//! is escaped.

use super::junit::esc;
use super::{RunReport, Totals, Verdict};
use std::collections::BTreeMap;
use std::fmt::Write;

const CSS: &str = "body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:1em 0}\
td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left;vertical-align:top}\
.pass{color:#176f2c}.fail{color:#b00020;font-weight:bold}.error{color:#a35200;font-weight:bold}.skip{color:#666}.not_run{color:#666;font-style:italic}\
.none{color:#999}pre{background:#f6f6f6;padding:.5em;overflow-x:auto;max-height:20em;font-size:85%}";

fn verdict(v: Option<Verdict>) -> String {
    match v {
        Some(v) => format!(
            "<span class=\"{}\">{}</span>",
            v.as_str(),
            v.as_str().replace('_', " ")
        ),
        None => "<span class=\"none\">uncovered</span>".into(),
    }
}

/// What `--known-failures` says of a scenario, after its verdict.
fn listed(r: &super::ScenarioResult) -> String {
    let why = esc(r.known_failure.as_deref().unwrap_or_default());
    if super::known::is_known(r) {
        format!(" <small>(known failure: {why})</small>")
    } else if super::known::is_unexpected_pass(r) {
        format!(
            " <span class=\"fail\">but listed as a known failure ({why}): delete its line</span>"
        )
    } else {
        String::new()
    }
}

pub fn render(report: &RunReport) -> String {
    let mut s = String::new();
    let t = &report.totals;
    let _ = write!(
        s,
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Keygate report {id}</title><style>{CSS}</style></head><body>\
<h1>Keygate conformance report</h1><p>Run <code>{id}</code>, started {start}, {dur:.1} s. Target: {kind} at <code>{ep}</code> over <b>{transport}</b>, \
region {region}, profile <b>{profile}</b>.</p>\
<p><span class=\"pass\">{p} passed</span> · <span class=\"fail\">{f} failed{known}</span> · <span class=\"error\">{e} errors</span> · \
<span class=\"skip\">{sk} skipped</span> · <span class=\"not_run\">{nr} not run</span>{unexpected}</p>",
        id = esc(&report.run_id),
        start = esc(&report.started_at),
        dur = report.duration_ms as f64 / 1000.0,
        kind = esc(&report.target.info.kind),
        ep = esc(&report.target.info.endpoint),
        transport = report.transport.as_str(),
        region = esc(&report.target.info.region),
        profile = report.target.info.profile.as_str(),
        p = t.pass,
        f = t.fail,
        e = t.error,
        sk = t.skip,
        nr = t.not_run,
        // As the console's closing line: known failures do not fail the run, unexpected
        // passes do.
        known = match t.known_failures {
            0 => String::new(),
            n => format!(" ({n} known)"),
        },
        unexpected = match t.unexpected_passes {
            0 => String::new(),
            n => format!(" · <span class=\"fail\">{n} unexpectedly passed</span>"),
        },
    );

    if report.target.clock_advanced_s != 0 {
        let _ = write!(
            s,
            "<p>The run moved the target's clock forward by <b>{} s</b>{}.</p>",
            report.target.clock_advanced_s,
            if report.target.info.kind == "embedded" {
                ""
            } else {
                "; restart the target before the next run"
            }
        );
    }

    let mut areas: BTreeMap<&str, Vec<&super::ScenarioResult>> = BTreeMap::new();
    for r in &report.scenarios {
        areas.entry(r.area.as_str()).or_default().push(r);
    }
    s.push_str("<h2>By area</h2><table><tr><th>area</th><th>pass</th><th>fail</th><th>error</th><th>skip</th><th>not run</th></tr>");
    for (area, rs) in &areas {
        let a = Totals::of(rs.iter().copied());
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(area),
            a.pass,
            a.fail,
            a.error,
            a.skip,
            a.not_run
        );
    }
    s.push_str("</table>");

    s.push_str("<h2>Scenarios</h2><table><tr><th>scenario</th><th>area</th><th>rules</th><th>result</th><th>reason</th></tr>");
    for r in &report.scenarios {
        let _ = write!(
            s,
            "<tr><td><a href=\"#{id}\">{id}</a><br><small>{title}</small></td><td>{area}</td><td>{rules}</td><td>{v}{listed}</td><td>{reason}</td></tr>",
            id = esc(&r.id),
            title = esc(&r.title),
            area = esc(&r.area),
            rules = esc(&r.rules.join(" ")),
            v = verdict(Some(r.verdict)),
            listed = listed(r),
            reason = esc(r.reason.as_deref().unwrap_or_default()),
        );
    }
    s.push_str("</table>");

    faults(&mut s, report);
    let _ = write!(
        s,
        "<h2>SPEC rule coverage</h2><p>{}</p>",
        esc(&report.rule_totals.to_string())
    );
    s.push_str("<table><tr><th>rule</th><th>result</th><th>scenarios</th></tr>");
    for c in &report.rules {
        let list: Vec<String> = c
            .scenarios
            .iter()
            .map(|(id, v)| format!("<a href=\"#{0}\">{0}</a> {1}", esc(id), verdict(Some(*v))))
            .collect();
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&c.rule),
            verdict(c.verdict),
            list.join("<br>")
        );
    }
    s.push_str("</table>");
    let uncovered: Vec<&str> = report
        .rules
        .iter()
        .filter(|c| c.verdict.is_none())
        .map(|c| c.rule.as_str())
        .collect();
    let _ = write!(
        s,
        "<p>Uncovered rules ({}): {}</p>",
        uncovered.len(),
        esc(&uncovered.join(", "))
    );

    s.push_str("<h2>Failures and errors</h2>");
    for r in report
        .scenarios
        .iter()
        .filter(|r| matches!(r.verdict, Verdict::Fail | Verdict::Error))
    {
        let _ = write!(
            s,
            "<h3 id=\"{id}\">{id} — {v}{listed}</h3><p>{file} · rules {rules}<br>{reason}</p>",
            id = esc(&r.id),
            v = verdict(Some(r.verdict)),
            listed = listed(r),
            file = esc(&r.file.display().to_string()),
            rules = esc(&r.rules.join(" ")),
            reason = esc(r.reason.as_deref().unwrap_or_default()),
        );
        for st in r.steps.iter().filter(|st| st.verdict != Verdict::Pass) {
            let _ = write!(
                s,
                "<h4>{origin}: {op} as {who} — {v}{kind}</h4><p>expected <b>{exp}</b>, got <b>{act}</b></p><ul>",
                origin = esc(&st.origin),
                op = esc(&st.op),
                who = esc(&st.as_),
                v = verdict(Some(st.verdict)),
                kind = if st.transport_error { " (transport error: no answer, not a rule's failure)" } else { "" },
                exp = esc(&st.expected),
                act = esc(&st.actual),
            );
            for m in &st.mismatches {
                let _ = write!(s, "<li>{}</li>", esc(m));
            }
            let _ = write!(
                s,
                "</ul><p>Request</p><pre>{}</pre><p>Response</p><pre>{}</pre>",
                esc(&st.request),
                esc(&st.response)
            );
        }
    }
    s.push_str("</body></html>\n");
    s
}

/// The ledger of every scenario that injected faults (none: no section).
fn faults(s: &mut String, report: &RunReport) {
    let with: Vec<_> = report
        .scenarios
        .iter()
        .filter_map(|r| r.faults.map(|f| (r, f)))
        .collect();
    if with.is_empty() {
        return;
    }
    s.push_str(
        "<h2>Faults</h2><table><tr><th>scenario</th><th>result</th><th>faults injected</th>\
<th>operations acknowledged</th><th>operations lost</th></tr>",
    );
    for (r, f) in with {
        let lost = if f.lost > 0 { "fail" } else { "pass" };
        let _ = write!(
            s,
            "<tr><td><a href=\"#{id}\">{id}</a></td><td>{v}</td><td>{}</td><td>{}</td><td class=\"{lost}\">{}</td></tr>",
            f.injected,
            f.acknowledged,
            f.lost,
            id = esc(&r.id),
            v = verdict(Some(r.verdict)),
        );
    }
    s.push_str("</table>");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::ScenarioResult;

    fn result(id: &str, verdict: Verdict) -> ScenarioResult {
        crate::report::fixtures::result(id, &["U1"], verdict)
    }

    #[test]
    fn known_failures_and_listed_passes_are_marked() {
        let listed = |id: &str, verdict| {
            let mut r = result(id, verdict);
            r.known_failure = Some(format!("T-{id}"));
            r
        };
        let html = render(&crate::report::fixtures::report(vec![
            listed("a", Verdict::Fail),
            listed("b", Verdict::Pass),
        ]));
        assert!(
            html.contains(
                "<h3 id=\"a\">a — <span class=\"fail\">fail</span> <small>(known failure: T-a)</small></h3>"
            ),
            "{html}"
        );
        assert!(
            html.contains(
                "<span class=\"pass\">pass</span> <span class=\"fail\">but listed as a known failure (T-b): delete its line</span>"
            ),
            "{html}"
        );
        // The header counts them as the console's closing line does.
        assert!(
            html.contains("<span class=\"fail\">1 failed (1 known)</span>")
                && html.contains("<span class=\"fail\">1 unexpectedly passed</span>"),
            "{html}"
        );
    }

    #[test]
    fn scenarios_that_did_not_run_are_shown_and_counted_as_such() {
        let report = crate::report::fixtures::report(vec![
            result("a", Verdict::Pass),
            result("b", Verdict::NotRun),
        ]);
        let html = render(&report);
        assert!(
            html.contains("<span class=\"not_run\">1 not run</span>"),
            "{html}"
        );
        assert!(
            html.contains("<tr><td>s3</td><td>1</td><td>0</td><td>0</td><td>0</td><td>1</td></tr>"),
            "{html}"
        );
        // The rule both name is not shown as passing, nor counted as verified.
        assert!(
            html.contains("<tr><td>U1</td><td><span class=\"not_run\">not run</span></td>"),
            "{html}"
        );
        assert!(
            html.contains(
                "<p>rules: 0 verified, 0 failed, 1 unverified (skipped, not run or in error)</p>"
            ),
            "{html}"
        );
    }
}
