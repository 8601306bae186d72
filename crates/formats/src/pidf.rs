//! PIDF, the Presence Information Data Format (RFC 3863, `application/pidf+xml`).
//!
//! The model follows RFC 3863 section 4.1: a `<presence>` names its entity and
//! holds `<tuple>`s (status, contact, notes, timestamp) and presentity-level
//! `<note>`s. Elements and attributes from other namespaces (RFC 3863 section
//! 4.2; e.g. RPID, RFC 4480, and the data model of RFC 4479) are kept as
//! their XML text, at the place they were found, so a document crosses cpim
//! untouched.
//!
//! A parsed model borrows from its input (`Presence<'a>`): text fields are
//! `Cow<'a, str>`, borrowed unless decoding changed them (a reference, a line
//! end), and kept extensions are spans of the input, so parsing does not
//! allocate per field. [`Presence::into_owned`] gives a `Presence<'static>`
//! for a caller that keeps the document past its input.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

mod draft;
mod parse;
mod write;

pub use draft::{DraftPresence, DraftTuple};

pub use crate::xml::{first_non_xml_char, replace_non_xml_chars};

/// The PIDF namespace (RFC 3863 section 4.2.2).
pub const PIDF_NS: &str = "urn:ietf:params:xml:ns:pidf";
/// The namespace bound to the `xml` prefix (Namespaces in XML, section 3).
pub const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";

/// A PIDF document: the `<presence>` element (RFC 3863 section 4.1.1).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Presence<'a> {
    /// The `entity` attribute: the presentity's URI (usually `pres:`).
    pub entity: Cow<'a, str>,
    /// The `<tuple>` elements, in document order.
    pub tuples: Vec<Tuple<'a>>,
    /// Presentity-level `<note>` elements, in document order.
    pub notes: Vec<Note<'a>>,
    /// Child elements of `<presence>` from other namespaces (RFC 4479
    /// `<person>`/`<device>`, RPID elements...), in document order.
    pub extensions: Vec<Extension<'a>>,
    /// Attributes of `<presence>` from other namespaces.
    pub attributes: Vec<Attribute>,
    /// Namespace prefixes declared on `<presence>` other than the PIDF
    /// namespace, kept so that prefixes used inside attribute values or text
    /// (for example `xsi:type`) still resolve after re-serialisation.
    pub namespaces: Vec<Namespace>,
}

/// A `<tuple>` (RFC 3863 section 4.1.2).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Tuple<'a> {
    /// The `id` attribute (an `xs:ID`, unique in the document).
    pub id: Cow<'a, str>,
    /// The `<status>` element.
    pub status: Status<'a>,
    /// The `<contact>` element.
    pub contact: Option<Contact<'a>>,
    /// `<note>` elements about this tuple.
    pub notes: Vec<Note<'a>>,
    /// The `<timestamp>` text, as written (RFC 3339 date-time).
    pub timestamp: Option<Cow<'a, str>>,
    /// Child elements of `<tuple>` from other namespaces (e.g. RFC 4479
    /// `<deviceID>`, RFC 4480 `<class>`); written after `<status>`, where the
    /// schema puts them.
    pub extensions: Vec<Extension<'a>>,
    /// Attributes of `<tuple>` from other namespaces.
    pub attributes: Vec<Attribute>,
}

/// A `<status>` (RFC 3863 section 4.1.3).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Status<'a> {
    /// The `<basic>` element.
    pub basic: Option<Basic>,
    /// Status values from other namespaces (e.g. `<im:im>`), in order.
    pub extensions: Vec<Extension<'a>>,
}

/// The `<basic>` status value (RFC 3863 section 4.1.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Basic {
    Open,
    Closed,
}

/// A `<contact>` (RFC 3863 section 4.1.5).
#[derive(Clone, Debug, PartialEq)]
pub struct Contact<'a> {
    /// The contact address, a URI, whitespace around it removed.
    pub uri: Cow<'a, str>,
    /// The `priority` attribute, 0 to 1 with at most three decimals.
    pub priority: Option<f32>,
}

