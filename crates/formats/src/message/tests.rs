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
    // As a `lang` parameter: up to a space or `;`, from where it starts.
    assert_eq!(text::language_tag_end(b";lang=fr Bonjour", 6), Some(8));
    assert_eq!(text::language_tag_end(b"lang=en-GB;x=1", 5), Some(10));
    assert_eq!(text::language_tag_end(b"lang=de", 5), Some(7));
    assert_eq!(text::language_tag_end(b"lang= x", 5), None);
    assert_eq!(text::language_tag_end(b"lang=f\xc3\xa9 x", 5), None);
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
    // The MIME form with Content-Type after another field: once as a line
    // a bare reading takes as a message header (and reads the whole input
    // as another, valid, message), once as one it refuses (no space after
    // the colon).
    inputs.push(b"From: <im:a@b.c>\r\ncontent-TYPE: message/cpim\r\n\r\nContent-Type: a/b\r\n\r\nContent-Type: a/b\r\n\r\nhi".to_vec());
    inputs.push(b"Content-ID: <1@x>\r\nContent-Type:message/cpim\r\n\r\nFrom: <im:a@b.c>\r\n\r\nContent-Type: a/b\r\n\r\n".to_vec());
    // A CR as the last byte of the block scan's first turn of sixty-four
    // bytes, its LF the next turn's first (and, by the mutations, each
    // byte around it made a stray control character).
    let turn_end = format!(
        "From: <im:a@b.c>\r\nSubject: {}\r\nTo: <im:c@d.e>\r\n\r\nContent-Type: a/b\r\n\r\n",
        "x".repeat(36)
    );
    assert_eq!(turn_end.find("\r\nTo"), Some(63));
    inputs.push(turn_end.into_bytes());
    let replacements = [
        b'\r', b'\n', 0, b'\t', b' ', 0x7f, 0x80, 0xc3, 0xff, b':', b';', b'.', b'"', b'<', b'>',
        b't', b'S',
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
                let fast = parse::message_with(bytes, &limits, true, Vec::new());
                let slow = parse::message_with(bytes, &limits, false, Vec::new());
                assert_eq!(fast, slow, "input {:?}", String::from_utf8_lossy(bytes));
                compared += 1;
            });
        }
    }
    assert!(compared > 10_000);
}

/// Whether the first block names `Content-Type`, tested before the line
/// end is found, gives what the line-by-line reading gives: on the
/// fixtures and short inputs with every byte replaced by one that matters
/// to it, and on every prefix.
#[test]
fn content_type_probe_matches_line_reading() {
    fn by_lines(input: &[u8]) -> bool {
        let mut pos = 0;
        while pos < input.len() {
            let line_end = input[pos..]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(input.len(), |i| pos + i);
            let line = &input[pos..line_end];
            if line.is_empty() || line == b"\r" {
                return false;
            }
            if line.len() >= 13 && line[..13].eq_ignore_ascii_case(b"content-type:") {
                return true;
            }
            pos = line_end + 1;
        }
        false
    }
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/message");
    let mut inputs: Vec<Vec<u8>> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| std::fs::read(entry.unwrap().path()).unwrap())
        .collect();
    inputs.push(b"Subject: x\r\nContent-Type: a/b\r\n\r\n".to_vec());
    inputs.push(b"Content-Type:\n".to_vec());
    let mut compared = 0;
    for input in &inputs {
        crate::test_support::each_mutation(input, b"\n\r cC:-tT\x00", |bytes| {
            assert_eq!(
                parse::first_block_has_content_type(bytes),
                by_lines(bytes),
                "{:?}",
                String::from_utf8_lossy(bytes)
            );
            compared += 1;
        });
    }
    assert!(compared > 10_000, "{compared}");
}

