//! `cpim parse op` run as a program: the draft's XML notation in, one JSON
//! object out (exit 0); invalid input gives one stderr line naming the
//! position (exit 1); usage errors exit 2.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::Output;

fn testdata(name: &str) -> String {
    format!("{}/../../testdata/op/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn cpim(args: &[&str], stdin: &[u8]) -> Output {
    common::cpim_stdin(args, stdin).unwrap()
}

#[test]
fn subscribe_from_a_file() {
    let out = cpim(&["parse", "op", &testdata("draft-3.1-subscribe.xml")], b"");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stderr.is_empty());
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 1);
    let value: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        value,
        serde_json::json!({"op": "subscribe", "watcher": "pres:wilma@example.com",
                           "target": "pres:fred@example.com", "duration": 86400,
                           "transID": "2"})
    );
}

#[test]
fn message_from_stdin() {
    let out = cpim(
        &["parse", "op", "-"],
        b"<message source='im:a@x.example' destination='im:b@y.example' transID='5'>\
          Content-Type: text/plain\n\nhello</message>",
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        value,
        serde_json::json!({"op": "message", "source": "im:a@x.example",
                           "destination": "im:b@y.example", "transID": "5",
                           "content_type": "text/plain", "body": "hello"})
    );
}

#[test]
fn every_fixture_parses() {
    let dir = format!("{}/../../testdata/op", env!("CARGO_MANIFEST_DIR"));
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let out = cpim(&["parse", "op", path.to_str().unwrap()], b"");
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(value["op"].is_string(), "{value}");
        assert!(value["transID"].is_string(), "{value}");
    }
}

#[test]
fn invalid_input_names_the_position() {
    let out = cpim(
        &["parse", "op", "-"],
        b"<subscribe watcher='pres:a@x.example' target='pres:b@y.example' duration='ten' transID='1'/>",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(
        stderr,
        "cpim: attribute duration of <subscribe> at byte 74: has 't' at offset 0 where only digits 0-9 may stand\n"
    );
}

#[test]
fn refused_dtd_is_one_line() {
    let out = cpim(
        &["parse", "op", "-"],
        b"<!DOCTYPE x [\n<!ENTITY a 'b'>\n]><response/>",
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        "cpim: document type declaration at byte 0 refused\n"
    );
}

#[test]
fn unreadable_file_exits_1() {
    let out = cpim(&["parse", "op", "/nonexistent/op.xml"], b"");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8(out.stderr)
        .unwrap()
        .starts_with("cpim: cannot read /nonexistent/op.xml"));
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(cpim(&["parse", "op"], b"").status.code(), Some(2));
    assert_eq!(cpim(&["parse", "op", "a", "b"], b"").status.code(), Some(2));
}
