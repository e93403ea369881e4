//! serde seeds and visitors that walk an export without building a tree.
//!
//! Every level is a `DeserializeSeed` so that the callback can travel down to
//! the message array; messages are handed out one at a time from `visit_seq`
//! and never collected. Keys are matched in `visit_str` against the
//! deserializer's scratch buffer, dates and sender ids are parsed the same
//! way, and unknown values go through `IgnoredAny` (serde_json's skip path,
//! which allocates nothing): the only per-message heap allocations left are
//! the text and the sender's name, which the caller receives owned.

use std::fmt;

use chrono::{DateTime, NaiveDateTime, Utc};
use chrono_tz::Tz;
use serde::de::{
    self, DeserializeSeed, Deserializer, Error as _, IgnoredAny, MapAccess, SeqAccess, Unexpected,
    Visitor,
};

use super::dates::{local_to_utc, parse_local, parse_unixtime};
use super::{Action, ExportChat, ExportEvent, ExportMessage, Sender, bot_api_chat_id};

pub(super) struct Ctx<'a> {
    pub visit: &'a mut dyn FnMut(ExportEvent),
    pub tz: Tz,
}

/// The top-level object: either one chat, or a full export whose chats sit
/// in `chats.list` and `left_chats.list`.
pub(super) struct RootSeed<'c, 'a>(pub &'c mut Ctx<'a>);

impl<'de> DeserializeSeed<'de> for RootSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(ChatVisitor {
            ctx: self.0,
            root: true,
        })
    }
}

// ---- keys -----------------------------------------------------------------

/// Reads an object key without allocating, mapping it with a plain function.
struct Key<F>(fn(&str) -> F);

impl<'de, F> DeserializeSeed<'de> for Key<F> {
    type Value = F;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<F, D::Error> {
        d.deserialize_identifier(self)
    }
}

impl<'de, F> Visitor<'de> for Key<F> {
    type Value = F;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object key")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<F, E> {
        Ok((self.0)(v))
    }
}

#[derive(Clone, Copy)]
enum ChatKey {
    Name,
    Type,
    Id,
    Messages,
    /// `chats` / `left_chats` of a full export.
    ChatList,
    Other,
}

fn chat_key(k: &str) -> ChatKey {
    match k {
        "name" => ChatKey::Name,
        "type" => ChatKey::Type,
        "id" => ChatKey::Id,
        "messages" => ChatKey::Messages,
        "chats" | "left_chats" => ChatKey::ChatList,
        _ => ChatKey::Other,
    }
}

#[derive(Clone, Copy)]
enum MsgKey {
    Id,
    Type,
    Date,
    DateUnix,
    Edited,
    EditedUnix,
    From,
    FromId,
    Actor,
    ActorId,
    Text,
    ReplyTo,
    Media,
    Action,
    Title,
    Forwarded,
    Other,
}

fn msg_key(k: &str) -> MsgKey {
    match k {
        "id" => MsgKey::Id,
        "type" => MsgKey::Type,
        "date" => MsgKey::Date,
        "date_unixtime" => MsgKey::DateUnix,
        "edited" => MsgKey::Edited,
        "edited_unixtime" => MsgKey::EditedUnix,
        "from" => MsgKey::From,
        "from_id" => MsgKey::FromId,
        "actor" => MsgKey::Actor,
        "actor_id" => MsgKey::ActorId,
        "text" => MsgKey::Text,
        "reply_to_message_id" => MsgKey::ReplyTo,
        "action" => MsgKey::Action,
        "title" => MsgKey::Title,
        "forwarded_from" | "forwarded_from_id" => MsgKey::Forwarded,
        "file"
        | "photo"
        | "media_type"
        | "sticker_emoji"
        | "location_information"
        | "contact_information"
        | "poll" => MsgKey::Media,
        _ => MsgKey::Other,
    }
}

// ---- chats ----------------------------------------------------------------

struct ChatVisitor<'c, 'a> {
    ctx: &'c mut Ctx<'a>,
    /// The file's top-level object, which may be a full export instead.
    root: bool,
}

fn make_chat(
    name: Option<String>,
    kind: Option<String>,
    id: Option<i64>,
    missing: &str,
) -> Result<ExportChat, String> {
    let (Some(kind), Some(raw)) = (kind, id) else {
        return Err(format!("chat `id` and `type` {missing}"));
    };
    let id = bot_api_chat_id(&kind, raw).ok_or_else(|| format!("chat id {raw} out of range"))?;
    Ok(ExportChat { id, name, kind })
}

