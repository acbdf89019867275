//! Server-side metrics: per-stage latency histograms and request counts, lock-free.
//!
//! Stages (one `Instant::now()` at each boundary, taken in `s3::dispatch`):
//! - `sigv4`: `auth::authenticate` — parse, key lookup in the identity snapshot, signature
//!   check (and, when the client sent no payload hash, buffering and hashing the body);
//! - `policy`: `authz::authorize` for the routed operation;
//! - `storage`: the handler, up to the response head (a GET's body streams afterwards and is
//!   not included);
//! - `total`: from the start of `s3::serve` to the response head, every request counted.
//!
//! Counts: requests by operation (S3 operations, `Admin`, `Sts`, `Unrouted` for requests that
//! failed before routing) and errors by S3 error code. Everything is a fixed array of
//! `AtomicU64` (relaxed): recording allocates nothing and takes no lock. The arrays are kept
//! in several copies (stripes: one per CPU, at least 8 and at most 64) on cache lines of their
//! own, and each thread adds to one stripe, so workers on different cores do not write the
//! same cache lines: an S3 request makes about ten adds, and a line written from two cores
//! moves between them at each. Threads take stripes in the order they first record, in the
//! whole process, so a thread has one of its own while no more threads have recorded than
//! there are stripes (a server records from its runtime's workers only, one per CPU by
//! default). A scrape sums the stripes. Scrapes of the metrics endpoint itself are not
//! counted, so a load generator can compare what it sent with what the server saw.
//!
//! Per operation and outcome (`allowed`, or `denied`: answered 403, refused by authentication
//! or authorisation): the request count, and the thread CPU of a random sample of about 1 in
//! 16 requests (`KEYGATE_CPU_SAMPLE_EVERY` to change; see [`cpu`]) as a Prometheus summary (`_sum` seconds, `_count` sampled
//! requests). Its mean is what the handler's own code costs per request of that kind; the
//! rest of the process's CPU (HTTP, the runtime, the socket) is not attributed here.
//!
//! Served as Prometheus text at [`PATH`] (`/_keygate/metrics`, under the reserved prefix so a
//! bucket named `metrics` is unaffected): without authentication to loopback clients, and to
//! anyone else only when signed by the root (admin) keys. Histograms are in seconds with
//! buckets from 0.5 µs to 10 s.

pub mod cpu;

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use crate::s3::error::S3ErrorCode;
use crate::s3::router::Operation;

/// Where the metrics are served.
pub const PATH: &str = "/_keygate/metrics";

/// Bucket upper bounds in nanoseconds (the last bucket, `+Inf`, is implicit).
const BOUNDS_NS: [u64; 23] = [
    500,
    1_000,
    2_000,
    5_000,
    10_000,
    20_000,
    50_000,
    100_000,
    200_000,
    500_000,
    1_000_000,
    2_000_000,
    5_000_000,
    10_000_000,
    20_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
    2_500_000_000,
    5_000_000_000,
    10_000_000_000,
];

/// A fixed-bucket latency histogram (non-cumulative counts; cumulated when rendered).
#[derive(Debug)]
struct Histogram {
    buckets: [AtomicU64; BOUNDS_NS.len() + 1],
    sum_ns: AtomicU64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            sum_ns: AtomicU64::new(0),
        }
    }
}

impl Histogram {
    fn record(&self, d: Duration) {
        let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        let i = BOUNDS_NS.partition_point(|&b| b < ns);
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        self.sum_ns.fetch_add(ns, Ordering::Relaxed);
    }
}

/// A histogram's counts summed over the stripes, for rendering.
struct HistogramSum {
    buckets: [u64; BOUNDS_NS.len() + 1],
    sum_ns: u64,
}

