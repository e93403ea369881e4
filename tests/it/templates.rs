//! `/template NAME` (`/t NAME`): staff post a reply template with its
//! variables filled from the store, the chat and its calendar; errors go
//! to the staff member privately, through the same outbound queue and
//! Telegram fake as every reply; clients are refused; uses are counted.

use buhbot::bot::parse::{Command, parse};
use buhbot::bot::{CommandContext, Reply, Route, handle};
use buhbot::store::{templates, write_tx};
use buhbot::telegram::outbound::queue;

const CHAT: i64 = -1001666000001;
/// A chat without any client message yet.
const EMPTY: i64 = -1001666000002;
const ACCOUNTANT: i64 = 7200001;
const MANAGER: i64 = 7200009;
const CLIENT: i64 = 5200001;

const GREETING: &str = "Здравствуйте, {{clientName}}! Документы «{{chatTitle}}» на {{ date }} \
                        готовы, {{time}}. Бухгалтер: {{accountantName}}. Следующий рабочий \
                        день: {{nextWorkingDay}}. <b>не разметка</b>";

struct Env(crate::StaffEnv);

impl Env {
    fn new() -> Env {
        let env = crate::StaffEnv::new(
            &format!(
                "[[chats]]\nid = {CHAT}\ntitle = \"ООО Ромашка\"\naccountants = [{ACCOUNTANT}]\n\
                 managers = [{MANAGER}]\n\
                 [[chats]]\nid = {EMPTY}\naccountants = [{ACCOUNTANT}]\n"
            ),
            &[(ACCOUNTANT, "accountant", "Ирина Петровна", Some("irina"))],
        );
        let mut client = crate::user_message(
            CHAT,
            10,
            CLIENT,
            crate::t("2025-01-17T14:00:00+03:00"),
            "Когда будут документы?",
        );
        client.sender_name = Some("Анна Смирнова".into());
        crate::ingest_one(&env.store, &env.engine(), &client);
        let conn = env.store.conn().unwrap();
        templates::add(&conn, "Готово", GREETING, None, 0).unwrap();
        templates::add(
            &conn,
            "Опечатка",
            "{{clientName}}, {{clientNmae}} и {{foo}}",
            None,
            0,
        )
        .unwrap();
        Env(env)
    }

    fn run(&self, from: i64, chat: i64, text: &str) -> Reply {
        let Ok(Some(cmd)) = parse(text, Some("buhbot_bot")) else {
            panic!("{text} does not parse");
        };
        let engine = self.0.engine();
        let mut conn = self.0.store.conn().unwrap();
        let tx = write_tx(&mut conn).unwrap();
        let reply = handle(&tx, &engine, ctx(from, chat), cmd).unwrap();
        queue::enqueue(&tx, &reply.outbound(42), 0).unwrap();
        tx.commit().unwrap();
        reply
    }

    fn uses(&self, name: &str) -> i64 {
        templates::find(&self.0.store.conn().unwrap(), name)
            .unwrap()
            .unwrap()
            .usage_count
    }
}

/// Friday 15:30 in Moscow, replying to the client's message 10.
fn ctx(from: i64, chat: i64) -> CommandContext {
    CommandContext {
        chat_id: chat,
        chat_is_private: false,
        from,
        message_id: 42,
        reply_to: Some(10),
        reply_to_author: Some(CLIENT),
        mention_ids: Vec::new(),
        bot_reads_all: None,
        sender_is_chat_admin: None,
        now: crate::t("2025-01-17T15:30:00+03:00"),
    }
}

#[test]
fn template_commands_parse() {
    assert_eq!(
        parse("/t Готово", None).unwrap(),
        Some(Command::Template("Готово".into()))
    );
    assert_eq!(
        parse(
            "/template@buhbot_bot  Запрос документов ",
            Some("buhbot_bot")
        )
        .unwrap(),
        Some(Command::Template("Запрос документов".into()))
    );
    assert_eq!(
        parse("/t@other_bot Готово", Some("buhbot_bot")).unwrap(),
        None
    );
    let err = parse("/t", None).unwrap_err();
    assert!(err.hint().contains("/template НАЗВАНИЕ"), "{}", err.hint());
}

