//! Sign-in: sessions (and, later, OIDC and local sign-in).

pub mod session;
