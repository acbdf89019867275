//! The goose attack: one scenario whose weighted transactions are the plan's.
//!
//! Goose schedules the users, weighs the transactions and (closed loop) keeps its
//! coordinated-omission figures; every request goes through goose's reqwest client with the
//! SigV4 headers of the harness's lean signer added to its `RequestBuilder`, freshly signed
//! per request for the target's region. When the target's profile names a CA, each user first
//! replaces its client with one that trusts only that CA. Latency is measured here around the
//! whole exchange (response body read) and recorded in microsecond HDR histograms, only for
//! requests started inside the steady window (warm-up excluded). With `--rate` (open loop, see
//! `open_loop`) each transaction first takes a slot of the schedule and its latency runs from
//! the slot's intended start. Every request sent is also counted by the S3 operation the
//! server will count it as (and, when answered 403, as denied), so a run can be checked
//! against the server's own counts.

use super::plan::{Op, Plan, Refresh};
use super::setup::{Ident, Provisioned};
use super::sign::{Signer, ToSign, EMPTY_SHA256};
use goose::config::GooseConfiguration;
use goose::prelude::*;
use hdrhistogram::Histogram;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// The server operation names requests are counted under (as `/_keygate/metrics` names them).
pub const OPS: [&str; 5] = [
    "GetObject",
    "HeadObject",
    "PutObject",
    "ListObjectsV2",
    "Sts",
];

/// The server operation a plan op is counted under.
pub fn op_name(op: Op) -> &'static str {
    OPS[op_slot(op)]
}

fn op_slot(op: Op) -> usize {
    match op {
        Op::GetObject => 0,
        Op::HeadObject => 1,
        Op::PutObject => 2,
        Op::ListObjectsV2 => 3,
        Op::AssumeRole => 4,
    }
}

/// Per-transaction results of the steady window (and the unexpected outcomes of every phase).
#[derive(Debug)]
pub struct TxStats {
    pub hist: Histogram<u64>,
    pub ok: u64,
    /// Answered 403 (the server counts these as `denied`).
    pub denied: u64,
    /// Outcomes other than the expected one, in every phase (warm-up included): the gate.
    pub unexpected: u64,
    /// Of `unexpected`, those in the steady window, where `count` is taken.
    pub unexpected_measured: u64,
    /// Non-2xx answers by S3 error code (`HTTP_<status>` when there is no body).
    pub errors: BTreeMap<String, u64>,
}

impl TxStats {
    fn new() -> TxStats {
        TxStats {
            hist: Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid bounds"),
            ok: 0,
            denied: 0,
            unexpected: 0,
            unexpected_measured: 0,
            errors: BTreeMap::new(),
        }
    }
}

/// Everything the transactions share.
#[derive(Debug)]
pub struct Shared {
    pub plan: Plan,
    pub prov: Provisioned,
    pub host: String,
    /// The region every request is signed for (the target profile's; `us-east-1` for a
    /// spawned target).
    pub region: String,
    pub steady_from: Instant,
    pub steady_until: Instant,
    /// Indexed like `plan.transactions`, plus one for STS refreshes.
    pub stats: Vec<Mutex<TxStats>>,
    /// Every request sent (whole run), by [`OPS`] slot...
    pub sent: [AtomicU64; OPS.len()],
    /// ...and those answered 403.
    pub denied: [AtomicU64; OPS.len()],
    /// `--rate`: the open-loop schedule every transaction takes a slot of.
    pub pacer: Option<super::open_loop::Pacer>,
    /// Judge outcomes against the plan's `expect` (not on the null target, which allows all).
    pub check_expect: bool,
    /// Users the plan's `[revoke]` deletes, and when the deletion began and ended.
    pub revoked_users: Vec<String>,
    pub revocation: Mutex<Option<(Instant, Option<Instant>)>>,
    /// Requests started in each second of the steady window (throughput over time).
    pub per_second: Vec<AtomicU64>,
    next_user: AtomicU64,
}

