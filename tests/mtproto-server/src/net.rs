//! The listener and one task per connection: `Full` framing, decryption,
//! the session (salt, session id, msg ids, seq numbers), containers,
//! gzip_packed and the service messages; RPCs go to [`crate::rpc`].

use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use grammers_crypto::DequeBuffer;
use grammers_mtproto::transport::{self, Full, Transport};
use grammers_tl_types::{self as tl, Cursor, Deserializable, Identifiable, Serializable};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};

use crate::tl_util::{GZIP_PACKED, MSG_CONTAINER, gunzip};
use crate::{Out, Shared, crypto};

pub async fn serve(
    shared: Arc<Shared>,
    listener: std::net::TcpListener,
    mut stop: oneshot::Receiver<()>,
) {
    let listener = TcpListener::from_std(listener).unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut stop => break,
            a = listener.accept() => {
                let Ok((stream, _)) = a else { continue };
                let (id, rx, tx) = {
                    let mut inner = shared.lock();
                    if inner.refuse_until.is_some_and(|t| Instant::now() < t) {
                        let n = inner.next_conn;
                        shared.log(&mut inner, n, "(connection refused)", None, String::new(), "closed".into());
                        continue; // dropped: closed at once
                    }
                    let id = inner.next_conn;
                    inner.next_conn += 1;
                    let (tx, rx) = mpsc::unbounded_channel();
                    inner.conns.push((id, tx.clone()));
                    (id, rx, tx)
                };
                tasks.spawn(connection(Arc::clone(&shared), id, stream, rx, tx));
            }
        }
    }
    tasks.abort_all();
}

/// The per-connection session state of the server's side.
pub(crate) struct Session {
    pub id: Option<i64>,
    seq: i32,
    last_msg_id: i64,
}

impl Session {
    fn msg_id(&mut self, response: bool) -> i64 {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        let mut id = ((now.as_secs() as i64) << 32) | (i64::from(now.subsec_nanos()) << 2);
        id = (id & !3) | if response { 1 } else { 3 };
        while id <= self.last_msg_id {
            id += 4;
        }
        self.last_msg_id = id;
        id
    }

    fn seq_no(&mut self, content: bool) -> i32 {
        if content {
            self.seq += 2;
            self.seq - 1
        } else {
            self.seq
        }
    }
}

async fn connection(
    shared: Arc<Shared>,
    conn: u64,
    mut stream: TcpStream,
    mut rx: mpsc::UnboundedReceiver<Out>,
    tx: mpsc::UnboundedSender<Out>,
) {
    let mut recv = Full::new();
    let mut send = Full::new();
    let mut session = Session {
        id: None,
        seq: 0,
        last_msg_id: 0,
    };
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    'conn: loop {
        tokio::select! {
            out = rx.recv() => match out {
                Some(Out::Msg(body, content)) => {
                    if write(&shared, &mut session, &mut send, &mut stream, &body, content).await.is_err() {
                        break;
                    }
                }
                Some(Out::Close) | None => break,
            },
            n = stream.read(&mut chunk) => {
                let n = match n { Ok(0) | Err(_) => break, Ok(n) => n };
                buf.extend_from_slice(&chunk[..n]);
                loop {
                    match recv.unpack(&mut buf[..]) {
                        Ok(off) => {
                            let packet = buf[off.data_range.clone()].to_vec();
                            buf.drain(..off.next_offset);
                            if !packet_in(&shared, conn, &tx, &mut session, &packet, &mut stream).await {
                                break 'conn;
                            }
                        }
                        Err(transport::Error::MissingBytes) => break,
                        Err(e) => {
                            let mut inner = shared.lock();
                            shared.log(&mut inner, conn, "(transport error)", None, format!("{e:?}"), "closed".into());
                            break 'conn;
                        }
                    }
                }
            }
        }
    }
    shared.lock().conns.retain(|(id, _)| *id != conn);
}

async fn write(
    shared: &Shared,
    session: &mut Session,
    send: &mut Full,
    stream: &mut TcpStream,
    body: &[u8],
    content: bool,
) -> std::io::Result<()> {
    let Some(session_id) = session.id else {
        return Ok(()); // nothing to answer to yet
    };
    let mut plain = Vec::with_capacity(32 + body.len());
    shared.salt.serialize(&mut plain);
    session_id.serialize(&mut plain);
    session.msg_id(content).serialize(&mut plain);
    session.seq_no(content).serialize(&mut plain);
    (body.len() as i32).serialize(&mut plain);
    plain.extend_from_slice(body);
    let packet = crypto::encrypt_to_client(&shared.key, plain);
    let mut framed = DequeBuffer::with_capacity(packet.len() + 4, 8);
    framed.extend(packet);
    send.pack(&mut framed);
    stream.write_all(&framed[..]).await
}

