//! grammers updates → the pipeline's events.
//!
//! Chat ids are Bot-API style (`PeerId::bot_api_dialog_id`): positive for
//! users, negative for basic groups, -100… for supergroups and channels,
//! the same ids the store and the configuration use.
//!
//! The mapping is a pure function of the update, so the same update
//! delivered twice (grammers refetches recent updates after a restart when
//! the update state was not synced) maps to the same
//! `(chat_id, message_id, edit_version)` and the pipeline's dedupe absorbs
//! it.

use chrono::{DateTime, Utc};
use grammers_client::message::Message;
use grammers_client::peer::Peer;
use grammers_client::session::types::{PeerId, PeerKind};
use grammers_client::tl;
use grammers_client::update::Update;

use crate::core::event::{EventKind, MessageEvent};
use crate::domain::receipts::{Attachment, AttachmentKind};
use crate::domain::sla::SenderKind;

/// What a Telegram update means to buhbot.
#[derive(Debug, Clone, PartialEq)]
pub enum InboundEvent {
    /// A new message (or a service message without a meaning of its own).
    Message(MessageEvent),
    /// A new version of a message; `edit_version` is the edit's Unix date.
    Edit(MessageEvent),
    /// A press on an inline button of one of the bot's messages.
    Callback {
        query_id: i64,
        chat_id: i64,
        message_id: i64,
        user_id: i64,
        /// At most 64 bytes.
        data: Vec<u8>,
    },
    /// The bot was added to a chat (or a chat was created with it).
    BotAdded {
        chat_id: i64,
        title: Option<String>,
        /// Who added it, when Telegram says.
        by: Option<i64>,
    },
    /// The bot was removed from (or left) a chat.
    BotRemoved {
        chat_id: i64,
    },
    TitleChanged {
        chat_id: i64,
        title: String,
    },
    /// A basic group became a supergroup. Telegram announces it twice: in
    /// the old group (`ChatMigrateTo`) and in the new one
    /// (`ChannelMigrateFrom`); both map to the same event.
    MigratedToSupergroup {
        old_chat_id: i64,
        new_chat_id: i64,
    },
}

impl InboundEvent {
    /// The pipeline's event; `date` is the update's (for chat events, the
    /// service message's date, which they do not carry). `None` for a
    /// button press, which is handled outside the ingest pipeline.
    pub fn into_event_kind(self, date: DateTime<Utc>) -> Option<EventKind> {
        Some(match self {
            InboundEvent::Message(m) | InboundEvent::Edit(m) => EventKind::Message(m),
            InboundEvent::Callback { .. } => return None,
            InboundEvent::BotAdded { chat_id, title, by } => EventKind::ChatAdded {
                chat_id,
                title,
                by,
                date,
            },
            InboundEvent::BotRemoved { chat_id } => EventKind::ChatRemoved { chat_id, date },
            InboundEvent::TitleChanged { chat_id, title } => EventKind::ChatTitle {
                chat_id,
                title,
                date,
            },
            InboundEvent::MigratedToSupergroup {
                old_chat_id,
                new_chat_id,
            } => EventKind::ChatMigrated {
                old_chat_id,
                new_chat_id,
                date,
            },
        })
    }
}

/// Maps one update. `bot_id` is the bot's own user id. `None` for updates
/// buhbot does not use (deletions, inline queries, reaction-only edits, …).
pub fn map_update(update: &Update, bot_id: i64) -> Option<InboundEvent> {
    match update {
        Update::NewMessage(m) => map_new(m, bot_id),
        Update::MessageEdited(m) => map_edit(m, bot_id),
        Update::CallbackQuery(q) => match &q.raw {
            tl::enums::Update::BotCallbackQuery(u) => Some(InboundEvent::Callback {
                query_id: u.query_id,
                chat_id: dialog_id(q.peer_id(), bot_id),
                message_id: i64::from(u.msg_id),
                user_id: u.user_id,
                data: u.data.clone().unwrap_or_default(),
            }),
            // Inline-mode callbacks have no chat message of ours.
            _ => None,
        },
        _ => None,
    }
}

/// The Bot-API id; the self user (only in outgoing private chats) is the bot.
fn dialog_id(peer: PeerId, bot_id: i64) -> i64 {
    peer.bot_api_dialog_id().unwrap_or(bot_id)
}

