//! Configuration layering and validation (figment::Jail isolates files and
//! environment variables).
#![allow(clippy::result_large_err)] // figment::Jail closures return figment::Error

use buhbot::config::{Config, ConfigError};
use chrono::NaiveDate;
use figment::Jail;

fn load(path: &str) -> Result<Config, ConfigError> {
    Config::load(Some(std::path::Path::new(path)))
}

fn problems(err: ConfigError) -> Vec<String> {
    match err {
        ConfigError::Invalid(list) => list.iter().map(ToString::to_string).collect(),
        other => panic!("expected validation problems, got {other}"),
    }
}

#[test]
fn only_a_calendar_section_is_valid_and_defaults_fill_the_rest() {
    Jail::expect_with(|jail| {
        jail.create_file(
            "b.toml",
            r#"
            [calendar]
            timezone = "Asia/Yekaterinburg"
            [calendar.week]
            mon = ["09:00-13:00", "14:00-18:00"]
            sat = ["22:00-02:00"]
            "#,
        )?;
        let c = load("b.toml").map_err(|e| e.to_string())?;
        assert_eq!(c.calendar.timezone, chrono_tz::Asia::Yekaterinburg);
        assert_eq!(c.calendar.week[0].len(), 2);
        assert!(c.calendar.week[1].is_empty(), "a missing day is a day off");
        assert_eq!(c.calendar.week[5][0].end, 26 * 3600);
        assert_eq!(c.sla.threshold_minutes, 60);
        assert_eq!(c.sla.warning_percent, 80);
        assert_eq!(c.sla.escalation_interval_minutes, 30);
        assert_eq!(c.sla.max_escalations, 5);
        Ok(())
    });
}

#[test]
fn every_problem_is_reported_with_key_and_file() {
    Jail::expect_with(|jail| {
        jail.create_file(
            "bad.toml",
            r#"
            [calendar]
            timezone = "Europe/Moskow"
            holidays = ["2025-13-01"]
            [calendar.week]
            mon = ["09:00-18:00", "17:00-19:00"]
            tue = ["9-18"]
            [sla]
            threshold_minutes = 0
            warning_percent = "eighty"
            colour = "red"
            [[chats]]
            title = "no id"
            "#,
        )?;
        let list = problems(load("bad.toml").unwrap_err());
        let expect = [
            "calendar.timezone",
            "calendar.holidays[0]",
            "calendar.week.mon",
            "calendar.week.tue[0]",
            "sla.threshold_minutes",
            "sla.warning_percent",
            "sla.colour: unknown key",
            "chats[0].id",
        ];
        for key in expect {
            assert!(
                list.iter()
                    .any(|p| p.contains(key) && p.contains("bad.toml: ")),
                "no problem for {key} in {list:#?}"
            );
        }
        assert_eq!(list.len(), expect.len(), "{list:#?}");
        Ok(())
    });
}

#[test]
fn environment_overrides_the_file_and_is_named_in_errors() {
    Jail::expect_with(|jail| {
        jail.create_file("b.toml", "[sla]\nthreshold_minutes = 45\n")?;
        jail.set_env("BUHBOT_SLA__THRESHOLD_MINUTES", "30");
        jail.set_env("BUHBOT_CALENDAR__TIMEZONE", "Europe/Berlin");
        let c = load("b.toml").map_err(|e| e.to_string())?;
        assert_eq!(c.sla.threshold_minutes, 30);
        assert_eq!(c.calendar.timezone, chrono_tz::Europe::Berlin);

        jail.set_env("BUHBOT_SLA__MAX_ESCALATIONS", "99");
        let list = problems(load("b.toml").unwrap_err());
        assert_eq!(list.len(), 1, "{list:?}");
        assert!(
            list[0].contains("BUHBOT_SLA__MAX_ESCALATIONS") && list[0].contains("between 1 and 10"),
            "{list:?}"
        );
        Ok(())
    });
}

