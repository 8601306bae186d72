//! Character classes, the escape mechanism (RFC 3862 section 2.3) and the
//! small value syntaxes (RFC 3066 tags, RFC 3339 date-times, RFC 2396
//! absolute URIs) of message headers. Hand-written: each is a few lines over
//! bytes, and the parser must not allocate or copy.

use std::borrow::Cow;

use crate::simd;

/// Decodes the escapes of section 2.3 in a header value or string.
///
/// Follows section 2.3.1 for receivers: `\\ \" \' \b \t \n \r` and
/// `\uXXXX` are decoded; any other `\x` stands for `x`; a lone `\` at the
/// end is dropped. `\uXXXX` escapes UCS-2 units, so a surrogate pair written
/// as two escapes is one character; an unpaired surrogate becomes U+FFFD.
pub fn unescape(value: &str) -> Cow<'_, str> {
    let Some(first) = memchr::memchr(b'\\', value.as_bytes()) else {
        return Cow::Borrowed(value);
    };
    let mut out = String::with_capacity(value.len());
    out.push_str(&value[..first]);
    let mut rest = &value[first..];
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        rest = &rest[i + 1..];
        let mut chars = rest.chars();
        let Some(c) = chars.next() else {
            break;
        };
        rest = chars.as_str();
        match c {
            'b' => out.push('\u{8}'),
            't' => out.push('\t'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            'u' => match hex4(rest) {
                Some(unit) => {
                    rest = &rest[4..];
                    out.push(decode_unit(unit, &mut rest));
                }
                None => out.push('u'),
            },
            other => out.push(other),
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

fn hex4(s: &str) -> Option<u16> {
    let digits = s.get(..4)?;
    if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u16::from_str_radix(digits, 16).ok()
}

/// One UCS-2 unit; a high surrogate takes a following `\uDC00`-`\uDFFF`.
fn decode_unit(unit: u16, rest: &mut &str) -> char {
    if (0xD800..0xDC00).contains(&unit) {
        if let Some(low) = rest.strip_prefix("\\u").and_then(hex4) {
            if (0xDC00..0xE000).contains(&low) {
                *rest = &rest[6..];
                let c = 0x10000 + ((u32::from(unit) - 0xD800) << 10) + (u32::from(low) - 0xDC00);
                return char::from_u32(c).unwrap_or(char::REPLACEMENT_CHARACTER);
            }
        }
    }
    char::from_u32(u32::from(unit)).unwrap_or(char::REPLACEMENT_CHARACTER)
}

/// Encodes text for a header as section 2.3.1 says senders must: `\`,
/// backspace, tab, LF and CR as their short escapes, other control
/// characters as `\u00XX`, and `"` as `\"` when `quoted`.
pub(crate) fn escape(text: &str, quoted: bool) -> Cow<'_, str> {
    let needs = |c: char| c == '\\' || c.is_ascii_control() || (quoted && c == '"');
    if !text.chars().any(needs) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '"' if quoted => out.push_str("\\\""),
            c if c.is_ascii_control() => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Character classes as one table lookup per byte: the header scanners
/// are the parser's hot loop.
const NAME: u8 = 1;
const TOKEN: u8 = 2;
const MIME_TOKEN: u8 = 4;
const SCHEME: u8 = 8;
const NOT_IN_URI: u8 = 16;
const HASH: u8 = 32;

static CLASS: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        // NAMECHAR (section 3.6): US-ASCII except `.`, CTLs and SEPARATORS.
        let name = matches!(c,
            0x21 | 0x23..=0x27 | 0x2a | 0x2b | 0x2d | 0x5e..=0x60 | 0x7c | 0x7e
            | b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9');
        // TOKENCHAR: NAMECHAR, `.`, or any byte of a UTF-8 multi-byte
        // sequence (validated as UTF-8 elsewhere).
        let token = name || c == b'.' || c >= 0x80;
        // RFC 2045 token: visible ASCII except tspecials.
        let mime = c > 0x20
            && c < 0x7f
            && !matches!(
                c,
                b'(' | b')'
                    | b'<'
                    | b'>'
                    | b'@'
                    | b','
                    | b';'
                    | b':'
                    | b'\\'
                    | b'"'
                    | b'/'
                    | b'['
                    | b']'
                    | b'?'
                    | b'='
            );
        // After the first letter of an RFC 2396 scheme.
        let scheme = c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.');
        // Refused in a URI here: space, controls, DEL, `<`, `>`, `"`.
        let not_in_uri = c <= b' ' || c == 0x7f || matches!(c, b'<' | b'>' | b'"');
        table[b] = ((name as u8) * NAME)
            | ((token as u8) * TOKEN)
            | ((mime as u8) * MIME_TOKEN)
            | ((scheme as u8) * SCHEME)
            | ((not_in_uri as u8) * NOT_IN_URI)
            | (((c == b'#') as u8) * HASH);
        b += 1;
    }
    table
};

/// NAMECHAR (section 3.6).
#[inline]
pub(crate) fn is_namechar(b: u8) -> bool {
    CLASS[usize::from(b)] & NAME != 0
}

/// TOKENCHAR (section 3.6).
#[inline]
pub(crate) fn is_tokenchar(b: u8) -> bool {
    CLASS[usize::from(b)] & TOKEN != 0
}

/// An RFC 2045 `token` character.
#[inline]
pub(crate) fn is_mime_tokenchar(b: u8) -> bool {
    CLASS[usize::from(b)] & MIME_TOKEN != 0
}

/// Eight copies of a byte.
const fn splat(b: u8) -> u64 {
    u64::from_ne_bytes([b; 8])
}

const HIGH: u64 = splat(0x80);
const LOW7: u64 = splat(0x7f);

/// The high bit of each byte of `w` that is a control character or DEL,
/// exactly: each byte is computed on its low seven bits, so no carry or
/// borrow crosses into the next byte.
#[inline]
pub(crate) fn special_bytes(w: u64) -> u64 {
    // High bit clear in `(w & LOW7) + 0x60` only when the low seven bits
    // are below 0x20; with the byte's own high bit also clear, below 0x20.
    let control = !((w & LOW7).wrapping_add(splat(0x60)) | w);
    // Zero bytes of `w ^ 0x7f`, found the same way.
    let x = w ^ LOW7;
    let del = !((x & LOW7).wrapping_add(LOW7) | x);
    (control | del) & HIGH
}

/// The high bit of each byte of `w` that is an ASCII letter, exactly: each
/// byte is computed on its low seven bits (sums stay below 0x100), so no
/// carry crosses into the next byte.
#[inline]
pub(crate) fn letter_bytes(w: u64) -> u64 {
    // The low seven bits with the case bit set: letters become a-z.
    let t = (w | splat(0x20)) & LOW7;
    // High bit set when `t >= 'a'`, and when `t > 'z'`.
    let from_a = t.wrapping_add(splat(0x80 - b'a'));
    let past_z = t.wrapping_add(splat(0x80 - b'z' - 1));
    from_a & !past_z & !w & HIGH
}

/// Where the run of ASCII letters at `i` ends, read eight bytes at a time
/// while whole words remain. Letters are NAMECHAR and TOKENCHAR alike, so a
/// byte-class loop may start from here instead of `i` and stop at the same
/// place: the word test only skips bytes that loop would have taken, and
/// most names are letters. (Sixteen bytes at a time by SSE2, letters,
/// digits and `-`, cost more: most names are shorter than a word or two.)
#[inline(always)]
pub(crate) fn skip_letters(b: &[u8], mut i: usize) -> usize {
    while let Some(word) = b.get(i..).and_then(<[u8]>::first_chunk::<8>) {
        let other = !letter_bytes(u64::from_le_bytes(*word)) & HIGH;
        if other != 0 {
            return i + (other.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    i
}

/// Where the run of NAMECHAR at `i` ends.
#[inline(always)]
pub(crate) fn namechar_end(b: &[u8], i: usize) -> usize {
    let mut i = skip_letters(b, i);
    while b.get(i).is_some_and(|&c| is_namechar(c)) {
        i += 1;
    }
    i
}

/// [`namechar_end`] for a name at the start of a header line: the first
/// sixteen bytes at once (letters, digits and `-`, see [`simd::alnum`]),
/// as the line goes on past the name; then the word and byte loops.
#[inline(always)]
pub(crate) fn line_name_end(b: &[u8], i: usize) -> usize {
    let Some(chunk) = b.get(i..).and_then(<[u8]>::first_chunk::<16>) else {
        return namechar_end(b, i);
    };
    let other = !simd::alnum(chunk) & 0xffff;
    if other == 0 {
        return namechar_end(b, i + 16);
    }
    let mut i = i + other.trailing_zeros() as usize;
    while b.get(i).is_some_and(|&c| is_namechar(c)) {
        i += 1;
    }
    i
}

/// Where the run of TOKENCHAR at `i` ends.
#[inline(always)]
pub(crate) fn tokenchar_end(b: &[u8], i: usize) -> usize {
    let mut i = skip_letters(b, i);
    while b.get(i).is_some_and(|&c| is_tokenchar(c)) {
        i += 1;
    }
    i
}

/// The high bit of each byte of `w` that cannot be in a MIME header name
/// (outside 33-126) or is the `:` that ends one, exactly (computed on the
/// low seven bits, as [`letter_bytes`]).
#[inline]
pub(crate) fn mime_name_stops(w: u64) -> u64 {
    let x = w & LOW7;
    // High bit clear in each sum exactly when the byte is below 0x21, DEL,
    // or ':' respectively.
    let visible = x.wrapping_add(splat(0x80 - 0x21));
    let not_del = (x ^ LOW7).wrapping_add(LOW7);
    let not_colon = (x ^ splat(b':')).wrapping_add(LOW7);
    (w | !(visible & not_del & not_colon)) & HIGH
}

/// Where the first byte of `b` from `i` that is `:` or outside 33-126 is,
/// read sixteen bytes at a time, then eight, while whole chunks remain;
/// the MIME name loop starts from here: every byte skipped is one it would
/// have taken.
#[inline(always)]
pub(crate) fn skip_mime_name(b: &[u8], mut i: usize) -> usize {
    while let Some(chunk) = b.get(i..).and_then(<[u8]>::first_chunk::<16>) {
        let stops = simd::mime_name_stops(chunk);
        if stops != 0 {
            return i + stops.trailing_zeros() as usize;
        }
        i += 16;
    }
    while let Some(word) = b.get(i..).and_then(<[u8]>::first_chunk::<8>) {
        let stops = mime_name_stops(u64::from_le_bytes(*word));
        if stops != 0 {
            return i + (stops.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    i
}

/// Whether `tag` is an RFC 3066 Language-Tag:
/// `1*8ALPHA *("-" 1*8(ALPHA / DIGIT))`. The tests' reading of
/// [`language_tag_end`].
#[cfg(test)]
pub(crate) fn is_language_tag(tag: impl AsRef<[u8]>) -> bool {
    let tag = tag.as_ref();
    language_tag_end(tag, 0) == Some(tag.len())
}

/// Where the Language-Tag at `i` ends: at the first space or `;` (what
/// ends a `lang` parameter), or the end of `b`; `None` when what comes
/// before is not a tag. One pass over the bytes: this runs for every
/// `lang` parameter, and finding its end first, then checking it, read
/// each byte twice.
#[inline]
pub(crate) fn language_tag_end(b: &[u8], mut i: usize) -> Option<usize> {
    let mut part_len = 0;
    let mut primary = true;
    while let Some(&c) = b.get(i) {
        match c {
            b' ' | b';' => break,
            b'-' if part_len == 0 => return None,
            b'-' => {
                primary = false;
                part_len = 0;
            }
            c if c.is_ascii_alphabetic() || (!primary && c.is_ascii_digit()) => {
                part_len += 1;
                if part_len > 8 {
                    return None;
                }
            }
            _ => return None,
        }
        i += 1;
    }
    (part_len > 0).then_some(i)
}

/// Whether `s` is an RFC 3339 `date-time`, with range checks on each field.
/// `T` and `Z` may be lower case (RFC 3339 section 5.6, note).
///
/// The fixed 19 bytes of date and time are read as one array (no bounds
/// check per field): this runs for every `DateTime` header.
pub(crate) fn is_date_time(s: impl AsRef<[u8]>) -> bool {
    let b = s.as_ref();
    let Some(head) = b.first_chunk::<19>() else {
        return false;
    };
    // The shape of the first sixteen bytes at once (digits and separators
    // in place), then the fields' ranges from their digits.
    let Some(shape) = head.first_chunk::<16>() else {
        return false;
    };
    if !simd::date_time_shape(shape) || head[16] != b':' {
        return false;
    }
    let two = |i: usize| (head[i].wrapping_sub(b'0')) * 10 + head[i + 1].wrapping_sub(b'0');
    let (s1, s2) = (head[17].wrapping_sub(b'0'), head[18].wrapping_sub(b'0'));
    let in_range = (1..=12).contains(&two(5))
        && (1..=31).contains(&two(8))
        && two(11) < 24
        && two(14) < 60
        && s1 <= 9
        && s2 <= 9
        && s1 * 10 + s2 <= 60;
    if !in_range {
        return false;
    }
    let mut rest = &b[19..];
    if let Some(fraction) = rest.strip_prefix(b".") {
        let digits = fraction.iter().take_while(|d| d.is_ascii_digit()).count();
        if digits == 0 {
            return false;
        }
        rest = &fraction[digits..];
    }
    match rest {
        [b'Z' | b'z'] => true,
        [b'+' | b'-', h1, h2, b':', m1, m2] => {
            let num = |hi: u8, lo: u8| {
                let (hi, lo) = (hi.wrapping_sub(b'0'), lo.wrapping_sub(b'0'));
                (hi <= 9 && lo <= 9).then(|| hi * 10 + lo)
            };
            num(*h1, *h2).is_some_and(|h| h < 24) && num(*m1, *m2).is_some_and(|m| m < 60)
        }
        _ => false,
    }
}

/// Whether `uri` is an absolute URI: `scheme ":" 1*char` (RFC 2396
/// section 3), with no space, `<`, `>`, `"` or control character; other
/// characters, UTF-8 included, are let through (IRIs in the wild).
#[inline(always)]
pub(crate) fn is_absolute_uri(uri: impl AsRef<[u8]>) -> bool {
    after_scheme(uri.as_ref()).is_some_and(|rest| !any_marked(rest, simd::not_in_uri, NOT_IN_URI))
}

/// [`is_absolute_uri`] without `#` after the scheme either (a namespace
/// URI has no fragment, section 3.4), in the same one pass.
#[inline(always)]
pub(crate) fn is_absolute_uri_without_fragment(uri: impl AsRef<[u8]>) -> bool {
    after_scheme(uri.as_ref()).is_some_and(|rest| {
        let marks = |chunk: &[u8; 16]| simd::not_in_uri(chunk) | simd::equal(chunk, b'#');
        !any_marked(rest, marks, NOT_IN_URI | HASH)
    })
}

/// The bytes after `scheme ":"`, if `uri` starts with a scheme and a colon
/// and has at least one byte after it.
#[inline(always)]
fn after_scheme(b: &[u8]) -> Option<&[u8]> {
    if !b.first().is_some_and(|c| c.is_ascii_alphabetic()) {
        return None;
    }
    let mut i = 1;
    while b
        .get(i)
        .is_some_and(|&c| CLASS[usize::from(c)] & SCHEME != 0)
    {
        i += 1;
    }
    if b.get(i) != Some(&b':') || i + 1 == b.len() {
        return None;
    }
    b.get(i + 1..)
}

/// Whether any byte of `b` is marked: by `mask` sixteen bytes at a time
/// (the last chunk overlapping the one before) when there are sixteen, else
/// by the class table (`class`, the same bytes).
#[inline(always)]
fn any_marked(b: &[u8], mask: impl Fn(&[u8; 16]) -> u32, class: u8) -> bool {
    let Some(last) = b.last_chunk::<16>() else {
        return b
            .iter()
            .fold(0, |classes, &c| classes | CLASS[usize::from(c)])
            & class
            != 0;
    };
    let mut marks = mask(last);
    let mut i = 0;
    while let Some(chunk) = b.get(i..).and_then(<[u8]>::first_chunk::<16>) {
        marks |= mask(chunk);
        i += 16;
    }
    marks != 0
}

/// Whether `bytes` is `lower` in any case, where `lower` is lowercase
/// ASCII: one OR and XOR per byte over the whole length (the case bit is
/// set only where `lower` has a letter, so no other byte matches by it),
/// rather than a branch per byte.
#[inline]
pub(crate) fn eq_ignore_case<const N: usize>(bytes: &[u8], lower: &[u8; N]) -> bool {
    bytes
        .first_chunk::<N>()
        .is_some_and(|b| bytes.len() == N && starts_ignore_case(b, lower))
}

/// Whether `bytes` starts with `lower` in any case; see [`eq_ignore_case`].
#[inline]
pub(crate) fn starts_ignore_case<const N: usize>(bytes: &[u8], lower: &[u8; N]) -> bool {
    bytes.first_chunk::<N>().is_some_and(|b| {
        b.iter().zip(lower).fold(0, |diff, (&c, &l)| {
            let case = if l.is_ascii_lowercase() { 0x20 } else { 0 };
            diff | ((c | case) ^ l)
        }) == 0
    })
}
