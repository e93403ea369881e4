//! Telegram over MTProto (grammers): the session on our store and the
//! mapping of updates to pipeline events.

pub mod client;
pub mod inbound;
pub mod session;
