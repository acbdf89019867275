//! Semantic checks of a parsed scenario file, each error with the file and key path.
//!
//! serde has already refused unknown keys and wrong types; this module checks what types
//! cannot say: the format version, id and rule-id syntax, that every identity, policy and
//! upload a step names is defined before it is used, that each `op` has exactly the parameters
//! it reads, and that matrix rows have one outcome per identity. It also reads policy files,
//! so that a missing file is a validation error rather than a run-time one.

use super::model::{Mutation, Op, ScenarioFile, SignMode, Step, FORMAT_VERSION};
use super::LoadError;
use expect::{check_expect, STATUSES};
use std::collections::BTreeSet;
use std::path::Path;

mod expect;

/// Pre-defined policy names every target has (SPEC P1).
pub const PREDEFINED_POLICIES: &[&str] = &["readonly", "writeonly", "readwrite"];

/// Fields every step may carry, whatever its op.
const COMMON: &[&str] = &[
    "timeout_ms",
    "name",
    "op",
    "as",
    "expect",
    "parallel",
    "expect_counts",
    "outcome",
    "outcome_profile",
    "outcome_transport",
];

/// (op, required fields, optional fields).
fn fields(op: Op) -> (&'static [&'static str], &'static [&'static str]) {
    use Op::*;
    match op {
        ListBuckets => (&[], &[]),
        CreateBucket | HeadBucket | DeleteBucket | GetBucketLocation | GetBucketTagging
        | DeleteBucketTagging | GetBucketPolicy | DeleteBucketPolicy | ListMultipartUploads => {
            (&["bucket"], &[])
        }
        PutBucketTagging => (&["bucket", "tags"], &[]),
        PutBucketPolicy => (&["bucket", "document"], &[]),
        PutObject => (
            &["bucket", "key"],
            &["body", "size", "content_type", "metadata", "tags"],
        ),
        GetObject => (&["bucket", "key"], &["range"]),
        HeadObject | DeleteObject | GetObjectTagging | DeleteObjectTagging => {
            (&["bucket", "key"], &[])
        }
        PutObjectTagging => (&["bucket", "key", "tags"], &[]),
        DeleteObjects => (&["bucket", "keys"], &[]),
        CopyObject => (&["bucket", "key", "source_bucket", "source_key"], &[]),
        ListObjectsV2 | ListObjects => (&["bucket"], &["prefix", "delimiter", "max_keys"]),
        CreateMultipartUpload => (&["bucket", "key", "upload"], &[]),
        UploadPart => (
            &["bucket", "key", "upload", "part_number"],
            &["body", "size"],
        ),
        CompleteMultipartUpload => (&["bucket", "key", "upload", "parts"], &[]),
        AbortMultipartUpload | ListParts => (&["bucket", "key", "upload"], &[]),
        AssumeRole => (&[], &["duration", "policy", "save_as"]),
        CreateUser => (&["user"], &["password", "uid", "gid", "policy"]),
        UpdateUser => (&["user"], &["password", "uid", "gid"]),
        DeleteUser | DetachPolicy => (&["user"], &[]),
        AttachPolicy => (&["user", "policy"], &[]),
        PutPolicy => (&["policy"], &["document"]),
        DeletePolicy => (&["policy"], &[]),
        CreateServiceAccount => (&[], &["policy", "save_as"]),
        DeleteServiceAccount => (&["account"], &[]),
        AdvanceClock => (&["seconds"], &[]),
        Sleep => (&["millis"], &[]),
        Raw => (&["request"], &[]),
        RestartTarget | KillTarget | PauseTarget | UnpauseTarget | VerifyAcknowledged => (&[], &[]),
        PutStorm => (
            &["bucket", "count"],
            &["prefix", "size", "kill_after", "user", "policy"],
        ),
    }
}

