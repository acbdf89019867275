//! Load plans: `scenarios/load/*.toml`, format `version = 1`, strictly parsed.
//!
//! A plan names the identities to provision (users with a policy, STS sessions with a session
//! policy, service accounts with an embedded policy; `count` copies of each), the objects to
//! pre-create and a weighted mix of transactions. Policy documents may use `{{bucket}}` (the
//! plan's bucket, made unique per run); IAM variables such as `${aws:username}` pass through.
//! Errors name the file and the key path (`serde_path_to_error`).
//!
//! Values are checked before anything starts (exit 2), so that no plan makes the generator
//! allocate absurdly or provision for hours: every `count` at least 1; at most
//! [`MAX_OBJECTS`] objects in all (each `[[objects]]` entry's `count` summed),
//! [`MAX_OBJECT_SIZE`] per object and [`MAX_OBJECT_BYTES`] in all; a PUT body (`size` of a
//! transaction, allocated per request) at most [`MAX_PUT_SIZE`]; at most
//! [`MAX_IDENTITY_COUNT`] copies of an identity, [`MAX_KEYS`] keys and a weight of
//! [`MAX_WEIGHT`] per transaction. A GET or HEAD that expects `ok` and reads a key under an
//! `[[objects]]` prefix must read keys that entry creates (`one/0` with `count = 0` would be
//! a plan that fails by construction), and one under no prefix is refused (a PUT of the plan
//! has not written it when the first GETs come).

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::path::Path;

pub const PLAN_VERSION: u32 = 1;

/// Objects pre-created, all `[[objects]]` entries together (each is one signed PUT).
pub const MAX_OBJECTS: usize = 100_000;
/// One pre-created object's `size` (its body is held in memory while provisioning).
pub const MAX_OBJECT_SIZE: usize = 64 << 20;
/// All pre-created objects' bytes together.
pub const MAX_OBJECT_BYTES: usize = 1 << 30;
/// A PutObject transaction's body `size` (allocated for every request, by every user).
pub const MAX_PUT_SIZE: usize = 16 << 20;
/// Copies of one identity (each is provisioned: a user, an AssumeRole, a service account).
pub const MAX_IDENTITY_COUNT: usize = 1_000;
/// A transaction's `keys`.
pub const MAX_KEYS: usize = 1_000_000;
/// A transaction's `weight` (goose expands the mix by weight).
pub const MAX_WEIGHT: usize = 1_000;

/// `n` bytes as the caps are written (`64 MiB`), else as a number.
fn bytes(n: usize) -> String {
    match n {
        n if n >= 1 << 30 && n % (1 << 30) == 0 => format!("{} GiB", n >> 30),
        n if n >= 1 << 20 && n % (1 << 20) == 0 => format!("{} MiB", n >> 20),
        n => format!("{n} bytes"),
    }
}

/// `Err` naming `at` and `key` when `value` is above `max`.
fn at_most(at: &str, key: &str, value: usize, max: usize, unit: &str) -> anyhow::Result<()> {
    anyhow::ensure!(
        value <= max,
        "{at}: `{key}` {value} is above the cap of {max}{unit}",
        unit = if unit.is_empty() {
            String::new()
        } else {
            format!(" ({unit})")
        }
    );
    Ok(())
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    pub version: u32,
    pub id: String,
    pub title: String,
    #[serde(default)]
    pub policies: Vec<PolicyDef>,
    pub identities: Vec<IdentityDef>,
    #[serde(default)]
    pub objects: Vec<ObjectsDef>,
    pub transactions: Vec<TxDef>,
    /// Delete a user entry's users mid-run (revocation storm).
    #[serde(default)]
    pub revoke: Option<Revoke>,
}

