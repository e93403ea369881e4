use std::io;
use std::sync::{Arc, Mutex};

use tracing::{debug, error, info, info_span, trace, warn};

use super::*;

/// A writer capturing everything into a shared buffer.
#[derive(Clone, Default)]
pub(crate) struct Capture(pub(crate) Arc<Mutex<Vec<u8>>>);

impl Capture {
    pub(crate) fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

impl io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Runs `f` under the journald subscriber (everything enabled) and returns
/// what it wrote.
fn capture(f: impl FnOnce()) -> String {
    let buf = Capture::default();
    let writer = buf.clone();
    let sub = subscriber(EnvFilter::new("trace"), move || writer.clone());
    tracing::subscriber::with_default(sub, f);
    buf.text()
}

#[test]
fn priorities_per_level() {
    let out = capture(|| {
        error!("e");
        warn!("w");
        info!("i");
        debug!("d");
        trace!("t");
    });
    let prefixes: Vec<&str> = out.lines().map(|l| &l[..3]).collect();
    assert_eq!(prefixes, ["<3>", "<4>", "<6>", "<7>", "<7>"]);
}

#[test]
fn exact_line_with_target_and_fields() {
    let out = capture(|| {
        info!(target: "buhbot::ingest", chat = 42, name = "Ромашка", ok = true, "saved");
    });
    assert_eq!(
        out,
        "<6>buhbot::ingest: saved chat=42 name=\"Ромашка\" ok=true\n"
    );
}

#[test]
fn fields_without_message() {
    let out = capture(|| warn!(target: "t", lag_ms = 1500_u64));
    assert_eq!(out, "<4>t: lag_ms=1500\n");
}

#[test]
fn spans_are_kept_with_their_fields() {
    let out = capture(|| {
        let outer = info_span!("poll", chat = 7);
        let _o = outer.enter();
        let inner = info_span!("message", id = 3);
        let _i = inner.enter();
        info!(target: "t", "got it");
    });
    assert_eq!(out, "<6>poll{chat=7}: message{id=3}: t: got it\n");
}

#[test]
fn newlines_are_escaped_into_one_line() {
    #[derive(Debug)]
    #[allow(dead_code)] // only read through Debug
    struct Pretty {
        a: u8,
        b: u8,
    }
    let text = "Добрый день!\r\nПришлите акт\tсверки";
    let out = capture(|| {
        error!(
            target: "t",
            text = %text,
            quoted = text,
            pretty = format!("{:#?}", Pretty { a: 1, b: 2 }),
            "first\nsecond"
        );
    });
    assert_eq!(out.lines().count(), 1, "{out:?}");
    assert!(out.ends_with('\n'));
    assert!(out.starts_with("<3>t: first\\nsecond "), "{out}");
    assert!(
        out.contains("text=Добрый день!\\r\\nПришлите акт\\tсверки"),
        "{out}"
    );
    // Debug-quoted strings were already escaped by Debug; no double escaping.
    assert!(
        out.contains(r#"quoted="Добрый день!\r\nПришлите акт\tсверки""#),
        "{out}"
    );
    assert!(out.contains("pretty=\"Pretty {\\n    a: 1,"), "{out}");
}

#[test]
fn span_fields_are_escaped_too() {
    let out = capture(|| {
        let span = info_span!("s", note = %"a\nb");
        let _e = span.enter();
        info!(target: "t", "x");
    });
    assert_eq!(out, "<6>s{note=a\\nb}: t: x\n");
}

#[test]
fn no_ansi_escapes_even_from_message_content() {
    let out = capture(|| {
        error!("\x1b[31mred\x1b[0m from a chat");
        warn!(payload = %"\x1b]8;;http://evil\x07link", "w");
    });
    assert!(!out.contains('\x1b'), "{out:?}");
    assert!(!out.contains('\x07'), "{out:?}");
    assert!(out.contains("\\u{1b}[31mred"), "{out}");
}

#[test]
fn redacted_secrets_stay_redacted() {
    // Stand-in for the config's secret type: the formatter must print exactly
    // what Display/Debug give and nothing else (no field introspection).
    struct Token(#[allow(dead_code)] &'static str);
    impl fmt::Debug for Token {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("[redacted]")
        }
    }
    impl fmt::Display for Token {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("[redacted]")
        }
    }
    let token = Token("123456:ABC-secret");
    let out = capture(|| info!(target: "t", shown = %token, debugged = ?token, "connecting"));
    assert_eq!(
        out,
        "<6>t: connecting shown=[redacted] debugged=[redacted]\n"
    );
}

#[test]
fn escaper_handles_multibyte_around_controls() {
    let mut s = String::new();
    write!(Escaper(Writer::new(&mut s)), "ё\nж\u{85}з\u{7f}").unwrap();
    assert_eq!(s, "ё\\nж\\u{85}з\\u{7f}");
}
