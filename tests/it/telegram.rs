//! Telegram updates through grammers' own machinery: an offline client
//! (its sender pool's runner is dropped, so RPCs fail fast), raw TL updates
//! pushed into the channel handed to `stream_updates`, real `Update` values
//! out, then `map_update`.

use std::sync::Arc;
use std::time::Duration;

use buhbot::core::event::MessageEvent;
use buhbot::domain::sla::SenderKind;
use buhbot::store::Store;
use buhbot::telegram::inbound::{InboundEvent, map_update};
use buhbot::telegram::session::StoreSession;
use chrono::{DateTime, Utc};
use grammers_client::client::UpdateStream;
use grammers_client::sender::UpdatesConfiguration;
use grammers_client::session::Session;
use grammers_client::session::storages::MemorySession;
use grammers_client::session::types::PeerId;
use grammers_client::session::updates::UpdatesLike;
use grammers_client::update::Update;
use grammers_client::{Client, SenderPool, tl};
use tokio::sync::mpsc;

pub(crate) const BOT: i64 = 7_000_000_001;
pub(crate) const CLIENT: i64 = 111;
pub(crate) const GROUP: i64 = 555; // basic group: Bot-API id -555
pub(crate) const SUPER: i64 = 1_555_000_111; // channel: Bot-API id -1001555000111
pub(crate) const SUPER_API: i64 = -1_001_555_000_111;
pub(crate) const DATE: i32 = 1_764_000_000;

pub(crate) struct Offline {
    pub(crate) client: Client,
    pub(crate) tx: mpsc::Sender<UpdatesLike>,
    pub(crate) stream: UpdateStream,
}

pub(crate) async fn offline<S>(session: Arc<S>) -> Offline
where
    S: Session,
    S::Error: std::error::Error + Send + Sync + 'static,
{
    let pool = SenderPool::new(session, 1);
    let client = Client::new(pool.handle);
    drop(pool.runner);
    drop(pool.updates);
    let (tx, rx) = mpsc::channel(16);
    let stream = client
        .stream_updates(rx, UpdatesConfiguration { catch_up: false })
        .await
        .unwrap();
    Offline { client, tx, stream }
}

pub(crate) async fn memory() -> Offline {
    offline(Arc::new(MemorySession::default())).await
}

impl Offline {
    pub(crate) async fn feed(&mut self, updates: impl Into<tl::enums::Updates>) -> Update {
        self.tx
            .send(UpdatesLike::Updates(updates.into()))
            .await
            .unwrap();
        tokio::time::timeout(Duration::from_secs(5), self.stream.next())
            .await
            .expect("grammers yields the update")
            .expect("no stream error")
    }

    async fn map(&mut self, updates: impl Into<tl::enums::Updates>) -> Option<InboundEvent> {
        let update = self.feed(updates).await;
        map_update(&update, BOT)
    }
}

pub(crate) fn at(unix: i32) -> DateTime<Utc> {
    DateTime::from_timestamp(i64::from(unix), 0).unwrap()
}

pub(crate) fn peer_chat(id: i64) -> tl::enums::Peer {
    tl::types::PeerChat { chat_id: id }.into()
}
pub(crate) fn peer_channel(id: i64) -> tl::enums::Peer {
    tl::types::PeerChannel { channel_id: id }.into()
}
pub(crate) fn peer_user(id: i64) -> tl::enums::Peer {
    tl::types::PeerUser { user_id: id }.into()
}

pub(crate) fn reply_header(to: i32) -> tl::enums::MessageReplyHeader {
    tl::types::MessageReplyHeader {
        reply_to_scheduled: false,
        forum_topic: false,
        quote: false,
        reply_to_ephemeral: false,
        reply_to_msg_id: Some(to),
        reply_to_peer_id: None,
        reply_from: None,
        reply_media: None,
        reply_to_top_id: None,
        quote_text: None,
        quote_entities: None,
        quote_offset: None,
        todo_item_id: None,
        poll_option: None,
    }
    .into()
}

