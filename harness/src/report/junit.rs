//! JUnit XML: one `<testsuite>` per area, one `<testcase>` per scenario; failures carry the
//! expected-vs-actual lines of every failing step, errors the transport or provisioning reason,
//! skips their reason. Scenarios that did not run (the run stopped first: `--fail-fast`, an
//! interrupt) are test cases too, `<skipped>` with their `not run: …` reason and counted in
//! `skipped`, so a gate sees as many tests as were selected. A fault scenario's ledger (faults
//! injected, operations acknowledged and lost) and any cleanup warnings go to the test case's
//! `<system-out>`, so a gate that reads only this file still has them (some viewers show
//! `system-out` for failed cases only).
//!
//! Enough to diagnose a failure without `report.json`: each failing or erroring step adds its
//! request line (method and path), the response's status and code, its `x-amz-request-id`
//! and a short excerpt of its body, taken from the step's report entry (so redacted as
//! `report.json` is: session tokens cut, credentials in bodies replaced).
//!
//! Test case names are the scenario ids alone, stable across rule changes so CI keeps each
//! test's history; the rules are a `rules` property of the case, the scenario file its `file`
//! attribute, and each suite's `<properties>` carry the run id (`run_id`), target and
//! transport. Written by hand (the format is small), with XML escaping.
//!
//! With `--known-failures`, a listed scenario that failed is a `<skipped>` whose message gives
//! why it is listed (its steps are the element's text), and one that passed is a `<failure>`
//! saying the list is stale, so the counts agree with the exit code.

use super::{known, RunReport, ScenarioResult, StepResult, Totals, Verdict};
use std::collections::BTreeMap;
use std::fmt::Write;

/// Characters of a response body quoted in a failure.
const BODY_EXCERPT: usize = 300;

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
    let mut areas: BTreeMap<&str, Vec<&ScenarioResult>> = BTreeMap::new();
    for r in &report.scenarios {
        areas.entry(r.area.as_str()).or_default().push(r);
    }
    let t = &report.totals;
    let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        s,
        "<testsuites name=\"keygate\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{:.3}\">",
        report.scenarios.len(), failures(t), t.error, skipped(t), report.duration_ms as f64 / 1000.0
    );
    let properties = suite_properties(report);
    for (area, rs) in areas {
        let at = Totals::of(rs.iter().copied());
        let _ =
            writeln!(
            s,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\">",
            esc(area), rs.len(), failures(&at), at.error, skipped(&at)
        );
        s.push_str(&properties);
        for r in rs {
            testcase(&mut s, area, r);
        }
        s.push_str("  </testsuite>\n");
    }
    s.push_str("</testsuites>\n");
    s
}

/// `<failure>` elements: failures not on the known-failures list, and listed passes.
fn failures(t: &Totals) -> usize {
    t.fail - t.known_failures + t.unexpected_passes
}

/// `<skipped>` elements: skips, scenarios that did not run, and known failures.
fn skipped(t: &Totals) -> usize {
    t.skip + t.not_run + t.known_failures
}

/// A suite's `<properties>`: the run id, the target and the transport.
fn suite_properties(report: &RunReport) -> String {
    let info = &report.target.info;
    let mut s = String::from("    <properties>\n");
    for (name, value) in [
        ("run_id", report.run_id.as_str()),
        ("target", info.kind.as_str()),
        ("endpoint", info.endpoint.as_str()),
        ("profile", info.profile.as_str()),
        ("transport", report.transport.as_str()),
    ] {
        let _ = writeln!(
            s,
            "      <property name=\"{name}\" value=\"{}\"/>",
            esc(value)
        );
    }
    s.push_str("    </properties>\n");
    s
}

