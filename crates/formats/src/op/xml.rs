//! The draft's XML notation for the operations (sections 6-9).
//!
//! quick-xml does the tokenising; this module checks the structure against
//! the DTDs by hand because the DTDs are small and their attribute types
//! (im:/pres: URIs, UNIQID, SECONDS) need checks no generic validator makes.

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use super::{
    body, check_lang, parse_duration, parse_uri, FieldProblem, Limits, MessageOp, NotifyOp,
    NumberError, OpError, Operation, ResponseOp, Status, SubscribeOp, TransId, UnsubscribeOp,
};
use crate::pidf::{Document, Presence};
use crate::uri::{Scheme, Uri};
use crate::xml::is_xml_char;

pub(super) fn parse(input: &[u8], limits: &Limits) -> Result<Operation, OpError> {
    if input.len() > limits.max_bytes {
        return Err(OpError::TooLarge {
            size: input.len(),
            limit: limits.max_bytes,
        });
    }
    let text = std::str::from_utf8(input).map_err(|e| OpError::NotUtf8 {
        position: e.valid_up_to(),
    })?;
    let mut parser = Parser {
        input: text,
        reader: Reader::from_str(text),
        limits,
    };
    let op = parser.prolog_and_operation()?;
    parser.epilog()?;
    Ok(op)
}

pub(super) fn write(op: &Operation) -> String {
    let mut out = String::new();
    match op {
        Operation::Message(m) => {
            out.push_str("<message");
            attr(&mut out, "source", &m.source.to_string());
            attr(&mut out, "destination", &m.destination.to_string());
            attr(&mut out, "transID", &m.trans_id.to_string());
            out.push('>');
            escape_text(&mut out, &body::write(&m.content_type, &m.body));
            out.push_str("</message>");
        }
        Operation::Response(r) => {
            out.push_str("<response");
            attr(&mut out, "status", r.status.as_str());
            attr(&mut out, "transID", &r.trans_id.to_string());
            if let Some(duration) = r.duration {
                attr(&mut out, "duration", &duration.to_string());
            }
            if let Some(lang) = &r.lang {
                attr(&mut out, "xml:lang", lang);
            }
            match r.reason.as_deref() {
                Some(reason) if !reason.is_empty() => {
                    out.push('>');
                    escape_text(&mut out, reason);
                    out.push_str("</response>");
                }
                _ => out.push_str("/>"),
            }
        }
        Operation::Subscribe(s) => {
            out.push_str("<subscribe");
            attr(&mut out, "watcher", &s.watcher.to_string());
            attr(&mut out, "target", &s.target.to_string());
            attr(&mut out, "duration", &s.duration.to_string());
            attr(&mut out, "transID", &s.trans_id.to_string());
            out.push_str("/>");
        }
        Operation::Notify(n) => {
            out.push_str("<notify");
            attr(&mut out, "watcher", &n.watcher.to_string());
            attr(&mut out, "target", &n.target.to_string());
            attr(&mut out, "transID", &n.trans_id.to_string());
            out.push('>');
            out.push_str(strip_declaration(&n.presence.to_xml()));
            out.push_str("</notify>");
        }
        Operation::Unsubscribe(u) => {
            out.push_str("<unsubscribe");
            attr(&mut out, "watcher", &u.watcher.to_string());
            attr(&mut out, "target", &u.target.to_string());
            attr(&mut out, "transID", &u.trans_id.to_string());
            out.push_str("/>");
        }
    }
    out
}

struct Parser<'a, 'l> {
    input: &'a str,
    reader: Reader<&'a [u8]>,
    limits: &'l Limits,
}

/// One attribute: name, normalised value, byte offset of the raw value.
struct Attr<'a> {
    name: &'a str,
    value: String,
    position: usize,
}

/// The attributes of one element, taken out one by one; what is left over is
/// unknown to the DTD.
struct Attrs<'a> {
    element: &'static str,
    position: usize,
    list: Vec<Attr<'a>>,
}

impl<'a> Attrs<'a> {
    fn optional(&mut self, name: &str) -> Option<(String, usize)> {
        let index = self.list.iter().position(|a| a.name == name)?;
        let attr = self.list.swap_remove(index);
        Some((attr.value, attr.position))
    }

