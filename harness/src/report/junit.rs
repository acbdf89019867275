//! JUnit XML: one `<testsuite>` per area, one `<testcase>` per scenario; failures carry the
//! expected-vs-actual lines of every failing step, errors the transport or provisioning reason,
//! skips their reason. Scenarios that did not run (the run stopped first: `--fail-fast`, an
//! interrupt) are test cases too, `<skipped>` with their `not run: …` reason and counted in
//! `skipped`, so a gate sees as many tests as were selected. A fault scenario's ledger (faults injected, operations acknowledged and
//! lost) and any cleanup warnings go to the test case's `<system-out>`, so a gate that reads
//! only this file still has them (some viewers show `system-out` for failed cases only).
//! Written by hand (the format is small), with XML escaping.

use super::{RunReport, Totals, Verdict};
use std::collections::BTreeMap;
use std::fmt::Write;

/// Escape text for XML attributes and content.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\t' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

pub fn render(report: &RunReport) -> String {
    let mut areas: BTreeMap<&str, Vec<&super::ScenarioResult>> = BTreeMap::new();
    for r in &report.scenarios {
        areas.entry(r.area.as_str()).or_default().push(r);
    }
    let t = &report.totals;
    let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        s,
        "<testsuites name=\"keygate\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{:.3}\">",
        report.scenarios.len(), t.fail, t.error, t.skip + t.not_run, report.duration_ms as f64 / 1000.0
    );
    for (area, rs) in areas {
        let at = Totals::of(rs.iter().copied());
        let _ =
            writeln!(
            s,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\">",
            esc(area), rs.len(), at.fail, at.error, at.skip + at.not_run
        );
        for r in rs {
            let _ = write!(
                s,
                "    <testcase classname=\"keygate.{}\" name=\"{} [{}]\" time=\"{:.3}\"",
                esc(area),
                esc(&r.id),
                esc(&r.rules.join(",")),
                r.duration_ms as f64 / 1000.0
            );
            let reason = esc(r.reason.as_deref().unwrap_or_default());
            let out = system_out(r);
            match r.verdict {
                Verdict::Pass if out.is_empty() => s.push_str("/>\n"),
                Verdict::Pass => {
                    let _ = writeln!(s, ">\n{out}    </testcase>");
                }
                // JUnit has no "not run": a skip whose message says why.
                Verdict::Skip | Verdict::NotRun => {
                    let _ = writeln!(
                        s,
                        ">\n      <skipped message=\"{reason}\"/>\n{out}    </testcase>"
                    );
                }
                Verdict::Error => {
                    let _ = writeln!(
                        s,
                        ">\n      <error message=\"{reason}\"/>\n{out}    </testcase>"
                    );
                }
                Verdict::Fail => {
                    let mut body = String::new();
                    for st in r.steps.iter().filter(|st| st.verdict != Verdict::Pass) {
                        let _ = writeln!(
                            body,
                            "{} ({} as {}): expected {}, got {}",
                            st.origin, st.op, st.as_, st.expected, st.actual
                        );
                        for m in &st.mismatches {
                            let _ = writeln!(body, "  - {m}");
                        }
                    }
                    let _ = writeln!(
                        s,
                        ">\n      <failure message=\"{reason}\">{}</failure>\n{out}    </testcase>",
                        esc(&body)
                    );
                }
            }
        }
        s.push_str("  </testsuite>\n");
    }
    s.push_str("</testsuites>\n");
    s
}

