//! Surveys and the firm's Postgres: votes reach `feedback_responses`
//! (changed, withdrawn, commented, never doubled), and the survey fields of
//! `global_settings` edited there change what the running bot does.

use buhbot::store::{outbox, surveys};
use buhbot::sync::pg::{Connector, PgPool};
use buhbot::sync::pull;
use buhbot::sync::push::Pusher;

use super::cluster::{Cluster, Options};
use super::replay_sync::migrated;
use crate::surveys::{
    ACCOUNTANT, ANNA, BORIS, CHAT, Env as SurveyEnv, MANAGER, QUIET, mins, origin,
};

const ME: &str = "daemon:test-daemon";

struct Env {
    cluster: Cluster,
    pool: PgPool,
    s: SurveyEnv,
}

impl Env {
    async fn new() -> Env {
        let cluster = Cluster::start(Options::default());
        migrated(&cluster).await;
        let s = SurveyEnv::new();
        outbox::set_enabled(&s.store.conn().unwrap(), true).unwrap();
        let mut settings = super::settings(cluster.port);
        settings.user = "buhbot_daemon".into();
        let pool = Connector::new(&settings).unwrap().pool().unwrap();
        Env { cluster, pool, s }
    }

    fn pusher(&self) -> Pusher {
        Pusher::new(
            self.pool.clone(),
            self.s.store.clone(),
            "test-daemon".into(),
            60,
        )
    }

    async fn push_all(&self) {
        let p = self.pusher();
        p.reconcile().await.unwrap();
        while p.push_once(0).await.unwrap().entries > 0 {}
    }

    async fn pull(&self) -> pull::Pulled {
        let from = pull::cursor(&self.s.store.conn().unwrap()).unwrap();
        let batch = pull::read(&self.pool, from, ME).await.unwrap();
        pull::apply(&self.s.store, &batch, &self.s.config, 1).unwrap()
    }

    fn depth(&self) -> i64 {
        outbox::stats(&self.s.store.conn().unwrap()).unwrap().depth
    }

