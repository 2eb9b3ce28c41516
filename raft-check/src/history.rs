//! A validated history: its events and the operations they describe.

use core::fmt;
use std::collections::HashMap;

use crate::error::ParseError;
use crate::event::{Event, EventKind, Function};
use crate::model::ModelOp;
use crate::value::{JsonStr, Value};

/// How an operation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// Took effect exactly once between its invoke and its completion, with
    /// the recorded result.
    Ok,
    /// Certainly took no effect; the checker drops it.
    Fail,
    /// Unknown: took effect once at any time after its invoke, or never. An
    /// invoke with no completion is `Info` too (`complete_index` is `None`).
    Info,
}

/// One operation of a history: an invoke and its completion, if any.
///
/// Invariant (checked by [`History::from_events`] and [`parse_history`]): the
/// fields obey the "Operations and the model" table of history-format.md.
///
/// [`parse_history`]: crate::parse_history
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operation {
    /// The operation id.
    pub id: u64,
    /// The client that issued it.
    pub process: u64,
    /// The operation.
    pub f: Function,
    /// The key it reads or writes.
    pub key: String,
    /// The written value; for an `ok` `get` the value read; else `Null`.
    pub value: Value,
    /// The compared value of a `cas`.
    pub expected: Option<Value>,
    /// Whether an `ok` `cas` swapped (`None` unless `ok` `cas`).
    pub swapped: Option<bool>,
    /// How it ended.
    pub outcome: Outcome,
    /// Position of the invoke in [`History::events`].
    pub invoke_index: usize,
    /// Position of the completion in [`History::events`]; `None` if the
    /// history has none.
    pub complete_index: Option<usize>,
    /// Line of the invoke (1-based; the event position for
    /// [`History::from_events`]).
    pub invoke_line: usize,
}

impl Operation {
    /// The operation as the sequential spec sees it, or `None` if it has no
    /// effect to check: a `fail`, or an `info` `get`.
    pub fn model_op(&self) -> Option<ModelOp> {
        if self.outcome == Outcome::Fail {
            return None;
        }
        let known = self.outcome == Outcome::Ok;
        Some(match self.f {
            Function::Get if known => ModelOp::Read { value: self.value.clone() },
            Function::Get => return None,
            Function::Put => ModelOp::Put { value: self.value.clone() },
            Function::Delete => ModelOp::Delete,
            Function::Append => match &self.value {
                Value::Str(s) => ModelOp::Append { suffix: s.clone() },
                // Unreachable past validation; an append that cannot be
                // modelled is one that cannot take effect.
                _ => return None,
            },
            Function::Cas => ModelOp::Cas {
                expected: self.expected.clone().unwrap_or_default(),
                value: self.value.clone(),
                swapped: if known { self.swapped } else { None },
            },
        })
    }
}

/// One line per operation, e.g.
/// `{"id":3,"process":1,"type":"ok","f":"put","key":"x","value":4}`, where
/// `type` is the outcome (an info operation that never completed shows
/// `"type":"info"` as well).
impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.outcome {
            Outcome::Ok => "ok",
            Outcome::Fail => "fail",
            Outcome::Info => "info",
        };
        write!(
            f,
            r#"{{"id":{},"process":{},"type":"{}","f":"{}","key":{},"value":{}"#,
            self.id,
            self.process,
            kind,
            self.f,
            JsonStr(&self.key),
            self.value
        )?;
        if let Some(expected) = &self.expected {
            write!(f, r#","expected":{expected}"#)?;
        }
        if let Some(swapped) = self.swapped {
            write!(f, r#","swapped":{swapped}"#)?;
        }
        f.write_str("}")
    }
}

/// A validated history: the events in line order, and the operations they
/// describe in invoke order.
///
/// Build one with [`parse_history`] (from text) or [`History::from_events`]
/// (in memory); both apply every rule of history-format.md.
///
/// [`parse_history`]: crate::parse_history
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct History {
    events: Vec<Event>,
    ops: Vec<Operation>,
}

impl History {
    /// Validates `events` (in real-time order) and builds the history.
    ///
    /// # Errors
    ///
    /// The first event that breaks a rule of history-format.md; its `line`
    /// is the 1-based position of that event in `events`.
    pub fn from_events(events: Vec<Event>) -> Result<History, ParseError> {
        let mut builder = Builder::default();
        builder.events.reserve(events.len());
        for (i, event) in events.into_iter().enumerate() {
            builder.push(event, i + 1)?;
        }
        Ok(builder.finish())
    }

    /// The events in line order.
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// The operations in invoke order.
    pub fn operations(&self) -> &[Operation] {
        &self.ops
    }

    /// Every key, sorted, without repetition.
    pub fn keys(&self) -> Vec<&str> {
        let mut keys: Vec<&str> = self.ops.iter().map(|op| op.key.as_str()).collect();
        keys.sort_unstable();
        keys.dedup();
        keys
    }