fn testcase(s: &mut String, area: &str, r: &ScenarioResult) {
    let _ = write!(
        s,
        "    <testcase classname=\"keygate.{}\" name=\"{}\" file=\"{}\" time=\"{:.3}\"",
        esc(area),
        esc(&r.id),
        esc(&r.file.display().to_string()),
        r.duration_ms as f64 / 1000.0
    );
    let mut inner = String::new();
    if !r.rules.is_empty() {
        let _ = write!(
            inner,
            "      <properties>\n        <property name=\"rules\" value=\"{}\"/>\n      </properties>\n",
            esc(&r.rules.join(","))
        );
    }
    let reason = esc(r.reason.as_deref().unwrap_or_default());
    if let Some(why) = r.known_failure.as_deref() {
        // Shown as the exit code judges it: a known failure as a skip (its steps follow in
        // the message's text), a listed scenario that passed as a failure.
        if known::is_known(r) {
            let _ = writeln!(
                inner,
                "      <skipped message=\"known failure ({}): {reason}\">{}</skipped>",
                esc(why),
                esc(&steps_text(r))
            );
        } else if known::is_unexpected_pass(r) {
            let _ = writeln!(
                inner,
                "      <failure message=\"listed as a known failure ({}), but passed: delete \
                 its line from the list\"/>",
                esc(why)
            );
        }
    }
    match r.verdict {
        _ if known::is_known(r) || known::is_unexpected_pass(r) => {}
        Verdict::Pass => {}
        // JUnit has no "not run": a skip whose message says why.
        Verdict::Skip | Verdict::NotRun => {
            let _ = writeln!(inner, "      <skipped message=\"{reason}\"/>");
        }
        Verdict::Error | Verdict::Fail => {
            let element = if r.verdict == Verdict::Fail {
                "failure"
            } else {
                "error"
            };
            let body = steps_text(r);
            if body.is_empty() {
                let _ = writeln!(inner, "      <{element} message=\"{reason}\"/>");
            } else {
                let _ = writeln!(
                    inner,
                    "      <{element} message=\"{reason}\">{}</{element}>",
                    esc(&body)
                );
            }
        }
    }
    inner.push_str(&system_out(r));
    if inner.is_empty() {
        s.push_str("/>\n");
    } else {
        let _ = writeln!(s, ">\n{inner}    </testcase>");
    }
}

/// Every step that did not pass: expected vs actual, the mismatches, then what went over the
/// wire (request line, response status, code and request id, a body excerpt).
fn steps_text(r: &ScenarioResult) -> String {
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
        wire(&mut body, st);
    }
    body
}

/// The request line, the response line and a body excerpt of a step, from its report entry.
fn wire(body: &mut String, st: &StepResult) {
    if let Some(line) = request_line(&st.request) {
        let _ = writeln!(body, "  request: {line}");
    }
    if st.transport_error {
        let _ = writeln!(body, "  response: none (transport error)");
        return;
    }
    let mut parts = st.response.splitn(2, "\n\n");
    let head = parts.next().unwrap_or_default();
    let text = parts.next().unwrap_or_default();
    let mut lines = head.lines();
    let Some(status) = lines.next().filter(|l| !l.is_empty()) else {
        return;
    };
    let request_id = lines.find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.eq_ignore_ascii_case("x-amz-request-id")
            .then(|| value.trim().to_owned())
    });
    match request_id {
        Some(id) => {
            let _ = writeln!(body, "  response: {status}; x-amz-request-id: {id}");
        }
        None => {
            let _ = writeln!(body, "  response: {status}");
        }
    }
    let flat = one_line(text);
    if !flat.is_empty() {
        let _ = writeln!(body, "  body: {flat}");
    }
}

/// `GET /bucket/key?query` from a rendered request (`GET http://host:port/bucket/key?query`
/// then its headers): the method and the path, without the scheme and host.
fn request_line(request: &str) -> Option<String> {
    let first = request.lines().next()?.trim();
    let (method, uri) = first.split_once(' ')?;
    let path = match uri.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("/", |i| &rest[i..]),
        None => uri,
    };
    Some(format!("{method} {}", cut(path, 200)))
}

/// Whitespace runs as one space, at most [`BODY_EXCERPT`] characters.
fn one_line(text: &str) -> String {
    let words = text.split_whitespace().collect::<Vec<_>>().join(" ");
    cut(&words, BODY_EXCERPT)
}

fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    s.chars().take(max).collect::<String>() + "…"
}