    fn required(&mut self, name: &'static str) -> Result<(String, usize), OpError> {
        self.optional(name).ok_or(OpError::MissingAttribute {
            element: self.element,
            attribute: name,
            position: self.position,
        })
    }

    fn invalid(&self, attribute: &'static str, position: usize, problem: FieldProblem) -> OpError {
        OpError::InvalidAttribute {
            element: self.element,
            attribute,
            position,
            problem,
        }
    }

    fn uri(&mut self, name: &'static str, scheme: Scheme) -> Result<Uri, OpError> {
        let (value, position) = self.required(name)?;
        parse_uri(&value, scheme)
            .map_err(|(offset, problem)| self.invalid(name, position + offset, problem))
    }

    fn trans_id(&mut self) -> Result<TransId, OpError> {
        let (value, position) = self.required("transID")?;
        TransId::parse(&value).map_err(|e| {
            self.invalid(
                "transID",
                position + number_offset(e),
                FieldProblem::Number(e),
            )
        })
    }

    fn duration(&mut self, value: String, position: usize) -> Result<u32, OpError> {
        parse_duration(&value).map_err(|e| {
            self.invalid(
                "duration",
                position + number_offset(e),
                FieldProblem::Number(e),
            )
        })
    }

    /// Refuses whatever the DTD does not list.
    fn finish(self) -> Result<(), OpError> {
        match self.list.into_iter().min_by_key(|a| a.position) {
            Some(attr) => Err(OpError::UnknownAttribute {
                element: self.element,
                attribute: attr.name.to_owned(),
                position: attr.position,
            }),
            None => Ok(()),
        }
    }
}

fn number_offset(e: NumberError) -> usize {
    match e {
        NumberError::NotDigit { offset, .. } => offset,
        _ => 0,
    }
}