impl<'de> Visitor<'de> for ChatVisitor<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a Telegram export object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let ctx = self.ctx;
        let mut name: Option<String> = None;
        let mut kind: Option<String> = None;
        let mut id: Option<i64> = None;
        let mut announced = false;
        while let Some(key) = map.next_key_seed(Key(chat_key))? {
            match key {
                ChatKey::Name => name = map.next_value()?,
                ChatKey::Type => kind = Some(map.next_value()?),
                ChatKey::Id => id = Some(map.next_value()?),
                ChatKey::Messages => {
                    if announced {
                        return Err(A::Error::custom("duplicate `messages`"));
                    }
                    let chat = make_chat(
                        name.take(),
                        kind.take(),
                        id.take(),
                        "must come before `messages`",
                    )
                    .map_err(A::Error::custom)?;
                    (ctx.visit)(ExportEvent::Chat(chat));
                    announced = true;
                    map.next_value_seed(MessagesSeed(&mut *ctx))?;
                }
                ChatKey::ChatList if self.root => {
                    map.next_value_seed(ChatListHolder(&mut *ctx))?;
                }
                ChatKey::ChatList | ChatKey::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        // A chat without messages is still a chat; a full export's root has
        // no `id` and is not one.
        if !announced && (!self.root || id.is_some() || kind.is_some()) {
            let chat = make_chat(name, kind, id, "are missing").map_err(A::Error::custom)?;
            (ctx.visit)(ExportEvent::Chat(chat));
        }
        Ok(())
    }
}

/// `{"about": "…", "list": [chat, …]}`.
struct ChatListHolder<'c, 'a>(&'c mut Ctx<'a>);

impl<'de> DeserializeSeed<'de> for ChatListHolder<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ChatListHolder<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object with a `list` of chats")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(is_list) = map.next_key_seed(Key(|k| k == "list"))? {
            if is_list {
                map.next_value_seed(ChatList(&mut *self.0))?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

struct ChatList<'c, 'a>(&'c mut Ctx<'a>);

impl<'de> DeserializeSeed<'de> for ChatList<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ChatList<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of chats")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(ChatSeed(&mut *self.0))?.is_some() {}
        Ok(())
    }
}

struct ChatSeed<'c, 'a>(&'c mut Ctx<'a>);

impl<'de> DeserializeSeed<'de> for ChatSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(ChatVisitor {
            ctx: self.0,
            root: false,
        })
    }
}

struct MessagesSeed<'c, 'a>(&'c mut Ctx<'a>);

impl<'de> DeserializeSeed<'de> for MessagesSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for MessagesSeed<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of messages")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let tz = self.0.tz;
        while let Some(m) = seq.next_element_seed(MessageSeed(tz))? {
            (self.0.visit)(match m {
                Parsed::Message(m) => ExportEvent::Message(m),
                Parsed::Unsupported(id) => ExportEvent::Unsupported(id),
            });
        }
        Ok(())
    }
}

// ---- messages -------------------------------------------------------------

struct MessageSeed(Tz);

/// A message entry: a message, or a `type: "unsupported"` placeholder,
/// which Telegram Desktop writes with nothing but its id.
pub(super) enum Parsed {
    Message(ExportMessage),
    Unsupported(i64),
}

impl<'de> DeserializeSeed<'de> for MessageSeed {
    type Value = Parsed;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Parsed, D::Error> {
        d.deserialize_map(self)
    }
}

/// Telegram began in 2013. A date far outside (a scrubbed or corrupted
/// file) is refused rather than replayed: the working minutes of a request
/// dated in 1970 or in 5000 would take the calendar centuries to count.
fn plausible(t: DateTime<Utc>) -> bool {
    (2013..2200).contains(&chrono::Datelike::year(&t))
}

/// Resolves a date from its exact and its local form, preferring the exact.
fn resolve<E: de::Error>(
    tz: Tz,
    unix: Option<DateTime<Utc>>,
    local: Option<NaiveDateTime>,
    what: &str,
) -> Result<Option<DateTime<Utc>>, E> {
    match (unix, local) {
        (Some(t), _) => Ok(Some(t)),
        (None, Some(l)) => local_to_utc(tz, l)
            .map(Some)
            .ok_or_else(|| E::custom(format!("`{what}` {l} out of range"))),
        (None, None) => Ok(None),
    }
}