/// The `<system-out>` element of a test case (with its indentation and newline), or nothing:
/// the fault ledger, then one line per cleanup warning.
fn system_out(r: &ScenarioResult) -> String {
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
            known_failure: None,
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
    fn known_failures_are_skips_and_listed_passes_are_failures() {
        let listed = |id: &str, verdict| {
            let mut r = scenario(id, verdict);
            r.known_failure = Some(format!("VENDOR <{id}>"));
            r
        };
        let xml = render(&report(vec![
            listed("known", Verdict::Fail),
            listed("fixed", Verdict::Pass),
            scenario("plain", Verdict::Fail),
        ]));
        assert!(
            xml.contains("<testsuites name=\"keygate\" tests=\"3\" failures=\"2\" errors=\"0\" skipped=\"1\""),
            "{xml}"
        );
        assert!(
            xml.contains(
                "<skipped message=\"known failure (VENDOR &lt;known&gt;): why known\"></skipped>"
            ) && xml.contains(
                "<failure message=\"listed as a known failure (VENDOR &lt;fixed&gt;), but \
                 passed: delete its line from the list\"/>"
            ) && xml.contains("<failure message=\"why plain\"/>"),
            "{xml}"
        );
        assert!(!xml.contains("<failure message=\"why known\""), "{xml}");
        // Well-formed.
        let mut reader = quick_xml::Reader::from_str(&xml);
        loop {
            match reader.read_event().expect("well-formed XML") {
                Event::Eof => break,
                _ => continue,
            }
        }
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
                "name=\"later\" file=\"scenarios/faults/later.toml\" time=\"0.001\">\n      \
                 <properties>\n        <property name=\"rules\" value=\"X4\"/>\n      </properties>\n      \
                 <skipped message=\"not run: interrupted by SIGINT\"/>\n    </testcase>"
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
                .find(|(name, _)| name == id)
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
            "<testcase classname=\"keygate.faults\" name=\"plain\" file=\"scenarios/faults/plain.toml\" time=\"0.001\">\n      <properties>"
        ), "{xml}");
    }

    fn step(verdict: Verdict, request: &str, response: &str) -> crate::report::StepResult {
        crate::report::StepResult {
            mismatches: vec!["status: expected 403, got 200".into()],
            request: request.into(),
            response: response.into(),
            ..crate::report::fixtures::step("steps[1]", verdict)
        }
    }

    /// The text of the first `element` (unescaped), read with a real XML parser.
    fn element_text(xml: &str, element: &[u8]) -> String {
        let mut reader = quick_xml::Reader::from_str(xml);
        let (mut inside, mut text) = (false, String::new());
        loop {
            match reader.read_event().expect("well-formed JUnit XML") {
                Event::Start(e) if e.name().as_ref() == element => inside = true,
                Event::End(e) if e.name().as_ref() == element => return text,
                Event::Text(t) if inside => text.push_str(&t.decode().unwrap()),
                Event::GeneralRef(r) if inside => {
                    let name = r.decode().unwrap();
                    text.push_str(quick_xml::escape::resolve_predefined_entity(&name).unwrap());
                }
                Event::Eof => panic!("no {}", String::from_utf8_lossy(element)),
                _ => {}
            }
        }
    }

    #[test]
    fn a_failure_carries_the_request_the_response_and_its_request_id() {
        let mut failed = scenario("policy-auth-before-existence", Verdict::Fail);
        failed.rules = vec!["E7".into(), "P1".into()];
        failed.steps = vec![
            step(
                Verdict::Pass,
                "GET http://127.0.0.1:9/ok\n",
                "200\nx-amz-request-id: PASSED\n",
            ),
            step(
                Verdict::Fail,
                "GET http://127.0.0.1:9000/kg-b1-data/secret%2Fx.txt?versionId=1\n\
                 x-amz-security-token: KG1.abcd…\n",
                "200\ncontent-type: application/xml\nx-amz-request-id: 18A2B3C4\n\n\
                 <Result>\n  <SecretAccessKey>** redacted **</SecretAccessKey>\n</Result>",
            ),
        ];
        let mut errored = scenario("sts-unreachable", Verdict::Error);
        errored.steps = vec![crate::report::StepResult {
            transport_error: true,
            ..step(
                Verdict::Error,
                "PUT http://127.0.0.1:9000/b/k\n",
                "transport error: refused\n",
            )
        }];
        let mut report = report(vec![failed, errored]);
        report.run_id = "20260101-000000-abc123".into();
        let xml = render(&report);

        let failure = element_text(&xml, b"failure");
        assert!(
            failure.contains(
                "steps[1] (get_object as alice): expected 403 AccessDenied, got 200\n\
                 \x20 - status: expected 403, got 200\n\
                 \x20 request: GET /kg-b1-data/secret%2Fx.txt?versionId=1\n\
                 \x20 response: 200; x-amz-request-id: 18A2B3C4\n\
                 \x20 body: <Result> <SecretAccessKey>** redacted **</SecretAccessKey> </Result>\n"
            ),
            "{failure}"
        );
        assert!(!failure.contains("PASSED"), "only failing steps: {failure}");
        assert!(!failure.contains("127.0.0.1"), "{failure}");
        let error = element_text(&xml, b"error");
        assert!(
            error.contains("  request: PUT /b/k\n  response: none (transport error)\n"),
            "{error}"
        );

        // Stable names; the rules, the file and the run id beside them.
        assert!(
            xml.contains(
                "<testcase classname=\"keygate.faults\" name=\"policy-auth-before-existence\" \
                 file=\"scenarios/faults/policy-auth-before-existence.toml\" time=\"0.001\">\n      \
                 <properties>\n        <property name=\"rules\" value=\"E7,P1\"/>\n      </properties>\n"
            ),
            "{xml}"
        );
        assert!(
            xml.contains("<property name=\"run_id\" value=\"20260101-000000-abc123\"/>"),
            "{xml}"
        );
        assert!(!xml.contains("[E7"), "{xml}");
    }
}
