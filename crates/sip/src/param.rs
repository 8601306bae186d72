//! Parameters: RFC 3261 s25.1 `generic-param` (header parameters) and
//! `uri-parameter` (s19.1.1), kept in order, unknown ones included.

use std::borrow::Cow;
use std::fmt;

use crate::error::{Expected, SipError};
use crate::scan::{is_token, unquote, Cursor};

/// One `name[=value]` parameter, borrowed from the message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Param<'a> {
    name: &'a str,
    value: Option<&'a str>,
    quoted: bool,
}

impl<'a> Param<'a> {
    /// The name as written. Names compare case-insensitively.
    pub fn name(&self) -> &'a str {
        self.name
    }

    /// The value, unquoted if it was a quoted-string; `None` for a bare flag
    /// such as `lr` or `rport`.
    pub fn value(&self) -> Option<Cow<'a, str>> {
        self.value.map(|v| {
            if self.quoted {
                unquote(v)
            } else {
                Cow::Borrowed(v)
            }
        })
    }

    /// The value as written (without the quotes of a quoted-string).
    pub fn raw_value(&self) -> Option<&'a str> {
        self.value
    }

    /// Whether the value was a quoted-string.
    pub fn is_quoted(&self) -> bool {
        self.quoted
    }
}

impl fmt::Display for Param<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)?;
        match (self.value, self.quoted) {
            (Some(v), true) => write!(f, "=\"{v}\""),
            (Some(v), false) => write!(f, "={v}"),
            (None, _) => Ok(()),
        }
    }
}

/// The first parameter named `name` (case-insensitive).
pub fn find<'p, 'a>(params: &'p [Param<'a>], name: &str) -> Option<&'p Param<'a>> {
    params.iter().find(|p| p.name.eq_ignore_ascii_case(name))
}

/// `*( SEMI generic-param )` after a header value: `token [ EQUAL (token /
/// host / quoted-string) ]`.
pub(crate) fn header_params<'a>(c: &mut Cursor<'a>) -> Result<Vec<Param<'a>>, SipError> {
    let mut params = Vec::new();
    while c.sep(b';') {
        params.push(generic_param(c)?);
    }
    Ok(params)
}

pub(crate) fn generic_param<'a>(c: &mut Cursor<'a>) -> Result<Param<'a>, SipError> {
    let name = c.token(Expected::ParamName)?;
    if !c.sep(b'=') {
        return Ok(Param {
            name,
            value: None,
            quoted: false,
        });
    }
    if c.peek() == Some(b'"') {
        let value = c.quoted()?;
        return Ok(Param {
            name,
            value: Some(value),
            quoted: true,
        });
    }
    // gen-value = token / host; a host adds ':' '[' ']' for IPv6 references.
    let value = c.take_while(|b| is_token(b) || matches!(b, b':' | b'[' | b']'));
    if value.is_empty() {
        return Err(c.error(Expected::ParamValue));
    }
    Ok(Param {
        name,
        value: Some(value),
        quoted: false,
    })
}

/// Builds a parameter read by the URI parser (never quoted).
pub(crate) fn uri_param<'a>(name: &'a str, value: Option<&'a str>) -> Param<'a> {
    Param {
        name,
        value,
        quoted: false,
    }
}
