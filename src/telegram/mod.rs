//! Telegram over MTProto (grammers).
//!
//! - [`session`]: grammers' session (auth keys, DC options, peers, update
//!   state) on our SQLite store.
//! - [`inbound`]: grammers updates mapped to the pipeline's events.
//! - [`outbound`]: every outgoing message is enqueued here, persisted,
//!   paced and deduplicated — never sent to the API directly.
//! - [`client`]: sign-in and the reconnecting update loop.
//! - [`api`]: the outbound transport over grammers ([`html`]: Telegram
//!   HTML to text and entities).
//! - [`link`]: the current connection and its state, shared with the
//!   outbound transport and the status line.

pub mod api;
pub mod client;
pub mod html;
pub mod inbound;
pub mod link;
pub mod outbound;
pub mod session;
