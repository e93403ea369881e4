//! Surveys through the real store, the callback and ingest transactions,
//! the survey loop of the daemon (across a restart) and the outbound
//! queue's sender on the recording Telegram fake; `buhbot surveys show
//! --format csv` on the binary.

use std::sync::Arc;
use std::time::{Duration, Instant};

use buhbot::bot::faq::FaqCache;
use buhbot::bot::survey::VoteButton;
use buhbot::bot::survey_steps::{self, Skipped};
use buhbot::bot::{CallbackPress, on_callback};
use buhbot::core::clock::Clock;
use buhbot::core::event::{Event, EventKind};
use buhbot::core::shared::Shared;
use buhbot::daemon::ingest::apply_batch;
use buhbot::store::surveys::{self, StartedBy};
use buhbot::store::{Store, write_tx};
use buhbot::telegram::outbound::Kind;
use chrono::{DateTime, Utc};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

pub(crate) const CHAT: i64 = -1001777000001;
pub(crate) const QUIET: i64 = -1001777000002;
pub(crate) const ACCOUNTANT: i64 = 7200001;
pub(crate) const MANAGER: i64 = 7200009;
pub(crate) const ANNA: i64 = 5200001;
pub(crate) const BORIS: i64 = 5200002;
const VERA: i64 = 5200003;

/// Also the Postgres tests' (`pg::surveys`).
pub(crate) struct Env {
    dir: tempfile::TempDir,
    config_path: std::path::PathBuf,
    pub(crate) store: Store,
    pub(crate) config: Arc<buhbot::config::Config>,
}

impl Env {
    pub(crate) fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("b.db");
        let config_path = dir.path().join("buhbot.toml");
        std::fs::write(
            &config_path,
            format!(
                "[store]\npath = \"{}\"\n\
                 [[chats]]\nid = {CHAT}\ntitle = \"ООО Ромашка\"\naccountants = [{ACCOUNTANT}]\n\
                 managers = [{MANAGER}]\n\
                 [[chats]]\nid = {QUIET}\ntitle = \"ИП Тихонов\"\naccountants = [{ACCOUNTANT}]\n\
                 managers = [{MANAGER}]\n",
                db.display()
            ),
        )
        .unwrap();
        let config = Arc::new(buhbot::config::Config::load(Some(&config_path)).unwrap());
        let (store, _) = Store::open_migrated(&db).unwrap();
        Env {
            dir,
            config_path,
            store,
            config,
        }
    }

    pub(crate) fn engine(&self) -> buhbot::core::engine::Engine {
        buhbot::core::engine::Engine::from_config_and_store(
            self.config.clone(),
            &self.store.conn().unwrap(),
        )
        .unwrap()
    }

    pub(crate) fn start(&self, chats: &[i64], now: DateTime<Utc>) -> survey_steps::Started {
        let mut c = self.store.conn().unwrap();
        let tx = write_tx(&mut c).unwrap();
        let s = survey_steps::start_campaign(&tx, &self.engine(), None, StartedBy::Cli, chats, now)
            .unwrap();
        tx.commit().unwrap();
        s
    }

    pub(crate) fn survey_of(&self, campaign: i64, chat: i64) -> i64 {
        surveys::surveys_of(&self.store.conn().unwrap(), campaign)
            .unwrap()
            .into_iter()
            .find(|s| s.chat_id == chat)
            .unwrap()
            .id
    }

    /// A press in `chat`, decided and queued in one transaction.
    pub(crate) fn press(
        &self,
        chat: i64,
        survey: i64,
        user: i64,
        rating: u8,
        now: DateTime<Utc>,
    ) -> buhbot::bot::CallbackOutcome {
        self.press_with(&self.engine(), chat, survey, user, rating, now)
    }

    /// [`Env::press`] with an engine built earlier (a running daemon's).
    pub(crate) fn press_with(
        &self,
        engine: &buhbot::core::engine::Engine,
        chat: i64,
        survey: i64,
        user: i64,
        rating: u8,
        now: DateTime<Utc>,
    ) -> buhbot::bot::CallbackOutcome {
        let press = CallbackPress {
            query_id: 1,
            chat_id: chat,
            message_id: 100,
            user_id: user,
            data: VoteButton { survey, rating }.encode().into_bytes(),
        };
        let mut c = self.store.conn().unwrap();
        let tx = write_tx(&mut c).unwrap();
        let out = on_callback(&tx, engine, &press, now).unwrap();
        out.enqueue(&tx, now.timestamp()).unwrap();
        tx.commit().unwrap();
        out
    }

    /// A chat message through the ingest transaction as on Telegram.
    pub(crate) fn message(&self, id: i64, from: i64, at: DateTime<Utc>, text: &str) -> usize {
        let ev = crate::user_message(CHAT, id, from, at, text);
        let batch = [Event {
            kind: EventKind::Message(ev),
            position: "1".into(),
        }];
        let mut conn = self.store.conn().unwrap();
        let cache = FaqCache::default();
        apply_batch(
            &mut conn,
            Arc::new(self.engine()),
            &batch,
            "telegram",
            at,
            false,
            Some(&cache),
        )
        .unwrap()
        .survey_comments
    }

    /// Queued messages whose dedupe key starts with `prefix`: (key, chat, text).
    fn queued(&self, prefix: &str) -> Vec<(String, i64, String)> {
        let conn = self.store.conn().unwrap();
        let mut stmt = conn
            .prepare(
                "SELECT dedupe_key, chat_id, text FROM outbound_messages
                 WHERE dedupe_key LIKE ?1 || '%' ORDER BY id",
            )
            .unwrap();
        stmt.query_map([prefix], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }
}

