//! Generated `Presence` values for the property and schema tests: every
//! field, kept extensions with prefixes, attributes and spare declarations,
//! all within what RFC 3863's schema allows.

use cpim_formats::pidf::{
    Attribute, Basic, Contact, Element, Extension, Namespace, Node, Note, Presence, Status, Tuple,
};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;

/// Text made of XML characters, markup characters and line ends included.
fn text() -> impl Strategy<Value = String> {
    "[ -~\u{e9}\u{4e2d}\u{1F600}\n\t\r]{0,16}"
}

fn note() -> impl Strategy<Value = Note<'static>> {
    (option::of(prop_oneof!["en", "fr", "de-CH", "ja"]), text()).prop_map(|(lang, text)| Note {
        lang: lang.map(Into::into),
        text: text.into(),
    })
}

fn timestamp() -> impl Strategy<Value = String> {
    (
        1970u32..2100,
        1u32..=12,
        1u32..=28,
        0u32..24,
        0u32..60,
        0u32..60,
        option::of(0u32..1000),
        prop_oneof![
            Just("Z".to_owned()),
            (0u32..14, prop_oneof![Just("+"), Just("-")])
                .prop_map(|(h, s)| format!("{s}{h:02}:30"))
        ],
    )
        .prop_map(|(y, mo, d, h, mi, s, frac, zone)| {
            let frac = frac.map(|f| format!(".{f:03}")).unwrap_or_default();
            format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}{frac}{zone}")
        })
}

/// A kept element in one of two extension namespaces, written with the
/// default namespace or a prefix, up to `depth` levels of children.
fn element(depth: u32) -> BoxedStrategy<Element> {
    let leaf = (
        prop_oneof![Just(None), Just(Some("e")), Just(Some("f"))],
        prop_oneof!["urn:x:a", "urn:x:b"],
        prop_oneof!["status-value", "v", "place"],
        vec(("[a-z]{1,3}", "[ -~\u{e9}\t\n]{0,8}"), 0..3),
        any::<bool>(),
        option::of("[ -~\u{e9}]{1,10}"),
    )
        .prop_map(|(prefix, ns, name, attrs, spare, text)| {
            let mut e = Element::new(prefix, &ns, &name);
            for (i, (n, value)) in attrs.into_iter().enumerate() {
                e.attributes.push(Attribute {
                    name: format!("{n}{i}"),
                    value,
                    ..Attribute::default()
                });
            }
            if spare {
                e.namespaces.push(Namespace {
                    prefix: Some("q".into()),
                    uri: "urn:x:q".into(),
                });
            }
            if let Some(text) = text {
                e.children.push(Node::Text(text));
            }
            e
        });
    if depth == 0 {
        return leaf.boxed();
    }
    (leaf, vec(element(depth - 1), 0..3), "[a-z ]{1,4}")
        .prop_map(|(mut e, kids, between)| {
            for kid in kids {
                e.children.push(Node::Element(kid));
                // Text never follows text: the parser merges adjacent text.
                e.children.push(Node::Text(between.clone()));
            }
            e
        })
        .boxed()
}

fn extension(depth: u32) -> impl Strategy<Value = Extension<'static>> {
    element(depth).prop_map(Extension::from)
}

fn tuple(index: usize) -> impl Strategy<Value = Tuple<'static>> {
    (
        "[a-z0-9]{0,4}",
        option::of(prop_oneof![Just(Basic::Open), Just(Basic::Closed)]),
        vec(extension(1), 0..2),
        vec(extension(1), 0..2),
        option::of((
            "(im|pres|mailto|tel):[a-z0-9.+]{1,8}@example\\.com",
            option::of(0u32..=1000),
        )),
        vec(note(), 0..3),
        option::of(timestamp()),
    )
        .prop_map(
            move |(suffix, basic, status_ext, tuple_ext, contact, notes, timestamp)| Tuple {
                id: format!("t{index}{suffix}").into(),
                status: Status {
                    basic,
                    extensions: status_ext,
                },
                contact: contact.map(|(uri, priority)| Contact {
                    uri: uri.into(),
                    priority: priority.map(|k| k as f32 / 1000.0),
                }),
                notes,
                timestamp: timestamp.map(Into::into),
                extensions: tuple_ext,
                ..Tuple::default()
            },
        )
}

/// Any presence document the model can hold and the schema allows.
pub fn presence() -> impl Strategy<Value = Presence<'static>> {
    (
        "[a-z0-9._-]{1,10}",
        (0usize..4).prop_flat_map(|n| (0..n).map(tuple).collect::<Vec<_>>()),
        vec(note(), 0..3),
        vec(extension(2), 0..3),
        any::<bool>(),
    )
        .prop_map(|(local, tuples, notes, extensions, declare)| {
            let mut p = Presence::new(format!("pres:{local}@example.com"));
            p.tuples = tuples;
            p.notes = notes;
            p.extensions = extensions;
            if declare {
                p.namespaces.push(Namespace {
                    prefix: Some("e".into()),
                    uri: "urn:x:a".into(),
                });
            }
            p
        })
}
