//! `cpim parse uri` run as a program: JSON on stdout and exit 0, one line
//! naming the byte on stderr and exit 1, usage errors exit 2.

use std::process::{Command, Output};

fn cpim(args: &[&str]) -> std::io::Result<Output> {
    Command::new(env!("CARGO_BIN_EXE_cpim")).args(args).output()
}

#[test]
fn prints_the_parts_as_json() -> Result<(), Box<dyn std::error::Error>> {
    let out = cpim(&[
        "parse",
        "uri",
        "IM:Alice@Example.COM?subject=hi%20there&x=%22",
    ])?;
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8(out.stdout)?,
        "{\"scheme\":\"im\",\"to\":[{\"local\":\"Alice\",\"domain\":\"example.com\"}],\
         \"headers\":[[\"subject\",\"hi there\"],[\"x\",\"\\\"\"]]}\n"
    );
    assert!(out.stderr.is_empty());
    Ok(())
}

#[test]
fn prints_every_mailbox() -> Result<(), Box<dyn std::error::Error>> {
    let out = cpim(&[
        "parse",
        "uri",
        "pres:\"john smith\"@bücher.example,b@y.example",
    ])?;
    assert_eq!(out.status.code(), Some(0));
    let value: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    assert_eq!(
        value,
        serde_json::json!({
            "scheme": "pres",
            "to": [
                {"local": "john smith", "domain": "xn--bcher-kva.example"},
                {"local": "b", "domain": "y.example"}
            ],
            "headers": []
        })
    );
    Ok(())
}

#[test]
fn invalid_uri_names_the_byte_and_exits_1() -> Result<(), Box<dyn std::error::Error>> {
    let out = cpim(&["parse", "uri", "im:fred smith@example.com"])?;
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8(out.stderr)?;
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("at byte 7"), "{stderr}");
    assert!(stderr.contains("expected '@'"), "{stderr}");
    Ok(())
}

#[test]
fn missing_argument_is_a_usage_error() -> Result<(), Box<dyn std::error::Error>> {
    let out = cpim(&["parse", "uri"])?;
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    Ok(())
}