impl Shared {
    pub fn new(plan: Plan, prov: Provisioned, host: String, from: Instant, until: Instant) -> Self {
        let n = plan.transactions.len() + 1;
        Shared {
            plan,
            prov,
            host,
            region: "us-east-1".to_owned(),
            steady_from: from,
            steady_until: until,
            stats: (0..n).map(|_| Mutex::new(TxStats::new())).collect(),
            sent: std::array::from_fn(|_| AtomicU64::new(0)),
            denied: std::array::from_fn(|_| AtomicU64::new(0)),
            pacer: None,
            check_expect: true,
            revoked_users: Vec::new(),
            revocation: Mutex::new(None),
            per_second: (0..seconds_begun(until - from))
                .map(|_| AtomicU64::new(0))
                .collect(),
            next_user: AtomicU64::new(0),
        }
    }

    /// Name of stats slot `i` (the last one is the STS refreshes).
    pub fn tx_name(&self, i: usize) -> &str {
        self.plan
            .transactions
            .get(i)
            .map_or("sts-refresh (AssumeRole)", |t| t.name.as_str())
    }
}

/// One identity as a goose user holds it: its signer, refreshed if it is STS.
#[derive(Debug, Clone)]
struct Held {
    ident: Ident,
    signer: Signer,
    expires: Option<Instant>,
}

/// A goose user's own state.
#[derive(Debug, Clone)]
struct UserState {
    u: usize,
    seq: u64,
    held: HashMap<String, Held>,
}

/// What one request came back as.
struct Answer {
    status: u16,
    body: String,
}

async fn send(
    user: &mut GooseUser,
    sh: &Shared,
    signer: &mut Signer,
    method: GooseMethod,
    (path, query): (&str, &str),
    body: Vec<u8>,
    name: &str,
) -> Result<Answer, Box<TransactionError>> {
    let hash = if body.is_empty() {
        EMPTY_SHA256.to_owned()
    } else {
        hex::encode(Sha256::digest(&body))
    };
    let m = match method {
        GooseMethod::Get => "GET",
        GooseMethod::Head => "HEAD",
        GooseMethod::Put => "PUT",
        _ => "POST",
    };
    let s = signer.sign(
        &ToSign {
            method: m,
            path,
            query,
            host: &sh.host,
            payload_sha256: &hash,
        },
        SystemTime::now(),
    );
    let pq = if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{query}")
    };
    let mut rb = user
        .get_request_builder(&method, &pq)?
        .header("authorization", s.authorization)
        .header("x-amz-date", s.amz_date)
        .header("x-amz-content-sha256", s.payload_sha256);
    if let Some(t) = s.security_token {
        rb = rb.header("x-amz-security-token", t);
    }
    if m == "POST" {
        rb = rb.header("content-type", "application/x-www-form-urlencoded");
    }
    if !body.is_empty() {
        rb = rb.body(body);
    }
    let req = GooseRequest::builder()
        .method(method)
        .path(pq.as_str())
        .name(name)
        .set_request_builder(rb)
        .build();
    let resp = user.request(req).await?;
    match resp.response {
        Ok(r) => {
            let status = r.status().as_u16();
            let body = r.text().await.unwrap_or_default();
            Ok(Answer { status, body })
        }
        Err(e) => Ok(Answer {
            status: 0,
            body: format!("transport: {e}"),
        }),
    }
}

/// How many seconds of a steady window of `d` begin in it: one count each in `per_second`,
/// and none after its end (a 2 s window had a third, always empty, and the page's throughput
/// plot fell to 0 there).
fn seconds_begun(d: Duration) -> usize {
    d.as_secs_f64().ceil() as usize
}

fn classify(a: &Answer) -> String {
    if (200..300).contains(&a.status) {
        return "ok".into();
    }
    if a.status == 0 {
        return "transport".into();
    }
    crate::run::outcome::xml_tag(&a.body, "Code").unwrap_or_else(|| format!("HTTP_{}", a.status))
}

/// Whether an outcome is the one the plan expects, the revocation taken into account: a
/// request by a revoked user's keys that started after the deletion ended must be refused;
/// one that overlapped the deletion may go either way; a 5xx or a transport failure is never
/// expected.
fn expected(sh: &Shared, a: &Answer, started: Instant, expect: &str, user: &str) -> bool {
    let outcome = classify(a);
    let server_failure = a.status == 0 || a.status >= 500;
    if sh.revoked_users.iter().any(|u| u == user) {
        let rev = *sh.revocation.lock().expect("revocation lock");
        match rev {
            Some((_, Some(end))) if started >= end => return outcome != "ok" && !server_failure,
            // Answered after the deletion began: either answer, but never a failure.
            Some(_) => return !server_failure,
            None => {}
        }
    }
    outcome == expect
        || expect
            .parse::<u16>()
            .is_ok_and(|s| outcome == format!("HTTP_{s}"))
}

