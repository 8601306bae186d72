//! `im:` and `pres:` URIs: RFC 3860 section 3.2 and Appendix A, RFC 3859
//! section 3.2 and Appendix A, and the draft's mailto-like form
//! (`draft-ietf-impp-cpim-02` sections 5.1, 5.2, Appendices C and D).
//!
//! One grammar covers both: `scheme ":" mailbox *("," mailbox) ["?" header
//! *("&" header)]`. The RFCs allow one mailbox; the draft (`#mailbox`) allows
//! a comma-separated list, so [`Uri::to`](crate::uri::Uri::to) is a list and
//! [`Uri::address`](crate::uri::Uri::address) is the single-address view most
//! callers want.
//!
//! The part before `?` is percent-decoded first and then read as a list of
//! RFC 2822 `addr-spec`s, as mailto (RFC 6068) does: `%22john%20smith%22` and
//! `"john smith"` name the same quoted local part. Schemes and domains are
//! case-insensitive; local parts are kept as written. Domains may be given in
//! Unicode or punycode and are kept in one form, lowercase ASCII (IDNA).
//!
//! Mappings to other address forms: `sip:`/`sips:` URIs
//! ([`Uri::to_sip`](crate::uri::Uri::to_sip),
//! [`Uri::from_sip`](crate::uri::Uri::from_sip)) and XMPP JIDs
//! ([`Address::to_jid`](crate::uri::Address::to_jid),
//! [`Address::from_jid`](crate::uri::Address::from_jid), RFC 3922 section 3).

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

mod sip;
mod xmpp;

pub use sip::{SipError, SipErrorKind};
pub use xmpp::{JidError, JidErrorKind};

/// Which service a URI names: an INSTANT INBOX (`im:`) or a PRESENTITY or
/// WATCHER (`pres:`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Scheme {
    /// `im:`, RFC 3860.
    Im,
    /// `pres:`, RFC 3859.
    Pres,
}

impl Scheme {
    /// The scheme name in its canonical lowercase form, without the colon.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Im => "im",
            Scheme::Pres => "pres",
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One mailbox, `local@domain`.
///
/// The local part is percent-decoded and unquoted (`"john smith"` is kept as
/// `john smith`), case kept as written. The domain is the lowercase ASCII
/// (punycode) form.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Address {
    /// `local@domain` in one shared block: one allocation per address (a
    /// restart builds a million of them), and a clone (each effect naming
    /// an address carries one) only counts a reference.
    text: Arc<str>,
    /// Where the `@` between the parts is in `text` (a quoted local part
    /// may hold one too; the domain never does).
    at: usize,
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Address")
            .field("local", &self.local())
            .field("domain", &self.domain())
            .finish()
    }
}

/// Ordered by local part, then domain.
impl Ord for Address {
    fn cmp(&self, other: &Address) -> std::cmp::Ordering {
        (self.local(), self.domain()).cmp(&(other.local(), other.domain()))
    }
}