pub(crate) fn origin() -> DateTime<Utc> {
    crate::t("2026-01-12T10:00:00+03:00")
}

pub(crate) fn mins(n: i64) -> chrono::Duration {
    chrono::Duration::minutes(n)
}

#[test]
fn votes_are_changed_and_withdrawn_by_several_users_with_history() {
    let e = Env::new();
    let started = e.start(&[CHAT], origin());
    let campaign = started.campaign.unwrap();
    let survey = e.survey_of(campaign, CHAT);
    // The survey message with its five buttons.
    let posted = e.queued("survey:");
    assert_eq!(posted.len(), 1);
    assert_eq!(posted[0].1, CHAT);

    let t = origin() + mins(1);
    assert!(
        e.press(CHAT, survey, ANNA, 4, t)
            .answer
            .starts_with("Спасибо! Ваша оценка: 4")
    );
    e.press(CHAT, survey, BORIS, 5, t);
    e.press(CHAT, survey, VERA, 5, t);
    // Anna changes to 2 (a low rating: alerted), Boris withdraws by
    // pressing 5 again, Vera changes to 4 and back to 5.
    let changed = e.press(CHAT, survey, ANNA, 2, t + mins(1));
    assert!(
        changed.answer.starts_with("Оценка изменена на 2"),
        "{}",
        changed.answer
    );
    let alerted: Vec<i64> = changed.queue.iter().map(|m| m.chat_id).collect();
    assert_eq!(alerted, [ACCOUNTANT, MANAGER]);
    assert!(changed.queue.iter().all(|m| m.kind == Kind::Alert));
    assert!(
        changed.queue[0].text.contains("ООО Ромашка"),
        "{}",
        changed.queue[0].text
    );
    assert!(changed.queue[0].text.contains("Оценка: 2 из 5"));
    assert_eq!(
        e.press(CHAT, survey, BORIS, 5, t + mins(2)).answer,
        "Ваша оценка отменена."
    );
    e.press(CHAT, survey, VERA, 4, t + mins(3));
    e.press(CHAT, survey, VERA, 5, t + mins(4));
    // A first vote of 4 alerted nobody; only Anna's 2 did.
    assert_eq!(e.queued("survey-alert:").len(), 2);

    let conn = e.store.conn().unwrap();
    let r = &surveys::results_of(&conn, campaign).unwrap()[0].results;
    assert_eq!(r.votes, [0, 1, 0, 0, 1]);
    assert_eq!((r.chats, r.answered_chats), (1, 1));
    let actions = |user: i64| -> Vec<(String, Option<u8>)> {
        surveys::history_of(&conn, survey)
            .unwrap()
            .into_iter()
            .filter(|h| h.0 == user)
            .map(|h| (h.1, h.2))
            .collect()
    };
    assert_eq!(
        actions(ANNA),
        [("vote".into(), Some(4)), ("change".into(), Some(2))]
    );
    assert_eq!(
        actions(BORIS),
        [("vote".into(), Some(5)), ("withdraw".into(), None)]
    );
    assert_eq!(actions(VERA).len(), 3);
    // A button of this survey pressed in another chat is refused; after
    // the close, presses are told so and change nothing.
    let stale = e.press(QUIET, survey, ANNA, 1, t + mins(5));
    assert!(!stale.changed);
    surveys::close(&conn, campaign, (t + mins(6)).timestamp()).unwrap();
    let late = e.press(CHAT, survey, ANNA, 1, t + mins(7));
    assert_eq!(late.answer, buhbot::domain::survey_text::CLOSED_TOAST);
    assert_eq!(surveys::vote_of(&conn, survey, ANNA).unwrap().unwrap().0, 2);
    // The cooldown: the chat is not surveyed again within 24 hours.
    let again = e.start(&[CHAT], t + mins(60));
    assert_eq!(again.skipped, [(CHAT, Skipped::Cooldown)]);
    assert_eq!(again.campaign, None);
}

