use grammers_client::sender::RpcError;
use grammers_client::session::types::{PeerAuth, PeerId, PeerRef};
use grammers_client::tl::enums::{
    InlineButtonType, InputPeer, KeyboardInlineButton, MessageEntity,
};

use super::*;
use crate::core::delivery::{Verdict, verdict};
use crate::telegram::outbound::Kind;

fn msg(key: &str, text: &str) -> OutboundMessage {
    OutboundMessage {
        id: 1,
        dedupe_key: key.into(),
        chat_id: -1_001_555_000_111,
        text: text.into(),
        buttons: vec![],
        reply_to: None,
        kind: Kind::Alert,
        edit_of: None,
        attempts: 0,
        created_at: 1_764_000_000,
    }
}

fn channel() -> PeerRef {
    PeerRef {
        id: PeerId::channel(1_555_000_111).unwrap(),
        auth: PeerAuth::from_hash(-77),
    }
}

fn button(text: &str, data: Option<&str>, url: Option<&str>) -> Button {
    Button {
        text: text.into(),
        callback_data: data.map(Into::into),
        url: url.map(Into::into),
    }
}

#[test]
fn a_send_request_carries_text_entities_keyboard_and_reply() {
    let mut m = msg(
        "alert:1:2",
        "🔥 <b>Клиент:</b> Иван 👋\n<i>Где мой отчёт?</i> <a href=\"https://t.me/c/1/2\">→</a>",
    );
    m.reply_to = Some(4242);
    m.buttons = vec![
        vec![
            button("✅ Взял", Some("take:17"), None),
            button("Открыть", None, Some("https://t.me/c/1555000111/9")),
        ],
        vec![button("Отложить", Some("snooze:17:30"), None)],
    ];
    let r = send_request(&m, channel()).unwrap();
    assert_eq!(r.message, "🔥 Клиент: Иван 👋\nГде мой отчёт? →");
    assert!(r.no_webpage, "no link preview");
    match &r.peer {
        InputPeer::Channel(c) => assert_eq!((c.channel_id, c.access_hash), (1_555_000_111, -77)),
        other => panic!("{other:?}"),
    }
    // 🔥 and 👋 are surrogate pairs: two UTF-16 units each.
    let e: Vec<(i32, i32)> = r
        .entities
        .as_ref()
        .unwrap()
        .iter()
        .map(|e| match e {
            MessageEntity::Bold(e) => (e.offset, e.length),
            MessageEntity::Italic(e) => (e.offset, e.length),
            MessageEntity::TextUrl(e) => {
                assert_eq!(e.url, "https://t.me/c/1/2");
                (e.offset, e.length)
            }
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(e, vec![(3, 7), (19, 14), (34, 1)]);
    match r.reply_to {
        Some(tl::enums::InputReplyTo::Message(m)) => assert_eq!(m.reply_to_msg_id, 4242),
        other => panic!("{other:?}"),
    }
    let Some(tl::enums::ReplyMarkup::ReplyInlineMarkup(kb)) = r.reply_markup else {
        panic!("an inline keyboard");
    };
    let rows: Vec<Vec<(String, String)>> = kb
        .rows
        .iter()
        .map(|row| {
            let tl::enums::KeyboardInlineButtonRow::Row(row) = row;
            row.buttons
                .iter()
                .map(|b| {
                    let KeyboardInlineButton::Button(b) = b;
                    let what = match &b.r#type {
                        InlineButtonType::Callback(c) => {
                            format!("data:{}", String::from_utf8(c.data.clone()).unwrap())
                        }
                        InlineButtonType::Url(u) => format!("url:{}", u.url),
                        other => panic!("{other:?}"),
                    };
                    (b.text.clone(), what)
                })
                .collect()
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            vec![
                ("✅ Взял".into(), "data:take:17".into()),
                ("Открыть".into(), "url:https://t.me/c/1555000111/9".into()),
            ],
            vec![("Отложить".into(), "data:snooze:17:30".into())],
        ]
    );
}

#[test]
fn plain_text_has_no_entities_keyboard_or_reply() {
    let r = send_request(&msg("k", "просто текст"), channel()).unwrap();
    assert_eq!(r.message, "просто текст");
    assert_eq!(r.entities, None);
    assert_eq!(r.reply_markup, None);
    assert_eq!(r.reply_to, None);
}

#[test]
fn the_random_id_is_stable_per_row_and_differs_between_keys() {
    let a = msg("alert:1:2", "x");
    let a_again = OutboundMessage {
        id: 1,
        text: "другой текст".into(),
        attempts: 3,
        ..a.clone()
    };
    assert_eq!(random_id(&a), random_id(&a_again));
    assert_eq!(
        send_request(&a, channel()).unwrap().random_id,
        send_request(&a_again, channel()).unwrap().random_id
    );
    assert_ne!(random_id(&a), random_id(&msg("alert:1:3", "x")));
    assert_ne!(random_id(&a), random_id(&msg("alert:1:2 ", "x")));
    // The same key enqueued anew later (e.g. after a database reset).
    let later = OutboundMessage {
        created_at: a.created_at + 1,
        ..a.clone()
    };
    assert_ne!(random_id(&a), random_id(&later));
    // Fixed across releases: a message left in flight by an older binary
    // keeps its id after an upgrade.
    assert_eq!(random_id(&msg("pinned", "")), PINNED);
}

/// Computed once. If this changes, a message left in flight by an older
/// binary would be sent again as a new one after an upgrade.
const PINNED: i64 = -4_255_706_088_159_654_303;

#[test]
fn bad_buttons_and_ids_are_permanent() {
    let mut m = msg("k", "x");
    m.buttons = vec![vec![button("x", Some(&"я".repeat(33)), None)]];
    assert!(perm(&send_request(&m, channel()), "66 bytes"));
    m.buttons = vec![vec![button("x", None, None)]];
    assert!(perm(&send_request(&m, channel()), ""));
    let mut m = msg("k", "x");
    m.reply_to = Some(i64::from(i32::MAX) + 1);
    assert!(perm(&send_request(&m, channel()), ""));
    // Empty rows are no keyboard.
    m.reply_to = None;
    m.buttons = vec![vec![]];
    assert_eq!(send_request(&m, channel()).unwrap().reply_markup, None);
}

#[test]
fn an_edit_request_replaces_text_and_keyboard() {
    let mut m = msg("edit:1", "<b>Взято</b> Анной");
    m.kind = Kind::Edit;
    m.edit_of = Some(99);
    m.buttons = vec![vec![button("Отменить", Some("undo:1"), None)]];
    let r = edit_request(&m, channel()).unwrap();
    assert_eq!(r.id, 99);
    assert_eq!(r.message.as_deref(), Some("Взято Анной"));
    assert!(r.no_webpage);
    assert!(matches!(
        r.entities.as_deref(),
        Some([MessageEntity::Bold(tl::types::MessageEntityBold {
            offset: 0,
            length: 5
        })])
    ));
    assert!(r.reply_markup.is_some());
    // No buttons: the keyboard goes (as with the Bot API).
    m.buttons.clear();
    assert_eq!(edit_request(&m, channel()).unwrap().reply_markup, None);
    m.edit_of = None;
    assert!(perm(&edit_request(&m, channel()), ""));
    m.edit_of = Some(UNKNOWN_MESSAGE_ID);
    assert!(perm(&edit_request(&m, channel()), "RANDOM_ID_DUPLICATE"));
}

#[test]
fn a_callback_answer_is_a_toast_or_an_alert() {
    let r = callback_answer_request(123, "Готово", false);
    assert_eq!(
        (r.query_id, r.alert, r.message.as_deref()),
        (123, false, Some("Готово"))
    );
    assert_eq!(r.cache_time, 0);
    let r = callback_answer_request(5, "", true);
    assert_eq!((r.alert, r.message), (true, None));
}

/// A permanent failure whose text contains `needle`.
fn perm<T>(r: &Result<T, SendError>, needle: &str) -> bool {
    matches!(r, Err(e) if verdict(e).is_permanent() && e.to_string().contains(needle))
}

fn transient<T>(r: &Result<T, SendError>) -> bool {
    matches!(r, Err(e) if !verdict(e).is_permanent())
}

fn flood(seconds: u64) -> Verdict {
    Verdict::Transient {
        wait: Some(std::time::Duration::from_secs(seconds)),
    }
}

fn rpc(code: i32, message: &str) -> InvocationError {
    InvocationError::Rpc(RpcError::from(tl::types::RpcError {
        error_code: code,
        error_message: message.into(),
    }))
}

#[test]
fn errors_map_to_what_the_queue_does_next() {
    assert_eq!(verdict(&map_error(&rpc(420, "FLOOD_WAIT_31"))), flood(31));
    assert_eq!(
        verdict(&map_error(&rpc(420, "SLOWMODE_WAIT_10"))),
        flood(10)
    );
    assert_eq!(verdict(&map_error(&rpc(400, "SLOWMODE_WAIT_5"))), flood(5));
    // Constructed by hand, as the brief's fields name them.
    let raw = InvocationError::Rpc(RpcError {
        code: 420,
        name: "FLOOD_WAIT".into(),
        value: Some(3600),
        caused_by: None,
    });
    assert_eq!(verdict(&map_error(&raw)), flood(3600));
    for (code, name) in [
        (400, "CHAT_WRITE_FORBIDDEN"),
        (400, "PEER_ID_INVALID"),
        (400, "CHAT_ID_INVALID"),
        (400, "USER_IS_BLOCKED"),
        (400, "MESSAGE_ID_INVALID"),
        (400, "ENTITY_BOUNDS_INVALID"),
        (403, "CHAT_WRITE_FORBIDDEN"),
        (403, "USER_IS_BLOCKED"),
        (406, "USER_RESTRICTED"),
    ] {
        assert!(
            perm(&Err::<(), _>(map_error(&rpc(code, name))), name),
            "{code} {name}"
        );
    }
    for (code, name) in [
        (500, "INTERNAL"),
        (-503, "Timeout"),
        (500, "INTERDC_2_CALL_ERROR"),
    ] {
        assert!(
            transient(&Err::<(), _>(map_error(&rpc(code, name)))),
            "{code} {name}"
        );
    }
    let io = InvocationError::Io(std::io::Error::new(
        std::io::ErrorKind::ConnectionReset,
        "reset",
    ));
    assert!(transient(&Err::<(), _>(map_error(&io))));
    assert!(transient(&Err::<(), _>(map_error(
        &InvocationError::Dropped("gone")
    ))));
    assert!(transient(&Err::<(), _>(map_error(
        &InvocationError::InvalidDc
    ))));
}

#[test]
fn the_sent_message_id_comes_from_the_answer() {
    use tl::enums::{Update, Updates};
    let short = Updates::UpdateShortSentMessage(tl::types::UpdateShortSentMessage {
        out: true,
        id: 77,
        pts: 1,
        pts_count: 1,
        date: 0,
        media: None,
        entities: None,
        ttl_period: None,
    });
    assert_eq!(sent_message_id(&short, 5), Some(77));
    let with_ids = |updates: Vec<Update>| {
        Updates::Updates(tl::types::Updates {
            updates,
            users: vec![],
            chats: vec![],
            date: 0,
            seq: 0,
        })
    };
    let mid = |id, random_id| Update::MessageId(tl::types::UpdateMessageId { id, random_id });
    assert_eq!(
        sent_message_id(&with_ids(vec![mid(1, 4), mid(2, 5)]), 5),
        Some(2)
    );
    assert_eq!(sent_message_id(&with_ids(vec![mid(1, 4)]), 5), None);
    assert_eq!(sent_message_id(&with_ids(vec![]), 5), None);
    assert_eq!(sent_message_id(&Updates::TooLong, 5), None);
}

#[tokio::test]
async fn without_a_connection_everything_is_transient() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = Store::open_migrated(&dir.path().join("db.sqlite")).unwrap();
    let api = GrammersApi::new(Arc::new(Link::new()), store);
    let m = msg("k", "x");
    let not_connected = SendError::NotConnected("Telegram".into());
    assert!(!verdict(&not_connected).is_permanent());
    assert_eq!(api.send(&m).await, Err(not_connected.clone()));
    assert_eq!(api.edit(&m).await, Err(not_connected.clone()));
    assert_eq!(api.answer_callback(1, "x", false).await, Err(not_connected));
    assert_eq!(
        api.lookup_sent(&m).await,
        crate::telegram::outbound::Lookup::Unknown
    );
}

