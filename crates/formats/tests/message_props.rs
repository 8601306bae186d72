//! Properties of `message/cpim`: what the builder writes parses back to the
//! same builder, and a parsed message writes back exactly its input.

use cpim_formats::message::{Field, Message, MessageBuilder, Party};
use proptest::prelude::*;

fn text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 \"'\\\\\t\n\r\u{1}\u{7f}é😀;<>,.=@]{0,16}"
        .prop_map(|s| s.trim_end_matches(' ').to_owned())
}

fn party() -> impl Strategy<Value = Party> {
    (
        prop::option::of(prop_oneof!["[A-Za-z]{1,6}( [A-Za-z.]{1,6}){0,2}", text()]),
        "(im|pres|sip):[a-z]{1,8}@[a-z]{1,8}\\.com",
    )
        .prop_map(|(name, uri)| Party { name, uri })
}

fn datetime() -> impl Strategy<Value = String> {
    (
        1970u32..2100,
        1u32..13,
        1u32..29,
        0u32..24,
        0u32..60,
        0u32..61,
        prop::option::of(0u32..24),
    )
        .prop_map(|(y, mo, d, h, mi, s, tz)| {
            let zone = tz.map_or("Z".to_owned(), |t| format!("-{t:02}:00"));
            format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}{zone}")
        })
}

/// A message header; `prefix` picks one of the declared prefixes, if any.
fn field() -> impl Strategy<Value = (Field, Option<usize>)> {
    prop_oneof![
        party().prop_map(|p| (Field::From(p), None)),
        party().prop_map(|p| (Field::To(p), None)),
        party().prop_map(|p| (Field::Cc(p), None)),
        datetime().prop_map(|d| (Field::DateTime(d), None)),
        (prop::option::of("[a-z]{2}(-[A-Z]{2})?"), text())
            .prop_map(|(lang, text)| (Field::Subject { lang, text }, None)),
        (
            prop::collection::vec("[A-Za-z]{1,8}", 1..3),
            any::<prop::sample::Index>()
        )
            .prop_map(|(names, i)| (Field::Require(names), Some(i.index(usize::MAX)))),
        (
            "X-[A-Za-z]{1,8}",
            text(),
            any::<bool>(),
            any::<prop::sample::Index>()
        )
            .prop_map(|(name, text, prefixed, i)| {
                let field = Field::Other {
                    name,
                    params: String::new(),
                    text,
                };
                (field, prefixed.then(|| i.index(usize::MAX)))
            }),
    ]
}

prop_compose! {
    fn builder()(
        mime in any::<bool>(),
        version in any::<bool>(),
        prefixes in prop::collection::vec("[A-Za-z][A-Za-z0-9]{0,5}", 0..3),
        fields in prop::collection::vec(field(), 0..8),
        content_id in any::<bool>(),
        body in prop::collection::vec(any::<u8>(), 0..64),
    ) -> MessageBuilder {
        let mut b = MessageBuilder::new().mime_entity(mime);
        if mime && version {
            b = b.mime_header("MIME-Version", "1.0");
        }
        for (i, prefix) in prefixes.iter().enumerate() {
            b = b.ns(Some(prefix), &format!("urn:example:ns{i}"));
        }
        for (field, pick) in fields {
            let prefix = pick.and_then(|i| prefixes.get(i % prefixes.len().max(1)));
            let field = match (field, prefix) {
                (Field::Other { name, params, text }, Some(p)) => {
                    Field::Other { name: format!("{p}.{name}"), params, text }
                }
                (Field::Require(names), Some(p)) => {
                    Field::Require(names.into_iter().map(|n| format!("{p}.{n}")).collect())
                }
                (field, _) => field,
            };
            b = b.field(field);
        }
        b = b.content_type("text/plain; charset=utf-8");
        if content_id {
            b = b.content_header("Content-ID", "<1234567890@foo.com>");
        }
        b.body(body)
    }
}

proptest! {
    #[test]
    fn parse_of_built_is_the_builder(b in builder()) {
        let bytes = b.build().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let message = Message::parse(&bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(MessageBuilder::from_message(&message), b);
        prop_assert_eq!(message.to_vec(), bytes);
    }

    #[test]
    fn parsed_input_writes_back_unchanged(b in builder(), at in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut bytes = b.build().map_err(|e| TestCaseError::fail(e.to_string()))?;
        if !bytes.is_empty() {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        if let Ok(message) = Message::parse(&bytes) {
            prop_assert_eq!(message.to_vec(), bytes.clone());
            let again = Message::parse(&bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(again, message);
        }
    }
}
