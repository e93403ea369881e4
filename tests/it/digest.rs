//! The weekly digest (issue 13): last week's figures queued once per
//! manager, the same numbers as `buhbot report sla` for that week, and a
//! missed Monday made up after a restart.

use std::path::Path;
use std::sync::Arc;

use buhbot::config::Config;
use buhbot::core::clock::Clock;
use buhbot::core::engine::Engine;
use buhbot::core::event::MessageEvent;
use buhbot::core::shared::Shared;
use buhbot::daemon::jobs::{JobName, JobRunner, RunOutcome, due_at_start, planned_jobs};
use buhbot::domain::schedule::parse_cron;
use buhbot::store::Store;
use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::{t, user_message};

const CHAT: i64 = -1001;
const OTHER: i64 = -1002;
const ACCOUNTANT: i64 = 1;
const CLIENT: i64 = 500;
const MANAGERS: [i64; 2] = [900, 901];

fn write_config(dir: &Path, extra: &str) -> std::path::PathBuf {
    let toml = format!(
        "[calendar]\ntimezone = \"Europe/Moscow\"\n\
         [store]\npath = \"{}\"\n\
         [backup]\nenabled = false\ndir = \"{}\"\n\
         [alerts]\nmanagers = [{}, {}]\n{extra}\n\
         [[chats]]\nid = {CHAT}\ntitle = \"ООО Ромашка\"\naccountants = [{ACCOUNTANT}]\n\
         [[chats]]\nid = {OTHER}\ntitle = \"ИП Петров\"\naccountants = [{ACCOUNTANT}]\n",
        dir.join("b.db").display(),
        dir.join("backups").display(),
        MANAGERS[0],
        MANAGERS[1],
    );
    let path = dir.join("buhbot.toml");
    std::fs::write(&path, toml).unwrap();
    path
}

/// A `Shared` whose clock stands still at `now`.
fn world(dir: &Path, now: DateTime<Utc>) -> Arc<Shared> {
    let config = Config::load(Some(&write_config(dir, ""))).unwrap();
    let (store, _) = Store::open_migrated(&dir.join("b.db")).unwrap();
    Arc::new(Shared::new(
        store,
        Clock::virtual_from(now, 0.0),
        Engine::new(Arc::new(config)),
        vec![],
        true,
    ))
}

fn say(shared: &Shared, chat: i64, id: i64, at: &str, from: i64, text: &str, reply: Option<i64>) {
    let ev = MessageEvent {
        reply_to: reply,
        ..user_message(chat, id, from, t(at), text)
    };
    crate::ingest_one(&shared.store, &shared.engine(), &ev);
}

/// Week of 30 Nov 2026 (Moscow): answered in 20 min, answered after 150
/// working minutes (breached), still open (breached by Monday); plus one
/// request the week before and one on Monday morning, outside the week.
fn fill(shared: &Shared) {
    let ask = "Пришлите, пожалуйста, акт сверки";
    // (chat, id, at, from, text, reply to)
    let messages = [
        (CHAT, 1, "2026-11-24T10:00:00+03:00", CLIENT, ask, None),
        (
            CHAT,
            2,
            "2026-11-24T10:05:00+03:00",
            ACCOUNTANT,
            "Отправила",
            Some(1),
        ),
        (CHAT, 3, "2026-12-01T10:00:00+03:00", CLIENT, ask, None),
        (
            CHAT,
            4,
            "2026-12-01T10:20:00+03:00",
            ACCOUNTANT,
            "Готово",
            Some(3),
        ),
        (OTHER, 5, "2026-12-02T10:00:00+03:00", CLIENT, ask, None),
        (
            OTHER,
            6,
            "2026-12-02T12:30:00+03:00",
            ACCOUNTANT,
            "Готово",
            Some(5),
        ),
        (OTHER, 7, "2026-12-03T11:00:00+03:00", CLIENT, ask, None),
        (CHAT, 8, "2026-12-07T08:00:00+03:00", CLIENT, ask, None),
    ];
    for (chat, id, at, from, text, reply) in messages {
        say(shared, chat, id, at, from, text, reply);
    }
}

/// (chat, dedupe key, text) of the queued digests.
fn digests(shared: &Shared) -> Vec<(i64, String, String)> {
    let conn = shared.store.conn().unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT chat_id, dedupe_key, text FROM outbound_messages
             WHERE dedupe_key LIKE 'digest:%' ORDER BY dedupe_key",
        )
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

const MONDAY_9: &str = "2026-12-07T09:00:00+03:00";

