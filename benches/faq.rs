//! FAQ match cost per message with 500 entries (target < 20 µs): the
//! sample entries of `data/faq/entries.toml` plus generated ones with
//! realistic keyword shapes, matched against the labelled corpus
//! (questions, near misses and unrelated messages alike); and the cost of
//! building the index, paid only when the entries change.
//!
//! Run: `cargo bench --bench faq -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use buhbot::domain::faq::{FaqEntry, FaqIndex, split_keywords};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const ENTRIES: &str = include_str!("../data/faq/entries.toml");
const CORPUS: &str = include_str!("../data/faq/corpus.tsv");

/// Words the generated entries' keywords are made of.
const WORDS: &[&str] = &[
    "налог",
    "декларация",
    "отчет",
    "баланс",
    "имущество",
    "транспорт",
    "земля",
    "страховой",
    "взнос",
    "пенсионный",
    "медицинский",
    "сотрудник",
    "договор",
    "счет",
    "оплата",
    "платеж",
    "поручение",
    "выписка",
    "банк",
    "касса",
    "кредит",
    "займ",
    "дивиденды",
    "учредитель",
    "устав",
    "печать",
    "доверенность",
    "регистрация",
    "лицензия",
    "штраф",
    "пени",
    "требование",
    "проверка",
    "камеральная",
    "выездная",
    "инвентаризация",
    "склад",
    "товар",
    "поставщик",
    "покупатель",
    "аренда",
    "амортизация",
    "основные",
    "средства",
    "командировка",
    "суточные",
    "премия",
    "увольнение",
    "прием",
    "табель",
];

fn entries(n: usize) -> Vec<FaqEntry> {
    let doc: toml::Value = toml::from_str(ENTRIES).expect("sample entries parse");
    let mut out: Vec<FaqEntry> = doc["faq"]
        .as_array()
        .expect("[[faq]]")
        .iter()
        .enumerate()
        .map(|(i, e)| FaqEntry {
            id: i as i64 + 1,
            keywords: split_keywords(e["keywords"].as_str().expect("keywords")),
        })
        .collect();
    // Deterministic pseudo-random keywords: two single words and one
    // two-word phrase per entry, drawn from the vocabulary above.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = |m: usize| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % m as u64) as usize
    };
    while out.len() < n {
        let w = |i: usize| WORDS[i];
        let keywords = vec![
            format!("{} {}", w(next(WORDS.len())), w(next(WORDS.len()))),
            w(next(WORDS.len())).to_string(),
            format!("{}{}", w(next(WORDS.len())), ["", "а", "ы", "ов"][next(4)]),
        ];
        out.push(FaqEntry {
            id: out.len() as i64 + 1,
            keywords,
        });
    }
    out
}

fn messages() -> Vec<&'static str> {
    CORPUS
        .lines()
        .filter_map(|l| l.splitn(3, '\t').nth(2))
        .collect()
}

fn bench(c: &mut Criterion) {
    let list = entries(500);
    let index = FaqIndex::build(&list);
    let texts = messages();
    let mut g = c.benchmark_group("faq");
    g.throughput(Throughput::Elements(texts.len() as u64));
    // Per message = this figure / the corpus size (printed as elements/s).
    g.bench_function("match_corpus_500_entries", |b| {
        b.iter(|| {
            let mut hits = 0;
            for t in &texts {
                hits += usize::from(index.best(black_box(t), 1).is_some());
            }
            hits
        })
    });
    g.throughput(Throughput::Elements(1));
    g.bench_function("match_long_message_500_entries", |b| {
        let long = texts.join(" ");
        b.iter(|| index.best(black_box(&long), 1))
    });
    g.bench_function("build_index_500_entries", |b| {
        b.iter(|| FaqIndex::build(black_box(&list)))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
