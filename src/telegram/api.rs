//! [`GrammersApi`]: the real [`TelegramApi`] transport over the current
//! grammers connection ([`Link`]).
//!
//! Requests are raw TL (`messages.sendMessage`, `messages.editMessage`,
//! `messages.setBotCallbackAnswer`) built by pure functions, so that what
//! goes on the wire is unit-tested without a network, and so that the
//! `random_id` is ours: grammers' `send_message` draws a random one, which
//! would defeat Telegram's duplicate detection on a resend.
//!
//! # Exactly once, as far as Telegram allows
//!
//! The `random_id` of a send is a hash of the queue row's dedupe key and
//! creation time ([`random_id`]), so a resend of the same row (after a
//! crash left it `sending`) carries the same `random_id` and Telegram
//! answers `RANDOM_ID_DUPLICATE` instead of posting it again. That answer
//! carries no message id, and a bot cannot look one up (bots may not call
//! `messages.getHistory` or `messages.search`; `messages.getMessages`
//! needs the id we are missing). So a duplicate is reported as delivered
//! with [`UNKNOWN_MESSAGE_ID`]: the message is in the chat exactly once,
//! but a later edit of it is impossible (and fails permanently).
//! [`TelegramApi::lookup_sent`] keeps its default `Unknown` for the same
//! reason; the queue then resends, and the resend is where the duplicate
//! is caught. How long Telegram remembers random ids is not documented.

use std::sync::Arc;

use grammers_client::session::types::{PeerId, PeerKind, PeerRef};
use grammers_client::{InvocationError, tl};

use super::html;
use super::link::Link;
use super::outbound::{
    BoxFuture, Button, MAX_CALLBACK_DATA, OutboundMessage, SendError, TelegramApi,
};
use super::session::cached_peer_ref;
use crate::store::Store;

/// The message id recorded for a message Telegram says it already has
/// (`RANDOM_ID_DUPLICATE`) without telling which id. Telegram's ids start
/// at 1, so 0 is never a real one.
pub const UNKNOWN_MESSAGE_ID: i64 = 0;

/// The grammers transport.
pub struct GrammersApi {
    link: Arc<Link>,
    /// The database holding the session: peers (with access hashes) are
    /// resolved from it (see [`cached_peer_ref`]).
    store: Store,
}

impl GrammersApi {
    /// `store` must be the store whose session the link's client uses.
    pub fn new(link: Arc<Link>, store: Store) -> Self {
        GrammersApi { link, store }
    }

    fn client(&self) -> Result<grammers_client::Client, SendError> {
        self.link
            .client()
            .ok_or_else(|| SendError::NotConnected("Telegram".into()))
    }

    /// The input peer of a Bot-API chat id, from the session's peer cache.
    async fn peer(&self, chat_id: i64) -> Result<PeerRef, SendError> {
        let Some(id) = PeerId::from_bot_api_dialog_id(chat_id) else {
            return Err(SendError::InvalidRecipient(format!(
                "{chat_id} is not a valid Telegram chat id"
            )));
        };
        let cached = match self
            .store
            .run(move |c| Ok(cached_peer_ref(c, chat_id)))
            .await
        {
            Ok(Ok(peer)) => peer,
            Ok(Err(e)) => return Err(SendError::Store(format!("reading the peer cache: {e}"))),
            Err(e) => return Err(SendError::Store(format!("reading the peer cache: {e}"))),
        };
        match cached {
            Some(peer) => Ok(peer),
            // Basic groups need no access hash.
            None if id.kind() == PeerKind::Chat => Ok(id.to_ambient_ref()),
            None => Err(SendError::InvalidRecipient(unknown_peer(chat_id))),
        }
    }
}

fn unknown_peer(chat_id: i64) -> String {
    if chat_id > 0 {
        format!(
            "user {chat_id} is unknown to the bot (no access hash in the session): \
             they must open the bot and press Start (/start) first"
        )
    } else {
        format!(
            "chat {chat_id} is unknown to the bot (no access hash in the session): \
             add the bot to the chat first"
        )
    }
}

impl TelegramApi for GrammersApi {
    fn send<'a>(&'a self, msg: &'a OutboundMessage) -> BoxFuture<'a, Result<i64, SendError>> {
        Box::pin(async move {
            let client = self.client()?;
            let peer = self.peer(msg.chat_id).await?;
            let request = send_request(msg, peer)?;
            match client.invoke(&request).await {
                Ok(updates) => Ok(sent_message_id(&updates, request.random_id).unwrap_or_else(
                    || {
                        tracing::warn!(key = %msg.dedupe_key, chat = msg.chat_id,
                        "sent, but Telegram's answer names no message id");
                        UNKNOWN_MESSAGE_ID
                    },
                )),
                Err(InvocationError::Rpc(e)) if e.is("RANDOM_ID_DUPLICATE") => {
                    tracing::info!(key = %msg.dedupe_key, chat = msg.chat_id,
                        "Telegram already has this message (RANDOM_ID_DUPLICATE); not sent again");
                    Ok(UNKNOWN_MESSAGE_ID)
                }
                Err(e) => Err(map_error(&e)),
            }
        })
    }

