//! The PIDF parser: one pass over quick-xml's namespace-aware events, no
//! DTD, no entity expansion beyond XML's five predefined entities and
//! character references, and every [`Limits`] bound checked as it is reached.

use super::draft::{DraftPresence, DraftTuple};
use super::{
    Attribute, Basic, Contact, Declared, Document, Element, ErrorKind, Extension, Limits,
    Namespace, Node, Note, PidfError, Presence, Status, Tuple, PIDF_NS, XML_NS,
};
use quick_xml::events::attributes::{AttrError, Attribute as AttrValue};
use quick_xml::events::{BytesCData, BytesRef, BytesStart, BytesText, Event};
use quick_xml::name::{PrefixDeclaration, QName};
use quick_xml::{Reader, XmlVersion};
use std::borrow::Cow;
use std::ops::Range;
use std::sync::Arc;

/// Parses a PIDF document or the draft's `<presence>`; `understood` is the set
/// of extension namespaces the caller processes (`None`: keep everything, do
/// not enforce `mustUnderstand`).
pub(super) fn document<'i>(
    xml: &'i [u8],
    limits: &Limits,
    understood: Option<&[&str]>,
) -> Result<Document<'i>, PidfError> {
    document_with(xml, limits, understood, true)
}

/// Refuses the first character XML does not allow (see
/// [`super::first_non_xml_char`]; the reader does not check).
fn not_chars(input: &[u8]) -> Result<(), PidfError> {
    match super::first_non_xml_char(input) {
        Some((at, c)) => Err(PidfError::new(ErrorKind::NotXmlChar(c), at)),
        None => Ok(()),
    }
}

/// The UTF-8 encoding of U+FEFF, allowed before a document.
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// [`document`], passing over plain extension content or not (`skip`), so
/// that tests can hold the two ways to the same results.
fn document_with<'i>(
    xml: &'i [u8],
    limits: &Limits,
    understood: Option<&[&str]>,
    skip: bool,
) -> Result<Document<'i>, PidfError> {
    if xml.len() > limits.max_bytes {
        return Err(PidfError::new(
            ErrorKind::LimitExceeded {
                limit: "bytes",
                max: limits.max_bytes,
            },
            limits.max_bytes,
        ));
    }
    not_chars(xml)?;
    let mut p = Parser::new(xml, limits, understood);
    p.skip_plain = skip;
    if p.reader.get_ref().starts_with(UTF8_BOM) {
        // Text before the root, as the reader would have found it.
        p.pos = p.offset();
        return Err(p.error(ErrorKind::UnexpectedText { parent: "document" }));
    }
    p.skip_plain_declaration();
    let mut doc = None;
    loop {
        match p.next_element()? {
            Ev::Start(start) => {
                if doc.is_some() {
                    return Err(p.error(ErrorKind::ContentAfterRoot));
                }
                doc = Some(p.root(&start)?);
            }
            Ev::Text(text) => p.whitespace(&text, "document")?,
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
    /// Character data as read: most of it is whitespace between elements,
    /// which needs no decoding ([`Parser::decode`] when it is kept).
    Text(Text<'i>),
    Eof,
}

/// Character data as quick-xml gives it.
enum Text<'i> {
    Raw(BytesText<'i>),
    CData(BytesCData<'i>),
    /// A character or predefined entity reference, resolved.
    Char(char),
}

impl Text<'_> {
    /// Whether it is XML whitespace only. Decoding (UTF-8, line ends) keeps
    /// whitespace whitespace and the rest not, so the raw bytes tell.
    fn is_whitespace(&self) -> bool {
        match self {
            Text::Raw(raw) => is_whitespace_bytes(raw),
            Text::CData(raw) => is_whitespace_bytes(raw),
            Text::Char(c) => matches!(c, ' ' | '\t' | '\r' | '\n'),
        }
    }
}

/// Parses one standalone element outside the PIDF namespace into a kept
/// [`Extension`] (see [`Extension::parse`]).
pub(super) fn extension(xml: &str) -> Result<Extension<'_>, PidfError> {
    not_chars(xml.as_bytes())?;
    let limits = Limits::default();
    let mut p = Parser::new(xml.as_bytes(), &limits, None);
    let mut found = None;
    loop {
        match p.next()? {
            Ev::Start(start) => {
                if found.is_some() {
                    return Err(p.error(ErrorKind::ContentAfterRoot));
                }
                if p.element_ns(start.name())?.is_some_and(is_pidf_ns) {
                    return Err(p.unexpected(&start, "extension"));
                }
                found = Some(p.fragment(&start)?);
            }
            Ev::Text(text) => p.whitespace(&text, "extension")?,
            Ev::End => return Err(p.error(ErrorKind::Xml("unmatched end tag".into()))),
            Ev::Eof => break,
        }
    }
    found.ok_or_else(|| p.error(ErrorKind::NoRootElement))
}

/// The element tree of a kept extension's XML (see [`Extension::element`]).
pub(super) fn element_tree(xml: &str) -> Result<Element, PidfError> {
    let limits = Limits::default();
    let mut p = Parser::new(xml.as_bytes(), &limits, None);
    loop {
        match p.next()? {
            Ev::Start(start) => return p.kept(&start),
            Ev::Text(text) => p.whitespace(&text, "extension")?,
            Ev::End | Ev::Eof => return Err(p.error(ErrorKind::NoRootElement)),
        }
    }
}

struct Parser<'i, 'a> {
    input: &'i [u8],
    /// The input as text, when it is valid UTF-8 as a whole (checked once,
    /// the usual case): then any part of it cut at ASCII bytes is valid
    /// UTF-8 too, and taking it as text costs no check of its own.
    text: Option<&'i str>,
    reader: Reader<&'i [u8]>,
    scope: Scope,
    limits: &'a Limits,
    understood: Option<&'a [&'a str]>,
    depth: usize,
    elements: usize,
    /// Byte offset where the current event starts.
    pos: usize,
    /// An empty-element tag was returned as `Start`; its `End` comes next.
    pending_end: bool,
    /// The reader's last event was text, which it read up to the markup
    /// or reference after it: it takes its input to start there, so the
    /// plain readings (which move that input on) wait for its next event.
    after_text: bool,
    /// Inside a fragment: prefixes declared on its open elements, with the
    /// depth of the element declaring each (`""` for the default namespace),
    /// as ranges of `names`.
    inner: Vec<(Range<usize>, usize)>,
    /// Inside a fragment: prefixes used but declared outside it, with the
    /// namespace bound to each there (`None`: the default is no namespace),
    /// as ranges of `names`.
    outer: Vec<(Range<usize>, Option<Range<usize>>)>,
    /// The bytes `inner` and `outer` point into; one buffer reused by every
    /// fragment, so that noting a name does not allocate.
    names: Vec<u8>,
    /// Inside a fragment: whether each open element's children are checked
    /// for `mustUnderstand`.
    checks: Vec<bool>,
    /// Bytes passed over without the reader (a byte order mark, plain
    /// content, see [`Parser::skip_plain_content`]), which the reader's
    /// positions lack.
    skipped: usize,
    /// Whether to pass over plain fragment content (always, but in tests).
    skip_plain: bool,
    /// Namespace declarations written on fragments so far: prefix, raw
    /// namespace (`None`: no namespace), the text written, and the same
    /// text as the input has it, when it does.
    declarations: Vec<Declaration<'i>>,
    /// The declaration texts added to fragments so far, by the indices in
    /// `declarations` they join: extensions needing the same share one.
    joined: Vec<(Vec<usize>, Arc<str>)>,
    /// The indices in `declarations` of the fragment being finished.
    declared: Vec<usize>,
    /// The declaration texts of fragments needing one, by its index in
    /// `declarations`.
    single: Vec<Option<Arc<str>>>,
    /// The last tag read by [`Parser::plain_attributes_of`] (where its
    /// attribute bytes are in the input, and how long) and what was found.
    last_plain: Option<((usize, usize), Option<PlainAttributes>)>,
}

