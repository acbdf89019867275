//! Proof that the suite can fail (issue 5): the scenario library run against two deliberately
//! wrong targets must report failures, and those failures must name the rules broken.
//!
//! Both targets are the reference server behind [`proxy`], which rewrites identities:
//! - `allow_all_signed`: every request signed by a known key is re-signed as the root, so no
//!   policy ever denies (E1, U3, S4, A3, ... must fail);
//! - `ignore_tokens`: session tokens are ignored and STS / service-account keys act as their
//!   parent user (S4, S6, A3, A6, U5, ... must fail).
//!
//! Besides the named scenarios, two properties keep "nothing passed that should not":
//! under `allow_all_signed` no SDK step by a non-root identity that expects `AccessDenied` may
//! pass; under `ignore_tokens` no step expecting `InvalidTokenId` or `ExpiredToken` may pass.
//! Control scenarios that use only the root must still pass, so the failures come from the
//! wrong identity handling and not from the proxy. The load-sized scenarios (tag `limits`) are
//! left out: they prove nothing more here and cost the most.
#![cfg(feature = "embedded")]

mod proxy;

use keygate::cli;
use keygate::report::{self, RunMeta, RunReport, ScenarioResult, Verdict};
use keygate::run::runner::{self, Plan};
use keygate::scenario::{Profile, Scenario};
use keygate::target::admin::{AdminTarget, Guard};
use keygate::target::{Target, TargetInfo};
use proxy::Mode;
use std::collections::BTreeSet;
use std::path::Path;

/// Stops the proxy, then the server behind it.
#[derive(Debug)]
struct Stop {
    proxy: tokio::task::JoinHandle<()>,
    inner: Option<Box<dyn Guard>>,
}

#[async_trait::async_trait]
impl Guard for Stop {
    async fn stop(&self) {
        self.proxy.abort();
        if let Some(g) = &self.inner {
            g.stop().await;
        }
    }
}

fn library() -> Vec<Scenario> {
    let lib = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    cli::load_paths(&[lib])
        .expect("library validates")
        .into_iter()
        .filter(|s| !s.def.tags.iter().any(|t| t == "limits"))
        .collect()
}

async fn run_against(mode: Mode, scenarios: &[Scenario]) -> RunReport {
    let AdminTarget {
        info,
        root,
        posix_root,
        clock,
        http,
        guard,
    } = keygate::target::embedded::start(None)
        .await
        .expect("server starts");
    let p = proxy::start(mode, &info.endpoint, &info.region, root.clone())
        .await
        .expect("proxy starts");
    let target = AdminTarget {
        info: TargetInfo {
            kind: format!("wrong:{mode:?}"),
            endpoint: p.endpoint.clone(),
            ..info
        },
        root,
        posix_root,
        clock,
        http,
        guard: Some(Box::new(Stop {
            proxy: p.task,
            inner: guard,
        })),
    };
    let plan = Plan {
        filter: None,
        tags: Vec::new(),
        jobs: 4,
        fail_fast: false,
        profile: Profile::Reference,
        progress: false,
        interrupt: keygate::interrupt::Interrupt::never(),
        known: None,
    };
    let results = runner::run_all(&target, scenarios, &plan, "wt")
        .await
        .expect("run completes");
    target.shutdown().await;
    let meta = RunMeta {
        run_id: format!("wrong-{mode:?}"),
        started_at: String::new(),
        duration_ms: 0,
        target: target.info(),
        filter: None,
        tags: Vec::new(),
        clock_advanced_s: target.clock().advanced_s(),
        known_failures: None,
    };
    RunReport::new(meta, results, &report::rules::builtin())
}

fn by_id<'a>(report: &'a RunReport, id: &str) -> &'a ScenarioResult {
    report
        .scenarios
        .iter()
        .find(|s| s.id == id)
        .unwrap_or_else(|| panic!("scenario {id} did not run"))
}

