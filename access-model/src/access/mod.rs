//! The access engine: pure functions over an account's model and a user's grants.
//!
//! No I/O here. The store builds an [`AccountModel`] and a user's [`Grant`]s;
//! this module resolves effective roles, privileges and environments with
//! provenance, decides "may U do P in E", and checks who may assign what.

mod engine;
#[cfg(test)]
mod family_tests;
mod role_ref;
#[cfg(test)]
mod seed_003_tests;

pub use engine::*;
pub use role_ref::{EnvId, RoleId, RoleRef};