impl HistogramSum {
    fn of<'h>(stripes: impl Iterator<Item = &'h Histogram>) -> Self {
        let mut total = HistogramSum {
            buckets: [0; BOUNDS_NS.len() + 1],
            sum_ns: 0,
        };
        for h in stripes {
            // Wrapping, as each counter does on its own.
            for (t, b) in total.buckets.iter_mut().zip(&h.buckets) {
                *t = t.wrapping_add(b.load(Ordering::Relaxed));
            }
            total.sum_ns = total.sum_ns.wrapping_add(h.sum_ns.load(Ordering::Relaxed));
        }
        total
    }

    fn render(&self, out: &mut String, name: &str, stage: &str) {
        use std::fmt::Write;
        let mut cumulative = 0u64;
        for (i, b) in self.buckets.iter().enumerate() {
            cumulative = cumulative.wrapping_add(*b);
            match BOUNDS_NS.get(i) {
                Some(ns) => {
                    let le = *ns as f64 / 1e9;
                    let _ = writeln!(
                        out,
                        "{name}_bucket{{stage=\"{stage}\",le=\"{le}\"}} {cumulative}"
                    );
                }
                None => {
                    let _ = writeln!(
                        out,
                        "{name}_bucket{{stage=\"{stage}\",le=\"+Inf\"}} {cumulative}"
                    );
                }
            }
        }
        let sum = self.sum_ns as f64 / 1e9;
        let _ = writeln!(out, "{name}_sum{{stage=\"{stage}\"}} {sum}");
        let _ = writeln!(out, "{name}_count{{stage=\"{stage}\"}} {cumulative}");
    }
}

/// The stages of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Sigv4,
    Policy,
    Storage,
    Total,
}

impl Stage {
    const ALL: [Stage; 4] = [Stage::Sigv4, Stage::Policy, Stage::Storage, Stage::Total];

    fn as_str(self) -> &'static str {
        match self {
            Stage::Sigv4 => "sigv4",
            Stage::Policy => "policy",
            Stage::Storage => "storage",
            Stage::Total => "total",
        }
    }
}

/// What a request counts as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpLabel {
    S3(Operation),
    Admin,
    Sts,
    /// Failed before an operation was known (authentication, bad path).
    Unrouted,
}

const OP_NAMES: [&str; 33] = [
    "ListBuckets",
    "CreateBucket",
    "HeadBucket",
    "DeleteBucket",
    "GetBucketLocation",
    "ListObjects",
    "ListObjectsV2",
    "ListMultipartUploads",
    "GetBucketTagging",
    "PutBucketTagging",
    "DeleteBucketTagging",
    "GetBucketPolicy",
    "PutBucketPolicy",
    "DeleteBucketPolicy",
    "DeleteObjects",
    "PutObject",
    "CopyObject",
    "GetObject",
    "HeadObject",
    "DeleteObject",
    "CreateMultipartUpload",
    "UploadPart",
    "UploadPartCopy",
    "CompleteMultipartUpload",
    "AbortMultipartUpload",
    "ListParts",
    "GetObjectTagging",
    "PutObjectTagging",
    "DeleteObjectTagging",
    "NotImplemented",
    "Admin",
    "Sts",
    "Unrouted",
];

impl OpLabel {
    /// Index into [`OP_NAMES`]; exhaustive so a new operation cannot go uncounted.
    fn index(self) -> usize {
        use Operation::*;
        match self {
            OpLabel::S3(op) => match op {
                ListBuckets => 0,
                CreateBucket => 1,
                HeadBucket => 2,
                DeleteBucket => 3,
                GetBucketLocation => 4,
                ListObjects => 5,
                ListObjectsV2 => 6,
                ListMultipartUploads => 7,
                GetBucketTagging => 8,
                PutBucketTagging => 9,
                DeleteBucketTagging => 10,
                GetBucketPolicy => 11,
                PutBucketPolicy => 12,
                DeleteBucketPolicy => 13,
                DeleteObjects => 14,
                PutObject => 15,
                CopyObject => 16,
                GetObject => 17,
                HeadObject => 18,
                DeleteObject => 19,
                CreateMultipartUpload => 20,
                UploadPart => 21,
                UploadPartCopy => 22,
                CompleteMultipartUpload => 23,
                AbortMultipartUpload => 24,
                ListParts => 25,
                GetObjectTagging => 26,
                PutObjectTagging => 27,
                DeleteObjectTagging => 28,
                NotImplemented(_) => 29,
            },
            OpLabel::Admin => 30,
            OpLabel::Sts => 31,
            OpLabel::Unrouted => 32,
        }
    }
}

