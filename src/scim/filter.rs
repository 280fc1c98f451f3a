//! RFC 7644 §3.4.2.2 filters: parse, and evaluate against SCIM JSON.
//!
//! Precedence: `not` and grouping bind tightest, then `and`, then `or`.
//! Attribute names and operators are case-insensitive; string comparison
//! follows each attribute's caseExact from the schema.

use super::schema::{self, ResourceKind, Type};
use super::{ENTERPRISE_URN, GROUP_URN, USER_URN};
use serde_json::Value;
use std::cmp::Ordering;

const MAX_DEPTH: usize = 64;
/// Most attribute expressions one filter may hold: enough for any IdP's
/// lookups, and far below what the SQL it becomes can nest.
pub const MAX_TERMS: usize = 100;
const MAX_LEN: usize = 10_000;

#[derive(Debug, Clone, PartialEq)]
pub struct AttrPath {
    /// A schema URN prefix, when given.
    pub urn: Option<String>,
    /// Empty when the path is a bare extension URN.
    pub attr: String,
    pub sub: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    Compare {
        path: AttrPath,
        op: CompareOp,
        value: Value,
    },
    Present(AttrPath),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    ValuePath {
        attr: AttrPath,
        filter: Box<Filter>,
    },
}

/// A PATCH path: `attr`, `attr.sub`, `attr[filter]` or `attr[filter].sub`.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    pub attr: AttrPath,
    pub filter: Option<Filter>,
    pub sub_after: Option<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct FilterError(pub String);

impl std::fmt::Display for AttrPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.urn, self.attr.is_empty()) {
            (Some(u), true) => return write!(f, "{u}"),
            (Some(u), false) => write!(f, "{u}:{}", self.attr)?,
            (None, _) => write!(f, "{}", self.attr)?,
        }
        if let Some(s) = &self.sub {
            write!(f, ".{s}")?;
        }
        Ok(())
    }
}

impl CompareOp {
    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Co => "co",
            CompareOp::Sw => "sw",
            CompareOp::Ew => "ew",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
        }
    }
}

/// The filter in RFC 7644 syntax, fully parenthesised: parsing the text
/// gives the same tree back.
impl std::fmt::Display for Filter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Filter::Compare { path, op, value } => write!(f, "{path} {} {value}", op.as_str()),
            Filter::Present(p) => write!(f, "{p} pr"),
            Filter::And(a, b) => write!(f, "({a} and {b})"),
            Filter::Or(a, b) => write!(f, "({a} or {b})"),
            Filter::Not(x) => write!(f, "not ({x})"),
            Filter::ValuePath { attr, filter } => write!(f, "{attr}[{filter}]"),
        }
    }
}

fn err<T>(msg: impl Into<String>) -> Result<T, FilterError> {
    Err(FilterError(msg.into()))
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    LParen,
    RParen,
    LBracket,
    RBracket,
    Word(String),
    Str(String),
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, ':' | '.' | '$' | '-' | '_' | '+')
}

fn lex(s: &str) -> Result<Vec<Tok>, FilterError> {
    if s.len() > MAX_LEN {
        return err("filter is too long");
    }
    let mut chars = s.chars().peekable();
    let mut out = vec![];
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\n' | '\r' => {}
            '(' => out.push(Tok::LParen),
            ')' => out.push(Tok::RParen),
            '[' => out.push(Tok::LBracket),
            ']' => out.push(Tok::RBracket),
            '"' => {
                // A JSON string, escapes included.
                let mut lit = String::from('"');
                let mut closed = false;
                while let Some(c) = chars.next() {
                    lit.push(c);
                    match c {
                        '\\' => {
                            if let Some(e) = chars.next() {
                                lit.push(e);
                            }
                        }
                        '"' => {
                            closed = true;
                            break;
                        }
                        _ => {}
                    }
                }
                if !closed {
                    return err("unterminated string in filter");
                }
                let v: String = serde_json::from_str(&lit)
                    .map_err(|_| FilterError(format!("invalid string literal {lit}")))?;
                out.push(Tok::Str(v));
            }
            c if is_word_char(c) => {
                let mut w = String::from(c);
                while let Some(&n) = chars.peek() {
                    if !is_word_char(n) {
                        break;
                    }
                    w.push(n);
                    chars.next();
                }
                out.push(Tok::Word(w));
            }
            other => return err(format!("unexpected character {other:?} in filter")),
        }
    }
    Ok(out)
}

