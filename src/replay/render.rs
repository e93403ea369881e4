//! Report formats: a readable text report, one JSON object per chat, CSV.

use std::collections::BTreeMap;
use std::io::{self, Write};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use super::{ChatReport, RequestReport};
use crate::domain::sla::{RequestFigures, Summary};
use crate::store::codec::StoredEnum;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
    Csv,
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn opt_ts(t: Option<DateTime<Utc>>) -> Option<String> {
    t.map(ts)
}

#[derive(Serialize)]
struct JsonChat<'a> {
    id: i64,
    name: Option<&'a str>,
    /// The basic groups whose history came first (only when there are).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    merged_from: Vec<JsonChat<'a>>,
}

#[derive(Serialize)]
struct JsonAlert {
    kind: &'static str,
    level: u32,
    at: String,
}

#[derive(Serialize)]
struct JsonRequest {
    message_id: i64,
    client_id: i64,
    received_at: String,
    answered_at: Option<String>,
    answered_by: Option<i64>,
    working_minutes: i64,
    breached: bool,
    breached_at: Option<String>,
    excess_minutes: i64,
    alerts: Vec<JsonAlert>,
}

fn json_request(r: &RequestReport) -> JsonRequest {
    JsonRequest {
        message_id: r.message_id,
        client_id: r.client_id,
        received_at: ts(r.received_at),
        answered_at: opt_ts(r.answered_at),
        answered_by: r.answered_by,
        working_minutes: r.working_minutes,
        breached: r.breached,
        breached_at: opt_ts(r.breached_at),
        excess_minutes: r.excess_minutes,
        alerts: r
            .alerts
            .iter()
            .map(|a| JsonAlert {
                kind: a.kind.as_str(),
                level: a.level,
                at: ts(a.due),
            })
            .collect(),
    }
}

/// Writes one chat's report. `first` tells whether a CSV header is due.
pub fn render(
    out: &mut dyn Write,
    report: &ChatReport,
    format: Format,
    first: bool,
) -> io::Result<()> {
    match format {
        Format::Json => {
            // Streamed request by request: the report of a huge chat is
            // never held in memory as one document.
            let chat = JsonChat {
                id: report.chat.id,
                name: report.chat.name.as_deref(),
                merged_from: report
                    .merged_from
                    .iter()
                    .map(|c| JsonChat {
                        id: c.id,
                        name: c.name.as_deref(),
                        merged_from: Vec::new(),
                    })
                    .collect(),
            };
            out.write_all(b"{\"chat\":")?;
            serde_json::to_writer(&mut *out, &chat)?;
            out.write_all(b",\"requests\":[")?;
            for (i, r) in report.requests().enumerate() {
                if i > 0 {
                    out.write_all(b",")?;
                }
                serde_json::to_writer(&mut *out, &json_request(&r))?;
            }
            out.write_all(b"],\"summary\":")?;
            serde_json::to_writer(&mut *out, &report.summary())?;
            out.write_all(b"}\n")
        }
        Format::Csv => render_csv(out, report, first),
        Format::Text => render_text(out, report),
    }
}

fn render_csv(out: &mut dyn Write, report: &ChatReport, header: bool) -> io::Result<()> {
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(out);
    if header {
        w.write_record([
            "chat_id",
            "message_id",
            "client_id",
            "received_at",
            "answered_at",
            "answered_by",
            "working_minutes",
            "breached",
            "breached_at",
            "excess_minutes",
            "alerts",
        ])?;
    }
    for r in report.requests() {
        let alerts: Vec<String> = r
            .alerts
            .iter()
            .map(|a| format!("{}:{}@{}", a.kind.as_str(), a.level, ts(a.due)))
            .collect();
        w.write_record([
            report.chat.id.to_string(),
            r.message_id.to_string(),
            r.client_id.to_string(),
            ts(r.received_at),
            opt_ts(r.answered_at).unwrap_or_default(),
            r.answered_by.map(|a| a.to_string()).unwrap_or_default(),
            r.working_minutes.to_string(),
            r.breached.to_string(),
            opt_ts(r.breached_at).unwrap_or_default(),
            r.excess_minutes.to_string(),
            alerts.join(";"),
        ])?;
    }
    w.flush()
}

fn render_text(out: &mut dyn Write, report: &ChatReport) -> io::Result<()> {
    let name = |id: i64| {
        report
            .names
            .get(&id)
            .map_or_else(|| id.to_string(), |n| format!("{n} ({id})"))
    };
    let s = report.summary();
    writeln!(
        out,
        "Chat {} ({}): {} messages, threshold {} working minutes, times in {}{}",
        report.chat.name.as_deref().unwrap_or("unnamed"),
        report.chat.id,
        report.messages,
        report.policy.threshold_minutes,
        report.calendar.timezone(),
        report
            .until
            .map(|u| format!(", until {}", ts(u)))
            .unwrap_or_default()
    )?;
    for group in &report.merged_from {
        writeln!(
            out,
            "Includes the history of group {} before it became this supergroup",
            super::describe(group)
        )?;
    }
    if report.unsupported > 0 {
        writeln!(
            out,
            "{} messages this Telegram Desktop could not export (\"unsupported\") were left out",
            report.unsupported
        )?;
    }
    if report.reordered > 0 {
        writeln!(
            out,
            "{} messages dated before an earlier one were taken at that earlier time",
            report.reordered
        )?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "{:>8}  {:<20}  {:<20}  {:>7}  {:<8}  client → answered by",
        "message", "received", "answered", "minutes", "status"
    )?;
    let tz = report.calendar.timezone();
    let local = |t: DateTime<Utc>| t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string();
    for r in report.requests() {
        let status = match (r.answered_at, r.breached) {
            (Some(_), false) => "in time",
            (Some(_), true) => "LATE",
            (None, true) => "BREACHED",
            (None, false) => "open",
        };
        writeln!(
            out,
            "{:>8}  {:<20}  {:<20}  {:>7}  {:<8}  {} → {}",
            r.message_id,
            local(r.received_at),
            r.answered_at.map_or_else(|| "—".into(), local),
            r.working_minutes,
            status,
            name(r.client_id),
            r.answered_by.map_or_else(|| "—".into(), name),
        )?;
    }
    // Per accountant: answers given, median response, late answers, by the
    // definitions of the summary (and of `buhbot report sla`).
    let mut per: BTreeMap<i64, Vec<RequestFigures>> = BTreeMap::new();
    for r in report.requests() {
        if let Some(by) = r.answered_by {
            per.entry(by).or_default().push(RequestFigures {
                breached: r.breached,
                answered_minutes: Some(r.working_minutes),
            });
        }
    }
    writeln!(out)?;
    writeln!(
        out,
        "{:<40}  {:>8}  {:>14}  {:>5}",
        "accountant", "answered", "median minutes", "late"
    )?;
    for (by, figures) in per {
        let a = Summary::of(figures);
        writeln!(
            out,
            "{:<40}  {:>8}  {:>14}  {:>5}",
            name(by),
            a.answered,
            a.median_minutes.unwrap_or(0),
            a.breached
        )?;
    }
    let fmt_opt = |v: Option<i64>| v.map_or_else(|| "—".into(), |v| v.to_string());
    writeln!(out)?;
    writeln!(
        out,
        "Requests {}, answered {}, breached {}, compliance {}, median {} min, p95 {} min",
        s.requests,
        s.answered,
        s.breached,
        s.compliance_percent
            .map_or_else(|| "—".into(), |c| format!("{c:.1} %")),
        fmt_opt(s.median_minutes),
        fmt_opt(s.p95_minutes),
    )?;
    writeln!(out)
}
