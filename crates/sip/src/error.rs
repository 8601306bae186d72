//! Errors of SIP message syntax (RFC 3261 section 7 and 25).
//!
//! Every error names what was wrong and the byte offset in the input where
//! it was found. [`SipError::status_code`] is the one place that maps a
//! syntax error to the response a UAS or proxy sends (RFC 3261 s8.2, s21).

use std::fmt;

use crate::header::HeaderName;

/// A SIP message could not be read: what was wrong and where.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{kind} at byte {offset}")]
pub struct SipError {
    kind: SipErrorKind,
    offset: usize,
}

impl SipError {
    pub(crate) fn new(kind: SipErrorKind, offset: usize) -> SipError {
        SipError { kind, offset }
    }

    /// What was wrong.
    pub fn kind(&self) -> &SipErrorKind {
        &self.kind
    }

    /// Byte offset in the input (the datagram or stream buffer) where the
    /// problem was found.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// Who is at fault, which decides the response.
    pub fn fault(&self) -> Fault {
        match self.kind {
            SipErrorKind::MessageTooLarge { .. }
            | SipErrorKind::TooManyHeaders { .. }
            | SipErrorKind::LineTooLong { .. } => Fault::OverLimit,
            SipErrorKind::UnsupportedVersion => Fault::Unsupported,
            _ => Fault::Malformed,
        }
    }

    /// The status code of the response a UAS sends for a request with this
    /// error: 400 (Bad Request), 505 (Version Not Supported) or 513 (Message
    /// Too Large). Responses with errors are dropped instead (RFC 3261 s18.1.2).
    pub fn status_code(&self) -> u16 {
        match self.fault() {
            Fault::OverLimit => 513,
            Fault::Unsupported => 505,
            Fault::Malformed => 400,
        }
    }
}

/// Who is at fault for an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// The peer sent bytes that are not a SIP/2.0 message.
    Malformed,
    /// The message may be valid but exceeds one of our [`Limits`](crate::Limits).
    OverLimit,
    /// The message uses a protocol version we do not speak.
    Unsupported,
}

/// What was wrong with a SIP message.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SipErrorKind {
    /// A character that the grammar does not allow here.
    Unexpected { found: char, expected: Expected },
    /// The input (or the header value, or the URI) ended too early.
    UnexpectedEnd { expected: Expected },
    /// The header section is not valid UTF-8.
    InvalidUtf8,
    /// A `%` not followed by two hex digits.
    BadEscape,
    /// A quoted string with no closing `"`; the offset is the opening quote.
    UnterminatedQuote,
    /// The message is larger than the limit.
    MessageTooLarge { limit: usize },
    /// More header fields than the limit; the offset is the first one too many.
    TooManyHeaders { limit: usize },
    /// A header field (with its continuation lines) longer than the limit.
    LineTooLong { limit: usize },
    /// A SIP version other than 2.0.
    UnsupportedVersion,
    /// A number too large for its field.
    OutOfRange { field: Field },
    /// A SIP URI with `?headers` in the Request-URI (RFC 3261 s19.1.1).
    HeadersInRequestUri,
    /// A URI with `,`, `;` or `?` that is not enclosed in `<>`
    /// (RFC 3261 s20): its headers would be read as the field's parameters.
    UnbracketedUriHeaders,
    /// A header that allows one value appears more than once.
    DuplicateHeader { name: HeaderName },
    /// A header that every request and response carries is missing
    /// (RFC 3261 s8.1.1); the offset is the end of the header section.
    MissingHeader { name: HeaderName },
    /// The CSeq method differs from the request method (RFC 3261 s8.1.1.5).
    CSeqMethodMismatch,
    /// The datagram holds fewer body bytes than Content-Length declares
    /// (RFC 3261 s18.3).
    BodyTruncated { declared: usize, available: usize },
}

