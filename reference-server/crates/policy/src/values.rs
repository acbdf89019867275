//! Condition key values supplied by the request: the [`ConditionValues`] trait, the
//! well-known keys ([`ConditionKey`]) and [`ConditionMap`], the store the server fills.
//!
//! Spec: E9 (the keys; a missing key is `None`; absent `prefix` is missing, `prefix=` is the
//! empty string). Condition key names are case-insensitive (AWS): the evaluator always asks
//! with the **lower-case** name, so implementations store lower-case keys.
//!
//! Hot path: a well-known key is found by array index ([`ConditionValues::get_known`]); a
//! single value is held inline, so setting one costs only the value's own `String`.
//!
//! `aws:username`, `aws:userid` and `aws:principaltype` need not be stored here: the evaluator
//! reads them from [`crate::RequestContext`] first.

/// Values of request condition keys.
pub trait ConditionValues {
    /// The values of `key` (lower-case), or `None` when the request does not carry it.
    fn get(&self, key: &str) -> Option<Values<'_>>;

    /// The values of a well-known key; by default `get(key.lower_name())`.
    fn get_known(&self, key: ConditionKey) -> Option<Values<'_>> {
        self.get(key.lower_name())
    }
}

/// The values of one key, borrowed as the [`ConditionValues`] holds them: one string (which
/// an implementation can lend from the request itself, without a copy), a list, or one
/// address (`aws:SourceIp`), which IP conditions compare without writing and parsing its
/// text, and every other operator reads as its text (`Display`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Values<'a> {
    One(&'a str),
    Many(&'a [String]),
    Ip(std::net::IpAddr),
}

impl Values<'_> {
    /// How many values.
    pub fn len(self) -> usize {
        match self {
            Values::One(_) | Values::Ip(_) => 1,
            Values::Many(vs) => vs.len(),
        }
    }

    /// No value at all (a present key with an empty list, which the evaluator treats as
    /// missing).
    pub fn is_empty(self) -> bool {
        self.len() == 0
    }
}

macro_rules! condition_keys {
    ($($variant:ident => $name:literal, $lower:literal;)*) => {
        /// The well-known condition keys of SPEC E9 (tag keys aside).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum ConditionKey { $($variant,)* }

        impl ConditionKey {
            /// Every well-known key, in declaration order.
            pub const ALL: &'static [ConditionKey] = &[$(ConditionKey::$variant,)*];

            /// The canonical spelling, e.g. `"aws:SourceIp"`.
            pub fn as_str(&self) -> &'static str {
                match self { $(ConditionKey::$variant => $name,)* }
            }

            /// The lower-case spelling used for look-ups, e.g. `"aws:sourceip"`.
            pub fn lower_name(&self) -> &'static str {
                match self { $(ConditionKey::$variant => $lower,)* }
            }
        }
    };
}

condition_keys! {
    SourceIp => "aws:SourceIp", "aws:sourceip";
    SecureTransport => "aws:SecureTransport", "aws:securetransport";
    CurrentTime => "aws:CurrentTime", "aws:currenttime";
    EpochTime => "aws:EpochTime", "aws:epochtime";
    UserAgent => "aws:UserAgent", "aws:useragent";
    Referer => "aws:Referer", "aws:referer";
    Username => "aws:username", "aws:username";
    Userid => "aws:userid", "aws:userid";
    PrincipalType => "aws:principaltype", "aws:principaltype";
    SignatureVersion => "s3:signatureversion", "s3:signatureversion";
    AuthType => "s3:authType", "s3:authtype";
    SignatureAge => "s3:signatureAge", "s3:signatureage";
    ContentSha256 => "s3:x-amz-content-sha256", "s3:x-amz-content-sha256";
    Prefix => "s3:prefix", "s3:prefix";
    Delimiter => "s3:delimiter", "s3:delimiter";
    MaxKeys => "s3:max-keys", "s3:max-keys";
    CopySource => "s3:x-amz-copy-source", "s3:x-amz-copy-source";
    MetadataDirective => "s3:x-amz-metadata-directive", "s3:x-amz-metadata-directive";
    RequestObjectTagKeys => "s3:RequestObjectTagKeys", "s3:requestobjecttagkeys";
}

