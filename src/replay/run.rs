//! One chat being replayed, and how a basic group's run and its
//! supergroup's become one.
//!
//! A group upgraded to a supergroup is one conversation to its people: a
//! request asked in the group and answered after the upgrade was answered.
//! Telegram Desktop writes such a chat's history as one `messages` list
//! (the group's entries up to `migrate_to_supergroup`, then the
//! supergroup's from `migrate_from_group`); a full-account export may also
//! list the group as a chat of its own, whose `name` is the `title` the
//! supergroup's `migrate_from_group` entry carries. The two numbering
//! spaces restart at the upgrade, so replies are only resolved within a
//! part.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};

use super::{ChatReport, ReplayOptions, Tracked};
use crate::config::Config;
use crate::domain::calendar::Calendar;
use crate::domain::sla::{
    Change, ChatContext, ChatTracker, ClientMessages, Inbound, Policy, SenderKind, UserId,
};
use crate::export::{Action, ExportChat, ExportMessage, Sender};

pub(super) struct ChatRun {
    pub chat: ExportChat,
    ctx: ChatContext,
    calendar: Calendar,
    policy: Policy,
    tracker: ChatTracker,
    clients: ClientMessages,
    /// In the order they opened.
    requests: Vec<Tracked>,
    /// Index in `requests` of each client's open request (the tracker keeps
    /// at most one per client), so that repeated message ids, or a group's
    /// and its supergroup's numbering, never confuse two requests.
    open_at: HashMap<UserId, usize>,
    /// The replay's clock: the latest date seen. A message dated before an
    /// earlier one (an edited or scrubbed file) is taken at this time: the
    /// clock never runs backwards.
    clock: Option<DateTime<Utc>>,
    messages: u64,
    unsupported: u64,
    reordered: u64,
    /// Non-service messages seen.
    spoken: u64,
    names: HashMap<UserId, String>,
    /// Saw `migrate_to_supergroup`: a group's history (ends, or goes on
    /// in the same list as the supergroup's).
    pub migrated_to: bool,
    /// The title in `migrate_from_group`: a supergroup made from that group.
    pub from_title: Option<String>,
    /// The history of the group came before `migrate_from_group` in this
    /// very list: a separately listed copy of the group adds nothing.
    pub self_contained: bool,
    /// The first accountant message that answered every open request (not
    /// a reply to a client's message): what answers a group's requests left
    /// open when the group is only met after its supergroup.
    first_general_answer: Option<(DateTime<Utc>, UserId)>,
    pub merged_from: Vec<ExportChat>,
}

impl ChatRun {
    pub fn new(
        chat: ExportChat,
        config: &Config,
        opts: &ReplayOptions,
        staff: &BTreeSet<UserId>,
    ) -> ChatRun {
        let own = config.chats.get(&chat.id);
        let mut accountants: BTreeSet<UserId> =
            own.map(|c| c.accountants.clone()).unwrap_or_default();
        accountants.extend(&opts.accountants);
        ChatRun {
            ctx: ChatContext {
                accountants,
                staff: staff.clone(),
                bots: opts
                    .bots
                    .iter()
                    .copied()
                    .chain(config.telegram.bot_id)
                    .collect(),
            },
            calendar: Calendar::new(config.chat_calendar(Some(chat.id)).clone()),
            policy: config.chat_policy(chat.id),
            chat,
            tracker: ChatTracker::new(),
            clients: ClientMessages::default(),
            requests: Vec::new(),
            open_at: HashMap::new(),
            clock: None,
            messages: 0,
            unsupported: 0,
            reordered: 0,
            spoken: 0,
            names: HashMap::new(),
            migrated_to: false,
            from_title: None,
            self_contained: false,
            first_general_answer: None,
            merged_from: Vec::new(),
        }
    }

    /// Nothing but service entries so far: a group's run can go on in
    /// this one exactly.
    pub fn is_fresh(&self) -> bool {
        self.spoken == 0
    }

    /// Lets go of what only replying within this part needs, before the
    /// run waits for its other part (held runs cost only their requests).
    pub fn park(mut self) -> ChatRun {
        self.clients = ClientMessages::default();
        self
    }

    pub fn on_unsupported(&mut self) {
        self.unsupported += 1;
    }

