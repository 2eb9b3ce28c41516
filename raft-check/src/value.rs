//! The values a key can hold.

use core::fmt;

/// A value of the store: JSON `null`, an integer or a string.
///
/// Equality is JSON equality including type: `Int(1)` is not `Str("1")`.
/// `Null` is also the state of an absent key.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Value {
    /// JSON `null`: the key is absent.
    #[default]
    Null,
    /// A JSON integer that fits an `i64`.
    Int(i64),
    /// A JSON string.
    Str(String),
}

impl Value {
    /// Whether this is `Null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
}

/// Writes the value as JSON text: `null`, `4`, `"x"` (escaped).
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Str(s) => write!(f, "{}", JsonStr(s)),
        }
    }
}

/// Displays a string as a JSON string literal, quoted and escaped.
pub(crate) struct JsonStr<'a>(pub(crate) &'a str);

impl fmt::Display for JsonStr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use fmt::Write as _;
        f.write_char('"')?;
        let mut rest = self.0;
        while let Some(at) = rest.find(|c: char| c == '"' || c == '\\' || c < ' ') {
            f.write_str(&rest[..at])?;
            let c = rest[at..].chars().next().unwrap_or(' ');
            match c {
                '"' => f.write_str("\\\"")?,
                '\\' => f.write_str("\\\\")?,
                '\n' => f.write_str("\\n")?,
                '\r' => f.write_str("\\r")?,
                '\t' => f.write_str("\\t")?,
                c => write!(f, "\\u{:04x}", u32::from(c))?,
            }
            rest = &rest[at + c.len_utf8()..];
        }
        f.write_str(rest)?;
        f.write_char('"')
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Str(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_json() {
        assert_eq!(Value::Null.to_string(), "null");
        assert_eq!(Value::Int(-4).to_string(), "-4");
        assert_eq!(Value::from("a\"b").to_string(), r#""a\"b""#);
        let tricky = "q\"b\\s\n\t\u{1}é";
        let text = Value::from(tricky).to_string();
        assert_eq!(serde_json::from_str::<String>(&text).ok().as_deref(), Some(tricky));
    }

    #[test]
    fn equality_includes_type() {
        assert_ne!(Value::Int(1), Value::from("1"));
        assert_ne!(Value::Null, Value::from(""));
    }
}