fn present(s: &Step) -> Vec<&'static str> {
    let mut v = Vec::new();
    macro_rules! p {
        ($($f:ident => $n:literal),* $(,)?) => { $( if s.$f.is_some() { v.push($n); } )* };
    }
    p!(name => "name", op => "op", as_ => "as", bucket => "bucket", key => "key", keys => "keys",
       count => "count", kill_after => "kill_after", timeout_ms => "timeout_ms",
       body => "body", size => "size", range => "range", content_type => "content_type",
       metadata => "metadata", tags => "tags", source_bucket => "source_bucket",
       source_key => "source_key", prefix => "prefix", delimiter => "delimiter",
       max_keys => "max_keys", upload => "upload", part_number => "part_number", parts => "parts",
       user => "user", password => "password", uid => "uid", gid => "gid", policy => "policy",
       document => "document", duration => "duration", save_as => "save_as", account => "account",
       seconds => "seconds", millis => "millis", request => "request", parallel => "parallel",
       expect_counts => "expect_counts", expect => "expect", outcome => "outcome",
       outcome_profile => "outcome_profile", outcome_transport => "outcome_transport");
    v
}

struct Checker<'a> {
    file: &'a Path,
    errors: Vec<LoadError>,
    identities: BTreeSet<String>,
    users: BTreeSet<String>,
    policies: BTreeSet<String>,
    accounts: BTreeSet<String>,
    uploads: BTreeSet<String>,
    /// `put_storm` steps seen so far (`verify_acknowledged` needs one).
    storms: usize,
}

impl Checker<'_> {
    fn err(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.errors.push(LoadError {
            file: self.file.to_owned(),
            path: path.into(),
            message: message.into(),
        });
    }

    fn identity(&mut self, path: String, name: &str) {
        if !name.starts_with('=') && !self.identities.contains(name) && !name.contains("{{as}}") {
            let known: Vec<_> = self.identities.iter().cloned().collect();
            self.err(
                path,
                format!(
                    "unknown identity `{name}`; expected one of {}",
                    known.join(", ")
                ),
            );
        }
    }

    fn define(&mut self, path: String, name: &str) {
        if !self.identities.insert(name.to_owned()) {
            self.err(path, format!("identity `{name}` is defined twice"));
        }
    }

    fn policy_ref(&mut self, path: String, name: &str) {
        if !name.starts_with('=')
            && !self.policies.contains(name)
            && !PREDEFINED_POLICIES.contains(&name)
        {
            self.err(
                path,
                format!(
                    "unknown policy `{name}`; expected a setup policy or one of {}",
                    PREDEFINED_POLICIES.join(", ")
                ),
            );
        }
    }
}

/// Check `def`; on success return its policy documents by logical name (files read).
pub fn validate(file: &Path, def: &ScenarioFile) -> Result<Vec<(String, String)>, Vec<LoadError>> {
    let mut c = Checker {
        file,
        errors: Vec::new(),
        identities: ["root", "anonymous"]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        users: BTreeSet::new(),
        policies: BTreeSet::new(),
        accounts: BTreeSet::new(),
        uploads: BTreeSet::new(),
        storms: 0,
    };
    if def.version != FORMAT_VERSION {
        c.err(
            "version",
            format!("expected {FORMAT_VERSION}, found {}", def.version),
        );
    }
    let id_ok = !def.id.is_empty()
        && def.id.len() <= 48
        && def
            .id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !id_ok {
        c.err("id", "expected 1..48 characters of [a-z0-9-]");
    }
    if def.rules.is_empty() {
        c.err("rules", "expected at least one SPEC rule id");
    }
    // Reports group by area, and `--tags` selects by tag: a blank one could not be named.
    if def.area.trim().is_empty() {
        c.err("area", "expected an area name (s3, sigv4, users, ...)");
    }
    for (i, t) in def.tags.iter().enumerate() {
        if t.trim().is_empty() || t.trim() != t {
            c.err(
                format!("tags[{i}]"),
                "expected a tag without surrounding blanks",
            );
        }
    }
    for (i, r) in def.rules.iter().enumerate() {
        if !crate::report::rules::is_rule_id(r) {
            c.err(
                format!("rules[{i}]"),
                format!("`{r}` is not a SPEC rule id (U1, P3, E8, ...)"),
            );
        }
    }
    let documents = setup(&mut c, def);
    for (i, step) in def.steps.iter().enumerate() {
        let path = format!("steps[{i}]");
        if step.outcome.is_some()
            || step.outcome_profile.is_some()
            || step.outcome_transport.is_some()
        {
            c.err(
                format!("{path}.outcome"),
                "`outcome` belongs to matrix cases; use `expect`",
            );
        }
        if let Some(who) = &step.as_ {
            c.identity(format!("{path}.as"), who);
        }
        check_step(&mut c, &path, step);
    }
    for (m, matrix) in def.matrix.iter().enumerate() {
        if matrix.as_.is_empty() {
            c.err(format!("matrix[{m}].as"), "expected at least one identity");
        }
        for (i, who) in matrix.as_.iter().enumerate() {
            c.identity(format!("matrix[{m}].as[{i}]"), who);
        }
        for (n, case) in matrix.cases.iter().enumerate() {
            let path = format!("matrix[{m}].cases[{n}]");
            for (field, bad) in [
                ("as", case.as_.is_some()),
                ("expect", case.expect.is_some()),
            ] {
                if bad {
                    c.err(
                        format!("{path}.{field}"),
                        "not allowed in a matrix case (the matrix gives it)",
                    );
                }
            }
            let want = matrix.as_.len();
            match &case.outcome {
                None => c.err(
                    format!("{path}.outcome"),
                    format!("expected {want} outcomes"),
                ),
                Some(o) => check_cells(&mut c, format!("{path}.outcome"), o, want),
            }
            for (p, cells) in case.outcome_profile.iter().flatten() {
                check_cells(
                    &mut c,
                    format!("{path}.outcome_profile.{}", p.as_str()),
                    cells,
                    want,
                );
            }
            for (t, cells) in case.outcome_transport.iter().flatten() {
                check_cells(
                    &mut c,
                    format!("{path}.outcome_transport.{}", t.as_str()),
                    cells,
                    want,
                );
            }
            check_step(&mut c, &path, case);
        }
    }
    if def.steps.is_empty() && def.matrix.is_empty() {
        c.err("steps", "expected at least one step or matrix");
    }
    if c.errors.is_empty() {
        Ok(documents)
    } else {
        Err(c.errors)
    }
}

