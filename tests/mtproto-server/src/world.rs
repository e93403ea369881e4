//! What the server knows: the bot, the users and chats, and the update
//! log, numbered by pts (one common box, plus one per channel), from which
//! `updates.getDifference` answers with real gaps.

use std::collections::{BTreeMap, HashSet};

use grammers_tl_types::{self as tl, Serializable};

use crate::tl_util::{blank, is_channel, peer};

pub struct Bot {
    pub id: i64,
    pub access_hash: i64,
    pub first_name: String,
    pub username: String,
    pub token: String,
}

/// One update in a pts box.
#[derive(Clone)]
pub struct Logged {
    pub pts: i32,
    pub update: tl::enums::Update,
    /// When it was logged (Unix seconds).
    pub date: i32,
}

#[derive(Default)]
pub struct Box_ {
    pub pts: i32,
    pub log: Vec<Logged>,
    pub next_msg_id: i32,
}

/// A message the bot sent or edited, as the server stored it.
#[derive(Clone, Debug)]
pub struct Sent {
    pub chat: i64,
    pub id: i32,
    pub text: String,
    pub reply_markup: Option<tl::enums::ReplyMarkup>,
    pub random_id: i64,
    pub edits: u32,
}

pub struct World {
    pub bot: Bot,
    pub authorized: bool,
    pub users: BTreeMap<i64, tl::types::User>,
    pub groups: BTreeMap<i64, tl::types::Chat>,
    pub channels: BTreeMap<i64, tl::types::Channel>,
    pub common: Box_,
    pub channel_boxes: BTreeMap<i64, Box_>,
    pub random_ids: HashSet<i64>,
    pub sent: Vec<Sent>,
    pub next_query_id: i64,
}

pub fn now() -> i32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i32
}

pub fn user(id: i64, first_name: &str, username: Option<&str>, bot: bool) -> tl::types::User {
    let mut prefix = Vec::new();
    0u32.serialize(&mut prefix);
    0u32.serialize(&mut prefix);
    id.serialize(&mut prefix);
    let mut u: tl::types::User = blank(&prefix);
    u.access_hash = Some(id.wrapping_mul(0x9e37_79b9_7f4a_7c15u64 as i64));
    u.first_name = Some(first_name.to_string());
    u.username = username.map(str::to_string);
    u.bot = bot;
    // `bot` and `bot_info_version` share flag bit 14 in the schema: a bot
    // without a version would serialize a flag promising an int it lacks.
    u.bot_info_version = bot.then_some(1);
    u
}

fn chat_photo_empty() -> tl::enums::ChatPhoto {
    tl::enums::ChatPhoto::Empty
}

impl World {
    pub fn new(bot: Bot) -> World {
        let mut users = BTreeMap::new();
        let mut me = user(bot.id, &bot.first_name, Some(&bot.username), true);
        me.access_hash = Some(bot.access_hash);
        users.insert(bot.id, me);
        World {
            bot,
            authorized: false,
            users,
            groups: BTreeMap::new(),
            channels: BTreeMap::new(),
            common: Box_ {
                pts: 100,
                log: Vec::new(),
                next_msg_id: 1,
            },
            channel_boxes: BTreeMap::new(),
            random_ids: HashSet::new(),
            sent: Vec::new(),
            next_query_id: 1,
        }
    }

    pub fn me(&self) -> tl::enums::User {
        let mut me = self.users[&self.bot.id].clone();
        me.is_self = true;
        me.into()
    }

    pub fn add_user(&mut self, id: i64, first_name: &str, username: Option<&str>) {
        self.users.insert(id, user(id, first_name, username, false));
    }

    /// A chat by Bot-API id: `-N` a basic group, `-100…` a supergroup.
    pub fn add_chat(&mut self, chat: i64, title: &str) {
        if is_channel(chat) {
            let id = -chat - 1_000_000_000_000;
            let mut prefix = Vec::new();
            0u32.serialize(&mut prefix);
            0u32.serialize(&mut prefix);
            id.serialize(&mut prefix);
            title.to_string().serialize(&mut prefix);
            chat_photo_empty().serialize(&mut prefix);
            now().serialize(&mut prefix);
            let mut c: tl::types::Channel = blank(&prefix);
            c.megagroup = true;
            c.access_hash = Some(id ^ 0x5555_aaaa);
            self.channels.insert(id, c);
            self.channel_boxes.insert(
                id,
                Box_ {
                    pts: 1,
                    log: Vec::new(),
                    next_msg_id: 1,
                },
            );
        } else {
            self.groups
                .insert(-chat, crate::tl_util::basic_group(-chat, title, now()));
        }
    }

    pub fn all_users(&self) -> Vec<tl::enums::User> {
        self.users.values().cloned().map(Into::into).collect()
    }

    pub fn all_chats(&self) -> Vec<tl::enums::Chat> {
        let mut v: Vec<tl::enums::Chat> = self.groups.values().cloned().map(Into::into).collect();
        v.extend(self.channels.values().cloned().map(Into::into));
        v
    }

    /// A text message in `chat` from `from`, as stored by Telegram.
    pub fn message(&mut self, chat: i64, from: i64, text: &str, date: i32) -> tl::types::Message {
        let bx = self.box_for(chat);
        let id = bx.next_msg_id;
        bx.next_msg_id += 1;
        self.compose(id, chat, from, text, date)
    }

    /// Message `id` of `chat` with this text, without allocating an id.
    pub fn compose(
        &self,
        id: i32,
        chat: i64,
        from: i64,
        text: &str,
        date: i32,
    ) -> tl::types::Message {
        let mut prefix = Vec::new();
        0u32.serialize(&mut prefix);
        0u32.serialize(&mut prefix);
        id.serialize(&mut prefix);
        peer(chat).serialize(&mut prefix);
        date.serialize(&mut prefix);
        text.to_string().serialize(&mut prefix);
        let mut m: tl::types::Message = blank(&prefix);
        m.from_id = Some(peer(from));
        m.out = from == self.bot.id;
        m
    }