/// A `<note>` (RFC 3863 section 4.1.6).
#[derive(Clone, Debug, PartialEq)]
pub struct Note<'a> {
    /// The `xml:lang` attribute.
    pub lang: Option<Cow<'a, str>>,
    /// The text, exactly as written (entities resolved).
    pub text: Cow<'a, str>,
}

/// An element outside the PIDF namespace, kept as written (RFC 3863 section
/// 4.2.3 asks a processor to ignore it; a relay must pass it on untouched).
///
/// Held as its XML text, namespace-complete: every prefix it uses from the
/// document around it is declared on its root, so it means the same
/// wherever it is written. Kept as text rather than a tree because most
/// extensions are passed on, not read. A parsed one is the span of the
/// input it was written in, plus the declarations its root lacks (one
/// shared text for every extension of the document needing the same ones),
/// so that parsing copies nothing. [`Extension::element`] gives the tree.
#[derive(Clone)]
pub struct Extension<'a> {
    /// The element as written, from its `<` to the end of its end tag.
    text: Cow<'a, str>,
    /// Where the declarations go: the length of `<` and the root's name.
    name_end: usize,
    /// Declarations the root needs, each with a space before it
    /// (` xmlns:p="uri"`); `None` when it needs none.
    declarations: Option<Declared<'a>>,
}

/// The declarations added on a kept extension's root.
#[derive(Clone)]
pub(crate) enum Declared<'a> {
    /// One declaration, as written in the input: borrowed, so that keeping
    /// an extension costs no count on a shared text.
    Input(&'a str),
    /// A text shared by the extensions of a document needing the same.
    Shared(Arc<str>),
}

impl std::ops::Deref for Declared<'_> {
    type Target = str;

    fn deref(&self) -> &str {
        match self {
            Declared::Input(text) => text,
            Declared::Shared(text) => text,
        }
    }
}

/// An element tree: the parsed form of an [`Extension`], or one to build.
///
/// Names are namespace-complete: `namespace` is the resolved URI, `prefix` the
/// prefix it was written with. The serialiser declares whatever is not in
/// scope, so a kept element is valid wherever it is written.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Element {
    /// The prefix the element was written with; `None` for the default
    /// namespace.
    pub prefix: Option<String>,
    /// The namespace URI; `None` when the element is in no namespace.
    pub namespace: Option<String>,
    /// The local name.
    pub name: String,
    /// Attributes other than namespace declarations.
    pub attributes: Vec<Attribute>,
    /// Namespace declarations on this element that its own name and
    /// attributes do not need (those are re-declared as needed on output).
    pub namespaces: Vec<Namespace>,
    /// Children, in order.
    pub children: Vec<Node>,
}

/// A child of a kept [`Element`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Node {
    Element(Element),
    /// Character data, entities resolved.
    Text(String),
}

/// An attribute, namespace-complete.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Attribute {
    /// The prefix it was written with; `None` when unprefixed.
    pub prefix: Option<String>,
    /// The namespace URI; `None` for an unprefixed attribute.
    pub namespace: Option<String>,
    /// The local name.
    pub name: String,
    /// The value, entities resolved.
    pub value: String,
}

/// A namespace declaration `xmlns:prefix="uri"` (`prefix` `None`: `xmlns="uri"`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Namespace {
    pub prefix: Option<String>,
    pub uri: String,
}

/// A parsed presence document, in whichever form it was written.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Document<'a> {
    /// RFC 3863 PIDF: `<presence xmlns="urn:ietf:params:xml:ns:pidf" entity=..>`.
    Pidf(Presence<'a>),
    /// The draft's form (draft-ietf-impp-cpim-02 section 9): `<presence
    /// entityInfo=..>` with `<tuple destination=.. status=..>`, no namespace.
    Draft(DraftPresence),
}

