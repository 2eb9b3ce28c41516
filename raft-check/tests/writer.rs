//! `HistoryWriter` writes what `parse_history` reads back.

use raft_check::{check, parse_history, Budget, HistoryWriter, Outcome, Request, Value, Verdict};

#[test]
fn written_histories_read_back() {
    let mut out = HistoryWriter::new(Vec::new());
    out.set_time(1);
    out.invoke(0, 0, "x", &Request::Put(Value::Int(1))).unwrap();
    out.invoke(1, 1, "x", &Request::Cas { expected: Value::Int(1), value: Value::Int(2) }).unwrap();
    out.invoke(2, 2, "l", &Request::Append("a\"b\n".into())).unwrap();
    out.set_time(2);
    out.ok(0).unwrap();
    out.ok_cas(1, true).unwrap();
    out.info(2, Some("timed-out")).unwrap();
    out.invoke(3, 0, "x", &Request::Get).unwrap();
    out.ok_read(3, Value::Int(2)).unwrap();
    out.invoke(4, 0, "x", &Request::Delete).unwrap();
    out.fail(4, Some("not-leader")).unwrap();
    out.invoke(5, 1, "l", &Request::Get).unwrap();
    // Misuse is refused and changes nothing.
    assert!(out.ok(5).is_err());
    assert!(out.ok_cas(5, true).is_err());
    assert!(out.ok(99).is_err());
    assert!(out.invoke(5, 1, "l", &Request::Get).is_err());
    out.ok_read(5, Value::from("a\"b\n")).unwrap();
    out.invoke(6, 2, "l", &Request::Get).unwrap();
    out.flush().unwrap();

    let text = String::from_utf8(out.into_inner()).unwrap();
    let history = parse_history(text.as_bytes()).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let ops = history.operations();
    assert_eq!(ops.len(), 7);
    assert_eq!(ops[1].swapped, Some(true));
    assert_eq!(ops[2].outcome, Outcome::Info);
    assert_eq!(ops[3].value, Value::Int(2));
    assert_eq!(ops[4].outcome, Outcome::Fail);
    assert_eq!(ops[5].value, Value::from("a\"b\n"));
    assert_eq!((ops[6].outcome, ops[6].complete_index), (Outcome::Info, None));
    assert_eq!(history.events()[3].time, Some(2));
    assert_eq!(history.events()[3].error.as_deref(), None);
    assert_eq!(check(&history, Budget::default()), Verdict::Linearizable);
    // Events print as the lines they came from.
    for (line, event) in text.lines().zip(history.events()) {
        assert_eq!(line, event.to_string());
    }
}
