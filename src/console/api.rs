//! The console's only way to read or change anything: the management API
//! itself, called over loopback with the viewer's own session cookie. So a
//! page can never do more than the API lets that person do, and every change
//! is validated, transactional and audited exactly as it is for scripts.

use crate::state::State;
use serde_json::Value;
use std::time::Duration;

/// What an API call answered.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Answer {
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The API's own message for a refusal, to show next to the form.
    pub fn message(&self) -> String {
        self.body
            .get("message")
            .and_then(Value::as_str)
            .map(String::from)
            .unwrap_or_else(|| format!("the request was refused ({})", self.status))
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the management API could not be reached: {0}")]
pub struct Unreachable(String);

/// The management API, as the signed-in viewer.
pub struct Api {
    base: String,
    cookie: String,
    origin: String,
    http: reqwest::Client,
}

/// This server's own address for loopback calls: the listen address, with
/// a wildcard host made concrete.
fn loopback(listen: &str) -> String {
    let host_port = listen
        .replace("0.0.0.0", "127.0.0.1")
        .replace("[::]", "[::1]");
    format!("http://{host_port}")
}

impl Api {
    pub fn new(state: &State, session_cookie: &str) -> Result<Self, Unreachable> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| Unreachable(e.to_string()))?;
        let origin = url::Url::parse(&state.settings.public_url)
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_default();
        Ok(Api {
            base: loopback(&state.settings.listen),
            cookie: session_cookie.to_string(),
            origin,
            http,
        })
    }

    pub async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Answer, Unreachable> {
        let method = reqwest::Method::from_bytes(method.as_bytes())
            .map_err(|e| Unreachable(e.to_string()))?;
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header(
                "Cookie",
                format!("{}={}", crate::store::sessions::COOKIE, self.cookie),
            )
            .header("Origin", &self.origin);
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await.map_err(|e| Unreachable(e.to_string()))?;
        let status = resp.status().as_u16();
        let text = resp.text().await.map_err(|e| Unreachable(e.to_string()))?;
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok(Answer { status, body })
    }

    pub async fn get(&self, path: &str) -> Result<Answer, Unreachable> {
        self.call("GET", path, None).await
    }

    pub async fn send(
        &self,
        method: &str,
        path: &str,
        body: &Value,
    ) -> Result<Answer, Unreachable> {
        self.call(method, path, Some(body)).await
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn wildcard_listen_addresses_become_loopback() {
        assert_eq!(super::loopback("0.0.0.0:8080"), "http://127.0.0.1:8080");
        assert_eq!(super::loopback("[::]:8080"), "http://[::1]:8080");
        assert_eq!(super::loopback("127.0.0.1:9"), "http://127.0.0.1:9");
    }
}
