//! The Telegram source end to end without a network: grammers clients whose
//! update streams we feed (see `telegram.rs`), the real reconnect loop, the
//! bridge, the ingest loop and the store.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use buhbot::bot::RateLimit;
use buhbot::config::Config;
use buhbot::core::clock::Clock;
use buhbot::core::engine::Engine;
use buhbot::core::event::Event;
use buhbot::core::shared::Shared;
use buhbot::daemon::ingest;
use buhbot::daemon::notify::HeartbeatRegistry;
use buhbot::daemon::telegram::{Bridge, CatchUp, SOURCE};
use buhbot::store::{Store, chats, settings};
use buhbot::telegram::client::{
    Connection, Connector, Handled, Inbound, LoopSettings, TelegramError, run, to_inbound,
};
use buhbot::telegram::inbound::InboundEvent;
use buhbot::telegram::link::{Link, Me};
use buhbot::telegram::outbound::BoxFuture;
use buhbot::telegram::outbound::fake::RecordingApi;
use buhbot::telegram::session::StoreSession;
use chrono::Utc;
use grammers_client::session::Session;
use grammers_client::session::updates::UpdatesLike;
use grammers_client::tl;
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;

use super::telegram::{BOT, CLIENT, GROUP, Offline, memory, short_chat, short_private};

const ACCOUNTANT: i64 = 7_000_001;
const MANAGER: i64 = 7_000_009;
const CHAT: i64 = -GROUP;

fn me() -> Me {
    Me {
        id: BOT,
        username: Some("buh_bot".into()),
        name: "Бухбот".into(),
        privacy_mode: false,
    }
}

/// Connections handed out in order: `Err` for a failed attempt, `Ok` with
/// the feeding end kept by the test.
struct Script {
    attempts: AtomicUsize,
    plan: Mutex<Vec<Option<Offline>>>,
}

impl Connector for Script {
    fn connect(&self) -> BoxFuture<'_, Result<Connection, TelegramError>> {
        Box::pin(async move {
            self.attempts.fetch_add(1, Ordering::SeqCst);
            let next = {
                let mut plan = self.plan.lock().unwrap();
                if plan.is_empty() {
                    None
                } else {
                    plan.remove(0)
                }
            };
            match next {
                Some(o) => Ok(Connection {
                    client: o.client,
                    updates: o.stream,
                    me: me(),
                    runner: tokio::spawn(std::future::pending()),
                }),
                None => Err(TelegramError::Updates("connection refused (test)".into())),
            }
        })
    }
}

fn fast() -> LoopSettings {
    LoopSettings {
        // Long enough for the test to see the outage between attempts.
        backoff_base: Duration::from_millis(150),
        backoff_cap: Duration::from_millis(300),
        sync_every: Duration::from_millis(50),
        rebuild_after: 2,
    }
}

async fn recv(rx: &mut mpsc::Receiver<Inbound>) -> Inbound {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("an update within 10 s")
        .expect("the loop is running")
}

async fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    for _ in 0..500 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for {what}");
}