fn check_cells(c: &mut Checker<'_>, path: String, cells: &[String], want: usize) {
    if cells.len() != want {
        c.err(
            path.clone(),
            format!(
                "expected {want} outcomes (one per identity), found {}",
                cells.len()
            ),
        );
    }
    for (i, cell) in cells.iter().enumerate() {
        let ok = cell == "ok"
            || cell
                .parse::<u16>()
                .is_ok_and(|s| cell.len() == 3 && STATUSES.contains(&s))
            || cell.split_once(':').is_some_and(|(s, code)| {
                // A status with an error code: a failure's.
                s.len() == 3
                    && s.parse::<u16>().is_ok_and(|s| (300..600).contains(&s))
                    && !code.is_empty()
            })
            || cell
                .chars()
                .next()
                .is_some_and(|ch| ch.is_ascii_uppercase())
                && cell.chars().all(|ch| ch.is_ascii_alphanumeric());
        if !ok {
            c.err(format!("{path}[{i}]"), format!("`{cell}`: expected `ok`, a status (`404`, 100..599), an error code (`AccessDenied`) or a failure's status and code (`403:AccessDenied`)"));
        }
    }
}

/// The longest `sleep` step.
const MAX_SLEEP_MS: u64 = 600_000;
/// The largest generated body (`size`): bodies are built in memory, once per copy.
const MAX_SIZE: usize = 256 * 1024 * 1024;
/// The most copies of a `parallel` step: each is a task with its own body and client.
const MAX_PARALLEL: usize = 4096;
/// The furthest one `advance_clock` step moves the clock: ten years.
const MAX_ADVANCE_S: i64 = 10 * 365 * 86_400;
/// The longest padded policy document (`pad_to`).
const MAX_PAD: usize = 1024 * 1024;

/// A generated body's `size` within [`MAX_SIZE`].
fn check_size(c: &mut Checker<'_>, path: String, size: Option<usize>) {
    if size.is_some_and(|n| n > MAX_SIZE) {
        c.err(
            path,
            format!("at most {MAX_SIZE} bytes (256 MiB): bodies are built in memory"),
        );
    }
}

