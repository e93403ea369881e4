//! Rule-based classification of client messages into
//! REQUEST / CLARIFICATION / GRATITUDE / SPAM.
//!
//! The default rules ship in `data/classifier/rules.toml` (compiled in); a
//! file with the same shape can replace them. Anything the rules do not
//! recognise is a REQUEST: a missed request costs more than a false alarm.

pub(crate) mod normalize;
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
    /// The classifier's name of the category (also its stored spelling,
    /// see `store::requests`).
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
/// 2. the whole message is acknowledgements/greetings/emoji → GRATITUDE if
///    it carries thanks (🙏), else SPAM;
/// 3. `spam` at or above `settings.spam_override` → SPAM (adverts often end
///    in a question mark and an imperative);
/// 4. `request` evidence at least as strong as `clarification` → REQUEST
///    (thanks or an "ок" in front of a question do not hide it);
/// 5. `clarification` (markers at the start) stronger than `gratitude` →
///    CLARIFICATION ("Ещё раз спасибо!" is thanks);
/// 6. `gratitude` → GRATITUDE;
/// 7. weaker `spam` evidence (congratulations) → SPAM;
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
    spam_override: f32,
}

/// A message in the two forms the rules match against.
struct Text<'a> {
    padded: &'a str,
    bare: &'a str,
}

impl Text<'_> {
    fn score(&self, group: &Group) -> f32 {
        group.score(self.padded, self.bare)
    }
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
        let settings = &file.settings;
        for (key, value) in [
            ("fallback_confidence", settings.fallback_confidence),
            ("spam_override", settings.spam_override),
        ] {
            if !(0.0..=1.0).contains(&value) {
                return Err(RulesError::Invalid {
                    message: format!("settings.{key} {value} is outside 0.0..=1.0"),
                });
            }
        }
        Ok(Classifier {
            request: Group::compile("request", &file.request, KeywordMode::Anywhere)?,
            clarification: Group::compile(
                "clarification",
                &file.clarification,
                KeywordMode::Start,
            )?,
            gratitude: Group::compile("gratitude", &file.gratitude, KeywordMode::Anywhere)?,
            acknowledgement: Group::compile(
                "acknowledgement",
                &file.acknowledgement,
                KeywordMode::Whole,
            )?,
            spam: Group::compile("spam", &file.spam, KeywordMode::Anywhere)?,
            topic: Group::compile("topic", &file.topic, KeywordMode::Anywhere)?,
            fallback_confidence: settings.fallback_confidence,
            spam_override: settings.spam_override,
        })
    }

    pub fn classify(&self, text: &str) -> Classification {
        // The one allocation per call: " normalised text ".
        let mut padded = String::with_capacity(text.len() + 2);
        padded.push(' ');
        normalize_into(text, &mut padded);
        padded.push(' ');
        let bare = &padded[1..padded.len() - 1];
        self.decide(&Text {
            padded: &padded,
            bare,
        })
    }

    fn decide(&self, text: &Text<'_>) -> Classification {
        let verdict = |category, confidence: f32| Classification {
            category,
            confidence: confidence.clamp(0.0, 1.0),
        };
        if text.bare.is_empty() {
            return verdict(Category::Spam, 1.0);
        }
        let ack = text.score(&self.acknowledgement);
        if ack > 0.0 {
            let gratitude = text.score(&self.gratitude);
            return if gratitude > 0.0 {
                verdict(Category::Gratitude, gratitude)
            } else {
                verdict(Category::Spam, ack)
            };
        }
        let spam = text.score(&self.spam);
        if spam >= self.spam_override && spam > 0.0 {
            return verdict(Category::Spam, spam);
        }
        let request = text.score(&self.request);
        let clarification = text.score(&self.clarification);
        if request > 0.0 && request >= clarification {
            return verdict(Category::Request, request);
        }
        // Evaluated lazily: most messages are requests and stop above.
        let gratitude = text.score(&self.gratitude);
        if clarification > gratitude {
            return verdict(Category::Clarification, clarification);
        }
        if gratitude > 0.0 {
            return verdict(Category::Gratitude, gratitude);
        }
        if spam > 0.0 {
            return verdict(Category::Spam, spam);
        }
        let topic = text.score(&self.topic);
        verdict(Category::Request, self.fallback_confidence.max(topic))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(body: &str) -> Classifier {
        Classifier::from_toml(body).unwrap()
    }

    #[test]
    fn exact_keywords_need_whole_words_and_stems_need_a_prefix() {
        let c = rules(
            "[[gratitude]]\nname = \"t\"\nweight = 0.9\nkeywords = [\"спс\", \"благодар*\"]\n",
        );
        assert_eq!(c.classify("Спс!").category, Category::Gratitude);
        assert_eq!(c.classify("спсибо").category, Category::Request);
        assert_eq!(c.classify("Благодарим").category, Category::Gratitude);
        assert_eq!(c.classify("неблагодарный").category, Category::Request);
    }

    #[test]
    fn clarification_keywords_match_only_at_the_start() {
        let c = rules("[[clarification]]\nname = \"c\"\nweight = 0.8\nkeywords = [\"и еще\"]\n");
        assert_eq!(
            c.classify("И ещё за март").category,
            Category::Clarification
        );
        assert_eq!(c.classify("за март и ещё").category, Category::Request);
    }

    #[test]
    fn acknowledgement_keywords_must_cover_the_whole_message() {
        let c = Classifier::builtin();
        for text in ["Ок 👍", "Понял, принято.", "Здравствуйте!", "😀😀", "+"]
        {
            assert_eq!(c.classify(text).category, Category::Spam, "{text}");
        }
        for text in ["ок?", "ок, а где акт", "понял, а сколько платить"]
        {
            assert_eq!(c.classify(text).category, Category::Request, "{text}");
        }
        assert_eq!(c.classify("🙏🏻").category, Category::Gratitude);
    }

    #[test]
    fn more_evidence_means_more_confidence() {
        let c = Classifier::builtin();
        let one = c.classify("пришлите акт").confidence;
        let two = c.classify("подскажите, когда будет акт?").confidence;
        assert!(one < two && two <= 1.0, "{one} {two}");
        let unknown = c.classify("абвгд").confidence;
        let topical = c.classify("акт сверки за 2 квартал").confidence;
        assert!(unknown < topical, "{unknown} {topical}");
    }

    #[test]
    fn adverts_override_question_marks_but_congratulations_do_not() {
        let c = Classifier::builtin();
        let ad = c.classify("Хотите пассивный доход? Пишите в личку!");
        assert_eq!(ad.category, Category::Spam);
        let greet = c.classify("С Новым годом! Когда будет акт?");
        assert_eq!(greet.category, Category::Request);
    }

    #[test]
    fn errors_name_the_block_and_entry() {
        let err = Classifier::from_toml(
            "[[request]]\nname = \"asks\"\nweight = 0.9\nkeywords = [\"ok\", \"по*чему\"]\n",
        )
        .unwrap_err();
        let RulesError::Invalid { message } = err;
        assert!(message.contains("request[0] \"asks\""), "{message}");
        assert!(message.contains("keywords[1]"), "{message}");

        let err = Classifier::from_toml("[[spam]]\nname = \"e\"\nweight = 0.5\n").unwrap_err();
        let RulesError::Invalid { message } = err;
        assert!(
            message.contains("neither keywords nor patterns"),
            "{message}"
        );
    }
}