impl<'i, 'a> Parser<'i, 'a> {
    fn new(input: &'i [u8], limits: &'a Limits, understood: Option<&'a [&'a str]>) -> Self {
        // The reader drops a byte order mark wherever its input starts
        // when it reads its first event, without counting it: so it is
        // given none (one at the very start is passed over and counted
        // here), lest it drop a second one, or one after a declaration
        // passed over by hand, which are text.
        let after_bom = input.strip_prefix(UTF8_BOM).unwrap_or(input);
        let mut reader = Reader::from_reader(after_bom);
        let config = reader.config_mut();
        config.check_end_names = true;
        config.expand_empty_elements = false;
        Parser {
            input,
            text: std::str::from_utf8(input).ok(),
            reader,
            scope: Scope::default(),
            limits,
            understood,
            depth: 0,
            elements: 0,
            pos: 0,
            pending_end: false,
            after_text: false,
            inner: Vec::new(),
            outer: Vec::new(),
            names: Vec::new(),
            checks: Vec::new(),
            skipped: input.len() - after_bom.len(),
            skip_plain: true,
            declarations: Vec::new(),
            joined: Vec::new(),
            declared: Vec::new(),
            single: Vec::new(),
            last_plain: None,
        }
    }

    /// `range` of the input as text: `None` when it is not valid UTF-8
    /// (or out of the input), as `std::str::from_utf8` of it would say.
    fn str_at(&self, range: Range<usize>) -> Option<&'i str> {
        match self.text {
            // A valid whole cut at a place that is not a character
            // boundary leaves invalid pieces: `get` says `None` then too.
            Some(text) => text.get(range),
            None => std::str::from_utf8(self.input.get(range)?).ok(),
        }
    }

    /// The offset in the input after the last event read.
    fn offset(&self) -> usize {
        usize::try_from(self.reader.buffer_position())
            .map_or(usize::MAX, |at| at.saturating_add(self.skipped))
    }

    fn error(&self, kind: ErrorKind) -> PidfError {
        PidfError::new(kind, self.pos)
    }

    /// The next event that matters, with text decoded and references
    /// resolved; comments and processing instructions are skipped.
    fn next(&mut self) -> Result<Ev<'i>, PidfError> {
        if self.pending_end {
            self.pending_end = false;
            self.depth -= 1;
            self.scope.pop(self.depth);
            return Ok(Ev::End);
        }
        loop {
            self.pos = self.offset();
            let event = self.reader.read_event();
            self.after_text = matches!(event, Ok(Event::Text(_)));
            let event = match event {
                Ok(event) => event,
                Err(e) => {
                    let at = usize::try_from(self.reader.error_position())
                        .map_or(self.pos, |at| at.saturating_add(self.skipped));
                    return Err(PidfError::new(xml_error(e), at));
                }
            };
            match event {
                Event::Start(start) => return self.open(start, false),
                Event::Empty(start) => return self.open(start, true),
                Event::End(_) => {
                    self.depth = self.depth.saturating_sub(1);
                    self.scope.pop(self.depth);
                    return Ok(Ev::End);
                }
                Event::Text(text) => return Ok(Ev::Text(Text::Raw(text))),
                Event::CData(data) => return Ok(Ev::Text(Text::CData(data))),
                Event::GeneralRef(reference) => {
                    return self.reference(&reference).map(|c| Ev::Text(Text::Char(c)));
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

    /// Passes over an XML declaration at the start written in one of the
    /// usual plain forms (UTF-8 or no encoding named), which says nothing
    /// the reader's event would: about 1,200 instructions of a one-tuple
    /// document's parse went to reading its attributes. Anything else is
    /// left to the reader, which checks the encoding it names.
    fn skip_plain_declaration(&mut self) {
        const PLAIN: [&[u8]; 4] = [
            br#"<?xml version="1.0" encoding="UTF-8"?>"#,
            br#"<?xml version="1.0" encoding="utf-8"?>"#,
            br#"<?xml version='1.0' encoding='UTF-8'?>"#,
            br#"<?xml version="1.0"?>"#,
        ];
        // Called before the first event: the reader's input is all of
        // ours but a byte order mark.
        if !self.skip_plain || self.reader.buffer_position() != 0 {
            return;
        }
        let input = self.reader.get_ref();
        if let Some(decl) = PLAIN.iter().find(|decl| input.starts_with(decl)) {
            let rest = &input[decl.len()..];
            // Given to the reader before its first event, a byte order
            // mark here would be dropped (see [`Parser::new`]).
            if !rest.starts_with(UTF8_BOM) {
                self.skipped += decl.len();
                *self.reader.get_mut() = rest;
            }
        }
    }

    /// Whether the plain readings may pass over input without the reader:
    /// they are on, no `End` of ours is pending, and the reader is not
    /// part way through text (see [`Parser::after_text`]).
    fn may_move_reader(&self) -> bool {
        self.skip_plain && !self.pending_end && !self.after_text
    }

    /// [`Parser::next`] where text that is only white space before a tag
    /// is passed over by hand, which costs less than a reader event: for
    /// callers to whom such text means nothing (they check it is white
    /// space, or valid UTF-8, which white space is).
    fn next_element(&mut self) -> Result<Ev<'i>, PidfError> {
        self.skip_space();
        self.next()
    }

    /// Passes over white space before a tag (see [`Parser::next_element`]).
    fn skip_space(&mut self) {
        if self.may_move_reader() {
            let input = self.input;
            let rest = input.get(self.offset()..).unwrap_or_default();
            let spaces = rest.iter().take_while(|&&b| is_space(b)).count();
            if spaces > 0 && rest.get(spaces) == Some(&b'<') {
                self.skipped += spaces;
                *self.reader.get_mut() = &rest[spaces..];
            }
        }
    }

    /// The next element read whole without the reader, when it can be:
    /// outside the PIDF namespace, as [`Parser::plain_extension`] reads
    /// it, or a PIDF element named in `leaves`, as [`Parser::plain_leaf`]
    /// finds it (`<status>` as [`Parser::plain_status`] reads it). Its name is read once for both. White space before it is
    /// passed over as [`Parser::next_element`] does; the callers take it
    /// for that.
    fn plain_child(&mut self, leaves: &[&[u8]]) -> Result<Plain<'i>, PidfError> {
        self.skip_space();
        if !self.may_move_reader() {
            return Ok(Plain::None);
        }
        let input = self.input;
        let begin = self.offset();
        if input.get(begin) != Some(&b'<') {
            return Ok(Plain::None);
        }
        let max_depth = self.limits.max_depth.min(MAX_DEPTH);
        if self.depth + 1 > max_depth || self.elements + 1 > self.limits.max_elements {
            return Ok(Plain::None);
        }
        let Some(name_end) = plain_name(input, begin + 1) else {
            return Ok(Plain::None);
        };
        let (prefix, local) = split_name(&input[begin + 1..name_end]);
        match self.scope.prefix_is_pidf(prefix) {
            Ok(true) if local == b"status" && leaves.contains(&local) => Ok(self
                .plain_status(begin, name_end)
                .map_or(Plain::None, Plain::Status)),
            Ok(true) if leaves.contains(&local) => Ok(self
                .plain_leaf(begin, name_end)
                .map_or(Plain::None, Plain::Leaf)),
            Ok(false) if prefix != Some(b"xml") => Ok(self
                .plain_extension(begin, name_end)?
                .map_or(Plain::None, Plain::Extension)),
            _ => Ok(Plain::None),
        }
    }

    /// The `<status>` at `begin` (its name ends at `name_end`), read whole
    /// without the reader when it is plain: a start tag without
    /// attributes, then only white space, a `<basic>` as
    /// [`Parser::plain_leaf`] finds it and plain extensions, then its end
    /// tag `</name>`. What reading it would give. Anything else puts back
    /// what was taken and gives `None`, for the reader to read it all, so
    /// that errors are the reader's (what the attempt left in the
    /// declaration caches is as valid for the reader's reading).
    fn plain_status(&mut self, begin: usize, name_end: usize) -> Option<Status<'i>> {
        let input = self.input;
        if input.get(name_end) != Some(&b'>') {
            return None;
        }
        let (skipped, elements, depth) = (self.skipped, self.elements, self.depth);
        self.elements += 1;
        self.depth += 1;
        self.skipped += name_end + 1 - begin;
        *self.reader.get_mut() = input.get(name_end + 1..).unwrap_or_default();
        let status = self.plain_status_content(&input[begin + 1..name_end]);
        self.depth = depth;
        if status.is_none() {
            self.skipped = skipped;
            self.elements = elements;
            *self.reader.get_mut() = input.get(begin..).unwrap_or_default();
        }
        status
    }

    /// [`Parser::plain_status`]'s reading of the content, up to and with
    /// the end tag of `name`.
    fn plain_status_content(&mut self, name: &[u8]) -> Option<Status<'i>> {
        let mut status = Status::default();
        loop {
            match self.plain_child(&[b"basic"]).ok()? {
                Plain::Extension(kept) => status.extensions.push(kept),
                Plain::Leaf(leaf) => {
                    // Its attributes mean nothing, as when read.
                    let basic = match leaf.text.trim() {
                        "open" => Basic::Open,
                        "closed" => Basic::Closed,
                        _ => return None,
                    };
                    if status.basic.is_some() {
                        return None;
                    }
                    self.take_leaf(leaf.end);
                    status.basic = Some(basic);
                }
                Plain::Status(_) => return None,
                Plain::None => {
                    let at = self.offset();
                    let end = at + 2 + name.len();
                    let input = self.input;
                    if input.get(at..at + 2) != Some(b"</")
                        || input.get(at + 2..end) != Some(name)
                        || input.get(end) != Some(&b'>')
                    {
                        return None;
                    }
                    self.skipped += end + 1 - at;
                    *self.reader.get_mut() = input.get(end + 1..).unwrap_or_default();
                    return Some(status);
                }
            }
        }
    }

    /// The element at `begin` (its name, outside the PIDF namespace, ends
    /// at `name_end`), when it is plain as a whole (its start tag as
    /// [`Parser::plain_attributes`] accepts, its content as
    /// [`Parser::plain_content`] does, valid UTF-8), read without the
    /// reader and kept as [`Parser::fragment`] would keep it. `None` with
    /// nothing changed otherwise, for the reader to read it.
    fn plain_extension(
        &mut self,
        begin: usize,
        name_end: usize,
    ) -> Result<Option<Extension<'i>>, PidfError> {
        let input = self.input;
        self.inner.clear();
        self.outer.clear();
        self.names.clear();
        self.checks.clear();
        let scanned = self.plain_element(input, begin, name_end);
        let Some((end, elements)) = scanned else {
            return Ok(None);
        };
        let Some(text) = self.str_at(begin..end) else {
            return Ok(None);
        };
        self.elements += elements;
        self.skipped += end - begin;
        *self.reader.get_mut() = input.get(end..).unwrap_or_default();
        let declarations = self.joined_declarations()?;
        Ok(Some(Extension::from_parts(
            Cow::Borrowed(text),
            name_end - begin,
            declarations,
        )))
    }

    /// [`Parser::plain_extension`]'s scan of the element whose start tag
    /// begins at `begin` with its name ending at `name_end`: the offset after
    /// it and the number of elements in it (itself included). Notes the
    /// prefixes it uses in the order [`Parser::fragment_element`] does:
    /// attributes', then the element's own.
    fn plain_element(
        &mut self,
        input: &[u8],
        begin: usize,
        name_end: usize,
    ) -> Option<(usize, usize)> {
        let name = &input[begin + 1..name_end];
        let (after_tag, empty) = self.plain_attributes(input, name_end)?;
        let (prefix, _) = split_name(name);
        let ns = self.scope.resolve_element_prefix(prefix);
        let prefix = prefix.unwrap_or_default();
        note_use(&mut self.names, &self.inner, &mut self.outer, prefix, ns).ok()?;
        if empty {
            return Some((after_tag, 1));
        }
        // The content is scanned as if the element were open (and counted).
        self.depth += 1;
        self.elements += 1;
        let content = self.plain_content(input, after_tag, name);
        self.depth -= 1;
        self.elements -= 1;
        let (end_tag, elements) = content?;
        Some((end_tag + 2 + name.len() + 1, elements + 1))
    }

    /// The text of a [`Ev::Text`], decoded: UTF-8 checked, line ends
    /// normalised. Called before the next event, so errors point at the text.
    fn decode(&self, text: Text<'i>) -> Result<Cow<'i, str>, PidfError> {
        let decoded = match text {
            Text::Raw(raw) => raw.xml10_content(),
            Text::CData(raw) => raw.xml10_content(),
            Text::Char(c) => return Ok(Cow::Owned(c.to_string())),
        };
        decoded.map_err(|_| self.error(ErrorKind::InvalidUtf8))
    }

    /// Checks a text that is not kept as decoding would: UTF-8 only (line
    /// ends cannot make it invalid).
    fn check_text(&self, text: &Text<'i>) -> Result<(), PidfError> {
        let raw: &[u8] = match text {
            Text::Raw(raw) => raw,
            Text::CData(raw) => raw,
            Text::Char(_) => return Ok(()),
        };
        if raw.is_ascii() || std::str::from_utf8(raw).is_ok() {
            Ok(())
        } else {
            Err(self.error(ErrorKind::InvalidUtf8))
        }
    }

    fn open(&mut self, start: BytesStart<'i>, empty: bool) -> Result<Ev<'i>, PidfError> {
        self.depth += 1;
        self.elements += 1;
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
        // An attribute takes at least four bytes (` a=""` less a quote), so
        // short tags need no count.
        let raw = start.attributes_raw();
        if raw.len() >= 4 * self.limits.max_attributes
            && start.attributes().with_checks(false).count() > self.limits.max_attributes
        {
            return Err(self.error(ErrorKind::LimitExceeded {
                limit: "attributes",
                max: self.limits.max_attributes,
            }));
        }
        if declares_namespace(raw) {
            if let Some(plain) = self.plain_attributes_of(raw) {
                self.declare_plain(raw, &plain)?;
                self.pending_end = empty;
                return Ok(Ev::Start(start));
            }
            for attr in start.attributes().with_checks(false) {
                let attr = attr.map_err(|e| self.error(ErrorKind::Xml(e.to_string())))?;
                if let Some(decl) = attr.key.as_namespace_binding() {
                    let prefix = match decl {
                        PrefixDeclaration::Default => &[][..],
                        PrefixDeclaration::Named(p) => p,
                    };
                    let written = self.written_declaration(&attr);
                    self.scope
                        .push(prefix, &attr.value, self.depth, written)
                        .map_err(|kind| self.error(kind))?;
                }
            }
        }
        self.pending_end = empty;
        Ok(Ev::Start(start))
    }

    /// [`plain_tag_attributes`] of a start tag's attribute bytes `raw`, when
    /// the plain readings are taken (see [`Parser::skip_plain`]).
    /// The last tag's are kept: `<presence>`'s are read for its
    /// declarations when it opens and for `entity` after.
    fn plain_attributes_of(&mut self, raw: &[u8]) -> Option<PlainAttributes> {
        if !self.skip_plain {
            return None;
        }
        // Tags are kept by where they lie in the input; one that does not
        // (never, with the slice reader) is quick-xml's to read.
        let at = self.offset_of(raw)?;
        let key = (at, raw.len());
        if let Some((seen, plain)) = &self.last_plain {
            if *seen == key {
                return plain.clone();
            }
        }
        let plain = plain_tag_attributes(raw).map(|plain| PlainAttributes { at, ..plain });
        self.last_plain = Some((key, plain.clone()));
        plain
    }

    /// The namespace declarations among plain attributes, as [`Parser::open`]
    /// reads them from quick-xml's: the value as written (normalising
    /// leaves a plain one as it is), and where the declaration is written
    /// in the form [`Parser::written_declaration`] looks for.
    fn declare_plain(&mut self, raw: &[u8], plain: &PlainAttributes) -> Result<(), PidfError> {
        for span in plain.iter() {
            let prefix = match &raw[span.name()] {
                b"xmlns" => &[][..],
                name => match name.strip_prefix(b"xmlns:") {
                    Some(prefix) => prefix,
                    None => continue,
                },
            };
            let value = &raw[span.value()];
            let (name, value_at) = (span.name(), plain.at + span.value().start);
            let written = self.written_at(plain.at + name.start, name.len(), value_at, value);
            self.scope
                .push(prefix, value, self.depth, written)
                .map_err(|kind| self.error(kind))?;
        }
        Ok(())
    }

    /// A plain attribute's value, borrowed from the input, as
    /// [`Parser::attribute_cow`] gives it.
    fn plain_value(
        &self,
        plain: &PlainAttributes,
        span: &PlainSpan,
    ) -> Result<Cow<'i, str>, PidfError> {
        let value = span.value();
        self.str_at(plain.at + value.start..plain.at + value.end)
            .map(Cow::Borrowed)
            .ok_or_else(|| self.error(ErrorKind::InvalidUtf8))
    }

    /// Where the declaration `attr` is written in the input as a kept
    /// extension's root would need it added (` xmlns:p="uri"`, one space
    /// before it, a URI that needs no normalising or escaping, valid
    /// UTF-8), as a range of the input; empty when it is written otherwise.
    fn written_declaration(&self, attr: &AttrValue<'_>) -> Range<usize> {
        let offset = |bytes: &[u8]| self.offset_of(bytes);
        let key = attr.key.as_ref();
        let value: &[u8] = &attr.value;
        let (Some(key_at), Some(value_at)) = (offset(key), offset(value)) else {
            return 0..0;
        };
        self.written_at(key_at, key.len(), value_at, value)
    }

    /// [`Parser::written_declaration`] of a declaration whose name (of
    /// `key_len` bytes) is at `key_at` in the input and whose value is
    /// `value`, at `value_at`.
    fn written_at(
        &self,
        key_at: usize,
        key_len: usize,
        value_at: usize,
        value: &[u8],
    ) -> Range<usize> {
        let end = value_at + value.len();
        let plain = key_at > 0
            && self.input[key_at - 1] == b' '
            && self.input.get(key_at + key_len..value_at) == Some(&b"=\""[..])
            && self.input.get(end) == Some(&b'"')
            && !value
                .iter()
                .any(|b| matches!(b, b'&' | b'<' | b'"' | b'\t' | b'\n' | b'\r'))
            && utf8(value).is_ok();
        if plain {
            key_at - 1..end + 1
        } else {
            0..0
        }
    }

    /// Resolves `&name;` or `&#N;`; only XML's predefined entities exist here.
    fn reference(&self, reference: &BytesRef<'_>) -> Result<char, PidfError> {
        if reference.is_char_ref() {
            return match reference.resolve_char_ref() {
                // XML 1.0's well-formedness constraint "Legal Character".
                Ok(Some(c)) if !crate::xml::is_xml_char(c) => {
                    Err(self.error(ErrorKind::NotXmlChar(c)))
                }
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
        match self.scope.resolve_element(name) {
            Resolved::Bound(ns) => Ok(Some(ns)),
            Resolved::Unbound => Ok(None),
            Resolved::Unknown(prefix) => Err(self.error(ErrorKind::UnboundPrefix(
                String::from_utf8_lossy(&prefix).into_owned(),
            ))),
        }
    }

    /// The local name of a PIDF element; `None` for an element in another
    /// namespace. The name is split once, by a byte loop: names are short,
    /// and quick-xml's split is a `memchr` call each time it is asked.
    fn pidf_local<'n>(&self, start: &'n BytesStart<'_>) -> Result<Option<&'n [u8]>, PidfError> {
        let (prefix, local) = split_name(start.name().into_inner());
        let pidf = self.scope.prefix_is_pidf(prefix).map_err(|prefix| {
            self.error(ErrorKind::UnboundPrefix(
                String::from_utf8_lossy(&prefix).into_owned(),
            ))
        })?;
        Ok(pidf.then_some(local))
    }

    fn root(&mut self, start: &BytesStart<'i>) -> Result<Document<'i>, PidfError> {
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

    fn presence(&mut self, start: &BytesStart<'i>) -> Result<Presence<'i>, PidfError> {
        let mut presence = Presence::default();
        // Hashes of the tuple ids so far, once there are enough of them
        // that comparing with each costs more.
        let mut ids = None;
        let mut entity = None;
        let raw = start.attributes_raw();
        let plain = self.plain_attributes_of(raw).filter(|plain| {
            plain
                .iter()
                .all(|span| matches!(&raw[span.name()], b"entity" | b"xmlns"))
        });
        let mut others = false;
        if let Some(plain) = &plain {
            for span in plain.iter() {
                if &raw[span.name()] == b"entity" {
                    entity = Some(self.plain_value(plain, span)?);
                }
            }
        } else {
            // Anything else: quick-xml's reading.
            for attr in checked_attributes(start) {
                let attr = attr.map_err(|e| self.error(ErrorKind::Xml(e.to_string())))?;
                // Past the first other attribute, all are read below, in
                // order, so that the first error is the one reported.
                match attr.key.as_ref() {
                    _ if others => {}
                    b"entity" => entity = Some(self.attribute_cow(&attr)?),
                    // The default namespace is not kept (PIDF's, written
                    // anyway).
                    b"xmlns" => self.attribute_value(&attr).map(drop)?,
                    _ => others = true,
                }
            }
        }
        // Prefixed declarations and attributes from other namespaces, kept.
        if others {
            for attr in self.attributes(start)? {
                match attr {
                    Attr::Decl(ns) => {
                        if ns.prefix.is_some() {
                            presence.namespaces.push(ns);
                        }
                    }
                    Attr::Plain(a) if a.namespace.is_none() && a.name == "entity" => {
                        entity = Some(Cow::Owned(a.value))
                    }
                    Attr::Plain(a) => presence.attributes.push(a),
                }
            }
        }
        presence.entity = entity.ok_or_else(|| {
            self.error(ErrorKind::MissingAttribute {
                element: "presence",
                attribute: "entity",
            })
        })?;
        loop {
            match self.plain_child(&[b"note"])? {
                Plain::Extension(kept) => {
                    presence.extensions.push(kept);
                    continue;
                }
                Plain::Leaf(leaf) => {
                    self.take_leaf(leaf.end);
                    presence.notes.push(leaf.note());
                    continue;
                }
                // (`<status>` is not asked for here.)
                Plain::Status(_) | Plain::None => {}
            }
            match self.next_element()? {
                Ev::Start(child) => {
                    let Some(local) = self.pidf_local(&child)? else {
                        let kept = self.fragment(&child)?;
                        presence.extensions.push(kept);
                        continue;
                    };
                    match local {
                        b"tuple" => {
                            if presence.tuples.len() == self.limits.max_tuples {
                                return Err(self.error(ErrorKind::LimitExceeded {
                                    limit: "tuples",
                                    max: self.limits.max_tuples,
                                }));
                            }
                            let at = self.pos;
                            let tuple = self.tuple(&child)?;
                            if is_repeated_id(&presence.tuples, &mut ids, &tuple.id) {
                                return Err(PidfError::new(
                                    ErrorKind::DuplicateTupleId(tuple.id.into_owned()),
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

    fn tuple(&mut self, start: &BytesStart<'i>) -> Result<Tuple<'i>, PidfError> {
        let mut tuple = Tuple::default();
        let mut id = None;
        let mut others = false;
        let raw = start.attributes_raw();
        let plain = self
            .plain_attributes_of(raw)
            .filter(|plain| plain.iter().all(|span| &raw[span.name()] == b"id"));
        if let Some(plain) = &plain {
            for span in plain.iter() {
                id = Some(self.plain_value(plain, span)?);
            }
        } else {
            for attr in checked_attributes(start) {
                let attr = attr.map_err(|e| self.error(ErrorKind::Xml(e.to_string())))?;
                if attr.key.as_ref() == b"id" {
                    id = Some(self.attribute_cow(&attr)?);
                } else {
                    others = true;
                }
            }
        }
        // Rare: attributes from other namespaces, kept.
        if others {
            for attr in self.attributes(start)? {
                match attr {
                    Attr::Plain(a) if a.namespace.is_some() || a.name != "id" => {
                        tuple.attributes.push(a)
                    }
                    _ => {}
                }
            }
        }
        let id = id.ok_or_else(|| {
            self.error(ErrorKind::MissingAttribute {
                element: "tuple",
                attribute: "id",
            })
        })?;
        if !is_ncname(&id) {
            return Err(self.error(ErrorKind::InvalidTupleId(id.into_owned())));
        }
        tuple.id = id;
        let mut status = None;
        loop {
            // A second `<status>` is left to the reader, which refuses it.
            let leaves: &[&[u8]] = match status {
                None => &[b"status", b"contact", b"note", b"timestamp"],
                Some(_) => &[b"contact", b"note", b"timestamp"],
            };
            match self.plain_child(leaves)? {
                Plain::Extension(kept) => {
                    tuple.extensions.push(kept);
                    continue;
                }
                Plain::Status(plain) => {
                    status = Some(plain);
                    continue;
                }
                Plain::Leaf(leaf) => {
                    if self.tuple_leaf(&mut tuple, leaf) {
                        continue;
                    }
                }
                Plain::None => {}
            }
            match self.next_element()? {
                Ev::Start(child) => {
                    let Some(local) = self.pidf_local(&child)? else {
                        let kept = self.fragment(&child)?;
                        tuple.extensions.push(kept);
                        continue;
                    };
                    match local {
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
                            let text = trimmed(self.text_only("timestamp")?);
                            if !is_date_time(&text) {
                                return Err(PidfError::new(
                                    ErrorKind::InvalidTimestamp(text.into_owned()),
                                    at,
                                ));
                            }
                            tuple.timestamp = Some(text);
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

    /// Takes a [`Parser::plain_leaf`] child of `<tuple>` into `tuple`, as
    /// reading it would; `false`, nothing taken, for what reading would
    /// refuse (or read differently), left to the reader.
    fn tuple_leaf(&mut self, tuple: &mut Tuple<'i>, leaf: Leaf<'i>) -> bool {
        match leaf.local {
            b"contact" if tuple.contact.is_none() => {
                // Other attributes mean nothing, as when read.
                let priority = match leaf.attribute {
                    Some((b"priority", value)) => match parse_priority(value) {
                        Some(priority) => priority,
                        None => return false,
                    },
                    _ => None,
                };
                self.take_leaf(leaf.end);
                let uri = trimmed(leaf.text);
                tuple.contact = Some(Contact { uri, priority });
            }
            b"note" => {
                self.take_leaf(leaf.end);
                tuple.notes.push(leaf.note());
            }
            b"timestamp" if tuple.timestamp.is_none() => {
                let text = trimmed(leaf.text);
                if !is_date_time(&text) {
                    return false;
                }
                self.take_leaf(leaf.end);
                tuple.timestamp = Some(text);
            }
            _ => return false,
        }
        true
    }

    fn status(&mut self) -> Result<Status<'i>, PidfError> {
        let mut status = Status::default();
        loop {
            let leaf = match self.plain_child(&[b"basic"])? {
                Plain::Extension(kept) => {
                    status.extensions.push(kept);
                    continue;
                }
                Plain::Leaf(leaf) => Some(leaf),
                // (`<status>` is not asked for here.)
                Plain::Status(_) | Plain::None => None,
            };
            if let Some(leaf) = leaf {
                // Its attributes mean nothing, as when read.
                let basic = match leaf.text.trim() {
                    "open" => Some(Basic::Open),
                    "closed" => Some(Basic::Closed),
                    _ => None,
                };
                if leaf.local == b"basic" && status.basic.is_none() && basic.is_some() {
                    self.take_leaf(leaf.end);
                    status.basic = basic;
                    continue;
                }
            }
            match self.next_element()? {
                Ev::Start(child) => {
                    let Some(local) = self.pidf_local(&child)? else {
                        let kept = self.fragment(&child)?;
                        status.extensions.push(kept);
                        continue;
                    };
                    if local != b"basic" {
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

    fn contact(&mut self, start: &BytesStart<'i>) -> Result<Contact<'i>, PidfError> {
        let mut priority = None;
        for attr in checked_attributes(start) {
            let attr = attr.map_err(|e| self.error(ErrorKind::Xml(e.to_string())))?;
            if attr.key.as_ref() == b"priority" {
                let value = self.attribute_value(&attr)?;
                priority = parse_priority(&value)
                    .ok_or_else(|| self.error(ErrorKind::InvalidPriority(value.into_owned())))?;
            }
        }
        let uri = trimmed(self.text_only("contact")?);
        Ok(Contact { uri, priority })
    }

    fn note(&mut self, start: &BytesStart<'i>) -> Result<Note<'i>, PidfError> {
        let mut lang = None;
        for attr in checked_attributes(start) {
            let attr = attr.map_err(|e| self.error(ErrorKind::Xml(e.to_string())))?;
            // The xml prefix is bound to XML_NS and no other prefix may be.
            if attr.key.as_ref() == b"xml:lang" {
                lang = Some(self.attribute_cow(&attr)?);
            }
        }
        let text = self.text_only("note")?;
        Ok(Note { lang, text })
    }

    /// The text of an element that may hold nothing else.
    /// Borrowed from the input when it is one piece of text that decoding
    /// leaves as written.
    fn text_only(&mut self, element: &'static str) -> Result<Cow<'i, str>, PidfError> {
        let mut out = self.plain_text().unwrap_or_default();
        loop {
            match self.next()? {
                Ev::Text(text) if out.is_empty() => out = self.decode(text)?,
                Ev::Text(text) => out.to_mut().push_str(&self.decode(text)?),
                Ev::End => return Ok(out),
                Ev::Start(child) => return Err(self.unexpected(&child, element)),
                Ev::Eof => return Err(self.error(ErrorKind::Xml(format!("unclosed <{element}>")))),
            }
        }
    }

    /// Passes over the text of the element just opened, up to an end tag,
    /// without the reader, and gives it decoded, when it is plain: no CR
    /// (which decoding would change), valid UTF-8, references only of a
    /// simple form (`&name;`, `&#N;`, `&#xN;`) that resolve, followed by
    /// `</`. The reader then reads the end tag and checks it; anything else
    /// is left to the reader, event by event, so that errors are its own.
    fn plain_text(&mut self) -> Option<Cow<'i, str>> {
        if !self.may_move_reader() {
            return None;
        }
        let at = self.offset();
        let (text, end) = self.scan_text(at)?;
        if end == 0 {
            return None;
        }
        self.skipped += end;
        *self.reader.get_mut() = self.input.get(at + end..).unwrap_or_default();
        Some(text)
    }

    /// [`Parser::plain_text`]'s scan of the input from `from`: the text,
    /// decoded, and the offset from `from` of the `</` that ends it.
    fn scan_text(&self, from: usize) -> Option<(Cow<'i, str>, usize)> {
        let rest = self.input.get(from..)?;
        // Where the text ends, references checked on the way; then one
        // UTF-8 check of the whole, which the pieces between references
        // pass exactly when it does (a reference is ASCII).
        let mut references = false;
        let mut at = 0;
        let end = loop {
            let stop = at + memchr::memchr3(b'<', b'&', b'\r', rest.get(at..)?)?;
            match rest[stop] {
                b'<' if rest.get(stop + 1) == Some(&b'/') => break stop,
                b'&' => {
                    let name_end =
                        stop + 1 + rest.get(stop + 1..)?.iter().position(|&b| b == b';')?;
                    let name = &rest[stop + 1..name_end];
                    if name.is_empty()
                        || !name.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'#')
                    {
                        return None;
                    }
                    references = true;
                    at = name_end + 1;
                }
                _ => return None,
            }
        };
        let raw = self.str_at(from..from + end)?;
        if !references {
            return Some((Cow::Borrowed(raw), end));
        }
        // References only shorten the text.
        let mut text = String::with_capacity(raw.len());
        let mut pieces = raw.split('&');
        text.push_str(pieces.next().unwrap_or_default());
        for piece in pieces {
            let (name, after) = piece.split_once(';')?;
            text.push(self.reference(&BytesRef::new(name)).ok()?);
            text.push_str(after);
        }
        Some((Cow::Owned(text), end))
    }

    /// The element at `begin` (its name ends at `name_end`), when it is a
    /// PIDF element that holds only text
    /// (`<basic>`, `<contact>`, `<note>`, `<timestamp>`) written plainly: a
    /// start tag with at most one attribute, double-quoted, whose value
    /// normalising leaves as written; text as [`Parser::plain_text`] takes
    /// it; then its end tag `</name>`. Read without the reader (two events
    /// fewer); nothing is taken until [`Parser::take_leaf`], so that the
    /// caller can leave anything it would refuse to the reader, whose errors
    /// are the ones reported.
    fn plain_leaf(&mut self, begin: usize, name_end: usize) -> Option<Leaf<'i>> {
        let input = self.input;
        let name = &input[begin + 1..name_end];
        let (_, local) = split_name(name);
        let mut i = name_end;
        let mut attribute = None;
        if input.get(i).is_some_and(|&b| is_space(b)) {
            while input.get(i).is_some_and(|&b| is_space(b)) {
                i += 1;
            }
            if input.get(i) != Some(&b'>') {
                let attr_end = plain_name(input, i)?;
                let attr_name = &input[i..attr_end];
                // A declaration is left to the reader, which binds it.
                if attr_name.starts_with(b"xmlns")
                    || input.get(attr_end..attr_end + 2)? != b"=\""
                    || self.limits.max_attributes == 0
                {
                    return None;
                }
                let value_start = attr_end + 2;
                let value_len = memchr::memchr(b'"', input.get(value_start..)?)?;
                let value = &input[value_start..value_start + value_len];
                if value
                    .iter()
                    .any(|&b| matches!(b, b'<' | b'&' | b'\t' | b'\r' | b'\n'))
                {
                    return None;
                }
                let value = self.str_at(value_start..value_start + value_len)?;
                attribute = Some((attr_name, value));
                i = value_start + value_len + 1;
                while input.get(i).is_some_and(|&b| is_space(b)) {
                    i += 1;
                }
            }
        }
        if input.get(i) != Some(&b'>') {
            return None;
        }
        let (text, text_len) = self.scan_text(i + 1)?;
        let end_tag = i + 1 + text_len;
        let after = end_tag + 2 + name.len();
        if input.get(end_tag + 2..after)? != name || input.get(after) != Some(&b'>') {
            return None;
        }
        Some(Leaf {
            local,
            attribute,
            text,
            end: after + 1,
        })
    }

    /// Takes the leaf [`Parser::plain_leaf`] found, as reading it would.
    fn take_leaf(&mut self, end: usize) {
        let begin = self.offset();
        self.elements += 1;
        self.skipped += end - begin;
        *self.reader.get_mut() = self.input.get(end..).unwrap_or_default();
    }

    /// Reads a whole element outside the PIDF namespace as a kept fragment:
    /// its bytes as written, with a declaration added on its root for every
    /// prefix it uses that was declared outside it, so that it stands alone
    /// wherever it is written. One pass, no tree: the text is copied once.
    ///
    /// Checks `mustUnderstand` (RFC 3863 section 4.2.3) when asked to: an
    /// element so marked must be understood unless it sits inside an element
    /// that is itself not understood, and so ignored whole.
    fn fragment(&mut self, start: &BytesStart<'i>) -> Result<Extension<'i>, PidfError> {
        let begin = self.pos;
        let name_len = start.name().as_ref().len();
        let root_depth = self.depth;
        self.inner.clear();
        self.outer.clear();
        self.names.clear();
        self.checks.clear();
        self.fragment_element(start, true)?;
        if self.may_move_reader() {
            self.skip_plain_content(start.name().as_ref());
        }
        loop {
            match self.next_element()? {
                Ev::Start(child) => self.fragment_element(&child, false)?,
                Ev::Text(text) => self.check_text(&text)?,
                Ev::End => {
                    let depth = self.depth + 1;
                    while self.inner.last().is_some_and(|(_, d)| *d >= depth) {
                        self.inner.pop();
                    }
                    self.checks.pop();
                    if self.depth < root_depth {
                        break;
                    }
                }
                Ev::Eof => return Err(self.error(ErrorKind::Xml("unclosed element".into()))),
            }
        }
        let end = self.offset();
        let text = match self.str_at(begin..end) {
            Some(text) => text,
            None => {
                let raw = self
                    .input
                    .get(begin..end)
                    .ok_or_else(|| self.error(ErrorKind::Xml("element out of bounds".into())))?;
                std::str::from_utf8(raw)
                    .map_err(|_| PidfError::new(ErrorKind::InvalidUtf8, begin))?
            }
        };
        let declarations = self.joined_declarations()?;
        let name_end = (1 + name_len).min(text.len());
        Ok(Extension::from_parts(
            Cow::Borrowed(text),
            name_end,
            declarations,
        ))
    }

    /// The declarations the fragment just read needs on its root, for the
    /// prefixes it uses from outside (`outer`), as one text shared with
    /// every fragment of the document that needs the same.
    fn joined_declarations(&mut self) -> Result<Option<Declared<'i>>, PidfError> {
        if self.outer.is_empty() {
            return Ok(None);
        }
        // The usual case, one prefix from outside: by index, borrowed from
        // the input when it is written there as needed.
        if self.outer.len() == 1 {
            let d = self.declaration(0)?;
            if let Some(text) = self.declarations[d].3 {
                return Ok(Some(Declared::Input(text)));
            }
            if self.single.len() <= d {
                self.single.resize(d + 1, None);
            }
            let text =
                self.single[d].get_or_insert_with(|| Arc::from(self.declarations[d].2.as_str()));
            return Ok(Some(Declared::Shared(Arc::clone(text))));
        }
        // A buffer kept across fragments, so that this does not allocate.
        let mut declared = std::mem::take(&mut self.declared);
        declared.clear();
        for k in 0..self.outer.len() {
            declared.push(self.declaration(k)?);
        }
        let found = self.joined.iter().find(|(d, _)| *d == declared);
        let text = match found {
            Some((_, text)) => Arc::clone(text),
            None => {
                let mut text = String::new();
                for &d in &declared {
                    text.push_str(&self.declarations[d].2);
                }
                let text: Arc<str> = Arc::from(text);
                self.joined.push((declared.clone(), Arc::clone(&text)));
                text
            }
        };
        self.declared = declared;
        Ok(Some(Declared::Shared(text)))
    }

    /// The index in `declarations` of the declaration written for the
    /// `k`th prefix of `outer`. The same few prefixes and namespaces come
    /// back in every extension of a document, so each is checked and
    /// escaped once.
    fn declaration(&mut self, k: usize) -> Result<usize, PidfError> {
        let prefix = self.names.get(self.outer[k].0.clone()).unwrap_or_default();
        // The binding used is the innermost one of the prefix (the
        // fragment's own have gone out of scope), whose declaration is
        // remembered once found.
        let binding = self.scope.lookup_index(prefix);
        if let Some(Some(d)) = binding.and_then(|b| self.scope.bindings.get(b).map(|b| b.declared))
        {
            return Ok(d);
        }
        let d = self.new_declaration(k)?;
        let namespace = self.outer[k]
            .1
            .clone()
            .map(|ns| self.names.get(ns).unwrap_or_default());
        if let Some(b) = binding {
            let Binding {
                prefix_end, ns_end, ..
            } = self.scope.bindings[b];
            let bound = self.scope.bytes.get(prefix_end..ns_end).unwrap_or_default();
            if Some(bound).filter(|ns| !ns.is_empty()) == namespace {
                self.scope.bindings[b].declared = Some(d);
            }
        }
        Ok(d)
    }

    /// [`Parser::declaration`] looked up among those written so far, or
    /// made.
    fn new_declaration(&mut self, k: usize) -> Result<usize, PidfError> {
        let (prefix, namespace) = &self.outer[k];
        let prefix = self.names.get(prefix.clone()).unwrap_or_default();
        let namespace = namespace
            .clone()
            .map(|ns| self.names.get(ns).unwrap_or_default());
        let known = self
            .declarations
            .iter()
            .position(|(p, ns, _, _)| p == prefix && ns.as_deref() == namespace);
        if let Some(known) = known {
            return Ok(known);
        }
        let mut xml = String::new();
        xml.push_str(" xmlns");
        if !prefix.is_empty() {
            xml.push(':');
            xml.push_str(utf8(prefix).map_err(|()| self.error(ErrorKind::InvalidUtf8))?);
        }
        xml.push_str("=\"");
        if let Some(ns) = namespace {
            if needs_normalising(ns) {
                let ns = namespace_uri(ns).map_err(|kind| self.error(kind))?;
                super::write::escape_attr(&mut xml, &ns);
            } else {
                let ns = utf8(ns).map_err(|()| self.error(ErrorKind::InvalidUtf8))?;
                super::write::escape_attr(&mut xml, ns);
            }
        }
        xml.push('"');
        // The binding used is the innermost one of the prefix: the
        // fragment's own have gone out of scope.
        let written = self
            .scope
            .written(prefix)
            .and_then(|range| self.input.get(range))
            .and_then(|raw| utf8(raw).ok())
            .filter(|raw| *raw == xml);
        let entry = (prefix.to_vec(), namespace.map(<[u8]>::to_vec), xml, written);
        self.declarations.push(entry);
        Ok(self.declarations.len() - 1)
    }

    /// Passes over the content of the fragment root just opened, up to its
    /// end tag, without the reader, when that content is plain: text
    /// without references, child elements with simple names and
    /// double-quoted attributes, no namespace declaration, no
    /// `mustUnderstand`, no comment, CDATA or processing instruction, valid
    /// UTF-8, within every limit, every prefix bound. For such content the
    /// event-by-event reading does nothing but count elements and note the
    /// prefixes used, which this does too, in the same order. Anything else
    /// returns `false` with nothing changed, and the events are read as
    /// usual, so that errors and their positions are the reader's.
    fn skip_plain_content(&mut self, root: &[u8]) -> bool {
        let input = self.input;
        let start = self.offset();
        let (outer_len, names_len) = (self.outer.len(), self.names.len());
        match self.plain_content(input, start, root) {
            Some((end, elements)) => {
                self.elements += elements;
                self.skipped += end - start;
                *self.reader.get_mut() = input.get(end..).unwrap_or_default();
                true
            }
            None => {
                self.outer.truncate(outer_len);
                self.names.truncate(names_len);
                false
            }
        }
    }

    /// [`Parser::skip_plain_content`]'s scan from `at`: the offset of the
    /// root's end tag and the number of elements passed.
    fn plain_content(&mut self, input: &[u8], at: usize, root: &[u8]) -> Option<(usize, usize)> {
        const MAX_NESTING: usize = 16;
        let max_depth = self.limits.max_depth.min(MAX_DEPTH);
        let mut open = [(0usize, 0usize); MAX_NESTING];
        let mut nesting = 0;
        let mut elements = 0;
        let mut i = at;
        loop {
            i += memchr::memchr2(b'<', b'&', input.get(i..)?)?;
            if input[i] == b'&' {
                return None;
            }
            match *input.get(i + 1)? {
                b'/' => {
                    let name_end = plain_name(input, i + 2)?;
                    if input.get(name_end) != Some(&b'>') {
                        return None;
                    }
                    let name = &input[i + 2..name_end];
                    if nesting == 0 {
                        if name != root {
                            return None;
                        }
                        let content = &input[at..i];
                        if self.text.is_none() && !content.is_ascii() {
                            std::str::from_utf8(content).ok()?;
                        }
                        return Some((i, elements));
                    }
                    nesting -= 1;
                    let (from, to) = open[nesting];
                    if input.get(from..to)? != name {
                        return None;
                    }
                    i = name_end + 1;
                }
                b'!' | b'?' => return None,
                _ => {
                    let name_end = plain_name(input, i + 1)?;
                    let name = &input[i + 1..name_end];
                    let (j, empty) = self.plain_attributes(input, name_end)?;
                    elements += 1;
                    let depth = self.depth + nesting + 1;
                    if depth > max_depth || self.elements + elements > self.limits.max_elements {
                        return None;
                    }
                    let (prefix, _) = split_name(name);
                    if prefix != Some(b"xml") {
                        let ns = self.scope.resolve_element_prefix(prefix);
                        let prefix = prefix.unwrap_or_default();
                        if matches!(ns, Resolved::Unknown(_)) {
                            return None;
                        }
                        note_use(&mut self.names, &self.inner, &mut self.outer, prefix, ns).ok()?;
                    }
                    if !empty {
                        *open.get_mut(nesting)? = (i + 1, name_end);
                        nesting += 1;
                    }
                    i = j;
                }
            }
        }
    }

    /// The attributes of a plain start tag from `i` (after its name): the
    /// offset after the tag and whether it is an empty-element tag. Notes
    /// the prefixes of attributes as [`Parser::fragment_element`] does.
    fn plain_attributes(&mut self, input: &[u8], mut i: usize) -> Option<(usize, bool)> {
        let mut seen = [(0usize, 0usize); 8];
        let mut count = 0;
        loop {
            let spaced = input.get(i).is_some_and(|&b| is_space(b));
            while input.get(i).is_some_and(|&b| is_space(b)) {
                i += 1;
            }
            match *input.get(i)? {
                b'>' => return Some((i + 1, false)),
                b'/' if input.get(i + 1) == Some(&b'>') => return Some((i + 2, true)),
                _ if !spaced => return None,
                _ => {}
            }
            let name_end = plain_name(input, i)?;
            let name = &input[i..name_end];
            if input.get(name_end..name_end + 2)? != b"=\"" {
                return None;
            }
            let value_start = name_end + 2;
            let value_len = memchr::memchr(b'"', input.get(value_start..)?)?;
            let value = &input[value_start..value_start + value_len];
            if value.iter().any(|&b| b == b'<' || b == b'&') {
                return None;
            }
            // Declarations and `mustUnderstand` are left to the reader, and
            // so are repeated names (the reader's error names both).
            let (prefix, local) = split_name(name);
            if name == b"xmlns"
                || prefix == Some(b"xmlns")
                || local == b"mustUnderstand"
                || seen[..count].iter().any(|&(a, b)| &input[a..b] == name)
            {
                return None;
            }
            *seen.get_mut(count)? = (i, name_end);
            count += 1;
            if count > self.limits.max_attributes {
                return None;
            }
            if let Some(prefix) = prefix {
                if prefix != b"xml" {
                    let ns = self.scope.resolve_prefix(prefix);
                    if matches!(ns, Resolved::Unknown(_)) {
                        return None;
                    }
                    note_use(&mut self.names, &self.inner, &mut self.outer, prefix, ns).ok()?;
                }
            }
            i = value_start + value_len + 1;
        }
    }

    /// Notes what one element of a fragment declares and uses, and checks
    /// `mustUnderstand` on it.
    fn fragment_element(&mut self, start: &BytesStart<'i>, root: bool) -> Result<(), PidfError> {
        let depth = self.depth;
        let mut marked = false;
        // Most extension elements have no attributes at all.
        let attributes = !start.attributes_raw().iter().all(|&b| is_space(b));
        // Declarations first: a prefix declared here is not used from outside.
        let declares = attributes && declares_namespace(start.attributes_raw());
        for attr in start.attributes().with_checks(false).filter(|_| declares) {
            let attr = attr.map_err(|e| self.error(ErrorKind::Xml(e.to_string())))?;
            if let Some(decl) = attr.key.as_namespace_binding() {
                let prefix = match decl {
                    PrefixDeclaration::Default => &[][..],
                    PrefixDeclaration::Named(b"") => {
                        return Err(self.error(ErrorKind::Xml("empty namespace prefix".into())))
                    }
                    PrefixDeclaration::Named(p) => p,
                };
                let at = self.names.len();
                self.names.extend_from_slice(prefix);
                self.inner.push((at..self.names.len(), depth));
            }
        }
        for attr in checked_attributes(start).filter(|_| attributes) {
            let attr = attr.map_err(|e| self.error(ErrorKind::Xml(e.to_string())))?;
            if attr.value.contains(&b'&') {
                self.attribute_value(&attr)?;
            }
            if attr.key.as_namespace_binding().is_some() {
                continue;
            }
            if attr.key.local_name().as_ref() == b"mustUnderstand" {
                let pidf = match attr.key.prefix() {
                    None => true,
                    Some(_) => matches!(
                        self.scope.resolve_attribute(attr.key),
                        Resolved::Bound(ns) if is_pidf_ns(ns)
                    ),
                };
                let value = attr.value.trim_ascii();
                marked |= pidf && (value == b"true" || value == b"1");
            }
            if let Some(prefix) = attr.key.prefix() {
                let prefix = prefix.into_inner();
                if prefix.is_empty() {
                    return Err(self.error(ErrorKind::Xml("empty namespace prefix".into())));
                }
                if prefix != b"xml" {
                    let ns = self.scope.resolve_attribute(attr.key);
                    note_use(&mut self.names, &self.inner, &mut self.outer, prefix, ns)
                        .map_err(|kind| PidfError::new(kind, self.pos))?;
                }
            }
        }
        let name = start.name();
        let prefix = match name.prefix() {
            Some(p) if p.as_ref().is_empty() => {
                return Err(self.error(ErrorKind::Xml("empty namespace prefix".into())))
            }
            Some(p) => p.into_inner(),
            None => &[][..],
        };
        let ns = self.scope.resolve_element(name);
        let understood = match (&ns, self.understood) {
            (Resolved::Bound(ns), Some(understood)) => {
                utf8(ns).is_ok_and(|ns| understood.contains(&ns))
            }
            _ => false,
        };
        let checked = root || self.checks.last().is_some_and(|c| *c);
        if self.understood.is_some() && checked && marked && !understood {
            let namespace = match &ns {
                Resolved::Bound(ns) => String::from_utf8_lossy(ns).into_owned(),
                _ => String::new(),
            };
            return Err(self.error(ErrorKind::MustUnderstand {
                namespace,
                name: String::from_utf8_lossy(start.local_name().as_ref()).into_owned(),
            }));
        }
        self.checks.push(checked && understood);
        if prefix != b"xml" {
            note_use(&mut self.names, &self.inner, &mut self.outer, prefix, ns)
                .map_err(|kind| PidfError::new(kind, self.pos))?;
        }
        Ok(())
    }

    /// An attribute value, normalised (only XML's predefined entities and
    /// character references exist here).
    fn attribute_value<'v>(
        &self,
        attr: &quick_xml::events::attributes::Attribute<'v>,
    ) -> Result<Cow<'v, str>, PidfError> {
        let value =
            attr.normalized_value(XmlVersion::Implicit1_0)
                .map_err(|e| match e {
                    quick_xml::Error::Escape(
                        quick_xml::escape::EscapeError::UnrecognizedEntity(_, name),
                    ) => self.error(ErrorKind::UndefinedEntity(name)),
                    e => self.error(xml_error(e)),
                })?;
        self.referred_chars(&attr.value, &value)?;
        Ok(value)
    }

    /// Refuses a character reference in `raw` to a character XML does
    /// not allow, now in `value` (the raw text itself was checked whole).
    fn referred_chars(&self, raw: &[u8], value: &str) -> Result<(), PidfError> {
        if memchr::memchr(b'&', raw).is_none() {
            return Ok(());
        }
        match super::first_non_xml_char(value) {
            Some((_, c)) => Err(self.error(ErrorKind::NotXmlChar(c))),
            None => Ok(()),
        }
    }

    /// An attribute value as [`Parser::attribute_value`] gives it, borrowed
    /// from the input when normalising leaves it as written.
    fn attribute_cow(
        &self,
        attr: &quick_xml::events::attributes::Attribute<'_>,
    ) -> Result<Cow<'i, str>, PidfError> {
        if !needs_normalising(&attr.value) {
            if let Some(at) = self.offset_of(&attr.value) {
                return self
                    .str_at(at..at + attr.value.len())
                    .map(Cow::Borrowed)
                    .ok_or_else(|| self.error(ErrorKind::InvalidUtf8));
            }
        }
        self.attribute_value(attr)
            .map(|value| Cow::Owned(value.into_owned()))
    }

    /// Where `bytes` lies in the input, when it does (see [`Parser::span`]).
    fn offset_of(&self, bytes: &[u8]) -> Option<usize> {
        self.span(bytes)
            .map(|span| span.as_ptr() as usize - self.input.as_ptr() as usize)
    }

    /// The same bytes as the input's, when `bytes` lies in the input (as
    /// what the reader gives without copying does).
    fn span(&self, bytes: &[u8]) -> Option<&'i [u8]> {
        let at = (bytes.as_ptr() as usize).checked_sub(self.input.as_ptr() as usize)?;
        let span = self.input.get(at..at.checked_add(bytes.len())?)?;
        (span.as_ptr() == bytes.as_ptr()).then_some(span)
    }

    /// Reads a whole element outside the PIDF namespace into a tree.
    fn kept(&mut self, start: &BytesStart<'i>) -> Result<Element, PidfError> {
        let root = self.kept_element(start)?;
        let mut stack = vec![root];
        loop {
            match self.next()? {
                Ev::Start(child) => {
                    let element = self.kept_element(&child)?;
                    stack.push(element);
                }
                Ev::Text(text) => {
                    let text = self.decode(text)?;
                    if let Some(parent) = stack.last_mut() {
                        push_text(&mut parent.children, text);
                    }
                }
                Ev::End => {
                    let Some(done) = stack.pop() else {
                        return Err(self.error(ErrorKind::Xml("unmatched end tag".into())));
                    };
                    match stack.last_mut() {
                        Some(parent) => parent.children.push(Node::Element(done)),
                        None => return Ok(done),
                    }
                }
                Ev::Eof => return Err(self.error(ErrorKind::Xml("unclosed element".into()))),
            }
        }
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
        for attr in checked_attributes(start) {
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
            self.referred_chars(&attr.value, &value)?;
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
            let namespace = match self.scope.resolve_attribute(attr.key) {
                Resolved::Bound(ns) => Some(namespace_uri(ns).map_err(|kind| self.error(kind))?),
                Resolved::Unbound => None,
                Resolved::Unknown(p) => {
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
            match self.next_element()? {
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
                        text: text.into_owned(),
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

    /// Whitespace where only elements may be; other text is refused, once
    /// decoding did not refuse it first (as invalid UTF-8).
    fn whitespace(&self, text: &Text<'i>, parent: &'static str) -> Result<(), PidfError> {
        if text.is_whitespace() {
            return Ok(());
        }
        self.check_text(text)?;
        Err(self.error(ErrorKind::UnexpectedText { parent }))
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
    if !needs_normalising(raw) {
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
    raw == PIDF_NS.as_bytes()
        || (needs_normalising(raw) && namespace_uri(raw).is_ok_and(|ns| ns == PIDF_NS))
}

fn needs_normalising(raw: &[u8]) -> bool {
    raw.iter()
        .any(|b| matches!(b, b'&' | b'\t' | b'\r' | b'\n'))
}

fn xml_error(e: quick_xml::Error) -> ErrorKind {
    match e {
        quick_xml::Error::Encoding(_) => ErrorKind::InvalidUtf8,
        e => ErrorKind::Xml(e.to_string()),
    }
}

/// Records `prefix` as used from outside the fragment unless a fragment
/// element declares it.
fn note_use(
    names: &mut Vec<u8>,
    inner: &[(Range<usize>, usize)],
    outer: &mut Vec<(Range<usize>, Option<Range<usize>>)>,
    prefix: &[u8],
    ns: Resolved<'_>,
) -> Result<(), ErrorKind> {
    let is = |p: &Range<usize>| names.get(p.clone()) == Some(prefix);
    if inner.iter().any(|(p, _)| is(p)) || outer.iter().any(|(p, _)| is(p)) {
        return Ok(());
    }
    let mut push = |bytes: &[u8]| {
        let at = names.len();
        names.extend_from_slice(bytes);
        at..names.len()
    };
    let ns = match ns {
        Resolved::Bound(ns) => Some(push(ns)),
        Resolved::Unbound => None,
        Resolved::Unknown(p) => {
            return Err(ErrorKind::UnboundPrefix(
                String::from_utf8_lossy(&p).into_owned(),
            ))
        }
    };
    let prefix = push(prefix);
    outer.push((prefix, ns));
    Ok(())
}

/// The namespace bindings in scope (Namespaces in XML 1.0 section 6),
/// innermost last. quick-xml's own resolver is not used: it costs more than
/// the parse itself on PIDF's small, declaration-light elements, whereas here
/// an element without `xmlns` attributes costs one substring search.
#[derive(Default)]
struct Scope {
    /// Prefixes and namespaces, back to back.
    bytes: Vec<u8>,
    /// The bindings, innermost last; each prefix starts in `bytes` where
    /// the previous binding's namespace ends.
    bindings: Vec<Binding>,
    /// Whether unprefixed elements are in the PIDF namespace here: asked at
    /// almost every element, so kept rather than looked up.
    default_pidf: bool,
}

/// A namespace binding in a [`Scope`].
#[derive(Clone)]
struct Binding {
    /// Where its prefix ends in the scope's bytes (and its namespace starts).
    prefix_end: usize,
    /// Where its namespace ends.
    ns_end: usize,
    /// The depth of the declaring element.
    depth: usize,
    /// Whether the namespace is PIDF's: found once, when declared, rather
    /// than at every element.
    pidf: bool,
    /// Where its declaration is written in the input in the form kept
    /// extensions need (see [`Parser::written_declaration`]), empty when it
    /// is not.
    written: Range<usize>,
    /// The index in [`Parser::declarations`] of the declaration written for
    /// it on fragments, once there is one.
    declared: Option<usize>,
}

/// A resolved name.
enum Resolved<'s> {
    Bound(&'s [u8]),
    /// No prefix, and no default namespace in scope.
    Unbound,
    /// A prefix that no declaration binds.
    Unknown(Vec<u8>),
}

impl Scope {
    /// Adds `xmlns[:prefix]="namespace"` declared at `depth`.
    fn push(
        &mut self,
        prefix: &[u8],
        namespace: &[u8],
        depth: usize,
        written: Range<usize>,
    ) -> Result<(), ErrorKind> {
        match prefix {
            b"" => {}
            b"xmlns" => return Err(ErrorKind::Xml("the xmlns prefix cannot be declared".into())),
            b"xml" if namespace != XML_NS.as_bytes() => {
                return Err(ErrorKind::Xml("the xml prefix cannot be rebound".into()))
            }
            _ if namespace.is_empty() => {
                return Err(ErrorKind::Xml(format!(
                    "prefix {:?} declared with an empty namespace",
                    String::from_utf8_lossy(prefix)
                )))
            }
            _ => {}
        }
        self.bytes.extend_from_slice(prefix);
        let prefix_end = self.bytes.len();
        self.bytes.extend_from_slice(namespace);
        let pidf = is_pidf_ns(namespace);
        self.bindings.push(Binding {
            prefix_end,
            ns_end: self.bytes.len(),
            depth,
            pidf,
            written,
            declared: None,
        });
        if prefix.is_empty() {
            self.default_pidf = pidf;
        }
        Ok(())
    }

    /// Drops the bindings of elements deeper than `depth`.
    fn pop(&mut self, depth: usize) {
        let mut default_popped = false;
        while let Some(&Binding {
            prefix_end,
            depth: d,
            ..
        }) = self.bindings.last()
        {
            if d <= depth {
                break;
            }
            self.bindings.pop();
            let start = self.bindings.last().map_or(0, |b| b.ns_end);
            debug_assert!(start <= prefix_end);
            default_popped |= prefix_end == start;
            self.bytes.truncate(start);
        }
        if default_popped {
            self.default_pidf = self.lookup_index(b"").is_some_and(|i| {
                let Binding {
                    prefix_end,
                    ns_end,
                    pidf,
                    ..
                } = self.bindings[i];
                ns_end > prefix_end && pidf
            });
        }
    }

    /// Where the innermost binding of `prefix` is written in the input as a
    /// kept extension needs it, if it is.
    fn written(&self, prefix: &[u8]) -> Option<Range<usize>> {
        let written = &self.bindings.get(self.lookup_index(prefix)?)?.written;
        (!written.is_empty()).then(|| written.clone())
    }

    /// The innermost binding of `prefix`: searched from the inside out, so
    /// the usual hit (a declaration on the root) costs one pass at most.
    fn lookup(&self, prefix: &[u8]) -> Option<&[u8]> {
        let i = self.lookup_index(prefix)?;
        let binding = &self.bindings[i];
        self.bytes.get(binding.prefix_end..binding.ns_end)
    }

    /// Whether an element with this prefix (`None`: unprefixed) is in the
    /// PIDF namespace: `Err` with the prefix when no declaration binds it.
    /// The same answer as resolving the name and comparing, without looking
    /// at the namespace again.
    fn prefix_is_pidf(&self, prefix: Option<&[u8]>) -> Result<bool, Vec<u8>> {
        match prefix {
            None => Ok(self.default_pidf),
            Some(b"xml") => Ok(false),
            Some(prefix) => match self.lookup_index(prefix) {
                Some(i) => Ok(self.bindings[i].pidf),
                None => Err(prefix.to_vec()),
            },
        }
    }

    /// The index of the innermost binding of `prefix`.
    fn lookup_index(&self, prefix: &[u8]) -> Option<usize> {
        let mut i = self.bindings.len();
        while i > 0 {
            i -= 1;
            let prefix_end = self.bindings[i].prefix_end;
            let start = if i == 0 {
                0
            } else {
                self.bindings[i - 1].ns_end
            };
            // Byte by byte: prefixes are a few bytes, shorter than a call
            // to `memcmp` costs.
            if prefix_end - start == prefix.len()
                && self
                    .bytes
                    .get(start..prefix_end)
                    .is_some_and(|p| p.iter().zip(prefix).all(|(a, b)| a == b))
            {
                return Some(i);
            }
        }
        None
    }

    fn resolve_element(&self, name: QName<'_>) -> Resolved<'_> {
        match name.prefix() {
            None => match self.lookup(b"") {
                Some(ns) if !ns.is_empty() => Resolved::Bound(ns),
                _ => Resolved::Unbound,
            },
            Some(prefix) => self.resolve_prefix(prefix.into_inner()),
        }
    }

    /// [`Scope::resolve_element`] of a name split by [`split_name`].
    fn resolve_element_prefix(&self, prefix: Option<&[u8]>) -> Resolved<'_> {
        match prefix {
            None => match self.lookup(b"") {
                Some(ns) if !ns.is_empty() => Resolved::Bound(ns),
                _ => Resolved::Unbound,
            },
            Some(prefix) => self.resolve_prefix(prefix),
        }
    }

    fn resolve_attribute(&self, name: QName<'_>) -> Resolved<'_> {
        match name.prefix() {
            None => Resolved::Unbound,
            Some(prefix) => self.resolve_prefix(prefix.into_inner()),
        }
    }

    fn resolve_prefix(&self, prefix: &[u8]) -> Resolved<'_> {
        if prefix == b"xml" {
            return Resolved::Bound(XML_NS.as_bytes());
        }
        match self.lookup(prefix) {
            Some(ns) => Resolved::Bound(ns),
            None => Resolved::Unknown(prefix.to_vec()),
        }
    }
}

/// A declaration written on fragments: prefix, raw namespace (`None`: no
/// namespace), the text written, and the same text in the input, if there.
type Declaration<'i> = (Vec<u8>, Option<Vec<u8>>, String, Option<&'i str>);

/// What [`Parser::plain_child`] read.
enum Plain<'i> {
    Extension(Extension<'i>),
    Leaf(Leaf<'i>),
    Status(Status<'i>),
    /// Nothing: the reader reads what comes next.
    None,
}

/// A PIDF element holding only text, found by [`Parser::plain_leaf`].
struct Leaf<'i> {
    /// Its local name.
    local: &'i [u8],
    /// Its one attribute, if any: name as written, value.
    attribute: Option<(&'i [u8], &'i str)>,
    /// Its text, decoded.
    text: Cow<'i, str>,
    /// The offset after its end tag.
    end: usize,
}

impl<'i> Leaf<'i> {
    /// The leaf as a `<note>`: its `xml:lang`, when that is its attribute.
    fn note(self) -> Note<'i> {
        let lang = match self.attribute {
            Some((b"xml:lang", value)) => Some(Cow::Borrowed(value)),
            _ => None,
        };
        Note {
            lang,
            text: self.text,
        }
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

/// `text` without surrounding whitespace, still borrowed if it was, and
/// reusing its allocation when there is none to remove (the usual case).
fn trimmed(text: Cow<'_, str>) -> Cow<'_, str> {
    match text {
        Cow::Borrowed(text) => Cow::Borrowed(text.trim()),
        Cow::Owned(text) if text.trim().len() == text.len() => Cow::Owned(text),
        Cow::Owned(text) => Cow::Owned(text.trim().to_owned()),
    }
}

fn utf8(bytes: &[u8]) -> Result<&str, ()> {
    std::str::from_utf8(bytes).map_err(|_| ())
}

/// Whether `id` is the id of one of `tuples`: compared with each while
/// they are few, then looked up by hash (kept in `ids`, built on first
/// use), comparing texts only when the hash is known.
fn is_repeated_id(
    tuples: &[Tuple<'_>],
    ids: &mut Option<std::collections::HashSet<u64>>,
    id: &str,
) -> bool {
    const FEW: usize = 8;
    let hash = |id: &str| {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        id.hash(&mut hasher);
        hasher.finish()
    };
    if tuples.len() < FEW {
        return tuples.iter().any(|t| t.id == id);
    }
    let ids = ids.get_or_insert_with(|| tuples.iter().map(|t| hash(&t.id)).collect());
    !ids.insert(hash(id)) && tuples.iter().any(|t| t.id == id)
}

/// Whether an element's attributes may declare a namespace: `xmlns` in
/// them (searched with a finder built once).
fn declares_namespace(raw: &[u8]) -> bool {
    static XMLNS: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"xmlns"));
    raw.len() >= 5 && XMLNS.find(raw).is_some()
}

/// An element's attributes, a repeated name refused with the error
/// quick-xml's own check gives (positions in the tag), in one pass: the
/// names seen are kept in a small array, where quick-xml's check keeps a
/// vector (an allocation per tag) and knowing whether to check at all
/// would take a pass of its own.
fn checked_attributes<'s>(
    start: &'s BytesStart<'_>,
) -> impl Iterator<Item = Result<AttrValue<'s>, AttrError>> + 's {
    const FEW: usize = 8;
    let tag: &'s [u8] = start;
    let mut few = [(0usize, 0usize); FEW];
    let mut more = Vec::new();
    let mut count = 0;
    let mut attributes = start.attributes();
    attributes.with_checks(false);
    attributes.map(move |attr| {
        let attr = attr?;
        let key = attr.key.as_ref();
        let at = (key.as_ptr() as usize).wrapping_sub(tag.as_ptr() as usize);
        let same = |&&(from, len): &&(usize, usize)| tag.get(from..from + len) == Some(key);
        let seen = few[..count.min(FEW)].iter().chain(more.iter()).find(same);
        if let Some(&(prev, _)) = seen {
            return Err(AttrError::Duplicated(at, prev));
        }
        match few.get_mut(count) {
            Some(slot) => *slot = (at, key.len()),
            None => more.push((at, key.len())),
        }
        count += 1;
        Ok(attr)
    })
}

/// The attributes of a start tag written in the plain form, as ranges of
/// `raw` (the tag's bytes after its name): each ` name="value"` (or with
/// `'`) after white space, the name ASCII letters, digits, `_`, `-`, `.`
/// with at most one `:` (each side starting with a letter or `_`), the
/// value without `&`, `<`, tab, CR or LF, so that normalising leaves it as
/// written; names all different, at most [`PlainAttributes::MAX`] of them.
/// `None` for any other tag, which goes to quick-xml's attribute reading:
/// that costs several hundred instructions an attribute, this a few a byte.
fn plain_tag_attributes(raw: &[u8]) -> Option<PlainAttributes> {
    // Bytes that end a plain value or make it not plain; by table, one
    // load a byte where the tests take several.
    const STOP: [bool; 256] = {
        let mut table = [false; 256];
        let stops = *b"\"'&<\t\r\n";
        let mut k = 0;
        while k < stops.len() {
            table[stops[k] as usize] = true;
            k += 1;
        }
        table
    };
    let name_start = |b: u8| b.is_ascii_alphabetic() || b == b'_';
    let mut found = PlainAttributes::default();
    let mut i = 0;
    loop {
        let spaces = raw[i..].iter().take_while(|&&b| is_space(b)).count();
        i += spaces;
        let Some(&first) = raw.get(i) else {
            return Some(found);
        };
        if spaces == 0 || !name_start(first) {
            return None;
        }
        let name_end = plain_name(raw, i)?;
        let name = &raw[i..name_end];
        if let Some(colon) = name.iter().position(|&b| b == b':') {
            if !name.get(colon + 1).is_some_and(|&b| name_start(b)) {
                return None;
            }
        }
        let (Some(b'='), Some(&quote)) = (raw.get(name_end), raw.get(name_end + 1)) else {
            return None;
        };
        let value_start = name_end + 2;
        let mut value_end = value_start;
        loop {
            value_end += raw
                .get(value_end..)?
                .iter()
                .position(|&b| STOP[usize::from(b)])?;
            // The other quote is part of the value; anything else stops it,
            // plainly only at its own quote.
            let b = raw[value_end];
            if b == quote {
                break;
            }
            if b != b'"' && b != b'\'' || quote != b'"' && quote != b'\'' {
                return None;
            }
            value_end += 1;
        }
        if found.len == PlainAttributes::MAX
            || found.iter().any(|span| raw.get(span.name()) == Some(name))
        {
            return None;
        }
        // Offsets fit: a tag past 4 GiB is over every limit anyway, and
        // `try_from` sends it to quick-xml.
        found.spans[found.len] = PlainSpan {
            name_start: u32::try_from(i).ok()?,
            name_end: u32::try_from(name_end).ok()?,
            value_start: u32::try_from(value_start).ok()?,
            value_end: u32::try_from(value_end).ok()?,
        };
        found.len += 1;
        i = value_end + 1;
    }
}

/// What [`plain_tag_attributes`] found.
#[derive(Clone, Default)]
struct PlainAttributes {
    spans: [PlainSpan; PlainAttributes::MAX],
    len: usize,
    /// Where the tag's attribute bytes lie in the input (set by
    /// [`Parser::plain_attributes_of`]).
    at: usize,
}

impl PlainAttributes {
    /// Enough for PIDF's elements; a tag with more is read by quick-xml.
    const MAX: usize = 4;

    fn iter(&self) -> impl Iterator<Item = &PlainSpan> {
        self.spans[..self.len].iter()
    }
}

/// One attribute's name and value, as offsets in the tag's bytes.
#[derive(Clone, Copy, Default)]
struct PlainSpan {
    name_start: u32,
    name_end: u32,
    value_start: u32,
    value_end: u32,
}

impl PlainSpan {
    fn name(&self) -> Range<usize> {
        self.name_start as usize..self.name_end as usize
    }

    fn value(&self) -> Range<usize> {
        self.value_start as usize..self.value_end as usize
    }
}

/// XML white space (`S`).
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// A qualified name's prefix (before the first `:`) and local part, as
/// quick-xml's `QName` splits it, by a byte loop: names are short, and
/// quick-xml's split is a `memchr` call each time.
fn split_name(name: &[u8]) -> (Option<&[u8]>, &[u8]) {
    match name.iter().position(|&b| b == b':') {
        Some(colon) => (Some(&name[..colon]), &name[colon + 1..]),
        None => (None, name),
    }
}

/// Where a name of the plain form [`Parser::skip_plain_content`] passes
/// over ends, from `i`: ASCII letters, digits, `_`, `-`, `.`, and at most
/// one `:` with a name on each side. `None` for anything else.
fn plain_name(input: &[u8], i: usize) -> Option<usize> {
    // By table: one load per byte, where the ranges take several tests.
    const NAME_BYTE: [bool; 256] = {
        let mut table = [false; 256];
        let mut b = 0;
        while b < 256 {
            table[b] =
                matches!(b as u8, b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'-' | b'.');
            b += 1;
        }
        table
    };
    let mut end = i;
    let mut colon = None;
    while let Some(&b) = input.get(end) {
        if !NAME_BYTE[usize::from(b)] {
            if b != b':' || colon.is_some() {
                break;
            }
            colon = Some(end);
        }
        end += 1;
    }
    let name_ok = end > i && colon.is_none_or(|c| c > i && c + 1 < end);
    name_ok.then_some(end)
}

fn is_whitespace_bytes(text: &[u8]) -> bool {
    text.iter()
        .all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
}

/// A `priority` value (RFC 3863 section 4.1.5): a decimal number. Values
/// outside 0..1 are ignored as the RFC asks (`Some(None)`); text that is not
/// a decimal number at all is an error (`None`).
pub(super) fn parse_priority(value: &str) -> Option<Option<f32>> {
    let value = value.trim();
    // The usual form, `0.8` or `1`: thousandths counted by hand. The value
    // read as a number and rounded to thousandths below is this count
    // exactly (the number is within far less than half a thousandth of it).
    if let Some(thousandths) = plain_priority(value.as_bytes()) {
        return Some((thousandths <= 1000).then(|| (f64::from(thousandths) / 1000.0) as f32));
    }
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

/// A priority of at most three digits before the point and three after
/// (at least one digit in all), in thousandths; `None` for anything else.
fn plain_priority(value: &[u8]) -> Option<u32> {
    let point = value.iter().position(|&b| b == b'.');
    let (int, frac) = match point {
        Some(at) => (&value[..at], &value[at + 1..]),
        None => (value, &value[value.len()..]),
    };
    if int.len() > 3 || frac.len() > 3 || int.len() + frac.len() == 0 {
        return None;
    }
    let mut n = 0u32;
    for &b in int.iter().chain(frac) {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n * 10 + u32::from(b - b'0');
    }
    Some(n * 10u32.pow(3 - frac.len() as u32))
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
    // Only asked of fields found to be digits: read by hand, as `parse`
    // would read them.
    let num = |r: std::ops::Range<usize>| {
        b.get(r).map_or(u32::MAX, |d| {
            d.iter().fold(0u32, |n, &c| {
                n.saturating_mul(10)
                    .saturating_add(u32::from(c.wrapping_sub(b'0')))
            })
        })
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

    /// The hand-counted form gives what reading the number gives, for
    /// every value of up to three digits on each side of the point.
    #[test]
    fn plain_priorities_as_numbers_read() {
        let by_number = |value: &str| {
            let number: f64 = value.parse().ok()?;
            let number = (number * 1000.0).round() / 1000.0;
            Some((0.0..=1.0).contains(&number).then_some(number as f32))
        };
        let mut values = vec![".".to_owned(), "".to_owned()];
        for int in ["", "0", "1", "2", "00", "01", "10", "000", "001", "999"] {
            values.push(int.to_owned());
            for frac in 0..1000 {
                for width in 1..=3 {
                    let frac = format!("{frac:03}");
                    values.push(format!("{int}.{}", &frac[3 - width..]));
                }
            }
            values.push(format!("{int}."));
        }
        for value in &values {
            let plain = plain_priority(value.as_bytes());
            if !value.is_empty() && value != "." {
                assert!(plain.is_some(), "{value}");
            }
            assert_eq!(parse_priority(value), by_number(value), "{value}");
        }
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

    /// Passing over plain extension content gives exactly what reading it
    /// event by event gives: the same document, or the same error at the
    /// same byte, with and without `mustUnderstand` checks, for every
    /// fixture with each byte replaced by one that matters to the scan, or
    /// cut short, under default and tight limits.
    #[test]
    #[allow(clippy::unwrap_used)]
    fn plain_content_skip_matches_event_reading() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/pidf");
        let mut inputs: Vec<Vec<u8>> = std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| std::fs::read(entry.unwrap().path()).unwrap())
            .collect();
        assert!(inputs.len() >= 5, "fixtures missing in {dir}");
        inputs.push(
            br#"<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:r="urn:r" xmlns:d="urn:d" entity="pres:a@b"><tuple id="t"><status><basic>open</basic><r:x a="1" r:b="2" xml:lang="en"><r:y/>text<d:z>z</d:z></r:x></status><d:q><d:w k="v"><u/></d:w></d:q></tuple><r:p><r:a/><r:b c="&lt;">x</r:b></r:p></presence>"#
                .to_vec(),
        );
        inputs.push(
            br#"<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:r="urn:r" xmlns:d="urn:d" entity="pres:a@b"><r:x><r:m mustUnderstand="true"/><d:m mustUnderstand="1">t</d:m></r:x></presence>"#
                .to_vec(),
        );
        inputs.push(
            br#"<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="pres:a@b"><tuple id="t"><status><basic>open</basic></status><contact priority="0.5">im:a&amp;b@c</contact><note xml:lang="fr">pla&#238;t &lt;&#x41;&gt;</note><timestamp>2005-10-27T16:49:29Z</timestamp></tuple><note>&quot;x&apos;</note></presence>"#
                .to_vec(),
        );
        // PIDF elements holding only text, read whole by `plain_leaf`.
        inputs.push(
            br#"<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:p="urn:ietf:params:xml:ns:pidf" xmlns:r="urn:r" entity="pres:a@b"><tuple id="t"><status><basic> open </basic></status><contact r:x="y">im:a@b</contact><p:note xml:lang="en">x &#x41;&amp;y&#233;</p:note><note a="b">n&#10;</note><note></note><timestamp>2005-10-27T16:49:29.5+09:00</timestamp></tuple><tuple id="u"><status><p:basic a="b">closed</p:basic></status><contact priority=" 0.5 ">x</contact><timestamp a="b">2005-10-27T16:49:29Z</timestamp></tuple><p:note>\xc3\xa9t\xc3\xa9</p:note></presence>"#
                .to_vec(),
        );
        // `<status>` read whole by `plain_status`, and put back for the
        // reader after an extension or a `<basic>` was taken.
        inputs.push(
            br#"<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:r="urn:r" entity="pres:a@b"><tuple id="t"><status><r:e/> <basic>open</basic><!-- c --></status></tuple><tuple id="u"><status> <r:e a="1">x</r:e><basic>closed</basic> </status></tuple><tuple id="v"><status><r:e/>text</status></tuple></presence>"#
                .to_vec(),
        );
        // Text the reader reads itself (after a comment or processing
        // instruction) before elements the plain readings would take: the
        // reader expects its input to go on at the markup after that text,
        // so they wait for its next event.
        inputs.push(
            br#"<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:r="urn:r" entity="pres:a@b"><tuple id="t"><status><?p?> <basic>open</basic> <!----> <r:e/>x</status><!-- c --> <contact>im:a@b</contact> <note>n</note></tuple><?q?> <r:p>t</r:p></presence>"#
                .to_vec(),
        );
        // A byte order mark, then a declaration passed over by hand.
        inputs.push(
            b"\xEF\xBB\xBF<?xml version=\"1.0\"?><presence xmlns=\"urn:ietf:params:xml:ns:pidf\" xmlns:r=\"urn:r\" entity=\"pres:a@b\"><tuple id=\"t\"><status><basic>open</basic><r:e>x</r:e></status></tuple></presence>"
                .to_vec(),
        );
        // Each XML declaration `skip_plain_declaration` passes over.
        for decl in [
            &br#"<?xml version="1.0" encoding="UTF-8"?>"#[..],
            br#"<?xml version="1.0" encoding="utf-8"?>"#,
            br#"<?xml version='1.0' encoding='UTF-8'?>"#,
            br#"<?xml version="1.0"?>"#,
        ] {
            inputs.push(
                [
                    decl,
                    br#"<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="pres:a@b"/>"#,
                ]
                .concat(),
            );
        }
        let replacements = [
            b'<', b'>', b'/', b'"', b'&', b'=', b':', b' ', b'!', b';', b'\r', 0xff,
        ];
        let tight = Limits {
            max_depth: 5,
            max_elements: 12,
            max_attributes: 2,
            ..Limits::default()
        };
        let understood: &[&str] = &["urn:r"];
        let mut compared = 0;
        let runs = [
            (Limits::default(), None),
            (Limits::default(), Some(understood)),
            (tight, None),
        ];
        for input in &inputs {
            for &(ref limits, understanding) in &runs {
                crate::test_support::each_mutation(input, &replacements, |bytes| {
                    let skipping = document_with(bytes, limits, understanding, true);
                    let reading = document_with(bytes, limits, understanding, false);
                    assert_eq!(skipping, reading, "{:?}", String::from_utf8_lossy(bytes));
                    compared += 1;
                });
            }
        }
        assert!(compared > 10_000);
    }

    /// Where `plain_tag_attributes` takes a tag, quick-xml (its checks on)
    /// reads the same attributes without error, each value as written and
    /// left so by normalising; tried on tags with every byte replaced by
    /// each of the 256 values, and cut short at every byte.
    #[test]
    fn plain_tag_attributes_read_as_quick_xml_reads_them() {
        let tags: [&[u8]; 4] = [
            br#"<presence xmlns="urn:ietf:params:xml:ns:pidf" entity='pres:a@b'>"#,
            br#"<t id="a'b" x:y='c"d' _z="" >"#,
            br#"<t a="1" b="2" c="3" d="4"/>"#,
            b"<t\ta=\"1\"\r\nb=\"\xc3\xa9\">",
        ];
        let mut taken = 0;
        for tag in tags {
            let mut bytes = tag.to_vec();
            let mut check = |bytes: &[u8]| {
                let mut reader = Reader::from_reader(bytes);
                let start = match reader.read_event() {
                    Ok(Event::Start(start) | Event::Empty(start)) => start,
                    _ => return,
                };
                let raw = start.attributes_raw();
                let Some(plain) = plain_tag_attributes(raw) else {
                    return;
                };
                taken += 1;
                let read: Vec<_> = start
                    .attributes()
                    .with_checks(true)
                    .collect::<Result<_, _>>()
                    .unwrap_or_else(|e| panic!("{e} in {:?}", String::from_utf8_lossy(bytes)));
                assert_eq!(
                    read.len(),
                    plain.len,
                    "{:?}",
                    String::from_utf8_lossy(bytes)
                );
                for (attr, span) in read.iter().zip(plain.iter()) {
                    assert_eq!(attr.key.as_ref(), &raw[span.name()]);
                    assert_eq!(&*attr.value, &raw[span.value()]);
                    if let Ok(value) = std::str::from_utf8(&raw[span.value()]) {
                        let normalised = attr
                            .normalized_value(XmlVersion::Implicit1_0)
                            .expect("a plain value normalises");
                        assert_eq!(normalised, value);
                    }
                }
            };
            check(&bytes);
            for at in 0..tag.len() {
                check(&tag[..at]);
                for b in 0..=255 {
                    bytes[at] = b;
                    check(&bytes);
                }
                bytes[at] = tag[at];
            }
        }
        assert!(taken > 10_000, "{taken}");
    }

    /// A kept extension's added declaration is the same text whether it is
    /// borrowed from the input (written there as needed) or written anew
    /// (the input's differs in quotes, spacing or escaping).
    #[test]
    fn added_declarations_as_written_or_made() {
        let doc = |decl: &str| {
            format!(
                r#"<presence xmlns="urn:ietf:params:xml:ns:pidf"{decl} entity="pres:a@b"><r:x/><tuple id="t"><status/><r:y a="1">t</r:y></tuple></presence>"#
            )
        };
        let expected = [
            r#"<r:x xmlns:r="urn:r"/>"#,
            r#"<r:y xmlns:r="urn:r" a="1">t</r:y>"#,
        ];
        for (decl, borrowed) in [
            (r#" xmlns:r="urn:r""#, true),
            (r#" xmlns:r='urn:r'"#, false),
            ("\n\txmlns:r=\"urn:r\"", false),
            (r#"  xmlns:r = "urn:r""#, false),
        ] {
            let xml = doc(decl);
            for skip in [true, false] {
                let parsed = document_with(xml.as_bytes(), &Limits::default(), None, skip);
                let Ok(Document::Pidf(presence)) = parsed else {
                    panic!("{xml}: {parsed:?}");
                };
                let kept = [&presence.extensions[0], &presence.tuples[0].extensions[0]];
                for (kept, expected) in kept.into_iter().zip(expected) {
                    assert_eq!(kept.as_xml(), expected, "{xml}");
                    assert_eq!(kept.to_string(), expected, "{xml}");
                    let input = matches!(kept.declarations, Some(Declared::Input(_)));
                    assert_eq!(input, borrowed, "{xml}");
                    assert_eq!(kept.clone().into_owned().as_xml(), expected);
                }
            }
        }
    }

    /// Repeated attribute names are refused with quick-xml's own error, at
    /// the same attribute, with few attributes and with many.
    #[test]
    fn repeated_attributes_as_quick_xml_refuses_them() {
        let many: String = (0..12).map(|i| format!(" a{i}='v'")).collect();
        let tags = [
            "tuple id='a' id='b'".to_owned(),
            "note xml:lang='en' a='1' xml:lang='fr'".to_owned(),
            "x a='1' b='2'".to_owned(),
            "x a='1' a".to_owned(),
            "x a=\"&amp;\" b='' a=''".to_owned(),
            format!("x{many} a3='w'"),
            format!("x{many} a11='w'"),
            format!("x{many} b='1' b='2'"),
            format!("x{many}"),
        ];
        for tag in &tags {
            let start = BytesStart::from_content(tag.as_str(), 1);
            let ours: Vec<_> = checked_attributes(&start)
                .map(|a| a.map(|a| a.key.as_ref().to_vec()))
                .collect();
            let quick_xml: Vec<_> = start
                .attributes()
                .map(|a| a.map(|a| a.key.as_ref().to_vec()))
                .collect();
            let upto_error = |v: &[Result<Vec<u8>, AttrError>]| {
                let end = v.iter().position(Result::is_err).map_or(v.len(), |i| i + 1);
                v[..end].to_vec()
            };
            assert_eq!(upto_error(&ours), upto_error(&quick_xml), "{tag}");
        }
    }

    /// A repeated tuple id is refused at the second tuple with it, among
    /// few tuples and among many (where ids are looked up by hash).
    #[test]
    fn repeated_tuple_ids() {
        let doc = |ids: &[&str]| {
            let mut xml =
                String::from(r#"<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="pres:a@b">"#);
            for id in ids {
                xml.push_str(&format!(r#"<tuple id="{id}"><status/></tuple>"#));
            }
            xml.push_str("</presence>");
            xml
        };
        let many: Vec<String> = (0..20).map(|i| format!("t{i}")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        let xml = doc(&many);
        let parsed = document(xml.as_bytes(), &Limits::default(), None);
        assert!(matches!(parsed, Ok(Document::Pidf(p)) if p.tuples.len() == 20));
        for at in [3, 15] {
            let mut ids = many.clone();
            ids[at] = "t1";
            let xml = doc(&ids);
            let second = xml
                .match_indices(r#"<tuple id="t1">"#)
                .nth(1)
                .map(|(i, _)| i);
            let error = document(xml.as_bytes(), &Limits::default(), None).err();
            assert_eq!(
                error.map(|e| (e.kind().clone(), e.position())),
                second.map(|i| (ErrorKind::DuplicateTupleId("t1".into()), i)),
            );
        }
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