fn setup(c: &mut Checker<'_>, def: &ScenarioFile) -> Vec<(String, String)> {
    let mut documents = Vec::new();
    let dir = c.file.parent().unwrap_or(Path::new(".")).to_owned();
    for (i, p) in def.setup.policies.iter().enumerate() {
        let path = format!("setup.policies[{i}]");
        if !c.policies.insert(p.name.clone()) || PREDEFINED_POLICIES.contains(&p.name.as_str()) {
            c.err(
                format!("{path}.name"),
                format!("policy `{}` is defined twice or is pre-defined", p.name),
            );
        }
        let doc = match (&p.document, &p.file) {
            (Some(d), None) => Some(d.clone()),
            (None, Some(f)) => match std::fs::read_to_string(dir.join(f)) {
                Ok(d) => Some(d),
                Err(e) => {
                    c.err(
                        format!("{path}.file"),
                        format!("cannot read {}: {e}", dir.join(f).display()),
                    );
                    None
                }
            },
            _ => {
                c.err(path.clone(), "expected exactly one of `document` or `file`");
                None
            }
        };
        if let Some(doc) = doc {
            // A registered policy is provisioned before the first step: a target refusing it
            // would read as the target's fault (exit 3). Malformed documents belong in steps.
            if p.register {
                if let Err(e) = serde_json::from_str::<serde_json::Value>(&doc) {
                    let key = if p.file.is_some() { "file" } else { "document" };
                    c.err(
                        format!("{path}.{key}"),
                        format!(
                            "not a JSON document ({e}); a setup policy is provisioned before \
                             the first step, so a malformed one belongs in a step's `document` \
                             (or give `register = false`)"
                        ),
                    );
                }
            }
            if let Some(n) = p.pad_to {
                if n > MAX_PAD {
                    c.err(format!("{path}.pad_to"), format!("at most {MAX_PAD} bytes"));
                } else if doc.trim_end().len() > n || !doc.trim_end().ends_with('}') {
                    c.err(
                        format!("{path}.pad_to"),
                        format!("the document must end in `}}` and be at most {n} bytes"),
                    );
                }
            }
            documents.push((p.name.clone(), doc));
        }
    }
    for (i, u) in def.setup.users.iter().enumerate() {
        c.define(format!("setup.users[{i}].name"), &u.name);
        c.users.insert(u.name.clone());
        if let Some(p) = &u.policy {
            c.policy_ref(format!("setup.users[{i}].policy"), p);
        }
    }
    let mut buckets = BTreeSet::new();
    for (i, b) in def.setup.buckets.iter().enumerate() {
        if !buckets.insert(b) {
            c.err(
                format!("setup.buckets[{i}]"),
                format!("bucket `{b}` is listed twice"),
            );
        }
        if b.is_empty()
            || b.len() > 20
            || !b
                .bytes()
                .all(|x| x.is_ascii_lowercase() || x.is_ascii_digit() || x == b'-')
        {
            c.err(
                format!("setup.buckets[{i}]"),
                "expected a logical bucket name of 1..20 characters [a-z0-9-]",
            );
        }
    }
    for (i, o) in def.setup.objects.iter().enumerate() {
        check_size(c, format!("setup.objects[{i}].size"), o.size);
        if o.body.is_some() && o.size.is_some() {
            c.err(
                format!("setup.objects[{i}]"),
                "expected at most one of `body` or `size`",
            );
        }
        if let Some(who) = &o.as_ {
            c.identity(format!("setup.objects[{i}].as"), who);
        }
    }
    let derived = def
        .setup
        .sessions
        .iter()
        .map(|s| ("sessions", &s.name, &s.user, &s.policy));
    let accounts = def
        .setup
        .service_accounts
        .iter()
        .map(|a| ("service_accounts", &a.name, &a.user, &a.policy));
    let mut counters = std::collections::BTreeMap::new();
    for (list, name, user, policy) in derived.chain(accounts) {
        let i = counters.entry(list).or_insert(0usize);
        let path = format!("setup.{list}[{i}]");
        *i += 1;
        if !c.users.contains(user) {
            c.err(
                format!("{path}.user"),
                format!("`{user}` is not a setup user"),
            );
        }
        if let Some(p) = policy {
            if !c.policies.contains(p) {
                c.err(
                    format!("{path}.policy"),
                    format!("`{p}` is not a setup policy"),
                );
            }
        }
        c.define(format!("{path}.name"), name);
        if list == "service_accounts" {
            c.accounts.insert(name.clone());
        }
    }
    documents
}

