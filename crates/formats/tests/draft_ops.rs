//! The CPIM operations of draft-ietf-impp-cpim-02 sections 2.4 and 3.4 in the
//! draft's XML notation (sections 6-9) and in cpim's JSON shape: the draft's
//! own examples (testdata/op/), exact serialisations, and exact errors.
#![allow(clippy::unwrap_used)]

use cpim_formats::op::{
    BodyProblem, FieldProblem, Limits, MessageOp, NumberError, OpError, Operation, ResponseOp,
    Status, SubscribeOp, TransId,
};
use cpim_formats::pidf::{Basic, ErrorKind};
use cpim_formats::uri::{Scheme, Uri};
use serde_json::json;

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/../../testdata/op/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap()
}

fn uri(text: &str) -> Uri {
    Uri::parse(text).unwrap()
}

fn id(value: u32) -> TransId {
    TransId::new(value).unwrap()
}

/// XML -> op -> XML -> op and JSON -> op give the same operation.
fn assert_round_trips(op: &Operation) {
    let xml = op.to_xml();
    assert_eq!(&Operation::from_xml(xml.as_bytes()).unwrap(), op, "{xml}");
    let json = op.to_json().to_string();
    assert_eq!(
        &Operation::from_json(json.as_bytes()).unwrap(),
        op,
        "{json}"
    );
    let via_serde: Operation = serde_json::from_str(&serde_json::to_string(op).unwrap()).unwrap();
    assert_eq!(&via_serde, op);
}

fn parse_err(xml: &str) -> OpError {
    Operation::from_xml(xml.as_bytes()).unwrap_err()
}

#[test]
fn draft_2_1_message() {
    let op = Operation::from_xml(&fixture("draft-2.1-message.xml")).unwrap();
    let expected = Operation::Message(MessageOp {
        source: uri("im:fred@example.com"),
        destination: uri("im:barney@example.com"),
        trans_id: id(1),
        content_type: "text/plain; charset=\"us-ascii\"".into(),
        body: b"Yabba, dabba, doo!".to_vec(),
    });
    assert_eq!(op, expected);
    assert_eq!(
        op.to_xml(),
        "<message source=\"im:fred@example.com\" destination=\"im:barney@example.com\" \
         transID=\"1\">Content-Type: text/plain; charset=\"us-ascii\"\n\nYabba, dabba, doo!</message>"
    );
    assert_eq!(
        op.to_json(),
        json!({"op": "message", "source": "im:fred@example.com",
               "destination": "im:barney@example.com", "transID": "1",
               "content_type": "text/plain; charset=\"us-ascii\"",
               "body": "Yabba, dabba, doo!"})
    );
    assert_round_trips(&op);
}

#[test]
fn draft_2_1_response() {
    let op = Operation::from_xml(&fixture("draft-2.1-response.xml")).unwrap();
    assert_eq!(
        op,
        Operation::Response(ResponseOp::new(Status::Success, id(1)))
    );
    assert_eq!(op.to_xml(), "<response status=\"success\" transID=\"1\"/>");
    // The HTTP API's response shape: reason is always there, null when absent.
    assert_eq!(
        op.to_json(),
        json!({"op": "response", "status": "success", "transID": "1", "reason": null})
    );
    assert_round_trips(&op);
}

#[test]
fn draft_3_1_subscribe() {
    let op = Operation::from_xml(&fixture("draft-3.1-subscribe.xml")).unwrap();
    assert_eq!(
        op,
        Operation::Subscribe(SubscribeOp {
            watcher: uri("pres:wilma@example.com"),
            target: uri("pres:fred@example.com"),
            duration: 86_400,
            trans_id: id(2),
        })
    );
    assert_eq!(
        op.to_xml(),
        "<subscribe watcher=\"pres:wilma@example.com\" target=\"pres:fred@example.com\" \
         duration=\"86400\" transID=\"2\"/>"
    );
    assert_eq!(
        op.to_json(),
        json!({"op": "subscribe", "watcher": "pres:wilma@example.com",
               "target": "pres:fred@example.com", "duration": 86400, "transID": "2"})
    );
    assert_round_trips(&op);
}

