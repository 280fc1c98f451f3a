//! Small HTML pages for browser-facing refusals and the local sign-in form.

use actix_web::{http::StatusCode, HttpResponse};

pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem}}label{{display:block;margin:.6rem 0}}input{{width:100%;padding:.4rem}}</style>\
         </head><body><h1>{t}</h1>{body}</body></html>",
        t = escape(title)
    )
}

/// A refusal page with its status; `detail` is escaped.
pub fn refusal(status: StatusCode, title: &str, detail: &str, extra_html: &str) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .body(page(
            title,
            &format!("<p>{}</p>{extra_html}", escape(detail)),
        ))
}

/// An informational page (200); `body_html` must already be escaped.
pub fn info(title: &str, body_html: &str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .body(page(title, body_html))
}

pub fn local_form(account: &str, error: Option<&str>) -> HttpResponse {
    let err = error
        .map(|e| format!("<p role=\"alert\">{}</p>", escape(e)))
        .unwrap_or_default();
    let body = format!(
        "{err}<form method=\"post\" action=\"/auth/local\">\
         <label>Account <input name=\"account\" value=\"{a}\" required></label>\
         <label>Email <input name=\"email\" type=\"email\" autocomplete=\"username\" required></label>\
         <label>Password <input name=\"password\" type=\"password\" autocomplete=\"current-password\" required></label>\
         <label>One-time code <input name=\"totp\" inputmode=\"numeric\" autocomplete=\"one-time-code\" required></label>\
         <button type=\"submit\">Sign in</button></form>",
        a = escape(account)
    );
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .body(page("Administrator sign-in", &body))
}