fn map_new(m: &Message, bot_id: i64) -> Option<InboundEvent> {
    let chat_id = dialog_id(m.peer_id(), bot_id);
    match &m.raw {
        tl::enums::Message::Empty(_) => None,
        tl::enums::Message::Message(_) => Some(InboundEvent::Message(event(m, bot_id, 0))),
        tl::enums::Message::Service(s) => Some(map_service(m, s, chat_id, bot_id)),
    }
}

fn map_edit(m: &Message, bot_id: i64) -> Option<InboundEvent> {
    match &m.raw {
        // Telegram also sends "edits" for reactions, views and the like:
        // without an edit date the text did not change. An unchanged edit
        // date maps to the same version, which the dedupe absorbs.
        tl::enums::Message::Message(raw) => {
            let version = i64::from(raw.edit_date?);
            Some(InboundEvent::Edit(event(m, bot_id, version)))
        }
        _ => None,
    }
}

fn map_service(
    m: &Message,
    s: &tl::types::MessageService,
    chat_id: i64,
    bot_id: i64,
) -> InboundEvent {
    use tl::enums::MessageAction as A;
    let by = m
        .sender_id()
        .filter(|p| p.kind() == PeerKind::User)
        .and_then(|p| p.bot_api_dialog_id());
    let title = || {
        m.peer()
            .and_then(Peer::name)
            .filter(|t| !t.is_empty())
            .map(str::to_string)
    };
    match &s.action {
        A::ChatAddUser(a) if a.users.contains(&bot_id) => InboundEvent::BotAdded {
            chat_id,
            title: title(),
            by,
        },
        A::ChatCreate(a) if a.users.contains(&bot_id) => InboundEvent::BotAdded {
            chat_id,
            title: Some(a.title.clone()),
            by,
        },
        A::ChatDeleteUser(a) if a.user_id == bot_id => InboundEvent::BotRemoved { chat_id },
        A::ChatEditTitle(a) => InboundEvent::TitleChanged {
            chat_id,
            title: a.title.clone(),
        },
        A::ChatMigrateTo(a) => InboundEvent::MigratedToSupergroup {
            old_chat_id: chat_id,
            new_chat_id: PeerId::channel(a.channel_id)
                .and_then(PeerId::bot_api_dialog_id)
                .unwrap_or_else(|| crate::store::chats::SUPERGROUP_BASE - a.channel_id),
        },
        A::ChannelMigrateFrom(a) => InboundEvent::MigratedToSupergroup {
            old_chat_id: PeerId::chat(a.chat_id)
                .and_then(PeerId::bot_api_dialog_id)
                .unwrap_or(-a.chat_id),
            new_chat_id: chat_id,
        },
        _ => InboundEvent::Message(event(m, bot_id, 0)),
    }
}

/// Text mentions (`MessageEntityMentionName`: a user without a username,
/// picked from the member list) with their ids, and `@username` mentions
/// without; offsets are in UTF-16 code units, as Telegram counts.
pub fn mentions(m: &Message) -> Vec<(String, Option<i64>)> {
    let Some(entities) = m.fmt_entities() else {
        return Vec::new();
    };
    let utf16: Vec<u16> = m.text().encode_utf16().collect();
    let slice = |offset: i32, length: i32| {
        let (o, l) = (offset.max(0) as usize, length.max(0) as usize);
        utf16
            .get(o..o.saturating_add(l).min(utf16.len()))
            .map(String::from_utf16_lossy)
            .unwrap_or_default()
    };
    entities
        .iter()
        .filter_map(|e| match e {
            tl::enums::MessageEntity::MentionName(n) => {
                Some((slice(n.offset, n.length), Some(n.user_id)))
            }
            tl::enums::MessageEntity::Mention(n) => Some((slice(n.offset, n.length), None)),
            _ => None,
        })
        .collect()
}

/// Whether the bot is an administrator (or the creator) of the group the
/// message is in, as Telegram's chat object for it says; `None` outside
/// groups or when the update carried no chat object.
pub fn bot_is_admin(m: &Message) -> Option<bool> {
    match m.peer()? {
        Peer::Group(g) => match &g.raw {
            tl::enums::Chat::Chat(c) => Some(c.creator || c.admin_rights.is_some()),
            tl::enums::Chat::Channel(c) => Some(c.creator || c.admin_rights.is_some()),
            _ => None,
        },
        _ => None,
    }
}