#[test]
fn draft_3_1_response_with_duration() {
    let op = Operation::from_xml(&fixture("draft-3.1-response-duration.xml")).unwrap();
    let mut expected = ResponseOp::new(Status::Success, id(2));
    expected.duration = Some(3600);
    assert_eq!(op, Operation::Response(expected));
    assert_eq!(
        op.to_xml(),
        "<response status=\"success\" transID=\"2\" duration=\"3600\"/>"
    );
    assert_eq!(
        op.to_json(),
        json!({"op": "response", "status": "success", "transID": "2", "duration": 3600,
               "reason": null})
    );
    assert_round_trips(&op);
}

#[test]
fn draft_3_1_notify_in_the_drafts_presence_form() {
    let op = Operation::from_xml(&fixture("draft-3.1-notify.xml")).unwrap();
    let Operation::Notify(notify) = &op else {
        panic!("not a notify: {op:?}");
    };
    assert_eq!(notify.watcher, uri("pres:wilma@example.com"));
    assert_eq!(notify.target, uri("pres:fred@example.com"));
    assert_eq!(notify.trans_id, id(1234));
    // The draft's presence maps onto PIDF: entity = target, one tuple per
    // <tuple>, destination = contact, status = basic.
    assert_eq!(notify.presence.entity, "pres:fred@example.com");
    assert_eq!(notify.presence.tuples.len(), 1);
    let tuple = &notify.presence.tuples[0];
    assert_eq!(tuple.id, "t1");
    assert_eq!(tuple.status.basic, Some(Basic::Open));
    assert_eq!(tuple.contact.as_ref().unwrap().uri, "im:fred@example.com");
    assert!(tuple.notes.is_empty());
    // Written back with PIDF inside.
    let xml = op.to_xml();
    assert!(
        xml.starts_with(
            "<notify watcher=\"pres:wilma@example.com\" target=\"pres:fred@example.com\" \
             transID=\"1234\"><presence xmlns=\"urn:ietf:params:xml:ns:pidf\""
        ),
        "{xml}"
    );
    assert!(xml.ends_with("</presence></notify>"), "{xml}");
    assert_eq!(
        op.to_json(),
        json!({"op": "notify", "watcher": "pres:wilma@example.com",
               "target": "pres:fred@example.com", "transID": "1234",
               "pidf": notify.presence.to_xml()})
    );
    assert_round_trips(&op);
}

#[test]
fn draft_presence_notes_and_several_tuples() {
    let op = Operation::from_xml(
        b"<notify watcher='pres:a@x.example' target='pres:b@y.example' transID='5'>\
          <presence><tuple destination='im:b@y.example' status='closed'> gone fishing </tuple>\
          <tuple destination='sip:b@y.example' status='open'/></presence></notify>",
    )
    .unwrap();
    let Operation::Notify(notify) = &op else {
        panic!("not a notify: {op:?}");
    };
    let tuples = &notify.presence.tuples;
    assert_eq!(tuples.len(), 2);
    assert_eq!(tuples[0].id, "t1");
    assert_eq!(tuples[0].status.basic, Some(Basic::Closed));
    assert_eq!(tuples[0].notes.len(), 1);
    assert_eq!(tuples[0].notes[0].text, " gone fishing ");
    assert_eq!(tuples[1].id, "t2");
    assert_eq!(tuples[1].contact.as_ref().unwrap().uri, "sip:b@y.example");
    assert_round_trips(&op);
}

