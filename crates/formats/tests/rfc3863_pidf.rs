//! RFC 3863 (PIDF), its RFC 4479/4480 extensions, and the draft's presence
//! model (draft-ietf-impp-cpim-02 section 9): every example as a fixture,
//! field assertions, round trips, refusals with their exact errors.
#![allow(clippy::unwrap_used)]

use cpim_formats::pidf::{
    Basic, Document, DraftPresence, ErrorKind, Limits, Node, Note, PidfError, Presence, Tuple,
};
use std::path::PathBuf;

const DM: &str = "urn:ietf:params:xml:ns:pidf:data-model";
const RPID: &str = "urn:ietf:params:xml:ns:pidf:rpid";

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/pidf")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn parse(name: &str) -> Presence<'static> {
    Presence::parse(&fixture(name))
        .map(Presence::into_owned)
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn round_trip(p: &Presence) {
    let xml = p.to_xml();
    let again = Presence::parse(xml.as_bytes()).unwrap_or_else(|e| panic!("{e}\n{xml}"));
    assert_eq!(&again, p, "{xml}");
    // Serialising is stable once the model is fixed.
    assert_eq!(again.to_xml(), xml);
}

fn err(xml: &str) -> PidfError {
    Presence::parse(xml.as_bytes()).unwrap_err()
}

#[test]
fn rfc3863_4_2_2_both_namespace_forms_are_the_same_presence() {
    let prefixed = parse("rfc3863_4.2.2_prefixed.xml");
    let default = parse("rfc3863_4.2.2_default_ns.xml");
    assert_eq!(prefixed.entity, "pres:someone@example.com");
    assert_eq!(prefixed.tuples.len(), 1);
    let t = &prefixed.tuples[0];
    assert_eq!(t.id, "sg89ae");
    assert_eq!(t.status.basic, Some(Basic::Open));
    let contact = t.contact.as_ref().unwrap();
    assert_eq!(contact.uri, "tel:+09012345678");
    assert_eq!(contact.priority, Some(0.8));
    // Only the prefix declaration differs.
    assert_eq!(prefixed.tuples, default.tuples);
    assert_eq!(prefixed.namespaces.len(), 1);
    assert!(default.namespaces.is_empty());
    round_trip(&prefixed);
    round_trip(&default);
}

#[test]
fn rfc3863_4_2_4_status_extension_is_kept_in_status() {
    let p = parse("rfc3863_4.2.4_location.xml");
    let status = &p.tuples[0].status;
    assert_eq!(status.basic, Some(Basic::Open));
    assert_eq!(status.extensions.len(), 1);
    let location = status.extensions[0].element().unwrap();
    assert_eq!(location.prefix.as_deref(), Some("local"));
    assert_eq!(
        location.namespace.as_deref(),
        Some("urn:example-com:pidf-status-type")
    );
    assert_eq!(location.name, "location");
    assert_eq!(location.text(), "home");
    assert_eq!(
        p.tuples[0].contact.as_ref().unwrap().uri,
        "im:someone@example.com"
    );
    assert_eq!(p.tuples[0].contact.as_ref().unwrap().priority, None);
    round_trip(&p);
}

#[test]
fn rfc3863_4_3_1_notes_timestamps_and_two_status_extensions() {
    let p = parse("rfc3863_4.3.1_status_extensions.xml");
    assert_eq!(p.tuples.len(), 2);
    let t = &p.tuples[0];
    assert_eq!(t.id, "bs35r9");
    let names: Vec<_> = t.status.extensions.iter().map(|e| e.name()).collect();
    assert_eq!(names, ["im", "location"]);
    assert_eq!(t.status.extensions[0].element().unwrap().text(), "busy");
    assert_eq!(
        t.status.extensions[0].as_xml(),
        r#"<im:im xmlns:im="urn:ietf:params:xml:ns:pidf:im">busy</im:im>"#
    );
    assert_eq!(
        t.notes,
        [
            Note::with_lang("en", "Don't Disturb Please!"),
            Note::with_lang("fr", "Ne derangez pas, s'il vous plait"),
        ]
    );
    assert_eq!(t.timestamp.as_deref(), Some("2001-10-27T16:49:29Z"));
    assert_eq!(p.tuples[1].contact.as_ref().unwrap().priority, Some(1.0));
    assert_eq!(p.notes, [Note::new("I'll be in Tokyo next week")]);
    round_trip(&p);
}

