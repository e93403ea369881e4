//! `buhbot replay`: the SLA engine over a Telegram Desktop export, with a
//! virtual clock driven by the messages' own dates.

mod render;

use std::collections::{BTreeSet, HashMap};
use std::io::Read;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

pub use render::{Format, render};

use crate::config::Config;
use crate::domain::calendar::Calendar;
use crate::domain::sla::{
    self, Change, ChatContext, ChatTracker, ClientMessages, Inbound, MessageId, PlannedAlert,
    Policy, SenderKind, UserId, percentile,
};
use crate::export::{self, ExportChat, ExportError, ExportEvent, ExportMessage, Sender};

/// What the command line adds to the configuration.
#[derive(Debug, Clone, Default)]
pub struct ReplayOptions {
    pub accountants: Vec<UserId>,
    pub managers: Vec<UserId>,
    pub bots: Vec<UserId>,
    /// The end of the replay; by default the date of the chat's last message.
    pub until: Option<DateTime<Utc>>,
    /// Zone of local `date` strings in exports without `date_unixtime`;
    /// by default the chat's calendar zone.
    pub export_tz: Option<Tz>,
    /// Only this chat of a multi-chat export.
    pub chat: Option<i64>,
}

/// One request as the replay saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestReport {
    pub message_id: MessageId,
    pub client_id: UserId,
    pub received_at: DateTime<Utc>,
    pub answered_at: Option<DateTime<Utc>>,
    pub answered_by: Option<UserId>,
    pub working_minutes: i64,
    pub breached: bool,
    pub breached_at: Option<DateTime<Utc>>,
    pub excess_minutes: i64,
    /// The alerts that fell due while it was open, up to the end.
    pub alerts: Vec<PlannedAlert>,
}

/// The SLA report of one chat. Requests are kept compact and their
/// outcomes computed when iterated, so a chat of a million messages fits in
/// a few tens of megabytes.
#[derive(Debug, Clone)]
pub struct ChatReport {
    pub chat: ExportChat,
    pub policy: Policy,
    pub calendar: Calendar,
    /// The end of the replay (the last message's date unless `--until`).
    pub until: Option<DateTime<Utc>>,
    pub messages: u64,
    tracked: Vec<Tracked>,
    /// Display names seen in the export, by user id.
    pub names: HashMap<UserId, String>,
}

/// A request as tracked during the replay: message id, client, received
/// at, and the answer (when and by whom) once there is one.
type Tracked = (
    MessageId,
    UserId,
    DateTime<Utc>,
    Option<(DateTime<Utc>, UserId)>,
);

/// The state of the chat being replayed.
struct ChatRun {
    chat: ExportChat,
    ctx: ChatContext,
    calendar: Calendar,
    policy: Policy,
    tracker: ChatTracker,
    clients: ClientMessages,
    /// Sorted by message id (requests open in message order).
    requests: Vec<Tracked>,
    last_date: Option<DateTime<Utc>>,
    messages: u64,
    names: HashMap<UserId, String>,
}

/// Replays an export, handing each chat's report to `on_chat` as soon as
/// that chat is done. Memory grows with the number of requests and client
/// messages of one chat, never with the whole file.
pub fn replay<R: Read>(
    reader: R,
    file: &str,
    config: &Config,
    opts: &ReplayOptions,
    on_chat: &mut dyn FnMut(ChatReport),
) -> Result<(), ExportError> {
    let mut staff: BTreeSet<UserId> = config.staff();
    staff.extend(opts.accountants.iter().chain(&opts.managers));
    let export_tz = opts.export_tz.unwrap_or(config.calendar.timezone);
    let mut current: Option<ChatRun> = None;
    let mut visit = |event: ExportEvent| match event {
        ExportEvent::Chat(chat) => {
            if let Some(run) = current.take() {
                on_chat(run.finish(opts.until));
            }
            if opts.chat.is_none_or(|c| c == chat.id) {
                current = Some(ChatRun::new(chat, config, opts, &staff));
            }
        }
        ExportEvent::Message(msg) => {
            if let Some(run) = current.as_mut() {
                run.on_message(&msg, config, opts.until);
            }
        }
    };
    export::read_export(reader, file, export_tz, &mut visit)?;
    if let Some(run) = current.take() {
        on_chat(run.finish(opts.until));
    }
    Ok(())
}

