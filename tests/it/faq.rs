//! FAQ auto-answers: the matcher on a labelled Russian corpus
//! (`data/faq/corpus.tsv`, entries in `data/faq/entries.toml`), and the
//! answers through the ingest transaction, the real store and the outbound
//! queue's sender on the recording Telegram fake: a reply to the message,
//! never to staff, once per client per entry per hour (across restarts),
//! counted, and the SLA clock stopped only where a chat says so.

use std::collections::BTreeMap;

use buhbot::bot::faq::FaqCache;
use buhbot::core::event::MessageEvent;
use buhbot::daemon::ingest::BatchOutcome;
use buhbot::domain::faq::{FaqEntry, FaqIndex, split_keywords, stem};
use buhbot::store::{faq, requests};
use chrono::{DateTime, Utc};

const ENTRIES: &str = include_str!("../../data/faq/entries.toml");
const CORPUS: &str = include_str!("../../data/faq/corpus.tsv");

/// The sample entries: (name, question, answer, keywords).
pub fn sample_entries() -> Vec<(String, String, String, String)> {
    let doc: toml::Value = toml::from_str(ENTRIES).unwrap();
    doc["faq"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let s = |k: &str| e[k].as_str().unwrap().to_string();
            (s("name"), s("question"), s("answer"), s("keywords"))
        })
        .collect()
}

struct Row {
    label: Option<String>,
    kind: &'static str,
    text: &'static str,
}

fn corpus() -> Vec<Row> {
    CORPUS
        .lines()
        .map(|line| {
            let mut parts = line.splitn(3, '\t');
            let (label, kind, text) = (
                parts.next().unwrap(),
                parts.next().unwrap(),
                parts.next().unwrap(),
            );
            Row {
                label: (label != "-").then(|| label.to_string()),
                kind,
                text,
            }
        })
        .collect()
}

#[test]
fn the_stemmer_joins_word_forms_and_keeps_short_words_whole() {
    for (a, b) in [
        ("декларация", "декларацию"),
        ("декларации", "декларацией"),
        ("реквизиты", "реквизитами"),
        ("акт", "акты"),
        ("акта", "актов"),
        ("больничный", "больничного"),
        ("подпись", "подписи"),
    ] {
        assert_eq!(stem(a), stem(b), "{a} / {b}");
    }
    assert_eq!(stem("ип"), "ип");
    assert_eq!(stem("акт"), "акт");
    assert_ne!(stem("контакт"), stem("акт"));
    assert_ne!(stem("актуальный"), stem("акт"));
}

/// Every labelled question finds its entry (recall 1.0) and no near miss
/// or unrelated message is answered (precision 1.0); the near misses are
/// real: the original's substring matching answers most of them.
#[test]
fn the_corpus_is_matched_by_whole_words_only() {
    let entries = sample_entries();
    let rows = corpus();
    assert!(rows.len() >= 100, "only {} labelled messages", rows.len());
    let near: Vec<&Row> = rows.iter().filter(|r| r.kind == "near_miss").collect();
    assert!(near.len() >= 30, "only {} near misses", near.len());
    assert!(rows.iter().filter(|r| r.kind == "form").count() >= 30);
    let names: BTreeMap<i64, &str> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| (i as i64 + 1, e.0.as_str()))
        .collect();
    for r in &rows {
        if let Some(l) = &r.label {
            assert!(names.values().any(|n| n == l), "unknown label {l}");
        }
    }
    let index = FaqIndex::build(
        &entries
            .iter()
            .enumerate()
            .map(|(i, e)| FaqEntry {
                id: i as i64 + 1,
                keywords: split_keywords(&e.3),
            })
            .collect::<Vec<_>>(),
    );
    let mut wrong = Vec::new();
    let (mut hits, mut positives, mut false_hits) = (0, 0, 0);
    for r in &rows {
        let got = index.best(r.text, 1).map(|m| names[&m.id].to_string());
        if r.label.is_some() {
            positives += 1;
            hits += usize::from(got == r.label);
        } else {
            false_hits += usize::from(got.is_some());
        }
        if got != r.label {
            wrong.push(format!("{:?} → {got:?}, want {:?}", r.text, r.label));
        }
    }
    let recall = hits as f64 / positives as f64;
    let negatives = rows.len() - positives;
    eprintln!(
        "FAQ corpus: {} messages, recall {recall:.3} ({hits}/{positives}), \
         false matches {false_hits}/{negatives}",
        rows.len()
    );
    assert!(
        wrong.is_empty(),
        "{} wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );

    // The original's matching: a keyword anywhere in the lowercased text.
    let substring = |text: &str| {
        let text = text.to_lowercase().replace('ё', "е");
        entries.iter().any(|e| {
            split_keywords(&e.3)
                .iter()
                .any(|k| text.contains(&k.to_lowercase()))
        })
    };
    // The other near misses share a word, or a word's beginning, with a
    // keyword phrase or a question ("справка из банка", "сверхурочные").
    let fooled = near.iter().filter(|r| substring(r.text)).count();
    eprintln!(
        "substring matching answers {fooled} of {} near misses",
        near.len()
    );
    assert!(
        fooled >= 15,
        "only {fooled} near misses have a keyword inside a longer word"
    );
}

