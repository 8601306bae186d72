//! SIP messages (RFC 3261 s7, grammar s25.1): framing, the start line, the
//! header section, and the typed view of the headers cpim uses.
//!
//! Two entry points, because framing differs by transport (RFC 3261 s18.3):
//! [`Message::parse_datagram`] takes one whole UDP datagram (Content-Length
//! optional, octets past it discarded) and [`Message::parse_stream`] reads
//! the next message from a TCP/TLS buffer, telling "need more bytes"
//! ([`Status::Partial`]) from "invalid" (Content-Length required).
//!
//! The typed headers are parsed and checked when the message is, so a
//! message that parses is one cpim can act on; unknown headers are kept in
//! order as [`Header`]s.

use crate::error::{Expected, Field, SipError, SipErrorKind};
use crate::header::{Header, HeaderName};
use crate::headers::{
    self, AuthValue, CSeq, Contacts, Event, MediaType, NameAddr, SubscriptionState, Via,
};
use crate::scan::{is_token, Cursor};
use crate::uri::{self, Context, Uri};

/// Limits on what the parser accepts, each with its own error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Whole message, start line to the end of the body.
    pub max_message: usize,
    /// Header fields (each line of a repeated header counts).
    pub max_headers: usize,
    /// One header field with its continuation lines, or the start line.
    pub max_line: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_message: 65_535,
            max_headers: 128,
            max_line: 8_192,
        }
    }
}

/// Result of reading a stream buffer.
#[derive(Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Status<T> {
    /// A whole message, and how many bytes of the buffer it used (leading
    /// CRLFs included).
    Complete(T, usize),
    /// The buffer holds the start of a message; read more.
    Partial,
    /// The buffer starts with a CRLFCRLF keep-alive ping (RFC 5626 s4.4.1):
    /// drop that many bytes and answer with one CRLF.
    KeepAlive(usize),
}

/// The start line.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StartLine<'a> {
    Request { method: &'a str, uri: Uri<'a> },
    Response { code: u16, reason: &'a str },
}

/// A parsed SIP message, borrowing the input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message<'a> {
    start: StartLine<'a>,
    headers: Vec<Header<'a>>,
    body: &'a [u8],
    typed: Typed<'a>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Typed<'a> {
    via: Vec<Via<'a>>,
    from: NameAddr<'a>,
    to: NameAddr<'a>,
    call_id: &'a str,
    cseq: CSeq<'a>,
    max_forwards: Option<u8>,
    contact: Option<Contacts<'a>>,
    expires: Option<u32>,
    content_type: Option<MediaType<'a>>,
    content_length: Option<usize>,
    event: Option<Event<'a>>,
    subscription_state: Option<SubscriptionState<'a>>,
    sip_etag: Option<&'a str>,
    sip_if_match: Option<&'a str>,
    route: Vec<NameAddr<'a>>,
    record_route: Vec<NameAddr<'a>>,
    allow: Option<Vec<&'a str>>,
    www_authenticate: Vec<AuthValue<'a>>,
    proxy_authenticate: Vec<AuthValue<'a>>,
    authorization: Vec<AuthValue<'a>>,
    proxy_authorization: Vec<AuthValue<'a>>,
}

