//! PIDF parser safety (RFC 3863 section 6; RFC 3023 section 10): no DTD, no
//! entity expansion, no external entities, and every `Limits` bound refused
//! with a typed error at the byte where it was crossed.
#![allow(clippy::unwrap_used)]

use cpim_formats::pidf::{ErrorKind, Limits, Presence};

const HEAD: &str = r#"<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="pres:x@example.com">"#;

fn limits(f: impl FnOnce(&mut Limits)) -> Limits {
    let mut l = Limits::default();
    f(&mut l);
    l
}

#[test]
fn doctype_is_refused_before_any_entity_is_defined() {
    let laughs = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="&lol4;"/>"#;
    let e = Presence::parse(laughs.as_bytes()).unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::DoctypeRefused);
    assert_eq!(e.position(), laughs.find("<!DOCTYPE").unwrap());
    assert_eq!(
        e.to_string(),
        "document type declarations are refused at byte 22"
    );
}

#[test]
fn external_entities_are_refused() {
    let xxe = r#"<!DOCTYPE presence [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><presence xmlns="urn:ietf:params:xml:ns:pidf" entity="pres:x@example.com"><note>&xxe;</note></presence>"#;
    let e = Presence::parse(xxe.as_bytes()).unwrap_err();
    assert_eq!((e.kind(), e.position()), (&ErrorKind::DoctypeRefused, 0));
    let public = r#"<!DOCTYPE presence PUBLIC "-//x//y" "http://example.com/p.dtd"><presence/>"#;
    let e = Presence::parse(public.as_bytes()).unwrap_err();
    assert_eq!((e.kind(), e.position()), (&ErrorKind::DoctypeRefused, 0));
}

#[test]
fn undeclared_entity_references_are_refused_not_expanded() {
    for (xml, name) in [
        (format!("{HEAD}<note>&lol9;</note></presence>"), "lol9"),
        (
            format!("{HEAD}<x:a xmlns:x='urn:x'>&xxe;</x:a></presence>"),
            "xxe",
        ),
        (
            format!("{HEAD}<x:a xmlns:x='urn:x' b='&xxe;'/></presence>"),
            "xxe",
        ),
    ] {
        let e = Presence::parse(xml.as_bytes()).unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::UndefinedEntity(name.into()), "{xml}");
    }
}

#[test]
fn size_limit() {
    let xml = format!("{HEAD}<note>{}</note></presence>", "a".repeat(200));
    let l = limits(|l| l.max_bytes = 100);
    let e = Presence::parse_with(xml.as_bytes(), &l).unwrap_err();
    assert_eq!(
        (e.kind(), e.position()),
        (
            &ErrorKind::LimitExceeded {
                limit: "bytes",
                max: 100
            },
            100
        )
    );
    assert!(Presence::parse_with(xml.as_bytes(), &limits(|l| l.max_bytes = xml.len())).is_ok());
}

#[test]
fn depth_limit() {
    let deep = 40;
    let xml = format!(
        "{HEAD}{}{}</presence>",
        "<x:a xmlns:x='urn:x'>".repeat(deep),
        "</x:a>".repeat(deep)
    );
    let e = Presence::parse(xml.as_bytes()).unwrap_err();
    // <presence> is depth 1, so the 32nd <x:a> (index 31) is depth 33.
    let at = HEAD.len() + 31 * "<x:a xmlns:x='urn:x'>".len();
    assert_eq!(
        (e.kind(), e.position()),
        (
            &ErrorKind::LimitExceeded {
                limit: "depth",
                max: 32
            },
            at
        )
    );
    assert!(Presence::parse_with(xml.as_bytes(), &limits(|l| l.max_depth = deep + 1)).is_ok());
}

#[test]
fn very_deep_input_is_refused_without_recursion() {
    let deep = 200_000;
    let mut xml = String::from(HEAD);
    xml.push_str(&"<a:a xmlns:a='urn:a'>".repeat(deep));
    let l = limits(|l| {
        l.max_bytes = usize::MAX;
        l.max_depth = usize::MAX;
        l.max_elements = usize::MAX;
    });
    // Past the parser's own ceiling: refused, no overflow, no recursion.
    let e = Presence::parse_with(xml.as_bytes(), &l).unwrap_err();
    assert_eq!(
        e.kind(),
        &ErrorKind::LimitExceeded {
            limit: "depth",
            max: 4096
        }
    );
}

#[test]
fn tuple_limit() {
    let tuple = |i: usize| format!("<tuple id='t{i}'><status/></tuple>");
    let xml = format!("{HEAD}{}</presence>", (0..4).map(tuple).collect::<String>());
    let e = Presence::parse_with(xml.as_bytes(), &limits(|l| l.max_tuples = 3)).unwrap_err();
    assert_eq!(
        (e.kind(), e.position()),
        (
            &ErrorKind::LimitExceeded {
                limit: "tuples",
                max: 3
            },
            xml.find("<tuple id='t3'").unwrap()
        )
    );
    assert_eq!(
        Presence::parse_with(xml.as_bytes(), &limits(|l| l.max_tuples = 4))
            .unwrap()
            .tuples
            .len(),
        4
    );
}

#[test]
fn attribute_limit() {
    let attrs: String = (0..10).map(|i| format!(" a{i}='v'")).collect();
    let xml = format!("{HEAD}<x:e xmlns:x='urn:x'{attrs}/></presence>");
    let e = Presence::parse_with(xml.as_bytes(), &limits(|l| l.max_attributes = 10)).unwrap_err();
    assert_eq!(
        (e.kind(), e.position()),
        (
            &ErrorKind::LimitExceeded {
                limit: "attributes",
                max: 10
            },
            HEAD.len()
        )
    );
    assert!(Presence::parse_with(xml.as_bytes(), &limits(|l| l.max_attributes = 11)).is_ok());
}

#[test]
fn element_limit() {
    let xml = format!("{HEAD}{}</presence>", "<x:e xmlns:x='urn:x'/>".repeat(10));
    let e = Presence::parse_with(xml.as_bytes(), &limits(|l| l.max_elements = 5)).unwrap_err();
    assert_eq!(
        (e.kind(), e.position()),
        (
            &ErrorKind::LimitExceeded {
                limit: "elements",
                max: 5
            },
            HEAD.len() + 4 * "<x:e xmlns:x='urn:x'/>".len()
        )
    );
}