/// Splits `urn:...:attr.sub` into its parts.
pub fn parse_attr_path(word: &str) -> Result<AttrPath, FilterError> {
    let lower = word.to_ascii_lowercase();
    let (urn, rest) = if let Some(u) = [ENTERPRISE_URN, USER_URN, GROUP_URN]
        .iter()
        .find(|u| lower == u.to_ascii_lowercase())
    {
        return Ok(AttrPath {
            urn: Some(u.to_string()),
            attr: String::new(),
            sub: None,
        });
    } else if let Some(u) = [ENTERPRISE_URN, USER_URN, GROUP_URN]
        .iter()
        .find(|u| lower.starts_with(&format!("{}:", u.to_ascii_lowercase())))
    {
        (Some(u.to_string()), &word[u.len() + 1..])
    } else if lower.starts_with("urn:") {
        match word.rfind(':') {
            Some(i) => (Some(word[..i].to_string()), &word[i + 1..]),
            None => (None, word),
        }
    } else {
        (None, word)
    };
    let (attr, sub) = match rest.split_once('.') {
        Some((a, s)) => (a, Some(s)),
        None => (rest, None),
    };
    let valid = |s: &str| {
        !s.is_empty()
            && s.chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '$')
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '$')
    };
    if !valid(attr) || sub.is_some_and(|s| !valid(s)) {
        return err(format!("invalid attribute path {word:?}"));
    }
    Ok(AttrPath {
        urn,
        attr: attr.to_string(),
        sub: sub.map(String::from),
    })
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
    depth: usize,
    terms: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }
    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }
    fn keyword(&self, k: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(w)) if w.eq_ignore_ascii_case(k))
    }
    fn enter(&mut self) -> Result<(), FilterError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return err("filter is nested too deeply");
        }
        Ok(())
    }

    fn or(&mut self) -> Result<Filter, FilterError> {
        self.enter()?;
        let mut left = self.and()?;
        while self.keyword("or") {
            self.pos += 1;
            let right = self.and()?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        self.depth -= 1;
        Ok(left)
    }

    fn and(&mut self) -> Result<Filter, FilterError> {
        let mut left = self.unary()?;
        while self.keyword("and") {
            self.pos += 1;
            let right = self.unary()?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn group(&mut self) -> Result<Filter, FilterError> {
        match self.next() {
            Some(Tok::LParen) => {}
            _ => return err("expected '('"),
        }
        let f = self.or()?;
        match self.next() {
            Some(Tok::RParen) => Ok(f),
            _ => err("expected ')'"),
        }
    }

    fn unary(&mut self) -> Result<Filter, FilterError> {
        if self.keyword("not") && matches!(self.toks.get(self.pos + 1), Some(Tok::LParen)) {
            self.pos += 1;
            self.enter()?;
            let f = self.group()?;
            self.depth -= 1;
            return Ok(Filter::Not(Box::new(f)));
        }
        if matches!(self.peek(), Some(Tok::LParen)) {
            self.enter()?;
            let f = self.group()?;
            self.depth -= 1;
            return Ok(f);
        }
        self.attr_exp()
    }

    fn attr_exp(&mut self) -> Result<Filter, FilterError> {
        self.terms += 1;
        if self.terms > MAX_TERMS {
            return err(format!(
                "a filter holds at most {MAX_TERMS} attribute expressions"
            ));
        }
        let path = match self.next() {
            Some(Tok::Word(w)) => parse_attr_path(&w)?,
            Some(t) => return err(format!("expected an attribute name, found {t:?}")),
            None => return err("filter ends where an attribute name was expected"),
        };
        if matches!(self.peek(), Some(Tok::LBracket)) {
            self.pos += 1;
            self.enter()?;
            let inner = self.or()?;
            self.depth -= 1;
            return match self.next() {
                Some(Tok::RBracket) => Ok(Filter::ValuePath {
                    attr: path,
                    filter: Box::new(inner),
                }),
                _ => err("expected ']'"),
            };
        }
        let op = match self.next() {
            Some(Tok::Word(w)) => w.to_ascii_lowercase(),
            _ => return err("expected an operator after the attribute"),
        };
        let op = match op.as_str() {
            "pr" => return Ok(Filter::Present(path)),
            "eq" => CompareOp::Eq,
            "ne" => CompareOp::Ne,
            "co" => CompareOp::Co,
            "sw" => CompareOp::Sw,
            "ew" => CompareOp::Ew,
            "gt" => CompareOp::Gt,
            "ge" => CompareOp::Ge,
            "lt" => CompareOp::Lt,
            "le" => CompareOp::Le,
            other => return err(format!("unknown operator {other:?}")),
        };
        let value = match self.next() {
            Some(Tok::Str(s)) => Value::String(s),
            Some(Tok::Word(w)) => match w.to_ascii_lowercase().as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                "null" => Value::Null,
                _ => serde_json::from_str::<serde_json::Number>(&w)
                    .map(Value::Number)
                    .map_err(|_| FilterError(format!("invalid comparison value {w:?}")))?,
            },
            _ => return err("expected a comparison value"),
        };
        Ok(Filter::Compare { path, op, value })
    }
}

pub fn parse_filter(s: &str) -> Result<Filter, FilterError> {
    let toks = lex(s)?;
    if toks.is_empty() {
        return err("empty filter");
    }
    let mut p = Parser {
        toks,
        pos: 0,
        depth: 0,
        terms: 0,
    };
    let f = p.or()?;
    if p.pos != p.toks.len() {
        return err(format!(
            "unexpected {:?} after the filter",
            p.toks.get(p.pos)
        ));
    }
    Ok(f)
}

/// Parses a PATCH `path`.
pub fn parse_path(s: &str) -> Result<PatchPath, FilterError> {
    let s = s.trim();
    let Some(open) = s.find('[') else {
        return Ok(PatchPath {
            attr: parse_attr_path(s)?,
            filter: None,
            sub_after: None,
        });
    };
    let close = s
        .rfind(']')
        .ok_or_else(|| FilterError("expected ']' in path".into()))?;
    if close < open {
        return err("malformed path");
    }
    let attr = parse_attr_path(&s[..open])?;
    if attr.sub.is_some() {
        return err("a value filter applies to a top-level attribute");
    }
    let filter = parse_filter(&s[open + 1..close])?;
    let rest = &s[close + 1..];
    let sub_after = match rest.strip_prefix('.') {
        Some(sub)
            if !sub.is_empty()
                && sub
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '$' || c == '_') =>
        {
            Some(sub.to_string())
        }
        Some(_) => return err("invalid sub-attribute after ']'"),
        None if rest.is_empty() => None,
        None => return err(format!("unexpected {rest:?} after ']'")),
    };
    Ok(PatchPath {
        attr,
        filter: Some(filter),
        sub_after,
    })
}

