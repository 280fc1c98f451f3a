//! SCIM filters to SQL conditions.
//!
//! A filter is translated into a SQL condition for the attributes clients
//! look up by (userName, externalId, id, active, emails, displayName,
//! members, meta timestamps), so lookups use indexes. The translation says
//! whether it is exact; when it is not (or a part cannot be translated), the
//! SQL condition is only a superset prefilter and every candidate is checked
//! against the parsed filter in memory, so answers are always correct.

use super::entities::{group, group_member, user};
use crate::scim::filter::{AttrPath, CompareOp, Filter};
use crate::scim::schema::ResourceKind;
use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr, Query, SimpleExpr};
use sea_orm::{ColumnTrait, Condition};
use serde_json::Value;

#[derive(Debug)]
pub struct Translation {
    /// None: no restriction beyond the account.
    pub cond: Option<Condition>,
    /// True when `cond` selects exactly the matching resources.
    pub exact: bool,
}

fn all() -> Translation {
    Translation {
        cond: None,
        exact: false,
    }
}

fn exact(e: SimpleExpr) -> Translation {
    Translation {
        cond: Some(Condition::all().add(e)),
        exact: true,
    }
}

fn superset(e: SimpleExpr) -> Translation {
    Translation {
        cond: Some(Condition::all().add(e)),
        exact: false,
    }
}

fn like_escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

fn ms(v: &Value) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(v.as_str()?)
        .ok()
        .map(|d| d.timestamp_millis())
}

enum Col {
    /// A lowercased copy of a case-insensitive string attribute.
    Folded(SimpleExpr),
    /// A case-exact string attribute.
    Exact(SimpleExpr),
    Bool(SimpleExpr),
    Millis(SimpleExpr),
    Emails,
    Members,
}

/// The folded userName of a filter that is exactly `userName eq "<string>"`
/// on users (IdPs' lookup before every create), which has a statement of
/// its own (`store::shapes::PARTED_USER_BY_NAME`).
pub fn user_name_eq(kind: ResourceKind, f: &Filter) -> Option<String> {
    match f {
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value: Value::String(s),
        } if kind == ResourceKind::User
            && matches!(column(kind, path), Some(Col::Folded(_)))
            && path.attr.eq_ignore_ascii_case("userName") =>
        {
            Some(s.to_lowercase())
        }
        _ => None,
    }
}

fn column(kind: ResourceKind, p: &AttrPath) -> Option<Col> {
    // Columns hold core attributes only: any other schema's path is left to
    // the in-memory evaluator, which honours its URN.
    let core = match kind {
        ResourceKind::User => crate::scim::USER_URN,
        ResourceKind::Group => crate::scim::GROUP_URN,
    };
    if p.urn
        .as_deref()
        .is_some_and(|u| !u.eq_ignore_ascii_case(core))
    {
        return None;
    }
    let attr = p.attr.to_ascii_lowercase();
    let sub = p.sub.as_deref().map(str::to_ascii_lowercase);
    Some(match (kind, attr.as_str(), sub.as_deref()) {
        (ResourceKind::User, "username", None) => {
            Col::Folded(Expr::col((user::Entity, user::Column::UserNameNorm)))
        }
        (ResourceKind::User, "externalid", None) => {
            Col::Exact(Expr::col((user::Entity, user::Column::ExternalId)))
        }
        (ResourceKind::User, "id", None) => Col::Exact(Expr::col((user::Entity, user::Column::Id))),
        (ResourceKind::User, "active", None) => {
            Col::Bool(Expr::col((user::Entity, user::Column::Active)))
        }
        (ResourceKind::User, "emails", None | Some("value")) => Col::Emails,
        (ResourceKind::User, "meta", Some("lastmodified")) => {
            Col::Millis(Expr::col((user::Entity, user::Column::UpdatedAt)))
        }
        (ResourceKind::User, "meta", Some("created")) => {
            Col::Millis(Expr::col((user::Entity, user::Column::CreatedAt)))
        }
        (ResourceKind::Group, "displayname", None) => {
            Col::Folded(Expr::col((group::Entity, group::Column::DisplayNameNorm)))
        }
        (ResourceKind::Group, "externalid", None) => {
            Col::Exact(Expr::col((group::Entity, group::Column::ExternalId)))
        }
        (ResourceKind::Group, "id", None) => {
            Col::Exact(Expr::col((group::Entity, group::Column::Id)))
        }
        (ResourceKind::Group, "members", None | Some("value")) => Col::Members,
        (ResourceKind::Group, "meta", Some("lastmodified")) => {
            Col::Millis(Expr::col((group::Entity, group::Column::UpdatedAt)))
        }
        (ResourceKind::Group, "meta", Some("created")) => {
            Col::Millis(Expr::col((group::Entity, group::Column::CreatedAt)))
        }
        _ => return None,
    })
}

