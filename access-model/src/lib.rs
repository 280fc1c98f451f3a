//! The platform's access model as pure code: the privilege catalog and
//! built-in roles (`catalog`), and decisions over an account's model and a
//! user's grants (`access`). A crate of its own so the compiler keeps it
//! pure: it has no database, HTTP or async dependency to reach for.

#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub mod access;
pub mod catalog;
