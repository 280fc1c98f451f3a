//! Form pieces shared by the pages: labelled fields, the CSRF input, and
//! showing an API refusal next to the field it is about.

use super::Viewer;
use maud::{html, Markup};

/// A refusal to show: next to `field` when the message names one.
#[derive(Debug, Clone, Default)]
pub struct FormError {
    pub field: Option<String>,
    pub message: String,
}

impl FormError {
    /// Attaches the API's message to the first of `fields` it mentions.
    pub fn from_message(message: String, fields: &[&str]) -> Self {
        let lower = message.to_lowercase();
        let field = fields
            .iter()
            .find(|f| lower.contains(&f.replace('_', " ")) || lower.contains(*f))
            .map(|f| f.to_string());
        FormError { field, message }
    }

    fn on(&self, name: &str) -> Option<&str> {
        (self.field.as_deref() == Some(name)).then_some(self.message.as_str())
    }
}

pub fn csrf(v: &Viewer) -> Markup {
    html! { input type="hidden" name="_csrf" value=(v.csrf); }
}

/// The message not tied to a field, above the form.
pub fn alert(err: Option<&FormError>) -> Markup {
    html! {
        @if let Some(e) = err.filter(|e| e.field.is_none()) {
            p class="error" role="alert" { (e.message) }
        }
    }
}

/// A labelled input; its error (if any) below it, announced and linked.
pub fn field(
    label: &str,
    name: &str,
    kind: &str,
    value: &str,
    err: Option<&FormError>,
    hint: Option<&str>,
) -> Markup {
    let message = err.and_then(|e| e.on(name));
    let described = message.map(|_| format!("{name}-error"));
    html! {
        div class="field" {
            label for=(name) { (label) }
            @if let Some(h) = hint { small class="hint" { (h) } }
            input id=(name) name=(name) type=(kind) value=(value)
                aria-invalid=[message.map(|_| "true")] aria-describedby=[described.as_deref()];
            @if let Some(m) = message {
                p class="error" id=(format!("{name}-error")) role="alert" { (m) }
            }
        }
    }
}

/// A checkbox list; `checked` are pre-ticked.
pub fn checkboxes(legend: &str, name: &str, options: &[String], checked: &[String]) -> Markup {
    html! {
        fieldset {
            legend { (legend) }
            div class="checks" {
                @for (i, o) in options.iter().enumerate() {
                    label for=(format!("{name}-{i}")) {
                        input type="checkbox" id=(format!("{name}-{i}")) name=(name) value=(o) checked[checked.contains(o)];
                        " " (o)
                    }
                }
            }
        }
    }
}

/// A select with the current choice.
pub fn select(label: &str, name: &str, options: &[(String, String)], current: &str) -> Markup {
    html! {
        div class="field" {
            label for=(name) { (label) }
            select id=(name) name=(name) {
                @for (value, text) in options {
                    option value=(value) selected[value == current] { (text) }
                }
            }
        }
    }
}

/// Repeated form fields (`name=a&name=b`) as a list: serde_urlencoded
/// cannot, so pages parse their bodies with this.
pub fn pairs(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

pub fn one(pairs: &[(String, String)], name: &str) -> String {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_default()
}

pub fn all(pairs: &[(String, String)], name: &str) -> Vec<String> {
    pairs
        .iter()
        .filter(|(k, v)| k == name && !v.trim().is_empty())
        .map(|(_, v)| v.trim().to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_land_on_the_field_they_name() {
        let e = FormError::from_message("issuer must use https".into(), &["name", "issuer"]);
        assert_eq!(e.field.as_deref(), Some("issuer"));
        let e = FormError::from_message(
            "client_secret is required the first time".into(),
            &["issuer", "client_secret"],
        );
        assert_eq!(e.field.as_deref(), Some("client_secret"));
        let e = FormError::from_message(
            "a resource with that name already exists".into(),
            &["issuer"],
        );
        assert_eq!(e.field, None);
    }

    #[test]
    fn repeated_fields_are_all_kept() {
        let p = pairs(b"_csrf=t&privileges=A&privileges=B+C&name=+x+");
        assert_eq!(all(&p, "privileges"), vec!["A", "B C"]);
        assert_eq!(one(&p, "name"), "x");
        assert_eq!(one(&p, "missing"), "");
    }
}
