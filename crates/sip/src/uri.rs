//! SIP and SIPS URIs (RFC 3261 s19.1, grammar in s25.1), and other
//! absolute URIs as they appear in Request-URIs and name-addrs.
//!
//! The parser borrows: user, password, parameters and headers are the
//! escaped text as written, with decoded views ([`SipUri::user_decoded`],
//! [`SipUri::header_values`]) that allocate only when there are escapes.

use std::borrow::Cow;
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::error::{Expected, Field, SipError, SipErrorKind};
use crate::param::{self, Param};
use crate::scan::{check_escapes, is_unreserved, percent_decode, Cursor};

/// Any URI: SIP/SIPS, parsed, or another scheme kept as text.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Uri<'a> {
    Sip(SipUri<'a>),
    /// An `absoluteURI` of another scheme (`tel:`, `im:`, `pres:`, unknown
    /// ones, RFC 4475 s3.3.2-3.3.4).
    Other(AbsoluteUri<'a>),
}

impl<'a> Uri<'a> {
    /// Parses a URI that is the whole of `s`.
    pub fn parse(s: &'a str) -> Result<Uri<'a>, SipError> {
        parse_uri(s, 0, Context::Bracketed)
    }

    /// The SIP URI, if this is one.
    pub fn as_sip(&self) -> Option<&SipUri<'a>> {
        match self {
            Uri::Sip(uri) => Some(uri),
            Uri::Other(_) => None,
        }
    }

    /// The scheme as written.
    pub fn scheme(&self) -> &'a str {
        match self {
            Uri::Sip(uri) => uri.scheme_raw,
            Uri::Other(uri) => uri.scheme,
        }
    }

    /// The URI as written.
    pub fn as_str(&self) -> &'a str {
        match self {
            Uri::Sip(uri) => uri.raw,
            Uri::Other(uri) => uri.raw,
        }
    }
}

impl fmt::Display for Uri<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A URI of a scheme other than sip/sips: the scheme and the rest, as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AbsoluteUri<'a> {
    raw: &'a str,
    scheme: &'a str,
    rest: &'a str,
}

impl<'a> AbsoluteUri<'a> {
    pub fn scheme(&self) -> &'a str {
        self.scheme
    }

    /// Everything after `scheme:`.
    pub fn rest(&self) -> &'a str {
        self.rest
    }
}

/// A URI header `(name, value)` with escapes decoded.
pub type DecodedHeader<'a> = (Cow<'a, [u8]>, Cow<'a, [u8]>);

/// `sip:` or `sips:`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SipScheme {
    Sip,
    Sips,
}

/// The host of a SIP URI or Via sent-by.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Host<'a> {
    /// A domain name, as written (compare case-insensitively).
    Name(&'a str),
    Ipv4(Ipv4Addr),
    /// Written as `[...]`.
    Ipv6(Ipv6Addr),
}

impl fmt::Display for Host<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Name(name) => f.write_str(name),
            Host::Ipv4(ip) => write!(f, "{ip}"),
            Host::Ipv6(ip) => write!(f, "[{ip}]"),
        }
    }
}

/// A `sip:` or `sips:` URI, borrowed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SipUri<'a> {
    raw: &'a str,
    scheme_raw: &'a str,
    scheme: SipScheme,
    user: Option<&'a str>,
    password: Option<&'a str>,
    host: Host<'a>,
    port: Option<u16>,
    params: Vec<Param<'a>>,
    headers: Vec<(&'a str, &'a str)>,
}

impl<'a> SipUri<'a> {
    /// Parses a SIP or SIPS URI that is the whole of `s`.
    pub fn parse(s: &'a str) -> Result<SipUri<'a>, SipError> {
        match parse_uri(s, 0, Context::Bracketed)? {
            Uri::Sip(uri) => Ok(uri),
            Uri::Other(_) => Err(SipError::new(
                SipErrorKind::Unexpected {
                    found: s.chars().next().unwrap_or(' '),
                    expected: Expected::Uri,
                },
                0,
            )),
        }
    }

    pub fn scheme(&self) -> SipScheme {
        self.scheme
    }

    /// The user part as written (escapes kept).
    pub fn user(&self) -> Option<&'a str> {
        self.user
    }

