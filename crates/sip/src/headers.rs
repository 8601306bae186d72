//! Typed header values (RFC 3261 s20 and s25.1; Event and
//! Subscription-State RFC 6665 s8.4; SIP-ETag and SIP-If-Match RFC 3903
//! s11.3). Each parser reads one header field value and borrows from it.

use std::borrow::Cow;

use crate::error::{Expected, Field, SipError, SipErrorKind};
use crate::param::{self, header_params, Param};
use crate::scan::{is_token, is_word, unfold, unquote, Cursor};
use crate::uri::{self, Context, Host, Uri};

/// One Via value: `SIP/2.0/UDP host:port;params` (RFC 3261 s20.42).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Via<'a> {
    protocol: &'a str,
    version: &'a str,
    transport: &'a str,
    host: Host<'a>,
    port: Option<u16>,
    params: Vec<Param<'a>>,
}

impl<'a> Via<'a> {
    /// `SIP`, as written.
    pub fn protocol(&self) -> &'a str {
        self.protocol
    }

    /// `2.0`, as written.
    pub fn version(&self) -> &'a str {
        self.version
    }

    /// `UDP`, `TCP`, `TLS`, `SCTP`, `WS` or an extension, as written.
    pub fn transport(&self) -> &'a str {
        self.transport
    }

    /// The sent-by host.
    pub fn host(&self) -> &Host<'a> {
        &self.host
    }

    /// The sent-by port, if written.
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    pub fn params(&self) -> &[Param<'a>] {
        &self.params
    }

    /// The `branch` parameter.
    pub fn branch(&self) -> Option<&'a str> {
        param::find(&self.params, "branch").and_then(Param::raw_value)
    }

    /// The `received` parameter (RFC 3261 s18.2.1).
    pub fn received(&self) -> Option<&'a str> {
        param::find(&self.params, "received").and_then(Param::raw_value)
    }

    /// The `rport` parameter (RFC 3581): `Some(None)` when present without
    /// a value (a request asking for it), `Some(Some(port))` when filled in.
    pub fn rport(&self) -> Option<Option<u16>> {
        param::find(&self.params, "rport").map(|p| p.raw_value().and_then(|v| v.parse().ok()))
    }

    /// Whether the branch starts with the RFC 3261 magic cookie `z9hG4bK`
    /// (s8.1.1.7) and has something after it, so it can identify a
    /// transaction (RFC 4475 s3.2.1).
    pub fn has_rfc3261_branch(&self) -> bool {
        self.branch()
            .is_some_and(|b| b.len() > MAGIC_COOKIE.len() && b.starts_with(MAGIC_COOKIE))
    }
}

/// The branch prefix of RFC 3261 transactions (s8.1.1.7).
pub const MAGIC_COOKIE: &str = "z9hG4bK";

/// `name-addr` or `addr-spec` with header parameters: From, To, Contact,
/// Route, Record-Route values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameAddr<'a> {
    display: Option<Cow<'a, str>>,
    uri: Uri<'a>,
    bracketed: bool,
    params: Vec<Param<'a>>,
}

impl<'a> NameAddr<'a> {
    /// The display name, unquoted; `None` when absent.
    pub fn display_name(&self) -> Option<&str> {
        self.display.as_deref()
    }

    pub fn uri(&self) -> &Uri<'a> {
        &self.uri
    }

    /// Whether the URI was written in `<>`.
    pub fn is_bracketed(&self) -> bool {
        self.bracketed
    }

    /// Header parameters (after the URI), in order.
    pub fn params(&self) -> &[Param<'a>] {
        &self.params
    }

    pub fn param(&self, name: &str) -> Option<&Param<'a>> {
        param::find(&self.params, name)
    }

    /// The `tag` parameter (From, To; RFC 3261 s19.3).
    pub fn tag(&self) -> Option<&'a str> {
        self.param("tag").and_then(Param::raw_value)
    }

    /// The `expires` parameter of a Contact.
    pub fn expires(&self) -> Option<u32> {
        self.param("expires")
            .and_then(Param::raw_value)
            .and_then(|v| v.parse().ok())
    }

    /// The `q` parameter of a Contact, as written.
    pub fn q(&self) -> Option<&'a str> {
        self.param("q").and_then(Param::raw_value)
    }
}

/// The Contact header: `*` or a list (RFC 3261 s20.10).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Contacts<'a> {
    /// `Contact: *` (REGISTER, remove all bindings).
    Wildcard,
    List(Vec<NameAddr<'a>>),
}

