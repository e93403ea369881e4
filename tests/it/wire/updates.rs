//! Updates over the wire: a dropped connection caught up through
//! `updates.getDifference` (in slices), and a restart that neither loses
//! nor replays updates. "Processed once" is read from the request log: the
//! catch-up asks from exactly the pts the daemon had processed, so nothing
//! it already had comes again; and from the store: every message is there
//! and the saved pts is the server's.

use std::time::Duration;

use mtproto_test_server::Server;

use super::{CLIENT, CLIENT2, Daemon, Env, GROUP, OTHER_GROUP, TOKEN, server};

const WAIT: Duration = Duration::from_secs(60);

/// Waits until the store has `n` messages of both groups. (The update
/// state is saved after the pipeline committed, at the next update or at
/// shutdown: checked after the stop.)
fn wait_caught_up(srv: &Server, env: &Env, n: i64) {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let (have, pts) = (env.stored_messages(&[GROUP, OTHER_GROUP]), env.stored_pts());
        if have == n {
            return;
        }
        assert!(
            have <= n,
            "more messages stored than sent: {have} > {n}\n{}",
            srv.log_text()
        );
        if std::time::Instant::now() > deadline {
            panic!(
                "not caught up: {have}/{n} messages, stored pts {pts:?} vs server {}\nrequests:\n{}\ndaemon log:\n{}",
                srv.pts(),
                srv.log_text(),
                env.log()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The `pts` of each `updates.getDifference` after request number `from`.
fn difference_pts(srv: &Server, from: usize) -> Vec<i32> {
    srv.requests()[from..]
        .iter()
        .filter(|r| r.name == "updates.getDifference")
        .filter_map(|r| {
            let rest = r.detail.split("pts: ").nth(1)?;
            rest.split(',').next()?.trim().parse().ok()
        })
        .collect()
}

fn push_many(srv: &Server, n: usize, tag: &str) {
    for i in 0..n {
        let (chat, from) = if i % 2 == 0 {
            (GROUP, CLIENT)
        } else {
            (OTHER_GROUP, CLIENT2)
        };
        srv.push_message(
            chat,
            from,
            &format!("{tag} {i}: вопрос по отчётности"),
            None,
        );
    }
}

#[test]
fn a_dropped_connection_is_caught_up_through_get_difference() {
    let srv = server(TOKEN, false);
    let env = Env::with_sla(&srv, 60, "");
    let daemon = Daemon::start_logging(&env, "info,buhbot::daemon::ingest=debug");
    daemon.wait_ready(&srv, &env);
    push_many(&srv, 3, "до обрыва");
    wait_caught_up(&srv, &env, 3);
    let before = srv.pts();
    let mark = srv.requests().len();

    // Gone for 8 s (a short real gap): reconnects are refused meanwhile.
    srv.drop_connections(Duration::from_secs(8));
    push_many(&srv, 200, "во время обрыва");
    std::thread::sleep(Duration::from_secs(8));
    // The next live update shows grammers the gap.
    srv.push_message(GROUP, CLIENT, "после обрыва", None);
    wait_caught_up(&srv, &env, 204);

    let asked = difference_pts(&srv, mark);
    assert!(
        !asked.is_empty(),
        "no getDifference after the drop:\n{}",
        srv.log_text()
    );
    assert_eq!(
        asked[0],
        before,
        "the catch-up must start where the daemon was:\n{}",
        srv.log_text()
    );
    // 201 updates, at most 100 a difference: sliced.
    assert!(asked.len() >= 3, "{asked:?}\n{}", srv.log_text());
    assert!(
        asked.windows(2).all(|w| w[0] < w[1]),
        "a slice asked twice: {asked:?}"
    );
    assert!(
        !env.log().contains("skipped events processed before"),
        "updates processed twice:\n{}",
        env.log()
    );
    let status = daemon.stop();
    assert!(status.success(), "{status:?}");
    assert_eq!(
        env.stored_pts(),
        Some(srv.pts()),
        "the saved state is the server's"
    );
}

#[test]
fn a_restart_between_updates_loses_and_replays_nothing() {
    let srv = server(TOKEN, false);
    let env = Env::with_sla(&srv, 60, "");
    let first = Daemon::start_logging(&env, "info,buhbot::daemon::ingest=debug");
    first.wait_ready(&srv, &env);
    push_many(&srv, 10, "первый запуск");
    wait_caught_up(&srv, &env, 10);
    let status = first.stop();
    assert!(status.success(), "{status:?}");
    let at_stop = env.stored_pts();
    assert_eq!(at_stop, Some(srv.pts()), "state saved at shutdown");
    push_many(&srv, 15, "пока бот стоял");
    let mark = srv.requests().len();

    let second = Daemon::start_logging(&env, "info,buhbot::daemon::ingest=debug");
    second.wait_ready(&srv, &env);
    wait_caught_up(&srv, &env, 25);
    let asked = difference_pts(&srv, mark);
    assert_eq!(asked.first().copied(), at_stop, "{}", srv.log_text());
    assert!(
        !env.log().contains("skipped events processed before"),
        "updates replayed:\n{}",
        env.log()
    );
    // The sign-in is not repeated: the stored auth key is authorized.
    assert!(
        !srv.requests()[mark..]
            .iter()
            .any(|r| r.name == "auth.importBotAuthorization"),
        "{}",
        srv.log_text()
    );
    let status = second.stop();
    assert!(status.success(), "{status:?}");
    assert_eq!(
        env.stored_pts(),
        Some(srv.pts()),
        "the saved state is the server's"
    );
}