impl PartialOrd for Address {
    fn partial_cmp(&self, other: &Address) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Address {
    /// Builds an address from an unquoted local part and a domain in Unicode
    /// or ASCII form.
    ///
    /// Error positions count bytes of `local`, then of `domain` as if the two
    /// were joined by `@` (so a bad domain byte `k` is at `local.len() + 1 + k`).
    pub fn new(local: &str, domain: &str) -> Result<Address, UriError> {
        check_local(local)?;
        let toks: Vec<Tok> = domain
            .char_indices()
            .map(|(i, ch)| Tok {
                ch,
                pos: local.len() + 1 + i,
            })
            .collect();
        let mut cursor = Cursor {
            toks: &toks,
            next: 0,
            end: local.len() + 1 + domain.len(),
            stop: None,
        };
        let domain = parse_domain(&mut cursor)?;
        if let Some(tok) = cursor.peek() {
            return Err(UriError::new(
                UriErrorKind::Unexpected {
                    found: tok.ch,
                    expected: Expected::Domain,
                },
                tok.pos,
            ));
        }
        Ok(Address::from_parts(local, &domain))
    }

    /// Reads back an address in the canonical text form this crate writes,
    /// `local@domain` as it follows the scheme in a displayed [`Uri`], without
    /// the work of a full parse: for stored addresses read back in bulk.
    ///
    /// Only the plain form is taken: a dot-atom local part of letters, digits
    /// and `-_.!~*'` (characters a URI never escapes) and a domain that is
    /// already normalised. A domain holding punycode (`xn--`) or a hyphen pair
    /// at offset 2 goes through IDNA and must come back unchanged. Anything
    /// else (escapes, quoted local parts, uppercase or Unicode domains) is an
    /// error: give such text to [`Uri::parse`] behind its scheme.
    pub fn from_canonical(s: &str) -> Result<Address, UriError> {
        // A store reads every address back through here on restart: a
        // valid address takes one table-driven pass; anything the pass
        // does not accept is read again below, which names the error.
        if let Some((at, needs_idna)) = canonical_split(s.as_bytes()) {
            if !needs_idna {
                // Already `local@domain`: the text is the address.
                return Ok(Address {
                    text: Arc::from(s),
                    at,
                });
            }
        }
        Address::from_canonical_checked(s)
    }

    /// [`Address::from_canonical`] check by check, each failure with its
    /// error and offset.
    fn from_canonical_checked(s: &str) -> Result<Address, UriError> {
        let Some(at) = s.rfind('@') else {
            return Err(error_at(s, s.len(), Expected::At));
        };
        let (local, domain) = (&s[..at], &s[at + 1..]);
        let mut atom_empty = true;
        for (i, b) in local.bytes().enumerate() {
            match b {
                b'.' if !atom_empty => atom_empty = true,
                b'.' => return Err(error_at(s, i, Expected::Atom)),
                b if b.is_ascii_alphanumeric() || b"-_!~*'".contains(&b) => atom_empty = false,
                _ => return Err(error_at(s, i, Expected::Atom)),
            }
        }
        if atom_empty {
            return Err(error_at(s, at, Expected::Atom));
        }
        let start = at + 1;
        if domain.is_empty() || domain.len() > 253 {
            return Err(UriError::new(UriErrorKind::InvalidDomain, start));
        }
        let mut needs_idna = false;
        let mut offset = start;
        for label in domain.split('.') {
            let bytes = label.as_bytes();
            if bytes.is_empty() || bytes.len() > 63 {
                return Err(UriError::new(UriErrorKind::InvalidDomain, offset));
            }
            if let Some(i) = bytes
                .iter()
                .position(|b| !(b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-'))
            {
                return Err(error_at(s, offset + i, Expected::Domain));
            }
            if bytes.first() == Some(&b'-') || bytes.last() == Some(&b'-') {
                return Err(UriError::new(UriErrorKind::InvalidDomain, offset));
            }
            needs_idna |= bytes.get(2..4) == Some(b"--");
            offset += label.len() + 1;
        }
        if needs_idna {
            let ascii = idna::domain_to_ascii_strict(domain)
                .map_err(|_| UriError::new(UriErrorKind::InvalidDomain, start))?;
            if ascii != domain {
                return Err(UriError::new(UriErrorKind::InvalidDomain, start));
            }
        }
        Ok(Address::from_parts(local, domain))
    }

    /// An address of parts already checked.
    fn from_parts(local: &str, domain: &str) -> Address {
        let mut text = String::with_capacity(local.len() + 1 + domain.len());
        text.push_str(local);
        text.push('@');
        text.push_str(domain);
        Address {
            text: Arc::from(text),
            at: local.len(),
        }
    }

    /// `local@domain` as [`Address::from_canonical`] reads it back, when
    /// the address has that plain form (a dot-atom local part of
    /// characters a URI never escapes, a domain with no label for IDNA);
    /// `None` for any other, which must be written out as a URI is.
    pub fn canonical_text(&self) -> Option<&str> {
        match canonical_split(self.text.as_bytes()) {
            Some((at, false)) if at == self.at => Some(&self.text),
            _ => None,
        }
    }

    /// The local part, decoded and unquoted, case as written.
    pub fn local(&self) -> &str {
        // `at` is where an ASCII `@` was put: a char boundary.
        &self.text[..self.at]
    }

    /// The domain in its normalised form: lowercase ASCII, IDN labels in
    /// punycode (`xn--...`).
    pub fn domain(&self) -> &str {
        &self.text[self.at + 1..]
    }

    /// The domain with IDN labels shown in Unicode, for people to read.
    pub fn domain_unicode(&self) -> String {
        // The stored form already passed IDNA, so conversion back cannot fail.
        idna::domain_to_unicode(self.domain()).0
    }

    /// This address as a one-mailbox URI of the given scheme, no headers.
    pub fn to_uri(&self, scheme: Scheme) -> Uri {
        Uri {
            scheme,
            to: vec![self.clone()],
            headers: Vec::new(),
        }
    }
}

/// `local@domain` as an RFC 2822 `addr-spec`: the local part is written as a
/// dot-atom when it is one, else as a quoted-string.
impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", quote_local(self.local()), self.domain())
    }
}

/// An `im:` or `pres:` URI: a scheme, one or more mailboxes, and headers.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Uri {
    scheme: Scheme,
    to: Vec<Address>,
    headers: Vec<(String, String)>,
}

impl Uri {
    /// Parses an `im:` or `pres:` URI.
    pub fn parse(s: &str) -> Result<Uri, UriError> {
        let (scheme, rest) = parse_scheme(s)?;
        let (toks, stop) = decode_to_part(s, rest)?;
        let mut cursor = Cursor {
            toks: &toks,
            next: 0,
            end: stop,
            stop: s.get(stop..).and_then(|rest| rest.chars().next()),
        };
        let mut to = Vec::new();
        loop {
            to.push(parse_mailbox(&mut cursor)?);
            match cursor.peek() {
                None => break,
                // parse_domain stops only at ',' or the end.
                Some(_) => cursor.next += 1,
            }
        }
        let headers = if stop < s.len() {
            parse_headers(s, stop + 1)?
        } else {
            Vec::new()
        };
        Ok(Uri {
            scheme,
            to,
            headers,
        })
    }