#[test]
fn ties_go_to_the_first_entry_and_the_minimum_score_holds() {
    let index = FaqIndex::build(&[
        FaqEntry {
            id: 7,
            keywords: vec!["акт".into()],
        },
        FaqEntry {
            id: 3,
            keywords: vec!["акт".into(), "акты".into()],
        },
        FaqEntry {
            id: 9,
            keywords: vec!["акт сверки".into()],
        },
    ]);
    // "акты" is the same keyword as "акт" for entry 3: one point each.
    assert_eq!(index.best("Пришлите акт", 1).unwrap().id, 7);
    let m = index.best("Пришлите акт сверки", 1).unwrap();
    assert_eq!((m.id, m.score), (9, 2));
    assert_eq!(index.best("Пришлите акт", 2), None);
    assert_eq!(index.best("🙂 ?", 1), None);
}

// ---------------------------------------------------------------------------
// Through the ingest transaction, the store and the outbound queue.

const CHAT: i64 = -1001555000001;
/// A chat whose FAQ answers stop the SLA clock.
const STOPS: i64 = -1001555000002;
const ACCOUNTANT: i64 = 7100001;
const MANAGER: i64 = 7100009;
const STAFF: i64 = 7100020;
const CLIENT: i64 = 5100001;
const OTHER_CLIENT: i64 = 5100002;

struct Env {
    env: crate::StaffEnv,
    cache: FaqCache,
    reconciliation: i64,
    requisites: i64,
}

impl Env {
    fn new() -> Env {
        let env = crate::StaffEnv::new(
            &format!(
                "[[chats]]\nid = {CHAT}\ntitle = \"ООО Ромашка\"\naccountants = [{ACCOUNTANT}]\n\
                 managers = [{MANAGER}]\n\
                 [[chats]]\nid = {STOPS}\ntitle = \"ИП Сидоров\"\naccountants = [{ACCOUNTANT}]\n\
                 faq_stops_sla = true\n"
            ),
            &[(STAFF, "accountant", "Сотрудник", None)],
        );
        let conn = env.store.conn().unwrap();
        let mut ids = Vec::new();
        for (_, q, a, k) in sample_entries().iter().take(2) {
            ids.push(faq::add(&conn, q, a, &split_keywords(k), 0).unwrap().id);
        }
        Env {
            env,
            cache: FaqCache::default(),
            reconciliation: ids[0],
            requisites: ids[1],
        }
    }

    /// One message through the ingest transaction as on Telegram.
    fn message(&self, chat: i64, id: i64, from: i64, at: &str, text: &str) -> BatchOutcome {
        let ev = crate::user_message(chat, id, from, crate::t(at), text);
        self.feed(ev, Some(&self.cache))
    }

    fn feed(&self, ev: MessageEvent, cache: Option<&FaqCache>) -> BatchOutcome {
        crate::apply_one(&self.env, ev, cache)
    }

