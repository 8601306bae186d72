//! The PIDF parser: one pass over quick-xml's namespace-aware events, no
//! DTD, no entity expansion beyond XML's five predefined entities and
//! character references, and every [`Limits`] bound checked as it is reached.

use super::draft::{DraftPresence, DraftTuple};
use super::{
    Attribute, Basic, Contact, Document, Element, ErrorKind, Limits, Namespace, Node, Note,
    PidfError, Presence, Status, Tuple, PIDF_NS, XML_NS,
};
use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::name::{PrefixDeclaration, QName, ResolveResult};
use quick_xml::{NsReader, XmlVersion};
use std::borrow::Cow;

/// Parses a PIDF document or the draft's `<presence>`; `understood` is the set
/// of extension namespaces the caller processes (`None`: keep everything, do
/// not enforce `mustUnderstand`).
pub(super) fn document(
    xml: &[u8],
    limits: &Limits,
    understood: Option<&[&str]>,
) -> Result<Document, PidfError> {
    if xml.len() > limits.max_bytes {
        return Err(PidfError::new(
            ErrorKind::LimitExceeded {
                limit: "bytes",
                max: limits.max_bytes,
            },
            limits.max_bytes,
        ));
    }
    let mut reader = NsReader::from_reader(xml);
    let config = reader.config_mut();
    config.check_end_names = true;
    config.expand_empty_elements = false;
    let mut p = Parser {
        reader,
        limits,
        understood,
        depth: 0,
        elements: 0,
        pos: 0,
        pending_end: false,
        seen_root: false,
    };
    let mut doc = None;
    loop {
        match p.next()? {
            Ev::Start(start) => {
                if doc.is_some() {
                    return Err(p.error(ErrorKind::ContentAfterRoot));
                }
                doc = Some(p.root(&start)?);
            }
            Ev::Text(text) => {
                if !is_whitespace(&text) {
                    return Err(p.error(ErrorKind::UnexpectedText { parent: "document" }));
                }
            }
            Ev::End => return Err(p.error(ErrorKind::Xml("unmatched end tag".into()))),
            Ev::Eof => break,
        }
    }
    doc.ok_or_else(|| p.error(ErrorKind::NoRootElement))
}

/// The deepest nesting accepted whatever [`Limits::max_depth`] says: quick-xml
/// counts namespace scopes in 16 bits and overflows past 65535.
const MAX_DEPTH: usize = 4096;

enum Ev<'i> {
    /// A start tag, or an empty-element tag (whose end follows at once).
    Start(BytesStart<'i>),
    End,
    /// Character data; borrowed from the input unless decoding changed it.
    Text(Cow<'i, str>),
    Eof,
}

struct Parser<'i, 'a> {
    reader: NsReader<&'i [u8]>,
    limits: &'a Limits,
    understood: Option<&'a [&'a str]>,
    depth: usize,
    elements: usize,
    /// Byte offset where the current event starts.
    pos: usize,
    /// An empty-element tag was returned as `Start`; its `End` comes next.
    pending_end: bool,
    seen_root: bool,
}