#[test]
fn notify_with_pidf_presence() {
    let op = Operation::from_xml(&fixture("notify-pidf.xml")).unwrap();
    let Operation::Notify(notify) = &op else {
        panic!("not a notify: {op:?}");
    };
    assert_eq!(notify.trans_id, id(77));
    assert_eq!(notify.presence.entity, "pres:someone@example.com");
    assert_eq!(notify.presence.tuples.len(), 1);
    assert_eq!(notify.presence.tuples[0].id, "sg89ae");
    assert_eq!(notify.presence.tuples[0].status.basic, Some(Basic::Open));
    assert_eq!(
        notify.presence.tuples[0].contact.as_ref().unwrap().uri,
        "tel:+09012345678"
    );
    assert_round_trips(&op);
}

#[test]
fn notify_with_prefixed_pidf_presence() {
    let op = Operation::from_xml(
        b"<notify watcher='pres:a@x.example' target='pres:b@y.example' transID='6'>\
          <p:presence xmlns:p='urn:ietf:params:xml:ns:pidf' entity='pres:b@y.example'>\
          <p:tuple id='a1'><p:status><p:basic>closed</p:basic></p:status></p:tuple>\
          </p:presence></notify>",
    )
    .unwrap();
    let Operation::Notify(notify) = &op else {
        panic!("not a notify: {op:?}");
    };
    assert_eq!(notify.presence.tuples[0].id, "a1");
    assert_eq!(notify.presence.tuples[0].status.basic, Some(Basic::Closed));
    assert_round_trips(&op);
}

#[test]
fn draft_3_1_unsubscribe() {
    let op = Operation::from_xml(&fixture("draft-3.1-unsubscribe.xml")).unwrap();
    assert_eq!(
        op.to_xml(),
        "<unsubscribe watcher=\"pres:wilma@example.com\" target=\"pres:fred@example.com\" \
         transID=\"3\"/>"
    );
    assert_eq!(
        op.to_json(),
        json!({"op": "unsubscribe", "watcher": "pres:wilma@example.com",
               "target": "pres:fred@example.com", "transID": "3"})
    );
    assert_eq!(op.trans_id(), id(3));
    assert_eq!(op.name(), "unsubscribe");
    assert_round_trips(&op);
}

#[test]
fn response_with_reason_language_and_entities() {
    let op = Operation::from_xml(&fixture("response-reason.xml")).unwrap();
    let mut expected = ResponseOp::new(Status::Failure, id(2_147_483_647));
    expected.duration = Some(0);
    expected.lang = Some("en".into());
    expected.reason = Some("no such inbox: <im:nobody@example.com>".into());
    assert_eq!(op, Operation::Response(expected));
    assert_eq!(
        op.to_xml(),
        "<response status=\"failure\" transID=\"2147483647\" duration=\"0\" xml:lang=\"en\">\
         no such inbox: &lt;im:nobody@example.com&gt;</response>"
    );
    assert_eq!(
        op.to_json(),
        json!({"op": "response", "status": "failure", "transID": "2147483647",
               "duration": 0, "lang": "en",
               "reason": "no such inbox: <im:nobody@example.com>"})
    );
    assert_round_trips(&op);
}

#[test]
fn binary_message_body_travels_as_base64() {
    let op = Operation::from_xml(&fixture("message-base64.xml")).unwrap();
    let Operation::Message(message) = &op else {
        panic!("not a message: {op:?}");
    };
    assert_eq!(message.content_type, "application/octet-stream");
    assert_eq!(message.body, vec![0, 1, 2, 255]);
    assert_eq!(
        op.to_xml(),
        "<message source=\"im:fred@example.com\" destination=\"im:barney@example.com\" \
         transID=\"99\">Content-Type: application/octet-stream\n\
         Content-Transfer-Encoding: base64\n\nAAEC/w==</message>"
    );
    assert_eq!(
        op.to_json(),
        json!({"op": "message", "source": "im:fred@example.com",
               "destination": "im:barney@example.com", "transID": "99",
               "content_type": "application/octet-stream", "body_base64": "AAEC/w=="})
    );
    assert_round_trips(&op);
}