/// Two failed attempts, a connection that drops, a reconnection: the link
/// follows every step (READY and STATUS are driven by it) and updates flow
/// on both connections.
#[tokio::test]
async fn the_loop_reconnects_and_reports_its_state() {
    let mut first = memory().await;
    let mut second = memory().await;
    // Keep the feeding ends; hand grammers' halves to the connector.
    let (tx1, tx2) = (first.tx.clone(), second.tx.clone());
    let (c1, c2) = (
        Offline {
            client: first.client.clone(),
            tx: first.tx.clone(),
            stream: std::mem::replace(&mut first.stream, memory().await.stream),
        },
        Offline {
            client: second.client.clone(),
            tx: second.tx.clone(),
            stream: std::mem::replace(&mut second.stream, memory().await.stream),
        },
    );
    drop((first, second));
    let script = Arc::new(Script {
        attempts: AtomicUsize::new(0),
        plan: Mutex::new(vec![None, None, Some(c1), None, Some(c2)]),
    });
    let link = Arc::new(Link::new());
    let (events, mut rx) = mpsc::channel(16);
    let cancel = CancellationToken::new();
    let task = tokio::spawn(run(
        script.clone(),
        link.clone(),
        events,
        Arc::default(),
        fast(),
        cancel.clone(),
    ));

    wait_for("the first connection", || link.state().connected).await;
    assert_eq!(script.attempts.load(Ordering::SeqCst), 3);
    assert_eq!(link.state().me, Some(me()));
    assert_eq!(link.status(), "");
    tx1.send(UpdatesLike::Updates(
        short_chat(1, CLIENT, "Где мой счёт?", 1).into(),
    ))
    .await
    .unwrap();
    let got = recv(&mut rx).await;
    match &got.event {
        InboundEvent::Message(m) => {
            assert_eq!((m.chat_id, m.text.as_str()), (CHAT, "Где мой счёт?"))
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(got.date.timestamp(), i64::from(super::telegram::DATE));

    // The network goes: grammers' stream fails, the loop reconnects.
    drop(tx1);
    wait_for("the outage to show", || !link.state().connected).await;
    assert!(link.status().starts_with("Telegram DISCONNECTED since "));
    wait_for("the reconnection", || link.state().connected).await;
    assert_eq!(script.attempts.load(Ordering::SeqCst), 5);
    tx2.send(UpdatesLike::Updates(
        short_chat(2, ACCOUNTANT, "Отправили", 2).into(),
    ))
    .await
    .unwrap();
    assert!(matches!(recv(&mut rx).await.event, InboundEvent::Message(m) if m.message_id == 2));

    cancel.cancel();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("the loop stops on cancel")
        .unwrap();
}

/// The update state reaches the store only once everything forwarded was
/// handled: saved earlier, a crash would lose what was still queued.
#[tokio::test]
async fn the_update_state_is_saved_only_behind_the_pipeline() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = Store::open_migrated(&dir.path().join("b.db")).unwrap();
    let session = Arc::new(StoreSession::open(store.clone()).await.unwrap());
    let o = super::telegram::offline(session).await;
    let feed = o.tx.clone();
    let script = Arc::new(Script {
        attempts: AtomicUsize::new(0),
        plan: Mutex::new(vec![Some(o)]),
    });
    let handled: Handled = Arc::default();
    let (events, mut rx) = mpsc::channel(16);
    let cancel = CancellationToken::new();
    let task = tokio::spawn(run(
        script,
        Arc::new(Link::new()),
        events,
        handled.clone(),
        fast(),
        cancel.clone(),
    ));
    let stored_pts = || async {
        let s = StoreSession::open(store.clone()).await.unwrap();
        s.updates_state().await.unwrap().pts
    };
    let before = stored_pts().await;
    // The pipeline does not get to them: nothing is saved.
    for (id, pts) in [(1, 1), (2, 2)] {
        tokio::time::sleep(Duration::from_millis(80)).await; // past sync_every
        feed.send(UpdatesLike::Updates(
            short_chat(id, CLIENT, "Вопрос", pts).into(),
        ))
        .await
        .unwrap();
        recv(&mut rx).await;
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(stored_pts().await, before, "saved ahead of the pipeline");
    // The pipeline commits both, then the next one as it arrives: saved.
    handled.fetch_add(2, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(80)).await;
    feed.send(UpdatesLike::Updates(
        short_chat(3, CLIENT, "Ещё вопрос", 3).into(),
    ))
    .await
    .unwrap();
    recv(&mut rx).await;
    handled.fetch_add(1, Ordering::SeqCst);
    let mut saved = before;
    for _ in 0..100 {
        saved = stored_pts().await;
        if saved == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(saved, 3);
    cancel.cancel();
    task.await.unwrap();
}

/// At shutdown the stream is not cut off: what Telegram already sent is
/// drained through the pipeline, and the update state is saved once the
/// pipeline committed it all — and not saved when it did not.
#[tokio::test]
async fn at_shutdown_the_stream_is_drained_and_the_state_saved() {
    for keeps_up in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = Store::open_migrated(&dir.path().join("b.db")).unwrap();
        let session = Arc::new(StoreSession::open(store.clone()).await.unwrap());
        let o = super::telegram::offline(session).await;
        let feed = o.tx.clone();
        let script = Arc::new(Script {
            attempts: AtomicUsize::new(0),
            plan: Mutex::new(vec![Some(o)]),
        });
        let handled: Handled = Arc::default();
        let (events, mut rx) = mpsc::channel(16);
        let cancel = CancellationToken::new();
        let settings = LoopSettings {
            sync_every: Duration::from_secs(3600), // no periodic save here
            ..fast()
        };
        let task = tokio::spawn(run(
            script,
            Arc::new(Link::new()),
            events,
            handled.clone(),
            settings,
            cancel.clone(),
        ));
        let before = StoreSession::open(store.clone())
            .await
            .unwrap()
            .updates_state()
            .await
            .unwrap()
            .pts;
        for (id, pts) in [(1, 1), (2, 2), (3, 3)] {
            let text = "Добрый день, где акт?";
            feed.send(UpdatesLike::Updates(
                short_chat(id, CLIENT, text, pts).into(),
            ))
            .await
            .unwrap();
        }
        // Stop while the updates may still be in flight; the pipeline
        // (this test) goes on receiving what the drain forwards.
        tokio::time::sleep(Duration::from_millis(20)).await;
        cancel.cancel();
        drop(feed);
        let mut got = 0;
        while let Ok(Some(_)) = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await {
            got += 1;
            if keeps_up {
                handled.fetch_add(1, Ordering::SeqCst);
            }
        }
        assert_eq!(got, 3, "every update sent before the stop is forwarded");
        tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .expect("the loop stops")
            .unwrap();
        let after = StoreSession::open(store.clone())
            .await
            .unwrap()
            .updates_state()
            .await
            .unwrap()
            .pts;
        if keeps_up {
            assert_eq!(after, 3, "saved at shutdown");
        } else {
            assert_eq!(after, before, "saved ahead of the pipeline");
        }
    }
}

/// The pipeline behind the bridge: a store with one registered group, the
/// real ingest loop, a recording transport.
struct Pipeline {
    _dir: tempfile::TempDir,
    store: Store,
    api: Arc<RecordingApi>,
    inbound: mpsc::Sender<Inbound>,
    cancel: CancellationToken,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Pipeline {
    async fn start(dir: tempfile::TempDir, per_minute: u32) -> Pipeline {
        Pipeline::start_as(dir, per_minute, me()).await
    }

    async fn start_as(dir: tempfile::TempDir, per_minute: u32, me: Me) -> Pipeline {
        Pipeline::start_full(dir, per_minute, me, Clock::System, false).await
    }

    /// With `clock` for the pipeline and, when `scheduler`, the daemon's
    /// timer loop too.
    async fn start_full(
        dir: tempfile::TempDir,
        per_minute: u32,
        me: Me,
        clock: Clock,
        scheduler: bool,
    ) -> Pipeline {
        let path = dir.path().join("buhbot.toml");
        std::fs::write(
            &path,
            format!(
                "[[chats]]\nid = {CHAT}\ntitle = \"ИП Сидоров\"\naccountants = [{ACCOUNTANT}]\n\
                 managers = [{MANAGER}]\n[alerts]\ntelegram = false\n\
                 [menu]\ncontact_escalate_minutes = 1\n"
            ),
        )
        .unwrap();
        let config = Arc::new(Config::load(Some(&path)).unwrap());
        let (store, _) = Store::open_migrated(&dir.path().join("b.db")).unwrap();
        let engine = store
            .run(move |c| Engine::from_config_and_store(config, c))
            .await
            .unwrap();
        let shared = Arc::new(Shared::new(store.clone(), clock, engine, vec![], true));
        let link = Arc::new(Link::new());
        link.connected(None, me, Utc::now());
        let beats = HeartbeatRegistry::new();
        let cancel = CancellationToken::new();
        let (ingest_tx, ingest_rx) = mpsc::channel::<Event>(64);
        let (inbound, inbound_rx) = mpsc::channel(64);
        let api = Arc::new(RecordingApi::new());
        let bridge = Bridge {
            shared: shared.clone(),
            link,
            api: api.clone(),
            limit: Arc::new(RateLimit::new(NonZeroU32::new(per_minute).unwrap())),
            wake: Arc::new(Notify::new()),
        };
        let catch_up = CatchUp::hold(&shared, 0);
        let mut tasks = vec![
            tokio::spawn({
                let (s, hb, c) = (shared.clone(), beats.register("ingest"), cancel.clone());
                // FAQ answers on, as on a live Telegram source.
                let faq = Some(ingest::FaqAnswers::new(Arc::new(Notify::new())));
                async move {
                    ingest::run(s, ingest_rx, SOURCE, faq, hb, c).await.unwrap();
                }
            }),
            tokio::spawn({
                let (hb, c) = (beats.register("bridge"), cancel.clone());
                async move {
                    bridge
                        .run(inbound_rx, ingest_tx, catch_up, hb, c)
                        .await
                        .unwrap();
                }
            }),
        ];
        if scheduler {
            let (s, hb, c) = (shared.clone(), beats.register("scheduler"), cancel.clone());
            tasks.push(tokio::spawn(async move {
                buhbot::daemon::scheduler::run(s, hb, c).await.unwrap();
            }));
        }
        Pipeline {
            _dir: dir,
            store,
            api,
            inbound,
            cancel,
            tasks,
        }
    }

    /// Feeds raw updates through a fresh offline grammers client (a fresh
    /// one models a restart whose update state was not synced).
    async fn feed(&self, list: Vec<tl::enums::Updates>) {
        let mut t = memory().await;
        for u in list {
            let update = t.feed(u).await;
            if let Some(i) = to_inbound(&update, BOT, Utc::now()) {
                self.inbound.send(i).await.unwrap();
            }
        }
    }

    fn count(&self, sql: &str) -> i64 {
        self.store
            .conn()
            .unwrap()
            .query_row(sql, [], |r| r.get(0))
            .unwrap()
    }

    async fn settle(&self, sql: &str, want: i64) {
        wait_for(sql, || self.count(sql) == want).await;
        // And nothing more arrives.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(self.count(sql), want, "{sql}");
    }

    async fn stop(self) -> tempfile::TempDir {
        self.cancel.cancel();
        for t in self.tasks {
            t.await.unwrap();
        }
        self._dir
    }
}

const MESSAGES: &str = "SELECT count(*) FROM messages";
const REPLIES: &str = "SELECT count(*) FROM outbound_messages WHERE kind = 'reply'";

/// A client's request opens a request; a manager's `/sla 30` changes the
/// chat and is answered in the group as a reply to the command; the same
/// updates delivered again after a restart change nothing and are not
/// answered again (a re-run `/sla 30` would undo the later `/sla 45`).
#[tokio::test]
async fn messages_and_commands_flow_once_across_a_redelivery() {
    let p = Pipeline::start(tempfile::tempdir().unwrap(), 10).await;
    let updates = || -> Vec<tl::enums::Updates> {
        vec![
            short_chat(
                10,
                CLIENT,
                "Добрый день! Пришлите, пожалуйста, акт сверки",
                1,
            )
            .into(),
            short_chat(11, MANAGER, "/sla 30", 2).into(),
            short_chat(12, CLIENT, "/sla off", 3).into(),
        ]
    };
    p.feed(updates()).await;
    p.settle(MESSAGES, 3).await;
    p.settle(REPLIES, 2).await;
    assert_eq!(
        p.count("SELECT count(*) FROM client_requests WHERE status = 'open'"),
        1
    );
    let (to, reply_to, text): (i64, i64, String) = p
        .store
        .conn()
        .unwrap()
        .query_row(
            "SELECT chat_id, reply_to, text FROM outbound_messages WHERE dedupe_key = ?1",
            [format!("reply:{CHAT}:11")],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!((to, reply_to), (CHAT, 11));
    assert!(text.contains("30"), "{text}");
    let row = chats::get(&p.store.conn().unwrap(), CHAT).unwrap().unwrap();
    assert_eq!(row.threshold_minutes, Some(30));
    assert!(row.sla_enabled, "a client cannot turn SLA off");
    // A later change, which a re-run of the old command would undo.
    p.feed(vec![short_chat(13, MANAGER, "/sla 45", 4).into()])
        .await;
    p.settle(REPLIES, 3).await;

    // A restart: the same updates again, on a new pipeline over the store.
    let dir = p.stop().await;
    let revision = |s: &Store| settings::revision(&s.conn().unwrap()).unwrap();
    let before = revision(&Store::open(&dir.path().join("b.db")).unwrap());
    let p = Pipeline::start(dir, 10).await;
    p.feed(updates()).await;
    p.settle(MESSAGES, 4).await;
    p.settle(REPLIES, 3).await;
    assert_eq!(p.count("SELECT count(*) FROM client_requests"), 1);
    let row = chats::get(&p.store.conn().unwrap(), CHAT).unwrap().unwrap();
    assert_eq!(row.threshold_minutes, Some(45), "the old /sla 30 ran again");
    assert_eq!(revision(&p.store), before, "the command ran again");
    p.stop().await;
}

/// Past the limit a client gets one notice per window and no command is
/// executed; every message is still logged. Staff are exempt.
#[tokio::test]
async fn the_rate_limit_answers_once_and_still_logs() {
    let p = Pipeline::start(tempfile::tempdir().unwrap(), 3).await;
    let mut list: Vec<tl::enums::Updates> = Vec::new();
    for i in 0..6 {
        list.push(short_private(20 + i, CLIENT, "/help", 1 + i).into());
    }
    p.feed(list).await;
    p.settle(MESSAGES, 6).await;
    // Three answers and one notice.
    p.settle(REPLIES, 4).await;
    let notices = p.count(&format!(
        "SELECT count(*) FROM outbound_messages WHERE chat_id = {CLIENT} AND text LIKE '%не так часто%'"
    ));
    assert_eq!(notices, 1, "one notice per window");

    let mut list: Vec<tl::enums::Updates> = Vec::new();
    for i in 0..6 {
        list.push(short_private(40 + i, ACCOUNTANT, "/mychats", 1 + i).into());
    }
    p.feed(list).await;
    p.settle(MESSAGES, 12).await;
    p.settle(REPLIES, 10).await;
    p.stop().await;
}

/// `/diagnose` says whether the bot sees every message: yes with privacy
/// mode off; a warning with the fix when it is on and the bot is not an
/// administrator of the group.
#[tokio::test]
async fn diagnose_reports_what_the_bot_can_read() {
    for privacy_mode in [false, true] {
        let me = Me {
            privacy_mode,
            ..me()
        };
        let p = Pipeline::start_as(tempfile::tempdir().unwrap(), 10, me).await;
        p.feed(vec![short_chat(50, MANAGER, "/diagnose", 1).into()])
            .await;
        p.settle(REPLIES, 1).await;
        let text: String = p
            .store
            .conn()
            .unwrap()
            .query_row("SELECT text FROM outbound_messages", [], |r| r.get(0))
            .unwrap();
        assert!(text.contains("Чат зарегистрирован"), "{text}");
        if privacy_mode {
            assert!(text.contains("/setprivacy"), "{text}");
        } else {
            assert!(text.contains("Бот видит все сообщения чата: да"), "{text}");
        }
        p.stop().await;
    }
}

/// Telegram's clock may run ahead of ours: a live event dated in the
/// future is ingested at once (a replay would wait for its clock).
#[tokio::test]
async fn a_live_event_from_the_future_is_not_held_back() {
    let p = Pipeline::start(tempfile::tempdir().unwrap(), 10).await;
    let future = Utc::now() + chrono::Duration::minutes(10);
    let m = crate::user_message(CHAT, 5, CLIENT, future, "Когда будет готов отчёт?");
    p.inbound
        .send(Inbound {
            event: InboundEvent::Message(m),
            date: future,
            mentions: Vec::new(),
            bot_is_admin: None,
        })
        .await
        .unwrap();
    p.settle(MESSAGES, 1).await;
    p.stop().await;
}

fn press(query_id: i64, user: i64, data: &str) -> tl::enums::Updates {
    press_in(super::telegram::peer_user(user), query_id, user, data)
}

/// A press on a message in the chat `peer`.
fn press_in(peer: tl::enums::Peer, query_id: i64, user: i64, data: &str) -> tl::enums::Updates {
    tl::types::UpdateShort {
        update: tl::types::UpdateBotCallbackQuery {
            query_id,
            user_id: user,
            peer,
            msg_id: 77,
            chat_instance: 4,
            data: Some(data.as_bytes().to_vec()),
            game_short_name: None,
        }
        .into(),
        date: super::telegram::DATE,
    }
    .into()
}

/// Button presses reach the callback logic and are answered: a client's
/// press is refused and changes nothing; the accountant's resolves the
/// request; a second press says so.
#[tokio::test]
async fn button_presses_are_decided_and_answered() {
    let p = Pipeline::start(tempfile::tempdir().unwrap(), 10).await;
    p.feed(vec![
        short_chat(10, CLIENT, "Подскажите, когда будет готова декларация?", 1).into(),
    ])
    .await;
    p.settle(
        "SELECT count(*) FROM client_requests WHERE status = 'open'",
        1,
    )
    .await;
    let id = p.count("SELECT id FROM client_requests");
    let data = format!("r:{id}");
    p.feed(vec![press(1, CLIENT, &data)]).await;
    wait_for("the client's answer", || p.api.answers().len() == 1).await;
    let refused = &p.api.answers()[0];
    assert_eq!(refused.query_id, 1);
    assert!(refused.alert, "a refusal is a dialog");
    assert_eq!(
        p.count("SELECT count(*) FROM client_requests WHERE status = 'open'"),
        1
    );

    p.feed(vec![
        press(2, ACCOUNTANT, &data),
        press(3, ACCOUNTANT, &data),
    ])
    .await;
    wait_for("both answers", || p.api.answers().len() == 3).await;
    let answers = p.api.answers();
    assert_eq!(answers[1].text, buhbot::bot::callback::RESOLVED);
    assert_ne!(answers[2].text, answers[1].text, "{answers:?}");
    assert_eq!(
        p.count("SELECT count(*) FROM client_requests WHERE status = 'open'"),
        0
    );
    assert_eq!(p.count("SELECT count(*) FROM timers"), 0);
    p.stop().await;
}

/// Timers wait while Telegram delivers what was missed: held from the
/// start until the stream has been quiet for a few seconds after the
/// connection, or at most a minute when Telegram stays unreachable.
#[tokio::test(start_paused = true)]
async fn timers_are_held_until_the_catch_up_settles() {
    for connects in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = Store::open_migrated(&dir.path().join("b.db")).unwrap();
        let config = Arc::new(Config::load(None::<&std::path::Path>).unwrap());
        let engine = Engine::from_config_and_store(config, &store.conn().unwrap()).unwrap();
        let shared = Arc::new(Shared::new(store, Clock::System, engine, vec![], false));
        let start = 1_764_000_000;
        let link = Arc::new(Link::new());
        let bridge = Bridge {
            shared: shared.clone(),
            link: link.clone(),
            api: Arc::new(RecordingApi::new()),
            limit: Arc::new(RateLimit::default()),
            wake: Arc::new(Notify::new()),
        };
        let (_inbound, rx) = mpsc::channel(1);
        let (ingest, _ingest_rx) = mpsc::channel(1);
        let cancel = CancellationToken::new();
        let catch_up = CatchUp::hold(&shared, start);
        let beat = HeartbeatRegistry::new().register("bridge");
        let task = tokio::spawn(bridge.run(rx, ingest, catch_up, beat, cancel.clone()));
        tokio::time::sleep(Duration::from_secs(30)).await;
        assert_eq!(shared.watermark(), start, "held while not connected");
        if connects {
            link.connected(None, me(), Utc::now());
            tokio::time::sleep(Duration::from_secs(2)).await;
            assert_eq!(shared.watermark(), start, "held while catching up");
            tokio::time::sleep(Duration::from_secs(5)).await;
            assert_eq!(shared.watermark(), i64::MAX, "released once quiet");
        } else {
            tokio::time::sleep(Duration::from_secs(25)).await;
            assert_eq!(shared.watermark(), start);
            tokio::time::sleep(Duration::from_secs(10)).await;
            assert_eq!(shared.watermark(), i64::MAX, "released after the cap");
        }
        cancel.cancel();
        task.await.unwrap().unwrap();
    }
}

const FAQ_REPLIES: &str = "SELECT count(*) FROM outbound_messages WHERE dedupe_key LIKE 'faq:%'";

/// A client's question that matches an FAQ entry is answered in the group
/// as a reply to it, the accountant's message with the same words is not,
/// and the same updates delivered again after a restart are not answered
/// again (nor counted twice).
#[tokio::test]
async fn faq_answers_flow_once_across_a_redelivery() {
    let p = Pipeline::start(tempfile::tempdir().unwrap(), 10).await;
    buhbot::store::faq::add(
        &p.store.conn().unwrap(),
        "Как получить акт сверки?",
        "Акт сверки готовим за 2 рабочих дня.",
        &["акт сверки".to_string()],
        0,
    )
    .unwrap();
    let updates = || -> Vec<tl::enums::Updates> {
        vec![
            short_chat(
                20,
                CLIENT,
                "Добрый день! Пришлите, пожалуйста, акт сверки",
                1,
            )
            .into(),
            short_chat(21, ACCOUNTANT, "Акт сверки пришлю завтра", 2).into(),
        ]
    };
    p.feed(updates()).await;
    p.settle(MESSAGES, 2).await;
    p.settle(FAQ_REPLIES, 1).await;
    let (to, reply_to, text): (i64, i64, String) = p
        .store
        .conn()
        .unwrap()
        .query_row(
            "SELECT chat_id, reply_to, text FROM outbound_messages WHERE dedupe_key LIKE 'faq:%'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!((to, reply_to), (CHAT, 20));
    assert!(text.contains("2 рабочих дня"), "{text}");
    // The request was answered by the accountant, not by the FAQ.
    assert_eq!(
        p.count("SELECT count(*) FROM client_requests WHERE answered_by = 7000001"),
        1
    );

    let dir = p.stop().await;
    let p = Pipeline::start(dir, 10).await;
    p.feed(updates()).await;
    p.settle(MESSAGES, 2).await;
    p.settle(FAQ_REPLIES, 1).await;
    assert_eq!(p.count("SELECT usage_count FROM faq_items"), 1);
    p.stop().await;
}

/// The client menu end to end: `/menu` in the group is answered with the
/// buttons; the client's press of «Связаться с бухгалтером» in the group is
/// answered, the accountant told; the daemon's timer loop (on a clock 600
/// times faster, `[menu] contact_escalate_minutes = 1`) tells the chat's
/// manager after the wait, skips the empty third level and closes the
/// contact after the last wait.
#[tokio::test]
async fn the_menu_contact_escalates_through_the_timer_loop() {
    let clock = Clock::virtual_from(Utc::now(), 600.0);
    let p = Pipeline::start_full(tempfile::tempdir().unwrap(), 10, me(), clock, true).await;
    p.feed(vec![short_chat(10, CLIENT, "/menu@buh_bot", 1).into()])
        .await;
    p.settle(
        "SELECT count(*) FROM outbound_messages WHERE kind = 'reply' AND buttons LIKE '%\"mc\"%'",
        1,
    )
    .await;
    let peer = super::telegram::peer_chat(GROUP);
    p.feed(vec![press_in(peer.clone(), 1, CLIENT, "mc")]).await;
    wait_for("the press's answer", || p.api.answers().len() == 1).await;
    assert_eq!(p.api.answers()[0].text, buhbot::bot::contact::CONTACTED);
    let notice = |u: i64| {
        format!("SELECT count(*) FROM outbound_messages WHERE dedupe_key LIKE 'contact:%:{u}'")
    };
    assert_eq!(p.count(&notice(ACCOUNTANT)), 1);
    // Pressed again: on its way, nobody told twice.
    p.feed(vec![press_in(peer, 2, CLIENT, "mc")]).await;
    wait_for("the second answer", || p.api.answers().len() == 2).await;
    assert_eq!(p.api.answers()[1].text, buhbot::bot::contact::ALREADY);
    p.settle(&notice(MANAGER), 1).await;
    p.settle(
        "SELECT count(*) FROM menu_contacts WHERE outcome = 'expired'",
        1,
    )
    .await;
    assert_eq!(p.count(&notice(ACCOUNTANT)), 1);
    assert_eq!(p.count("SELECT count(*) FROM menu_contacts"), 1);
    p.stop().await;
}