    /// Builds a URI from its parts. `to` must hold at least one address and
    /// every header name must be non-empty (errors are at position 0).
    pub fn from_parts(
        scheme: Scheme,
        to: Vec<Address>,
        headers: Vec<(String, String)>,
    ) -> Result<Uri, UriError> {
        if to.is_empty() {
            return Err(UriError::new(UriErrorKind::NoAddress, 0));
        }
        if headers.iter().any(|(name, _)| name.is_empty()) {
            return Err(UriError::new(
                UriErrorKind::UnexpectedEnd {
                    expected: Expected::HeaderName,
                },
                0,
            ));
        }
        Ok(Uri {
            scheme,
            to,
            headers,
        })
    }

    /// `im` or `pres`.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The mailboxes, in the order written; never empty.
    pub fn to(&self) -> &[Address] {
        &self.to
    }

    /// The `?name=value&...` headers, percent-decoded, in the order written.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The address, when the URI names exactly one (the RFC form).
    pub fn address(&self) -> Option<&Address> {
        match self.to.as_slice() {
            [one] => Some(one),
            _ => None,
        }
    }

    /// The same address(es) and headers under another scheme: `im:` to
    /// `pres:` and back.
    pub fn with_scheme(&self, scheme: Scheme) -> Uri {
        Uri {
            scheme,
            ..self.clone()
        }
    }
}

impl FromStr for Uri {
    type Err = UriError;

    fn from_str(s: &str) -> Result<Uri, UriError> {
        Uri::parse(s)
    }
}

/// The canonical form: lowercase scheme, domains in lowercase ASCII, local
/// parts as dot-atoms or quoted-strings, and everything outside a small safe
/// set percent-encoded.
impl fmt::Display for Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.scheme)?;
        for (i, address) in self.to.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            let local = quote_local(address.local());
            write!(
                f,
                "{}@{}",
                utf8_percent_encode(&local, LOCAL_KEEP),
                address.domain()
            )?;
        }
        for (i, (name, value)) in self.headers.iter().enumerate() {
            write!(
                f,
                "{}{}={}",
                if i == 0 { '?' } else { '&' },
                utf8_percent_encode(name, HEADER_KEEP),
                utf8_percent_encode(value, HEADER_KEEP)
            )?;
        }
        Ok(())
    }
}

/// Why a URI or address was refused, and at which byte.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{kind} at byte {position}")]
pub struct UriError {
    kind: UriErrorKind,
    position: usize,
}

impl UriError {
    fn new(kind: UriErrorKind, position: usize) -> UriError {
        UriError { kind, position }
    }

    /// What was wrong.
    pub fn kind(&self) -> &UriErrorKind {
        &self.kind
    }

    /// Byte offset in the input where the problem was found.
    pub fn position(&self) -> usize {
        self.position
    }
}

/// What was wrong with a URI. All of these are the input's fault.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UriErrorKind {
    /// The scheme is neither `im` nor `pres`.
    #[error("unknown scheme {0:?}, expected \"im\" or \"pres\"")]
    UnknownScheme(String),
    /// A `%` not followed by two hex digits.
    #[error("invalid percent-escape, expected '%' and two hex digits")]
    InvalidEscape,
    /// Percent-escapes that do not decode to UTF-8.
    #[error("percent-escapes do not decode to UTF-8")]
    InvalidUtf8,
    /// A raw `#`: im: and pres: URIs have no fragment.
    #[error("unexpected '#', a fragment is not allowed in an im:/pres: URI")]
    Fragment,
    /// A character that does not fit here.
    #[error("unexpected {found:?}, expected {expected}")]
    Unexpected {
        /// The character found (after percent-decoding).
        found: char,
        /// What the grammar allows here.
        expected: Expected,
    },
    /// The input (or the mailbox list) ended too early.
    #[error("unexpected end, expected {expected}")]
    UnexpectedEnd {
        /// What the grammar needs here.
        expected: Expected,
    },
    /// `""@domain`: a local part must not be empty.
    #[error("empty local part")]
    EmptyLocalPart,
    /// `local@[192.0.2.1]`: CPIM resolves domains by name (RFC 3861).
    #[error("domain literals are not supported, expected a domain name")]
    DomainLiteral,
    /// The domain is not a valid (internationalised) host name: bad punycode,
    /// misplaced hyphens, labels over 63 or names over 253 octets.
    #[error("invalid domain name")]
    InvalidDomain,
    /// A URI must name at least one mailbox.
    #[error("no address")]
    NoAddress,
}

/// What the grammar expected where a [`UriErrorKind::Unexpected`] or
/// [`UriErrorKind::UnexpectedEnd`] was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Expected {
    /// A scheme name (a letter first).
    Scheme,
    /// The `:` after the scheme.
    Colon,
    /// The start of a mailbox: an atom character or `"`.
    Mailbox,
    /// An atom character (after a `.` in a dot-atom local part).
    Atom,
    /// A quoted-string character, `\` or the closing `"`.
    QuotedText,
    /// The character after a `\` in a quoted-string.
    QuotedPair,
    /// The `@` between local part and domain.
    At,
    /// A domain character (letter, digit, `-`, `.`, non-ASCII), `,`, `?` or
    /// the end.
    Domain,
    /// A domain label (after a `.` or at the start of the domain).
    DomainLabel,
    /// A header name.
    HeaderName,
    /// The `=` between a header name and value.
    Equals,
    /// A header value character, `&` or the end.
    HeaderValue,
    /// A SIP user-part character (RFC 3261 `user`).
    SipUser,
    /// A port number after `host:`.
    Port,
    /// A URI parameter (`;name[=value]`), `?` or the end.
    Parameter,
}