fn overview(report: &RunReport) -> String {
    report
        .scenarios
        .iter()
        .map(|s| {
            format!(
                "{:<44} {:<5} {}",
                s.id,
                s.verdict.as_str(),
                s.reason.as_deref().unwrap_or("")
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The checks both wrong targets share: exit status 1, no errors (the proxy must not break
/// provisioning), the named scenarios fail and name their rules, those rules show as failed in
/// the coverage table, and the root-only controls pass.
fn assert_caught(report: &RunReport, must_fail: &[(&str, &[&str])], controls: &[&str]) {
    let all = overview(report);
    assert_eq!(
        cli::exit_code(report),
        cli::EXIT_FAIL,
        "a wrong target must exit 1:\n{all}"
    );
    let errors: Vec<&str> = report
        .scenarios
        .iter()
        .filter(|s| s.verdict == Verdict::Error)
        .map(|s| s.id.as_str())
        .collect();
    assert!(errors.is_empty(), "errors hide failures: {errors:?}\n{all}");
    let mut broken = BTreeSet::new();
    for (id, rules) in must_fail {
        let r = by_id(report, id);
        assert_eq!(r.verdict, Verdict::Fail, "{id} must fail:\n{all}");
        for rule in *rules {
            assert!(r.rules.iter().any(|x| x == rule), "{id} must name {rule}");
            broken.insert(*rule);
        }
        let reason = r.reason.as_deref().unwrap_or_default();
        assert!(
            reason.contains("expected"),
            "{id}: a failure says what was expected: {reason}"
        );
        let step = r
            .steps
            .iter()
            .find(|s| s.verdict == Verdict::Fail)
            .unwrap_or_else(|| panic!("{id}: no failing step"));
        assert!(!step.mismatches.is_empty(), "{id}: a failing step says why");
        if is_sdk_s3(&step.op) || step.op == "raw" {
            assert!(
                !step.request.is_empty() && !step.response.is_empty(),
                "{id}: a failing request step carries its request and response"
            );
        }
    }
    for rule in broken {
        let cov = report
            .rules
            .iter()
            .find(|c| c.rule == rule)
            .unwrap_or_else(|| panic!("{rule} missing from coverage"));
        assert_eq!(
            cov.verdict,
            Some(Verdict::Fail),
            "rule {rule} must show as failed in the coverage table"
        );
    }
    for id in controls {
        assert_eq!(
            by_id(report, id).verdict,
            Verdict::Pass,
            "control {id} must still pass, or the proxy itself is wrong:\n{all}"
        );
    }
    let junit = report::junit::render(report);
    for (id, _) in must_fail {
        assert!(junit.contains(id), "junit names {id}");
    }
    assert!(junit.contains("<failure"), "junit reports failures");
}

/// Steps whose expectation contains `needle`, as `(scenario, origin, verdict)`, filtered by `keep`.
fn steps_expecting<'a>(
    report: &'a RunReport,
    needle: &str,
    keep: impl Fn(&ScenarioResult, &keygate::report::StepResult) -> bool,
) -> Vec<(&'a str, &'a str, Verdict)> {
    report
        .scenarios
        .iter()
        .flat_map(|s| s.steps.iter().map(move |st| (s, st)))
        .filter(|(s, st)| st.expected.contains(needle) && keep(s, st))
        .map(|(s, st)| (s.id.as_str(), st.origin.as_str(), st.verdict))
        .collect()
}

fn assert_none_passed(steps: &[(&str, &str, Verdict)], what: &str) {
    let passed: Vec<_> = steps.iter().filter(|s| s.2 == Verdict::Pass).collect();
    assert!(passed.is_empty(), "{what}: {passed:?}");
}

/// Ops sent through aws-sdk-s3 (the ones the `allow_all_signed` proxy re-signs as root).
fn is_sdk_s3(op: &str) -> bool {
    !matches!(
        op,
        "raw"
            | "assume_role"
            | "create_user"
            | "update_user"
            | "delete_user"
            | "put_policy"
            | "delete_policy"
            | "attach_policy"
            | "detach_policy"
            | "create_service_account"
            | "delete_service_account"
            | "advance_clock"
            | "sleep"
    )
}

const ROOT_CONTROLS: &[&str] = &[
    "s3-buckets-root",
    "s3-objects-root",
    "s3-listing",
    "s3-multipart",
    "s3-tagging",
    "sigv4-header-auth",
    "sigv4-clock-skew",
    "sigv4-payload-hash",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_that_allows_every_signed_request_is_caught() {
    let scenarios = library();
    let report = run_against(Mode::AllowAllSigned, &scenarios).await;
    assert_caught(
        &report,
        &[
            ("policy-predefined-matrix", &["P1", "E1", "E5", "U3"]),
            ("policy-deny-and-wildcards", &["E1", "E2", "E4"]),
            ("users-no-policy", &["U3", "E7"]),
            ("sts-assume-role", &["S4"]),
            ("service-accounts-lifecycle", &["A3"]),
            ("service-accounts-parent-detached", &["A3", "S7"]),
            ("policy-username-variable", &["E10"]),
            ("policy-conditions-string", &["E8"]),
            ("policy-condition-keys", &["E9"]),
            ("policy-list-buckets-filtered", &["E6"]),
            ("sts-session-policy-deny", &["S4", "E1"]),
        ],
        ROOT_CONTROLS,
    );
    let leaked = steps_expecting(&report, "AccessDenied", |_, st| {
        is_sdk_s3(&st.op) && st.as_ != "root" && st.as_ != "anonymous"
    });
    assert!(leaked.len() > 50, "the library denies often: {leaked:?}");
    assert_none_passed(&leaked, "a denial passed although the target allowed it");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_that_ignores_tokens_and_account_policies_is_caught() {
    let scenarios = library();
    let report = run_against(Mode::IgnoreTokens, &scenarios).await;
    assert_caught(
        &report,
        &[
            ("sts-tokens", &["S6", "A6"]),
            ("sts-assume-role", &["S4"]),
            ("sts-expiry", &["S6"]),
            ("sts-who-may-assume", &["S5"]),
            ("service-accounts-lifecycle", &["A3"]),
            ("users-delete-cascades", &["U5", "S6"]),
            ("sts-session-policy-deny", &["S4"]),
        ],
        &[
            ROOT_CONTROLS,
            &[
                "policy-predefined-matrix",
                "users-no-policy",
                "policy-deny-and-wildcards",
            ],
        ]
        .concat(),
    );
    for needle in ["InvalidTokenId", "ExpiredToken"] {
        let steps = steps_expecting(&report, needle, |_, _| true);
        assert!(!steps.is_empty(), "the library checks {needle}");
        assert_none_passed(
            &steps,
            &format!("{needle} expected, token-blind target passed"),
        );
    }
}
