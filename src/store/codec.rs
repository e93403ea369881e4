//! Enums stored as text: one definition of their spelling in the database,
//! and an error that names the table, column and value when a stored value
//! is not one this binary knows (a newer binary wrote it, or a hand edit).
//!
//! Declare a stored enum with [`stored_enum!`]; read it with [`column`] so
//! that a bad value is reported with its place, not as a bare parse error.

use rusqlite::Row;
use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSqlOutput, ValueRef};

/// A stored value that no variant spells.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {value:?} in {table}.{column}")]
pub struct UnknownValue {
    pub table: &'static str,
    pub column: &'static str,
    /// The Rust type it was read as, e.g. "alert kind".
    pub what: &'static str,
    pub value: String,
}

/// Text given by a person (a command-line value, a bot argument) that no
/// variant spells; names what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} {value:?}: expected {}", .expected.join(", "))]
pub struct Unrecognised {
    pub what: &'static str,
    pub value: String,
    pub expected: Vec<&'static str>,
}

/// Parses a person's spelling of `T` (the `FromStr` of stored enums).
pub fn parse<T: StoredEnum>(s: &str) -> Result<T, Unrecognised> {
    T::parse(s).ok_or_else(|| Unrecognised {
        what: T::WHAT,
        value: s.to_string(),
        expected: T::ALL.iter().map(|v| v.as_str()).collect(),
    })
}

/// An enum with a fixed text spelling per variant.
pub trait StoredEnum: Sized + Copy + 'static {
    /// What it is, for error messages ("alert kind", "role").
    const WHAT: &'static str;
    /// Every variant, in declaration order.
    const ALL: &'static [Self];
    fn as_str(self) -> &'static str;
    fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|v| v.as_str() == s)
    }
}

/// Reads column `idx` of `row` as `T`; an unknown spelling fails with an
/// [`UnknownValue`] naming `table` and `column`.
pub fn column<T: StoredEnum>(
    row: &Row<'_>,
    idx: usize,
    table: &'static str,
    column: &'static str,
) -> rusqlite::Result<T> {
    let text: String = row.get(idx)?;
    T::parse(&text).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            idx,
            rusqlite::types::Type::Text,
            Box::new(UnknownValue {
                table,
                column,
                what: T::WHAT,
                value: text,
            }),
        )
    })
}

/// Like [`column`] for a nullable column.
pub fn column_opt<T: StoredEnum>(
    row: &Row<'_>,
    idx: usize,
    table: &'static str,
    col: &'static str,
) -> rusqlite::Result<Option<T>> {
    match row.get_ref(idx)? {
        ValueRef::Null => Ok(None),
        _ => column(row, idx, table, col).map(Some),
    }
}

/// `ToSql` for stored enums (as their spelling).
pub fn to_sql<T: StoredEnum>(v: T) -> ToSqlOutput<'static> {
    ToSqlOutput::from(v.as_str())
}

/// `FromSql` for stored enums, for reads that go through `row.get`; the
/// error names the type and value (use [`column`] to name the place too).
pub fn from_sql<T: StoredEnum>(value: ValueRef<'_>) -> FromSqlResult<T> {
    let s = <String as FromSql>::column_result(value)?;
    T::parse(&s).ok_or_else(|| {
        FromSqlError::Other(Box::new(UnknownValue {
            table: "?",
            column: "?",
            what: T::WHAT,
            value: s,
        }))
    })
}

/// Declares the text spelling of an enum defined elsewhere in the crate
/// and implements [`StoredEnum`], `ToSql`, `FromSql`, `Display` and
/// `FromStr` (for text a person typed) for it:
///
/// Invoke it in the store module that owns the column (it is in textual
/// scope there: `store/mod.rs` declares this module first, `#[macro_use]`);
/// the domain stays free of rusqlite.
///
/// ```ignore
/// stored_enum!(AlertKind, "alert kind", {
///     Warning => "warning", Breach => "breach", Escalation => "escalation",
/// });
/// ```
#[macro_export]
macro_rules! stored_enum {
    ($ty:ty, $what:literal, { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $crate::store::codec::StoredEnum for $ty {
            const WHAT: &'static str = $what;
            const ALL: &'static [Self] = &[$(<$ty>::$variant),+];
            fn as_str(self) -> &'static str {
                match self { $(<$ty>::$variant => $text),+ }
            }
        }
        impl ::rusqlite::types::ToSql for $ty {
            fn to_sql(&self) -> ::rusqlite::Result<::rusqlite::types::ToSqlOutput<'_>> {
                Ok($crate::store::codec::to_sql(*self))
            }
        }
        impl ::rusqlite::types::FromSql for $ty {
            fn column_result(
                value: ::rusqlite::types::ValueRef<'_>,
            ) -> ::rusqlite::types::FromSqlResult<Self> {
                $crate::store::codec::from_sql(value)
            }
        }
        impl ::std::fmt::Display for $ty {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                // `pad`, not `write_str`: table columns (`{:<10}`) line up.
                f.pad($crate::store::codec::StoredEnum::as_str(*self))
            }
        }
        impl ::std::str::FromStr for $ty {
            type Err = $crate::store::codec::Unrecognised;
            fn from_str(s: &str) -> ::std::result::Result<Self, Self::Err> {
                $crate::store::codec::parse(s)
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Colour {
        Red,
        Green,
    }
    stored_enum!(Colour, "colour", { Red => "red", Green => "green" });

    #[test]
    fn round_trips_and_names_the_place_of_an_unknown_value() {
        let c = rusqlite::Connection::open_in_memory().unwrap();
        c.execute_batch("CREATE TABLE t (c TEXT); INSERT INTO t VALUES ('green'), ('blue');")
            .unwrap();
        c.execute("INSERT INTO t VALUES (?1)", [Colour::Red])
            .unwrap();
        let mut stmt = c.prepare("SELECT c FROM t ORDER BY rowid").unwrap();
        let read: Vec<rusqlite::Result<Colour>> = stmt
            .query_map([], |r| Ok(column::<Colour>(r, 0, "t", "c")))
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        assert_eq!(read[0].as_ref().unwrap(), &Colour::Green);
        assert_eq!(read[2].as_ref().unwrap(), &Colour::Red);
        let err = read[1].as_ref().unwrap_err().to_string();
        assert!(err.contains(r#"unknown colour "blue" in t.c"#), "{err}");
        assert_eq!(Colour::parse("red"), Some(Colour::Red));
        assert_eq!(Colour::Green.to_string(), "green");
        assert_eq!(format!("{:<6}|", Colour::Red), "red   |");
        assert_eq!("green".parse::<Colour>(), Ok(Colour::Green));
        let err = "blue".parse::<Colour>().unwrap_err().to_string();
        assert_eq!(err, r#"invalid colour "blue": expected red, green"#);
    }
}