pub(crate) fn short_chat(
    id: i32,
    from: i64,
    text: &str,
    pts: i32,
) -> tl::types::UpdateShortChatMessage {
    tl::types::UpdateShortChatMessage {
        out: from == BOT,
        mentioned: false,
        media_unread: false,
        silent: false,
        id,
        from_id: from,
        chat_id: GROUP,
        message: text.to_string(),
        pts,
        pts_count: 1,
        date: DATE,
        fwd_from: None,
        via_bot_id: None,
        reply_to: None,
        entities: None,
        ttl_period: None,
    }
}

/// A message in the private chat of `user` with the bot.
pub(crate) fn short_private(
    id: i32,
    user: i64,
    text: &str,
    pts: i32,
) -> tl::types::UpdateShortMessage {
    tl::types::UpdateShortMessage {
        out: false,
        mentioned: false,
        media_unread: false,
        silent: false,
        id,
        user_id: user,
        message: text.into(),
        pts,
        pts_count: 1,
        date: DATE,
        fwd_from: None,
        via_bot_id: None,
        reply_to: None,
        entities: None,
        ttl_period: None,
    }
}

pub(crate) fn message(
    id: i32,
    peer: tl::enums::Peer,
    from: Option<i64>,
    text: &str,
) -> tl::types::Message {
    tl::types::Message {
        out: false,
        mentioned: false,
        media_unread: false,
        silent: false,
        post: false,
        from_scheduled: false,
        legacy: false,
        edit_hide: false,
        pinned: false,
        noforwards: false,
        invert_media: false,
        offline: false,
        video_processing_pending: false,
        paid_suggested_post_stars: false,
        paid_suggested_post_ton: false,
        id,
        from_id: from.map(peer_user),
        from_boosts_applied: None,
        from_rank: None,
        peer_id: peer,
        saved_peer_id: None,
        fwd_from: None,
        via_bot_id: None,
        via_business_bot_id: None,
        guestchat_via_from: None,
        reply_to: None,
        date: DATE,
        message: text.to_string(),
        media: None,
        reply_markup: None,
        entities: None,
        views: None,
        forwards: None,
        replies: None,
        edit_date: None,
        post_author: None,
        grouped_id: None,
        reactions: None,
        restriction_reason: None,
        ttl_period: None,
        quick_reply_shortcut_id: None,
        effect: None,
        factcheck: None,
        report_delivery_until_date: None,
        paid_message_stars: None,
        suggested_post: None,
        schedule_repeat_period: None,
        summary_from_language: None,
        rich_message: None,
    }
}

pub(crate) fn service(
    id: i32,
    peer: tl::enums::Peer,
    from: i64,
    action: impl Into<tl::enums::MessageAction>,
) -> tl::enums::Message {
    tl::types::MessageService {
        out: false,
        mentioned: false,
        media_unread: false,
        reactions_are_possible: false,
        silent: false,
        post: false,
        legacy: false,
        id,
        from_id: Some(peer_user(from)),
        peer_id: peer,
        saved_peer_id: None,
        reply_to: None,
        date: DATE,
        action: action.into(),
        reactions: None,
        ttl_period: None,
    }
    .into()
}

pub(crate) fn user(id: i64, first: &str, last: Option<&str>) -> tl::enums::User {
    tl::types::User {
        is_self: false,
        contact: false,
        mutual_contact: false,
        deleted: false,
        bot: false,
        bot_chat_history: false,
        bot_nochats: false,
        verified: false,
        restricted: false,
        min: false,
        bot_inline_geo: false,
        support: false,
        scam: false,
        apply_min_photo: false,
        fake: false,
        bot_attach_menu: false,
        premium: false,
        attach_menu_enabled: false,
        bot_can_edit: false,
        close_friend: false,
        stories_hidden: false,
        stories_unavailable: false,
        contact_require_premium: false,
        bot_business: false,
        bot_has_main_app: false,
        bot_forum_view: false,
        bot_forum_can_manage_topics: false,
        bot_can_manage_bots: false,
        bot_guestchat: false,
        bot_guard: false,
        id,
        access_hash: Some(id * 1000 + 7),
        first_name: Some(first.to_string()),
        last_name: last.map(str::to_string),
        username: None,
        phone: None,
        photo: None,
        status: None,
        bot_info_version: None,
        restriction_reason: None,
        bot_inline_placeholder: None,
        lang_code: None,
        emoji_status: None,
        usernames: None,
        stories_max_id: None,
        color: None,
        profile_color: None,
        bot_active_users: None,
        bot_verification_icon: None,
        send_paid_messages_stars: None,
        linked_community_id: None,
    }
    .into()
}

