//! Calendar query cost. Targets (see the calendar module docs): at least
//! 1 M calls/s for spans up to 7 days, and no growth with the span length.
//!
//! Run: `cargo bench --bench calendar -- --warm-up-time 1 --measurement-time 2`

use std::hint::black_box;

use buhbot::domain::calendar::{Calendar, CalendarSpec, Interval, ProductionCalendar};
use chrono::{DateTime, Duration, Utc};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};

const XML: [&str; 4] = [
    include_str!("../data/calendars/ru/2024.xml"),
    include_str!("../data/calendars/ru/2025.xml"),
    include_str!("../data/calendars/ru/2026.xml"),
    include_str!("../data/calendars/ru/2027.xml"),
];

fn calendars() -> Vec<(&'static str, Calendar)> {
    let mut production = ProductionCalendar::default();
    for xml in XML {
        production.merge_xml(xml).expect("bundled calendar parses");
    }
    let moscow = Calendar::new(CalendarSpec {
        production,
        ..CalendarSpec::default()
    });
    // Berlin with a lunch break and an overnight Friday, so DST changes
    // touch working intervals.
    let hours = vec![
        Interval::parse("09:00-13:00").unwrap(),
        Interval::parse("14:00-18:00").unwrap(),
    ];
    let mut week: [Vec<Interval>; 7] =
        std::array::from_fn(|w| if w < 5 { hours.clone() } else { vec![] });
    week[4].push(Interval::parse("22:00-02:00").unwrap());
    let berlin = Calendar::new(CalendarSpec {
        timezone: chrono_tz::Europe::Berlin,
        week,
        ..CalendarSpec::default()
    });
    vec![("moscow_prod", moscow), ("berlin", berlin)]
}

const SPANS: [(&str, i64); 5] = [
    ("1h", 3600),
    ("1d", 86_400),
    ("7d", 7 * 86_400),
    ("1y", 365 * 86_400),
    ("10y", 3652 * 86_400),
];

/// A few start instants spread over the production years so results do
/// not depend on one lucky day.
fn starts() -> Vec<DateTime<Utc>> {
    let base = DateTime::parse_from_rfc3339("2024-03-04T10:17:23+03:00")
        .unwrap()
        .with_timezone(&Utc);
    (0..16)
        .map(|i| base + Duration::seconds(i * 4_711_337))
        .collect()
}

fn working_seconds(c: &mut Criterion) {
    let starts = starts();
    let mut g = c.benchmark_group("working_seconds");
    for (name, cal) in calendars() {
        for (span_name, span) in SPANS {
            g.bench_function(BenchmarkId::new(name, span_name), |b| {
                let mut i = 0;
                b.iter(|| {
                    i = (i + 1) % starts.len();
                    let from = starts[i];
                    black_box(cal.working_seconds(black_box(from), from + Duration::seconds(span)))
                })
            });
        }
    }
    g.finish();
}

fn deadline_seconds(c: &mut Criterion) {
    let starts = starts();
    let mut g = c.benchmark_group("deadline_seconds");
    for (name, cal) in calendars() {
        for (span_name, span) in SPANS {
            // The working time of the span from each start, so the deadline
            // search covers the same calendar span.
            let amounts: Vec<i64> = starts
                .iter()
                .map(|&s| cal.working_seconds(s, s + Duration::seconds(span)).max(1))
                .collect();
            g.bench_function(BenchmarkId::new(name, span_name), |b| {
                let mut i = 0;
                b.iter(|| {
                    i = (i + 1) % starts.len();
                    black_box(cal.deadline_seconds(black_box(starts[i]), black_box(amounts[i])))
                })
            });
        }
    }
    g.finish();
}

criterion_group!(benches, working_seconds, deadline_seconds);
criterion_main!(benches);