impl fmt::Display for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Expected::Scheme => "a scheme name",
            Expected::Colon => "':' after the scheme",
            Expected::Mailbox => "a mailbox (local part or '\"')",
            Expected::Atom => "a local-part atom character",
            Expected::QuotedText => "a quoted-string character or closing '\"'",
            Expected::QuotedPair => "a printable character after '\\'",
            Expected::At => "'@'",
            Expected::Domain => "a domain character, ',', '?' or the end",
            Expected::DomainLabel => "a domain label",
            Expected::HeaderName => "a header name",
            Expected::Equals => "'=' after the header name",
            Expected::HeaderValue => "a header value character, '&' or the end",
            Expected::SipUser => "a SIP user character",
            Expected::Port => "a port number",
            Expected::Parameter => "a URI parameter, '?' or the end",
        })
    }
}

/// Kept unescaped in a local part: RFC 2396 unreserved characters and the
/// reserved ones that have no meaning before `?`, except `,` `@` `&` which
/// would read as structure to a mailto-style reader.
const LOCAL_KEEP: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'!')
    .remove(b'$')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b'+')
    .remove(b'=')
    .remove(b';')
    .remove(b':')
    .remove(b'/');

/// Kept unescaped in header names and values: RFC 2396 `uric` minus the
/// separators `&` and `=`.
const HEADER_KEEP: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'!')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b';')
    .remove(b'/')
    .remove(b'?')
    .remove(b':')
    .remove(b'@')
    .remove(b'+')
    .remove(b'$')
    .remove(b',');

/// One decoded character and the byte offset of its source (the `%` for an
/// escape).
#[derive(Clone, Copy, Debug)]
struct Tok {
    ch: char,
    pos: usize,
}

/// A read position over decoded characters; `end` is the byte offset reported
/// when the characters run out, `stop` the character there (the `?` that
/// starts the headers), if any.
struct Cursor<'t> {
    toks: &'t [Tok],
    next: usize,
    end: usize,
    stop: Option<char>,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<Tok> {
        self.toks.get(self.next).copied()
    }

    fn pos(&self) -> usize {
        self.peek().map_or(self.end, |tok| tok.pos)
    }

    /// The error for "expected X" at the current position.
    fn expected(&self, expected: Expected) -> UriError {
        match (self.peek(), self.stop) {
            (Some(tok), _) => UriError::new(
                UriErrorKind::Unexpected {
                    found: tok.ch,
                    expected,
                },
                tok.pos,
            ),
            (None, Some(found)) => {
                UriError::new(UriErrorKind::Unexpected { found, expected }, self.end)
            }
            (None, None) => UriError::new(UriErrorKind::UnexpectedEnd { expected }, self.end),
        }
    }
}