    pub fn box_for(&mut self, chat: i64) -> &mut Box_ {
        if is_channel(chat) {
            let id = -chat - 1_000_000_000_000;
            self.channel_boxes.entry(id).or_default()
        } else {
            &mut self.common
        }
    }

    /// Logs `message` as new (or edited) in its box: the update with its pts.
    pub fn log_message(
        &mut self,
        chat: i64,
        message: tl::types::Message,
        edit: bool,
    ) -> tl::enums::Update {
        let bx = self.box_for(chat);
        bx.pts += 1;
        let pts = bx.pts;
        let message: tl::enums::Message = message.into();
        let update: tl::enums::Update = match (is_channel(chat), edit) {
            (false, false) => tl::types::UpdateNewMessage {
                message,
                pts,
                pts_count: 1,
            }
            .into(),
            (false, true) => tl::types::UpdateEditMessage {
                message,
                pts,
                pts_count: 1,
            }
            .into(),
            (true, false) => tl::types::UpdateNewChannelMessage {
                message,
                pts,
                pts_count: 1,
            }
            .into(),
            (true, true) => tl::types::UpdateEditChannelMessage {
                message,
                pts,
                pts_count: 1,
            }
            .into(),
        };
        bx.log.push(Logged {
            pts,
            update: update.clone(),
            date: now(),
        });
        update
    }

    pub fn updates(&self, updates: Vec<tl::enums::Update>) -> tl::enums::Updates {
        tl::types::Updates {
            updates,
            users: self.all_users(),
            chats: self.all_chats(),
            date: now(),
            seq: 0,
        }
        .into()
    }

    pub fn state(&self) -> tl::types::updates::State {
        tl::types::updates::State {
            pts: self.common.pts,
            qts: 0,
            date: now(),
            seq: 0,
            unread_count: 0,
        }
    }

    /// `updates.getDifference` from `pts`: at most `limit` updates, as a
    /// slice when more remain.
    pub fn difference(&self, pts: i32, date: i32, limit: usize) -> tl::enums::updates::Difference {
        // Channels have boxes of their own: as Telegram does, the common
        // difference only hints (updateChannelTooLong) at those with news
        // since the client's date, and the client asks each for its own.
        let hints: Vec<tl::enums::Update> = self
            .channel_boxes
            .iter()
            .filter(|(_, b)| b.log.iter().any(|l| l.date >= date))
            .map(|(&channel_id, _)| {
                tl::types::UpdateChannelTooLong {
                    channel_id,
                    pts: None,
                }
                .into()
            })
            .collect();
        if pts >= self.common.pts && hints.is_empty() {
            return tl::types::updates::DifferenceEmpty {
                date: now(),
                seq: 0,
            }
            .into();
        }
        let pending: Vec<&Logged> = self.common.log.iter().filter(|l| l.pts > pts).collect();
        let more = pending.len() > limit;
        let taken = &pending[..pending.len().min(limit)];
        let mut new_messages = Vec::new();
        let mut other_updates = hints;
        for l in taken {
            match &l.update {
                tl::enums::Update::NewMessage(u) => new_messages.push(u.message.clone()),
                u => other_updates.push(u.clone()),
            }
        }
        let mut state = self.state();
        if let Some(last) = taken.last() {
            state.pts = last.pts;
        }
        if more {
            tl::types::updates::DifferenceSlice {
                new_messages,
                new_encrypted_messages: Vec::new(),
                other_updates,
                chats: self.all_chats(),
                users: self.all_users(),
                intermediate_state: state.into(),
            }
            .into()
        } else {
            tl::types::updates::Difference {
                new_messages,
                new_encrypted_messages: Vec::new(),
                other_updates,
                chats: self.all_chats(),
                users: self.all_users(),
                state: state.into(),
            }
            .into()
        }
    }

    pub fn channel_difference(
        &self,
        channel: i64,
        pts: i32,
        limit: usize,
    ) -> tl::enums::updates::ChannelDifference {
        let Some(bx) = self.channel_boxes.get(&channel) else {
            return tl::types::updates::ChannelDifferenceEmpty {
                r#final: true,
                pts,
                timeout: None,
            }
            .into();
        };
        let pending: Vec<&Logged> = bx.log.iter().filter(|l| l.pts > pts).collect();
        if pending.is_empty() {
            return tl::types::updates::ChannelDifferenceEmpty {
                r#final: true,
                pts: bx.pts,
                timeout: None,
            }
            .into();
        }
        let taken = &pending[..pending.len().min(limit)];
        let mut new_messages = Vec::new();
        let mut other_updates = Vec::new();
        for l in taken {
            match &l.update {
                tl::enums::Update::NewChannelMessage(u) => new_messages.push(u.message.clone()),
                u => other_updates.push(u.clone()),
            }
        }
        tl::types::updates::ChannelDifference {
            r#final: pending.len() <= limit,
            pts: taken.last().map_or(bx.pts, |l| l.pts),
            timeout: None,
            new_messages,
            other_updates,
            chats: self.all_chats(),
            users: self.all_users(),
        }
        .into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use grammers_tl_types::Deserializable;

    #[test]
    fn objects_round_trip() {
        let w = World::new(Bot {
            id: 7,
            access_hash: 1,
            first_name: "b".into(),
            username: "u".into(),
            token: "t".into(),
        });
        let me = w.me();
        let bytes = me.to_bytes();
        let back = tl::enums::User::from_bytes(&bytes).unwrap();
        assert_eq!(back, me);
    }
}
