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
