//! `sip:`/`sips:` URIs (RFC 3261 section 19.1) to and from `im:`/`pres:`
//! URIs, for the SIP binding (RFC 3428, RFC 3856; local parts as RFC 7247
//! section 6.2 maps them).
//!
//! What is kept: the user part (percent-decoded) becomes the local part, the
//! host the domain, and URI headers (`?name=value`) stay headers: both schemes
//! mean "headers to put in the request made from this URI". What is dropped:
//! the port and every URI parameter (`;transport=`, `;maddr=`, `;user=`,
//! `;gr=`, ...): they say how to reach one SIP hop, which an `im:`/`pres:`
//! address, resolved through SRV (RFC 3861), does not carry. `sips:` maps like
//! `sip:`: hop security is the binding's matter. What is refused: a URI
//! without a user part (it names a host, not an inbox), a password (RFC 3261
//! deprecates it and it must not leak into an address), and IPv6 references
//! (CPIM domains are names).

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use super::{
    decode_at, is_quoted_pair, parse_headers, Address, Expected, Scheme, Uri, UriError,
    UriErrorKind,
};

impl Uri {
    /// The `sip:` URI for this URI's single address, with its headers.
    pub fn to_sip(&self) -> Result<String, SipError> {
        self.sip_string("sip")
    }

    /// The `sips:` URI for this URI's single address, with its headers.
    pub fn to_sips(&self) -> Result<String, SipError> {
        self.sip_string("sips")
    }

    /// Reads a `sip:` or `sips:` URI as an `im:` URI (use
    /// [`Uri::with_scheme`] for `pres:`). The port and URI parameters are
    /// dropped; see the module documentation.
    pub fn from_sip(s: &str) -> Result<Uri, SipError> {
        let rest = sip_scheme(s)?;
        let Some(at) = s.get(rest..).and_then(|r| r.find('@')).map(|i| rest + i) else {
            return Err(SipError::new(SipErrorKind::NoUser, rest));
        };
        if at == rest {
            return Err(SipError::new(SipErrorKind::NoUser, rest));
        }
        let local = decode_user(s, rest, at)?;
        let (host, after_host) = host(s, at + 1)?;
        let mut i = skip_parameters(s, after_host)?;
        let headers = if s.as_bytes().get(i) == Some(&b'?') {
            i += 1;
            parse_headers(s, i).map_err(SipError::from)?
        } else {
            Vec::new()
        };
        let address = Address::new(&local, host).map_err(|error| {
            // Address::new counts domain bytes after `local@`.
            let offset = error.position().saturating_sub(local.len() + 1);
            SipError::new(SipErrorKind::Syntax(error.kind().clone()), at + 1 + offset)
        })?;
        Ok(Uri {
            scheme: Scheme::Im,
            to: vec![address],
            headers,
        })
    }

    fn sip_string(&self, scheme: &str) -> Result<String, SipError> {
        let Some(address) = self.address() else {
            return Err(SipError::new(SipErrorKind::NotOneAddress, 0));
        };
        let mut out = format!(
            "{scheme}:{}@{}",
            utf8_percent_encode(address.local(), SIP_USER_KEEP),
            address.domain()
        );
        for (i, (name, value)) in self.headers.iter().enumerate() {
            out.push(if i == 0 { '?' } else { '&' });
            out.extend(utf8_percent_encode(name, SIP_HEADER_KEEP));
            out.push('=');
            out.extend(utf8_percent_encode(value, SIP_HEADER_KEEP));
        }
        Ok(out)
    }
}

/// Why a SIP URI could not be mapped, and at which byte (0 for
/// [`SipErrorKind::NotOneAddress`]).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{kind} at byte {position}")]
pub struct SipError {
    kind: SipErrorKind,
    position: usize,
}

impl SipError {
    fn new(kind: SipErrorKind, position: usize) -> SipError {
        SipError { kind, position }
    }

    /// What was wrong.
    pub fn kind(&self) -> &SipErrorKind {
        &self.kind
    }

    /// Byte offset in the SIP URI.
    pub fn position(&self) -> usize {
        self.position
    }
}

impl From<UriError> for SipError {
    fn from(error: UriError) -> SipError {
        SipError::new(SipErrorKind::Syntax(error.kind().clone()), error.position())
    }
}

/// What was wrong with a SIP URI, or why a URI has no SIP form.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SipErrorKind {
    /// The scheme is neither `sip` nor `sips`.
    #[error("unknown scheme {0:?}, expected \"sip\" or \"sips\"")]
    UnknownScheme(String),
    /// No user part: the URI names a host, not an inbox.
    #[error("no user part, expected 'user@host'")]
    NoUser,
    /// `user:password@host`: passwords are refused.
    #[error("a password in a SIP URI is not accepted")]
    Password,
    /// `user@[2001:db8::1]`: IPv6 references are refused.
    #[error("IPv6 host references are not supported, expected a host name")]
    Ipv6Host,
    /// A URI with several mailboxes has no single SIP form.
    #[error("a SIP URI names exactly one address")]
    NotOneAddress,
    /// A character, escape, domain or header error, as for `im:` URIs.
    #[error("{0}")]
    Syntax(UriErrorKind),
}

/// RFC 3261 `user`: unreserved and user-unreserved, except `;` and `?`,
/// which many parsers read as the start of parameters or headers.
const SIP_USER_KEEP: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'&')
    .remove(b'=')
    .remove(b'+')
    .remove(b'$')
    .remove(b',')
    .remove(b'/');

