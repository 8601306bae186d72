#![allow(clippy::unwrap_used)]

use super::text::{escape, is_date_time, is_language_tag};
use super::*;

#[test]
fn unescape_rules() {
    assert_eq!(
        unescape(r#"a\\b\"c\'d\be\tf\ng\rh"#),
        "a\\b\"c'd\u{8}e\tf\ng\rh"
    );
    assert_eq!(unescape(r"\u0041\u00e9"), "Aé");
    assert_eq!(unescape(r"\ud83d\ude00"), "😀");
    assert_eq!(unescape(r"\ud83d"), "\u{fffd}");
    assert_eq!(unescape(r"\q\u12"), "qu12");
    assert_eq!(unescape("end\\"), "end");
    assert!(matches!(unescape("plain"), Cow::Borrowed("plain")));
}

#[test]
fn escape_rules() {
    assert_eq!(
        escape("a\\b\u{8}\t\n\r\u{1}\u{7f}\"", false),
        "a\\\\b\\b\\t\\n\\r\\u0001\\u007f\""
    );
    assert_eq!(escape("say \"hi\"", true), "say \\\"hi\\\"");
    assert_eq!(unescape(&escape("x\u{0}y\"\\", true)), "x\u{0}y\"\\");
}

#[test]
fn language_tags() {
    for ok in ["en", "fr", "en-US", "i-default", "x-klingon", "zh-Hant-TW"] {
        assert!(is_language_tag(ok), "{ok}");
    }
    for bad in ["", "-en", "en-", "e1", "toolongtag", "en--US", "en US"] {
        assert!(!is_language_tag(bad), "{bad}");
    }
}

#[test]
fn date_times() {
    for ok in [
        "2000-12-13T13:40:00-08:00",
        "2001-02-02T10:48:54-05:00",
        "1985-04-12T23:20:50.52Z",
        "1990-12-31t23:59:60z",
    ] {
        assert!(is_date_time(ok), "{ok}");
    }
    for bad in [
        "2000-13-13T13:40:00-08:00",
        "2000-12-13 13:40:00Z",
        "2000-12-13T24:00:00Z",
        "2000-12-13T13:40:00",
        "2000-12-13T13:40:00.Z",
        "2000-12-13T13:40:00+0800",
        "2000-12-13T13:40:00Z ",
    ] {
        assert!(!is_date_time(bad), "{bad}");
    }
}
