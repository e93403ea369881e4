//! Export dates. `date_unixtime` (a string of seconds) is exact and wins;
//! older exports only have `date`, the exporting computer's local wall time
//! without an offset, which we can only interpret in a configured zone.

use chrono::{DateTime, Duration, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

/// Parses `date_unixtime`: decimal seconds, as a string in real exports.
pub(super) fn parse_unixtime(s: &str) -> Option<DateTime<Utc>> {
    let secs: i64 = s.trim().parse().ok()?;
    DateTime::from_timestamp(secs, 0)
}

/// Parses the local `YYYY-MM-DDTHH:MM:SS` of `date`/`edited` by hand: it is
/// on every message and chrono's format-string parser is comparatively slow.
pub(super) fn parse_local(s: &str) -> Option<NaiveDateTime> {
    let b = s.as_bytes();
    if b.len() != 19 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' && b[10] != b' ' {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<u32> {
        b[from..to].iter().try_fold(0u32, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    let date = NaiveDate::from_ymd_opt(num(0, 4)? as i32, num(5, 7)?, num(8, 10)?)?;
    date.and_hms_opt(num(11, 13)?, num(14, 16)?, num(17, 19)?)
}

/// Local wall time → instant in `tz`. Times in a DST gap (which a clock
/// can't show, but a sloppy exporter may write) are moved forward by the
/// gap, i.e. read with the offset in force before it; ambiguous times in a
/// fall-back hour take the earlier instant.
pub(super) fn local_to_utc(tz: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
        LocalResult::Ambiguous(earlier, later) => Some(earlier.min(later).with_timezone(&Utc)),
        LocalResult::None => {
            // The offset a day earlier is the one before the gap (zones do not
            // change offset twice within a day).
            let probe = local.checked_sub_signed(Duration::days(1))?;
            let before = tz.offset_from_utc_datetime(&probe);
            let shift = chrono::Offset::fix(&before).local_minus_utc();
            let utc = local.checked_sub_signed(Duration::seconds(i64::from(shift)))?;
            Some(utc.and_utc())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn local_dates_parse_strictly() {
        assert!(parse_local("2025-11-03T09:15:12").is_some());
        assert!(parse_local("2025-11-03 09:15:12").is_some());
        assert!(parse_local("2025-13-03T09:15:12").is_none());
        assert!(parse_local("2025-11-03T25:15:12").is_none());
        assert!(parse_local("2025-11-03T09:15").is_none());
        assert!(parse_local("2025-11-0xT09:15:12").is_none());
        assert!(parse_local("").is_none());
        assert!(parse_local("ЁЁЁЁЁЁЁЁЁT").is_none());
    }

    #[test]
    fn unixtime_parses_and_rejects_garbage() {
        assert_eq!(
            parse_unixtime("1762150512"),
            Some(utc("2025-11-03T06:15:12Z"))
        );
        assert_eq!(parse_unixtime("17621x"), None);
        assert_eq!(parse_unixtime("99999999999999999"), None);
    }

    #[test]
    fn dst_gap_moves_forward_and_overlap_takes_earlier() {
        let tz: Tz = "Europe/Berlin".parse().unwrap();
        let gap = parse_local("2025-03-30T02:30:00").unwrap();
        assert_eq!(local_to_utc(tz, gap), Some(utc("2025-03-30T01:30:00Z")));
        let overlap = parse_local("2025-10-26T02:30:00").unwrap();
        assert_eq!(local_to_utc(tz, overlap), Some(utc("2025-10-26T00:30:00Z")));
        let moscow: Tz = "Europe/Moscow".parse().unwrap();
        let t = parse_local("2025-11-03T09:15:12").unwrap();
        assert_eq!(local_to_utc(moscow, t), Some(utc("2025-11-03T06:15:12Z")));
    }
}