impl ConditionKey {
    /// The well-known key named `name`, compared case-insensitively.
    pub fn from_name(name: &str) -> Option<ConditionKey> {
        ConditionKey::ALL
            .iter()
            .copied()
            .find(|k| k.lower_name().eq_ignore_ascii_case(name))
    }
}

/// Prefix of the per-tag key on the stored object (`s3:ExistingObjectTag/<k>`), lower-case.
pub const EXISTING_OBJECT_TAG: &str = "s3:existingobjecttag/";
/// Prefix of the per-tag key on the request (`s3:RequestObjectTag/<k>`), lower-case.
pub const REQUEST_OBJECT_TAG: &str = "s3:requestobjecttag/";

/// A condition key's name as kept for look-up: lower-case (key names are case-insensitive),
/// but for the tag key after `s3:ExistingObjectTag/` or `s3:RequestObjectTag/`, which stays
/// as written: object tag keys are case-sensitive (`Class` and `class` are two tags), so a
/// policy's `s3:RequestObjectTag/Class` reads the tag `Class` and never `class`.
pub(crate) fn key_name(name: &str) -> String {
    match tag_part(name) {
        Some(at) => {
            let mut out = name[..at].to_ascii_lowercase();
            out.push_str(&name[at..]);
            out
        }
        None => name.to_lowercase(),
    }
}

/// Where the tag key starts in `name`, when `name` is a per-tag key.
fn tag_part(name: &str) -> Option<usize> {
    [EXISTING_OBJECT_TAG, REQUEST_OBJECT_TAG]
        .into_iter()
        .find(|p| {
            name.get(..p.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(p))
        })
        .map(str::len)
}

/// Whether `asked` names the key kept as `kept` (a [`key_name`]).
fn same_key(kept: &str, asked: &str) -> bool {
    match tag_part(kept) {
        Some(at) => {
            kept.len() == asked.len()
                && asked.as_bytes()[..at].eq_ignore_ascii_case(&kept.as_bytes()[..at])
                && asked.as_bytes()[at..] == kept.as_bytes()[at..]
        }
        None => kept.eq_ignore_ascii_case(asked),
    }
}

#[derive(Clone, Debug, Default)]
enum Slot {
    #[default]
    Absent,
    One([String; 1]),
    Many(Vec<String>),
}

impl Slot {
    fn of(mut values: Vec<String>) -> Slot {
        if values.len() == 1 {
            Slot::One([values.pop().unwrap_or_default()])
        } else {
            Slot::Many(values)
        }
    }

    fn get(&self) -> Option<Values<'_>> {
        match self {
            Slot::Absent => None,
            Slot::One([v]) => Some(Values::One(v)),
            Slot::Many(v) => Some(Values::Many(v)),
        }
    }
}

const KNOWN: usize = ConditionKey::ALL.len();

/// Condition values of one request: an array slot per [`ConditionKey`] and a short list for
/// every other key (tags, or keys a policy names that Keygate does not know).
#[derive(Clone, Debug, Default)]
pub struct ConditionMap {
    known: [Slot; KNOWN],
    other: Vec<(String, Slot)>,
}

impl ConditionMap {
    /// An empty map: every key missing. `const`, so a request that needs no condition key
    /// can share one empty map instead of building and dropping one.
    pub const fn new() -> ConditionMap {
        const ABSENT: Slot = Slot::Absent;
        ConditionMap {
            known: [ABSENT; KNOWN],
            other: Vec::new(),
        }
    }

    /// Sets a well-known key to one value (replacing any earlier values).
    pub fn set(&mut self, key: ConditionKey, value: impl Into<String>) -> &mut Self {
        self.known[key as usize] = Slot::One([value.into()]);
        self
    }

    /// Sets a well-known key to several values (an empty list is a present key with no value,
    /// which the evaluator treats as missing).
    pub fn set_many(&mut self, key: ConditionKey, values: Vec<String>) -> &mut Self {
        self.known[key as usize] = Slot::of(values);
        self
    }

