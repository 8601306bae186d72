//! A cursor over one header value or URI, with the RFC 3261 s25.1 basic
//! rules (LWS, SWS, token, quoted-string). Offsets are absolute: `base` is
//! where the slice starts in the whole message.

use std::borrow::Cow;

use crate::error::{Expected, SipError, SipErrorKind};

#[derive(Clone, Copy)]
pub(crate) struct Cursor<'a> {
    s: &'a str,
    pos: usize,
    base: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(s: &'a str, base: usize) -> Cursor<'a> {
        Cursor { s, pos: 0, base }
    }

    pub(crate) fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.pos).copied()
    }

    pub(crate) fn peek_at(&self, n: usize) -> Option<u8> {
        self.s.as_bytes().get(self.pos + n).copied()
    }

    pub(crate) fn is_end(&self) -> bool {
        self.pos >= self.s.len()
    }

    /// Absolute offset of the next byte.
    pub(crate) fn offset(&self) -> usize {
        self.base + self.pos
    }

    pub(crate) fn rest(&self) -> &'a str {
        self.s.get(self.pos..).unwrap_or("")
    }

    pub(crate) fn bump(&mut self) {
        self.pos += 1;
    }

    /// The slice from `start` (a value of `pos()`) to here.
    pub(crate) fn since(&self, start: usize) -> &'a str {
        self.s.get(start..self.pos).unwrap_or("")
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// An error at the next character: what it is, or the end.
    pub(crate) fn error(&self, expected: Expected) -> SipError {
        let kind = match self.rest().chars().next() {
            Some(found) => SipErrorKind::Unexpected { found, expected },
            None => SipErrorKind::UnexpectedEnd { expected },
        };
        SipError::new(kind, self.offset())
    }

    /// An "unexpected end" error of a sub-parser whose region ends here is
    /// reported as the character that ended the region.
    pub(crate) fn at_region_end(&self, error: SipError) -> SipError {
        match (error.kind(), self.rest().chars().next()) {
            (SipErrorKind::UnexpectedEnd { expected }, Some(found))
                if error.offset() == self.offset() =>
            {
                SipError::new(
                    SipErrorKind::Unexpected {
                        found,
                        expected: *expected,
                    },
                    error.offset(),
                )
            }
            _ => error,
        }
    }

    /// Skips linear white space: SP, HTAB and folded line ends (CRLF followed
    /// by SP or HTAB). Returns whether anything was skipped.
    pub(crate) fn skip_lws(&mut self) -> bool {
        let start = self.pos;
        loop {
            match self.peek() {
                Some(b' ' | b'\t') => self.bump(),
                Some(b'\r')
                    if self.peek_at(1) == Some(b'\n')
                        && matches!(self.peek_at(2), Some(b' ' | b'\t')) =>
                {
                    self.pos += 3;
                }
                _ => break,
            }
        }
        self.pos > start
    }

    pub(crate) fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.bump();
            true
        } else {
            false
        }
    }

    pub(crate) fn expect(&mut self, b: u8, expected: Expected) -> Result<(), SipError> {
        if self.eat(b) {
            Ok(())
        } else {
            Err(self.error(expected))
        }
    }

    /// `SWS b SWS` (RFC 3261 s25.1: SEMI, COMMA, EQUAL, SLASH, COLON): takes
    /// the separator with white space around it, or leaves the cursor alone.
    pub(crate) fn sep(&mut self, b: u8) -> bool {
        let save = self.pos;
        self.skip_lws();
        if self.eat(b) {
            self.skip_lws();
            true
        } else {
            self.pos = save;
            false
        }
    }

    pub(crate) fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &'a str {
        let start = self.pos;
        while let Some(b) = self.peek() {
            if !f(b) {
                break;
            }
            self.bump();
        }
        self.since(start)
    }

    pub(crate) fn token(&mut self, expected: Expected) -> Result<&'a str, SipError> {
        let token = self.take_while(is_token);
        if token.is_empty() {
            Err(self.error(expected))
        } else {
            Ok(token)
        }
    }

    /// A quoted-string; the cursor is at the opening quote. Returns the raw
    /// text between the quotes (quoted-pairs still escaped).
    pub(crate) fn quoted(&mut self) -> Result<&'a str, SipError> {
        let open = self.offset();
        self.expect(b'"', Expected::Token)?;
        let start = self.pos;
        loop {
            match self.peek() {
                None => return Err(SipError::new(SipErrorKind::UnterminatedQuote, open)),
                Some(b'"') => {
                    let inner = self.since(start);
                    self.bump();
                    return Ok(inner);
                }
                Some(b'\\') => {
                    // quoted-pair: "\" followed by %x00-09 / %x0B-0C / %x0E-7F.
                    match self.peek_at(1) {
                        Some(b'\r' | b'\n') | None => {
                            return Err(SipError::new(SipErrorKind::UnterminatedQuote, open))
                        }
                        Some(b) if b >= 0x80 => {
                            self.bump();
                            return Err(self.error(Expected::Token));
                        }
                        Some(_) => self.pos += 2,
                    }
                }
                Some(b'\r') => {
                    if !self.skip_lws() {
                        return Err(SipError::new(SipErrorKind::UnterminatedQuote, open));
                    }
                }
                Some(_) => {
                    // Any UTF-8 character, one whole character at a time.
                    let len = self.rest().chars().next().map_or(1, char::len_utf8);
                    self.pos += len;
                }
            }
        }
    }

    /// Parses `1*DIGIT` as a number no larger than `max`.
    pub(crate) fn number(&mut self, max: u64, field: crate::error::Field) -> Result<u64, SipError> {
        let at = self.offset();
        let digits = self.take_while(|b| b.is_ascii_digit());
        if digits.is_empty() {
            return Err(self.error(Expected::Digit));
        }
        match digits.parse::<u64>() {
            Ok(n) if n <= max => Ok(n),
            _ => Err(SipError::new(SipErrorKind::OutOfRange { field }, at)),
        }
    }

    /// Requires the end of the value, allowing trailing white space.
    pub(crate) fn end(&mut self) -> Result<(), SipError> {
        self.skip_lws();
        if self.is_end() {
            Ok(())
        } else {
            Err(self.error(Expected::EndOfValue))
        }
    }
}

