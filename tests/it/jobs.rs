//! Scheduled jobs: reconciliation of timers, retention, missed runs and the
//! cron scheduler itself.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use buhbot::config::Config;
use buhbot::core::clock::Clock;
use buhbot::core::engine::Engine;
use buhbot::core::event::MessageEvent;
use buhbot::core::shared::Shared;
use buhbot::daemon::jobs::{
    JobName, JobRunner, RepairKind, RunOutcome, due_at_start, on_schedule, planned_jobs, reconcile,
    retention_batch, run_jobs, run_retention_batched,
};
use buhbot::domain::schedule::parse_cron;
use buhbot::domain::sla::AlertKind;
use buhbot::store::{Store, requests, state, timers};
use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

const CHAT: i64 = -1001;
const ACCOUNTANT: i64 = 1;

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().into()
}

/// A store and a `Shared` over a config with one chat whose accountant is
/// user 1; `extra` follows the `[backup]` keys (so it may add some).
fn world(dir: &Path, extra: &str) -> Arc<Shared> {
    let toml = format!(
        "[calendar]\ntimezone = \"Europe/Moscow\"\n\
         [backup]\ndir = \"{}\"\n{extra}\n\
         [[chats]]\nid = {CHAT}\naccountants = [{ACCOUNTANT}]\n",
        dir.join("backups").display()
    );
    let path = dir.join("buhbot.toml");
    std::fs::write(&path, toml).unwrap();
    let config = Config::load(Some(&path)).unwrap();
    let (store, _) = Store::open_migrated(&dir.join("b.db")).unwrap();
    Arc::new(Shared::new(
        store,
        Clock::System,
        Engine::new(Arc::new(config)),
        vec![],
        true,
    ))
}

fn message(
    id: i64,
    date: DateTime<Utc>,
    from: i64,
    text: &str,
    reply_to: Option<i64>,
) -> MessageEvent {
    MessageEvent {
        reply_to,
        ..crate::user_message(CHAT, id, from, date, text)
    }
}

/// Ingests `ev` as of its own date.
fn ingest(shared: &Shared, ev: &MessageEvent) {
    crate::ingest_one(&shared.store, &shared.engine(), ev);
}

/// A client asks; returns the request's id.
fn ask(shared: &Shared, id: i64, date: DateTime<Utc>, client: i64) -> i64 {
    ingest(shared, &message(id, date, client, "Где мой счёт?", None));
    let conn = shared.store.conn().unwrap();
    requests::by_message(&conn, CHAT, id).unwrap().unwrap().id
}

fn answer(shared: &Shared, id: i64, date: DateTime<Utc>, to: i64) {
    ingest(
        shared,
        &message(id, date, ACCOUNTANT, "Отправили", Some(to)),
    );
}

