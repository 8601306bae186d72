//! [`MessageBuilder`]: writes new `message/cpim` messages (RFC 3862
//! sections 2-4), escaping text as section 2.3.1 tells senders to.

use super::text::{escape, is_tokenchar};
use super::{HeaderKind, Limits, Message, MessageError};

/// An owned message under construction; [`MessageBuilder::build`] writes
/// it. Message headers are written in the order they were added.
///
/// ```
/// use cpim_formats::message::{Message, MessageBuilder};
///
/// let bytes = MessageBuilder::new()
///     .from(Some("MR SANDERS"), "im:piglet@100akerwood.com")
///     .to(None, "im:eeyore@100akerwood.com")
///     .subject(Some("en"), "the weather")
///     .content_type("text/plain; charset=utf-8")
///     .body(b"Hello".to_vec())
///     .build()
///     .unwrap();
/// let message = Message::parse(&bytes).unwrap();
/// assert_eq!(message.from().unwrap().uri(), "im:piglet@100akerwood.com");
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MessageBuilder {
    mime: bool,
    mime_headers: Vec<(String, String)>,
    fields: Vec<Field>,
    content_headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// One message header in a [`MessageBuilder`], with its text unescaped.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Field {
    /// `From` (section 4.1).
    From(Party),
    /// `To` (section 4.2).
    To(Party),
    /// `cc` (section 4.3).
    Cc(Party),
    /// `DateTime` (section 4.4), an RFC 3339 date-time.
    DateTime(String),
    /// `Subject` (section 4.5) with its language.
    Subject { lang: Option<String>, text: String },
    /// `NS` (section 4.6).
    Ns { prefix: Option<String>, uri: String },
    /// `Require` (section 4.7): header names as they are written.
    Require(Vec<String>),
    /// Any other header: name (with prefix), parameters as written
    /// (`;name=value...`, may be empty), and text.
    Other {
        name: String,
        params: String,
        text: String,
    },
}

/// A Formal-name and URI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Party {
    /// The name, unescaped.
    pub name: Option<String>,
    /// The URI.
    pub uri: String,
}

/// Why a builder could not write a valid message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// A raw (unescaped) piece holds CR or LF, which would end the line.
    #[error("{what} contains a line break")]
    LineBreak { what: String },
    /// Text ending in a space: section 2.2 forbids white space at the end of
    /// a line, and section 2.3.1 forbids escaping a space.
    #[error("{what} ends with a space")]
    TrailingSpace { what: String },
    /// The written bytes are not a valid message (a bad name, URI, tag or
    /// date-time); the offset is in the written bytes.
    #[error("the built message is invalid: {0}")]
    Invalid(#[from] MessageError),
}

impl MessageBuilder {
    /// An empty bare message (no MIME headers).
    pub fn new() -> MessageBuilder {
        MessageBuilder::default()
    }

    /// Writes a whole MIME entity: `Content-Type: message/cpim` and the
    /// headers given with [`MessageBuilder::mime_header`] before the
    /// message headers ([`super::Form::Mime`]).
    pub fn mime_entity(mut self, yes: bool) -> MessageBuilder {
        self.mime = yes;
        self
    }

