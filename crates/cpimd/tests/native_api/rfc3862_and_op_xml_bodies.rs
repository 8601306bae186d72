//! Bodies other than JSON: a raw `message/cpim` (RFC 3862) is passed on
//! whole, its extension headers intact; the draft's XML notation
//! (`application/cpim-op+xml`, draft sections 6-9) is taken and answered.

use cpim_formats::op::{MessageOp, Operation, Status, SubscribeOp};
use cpim_formats::uri::Uri;
use serde_json::Value;

use crate::harness::{data_dir, Server};

#[test]
fn a_message_cpim_body_reaches_the_inbox_whole() {
    let dir = data_dir();
    let server = Server::start(dir.path(), &[]);
    let alice = server.user("alice");
    let bob = server.user("bob");
    let inbox = server.watch(&bob);
    let message = format!(
        "From: Alice <{}>\r\nTo: Bob <{}>\r\nSubject: the weather\r\nNS: MyFeatures <mid:MessageFeatures@id.foo.com>\r\nMyFeatures.WackyMessageOption: Use-silly-font\r\n\r\nContent-Type: text/plain\r\n\r\nfine today",
        alice.im(),
        bob.im()
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (status, answer) = runtime.block_on(async {
        let response = crate::harness::http()
            .post(format!("{}/v1/messages", server.url))
            .bearer_auth(&alice.token)
            .header("content-type", "message/cpim")
            .body(message.clone())
            .send()
            .await
            .unwrap();
        (
            response.status().as_u16(),
            response.json::<Value>().await.unwrap(),
        )
    });
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["status"], "success");
    let got = inbox.next(|e| e["op"] == "message");
    assert_eq!(got["from"], alice.im().as_str());
    assert_eq!(got["content_type"], "message/cpim");
    assert_eq!(got["body"], message.as_str());

    // A message/cpim without To is refused with the header named.
    let (status, answer) = runtime.block_on(async {
        let response = crate::harness::http()
            .post(format!("{}/v1/messages", server.url))
            .bearer_auth(&alice.token)
            .header("content-type", "message/cpim")
            .body(format!(
                "From: <{}>\r\n\r\nContent-Type: text/plain\r\n\r\nx",
                alice.im()
            ))
            .send()
            .await
            .unwrap();
        (
            response.status().as_u16(),
            response.json::<Value>().await.unwrap(),
        )
    });
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["field"], "To");
}

#[test]
fn operations_in_xml_notation_are_answered_in_it() {
    let dir = data_dir();
    let server = Server::start(dir.path(), &[]);
    let alice = server.user("alice");
    let bob = server.user("bob");
    let inbox = server.watch(&bob);
    let op = MessageOp::new(
        Uri::parse(&alice.im()).unwrap(),
        Uri::parse(&bob.im()).unwrap(),
        "text/plain",
        "in xml",
    )
    .unwrap();
    let trans_id = op.trans_id;
    let xml = Operation::Message(op).to_xml();
    let subscribe = Operation::Subscribe(
        SubscribeOp::new(
            Uri::parse(&bob.pres()).unwrap(),
            Uri::parse(&alice.pres()).unwrap(),
            120,
        )
        .unwrap(),
    )
    .to_xml();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let post = |path: &'static str, token: String, body: String| {
        let url = format!("{}{path}", server.url);
        runtime.block_on(async move {
            let response = crate::harness::http()
                .post(url)
                .bearer_auth(token)
                .header("content-type", "application/cpim-op+xml")
                .body(body)
                .send()
                .await
                .unwrap();
            let ct = response.headers()["content-type"]
                .to_str()
                .unwrap()
                .to_owned();
            (ct, response.text().await.unwrap())
        })
    };
    let (ct, text) = post("/v1/messages", alice.token.clone(), xml);
    assert_eq!(ct, "application/cpim-op+xml");
    let Operation::Response(response) = Operation::from_xml(text.as_bytes()).unwrap() else {
        panic!("not a response: {text}");
    };
    assert_eq!(response.status, Status::Success);
    assert_eq!(response.trans_id, trans_id);
    assert_eq!(inbox.next(|e| e["op"] == "message")["body"], "in xml");

    let (_, text) = post("/v1/subscriptions", bob.token.clone(), subscribe);
    let Operation::Response(response) = Operation::from_xml(text.as_bytes()).unwrap() else {
        panic!("not a response: {text}");
    };
    assert_eq!(response.status, Status::Success, "{text}");
    assert_eq!(response.duration, Some(120));

    // Malformed XML is a 400 naming the problem, in JSON.
    let (ct, text) = post("/v1/messages", alice.token.clone(), "<message".to_owned());
    assert!(ct.starts_with("application/json"), "{ct}");
    let error: Value = serde_json::from_str(&text).unwrap();
    assert!(
        error["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{text}"
    );
}
