//! Staff reply templates: `{{variable}}` placeholders filled in.
//!
//! The syntax is the original product's, so templates already in a firm's
//! Postgres keep working: `{{clientName}}`, `{{accountantName}}`,
//! `{{chatTitle}}`, `{{date}}`, `{{time}}`, plus `{{nextWorkingDay}}`
//! (new here). Spaces inside the braces are allowed (`{{ date }}`). A
//! `{{…}}` whose inside is not a name (`{{ 1 + 1 }}`, an unclosed `{{`)
//! is plain text. An unknown name is an error listing every one, never a
//! half-filled message.

use super::render::escape_html;

/// The names a template may use, as written between the braces.
pub const VARIABLES: &[&str] = &[
    "clientName",
    "accountantName",
    "chatTitle",
    "date",
    "time",
    "nextWorkingDay",
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("unknown variable(s): {}", .0.join(", "))]
    Unknown(Vec<String>),
    /// A known variable with no value here (no client in the chat yet…).
    #[error("no value for: {}", .0.join(", "))]
    Missing(Vec<String>),
}

/// One piece of a template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Piece<'a> {
    Text(&'a str),
    Var(&'a str),
}

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn pieces(body: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut rest = body;
    while let Some(open) = rest.find("{{") {
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else {
            break;
        };
        let name = after[..close].trim();
        if is_name(name) {
            out.push(Piece::Text(&rest[..open]));
            out.push(Piece::Var(name));
        } else {
            out.push(Piece::Text(&rest[..open + 2 + close + 2]));
        }
        rest = &after[close + 2..];
    }
    out.push(Piece::Text(rest));
    out
}

/// The names used that are not in [`VARIABLES`], in order, each once.
pub fn unknown_variables(body: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for p in pieces(body) {
        if let Piece::Var(name) = p
            && !VARIABLES.contains(&name)
            && !out.iter().any(|o| o == name)
        {
            out.push(name.to_string());
        }
    }
    out
}

/// The filled template as Telegram HTML (text and values escaped).
/// `value(name)` gives a known variable's value, `None` when it has none.
pub fn render(body: &str, value: impl Fn(&str) -> Option<String>) -> Result<String, TemplateError> {
    let unknown = unknown_variables(body);
    if !unknown.is_empty() {
        return Err(TemplateError::Unknown(unknown));
    }
    let mut out = String::with_capacity(body.len() + 32);
    let mut missing: Vec<String> = Vec::new();
    for p in pieces(body) {
        match p {
            Piece::Text(t) => out.push_str(&escape_html(t)),
            Piece::Var(name) => match value(name) {
                Some(v) => out.push_str(&escape_html(&v)),
                None if !missing.iter().any(|m| m == name) => missing.push(name.to_string()),
                None => {}
            },
        }
    }
    if missing.is_empty() {
        Ok(out)
    } else {
        Err(TemplateError::Missing(missing))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(name: &str) -> Option<String> {
        match name {
            "clientName" => Some("Анна <Ромашка>".into()),
            "date" => Some("13.01.2025".into()),
            _ => None,
        }
    }

    #[test]
    fn variables_are_filled_and_escaped() {
        let out = render(
            "Здравствуйте, {{clientName}}! На {{ date }} всё готово.",
            values,
        );
        assert_eq!(
            out.unwrap(),
            "Здравствуйте, Анна &lt;Ромашка&gt;! На 13.01.2025 всё готово."
        );
    }

    #[test]
    fn non_names_and_unclosed_braces_are_text() {
        assert_eq!(
            render("{{ 1 + 1 }} и {{date", values).unwrap(),
            "{{ 1 + 1 }} и {{date"
        );
    }

    #[test]
    fn unknown_and_missing_variables_are_errors() {
        assert_eq!(
            render("{{clientNmae}} {{foo}} {{foo}} {{date}}", values),
            Err(TemplateError::Unknown(vec![
                "clientNmae".into(),
                "foo".into()
            ]))
        );
        assert_eq!(
            render("{{chatTitle}} {{date}}", values),
            Err(TemplateError::Missing(vec!["chatTitle".into()]))
        );
    }
}