fn compare(kind: ResourceKind, p: &AttrPath, op: CompareOp, v: &Value) -> Translation {
    let Some(col) = column(kind, p) else {
        return all();
    };
    match col {
        Col::Folded(e) => string_compare(e, true, op, v),
        Col::Exact(e) => string_compare(e, false, op, v),
        // The stored flag is the truth: a user whose `active` a client
        // removed is active (the default) and matches `active eq true`.
        Col::Bool(e) => match (op, crate::scim::resource::coerce_bool(v)) {
            (CompareOp::Eq, Some(b)) => exact(Expr::expr(e).eq(b)),
            (CompareOp::Ne, Some(b)) => exact(Expr::expr(e).eq(!b)),
            _ => all(),
        },
        Col::Millis(e) => {
            let Some(t) = ms(v) else { return all() };
            let x = Expr::expr(e);
            exact(match op {
                CompareOp::Eq => x.eq(t),
                CompareOp::Gt => x.gt(t),
                CompareOp::Ge => x.gte(t),
                CompareOp::Lt => x.lt(t),
                CompareOp::Le => x.lte(t),
                _ => return all(),
            })
        }
        Col::Emails => match (op, v.as_str()) {
            (CompareOp::Eq, Some(s)) => email_eq(s),
            _ => all(),
        },
        Col::Members => match (op, v.as_str()) {
            (CompareOp::Eq, Some(s)) => has_member(s),
            _ => all(),
        },
    }
}

/// `eq`, `co`, `sw`, `ew` on a string column (lowercased copy when `folded`).
fn string_compare(e: SimpleExpr, folded: bool, op: CompareOp, v: &Value) -> Translation {
    let Some(s) = v.as_str() else {
        return all();
    };
    let s = if folded {
        s.to_lowercase()
    } else {
        s.to_string()
    };
    let like = |pat: String| Expr::expr(e.clone()).like(LikeExpr::new(pat).escape('\\'));
    let t = match op {
        CompareOp::Eq => exact(Expr::expr(e.clone()).eq(s)),
        CompareOp::Co => exact(like(format!("%{}%", like_escape(&s)))),
        CompareOp::Sw => exact(like(format!("{}%", like_escape(&s)))),
        CompareOp::Ew => exact(like(format!("%{}", like_escape(&s)))),
        // Collations order strings differently from the evaluator: no prefilter.
        _ => return all(),
    };
    // SQLite's LIKE ignores ASCII case: exact only on folded columns.
    if folded || op == CompareOp::Eq {
        t
    } else {
        Translation { exact: false, ..t }
    }
}

/// `emails eq`: the primary email is indexed; other emails live in the JSON
/// text, so this is a superset checked again in memory.
fn email_eq(s: &str) -> Translation {
    let s = s.to_lowercase();
    let text: SimpleExpr = Func::lower(Expr::col((user::Entity, user::Column::Attributes))).into();
    superset(
        Condition::any()
            .add(user::Column::EmailNorm.eq(s.clone()))
            .add(
                Expr::expr(text).like(LikeExpr::new(format!("%{}%", like_escape(&s))).escape('\\')),
            )
            .into(),
    )
}

