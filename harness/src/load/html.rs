//! `load.html`: one self-contained page per load report, plots as inline SVG (no script, no
//! external asset): latency by percentile (log-scaled "nines" axis, from each run's merged
//! HDR histogram) and throughput per second of the steady window, one line per run. A run's
//! result (and why it failed) and its gate on a baseline head the page.

use super::report::{decode, LoadReport};
use std::fmt::Write;

const W: f64 = 720.0;
const H: f64 = 260.0;
const PAD: f64 = 48.0;
const COLOURS: [&str; 6] = [
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b",
];

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A line chart of `series` (label, points in data space), linear axes.
fn chart(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[(String, Vec<(f64, f64)>)],
) -> String {
    let xmax = series
        .iter()
        .flat_map(|(_, p)| p.iter().map(|q| q.0))
        .fold(1e-9, f64::max);
    let ymax = series
        .iter()
        .flat_map(|(_, p)| p.iter().map(|q| q.1))
        .fold(1e-9, f64::max)
        * 1.1;
    let sx = |x: f64| PAD + x / xmax * (W - 2.0 * PAD);
    let sy = |y: f64| H - PAD + -(y / ymax) * (H - 2.0 * PAD);
    let mut o = String::new();
    let _ = write!(
        o,
        r#"<h3>{}</h3><svg width="{W}" height="{H}" viewBox="0 0 {W} {H}" xmlns="http://www.w3.org/2000/svg" font-size="11">"#,
        esc(title)
    );
    let _ = write!(
        o,
        r##"<line x1="{PAD}" y1="{b}" x2="{r}" y2="{b}" stroke="#444"/><line x1="{PAD}" y1="{PAD}" x2="{PAD}" y2="{b}" stroke="#444"/>"##,
        b = H - PAD,
        r = W - PAD
    );
    for i in 0..=4 {
        let y = ymax * i as f64 / 4.0;
        let _ = write!(
            o,
            r##"<text x="{}" y="{}" text-anchor="end">{:.0}</text><line x1="{PAD}" x2="{}" y1="{2}" y2="{2}" stroke="#ddd"/>"##,
            PAD - 4.0,
            sy(y) + 4.0,
            y,
            W - PAD
        );
    }
    let _ = write!(
        o,
        r#"<text x="{}" y="{}" text-anchor="middle">{}</text><text x="12" y="{}" transform="rotate(-90 12 {})" text-anchor="middle">{}</text>"#,
        W / 2.0,
        H - 10.0,
        esc(x_label),
        H / 2.0,
        H / 2.0,
        esc(y_label)
    );
    for (i, (label, pts)) in series.iter().enumerate() {
        let c = COLOURS[i % COLOURS.len()];
        let path: Vec<String> = pts
            .iter()
            .map(|(x, y)| format!("{:.1},{:.1}", sx(*x), sy(*y)))
            .collect();
        let _ = write!(
            o,
            r#"<polyline fill="none" stroke="{c}" stroke-width="1.5" points="{}"/><text x="{}" y="{}" fill="{c}">{}</text>"#,
            path.join(" "),
            W - PAD - 150.0,
            PAD + 14.0 * i as f64,
            esc(label)
        );
    }
    o.push_str("</svg>");
    o
}

/// Server CPU per transaction type, for the runs that have it.
fn cpu_table(report: &LoadReport) -> String {
    let mut o = String::new();
    for (i, r) in report.runs.iter().enumerate() {
        let Some(at) = &r.cpu_attribution else {
            continue;
        };
        let _ = write!(
            o,
            "<h3>Server CPU per transaction, {} #{} (µs per request)</h3><table border=1 cellpadding=4 style=\"border-collapse:collapse\"><tr><th>transaction</th><th>server operation</th><th>handler (measured, sampled)</th><th>unattributed share (estimate)</th><th>total (estimate)</th></tr>",
            esc(&r.target),
            i + 1
        );
        for t in &r.transactions {
            if let Some(c) = &t.server_cpu {
                let _ = write!(
                    o,
                    "<tr><td>{}</td><td>{}</td><td>{:.1}</td><td>{:.1}</td><td>{:.1}</td></tr>",
                    esc(&t.name),
                    esc(&c.operation),
                    c.handler_us,
                    c.unattributed_us,
                    c.estimate_us
                );
            }
        }
        let _ = write!(o, "</table><p><small>{}</small></p>", esc(&at.method));
    }
    o
}

/// The run's result (and its gate) at the top of the page: a failed run says so, and why,
/// before any figure.
fn verdict(report: &LoadReport) -> String {
    let Some(r) = &report.result else {
        return String::new();
    };
    let colour = if r.failures.is_empty() {
        "#2ca02c"
    } else {
        "#d62728"
    };
    let mut o = format!(
        "<p style=\"color:{colour}\"><b>{} (exit {})</b></p>",
        esc(&r.verdict),
        r.exit_code
    );
    if !r.failures.is_empty() {
        o.push_str("<ul>");
        for f in &r.failures {
            let _ = write!(o, "<li>{}</li>", esc(f));
        }
        o.push_str("</ul>");
    }
    if let Some(g) = &report.gate {
        let _ = write!(
            o,
            "<p>Gated on baseline <code>{}</code> (run {}), max regression {}%: {}</p>",
            esc(&g.baseline),
            esc(&g.baseline_run_id),
            super::report::percent(g.max_regression),
            esc(&g.verdict)
        );
    }
    o
}

pub fn render(report: &LoadReport) -> String {
    let mut latency = Vec::new();
    let mut throughput = Vec::new();
    for (i, r) in report.runs.iter().enumerate() {
        let label = format!("{} #{}", r.target, i + 1);
        if let Ok(h) = decode(&r.histogram) {
            // x: "nines" (0 = p0, 1 = p90, 2 = p99, 3 = p99.9, 4 = p99.99).
            let pts = (0..=80)
                .map(|k| {
                    let nines = k as f64 / 20.0;
                    let q = 1.0 - 10f64.powf(-nines);
                    (nines, h.value_at_quantile(q) as f64)
                })
                .collect();
            latency.push((label.clone(), pts));
        }
        let pts = r
            .per_second
            .iter()
            .enumerate()
            .map(|(s, n)| (s as f64, *n as f64))
            .collect();
        throughput.push((label, pts));
    }
    let mut o = String::new();
    let _ = write!(
        o,
        "<!doctype html><meta charset=utf-8><title>keygate load {}</title><body style=\"font-family:sans-serif\"><h2>keygate load: plan {} ({})</h2>{}<pre>{}</pre>",
        esc(&report.run_id),
        esc(&report.plan),
        esc(&report.run_id),
        verdict(report),
        esc(&super::report::console(report))
    );
    o.push_str(&cpu_table(report));
    o.push_str(&chart(
        "Latency by percentile (x: nines, 1 = p90, 2 = p99, 3 = p99.9)",
        "percentile (nines)",
        "µs",
        &latency,
    ));
    o.push_str(&chart(
        "Throughput per second of the steady window",
        "second",
        "requests started",
        &throughput,
    ));
    o.push_str("</body>");
    o
}