impl<'i> Parser<'i, '_> {
    fn error(&self, kind: ErrorKind) -> PidfError {
        PidfError::new(kind, self.pos)
    }

    /// The next event that matters, with text decoded and references
    /// resolved; comments and processing instructions are skipped.
    fn next(&mut self) -> Result<Ev<'i>, PidfError> {
        if self.pending_end {
            self.pending_end = false;
            self.depth -= 1;
            return Ok(Ev::End);
        }
        loop {
            self.pos = usize::try_from(self.reader.buffer_position()).unwrap_or(usize::MAX);
            let event = match self.reader.read_event() {
                Ok(event) => event,
                Err(e) => {
                    let at = usize::try_from(self.reader.error_position()).unwrap_or(self.pos);
                    return Err(PidfError::new(xml_error(e), at));
                }
            };
            match event {
                Event::Start(start) => return self.open(start, false),
                Event::Empty(start) => return self.open(start, true),
                Event::End(_) => {
                    self.depth = self.depth.saturating_sub(1);
                    return Ok(Ev::End);
                }
                Event::Text(text) => {
                    let text = text
                        .xml10_content()
                        .map_err(|_| self.error(ErrorKind::InvalidUtf8))?;
                    return Ok(Ev::Text(text));
                }
                Event::CData(data) => {
                    let text = data
                        .xml10_content()
                        .map_err(|_| self.error(ErrorKind::InvalidUtf8))?;
                    return Ok(Ev::Text(text));
                }
                Event::GeneralRef(reference) => {
                    return self
                        .reference(&reference)
                        .map(|c| Ev::Text(Cow::Owned(c.to_string())));
                }
                Event::DocType(_) => return Err(self.error(ErrorKind::DoctypeRefused)),
                Event::Decl(decl) => {
                    if let Some(Ok(encoding)) = decl.encoding() {
                        if !encoding.eq_ignore_ascii_case(b"utf-8") {
                            let name = String::from_utf8_lossy(&encoding).into_owned();
                            return Err(self.error(ErrorKind::UnsupportedEncoding(name)));
                        }
                    }
                }
                Event::Comment(_) | Event::PI(_) => {}
                Event::Eof => return Ok(Ev::Eof),
            }
        }
    }

    fn open(&mut self, start: BytesStart<'i>, empty: bool) -> Result<Ev<'i>, PidfError> {
        self.depth += 1;
        self.elements += 1;
        self.seen_root = true;
        let max_depth = self.limits.max_depth.min(MAX_DEPTH);
        if self.depth > max_depth {
            return Err(self.error(ErrorKind::LimitExceeded {
                limit: "depth",
                max: max_depth,
            }));
        }
        if self.elements > self.limits.max_elements {
            return Err(self.error(ErrorKind::LimitExceeded {
                limit: "elements",
                max: self.limits.max_elements,
            }));
        }
        // Counting only; duplicates are caught where attributes are read.
        if start.attributes().with_checks(false).count() > self.limits.max_attributes {
            return Err(self.error(ErrorKind::LimitExceeded {
                limit: "attributes",
                max: self.limits.max_attributes,
            }));
        }
        self.pending_end = empty;
        Ok(Ev::Start(start))
    }

    /// Resolves `&name;` or `&#N;`; only XML's predefined entities exist here.
    fn reference(&self, reference: &BytesRef<'_>) -> Result<char, PidfError> {
        if reference.is_char_ref() {
            return match reference.resolve_char_ref() {
                Ok(Some(c)) => Ok(c),
                _ => Err(self.error(ErrorKind::Xml(format!(
                    "invalid character reference &{};",
                    String::from_utf8_lossy(reference)
                )))),
            };
        }
        match &**reference {
            b"lt" => Ok('<'),
            b"gt" => Ok('>'),
            b"amp" => Ok('&'),
            b"apos" => Ok('\''),
            b"quot" => Ok('"'),
            other => Err(self.error(ErrorKind::UndefinedEntity(
                String::from_utf8_lossy(other).into_owned(),
            ))),
        }
    }

    /// The namespace of an element name: `Ok(None)` for no namespace. The
    /// bytes are as written in the declaration (see [`namespace_uri`]).
    fn element_ns(&self, name: QName<'_>) -> Result<Option<&[u8]>, PidfError> {
        match self.reader.resolver().resolve_element(name).0 {
            ResolveResult::Bound(ns) => Ok(Some(ns.into_inner())),
            ResolveResult::Unbound => Ok(None),
            ResolveResult::Unknown(prefix) => Err(self.error(ErrorKind::UnboundPrefix(
                String::from_utf8_lossy(&prefix).into_owned(),
            ))),
        }
    }

    fn is_pidf(&self, name: QName<'_>) -> Result<bool, PidfError> {
        Ok(self.element_ns(name)?.is_some_and(is_pidf_ns))
    }

    fn root(&mut self, start: &BytesStart<'i>) -> Result<Document, PidfError> {
        let ns = self.element_ns(start.name())?;
        let local = start.local_name();
        match (ns, local.as_ref()) {
            (Some(ns), b"presence") if is_pidf_ns(ns) => self.presence(start).map(Document::Pidf),
            (None, b"presence") => self.draft(start).map(Document::Draft),
            (ns, local) => {
                // Clark notation, so a namespace mismatch shows.
                let found = match ns {
                    Some(ns) => format!(
                        "{{{}}}{}",
                        String::from_utf8_lossy(ns),
                        String::from_utf8_lossy(local)
                    ),
                    None => String::from_utf8_lossy(local).into_owned(),
                };
                Err(self.error(ErrorKind::NotPresence { found }))
            }
        }
    }

    fn presence(&mut self, start: &BytesStart<'i>) -> Result<Presence, PidfError> {
        let mut presence = Presence::default();
        let mut entity = None;
        for attr in self.attributes(start)? {
            match attr {
                Attr::Decl(ns) => {
                    if ns.prefix.is_some() {
                        presence.namespaces.push(ns);
                    }
                }
                Attr::Plain(a) if a.namespace.is_none() && a.name == "entity" => {
                    entity = Some(a.value)
                }
                Attr::Plain(a) => presence.attributes.push(a),
            }
        }
        presence.entity = entity.ok_or_else(|| {
            self.error(ErrorKind::MissingAttribute {
                element: "presence",
                attribute: "entity",
            })
        })?;
        loop {
            match self.next()? {
                Ev::Start(child) => {
                    if !self.is_pidf(child.name())? {
                        let kept = self.kept(&child)?;
                        presence.extensions.push(kept);
                        continue;
                    }
                    match child.local_name().as_ref() {
                        b"tuple" => {
                            if presence.tuples.len() == self.limits.max_tuples {
                                return Err(self.error(ErrorKind::LimitExceeded {
                                    limit: "tuples",
                                    max: self.limits.max_tuples,
                                }));
                            }
                            let at = self.pos;
                            let tuple = self.tuple(&child)?;
                            if presence.tuples.iter().any(|t| t.id == tuple.id) {
                                return Err(PidfError::new(
                                    ErrorKind::DuplicateTupleId(tuple.id),
                                    at,
                                ));
                            }
                            presence.tuples.push(tuple);
                        }
                        b"note" => {
                            let note = self.note(&child)?;
                            presence.notes.push(note);
                        }
                        _ => return Err(self.unexpected(&child, "presence")),
                    }
                }
                Ev::Text(text) => self.whitespace(&text, "presence")?,
                Ev::End => return Ok(presence),
                Ev::Eof => return Err(self.error(ErrorKind::Xml("unclosed <presence>".into()))),
            }
        }
    }

    fn tuple(&mut self, start: &BytesStart<'i>) -> Result<Tuple, PidfError> {
        let mut tuple = Tuple::default();
        let mut id = None;
        for attr in self.attributes(start)? {
            match attr {
                Attr::Decl(_) => {}
                Attr::Plain(a) if a.namespace.is_none() && a.name == "id" => id = Some(a.value),
                Attr::Plain(a) => tuple.attributes.push(a),
            }
        }
        let id = id.ok_or_else(|| {
            self.error(ErrorKind::MissingAttribute {
                element: "tuple",
                attribute: "id",
            })
        })?;
        if !is_ncname(&id) {
            return Err(self.error(ErrorKind::InvalidTupleId(id)));
        }
        tuple.id = id;
        let mut status = None;
        loop {
            match self.next()? {
                Ev::Start(child) => {
                    if !self.is_pidf(child.name())? {
                        let kept = self.kept(&child)?;
                        tuple.extensions.push(kept);
                        continue;
                    }
                    match child.local_name().as_ref() {
                        b"status" => {
                            if status.is_some() {
                                return Err(self.duplicate("status"));
                            }
                            status = Some(self.status()?);
                        }
                        b"contact" => {
                            if tuple.contact.is_some() {
                                return Err(self.duplicate("contact"));
                            }
                            tuple.contact = Some(self.contact(&child)?);
                        }
                        b"note" => {
                            let note = self.note(&child)?;
                            tuple.notes.push(note);
                        }
                        b"timestamp" => {
                            if tuple.timestamp.is_some() {
                                return Err(self.duplicate("timestamp"));
                            }
                            let at = self.pos;
                            let text = self.text_only("timestamp")?;
                            let text = text.trim();
                            if !is_date_time(text) {
                                return Err(PidfError::new(
                                    ErrorKind::InvalidTimestamp(text.to_owned()),
                                    at,
                                ));
                            }
                            tuple.timestamp = Some(text.to_owned());
                        }
                        _ => return Err(self.unexpected(&child, "tuple")),
                    }
                }
                Ev::Text(text) => self.whitespace(&text, "tuple")?,
                Ev::End => break,
                Ev::Eof => return Err(self.error(ErrorKind::Xml("unclosed <tuple>".into()))),
            }
        }
        tuple.status = status.ok_or_else(|| {
            self.error(ErrorKind::MissingElement {
                element: "status",
                parent: "tuple",
            })
        })?;
        Ok(tuple)
    }

    fn status(&mut self) -> Result<Status, PidfError> {
        let mut status = Status::default();
        loop {
            match self.next()? {
                Ev::Start(child) => {
                    if !self.is_pidf(child.name())? {
                        let kept = self.kept(&child)?;
                        status.extensions.push(kept);
                        continue;
                    }
                    if child.local_name().as_ref() != b"basic" {
                        return Err(self.unexpected(&child, "status"));
                    }
                    if status.basic.is_some() {
                        return Err(self.duplicate("basic"));
                    }
                    let at = self.pos;
                    let text = self.text_only("basic")?;
                    status.basic = Some(match text.trim() {
                        "open" => Basic::Open,
                        "closed" => Basic::Closed,
                        other => {
                            return Err(PidfError::new(
                                ErrorKind::InvalidBasic(other.to_owned()),
                                at,
                            ))
                        }
                    });
                }
                Ev::Text(text) => self.whitespace(&text, "status")?,
                Ev::End => return Ok(status),
                Ev::Eof => return Err(self.error(ErrorKind::Xml("unclosed <status>".into()))),
            }
        }
    }

    fn contact(&mut self, start: &BytesStart<'i>) -> Result<Contact, PidfError> {
        let mut priority = None;
        for attr in self.attributes(start)? {
            if let Attr::Plain(a) = attr {
                if a.namespace.is_none() && a.name == "priority" {
                    priority = parse_priority(&a.value)
                        .ok_or_else(|| self.error(ErrorKind::InvalidPriority(a.value.clone())))?;
                }
            }
        }
        let uri = self.text_only("contact")?.trim().to_owned();
        Ok(Contact { uri, priority })
    }

    fn note(&mut self, start: &BytesStart<'i>) -> Result<Note, PidfError> {
        let mut lang = None;
        for attr in self.attributes(start)? {
            if let Attr::Plain(a) = attr {
                if a.namespace.as_deref() == Some(XML_NS) && a.name == "lang" {
                    lang = Some(a.value);
                }
            }
        }
        let text = self.text_only("note")?;
        Ok(Note { lang, text })
    }

    /// The text of an element that may hold nothing else.
    fn text_only(&mut self, element: &'static str) -> Result<String, PidfError> {
        let mut out = String::new();
        loop {
            match self.next()? {
                Ev::Text(text) => out.push_str(&text),
                Ev::End => return Ok(out),
                Ev::Start(child) => return Err(self.unexpected(&child, element)),
                Ev::Eof => return Err(self.error(ErrorKind::Xml(format!("unclosed <{element}>")))),
            }
        }
    }

    /// Reads a whole element outside the PIDF namespace into a kept tree,
    /// checking `mustUnderstand` (RFC 3863 section 4.2.3) when asked to: an
    /// element so marked must be understood unless it sits inside an element
    /// that is itself ignored.
    fn kept(&mut self, start: &BytesStart<'i>) -> Result<Element, PidfError> {
        let root = self.kept_element(start)?;
        let check_children = self.must_understand(&root)?;
        // (element, whether its children are checked for mustUnderstand)
        let mut stack = vec![(root, check_children)];
        loop {
            match self.next()? {
                Ev::Start(child) => {
                    let element = self.kept_element(&child)?;
                    let checked = stack.last().is_some_and(|(_, check)| *check);
                    let check = checked && self.must_understand(&element)?;
                    stack.push((element, check));
                }
                Ev::Text(text) => {
                    if let Some((parent, _)) = stack.last_mut() {
                        push_text(&mut parent.children, text);
                    }
                }
                Ev::End => {
                    let Some((done, _)) = stack.pop() else {
                        return Err(self.error(ErrorKind::Xml("unmatched end tag".into())));
                    };
                    match stack.last_mut() {
                        Some((parent, _)) => parent.children.push(Node::Element(done)),
                        None => return Ok(done),
                    }
                }
                Ev::Eof => return Err(self.error(ErrorKind::Xml("unclosed element".into()))),
            }
        }
    }

    /// Whether `element` is understood (so its children are checked in turn);
    /// an error when it is marked `mustUnderstand` and is not understood.
    /// Without an `understood` set nothing is checked.
    fn must_understand(&self, element: &Element) -> Result<bool, PidfError> {
        let Some(understood) = self.understood else {
            return Ok(false);
        };
        let is_understood = element
            .namespace
            .as_deref()
            .is_some_and(|ns| understood.contains(&ns));
        let marked = element.attributes.iter().any(|a| {
            a.name == "mustUnderstand"
                && (a.namespace.is_none() || a.namespace.as_deref() == Some(PIDF_NS))
                && matches!(a.value.trim(), "true" | "1")
        });
        if marked && !is_understood {
            return Err(self.error(ErrorKind::MustUnderstand {
                namespace: element.namespace.clone().unwrap_or_default(),
                name: element.name.clone(),
            }));
        }
        Ok(is_understood)
    }

    /// A namespace prefix as written; an empty one (`xmlns:=`, `<:a>`) is
    /// not a name.
    fn prefix(&self, raw: &[u8]) -> Result<String, PidfError> {
        match utf8(raw) {
            Ok("") => Err(self.error(ErrorKind::Xml("empty namespace prefix".into()))),
            Ok(p) => Ok(p.to_owned()),
            Err(()) => Err(self.error(ErrorKind::InvalidUtf8)),
        }
    }

    fn kept_element(&self, start: &BytesStart<'i>) -> Result<Element, PidfError> {
        let name = start.name();
        let namespace = match self.element_ns(name)? {
            Some(raw) => Some(namespace_uri(raw).map_err(|kind| self.error(kind))?),
            None => None,
        };
        let prefix = match name.prefix() {
            Some(p) => Some(self.prefix(p.into_inner())?),
            None => None,
        };
        let local = utf8(start.local_name().into_inner())
            .map_err(|()| self.error(ErrorKind::InvalidUtf8))?
            .to_owned();
        let mut element = Element {
            prefix,
            namespace,
            name: local,
            ..Element::default()
        };
        for attr in self.attributes(start)? {
            match attr {
                Attr::Decl(ns) => element.namespaces.push(ns),
                Attr::Plain(a) => element.attributes.push(a),
            }
        }
        // Declarations the element's own names use are re-made on output
        // exactly where needed, so only the others are kept.
        let Element {
            prefix,
            attributes,
            namespaces,
            ..
        } = &mut element;
        namespaces.retain(|ns| {
            ns.prefix != *prefix
                && !attributes
                    .iter()
                    .any(|a| a.prefix.is_some() && a.prefix == ns.prefix)
        });
        Ok(element)
    }

    /// The attributes of a start tag, namespace-resolved, values normalised.
    fn attributes(&self, start: &BytesStart<'i>) -> Result<Vec<Attr>, PidfError> {
        let mut out = Vec::new();
        for attr in start.attributes() {
            let attr = attr.map_err(|e| self.error(ErrorKind::Xml(e.to_string())))?;
            let value = attr
                .normalized_value(XmlVersion::Implicit1_0)
                .map_err(|e| match e {
                    quick_xml::Error::Escape(
                        quick_xml::escape::EscapeError::UnrecognizedEntity(_, name),
                    ) => self.error(ErrorKind::UndefinedEntity(name)),
                    e => self.error(xml_error(e)),
                })?
                .into_owned();
            if let Some(decl) = attr.key.as_namespace_binding() {
                let prefix = match decl {
                    PrefixDeclaration::Default => None,
                    // Bound by XML itself; never written, so never kept.
                    PrefixDeclaration::Named(b"xml" | b"xmlns") => continue,
                    PrefixDeclaration::Named(p) => Some(self.prefix(p)?),
                };
                out.push(Attr::Decl(Namespace { prefix, uri: value }));
                continue;
            }
            let prefix = match attr.key.prefix() {
                Some(p) => Some(self.prefix(p.into_inner())?),
                None => None,
            };
            let namespace = match self.reader.resolver().resolve_attribute(attr.key).0 {
                ResolveResult::Bound(ns) => {
                    Some(namespace_uri(ns.into_inner()).map_err(|kind| self.error(kind))?)
                }
                ResolveResult::Unbound => None,
                ResolveResult::Unknown(p) => {
                    return Err(self.error(ErrorKind::UnboundPrefix(
                        String::from_utf8_lossy(&p).into_owned(),
                    )))
                }
            };
            let name = utf8(attr.key.local_name().into_inner())
                .map_err(|()| self.error(ErrorKind::InvalidUtf8))?
                .to_owned();
            out.push(Attr::Plain(Attribute {
                prefix,
                namespace,
                name,
                value,
            }));
        }
        Ok(out)
    }

    /// The draft's `<presence entityInfo=..>` with `<tuple destination=..
    /// status=..>` children (draft-ietf-impp-cpim-02 section 9).
    fn draft(&mut self, start: &BytesStart<'i>) -> Result<DraftPresence, PidfError> {
        let mut presence = DraftPresence::default();
        for attr in self.attributes(start)? {
            if let Attr::Plain(a) = attr {
                if a.namespace.is_none() && a.name == "entityInfo" {
                    presence.entity_info = Some(a.value);
                }
            }
        }
        loop {
            match self.next()? {
                Ev::Start(child) => {
                    if self.element_ns(child.name())?.is_some()
                        || child.local_name().as_ref() != b"tuple"
                    {
                        return Err(self.unexpected(&child, "presence"));
                    }
                    if presence.tuples.len() == self.limits.max_tuples {
                        return Err(self.error(ErrorKind::LimitExceeded {
                            limit: "tuples",
                            max: self.limits.max_tuples,
                        }));
                    }
                    let mut destination = None;
                    let mut status = None;
                    for attr in self.attributes(&child)? {
                        if let Attr::Plain(a) = attr {
                            match (a.namespace.is_none(), a.name.as_str()) {
                                (true, "destination") => destination = Some(a.value),
                                (true, "status") => status = Some(a.value),
                                _ => {}
                            }
                        }
                    }
                    let missing = |attribute| {
                        self.error(ErrorKind::MissingAttribute {
                            element: "tuple",
                            attribute,
                        })
                    };
                    let destination = destination.ok_or_else(|| missing("destination"))?;
                    let status = status.ok_or_else(|| missing("status"))?;
                    let status = match status.as_str() {
                        "open" => Basic::Open,
                        "closed" => Basic::Closed,
                        _ => return Err(self.error(ErrorKind::InvalidBasic(status))),
                    };
                    let text = self.text_only("tuple")?;
                    presence.tuples.push(DraftTuple {
                        destination,
                        status,
                        text,
                    });
                }
                Ev::Text(text) => self.whitespace(&text, "presence")?,
                Ev::End => break,
                Ev::Eof => return Err(self.error(ErrorKind::Xml("unclosed <presence>".into()))),
            }
        }
        // The draft's DTD: `<!ELEMENT presence (tuple+)>`.
        if presence.tuples.is_empty() {
            return Err(self.error(ErrorKind::MissingElement {
                element: "tuple",
                parent: "presence",
            }));
        }
        Ok(presence)
    }

    fn whitespace(&self, text: &str, parent: &'static str) -> Result<(), PidfError> {
        if is_whitespace(text) {
            Ok(())
        } else {
            Err(self.error(ErrorKind::UnexpectedText { parent }))
        }
    }

    fn unexpected(&self, child: &BytesStart<'_>, parent: &'static str) -> PidfError {
        self.error(ErrorKind::UnexpectedElement {
            element: String::from_utf8_lossy(child.name().as_ref()).into_owned(),
            parent,
        })
    }

    fn duplicate(&self, element: &'static str) -> PidfError {
        self.error(ErrorKind::DuplicateElement(element))
    }
}

