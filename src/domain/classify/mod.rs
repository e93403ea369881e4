//! Rule-based classification of client messages into
//! REQUEST / CLARIFICATION / GRATITUDE / SPAM.
//!
//! The default rules ship in `data/classifier/rules.toml` (compiled in); a
//! file with the same shape can replace them. Anything the rules do not
//! recognise is a REQUEST: a missed request costs more than a false alarm.

use std::fmt;

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
#[derive(Debug, Clone)]
pub struct Classifier {}

impl Classifier {
    /// The rules that ship with buhbot.
    pub fn builtin() -> Classifier {
        todo!("classifier")
    }

    /// Rules from a TOML document of the same shape as the built-in file.
    pub fn from_toml(text: &str) -> Result<Classifier, RulesError> {
        let _ = text;
        todo!("classifier")
    }

    pub fn classify(&self, text: &str) -> Classification {
        let _ = text;
        todo!("classifier")
    }
}