    pub fn on_message(
        &mut self,
        msg: &ExportMessage,
        config: &Config,
        until: Option<DateTime<Utc>>,
    ) {
        if until.is_some_and(|u| msg.date > u) {
            return;
        }
        self.messages += 1;
        let date = match self.clock {
            Some(c) if msg.date < c => {
                self.reordered += 1;
                c
            }
            _ => msg.date,
        };
        self.clock = Some(date);
        match &msg.action {
            Some(Action::MigrateToSupergroup) => {
                self.migrated_to = true;
                self.clients = ClientMessages::default();
            }
            Some(Action::MigrateFromGroup { title }) => {
                self.self_contained = self.migrated_to;
                self.from_title = Some(title.clone().unwrap_or_default());
                self.clients = ClientMessages::default();
            }
            _ => {}
        }
        let sender = match msg.sender {
            Some(Sender::User(id)) => SenderKind::User(id),
            Some(Sender::Chat(id)) => SenderKind::Chat(id),
            None => SenderKind::None,
        };
        if let (SenderKind::User(id), Some(name)) = (sender, &msg.sender_name)
            && !self.names.contains_key(&id)
        {
            self.names.insert(id, name.clone());
        }
        let inbound = Inbound {
            id: msg.id,
            date,
            sender,
            text: msg.own_text(),
            reply_to: msg.reply_to,
            service: msg.service,
        };
        let reply_sender = msg.reply_to.and_then(|r| self.clients.sender(r));
        if let SenderKind::User(id) = sender
            && !msg.service
        {
            self.spoken += 1;
            if self.ctx.is_client(id) {
                self.clients.insert(msg.id, id);
            } else if self.ctx.accountants.contains(&id)
                && self.first_general_answer.is_none()
                && reply_sender.is_none_or(|c| !self.ctx.is_client(c))
            {
                self.first_general_answer = Some((date, id));
            }
        }
        let changes =
            self.tracker
                .on_message(&self.ctx, &inbound, reply_sender, &config.classifier);
        for change in changes {
            match change {
                Change::Opened(r) => {
                    self.open_at.insert(r.client_id, self.requests.len());
                    self.requests
                        .push(Tracked::new(r.message_id, r.client_id, r.received_at));
                }
                Change::Answered {
                    request,
                    answered_at,
                    answered_by,
                    ..
                } => {
                    if let Some(i) = self.open_at.remove(&request.client_id) {
                        self.requests[i].answer(answered_at, answered_by);
                    }
                }
                Change::Joined { .. } => {}
            }
        }
    }

    /// Goes on in `sup`, the supergroup this group became, met right after
    /// its `migrate_from_group`: the group's open requests, clients and
    /// clock carry on, under the supergroup's id, staff and settings.
    pub fn continue_into(mut self, mut sup: ChatRun) -> ChatRun {
        self.add_part(&mut sup);
        self.merged_from
            .push(std::mem::replace(&mut self.chat, sup.chat));
        self.ctx = sup.ctx;
        self.calendar = sup.calendar;
        self.policy = sup.policy;
        self.clients = ClientMessages::default();
        self.migrated_to = false;
        self.from_title = sup.from_title;
        self
    }

    /// Counts, clock and names of the other part of the same chat.
    fn add_part(&mut self, other: &mut ChatRun) {
        self.messages += other.messages;
        self.unsupported += other.unsupported;
        self.reordered += other.reordered;
        self.clock = self.clock.max(other.clock);
        for (id, name) in std::mem::take(&mut other.names) {
            self.names.entry(id).or_insert(name);
        }
    }

    /// Puts the group's history (met after its supergroup's) in front of
    /// the supergroup's. The supergroup was replayed without the group's
    /// open requests, so those are answered by its first general answer:
    /// exact unless a client of such a request wrote again, or got a
    /// reply, before that answer.
    pub fn prepend_group(mut self, mut group: ChatRun) -> ChatRun {
        let mut requests = std::mem::take(&mut group.requests);
        if let Some((at, by)) = self.first_general_answer {
            for &i in group.open_at.values() {
                requests[i].answer(at, by);
            }
        }
        requests.append(&mut self.requests);
        self.requests = requests;
        self.add_part(&mut group);
        self.merged_from.push(group.chat);
        self.merged_from.append(&mut group.merged_from);
        self
    }

    pub fn finish(self, until: Option<DateTime<Utc>>) -> ChatReport {
        ChatReport {
            chat: self.chat,
            merged_from: self.merged_from,
            policy: self.policy,
            calendar: self.calendar,
            until: until.or(self.clock),
            messages: self.messages,
            unsupported: self.unsupported,
            reordered: self.reordered,
            tracked: self.requests,
            names: self.names,
        }
    }
}