/// A namespace URI as the resolver gives it (the declaration's raw value)
/// normalised like any attribute value, so that it equals the declaration
/// as kept.
fn namespace_uri(raw: &[u8]) -> Result<String, ErrorKind> {
    if !raw
        .iter()
        .any(|b| matches!(b, b'&' | b'\t' | b'\r' | b'\n'))
    {
        return utf8(raw)
            .map(str::to_owned)
            .map_err(|()| ErrorKind::InvalidUtf8);
    }
    quick_xml::events::attributes::Attribute::from((&b"xmlns"[..], raw))
        .normalized_value(XmlVersion::Implicit1_0)
        .map(|v| v.into_owned())
        .map_err(xml_error)
}

/// Whether a raw namespace URI is PIDF's, however it was escaped.
fn is_pidf_ns(raw: &[u8]) -> bool {
    raw == PIDF_NS.as_bytes() || namespace_uri(raw).is_ok_and(|ns| ns == PIDF_NS)
}

fn xml_error(e: quick_xml::Error) -> ErrorKind {
    match e {
        quick_xml::Error::Encoding(_) => ErrorKind::InvalidUtf8,
        e => ErrorKind::Xml(e.to_string()),
    }
}

enum Attr {
    Decl(Namespace),
    Plain(Attribute),
}