pub(crate) fn supergroup(id: i64, title: &str) -> tl::enums::Chat {
    tl::types::Channel {
        creator: false,
        left: false,
        broadcast: false,
        verified: false,
        megagroup: true,
        restricted: false,
        signatures: false,
        min: false,
        scam: false,
        has_link: false,
        has_geo: false,
        slowmode_enabled: false,
        call_active: false,
        call_not_empty: false,
        fake: false,
        gigagroup: false,
        noforwards: false,
        join_to_send: false,
        join_request: false,
        forum: false,
        stories_hidden: false,
        stories_hidden_min: false,
        stories_unavailable: false,
        signature_profiles: false,
        autotranslation: false,
        broadcast_messages_allowed: false,
        monoforum: false,
        forum_tabs: false,
        id,
        access_hash: Some(-987_654_321),
        title: title.to_string(),
        username: None,
        photo: tl::enums::ChatPhoto::Empty,
        date: DATE - 86_400,
        restriction_reason: None,
        admin_rights: None,
        banned_rights: None,
        default_banned_rights: None,
        participants_count: None,
        usernames: None,
        stories_max_id: None,
        color: None,
        profile_color: None,
        emoji_status: None,
        level: None,
        subscription_until_date: None,
        bot_verification_icon: None,
        send_paid_messages_stars: None,
        linked_monoforum_id: None,
        linked_community_id: None,
    }
    .into()
}

pub(crate) fn basic_group(id: i64, title: &str) -> tl::enums::Chat {
    mtproto_test_server::tl_util::basic_group(id, title, DATE - 86_400).into()
}

/// `updates` with the peers Telegram sends along (seq 0: unordered).
pub(crate) fn updates(
    list: Vec<tl::enums::Update>,
    users: Vec<tl::enums::User>,
    chats: Vec<tl::enums::Chat>,
) -> tl::types::Updates {
    tl::types::Updates {
        updates: list,
        users,
        chats,
        date: DATE,
        seq: 0,
    }
}

pub(crate) fn in_supergroup(
    message: impl Into<tl::enums::Message>,
    pts: i32,
) -> tl::types::Updates {
    updates(
        vec![
            tl::types::UpdateNewChannelMessage {
                message: message.into(),
                pts,
                pts_count: 1,
            }
            .into(),
        ],
        vec![user(CLIENT, "Иван", Some("Петров"))],
        vec![supergroup(SUPER, "ООО Ромашка — бухгалтерия")],
    )
}

pub(crate) fn in_basic_group(message: tl::enums::Message, pts: i32) -> tl::types::Updates {
    updates(
        vec![
            tl::types::UpdateNewMessage {
                message,
                pts,
                pts_count: 1,
            }
            .into(),
        ],
        vec![user(CLIENT, "Иван", None)],
        vec![basic_group(GROUP, "Бухгалтерия ИП Сидоров")],
    )
}

fn expect_message(event: Option<InboundEvent>) -> MessageEvent {
    match event {
        Some(InboundEvent::Message(m)) => m,
        other => panic!("expected a message, got {other:?}"),
    }
}

#[tokio::test]
async fn basic_group_text_message() {
    let mut t = memory().await;
    let update = t
        .feed(short_chat(10, CLIENT, "Добрый день! Нужна справка", 1))
        .await;
    assert!(matches!(update, Update::NewMessage(_)));
    assert_eq!(
        map_update(&update, BOT),
        Some(InboundEvent::Message(MessageEvent {
            chat_id: -GROUP,
            chat_title: None,
            message_id: 10,
            edit_version: 0,
            date: at(DATE),
            sender: SenderKind::User(CLIENT),
            sender_name: None,
            text: "Добрый день! Нужна справка".into(),
            reply_to: None,
            has_media: false,
            attachment: None,
            service: false,
        }))
    );
}