#[tokio::test]
async fn the_digest_goes_once_to_each_manager_with_last_weeks_figures() {
    let dir = tempfile::tempdir().unwrap();
    let shared = world(dir.path(), t(MONDAY_9));
    fill(&shared);
    let runner = JobRunner::new(shared.clone());
    let outcome = runner.run(JobName::Digest, "test").await;
    assert_eq!(
        outcome,
        RunOutcome::Ok("week of 2026-11-30: 2 of 2 manager(s) queued".into())
    );
    let queued = digests(&shared);
    let keys: Vec<(i64, &str)> = queued.iter().map(|(c, k, _)| (*c, k.as_str())).collect();
    assert_eq!(
        keys,
        [
            (900, "digest:2026-11-30:900"),
            (901, "digest:2026-11-30:901")
        ]
    );
    let text = &queued[0].2;
    assert_eq!(text, &queued[1].2);
    for want in [
        "Сводка SLA за неделю 30.11 – 06.12.2026",
        // Tue answered in time, Wed answered late, Thu open past its deadline.
        "3 обращения, отвечено 2, с нарушением срока 2",
        "Соблюдение срока: <b>33,3 %</b>; медиана ответа 20 мин, p95 150 мин",
        // The chat with both breaches comes first.
        "• ИП Петров: 2 обращения, соблюдение 0,0 %, нарушений 2",
        "• ООО Ромашка: 1 обращение, соблюдение 100,0 %, нарушений 0",
        "• ИП Петров, 02.12 10:00 — 150 мин",
        // Thursday's (breached) and Monday morning's (within its hour).
        "Открыто сейчас</b>: 2 обращения, из них просрочено 1",
        "• ИП Петров, с 03.12 11:00 — срок истёк",
        "• ООО Ромашка, с 07.12 08:00\n",
    ] {
        assert!(text.contains(want), "{want:?} not in:\n{text}");
    }
    let petrov = text.find("• ИП Петров: 2").unwrap();
    let romashka = text.find("• ООО Ромашка: 1").unwrap();
    assert!(petrov < romashka, "{text}");

    // A second run the same week (a retry, a catch-up) queues nothing.
    let again = runner.run(JobName::Digest, "test").await;
    assert_eq!(
        again,
        RunOutcome::Ok("week of 2026-11-30: 0 of 2 manager(s) queued".into())
    );
    assert_eq!(digests(&shared).len(), 2);
}

#[tokio::test]
async fn the_digest_and_report_sla_agree_on_the_week() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "");
    let shared = world(dir.path(), t(MONDAY_9));
    fill(&shared);
    drop(shared);
    let at = "2026-12-07T06:00:00Z";
    let out = crate::buhbot()
        .args(["report", "sla", "--config", config.to_str().unwrap()])
        .args(["--from", "2026-11-30", "--to", "2026-12-06", "--at", at])
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let total = &report["total"];
    let digest = crate::buhbot()
        .args(["report", "digest", "--config", config.to_str().unwrap()])
        .args(["--at", at])
        .output()
        .unwrap();
    assert!(
        digest.status.success(),
        "{}",
        String::from_utf8_lossy(&digest.stderr)
    );
    let text = String::from_utf8(digest.stdout).unwrap();
    let line = format!(
        "{} обращения, отвечено {}, с нарушением срока {}.\nСоблюдение срока: {} %; медиана ответа {} мин, p95 {} мин",
        total["requests"],
        total["answered"],
        total["breached"],
        total["compliance_percent"].to_string().replace('.', ","),
        total["median_minutes"],
        total["p95_minutes"],
    );
    assert!(text.contains(&line), "{line:?} not in:\n{text}");
    assert!(!text.contains("<b>"), "plain text by default: {text}");
    for chat in report["chats"].as_array().unwrap() {
        let want = format!(
            "• {}: {} ",
            chat["name"].as_str().unwrap(),
            chat["requests"]
        );
        assert!(text.contains(&want), "{want:?} not in:\n{text}");
    }
}

#[test]
fn a_missed_monday_is_made_up_once_and_the_digest_can_be_turned_off() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::load(Some(&write_config(dir.path(), ""))).unwrap();
    let plan = planned_jobs(&config)
        .into_iter()
        .find(|p| p.job == JobName::Digest)
        .expect("the digest is planned by default");
    assert_eq!(plan.expr, "0 0 9 * * Mon");
    let cron = parse_cron(&plan.expr).unwrap();
    let tz = config.calendar.timezone;
    let last = Some(t("2026-12-07T09:00:05+03:00"));
    // Down from Sunday to Tuesday: Monday's run is made up.
    assert!(due_at_start(
        JobName::Digest,
        &cron,
        tz,
        last,
        t("2026-12-15T11:00:00+03:00")
    ));
    // Restarted later the same week: nothing missed.
    assert!(!due_at_start(
        JobName::Digest,
        &cron,
        tz,
        last,
        t("2026-12-10T11:00:00+03:00")
    ));
    // A fresh install waits for its first Monday.
    assert!(!due_at_start(
        JobName::Digest,
        &cron,
        tz,
        None,
        t("2026-12-10T11:00:00+03:00")
    ));

    let off = Config::load(Some(&write_config(dir.path(), "[digest]\nenabled = false"))).unwrap();
    assert!(planned_jobs(&off).iter().all(|p| p.job != JobName::Digest));
}

