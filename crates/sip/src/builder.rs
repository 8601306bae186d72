//! Owned requests and responses and their wire form (RFC 3261 s7).
//! [`ResponseBuilder::for_request`] copies the headers a response must
//! echo (s8.2.6.2). Content-Length is always written, from the body.

use std::fmt;

use crate::error::SipError;
use crate::header::HeaderName;
use crate::message::Message;
use crate::scan::is_token;
use crate::uri::{self, Context};

/// A request or response could not be built: what and which header.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    #[error("method is not a token")]
    InvalidMethod,
    #[error("Request-URI is invalid: {0}")]
    InvalidUri(SipError),
    #[error("status code {0} is outside 100..=699")]
    InvalidStatusCode(u16),
    #[error("reason phrase holds a control character")]
    InvalidReason,
    #[error("header {index}: name is not a token")]
    InvalidHeaderName { index: usize },
    #[error("header {index}: value holds CR, LF or a control character")]
    InvalidHeaderValue { index: usize },
    #[error("header {index}: Content-Length is written from the body")]
    ContentLengthGiven { index: usize },
}

/// Builds a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestBuilder {
    method: String,
    uri: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl RequestBuilder {
    pub fn new(method: impl Into<String>, uri: impl Into<String>) -> RequestBuilder {
        RequestBuilder {
            method: method.into(),
            uri: uri.into(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// Adds a header field; order is kept.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> RequestBuilder {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the body and adds its Content-Type.
    pub fn body(
        mut self,
        content_type: impl Into<String>,
        body: impl Into<Vec<u8>>,
    ) -> RequestBuilder {
        self.headers.push((
            HeaderName::ContentType.as_str().to_owned(),
            content_type.into(),
        ));
        self.body = body.into();
        self
    }

    /// The request in wire form.
    pub fn build(&self) -> Result<Vec<u8>, BuildError> {
        if self.method.is_empty() || !self.method.bytes().all(is_token) {
            return Err(BuildError::InvalidMethod);
        }
        uri::parse_uri(&self.uri, 0, Context::RequestUri).map_err(BuildError::InvalidUri)?;
        let start = format!("{} {} SIP/2.0", self.method, self.uri);
        write(&start, &self.headers, &self.body)
    }
}

/// Builds a response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResponseBuilder {
    code: u16,
    reason: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl ResponseBuilder {
    pub fn new(code: u16, reason: impl Into<String>) -> ResponseBuilder {
        ResponseBuilder {
            code,
            reason: reason.into(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// A response to `request` with its Via fields, From, To, Call-ID and
    /// CSeq copied (RFC 3261 s8.2.6.2). `to_tag` is added to To when the
    /// request's To has no tag (s8.2.6.2: a UAS adds one, except on 100).
    pub fn for_request(
        request: &Message<'_>,
        code: u16,
        reason: impl Into<String>,
        to_tag: Option<&str>,
    ) -> ResponseBuilder {
        let mut response = ResponseBuilder::new(code, reason);
        for header in request.headers() {
            let Some(name) = header.known() else { continue };
            match name {
                HeaderName::Via | HeaderName::From | HeaderName::CallId | HeaderName::CSeq => {
                    response
                        .headers
                        .push((name.as_str().to_owned(), unfolded(header.value())));
                }
                HeaderName::To => {
                    let mut value = unfolded(header.value());
                    if let (None, Some(tag)) = (request.to().tag(), to_tag) {
                        value.push_str(";tag=");
                        value.push_str(tag);
                    }
                    response.headers.push((name.as_str().to_owned(), value));
                }
                _ => {}
            }
        }
        response
    }

    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> ResponseBuilder {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn body(
        mut self,
        content_type: impl Into<String>,
        body: impl Into<Vec<u8>>,
    ) -> ResponseBuilder {
        self.headers.push((
            HeaderName::ContentType.as_str().to_owned(),
            content_type.into(),
        ));
        self.body = body.into();
        self
    }

    pub fn code(&self) -> u16 {
        self.code
    }

    /// The response in wire form.
    pub fn build(&self) -> Result<Vec<u8>, BuildError> {
        if !(100..=699).contains(&self.code) {
            return Err(BuildError::InvalidStatusCode(self.code));
        }
        if self.reason.chars().any(|c| c.is_control() && c != '\t') {
            return Err(BuildError::InvalidReason);
        }
        let start = format!("SIP/2.0 {} {}", self.code, self.reason);
        write(&start, &self.headers, &self.body)
    }
}

impl fmt::Display for ResponseBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SIP/2.0 {} {}", self.code, self.reason)
    }
}

/// Folds are removed from copied values: we send one line per field.
fn unfolded(value: &str) -> String {
    value.replace("\r\n", "")
}

fn write(start: &str, headers: &[(String, String)], body: &[u8]) -> Result<Vec<u8>, BuildError> {
    let mut out = Vec::with_capacity(start.len() + 64 * headers.len() + body.len() + 32);
    out.extend_from_slice(start.as_bytes());
    out.extend_from_slice(b"\r\n");
    for (index, (name, value)) in headers.iter().enumerate() {
        if name.is_empty() || !name.bytes().all(is_token) {
            return Err(BuildError::InvalidHeaderName { index });
        }
        if HeaderName::from_wire(name) == Some(HeaderName::ContentLength) {
            return Err(BuildError::ContentLengthGiven { index });
        }
        if value.chars().any(|c| c.is_control() && c != '\t') {
            return Err(BuildError::InvalidHeaderValue { index });
        }
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.trim().as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
    out.extend_from_slice(body);
    Ok(out)
}