    /// feedback_responses as (campaign, chat, voter, rating, comment).
    async fn responses(&self) -> Vec<(String, i64, i64, i32, Option<String>)> {
        self.cluster
            .admin()
            .await
            .query(
                "SELECT campaign, chat_id, telegram_user_id, rating, comment
                 FROM feedback_responses ORDER BY chat_id, telegram_user_id",
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
            .collect()
    }
}

#[tokio::test]
async fn votes_changes_withdrawals_and_comments_end_as_feedback_responses() {
    let env = Env::new().await;
    let e = &env.s;
    let campaign = e.start(&[CHAT, QUIET], origin()).campaign.unwrap();
    let survey = e.survey_of(campaign, CHAT);
    let quiet = e.survey_of(campaign, QUIET);
    let t = origin() + mins(1);
    e.press(CHAT, survey, ANNA, 4, t);
    e.press(CHAT, survey, BORIS, 5, t);
    e.press(QUIET, quiet, ANNA, 3, t);
    env.push_all().await;
    // Started by hand at 07:00 UTC: its name is its start and its id.
    let name = format!("cli:2026-01-12T07:00:00Z#{campaign}");
    let row = |chat: i64, user: i64, rating: i32, comment: Option<&str>| {
        (name.clone(), chat, user, rating, comment.map(String::from))
    };
    assert_eq!(
        env.responses().await,
        [
            row(QUIET, ANNA, 3, None),
            row(CHAT, ANNA, 4, None),
            row(CHAT, BORIS, 5, None),
        ]
    );

    // Anna changes to 2 and comments it; Boris withdraws (5 again).
    e.press(CHAT, survey, ANNA, 2, t + mins(1));
    e.press(CHAT, survey, BORIS, 5, t + mins(2));
    assert_eq!(e.message(20, ANNA, t + mins(3), "Долго отвечают"), 1);
    // Keep the queue as it is before this push: a crash after the
    // Postgres commit leaves it in SQLite.
    let c = e.store.conn().unwrap();
    c.execute_batch("CREATE TABLE kept AS SELECT * FROM outbox")
        .unwrap();
    env.push_all().await;
    let after = [
        row(QUIET, ANNA, 3, None),
        row(CHAT, ANNA, 2, Some("Долго отвечают")),
    ];
    assert_eq!(env.responses().await, after);
    let admin = env.cluster.admin().await;
    let (submitted, updated): (i64, i64) = {
        let r = admin
            .query_one(
                "SELECT extract(epoch FROM submitted_at)::bigint,
                        extract(epoch FROM updated_at)::bigint
                 FROM feedback_responses WHERE chat_id = $1 AND telegram_user_id = $2",
                &[&CHAT, &ANNA],
            )
            .await
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!(
        submitted,
        (t + mins(1)).timestamp(),
        "when the rating was given"
    );
    assert!(updated >= submitted);

    // The crashed push again: the version guard changes nothing, and the
    // withdrawn vote stays withdrawn.
    c.execute_batch("INSERT INTO outbox SELECT * FROM kept")
        .unwrap();
    let again = env.pusher().push_once(0).await.unwrap();
    assert!(again.entries > 0);
    assert!(again.rows.iter().all(|(_, n)| *n == 0), "{:?}", again.rows);
    assert_eq!(env.responses().await, after);

    // Boris votes again: a new row; a pull brings nothing back to push.
    e.press(CHAT, survey, BORIS, 4, t + mins(4));
    env.push_all().await;
    assert_eq!(env.responses().await.len(), 3);
    env.pull().await;
    assert_eq!(env.depth(), 0, "the pull pushes nothing back");

    // `buhbot sync resync` (every row queued again) doubles nothing.
    assert!(outbox::requeue_all(&c).unwrap() > 0);
    env.push_all().await;
    let all = env.responses().await;
    assert_eq!(all.len(), 3);
    assert_eq!(all[2], row(CHAT, BORIS, 4, None));
}

#[tokio::test]
async fn survey_settings_edited_in_global_settings_change_the_running_bot() {
    let env = Env::new().await;
    let e = &env.s;
    // The daemon's engine, built before the edit and not rebuilt.
    let engine = e.engine();
    let campaign = e.start(&[CHAT], origin()).campaign.unwrap();
    let survey = e.survey_of(campaign, CHAT);
    let t = origin() + mins(1);
    assert!(
        e.press_with(&engine, CHAT, survey, ANNA, 4, t)
            .queue
            .is_empty(),
        "4 is above the configured threshold (3)"
    );
    env.push_all().await;
    // The migration's column defaults alone override nothing.
    env.pull().await;
    let overrides = || buhbot::store::overrides::all(&e.store.conn().unwrap()).unwrap();
    assert!(overrides().is_empty(), "{:?}", overrides());

    let admin = env.cluster.admin().await;
    admin
        .batch_execute(
            "UPDATE global_settings SET low_rating_threshold = 4, survey_validity_days = 10,
                                        survey_reminder_day = 3, survey_cooldown_hours = 0",
        )
        .await
        .unwrap();
    env.pull().await;
    assert_eq!(overrides().len(), 4, "{:?}", overrides());
    let alerted: Vec<i64> = e
        .press_with(&engine, CHAT, survey, BORIS, 4, t + mins(1))
        .queue
        .iter()
        .map(|m| m.chat_id)
        .collect();
    assert_eq!(alerted, [ACCOUNTANT, MANAGER], "4 alerts now");
    // No cooldown: the chat is surveyed again at once, for 10 days, with
    // the reminder on day 3.
    let next = e.start(&[CHAT], t + mins(2)).campaign.unwrap();
    let row = surveys::campaign(&e.store.conn().unwrap(), next)
        .unwrap()
        .unwrap();
    let day = 24 * 3600;
    assert_eq!(row.closes_at - row.started_at, 10 * day);
    assert_eq!(row.remind_at - row.started_at, 2 * day);

    // Impossible values are refused (the configuration's stays, with a
    // warning): a threshold of 9, a reminder after the close.
    admin
        .batch_execute(
            "UPDATE global_settings SET low_rating_threshold = 9, survey_reminder_day = 11",
        )
        .await
        .unwrap();
    env.pull().await;
    let eff = engine.effective(&e.store.conn().unwrap()).unwrap();
    let s = &eff.config.surveys;
    assert_eq!(s.low_rating_threshold, 3);
    assert_eq!(s.remind_after_days, 1, "the configuration's");
    assert_eq!((s.validity_days, s.cooldown_hours), (10, 0));
    // A validity that would close a survey before the managers' notice
    // (day 5 by default) is refused as well.
    admin
        .batch_execute("UPDATE global_settings SET survey_validity_days = 4")
        .await
        .unwrap();
    env.pull().await;
    let eff = engine.effective(&e.store.conn().unwrap()).unwrap();
    assert_eq!(eff.config.surveys.validity_days, 7, "the configuration's");
    assert!(
        engine.config.surveys == e.config.surveys,
        "the file's, untouched"
    );
    // The reminder on day 10 of 10 days, then a validity of 8 refused: the
    // validity falls back to the file's 7, and the reminder (day 10) with
    // it rather than come after the close.
    let in_force = || {
        let eff = engine.effective(&e.store.conn().unwrap()).unwrap();
        let s = &eff.config.surveys;
        (s.validity_days, s.remind_after_days)
    };
    for (sql, expected) in [
        (
            "survey_validity_days = 10, survey_reminder_day = 10",
            (10, 9),
        ),
        ("survey_validity_days = 8", (7, 1)),
    ] {
        admin
            .batch_execute(&format!("UPDATE global_settings SET {sql}"))
            .await
            .unwrap();
        env.pull().await;
        assert_eq!(in_force(), expected, "{sql}");
    }
    // The overrides are the daemon's own: nothing of them goes back.
    env.push_all().await;
    assert_eq!(env.responses().await.len(), 2, "Anna's and Boris' 4");
    env.pull().await;
    assert_eq!(env.depth(), 0);
}

/// A group that became a supergroup takes its surveys along: the answers
/// upstream move to the new id, and a vote pressed in the supergroup
/// counts and lands there too.
#[tokio::test]
async fn a_chats_move_to_its_supergroup_takes_its_answers_along() {
    const NEW: i64 = -1001777000099;
    let env = Env::new().await;
    let e = &env.s;
    let campaign = e.start(&[CHAT], origin()).campaign.unwrap();
    let survey = e.survey_of(campaign, CHAT);
    let t = origin() + mins(1);
    e.press(CHAT, survey, ANNA, 4, t);
    env.push_all().await;
    {
        let mut c = e.store.conn().unwrap();
        let tx = buhbot::store::write_tx(&mut c).unwrap();
        buhbot::store::chats::ensure(&tx, NEW, "ООО Ромашка", "test", 0).unwrap();
        outbox::record_move(&tx, CHAT, NEW).unwrap();
        let moved = buhbot::store::chats::move_rows(&tx, CHAT, NEW).unwrap();
        assert_eq!(moved.survey_chats, 1);
        tx.commit().unwrap();
    }
    let voted = e.press(NEW, survey, BORIS, 5, t + mins(1));
    assert!(voted.changed, "{}", voted.answer);
    env.push_all().await;
    let chats: Vec<(i64, i64)> = env
        .responses()
        .await
        .into_iter()
        .map(|r| (r.1, r.2))
        .collect();
    assert_eq!(chats, [(NEW, ANNA), (NEW, BORIS)]);
}