    /// Adds a MIME header after `Content-Type: message/cpim` (implies
    /// [`MessageBuilder::mime_entity`]).
    pub fn mime_header(mut self, name: &str, value: &str) -> MessageBuilder {
        self.mime = true;
        self.mime_headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Adds `From`.
    pub fn from(self, name: Option<&str>, uri: &str) -> MessageBuilder {
        self.field(Field::From(party(name, uri)))
    }

    /// Adds a `To`.
    pub fn to(self, name: Option<&str>, uri: &str) -> MessageBuilder {
        self.field(Field::To(party(name, uri)))
    }

    /// Adds a `cc`.
    pub fn cc(self, name: Option<&str>, uri: &str) -> MessageBuilder {
        self.field(Field::Cc(party(name, uri)))
    }

    /// Adds `DateTime`.
    pub fn datetime(self, datetime: &str) -> MessageBuilder {
        self.field(Field::DateTime(datetime.to_owned()))
    }

    /// Adds a `Subject`.
    pub fn subject(self, lang: Option<&str>, text: &str) -> MessageBuilder {
        self.field(Field::Subject {
            lang: lang.map(str::to_owned),
            text: text.to_owned(),
        })
    }

    /// Adds an `NS` declaration; `None` sets the default namespace for the
    /// headers after it.
    pub fn ns(self, prefix: Option<&str>, uri: &str) -> MessageBuilder {
        self.field(Field::Ns {
            prefix: prefix.map(str::to_owned),
            uri: uri.to_owned(),
        })
    }

    /// Adds a `Require` listing header names as written (with prefix).
    pub fn require(self, names: &[&str]) -> MessageBuilder {
        self.field(Field::Require(
            names.iter().map(|n| (*n).to_owned()).collect(),
        ))
    }

    /// Adds any header with `text` as its value (escaped as needed).
    pub fn header(self, name: &str, text: &str) -> MessageBuilder {
        self.field(Field::Other {
            name: name.to_owned(),
            params: String::new(),
            text: text.to_owned(),
        })
    }

    /// Adds one message header.
    pub fn field(mut self, field: Field) -> MessageBuilder {
        self.fields.push(field);
        self
    }

    /// Adds the encapsulated object's `Content-Type` (section 2.4: required).
    pub fn content_type(self, value: &str) -> MessageBuilder {
        self.content_header("Content-Type", value)
    }

    /// Adds a header to the encapsulated MIME object.
    pub fn content_header(mut self, name: &str, value: &str) -> MessageBuilder {
        self.content_headers
            .push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sets the encapsulated body, written byte for byte.
    pub fn body(mut self, body: Vec<u8>) -> MessageBuilder {
        self.body = body;
        self
    }

    /// The message headers so far.
    pub fn fields(&self) -> &[Field] {
        &self.fields
    }

    /// The field of a message header other than a `Require` (whose names
    /// the caller has from its walk).
    fn parsed_field(header: &super::Header<'_>) -> Field {
        let owned_party = |a: super::NameAddr<'_>| Party {
            name: a.name().map(|n| n.into_owned()),
            uri: a.uri().to_owned(),
        };
        match header.kind() {
            HeaderKind::From(a) => Field::From(owned_party(a)),
            HeaderKind::To(a) => Field::To(owned_party(a)),
            HeaderKind::Cc(a) => Field::Cc(owned_party(a)),
            HeaderKind::DateTime => Field::DateTime(header.value().to_owned()),
            HeaderKind::Subject => Field::Subject {
                lang: header.lang().map(str::to_owned),
                text: header.text().into_owned(),
            },
            HeaderKind::Ns(ns) => Field::Ns {
                prefix: ns.prefix.map(str::to_owned),
                uri: ns.uri.to_owned(),
            },
            HeaderKind::Require(list) => {
                Field::Require(list.iter().map(|r| r.name.to_owned()).collect())
            }
            HeaderKind::Other => Field::Other {
                name: header.name().to_owned(),
                params: header.params().to_owned(),
                text: header.text().into_owned(),
            },
        }
    }

    /// The builder that writes `message`'s content: MIME headers after the
    /// first `Content-Type`, message headers (from their decoded text), the
    /// encapsulated headers and body. Parameters other than `lang` on core
    /// headers are not kept; a `multipart/signed` wrapper is dropped.
    pub fn from_message(message: &Message<'_>) -> MessageBuilder {
        let mut builder = MessageBuilder::new();
        if message.form() != super::Form::Bare {
            builder.mime = true;
            let mut skipped = false;
            for header in message.mime_headers() {
                if !skipped && header.name().eq_ignore_ascii_case("Content-Type") {
                    skipped = true;
                    continue;
                }
                builder
                    .mime_headers
                    .push((header.name().to_owned(), lossy(header.value())));
            }
        }
        // Require names by a walk: a header's own `kind` reads the block
        // again for one naming several.
        let mut walk = super::parse::RequiredWalk::default();
        for header in message.headers() {
            let required = walk.step(header);
            let field = match required {
                Some(list) => Field::Require(list.iter().map(|r| r.name.to_owned()).collect()),
                None => Self::parsed_field(header),
            };
            builder.fields.push(field);
        }
        for header in message.content().headers() {
            builder
                .content_headers
                .push((header.name().to_owned(), lossy(header.value())));
        }
        builder.body = message.content().body().to_vec();
        builder
    }

    /// Writes the message, then parses it to make sure it is valid.
    pub fn build(&self) -> Result<Vec<u8>, BuildError> {
        let mut out = Vec::with_capacity(256 + self.body.len());
        if self.mime {
            out.extend_from_slice(b"Content-Type: message/cpim\r\n");
            for (name, value) in &self.mime_headers {
                mime_line(&mut out, name, value)?;
            }
            out.extend_from_slice(b"\r\n");
        }
        for field in &self.fields {
            write_field(&mut out, field)?;
        }
        out.extend_from_slice(b"\r\n");
        for (name, value) in &self.content_headers {
            mime_line(&mut out, name, value)?;
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&self.body);
        Message::parse_with(&out, &Limits::NONE)?;
        Ok(out)
    }
}

fn party(name: Option<&str>, uri: &str) -> Party {
    Party {
        name: name.map(str::to_owned),
        uri: uri.to_owned(),
    }
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Refuses CR and LF in a piece written as is.
fn raw<'s>(what: &str, piece: &'s str) -> Result<&'s str, BuildError> {
    if piece.contains(['\r', '\n']) {
        return Err(BuildError::LineBreak {
            what: what.to_owned(),
        });
    }
    Ok(piece)
}