/// Case-insensitive key lookup in a JSON object.
pub fn get_ci<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    v.as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
}

/// The object an attribute path is read from (the extension object for enterprise paths).
/// Schemas other than the core ones and the enterprise extension hold
/// nothing here: a path under them matches no resource.
pub fn scope_of<'a>(resource: &'a Value, urn: Option<&str>) -> Option<&'a Value> {
    match urn {
        Some(u) if u.eq_ignore_ascii_case(ENTERPRISE_URN) => get_ci(resource, ENTERPRISE_URN),
        Some(u) if u.eq_ignore_ascii_case(USER_URN) || u.eq_ignore_ascii_case(GROUP_URN) => {
            Some(resource)
        }
        Some(_) => None,
        None => Some(resource),
    }
}

struct Rule {
    case_exact: bool,
    ty: Option<Type>,
}

fn rule(kind: ResourceKind, urn: Option<&str>, attr: &str, sub: Option<&str>) -> Rule {
    let def = match schema::lookup(kind, urn, attr, sub) {
        // A complex attribute compared directly compares its `value`.
        Some(d) if d.ty == Type::Complex && sub.is_none() => {
            schema::lookup(kind, urn, attr, Some("value")).or(Some(d))
        }
        other => other,
    };
    Rule {
        case_exact: def.is_some_and(|d| d.case_exact),
        ty: def.map(|d| d.ty),
    }
}

