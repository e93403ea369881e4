//! The SLA engine: who opens and answers requests, and when alerts fall due.

use std::collections::BTreeSet;

use buhbot::domain::calendar::{Calendar, CalendarSpec};
use buhbot::domain::classify::Classifier;
use buhbot::domain::sla::{
    AlertKind, Change, ChatContext, ChatTracker, ClientMessages, Inbound, Policy, SenderKind,
    SlaClock, alert_fires, outcome, plan_alerts, plan_alerts_from,
};
use chrono::{DateTime, Utc};

const CLIENT_A: i64 = 100;
const CLIENT_B: i64 = 200;
const ACC: i64 = 7;
const OTHER_ACC: i64 = 8;
const MANAGER: i64 = 9;
const BOT: i64 = 1;

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn ctx() -> ChatContext {
    ChatContext {
        accountants: BTreeSet::from([ACC]),
        staff: BTreeSet::from([ACC, OTHER_ACC, MANAGER]),
        bots: BTreeSet::from([BOT]),
    }
}

struct Chat {
    tracker: ChatTracker,
    clients: ClientMessages,
    ctx: ChatContext,
    classifier: Classifier,
    next_id: i64,
}

impl Chat {
    fn new() -> Chat {
        Chat {
            tracker: ChatTracker::new(),
            clients: ClientMessages::default(),
            ctx: ctx(),
            classifier: Classifier::builtin(),
            next_id: 1,
        }
    }

    fn send(
        &mut self,
        from: i64,
        at: &str,
        text: &str,
        reply_to: Option<i64>,
    ) -> (i64, Vec<Change>) {
        let id = self.next_id;
        self.next_id += 1;
        let msg = Inbound {
            id,
            date: t(at),
            sender: SenderKind::User(from),
            text,
            reply_to,
            service: false,
        };
        if self.ctx.is_client(from) {
            self.clients.insert(id, from);
        }
        let reply_sender = reply_to.and_then(|r| self.clients.sender(r));
        (
            id,
            self.tracker
                .on_message(&self.ctx, &msg, reply_sender, &self.classifier),
        )
    }

    fn open(&self) -> Vec<(i64, i64)> {
        self.tracker
            .open_requests()
            .map(|r| (r.client_id, r.message_id))
            .collect()
    }
}

fn answered(changes: &[Change]) -> Vec<i64> {
    changes
        .iter()
        .filter_map(|c| match c {
            Change::Answered { request, .. } => Some(request.client_id),
            _ => None,
        })
        .collect()
}

#[test]
fn a_burst_opens_one_request_timed_from_its_first_message() {
    let mut chat = Chat::new();
    let (first, c) = chat.send(CLIENT_A, "2025-01-13T10:00:00+03:00", "Где мой счёт?", None);
    assert!(matches!(&c[..], [Change::Opened(r)] if r.message_id == first));
    let (second, c) = chat.send(
        CLIENT_A,
        "2025-01-13T10:05:00+03:00",
        "Пришлите, пожалуйста, акт сверки",
        None,
    );
    assert_eq!(
        c,
        vec![Change::Joined {
            request: first,
            message_id: second
        }]
    );
    chat.send(CLIENT_A, "2025-01-13T10:06:00+03:00", "Спасибо!", None);
    let open: Vec<_> = chat.tracker.open_requests().collect();
    assert_eq!(open.len(), 1);
    assert_eq!(
        open[0].received_at,
        t("2025-01-13T10:00:00+03:00"),
        "later messages do not reset the clock"
    );
}

#[test]
fn gratitude_acknowledgements_and_captionless_files_open_nothing() {
    let mut chat = Chat::new();
    for text in ["Спасибо!", "ок", "принято", "👍", ""] {
        let (_, c) = chat.send(CLIENT_A, "2025-01-13T10:00:00+03:00", text, None);
        assert!(c.is_empty(), "{text:?} opened {c:?}");
    }
    let (_, c) = chat.send(
        CLIENT_A,
        "2025-01-13T10:01:00+03:00",
        "Спасибо! А когда будет акт сверки?",
        None,
    );
    assert!(
        matches!(&c[..], [Change::Opened(_)]),
        "a question with thanks is a request"
    );
}