#[test]
fn rfc3863_4_3_2_tuple_and_presence_extensions() {
    let p = parse("rfc3863_4.3.2_other_extensions.xml");
    assert_eq!(p.tuples[0].extensions.len(), 1);
    assert_eq!(p.tuples[0].extensions[0].name(), "mytupletag");
    assert_eq!(
        p.tuples[0].extensions[0].element().unwrap().text(),
        "Extended value in tuple"
    );
    assert_eq!(p.tuples[0].contact.as_ref().unwrap().priority, Some(0.65));
    // Whitespace around the URI is not part of it.
    assert_eq!(
        p.tuples[1].contact.as_ref().unwrap().uri,
        "im:someone@mobilecarrier.net"
    );
    assert_eq!(p.extensions.len(), 1);
    assert_eq!(p.extensions[0].name(), "mytag");
    assert_eq!(
        p.extensions[0].namespace().as_deref(),
        Some("http://id.example.com/presence/")
    );
    round_trip(&p);
}

#[test]
fn rfc3863_4_3_3_must_understand() {
    let xml = fixture("rfc3863_4.3.3_must_understand.xml");
    let myex = "http://id.mycompany.com/presence/";
    // A relay keeps it all.
    let p = Presence::parse(&xml).unwrap();
    let complex = p.tuples[0].extensions[0].element().unwrap();
    let ex1 = complex.child(myex, "ex1").unwrap();
    assert_eq!(ex1.attributes[0].name, "mustUnderstand");
    assert_eq!(
        ex1.attributes[0].namespace.as_deref(),
        Some("urn:ietf:params:xml:ns:pidf")
    );
    round_trip(&p);
    // A processor that ignores myex ignores <complexExtension> whole, the
    // mark inside included (section 4.2.3 NOTE).
    assert!(Presence::parse_understanding(&xml, &Limits::default(), &[]).is_ok());
    // One that understands myex understands <ex1> too.
    assert!(Presence::parse_understanding(&xml, &Limits::default(), &[myex]).is_ok());
}

#[test]
fn must_understand_not_understood_is_refused_with_its_position() {
    let xml = br#"<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:a="urn:a" xmlns:b="urn:b" entity="pres:x@example.com"><tuple id="t"><status><basic>open</basic><a:outer><b:inner mustUnderstand="true"/></a:outer></status></tuple></presence>"#;
    let e = Presence::parse_understanding(xml, &Limits::default(), &["urn:a"]).unwrap_err();
    assert_eq!(
        e.kind(),
        &ErrorKind::MustUnderstand {
            namespace: "urn:b".into(),
            name: "inner".into()
        }
    );
    assert_eq!(e.position(), 156);
    assert_eq!(&xml[156..164], b"<b:inner");
    assert_eq!(
        e.to_string(),
        "<inner> in \"urn:b\" is marked mustUnderstand and is not understood at byte 156"
    );
    // Understood: accepted.
    assert!(Presence::parse_understanding(xml, &Limits::default(), &["urn:a", "urn:b"]).is_ok());
    // A top-level extension so marked is refused too.
    let top = br#"<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:p="urn:ietf:params:xml:ns:pidf" entity="pres:x@example.com"><tuple id="t"><status><z:z xmlns:z="urn:z" p:mustUnderstand="1"/></status></tuple></presence>"#;
    let e = Presence::parse_understanding(top, &Limits::default(), &[]).unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::MustUnderstand { name, .. } if name == "z"));
    // mustUnderstand="false" asks nothing.
    let no = br#"<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="pres:x@example.com"><z:z xmlns:z="urn:z" mustUnderstand="false"/></presence>"#;
    assert!(Presence::parse_understanding(no, &Limits::default(), &[]).is_ok());
}