/// Bounds on what a parser accepts; past any of them parsing stops with
/// [`ErrorKind::LimitExceeded`] at the byte where the bound was crossed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Document size in bytes.
    pub max_bytes: usize,
    /// Element nesting depth (`<presence>` is depth 1); never more than 4096.
    pub max_depth: usize,
    /// Elements in the whole document.
    pub max_elements: usize,
    /// `<tuple>` elements.
    pub max_tuples: usize,
    /// Attributes (namespace declarations included) on one element.
    pub max_attributes: usize,
}

impl Default for Limits {
    /// Generous for real presence documents (a large RPID document is a few
    /// kilobytes and some dozens of tuples), small enough to bound work.
    fn default() -> Limits {
        Limits {
            max_bytes: 1 << 20,
            max_depth: 32,
            max_elements: 20_000,
            max_tuples: 1_000,
            max_attributes: 64,
        }
    }
}

/// Why a document was refused, and the byte offset where that was seen.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{kind} at byte {position}")]
pub struct PidfError {
    kind: ErrorKind,
    position: usize,
}

/// What was wrong. Grouped by who is at fault: the sender's XML, the
/// sender's PIDF, a local policy bound, or an extension this receiver lacks.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    // Not well-formed, or XML features PIDF refuses.
    #[error("malformed XML: {0}")]
    Xml(String),
    #[error("invalid UTF-8")]
    InvalidUtf8,
    #[error("U+{:04X} is not a character XML allows", u32::from(*.0))]
    NotXmlChar(char),
    #[error("unsupported encoding {0:?} (PIDF is read as UTF-8)")]
    UnsupportedEncoding(String),
    #[error("document type declarations are refused")]
    DoctypeRefused,
    #[error("undefined entity &{0};")]
    UndefinedEntity(String),
    #[error("unbound namespace prefix {0:?}")]
    UnboundPrefix(String),
    #[error("no root element")]
    NoRootElement,
    #[error("content after the root element")]
    ContentAfterRoot,

    // Well-formed XML that is not PIDF.
    #[error("root element is <{found}>, not <presence>")]
    NotPresence { found: String },
    #[error("the draft's <presence> form where RFC 3863 PIDF was asked for")]
    DraftForm,
    #[error("<{element}> lacks the {attribute:?} attribute")]
    MissingAttribute {
        element: &'static str,
        attribute: &'static str,
    },
    #[error("<{parent}> lacks a <{element}>")]
    MissingElement {
        element: &'static str,
        parent: &'static str,
    },
    #[error("second <{0}>")]
    DuplicateElement(&'static str),
    #[error("unexpected <{element}> in <{parent}>")]
    UnexpectedElement {
        element: String,
        parent: &'static str,
    },
    #[error("unexpected text in <{parent}>")]
    UnexpectedText { parent: &'static str },
    #[error("<basic> is {0:?}, not \"open\" or \"closed\"")]
    InvalidBasic(String),
    #[error("priority {0:?} is not a decimal number")]
    InvalidPriority(String),
    #[error("timestamp {0:?} is not an RFC 3339 date-time")]
    InvalidTimestamp(String),
    #[error("tuple id {0:?} is not an XML name")]
    InvalidTupleId(String),
    #[error("tuple id {0:?} used twice")]
    DuplicateTupleId(String),

    // A local bound.
    #[error("more than {max} {limit}")]
    LimitExceeded { limit: &'static str, max: usize },

    // An extension the receiver does not implement.
    #[error("<{name}> in {namespace:?} is marked mustUnderstand and is not understood")]
    MustUnderstand { namespace: String, name: String },
}

impl PidfError {
    pub(crate) fn new(kind: ErrorKind, position: usize) -> PidfError {
        PidfError { kind, position }
    }

    /// What was wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// The byte offset in the input where the problem was seen.
    pub fn position(&self) -> usize {
        self.position
    }
}

impl<'a> Document<'a> {
    /// Parses either form, with default limits.
    pub fn parse(xml: &'a [u8]) -> Result<Document<'a>, PidfError> {
        parse::document(xml, &Limits::default(), None)
    }

    /// Parses either form within `limits`.
    pub fn parse_with(xml: &'a [u8], limits: &Limits) -> Result<Document<'a>, PidfError> {
        parse::document(xml, limits, None)
    }

    /// The RFC 3863 model of the document; draft presence information is
    /// converted with [`DraftPresence::to_presence`] under `entity`.
    pub fn into_presence(self, entity: &str) -> Presence<'a> {
        match self {
            Document::Pidf(presence) => presence,
            Document::Draft(draft) => draft.to_presence(entity),
        }
    }

    /// The same document, owning all its text.
    pub fn into_owned(self) -> Document<'static> {
        match self {
            Document::Pidf(presence) => Document::Pidf(presence.into_owned()),
            Document::Draft(draft) => Document::Draft(draft),
        }
    }
}

impl<'a> Presence<'a> {
    /// Parses an RFC 3863 PIDF document with default [`Limits`], keeping
    /// every extension. `mustUnderstand` is not enforced: a relay forwards
    /// what it does not process (see [`Presence::parse_understanding`]).
    /// The model borrows from `xml` ([`Presence::into_owned`] to keep it).
    pub fn parse(xml: &'a [u8]) -> Result<Presence<'a>, PidfError> {
        Presence::parse_with(xml, &Limits::default())
    }

    /// Parses an RFC 3863 PIDF document within `limits`.
    pub fn parse_with(xml: &'a [u8], limits: &Limits) -> Result<Presence<'a>, PidfError> {
        pidf_only(parse::document(xml, limits, None)?)
    }

    /// Parses for a processor that understands the extension namespaces in
    /// `understood` (RFC 3863 section 4.2.3): an extension element marked
    /// `mustUnderstand="true"` (or `"1"`) whose namespace is not understood
    /// is an error ([`ErrorKind::MustUnderstand`]), unless it sits inside an
    /// extension element that is itself not understood and so ignored whole.
    pub fn parse_understanding(
        xml: &'a [u8],
        limits: &Limits,
        understood: &[&str],
    ) -> Result<Presence<'a>, PidfError> {
        pidf_only(parse::document(xml, limits, Some(understood))?)
    }

    /// A presence document for `entity`, with no tuples yet.
    pub fn new(entity: impl Into<Cow<'a, str>>) -> Presence<'a> {
        Presence {
            entity: entity.into(),
            ..Presence::default()
        }
    }

    /// The same document, owning all its text (copied where borrowed).
    pub fn into_owned(self) -> Presence<'static> {
        Presence {
            entity: owned(self.entity),
            tuples: self.tuples.into_iter().map(Tuple::into_owned).collect(),
            notes: self.notes.into_iter().map(Note::into_owned).collect(),
            extensions: self
                .extensions
                .into_iter()
                .map(Extension::into_owned)
                .collect(),
            attributes: self.attributes,
            namespaces: self.namespaces,
        }
    }

    /// Serialises to a PIDF document that validates against the RFC 3863
    /// section 4.4 schema (given schema-valid kept extensions): the PIDF
    /// namespace is the default namespace, kept extensions are written where
    /// the schema allows them.
    pub fn to_xml(&self) -> String {
        write::presence(self)
    }
}

fn pidf_only(document: Document<'_>) -> Result<Presence<'_>, PidfError> {
    match document {
        Document::Pidf(presence) => Ok(presence),
        Document::Draft(_) => Err(PidfError::new(ErrorKind::DraftForm, 0)),
    }
}

/// A `Cow` that owns its text.
fn owned(text: Cow<'_, str>) -> Cow<'static, str> {
    Cow::Owned(text.into_owned())
}

impl<'a> Tuple<'a> {
    /// A tuple with the given id and `<basic>` status, nothing else.
    pub fn new(id: impl Into<Cow<'a, str>>, basic: Option<Basic>) -> Tuple<'a> {
        Tuple {
            id: id.into(),
            status: Status {
                basic,
                extensions: Vec::new(),
            },
            ..Tuple::default()
        }
    }

    /// The same tuple, owning all its text.
    pub fn into_owned(self) -> Tuple<'static> {
        Tuple {
            id: owned(self.id),
            status: self.status.into_owned(),
            contact: self.contact.map(Contact::into_owned),
            notes: self.notes.into_iter().map(Note::into_owned).collect(),
            timestamp: self.timestamp.map(owned),
            extensions: self
                .extensions
                .into_iter()
                .map(Extension::into_owned)
                .collect(),
            attributes: self.attributes,
        }
    }
}

impl Status<'_> {
    /// The same status, owning all its text.
    pub fn into_owned(self) -> Status<'static> {
        Status {
            basic: self.basic,
            extensions: self
                .extensions
                .into_iter()
                .map(Extension::into_owned)
                .collect(),
        }
    }
}

impl<'a> Contact<'a> {
    /// A contact with no priority.
    pub fn new(uri: impl Into<Cow<'a, str>>) -> Contact<'a> {
        Contact {
            uri: uri.into(),
            priority: None,
        }
    }

    /// The same contact, owning its text.
    pub fn into_owned(self) -> Contact<'static> {
        Contact {
            uri: owned(self.uri),
            priority: self.priority,
        }
    }

    /// The priority as the serialiser writes it: a decimal with at most three
    /// digits after the point (`"0.8"`, `"1"`); `None` when absent or outside
    /// 0..1.
    pub fn priority_text(&self) -> Option<String> {
        self.priority.and_then(write::format_priority)
    }
}

impl<'a> Note<'a> {
    /// A note with no `xml:lang`.
    pub fn new(text: impl Into<Cow<'a, str>>) -> Note<'a> {
        Note {
            lang: None,
            text: text.into(),
        }
    }

    /// A note in the language `lang` (an RFC 3066 tag).
    pub fn with_lang(lang: impl Into<Cow<'a, str>>, text: impl Into<Cow<'a, str>>) -> Note<'a> {
        Note {
            lang: Some(lang.into()),
            text: text.into(),
        }
    }

    /// The same note, owning its text.
    pub fn into_owned(self) -> Note<'static> {
        Note {
            lang: self.lang.map(owned),
            text: owned(self.text),
        }
    }
}

impl Basic {
    /// The value as written in `<basic>`.
    pub fn as_str(self) -> &'static str {
        match self {
            Basic::Open => "open",
            Basic::Closed => "closed",
        }
    }
}

impl fmt::Display for Basic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<'a> Extension<'a> {
    /// Parses one element outside the PIDF namespace. Prefixes must be
    /// declared in it.
    pub fn parse(xml: &'a str) -> Result<Extension<'a>, PidfError> {
        parse::extension(xml)
    }

    /// The extension for an element tree, with every namespace it uses
    /// declared in it.
    pub fn from_element(element: &Element) -> Extension<'static> {
        write::extension(element)
    }

    /// An extension of text known to be one namespace-complete element.
    pub(crate) fn from_parts(
        text: Cow<'a, str>,
        name_end: usize,
        declarations: Option<Declared<'a>>,
    ) -> Extension<'a> {
        Extension {
            text,
            name_end,
            declarations,
        }
    }

    /// The element's XML text, as written into a PIDF document; borrowed
    /// unless declarations are added to the text as read.
    pub fn as_xml(&self) -> Cow<'_, str> {
        match &self.declarations {
            None => Cow::Borrowed(&self.text),
            Some(declarations) => {
                let mut xml = String::with_capacity(self.text.len() + declarations.len());
                self.write_to(&mut xml);
                Cow::Owned(xml)
            }
        }
    }

    /// Appends the element's XML text to `out`.
    pub fn write_to(&self, out: &mut String) {
        let (head, rest) = self.split();
        out.push_str(head);
        if let Some(declarations) = &self.declarations {
            out.push_str(declarations);
        }
        out.push_str(rest);
    }

    /// The text before and after where the declarations go.
    fn split(&self) -> (&str, &str) {
        let at = self.name_end.min(self.text.len());
        match (self.text.get(..at), self.text.get(at..)) {
            (Some(head), Some(rest)) => (head, rest),
            _ => ("", &self.text),
        }
    }

    /// The element as a tree.
    pub fn element(&self) -> Result<Element, PidfError> {
        parse::element_tree(&self.as_xml())
    }

    /// The root element's name as written (`prefix:local` or `local`).
    pub fn qname(&self) -> &str {
        let tag = self.text.get(1..).unwrap_or("");
        let end = tag
            .find(|c: char| c.is_ascii_whitespace() || c == '/' || c == '>')
            .unwrap_or(tag.len());
        &tag[..end]
    }

    /// The root element's local name.
    pub fn name(&self) -> &str {
        let qname = self.qname();
        qname.split_once(':').map_or(qname, |(_, local)| local)
    }

    /// The root element's namespace URI (`None`: no namespace, or the text
    /// does not parse, which a parsed extension always does).
    pub fn namespace(&self) -> Option<String> {
        self.element().ok().and_then(|e| e.namespace)
    }

    /// The same extension, owning its text.
    pub fn into_owned(self) -> Extension<'static> {
        Extension {
            text: owned(self.text),
            name_end: self.name_end,
            declarations: self.declarations.map(|d| match d {
                Declared::Input(text) => Declared::Shared(Arc::from(text)),
                Declared::Shared(text) => Declared::Shared(text),
            }),
        }
    }
}