/// RFC 3261 s25.1 `token` characters.
pub(crate) fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
        )
}

/// RFC 3261 s25.1 `word` characters (Call-ID).
pub(crate) fn is_word(b: u8) -> bool {
    is_token(b)
        || matches!(
            b,
            b'(' | b')'
                | b'<'
                | b'>'
                | b':'
                | b'\\'
                | b'"'
                | b'/'
                | b'['
                | b']'
                | b'?'
                | b'{'
                | b'}'
        )
}

/// RFC 2396 `unreserved`: alphanum and mark.
pub(crate) fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')'
        )
}

/// The text of a quoted-string with quoted-pairs resolved and folds removed;
/// borrowed when there is nothing to resolve.
pub(crate) fn unquote(raw: &str) -> Cow<'_, str> {
    if !raw.contains(['\\', '\r']) {
        return Cow::Borrowed(raw);
    }
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(next) = chars.next() {
                    out.push(next);
                }
            }
            '\r' | '\n' => {}
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Folded white space (CRLF followed by SP/HTAB) turned into plain white
/// space; borrowed when the text has no folds.
pub(crate) fn unfold(raw: &str) -> Cow<'_, str> {
    if raw.contains('\r') {
        Cow::Owned(raw.replace("\r\n", ""))
    } else {
        Cow::Borrowed(raw)
    }
}

/// Checks `%HH` escapes in `s` (which starts at absolute offset `base`).
pub(crate) fn check_escapes(s: &str, base: usize) -> Result<(), SipError> {
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let ok = bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
            if !ok {
                return Err(SipError::new(SipErrorKind::BadEscape, base + i));
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    Ok(())
}

/// Percent-decodes `s` (escapes already checked) into bytes; borrowed when
/// there is no escape. Decoded bytes need not be UTF-8 (`%00`, RFC 4475
/// s3.1.1.4), so this gives bytes.
pub(crate) fn percent_decode(s: &str) -> Cow<'_, [u8]> {
    if !s.contains('%') {
        return Cow::Borrowed(s.as_bytes());
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = |b: Option<&u8>| b.and_then(|b| (*b as char).to_digit(16));
            if let (Some(h), Some(l)) = (hex(bytes.get(i + 1)), hex(bytes.get(i + 2))) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    Cow::Owned(out)
}