    /// Whether the history has no events.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }
}

/// Checks events one at a time (so a parser can stop at the first bad line)
/// and assembles the operations.
#[derive(Default)]
pub(crate) struct Builder {
    events: Vec<Event>,
    ops: Vec<Operation>,
    /// Operation id -> position in `ops`, for every id seen.
    op_of_id: HashMap<u64, usize>,
    /// Process -> position in `ops` of its outstanding operation.
    outstanding: HashMap<u64, usize>,
    last_time: Option<u64>,
}

impl Builder {
    /// Validates `event` against the events before it and records it.
    pub(crate) fn push(&mut self, event: Event, line: usize) -> Result<(), ParseError> {
        let err = |message: String| Err(ParseError::new(line, message));
        if let Some(time) = event.time {
            if let Some(last) = self.last_time.filter(|&last| time < last) {
                return err(format!("time {time} is earlier than the time {last} of an earlier line"));
            }
            self.last_time = Some(time);
        }
        if event.f == Function::Cas && event.expected.is_none() {
            return err("a cas without expected".into());
        }
        if event.kind == EventKind::Invoke {
            self.push_invoke(event, line)
        } else {
            self.push_completion(event, line)
        }
    }

    fn push_invoke(&mut self, event: Event, line: usize) -> Result<(), ParseError> {
        let err = |message: String| Err(ParseError::new(line, message));
        if self.op_of_id.contains_key(&event.id) {
            return err(format!("id {} is already used by an earlier operation", event.id));
        }
        if let Some(&other) = self.outstanding.get(&event.process) {
            return err(format!(
                "process {} invokes op {} while its op {} is outstanding",
                event.process, event.id, self.ops[other].id
            ));
        }
        match (event.f, &event.value) {
            (Function::Get, v) if !v.is_null() => return err("a get invoke with a non-null value".into()),
            (Function::Delete, v) if !v.is_null() => return err("a delete with a non-null value".into()),
            (Function::Put, Value::Null) => return err("a put of null".into()),
            (Function::Append, v) if !matches!(v, Value::Str(_)) => {
                return err("an append of a non-string value".into());
            }
            _ => {}
        }
        let at = self.ops.len();
        self.op_of_id.insert(event.id, at);
        self.outstanding.insert(event.process, at);
        self.ops.push(Operation {
            id: event.id,
            process: event.process,
            f: event.f,
            key: event.key.clone(),
            value: event.value.clone(),
            expected: event.expected.clone(),
            swapped: None,
            outcome: Outcome::Info,
            invoke_index: self.events.len(),
            complete_index: None,
            invoke_line: line,
        });
        self.events.push(event);
        Ok(())
    }

    fn push_completion(&mut self, event: Event, line: usize) -> Result<(), ParseError> {
        let err = |message: String| Err(ParseError::new(line, message));
        let Some(&at) = self.op_of_id.get(&event.id) else {
            return err(format!("a completion of op {} with no earlier invoke", event.id));
        };
        let op = &self.ops[at];
        if op.complete_index.is_some() {
            return err(format!("a second completion of op {}", event.id));
        }
        if op.process != event.process {
            return err(format!(
                "op {} was invoked by process {}, not by process {}",
                event.id, op.process, event.process
            ));
        }
        if op.f != event.f {
            return err(format!("op {} was invoked as a {}, not a {}", event.id, op.f, event.f));
        }
        if op.key != event.key {
            return err(format!(
                "op {} was invoked on key {}, not on key {}",
                event.id,
                JsonStr(&op.key),
                JsonStr(&event.key)
            ));
        }
        let mut swapped = None;
        if event.kind == EventKind::Ok {
            if op.f != Function::Get && op.value != event.value {
                return err(format!(
                    "the ok of op {} carries value {}, its invoke {}",
                    event.id, event.value, op.value
                ));
            }
            if op.f == Function::Cas {
                if op.expected != event.expected {
                    let expected = event.expected.clone().unwrap_or_default();
                    let invoked = op.expected.clone().unwrap_or_default();
                    return err(format!("the ok of op {} carries expected {expected}, its invoke {invoked}", event.id));
                }
                swapped = match event.swapped {
                    Some(swapped) => Some(swapped),
                    None => return err("an ok cas without swapped".into()),
                };
            }
        }
        let op = &mut self.ops[at];
        op.outcome = match event.kind {
            EventKind::Ok => Outcome::Ok,
            EventKind::Fail => Outcome::Fail,
            EventKind::Info | EventKind::Invoke => Outcome::Info,
        };
        if event.kind == EventKind::Ok && op.f == Function::Get {
            op.value = event.value.clone();
        }
        op.swapped = swapped;
        op.complete_index = Some(self.events.len());
        self.outstanding.remove(&event.process);
        self.events.push(event);
        Ok(())
    }

    pub(crate) fn finish(self) -> History {
        History { events: self.events, ops: self.ops }
    }
}
