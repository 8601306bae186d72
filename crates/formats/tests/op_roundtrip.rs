//! Generated CPIM operations survive both notations: draft XML and JSON
//! (draft-ietf-impp-cpim-02 sections 6-9).
#![allow(clippy::unwrap_used)]

use cpim_formats::op::{
    MessageOp, NotifyOp, Operation, ResponseOp, Status, SubscribeOp, TransId, UnsubscribeOp,
    MAX_VALUE,
};
use cpim_formats::pidf::{Basic, Contact, Note, Presence, Tuple};
use cpim_formats::uri::Uri;
use proptest::prelude::*;

fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

fn address() -> impl Strategy<Value = String> {
    (
        "[a-z0-9]{1,8}",
        "[a-z]{1,8}",
        prop::sample::select(vec!["example", "org", "net"]),
    )
        .prop_map(|(local, host, tld)| format!("{local}@{host}.{tld}"))
}

fn im_uri() -> impl Strategy<Value = Uri> {
    address().prop_map(|a| Uri::parse(&format!("im:{a}")).unwrap())
}

fn pres_uri() -> impl Strategy<Value = Uri> {
    address().prop_map(|a| Uri::parse(&format!("pres:{a}")).unwrap())
}

fn trans_id() -> impl Strategy<Value = TransId> {
    (1..=MAX_VALUE).prop_map(|v| TransId::new(v).unwrap())
}

/// Text that XML can carry (its Char production), of `len` characters.
fn xml_text(len: std::ops::Range<usize>) -> impl Strategy<Value = String> {
    prop::collection::vec(
        any::<char>().prop_filter("XML Char", |c| is_xml_char(*c)),
        len,
    )
    .prop_map(|chars| chars.into_iter().collect())
}

fn message() -> impl Strategy<Value = Operation> {
    let body = prop_oneof![
        xml_text(0..40).prop_map(String::into_bytes),
        prop::collection::vec(any::<u8>(), 0..60),
    ];
    let content_type = prop::sample::select(vec![
        "text/plain",
        "text/plain; charset=utf-8",
        "message/cpim",
        "application/octet-stream",
        "multipart/signed; protocol=\"application/pkcs7-signature\"; boundary=b1",
    ]);
    (im_uri(), im_uri(), trans_id(), content_type, body).prop_map(
        |(source, destination, trans_id, content_type, body)| {
            Operation::Message(MessageOp {
                source,
                destination,
                trans_id,
                content_type: content_type.to_owned(),
                body,
            })
        },
    )
}

fn response() -> impl Strategy<Value = Operation> {
    let status = prop::sample::select(vec![
        Status::Success,
        Status::Failure,
        Status::Indeterminant,
    ]);
    (
        status,
        trans_id(),
        prop::option::of(0..=MAX_VALUE),
        prop::option::of("[a-z]{2}(-[A-Z]{2})?"),
        prop::option::of(xml_text(1..40)),
    )
        .prop_map(|(status, trans_id, duration, lang, reason)| {
            Operation::Response(ResponseOp {
                status,
                trans_id,
                duration,
                lang,
                reason,
            })
        })
}

fn subscribe() -> impl Strategy<Value = Operation> {
    (pres_uri(), pres_uri(), 0..=MAX_VALUE, trans_id()).prop_map(
        |(watcher, target, duration, trans_id)| {
            Operation::Subscribe(SubscribeOp {
                watcher,
                target,
                duration,
                trans_id,
            })
        },
    )
}

fn unsubscribe() -> impl Strategy<Value = Operation> {
    (pres_uri(), pres_uri(), trans_id()).prop_map(|(watcher, target, trans_id)| {
        Operation::Unsubscribe(UnsubscribeOp {
            watcher,
            target,
            trans_id,
        })
    })
}

fn notify() -> impl Strategy<Value = Operation> {
    let tuple = (
        prop::sample::select(vec![Basic::Open, Basic::Closed]),
        prop::option::of(address()),
        prop::option::of("[A-Za-z][A-Za-z ]{0,20}[a-z]"),
    );
    (
        pres_uri(),
        pres_uri(),
        trans_id(),
        prop::collection::vec(tuple, 1..4),
    )
        .prop_map(|(watcher, target, trans_id, tuples)| {
            let mut presence = Presence::new(target.to_string());
            for (i, (basic, contact, note)) in tuples.into_iter().enumerate() {
                let mut tuple = Tuple::new(format!("t{}", i + 1), Some(basic));
                tuple.contact = contact.map(|a| Contact::new(format!("im:{a}")));
                tuple.notes.extend(note.map(Note::new));
                presence.tuples.push(tuple);
            }
            Operation::Notify(NotifyOp {
                watcher,
                target,
                trans_id,
                presence,
            })
        })
}

fn operation() -> impl Strategy<Value = Operation> {
    prop_oneof![message(), response(), subscribe(), notify(), unsubscribe()]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn xml_round_trip(op in operation()) {
        let xml = op.to_xml();
        prop_assert_eq!(Operation::from_xml(xml.as_bytes()).unwrap(), op, "{}", xml);
    }

    #[test]
    fn json_round_trip(op in operation()) {
        let json = op.to_json().to_string();
        prop_assert_eq!(Operation::from_json(json.as_bytes()).unwrap(), op.clone(), "{}", json);
        let text = serde_json::to_string(&op).unwrap();
        prop_assert_eq!(serde_json::from_str::<Operation>(&text).unwrap(), op);
    }

    #[test]
    fn trans_id_text_round_trip(v in 1..=MAX_VALUE) {
        let id = TransId::new(v).unwrap();
        prop_assert_eq!(id.to_string().parse::<TransId>().unwrap(), id);
    }
}