impl<'a> Message<'a> {
    /// Parses one whole datagram with default limits.
    pub fn parse_datagram(input: &'a [u8]) -> Result<Message<'a>, SipError> {
        Message::parse_datagram_with(input, &Limits::default())
    }

    /// Parses one whole datagram. Without Content-Length the body is the
    /// rest of the datagram; octets past Content-Length are discarded
    /// (RFC 3261 s18.3, RFC 4475 s3.1.1.8).
    pub fn parse_datagram_with(input: &'a [u8], limits: &Limits) -> Result<Message<'a>, SipError> {
        if input.len() > limits.max_message {
            return Err(SipError::new(
                SipErrorKind::MessageTooLarge {
                    limit: limits.max_message,
                },
                limits.max_message,
            ));
        }
        let head = match read_head(input, limits, false)? {
            Some(head) => head,
            None => {
                return Err(SipError::new(
                    SipErrorKind::UnexpectedEnd {
                        expected: Expected::EmptyLine,
                    },
                    input.len(),
                ))
            }
        };
        let rest = input.get(head.body_start..).unwrap_or(&[]);
        let body = match head.typed.content_length {
            None => rest,
            Some(n) => rest.get(..n).ok_or_else(|| {
                SipError::new(
                    SipErrorKind::BodyTruncated {
                        declared: n,
                        available: rest.len(),
                    },
                    head.body_start,
                )
            })?,
        };
        Ok(head.into_message(body))
    }

    /// Reads the next message from a stream buffer with default limits.
    pub fn parse_stream(input: &'a [u8]) -> Result<Status<Message<'a>>, SipError> {
        Message::parse_stream_with(input, &Limits::default())
    }

    /// Reads the next message from a stream buffer. A CRLF before the start
    /// line is skipped (RFC 3261 s7.5), a double one is a keep-alive;
    /// Content-Length is required (s18.3). Returns [`Status::Partial`] until
    /// the whole message is there.
    pub fn parse_stream_with(
        input: &'a [u8],
        limits: &Limits,
    ) -> Result<Status<Message<'a>>, SipError> {
        if input.starts_with(b"\r\n\r\n") {
            return Ok(Status::KeepAlive(4));
        }
        let Some(head) = read_head(input, limits, true)? else {
            return Ok(Status::Partial);
        };
        let Some(length) = head.typed.content_length else {
            return Err(SipError::new(
                SipErrorKind::MissingHeader {
                    name: HeaderName::ContentLength,
                },
                head.body_start,
            ));
        };
        let end = head.body_start.saturating_add(length);
        if end > limits.max_message {
            return Err(SipError::new(
                SipErrorKind::MessageTooLarge {
                    limit: limits.max_message,
                },
                head.body_start,
            ));
        }
        match input.get(head.body_start..end) {
            Some(body) => Ok(Status::Complete(head.into_message(body), end)),
            None => Ok(Status::Partial),
        }
    }

    pub fn start_line(&self) -> &StartLine<'a> {
        &self.start
    }

    pub fn is_request(&self) -> bool {
        matches!(self.start, StartLine::Request { .. })
    }

    /// The request method, or for a response the CSeq method.
    pub fn method(&self) -> &'a str {
        match &self.start {
            StartLine::Request { method, .. } => method,
            StartLine::Response { .. } => self.typed.cseq.method,
        }
    }

