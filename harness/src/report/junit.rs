//! JUnit XML: one `<testsuite>` per area, one `<testcase>` per scenario; failures carry the
//! expected-vs-actual lines of every failing step, errors the transport or provisioning reason,
//! skips their reason. Written by hand (the format is small), with XML escaping.

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
        report.scenarios.len(), t.fail, t.error, t.skip, report.duration_ms as f64 / 1000.0
    );
    for (area, rs) in areas {
        let at = Totals::of(rs.iter().copied());
        let _ =
            writeln!(
            s,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\">",
            esc(area), rs.len(), at.fail, at.error, at.skip
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
            match r.verdict {
                Verdict::Pass => s.push_str("/>\n"),
                Verdict::Skip => {
                    let _ = writeln!(
                        s,
                        ">\n      <skipped message=\"{reason}\"/>\n    </testcase>"
                    );
                }
                Verdict::Error => {
                    let _ = writeln!(s, ">\n      <error message=\"{reason}\"/>\n    </testcase>");
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
                        ">\n      <failure message=\"{reason}\">{}</failure>\n    </testcase>",
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
