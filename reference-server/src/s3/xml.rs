//! S3 XML: a small writer for responses and typed parsers for request bodies.
//!
//! Responses are written element by element with escaping, in S3's namespace. Request bodies
//! (DeleteObjects, CompleteMultipartUpload, Tagging) are parsed with quick-xml into typed
//! structs; anything that does not parse is `MalformedXML`, never a panic.

use serde::Deserialize;

use super::error::{S3Error, S3ErrorCode, S3Result};
use crate::store::multipart::RequestedPart;
use keygate_sigv4::ChecksumAlgorithm;

pub const S3_NS: &str = "http://s3.amazonaws.com/doc/2006-03-01/";

/// Appends `text` as XML character data: the five markup characters as entities, and as
/// character references (lower-case hex, as S3 writes them) the characters an XML parser
/// would not give back as sent: `\r`, which parsers turn into `\n`, and those XML 1.0 does not
/// allow at all (other control characters, U+FFFE, U+FFFF). Keys may hold any of them; XML 1.0
/// parsers refuse a reference to the latter too, so clients list such keys with
/// `encoding-type=url`. Tab and newline stay raw.
fn push_escaped(out: &mut String, text: &str) {
    push_text(out, text, false);
}

/// [`push_escaped`], but the characters XML 1.0 does not allow (control characters other than
/// tab, LF and CR; U+FFFE, U+FFFF) become U+FFFD, as MinIO writes them: for error bodies, which
/// every client must be able to parse to read the code, while a listing's keys must round-trip.
fn push_escaped_lossy(out: &mut String, text: &str) {
    push_text(out, text, true);
}

/// `text` escaped as [`push_escaped_lossy`] does, for bodies not written by an [`XmlWriter`].
pub(crate) fn escape_lossy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    push_escaped_lossy(&mut out, text);
    out
}

fn push_text(out: &mut String, text: &str, replace_forbidden: bool) {
    use std::fmt::Write as _;
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' => out.push(c),
            c if replace_forbidden
                && c != '\r'
                && (c < ' ' || c == '\u{fffe}' || c == '\u{ffff}') =>
            {
                out.push('\u{fffd}');
            }
            c if c < ' ' || c == '\u{fffe}' || c == '\u{ffff}' => {
                let _ = write!(out, "&#x{:x};", u32::from(c));
            }
            c => out.push(c),
        }
    }
}

/// Builds an XML document as a string.
#[derive(Debug)]
pub struct XmlWriter {
    out: String,
    stack: Vec<&'static str>,
}

impl XmlWriter {
    /// Starts a document whose root element carries the S3 namespace.
    pub fn new(root: &'static str) -> XmlWriter {
        let mut out = String::with_capacity(512);
        out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<");
        out.push_str(root);
        out.push_str(" xmlns=\"");
        out.push_str(S3_NS);
        out.push_str("\">");
        XmlWriter {
            out,
            stack: vec![root],
        }
    }

    /// Starts a document whose root has no namespace (S3's `<Error>`).
    pub fn bare(root: &'static str) -> XmlWriter {
        let mut out = String::with_capacity(256);
        out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<");
        out.push_str(root);
        out.push('>');
        XmlWriter {
            out,
            stack: vec![root],
        }
    }

    pub fn open(&mut self, name: &'static str) -> &mut Self {
        self.out.push('<');
        self.out.push_str(name);
        self.out.push('>');
        self.stack.push(name);
        self
    }

    pub fn close(&mut self) -> &mut Self {
        if let Some(name) = self.stack.pop() {
            self.out.push_str("</");
            self.out.push_str(name);
            self.out.push('>');
        }
        self
    }

    /// `<name>text</name>`, escaped.
    pub fn elem(&mut self, name: &str, text: &str) -> &mut Self {
        self.out.push('<');
        self.out.push_str(name);
        self.out.push('>');
        push_escaped(&mut self.out, text);
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push('>');
        self
    }

    pub fn opt(&mut self, name: &str, text: Option<&str>) -> &mut Self {
        if let Some(t) = text {
            self.elem(name, t);
        }
        self
    }