    /// Removes a well-known key.
    pub fn remove(&mut self, key: ConditionKey) -> &mut Self {
        self.known[key as usize] = Slot::Absent;
        self
    }

    /// Sets any key by name (case-insensitive but for a tag key: see [`key_name`]);
    /// well-known names go to their slot.
    pub fn insert(&mut self, name: &str, values: Vec<String>) -> &mut Self {
        if let Some(key) = ConditionKey::from_name(name) {
            return self.set_many(key, values);
        }
        let name = key_name(name);
        let slot = Slot::of(values);
        match self.other.iter_mut().find(|(k, _)| *k == name) {
            Some(entry) => entry.1 = slot,
            None => self.other.push((name, slot)),
        }
        self
    }

    /// Sets `s3:ExistingObjectTag/<tag_key>` (a tag of the stored object).
    pub fn existing_object_tag(&mut self, tag_key: &str, value: impl Into<String>) -> &mut Self {
        let name = format!("{EXISTING_OBJECT_TAG}{tag_key}");
        self.insert(&name, vec![value.into()])
    }

    /// Sets `s3:RequestObjectTag/<tag_key>` (a tag the request sets).
    pub fn request_object_tag(&mut self, tag_key: &str, value: impl Into<String>) -> &mut Self {
        let name = format!("{REQUEST_OBJECT_TAG}{tag_key}");
        self.insert(&name, vec![value.into()])
    }
}

impl ConditionValues for ConditionMap {
    fn get(&self, key: &str) -> Option<Values<'_>> {
        if let Some(known) = ConditionKey::from_name(key) {
            return self.get_known(known);
        }
        self.other
            .iter()
            .find(|(k, _)| same_key(k, key))
            .and_then(|(_, slot)| slot.get())
    }

    fn get_known(&self, key: ConditionKey) -> Option<Values<'_>> {
        self.known[key as usize].get()
    }
}

/// No condition values at all.
impl ConditionValues for () {
    fn get(&self, _key: &str) -> Option<Values<'_>> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e9_keys_round_trip_and_are_case_insensitive() {
        for k in ConditionKey::ALL {
            assert_eq!(k.lower_name(), k.as_str().to_lowercase());
            assert_eq!(ConditionKey::from_name(k.as_str()), Some(*k));
            assert_eq!(
                ConditionKey::from_name(&k.as_str().to_uppercase()),
                Some(*k)
            );
        }
        assert_eq!(ConditionKey::from_name("aws:nope"), None);
    }

    #[test]
    fn e9_condition_map_missing_empty_and_tags() {
        let mut m = ConditionMap::new();
        assert!(m.get("s3:prefix").is_none());
        m.set(ConditionKey::Prefix, "");
        assert_eq!(m.get("s3:prefix"), Some(Values::One("")));
        m.set_many(ConditionKey::SourceIp, vec!["1.2.3.4".into(), "::1".into()]);
        assert_eq!(
            m.get_known(ConditionKey::SourceIp).map(Values::len),
            Some(2)
        );
        m.remove(ConditionKey::Prefix);
        assert!(m.get_known(ConditionKey::Prefix).is_none());
        m.existing_object_tag("Project", "x");
        assert_eq!(
            m.get("s3:existingobjecttag/Project"),
            Some(Values::One("x"))
        );
        m.insert("S3:ExistingObjectTag/Project", vec!["y".into()]);
        assert_eq!(
            m.get("S3:EXISTINGOBJECTTAG/Project"),
            Some(Values::One("y"))
        );
        // Tag keys are case-sensitive: `project` is another tag, whichever comes first.
        assert!(m.get("s3:existingobjecttag/project").is_none());
        m.request_object_tag("class", "public");
        m.request_object_tag("Class", "secret");
        assert_eq!(
            m.get("s3:RequestObjectTag/Class"),
            Some(Values::One("secret"))
        );
        assert_eq!(
            m.get("s3:requestobjecttag/class"),
            Some(Values::One("public"))
        );
        m.insert("S3:PREFIX", vec!["p".into()]);
        assert_eq!(m.get_known(ConditionKey::Prefix), Some(Values::One("p")));
    }
}
