//! Sending over the wire: FLOOD_WAIT for one chat holds back only that
//! chat (and for the whole wait), a resend answered RANDOM_ID_DUPLICATE
//! counts as sent once, USER_IS_BLOCKED is final.

use std::time::Duration;

use mtproto_test_server::{Action, Rule};

use super::{ACC, CLIENT, Daemon, Env, GROUP, MANAGER, TOKEN, server};

const WAIT: Duration = Duration::from_secs(40);

fn overdue_question(srv: &mtproto_test_server::Server) -> i32 {
    let asked = mtproto_test_server::world::now() - 120;
    srv.push_message(GROUP, CLIENT, "Когда будет готова декларация?", Some(asked))
}

/// A daemon whose transient failures are retried within a second or two,
/// running, with an overdue question pushed.
fn started_with_quick_retries(srv: &mtproto_test_server::Server) -> (Env, Daemon) {
    let env = Env::new(
        srv,
        "[alerts]\nretry_initial_seconds = 1\nretry_max_seconds = 2\n",
    );
    let daemon = Daemon::start(&env);
    daemon.wait_ready(srv, &env);
    overdue_question(srv);
    (env, daemon)
}

#[test]
fn flood_wait_on_one_chat_holds_back_that_chat_only() {
    let srv = server(TOKEN, false);
    srv.add_rule(Rule {
        method: "messages.sendMessage".into(),
        chat: Some(ACC),
        action: Action::Fail {
            code: 420,
            message: "FLOOD_WAIT_5".into(),
        },
        times: Some(1),
    });
    let env = Env::new(&srv, "");
    let daemon = Daemon::start(&env);
    daemon.wait_ready(&srv, &env);
    overdue_question(&srv);
    let (refused, retried) = srv.wait_for(
        "the accountant's send after its flood wait",
        WAIT,
        |reqs, _| {
            let acc: Vec<_> = reqs
                .iter()
                .filter(|r| r.name == "messages.sendMessage" && r.chat == Some(ACC))
                .collect();
            (acc.len() >= 2).then(|| (acc[0].clone(), acc[1].clone()))
        },
    );
    assert!(
        refused.outcome.contains("FLOOD_WAIT_5"),
        "{}",
        srv.log_text()
    );
    assert!(
        retried.at >= refused.at + Duration::from_secs(5),
        "the wait was not honoured:\n{}",
        srv.log_text()
    );
    let manager = srv.wait_for("the manager's alert", WAIT, |reqs, _| {
        reqs.iter()
            .find(|r| r.name == "messages.sendMessage" && r.chat == Some(MANAGER))
            .cloned()
    });
    assert!(
        manager.at < refused.at + Duration::from_secs(5),
        "another chat waited for the flood wait of {ACC}:\n{}",
        srv.log_text()
    );
    assert!(daemon.stop().success());
}

/// The `random_id` of a logged sendMessage.
fn random_id(r: &mtproto_test_server::Request) -> Option<String> {
    Some(
        r.detail
            .split("random_id: ")
            .nth(1)?
            .split(',')
            .next()?
            .to_string(),
    )
}