/// RFC 3261 `hname`/`hvalue`: unreserved and hnv-unreserved except `[` `]`.
const SIP_HEADER_KEEP: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'/')
    .remove(b'?')
    .remove(b':')
    .remove(b'+')
    .remove(b'$');

/// Checks `sip:` or `sips:` (any case); returns the offset after the colon.
fn sip_scheme(s: &str) -> Result<usize, SipError> {
    let Some(colon) = s.find(':') else {
        return Err(SipError::new(
            SipErrorKind::Syntax(UriErrorKind::UnexpectedEnd {
                expected: Expected::Colon,
            }),
            s.len(),
        ));
    };
    let name = &s[..colon];
    if name.eq_ignore_ascii_case("sip") || name.eq_ignore_ascii_case("sips") {
        Ok(colon + 1)
    } else {
        Err(SipError::new(
            SipErrorKind::UnknownScheme(name.to_owned()),
            0,
        ))
    }
}

/// Percent-decodes the user part `s[start..end]`, checking RFC 3261 `user`
/// characters and that the result is a valid local part.
fn decode_user(s: &str, start: usize, end: usize) -> Result<String, SipError> {
    let mut local = String::new();
    let mut i = start;
    while i < end {
        let (ch, next, escaped) = decode_at(s, i)?;
        let allowed = if escaped {
            is_quoted_pair(ch)
        } else if ch == ':' {
            return Err(SipError::new(SipErrorKind::Password, i));
        } else {
            ch.is_ascii_alphanumeric() || "-_.!~*'()&=+$,;?/".contains(ch)
        };
        if !allowed {
            return Err(SipError::new(
                SipErrorKind::Syntax(UriErrorKind::Unexpected {
                    found: ch,
                    expected: Expected::SipUser,
                }),
                i,
            ));
        }
        local.push(ch);
        i = next;
    }
    Ok(local)
}

/// Reads `host [":" port]` from `start`; returns the host (one trailing dot
/// removed) and the offset after the port.
fn host(s: &str, start: usize) -> Result<(&str, usize), SipError> {
    let rest = s.get(start..).unwrap_or_default();
    if rest.starts_with('[') {
        return Err(SipError::new(SipErrorKind::Ipv6Host, start));
    }
    let len = rest.find([':', ';', '?']).unwrap_or(rest.len());
    let host = &rest[..len];
    let host = host.strip_suffix('.').unwrap_or(host);
    let mut end = start + len;
    if s.as_bytes().get(end) == Some(&b':') {
        end += 1;
        let digits = s
            .get(end..)
            .unwrap_or_default()
            .bytes()
            .take_while(u8::is_ascii_digit)
            .count();
        if digits == 0 {
            return Err(expected_at(s, end, Expected::Port));
        }
        end += digits;
    }
    match s.as_bytes().get(end) {
        None | Some(b';' | b'?') => Ok((host, end)),
        Some(_) => Err(expected_at(s, end, Expected::Parameter)),
    }
}

/// Checks and skips `*( ";" pname ["=" pvalue] )` (RFC 3261
/// `uri-parameters`); returns the offset after them.
fn skip_parameters(s: &str, mut i: usize) -> Result<usize, SipError> {
    while s.as_bytes().get(i) == Some(&b';') {
        i += 1;
        let name_start = i;
        let mut in_value = false;
        while i < s.len() {
            let (ch, next, escaped) = decode_at(s, i)?;
            if !escaped {
                match ch {
                    ';' | '?' => break,
                    '=' if !in_value && i > name_start => in_value = true,
                    ch if ch.is_ascii_alphanumeric() || "-_.!~*'()[]/:&+$".contains(ch) => {}
                    _ => return Err(expected_at(s, i, Expected::Parameter)),
                }
            }
            i = next;
        }
        if i == name_start {
            return Err(expected_at(s, i, Expected::Parameter));
        }
    }
    match s.as_bytes().get(i) {
        None | Some(b'?') => Ok(i),
        Some(_) => Err(expected_at(s, i, Expected::Parameter)),
    }
}

fn expected_at(s: &str, i: usize, expected: Expected) -> SipError {
    super::error_at(s, i, expected).into()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn maps_a_plain_address_both_ways() {
        let uri = Uri::from_sip("sip:alice@Example.COM").unwrap();
        assert_eq!(uri.to_string(), "im:alice@example.com");
        assert_eq!(uri.to_sip().unwrap(), "sip:alice@example.com");
        assert_eq!(uri.to_sips().unwrap(), "sips:alice@example.com");
    }

    #[test]
    fn drops_port_and_parameters_and_keeps_headers() {
        let uri =
            Uri::from_sip("SIPS:o'malley@sip.example:5061;transport=tls;lr?Subject=hi%20there")
                .unwrap();
        assert_eq!(
            uri.to_string(),
            "im:o'malley@sip.example?Subject=hi%20there"
        );
        assert_eq!(
            uri.to_sip().unwrap(),
            "sip:o'malley@sip.example?Subject=hi%20there"
        );
    }

    #[test]
    fn names_what_is_refused() {
        let error = Uri::from_sip("sip:alice:secret@example.com").unwrap_err();
        assert_eq!(
            (error.kind(), error.position()),
            (&SipErrorKind::Password, 9)
        );
        let error = Uri::from_sip("sip:example.com").unwrap_err();
        assert_eq!((error.kind(), error.position()), (&SipErrorKind::NoUser, 4));
    }
}
