//! Classifier: corpus quality targets and acceptance scenarios.

use buhbot::domain::classify::{Category, Classifier, RulesError};

const CORPUS: &str = include_str!("../../data/classifier/corpus.tsv");

const ALL: [Category; 4] = [
    Category::Request,
    Category::Clarification,
    Category::Gratitude,
    Category::Spam,
];

fn label(s: &str) -> Category {
    match s {
        "REQUEST" => Category::Request,
        "CLARIFICATION" => Category::Clarification,
        "GRATITUDE" => Category::Gratitude,
        "SPAM" => Category::Spam,
        other => panic!("unknown corpus label {other:?}"),
    }
}

fn corpus() -> Vec<(Category, &'static str)> {
    CORPUS
        .lines()
        .enumerate()
        .map(|(i, line)| {
            let (l, text) = line
                .split_once('\t')
                .unwrap_or_else(|| panic!("corpus line {} has no tab: {line:?}", i + 1));
            (label(l), text)
        })
        .collect()
}

fn idx(c: Category) -> usize {
    ALL.iter().position(|&x| x == c).unwrap()
}

#[test]
fn classifier_corpus_meets_recall_and_precision_targets() {
    let rows = corpus();
    assert!(rows.len() >= 300, "corpus has only {} lines", rows.len());
    for c in ALL {
        assert!(rows.iter().any(|(l, _)| *l == c), "corpus lacks {c}");
    }

    let classifier = Classifier::builtin();
    let mut matrix = [[0usize; 4]; 4]; // [label][predicted]
    let mut wrong = Vec::new();
    for (expected, text) in &rows {
        let got = classifier.classify(text);
        assert!((0.0..=1.0).contains(&got.confidence), "{text:?}: {got:?}");
        matrix[idx(*expected)][idx(got.category)] += 1;
        if got.category != *expected {
            wrong.push((*expected, got, *text));
        }
    }

    println!("confusion matrix (rows: label, columns: predicted)");
    println!(
        "{:>14} {:>8} {:>8} {:>8} {:>8}",
        "", "REQ", "CLAR", "GRAT", "SPAM"
    );
    for c in ALL {
        let r = matrix[idx(c)];
        println!(
            "{:>14} {:>8} {:>8} {:>8} {:>8}",
            c.as_str(),
            r[0],
            r[1],
            r[2],
            r[3]
        );
    }
    println!("misclassified ({}):", wrong.len());
    for (expected, got, text) in &wrong {
        println!(
            "  {expected} -> {} ({:.2}): {text}",
            got.category, got.confidence
        );
    }

    let requests: usize = matrix[0].iter().sum();
    let recall = matrix[0][0] as f64 / requests as f64;
    let (g, s) = (idx(Category::Gratitude), idx(Category::Spam));
    let predicted_quiet: usize = (0..4).map(|l| matrix[l][g] + matrix[l][s]).sum();
    let truly_quiet = matrix[g][g] + matrix[g][s] + matrix[s][g] + matrix[s][s];
    let precision = truly_quiet as f64 / predicted_quiet.max(1) as f64;
    println!("REQUEST recall {:.1}%", recall * 100.0);
    println!("GRATITUDE+SPAM precision {:.1}%", precision * 100.0);

    assert!(recall >= 0.95, "REQUEST recall {recall:.3} < 0.95");
    assert!(
        precision >= 0.90,
        "GRATITUDE+SPAM precision {precision:.3} < 0.90"
    );
}

fn category(text: &str) -> Category {
    Classifier::builtin().classify(text).category
}

#[test]
fn classifier_acceptance_scenarios() {
    assert_eq!(category("Где мой счёт?"), Category::Request);
    assert_eq!(category("Спасибо!"), Category::Gratitude);
    assert_eq!(
        category("Спасибо! А когда будет акт сверки?"),
        Category::Request
    );
    assert_eq!(category("ок"), Category::Spam);
    assert_eq!(category("понял"), Category::Spam);
    assert_eq!(category("принято"), Category::Spam);
    assert_eq!(category("👍"), Category::Spam);
    assert_eq!(category("🙏"), Category::Gratitude);
    assert_eq!(category("ок, а что с актом?"), Category::Request);
    assert_eq!(category("и ещё за март тоже"), Category::Clarification);
    assert_eq!(
        category("дополню: нужно до пятницы"),
        Category::Clarification
    );
    assert_eq!(category("и ещё, когда будет акт?"), Category::Request);
}

#[test]
fn classifier_empty_text_is_confident_spam() {
    let c = Classifier::builtin();
    for text in ["", "   ", "\n\t "] {
        let got = c.classify(text);
        assert_eq!(got.category, Category::Spam, "{text:?}");
        assert_eq!(got.confidence, 1.0);
    }
}

#[test]
fn classifier_unrecognised_text_is_a_low_confidence_request() {
    let got = Classifier::builtin().classify("qwerty zxcv");
    assert_eq!(got.category, Category::Request);
    assert!(got.confidence <= 0.6, "{got:?}");
    // Stronger evidence means a more confident verdict.
    let strong = Classifier::builtin().classify("Подскажите, когда будет акт?");
    assert!(strong.confidence > 0.9, "{strong:?}");
}

#[test]
fn classifier_from_toml_names_the_invalid_regex() {
    let rules = r#"
        [[gratitude]]
        name = "thanks"
        weight = 0.9
        keywords = ["спасибо"]
        patterns = ['спс', 'благодар', 'мерси', '(unclosed']
    "#;
    let err = Classifier::from_toml(rules).unwrap_err();
    let RulesError::Invalid { message } = &err;
    assert!(message.contains("gratitude"), "{message}");
    assert!(message.contains("thanks"), "{message}");
    assert!(message.contains("patterns[3]"), "{message}");
}

#[test]
fn classifier_from_toml_rejects_bad_weights_and_keys() {
    let weight = "[[spam]]\nname = \"x\"\nweight = 1.5\nkeywords = [\"a\"]\n";
    let RulesError::Invalid { message } = Classifier::from_toml(weight).unwrap_err();
    assert!(message.contains("spam[0] \"x\""), "{message}");

    let unknown = "[[request]]\nname = \"x\"\nweight = 0.5\nkeyword = [\"a\"]\n";
    let RulesError::Invalid { message } = Classifier::from_toml(unknown).unwrap_err();
    assert!(message.contains("keyword"), "{message}");
}

#[test]
fn classifier_custom_rules_override_builtin_behaviour() {
    // With the built-in rules "Спасибо!" is thanks; a custom file that
    // knows only a "жираф" ack and a lower fallback changes that.
    let rules = r#"
        [settings]
        fallback_confidence = 0.4

        [[acknowledgement]]
        name = "zoo"
        weight = 0.8
        keywords = ["жираф*"]
    "#;
    let c = Classifier::from_toml(rules).unwrap();
    let thanks = c.classify("Спасибо!");
    assert_eq!(thanks.category, Category::Request);
    assert_eq!(thanks.confidence, 0.4);
    let ack = c.classify("Жирафы!!");
    assert_eq!(ack.category, Category::Spam);
    assert!((ack.confidence - 0.8).abs() < 1e-6);
}

#[test]
fn classifier_builtin_rules_file_parses() {
    let text = include_str!("../../data/classifier/rules.toml");
    assert!(Classifier::from_toml(text).is_ok());
}