#[test]
fn message_body_keeps_carriage_returns_and_markup() {
    let op = Operation::Message(MessageOp {
        source: uri("im:a@x.example"),
        destination: uri("im:b@y.example"),
        trans_id: id(8),
        content_type: "message/cpim".into(),
        body: b"From: <im:a@x.example>\r\n\r\nContent-Type: text/html\r\n\r\n<b>&amp;</b>]]>"
            .to_vec(),
    });
    let xml = op.to_xml();
    assert!(xml.contains("&#13;\n"), "{xml}");
    assert!(xml.contains("&lt;b&gt;&amp;amp;&lt;/b&gt;]]&gt;"), "{xml}");
    assert_round_trips(&op);
}

#[test]
fn message_body_with_control_characters_uses_base64_in_xml_only() {
    let op = Operation::Message(MessageOp {
        source: uri("im:a@x.example"),
        destination: uri("im:b@y.example"),
        trans_id: id(9),
        content_type: "text/plain".into(),
        body: b"bell \x07".to_vec(),
    });
    assert!(op.to_xml().contains("Content-Transfer-Encoding: base64"));
    assert_eq!(op.to_json()["body"], json!("bell \u{7}"));
    assert_round_trips(&op);
}

#[test]
fn constructors_check_schemes_and_draw_ids() {
    let message = MessageOp::new(
        uri("im:a@x.example"),
        uri("im:b@y.example"),
        "text/plain",
        "hi",
    )
    .unwrap();
    assert!((1..=2_147_483_647).contains(&message.trans_id.get()));
    assert_eq!(
        MessageOp::new(
            uri("pres:a@x.example"),
            uri("im:b@y.example"),
            "text/plain",
            "hi"
        ),
        Err(OpError::InvalidField {
            op: "message",
            field: "source",
            problem: FieldProblem::Scheme {
                expected: "im:",
                found: "pres:a@x.example".into()
            }
        })
    );
    let subscribe =
        SubscribeOp::new(uri("pres:a@x.example"), uri("pres:b@y.example"), 600).unwrap();
    assert_eq!(subscribe.duration, 600);
    assert_eq!(
        SubscribeOp::new(uri("pres:a@x.example"), uri("pres:b@y.example"), u32::MAX),
        Err(OpError::InvalidField {
            op: "subscribe",
            field: "duration",
            problem: FieldProblem::Number(NumberError::TooLarge)
        })
    );
    assert!(SubscribeOp::new(uri("im:a@x.example"), uri("pres:b@y.example"), 0).is_err());
    let _ = Scheme::Im;
}

// ---- invalid XML, exact errors ------------------------------------------------

#[test]
fn missing_attributes() {
    assert_eq!(
        parse_err("<subscribe watcher='pres:a@x.example' target='pres:b@y.example' transID='1'/>"),
        OpError::MissingAttribute {
            element: "subscribe",
            attribute: "duration",
            position: 0
        }
    );
    assert_eq!(
        parse_err("  <response status='success'/>"),
        OpError::MissingAttribute {
            element: "response",
            attribute: "transID",
            position: 2
        }
    );
    assert_eq!(
        parse_err("<message source='im:a@x.example' transID='1'>\n\nhi</message>").to_string(),
        "<message> at byte 0 lacks the required attribute destination"
    );
}

#[test]
fn bad_duration() {
    let xml = "<subscribe watcher='pres:a@x.example' target='pres:b@y.example' duration='6o0' transID='1'/>";
    let err = parse_err(xml);
    assert_eq!(
        err,
        OpError::InvalidAttribute {
            element: "subscribe",
            attribute: "duration",
            position: xml.find("6o0").unwrap() + 1,
            problem: FieldProblem::Number(NumberError::NotDigit {
                offset: 1,
                found: 'o'
            })
        }
    );
    assert_eq!(
        err.to_string(),
        "attribute duration of <subscribe> at byte 75: has 'o' at offset 1 where only digits 0-9 may stand"
    );
    assert_eq!(
        parse_err("<response status='success' transID='1' duration='2147483648'/>"),
        OpError::InvalidAttribute {
            element: "response",
            attribute: "duration",
            position: 49,
            problem: FieldProblem::Number(NumberError::TooLarge)
        }
    );
    assert_eq!(
        parse_err("<response status='success' transID='1' duration=''/>"),
        OpError::InvalidAttribute {
            element: "response",
            attribute: "duration",
            position: 49,
            problem: FieldProblem::Number(NumberError::Empty)
        }
    );
}