fn mime_line(out: &mut Vec<u8>, name: &str, value: &str) -> Result<(), BuildError> {
    out.extend_from_slice(raw("MIME header name", name)?.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(raw(name, value)?.as_bytes());
    out.extend_from_slice(b"\r\n");
    Ok(())
}

fn write_field(out: &mut Vec<u8>, field: &Field) -> Result<(), BuildError> {
    let (name, params, value): (&str, String, String) = match field {
        Field::From(p) => ("From", String::new(), name_addr(p)?),
        Field::To(p) => ("To", String::new(), name_addr(p)?),
        Field::Cc(p) => ("cc", String::new(), name_addr(p)?),
        Field::DateTime(d) => ("DateTime", String::new(), raw("DateTime", d)?.to_owned()),
        Field::Subject { lang, text } => {
            let params = match lang {
                Some(lang) => format!(";lang={}", raw("lang", lang)?),
                None => String::new(),
            };
            ("Subject", params, text_value("Subject", text)?)
        }
        Field::Ns { prefix, uri } => {
            let value = match prefix {
                Some(p) => format!("{} <{}>", raw("NS prefix", p)?, raw("NS", uri)?),
                None => format!("<{}>", raw("NS", uri)?),
            };
            ("NS", String::new(), value)
        }
        Field::Require(names) => {
            let list = names.join(",");
            ("Require", String::new(), raw("Require", &list)?.to_owned())
        }
        Field::Other { name, params, text } => (
            raw("header name", name)?,
            raw(name, params)?.to_owned(),
            text_value(name, text)?,
        ),
    };
    out.extend_from_slice(name.as_bytes());
    out.push(b':');
    out.extend_from_slice(params.as_bytes());
    out.push(b' ');
    out.extend_from_slice(value.as_bytes());
    out.extend_from_slice(b"\r\n");
    Ok(())
}

fn text_value(what: &str, text: &str) -> Result<String, BuildError> {
    if text.ends_with(' ') {
        return Err(BuildError::TrailingSpace {
            what: what.to_owned(),
        });
    }
    Ok(escape(text, false).into_owned())
}

/// Writes a Formal-name as tokens when it is single-spaced words of
/// TOKENCHARs, else as a quoted String; then ` <uri>`.
fn name_addr(party: &Party) -> Result<String, BuildError> {
    let uri = raw("URI", &party.uri)?;
    Ok(match &party.name {
        None => format!("<{uri}>"),
        Some(name) if is_token_words(name) => format!("{name} <{uri}>"),
        Some(name) => format!("\"{}\" <{uri}>", escape(name, true)),
    })
}

fn is_token_words(name: &str) -> bool {
    !name.is_empty()
        && name
            .split(' ')
            .all(|word| !word.is_empty() && word.bytes().all(is_tokenchar))
}
