//! Per-token request rate limiting for SCIM: a token bucket per SCIM token,
//! refilled at `scim_requests_per_sec` with bursts of twice that. One IdP
//! cannot starve the others sharing a replica; each replica limits on its own.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

struct Bucket {
    tokens: f64,
    at: Instant,
}

pub struct RateLimit {
    per_sec: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimit {
    /// `per_sec` of 0 turns limiting off.
    pub fn new(per_sec: u32) -> Self {
        RateLimit {
            per_sec: f64::from(per_sec),
            burst: f64::from(per_sec) * 2.0,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request from the token's bucket; `false` when it is empty.
    /// A poisoned lock refuses (fail closed).
    pub fn allow(&self, token_id: &str) -> bool {
        if self.per_sec <= 0.0 {
            return true;
        }
        let Ok(mut map) = self.buckets.lock() else {
            return false;
        };
        let now = Instant::now();
        if map.len() > 10_000 {
            map.retain(|_, b| now.duration_since(b.at).as_secs() < 60);
        }
        let b = map.entry(token_id.to_string()).or_insert(Bucket {
            tokens: self.burst,
            at: now,
        });
        let refill = now.duration_since(b.at).as_secs_f64() * self.per_sec;
        b.tokens = (b.tokens + refill).min(self.burst);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_then_refuses_then_refills_per_token() {
        let r = RateLimit::new(5);
        let passed = (0..20).filter(|_| r.allow("a")).count();
        assert_eq!(passed, 10, "a burst of twice the rate");
        assert!(r.allow("b"), "other tokens are unaffected");
        std::thread::sleep(std::time::Duration::from_millis(450));
        assert!(r.allow("a"), "refilled");
        assert!(RateLimit::new(0).allow("a"), "0 turns it off");
    }
}