/// The word comparison of short strings agrees with `==` for every length
/// up to 24 against every one-byte change and every other length.
#[test]
fn short_comparison_is_equality() {
    let base: Vec<u8> = (b'a'..=b'z').collect();
    for n in 0..=24 {
        let a = &base[..n];
        for m in 0..=24 {
            assert_eq!(parse::eq_short(a, &base[..m]), n == m, "{n} {m}");
        }
        for k in 0..n {
            for c in [0u8, b'A', a[k] ^ 1, 0x80, 0xff] {
                let mut b = a.to_vec();
                b[k] = c;
                assert_eq!(parse::eq_short(a, &b), a == &b[..], "{n} at {k}");
                assert_eq!(parse::eq_short(&b, a), a == &b[..], "{n} at {k}");
            }
        }
    }
}

/// Each 16-byte class mask (SSE2 on x86, plain elsewhere) marks exactly
/// the bytes of its class, each at its own bit, for every byte value at
/// every place of a chunk next to any other byte; so does the word reading
/// of the control mask used off x86.
#[test]
fn chunk_masks_are_exact() {
    use crate::simd::{self, mask_by};
    type Mask = fn(&[u8; 16]) -> u32;
    type Class = fn(u8) -> bool;
    let masks: [(&str, Mask, Class); 10] = [
        ("control", simd::control, simd::is_control),
        ("control words", simd::control_words, simd::is_control),
        ("alnum", simd::alnum, simd::is_alnum),
        (
            "MIME name stops",
            simd::mime_name_stops,
            simd::is_mime_name_stop,
        ),
        ("not in URI", simd::not_in_uri, simd::is_not_in_uri),
        ("not an XML char", simd::not_xml_char, simd::is_not_xml_char),
        ("hash", |chunk| simd::equal(chunk, b'#'), |c| c == b'#'),
        ("space", |chunk| simd::equal(chunk, b' '), |c| c == b' '),
        ("LF", |chunk| simd::equal(chunk, b'\n'), |c| c == b'\n'),
        ("less than", |chunk| simd::equal(chunk, b'<'), |c| c == b'<'),
    ];
    let others = [
        0u8, 0x1f, 0x20, b'"', b'#', b'-', b'0', b'9', b':', b'<', b'>', b'@', b'A', b'Z', b'[',
        b'`', b'a', b'z', b'{', 0x7e, 0x7f, 0x80, 0x9f, 0xa0, 0xc1, 0xda, 0xff,
    ];
    for (name, mask, class) in masks {
        for b in 0..=255u8 {
            for other in others {
                for at in 0..16 {
                    let mut chunk = [other; 16];
                    chunk[at] = b;
                    let expected: u32 = chunk
                        .iter()
                        .enumerate()
                        .filter(|(_, &c)| class(c))
                        .fold(0, |m, (k, _)| m | 1 << k);
                    assert_eq!(mask(&chunk), expected, "{name} {chunk:?}");
                    assert_eq!(mask_by(&chunk, class), expected, "{name} {chunk:?}");
                }
            }
        }
    }
}

/// The date-time shape test of sixteen bytes at once (SSE2 on x86) agrees
/// with the byte reading for every byte value at every place of valid
/// heads, in both cases of `T`.
#[test]
fn date_time_shape_matches_byte_reading() {
    use crate::simd::{date_time_shape, date_time_shape_bytes};
    for head in [
        b"2000-12-13T13:40",
        b"1990-12-31t23:59",
        b"0000-00-00T00:00",
    ] {
        assert!(date_time_shape(head));
        for at in 0..16 {
            for b in 0..=255u8 {
                let mut chunk = *head;
                chunk[at] = b;
                assert_eq!(
                    date_time_shape(&chunk),
                    date_time_shape_bytes(&chunk),
                    "{chunk:?}"
                );
            }
        }
    }
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
                let mask = super::text::special_bytes(u64::from_le_bytes(word));
                for (k, &c) in word.iter().enumerate() {
                    let marked = mask >> (8 * k + 7) & 1 == 1;
                    assert_eq!(marked, c < 0x20 || c == 0x7f, "{word:?} byte {k}");
                }
            }
        }
    }
}