/// Appends text, merging with a preceding text node so that the tree does
/// not depend on where references split the character data.
fn push_text(children: &mut Vec<Node>, text: Cow<'_, str>) {
    if text.is_empty() {
        return;
    }
    if let Some(Node::Text(last)) = children.last_mut() {
        last.push_str(&text);
    } else {
        children.push(Node::Text(text.into_owned()));
    }
}

fn utf8(bytes: &[u8]) -> Result<&str, ()> {
    std::str::from_utf8(bytes).map_err(|_| ())
}

fn is_whitespace(text: &str) -> bool {
    text.bytes()
        .all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
}

/// A `priority` value (RFC 3863 section 4.1.5): a decimal number. Values
/// outside 0..1 are ignored as the RFC asks (`Some(None)`); text that is not
/// a decimal number at all is an error (`None`).
pub(super) fn parse_priority(value: &str) -> Option<Option<f32>> {
    let value = value.trim();
    let (int, frac) = value.split_once('.').unwrap_or((value, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (int.is_empty() && frac.is_empty()) || !digits(int) || !digits(frac) {
        return None;
    }
    let number: f64 = value.parse().ok()?;
    // The schema allows three decimals; more are rounded so that the value
    // read is the value written back.
    let number = (number * 1000.0).round() / 1000.0;
    Some((0.0..=1.0).contains(&number).then_some(number as f32))
}

/// An XML `NCName` (the lexical space of `xs:ID`), the form a tuple `id`
/// must take.
pub(super) fn is_ncname(s: &str) -> bool {
    let mut chars = s.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    (first == '_' || first.is_alphabetic())
        && chars.all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '\u{B7}'))
}