    /// The queued FAQ answers: (chat, reply_to, text), in order.
    fn answers(&self) -> Vec<(i64, Option<i64>, String)> {
        let conn = self.env.store.conn().unwrap();
        let mut stmt = conn
            .prepare(
                "SELECT chat_id, reply_to, text FROM outbound_messages
                 WHERE dedupe_key LIKE 'faq:%' ORDER BY id",
            )
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    fn uses(&self, id: i64) -> i64 {
        faq::get(&self.env.store.conn().unwrap(), id)
            .unwrap()
            .unwrap()
            .usage_count
    }

    fn request_status(&self, chat: i64, message: i64) -> String {
        let row = requests::by_message(&self.env.store.conn().unwrap(), chat, message)
            .unwrap()
            .unwrap();
        format!("{:?}", row.status)
    }
}

fn origin() -> DateTime<Utc> {
    crate::t("2025-01-13T10:00:00+03:00")
}

/// The answer is a reply to the client's message in the chat, sent once by
/// the queue's sender through the Telegram fake, even when the message is
/// delivered again.
#[tokio::test(start_paused = true)]
async fn a_matching_client_message_gets_the_answer_as_a_reply() {
    let e = Env::new();
    let out = e.message(
        CHAT,
        10,
        CLIENT,
        "2025-01-13T10:00:00+03:00",
        "Пришлите акт сверки за 2024",
    );
    assert_eq!(out.faq_answers, 1);
    // The same update again (a redelivery): a duplicate, not answered again.
    let again = e.message(
        CHAT,
        10,
        CLIENT,
        "2025-01-13T10:00:00+03:00",
        "Пришлите акт сверки за 2024",
    );
    assert_eq!((again.duplicates, again.faq_answers), (1, 0));
    let answers = e.answers();
    assert_eq!(answers.len(), 1);
    assert_eq!((answers[0].0, answers[0].1), (CHAT, Some(10)));
    assert!(
        answers[0].2.contains("Как получить акт сверки?"),
        "{}",
        answers[0].2
    );
    assert!(
        answers[0].2.contains("Бухгалтер также ответит"),
        "{}",
        answers[0].2
    );
    assert_eq!(e.uses(e.reconciliation), 1);

    let sent = crate::send_queued(&e.env.store, origin(), 1).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!((sent[0].chat_id, sent[0].reply_to), (CHAT, Some(10)));
    assert_eq!(sent[0].text, answers[0].2);
}

/// Staff with the same words are never answered: an accountant and a
/// manager of the chat (configuration), a firm user of no chat.
#[test]
fn staff_are_not_answered() {
    let e = Env::new();
    for (id, who) in [(20, ACCOUNTANT), (21, MANAGER), (22, STAFF)] {
        let out = e.message(
            CHAT,
            id,
            who,
            "2025-01-13T10:00:00+03:00",
            "Акт сверки пришлю завтра",
        );
        assert_eq!(out.faq_answers, 0, "staff {who} answered");
    }
    // Nor commands, nor a chat outside the configuration, nor without the
    // cache (a replay never answers).
    assert_eq!(
        e.message(CHAT, 23, CLIENT, "2025-01-13T10:00:00+03:00", "/акт сверки")
            .faq_answers,
        0
    );
    assert_eq!(
        e.message(-1009, 24, CLIENT, "2025-01-13T10:00:00+03:00", "акт сверки")
            .faq_answers,
        0
    );
    let ev = crate::user_message(CHAT, 25, CLIENT, origin(), "акт сверки");
    assert_eq!(e.feed(ev, None).faq_answers, 0);
    assert!(e.answers().is_empty());
    assert_eq!(e.uses(e.reconciliation), 0);
}

/// One answer per client per entry per hour: the same client asking again
/// within the hour is not answered, another client is, another entry is,
/// and an hour later the client is again, also after a restart (a new
/// cache and engine over the same store).
#[test]
fn at_most_once_per_client_per_entry_per_hour() {
    let e = Env::new();
    let ask = |id, who, at: &str, text: &str| e.message(CHAT, id, who, at, text).faq_answers;
    assert_eq!(
        ask(30, CLIENT, "2025-01-13T10:00:00+03:00", "Нужна сверка"),
        1
    );
    assert_eq!(
        ask(
            31,
            CLIENT,
            "2025-01-13T10:30:00+03:00",
            "Так где акт сверки?"
        ),
        0
    );
    assert_eq!(
        ask(
            32,
            OTHER_CLIENT,
            "2025-01-13T10:30:00+03:00",
            "И нам сверку"
        ),
        1
    );
    assert_eq!(
        ask(
            33,
            CLIENT,
            "2025-01-13T10:31:00+03:00",
            "И реквизиты пришлите"
        ),
        1
    );
    assert_eq!(ask(34, CLIENT, "2025-01-13T10:59:59+03:00", "Сверка?"), 0);
    let restarted = Env {
        env: e.env,
        cache: FaqCache::default(),
        reconciliation: e.reconciliation,
        requisites: e.requisites,
    };
    let ask =
        |id, who, at: &str, text: &str| restarted.message(CHAT, id, who, at, text).faq_answers;
    assert_eq!(ask(35, CLIENT, "2025-01-13T10:59:59+03:00", "Сверка?"), 0);
    assert_eq!(ask(36, CLIENT, "2025-01-13T11:00:00+03:00", "Сверка?"), 1);
    assert_eq!(restarted.uses(restarted.reconciliation), 3);
    assert_eq!(restarted.uses(restarted.requisites), 1);
    let replied: Vec<Option<i64>> = restarted.answers().iter().map(|a| a.1).collect();
    assert_eq!(replied, [Some(30), Some(32), Some(33), Some(36)]);
}

/// By default the request stays open for the accountant; in a chat with
/// `faq_stops_sla = true` the FAQ answer answers it.
#[test]
fn the_sla_clock_stops_only_where_the_chat_says_so() {
    let e = Env::new();
    let text = "Добрый день! Пришлите, пожалуйста, реквизиты для оплаты";
    e.message(CHAT, 40, CLIENT, "2025-01-13T10:00:00+03:00", text);
    e.message(STOPS, 41, CLIENT, "2025-01-13T10:00:00+03:00", text);
    assert_eq!(e.request_status(CHAT, 40), "Open");
    assert_eq!(e.request_status(STOPS, 41), "Answered");
    let answers = e.answers();
    assert_eq!(answers.len(), 2);
    assert!(
        answers[1].2.contains("Если он не помог"),
        "{}",
        answers[1].2
    );
    // Closing the request removed its timers: no alert will fire.
    let timers: i64 = e
        .env
        .store
        .conn()
        .unwrap()
        .query_row(
            "SELECT count(*) FROM timers t JOIN client_requests r ON r.id = t.request_id
             WHERE r.chat_id = ?1",
            [STOPS],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(timers, 0);
}

/// An entry added or removed while the daemon runs is seen by the next
/// message (the index follows the entries' revision, not a restart).
#[test]
fn the_index_follows_entry_changes() {
    let e = Env::new();
    assert_eq!(
        e.message(
            CHAT,
            50,
            CLIENT,
            "2025-01-13T10:00:00+03:00",
            "Как купить патент?"
        )
        .faq_answers,
        0
    );
    let conn = e.env.store.conn().unwrap();
    let (_, q, a, k) = &sample_entries()[10];
    let patent = faq::add(&conn, q, a, &split_keywords(k), 0).unwrap();
    assert_eq!(
        e.message(
            CHAT,
            51,
            CLIENT,
            "2025-01-13T10:01:00+03:00",
            "Как купить патент?"
        )
        .faq_answers,
        1
    );
    faq::remove(&conn, patent.id).unwrap();
    assert_eq!(
        e.message(
            CHAT,
            52,
            OTHER_CLIENT,
            "2025-01-13T10:02:00+03:00",
            "Как купить патент?"
        )
        .faq_answers,
        0
    );
    // Usage counters do not move the revision (no rebuild per answer).
    let before = faq::revision(&conn).unwrap();
    e.message(CHAT, 53, CLIENT, "2025-01-13T10:03:00+03:00", "реквизиты?");
    assert_eq!(faq::revision(&conn).unwrap(), before);
}
