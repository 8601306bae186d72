//! RFC 3261 s8.2, s16.3 step 3, s18.3, s21: what cpimd answers to requests
//! it does not serve or cannot read; the listener keeps serving after each.

#![allow(clippy::unwrap_used)]

mod sip_support;

use sip_support::{start, Ua};

const HEAD: &str = "Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKbad1\r\n\
From: <sip:alice@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\n\
Call-ID: bad1\r\n";

#[tokio::test]
async fn unserved_unknown_and_looping_requests() {
    let server = start();
    let mut ua = Ua::udp(&server, "alice@example.com").await;

    let invite = ua.request(
        "INVITE",
        "sip:bob@example.com",
        "<sip:bob@example.com>",
        "c1",
    );
    ua.send(&invite).await;
    let got = ua.recv().await;
    assert_eq!(got.code(), 405);
    let allow = got.header("Allow").unwrap();
    assert!(
        allow.contains("MESSAGE") && allow.contains("SUBSCRIBE"),
        "{allow}"
    );

    let unknown = ua.request(
        "FROBNICATE",
        "sip:bob@example.com",
        "<sip:bob@example.com>",
        "c2",
    );
    ua.send(&unknown).await;
    assert_eq!(ua.recv().await.code(), 501);

    // Max-Forwards 0 (written by hand: the helper always adds 70).
    let raw = format!(
        "MESSAGE sip:bob@example.com SIP/2.0\r\n{HEAD}CSeq: 1 MESSAGE\r\nMax-Forwards: 0\r\n\
         Content-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi"
    );
    ua.send_raw(raw.as_bytes()).await;
    assert_eq!(ua.recv().await.code(), 483);

    let tel = ua.request("MESSAGE", "tel:+15551234", "<tel:+15551234>", "c4");
    ua.send(&tel).await;
    assert_eq!(ua.recv().await.code(), 416);

    let options = ua.request("OPTIONS", "sip:example.com", "<sip:example.com>", "c5");
    ua.send(&options).await;
    let got = ua.recv().await;
    assert_eq!(got.code(), 200);
    assert!(got.header("Allow").unwrap().contains("PUBLISH"));

    let event = ua
        .request(
            "SUBSCRIBE",
            "sip:bob@example.com",
            "<sip:bob@example.com>",
            "c6",
        )
        .header("Event", "dialog");
    ua.send(&event).await;
    let got = ua.recv().await;
    assert_eq!(got.code(), 489);
    assert_eq!(got.header("Allow-Events").as_deref(), Some("presence"));
}

#[tokio::test]
async fn malformed_requests_get_400_naming_the_fault() {
    let server = start();
    let mut ua = Ua::udp(&server, "alice@example.com").await;

    // CSeq method differs from the request method.
    let raw = format!(
        "MESSAGE sip:bob@example.com SIP/2.0\r\n{HEAD}CSeq: 1 INVITE\r\nMax-Forwards: 70\r\n\
         Content-Length: 0\r\n\r\n"
    );
    ua.send_raw(raw.as_bytes()).await;
    let got = ua.recv().await;
    assert_eq!(got.code(), 400);
    let reason = got.parse().reason().unwrap().to_owned();
    assert!(reason.contains("CSeq method differs"), "{reason}");

    // Content-Length says more than the datagram holds.
    let raw = format!(
        "MESSAGE sip:bob@example.com SIP/2.0\r\n{HEAD}CSeq: 1 MESSAGE\r\nMax-Forwards: 70\r\n\
         Content-Length: 50\r\n\r\nshort"
    );
    ua.send_raw(raw.as_bytes()).await;
    let got = ua.recv().await;
    assert_eq!(got.code(), 400);
    assert!(got
        .parse()
        .reason()
        .unwrap()
        .contains("Content-Length is 50"));

    // Oversized: 513.
    let body = "x".repeat(40 * 1024);
    let raw = format!(
        "MESSAGE sip:bob@example.com SIP/2.0\r\n{HEAD}CSeq: 1 MESSAGE\r\nMax-Forwards: 70\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    ua.send_raw(raw.as_bytes()).await;
    assert_eq!(ua.recv().await.code(), 513);

    // Missing Call-ID: nothing to address a response with; dropped. Garbage
    // is dropped too. The next good request is still served.
    let raw =
        "MESSAGE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKx\r\n\
               From: <sip:a@example.com>;tag=1\r\nTo: <sip:b@example.com>\r\nCSeq: 1 MESSAGE\r\n\
               Content-Length: 0\r\n\r\n";
    ua.send_raw(raw.as_bytes()).await;
    ua.send_raw(b"\x00\x01 not sip at all").await;
    let options = ua.request("OPTIONS", "sip:example.com", "<sip:example.com>", "after");
    ua.send(&options).await;
    let got = ua.recv().await;
    assert_eq!(got.code(), 200, "{}", got.text());
    assert_eq!(got.header("Call-ID").as_deref(), Some("after"));
}

#[tokio::test]
async fn tcp_framing_error_is_answered_and_the_listener_keeps_serving() {
    let server = start();
    let mut ua = Ua::tcp(&server, "alice@example.com").await;
    // Two requests in one write, then one split across writes.
    let a = ua.request("OPTIONS", "sip:example.com", "<sip:example.com>", "t1");
    let b = ua.request("OPTIONS", "sip:example.com", "<sip:example.com>", "t2");
    let mut both = a.build().unwrap();
    both.extend(b.build().unwrap());
    ua.send_raw(&both).await;
    // Each request is served on its own: the answers may come in any order.
    let mut ids = vec![
        ua.recv().await.header("Call-ID").unwrap(),
        ua.recv().await.header("Call-ID").unwrap(),
    ];
    ids.sort();
    assert_eq!(ids, ["t1", "t2"]);
    let c = ua
        .request("OPTIONS", "sip:example.com", "<sip:example.com>", "t3")
        .build()
        .unwrap();
    let (first, second) = c.split_at(20);
    ua.send_raw(first).await;
    tokio::task::yield_now().await;
    ua.send_raw(second).await;
    assert_eq!(ua.recv().await.header("Call-ID").as_deref(), Some("t3"));

    // A stream message without Content-Length cannot be framed: 400, and
    // the connection closes; a new one is served.
    let raw = format!("OPTIONS sip:example.com SIP/2.0\r\n{HEAD}CSeq: 1 OPTIONS\r\n\r\n");
    ua.send_raw(raw.as_bytes()).await;
    let got = ua.recv().await;
    assert_eq!(got.code(), 400);
    assert!(got.parse().reason().unwrap().contains("Content-Length"));
    let mut again = Ua::tcp(&server, "alice@example.com").await;
    let d = again.request("OPTIONS", "sip:example.com", "<sip:example.com>", "t4");
    again.send(&d).await;
    assert_eq!(again.recv().await.code(), 200);
}