impl ChatRun {
    fn new(
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
            last_date: None,
            messages: 0,
            names: HashMap::new(),
        }
    }

    fn on_message(&mut self, msg: &ExportMessage, config: &Config, until: Option<DateTime<Utc>>) {
        if until.is_some_and(|u| msg.date > u) {
            return;
        }
        self.messages += 1;
        self.last_date = Some(self.last_date.map_or(msg.date, |d| d.max(msg.date)));
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
            date: msg.date,
            sender,
            text: &msg.text,
            reply_to: msg.reply_to,
            service: msg.service,
        };
        if let SenderKind::User(id) = sender
            && !msg.service
            && self.ctx.is_client(id)
        {
            self.clients.insert(msg.id, id);
        }
        let reply_sender = msg.reply_to.and_then(|r| self.clients.sender(r));
        let changes =
            self.tracker
                .on_message(&self.ctx, &inbound, reply_sender, &config.classifier);
        for change in changes {
            match change {
                Change::Opened(r) => {
                    let at = self.requests.partition_point(|x| x.0 < r.message_id);
                    self.requests
                        .insert(at, (r.message_id, r.client_id, r.received_at, None));
                }
                Change::Answered {
                    request,
                    answered_at,
                    answered_by,
                    ..
                } => {
                    if let Ok(i) = self
                        .requests
                        .binary_search_by_key(&request.message_id, |x| x.0)
                    {
                        self.requests[i].3 = Some((answered_at, answered_by));
                    }
                }
                Change::Joined { .. } => {}
            }
        }
    }

    fn finish(self, until: Option<DateTime<Utc>>) -> ChatReport {
        ChatReport {
            chat: self.chat,
            policy: self.policy,
            calendar: self.calendar,
            until: until.or(self.last_date),
            messages: self.messages,
            tracked: self.requests,
            names: self.names,
        }
    }
}

/// Aggregate figures of a chat report.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Summary {
    pub requests: usize,
    pub answered: usize,
    pub breached: usize,
    /// Share of requests not breached, in percent (one decimal).
    pub compliance_percent: Option<f64>,
    /// Over answered requests, in working minutes (nearest rank).
    pub median_minutes: Option<i64>,
    pub p95_minutes: Option<i64>,
}

impl ChatReport {
    pub fn request_count(&self) -> usize {
        self.tracked.len()
    }

    /// The requests in message order, with their outcome and the alerts
    /// that fell due while they were open, up to the end of the replay.
    pub fn requests(&self) -> impl Iterator<Item = RequestReport> + '_ {
        self.tracked
            .iter()
            .map(move |&(message_id, client_id, received_at, answer)| {
                let answered_at = answer.map(|a| a.0);
                let now = self.until.unwrap_or(received_at);
                let (cal, policy) = (&self.calendar, &self.policy);
                let o = sla::outcome(cal, policy, received_at, answered_at, now);
                let alerts = sla::plan_alerts(cal, policy, received_at)
                    .into_iter()
                    .filter(|a| sla::alert_fires(a.due, answered_at, now))
                    .collect();
                RequestReport {
                    message_id,
                    client_id,
                    received_at,
                    answered_at,
                    answered_by: answer.map(|a| a.1),
                    working_minutes: o.working_minutes(),
                    breached: o.breached,
                    breached_at: o.breached_at,
                    excess_minutes: o.excess_minutes,
                    alerts,
                }
            })
    }

    pub fn summary(&self) -> Summary {
        let requests = self.tracked.len();
        let mut breached = 0;
        let mut minutes = Vec::new();
        for r in self.requests() {
            breached += usize::from(r.breached);
            if r.answered_at.is_some() {
                minutes.push(r.working_minutes);
            }
        }
        minutes.sort_unstable();
        Summary {
            requests,
            answered: minutes.len(),
            breached,
            compliance_percent: (requests > 0).then(|| {
                let pct = 100.0 * (requests - breached) as f64 / requests as f64;
                (pct * 10.0).round() / 10.0
            }),
            median_minutes: percentile(&minutes, 50.0),
            p95_minutes: percentile(&minutes, 95.0),
        }
    }
}