impl<'a> Parser<'a, '_> {
    fn next(&mut self) -> Result<(Event<'a>, usize), OpError> {
        let start = self.position();
        match self.reader.read_event() {
            Ok(Event::DocType(_)) => Err(OpError::Dtd { position: start }),
            Ok(event) => Ok((event, start)),
            Err(e) => Err(OpError::Xml {
                position: usize::try_from(self.reader.error_position()).unwrap_or(usize::MAX),
                detail: e.to_string(),
            }),
        }
    }

    fn position(&self) -> usize {
        usize::try_from(self.reader.buffer_position()).unwrap_or(usize::MAX)
    }

    /// Byte offset of `slice` in the input; `fallback` when it is not a part
    /// of it (a value quick-xml had to copy).
    fn offset_of(&self, slice: &[u8], fallback: usize) -> usize {
        let base = self.input.as_ptr() as usize;
        let at = slice.as_ptr() as usize;
        if at >= base && at <= base + self.input.len() {
            at - base
        } else {
            fallback
        }
    }

    fn prolog_and_operation(&mut self) -> Result<Operation, OpError> {
        loop {
            let (event, position) = self.next()?;
            match event {
                Event::Decl(decl) => {
                    if let Some(Ok(encoding)) = decl.encoding() {
                        let encoding = String::from_utf8_lossy(&encoding).into_owned();
                        if !encoding.eq_ignore_ascii_case("utf-8") {
                            return Err(OpError::Encoding { encoding, position });
                        }
                    }
                }
                Event::Comment(_) | Event::PI(_) => {}
                Event::Text(t) if t.iter().all(u8::is_ascii_whitespace) => {}
                Event::Start(e) => return self.operation(&e, position, false),
                Event::Empty(e) => return self.operation(&e, position, true),
                Event::Eof | Event::End(_) => return Err(OpError::NoOperation { position }),
                _ => {
                    return Err(OpError::Xml {
                        position,
                        detail: "text before the operation element".to_owned(),
                    })
                }
            }
        }
    }

    fn epilog(&mut self) -> Result<(), OpError> {
        loop {
            let (event, position) = self.next()?;
            match event {
                Event::Eof => return Ok(()),
                Event::Comment(_) | Event::PI(_) => {}
                Event::Text(t) if t.iter().all(u8::is_ascii_whitespace) => {}
                _ => return Err(OpError::TrailingContent { position }),
            }
        }
    }

    fn operation(
        &mut self,
        e: &BytesStart<'a>,
        position: usize,
        empty: bool,
    ) -> Result<Operation, OpError> {
        match e.name().as_ref() {
            b"message" => self.message(e, position, empty).map(Operation::Message),
            b"response" => self.response(e, position, empty).map(Operation::Response),
            b"subscribe" => {
                let mut attrs = self.attrs(e, "subscribe", position)?;
                let op = SubscribeOp {
                    watcher: attrs.uri("watcher", Scheme::Pres)?,
                    target: attrs.uri("target", Scheme::Pres)?,
                    duration: {
                        let (value, at) = attrs.required("duration")?;
                        attrs.duration(value, at)?
                    },
                    trans_id: attrs.trans_id()?,
                };
                attrs.finish()?;
                self.empty_content("subscribe", empty)?;
                Ok(Operation::Subscribe(op))
            }
            b"unsubscribe" => {
                let (watcher, target, trans_id) = self.party_attrs(
                    e,
                    "unsubscribe",
                    position,
                    ["watcher", "target"],
                    Scheme::Pres,
                )?;
                let op = UnsubscribeOp {
                    watcher,
                    target,
                    trans_id,
                };
                self.empty_content("unsubscribe", empty)?;
                Ok(Operation::Unsubscribe(op))
            }
            b"notify" => self.notify(e, position, empty).map(Operation::Notify),
            other => Err(OpError::UnknownOperation {
                found: String::from_utf8_lossy(other).into_owned(),
                position,
            }),
        }
    }

    fn message(
        &mut self,
        e: &BytesStart<'a>,
        position: usize,
        empty: bool,
    ) -> Result<MessageOp, OpError> {
        let (source, destination, trans_id) = self.party_attrs(
            e,
            "message",
            position,
            ["source", "destination"],
            Scheme::Im,
        )?;
        let (text, text_position) = if empty {
            (String::new(), self.position())
        } else {
            self.text_content("message")?
        };
        let (content_type, body) =
            body::parse(&text).map_err(|(offset, problem)| OpError::Body {
                position: text_position + offset,
                problem,
            })?;
        Ok(MessageOp {
            source,
            destination,
            trans_id,
            content_type,
            body,
        })
    }

    fn response(
        &mut self,
        e: &BytesStart<'a>,
        position: usize,
        empty: bool,
    ) -> Result<ResponseOp, OpError> {
        let mut attrs = self.attrs(e, "response", position)?;
        let (status, at) = attrs.required("status")?;
        let status = status
            .parse::<Status>()
            .map_err(|problem| attrs.invalid("status", at, problem))?;
        let trans_id = attrs.trans_id()?;
        let duration = match attrs.optional("duration") {
            Some((value, at)) => Some(attrs.duration(value, at)?),
            None => None,
        };
        let lang = match attrs.optional("xml:lang") {
            Some((value, at)) => {
                check_lang(&value).map_err(|problem| attrs.invalid("xml:lang", at, problem))?;
                Some(value)
            }
            None => None,
        };
        attrs.finish()?;
        let reason = if empty {
            None
        } else {
            Some(self.text_content("response")?.0).filter(|r| !r.is_empty())
        };
        Ok(ResponseOp {
            status,
            trans_id,
            duration,
            lang,
            reason,
        })
    }

    fn notify(
        &mut self,
        e: &BytesStart<'a>,
        position: usize,
        empty: bool,
    ) -> Result<NotifyOp, OpError> {
        let (watcher, target, trans_id) =
            self.party_attrs(e, "notify", position, ["watcher", "target"], Scheme::Pres)?;
        let missing = OpError::MissingChild {
            element: "notify",
            child: "presence",
            position,
        };
        if empty {
            return Err(missing);
        }
        let mut presence = None;
        loop {
            let (event, at) = self.next()?;
            match event {
                Event::End(_) => break,
                Event::Comment(_) | Event::PI(_) => {}
                Event::Text(t) if t.iter().all(u8::is_ascii_whitespace) => {}
                Event::Start(ref child) | Event::Empty(ref child)
                    if presence.is_none() && child.local_name().as_ref() == b"presence" =>
                {
                    let is_empty = matches!(event, Event::Empty(_));
                    presence = Some(self.presence(child, at, is_empty, &target)?);
                }
                other => return Err(self.unexpected("notify", &other, at)),
            }
        }
        Ok(NotifyOp {
            watcher,
            target,
            trans_id,
            presence: presence.ok_or(missing)?,
        })
    }

    /// Hands the whole `<presence>` element, as written, to the presence
    /// parser, which reads both PIDF and the draft's own form (section 8);
    /// the draft form names no presentity, so the notify's target is used.
    fn presence(
        &mut self,
        e: &BytesStart<'a>,
        at: usize,
        empty: bool,
        target: &Uri,
    ) -> Result<Presence<'static>, OpError> {
        if !empty {
            let end = e.to_end().into_owned();
            self.reader
                .read_to_end(end.name())
                .map_err(|err| OpError::Xml {
                    position: usize::try_from(self.reader.error_position()).unwrap_or(usize::MAX),
                    detail: err.to_string(),
                })?;
        }
        let element = self.input.get(at..self.position()).unwrap_or_default();
        let document =
            Document::parse_with(element.as_bytes(), &self.limits.pidf).map_err(|source| {
                OpError::Pidf {
                    position: at + source.position(),
                    source,
                }
            })?;
        Ok(document.into_presence(&target.to_string()).into_owned())
    }

    /// The attributes of an operation that names two parties and nothing
    /// else (`<message>`, `<notify>`, `<unsubscribe>`): the two URIs named
    /// by `parties`, in `scheme`, and `transID`, read in that order so that
    /// the first missing or invalid one is the one reported; any other
    /// attribute is refused.
    fn party_attrs(
        &self,
        e: &BytesStart<'a>,
        element: &'static str,
        position: usize,
        parties: [&'static str; 2],
        scheme: Scheme,
    ) -> Result<(Uri, Uri, TransId), OpError> {
        let mut attrs = self.attrs(e, element, position)?;
        let first = attrs.uri(parties[0], scheme)?;
        let second = attrs.uri(parties[1], scheme)?;
        let trans_id = attrs.trans_id()?;
        attrs.finish()?;
        Ok((first, second, trans_id))
    }

    /// Reads every attribute of `e`, resolving references and checking
    /// characters.
    fn attrs(
        &self,
        e: &BytesStart<'a>,
        element: &'static str,
        position: usize,
    ) -> Result<Attrs<'a>, OpError> {
        let mut list = Vec::new();
        for attr in e.attributes() {
            let attr = attr.map_err(|err| OpError::Xml {
                position,
                detail: format!("in <{element}>: {err}"),
            })?;
            let raw: &[u8] = attr.value.as_ref();
            let value_position = self.offset_of(raw, position);
            let key = attr.key.as_ref();
            let name_position = self.offset_of(key, position);
            let name = self
                .input
                .get(name_position..name_position + key.len())
                .filter(|n| n.as_bytes() == key)
                .ok_or_else(|| OpError::Xml {
                    position,
                    detail: format!("in <{element}>: attribute name outside the input"),
                })?;
            let value = attr
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map_err(|err| reference_error(err, value_position))?;
            check_chars(&value, value_position)?;
            list.push(Attr {
                name,
                value: value.into_owned(),
                position: value_position,
            });
        }
        Ok(Attrs {
            element,
            position,
            list,
        })
    }

    /// The character data of `element` up to its end tag; child elements are
    /// refused. Returns the text and the byte offset where it starts.
    fn text_content(&mut self, element: &'static str) -> Result<(String, usize), OpError> {
        let start = self.position();
        let mut text = String::new();
        loop {
            let (event, at) = self.next()?;
            match event {
                Event::End(_) => return Ok((text, start)),
                Event::Text(t) => {
                    let chunk = t.xml10_content().map_err(|err| OpError::Xml {
                        position: at,
                        detail: err.to_string(),
                    })?;
                    check_chars(&chunk, at)?;
                    text.push_str(&chunk);
                }
                Event::CData(t) => {
                    let chunk = t.xml10_content().map_err(|err| OpError::Xml {
                        position: at,
                        detail: err.to_string(),
                    })?;
                    check_chars(&chunk, at)?;
                    text.push_str(&chunk);
                }
                Event::GeneralRef(r) => {
                    let name = String::from_utf8_lossy(&r).into_owned();
                    let c = match r.resolve_char_ref() {
                        Ok(Some(c)) => c,
                        Ok(None) => {
                            predefined(&name).ok_or(OpError::Entity { name, position: at })?
                        }
                        Err(err) => {
                            return Err(OpError::Xml {
                                position: at,
                                detail: err.to_string(),
                            })
                        }
                    };
                    if !is_xml_char(c) {
                        return Err(OpError::IllegalChar {
                            code: u32::from(c),
                            position: at,
                        });
                    }
                    text.push(c);
                }
                Event::Comment(_) | Event::PI(_) => {}
                Event::Eof => {
                    return Err(OpError::Xml {
                        position: at,
                        detail: format!("<{element}> is not closed"),
                    })
                }
                other => return Err(self.unexpected(element, &other, at)),
            }
        }
    }

    /// For elements the DTD declares EMPTY: whitespace and comments only.
    fn empty_content(&mut self, element: &'static str, empty: bool) -> Result<(), OpError> {
        if empty {
            return Ok(());
        }
        let start = self.position();
        let (text, _) = self.text_content(element)?;
        match text.find(|c: char| !c.is_ascii_whitespace()) {
            Some(offset) => Err(OpError::UnexpectedContent {
                element,
                found: "text".to_owned(),
                position: start + offset,
            }),
            None => Ok(()),
        }
    }

    fn unexpected(&self, element: &'static str, event: &Event<'_>, at: usize) -> OpError {
        let found = match event {
            Event::Start(e) | Event::Empty(e) => {
                format!("<{}>", String::from_utf8_lossy(e.name().as_ref()))
            }
            Event::Text(_) | Event::GeneralRef(_) => "text".to_owned(),
            Event::CData(_) => "CDATA".to_owned(),
            Event::Decl(_) => "an XML declaration".to_owned(),
            Event::Eof => "the end of the input".to_owned(),
            _ => "markup".to_owned(),
        };
        OpError::UnexpectedContent {
            element,
            found,
            position: at,
        }
    }
}