/// Values found at `attr[.sub]` inside `scope`.
fn values<'a>(scope: &'a Value, attr: &str, sub: Option<&str>) -> Vec<&'a Value> {
    let Some(top) = get_ci(scope, attr) else {
        return vec![];
    };
    let pick = |v: &'a Value| -> Option<&'a Value> {
        match (sub, v) {
            (Some(s), Value::Object(_)) => get_ci(v, s),
            (Some(_), _) => None,
            (None, Value::Object(_)) => get_ci(v, "value"),
            (None, other) => Some(other),
        }
    };
    match top {
        Value::Array(items) => items.iter().filter_map(pick).collect(),
        Value::Object(_) if sub.is_none() => vec![top],
        other => pick(other).into_iter().collect(),
    }
}

fn cmp_values(actual: &Value, op: CompareOp, expected: &Value, r: &Rule) -> bool {
    match (actual, expected) {
        (Value::String(a), Value::String(e)) => {
            if r.ty == Some(Type::DateTime) {
                if let (Ok(a), Ok(e)) = (
                    chrono::DateTime::parse_from_rfc3339(a),
                    chrono::DateTime::parse_from_rfc3339(e),
                ) {
                    return order(a.cmp(&e), op);
                }
            }
            let (a, e) = if r.case_exact {
                (a.clone(), e.clone())
            } else {
                (a.to_lowercase(), e.to_lowercase())
            };
            match op {
                CompareOp::Eq => a == e,
                CompareOp::Ne => a != e,
                CompareOp::Co => a.contains(&e),
                CompareOp::Sw => a.starts_with(&e),
                CompareOp::Ew => a.ends_with(&e),
                _ => order(a.cmp(&e), op),
            }
        }
        (Value::Number(a), Value::Number(e)) => match (a.as_f64(), e.as_f64()) {
            (Some(a), Some(e)) => a.partial_cmp(&e).is_some_and(|o| order(o, op)),
            _ => false,
        },
        (Value::Bool(a), _) => match (super::resource::coerce_bool(expected), op) {
            (Some(e), CompareOp::Eq) => *a == e,
            (Some(e), CompareOp::Ne) => *a != e,
            _ => false,
        },
        _ => false,
    }
}

fn order(o: Ordering, op: CompareOp) -> bool {
    match op {
        CompareOp::Eq => o == Ordering::Equal,
        CompareOp::Ne => o != Ordering::Equal,
        CompareOp::Gt => o == Ordering::Greater,
        CompareOp::Ge => o != Ordering::Less,
        CompareOp::Lt => o == Ordering::Less,
        CompareOp::Le => o != Ordering::Greater,
        _ => false,
    }
}

fn non_empty(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        _ => true,
    }
}

