//! The journald line format.
//!
//! systemd reads a service's stderr line by line; each line becomes one
//! journal entry, and a leading `<N>` (sd-daemon(3)) sets its priority. So:
//! - every event is exactly one line: control characters in messages and
//!   field values (a client's multi-line Telegram message, a pretty `Debug`)
//!   are escaped (`\n`, `\r`, `\t`, `\u{1b}`), which also keeps terminal
//!   escape sequences from a chat out of `journalctl` output;
//! - no timestamp (journald stamps each entry) and no colours;
//! - span context, target and structured fields are kept as
//!   `span{k=v}: target: message k=v`.

use std::fmt::{self, Write as _};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields, MakeWriter};
use tracing_subscriber::registry::LookupSpan;

/// The sd-daemon priority for a tracing level: `<3>` error, `<4>` warning,
/// `<6>` info, `<7>` debug and trace (syslog has nothing below debug).
pub fn priority(level: &Level) -> u8 {
    match *level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        Level::DEBUG | Level::TRACE => 7,
    }
}

/// A subscriber writing the journald format to `writer`; [`super::init`]
/// passes stderr, tests a buffer.
pub fn subscriber<W>(filter: EnvFilter, writer: W) -> impl Subscriber + Send + Sync + 'static
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(false)
        .fmt_fields(JournalFields)
        .event_format(JournalFormat)
        .finish()
}

/// Formats one event as one journald line. Only implemented over
/// [`JournalFields`], so span fields are escaped the same way as event
/// fields.
#[derive(Debug, Clone, Copy, Default)]
pub struct JournalFormat;

impl<S> FormatEvent<S, JournalFields> for JournalFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, JournalFields>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        write!(writer, "<{}>", priority(meta.level()))?;
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                writer.write_str(span.name())?;
                let ext = span.extensions();
                if let Some(fields) = ext.get::<FormattedFields<JournalFields>>()
                    && !fields.is_empty()
                {
                    write!(writer, "{{{fields}}}")?;
                }
                writer.write_str(": ")?;
            }
        }
        write!(writer, "{}: ", meta.target())?;
        ctx.format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

/// Formats fields as `message k=v k2="string"` with control characters
/// escaped; strings are `Debug`-quoted so their boundaries stay visible.
#[derive(Debug, Clone, Copy, Default)]
pub struct JournalFields;

impl<'w> FormatFields<'w> for JournalFields {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'w>, fields: R) -> fmt::Result {
        let mut visitor = FieldVisitor {
            out: Escaper(writer),
            empty: true,
            result: Ok(()),
        };
        fields.record(&mut visitor);
        visitor.result
    }
}

struct FieldVisitor<'w> {
    out: Escaper<'w>,
    empty: bool,
    result: fmt::Result,
}

impl FieldVisitor<'_> {
    fn write(&mut self, field: &Field, value: fmt::Arguments<'_>) {
        // Same convention as tracing-subscriber's default: fields from the
        // `log` bridge are metadata, not content.
        if self.result.is_err() || field.name().starts_with("log.") {
            return;
        }
        let sep = if self.empty { "" } else { " " };
        self.empty = false;
        self.result = if field.name() == "message" {
            write!(self.out, "{sep}{value}")
        } else {
            write!(self.out, "{sep}{}={value}", field.name())
        };
    }
}

impl Visit for FieldVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.write(field, format_args!("{value}"));
        } else {
            self.write(field, format_args!("{value:?}"));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.write(field, format_args!("{value:?}"));
    }
}

/// Escapes control characters on their way to the writer.
struct Escaper<'w>(Writer<'w>);

impl fmt::Write for Escaper<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut rest = s;
        while let Some(i) = rest.find(char::is_control) {
            self.0.write_str(&rest[..i])?;
            let c = rest[i..].chars().next().expect("found a char at i");
            match c {
                '\n' => self.0.write_str("\\n")?,
                '\r' => self.0.write_str("\\r")?,
                '\t' => self.0.write_str("\\t")?,
                c => write!(self.0, "\\u{{{:x}}}", u32::from(c))?,
            }
            rest = &rest[i + c.len_utf8()..];
        }
        self.0.write_str(rest)
    }
}

#[cfg(test)]
pub(crate) mod tests;