#[test]
fn the_next_message_within_the_window_is_the_comment() {
    let e = Env::new();
    let campaign = e.start(&[CHAT], origin()).campaign.unwrap();
    let survey = e.survey_of(campaign, CHAT);
    let t0 = origin() + mins(5);
    e.press(CHAT, survey, ANNA, 2, t0);
    e.press(CHAT, survey, BORIS, 5, t0);
    // Anna writes 10 min 1 s later: outside the window, not a comment.
    let late = t0 + mins(10) + chrono::Duration::seconds(1);
    assert_eq!(e.message(10, ANNA, late, "Бухгалтер отвечает медленно"), 0);
    // Boris writes exactly 10 minutes later: his comment.
    assert_eq!(
        e.message(11, BORIS, t0 + mins(10), "Всё отлично, спасибо"),
        1
    );
    // Only the next message: a second one is not taken.
    assert_eq!(e.message(12, BORIS, t0 + mins(10), "И ещё"), 0);
    let conn = e.store.conn().unwrap();
    assert_eq!(
        surveys::vote_of(&conn, survey, ANNA).unwrap().unwrap().2,
        None
    );
    assert_eq!(
        surveys::vote_of(&conn, survey, BORIS)
            .unwrap()
            .unwrap()
            .2
            .as_deref(),
        Some("Всё отлично, спасибо")
    );
    let confirmations = e.queued("survey-comment:");
    assert_eq!(confirmations.len(), 1);
    assert_eq!(confirmations[0].1, CHAT);
    // Anna changes her vote to 1 (the window opens again): her comment is
    // taken and the low rating alerted again, with the comment.
    let t1 = late + mins(1);
    e.press(CHAT, survey, ANNA, 1, t1);
    assert_eq!(e.message(13, ANNA, t1 + mins(3), "Долго ждём <ответов>"), 1);
    let alerts = e.queued("survey-alert:");
    // Anna's 2, her 1, and the 1 with the comment: to both recipients.
    assert_eq!(alerts.len(), 6, "{alerts:?}");
    assert!(
        alerts[5].2.contains("Долго ждём &lt;ответов&gt;"),
        "{}",
        alerts[5].2
    );
}

/// The survey loop over the real store: the reminder on day 2 goes to the
/// chat without a vote only; the daemon stops, starts again eight days
/// later, and the missed managers' notice and the close happen once.
#[tokio::test(start_paused = true)]
async fn reminder_notice_and_close_across_a_restart() {
    let e = Env::new();
    let campaign = e.start(&[CHAT, QUIET], origin()).campaign.unwrap();
    let survey = e.survey_of(campaign, CHAT);
    e.press(CHAT, survey, ANNA, 5, origin() + mins(30));

    let run = |from: DateTime<Utc>, real: Duration| {
        let shared = Arc::new(Shared::new(
            e.store.clone(),
            // An hour of the daemon's clock per second.
            Clock::virtual_from(from, 3600.0),
            e.engine(),
            Vec::new(),
            true,
        ));
        async move {
            let cancel = CancellationToken::new();
            let task = tokio::spawn(buhbot::daemon::surveys::run(
                shared,
                Arc::new(Notify::new()),
                Duration::from_secs(1),
                cancel.clone(),
            ));
            tokio::time::sleep(real).await;
            cancel.cancel();
            task.await.unwrap().unwrap();
        }
    };
    // Up to day 2, 02:00.
    run(origin(), Duration::from_secs(40)).await;
    let reminders = e.queued("survey-remind:");
    assert_eq!(reminders.len(), 1, "{reminders:?}");
    assert_eq!(reminders[0].1, QUIET);
    assert!(e.queued("survey-notice:").is_empty());
    let conn = e.store.conn().unwrap();
    assert!(
        surveys::campaign(&conn, campaign)
            .unwrap()
            .unwrap()
            .is_open()
    );

    // Down for a week: the restart makes up the notice and the close.
    run(origin() + chrono::Duration::days(8), Duration::from_secs(3)).await;
    let notices = e.queued("survey-notice:");
    assert_eq!(notices.len(), 1);
    assert_eq!(notices[0].1, MANAGER);
    assert!(notices[0].2.contains("ИП Тихонов") && !notices[0].2.contains("Ромашка"));
    let c = surveys::campaign(&conn, campaign).unwrap().unwrap();
    assert!(!c.is_open());
    // Another start does nothing again.
    run(origin() + chrono::Duration::days(9), Duration::from_secs(3)).await;
    assert_eq!(e.queued("survey-remind:").len(), 1);
    assert_eq!(e.queued("survey-notice:").len(), 1);
}

