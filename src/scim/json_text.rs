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

    /// A member whose value is one string made of `parts` (a URL, say).
    pub fn str_of(&mut self, k: &str, parts: &[&str]) {
        string_of(self.key(k), parts);
    }

    /// A member whose value is the time `ms` (Unix milliseconds) as RFC 3339.
    pub fn time(&mut self, k: &str, ms: i64) {
        time(self.key(k), ms);
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
    string_of(out, &[s]);
}

/// One JSON string of `parts` in order, escaped as serde_json escapes it.
/// Why not `format!` then [`string`]: list pages render a URL or two per
/// user, and the formatting machinery was 4% of a page's CPU.
pub fn string_of(out: &mut Vec<u8>, parts: &[&str]) {
    out.push(b'"');
    for p in parts {
        // Most text needs no escape and is copied whole.
        if needs_escape(p.as_bytes()) {
            escape(out, p);
        } else {
            out.extend_from_slice(p.as_bytes());
        }
    }
    out.push(b'"');
}

/// Whether `s` has a byte JSON escapes (a control character, `"` or `\`),
/// checked eight bytes at a time, the last few padded to eight. Why: most
/// strings written are keys and ids of a few bytes, which a byte loop (even
/// one the compiler vectorises for long text) checked one by one; that loop
/// was a tenth of a list page's CPU.
fn needs_escape(s: &[u8]) -> bool {
    const ONES: u64 = u64::from_le_bytes([1; 8]);
    const HIGH: u64 = ONES << 7;
    // Exact as yes/no: some byte of `x` is below `n` (n <= 128) / is zero.
    let below = |x: u64, n: u8| x.wrapping_sub(ONES * u64::from(n)) & !x & HIGH != 0;
    let zero = |x: u64| below(x, 1);
    let word = |x: u64| {
        below(x, 0x20) || zero(x ^ (ONES * u64::from(b'"'))) || zero(x ^ (ONES * u64::from(b'\\')))
    };
    let mut chunks = s.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        if word(u64::from_le_bytes(w)) {
            return true;
        }
    }
    let rest = chunks.remainder();
    if rest.is_empty() {
        return false;
    }
    let mut w = [b'a'; 8];
    for (d, b) in w.iter_mut().zip(rest) {
        *d = *b;
    }
    word(u64::from_le_bytes(w))
}

/// `s` with JSON's escapes, as serde_json writes them.
fn escape(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for b in s.bytes() {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            0..=0x1f => {
                out.extend_from_slice(b"\\u00");
                out.push(HEX.get(usize::from(b >> 4)).copied().unwrap_or(b'0'));
                out.push(HEX.get(usize::from(b & 0xf)).copied().unwrap_or(b'0'));
            }
            _ => out.push(b),
        }
    }
}

/// The time `ms` (Unix milliseconds, UTC) as a JSON string in RFC 3339 with
/// milliseconds, as `chrono`'s `to_rfc3339_opts(Millis, true)` writes it
/// (years 0 to 9999; other times go through chrono). Written by hand: two
/// per rendered user, and chrono's formatting was 3% of a page's CPU.
pub fn time(out: &mut Vec<u8>, ms: i64) {
    let (days, in_day) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    let (y, m, d) = civil(days);
    if !(0..=9999).contains(&y) {
        string(out, &crate::store::credentials::iso(ms));
        return;
    }
    let secs = in_day / 1000;
    let mut text = *b"\"0000-00-00T00:00:00.000Z\"";
    // (value, where its last digit goes, how many digits)
    for (mut v, end, n) in [
        (y, 4, 4),
        (m, 7, 2),
        (d, 10, 2),
        (secs / 3600, 13, 2),
        (secs / 60 % 60, 16, 2),
        (secs % 60, 19, 2),
        (in_day % 1000, 23, 3),
    ] {
        for i in 0..n {
            if let Some(c) = text.get_mut(end - i) {
                // A digit: 0..=9 fits a u8.
                *c = b'0' + (v % 10) as u8;
            }
            v /= 10;
        }
    }
    out.extend_from_slice(&text);
}

/// (year, month, day) of a day counted from 1970-01-01 in the proleptic
/// Gregorian calendar (Howard Hinnant's `civil_from_days`).
fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
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
    use proptest::prelude::*;
    use serde_json::{json, Value};

    proptest! {
        /// Times are written as chrono writes them, in and out of 0..=9999.
        #[test]
        fn times_are_written_as_chrono_writes_them(ms in -70_000_000_000_000_i64..300_000_000_000_000) {
            let mut out = Vec::new();
            time(&mut out, ms);
            let want = serde_json::to_vec(&crate::store::credentials::iso(ms)).unwrap();
            prop_assert_eq!(String::from_utf8(out).unwrap(), String::from_utf8(want).unwrap());
        }

        /// The word-at-a-time check finds what a byte-by-byte one finds.
        #[test]
        fn escapes_are_found_as_byte_by_byte(s in proptest::collection::vec(any::<u8>(), 0..40)) {
            let want = s.iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\');
            prop_assert_eq!(needs_escape(&s), want);
        }

        /// Strings, whole or in parts, are escaped as serde_json escapes them.
        #[test]
        fn strings_are_escaped_as_serde_json_escapes_them(a in "\\PC*", b in ".*") {
            let mut out = Vec::new();
            string_of(&mut out, &[&a, &b]);
            prop_assert_eq!(out, serde_json::to_vec(&format!("{a}{b}")).unwrap());
        }
    }

    #[test]
    fn edges_of_the_calendar_are_written_as_chrono_writes_them() {
        for ms in [
            0,
            -1,
            951_782_400_000,
            4_107_542_399_999,
            253_402_300_799_999,
            -62_167_219_200_000,
            -62_167_219_200_001,
        ] {
            let mut out = Vec::new();
            time(&mut out, ms);
            assert_eq!(
                out,
                serde_json::to_vec(&crate::store::credentials::iso(ms)).unwrap(),
                "{ms}"
            );
        }
    }

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
