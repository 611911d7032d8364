//! `key=value` lines as firewalls write them (Fortinet, Sophos, netfilter):
//! values bare up to the next space or in double quotes with `\"` escapes.

/// The pairs of a line, in order; text that is not `key=value` is skipped.
pub fn pairs(line: &str) -> Vec<(&str, String)> {
    let bytes = line.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        while i < bytes.len() && bytes[i] == b' ' {
            i += 1;
        }
        let key_start = i;
        while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || matches!(bytes[i], b'_' | b'-' | b'.')) {
            i += 1;
        }
        if i == key_start || i >= bytes.len() || bytes[i] != b'=' {
            // Not a pair: skip this word.
            while i < bytes.len() && bytes[i] != b' ' {
                i += 1;
            }
            continue;
        }
        let key = &line[key_start..i];
        i += 1;
        if i < bytes.len() && bytes[i] == b'"' {
            i += 1;
            let mut value = String::new();
            let mut start = i;
            while i < bytes.len() && bytes[i] != b'"' {
                if bytes[i] == b'\\' && i + 1 < bytes.len() {
                    value.push_str(&line[start..i]);
                    start = i + 1;
                    i += 1 + line[i + 1..].chars().next().map_or(1, char::len_utf8);
                    continue;
                }
                i += 1;
            }
            value.push_str(&line[start..i.min(bytes.len())]);
            i += 1;
            out.push((key, value));
        } else {
            let start = i;
            while i < bytes.len() && bytes[i] != b' ' {
                i += 1;
            }
            out.push((key, line[start..i].to_string()));
        }
    }
    out
}

/// The value of a key, first one wins.
pub fn get<'a>(pairs: &'a [(&str, String)], key: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| *k == key).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_bare_and_escaped_values() {
        let p = pairs(r#"date=2026-11-18 devname="FGT 60F" msg="say \"hi\"" flag empty= x=1"#);
        assert_eq!(get(&p, "devname"), Some("FGT 60F"));
        assert_eq!(get(&p, "msg"), Some(r#"say "hi""#));
        assert_eq!(get(&p, "x"), Some("1"));
        assert_eq!(get(&p, "empty"), None);
        assert_eq!(get(&p, "flag"), None);
    }

    #[test]
    fn an_unclosed_quote_ends_the_line_without_panic() {
        let p = pairs(r#"a="open"#);
        assert_eq!(get(&p, "a"), Some("open"));
        let p = pairs("a=\"x\\");
        assert_eq!(p.len(), 1);
        let p = pairs("a=\"\\é\" b=2");
        assert_eq!(get(&p, "a"), Some("é"));
        assert_eq!(get(&p, "b"), Some("2"));
    }
}