#[tokio::test]
async fn supergroup_message_with_peers() {
    let mut t = memory().await;
    let m = message(501, peer_channel(SUPER), Some(CLIENT), "Когда будет отчёт?");
    assert_eq!(
        expect_message(t.map(in_supergroup(m, 40)).await),
        MessageEvent {
            chat_id: SUPER_API,
            chat_title: Some("ООО Ромашка — бухгалтерия".into()),
            message_id: 501,
            edit_version: 0,
            date: at(DATE),
            sender: SenderKind::User(CLIENT),
            sender_name: Some("Иван Петров".into()),
            text: "Когда будет отчёт?".into(),
            reply_to: None,
            has_media: false,
            attachment: None,
            service: false,
        }
    );
}

#[tokio::test]
async fn reply_in_a_basic_group() {
    let mut t = memory().await;
    let mut short = short_chat(12, CLIENT, "Вот он", 1);
    short.reply_to = Some(reply_header(9));
    let m = expect_message(t.map(short).await);
    assert_eq!((m.message_id, m.reply_to), (12, Some(9)));
}

#[tokio::test]
async fn document_with_caption_and_photo_without() {
    let mut t = memory().await;
    let mut doc = message(502, peer_channel(SUPER), Some(CLIENT), "Акт сверки за март");
    doc.media = Some(
        tl::types::MessageMediaDocument {
            nopremium: false,
            spoiler: false,
            video: false,
            round: false,
            voice: false,
            document: Some(tl::types::DocumentEmpty { id: 1 }.into()),
            alt_documents: None,
            video_cover: None,
            video_timestamp: None,
            ttl_seconds: None,
        }
        .into(),
    );
    let m = expect_message(t.map(in_supergroup(doc, 41)).await);
    assert_eq!(m.text, "Акт сверки за март");
    assert!(m.has_media);

    let mut photo = message(503, peer_channel(SUPER), Some(CLIENT), "");
    photo.media = Some(
        tl::types::MessageMediaPhoto {
            spoiler: false,
            live_photo: false,
            photo: Some(tl::types::PhotoEmpty { id: 2 }.into()),
            ttl_seconds: None,
            video: None,
        }
        .into(),
    );
    let m = expect_message(t.map(in_supergroup(photo, 42)).await);
    assert_eq!(
        (m.message_id, m.text.as_str(), m.has_media),
        (503, "", true)
    );
}