#[test]
fn an_unknown_peer_says_what_to_do() {
    assert!(unknown_peer(42).contains("/start"));
    assert!(unknown_peer(-100_123).contains("add the bot"));
}

/// A client whose sender pool runner is gone: RPCs fail at once.
fn offline_client() -> grammers_client::Client {
    let session = Arc::new(grammers_client::session::storages::MemorySession::default());
    let pool = grammers_client::SenderPool::new(session, 1);
    let client = grammers_client::Client::new(pool.handle);
    drop(pool.runner);
    client
}

#[tokio::test]
async fn peers_come_from_the_stored_session() {
    use grammers_client::session::Session;
    use grammers_client::session::types::PeerInfo;

    let dir = tempfile::tempdir().unwrap();
    let (store, _) = Store::open_migrated(&dir.path().join("db.sqlite")).unwrap();
    // What the daemon's client cached while it ran.
    let session = crate::telegram::session::StoreSession::open(store.clone())
        .await
        .unwrap();
    session
        .cache_peer(PeerInfo::Channel {
            id: 1_555_000_111,
            auth: Some(PeerAuth::from_hash(-77)),
            kind: None,
        })
        .await
        .unwrap();
    let link = Arc::new(Link::new());
    let me = crate::telegram::link::Me {
        id: 1,
        username: None,
        name: String::new(),
        privacy_mode: false,
    };
    link.connected(Some(offline_client()), me, chrono::Utc::now());
    let api = GrammersApi::new(link, store);

    let mut m = msg("k", "x");
    m.chat_id = 42;
    match api.send(&m).await {
        Err(e) if verdict(&e).is_permanent() => assert!(e.to_string().contains("/start"), "{e}"),
        other => panic!("{other:?}"),
    }
    m.chat_id = -1_009_999_999_999;
    assert!(perm(&api.send(&m).await, "add the bot"));
    // Known (and a basic group needs no hash): the request is made, and
    // fails only because this client is offline.
    for chat in [-1_001_555_000_111, -555] {
        m.chat_id = chat;
        assert!(transient(&api.send(&m).await), "{chat}");
    }
}
