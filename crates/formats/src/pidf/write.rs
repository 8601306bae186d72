//! The PIDF serialiser (RFC 3863 section 4.4 element order).
//!
//! Written by hand rather than with quick-xml's writer because the work is
//! namespace bookkeeping for kept extensions, which the writer leaves to us.

use super::{Attribute, Element, Extension, Node, Note, Presence, Tuple, PIDF_NS, XML_NS};

/// Serialises `presence`; see [`Presence::to_xml`].
pub(super) fn presence(presence: &Presence<'_>) -> String {
    let mut w = Writer {
        out: String::with_capacity(256 + 256 * presence.tuples.len()),
        scope: vec![(None, Some(PIDF_NS.to_owned()))],
    };
    w.out
        .push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<presence xmlns=\"");
    w.out.push_str(PIDF_NS);
    w.out.push('"');
    let mark = w.scope.len();
    for ns in &presence.namespaces {
        if let Some(prefix) = &ns.prefix {
            if is_reserved(prefix) || w.lookup(Some(prefix)) == Some(ns.uri.as_str()) {
                continue;
            }
            w.declare(Some(prefix), Some(&ns.uri));
        }
    }
    w.attribute_decls(&presence.attributes);
    w.out.push_str(" entity=\"");
    escape_attr(&mut w.out, &presence.entity);
    w.out.push('"');
    w.attributes(&presence.attributes);
    w.out.push_str(">\n");
    for tuple in &presence.tuples {
        w.tuple(tuple);
    }
    for note in &presence.notes {
        w.note(note, 1);
    }
    for ext in &presence.extensions {
        w.indent(1);
        ext.write_to(&mut w.out);
        w.out.push('\n');
    }
    w.scope.truncate(mark);
    w.out.push_str("</presence>\n");
    w.out
}

struct Writer {
    out: String,
    /// In-scope bindings, innermost last: (prefix, namespace); a `None`
    /// namespace for the default prefix means "no namespace".
    scope: Vec<(Option<String>, Option<String>)>,
}

impl Writer {
    fn tuple(&mut self, tuple: &Tuple<'_>) {
        let mark = self.scope.len();
        self.indent(1);
        self.out.push_str("<tuple");
        self.attribute_decls(&tuple.attributes);
        self.out.push_str(" id=\"");
        escape_attr(&mut self.out, &tuple.id);
        self.out.push('"');
        self.attributes(&tuple.attributes);
        self.out.push_str(">\n");

        self.indent(2);
        if tuple.status.basic.is_none() && tuple.status.extensions.is_empty() {
            self.out.push_str("<status/>\n");
        } else {
            self.out.push_str("<status>\n");
            if let Some(basic) = tuple.status.basic {
                self.indent(3);
                self.out.push_str("<basic>");
                self.out.push_str(basic.as_str());
                self.out.push_str("</basic>\n");
            }
            for ext in &tuple.status.extensions {
                self.indent(3);
                ext.write_to(&mut self.out);
                self.out.push('\n');
            }
            self.indent(2);
            self.out.push_str("</status>\n");
        }
        for ext in &tuple.extensions {
            self.indent(2);
            ext.write_to(&mut self.out);
            self.out.push('\n');
        }
        if let Some(contact) = &tuple.contact {
            self.indent(2);
            self.out.push_str("<contact");
            if let Some(priority) = contact.priority.and_then(format_priority) {
                self.out.push_str(" priority=\"");
                self.out.push_str(&priority);
                self.out.push('"');
            }
            self.out.push('>');
            escape_text(&mut self.out, &contact.uri);
            self.out.push_str("</contact>\n");
        }
        for note in &tuple.notes {
            self.note(note, 2);
        }
        if let Some(timestamp) = &tuple.timestamp {
            self.indent(2);
            self.out.push_str("<timestamp>");
            escape_text(&mut self.out, timestamp);
            self.out.push_str("</timestamp>\n");
        }
        self.indent(1);
        self.out.push_str("</tuple>\n");
        self.scope.truncate(mark);
    }

    fn note(&mut self, note: &Note<'_>, depth: usize) {
        self.indent(depth);
        self.out.push_str("<note");
        if let Some(lang) = &note.lang {
            self.out.push_str(" xml:lang=\"");
            escape_attr(&mut self.out, lang);
            self.out.push('"');
        }
        self.out.push('>');
        escape_text(&mut self.out, &note.text);
        self.out.push_str("</note>\n");
    }