/// A real document (file name and size from its attributes) and a real
/// photo (the largest of its sizes, progressive ones included) carry what
/// file receipts need; a sticker is a document to Telegram but no file.
#[tokio::test]
async fn document_and_photo_carry_name_and_size() {
    use buhbot::domain::receipts::{Attachment, AttachmentKind};
    let mut t = memory().await;
    let document =
        |attributes: Vec<tl::enums::DocumentAttribute>| tl::types::MessageMediaDocument {
            nopremium: false,
            spoiler: false,
            video: false,
            round: false,
            voice: false,
            document: Some(
                tl::types::Document {
                    id: 10,
                    access_hash: 11,
                    file_reference: vec![1, 2],
                    date: DATE,
                    mime_type: "application/pdf".into(),
                    size: 1_258_291,
                    thumbs: None,
                    video_thumbs: None,
                    dc_id: 2,
                    attributes,
                }
                .into(),
            ),
            alt_documents: None,
            video_cover: None,
            video_timestamp: None,
            ttl_seconds: None,
        };
    let mut doc = message(510, peer_channel(SUPER), Some(CLIENT), "");
    doc.media = Some(
        document(vec![
            tl::types::DocumentAttributeFilename {
                file_name: "Акт сверки.pdf".into(),
            }
            .into(),
        ])
        .into(),
    );
    let m = expect_message(t.map(in_supergroup(doc, 51)).await);
    assert_eq!(
        m.attachment,
        Some(Attachment {
            kind: AttachmentKind::Document,
            file_name: Some("Акт сверки.pdf".into()),
            size: Some(1_258_291),
        })
    );

    let mut photo = message(511, peer_channel(SUPER), Some(CLIENT), "Чек");
    photo.media = Some(
        tl::types::MessageMediaPhoto {
            spoiler: false,
            live_photo: false,
            photo: Some(
                tl::types::Photo {
                    has_stickers: false,
                    id: 20,
                    access_hash: 21,
                    file_reference: vec![3],
                    date: DATE,
                    sizes: vec![
                        tl::types::PhotoStrippedSize {
                            r#type: "i".into(),
                            bytes: vec![0; 40],
                        }
                        .into(),
                        tl::types::PhotoSize {
                            r#type: "m".into(),
                            w: 320,
                            h: 240,
                            size: 21_000,
                        }
                        .into(),
                        tl::types::PhotoSizeProgressive {
                            r#type: "y".into(),
                            w: 1280,
                            h: 960,
                            sizes: vec![40_000, 150_000, 348_160],
                        }
                        .into(),
                    ],
                    video_sizes: None,
                    dc_id: 2,
                }
                .into(),
            ),
            ttl_seconds: None,
            video: None,
        }
        .into(),
    );
    let m = expect_message(t.map(in_supergroup(photo, 52)).await);
    assert_eq!(
        m.attachment,
        Some(Attachment {
            kind: AttachmentKind::Photo,
            file_name: None,
            size: Some(348_160),
        })
    );

    let mut sticker = message(512, peer_channel(SUPER), Some(CLIENT), "");
    sticker.media = Some(
        document(vec![
            tl::types::DocumentAttributeSticker {
                mask: false,
                alt: "🙂".into(),
                stickerset: tl::types::InputStickerSetEmpty {}.into(),
                mask_coords: None,
            }
            .into(),
        ])
        .into(),
    );
    let m = expect_message(t.map(in_supergroup(sticker, 53)).await);
    assert!(m.has_media);
    assert_eq!(m.attachment, None);
}

#[tokio::test]
async fn edit_carries_the_edit_date_and_reaction_only_edits_are_ignored() {
    let mut t = memory().await;
    let mut m = message(
        501,
        peer_channel(SUPER),
        Some(CLIENT),
        "Когда будет отчёт за Q1?",
    );
    m.edit_date = Some(DATE + 60);
    let edit = |m: tl::types::Message, pts| {
        updates(
            vec![
                tl::types::UpdateEditChannelMessage {
                    message: m.into(),
                    pts,
                    pts_count: 1,
                }
                .into(),
            ],
            vec![user(CLIENT, "Иван", Some("Петров"))],
            vec![supergroup(SUPER, "ООО Ромашка — бухгалтерия")],
        )
    };
    let update = t.feed(edit(m, 50)).await;
    assert!(matches!(update, Update::MessageEdited(_)));
    match map_update(&update, BOT) {
        Some(InboundEvent::Edit(e)) => {
            assert_eq!(
                (e.chat_id, e.message_id, e.edit_version),
                (SUPER_API, 501, i64::from(DATE + 60))
            );
            assert_eq!(e.text, "Когда будет отчёт за Q1?");
            assert_eq!(e.date, at(DATE));
        }
        other => panic!("expected an edit, got {other:?}"),
    }
    // Telegram reports reactions as edits without an edit date.
    let unedited = message(502, peer_channel(SUPER), Some(CLIENT), "ok");
    assert_eq!(t.map(edit(unedited, 51)).await, None);
}

#[tokio::test]
async fn callback_query() {
    let mut t = memory().await;
    let update = t
        .feed(tl::types::UpdateShort {
            update: tl::types::UpdateBotCallbackQuery {
                query_id: 987_654_321_012,
                user_id: CLIENT,
                peer: peer_channel(SUPER),
                msg_id: 33,
                chat_instance: 4,
                data: Some(b"ack:42".to_vec()),
                game_short_name: None,
            }
            .into(),
            date: DATE,
        })
        .await;
    assert!(matches!(update, Update::CallbackQuery(_)));
    assert_eq!(
        map_update(&update, BOT),
        Some(InboundEvent::Callback {
            query_id: 987_654_321_012,
            chat_id: SUPER_API,
            message_id: 33,
            user_id: CLIENT,
            data: b"ack:42".to_vec(),
        })
    );
}

