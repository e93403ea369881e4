//! Unit tests of the internals; behaviour is tested in `tests/it/calendar.rs`.

use chrono::NaiveDate;
use chrono_tz::{America::New_York, Europe::Berlin, Europe::Moscow, Tz};

use super::index::{Index, exact_day, weekday};
use super::rules::{local_day, normalize};
use super::tz::{Offsets, day_of_date, local_to_utc, offset_slow};
use super::{CalendarSpec, Interval, ProductionDay};

fn iv(s: &str) -> Interval {
    Interval::parse(s).unwrap()
}

fn date(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

#[test]
fn normalize_merges_and_sorts() {
    let got = normalize(vec![
        iv("14:00-18:00"),
        iv("09:00-13:00"),
        iv("12:00-14:00"),
    ]);
    assert_eq!(got, vec![iv("09:00-18:00")]);
    let got = normalize(vec![
        iv("22:00-02:00"),
        iv("23:00-23:30"),
        iv("01:00-02:00"),
    ]);
    assert_eq!(got, vec![iv("01:00-02:00"), iv("22:00-02:00")]);
}

#[test]
fn weekday_numbering() {
    // 1970-01-01 was a Thursday; 2025-01-13 a Monday.
    assert_eq!(weekday(0), 3);
    assert_eq!(weekday(day_of_date(date("2025-01-13"))), 0);
    assert_eq!(weekday(-1), 2);
}

#[test]
fn every_zone_has_its_own_table_cell() {
    // ZONES is chrono-tz's zone count, written out because it is not a
    // constant expression there: an upgrade that adds zones fails here.
    assert_eq!(chrono_tz::TZ_VARIANTS.len(), super::tz::ZONES);
    for (i, tz) in chrono_tz::TZ_VARIANTS.iter().enumerate() {
        assert_eq!(*tz as usize, i, "{tz}");
    }
    // One table per zone, shared by every calendar in it.
    assert!(std::sync::Arc::ptr_eq(
        &Offsets::get(Moscow),
        &Offsets::get(Moscow)
    ));
}

#[test]
fn offset_table_matches_chrono_tz() {
    for tz in [Berlin, New_York, Moscow] {
        let table = Offsets::get(tz);
        // A deterministic scatter of instants over 1901–2199, plus every
        // known change ± 1 s.
        let mut t = -2_200_000_000_i64;
        while t < 7_250_000_000 {
            assert_eq!(table.at(t), offset_slow(tz, t), "{tz} at {t}");
            t += 3_999_971;
        }
        for &x in &table.trans {
            for y in [x - 1, x, x + 1] {
                assert_eq!(table.at(y), offset_slow(tz, y), "{tz} at {y}");
            }
        }
        assert!(table.trans.windows(2).all(|w| w[0] < w[1]));
    }
}

#[test]
fn local_to_utc_policy() {
    let cases: [(Tz, &str, u32, i64); 4] = [
        // Berlin 2025-03-30 02:30 does not exist → 01:00 UTC.
        (Berlin, "2025-03-30", 9000, 1_743_296_400),
        // Berlin 2025-10-26 02:30 is ambiguous → the CEST one, 00:30 UTC.
        (Berlin, "2025-10-26", 9000, 1_761_438_600),
        // An end past midnight is the next day's wall clock.
        (Moscow, "2025-01-13", 86_400 + 7200, 1_736_809_200),
        (New_York, "2025-03-09", 2 * 3600 + 59 * 60, 1_741_503_600),
    ];
    for (tz, d, secs, want) in cases {
        assert_eq!(
            local_to_utc(tz, date(d), secs),
            Some(want),
            "{tz} {d} {secs}"
        );
    }
}

#[test]
fn shortened_day_rules() {
    let mut spec = CalendarSpec::default();
    spec.week[0] = vec![iv("09:00-13:00"), iv("14:00-18:00")];
    spec.production
        .days
        .insert(date("2025-01-13"), ProductionDay::Shortened);
    spec.production
        .days
        .insert(date("2025-01-18"), ProductionDay::Shortened);
    spec.shortened_day_minutes = 300;
    // Clipped at 18:00 − 5 h = 13:00: the afternoon disappears.
    assert_eq!(
        local_day(&spec, date("2025-01-13")),
        vec![iv("09:00-13:00")]
    );
    // A Saturday takes Monday's hours.
    assert_eq!(
        local_day(&spec, date("2025-01-18")),
        vec![iv("09:00-13:00")]
    );
    spec.shortened_day_minutes = 60;
    assert_eq!(
        local_day(&spec, date("2025-01-13")),
        vec![iv("09:00-13:00"), iv("14:00-17:00")]
    );
}

#[test]
fn index_agrees_with_exact_days() {
    let mut spec = CalendarSpec {
        timezone: Berlin,
        ..CalendarSpec::default()
    };
    spec.week[5] = vec![iv("22:00-03:00")];
    spec.week[6] = vec![iv("02:00-04:00")];
    spec.holidays.insert(date("2025-03-29"));
    let ix = Index::build(&spec);
    let first = day_of_date(date("2025-01-01"));
    for d in first..first + 400 {
        let mut fast = Vec::new();
        ix.for_day(&spec, d, |s, e| fast.push((s, e)));
        assert_eq!(fast, exact_day(&spec, d), "day {d}");
        let sum: i64 = fast.iter().map(|(s, e)| e - s).sum();
        assert_eq!(ix.range_sum(&spec, d, d + 1), sum, "day {d}");
    }
}

#[test]
fn normalize_enforces_day_bounds() {
    let raw = |start, end| Interval { start, end };
    assert_eq!(
        normalize(vec![raw(90_000, 91_000), raw(80_000, 400_000)]),
        vec![raw(80_000, 172_800)]
    );
}