    /// The Request-URI of a request.
    pub fn request_uri(&self) -> Option<&Uri<'a>> {
        match &self.start {
            StartLine::Request { uri, .. } => Some(uri),
            StartLine::Response { .. } => None,
        }
    }

    /// The status code of a response.
    pub fn status_code(&self) -> Option<u16> {
        match self.start {
            StartLine::Response { code, .. } => Some(code),
            StartLine::Request { .. } => None,
        }
    }

    /// The reason phrase of a response, as written (may be empty).
    pub fn reason(&self) -> Option<&'a str> {
        match self.start {
            StartLine::Response { reason, .. } => Some(reason),
            StartLine::Request { .. } => None,
        }
    }

    /// Every header field in order, known and unknown.
    pub fn headers(&self) -> &[Header<'a>] {
        &self.headers
    }

    /// The values of the fields named `name`, in order, any form or case.
    pub fn header_values(&self, name: HeaderName) -> impl Iterator<Item = &'a str> + '_ {
        self.headers
            .iter()
            .filter(move |h| h.is(name))
            .map(|h| h.value())
    }

    /// The values of the fields whose name is `name` (case-insensitive),
    /// for headers cpim does not know.
    pub fn header_values_by_name<'s>(
        &'s self,
        name: &'s str,
    ) -> impl Iterator<Item = &'a str> + 's {
        self.headers
            .iter()
            .filter(move |h| h.name().eq_ignore_ascii_case(name))
            .map(|h| h.value())
    }

    /// The comma-separated tokens of every field named `name`, in order:
    /// for Require, Proxy-Require, Supported, Unsupported, Allow-Events,
    /// which cpim does not read while parsing (RFC 4475 s3.3.5 needs them
    /// to answer 420).
    pub fn tokens(&self, name: HeaderName) -> Result<Vec<&'a str>, SipError> {
        let mut out = Vec::new();
        for h in self.headers.iter().filter(|h| h.is(name)) {
            out.extend(headers::parse_token_list(h.value(), h.value_offset())?);
        }
        Ok(out)
    }

    /// The body: Content-Length bytes, or the rest of the datagram.
    pub fn body(&self) -> &'a [u8] {
        self.body
    }

    /// Via values, topmost first, across all Via fields.
    pub fn via(&self) -> &[Via<'a>] {
        &self.typed.via
    }

    pub fn from(&self) -> &NameAddr<'a> {
        &self.typed.from
    }

    pub fn to(&self) -> &NameAddr<'a> {
        &self.typed.to
    }

    pub fn call_id(&self) -> &'a str {
        self.typed.call_id
    }

    pub fn cseq(&self) -> CSeq<'a> {
        self.typed.cseq
    }

    pub fn max_forwards(&self) -> Option<u8> {
        self.typed.max_forwards
    }

    pub fn contact(&self) -> Option<&Contacts<'a>> {
        self.typed.contact.as_ref()
    }

    pub fn expires(&self) -> Option<u32> {
        self.typed.expires
    }

    pub fn content_type(&self) -> Option<&MediaType<'a>> {
        self.typed.content_type.as_ref()
    }

    pub fn content_length(&self) -> Option<usize> {
        self.typed.content_length
    }

    pub fn event(&self) -> Option<&Event<'a>> {
        self.typed.event.as_ref()
    }

    pub fn subscription_state(&self) -> Option<&SubscriptionState<'a>> {
        self.typed.subscription_state.as_ref()
    }

    pub fn sip_etag(&self) -> Option<&'a str> {
        self.typed.sip_etag
    }

    pub fn sip_if_match(&self) -> Option<&'a str> {
        self.typed.sip_if_match
    }

    pub fn route(&self) -> &[NameAddr<'a>] {
        &self.typed.route
    }

    pub fn record_route(&self) -> &[NameAddr<'a>] {
        &self.typed.record_route
    }

    /// Allowed methods, `None` when there is no Allow header.
    pub fn allow(&self) -> Option<&[&'a str]> {
        self.typed.allow.as_deref()
    }

    pub fn www_authenticate(&self) -> &[AuthValue<'a>] {
        &self.typed.www_authenticate
    }

    pub fn proxy_authenticate(&self) -> &[AuthValue<'a>] {
        &self.typed.proxy_authenticate
    }

    pub fn authorization(&self) -> &[AuthValue<'a>] {
        &self.typed.authorization
    }

    pub fn proxy_authorization(&self) -> &[AuthValue<'a>] {
        &self.typed.proxy_authorization
    }

    /// The message in wire form: the start line and header fields as
    /// written, Content-Length as parsed, and the body. Octets a datagram
    /// carried past Content-Length are not included.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256 + self.body.len());
        match &self.start {
            StartLine::Request { method, uri } => {
                out.extend_from_slice(format!("{method} {uri} SIP/2.0\r\n").as_bytes());
            }
            StartLine::Response { code, reason } => {
                out.extend_from_slice(format!("SIP/2.0 {code} {reason}\r\n").as_bytes());
            }
        }
        for header in &self.headers {
            out.extend_from_slice(header.name().as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(header.value().as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(self.body);
        out
    }
}

/// The start line and headers, read and checked.
struct Head<'a> {
    start: StartLine<'a>,
    headers: Vec<Header<'a>>,
    body_start: usize,
    typed: Typed<'a>,
}