    /// Writes a kept element, declaring every prefix it needs that is not
    /// bound to the right namespace at this point.
    fn element(&mut self, e: &Element) {
        let mark = self.scope.len();
        self.out.push('<');
        let qname_start = self.out.len();
        if let Some(prefix) = e.prefix.as_deref().filter(|_| e.namespace.is_some()) {
            self.out.push_str(prefix);
            self.out.push(':');
        }
        self.out.push_str(&e.name);
        let qname_end = self.out.len();

        // Extra declarations first, except those the element's own names
        // rebind below (a prefix may be declared once per element).
        for ns in &e.namespaces {
            let used = e.prefix == ns.prefix
                || e.attributes
                    .iter()
                    .any(|a| a.prefix.is_some() && a.prefix == ns.prefix);
            let reserved = ns.prefix.as_deref().is_some_and(is_reserved);
            // Written even when redundant: the model keeps them where found.
            if !used && !reserved {
                self.declare(ns.prefix.as_deref(), Some(&ns.uri));
            }
        }
        let (prefix, namespace) = match (&e.prefix, &e.namespace) {
            (Some(p), Some(n)) => (Some(p.as_str()), Some(n.as_str())),
            (_, n) => (None, n.as_deref()),
        };
        if self.lookup(prefix) != namespace && !prefix.is_some_and(is_reserved) {
            self.declare(prefix, namespace);
        }
        self.attribute_decls(&e.attributes);
        self.attributes(&e.attributes);

        if e.children.is_empty() {
            self.out.push_str("/>");
        } else {
            self.out.push('>');
            for child in &e.children {
                match child {
                    Node::Element(child) => self.element(child),
                    Node::Text(text) => escape_text(&mut self.out, text),
                }
            }
            self.out.push_str("</");
            let qname = self.out[qname_start..qname_end].to_owned();
            self.out.push_str(&qname);
            self.out.push('>');
        }
        self.scope.truncate(mark);
    }

    /// Declares the prefixes of namespaced attributes that are not in scope.
    fn attribute_decls(&mut self, attributes: &[Attribute]) {
        for a in attributes {
            if let (Some(prefix), Some(namespace)) = (&a.prefix, &a.namespace) {
                if !is_reserved(prefix) && self.lookup(Some(prefix)) != Some(namespace.as_str()) {
                    self.declare(Some(prefix), Some(namespace));
                }
            }
        }
    }

    fn attributes(&mut self, attributes: &[Attribute]) {
        for a in attributes {
            self.out.push(' ');
            if let (Some(prefix), Some(_)) = (&a.prefix, &a.namespace) {
                self.out.push_str(prefix);
                self.out.push(':');
            }
            self.out.push_str(&a.name);
            self.out.push_str("=\"");
            escape_attr(&mut self.out, &a.value);
            self.out.push('"');
        }
    }

    fn declare(&mut self, prefix: Option<&str>, namespace: Option<&str>) {
        match prefix {
            Some(p) => {
                self.out.push_str(" xmlns:");
                self.out.push_str(p);
            }
            None => self.out.push_str(" xmlns"),
        }
        self.out.push_str("=\"");
        escape_attr(&mut self.out, namespace.unwrap_or(""));
        self.out.push('"');
        self.scope
            .push((prefix.map(str::to_owned), namespace.map(str::to_owned)));
    }

    fn lookup(&self, prefix: Option<&str>) -> Option<&str> {
        if prefix == Some("xml") {
            return Some(XML_NS);
        }
        self.scope
            .iter()
            .rev()
            .find(|(p, _)| p.as_deref() == prefix)
            .and_then(|(_, n)| n.as_deref())
    }

    fn indent(&mut self, depth: usize) {
        for _ in 0..depth {
            self.out.push_str("  ");
        }
    }
}

/// Serialises `element` to stand alone: every namespace it uses is declared
/// in it, the default namespace included (as `xmlns=""` for no namespace),
/// so it keeps its meaning inside a PIDF document.
pub(super) fn extension(element: &Element) -> Extension<'static> {
    let mut w = Writer {
        out: String::new(),
        // A binding no element has, so every use of the default namespace
        // is declared.
        scope: vec![(None, Some("\u{0}".to_owned()))],
    };
    w.element(element);
    Extension::from_parts(w.out.into(), 0, None)
}

