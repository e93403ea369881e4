//! Telegram HTML (the Bot API parse-mode subset our renderers emit) to
//! plain text plus MTProto message entities.
//!
//! Why our own converter rather than grammers' `html` feature: that one
//! pulls in html5ever for a handful of tags, and it panics on a
//! `tg://user?id=` link whose id is not a number. This one never panics,
//! never loses text (a `<` that does not open a known tag is kept
//! literally) and is small enough to test exhaustively.
//!
//! Offsets and lengths are in UTF-16 code units, as Telegram counts them
//! (a Cyrillic letter is 1 unit, most emoji are 2).

use grammers_client::tl;
use tl::enums::MessageEntity;
use tl::types as t;

/// An open tag: what entity it becomes, and where it started.
#[derive(Debug)]
struct Open {
    tag: String,
    offset: i32,
    kind: Pending,
}

#[derive(Debug)]
enum Pending {
    Bold,
    Italic,
    Underline,
    Strike,
    Spoiler,
    Blockquote,
    Code,
    Pre {
        language: String,
    },
    /// `<code class="language-x">` directly inside `<pre>`: it only names
    /// the language of the enclosing pre (the Bot API convention).
    PreLanguage,
    Link {
        url: String,
    },
}

/// Splits Telegram HTML into the text and its entities.
pub fn parse(html: &str) -> (String, Vec<MessageEntity>) {
    let mut text = String::with_capacity(html.len());
    let mut offset: i32 = 0;
    let mut entities: Vec<((i32, i32), MessageEntity)> = Vec::new();
    let mut stack: Vec<Open> = Vec::new();
    let mut rest = html;

    while !rest.is_empty() {
        let Some(pos) = rest.find(['<', '&']) else {
            push_text(&mut text, &mut offset, rest);
            break;
        };
        push_text(&mut text, &mut offset, &rest[..pos]);
        rest = &rest[pos..];
        if rest.starts_with('&') {
            let (decoded, used) = entity(rest);
            push_text(&mut text, &mut offset, &decoded);
            rest = &rest[used..];
            continue;
        }
        match tag(rest) {
            Some((Tag::Open { name, attrs }, used)) => {
                if let Some(kind) = pending(&name, &attrs, stack.last()) {
                    if let (
                        Pending::PreLanguage,
                        Some(Open {
                            kind: Pending::Pre { language },
                            ..
                        }),
                    ) = (&kind, stack.last_mut())
                    {
                        *language = code_language(&attrs);
                    }
                    stack.push(Open {
                        tag: name,
                        offset,
                        kind,
                    });
                } else {
                    // Not a tag we know: keep it as text.
                    push_text(&mut text, &mut offset, &rest[..used]);
                }
                rest = &rest[used..];
            }
            Some((Tag::Close { name }, used)) => {
                if let Some(i) = stack.iter().rposition(|o| o.tag == name) {
                    // Closing an outer tag closes the inner ones too.
                    for open in stack.drain(i..).rev() {
                        if let Some(e) = finish(open, offset) {
                            entities.push(e);
                        }
                    }
                } else {
                    push_text(&mut text, &mut offset, &rest[..used]);
                }
                rest = &rest[used..];
            }
            None => {
                push_text(&mut text, &mut offset, "<");
                rest = &rest[1..];
            }
        }
    }
    // Unclosed tags run to the end of the text.
    for open in stack.drain(..).rev() {
        if let Some(e) = finish(open, offset) {
            entities.push(e);
        }
    }
    // By start, the outer of two entities starting together first: the
    // order Telegram itself lists them in.
    entities.sort_by_key(|&((start, length), _)| (start, std::cmp::Reverse(length)));
    (text, entities.into_iter().map(|(_, e)| e).collect())
}

/// `<code class="language-rust">` names the language `rust`.
fn code_language(attrs: &[(String, String)]) -> String {
    attrs
        .iter()
        .find(|(k, _)| k == "class")
        .and_then(|(_, v)| v.strip_prefix("language-"))
        .unwrap_or_default()
        .to_string()
}

fn push_text(text: &mut String, offset: &mut i32, s: &str) {
    text.push_str(s);
    *offset += s.encode_utf16().count() as i32;
}