/// `[revoke]`: at `at` (a fraction of the steady phase) every copy of user entry `identity`
/// is deleted; from then on every request signed by it or by its STS credentials and service
/// accounts must be refused, and no request may get a 5xx at any time.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Revoke {
    pub identity: String,
    pub at: f64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyDef {
    pub name: String,
    pub document: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum IdentityKind {
    User,
    Sts,
    ServiceAccount,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityDef {
    pub name: String,
    pub kind: IdentityKind,
    /// How many distinct identities of this shape (goose user `u` uses copy `u % count`).
    #[serde(default = "one")]
    pub count: usize,
    /// User: the policy attached (pre-defined or one of `policies`). STS: the session policy.
    /// Service account: the embedded policy (both from `policies`).
    pub policy: Option<String>,
    /// STS and service accounts: the identity (a user entry) they belong to.
    pub parent: Option<String>,
    /// STS: `DurationSeconds`.
    pub duration_seconds: Option<i32>,
    /// STS: re-assume when fewer than this many seconds of validity remain, as botocore does
    /// (its advisory refresh window is 900 s, so 900 s credentials re-assume every call).
    pub refresh_within: Option<u64>,
    /// STS: inside this many seconds of expiry a refresh must succeed (botocore's mandatory
    /// window, 600 s by default); before it, a refused refresh is tolerated and the client
    /// keeps its credentials, as botocore does in its advisory window.
    pub mandatory_refresh_within: Option<u64>,
}

/// When an STS client re-assumes (botocore's refresh windows), in seconds before expiry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refresh {
    pub advisory: u64,
    pub mandatory: u64,
}

/// botocore's mandatory refresh window.
const MANDATORY_REFRESH: u64 = 600;

impl IdentityDef {
    /// The refresh windows, when the identity refreshes at all.
    pub fn refresh(&self) -> Option<Refresh> {
        self.refresh_within.map(|advisory| Refresh {
            advisory,
            mandatory: self
                .mandatory_refresh_within
                .unwrap_or(MANDATORY_REFRESH)
                .min(advisory),
        })
    }
}

fn one() -> usize {
    1
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectsDef {
    /// Keys `{prefix}{i}` for `i in 0..count`.
    pub prefix: String,
    pub count: usize,
    pub size: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    GetObject,
    HeadObject,
    PutObject,
    ListObjectsV2,
    AssumeRole,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TxDef {
    pub name: String,
    pub op: Op,
    pub weight: usize,
    /// Identities (plan names) that send it; goose user `u` uses `as[u % len]`.
    #[serde(rename = "as")]
    pub as_: Vec<String>,
    /// Object key; `{i}` is replaced by a per-user counter modulo `keys`, `{u}` by the user.
    #[serde(default)]
    pub key: String,
    #[serde(default = "one")]
    pub keys: usize,
    /// PutObject body size.
    #[serde(default)]
    pub size: usize,
    /// ListObjectsV2 prefix.
    #[serde(default)]
    pub prefix: String,
    /// `ok` (any 2xx) or the S3 error code the target must answer (HEAD: the status).
    #[serde(default = "ok")]
    pub expect: String,
}

fn ok() -> String {
    "ok".to_owned()
}

/// Reads and validates a plan file.
pub fn load(file: &Path) -> anyhow::Result<Plan> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| anyhow::anyhow!("{}: cannot read: {e}", file.display()))?;
    parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))
}

pub fn parse(text: &str) -> anyhow::Result<Plan> {
    let de = toml::Deserializer::parse(text)?;
    let plan: Plan = serde_path_to_error::deserialize(de)
        .map_err(|e| anyhow::anyhow!("at `{}`: {}", e.path(), e.inner()))?;
    validate(&plan)?;
    Ok(plan)
}