/// Equal when the XML texts are, however each is held.
impl PartialEq for Extension<'_> {
    fn eq(&self, other: &Extension<'_>) -> bool {
        let (a, b) = (self.split(), other.split());
        let decl = |e: &Extension<'_>| e.declarations.as_deref().unwrap_or("").len();
        let len = |e: &Extension<'_>| e.text.len() + decl(e);
        if len(self) != len(other) {
            return false;
        }
        if (a.0, self.declarations.as_deref()) == (b.0, other.declarations.as_deref()) {
            return a.1 == b.1;
        }
        self.as_xml() == other.as_xml()
    }
}

impl Eq for Extension<'_> {}

impl fmt::Debug for Extension<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Extension").field(&self.as_xml()).finish()
    }
}

impl From<Element> for Extension<'static> {
    fn from(element: Element) -> Extension<'static> {
        Extension::from_element(&element)
    }
}

impl fmt::Display for Extension<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (head, rest) = self.split();
        f.write_str(head)?;
        if let Some(declarations) = &self.declarations {
            f.write_str(declarations)?;
        }
        f.write_str(rest)
    }
}

impl Element {
    /// An empty element `name` in `namespace`, written with `prefix`.
    pub fn new(prefix: Option<&str>, namespace: &str, name: &str) -> Element {
        Element {
            prefix: prefix.map(str::to_owned),
            namespace: Some(namespace.to_owned()),
            name: name.to_owned(),
            ..Element::default()
        }
    }

    /// The element's text content (its text children, concatenated).
    pub fn text(&self) -> String {
        let mut out = String::new();
        for child in &self.children {
            if let Node::Text(text) = child {
                out.push_str(text);
            }
        }
        out
    }

    /// The first child element with this namespace and local name.
    pub fn child(&self, namespace: &str, name: &str) -> Option<&Element> {
        self.children.iter().find_map(|child| match child {
            Node::Element(e) if e.name == name && e.namespace.as_deref() == Some(namespace) => {
                Some(e)
            }
            _ => None,
        })
    }
}