#[test]
fn bad_trans_id() {
    assert_eq!(
        parse_err("<response status='success' transID='0'/>"),
        OpError::InvalidAttribute {
            element: "response",
            attribute: "transID",
            position: 36,
            problem: FieldProblem::Number(NumberError::Zero)
        }
    );
    assert_eq!(
        parse_err("<response status='success' transID='-4'/>"),
        OpError::InvalidAttribute {
            element: "response",
            attribute: "transID",
            position: 36,
            problem: FieldProblem::Number(NumberError::NotDigit {
                offset: 0,
                found: '-'
            })
        }
    );
    assert_eq!(
        parse_err("<response status='success' transID='2147483648'/>"),
        OpError::InvalidAttribute {
            element: "response",
            attribute: "transID",
            position: 36,
            problem: FieldProblem::Number(NumberError::TooLarge)
        }
    );
}

#[test]
fn bad_uris_name_the_position() {
    let xml = "<unsubscribe watcher='pres:wilma' target='pres:b@y.example' transID='3'/>";
    let err = parse_err(xml);
    let OpError::InvalidAttribute {
        element: "unsubscribe",
        attribute: "watcher",
        position,
        problem: FieldProblem::Uri(uri_error),
    } = &err
    else {
        panic!("{err:?}");
    };
    // The position is inside the attribute value: its start plus the URI
    // parser's own offset.
    let value_start = xml.find("pres:wilma").unwrap();
    assert_eq!(*position, value_start + uri_error.position());
    assert!(err.to_string().starts_with(&format!(
        "attribute watcher of <unsubscribe> at byte {position}: invalid URI: "
    )));
}

#[test]
fn wrong_schemes() {
    assert_eq!(
        parse_err("<subscribe watcher='im:a@x.example' target='pres:b@y.example' duration='1' transID='1'/>"),
        OpError::InvalidAttribute {
            element: "subscribe",
            attribute: "watcher",
            position: 20,
            problem: FieldProblem::Scheme {
                expected: "pres:",
                found: "im:a@x.example".into()
            }
        }
    );
    assert_eq!(
        parse_err("<message source='im:a@x.example' destination='pres:b@y.example' transID='1'>\n\nx</message>"),
        OpError::InvalidAttribute {
            element: "message",
            attribute: "destination",
            position: 46,
            problem: FieldProblem::Scheme {
                expected: "im:",
                found: "pres:b@y.example".into()
            }
        }
    );
}

#[test]
fn bad_status_and_lang() {
    assert_eq!(
        parse_err("<response status='indeterminate' transID='1'/>"),
        OpError::InvalidAttribute {
            element: "response",
            attribute: "status",
            position: 18,
            problem: FieldProblem::Status("indeterminate".into())
        }
    );
    assert_eq!(
        parse_err("<response status='failure' transID='1' xml:lang='en us'/>"),
        OpError::InvalidAttribute {
            element: "response",
            attribute: "xml:lang",
            position: 49,
            problem: FieldProblem::Lang("en us".into())
        }
    );
}