/// How a request ended, for the per-operation counts and CPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Allowed,
    /// Answered 403: refused by authentication or authorisation.
    Denied,
}

impl Outcome {
    const ALL: [Outcome; 2] = [Outcome::Allowed, Outcome::Denied];

    pub fn of(status: http::StatusCode) -> Outcome {
        if status == http::StatusCode::FORBIDDEN {
            Outcome::Denied
        } else {
            Outcome::Allowed
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Outcome::Allowed => "allowed",
            Outcome::Denied => "denied",
        }
    }
}

/// Requests of one operation and outcome: all counted, a sample's thread CPU summed.
#[derive(Debug, Default)]
struct OpCounters {
    requests: AtomicU64,
    cpu_sampled: AtomicU64,
    cpu_ns: AtomicU64,
}

/// Room for every `S3ErrorCode` (indexed by discriminant) plus one slot for non-S3 errors.
const CODE_SLOTS: usize = 64;
const OTHER_ERROR: usize = CODE_SLOTS - 1;

/// How many copies of the counters there are at least and at most (see the module's
/// documentation); between the two, one per CPU, rounded up to a power of two.
const STRIPES: (usize, usize) = (8, 64);

/// One copy of every counter. Aligned to 128 bytes: a stripe shares no cache line with
/// another, nor the pair of lines some CPUs fetch together.
#[derive(Debug)]
#[repr(align(128))]
struct Stripe {
    stages: [Histogram; 4],
    ops: [AtomicU64; OP_NAMES.len()],
    /// Indexed by `op.index() * 2 + outcome`.
    by_outcome: [OpCounters; OP_NAMES.len() * 2],
    errors: [AtomicU64; CODE_SLOTS],
}

impl Default for Stripe {
    fn default() -> Self {
        Stripe {
            stages: std::array::from_fn(|_| Histogram::default()),
            ops: std::array::from_fn(|_| AtomicU64::new(0)),
            by_outcome: std::array::from_fn(|_| OpCounters::default()),
            errors: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

/// How many threads have recorded: the next one's number.
static THREADS_RECORDING: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// This thread's number among the threads that recorded (`usize::MAX`: not yet).
    static THREAD_NUMBER: Cell<usize> = const { Cell::new(usize::MAX) };
}

/// This thread's number, which picks its stripe in every `Metrics` (only the numbering is
/// process-wide: the counters stay per server).
fn thread_number() -> usize {
    THREAD_NUMBER.with(|n| {
        if n.get() == usize::MAX {
            n.set(THREADS_RECORDING.fetch_add(1, Ordering::Relaxed));
        }
        n.get()
    })
}

/// All of one server's metrics (one per `AppState`).
#[derive(Debug)]
pub struct Metrics {
    stripes: Box<[Stripe]>,
    error_names: [OnceLock<&'static str>; CODE_SLOTS],
    /// Measure about one request in this many (1: every request).
    cpu_sample_every: u64,
    cpu_overhead: cpu::Overhead,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            stripes: (0..stripe_count()).map(|_| Stripe::default()).collect(),
            error_names: std::array::from_fn(|_| OnceLock::new()),
            cpu_sample_every: cpu::sample_every_from_env(),
            cpu_overhead: cpu::Overhead::calibrate(),
        }
    }
}

/// One stripe per CPU, rounded up to a power of two, within [`STRIPES`].
fn stripe_count() -> usize {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    cpus.next_power_of_two().clamp(STRIPES.0, STRIPES.1)
}

impl Metrics {
    /// This thread's stripe.
    fn mine(&self) -> &Stripe {
        &self.stripes[thread_number() % self.stripes.len()]
    }