/// CSeq: a sequence number below 2^31 and a method (RFC 3261 s20.16).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CSeq<'a> {
    pub number: u32,
    pub method: &'a str,
}

/// A media type with parameters: Content-Type (RFC 3261 s20.15).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaType<'a> {
    top: &'a str,
    sub: &'a str,
    params: Vec<Param<'a>>,
}

impl<'a> MediaType<'a> {
    /// `text` in `text/plain`, as written.
    pub fn top(&self) -> &'a str {
        self.top
    }

    /// `plain` in `text/plain`, as written.
    pub fn sub(&self) -> &'a str {
        self.sub
    }

    pub fn params(&self) -> &[Param<'a>] {
        &self.params
    }

    pub fn param(&self, name: &str) -> Option<&Param<'a>> {
        param::find(&self.params, name)
    }

    /// Compares `type/subtype` case-insensitively, parameters ignored.
    pub fn is(&self, top: &str, sub: &str) -> bool {
        self.top.eq_ignore_ascii_case(top) && self.sub.eq_ignore_ascii_case(sub)
    }
}

/// Event: a package with parameters (RFC 6665 s8.4, `id` for dialogs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event<'a> {
    package: &'a str,
    params: Vec<Param<'a>>,
}

impl<'a> Event<'a> {
    /// `presence`, `message-summary`..., as written.
    pub fn package(&self) -> &'a str {
        self.package
    }

    pub fn params(&self) -> &[Param<'a>] {
        &self.params
    }

    pub fn id(&self) -> Option<&'a str> {
        param::find(&self.params, "id").and_then(Param::raw_value)
    }
}

/// Subscription-State (RFC 6665 s8.4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubscriptionState<'a> {
    state: &'a str,
    params: Vec<Param<'a>>,
    expires: Option<u32>,
    retry_after: Option<u32>,
}

impl<'a> SubscriptionState<'a> {
    /// `active`, `pending`, `terminated` or an extension, as written.
    pub fn state(&self) -> &'a str {
        self.state
    }

    pub fn params(&self) -> &[Param<'a>] {
        &self.params
    }

    pub fn expires(&self) -> Option<u32> {
        self.expires
    }

    pub fn retry_after(&self) -> Option<u32> {
        self.retry_after
    }

    pub fn reason(&self) -> Option<&'a str> {
        param::find(&self.params, "reason").and_then(Param::raw_value)
    }
}

/// A challenge (WWW-Authenticate, Proxy-Authenticate) or credentials
/// (Authorization, Proxy-Authorization): a scheme and its parameters
/// (RFC 3261 s25.1 `challenge` / `credentials`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthValue<'a> {
    scheme: &'a str,
    params: Vec<Param<'a>>,
}

impl<'a> AuthValue<'a> {
    /// `Digest` or another scheme, as written.
    pub fn scheme(&self) -> &'a str {
        self.scheme
    }

    pub fn is_digest(&self) -> bool {
        self.scheme.eq_ignore_ascii_case("Digest")
    }

    pub fn params(&self) -> &[Param<'a>] {
        &self.params
    }

    /// The value of a parameter, unquoted.
    pub fn param(&self, name: &str) -> Option<Cow<'a, str>> {
        param::find(&self.params, name).and_then(Param::value)
    }
}

pub(crate) fn parse_via<'a>(value: &'a str, base: usize) -> Result<Vec<Via<'a>>, SipError> {
    let mut c = Cursor::new(value, base);
    let mut vias = Vec::new();
    loop {
        let protocol = c.token(Expected::Token)?;
        if !c.sep(b'/') {
            return Err(c.error(Expected::Slash));
        }
        let version = c.token(Expected::Token)?;
        if !c.sep(b'/') {
            return Err(c.error(Expected::Slash));
        }
        let transport = c.token(Expected::Token)?;
        if !c.skip_lws() {
            return Err(c.error(Expected::Sp));
        }
        let host = uri::host(&mut c)?;
        let port =
            if c.sep(b':') {
                let at = c.offset();
                let n = c.number(u64::from(u16::MAX), Field::Port)?;
                Some(u16::try_from(n).map_err(|_| {
                    SipError::new(SipErrorKind::OutOfRange { field: Field::Port }, at)
                })?)
            } else {
                None
            };
        let params = header_params(&mut c)?;
        vias.push(Via {
            protocol,
            version,
            transport,
            host,
            port,
            params,
        });
        if !c.sep(b',') {
            break;
        }
    }
    c.end()?;
    Ok(vias)
}