impl<'de> Visitor<'de> for MessageSeed {
    type Value = Parsed;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a message object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Parsed, A::Error> {
        let mut id: Option<i64> = None;
        let mut kind = MsgType::Message;
        let (mut date, mut date_unix) = (None, None);
        let (mut edited, mut edited_unix) = (None, None);
        let (mut from, mut from_id) = (None::<String>, None::<Sender>);
        let (mut actor, mut actor_id) = (None::<String>, None::<Sender>);
        let mut text = String::new();
        let mut reply_to: Option<i64> = None;
        let mut has_media = false;
        let mut forwarded = false;
        let mut action: Option<String> = None;
        let mut title: Option<String> = None;
        while let Some(key) = map.next_key_seed(Key(msg_key))? {
            match key {
                MsgKey::Id => id = Some(map.next_value()?),
                MsgKey::Type => kind = map.next_value::<MsgType>()?,
                MsgKey::Date => date = Some(map.next_value::<LocalTime>()?.0),
                MsgKey::DateUnix => date_unix = map.next_value::<UnixTime>()?.0,
                MsgKey::Edited => edited = Some(map.next_value::<LocalTime>()?.0),
                MsgKey::EditedUnix => edited_unix = map.next_value::<UnixTime>()?.0,
                MsgKey::From => from = map.next_value()?,
                MsgKey::FromId => from_id = map.next_value::<PeerId>()?.0,
                MsgKey::Actor => actor = map.next_value()?,
                MsgKey::ActorId => actor_id = map.next_value::<PeerId>()?.0,
                MsgKey::Text => {
                    text.clear();
                    map.next_value_seed(TextSeed(&mut text))?;
                }
                MsgKey::ReplyTo => reply_to = map.next_value()?,
                MsgKey::Media => {
                    has_media = true;
                    map.next_value::<IgnoredAny>()?;
                }
                // Present (even as null: a hidden or deleted author) on
                // every forwarded message.
                MsgKey::Forwarded => {
                    forwarded = true;
                    map.next_value::<IgnoredAny>()?;
                }
                MsgKey::Action => action = map.next_value()?,
                // Group titles of service entries; an audio file's song
                // title on plain messages (harmless: only read for actions).
                MsgKey::Title => title = map.next_value()?,
                MsgKey::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let id = id.ok_or_else(|| A::Error::custom("message without `id`"))?;
        if kind == MsgType::Unsupported {
            return Ok(Parsed::Unsupported(id));
        }
        let date = resolve(self.0, date_unix, date, "date")?
            .ok_or_else(|| A::Error::custom(format!("message {id} without `date`")))?;
        if !plausible(date) {
            return Err(A::Error::custom(format!(
                "message {id}: date {} is outside 2013–2199, expected the date of a Telegram message",
                date.format("%Y-%m-%dT%H:%M:%SZ")
            )));
        }
        // An implausible edit date is only dropped: it changes nothing.
        let edited = resolve(self.0, edited_unix, edited, "edited")?.filter(|t| plausible(*t));
        let service = kind == MsgType::Service;
        Ok(Parsed::Message(ExportMessage {
            id,
            service,
            date,
            // Service entries name their actor; plain messages their author.
            sender: from_id.or(actor_id),
            sender_name: from.or(actor),
            text,
            reply_to,
            has_media,
            edited,
            forwarded,
            action: action.map(|a| Action::from_export(&a, title)),
        }))
    }
}

/// `type`: `service`, `unsupported`, and `message` (or anything newer,
/// read as a plain message).
#[derive(Clone, Copy, PartialEq, Eq)]
enum MsgType {
    Message,
    Service,
    Unsupported,
}

impl<'de> de::Deserialize<'de> for MsgType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = MsgType;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a message type")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<MsgType, E> {
                Ok(match v {
                    "service" => MsgType::Service,
                    "unsupported" => MsgType::Unsupported,
                    _ => MsgType::Message,
                })
            }
        }
        d.deserialize_str(V)
    }
}

/// `date` / `edited`: local wall time without offset.
struct LocalTime(NaiveDateTime);

impl<'de> de::Deserialize<'de> for LocalTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = LocalTime;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a date like 2025-11-03T09:15:12")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<LocalTime, E> {
                parse_local(v)
                    .map(LocalTime)
                    .ok_or_else(|| E::invalid_value(Unexpected::Str(v), &self))
            }
        }
        d.deserialize_str(V)
    }
}

/// `date_unixtime` / `edited_unixtime`: seconds, a string in real exports
/// (a bare number is accepted too). Zero (`"0000000000"`, what scrubbing
/// tools leave) is no date at all: the local `date` is used instead.
struct UnixTime(Option<DateTime<Utc>>);