/// `parent` is set while evaluating inside a value filter (`emails[...]`).
fn eval(f: &Filter, scope: &Value, kind: ResourceKind, parent: Option<&AttrPath>) -> bool {
    // Resolves a path to (values, case rule) in the current scope.
    let resolve = |p: &AttrPath| -> (Vec<&Value>, Rule) {
        match parent {
            Some(par) => (
                values(scope, &p.attr, None),
                rule(kind, par.urn.as_deref(), &par.attr, Some(&p.attr)),
            ),
            None => match scope_of(scope, p.urn.as_deref()) {
                Some(s) => (
                    values(s, &p.attr, p.sub.as_deref()),
                    rule(kind, p.urn.as_deref(), &p.attr, p.sub.as_deref()),
                ),
                None => (
                    vec![],
                    rule(kind, p.urn.as_deref(), &p.attr, p.sub.as_deref()),
                ),
            },
        }
    };
    match f {
        Filter::Compare { path, op, value } => {
            let (vals, r) = resolve(path);
            match (op, value) {
                (CompareOp::Eq, Value::Null) => !vals.iter().any(|v| non_empty(v)),
                (CompareOp::Ne, Value::Null) => vals.iter().any(|v| non_empty(v)),
                // "ne" holds when no value equals.
                (CompareOp::Ne, _) => !vals.iter().any(|v| cmp_values(v, CompareOp::Eq, value, &r)),
                _ => vals.iter().any(|v| cmp_values(v, *op, value, &r)),
            }
        }
        Filter::Present(path) => resolve(path).0.iter().any(|v| non_empty(v)),
        Filter::And(a, b) => eval(a, scope, kind, parent) && eval(b, scope, kind, parent),
        Filter::Or(a, b) => eval(a, scope, kind, parent) || eval(b, scope, kind, parent),
        Filter::Not(a) => !eval(a, scope, kind, parent),
        Filter::ValuePath { attr, filter } => {
            let Some(s) = scope_of(scope, attr.urn.as_deref()) else {
                return false;
            };
            match get_ci(s, &attr.attr) {
                Some(Value::Array(items)) => {
                    items.iter().any(|i| eval(filter, i, kind, Some(attr)))
                }
                Some(v @ Value::Object(_)) => eval(filter, v, kind, Some(attr)),
                _ => false,
            }
        }
    }
}

/// Does `resource` (SCIM JSON of `kind`) match the filter?
pub fn matches(f: &Filter, resource: &Value, kind: ResourceKind) -> bool {
    eval(f, resource, kind, None)
}