fn validate(plan: &Plan) -> anyhow::Result<()> {
    anyhow::ensure!(
        plan.version == PLAN_VERSION,
        "version {} is not supported (expected {PLAN_VERSION})",
        plan.version
    );
    let policies: BTreeSet<&str> = plan.policies.iter().map(|p| p.name.as_str()).collect();
    let mut names = BTreeSet::new();
    for (i, id) in plan.identities.iter().enumerate() {
        let at = format!("identities[{i}] ({})", id.name);
        anyhow::ensure!(names.insert(id.name.as_str()), "{at}: duplicate name");
        anyhow::ensure!(id.count >= 1, "{at}: `count` must be at least 1");
        at_most(&at, "count", id.count, MAX_IDENTITY_COUNT, "")?;
        match id.kind {
            IdentityKind::User => {
                anyhow::ensure!(id.parent.is_none(), "{at}: a user has no parent")
            }
            IdentityKind::Sts | IdentityKind::ServiceAccount => {
                let parent = id.parent.as_deref().unwrap_or_default();
                let ok = plan
                    .identities
                    .iter()
                    .any(|p| p.name == parent && p.kind == IdentityKind::User);
                anyhow::ensure!(
                    ok,
                    "{at}: `parent` {parent:?} must name a `kind = \"user\"` entry of `identities`"
                );
                if let Some(p) = &id.policy {
                    anyhow::ensure!(policies.contains(p.as_str()), "{at}: unknown policy {p}");
                }
            }
        }
        let sts = id.kind == IdentityKind::Sts;
        anyhow::ensure!(
            sts || (id.refresh_within.is_none() && id.mandatory_refresh_within.is_none()),
            "{at}: `refresh_within` and `mandatory_refresh_within` are for STS identities"
        );
        anyhow::ensure!(
            id.mandatory_refresh_within.is_none() || id.refresh_within.is_some(),
            "{at}: `mandatory_refresh_within` needs `refresh_within`"
        );
    }
    if let Some(r) = &plan.revoke {
        let user = plan
            .identities
            .iter()
            .any(|i| i.name == r.identity && i.kind == IdentityKind::User);
        anyhow::ensure!(user, "revoke.identity must name a user entry");
        anyhow::ensure!(r.at > 0.0 && r.at < 1.0, "revoke.at must be in (0, 1)");
    }
    let (mut objects, mut object_bytes) = (0usize, 0usize);
    for (i, o) in plan.objects.iter().enumerate() {
        let at = format!("objects[{i}] ({})", o.prefix);
        anyhow::ensure!(o.count >= 1, "{at}: `count` must be at least 1");
        at_most(&at, "count", o.count, MAX_OBJECTS, "objects")?;
        at_most(
            &at,
            "size",
            o.size,
            MAX_OBJECT_SIZE,
            &format!("{} per object", bytes(MAX_OBJECT_SIZE)),
        )?;
        objects += o.count;
        object_bytes = object_bytes.saturating_add(o.count.saturating_mul(o.size));
        anyhow::ensure!(
            objects <= MAX_OBJECTS,
            "{at}: `count` brings the objects to {objects}, above the cap of {MAX_OBJECTS} in all"
        );
        anyhow::ensure!(
            object_bytes <= MAX_OBJECT_BYTES,
            "{at}: `count` × `size` brings the objects to {object_bytes} bytes, above the cap of \
             {} in all",
            bytes(MAX_OBJECT_BYTES)
        );
    }
    anyhow::ensure!(!plan.transactions.is_empty(), "no transactions");
    for (i, tx) in plan.transactions.iter().enumerate() {
        let at = format!("transactions[{i}] ({})", tx.name);
        // The report's rows and the server's CPU per transaction go by name.
        if let Some(j) = plan.transactions[..i]
            .iter()
            .position(|t| t.name == tx.name)
        {
            anyhow::bail!("{at}: `name` {:?} is also transactions[{j}]'s", tx.name);
        }
        anyhow::ensure!(
            expect_shape(&tx.expect, tx.op == Op::HeadObject),
            "{at}: `expect` {:?} is no outcome {}: `ok` (any 2xx answer), an S3 error code \
             (`AccessDenied`, `NoSuchKey`; not for HEAD, whose errors have no body) or an \
             HTTP error status (`404`, `403`)",
            tx.expect,
            if tx.op == Op::HeadObject {
                "a HEAD can have"
            } else {
                "it can have"
            }
        );
        anyhow::ensure!(tx.weight >= 1, "{at}: `weight` must be at least 1");
        at_most(&at, "weight", tx.weight, MAX_WEIGHT, "")?;
        anyhow::ensure!(tx.keys >= 1, "{at}: `keys` must be at least 1");
        at_most(&at, "keys", tx.keys, MAX_KEYS, "")?;
        at_most(
            &at,
            "size",
            tx.size,
            MAX_PUT_SIZE,
            &format!("{} per PUT body", bytes(MAX_PUT_SIZE)),
        )?;
        anyhow::ensure!(!tx.as_.is_empty(), "{at}: `as` names no identity");
        for a in &tx.as_ {
            anyhow::ensure!(names.contains(a.as_str()), "{at}: unknown identity {a}");
        }
        let needs_key = matches!(tx.op, Op::GetObject | Op::HeadObject | Op::PutObject);
        anyhow::ensure!(!needs_key || !tx.key.is_empty(), "{at}: `key` is required");
        if matches!(tx.op, Op::GetObject | Op::HeadObject) && tx.expect == "ok" {
            reads_created_keys(&at, tx, plan)?;
        }
    }
    Ok(())
}

