//! Sync with the firm's Postgres (issue 11): the connection and its pool
//! ([`pg`]) and the Postgres schema migrations ([`migrate`]). The sync
//! workers build on these.

pub mod migrate;
pub mod pg;