#[test]
fn rfc4480_rpid_document_crosses_untouched() {
    let p = parse("rfc4480_4_example.xml");
    assert_eq!(p.tuples.len(), 3);
    let t = &p.tuples[0];
    let names: Vec<_> = t
        .extensions
        .iter()
        .map(|e| (e.namespace().unwrap(), e.name().to_owned()))
        .collect();
    assert_eq!(
        names,
        [
            (DM.to_owned(), "deviceID".to_owned()),
            (RPID.to_owned(), "relationship".to_owned()),
            (RPID.to_owned(), "service-class".to_owned())
        ]
    );
    assert_eq!(
        t.extensions[0].element().unwrap().text(),
        "urn:device:0003ba4811e3"
    );
    assert_eq!(
        t.extensions[1].as_xml(),
        r#"<rpid:relationship xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid"><rpid:self/></rpid:relationship>"#
    );
    assert_eq!(t.timestamp.as_deref(), Some("2005-10-27T16:49:29Z"));
    assert_eq!(p.tuples[2].extensions[1].element().unwrap().text(), "email");
    assert_eq!(p.notes, [Note::new("I'll be in Tokyo next week")]);
    let kinds: Vec<_> = p.extensions.iter().map(|e| e.name()).collect();
    assert_eq!(kinds, ["device", "person"]);
    let person = p.extensions[1].element().unwrap();
    assert_eq!(person.attributes[0].name, "id");
    assert_eq!(person.attributes[0].value, "p1");
    let activities = person.child(RPID, "activities").unwrap();
    assert_eq!(activities.attributes[1].value, "2005-05-30T17:00:00+05:00");
    assert!(activities.child(RPID, "away").is_some());
    let place_type = person.child(RPID, "place-type").unwrap();
    let residence = place_type
        .child("urn:ietf:params:xml:ns:location-type", "residence")
        .unwrap();
    assert_eq!(residence.prefix.as_deref(), Some("lt"));
    round_trip(&p);
    // The re-serialised document carries every extension, namespaces intact.
    let xml = p.to_xml();
    let again = Presence::parse(xml.as_bytes()).unwrap();
    assert_eq!(again.extensions, p.extensions);
}

#[test]
fn rfc4479_example_lacks_the_required_entity() {
    // RFC 4479 section 5.4's example has no `entity` attribute, which RFC
    // 3863's schema requires.
    let e = Presence::parse(&fixture("rfc4479_5.4_example_no_entity.xml")).unwrap_err();
    assert_eq!(
        e.kind(),
        &ErrorKind::MissingAttribute {
            element: "presence",
            attribute: "entity"
        }
    );
    assert_eq!(e.position(), 39);
}

