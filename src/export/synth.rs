//! A synthetic single-chat Telegram Desktop export, for benchmarks and load
//! tests of the export reader, the replay and the daemon.
//!
//! The chat is an accountant–client supergroup: three client users
//! (5000001–5000003) and two accountants (7000001, 7000002), the same ids
//! as in `data/examples/chat-export.json`. Dates start on 2025-01-13 09:00
//! Moscow time and advance 1–30 minutes per message around the clock, so
//! nights and weekends occur naturally. The output is deterministic for a
//! given seed. JSON is written by hand: no value tree, so a million
//! messages take a second or two and little memory.

use std::io::{self, Write};

use chrono::{DateTime, Duration, NaiveDateTime};

/// splitmix64: tiny, deterministic, good enough for test data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u64) as usize]
    }
}

const CLIENTS: &[(i64, &str)] = &[
    (5000001, "Иван Петров"),
    (5000002, "Мария Сидорова"),
    (5000003, "Дмитрий Кузнецов"),
];
const ACCOUNTANTS: &[(i64, &str)] = &[(7000001, "Ольга Смирнова"), (7000002, "Анна Козлова")];

const CLIENT_TEXTS: &[&str] = &[
    "Добрый день! Пришлите, пожалуйста, акт сверки с ООО «Вектор» за 3 квартал",
    "Подскажите, до какого числа нужно оплатить НДС?",
    "Выставьте, пожалуйста, счёт на оплату для ИП Орлова на 45 000 ₽",
    "Сотрудник увольняется 28-го, что нужно подготовить?",
    "Пришла требование из налоговой, что с ним делать? 😟",
    "Оплатили аванс поставщику, платёжку прикладываю",
    "Спасибо большое!",
    "ок",
    "Когда будет готова зарплатная ведомость?",
    "Нужна справка об отсутствии задолженности для тендера, срочно",
    "Можно ли отнести на расходы такси для сотрудников?",
    "Добрый вечер, извините что поздно — завтра утром нужен счёт для Альфы",
    "Банк заблокировал платёж, просят пояснения по операции",
    "Подтвердите, пожалуйста, что отчётность за квартал сдана",
];
const ACCOUNTANT_TEXTS: &[&str] = &[
    "Добрый день! Акт сверки во вложении",
    "НДС за 3 квартал — равными долями до 28-го числа каждого месяца",
    "Счёт выставила, отправила на почту",
    "Пришлите, пожалуйста, заявление сотрудника и дату последнего рабочего дня",
    "Посмотрю требование и вернусь с ответом до конца дня",
    "Спасибо, платёжку получила, проведу",
    "Ведомость будет готова завтра к 12:00",
    "Справку запросили, обычно приходит за 1–3 рабочих дня",
    "Да, если есть путевые листы и служебная необходимость",
    "Отчётность сдана, квитанции о приёме во вложении 👍",
    "Подготовила пояснения для банка, проверьте, пожалуйста",
    "Уточните, пожалуйста, номер договора",
];
const CAPTIONS: &[&str] = &["вот скан", "акт подписанный", "", "платёжка", ""];
const FILES: &[(&str, &str)] = &[
    ("akt_sverki.pdf", "application/pdf"),
    ("schet_1457.pdf", "application/pdf"),
    (
        "vedomost_noyabr.xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ),
    ("trebovanie_ifns.pdf", "application/pdf"),
];

fn escape(w: &mut impl Write, s: &str) -> io::Result<()> {
    w.write_all(b"\"")?;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        if c == '"' || c == '\\' || (c as u32) < 0x20 {
            w.write_all(&s.as_bytes()[start..i])?;
            match c {
                '"' => w.write_all(b"\\\"")?,
                '\\' => w.write_all(b"\\\\")?,
                c => write!(w, "\\u{:04x}", c as u32)?,
            }
            start = i + c.len_utf8();
        }
    }
    w.write_all(&s.as_bytes()[start..])?;
    w.write_all(b"\"")
}

fn write_local(w: &mut impl Write, t: NaiveDateTime) -> io::Result<()> {
    write!(w, "\"{}\"", t.format("%Y-%m-%dT%H:%M:%S"))
}