/// One name-addr or addr-spec followed by header parameters.
fn name_addr<'a>(c: &mut Cursor<'a>, require_brackets: bool) -> Result<NameAddr<'a>, SipError> {
    let display = display_name(c)?;
    let bracketed = c.peek() == Some(b'<');
    if display.is_some() && !bracketed {
        return Err(c.error(Expected::LAngle));
    }
    let uri = if bracketed {
        c.bump();
        let start = c.pos();
        let base = c.offset();
        c.take_while(|b| b != b'>' && b != b' ' && b != b'\t' && b != b'\r');
        let text = c.since(start);
        if c.peek() != Some(b'>') {
            // A space or the end inside <> (RFC 4475 s3.1.2.14).
            if text.is_empty() {
                return Err(c.error(Expected::Uri));
            }
            return Err(c.error(Expected::RAngle));
        }
        let uri = uri::parse_uri(text, base, Context::Bracketed).map_err(|e| c.at_region_end(e))?;
        c.bump();
        uri
    } else {
        if require_brackets {
            return Err(c.error(Expected::LAngle));
        }
        let start = c.pos();
        let base = c.offset();
        c.take_while(|b| !matches!(b, b';' | b',' | b' ' | b'\t' | b'\r'));
        uri::parse_uri(c.since(start), base, Context::AddrSpec).map_err(|e| c.at_region_end(e))?
    };
    let params = header_params(c)?;
    Ok(NameAddr {
        display,
        uri,
        bracketed,
        params,
    })
}

/// `[ display-name ] LAQUOT` lookahead: a quoted string, or tokens followed
/// by `<`. Tokens followed by `:` are an addr-spec's scheme, so the cursor is
/// put back. Anything else after tokens is an error (RFC 4475 s3.1.2.15).
fn display_name<'a>(c: &mut Cursor<'a>) -> Result<Option<Cow<'a, str>>, SipError> {
    match c.peek() {
        Some(b'"') => {
            let raw = c.quoted()?;
            c.skip_lws();
            Ok(Some(unquote(raw)))
        }
        Some(b) if is_token(b) => {
            let save = *c;
            let start = c.pos();
            let mut end = start;
            loop {
                c.take_while(is_token);
                if c.peek() == Some(b':') && end == start {
                    *c = save;
                    return Ok(None);
                }
                end = c.pos();
                c.skip_lws();
                match c.peek() {
                    Some(b'<') => break,
                    Some(b) if is_token(b) => continue,
                    _ => return Err(c.error(Expected::LAngle)),
                }
            }
            let text = save.rest().get(..end - start).unwrap_or("");
            Ok(Some(unfold(text)))
        }
        _ => Ok(None),
    }
}

/// From, To: exactly one name-addr or addr-spec.
pub(crate) fn parse_name_addr<'a>(value: &'a str, base: usize) -> Result<NameAddr<'a>, SipError> {
    let mut c = Cursor::new(value, base);
    let addr = name_addr(&mut c, false)?;
    c.end()?;
    Ok(addr)
}

/// Route, Record-Route: a list of name-addrs in `<>`.
pub(crate) fn parse_routes<'a>(value: &'a str, base: usize) -> Result<Vec<NameAddr<'a>>, SipError> {
    let mut c = Cursor::new(value, base);
    let mut out = vec![name_addr(&mut c, true)?];
    while c.sep(b',') {
        out.push(name_addr(&mut c, true)?);
    }
    c.end()?;
    Ok(out)
}

/// Contact: `*` or a list of name-addrs / addr-specs.
pub(crate) fn parse_contact<'a>(value: &'a str, base: usize) -> Result<Contacts<'a>, SipError> {
    let mut c = Cursor::new(value, base);
    if c.eat(b'*') {
        c.end()?;
        return Ok(Contacts::Wildcard);
    }
    let mut out = vec![name_addr(&mut c, false)?];
    while c.sep(b',') {
        out.push(name_addr(&mut c, false)?);
    }
    c.end()?;
    for contact in &out {
        if let Some(p) = contact.param("expires") {
            check_delta(p.raw_value(), base, value)?;
        }
    }
    Ok(Contacts::List(out))
}

/// Checks an `expires` parameter value fits delta-seconds (below 2^32).
fn check_delta(raw: Option<&str>, base: usize, value: &str) -> Result<(), SipError> {
    let Some(raw) = raw else { return Ok(()) };
    // The parameter borrows from `value`, so its offset is the pointer difference.
    let at = base + (raw.as_ptr() as usize).saturating_sub(value.as_ptr() as usize);
    let mut c = Cursor::new(raw, at);
    c.number(u64::from(u32::MAX), Field::Expires)?;
    c.end()
}

