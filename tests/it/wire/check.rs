//! `buhbot telegram check` against the local server: 0 with the bot's
//! name, 77 when the token is refused, 69 when nothing listens.

use super::{Env, TOKEN, server};

fn check(env: &Env) -> (Option<i32>, String, String) {
    let o = crate::buhbot()
        .args(["telegram", "check", "--timeout", "10", "--config"])
        .arg(&env.config)
        .env("CREDENTIALS_DIRECTORY", &env.creds)
        .output()
        .expect("run buhbot telegram check");
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn check_signs_in_and_names_the_bot() {
    let srv = server(TOKEN, false);
    let env = Env::new(&srv, "");
    let (code, out, err) = check(&env);
    assert_eq!(
        code,
        Some(0),
        "stdout: {out}\nstderr: {err}\nrequests:\n{}",
        srv.log_text()
    );
    assert!(out.contains("buhbot_wire_bot"), "stdout: {out}");
    let names: Vec<String> = srv.requests().into_iter().map(|r| r.name).collect();
    assert!(
        names.iter().any(|n| n == "auth.importBotAuthorization"),
        "{}",
        srv.log_text()
    );
    assert!(
        !out.contains(TOKEN) && !err.contains(TOKEN),
        "the token leaked"
    );
}

#[test]
fn a_refused_token_is_77() {
    let srv = server("7000000001:AAH-some-other-token", false);
    let env = Env::new(&srv, "");
    let (code, out, err) = check(&env);
    assert_eq!(
        code,
        Some(77),
        "stdout: {out}\nstderr: {err}\nrequests:\n{}",
        srv.log_text()
    );
    let refused = srv.requests().into_iter().any(|r| {
        r.name == "auth.importBotAuthorization" && r.outcome.contains("ACCESS_TOKEN_INVALID")
    });
    assert!(refused, "{}", srv.log_text());
}

#[test]
fn nothing_listening_is_69() {
    let srv = server(TOKEN, false);
    let env = Env::new(&srv, "");
    drop(srv); // the port is closed now
    let (code, out, err) = check(&env);
    assert_eq!(code, Some(69), "stdout: {out}\nstderr: {err}");
}