/// The `<system-out>` element of a test case (with its indentation and newline), or nothing:
/// the fault ledger, then one line per cleanup warning.
fn system_out(r: &super::ScenarioResult) -> String {
    let mut lines = Vec::new();
    if let Some(f) = &r.faults {
        lines.push(f.to_string());
    }
    lines.extend(r.warnings.iter().map(|w| format!("warning: {w}")));
    match lines.is_empty() {
        true => String::new(),
        false => format!(
            "      <system-out>{}</system-out>\n",
            esc(&lines.join("\n"))
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{FaultTally, ScenarioResult};
    use quick_xml::events::Event;
    use std::path::PathBuf;

    fn scenario(id: &str, verdict: Verdict) -> ScenarioResult {
        ScenarioResult {
            id: id.into(),
            title: id.into(),
            area: "faults".into(),
            tags: Vec::new(),
            rules: vec!["X4".into()],
            file: PathBuf::from(format!("scenarios/faults/{id}.toml")),
            verdict,
            reason: (verdict != Verdict::Pass).then(|| format!("why {id}")),
            duration_ms: 1,
            steps: Vec::new(),
            warnings: Vec::new(),
            faults: None,
        }
    }

    fn report(scenarios: Vec<ScenarioResult>) -> RunReport {
        crate::report::fixtures::report(scenarios)
    }

    /// Each test case's name and its `<system-out>` text (unescaped), reading the document
    /// with a real XML parser (so it is also well formed). Checks that `<system-out>` sits
    /// inside its test case, after any `skipped`, `error` or `failure` (the schemas' order).
    fn system_outs(xml: &str) -> Vec<(String, Option<String>)> {
        let mut reader = quick_xml::Reader::from_str(xml);
        let mut cases: Vec<(String, Option<String>)> = Vec::new();
        let (mut in_case, mut in_out) = (false, false);
        loop {
            let event = reader.read_event().expect("well-formed JUnit XML");
            let (start, name) = match &event {
                Event::Start(e) => (true, e.name().as_ref().to_vec()),
                Event::Empty(e) => (false, e.name().as_ref().to_vec()),
                _ => (false, Vec::new()),
            };
            match event {
                Event::Start(e) | Event::Empty(e) if name == b"testcase" => {
                    let case = e
                        .try_get_attribute("name")
                        .unwrap()
                        .unwrap()
                        .unescape_value()
                        .unwrap()
                        .into_owned();
                    cases.push((case, None));
                    in_case = start;
                }
                Event::End(e) if e.name().as_ref() == b"testcase" => in_case = false,
                Event::Start(_) | Event::Empty(_)
                    if matches!(&name[..], b"skipped" | b"error" | b"failure") =>
                {
                    let (case, name) = (cases.last(), String::from_utf8_lossy(&name));
                    let case = case.expect("inside a test case");
                    assert!(in_case, "{name} outside a test case");
                    assert!(case.1.is_none(), "{name} after system-out in {}", case.0);
                }
                Event::Start(_) if name == b"system-out" => {
                    assert!(in_case, "system-out outside a test case");
                    in_out = true;
                }
                Event::End(e) if e.name().as_ref() == b"system-out" => in_out = false,
                // Text comes in runs between entity references.
                Event::Text(t) if in_out => push_text(&mut cases, &t.decode().unwrap()),
                Event::GeneralRef(r) if in_out => {
                    let name = r.decode().unwrap();
                    let c = quick_xml::escape::resolve_predefined_entity(&name).unwrap();
                    push_text(&mut cases, c);
                }
                Event::Eof => return cases,
                _ => {}
            }
        }
    }

    fn push_text(cases: &mut [(String, Option<String>)], text: &str) {
        let case = cases.last_mut().expect("system-out inside a test case");
        case.1.get_or_insert_with(String::new).push_str(text);
    }

    #[test]
    fn scenarios_that_did_not_run_are_skipped_test_cases() {
        let mut stopped = scenario("later", Verdict::NotRun);
        stopped.reason = Some("not run: interrupted by SIGINT".into());
        let xml = render(&report(vec![
            scenario("first", Verdict::Fail),
            stopped,
            scenario("skipped", Verdict::Skip),
        ]));
        assert!(
            xml.contains("<testsuites name=\"keygate\" tests=\"3\" failures=\"1\" errors=\"0\" skipped=\"2\""),
            "{xml}"
        );
        assert!(
            xml.contains(
                "<testsuite name=\"faults\" tests=\"3\" failures=\"1\" errors=\"0\" skipped=\"2\">"
            ),
            "{xml}"
        );
        assert!(
            xml.contains(
                "name=\"later [X4]\" time=\"0.001\">\n      <skipped message=\"not run: interrupted by SIGINT\"/>\n    </testcase>"
            ),
            "{xml}"
        );
        // Well formed, each `skipped` inside its test case.
        assert_eq!(system_outs(&xml).len(), 3);
    }

    #[test]
    fn fault_ledgers_and_warnings_reach_the_junit_file() {
        let mut lost = scenario("faults-restart", Verdict::Fail);
        lost.faults = Some(FaultTally {
            injected: 2,
            acknowledged: 40,
            lost: 1,
        });
        let mut kept = scenario("faults-pause", Verdict::Pass);
        kept.faults = Some(FaultTally {
            injected: 1,
            acknowledged: 12,
            lost: 0,
        });
        kept.warnings = vec!["cleanup: bucket <b> & co left".into()];
        let mut skipped = scenario("faults-kill", Verdict::Skip);
        skipped.warnings = vec!["w".into()];
        let plain = scenario("plain", Verdict::Pass);
        let errored = scenario("errored", Verdict::Error);
        let xml = render(&report(vec![lost, kept, skipped, plain, errored]));
        let outs = system_outs(&xml);
        let out = |id: &str| {
            outs.iter()
                .find(|(name, _)| name.starts_with(&format!("{id} [")))
                .unwrap_or_else(|| panic!("{id} is a test case: {xml}"))
                .1
                .clone()
        };
        assert_eq!(
            out("faults-restart").as_deref(),
            Some("faults injected 2, operations acknowledged 40, operations lost 1")
        );
        assert_eq!(
            out("faults-pause").as_deref(),
            Some(
                "faults injected 1, operations acknowledged 12, operations lost 0\n\
                 warning: cleanup: bucket <b> & co left"
            )
        );
        assert_eq!(out("faults-kill").as_deref(), Some("warning: w"));
        assert_eq!(out("plain"), None);
        assert_eq!(out("errored"), None);
        assert!(xml.contains(
            "<testcase classname=\"keygate.faults\" name=\"plain [X4]\" time=\"0.001\"/>"
        ));
    }
}
