//! Bot commands in a private chat, answered over the wire, and the
//! per-user rate limit: past the quota one polite notice, then silence.

use std::time::Duration;

use super::{ACC, CLIENT, Daemon, Env, TOKEN, server};

const WAIT: Duration = Duration::from_secs(40);

#[test]
fn commands_are_answered_and_a_flood_gets_one_polite_notice() {
    let srv = server(TOKEN, false);
    let env = Env::new(&srv, "");
    let toml = std::fs::read_to_string(&env.config).unwrap();
    std::fs::write(
        &env.config,
        toml.replace(
            "api_id = 12345\n",
            "api_id = 12345\nrate_limit_per_minute = 3\n",
        ),
    )
    .unwrap();
    let daemon = Daemon::start(&env);
    daemon.wait_ready(&srv, &env);

    // Staff: /mystats in their private chat.
    srv.push_message(ACC, ACC, "/mystats", None);
    let stats = srv.wait_for("the /mystats answer", WAIT, |_, sent| {
        sent.iter().find(|m| m.chat == ACC).cloned()
    });
    assert!(!stats.text.is_empty());

    // A client: /help, then a flood of them (3 a minute allowed).
    srv.push_message(CLIENT, CLIENT, "/help", None);
    let help = srv.wait_for("the /help answer", WAIT, |_, sent| {
        sent.iter().find(|m| m.chat == CLIENT).cloned()
    });
    assert!(help.text.contains('/'), "{}", help.text);
    for _ in 0..5 {
        srv.push_message(CLIENT, CLIENT, "/help", None);
    }
    srv.wait_for("the rate-limit notice", WAIT, |_, sent| {
        sent.iter()
            .find(|m| m.chat == CLIENT && m.text.contains("не так часто"))
            .map(|_| ())
    });
    // Anything more would come within this time.
    std::thread::sleep(Duration::from_secs(3));
    let to_client: Vec<_> = srv
        .sent()
        .into_iter()
        .filter(|m| m.chat == CLIENT)
        .collect();
    let notices = to_client
        .iter()
        .filter(|m| m.text.contains("не так часто"))
        .count();
    let helps = to_client.len() - notices;
    assert_eq!(notices, 1, "one notice: {to_client:#?}");
    assert_eq!(helps, 3, "the quota's worth of answers: {to_client:#?}");
    assert!(daemon.stop().success());
}