fn pending(name: &str, attrs: &[(String, String)], parent: Option<&Open>) -> Option<Pending> {
    let attr = |key: &str| attrs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
    Some(match name {
        "b" | "strong" => Pending::Bold,
        "i" | "em" => Pending::Italic,
        "u" | "ins" => Pending::Underline,
        "s" | "strike" | "del" => Pending::Strike,
        "tg-spoiler" => Pending::Spoiler,
        "span" if attr("class").as_deref() == Some("tg-spoiler") => Pending::Spoiler,
        "blockquote" => Pending::Blockquote,
        "pre" => Pending::Pre {
            language: String::new(),
        },
        "code" => match parent {
            Some(Open {
                kind: Pending::Pre { .. },
                ..
            }) => Pending::PreLanguage,
            _ => Pending::Code,
        },
        "a" => Pending::Link {
            url: attr("href").unwrap_or_default(),
        },
        _ => return None,
    })
}

/// The entity of a closed tag, keyed by its start; none when empty.
fn finish(open: Open, end: i32) -> Option<((i32, i32), MessageEntity)> {
    let (offset, length) = (open.offset, end - open.offset);
    if length <= 0 {
        return None;
    }
    let e: MessageEntity = match open.kind {
        Pending::Bold => t::MessageEntityBold { offset, length }.into(),
        Pending::Italic => t::MessageEntityItalic { offset, length }.into(),
        Pending::Underline => t::MessageEntityUnderline { offset, length }.into(),
        Pending::Strike => t::MessageEntityStrike { offset, length }.into(),
        Pending::Spoiler => t::MessageEntitySpoiler { offset, length }.into(),
        Pending::Blockquote => t::MessageEntityBlockquote {
            offset,
            length,
            collapsed: false,
        }
        .into(),
        Pending::Code => t::MessageEntityCode { offset, length }.into(),
        Pending::Pre { language } => t::MessageEntityPre {
            offset,
            length,
            language,
        }
        .into(),
        // The language was recorded on the pre when the code opened.
        Pending::PreLanguage => return None,
        Pending::Link { url } if url.is_empty() => return None,
        Pending::Link { url } => t::MessageEntityTextUrl {
            offset,
            length,
            url,
        }
        .into(),
    };
    Some(((offset, length), e))
}

enum Tag {
    Open {
        name: String,
        attrs: Vec<(String, String)>,
    },
    Close {
        name: String,
    },
}

/// A tag at the start of `s` and the bytes it takes; `None` when `s` does
/// not start with a well-formed tag.
fn tag(s: &str) -> Option<(Tag, usize)> {
    let end = s.find('>')?;
    let inner = &s[1..end];
    if let Some(name) = inner.strip_prefix('/') {
        let name = name.trim();
        if !is_name(name) {
            return None;
        }
        return Some((
            Tag::Close {
                name: name.to_ascii_lowercase(),
            },
            end + 1,
        ));
    }
    let inner = inner.strip_suffix('/').unwrap_or(inner);
    let name_end = inner.find(char::is_whitespace).unwrap_or(inner.len());
    let name = &inner[..name_end];
    if !is_name(name) {
        return None;
    }
    let attrs = attributes(&inner[name_end..])?;
    Some((
        Tag::Open {
            name: name.to_ascii_lowercase(),
            attrs,
        },
        end + 1,
    ))
}

fn is_name(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// `key="value"` / `key='value'` / `key=value` / `key`, values decoded.
fn attributes(mut s: &str) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    loop {
        s = s.trim_start();
        if s.is_empty() {
            return Some(out);
        }
        let key_end = s
            .find(|c: char| c == '=' || c.is_whitespace())
            .unwrap_or(s.len());
        let key = s[..key_end].to_ascii_lowercase();
        if !is_name(&key) {
            return None;
        }
        s = s[key_end..].trim_start();
        let Some(after_eq) = s.strip_prefix('=') else {
            out.push((key, String::new()));
            continue;
        };
        let after_eq = after_eq.trim_start();
        let (raw, rest) = match after_eq.chars().next() {
            Some(q @ ('"' | '\'')) => {
                let close = after_eq[1..].find(q)? + 1;
                (&after_eq[1..close], &after_eq[close + 1..])
            }
            _ => {
                let e = after_eq.find(char::is_whitespace).unwrap_or(after_eq.len());
                (&after_eq[..e], &after_eq[e..])
            }
        };
        out.push((key, decode(raw)));
        s = rest;
    }
}

fn decode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = rest.find('&') {
        out.push_str(&rest[..pos]);
        let (d, used) = entity(&rest[pos..]);
        out.push_str(&d);
        rest = &rest[pos + used..];
    }
    out.push_str(rest);
    out
}