fn record(sh: &Shared, slot: usize, started: Instant, a: &Answer, expect: &str, user: &str) {
    let ok = !sh.check_expect || expected(sh, a, started, expect, user);
    if started < sh.steady_from || started >= sh.steady_until {
        if !ok {
            // Outside the window latency is not kept, but a wrong outcome still counts.
            sh.stats[slot].lock().expect("stats lock").unexpected += 1;
        }
        return;
    }
    let second = (started - sh.steady_from).as_secs() as usize;
    if let Some(c) = sh.per_second.get(second) {
        c.fetch_add(1, Ordering::Relaxed);
    }
    let outcome = classify(a);
    let us = started.elapsed().as_micros().max(1) as u64;
    let mut st = sh.stats[slot].lock().expect("stats lock");
    let _ = st.hist.record(us.min(60_000_000));
    if a.status == 403 {
        st.denied += 1;
    }
    if outcome == "ok" {
        st.ok += 1;
    } else {
        *st.errors.entry(outcome).or_default() += 1;
    }
    if !ok {
        st.unexpected += 1;
        st.unexpected_measured += 1;
    }
}

/// The outcome a refresh must have: in the advisory window botocore tolerates a refused
/// refresh (an STS error such as `LimitExceeded`, not a 5xx or a dropped connection) and keeps
/// its credentials; in the mandatory window the refresh must succeed.
fn refresh_expect(refresh: Refresh, left: Duration, a: &Answer) -> String {
    let advisory = left >= Duration::from_secs(refresh.mandatory);
    if advisory && (400..500).contains(&a.status) {
        classify(a)
    } else {
        "ok".into()
    }
}

const STS_FORM: &str = "Action=AssumeRole&RoleArn=arn%3Aaws%3Aiam%3A%3A000000000000%3Arole%2Fload&RoleSessionName=load&Version=2011-06-15";

fn sts_body(duration: Option<i32>, policy: Option<&str>) -> Vec<u8> {
    let mut b = STS_FORM.to_owned();
    if let Some(d) = duration {
        b.push_str(&format!("&DurationSeconds={d}"));
    }
    if let Some(p) = policy {
        b.push_str("&Policy=");
        b.push_str(&super::sign::uri_encode(p, false));
    }
    b.into_bytes()
}

/// AssumeRole as `parent`; returns the new credentials when the answer carries them.
async fn assume(
    user: &mut GooseUser,
    sh: &Shared,
    parent: &crate::target::Credentials,
    ident: &Ident,
    name: &str,
) -> Result<(Answer, Option<crate::target::Credentials>), Box<TransactionError>> {
    let mut signer = Signer::new(
        &parent.access_key,
        &parent.secret_key,
        None,
        &sh.region,
        "sts",
    );
    let body = sts_body(ident.duration_seconds, ident.session_policy.as_deref());
    let a = send_counted(
        user,
        sh,
        Op::AssumeRole,
        &mut signer,
        GooseMethod::Post,
        ("/", ""),
        body,
        name,
    )
    .await?;
    let tag = |t: &str| crate::run::outcome::xml_tag(&a.body, t);
    let creds = match (
        tag("AccessKeyId"),
        tag("SecretAccessKey"),
        tag("SessionToken"),
    ) {
        (Some(ak), Some(sk), Some(tok)) => Some(crate::target::Credentials {
            session_token: Some(tok),
            ..crate::target::Credentials::new(ak, sk)
        }),
        _ => None,
    };
    Ok((a, creds))
}

/// [`send`], counted as sent (and as denied when answered 403) under `op`'s server operation.
#[allow(
    clippy::too_many_arguments,
    reason = "send's arguments plus the operation"
)]
async fn send_counted(
    user: &mut GooseUser,
    sh: &Shared,
    op: Op,
    signer: &mut Signer,
    method: GooseMethod,
    target: (&str, &str),
    body: Vec<u8>,
    name: &str,
) -> Result<Answer, Box<TransactionError>> {
    sh.sent[op_slot(op)].fetch_add(1, Ordering::Relaxed);
    let a = send(user, sh, signer, method, target, body, name).await?;
    if a.status == 403 {
        sh.denied[op_slot(op)].fetch_add(1, Ordering::Relaxed);
    }
    Ok(a)
}

