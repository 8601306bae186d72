//! PIDF, the Presence Information Data Format (RFC 3863, `application/pidf+xml`).
//!
//! The model follows RFC 3863 section 4.1: a `<presence>` names its entity and
//! holds `<tuple>`s (status, contact, notes, timestamp) and presentity-level
//! `<note>`s. Elements and attributes from other namespaces (RFC 3863 section
//! 4.2; e.g. RPID, RFC 4480, and the data model of RFC 4479) are kept as small
//! owned element trees, at the place they were found, so a document crosses
//! cpim untouched.

use std::fmt;

mod write;

/// The PIDF namespace (RFC 3863 section 4.2.2).
pub const PIDF_NS: &str = "urn:ietf:params:xml:ns:pidf";
/// The namespace bound to the `xml` prefix (Namespaces in XML, section 3).
pub const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";

/// A PIDF document: the `<presence>` element (RFC 3863 section 4.1.1).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Presence {
    /// The `entity` attribute: the presentity's URI (usually `pres:`).
    pub entity: String,
    /// The `<tuple>` elements, in document order.
    pub tuples: Vec<Tuple>,
    /// Presentity-level `<note>` elements, in document order.
    pub notes: Vec<Note>,
    /// Child elements of `<presence>` from other namespaces (RFC 4479
    /// `<person>`/`<device>`, RPID elements...), in document order.
    pub extensions: Vec<Element>,
    /// Attributes of `<presence>` from other namespaces.
    pub attributes: Vec<Attribute>,
    /// Namespace prefixes declared on `<presence>` other than the PIDF
    /// namespace, kept so that prefixes used inside attribute values or text
    /// (for example `xsi:type`) still resolve after re-serialisation.
    pub namespaces: Vec<Namespace>,
}

/// A `<tuple>` (RFC 3863 section 4.1.2).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Tuple {
    /// The `id` attribute (an `xs:ID`, unique in the document).
    pub id: String,
    /// The `<status>` element.
    pub status: Status,
    /// The `<contact>` element.
    pub contact: Option<Contact>,
    /// `<note>` elements about this tuple.
    pub notes: Vec<Note>,
    /// The `<timestamp>` text, as written (RFC 3339 date-time).
    pub timestamp: Option<String>,
    /// Child elements of `<tuple>` from other namespaces (e.g. RFC 4479
    /// `<deviceID>`, RFC 4480 `<class>`); written after `<status>`, where the
    /// schema puts them.
    pub extensions: Vec<Element>,
    /// Attributes of `<tuple>` from other namespaces.
    pub attributes: Vec<Attribute>,
}

/// A `<status>` (RFC 3863 section 4.1.3).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Status {
    /// The `<basic>` element.
    pub basic: Option<Basic>,
    /// Status values from other namespaces (e.g. `<im:im>`), in order.
    pub extensions: Vec<Element>,
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
pub struct Contact {
    /// The contact address, a URI, whitespace around it removed.
    pub uri: String,
    /// The `priority` attribute, 0 to 1 with at most three decimals.
    pub priority: Option<f32>,
}

/// A `<note>` (RFC 3863 section 4.1.6).
#[derive(Clone, Debug, PartialEq)]
pub struct Note {
    /// The `xml:lang` attribute.
    pub lang: Option<String>,
    /// The text, exactly as written (entities resolved).
    pub text: String,
}

/// An element outside the PIDF namespace, kept whole.
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

impl Presence {
    /// A presence document for `entity`, with no tuples yet.
    pub fn new(entity: impl Into<String>) -> Presence {
        Presence {
            entity: entity.into(),
            ..Presence::default()
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

impl Tuple {
    /// A tuple with the given id and `<basic>` status, nothing else.
    pub fn new(id: impl Into<String>, basic: Option<Basic>) -> Tuple {
        Tuple {
            id: id.into(),
            status: Status {
                basic,
                extensions: Vec::new(),
            },
            ..Tuple::default()
        }
    }
}

impl Contact {
    /// A contact with no priority.
    pub fn new(uri: impl Into<String>) -> Contact {
        Contact {
            uri: uri.into(),
            priority: None,
        }
    }
}

impl Note {
    /// A note with no `xml:lang`.
    pub fn new(text: impl Into<String>) -> Note {
        Note {
            lang: None,
            text: text.into(),
        }
    }

    /// A note in the language `lang` (an RFC 3066 tag).
    pub fn with_lang(lang: impl Into<String>, text: impl Into<String>) -> Note {
        Note {
            lang: Some(lang.into()),
            text: text.into(),
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