    /// A counter summed over the stripes (wrapping, as each counter does on its own).
    fn total(&self, counter: impl Fn(&Stripe) -> &AtomicU64) -> u64 {
        self.stripes
            .iter()
            .fold(0, |t, s| t.wrapping_add(counter(s).load(Ordering::Relaxed)))
    }

    pub fn stage(&self, stage: Stage, d: Duration) {
        self.mine().stages[stage as usize].record(d);
    }

    /// Whether to measure the next request's CPU (about 1 in 16), and the clock's own cost to
    /// take off per poll.
    pub fn sample_cpu(&self) -> Option<cpu::Overhead> {
        cpu::sampled(self.cpu_sample_every).then_some(self.cpu_overhead)
    }

    /// Counts one finished request: its total latency and, when it was sampled, the thread CPU
    /// its handler used (nanoseconds).
    pub fn request(&self, op: OpLabel, outcome: Outcome, total: Duration, cpu_ns: Option<u64>) {
        let mine = self.mine();
        mine.ops[op.index()].fetch_add(1, Ordering::Relaxed);
        let c = &mine.by_outcome[op.index() * 2 + outcome as usize];
        c.requests.fetch_add(1, Ordering::Relaxed);
        if let Some(ns) = cpu_ns {
            c.cpu_sampled.fetch_add(1, Ordering::Relaxed);
            c.cpu_ns.fetch_add(ns, Ordering::Relaxed);
        }
        mine.stages[Stage::Total as usize].record(total);
    }

    /// Counts one S3 error by code.
    pub fn error(&self, code: S3ErrorCode) {
        let i = (code as usize).min(OTHER_ERROR - 1);
        self.error_names[i].get_or_init(|| code.as_str());
        self.mine().errors[i].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one admin or STS error (their codes are not S3's).
    pub fn other_error(&self) {
        self.mine().errors[OTHER_ERROR].fetch_add(1, Ordering::Relaxed);
    }

    /// The Prometheus text exposition (format 0.0.4).
    pub fn render(&self) -> String {
        use std::fmt::Write;
        let mut out = String::with_capacity(8192);
        let name = "keygate_stage_duration_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} Time spent per request stage (sigv4, policy, storage, total)."
        );
        let _ = writeln!(out, "# TYPE {name} histogram");
        for stage in Stage::ALL {
            let stripes = self.stripes.iter().map(|s| &s.stages[stage as usize]);
            HistogramSum::of(stripes).render(&mut out, name, stage.as_str());
        }
        let _ = writeln!(
            out,
            "# HELP keygate_requests_total Requests served, by operation."
        );
        let _ = writeln!(out, "# TYPE keygate_requests_total counter");
        for (i, op) in OP_NAMES.iter().enumerate() {
            let n = self.total(|s| &s.ops[i]);
            if n > 0 {
                let _ = writeln!(out, "keygate_requests_total{{operation=\"{op}\"}} {n}");
            }
        }
        self.render_by_outcome(&mut out);
        let _ = writeln!(
            out,
            "# HELP keygate_errors_total Error responses, by S3 error code (Other: admin and STS)."
        );
        let _ = writeln!(out, "# TYPE keygate_errors_total counter");
        for i in 0..CODE_SLOTS {
            let n = self.total(|s| &s.errors[i]);
            if n == 0 {
                continue;
            }
            let code = match self.error_names[i].get() {
                Some(c) => c,
                None if i == OTHER_ERROR => "Other",
                None => continue,
            };
            let _ = writeln!(out, "keygate_errors_total{{code=\"{code}\"}} {n}");
        }
        out
    }
}

impl Metrics {
    /// A copy that measures the CPU of every request (tests).
    #[cfg(test)]
    fn sampling_every_request() -> Metrics {
        Metrics {
            cpu_sample_every: 1,
            ..Metrics::default()
        }
    }