/// `members eq U`: groups with that member.
fn has_member(user_id: &str) -> Translation {
    exact(Expr::exists(
        Query::select()
            .expr(Expr::val(1))
            .from(group_member::Entity)
            .and_where(
                Expr::col((group_member::Entity, group_member::Column::GroupId))
                    .equals((group::Entity, group::Column::Id)),
            )
            .and_where(Expr::col((group_member::Entity, group_member::Column::UserId)).eq(user_id))
            .to_owned(),
    ))
}

fn present(kind: ResourceKind, p: &AttrPath) -> Translation {
    match column(kind, p) {
        Some(Col::Exact(e)) | Some(Col::Folded(e)) => exact(
            Condition::all()
                .add(Expr::expr(e.clone()).is_not_null())
                .add(Expr::expr(e).ne(""))
                .into(),
        ),
        Some(Col::Bool(e)) | Some(Col::Millis(e)) => exact(Expr::expr(e).is_not_null()),
        _ => all(),
    }
}

/// Translates a filter; see the module docs for what `exact` promises.
pub fn translate(kind: ResourceKind, f: &Filter) -> Translation {
    match f {
        Filter::Compare { path, op, value } => compare(kind, path, *op, value),
        Filter::Present(path) => present(kind, path),
        Filter::And(a, b) => {
            let (a, b) = (translate(kind, a), translate(kind, b));
            let exact = a.exact && b.exact;
            let cond = match (a.cond, b.cond) {
                (None, None) => None,
                (Some(x), None) | (None, Some(x)) => Some(x),
                (Some(x), Some(y)) => Some(Condition::all().add(x).add(y)),
            };
            Translation {
                exact: exact && cond.is_some(),
                cond,
            }
        }
        Filter::Or(a, b) => {
            let (a, b) = (translate(kind, a), translate(kind, b));
            match (a.cond, b.cond) {
                (Some(x), Some(y)) => Translation {
                    cond: Some(Condition::any().add(x).add(y)),
                    exact: a.exact && b.exact,
                },
                _ => all(),
            }
        }
        // `emails[value eq "x"]` / `members[value eq "x"]` filter on the sub-attribute.
        Filter::ValuePath { attr, filter } => match filter.as_ref() {
            Filter::Compare { path, op, value }
                if path.sub.is_none() && path.attr.eq_ignore_ascii_case("value") =>
            {
                let p = AttrPath {
                    urn: attr.urn.clone(),
                    attr: attr.attr.clone(),
                    sub: Some("value".into()),
                };
                compare(kind, &p, *op, value)
            }
            _ => all(),
        },
        Filter::Not(_) => all(),
    }
}

pub fn order_column(kind: ResourceKind, sort_by: &str) -> Option<SimpleExpr> {
    let p = crate::scim::query::path_of(sort_by);
    let key = p
        .iter()
        .map(|s| s.to_ascii_lowercase())
        .collect::<Vec<_>>()
        .join(".");
    Some(match (kind, key.as_str()) {
        (ResourceKind::User, "username") => Expr::col((user::Entity, user::Column::UserNameNorm)),
        (ResourceKind::User, "externalid") => Expr::col((user::Entity, user::Column::ExternalId)),
        (ResourceKind::User, "id") => Expr::col((user::Entity, user::Column::Id)),
        (ResourceKind::User, "meta.created") => Expr::col((user::Entity, user::Column::CreatedAt)),
        (ResourceKind::User, "meta.lastmodified") => {
            Expr::col((user::Entity, user::Column::UpdatedAt))
        }
        (ResourceKind::Group, "displayname") => {
            Expr::col((group::Entity, group::Column::DisplayNameNorm))
        }
        (ResourceKind::Group, "externalid") => {
            Expr::col((group::Entity, group::Column::ExternalId))
        }
        (ResourceKind::Group, "id") => Expr::col((group::Entity, group::Column::Id)),
        (ResourceKind::Group, "meta.created") => {
            Expr::col((group::Entity, group::Column::CreatedAt))
        }
        (ResourceKind::Group, "meta.lastmodified") => {
            Expr::col((group::Entity, group::Column::UpdatedAt))
        }
        _ => return None,
    })
}