#[test]
fn unknown_elements_attributes_and_content() {
    assert_eq!(
        parse_err("<fetch transID='1'/>"),
        OpError::UnknownOperation {
            found: "fetch".into(),
            position: 0
        }
    );
    assert_eq!(
        parse_err("<response status='success' transID='1' subscriptID='9'/>"),
        OpError::UnknownAttribute {
            element: "response",
            attribute: "subscriptID".into(),
            position: 52
        }
    );
    assert_eq!(
        parse_err("<unsubscribe watcher='pres:a@x.example' target='pres:b@y.example' transID='1'>x</unsubscribe>"),
        OpError::UnexpectedContent {
            element: "unsubscribe",
            found: "text".into(),
            position: 78
        }
    );
    assert_eq!(
        parse_err("<response status='success' transID='1'><b>no</b></response>"),
        OpError::UnexpectedContent {
            element: "response",
            found: "<b>".into(),
            position: 39
        }
    );
    assert_eq!(
        parse_err("<notify watcher='pres:a@x.example' target='pres:b@y.example' transID='1'/>"),
        OpError::MissingChild {
            element: "notify",
            child: "presence",
            position: 0
        }
    );
    let xml = "<notify watcher='pres:a@x.example' target='pres:b@y.example' transID='1'>\
               <presence><tuple destination='im:b@y.example' status='away'/></presence></notify>";
    let err = parse_err(xml);
    let OpError::Pidf { position, source } = &err else {
        panic!("{err:?}");
    };
    assert_eq!(source.kind(), &ErrorKind::InvalidBasic("away".into()));
    // The presence parser's offset, moved into the whole input.
    assert_eq!(
        *position,
        xml.find("<presence>").unwrap() + source.position()
    );
    assert!(err
        .to_string()
        .starts_with(&format!("<presence> at byte {position}: ")));
    let err = parse_err(
        "<notify watcher='pres:a@x.example' target='pres:b@y.example' transID='1'><presence/></notify>",
    );
    assert_eq!(err.position(), Some(73), "{err:?}");
    assert_eq!(
        parse_err(
            "<response status='success' transID='1'/><response status='success' transID='2'/>"
        ),
        OpError::TrailingContent { position: 40 }
    );
    assert_eq!(
        parse_err("  <!-- nothing -->  "),
        OpError::NoOperation { position: 20 }
    );
    assert_eq!(
        parse_err("hello <response status='success' transID='1'/>"),
        OpError::Xml {
            position: 0,
            detail: "text before the operation element".into()
        }
    );
}

#[test]
fn dtds_and_entities_are_refused() {
    assert_eq!(
        parse_err("<!DOCTYPE response [<!ENTITY x 'y'>]><response status='success' transID='1'>&x;</response>"),
        OpError::Dtd { position: 0 }
    );
    assert_eq!(
        parse_err("<response status='success' transID='1'>&x;</response>"),
        OpError::Entity {
            name: "x".into(),
            position: 39
        }
    );
    assert_eq!(
        parse_err("<response status='success&x;' transID='1'/>"),
        OpError::Entity {
            name: "x".into(),
            position: 26
        }
    );
    assert_eq!(
        parse_err("<response status='success' transID='1'>&#1;</response>"),
        OpError::IllegalChar {
            code: 1,
            position: 39
        }
    );
}

#[test]
fn malformed_input() {
    assert_eq!(
        Operation::from_xml(b"<response status='success' transID='1'>\xff</response>").unwrap_err(),
        OpError::NotUtf8 { position: 39 }
    );
    assert!(matches!(
        parse_err("<response status='success' transID='1'>"),
        OpError::Xml { .. }
    ));
    assert!(matches!(
        parse_err("<response status='success' status='failure' transID='1'/>"),
        OpError::Xml { position: 0, .. }
    ));
    assert_eq!(
        parse_err(
            "<?xml version='1.0' encoding='ISO-8859-1'?><response status='success' transID='1'/>"
        ),
        OpError::Encoding {
            encoding: "ISO-8859-1".into(),
            position: 0
        }
    );
    assert_eq!(
        parse_err("<message source='im:a@x.example' destination='im:b@y.example' transID='1'>Content-Type: text/plain</message>"),
        OpError::Body {
            position: 74,
            problem: BodyProblem::NoHeaderEnd
        }
    );
    assert_eq!(
        parse_err("<message source='im:a@x.example' destination='im:b@y.example' transID='1'>X-Mailer: me\n\nhi</message>"),
        OpError::Body {
            position: 74,
            problem: BodyProblem::UnsupportedHeader {
                name: "X-Mailer".into()
            }
        }
    );
}

