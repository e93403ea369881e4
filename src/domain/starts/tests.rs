use super::*;

const MIN: i64 = 60;

fn past(version: &str, reason: Reason, started_at: i64) -> PastStart {
    PastStart {
        version: version.into(),
        previous_version: None,
        reason,
        migrations: String::new(),
        restored_from: None,
        started_at,
        ready_at: Some(started_at + 2),
        stopped_at: Some(started_at + 100),
        after_crash: false,
        notified: false,
    }
}

fn facts(version: &str, now: i64) -> StartFacts<'_> {
    StartFacts {
        version,
        now,
        migrations: String::new(),
        schema_before: 7,
        restored_from: None,
    }
}

#[test]
fn a_new_database_is_an_install_and_tells_nobody() {
    let mut f = facts("0.2.0", 1000);
    f.schema_before = 0;
    let v = decide(&[], &f, CrashLoop::default());
    assert_eq!(v.reason, Reason::Install);
    assert!(!v.after_crash);
    assert_eq!(v.crash_loop, None);
    let notice = release_notice(
        &v,
        &NoticeFacts {
            version: "0.2.0",
            backup: None,
            ready_after: Duration::from_secs(1),
        },
    );
    assert_eq!(notice, None);
}

#[test]
fn a_database_older_than_the_history_is_an_upgrade_from_an_unknown_version() {
    let mut f = facts("0.2.0", 1000);
    f.migrations = "7 starts".into();
    f.schema_before = 6;
    let v = decide(&[], &f, CrashLoop::default());
    assert_eq!(v.reason, Reason::Upgrade);
    let text = release_notice(
        &v,
        &NoticeFacts {
            version: "0.2.0",
            backup: Some(("buhbot-20261207T110000Z.tar.gz", 1_796_641_200)),
            ready_after: Duration::from_millis(3_250),
        },
    )
    .unwrap();
    assert!(text.contains("неизвестная версия → 0.2.0"), "{text}");
    assert!(text.contains("Миграции базы: 7 starts"), "{text}");
    assert!(
        text.contains("<code>buhbot-20261207T110000Z.tar.gz</code> от 07.12.2026 11:00 UTC"),
        "{text}"
    );
    assert!(text.contains("Готов к работе через 3,2 с"), "{text}");
}

#[test]
fn same_version_is_a_restart_another_an_upgrade_or_downgrade() {
    let h = [past("0.1.0", Reason::Restart, 100)];
    let same = decide(&h, &facts("0.1.0", 1000), CrashLoop::default());
    assert_eq!(same.reason, Reason::Restart);
    assert!(!same.after_crash, "the previous run stopped cleanly");

    let up = decide(&h, &facts("0.10.0", 1000), CrashLoop::default());
    assert_eq!(up.reason, Reason::Upgrade, "numeric, not lexical order");
    assert_eq!(up.previous_version.as_deref(), Some("0.1.0"));
    let text = release_notice(
        &up,
        &NoticeFacts {
            version: "0.10.0",
            backup: None,
            ready_after: Duration::from_secs(125),
        },
    )
    .unwrap();
    assert!(
        text.contains("БухБот обновлён</b>: 0.1.0 → 0.10.0"),
        "{text}"
    );
    assert!(text.contains("Миграции базы: не потребовались"), "{text}");
    assert!(text.contains("Последняя резервная копия: нет"), "{text}");
    assert!(text.contains("через 2 мин 5 с"), "{text}");

    let down = decide(&h, &facts("0.0.9", 1000), CrashLoop::default());
    assert_eq!(down.reason, Reason::Downgrade);
}

#[test]
fn a_restore_wins_over_the_version_comparison() {
    let h = [past("0.1.0", Reason::Restart, 100)];
    let mut f = facts("0.2.0", 1000);
    f.restored_from = Some("buhbot-20261201T030000Z.tar.gz".into());
    let v = decide(&h, &f, CrashLoop::default());
    assert_eq!(v.reason, Reason::Restore);
    let text = release_notice(
        &v,
        &NoticeFacts {
            version: "0.2.0",
            backup: None,
            ready_after: Duration::from_secs(1),
        },
    )
    .unwrap();
    assert!(
        text.contains(
            "восстановления из резервной копии</b> <code>buhbot-20261201T030000Z.tar.gz</code>"
        ),
        "{text}"
    );
}