#[test]
fn a_reply_answers_only_that_clients_request() {
    let mut chat = Chat::new();
    let (a, _) = chat.send(CLIENT_A, "2025-01-13T10:00:00+03:00", "Где мой счёт?", None);
    let (b, _) = chat.send(
        CLIENT_B,
        "2025-01-13T10:01:00+03:00",
        "Когда будет готова декларация?",
        None,
    );
    let (_, c) = chat.send(
        ACC,
        "2025-01-13T10:10:00+03:00",
        "Счёт отправила на почту",
        Some(a),
    );
    assert_eq!(answered(&c), vec![CLIENT_A]);
    assert_eq!(chat.open(), vec![(CLIENT_B, b)]);
}

#[test]
fn a_plain_accountant_message_answers_every_open_request() {
    let mut chat = Chat::new();
    chat.send(CLIENT_A, "2025-01-13T10:00:00+03:00", "Где мой счёт?", None);
    chat.send(
        CLIENT_B,
        "2025-01-13T10:01:00+03:00",
        "Когда будет готова декларация?",
        None,
    );
    let (_, c) = chat.send(
        ACC,
        "2025-01-13T10:10:00+03:00",
        "Добрый день, всё сделаем сегодня",
        None,
    );
    let mut got = answered(&c);
    got.sort();
    assert_eq!(got, vec![CLIENT_A, CLIENT_B]);
    assert!(chat.open().is_empty());
}

#[test]
fn managers_other_accountants_bots_and_service_messages_never_answer() {
    let mut chat = Chat::new();
    let (a, _) = chat.send(CLIENT_A, "2025-01-13T10:00:00+03:00", "Где мой счёт?", None);
    for who in [MANAGER, OTHER_ACC, BOT] {
        let (_, c) = chat.send(who, "2025-01-13T10:05:00+03:00", "Посмотрим", Some(a));
        assert!(c.is_empty(), "{who} changed {c:?}");
        let (_, c) = chat.send(
            who,
            "2025-01-13T10:06:00+03:00",
            "Пришлите, пожалуйста, выписку?",
            None,
        );
        assert!(c.is_empty(), "staff and bots never open requests: {c:?}");
    }
    let service = Inbound {
        id: 99,
        date: t("2025-01-13T10:07:00+03:00"),
        sender: SenderKind::User(ACC),
        text: "",
        reply_to: None,
        service: true,
    };
    assert!(
        chat.tracker
            .on_message(&chat.ctx, &service, None, &chat.classifier)
            .is_empty()
    );
    assert_eq!(chat.open(), vec![(CLIENT_A, a)]);
}

#[test]
fn a_reply_to_a_client_without_an_open_request_answers_nobody() {
    let mut chat = Chat::new();
    let (thanks, _) = chat.send(CLIENT_A, "2025-01-13T09:00:00+03:00", "Спасибо!", None);
    chat.send(CLIENT_B, "2025-01-13T10:00:00+03:00", "Где мой счёт?", None);
    let (_, c) = chat.send(
        ACC,
        "2025-01-13T10:10:00+03:00",
        "Пожалуйста!",
        Some(thanks),
    );
    assert!(c.is_empty());
    assert_eq!(chat.open().len(), 1);
}

#[test]
fn resolve_closes_a_request_without_an_answer() {
    let mut chat = Chat::new();
    let (a, _) = chat.send(CLIENT_A, "2025-01-13T10:00:00+03:00", "Где мой счёт?", None);
    assert_eq!(chat.tracker.resolve(a).map(|r| r.client_id), Some(CLIENT_A));
    assert_eq!(
        chat.tracker.resolve(a),
        None,
        "a second resolve changes nothing"
    );
    assert!(chat.open().is_empty());
}

fn moscow() -> Calendar {
    Calendar::new(CalendarSpec::default())
}

#[test]
fn alerts_follow_working_time_and_escalations_pause_overnight() {
    let plan = plan_alerts(
        &moscow(),
        &Policy::default(),
        t("2025-01-13T16:00:00+03:00"),
    );
    let got: Vec<(AlertKind, u32, DateTime<Utc>)> =
        plan.iter().map(|a| (a.kind, a.level, a.due)).collect();
    assert_eq!(
        got,
        vec![
            (AlertKind::Warning, 0, t("2025-01-13T16:48:00+03:00")),
            (AlertKind::Breach, 1, t("2025-01-13T17:00:00+03:00")),
            (AlertKind::Escalation, 2, t("2025-01-13T17:30:00+03:00")),
            (AlertKind::Escalation, 3, t("2025-01-13T18:00:00+03:00")),
            (AlertKind::Escalation, 4, t("2025-01-14T09:30:00+03:00")),
            (AlertKind::Escalation, 5, t("2025-01-14T10:00:00+03:00")),
        ]
    );
    let no_warning = Policy {
        warning_percent: 0,
        max_escalations: 1,
        ..Policy::default()
    };
    let plan = plan_alerts(&moscow(), &no_warning, t("2025-01-13T16:00:00+03:00"));
    assert_eq!(plan.len(), 1);
    assert_eq!(plan[0].kind, AlertKind::Breach);
}