pub(crate) fn parse_cseq<'a>(value: &'a str, base: usize) -> Result<CSeq<'a>, SipError> {
    let mut c = Cursor::new(value, base);
    let number = c.number(0x7FFF_FFFF, Field::CSeq)? as u32;
    if !c.skip_lws() {
        return Err(c.error(Expected::Sp));
    }
    let method = c.token(Expected::Method)?;
    c.end()?;
    Ok(CSeq { number, method })
}

pub(crate) fn parse_call_id(value: &str, base: usize) -> Result<&str, SipError> {
    let mut c = Cursor::new(value, base);
    c.take_while(is_word);
    if c.pos() == 0 {
        return Err(c.error(Expected::Word));
    }
    if c.eat(b'@') {
        let host = c.take_while(is_word);
        if host.is_empty() {
            return Err(c.error(Expected::Word));
        }
    }
    let id = c.since(0);
    c.end()?;
    Ok(id)
}

/// A single number with a maximum: Max-Forwards, Expires, Content-Length.
pub(crate) fn parse_number(
    value: &str,
    base: usize,
    max: u64,
    field: Field,
) -> Result<u64, SipError> {
    let mut c = Cursor::new(value, base);
    let n = c.number(max, field)?;
    c.end()?;
    Ok(n)
}

pub(crate) fn parse_media_type<'a>(value: &'a str, base: usize) -> Result<MediaType<'a>, SipError> {
    let mut c = Cursor::new(value, base);
    let top = c.token(Expected::Token)?;
    if !c.sep(b'/') {
        return Err(c.error(Expected::Slash));
    }
    let sub = c.token(Expected::Token)?;
    let params = header_params(&mut c)?;
    c.end()?;
    Ok(MediaType { top, sub, params })
}

pub(crate) fn parse_event<'a>(value: &'a str, base: usize) -> Result<Event<'a>, SipError> {
    let mut c = Cursor::new(value, base);
    let package = c.token(Expected::Token)?;
    let params = header_params(&mut c)?;
    c.end()?;
    Ok(Event { package, params })
}

pub(crate) fn parse_subscription_state<'a>(
    value: &'a str,
    base: usize,
) -> Result<SubscriptionState<'a>, SipError> {
    let mut c = Cursor::new(value, base);
    let state = c.token(Expected::Token)?;
    let params = header_params(&mut c)?;
    c.end()?;
    let delta = |name: &str| -> Result<Option<u32>, SipError> {
        match param::find(&params, name).and_then(Param::raw_value) {
            None => Ok(None),
            Some(raw) => {
                let at = base + (raw.as_ptr() as usize).saturating_sub(value.as_ptr() as usize);
                parse_number(raw, at, u64::from(u32::MAX), Field::Expires).map(|n| Some(n as u32))
            }
        }
    };
    let expires = delta("expires")?;
    let retry_after = delta("retry-after")?;
    Ok(SubscriptionState {
        state,
        params,
        expires,
        retry_after,
    })
}

/// SIP-ETag, SIP-If-Match: one entity-tag token (RFC 3903 s11.3).
pub(crate) fn parse_token(value: &str, base: usize) -> Result<&str, SipError> {
    let mut c = Cursor::new(value, base);
    let token = c.token(Expected::Token)?;
    c.end()?;
    Ok(token)
}

/// Allow, Require, Supported...: a possibly empty list of tokens.
pub(crate) fn parse_token_list(value: &str, base: usize) -> Result<Vec<&str>, SipError> {
    let mut c = Cursor::new(value, base);
    let mut out = Vec::new();
    if c.is_end() {
        return Ok(out);
    }
    loop {
        out.push(c.token(Expected::Token)?);
        if !c.sep(b',') {
            break;
        }
    }
    c.end()?;
    Ok(out)
}

/// `auth-scheme LWS auth-param *(COMMA auth-param)`.
pub(crate) fn parse_auth<'a>(value: &'a str, base: usize) -> Result<AuthValue<'a>, SipError> {
    let mut c = Cursor::new(value, base);
    let scheme = c.token(Expected::Token)?;
    let mut params = Vec::new();
    if c.skip_lws() && !c.is_end() {
        loop {
            params.push(param::generic_param(&mut c)?);
            if !c.sep(b',') {
                break;
            }
        }
    }
    c.end()?;
    Ok(AuthValue { scheme, params })
}
