//! Calendar arithmetic: acceptance scenarios, day rules, production
//! calendars, DST, the xmlcalendar parser, and a property test against a
//! brute-force reference built only from per-day local intervals.

use std::collections::{BTreeMap, BTreeSet};

use buhbot::domain::calendar::{
    Calendar, CalendarSpec, Interval, ProductionCalendar, ProductionDay, XmlCalendarError,
};
use chrono::{DateTime, Duration, LocalResult, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use chrono_tz::{America::New_York, Europe::Berlin, Europe::Moscow};
use proptest::prelude::*;

const XML: [&str; 4] = [
    include_str!("../../data/calendars/ru/2024.xml"),
    include_str!("../../data/calendars/ru/2025.xml"),
    include_str!("../../data/calendars/ru/2026.xml"),
    include_str!("../../data/calendars/ru/2027.xml"),
];

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn date(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn iv(s: &str) -> Interval {
    Interval::parse(s).unwrap()
}

fn ivs(list: &[&str]) -> Vec<Interval> {
    list.iter().map(|s| iv(s)).collect()
}

fn production() -> ProductionCalendar {
    let mut p = ProductionCalendar::default();
    for xml in XML {
        p.merge_xml(xml).unwrap();
    }
    p
}

fn with(f: impl FnOnce(&mut CalendarSpec)) -> Calendar {
    let mut spec = CalendarSpec::default();
    f(&mut spec);
    Calendar::new(spec)
}

fn with_production() -> Calendar {
    with(|s| s.production = production())
}

// ---------------------------------------------------------------------------
// Brute-force reference: per-day local intervals → UTC with the documented
// DST policy, merged into a set, then measured.

fn ref_to_utc(tz: Tz, d: NaiveDate, secs: u32) -> i64 {
    let mut naive = d.and_hms_opt(0, 0, 0).unwrap() + Duration::seconds(i64::from(secs));
    loop {
        match tz.from_local_datetime(&naive) {
            LocalResult::Single(x) => return x.timestamp(),
            LocalResult::Ambiguous(a, b) => return a.timestamp().min(b.timestamp()),
            // In a gap: the first valid second after it is the transition.
            LocalResult::None => naive += Duration::seconds(1),
        }
    }
}

fn ref_set(cal: &Calendar, from: i64, to: i64) -> Vec<(i64, i64)> {
    let tz = cal.timezone();
    let local = |x: i64| {
        DateTime::from_timestamp(x, 0)
            .unwrap()
            .with_timezone(&tz)
            .date_naive()
    };
    let mut all = Vec::new();
    let mut d = local(from) - Duration::days(2);
    while d <= local(to) + Duration::days(2) {
        for i in cal.local_intervals(d) {
            all.push((ref_to_utc(tz, d, i.start), ref_to_utc(tz, d, i.end)));
        }
        d = d.succ_opt().unwrap();
    }
    all.retain(|(s, e)| e > s);
    all.sort();
    let mut merged: Vec<(i64, i64)> = Vec::new();
    for (s, e) in all {
        match merged.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => merged.push((s, e)),
        }
    }
    merged
}

fn ref_working(cal: &Calendar, from: i64, to: i64) -> i64 {
    ref_set(cal, from, to)
        .iter()
        .map(|&(s, e)| (e.min(to) - s.max(from)).max(0))
        .sum()
}

fn ref_deadline(cal: &Calendar, from: i64, secs: i64, max_days: i64) -> Option<i64> {
    if secs == 0 {
        return Some(from);
    }
    let mut left = secs;
    for (s, e) in ref_set(cal, from, from + max_days * 86_400) {
        let s = s.max(from);
        if e <= s {
            continue;
        }
        if left <= e - s {
            return Some(s + left);
        }
        left -= e - s;
    }
    None
}

// ---------------------------------------------------------------------------
// Acceptance scenarios (Europe/Moscow, Mon–Fri 09:00–18:00).

#[test]
fn calendar_acceptance_scenarios() {
    let plain = Calendar::new(CalendarSpec::default());
    let prod = with_production();
    // (calendar, from, to, expected working minutes)
    let cases: &[(&Calendar, &str, &str, i64)] = &[
        // Friday 20:00 → counted from Monday 09:00.
        (
            &plain,
            "2025-01-17T20:00:00+03:00",
            "2025-01-20T09:00:00+03:00",
            0,
        ),
        (
            &plain,
            "2025-01-17T20:00:00+03:00",
            "2025-01-20T09:30:00+03:00",
            30,
        ),
        // 17:55 Friday → 09:05 Monday.
        (
            &plain,
            "2025-01-17T17:55:00+03:00",
            "2025-01-20T09:05:00+03:00",
            10,
        ),
        // New-year holidays pause the clock.
        // 2024-12-28 is a worked Saturday, 12-30 and 12-31 are off.
        (
            &prod,
            "2024-12-28T17:00:00+03:00",
            "2025-01-09T10:00:00+03:00",
            120,
        ),
        (
            &prod,
            "2025-01-01T00:00:00+03:00",
            "2025-01-09T00:00:00+03:00",
            0,
        ),
        // Whole week.
        (
            &plain,
            "2025-01-13T00:00:00+03:00",
            "2025-01-20T00:00:00+03:00",
            45 * 60,
        ),
    ];
    for (cal, from, to, minutes) in cases {
        assert_eq!(
            cal.working_minutes(t(from), t(to)),
            *minutes,
            "{from} → {to}"
        );
    }
    // (calendar, from, minutes, expected deadline)
    let deadlines: &[(&Calendar, &str, u32, &str)] = &[
        (
            &plain,
            "2025-01-17T20:00:00+03:00",
            30,
            "2025-01-20T09:30:00+03:00",
        ),
        (
            &plain,
            "2025-01-14T17:45:00+03:00",
            30,
            "2025-01-15T09:15:00+03:00",
        ),
        (
            &plain,
            "2025-01-14T10:00:00+03:00",
            30,
            "2025-01-14T10:30:00+03:00",
        ),
        (
            &plain,
            "2025-01-10T17:59:30+03:00",
            1,
            "2025-01-13T09:00:30+03:00",
        ),
        (
            &prod,
            "2024-12-31T12:00:00+03:00",
            60,
            "2025-01-09T10:00:00+03:00",
        ),
        (
            &plain,
            "2025-01-14T10:00:00+03:00",
            0,
            "2025-01-14T10:00:00+03:00",
        ),
        // Completing exactly at the end of the day gives that end.
        (
            &plain,
            "2025-01-14T17:00:00+03:00",
            60,
            "2025-01-14T18:00:00+03:00",
        ),
    ];
    for (cal, from, minutes, expected) in deadlines {
        assert_eq!(
            cal.deadline(t(from), *minutes),
            Some(t(expected)),
            "{from} + {minutes}"
        );
    }
}

#[test]
fn calendar_always_open_counts_every_minute() {
    let cal = with(|s| s.always_open = true);
    let from = t("2025-01-17T12:34:00+03:00");
    for days in [1, 2, 7, 30] {
        let to = from + Duration::days(days);
        assert_eq!(cal.working_minutes(from, to), days * 1440);
        assert_eq!(cal.deadline(from, (days * 1440) as u32), Some(to));
    }
    // Holidays still apply to a 24/7 calendar.
    let cal = with(|s| {
        s.always_open = true;
        s.holidays.insert(date("2025-01-18"));
    });
    let sat = t("2025-01-18T00:00:00+03:00");
    assert_eq!(cal.working_seconds(sat, sat + Duration::days(1)), 0);
    assert_eq!(cal.deadline(sat, 1), Some(t("2025-01-19T00:01:00+03:00")));
}

#[test]
fn calendar_empty_week_has_no_deadline() {
    let cal = with(|s| s.week = Default::default());
    assert_eq!(cal.deadline(t("2025-01-17T12:00:00Z"), 1), None);
    assert_eq!(
        cal.working_seconds(t("2025-01-01T00:00:00Z"), t("2035-01-01T00:00:00Z")),
        0
    );
    // A workday without hours takes Monday's: none in an empty week.
    let cal = with(|s| {
        s.week = Default::default();
        s.workdays.insert(date("2027-06-05"), None);
    });
    assert_eq!(cal.deadline(t("2025-01-17T12:00:00Z"), 1), None);
    // A single workday with hours is found years ahead.
    let cal = with(|s| {
        s.week = Default::default();
        s.workdays
            .insert(date("2027-06-05"), Some(ivs(&["09:00-18:00"])));
    });
    assert_eq!(
        cal.deadline(t("2025-01-17T12:00:00Z"), 1),
        Some(t("2027-06-05T09:01:00+03:00"))
    );
}

// ---------------------------------------------------------------------------
// Day rules.

#[test]
fn calendar_lunch_breaks() {
    let lunch = ivs(&["09:00-13:00", "14:00-18:00"]);
    let cal =
        with(|s| s.week = std::array::from_fn(|w| if w < 5 { lunch.clone() } else { vec![] }));
    let cases = [
        (
            "2025-01-14T09:00:00+03:00",
            "2025-01-14T18:00:00+03:00",
            8 * 60,
        ),
        ("2025-01-14T12:30:00+03:00", "2025-01-14T14:30:00+03:00", 60),
        ("2025-01-14T13:10:00+03:00", "2025-01-14T13:50:00+03:00", 0),
    ];
    for (from, to, m) in cases {
        assert_eq!(cal.working_minutes(t(from), t(to)), m, "{from}");
    }
    let dl = [
        ("2025-01-14T12:50:00+03:00", 20, "2025-01-14T14:10:00+03:00"),
        ("2025-01-14T12:30:00+03:00", 30, "2025-01-14T13:00:00+03:00"),
        ("2025-01-14T13:30:00+03:00", 1, "2025-01-14T14:01:00+03:00"),
    ];
    for (from, m, exp) in dl {
        assert_eq!(cal.deadline(t(from), m), Some(t(exp)), "{from}");
    }
}

#[test]
fn calendar_overnight_intervals() {
    let overnight = |sunday: Vec<Interval>, holiday: bool| {
        with(|s| {
            s.week[5] = ivs(&["22:00-02:00"]);
            s.week[6] = sunday;
            if holiday {
                s.holidays.insert(date("2025-01-18"));
            }
        })
    };
    let (sat, sun) = ("2025-01-18T21:00:00+03:00", "2025-01-19T03:00:00+03:00");
    let cases = [
        (overnight(vec![], false), 4 * 60),
        // Holiday on Saturday removes the Sunday 00–02 part too.
        (overnight(vec![], true), 0),
        // Sunday's own 01–03 overlaps the spill: counted once (22–03).
        (overnight(ivs(&["01:00-03:00"]), false), 5 * 60),
        (overnight(ivs(&["01:00-03:00"]), true), 2 * 60),
    ];
    for (i, (cal, m)) in cases.iter().enumerate() {
        assert_eq!(cal.working_minutes(t(sat), t(sun)), *m, "case {i}");
    }
    let cal = &cases[0].0;
    assert_eq!(
        cal.deadline(t("2025-01-18T23:30:00+03:00"), 60),
        Some(t("2025-01-19T00:30:00+03:00"))
    );
    assert_eq!(
        cal.day_intervals(date("2025-01-18")),
        vec![(
            t("2025-01-18T22:00:00+03:00"),
            t("2025-01-19T02:00:00+03:00")
        )]
    );
}

#[test]
fn calendar_holidays_and_workdays() {
    let cal = with(|s| {
        s.holidays.insert(date("2025-01-15"));
        s.workdays.insert(date("2025-01-18"), None);
        s.workdays
            .insert(date("2025-01-19"), Some(ivs(&["10:00-14:00"])));
        // Holidays beat workdays.
        s.holidays.insert(date("2025-01-25"));
        s.workdays.insert(date("2025-01-25"), None);
    });
    let day = |d: &str| {
        let from = t(&format!("{d}T00:00:00+03:00"));
        cal.working_minutes(from, from + Duration::days(1))
    };
    let cases = [
        ("2025-01-14", 540),
        ("2025-01-15", 0),
        ("2025-01-18", 540),
        ("2025-01-19", 240),
        ("2025-01-25", 0),
        ("2025-01-26", 0),
    ];
    for (d, m) in cases {
        assert_eq!(day(d), m, "{d}");
    }
    assert_eq!(
        cal.deadline(t("2025-01-14T17:00:00+03:00"), 61),
        Some(t("2025-01-16T09:01:00+03:00"))
    );
}

#[test]
fn calendar_24_00_ends() {
    assert_eq!(
        iv("18:00-24:00"),
        Interval {
            start: 64_800,
            end: 86_400
        }
    );
    assert_eq!(iv("00:00-24:00").len(), 86_400);
    assert_eq!(
        iv("22:00-02:00"),
        Interval {
            start: 79_200,
            end: 93_600
        }
    );
    assert!(Interval::parse("24:00-01:00").is_err());
    assert!(Interval::parse("10:00-10:00").is_err());
    let cal = with(|s| s.week = std::array::from_fn(|_| ivs(&["18:00-24:00"])));
    let from = t("2025-01-14T00:00:00+03:00");
    assert_eq!(cal.working_minutes(from, from + Duration::days(2)), 720);
    assert_eq!(
        cal.day_intervals(date("2025-01-14")),
        vec![(
            t("2025-01-14T18:00:00+03:00"),
            t("2025-01-15T00:00:00+03:00")
        )]
    );
    assert_eq!(
        cal.deadline(t("2025-01-14T23:00:00+03:00"), 61),
        Some(t("2025-01-15T18:01:00+03:00"))
    );
}

// ---------------------------------------------------------------------------
// Production calendars.

#[test]
fn calendar_production_days() {
    let cal = with_production();
    let hours = |d: &str| -> Vec<String> {
        cal.local_intervals(date(d))
            .iter()
            .map(ToString::to_string)
            .collect()
    };
    let nine_six = vec!["09:00-18:00".to_string()];
    let nine_five = vec!["09:00-17:00".to_string()];
    let off: Vec<String> = vec![];
    let cases = [
        ("2025-01-01", &off),
        ("2025-01-08", &off),
        ("2025-01-09", &nine_six),
        ("2025-05-01", &off),
        ("2025-05-02", &off),
        ("2025-03-07", &nine_five),
        // The `f` quirk: worked Saturdays only named as transfer sources.
        ("2024-04-27", &nine_six),
        ("2024-12-28", &nine_six),
        // t=2 on a Saturday: Monday's hours, shortened.
        ("2024-11-02", &nine_five),
        ("2024-12-31", &off),
        // 2026: transfer sources listed as days off stay off.
        ("2026-01-03", &off),
        ("2026-01-09", &off),
        ("2026-01-12", &nine_six),
        ("2026-04-30", &nine_five),
        ("2026-12-31", &off),
        ("2027-01-01", &off),
    ];
    for (d, exp) in cases {
        assert_eq!(&hours(d), exp, "{d}");
    }
    assert_eq!(
        cal.day_intervals(date("2025-03-07")),
        vec![(
            t("2025-03-07T09:00:00+03:00"),
            t("2025-03-07T17:00:00+03:00")
        )]
    );
    // Precedence: workdays beat the production calendar, holidays beat both.
    let cal = with(|s| {
        s.production = production();
        s.workdays
            .insert(date("2025-01-03"), Some(ivs(&["10:00-12:00"])));
        s.holidays.insert(date("2025-03-07"));
    });
    assert_eq!(
        cal.local_intervals(date("2025-01-03")),
        ivs(&["10:00-12:00"])
    );
    assert!(cal.local_intervals(date("2025-03-07")).is_empty());
}

#[test]
fn calendar_production_year_totals() {
    // Per the data files: 2025 has 247 working days of which 3 shortened;
    // 2024 has 248 of which 5 shortened (the official 1979-hour norm).
    let cal = with_production();
    let y = |a: &str, b: &str| cal.working_seconds(t(a), t(b)) / 3600;
    assert_eq!(
        y("2025-01-01T00:00:00+03:00", "2026-01-01T00:00:00+03:00"),
        247 * 9 - 3
    );
    assert_eq!(
        y("2024-01-01T00:00:00+03:00", "2025-01-01T00:00:00+03:00"),
        248 * 9 - 5
    );
}

#[test]
fn calendar_production_parser() {
    let mut p = ProductionCalendar::default();
    p.merge_xml(XML[0]).unwrap();
    let get = |d: &str| p.days.get(&date(d)).copied();
    assert_eq!(get("2024-01-01"), Some(ProductionDay::Off));
    assert_eq!(get("2024-02-22"), Some(ProductionDay::Shortened));
    assert_eq!(get("2024-04-27"), Some(ProductionDay::Worked));
    assert_eq!(get("2024-12-28"), Some(ProductionDay::Worked));
    assert_eq!(get("2024-11-02"), Some(ProductionDay::Shortened));
    assert_eq!(get("2024-06-03"), None);
}

#[test]
fn calendar_production_parser_errors() {
    let doc = |days: &str| {
        format!(
            "<?xml version=\"1.0\"?>\n<calendar year=\"2025\">\n<days>\n{days}\n</days>\n</calendar>\n"
        )
    };
    let cases: Vec<(String, usize, &str)> = vec![
        (doc(r#"<day d="01.01" t="4"/>"#), 4, "t="),
        (doc(r#"<day d="13.01" t="1"/>"#), 4, "date"),
        (doc(r#"<day d="02.30" t="1"/>"#), 4, "date"),
        (doc(r#"<day d="0101" t="1"/>"#), 4, "date"),
        (
            doc("<day d=\"01.01\" t=\"1\"/>\n<day d=\"01.02\" t=\"1\" f=\"1.1\"/>"),
            5,
            "f=",
        ),
        (doc(r#"<day t="1"/>"#), 4, "without d"),
        (doc(r#"<day d="01.01"/>"#), 4, "t="),
        ("<calendar>\n<days/></calendar>".into(), 1, "year"),
        ("<calendar year=\"abc\"/>".into(), 1, "year"),
        (
            "<days>\n<day d=\"01.01\" t=\"1\"/></days>".into(),
            2,
            "outside",
        ),
        ("<x/>".into(), 1, "no <calendar"),
        (doc(r#"<day d="01.01" t="1">"#), 5, ""),
        (doc(r#"<day d="01.01" t=1/>"#), 4, ""),
    ];
    for (xml, line, needle) in cases {
        let mut p = ProductionCalendar::default();
        match p.merge_xml(&xml) {
            Err(XmlCalendarError::Invalid { line: l, message }) => {
                assert_eq!(l, line, "{xml}: {message}");
                assert!(message.contains(needle), "{message:?} lacks {needle:?}");
            }
            Ok(()) => panic!("accepted {xml}"),
        }
        assert!(p.days.is_empty(), "partial merge of {xml}");
    }
}

// ---------------------------------------------------------------------------
// Daylight saving.

fn dst_cal(tz: Tz, hours: &[&str]) -> Calendar {
    with(|s| {
        s.timezone = tz;
        s.week = std::array::from_fn(|_| ivs(hours));
    })
}

#[test]
fn calendar_dst_transition_nights() {
    // (zone, night, hours, real seconds worked that day)
    let cases = [
        (Berlin, "2025-03-30", "01:00-05:00", 3 * 3600),
        (Berlin, "2025-10-26", "01:00-05:00", 5 * 3600),
        (Berlin, "2025-03-29", "01:00-05:00", 4 * 3600),
        (New_York, "2025-03-09", "01:00-05:00", 3 * 3600),
        (New_York, "2025-11-02", "01:00-05:00", 5 * 3600),
        // Non-existent local start: moved to the transition instant.
        (Berlin, "2025-03-30", "02:30-04:00", 3600),
        // Ambiguous start: the earlier instant.
        (Berlin, "2025-10-26", "02:30-04:00", 9000),
        (New_York, "2025-11-02", "01:30-03:00", 9000),
        // Wholly inside the gap: nothing.
        (New_York, "2025-03-09", "02:10-02:50", 0),
        // Overnight interval across the change.
        (Berlin, "2025-03-29", "22:00-06:00", 7 * 3600),
        (Berlin, "2025-10-25", "22:00-06:00", 9 * 3600),
    ];
    for (tz, night, hours, secs) in cases {
        let cal = dst_cal(tz, &[hours]);
        let d = date(night);
        let got: i64 = cal
            .day_intervals(d)
            .iter()
            .map(|(s, e)| (*e - *s).num_seconds())
            .sum();
        assert_eq!(got, secs, "{tz} {night} {hours}");
        let from = tz
            .from_local_datetime(&d.and_hms_opt(0, 0, 0).unwrap())
            .unwrap();
        let from = from.with_timezone(&Utc) - Duration::hours(1);
        assert_eq!(
            cal.working_seconds(from, from + Duration::hours(30)),
            ref_working(&cal, from.timestamp(), from.timestamp() + 30 * 3600),
            "{tz} {night} {hours}"
        );
    }
    let cal = dst_cal(Berlin, &["02:30-04:00"]);
    assert_eq!(
        cal.day_intervals(date("2025-03-30")),
        vec![(t("2025-03-30T01:00:00Z"), t("2025-03-30T02:00:00Z"))]
    );
    let cal = dst_cal(Berlin, &["02:30-04:00"]);
    assert_eq!(
        cal.day_intervals(date("2025-10-26")),
        vec![(t("2025-10-26T00:30:00Z"), t("2025-10-26T03:00:00Z"))]
    );
    // Deadlines across the nights.
    let cal = dst_cal(Berlin, &["01:00-05:00"]);
    assert_eq!(
        cal.deadline(t("2025-03-30T01:30:00+01:00"), 60),
        Some(t("2025-03-30T03:30:00+02:00"))
    );
    assert_eq!(
        cal.deadline(t("2025-10-26T01:30:00+02:00"), 120),
        Some(t("2025-10-26T02:30:00+01:00"))
    );
}

/// Minute-by-minute stepping over DST weeks, testing each minute against the
/// per-day intervals directly (no merging).
#[test]
fn calendar_dst_minute_stepping() {
    for (tz, start) in [
        (Berlin, "2025-03-28T00:00:00Z"),
        (New_York, "2025-10-31T00:00:00Z"),
    ] {
        let cal = dst_cal(tz, &["00:30-02:30", "08:00-12:00", "23:00-03:30"]);
        let start = t(start);
        let s0 = start.timestamp();
        let mut days: Vec<(i64, i64)> = Vec::new();
        let mut d = start.with_timezone(&tz).date_naive() - Duration::days(2);
        for _ in 0..8 {
            for i in cal.local_intervals(d) {
                days.push((ref_to_utc(tz, d, i.start), ref_to_utc(tz, d, i.end)));
            }
            d = d.succ_opt().unwrap();
        }
        let mut count = 0;
        for m in 0..4 * 1440 {
            let u = s0 + m * 60;
            assert_eq!(
                cal.working_seconds(start, start + Duration::minutes(m)),
                count * 60
            );
            if days.iter().any(|&(s, e)| s <= u && u < e) {
                count += 1;
                let dl = cal.deadline(start, count as u32).unwrap();
                assert_eq!(dl.timestamp(), u + 60, "{tz} minute {m}");
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Property test against the reference.

fn arb_intervals() -> impl Strategy<Value = Vec<Interval>> {
    prop::collection::vec((0u32..1440, 1u32..1440), 0..3).prop_map(|v| {
        v.into_iter()
            .map(|(s, l)| Interval {
                start: s * 60,
                end: (s + l) * 60,
            })
            .collect()
    })
}

fn arb_spec() -> impl Strategy<Value = (CalendarSpec, i64)> {
    let tz = prop_oneof![Just(Berlin), Just(New_York), Just(Moscow)];
    // Windows around DST changes in both zones.
    let base = prop_oneof![
        Just(date("2025-03-01")),
        Just(date("2025-10-15")),
        Just(date("2024-12-20"))
    ];
    let week = prop::array::uniform7(arb_intervals());
    let holidays = prop::collection::btree_set(0i64..40, 0..4);
    let workdays = prop::collection::btree_map(
        0i64..40,
        prop::option::of(arb_intervals().prop_filter("non-empty", |v| !v.is_empty())),
        0..3,
    );
    (
        tz,
        base,
        week,
        holidays,
        workdays,
        prop::bool::weighted(0.1),
        prop::bool::weighted(0.3),
        0u32..120,
    )
        .prop_map(|(tz, base, week, hol, work, always, prod, short)| {
            let day = |o: i64| base + Duration::days(o);
            let spec = CalendarSpec {
                timezone: tz,
                always_open: always,
                week,
                holidays: hol.into_iter().map(day).collect::<BTreeSet<_>>(),
                workdays: work
                    .into_iter()
                    .map(|(o, h)| (day(o), h))
                    .collect::<BTreeMap<_, _>>(),
                production: if prod {
                    production()
                } else {
                    ProductionCalendar::default()
                },
                shortened_day_minutes: short,
            };
            let base_utc = Utc
                .from_utc_datetime(&base.and_hms_opt(0, 0, 0).unwrap())
                .timestamp();
            (spec, base_utc)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn calendar_matches_reference(
        (spec, base) in arb_spec(),
        off in 0i64..40 * 86_400,
        span in prop_oneof![0i64..7200, 0i64..3 * 86_400, 0i64..12 * 86_400],
        secs in prop_oneof![0i64..7200, 0i64..5 * 86_400],
    ) {
        let cal = Calendar::new(spec);
        let from = base + off;
        let ft = DateTime::from_timestamp(from, 0).unwrap();
        let tt = DateTime::from_timestamp(from + span, 0).unwrap();
        prop_assert_eq!(cal.working_seconds(ft, tt), ref_working(&cal, from, from + span));
        prop_assert_eq!(cal.working_seconds(tt, ft), 0);
        let dl = cal.deadline_seconds(ft, secs);
        let expected = ref_deadline(&cal, from, secs, 60);
        match (dl, expected) {
            (Some(d), Some(e)) => {
                prop_assert_eq!(d.timestamp(), e);
                prop_assert_eq!(cal.working_seconds(ft, d), secs);
            }
            // The reference only looks 60 days ahead.
            (Some(d), None) => prop_assert!(d.timestamp() > from + 59 * 86_400),
            (None, e) => prop_assert!(e.is_none()),
        }
    }
}

#[test]
fn calendar_long_spans_match_reference() {
    // Whole years including DST changes and the production calendars, with
    // overnight hours so spills cross offset changes.
    for tz in [Moscow, Berlin, New_York] {
        let cal = with(|s| {
            s.timezone = tz;
            s.production = production();
            s.week[4] = ivs(&["09:00-18:00", "22:00-01:30"]);
            s.week[5] = ivs(&["01:00-03:00"]);
        });
        let from = t("2024-01-03T11:11:11Z").timestamp();
        let to = t("2027-12-30T07:07:07Z").timestamp();
        let ws = cal.working_seconds(
            DateTime::from_timestamp(from, 0).unwrap(),
            DateTime::from_timestamp(to, 0).unwrap(),
        );
        assert_eq!(ws, ref_working(&cal, from, to), "{tz}");
        let f = DateTime::from_timestamp(from, 0).unwrap();
        let dl = cal.deadline_seconds(f, ws).unwrap();
        assert_eq!(cal.working_seconds(f, dl), ws);
        assert!(dl.timestamp() <= to);
        // The deadline closes a working second.
        assert_eq!(cal.working_seconds(dl - Duration::seconds(1), dl), 1);
    }
}

#[test]
fn calendar_outside_the_offset_table() {
    // Before 1900 and after 2200 the exact per-day path is used; spans that
    // straddle the table's edges mix both paths.
    let cases = [
        ("1899-12-20T10:00:00Z", 20),
        ("2199-12-20T10:00:00Z", 20),
        ("2250-06-01T10:00:00Z", 9),
        ("1850-06-01T10:00:00Z", 9),
    ];
    for tz in [Berlin, New_York] {
        let cal = with(|s| {
            s.timezone = tz;
            s.week[5] = ivs(&["22:00-02:00"]);
        });
        for (from, days) in cases {
            let a = t(from).timestamp();
            let b = a + days * 86_400;
            let (ft, tt) = (t(from), t(from) + Duration::days(days));
            let ws = cal.working_seconds(ft, tt);
            assert_eq!(ws, ref_working(&cal, a, b), "{tz} {from}");
            let dl = cal.deadline_seconds(ft, ws).unwrap();
            assert_eq!(Some(dl.timestamp()), ref_deadline(&cal, a, ws, days + 1));
        }
    }
}
