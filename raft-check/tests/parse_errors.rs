//! Every "Bad input" rule of history-format.md, and a few more, each
//! reported with its line number.

use raft_check::{parse_history, Event, EventKind, Function, History, ParseError, Value};

const PUT_0: &str = r#"{"id":0,"process":0,"type":"invoke","f":"put","key":"x","value":1}"#;
const OK_0: &str = r#"{"id":0,"process":0,"type":"ok","f":"put","key":"x","value":1}"#;

/// Parses `lines` (joined by newlines) and returns the error.
#[track_caller]
fn error(lines: &[&str]) -> ParseError {
    match parse_history(lines.join("\n").as_bytes()) {
        Ok(history) => panic!("parsed: {history:?}"),
        Err(e) => e,
    }
}

#[track_caller]
fn assert_error(lines: &[&str], line: usize, message: &str) {
    let e = error(lines);
    assert_eq!(e.line, line, "{e}");
    assert!(e.message.contains(message), "{e} (expected {message:?})");
}

#[test]
fn not_a_json_object() {
    assert_error(&[PUT_0, "not json"], 2, "not a JSON object");
    assert_error(&[PUT_0, "[1, 2]"], 2, "not a JSON object");
    assert_error(&[PUT_0, r#""a string""#], 2, "not a JSON object");
    assert_error(&[r#"{"id":0,"process":0"#], 1, "not a JSON object");
}

#[test]
fn unknown_type() {
    assert_error(
        &[PUT_0, r#"{"id":0,"process":0,"type":"done","f":"put","key":"x","value":1}"#],
        2,
        "unknown type \"done\"",
    );
}

#[test]
fn unknown_f() {
    assert_error(&[r#"{"id":0,"process":0,"type":"invoke","f":"incr","key":"x","value":1}"#], 1, "unknown f \"incr\"");
}

#[test]
fn completion_with_no_earlier_invoke() {
    assert_error(
        &[PUT_0, OK_0, r#"{"id":1,"process":0,"type":"ok","f":"put","key":"x","value":1}"#],
        3,
        "no earlier invoke",
    );
    // A completion before its invoke.
    assert_error(&[OK_0, PUT_0], 1, "no earlier invoke");
    // A second completion.
    assert_error(&[PUT_0, OK_0, OK_0], 3, "a second completion of op 0");
}

#[test]
fn second_outstanding_operation_of_a_process() {
    assert_error(
        &[PUT_0, r#"{"id":1,"process":0,"type":"invoke","f":"get","key":"y","value":null}"#],
        2,
        "process 0 invokes op 1 while its op 0 is outstanding",
    );
    // After an info, the process may go on.
    let info = r#"{"id":0,"process":0,"type":"info","f":"put","key":"x","value":1}"#;
    let next = r#"{"id":1,"process":0,"type":"invoke","f":"get","key":"y","value":null}"#;
    assert!(parse_history([PUT_0, info, next].join("\n").as_bytes()).is_ok());
}

#[test]
fn get_invoke_with_a_value() {
    assert_error(
        &[PUT_0, OK_0, r#"{"id":1,"process":0,"type":"invoke","f":"get","key":"x","value":1}"#],
        3,
        "a get invoke with a non-null value",
    );
}

#[test]
fn put_of_null() {
    let e = error(&["", r#"{"id":0,"process":0,"type":"invoke","f":"put","key":"x","value":null}"#]);
    assert_eq!(e.to_string(), "line 2: a put of null");
}

#[test]
fn non_string_append() {
    assert_error(
        &[r#"{"id":0,"process":0,"type":"invoke","f":"append","key":"x","value":1}"#],
        1,
        "an append of a non-string value",
    );
    assert_error(
        &[r#"{"id":0,"process":0,"type":"invoke","f":"append","key":"x","value":null}"#],
        1,
        "an append of a non-string value",
    );
}

#[test]
fn cas_without_expected() {
    assert_error(
        &[r#"{"id":0,"process":0,"type":"invoke","f":"cas","key":"x","value":1}"#],
        1,
        "a cas without expected",
    );
    let invoke = r#"{"id":0,"process":0,"type":"invoke","f":"cas","key":"x","value":1,"expected":0}"#;
    assert_error(
        &[invoke, r#"{"id":0,"process":0,"type":"ok","f":"cas","key":"x","value":1,"swapped":true}"#],
        2,
        "a cas without expected",
    );
}

#[test]
fn more_rules() {
    // Missing and ill-typed fields.
    assert_error(&[r#"{"process":0,"type":"invoke","f":"put","key":"x","value":1}"#], 1, "missing field id");
    assert_error(
        &[r#"{"id":-1,"process":0,"type":"invoke","f":"put","key":"x","value":1}"#],
        1,
        "id must be a non-negative integer",
    );
    assert_error(&[r#"{"id":0,"process":"p","type":"invoke","f":"put","key":"x","value":1}"#], 1, "process must be");
    assert_error(&[r#"{"id":0,"process":0,"type":"invoke","f":"put","value":1}"#], 1, "missing field key");
    assert_error(&[r#"{"id":0,"process":0,"type":"invoke","f":"put","key":"x"}"#], 1, "missing field value");
    assert_error(&[r#"{"id":0,"process":0,"type":"invoke","f":"put","key":"x","value":1.5}"#], 1, "value must be");
    assert_error(&[r#"{"id":0,"process":0,"type":"invoke","f":"put","key":"x","value":[1]}"#], 1, "value must be");
    assert_error(
        &[r#"{"id":0,"process":0,"type":"invoke","f":"put","key":"x","value":18446744073709551615}"#],
        1,
        "value must be",
    );
    // Reused id, mismatched completion, missing swapped, decreasing time.
    assert_error(&[PUT_0, OK_0, PUT_0], 3, "id 0 is already used");
    assert_error(&[PUT_0, r#"{"id":0,"process":1,"type":"ok","f":"put","key":"x","value":1}"#], 2, "not by process 1");
    assert_error(
        &[PUT_0, r#"{"id":0,"process":0,"type":"ok","f":"get","key":"x","value":1}"#],
        2,
        "invoked as a put, not a get",
    );
    assert_error(&[PUT_0, r#"{"id":0,"process":0,"type":"ok","f":"put","key":"y","value":1}"#], 2, "not on key \"y\"");
    assert_error(&[PUT_0, r#"{"id":0,"process":0,"type":"ok","f":"put","key":"x","value":2}"#], 2, "carries value 2");
    let invoke = r#"{"id":0,"process":0,"type":"invoke","f":"cas","key":"x","value":1,"expected":0}"#;
    assert_error(
        &[invoke, r#"{"id":0,"process":0,"type":"ok","f":"cas","key":"x","value":1,"expected":0}"#],
        2,
        "an ok cas without swapped",
    );
    assert_error(
        &[invoke, r#"{"id":0,"process":0,"type":"ok","f":"cas","key":"x","value":1,"expected":0,"swapped":1}"#],
        2,
        "swapped must be a boolean",
    );
    assert_error(
        &[
            r#"{"id":0,"process":0,"type":"invoke","f":"put","key":"x","value":1,"time":10}"#,
            r#"{"id":0,"process":0,"type":"ok","f":"put","key":"x","value":1,"time":9}"#,
        ],
        2,
        "time 9 is earlier",
    );
    assert_error(
        &[r#"{"id":0,"process":0,"type":"invoke","f":"delete","key":"x","value":1}"#],
        1,
        "a delete with a non-null value",
    );
    // Not UTF-8.
    let e = parse_history(&b"\n\xff\xfe\n"[..]).unwrap_err();
    assert_eq!((e.line, e.message.as_str()), (2, "not valid UTF-8"));
}

#[test]
fn empty_lines_and_unknown_fields_are_ignored() {
    let text = format!(
        "\n{}\n   \n{}\r\n",
        r#"{"id":0,"process":0,"type":"invoke","f":"put","key":"x","value":1,"node":"n1","extra":[1,2]}"#,
        r#"{"id":0,"process":0,"type":"ok","f":"put","key":"x","value":1,"error":null}"#
    );
    let history = parse_history(text.as_bytes()).unwrap();
    assert_eq!(history.events().len(), 2);
    assert_eq!(history.operations()[0].invoke_line, 2);
}

#[test]
fn from_events_applies_the_same_rules() {
    let put = |value| Event::new(0, 0, EventKind::Invoke, Function::Put, "x", value);
    let e = History::from_events(vec![put(Value::Null)]).unwrap_err();
    assert_eq!(e.to_string(), "line 1: a put of null");
    let ok = Event::new(0, 0, EventKind::Ok, Function::Put, "x", Value::Int(1));
    assert!(History::from_events(vec![put(Value::Int(1)), ok.clone()]).is_ok());
    let e = History::from_events(vec![put(Value::Int(1)), ok.clone(), ok]).unwrap_err();
    assert_eq!(e.line, 3);
}