#[test]
fn rfc4479_example_with_an_entity_keeps_its_data_model() {
    let xml = String::from_utf8(fixture("rfc4479_5.4_example_no_entity.xml")).unwrap();
    let xml = xml.replace(
        "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"",
        "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" entity=\"pres:someone@example.com\"",
    );
    let p = Presence::parse(xml.as_bytes()).unwrap();
    let servcaps = p.tuples[0].extensions[1].element().unwrap();
    assert_eq!(servcaps.name, "servcaps");
    let methods = servcaps
        .child("urn:ietf:params:xml:ns:pidf:caps", "methods")
        .unwrap();
    let supported = methods
        .child("urn:ietf:params:xml:ns:pidf:caps", "supported")
        .unwrap();
    let listed: Vec<_> = supported
        .children
        .iter()
        .filter_map(|n| match n {
            Node::Element(e) => Some(e.name.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(listed, ["MESSAGE", "OPTIONS"]);
    assert_eq!(p.namespaces.len(), 4);
    round_trip(&p);
}

#[test]
fn draft_notify_presence_is_told_apart_and_converted() {
    let xml = fixture("draft_notify_presence.xml");
    let Document::Draft(draft) = Document::parse(&xml).unwrap() else {
        panic!("not recognised as the draft form");
    };
    assert_eq!(
        draft.entity_info.as_deref(),
        Some("http://www.example.com/fred/")
    );
    assert_eq!(draft.tuples.len(), 1);
    assert_eq!(draft.tuples[0].destination, "im:fred@example.com");
    assert_eq!(draft.tuples[0].status, Basic::Open);
    let p = draft.to_presence("pres:fred@example.com");
    assert_eq!(p.entity, "pres:fred@example.com");
    assert_eq!(p.tuples[0].id, "t1");
    assert_eq!(p.tuples[0].status.basic, Some(Basic::Open));
    assert_eq!(
        p.tuples[0].contact.as_ref().unwrap().uri,
        "im:fred@example.com"
    );
    round_trip(&p);
    // Back to the draft's form.
    let back = DraftPresence::from_presence(&p);
    assert_eq!(back.tuples, draft.tuples);
    let draft_xml = back.to_xml();
    let reparsed = Document::parse(draft_xml.as_bytes()).unwrap();
    assert_eq!(reparsed, Document::Draft(back));
    // Presence::parse wants RFC 3863.
    assert_eq!(
        Presence::parse(&xml).unwrap_err().kind(),
        &ErrorKind::DraftForm
    );
    // And Document::parse tells PIDF apart.
    assert!(matches!(
        Document::parse(&fixture("rfc3863_4.2.2_default_ns.xml")).unwrap(),
        Document::Pidf(_)
    ));
}

#[test]
fn draft_form_errors() {
    let e = Document::parse(b"<presence><tuple status='open'/></presence>").unwrap_err();
    assert_eq!(
        e.kind(),
        &ErrorKind::MissingAttribute {
            element: "tuple",
            attribute: "destination"
        }
    );
    assert_eq!(e.position(), 10);
    let e = Document::parse(b"<presence><tuple destination='im:a@b' status='away'/></presence>")
        .unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::InvalidBasic("away".into()));
    let e = Document::parse(b"<presence entityInfo=''></presence>").unwrap_err();
    assert_eq!(
        e.kind(),
        &ErrorKind::MissingElement {
            element: "tuple",
            parent: "presence"
        }
    );
}

#[test]
fn built_presence_round_trips_with_every_field() {
    let mut p = Presence::new("pres:alice@example.com");
    let mut t = Tuple::new("a1", Some(Basic::Closed));
    t.contact = Some(cpim_formats::pidf::Contact {
        uri: "im:alice@example.com".into(),
        priority: Some(0.021),
    });
    t.notes
        .push(Note::with_lang("de", "Bin gleich zurück & <bald>"));
    t.timestamp = Some("2026-11-24T12:00:00.25+01:00".into());
    p.tuples.push(t);
    p.tuples.push(Tuple::new("a2", None));
    p.notes.push(Note::new("  spaces kept  "));
    round_trip(&p);
}

const HEAD: &str = r#"<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="pres:x@example.com">"#;

#[test]
fn invalid_documents_name_what_and_where() {
    let cases: &[(String, ErrorKind, &str)] = &[
        (
            format!("{HEAD}<tuple><status/></tuple></presence>"),
            ErrorKind::MissingAttribute {
                element: "tuple",
                attribute: "id",
            },
            "<tuple>",
        ),
        (
            format!("{HEAD}<tuple id='t'></tuple></presence>"),
            ErrorKind::MissingElement {
                element: "status",
                parent: "tuple",
            },
            "</tuple>",
        ),
        (
            format!("{HEAD}<tuple id='t'><status><basic>away</basic></status></tuple></presence>"),
            ErrorKind::InvalidBasic("away".into()),
            "<basic>",
        ),
        (
            format!("{HEAD}<tuple id='t'><status/><status/></tuple></presence>"),
            ErrorKind::DuplicateElement("status"),
            "<status/></tuple>",
        ),
        (
            format!("{HEAD}<tuple id='t'><status/><contact priority='high'>im:a@b</contact></tuple></presence>"),
            ErrorKind::InvalidPriority("high".into()),
            "<contact",
        ),
        (
            format!("{HEAD}<tuple id='t'><status/><timestamp>27 Oct 2001</timestamp></tuple></presence>"),
            ErrorKind::InvalidTimestamp("27 Oct 2001".into()),
            "<timestamp>",
        ),
        (
            format!("{HEAD}<tuple id='1t'><status/></tuple></presence>"),
            ErrorKind::InvalidTupleId("1t".into()),
            "<tuple",
        ),
        (
            format!("{HEAD}<tuple id='t'><status/></tuple><tuple id='t'><status/></tuple></presence>"),
            ErrorKind::DuplicateTupleId("t".into()),
            "<tuple id='t'><status/></tuple></presence>",
        ),
        (
            format!("{HEAD}<tuple id='t'><state/></tuple></presence>"),
            ErrorKind::UnexpectedElement {
                element: "state".into(),
                parent: "tuple",
            },
            "<state/>",
        ),
        (
            format!("{HEAD}hello</presence>"),
            ErrorKind::UnexpectedText { parent: "presence" },
            "hello",
        ),
        (
            format!("{HEAD}<note>a<b/></note></presence>"),
            ErrorKind::UnexpectedElement {
                element: "b".into(),
                parent: "note",
            },
            "<b/>",
        ),
        (
            format!("{HEAD}<x:y/></presence>"),
            ErrorKind::UnboundPrefix("x".into()),
            "<x:y/>",
        ),
        (
            format!("{HEAD}<note>&nbsp;</note></presence>"),
            ErrorKind::UndefinedEntity("nbsp".into()),
            "&nbsp;",
        ),
        (
            r#"<presence xmlns="urn:ietf:params:xml:ns:pidf"/>"#.into(),
            ErrorKind::MissingAttribute {
                element: "presence",
                attribute: "entity",
            },
            "<presence",
        ),
        (
            r#"<status xmlns="urn:ietf:params:xml:ns:pidf"/>"#.into(),
            ErrorKind::NotPresence {
                found: "{urn:ietf:params:xml:ns:pidf}status".into(),
            },
            "<status",
        ),
        ("  ".into(), ErrorKind::NoRootElement, "END"),
        (
            format!("{HEAD}</presence><presence/>"),
            ErrorKind::ContentAfterRoot,
            "<presence/>",
        ),
        (
            r#"<?xml version="1.0" encoding="ISO-8859-1"?><presence/>"#.into(),
            ErrorKind::UnsupportedEncoding("ISO-8859-1".into()),
            "<?xml",
        ),
    ];
    for (xml, kind, at) in cases {
        // The error points at the first occurrence of `at` (or the end).
        let position = match *at {
            "END" => xml.len(),
            at => xml.find(at).unwrap(),
        };
        let e = err(xml);
        assert_eq!((e.kind(), e.position()), (kind, position), "{xml}");
    }
}

#[test]
fn malformed_xml_is_refused() {
    let e = err(&format!("{HEAD}<tuple id='t'><status></tuple></presence>"));
    assert!(matches!(e.kind(), ErrorKind::Xml(_)), "{e}");
    // XML 1.0 section 2.2 (`Char`): no control character but tab, LF and
    // CR, and neither U+FFFE nor U+FFFF, anywhere; the reader does not
    // check, so complete documents with one used to be taken.
    for (xml, c) in [
        (format!("{HEAD}<note>\u{0}"), '\u{0}'),
        (format!("{HEAD}<note>a\u{1b}b</note></presence>"), '\u{1b}'),
        (
            format!("{HEAD}<tuple id='t\u{8}'><status/></tuple></presence>"),
            '\u{8}',
        ),
        (format!("{HEAD}<!-- \u{c} --></presence>"), '\u{c}'),
        (
            format!("{HEAD}<note>\u{fffe}</note></presence>"),
            '\u{fffe}',
        ),
        (
            format!("{HEAD}<note><![CDATA[\u{ffff}]]></note></presence>"),
            '\u{ffff}',
        ),
    ] {
        let e = err(&xml);
        let at = xml.find(c).unwrap();
        assert_eq!(
            (e.kind(), e.position()),
            (&ErrorKind::NotXmlChar(c), at),
            "{xml:?}"
        );
    }
    // Nor by character reference (well-formedness constraint "Legal
    // Character"): in text, refused at the reference; in an attribute
    // value, at its element.
    for (xml, c, at) in [
        (
            format!("{HEAD}<note>a&#1;</note></presence>"),
            '\u{1}',
            HEAD.len() + 7,
        ),
        (
            format!("{HEAD}<note>&#xFFFF;</note></presence>"),
            '\u{ffff}',
            HEAD.len() + 6,
        ),
        (
            format!("{HEAD}<note xml:lang='e&#x1b;n'>x</note></presence>"),
            '\u{1b}',
            HEAD.len(),
        ),
    ] {
        let e = err(&xml);
        assert_eq!(
            (e.kind(), e.position()),
            (&ErrorKind::NotXmlChar(c), at),
            "{xml:?}"
        );
    }
    let by_reference = format!("{HEAD}<note>&#9;&#xA;&#x10FFFF;</note></presence>");
    let p = Presence::parse(by_reference.as_bytes()).unwrap();
    assert_eq!(p.notes[0].text, "\t\n\u{10ffff}");
    let allowed = format!("{HEAD}<note>\t\r\n\u{7f}\u{85}\u{fffd}\u{10ffff}</note></presence>");
    let p = Presence::parse(allowed.as_bytes()).unwrap();
    assert_eq!(p.notes[0].text, "\t\n\u{7f}\u{85}\u{fffd}\u{10ffff}");
    let e = Presence::parse(b"<presence xmlns='urn:ietf:params:xml:ns:pidf' entity='\xff'/>")
        .unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::InvalidUtf8, "{e}");
}

#[test]
fn out_of_range_priority_is_ignored() {
    // RFC 3863 section 4.1.5: "applications just SHOULD ignore the value".
    let xml = format!(
        "{HEAD}<tuple id='t'><status/><contact priority='1.5'>im:a@b</contact></tuple></presence>"
    );
    let p = Presence::parse(xml.as_bytes()).unwrap();
    assert_eq!(p.tuples[0].contact.as_ref().unwrap().priority, None);
}

#[test]
fn references_and_cdata_are_resolved() {
    let xml =
        format!("{HEAD}<note xml:lang='en'>a &amp; b &#233;<![CDATA[<c>]]></note></presence>");
    let p = Presence::parse(xml.as_bytes()).unwrap();
    assert_eq!(p.notes, [Note::with_lang("en", "a & b é<c>")]);
    round_trip(&p);
}

#[test]
fn kept_extension_namespaces_stay_valid_when_moved() {
    // The prefix is declared on <tuple>, which is not kept; the parser
    // declares it on the extension, which is otherwise kept as written.
    let xml = format!(
        "{HEAD}<tuple id='t' xmlns:e='urn:e'><status/><e:x e:a='1'><e:y xmlns='urn:d'><z/></e:y></e:x></tuple></presence>"
    );
    let p = Presence::parse(xml.as_bytes()).unwrap();
    let out = p.to_xml();
    assert!(
        out.contains(r#"<e:x xmlns:e="urn:e" e:a='1'><e:y xmlns='urn:d'><z/></e:y></e:x>"#),
        "{out}"
    );
    round_trip(&p);
    // A prefix declared on an extension but used only in its content (as in
    // xsi:type values) is kept.
    let xml = format!("{HEAD}<q:x xmlns:q='urn:q' xmlns:t='urn:t'>t:v</q:x></presence>");
    let p = Presence::parse(xml.as_bytes()).unwrap();
    assert_eq!(p.extensions[0].element().unwrap().namespaces.len(), 1);
    assert!(p
        .to_xml()
        .contains(r#"<q:x xmlns:q='urn:q' xmlns:t='urn:t'>t:v</q:x>"#));
    round_trip(&p);
}

#[test]
fn extension_api() {
    use cpim_formats::pidf::{Element, Extension};
    let ext = Extension::parse(
        r#"<r:mood xmlns:r="urn:ietf:params:xml:ns:pidf:rpid"><r:happy/></r:mood>"#,
    )
    .unwrap();
    assert_eq!(ext.qname(), "r:mood");
    assert_eq!(ext.name(), "mood");
    assert_eq!(ext.namespace().as_deref(), Some(RPID));
    let tree = ext.element().unwrap();
    assert!(tree.child(RPID, "happy").is_some());
    // The tree makes the same extension again.
    assert_eq!(Extension::from_element(&tree), ext);
    // An element in no namespace declares so when standing alone.
    assert_eq!(
        Extension::parse("<x/>").unwrap().as_xml(),
        r#"<x xmlns=""/>"#
    );
    // Prefixes must be declared; PIDF elements are not extensions.
    assert_eq!(
        Extension::parse("<r:mood/>").unwrap_err().kind(),
        &ErrorKind::UnboundPrefix("r".into())
    );
    assert!(matches!(
        Extension::parse(r#"<note xmlns="urn:ietf:params:xml:ns:pidf"/>"#)
            .unwrap_err()
            .kind(),
        ErrorKind::UnexpectedElement { .. }
    ));
    // Built into a presence, it is written and read back unchanged.
    let mut p = Presence::new("pres:a@example.com");
    let mut t = Tuple::new("t", Some(Basic::Open));
    t.status.extensions.push(ext.clone());
    p.tuples.push(t);
    p.extensions
        .push(Element::new(Some("dm"), DM, "person").into());
    round_trip(&p);
    assert_eq!(
        Presence::parse(p.to_xml().as_bytes()).unwrap().tuples[0]
            .status
            .extensions[0],
        ext
    );
}

/// XML 1.0 section 4.3.3 and appendix F: a UTF-8 document may start with
/// a byte order mark. It is passed over and counted: the same presence as
/// without it (extensions kept whole), errors three bytes further on. A
/// second one, or one after the declaration, is text before the root.
#[test]
fn byte_order_mark_is_passed_over_and_counted() {
    const BOM: &[u8] = b"\xEF\xBB\xBF";
    for name in [
        "rfc3863_4.2.2_default_ns.xml",
        "rfc3863_4.3.1_status_extensions.xml",
        "rfc4480_4_example.xml",
    ] {
        let plain = fixture(name);
        let marked = [BOM, &plain].concat();
        let with = Presence::parse(&marked).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(with, Presence::parse(&plain).unwrap(), "{name}");
        // Cut inside its last tag: the error moves with the input.
        let cut = plain.len() - 3;
        let plain_err = Presence::parse(&plain[..cut]).unwrap_err();
        let marked_err = Presence::parse(&marked[..cut + 3]).unwrap_err();
        assert_eq!(marked_err.kind(), plain_err.kind(), "{name}");
        assert_eq!(marked_err.position(), plain_err.position() + 3, "{name}");
    }
    let root = r#"<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="pres:a@b"/>"#;
    let text_before_root = ErrorKind::UnexpectedText { parent: "document" };
    let twice = [BOM, BOM, root.as_bytes()].concat();
    let e = Presence::parse(&twice).unwrap_err();
    assert_eq!((e.kind(), e.position()), (&text_before_root, 3));
    let decl = br#"<?xml version="1.0"?>"#;
    let after_decl = [decl, BOM, root.as_bytes()].concat();
    let e = Presence::parse(&after_decl).unwrap_err();
    assert_eq!((e.kind(), e.position()), (&text_before_root, decl.len()));
    let e = Presence::parse(&[BOM, decl, BOM, root.as_bytes()].concat()).unwrap_err();
    assert_eq!(
        (e.kind(), e.position()),
        (&text_before_root, 3 + decl.len())
    );
}

/// `first_non_xml_char` finds the first refused character wherever it
/// lies: in a sixteen-byte chunk or the tail, across a chunk's end.
#[test]
fn first_non_xml_char_at_every_place() {
    use cpim_formats::pidf::first_non_xml_char;
    for len in 0..40 {
        let text = vec![b'a'; len];
        assert_eq!(first_non_xml_char(&text), None);
        for at in 0..len {
            for (bytes, c) in [
                (&b"\x00"[..], '\u{0}'),
                (b"\x1f", '\u{1f}'),
                (b"\xEF\xBF\xBE", '\u{FFFE}'),
                (b"\xEF\xBF\xBF", '\u{FFFF}'),
            ] {
                if at + bytes.len() > len {
                    continue;
                }
                let mut t = text.clone();
                t[at..at + bytes.len()].copy_from_slice(bytes);
                // A character XML allows before it changes nothing.
                if at >= 3 {
                    t[at - 3..at].copy_from_slice("\u{FFFD}".as_bytes());
                }
                assert_eq!(first_non_xml_char(&t), Some((at, c)), "{t:?}");
            }
            let mut t = text.clone();
            t[at] = b"\t\n\r"[at % 3];
            assert_eq!(first_non_xml_char(&t), None, "{t:?}");
        }
    }
}
