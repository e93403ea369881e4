//! Sync with the firm's Postgres (issue 11): the connection and its pool
//! ([`pg`]), the Postgres schema migrations ([`migrate`]), the push of the
//! local outbox ([`push`], its statements in [`upsert`]) and its worker
//! ([`worker`]); the hot standby's lock ([`standby`]).

pub mod migrate;
pub mod pg;
pub mod pull;
pub mod push;
pub mod replica;
pub mod standby;
pub mod upsert;
pub mod worker;