#[test]
fn staff_post_a_template_with_its_variables_filled() {
    let e = Env::new();
    let reply = e.run(ACCOUNTANT, CHAT, "/t готово");
    assert_eq!(reply.route, Route::Post { reply_to: Some(10) });
    assert_eq!(
        reply.text_html,
        "Здравствуйте, Анна Смирнова! Документы «ООО Ромашка» на 17.01.2025 готовы, 15:30. \
         Бухгалтер: Ирина Петровна. Следующий рабочий день: 20.01.2025 (пн). \
         &lt;b&gt;не разметка&lt;/b&gt;"
    );
    assert_eq!(e.uses("Готово"), 1);
    // A manager of the chat (known from the configuration only) posts it
    // too; the accountant named is the chat's.
    let reply = e.run(MANAGER, CHAT, "/template Готово");
    assert!(
        reply.text_html.contains("Бухгалтер: Ирина Петровна"),
        "{}",
        reply.text_html
    );
    assert_eq!(e.uses("Готово"), 2);
}

#[test]
fn errors_go_to_the_staff_member_only_and_clients_are_refused() {
    let e = Env::new();
    let reply = e.run(ACCOUNTANT, CHAT, "/t Опечатка");
    assert_eq!(reply.route, Route::Private(ACCOUNTANT));
    assert!(
        reply.text_html.contains("{{clientNmae}}, {{foo}}")
            && reply.text_html.contains("{{clientName}}"),
        "{}",
        reply.text_html
    );
    assert_eq!(e.uses("Опечатка"), 0, "a refused template is not a use");

    let reply = e.run(ACCOUNTANT, CHAT, "/t Нет такого");
    assert_eq!(reply.route, Route::Private(ACCOUNTANT));
    assert!(reply.text_html.contains("не найден"), "{}", reply.text_html);
    assert!(
        reply.text_html.contains("Готово, Опечатка"),
        "{}",
        reply.text_html
    );

    // No client has written in the chat yet: {{clientName}} has no value.
    let reply = e.run(ACCOUNTANT, EMPTY, "/t Готово");
    assert_eq!(reply.route, Route::Private(ACCOUNTANT));
    assert!(
        reply.text_html.contains("нет значения для {{clientName}}"),
        "{}",
        reply.text_html
    );

    let reply = e.run(CLIENT, CHAT, "/t Готово");
    assert_eq!(reply.route, Route::Reply);
    assert!(
        reply.text_html.contains("только сотрудникам"),
        "{}",
        reply.text_html
    );
    assert_eq!(e.uses("Готово"), 0);
}

/// Through the queue's sender on the Telegram fake: the filled template in
/// the chat as a reply to the client's message, the error in the staff
/// member's private chat and nowhere else.
#[tokio::test(start_paused = true)]
async fn the_queue_posts_templates_in_the_chat_and_errors_in_private() {
    let e = Env::new();
    // Two commands (message ids 42 in two chats would collide: the second
    // runs in the empty chat).
    e.run(ACCOUNTANT, CHAT, "/t Готово");
    e.run(ACCOUNTANT, EMPTY, "/t Опечатка");
    let records = crate::send_queued(&e.0.store, crate::t("2025-01-17T15:30:00+03:00"), 2).await;
    let mut sent: Vec<(i64, Option<i64>, String)> = records
        .into_iter()
        .map(|r| (r.chat_id, r.reply_to, r.dedupe_key))
        .collect();
    sent.sort();
    assert_eq!(
        sent,
        [
            (CHAT, Some(10), format!("reply:{CHAT}:42")),
            (ACCOUNTANT, None, format!("reply:{EMPTY}:42")),
        ]
    );
}