#[test]
fn an_answer_at_the_deadline_is_in_time_one_second_later_is_a_breach() {
    let cal = moscow();
    let p = Policy::default();
    let r = t("2025-01-13T10:00:00+03:00");
    let deadline = t("2025-01-13T11:00:00+03:00");
    let on_time = outcome(&cal, &p, r, Some(deadline), deadline);
    assert!(!on_time.breached);
    assert_eq!(on_time.working_minutes(), 60);
    assert!(!alert_fires(deadline, Some(deadline), deadline));
    let late_at = t("2025-01-13T11:00:01+03:00");
    let late = outcome(&cal, &p, r, Some(late_at), late_at);
    assert!(late.breached);
    assert_eq!(late.breached_at, Some(deadline));
    assert_eq!(late.excess_minutes, 0);
    let open = outcome(&cal, &p, r, None, t("2025-01-13T12:30:00+03:00"));
    assert!(open.breached);
    assert_eq!((open.working_minutes(), open.excess_minutes), (150, 90));
}

/// The engine closes requests from their stored clock, `buhbot replay`
/// from their receipt: one function, so a request never re-timed gets the
/// same outcome both ways, and a re-timed one keeps the time it had used.
#[test]
fn a_re_timed_clock_keeps_the_time_used_before_its_anchor() {
    let cal = moscow();
    let p = Policy::default();
    let r = t("2025-01-13T10:00:00+03:00");
    let answer = t("2025-01-13T11:20:00+03:00");
    let start = SlaClock::start(&cal, &p, r);
    assert_eq!(start.deadline, Some(t("2025-01-13T11:00:00+03:00")));
    assert_eq!(
        start.outcome(&cal, Some(answer), answer),
        outcome(&cal, &p, r, Some(answer), answer)
    );
    // Re-timed at 10:40 with 40 minutes used and a 30-minute threshold:
    // the deadline is due at once, the answer 40 minutes later is late.
    let tight = Policy {
        threshold_minutes: 30,
        ..p
    };
    let anchor = t("2025-01-13T10:40:00+03:00");
    let plan = plan_alerts_from(&cal, &tight, anchor, 40 * 60);
    let due = plan
        .iter()
        .find(|a| a.kind == AlertKind::Breach)
        .unwrap()
        .due;
    let moved = SlaClock {
        anchor,
        used_seconds: 40 * 60,
        threshold_minutes: 30,
        deadline: Some(due),
    };
    assert_eq!(moved.used_by(&cal, t("2025-01-13T10:50:00+03:00")), 50 * 60);
    assert_eq!(
        moved.used_by(&cal, r),
        40 * 60,
        "never less than at the anchor"
    );
    let o = moved.outcome(&cal, Some(answer), answer);
    assert_eq!((o.working_minutes(), o.excess_minutes), (80, 50));
    assert_eq!((o.breached, o.breached_at), (true, Some(anchor)));
}

#[test]
fn friday_evening_request_answered_monday_morning_took_ten_minutes() {
    let o = outcome(
        &moscow(),
        &Policy::default(),
        t("2025-01-10T17:55:00+03:00"),
        Some(t("2025-01-13T09:05:00+03:00")),
        t("2025-01-13T09:05:00+03:00"),
    );
    assert_eq!(o.working_minutes(), 10);
    assert!(!o.breached);
}

#[test]
fn a_thirty_minute_chat_breaches_after_thirty_working_minutes() {
    let p = Policy {
        threshold_minutes: 30,
        ..Policy::default()
    };
    let plan = plan_alerts(&moscow(), &p, t("2025-01-10T17:45:00+03:00"));
    let breach = plan.iter().find(|a| a.kind == AlertKind::Breach).unwrap();
    assert_eq!(breach.due, t("2025-01-13T09:15:00+03:00"));
    let warning = plan.iter().find(|a| a.kind == AlertKind::Warning).unwrap();
    assert_eq!(
        warning.due,
        t("2025-01-13T09:09:00+03:00"),
        "80 % of 30 min = 24 min"
    );
}
