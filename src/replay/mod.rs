//! `buhbot replay`: the SLA engine over a Telegram Desktop export, with a
//! virtual clock driven by the messages' own dates.
//!
//! Every group chat of the export is replayed, one report each, handed out
//! as soon as the chat is done (memory follows one chat, never the file);
//! other chats are skipped and named ([`chats`]). A basic group and the
//! supergroup it became are one chat ([`run`]): their reports wait until
//! both parts are read or the file ends.

mod chats;
mod render;
mod run;

use std::collections::{BTreeSet, HashMap};
use std::io::Read;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

pub use chats::{ChatSelector, ReplayOutcome, SkippedChat, describe, not_a_group};
pub use render::{Format, render};

use crate::config::Config;
use crate::domain::calendar::Calendar;
pub use crate::domain::sla::Summary;
use crate::domain::sla::{self, MessageId, PlannedAlert, Policy, RequestFigures, UserId};
use crate::export::{self, ExportChat, ExportError, ExportEvent};
use run::ChatRun;

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
    pub chat: Option<ChatSelector>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error(transparent)]
    Export(#[from] ExportError),
    /// Nothing to report: no group chat, or none that `--chat` names.
    #[error("{file}: {message}")]
    NoChat { file: String, message: String },
}

impl ReplayError {
    /// sysexits: 65 for an export without the chat asked for, as for one
    /// that is not an export; the export reader's codes otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            ReplayError::Export(e) => e.exit_code(),
            ReplayError::NoChat { .. } => export::EX_DATAERR,
        }
    }
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
    /// The basic group(s) whose history came before this supergroup's.
    /// Their requests keep the group's message ids.
    pub merged_from: Vec<ExportChat>,
    pub policy: Policy,
    pub calendar: Calendar,
    /// The end of the replay (the last message's date unless `--until`).
    pub until: Option<DateTime<Utc>>,
    pub messages: u64,
    /// `type: "unsupported"` entries, which carry nothing to replay.
    pub unsupported: u64,
    /// Messages dated before an earlier one, replayed at that earlier time.
    pub reordered: u64,
    tracked: Vec<Tracked>,
    /// Display names seen in the export, by user id.
    pub names: HashMap<UserId, String>,
}

/// A request as tracked during the replay, in 40 bytes (a chat of
/// millions of messages keeps a million of these): times are unix seconds
/// (export dates have no fractions), `answered_at` is `i64::MIN` while
/// unanswered.
#[derive(Debug, Clone, Copy)]
struct Tracked {
    message_id: MessageId,
    client_id: UserId,
    received_at: i64,
    answered_at: i64,
    answered_by: UserId,
}

impl Tracked {
    fn new(message_id: MessageId, client_id: UserId, received_at: DateTime<Utc>) -> Tracked {
        Tracked {
            message_id,
            client_id,
            received_at: received_at.timestamp(),
            answered_at: i64::MIN,
            answered_by: 0,
        }
    }

    fn answer(&mut self, at: DateTime<Utc>, by: UserId) {
        self.answered_at = at.timestamp();
        self.answered_by = by;
    }

    fn answered(&self) -> Option<(DateTime<Utc>, UserId)> {
        (self.answered_at != i64::MIN)
            .then(|| DateTime::from_timestamp(self.answered_at, 0))
            .flatten()
            .map(|t| (t, self.answered_by))
    }
}

/// Replays an export, handing each group chat's report to `on_chat` as
/// soon as that chat is done. Memory grows with the number of requests and
/// client messages of one chat, never with the whole file. Fails with
/// [`ReplayError::NoChat`] when no report came out.
pub fn replay<R: Read>(
    reader: R,
    file: &str,
    config: &Config,
    opts: &ReplayOptions,
    on_chat: &mut dyn FnMut(ChatReport),
) -> Result<ReplayOutcome, ReplayError> {
    let mut staff: BTreeSet<UserId> = config.staff();
    staff.extend(opts.accountants.iter().chain(&opts.managers));
    let export_tz = opts.export_tz.unwrap_or(config.calendar.timezone);
    let mut r = Replayer {
        config,
        opts,
        staff,
        current: None,
        groups: Vec::new(),
        supergroups: Vec::new(),
        absorbed: Vec::new(),
        outcome: ReplayOutcome::default(),
        on_chat,
    };
    let mut visit = |event: ExportEvent| r.on_event(event);
    export::read_export(reader, file, export_tz, &mut visit)?;
    r.end();
    if r.outcome.reports == 0 {
        return Err(ReplayError::NoChat {
            file: file.to_owned(),
            message: chats::nothing_replayed(opts.chat.as_ref(), &r.outcome),
        });
    }
    Ok(r.outcome)
}

struct Replayer<'a> {
    config: &'a Config,
    opts: &'a ReplayOptions,
    staff: BTreeSet<UserId>,
    current: Option<ChatRun>,
    /// Basic groups that ended in `migrate_to_supergroup`, waiting for
    /// their supergroup.
    groups: Vec<ChatRun>,
    /// Supergroups made from a group not met yet.
    supergroups: Vec<ChatRun>,
    /// Titles of groups whose history a supergroup's list already held,
    /// with that supergroup.
    absorbed: Vec<(String, ExportChat)>,
    outcome: ReplayOutcome,
    on_chat: &'a mut dyn FnMut(ChatReport),
}