/// Whether `name` is one identity's copy of an upload defined per identity (`up-{{as}}`).
fn per_identity(defined: &BTreeSet<String>, name: &str) -> bool {
    defined.iter().any(|d| {
        d.split_once("{{as}}").is_some_and(|(head, tail)| {
            name.len() > head.len() + tail.len() && name.starts_with(head) && name.ends_with(tail)
        })
    })
}

fn check_step(c: &mut Checker<'_>, path: &str, step: &Step) {
    let Some(op) = step.op else {
        c.err(format!("{path}.op"), "missing `op`");
        return;
    };
    let (required, optional) = fields(op);
    let have = present(step);
    for r in required {
        if !have.contains(r) {
            c.err(
                format!("{path}.{r}"),
                format!("`{}` needs `{r}`", op.name()),
            );
        }
    }
    for h in &have {
        if !COMMON.contains(h) && !required.contains(h) && !optional.contains(h) {
            let mut allowed: Vec<_> = required.iter().chain(optional).copied().collect();
            allowed.sort();
            c.err(
                format!("{path}.{h}"),
                format!(
                    "`{}` does not take `{h}`; it takes: {}",
                    op.name(),
                    allowed.join(", ")
                ),
            );
        }
    }
    if step.parallel.is_some() != step.expect_counts.is_some() {
        c.err(
            format!("{path}.parallel"),
            "`parallel` and `expect_counts` go together",
        );
    }
    if step.parallel == Some(0) || step.parallel.is_some_and(|n| n > MAX_PARALLEL) {
        c.err(
            format!("{path}.parallel"),
            format!("expected 1..={MAX_PARALLEL}"),
        );
    }
    check_size(c, format!("{path}.size"), step.size);
    if step
        .seconds
        .is_some_and(|s| !(0..=MAX_ADVANCE_S).contains(&s))
    {
        c.err(
            format!("{path}.seconds"),
            format!("expected 0..={MAX_ADVANCE_S} (ten years): a clock only moves forward"),
        );
    }
    // Every copy has exactly one outcome: counts that do not add up can never match.
    if let (Some(n), Some(counts)) = (step.parallel, &step.expect_counts) {
        let sum: usize = counts.values().sum();
        if sum != n {
            c.err(
                format!("{path}.expect_counts"),
                format!("the counts add up to {sum}, but `parallel` runs {n} copies"),
            );
        }
    }
    if step.millis.is_some_and(|ms| ms > MAX_SLEEP_MS) {
        c.err(
            format!("{path}.millis"),
            format!("at most {MAX_SLEEP_MS} (10 minutes): a run must end"),
        );
    }
    if step.body.is_some() && step.size.is_some() {
        c.err(
            format!("{path}.size"),
            "expected at most one of `body` or `size`",
        );
    }
    if let Some(p) = &step.policy {
        match op {
            Op::AttachPolicy | Op::CreateUser | Op::PutStorm => {
                c.policy_ref(format!("{path}.policy"), p)
            }
            Op::PutPolicy | Op::DeletePolicy => {
                if step.document.is_none()
                    && !c.policies.contains(p)
                    && !p.starts_with('=')
                    && !PREDEFINED_POLICIES.contains(&p.as_str())
                {
                    c.err(
                        format!("{path}.policy"),
                        format!("`{p}` is not a setup policy; give `document`"),
                    );
                }
                if op == Op::PutPolicy {
                    c.policies.insert(p.clone());
                }
            }
            _ if !c.policies.contains(p) => c.err(
                format!("{path}.policy"),
                format!("`{p}` is not a setup policy"),
            ),
            _ => {}
        }
    }
    if let Some(u) = &step.user {
        if !matches!(op, Op::CreateUser) && !u.starts_with('=') && !c.users.contains(u) {
            c.err(
                format!("{path}.user"),
                format!("`{u}` is not a user of this scenario"),
            );
        }
        if op == Op::CreateUser {
            c.users.insert(u.clone());
            c.identities.insert(u.clone());
        }
        if op == Op::UpdateUser && step.password.is_some() {
            // The runner keeps the previous secret as `<user>.old` (U6 checks).
            c.identities.insert(format!("{u}.old"));
        }
    }
    if let Some(a) = &step.account {
        if !c.accounts.contains(a) {
            c.err(
                format!("{path}.account"),
                format!("`{a}` is not a service account of this scenario"),
            );
        }
    }
    if let Some(up) = &step.upload {
        if op == Op::CreateMultipartUpload {
            c.uploads.insert(up.clone());
        } else if !c.uploads.contains(up) && !up.contains("{{as}}") && !per_identity(&c.uploads, up)
        {
            c.err(
                format!("{path}.upload"),
                format!("upload `{up}` is not created by an earlier step"),
            );
        }
    }
    if let Some(name) = &step.save_as {
        c.define(format!("{path}.save_as"), name);
        if op == Op::CreateServiceAccount {
            c.accounts.insert(name.clone());
        }
    }
    check_faults(c, path, op, step);
    if let Some(e) = &step.expect {
        check_expect(c, &format!("{path}.expect"), e);
    }
    if let Some(r) = &step.request {
        let rp = format!("{path}.request");
        if http::Method::from_bytes(r.method.as_bytes()).is_err() {
            c.err(
                format!("{rp}.method"),
                format!("`{}` is not an HTTP method", r.method),
            );
        }
        if !r.path.starts_with('/') {
            c.err(format!("{rp}.path"), "expected a path starting with `/`");
        }
        let presign_only = [Mutation::ExpiredPresign];
        for (i, m) in r.mutations.iter().enumerate() {
            if presign_only.contains(m) && r.sign != SignMode::Query {
                c.err(
                    format!("{rp}.mutations[{i}]"),
                    "`expired_presign` needs `sign = \"query\"`",
                );
            }
            if *m == Mutation::SwappedToken && r.token_from.is_none() {
                c.err(
                    format!("{rp}.token_from"),
                    "`swapped_token` needs `token_from`",
                );
            }
        }
        if let Some(t) = &r.token_from {
            c.identity(format!("{rp}.token_from"), t);
        }
    }
}