impl<'a> Head<'a> {
    fn into_message(self, body: &'a [u8]) -> Message<'a> {
        Message {
            start: self.start,
            headers: self.headers,
            body,
            typed: self.typed,
        }
    }
}

/// Reads the start line and header section. `Ok(None)` when the buffer ends
/// before the empty line.
fn read_head<'a>(
    input: &'a [u8],
    limits: &Limits,
    stream: bool,
) -> Result<Option<Head<'a>>, SipError> {
    let mut at = 0;
    while input.get(at..at + 2) == Some(b"\r\n") {
        at += 2;
    }
    let Some(end) = find_head_end(input, at) else {
        // Refuse a header section that will never fit, instead of waiting.
        let pending = input.len() - at;
        if stream && pending > limits.max_message {
            return Err(SipError::new(
                SipErrorKind::MessageTooLarge {
                    limit: limits.max_message,
                },
                at + limits.max_message,
            ));
        }
        if stream {
            check_lines(input, at, limits)?;
            return Ok(None);
        }
        // A datagram: report the first bad line if any, else the missing end.
        check_lines(input, at, limits)?;
        return Ok(None);
    };
    let section = input.get(at..end).unwrap_or(&[]);
    let text = std::str::from_utf8(section)
        .map_err(|e| SipError::new(SipErrorKind::InvalidUtf8, at + e.valid_up_to()))?;
    check_bare_lf(text, at)?;
    let line_end = text.bytes().position(|b| b == b'\r').unwrap_or(text.len());
    if line_end > limits.max_line {
        return Err(SipError::new(
            SipErrorKind::LineTooLong {
                limit: limits.max_line,
            },
            at,
        ));
    }
    let start = start_line(text.get(..line_end).unwrap_or(""), at)?;
    let mut headers = Vec::new();
    let mut pos = line_end + 2;
    while pos < text.len() {
        let field_end = field_end(text, pos);
        let field = text.get(pos..field_end).unwrap_or("");
        if headers.len() == limits.max_headers {
            return Err(SipError::new(
                SipErrorKind::TooManyHeaders {
                    limit: limits.max_headers,
                },
                at + pos,
            ));
        }
        if field.len() > limits.max_line {
            return Err(SipError::new(
                SipErrorKind::LineTooLong {
                    limit: limits.max_line,
                },
                at + pos,
            ));
        }
        headers.push(header_field(field, at + pos)?);
        pos = field_end + 2;
    }
    let body_start = end + 4;
    let typed = typed(&start, &headers, at + text.len())?;
    Ok(Some(Head {
        start,
        headers,
        body_start,
        typed,
    }))
}

/// Offset of the CRLFCRLF that ends the header section (of its first CR).
fn find_head_end(input: &[u8], from: usize) -> Option<usize> {
    let hay = input.get(from..)?;
    // Look for each LF and check around it: cheaper than comparing windows.
    let mut i = 0;
    while let Some(p) = hay.get(i..)?.iter().position(|&b| b == b'\n') {
        let lf = i + p;
        if lf >= 1 && hay.get(lf - 1..lf + 3) == Some(b"\r\n\r\n") {
            return Some(from + lf - 1);
        }
        i = lf + 1;
    }
    None
}

/// Checks the complete lines of an unterminated header section against the
/// limits, so an over-long line is refused before the end arrives.
fn check_lines(input: &[u8], at: usize, limits: &Limits) -> Result<(), SipError> {
    let mut line_start = at;
    let mut count = 0usize;
    for (i, &b) in input.iter().enumerate().skip(at) {
        if i - line_start > limits.max_line {
            return Err(SipError::new(
                SipErrorKind::LineTooLong {
                    limit: limits.max_line,
                },
                line_start,
            ));
        }
        if b == b'\n' {
            let folded = matches!(input.get(i + 1), Some(b' ' | b'\t'));
            if !folded {
                count += 1;
                // The start line is not a header field.
                if count > limits.max_headers + 1 {
                    return Err(SipError::new(
                        SipErrorKind::TooManyHeaders {
                            limit: limits.max_headers,
                        },
                        line_start,
                    ));
                }
                line_start = i + 1;
            }
        }
    }
    Ok(())
}