    fn edit<'a>(&'a self, msg: &'a OutboundMessage) -> BoxFuture<'a, Result<i64, SendError>> {
        Box::pin(async move {
            let client = self.client()?;
            let peer = self.peer(msg.chat_id).await?;
            let request = edit_request(msg, peer)?;
            match client.invoke(&request).await {
                Ok(_) => Ok(i64::from(request.id)),
                // An earlier attempt already did it.
                Err(InvocationError::Rpc(e)) if e.is("MESSAGE_NOT_MODIFIED") => {
                    Ok(i64::from(request.id))
                }
                Err(e) => Err(map_error(&e)),
            }
        })
    }

    fn answer_callback<'a>(
        &'a self,
        query_id: i64,
        text: &'a str,
        alert: bool,
    ) -> BoxFuture<'a, Result<(), SendError>> {
        Box::pin(async move {
            let client = self.client()?;
            client
                .invoke(&callback_answer_request(query_id, text, alert))
                .await
                .map(|_| ())
                .map_err(|e| map_error(&e))
        })
    }
}

/// A stable 64-bit FNV-1a hash of the row's dedupe key and creation time.
/// Same row → same id (that is the point); the creation time keeps a key
/// reused by a later, different message (e.g. after the database was
/// reset) from being swallowed as a duplicate. Not `DefaultHasher`: its
/// output may change between Rust releases, and an upgrade must not
/// change the id of a message left in flight.
pub fn random_id(msg: &OutboundMessage) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let created = msg.created_at.to_le_bytes();
    let bytes = msg
        .dedupe_key
        .as_bytes()
        .iter()
        .chain(&[0u8])
        .chain(&created);
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h as i64
}

fn message_id(id: i64, what: &str) -> Result<i32, SendError> {
    i32::try_from(id)
        .map_err(|_| SendError::InvalidMessage(format!("{what} {id} is not a Telegram message id")))
}

/// The inline keyboard; `None` for no buttons.
pub fn reply_markup(rows: &[Vec<Button>]) -> Result<Option<tl::enums::ReplyMarkup>, SendError> {
    if rows.iter().all(Vec::is_empty) {
        return Ok(None);
    }
    let mut out = Vec::with_capacity(rows.len());
    for row in rows.iter().filter(|r| !r.is_empty()) {
        let mut buttons = Vec::with_capacity(row.len());
        for b in row {
            let kind: tl::enums::InlineButtonType = match (&b.callback_data, &b.url) {
                (Some(data), _) if data.len() > MAX_CALLBACK_DATA => {
                    return Err(SendError::InvalidMessage(format!(
                        "button {:?}: callback data is {} bytes, Telegram allows {MAX_CALLBACK_DATA}",
                        b.text,
                        data.len()
                    )));
                }
                (Some(data), _) => tl::types::InlineButtonTypeCallback {
                    requires_password: false,
                    data: data.as_bytes().to_vec(),
                }
                .into(),
                (None, Some(url)) => tl::types::InlineButtonTypeUrl { url: url.clone() }.into(),
                (None, None) => {
                    return Err(SendError::InvalidMessage(format!(
                        "button {:?} has neither callback data nor a URL",
                        b.text
                    )));
                }
            };
            buttons.push(
                tl::types::KeyboardInlineButton {
                    style: None,
                    text: b.text.clone(),
                    r#type: kind,
                }
                .into(),
            );
        }
        out.push(tl::types::KeyboardInlineButtonRow { buttons }.into());
    }
    Ok(Some(
        tl::types::ReplyInlineMarkup {
            force_reply: false,
            rows: out,
        }
        .into(),
    ))
}

fn entities(list: Vec<tl::enums::MessageEntity>) -> Option<Vec<tl::enums::MessageEntity>> {
    (!list.is_empty()).then_some(list)
}