#[test]
fn a_duplicate_after_a_resend_is_sent_once_and_a_block_is_final() {
    let srv = server(TOKEN, false);
    // The manager's alert is taken, but the answer never comes back.
    srv.add_rule(Rule {
        method: "messages.sendMessage".into(),
        chat: Some(MANAGER),
        action: Action::DoThenDrop,
        times: Some(1),
    });
    srv.add_rule(Rule {
        method: "messages.sendMessage".into(),
        chat: Some(ACC),
        action: Action::Fail {
            code: 400,
            message: "USER_IS_BLOCKED".into(),
        },
        times: None,
    });
    let (env, daemon) = started_with_quick_retries(&srv);
    srv.wait_for(
        "RANDOM_ID_DUPLICATE for the resent alert",
        WAIT,
        |reqs, _| {
            reqs.iter()
                .find(|r| r.chat == Some(MANAGER) && r.outcome.contains("RANDOM_ID_DUPLICATE"))
                .map(|_| ())
        },
    );
    srv.wait_for(
        "both messages to the accountant refused",
        WAIT,
        |reqs, _| {
            let n = reqs
                .iter()
                .filter(|r| r.chat == Some(ACC) && r.outcome.contains("USER_IS_BLOCKED"))
                .count();
            (n >= 2).then_some(())
        },
    );
    // Time for any retry to show (the retry interval is 1 s).
    std::thread::sleep(Duration::from_secs(4));
    let reqs = srv.requests();
    let to_manager: Vec<_> = reqs
        .iter()
        .filter(|r| r.name == "messages.sendMessage" && r.chat == Some(MANAGER))
        .collect();
    assert_eq!(
        to_manager.len(),
        2,
        "taken once, resent once:\n{}",
        srv.log_text()
    );
    assert_eq!(
        random_id(to_manager[0]),
        random_id(to_manager[1]),
        "the resend keeps its random_id"
    );
    let delivered = srv.sent().into_iter().filter(|m| m.chat == MANAGER).count();
    assert_eq!(delivered, 1, "the alert is in the chat once");
    let to_acc: Vec<_> = reqs
        .iter()
        .filter(|r| r.name == "messages.sendMessage" && r.chat == Some(ACC))
        .collect();
    let ids: std::collections::BTreeSet<_> = to_acc.iter().map(|r| random_id(r)).collect();
    assert_eq!(
        ids.len(),
        to_acc.len(),
        "a blocked chat was retried:\n{}",
        srv.log_text()
    );
    let status = daemon.stop();
    assert!(status.success(), "{status:?}");
    let log = env.log();
    assert!(log.contains("RANDOM_ID_DUPLICATE"), "{log}");
    assert!(
        log.contains("will not be delivered") && log.contains("USER_IS_BLOCKED"),
        "{log}"
    );
    let metrics =
        std::fs::read_to_string(env.dir.path().join("metrics/buhbot.prom")).unwrap_or_default();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("buhbot_deliveries_failed_total{")
                && l.contains("telegram")
                && !l.ends_with(" 0")),
        "{metrics}"
    );
}

#[test]
fn a_slow_answer_is_waited_for_not_resent() {
    let srv = server(TOKEN, false);
    srv.add_rule(Rule {
        method: "messages.sendMessage".into(),
        chat: Some(MANAGER),
        action: Action::Delay(Duration::from_secs(3)),
        times: Some(1),
    });
    let (_env, daemon) = started_with_quick_retries(&srv);
    let alert = srv.wait_for("the manager's alert", WAIT, |_, sent| {
        sent.iter().find(|m| m.chat == MANAGER).cloned()
    });
    // The sender moved on (one call at a time) once the late answer came.
    srv.wait_for("the next send after the slow one", WAIT, |reqs, _| {
        let slow = reqs
            .iter()
            .position(|r| r.name == "messages.sendMessage" && r.chat == Some(MANAGER))?;
        reqs[slow + 1..]
            .iter()
            .find(|r| {
                r.name == "messages.sendMessage" && r.at >= reqs[slow].at + Duration::from_secs(3)
            })
            .map(|_| ())
    });
    // The id from the late answer is what the edit uses.
    let b = super::buttons(&alert);
    srv.push_callback(MANAGER, alert.id, MANAGER, b[0].1.as_bytes());
    let edit = srv.wait_for("the alert edited", WAIT, |reqs, _| {
        reqs.iter()
            .find(|r| r.name == "messages.editMessage" && r.chat == Some(MANAGER))
            .cloned()
    });
    assert_eq!(edit.outcome, "ok", "{}", srv.log_text());
    let sends = srv
        .requests()
        .iter()
        .filter(|r| r.name == "messages.sendMessage" && r.chat == Some(MANAGER))
        .count();
    assert_eq!(
        sends,
        1,
        "resent while the answer was on its way:\n{}",
        srv.log_text()
    );
    assert!(daemon.stop().success());
}