fn has_media(raw: &tl::enums::Message) -> bool {
    use tl::enums::MessageMedia as M;
    match raw {
        tl::enums::Message::Message(msg) => match &msg.media {
            // A link preview is part of a text message, not an attachment.
            None | Some(M::Empty) | Some(M::WebPage(_)) | Some(M::Unsupported) => false,
            Some(_) => true,
        },
        _ => false,
    }
}

/// The document or photo a message carries, with its name and size.
/// Stickers, GIFs, voice and round video messages are documents to
/// Telegram but not files a client sends the accountant: none.
fn attachment(raw: &tl::enums::Message) -> Option<Attachment> {
    use tl::enums::{DocumentAttribute as A, MessageMedia as M, PhotoSize as S};
    let tl::enums::Message::Message(msg) = raw else {
        return None;
    };
    match msg.media.as_ref()? {
        M::Document(d) if !d.voice && !d.round => {
            let tl::enums::Document::Document(doc) = d.document.as_ref()? else {
                return None;
            };
            let mut file_name = None;
            for a in &doc.attributes {
                match a {
                    A::Sticker(_) | A::Animated | A::CustomEmoji(_) => return None,
                    A::Filename(f) => file_name = Some(f.file_name.clone()),
                    _ => {}
                }
            }
            Some(Attachment {
                kind: AttachmentKind::Document,
                file_name,
                size: u64::try_from(doc.size).ok(),
            })
        }
        M::Photo(p) => {
            let tl::enums::Photo::Photo(photo) = p.photo.as_ref()? else {
                return None;
            };
            // The largest size is the file the client sent (the others are
            // Telegram's thumbnails of it).
            let size = photo
                .sizes
                .iter()
                .filter_map(|s| match s {
                    S::Size(s) => Some(s.size),
                    S::Progressive(s) => s.sizes.iter().copied().max(),
                    _ => None,
                })
                .max()
                .and_then(|s| u64::try_from(s).ok());
            Some(Attachment {
                kind: AttachmentKind::Photo,
                file_name: None,
                size,
            })
        }
        _ => None,
    }
}

/// A reply to a message of the same chat (replies to other chats' messages
/// name a message id that means nothing here).
fn reply_to(m: &Message) -> Option<i64> {
    match m.reply_header()? {
        tl::enums::MessageReplyHeader::Header(h) if h.reply_to_peer_id.is_none() => {
            h.reply_to_msg_id.map(i64::from)
        }
        _ => None,
    }
}

fn sender_name(peer: &Peer) -> Option<String> {
    let name = match peer {
        Peer::User(u) => u.full_name(),
        other => other.name().unwrap_or_default().to_string(),
    };
    let name = name.trim();
    (!name.is_empty()).then(|| name.to_string())
}

fn event(m: &Message, bot_id: i64, edit_version: i64) -> MessageEvent {
    let peer = m.peer_id();
    let chat_id = dialog_id(peer, bot_id);
    let service = matches!(m.raw, tl::enums::Message::Service(_));
    let sender = if service {
        SenderKind::None
    } else {
        match m.sender_id() {
            Some(p) if p == PeerId::self_user() => SenderKind::User(bot_id),
            Some(p) => match (p.kind(), p.bot_api_dialog_id()) {
                (PeerKind::User, Some(id)) => SenderKind::User(id),
                (_, Some(id)) => SenderKind::Chat(id),
                (_, None) => SenderKind::None,
            },
            // Channel posts: the chat itself speaks.
            None => SenderKind::Chat(chat_id),
        }
    };
    let chat_title = match peer.kind() {
        PeerKind::User => None,
        _ => m
            .peer()
            .and_then(Peer::name)
            .filter(|t| !t.is_empty())
            .map(str::to_string),
    };
    MessageEvent {
        chat_id,
        chat_title,
        message_id: i64::from(m.id()),
        edit_version,
        date: DateTime::<Utc>::from_timestamp(m.date().as_second(), 0).unwrap_or_default(),
        sender,
        sender_name: if service {
            None
        } else {
            m.sender().and_then(sender_name)
        },
        text: m.text().to_string(),
        reply_to: reply_to(m),
        has_media: has_media(&m.raw),
        attachment: attachment(&m.raw),
        service,
    }
}
