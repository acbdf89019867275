//! Command templates: words split before placeholders are expanded; no shell.

use super::*;

pub fn split_words(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => cur.push(c),
                        None => return Err("unclosed '".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c) => cur.push(c),
                            None => return Err("unclosed \"".into()),
                        },
                        Some(c) => cur.push(c),
                        None => return Err("unclosed \"".into()),
                    }
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

/// Placeholders named in a word: `(name, optional)`.
pub(super) fn placeholders(word: &str) -> Result<Vec<(String, bool)>, String> {
    let mut out = Vec::new();
    let mut rest = word;
    while let Some(i) = rest.find(['{', '}']) {
        let (c, after) = (rest.as_bytes()[i], &rest[i + 1..]);
        if after.starts_with(c as char) {
            rest = &after[1..];
            continue;
        }
        if c == b'}' {
            return Err(format!("unmatched `}}` in `{word}`"));
        }
        let end = after
            .find('}')
            .ok_or_else(|| format!("unclosed `{{` in `{word}`"))?;
        let name = &after[..end];
        match name.strip_suffix('?') {
            Some(n) => out.push((n.to_owned(), true)),
            None => out.push((name.to_owned(), false)),
        }
        rest = &after[end + 1..];
    }
    Ok(out)
}

/// Expand a word; `Ok(None)` when an optional placeholder has no value (drop the word).
pub(super) fn expand(word: &str, vars: &Vars) -> Result<Option<String>, TargetError> {
    let mut out = String::new();
    let mut rest = word;
    while let Some(i) = rest.find(['{', '}']) {
        let c = rest.as_bytes()[i] as char;
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if after.starts_with(c) || c == '}' {
            out.push(c);
            rest = after.strip_prefix(c).unwrap_or(after);
            continue;
        }
        let end = after.find('}').unwrap_or(after.len());
        let raw = &after[..end];
        let (name, optional) = match raw.strip_suffix('?') {
            Some(n) => (n, true),
            None => (raw, false),
        };
        match vars.get(name) {
            Some(v) => out.push_str(v),
            None if optional => return Ok(None),
            None => {
                return Err(TargetError::Transport(format!(
                    "command template needs `{{{name}}}`, which has no value in this call"
                )))
            }
        }
        rest = after.get(end + 1..).unwrap_or("");
    }
    out.push_str(rest);
    Ok(Some(out))
}

pub(super) fn check_template(
    text: &str,
    allowed: &[&str],
    at: &str,
) -> anyhow::Result<Vec<String>> {
    let words = split_words(text).map_err(|e| anyhow::anyhow!("at `{at}`: {e}"))?;
    for w in &words {
        for (name, _) in placeholders(w).map_err(|e| anyhow::anyhow!("at `{at}`: {e}"))? {
            if !allowed.contains(&name.as_str()) && !COMMON.contains(&name.as_str()) {
                anyhow::bail!(
                    "at `{at}`: unknown placeholder `{{{name}}}`; expected one of {}",
                    allowed
                        .iter()
                        .chain(COMMON)
                        .map(|p| format!("{{{p}}}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
        }
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_split_before_expansion() {
        assert_eq!(
            split_words(r#"weka user add {name} s3 '{password}' "a b\"c""#).unwrap(),
            [
                "weka",
                "user",
                "add",
                "{name}",
                "s3",
                "{password}",
                "a b\"c"
            ]
        );
        let mut v = Vars::new();
        v.insert("name", "al ice; rm -rf /".into());
        assert_eq!(
            expand("--user={name}", &v).unwrap().unwrap(),
            "--user=al ice; rm -rf /"
        );
        assert_eq!(expand("--posix-uid={uid?}", &v).unwrap(), None);
        assert!(expand("{uid}", &v).is_err());
        assert_eq!(expand("{{x}}", &v).unwrap().unwrap(), "{x}");
    }

    #[test]
    fn unknown_placeholders_are_refused_with_their_path() {
        let def = CommandDef::Line("weka user add {nmae}".into());
        let e = super::super::compile::compile("user_add", &def, &["name"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("commands.user_add.run[0]"), "{e}");
        assert!(e.contains("{nmae}") && e.contains("{name}"), "{e}");
    }
}
