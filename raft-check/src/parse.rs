//! Reading a history from JSON Lines text.

use std::io::BufRead;

use serde_json::Map;

use crate::error::ParseError;
use crate::event::{Event, EventKind, Function};
use crate::history::{Builder, History};
use crate::value::Value;

/// Reads a history in the format of history-format.md, one line at a time,
/// and validates it as it goes.
///
/// Empty (or all-whitespace) lines are skipped; unknown fields are ignored.
///
/// # Errors
///
/// The first line that is not a JSON object, has a missing or ill-typed
/// field, or breaks a rule of the format ("Bad input": an unknown `type` or
/// `f`, a completion with no earlier invoke, a second outstanding operation
/// for one process, a `get` invoke with a non-null value, a `put` of `null`,
/// a non-string `append` value, a `cas` without `expected`; also a reused
/// id, a completion that disagrees with its invoke, an `ok` `cas` without
/// `swapped`, a decreasing `time`), or a read error, with its 1-based line
/// number.
///
/// # Examples
///
/// ```
/// let text = r#"{"id":0,"process":0,"type":"invoke","f":"put","key":"r","value":null}"#;
/// let err = raft_check::parse_history(text.as_bytes()).unwrap_err();
/// assert_eq!(err.to_string(), "line 1: a put of null");
/// ```
pub fn parse_history<R: BufRead>(mut reader: R) -> Result<History, ParseError> {
    let mut builder = Builder::default();
    let mut buf = Vec::new();
    let mut line = 0;
    loop {
        line += 1;
        buf.clear();
        match reader.read_until(b'\n', &mut buf) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => return Err(ParseError::new(line, format!("read error: {e}"))),
        }
        let text = core::str::from_utf8(&buf).map_err(|_| ParseError::new(line, "not valid UTF-8"))?;
        let text = text.trim();
        if text.is_empty() {
            continue;
        }
        let event = parse_event(text).map_err(|message| ParseError::new(line, message))?;
        builder.push(event, line)?;
    }
    Ok(builder.finish())
}

/// Parses one non-empty line into an event (without the history rules).
fn parse_event(text: &str) -> Result<Event, String> {
    let json: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("not a JSON object: {e}"))?;
    let serde_json::Value::Object(map) = json else {
        return Err("not a JSON object".into());
    };
    let kind_name = string_field(&map, "type")?;
    let kind = EventKind::from_name(kind_name).ok_or_else(|| format!("unknown type {}", quoted(kind_name)))?;
    let f_name = string_field(&map, "f")?;
    let f = Function::from_name(f_name).ok_or_else(|| format!("unknown f {}", quoted(f_name)))?;
    let id = integer_field(&map, "id")?.ok_or("missing field id")?;
    let process = integer_field(&map, "process")?.ok_or("missing field process")?;
    let key = string_field(&map, "key")?.to_owned();
    let value = value_field(&map, "value")?.ok_or("missing field value")?;
    let expected = value_field(&map, "expected")?;
    let swapped = match map.get("swapped") {
        None => None,
        Some(serde_json::Value::Bool(b)) => Some(*b),
        Some(_) => return Err("swapped must be a boolean".into()),
    };
    let error = match map.get("error") {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) => Some(s.clone()),
        Some(other) => Some(other.to_string()),
    };
    let time = integer_field(&map, "time")?;
    Ok(Event { id, process, kind, f, key, value, expected, swapped, error, time })
}

fn quoted(s: &str) -> String {
    Value::from(s).to_string()
}

fn string_field<'a>(map: &'a Map<String, serde_json::Value>, name: &str) -> Result<&'a str, String> {
    match map.get(name) {
        None => Err(format!("missing field {name}")),
        Some(serde_json::Value::String(s)) => Ok(s),
        Some(_) => Err(format!("{name} must be a string")),
    }
}

fn integer_field(map: &Map<String, serde_json::Value>, name: &str) -> Result<Option<u64>, String> {
    match map.get(name) {
        None => Ok(None),
        Some(v) => v.as_u64().map(Some).ok_or_else(|| format!("{name} must be a non-negative integer")),
    }
}

fn value_field(map: &Map<String, serde_json::Value>, name: &str) -> Result<Option<Value>, String> {
    Ok(Some(match map.get(name) {
        None => return Ok(None),
        Some(serde_json::Value::Null) => Value::Null,
        Some(serde_json::Value::String(s)) => Value::Str(s.clone()),
        Some(serde_json::Value::Number(n)) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => return Err(format!("{name} must be null, a string or an integer that fits 64 bits")),
        },
        Some(_) => return Err(format!("{name} must be null, an integer or a string")),
    }))
}
