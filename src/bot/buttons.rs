//! The inline keyboard of alert messages: what each button's callback data
//! means ([`Action`]; the client menu's: [`MenuAction`]), the link that opens the client's chat, and which
//! buttons a recipient gets (only those they are allowed to press).

use rusqlite::Connection;

use super::auth::{self, Role};
use crate::core::effective::Effective;
use crate::domain::sla::RequestStatus;
use crate::store::chats::SUPERGROUP_BASE;
use crate::store::{Result, chats, requests};
use crate::telegram::outbound::Button;

pub const OPEN_CHAT: &str = "Открыть чат";
pub const NOTIFY: &str = "Напомнить бухгалтеру";
pub const RESOLVE: &str = "Отметить решённым";

/// What a button press asks for. The callback data is `<code>:<request id>`;
/// the one-letter code is the version too: a change of meaning gets a new
/// letter, so a button on an old alert never does something else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Mark the request resolved (`r:`).
    Resolve(i64),
    /// Remind the chat's accountants (`n:`).
    Notify(i64),
}

impl Action {
    /// The callback data: at most 22 bytes (`r:` and an i64), far below
    /// Telegram's 64.
    pub fn encode(self) -> String {
        match self {
            Action::Resolve(id) => format!("r:{id}"),
            Action::Notify(id) => format!("n:{id}"),
        }
    }

    /// `None` for anything [`Action::encode`] did not write.
    pub fn decode(data: &[u8]) -> Option<Action> {
        let s = std::str::from_utf8(data).ok()?;
        let (code, id) = s.split_once(':')?;
        // Only the canonical form: no sign, no leading zeros, no spaces.
        let id: i64 = id.parse().ok().filter(|n: &i64| *n > 0)?;
        if id.to_string() != s[code.len() + 1..] {
            return None;
        }
        match code {
            "r" => Some(Action::Resolve(id)),
            "n" => Some(Action::Notify(id)),
            _ => None,
        }
    }

    pub fn request_id(self) -> i64 {
        match self {
            Action::Resolve(id) | Action::Notify(id) => id,
        }
    }
}

/// What a menu button press asks for. Callback data `m<code>[:<id>]`,
/// apart from the alert buttons' one-letter codes
/// ([`Action`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MenuAction {
    Contact,
    Hours,
    Faq,
    /// Post the answer of FAQ entry `id`.
    Answer(i64),
    /// «Беру» on a contact notice.
    Take(i64),
}

impl MenuAction {
    pub fn encode(self) -> String {
        match self {
            MenuAction::Contact => "mc".into(),
            MenuAction::Hours => "mh".into(),
            MenuAction::Faq => "mf".into(),
            MenuAction::Answer(id) => format!("ma:{id}"),
            MenuAction::Take(id) => format!("mt:{id}"),
        }
    }

    /// `None` for anything [`MenuAction::encode`] did not write.
    pub fn decode(data: &[u8]) -> Option<MenuAction> {
        let s = std::str::from_utf8(data).ok()?;
        match s {
            "mc" => return Some(MenuAction::Contact),
            "mh" => return Some(MenuAction::Hours),
            "mf" => return Some(MenuAction::Faq),
            _ => {}
        }
        let (code, id) = s.split_once(':')?;
        let n: i64 = id.parse().ok().filter(|n: &i64| *n > 0)?;
        if n.to_string() != id {
            return None;
        }
        match code {
            "ma" => Some(MenuAction::Answer(n)),
            "mt" => Some(MenuAction::Take(n)),
            _ => None,
        }
    }
}

/// A button pressing `action`.
pub fn menu_button(text: &str, action: MenuAction) -> Button {
    Button {
        text: text.to_string(),
        callback_data: Some(action.encode()),
        url: None,
    }
}

/// A link that opens `chat` at the client's message: `t.me/c/…/<msg>` for a
/// supergroup (works for members), else the chat's stored invite link.
/// Basic groups without an invite link cannot be linked to. A message
/// from before a group became the supergroup (negative id, see
/// `store::messages::move_chat`) is not in the supergroup: its link is the
/// chat's, without a message.
pub fn chat_link(chat: i64, message_id: i64, invite_link: Option<&str>) -> Option<String> {
    if chat < SUPERGROUP_BASE && message_id <= 0 {
        let internal = SUPERGROUP_BASE - chat;
        return Some(format!("https://t.me/c/{internal}"));
    }
    if chat < SUPERGROUP_BASE {
        let internal = SUPERGROUP_BASE - chat;
        return Some(format!("https://t.me/c/{internal}/{message_id}"));
    }
    invite_link
        .map(str::trim)
        .filter(|l| l.starts_with("https://"))
        .map(str::to_string)
}

/// The link to a request's message, reading the chat's invite link.
pub fn request_link(conn: &Connection, row: &requests::RequestRow) -> Result<Option<String>> {
    let invite = chats::invite_link(conn, row.chat_id)?;
    Ok(chat_link(row.chat_id, row.message_id, invite.as_deref()))
}

/// A one-button row opening `url`.
pub fn url_row(url: String) -> Vec<Button> {
    vec![Button {
        text: OPEN_CHAT.to_string(),
        callback_data: None,
        url: Some(url),
    }]
}

fn callback(text: &str, action: Action) -> Button {
    Button {
        text: text.to_string(),
        callback_data: Some(action.encode()),
        url: None,
    }
}

/// The keyboard of an alert about `row` for `recipient`: the chat link,
/// then the actions they may take while the request is open. Buttons are
/// authorised again on press; hiding the others only spares a refusal.
pub fn keyboard(
    eff: &Effective,
    role: Role,
    row: &requests::RequestRow,
    link: Option<String>,
    recipient: i64,
) -> Vec<Vec<Button>> {
    let mut rows = Vec::new();
    if let Some(url) = link {
        rows.push(url_row(url));
    }
    if row.status != RequestStatus::Open {
        return rows;
    }
    if auth::may_resolve(role, eff, row.chat_id, recipient) {
        rows.push(vec![callback(RESOLVE, Action::Resolve(row.id))]);
    }
    if auth::may_change(role, eff, row.chat_id, recipient) {
        rows.push(vec![callback(NOTIFY, Action::Notify(row.id))]);
    }
    rows
}

/// The keyboard for delivery `delivery_id` to `recipient` (empty when the
/// delivery or its request is gone).
pub fn alert_keyboard(
    conn: &Connection,
    eff: &Effective,
    delivery_id: i64,
    recipient: i64,
    role: Role,
) -> Result<Vec<Vec<Button>>> {
    let Some(request_id) = crate::store::deliveries::request_of_delivery(conn, delivery_id)? else {
        return Ok(Vec::new());
    };
    let Some(row) = requests::get(conn, request_id)? else {
        return Ok(Vec::new());
    };
    let link = request_link(conn, &row)?;
    Ok(keyboard(eff, role, &row, link, recipient))
}