#[test]
fn a_chat_overrides_global_keys_one_by_one() {
    Jail::expect_with(|jail| {
        jail.create_file(
            "b.toml",
            r#"
            [calendar]
            timezone = "Europe/Moscow"
            holidays = [2025-01-02, "2025-01-03"]
            [sla]
            threshold_minutes = 90
            warning_percent = 50
            [[chats]]
            id = -1001
            accountants = [1, 2]
            managers = [9]
            threshold_minutes = 30
            [chats.calendar.week]
            sat = ["10:00-14:00"]
            [[chats]]
            id = -1002
            "#,
        )?;
        let c = load("b.toml").map_err(|e| e.to_string())?;
        let chat = &c.chats[&-1001];
        assert_eq!(chat.policy.threshold_minutes, 30);
        assert_eq!(chat.policy.warning_percent, 50, "inherited from [sla]");
        assert_eq!(chat.calendar.timezone, chrono_tz::Europe::Moscow);
        assert_eq!(chat.calendar.holidays.len(), 2, "inherited holidays");
        assert!(
            chat.calendar
                .holidays
                .contains(&NaiveDate::from_ymd_opt(2025, 1, 2).unwrap())
        );
        assert_eq!(chat.calendar.week[5].len(), 1);
        assert!(
            chat.calendar.week[0].is_empty(),
            "the chat's week replaces the global week"
        );
        assert_eq!(c.chat_policy(-1002).threshold_minutes, 90);
        assert_eq!(
            c.chat_policy(-5).threshold_minutes,
            90,
            "unknown chats use [sla]"
        );
        assert_eq!(c.staff().len(), 3);
        Ok(())
    });
}

#[test]
fn production_calendar_paths_are_relative_to_the_file() {
    Jail::expect_with(|jail| {
        let xml = include_str!("../../data/calendars/ru/2025.xml");
        jail.create_dir("etc/cal")?;
        jail.create_file("etc/cal/2025.xml", xml)?;
        jail.create_file(
            "etc/b.toml",
            "[calendar]\nproduction_calendar = [\"cal/2025.xml\", \"cal/missing.xml\"]\n",
        )?;
        let list = problems(load("etc/b.toml").unwrap_err());
        assert_eq!(list.len(), 1, "{list:?}");
        assert!(
            list[0].contains("calendar.production_calendar[1]") && list[0].contains("missing.xml")
        );
        jail.create_file(
            "etc/b.toml",
            "[calendar]\nproduction_calendar = [\"cal/2025.xml\"]\n",
        )?;
        let c = load("etc/b.toml").map_err(|e| e.to_string())?;
        assert!(c.calendar.production.days.len() > 10);
        Ok(())
    });
}

#[test]
fn a_missing_explicit_file_and_a_syntax_error_are_config_errors() {
    Jail::expect_with(|jail| {
        assert!(matches!(load("nope.toml"), Err(ConfigError::NotFound(_))));
        jail.create_file("b.toml", "[sla\nthreshold_minutes = 1")?;
        let err = load("b.toml").unwrap_err();
        assert!(matches!(err, ConfigError::Syntax(_)), "{err}");
        assert!(err.to_string().contains("b.toml"), "{err}");
        Ok(())
    });
}

#[test]
fn the_shipped_example_configuration_is_valid() {
    let c = load(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config/buhbot.example.toml"
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.sla.threshold_minutes, 60);
    let c = load(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data/examples/buhbot.toml"
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(c.chats.contains_key(&-1001987654321));
}

#[test]
fn heartbeat_keys_are_validated_without_quoting_the_url() {
    Jail::expect_with(|jail| {
        jail.create_file(
            "hb.toml",
            r#"
            [heartbeat]
            url = "ftp://kuma.example/api/push/SeCrEt"
            failure_url_file = "missing-url"
            interval_seconds = 10
            timeout_seconds = 10
            [daemon]
            crash_loop_restarts = 0
            "#,
        )?;
        let p = problems(load("hb.toml").unwrap_err());
        let all = p.join("\n");
        for want in [
            "heartbeat.url",
            "must start with https:// or http://",
            "heartbeat.failure_url_file",
            "missing-url",
            "heartbeat.timeout_seconds",
            "must be shorter than interval_seconds (10 s)",
            "daemon.crash_loop_restarts",
        ] {
            assert!(all.contains(want), "{want} not in:\n{all}");
        }
        assert!(all.contains("hb.toml"), "{all}");
        assert!(!all.contains("SeCrEt"), "the URL is quoted:\n{all}");

        jail.create_file("url", "https://hc-ping.example/5f1c/{status}\n")?;
        jail.create_file(
            "ok.toml",
            "[heartbeat]\nurl_file = \"url\"\n[daemon]\ncrash_loop_minutes = 30\n",
        )?;
        let c = load("ok.toml").map_err(|e| e.to_string())?;
        let hb = c.heartbeat.expect("configured");
        assert_eq!(hb.url.expose(), "https://hc-ping.example/5f1c/{status}");
        assert_eq!(hb.interval, std::time::Duration::from_secs(60));
        assert_eq!(hb.timeout, std::time::Duration::from_secs(10));
        assert!(hb.failure_target().is_some(), "{{status}} serves for both");
        assert_eq!(c.daemon.crash_loop.window.as_secs(), 1800);
        assert_eq!(c.daemon.crash_loop.restarts, 5);
        assert!(load("hb.toml").is_err());
        Ok(())
    });
}