    /// The user part with `%HH` escapes decoded. Bytes, since `%00` is
    /// allowed (RFC 4475 s3.1.1.4).
    pub fn user_decoded(&self) -> Option<Cow<'a, [u8]>> {
        self.user.map(percent_decode)
    }

    /// The password as written.
    pub fn password(&self) -> Option<&'a str> {
        self.password
    }

    pub fn host(&self) -> &Host<'a> {
        &self.host
    }

    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// URI parameters in order, names and values as written (escapes kept).
    pub fn params(&self) -> &[Param<'a>] {
        &self.params
    }

    /// The first parameter named `name`, case-insensitive.
    pub fn param(&self, name: &str) -> Option<&Param<'a>> {
        param::find(&self.params, name)
    }

    /// `?name=value&...` headers in order, as written (escapes kept).
    pub fn headers(&self) -> &[(&'a str, &'a str)] {
        &self.headers
    }

    /// The headers with `%HH` escapes decoded.
    pub fn header_values(&self) -> Vec<DecodedHeader<'a>> {
        self.headers
            .iter()
            .map(|(n, v)| (percent_decode(n), percent_decode(v)))
            .collect()
    }

    /// The URI as written.
    pub fn as_str(&self) -> &'a str {
        self.raw
    }
}

impl fmt::Display for SipUri<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.raw)
    }
}

/// Where a URI appears, which decides where it ends and what it may hold.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Context {
    /// The Request-URI: up to the SP; no headers allowed.
    RequestUri,
    /// Inside `<>`, or a whole string.
    Bracketed,
    /// A header's addr-spec without `<>`: `;` starts header parameters, and
    /// `?` or `,` may not appear (RFC 3261 s20).
    AddrSpec,
}

/// Parses the URI that is all of `s`, which starts at absolute offset `base`.
pub(crate) fn parse_uri<'a>(s: &'a str, base: usize, ctx: Context) -> Result<Uri<'a>, SipError> {
    let mut c = Cursor::new(s, base);
    let scheme = scheme(&mut c, ctx)?;
    c.expect(b':', Expected::Colon)?;
    let kind = if scheme.eq_ignore_ascii_case("sip") {
        Some(SipScheme::Sip)
    } else if scheme.eq_ignore_ascii_case("sips") {
        Some(SipScheme::Sips)
    } else {
        None
    };
    let Some(kind) = kind else {
        let rest = c.take_while(is_uric);
        if !c.is_end() {
            return Err(c.error(Expected::EndOfValue));
        }
        return Ok(Uri::Other(AbsoluteUri {
            raw: s,
            scheme,
            rest,
        }));
    };
    sip_uri(c, s, scheme, kind, ctx).map(Uri::Sip)
}

fn scheme<'a>(c: &mut Cursor<'a>, ctx: Context) -> Result<&'a str, SipError> {
    let start = c.pos();
    match c.peek() {
        Some(b) if b.is_ascii_alphabetic() => c.bump(),
        _ => {
            return Err(c.error(if ctx == Context::RequestUri {
                Expected::RequestUri
            } else {
                Expected::Uri
            }))
        }
    }
    c.take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    Ok(c.since(start))
}

/// RFC 2396 `uric`, plus `#` and `%` (escapes are not checked in opaque URIs).
fn is_uric(b: u8) -> bool {
    is_unreserved(b)
        || matches!(
            b,
            b';' | b'/'
                | b'?'
                | b':'
                | b'@'
                | b'&'
                | b'='
                | b'+'
                | b'$'
                | b','
                | b'%'
                | b'#'
                | b'['
                | b']'
        )
}

fn sip_uri<'a>(
    mut c: Cursor<'a>,
    raw: &'a str,
    scheme_raw: &'a str,
    scheme: SipScheme,
    ctx: Context,
) -> Result<SipUri<'a>, SipError> {
    // '@' appears only in userinfo: params and headers may not hold it raw.
    let (mut user, mut password) = (None, None);
    if c.rest().contains('@') {
        let user_part = c.take_while(|b| b != b':' && b != b'@');
        check_chars(
            user_part,
            c.offset() - user_part.len(),
            is_user_char,
            Expected::User,
        )?;
        if user_part.is_empty() {
            return Err(c.error(Expected::User));
        }
        user = Some(user_part);
        if c.eat(b':') {
            let pw = c.take_while(|b| b != b'@');
            check_chars(
                pw,
                c.offset() - pw.len(),
                is_password_char,
                Expected::Password,
            )?;
            password = Some(pw);
        }
        c.expect(b'@', Expected::At)?;
    }
    let host = host(&mut c)?;
    let port = if c.eat(b':') {
        let at = c.offset();
        let n = c.number(u64::from(u16::MAX), Field::Port)?;
        Some(
            u16::try_from(n)
                .map_err(|_| SipError::new(SipErrorKind::OutOfRange { field: Field::Port }, at))?,
        )
    } else {
        None
    };
    let mut params = Vec::new();
    while c.eat(b';') {
        let name = c.take_while(is_param_char);
        if name.is_empty() {
            return Err(c.error(Expected::ParamName));
        }
        check_escapes(name, c.offset() - name.len())?;
        let value = if c.eat(b'=') {
            let value = c.take_while(is_param_char);
            if value.is_empty() {
                return Err(c.error(Expected::ParamValue));
            }
            check_escapes(value, c.offset() - value.len())?;
            Some(value)
        } else {
            None
        };
        params.push(param::uri_param(name, value));
    }
    let mut headers = Vec::new();
    if c.peek() == Some(b'?') {
        match ctx {
            Context::RequestUri => {
                return Err(SipError::new(SipErrorKind::HeadersInRequestUri, c.offset()))
            }
            Context::AddrSpec => {
                return Err(SipError::new(
                    SipErrorKind::UnbracketedUriHeaders,
                    c.offset(),
                ))
            }
            Context::Bracketed => {}
        }
        c.bump();
        loop {
            let name = c.take_while(is_hnv_char);
            if name.is_empty() {
                return Err(c.error(Expected::Header));
            }
            check_escapes(name, c.offset() - name.len())?;
            c.expect(b'=', Expected::Equals)?;
            let value = c.take_while(is_hnv_char);
            check_escapes(value, c.offset() - value.len())?;
            headers.push((name, value));
            if !c.eat(b'&') {
                break;
            }
        }
    }
    if !c.is_end() {
        return Err(c.error(Expected::EndOfValue));
    }
    Ok(SipUri {
        raw,
        scheme_raw,
        scheme,
        user,
        password,
        host,
        port,
        params,
        headers,
    })
}