/// An RFC 3339 `date-time` with capital `T` and `Z` (RFC 3863 section 4.1.7);
/// checked by hand because the grammar is a dozen fixed-width fields.
pub(super) fn is_date_time(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |range: std::ops::Range<usize>| {
        b.get(range)
            .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
    };
    let at = |i: usize, c: u8| b.get(i) == Some(&c);
    if !(digits(0..4)
        && at(4, b'-')
        && digits(5..7)
        && at(7, b'-')
        && digits(8..10)
        && at(10, b'T')
        && digits(11..13)
        && at(13, b':')
        && digits(14..16)
        && at(16, b':')
        && digits(17..19))
    {
        return false;
    }
    let num = |r: std::ops::Range<usize>| {
        s.get(r)
            .and_then(|d| d.parse::<u32>().ok())
            .unwrap_or(u32::MAX)
    };
    if !(1..=12).contains(&num(5..7))
        || !(1..=31).contains(&num(8..10))
        || num(11..13) > 23
        || num(14..16) > 59
        || num(17..19) > 60
    {
        return false;
    }
    let mut i = 19;
    if at(i, b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    match b.get(i) {
        Some(b'Z') => i + 1 == b.len(),
        Some(b'+' | b'-') => {
            i + 6 == b.len()
                && digits(i + 1..i + 3)
                && at(i + 3, b':')
                && digits(i + 4..i + 6)
                && num(i + 1..i + 3) <= 23
                && num(i + 4..i + 6) <= 59
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priority_values() {
        assert_eq!(parse_priority("0.8"), Some(Some(0.8)));
        assert_eq!(parse_priority("1.00"), Some(Some(1.0)));
        assert_eq!(parse_priority(" 0 "), Some(Some(0.0)));
        assert_eq!(parse_priority(".5"), Some(Some(0.5)));
        assert_eq!(parse_priority("2"), Some(None));
        assert_eq!(parse_priority("high"), None);
        assert_eq!(parse_priority("-0.5"), None);
        assert_eq!(parse_priority("."), None);
        assert_eq!(parse_priority("1e-1"), None);
        assert_eq!(parse_priority("0.0004"), Some(Some(0.0)));
        assert_eq!(parse_priority("0.9996"), Some(Some(1.0)));
        assert_eq!(parse_priority("1.0004"), Some(Some(1.0)));
    }

    #[test]
    fn date_times() {
        assert!(is_date_time("2001-10-27T16:49:29Z"));
        assert!(is_date_time("2005-05-30T22:00:29.5+09:00"));
        assert!(!is_date_time("2001-10-27t16:49:29z"));
        assert!(!is_date_time("2001-13-27T16:49:29Z"));
        assert!(!is_date_time("2001-10-27T16:49:29"));
        assert!(!is_date_time("2001-10-27T16:49:29.Z"));
        assert!(!is_date_time("yesterday"));
    }

    #[test]
    fn ncnames() {
        assert!(is_ncname("bs35r9"));
        assert!(is_ncname("_a.b-c"));
        assert!(!is_ncname("9abc"));
        assert!(!is_ncname("a:b"));
        assert!(!is_ncname(""));
    }
}
