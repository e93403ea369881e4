//! FAQ matching: which entry, if any, a client's message asks about.
//!
//! Pure: an index is built once from the entries' keywords, then every
//! message is matched against it without I/O. Both sides go through the
//! classifier's normaliser (lowercase, `ё` → `е`, punctuation and emoji
//! split off) and then a light Russian stemmer ([`stem`]) that strips
//! noun and adjective endings, so "декларация", "декларацию" and
//! "декларации" are one word form.
//!
//! Matching is by whole words: a keyword matches a word with the same
//! stem, never a piece of a longer word. The original matched substrings,
//! so "акт" answered "контакт" and "фактура"; here their stems differ.
//! A keyword of several words ("акт сверки") matches those words in a row.
//! An entry scores one point per word of each distinct keyword found; the
//! best entry at or above the minimum score wins (ties: the first built).

use std::collections::HashMap;

use super::classify::normalize::normalize_into;

/// Endings stripped by [`stem`], longest first. Nouns and adjectives only:
/// verb endings ("-ить", "-ет") are also the ends of noun stems ("кредит",
/// "пакет") and would split one noun into two forms.
const ENDINGS: &[&str] = &[
    "иями", "ями", "ами", "иях", "ых", "их", "ого", "его", "ому", "ему", "ыми", "ими", "ией",
    "иям", "ах", "ях", "ов", "ев", "ей", "ий", "ый", "ой", "ая", "яя", "ое", "ее", "ые", "ие",
    "ую", "юю", "ом", "ем", "ам", "ям", "ия", "ья", "ию", "ью", "ии", "ье", "а", "я", "о", "е",
    "ы", "и", "у", "ю", "ь", "й",
];

/// A stem keeps at least this many letters: "акт" stays "акт", and "акта"
/// becomes "акт", but a two-letter word ("ип") is never cut.
const MIN_STEM: usize = 3;

/// The stem of one normalised word: a prefix of it (so no allocation).
pub fn stem(word: &str) -> &str {
    let letters = word.chars().count();
    for ending in ENDINGS {
        if let Some(rest) = word.strip_suffix(ending)
            && letters - ending.chars().count() >= MIN_STEM
        {
            return rest;
        }
    }
    word
}

/// The stems of the words of `text` (punctuation, symbols and emoji left
/// out), borrowed from `buf`, which holds the normalised text.
fn stems<'a>(text: &str, buf: &'a mut String) -> Vec<&'a str> {
    buf.clear();
    normalize_into(text, buf);
    buf.split(' ')
        .filter(|t| t.chars().next().is_some_and(char::is_alphanumeric))
        .map(stem)
        .collect()
}

/// One entry as the index needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaqEntry {
    pub id: i64,
    /// As written: one keyword or phrase each.
    pub keywords: Vec<String>,
}

/// Keywords as the store and the CLI keep them: one string, separated by
/// commas, semicolons or new lines.
pub fn split_keywords(list: &str) -> Vec<String> {
    list.split([',', ';', '\n'])
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(str::to_string)
        .collect()
}

/// Whether `keyword` has a word to match (a keyword of only punctuation
/// or emoji never matches anything).
pub fn is_matchable(keyword: &str) -> bool {
    !stems(keyword, &mut String::new()).is_empty()
}

/// The best entry for a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FaqMatch {
    pub id: i64,
    pub score: u32,
}

#[derive(Debug, Clone)]
struct Phrase {
    /// Index into `ids`.
    entry: u32,
    /// The stems after the first.
    rest: Box<[Box<str>]>,
}

/// The compiled keywords of every entry.
#[derive(Debug, Clone, Default)]
pub struct FaqIndex {
    ids: Vec<i64>,
    phrases: Vec<Phrase>,
    /// First stem of a phrase → the phrases starting with it.
    by_first: HashMap<Box<str>, Vec<u32>>,
}

impl FaqIndex {
    pub fn build(entries: &[FaqEntry]) -> FaqIndex {
        let mut index = FaqIndex::default();
        let mut buf = String::new();
        for e in entries {
            let entry = index.ids.len() as u32;
            index.ids.push(e.id);
            let mut seen: Vec<Vec<String>> = Vec::new();
            for keyword in &e.keywords {
                let words = stems(keyword, &mut buf);
                let Some((first, rest)) = words.split_first() else {
                    continue;
                };
                // The same keyword twice ("акт, акты") counts once.
                if seen
                    .iter()
                    .any(|s| s.iter().map(String::as_str).eq(words.iter().copied()))
                {
                    continue;
                }
                seen.push(words.iter().map(|w| w.to_string()).collect());
                let phrase = index.phrases.len() as u32;
                index.phrases.push(Phrase {
                    entry,
                    rest: rest.iter().map(|w| Box::from(*w)).collect(),
                });
                index
                    .by_first
                    .entry(Box::from(*first))
                    .or_default()
                    .push(phrase);
            }
        }
        index
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The best entry for `text` scoring at least `min_score`.
    pub fn best(&self, text: &str, min_score: u32) -> Option<FaqMatch> {
        if self.phrases.is_empty() {
            return None;
        }
        let mut buf = String::with_capacity(text.len() + 8);
        let words = stems(text, &mut buf);
        // (phrase, points) found, each phrase once.
        let mut found: Vec<(u32, u32)> = Vec::new();
        for (i, w) in words.iter().enumerate() {
            let Some(candidates) = self.by_first.get(*w) else {
                continue;
            };
            for &p in candidates {
                let phrase = &self.phrases[p as usize];
                let tail = &words[i + 1..];
                let fits = tail.len() >= phrase.rest.len()
                    && phrase.rest.iter().zip(tail).all(|(a, b)| **a == **b);
                if fits && !found.iter().any(|(q, _)| *q == p) {
                    found.push((p, 1 + phrase.rest.len() as u32));
                }
            }
        }
        let mut scores: Vec<(u32, u32)> = Vec::new(); // (entry, score)
        for (p, points) in found {
            let entry = self.phrases[p as usize].entry;
            match scores.iter_mut().find(|(e, _)| *e == entry) {
                Some((_, s)) => *s += points,
                None => scores.push((entry, points)),
            }
        }
        scores
            .into_iter()
            .filter(|(_, s)| *s >= min_score)
            .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
            .map(|(entry, score)| FaqMatch {
                id: self.ids[entry as usize],
                score,
            })
    }
}
