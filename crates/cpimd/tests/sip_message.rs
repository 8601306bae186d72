//! RFC 3428 MESSAGE <-> the message operation (RFC 3860, draft section
//! 2.4.1): a SIP user and a native WebSocket user talk both ways.

#![allow(clippy::unwrap_used)]

mod sip_support;

use serde_json::json;
use sip_support::{events, http, next_event, start, Ua};

const CPIM: &str = "From: Alice <im:alice@example.com>\r\nTo: <im:bob@example.com>\r\n\
DateTime: 2000-12-13T13:40:00-08:00\r\n\r\nContent-Type: text/plain\r\n\r\nHello Bob\r\n";

#[tokio::test]
async fn message_from_sip_reaches_native_inbox_and_back() {
    let server = start();
    let mut bob = events(&server, "bob@example.com").await;
    let mut alice = Ua::udp(&server, "alice@example.com").await;
    assert_eq!(alice.register(600).await.code(), 200);

    // From the registered flow: no challenge; message/cpim untouched.
    let request = alice
        .request(
            "MESSAGE",
            "sip:bob@example.com",
            "<sip:bob@example.com>",
            "m1",
        )
        .body("message/cpim", CPIM);
    alice.send(&request).await;
    let event = next_event(&mut bob).await;
    assert_eq!(event["op"], "message");
    assert_eq!(event["from"], "im:alice@example.com");
    assert_eq!(event["to"], "im:bob@example.com");
    assert_eq!(event["content_type"], "message/cpim");
    assert_eq!(event["body"], CPIM);
    let ok = alice.recv().await;
    assert_eq!(ok.code(), 200, "{}", ok.text());

    // Back: the native user's message goes out as MESSAGE to the contact.
    let sender = tokio::spawn({
        let token_server = (server.http.clone(), server.token("bob@example.com"));
        async move {
            sip_support::client()
                .post(format!("{}/v1/messages", token_server.0))
                .bearer_auth(token_server.1)
                .json(&json!({"to": "im:alice@example.com", "body": "hi Alice"}))
                .send()
                .await
                .unwrap()
                .json::<serde_json::Value>()
                .await
                .unwrap()
        }
    });
    let got = alice.expect_request("MESSAGE").await;
    let message = got.parse();
    assert_eq!(
        message.request_uri().unwrap().as_str(),
        format!("sip:ua@{}", alice.local)
    );
    assert!(message.from().uri().as_str() == "sip:bob@example.com");
    assert!(message.to().uri().as_str() == "sip:alice@example.com");
    assert_eq!(message.body(), b"hi Alice");
    assert!(message.content_type().unwrap().is("text", "plain"));
    let answer = sender.await.unwrap();
    assert_eq!(answer["status"], "success", "{answer}");
}

#[tokio::test]
async fn unregistered_sender_is_challenged_and_failures_keep_their_reason() {
    let server = start();
    let mut alice = Ua::udp(&server, "alice@example.com").await;
    let mut others = Vec::new();

    // Bob has no open inbox: the engine's failure, as a 480 with its reason.
    let got = alice
        .transact(
            |ua| {
                ua.request(
                    "MESSAGE",
                    "sip:bob@example.com",
                    "<sip:bob@example.com>",
                    "m2",
                )
                .body("text/plain", "anyone?")
            },
            &mut others,
        )
        .await;
    assert_eq!(got.code(), 480, "{}", got.text());
    assert!(got.parse().reason().unwrap().contains("no open inbox"));

    // No such user: 404.
    let got = alice
        .transact(
            |ua| {
                ua.request(
                    "MESSAGE",
                    "sip:nobody@example.com",
                    "<sip:nobody@example.com>",
                    "m3",
                )
                .body("text/plain", "x")
            },
            &mut others,
        )
        .await;
    assert_eq!(got.code(), 404, "{}", got.text());

    // A native sender to a SIP user with no contact: failure.
    let (status, answer) = http(
        &server,
        "bob@example.com",
        reqwest::Method::POST,
        "/v1/messages",
        json!({"to": "im:alice@example.com", "body": "x"}),
    )
    .await;
    assert_eq!(answer["status"], "failure", "{status} {answer}");
}
