//! Small TL helpers: bare objects built from a serialized prefix (the
//! generated structs have dozens of optional fields and no `Default`),
//! peers in Bot-API numbering, and the MTProto envelopes grammers keeps
//! private (`rpc_result`, `gzip_packed`, containers).

use std::io::{Read, Write};

use grammers_tl_types::{self as tl, Cursor, Deserializable, Serializable};

pub const RPC_RESULT: u32 = 0xf35c6d01;
pub const GZIP_PACKED: u32 = 0x3072cfa1;
pub const MSG_CONTAINER: u32 = 0x73f1f8dc;
const CHANNEL_BASE: i64 = 1_000_000_000_000;

/// A bare object deserialized from `prefix` followed by zeros: every flag
/// off, every optional field absent, numbers 0, strings empty.
pub fn blank<T: Deserializable>(prefix: &[u8]) -> T {
    let mut buf = prefix.to_vec();
    buf.resize(prefix.len() + 1024, 0);
    T::from_bytes(&buf).expect("a blank TL object")
}

/// Unparsed remainder of a request (the inner query of a wrapper).
pub struct Raw(pub Vec<u8>);

impl Deserializable for Raw {
    fn deserialize(buf: &mut Cursor) -> tl::deserialize::Result<Self> {
        let mut v = Vec::new();
        buf.read_to_end(&mut v)?;
        Ok(Raw(v))
    }
}

/// A Bot-API dialog id as a peer: users positive, basic groups `-id`,
/// channels and supergroups `-100…`.
pub fn peer(chat: i64) -> tl::enums::Peer {
    if chat > 0 {
        tl::types::PeerUser { user_id: chat }.into()
    } else if chat < -CHANNEL_BASE {
        tl::types::PeerChannel {
            channel_id: -chat - CHANNEL_BASE,
        }
        .into()
    } else {
        tl::types::PeerChat { chat_id: -chat }.into()
    }
}

pub fn is_channel(chat: i64) -> bool {
    chat < -CHANNEL_BASE
}

pub fn channel_dialog_id(channel_id: i64) -> i64 {
    -(CHANNEL_BASE + channel_id)
}

pub fn input_peer_dialog(p: &tl::enums::InputPeer, bot_id: i64) -> Option<i64> {
    use tl::enums::InputPeer as P;
    match p {
        P::PeerSelf => Some(bot_id),
        P::Chat(c) => Some(-c.chat_id),
        P::User(u) => Some(u.user_id),
        P::Channel(c) => Some(channel_dialog_id(c.channel_id)),
        _ => None,
    }
}

pub fn rpc_result(req_msg_id: i64, result: &[u8]) -> Vec<u8> {
    // Large answers are gzip_packed, as Telegram does.
    let body = if result.len() > 512 {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(result).unwrap();
        let packed = gz.finish().unwrap();
        let mut b = GZIP_PACKED.to_bytes();
        packed.serialize(&mut b);
        b
    } else {
        result.to_vec()
    };
    let mut out = RPC_RESULT.to_bytes();
    req_msg_id.serialize(&mut out);
    out.extend_from_slice(&body);
    out
}

pub fn rpc_error(code: i32, message: &str) -> Vec<u8> {
    tl::enums::RpcError::Error(tl::types::RpcError {
        error_code: code,
        error_message: message.to_string(),
    })
    .to_bytes()
}

pub fn gunzip(data: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(data).read_to_end(&mut out)?;
    Ok(out)
}

/// A basic group of three members, as Telegram describes one in updates
/// and in `getDifference` (the server's world and the offline client
/// tests both need it).
pub fn basic_group(id: i64, title: &str, date: i32) -> tl::types::Chat {
    tl::types::Chat {
        creator: false,
        left: false,
        deactivated: false,
        call_active: false,
        call_not_empty: false,
        noforwards: false,
        id,
        title: title.to_string(),
        photo: tl::enums::ChatPhoto::Empty,
        participants_count: 3,
        date,
        version: 1,
        migrated_to: None,
        admin_rights: None,
        default_banned_rights: None,
    }
}