fn all_timers(shared: &Shared) -> Vec<(i64, String, i64, i64)> {
    let conn = shared.store.conn().unwrap();
    let mut stmt = conn
        .prepare("SELECT request_id, kind, level, due_at FROM timers ORDER BY 1, 2, 3")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn count(shared: &Shared, sql: &str) -> i64 {
    let conn = shared.store.conn().unwrap();
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

#[test]
fn reconcile_repairs_missing_wrong_stray_and_orphan_timers() {
    let dir = tempfile::tempdir().unwrap();
    let shared = world(dir.path(), "");
    let monday = t("2025-01-13T07:00:00Z"); // 10:00 in Moscow
    let a = ask(&shared, 10, monday, 101);
    let b = ask(&shared, 11, monday, 102);
    let c = ask(&shared, 12, monday, 103);
    answer(&shared, 13, monday + chrono::Duration::minutes(5), 12);
    let engine = shared.engine();
    let now = monday + chrono::Duration::minutes(10);

    let mut conn = shared.store.conn().unwrap();
    assert_eq!(
        reconcile(&mut conn, &engine, now).unwrap(),
        vec![],
        "consistent"
    );
    let healthy = all_timers(&shared);
    assert!(healthy.iter().any(|t| t.0 == a) && healthy.iter().any(|t| t.0 == b));
    assert!(healthy.iter().all(|t| t.0 != c), "answered: no timers");

    let a_timers = timers::for_request(&conn, a).unwrap();
    timers::delete(&conn, &a_timers[0]).unwrap();
    let b_first = timers::for_request(&conn, b).unwrap()[0];
    timers::insert(
        &conn,
        &timers::TimerRow {
            due_at: b_first.due_at + 600,
            ..b_first
        },
    )
    .unwrap();
    let stray = timers::TimerRow {
        request_id: a,
        kind: AlertKind::Escalation,
        level: 99,
        due_at: 1,
    };
    timers::insert(&conn, &stray).unwrap();
    let orphan = timers::TimerRow {
        request_id: c,
        kind: AlertKind::Breach,
        level: 1,
        due_at: 2,
    };
    timers::insert(&conn, &orphan).unwrap();

    let repairs = reconcile(&mut conn, &engine, now).unwrap();
    let mut kinds: Vec<_> = repairs.iter().map(|r| (r.kind, r.request_id)).collect();
    kinds.sort_by_key(|&(k, id)| (k.as_str(), id));
    assert_eq!(
        kinds,
        vec![
            (RepairKind::MissingTimer, a),
            (RepairKind::OrphanTimer, c),
            (RepairKind::StrayTimer, a),
            (RepairKind::WrongDue, b),
        ],
        "{repairs:#?}"
    );
    assert!(repairs.iter().all(|r| !r.detail.is_empty()));
    assert_eq!(all_timers(&shared), healthy, "back to the plan");
    assert_eq!(
        reconcile(&mut conn, &engine, now).unwrap(),
        vec![],
        "nothing left"
    );
}

#[tokio::test]
async fn retention_deletes_old_closed_rows_in_batches_and_keeps_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let shared = world(dir.path(), "");
    // With a [postgres] section: the queue holds changes Postgres has not
    // got, which retention must not drop.
    buhbot::store::outbox::set_enabled(&shared.store.conn().unwrap(), true).unwrap();
    let old = t("2025-01-13T07:00:00Z");
    let engine = shared.engine();
    for i in 0..5 {
        let at = old + chrono::Duration::minutes(i);
        let id = ask(&shared, 10 + i, at, 200 + i);
        if i < 3 {
            // An alert with its delivery, to be deleted with the request.
            let conn = shared.store.conn().unwrap();
            let warning = timers::for_request(&conn, id).unwrap()[0];
            engine
                .fire(
                    &conn,
                    &warning,
                    DateTime::from_timestamp(warning.due_at, 0).unwrap(),
                )
                .unwrap();
        }
        answer(&shared, 20 + i, old + chrono::Duration::hours(3), 10 + i);
    }
    let still_open = ask(&shared, 50, old, 300);
    let recent = Utc::now() - chrono::Duration::days(1);
    let kept = ask(&shared, 100, recent, 400);
    answer(&shared, 101, recent + chrono::Duration::minutes(1), 100);
    let cutoff = (Utc::now() - chrono::Duration::days(30)).timestamp();
    let queued = count(&shared, "SELECT count(*) FROM outbox");
    assert!(queued > 0);
    assert_eq!(count(&shared, "SELECT count(*) FROM sla_alerts"), 3);
    let deliveries = count(&shared, "SELECT count(*) FROM alert_deliveries");
    assert!(deliveries >= 3, "the log sink gets every alert");

    let first = {
        let mut conn = shared.store.conn().unwrap();
        retention_batch(&mut conn, cutoff, 3).unwrap()
    };
    assert_eq!((first.messages, first.requests), (3, 3), "{first:?}");
    let rest = run_retention_batched(&shared, 30, 3).await.unwrap();
    assert!(rest.batches >= 3, "{rest:?}");
    let mut total = first;
    total += rest.deleted;
    // 5 questions and 5 answers; the open request's question stays.
    assert_eq!(total.messages, 10);
    assert_eq!(total.requests, 5);
    assert_eq!(total.alerts, 3);
    assert_eq!(total.deliveries as i64, deliveries);
    assert_eq!(total.timers, 0);

    let conn = shared.store.conn().unwrap();
    assert!(requests::get(&conn, still_open).unwrap().is_some());
    assert!(!timers::for_request(&conn, still_open).unwrap().is_empty());
    assert!(requests::get(&conn, kept).unwrap().is_some());
    assert_eq!(count(&shared, "SELECT count(*) FROM messages"), 3);
    assert_eq!(count(&shared, "SELECT count(*) FROM client_requests"), 2);
    assert_eq!(
        count(&shared, "SELECT count(*) FROM outbox"),
        queued,
        "retention leaves the sync queue alone"
    );
    let again = run_retention_batched(&shared, 30, 3).await.unwrap();
    assert_eq!((again.batches, again.deleted.total()), (1, 0));
}

#[tokio::test]
async fn retention_deletes_old_closed_client_helper_rows_and_keeps_open_and_recent_ones() {
    use buhbot::store::chat_options;
    use buhbot::store::contacts::{self, NewContact, Outcome};
    let dir = tempfile::tempdir().unwrap();
    let shared = world(dir.path(), "");
    let now = Utc::now().timestamp();
    let day = 86_400;
    let (old, recent) = (now - 40 * day, now - day);
    let conn = shared.store.conn().unwrap();
    let contact = |client: i64, at: i64, close: Option<i64>| {
        let new = NewContact {
            chat_id: CHAT,
            client_id: client,
            client_name: None,
            message_id: 7,
            level: 1,
            next_step_at: at + 600,
        };
        let opened = contacts::open(&conn, &new, at).unwrap();
        // What `open` returns is the row as stored.
        assert_eq!(
            contacts::get(&conn, opened.id).unwrap().as_ref(),
            Some(&opened)
        );
        let id = opened.id;
        if let Some(closed) = close {
            assert!(contacts::close(&conn, id, Outcome::Taken, Some(ACCOUNTANT), closed).unwrap());
        }
        id
    };
    let gone: Vec<i64> = (0..3)
        .map(|c| contact(100 + c, old, Some(old + 60)))
        .collect();
    let still_open = contact(200, old, None);
    let closed_recently = contact(201, old, Some(recent));
    // The newest row is kept even when old and closed: its id would be
    // handed out again, and old «Беру» buttons name contacts by id.
    let newest = contact(202, old, Some(old + 60));
    for u in 0..3 {
        chat_options::note_file(&conn, CHAT, 300 + u, old).unwrap();
        assert!(chat_options::note_out_of_hours(&conn, CHAT, 300 + u, old + 3600, old).unwrap());
    }
    chat_options::note_file(&conn, CHAT, 400, recent).unwrap();
    // A closure still going (ends in the future) keeps its "replied once".
    assert!(chat_options::note_out_of_hours(&conn, CHAT, 400, now + 3600, old).unwrap());
    drop(conn);

    let report = run_retention_batched(&shared, 30, 2).await.unwrap();
    let d = report.deleted;
    assert_eq!(
        (d.contacts, d.file_bursts, d.out_of_hours_replies),
        (3, 3, 3),
        "{report:?}"
    );
    assert!(report.batches >= 2, "batches of 2: {report:?}");
    let conn = shared.store.conn().unwrap();
    for id in gone {
        assert_eq!(contacts::get(&conn, id).unwrap(), None);
    }
    for id in [still_open, closed_recently, newest] {
        assert!(contacts::get(&conn, id).unwrap().is_some(), "contact {id}");
    }
    assert_eq!(
        count(
            &shared,
            "SELECT count(*) FROM file_bursts WHERE user_id = 400"
        ),
        1
    );
    assert_eq!(count(&shared, "SELECT count(*) FROM file_bursts"), 1);
    assert_eq!(
        count(&shared, "SELECT count(*) FROM out_of_hours_replies"),
        1
    );
    assert!(
        !chat_options::note_out_of_hours(&conn, CHAT, 400, now + 3600, now).unwrap(),
        "the open closure's reply is still remembered"
    );
    let again = run_retention_batched(&shared, 30, 2).await.unwrap();
    assert_eq!((again.batches, again.deleted.total()), (1, 0));
}

#[test]
fn missed_runs_are_made_up_once_and_a_first_backup_runs_at_start() {
    let moscow = chrono_tz::Europe::Moscow;
    let every5 = parse_cron("0 */5 * * * *").unwrap();
    let daily3 = parse_cron("0 0 3 * * *").unwrap();
    let last = Some(t("2025-01-13T07:00:00Z"));
    assert!(!due_at_start(
        JobName::Reconcile,
        &every5,
        moscow,
        last,
        t("2025-01-13T07:04:59Z")
    ));
    assert!(due_at_start(
        JobName::Reconcile,
        &every5,
        moscow,
        last,
        t("2025-01-13T07:05:00Z")
    ));
    // The 03:00 Moscow backup (00:00Z) ran on the 13th; down until 01:00Z.
    let backup = Some(t("2025-01-13T00:00:00Z"));
    assert!(!due_at_start(
        JobName::Backup,
        &daily3,
        moscow,
        backup,
        t("2025-01-13T23:59:59Z")
    ));
    assert!(due_at_start(
        JobName::Backup,
        &daily3,
        moscow,
        backup,
        t("2025-01-14T01:00:00Z")
    ));
    assert!(due_at_start(
        JobName::Backup,
        &daily3,
        moscow,
        backup,
        t("2025-01-20T01:00:00Z")
    ));
    // Never run: only the backup goes at once, the rest wait for schedule.
    let now = t("2025-01-14T12:00:00Z");
    assert!(due_at_start(JobName::Backup, &daily3, moscow, None, now));
    assert!(!due_at_start(
        JobName::Retention,
        &daily3,
        moscow,
        None,
        now
    ));
    assert!(!due_at_start(
        JobName::Reconcile,
        &every5,
        moscow,
        None,
        now
    ));
}

#[tokio::test]
async fn a_job_never_overlaps_itself_and_every_run_is_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let shared = world(dir.path(), "");
    let runner = JobRunner::new(shared.clone());
    let guard = runner.try_begin(JobName::Reconcile).unwrap();
    assert_eq!(
        runner.run(JobName::Reconcile, "test").await,
        RunOutcome::Skipped
    );
    assert!(
        state::job_runs(&shared.store.conn().unwrap(), "reconcile")
            .unwrap()
            .is_none()
    );
    drop(guard);
    let outcome = runner.run(JobName::Reconcile, "test").await;
    assert_eq!(outcome, RunOutcome::Ok("0 repair(s)".into()));
    let (last, ok) = state::job_runs(&shared.store.conn().unwrap(), "reconcile")
        .unwrap()
        .unwrap();
    assert_eq!(ok, Some(last));
    assert!(!runner.busy());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduler_runs_reconcile_on_schedule_and_a_first_backup_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let shared = world(
        dir.path(),
        "[daemon]\nreconcile_schedule = \"*/1 * * * * *\"\n",
    );
    let cancel = CancellationToken::new();
    let task = tokio::spawn(run_jobs(shared.clone(), cancel.clone()));
    let runs = |job: &'static str| state::job_runs(&shared.store.conn().unwrap(), job).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    while (runs("reconcile").is_none() || runs("backup").is_none())
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    cancel.cancel();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("stops on cancel")
        .unwrap()
        .unwrap();
    let (_, ok) = runs("reconcile").expect("reconcile ran within 3 s");
    assert!(ok.is_some());
    let (_, ok) = runs("backup").expect("the never-run backup ran at start");
    assert!(ok.is_some(), "backup failed");
    let archives = std::fs::read_dir(dir.path().join("backups"))
        .unwrap()
        .count();
    assert!(archives >= 1);
}

