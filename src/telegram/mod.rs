//! Everything that talks to Telegram. Outgoing messages never go to the API
//! directly: they are enqueued in [`outbound`], which persists, paces and
//! deduplicates them.

pub mod outbound;