/// Reads `scheme ":"`; returns the scheme and the offset after the colon.
fn parse_scheme(s: &str) -> Result<(Scheme, usize), UriError> {
    let unexpected = |i: usize, expected| match s.get(i..).and_then(|r| r.chars().next()) {
        Some(found) => UriError::new(UriErrorKind::Unexpected { found, expected }, i),
        None => UriError::new(UriErrorKind::UnexpectedEnd { expected }, i),
    };
    let bytes = s.as_bytes();
    if !bytes.first().is_some_and(u8::is_ascii_alphabetic) {
        return Err(unexpected(0, Expected::Scheme));
    }
    // RFC 3986 scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
    let len = bytes
        .iter()
        .position(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.')))
        .unwrap_or(bytes.len());
    if bytes.get(len) != Some(&b':') {
        return Err(unexpected(len, Expected::Colon));
    }
    let name = &s[..len];
    let scheme = if name.eq_ignore_ascii_case("im") {
        Scheme::Im
    } else if name.eq_ignore_ascii_case("pres") {
        Scheme::Pres
    } else {
        return Err(UriError::new(
            UriErrorKind::UnknownScheme(name.to_owned()),
            0,
        ));
    };
    Ok((scheme, len + 1))
}

/// Decodes the character at byte `i`: a raw character, or a percent-escaped
/// UTF-8 sequence. Returns it, the offset after it, and whether it was
/// escaped.
fn decode_at(s: &str, i: usize) -> Result<(char, usize, bool), UriError> {
    let bytes = s.as_bytes();
    if bytes.get(i) != Some(&b'%') {
        let ch = s
            .get(i..)
            .and_then(|rest| rest.chars().next())
            .ok_or_else(|| UriError::new(UriErrorKind::InvalidUtf8, i))?;
        return Ok((ch, i + ch.len_utf8(), false));
    }
    let lead = hex_byte(bytes, i)?;
    let len = match lead {
        0x00..=0x7f => 1,
        0xc2..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf4 => 4,
        _ => return Err(UriError::new(UriErrorKind::InvalidUtf8, i)),
    };
    let mut buf = [lead, 0, 0, 0];
    let mut next = i + 3;
    for slot in buf.iter_mut().take(len).skip(1) {
        if bytes.get(next) != Some(&b'%') {
            return Err(UriError::new(UriErrorKind::InvalidUtf8, i));
        }
        *slot = hex_byte(bytes, next)?;
        next += 3;
    }
    let ch = std::str::from_utf8(&buf[..len])
        .ok()
        .and_then(|text| text.chars().next())
        .ok_or_else(|| UriError::new(UriErrorKind::InvalidUtf8, i))?;
    Ok((ch, next, true))
}

/// The byte of the escape `%XX` starting at `i`.
fn hex_byte(bytes: &[u8], i: usize) -> Result<u8, UriError> {
    let digit = |j: usize| {
        bytes
            .get(j)
            .and_then(|&b| char::from(b).to_digit(16))
            .ok_or_else(|| UriError::new(UriErrorKind::InvalidEscape, i))
    };
    let value = digit(i + 1)? * 16 + digit(i + 2)?;
    // Two hex digits are at most 0xff.
    Ok(value as u8)
}

/// Percent-decodes the mailbox list starting at `start`, up to the first raw
/// `?` outside a quoted-string. Returns the characters and where it stopped.
fn decode_to_part(s: &str, start: usize) -> Result<(Vec<Tok>, usize), UriError> {
    let mut toks = Vec::new();
    let mut i = start;
    // Quotes are tracked on the decoded text so that `%22a?b%22` and
    // `"a?b"` both keep the `?` in the local part.
    let mut quoted = false;
    let mut pair = false;
    while i < s.len() {
        let (ch, next, escaped) = decode_at(s, i)?;
        if !escaped {
            if ch == '?' && !quoted {
                return Ok((toks, i));
            }
            if ch == '#' {
                return Err(UriError::new(UriErrorKind::Fragment, i));
            }
        }
        if pair {
            pair = false;
        } else if quoted && ch == '\\' {
            pair = true;
        } else if ch == '"' {
            quoted = !quoted;
        }
        toks.push(Tok { ch, pos: i });
        i = next;
    }
    Ok((toks, s.len()))
}

/// `addr-spec = local-part "@" domain`
fn parse_mailbox(cursor: &mut Cursor<'_>) -> Result<Address, UriError> {
    let local = parse_local(cursor)?;
    match cursor.peek() {
        Some(tok) if tok.ch == '@' => cursor.next += 1,
        _ => return Err(cursor.expected(Expected::At)),
    }
    let domain = parse_domain(cursor)?;
    Ok(Address::from_parts(&local, &domain))
}

/// `local-part = dot-atom / quoted-string` (RFC 2822 section 3.4.1, with
/// RFC 6532 UTF-8), without CFWS.
fn parse_local(cursor: &mut Cursor<'_>) -> Result<String, UriError> {
    let mut local = String::new();
    match cursor.peek() {
        Some(tok) if tok.ch == '"' => {
            let open = tok.pos;
            cursor.next += 1;
            loop {
                let Some(tok) = cursor.peek() else {
                    return Err(cursor.expected(Expected::QuotedText));
                };
                cursor.next += 1;
                match tok.ch {
                    '"' => break,
                    '\\' => match cursor.peek() {
                        Some(escaped) if is_quoted_pair(escaped.ch) => {
                            local.push(escaped.ch);
                            cursor.next += 1;
                        }
                        _ => return Err(cursor.expected(Expected::QuotedPair)),
                    },
                    ch if is_qtext(ch) => local.push(ch),
                    _ => {
                        cursor.next -= 1;
                        return Err(cursor.expected(Expected::QuotedText));
                    }
                }
            }
            if local.is_empty() {
                return Err(UriError::new(UriErrorKind::EmptyLocalPart, open));
            }
        }
        _ => {
            let mut expected = Expected::Mailbox;
            loop {
                let start = local.len();
                while let Some(tok) = cursor.peek().filter(|tok| is_atext(tok.ch)) {
                    local.push(tok.ch);
                    cursor.next += 1;
                }
                if local.len() == start {
                    return Err(cursor.expected(expected));
                }
                match cursor.peek() {
                    Some(tok) if tok.ch == '.' => {
                        local.push('.');
                        cursor.next += 1;
                        expected = Expected::Atom;
                    }
                    _ => break,
                }
            }
        }
    }
    Ok(local)
}

/// Reads a domain up to `,` or the end and returns its IDNA ASCII form.
fn parse_domain(cursor: &mut Cursor<'_>) -> Result<String, UriError> {
    let start = cursor.pos();
    match cursor.peek() {
        Some(tok) if tok.ch == '[' => {
            return Err(UriError::new(UriErrorKind::DomainLiteral, tok.pos));
        }
        _ => {}
    }
    let mut text = String::new();
    let mut label_empty = true;
    while let Some(tok) = cursor.peek() {
        match tok.ch {
            ',' => break,
            '.' if label_empty => return Err(cursor.expected(Expected::DomainLabel)),
            '.' => label_empty = true,
            ch if ch.is_ascii_alphanumeric() || ch == '-' => label_empty = false,
            // IDNA decides which non-ASCII characters are allowed.
            ch if !ch.is_ascii() && !ch.is_control() => label_empty = false,
            _ => return Err(cursor.expected(Expected::Domain)),
        }
        text.push(tok.ch);
        cursor.next += 1;
    }
    if label_empty {
        return Err(cursor.expected(Expected::DomainLabel));
    }
    idna::domain_to_ascii_strict(&text)
        .map_err(|_| UriError::new(UriErrorKind::InvalidDomain, start))
}

/// `headers = "?" header *( "&" header )`, `header = hname "=" hvalue`;
/// `start` is the offset after the `?`.
fn parse_headers(s: &str, start: usize) -> Result<Vec<(String, String)>, UriError> {
    let mut headers = Vec::new();
    let mut i = start;
    loop {
        let (name, after_name) = decode_component(s, i, Expected::HeaderName)?;
        if name.is_empty() {
            return Err(error_at(s, i, Expected::HeaderName));
        }
        if s.as_bytes().get(after_name) != Some(&b'=') {
            return Err(error_at(s, after_name, Expected::Equals));
        }
        let (value, after_value) = decode_component(s, after_name + 1, Expected::HeaderValue)?;
        headers.push((name, value));
        if after_value >= s.len() {
            return Ok(headers);
        }
        // decode_component stops only at '&' (or '=' in a name) or the end.
        i = after_value + 1;
    }
}

/// Percent-decodes a header name or value from `i` up to a raw `&` (or `=`
/// in a name) or the end. Raw characters must be RFC 2396 `uric`.
fn decode_component(s: &str, mut i: usize, what: Expected) -> Result<(String, usize), UriError> {
    let mut out = String::new();
    while i < s.len() {
        let (ch, next, escaped) = decode_at(s, i)?;
        if !escaped {
            match ch {
                '&' => break,
                '=' if what == Expected::HeaderName => break,
                '#' => return Err(UriError::new(UriErrorKind::Fragment, i)),
                ch if is_uric(ch) => {}
                found => {
                    return Err(UriError::new(
                        UriErrorKind::Unexpected {
                            found,
                            expected: what,
                        },
                        i,
                    ))
                }
            }
        }
        out.push(ch);
        i = next;
    }
    Ok((out, i))
}

/// The "expected X" error for the raw character at byte `i` of `s`.
fn error_at(s: &str, i: usize, expected: Expected) -> UriError {
    match s.get(i..).and_then(|rest| rest.chars().next()) {
        Some(found) => UriError::new(UriErrorKind::Unexpected { found, expected }, i),
        None => UriError::new(UriErrorKind::UnexpectedEnd { expected }, i),
    }
}

/// Checks an unquoted local part given to [`Address::new`].
fn check_local(local: &str) -> Result<(), UriError> {
    if local.is_empty() {
        return Err(UriError::new(UriErrorKind::EmptyLocalPart, 0));
    }
    match local.char_indices().find(|&(_, ch)| !is_quoted_pair(ch)) {
        Some((i, found)) => Err(UriError::new(
            UriErrorKind::Unexpected {
                found,
                expected: Expected::QuotedPair,
            },
            i,
        )),
        None => Ok(()),
    }
}

/// The local part as an RFC 2822 dot-atom when it is one, else quoted.
fn quote_local(local: &str) -> std::borrow::Cow<'_, str> {
    let dot_atom = local
        .split('.')
        .all(|atom| !atom.is_empty() && atom.chars().all(is_atext));
    if dot_atom {
        return local.into();
    }
    let mut quoted = String::with_capacity(local.len() + 2);
    quoted.push('"');
    for ch in local.chars() {
        if matches!(ch, '"' | '\\') {
            quoted.push('\\');
        }
        quoted.push(ch);
    }
    quoted.push('"');
    quoted.into()
}

