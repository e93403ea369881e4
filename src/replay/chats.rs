//! Which chats of an export are replayed: group chats (basic groups and
//! supergroups) are where a firm talks to its clients; personal chats,
//! bots, Saved Messages and channels are not, and are named as skipped.
//! `--chat` picks one by id or name.

use std::fmt::Write as _;

use crate::export::{ExportChat, bot_api_chat_id};

/// Why a chat of this `type` is not replayed; `None` for group chats.
pub fn not_a_group(kind: &str) -> Option<&'static str> {
    match kind {
        "private_group" | "private_supergroup" | "public_supergroup" => None,
        "personal_chat" => Some("a personal chat"),
        "bot_chat" => Some("a chat with a bot"),
        "saved_messages" => Some("Saved Messages"),
        "replies" => Some("the Replies chat"),
        "private_channel" | "public_channel" => Some("a channel (no client writes there)"),
        _ => Some("a chat of unknown type"),
    }
}

/// `--chat ID|NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatSelector {
    /// The Bot-API id (`-100…`) or the export's own id.
    Id(i64),
    /// The chat's name, compared without regard to case.
    Name(String),
}

impl std::str::FromStr for ChatSelector {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s.trim().is_empty() {
            return Err("expected a chat id or name".into());
        }
        Ok(match s.trim().parse::<i64>() {
            Ok(id) => ChatSelector::Id(id),
            Err(_) => ChatSelector::Name(s.to_owned()),
        })
    }
}

impl std::fmt::Display for ChatSelector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChatSelector::Id(id) => write!(f, "{id}"),
            ChatSelector::Name(n) => write!(f, "{n:?}"),
        }
    }
}

impl ChatSelector {
    pub fn matches(&self, chat: &ExportChat) -> bool {
        match self {
            ChatSelector::Id(id) => {
                *id == chat.id || bot_api_chat_id(&chat.kind, *id) == Some(chat.id)
            }
            ChatSelector::Name(name) => chat
                .name
                .as_deref()
                .is_some_and(|n| n.to_lowercase() == name.to_lowercase()),
        }
    }
}

/// A chat that was not replayed, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct SkippedChat {
    pub chat: ExportChat,
    pub reason: String,
}

/// What a replay went through besides the reports it handed out.
#[derive(Debug, Clone, Default)]
pub struct ReplayOutcome {
    pub reports: usize,
    /// Not group chats, or a group whose history is already part of its
    /// supergroup's.
    pub skipped: Vec<SkippedChat>,
    /// Every group chat of the export (the candidates for `--chat`).
    pub groups: Vec<ExportChat>,
}

/// `"name" (id)`.
pub fn describe(chat: &ExportChat) -> String {
    match &chat.name {
        Some(n) => format!("{n:?} ({})", chat.id),
        None => format!("unnamed ({})", chat.id),
    }
}

/// The error text when nothing was replayed: what was asked, and what the
/// export holds instead (at most 20 chats of each kind, then a count).
pub(super) fn nothing_replayed(wanted: Option<&ChatSelector>, outcome: &ReplayOutcome) -> String {
    const SHOWN: usize = 20;
    let mut s = String::new();
    let list = |s: &mut String, items: Vec<String>| {
        let more = items.len().saturating_sub(SHOWN);
        s.push_str(&items.into_iter().take(SHOWN).collect::<Vec<_>>().join(", "));
        if more > 0 {
            let _ = write!(s, " and {more} more");
        }
    };
    match wanted {
        Some(w) => {
            let _ = write!(s, "no group chat matches --chat {w}");
        }
        None => s.push_str("no group chat to replay (buhbot replays groups and supergroups)"),
    }
    if outcome.groups.is_empty() {
        s.push_str("; the export has no group chat");
    } else {
        s.push_str("; group chats in the export: ");
        list(&mut s, outcome.groups.iter().map(describe).collect());
    }
    if !outcome.skipped.is_empty() {
        s.push_str("; skipped: ");
        list(
            &mut s,
            outcome
                .skipped
                .iter()
                .map(|k| format!("{} ({})", describe(&k.chat), k.reason))
                .collect(),
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chat(id: i64, name: &str, kind: &str) -> ExportChat {
        ExportChat {
            id,
            name: Some(name.into()),
            kind: kind.into(),
        }
    }

    #[test]
    fn selectors_match_ids_in_both_forms_and_names_without_case() {
        let sup = chat(-1001987654321, "ООО Ромашка", "private_supergroup");
        let sel = |s: &str| s.parse::<ChatSelector>().unwrap();
        assert!(sel("-1001987654321").matches(&sup));
        assert!(sel("1987654321").matches(&sup));
        assert!(sel("ооо ромашка").matches(&sup));
        assert!(!sel("ООО").matches(&sup));
        assert!(!sel("-1987654321").matches(&sup));
        let group = chat(-4001, "Старая группа", "private_group");
        assert!(sel("4001").matches(&group) && sel("-4001").matches(&group));
        assert!("  ".parse::<ChatSelector>().is_err());
    }

    #[test]
    fn only_groups_and_supergroups_are_replayed() {
        for kind in ["private_group", "private_supergroup", "public_supergroup"] {
            assert_eq!(not_a_group(kind), None, "{kind}");
        }
        for kind in [
            "personal_chat",
            "bot_chat",
            "saved_messages",
            "replies",
            "private_channel",
            "public_channel",
            "",
        ] {
            assert!(not_a_group(kind).is_some(), "{kind}");
        }
    }
}