/// Prefixes that are bound by XML itself and must not be declared.
fn is_reserved(prefix: &str) -> bool {
    prefix == "xml" || prefix == "xmlns"
}

/// Writes a priority as the schema's `qvalue` (`0(.[0-9]{0,3})?` or
/// `1(.0{0,3})?`); `None` when out of range, which the schema cannot express.
pub(super) fn format_priority(priority: f32) -> Option<String> {
    if !(0.0..=1.0).contains(&priority) {
        return None;
    }
    let mut s = format!("{priority:.3}");
    while s.ends_with('0') {
        s.pop();
    }
    if s.ends_with('.') {
        s.pop();
    }
    Some(s)
}

fn escape_text(out: &mut String, text: &str) {
    if !text.contains(['&', '<', '>', '\r']) {
        out.push_str(text);
        return;
    }
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            // A literal CR would be normalised away by the next parser.
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
}

pub(super) fn escape_attr(out: &mut String, text: &str) {
    // A byte scan: most values (namespace URIs) need no escaping at all.
    if !text
        .bytes()
        .any(|b| matches!(b, b'&' | b'<' | b'"' | b'\t' | b'\n' | b'\r'))
    {
        out.push_str(text);
        return;
    }
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '"' => out.push_str("&quot;"),
            // Attribute-value normalisation would turn these into spaces.
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pidf::{Basic, Contact};

    #[test]
    fn writes_minimal_document() {
        let mut p = Presence::new("pres:someone@example.com");
        let mut t = Tuple::new("sg89ae", Some(Basic::Open));
        t.contact = Some(Contact {
            uri: "tel:+09012345678".into(),
            priority: Some(0.8),
        });
        p.tuples.push(t);
        assert_eq!(
            p.to_xml(),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <presence xmlns=\"urn:ietf:params:xml:ns:pidf\" entity=\"pres:someone@example.com\">\n\
             \x20 <tuple id=\"sg89ae\">\n\
             \x20   <status>\n\
             \x20     <basic>open</basic>\n\
             \x20   </status>\n\
             \x20   <contact priority=\"0.8\">tel:+09012345678</contact>\n\
             \x20 </tuple>\n\
             </presence>\n"
        );
    }

    #[test]
    fn declares_extension_namespaces_where_needed() {
        let mut p = Presence::new("pres:a@example.com");
        let mut t = Tuple::new("t1", None);
        let mut ext = Element::new(Some("im"), "urn:ietf:params:xml:ns:pidf:im", "im");
        ext.children.push(Node::Text("busy".into()));
        t.status.extensions.push(ext.into());
        let mut person = Element::new(None, "urn:ietf:params:xml:ns:pidf:data-model", "person");
        person.attributes.push(Attribute {
            name: "id".into(),
            value: "p1".into(),
            ..Attribute::default()
        });
        p.extensions.push(person.into());
        p.tuples.push(t);
        let xml = p.to_xml();
        assert!(xml.contains("<im:im xmlns:im=\"urn:ietf:params:xml:ns:pidf:im\">busy</im:im>"));
        assert!(
            xml.contains("<person xmlns=\"urn:ietf:params:xml:ns:pidf:data-model\" id=\"p1\"/>")
        );
        // An element in no namespace says so, or PIDF's default would claim it.
        let bare = Element {
            name: "x".into(),
            ..Element::default()
        };
        assert_eq!(Extension::from_element(&bare).as_xml(), "<x xmlns=\"\"/>");
    }

    #[test]
    fn priority_is_written_as_a_qvalue() {
        assert_eq!(format_priority(0.0).as_deref(), Some("0"));
        assert_eq!(format_priority(1.0).as_deref(), Some("1"));
        assert_eq!(format_priority(0.725).as_deref(), Some("0.725"));
        assert_eq!(format_priority(0.021).as_deref(), Some("0.021"));
        assert_eq!(format_priority(1.5), None);
        assert_eq!(format_priority(f32::NAN), None);
    }

    #[test]
    fn escapes_text_and_attributes() {
        let mut p = Presence::new("pres:a&b@example.com");
        p.notes.push(Note::with_lang("en", "<x> & \"y\"\r"));
        let xml = p.to_xml();
        assert!(xml.contains("entity=\"pres:a&amp;b@example.com\""));
        assert!(xml.contains("<note xml:lang=\"en\">&lt;x&gt; &amp; \"y\"&#13;</note>"));
    }
}