/// The fault family's own rules: a storm's numbers, what it needs beside it, and which common
/// fields make no sense on steps that judge themselves.
fn check_faults(c: &mut Checker<'_>, path: &str, op: Op, step: &Step) {
    if op.is_fault_family() {
        for (field, set) in [
            ("expect", step.expect.is_some()),
            ("parallel", step.parallel.is_some()),
        ] {
            if set {
                c.err(
                    format!("{path}.{field}"),
                    format!("`{}` judges itself; it takes no `{field}`", op.name()),
                );
            }
        }
    }
    if op == Op::PutStorm {
        c.storms += 1;
        let count = step.count.unwrap_or(0);
        if !(1..=1000).contains(&count) {
            c.err(format!("{path}.count"), "expected 1..1000 PUTs");
        }
        if let Some(k) = step.kill_after {
            // The last HELD PUTs of a killing storm are held mid-body until the kill.
            let most = count.saturating_sub(crate::run::faults::HELD);
            if k == 0 || k > most {
                c.err(
                    format!("{path}.kill_after"),
                    format!(
                        "expected 1..{most} (`count` less the {} PUTs held mid-body until the kill)",
                        crate::run::faults::HELD
                    ),
                );
            }
        }
        if step.user.is_some() != step.policy.is_some() {
            c.err(
                format!("{path}.user"),
                "the policy churn needs both `user` and `policy`",
            );
        }
    }
    if op == Op::VerifyAcknowledged && c.storms == 0 {
        c.err(
            format!("{path}.op"),
            "`verify_acknowledged` needs an earlier `put_storm`",
        );
    }
    if step.timeout_ms == Some(0) {
        c.err(format!("{path}.timeout_ms"), "expected at least 1");
    }
    if let Some(e) = &step.expect {
        if e.transport_error == Some(false) {
            c.err(
                format!("{path}.expect.transport_error"),
                "only `true` is meaningful (leave it out otherwise)",
            );
        }
        let verdict = e.status.is_some() || e.code.is_some() || e.ok.is_some();
        if e.transport_error == Some(true) && verdict {
            c.err(
                format!("{path}.expect.transport_error"),
                "a transport error has no status or code to expect beside it",
            );
        }
    }
}