impl Replayer<'_> {
    fn on_event(&mut self, event: ExportEvent) {
        match event {
            ExportEvent::Chat(chat) => {
                if let Some(run) = self.current.take() {
                    self.chat_done(run);
                }
                self.start(chat);
            }
            ExportEvent::Message(msg) => {
                let Some(run) = self.current.as_mut() else {
                    return;
                };
                run.on_message(&msg, self.config, self.opts.until);
                // Just past `migrate_from_group` of a supergroup whose group
                // was met before: the group's run goes on here, exactly.
                let title = match &run.from_title {
                    Some(t)
                        if !run.self_contained && run.merged_from.is_empty() && run.is_fresh() =>
                    {
                        Some(t.clone())
                    }
                    _ => None,
                };
                if let Some(title) = title
                    && let Some(i) = self.waiting_group(Some(&title))
                {
                    let group = self.groups.remove(i);
                    let sup = self.current.take().expect("current run");
                    self.current = Some(group.continue_into(sup));
                }
            }
            ExportEvent::Unsupported(_) => {
                if let Some(run) = self.current.as_mut() {
                    run.on_unsupported();
                }
            }
        }
    }

    fn start(&mut self, chat: ExportChat) {
        if let Some(reason) = not_a_group(&chat.kind) {
            if self.opts.chat.as_ref().is_none_or(|s| s.matches(&chat)) {
                self.outcome.skipped.push(SkippedChat {
                    chat,
                    reason: reason.to_owned(),
                });
            }
            return;
        }
        self.outcome.groups.push(chat.clone());
        // Even with `--chat`, every group chat is replayed and only the
        // chosen one reported: a chat named by its group's id or name may
        // turn out to be a supergroup's first part, or the reverse, and
        // that is only known once both are read.
        self.current = Some(ChatRun::new(chat, self.config, self.opts, &self.staff));
    }

    fn waiting_group(&self, title: Option<&str>) -> Option<usize> {
        self.groups
            .iter()
            .position(|g| g.chat.name.as_deref() == title)
    }

    fn chat_done(&mut self, run: ChatRun) {
        if run.chat.kind == "private_group" && run.migrated_to {
            let name = run.chat.name.as_deref();
            if let Some(i) = self
                .supergroups
                .iter()
                .position(|s| s.from_title.as_deref() == name)
            {
                let sup = self.supergroups.remove(i);
                self.emit(sup.prepend_group(run));
            } else if let Some((_, sup)) =
                self.absorbed.iter().find(|(t, _)| Some(t.as_str()) == name)
            {
                self.outcome.skipped.push(SkippedChat {
                    reason: format!(
                        "its history is already part of supergroup {}",
                        describe(sup)
                    ),
                    chat: run.chat,
                });
            } else {
                self.groups.push(run.park());
            }
            return;
        }
        if let Some(title) = run.from_title.clone() {
            if run.self_contained {
                let mut run = run;
                if let Some(i) = self.waiting_group(Some(&title)) {
                    let copy = self.groups.remove(i);
                    run.merged_from.push(copy.chat);
                }
                self.absorbed.push((title, run.chat.clone()));
                self.emit(run);
                return;
            }
            if run.merged_from.is_empty() {
                self.supergroups.push(run.park());
                return;
            }
        }
        self.emit(run);
    }

    fn end(&mut self) {
        if let Some(run) = self.current.take() {
            self.chat_done(run);
        }
        for run in std::mem::take(&mut self.groups) {
            self.emit(run);
        }
        for run in std::mem::take(&mut self.supergroups) {
            self.emit(run);
        }
    }

    fn emit(&mut self, run: ChatRun) {
        let chosen =
            self.opts.chat.as_ref().is_none_or(|s| {
                s.matches(&run.chat) || run.merged_from.iter().any(|c| s.matches(c))
            });
        if chosen {
            self.outcome.reports += 1;
            (self.on_chat)(run.finish(self.opts.until));
        }
    }
}

impl ChatReport {
    pub fn request_count(&self) -> usize {
        self.tracked.len()
    }

    /// The requests in message order, with their outcome and the alerts
    /// that fell due while they were open, up to the end of the replay.
    pub fn requests(&self) -> impl Iterator<Item = RequestReport> + '_ {
        self.tracked.iter().map(move |t| {
            let (message_id, client_id) = (t.message_id, t.client_id);
            let received_at = DateTime::from_timestamp(t.received_at, 0).unwrap_or_default();
            let answer = t.answered();
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

    /// The figures as of the end of the replay, by the same definition as
    /// `buhbot report sla` over the daemon's store.
    pub fn summary(&self) -> Summary {
        Summary::of(self.requests().map(|r| RequestFigures {
            breached: r.breached,
            answered_minutes: r.answered_at.map(|_| r.working_minutes),
        }))
    }
}
