//! `buhbot run` signs in over the wire and works: a client's message
//! becomes a request, the breach alert goes out with its buttons, the
//! "resolved" press closes it, answers the press and edits the alert.

use std::time::Duration;

use super::{CLIENT, Daemon, Env, GROUP, MANAGER, TOKEN, buttons, server};

pub const WAIT: Duration = Duration::from_secs(40);

/// The stored status of the request opened by `message_id` in `chat`.
pub fn request_status(env: &Env, chat: i64, message_id: i32) -> Option<String> {
    crate::daemon::read_only(&env.db)
        .query_row(
            "SELECT status FROM client_requests WHERE chat_id = ?1 AND message_id = ?2",
            (chat, i64::from(message_id)),
            |r| r.get(0),
        )
        .ok()
}

/// Waits until the request of `message_id` in `chat` has `status`.
pub fn wait_for_status(
    srv: &mtproto_test_server::Server,
    env: &Env,
    chat: i64,
    message_id: i32,
    status: &str,
) {
    let deadline = std::time::Instant::now() + WAIT;
    while request_status(env, chat, message_id).as_deref() != Some(status) {
        assert!(
            std::time::Instant::now() < deadline,
            "request {chat}/{message_id} not {status}: {:?}\nrequests:\n{}\ndaemon log:\n{}",
            request_status(env, chat, message_id),
            srv.log_text(),
            env.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn run_signs_in_alerts_on_breach_and_resolves_by_button() {
    let srv = server(TOKEN, false);
    let env = Env::new(&srv, "");
    let daemon = Daemon::start(&env);
    daemon.wait_ready(&srv, &env);
    // Asked two minutes ago (a 1-minute SLA): overdue on arrival.
    let asked = mtproto_test_server::world::now() - 120;
    let q = srv.push_message(
        GROUP,
        CLIENT,
        "Добрый день! Пришлите, пожалуйста, акт сверки.",
        Some(asked),
    );
    let alert = srv.wait_for("the breach alert to the manager", WAIT, |_, sent| {
        sent.iter().find(|m| m.chat == MANAGER).cloned()
    });
    for part in [
        "Нарушен срок ответа",
        "ООО Ромашка",
        "Клиент (id 5001)",
        "акт сверки",
    ] {
        assert!(
            alert.text.contains(part),
            "{part:?} not in {:?}",
            alert.text
        );
    }
    let b = buttons(&alert);
    assert_eq!(b.len(), 2, "{b:?}");
    assert_eq!(b[0].0, "Отметить решённым", "{b:?}");
    assert!(b[0].1.starts_with("r:"), "{b:?}");
    assert_eq!(b[1].0, "Напомнить бухгалтеру", "{b:?}");
    assert_eq!(request_status(&env, GROUP, q).as_deref(), Some("open"));

    let query = srv.push_callback(MANAGER, alert.id, MANAGER, b[0].1.as_bytes());
    let answer = srv.wait_for("setBotCallbackAnswer", WAIT, |reqs, _| {
        reqs.iter()
            .find(|r| r.name == "messages.setBotCallbackAnswer")
            .cloned()
    });
    assert!(
        answer.detail.contains(&format!("query_id: {query}")),
        "{}",
        answer.detail
    );
    assert!(
        answer.detail.contains("отмечен решённым"),
        "{}",
        answer.detail
    );
    let edited = srv.wait_for("the alert edited", WAIT, |_, sent| {
        sent.iter()
            .find(|m| m.chat == MANAGER && m.id == alert.id && m.edits > 0)
            .cloned()
    });
    assert!(edited.text.contains("Отмечено решённым"), "{}", edited.text);
    assert!(
        buttons(&edited).is_empty(),
        "buttons stay after resolving: {:?}",
        buttons(&edited)
    );
    assert_eq!(
        request_status(&env, GROUP, q).as_deref(),
        Some("resolved"),
        "{}",
        srv.log_text()
    );
    let status = daemon.stop();
    assert!(status.success(), "{status:?}\n{}", env.log());
    // What the bot really called, for the record.
    let names: std::collections::BTreeSet<String> =
        srv.requests().into_iter().map(|r| r.name).collect();
    eprintln!("RPCs called: {names:?}");
    assert!(!srv.log_text().contains("UNHANDLED"), "{}", srv.log_text());
}
