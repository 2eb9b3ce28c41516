//! One line of a history: an [`Event`].

use core::fmt;

use crate::value::{JsonStr, Value};

/// Whether an event starts an operation or ends it, and how it ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// The client sent the request (`"type":"invoke"`).
    Invoke,
    /// The operation took effect exactly once and its result is recorded.
    Ok,
    /// The operation certainly took no effect and observed nothing.
    Fail,
    /// The outcome is unknown: it took effect once, at any time after the
    /// invoke, or never.
    Info,
}

impl EventKind {
    /// The `type` field's text.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Invoke => "invoke",
            EventKind::Ok => "ok",
            EventKind::Fail => "fail",
            EventKind::Info => "info",
        }
    }

    /// Parses the `type` field's text.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "invoke" => EventKind::Invoke,
            "ok" => EventKind::Ok,
            "fail" => EventKind::Fail,
            "info" => EventKind::Info,
            _ => return None,
        })
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The operation a client asked for (the `f` field).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Function {
    /// Read the key.
    Get,
    /// Set the key to a non-null value.
    Put,
    /// Remove the key (set it to `null`).
    Delete,
    /// Append a string suffix to a string (or absent) value.
    Append,
    /// Compare-and-swap: set `value` if the key holds `expected`.
    Cas,
}

impl Function {
    /// The `f` field's text.
    pub fn as_str(self) -> &'static str {
        match self {
            Function::Get => "get",
            Function::Put => "put",
            Function::Delete => "delete",
            Function::Append => "append",
            Function::Cas => "cas",
        }
    }

    /// Parses the `f` field's text.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "get" => Function::Get,
            "put" => Function::Put,
            "delete" => Function::Delete,
            "append" => Function::Append,
            "cas" => Function::Cas,
            _ => return None,
        })
    }
}

impl fmt::Display for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One event of a history: the start or the end of one client operation.
///
/// The fields are those of history-format.md; `kind` is the `type` field.
/// An `Event` is not validated on its own: [`History::from_events`] and
/// [`parse_history`] check a whole sequence.
///
/// [`History::from_events`]: crate::History::from_events
/// [`parse_history`]: crate::parse_history
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// The operation id, shared by the invoke and its completion.
    pub id: u64,
    /// The client that issued the operation.
    pub process: u64,
    /// `invoke`, `ok`, `fail` or `info`.
    pub kind: EventKind,
    /// The operation.
    pub f: Function,
    /// The key the operation reads or writes.
    pub key: String,
    /// Per operation: the written value, the read value (`ok` get), or null.
    pub value: Value,
    /// The value a `cas` compares against (`None` on other operations).
    pub expected: Option<Value>,
    /// On the `ok` of a `cas`: whether it swapped.
    pub swapped: Option<bool>,
    /// Why a `fail` or `info` happened; informational only.
    pub error: Option<String>,
    /// Virtual nanoseconds; non-decreasing down a history when present.
    pub time: Option<u64>,
}

impl Event {
    /// An event with no `expected`, `swapped`, `error` or `time`.
    pub fn new(id: u64, process: u64, kind: EventKind, f: Function, key: impl Into<String>, value: Value) -> Self {
        Event { id, process, kind, f, key: key.into(), value, expected: None, swapped: None, error: None, time: None }
    }

    /// Sets `expected` (for a `cas`).
    #[must_use]
    pub fn with_expected(mut self, expected: Value) -> Self {
        self.expected = Some(expected);
        self
    }

    /// Sets `swapped` (for the `ok` of a `cas`).
    #[must_use]
    pub fn with_swapped(mut self, swapped: bool) -> Self {
        self.swapped = Some(swapped);
        self
    }

    /// Sets `error` (for a `fail` or `info`).
    #[must_use]
    pub fn with_error(mut self, error: impl Into<String>) -> Self {
        self.error = Some(error.into());
        self
    }

    /// Sets `time`.
    #[must_use]
    pub fn with_time(mut self, time: u64) -> Self {
        self.time = Some(time);
        self
    }

    /// Appends the event as one JSON object in the history format (no
    /// newline), fields in the order of the format's table.
    pub(crate) fn write_json(&self, out: &mut String) {
        use core::fmt::Write as _;
        // Writing to a `String` cannot fail.
        let _ = write!(
            out,
            r#"{{"id":{},"process":{},"type":"{}","f":"{}","key":{},"value":{}"#,
            self.id,
            self.process,
            self.kind.as_str(),
            self.f.as_str(),
            JsonStr(&self.key),
            self.value
        );
        if let Some(expected) = &self.expected {
            let _ = write!(out, r#","expected":{expected}"#);
        }
        if let Some(swapped) = self.swapped {
            let _ = write!(out, r#","swapped":{swapped}"#);
        }
        if let Some(error) = &self.error {
            let _ = write!(out, r#","error":{}"#, JsonStr(error));
        }
        if let Some(time) = self.time {
            let _ = write!(out, r#","time":{time}"#);
        }
        out.push('}');
    }
}

/// Writes the event as its history line (JSON, no newline).
impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut line = String::new();
        self.write_json(&mut line);
        f.write_str(&line)
    }
}