/// Checks each byte of a userinfo part and its escapes.
fn check_chars(
    s: &str,
    base: usize,
    ok: fn(u8) -> bool,
    expected: Expected,
) -> Result<(), SipError> {
    if let Some(i) = s.bytes().position(|b| !ok(b)) {
        let found = s.get(i..).and_then(|r| r.chars().next()).unwrap_or(' ');
        return Err(SipError::new(
            SipErrorKind::Unexpected { found, expected },
            base + i,
        ));
    }
    check_escapes(s, base)
}

/// `user`: unreserved / escaped / user-unreserved.
fn is_user_char(b: u8) -> bool {
    is_unreserved(b)
        || matches!(
            b,
            b'%' | b'&' | b'=' | b'+' | b'$' | b',' | b';' | b'?' | b'/'
        )
}

/// `password`: unreserved / escaped / "&" / "=" / "+" / "$" / ",".
fn is_password_char(b: u8) -> bool {
    is_unreserved(b) || matches!(b, b'%' | b'&' | b'=' | b'+' | b'$' | b',')
}

/// `paramchar`: param-unreserved / unreserved / escaped.
fn is_param_char(b: u8) -> bool {
    is_unreserved(b) || matches!(b, b'%' | b'[' | b']' | b'/' | b':' | b'&' | b'+' | b'$')
}

/// `hname` / `hvalue` characters: hnv-unreserved / unreserved / escaped.
fn is_hnv_char(b: u8) -> bool {
    is_unreserved(b) || matches!(b, b'%' | b'[' | b']' | b'/' | b'?' | b':' | b'+' | b'$')
}

/// `host = hostname / IPv4address / IPv6reference`.
pub(crate) fn host<'a>(c: &mut Cursor<'a>) -> Result<Host<'a>, SipError> {
    let at = c.offset();
    if c.eat(b'[') {
        let inner = c.take_while(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
        let ip = inner.parse::<Ipv6Addr>().map_err(|_| {
            SipError::new(
                SipErrorKind::Unexpected {
                    found: '[',
                    expected: Expected::Host,
                },
                at,
            )
        })?;
        c.expect(b']', Expected::Host)?;
        return Ok(Host::Ipv6(ip));
    }
    let name = c.take_while(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    if name.is_empty() {
        return Err(c.error(Expected::Host));
    }
    if name.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        if let Ok(ip) = name.parse::<Ipv4Addr>() {
            return Ok(Host::Ipv4(ip));
        }
    }
    // hostname = *( domainlabel "." ) toplabel [ "." ]: no empty labels, and
    // labels neither start nor end with '-'.
    let trimmed = name.strip_suffix('.').unwrap_or(name);
    let mut offset = at;
    for label in trimmed.split('.') {
        let bad = label.is_empty() || label.starts_with('-') || label.ends_with('-');
        if bad {
            let found = name.get(offset - at..).and_then(|r| r.chars().next());
            let kind = match found {
                Some(found) => SipErrorKind::Unexpected {
                    found,
                    expected: Expected::Host,
                },
                None => SipErrorKind::UnexpectedEnd {
                    expected: Expected::Host,
                },
            };
            return Err(SipError::new(kind, offset));
        }
        offset += label.len() + 1;
    }
    Ok(Host::Name(name))
}
