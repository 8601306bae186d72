//! What XML 1.0 allows as characters (section 2.2, `Char`), for every
//! XML reader and writer of the crate: quick-xml does not check.

use std::borrow::Cow;

/// XML 1.0's Char production (section 2.2).
pub(crate) fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// The first character XML 1.0 does not allow (section 2.2, `Char`) in
/// `text` (UTF-8, or bytes that should be), with its byte offset: a
/// control character other than tab, LF and CR, or U+FFFE or U+FFFF
/// (UTF-8 has no surrogates). No XML document can hold one, not even as a
/// character reference, so the parser refuses them and a value bound for
/// a document must be refused before it is put there.
pub fn first_non_xml_char(text: impl AsRef<[u8]>) -> Option<(usize, char)> {
    let input = text.as_ref();
    // The character at `at`, when a byte there starts one refused:
    // U+FFFE and U+FFFF are EF BF BE and EF BF BF.
    let refused_at = |at: usize| match input[at] {
        0xEF => match input.get(at + 1..at + 3) {
            Some([0xBF, 0xBE]) => Some((at, '\u{FFFE}')),
            Some([0xBF, 0xBF]) => Some((at, '\u{FFFF}')),
            _ => None,
        },
        b => crate::simd::is_not_xml_char(b).then_some((at, char::from(b))),
    };
    // Sixteen bytes at a time: a control character or an EF marks a
    // place to look at; then the rest one by one.
    let chunks = input.chunks_exact(16);
    let tail_start = input.len() - chunks.remainder().len();
    for (i, chunk) in chunks.enumerate() {
        let Ok(chunk) = <&[u8; 16]>::try_from(chunk) else {
            break;
        };
        let mut marked = crate::simd::not_xml_char(chunk) | crate::simd::equal(chunk, 0xEF);
        while marked != 0 {
            if let Some(found) = refused_at(i * 16 + marked.trailing_zeros() as usize) {
                return Some(found);
            }
            marked &= marked - 1;
        }
    }
    (tail_start..input.len()).find_map(refused_at)
}

/// `text` with every character [`first_non_xml_char`] finds replaced by
/// U+FFFD, for text that must go into a document although it holds some
/// (a document stored by a build that let them through, say).
pub fn replace_non_xml_chars(text: &str) -> Cow<'_, str> {
    let Some((mut at, mut c)) = first_non_xml_char(text) else {
        return Cow::Borrowed(text);
    };
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    loop {
        out.push_str(&rest[..at]);
        out.push(char::REPLACEMENT_CHARACTER);
        rest = &rest[at + c.len_utf8()..];
        match first_non_xml_char(rest) {
            Some(next) => (at, c) = next,
            None => break,
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}
