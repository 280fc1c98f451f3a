//! Sign-in throttling: a sliding window of attempts per key.
//!
//! An attempt is *reserved* before its credential is checked, under the same
//! lock that counts the window, so concurrent attempts cannot all slip past
//! the check; a successful sign-in hands its reservation back. After `limit`
//! attempts within `window`, further ones get 429 until the oldest ages out.
//! Kept in memory: each replica throttles on its own.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttled {
    pub retry_after: Duration,
    /// The first refusal of this key in its window: worth an audit event;
    /// the rest of a flood is not.
    pub first: bool,
}

#[derive(Default)]
struct Window {
    attempts: VecDeque<Instant>,
    reported: bool,
}

pub struct Throttle {
    limit: usize,
    window: Duration,
    keys: Mutex<HashMap<String, Window>>,
}

impl Throttle {
    pub fn new(limit: usize, window: Duration) -> Self {
        Throttle {
            limit,
            window,
            keys: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one attempt for `key`, or refuses it while the key is throttled.
    /// A poisoned lock refuses: throttling never silently turns off.
    pub fn reserve(&self, key: &str) -> Result<(), Throttled> {
        let Ok(mut map) = self.keys.lock() else {
            return Err(Throttled {
                retry_after: self.window,
                first: false,
            });
        };
        let now = Instant::now();
        if map.len() > 100_000 {
            // Bound memory under a spray of distinct keys.
            let window = self.window;
            map.retain(|_, w| w.attempts.back().is_some_and(|t| t.elapsed() < window));
        }
        let w = map.entry(key.to_string()).or_default();
        while w
            .attempts
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.window)
        {
            w.attempts.pop_front();
        }
        if w.attempts.len() >= self.limit {
            let oldest = w.attempts.front().copied().unwrap_or(now);
            let first = !w.reported;
            w.reported = true;
            return Err(Throttled {
                retry_after: self.window.saturating_sub(now.duration_since(oldest)),
                first,
            });
        }
        w.reported = false;
        w.attempts.push_back(now);
        Ok(())
    }

    /// Hands back the newest reservation (the attempt succeeded or was never made).
    pub fn release(&self, key: &str) {
        if let Ok(mut map) = self.keys.lock() {
            if let Some(w) = map.get_mut(key) {
                w.attempts.pop_back();
            }
        }
    }

    pub fn clear(&self, key: &str) {
        if let Ok(mut map) = self.keys.lock() {
            map.remove(key);
        }
    }
}

pub struct Throttles {
    pub per_user: Throttle,
    pub per_client: Throttle,
}

impl Throttles {
    /// Reserves an attempt against both the user's and the client's window.
    pub fn reserve(&self, user_key: &str, client_key: &str) -> Result<(), Throttled> {
        self.per_user.reserve(user_key)?;
        if let Err(t) = self.per_client.reserve(client_key) {
            self.per_user.release(user_key);
            return Err(t);
        }
        Ok(())
    }

    /// Hands both reservations back.
    pub fn release(&self, user_key: &str, client_key: &str) {
        self.per_user.release(user_key);
        self.per_client.release(client_key);
    }
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
            assert!(t.reserve("k").is_ok());
        }
        let refused = t.reserve("k").unwrap_err();
        assert!(refused.first);
        assert!(refused.retry_after <= Duration::from_millis(200));
        assert!(!t.reserve("k").unwrap_err().first, "reported once");
        assert!(t.reserve("other").is_ok());
        std::thread::sleep(Duration::from_millis(220));
        assert!(t.reserve("k").is_ok(), "the window passes");
        t.clear("k");
        for _ in 0..3 {
            assert!(t.reserve("k").is_ok());
        }
    }

    #[test]
    fn released_reservations_do_not_count() {
        let t = Throttle::new(2, Duration::from_secs(60));
        for _ in 0..10 {
            assert!(t.reserve("k").is_ok());
            t.release("k");
        }
        assert!(t.reserve("k").is_ok());
        assert!(t.reserve("k").is_ok());
        assert!(t.reserve("k").is_err());
    }

    #[test]
    fn concurrent_reservations_never_exceed_the_limit() {
        let t = std::sync::Arc::new(Throttle::new(5, Duration::from_secs(60)));
        let handles: Vec<_> = (0..32)
            .map(|_| {
                let t = t.clone();
                std::thread::spawn(move || t.reserve("k").is_ok())
            })
            .collect();
        let passed = handles
            .into_iter()
            .map(|h| h.join().unwrap_or(false))
            .filter(|ok| *ok)
            .count();
        assert_eq!(passed, 5);
    }

    #[test]
    fn a_poisoned_lock_refuses() {
        let t = std::sync::Arc::new(Throttle::new(5, Duration::from_secs(60)));
        let t2 = t.clone();
        let _ = std::thread::spawn(move || {
            let _guard = t2.keys.lock().unwrap();
            panic!("poison the lock");
        })
        .join();
        assert!(t.reserve("k").is_err());
    }

    #[test]
    fn a_refused_client_hands_back_the_user_reservation() {
        let t = Throttles {
            per_user: Throttle::new(5, Duration::from_secs(60)),
            per_client: Throttle::new(1, Duration::from_secs(60)),
        };
        assert!(t.reserve("u1", "c").is_ok());
        for _ in 0..10 {
            assert!(t.reserve("u2", "c").is_err());
        }
        // u2 was never charged: a fresh client can still try it 5 times.
        for _ in 0..5 {
            assert!(t
                .reserve("u2", &format!("c{}", rand::random::<u32>()))
                .is_ok());
        }
    }
}