/// `messages.sendMessage` for a queued message: HTML → text + entities,
/// keyboard, reply, no link preview, the deterministic [`random_id`].
pub fn send_request(
    msg: &OutboundMessage,
    peer: PeerRef,
) -> Result<tl::functions::messages::SendMessage, SendError> {
    let (text, ents) = html::parse(&msg.text);
    let reply_to = match msg.reply_to {
        None => None,
        Some(id) => Some(
            tl::types::InputReplyToMessage {
                reply_to_msg_id: message_id(id, "reply_to")?,
                top_msg_id: None,
                reply_to_peer_id: None,
                quote_text: None,
                quote_entities: None,
                quote_offset: None,
                monoforum_peer_id: None,
                todo_item_id: None,
                poll_option: None,
            }
            .into(),
        ),
    };
    Ok(tl::functions::messages::SendMessage {
        no_webpage: true,
        silent: false,
        background: false,
        clear_draft: false,
        noforwards: false,
        update_stickersets_order: false,
        invert_media: false,
        allow_paid_floodskip: false,
        peer: peer.into(),
        reply_to,
        message: text,
        random_id: random_id(msg),
        reply_markup: reply_markup(&msg.buttons)?,
        entities: entities(ents),
        schedule_date: None,
        schedule_repeat_period: None,
        send_as: None,
        quick_reply_shortcut: None,
        effect: None,
        allow_paid_stars: None,
        suggested_post: None,
        rich_message: None,
    })
}

/// `messages.editMessage` replacing the text and keyboard of
/// `msg.edit_of` (no buttons removes the keyboard, as in the Bot API).
pub fn edit_request(
    msg: &OutboundMessage,
    peer: PeerRef,
) -> Result<tl::functions::messages::EditMessage, SendError> {
    let id = match msg.edit_of {
        None => return Err(SendError::InvalidMessage("an edit without edit_of".into())),
        Some(UNKNOWN_MESSAGE_ID) => {
            return Err(SendError::InvalidMessage(
                "the message to edit was delivered, but Telegram never told its id \
                 (RANDOM_ID_DUPLICATE after a crash); it cannot be edited"
                    .into(),
            ));
        }
        Some(id) => message_id(id, "edit_of")?,
    };
    let (text, ents) = html::parse(&msg.text);
    Ok(tl::functions::messages::EditMessage {
        no_webpage: true,
        invert_media: false,
        peer: peer.into(),
        id,
        message: Some(text),
        media: None,
        reply_markup: reply_markup(&msg.buttons)?,
        entities: entities(ents),
        schedule_date: None,
        schedule_repeat_period: None,
        quick_reply_shortcut_id: None,
        rich_message: None,
    })
}

/// `messages.setBotCallbackAnswer`: a toast, or a dialog when `alert`.
pub fn callback_answer_request(
    query_id: i64,
    text: &str,
    alert: bool,
) -> tl::functions::messages::SetBotCallbackAnswer {
    tl::functions::messages::SetBotCallbackAnswer {
        alert,
        query_id,
        message: (!text.is_empty()).then(|| text.to_string()),
        url: None,
        cache_time: 0,
    }
}

/// The id of the message just sent with `random_id`, from the answer.
pub fn sent_message_id(updates: &tl::enums::Updates, random_id: i64) -> Option<i64> {
    use tl::enums::{Message, Update, Updates};
    let list = match updates {
        Updates::UpdateShortSentMessage(u) => return Some(i64::from(u.id)),
        Updates::Updates(u) => &u.updates,
        Updates::Combined(u) => &u.updates,
        _ => return None,
    };
    let by_random_id = list.iter().find_map(|u| match u {
        Update::MessageId(m) if m.random_id == random_id => Some(i64::from(m.id)),
        _ => None,
    });
    // Without updateMessageID: the one new message in the answer.
    by_random_id.or_else(|| {
        let mut new = list.iter().filter_map(|u| match u {
            Update::NewMessage(tl::types::UpdateNewMessage { message, .. })
            | Update::NewChannelMessage(tl::types::UpdateNewChannelMessage { message, .. }) => {
                match message {
                    Message::Message(m) => Some(i64::from(m.id)),
                    Message::Service(m) => Some(i64::from(m.id)),
                    Message::Empty(_) => None,
                }
            }
            _ => None,
        });
        match (new.next(), new.next()) {
            (Some(id), None) => Some(id),
            _ => None,
        }
    })
}

/// The typed cause of a failed call; whether to retry is decided by
/// [`crate::core::delivery::verdict`], not here.
pub fn map_error(e: &InvocationError) -> SendError {
    match e {
        InvocationError::Rpc(rpc) => SendError::TelegramRpc {
            code: rpc.code,
            name: rpc.name.clone(),
            value: rpc.value,
        },
        // Network trouble, a dropped request (the connection is being
        // rebuilt), a session write that failed: all worth a retry.
        InvocationError::Io(_)
        | InvocationError::Transport(_)
        | InvocationError::Dropped(_)
        | InvocationError::Deserialize(_)
        | InvocationError::Session(_)
        | InvocationError::Authentication(_)
        | InvocationError::InvalidDc => SendError::Network(e.to_string()),
    }
}

#[cfg(test)]
#[path = "api_tests.rs"]
mod tests;