#[test]
fn a_tick_at_a_stale_utc_offset_is_not_an_occurrence() {
    let berlin = chrono_tz::Europe::Berlin;
    let daily3 = parse_cron("0 0 3 * * *").unwrap();
    // 03:00 CET is 02:00Z; the scheduler polls, so a tick comes late.
    assert!(on_schedule(&daily3, berlin, t("2025-01-13T02:00:00.400Z")));
    assert!(on_schedule(&daily3, berlin, t("2025-01-13T02:00:59Z")));
    assert!(!on_schedule(&daily3, berlin, t("2025-01-13T02:05:00Z")));
    // Autumn: a job created in summer (UTC+2) ticks at 01:00Z, which is
    // 02:00 CET after the change on 2025-10-26: not 03:00, dropped.
    assert!(!on_schedule(&daily3, berlin, t("2025-10-27T01:00:00Z")));
    assert!(on_schedule(&daily3, berlin, t("2025-10-27T02:00:00Z")));
    // Every second: always on schedule.
    let every = parse_cron("*/1 * * * * *").unwrap();
    assert!(on_schedule(&every, berlin, t("2025-10-27T01:00:00.7Z")));
}

#[tokio::test]
async fn catch_up_runs_what_was_missed_while_down_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let shared = world(dir.path(), "enabled = false");
    let plans = planned_jobs(&shared.engine().config);
    assert_eq!(
        plans.iter().map(|p| p.job).collect::<Vec<_>>(),
        vec![JobName::Reconcile, JobName::Retention, JobName::Digest],
        "a disabled backup is not scheduled"
    );
    let hour_ago = (Utc::now() - chrono::Duration::hours(1)).timestamp();
    state::record_job_run(
        &shared.store.conn().unwrap(),
        "reconcile",
        hour_ago,
        true,
        "",
    )
    .unwrap();
    let runner = JobRunner::new(shared.clone());
    let moscow = chrono_tz::Europe::Moscow;
    let cancel = CancellationToken::new();
    let ran = runner.catch_up(&plans, moscow, &cancel).await.unwrap();
    assert_eq!(
        ran,
        vec![JobName::Reconcile],
        "retention and the digest never ran: they wait"
    );
    let ran = runner.catch_up(&plans, moscow, &cancel).await.unwrap();
    assert_eq!(ran, vec![], "made up once");
    cancel.cancel();
    state::record_job_run(
        &shared.store.conn().unwrap(),
        "reconcile",
        hour_ago,
        true,
        "",
    )
    .unwrap();
    let ran = runner.catch_up(&plans, moscow, &cancel).await.unwrap();
    assert_eq!(ran, vec![], "nothing starts once stopping");
}
