//! Who made a request, kept on the request for the audit of refusals.

use actix_web::{HttpMessage, HttpRequest};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Who made a request, as the extractors found it; kept in the request's
/// extensions so the refusal can be attributed.
#[derive(Clone)]
pub struct Caller {
    pub account_id: String,
    pub actor: String,
    pub credential: String,
    /// Set once the request's outcome is in the audit log.
    pub audited: Arc<AtomicBool>,
}

impl Caller {
    pub fn new(account_id: &str, actor: &str, credential: &str) -> Self {
        Caller {
            account_id: account_id.into(),
            actor: actor.into(),
            credential: credential.into(),
            audited: Arc::new(AtomicBool::new(false)),
        }
    }

    pub fn mark_audited(&self) {
        self.audited.store(true, Ordering::SeqCst);
    }

    /// Remembers the caller on the request (the flag is shared with the copy).
    pub fn attach(&self, req: &HttpRequest) {
        req.extensions_mut().insert(self.clone());
    }
}