#[tokio::test]
async fn a_caught_up_run_after_a_restart_sends_the_missed_week_once() {
    let dir = tempfile::tempdir().unwrap();
    let first = world(dir.path(), t(MONDAY_9));
    fill(&first);
    let runner = JobRunner::new(first.clone());
    runner.run(JobName::Digest, "test").await;
    drop(runner);
    drop(first);
    // Down over the next Monday; back on Tuesday: the week of 7 Dec.
    let later = world(dir.path(), t("2026-12-15T11:00:00+03:00"));
    let runner = JobRunner::new(later.clone());
    let outcome = runner.run(JobName::Digest, "catch-up").await;
    assert_eq!(
        outcome,
        RunOutcome::Ok("week of 2026-12-07: 2 of 2 manager(s) queued".into())
    );
    let keys: Vec<String> = digests(&later).into_iter().map(|(_, k, _)| k).collect();
    assert_eq!(
        keys,
        [
            "digest:2026-11-30:900",
            "digest:2026-11-30:901",
            "digest:2026-12-07:900",
            "digest:2026-12-07:901"
        ]
    );
    let text = digests(&later).pop().unwrap().2;
    assert!(text.contains("1 обращение, отвечено 0"), "{text}");
}

#[test]
fn bad_digest_settings_name_the_key_and_the_file() {
    let dir = tempfile::tempdir().unwrap();
    for (extra, key) in [
        ("[digest]\nschedule = \"every monday\"", "digest.schedule"),
        ("[digest]\ntop = 0", "digest.top"),
        ("[digest]\nsend = true", "digest.send"),
    ] {
        let path = write_config(dir.path(), extra);
        let err = Config::load(Some(&path)).unwrap_err().to_string();
        assert!(err.contains(key), "{key}: {err}");
        assert!(err.contains(path.to_str().unwrap()), "{err}");
    }
}

/// The survey section: a campaign that ran in the week, with its votes so
/// far and its response rate over the chats asked; one closed before the
/// week is not shown.
#[tokio::test]
async fn the_digest_shows_the_surveys_that_ran_in_the_week() {
    use buhbot::domain::survey::Timeline;
    use buhbot::store::surveys::{self, StartedBy};
    let dir = tempfile::tempdir().unwrap();
    let shared = world(dir.path(), t(MONDAY_9));
    fill(&shared);
    {
        let conn = shared.store.conn().unwrap();
        let old = Timeline::new(t("2026-11-09T10:00:00+03:00"), 1, 5, 7);
        let old_id = surveys::create_campaign(&conn, None, StartedBy::Cli, &old)
            .unwrap()
            .unwrap();
        let s = surveys::add_chat(&conn, old_id, CHAT, old.started_at.timestamp()).unwrap();
        surveys::press(&conn, s, CLIENT, 1, old.started_at.timestamp()).unwrap();
        assert!(surveys::close(&conn, old_id, t("2026-11-16T10:00:00+03:00").timestamp()).unwrap());

        let week = Timeline::new(t("2026-12-01T10:00:00+03:00"), 1, 5, 7);
        let id = surveys::create_campaign(&conn, None, StartedBy::Cli, &week)
            .unwrap()
            .unwrap();
        let at = week.started_at.timestamp();
        let a = surveys::add_chat(&conn, id, CHAT, at).unwrap();
        surveys::add_chat(&conn, id, OTHER, at).unwrap();
        surveys::press(&conn, a, CLIENT, 5, at + 60).unwrap();
        surveys::press(&conn, a, CLIENT + 1, 2, at + 120).unwrap();
        // Changed from 2 to 3: the effective vote counts.
        surveys::press(&conn, a, CLIENT + 1, 3, at + 180).unwrap();
    }
    let runner = JobRunner::new(shared.clone());
    runner.run(JobName::Digest, "test").await;
    let text = &digests(&shared)[0].2;
    assert!(
        text.contains(
            "Опросы клиентов</b>:\n• опрос №2 от 01.12.2026 (идёт): 2 голоса, \
             средняя оценка 4,00, ответили 50,0 %\n"
        ),
        "{text}"
    );
    assert!(!text.contains("опрос №1"), "{text}");
}

/// The recipients are the managers in force when the job runs: a user
/// given the role `manager` in the store (by `buhbot users`, or a pull
/// from Postgres) after the daemon started gets the digest too.
#[tokio::test]
async fn a_manager_added_in_the_store_since_the_start_gets_it_too() {
    let dir = tempfile::tempdir().unwrap();
    let shared = world(dir.path(), t(MONDAY_9));
    fill(&shared);
    let added = buhbot::store::users::UserRow {
        id: 902,
        name: "Новикова".into(),
        username: None,
        role: "manager".parse().unwrap(),
        email: None,
    };
    buhbot::store::users::add(&shared.store.conn().unwrap(), &added, "test", 0).unwrap();
    let outcome = JobRunner::new(shared.clone())
        .run(JobName::Digest, "test")
        .await;
    assert_eq!(
        outcome,
        RunOutcome::Ok("week of 2026-11-30: 3 of 3 manager(s) queued".into())
    );
    let to: Vec<i64> = digests(&shared).iter().map(|(c, _, _)| *c).collect();
    assert_eq!(to, [900, 901, 902]);
}
