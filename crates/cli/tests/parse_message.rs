//! `cpim parse message` and `cpim fmt message` run as a program on the
//! RFC 3862 fixtures: JSON on stdout and exit 0, one line naming the byte on
//! stderr and exit 1, usage errors exit 2.

mod common;

use common::cpim_stdin;
use std::process::{Command, Output};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn fixture(name: &str) -> String {
    format!(
        "{}/../../testdata/message/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn cpim(args: &[&str]) -> std::io::Result<Output> {
    Command::new(env!("CARGO_BIN_EXE_cpim")).args(args).output()
}

const VITAL: &str = "mid:MessageFeatures@id.foo.com#VitalMessageOption";

#[test]
fn section_5_1_as_json() -> Result<()> {
    let out = cpim(&[
        "parse",
        "message",
        "--understand",
        VITAL,
        &fixture("s5_1_message.cpim"),
    ])?;
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
            "form": "mime",
            "from": {"name": "MR SANDERS", "uri": "im:piglet@100akerwood.com"},
            "to": [{"name": "Depressed Donkey", "uri": "im:eeyore@100akerwood.com"}],
            "cc": [],
            "datetime": "2000-12-13T13:40:00-08:00",
            "subject": [
                {"lang": null, "text": "the weather will be fine today"},
                {"lang": "fr", "text": "beau temps prevu pour aujourd'hui"}
            ],
            "ns": [{"prefix": "MyFeatures", "uri": "mid:MessageFeatures@id.foo.com"}],
            "require": ["MyFeatures.VitalMessageOption"],
            "headers": [
                ["From", "MR SANDERS <im:piglet@100akerwood.com>"],
                ["To", "Depressed Donkey <im:eeyore@100akerwood.com>"],
                ["DateTime", "2000-12-13T13:40:00-08:00"],
                ["Subject", "the weather will be fine today"],
                ["Subject", "beau temps prevu pour aujourd'hui"],
                ["NS", "MyFeatures <mid:MessageFeatures@id.foo.com>"],
                ["Require", "MyFeatures.VitalMessageOption"],
                ["MyFeatures.VitalMessageOption", "Confirmation-requested"],
                ["MyFeatures.WackyMessageOption", "Use-silly-font"]
            ],
            "content_type": "text/xml; charset=utf-8",
            "body_len": 50
        })
    );
    // Keys in the documented order.
    let text = String::from_utf8(out.stdout)?;
    assert!(text.starts_with("{\"form\":\"mime\",\"from\":"), "{text}");
    assert!(text.ends_with("\"body_len\":50}\n"), "{text}");
    Ok(())
}

#[test]
fn section_5_2_from_stdin() -> Result<()> {
    let bytes = std::fs::read(fixture("s5_2_signed.cpim"))?;
    let out = cpim_stdin(&["parse", "message", "--understand", VITAL, "-"], &bytes)?;
    assert_eq!(out.status.code(), Some(0));
    let value: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    assert_eq!(value["form"], "signed");
    assert_eq!(value["to"][0]["name"], "Dopey Donkey");
    assert_eq!(value["body_len"], 48);
    Ok(())
}

#[test]
fn bare_form() -> Result<()> {
    let input =
        b"From: <im:a@b>\r\ncc: \"Tab\\tby\" <im:c@d>\r\n\r\nContent-Type: text/plain\r\n\r\nhi";
    let out = cpim_stdin(&["parse", "message", "-"], input)?;
    assert_eq!(out.status.code(), Some(0));
    let value: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    assert_eq!(value["form"], "bare");
    assert_eq!(
        value["from"],
        serde_json::json!({"name": null, "uri": "im:a@b"})
    );
    assert_eq!(
        value["cc"],
        serde_json::json!([{"name": "Tab\tby", "uri": "im:c@d"}])
    );
    assert_eq!(value["datetime"], serde_json::Value::Null);
    assert_eq!(value["body_len"], 2);
    Ok(())
}

#[test]
fn require_not_understood_is_refused() -> Result<()> {
    let out = cpim(&["parse", "message", &fixture("s5_1_message.cpim")])?;
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8(out.stderr)?;
    assert_eq!(
        err,
        "cpim: required header MyFeatures.VitalMessageOption (namespace mid:MessageFeatures@id.foo.com) is not understood at byte 314\n"
    );
    Ok(())
}

#[test]
fn invalid_input_names_the_byte() -> Result<()> {
    let out = cpim_stdin(&["parse", "message", "-"], b"From:<im:a@b>\r\n\r\n")?;
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8(out.stderr)?,
        "cpim: expected a space after the header name, colon and parameters at byte 5\n"
    );
    let out = cpim_stdin(&["fmt", "message", "-"], b"From: <im:a@b>\r\n")?;
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8(out.stderr)?,
        "cpim: input ends inside the message headers at byte 16\n"
    );
    Ok(())
}

#[test]
fn usage_errors_exit_2() -> Result<()> {
    let out = cpim(&[
        "parse",
        "message",
        "--understand",
        "no-hash",
        &fixture("s5_1_message.cpim"),
    ])?;
    assert_eq!(out.status.code(), Some(2));
    let out = cpim(&["parse", "message"])?;
    assert_eq!(out.status.code(), Some(2));
    Ok(())
}

#[test]
fn fmt_writes_every_fixture_back_unchanged() -> Result<()> {
    for name in ["s5_1_message.cpim", "s5_2_signed.cpim"] {
        let out = cpim(&["fmt", "message", &fixture(name)])?;
        assert_eq!(out.status.code(), Some(0));
        assert_eq!(out.stdout, std::fs::read(fixture(name))?, "{name}");
    }
    Ok(())
}