/// A character reference at the start of `s` (which starts with `&`): its
/// text and the bytes it takes. An unknown one is a literal `&`.
fn entity(s: &str) -> (String, usize) {
    let literal = ("&".to_string(), 1);
    let Some(semi) = s[..s.len().min(12)].find(';') else {
        return literal;
    };
    let name = &s[1..semi];
    let ch = match name {
        "lt" => Some('<'),
        "gt" => Some('>'),
        "amp" => Some('&'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        "nbsp" => Some('\u{a0}'),
        _ => {
            let num = name.strip_prefix('#');
            let code = num.and_then(|n| match n.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok(),
                None => n.parse().ok(),
            });
            code.and_then(char::from_u32)
        }
    };
    match ch {
        Some(c) => (c.to_string(), semi + 1),
        None => literal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bounds(e: &MessageEntity) -> (&'static str, i32, i32) {
        match e {
            MessageEntity::Bold(e) => ("b", e.offset, e.length),
            MessageEntity::Italic(e) => ("i", e.offset, e.length),
            MessageEntity::Underline(e) => ("u", e.offset, e.length),
            MessageEntity::Strike(e) => ("s", e.offset, e.length),
            MessageEntity::Code(e) => ("code", e.offset, e.length),
            MessageEntity::Pre(e) => ("pre", e.offset, e.length),
            MessageEntity::TextUrl(e) => ("a", e.offset, e.length),
            MessageEntity::Spoiler(e) => ("spoiler", e.offset, e.length),
            MessageEntity::Blockquote(e) => ("quote", e.offset, e.length),
            other => panic!("unexpected {other:?}"),
        }
    }

    fn all(html: &str) -> (String, Vec<(&'static str, i32, i32)>) {
        let (text, es) = parse(html);
        (text, es.iter().map(bounds).collect())
    }

    #[test]
    fn cyrillic_and_emoji_offsets_are_utf16_units() {
        // "⏰" is one UTF-16 unit, "🔥" two (a surrogate pair).
        let (text, es) = all("🔥 <b>Клиент:</b> Иван\n<i>Где &lt;мой&gt;…</i> ⏰<u>x</u>");
        assert_eq!(text, "🔥 Клиент: Иван\nГде <мой>… ⏰x");
        assert_eq!(es, vec![("b", 3, 7), ("i", 16, 10), ("u", 28, 1)]);
    }

    #[test]
    fn nesting_links_code_and_pre() {
        let (text, es) = all(
            "<b>жирный <i>и курсив</i></b> <a href=\"https://x.ru/?a=1&amp;b=2\">ссылка</a> \
             <code>1&lt;2</code> <s>нет</s>\n<pre><code class=\"language-rust\">fn f() {}</code></pre>",
        );
        assert_eq!(text, "жирный и курсив ссылка 1<2 нет\nfn f() {}");
        assert_eq!(
            es,
            vec![
                ("b", 0, 15),
                ("i", 7, 8),
                ("a", 16, 6),
                ("code", 23, 3),
                ("s", 27, 3),
                ("pre", 31, 9),
            ]
        );
        let (_, raw) = parse(
            "<a href='https://x.ru/?a=1&amp;b=2'>л</a><pre><code class=\"language-rust\">x</code></pre>",
        );
        match (&raw[0], &raw[1]) {
            (MessageEntity::TextUrl(a), MessageEntity::Pre(p)) => {
                assert_eq!(a.url, "https://x.ru/?a=1&b=2");
                assert_eq!(p.language, "rust");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn stray_markup_is_kept_as_text_and_never_panics() {
        assert_eq!(all("a < b && c > d"), ("a < b && c > d".into(), vec![]));
        assert_eq!(all("<br> <x-y>"), ("<br> <x-y>".into(), vec![]));
        assert_eq!(all("</b>ok"), ("</b>ok".into(), vec![]));
        assert_eq!(all("&#128512;&#x41;&bogus;"), ("😀A&bogus;".into(), vec![]));
        // Unclosed tags run to the end; empty ones vanish.
        assert_eq!(
            all("<b>жир<i>к"),
            ("жирк".into(), vec![("b", 0, 4), ("i", 3, 1)])
        );
        assert_eq!(all("<b></b><a href=\"\">x</a>"), ("x".into(), vec![]));
        for s in ["<", "<a href=\"", "&", "&#;", "<b", "<<>>", "<a href='x>"] {
            let _ = parse(s);
        }
    }
}
