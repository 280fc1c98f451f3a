//! JSON written as text, for answers that are mostly stored JSON: a user's
//! stored attributes are copied member by member instead of being parsed
//! into a `Value` and serialized again (a list page spent about two fifths
//! of its CPU building, serializing and dropping those trees).

use std::borrow::Cow;

/// A JSON object being written into a buffer, member by member.
pub struct Object<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> Object<'a> {
    pub fn open(out: &'a mut Vec<u8>) -> Self {
        out.push(b'{');
        Object { out, first: true }
    }

    /// Starts a member; the caller writes its value next.
    pub fn key(&mut self, k: &str) -> &mut Vec<u8> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        string(self.out, k);
        self.out.push(b':');
        self.out
    }

    pub fn str(&mut self, k: &str, v: &str) {
        string(self.key(k), v);
    }

    /// A member whose value is an array of strings.
    pub fn strs(&mut self, k: &str, items: &[&str]) {
        let out = self.key(k);
        out.push(b'[');
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            string(out, item);
        }
        out.push(b']');
    }

    /// A member whose value is already JSON text.
    pub fn raw(&mut self, k: &str, v: &str) {
        self.key(k).extend_from_slice(v.as_bytes());
    }

    pub fn close(self) {
        self.out.push(b'}');
    }
}

/// A JSON string, escaped as serde_json escapes it.
pub fn string(out: &mut Vec<u8>, s: &str) {
    // Writing a `str` into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

/// The members of the JSON object `text` as (key, value as JSON text), in
/// the order written; `None` when `text` is not one object. Made for text
/// serde_json wrote (stored attributes): it finds where each value ends
/// and does not validate inside it.
pub fn members(text: &str) -> Option<Vec<(Cow<'_, str>, &str)>> {
    let b = text.as_bytes();
    let mut i = skip_ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    i = skip_ws(b, i + 1);
    let mut out = Vec::new();
    if b.get(i) == Some(&b'}') {
        return (skip_ws(b, i + 1) == b.len()).then_some(out);
    }
    loop {
        let key_end = string_end(b, i)?;
        let raw_key = text.get(i..key_end)?;
        let key = match raw_key.get(1..raw_key.len() - 1) {
            Some(k) if !k.contains('\\') => Cow::Borrowed(k),
            _ => Cow::Owned(serde_json::from_str::<String>(raw_key).ok()?),
        };
        i = skip_ws(b, key_end);
        if b.get(i) != Some(&b':') {
            return None;
        }
        let start = skip_ws(b, i + 1);
        let end = value_end(b, start)?;
        out.push((key, text.get(start..end)?));
        i = skip_ws(b, end);
        match b.get(i) {
            Some(b',') => i = skip_ws(b, i + 1),
            Some(b'}') if skip_ws(b, i + 1) == b.len() => return Some(out),
            _ => return None,
        }
    }
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while b
        .get(i)
        .is_some_and(|c| matches!(c, b' ' | b'\n' | b'\r' | b'\t'))
    {
        i += 1;
    }
    i
}

/// Just past the closing quote of the string starting at `i`.
fn string_end(b: &[u8], i: usize) -> Option<usize> {
    if b.get(i) != Some(&b'"') {
        return None;
    }
    let mut j = i + 1;
    loop {
        match b.get(j)? {
            b'"' => return Some(j + 1),
            b'\\' => j += 2,
            _ => j += 1,
        }
    }
}

/// Just past the value starting at `i`: a string, a nested object or array
/// (brackets counted outside strings), or a number or literal.
fn value_end(b: &[u8], i: usize) -> Option<usize> {
    match b.get(i)? {
        b'"' => string_end(b, i),
        b'{' | b'[' => {
            let (mut depth, mut j) = (0usize, i);
            loop {
                match b.get(j)? {
                    b'"' => {
                        j = string_end(b, j)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
        }
        _ => {
            let mut j = i;
            while b
                .get(j)
                .is_some_and(|c| !matches!(c, b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t'))
            {
                j += 1;
            }
            (j > i).then_some(j)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn parsed(text: &str) -> Option<Vec<(String, Value)>> {
        members(text).map(|m| {
            m.into_iter()
                .map(|(k, v)| (k.into_owned(), serde_json::from_str(v).expect(v)))
                .collect()
        })
    }

    #[test]
    fn members_are_split_where_serde_json_wrote_them() {
        let v = json!({
            "a\"b": "x\\\"}]",
            "emails": [{"value": "a@b", "primary": true}],
            "n": -1.5e3,
            "t": true,
            "z": null,
            "o": {"p": [[], {}], "q": "{["},
            "é\u{1}": "\u{2028}"
        });
        let text = v.to_string();
        let got = parsed(&text).expect("an object");
        let want: Vec<(String, Value)> = v
            .as_object()
            .expect("object")
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        assert_eq!(got, want);
        // Whitespace between tokens, as a pretty printer writes it.
        let pretty = serde_json::to_string_pretty(&v).expect("serializes");
        assert_eq!(parsed(&pretty).expect("an object"), want);
    }

    #[test]
    fn what_is_not_one_object_has_no_members() {
        for text in [
            "",
            "[]",
            "\"x\"",
            "{",
            "{\"a\":1",
            "{\"a\" 1}",
            "{\"a\":1}x",
            "{\"a\":}",
            "{}{}",
            "{\"a\":1,}",
        ] {
            assert!(members(text).is_none(), "{text}");
        }
        assert_eq!(members(" {} ").map(|m| m.len()), Some(0));
    }

    #[test]
    fn an_object_written_member_by_member_is_valid_json() {
        let mut out = Vec::new();
        let mut o = Object::open(&mut out);
        o.str("a\n", "q\"uote");
        o.raw("b", "[1,2]");
        string(o.key("c"), "é");
        o.strs("d", &["x", "y\""]);
        o.strs("e", &[]);
        o.close();
        let v: Value = serde_json::from_slice(&out).expect("valid JSON");
        assert_eq!(
            v,
            json!({"a\n": "q\"uote", "b": [1, 2], "c": "é", "d": ["x", "y\""], "e": []})
        );
    }
}