impl<'de> de::Deserialize<'de> for UnixTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = UnixTime;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("unix time in seconds")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<UnixTime, E> {
                parse_unixtime(v)
                    .map(|t| UnixTime((t.timestamp() != 0).then_some(t)))
                    .ok_or_else(|| E::invalid_value(Unexpected::Str(v), &self))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<UnixTime, E> {
                DateTime::from_timestamp(v, 0)
                    .map(|t| UnixTime((v != 0).then_some(t)))
                    .ok_or_else(|| E::invalid_value(Unexpected::Signed(v), &self))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<UnixTime, E> {
                let s = i64::try_from(v)
                    .map_err(|_| E::invalid_value(Unexpected::Unsigned(v), &self))?;
                self.visit_i64(s)
            }
        }
        d.deserialize_any(V)
    }
}

/// `from_id` / `actor_id`: `"user123"` → a user; `"channel123"` (a channel,
/// or an admin posting anonymously as the group) → that chat, with its
/// Bot-API id `-100123`; `"chat123"` (a basic group) → `-123`; null (some
/// deleted senders) → unknown. Very old exports wrote a bare user number.
struct PeerId(Option<Sender>);

fn parse_peer(v: &str) -> Option<Sender> {
    let num = |rest: &str| -> Option<i64> {
        // `parse` accepts a leading `+`; ids never have one.
        if rest.starts_with(['+', '-']) {
            return None;
        }
        rest.parse().ok()
    };
    if let Some(rest) = v.strip_prefix("user") {
        num(rest).map(Sender::User)
    } else if let Some(rest) = v.strip_prefix("channel") {
        bot_api_chat_id("private_channel", num(rest)?).map(Sender::Chat)
    } else if let Some(rest) = v.strip_prefix("chat") {
        bot_api_chat_id("private_group", num(rest)?).map(Sender::Chat)
    } else {
        None
    }
}

impl<'de> de::Deserialize<'de> for PeerId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = PeerId;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a peer id like \"user123\" or \"channel123\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<PeerId, E> {
                parse_peer(v)
                    .map(|s| PeerId(Some(s)))
                    .ok_or_else(|| E::invalid_value(Unexpected::Str(v), &self))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<PeerId, E> {
                Ok(PeerId(Some(Sender::User(v))))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<PeerId, E> {
                i64::try_from(v)
                    .map(|v| PeerId(Some(Sender::User(v))))
                    .map_err(|_| E::invalid_value(Unexpected::Unsigned(v), &self))
            }
            fn visit_unit<E: de::Error>(self) -> Result<PeerId, E> {
                Ok(PeerId(None))
            }
            fn visit_none<E: de::Error>(self) -> Result<PeerId, E> {
                Ok(PeerId(None))
            }
        }
        d.deserialize_any(V)
    }
}

// ---- text -----------------------------------------------------------------

/// `text`: a string, or an array of strings and entity objects whose `text`
/// fields are concatenated (bold, links, mentions, …: formatting is dropped).
/// Appends straight into the message's string.
struct TextSeed<'s>(&'s mut String);

impl<'de> DeserializeSeed<'de> for TextSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for TextSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a text string or an array of text parts")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.0.push_str(v);
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(TextPart(&mut *self.0))?.is_some() {}
        Ok(())
    }
}

struct TextPart<'s>(&'s mut String);

impl<'de> DeserializeSeed<'de> for TextPart<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for TextPart<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a text part: a string or {\"type\": …, \"text\": …}")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.0.push_str(v);
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(is_text) = map.next_key_seed(Key(|k| k == "text"))? {
            if is_text {
                map.next_value_seed(AppendStr(&mut *self.0))?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

struct AppendStr<'s>(&'s mut String);

impl<'de> DeserializeSeed<'de> for AppendStr<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for AppendStr<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.0.push_str(v);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peers() {
        assert_eq!(parse_peer("user5000001"), Some(Sender::User(5000001)));
        assert_eq!(
            parse_peer("channel1987654321"),
            Some(Sender::Chat(-1001987654321))
        );
        assert_eq!(parse_peer("chat42"), Some(Sender::Chat(-42)));
        assert_eq!(parse_peer("user"), None);
        assert_eq!(parse_peer("user+5"), None);
        assert_eq!(parse_peer("bot5"), None);
        assert_eq!(parse_peer("channel9223372036854775000"), None);
    }
}