/// Writes an export of `n` messages (ids 1..=n) generated from `seed`.
pub fn write_synthetic(w: &mut impl Write, n: u64, seed: u64) -> io::Result<()> {
    let mut rng = Rng(seed);

    w.write_all(
        "{\n \"name\": \"ООО Ромашка — бухгалтерия\",\n \"type\": \"private_supergroup\",\n \"id\": 1987654321,\n \"messages\": [".as_bytes(),
    )?;
    // Moscow has no DST since 2014: local = UTC + 3h.
    let mut unix: i64 = DateTime::parse_from_rfc3339("2025-01-13T09:00:00+03:00")
        .map(|t| t.timestamp())
        .unwrap_or(1_736_748_000);
    let msk = Duration::hours(3);
    let mut last_client_msg = 0u64;
    for id in 1..=n {
        unix += 60 + rng.below(29 * 60 + 1) as i64;
        let Some(utc) = DateTime::from_timestamp(unix, 0) else {
            break;
        };
        let local = utc.naive_utc() + msk;
        w.write_all(if id == 1 { b"\n  {" } else { b",\n  {" })?;
        write!(w, "\n   \"id\": {id},\n   \"type\": ")?;
        let roll = rng.below(100);
        if id == 1 || roll == 0 {
            // Service entry: a pin or an invitation by an accountant.
            let (uid, name) = rng.pick(ACCOUNTANTS);
            w.write_all(b"\"service\",\n   \"date\": ")?;
            write_local(w, local)?;
            write!(w, ",\n   \"date_unixtime\": \"{unix}\",\n   \"actor\": ")?;
            escape(w, name)?;
            write!(w, ",\n   \"actor_id\": \"user{uid}\",\n")?;
            if id == 1 || rng.below(2) == 0 {
                let (_, member) = rng.pick(CLIENTS);
                w.write_all(b"   \"action\": \"invite_members\",\n   \"members\": [")?;
                escape(w, member)?;
                w.write_all(b"],\n")?;
            } else {
                write!(
                    w,
                    "   \"action\": \"pin_message\",\n   \"message_id\": {},\n",
                    id.saturating_sub(1 + rng.below(5)).max(1)
                )?;
            }
            w.write_all(b"   \"text\": \"\",\n   \"text_entities\": []\n  }")?;
            continue;
        }
        let from_client = roll < 55;
        let (uid, name) = if from_client {
            rng.pick(CLIENTS)
        } else {
            rng.pick(ACCOUNTANTS)
        };
        w.write_all(b"\"message\",\n   \"date\": ")?;
        write_local(w, local)?;
        write!(w, ",\n   \"date_unixtime\": \"{unix}\",\n")?;
        if rng.below(20) == 0 {
            let edit = local + Duration::minutes(1 + rng.below(10) as i64);
            w.write_all(b"   \"edited\": ")?;
            write_local(w, edit)?;
            write!(
                w,
                ",\n   \"edited_unixtime\": \"{}\",\n",
                (edit - msk).and_utc().timestamp()
            )?;
        }
        w.write_all(b"   \"from\": ")?;
        escape(w, name)?;
        write!(w, ",\n   \"from_id\": \"user{uid}\",\n")?;
        if !from_client && last_client_msg > 0 && rng.below(3) == 0 {
            writeln!(w, "   \"reply_to_message_id\": {last_client_msg},")?;
        }
        if from_client {
            last_client_msg = id;
        }
        let media = rng.below(10);
        let text: &str = if media == 0 {
            let (file, mime) = rng.pick(FILES);
            write!(
                w,
                "   \"file\": \"files/{file}\",\n   \"file_name\": \"{file}\",\n   \"file_size\": {},\n   \"mime_type\": \"{mime}\",\n",
                10_000 + rng.below(500_000)
            )?;
            rng.pick(CAPTIONS)
        } else if media == 1 {
            let d = local.format("%d-%m-%Y_%H-%M-%S");
            write!(
                w,
                "   \"photo\": \"photos/photo_{id}@{d}.jpg\",\n   \"photo_file_size\": {},\n   \"width\": 1280,\n   \"height\": 960,\n",
                50_000 + rng.below(200_000)
            )?;
            rng.pick(CAPTIONS)
        } else if from_client {
            rng.pick(CLIENT_TEXTS)
        } else {
            rng.pick(ACCOUNTANT_TEXTS)
        };
        if !text.is_empty() && rng.below(8) == 0 {
            // Formatted text: an array of strings and entities.
            let (head, tail) = text.split_at(text.find(' ').unwrap_or(text.len()));
            w.write_all(b"   \"text\": [\n    {\"type\": \"bold\", \"text\": ")?;
            escape(w, head)?;
            w.write_all(b"},\n    ")?;
            escape(w, tail)?;
            w.write_all(b"\n   ],\n   \"text_entities\": [\n    {\"type\": \"bold\", \"text\": ")?;
            escape(w, head)?;
            w.write_all(b"},\n    {\"type\": \"plain\", \"text\": ")?;
            escape(w, tail)?;
            w.write_all(b"}\n   ]\n  }")?;
        } else {
            w.write_all(b"   \"text\": ")?;
            escape(w, text)?;
            if text.is_empty() {
                w.write_all(b",\n   \"text_entities\": []\n  }")?;
            } else {
                w.write_all(b",\n   \"text_entities\": [\n    {\"type\": \"plain\", \"text\": ")?;
                escape(w, text)?;
                w.write_all(b"}\n   ]\n  }")?;
            }
        }
    }
    w.write_all(b"\n ]\n}\n")?;
    w.flush()
}
