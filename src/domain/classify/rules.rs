//! The rules file: its TOML shape and its compilation into regexes.
//!
//! Every `[[group]]` block becomes at most two regexes — its keywords as one
//! literal alternation, its patterns as another — so classifying a message
//! costs one or two scans per block and no allocation. Blocks carry the weight; a group's score is
//! the noisy-OR of the weights of its matching blocks, so two independent
//! pieces of evidence are stronger than either alone, and the score stays
//! within 0.0..=1.0.

use regex::Regex;
use serde::Deserialize;

use super::RulesError;
use super::normalize::normalize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RulesFile {
    #[serde(default)]
    pub settings: Settings,
    #[serde(default)]
    pub request: Vec<Block>,
    #[serde(default)]
    pub clarification: Vec<Block>,
    #[serde(default)]
    pub gratitude: Vec<Block>,
    #[serde(default)]
    pub acknowledgement: Vec<Block>,
    #[serde(default)]
    pub spam: Vec<Block>,
    #[serde(default)]
    pub topic: Vec<Block>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Settings {
    #[serde(default = "default_fallback")]
    pub fallback_confidence: f32,
    #[serde(default = "default_spam_override")]
    pub spam_override: f32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            fallback_confidence: default_fallback(),
            spam_override: default_spam_override(),
        }
    }
}

fn default_fallback() -> f32 {
    0.55
}

fn default_spam_override() -> f32 {
    0.9
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Block {
    pub name: String,
    pub weight: f32,
    #[serde(default)]
    pub keywords: Vec<String>,
    #[serde(default)]
    pub patterns: Vec<String>,
}

/// Where the keywords of a group may occur. Patterns are free regexes and
/// anchor themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeywordMode {
    /// Anywhere in the message, on word boundaries.
    Anywhere,
    /// Only as the first word(s) of the message.
    Start,
    /// The whole message must consist of these keywords plus punctuation
    /// and emoji.
    Whole,
}

#[derive(Debug, Clone)]
pub(crate) struct Rule {
    #[allow(dead_code)] // kept for Debug output when diagnosing a rules file
    pub name: String,
    pub weight: f32,
    /// Anywhere/start keywords over the text padded with a space at both
    /// ends: the keywords become plain literals (" когда ", " подскаж"),
    /// which the regex crate matches with Aho-Corasick/Teddy instead of a
    /// DFA — several times faster on Cyrillic text.
    pub padded: Option<Regex>,
    /// Patterns (and whole-message keywords) over the unpadded text.
    pub bare: Option<Regex>,
}

/// The compiled blocks of one group.
#[derive(Debug, Clone, Default)]
pub(crate) struct Group {
    pub rules: Vec<Rule>,
}

impl Group {
    /// Noisy-OR of the weights of the blocks that match; 0.0 when none does.
    /// `padded` is `bare` with a space added at both ends.
    pub fn score(&self, padded: &str, bare: &str) -> f32 {
        let mut miss = 1.0f32;
        for rule in &self.rules {
            let hit = rule.padded.as_ref().is_some_and(|r| r.is_match(padded))
                || rule.bare.as_ref().is_some_and(|r| r.is_match(bare));
            if hit {
                miss *= 1.0 - rule.weight;
            }
        }
        1.0 - miss
    }

    pub fn compile(group: &str, blocks: &[Block], mode: KeywordMode) -> Result<Group, RulesError> {
        let rules = blocks
            .iter()
            .enumerate()
            .map(|(i, b)| compile_block(group, i, b, mode))
            .collect::<Result<_, _>>()?;
        Ok(Group { rules })
    }
}

fn invalid(message: String) -> RulesError {
    RulesError::Invalid { message }
}

fn compile_block(
    group: &str,
    index: usize,
    block: &Block,
    mode: KeywordMode,
) -> Result<Rule, RulesError> {
    let at = format!("{group}[{index}] \"{}\"", block.name);
    if !(block.weight > 0.0 && block.weight <= 1.0) {
        return Err(invalid(format!(
            "{at}: weight {} is outside 0.0 < weight <= 1.0",
            block.weight
        )));
    }
    if block.keywords.is_empty() && block.patterns.is_empty() {
        return Err(invalid(format!("{at}: has neither keywords nor patterns")));
    }

    let mut words = Vec::with_capacity(block.keywords.len());
    for (k, keyword) in block.keywords.iter().enumerate() {
        words.push(keyword_regex(keyword, mode).map_err(|why| {
            invalid(format!(
                "{at}: bad keyword {group}.keywords[{k}] {keyword:?}: {why}"
            ))
        })?);
    }

    let mut bare = Vec::with_capacity(block.patterns.len() + 1);
    let mut padded = None;
    if !words.is_empty() {
        let alternation = words.join("|");
        match mode {
            // One token at a time: a keyword, or any single punctuation mark
            // or emoji other than "?" ("ок?" asks something).
            KeywordMode::Whole => bare.push(format!(
                r"^(?:(?:{alternation}|[^\p{{L}}\p{{N}} ?])(?: |$))+$"
            )),
            KeywordMode::Start => padded = Some(format!("^ (?:{alternation})")),
            KeywordMode::Anywhere => padded = Some(alternation),
        }
    }
    for (p, pattern) in block.patterns.iter().enumerate() {
        // The text the pattern sees never contains `ё`; spare the operator
        // from remembering that.
        let pattern = pattern.replace('ё', "е");
        if let Err(e) = Regex::new(&pattern) {
            return Err(invalid(format!(
                "{at}: invalid regex in {group}.patterns[{p}] {pattern:?}: {e}"
            )));
        }
        bare.push(format!("(?:{pattern})"));
    }
    let build = |source: &str| {
        Regex::new(source)
            .map_err(|e| invalid(format!("{at}: the block does not compile as a whole: {e}")))
    };
    let padded = padded.as_deref().map(build).transpose()?;
    let bare = if bare.is_empty() {
        None
    } else {
        Some(build(&bare.join("|"))?)
    };
    Ok(Rule {
        name: block.name.clone(),
        weight: block.weight,
        padded,
        bare,
    })
}

/// One keyword as a regex fragment. A trailing `*` makes it a stem
/// ("подскаж*" matches "подскажите", "подскажешь"). Anywhere/start keywords
/// are matched against the padded text, so a word is " word " and a stem
/// " stem": pure literals.
fn keyword_regex(keyword: &str, mode: KeywordMode) -> Result<String, &'static str> {
    let (body, stem) = match keyword.trim().strip_suffix('*') {
        Some(body) => (body, true),
        None => (keyword, false),
    };
    let norm = normalize(body);
    if norm.is_empty() {
        return Err("empty after normalisation");
    }
    if norm.contains('*') {
        return Err("`*` is only allowed at the end of a keyword");
    }
    let escaped = regex::escape(&norm);
    Ok(match (mode, stem) {
        (KeywordMode::Whole, true) => format!("{escaped}[^ ]*"),
        (KeywordMode::Whole, false) => escaped,
        (KeywordMode::Start, true) => escaped,
        (KeywordMode::Start, false) => format!("{escaped} "),
        (KeywordMode::Anywhere, true) => format!(" {escaped}"),
        (KeywordMode::Anywhere, false) => format!(" {escaped} "),
    })
}
