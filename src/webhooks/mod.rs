//! Pushing events to the platform: Standard Webhooks signatures, the guard
//! on where deliveries may go, and the delivery worker.

pub mod guard;
pub mod sign;
pub mod worker;

pub use worker::deliver;