/// Runs transaction `t` once for this goose user (open loop: in the next slot of the schedule).
async fn run_tx(user: &mut GooseUser, sh: Arc<Shared>, t: usize) -> TransactionResult {
    let intended = match &sh.pacer {
        Some(p) => match p.next().await {
            Some(slot) => Some(slot.intended),
            None => {
                // Pacing is over; goose stops the users shortly.
                tokio::time::sleep(Duration::from_millis(10)).await;
                return Ok(());
            }
        },
        None => None,
    };
    if user.get_session_data::<UserState>().is_none() {
        let u = sh.next_user.fetch_add(1, Ordering::Relaxed) as usize;
        user.set_session_data(UserState {
            u,
            seq: 0,
            held: HashMap::new(),
        });
    }
    let tx = &sh.plan.transactions[t];
    let (u, seq) = {
        let st = user.get_session_data_unchecked_mut::<UserState>();
        st.seq += 1;
        (st.u, st.seq)
    };
    let who = &tx.as_[u % tx.as_.len()];
    let copies = &sh.prov.identities[who];
    let ident = copies[u % copies.len()].clone();
    let mut held = match user.get_session_data_unchecked::<UserState>().held.get(who) {
        Some(h) => h.clone(),
        None => Held {
            signer: signer_for(&ident.creds, &sh.region),
            expires: ident
                .duration_seconds
                .map(|d| Instant::now() + Duration::from_secs(d.max(0) as u64)),
            ident,
        },
    };
    // botocore-style refresh: re-assume when the credentials are close to expiry.
    if let (Some(refresh), Some(exp), Some(parent)) =
        (held.ident.refresh, held.expires, held.ident.parent.clone())
    {
        let left = exp.saturating_duration_since(Instant::now());
        if left < Duration::from_secs(refresh.advisory) {
            let slot = sh.plan.transactions.len();
            let started = Instant::now();
            let (a, creds) = assume(user, &sh, &parent, &held.ident, sh.tx_name(slot)).await?;
            let expect = refresh_expect(refresh, left, &a);
            record(&sh, slot, started, &a, &expect, &held.ident.user);
            if let Some(c) = creds {
                held.signer = signer_for(&c, &sh.region);
                held.ident.creds = c;
                held.expires = held
                    .ident
                    .duration_seconds
                    .map(|d| Instant::now() + Duration::from_secs(d.max(0) as u64));
            }
        }
    }
    let i = (seq as usize) % tx.keys;
    let key = tx
        .key
        .replace("{i}", &i.to_string())
        .replace("{u}", &u.to_string())
        .replace("{user}", &held.ident.user);
    let path = format!(
        "/{}/{}",
        sh.prov.bucket,
        super::sign::uri_encode(&key, true)
    );
    // Open loop: latency from the slot's intended start (a refresh above is inside it).
    let started = intended.unwrap_or_else(Instant::now);
    let answer = match tx.op {
        Op::GetObject | Op::HeadObject | Op::PutObject => {
            let (method, body) = match tx.op {
                Op::GetObject => (GooseMethod::Get, Vec::new()),
                Op::HeadObject => (GooseMethod::Head, Vec::new()),
                _ => (GooseMethod::Put, vec![b'p'; tx.size]),
            };
            send_counted(
                user,
                &sh,
                tx.op,
                &mut held.signer,
                method,
                (&path, ""),
                body,
                &tx.name,
            )
            .await?
        }
        Op::ListObjectsV2 => {
            let query = format!(
                "list-type=2&max-keys=20&prefix={}",
                super::sign::uri_encode(&tx.prefix, false)
            );
            let bucket = format!("/{}", sh.prov.bucket);
            send_counted(
                user,
                &sh,
                tx.op,
                &mut held.signer,
                GooseMethod::Get,
                (&bucket, &query),
                Vec::new(),
                &tx.name,
            )
            .await?
        }
        Op::AssumeRole => {
            let caller = held.ident.creds.clone();
            assume(user, &sh, &caller, &held.ident, &tx.name).await?.0
        }
    };
    record(&sh, t, started, &answer, &tx.expect, &held.ident.user);
    let who = who.clone();
    user.get_session_data_unchecked_mut::<UserState>()
        .held
        .insert(who, held);
    Ok(())
}

