//! `cpim parse pidf` and `cpim fmt pidf` run as a program: JSON (or the
//! document) on stdout and exit 0, one line naming the byte on stderr and
//! exit 1, usage errors exit 2.

mod common;

use std::path::PathBuf;
use std::process::Output;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/pidf")
        .join(name)
}

fn cpim(args: &[&str], stdin: &[u8]) -> Result<Output> {
    Ok(common::cpim_stdin(args, stdin)?)
}

#[test]
fn parse_prints_the_rfc3863_example_as_json() -> Result<()> {
    let path = fixture("rfc3863_4.3.1_status_extensions.xml");
    let out = cpim(&["parse", "pidf", path.to_str().ok_or("path")?], b"")?;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stderr.is_empty());
    let value: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    assert_eq!(
        value,
        serde_json::json!({
            "entity": "pres:someone@example.com",
            "tuples": [
                {
                    "id": "bs35r9",
                    "basic": "open",
                    "contact": "im:someone@mobilecarrier.net",
                    "priority": 0.8,
                    "notes": [
                        {"lang": "en", "text": "Don't Disturb Please!"},
                        {"lang": "fr", "text": "Ne derangez pas, s'il vous plait"}
                    ],
                    "timestamp": "2001-10-27T16:49:29Z"
                },
                {
                    "id": "eg92n8",
                    "basic": "open",
                    "contact": "mailto:someone@example.com",
                    "priority": 1.0,
                    "notes": [],
                    "timestamp": null
                }
            ],
            "notes": [{"lang": null, "text": "I'll be in Tokyo next week"}]
        })
    );
    // Key order as documented.
    let text = String::from_utf8(out.stdout)?;
    assert!(text.starts_with("{\"entity\":\"pres:someone@example.com\",\"tuples\":[{\"id\":\"bs35r9\",\"basic\":\"open\",\"contact\":"));
    Ok(())
}

#[test]
fn parse_reads_stdin_and_the_draft_form() -> Result<()> {
    let draft = std::fs::read(fixture("draft_notify_presence.xml"))?;
    let out = cpim(&["parse", "pidf", "-"], &draft)?;
    assert_eq!(out.status.code(), Some(0));
    let value: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    assert_eq!(value["entity"], "http://www.example.com/fred/");
    assert_eq!(value["tuples"][0]["contact"], "im:fred@example.com");
    assert_eq!(value["tuples"][0]["basic"], "open");
    assert_eq!(value["tuples"][0]["priority"], serde_json::Value::Null);
    Ok(())
}

#[test]
fn fmt_writes_the_serialised_document_with_extensions() -> Result<()> {
    let rpid = std::fs::read(fixture("rfc4480_4_example.xml"))?;
    let out = cpim(&["fmt", "pidf", "-"], &rpid)?;
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout)?;
    assert!(text.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<presence xmlns=\"urn:ietf:params:xml:ns:pidf\""));
    assert!(
        text.contains(r#"<rpid:relationship xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid"><rpid:self/></rpid:relationship>"#),
        "{text}"
    );
    // Formatting is a fixed point.
    let again = cpim(&["fmt", "pidf", "-"], text.as_bytes())?;
    assert_eq!(String::from_utf8(again.stdout)?, text);
    Ok(())
}

#[test]
fn invalid_input_is_one_line_naming_the_byte() -> Result<()> {
    let bad = br#"<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="e"><tuple id="t"><status><basic>maybe</basic></status></tuple></presence>"#;
    for command in ["parse", "fmt"] {
        let out = cpim(&[command, "pidf", "-"], bad)?;
        assert_eq!(out.status.code(), Some(1));
        assert!(out.stdout.is_empty());
        assert_eq!(
            String::from_utf8(out.stderr)?,
            "cpim: <basic> is \"maybe\", not \"open\" or \"closed\" at byte 79\n"
        );
    }
    let out = cpim(&["parse", "pidf", "-"], b"<!DOCTYPE x><presence/>")?;
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8(out.stderr)?,
        "cpim: document type declarations are refused at byte 0\n"
    );
    Ok(())
}

#[test]
fn usage_errors_exit_2() -> Result<()> {
    let out = cpim(&["parse", "pidf"], b"")?;
    assert_eq!(out.status.code(), Some(2));
    let out = cpim(&["fmt", "pidf", "a", "b"], b"")?;
    assert_eq!(out.status.code(), Some(2));
    Ok(())
}

#[test]
fn unreadable_file_exits_1() -> Result<()> {
    let out = cpim(&["parse", "pidf", "/nonexistent/p.xml"], b"")?;
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8(out.stderr)?.starts_with("cpim: cannot read /nonexistent/p.xml"));
    Ok(())
}