/// A LF must follow a CR (RFC 3261 s7: lines end in CRLF).
fn check_bare_lf(text: &str, base: usize) -> Result<(), SipError> {
    let bytes = text.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        let ok = match b {
            b'\n' => i > 0 && bytes[i - 1] == b'\r',
            b'\r' => bytes.get(i + 1) == Some(&b'\n'),
            _ => true,
        };
        if !ok {
            return Err(SipError::new(
                SipErrorKind::Unexpected {
                    found: b as char,
                    expected: Expected::Crlf,
                },
                base + i,
            ));
        }
    }
    Ok(())
}

/// End of the header field starting at `pos`: the CRLF not followed by
/// SP/HTAB, or the end of the section.
fn field_end(text: &str, pos: usize) -> usize {
    let bytes = text.as_bytes();
    let mut i = pos;
    // The section has no bare CR (checked before), so each CR starts a CRLF.
    while let Some(p) = bytes
        .get(i..)
        .and_then(|r| r.iter().position(|&b| b == b'\r'))
    {
        let crlf = i + p;
        if matches!(bytes.get(crlf + 2), Some(b' ' | b'\t')) {
            i = crlf + 2;
        } else {
            return crlf;
        }
    }
    text.len()
}

/// `Request-Line = Method SP Request-URI SP SIP-Version CRLF` or
/// `Status-Line = SIP-Version SP Status-Code SP Reason-Phrase CRLF`.
fn start_line(line: &str, base: usize) -> Result<StartLine<'_>, SipError> {
    let mut c = Cursor::new(line, base);
    if line.len() >= 4 && line.as_bytes()[..4].eq_ignore_ascii_case(b"SIP/") {
        sip_version(&mut c)?;
        c.expect(b' ', Expected::Sp)?;
        let at = c.offset();
        let digits = c.take_while(|b| b.is_ascii_digit());
        if digits.len() != 3 {
            if digits.is_empty() {
                return Err(c.error(Expected::StatusCode));
            }
            return Err(SipError::new(
                SipErrorKind::OutOfRange {
                    field: Field::StatusCode,
                },
                at,
            ));
        }
        let code: u16 = digits.parse().unwrap_or(0);
        if !(100..=699).contains(&code) {
            return Err(SipError::new(
                SipErrorKind::OutOfRange {
                    field: Field::StatusCode,
                },
                at,
            ));
        }
        c.expect(b' ', Expected::Sp)?;
        let reason = c.rest();
        if let Some(i) = reason
            .bytes()
            .position(|b| (b < 0x20 && b != b'\t') || b == 0x7F)
        {
            let found = reason.as_bytes()[i] as char;
            return Err(SipError::new(
                SipErrorKind::Unexpected {
                    found,
                    expected: Expected::ReasonPhrase,
                },
                c.offset() + i,
            ));
        }
        return Ok(StartLine::Response { code, reason });
    }
    let method = c.token(Expected::Method)?;
    c.expect(b' ', Expected::Sp)?;
    let uri_start = c.pos();
    let uri_base = c.offset();
    c.take_while(|b| b != b' ');
    let region = c.since(uri_start);
    if region.is_empty() {
        return Err(c.error(Expected::RequestUri));
    }
    let uri =
        uri::parse_uri(region, uri_base, Context::RequestUri).map_err(|e| c.at_region_end(e))?;
    c.expect(b' ', Expected::Sp)?;
    sip_version(&mut c)?;
    if !c.is_end() {
        return Err(c.error(Expected::Crlf));
    }
    Ok(StartLine::Request { method, uri })
}

