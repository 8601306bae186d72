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

/// The fast paths (clean lines found a word at a time, the header block
/// checked at once) give exactly what the byte-by-byte checks give: the
/// same message or the same error at the same byte, for every fixture with
/// each byte replaced by one that matters to the scanners, or cut short,
/// under default and tight limits.
#[test]
fn fast_paths_match_byte_by_byte_checks() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/message");
    let mut inputs: Vec<Vec<u8>> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| std::fs::read(entry.unwrap().path()).unwrap())
        .collect();
    assert!(inputs.len() >= 3, "fixtures missing in {dir}");
    inputs.push(b"From: <im:a@b.c>\r\nNS: x <urn:x>\r\nx.Y\x7f: 1\r\n\r\nContent-Type: text/plain\r\n\r\nhi".to_vec());
    inputs.push(b"Content-Type: message/cpim\r\n\tfolded\r\n\r\nSubject: \xc3\xa9t\xc3\xa9\r\n\r\nContent-Type: text/plain\r\n \r\n\r\n".to_vec());
    let replacements = [
        b'\r', b'\n', 0, b'\t', b' ', 0x7f, 0x80, 0xc3, 0xff, b':', b';', b'.', b'"', b'<', b'>',
    ];
    let tight = Limits {
        max_size: 4096,
        max_headers: 6,
        max_line: 24,
    };
    let mut compared = 0;
    for input in &inputs {
        for limits in [Limits::default(), tight] {
            crate::test_support::each_mutation(input, &replacements, |bytes| {
                let fast = parse::message_with(bytes, &limits, true);
                let slow = parse::message_with(bytes, &limits, false);
                assert_eq!(fast, slow, "input {:?}", String::from_utf8_lossy(bytes));
                compared += 1;
            });
        }
    }
    assert!(compared > 10_000);
}

/// The word-at-a-time scanner marks exactly the control characters and
/// DEL, at any place in the word and next to any other byte.
#[test]
fn special_bytes_are_exact() {
    for b in 0..=255u8 {
        for other in [0u8, 0x1f, 0x20, 0x7e, 0x7f, 0x80, 0xff] {
            for at in 0..8 {
                let mut word = [other; 8];
                word[at] = b;
                let mask = parse::special_bytes(u64::from_le_bytes(word));
                for (k, &c) in word.iter().enumerate() {
                    let marked = mask >> (8 * k + 7) & 1 == 1;
                    assert_eq!(marked, c < 0x20 || c == 0x7f, "{word:?} byte {k}");
                }
            }
        }
    }
}

/// `is_absolute_uri` by its rule, for every byte in the scheme and after
/// the colon.
#[test]
fn absolute_uri_byte_classes() {
    use super::text::is_absolute_uri;
    for c in 0..=127u8 {
        let ch = char::from(c);
        // A ':' there ends the scheme early: `a:b:x` is absolute too.
        let in_scheme = c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.' | b':');
        assert_eq!(
            is_absolute_uri(&format!("a{ch}b:x")),
            in_scheme,
            "{c:#x} in scheme"
        );
        assert_eq!(
            is_absolute_uri(&format!("{ch}:x")),
            c.is_ascii_alphabetic(),
            "{c:#x} first"
        );
        let in_rest = !(c <= b' ' || c == 0x7f || matches!(c, b'<' | b'>' | b'"'));
        assert_eq!(
            is_absolute_uri(&format!("im:a{ch}b")),
            in_rest,
            "{c:#x} after ':'"
        );
    }
    assert!(is_absolute_uri("im:\u{e9}"));
    assert!(!is_absolute_uri("im:"));
    assert!(!is_absolute_uri(":x"));
}

/// Messages that differ only in their MIME headers are not equal, though
/// those headers share a vector with the content's.
#[test]
fn equality_counts_the_mime_headers() {
    let one =
        b"Content-Type: message/cpim\r\n\r\nSubject: hi\r\n\r\nContent-Type: text/plain\r\n\r\nx";
    let two =
        b"content-type: message/cpim\r\n\r\nSubject: hi\r\n\r\nContent-Type: text/plain\r\n\r\nx";
    let (one, two) = (Message::parse(one).unwrap(), Message::parse(two).unwrap());
    assert_eq!(one.content(), two.content());
    assert_ne!(one, two);
    assert!(format!("{one:?}").contains("mime_headers: [MimeHeader"));
}