/// RFC 2822 `atext`, plus non-ASCII (RFC 6532).
fn is_atext(ch: char) -> bool {
    ch.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(ch) || is_utf8_non_ascii(ch)
}

/// RFC 2822 `qtext` and the space of folding white space, plus non-ASCII.
fn is_qtext(ch: char) -> bool {
    matches!(ch, ' ' | '!' | '#'..='[' | ']'..='~') || is_utf8_non_ascii(ch)
}

/// What may follow `\` in a quoted-pair: VCHAR or space (tab is refused so
/// that every local part has one printable form), plus non-ASCII.
fn is_quoted_pair(ch: char) -> bool {
    matches!(ch, ' '..='~') || is_utf8_non_ascii(ch)
}

fn is_utf8_non_ascii(ch: char) -> bool {
    !ch.is_ascii() && !ch.is_control()
}

/// RFC 2396 `uric` (reserved and unreserved; escapes are handled apart).
fn is_uric(ch: char) -> bool {
    ch.is_ascii_alphanumeric() || "-_.!~*'();/?:@&=+$,".contains(ch)
}

/// Where the `@` of a valid canonical address stands, and whether its
/// domain has a label IDNA must look at; `None` for anything else, which
/// [`Address::from_canonical`] then reads check by check. It accepts
/// exactly what the checked reading accepts (held to it by
/// `canonical_fast_path_matches_the_checked_reading`).
fn canonical_split(s: &[u8]) -> Option<(usize, bool)> {
    let mut i = 0;
    let mut atom_empty = true;
    loop {
        let c = *s.get(i)?;
        if CANONICAL[usize::from(c)] & LOCAL_BYTE != 0 {
            atom_empty = false;
        } else if atom_empty {
            return None;
        } else if c == b'.' {
            atom_empty = true;
        } else if c == b'@' {
            break;
        } else {
            return None;
        }
        i += 1;
    }
    let at = i;
    let domain = &s[at + 1..];
    if domain.is_empty() || domain.len() > 253 {
        return None;
    }
    let mut needs_idna = false;
    let mut start = 0;
    for (j, &c) in domain.iter().enumerate() {
        if c == b'.' {
            needs_idna |= label_needs_idna(&domain[start..j])?;
            start = j + 1;
        } else if CANONICAL[usize::from(c)] & LABEL_BYTE == 0 {
            return None;
        }
    }
    needs_idna |= label_needs_idna(&domain[start..])?;
    Some((at, needs_idna))
}