    /// `<name>text</name>` for an error body: escaped, and what XML 1.0 cannot carry even as
    /// a reference replaced by U+FFFD (see [`push_escaped_lossy`]).
    pub fn elem_lossy(&mut self, name: &str, text: &str) -> &mut Self {
        self.out.push('<');
        self.out.push_str(name);
        self.out.push('>');
        push_escaped_lossy(&mut self.out, text);
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push('>');
        self
    }

    pub fn finish(mut self) -> String {
        while !self.stack.is_empty() {
            self.close();
        }
        self.out
    }
}

/// S3's timestamp format in listings: `2006-02-03T16:45:09.000Z`.
pub fn timestamp(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// A request body whose root element is `root` (any namespace), as `T`.
fn parse<'de, T: Deserialize<'de>>(body: &'de [u8], root: &str) -> S3Result<T> {
    let text = std::str::from_utf8(body).map_err(|_| S3Error::new(S3ErrorCode::MalformedXML))?;
    if root_name(text).as_deref() != Some(root) {
        return Err(S3Error::new(S3ErrorCode::MalformedXML));
    }
    // No S3 request body needs a document type declaration. Refusing one up front also keeps
    // quick-xml 0.38 from panicking on a DOCTYPE between two text runs of an element
    // (tafia/quick-xml#964; found by the xml_bodies fuzz target).
    if body
        .windows(3)
        .any(|w| w[0] == b'<' && w[1] == b'!' && w[2].eq_ignore_ascii_case(&b'd'))
    {
        return Err(S3Error::new(S3ErrorCode::MalformedXML));
    }
    quick_xml::de::from_str(text).map_err(|_| S3Error::new(S3ErrorCode::MalformedXML))
}

/// The local name of the document's root element (serde reads any root as the struct).
fn root_name(text: &str) -> Option<String> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(text);
    loop {
        match reader.read_event().ok()? {
            Event::Start(e) | Event::Empty(e) => {
                return std::str::from_utf8(e.local_name().as_ref())
                    .ok()
                    .map(str::to_owned)
            }
            Event::Eof => return None,
            _ => {}
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DeleteXml {
    #[serde(default)]
    quiet: bool,
    #[serde(default)]
    object: Vec<DeleteObjectXml>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DeleteObjectXml {
    key: String,
    #[serde(default)]
    version_id: Option<String>,
    #[serde(default, rename = "ETag")]
    etag: Option<String>,
}

/// One `<Object>` of a DeleteObjects request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectToDelete {
    pub key: String,
    /// `<VersionId>`, when given.
    pub version_id: Option<String>,
    /// `<ETag>`, when given: delete only an object with this ETag (a conditional delete).
    pub etag: Option<String>,
}

/// The DeleteObjects request: quiet mode and the objects, at most 1000.
pub fn parse_delete(body: &[u8]) -> S3Result<(bool, Vec<ObjectToDelete>)> {
    let d: DeleteXml = parse(body, "Delete")?;
    if d.object.is_empty() || d.object.len() > 1000 {
        return Err(S3Error::new(S3ErrorCode::MalformedXML));
    }
    let objects = d
        .object
        .into_iter()
        .map(|o| ObjectToDelete {
            key: o.key,
            version_id: o.version_id,
            etag: o.etag,
        })
        .collect();
    Ok((d.quiet, objects))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct BucketConfigurationXml {
    #[serde(default)]
    location_constraint: Option<String>,
}

/// An object's checksum as a result document names it (`<ChecksumCRC32>…</ChecksumCRC32>
/// <ChecksumType>…</ChecksumType>`), if it has one.
pub fn checksum_elements(w: &mut XmlWriter, meta: &crate::store::ObjectMeta) {
    let Some((name, value)) = &meta.checksum else {
        return;
    };
    if let Some(alg) = ChecksumAlgorithm::from_header_name(name) {
        w.elem(&format!("Checksum{}", alg.name()), value);
        let kind = meta.checksum_type.as_deref().unwrap_or("FULL_OBJECT");
        w.elem("ChecksumType", kind);
    }
}

/// A part's checksum as its `Checksum<ALGORITHM>` element (ListParts, CopyPartResult).
pub fn part_checksum_element(w: &mut XmlWriter, checksum: Option<&(String, String)>) {
    let checksum = checksum.and_then(|(name, value)| {
        ChecksumAlgorithm::from_header_name(name).map(|alg| (alg, value))
    });
    if let Some((alg, value)) = checksum {
        w.elem(&format!("Checksum{}", alg.name()), value);
    }
}

/// The region a CreateBucket body asks for (`None`: no constraint, or an empty one).
pub fn parse_bucket_configuration(body: &[u8]) -> S3Result<Option<String>> {
    let c: BucketConfigurationXml = parse(body, "CreateBucketConfiguration")?;
    Ok(c.location_constraint.filter(|r| !r.is_empty()))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CompleteXml {
    #[serde(default)]
    part: Vec<CompletePartXml>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CompletePartXml {
    part_number: u32,
    #[serde(rename = "ETag")]
    etag: String,
    #[serde(rename = "ChecksumCRC32")]
    crc32: Option<String>,
    #[serde(rename = "ChecksumCRC32C")]
    crc32c: Option<String>,
    #[serde(rename = "ChecksumCRC64NVME")]
    crc64nvme: Option<String>,
    #[serde(rename = "ChecksumSHA1")]
    sha1: Option<String>,
    #[serde(rename = "ChecksumSHA256")]
    sha256: Option<String>,
}

/// The CompleteMultipartUpload request: its parts in the order given, each with the checksum
/// it names (at most one: more is 400 `InvalidRequest`).
pub fn parse_complete(body: &[u8]) -> S3Result<Vec<RequestedPart>> {
    let c: CompleteXml = parse(body, "CompleteMultipartUpload")?;
    c.part
        .into_iter()
        .map(|p| {
            let named = [p.crc32, p.crc32c, p.crc64nvme, p.sha1, p.sha256];
            let mut checksums = ChecksumAlgorithm::ALL
                .into_iter()
                .zip(named)
                .filter_map(|(alg, v)| Some((alg.header_name().to_owned(), v?)));
            let checksum = checksums.next();
            if checksums.next().is_some() {
                return Err(S3Error::with_message(
                    S3ErrorCode::InvalidRequest,
                    "A part may name one checksum.",
                ));
            }
            Ok(RequestedPart {
                number: p.part_number,
                etag: p.etag,
                checksum,
            })
        })
        .collect()
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TaggingXml {
    tag_set: TagSetXml,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TagSetXml {
    #[serde(default)]
    tag: Vec<TagXml>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TagXml {
    key: String,
    /// Required (S3's schema); `<Value/>` is the empty value.
    value: String,
}

/// A Tagging document, validated as S3 does: object tags at most 10, bucket tags at most 50,
/// keys 1..=128 and values 0..=256 characters, keys unique.
/// What a tag set is for: S3 allows 10 tags on an object, 50 on a bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tagged {
    Object,
    Bucket,
}

pub fn parse_tagging(body: &[u8], of: Tagged) -> S3Result<Vec<(String, String)>> {
    let t: TaggingXml = parse(body, "Tagging")?;
    let tags: Vec<(String, String)> = t
        .tag_set
        .tag
        .into_iter()
        .map(|t| (t.key, t.value))
        .collect();
    validate_tags(&tags, of)?;
    Ok(tags)
}

/// S3's tag rules (AWS "User-defined tag restrictions"): keys of 1 to 128 and values of up to
/// 256 characters, each made of letters, digits, spaces and `+ - = . _ : / @`; keys unique and
/// not in the reserved `aws:` namespace. A broken rule is `InvalidTag`; too many tags is
/// `BadRequest` with S3's message naming the limit.
pub fn validate_tags(tags: &[(String, String)], of: Tagged) -> S3Result<()> {
    let invalid = |m: &'static str| Err(S3Error::with_message(S3ErrorCode::InvalidTag, m));
    let (limit, too_many) = match of {
        Tagged::Object => (10, "Object tags cannot be greater than 10"),
        Tagged::Bucket => (50, "Bucket tag count cannot be greater than 50"),
    };
    if tags.len() > limit {
        return Err(S3Error::with_message(S3ErrorCode::BadRequest, too_many));
    }
    let allowed = |s: &str| {
        s.chars()
            .all(|c| c.is_alphanumeric() || c == ' ' || "+-=._:/@".contains(c))
    };
    for (i, (k, v)) in tags.iter().enumerate() {
        if k.is_empty() || k.chars().count() > 128 || !allowed(k) {
            return invalid("The TagKey you have provided is invalid.");
        }
        if k.starts_with("aws:") {
            return invalid("Your TagKey cannot be prefixed with aws:");
        }
        if v.chars().count() > 256 || !allowed(v) {
            return invalid("The TagValue you have provided is invalid.");
        }
        if tags[..i].iter().any(|(other, _)| other == k) {
            return invalid("Cannot provide multiple Tags with the same key.");
        }
    }
    Ok(())
}

/// Writes a Tagging document.
pub fn tagging(tags: &[(String, String)]) -> String {
    let mut w = XmlWriter::new("Tagging");
    w.open("TagSet");
    for (k, v) in tags {
        w.open("Tag").elem("Key", k).elem("Value", v).close();
    }
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_follow_s3_rules_and_bodies_their_schema() {
        let tagging = |tags: &str| {
            parse_tagging(
                format!("<Tagging><TagSet>{tags}</TagSet></Tagging>").as_bytes(),
                Tagged::Object,
            )
        };
        let tag = |k: &str, v: &str| format!("<Tag><Key>{k}</Key><Value>{v}</Value></Tag>");
        assert_eq!(
            tagging(&(tag("a b+-=._:/@é1", "") + &tag("k", "v w"))).unwrap(),
            [
                ("a b+-=._:/@é1".to_owned(), String::new()),
                ("k".to_owned(), "v w".to_owned())
            ]
        );
        assert_eq!(tagging("<Tag><Key>k</Key><Value/></Tag>").unwrap()[0].1, "");
        for (bad, code) in [
            (tag("aws:x", "v"), S3ErrorCode::InvalidTag),
            (tag("a*", "v"), S3ErrorCode::InvalidTag),
            (tag("k", "v;"), S3ErrorCode::InvalidTag),
            (tag(&"k".repeat(129), "v"), S3ErrorCode::InvalidTag),
            (tag("k", &"v".repeat(257)), S3ErrorCode::InvalidTag),
            (tag("k", "1") + &tag("k", "2"), S3ErrorCode::InvalidTag),
            (tag("k", "v").repeat(11), S3ErrorCode::BadRequest),
            (
                "<Tag><Key>k</Key></Tag>".to_owned(),
                S3ErrorCode::MalformedXML,
            ),
        ] {
            assert_eq!(tagging(&bad).unwrap_err().code, code, "{bad}");
        }
        // S3's limits and messages: 10 tags on an object, 50 on a bucket.
        let many = |n: usize| {
            let tags: String = (0..n).map(|i| tag(&format!("k{i}"), "v")).collect();
            format!("<Tagging><TagSet>{tags}</TagSet></Tagging>")
        };
        assert!(parse_tagging(many(50).as_bytes(), Tagged::Bucket).is_ok());
        let e = parse_tagging(many(51).as_bytes(), Tagged::Bucket).unwrap_err();
        assert_eq!(
            (e.code, e.message.as_ref()),
            (
                S3ErrorCode::BadRequest,
                "Bucket tag count cannot be greater than 50"
            )
        );
        let e = tagging(&tag("k", "v").repeat(11)).unwrap_err();
        assert_eq!(e.message, "Object tags cannot be greater than 10");
        for (body, root) in [
            ("<Foo><Object><Key>a</Key></Object></Foo>", "Delete"),
            ("<Tags><TagSet/></Tags>", "Tagging"),
        ] {
            let err = match root {
                "Delete" => parse_delete(body.as_bytes()).unwrap_err(),
                _ => parse_tagging(body.as_bytes(), Tagged::Object).unwrap_err(),
            };
            assert_eq!(err.code, S3ErrorCode::MalformedXML, "{body}");
        }
        assert!(parse_complete(
            b"<Other><Part><ETag>x</ETag><PartNumber>1</PartNumber></Part></Other>"
        )
        .is_err());
    }

    #[test]
    fn text_escapes_markup_and_control_characters() {
        let text = "a\rb\x01c\x1b<&>\"'\t\nz\u{7f}é\u{fffe}";
        let mut out = String::new();
        push_escaped(&mut out, text);
        assert_eq!(
            out,
            "a&#xd;b&#x1;c&#x1b;&lt;&amp;&gt;&quot;&apos;\t\nz\u{7f}é&#xfffe;"
        );
        // quick-xml (which does not hold to XML 1.0's character set) reads every reference
        // back; a CR alone is well-formed XML 1.0 and survives any parser's line-end handling.
        assert_eq!(quick_xml::escape::unescape(&out).unwrap(), text);
        // For error bodies: only what XML 1.0 allows, the rest as U+FFFD; CR still a reference.
        let mut lossy = String::new();
        push_escaped_lossy(
            &mut lossy,
            "a\rb\x01c\x00\x1b<\t\n\u{7f}é\u{fffe}\u{ffff}\u{fffd}",
        );
        assert_eq!(
            lossy,
            "a&#xd;b\u{fffd}c\u{fffd}\u{fffd}&lt;\t\n\u{7f}é\u{fffd}\u{fffd}\u{fffd}"
        );
    }

    #[test]
    fn request_bodies_parse_and_garbage_is_malformed_xml() {
        let (quiet, objects) = parse_delete(
            br#"<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Quiet>true</Quiet><Object><Key>a&amp;b</Key></Object><Object><Key>c</Key><VersionId>v1</VersionId></Object></Delete>"#,
        )
        .unwrap();
        assert!(quiet);
        let keys: Vec<_> = objects
            .iter()
            .map(|o| (o.key.as_str(), o.version_id.as_deref()))
            .collect();
        assert_eq!(keys, [("a&b", None), ("c", Some("v1"))]);
        let parts = parse_complete(
            br#"<CompleteMultipartUpload><Part><ETag>"x"</ETag><PartNumber>1</PartNumber><ChecksumCRC32>AAAAAA==</ChecksumCRC32></Part></CompleteMultipartUpload>"#,
        )
        .unwrap();
        let crc = Some(("x-amz-checksum-crc32".to_owned(), "AAAAAA==".to_owned()));
        let expected = RequestedPart {
            number: 1,
            etag: "\"x\"".to_owned(),
            checksum: crc,
        };
        assert_eq!(parts, [expected]);
        let tags = parse_tagging(
            b"<Tagging><TagSet><Tag><Key>k</Key><Value>v</Value></Tag></TagSet></Tagging>",
            Tagged::Object,
        )
        .unwrap();
        assert_eq!(tags, [("k".to_owned(), "v".to_owned())]);
        for bad in [
            &b"<Delete>"[..],
            b"\xff\xfe",
            b"",
            b"<Delete></Delete>",
            b"<Tagging/>",
        ] {
            assert!(
                parse_delete(bad).is_err() && parse_tagging(bad, Tagged::Object).is_err(),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_doctype_between_text_runs_is_malformed_xml_not_a_panic() {
        let body = b"<CompleteMultipartUpload><Part><PartNumber>1<!DOCTYPE a>2</PartNumber>\
            <ETag>x</ETag></Part></CompleteMultipartUpload>";
        assert!(parse_complete(body).is_err());
        assert!(
            parse_delete(b"<Delete><Object><Key>a<!doctype b>c</Key></Object></Delete>").is_err()
        );
        assert!(
            parse_tagging(b"<!DOCTYPE t><Tagging><TagSet/></Tagging>", Tagged::Object).is_err()
        );
    }

    #[test]
    fn writer_escapes_text() {
        let mut w = XmlWriter::new("R");
        w.elem("Key", "<a&b>");
        assert!(w.finish().ends_with(
            "<R xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Key>&lt;a&amp;b&gt;</Key></R>"
        ));
        assert_eq!(timestamp(1_000), "1970-01-01T00:00:01.000Z");
    }
}
