//! Text normalisation shared by messages and by the keywords of a rules file.
//!
//! Both sides go through the same function so that an operator can write a
//! keyword the way clients type it ("Счёт", "2-НДФЛ", "❤️") and it still
//! matches. The output is a sequence of tokens separated by exactly one
//! space:
//!
//! - a token is either a run of letters/digits (a word or a number), or a
//!   single other character (punctuation mark, symbol, emoji);
//! - letters are lowercased and `ё` becomes `е`;
//! - emoji presentation selectors, zero-width joiners and skin-tone
//!   modifiers are dropped, so "👍🏻" and "👍", "❤️" and "❤" are the same.
//!
//! Keeping punctuation and emoji as separate tokens (instead of deleting
//! them) is what lets the rules see a question mark, a lone "+" or a 🙏,
//! while word boundaries become a plain space, which keeps the compiled
//! regexes free of Unicode `\b` (the fast DFA engines cannot handle it on
//! Cyrillic text).

/// Characters that only modify how the previous character is drawn.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{FE0E}' | '\u{FE0F}' // text / emoji presentation selectors
        | '\u{200B}'..='\u{200D}' // zero-width space, non-joiner, joiner
        | '\u{2060}' | '\u{FEFF}' // word joiner, BOM
        | '\u{1F3FB}'..='\u{1F3FF}' // skin-tone modifiers
    )
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Last {
    Nothing,
    Word,
    Symbol,
}

/// Append the normalised `text` to `out` (which the caller may have
/// pre-filled, e.g. with a padding space).
pub(crate) fn normalize_into(text: &str, out: &mut String) {
    out.reserve(text.len());
    let mut last = Last::Nothing;
    let mut gap = false;
    for c in text.chars() {
        match kind(c) {
            Kind::Invisible => continue,
            Kind::Space => {
                gap = true;
                continue;
            }
            Kind::Letter(l) => {
                if last == Last::Symbol || (last == Last::Word && gap) {
                    out.push(' ');
                }
                out.push(l);
                last = Last::Word;
            }
            Kind::OtherLetter => {
                if last == Last::Symbol || (last == Last::Word && gap) {
                    out.push(' ');
                }
                out.extend(c.to_lowercase().map(|l| if l == 'ё' { 'е' } else { l }));
                last = Last::Word;
            }
            Kind::Symbol => {
                if last != Last::Nothing {
                    out.push(' ');
                }
                out.push(c);
                last = Last::Symbol;
            }
        }
        gap = false;
    }
}

pub(crate) fn normalize(text: &str) -> String {
    let mut out = String::new();
    normalize_into(text, &mut out);
    out
}

enum Kind {
    Invisible,
    Space,
    /// A letter or digit, already lowercased.
    Letter(char),
    /// A letter or digit outside ASCII/Russian: lowercase with the tables.
    OtherLetter,
    Symbol,
}

/// Fast paths for ASCII and the Russian alphabet: the generic Unicode
/// tables (`is_alphanumeric`, `to_lowercase`) made normalisation the
/// dominant cost of a classification.
fn kind(c: char) -> Kind {
    match c {
        'a'..='z' | '0'..='9' | 'а'..='я' => Kind::Letter(c),
        'A'..='Z' => Kind::Letter(c.to_ascii_lowercase()),
        // 'А'..='Я' are 0x20 below 'а'..='я'
        'А'..='Я' => Kind::Letter(char::from_u32(c as u32 + 0x20).unwrap_or(c)),
        'ё' | 'Ё' => Kind::Letter('е'),
        ' ' | '\t' | '\n' | '\r' => Kind::Space,
        _ if c.is_ascii() => Kind::Symbol,
        _ if is_invisible(c) => Kind::Invisible,
        _ if c.is_whitespace() => Kind::Space,
        _ if c.is_alphanumeric() => Kind::OtherLetter,
        _ => Kind::Symbol,
    }
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn words_punctuation_and_emoji_become_tokens() {
        assert_eq!(
            normalize("  Спасибо!  А когда   будет СЧЁТ?? "),
            "спасибо ! а когда будет счет ? ?"
        );
        assert_eq!(normalize("2-НДФЛ"), "2 - ндфл");
        assert_eq!(normalize("👍🏻"), "👍");
        assert_eq!(normalize("❤️🙏"), "❤ 🙏");
        assert_eq!(normalize("ок)"), "ок )");
        assert_eq!(normalize("\t\n "), "");
    }
}