impl fmt::Display for SipErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SipErrorKind::Unexpected { found, expected } => {
                write!(f, "unexpected {found:?}, expected {expected}")
            }
            SipErrorKind::UnexpectedEnd { expected } => {
                write!(f, "unexpected end, expected {expected}")
            }
            SipErrorKind::InvalidUtf8 => f.write_str("header section is not valid UTF-8"),
            SipErrorKind::BadEscape => f.write_str("'%' not followed by two hex digits"),
            SipErrorKind::UnterminatedQuote => f.write_str("quoted string is not closed"),
            SipErrorKind::MessageTooLarge { limit } => {
                write!(f, "message larger than {limit} bytes")
            }
            SipErrorKind::TooManyHeaders { limit } => {
                write!(f, "more than {limit} header fields")
            }
            SipErrorKind::LineTooLong { limit } => {
                write!(f, "header field longer than {limit} bytes")
            }
            SipErrorKind::UnsupportedVersion => f.write_str("SIP version is not 2.0"),
            SipErrorKind::OutOfRange { field } => write!(f, "{field} out of range"),
            SipErrorKind::HeadersInRequestUri => {
                f.write_str("URI headers are not allowed in the Request-URI")
            }
            SipErrorKind::UnbracketedUriHeaders => {
                f.write_str("a URI with headers must be enclosed in '<' '>'")
            }
            SipErrorKind::DuplicateHeader { name } => {
                write!(f, "{name} appears more than once")
            }
            SipErrorKind::MissingHeader { name } => write!(f, "{name} is missing"),
            SipErrorKind::CSeqMethodMismatch => {
                f.write_str("CSeq method differs from the request method")
            }
            SipErrorKind::BodyTruncated {
                declared,
                available,
            } => write!(
                f,
                "Content-Length is {declared} but only {available} body bytes follow"
            ),
        }
    }
}

/// What the grammar expected where it found something else.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Expected {
    Method,
    Sp,
    Crlf,
    /// The empty line that ends the header section.
    EmptyLine,
    RequestUri,
    SipVersion,
    StatusCode,
    ReasonPhrase,
    HeaderName,
    Colon,
    Token,
    Word,
    Slash,
    Host,
    Port,
    Digit,
    ParamName,
    ParamValue,
    Header,
    Uri,
    User,
    Password,
    LAngle,
    RAngle,
    Comma,
    At,
    Equals,
    EndOfValue,
}

impl fmt::Display for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Expected::Method => "a method",
            Expected::Sp => "a space",
            Expected::Crlf => "CRLF",
            Expected::EmptyLine => "the empty line ending the headers",
            Expected::RequestUri => "a Request-URI",
            Expected::SipVersion => "SIP/2.0",
            Expected::StatusCode => "a three-digit status code",
            Expected::ReasonPhrase => "a reason phrase",
            Expected::HeaderName => "a header name",
            Expected::Colon => "':'",
            Expected::Token => "a token",
            Expected::Word => "a word",
            Expected::Slash => "'/'",
            Expected::Host => "a host",
            Expected::Port => "a port",
            Expected::Digit => "a digit",
            Expected::ParamName => "a parameter name",
            Expected::ParamValue => "a parameter value",
            Expected::Header => "a URI header",
            Expected::Uri => "a URI",
            Expected::User => "a user",
            Expected::Password => "a password",
            Expected::LAngle => "'<'",
            Expected::RAngle => "'>'",
            Expected::Comma => "','",
            Expected::At => "'@'",
            Expected::Equals => "'='",
            Expected::EndOfValue => "the end of the value",
        })
    }
}

/// A numeric field that can be out of range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Field {
    /// CSeq sequence number, below 2^31 (RFC 3261 s8.1.1.5).
    CSeq,
    /// Max-Forwards, 0 to 255 (RFC 3261 s20.22).
    MaxForwards,
    /// Expires or an `expires` parameter, below 2^32 (RFC 3261 s20.19).
    Expires,
    /// Content-Length.
    ContentLength,
    /// A port, below 2^16.
    Port,
    /// A status code, 100 to 699 (RFC 3261 s7.2).
    StatusCode,
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Field::CSeq => "CSeq number",
            Field::MaxForwards => "Max-Forwards",
            Field::Expires => "expires value",
            Field::ContentLength => "Content-Length",
            Field::Port => "port",
            Field::StatusCode => "status code",
        })
    }
}
