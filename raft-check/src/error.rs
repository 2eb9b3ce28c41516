//! The input error of a history.

use core::fmt;

/// A history that breaks a rule of history-format.md ("Bad input"), or a
/// line that could not be read.
///
/// `line` is the 1-based line of the file ([`parse_history`]) or the 1-based
/// position of the event ([`History::from_events`]).
///
/// [`parse_history`]: crate::parse_history
/// [`History::from_events`]: crate::History::from_events
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// Where: a 1-based line number.
    pub line: usize,
    /// What is wrong, e.g. `a put of null`.
    pub message: String,
}

impl ParseError {
    pub(crate) fn new(line: usize, message: impl Into<String>) -> Self {
        ParseError { line, message: message.into() }
    }
}

/// `line 12: a put of null`.
impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl core::error::Error for ParseError {}