/// Does one element of a multi-valued attribute match a value filter?
pub fn element_matches(f: &Filter, element: &Value, kind: ResourceKind, parent: &AttrPath) -> bool {
    eval(f, element, kind, Some(parent))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p(s: &str) -> Filter {
        parse_filter(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn user() -> Value {
        json!({"id": "AbC", "userName": "Ada@Example.com", "externalId": "Ext-1", "active": true, "title": "",
               "name": {"givenName": "Ada", "familyName": "Lovelace"},
               "emails": [{"value": "ada@work.example", "type": "work", "primary": true}, {"value": "ada@home.example", "type": "home"}],
               "meta": {"lastModified": "2026-05-01T10:00:00.000Z", "created": "2026-01-01T00:00:00Z"},
               ENTERPRISE_URN: {"department": "Engines", "manager": {"value": "boss"}}})
    }

    #[test]
    fn precedence_and_grouping() {
        assert_eq!(
            p("a eq 1 or b eq 2 and c eq 3"),
            Filter::Or(
                Box::new(p("a eq 1")),
                Box::new(Filter::And(Box::new(p("b eq 2")), Box::new(p("c eq 3"))))
            )
        );
        assert_eq!(
            p("(a eq 1 or b eq 2) and c eq 3"),
            Filter::And(
                Box::new(Filter::Or(Box::new(p("a eq 1")), Box::new(p("b eq 2")))),
                Box::new(p("c eq 3"))
            )
        );
        assert!(matches!(p("not (a pr) AND b pr"), Filter::And(..)));
        assert!(matches!(
            p("userName Eq \"x\""),
            Filter::Compare {
                op: CompareOp::Eq,
                ..
            }
        ));
    }

    #[test]
    fn paths_and_values() {
        let Filter::Compare { path, value, .. } =
            p("urn:ietf:params:scim:schemas:core:2.0:User:name.givenName eq \"A \\\"q\\\" b\"")
        else {
            panic!()
        };
        assert_eq!(
            path,
            AttrPath {
                urn: Some(USER_URN.into()),
                attr: "name".into(),
                sub: Some("givenName".into())
            }
        );
        assert_eq!(value, json!("A \"q\" b"));
        let Filter::Compare { path, .. } =
            p(&format!("{ENTERPRISE_URN}:manager.value eq \"boss\""))
        else {
            panic!()
        };
        assert_eq!(path.urn.as_deref(), Some(ENTERPRISE_URN));
        assert!(matches!(
            p("x eq 1.5e2"),
            Filter::Compare {
                value: Value::Number(_),
                ..
            }
        ));
        assert!(matches!(
            p("x eq null"),
            Filter::Compare {
                value: Value::Null,
                ..
            }
        ));
        assert!(matches!(
            p("emails[type eq \"work\" and value co \"@\"]"),
            Filter::ValuePath { .. }
        ));
    }

    #[test]
    fn invalid_filters() {
        for bad in [
            "",
            "userName eq",
            "userName xx \"a\"",
            "(userName eq \"a\"",
            "userName eq \"a\")",
            "userName eq \"a\" garbage",
            "userName eq \"unterminated",
            "emails[type eq \"w\"",
            "userName eq bare",
            "9abc eq 1",
            "a eq 1 and",
            "not a eq 1",
            "a ~ 1",
        ] {
            assert!(parse_filter(bad).is_err(), "{bad:?} parsed");
        }
        let deep = format!("{}a pr{}", "(".repeat(200), ")".repeat(200));
        assert!(parse_filter(&deep).is_err());
    }

    #[test]
    fn evaluation() {
        let u = user();
        let m = |s: &str| matches(&p(s), &u, ResourceKind::User);
        assert!(
            m("userName eq \"ada@example.com\""),
            "userName is not caseExact"
        );
        assert!(m("USERNAME sw \"ADA\""));
        assert!(!m("id eq \"abc\""), "id is caseExact");
        assert!(m("id eq \"AbC\""));
        assert!(!m("externalId eq \"ext-1\""));
        assert!(
            m("emails co \"home.example\""),
            "any value of a multi-valued attribute"
        );
        assert!(m("emails.value ew \"@WORK.example\""));
        assert!(m("emails[type eq \"work\" and value co \"@work\"]"));
        assert!(!m("emails[type eq \"home\" and primary eq true]"));
        assert!(m("meta.lastModified gt \"2026-04-30T23:00:00+02:00\""));
        assert!(!m("meta.lastModified gt \"2026-05-01T10:00:00Z\""));
        assert!(m("active eq true and not (title pr)"));
        assert!(m("active eq \"True\""));
        assert!(!m("title pr"));
        assert!(m(&format!("{ENTERPRISE_URN}:department eq \"engines\"")));
        assert!(m(&format!("{ENTERPRISE_URN}:manager.value eq \"boss\"")));
        assert!(m("nickName ne \"x\""), "ne holds when absent");
        assert!(!m("unknownAttr eq \"x\""));
        assert!(m(
            "name.familyName le \"Lovelace\" and name.familyName lt \"M\""
        ));
        let g = json!({"id": "g1", "displayName": "Eng", "members": [{"value": "u1"}, {"value": "U2"}]});
        assert!(matches(
            &p("id eq \"g1\" and members eq \"u1\""),
            &g,
            ResourceKind::Group
        ));
        assert!(
            !matches(&p("members eq \"u2\""), &g, ResourceKind::Group),
            "members.value is caseExact"
        );
        assert!(matches(
            &p("members[value eq \"U2\"]"),
            &g,
            ResourceKind::Group
        ));
    }

    #[test]
    fn patch_paths() {
        let pp = parse_path("emails[type eq \"work\"].value").unwrap();
        assert_eq!(pp.attr.attr, "emails");
        assert_eq!(pp.sub_after.as_deref(), Some("value"));
        assert!(pp.filter.is_some());
        let pp = parse_path("name.givenName").unwrap();
        assert_eq!(pp.attr.sub.as_deref(), Some("givenName"));
        let pp = parse_path(ENTERPRISE_URN).unwrap();
        assert_eq!(
            (pp.attr.urn.as_deref(), pp.attr.attr.as_str()),
            (Some(ENTERPRISE_URN), "")
        );
        assert!(parse_path("members[value eq \"x\"").is_err());
        assert!(parse_path("members[value eq \"x\"]junk").is_err());
        assert!(parse_path("bad path").is_err());
    }
}
