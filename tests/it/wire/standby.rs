//! The hot standby over the wire (issue 14 part 5): two real daemons of
//! one bot, one PostgreSQL, one Telegram (the local MTProto server). The
//! active one is killed; the standby, which had not connected to Telegram,
//! rebuilds its store from the replica, takes over within 30 s, sends what
//! was due (once), catches up the updates that came while nobody was
//! active (once), resends nothing; the old one, restarted, is the standby.

use std::time::{Duration, Instant};

use mtproto_test_server::{Action, Rule, Sent, Server};

use super::run::request_status;
use super::{ACC, CLIENT, CLIENT2, Daemon, Env, GROUP, MANAGER, TOKEN, server};
use crate::pg::cluster::{Cluster, Options};
use crate::pg::replay_sync::{migrated, outbox_depth, pg_section};

const CLIENT3: i64 = 5003;
const ACTIVE: &str = "buhbot is running";
const WAITING: &str = "standby: waiting for the Postgres lock";
const LIMIT: Duration = Duration::from_secs(60);

fn wait(what: &str, limit: Duration, envs: &[&Env], srv: &Server, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        if Instant::now() > deadline {
            let logs: Vec<String> = envs.iter().map(|e| e.log()).collect();
            panic!(
                "no {what} within {limit:?}\nrequests:\n{}\ndaemon logs:\n{}",
                srv.log_text(),
                logs.join("\n----------\n")
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A pair's host: the same bot, Postgres and standby lock as its twin.
fn host(srv: &Server, port: u16) -> Env {
    Env::new(
        srv,
        &format!(
            "[alerts]\nretry_initial_seconds = 1\nretry_max_seconds = 2\n{}standby = true\n",
            pg_section(port)
        ),
    )
}

fn breach_alerts_to(sent: &[Sent], chat: i64, question: &str) -> usize {
    sent.iter()
        .filter(|m| m.chat == chat && m.text.contains("Нарушен срок") && m.text.contains(question))
        .count()
}

/// No two messages the bot sent are the same message to the same chat.
fn assert_nothing_sent_twice(srv: &Server) {
    let sent = srv.sent();
    let mut seen = std::collections::BTreeMap::new();
    for m in &sent {
        *seen.entry((m.chat, m.text.clone())).or_insert(0) += 1;
    }
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        twice.is_empty(),
        "sent twice: {twice:#?}\n{}",
        srv.log_text()
    );
}

/// The messages of `chat` that are requests in `env`'s store. (At most
/// one request per message by the schema's UNIQUE: what this shows is
/// which messages became requests, none missing, none extra.)
fn request_messages(env: &Env, chat: i64) -> Vec<i64> {
    crate::daemon::read_only(&env.db)
        .prepare("SELECT message_id FROM client_requests WHERE chat_id = ?1 ORDER BY message_id")
        .unwrap()
        .query_map([chat], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// Waits (the 30 s at most) until `b` runs after `a` was killed.
fn wait_takeover(srv: &Server, a: &Env, b: &Env) {
    wait(
        "the standby running",
        Duration::from_secs(30),
        &[a, b],
        srv,
        || b.log().contains(ACTIVE),
    );
}

/// Starts `a` (active) and `b` (standby) and checks that `b` touched
/// nothing Telegram while waiting.
fn pair(srv: &Server, a: &Env, b: &Env) -> (Daemon, Daemon) {
    let da = Daemon::start(a);
    wait("the first daemon running", LIMIT, &[a], srv, || {
        a.log().contains(ACTIVE)
    });
    let connections = srv.live_connections();
    let requests = srv.requests().len();
    let db = Daemon::start(b);
    wait("the standby waiting", LIMIT, &[a, b], srv, || {
        b.log().contains(" is active")
    });
    std::thread::sleep(Duration::from_secs(3));
    assert!(b.log().contains(WAITING), "{}", b.log());
    assert!(!b.log().contains(ACTIVE), "{}", b.log());
    assert_eq!(
        srv.live_connections(),
        connections,
        "the standby connected to Telegram"
    );
    let signed_in = srv.requests()[requests..]
        .iter()
        .filter(|r| r.name == "auth.importBotAuthorization")
        .count();
    assert_eq!(signed_in, 0, "the standby signed in:\n{}", srv.log_text());
    (da, db)
}

/// A migrated PostgreSQL and the Telegram server, for a pair of hosts.
fn world() -> (tokio::runtime::Runtime, Cluster, Server) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let cluster = Cluster::start(Options::default());
    rt.block_on(migrated(&cluster));
    (rt, cluster, server(TOKEN, false))
}

#[test]
fn the_standby_takes_over_from_a_killed_daemon_and_loses_nor_repeats_anything() {
    let (_rt, cluster, srv) = world();
    srv.add_user(CLIENT3, "Клиент Третий", None);
    let (a, b) = (host(&srv, cluster.port), host(&srv, cluster.port));
    let (da, mut db) = pair(&srv, &a, &b);

    // Q1 is overdue on arrival: A alerts the accountant and the manager.
    let now = mtproto_test_server::world::now();
    let q1 = srv.push_message(
        GROUP,
        CLIENT,
        "Пришлите акт сверки за квартал",
        Some(now - 120),
    );
    srv.wait_for("Q1's alerts", LIMIT, |_, sent| {
        (breach_alerts_to(sent, MANAGER, "акт сверки") == 1
            && breach_alerts_to(sent, ACC, "акт сверки") == 1)
            .then_some(())
    });
    // Q2 is due in about 15 s (a 1-minute SLA, asked 45 s ago): its timer
    // is running on A when A dies.
    let q2 = srv.push_message(
        GROUP,
        CLIENT2,
        "Когда будет готова декларация по НДС?",
        Some(now - 45),
    );
    wait(
        "Q2 open on A and everything pushed",
        LIMIT,
        &[&a],
        &srv,
        || request_status(&a, GROUP, q2).as_deref() == Some("open") && outbox_depth(&a.db) == 0,
    );
    assert_eq!(breach_alerts_to(&srv.sent(), MANAGER, "декларация"), 0);
    da.kill();
    let killed = Instant::now();
    // Q3 arrives while nobody is active: only Telegram's update log has it.
    // (From a third client: a client's second message while their request
    // is open is part of that request, not a new one.)
    let q3 = srv.push_message(
        GROUP,
        CLIENT3,
        "Добрый день! Пришлите, пожалуйста, справку об отсутствии задолженности.",
        None,
    );

    wait_takeover(&srv, &a, &b);
    let takeover = killed.elapsed();
    eprintln!("takeover: {takeover:?} from the kill to the standby running");
    assert!(
        b.log().contains("standby: store rebuilt from the replica"),
        "{}",
        b.log()
    );
    assert!(db.exited().is_none());

    // Q2's breach alert goes out from B, once; Q3 is a request on B.
    srv.wait_for("Q2's alert from the new active daemon", LIMIT, |_, sent| {
        (breach_alerts_to(sent, MANAGER, "декларация") == 1).then_some(())
    });
    wait("Q3 open on B", LIMIT, &[&b], &srv, || {
        request_status(&b, GROUP, q3).as_deref() == Some("open")
    });
    // Q1's alerts were sent and are not sent again; nothing is.
    let sent = srv.sent();
    assert_eq!(breach_alerts_to(&sent, MANAGER, "акт сверки"), 1);
    assert_eq!(breach_alerts_to(&sent, ACC, "акт сверки"), 1);
    assert_nothing_sent_twice(&srv);
    // The three questions are B's requests, and nothing else is.
    assert_eq!(
        request_messages(&b, GROUP),
        [i64::from(q1), i64::from(q2), i64::from(q3)]
    );
    assert_eq!(request_status(&b, GROUP, q1).as_deref(), Some("open"));

    // A, restarted, is the standby, and stays off Telegram.
    let connections = srv.live_connections();
    let mut da = Daemon::start(&a);
    wait(
        "the old one waiting as the standby",
        LIMIT,
        &[&a, &b],
        &srv,
        || a.log().matches(WAITING).count() == 2 && a.log().matches(" is active").count() >= 1,
    );
    std::thread::sleep(Duration::from_secs(3));
    assert!(da.exited().is_none());
    assert_eq!(a.log().matches(ACTIVE).count(), 1, "{}", a.log());
    assert_eq!(srv.live_connections(), connections);

    // And B, which is now active, answers the resolve button of A's alert.
    let alert = srv
        .sent()
        .into_iter()
        .find(|m| m.chat == MANAGER && m.text.contains("акт сверки"))
        .unwrap();
    let resolve = super::buttons(&alert)[0].1.clone();
    srv.push_callback(MANAGER, alert.id, MANAGER, resolve.as_bytes());
    super::run::wait_for_status(&srv, &b, GROUP, q1, "resolved");
    srv.wait_for("A's alert edited by B", LIMIT, |_, sent| {
        sent.iter()
            .find(|m| m.chat == MANAGER && m.id == alert.id && m.edits > 0)
            .map(|_| ())
    });
    assert_nothing_sent_twice(&srv);
    assert!(da.stop().success(), "{}", a.log());
    assert!(db.stop().success(), "{}", b.log());
}

#[test]
fn a_send_in_flight_when_the_active_daemon_dies_is_not_sent_twice() {
    let (rt, cluster, srv) = world();
    // Telegram posts the manager's alert but answers only after 20 s: A
    // dies in between, not knowing it was sent.
    srv.add_rule(Rule {
        method: "messages.sendMessage".into(),
        chat: Some(MANAGER),
        action: Action::Delay(Duration::from_secs(20)),
        times: Some(1),
    });
    let (a, b) = (host(&srv, cluster.port), host(&srv, cluster.port));
    let (da, db) = pair(&srv, &a, &b);
    let now = mtproto_test_server::world::now();
    srv.push_message(
        GROUP,
        CLIENT,
        "Пришлите акт сверки за квартал",
        Some(now - 120),
    );
    srv.wait_for("the manager's alert posted", LIMIT, |_, sent| {
        (breach_alerts_to(sent, MANAGER, "акт сверки") == 1).then_some(())
    });
    // The replica has the send as in flight ('sending').
    rt.block_on(async {
        let admin = cluster.admin().await;
        let deadline = Instant::now() + LIMIT;
        loop {
            let n: i64 = admin
                .query_one(
                    "SELECT count(*) FROM buhbot.replica WHERE tbl = 'outbound_messages'
                     AND row->>'chat_id' = $1 AND row->>'status' = 'sending'",
                    &[&MANAGER.to_string()],
                )
                .await
                .unwrap()
                .get(0);
            if n == 1 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "never pushed as sending: {}",
                a.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    da.kill();
    wait_takeover(&srv, &a, &b);
    // B resends it with the same random_id; Telegram knows it.
    let dup = srv.wait_for("the resend refused as a duplicate", LIMIT, |reqs, _| {
        reqs.iter()
            .find(|r| {
                r.name == "messages.sendMessage"
                    && r.chat == Some(MANAGER)
                    && r.outcome.contains("RANDOM_ID_DUPLICATE")
            })
            .cloned()
    });
    eprintln!("resend: {}", dup.outcome);
    wait("the send counted as done", LIMIT, &[&b], &srv, || {
        crate::daemon::read_only(&b.db)
            .query_row(
                "SELECT count(*) FROM outbound_messages WHERE chat_id = ?1 AND status = 'sent'",
                [MANAGER],
                |r| r.get::<_, i64>(0),
            )
            .unwrap()
            == 1
    });
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(breach_alerts_to(&srv.sent(), MANAGER, "акт сверки"), 1);
    assert_nothing_sent_twice(&srv);
    assert!(db.stop().success(), "{}", b.log());
}