/// One transport packet from the client; false closes the connection.
async fn packet_in(
    shared: &Arc<Shared>,
    conn: u64,
    tx: &mpsc::UnboundedSender<Out>,
    session: &mut Session,
    packet: &[u8],
    stream: &mut TcpStream,
) -> bool {
    if packet.len() >= 8 && packet[..8] == [0; 8] {
        let mut inner = shared.lock();
        shared.log(
            &mut inner,
            conn,
            "(plain message: key exchange)",
            None,
            String::new(),
            "not supported: the test seeds the auth key; closed".into(),
        );
        return false;
    }
    let plain = match crypto::decrypt_from_client(&shared.key, packet) {
        Ok(p) => p,
        Err(e) => {
            {
                let mut inner = shared.lock();
                shared.log(
                    &mut inner,
                    conn,
                    "(undecryptable packet)",
                    None,
                    format!("{e:?}"),
                    "transport error -404".into(),
                );
            }
            // Transport error: the key is unknown.
            let _ = stream.write_all(&(-404i32).to_le_bytes()).await;
            return false;
        }
    };
    let mut cur = Cursor::from_slice(&plain);
    let (Ok(salt), Ok(session_id), Ok(msg_id), Ok(seq_no), Ok(len)) = (
        i64::deserialize(&mut cur),
        i64::deserialize(&mut cur),
        i64::deserialize(&mut cur),
        i32::deserialize(&mut cur),
        i32::deserialize(&mut cur),
    ) else {
        return false;
    };
    let body = plain[32..(32 + len.max(0) as usize).min(plain.len())].to_vec();
    if session.id != Some(session_id) {
        session.id = Some(session_id);
        let mut unique = [0u8; 8];
        getrandom::fill(&mut unique).unwrap();
        let created = tl::enums::NewSession::Created(tl::types::NewSessionCreated {
            first_msg_id: msg_id,
            unique_id: i64::from_le_bytes(unique),
            server_salt: shared.salt,
        });
        let _ = tx.send(Out::Msg(created.to_bytes(), true));
        let mut inner = shared.lock();
        shared.log(
            &mut inner,
            conn,
            "(new session)",
            None,
            format!("session_id={session_id:#x}"),
            "new_session_created".into(),
        );
    }
    if salt != shared.salt {
        let bad = tl::enums::BadMsgNotification::BadServerSalt(tl::types::BadServerSalt {
            bad_msg_id: msg_id,
            bad_msg_seqno: seq_no,
            error_code: 48,
            new_server_salt: shared.salt,
        });
        let _ = tx.send(Out::Msg(bad.to_bytes(), false));
        let mut inner = shared.lock();
        shared.log(
            &mut inner,
            conn,
            "(wrong salt)",
            None,
            format!("salt={salt:#x}"),
            "bad_server_salt".into(),
        );
        return true;
    }
    message(shared, conn, tx, msg_id, &body);
    true
}

/// One message (or a container / gzip_packed of them).
fn message(
    shared: &Arc<Shared>,
    conn: u64,
    tx: &mpsc::UnboundedSender<Out>,
    msg_id: i64,
    body: &[u8],
) {
    let Ok(id) = u32::from_bytes(body) else {
        return;
    };
    let rest = &body[4..];
    let mut cur = Cursor::from_slice(rest);
    match id {
        MSG_CONTAINER => {
            let Ok(n) = i32::deserialize(&mut cur) else {
                return;
            };
            for _ in 0..n {
                let (Ok(inner_id), Ok(_seq), Ok(len)) = (
                    i64::deserialize(&mut cur),
                    i32::deserialize(&mut cur),
                    i32::deserialize(&mut cur),
                ) else {
                    return;
                };
                let mut inner_body = vec![0; len.max(0) as usize];
                if cur.read_exact(&mut inner_body).is_err() {
                    return;
                }
                message(shared, conn, tx, inner_id, &inner_body);
            }
        }
        GZIP_PACKED => {
            if let Ok(packed) = Vec::<u8>::deserialize(&mut cur)
                && let Ok(unpacked) = gunzip(&packed)
            {
                message(shared, conn, tx, msg_id, &unpacked);
            }
        }
        tl::types::MsgsAck::CONSTRUCTOR_ID => {
            let mut inner = shared.lock();
            let detail = tl::types::MsgsAck::deserialize(&mut cur)
                .map(|a| format!("{} ids", a.msg_ids.len()))
                .unwrap_or_default();
            shared.log(&mut inner, conn, "msgs_ack", None, detail, "noted".into());
        }
        tl::functions::Ping::CONSTRUCTOR_ID
        | tl::functions::PingDelayDisconnect::CONSTRUCTOR_ID => {
            let Ok(ping_id) = i64::deserialize(&mut cur) else {
                return;
            };
            let pong = tl::enums::Pong::Pong(tl::types::Pong { msg_id, ping_id });
            let _ = tx.send(Out::Msg(pong.to_bytes(), false));
            let mut inner = shared.lock();
            let name = if id == tl::functions::Ping::CONSTRUCTOR_ID {
                "ping"
            } else {
                "ping_delay_disconnect"
            };
            shared.log(&mut inner, conn, name, None, String::new(), "pong".into());
        }
        tl::functions::GetFutureSalts::CONSTRUCTOR_ID => {
            let now = crate::world::now();
            // Several, the first valid now, so that grammers keeps using
            // them for hours before asking again.
            let salts = (0..8)
                .map(|i| tl::types::FutureSalt {
                    valid_since: now - 10 + i * 3600,
                    valid_until: now + (i + 1) * 3600,
                    salt: shared.salt,
                })
                .collect();
            let answer = tl::enums::FutureSalts::Salts(tl::types::FutureSalts {
                req_msg_id: msg_id,
                now,
                salts: tl::RawVec(salts),
            });
            let _ = tx.send(Out::Msg(answer.to_bytes(), false));
            let mut inner = shared.lock();
            shared.log(
                &mut inner,
                conn,
                "get_future_salts",
                None,
                String::new(),
                "future_salts".into(),
            );
        }
        _ => crate::rpc::call(shared, conn, tx, msg_id, body),
    }
}
