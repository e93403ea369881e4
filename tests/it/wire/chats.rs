//! Supergroups over the wire: their messages come as
//! `updateNewChannelMessage` in a box of their own, a gap in it is closed
//! with `updates.getChannelDifference`, and a basic group's upgrade moves
//! its requests to the supergroup's id.

use std::time::Duration;

use super::{CLIENT, Daemon, Env, GROUP, TOKEN, server};

pub const SUPERGROUP: i64 = -1001987654321;
const WAIT: Duration = Duration::from_secs(40);

fn wait_stored(srv: &mtproto_test_server::Server, env: &Env, chat: i64, n: i64) {
    let deadline = std::time::Instant::now() + WAIT;
    while env.stored_messages(&[chat]) < n {
        assert!(
            std::time::Instant::now() < deadline,
            "{}/{n} messages of {chat} stored\nrequests:\n{}\ndaemon log:\n{}",
            env.stored_messages(&[chat]),
            srv.log_text(),
            env.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_supergroup_gap_is_closed_with_get_channel_difference() {
    let srv = server(TOKEN, false);
    srv.add_chat(SUPERGROUP, "ООО Василёк");
    let env = Env::with_sla(
        &srv,
        60,
        &format!(
            "[[chats]]\nid = {SUPERGROUP}\ntitle = \"ООО Василёк\"\naccountants = [{}]\n",
            super::ACC
        ),
    );
    let daemon = Daemon::start(&env);
    daemon.wait_ready(&srv, &env);
    srv.push_message(SUPERGROUP, CLIENT, "Здравствуйте, вопрос по НДС", None);
    wait_stored(&srv, &env, SUPERGROUP, 1);
    let mark = srv.requests().len();
    srv.drop_connections(Duration::from_secs(3));
    for i in 0..30 {
        srv.push_message(SUPERGROUP, CLIENT, &format!("уточнение {i}"), None);
    }
    // Back: the catch-up finds the supergroup's news without any further
    // update (getDifference hints at it, getChannelDifference fetches it).
    wait_stored(&srv, &env, SUPERGROUP, 31);
    srv.push_message(SUPERGROUP, CLIENT, "после обрыва", None);
    wait_stored(&srv, &env, SUPERGROUP, 32);
    let asked: Vec<_> = srv.requests()[mark..]
        .iter()
        .filter(|r| r.name == "updates.getChannelDifference")
        .cloned()
        .collect();
    assert!(!asked.is_empty(), "{}", srv.log_text());
    assert!(
        asked[0].detail.contains("pts: 2,"),
        "from the last processed pts: {}",
        asked[0].detail
    );
    assert_eq!(env.stored_messages(&[SUPERGROUP]), 32, "none twice");
    assert!(daemon.stop().success());
}

/// Opens a request in GROUP and upgrades GROUP to SUPERGROUP; returns
/// the request's message id once the migration is stored.
fn migrate(srv: &mtproto_test_server::Server, env: &Env) -> i32 {
    let q = srv.push_message(GROUP, CLIENT, "Нужна копия договора", None);
    super::run::wait_for_status(srv, env, GROUP, q, "open");
    srv.push_migration(GROUP, SUPERGROUP, "ООО Ромашка", CLIENT);
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let c = crate::daemon::read_only(&env.db);
        let moved: Option<i64> = c
            .query_row(
                "SELECT migrated_to FROM chats WHERE id = ?1",
                [GROUP],
                |r| r.get(0),
            )
            .ok()
            .flatten();
        if moved == Some(SUPERGROUP) {
            return q;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no migration\nrequests:\n{}\ndaemon log:\n{}",
            srv.log_text(),
            env.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_basic_group_upgraded_to_a_supergroup_takes_its_requests_along() {
    let srv = server(TOKEN, false);
    let env = Env::with_sla(&srv, 60, "");
    let daemon = Daemon::start(&env);
    daemon.wait_ready(&srv, &env);
    let q = migrate(&srv, &env);
    assert_eq!(
        super::run::request_status(&env, SUPERGROUP, -q).as_deref(),
        Some("open"),
        "the request follows the chat (its message id negated, out of the supergroup's own ids)"
    );
    assert!(daemon.stop().success());
}

/// Telegram numbers a supergroup's messages from 1, in an id space of its
/// own, while the basic group's ids came from the bot's common box: moved
/// under the supergroup's id unchanged, a group message would take the
/// number of a future supergroup message, which would then be dropped as
/// already logged (the first one here, before the fix). The move negates
/// the group's ids.
#[test]
fn after_an_upgrade_the_supergroups_own_messages_are_all_kept() {
    let srv = server(TOKEN, false);
    let env = Env::with_sla(&srv, 60, "");
    let daemon = Daemon::start(&env);
    daemon.wait_ready(&srv, &env);
    migrate(&srv, &env);
    let before = env.stored_messages(&[SUPERGROUP]);
    srv.push_message(SUPERGROUP, CLIENT, "Это уже в новой группе", None);
    wait_stored(&srv, &env, SUPERGROUP, before + 1);
    assert!(daemon.stop().success());
}
