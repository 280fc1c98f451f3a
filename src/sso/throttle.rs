//! Failed sign-in throttling: a sliding window of failures per key.
//!
//! After `limit` failures within `window`, further attempts get 429 until the
//! oldest failure ages out — an attacker is slowed to `limit` guesses per
//! window, and the real administrator waits at most `window`.
//! Kept in memory: each replica throttles on its own.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct Throttle {
    limit: usize,
    window: Duration,
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl Throttle {
    pub fn new(limit: usize, window: Duration) -> Self {
        Throttle {
            limit,
            window,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(retry_after)` while the key is throttled.
    pub fn check(&self, key: &str) -> Result<(), Duration> {
        let Ok(mut map) = self.failures.lock() else {
            return Ok(());
        };
        let now = Instant::now();
        let Some(q) = map.get_mut(key) else {
            return Ok(());
        };
        while q
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.window)
        {
            q.pop_front();
        }
        if q.is_empty() {
            map.remove(key);
            return Ok(());
        }
        if q.len() >= self.limit {
            let oldest = q.front().copied().unwrap_or(now);
            return Err(self.window.saturating_sub(now.duration_since(oldest)));
        }
        Ok(())
    }

    pub fn fail(&self, key: &str) {
        if let Ok(mut map) = self.failures.lock() {
            let q = map.entry(key.to_string()).or_default();
            q.push_back(Instant::now());
            while q.len() > self.limit * 4 {
                q.pop_front();
            }
            // Bound memory under a spray of distinct keys.
            if map.len() > 100_000 {
                let window = self.window;
                map.retain(|_, q| q.back().is_some_and(|t| t.elapsed() < window));
            }
        }
    }

    pub fn clear(&self, key: &str) {
        if let Ok(mut map) = self.failures.lock() {
            map.remove(key);
        }
    }
}

pub struct Throttles {
    pub per_user: Throttle,
    pub per_client: Throttle,
}

impl Default for Throttles {
    fn default() -> Self {
        Throttles {
            per_user: Throttle::new(5, Duration::from_secs(300)),
            per_client: Throttle::new(30, Duration::from_secs(300)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttles_after_limit_and_recovers() {
        let t = Throttle::new(3, Duration::from_millis(200));
        for _ in 0..3 {
            assert!(t.check("k").is_ok());
            t.fail("k");
        }
        let wait = t.check("k").unwrap_err();
        assert!(wait <= Duration::from_millis(200));
        assert!(t.check("other").is_ok());
        std::thread::sleep(Duration::from_millis(220));
        assert!(t.check("k").is_ok(), "the window passes");
        t.fail("k");
        t.clear("k");
        assert!(t.check("k").is_ok());
    }
}