#[tokio::test]
async fn bot_added_and_removed_and_other_members() {
    let mut t = memory().await;
    let add = service(
        20,
        peer_chat(GROUP),
        CLIENT,
        tl::types::MessageActionChatAddUser { users: vec![BOT] },
    );
    assert_eq!(
        t.map(in_basic_group(add, 1)).await,
        Some(InboundEvent::BotAdded {
            chat_id: -GROUP,
            title: Some("Бухгалтерия ИП Сидоров".into()),
            by: Some(CLIENT),
        })
    );

    // Someone else joining is an ordinary service message.
    let other = service(
        21,
        peer_chat(GROUP),
        CLIENT,
        tl::types::MessageActionChatAddUser { users: vec![222] },
    );
    let m = expect_message(t.map(in_basic_group(other, 2)).await);
    assert!(m.service);
    assert_eq!((m.sender, m.text.as_str()), (SenderKind::None, ""));

    let removed = service(
        22,
        peer_chat(GROUP),
        CLIENT,
        tl::types::MessageActionChatDeleteUser { user_id: BOT },
    );
    assert_eq!(
        t.map(in_basic_group(removed, 3)).await,
        Some(InboundEvent::BotRemoved { chat_id: -GROUP })
    );

    // Added to a supergroup.
    let add = service(
        600,
        peer_channel(SUPER),
        CLIENT,
        tl::types::MessageActionChatAddUser { users: vec![BOT] },
    );
    assert_eq!(
        t.map(in_supergroup(add, 60)).await,
        Some(InboundEvent::BotAdded {
            chat_id: SUPER_API,
            title: Some("ООО Ромашка — бухгалтерия".into()),
            by: Some(CLIENT),
        })
    );
}

#[tokio::test]
async fn title_change() {
    let mut t = memory().await;
    let m = service(
        23,
        peer_chat(GROUP),
        CLIENT,
        tl::types::MessageActionChatEditTitle {
            title: "Бухгалтерия ИП Сидорова".into(),
        },
    );
    assert_eq!(
        t.map(in_basic_group(m, 1)).await,
        Some(InboundEvent::TitleChanged {
            chat_id: -GROUP,
            title: "Бухгалтерия ИП Сидорова".into(),
        })
    );
}

#[tokio::test]
async fn migration_to_a_supergroup_is_seen_from_both_sides() {
    let mut t = memory().await;
    let expected = Some(InboundEvent::MigratedToSupergroup {
        old_chat_id: -GROUP,
        new_chat_id: SUPER_API,
    });
    let to = service(
        24,
        peer_chat(GROUP),
        CLIENT,
        tl::types::MessageActionChatMigrateTo { channel_id: SUPER },
    );
    assert_eq!(t.map(in_basic_group(to, 1)).await, expected);
    let from = service(
        1,
        peer_channel(SUPER),
        CLIENT,
        tl::types::MessageActionChannelMigrateFrom {
            title: "Бухгалтерия ИП Сидоров".into(),
            chat_id: GROUP,
        },
    );
    assert_eq!(t.map(in_supergroup(from, 2)).await, expected);
}

#[tokio::test]
async fn the_bots_own_messages_are_mapped_normally() {
    let mut t = memory().await;
    let m = expect_message(t.map(short_chat(13, BOT, "Принято в работу", 1)).await);
    assert_eq!(m.sender, SenderKind::User(BOT));
    // A private chat with the bot: positive chat id, no title.
    let mut t = memory().await;
    let private = short_private(3, CLIENT, "/start", 1);
    let m = expect_message(t.map(private).await);
    assert_eq!(
        (m.chat_id, m.chat_title, m.sender),
        (CLIENT, None, SenderKind::User(CLIENT))
    );
}