/// The word-at-a-time name tests mark exactly their bytes (letters; `:`
/// and bytes outside 33-126), at any place in the word and next to any
/// other byte.
#[test]
fn word_classes_are_exact() {
    use super::text::{letter_bytes, mime_name_stops};
    for b in 0..=255u8 {
        for other in [
            0u8, b' ', b'9', b':', b'@', b'A', b'Z', b'[', b'`', b'a', b'z', b'{', 0x7f, 0x80,
            0xc1, 0xda, 0xff,
        ] {
            for at in 0..8 {
                let mut word = [other; 8];
                word[at] = b;
                let w = u64::from_le_bytes(word);
                let (letters, stops) = (letter_bytes(w), mime_name_stops(w));
                for (k, &c) in word.iter().enumerate() {
                    let bit = |mask: u64| mask >> (8 * k + 7) & 1 == 1;
                    assert_eq!(bit(letters), c.is_ascii_alphabetic(), "{word:?} byte {k}");
                    let stop = c == b':' || !(33..=126).contains(&c);
                    assert_eq!(bit(stops), stop, "{word:?} byte {k}");
                }
                assert_eq!(letters & !0x8080_8080_8080_8080, 0);
                assert_eq!(stops & !0x8080_8080_8080_8080, 0);
            }
        }
    }
}

/// The name scans that skip letters (or MIME name bytes) a word at a time,
/// or letters, digits and `-` sixteen at a time, stop where the plain byte
/// loops stop, from every start, on names with
/// each byte replaced by any byte, and on every prefix.
#[test]
fn word_skips_match_byte_loops() {
    use super::text::{
        is_namechar, is_tokenchar, line_name_end, namechar_end, skip_mime_name, tokenchar_end,
    };
    let all: Vec<u8> = (0..=255).collect();
    let plain = |b: &[u8], i: usize, class: fn(u8) -> bool| {
        i + b[i..].iter().take_while(|&&c| class(c)).count()
    };
    let mut compared = 0;
    for name in [
        "MyFeatures.VitalMessageOption: x",
        "Content-type: text/xml; charset=utf-8",
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
        "Subject:;lang=fr x",
    ] {
        crate::test_support::each_mutation(name.as_bytes(), &all, |b| {
            for i in 0..=b.len() {
                assert_eq!(
                    namechar_end(b, i),
                    plain(b, i, is_namechar),
                    "{b:?} from {i}"
                );
                assert_eq!(
                    line_name_end(b, i),
                    plain(b, i, is_namechar),
                    "{b:?} from {i}"
                );
                assert_eq!(
                    tokenchar_end(b, i),
                    plain(b, i, is_tokenchar),
                    "{b:?} from {i}"
                );
                let mime = i + b[i..]
                    .iter()
                    .take_while(|&&c| c != b':' && (33..=126).contains(&c))
                    .count();
                // The skip may stop early only where whole words run out.
                let skipped = skip_mime_name(b, i);
                assert!(skipped <= mime, "{b:?} from {i}");
                assert!(skipped == mime || b.len() - skipped < 8, "{b:?} from {i}");
                compared += 1;
            }
        });
    }
    assert!(compared > 1_000_000, "{compared}");
}

/// `is_absolute_uri` by its rule, for every byte in the scheme and after
/// the colon.
#[test]
fn absolute_uri_byte_classes() {
    use super::text::{is_absolute_uri, is_absolute_uri_without_fragment};
    for c in 0..=127u8 {
        let ch = char::from(c);
        // A ':' there ends the scheme early: `a:b:x` is absolute too.
        let in_scheme = c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.' | b':');
        assert_eq!(
            is_absolute_uri(format!("a{ch}b:x")),
            in_scheme,
            "{c:#x} in scheme"
        );
        assert_eq!(
            is_absolute_uri(format!("{ch}:x")),
            c.is_ascii_alphabetic(),
            "{c:#x} first"
        );
        let in_rest = !(c <= b' ' || c == 0x7f || matches!(c, b'<' | b'>' | b'"'));
        assert_eq!(
            is_absolute_uri(format!("im:a{ch}b")),
            in_rest,
            "{c:#x} after ':'"
        );
        assert_eq!(
            is_absolute_uri_without_fragment(format!("im:a{ch}b")),
            in_rest && c != b'#',
            "{c:#x} after ':' (no fragment)"
        );
        assert_eq!(
            is_absolute_uri_without_fragment(format!("a{ch}b:x")),
            in_scheme && c != b'#',
            "{c:#x} in scheme (no fragment)"
        );
    }
    assert!(is_absolute_uri("im:\u{e9}"));
    assert!(!is_absolute_uri("im:"));
    assert!(!is_absolute_uri(":x"));
}