/// Whether `expect` can name an outcome: `ok`, an error status (`404`, or `HTTP_404` as
/// reports show it; a 2xx answer is `ok`, never its status), or, but for a HEAD (whose errors
/// have no body to carry one), an error code as S3 spells them (a capital, then letters and
/// digits).
fn expect_shape(expect: &str, head: bool) -> bool {
    let status = |s: &str| s.len() == 3 && s.parse::<u16>().is_ok_and(|n| (300..600).contains(&n));
    expect == "ok"
        || status(expect)
        || expect.strip_prefix("HTTP_").is_some_and(status)
        || !head
            && expect
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_uppercase())
            && expect.chars().all(|c| c.is_ascii_alphanumeric())
}

/// A GET or HEAD expecting `ok`: every key it reads is one an `[[objects]]` entry creates.
/// Keys naming the user (`{u}`, `{user}`) are not checked. A key a PUT of the plan writes is
/// no exception: the users start together, so its first GETs come before its first PUT (in
/// the warm-up, whose unexpected answers count too) and answer NoSuchKey.
fn reads_created_keys(at: &str, tx: &TxDef, plan: &Plan) -> anyhow::Result<()> {
    if tx.key.contains("{u}") || tx.key.contains("{user}") {
        return Ok(());
    }
    let objects = &plan.objects;
    let keys = if tx.key.contains("{i}") { tx.keys } else { 1 };
    for i in 0..keys {
        let key = tx.key.replace("{i}", &i.to_string());
        // The longest prefix the key is under names the entry meant.
        let under = objects
            .iter()
            .enumerate()
            .filter(|(_, o)| key.starts_with(&o.prefix))
            .max_by_key(|(_, o)| o.prefix.len());
        let Some((j, o)) = under else {
            anyhow::bail!(
                "{at}: reads `{key}`, which no `[[objects]]` entry creates (no `prefix` it \
                 starts with), so its answers would be NoSuchKey (a PUT of the plan cannot be \
                 relied on to have written it first)"
            );
        };
        let created = key[o.prefix.len()..]
            .parse::<usize>()
            .is_ok_and(|n| n < o.count && key[o.prefix.len()..] == n.to_string());
        anyhow::ensure!(
            created,
            "{at}: reads `{key}`, which objects[{j}] does not create (it creates `{p}0` to \
             `{p}{last}`, `count` {count}), so every answer would be NoSuchKey",
            p = o.prefix,
            last = o.count.saturating_sub(1),
            count = o.count
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_plans_parse_and_errors_name_the_key_path() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/load");
        for f in [
            "hot-path",
            "auth-only",
            "auth-denied",
            "sts-refresh",
            "revocation-storm",
        ] {
            load(&dir.join(format!("{f}.toml"))).unwrap();
        }
        let bad = "version = 1\nid = \"x\"\ntitle = \"t\"\nidentities = []\n[[transactions]]\nname = \"a\"\nop = \"get_object\"\nweight = 1\nas = []\nbogus = 1\n";
        let e = parse(bad).unwrap_err().to_string();
        assert!(e.contains("transactions[0]") && e.contains("bogus"), "{e}");
        let user_refreshes = "version = 1\nid = \"x\"\ntitle = \"t\"\n[[identities]]\nname = \"u\"\nkind = \"user\"\nrefresh_within = 900\n[[transactions]]\nname = \"a\"\nop = \"head_object\"\nweight = 1\nas = [\"u\"]\nkey = \"k\"\n";
        let e = parse(user_refreshes).unwrap_err().to_string();
        assert!(e.contains("identities[0] (u)") && e.contains("STS"), "{e}");
    }

    /// A plan of one user `u` (`identity` lines added), one `[[objects]]` entry and one
    /// transaction (`tx` lines added).
    fn plan(identity: &str, objects: &str, tx: &str) -> anyhow::Result<Plan> {
        parse(&format!(
            "version = 1\nid = \"x\"\ntitle = \"t\"\n[[identities]]\nname = \"u\"\nkind = \"user\"\n\
             {identity}\n[[objects]]\nprefix = \"o/\"\n{objects}\n[[transactions]]\nname = \"a\"\n\
             as = [\"u\"]\n{tx}\n"
        ))
    }

    #[test]
    fn absurd_values_are_refused_naming_the_key_and_the_cap() {
        let objects = "count = 4\nsize = 16";
        let get = "op = \"get_object\"\nweight = 1\nkey = \"o/{i}\"\nkeys = 4";
        plan("", objects, get).unwrap();
        let refused = |identity: &str, objects: &str, tx: &str, said: &str| {
            let e = plan(identity, objects, tx).unwrap_err().to_string();
            assert!(e.contains(said), "want `{said}` in: {e}");
        };
        refused(
            "count = 1001",
            objects,
            get,
            "identities[0] (u): `count` 1001 is above the cap of 1000",
        );
        refused(
            "",
            "count = 4\nsize = 67108865",
            get,
            "objects[0] (o/): `size` 67108865 is above the cap of 67108864 (64 MiB per object)",
        );
        refused(
            "",
            "count = 100001\nsize = 0",
            get,
            "objects[0] (o/): `count` 100001 is above the cap of 100000",
        );
        refused(
            "",
            "count = 20\nsize = 67108864",
            get,
            "above the cap of 1 GiB in all",
        );
        refused(
            "",
            "count = 0\nsize = 0",
            get,
            "objects[0] (o/): `count` must be at least 1",
        );
        refused("", objects, "op = \"put_object\"\nweight = 1\nkey = \"p/{i}\"\nsize = 16777217", "transactions[0] (a): `size` 16777217 is above the cap of 16777216 (16 MiB per PUT body)");
        refused(
            "",
            objects,
            "op = \"head_object\"\nweight = 1001\nkey = \"o/0\"",
            "`weight` 1001 is above the cap of 1000",
        );
        refused(
            "",
            objects,
            "op = \"head_object\"\nweight = 1\nkey = \"p/{i}\"\nkeys = 1000001",
            "`keys` 1000001 is above the cap of 1000000",
        );
        refused("", objects, "op = \"get_object\"\nweight = 1\nkey = \"o/{i}\"\nkeys = 5", "transactions[0] (a): reads `o/4`, which objects[0] does not create (it creates `o/0` to `o/3`, `count` 4)");
        for bad in [
            "accessdenied",
            "403 Forbidden",
            "",
            "HTTP_999",
            "transport",
            "200",
            "HTTP_204",
        ] {
            refused(
                "",
                objects,
                &format!("op = \"head_object\"\nweight = 1\nkey = \"o/0\"\nexpect = {bad:?}"),
                "transactions[0] (a): `expect`",
            );
        }
        for good in ["AccessDenied", "404", "HTTP_404", "XKeygateParentIsObject"] {
            plan(
                "",
                objects,
                &format!("op = \"get_object\"\nweight = 1\nkey = \"o/0\"\nexpect = {good:?}"),
            )
            .unwrap();
        }
        // A HEAD's errors have no body: a code can never be its answer, a status can.
        let head = |expect: &str| {
            format!("op = \"head_object\"\nweight = 1\nkey = \"o/0\"\nexpect = {expect:?}")
        };
        refused("", objects, &head("AccessDenied"), "a HEAD can have");
        plan("", objects, &head("403")).unwrap();
        let twice = "op = \"head_object\"\nweight = 1\nkey = \"o/0\"\n\n[[transactions]]\n\
            name = \"a\"\nas = [\"u\"]\nop = \"head_object\"\nweight = 1\nkey = \"o/1\"";
        refused(
            "",
            objects,
            twice,
            "transactions[1] (a): `name` \"a\" is also transactions[0]'s",
        );
        // Keys outside every prefix that no PUT of the plan writes would never be there.
        refused(
            "",
            objects,
            "op = \"get_object\"\nweight = 1\nkey = \"p/{i}\"\nkeys = 9",
            "transactions[0] (a): reads `p/0`, which no `[[objects]]` entry creates",
        );
        // Not even when a PUT of the plan writes them: the first GETs come before it.
        let put_then_get = "op = \"get_object\"\nweight = 1\nkey = \"p/{i}\"\nkeys = 9\n\n\
            [[transactions]]\nname = \"w\"\nas = [\"u\"]\nop = \"put_object\"\nweight = 1\n\
            key = \"p/{i}\"\nkeys = 9";
        refused(
            "",
            objects,
            put_then_get,
            "a PUT of the plan cannot be relied on",
        );
        // Per user, or expected to fail, they are not checked.
        plan(
            "",
            objects,
            "op = \"get_object\"\nweight = 1\nkey = \"o/{u}\"",
        )
        .unwrap();
        plan(
            "",
            objects,
            "op = \"get_object\"\nweight = 1\nkey = \"o/9\"\nexpect = \"NoSuchKey\"",
        )
        .unwrap();
    }
}