/// After a crash the update state was not synced, so Telegram delivers the
/// same updates again; they must map to the same key for the dedupe.
#[tokio::test]
async fn duplicate_delivery_after_a_restart_maps_identically() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("buhbot.db");
    let text = message(501, peer_channel(SUPER), Some(CLIENT), "Когда будет отчёт?");
    let mut edited = text.clone();
    edited.message = "Когда будет отчёт за Q1?".into();
    edited.edit_date = Some(DATE + 60);
    let edit = updates(
        vec![
            tl::types::UpdateEditChannelMessage {
                message: edited.into(),
                pts: 41,
                pts_count: 1,
            }
            .into(),
        ],
        vec![],
        vec![supergroup(SUPER, "ООО Ромашка — бухгалтерия")],
    );

    let first = {
        let (store, _) = Store::open_migrated(&path).unwrap();
        let session = Arc::new(StoreSession::open(store).await.unwrap());
        let mut t = offline(Arc::clone(&session)).await;
        let a = t.map(in_supergroup(text.clone(), 40)).await.unwrap();
        let b = t
            .map(short_chat(10, CLIENT, "Добрый день", 1))
            .await
            .unwrap();
        let c = t.map(edit.clone()).await.unwrap();
        vec![a, b, c]
        // Dropped without sync_update_state: a crash.
    };

    let (store, _) = Store::open_migrated(&path).unwrap();
    let session = Arc::new(StoreSession::open(store).await.unwrap());
    // The peers of the first run were persisted: a send to the stored
    // supergroup id has its access hash.
    let r = session
        .peer_ref(PeerId::from_bot_api_dialog_id(SUPER_API).unwrap())
        .await
        .unwrap()
        .expect("the supergroup's access hash survives the restart");
    assert_eq!(r.auth.hash(), -987_654_321);
    assert!(
        session
            .peer_ref(PeerId::user(CLIENT).unwrap())
            .await
            .unwrap()
            .is_some()
    );

    let mut t = offline(session).await;
    let again = vec![
        t.map(in_supergroup(text, 40)).await.unwrap(),
        t.map(short_chat(10, CLIENT, "Добрый день", 1))
            .await
            .unwrap(),
        t.map(edit).await.unwrap(),
    ];
    assert_eq!(first, again);
    let keys: Vec<_> = again
        .iter()
        .map(|e| match e {
            InboundEvent::Message(m) | InboundEvent::Edit(m) => {
                (m.chat_id, m.message_id, m.edit_version)
            }
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(
        keys,
        vec![
            (SUPER_API, 501, 0),
            (-GROUP, 10, 0),
            (SUPER_API, 501, i64::from(DATE + 60)),
        ]
    );
}

/// `sync_update_state` (periodic and at shutdown) reaches the store, so a
/// clean restart catches up from there instead of replaying.
#[tokio::test]
async fn synced_update_state_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("buhbot.db");
    {
        let (store, _) = Store::open_migrated(&path).unwrap();
        let session = Arc::new(StoreSession::open(store).await.unwrap());
        let mut t = offline(session).await;
        let text = message(501, peer_channel(SUPER), Some(CLIENT), "Когда будет отчёт?");
        t.map(in_supergroup(text, 40)).await.unwrap();
        t.map(short_chat(10, CLIENT, "Добрый день", 7))
            .await
            .unwrap();
        t.stream.sync_update_state().await.unwrap();
    }
    let (store, _) = Store::open_migrated(&path).unwrap();
    let session = StoreSession::open(store).await.unwrap();
    let state = session.updates_state().await.unwrap();
    assert_eq!(state.pts, 7);
    assert_eq!(
        state.channels.iter().find(|c| c.id == SUPER).map(|c| c.pts),
        Some(40)
    );
}

#[tokio::test]
async fn a_group_created_with_the_bot_counts_as_added() {
    let mut t = memory().await;
    let created = service(
        1,
        peer_chat(GROUP),
        CLIENT,
        tl::types::MessageActionChatCreate {
            title: "Бухгалтерия ИП Сидоров".into(),
            users: vec![CLIENT, BOT],
        },
    );
    assert_eq!(
        t.map(in_basic_group(created, 1)).await,
        Some(InboundEvent::BotAdded {
            chat_id: -GROUP,
            title: Some("Бухгалтерия ИП Сидоров".into()),
            by: Some(CLIENT),
        })
    );
}