#[test]
fn an_upgrade_that_died_before_ready_hands_its_notice_on() {
    let mut died = past("0.2.0", Reason::Upgrade, 100);
    died.previous_version = Some("0.1.0".into());
    died.migrations = "7 starts".into();
    died.ready_at = None;
    died.stopped_at = None;
    let mut f = facts("0.2.0", 200);
    f.migrations = "8 more".into();
    let v = decide(&[died.clone()], &f, CrashLoop::default());
    assert_eq!(v.reason, Reason::Upgrade);
    assert_eq!(v.previous_version.as_deref(), Some("0.1.0"));
    assert_eq!(v.migrations, "7 starts, 8 more");
    assert!(v.after_crash);

    // Once queued, the next start is a plain restart.
    died.notified = true;
    let v = decide(&[died], &facts("0.2.0", 200), CrashLoop::default());
    assert_eq!(v.reason, Reason::Restart);
}

/// Starts after crashes every `every` seconds from 0, newest first.
fn crashing(n: usize, every: i64) -> Vec<PastStart> {
    let mut h: Vec<PastStart> = (0..n)
        .map(|i| {
            let mut s = past("0.1.0", Reason::Restart, i as i64 * every);
            s.stopped_at = None;
            s.after_crash = i > 0;
            s
        })
        .collect();
    h.reverse();
    h
}

#[test]
fn a_crash_loop_warns_once_not_once_per_restart() {
    let loop_ = CrashLoop::default();
    let mut warned = Vec::new();
    let mut history = crashing(1, 0);
    // A restart after a crash every minute for 20 minutes.
    for i in 1..=20 {
        let now = i * MIN;
        let v = decide(&history, &facts("0.1.0", now), loop_);
        assert!(v.after_crash);
        if let Some(n) = v.crash_loop {
            warned.push((i, n));
        }
        let mut s = past("0.1.0", v.reason, now);
        s.stopped_at = None;
        s.after_crash = v.after_crash;
        history.insert(0, s);
    }
    // The sixth restart after a crash within 10 minutes is "more than 5".
    assert_eq!(warned, vec![(6, 6)]);
    let text = crash_loop_warning(6, loop_, "0.1.0");
    assert!(text.contains("6 раз за 10 минут"), "{text}");
}

#[test]
fn slow_crashes_or_clean_restarts_are_no_loop() {
    let loop_ = CrashLoop::default();
    // A crash every 3 minutes: at most 4 in any 10 minutes.
    let h = crashing(30, 3 * MIN);
    assert_eq!(
        decide(&h, &facts("0.1.0", 30 * 3 * MIN), loop_).crash_loop,
        None
    );
    // Twenty quick restarts that each stopped cleanly (systemctl restart).
    let h: Vec<PastStart> = (0..20)
        .rev()
        .map(|i| past("0.1.0", Reason::Restart, i * 10))
        .collect();
    let v = decide(&h, &facts("0.1.0", 200), loop_);
    assert!(!v.after_crash);
    assert_eq!(v.crash_loop, None);
}

#[test]
fn a_loop_that_calms_down_and_starts_again_warns_again() {
    let loop_ = CrashLoop {
        restarts: 2,
        window: Duration::from_secs(60),
    };
    let mut history = crashing(1, 0);
    let mut warned = Vec::new();
    // Crashes at 10, 20, 30 s; a quiet hour; crashes again every 10 s.
    let times = [10, 20, 30, 3600, 3610, 3620, 3630];
    for now in times {
        let v = decide(&history, &facts("0.1.0", now), loop_);
        if v.crash_loop.is_some() {
            warned.push(now);
        }
        let mut s = past("0.1.0", v.reason, now);
        s.stopped_at = None;
        s.after_crash = v.after_crash;
        history.insert(0, s);
    }
    assert_eq!(warned, vec![30, 3620]);
}
