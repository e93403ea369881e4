//! The API methods the server answers, after the test's rules had their
//! say. Anything else is logged loudly and refused with an RPC error, so a
//! failing test shows what grammers or the bot called.

use std::sync::Arc;

use grammers_tl_types::{self as tl, Cursor, Deserializable, Identifiable, Serializable};
use tokio::sync::mpsc;

use crate::tl_util::{Raw, input_peer_dialog, rpc_error, rpc_result};
use crate::world::{Sent, now};
use crate::{Action, Inner, Out, Shared};

use tl::functions as f;

enum Req {
    GetConfig,
    ImportBot(f::auth::ImportBotAuthorization),
    GetUsers(f::users::GetUsers),
    GetState,
    GetDifference(f::updates::GetDifference),
    GetChannelDifference(f::updates::GetChannelDifference),
    Send(f::messages::SendMessage),
    Edit(f::messages::EditMessage),
    CallbackAnswer(#[allow(dead_code)] f::messages::SetBotCallbackAnswer),
    Unknown,
}

type Answer = Result<Vec<u8>, (i32, String)>;

/// Strips invokeWithLayer / initConnection; returns the request, its TL
/// name, the wrappers seen and the `Debug` of the request.
fn decode(mut body: Vec<u8>) -> (Req, String, String, String) {
    let mut wrappers = String::new();
    loop {
        let Ok(id) = u32::from_bytes(&body) else {
            return (Req::Unknown, "(empty)".into(), wrappers, String::new());
        };
        let name = tl::name_for_id(id).to_string();
        let mut cur = Cursor::from_slice(&body[4..]);
        macro_rules! parse {
            ($t:ty, $v:expr) => {
                match <$t>::deserialize(&mut cur) {
                    Ok(r) => {
                        let d = format!("{r:?}");
                        return ($v(r), name, wrappers, d);
                    }
                    Err(e) => return (Req::Unknown, name, wrappers, format!("unparsable: {e:?}")),
                }
            };
        }
        match id {
            f::InvokeWithLayer::<Raw>::CONSTRUCTOR_ID => {
                match f::InvokeWithLayer::<Raw>::deserialize(&mut cur) {
                    Ok(w) => {
                        wrappers.push_str(&format!("invokeWithLayer({}) ", w.layer));
                        body = w.query.0;
                    }
                    Err(_) => return (Req::Unknown, name, wrappers, String::new()),
                }
            }
            f::InitConnection::<Raw>::CONSTRUCTOR_ID => {
                match f::InitConnection::<Raw>::deserialize(&mut cur) {
                    Ok(w) => {
                        wrappers.push_str(&format!(
                            "initConnection(api_id={}, {:?}) ",
                            w.api_id, w.device_model
                        ));
                        body = w.query.0;
                    }
                    Err(_) => return (Req::Unknown, name, wrappers, String::new()),
                }
            }
            f::help::GetConfig::CONSTRUCTOR_ID => {
                return (Req::GetConfig, name, wrappers, String::new());
            }
            f::updates::GetState::CONSTRUCTOR_ID => {
                return (Req::GetState, name, wrappers, String::new());
            }
            f::auth::ImportBotAuthorization::CONSTRUCTOR_ID => {
                // Never log the token.
                match f::auth::ImportBotAuthorization::deserialize(&mut cur) {
                    Ok(r) => return (Req::ImportBot(r), name, wrappers, "(token withheld)".into()),
                    Err(e) => return (Req::Unknown, name, wrappers, format!("unparsable: {e:?}")),
                }
            }
            f::users::GetUsers::CONSTRUCTOR_ID => parse!(f::users::GetUsers, Req::GetUsers),
            f::updates::GetDifference::CONSTRUCTOR_ID => {
                parse!(f::updates::GetDifference, Req::GetDifference)
            }
            f::updates::GetChannelDifference::CONSTRUCTOR_ID => {
                parse!(f::updates::GetChannelDifference, Req::GetChannelDifference)
            }
            f::messages::SendMessage::CONSTRUCTOR_ID => parse!(f::messages::SendMessage, Req::Send),
            f::messages::EditMessage::CONSTRUCTOR_ID => parse!(f::messages::EditMessage, Req::Edit),
            f::messages::SetBotCallbackAnswer::CONSTRUCTOR_ID => {
                parse!(f::messages::SetBotCallbackAnswer, Req::CallbackAnswer)
            }
            _ => {
                return (
                    Req::Unknown,
                    name,
                    wrappers,
                    format!("{} bytes", body.len()),
                );
            }
        }
    }
}

fn chat_of(req: &Req, bot_id: i64) -> Option<i64> {
    match req {
        Req::Send(r) => input_peer_dialog(&r.peer, bot_id),
        Req::Edit(r) => input_peer_dialog(&r.peer, bot_id),
        Req::GetChannelDifference(r) => match &r.channel {
            tl::enums::InputChannel::Channel(c) => {
                Some(crate::tl_util::channel_dialog_id(c.channel_id))
            }
            _ => None,
        },
        _ => None,
    }
}

pub fn call(
    shared: &Arc<Shared>,
    conn: u64,
    tx: &mpsc::UnboundedSender<Out>,
    msg_id: i64,
    body: &[u8],
) {
    let (req, name, wrappers, detail) = decode(body.to_vec());
    let mut inner = shared.lock();
    let chat = chat_of(&req, inner.world.bot.id);
    let detail = format!("{wrappers}{detail}");
    let rule = inner
        .rules
        .iter_mut()
        .find(|r| r.method == name && (r.chat.is_none() || r.chat == chat) && r.times != Some(0))
        .map(|r| {
            if let Some(t) = r.times.as_mut() {
                *t -= 1;
            }
            r.action.clone()
        });
    if let Some(Action::Fail { code, message }) = &rule {
        let _ = tx.send(Out::Msg(
            rpc_result(msg_id, &rpc_error(*code, message)),
            true,
        ));
        shared.log(
            &mut inner,
            conn,
            &name,
            chat,
            detail,
            format!("rpc_error {code} {message} (rule)"),
        );
        return;
    }
    let answer = perform(&mut inner, shared, &req);
    let mut outcome = match &answer {
        Ok(_) => "ok".to_string(),
        Err((code, m)) => format!("rpc_error {code} {m}"),
    };
    if matches!(req, Req::Unknown) {
        outcome = format!("UNHANDLED by the test server: {outcome}");
        eprintln!("mtproto-test-server: UNHANDLED request {name} {detail}");
    }
    let bytes = match answer {
        Ok(b) => b,
        Err((code, m)) => rpc_error(code, &m),
    };
    let reply = rpc_result(msg_id, &bytes);
    match rule {
        Some(Action::Delay(d)) => {
            outcome.push_str(&format!(" (answered after {d:?})"));
            let tx = tx.clone();
            tokio::spawn(async move {
                tokio::time::sleep(d).await;
                let _ = tx.send(Out::Msg(reply, true));
            });
        }
        Some(Action::DoThenDrop) => {
            outcome.push_str(" (done, then the connection dropped unanswered)");
            inner.conns.retain(|(id, _)| *id != conn);
            let _ = tx.send(Out::Close);
        }
        _ => {
            let _ = tx.send(Out::Msg(reply, true));
        }
    }
    shared.log(&mut inner, conn, &name, chat, detail, outcome);
}

fn perform(inner: &mut Inner, shared: &Shared, req: &Req) -> Answer {
    let w = &mut inner.world;
    let needs_auth = !matches!(req, Req::GetConfig | Req::ImportBot(_) | Req::Unknown);
    if needs_auth && !w.authorized {
        return Err((401, "AUTH_KEY_UNREGISTERED".into()));
    }
    match req {
        Req::GetConfig => Ok(config(shared.port).to_bytes()),
        Req::ImportBot(r) => {
            if r.bot_auth_token != w.bot.token {
                return Err((400, "ACCESS_TOKEN_INVALID".into()));
            }
            w.authorized = true;
            Ok(
                tl::enums::auth::Authorization::Authorization(tl::types::auth::Authorization {
                    setup_password_required: false,
                    otherwise_relogin_days: None,
                    tmp_sessions: None,
                    future_auth_token: None,
                    user: w.me(),
                })
                .to_bytes(),
            )
        }
        Req::GetUsers(r) => {
            let users: Vec<tl::enums::User> =
                r.id.iter()
                    .map(|u| match u {
                        tl::enums::InputUser::UserSelf => w.me(),
                        tl::enums::InputUser::User(u) => {
                            w.users.get(&u.user_id).cloned().map(Into::into).unwrap_or(
                                tl::enums::User::Empty(tl::types::UserEmpty { id: u.user_id }),
                            )
                        }
                        _ => tl::enums::User::Empty(tl::types::UserEmpty { id: 0 }),
                    })
                    .collect();
            Ok(users.to_bytes())
        }
        Req::GetState => Ok(tl::enums::updates::State::State(w.state()).to_bytes()),
        Req::GetDifference(r) => Ok(w.difference(r.pts, r.date, 100).to_bytes()),
        Req::GetChannelDifference(r) => {
            let tl::enums::InputChannel::Channel(c) = &r.channel else {
                return Err((400, "CHANNEL_INVALID".into()));
            };
            Ok(
                w.channel_difference(c.channel_id, r.pts, r.limit.max(1) as usize)
                    .to_bytes(),
            )
        }
        Req::Send(r) => {
            let bot = w.bot.id;
            let Some(chat) = input_peer_dialog(&r.peer, bot) else {
                return Err((400, "PEER_ID_INVALID".into()));
            };
            if !known(w, chat) {
                return Err((400, "PEER_ID_INVALID".into()));
            }
            if !w.random_ids.insert(r.random_id) {
                return Err((400, "RANDOM_ID_DUPLICATE".into()));
            }
            let mut m = w.message(chat, bot, &r.message, now());
            m.reply_markup = r.reply_markup.clone();
            m.entities = r.entities.clone();
            let id = m.id;
            w.sent.push(Sent {
                chat,
                id,
                text: r.message.clone(),
                reply_markup: r.reply_markup.clone(),
                random_id: r.random_id,
                edits: 0,
            });
            let u = w.log_message(chat, m, false);
            let updates = w.updates(vec![
                tl::types::UpdateMessageId {
                    id,
                    random_id: r.random_id,
                }
                .into(),
                u,
            ]);
            Ok(updates.to_bytes())
        }
        Req::Edit(r) => {
            let bot = w.bot.id;
            let Some(chat) = input_peer_dialog(&r.peer, bot) else {
                return Err((400, "PEER_ID_INVALID".into()));
            };
            let Some(pos) = w.sent.iter().position(|s| s.chat == chat && s.id == r.id) else {
                return Err((400, "MESSAGE_ID_INVALID".into()));
            };
            let text = r
                .message
                .clone()
                .unwrap_or_else(|| w.sent[pos].text.clone());
            if text == w.sent[pos].text && r.reply_markup == w.sent[pos].reply_markup {
                return Err((400, "MESSAGE_NOT_MODIFIED".into()));
            }
            let s = &mut w.sent[pos];
            s.text = text.clone();
            s.reply_markup = r.reply_markup.clone();
            s.edits += 1;
            let mut m = w.compose(r.id, chat, bot, &text, now());
            m.out = true;
            m.edit_date = Some(now());
            m.reply_markup = r.reply_markup.clone();
            let u = w.log_message(chat, m, true);
            Ok(w.updates(vec![u]).to_bytes())
        }
        Req::CallbackAnswer(_) => Ok(true.to_bytes()),
        Req::Unknown => Err((400, "METHOD_UNKNOWN_TO_TEST_SERVER".into())),
    }
}

fn known(w: &crate::world::World, chat: i64) -> bool {
    if chat > 0 {
        w.users.contains_key(&chat)
    } else if crate::tl_util::is_channel(chat) {
        w.channels.contains_key(&(-chat - 1_000_000_000_000))
    } else {
        w.groups.contains_key(&-chat)
    }
}

fn config(port: u16) -> tl::enums::Config {
    let mut prefix = Vec::new();
    0u32.serialize(&mut prefix);
    now().serialize(&mut prefix);
    (now() + 3600).serialize(&mut prefix);
    false.serialize(&mut prefix); // test_mode:Bool
    2i32.serialize(&mut prefix);
    Vec::<tl::enums::DcOption>::new().serialize(&mut prefix);
    let mut c: tl::types::Config = crate::tl_util::blank(&prefix);
    // The home DC (2) is this server; grammers stores static options.
    c.dc_options = vec![
        tl::types::DcOption {
            ipv6: false,
            media_only: false,
            tcpo_only: false,
            cdn: false,
            r#static: true,
            this_port_only: false,
            id: 2,
            ip_address: "127.0.0.1".into(),
            port: i32::from(port),
            secret: None,
        }
        .into(),
    ];
    c.chat_size_max = 200;
    c.message_length_max = 4096;
    c.into()
}