fn predefined(name: &str) -> Option<char> {
    match name {
        "lt" => Some('<'),
        "gt" => Some('>'),
        "amp" => Some('&'),
        "apos" => Some('\''),
        "quot" => Some('"'),
        _ => None,
    }
}

fn reference_error(err: quick_xml::Error, position: usize) -> OpError {
    match err {
        quick_xml::Error::Escape(quick_xml::escape::EscapeError::UnrecognizedEntity(
            range,
            name,
        )) => OpError::Entity {
            name,
            position: position + range.start,
        },
        other => OpError::Xml {
            position,
            detail: other.to_string(),
        },
    }
}

fn check_chars(text: &str, position: usize) -> Result<(), OpError> {
    match crate::xml::first_non_xml_char(text) {
        Some((offset, c)) => Err(OpError::IllegalChar {
            code: u32::from(c),
            position: position + offset,
        }),
        None => Ok(()),
    }
}

fn attr(out: &mut String, name: &str, value: &str) {
    out.push(' ');
    out.push_str(name);
    out.push_str("=\"");
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            // Escaped so attribute-value normalisation keeps them.
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c if !is_xml_char(c) => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out.push('"');
}

fn escape_text(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            // A literal CR would become LF under XML end-of-line handling.
            '\r' => out.push_str("&#13;"),
            c if !is_xml_char(c) => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
}

/// `to_xml` of a PIDF document without its `<?xml ...?>` line, so that it
/// can stand inside `<notify>`.
fn strip_declaration(doc: &str) -> &str {
    let doc = doc.trim();
    match doc
        .strip_prefix("<?xml")
        .and_then(|rest| rest.split_once("?>"))
    {
        Some((_, rest)) => rest.trim(),
        None => doc,
    }
}