/// Whether a label of label bytes is valid (`None` if not) and holds a
/// hyphen pair at offset 2, as `xn--` does.
fn label_needs_idna(label: &[u8]) -> Option<bool> {
    let (&first, &last) = (label.first()?, label.last()?);
    (label.len() <= 63 && first != b'-' && last != b'-').then(|| label.get(2..4) == Some(b"--"))
}

const LOCAL_BYTE: u8 = 1;
const LABEL_BYTE: u8 = 2;

/// The bytes of a canonical local part's atoms and of a normalised label.
static CANONICAL: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'!' | b'~' | b'*' | b'\'') {
            table[c] |= LOCAL_BYTE;
        }
        if b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' {
            table[c] |= LABEL_BYTE;
        }
        c += 1;
    }
    table
};

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_simple_form() {
        let uri = Uri::parse("im:fred@example.com").unwrap();
        assert_eq!(uri.scheme(), Scheme::Im);
        let address = uri.address().unwrap();
        assert_eq!(address.local(), "fred");
        assert_eq!(address.domain(), "example.com");
        assert!(uri.headers().is_empty());
        assert_eq!(uri.to_string(), "im:fred@example.com");
    }

    /// Parts kept back to back stay apart: equality, order (local part
    /// first) and the parts themselves are those of the pair.
    #[test]
    fn address_parts_compare_as_a_pair() {
        let short_local = Address::new("a", "z.example").unwrap();
        let long_local = Address::new("ab", "c.example").unwrap();
        assert!(short_local < long_local, "local part first, then domain");
        let split_elsewhere = Address::new("ab", "z.example").unwrap();
        let joined = Address::from_canonical("a@bz.example").unwrap();
        assert_ne!(split_elsewhere, joined);
        assert_eq!(joined.local(), "a");
        assert_eq!(joined.domain(), "bz.example");
        assert_eq!(
            format!("{joined:?}"),
            r#"Address { local: "a", domain: "bz.example" }"#
        );
        let quoted = Address::new("john smith", "example.com").unwrap();
        assert_eq!(quoted.local(), "john smith");
        assert_eq!(quoted.to_string(), r#""john smith"@example.com"#);
    }

    #[test]
    fn normalises_scheme_and_domain_but_not_local() {
        let uri: Uri = "PRES:Fred@Example.COM".parse().unwrap();
        assert_eq!(uri.scheme(), Scheme::Pres);
        assert_eq!(uri.to_string(), "pres:Fred@example.com");
    }

    #[test]
    fn switches_scheme() {
        let uri = Uri::parse("im:fred@example.com?subject=hi").unwrap();
        let pres = uri.with_scheme(Scheme::Pres);
        assert_eq!(pres.to_string(), "pres:fred@example.com?subject=hi");
        assert_eq!(pres.with_scheme(Scheme::Im), uri);
    }

    #[test]
    fn builds_from_an_address() {
        let address = Address::new("john smith", "Bücher.example").unwrap();
        assert_eq!(address.domain(), "xn--bcher-kva.example");
        assert_eq!(address.domain_unicode(), "bücher.example");
        assert_eq!(address.to_string(), "\"john smith\"@xn--bcher-kva.example");
        let uri = address.to_uri(Scheme::Im);
        assert_eq!(
            uri.to_string(),
            "im:%22john%20smith%22@xn--bcher-kva.example"
        );
        assert_eq!(Uri::parse(&uri.to_string()).unwrap(), uri);
    }

    #[test]
    fn names_the_byte_of_an_error() {
        let error = Uri::parse("im:fred@exa%2").unwrap_err();
        assert_eq!(error.kind(), &UriErrorKind::InvalidEscape);
        assert_eq!(error.position(), 11);
        assert_eq!(
            error.to_string(),
            "invalid percent-escape, expected '%' and two hex digits at byte 11"
        );
    }

    #[test]
    fn address_errors_count_from_the_joined_form() {
        let error = Address::new("fred", "exa_mple.com").unwrap_err();
        assert_eq!(error.position(), 8);
        assert_eq!(
            error.kind(),
            &UriErrorKind::Unexpected {
                found: '_',
                expected: Expected::Domain
            }
        );
    }
}

