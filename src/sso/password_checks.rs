//! Password checks on a fixed set of threads with a bounded queue.
//!
//! Each argon2 check takes ~19 MiB. Bounding only how many run at once is not
//! enough: spread over tokio's blocking pool, each check may land on a new
//! thread, and the allocator keeps a per-thread arena of that size (measured:
//! 100 concurrent sign-ins took the process from 43 MB to 475 MB with a
//! semaphore of 2). A fixed set of threads keeps both the work and the
//! memory bounded; a full queue answers "busy" at once.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

struct Job {
    password: String,
    hash: String,
    done: tokio::sync::oneshot::Sender<bool>,
}

#[derive(Debug, thiserror::Error)]
#[error("too many password checks are waiting")]
pub struct Busy;

pub struct PasswordChecks {
    jobs: SyncSender<Job>,
}

impl PasswordChecks {
    /// `threads` checks at a time, `queue` more waiting.
    pub fn new(threads: usize, queue: usize) -> Self {
        let (jobs, rx) = sync_channel::<Job>(queue);
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads.max(1) {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("password-check-{i}"))
                .spawn(move || work(&rx));
            if let Err(e) = spawned {
                tracing::error!(error = %e, "could not start a password-check thread");
            }
        }
        PasswordChecks { jobs }
    }

    /// Checks `password` against an argon2 `hash`. `Err(Busy)` when the
    /// queue is full (or no thread could be started): the caller refuses.
    pub async fn verify(&self, password: String, hash: String) -> Result<bool, Busy> {
        let (done, answer) = tokio::sync::oneshot::channel();
        match self.jobs.try_send(Job {
            password,
            hash,
            done,
        }) {
            Ok(()) => answer.await.map_err(|_| Busy),
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => Err(Busy),
        }
    }
}

fn work(rx: &Mutex<Receiver<Job>>) {
    loop {
        let job = match rx.lock() {
            Ok(r) => r.recv(),
            Err(_) => return,
        };
        let Ok(job) = job else { return };
        let ok = crate::secrets::verify_password(&job.password, &job.hash);
        let _ = job.done.send(ok);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn checks_and_refuses_when_full() {
        let hash = crate::secrets::hash_password("right").unwrap();
        let checks = PasswordChecks::new(1, 1);
        assert!(checks.verify("right".into(), hash.clone()).await.unwrap());
        assert!(!checks.verify("wrong".into(), hash.clone()).await.unwrap());
        // One running, one queued: a burst of ten has some refused at once.
        let burst = (0..10).map(|_| checks.verify("wrong".into(), hash.clone()));
        let results = futures_util::future::join_all(burst).await;
        assert!(results.iter().any(|r| r.is_err()), "{results:?}");
        assert!(results.iter().any(|r| r.is_ok()), "{results:?}");
    }
}