/// The scheduled campaign: the first start records the baseline (no
/// survey of the past); the quarter's occurrence starts one campaign for
/// the chats with client requests, once however often the step runs.
#[test]
fn the_scheduled_campaign_starts_once_for_active_chats() {
    let e = Env::new();
    let step = |now: DateTime<Utc>| {
        let mut c = e.store.conn().unwrap();
        let tx = write_tx(&mut c).unwrap();
        let r = survey_steps::step(&tx, &e.engine(), now).unwrap();
        tx.commit().unwrap();
        r
    };
    assert_eq!(step(crate::t("2026-03-20T10:00:00+03:00")).started, None);
    // A client request in CHAT only.
    let req = crate::user_message(
        CHAT,
        1,
        ANNA,
        crate::t("2026-03-25T11:00:00+03:00"),
        "Добрый день! Пришлите, пожалуйста, акт сверки за квартал?",
    );
    crate::ingest_one(&e.store, &e.engine(), &req);
    assert_eq!(step(crate::t("2026-04-01T09:59:00+03:00")).started, None);
    let started = step(crate::t("2026-04-01T10:00:30+03:00")).started.unwrap();
    assert_eq!(started.chats, [CHAT]);
    assert!(
        step(crate::t("2026-04-01T10:01:00+03:00"))
            .started
            .is_none()
    );
    let conn = e.store.conn().unwrap();
    let all = surveys::campaigns(&conn).unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].started_by, StartedBy::Schedule);
    assert_eq!(
        all[0].slot,
        Some(crate::t("2026-04-01T10:00:00+03:00").timestamp())
    );
}

/// From the press's commit to the alerts in the Telegram fake, on the real
/// clock: measured (reported), not asserted against a bound.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn low_rating_alert_latency_is_measured() {
    let e = Env::new();
    let campaign = e.start(&[CHAT], Utc::now()).campaign.unwrap();
    let survey = e.survey_of(campaign, CHAT);
    let api = Arc::new(buhbot::telegram::outbound::fake::RecordingApi::new());
    let config = buhbot::telegram::outbound::OutboundConfig::default();
    let wake = config.wake.clone();
    let cancel = CancellationToken::new();
    let sender = tokio::spawn(buhbot::telegram::outbound::run_outbound_with(
        config,
        e.store.clone(),
        api.clone(),
        Clock::System,
        cancel.clone(),
        None,
    ));
    // The survey message goes out first.
    while api.records().is_empty() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut samples = Vec::new();
    for (i, user) in [ANNA, BORIS, VERA].into_iter().enumerate() {
        let pressed = Instant::now();
        e.press(CHAT, survey, user, 1 + i as u8, Utc::now());
        wake.notify_one();
        let want = 1 + 2 * (i + 1);
        while api.records().len() < want {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        samples.push(pressed.elapsed());
    }
    cancel.cancel();
    sender.await.unwrap().unwrap();
    let alerts: Vec<_> = api
        .records()
        .into_iter()
        .filter(|r| r.kind == Kind::Alert)
        .collect();
    assert_eq!(alerts.len(), 6);
    assert!(
        alerts
            .iter()
            .all(|a| a.chat_id == ACCOUNTANT || a.chat_id == MANAGER)
    );
    eprintln!("low-rating alert latency (press → both alerts sent to the fake): {samples:?}");
}

#[test]
fn show_prints_the_results_as_csv() {
    let e = Env::new();
    let campaign = e.start(&[CHAT, QUIET], origin()).campaign.unwrap();
    let survey = e.survey_of(campaign, CHAT);
    for (u, r) in [(ANNA, 5), (BORIS, 4), (VERA, 2)] {
        e.press(CHAT, survey, u, r, origin() + mins(1));
    }
    let out = crate::buhbot()
        .args([
            "--config",
            e.config_path.to_str().unwrap(),
            "surveys",
            "show",
        ])
        .arg(campaign.to_string())
        .args(["--format", "csv"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let csv = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 4, "{csv}");
    assert!(lines[0].starts_with("scope,title,chats,answered_chats,response_rate,votes_1"));
    assert_eq!(
        lines[1],
        format!("{QUIET},\"ИП Тихонов\",1,0,0.000,0,0,0,0,0,0,-,0,0,0,-")
    );
    assert_eq!(
        lines[2],
        format!("{CHAT},\"ООО Ромашка\",1,1,1.000,0,1,0,1,1,3,3.67,1,1,1,0.0")
    );
    assert_eq!(lines[3], "all,\"\",2,1,0.500,0,1,0,1,1,3,3.67,1,1,1,0.0");
    let _ = &e.dir;
}