fn signer_for(c: &crate::target::Credentials, region: &str) -> Signer {
    Signer::new(
        &c.access_key,
        &c.secret_key,
        c.session_token.as_deref(),
        region,
        "s3",
    )
}

/// Goose settings for one attack.
#[derive(Debug, Clone)]
pub struct AttackSettings {
    pub endpoint: String,
    pub users: usize,
    pub run_time: Duration,
    /// Open loop (`--rate`): the schedule paces the users, so goose's coordinated-omission
    /// backfill (which would read the waits for a slot as stalls) is off.
    pub open_loop: bool,
    /// A target whose profile names a CA: what the users' https connections trust (only that
    /// CA, from `TlsTrust::rustls_config`); `None`: goose's client and the platform's roots.
    pub tls: Option<rustls::ClientConfig>,
}

/// Request timeout of every goose user (goose's `--timeout`).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// A transaction run once by each user before any other: its client trusts only `tls`.
fn trusting(tls: rustls::ClientConfig) -> Transaction {
    let f: TransactionFunction = Arc::new(move |user| {
        let builder = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .tls_backend_preconfigured(tls.clone());
        Box::pin(async move {
            user.set_client_builder(builder).await?;
            Ok(())
        })
    });
    Transaction::new(f)
        .set_name("trust the target's CA")
        .set_on_start()
}

/// Runs the attack; returns goose's metrics (for the coordinated-omission figures).
pub async fn execute(sh: Arc<Shared>, s: &AttackSettings) -> anyhow::Result<GooseMetrics> {
    let mut scenario = Scenario::new("plan");
    for (t, tx) in sh.plan.transactions.iter().enumerate() {
        let shared = sh.clone();
        let f: TransactionFunction = Arc::new(move |user| {
            let shared = shared.clone();
            Box::pin(run_tx(user, shared, t))
        });
        let tr = Transaction::new(f)
            .set_name(&tx.name)
            .set_weight(tx.weight)?;
        scenario = scenario.register_transaction(tr);
    }
    if let Some(tls) = &s.tls {
        scenario = scenario.register_transaction(trusting(tls.clone()));
    }
    let mut config = GooseConfiguration::default();
    config.host = Some(s.endpoint.clone());
    config.users = Some(s.users);
    config.increase_rate = Some(s.users.to_string());
    config.run_time = Some(format!("{}", s.run_time.as_secs().max(1)));
    config.quiet = 1;
    config.no_print_metrics = true;
    config.no_error_summary = true;
    config.no_telnet = true;
    config.timeout = Some(REQUEST_TIMEOUT.as_secs().to_string());
    config.co_mitigation = Some(if s.open_loop {
        GooseCoordinatedOmissionMitigation::Disabled
    } else {
        GooseCoordinatedOmissionMitigation::Average
    });
    let metrics = GooseAttack::initialize_with_config(config)?
        .register_scenario(scenario)
        .execute()
        .await?;
    Ok(metrics)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, code: &str) -> Answer {
        Answer {
            status,
            body: format!("<ErrorResponse><Error><Code>{code}</Code></Error></ErrorResponse>"),
        }
    }

    #[test]
    fn a_steady_window_counts_the_seconds_begun_in_it() {
        for (ms, n) in [(1_000, 1), (1_500, 2), (2_000, 2), (30_000, 30)] {
            assert_eq!(seconds_begun(Duration::from_millis(ms)), n, "{ms} ms");
        }
    }

    #[test]
    fn a_refused_refresh_is_tolerated_only_in_the_advisory_window() {
        let r = Refresh {
            advisory: 900,
            mandatory: 600,
        };
        let limit = answer(400, "LimitExceeded");
        let at = |s| Duration::from_secs(s);
        assert_eq!(refresh_expect(r, at(899), &limit), "LimitExceeded");
        assert_eq!(refresh_expect(r, at(600), &limit), "LimitExceeded");
        assert_eq!(refresh_expect(r, at(599), &limit), "ok");
        // A server failure or a dropped connection is never tolerated.
        assert_eq!(
            refresh_expect(r, at(899), &answer(500, "InternalError")),
            "ok"
        );
        assert_eq!(refresh_expect(r, at(899), &answer(0, "")), "ok");
        assert_eq!(refresh_expect(r, at(899), &answer(200, "")), "ok");
    }
}
