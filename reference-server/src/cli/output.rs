//! Human output: aligned tables for lists, `Key: value` lines for one record, and the raw
//! server JSON for `--json`.

use super::client::{Answer, Error, Result};

/// Columns padded to their widest cell, two spaces apart; the last column is not padded.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let header: Vec<String> = header.iter().map(|h| (*h).to_owned()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                let pad = widths[i].saturating_sub(cell.chars().count());
                line.push_str(cell);
                line.extend(std::iter::repeat_n(' ', pad + 2));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `Key: value` lines, in order (the WEKA CLI's shape for one record).
pub fn fields(pairs: &[(&str, String)]) -> String {
    pairs.iter().map(|(k, v)| format!("{k}: {v}\n")).collect()
}

/// The answer's body as JSON.
pub fn json(answer: &Answer) -> Result<serde_json::Value> {
    serde_json::from_slice(&answer.body)
        .map_err(|e| Error::Protocol(format!("the body is not JSON: {e}")))
}

/// One table row per element of the array `v[key]`.
pub fn rows(
    v: &serde_json::Value,
    key: &str,
    row: impl Fn(&serde_json::Value) -> Vec<String>,
) -> Vec<Vec<String>> {
    v[key]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(row)
        .collect()
}

/// `--json`: the server's body as received; otherwise the human text.
pub fn emit(as_json: bool, answer: &Answer, human: &str) {
    if as_json {
        print_raw(answer);
    } else {
        print!("{human}");
    }
}

/// Prints the server's JSON body as received (nothing for an empty 204 body).
pub fn print_raw(answer: &Answer) {
    let text = String::from_utf8_lossy(&answer.body);
    let text = text.trim_end();
    if !text.is_empty() {
        println!("{text}");
    }
}

/// A string field of a JSON object ("" when absent).
pub fn str_field(v: &serde_json::Value, key: &str) -> String {
    match &v[key] {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// A policy document indented two spaces a level, keys in the order written (a JSON value
/// round trip would sort them); text that is not JSON comes back as stored.
pub fn pretty_document(doc: &str) -> String {
    if serde_json::from_str::<serde_json::Value>(doc).is_err() {
        return doc.to_owned();
    }
    let mut out = String::with_capacity(doc.len() * 2);
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        out.extend(std::iter::repeat_n("  ", depth));
    };
    let mut chars = doc.trim().chars().peekable();
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            (escaped, in_string) = match (escaped, c) {
                (true, _) => (false, true),
                (false, '\\') => (true, true),
                (false, '"') => (false, false),
                _ => (false, true),
            };
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                out.push(c);
            }
            '{' | '[' => {
                out.push(c);
                while chars.next_if(|c| c.is_whitespace()).is_some() {}
                if chars
                    .next_if(|n| matches!((c, n), ('{', '}') | ('[', ']')))
                    .is_some()
                {
                    out.push(if c == '{' { '}' } else { ']' });
                } else {
                    depth += 1;
                    newline(&mut out, depth);
                }
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(c);
            }
            ',' => {
                out.push(c);
                newline(&mut out, depth);
            }
            ':' => out.push_str(": "),
            c if c.is_whitespace() => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_columns() {
        let rows = vec![
            vec!["alice".into(), "1000".into(), "readwrite".into()],
            vec!["bob-the-builder".into(), "0".into(), "-".into()],
        ];
        assert_eq!(
            table(&["NAME", "UID", "POLICY"], &rows),
            "NAME             UID   POLICY\n\
             alice            1000  readwrite\n\
             bob-the-builder  0     -\n"
        );
    }

    #[test]
    fn documents_keep_their_key_order() {
        let doc = r#"{"Version": "2012-10-17","Statement":[ {"Effect":"Allow","Action":[],
            "Resource":"arn:aws:s3:::a\\\"b, {c}","Condition":{}}]}"#;
        assert_eq!(
            pretty_document(doc),
            "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {\n      \
             \"Effect\": \"Allow\",\n      \"Action\": [],\n      \
             \"Resource\": \"arn:aws:s3:::a\\\\\\\"b, {c}\",\n      \"Condition\": {}\n    }\n  ]\n}"
        );
        assert_eq!(pretty_document("not json"), "not json");
    }

    #[test]
    fn empty_table_is_its_header() {
        assert_eq!(table(&["NAME", "POLICY"], &[]), "NAME  POLICY\n");
    }
}
