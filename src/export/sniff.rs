//! What a file is, from its first bytes: users pass whatever Telegram
//! Desktop (or their archiver) left them, and "expected value at line 1
//! column 1" tells them nothing about an HTML export or a zip.

pub(super) const HTML_HINT: &str = "this is Telegram Desktop's HTML export; export the chat again \
     with \"Format: Machine-readable JSON\" and pass its result.json";

pub(super) enum Head {
    /// Looks like JSON; skip this many bytes (a UTF-8 byte order mark).
    Json { skip: usize },
    Not {
        found: &'static str,
        hint: &'static str,
    },
}

/// Classifies the start of a file. `head` is whatever the first read
/// returned (possibly short for a pipe); anything not recognised is left
/// to the JSON parser, whose error then says what it expected.
pub(super) fn sniff(head: &[u8]) -> Head {
    const BOM: &[u8] = b"\xEF\xBB\xBF";
    let skip = if head.starts_with(BOM) { BOM.len() } else { 0 };
    let body = &head[skip..];
    let not = |found, hint| Head::Not { found, hint };
    if body.starts_with(b"PK\x03\x04") || body.starts_with(b"PK\x05\x06") {
        return not("a zip archive", "unpack it and pass the result.json inside");
    }
    if body.starts_with(b"\x1F\x8B") {
        return not(
            "a gzip-compressed file",
            "decompress it (gunzip) and pass the result",
        );
    }
    if body.starts_with(b"\xFF\xFE") || body.starts_with(b"\xFE\xFF") {
        return not(
            "UTF-16 text",
            "Telegram Desktop writes UTF-8; convert the file (iconv -f UTF-16 -t UTF-8)",
        );
    }
    let text = body.trim_ascii_start();
    if text.first() == Some(&b'<') {
        let lower: Vec<u8> = text.iter().take(64).map(u8::to_ascii_lowercase).collect();
        if lower.starts_with(b"<!doctype html") || lower.starts_with(b"<html") {
            return not("an HTML page", HTML_HINT);
        }
        return not(
            "markup (XML or HTML)",
            "pass the result.json of a JSON export",
        );
    }
    Head::Json { skip }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(head: &[u8]) -> Option<&'static str> {
        match sniff(head) {
            Head::Json { .. } => None,
            Head::Not { found, .. } => Some(found),
        }
    }

    #[test]
    fn recognises_what_is_not_json() {
        assert_eq!(found(b"PK\x03\x04\x14\x00"), Some("a zip archive"));
        assert_eq!(found(b"\x1F\x8B\x08"), Some("a gzip-compressed file"));
        assert_eq!(found(b"\xFF\xFE{\x00"), Some("UTF-16 text"));
        assert_eq!(found(b"\n <!DOCTYPE html>\n<html>"), Some("an HTML page"));
        assert_eq!(found(b"<HTML><head>"), Some("an HTML page"));
        assert_eq!(found(b"<?xml version"), Some("markup (XML or HTML)"));
        assert_eq!(found(b"{\"name\""), None);
        assert_eq!(found(b""), None);
        assert!(matches!(sniff(b"\xEF\xBB\xBF{}"), Head::Json { skip: 3 }));
        assert!(matches!(sniff(b"{}"), Head::Json { skip: 0 }));
    }
}