/// `SIP/2.0`; another well-formed version is "unsupported", not "malformed".
fn sip_version(c: &mut Cursor<'_>) -> Result<(), SipError> {
    let at = c.offset();
    let name = c.take_while(|b| b.is_ascii_alphabetic());
    if !name.eq_ignore_ascii_case("SIP") || !c.eat(b'/') {
        return Err(SipError::new(
            match c.rest().chars().next() {
                Some(found) => SipErrorKind::Unexpected {
                    found,
                    expected: Expected::SipVersion,
                },
                None => SipErrorKind::UnexpectedEnd {
                    expected: Expected::SipVersion,
                },
            },
            if name.eq_ignore_ascii_case("SIP") {
                c.offset()
            } else {
                at
            },
        ));
    }
    let major = c.take_while(|b| b.is_ascii_digit());
    if major.is_empty() || !c.eat(b'.') {
        return Err(c.error(Expected::SipVersion));
    }
    let minor = c.take_while(|b| b.is_ascii_digit());
    if minor.is_empty() {
        return Err(c.error(Expected::SipVersion));
    }
    if major != "2" || minor != "0" {
        return Err(SipError::new(SipErrorKind::UnsupportedVersion, at));
    }
    Ok(())
}

/// `field-name HCOLON field-value`: HCOLON is `*( SP / HTAB ) ":" SWS`.
fn header_field(field: &str, base: usize) -> Result<Header<'_>, SipError> {
    let mut c = Cursor::new(field, base);
    let name = c.token(Expected::HeaderName)?;
    c.take_while(|b| b == b' ' || b == b'\t');
    c.expect(b':', Expected::Colon)?;
    c.skip_lws();
    let value_offset = c.offset();
    let value = c.rest().trim_end_matches([' ', '\t', '\r', '\n']);
    debug_assert!(name.bytes().all(is_token));
    Ok(Header::new(name, value, base, value_offset))
}