#[cfg(test)]
mod from_canonical_tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn reads_back_what_display_writes() {
        for text in [
            "alice@example.com",
            "a.b-c_d!e~f*g'h@sub.example-1.net",
            "watcher7@xn--bcher-kva.example",
            "u@a",
        ] {
            let fast = Address::from_canonical(text).unwrap();
            let full = Uri::parse(&format!("pres:{text}")).unwrap();
            assert_eq!(Some(&fast), full.address(), "{text}");
            assert_eq!(fast.to_string(), text);
        }
    }

    #[test]
    fn refuses_other_forms_with_the_exact_error() {
        let cases: [(&str, UriErrorKind, usize); 11] = [
            (
                "alice",
                UriErrorKind::UnexpectedEnd {
                    expected: Expected::At,
                },
                5,
            ),
            (
                "@example.com",
                UriErrorKind::Unexpected {
                    found: '@',
                    expected: Expected::Atom,
                },
                0,
            ),
            (
                "a..b@example.com",
                UriErrorKind::Unexpected {
                    found: '.',
                    expected: Expected::Atom,
                },
                2,
            ),
            (
                "a.@example.com",
                UriErrorKind::Unexpected {
                    found: '@',
                    expected: Expected::Atom,
                },
                2,
            ),
            (
                "a%20b@example.com",
                UriErrorKind::Unexpected {
                    found: '%',
                    expected: Expected::Atom,
                },
                1,
            ),
            (
                "\"a b\"@example.com",
                UriErrorKind::Unexpected {
                    found: '"',
                    expected: Expected::Atom,
                },
                0,
            ),
            (
                "a@Example.com",
                UriErrorKind::Unexpected {
                    found: 'E',
                    expected: Expected::Domain,
                },
                2,
            ),
            ("a@example..com", UriErrorKind::InvalidDomain, 10),
            ("a@-example.com", UriErrorKind::InvalidDomain, 2),
            ("a@", UriErrorKind::InvalidDomain, 2),
            ("a@xn--zz.example", UriErrorKind::InvalidDomain, 2),
        ];
        for (text, kind, position) in cases {
            let err = Address::from_canonical(text).unwrap_err();
            assert_eq!((err.kind(), err.position()), (&kind, position), "{text}");
        }
        let long = format!("a@{}.com", "x".repeat(64));
        assert_eq!(
            Address::from_canonical(&long).unwrap_err().kind(),
            &UriErrorKind::InvalidDomain
        );
    }

    /// The one-pass reading accepts a text exactly when the checked
    /// reading does, and splits it at the same `@`.
    fn fast_path_agrees(text: &str) -> Result<(), String> {
        let checked = Address::from_canonical_checked(text);
        match (canonical_split(text.as_bytes()), &checked) {
            (Some((at, _)), Ok(address)) if address.local() == &text[..at] => {}
            // IDNA decides these; the reading below must still agree.
            (Some((_, true)), Err(_)) | (None, Err(_)) => {}
            (fast, checked) => return Err(format!("{text:?}: fast {fast:?}, checked {checked:?}")),
        }
        if Address::from_canonical(text) != checked {
            return Err(format!(
                "{text:?}: from_canonical differs from the checked reading"
            ));
        }
        Ok(())
    }

    #[test]
    fn canonical_fast_path_matches_the_checked_reading() {
        let valid = [
            "alice@example.com",
            "a.b-c_d!e~f*g'h@sub.example-1.net",
            "watcher7@xn--bcher-kva.example",
            "u@a",
        ];
        let long_label = format!("a@{}.com", "x".repeat(63));
        let long_domain = format!("a@{}", vec!["y".repeat(63); 4].join("."));
        let mut texts: Vec<String> = valid.iter().map(|t| t.to_string()).collect();
        let too_long_label = format!("a@{}.com", "x".repeat(64));
        let longest_domain = format!("a@{}.{}", vec!["y".repeat(63); 3].join("."), "z".repeat(61));
        texts.extend([long_label, too_long_label, long_domain, longest_domain]);
        // Every one-byte change of valid texts, to the bytes that matter
        // at a boundary.
        let bytes = b"@.-_aZ0%\"\\ \x7f\xc3";
        for text in texts.clone() {
            for i in 0..=text.len() {
                for &b in bytes {
                    let mut changed = text.as_bytes().to_vec();
                    if i < changed.len() {
                        changed[i] = b;
                    } else {
                        changed.push(b);
                    }
                    if let Ok(changed) = String::from_utf8(changed) {
                        texts.push(changed);
                    }
                    let mut removed = text.as_bytes().to_vec();
                    if i < removed.len() {
                        removed.remove(i);
                        texts.push(String::from_utf8_lossy(&removed).into_owned());
                    }
                }
            }
        }
        for text in &texts {
            fast_path_agrees(text).unwrap();
        }
    }

    proptest::proptest! {
        #[test]
        fn canonical_fast_path_agrees_on_generated_text(
            text in r"[a.@\-x%]{0,6}(@[a.\-x]{0,8})?"
        ) {
            if let Err(why) = fast_path_agrees(&text) {
                proptest::prop_assert!(false, "{}", why);
            }
        }
    }
}
