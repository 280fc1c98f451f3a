//! The audit log: filters by action, actor, outcome and time, and export of
//! what the filters select as CSV or JSON.

use super::{layout, ok, url_escape, ConsoleError, Viewer};
use crate::state::State;
use actix_web::{get, http::StatusCode, web, HttpResponse};
use maud::html;
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Deserialize, Serialize, Default)]
pub struct Filters {
    action: Option<String>,
    actor: Option<String>,
    outcome: Option<String>,
    since: Option<String>,
    until: Option<String>,
    format: Option<String>,
}

impl Filters {
    /// The query string for the API (and the export links), empty fields left out.
    fn query(&self) -> String {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("action", &self.action),
            ("actor", &self.actor),
            ("outcome", &self.outcome),
            ("since", &self.since),
            ("until", &self.until),
        ] {
            if let Some(v) = v.as_deref().filter(|v| !v.trim().is_empty()) {
                q.append_pair(k, &time_or_value(k, v.trim()));
            }
        }
        q.finish()
    }
}

/// The form's datetime-local (`2026-11-25T10:00`) as RFC 3339 in UTC.
fn time_or_value(k: &str, v: &str) -> String {
    if (k == "since" || k == "until") && v.len() == 16 {
        format!("{v}:00Z")
    } else {
        v.to_string()
    }
}

const EXPORT_MAX: usize = 10_000;

/// Every event the filters select, newest first, up to EXPORT_MAX.
async fn fetch_all(
    state: &State,
    v: &Viewer,
    f: &Filters,
) -> Result<Result<Vec<Value>, String>, ConsoleError> {
    let api = v.api(state)?;
    let mut out = Vec::new();
    let mut cursor: Option<i64> = None;
    loop {
        let mut path = format!("{}?limit=1000&{}", v.path("/audit"), f.query());
        if let Some(c) = cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let a = api.get(&path).await?;
        if !a.ok() {
            return Ok(Err(a.message()));
        }
        out.extend(a.body["events"].as_array().cloned().unwrap_or_default());
        cursor = a.body["next_cursor"].as_i64();
        if cursor.is_none() || out.len() >= EXPORT_MAX {
            out.truncate(EXPORT_MAX);
            return Ok(Ok(out));
        }
    }
}

fn csv_cell(s: &str) -> String {
    // Quoted, quotes doubled; a leading formula character is defused for spreadsheets.
    let s = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    format!("\"{}\"", s.replace('"', "\"\""))
}

pub fn to_csv(events: &[Value]) -> String {
    let mut out = String::from("id,at,actor,action,target,outcome,details\n");
    for e in events {
        let cell = |k: &str| {
            csv_cell(
                &e[k]
                    .as_str()
                    .map(String::from)
                    .unwrap_or_else(|| e[k].to_string()),
            )
        };
        out.push_str(
            &[
                cell("id"),
                cell("at"),
                cell("actor"),
                cell("action"),
                cell("target"),
                cell("outcome"),
                csv_cell(&e["details"].to_string()),
            ]
            .join(","),
        );
        out.push('\n');
    }
    out
}

#[get("/console/audit")]
pub async fn page(
    state: State,
    v: Viewer,
    f: web::Query<Filters>,
) -> Result<HttpResponse, ConsoleError> {
    let f = f.into_inner();
    let a = v
        .api(&state)?
        .get(&format!("{}?limit=200&{}", v.path("/audit"), f.query()))
        .await?;
    let events = a.body["events"].as_array().cloned().unwrap_or_default();
    let val = |o: &Option<String>| o.clone().unwrap_or_default();
    let outcomes = ["", "success", "denied", "rejected", "error"];
    let mut r = ok(layout(
        Some(&v),
        "Audit log",
        "/console/audit",
        html! {
            h1 { "Audit log" }
            form method="get" action="/console/audit" class="filters" {
                div class="field" { label for="action" { "Action" } input id="action" name="action" value=(val(&f.action)) placeholder="e.g. role.create"; }
                div class="field" { label for="actor" { "Actor" } input id="actor" name="actor" value=(val(&f.actor)); }
                div class="field" { label for="outcome" { "Outcome" } select id="outcome" name="outcome" { @for o in outcomes { option value=(o) selected[f.outcome.as_deref().unwrap_or_default() == o] { (if o.is_empty() { "any" } else { o }) } } } }
                div class="field" { label for="since" { "From (UTC)" } input id="since" name="since" type="datetime-local" value=(val(&f.since)); }
                div class="field" { label for="until" { "Until (UTC)" } input id="until" name="until" type="datetime-local" value=(val(&f.until)); }
                button type="submit" { "Filter" }
            }
            @if !a.ok() { p class="error" role="alert" { (a.message()) } } @else {
                p { "Export what these filters select: "
                    a href=(format!("/console/audit/export?format=csv&{}", f.query())) { "CSV" } " · "
                    a href=(format!("/console/audit/export?format=json&{}", f.query())) { "JSON" } }
                table id="audit" {
                    thead { tr { th scope="col" { "When" } th scope="col" { "Actor" } th scope="col" { "Action" } th scope="col" { "Target" } th scope="col" { "Outcome" } } }
                    tbody { @for e in &events { tr {
                        td { (e["at"].as_str().unwrap_or_default()) }
                        td { (e["actor"].as_str().unwrap_or_default()) }
                        td { a href=(format!("/console/audit?action={}", url_escape(e["action"].as_str().unwrap_or_default()))) { (e["action"].as_str().unwrap_or_default()) } }
                        td { (e["target"].as_str().unwrap_or_default()) }
                        td { (e["outcome"].as_str().unwrap_or_default()) }
                    } } }
                }
            }
        },
    ));
    if !a.ok() {
        *r.status_mut() = StatusCode::from_u16(a.status).unwrap_or(StatusCode::BAD_REQUEST);
    }
    Ok(r)
}

#[get("/console/audit/export")]
pub async fn export(
    state: State,
    v: Viewer,
    f: web::Query<Filters>,
) -> Result<HttpResponse, ConsoleError> {
    let f = f.into_inner();
    let events = match fetch_all(&state, &v, &f).await? {
        Ok(e) => e,
        Err(m) => {
            return Ok(HttpResponse::BadRequest()
                .content_type("text/plain; charset=utf-8")
                .body(m))
        }
    };
    let (body, ct, ext) = if f.format.as_deref() == Some("json") {
        (
            serde_json::to_string_pretty(&events).unwrap_or_default(),
            "application/json",
            "json",
        )
    } else {
        (to_csv(&events), "text/csv; charset=utf-8", "csv")
    };
    Ok(HttpResponse::Ok()
        .content_type(ct)
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"idbridge-audit.{ext}\""),
        ))
        .insert_header(("Cache-Control", "no-store"))
        .body(body))
}

#[cfg(test)]
mod tests {
    #[test]
    fn csv_quotes_and_defuses_formulas() {
        let e = serde_json::json!([{"id": 1, "at": "t", "actor": "=cmd()", "action": "a\"b", "target": "x,y", "outcome": "success", "details": {"k": 1}}]);
        let csv = super::to_csv(e.as_array().unwrap());
        assert_eq!(
            csv.lines().nth(1).unwrap(),
            r#""1","t","'=cmd()","a""b","x,y","success","{""k"":1}""#
        );
    }
}