#[test]
fn limits() {
    let mut limits = Limits::default();
    limits.max_bytes = 10;
    assert_eq!(
        Operation::from_xml_with(b"<response status='success' transID='1'/>", &limits),
        Err(OpError::TooLarge {
            size: 40,
            limit: 10
        })
    );
    let mut limits = Limits::default();
    limits.pidf.max_tuples = 1;
    let xml = "<notify watcher='pres:a@x.example' target='pres:b@y.example' transID='1'><presence>\
               <tuple destination='im:b@y.example' status='open'/>\
               <tuple destination='im:b@y.example' status='open'/></presence></notify>";
    assert!(Operation::from_xml(xml.as_bytes()).is_ok());
    let err = Operation::from_xml_with(xml.as_bytes(), &limits).unwrap_err();
    let OpError::Pidf { source, .. } = &err else {
        panic!("{err:?}");
    };
    assert!(
        matches!(source.kind(), ErrorKind::LimitExceeded { max: 1, .. }),
        "{err:?}"
    );
}

// ---- invalid JSON, exact errors -------------------------------------------------

fn json_err(value: serde_json::Value) -> OpError {
    Operation::from_json(value.to_string().as_bytes()).unwrap_err()
}

#[test]
fn json_errors() {
    assert_eq!(
        json_err(json!({"op": "subscribe", "watcher": "pres:a@x.example",
                        "target": "pres:b@y.example", "duration": 1, "transID": 1})),
        OpError::Json {
            detail: "invalid type: integer `1`, expected a string".into()
        }
    );
    assert_eq!(
        json_err(json!({"op": "subscribe", "watcher": "pres:a@x.example",
                        "target": "pres:b@y.example", "duration": 1, "transID": "0"})),
        OpError::InvalidField {
            op: "subscribe",
            field: "transID",
            problem: FieldProblem::Number(NumberError::Zero)
        }
    );
    assert_eq!(
        json_err(json!({"op": "subscribe", "watcher": "pres:a@x.example",
                        "target": "pres:b@y.example", "duration": 2_147_483_648u64, "transID": "1"})),
        OpError::InvalidField {
            op: "subscribe",
            field: "duration",
            problem: FieldProblem::Number(NumberError::TooLarge)
        }
    );
    assert_eq!(
        json_err(json!({"op": "message", "source": "im:a@x.example",
                        "destination": "im:b@y.example", "transID": "1",
                        "content_type": "text/plain"})),
        OpError::InvalidField {
            op: "message",
            field: "body",
            problem: FieldProblem::Missing
        }
    );
    assert_eq!(
        json_err(json!({"op": "message", "source": "im:a@x.example",
                        "destination": "im:b@y.example", "transID": "1",
                        "content_type": "text/plain\n", "body": "x"})),
        OpError::InvalidField {
            op: "message",
            field: "content_type",
            problem: FieldProblem::ContentType("text/plain\n".into())
        }
    );
    assert_eq!(
        json_err(json!({"op": "response", "status": "ok", "transID": "1", "reason": null})),
        OpError::InvalidField {
            op: "response",
            field: "status",
            problem: FieldProblem::Status("ok".into())
        }
    );
    assert!(matches!(
        json_err(json!({"op": "response", "status": "success", "transID": "1", "extra": 1})),
        OpError::Json { .. }
    ));
    assert!(matches!(
        json_err(json!({"op": "fetch", "transID": "1"})),
        OpError::Json { .. }
    ));
    // Missing reason is accepted (null is the same).
    assert_eq!(
        Operation::from_json(br#"{"op":"response","status":"failure","transID":"12"}"#).unwrap(),
        Operation::Response(ResponseOp::new(Status::Failure, id(12)))
    );
}
