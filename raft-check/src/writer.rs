//! Writing a history as JSON Lines, for producers (the simulator's
//! `--history-out`, a test against a real cluster).

use std::collections::HashMap;
use std::io::{self, Write};

use crate::event::{Event, EventKind, Function};
use crate::value::Value;

/// What a client asks the store to do: the content of an `invoke` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// Read the key.
    Get,
    /// Set the key; the value must not be `Null`.
    Put(Value),
    /// Remove the key.
    Delete,
    /// Append a suffix to a string value.
    Append(String),
    /// Set `value` if the key holds `expected`.
    Cas {
        /// The value compared against.
        expected: Value,
        /// The new value.
        value: Value,
    },
}

impl Request {
    /// The invoke event of this request.
    pub fn invoke_event(&self, id: u64, process: u64, key: impl Into<String>) -> Event {
        let (f, value, expected) = match self {
            Request::Get => (Function::Get, Value::Null, None),
            Request::Put(v) => (Function::Put, v.clone(), None),
            Request::Delete => (Function::Delete, Value::Null, None),
            Request::Append(s) => (Function::Append, Value::Str(s.clone()), None),
            Request::Cas { expected, value } => (Function::Cas, value.clone(), Some(expected.clone())),
        };
        let mut event = Event::new(id, process, EventKind::Invoke, f, key, value);
        event.expected = expected;
        event
    }
}

/// Writes a history one line per event, in the order of the calls.
///
/// The recorder of history-format.md ("Producing histories"): call
/// [`invoke`](Self::invoke) before the request is sent and a completion
/// ([`ok`](Self::ok), [`ok_read`](Self::ok_read), [`ok_cas`](Self::ok_cas),
/// [`fail`](Self::fail), [`info`](Self::info)) after the reply is received
/// (or given up on). A write that timed out MUST be recorded as `info`, never
/// `fail`. The writer remembers each outstanding invoke, so a completion
/// needs only the id and the result. It does not validate the history: the
/// checker does.
///
/// # Examples
///
/// ```
/// use raft_check::{HistoryWriter, Request, Value};
/// let mut out = HistoryWriter::new(Vec::new());
/// out.invoke(0, 1, "x", &Request::Put(Value::Int(4))).unwrap();
/// out.ok(0).unwrap();
/// let text = String::from_utf8(out.into_inner()).unwrap();
/// assert_eq!(
///     text,
///     "{\"id\":0,\"process\":1,\"type\":\"invoke\",\"f\":\"put\",\"key\":\"x\",\"value\":4}\n\
///      {\"id\":0,\"process\":1,\"type\":\"ok\",\"f\":\"put\",\"key\":\"x\",\"value\":4}\n"
/// );
/// let history = raft_check::parse_history(text.as_bytes()).unwrap();
/// assert_eq!(history.operations().len(), 1);
/// ```
#[derive(Debug)]
pub struct HistoryWriter<W: Write> {
    out: W,
    line: String,
    /// Invoke events whose completion has not been written, by id.
    outstanding: HashMap<u64, Event>,
    time: Option<u64>,
}

impl<W: Write> HistoryWriter<W> {
    /// A writer to `out` (wrap files in a `BufWriter`).
    pub fn new(out: W) -> Self {
        HistoryWriter { out, line: String::new(), outstanding: HashMap::new(), time: None }
    }

    /// Sets the virtual time (nanoseconds) written on the following lines;
    /// it should not decrease.
    pub fn set_time(&mut self, time: u64) {
        self.time = Some(time);
    }

    /// Writes any event as one line, unchanged (its own `time` is kept).
    ///
    /// # Errors
    ///
    /// An error of the underlying writer.
    pub fn write_event(&mut self, event: &Event) -> io::Result<()> {
        self.line.clear();
        event.write_json(&mut self.line);
        self.line.push('\n');
        self.out.write_all(self.line.as_bytes())
    }

