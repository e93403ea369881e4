//! Rule-based classification of client messages into
//! REQUEST / CLARIFICATION / GRATITUDE / SPAM.
//!
//! The default rules ship in `data/classifier/rules.toml` (compiled in); a
//! file with the same shape can replace them. Anything the rules do not
//! recognise is a REQUEST: a missed request costs more than a false alarm.

mod normalize;
mod rules;

use std::fmt;

use normalize::normalize_into;
use rules::{Group, KeywordMode, RulesFile};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Category {
    Request,
    Clarification,
    Gratitude,
    Spam,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Request => "REQUEST",
            Category::Clarification => "CLARIFICATION",
            Category::Gratitude => "GRATITUDE",
            Category::Spam => "SPAM",
        }
    }

    /// Whether a message of this category, alone, opens a request.
    pub fn opens_request(self) -> bool {
        self == Category::Request
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Classification {
    pub category: Category,
    /// 0.0..=1.0
    pub confidence: f32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RulesError {
    #[error("{message}")]
    Invalid { message: String },
}

/// Compiled classification rules.
///
/// Groups and how they decide (see `data/classifier/rules.toml`):
///
/// 1. empty text → SPAM, confidence 1.0;
/// 2. `spam` evidence stronger than `request` evidence → SPAM (adverts
///    often end in a question mark);
/// 3. `request` evidence at least as strong as `clarification` → REQUEST
///    (thanks or an "ок" in front of a question do not hide it);
/// 4. `clarification` (markers at the start) stronger than `gratitude` →
///    CLARIFICATION ("Ещё раз спасибо!" is thanks);
/// 5. `gratitude` → GRATITUDE;
/// 6. `acknowledgement` (the whole message is an ack/greeting/emoji) → SPAM;
/// 7. weaker `spam` evidence → SPAM;
/// 8. otherwise REQUEST, with `topic` evidence (accounting nouns) raising
///    the confidence above `settings.fallback_confidence`.
#[derive(Debug, Clone)]
pub struct Classifier {
    request: Group,
    clarification: Group,
    gratitude: Group,
    acknowledgement: Group,
    spam: Group,
    topic: Group,
    fallback_confidence: f32,
}

/// The shipped rules, compiled into the binary.
const BUILTIN_RULES: &str = include_str!("../../../data/classifier/rules.toml");

impl Classifier {
    /// The rules that ship with buhbot.
    pub fn builtin() -> Classifier {
        // The file is part of the source tree and covered by tests; failing
        // here is a build defect, not a runtime condition.
        Classifier::from_toml(BUILTIN_RULES).expect("built-in classifier rules are valid")
    }

    /// Rules from a TOML document of the same shape as the built-in file.
    pub fn from_toml(text: &str) -> Result<Classifier, RulesError> {
        let file: RulesFile = toml::from_str(text).map_err(|e| RulesError::Invalid {
            message: format!("classifier rules: {}", e.to_string().trim_end()),
        })?;
        let fallback_confidence = file.settings.fallback_confidence;
        if !(0.0..=1.0).contains(&fallback_confidence) {
            return Err(RulesError::Invalid {
                message: format!(
                    "settings.fallback_confidence {fallback_confidence} is outside 0.0..=1.0"
                ),
            });
        }
        Ok(Classifier {
            request: Group::compile("request", &file.request, KeywordMode::Anywhere)?,
            clarification: Group::compile("clarification", &file.clarification, KeywordMode::Start)?,
            gratitude: Group::compile("gratitude", &file.gratitude, KeywordMode::Anywhere)?,
            acknowledgement: Group::compile(
                "acknowledgement",
                &file.acknowledgement,
                KeywordMode::Whole,
            )?,
            spam: Group::compile("spam", &file.spam, KeywordMode::Anywhere)?,
            topic: Group::compile("topic", &file.topic, KeywordMode::Anywhere)?,
            fallback_confidence,
        })
    }

    pub fn classify(&self, text: &str) -> Classification {
        let mut norm = String::new();
        normalize_into(text, &mut norm);
        self.classify_normalized(&norm)
    }

    fn classify_normalized(&self, text: &str) -> Classification {
        let verdict = |category, confidence: f32| Classification {
            category,
            confidence: confidence.clamp(0.0, 1.0),
        };
        if text.is_empty() {
            return verdict(Category::Spam, 1.0);
        }
        let spam = self.spam.score(text);
        let request = self.request.score(text);
        if spam > request {
            return verdict(Category::Spam, spam);
        }
        let clarification = self.clarification.score(text);
        if request > 0.0 && request >= clarification {
            return verdict(Category::Request, request);
        }
        // Evaluated lazily: most messages are requests and stop above.
        let gratitude = self.gratitude.score(text);
        if clarification > gratitude {
            return verdict(Category::Clarification, clarification);
        }
        if gratitude > 0.0 {
            return verdict(Category::Gratitude, gratitude);
        }
        let ack = self.acknowledgement.score(text);
        if ack > 0.0 {
            return verdict(Category::Spam, ack);
        }
        if spam > 0.0 {
            return verdict(Category::Spam, spam);
        }
        let topic = self.topic.score(text);
        verdict(Category::Request, self.fallback_confidence.max(topic))
    }
}