/// Parses the headers cpim types, refuses repeats of single-value headers,
/// and requires To, From, Call-ID, CSeq and Via (RFC 3261 s8.1.1).
fn typed<'a>(
    start: &StartLine<'a>,
    headers: &[Header<'a>],
    end: usize,
) -> Result<Typed<'a>, SipError> {
    let mut via = Vec::new();
    let mut from = None;
    let mut to = None;
    let mut call_id = None;
    let mut cseq: Option<(CSeq<'a>, usize)> = None;
    let mut max_forwards = None;
    let mut contact: Option<Contacts<'a>> = None;
    let mut expires = None;
    let mut content_type = None;
    let mut content_length = None;
    let mut event = None;
    let mut subscription_state = None;
    let mut sip_etag = None;
    let mut sip_if_match = None;
    let mut route = Vec::new();
    let mut record_route = Vec::new();
    let mut allow: Option<Vec<&'a str>> = None;
    let mut www_authenticate = Vec::new();
    let mut proxy_authenticate = Vec::new();
    let mut authorization = Vec::new();
    let mut proxy_authorization = Vec::new();

    fn once<T>(
        slot: &mut Option<T>,
        value: T,
        name: HeaderName,
        at: usize,
    ) -> Result<(), SipError> {
        if slot.is_some() {
            return Err(SipError::new(SipErrorKind::DuplicateHeader { name }, at));
        }
        *slot = Some(value);
        Ok(())
    }

    for h in headers {
        let Some(name) = h.known() else { continue };
        let (v, at, off) = (h.value(), h.value_offset(), h.offset());
        match name {
            HeaderName::Via => via.extend(headers::parse_via(v, at)?),
            HeaderName::From => once(&mut from, headers::parse_name_addr(v, at)?, name, off)?,
            HeaderName::To => once(&mut to, headers::parse_name_addr(v, at)?, name, off)?,
            HeaderName::CallId => once(&mut call_id, headers::parse_call_id(v, at)?, name, off)?,
            HeaderName::CSeq => once(&mut cseq, (headers::parse_cseq(v, at)?, at), name, off)?,
            HeaderName::MaxForwards => {
                let n = headers::parse_number(v, at, 255, Field::MaxForwards)? as u8;
                once(&mut max_forwards, n, name, off)?;
            }
            HeaderName::Contact => {
                let parsed = headers::parse_contact(v, at)?;
                contact = Some(match (contact.take(), parsed) {
                    (None, parsed) => parsed,
                    (Some(Contacts::List(mut a)), Contacts::List(b)) => {
                        a.extend(b);
                        Contacts::List(a)
                    }
                    // `*` must stand alone (RFC 3261 s10.2.2).
                    (Some(_), _) => {
                        return Err(SipError::new(SipErrorKind::DuplicateHeader { name }, off))
                    }
                });
            }
            HeaderName::Expires => {
                let n = headers::parse_number(v, at, u64::from(u32::MAX), Field::Expires)? as u32;
                once(&mut expires, n, name, off)?;
            }
            HeaderName::ContentType => {
                once(
                    &mut content_type,
                    headers::parse_media_type(v, at)?,
                    name,
                    off,
                )?;
            }
            HeaderName::ContentLength => {
                let n = headers::parse_number(v, at, u64::from(u32::MAX), Field::ContentLength)?;
                once(&mut content_length, n as usize, name, off)?;
            }
            HeaderName::Event => once(&mut event, headers::parse_event(v, at)?, name, off)?,
            HeaderName::SubscriptionState => once(
                &mut subscription_state,
                headers::parse_subscription_state(v, at)?,
                name,
                off,
            )?,
            HeaderName::SipETag => once(&mut sip_etag, headers::parse_token(v, at)?, name, off)?,
            HeaderName::SipIfMatch => {
                once(&mut sip_if_match, headers::parse_token(v, at)?, name, off)?;
            }
            HeaderName::Route => route.extend(headers::parse_routes(v, at)?),
            HeaderName::RecordRoute => record_route.extend(headers::parse_routes(v, at)?),
            HeaderName::Allow => allow
                .get_or_insert_with(Vec::new)
                .extend(headers::parse_token_list(v, at)?),
            HeaderName::WwwAuthenticate => www_authenticate.push(headers::parse_auth(v, at)?),
            HeaderName::ProxyAuthenticate => proxy_authenticate.push(headers::parse_auth(v, at)?),
            HeaderName::Authorization => authorization.push(headers::parse_auth(v, at)?),
            HeaderName::ProxyAuthorization => {
                proxy_authorization.push(headers::parse_auth(v, at)?);
            }
            _ => {}
        }
    }

    let missing = |name| SipError::new(SipErrorKind::MissingHeader { name }, end);
    let to = to.ok_or_else(|| missing(HeaderName::To))?;
    let from = from.ok_or_else(|| missing(HeaderName::From))?;
    let call_id = call_id.ok_or_else(|| missing(HeaderName::CallId))?;
    let (cseq, cseq_at) = cseq.ok_or_else(|| missing(HeaderName::CSeq))?;
    if via.is_empty() {
        return Err(missing(HeaderName::Via));
    }
    if let StartLine::Request { method, .. } = start {
        if *method != cseq.method {
            return Err(SipError::new(SipErrorKind::CSeqMethodMismatch, cseq_at));
        }
    }
    Ok(Typed {
        via,
        from,
        to,
        call_id,
        cseq,
        max_forwards,
        contact,
        expires,
        content_type,
        content_length,
        event,
        subscription_state,
        sip_etag,
        sip_if_match,
        route,
        record_route,
        allow,
        www_authenticate,
        proxy_authenticate,
        authorization,
        proxy_authorization,
    })
}