    /// Writes the `invoke` of operation `id` of `process` on `key`.
    ///
    /// # Errors
    ///
    /// An error of the underlying writer, or `InvalidInput` if `id` is
    /// already outstanding.
    pub fn invoke(&mut self, id: u64, process: u64, key: &str, request: &Request) -> io::Result<()> {
        if self.outstanding.contains_key(&id) {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("op {id} is already outstanding")));
        }
        let mut event = request.invoke_event(id, process, key);
        event.time = self.time;
        self.write_event(&event)?;
        self.outstanding.insert(id, event);
        Ok(())
    }

    /// Writes the `ok` of a `put`, `delete` or `append` (for a `get` use
    /// [`ok_read`](Self::ok_read), for a `cas` [`ok_cas`](Self::ok_cas)).
    ///
    /// # Errors
    ///
    /// An error of the underlying writer, or `InvalidInput` if `id` is not
    /// outstanding or is a `get` or `cas`.
    pub fn ok(&mut self, id: u64) -> io::Result<()> {
        self.complete(id, EventKind::Ok, |e| match e.f {
            Function::Get | Function::Cas => Err("use ok_read for a get and ok_cas for a cas"),
            _ => Ok(()),
        })
    }

    /// Writes the `ok` of a `get` that read `value` (`Null` if absent).
    ///
    /// # Errors
    ///
    /// An error of the underlying writer, or `InvalidInput` if `id` is not an
    /// outstanding `get`.
    pub fn ok_read(&mut self, id: u64, value: Value) -> io::Result<()> {
        self.complete(id, EventKind::Ok, |e| {
            if e.f != Function::Get {
                return Err("ok_read completes a get");
            }
            e.value = value;
            Ok(())
        })
    }

    /// Writes the `ok` of a `cas` that reached the state machine.
    ///
    /// # Errors
    ///
    /// An error of the underlying writer, or `InvalidInput` if `id` is not an
    /// outstanding `cas`.
    pub fn ok_cas(&mut self, id: u64, swapped: bool) -> io::Result<()> {
        self.complete(id, EventKind::Ok, |e| {
            if e.f != Function::Cas {
                return Err("ok_cas completes a cas");
            }
            e.swapped = Some(swapped);
            Ok(())
        })
    }

    /// Writes a `fail`: the operation certainly took no effect.
    ///
    /// # Errors
    ///
    /// An error of the underlying writer, or `InvalidInput` if `id` is not
    /// outstanding.
    pub fn fail(&mut self, id: u64, error: Option<&str>) -> io::Result<()> {
        self.complete(id, EventKind::Fail, |e| {
            e.error = error.map(str::to_owned);
            Ok(())
        })
    }

    /// Writes an `info`: the outcome is unknown (a timeout, a lost reply).
    ///
    /// # Errors
    ///
    /// An error of the underlying writer, or `InvalidInput` if `id` is not
    /// outstanding.
    pub fn info(&mut self, id: u64, error: Option<&str>) -> io::Result<()> {
        self.complete(id, EventKind::Info, |e| {
            e.error = error.map(str::to_owned);
            Ok(())
        })
    }

    fn complete(
        &mut self,
        id: u64,
        kind: EventKind,
        fill: impl FnOnce(&mut Event) -> Result<(), &'static str>,
    ) -> io::Result<()> {
        let Some(invoke) = self.outstanding.remove(&id) else {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("op {id} is not outstanding")));
        };
        let mut event = invoke.clone();
        event.kind = kind;
        event.time = self.time;
        if kind != EventKind::Ok && event.f == Function::Get {
            event.value = Value::Null;
        }
        if let Err(message) = fill(&mut event) {
            self.outstanding.insert(id, invoke);
            return Err(io::Error::new(io::ErrorKind::InvalidInput, message));
        }
        self.write_event(&event)
    }

    /// Flushes the underlying writer.
    ///
    /// # Errors
    ///
    /// An error of the underlying writer.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// The underlying writer. Outstanding operations are left without
    /// completion, which the format reads as `info`.
    pub fn into_inner(self) -> W {
        self.out
    }
}