    fn render_by_outcome(&self, out: &mut String) {
        use std::fmt::Write;
        let live = || {
            OP_NAMES.iter().enumerate().flat_map(move |(i, op)| {
                Outcome::ALL.into_iter().filter_map(move |o| {
                    let slot = i * 2 + o as usize;
                    let n = self.total(|s| &s.by_outcome[slot].requests);
                    (n > 0).then_some((*op, o.as_str(), n, slot))
                })
            })
        };
        let name = "keygate_operation_requests_total";
        let _ = writeln!(
            out,
            "# HELP {name} Requests served, by operation and outcome (denied: answered 403)."
        );
        let _ = writeln!(out, "# TYPE {name} counter");
        for (op, o, n, _) in live() {
            let _ = writeln!(out, "{name}{{operation=\"{op}\",outcome=\"{o}\"}} {n}");
        }
        let name = "keygate_operation_cpu_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} Thread CPU of the handler (polls of the request future), measured on about 1 request in {}; _count is the sampled requests.",
            self.cpu_sample_every
        );
        let _ = writeln!(out, "# TYPE {name} summary");
        for (op, o, _, slot) in live() {
            let sum = self.total(|s| &s.by_outcome[slot].cpu_ns) as f64 / 1e9;
            let count = self.total(|s| &s.by_outcome[slot].cpu_sampled);
            let labels = format!("operation=\"{op}\",outcome=\"{o}\"");
            let _ = writeln!(out, "{name}_sum{{{labels}}} {sum}");
            let _ = writeln!(out, "{name}_count{{{labels}}} {count}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative_and_counted() {
        let m = Metrics::default();
        m.stage(Stage::Sigv4, Duration::from_nanos(800));
        m.stage(Stage::Sigv4, Duration::from_micros(3));
        m.request(
            OpLabel::S3(Operation::HeadObject),
            Outcome::Allowed,
            Duration::from_micros(40),
            None,
        );
        m.request(
            OpLabel::Unrouted,
            Outcome::Denied,
            Duration::from_secs(20),
            None,
        );
        m.error(S3ErrorCode::AccessDenied);
        m.other_error();
        let text = m.render();
        assert!(text
            .contains("keygate_stage_duration_seconds_bucket{stage=\"sigv4\",le=\"0.000001\"} 1"));
        assert!(text
            .contains("keygate_stage_duration_seconds_bucket{stage=\"sigv4\",le=\"0.000005\"} 2"));
        assert!(text.contains("keygate_stage_duration_seconds_count{stage=\"sigv4\"} 2"));
        assert!(
            text.contains("keygate_stage_duration_seconds_bucket{stage=\"total\",le=\"+Inf\"} 2")
        );
        assert!(text.contains("keygate_stage_duration_seconds_bucket{stage=\"total\",le=\"10\"} 1"));
        assert!(text.contains("keygate_requests_total{operation=\"HeadObject\"} 1"));
        assert!(text.contains("keygate_requests_total{operation=\"Unrouted\"} 1"));
        assert!(text.contains("keygate_errors_total{code=\"AccessDenied\"} 1"));
        assert!(text.contains("keygate_errors_total{code=\"Other\"} 1"));
        assert!(!text.contains("GetObject\""));
    }

    #[test]
    fn counts_recorded_from_more_threads_than_stripes_are_all_rendered() {
        let m = Metrics::default();
        let threads = m.stripes.len() + 3;
        std::thread::scope(|s| {
            for t in 0..threads {
                let m = &m;
                s.spawn(move || {
                    for _ in 0..=t {
                        m.stage(Stage::Policy, Duration::from_micros(3));
                        m.request(
                            OpLabel::Sts,
                            Outcome::Denied,
                            Duration::from_micros(40),
                            Some(1_000),
                        );
                        m.other_error();
                        m.error(S3ErrorCode::AccessDenied);
                    }
                });
            }
        });
        // More than one stripe took counts (threads number themselves in turn).
        let used = m
            .stripes
            .iter()
            .filter(|s| s.ops.iter().any(|n| n.load(Ordering::Relaxed) > 0));
        assert!(used.count() > 1);
        // Thread t recorded t + 1 of each.
        let n = threads * (threads + 1) / 2;
        let text = m.render();
        for line in [
            format!(
                "keygate_stage_duration_seconds_bucket{{stage=\"policy\",le=\"0.000005\"}} {n}"
            ),
            format!("keygate_stage_duration_seconds_count{{stage=\"total\"}} {n}"),
            format!(
                "keygate_stage_duration_seconds_sum{{stage=\"policy\"}} {}",
                (n * 3_000) as f64 / 1e9
            ),
            format!("keygate_requests_total{{operation=\"Sts\"}} {n}"),
            format!("keygate_operation_requests_total{{operation=\"Sts\",outcome=\"denied\"}} {n}"),
            format!(
                "keygate_operation_cpu_seconds_count{{operation=\"Sts\",outcome=\"denied\"}} {n}"
            ),
            format!("keygate_errors_total{{code=\"Other\"}} {n}"),
            format!("keygate_errors_total{{code=\"AccessDenied\"}} {n}"),
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
        }
    }

    #[tokio::test]
    async fn operation_cpu_is_kept_per_outcome_and_a_heavier_handler_shows_more() {
        let m = Metrics::sampling_every_request();
        let head = OpLabel::S3(Operation::HeadObject);
        let get = OpLabel::S3(Operation::GetObject);
        // A planted heavy handler (2 ms of CPU by the CPU clock) and a light one.
        for (op, burn_ns) in [(get, 2_000_000u64), (head, 0)] {
            for _ in 0..3 {
                let overhead = m.sample_cpu().expect("every request sampled");
                let work = async move {
                    let until = cpu::thread_cpu_ns() + burn_ns;
                    while cpu::thread_cpu_ns() < until {
                        std::hint::spin_loop();
                    }
                };
                let ((), ns) = cpu::measured(work, overhead).await;
                m.request(op, Outcome::Allowed, Duration::from_micros(1), Some(ns));
            }
        }
        m.request(get, Outcome::Denied, Duration::from_micros(1), None);
        let text = m.render();
        let value = |series: &str| -> f64 {
            text.lines()
                .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
                .unwrap_or_else(|| panic!("{series} missing in\n{text}"))
        };
        let allowed = |op: &str| format!("{{operation=\"{op}\",outcome=\"allowed\"}}");
        let per_req = |op: &str| {
            value(&format!("keygate_operation_cpu_seconds_sum{}", allowed(op)))
                / value(&format!(
                    "keygate_operation_cpu_seconds_count{}",
                    allowed(op)
                ))
        };
        // The 2 ms burn, less the clock's calibrated cost taken off per poll.
        assert!(per_req("GetObject") >= 0.00199, "{text}");
        assert!(
            per_req("GetObject") > 10.0 * per_req("HeadObject"),
            "{text}"
        );
        assert_eq!(
            value("keygate_operation_requests_total{operation=\"GetObject\",outcome=\"denied\"}"),
            1.0
        );
        assert_eq!(
            value(
                "keygate_operation_cpu_seconds_count{operation=\"GetObject\",outcome=\"denied\"}"
            ),
            0.0
        );
        assert_eq!(
            value("keygate_requests_total{operation=\"GetObject\"}"),
            4.0
        );
        assert_eq!(Outcome::of(http::StatusCode::FORBIDDEN), Outcome::Denied);
        assert_eq!(Outcome::of(http::StatusCode::NOT_FOUND), Outcome::Allowed);
    }
}