/// The URI checks that read sixteen bytes at a time (with an overlapping
/// last chunk) give the byte-by-byte reading for URIs of every length up to
/// 48 after the scheme, with every ASCII byte (and a two-byte character) at
/// every place.
#[test]
fn chunked_uri_checks_match_byte_reading() {
    use super::text::{is_absolute_uri, is_absolute_uri_without_fragment};
    let refused = |c: char| c <= ' ' || c == '\u{7f}' || matches!(c, '<' | '>' | '"');
    let mut compared = 0;
    for len in 1..=48 {
        let base: String = (0..len)
            .map(|k| char::from(b'a' + (k % 26) as u8))
            .collect();
        for at in 0..len {
            for c in (0..=127u8).map(char::from).chain(['\u{e9}']) {
                let mut rest = base.clone();
                rest.replace_range(at..=at, c.encode_utf8(&mut [0; 4]));
                let uri = format!("im:{rest}");
                let ok = !rest.chars().any(refused);
                assert_eq!(is_absolute_uri(&uri), ok, "{uri:?}");
                let no_hash = ok && !rest.contains('#');
                assert_eq!(is_absolute_uri_without_fragment(&uri), no_hash, "{uri:?}");
                compared += 1;
            }
        }
    }
    assert!(compared > 100_000, "{compared}");
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

/// The date-time and language-tag checks as first written (field by field,
/// split on `-`): the one-pass versions must agree with them.
mod reference {
    pub(super) fn is_date_time(s: &str) -> bool {
        let b = s.as_bytes();
        let num = |from: usize, len: usize| -> Option<u32> {
            let digits = b.get(from..from + len)?;
            digits.iter().try_fold(0u32, |n, &d| {
                d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
            })
        };
        let sep = |at: usize, c: u8| b.get(at).is_some_and(|&x| x == c);
        let date_ok = num(0, 4).is_some()
            && sep(4, b'-')
            && num(5, 2).is_some_and(|m| (1..=12).contains(&m))
            && sep(7, b'-')
            && num(8, 2).is_some_and(|d| (1..=31).contains(&d))
            && b.get(10).is_some_and(|&t| t == b'T' || t == b't');
        let time_ok = num(11, 2).is_some_and(|h| h < 24)
            && sep(13, b':')
            && num(14, 2).is_some_and(|m| m < 60)
            && sep(16, b':')
            && num(17, 2).is_some_and(|s| s <= 60);
        if !(date_ok && time_ok) {
            return false;
        }
        let mut at = 19;
        if sep(at, b'.') {
            let digits = b[at + 1..]
                .iter()
                .take_while(|d| d.is_ascii_digit())
                .count();
            if digits == 0 {
                return false;
            }
            at += 1 + digits;
        }
        match b.get(at) {
            Some(b'Z' | b'z') => at + 1 == b.len(),
            Some(b'+' | b'-') => {
                at + 6 == b.len()
                    && num(at + 1, 2).is_some_and(|h| h < 24)
                    && sep(at + 3, b':')
                    && num(at + 4, 2).is_some_and(|m| m < 60)
            }
            _ => false,
        }
    }

    pub(super) fn is_language_tag(tag: &str) -> bool {
        let mut parts = tag.split('-');
        let primary_ok = parts.next().is_some_and(|p| {
            (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphabetic())
        });
        primary_ok
            && parts
                .all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
    }
}

/// The one-pass date-time, language-tag and case-insensitive checks give
/// what the plain definitions give, on valid values with each byte replaced
/// by one that matters to them, and on every prefix.
#[test]
fn value_checks_match_their_definitions() {
    use super::text::{eq_ignore_case, starts_ignore_case};
    let replacements = b"09:-+.TtZz aA\x80/";
    let mut compared = 0;
    for value in [
        "2000-12-13T13:40:00-08:00",
        "1985-04-12T23:20:50.52Z",
        "1990-12-31t23:59:60z",
        "2000-12-13T13:40:00.123+23:59",
    ] {
        crate::test_support::each_mutation(value.as_bytes(), replacements, |bytes| {
            if let Ok(s) = std::str::from_utf8(bytes) {
                assert_eq!(is_date_time(s), reference::is_date_time(s), "{s:?}");
                compared += 1;
            }
        });
    }
    for tag in [
        "en",
        "zh-Hant-TW",
        "abcdefgh-12345678",
        "i-default",
        "x-a-b",
    ] {
        crate::test_support::each_mutation(tag.as_bytes(), b"-aZ9 \x80_", |bytes| {
            if let Ok(s) = std::str::from_utf8(bytes) {
                assert_eq!(is_language_tag(s), reference::is_language_tag(s), "{s:?}");
                compared += 1;
            }
        });
    }
    for name in ["Content-Type", "message/cpim", "content-type:"] {
        let lower = name.to_ascii_lowercase();
        crate::test_support::each_mutation(name.as_bytes(), b"-/:\r\x0d\x0f\x0a@[`{ Aa", |bytes| {
            let expected = bytes.eq_ignore_ascii_case(lower.as_bytes());
            let starts = bytes.len() >= lower.len()
                && bytes[..lower.len()].eq_ignore_ascii_case(lower.as_bytes());
            match lower.as_bytes() {
                b"content-type" => assert_eq!(eq_ignore_case(bytes, b"content-type"), expected),
                b"message/cpim" => assert_eq!(eq_ignore_case(bytes, b"message/cpim"), expected),
                _ => assert_eq!(starts_ignore_case(bytes, b"content-type:"), starts),
            }
            compared += 1;
        });
    }
    // Every byte against every letter and symbol position.
    for c in 0..=255u8 {
        let one = [c];
        assert_eq!(eq_ignore_case(&one, b"a"), c.eq_ignore_ascii_case(&b'a'));
        assert_eq!(eq_ignore_case(&one, b"-"), c == b'-');
        assert_eq!(eq_ignore_case(&one, b"/"), c == b'/');
    }
    assert!(compared > 2_000, "{compared}");
}

/// The parts found again when asked for (MIME header names, message header
/// names and parameters) and the in-place single `Require` name read as the
/// input has them.
#[test]
fn accessors_read_the_parts_back() {
    let input = b"Content-type: Message/CPIM\r\n\r\n\
        NS: p <urn:p>\r\n\
        p.Flag:;lang=fr;x=\"a:b\" on: off\r\n\
        Require: p.Flag\r\n\
        Require: p.Flag,From\r\n\r\n\
        Content-Type:\ttext/plain;\r\n charset=utf-8\r\n\r\nhi";
    let m = Message::parse(input).unwrap();
    let mime = &m.mime_headers()[0];
    assert_eq!(
        (mime.name(), mime.value()),
        ("Content-type", &b"Message/CPIM"[..])
    );
    assert!(mime.is_content_type());
    let ct = m.content().content_type().unwrap();
    assert_eq!(ct.name(), "Content-Type");
    assert_eq!(ct.value(), b"text/plain;\r\n charset=utf-8");
    assert_eq!(&*ct.unfolded(), b"text/plain; charset=utf-8");
    assert_eq!(ct.raw(), b"Content-Type:\ttext/plain;\r\n charset=utf-8");
    let flag = &m.headers()[1];
    assert_eq!(flag.name(), "p.Flag");
    assert_eq!((flag.prefix(), flag.local_name()), (Some("p"), "Flag"));
    assert_eq!(flag.params(), ";lang=fr;x=\"a:b\"");
    assert_eq!(flag.lang(), Some("fr"));
    assert_eq!(flag.value(), "on: off");
    assert_eq!(flag.namespace(), "urn:p");
    let HeaderKind::Require(one) = m.headers()[2].kind() else {
        panic!("{:?}", m.headers()[2].kind())
    };
    let HeaderKind::Require(two) = m.headers()[3].kind() else {
        panic!("{:?}", m.headers()[3].kind())
    };
    assert_eq!(one.len(), 1);
    let first_require = input.windows(9).position(|w| w == b"Require: ").unwrap();
    assert_eq!(
        (one[0].namespace, one[0].local, one[0].offset),
        ("urn:p", "Flag", first_require + 9)
    );
    assert_eq!(
        two.iter().map(|r| r.name).collect::<Vec<_>>(),
        ["p.Flag", "From"]
    );
    assert_eq!(format!("{one:?}"), format!("{:?}", one.as_slice()));
    assert_eq!(m.required().count(), 3);
    assert_eq!(m.to_vec(), input);
}

/// The list of MIME headers keeps the same fields in the same order as a
/// vector, in place and once spilled past its inline room, and a message
/// with more MIME headers than fit in place reads them all back.
#[test]
fn mime_list_matches_a_vector() {
    let input = b"Content-Type: message/cpim\r\nA: 0\r\nB: 1\r\nC: 2\r\nD: 3\r\nE: 4\r\nF: 5\r\n";
    let fields: Vec<MimeHeader<'_>> = (0..7)
        .map(|i| MimeHeader {
            raw: &input[..10 + i],
            offset: i,
            name_len: 1,
            value_start: 2,
        })
        .collect();
    for n in 0..=fields.len() {
        let mut list = MimeList::new();
        for &field in &fields[..n] {
            list.push(field);
        }
        assert_eq!(list.as_slice(), &fields[..n]);
        assert_eq!(list.len(), n);
        assert_eq!(list.clone(), list);
    }

    let mut message = input.to_vec();
    message.extend_from_slice(b"\r\nFrom: <im:a@b.c>\r\n\r\n");
    message.extend_from_slice(b"Content-Type: text/plain\r\nG: 6\r\nH: 7\r\nI: 8\r\n\r\nhi");
    let m = Message::parse(&message).unwrap();
    let names = |h: &[MimeHeader<'_>]| h.iter().map(|h| h.name().to_owned()).collect::<Vec<_>>();
    assert_eq!(
        names(m.mime_headers()),
        ["Content-Type", "A", "B", "C", "D", "E", "F"]
    );
    assert_eq!(
        names(m.content().headers()),
        ["Content-Type", "G", "H", "I"]
    );
    assert_eq!(m.content().content_type().unwrap().value(), b"text/plain");
    assert_eq!(m.to_vec(), message);
}

/// A `Require` naming several headers keeps no list: its names are
/// resolved again, by [`Header::kind`] from the block before it and by
/// [`Message::required`] in one walk, in the scope where they were
/// listed (a prefix declared again later, and the default namespace
/// changed before them, as the parser saw them; after that change only
/// `c.NS` declares).
#[test]
fn names_of_a_require_naming_several_resolve_where_listed() {
    let headers: &[u8] = b"NS: p <urn:one>\r\n\
        NS: c <urn:ietf:params:cpim-headers:>\r\n\
        NS: <urn:default>\r\n\
        c.Require: p.A, B, p.C\r\n\
        c.NS: p <urn:two>\r\n\
        c.Require: p.D, B\r\n\
        c.Require: p.E\r\n";
    let expected = [
        ("p.A", "urn:one", "A"),
        ("B", "urn:default", "B"),
        ("p.C", "urn:one", "C"),
        ("p.D", "urn:two", "D"),
        ("B", "urn:default", "B"),
        ("p.E", "urn:two", "E"),
    ];
    let mime = [b"Content-type: Message/CPIM\r\n\r\n".as_slice(), headers].concat();
    let whole = |head: &[u8]| [head, b"\r\nContent-Type: text/plain\r\n\r\nhi"].concat();
    for (form, input) in [("bare", whole(headers)), ("mime", whole(&mime))] {
        let m = Message::parse(&input).unwrap();
        let by_walk: Vec<Required<'_>> = m.required().collect();
        let by_kind: Vec<Required<'_>> = m
            .headers()
            .iter()
            .filter_map(|h| match h.kind() {
                HeaderKind::Require(list) => Some(list.to_vec()),
                _ => None,
            })
            .flatten()
            .collect();
        assert_eq!(by_walk, by_kind, "{form}");
        let got: Vec<_> = by_walk
            .iter()
            .map(|r| (r.name, r.namespace, r.local))
            .collect();
        assert_eq!(got, expected, "{form}");
        for r in &by_walk {
            assert_eq!(
                &input[r.offset..r.offset + r.name.len()],
                r.name.as_bytes(),
                "{form}"
            );
        }
        assert_eq!(m.headers()[3].namespace(), CORE_NAMESPACE, "{form}");
        let required: Vec<_> = MessageBuilder::from_message(&m)
            .fields()
            .iter()
            .filter_map(|f| match f {
                Field::Require(names) => Some(names.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(
            required,
            [vec!["p.A", "B", "p.C"], vec!["p.D", "B"], vec!["p.E"]],
            "{form}"
        );
    }
    // The header block alone, read line by line.
    let block = Message::parse_headers(headers, &Limits::default()).unwrap();
    let by_kind: Vec<_> = block
        .iter()
        .filter_map(|h| match h.kind() {
            HeaderKind::Require(list) => Some(list.to_vec()),
            _ => None,
        })
        .flatten()
        .map(|r| (r.name, r.namespace, r.local, r.offset))
        .collect();
    let at = |name: &str, nth: usize| {
        let mut from = 0;
        for _ in 0..nth {
            from += headers[from..]
                .windows(name.len())
                .position(|w| w == name.as_bytes())
                .unwrap()
                + 1;
        }
        from - 1
    };
    let offsets: Vec<_> = [
        ("p.A", 1),
        ("B", 1),
        ("p.C", 1),
        ("p.D", 1),
        ("B", 2),
        ("p.E", 1),
    ]
    .into_iter()
    .map(|(name, nth)| at(name, nth))
    .collect();
    assert_eq!(
        by_kind,
        expected
            .iter()
            .zip(offsets)
            .map(|(&(name, ns, local), offset)| (name, ns, local, offset))
            .collect::<Vec<_>>()
    );
}

/// A store gives what `Message::parse` gives, bare, MIME and signed, and
/// keeps its room from one message to the next: a message whose headers
/// fit makes no vector of its own (the room stays where it was), not even
/// one first read as bare and then again as MIME; one with more grows it.
#[test]
fn header_store_reuses_its_room() {
    let bare: &[u8] = b"From: <im:a@example.com>\r\nTo: <im:b@example.com>\r\nSubject: hi\r\n\r\nContent-Type: text/plain\r\n\r\nbody";
    let mime = [b"Content-Type: message/cpim\r\n\r\n".as_slice(), bare].concat();
    // `Content-Type` after another field: read as bare first.
    let read_twice: &[u8] = b"From: <im:a@b.c>\r\ncontent-TYPE: message/cpim\r\n\r\nTo: <im:b@c.d>\r\n\r\nContent-Type: a/b\r\n\r\nhi";
    let signed = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/message/s5_2_signed.cpim"
    ))
    .unwrap();
    let mut store = HeaderStore::new();
    assert_eq!(store.capacity(), 0);
    let mut room: Option<*const Header<'_>> = None;
    let mut kept = 0;
    for input in [bare, &mime, read_twice, &signed, bare, &mime, read_twice] {
        let capacity = store.capacity();
        let message = store.parse(input).unwrap();
        assert_eq!(message, Message::parse(input).unwrap());
        let at = message.headers().as_ptr();
        if message.headers().len() <= capacity {
            assert_eq!(Some(at), room, "a parse made a vector of its own");
            kept += 1;
        }
        room = Some(at);
        store.reclaim(message);
        assert!(store.capacity() >= capacity.max(1), "{}", store.capacity());
    }
    assert_eq!(kept, 5);
    // An error gives the room up; the next parse works all the same.
    assert!(store.parse(b"From <im:a@example.com>\r\n\r\n").is_err());
    assert_eq!(store.capacity(), 0);
    let message = store.parse(bare).unwrap();
    assert_eq!(message, Message::parse(bare).unwrap());
}
